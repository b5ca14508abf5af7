/* mint.c - local HS256 access tokens (hs256 mode, `bilhetagemctl token`).
 *
 * The claims are those of an Amazon Cognito access token, so a plugin sees
 * the same principal whichever mode the server runs in:
 *
 *   sub, token_use "access", client_id (the first allowed client), iss,
 *   exp, iat, auth_time, jti (a random UUID), username,
 *   cognito:groups (when there are groups), scope (when there are scopes),
 *   email (when given; Cognito's access tokens have none, ID tokens do)
 *
 * jansson builds the claims, libjwt signs them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/rand.h>

#include "auth.h"

#define MINT_GROUPS_MAX AUTH_MAX_GROUPS
#define MINT_SCOPES_MAX AUTH_MAX_SCOPES
#define MINT_SCOPE_CHARS 4096 /* what claims.c accepts */

static int text_ok(const char *s, size_t max, int spaces_ok)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || (!spaces_ok && *s == ' '))
            return 0;
    return 1;
}

/* A JSON array of the list's strings (checked), or NULL with err. */
static json_t *string_list(const char *what, const char *const *list, size_t max, char *err,
                           size_t errlen)
{
    json_t *a = json_array();
    size_t n = 0;
    for (; a && list && list[n]; n++) {
        if (n == max || !text_ok(list[n], AUTH_CLAIM_MAX, 0)) {
            snprintf(err, errlen,
                     "%s: at most %zu, each 1..%d characters without spaces or "
                     "control characters",
                     what, max, AUTH_CLAIM_MAX);
            json_decref(a);
            return NULL;
        }
        if (json_array_append_new(a, json_string(list[n])) != 0) {
            snprintf(err, errlen, "%s must be UTF-8", what);
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int random_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

/* "scope" is one space-separated string, as Cognito writes it. */
static int set_scope(json_t *claims, const json_t *scopes, char *err, size_t errlen)
{
    char buf[MINT_SCOPE_CHARS + 1];
    size_t used = 0, i;
    const json_t *w;
    json_array_foreach(scopes, i, w) {
        size_t n = json_string_length(w);
        if (used + n + 1 > MINT_SCOPE_CHARS) {
            snprintf(err, errlen, "scopes: %d characters at most in all", MINT_SCOPE_CHARS);
            return -1;
        }
        if (i)
            buf[used++] = ' ';
        memcpy(buf + used, json_string_value(w), n);
        used += n;
    }
    buf[used] = '\0';
    return json_object_set_new(claims, "scope", json_string(buf));
}

static json_t *build_claims(const auth_policy *p, const bh_auth_token_request *r, int64_t now,
                            char *err, size_t errlen)
{
    char jti[37];
    if (!r->sub || !text_ok(r->sub, AUTH_CLAIM_MAX, 0) ||
        (r->username && !text_ok(r->username, AUTH_CLAIM_MAX, 0)) ||
        (r->email && !text_ok(r->email, AUTH_CLAIM_MAX, 0))) {
        snprintf(err, errlen,
                 "sub, username and email must be 1..%d characters without spaces "
                 "or control characters",
                 AUTH_CLAIM_MAX);
        return NULL;
    }
    if (r->ttl_s < 1 || r->ttl_s > AUTH_TTL_MAX) {
        snprintf(err, errlen, "the lifetime must be 1 s to 30 days");
        return NULL;
    }
    if (random_uuid(jti) != 0) {
        snprintf(err, errlen, "no random bytes for jti");
        return NULL;
    }
    json_t *groups = string_list("groups", r->groups, MINT_GROUPS_MAX, err, errlen);
    json_t *scopes = groups ? string_list("scopes", r->scopes, MINT_SCOPES_MAX, err, errlen) : NULL;
    json_t *c = NULL;
    if (scopes)
        c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "sub", r->sub, "token_use",
                      "access", "client_id", p->client_ids[0], "iss", p->issuer, "exp",
                      (json_int_t)(now + r->ttl_s), "iat", (json_int_t)now, "auth_time",
                      (json_int_t)now, "jti", jti, "username", r->username ? r->username : r->sub);
    if (c && json_array_size(groups))
        json_object_set(c, "cognito:groups", groups);
    if (c && json_array_size(scopes) && set_scope(c, scopes, err, errlen) != 0) {
        json_decref(c);
        c = NULL;
        json_decref(groups);
        json_decref(scopes);
        return NULL;
    }
    if (c && r->email && json_object_set_new(c, "email", json_string(r->email)) != 0) {
        json_decref(c);
        c = NULL;
    }
    if (!c && groups && scopes)
        snprintf(err, errlen, "sub, username and email must be UTF-8");
    json_decref(groups);
    json_decref(scopes);
    return c;
}

int auth_mint(const auth_policy *p, const bh_auth_token_request *r, int64_t now, char *out,
              size_t outlen, char *err, size_t errlen)
{
    if (p->mode != AUTH_MODE_HS256) {
        snprintf(err, errlen,
                 "the auth plugin is in cognito mode: tokens come from the user "
                 "pool, not from this server (minting needs mode \"hs256\")");
        return -1;
    }
    json_t *claims = build_claims(p, r, now, err, errlen);
    if (!claims)
        return -1;
    char *text = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    jwt_t *jwt = NULL;
    char *token = NULL;
    if (text && jwt_new(&jwt) == 0 && jwt_add_grants_json(jwt, text) == 0 &&
        jwt_set_alg(jwt, JWT_ALG_HS256, p->secret, (int)p->secret_len) == 0)
        token = jwt_encode_str(jwt);
    jwt_free(jwt);
    free(text);
    int rc = -1;
    if (!token)
        snprintf(err, errlen, "libjwt could not sign the token");
    else if (strlen(token) >= outlen || strlen(token) > AUTH_TOKEN_MAX)
        snprintf(err, errlen, "the token would be %zu bytes, over the limit", strlen(token));
    else {
        memcpy(out, token, strlen(token) + 1);
        rc = 0;
    }
    free(token);
    return rc;
}
