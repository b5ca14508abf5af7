/* gateway.c - one gateway operation, made safe to depend on.
 *
 *   breaker   refused: UNAVAILABLE, nothing sent (the route answers 503)
 *   attempt   bounded by min(gateway_timeout_ms, what is left of the budget)
 *   TRANSIENT retried after a full-jitter backoff while the budget and
 *             retry_max_attempts allow, and the breaker still lets calls by
 *
 * Retrying a charge is safe because every attempt carries the payment's id
 * as its idempotency key: the gateway answers a repeated key with the first
 * outcome and never charges twice.  Declines and captures are successes as
 * far as the breaker is concerned: the gateway is healthy.
 *
 * Once an attempt came back TRANSIENT, that attempt may have reached the
 * gateway and moved money.  A later refusal that is not a real answer (a
 * 4xx such as 409 "key in use" or 422, classified DECLINED with a non-2xx
 * http_status) then says nothing about the first attempt: the operation's
 * outcome stays unknown (TRANSIENT: the payment is kept pending and
 * reconciled), never a final decline.
 *
 * Also the real environment (clock, sleep, random bits) the plugin runs
 * with; the unit test passes a fake one.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "payment.h"

static int64_t real_now_ms(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void real_sleep_ms(void *arg, int64_t ms)
{
    (void)arg;
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Jitter needs no cryptographic quality, only independence between
 * threads: each draw asks the kernel for 8 bytes (cheap, and only done
 * before a retry). */
static uint64_t real_rand64(void *arg)
{
    (void)arg;
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint64_t)real_now_ms(NULL) * 6364136223846793005ULL + 1442695040888963407ULL;
    return r;
}

const pay_env pay_env_real = {real_now_ms, real_sleep_ms, real_rand64, NULL};

void pay_gw_do(const pay_resilient *r, pay_gw_op op, const pay_gw_request *rq, int once,
               pay_gw_result *out)
{
    const pay_env *env = r->env;
    int64_t start = env->now_ms(env->arg), delay, timeout;
    int done = 0, unknown = 0; /* unknown: an attempt came back TRANSIENT */
    memset(out, 0, sizeof *out);
    out->outcome = PAY_GW_TRANSIENT;
    while ((!once || done == 0) && pay_retry_next(&r->policy, done, env->now_ms(env->arg) - start,
                                                  env->rand64(env->arg), &delay, &timeout)) {
        env->sleep_ms(env->arg, delay);
        int64_t retry_after = 0;
        if (!pay_breaker_allow(r->breaker, &retry_after)) {
            if (done == 0) {
                out->outcome = PAY_GW_UNAVAILABLE;
                out->retry_after_ms = retry_after;
            }
            break; /* after attempts: the outcome stays unknown (TRANSIENT) */
        }
        pay_gw_result one;
        memset(&one, 0, sizeof one);
        r->gw->call(r->gw->self, op, rq, timeout, &one);
        done++;
        if (one.outcome == PAY_GW_TRANSIENT)
            pay_breaker_failure(r->breaker);
        else
            pay_breaker_success(r->breaker);
        if (unknown && one.outcome == PAY_GW_DECLINED && pay_gw_refusal(&one)) {
            /* the gateway answered, but about the key, not the charge: an
             * earlier attempt may still have captured.  Keep asking while
             * the budget lasts; if nothing better comes, unknown. */
            one.outcome = PAY_GW_TRANSIENT;
            one.reason[0] = '\0';
        }
        if (one.outcome == PAY_GW_TRANSIENT)
            unknown = 1;
        *out = one;
        out->attempts = done;
        if (one.outcome != PAY_GW_TRANSIENT)
            return;
    }
    out->attempts = done;
}
