/* store.c - the SQL behind the catalog's HTTP routes and seed command:
 * inserting, patching, reading and paging events and products, and turning
 * rows into their API representation (JSON built with jansson).
 *
 * Every function runs its statements in the unit it is given and returns a
 * bh_db_status; the caller answers the request.  Patches that must respect
 * inventory in use (capacity or stock never below sold + held) are
 * conditional UPDATEs checked through the affected-row count, like the
 * catalog service's holds: a concurrent hold can never slip under them.
 */
#include <string.h>

#include "products.h"

/* ---- representations -------------------------------------------------------- */

static json_t *time_json(int64_t ms)
{
    char buf[32];
    bh_time_format(ms, buf);
    return json_string(buf);
}

/* Ticket type columns, in this order, from column `c` of a row:
 * id, name, price_cents, capacity, sold, held. */
#define TICKET_COLS "t.id, t.name, t.price_cents, t.capacity, t.sold, t.held"

static json_t *ticket_json(const bh_rows *rows, size_t r, size_t c, const char *currency, int admin)
{
    int64_t price, capacity, sold, held;
    if (bh_rows_int(rows, r, c + 2, &price) != BH_DB_OK ||
        bh_rows_int(rows, r, c + 3, &capacity) != BH_DB_OK ||
        bh_rows_int(rows, r, c + 4, &sold) != BH_DB_OK ||
        bh_rows_int(rows, r, c + 5, &held) != BH_DB_OK)
        return NULL;
    const char *id = bh_rows_text(rows, r, c), *name = bh_rows_text(rows, r, c + 1);
    int64_t available = capacity - sold - held;
    json_t *t = json_pack("{s:s?, s:s?, s:I, s:s, s:I, s:I}", "id", id, "name", name, "price_cents",
                          (json_int_t)price, "currency", currency, "capacity", (json_int_t)capacity,
                          "available", (json_int_t)(available > 0 ? available : 0));
    if (t && admin &&
        (json_object_set_new(t, "sold", json_integer(sold)) != 0 ||
         json_object_set_new(t, "held", json_integer(held)) != 0)) {
        json_decref(t);
        return NULL;
    }
    return t;
}

/* Event columns, in this order, from column 0 of a row. */
#define EVENT_COLS                                                                                 \
    "e.id, e.name, e.venue, e.starts_at_ms, e.currency, e.status, e.created_at_ms,"                \
    " e.updated_at_ms"
#define EVENT_NCOLS 8

static json_t *event_json(const bh_rows *rows, size_t r, int64_t now)
{
    int64_t starts, created, updated;
    if (bh_rows_int(rows, r, 3, &starts) != BH_DB_OK ||
        bh_rows_int(rows, r, 6, &created) != BH_DB_OK ||
        bh_rows_int(rows, r, 7, &updated) != BH_DB_OK)
        return NULL;
    const char *status = bh_rows_text(rows, r, 5);
    int on_sale = status && strcmp(status, "active") == 0 && starts > now;
    return json_pack("{s:s?, s:s?, s:s?, s:o, s:s?, s:s?, s:b, s:[], s:o, s:o}", "id",
                     bh_rows_text(rows, r, 0), "name", bh_rows_text(rows, r, 1), "venue",
                     bh_rows_text(rows, r, 2), "starts_at", time_json(starts), "currency",
                     bh_rows_text(rows, r, 4), "status", status, "on_sale", on_sale, "ticket_types",
                     "created_at", time_json(created), "updated_at", time_json(updated));
}

/* Append the ticket type of row r (columns from EVENT_NCOLS) to `event`. */
static int event_add_ticket(json_t *event, const bh_rows *rows, size_t r, int admin)
{
    const char *currency = json_string_value(json_object_get(event, "currency"));
    json_t *t = ticket_json(rows, r, EVENT_NCOLS, currency ? currency : "", admin);
    return t ? json_array_append_new(json_object_get(event, "ticket_types"), t) : -1;
}

/* ---- events ----------------------------------------------------------------- */

int products_store_insert_event(bh_unit *unit, const products_event_in *in, int64_t now_ms,
                                char id[37])
{
    bh_uuid(id);
    bh_db_value e[] = {BH_DB_S(id),           BH_DB_S(in->name),
                       BH_DB_S(in->venue),    BH_DB_I(in->starts_at_ms),
                       BH_DB_S(in->currency), BH_DB_I(now_ms)};
    bh_db_status s = bh_db_exec(unit,
                                "INSERT INTO catalog_events (id, name, venue, starts_at_ms,"
                                " currency, status, created_at_ms, updated_at_ms)"
                                " VALUES ($1, $2, $3, $4, $5, 'active', $6, $6)",
                                e, 6, NULL);
    for (size_t i = 0; s == BH_DB_OK && i < in->ntypes; i++) {
        char tid[37];
        bh_uuid(tid);
        const products_ticket_in *t = &in->types[i];
        bh_db_value p[] = {
            BH_DB_S(tid),        BH_DB_S(id), BH_DB_I(i), BH_DB_S(t->name), BH_DB_I(t->price_cents),
            BH_DB_I(t->capacity)};
        s = bh_db_exec(unit,
                       "INSERT INTO catalog_ticket_types (id, event_id, position, name,"
                       " price_cents, capacity) VALUES ($1, $2, $3, $4, $5, $6)",
                       p, 6, NULL);
    }
    return s;
}

int products_store_event_json(bh_unit *unit, const char *id, int admin, int64_t now_ms,
                              json_t **out)
{
    *out = NULL;
    bh_db_value p[] = {BH_DB_S(id)};
    bh_rows *rows;
    bh_db_status s = bh_db_query(unit,
                                 "SELECT " EVENT_COLS ", " TICKET_COLS " FROM catalog_events e"
                                 " JOIN catalog_ticket_types t ON t.event_id = e.id"
                                 " WHERE e.id = $1 ORDER BY t.position",
                                 p, 1, &rows);
    if (s != BH_DB_OK || bh_rows_count(rows) == 0)
        return s;
    json_t *event = event_json(rows, 0, now_ms);
    for (size_t r = 0; event && r < bh_rows_count(rows); r++) {
        if (event_add_ticket(event, rows, r, admin) != 0) {
            json_decref(event);
            event = NULL;
        }
    }
    *out = event;
    return event ? BH_DB_OK : BH_DB_ERROR;
}

int products_store_event_page(bh_unit *unit, int64_t after_ms, const char *after_id, int limit,
                              int admin, int64_t now_ms, json_t *items, int *more)
{
    *more = 0;
    /* One statement: the page of events (one more than asked, to learn
     * whether another page follows) joined with their ticket types.  The
     * first page starts after (-1, ""), before every event. */
    bh_db_value p[] = {BH_DB_I(after_id ? after_ms : -1), BH_DB_S(after_id ? after_id : ""),
                       BH_DB_I(limit + 1)};
    bh_rows *rows;
    bh_db_status s =
        bh_db_query(unit,
                    "SELECT " EVENT_COLS ", " TICKET_COLS
                    " FROM (SELECT id, name, venue, starts_at_ms, currency, status, created_at_ms,"
                    " updated_at_ms FROM catalog_events"
                    " WHERE starts_at_ms > $1 OR (starts_at_ms = $1 AND id > $2)"
                    " ORDER BY starts_at_ms, id LIMIT $3) e"
                    " JOIN catalog_ticket_types t ON t.event_id = e.id"
                    " ORDER BY e.starts_at_ms, e.id, t.position",
                    p, 3, &rows);
    if (s != BH_DB_OK)
        return s;
    json_t *event = NULL;
    const char *current = NULL;
    for (size_t r = 0; r < bh_rows_count(rows); r++) {
        const char *id = bh_rows_text(rows, r, 0);
        if (!id)
            return BH_DB_ERROR;
        if (!current || strcmp(current, id) != 0) {
            if (json_array_size(items) == (size_t)limit) {
                *more = 1; /* the extra event: it starts the next page */
                return BH_DB_OK;
            }
            if (!(event = event_json(rows, r, now_ms)) || json_array_append_new(items, event) != 0)
                return BH_DB_ERROR;
            current = id;
        }
        if (event_add_ticket(event, rows, r, admin) != 0)
            return BH_DB_ERROR;
    }
    return BH_DB_OK;
}

/* Does ticket type `tid` belong to event `id`? */
static int ticket_exists(bh_unit *unit, const char *id, const char *tid, int *exists)
{
    bh_db_value p[] = {BH_DB_S(tid), BH_DB_S(id)};
    bh_rows *rows;
    bh_db_status s = bh_db_query(
        unit, "SELECT 1 FROM catalog_ticket_types WHERE id = $1 AND event_id = $2", p, 2, &rows);
    *exists = s == BH_DB_OK && bh_rows_count(rows) > 0;
    return s;
}

int products_store_patch_event(bh_unit *unit, const char *id, const products_event_patch *pt,
                               int64_t now_ms, products_patch_result *result, size_t *bad_index)
{
    *result = PRODUCTS_PATCHED;
    bh_db_value e[] = {BH_DB_S(pt->name),
                       BH_DB_S(pt->venue),
                       pt->has_starts_at ? BH_DB_I(pt->starts_at_ms) : BH_DB_N,
                       BH_DB_S(pt->status),
                       BH_DB_I(now_ms),
                       BH_DB_S(id)};
    int64_t affected = 0;
    bh_db_status s = bh_db_exec(unit,
                                "UPDATE catalog_events SET name = COALESCE($1, name),"
                                " venue = COALESCE($2, venue),"
                                " starts_at_ms = COALESCE($3, starts_at_ms),"
                                " status = COALESCE($4, status), updated_at_ms = $5"
                                " WHERE id = $6",
                                e, 6, &affected);
    if (s != BH_DB_OK)
        return s;
    if (affected == 0) {
        *result = PRODUCTS_PATCH_NOT_FOUND;
        return BH_DB_OK;
    }
    for (size_t i = 0; i < pt->ntypes; i++) {
        const products_ticket_patch *t = &pt->types[i];
        /* The new capacity must still cover what is sold and held now:
         * checked by the UPDATE itself, so a racing hold cannot slip under. */
        bh_db_value p[] = {t->has_price ? BH_DB_I(t->price_cents) : BH_DB_N,
                           t->has_capacity ? BH_DB_I(t->capacity) : BH_DB_N, BH_DB_S(t->id),
                           BH_DB_S(id)};
        s = bh_db_exec(unit,
                       "UPDATE catalog_ticket_types SET price_cents = COALESCE($1, price_cents),"
                       " capacity = COALESCE($2, capacity)"
                       " WHERE id = $3 AND event_id = $4 AND sold + held <= COALESCE($2, capacity)",
                       p, 4, &affected);
        if (s != BH_DB_OK)
            return s;
        if (affected == 0) {
            int exists = 0;
            if ((s = ticket_exists(unit, id, t->id, &exists)) != BH_DB_OK)
                return s;
            *result = exists ? PRODUCTS_PATCH_BELOW_COMMITTED : PRODUCTS_PATCH_BAD_TYPE;
            *bad_index = i;
            return BH_DB_OK;
        }
    }
    return BH_DB_OK;
}

/* ---- products --------------------------------------------------------------- */

#define PRODUCT_COLS                                                                               \
    "id, sku, name, price_cents, currency, stock, sold, held, active, created_at_ms,"              \
    " updated_at_ms"

static json_t *product_json(const bh_rows *rows, size_t r, int admin)
{
    int64_t price, stock, sold, held, active, created, updated;
    if (bh_rows_int(rows, r, 3, &price) != BH_DB_OK ||
        bh_rows_int(rows, r, 5, &stock) != BH_DB_OK || bh_rows_int(rows, r, 6, &sold) != BH_DB_OK ||
        bh_rows_int(rows, r, 7, &held) != BH_DB_OK ||
        bh_rows_int(rows, r, 8, &active) != BH_DB_OK ||
        bh_rows_int(rows, r, 9, &created) != BH_DB_OK ||
        bh_rows_int(rows, r, 10, &updated) != BH_DB_OK)
        return NULL;
    int64_t available = stock - sold - held;
    json_t *p = json_pack("{s:s?, s:s?, s:s?, s:I, s:s?, s:I, s:I, s:b, s:o, s:o}", "id",
                          bh_rows_text(rows, r, 0), "sku", bh_rows_text(rows, r, 1), "name",
                          bh_rows_text(rows, r, 2), "price_cents", (json_int_t)price, "currency",
                          bh_rows_text(rows, r, 4), "stock", (json_int_t)stock, "available",
                          (json_int_t)(available > 0 ? available : 0), "active", active == 1,
                          "created_at", time_json(created), "updated_at", time_json(updated));
    if (p && admin &&
        (json_object_set_new(p, "sold", json_integer(sold)) != 0 ||
         json_object_set_new(p, "held", json_integer(held)) != 0)) {
        json_decref(p);
        return NULL;
    }
    return p;
}

int products_store_insert_product(bh_unit *unit, const products_product_in *in, int64_t now_ms,
                                  char id[37], int *duplicate)
{
    bh_uuid(id);
    /* ON CONFLICT DO NOTHING: a taken sku returns no row instead of failing
     * the unit, on both databases, even when two requests race for it. */
    bh_db_value p[] = {BH_DB_S(id),
                       BH_DB_S(in->sku),
                       BH_DB_S(in->name),
                       BH_DB_I(in->price_cents),
                       BH_DB_S(in->currency),
                       BH_DB_I(in->stock),
                       BH_DB_I(in->active ? 1 : 0),
                       BH_DB_I(now_ms)};
    bh_rows *rows;
    bh_db_status s = bh_db_query(unit,
                                 "INSERT INTO catalog_products (id, sku, name, price_cents,"
                                 " currency, stock, active, created_at_ms, updated_at_ms)"
                                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
                                 " ON CONFLICT (sku) DO NOTHING RETURNING id",
                                 p, 8, &rows);
    *duplicate = s == BH_DB_OK && bh_rows_count(rows) == 0;
    return s;
}

int products_store_product_json(bh_unit *unit, const char *id, int admin, json_t **out)
{
    *out = NULL;
    bh_db_value p[] = {BH_DB_S(id)};
    bh_rows *rows;
    bh_db_status s = bh_db_query(
        unit, "SELECT " PRODUCT_COLS " FROM catalog_products WHERE id = $1", p, 1, &rows);
    if (s != BH_DB_OK || bh_rows_count(rows) == 0)
        return s;
    *out = product_json(rows, 0, admin);
    return *out ? BH_DB_OK : BH_DB_ERROR;
}

int products_store_product_page(bh_unit *unit, const char *after_sku, int limit, int admin,
                                json_t *items, int *more)
{
    *more = 0;
    bh_db_value p[] = {BH_DB_S(after_sku ? after_sku : ""), BH_DB_I(admin ? 1 : 0),
                       BH_DB_I(limit + 1)};
    bh_rows *rows;
    bh_db_status s = bh_db_query(unit,
                                 "SELECT " PRODUCT_COLS " FROM catalog_products"
                                 " WHERE sku > $1 AND (active = 1 OR $2 = 1)"
                                 " ORDER BY sku LIMIT $3",
                                 p, 3, &rows);
    if (s != BH_DB_OK)
        return s;
    size_t n = bh_rows_count(rows);
    if (n > (size_t)limit) {
        *more = 1;
        n = (size_t)limit;
    }
    for (size_t r = 0; r < n; r++) {
        json_t *item = product_json(rows, r, admin);
        if (!item || json_array_append_new(items, item) != 0)
            return BH_DB_ERROR;
    }
    return BH_DB_OK;
}

int products_store_patch_product(bh_unit *unit, const char *id, const products_product_patch *pt,
                                 int64_t now_ms, products_patch_result *result)
{
    *result = PRODUCTS_PATCHED;
    /* stock must still cover sold + held: checked by the UPDATE itself */
    bh_db_value p[] = {BH_DB_S(pt->name),
                       pt->has_price ? BH_DB_I(pt->price_cents) : BH_DB_N,
                       pt->has_stock ? BH_DB_I(pt->stock) : BH_DB_N,
                       pt->has_active ? BH_DB_I(pt->active ? 1 : 0) : BH_DB_N,
                       BH_DB_I(now_ms),
                       BH_DB_S(id)};
    int64_t affected = 0;
    bh_db_status s = bh_db_exec(unit,
                                "UPDATE catalog_products SET name = COALESCE($1, name),"
                                " price_cents = COALESCE($2, price_cents),"
                                " stock = COALESCE($3, stock), active = COALESCE($4, active),"
                                " updated_at_ms = $5"
                                " WHERE id = $6 AND sold + held <= COALESCE($3, stock)",
                                p, 6, &affected);
    if (s != BH_DB_OK || affected == 1)
        return s;
    bh_db_value q[] = {BH_DB_S(id)};
    bh_rows *rows;
    if ((s = bh_db_query(unit, "SELECT 1 FROM catalog_products WHERE id = $1", q, 1, &rows)) !=
        BH_DB_OK)
        return s;
    *result = bh_rows_count(rows) ? PRODUCTS_PATCH_BELOW_COMMITTED : PRODUCTS_PATCH_NOT_FOUND;
    return BH_DB_OK;
}

int products_store_counts(bh_unit *unit, int64_t *events, int64_t *products)
{
    bh_rows *rows;
    bh_db_status s = bh_db_query(unit,
                                 "SELECT (SELECT CAST(COUNT(*) AS BIGINT) FROM catalog_events),"
                                 " (SELECT CAST(COUNT(*) AS BIGINT) FROM catalog_products)",
                                 NULL, 0, &rows);
    if (s != BH_DB_OK)
        return s;
    if (bh_rows_int(rows, 0, 0, events) != BH_DB_OK ||
        bh_rows_int(rows, 0, 1, products) != BH_DB_OK)
        return BH_DB_ERROR;
    return BH_DB_OK;
}
