/* schema.c - the invoice plugin's tables and its number allocator.
 *
 *   invoice_series  one row per series ("2026", "NC-2026"): the last number
 *                   handed out.  Allocating is one upsert on this row, so
 *                   concurrent issuers (threads or nodes) queue on its lock
 *                   and each gets last + 1; the allocation belongs to the
 *                   issuing transaction, so a rollback gives the number back
 *                   and the series never has gaps.
 *   invoices        invoices and credit notes (kind), their number, buyer
 *                   and totals.  UNIQUE (kind, payment_id): one invoice per
 *                   captured payment and one credit note per refunded one,
 *                   whatever the event delivery does (the inbox already
 *                   deduplicates; this is defence in depth).
 *   invoice_lines   the billed lines, in the order's order.
 *
 * Plain SQL text, no SDK calls: the unit test runs it on SQLite directly.
 */
#include "invoice.h"

static const char v1_sql[] =
    "CREATE TABLE invoice_series ("
    " series TEXT PRIMARY KEY,"
    " last_seq BIGINT NOT NULL CHECK (last_seq >= 0));"
    "CREATE TABLE invoices ("
    " id TEXT PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),"
    " series TEXT NOT NULL,"
    " seq BIGINT NOT NULL CHECK (seq > 0),"
    " number TEXT NOT NULL UNIQUE,"
    " order_id TEXT NOT NULL,"
    " payment_id TEXT NOT NULL,"
    " credit_note_of TEXT REFERENCES invoices (id),"
    " buyer_sub TEXT NOT NULL,"
    " buyer_email TEXT,"
    " subtotal_cents BIGINT NOT NULL CHECK (subtotal_cents >= 0),"
    " total_cents BIGINT NOT NULL CHECK (total_cents >= 0),"
    " currency TEXT NOT NULL,"
    " issued_at BIGINT NOT NULL,"
    " UNIQUE (series, seq),"
    " UNIQUE (kind, payment_id),"
    " CHECK ((kind = 'credit_note') = (credit_note_of IS NOT NULL)));"
    "CREATE INDEX invoices_by_order ON invoices (order_id, kind, issued_at);"
    "CREATE TABLE invoice_lines ("
    " invoice_id TEXT NOT NULL REFERENCES invoices (id),"
    " line_no BIGINT NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('ticket', 'product')),"
    " description TEXT NOT NULL,"
    " sku TEXT,"
    " quantity BIGINT NOT NULL CHECK (quantity > 0),"
    " unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),"
    " line_total_cents BIGINT NOT NULL CHECK (line_total_cents >= 0),"
    " PRIMARY KEY (invoice_id, line_no));";

const bh_migration inv_migrations[] = {
    {1, "create_invoices", v1_sql, NULL},
};
const size_t inv_migrations_count = sizeof inv_migrations / sizeof inv_migrations[0];

const char inv_sql_next_number[] =
    "INSERT INTO invoice_series (series, last_seq) VALUES ($1, 1)"
    " ON CONFLICT (series) DO UPDATE SET last_seq = invoice_series.last_seq + 1"
    " RETURNING last_seq";

const char inv_sql_give_back[] =
    "UPDATE invoice_series SET last_seq = last_seq - 1 WHERE series = $1 AND last_seq = $2";

const char inv_sql_insert_doc[] =
    "INSERT INTO invoices (id, kind, series, seq, number, order_id, payment_id, credit_note_of,"
    " buyer_sub, buyer_email, subtotal_cents, total_cents, currency, issued_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    " ON CONFLICT (kind, payment_id) DO NOTHING RETURNING id";
