/* config.c - the auth plugin's "config" object, checked strictly.
 *
 *   {"mode": "cognito", "region": "eu-west-1", "user_pool_id": "eu-west-1_AbC",
 *    "client_ids": ["..."], "token_use": "access", "leeway_s": 60,
 *    "jwks_timeout_ms": 5000}
 *   {"mode": "cognito", "issuer": "http://127.0.0.1:9229/local_pool",
 *    "allow_insecure_issuer": true, "client_ids": ["..."]}
 *   {"mode": "hs256", "secret": "${BILHETAGEM_JWT_SECRET}",
 *    "issuer": "bilhetagem-local", "client_ids": ["bilhetagem-local"]}
 *
 * An unknown key, a wrong type or an out-of-range value is an error naming
 * the directive ("config.client_ids[1]: ..."), as the core does for its own
 * sections.  No message ever quotes the secret.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth.h"

#define ISSUER_MAX 512
#define CLIENT_ID_MAX 128
#define SECRET_MAX 4096
#define LEEWAY_MAX 600
#define TIMEOUT_MIN_MS 100
#define TIMEOUT_MAX_MS 30000
#define TIMEOUT_DEFAULT_MS 5000

static const char *const cognito_keys[] = {
    "$comment",   "mode",      "region",   "user_pool_id",    "issuer", "allow_insecure_issuer",
    "client_ids", "token_use", "leeway_s", "jwks_timeout_ms", NULL,
};
static const char *const hs256_keys[] = {
    "$comment", "mode", "secret", "issuer", "client_ids", "leeway_s", NULL,
};

BH_PRINTF(3, 4)
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int only_keys(const json_t *config, const char *const *allowed, const char *mode, char *err,
                     size_t errlen)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)config, key, v) {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key))
            i++;
        if (!allowed[i])
            return fail(err, errlen, "config.%s: unknown key in %s mode", key, mode);
    }
    return 0;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS "0123456789"

static int only_chars(const char *s, const char *allowed)
{
    return s[strspn(s, allowed)] == '\0';
}

/* Printable ASCII only: these strings end up compared to claims and in
 * URLs and log lines. */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

/* An optional integer in [lo, hi]; *out keeps its default when absent. */
static int get_long(const json_t *config, const char *key, long lo, long hi, long *out, char *err,
                    size_t errlen)
{
    const json_t *v = json_object_get(config, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(err, errlen, "config.%s must be an integer from %ld to %ld", key, lo, hi);
    *out = (long)json_integer_value(v);
    return 0;
}

/* A required (or optional, *out NULL) string of 1..max printable bytes. */
static int get_string(const json_t *config, const char *key, int required, size_t max,
                      const char **out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(config, key);
    *out = NULL;
    if (!v)
        return required ? fail(err, errlen, "config.%s is required", key) : 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        !printable(json_string_value(v)))
        return fail(err, errlen, "config.%s must be a string of 1..%zu printable characters", key,
                    max);
    *out = json_string_value(v);
    return 0;
}

static int parse_clients(const json_t *config, auth_policy *p, char *err, size_t errlen)
{
    const json_t *a = json_object_get(config, "client_ids");
    if (!a)
        return fail(err, errlen, "config.client_ids is required (the app client ids allowed)");
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > AUTH_MAX_CLIENTS)
        return fail(err, errlen, "config.client_ids must be an array of 1..%d strings",
                    AUTH_MAX_CLIENTS);
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > CLIENT_ID_MAX || !printable(json_string_value(v)))
            return fail(err, errlen,
                        "config.client_ids[%zu] must be a string of 1..%d printable characters", i,
                        CLIENT_ID_MAX);
        if (!(p->client_ids[i] = strdup(json_string_value(v))))
            return fail(err, errlen, "out of memory");
    }
    return 0;
}

static int parse_cognito_issuer(const json_t *config, auth_config *c, char *err, size_t errlen)
{
    const char *issuer, *region, *pool;
    if (get_string(config, "issuer", 0, ISSUER_MAX, &issuer, err, errlen) != 0 ||
        get_string(config, "region", 0, 32, &region, err, errlen) != 0 ||
        get_string(config, "user_pool_id", 0, 64, &pool, err, errlen) != 0)
        return -1;
    const json_t *insecure = json_object_get(config, "allow_insecure_issuer");
    if (insecure && !json_is_boolean(insecure))
        return fail(err, errlen, "config.allow_insecure_issuer must be a boolean");
    c->allow_insecure = json_is_true(insecure);
    char buf[ISSUER_MAX + 1];
    if (issuer) {
        if (region || pool)
            return fail(err, errlen,
                        "config.issuer replaces region and user_pool_id: "
                        "give one or the other");
        snprintf(buf, sizeof buf, "%s", issuer);
    } else {
        if (!region || !pool)
            return fail(err, errlen, "config needs region and user_pool_id (or issuer)");
        if (!only_chars(region, LOWER DIGITS "-"))
            return fail(err, errlen, "config.region must be an AWS region such as eu-west-1");
        if (!only_chars(pool, LOWER UPPER DIGITS "-_") || !strchr(pool, '_'))
            return fail(err, errlen, "config.user_pool_id must look like eu-west-1_AbCdEf123");
        snprintf(buf, sizeof buf, "https://cognito-idp.%s.amazonaws.com/%s", region, pool);
    }
    size_t n = strlen(buf);
    if (!strncmp(buf, "http://", 7) && !c->allow_insecure)
        return fail(err, errlen,
                    "config.issuer is http://: set allow_insecure_issuer to true "
                    "(emulators only), or use https://");
    if (strncmp(buf, "https://", 8) && strncmp(buf, "http://", 7))
        return fail(err, errlen, "config.issuer must be an https:// URL");
    if (buf[n - 1] == '/')
        return fail(err, errlen,
                    "config.issuer must not end with \"/\" (it is compared "
                    "with the tokens' iss exactly)");
    if (!(c->policy.issuer = strdup(buf)) ||
        !(c->jwks_url = malloc(n + sizeof "/.well-known/jwks.json")))
        return fail(err, errlen, "out of memory");
    snprintf(c->jwks_url, n + sizeof "/.well-known/jwks.json", "%s/.well-known/jwks.json", buf);
    return 0;
}

static int parse_cognito(const json_t *config, auth_config *c, char *err, size_t errlen)
{
    if (only_keys(config, cognito_keys, "cognito", err, errlen) != 0 ||
        parse_cognito_issuer(config, c, err, errlen) != 0)
        return -1;
    const char *use;
    if (get_string(config, "token_use", 0, 16, &use, err, errlen) != 0)
        return -1;
    if (use && strcmp(use, "access") && strcmp(use, "id"))
        return fail(err, errlen, "config.token_use must be \"access\" or \"id\"");
    c->policy.token_use = use && !strcmp(use, "id") ? AUTH_USE_ID : AUTH_USE_ACCESS;
    c->jwks_timeout_ms = TIMEOUT_DEFAULT_MS;
    return get_long(config, "jwks_timeout_ms", TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &c->jwks_timeout_ms,
                    err, errlen);
}

static int parse_hs256(const json_t *config, auth_config *c, char *err, size_t errlen)
{
    if (only_keys(config, hs256_keys, "hs256", err, errlen) != 0)
        return -1;
    const json_t *s = json_object_get(config, "secret");
    if (!s)
        return fail(err, errlen,
                    "config.secret is required in hs256 mode "
                    "(e.g. \"${BILHETAGEM_JWT_SECRET}\")");
    if (!json_is_string(s))
        return fail(err, errlen, "config.secret must be a string");
    size_t len = json_string_length(s);
    if (len < AUTH_SECRET_MIN || len > SECRET_MAX)
        return fail(err, errlen,
                    "config.secret is %zu bytes: it must be %d..%d bytes "
                    "(e.g. openssl rand -hex 32)",
                    len, AUTH_SECRET_MIN, SECRET_MAX);
    if (!(c->policy.secret = malloc(len)))
        return fail(err, errlen, "out of memory");
    memcpy(c->policy.secret, json_string_value(s), len);
    c->policy.secret_len = len;
    const char *issuer;
    if (get_string(config, "issuer", 1, ISSUER_MAX, &issuer, err, errlen) != 0)
        return -1;
    if (!(c->policy.issuer = strdup(issuer)))
        return fail(err, errlen, "out of memory");
    c->policy.token_use = AUTH_USE_ACCESS;
    return 0;
}

int auth_config_parse(const json_t *config, auth_config *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->policy.leeway_s = AUTH_LEEWAY_DEFAULT;
    if (!json_is_object(config))
        return fail(err, errlen, "config must be an object");
    const char *mode;
    if (get_string(config, "mode", 1, 16, &mode, err, errlen) != 0)
        return -1;
    int rc;
    if (!strcmp(mode, "cognito")) {
        out->policy.mode = AUTH_MODE_COGNITO;
        rc = parse_cognito(config, out, err, errlen);
    } else if (!strcmp(mode, "hs256")) {
        out->policy.mode = AUTH_MODE_HS256;
        rc = parse_hs256(config, out, err, errlen);
    } else {
        rc = fail(err, errlen, "config.mode must be \"cognito\" or \"hs256\"");
    }
    if (rc == 0)
        rc = parse_clients(config, &out->policy, err, errlen);
    if (rc == 0)
        rc = get_long(config, "leeway_s", 0, LEEWAY_MAX, &out->policy.leeway_s, err, errlen);
    if (rc != 0)
        auth_config_free(out);
    return rc;
}

void auth_config_free(auth_config *c)
{
    if (c->policy.secret) /* the secret does not linger in freed heap memory */
        OPENSSL_cleanse(c->policy.secret, c->policy.secret_len);
    free(c->policy.secret);
    free(c->policy.issuer);
    for (size_t i = 0; i < AUTH_MAX_CLIENTS && c->policy.client_ids[i]; i++)
        free(c->policy.client_ids[i]);
    free(c->jwks_url);
    memset(c, 0, sizeof *c);
}
