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
 * the directive ("config.client_ids[1] must be ..."), as the core does for
 * its own sections: the SDK's readers (bilhetagem/config.h) check single
 * keys, this file the modes and how keys depend on each other.  No message
 * ever quotes the secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <bilhetagem/config.h>

#include "auth.h"

#define ISSUER_MAX 512
#define CLIENT_ID_MAX 128
#define SECRET_MAX 4096
#define LEEWAY_MAX 600
#define TIMEOUT_MIN_MS 100
#define TIMEOUT_MAX_MS 30000
#define TIMEOUT_DEFAULT_MS 5000

static const char *const cognito_keys[] = {
    "mode",       "region",    "user_pool_id", "issuer",          "allow_insecure_issuer",
    "client_ids", "token_use", "leeway_s",     "jwks_timeout_ms", NULL,
};
static const char *const hs256_keys[] = {
    "mode", "secret", "issuer", "client_ids", "leeway_s", NULL,
};
/* In the order of auth_mode and auth_use. */
static const char *const modes[] = {"cognito", "hs256", NULL};
static const char *const token_uses[] = {"access", "id", NULL};

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS "0123456789"

static int only_chars(const char *s, const char *allowed)
{
    return s[strspn(s, allowed)] == '\0';
}

/* Printable ASCII only: client ids are compared to claims and end up in
 * log lines. */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

/* An optional integer in [lo, hi] into a long; *out keeps its default. */
static int get_long(const bh_config_reader *cfg, const char *key, long lo, long hi, long *out)
{
    int64_t v;
    if (bh_config_int(cfg, key, *out, lo, hi, &v) != 0)
        return -1;
    *out = (long)v;
    return 0;
}

static int parse_clients(const bh_config_reader *cfg, auth_policy *p)
{
    const json_t *a = json_object_get(cfg->obj, "client_ids");
    if (!a)
        return bh_config_fail(cfg, "config.client_ids is required (the app client ids allowed)");
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > AUTH_MAX_CLIENTS)
        return bh_config_fail(cfg, "config.client_ids must be an array of 1..%d strings",
                              AUTH_MAX_CLIENTS);
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > CLIENT_ID_MAX || !printable(json_string_value(v)))
            return bh_config_fail(
                cfg, "config.client_ids[%zu] must be a string of 1..%d printable characters", i,
                CLIENT_ID_MAX);
        if (!(p->client_ids[i] = strdup(json_string_value(v))))
            return bh_config_fail(cfg, "out of memory");
    }
    return 0;
}

static int parse_cognito_issuer(const bh_config_reader *cfg, auth_config *c)
{
    const char *issuer, *region, *pool;
    if (bh_config_string(cfg, "issuer", BH_CONFIG_TOKEN, 1, ISSUER_MAX, NULL, &issuer) != 0 ||
        bh_config_string(cfg, "region", BH_CONFIG_TOKEN, 1, 32, NULL, &region) != 0 ||
        bh_config_string(cfg, "user_pool_id", BH_CONFIG_TOKEN, 1, 64, NULL, &pool) != 0 ||
        bh_config_bool(cfg, "allow_insecure_issuer", 0, &c->allow_insecure) != 0)
        return -1;
    char buf[ISSUER_MAX + 1];
    if (issuer) {
        if (region || pool)
            return bh_config_fail(cfg, "config.issuer replaces region and user_pool_id: "
                                       "give one or the other");
        snprintf(buf, sizeof buf, "%s", issuer);
    } else {
        if (!region || !pool)
            return bh_config_fail(cfg, "config needs region and user_pool_id (or issuer)");
        if (!only_chars(region, LOWER DIGITS "-"))
            return bh_config_fail(cfg, "config.region must be an AWS region such as eu-west-1");
        if (!only_chars(pool, LOWER UPPER DIGITS "-_") || !strchr(pool, '_'))
            return bh_config_fail(cfg, "config.user_pool_id must look like eu-west-1_AbCdEf123");
        snprintf(buf, sizeof buf, "https://cognito-idp.%s.amazonaws.com/%s", region, pool);
    }
    size_t n = strlen(buf);
    if (!strncmp(buf, "http://", 7) && !c->allow_insecure)
        return bh_config_fail(cfg, "config.issuer is http://: set allow_insecure_issuer to true "
                                   "(emulators only), or use https://");
    if (strncmp(buf, "https://", 8) && strncmp(buf, "http://", 7))
        return bh_config_fail(cfg, "config.issuer must be an https:// URL");
    if (buf[n - 1] == '/')
        return bh_config_fail(cfg, "config.issuer must not end with \"/\" (it is compared "
                                   "with the tokens' iss exactly)");
    if (!(c->policy.issuer = strdup(buf)) ||
        !(c->jwks_url = malloc(n + sizeof "/.well-known/jwks.json")))
        return bh_config_fail(cfg, "out of memory");
    snprintf(c->jwks_url, n + sizeof "/.well-known/jwks.json", "%s/.well-known/jwks.json", buf);
    return 0;
}

static int parse_cognito(const bh_config_reader *cfg, auth_config *c)
{
    int use;
    c->jwks_timeout_ms = TIMEOUT_DEFAULT_MS;
    if (bh_config_only_keys(cfg, cognito_keys, "in cognito mode") != 0 ||
        parse_cognito_issuer(cfg, c) != 0 ||
        bh_config_enum(cfg, "token_use", 0, token_uses, AUTH_USE_ACCESS, &use) != 0)
        return -1;
    c->policy.token_use = (auth_use)use;
    return get_long(cfg, "jwks_timeout_ms", TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &c->jwks_timeout_ms);
}

static int parse_hs256(const bh_config_reader *cfg, auth_config *c)
{
    if (bh_config_only_keys(cfg, hs256_keys, "in hs256 mode") != 0)
        return -1;
    const json_t *s = json_object_get(cfg->obj, "secret");
    if (!s)
        return bh_config_fail(cfg, "config.secret is required in hs256 mode "
                                   "(e.g. \"${BILHETAGEM_JWT_SECRET}\")");
    if (!json_is_string(s))
        return bh_config_fail(cfg, "config.secret must be a string");
    size_t len = json_string_length(s);
    if (len < AUTH_SECRET_MIN || len > SECRET_MAX)
        return bh_config_fail(cfg,
                              "config.secret is %zu bytes: it must be %d..%d bytes "
                              "(e.g. openssl rand -hex 32)",
                              len, AUTH_SECRET_MIN, SECRET_MAX);
    if (!(c->policy.secret = malloc(len)))
        return bh_config_fail(cfg, "out of memory");
    memcpy(c->policy.secret, json_string_value(s), len);
    c->policy.secret_len = len;
    const char *issuer;
    if (bh_config_string(cfg, "issuer", BH_CONFIG_TOKEN | BH_CONFIG_REQUIRED, 1, ISSUER_MAX, NULL,
                         &issuer) != 0)
        return -1;
    if (!(c->policy.issuer = strdup(issuer)))
        return bh_config_fail(cfg, "out of memory");
    c->policy.token_use = AUTH_USE_ACCESS;
    return 0;
}

int auth_config_parse(const json_t *config, auth_config *out, char *err, size_t errlen)
{
    bh_config_reader cfg;
    int mode;
    memset(out, 0, sizeof *out);
    out->policy.leeway_s = AUTH_LEEWAY_DEFAULT;
    if (bh_config_begin(&cfg, config, err, errlen) != 0 ||
        bh_config_enum(&cfg, "mode", BH_CONFIG_REQUIRED, modes, AUTH_MODE_COGNITO, &mode) != 0)
        return -1;
    out->policy.mode = (auth_mode)mode;
    int rc =
        out->policy.mode == AUTH_MODE_COGNITO ? parse_cognito(&cfg, out) : parse_hs256(&cfg, out);
    if (rc == 0)
        rc = parse_clients(&cfg, &out->policy);
    if (rc == 0)
        rc = get_long(&cfg, "leeway_s", 0, LEEWAY_MAX, &out->policy.leeway_s);
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
