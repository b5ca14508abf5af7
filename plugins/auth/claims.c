/* claims.c - what a verified token's payload must say, and who it names.
 *
 * Runs after the signature was checked, with the clock passed in (the unit
 * test fixes it).  The order is the issue's: exp, nbf, iat (each with the
 * configured leeway), iss exactly, token_use, then client_id (access
 * tokens) or aud (ID tokens) in the allowed list, then the principal's
 * claims.  A claim of the wrong JSON type is a refusal, never a default:
 * {"exp": "9999999999"} is not a date and "cognito:groups": "admin" is not
 * a list.  Dates are JSON integers (NumericDate in whole seconds, which is
 * what Cognito and every mainstream issuer write).
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define SCOPE_MAX 4096

const char *auth_status_text(auth_status s)
{
    switch (s) {
    case AUTH_OK: return "ok";
    case AUTH_E_TOO_LARGE: return "token too large";
    case AUTH_E_MALFORMED: return "malformed token";
    case AUTH_E_HEADER: return "malformed token header";
    case AUTH_E_ALG: return "algorithm not accepted";
    case AUTH_E_KID: return "missing or malformed kid";
    case AUTH_E_UNKNOWN_KID: return "unknown kid";
    case AUTH_E_NO_KEYS: return "signing keys not loaded yet";
    case AUTH_E_SIGNATURE: return "bad signature";
    case AUTH_E_PAYLOAD: return "malformed payload";
    case AUTH_E_CLAIM_TYPE: return "claim of the wrong type";
    case AUTH_E_CLAIM_MISSING: return "required claim missing";
    case AUTH_E_EXPIRED: return "expired";
    case AUTH_E_NOT_YET_VALID: return "not yet valid";
    case AUTH_E_IAT_FUTURE: return "issued in the future";
    case AUTH_E_ISSUER: return "wrong issuer";
    case AUTH_E_TOKEN_USE: return "wrong token_use";
    case AUTH_E_CLIENT: return "client not allowed";
    }
    return "refused";
}

void auth_identity_clear(auth_identity *id)
{
    json_decref(id->claims);
    free(id->scope_buf);
    memset(id, 0, sizeof *id);
}

/* The integer claim `name`: 0 absent (when optional), 1 found, or a
 * status naming the claim. */
static auth_status int_claim(auth_identity *id, const char *name, int required, int *found,
                             json_int_t *out)
{
    const json_t *v = json_object_get(id->claims, name);
    *found = 0;
    if (!v) {
        id->bad_claim = required ? name : NULL;
        return required ? AUTH_E_CLAIM_MISSING : AUTH_OK;
    }
    if (!json_is_integer(v)) {
        id->bad_claim = name;
        return AUTH_E_CLAIM_TYPE;
    }
    *out = json_integer_value(v);
    *found = 1;
    return AUTH_OK;
}

/* The string claim `name` (1..max bytes), or NULL when absent and optional. */
static auth_status str_claim(auth_identity *id, const char *name, int required, size_t max,
                             const char **out)
{
    const json_t *v = json_object_get(id->claims, name);
    *out = NULL;
    if (!v) {
        id->bad_claim = required ? name : NULL;
        return required ? AUTH_E_CLAIM_MISSING : AUTH_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) { /* no \u0000 inside */
        id->bad_claim = name;
        return AUTH_E_CLAIM_TYPE;
    }
    *out = json_string_value(v);
    return AUTH_OK;
}

static auth_status check_times(const auth_policy *p, auth_identity *id, int64_t now)
{
    json_int_t exp = 0, nbf = 0, iat = 0, auth_time = 0;
    int found;
    auth_status s;
    /* Compare with the leeway moved to the side of `now`, whose range we
     * know, so a huge exp cannot overflow. */
    if ((s = int_claim(id, "exp", 1, &found, &exp)) != AUTH_OK)
        return s;
    if (now - p->leeway_s >= exp) {
        id->bad_claim = "exp";
        return AUTH_E_EXPIRED;
    }
    if ((s = int_claim(id, "nbf", 0, &found, &nbf)) != AUTH_OK)
        return s;
    if (found && nbf > now + p->leeway_s) {
        id->bad_claim = "nbf";
        return AUTH_E_NOT_YET_VALID;
    }
    if ((s = int_claim(id, "iat", 1, &found, &iat)) != AUTH_OK)
        return s;
    if (iat > now + p->leeway_s) {
        id->bad_claim = "iat";
        return AUTH_E_IAT_FUTURE;
    }
    return int_claim(id, "auth_time", 0, &found, &auth_time); /* type only */
}

static int client_allowed(const auth_policy *p, const char *client)
{
    for (size_t i = 0; i < AUTH_MAX_CLIENTS && p->client_ids[i]; i++)
        if (!strcmp(p->client_ids[i], client))
            return 1;
    return 0;
}

/* ID tokens name the client in aud: a string, or (RFC 7519) an array of
 * strings of which one must be allowed. */
static auth_status check_audience(const auth_policy *p, auth_identity *id)
{
    const json_t *aud = json_object_get(id->claims, "aud");
    id->bad_claim = "aud";
    if (!aud)
        return AUTH_E_CLAIM_MISSING;
    if (json_is_string(aud))
        return client_allowed(p, json_string_value(aud)) ? AUTH_OK : AUTH_E_CLIENT;
    if (!json_is_array(aud) || json_array_size(aud) == 0 || json_array_size(aud) > AUTH_MAX_CLIENTS)
        return AUTH_E_CLAIM_TYPE;
    size_t i;
    const json_t *v;
    int ok = 0;
    json_array_foreach(aud, i, v) {
        if (!json_is_string(v))
            return AUTH_E_CLAIM_TYPE;
        ok |= client_allowed(p, json_string_value(v));
    }
    return ok ? AUTH_OK : AUTH_E_CLIENT;
}

static auth_status check_client(const auth_policy *p, auth_identity *id)
{
    if (p->token_use == AUTH_USE_ID)
        return check_audience(p, id);
    const char *client;
    auth_status s = str_claim(id, "client_id", 1, AUTH_CLAIM_MAX, &client);
    if (s != AUTH_OK)
        return s;
    if (!client_allowed(p, client)) {
        id->bad_claim = "client_id";
        return AUTH_E_CLIENT;
    }
    return AUTH_OK;
}

static auth_status read_groups(auth_identity *id)
{
    const json_t *g = json_object_get(id->claims, "cognito:groups");
    if (!g)
        return AUTH_OK;
    id->bad_claim = "cognito:groups";
    if (!json_is_array(g) || json_array_size(g) > AUTH_MAX_GROUPS)
        return AUTH_E_CLAIM_TYPE;
    size_t i;
    const json_t *v;
    json_array_foreach(g, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > AUTH_CLAIM_MAX ||
            strlen(json_string_value(v)) != json_string_length(v))
            return AUTH_E_CLAIM_TYPE;
        id->groups[i] = json_string_value(v);
    }
    id->bad_claim = NULL;
    return AUTH_OK;
}

/* "scope" is one string of space-separated words (RFC 8693 section 4.2). */
static auth_status read_scopes(auth_identity *id)
{
    const json_t *v = json_object_get(id->claims, "scope");
    if (!v)
        return AUTH_OK;
    id->bad_claim = "scope";
    if (!json_is_string(v) || json_string_length(v) > SCOPE_MAX ||
        strlen(json_string_value(v)) != json_string_length(v))
        return AUTH_E_CLAIM_TYPE;
    if (!(id->scope_buf = strdup(json_string_value(v))))
        return AUTH_E_CLAIM_TYPE; /* out of memory: refuse rather than half-fill */
    size_t n = 0;
    char *save = NULL;
    for (char *w = strtok_r(id->scope_buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (n == AUTH_MAX_SCOPES)
            return AUTH_E_CLAIM_TYPE;
        id->scopes[n++] = w;
    }
    id->bad_claim = NULL;
    return AUTH_OK;
}

static auth_status read_principal(const auth_policy *p, auth_identity *id)
{
    auth_status s;
    const char *jti;
    if ((s = str_claim(id, "sub", 1, AUTH_CLAIM_MAX, &id->sub)) != AUTH_OK ||
        (s = str_claim(id, p->token_use == AUTH_USE_ID ? "cognito:username" : "username", 0,
                       AUTH_CLAIM_MAX, &id->username)) != AUTH_OK ||
        (s = str_claim(id, "email", 0, AUTH_CLAIM_MAX, &id->email)) != AUTH_OK ||
        (s = str_claim(id, "jti", 0, AUTH_CLAIM_MAX, &jti)) != AUTH_OK)
        return s;
    if ((s = read_groups(id)) != AUTH_OK)
        return s;
    return read_scopes(id);
}

auth_status auth_claims_check(const auth_policy *p, json_t *claims, int64_t now, auth_identity *id)
{
    memset(id, 0, sizeof *id);
    id->claims = claims;
    if (!json_is_object(claims))
        return AUTH_E_PAYLOAD;
    auth_status s;
    const char *iss, *use;
    if ((s = check_times(p, id, now)) != AUTH_OK)
        return s;
    if ((s = str_claim(id, "iss", 1, AUTH_CLAIM_MAX, &iss)) != AUTH_OK)
        return s;
    if (strcmp(iss, p->issuer)) {
        id->bad_claim = "iss";
        return AUTH_E_ISSUER;
    }
    if ((s = str_claim(id, "token_use", 1, 16, &use)) != AUTH_OK)
        return s;
    if (strcmp(use, p->token_use == AUTH_USE_ID ? "id" : "access")) {
        id->bad_claim = "token_use";
        return AUTH_E_TOKEN_USE;
    }
    if ((s = check_client(p, id)) != AUTH_OK)
        return s;
    id->bad_claim = NULL;
    return read_principal(p, id);
}
