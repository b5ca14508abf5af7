/* payment.c - the payment plugin's glue: descriptor, init, start, stop.
 *
 * init reads the config, builds the gateway (the simulator, or the http
 * gateway) with its circuit breaker and retry policy, looks up the orders
 * service, declares the table, the counters, the routes and the reconcile
 * task.  start initialises libcurl on the main thread (http gateway only).
 */
#include <stdlib.h>

#include <curl/curl.h>

#include "payment.h"

static const char *const depends[] = {"order", NULL};

static void state_free(pay_state *st)
{
    pay_simulator_free(st->sim);
    pay_http_gw_free(st->http);
    if (st->curl_ready)
        curl_global_cleanup();
    pay_config_free(&st->cfg);
    free(st);
}

static int build_gateway(pay_state *st)
{
    const pay_config *c = &st->cfg;
    if (c->gateway == PAY_GW_HTTP) {
        if (!(st->http = pay_http_gw_new(c->gateway_url, c->gateway_api_key, c->allow_insecure)))
            return -1;
        st->gw = (pay_gateway){"http", pay_http_gw_call, st->http};
    } else {
        if (!(st->sim = pay_simulator_new(&pay_env_real)))
            return -1;
        st->gw = (pay_gateway){"simulator", pay_simulator_call, st->sim};
    }
    if (pay_breaker_init(&st->breaker, c->breaker_failures, c->breaker_cooldown_ms,
                         pay_env_real.now_ms, NULL) != 0)
        return -1;
    st->res = (pay_resilient){
        .gw = &st->gw,
        .breaker = &st->breaker,
        .policy = {.max_attempts = c->retry_max_attempts,
                   .base_ms = c->retry_base_ms,
                   .max_delay_ms = c->retry_max_delay_ms,
                   .budget_ms = c->retry_budget_ms,
                   .timeout_ms = c->gateway_timeout_ms,
                   .min_attempt_ms = 20},
        .env = &pay_env_real,
    };
    return 0;
}

static int declare_counters(pay_state *st)
{
    bh_plugin_ctx *ctx = st->ctx;
    return (st->captured = bh_counter_declare(ctx, "payments_captured",
                                              "Payments captured (the order became paid)")) &&
                   (st->declined = bh_counter_declare(ctx, "payments_declined",
                                                      "Payments the gateway declined")) &&
                   (st->refunded =
                        bh_counter_declare(ctx, "payments_refunded", "Payments refunded")) &&
                   (st->orphaned = bh_counter_declare(
                        ctx, "payments_orphaned",
                        "Payments captured for an order that could no longer take them"))
               ? 0
               : -1;
}

static int payment_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    pay_state *st = calloc(1, sizeof *st);
    char err[512];
    if (!st) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    st->ctx = ctx;
    if (pay_config_parse(config, &st->cfg, err, sizeof err) != 0) {
        bh_plugin_error(ctx, "%s", err);
        free(st);
        return -1;
    }
    st->orders = bh_service_lookup(BH_ORDERS_SERVICE, BH_ORDERS_SERVICE_VERSION);
    if (!st->orders) {
        bh_plugin_error(ctx, "the orders service (plugin \"order\") is not available");
        state_free(st);
        return -1;
    }
    if (build_gateway(st) != 0) {
        bh_plugin_error(ctx, "out of memory");
        state_free(st);
        return -1;
    }
    /* the core set the error for any of these */
    if (bh_db_migrations(ctx, pay_migrations, pay_migrations_count) != 0 ||
        declare_counters(st) != 0 || pay_routes_add(st) != 0 ||
        bh_task_every(ctx, "reconcile", st->cfg.reconcile_interval_ms, pay_reconcile, st) != 0) {
        pay_breaker_destroy(&st->breaker);
        state_free(st);
        return -1;
    }
    *state = st;
    return 0;
}

static int payment_start(bh_plugin_ctx *ctx, void *state)
{
    pay_state *st = state;
    if (st->cfg.gateway == PAY_GW_HTTP) {
        /* on the main thread, before any worker exists */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            bh_plugin_error(ctx, "curl_global_init failed");
            return -1;
        }
        st->curl_ready = 1;
        if (st->cfg.allow_insecure)
            bh_log(ctx, BH_LOG_WARN,
                   "allow_insecure_gateway is set: payments may travel over plain HTTP "
                   "(tests and emulators only, never in production)");
    }
    bh_log(ctx, BH_LOG_INFO, "gateway %s, timeout %lld ms, %d attempts within %lld ms%s",
           st->gw.name, (long long)st->cfg.gateway_timeout_ms, st->cfg.retry_max_attempts,
           (long long)st->cfg.retry_budget_ms,
           st->cfg.webhook_secret ? "" : "; no webhook_secret: PIX is off");
    return 0;
}

static void payment_stop(bh_plugin_ctx *ctx, void *state)
{
    (void)ctx;
    pay_state *st = state;
    pay_breaker_destroy(&st->breaker);
    state_free(st);
}

BH_PLUGIN(payment) = {
    .abi_version = BH_ABI_VERSION,
    .name = "payment",
    .version = "1.0.0",
    .depends = depends,
    .init = payment_init,
    .start = payment_start,
    .stop = payment_stop,
};
