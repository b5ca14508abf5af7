/* breaker.c - a circuit breaker in front of a payment gateway.
 *
 * When the gateway keeps failing (timeouts, connection errors, 5xx), every
 * request that calls it would hold a worker and a transaction for the
 * whole retry budget.  After `threshold` consecutive failures the breaker
 * opens and the plugin answers 503 at once; after `cooldown_ms` one probe
 * goes through (half-open): if it succeeds the breaker closes, if it fails
 * it opens for another cool-down.  A probe that never reports back (a
 * crashed caller) is replaced after one more cool-down.
 *
 * Process-wide, one per gateway, behind its own mutex; the clock is
 * injected so the unit test drives it with a fake one.
 */
#include "payment.h"

int pay_breaker_init(pay_breaker *b, int threshold, int64_t cooldown_ms, pay_clock_fn now_ms,
                     void *clock_arg)
{
    b->state = PAY_BREAKER_CLOSED;
    b->failures = 0;
    b->threshold = threshold > 0 ? threshold : 1;
    b->cooldown_ms = cooldown_ms;
    b->opened_at_ms = 0;
    b->probe_at_ms = 0;
    b->now_ms = now_ms;
    b->clock_arg = clock_arg;
    return pthread_mutex_init(&b->mu, NULL) == 0 ? 0 : -1;
}

void pay_breaker_destroy(pay_breaker *b)
{
    pthread_mutex_destroy(&b->mu);
}

static void trip(pay_breaker *b, int64_t now)
{
    b->state = PAY_BREAKER_OPEN;
    b->opened_at_ms = now;
    b->failures = 0;
}

int pay_breaker_allow(pay_breaker *b, int64_t *retry_after_ms)
{
    int64_t now = b->now_ms(b->clock_arg);
    int ok = 1;
    pthread_mutex_lock(&b->mu);
    switch (b->state) {
    case PAY_BREAKER_CLOSED: break;
    case PAY_BREAKER_OPEN:
        if (now - b->opened_at_ms >= b->cooldown_ms) {
            b->state = PAY_BREAKER_HALF_OPEN; /* this caller is the probe */
            b->probe_at_ms = now;
        } else {
            ok = 0;
            *retry_after_ms = b->cooldown_ms - (now - b->opened_at_ms);
        }
        break;
    case PAY_BREAKER_HALF_OPEN:
        if (now - b->probe_at_ms >= b->cooldown_ms) {
            b->probe_at_ms = now; /* the last probe never reported: another */
        } else {
            ok = 0;
            *retry_after_ms = b->cooldown_ms - (now - b->probe_at_ms);
        }
        break;
    }
    pthread_mutex_unlock(&b->mu);
    return ok;
}

void pay_breaker_success(pay_breaker *b)
{
    pthread_mutex_lock(&b->mu);
    b->state = PAY_BREAKER_CLOSED;
    b->failures = 0;
    pthread_mutex_unlock(&b->mu);
}

void pay_breaker_failure(pay_breaker *b)
{
    int64_t now = b->now_ms(b->clock_arg);
    pthread_mutex_lock(&b->mu);
    if (b->state == PAY_BREAKER_HALF_OPEN)
        trip(b, now);
    else if (b->state == PAY_BREAKER_CLOSED && ++b->failures >= b->threshold)
        trip(b, now);
    /* OPEN: a call let through before the breaker opened failed too;
     * the cool-down already runs */
    pthread_mutex_unlock(&b->mu);
}

pay_breaker_state pay_breaker_state_now(pay_breaker *b)
{
    pthread_mutex_lock(&b->mu);
    pay_breaker_state s = b->state;
    pthread_mutex_unlock(&b->mu);
    return s;
}
