/* order.c - the order plugin: orders, inventory holds, hold expiry and
 * tickets (docs/plugins/order.md).
 *
 * This file is the glue the core calls: init checks the config, declares
 * the tables, counters, routes and the expiry task, looks up the catalog
 * service (products plugin) and provides the orders service (payment and
 * invoice plugins).  Config:
 *   hold_seconds       how long a pending order holds its lines (900; 1..86400)
 *   sweep_interval_ms  how often expired holds are released (1000; 100..3600000)
 */
#include <stdlib.h>

#include "order_plugin.h"

#define HOLD_SECONDS_DEFAULT 900
#define HOLD_SECONDS_MAX 86400
#define SWEEP_MS_DEFAULT 1000
#define SWEEP_MS_MIN 100
#define SWEEP_MS_MAX 3600000

static int parse_config(bh_plugin_ctx *ctx, const json_t *config, order_plugin *p)
{
    static const char *const keys[] = {"hold_seconds", "sweep_interval_ms", NULL};
    bh_config_reader cfg;
    char err[256];
    int64_t hold_s;
    if (bh_config_begin(&cfg, config, err, sizeof err) != 0 ||
        bh_config_only_keys(&cfg, keys, "(known: hold_seconds, sweep_interval_ms)") != 0 ||
        bh_config_int(&cfg, "hold_seconds", HOLD_SECONDS_DEFAULT, 1, HOLD_SECONDS_MAX, &hold_s) !=
            0 ||
        bh_config_int(&cfg, "sweep_interval_ms", SWEEP_MS_DEFAULT, SWEEP_MS_MIN, SWEEP_MS_MAX,
                      &p->sweep_interval_ms) != 0) {
        bh_plugin_error(ctx, "%s", err);
        return -1;
    }
    p->hold_ms = hold_s * 1000;
    return 0;
}

static int declare_counters(bh_plugin_ctx *ctx, order_plugin *p)
{
    p->created = bh_counter_declare(ctx, "orders_created", "Orders placed (inventory held)");
    p->expired = bh_counter_declare(ctx, "orders_expired", "Pending orders whose hold expired");
    p->cancelled = bh_counter_declare(ctx, "orders_cancelled", "Pending orders cancelled");
    p->checked_in = bh_counter_declare(ctx, "tickets_checked_in", "Tickets admitted at the door");
    return p->created && p->expired && p->cancelled && p->checked_in ? 0 : -1;
}

static int order_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    order_plugin *p = calloc(1, sizeof *p);
    if (!p) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    p->ctx = ctx;
    if (parse_config(ctx, config, p) != 0)
        goto fail;
    p->catalog = bh_service_lookup(BH_CATALOG_SERVICE, BH_CATALOG_SERVICE_VERSION);
    if (!p->catalog) {
        bh_plugin_error(ctx, "the catalog service (v%u, the products plugin) is not available",
                        BH_CATALOG_SERVICE_VERSION);
        goto fail;
    }
    order_service_init(p);
    /* the core set the error for each of these */
    if (order_store_migrations(ctx) != 0 || declare_counters(ctx, p) != 0 ||
        order_routes_add(p) != 0 || order_ticket_routes_add(p) != 0 ||
        bh_task_every(ctx, "expire-holds", p->sweep_interval_ms, order_sweep, p) != 0 ||
        bh_service_provide(ctx, BH_ORDERS_SERVICE, BH_ORDERS_SERVICE_VERSION, &p->svc) != 0)
        goto fail;
    *state = p;
    return 0;
fail:
    free(p);
    return -1;
}

static void order_stop(bh_plugin_ctx *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static const char *const order_depends[] = {"products", NULL};

BH_PLUGIN(order) = {
    .abi_version = BH_ABI_VERSION,
    .name = "order",
    .version = "1.0.0",
    .depends = order_depends,
    .init = order_init,
    .stop = order_stop,
};
