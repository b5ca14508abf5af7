/* metrics.c - request counters, latency histograms and the in-flight gauge,
 * rendered as Prometheus text (exposition format 0.0.4).
 *
 * Everything a worker touches is allocated once in bh_metrics_new: one
 * `series` per (route, method slot), holding a counter per status slot, the
 * histogram buckets and the duration sum.  bh_metrics_observe is a handful of
 * relaxed atomic adds; GET /metrics walks the table and prints only the
 * series that have seen a request, so the output grows with traffic actually
 * served, not with routes x methods x statuses.
 *
 * Status slots.  A slot for every status 100..599 would cost 4 KB per
 * (route, method) for codes that never occur, so the table keeps:
 *   - one slot per common status (the list below), rendered as the number;
 *   - one fallback slot per class, rendered "1xx".."5xx" for any other code
 *     in that class, so error-rate queries such as status=~"5.." still see a
 *     rare 507;
 *   - one "other" slot for values outside 100..599.
 * Method slots are the seven BH_M_* bits plus "OTHER" for anything that is
 * not exactly one of them (defensive: libevent itself answers methods outside
 * the allowed set with 501 before the core sees them).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "router.h"

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* ---- fixed dimensions ---------------------------------------------------- */

/* Indexed by the bit position of BH_M_*; the last slot catches the rest. */
static const char *const method_names[] = {"GET",   "HEAD",   "POST",    "PUT",
                                           "PATCH", "DELETE", "OPTIONS", "OTHER"};
#define N_METHODS (sizeof method_names / sizeof method_names[0])
#define METHOD_OTHER (N_METHODS - 1)

_Static_assert(BH_M_GET == 1u << 0 && BH_M_HEAD == 1u << 1 && BH_M_POST == 1u << 2 &&
                   BH_M_PUT == 1u << 3 && BH_M_PATCH == 1u << 4 && BH_M_DELETE == 1u << 5 &&
                   BH_M_OPTIONS == 1u << 6,
               "method_names[] follows the BH_M_* bit order");

static const int common_statuses[] = {200, 201, 202, 204, 301, 302, 304, 400, 401,
                                      403, 404, 405, 409, 410, 412, 413, 415, 422,
                                      429, 431, 500, 501, 502, 503, 504};
#define N_COMMON (sizeof common_statuses / sizeof common_statuses[0])
#define N_CLASSES 5 /* 1xx .. 5xx */
#define SLOT_OTHER (N_COMMON + N_CLASSES)
#define N_STATUS_SLOTS (SLOT_OTHER + 1)
#define STATUS_MIN 100
#define STATUS_MAX 599

/* Upper bounds, inclusive ("le"), in microseconds; +Inf is the last. */
static const struct {
    int64_t le_us;
    const char *label;
} buckets[] = {
    {500, "0.0005"},  {1000, "0.001"},  {2500, "0.0025"}, {5000, "0.005"},  {10000, "0.01"},
    {25000, "0.025"}, {50000, "0.05"},  {100000, "0.1"},  {250000, "0.25"}, {500000, "0.5"},
    {1000000, "1"},   {2500000, "2.5"}, {5000000, "5"},   {10000000, "10"}, {INT64_MAX, "+Inf"},
};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

/* ---- the tables ---------------------------------------------------------- */

typedef struct series {
    _Atomic uint64_t status[N_STATUS_SLOTS];
    _Atomic uint64_t bucket[N_BUCKETS]; /* per bucket, not cumulative */
    _Atomic uint64_t sum_us;
} series;

struct bh_metrics {
    size_t n_routes;
    char **route_labels; /* already escaped for a label */
    series *cells;       /* [n_routes][N_METHODS] */
    unsigned char slot_of_status[STATUS_MAX + 1];
    atomic_long inflight;
};

/* Escape a label value: backslash, double quote and newline. */
static char *escape_label(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += (*p == '\\' || *p == '"' || *p == '\n') ? 2 : 1;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || *p == '"') {
            *o++ = '\\';
            *o++ = *p;
        } else if (*p == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static void build_status_slots(bh_metrics *m)
{
    for (int s = STATUS_MIN; s <= STATUS_MAX; s++)
        m->slot_of_status[s] = (unsigned char)(N_COMMON + s / 100 - 1);
    for (size_t i = 0; i < N_COMMON; i++)
        m->slot_of_status[common_statuses[i]] = (unsigned char)i;
}

bh_metrics *bh_metrics_new(const char *const *route_templates, size_t n_routes)
{
    if (!route_templates || n_routes == 0 || n_routes > SIZE_MAX / (N_METHODS * sizeof(series)))
        return NULL;
    bh_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->route_labels = calloc(n_routes, sizeof *m->route_labels);
    m->cells = calloc(n_routes * N_METHODS, sizeof *m->cells);
    if (!m->route_labels || !m->cells)
        goto fail;
    m->n_routes = n_routes;
    for (size_t i = 0; i < n_routes; i++) {
        if (!route_templates[i])
            goto fail;
        m->route_labels[i] = escape_label(route_templates[i]);
        if (!m->route_labels[i])
            goto fail;
    }
    build_status_slots(m);
    atomic_init(&m->inflight, 0);
    return m;
fail:
    bh_metrics_free(m);
    return NULL;
}

void bh_metrics_free(bh_metrics *m)
{
    if (!m)
        return;
    if (m->route_labels)
        for (size_t i = 0; i < m->n_routes; i++)
            free(m->route_labels[i]);
    free(m->route_labels);
    free(m->cells);
    free(m);
}

/* ---- recording ----------------------------------------------------------- */

static size_t method_slot(unsigned method_bit)
{
    for (size_t i = 0; i < METHOD_OTHER; i++)
        if (method_bit == 1u << i)
            return i;
    return METHOD_OTHER;
}

static size_t status_slot(const bh_metrics *m, int status)
{
    if (status < STATUS_MIN || status > STATUS_MAX)
        return SLOT_OTHER;
    return m->slot_of_status[status];
}

static size_t bucket_of(int64_t duration_us)
{
    size_t i = 0;
    while (duration_us > buckets[i].le_us) /* the +Inf bound stops it */
        i++;
    return i;
}

static series *cell_at(const bh_metrics *m, size_t route, size_t method)
{
    return &m->cells[route * N_METHODS + method];
}

void bh_metrics_observe(bh_metrics *m, size_t route_index, unsigned method_bit, int status,
                        int64_t duration_us)
{
    if (!m)
        return;
    if (route_index >= m->n_routes)
        route_index = 0; /* counted as "unmatched" */
    if (duration_us < 0)
        duration_us = 0;
    series *c = cell_at(m, route_index, method_slot(method_bit));
    atomic_fetch_add_explicit(&c->status[status_slot(m, status)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->bucket[bucket_of(duration_us)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->sum_us, (uint64_t)duration_us, memory_order_relaxed);
}

void bh_metrics_inflight_add(bh_metrics *m, int delta)
{
    if (m)
        atomic_fetch_add_explicit(&m->inflight, delta, memory_order_relaxed);
}

long bh_metrics_inflight(const bh_metrics *m)
{
    if (!m)
        return 0;
    return atomic_load_explicit(&m->inflight, memory_order_relaxed);
}

/* ---- a growable text buffer ---------------------------------------------- */

/* Appends never report failure one by one: the first failed allocation
 * marks the buffer and later appends do nothing, checked once at the end. */
typedef struct textbuf {
    char *data;
    size_t len, cap;
    int failed;
} textbuf;

static int textbuf_grow(textbuf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len <= need) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

static void textbuf_printf(textbuf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void textbuf_printf(textbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        if (textbuf_grow(b, (size_t)n) < 0) {
            b->failed = 1;
            return;
        }
    }
}

/* ---- rendering ----------------------------------------------------------- */

static void status_label(size_t slot, char out[8])
{
    if (slot < N_COMMON)
        snprintf(out, 8, "%d", common_statuses[slot]);
    else if (slot < SLOT_OTHER)
        snprintf(out, 8, "%zuxx", slot - N_COMMON + 1);
    else
        snprintf(out, 8, "other");
}

static void render_counters(const bh_metrics *m, textbuf *b)
{
    textbuf_printf(b, "# HELP bilhetagem_http_requests_total HTTP requests by route "
                      "template, method and status.\n"
                      "# TYPE bilhetagem_http_requests_total counter\n");
    for (size_t r = 0; r < m->n_routes; r++)
        for (size_t meth = 0; meth < N_METHODS; meth++) {
            series *c = cell_at(m, r, meth);
            for (size_t s = 0; s < N_STATUS_SLOTS; s++) {
                uint64_t n = atomic_load_explicit(&c->status[s], memory_order_relaxed);
                if (n == 0)
                    continue;
                char status[8];
                status_label(s, status);
                textbuf_printf(b,
                               "bilhetagem_http_requests_total{route=\"%s\","
                               "method=\"%s\",status=\"%s\"} %llu\n",
                               m->route_labels[r], method_names[meth], status,
                               (unsigned long long)n);
            }
        }
}

/* One histogram series.  The buckets are read once and accumulated here, so
 * le="+Inf" and _count always agree even while workers keep adding. */
static void render_histogram_series(const bh_metrics *m, textbuf *b, size_t r, size_t meth)
{
    series *c = cell_at(m, r, meth);
    uint64_t per_bucket[N_BUCKETS], total = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        per_bucket[i] = atomic_load_explicit(&c->bucket[i], memory_order_relaxed);
        total += per_bucket[i];
    }
    if (total == 0)
        return;
    const char *route = m->route_labels[r], *method = method_names[meth];
    uint64_t cumulative = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        cumulative += per_bucket[i];
        textbuf_printf(b,
                       "bilhetagem_http_request_duration_seconds_bucket"
                       "{route=\"%s\",method=\"%s\",le=\"%s\"} %llu\n",
                       route, method, buckets[i].label, (unsigned long long)cumulative);
    }
    /* Microseconds printed as exact decimal seconds, no float rounding. */
    uint64_t sum = atomic_load_explicit(&c->sum_us, memory_order_relaxed);
    textbuf_printf(b,
                   "bilhetagem_http_request_duration_seconds_sum"
                   "{route=\"%s\",method=\"%s\"} %llu.%06llu\n",
                   route, method, (unsigned long long)(sum / 1000000),
                   (unsigned long long)(sum % 1000000));
    textbuf_printf(b,
                   "bilhetagem_http_request_duration_seconds_count"
                   "{route=\"%s\",method=\"%s\"} %llu\n",
                   route, method, (unsigned long long)total);
}

static void render_histograms(const bh_metrics *m, textbuf *b)
{
    textbuf_printf(b, "# HELP bilhetagem_http_request_duration_seconds HTTP request "
                      "duration in seconds by route template and method.\n"
                      "# TYPE bilhetagem_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < m->n_routes; r++)
        for (size_t meth = 0; meth < N_METHODS; meth++)
            render_histogram_series(m, b, r, meth);
}

static void render_inflight(const bh_metrics *m, textbuf *b)
{
    textbuf_printf(b,
                   "# HELP bilhetagem_http_requests_in_flight HTTP requests currently "
                   "being handled.\n"
                   "# TYPE bilhetagem_http_requests_in_flight gauge\n"
                   "bilhetagem_http_requests_in_flight %ld\n",
                   bh_metrics_inflight(m));
}

char *bh_metrics_render(const bh_metrics *m, size_t *len)
{
    if (len)
        *len = 0;
    if (!m)
        return NULL;
    textbuf b = {0};
    render_counters(m, &b);
    render_histograms(m, &b);
    render_inflight(m, &b);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.data;
}
