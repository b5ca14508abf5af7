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
 * the directive ("config.retry_base_ms must be ..."): the SDK's readers
 * (bilhetagem/config.h) check each key; what is left here is how the keys
 * depend on each other.  No message ever quotes webhook_secret or
 * gateway_api_key.
 */
#include <stdlib.h>
#include <string.h>

#include <bilhetagem/config.h>

#include "payment.h"

static const char *const known_keys[] = {
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

/* In the order of pay_gw_kind. */
static const char *const gateways[] = {"simulator", "http", NULL};

static int parse_gateway(const bh_config_reader *cfg, pay_config *c)
{
    int kind;
    if (bh_config_enum(cfg, "gateway", 0, gateways, PAY_GW_SIMULATOR, &kind) != 0 ||
        bh_config_bool(cfg, "allow_insecure_gateway", 0, &c->allow_insecure) != 0 ||
        bh_config_string_copy(cfg, "gateway_url", BH_CONFIG_TOKEN, 1, PAY_URL_MAX, NULL,
                              &c->gateway_url) != 0 ||
        bh_config_string_copy(cfg, "gateway_api_key", BH_CONFIG_TOKEN, 1, PAY_SECRET_MAX, NULL,
                              &c->gateway_api_key) != 0)
        return -1;
    c->gateway = (pay_gw_kind)kind;
    if (c->gateway == PAY_GW_SIMULATOR) {
        if (c->gateway_url || c->gateway_api_key)
            return bh_config_fail(
                cfg, "config.gateway_url and gateway_api_key need \"gateway\": \"http\"");
        return 0;
    }
    if (!c->gateway_url)
        return bh_config_fail(cfg, "config.gateway_url is required with \"gateway\": \"http\"");
    const char *u = c->gateway_url;
    if (!strncmp(u, "http://", 7) && !c->allow_insecure)
        return bh_config_fail(cfg, "config.gateway_url is http://: use https://, or set "
                                   "allow_insecure_gateway (tests and emulators only)");
    if (strncmp(u, "https://", 8) && strncmp(u, "http://", 7))
        return bh_config_fail(cfg, "config.gateway_url must be an https:// URL");
    if (u[strlen(u) - 1] == '/')
        return bh_config_fail(cfg, "config.gateway_url must not end with \"/\"");
    return 0;
}

static int parse_limits(const bh_config_reader *cfg, pay_config *c)
{
    int64_t attempts, failures, batch;
    if (bh_config_int(cfg, "gateway_timeout_ms", 5000, 50, 60000, &c->gateway_timeout_ms) ||
        bh_config_int(cfg, "retry_max_attempts", 3, 1, 10, &attempts) ||
        bh_config_int(cfg, "retry_base_ms", 100, 1, 10000, &c->retry_base_ms) ||
        bh_config_int(cfg, "retry_max_delay_ms", 2000, 1, 60000, &c->retry_max_delay_ms) ||
        bh_config_int(cfg, "retry_budget_ms", 12000, 50, 120000, &c->retry_budget_ms) ||
        bh_config_int(cfg, "breaker_failures", 5, 1, 1000, &failures) ||
        bh_config_int(cfg, "breaker_cooldown_ms", 30000, 100, 3600000, &c->breaker_cooldown_ms) ||
        bh_config_int(cfg, "webhook_tolerance_s", 300, 1, 3600, &c->webhook_tolerance_s) ||
        bh_config_int(cfg, "reconcile_interval_ms", 30000, 100, 86400000,
                      &c->reconcile_interval_ms) ||
        bh_config_int(cfg, "reconcile_batch", 10, 1, 100, &batch))
        return -1;
    if (c->retry_budget_ms < c->gateway_timeout_ms)
        return bh_config_fail(
            cfg, "config.retry_budget_ms must be at least gateway_timeout_ms (one attempt)");
    c->retry_max_attempts = (int)attempts;
    c->breaker_failures = (int)failures;
    c->reconcile_batch = (int)batch;
    return 0;
}

int pay_config_parse(const json_t *config, pay_config *c, char *err, size_t errlen)
{
    bh_config_reader cfg;
    memset(c, 0, sizeof *c);
    if (bh_config_begin(&cfg, config, err, errlen) != 0 ||
        bh_config_only_keys(&cfg, known_keys, NULL) != 0 || parse_gateway(&cfg, c) != 0 ||
        parse_limits(&cfg, c) != 0 ||
        bh_config_string_copy(&cfg, "webhook_secret", BH_CONFIG_TOKEN, PAY_SECRET_MIN,
                              PAY_SECRET_MAX, NULL, &c->webhook_secret) != 0) {
        pay_config_free(c);
        return -1;
    }
    return 0;
}

void pay_config_free(pay_config *c)
{
    free(c->gateway_url);
    free(c->gateway_api_key);
    free(c->webhook_secret);
    c->gateway_url = c->gateway_api_key = c->webhook_secret = NULL;
}
