/* store.c - the order plugin's tables, and every statement that touches
 * them.  Nothing outside this file writes SQL.
 *
 *   orders         one row per order: status, buyer, totals, hold expiry
 *   order_lines    its lines, priced when the order was placed
 *   order_tickets  one row per seat of a paid order, keyed by its code
 *
 * All statements run in the unit they are given, with $n parameters only,
 * in the SQL both SQLite and PostgreSQL accept.  Status changes are
 * conditional UPDATEs checked through the affected-row count.
 */
#include <stdio.h>
#include <string.h>

#include "order_plugin.h"

static const bh_migration migrations[] = {
    {1, "create_orders",
     "CREATE TABLE orders ("
     " id TEXT PRIMARY KEY,"
     " status TEXT NOT NULL,"
     " user_sub TEXT NOT NULL,"
     " user_email TEXT NOT NULL,"
     " subtotal_cents BIGINT NOT NULL,"
     " total_cents BIGINT NOT NULL,"
     " currency TEXT NOT NULL,"
     " created_at_ms BIGINT NOT NULL,"
     " expires_at_ms BIGINT NOT NULL,"
     " updated_at_ms BIGINT NOT NULL,"
     " payment_id TEXT,"
     " CHECK (status IN ('pending_payment','paid','expired','cancelled','refunded')),"
     " CHECK (subtotal_cents >= 0 AND total_cents >= 0));"
     "CREATE INDEX orders_by_user ON orders (user_sub, created_at_ms, id);"
     "CREATE INDEX orders_by_time ON orders (created_at_ms, id);"
     "CREATE INDEX orders_by_expiry ON orders (status, expires_at_ms);"
     "CREATE TABLE order_lines ("
     " order_id TEXT NOT NULL REFERENCES orders (id),"
     " position BIGINT NOT NULL,"
     " kind BIGINT NOT NULL,"
     " ref_id TEXT NOT NULL,"
     " event_id TEXT NOT NULL,"
     " event_name TEXT NOT NULL,"
     " name TEXT NOT NULL,"
     " sku TEXT NOT NULL,"
     " quantity BIGINT NOT NULL,"
     " unit_price_cents BIGINT NOT NULL,"
     " line_total_cents BIGINT NOT NULL,"
     " PRIMARY KEY (order_id, position),"
     " CHECK (kind IN (1, 2) AND quantity > 0));"
     "CREATE TABLE order_tickets ("
     " code TEXT PRIMARY KEY,"
     " order_id TEXT NOT NULL REFERENCES orders (id),"
     " seq BIGINT NOT NULL,"
     " ticket_type_id TEXT NOT NULL,"
     " event_id TEXT NOT NULL,"
     " status TEXT NOT NULL,"
     " issued_at_ms BIGINT NOT NULL,"
     " used_at_ms BIGINT,"
     " used_by TEXT,"
     " UNIQUE (order_id, seq),"
     " CHECK (status IN ('valid','used','void')));",
     NULL},
};

int order_store_migrations(bh_plugin_ctx *ctx)
{
    return bh_db_migrations(ctx, migrations, sizeof migrations / sizeof migrations[0]);
}

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* Integer cell or a type error (a NULL where the schema says NOT NULL). */
static int cell_int(const bh_rows *rows, size_t r, size_t c, int64_t *out)
{
    return bh_rows_int(rows, r, c, out) == BH_DB_OK ? 0 : -1;
}

/* ---- orders ---------------------------------------------------------------- */

#define ORDER_COLUMNS                                                                              \
    "id, status, user_sub, user_email, subtotal_cents, total_cents, currency, created_at_ms,"      \
    " expires_at_ms"

static int read_order(const bh_rows *rows, size_t r, bh_order_info *o)
{
    memset(o, 0, sizeof *o);
    copy_text(o->id, sizeof o->id, bh_rows_text(rows, r, 0));
    copy_text(o->status, sizeof o->status, bh_rows_text(rows, r, 1));
    copy_text(o->user_sub, sizeof o->user_sub, bh_rows_text(rows, r, 2));
    copy_text(o->user_email, sizeof o->user_email, bh_rows_text(rows, r, 3));
    copy_text(o->currency, sizeof o->currency, bh_rows_text(rows, r, 6));
    if (cell_int(rows, r, 4, &o->subtotal_cents) || cell_int(rows, r, 5, &o->total_cents) ||
        cell_int(rows, r, 7, &o->created_at_ms) || cell_int(rows, r, 8, &o->expires_at_ms))
        return BH_DB_ERROR;
    return BH_ORDERS_OK;
}

int order_store_insert(bh_unit *unit, const bh_order_info *o, const order_line_rec *lines, size_t n)
{
    const bh_db_value op[] = {
        BH_DB_S(o->id),         BH_DB_S(o->status),         BH_DB_S(o->user_sub),
        BH_DB_S(o->user_email), BH_DB_I(o->subtotal_cents), BH_DB_I(o->total_cents),
        BH_DB_S(o->currency),   BH_DB_I(o->created_at_ms),  BH_DB_I(o->expires_at_ms),
    };
    bh_db_status st = bh_db_exec(unit,
                                 "INSERT INTO orders (" ORDER_COLUMNS ", updated_at_ms)"
                                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8)",
                                 op, sizeof op / sizeof op[0], NULL);
    for (size_t i = 0; st == BH_DB_OK && i < n; i++) {
        const bh_order_line *l = &lines[i].line;
        const bh_db_value lp[] = {
            BH_DB_S(o->id),
            BH_DB_I(i + 1),
            BH_DB_I(l->kind),
            BH_DB_S(l->ref_id),
            BH_DB_S(l->event_id),
            BH_DB_S(lines[i].event_name),
            BH_DB_S(l->name),
            BH_DB_S(l->sku),
            BH_DB_I(l->quantity),
            BH_DB_I(l->unit_price_cents),
            BH_DB_I(l->line_total_cents),
        };
        st = bh_db_exec(unit,
                        "INSERT INTO order_lines (order_id, position, kind, ref_id, event_id,"
                        " event_name, name, sku, quantity, unit_price_cents, line_total_cents)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        lp, sizeof lp / sizeof lp[0], NULL);
    }
    return st;
}

int order_store_get(bh_unit *unit, const char *id, int for_update, bh_order_info *out)
{
    /* SQLite has no FOR UPDATE, and needs none: its write transaction already
     * excludes every other writer. */
    const char *driver = bh_db_driver_name();
    int lock = for_update && driver && strcmp(driver, "postgresql") == 0;
    const bh_db_value p[] = {BH_DB_S(id)};
    bh_rows *rows;
    bh_db_status st =
        bh_db_query(unit,
                    lock ? "SELECT " ORDER_COLUMNS " FROM orders WHERE id = $1 FOR UPDATE"
                         : "SELECT " ORDER_COLUMNS " FROM orders WHERE id = $1",
                    p, 1, &rows);
    if (st != BH_DB_OK)
        return st;
    if (bh_rows_count(rows) == 0)
        return BH_ORDERS_NOT_FOUND;
    return read_order(rows, 0, out);
}

int order_store_lines(bh_unit *unit, const char *id, order_line_rec *out, size_t max, size_t *n)
{
    const bh_db_value p[] = {BH_DB_S(id)};
    bh_rows *rows;
    *n = 0;
    bh_db_status st = bh_db_query(unit,
                                  "SELECT kind, ref_id, event_id, event_name, name, sku, quantity,"
                                  " unit_price_cents, line_total_cents FROM order_lines"
                                  " WHERE order_id = $1 ORDER BY position",
                                  p, 1, &rows);
    if (st != BH_DB_OK)
        return st;
    size_t count = bh_rows_count(rows);
    for (size_t r = 0; r < count && r < max; r++) {
        order_line_rec *l = &out[r];
        int64_t kind;
        memset(l, 0, sizeof *l);
        if (cell_int(rows, r, 0, &kind) || cell_int(rows, r, 6, &l->line.quantity) ||
            cell_int(rows, r, 7, &l->line.unit_price_cents) ||
            cell_int(rows, r, 8, &l->line.line_total_cents))
            return BH_DB_ERROR;
        l->line.kind = kind == BH_ORDER_LINE_PRODUCT ? BH_ORDER_LINE_PRODUCT : BH_ORDER_LINE_TICKET;
        copy_text(l->line.ref_id, sizeof l->line.ref_id, bh_rows_text(rows, r, 1));
        copy_text(l->line.event_id, sizeof l->line.event_id, bh_rows_text(rows, r, 2));
        copy_text(l->event_name, sizeof l->event_name, bh_rows_text(rows, r, 3));
        copy_text(l->line.name, sizeof l->line.name, bh_rows_text(rows, r, 4));
        copy_text(l->line.sku, sizeof l->line.sku, bh_rows_text(rows, r, 5));
        (*n)++;
    }
    return BH_ORDERS_OK;
}

int order_store_transition(bh_unit *unit, const char *id, order_state from, order_state to,
                           int64_t now_ms, const char *payment_id, int64_t *affected)
{
    *affected = 0;
    if (!order_transition_allowed(from, to))
        return BH_ORDERS_CONFLICT;
    const bh_db_value p[] = {BH_DB_S(id), BH_DB_S(order_state_name(to)), BH_DB_I(now_ms),
                             BH_DB_S(order_state_name(from)), BH_DB_S(payment_id)};
    /* -> paid also requires a live hold, in the same statement, so a payment
     * can never buy seats the sweeper is about to release. */
    if (to == ORDER_PAID)
        return bh_db_exec(unit,
                          "UPDATE orders SET status = $2, updated_at_ms = $3, payment_id = $5"
                          " WHERE id = $1 AND status = $4 AND expires_at_ms > $3",
                          p, 5, affected);
    return bh_db_exec(unit,
                      "UPDATE orders SET status = $2, updated_at_ms = $3"
                      " WHERE id = $1 AND status = $4",
                      p, 4, affected);
}

int order_store_list(bh_unit *unit, const char *user, int64_t after_ms, const char *after_id,
                     size_t max, bh_order_info *out, size_t *n)
{
    /* (created_at_ms, id) < cursor: a row-value comparison both drivers
     * evaluate with the (user_sub, created_at_ms, id) index.  The first page
     * starts after the largest possible key. */
    const bh_db_value p[] = {BH_DB_I(after_id ? after_ms : INT64_MAX),
                             BH_DB_S(after_id ? after_id : ""), BH_DB_I(max), BH_DB_S(user)};
    bh_rows *rows;
    *n = 0;
    bh_db_status st = user ? bh_db_query(unit,
                                         "SELECT " ORDER_COLUMNS " FROM orders WHERE user_sub = $4"
                                         " AND (created_at_ms, id) < ($1, $2)"
                                         " ORDER BY created_at_ms DESC, id DESC LIMIT $3",
                                         p, 4, &rows)
                           : bh_db_query(unit,
                                         "SELECT " ORDER_COLUMNS " FROM orders"
                                         " WHERE (created_at_ms, id) < ($1, $2)"
                                         " ORDER BY created_at_ms DESC, id DESC LIMIT $3",
                                         p, 3, &rows);
    if (st != BH_DB_OK)
        return st;
    size_t count = bh_rows_count(rows);
    for (size_t r = 0; r < count && r < max; r++) {
        if (read_order(rows, r, &out[r]) != BH_ORDERS_OK)
            return BH_DB_ERROR;
        (*n)++;
    }
    return BH_ORDERS_OK;
}

int order_store_expired_ids(bh_unit *unit, int64_t now_ms, char (*ids)[40], size_t max, size_t *n)
{
    const bh_db_value p[] = {BH_DB_I(now_ms), BH_DB_I(max)};
    bh_rows *rows;
    *n = 0;
    bh_db_status st = bh_db_query(unit,
                                  "SELECT id FROM orders WHERE status = 'pending_payment'"
                                  " AND expires_at_ms <= $1 ORDER BY expires_at_ms, id LIMIT $2",
                                  p, 2, &rows);
    if (st != BH_DB_OK)
        return st;
    size_t count = bh_rows_count(rows);
    for (size_t r = 0; r < count && r < max; r++)
        copy_text(ids[(*n)++], 40, bh_rows_text(rows, r, 0));
    return BH_ORDERS_OK;
}

/* ---- tickets --------------------------------------------------------------- */

int order_store_ticket_insert(bh_unit *unit, const order_ticket *t, int64_t now_ms)
{
    const bh_db_value p[] = {BH_DB_S(t->code),           BH_DB_S(t->order_id), BH_DB_I(t->seq),
                             BH_DB_S(t->ticket_type_id), BH_DB_S(t->event_id), BH_DB_I(now_ms)};
    return bh_db_exec(unit,
                      "INSERT INTO order_tickets (code, order_id, seq, ticket_type_id, event_id,"
                      " status, issued_at_ms) VALUES ($1, $2, $3, $4, $5, 'valid', $6)",
                      p, 6, NULL);
}

int order_store_tickets_void(bh_unit *unit, const char *order_id)
{
    const bh_db_value p[] = {BH_DB_S(order_id)};
    return bh_db_exec(unit,
                      "UPDATE order_tickets SET status = 'void' WHERE order_id = $1"
                      " AND status <> 'void'",
                      p, 1, NULL);
}

#define TICKET_COLUMNS "code, order_id, seq, ticket_type_id, event_id, status, used_at_ms"

static int read_ticket(const bh_rows *rows, size_t r, order_ticket *t)
{
    memset(t, 0, sizeof *t);
    copy_text(t->code, sizeof t->code, bh_rows_text(rows, r, 0));
    copy_text(t->order_id, sizeof t->order_id, bh_rows_text(rows, r, 1));
    copy_text(t->ticket_type_id, sizeof t->ticket_type_id, bh_rows_text(rows, r, 3));
    copy_text(t->event_id, sizeof t->event_id, bh_rows_text(rows, r, 4));
    copy_text(t->status, sizeof t->status, bh_rows_text(rows, r, 5));
    if (cell_int(rows, r, 2, &t->seq))
        return BH_DB_ERROR;
    if (!bh_rows_is_null(rows, r, 6) && cell_int(rows, r, 6, &t->used_at_ms))
        return BH_DB_ERROR;
    return BH_ORDERS_OK;
}

int order_store_tickets(bh_unit *unit, const char *order_id, int64_t after_seq, size_t max,
                        order_ticket *out, size_t *n)
{
    const bh_db_value p[] = {BH_DB_S(order_id), BH_DB_I(after_seq), BH_DB_I(max)};
    bh_rows *rows;
    *n = 0;
    bh_db_status st = bh_db_query(unit,
                                  "SELECT " TICKET_COLUMNS " FROM order_tickets"
                                  " WHERE order_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                                  p, 3, &rows);
    if (st != BH_DB_OK)
        return st;
    size_t count = bh_rows_count(rows);
    for (size_t r = 0; r < count && r < max; r++) {
        if (read_ticket(rows, r, &out[r]) != BH_ORDERS_OK)
            return BH_DB_ERROR;
        (*n)++;
    }
    return BH_ORDERS_OK;
}

int order_store_checkin(bh_unit *unit, const char *code, const char *by, int64_t now_ms,
                        int64_t *affected)
{
    const bh_db_value p[] = {BH_DB_S(code), BH_DB_I(now_ms), BH_DB_S(by)};
    return bh_db_exec(unit,
                      "UPDATE order_tickets SET status = 'used', used_at_ms = $2, used_by = $3"
                      " WHERE code = $1 AND status = 'valid'",
                      p, 3, affected);
}

int order_store_ticket(bh_unit *unit, const char *code, order_ticket *out)
{
    const bh_db_value p[] = {BH_DB_S(code)};
    bh_rows *rows;
    bh_db_status st = bh_db_query(
        unit, "SELECT " TICKET_COLUMNS " FROM order_tickets WHERE code = $1", p, 1, &rows);
    if (st != BH_DB_OK)
        return st;
    if (bh_rows_count(rows) == 0)
        return BH_ORDERS_NOT_FOUND;
    return read_ticket(rows, 0, out);
}
