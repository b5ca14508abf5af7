/* service.c - the "orders" service (bilhetagem/services/orders.h): how the
 * payment and invoice plugins see orders.
 *
 * Every call runs in the caller's unit of work.  That is what makes "the
 * order becomes paid when the payment is captured" atomic: the payment
 * plugin calls mark_paid in the very transaction that records the capture
 * and publishes payment.captured, so either the money, the paid order, the
 * sold seats and the issued tickets all commit, or none of them do.
 */
#include <stdio.h>
#include <string.h>

#include "order_plugin.h"

/* Order ids are UUIDs: anything longer cannot exist (and would not fit). */
static int id_ok(const char *id)
{
    return id && id[0] && strlen(id) < sizeof(((bh_order_info *)0)->id);
}

static int svc_get(void *self, bh_unit *unit, const char *order_id, int for_update,
                   bh_order_info *out)
{
    (void)self;
    if (!id_ok(order_id))
        return BH_ORDERS_NOT_FOUND;
    return order_store_get(unit, order_id, for_update, out);
}

static int svc_lines(void *self, bh_unit *unit, const char *order_id, bh_order_line *out,
                     size_t max, size_t *n)
{
    (void)self;
    order_line_rec recs[BH_ORDERS_MAX_LINES];
    size_t count = 0;
    *n = 0;
    if (!id_ok(order_id))
        return BH_ORDERS_NOT_FOUND;
    int st = order_store_lines(unit, order_id, recs, BH_ORDERS_MAX_LINES, &count);
    if (st != BH_ORDERS_OK)
        return st;
    if (count == 0) /* every order has at least one line */
        return BH_ORDERS_NOT_FOUND;
    for (size_t i = 0; i < count && i < max; i++) {
        out[i] = recs[i].line;
        order_line_display_name(&recs[i], out[i].name, sizeof out[i].name);
        (*n)++;
    }
    return BH_ORDERS_OK;
}

/* After a conditional UPDATE changed nothing: why? */
static int explain_no_change(bh_unit *unit, const char *order_id)
{
    bh_order_info o;
    int st = order_store_get(unit, order_id, 0, &o);
    return st == BH_ORDERS_OK ? BH_ORDERS_CONFLICT : st;
}

/* One ticket per seat of every ticket line, each with a fresh 128-bit code. */
static int issue_tickets(bh_unit *unit, const char *order_id, const order_line_rec *lines, size_t n,
                         int64_t now, int64_t *issued)
{
    order_ticket t;
    memset(&t, 0, sizeof t);
    snprintf(t.order_id, sizeof t.order_id, "%s", order_id);
    for (size_t i = 0; i < n; i++) {
        if (lines[i].line.kind != BH_ORDER_LINE_TICKET)
            continue;
        snprintf(t.ticket_type_id, sizeof t.ticket_type_id, "%s", lines[i].line.ref_id);
        snprintf(t.event_id, sizeof t.event_id, "%s", lines[i].line.event_id);
        for (int64_t q = 0; q < lines[i].line.quantity; q++) {
            if (bh_random_hex(t.code, ORDER_TICKET_CODE_BYTES) != 0)
                return BH_DB_ERROR;
            t.seq = ++*issued;
            int st = order_store_ticket_insert(unit, &t, now);
            if (st != BH_DB_OK)
                return st;
        }
    }
    return BH_ORDERS_OK;
}

/* What mark_paid and mark_refunded start with: move the order from `from`
 * to `to` by a conditional UPDATE, then read it and its lines back. */
static int transition(bh_unit *unit, const char *order_id, order_state from, order_state to,
                      int64_t now, const char *payment_id, bh_order_info *o,
                      order_line_rec lines[BH_ORDERS_MAX_LINES], size_t *n)
{
    int64_t affected = 0;
    if (!id_ok(order_id))
        return BH_ORDERS_NOT_FOUND;
    int st = order_store_transition(unit, order_id, from, to, now, payment_id, &affected);
    if (st != BH_ORDERS_OK)
        return st;
    if (affected == 0)
        return explain_no_change(unit, order_id);
    if ((st = order_store_get(unit, order_id, 0, o)) != BH_ORDERS_OK ||
        (st = order_store_lines(unit, order_id, lines, BH_ORDERS_MAX_LINES, n)) != BH_ORDERS_OK)
        return st < 0 ? st : BH_DB_ERROR;
    return BH_ORDERS_OK;
}

/* Publish order.paid / order.refunded: the order, the payment, and with
 * tickets >= 0 how many tickets were issued. */
static int publish(bh_unit *unit, const char *type, const bh_order_info *o, const char *payment_id,
                   int64_t tickets)
{
    json_t *data =
        json_pack("{s:s, s:s?, s:s, s:I, s:s}", "order_id", o->id, "payment_id", payment_id, "user",
                  o->user_sub, "total_cents", (json_int_t)o->total_cents, "currency", o->currency);
    if (data && tickets >= 0 &&
        json_object_set_new(data, "tickets", json_integer((json_int_t)tickets)) != 0) {
        json_decref(data);
        return BH_DB_ERROR;
    }
    if (!data || bh_event_publish(unit, type, o->id, data) != 0)
        return BH_DB_ERROR;
    return BH_ORDERS_OK;
}

static int svc_mark_paid(void *self, bh_unit *unit, const char *order_id, const char *payment_id)
{
    const order_plugin *p = self;
    bh_order_info o;
    order_line_rec lines[BH_ORDERS_MAX_LINES];
    size_t n = 0;
    int64_t now = bh_time_ms(), issued = 0;
    int st = transition(unit, order_id, ORDER_PENDING_PAYMENT, ORDER_PAID, now, payment_id, &o,
                        lines, &n);
    if (st != BH_ORDERS_OK)
        return st;
    /* The order was pending, so its holds exist: a refusal (logged) means
     * the books disagree. */
    st = order_holds_settle(p, unit, order_id, ORDER_COMMIT, lines, n);
    if (st != BH_CATALOG_OK)
        return st < 0 ? st : BH_DB_ERROR;
    if ((st = issue_tickets(unit, order_id, lines, n, now, &issued)) != BH_ORDERS_OK)
        return st;
    return publish(unit, "order.paid", &o, payment_id, issued);
}

static int svc_mark_refunded(void *self, bh_unit *unit, const char *order_id,
                             const char *payment_id)
{
    const order_plugin *p = self;
    bh_order_info o;
    order_line_rec lines[BH_ORDERS_MAX_LINES];
    size_t n = 0;
    int st =
        transition(unit, order_id, ORDER_PAID, ORDER_REFUNDED, bh_time_ms(), NULL, &o, lines, &n);
    if (st != BH_ORDERS_OK)
        return st;
    if ((st = order_store_tickets_void(unit, order_id)) != BH_DB_OK)
        return st;
    st = order_holds_settle(p, unit, order_id, ORDER_UNSELL, lines, n);
    if (st != BH_CATALOG_OK)
        return st < 0 ? st : BH_DB_ERROR;
    return publish(unit, "order.refunded", &o, payment_id, -1);
}

void order_service_init(order_plugin *p)
{
    p->svc = (bh_orders_service){
        .version = BH_ORDERS_SERVICE_VERSION,
        .self = p,
        .get = svc_get,
        .lines = svc_lines,
        .mark_paid = svc_mark_paid,
        .mark_refunded = svc_mark_refunded,
    };
}
