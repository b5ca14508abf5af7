/* xray.c - the xray-tracing plugin: AWS X-Ray segments for every sampled
 * request and event delivery, and CloudWatch EMF metrics.
 *
 *   BEGIN hook   read X-Amzn-Trace-Id (or start a trace), decide sampling,
 *                open the segment, give the unit its trace header (events
 *                and outbound calls carry it on)
 *   tracer       (bilhetagem/trace.h) subsegments any plugin opens, and a
 *                segment per event delivery in the event's trace
 *   SQL observer a subsegment per statement, under the innermost open span
 *   END hook     response fields and flags, route and user, the response's
 *                X-Amzn-Trace-Id, send to the daemon; count for EMF
 *   flusher      a thread writing the EMF lines every flush interval
 *
 * State: the config, sampler, socket and EMF tables are built in init and
 * shared by the workers (the sampler and EMF tables lock, the socket needs
 * nothing); a request's trace lives in its context ("xray.trace").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xray.h"

#define SQL_TEXT_MAX 4000
#define HEADER_VALUE_MAX 1024

typedef struct xray {
    bh_plugin_ctx *ctx;
    xr_config cfg;
    xr_sampler sampler;
    xr_emitter emitter;
    const char *db_type; /* X-Ray's database_type, or NULL */
    const char *db_name; /* the SQL subsegments' name */
    xr_emf *emf;         /* NULL when EMF is off */
    pthread_t flusher;
    int flusher_started;
    pthread_mutex_t lock; /* stopping, and the flusher's sleep */
    pthread_cond_t wake;
    int stopping;
} xray;

/* One request's trace. */
typedef struct xr_req {
    bh_trace_ctx ctx; /* root, upstream parent, the decision */
    bh_span *segment; /* NULL when not sampled */
} xr_req;

static void xr_req_free(void *p)
{
    xr_req *r = p;
    xr_segment_free(r->segment);
    free(r);
}

static double ms_now(void)
{
    return xr_now() * 1000.0;
}

/* Give `unit` the header its events and outbound calls carry: the trace,
 * `parent` (the segment that is running) and the decision. */
static void set_unit_header(bh_unit *unit, const bh_trace_ctx *ctx, const char *parent)
{
    bh_trace_ctx c = *ctx;
    if (parent)
        snprintf(c.parent, sizeof c.parent, "%s", parent);
    char hdr[BH_TRACE_HEADER_MAX];
    if (bh_trace_header_format(&c, hdr, sizeof hdr) == 0)
        bh_unit_set_trace_header(unit, hdr);
}

/* Decide: an upstream Sampled=1/0 is honoured, else the rule. */
static int decide(xray *x, bh_trace_ctx *ctx)
{
    if (ctx->sampled < 0)
        ctx->sampled = xr_sample(&x->sampler, (int64_t)ms_now(), xr_rand01());
    return ctx->sampled;
}

/* ---- the request segment ----------------------------------------------------- */

static void request_fields(bh_request *req, bh_span *seg)
{
    const char *host = bh_req_header(req, "Host");
    const char *proto = bh_req_header(req, "X-Forwarded-Proto");
    char url[2048];
    snprintf(url, sizeof url, "%s://%.512s%.1400s",
             proto && !strcmp(proto, "https") ? "https" : "http", host ? host : "localhost",
             bh_req_path(req));
    xr_span_http_request(seg, bh_req_method(req), url);
    json_t *r = json_object_get(json_object_get(seg->doc, "http"), "request");
    xr_set_str(r, "client_ip", bh_req_client(req), 64);
    const char *ua = bh_req_header(req, "User-Agent");
    if (ua)
        xr_set_str(r, "user_agent", ua, HEADER_VALUE_MAX);
    if (bh_req_header(req, "X-Forwarded-For"))
        json_object_set_new(r, "x_forwarded_for", json_true());
}

static int on_begin(bh_request *req, void *arg)
{
    xray *x = arg;
    xr_req *r = calloc(1, sizeof *r);
    if (!r)
        return BH_NEXT; /* untraced rather than failed */
    double start = xr_now() - (double)bh_req_elapsed_us(req) / 1e6;
    if (bh_trace_header_parse(bh_req_header(req, "X-Amzn-Trace-Id"), &r->ctx) != 0)
        xr_trace_id(r->ctx.root, (int64_t)start); /* a new trace, undecided */
    bh_unit *unit = bh_req_unit(req);
    if (decide(x, &r->ctx))
        r->segment = xr_segment_new(x->cfg.service_name, r->ctx.root, r->ctx.parent, x->cfg.origin,
                                    x->cfg.max_subsegments, start);
    if (r->segment) {
        request_fields(req, r->segment);
        r->segment->unit = unit;
        bh_trace_set_current(unit, r->segment);
    }
    set_unit_header(unit, &r->ctx, r->segment ? xr_span_id(r->segment) : NULL);
    bh_req_set(req, "xray.trace", r, xr_req_free);
    return BH_NEXT;
}

static void response_fields(bh_request *req, bh_span *seg, int status)
{
    xr_span_status(seg, status, 0);
    json_t *resp = json_object_get(json_object_get(seg->doc, "http"), "response");
    if (resp)
        json_object_set_new(resp, "content_length",
                            json_integer((json_int_t)bh_req_bytes_out(req)));
    const char *tmpl = bh_req_route_template(req);
    if (tmpl)
        xr_annotate(seg, "route", tmpl);
    const bh_principal *p = bh_req_principal(req);
    if (p && p->sub)
        xr_set_str(seg->doc, "user", p->sub, 256);
}

static int on_end(bh_request *req, void *arg)
{
    xray *x = arg;
    int status = bh_resp_status(req);
    if (x->emf) {
        const char *tmpl = bh_req_route_template(req);
        char route[512];
        snprintf(route, sizeof route, "%s %s", bh_req_method(req), tmpl ? tmpl : "");
        xr_emf_observe(x->emf, tmpl ? route : "unmatched", status,
                       (double)bh_req_elapsed_us(req) / 1000.0);
    }
    xr_req *r = bh_req_get(req, "xray.trace");
    if (!r)
        return BH_NEXT;
    /* The response names the trace and the decision, as X-Ray SDKs answer. */
    bh_trace_ctx back = r->ctx;
    back.parent[0] = '\0';
    char hdr[BH_TRACE_HEADER_MAX];
    if (bh_trace_header_format(&back, hdr, sizeof hdr) == 0)
        bh_resp_header(req, "X-Amzn-Trace-Id", hdr);
    if (r->segment) {
        response_fields(req, r->segment, status);
        xr_span_close(r->segment, xr_now());
        bh_trace_set_current(bh_req_unit(req), NULL);
        xr_emit(&x->emitter, r->segment);
    }
    return BH_NEXT;
}

/* ---- the tracer (bilhetagem/trace.h) -------------------------------------------- */

static bh_span *tr_begin(void *arg, bh_unit *unit, const char *name, const char *ns)
{
    (void)arg;
    bh_span *s = xr_span_open(bh_trace_current(unit), name, ns, xr_now());
    if (s) {
        s->unit = unit;
        bh_trace_set_current(unit, s);
    }
    return s;
}

static void tr_http(void *arg, bh_span *span, const char *method, const char *url)
{
    (void)arg;
    xr_span_http_request(span, method, url);
}

static int is_within(const bh_span *s, const bh_span *ancestor)
{
    for (; s; s = s->parent)
        if (s == ancestor)
            return 1;
    return 0;
}

static void tr_end(void *arg, bh_span *span, int http_status, int error)
{
    (void)arg;
    if (!span->parent)
        return; /* a segment closes with its request or delivery, not here */
    xr_span_status(span, http_status, error);
    xr_span_close(span, xr_now());
    bh_span *cur = bh_trace_current(span->unit);
    if (cur && is_within(cur, span))
        bh_trace_set_current(span->unit, span->parent);
}

static void tr_annotate(void *arg, bh_unit *unit, const char *key, const char *value)
{
    (void)arg;
    bh_span *cur = bh_trace_current(unit);
    if (cur)
        xr_annotate(cur, key, value);
}

static int tr_header(void *arg, const bh_span *span, char *out, size_t len)
{
    (void)arg;
    bh_trace_ctx c = {.sampled = 1};
    snprintf(c.root, sizeof c.root, "%s", xr_trace_of(span));
    snprintf(c.parent, sizeof c.parent, "%s", xr_span_id(span));
    return bh_trace_header_format(&c, out, len);
}

static bh_span *tr_unit_begin(void *arg, bh_unit *unit, const char *what)
{
    xray *x = arg;
    bh_trace_ctx ctx;
    if (bh_trace_header_parse(bh_unit_trace_header(unit), &ctx) != 0)
        return NULL;
    bh_span *seg = NULL;
    if (decide(x, &ctx))
        seg = xr_segment_new(x->cfg.service_name, ctx.root, ctx.parent, x->cfg.origin,
                             x->cfg.max_subsegments, xr_now());
    if (seg) {
        xr_annotate(seg, "delivery", what);
        seg->unit = unit;
        bh_trace_set_current(unit, seg);
    }
    set_unit_header(unit, &ctx, seg ? xr_span_id(seg) : NULL);
    return seg;
}

static void tr_unit_end(void *arg, bh_unit *unit, bh_span *span, int error)
{
    xray *x = arg;
    if (span->parent)
        return; /* not a delivery segment */
    xr_span_status(span, 0, error);
    xr_span_close(span, xr_now());
    bh_trace_set_current(unit, NULL);
    xr_emit(&x->emitter, span);
    xr_segment_free(span);
}

/* ---- SQL ------------------------------------------------------------------------- */

static void on_sql(bh_unit *unit, const char *sql, int64_t duration_us, int64_t rows,
                   bh_db_status status, void *arg)
{
    xray *x = arg;
    bh_span *cur = bh_trace_current(unit);
    if (!cur)
        return; /* not traced: the common case costs this */
    double end = xr_now();
    bh_span *s = xr_span_open(cur, x->db_name, BH_TRACE_REMOTE, end - (double)duration_us / 1e6);
    if (!s)
        return;
    json_t *q = json_object();
    xr_set_str(q, "sanitized_query", sql, SQL_TEXT_MAX); /* $1.. placeholders: no values */
    json_object_set_new(q, "database_type", json_string(x->db_type));
    json_object_set_new(s->doc, "sql", q);
    json_object_set_new(s->doc, "metadata",
                        json_pack("{s:{s:I}}", "sql", "rows", (json_int_t)rows));
    if (status == BH_DB_CONSTRAINT)
        json_object_set_new(s->doc, "error", json_true());
    else if (status != BH_DB_OK)
        json_object_set_new(s->doc, "fault", json_true());
    xr_span_close(s, end);
}

/* ---- EMF flusher --------------------------------------------------------------- */

static void emf_out(json_t *line, void *arg)
{
    (void)arg;
    bh_emf_line(line);
}

static void emf_flush(xray *x)
{
    int64_t lag = -1;
    if (bh_db_driver_name() && bh_outbox_lag_ms(&lag) != 0)
        lag = -1;
    xr_emf_flush(x->emf, bh_time_ms(), lag, bh_counter_each, emf_out, x);
}

static void *flusher_main(void *arg)
{
    xray *x = arg;
    pthread_mutex_lock(&x->lock);
    while (!x->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += x->cfg.emf_flush_ms / 1000;
        until.tv_nsec += (x->cfg.emf_flush_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!x->stopping && pthread_cond_timedwait(&x->wake, &x->lock, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&x->lock);
        emf_flush(x); /* the last interval too, when stopping */
        pthread_mutex_lock(&x->lock);
    }
    pthread_mutex_unlock(&x->lock);
    bh_event_thread_done(); /* the connection bh_outbox_lag_ms opened */
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------- */

static void xray_free(xray *x)
{
    xr_emitter_close(&x->emitter);
    xr_sampler_destroy(&x->sampler);
    xr_emf_free(x->emf);
    pthread_cond_destroy(&x->wake);
    pthread_mutex_destroy(&x->lock);
    xr_config_free(&x->cfg);
    free(x);
}

static int setup_db(xray *x)
{
    const char *drv = bh_db_driver_name();
    if (!drv)
        return 0;
    x->db_name = drv;
    x->db_type = !strcmp(drv, "postgresql") ? "PostgreSQL"
                 : !strcmp(drv, "sqlite")   ? "SQLite"
                                            : drv;
    return bh_db_set_observer(x->ctx, on_sql, x);
}

static int xray_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    xray *x = calloc(1, sizeof *x);
    if (!x) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    x->ctx = ctx;
    x->emitter.fd = -1;
    pthread_mutex_init(&x->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&x->wake, &ca);
    pthread_condattr_destroy(&ca);
    xr_sampler_init(&x->sampler, 0, 0); /* now: xray_free destroys its lock */
    char err[512];
    if (xr_config_parse(config, &x->cfg, err, sizeof err) != 0) {
        bh_plugin_error(ctx, "%s", err);
        xray_free(x);
        return -1;
    }
    xr_sampler_destroy(&x->sampler);
    xr_sampler_init(&x->sampler, x->cfg.fixed_target, x->cfg.rate);
    if (xr_emitter_open(&x->emitter, x->cfg.daemon_address, x->cfg.max_datagram, err, sizeof err) !=
        0)
        /* The daemon's name may not resolve yet (a sidecar starting): trace
         * on, send nowhere, and say so once.  Never a reason not to serve. */
        bh_log(ctx, BH_LOG_WARN, "X-Ray daemon unreachable, segments are not sent: %s", err);
    bh_tracer tracer = {tr_begin,  tr_http,       tr_end,      tr_annotate,
                        tr_header, tr_unit_begin, tr_unit_end, x};
    if ((x->cfg.emf_enabled && !(x->emf = xr_emf_new(x->cfg.emf_namespace, x->cfg.service_name,
                                                     x->cfg.emf_max_routes))) ||
        bh_tracer_set(ctx, &tracer) != 0 || setup_db(x) != 0 ||
        bh_hook_add(ctx, BH_HOOK_BEGIN, on_begin, x) != 0 ||
        bh_hook_add(ctx, BH_HOOK_END, on_end, x) != 0) {
        if (x->cfg.emf_enabled && !x->emf)
            bh_plugin_error(ctx, "out of memory");
        xray_free(x);
        return -1;
    }
    bh_log(ctx, BH_LOG_INFO, "tracing as %s to %s (%d/s then %.4g%%)%s", x->cfg.service_name,
           x->cfg.daemon_address, x->cfg.fixed_target, x->cfg.rate * 100.0,
           x->emf ? "; EMF metrics on stdout" : "");
    *state = x;
    return 0;
}

static int xray_start(bh_plugin_ctx *ctx, void *state)
{
    xray *x = state;
    if (!x->emf)
        return 0;
    int rc = pthread_create(&x->flusher, NULL, flusher_main, x);
    if (rc != 0) {
        bh_plugin_error(ctx, "cannot start the EMF flusher thread: %s", strerror(rc));
        return -1;
    }
    x->flusher_started = 1;
    return 0;
}

static void xray_stop(bh_plugin_ctx *ctx, void *state)
{
    (void)ctx;
    xray *x = state;
    if (x->flusher_started) {
        pthread_mutex_lock(&x->lock);
        x->stopping = 1;
        pthread_cond_signal(&x->wake);
        pthread_mutex_unlock(&x->lock);
        pthread_join(x->flusher, NULL);
    }
    xray_free(x);
}

BH_PLUGIN(xray_tracing) = {
    .abi_version = BH_ABI_VERSION,
    .name = "xray-tracing",
    .version = "1.0",
    .depends = NULL,
    .init = xray_init,
    .start = xray_start,
    .stop = xray_stop,
    .ready = NULL,
};
