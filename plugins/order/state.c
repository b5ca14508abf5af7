/* state.c - the order state machine, and nothing else (no SDK calls, so the
 * unit tests cover every pair of states).
 *
 *   pending_payment -> paid | expired | cancelled
 *   paid            -> refunded
 *
 * Every transition the plugin makes goes through order_transition_allowed()
 * first (store.c's order_store_transition), and is then applied as a
 * conditional UPDATE ... WHERE status = <from>, so an illegal or stale
 * transition changes nothing and is answered 409.
 */
#include <string.h>

#include "order.h"

static const char *const state_names[ORDER_STATE_COUNT] = {
    [ORDER_PENDING_PAYMENT] = "pending_payment",
    [ORDER_PAID] = "paid",
    [ORDER_EXPIRED] = "expired",
    [ORDER_CANCELLED] = "cancelled",
    [ORDER_REFUNDED] = "refunded",
};

const char *order_state_name(order_state s)
{
    if ((int)s < 0 || s >= ORDER_STATE_COUNT)
        return NULL;
    return state_names[s];
}

int order_state_parse(const char *name, order_state *out)
{
    if (!name)
        return -1;
    for (int s = 0; s < ORDER_STATE_COUNT; s++) {
        if (strcmp(name, state_names[s]) == 0) {
            *out = (order_state)s;
            return 0;
        }
    }
    return -1;
}

int order_transition_allowed(order_state from, order_state to)
{
    switch (from) {
    case ORDER_PENDING_PAYMENT:
        return to == ORDER_PAID || to == ORDER_EXPIRED || to == ORDER_CANCELLED;
    case ORDER_PAID: return to == ORDER_REFUNDED;
    default: return 0; /* expired, cancelled, refunded are final */
    }
}
