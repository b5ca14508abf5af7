/* schema.c - the catalog's tables, declared as migrations.
 *
 * Three tables, all owned by this plugin (no other plugin reads them: the
 * order plugin goes through the catalog service):
 *   catalog_events        one row per event; status active / cancelled
 *   catalog_ticket_types  an event's ticket types: price, capacity, sold, held
 *   catalog_products      add-ons: sku (unique), price, stock, sold, held, active
 * The CHECK constraints repeat what every conditional UPDATE already
 * guarantees (held >= 0, sold >= 0, sold + held <= capacity / stock): defence
 * in depth, so that a bug can fail a transaction but never oversell.
 * Never edit an applied migration: append a new one.
 */
#include "products.h"

/* The schema with `C` spliced after the text columns that lists sort by:
 * nothing on SQLite (BINARY already), COLLATE "C" on PostgreSQL, so both
 * order skus and ids byte by byte and pages come out the same. */
#define CATALOG_SCHEMA(C)                                                                          \
    "CREATE TABLE catalog_events ("                                                                \
    " id TEXT" C " PRIMARY KEY,"                                                                   \
    " name TEXT NOT NULL,"                                                                         \
    " venue TEXT NOT NULL,"                                                                        \
    " starts_at_ms BIGINT NOT NULL,"                                                               \
    " currency TEXT NOT NULL,"                                                                     \
    " status TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),"                             \
    " created_at_ms BIGINT NOT NULL,"                                                              \
    " updated_at_ms BIGINT NOT NULL);"                                                             \
    "CREATE INDEX catalog_events_by_start ON catalog_events (starts_at_ms, id);"                   \
    "CREATE TABLE catalog_ticket_types ("                                                          \
    " id TEXT" C " PRIMARY KEY,"                                                                   \
    " event_id TEXT" C " NOT NULL REFERENCES catalog_events (id),"                                 \
    " position BIGINT NOT NULL,"                                                                   \
    " name TEXT NOT NULL,"                                                                         \
    " price_cents BIGINT NOT NULL CHECK (price_cents >= 0),"                                       \
    " capacity BIGINT NOT NULL CHECK (capacity >= 0),"                                             \
    " sold BIGINT NOT NULL DEFAULT 0 CHECK (sold >= 0),"                                           \
    " held BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0),"                                           \
    " CHECK (sold + held <= capacity),"                                                            \
    " UNIQUE (event_id, position));"                                                               \
    "CREATE TABLE catalog_products ("                                                              \
    " id TEXT" C " PRIMARY KEY,"                                                                   \
    " sku TEXT" C " NOT NULL UNIQUE,"                                                              \
    " name TEXT NOT NULL,"                                                                         \
    " price_cents BIGINT NOT NULL CHECK (price_cents >= 0),"                                       \
    " currency TEXT NOT NULL,"                                                                     \
    " stock BIGINT NOT NULL CHECK (stock >= 0),"                                                   \
    " sold BIGINT NOT NULL DEFAULT 0 CHECK (sold >= 0),"                                           \
    " held BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0),"                                           \
    " active BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),"                                  \
    " created_at_ms BIGINT NOT NULL,"                                                              \
    " updated_at_ms BIGINT NOT NULL,"                                                              \
    " CHECK (sold + held <= stock))"

static const bh_migration schema[] = {
    {1, "create_catalog", CATALOG_SCHEMA(""), CATALOG_SCHEMA(" COLLATE \"C\"")},
};

int products_migrations(bh_plugin_ctx *ctx)
{
    return bh_db_migrations(ctx, schema, sizeof schema / sizeof schema[0]);
}
