/* sweeper.c - hold expiry: a pending order whose expires_at has passed
 * becomes "expired" and its holds go back on sale.
 *
 * A bh_task_every task, so every node runs it at once against the shared
 * database.  That is safe by construction: the candidate SELECT is only a
 * hint; each order is expired by a conditional UPDATE (pending_payment ->
 * expired) and only the run whose UPDATE affected the row releases the
 * holds and publishes order.expired.  A run handles a bounded batch so its
 * transaction stays short; a backlog drains over the next runs.
 */
#include "order_plugin.h"

int order_sweep(bh_unit *unit, void *arg)
{
    order_plugin *p = arg;
    char ids[ORDER_SWEEP_BATCH][40];
    size_t n = 0;
    int64_t now = bh_time_ms();
    if (order_store_expired_ids(unit, now, ids, ORDER_SWEEP_BATCH, &n) != BH_ORDERS_OK)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int64_t affected = 0;
        if (order_store_transition(unit, ids[i], ORDER_PENDING_PAYMENT, ORDER_EXPIRED, now, NULL,
                                   &affected) != BH_ORDERS_OK)
            return -1;
        if (affected == 0)
            continue; /* paid, cancelled or expired by someone else meanwhile */
        /* > 0: the catalog disagrees (logged); the order stays expired */
        if (order_holds_release_order(p, unit, ids[i]) < 0)
            return -1;
        if (bh_event_publish(unit, "order.expired", ids[i],
                             json_pack("{s:s}", "order_id", ids[i])) != 0)
            return -1;
        bh_unit_count(unit, p->expired, 1);
    }
    if (n > 0)
        bh_log(p->ctx, BH_LOG_DEBUG, "expiry sweep: %zu candidate order(s)", n);
    return 0;
}
