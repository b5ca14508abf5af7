/* accesslog.c - the access-log thread and the workers' rings.
 *
 * Encoding a line with jansson costs a worker about as much as everything
 * else it does for GET /healthz, so the workers only copy fields: each owns
 * a ring of BH_ACCESS_RING_SLOTS fixed-size records, a single-producer /
 * single-consumer queue of two counters (head: the next record the worker
 * fills; tail: the next one the thread encodes), published with
 * release/acquire so a record is complete before the thread reads it.
 *
 * The thread sleeps BH_LOG_FLUSH_MS at most; a worker whose ring is a
 * quarter full wakes it early (once per round: `kicked`).  Each round it
 * encodes every queued record into a bh_log_buffer, which writes itself to
 * the log stream when full, and writes the rest at the end of the round.
 *
 * The thread is SCHED_IDLE: it runs on CPU time nothing else wants, and
 * never preempts a worker (on a machine whose every core runs a worker, a
 * normal thread woken beside one stalls all its connections for the length
 * of a batch).  When there is no idle CPU the thread falls behind, a ring
 * fills, and its worker encodes its own lines into its own encoder, flushed
 * every BH_LOG_FLUSH_MS (counted: bilhetagem_access_log_overflow_total).  So
 * a line is never dropped and a worker never waits for the thread; lines
 * are written about BH_LOG_FLUSH_MS after their request when the machine has
 * idle CPU, later (at most a ring's worth) when it has none, and a worker's
 * own lines can be written before older ones still in its ring.  At stop
 * the thread drains every ring before it exits, back to a normal policy
 * first where the system allows it (leaving SCHED_IDLE needs root or an
 * RLIMIT_NICE; by then the workers are gone anyway).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"

#define KICK_AT (BH_ACCESS_RING_SLOTS / 4)
#define CACHE_LINE 64

struct bh_access_ring {
    /* the worker's side */
    atomic_size_t head;
    size_t tail_seen; /* `tail` as the worker last read it */
    bh_accesslog *lg;
    atomic_ulong overflows;
    char pad1[CACHE_LINE];
    /* the thread's side */
    atomic_size_t tail;
    char pad2[CACHE_LINE];
    bh_access_rec slots[BH_ACCESS_RING_SLOTS];
};

struct bh_accesslog {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* on CLOCK_MONOTONIC */
    int stopping;        /* under lock */
    atomic_int kicked;   /* a worker asked for a round */
    int n_rings;
    bh_access_ring **rings;
    bh_access_encoder enc; /* the thread's own */
};

static void kick(bh_accesslog *lg)
{
    if (atomic_exchange_explicit(&lg->kicked, 1, memory_order_acq_rel))
        return; /* already asked for this round */
    pthread_mutex_lock(&lg->lock);
    pthread_cond_signal(&lg->wake);
    pthread_mutex_unlock(&lg->lock);
}

bh_access_rec *bh_access_reserve(bh_access_ring *r)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    /* Reading the thread's counter costs a cache miss: only when the ring
     * may be filling up. */
    if (head - r->tail_seen >= KICK_AT) {
        r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        size_t used = head - r->tail_seen;
        if (used >= KICK_AT)
            kick(r->lg);
        if (used >= BH_ACCESS_RING_SLOTS) {
            atomic_fetch_add_explicit(&r->overflows, 1, memory_order_relaxed);
            return NULL;
        }
    }
    return &r->slots[head % BH_ACCESS_RING_SLOTS];
}

void bh_access_commit(bh_access_ring *r)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

/* ---- encoding -------------------------------------------------------------- */

/* The fields in the order docs/operations.md shows them; "trace_id" is
 * added and removed per record. */
static json_t *line_template(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:i, s:f, s:I, s:I, s:s}", "time", "", "level",
                     "info", "type", "access", "request_id", "", "method", "", "route", "status", 0,
                     "duration_ms", 0.0, "bytes_in", (json_int_t)0, "bytes_out", (json_int_t)0,
                     "client", "");
}

/* RFC 3339 UTC with milliseconds; the date part is formatted once a second. */
static void format_time(bh_access_encoder *e, const struct timespec *ts, char out[32])
{
    if (ts->tv_sec != e->clock_sec || !e->clock_text[0]) {
        struct tm tm;
        gmtime_r(&ts->tv_sec, &tm);
        strftime(e->clock_text, sizeof e->clock_text, "%Y-%m-%dT%H:%M:%S", &tm);
        e->clock_sec = ts->tv_sec;
    }
    long ms = ts->tv_nsec / 1000000;
    size_t n = strlen(e->clock_text);
    memcpy(out, e->clock_text, n);
    out[n] = '.';
    out[n + 1] = (char)('0' + ms / 100);
    out[n + 2] = (char)('0' + ms / 10 % 10);
    out[n + 3] = (char)('0' + ms % 10);
    out[n + 4] = 'Z';
    out[n + 5] = '\0';
}

/* Set a string member.  `ascii` values were built or checked by the core
 * (time, request id, method, client address, trace id): they skip jansson's
 * UTF-8 check.  A value jansson refuses becomes null, never the previous
 * line's. */
static void set_string(json_t *o, const char *key, const char *value, int ascii)
{
    json_t *v = json_object_get(o, key);
    size_t n = strlen(value);
    int rc = !json_is_string(v) ? -1
             : ascii            ? json_string_setn_nocheck(v, value, n)
                                : json_string_setn(v, value, n);
    if (rc != 0) {
        json_t *fresh = ascii ? json_stringn_nocheck(value, n) : json_stringn(value, n);
        json_object_set_new(o, key, fresh ? fresh : json_null());
    }
}

void bh_access_encode(bh_access_encoder *e, const bh_access_rec *r)
{
    json_t *o = e->line;
    if (!o && !(o = e->line = line_template()))
        return;
    char now[32];
    format_time(e, &r->time, now);
    set_string(o, "time", now, 1);
    set_string(o, "request_id", r->request_id, 1);
    set_string(o, "method", r->method, 1);
    if (r->route)
        set_string(o, "route", r->route, 0);
    else
        json_object_set_new(o, "route", json_null());
    json_integer_set(json_object_get(o, "status"), r->status);
    json_real_set(json_object_get(o, "duration_ms"), (double)r->duration_us / 1000.0);
    json_integer_set(json_object_get(o, "bytes_in"), (json_int_t)r->bytes_in);
    json_integer_set(json_object_get(o, "bytes_out"), (json_int_t)r->bytes_out);
    set_string(o, "client", r->client, 1);
    if (r->trace_id[0]) /* xray: the request's trace id, for log correlation */
        set_string(o, "trace_id", r->trace_id, 1);
    else
        json_object_del(o, "trace_id");
    bh_log_buffered(&e->batch, o);
}

void bh_access_encoder_flush(bh_access_encoder *e)
{
    bh_log_buffer_flush(&e->batch);
}

void bh_access_encoder_free(bh_access_encoder *e)
{
    bh_log_buffer_flush(&e->batch);
    json_decref(e->line);
    e->line = NULL;
}

/* ---- the thread ------------------------------------------------------------ */

/* Encode everything queued in `r`; the worker gets each record back as
 * soon as it is encoded. */
static void drain(bh_accesslog *lg, bh_access_ring *r)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    while (tail != head) {
        bh_access_encode(&lg->enc, &r->slots[tail % BH_ACCESS_RING_SLOTS]);
        atomic_store_explicit(&r->tail, ++tail, memory_order_release);
    }
}

static void wait_round(bh_accesslog *lg, int *stopping)
{
    pthread_mutex_lock(&lg->lock);
    if (!lg->stopping && !atomic_load(&lg->kicked)) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += BH_LOG_FLUSH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&lg->wake, &lg->lock, &until);
    }
    *stopping = lg->stopping;
    atomic_store(&lg->kicked, 0);
    pthread_mutex_unlock(&lg->lock);
}

static void *logger_main(void *arg)
{
    bh_accesslog *lg = arg;
    struct sched_param idle = {0};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle); /* else: a normal thread */
    for (;;) {
        int stopping;
        wait_round(lg, &stopping);
        for (int i = 0; i < lg->n_rings; i++)
            drain(lg, lg->rings[i]);
        bh_access_encoder_flush(&lg->enc);
        if (stopping) /* the workers had stopped: that was the last round */
            return NULL;
    }
}

/* ---- life ------------------------------------------------------------------ */

static void accesslog_free(bh_accesslog *lg)
{
    for (int i = 0; i < lg->n_rings; i++)
        free(lg->rings[i]);
    free(lg->rings);
    bh_access_encoder_free(&lg->enc);
    pthread_cond_destroy(&lg->wake);
    pthread_mutex_destroy(&lg->lock);
    free(lg);
}

bh_accesslog *bh_accesslog_start(int n_rings, char *err, size_t errlen)
{
    bh_accesslog *lg = bh_xcalloc(1, sizeof *lg);
    pthread_mutex_init(&lg->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lg->wake, &ca);
    pthread_condattr_destroy(&ca);
    lg->rings = bh_xcalloc((size_t)n_rings, sizeof *lg->rings);
    lg->n_rings = n_rings;
    for (int i = 0; i < n_rings; i++) {
        void *mem = NULL; /* aligned: the two counters sit on cache lines of their own */
        if (posix_memalign(&mem, CACHE_LINE, sizeof(bh_access_ring)) != 0)
            break;
        bh_access_ring *r = mem;
        memset(r, 0, offsetof(bh_access_ring, slots)); /* records are written before read */
        r->lg = lg;
        lg->rings[i] = r;
    }
    int rc = n_rings > 0 && lg->rings[n_rings - 1]
                 ? pthread_create(&lg->thread, NULL, logger_main, lg)
                 : ENOMEM;
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the access-log thread: %s", strerror(rc));
        accesslog_free(lg);
        return NULL;
    }
    return lg;
}

bh_access_ring *bh_accesslog_ring(bh_accesslog *lg, int i)
{
    return lg->rings[i];
}

unsigned long bh_accesslog_overflows(const bh_accesslog *lg)
{
    unsigned long total = 0;
    for (int i = 0; lg && i < lg->n_rings; i++)
        total += atomic_load_explicit(&lg->rings[i]->overflows, memory_order_relaxed);
    return total;
}

void bh_accesslog_stop(bh_accesslog *lg)
{
    if (!lg)
        return;
    struct sched_param normal = {0}; /* the last round must not wait for idle CPU */
    pthread_setschedparam(lg->thread, SCHED_OTHER, &normal);
    pthread_mutex_lock(&lg->lock);
    lg->stopping = 1;
    pthread_cond_signal(&lg->wake);
    pthread_mutex_unlock(&lg->lock);
    pthread_join(lg->thread, NULL);
    accesslog_free(lg);
}
