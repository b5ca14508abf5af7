/* pipeline.c - the path of one request through the core.
 *
 *   evhttp has read the request -> bh_request (id, client, path, body)
 *   -> BEGIN hooks -> header-size limit -> router (404 / 405 / OPTIONS)
 *   -> rate limit (per client and route class) -> authorizer
 *   -> ROUTED hooks -> JSON body (415 / 400) -> Idempotency-Key shape
 *   -> handler -> END hooks, access log, metrics -> send
 *   -> events of a successful unit delivered -> free
 *
 * END hooks run just before the response is handed to evhttp because
 * evhttp may free its request inside evhttp_send_reply (client gone); the
 * status and sizes they see are final by then.
 *
 * Everything here runs on the worker thread that accepted the connection.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "idempotency.h"
#include "input.h"
#include "outbox.h"
#include "request.h"
#include "server.h"

static int run_hooks(bh_request *req, bh_hook_phase phase)
{
    const bh_vec *v = &req->app->hooks[phase];
    for (size_t i = 0; i < v->len; i++) {
        const bh_hook *h = bh_vec_at(v, i);
        if (h->fn(req, h->arg) == BH_DONE && phase != BH_HOOK_END) {
            if (!req->status)
                bh_resp_problem_simple(req, 500, "internal", NULL,
                                       "a hook stopped the request without a response");
            return BH_DONE;
        }
    }
    return BH_NEXT;
}

/* Headers over the configured limit (but under libevent's hard ceiling,
 * which answers on its own) are refused with 431. */
static int headers_too_large(bh_request *req)
{
    size_t total = strlen(evhttp_request_get_uri(req->ev)) + 16;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req->ev), next)
        total += strlen(kv->key) + strlen(kv->value) + 4;
    if (total <= req->app->cfg->max_header_bytes)
        return 0;
    bh_resp_header(req, "Connection", "close");
    bh_resp_problem(req, 431, "headers-too-large", NULL,
                    "request line and headers exceed %zu bytes", req->app->cfg->max_header_bytes);
    return 1;
}

static void set_params(bh_request *req, const bh_match *m)
{
    req->nparams = 0;
    for (int i = 0; i < m->nparams; i++) {
        char *raw = bh_req_alloc(req, m->value_len[i] + 1);
        memcpy(raw, req->raw_path + m->value_off[i], m->value_len[i]);
        size_t n = 0;
        char *dec = evhttp_uridecode(raw, 0, &n);
        req->param_names[i] = m->names[i];
        req->param_values[i] = dec && strlen(dec) == n ? bh_req_strdup(req, dec) : raw;
        free(dec);
        req->nparams++;
    }
}

static int route_request(bh_request *req, bh_worker *w)
{
    bh_match *m = &w->match;
    switch (
        bh_router_match(req->app->router, req->method_bit, req->raw_path, req->raw_path_len, m)) {
    case BH_ROUTE_FOUND:
        req->route = m->route;
        req->unit.publisher = req->route->plugin;
        set_params(req, m);
        return BH_NEXT;
    case BH_ROUTE_METHOD: {
        char allow[128];
        bh_methods_format(m->allowed, allow, sizeof allow);
        bh_resp_header(req, "Allow", allow);
        if (req->method_bit == BH_M_OPTIONS)
            bh_resp_empty(req, 204);
        else
            bh_resp_problem(req, 405, "method-not-allowed", NULL,
                            "%s is not allowed on this resource; allowed: %s", req->method, allow);
        return BH_DONE;
    }
    default:
        bh_resp_problem(req, 404, "not-found", NULL, "no resource at this path");
        return BH_DONE;
    }
}

static int rate_limited(bh_request *req, bh_worker *w)
{
    if (!w->srv->ratelimit || req->route->rate_class == SIZE_MAX)
        return 0;
    int wait =
        bh_ratelimit_take(w->srv->ratelimit, req->route->rate_class, req->client, req->start_us);
    if (wait == 0)
        return 0;
    char secs[16];
    snprintf(secs, sizeof secs, "%d", wait);
    bh_resp_header(req, "Retry-After", secs);
    bh_resp_problem(req, 429, "rate-limited", NULL,
                    "too many requests from this client; retry in %d s", wait);
    return 1;
}

static int authorize(bh_request *req)
{
    const bh_hook *a = &req->app->authorizer;
    if (a->fn && a->fn(req, a->arg) == BH_DONE) {
        if (!req->status)
            bh_resp_problem_simple(req, 500, "internal", NULL,
                                   "the authorizer refused without a response");
        return BH_DONE;
    }
    /* Fail closed: whatever the authorizer did, the core checks the route's
     * requirement against the principal it left. */
    const bh_route_entry *r = req->route;
    if (r->auth != BH_AUTH_PUBLIC && !req->principal) {
        bh_resp_header(req, "WWW-Authenticate", "Bearer");
        bh_resp_problem(req, 401, "unauthorized", NULL, "authentication is required");
        return BH_DONE;
    }
    if ((r->auth == BH_AUTH_ROLE && !bh_principal_in_group(req->principal, r->auth_value)) ||
        (r->auth == BH_AUTH_SCOPE && !bh_principal_has_scope(req->principal, r->auth_value))) {
        bh_resp_problem(req, 403, "forbidden", NULL, "this operation needs the %s %s",
                        r->auth_value, r->auth == BH_AUTH_ROLE ? "role" : "scope");
        return BH_DONE;
    }
    return BH_NEXT;
}

static int decode_json_body(bh_request *req)
{
    if (!bh_is_json_type(bh_req_header(req, "Content-Type"))) {
        bh_resp_problem(req, 415, "unsupported-media-type", NULL,
                        "the body must be application/json");
        return BH_DONE;
    }
    if (req->body_len == 0) {
        bh_resp_problem(req, 400, "malformed-json", NULL, "a JSON body is required");
        return BH_DONE;
    }
    json_error_t e;
    req->json = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!req->json) {
        bh_resp_problem(req, 400, "malformed-json", NULL, "invalid JSON at byte %d: %s", e.position,
                        e.text);
        return BH_DONE;
    }
    int depth = req->app->cfg->max_json_depth;
    if (bh_json_depth_exceeds(req->json, depth)) {
        bh_resp_problem(req, 400, "malformed-json", NULL, "JSON nesting is deeper than %d levels",
                        depth);
        return BH_DONE;
    }
    return BH_NEXT;
}

/* 1-255 printable ASCII characters (the storage layer stores and replays). */
static int check_idempotency_key(bh_request *req)
{
    if (bh_idempotency_key_ok(bh_req_header(req, "Idempotency-Key")))
        return BH_NEXT;
    bh_resp_problem(
        req, 400, "idempotency-key", NULL,
        "this operation requires an Idempotency-Key header of 1-255 printable characters");
    return BH_DONE;
}

static void run_handler(bh_request *req)
{
    const bh_route_entry *r = req->route;
    int rc = r->handler(req, r->arg);
    if (rc != 0 || req->status == 0) {
        bh_req_log(req, BH_LOG_ERROR, "handler for %s %s failed (rc=%d, status=%d)", r->method,
                   r->tmpl, rc, req->status);
        bh_resp_problem_simple(req, 500, "internal", NULL,
                               "an internal error occurred; quote the instance when reporting it");
    }
}

/* Forget the response of a run that will be repeated. */
static void reset_response(bh_request *req)
{
    req->status = 0;
    req->content_type = NULL;
    if (req->resp_body)
        evbuffer_drain(req->resp_body, evbuffer_get_length(req->resp_body));
    evhttp_clear_headers(evhttp_request_get_output_headers(req->ev));
}

static void retry_pause(bh_worker *w, int attempt)
{
    /* 5 ms, 10 ms, 20 ms... with full jitter: two conflicting requests
     * should not collide again in lockstep. */
    char id[33];
    bh_idgen_hex(&w->ids, id);
    long max_us = 5000L << (attempt < 6 ? attempt : 6);
    long us = (long)(strtoul(id + 24, NULL, 16) % (unsigned long)max_us);
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* The handler's unit ended with `s`: settle what the client is told. */
static void settle_unit(bh_request *req, bh_db_status s)
{
    switch (s) {
    case BH_DB_OK: return;
    case BH_DB_RETRY:
    case BH_DB_UNAVAILABLE:
        bh_req_log(req, BH_LOG_WARN, "database unavailable: %s", req->unit.error);
        reset_response(req);
        bh_resp_header(req, "Retry-After", "1");
        bh_resp_problem(req, 503, "unavailable", NULL,
                        "the database is unavailable; retry shortly");
        return;
    case BH_DB_CONSTRAINT:
        if (req->status >= 400)
            return; /* the handler answered the conflict */
        reset_response(req);
        bh_resp_problem(req, 409, "conflict", NULL, "the change conflicts with existing data");
        return;
    default:
        if (req->status >= 500)
            return;
        bh_req_log(req, BH_LOG_ERROR, "database error in %s %s: %s", req->route->method,
                   req->route->tmpl, req->unit.error);
        reset_response(req);
        bh_resp_problem(req, 500, "internal", NULL,
                        "an internal error occurred; quote the instance when reporting it");
    }
}

/* Run the handler in its unit; re-run it when the database asks to. */
static void run_in_unit(bh_request *req, bh_worker *w)
{
    int retries = req->app->storage ? req->app->cfg->storage.max_retries : 0;
    int idem = req->route->flags & BH_ROUTE_IDEMPOTENT;
    for (int attempt = 0;; attempt++) {
        run_handler(req);
        if (idem && req->status < 400)
            bh_idem_record_in_unit(req); /* stored iff the work commits */
        int published = req->unit.published;
        bh_db_status s = bh_unit_end(&req->unit, req->status < 400);
        if (s == BH_DB_RETRY && attempt < retries) {
            reset_response(req);
            bh_unit_reset(&req->unit);
            retry_pause(w, attempt);
            continue;
        }
        if (s == BH_DB_OK && published && req->app->outbox)
            bh_outbox_wake(req->app->outbox);
        settle_unit(req, s);
        if (idem && req->status >= 400)
            bh_idem_settle(req, w);
        return;
    }
}

static void process(bh_request *req, bh_worker *w)
{
    if (req->bad_target) {
        bh_resp_problem(req, 400, "bad-request", NULL, "%s", req->bad_target);
        return;
    }
    if (run_hooks(req, BH_HOOK_BEGIN) == BH_DONE || headers_too_large(req))
        return;
    if (route_request(req, w) == BH_DONE || rate_limited(req, w))
        return;
    if (authorize(req) == BH_DONE || run_hooks(req, BH_HOOK_ROUTED) == BH_DONE)
        return;
    if ((req->route->flags & BH_ROUTE_JSON_BODY) && decode_json_body(req) == BH_DONE)
        return;
    if ((req->route->flags & BH_ROUTE_IDEMPOTENT) &&
        (check_idempotency_key(req) == BH_DONE || bh_idem_claim(req, w) == BH_DONE))
        return;
    run_in_unit(req, w);
}

/* One access line per request: the worker copies its fields into a record
 * of its ring for the access-log thread to encode, or, when the ring is
 * full, encodes it itself (accesslog.c). */
static void copy_field(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void access_log(bh_worker *w, const bh_request *req, int64_t us)
{
    bh_access_rec own;
    bh_access_rec *r = bh_access_reserve(w->access);
    if (!r)
        r = &own;
    clock_gettime(CLOCK_REALTIME, &r->time);
    r->duration_us = us;
    r->bytes_in = req->body_len;
    r->bytes_out = req->bytes_out;
    r->method = req->method;
    r->route = req->route ? req->route->tmpl : NULL;
    r->status = req->status;
    copy_field(r->request_id, sizeof r->request_id, req->id);
    copy_field(r->client, sizeof r->client, req->client);
    bh_trace_id(&req->unit, r->trace_id); /* xray: "" when the request has no trace */
    if (r == &own)
        bh_access_encode(&w->access_own, r);
    else
        bh_access_commit(w->access);
}

static void on_complete(struct evhttp_request *ev, void *arg)
{
    (void)ev;
    bh_worker *w = arg;
    atomic_fetch_sub_explicit(&w->inflight, 1, memory_order_relaxed);
    bh_metrics_inflight_add(w->srv->metrics, -1);
}

void bh_pipeline_handle(struct evhttp_request *ev, void *arg)
{
    bh_worker *w = arg;
    bh_app *app = w->srv->app;
    bh_request *req = bh_request_new(app, w, ev);
    const bh_unit *outer = bh_log_scope(&req->unit); /* plugin log lines name the request */
    atomic_fetch_add_explicit(&w->inflight, 1, memory_order_relaxed);
    bh_metrics_inflight_add(w->srv->metrics, 1);
    evhttp_request_set_on_complete_cb(ev, on_complete, w);

    process(req, w);
    bh_request_finish(req);
    int64_t us = bh_now_us() - req->start_us;
    run_hooks(req, BH_HOOK_END);
    if (w->access)
        access_log(w, req, us);
    bh_metrics_observe(w->srv->metrics, req->route ? req->route->index : 0, req->method_bit,
                       req->status, us);

    bh_pending_event *events = NULL;
    if (req->status < 400) { /* a successful unit: its events go out */
        events = req->unit.events;
        req->unit.events = NULL;
    }
    bh_request_send(req);
    bh_log_scope(outer);
    if (events)
        bh_events_deliver(app, events, req->id);
    bh_request_free(req);
}
