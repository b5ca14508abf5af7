/* ids.c - ids in X-Ray's formats and the wall clock X-Ray wants.
 *
 *   trace id    "1-" + the epoch second in 8 hex digits + "-" + 96 random
 *               bits in 24 hex digits
 *   segment id  64 random bits in 16 hex digits
 *
 * They must be unique, not secret, so a per-thread splitmix64 seeded once
 * from the kernel (bh_random_bytes) makes them without a system call per
 * request.
 */
#include <time.h>

#include "xray.h"

static __thread uint64_t rng_state;
static __thread int rng_seeded;

uint64_t xr_rand64(void)
{
    if (!rng_seeded) {
        if (bh_random_bytes(&rng_state, sizeof rng_state) != 0) {
            struct timespec ts; /* never in practice: still distinct per thread */
            clock_gettime(CLOCK_MONOTONIC, &ts);
            rng_state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)&rng_state;
        }
        rng_seeded = 1;
    }
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double xr_rand01(void)
{
    return (double)(xr_rand64() >> 11) / 9007199254740992.0; /* 53 bits: [0, 1) */
}

/* `digits` lowercase hex digits of v, most significant first. */
static void hex(char *out, uint64_t v, int digits)
{
    static const char xd[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        out[i] = xd[v & 0xf];
}

void xr_trace_id(char out[36], int64_t epoch_s)
{
    out[0] = '1';
    out[1] = '-';
    hex(out + 2, (uint32_t)epoch_s, 8);
    out[10] = '-';
    hex(out + 11, xr_rand64(), 8);
    hex(out + 19, xr_rand64(), 16);
    out[35] = '\0';
}

void xr_segment_id(char out[17])
{
    uint64_t v;
    while ((v = xr_rand64()) == 0)
        ;
    hex(out, v, 16);
    out[16] = '\0';
}

double xr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000) / 1e6;
}
