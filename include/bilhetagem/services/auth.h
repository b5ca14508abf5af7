/* bilhetagem/services/auth.h - tokens from the auth plugin.
 *
 * The auth plugin provides this service so that tools (bilhetagemctl token)
 * and other plugins can mint a local access token without knowing the
 * plugin, its secret or its configuration: the token is exactly what the
 * running server accepts.  Only the plugin's "hs256" (local development)
 * mode can mint; in "cognito" mode tokens come from the user pool and
 * `mint` fails with a message saying so.
 */
#ifndef BILHETAGEM_SERVICES_AUTH_H
#define BILHETAGEM_SERVICES_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define BH_AUTH_TOKENS_SERVICE "auth.tokens"
#define BH_AUTH_TOKENS_SERVICE_VERSION 1u

/* What to put in a token.  Every string is borrowed for the call. */
typedef struct bh_auth_token_request {
    const char *sub;           /* required: the subject */
    const char *username;      /* NULL: the same as sub */
    const char *email;         /* NULL: no email claim */
    const char *const *groups; /* NULL-terminated ("cognito:groups"), or NULL */
    const char *const *scopes; /* NULL-terminated ("scope"), or NULL */
    int64_t ttl_s;             /* lifetime in seconds, 1 .. 30 days */
} bh_auth_token_request;

typedef struct bh_auth_tokens_service {
    uint32_t version; /* BH_AUTH_TOKENS_SERVICE_VERSION */
    void *self;       /* the provider's state: pass it back to every call */

    /* Mint a signed access token with the claim shape of an Amazon Cognito
     * access token (sub, token_use "access", client_id, iss, exp, iat,
     * auth_time, jti, username, cognito:groups, scope) and write it,
     * NUL-terminated, into out (outlen bytes; 8 KiB is always enough).
     * Returns 0, or -1 with a reason in err (never the secret).  Any
     * thread. */
    int (*mint)(void *self, const bh_auth_token_request *r, char *out, size_t outlen, char *err,
                size_t errlen);
} bh_auth_tokens_service;

#endif
