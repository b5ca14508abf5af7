/* reconcile.c - the periodic task that finishes what requests could not.
 *
 *   pending   a card charge whose outcome was unknown when its budget ran
 *             out, or a PIX payment whose webhook has not come: ask the
 *             gateway (GET, same idempotency key) and settle a capture or
 *             a decline; otherwise look again later, backing off (one
 *             interval, doubling, at most an hour; after
 *             PAY_PENDING_CHECKS looks only a webhook settles it).  A card
 *             charge the
 *             gateway still does not know after PAY_NOT_FOUND_CHECKS looks
 *             never reached it: declined ("not_received").
 *   orphaned  money that came for an order that could not take it: refund
 *             it through the gateway (idempotency key <id>:refund).
 *
 * Each run is one transaction over a bounded batch (reconcile_batch), one
 * gateway attempt per payment, and stops as soon as the breaker is open or
 * the run has spent retry_budget_ms: the transaction is held meanwhile (on
 * SQLite that is the database's write lock).
 * Every change is a conditional update (settle.c), so several nodes may
 * run it at once.
 */
#include <string.h>

#include "payment.h"

#define PAY_NOT_FOUND_CHECKS 3
#define PAY_PENDING_CHECKS 12 /* then a pending payment waits for its webhook only */
#define PAY_CHECK_MAX_DELAY_MS 3600000

static int64_t next_check(const pay_state *st, const pay_payment *p, int64_t now)
{
    int64_t d = st->cfg.reconcile_interval_ms;
    for (int64_t i = 0; i < p->check_attempts && d < PAY_CHECK_MAX_DELAY_MS; i++)
        d *= 2;
    return now + (d < PAY_CHECK_MAX_DELAY_MS ? d : PAY_CHECK_MAX_DELAY_MS);
}

/* 0 go on, 1 stop the run (breaker open), negative: the unit failed. */
static int check_pending(pay_state *st, bh_unit *u, pay_payment *p, int64_t now)
{
    pay_gw_request rq = {p->id, p->order_id, p->method, NULL, p->amount_cents, p->currency, NULL};
    pay_gw_result r;
    pay_gw_traced(st, u, PAY_OP_QUERY, &rq, 1, &r);
    int s = 0;
    switch (r.outcome) {
    case PAY_GW_UNAVAILABLE: return 1;
    case PAY_GW_CAPTURED:
        s = pay_settle_capture(st, u, p, r.gateway_ref[0] ? r.gateway_ref : NULL);
        break;
    case PAY_GW_DECLINED: s = pay_settle_decline(st, u, p, r.reason); break;
    case PAY_GW_NOT_FOUND:
        if (!strcmp(p->method, "card") && p->check_attempts + 1 >= PAY_NOT_FOUND_CHECKS) {
            s = pay_settle_decline(st, u, p, "not_received");
            break;
        }
        s = pay_store_postpone(u, p->id, next_check(st, p, now));
        break;
    default:
        /* an abandoned PIX code must not be asked about forever: after
         * PAY_PENDING_CHECKS (about six hours by default) only a webhook
         * settles it */
        s = pay_store_postpone(
            u, p->id, p->check_attempts + 1 >= PAY_PENDING_CHECKS ? 0 : next_check(st, p, now));
        break;
    }
    if (s > 0)
        bh_log(st->ctx, BH_LOG_INFO, "reconciled payment %s of order %s: %s", p->id, p->order_id,
               p->status);
    return s < 0 ? s : 0;
}

static int refund_orphan(pay_state *st, bh_unit *u, pay_payment *p, int64_t now)
{
    pay_gw_request rq = {p->id, p->order_id, p->method, NULL, p->amount_cents, p->currency, NULL};
    pay_gw_result r;
    pay_gw_traced(st, u, PAY_OP_REFUND, &rq, 1, &r);
    if (r.outcome == PAY_GW_UNAVAILABLE)
        return 1;
    int s;
    if (r.outcome == PAY_GW_REFUNDED) {
        s = pay_settle_refund(st, u, p);
        if (s > 0)
            bh_log(st->ctx, BH_LOG_INFO, "orphaned payment %s of order %s refunded", p->id,
                   p->order_id);
    } else {
        if (r.outcome == PAY_GW_DECLINED)
            bh_log(st->ctx, BH_LOG_WARN,
                   "the gateway refused to refund orphaned payment %s (%s): an operator must "
                   "refund it",
                   p->id, r.reason);
        s = pay_store_postpone(u, p->id, next_check(st, p, now));
    }
    return s < 0 ? s : 0;
}

int pay_reconcile(bh_unit *u, void *arg)
{
    pay_state *st = arg;
    static const char *const kinds[] = {"pending", "orphaned"};
    char ids[100][40];
    int64_t started = bh_time_ms();
    for (size_t k = 0; k < 2; k++) {
        size_t n = 0;
        int64_t now = bh_time_ms();
        if (pay_store_due(u, kinds[k], now, st->cfg.reconcile_batch, ids, &n) != BH_DB_OK)
            return -1;
        for (size_t i = 0; i < n; i++) {
            pay_payment p;
            int s = pay_store_get(u, ids[i], &p);
            if (s < 0)
                return -1;
            if (s == 0 || strcmp(p.status, kinds[k]))
                continue;
            s = k == 0 ? check_pending(st, u, &p, now) : refund_orphan(st, u, &p, now);
            if (s < 0)
                return -1;
            if (s == 1 || bh_time_ms() - started >= st->cfg.retry_budget_ms)
                return 0; /* the breaker is open, or the run's time is up: next run */
        }
    }
    return 0;
}
