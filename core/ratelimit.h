/* ratelimit.h - token buckets per (client address, rate class).
 *
 * A bucket holds up to `burst` tokens and refills at `rate` tokens per
 * second; each request takes one.  Buckets live in a hash table split into
 * shards, each with its own mutex, so two workers rarely contend.  The table
 * is bounded: when a shard is full the least recently used bucket is
 * recycled (a client that vanished for long is indistinguishable from a new
 * one, whose bucket starts full).
 */
#ifndef BH_RATELIMIT_H
#define BH_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct bh_ratelimit bh_ratelimit;

typedef struct bh_rate_spec {
    double rate;  /* tokens per second, > 0 */
    double burst; /* capacity, >= 1 */
} bh_rate_spec;

/* `classes` is copied; `max_clients` bounds buckets per class overall. */
bh_ratelimit *bh_ratelimit_new(const bh_rate_spec *classes, size_t n_classes, size_t max_clients);
void bh_ratelimit_free(bh_ratelimit *rl);

/* Take one token for `client` (any NUL-terminated key, e.g. an IP address)
 * in class `cls` at monotonic time `now_us`.  Returns 0 when allowed; when
 * refused returns the whole seconds (>= 1) until a token is available, for
 * Retry-After.  Any thread. */
int bh_ratelimit_take(bh_ratelimit *rl, size_t cls, const char *client, int64_t now_us);

#endif
