/* settle.c - what follows a gateway outcome, inside the caller's unit.
 *
 * A capture and the order becoming paid commit together: mark_paid runs in
 * the same unit that records the capture.  When mark_paid refuses (the
 * order's hold expired, it was cancelled, or another payment paid it
 * first) the money has moved all the same, so the payment is kept - never
 * rolled back - as "orphaned": "payment.orphaned" is published, a warning
 * is logged for an operator, and the reconcile task refunds it through the
 * gateway (reconcile.c).  Events carry the payment, its order and the buyer;
 * counters count only what commits (bh_unit_count).
 */
#include <string.h>

#include "payment.h"

/* o[key] = the RFC 3339 form of ms; 0 / -1. */
static int set_time(json_t *o, const char *key, int64_t ms)
{
    char t[32];
    bh_time_format(ms, t);
    return json_object_set_new(o, key, json_string(t));
}

json_t *pay_payment_json(const pay_payment *p)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:b}", "id", p->id, "order_id", p->order_id,
                  "method", p->method, "status", p->status, "amount_cents",
                  (json_int_t)p->amount_cents, "currency", p->currency, "orphaned", p->orphaned);
    if (!o || set_time(o, "created_at", p->created_at_ms) ||
        set_time(o, "updated_at", p->updated_at_ms) ||
        (p->captured_at_ms && set_time(o, "captured_at", p->captured_at_ms)) ||
        (p->refunded_at_ms && set_time(o, "refunded_at", p->refunded_at_ms)) ||
        (p->pix_copy_paste && !strcmp(p->status, "pending") &&
         json_object_set_new(o, "pix_copy_paste", json_string(p->pix_copy_paste))) ||
        (p->decline_reason && !strcmp(p->status, "declined") &&
         json_object_set_new(o, "decline_reason", json_string(p->decline_reason)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *event_data(const pay_payment *p)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "payment_id", p->id, "order_id", p->order_id,
                     "amount_cents", (json_int_t)p->amount_cents, "currency", p->currency, "method",
                     p->method, "user", p->user_sub);
}

static int publish(bh_unit *u, const char *type, const pay_payment *p, const char *reason)
{
    json_t *data = event_data(p);
    if (!data)
        return BH_DB_ERROR;
    if (reason && json_object_set_new(data, "reason", json_string(reason)) != 0) {
        json_decref(data);
        return BH_DB_ERROR;
    }
    return bh_event_publish(u, type, p->order_id, data) == 0 ? BH_DB_OK : BH_DB_ERROR;
}

static void log_orphan(pay_state *st, const pay_payment *p)
{
    bh_log(st->ctx, BH_LOG_WARN,
           "payment %s of order %s was captured but the order could not take it (expired, "
           "cancelled or already paid): kept as orphaned, to be refunded",
           p->id, p->order_id);
}

/* The order takes the capture: BH_ORDERS_OK, BH_ORDERS_CONFLICT (or
 * NOT_FOUND: the same for us) or a negative status. */
static int order_takes(pay_state *st, bh_unit *u, const pay_payment *p)
{
    int s = st->orders->mark_paid(st->orders->self, u, p->order_id, p->id);
    if (s < 0 || s == BH_ORDERS_OK)
        return s;
    return BH_ORDERS_CONFLICT;
}

int pay_settle_new(pay_state *st, bh_unit *u, pay_payment *p, const pay_gw_result *r)
{
    int64_t now = bh_time_ms(), next_check = 0;
    int s;
    p->created_at_ms = p->updated_at_ms = now;
    p->gateway_ref = r->gateway_ref[0] ? r->gateway_ref : NULL;
    switch (r->outcome) {
    case PAY_GW_CAPTURED:
        if ((s = order_takes(st, u, p)) < 0)
            return s;
        p->captured_at_ms = now;
        if (s == BH_ORDERS_OK) {
            p->status = "captured";
        } else {
            p->status = "orphaned";
            p->orphaned = 1;
            next_check = now;
        }
        break;
    case PAY_GW_DECLINED:
        p->status = "declined";
        p->decline_reason = r->reason[0] ? r->reason : "declined";
        break;
    default: /* PENDING, or TRANSIENT: unknown, perhaps charged: the task asks again */
        p->status = "pending";
        p->pix_copy_paste = r->pix_copy_paste[0] ? r->pix_copy_paste : NULL;
        next_check = now + st->cfg.reconcile_interval_ms;
        break;
    }
    if ((s = pay_store_insert(u, p, next_check)) != BH_DB_OK)
        return s;
    if (!strcmp(p->status, "captured")) {
        bh_unit_count(u, st->captured, 1);
        return publish(u, "payment.captured", p, NULL);
    }
    if (!strcmp(p->status, "orphaned")) {
        log_orphan(st, p);
        bh_unit_count(u, st->orphaned, 1);
        return publish(u, "payment.orphaned", p, "order_not_payable");
    }
    if (!strcmp(p->status, "declined")) {
        bh_unit_count(u, st->declined, 1);
        return publish(u, "payment.failed", p, p->decline_reason);
    }
    return BH_DB_OK;
}

int pay_settle_free(pay_state *st, bh_unit *u, pay_payment *p)
{
    int64_t now = bh_time_ms();
    int s = order_takes(st, u, p);
    if (s < 0)
        return s;
    if (s != BH_ORDERS_OK)
        return PAY_FREE_REFUSED; /* no money moved: nothing to keep */
    p->status = "captured";
    p->created_at_ms = p->updated_at_ms = p->captured_at_ms = now;
    if ((s = pay_store_insert(u, p, 0)) != BH_DB_OK)
        return s;
    bh_unit_count(u, st->captured, 1);
    return publish(u, "payment.captured", p, NULL);
}

/* Lock the payment's order (the order's row first, as the create route
 * does: one lock order everywhere), then read the payment again: 1 when it
 * is still pending (*cur filled), 0 when it moved on, or a negative status. */
static int lock_pending(pay_state *st, bh_unit *u, const pay_payment *p, pay_payment *cur)
{
    bh_order_info order;
    int s = st->orders->get(st->orders->self, u, p->order_id, 1, &order);
    if (s < 0)
        return s;
    if ((s = pay_store_get(u, p->id, cur)) <= 0)
        return s;
    return strcmp(cur->status, "pending") == 0;
}

int pay_settle_capture(pay_state *st, bh_unit *u, pay_payment *p, const char *gateway_ref)
{
    int64_t now = bh_time_ms();
    pay_payment cur;
    int s = lock_pending(st, u, p, &cur);
    if (s <= 0)
        return s; /* 0: no longer pending, a duplicate confirmation */
    /* Ask the order first, then move the payment by its answer.  The other
     * way round, a capture for an order that another payment already paid
     * would break the one-capture-per-order index (BH_DB_CONSTRAINT) before
     * the orphan path could be taken: the webhook would answer 500 forever
     * and every reconcile run would fail on that row. */
    if ((s = order_takes(st, u, p)) < 0)
        return s;
    int paid = s == BH_ORDERS_OK;
    s = pay_store_transition(u, p->id, "pending", paid ? "captured" : "orphaned", now, NULL,
                             gateway_ref);
    if (s < 0)
        return s;
    if (s == 0) /* moved under our lock: cannot happen; never keep a paid order without it */
        return BH_DB_RETRY;
    p->captured_at_ms = p->updated_at_ms = now;
    if (paid) {
        p->status = "captured";
        bh_unit_count(u, st->captured, 1);
        s = publish(u, "payment.captured", p, NULL);
        return s == BH_DB_OK ? 1 : s;
    }
    p->status = "orphaned";
    p->orphaned = 1;
    log_orphan(st, p);
    bh_unit_count(u, st->orphaned, 1);
    s = publish(u, "payment.orphaned", p, "order_not_payable");
    return s == BH_DB_OK ? 1 : s;
}

int pay_settle_decline(pay_state *st, bh_unit *u, pay_payment *p, const char *reason)
{
    int64_t now = bh_time_ms();
    const char *why = reason && reason[0] ? reason : "declined";
    pay_payment cur;
    int s = lock_pending(st, u, p, &cur); /* serialised with a capture of the same order */
    if (s <= 0)
        return s;
    if ((s = pay_store_transition(u, p->id, "pending", "declined", now, why, NULL)) <= 0)
        return s;
    p->status = "declined";
    p->decline_reason = why;
    p->updated_at_ms = now;
    bh_unit_count(u, st->declined, 1);
    s = publish(u, "payment.failed", p, why);
    return s == BH_DB_OK ? 1 : s;
}

int pay_settle_refund(pay_state *st, bh_unit *u, pay_payment *p)
{
    int64_t now = bh_time_ms();
    int was_orphan = !strcmp(p->status, "orphaned");
    int s = pay_store_transition(u, p->id, p->status, "refunded", now, NULL, NULL);
    if (s <= 0)
        return s;
    if (!was_orphan) {
        s = st->orders->mark_refunded(st->orders->self, u, p->order_id, p->id);
        if (s < 0)
            return s;
        if (s != BH_ORDERS_OK)
            return PAY_REFUND_ORDER_CONFLICT;
    }
    p->status = "refunded";
    p->refunded_at_ms = p->updated_at_ms = now;
    bh_unit_count(u, st->refunded, 1);
    /* an orphan never paid its order: no invoice to credit, its own type */
    s = publish(u, was_orphan ? "payment.orphan_refunded" : "payment.refunded", p, NULL);
    return s == BH_DB_OK ? 1 : s;
}
