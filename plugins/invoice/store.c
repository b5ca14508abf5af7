/* store.c - invoices in the database, always in the caller's unit of work.
 *
 * Writing: find (the duplicate check), allocate (schema.c's upsert), insert
 * the header (ON CONFLICT on (kind, payment_id) does nothing, so a racing
 * duplicate is seen as "already issued", never as an error), then the lines.
 * Reading: one document as the API's JSON object, and an order's invoice
 * with its credit notes.  Every function returns 0 (or 1 where invoice.h
 * says) or the unit's negative bh_db_status.
 */
#include <string.h>

#include <bilhetagem/bilhetagem.h>

#include "invoice.h"

#define Q(unit, sql, params, rows)                                                                 \
    bh_db_query(unit, sql, params, sizeof params / sizeof params[0], rows)
/* A query that finds at most one row: 1 (it is row 0 of *rows), 0 (none) or
 * a negative bh_db_status. */
#define ROW(unit, sql, params, rows)                                                               \
    query_row(unit, sql, params, sizeof params / sizeof params[0], rows)

/* The columns of a line, as inserted and as copied into a credit note. */
#define LINE_COLUMNS "line_no, kind, description, sku, quantity, unit_price_cents, line_total_cents"

static int query_row(bh_unit *u, const char *sql, const bh_db_value *p, size_t np, bh_rows **rows)
{
    bh_db_status s = bh_db_query(u, sql, p, np, rows);
    if (s != BH_DB_OK)
        return s;
    return bh_rows_count(*rows) > 0;
}

static void copy_text(char *dst, size_t n, const char *src)
{
    size_t len = src ? strnlen(src, n - 1) : 0;
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

int inv_store_find_by_payment(bh_unit *u, const char *kind, const char *payment_id, char id[40],
                              char number[INV_NUMBER_MAX], int64_t *total_cents, char currency[4])
{
    bh_db_value p[] = {BH_DB_S(kind), BH_DB_S(payment_id)};
    bh_rows *rows;
    int s = ROW(u,
                "SELECT id, number, total_cents, currency FROM invoices"
                " WHERE kind = $1 AND payment_id = $2",
                p, &rows);
    if (s != 1)
        return s;
    int64_t total;
    if ((s = bh_rows_int(rows, 0, 2, &total)) != BH_DB_OK)
        return s;
    copy_text(id, 40, bh_rows_text(rows, 0, 0));
    copy_text(number, INV_NUMBER_MAX, bh_rows_text(rows, 0, 1));
    copy_text(currency, 4, bh_rows_text(rows, 0, 3));
    if (total_cents)
        *total_cents = total;
    return 1;
}

int inv_store_allocate(bh_unit *u, inv_record *rec)
{
    bh_db_value p[] = {BH_DB_S(rec->series)};
    bh_rows *rows;
    bh_db_status s = Q(u, inv_sql_next_number, p, &rows);
    if (s != BH_DB_OK)
        return s;
    if (bh_rows_count(rows) != 1 || (s = bh_rows_int(rows, 0, 0, &rec->seq)) != BH_DB_OK)
        return BH_DB_ERROR;
    if (inv_number_format(rec->number, sizeof rec->number, rec->series, rec->seq) != 0)
        return BH_DB_ERROR;
    return 0;
}

int inv_store_give_back(bh_unit *u, const inv_record *rec)
{
    bh_db_value p[] = {BH_DB_S(rec->series), BH_DB_I(rec->seq)};
    int64_t affected = 0;
    bh_db_status s = bh_db_exec(u, inv_sql_give_back, p, 2, &affected);
    if (s != BH_DB_OK)
        return s;
    /* we hold the series row since our upsert: nobody can have moved it */
    return affected == 1 ? 0 : BH_DB_ERROR;
}

int inv_store_insert(bh_unit *u, const inv_record *r)
{
    bh_db_value p[] = {BH_DB_S(r->id),          BH_DB_S(r->kind),           BH_DB_S(r->series),
                       BH_DB_I(r->seq),         BH_DB_S(r->number),         BH_DB_S(r->order_id),
                       BH_DB_S(r->payment_id),  BH_DB_S(r->credit_note_of), BH_DB_S(r->buyer_sub),
                       BH_DB_S(r->buyer_email), BH_DB_I(r->subtotal_cents), BH_DB_I(r->total_cents),
                       BH_DB_S(r->currency),    BH_DB_I(r->issued_at_ms)};
    bh_rows *rows;
    bh_db_status s = Q(u, inv_sql_insert_doc, p, &rows);
    if (s != BH_DB_OK)
        return s;
    return bh_rows_count(rows) == 1 ? 1 : 0;
}

int inv_store_insert_line(bh_unit *u, const char *invoice_id, int64_t line_no,
                          const bh_order_line *l)
{
    bh_db_value p[] = {BH_DB_S(invoice_id),
                       BH_DB_I(line_no),
                       BH_DB_S(l->kind == BH_ORDER_LINE_TICKET ? "ticket" : "product"),
                       BH_DB_S(l->name),
                       BH_DB_S(l->sku[0] ? l->sku : NULL),
                       BH_DB_I(l->quantity),
                       BH_DB_I(l->unit_price_cents),
                       BH_DB_I(l->line_total_cents)};
    return bh_db_exec(u,
                      "INSERT INTO invoice_lines (invoice_id, " LINE_COLUMNS ")"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      p, sizeof p / sizeof p[0], NULL);
}

int inv_store_copy_lines(bh_unit *u, const char *from, const char *to)
{
    bh_db_value p[] = {BH_DB_S(to), BH_DB_S(from)};
    return bh_db_exec(u,
                      "INSERT INTO invoice_lines (invoice_id, " LINE_COLUMNS ")"
                      " SELECT $1, " LINE_COLUMNS " FROM invoice_lines WHERE invoice_id = $2",
                      p, 2, NULL);
}

/* ---- reading ----------------------------------------------------------------- */

static int load_lines(bh_unit *u, const char *id, json_t *lines)
{
    bh_db_value p[] = {BH_DB_S(id)};
    bh_rows *rows;
    bh_db_status s = Q(u,
                       "SELECT kind, description, sku, quantity, unit_price_cents,"
                       " line_total_cents FROM invoice_lines WHERE invoice_id = $1"
                       " ORDER BY line_no",
                       p, &rows);
    if (s != BH_DB_OK)
        return s;
    for (size_t i = 0; i < bh_rows_count(rows); i++) {
        int64_t qty, unit, total;
        if ((s = bh_rows_int(rows, i, 3, &qty)) != BH_DB_OK ||
            (s = bh_rows_int(rows, i, 4, &unit)) != BH_DB_OK ||
            (s = bh_rows_int(rows, i, 5, &total)) != BH_DB_OK)
            return s;
        json_t *line =
            json_pack("{s:s, s:s, s:I, s:I, s:I}", "kind", bh_rows_text(rows, i, 0), "description",
                      bh_rows_text(rows, i, 1), "quantity", (json_int_t)qty, "unit_price_cents",
                      (json_int_t)unit, "line_total_cents", (json_int_t)total);
        const char *sku = bh_rows_text(rows, i, 2);
        if (!line || (sku && json_object_set_new(line, "sku", json_string(sku)) != 0) ||
            json_array_append_new(lines, line) != 0) {
            json_decref(line);
            return BH_DB_ERROR;
        }
    }
    return 0;
}

static const char select_doc[] =
    "SELECT i.id, i.kind, i.number, i.order_id, i.payment_id, i.issued_at, i.buyer_sub,"
    " i.buyer_email, i.subtotal_cents, i.total_cents, i.currency, i.credit_note_of, o.number"
    " FROM invoices i LEFT JOIN invoices o ON o.id = i.credit_note_of WHERE i.id = $1";

int inv_store_load(bh_unit *u, const char *id, json_t **out)
{
    bh_db_value p[] = {BH_DB_S(id)};
    bh_rows *rows;
    int s = ROW(u, select_doc, p, &rows);
    if (s != 1)
        return s;
    int64_t issued, subtotal, total;
    if ((s = bh_rows_int(rows, 0, 5, &issued)) != BH_DB_OK ||
        (s = bh_rows_int(rows, 0, 8, &subtotal)) != BH_DB_OK ||
        (s = bh_rows_int(rows, 0, 9, &total)) != BH_DB_OK)
        return s;
    char when[32];
    bh_time_format(issued, when);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s?}, s:[], s:I, s:I, s:s}",
                            "id", bh_rows_text(rows, 0, 0), "number", bh_rows_text(rows, 0, 2),
                            "kind", bh_rows_text(rows, 0, 1), "order_id", bh_rows_text(rows, 0, 3),
                            "payment_id", bh_rows_text(rows, 0, 4), "issued_at", when, "buyer",
                            "sub", bh_rows_text(rows, 0, 6), "email", bh_rows_text(rows, 0, 7),
                            "lines", "subtotal_cents", (json_int_t)subtotal, "total_cents",
                            (json_int_t)total, "currency", bh_rows_text(rows, 0, 10));
    if (!doc)
        return BH_DB_ERROR;
    const char *of = bh_rows_text(rows, 0, 11);
    if (of && json_object_set_new(
                  doc, "credit_note_of",
                  json_pack("{s:s, s:s}", "id", of, "number", bh_rows_text(rows, 0, 12))) != 0) {
        json_decref(doc);
        return BH_DB_ERROR;
    }
    if ((s = load_lines(u, id, json_object_get(doc, "lines"))) != 0) {
        json_decref(doc);
        return s;
    }
    *out = doc;
    return 1;
}

int inv_store_load_for_order(bh_unit *u, const char *order_id, json_t **out)
{
    bh_db_value p[] = {BH_DB_S(order_id)};
    bh_rows *rows;
    int s = ROW(u,
                "SELECT id FROM invoices WHERE order_id = $1 AND kind = 'invoice'"
                " ORDER BY issued_at, id LIMIT 1",
                p, &rows);
    if (s != 1)
        return s;
    char id[40];
    copy_text(id, sizeof id, bh_rows_text(rows, 0, 0));
    json_t *doc = NULL;
    int r = inv_store_load(u, id, &doc);
    if (r != 1)
        return r;
    bh_db_value q[] = {BH_DB_S(order_id), BH_DB_S(id), BH_DB_I(INV_MAX_CREDIT_NOTES)};
    if ((s = Q(u,
               "SELECT id FROM invoices WHERE order_id = $1 AND kind = 'credit_note'"
               " AND credit_note_of = $2 ORDER BY issued_at, id LIMIT $3",
               q, &rows)) != BH_DB_OK) {
        json_decref(doc);
        return s;
    }
    json_t *notes = json_array();
    if (!notes || json_object_set_new(doc, "credit_notes", notes) != 0) {
        json_decref(doc);
        return BH_DB_ERROR;
    }
    for (size_t i = 0; i < bh_rows_count(rows); i++) {
        json_t *note = NULL;
        r = inv_store_load(u, bh_rows_text(rows, i, 0), &note);
        if (r != 1 || json_array_append_new(notes, note) != 0) {
            json_decref(doc);
            return r < 0 ? r : BH_DB_ERROR;
        }
    }
    *out = doc;
    return 1;
}
