/* invoice.h - between the invoice plugin's files (never installed, never
 * included outside plugins/invoice/ except by its unit test).
 *
 * The plugin issues a fatura (invoice) for every captured payment and a
 * credit note for every refunded one, and serves both over HTTP.
 *
 *   buf.c      inv_buf: a growable NUL-terminated byte buffer
 *   format.c   invoice numbers ("2026-000001"), money ("R$ 1.234,56"),
 *              HTML escaping
 *   totals.c   an invoice's lines -> subtotal, overflow-checked
 *   html.c     the printable HTML5 page of an invoice (from its JSON)
 *   schema.c   the plugin's tables (migrations) and the number allocator
 *   store.c    reading and writing invoices in a unit of work
 *   issue.c    the payment.captured / payment.refunded subscribers
 *   routes.c   GET /invoices/{id}, GET /orders/{id}/invoice
 *   invoice.c  the plugin glue: descriptor, init, counters, services
 *
 * buf.c, format.c, totals.c, html.c and schema.c make no SDK calls, so the
 * unit test links them alone.
 */
#ifndef BH_INVOICE_PLUGIN_H
#define BH_INVOICE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <bilhetagem/db.h>
#include <bilhetagem/util.h>
#include <bilhetagem/services/orders.h>

/* Invoice kinds, as stored and as the API spells them. */
#define INV_KIND_INVOICE "invoice"
#define INV_KIND_CREDIT_NOTE "credit_note"

/* The series prefix of credit notes: "NC-2026" numbers "NC-2026-000001". */
#define INV_CREDIT_PREFIX "NC-"

#define INV_ID_MAX 64           /* bytes of an id we accept from an event or a URL */
#define INV_NUMBER_MAX 48       /* bytes of a formatted number, NUL included */
#define INV_SERIES_MAX 16       /* bytes of a series ("NC-2026"), NUL included */
#define INV_MONEY_MAX 40        /* bytes of formatted money, NUL included */
#define INV_MAX_CREDIT_NOTES 20 /* listed under GET /orders/{id}/invoice */

/* ---- buf.c ----------------------------------------------------------------- */

/* A growable text buffer.  Zero-initialise it; inv_buf_free() releases it.
 * After an allocation failure every append is a no-op returning -1 and
 * `failed` stays set, so a caller may check once at the end. */
typedef struct inv_buf {
    char *data; /* NUL-terminated when len > 0; NULL while empty */
    size_t len;
    size_t cap;
    int failed;
} inv_buf;

int inv_buf_append(inv_buf *b, const char *s, size_t n);
int inv_buf_puts(inv_buf *b, const char *s);
int inv_buf_printf(inv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void inv_buf_free(inv_buf *b);

/* ---- format.c -------------------------------------------------------------- */

/* "<series>-<seq zero-padded to 6 digits>" into out: "2026-000001",
 * "2026-1000000" past 999999.  Returns 0, or -1 when seq <= 0, series is
 * empty or the result does not fit. */
int inv_number_format(char *out, size_t outlen, const char *series, int64_t seq);

/* The issue year's series of an epoch-ms time (UTC): "2026", or with
 * INV_CREDIT_PREFIX for credit notes.  Returns 0 or -1. */
int inv_series_for(char *out, size_t outlen, int64_t epoch_ms, int credit_note);

/* Money for people: BRL as "R$ 1.234,56" (dot thousands, comma decimals),
 * any other currency as "<CUR> 1234.56"; negative amounts get a leading
 * "-" ("-R$ 5,00").  Every int64 value formats.  Returns 0 or -1 (does not
 * fit, bad currency). */
int inv_money_format(char *out, size_t outlen, int64_t cents, const char *currency);

/* Append `s` to b with &, <, >, " and ' replaced by entities. */
int inv_html_escape(inv_buf *b, const char *s);

/* 1 when s is a lowercase or uppercase hex UUID (8-4-4-4-12). */
int inv_is_uuid(const char *s);

/* 1 when s is an ISO 4217 shaped code (three uppercase ASCII letters). */
int inv_is_currency(const char *s);

/* ---- totals.c -------------------------------------------------------------- */

typedef enum inv_totals_status {
    INV_TOTALS_OK = 0,
    INV_TOTALS_OVERFLOW = 1, /* a product or the sum does not fit int64 */
    INV_TOTALS_BAD_LINE = 2  /* quantity <= 0, negative price, or a line total
                                that is not quantity * unit price */
} inv_totals_status;

/* Check every line and sum their totals into *subtotal.  `bad` (may be
 * NULL) receives the index of the first offending line. */
inv_totals_status inv_totals(const bh_order_line *lines, size_t n, int64_t *subtotal, size_t *bad);

/* ---- html.c ---------------------------------------------------------------- */

/* Render the invoice JSON (the exact object GET /invoices/{id} answers) as
 * a complete HTML5 page into b.  Returns 0, or -1 on a missing field or out
 * of memory. */
int inv_html_render(const json_t *invoice, inv_buf *b);

/* ---- schema.c -------------------------------------------------------------- */

extern const bh_migration inv_migrations[];
extern const size_t inv_migrations_count;

/* Allocate the next number of series $1 (creating it at 1): one statement,
 * so concurrent issuers on any number of nodes serialise on the series row
 * and a rollback gives the number back.  RETURNING last. */
extern const char inv_sql_next_number[];

/* Give number $2 of series $1 back, only while it is still the last one
 * (the caller allocated it in this unit and holds the series row). */
extern const char inv_sql_give_back[];

/* Insert one document header (14 parameters: id, kind, series, seq, number,
 * order_id, payment_id, credit_note_of, buyer_sub, buyer_email,
 * subtotal_cents, total_cents, currency, issued_at).  A second document of
 * the same kind for the same payment inserts nothing and returns no row.
 * RETURNING id. */
extern const char inv_sql_insert_doc[];

/* ---- store.c (SDK calls from here on) -------------------------------------- */

typedef struct inv_state {
    bh_plugin_ctx *ctx;
    const bh_orders_service *orders;
    bh_counter *invoices_issued;
    bh_counter *credit_notes_issued;
} inv_state;

/* One invoice or credit note header, as stored. */
typedef struct inv_record {
    char id[40];
    const char *kind; /* INV_KIND_* */
    char series[INV_SERIES_MAX];
    int64_t seq;
    char number[INV_NUMBER_MAX];
    const char *order_id;
    const char *payment_id;
    const char *credit_note_of; /* the invoice's id, or NULL */
    const char *buyer_sub;
    const char *buyer_email; /* NULL when unknown */
    int64_t subtotal_cents;
    int64_t total_cents;
    const char *currency;
    int64_t issued_at_ms;
} inv_record;

/* Store functions return 0 (or 1 where documented) or a negative
 * bh_db_status: the unit has failed. */

/* The id and number of the document of `kind` for payment_id: 1 found, 0
 * none. */
int inv_store_find_by_payment(bh_unit *u, const char *kind, const char *payment_id, char id[40],
                              char number[INV_NUMBER_MAX], int64_t *total_cents, char currency[4]);

/* Next number of rec->series into rec->seq and rec->number. */
int inv_store_allocate(bh_unit *u, inv_record *rec);

/* Insert the header (rec->id must be set): 1 inserted, 0 when a document
 * of this kind already exists for the payment (nothing written: the caller
 * gives its number back with inv_store_give_back). */
int inv_store_insert(bh_unit *u, const inv_record *rec);
int inv_store_give_back(bh_unit *u, const inv_record *rec);

int inv_store_insert_line(bh_unit *u, const char *invoice_id, int64_t position,
                          const bh_order_line *line);
/* Copy every line of invoice `from` to `to` (a credit note bills the same
 * lines). */
int inv_store_copy_lines(bh_unit *u, const char *from, const char *to);

/* The API JSON of the document `id` into *out (new reference): 1 found, 0
 * none. */
int inv_store_load(bh_unit *u, const char *id, json_t **out);
/* The order's invoice with its "credit_notes" list: 1 found, 0 none. */
int inv_store_load_for_order(bh_unit *u, const char *order_id, json_t **out);

/* ---- issue.c / routes.c ---------------------------------------------------- */

int inv_issue_subscribe(bh_plugin_ctx *ctx, inv_state *st);
int inv_routes_add(bh_plugin_ctx *ctx, inv_state *st);

#endif
