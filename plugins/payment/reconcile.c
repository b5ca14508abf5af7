/* reconcile.c - the periodic task that finishes what requests could not.
 *
 *   pending   a card charge whose outcome was unknown when its budget ran
 *             out, or a PIX payment whose webhook has not come: ask the
 *             gateway (GET, same idempotency key) and settle a capture or
 *             a decline; otherwise look again later, backing off (one
 *             interval, doubling, at most an hour; after PAY_PENDING_CHECKS
 *             looks only a webhook settles it).  A card charge the gateway
 *             still does not know after PAY_NOT_FOUND_CHECKS looks never
 *             reached it: declined ("not_received").
 *   orphaned  money that came for an order that could not take it: refund
 *             it through the gateway (idempotency key <id>:refund).
 *
 * One run is one transaction over a bounded batch (reconcile_batch of each
 * kind), in two phases:
 *
 *   1. ask: SELECT the batch, then make every gateway call (one attempt
 *      each), stopping when the breaker opens or the run has spent
 *      retry_budget_ms.  Nothing is written yet, so on PostgreSQL no row
 *      lock is held while the gateway is slow;
 *   2. settle: apply the answers.  A capture locks its order and, through
 *      mark_paid -> catalog->commit, the ticket type's row: those locks are
 *      now held for the few statements left, never across a gateway call.
 *
 * One bad row must not block the rest: the unit fails as a whole on any
 * database error, so when settling a payment fails the run logs it and
 * remembers its id (pay_state.rc_skip); the next runs postpone that payment
 * (its next_check_at moves on, with backoff), leave it out and settle the
 * others.  It is forgotten once a run that postponed it committed; until
 * then (another bad row may fail that run too) it stays set aside.  Every change is a conditional update (settle.c), so several nodes
 * may run the task at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payment.h"

#define PAY_NOT_FOUND_CHECKS 3
#define PAY_PENDING_CHECKS 12 /* then a pending payment waits for its webhook only */
#define PAY_CHECK_MAX_DELAY_MS 3600000

/* One payment of the run: as read, and what the gateway said. */
typedef struct rc_item {
    pay_payment p; /* strings borrowed from the unit's rows */
    int asked;     /* r holds the gateway's answer */
    pay_gw_result r;
} rc_item;

static int64_t next_check(const pay_state *st, const pay_payment *p, int64_t now)
{
    int64_t d = st->cfg.reconcile_interval_ms;
    for (int64_t i = 0; i < p->check_attempts && d < PAY_CHECK_MAX_DELAY_MS; i++)
        d *= 2;
    return now + (d < PAY_CHECK_MAX_DELAY_MS ? d : PAY_CHECK_MAX_DELAY_MS);
}

/* 1 when a run failed settling payment `id` and no run since postponed it
 * and committed: it is set aside (marked postponed by this run). */
static int set_aside(pay_state *st, const char *id)
{
    for (size_t i = 0; i < st->rc_nskip; i++)
        if (!strcmp(st->rc_skip[i], id)) {
            st->rc_postponed[i] = 1;
            return 1;
        }
    return 0;
}

static void remove_skip(pay_state *st, size_t i)
{
    st->rc_nskip--;
    memmove(st->rc_skip + i, st->rc_skip + i + 1, (st->rc_nskip - i) * sizeof st->rc_skip[0]);
    memmove(st->rc_postponed + i, st->rc_postponed + i + 1,
            (st->rc_nskip - i) * sizeof st->rc_postponed[0]);
}

/* The run ends: when it committed, the payments it postponed are dealt
 * with (their next check moved on).  When it failed, that postponing was
 * rolled back too: they stay set aside, and `failed` (or NULL) joins them,
 * the oldest entry making room. */
static void end_run(pay_state *st, int committed, const char *failed)
{
    for (size_t i = st->rc_nskip; i-- > 0;) {
        if (committed && st->rc_postponed[i])
            remove_skip(st, i);
        else
            st->rc_postponed[i] = 0;
    }
    if (!failed)
        return;
    if (st->rc_nskip == PAY_RC_SKIP_MAX)
        remove_skip(st, 0);
    snprintf(st->rc_skip[st->rc_nskip], sizeof st->rc_skip[0], "%s", failed);
    st->rc_postponed[st->rc_nskip++] = 0;
}

/* Phase 1, reading: the due payments of one kind into items[*n..].  A
 * payment whose settlement failed the last run is postponed and left out.
 * BH_DB_OK or a negative status. */
static int load(pay_state *st, bh_unit *u, const char *kind, int64_t now, rc_item *items, size_t *n)
{
    char ids[100][40];
    size_t k = 0;
    int s = pay_store_due(u, kind, now, st->cfg.reconcile_batch, ids, &k);
    if (s != BH_DB_OK)
        return s;
    for (size_t i = 0; i < k; i++) {
        rc_item *it = &items[*n];
        memset(it, 0, sizeof *it);
        if ((s = pay_store_get(u, ids[i], &it->p)) < 0)
            return s;
        if (s == 0 || strcmp(it->p.status, kind))
            continue;
        if (set_aside(st, it->p.id)) {
            bh_log(st->ctx, BH_LOG_ERROR,
                   "reconcile: payment %s of order %s failed to settle in an earlier run; set "
                   "aside until its next check",
                   it->p.id, it->p.order_id);
            if ((s = pay_store_postpone(u, it->p.id, next_check(st, &it->p, now))) != BH_DB_OK)
                return s;
            continue;
        }
        (*n)++;
    }
    return BH_DB_OK;
}

/* Phase 1, asking: one attempt per payment.  Stops at an open breaker or
 * when the run's time is up; the payments not asked wait for the next run. */
static void ask(pay_state *st, bh_unit *u, rc_item *items, size_t n, int64_t started)
{
    for (size_t i = 0; i < n; i++) {
        pay_payment *p = &items[i].p;
        int pending = !strcmp(p->status, "pending");
        pay_gw_request rq = {p->id,           p->order_id, p->method, NULL,
                             p->amount_cents, p->currency, NULL};
        pay_gw_traced(st, u, pending ? PAY_OP_QUERY : PAY_OP_REFUND, &rq, 1, &items[i].r);
        if (items[i].r.outcome == PAY_GW_UNAVAILABLE)
            return; /* the breaker is open: nothing was sent */
        items[i].asked = 1;
        if (bh_time_ms() - started >= st->cfg.retry_budget_ms)
            return;
    }
}

/* Phase 2: what a pending payment's answer means.  >= 0, or negative. */
static int settle_pending(pay_state *st, bh_unit *u, pay_payment *p, const pay_gw_result *r,
                          int64_t now)
{
    switch (r->outcome) {
    case PAY_GW_CAPTURED:
        return pay_settle_capture(st, u, p, r->gateway_ref[0] ? r->gateway_ref : NULL);
    case PAY_GW_DECLINED: return pay_settle_decline(st, u, p, r->reason);
    case PAY_GW_NOT_FOUND:
        if (!strcmp(p->method, "card") && p->check_attempts + 1 >= PAY_NOT_FOUND_CHECKS)
            return pay_settle_decline(st, u, p, "not_received");
        return pay_store_postpone(u, p->id, next_check(st, p, now));
    default:
        /* an abandoned PIX code must not be asked about forever: after
         * PAY_PENDING_CHECKS (about six hours by default) only a webhook
         * settles it */
        return pay_store_postpone(
            u, p->id, p->check_attempts + 1 >= PAY_PENDING_CHECKS ? 0 : next_check(st, p, now));
    }
}

/* Phase 2: what an orphan's refund answer means.  >= 0, or negative. */
static int settle_orphan(pay_state *st, bh_unit *u, pay_payment *p, const pay_gw_result *r,
                         int64_t now)
{
    if (r->outcome == PAY_GW_REFUNDED) {
        int s = pay_settle_refund(st, u, p);
        if (s > 0)
            bh_log(st->ctx, BH_LOG_INFO, "orphaned payment %s of order %s refunded", p->id,
                   p->order_id);
        return s;
    }
    if (r->outcome == PAY_GW_DECLINED)
        bh_log(st->ctx, BH_LOG_WARN,
               "the gateway refused to refund orphaned payment %s (%s): an operator must "
               "refund it",
               p->id, r->reason);
    return pay_store_postpone(u, p->id, next_check(st, p, now));
}

int pay_reconcile(bh_unit *u, void *arg)
{
    pay_state *st = arg;
    int64_t started = bh_time_ms();
    size_t n = 0;
    const char *failed = NULL; /* the payment whose settlement failed the run */
    rc_item *items = calloc(2 * (size_t)st->cfg.reconcile_batch, sizeof *items);
    if (!items)
        return -1;
    int s = load(st, u, "pending", started, items, &n);
    if (s == BH_DB_OK)
        s = load(st, u, "orphaned", started, items, &n);
    if (s == BH_DB_OK) {
        ask(st, u, items, n, started);
        int64_t now = bh_time_ms();
        for (size_t i = 0; i < n && s >= 0; i++) {
            rc_item *it = &items[i];
            if (!it->asked)
                continue;
            int pending = !strcmp(it->p.status, "pending");
            s = pending ? settle_pending(st, u, &it->p, &it->r, now)
                        : settle_orphan(st, u, &it->p, &it->r, now);
            if (s > 0 && pending)
                bh_log(st->ctx, BH_LOG_INFO, "reconciled payment %s of order %s: %s", it->p.id,
                       it->p.order_id, it->p.status);
            if (s < 0 && s != BH_DB_RETRY && s != BH_DB_UNAVAILABLE) {
                /* this row, not the database: set it aside from now on */
                bh_log(st->ctx, BH_LOG_ERROR,
                       "reconcile: settling payment %s of order %s failed (%s); the run is "
                       "rolled back and the next runs set it aside",
                       it->p.id, it->p.order_id, bh_db_error(u));
                failed = it->p.id;
            }
        }
    }
    end_run(st, s >= 0, failed); /* copies `failed`: it points into the unit's rows */
    free(items);
    return s < 0 ? -1 : 0;
}
