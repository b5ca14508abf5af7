/* step.c - what one run of the create handler does next.
 *
 * The core may run a handler again after BH_DB_RETRY, and the gateway may
 * have been called by an earlier run (its answer is kept in the request
 * context).  Money that may have moved is always recorded, even when the
 * order can no longer take it (it becomes an orphan, refunded later);
 * only when the gateway said "no money moved" can a run refuse.  Pure.
 */
#include "payment.h"

pay_step pay_charge_step(int payable, int answered, pay_gw_outcome outcome)
{
    if (!answered)
        return payable ? PAY_STEP_CHARGE : PAY_STEP_REFUSE;
    if (payable)
        return PAY_STEP_RECORD;
    /* the order moved on meanwhile: keep any charge that may have happened */
    return outcome == PAY_GW_DECLINED ? PAY_STEP_REFUSE : PAY_STEP_RECORD;
}
