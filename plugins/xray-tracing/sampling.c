/* sampling.c - the fixed sampling rule, X-Ray's default unless configured:
 * the first `fixed_target` requests of every second are traced (the
 * reservoir), then `rate` of the rest.  A request that arrives with a
 * decision (Sampled=1 / Sampled=0) never gets here: xray.c honours it.
 *
 * The reservoir is per process, as the X-Ray SDKs keep it without
 * centralized rules: N tasks trace up to N requests a second between them.
 * The clock and the random number are arguments, so tests drive both.
 */
#include "xray.h"

void xr_sampler_init(xr_sampler *s, int fixed_target, double rate)
{
    s->fixed_target = fixed_target;
    s->rate = rate;
    s->second = INT64_MIN;
    s->used = 0;
    pthread_mutex_init(&s->lock, NULL);
}

void xr_sampler_destroy(xr_sampler *s)
{
    pthread_mutex_destroy(&s->lock);
}

int xr_sample(xr_sampler *s, int64_t now_ms, double u)
{
    int64_t second = now_ms >= 0 ? now_ms / 1000 : (now_ms - 999) / 1000;
    int take = 0;
    pthread_mutex_lock(&s->lock); /* two stores per request: never contended long */
    if (second != s->second) {
        s->second = second;
        s->used = 0;
    }
    if (s->used < s->fixed_target) {
        s->used++;
        take = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return take || u < s->rate;
}
