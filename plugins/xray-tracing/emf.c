/* emf.c - CloudWatch Embedded Metric Format: requests aggregated per route
 * per interval, and the service's domain counters.
 *
 * Why aggregate: one EMF line per request would make CloudWatch Logs ingest
 * (and bill) a log event per request only to sum them again.  Instead each
 * route keeps, for the current interval, its request count, its 4xx and 5xx
 * counts and a latency histogram (buckets 10% wide from 0.05 ms to ~3 min),
 * and the flusher writes one line per route per interval (60 s by default):
 *
 *   {"_aws": {"Timestamp": ..., "CloudWatchMetrics": [{"Namespace": "Bilhetagem",
 *     "Dimensions": [["Service", "Route"], ["Service"]],
 *     "Metrics": [{"Name": "RequestCount", "Unit": "Count"}, ...]}]},
 *    "Service": "bilhetagem", "Route": "POST /orders", "RequestCount": 412,
 *    "Latency": [1.2, 1.3, ...], "Http4xx": 3, "Http5xx": 0}
 *
 * Latency is an array of at most 100 values (EMF's limit): the 100
 * quantiles of the interval's histogram, so CloudWatch's p50 / p99 of that
 * line are the interval's p50 / p99 to within a bucket.  Its sample count
 * is therefore not the request count: RequestCount is.
 *
 * Then one service line: the delta of every domain counter since the last
 * flush, named in CamelCase (orders_created -> OrdersCreated), and
 * OutboxLag (ms).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xray.h"

#define LAT_BUCKETS 160
#define LAT_BASE_MS 0.05
#define LAT_FACTOR 1.1
#define LAT_VALUES_MAX 100  /* EMF: at most 100 values per metric */
#define EMF_METRICS_MAX 100 /* EMF: at most 100 metrics per directive */

typedef struct route_stat {
    char *key;
    uint64_t count, c4xx, c5xx;
    uint32_t hist[LAT_BUCKETS];
} route_stat;

typedef struct counter_seen {
    char *name;
    int64_t last;
} counter_seen;

struct xr_emf {
    pthread_mutex_t lock; /* routes: workers observe, the flusher drains */
    char *ns, *service;
    route_stat *routes;
    size_t n, max;
    counter_seen *seen; /* the flusher's own: previous counter values */
    size_t nseen;
};

xr_emf *xr_emf_new(const char *ns, const char *service, size_t max_routes)
{
    xr_emf *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL); /* first: xr_emf_free destroys it */
    m->ns = strdup(ns);
    m->service = strdup(service);
    m->routes = calloc(max_routes + 1, sizeof *m->routes); /* +1: "other" */
    m->max = max_routes;
    if (!m->ns || !m->service || !m->routes) {
        xr_emf_free(m);
        return NULL;
    }
    return m;
}

void xr_emf_free(xr_emf *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->routes && i < m->n; i++)
        free(m->routes[i].key);
    pthread_mutex_destroy(&m->lock);
    for (size_t i = 0; i < m->nseen; i++)
        free(m->seen[i].name);
    free(m->seen);
    free(m->routes);
    free(m->ns);
    free(m->service);
    free(m);
}

static size_t bucket_of(double ms)
{
    if (!(ms > LAT_BASE_MS))
        return 0;
    double i = floor(log(ms / LAT_BASE_MS) / log(LAT_FACTOR)) + 1;
    return i >= LAT_BUCKETS ? LAT_BUCKETS - 1 : (size_t)i;
}

/* A bucket's value: the geometric middle of its bounds, to 3 decimals. */
static double bucket_value(size_t i)
{
    double v = i == 0 ? LAT_BASE_MS / 2 : LAT_BASE_MS * pow(LAT_FACTOR, (double)i - 0.5);
    return round(v * 1000.0) / 1000.0;
}

/* The route's figures, added while fewer than `limit` routes are kept. */
static route_stat *find_or_add(xr_emf *m, const char *route, size_t limit)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->routes[i].key, route))
            return &m->routes[i];
    if (m->n >= limit || !(m->routes[m->n].key = strdup(route)))
        return NULL;
    return &m->routes[m->n++];
}

void xr_emf_observe(xr_emf *m, const char *route, int status, double latency_ms)
{
    size_t b = bucket_of(latency_ms);
    pthread_mutex_lock(&m->lock);
    route_stat *r = find_or_add(m, route, m->max);
    if (!r) /* more routes than max_routes: the rest share one line */
        r = find_or_add(m, "other", m->max + 1);
    if (r) {
        r->count++;
        r->c4xx += status >= 400 && status < 500;
        r->c5xx += status >= 500;
        if (r->hist[b] < UINT32_MAX)
            r->hist[b]++;
    }
    pthread_mutex_unlock(&m->lock);
}

void xr_emf_metric_name(const char *counter, char *out, size_t len)
{
    size_t o = 0;
    int up = 1;
    for (const char *p = counter; *p && o + 1 < len; p++) {
        if (*p == '_') {
            up = 1;
            continue;
        }
        out[o++] = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        up = 0;
    }
    out[o] = '\0';
}

static json_t *directive(const xr_emf *m, int64_t now_ms, json_t *dimensions, json_t *metrics)
{
    return json_pack("{s:{s:I, s:[{s:s, s:o, s:o}]}}", "_aws", "Timestamp", (json_int_t)now_ms,
                     "CloudWatchMetrics", "Namespace", m->ns, "Dimensions", dimensions, "Metrics",
                     metrics);
}

static json_t *metric(const char *name, const char *unit)
{
    return json_pack("{s:s, s:s}", "Name", name, "Unit", unit);
}

/* The k quantiles of a histogram of `count` values, k = min(count, 100). */
static json_t *latency_values(const route_stat *r)
{
    json_t *a = json_array();
    uint64_t k = r->count < LAT_VALUES_MAX ? r->count : LAT_VALUES_MAX;
    size_t b = 0;
    uint64_t below = 0; /* values in buckets before b */
    for (uint64_t j = 0; j < k; j++) {
        /* rank of the (j + 0.5) / k quantile, 0-based */
        uint64_t rank = (uint64_t)(((double)j + 0.5) / (double)k * (double)r->count);
        while (b < LAT_BUCKETS - 1 && below + r->hist[b] <= rank)
            below += r->hist[b++];
        json_array_append_new(a, json_real(bucket_value(b)));
    }
    return a;
}

/* The request figures of one route, or of the whole service (route NULL).
 * Each line carries one dimension set: the service-wide series comes from
 * the service line's own histogram of every request, never from merging the
 * routes' quantiles (a route with 3 slow requests would otherwise weigh as
 * much as one with 60 000 fast ones in the service's p99). */
static json_t *request_line(const xr_emf *m, const route_stat *r, int64_t now_ms)
{
    json_t *dims =
        r->key ? json_pack("[[s, s]]", "Service", "Route") : json_pack("[[s]]", "Service");
    json_t *line = directive(m, now_ms, dims,
                             json_pack("[o, o, o, o]", metric("RequestCount", "Count"),
                                       metric("Latency", "Milliseconds"),
                                       metric("Http4xx", "Count"), metric("Http5xx", "Count")));
    if (!line)
        return NULL;
    json_object_set_new(line, "Service", json_string(m->service));
    if (r->key)
        xr_set_str(line, "Route", r->key, 1024);
    json_object_set_new(line, "RequestCount", json_integer((json_int_t)r->count));
    json_object_set_new(line, "Latency", latency_values(r));
    json_object_set_new(line, "Http4xx", json_integer((json_int_t)r->c4xx));
    json_object_set_new(line, "Http5xx", json_integer((json_int_t)r->c5xx));
    return line;
}

typedef struct service_ctx {
    xr_emf *m;
    json_t *line, *metrics;
} service_ctx;

/* Names the service line owns, which no counter may take over. */
static int reserved(const char *emf_name)
{
    static const char *const own[] = {"Service", "OutboxLag", NULL};
    for (size_t i = 0; own[i]; i++)
        if (!strcmp(own[i], emf_name))
            return 1;
    return 0;
}

static void add_counter(const char *name, const char *help, int64_t value, void *arg)
{
    (void)help;
    service_ctx *c = arg;
    xr_emf *m = c->m;
    char emf_name[96];
    xr_emf_metric_name(name, emf_name, sizeof emf_name);
    /* A name that would clash (a counter "service", "a_b" after "ab") or a
     * directive past EMF's 100 metrics would make CloudWatch drop the whole
     * line: such a counter stays in /metrics only. */
    if (reserved(emf_name) || json_object_get(c->line, emf_name) ||
        json_array_size(c->metrics) >= EMF_METRICS_MAX - 1)
        return;
    counter_seen *s = NULL;
    for (size_t i = 0; i < m->nseen; i++)
        if (!strcmp(m->seen[i].name, name))
            s = &m->seen[i];
    if (!s) {
        counter_seen *grown = realloc(m->seen, (m->nseen + 1) * sizeof *grown);
        if (!grown)
            return;
        m->seen = grown;
        if (!(grown[m->nseen].name = strdup(name)))
            return;
        grown[m->nseen].last = 0;
        s = &grown[m->nseen++];
    }
    json_array_append_new(c->metrics, metric(emf_name, "Count"));
    json_object_set_new(c->line, emf_name, json_integer(value - s->last));
    s->last = value;
}

static json_t *service_line(xr_emf *m, int64_t now_ms, int64_t lag_ms, xr_counters_fn counters)
{
    json_t *metrics = json_array();
    json_t *line = directive(m, now_ms, json_pack("[[s]]", "Service"), json_incref(metrics));
    if (!line) {
        json_decref(metrics);
        return NULL;
    }
    json_object_set_new(line, "Service", json_string(m->service));
    service_ctx c = {m, line, metrics};
    if (counters)
        counters(add_counter, &c);
    if (lag_ms >= 0) {
        json_array_append_new(metrics, metric("OutboxLag", "Milliseconds"));
        json_object_set_new(line, "OutboxLag", json_integer(lag_ms));
    }
    size_t n = json_array_size(metrics);
    json_decref(metrics);
    if (n == 0) {
        json_decref(line);
        return NULL;
    }
    return line;
}

void xr_emf_flush(xr_emf *m, int64_t now_ms, int64_t lag_ms, xr_counters_fn counters,
                  void (*out)(json_t *line, void *arg), void *arg)
{
    /* Take the interval's figures under the lock, build lines outside it. */
    pthread_mutex_lock(&m->lock);
    size_t n = m->n;
    route_stat *taken = n ? malloc(n * sizeof *taken) : NULL;
    if (taken) {
        memcpy(taken, m->routes, n * sizeof *taken);
        memset(m->routes, 0, n * sizeof *m->routes); /* keys move to `taken` */
        m->n = 0;
    }
    pthread_mutex_unlock(&m->lock);
    route_stat all = {0}; /* every request of the interval, for the service line */
    for (size_t i = 0; taken && i < n; i++) {
        json_t *line = taken[i].count ? request_line(m, &taken[i], now_ms) : NULL;
        if (line)
            out(line, arg);
        all.count += taken[i].count;
        all.c4xx += taken[i].c4xx;
        all.c5xx += taken[i].c5xx;
        for (size_t b = 0; b < LAT_BUCKETS; b++)
            all.hist[b] = taken[i].hist[b] > UINT32_MAX - all.hist[b]
                              ? UINT32_MAX
                              : all.hist[b] + taken[i].hist[b];
        free(taken[i].key);
    }
    free(taken);
    if (all.count) {
        json_t *line = request_line(m, &all, now_ms);
        if (line)
            out(line, arg);
    }
    json_t *line = service_line(m, now_ms, lag_ms, counters);
    if (line)
        out(line, arg);
}
