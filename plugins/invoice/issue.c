/* issue.c - issuing invoices and credit notes from payment events.
 *
 *   payment.captured  -> one invoice per payment: the order's lines (through
 *                        the orders service), a number from the year's
 *                        series, "invoice.issued"
 *   payment.refunded  -> one credit note per payment: the invoice's lines,
 *                        a number from the "NC-<year>" series,
 *                        "credit_note.issued"
 *
 * Each subscriber runs in its own unit of work: the number, the document,
 * its lines, the published event and the counter commit together or not at
 * all.  A delivery of a payment that already has its document is done (the
 * inbox makes this rare; UNIQUE (kind, payment_id) makes it certain).  When
 * the money and the order disagree the subscriber fails, loudly, so the
 * event is retried and finally dead-lettered: a wrong invoice is never
 * issued.
 */
#include <inttypes.h>
#include <string.h>

#include <bilhetagem/bilhetagem.h>

#include "invoice.h"

/* What both payment events carry. */
typedef struct pay_event {
    const char *payment_id;
    const char *order_id;
    int64_t amount_cents;
    const char *currency;
} pay_event;

static const char *bounded_string(const json_t *data, const char *key)
{
    const json_t *v = json_object_get(data, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > INV_ID_MAX)
        return NULL;
    return json_string_value(v);
}

static int parse_event(const inv_state *st, const bh_event *ev, pay_event *pe)
{
    const json_t *data = bh_event_data(ev);
    const json_t *amount = json_object_get(data, "amount_cents");
    pe->payment_id = bounded_string(data, "payment_id");
    pe->order_id = bounded_string(data, "order_id");
    pe->currency = json_string_value(json_object_get(data, "currency"));
    if (!pe->currency)
        pe->currency = "BRL"; /* the project's default currency */
    if (!pe->payment_id || !pe->order_id || !json_is_integer(amount) ||
        json_integer_value(amount) < 0 || !inv_is_currency(pe->currency)) {
        bh_log(st->ctx, BH_LOG_ERROR,
               "%s event %s: data lacks payment_id, order_id, an amount_cents >= 0 (0: a free "
               "order) or a"
               " currency",
               bh_event_type(ev), bh_event_id(ev));
        return -1;
    }
    pe->amount_cents = (int64_t)json_integer_value(amount);
    return 0;
}

/* Number, header and (for invoices) lines of a new document.  1 issued, 0
 * already issued by a concurrent delivery, <0 the unit failed. */
static int store_new(const inv_state *st, bh_unit *u, inv_record *rec, const bh_order_line *lines,
                     size_t n)
{
    int credit = strcmp(rec->kind, INV_KIND_CREDIT_NOTE) == 0;
    bh_uuid(rec->id);
    rec->issued_at_ms = bh_time_ms();
    if (inv_series_for(rec->series, sizeof rec->series, rec->issued_at_ms, credit) != 0)
        return BH_DB_ERROR;
    int r = inv_store_allocate(u, rec);
    if (r < 0)
        return r;
    if ((r = inv_store_insert(u, rec)) < 0)
        return r;
    if (r == 0) { /* a twin delivery won the race: its document stands */
        bh_log(st->ctx, BH_LOG_INFO, "payment %s already has its %s; number %s given back",
               rec->payment_id, rec->kind, rec->number);
        return inv_store_give_back(u, rec);
    }
    r = credit ? inv_store_copy_lines(u, rec->credit_note_of, rec->id) : 0;
    for (size_t i = 0; r == 0 && i < n; i++)
        r = inv_store_insert_line(u, rec->id, (int64_t)i + 1, &lines[i]);
    return r < 0 ? r : 1;
}

static int on_captured(bh_unit *u, const bh_event *ev, void *arg)
{
    inv_state *st = arg;
    pay_event pe;
    if (parse_event(st, ev, &pe) != 0)
        return -1;
    char id[40], number[INV_NUMBER_MAX], currency[4];
    int r =
        inv_store_find_by_payment(u, INV_KIND_INVOICE, pe.payment_id, id, number, NULL, currency);
    if (r != 0)
        return r == 1 ? 0 : -1; /* already issued: done */

    bh_order_info order;
    bh_order_line lines[BH_ORDERS_MAX_LINES];
    size_t n = 0;
    r = st->orders->get(st->orders->self, u, pe.order_id, 0, &order);
    if (r == BH_ORDERS_OK)
        r = st->orders->lines(st->orders->self, u, pe.order_id, lines, BH_ORDERS_MAX_LINES, &n);
    if (r != BH_ORDERS_OK) {
        bh_log(st->ctx, r < 0 ? BH_LOG_WARN : BH_LOG_ERROR, "payment %s: order %s %s",
               pe.payment_id, pe.order_id, r < 0 ? "could not be read" : "does not exist");
        return -1;
    }
    int64_t subtotal = 0;
    size_t bad = 0;
    inv_totals_status ts = inv_totals(lines, n, &subtotal, &bad);
    if (n == 0) {
        bh_log(st->ctx, BH_LOG_ERROR, "order %s has no lines: no invoice issued", pe.order_id);
        return -1;
    }
    if (ts != INV_TOTALS_OK) {
        bh_log(st->ctx, BH_LOG_ERROR, "order %s: line %zu %s: no invoice issued", pe.order_id,
               bad + 1, ts == INV_TOTALS_OVERFLOW ? "overflows int64" : "is inconsistent");
        return -1;
    }
    if (strcmp(order.currency, pe.currency) != 0 || order.total_cents != pe.amount_cents ||
        order.subtotal_cents != subtotal) {
        bh_log(st->ctx, BH_LOG_ERROR,
               "payment %s captured %" PRId64 " %s but order %s totals %" PRId64
               " %s (lines %" PRId64 "): no invoice issued",
               pe.payment_id, pe.amount_cents, pe.currency, pe.order_id, order.total_cents,
               order.currency, subtotal);
        return -1;
    }

    inv_record rec = {.kind = INV_KIND_INVOICE,
                      .order_id = pe.order_id,
                      .payment_id = pe.payment_id,
                      .buyer_sub = order.user_sub,
                      .buyer_email = order.user_email[0] ? order.user_email : NULL,
                      .subtotal_cents = subtotal,
                      .total_cents = pe.amount_cents,
                      .currency = pe.currency};
    r = store_new(st, u, &rec, lines, n);
    if (r <= 0)
        return r < 0 ? -1 : 0;
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "invoice_id", rec.id, "number",
                             rec.number, "order_id", pe.order_id, "payment_id", pe.payment_id,
                             "total_cents", (json_int_t)rec.total_cents, "currency", rec.currency);
    if (!data || bh_event_publish(u, "invoice.issued", pe.order_id, data) != 0)
        return -1;
    bh_unit_count(u, st->invoices_issued, 1);
    bh_log(st->ctx, BH_LOG_INFO, "invoice %s issued for order %s (payment %s)", rec.number,
           pe.order_id, pe.payment_id);
    return 0;
}

static int on_refunded(bh_unit *u, const bh_event *ev, void *arg)
{
    inv_state *st = arg;
    pay_event pe;
    if (parse_event(st, ev, &pe) != 0)
        return -1;
    char id[40], number[INV_NUMBER_MAX], currency[4];
    int r = inv_store_find_by_payment(u, INV_KIND_CREDIT_NOTE, pe.payment_id, id, number, NULL,
                                      currency);
    if (r != 0)
        return r == 1 ? 0 : -1; /* already credited: done */

    char inv_id[40], inv_number[INV_NUMBER_MAX];
    int64_t inv_total = 0;
    r = inv_store_find_by_payment(u, INV_KIND_INVOICE, pe.payment_id, inv_id, inv_number,
                                  &inv_total, currency);
    if (r != 1) {
        if (r == 0) /* the capture's invoice is still on its way: retry later */
            bh_log(st->ctx, BH_LOG_WARN, "payment %s refunded before its invoice was issued",
                   pe.payment_id);
        return -1;
    }
    if (inv_total != pe.amount_cents || strcmp(currency, pe.currency) != 0) {
        bh_log(st->ctx, BH_LOG_ERROR,
               "payment %s refunded %" PRId64 " %s but invoice %s totals %" PRId64
               " %s: no credit note issued (partial refunds are not supported)",
               pe.payment_id, pe.amount_cents, pe.currency, inv_number, inv_total, currency);
        return -1;
    }
    json_t *inv = NULL;
    if (inv_store_load(u, inv_id, &inv) != 1)
        return -1;
    const char *inv_order = json_string_value(json_object_get(inv, "order_id"));
    if (!inv_order || strcmp(inv_order, pe.order_id) != 0) {
        bh_log(st->ctx, BH_LOG_ERROR,
               "payment %s refunded for order %s but invoice %s bills order %s: no credit note"
               " issued",
               pe.payment_id, pe.order_id, inv_number, inv_order ? inv_order : "?");
        json_decref(inv);
        return -1;
    }
    const json_t *buyer = json_object_get(inv, "buyer");
    inv_record rec = {
        .kind = INV_KIND_CREDIT_NOTE,
        .order_id = inv_order,
        .payment_id = pe.payment_id,
        .credit_note_of = inv_id,
        .buyer_sub = json_string_value(json_object_get(buyer, "sub")),
        .buyer_email = json_string_value(json_object_get(buyer, "email")),
        .subtotal_cents = (int64_t)json_integer_value(json_object_get(inv, "subtotal_cents")),
        .total_cents = inv_total,
        .currency = currency,
    };
    r = store_new(st, u, &rec, NULL, 0);
    if (r == 1) {
        json_t *data =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "credit_note_id", rec.id,
                      "number", rec.number, "invoice_id", inv_id, "invoice_number", inv_number,
                      "order_id", rec.order_id, "payment_id", pe.payment_id, "total_cents",
                      (json_int_t)rec.total_cents, "currency", rec.currency);
        if (!data || bh_event_publish(u, "credit_note.issued", rec.order_id, data) != 0)
            r = -1;
    }
    if (r == 1) {
        bh_unit_count(u, st->credit_notes_issued, 1);
        bh_log(st->ctx, BH_LOG_INFO, "credit note %s issued for invoice %s (payment %s)",
               rec.number, inv_number, pe.payment_id);
    }
    json_decref(inv);
    return r < 0 ? -1 : 0;
}

int inv_issue_subscribe(bh_plugin_ctx *ctx, inv_state *st)
{
    if (bh_event_subscribe(ctx, "payment.captured", "issue-invoice", on_captured, st) != 0 ||
        bh_event_subscribe(ctx, "payment.refunded", "issue-credit-note", on_refunded, st) != 0)
        return -1;
    return 0;
}
