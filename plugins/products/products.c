/* products.c - the products plugin: the catalog of events (with their
 * ticket types) and add-on products, and the catalog service the order
 * plugin buys through (bilhetagem/services/catalog.h).
 *
 * This file is the glue the core calls: init checks the (empty) config,
 * declares the tables (schema.c), registers the routes of both resources
 * (routes_events.c, routes_products.c, routes_common.c), the `seed`
 * command (seed.c) and provides the catalog service (catalog.c).  The
 * plugin keeps no state of its own: everything lives in the database, in
 * the caller's unit of work.
 */
#include "products.h"

static int products_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    static const char *const no_keys[] = {NULL};
    bh_config_reader cfg;
    char err[256];
    *state = NULL;
    if (bh_config_begin(&cfg, config, err, sizeof err) != 0 ||
        bh_config_only_keys(&cfg, no_keys, "(the products plugin takes no settings)") != 0) {
        bh_plugin_error(ctx, "%s", err);
        return -1;
    }
    if (!bh_db_driver_name()) {
        bh_plugin_error(ctx, "needs storage: configure a \"storage\" section");
        return -1;
    }
    if (products_migrations(ctx) != 0 || products_resource_routes(ctx, &products_events) != 0 ||
        products_resource_routes(ctx, &products_products) != 0 || products_seed_command(ctx) != 0)
        return -1; /* the core or the helper set the error */
    if (bh_service_provide(ctx, BH_CATALOG_SERVICE, BH_CATALOG_SERVICE_VERSION,
                           &products_catalog_service) != 0) {
        bh_plugin_error(ctx, "the %s service is already provided", BH_CATALOG_SERVICE);
        return -1;
    }
    return 0;
}

BH_PLUGIN(products) = {
    .abi_version = BH_ABI_VERSION,
    .name = "products",
    .version = "1.0.0",
    .depends = NULL,
    .init = products_init,
};
