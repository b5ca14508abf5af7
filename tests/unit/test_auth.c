/* test_auth.c - the auth plugin's token checks, with a fixed clock.
 *
 * Links the plugin's sources except its glue (plugins/auth/ but auth.c and
 * authz.c), so every check runs without a server: config parsing, header
 * checks before any signature work, signatures through libjwt, claims at
 * leeway edges, JSON types, JWKS parsing, minting.  Tokens are built here
 * byte by byte (base64url of any header and payload, signed with OpenSSL),
 * so a test can say exactly what is wrong with one.  Runs under ASan in the
 * sanitizer build: the garbage and truncation tests must never crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth.h"

#define NOW 1700000000LL
#define ISSUER "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool"
#define KID "key-1"
#define SECRET "0123456789abcdef0123456789abcdef-local-secret"

static EVP_PKEY *rsa_key;      /* signs the cognito tokens */
static char *rsa_pub_pem;      /* its public half, as the JWKS gives it */
static auth_keyset *keys;      /* a JWKS holding rsa_key as KID */
static auth_policy cognito;    /* access tokens of client-a / client-b */
static auth_policy cognito_id; /* ID tokens */
static auth_policy hs256;

/* ---- building tokens -------------------------------------------------------- */

static char *b64url(const unsigned char *data, size_t len)
{
    char *out = malloc(len / 3 * 4 + 8);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

static char *b64url_str(const char *s)
{
    return b64url((const unsigned char *)s, strlen(s));
}

enum sig { SIG_NONE, SIG_RS256, SIG_HS256, SIG_HS256_PEM };

/* header.payload.signature from JSON texts; caller frees. */
static char *make_token(const char *header, const char *payload, enum sig sig)
{
    char *h = b64url_str(header), *p = b64url_str(payload);
    size_t in_len = strlen(h) + 1 + strlen(p);
    char *input = malloc(in_len + 1);
    snprintf(input, in_len + 1, "%s.%s", h, p);
    unsigned char sigbuf[1024];
    size_t siglen = 0;
    if (sig == SIG_RS256) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        siglen = sizeof sigbuf;
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, rsa_key);
        EVP_DigestSign(md, sigbuf, &siglen, (const unsigned char *)input, in_len);
        EVP_MD_CTX_free(md);
    } else if (sig == SIG_HS256 || sig == SIG_HS256_PEM) {
        const char *key = sig == SIG_HS256 ? SECRET : rsa_pub_pem;
        unsigned int n = 0;
        HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)input, in_len, sigbuf, &n);
        siglen = n;
    }
    char *s = b64url(sigbuf, siglen);
    char *token = malloc(in_len + strlen(s) + 2);
    sprintf(token, "%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(s);
    return token;
}

static const char rs_header[] = "{\"alg\":\"RS256\",\"kid\":\"" KID "\"}";

/* A Cognito-shaped access token payload, with `extra` members replacing
 * the defaults (json_object_update). */
static char *access_payload(const char *extra)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:[ss], s:s, s:s}", "sub",
                          "11111111-2222-3333-4444-555555555555", "token_use", "access",
                          "client_id", "client-a", "iss", ISSUER, "exp", (json_int_t)(NOW + 3600),
                          "iat", (json_int_t)NOW, "auth_time", (json_int_t)NOW, "jti", "j-1",
                          "username", "alice", "cognito:groups", "admin", "staff", "scope",
                          "tickets:read openid", "email", "alice@example.com");
    if (extra) {
        json_t *e = json_loads(extra, JSON_ALLOW_NUL, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        json_object_update(c, e);
        /* a member set to JSON null in `extra` means: remove it */
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(e, tmp, k, v)
            if (json_is_null(v))
                json_object_del(c, k);
        json_decref(e);
    }
    char *text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return text;
}

static char *rs_token(const char *extra)
{
    char *p = access_payload(extra);
    char *t = make_token(rs_header, p, SIG_RS256);
    free(p);
    return t;
}

/* Verify against a policy and return the status, clearing the identity. */
static auth_status verify_at(const auth_policy *p, const char *token, int64_t now)
{
    auth_identity id;
    auth_status s = auth_verify(p, p->mode == AUTH_MODE_COGNITO ? keys : NULL, token, now, &id);
    auth_identity_clear(&id);
    return s;
}

static auth_status verify_extra(const char *extra)
{
    char *t = rs_token(extra);
    auth_status s = verify_at(&cognito, t, NOW);
    free(t);
    return s;
}

/* ---- fixtures ---------------------------------------------------------------- */

static char *bn_b64url(const char *param)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(rsa_key, param, &bn);
    unsigned char buf[1024];
    int n = BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64url(buf, (size_t)n);
}

static char *jwks_doc(const char *kid, const char *n, const char *e)
{
    json_t *d = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty", "RSA", "alg",
                          "RS256", "use", "sig", "kid", kid, "n", n, "e", e);
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return text;
}

static int suite_init(void)
{
    rsa_key = EVP_RSA_gen(2048);
    if (!rsa_key)
        return -1;
    char *n = bn_b64url(OSSL_PKEY_PARAM_RSA_N), *e = bn_b64url(OSSL_PKEY_PARAM_RSA_E);
    char *doc = jwks_doc(KID, n, e), err[256];
    keys = auth_keyset_parse(doc, strlen(doc), err, sizeof err);
    rsa_pub_pem = auth_jwk_rsa_pem(n, e, err, sizeof err);
    free(n);
    free(e);
    free(doc);
    if (!keys || !rsa_pub_pem)
        return -1;
    cognito = (auth_policy){.mode = AUTH_MODE_COGNITO,
                            .token_use = AUTH_USE_ACCESS,
                            .issuer = ISSUER,
                            .client_ids = {"client-a", "client-b"},
                            .leeway_s = 60};
    cognito_id = cognito;
    cognito_id.token_use = AUTH_USE_ID;
    hs256 = (auth_policy){.mode = AUTH_MODE_HS256,
                          .token_use = AUTH_USE_ACCESS,
                          .issuer = "bilhetagem-local",
                          .client_ids = {"local"},
                          .leeway_s = 60,
                          .secret = (unsigned char *)SECRET,
                          .secret_len = strlen(SECRET)};
    return 0;
}

static int suite_clean(void)
{
    auth_keyset_unref(keys);
    free(rsa_pub_pem);
    EVP_PKEY_free(rsa_key);
    return 0;
}

/* ---- the accepted token ------------------------------------------------------ */

static void test_valid_access_token(void)
{
    char *t = rs_token(NULL);
    auth_identity id;
    CU_ASSERT_EQUAL(auth_verify(&cognito, keys, t, NOW, &id), AUTH_OK);
    CU_ASSERT_STRING_EQUAL(id.sub, "11111111-2222-3333-4444-555555555555");
    CU_ASSERT_STRING_EQUAL(id.username, "alice");
    CU_ASSERT_STRING_EQUAL(id.email, "alice@example.com");
    CU_ASSERT_STRING_EQUAL(id.groups[0], "admin");
    CU_ASSERT_STRING_EQUAL(id.groups[1], "staff");
    CU_ASSERT_PTR_NULL(id.groups[2]);
    CU_ASSERT_STRING_EQUAL(id.scopes[0], "tickets:read");
    CU_ASSERT_STRING_EQUAL(id.scopes[1], "openid");
    CU_ASSERT_PTR_NULL(id.scopes[2]);
    auth_identity_clear(&id);
    free(t);
    /* the second allowed client, and no groups / scope at all */
    CU_ASSERT_EQUAL(verify_extra("{\"client_id\":\"client-b\",\"cognito:groups\":null,"
                                 "\"scope\":null,\"email\":null}"),
                    AUTH_OK);
}

/* ---- times and leeway -------------------------------------------------------- */

static void test_exp_leeway_edges(void)
{
    char *t = rs_token("{\"exp\":1700000000,\"iat\":1699990000}"); /* exp == NOW */
    CU_ASSERT_EQUAL(verify_at(&cognito, t, NOW + 59), AUTH_OK);
    CU_ASSERT_EQUAL(verify_at(&cognito, t, NOW + 60), AUTH_E_EXPIRED);
    CU_ASSERT_EQUAL(verify_at(&cognito, t, NOW + 3600), AUTH_E_EXPIRED);
    auth_policy strict = cognito;
    strict.leeway_s = 0;
    CU_ASSERT_EQUAL(verify_at(&strict, t, NOW - 1), AUTH_OK);
    CU_ASSERT_EQUAL(verify_at(&strict, t, NOW), AUTH_E_EXPIRED);
    free(t);
}

static void test_nbf_leeway_edges(void)
{
    char *t = rs_token("{\"nbf\":1700000060}");
    CU_ASSERT_EQUAL(verify_at(&cognito, t, NOW), AUTH_OK); /* nbf == now + leeway */
    CU_ASSERT_EQUAL(verify_at(&cognito, t, NOW - 1), AUTH_E_NOT_YET_VALID);
    free(t);
}

static void test_iat_in_the_future(void)
{
    CU_ASSERT_EQUAL(verify_extra("{\"iat\":1700000060}"), AUTH_OK);
    CU_ASSERT_EQUAL(verify_extra("{\"iat\":1700000061}"), AUTH_E_IAT_FUTURE);
}

static void test_huge_dates_do_not_overflow(void)
{
    CU_ASSERT_EQUAL(verify_extra("{\"exp\":9223372036854775807}"), AUTH_OK);
    CU_ASSERT_EQUAL(verify_extra("{\"exp\":-9223372036854775807}"), AUTH_E_EXPIRED);
    CU_ASSERT_EQUAL(verify_extra("{\"nbf\":9223372036854775807}"), AUTH_E_NOT_YET_VALID);
}

/* ---- claims ------------------------------------------------------------------ */

static void test_required_claims(void)
{
    const char *missing[] = {"{\"exp\":null}",       "{\"iat\":null}",       "{\"iss\":null}",
                             "{\"token_use\":null}", "{\"client_id\":null}", "{\"sub\":null}"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        CU_ASSERT_EQUAL(verify_extra(missing[i]), AUTH_E_CLAIM_MISSING);
}

static void test_wrong_claim_types(void)
{
    const char *wrong[] = {"{\"exp\":\"1700003600\"}",
                           "{\"exp\":1700003600.5}",
                           "{\"exp\":true}",
                           "{\"nbf\":\"0\"}",
                           "{\"iat\":[1700000000]}",
                           "{\"auth_time\":\"now\"}",
                           "{\"iss\":42}",
                           "{\"token_use\":[\"access\"]}",
                           "{\"client_id\":[\"client-a\"]}",
                           "{\"sub\":\"\"}",
                           "{\"sub\":7}",
                           "{\"username\":{}}",
                           "{\"email\":false}",
                           "{\"cognito:groups\":\"admin\"}",
                           "{\"cognito:groups\":[\"admin\",1]}",
                           "{\"cognito:groups\":[\"\"]}",
                           "{\"scope\":[\"a\"]}",
                           "{\"jti\":1}"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        auth_status s = verify_extra(wrong[i]);
        if (s != AUTH_E_CLAIM_TYPE)
            fprintf(stderr, "\n  %s -> %s\n", wrong[i], auth_status_text(s));
        CU_ASSERT_EQUAL(s, AUTH_E_CLAIM_TYPE);
    }
}

static void test_nul_in_claims(void)
{
    /* jansson refuses \u0000 in the payload as a whole */
    CU_ASSERT_EQUAL(verify_extra("{\"sub\":\"a\\u0000b\"}"), AUTH_E_PAYLOAD);
    CU_ASSERT_EQUAL(verify_extra("{\"cognito:groups\":[\"adm\\u0000in\"]}"), AUTH_E_PAYLOAD);
}

static void test_too_many_groups(void)
{
    json_t *g = json_array();
    for (int i = 0; i <= AUTH_MAX_GROUPS; i++)
        json_array_append_new(g, json_sprintf("g%d", i));
    json_t *extra = json_pack("{s:o}", "cognito:groups", g);
    char *text = json_dumps(extra, JSON_COMPACT);
    CU_ASSERT_EQUAL(verify_extra(text), AUTH_E_CLAIM_TYPE);
    free(text);
    json_decref(extra);
}

static void test_issuer_exact(void)
{
    CU_ASSERT_EQUAL(verify_extra("{\"iss\":\"https://evil.example/eu-west-1_TestPool\"}"),
                    AUTH_E_ISSUER);
    CU_ASSERT_EQUAL(verify_extra("{\"iss\":\"" ISSUER "/\"}"), AUTH_E_ISSUER);
    CU_ASSERT_EQUAL(verify_extra("{\"iss\":\"HTTPS://cognito-idp.eu-west-1.amazonaws.com/"
                                 "eu-west-1_TestPool\"}"),
                    AUTH_E_ISSUER);
}

static void test_token_use_and_client(void)
{
    CU_ASSERT_EQUAL(verify_extra("{\"token_use\":\"id\"}"), AUTH_E_TOKEN_USE);
    CU_ASSERT_EQUAL(verify_extra("{\"token_use\":\"refresh\"}"), AUTH_E_TOKEN_USE);
    CU_ASSERT_EQUAL(verify_extra("{\"client_id\":\"client-c\"}"), AUTH_E_CLIENT);
    CU_ASSERT_EQUAL(verify_extra("{\"client_id\":\"client-a \"}"), AUTH_E_CLIENT);
}

static auth_status verify_id(const char *extra_json)
{
    char *p = access_payload(extra_json);
    char *t = make_token(rs_header, p, SIG_RS256);
    auth_status s = verify_at(&cognito_id, t, NOW);
    free(p);
    free(t);
    return s;
}

static void test_id_tokens(void)
{
    const char *id_base = "{\"token_use\":\"id\",\"client_id\":null,\"aud\":\"client-b\","
                          "\"username\":null,\"cognito:username\":\"bob\"}";
    char *p = access_payload(id_base);
    char *t = make_token(rs_header, p, SIG_RS256);
    auth_identity id;
    CU_ASSERT_EQUAL(auth_verify(&cognito_id, keys, t, NOW, &id), AUTH_OK);
    CU_ASSERT_STRING_EQUAL(id.username, "bob");
    auth_identity_clear(&id);
    free(p);
    free(t);
    /* an access token where ID tokens are configured */
    CU_ASSERT_EQUAL(verify_id("{\"aud\":\"client-b\"}"), AUTH_E_TOKEN_USE);
    CU_ASSERT_EQUAL(verify_id("{\"token_use\":\"id\",\"aud\":[\"x\",\"client-a\"]}"), AUTH_OK);
    CU_ASSERT_EQUAL(verify_id("{\"token_use\":\"id\",\"aud\":\"client-z\"}"), AUTH_E_CLIENT);
    CU_ASSERT_EQUAL(verify_id("{\"token_use\":\"id\",\"aud\":[]}"), AUTH_E_CLAIM_TYPE);
    CU_ASSERT_EQUAL(verify_id("{\"token_use\":\"id\",\"aud\":5}"), AUTH_E_CLAIM_TYPE);
    CU_ASSERT_EQUAL(verify_id("{\"token_use\":\"id\",\"aud\":[\"client-a\",5]}"),
                    AUTH_E_CLAIM_TYPE);
    CU_ASSERT_EQUAL(verify_id("{\"token_use\":\"id\"}"), AUTH_E_CLAIM_MISSING);
}

/* ---- header and algorithm ------------------------------------------------------ */

static auth_status verify_header(const char *header, enum sig sig, const auth_policy *p)
{
    char *payload = access_payload(p->mode == AUTH_MODE_HS256
                                       ? "{\"iss\":\"bilhetagem-local\",\"client_id\":\"local\"}"
                                       : NULL);
    char *t = make_token(header, payload, sig);
    auth_status s = verify_at(p, t, NOW);
    free(payload);
    free(t);
    return s;
}

static void test_alg_none(void)
{
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"none\",\"kid\":\"" KID "\"}", SIG_NONE, &cognito),
                    AUTH_E_ALG);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"none\"}", SIG_NONE, &hs256), AUTH_E_ALG);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"None\",\"kid\":\"" KID "\"}", SIG_NONE, &cognito),
                    AUTH_E_ALG);
    CU_ASSERT_EQUAL(verify_header("{\"kid\":\"" KID "\"}", SIG_RS256, &cognito), AUTH_E_ALG);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":256,\"kid\":\"" KID "\"}", SIG_RS256, &cognito),
                    AUTH_E_ALG);
}

static void test_hs256_on_cognito(void)
{
    /* a shared-secret token, and the classic substitution: the pool's own
     * public key (PEM bytes, exactly as served) used as the HMAC secret */
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"HS256\",\"kid\":\"" KID "\"}", SIG_HS256, &cognito),
                    AUTH_E_ALG);
    CU_ASSERT_EQUAL(
        verify_header("{\"alg\":\"HS256\",\"kid\":\"" KID "\"}", SIG_HS256_PEM, &cognito),
        AUTH_E_ALG);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"RS512\",\"kid\":\"" KID "\"}", SIG_RS256, &cognito),
                    AUTH_E_ALG);
    /* and the reverse: RS256 on an hs256 server */
    CU_ASSERT_EQUAL(verify_header(rs_header, SIG_RS256, &hs256), AUTH_E_ALG);
}

static void test_header_rules(void)
{
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"RS256\",\"kid\":\"" KID "\",\"typ\":\"JWT\"}",
                                  SIG_RS256, &cognito),
                    AUTH_OK);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"RS256\",\"kid\":\"" KID "\",\"typ\":\"JWS\"}",
                                  SIG_RS256, &cognito),
                    AUTH_E_HEADER);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"RS256\",\"kid\":\"" KID "\",\"crit\":[\"exp\"]}",
                                  SIG_RS256, &cognito),
                    AUTH_E_HEADER);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"RS256\"}", SIG_RS256, &cognito), AUTH_E_KID);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"RS256\",\"kid\":7}", SIG_RS256, &cognito),
                    AUTH_E_KID);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"RS256\",\"kid\":\"\"}", SIG_RS256, &cognito),
                    AUTH_E_KID);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"RS256\",\"kid\":\"other\"}", SIG_RS256, &cognito),
                    AUTH_E_UNKNOWN_KID);
    CU_ASSERT_EQUAL(verify_header("{\"alg\":\"RS256\",\"alg\":\"RS256\",\"kid\":\"" KID "\"}",
                                  SIG_RS256, &cognito),
                    AUTH_E_HEADER); /* duplicate key */
    CU_ASSERT_EQUAL(verify_header("[\"RS256\"]", SIG_RS256, &cognito), AUTH_E_HEADER);
    CU_ASSERT_EQUAL(verify_header("not json", SIG_RS256, &cognito), AUTH_E_HEADER);
    char kid[AUTH_KID_MAX + 1];
    CU_ASSERT_EQUAL(auth_token_header(&cognito, "e30.e30.", kid, sizeof kid), AUTH_E_ALG);
}

static void test_no_keys_yet(void)
{
    char *t = rs_token(NULL);
    auth_identity id;
    CU_ASSERT_EQUAL(auth_verify(&cognito, NULL, t, NOW, &id), AUTH_E_NO_KEYS);
    auth_identity_clear(&id);
    /* garbage is still garbage while keys load: a 401, not a 503 */
    CU_ASSERT_EQUAL(auth_verify(&cognito, NULL, "abc", NOW, &id), AUTH_E_MALFORMED);
    auth_identity_clear(&id);
    free(t);
}

/* ---- signature ---------------------------------------------------------------- */

static void test_tampered_payload(void)
{
    char *t = rs_token(NULL);
    char *other = access_payload("{\"cognito:groups\":[\"admin\",\"root\"]}");
    char *forged_p = b64url_str(other);
    char *dot1 = strchr(t, '.'), *dot2 = strchr(dot1 + 1, '.');
    size_t hl = (size_t)(dot1 - t);
    char *forged = malloc(strlen(t) + strlen(forged_p) + 4);
    sprintf(forged, "%.*s.%s%s", (int)hl, t, forged_p, dot2);
    CU_ASSERT_EQUAL(verify_at(&cognito, forged, NOW), AUTH_E_SIGNATURE);
    free(forged);
    free(forged_p);
    free(other);
    free(t);
}

static void test_tampered_signature(void)
{
    char *t = rs_token(NULL);
    size_t n = strlen(t);
    t[n - 5] = t[n - 5] == 'A' ? 'B' : 'A';
    CU_ASSERT_EQUAL(verify_at(&cognito, t, NOW), AUTH_E_SIGNATURE);
    strcpy(strrchr(t, '.') + 1, "");
    CU_ASSERT_EQUAL(verify_at(&cognito, t, NOW), AUTH_E_SIGNATURE); /* RS256, no signature */
    free(t);
}

static void test_other_key_same_kid(void)
{
    EVP_PKEY *mine = rsa_key;
    rsa_key = EVP_RSA_gen(2048); /* an attacker's key, claiming the pool's kid */
    char *t = rs_token(NULL);
    EVP_PKEY_free(rsa_key);
    rsa_key = mine;
    CU_ASSERT_EQUAL(verify_at(&cognito, t, NOW), AUTH_E_SIGNATURE);
    free(t);
}

/* ---- size and garbage ------------------------------------------------------------ */

static void test_oversized(void)
{
    char *big = malloc(AUTH_TOKEN_MAX + 2);
    memset(big, 'A', AUTH_TOKEN_MAX + 1);
    big[AUTH_TOKEN_MAX + 1] = '\0';
    CU_ASSERT_EQUAL(verify_at(&cognito, big, NOW), AUTH_E_TOO_LARGE);
    big[AUTH_TOKEN_MAX] = '\0'; /* exactly the limit: decoded, and malformed */
    CU_ASSERT_EQUAL(verify_at(&cognito, big, NOW), AUTH_E_MALFORMED);
    /* a well-formed token that is too big because of a padded claim */
    char pad[AUTH_TOKEN_MAX];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    char *extra = malloc(sizeof pad + 32);
    sprintf(extra, "{\"pad\":\"%s\"}", pad);
    char *t = rs_token(extra);
    CU_ASSERT(strlen(t) > AUTH_TOKEN_MAX);
    CU_ASSERT_EQUAL(verify_at(&cognito, t, NOW), AUTH_E_TOO_LARGE);
    free(t);
    free(extra);
    free(big);
}

static void test_garbage(void)
{
    const char *bad[] = {"",
                         ".",
                         "..",
                         "...",
                         "a",
                         "a.b",
                         "a.b.c.d",
                         "a..c",
                         ".b.c",
                         "!!!.e30.e30",
                         "e30.e30.e30 ",
                         " e30.e30.e30",
                         "e30.e30.%%%",
                         "eyJ.eyJ.sig",
                         "e30.e30.e30\n",
                         "YQ.YQ.YQ",
                         "e30=.e30.x",
                         "\xff\xfe.e30.e30",
                         "e30.\"\".e30"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        auth_status s = verify_at(&cognito, bad[i], NOW);
        CU_ASSERT(s == AUTH_E_MALFORMED || s == AUTH_E_HEADER || s == AUTH_E_ALG);
        CU_ASSERT_NOT_EQUAL(verify_at(&hs256, bad[i], NOW), AUTH_OK);
    }
}

static void test_truncated_everywhere(void)
{
    char *t = rs_token(NULL);
    size_t n = strlen(t);
    int ok = 0;
    for (size_t cut = 0; cut < n; cut++) { /* every prefix: never accepted, never a crash */
        char *prefix = strndup(t, cut);
        if (verify_at(&cognito, prefix, NOW) == AUTH_OK)
            ok++;
        free(prefix);
    }
    CU_ASSERT_EQUAL(ok, 0);
    CU_ASSERT_EQUAL(verify_at(&cognito, t, NOW), AUTH_OK);
    free(t);
}

static void test_b64url(void)
{
    unsigned char out[16];
    size_t n = 0;
    CU_ASSERT_EQUAL(auth_b64url_decode("aGk", 3, out, sizeof out, &n), 0);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT(!memcmp(out, "hi", 2));
    CU_ASSERT_EQUAL(auth_b64url_decode("", 0, out, sizeof out, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(auth_b64url_decode("a", 1, out, sizeof out, &n), -1);     /* length */
    CU_ASSERT_EQUAL(auth_b64url_decode("aGk=", 4, out, sizeof out, &n), -1);  /* padding */
    CU_ASSERT_EQUAL(auth_b64url_decode("a+/b", 4, out, sizeof out, &n), -1);  /* alphabet */
    CU_ASSERT_EQUAL(auth_b64url_decode("a\0bc", 4, out, sizeof out, &n), -1); /* NUL */
    CU_ASSERT_EQUAL(auth_b64url_decode("-_-_", 4, out, sizeof out, &n), 0);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(auth_b64url_decode("aGVsbG8gd29ybGQ", 15, out, 8, &n), -1); /* room */
}

/* ---- JWKS ------------------------------------------------------------------------- */

static auth_keyset *parse(const char *doc, char *err)
{
    return auth_keyset_parse(doc, strlen(doc), err, 256);
}

/* A key meant for encryption, not signing (one literal: clang warns about
 * adjacent literals in an array initializer). */
#define ENC_KEY                                                                                    \
    "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"k\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}"

static void test_jwks_malformed(void)
{
    char err[256];
    const char *bad[] = {"",
                         "{",
                         "[]",
                         "{}",
                         "{\"keys\":{}}",
                         "{\"keys\":[]}",
                         "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-256\"}]}",
                         "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":\"!!\",\"e\":\"AQAB\"}]}",
                         "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"e\":\"AQAB\"}]}",
                         "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":5,\"e\":\"AQAB\"}]}",
                         "{\"keys\":[7]}",
                         ENC_KEY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        auth_keyset *ks = parse(bad[i], err);
        CU_ASSERT_PTR_NULL(ks);
        CU_ASSERT(err[0] != '\0');
        auth_keyset_unref(ks);
    }
}

static void test_jwks_small_key_refused(void)
{
    EVP_PKEY *small = EVP_RSA_gen(1024);
    BIGNUM *bn = NULL;
    unsigned char buf[512];
    EVP_PKEY_get_bn_param(small, OSSL_PKEY_PARAM_RSA_N, &bn);
    char *n = b64url(buf, (size_t)BN_bn2bin(bn, buf));
    char err[256] = "";
    char *pem = auth_jwk_rsa_pem(n, "AQAB", err, sizeof err);
    CU_ASSERT_PTR_NULL(pem);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "1024 bits"));
    free(pem);
    free(n);
    BN_free(bn);
    EVP_PKEY_free(small);
}

static void test_jwks_good_keys_survive_bad_neighbours(void)
{
    char *n = bn_b64url(OSSL_PKEY_PARAM_RSA_N);
    json_t *d = json_pack("{s:[{s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s},"
                          " {s:s, s:s, s:s, s:s}]}",
                          "keys", "kty", "EC", "kid", "ec", "kty", "RSA", "kid", "broken", "n",
                          "AA", "e", "AQAB", "kty", "RSA", "kid", KID, "n", n, "e", "AQAB", "kty",
                          "RSA", "kid", KID, "n", "AA", "e", "AQAB"); /* dup kid */
    char *doc = json_dumps(d, JSON_COMPACT), err[256];
    auth_keyset *ks = parse(doc, err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ks);
    CU_ASSERT_EQUAL(auth_keyset_count(ks), 1);
    CU_ASSERT_PTR_NOT_NULL(auth_keyset_pem(ks, KID, NULL));
    CU_ASSERT_PTR_NULL(auth_keyset_pem(ks, "broken", NULL));
    char *t = rs_token(NULL);
    auth_identity id;
    CU_ASSERT_EQUAL(auth_verify(&cognito, ks, t, NOW, &id), AUTH_OK);
    auth_identity_clear(&id);
    auth_keyset_unref(auth_keyset_ref(ks)); /* a reader's ref and release */
    auth_keyset_unref(ks);
    free(t);
    free(doc);
    free(n);
    json_decref(d);
}

/* ---- config --------------------------------------------------------------------------- */

static int config_error(const char *json, const char *expect)
{
    json_t *c = json_loads(json, 0, NULL);
    auth_config cfg;
    char err[512] = "";
    int rc = auth_config_parse(c, &cfg, err, sizeof err);
    json_decref(c);
    if (rc == 0) {
        auth_config_free(&cfg);
        return 0;
    }
    if (!strstr(err, expect))
        fprintf(stderr, "\n  %s -> %s\n", json, err);
    return strstr(err, expect) != NULL;
}

static void test_config_cognito(void)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:[s]}", "mode", "cognito", "region", "eu-west-1",
                          "user_pool_id", "eu-west-1_AbC123", "client_ids", "abc");
    auth_config cfg;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(auth_config_parse(c, &cfg, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(cfg.policy.issuer,
                           "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123");
    CU_ASSERT_STRING_EQUAL(cfg.jwks_url, "https://cognito-idp.eu-west-1.amazonaws.com/"
                                         "eu-west-1_AbC123/.well-known/jwks.json");
    CU_ASSERT_EQUAL(cfg.policy.leeway_s, 60);
    CU_ASSERT_EQUAL(cfg.policy.token_use, AUTH_USE_ACCESS);
    CU_ASSERT_EQUAL(cfg.jwks_timeout_ms, 5000);
    auth_config_free(&cfg);
    json_decref(c);

    c = json_pack("{s:s, s:s, s:b, s:[s], s:s, s:i}", "mode", "cognito", "issuer",
                  "http://127.0.0.1:9229/local_pool", "allow_insecure_issuer", 1, "client_ids",
                  "abc", "token_use", "id", "leeway_s", 5);
    CU_ASSERT_EQUAL_FATAL(auth_config_parse(c, &cfg, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(cfg.jwks_url, "http://127.0.0.1:9229/local_pool/.well-known/jwks.json");
    CU_ASSERT_EQUAL(cfg.policy.token_use, AUTH_USE_ID);
    CU_ASSERT_EQUAL(cfg.policy.leeway_s, 5);
    auth_config_free(&cfg);
    json_decref(c);
}

static void test_config_errors(void)
{
    CU_ASSERT(config_error("{}", "config.mode is required"));
    CU_ASSERT(config_error("{\"mode\":\"rs512\"}", "config.mode must be"));
    CU_ASSERT(config_error("{\"mode\":\"cognito\",\"issuer\":\"http://127.0.0.1:1/p\","
                           "\"client_ids\":[\"a\"]}",
                           "allow_insecure_issuer"));
    CU_ASSERT(config_error("{\"mode\":\"cognito\",\"issuer\":\"ftp://x/p\","
                           "\"client_ids\":[\"a\"]}",
                           "https://"));
    CU_ASSERT(config_error("{\"mode\":\"cognito\",\"issuer\":\"https://x/p/\","
                           "\"client_ids\":[\"a\"]}",
                           "must not end"));
    CU_ASSERT(config_error("{\"mode\":\"cognito\",\"issuer\":\"https://x/p\",\"region\":\"eu\","
                           "\"client_ids\":[\"a\"]}",
                           "one or the other"));
    CU_ASSERT(config_error("{\"mode\":\"cognito\",\"region\":\"eu-west-1\","
                           "\"client_ids\":[\"a\"]}",
                           "user_pool_id"));
    CU_ASSERT(config_error("{\"mode\":\"cognito\",\"issuer\":\"https://x/p\"}",
                           "config.client_ids is required"));
    CU_ASSERT(config_error("{\"mode\":\"cognito\",\"issuer\":\"https://x/p\","
                           "\"client_ids\":[\"a\", 3]}",
                           "config.client_ids[1]"));
    CU_ASSERT(config_error("{\"mode\":\"cognito\",\"issuer\":\"https://x/p\","
                           "\"client_ids\":[\"a\"],\"secret\":\"x\"}",
                           "config.secret: unknown"));
    CU_ASSERT(config_error("{\"mode\":\"cognito\",\"issuer\":\"https://x/p\","
                           "\"client_ids\":[\"a\"],\"leeway_s\":-1}",
                           "config.leeway_s"));
    CU_ASSERT(config_error("{\"mode\":\"cognito\",\"issuer\":\"https://x/p\","
                           "\"client_ids\":[\"a\"],\"token_use\":\"refresh\"}",
                           "token_use"));
    CU_ASSERT(config_error("{\"mode\":\"hs256\",\"issuer\":\"i\",\"client_ids\":[\"a\"]}",
                           "config.secret is required"));
    CU_ASSERT(config_error("{\"mode\":\"hs256\",\"secret\":\"0123456789abcdef0123456789abcde\","
                           "\"issuer\":\"i\",\"client_ids\":[\"a\"]}",
                           "31 bytes"));
    CU_ASSERT(config_error("{\"mode\":\"hs256\",\"secret\":\"\",\"issuer\":\"i\","
                           "\"client_ids\":[\"a\"]}",
                           "0 bytes"));
    CU_ASSERT(config_error("{\"mode\":\"hs256\",\"secret\":\"" SECRET "\",\"client_ids\":[\"a\"]}",
                           "config.issuer is required"));
    CU_ASSERT(config_error("{\"mode\":\"hs256\",\"secret\":\"" SECRET "\",\"issuer\":\"i\","
                           "\"client_ids\":[\"a\"],\"token_use\":\"id\"}",
                           "token_use: unknown"));
    /* and no message ever quotes the secret */
    CU_ASSERT(config_error("{\"mode\":\"hs256\",\"secret\":\"" SECRET "\",\"issuer\":\"i\","
                           "\"client_ids\":[]}",
                           "config.client_ids must be"));
}

/* ---- minting ------------------------------------------------------------------------- */

static void test_mint_round_trip(void)
{
    const char *groups[] = {"admin", "staff", NULL}, *scopes[] = {"tickets:read", "b", NULL};
    bh_auth_token_request r = {.sub = "alice",
                               .email = "a@example.com",
                               .groups = groups,
                               .scopes = scopes,
                               .ttl_s = 3600};
    char token[AUTH_TOKEN_MAX + 1], err[256];
    CU_ASSERT_EQUAL_FATAL(auth_mint(&hs256, &r, NOW, token, sizeof token, err, sizeof err), 0);
    CU_ASSERT_PTR_NULL(strstr(token, SECRET));
    auth_identity id;
    CU_ASSERT_EQUAL_FATAL(auth_verify(&hs256, NULL, token, NOW + 10, &id), AUTH_OK);
    CU_ASSERT_STRING_EQUAL(id.sub, "alice");
    CU_ASSERT_STRING_EQUAL(id.username, "alice");
    CU_ASSERT_STRING_EQUAL(id.email, "a@example.com");
    CU_ASSERT_STRING_EQUAL(id.groups[1], "staff");
    CU_ASSERT_STRING_EQUAL(id.scopes[0], "tickets:read");
    /* the claim shape of a Cognito access token */
    json_t *c = id.claims;
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "token_use")), "access");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "client_id")), "local");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "iss")), "bilhetagem-local");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "scope")), "tickets:read b");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "exp")), NOW + 3600);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "iat")), NOW);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "auth_time")), NOW);
    CU_ASSERT_EQUAL(json_string_length(json_object_get(c, "jti")), 36);
    auth_identity_clear(&id);
    /* it expires like any other */
    CU_ASSERT_EQUAL(verify_at(&hs256, token, NOW + 3660), AUTH_E_EXPIRED);
    /* another secret: a forgery */
    auth_policy other = hs256;
    other.secret = (unsigned char *)"another-secret-that-is-long-enough-32";
    other.secret_len = strlen((const char *)other.secret);
    CU_ASSERT_EQUAL(verify_at(&other, token, NOW), AUTH_E_SIGNATURE);
}

static void test_mint_refusals(void)
{
    char token[AUTH_TOKEN_MAX + 1], err[256];
    bh_auth_token_request r = {.sub = "alice", .ttl_s = 60};
    CU_ASSERT_EQUAL(auth_mint(&cognito, &r, NOW, token, sizeof token, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cognito mode"));
    r.ttl_s = 0;
    CU_ASSERT_EQUAL(auth_mint(&hs256, &r, NOW, token, sizeof token, err, sizeof err), -1);
    r.ttl_s = AUTH_TTL_MAX + 1;
    CU_ASSERT_EQUAL(auth_mint(&hs256, &r, NOW, token, sizeof token, err, sizeof err), -1);
    r.ttl_s = 60;
    r.sub = "";
    CU_ASSERT_EQUAL(auth_mint(&hs256, &r, NOW, token, sizeof token, err, sizeof err), -1);
    r.sub = "has space";
    CU_ASSERT_EQUAL(auth_mint(&hs256, &r, NOW, token, sizeof token, err, sizeof err), -1);
    r.sub = "alice";
    const char *bad_groups[] = {"ok", "line\nbreak", NULL};
    r.groups = bad_groups;
    CU_ASSERT_EQUAL(auth_mint(&hs256, &r, NOW, token, sizeof token, err, sizeof err), -1);
    r.groups = NULL;
    CU_ASSERT_EQUAL(auth_mint(&hs256, &r, NOW, token, 20, err, sizeof err), -1); /* room */
    CU_ASSERT_EQUAL(auth_mint(&hs256, &r, NOW, token, sizeof token, err, sizeof err), 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("auth", suite_init, suite_clean);
    CU_add_test(s, "a valid access token gives the principal", test_valid_access_token);
    CU_add_test(s, "exp: leeway edges", test_exp_leeway_edges);
    CU_add_test(s, "nbf: leeway edges", test_nbf_leeway_edges);
    CU_add_test(s, "iat beyond the leeway is refused", test_iat_in_the_future);
    CU_add_test(s, "huge dates do not overflow", test_huge_dates_do_not_overflow);
    CU_add_test(s, "required claims", test_required_claims);
    CU_add_test(s, "claims of the wrong JSON type", test_wrong_claim_types);
    CU_add_test(s, "NUL inside a claim", test_nul_in_claims);
    CU_add_test(s, "too many groups", test_too_many_groups);
    CU_add_test(s, "iss must match exactly", test_issuer_exact);
    CU_add_test(s, "token_use and client_id", test_token_use_and_client);
    CU_add_test(s, "ID tokens: aud and cognito:username", test_id_tokens);
    CU_add_test(s, "alg none is refused", test_alg_none);
    CU_add_test(s, "HS256 on cognito, even keyed with the public key", test_hs256_on_cognito);
    CU_add_test(s, "header: typ, crit, kid, duplicates", test_header_rules);
    CU_add_test(s, "no keys yet", test_no_keys_yet);
    CU_add_test(s, "tampered payload", test_tampered_payload);
    CU_add_test(s, "tampered signature", test_tampered_signature);
    CU_add_test(s, "another key claiming the kid", test_other_key_same_kid);
    CU_add_test(s, "oversized tokens are not decoded", test_oversized);
    CU_add_test(s, "garbage", test_garbage);
    CU_add_test(s, "every truncation", test_truncated_everywhere);
    CU_add_test(s, "base64url", test_b64url);
    CU_add_test(s, "malformed JWKS documents", test_jwks_malformed);
    CU_add_test(s, "RSA keys under 2048 bits", test_jwks_small_key_refused);
    CU_add_test(s, "good keys survive bad neighbours", test_jwks_good_keys_survive_bad_neighbours);
    CU_add_test(s, "config: cognito", test_config_cognito);
    CU_add_test(s, "config: errors", test_config_errors);
    CU_add_test(s, "mint: round trip, Cognito claim shape", test_mint_round_trip);
    CU_add_test(s, "mint: refusals", test_mint_refusals);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
