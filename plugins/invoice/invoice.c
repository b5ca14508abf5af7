/* invoice.c - the invoice plugin's glue: descriptor, init, stop.
 *
 * init checks the (empty) config, looks up the orders service of the order
 * plugin it depends on, declares its tables and counters, subscribes to the
 * payment plugin's events (issue.c) and registers its routes (routes.c).
 * The plugin never calls the payment plugin: money reaches it as events.
 */
#include <stdlib.h>

#include <bilhetagem/bilhetagem.h>

#include "invoice.h"

static int invoice_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    static const char *const no_keys[] = {NULL};
    bh_config_reader cfg;
    char err[256];
    if (bh_config_begin(&cfg, config, err, sizeof err) != 0 ||
        bh_config_only_keys(&cfg, no_keys, "(the invoice plugin takes no settings)") != 0) {
        bh_plugin_error(ctx, "%s", err);
        return -1;
    }
    const bh_orders_service *orders =
        bh_service_lookup(BH_ORDERS_SERVICE, BH_ORDERS_SERVICE_VERSION);
    if (!orders) {
        bh_plugin_error(ctx, "the \"%s\" service (plugin order) version %u is not available",
                        BH_ORDERS_SERVICE, BH_ORDERS_SERVICE_VERSION);
        return -1;
    }
    inv_state *st = calloc(1, sizeof *st);
    if (!st) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    st->ctx = ctx;
    st->orders = orders;
    /* every registration below sets the plugin's error itself */
    if (bh_db_migrations(ctx, inv_migrations, inv_migrations_count) != 0 ||
        !(st->invoices_issued = bh_counter_declare(ctx, "invoices_issued",
                                                   "Invoices issued for captured payments")) ||
        !(st->credit_notes_issued = bh_counter_declare(
              ctx, "credit_notes_issued", "Credit notes issued for refunded payments")) ||
        inv_issue_subscribe(ctx, st) != 0 || inv_routes_add(ctx, st) != 0) {
        free(st);
        return -1;
    }
    *state = st;
    return 0;
}

static void invoice_stop(bh_plugin_ctx *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static const char *const invoice_depends[] = {"order", NULL};

BH_PLUGIN(invoice) = {
    .abi_version = BH_ABI_VERSION,
    .name = "invoice",
    .version = "1.0.0",
    .depends = invoice_depends,
    .init = invoice_init,
    .stop = invoice_stop,
};
