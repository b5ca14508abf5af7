/* verify.c - one bearer token, from its bytes to a verified identity.
 *
 * libjwt 1.10 trusts the header's "alg" (hand it an RS256 public key and a
 * token saying HS256 and it will happily use the PEM text as an HMAC
 * secret) and checks no claim at all.  So the work happens in this order,
 * cheapest and most hostile-input-facing first:
 *
 *   1. size: over AUTH_TOKEN_MAX bytes is refused before decoding anything
 *   2. shape: exactly three base64url segments
 *   3. header, decoded here: a JSON object whose alg is exactly the one the
 *      config decided (RS256 for cognito, HS256 for hs256), no crit, typ
 *      JWT if present, a kid on cognito
 *   4. payload: a JSON object without duplicate keys
 *   5. signature: libjwt, with the key chosen by us for the alg we allow
 *   6. claims: claims.c
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jwt.h>
#include <openssl/evp.h>

#include "auth.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int auth_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap,
                       size_t *outlen)
{
    if (len % 4 == 1 || len > AUTH_TOKEN_MAX)
        return -1;
    size_t pad = (4 - len % 4) % 4;
    size_t padded = len + pad;
    if (outcap < padded / 4 * 3)
        return -1;
    /* EVP_DecodeBlock speaks the standard alphabet with padding. */
    unsigned char *std = malloc(padded + 1);
    if (!std)
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *c = memchr(b64url_alphabet, in[i], sizeof b64url_alphabet - 1);
        if (!c || in[i] == '\0') {
            free(std);
            return -1;
        }
        std[i] = *c == '-' ? '+' : *c == '_' ? '/' : (unsigned char)*c;
    }
    memset(std + len, '=', pad);
    std[padded] = '\0';
    int n = padded ? EVP_DecodeBlock(out, std, (int)padded) : 0;
    free(std);
    if (n < 0 || (size_t)n < pad)
        return -1;
    *outlen = (size_t)n - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
    return 0;
}

/* Where the three segments are. */
typedef struct segments {
    const char *part[3];
    size_t len[3];
} segments;

static auth_status split(const char *token, segments *sg)
{
    size_t len = strnlen(token, AUTH_TOKEN_MAX + 1);
    if (len > AUTH_TOKEN_MAX)
        return AUTH_E_TOO_LARGE;
    const char *p = token;
    for (int i = 0; i < 3; i++) {
        size_t n = strspn(p, b64url_alphabet);
        sg->part[i] = p;
        sg->len[i] = n;
        p += n;
        if (i < 2 && *p++ != '.')
            return AUTH_E_MALFORMED;
    }
    /* an empty signature is left for the alg check (alg "none") */
    if (*p || sg->len[0] == 0 || sg->len[1] == 0)
        return AUTH_E_MALFORMED;
    return AUTH_OK;
}

/* A segment decoded and parsed as a JSON object, or NULL. */
static json_t *segment_json(const segments *sg, int i)
{
    size_t cap = sg->len[i] / 4 * 3 + 3, n = 0;
    unsigned char *buf = malloc(cap);
    json_t *j = NULL;
    if (buf && auth_b64url_decode(sg->part[i], sg->len[i], buf, cap, &n) == 0)
        j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static auth_status check_header(const auth_policy *p, const json_t *h, char *kid, size_t kidcap)
{
    const json_t *alg = json_object_get(h, "alg");
    const char *want = p->mode == AUTH_MODE_COGNITO ? "RS256" : "HS256";
    if (!json_is_string(alg) || strcmp(json_string_value(alg), want))
        return AUTH_E_ALG;
    const json_t *typ = json_object_get(h, "typ");
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT")))
        return AUTH_E_HEADER;
    if (json_object_get(h, "crit")) /* we understand no extension */
        return AUTH_E_HEADER;
    const json_t *k = json_object_get(h, "kid");
    kid[0] = '\0';
    if (!k)
        return p->mode == AUTH_MODE_COGNITO ? AUTH_E_KID : AUTH_OK;
    if (!json_is_string(k) || json_string_length(k) == 0 || json_string_length(k) > AUTH_KID_MAX ||
        json_string_length(k) >= kidcap || strlen(json_string_value(k)) != json_string_length(k))
        return AUTH_E_KID;
    memcpy(kid, json_string_value(k), json_string_length(k) + 1);
    return AUTH_OK;
}

/* Steps 1 to 3: size, shape, header.  *sg tells where the segments are. */
static auth_status header_checks(const auth_policy *p, const char *token, segments *sg, char *kid,
                                 size_t kidcap)
{
    auth_status s = split(token, sg);
    if (s != AUTH_OK)
        return s;
    json_t *h = segment_json(sg, 0);
    if (!h)
        return AUTH_E_HEADER;
    s = check_header(p, h, kid, kidcap);
    json_decref(h);
    return s;
}

auth_status auth_token_header(const auth_policy *p, const char *token, char *kid, size_t kidcap)
{
    segments sg;
    return header_checks(p, token, &sg, kid, kidcap);
}

/* libjwt checks the signature; it re-parses the token, which is bounded. */
static auth_status check_signature(const auth_policy *p, const char *token,
                                   const unsigned char *key, size_t keylen)
{
    jwt_t *jwt = NULL;
    jwt_alg_t want = p->mode == AUTH_MODE_COGNITO ? JWT_ALG_RS256 : JWT_ALG_HS256;
    if (keylen == 0 || keylen > 65536)
        return AUTH_E_SIGNATURE;
    int rc = jwt_decode(&jwt, token, key, (int)keylen);
    auth_status s = AUTH_OK;
    if (rc != 0 || !jwt)
        s = AUTH_E_SIGNATURE;
    else if (jwt_get_alg(jwt) != want) /* cannot happen after check_header; cheap to be sure */
        s = AUTH_E_ALG;
    jwt_free(jwt);
    return s;
}

auth_status auth_verify(const auth_policy *p, const auth_keyset *ks, const char *token, int64_t now,
                        auth_identity *id)
{
    memset(id, 0, sizeof *id);
    char kid[AUTH_KID_MAX + 1];
    segments sg;
    auth_status s = header_checks(p, token, &sg, kid, sizeof kid);
    if (s != AUTH_OK)
        return s;

    const unsigned char *key = p->secret;
    size_t keylen = p->secret_len;
    if (p->mode == AUTH_MODE_COGNITO) {
        if (!ks)
            return AUTH_E_NO_KEYS;
        if (!(key = (const unsigned char *)auth_keyset_pem(ks, kid, &keylen)))
            return AUTH_E_UNKNOWN_KID;
    }
    json_t *claims = segment_json(&sg, 1);
    if (!claims)
        return AUTH_E_PAYLOAD;
    if ((s = check_signature(p, token, key, keylen)) != AUTH_OK) {
        json_decref(claims);
        return s;
    }
    return auth_claims_check(p, claims, now, id);
}
