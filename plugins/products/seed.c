/* seed.c - `bilhetagemctl seed -c FILE`: a demo catalog for a new install.
 *
 * One event thirty days from now (21:00 UTC) with two ticket types, and
 * three add-ons (popcorn, a drink, parking).  Idempotent: it writes only
 * into an empty catalog and otherwise says so and succeeds, so running it
 * again (or from every container at start-up) changes nothing.  The core
 * runs it in a unit of work of its own after the migrations; every insert
 * goes through the same store functions as the admin routes.
 */
#include <stdio.h>

#include "products.h"

#define DAY_MS 86400000LL

static const products_product_in demo_products[] = {
    {.sku = "PIPOCA-G",
     .name = "Pipoca grande",
     .currency = "BRL",
     .price_cents = 2500,
     .stock = 1000,
     .active = 1},
    {.sku = "REFRI-500",
     .name = "Refrigerante 500 ml",
     .currency = "BRL",
     .price_cents = 900,
     .stock = 1000,
     .active = 1},
    {.sku = "ESTAC",
     .name = "Estacionamento",
     .currency = "BRL",
     .price_cents = 3000,
     .stock = 200,
     .active = 1},
};

static int seed(bh_unit *unit, FILE *out, void *arg)
{
    (void)arg;
    int64_t events = 0, products = 0;
    int s = products_store_counts(unit, &events, &products);
    if (s != BH_DB_OK) {
        fprintf(out, "seed: cannot read the catalog: %s\n", bh_db_error(unit));
        return 1;
    }
    if (events > 0 || products > 0) {
        fprintf(out,
                "seed: the catalog is not empty (%lld events, %lld products); nothing seeded\n",
                (long long)events, (long long)products);
        return 0;
    }
    const int64_t now = bh_time_ms();
    char id[37];
    int64_t n = (int64_t)(sizeof demo_products / sizeof demo_products[0]);
    /* Products first: should another seeder race this one (PostgreSQL, two
     * nodes starting at once), the first sku conflict shows it before this
     * run wrote anything, and it stands down. */
    for (int64_t i = 0; i < n; i++) {
        int duplicate = 0;
        s = products_store_insert_product(unit, &demo_products[i], now, id, &duplicate);
        if (s != BH_DB_OK) {
            fprintf(out, "seed: inserting product %s failed: %s\n", demo_products[i].sku,
                    bh_db_error(unit));
            return 1;
        }
        if (duplicate && i == 0) {
            fprintf(out, "seed: the catalog was seeded concurrently; nothing seeded\n");
            return 0;
        }
        if (duplicate) {
            fprintf(out, "seed: product %s already exists; rolled back\n", demo_products[i].sku);
            return 1;
        }
    }
    products_event_in ev = {
        .name = "Festival de Verão",
        .venue = "Arena Bilhetagem, São Paulo",
        .currency = "BRL",
        .starts_at_ms = (now / DAY_MS + 30) * DAY_MS + 21 * 3600000LL,
        .ntypes = 2,
        .types = {{.name = "Pista", .price_cents = 15000, .capacity = 500},
                  {.name = "Camarote", .price_cents = 45000, .capacity = 50}},
    };
    if ((s = products_store_insert_event(unit, &ev, now, id)) != BH_DB_OK) {
        fprintf(out, "seed: inserting the event failed: %s\n", bh_db_error(unit));
        return 1;
    }
    fprintf(out, "seed: created event %s (2 ticket types) and %lld products\n", id, (long long)n);
    return 0;
}

int products_seed_command(bh_plugin_ctx *ctx)
{
    return bh_command_add(ctx, "seed", "load a demo catalog into an empty catalog", seed, NULL);
}
