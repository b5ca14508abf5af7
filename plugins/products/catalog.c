/* catalog.c - the catalog service (bilhetagem/services/catalog.h): price
 * lookup, and hold / release / commit / unsell of ticket and product
 * inventory in the caller's unit of work.
 *
 * Every inventory change is ONE conditional UPDATE whose WHERE clause states
 * the precondition (enough available, enough held, enough sold, on sale), so
 * the database decides atomically: two racing holds for the last seat cannot
 * both match, on SQLite (writers serialised) or PostgreSQL (READ COMMITTED
 * re-checks the WHERE clause on the row it waited for).  Only when the UPDATE
 * touched no row does a follow-up SELECT say why (NOT_FOUND, UNAVAILABLE or
 * INSUFFICIENT); that read decides nothing, it only names the refusal.
 */
#include <stdio.h>
#include <string.h>

#include "products.h"

/* The SQL of one kind of sellable thing. */
typedef struct kind_sql {
    const char *hold;    /* $1 qty, $2 id, $3 now: on sale and enough available */
    const char *release; /* $1 qty, $2 id: enough held */
    const char *commit;  /* $1 qty, $2 id: enough held */
    const char *unsell;  /* $1 qty, $2 id: enough sold */
    const char *state;   /* $1 id (and $2 now for tickets) -> available, on_sale */
    size_t hold_params, state_params;
} kind_sql;

static const kind_sql ticket_sql = {
    "UPDATE catalog_ticket_types SET held = held + $1"
    " WHERE id = $2 AND capacity - sold - held >= $1"
    " AND EXISTS (SELECT 1 FROM catalog_events e WHERE e.id = catalog_ticket_types.event_id"
    " AND e.status = 'active' AND e.starts_at_ms > $3)",
    "UPDATE catalog_ticket_types SET held = held - $1 WHERE id = $2 AND held >= $1",
    "UPDATE catalog_ticket_types SET held = held - $1, sold = sold + $1"
    " WHERE id = $2 AND held >= $1",
    "UPDATE catalog_ticket_types SET sold = sold - $1 WHERE id = $2 AND sold >= $1",
    "SELECT t.capacity - t.sold - t.held,"
    " CASE WHEN e.status = 'active' AND e.starts_at_ms > $2 THEN 1 ELSE 0 END"
    " FROM catalog_ticket_types t JOIN catalog_events e ON e.id = t.event_id WHERE t.id = $1",
    3,
    2,
};

static const kind_sql product_sql = {
    "UPDATE catalog_products SET held = held + $1"
    " WHERE id = $2 AND stock - sold - held >= $1 AND active = 1",
    "UPDATE catalog_products SET held = held - $1 WHERE id = $2 AND held >= $1",
    "UPDATE catalog_products SET held = held - $1, sold = sold + $1 WHERE id = $2 AND held >= $1",
    "UPDATE catalog_products SET sold = sold - $1 WHERE id = $2 AND sold >= $1",
    "SELECT stock - sold - held, active FROM catalog_products WHERE id = $1",
    2,
    1,
};

static const kind_sql *sql_for(bh_catalog_kind kind)
{
    return kind == BH_CATALOG_TICKET    ? &ticket_sql
           : kind == BH_CATALOG_PRODUCT ? &product_sql
                                        : NULL;
}

/* Why did a change touch no row?  NOT_FOUND when the id is unknown; for a
 * hold, UNAVAILABLE when the item is not on sale; else INSUFFICIENT. */
static int explain(bh_unit *unit, const kind_sql *sql, const char *id, int64_t now, int is_hold)
{
    bh_db_value p[] = {BH_DB_S(id), BH_DB_I(now)};
    bh_rows *rows;
    bh_db_status s = bh_db_query(unit, sql->state, p, sql->state_params, &rows);
    if (s != BH_DB_OK)
        return s;
    if (bh_rows_count(rows) == 0)
        return BH_CATALOG_NOT_FOUND;
    int64_t on_sale = 0;
    if (bh_rows_int(rows, 0, 1, &on_sale) != BH_DB_OK)
        return BH_DB_ERROR;
    if (is_hold && !on_sale)
        return BH_CATALOG_UNAVAILABLE;
    return BH_CATALOG_INSUFFICIENT;
}

enum change { CHANGE_HOLD, CHANGE_RELEASE, CHANGE_COMMIT, CHANGE_UNSELL };

static int change(bh_unit *unit, bh_catalog_kind kind, const char *id, int64_t qty,
                  enum change what)
{
    const kind_sql *sql = sql_for(kind);
    if (!sql || !id || !products_is_uuid(id))
        return BH_CATALOG_NOT_FOUND;
    /* A quantity outside 1..PRODUCTS_QTY_MAX can never be satisfied: no
     * capacity or stock exceeds it.  Refusing it here also keeps the SQL
     * arithmetic far from any overflow. */
    if (qty <= 0 || qty > PRODUCTS_QTY_MAX)
        return BH_CATALOG_INSUFFICIENT;
    const int64_t now = bh_time_ms();
    const char *text = what == CHANGE_HOLD      ? sql->hold
                       : what == CHANGE_RELEASE ? sql->release
                       : what == CHANGE_COMMIT  ? sql->commit
                                                : sql->unsell;
    bh_db_value p[] = {BH_DB_I(qty), BH_DB_S(id), BH_DB_I(now)};
    int64_t affected = 0;
    bh_db_status s =
        bh_db_exec(unit, text, p, what == CHANGE_HOLD ? sql->hold_params : 2, &affected);
    if (s != BH_DB_OK)
        return s;
    if (affected == 1)
        return BH_CATALOG_OK;
    return explain(unit, sql, id, now, what == CHANGE_HOLD);
}

static int catalog_hold(void *self, bh_unit *unit, bh_catalog_kind kind, const char *id,
                        int64_t qty)
{
    (void)self;
    return change(unit, kind, id, qty, CHANGE_HOLD);
}

static int catalog_release(void *self, bh_unit *unit, bh_catalog_kind kind, const char *id,
                           int64_t qty)
{
    (void)self;
    return change(unit, kind, id, qty, CHANGE_RELEASE);
}

static int catalog_commit(void *self, bh_unit *unit, bh_catalog_kind kind, const char *id,
                          int64_t qty)
{
    (void)self;
    return change(unit, kind, id, qty, CHANGE_COMMIT);
}

static int catalog_unsell(void *self, bh_unit *unit, bh_catalog_kind kind, const char *id,
                          int64_t qty)
{
    (void)self;
    return change(unit, kind, id, qty, CHANGE_UNSELL);
}

/* Copy text into a fixed field; the validators bound every stored string
 * below the field sizes, so truncation would mean a row written by hand. */
static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static int lookup_ticket(bh_unit *unit, const char *id, int64_t now, bh_catalog_item *out)
{
    bh_db_value p[] = {BH_DB_S(id)};
    bh_rows *rows;
    bh_db_status s = bh_db_query(unit,
                                 "SELECT t.id, e.id, e.name, t.name, t.price_cents, e.currency,"
                                 " t.capacity - t.sold - t.held, e.status, e.starts_at_ms"
                                 " FROM catalog_ticket_types t"
                                 " JOIN catalog_events e ON e.id = t.event_id WHERE t.id = $1",
                                 p, 1, &rows);
    if (s != BH_DB_OK)
        return s;
    if (bh_rows_count(rows) == 0)
        return BH_CATALOG_NOT_FOUND;
    int64_t starts_at = 0;
    const char *status = bh_rows_text(rows, 0, 7);
    if (bh_rows_int(rows, 0, 4, &out->price_cents) != BH_DB_OK ||
        bh_rows_int(rows, 0, 6, &out->available) != BH_DB_OK ||
        bh_rows_int(rows, 0, 8, &starts_at) != BH_DB_OK || !status)
        return BH_DB_ERROR;
    out->kind = BH_CATALOG_TICKET;
    copy_text(out->id, sizeof out->id, bh_rows_text(rows, 0, 0));
    copy_text(out->event_id, sizeof out->event_id, bh_rows_text(rows, 0, 1));
    copy_text(out->event_name, sizeof out->event_name, bh_rows_text(rows, 0, 2));
    copy_text(out->name, sizeof out->name, bh_rows_text(rows, 0, 3));
    copy_text(out->currency, sizeof out->currency, bh_rows_text(rows, 0, 5));
    out->sku[0] = '\0';
    out->on_sale = strcmp(status, "active") == 0 && starts_at > now;
    return BH_CATALOG_OK;
}

static int lookup_product(bh_unit *unit, const char *id, bh_catalog_item *out)
{
    bh_db_value p[] = {BH_DB_S(id)};
    bh_rows *rows;
    bh_db_status s = bh_db_query(unit,
                                 "SELECT id, sku, name, price_cents, currency,"
                                 " stock - sold - held, active FROM catalog_products WHERE id = $1",
                                 p, 1, &rows);
    if (s != BH_DB_OK)
        return s;
    if (bh_rows_count(rows) == 0)
        return BH_CATALOG_NOT_FOUND;
    int64_t active = 0;
    if (bh_rows_int(rows, 0, 3, &out->price_cents) != BH_DB_OK ||
        bh_rows_int(rows, 0, 5, &out->available) != BH_DB_OK ||
        bh_rows_int(rows, 0, 6, &active) != BH_DB_OK)
        return BH_DB_ERROR;
    out->kind = BH_CATALOG_PRODUCT;
    copy_text(out->id, sizeof out->id, bh_rows_text(rows, 0, 0));
    copy_text(out->sku, sizeof out->sku, bh_rows_text(rows, 0, 1));
    copy_text(out->name, sizeof out->name, bh_rows_text(rows, 0, 2));
    copy_text(out->currency, sizeof out->currency, bh_rows_text(rows, 0, 4));
    out->event_id[0] = '\0';
    out->event_name[0] = '\0';
    out->on_sale = active == 1;
    return BH_CATALOG_OK;
}

static int catalog_lookup(void *self, bh_unit *unit, bh_catalog_kind kind, const char *id,
                          bh_catalog_item *out)
{
    (void)self;
    if (!out || !id || !products_is_uuid(id))
        return BH_CATALOG_NOT_FOUND;
    memset(out, 0, sizeof *out);
    if (kind == BH_CATALOG_TICKET)
        return lookup_ticket(unit, id, bh_time_ms(), out);
    if (kind == BH_CATALOG_PRODUCT)
        return lookup_product(unit, id, out);
    return BH_CATALOG_NOT_FOUND;
}

const bh_catalog_service products_catalog_service = {
    .version = BH_CATALOG_SERVICE_VERSION,
    .self = NULL,
    .lookup = catalog_lookup,
    .hold = catalog_hold,
    .release = catalog_release,
    .commit = catalog_commit,
    .unsell = catalog_unsell,
};
