/* retry.c - when to try a gateway call again, and how long to wait.
 *
 * Exponential backoff with full jitter (the AWS Architecture Blog's
 * "Exponential Backoff And Jitter"): the n-th retry waits a uniformly random
 * time in [0, min(max_delay, base * 2^n)], so clients that failed together
 * do not come back together.  A budget bounds the whole operation, waits
 * and attempts included: the caller holds a database transaction (and an
 * HTTP client waits) while this runs.  Pure: the random bits come from the
 * caller.
 */
#include "payment.h"

int64_t pay_backoff_delay(const pay_retry_policy *p, int n, uint64_t r)
{
    int64_t cap = p->base_ms;
    for (int i = 1; i < n && cap < p->max_delay_ms; i++)
        cap *= 2; /* base <= 10 s and the loop stops at max_delay: no overflow */
    if (cap > p->max_delay_ms)
        cap = p->max_delay_ms;
    if (cap <= 0)
        return 0;
    return (int64_t)(r % (uint64_t)(cap + 1));
}

int pay_retry_next(const pay_retry_policy *p, int done, int64_t elapsed_ms, uint64_t r,
                   int64_t *delay_ms, int64_t *timeout_ms)
{
    if (done >= p->max_attempts)
        return 0;
    int64_t delay = done == 0 ? 0 : pay_backoff_delay(p, done, r);
    int64_t left = p->budget_ms - elapsed_ms - delay;
    if (left < p->min_attempt_ms || left <= 0)
        return 0;
    *delay_ms = delay;
    *timeout_ms = left < p->timeout_ms ? left : p->timeout_ms;
    return 1;
}
