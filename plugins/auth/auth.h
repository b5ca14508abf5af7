/* auth.h - between the auth plugin's files (never installed, never included
 * outside plugins/auth/ except by its unit test).
 *
 *   config.c   the plugin's "config" object -> auth_config
 *   verify.c   one token: size, shape, header (alg decided by the config),
 *              signature through libjwt, then the claims
 *   claims.c   exp / nbf / iat with leeway, iss, token_use, client_id or
 *              aud, JSON types; the principal's fields
 *   jwk.c      a JWKS document -> an immutable, refcounted set of PEM keys
 *   jwks.c     fetching the JWKS with libcurl, the background loader with
 *              backoff, the rate-limited refetch on an unknown kid
 *   mint.c     HS256 access tokens for `bilhetagemctl token`
 *   auth.c     the plugin glue: descriptor, init/start/stop/ready, the
 *              auth.tokens service
 *   authz.c    the authorizer: the Authorization header, 401 / 503
 *
 * Everything but auth.c and authz.c is free of SDK calls, so the unit test
 * links those files alone and drives them with a fixed clock.
 */
#ifndef BH_AUTH_PLUGIN_H
#define BH_AUTH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <bilhetagem/log.h>
#include <bilhetagem/services/auth.h>

#define AUTH_TOKEN_MAX 8192    /* bytes; longer tokens are refused undecoded */
#define AUTH_MAX_CLIENTS 16    /* allowed app client ids */
#define AUTH_MAX_GROUPS 64     /* entries of cognito:groups */
#define AUTH_MAX_SCOPES 64     /* words of scope */
#define AUTH_KID_MAX 128       /* bytes of a key id */
#define AUTH_CLAIM_MAX 512     /* bytes of sub, username, email, a group */
#define AUTH_SECRET_MIN 32     /* bytes of an hs256 secret */
#define AUTH_LEEWAY_DEFAULT 60 /* seconds */
#define AUTH_REFETCH_MIN_S 30  /* at most one unknown-kid refetch per this */

typedef enum auth_mode { AUTH_MODE_COGNITO = 0, AUTH_MODE_HS256 } auth_mode;
typedef enum auth_use { AUTH_USE_ACCESS = 0, AUTH_USE_ID } auth_use;

/* What a token must satisfy.  Immutable once the config is read; shared by
 * every worker thread. */
typedef struct auth_policy {
    auth_mode mode;
    auth_use token_use;
    char *issuer;                           /* exact `iss` */
    char *client_ids[AUTH_MAX_CLIENTS + 1]; /* NULL-terminated */
    long leeway_s;
    unsigned char *secret; /* hs256 only */
    size_t secret_len;
} auth_policy;

/* The whole plugin config. */
typedef struct auth_config {
    auth_policy policy;
    char *jwks_url;       /* cognito: <issuer>/.well-known/jwks.json */
    int allow_insecure;   /* cognito: http:// issuer allowed */
    long jwks_timeout_ms; /* one fetch, connect included */
} auth_config;

/* config.c: fill *out from the plugin's config (borrowed).  0, or -1 with
 * a message naming the directive in err.  The message never contains the
 * secret. */
int auth_config_parse(const json_t *config, auth_config *out, char *err, size_t errlen);
void auth_config_free(auth_config *c);

/* Why a token was refused.  The text is for logs only: clients are told
 * "invalid token" whatever the reason. */
typedef enum auth_status {
    AUTH_OK = 0,
    AUTH_E_TOO_LARGE,     /* over AUTH_TOKEN_MAX bytes */
    AUTH_E_MALFORMED,     /* not three base64url segments */
    AUTH_E_HEADER,        /* header not a JSON object, or bad typ / crit */
    AUTH_E_ALG,           /* alg is not the configured one (none, HS256 on cognito...) */
    AUTH_E_KID,           /* kid missing or not a short string */
    AUTH_E_UNKNOWN_KID,   /* no key with that kid */
    AUTH_E_NO_KEYS,       /* the JWKS has not been loaded yet */
    AUTH_E_SIGNATURE,     /* libjwt refused the signature */
    AUTH_E_PAYLOAD,       /* payload not a JSON object */
    AUTH_E_CLAIM_TYPE,    /* a claim of the wrong JSON type (bad_claim says which) */
    AUTH_E_CLAIM_MISSING, /* a required claim is absent (bad_claim) */
    AUTH_E_EXPIRED,       /* exp + leeway is past */
    AUTH_E_NOT_YET_VALID, /* nbf - leeway is ahead */
    AUTH_E_IAT_FUTURE,    /* issued after now + leeway */
    AUTH_E_ISSUER,        /* iss is not the configured issuer */
    AUTH_E_TOKEN_USE,     /* access where id is configured, or the reverse */
    AUTH_E_CLIENT         /* client_id / aud not in the allowed list */
} auth_status;

const char *auth_status_text(auth_status s);

/* A verified caller.  `claims` is owned; the strings point into it (and
 * into scope_buf), so they live until auth_identity_clear(). */
typedef struct auth_identity {
    json_t *claims;
    const char *sub;
    const char *username;
    const char *email;
    const char *groups[AUTH_MAX_GROUPS + 1]; /* NULL-terminated */
    const char *scopes[AUTH_MAX_SCOPES + 1]; /* NULL-terminated */
    char *scope_buf;                         /* owned copy of `scope`, split */
    const char *bad_claim;                   /* on failure: which claim, or NULL */
} auth_identity;

void auth_identity_clear(auth_identity *id);

/* claims.c: check `claims` (stolen, even on failure: it ends in id->claims)
 * against the policy at time `now` (seconds since the epoch) and fill the
 * principal's fields.  On failure id->bad_claim names the claim. */
auth_status auth_claims_check(const auth_policy *p, json_t *claims, int64_t now, auth_identity *id);

/* ---- keys (jwk.c) ------------------------------------------------------- */

/* An immutable set of RSA public keys by kid, refcounted so a worker can
 * keep verifying with the old set while a refetch swaps in a new one. */
typedef struct auth_keyset auth_keyset;

/* Parse a JWKS document.  Keys that are not RSA signing keys are skipped;
 * a document that is not JSON, has no "keys" array, or yields no usable RSA
 * key is an error (NULL, message in err).  The result has refcount 1. */
auth_keyset *auth_keyset_parse(const char *doc, size_t len, char *err, size_t errlen);
/* The PEM (SubjectPublicKeyInfo) of key `kid` and its length, or NULL.
 * Borrowed from the set. */
const char *auth_keyset_pem(const auth_keyset *ks, const char *kid, size_t *len);
size_t auth_keyset_count(const auth_keyset *ks);
auth_keyset *auth_keyset_ref(auth_keyset *ks);
void auth_keyset_unref(auth_keyset *ks); /* NULL is fine */

/* An RSA public key from a JWK's base64url modulus and exponent, as a
 * malloc'd PEM string (OpenSSL 3 EVP_PKEY_fromdata).  NULL with err. */
char *auth_jwk_rsa_pem(const char *n_b64url, const char *e_b64url, char *err, size_t errlen);

/* ---- token checks (verify.c) -------------------------------------------- */

/* Decode base64url without padding (RFC 7515 section 2) into out (at most
 * outcap bytes).  -1 on a character outside the alphabet, a bad length or a
 * short buffer. */
int auth_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap,
                       size_t *outlen);

/* The checks made before any key is touched: size, three segments, the
 * header a JSON object whose alg is the configured one, typ and crit, kid
 * (copied into kid, "" when absent; required on cognito). */
auth_status auth_token_header(const auth_policy *p, const char *token, char *kid, size_t kidcap);

/* Everything: header, signature (HS256 with the policy's secret; RS256 with
 * the key of the token's kid from `ks`, which may be NULL while no JWKS is
 * loaded), then the claims at time `now`.  On AUTH_OK *id holds the
 * caller; call auth_identity_clear() in every case. */
auth_status auth_verify(const auth_policy *p, const auth_keyset *ks, const char *token, int64_t now,
                        auth_identity *id);

/* ---- fetching keys (jwks.c) --------------------------------------------- */

typedef void (*auth_log_fn)(void *arg, bh_log_level level, const char *msg);

typedef struct auth_jwks_opts {
    const char *url;
    int allow_http; /* else https only */
    long timeout_ms;
    long refetch_min_s; /* AUTH_REFETCH_MIN_S in the plugin */
    auth_log_fn log;    /* may be NULL; called from any thread */
    void *log_arg;
} auth_jwks_opts;

typedef struct auth_jwks auth_jwks;

/* One GET of `url` with libcurl: https only unless allow_http, no
 * redirects, at most timeout_ms, a body of at most 256 KiB, status 200.
 * The CA bundle comes from CURL_CA_BUNDLE or SSL_CERT_FILE when set.
 * *body is malloc'd and NUL-terminated.  -1 with err. */
int auth_http_get(const char *url, int allow_http, long timeout_ms, char **body, size_t *len,
                  char *err, size_t errlen);

auth_jwks *auth_jwks_new(const auth_jwks_opts *o);
/* Start the background loader: fetch until the first usable JWKS, retrying
 * with backoff (250 ms doubling to 30 s).  Never blocks.  -1 with err. */
int auth_jwks_start(auth_jwks *j, char *err, size_t errlen);
/* Stop the loader (waits at most one fetch timeout) and free. */
void auth_jwks_free(auth_jwks *j);
/* 1 once a JWKS is loaded.  Any thread, never blocks. */
int auth_jwks_ready(auth_jwks *j);
/* The current key set with a reference taken (auth_keyset_unref it), or
 * NULL before the first load.  Any thread. */
auth_keyset *auth_jwks_acquire(auth_jwks *j);
/* A token named an unknown kid: refetch now, on the calling thread, unless
 * a refetch ran less than refetch_min_s ago or is running.  1 when a new
 * set was installed; 0 when rate-limited or the fetch failed (the old keys
 * stay).  Any thread. */
int auth_jwks_refetch(auth_jwks *j);
/* The same in two steps, so the caller can trace the fetch (authz.c opens
 * an X-Ray subsegment around it): claim returns 1 when this thread is the
 * one to refetch now (then call fetch), 0 when rate-limited.  fetch sends
 * `trace_header` (may be NULL) as X-Amzn-Trace-Id, sets *http_status (0
 * when no answer came) and returns 1 when a new set was installed. */
int auth_jwks_refetch_claim(auth_jwks *j);
int auth_jwks_fetch(auth_jwks *j, const char *trace_header, long *http_status);
/* The JWKS URL (borrowed, valid until auth_jwks_free). */
const char *auth_jwks_url(const auth_jwks *j);

/* ---- minting (mint.c) --------------------------------------------------- */

#define AUTH_TTL_MAX (30L * 24 * 3600)

/* An HS256 access token with the claim shape of a Cognito access token,
 * signed with the policy's secret, issued at `now`.  Written NUL-terminated
 * into out.  -1 with err (which never contains the secret). */
int auth_mint(const auth_policy *p, const bh_auth_token_request *r, int64_t now, char *out,
              size_t outlen, char *err, size_t errlen);

/* ---- the plugin (auth.c, authz.c) --------------------------------------- */

typedef struct auth_state {
    bh_plugin_ctx *ctx;
    auth_config cfg;
    auth_jwks *jwks;            /* cognito mode; NULL in hs256 */
    int curl_ready;             /* curl_global_init succeeded in start */
    bh_auth_tokens_service svc; /* provided as BH_AUTH_TOKENS_SERVICE */
} auth_state;

struct bh_request;

/* authz.c: the authorizer installed with bh_authorizer_set (arg: auth_state).
 * Worker threads. */
int auth_authorize(struct bh_request *req, void *arg);

#endif
