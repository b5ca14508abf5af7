/* config.c - the payment plugin's "config" object, checked strictly.
 *
 *   {"gateway": "simulator", "gateway_timeout_ms": 5000,
 *    "retry_max_attempts": 3, "retry_base_ms": 100, "retry_max_delay_ms": 2000,
 *    "retry_budget_ms": 12000, "breaker_failures": 5, "breaker_cooldown_ms": 30000,
 *    "webhook_secret": "${BILHETAGEM_PAYMENT_WEBHOOK_SECRET}", "webhook_tolerance_s": 300,
 *    "reconcile_interval_ms": 30000, "reconcile_batch": 10}
 *   {"gateway": "http", "gateway_url": "https://psp.example.com/v1",
 *    "gateway_api_key": "${PSP_KEY}", ...}
 *
 * An unknown key, a wrong type or an out-of-range value is an error naming
 * the directive ("config.retry_base_ms: ..."), like the core's own
 * sections.  No message ever quotes webhook_secret or gateway_api_key.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payment.h"

static const char *const known_keys[] = {
    "$comment",
    "gateway",
    "gateway_url",
    "gateway_api_key",
    "allow_insecure_gateway",
    "gateway_timeout_ms",
    "retry_max_attempts",
    "retry_base_ms",
    "retry_max_delay_ms",
    "retry_budget_ms",
    "breaker_failures",
    "breaker_cooldown_ms",
    "webhook_secret",
    "webhook_tolerance_s",
    "reconcile_interval_ms",
    "reconcile_batch",
    NULL,
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

/* Printable ASCII without spaces: URLs and secrets. */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

/* An optional integer in [lo, hi]; *out keeps its default when absent. */
static int get_int(const json_t *config, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   char *err, size_t errlen)
{
    const json_t *v = json_object_get(config, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(err, errlen, "config.%s must be an integer from %lld to %lld", key,
                    (long long)lo, (long long)hi);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* An optional string of min..max printable bytes, copied into *out. */
static int get_string(const json_t *config, const char *key, size_t min, size_t max, char **out,
                      char *err, size_t errlen)
{
    const json_t *v = json_object_get(config, key);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) < min || json_string_length(v) > max ||
        !printable(json_string_value(v)))
        return fail(err, errlen, "config.%s must be a string of %zu..%zu printable characters", key,
                    min, max);
    if (!(*out = strdup(json_string_value(v))))
        return fail(err, errlen, "out of memory");
    return 0;
}

static int check_keys(const json_t *config, char *err, size_t errlen)
{
    const char *key;
    const json_t *v;
    if (!json_is_object(config))
        return fail(err, errlen, "config must be an object");
    json_object_foreach((json_t *)config, key, v) {
        size_t i = 0;
        while (known_keys[i] && strcmp(known_keys[i], key))
            i++;
        if (!known_keys[i])
            return fail(err, errlen, "config.%s: unknown key", key);
    }
    return 0;
}

static int parse_gateway(const json_t *config, pay_config *c, char *err, size_t errlen)
{
    const json_t *g = json_object_get(config, "gateway");
    const json_t *insecure = json_object_get(config, "allow_insecure_gateway");
    if (g && (!json_is_string(g) ||
              (strcmp(json_string_value(g), "simulator") && strcmp(json_string_value(g), "http"))))
        return fail(err, errlen, "config.gateway must be \"simulator\" or \"http\"");
    c->gateway = g && !strcmp(json_string_value(g), "http") ? PAY_GW_HTTP : PAY_GW_SIMULATOR;
    if (insecure && !json_is_boolean(insecure))
        return fail(err, errlen, "config.allow_insecure_gateway must be a boolean");
    c->allow_insecure = json_is_true(insecure);
    if (get_string(config, "gateway_url", 1, PAY_URL_MAX, &c->gateway_url, err, errlen) != 0 ||
        get_string(config, "gateway_api_key", 1, PAY_SECRET_MAX, &c->gateway_api_key, err,
                   errlen) != 0)
        return -1;
    if (c->gateway == PAY_GW_SIMULATOR) {
        if (c->gateway_url || c->gateway_api_key)
            return fail(err, errlen,
                        "config.gateway_url and gateway_api_key need \"gateway\": \"http\"");
        return 0;
    }
    if (!c->gateway_url)
        return fail(err, errlen, "config.gateway_url is required with \"gateway\": \"http\"");
    const char *u = c->gateway_url;
    if (!strncmp(u, "http://", 7) && !c->allow_insecure)
        return fail(err, errlen,
                    "config.gateway_url is http://: use https://, or set "
                    "allow_insecure_gateway (tests and emulators only)");
    if (strncmp(u, "https://", 8) && strncmp(u, "http://", 7))
        return fail(err, errlen, "config.gateway_url must be an https:// URL");
    if (u[strlen(u) - 1] == '/')
        return fail(err, errlen, "config.gateway_url must not end with \"/\"");
    return 0;
}

int pay_config_parse(const json_t *config, pay_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->gateway_timeout_ms = 5000;
    c->retry_max_delay_ms = 2000;
    c->retry_base_ms = 100;
    c->retry_budget_ms = 12000;
    c->breaker_cooldown_ms = 30000;
    c->webhook_tolerance_s = 300;
    c->reconcile_interval_ms = 30000;
    int64_t attempts = 3, failures = 5, batch = 10;
    if (check_keys(config, err, errlen) != 0 || parse_gateway(config, c, err, errlen) != 0 ||
        get_int(config, "gateway_timeout_ms", 50, 60000, &c->gateway_timeout_ms, err, errlen) ||
        get_int(config, "retry_max_attempts", 1, 10, &attempts, err, errlen) ||
        get_int(config, "retry_base_ms", 1, 10000, &c->retry_base_ms, err, errlen) ||
        get_int(config, "retry_max_delay_ms", 1, 60000, &c->retry_max_delay_ms, err, errlen) ||
        get_int(config, "retry_budget_ms", 50, 120000, &c->retry_budget_ms, err, errlen) ||
        get_int(config, "breaker_failures", 1, 1000, &failures, err, errlen) ||
        get_int(config, "breaker_cooldown_ms", 100, 3600000, &c->breaker_cooldown_ms, err,
                errlen) ||
        get_int(config, "webhook_tolerance_s", 1, 3600, &c->webhook_tolerance_s, err, errlen) ||
        get_int(config, "reconcile_interval_ms", 100, 86400000, &c->reconcile_interval_ms, err,
                errlen) ||
        get_int(config, "reconcile_batch", 1, 100, &batch, err, errlen) ||
        get_string(config, "webhook_secret", PAY_SECRET_MIN, PAY_SECRET_MAX, &c->webhook_secret,
                   err, errlen)) {
        pay_config_free(c);
        return -1;
    }
    if (c->retry_budget_ms < c->gateway_timeout_ms) {
        pay_config_free(c);
        return fail(err, errlen,
                    "config.retry_budget_ms must be at least gateway_timeout_ms (one attempt)");
    }
    c->retry_max_attempts = (int)attempts;
    c->breaker_failures = (int)failures;
    c->reconcile_batch = (int)batch;
    return 0;
}

void pay_config_free(pay_config *c)
{
    free(c->gateway_url);
    free(c->gateway_api_key);
    free(c->webhook_secret);
    c->gateway_url = c->gateway_api_key = c->webhook_secret = NULL;
}
