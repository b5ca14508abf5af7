/* test_ratelimit.c - CUnit tests for core/ratelimit.c: bursts, Retry-After
 * values, refill over (simulated) time, independence of classes and clients,
 * eviction, long keys and the bound on tokens handed out under concurrency.
 * Time is always passed in, so every expectation here is exact.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "ratelimit.h"

#define SEC 1000000ll
/* 1024 clients = 32 buckets in each of the 32 shards: more than any test
 * below uses, so only the eviction tests ever see a bucket recycled. */
#define ROOMY 1024

static bh_ratelimit *new_limiter(double rate, double burst, size_t max_clients)
{
    bh_rate_spec spec = {rate, burst};
    bh_ratelimit *rl = bh_ratelimit_new(&spec, 1, max_clients);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rl);
    return rl;
}

static void test_new_rejects_bad_specs(void)
{
    const bh_rate_spec bad[] = {
        {0, 1}, {-1, 1}, {NAN, 1}, {INFINITY, 1}, {1, 0.5}, {1, NAN}, {1, INFINITY},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_PTR_NULL(bh_ratelimit_new(&bad[i], 1, 16));
    const bh_rate_spec two[] = {{1, 1}, {1, 0}};
    CU_ASSERT_PTR_NULL(bh_ratelimit_new(two, 2, 16));
    CU_ASSERT_PTR_NULL(bh_ratelimit_new(NULL, 1, 16));
    CU_ASSERT_PTR_NULL(bh_ratelimit_new(two, 1, SIZE_MAX)); /* too big */
    const bh_rate_spec ok[] = {{1, 1}, {1, 1}};
    CU_ASSERT_PTR_NULL(bh_ratelimit_new(ok, 2, SIZE_MAX / 2 + 1));
    bh_ratelimit_free(NULL);
}

/* No classes, or a class index out of range: everything is allowed. */
static void test_unknown_class_allows(void)
{
    bh_ratelimit *none = bh_ratelimit_new(NULL, 0, ROOMY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(none);
    CU_ASSERT_EQUAL(bh_ratelimit_take(none, 0, "a", 0), 0);
    bh_ratelimit_free(none);

    bh_ratelimit *rl = new_limiter(1, 1, ROOMY);
    for (int i = 0; i < 100; i++) {
        CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 1, "a", 0), 0);
        CU_ASSERT_EQUAL(bh_ratelimit_take(rl, SIZE_MAX, "a", 0), 0);
    }
    CU_ASSERT_EQUAL(bh_ratelimit_take(NULL, 0, "a", 0), 0);
    bh_ratelimit_free(rl);
}

static void test_burst_then_refused(void)
{
    bh_ratelimit *rl = new_limiter(1, 3, ROOMY);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "10.0.0.1", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "10.0.0.1", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "10.0.0.1", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "10.0.0.1", 0), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "10.0.0.1", 0), 1);
    bh_ratelimit_free(rl);
}

static void test_retry_after_values(void)
{
    bh_ratelimit *rl = new_limiter(2, 1, ROOMY); /* 0.5 s per token */
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 1);
    bh_ratelimit_free(rl);

    rl = new_limiter(0.25, 2, ROOMY); /* 4 s per token */
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 4);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 1 * SEC), 3);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 3 * SEC), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 4 * SEC), 0);
    bh_ratelimit_free(rl);

    rl = new_limiter(0.1, 1, ROOMY);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 10);
    bh_ratelimit_free(rl);

    rl = new_limiter(1e-12, 1, ROOMY); /* clamps, no overflow */
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), INT_MAX);
    bh_ratelimit_free(rl);
}

static void test_refill_over_time(void)
{
    bh_ratelimit *rl = new_limiter(2, 1, ROOMY);
    int64_t t0 = 1000 * SEC;
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", t0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", t0), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", t0 + 499999), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", t0 + 500000), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", t0 + 500000), 1);
    bh_ratelimit_free(rl);

    /* A long silence refills to the burst, not beyond. */
    rl = new_limiter(10, 2, ROOMY);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 100 * SEC), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 100 * SEC), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 100 * SEC), 1);
    bh_ratelimit_free(rl);
}

/* A time earlier than the last one seen refills nothing and is not kept. */
static void test_clock_going_backwards(void)
{
    bh_ratelimit *rl = new_limiter(1, 1, ROOMY);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 10 * SEC), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 5 * SEC), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 10 * SEC + SEC / 2), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 11 * SEC), 0);
    bh_ratelimit_free(rl);

    /* The whole int64 range apart: no overflow, just a full bucket. */
    rl = new_limiter(1, 2, ROOMY);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", INT64_MIN), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", INT64_MIN), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", INT64_MIN), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", INT64_MAX), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", INT64_MAX), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", INT64_MAX), 1);
    bh_ratelimit_free(rl);
}

static void test_classes_independent(void)
{
    const bh_rate_spec specs[] = {{1, 1}, {1, 2}};
    bh_ratelimit *rl = bh_ratelimit_new(specs, 2, ROOMY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rl);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 1, "a", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 1, "a", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 1, "a", 0), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "a", 0), 1);
    bh_ratelimit_free(rl);
}

static void test_clients_independent(void)
{
    bh_ratelimit *rl = new_limiter(1, 1, ROOMY);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "192.0.2.1", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "192.0.2.1", 0), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "192.0.2.10", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "2001:db8::1", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "192.0.2.10", 0), 1);
    /* NULL is the empty key: one shared bucket, not a way around limits. */
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "", 0), 1);
    bh_ratelimit_free(rl);
}

static void test_long_client_keys(void)
{
    char a[201], b[201], prefix63[64], prefix64[65];
    memset(a, 'x', 200);
    a[200] = '\0';
    memcpy(b, a, sizeof b);
    b[199] = 'y'; /* differs past the stored prefix */
    memcpy(prefix63, a, 63);
    prefix63[63] = '\0';
    memcpy(prefix64, a, 64);
    prefix64[64] = '\0';

    bh_ratelimit *rl = new_limiter(1, 1, ROOMY);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, a, 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, a, 0), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, b, 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, b, 0), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, prefix63, 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, prefix64, 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, prefix63, 0), 1);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, prefix64, 0), 1);
    bh_ratelimit_free(rl);
}

/* Far more clients than buckets: each newcomer still gets a full bucket,
 * and an old client, evicted meanwhile, comes back as new. */
static void test_eviction_when_full(void)
{
    bh_ratelimit *rl = new_limiter(1, 2, 4); /* one bucket per shard */
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "old", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "old", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "old", 0), 1);
    int refused = 0;
    for (int i = 0; i < 10000; i++) {
        char client[32];
        snprintf(client, sizeof client, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        refused += bh_ratelimit_take(rl, 0, client, 0) != 0;
        refused += bh_ratelimit_take(rl, 0, client, 0) != 0;
    }
    CU_ASSERT_EQUAL(refused, 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "old", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "old", 0), 0);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "old", 0), 1);
    bh_ratelimit_free(rl);
}

/* Two buckets per shard and a stream of newcomers: a client used after each
 * newcomer is always the most recent in its shard, so LRU never picks it
 * and its exhausted bucket survives (any other policy would recycle it). */
static void test_lru_keeps_recent_clients(void)
{
    bh_ratelimit *rl = new_limiter(1, 1, 64);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "busy", 0), 0);
    int busy_allowed = 0;
    for (int i = 0; i < 10000; i++) {
        char client[32];
        snprintf(client, sizeof client, "newcomer-%d", i);
        CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, client, 0), 0);
        busy_allowed += bh_ratelimit_take(rl, 0, "busy", 0) == 0;
    }
    CU_ASSERT_EQUAL(busy_allowed, 0);
    bh_ratelimit_free(rl);
}

/* 1024 clients over 32 shards = 32 buckets each: 32 clients in all can
 * never fill a shard, so nobody is evicted and the limit holds. */
static void test_no_eviction_within_capacity(void)
{
    bh_ratelimit *rl = new_limiter(1, 1, 1024);
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "old", 0), 0);
    for (int i = 0; i < 31; i++) {
        char client[32];
        snprintf(client, sizeof client, "client-%d", i);
        CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, client, 0), 0);
    }
    CU_ASSERT_EQUAL(bh_ratelimit_take(rl, 0, "old", 0), 1);
    bh_ratelimit_free(rl);
}

/* ---- concurrency --------------------------------------------------------- */

#define THREADS 4

typedef struct worker {
    bh_ratelimit *rl;
    _Atomic int64_t *clock; /* NULL: fixed time 0 */
    int takes;
    int allowed;
    int id;
} worker;

static void *take_shared_client(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->takes; i++) {
        int64_t now = w->clock ? atomic_fetch_add(w->clock, 1) : 0;
        w->allowed += bh_ratelimit_take(w->rl, 0, "shared", now) == 0;
    }
    return NULL;
}

static int run_workers(worker *w, void *(*fn)(void *))
{
    pthread_t t[THREADS];
    int total = 0;
    for (int i = 0; i < THREADS; i++)
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, fn, &w[i]) == 0);
    for (int i = 0; i < THREADS; i++) {
        CU_ASSERT(pthread_join(t[i], NULL) == 0);
        total += w[i].allowed;
    }
    return total;
}

static void test_concurrent_fixed_time_exact(void)
{
    bh_ratelimit *rl = new_limiter(1, 100, ROOMY);
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++)
        w[i] = (worker){.rl = rl, .takes = 1000, .id = i};
    CU_ASSERT_EQUAL(run_workers(w, take_shared_client), 100);
    bh_ratelimit_free(rl);
}

/* 40000 takes, one microsecond apart on a shared clock, at 1000 tokens/s:
 * at most burst (10) + 40000 us * 1000/s = 50 tokens can exist. */
static void test_concurrent_never_exceeds_refill(void)
{
    bh_ratelimit *rl = new_limiter(1000, 10, ROOMY);
    _Atomic int64_t clock = 0;
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++)
        w[i] = (worker){.rl = rl, .clock = &clock, .takes = 10000, .id = i};
    int allowed = run_workers(w, take_shared_client);
    CU_ASSERT(allowed >= 10);
    CU_ASSERT(allowed <= 50);
    bh_ratelimit_free(rl);
}

/* Each thread its own 1000 clients, three takes each with burst 2. */
static void *take_own_clients(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 1000; i++) {
        char client[32];
        snprintf(client, sizeof client, "w%d-c%d", w->id, i);
        for (int k = 0; k < 3; k++)
            w->allowed += bh_ratelimit_take(w->rl, 0, client, 0) == 0;
    }
    return NULL;
}

static void test_concurrent_many_clients(void)
{
    bh_ratelimit *rl = new_limiter(1, 2, 8192);
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++)
        w[i] = (worker){.rl = rl, .id = i};
    CU_ASSERT_EQUAL(run_workers(w, take_own_clients), THREADS * 1000 * 2);
    bh_ratelimit_free(rl);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"new rejects bad specs", test_new_rejects_bad_specs},
        {"unknown class allows", test_unknown_class_allows},
        {"burst then refused", test_burst_then_refused},
        {"Retry-After values", test_retry_after_values},
        {"refill over time", test_refill_over_time},
        {"clock going backwards", test_clock_going_backwards},
        {"classes independent", test_classes_independent},
        {"clients independent", test_clients_independent},
        {"long client keys", test_long_client_keys},
        {"eviction when full", test_eviction_when_full},
        {"LRU keeps recent clients", test_lru_keeps_recent_clients},
        {"no eviction within capacity", test_no_eviction_within_capacity},
        {"concurrent fixed time is exact", test_concurrent_fixed_time_exact},
        {"concurrent never exceeds refill", test_concurrent_never_exceeds_refill},
        {"concurrent many clients", test_concurrent_many_clients},
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("ratelimit", NULL, NULL);
    if (!suite)
        goto fail;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            goto fail;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (CU_basic_run_tests() != CUE_SUCCESS)
        goto fail;
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
fail:
    CU_cleanup_registry();
    return 1;
}
