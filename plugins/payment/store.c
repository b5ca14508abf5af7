/* store.c - the payments table, in the caller's unit of work.
 *
 * One row per payment attempt.  Status changes are conditional UPDATEs
 * (WHERE status = <expected>) checked through the affected-row count, so
 * two nodes (or a webhook racing the reconcile task) can never both move
 * one payment.  A partial unique index keeps at most one captured payment
 * per order.  Card tokens are never stored.
 */
#include <string.h>

#include "payment.h"

static const char create_sql[] =
    "CREATE TABLE payments ("
    " id TEXT PRIMARY KEY,"
    " order_id TEXT NOT NULL,"
    " user_sub TEXT NOT NULL,"
    " method TEXT NOT NULL CHECK (method IN ('card', 'pix')),"
    " status TEXT NOT NULL CHECK (status IN"
    "  ('pending', 'captured', 'declined', 'refunded', 'orphaned')),"
    " amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),"
    " currency TEXT NOT NULL,"
    " gateway TEXT NOT NULL,"
    " gateway_ref TEXT,"
    " pix_copy_paste TEXT,"
    " decline_reason TEXT,"
    " orphaned BIGINT NOT NULL DEFAULT 0,"
    " created_at_ms BIGINT NOT NULL,"
    " updated_at_ms BIGINT NOT NULL,"
    " captured_at_ms BIGINT,"
    " refunded_at_ms BIGINT,"
    " check_attempts BIGINT NOT NULL DEFAULT 0,"
    " next_check_at_ms BIGINT"
    ");"
    "CREATE INDEX payments_order ON payments (order_id);"
    "CREATE UNIQUE INDEX payments_one_capture ON payments (order_id) WHERE status = 'captured';"
    "CREATE INDEX payments_due ON payments (status, next_check_at_ms);";

/* 2: free orders.  A "free" payment (no gateway) of amount 0 pays an order
 * whose total is 0.  SQLite cannot change a CHECK: the table is rebuilt. */
#define PAYMENTS_V2_COLUMNS                                                                        \
    " id TEXT PRIMARY KEY,"                                                                        \
    " order_id TEXT NOT NULL,"                                                                     \
    " user_sub TEXT NOT NULL,"                                                                     \
    " method TEXT NOT NULL CHECK (method IN ('card', 'pix', 'free')),"                             \
    " status TEXT NOT NULL CHECK (status IN"                                                       \
    "  ('pending', 'captured', 'declined', 'refunded', 'orphaned')),"                              \
    " amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),"                                     \
    " currency TEXT NOT NULL,"                                                                     \
    " gateway TEXT NOT NULL,"                                                                      \
    " gateway_ref TEXT,"                                                                           \
    " pix_copy_paste TEXT,"                                                                        \
    " decline_reason TEXT,"                                                                        \
    " orphaned BIGINT NOT NULL DEFAULT 0,"                                                         \
    " created_at_ms BIGINT NOT NULL,"                                                              \
    " updated_at_ms BIGINT NOT NULL,"                                                              \
    " captured_at_ms BIGINT,"                                                                      \
    " refunded_at_ms BIGINT,"                                                                      \
    " check_attempts BIGINT NOT NULL DEFAULT 0,"                                                   \
    " next_check_at_ms BIGINT"

static const char free_sql[] =
    "CREATE TABLE payments_v2 (" PAYMENTS_V2_COLUMNS ");"
    "INSERT INTO payments_v2 SELECT id, order_id, user_sub, method, status, amount_cents,"
    " currency, gateway, gateway_ref, pix_copy_paste, decline_reason, orphaned, created_at_ms,"
    " updated_at_ms, captured_at_ms, refunded_at_ms, check_attempts, next_check_at_ms"
    " FROM payments;"
    "DROP TABLE payments;"
    "ALTER TABLE payments_v2 RENAME TO payments;"
    "CREATE INDEX payments_order ON payments (order_id);"
    "CREATE UNIQUE INDEX payments_one_capture ON payments (order_id) WHERE status = 'captured';"
    "CREATE INDEX payments_due ON payments (status, next_check_at_ms);";

static const char free_sql_pg[] =
    "ALTER TABLE payments DROP CONSTRAINT payments_method_check,"
    " ADD CONSTRAINT payments_method_check CHECK (method IN ('card', 'pix', 'free')),"
    " DROP CONSTRAINT payments_amount_cents_check,"
    " ADD CONSTRAINT payments_amount_cents_check CHECK (amount_cents >= 0);";

const bh_migration pay_migrations[] = {
    {1, "create_payments", create_sql, NULL},
    {2, "free_payments", free_sql, free_sql_pg},
};
const size_t pay_migrations_count = sizeof pay_migrations / sizeof pay_migrations[0];

#define COLUMNS                                                                                    \
    "id, order_id, user_sub, method, status, amount_cents, currency, gateway, gateway_ref,"        \
    " pix_copy_paste, decline_reason, orphaned, created_at_ms, updated_at_ms, captured_at_ms,"     \
    " refunded_at_ms, check_attempts"

int pay_store_insert(bh_unit *u, const pay_payment *p, int64_t next_check_at_ms)
{
    bh_db_value v[] = {
        BH_DB_S(p->id),
        BH_DB_S(p->order_id),
        BH_DB_S(p->user_sub),
        BH_DB_S(p->method),
        BH_DB_S(p->status),
        BH_DB_I(p->amount_cents),
        BH_DB_S(p->currency),
        BH_DB_S(p->gateway),
        BH_DB_S(p->gateway_ref),
        BH_DB_S(p->pix_copy_paste),
        BH_DB_S(p->decline_reason),
        BH_DB_I(p->orphaned),
        BH_DB_I(p->created_at_ms),
        BH_DB_I(p->updated_at_ms),
        p->captured_at_ms ? BH_DB_I(p->captured_at_ms) : BH_DB_N,
        next_check_at_ms ? BH_DB_I(next_check_at_ms) : BH_DB_N,
    };
    return bh_db_exec(u,
                      "INSERT INTO payments (id, order_id, user_sub, method, status, amount_cents,"
                      " currency, gateway, gateway_ref, pix_copy_paste, decline_reason, orphaned,"
                      " created_at_ms, updated_at_ms, captured_at_ms, next_check_at_ms)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
                      " $15, $16)",
                      v, sizeof v / sizeof v[0], NULL);
}

static int64_t int_or_zero(const bh_rows *r, size_t col)
{
    int64_t x = 0;
    if (bh_rows_is_null(r, 0, col) || bh_rows_int(r, 0, col, &x) != BH_DB_OK)
        return 0;
    return x;
}

int pay_store_get(bh_unit *u, const char *id, pay_payment *out)
{
    bh_rows *r;
    bh_db_value v[] = {BH_DB_S(id)};
    int s = bh_db_query(u, "SELECT " COLUMNS " FROM payments WHERE id = $1", v, 1, &r);
    if (s != BH_DB_OK)
        return s;
    if (bh_rows_count(r) == 0)
        return 0;
    memset(out, 0, sizeof *out);
    out->id = bh_rows_text(r, 0, 0);
    out->order_id = bh_rows_text(r, 0, 1);
    out->user_sub = bh_rows_text(r, 0, 2);
    out->method = bh_rows_text(r, 0, 3);
    out->status = bh_rows_text(r, 0, 4);
    if (bh_rows_int(r, 0, 5, &out->amount_cents) != BH_DB_OK)
        return BH_DB_ERROR;
    out->currency = bh_rows_text(r, 0, 6);
    out->gateway = bh_rows_text(r, 0, 7);
    out->gateway_ref = bh_rows_text(r, 0, 8);
    out->pix_copy_paste = bh_rows_text(r, 0, 9);
    out->decline_reason = bh_rows_text(r, 0, 10);
    out->orphaned = int_or_zero(r, 11) != 0;
    out->created_at_ms = int_or_zero(r, 12);
    out->updated_at_ms = int_or_zero(r, 13);
    out->captured_at_ms = int_or_zero(r, 14);
    out->refunded_at_ms = int_or_zero(r, 15);
    out->check_attempts = int_or_zero(r, 16);
    if (!out->id || !out->order_id || !out->user_sub || !out->method || !out->status ||
        !out->currency || !out->gateway)
        return BH_DB_ERROR;
    return 1;
}

int pay_store_order_captured(bh_unit *u, const char *order_id)
{
    bh_rows *r;
    bh_db_value v[] = {BH_DB_S(order_id)};
    int s = bh_db_query(u, "SELECT id FROM payments WHERE order_id = $1 AND status = 'captured'", v,
                        1, &r);
    if (s != BH_DB_OK)
        return s;
    return bh_rows_count(r) > 0;
}

int pay_store_transition(bh_unit *u, const char *id, const char *from, const char *to,
                         int64_t now_ms, const char *reason, const char *gateway_ref)
{
    int64_t n = 0;
    int s;
    bh_db_value v[] = {BH_DB_S(id),     BH_DB_S(from),        BH_DB_S(to),
                       BH_DB_I(now_ms), BH_DB_S(gateway_ref), BH_DB_S(reason)};
    if (!strcmp(to, "captured"))
        s = bh_db_exec(u,
                       "UPDATE payments SET status = $3, updated_at_ms = $4, captured_at_ms = $4,"
                       " gateway_ref = COALESCE($5, gateway_ref), next_check_at_ms = NULL"
                       " WHERE id = $1 AND status = $2",
                       v, 5, &n);
    else if (!strcmp(to, "orphaned")) /* due now: the reconcile task refunds it */
        s = bh_db_exec(u,
                       "UPDATE payments SET status = $3, updated_at_ms = $4, orphaned = 1,"
                       " captured_at_ms = COALESCE(captured_at_ms, $4),"
                       " gateway_ref = COALESCE($5, gateway_ref), next_check_at_ms = $4"
                       " WHERE id = $1 AND status = $2",
                       v, 5, &n);
    else if (!strcmp(to, "refunded"))
        s = bh_db_exec(u,
                       "UPDATE payments SET status = $3, updated_at_ms = $4, refunded_at_ms = $4,"
                       " next_check_at_ms = NULL WHERE id = $1 AND status = $2",
                       v, 4, &n);
    else /* declined */
        s = bh_db_exec(u,
                       "UPDATE payments SET status = $3, updated_at_ms = $4,"
                       " gateway_ref = COALESCE($5, gateway_ref), decline_reason = $6,"
                       " next_check_at_ms = NULL WHERE id = $1 AND status = $2",
                       v, 6, &n);
    return s != BH_DB_OK ? s : (int)n;
}

int pay_store_due(bh_unit *u, const char *status, int64_t now_ms, int limit, char ids[][40],
                  size_t *n)
{
    bh_rows *r;
    bh_db_value v[] = {BH_DB_S(status), BH_DB_I(now_ms), BH_DB_I(limit)};
    int s = bh_db_query(u,
                        "SELECT id FROM payments WHERE status = $1 AND next_check_at_ms IS NOT NULL"
                        " AND next_check_at_ms <= $2 ORDER BY next_check_at_ms LIMIT $3",
                        v, 3, &r);
    *n = 0;
    if (s != BH_DB_OK)
        return s;
    for (size_t i = 0; i < bh_rows_count(r) && i < (size_t)limit; i++) {
        const char *id = bh_rows_text(r, i, 0);
        if (id && strlen(id) < 40)
            strcpy(ids[(*n)++], id);
    }
    return BH_DB_OK;
}

int pay_store_postpone(bh_unit *u, const char *id, int64_t next_check_at_ms)
{
    bh_db_value v[] = {BH_DB_S(id), next_check_at_ms ? BH_DB_I(next_check_at_ms) : BH_DB_N};
    return bh_db_exec(u,
                      "UPDATE payments SET check_attempts = check_attempts + 1,"
                      " next_check_at_ms = $2 WHERE id = $1",
                      v, 2, NULL);
}
