/* request.c - the SDK's request and response accessors (http.h).
 *
 * A bh_request wraps one evhttp_request.  Everything a plugin reads is
 * decoded once, into the request's arena, and handed out borrowed; the
 * response is kept here (status, content type, body) and handed to evhttp
 * only by bh_request_send(), after the handler and the unit of work are
 * done, so a failing unit can still replace it.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "input.h"
#include "request.h"
#include "server.h"

#define ARENA_BLOCK 4096

/* ---- arena ----------------------------------------------------------------- */

void *bh_req_alloc(bh_request *req, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (sizeof req->inline_arena - req->inline_used >= size) {
        void *p = (char *)req->inline_arena + req->inline_used;
        req->inline_used += size;
        memset(p, 0, size);
        return p;
    }
    bh_arena_block *b = req->arena;
    if (!b || b->size - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = bh_xmalloc(sizeof *b + cap);
        b->size = cap;
        b->used = 0;
        b->next = req->arena;
        req->arena = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *bh_req_strdup(bh_request *req, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = bh_req_alloc(req, n);
    memcpy(p, s, n);
    return p;
}

static char *arena_strndup(bh_request *req, const char *s, size_t n)
{
    char *p = bh_req_alloc(req, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- construction ---------------------------------------------------------- */

static const char *method_name(enum evhttp_cmd_type t, unsigned *bit)
{
    switch (t) {
    case EVHTTP_REQ_GET: *bit = BH_M_GET; return "GET";
    case EVHTTP_REQ_HEAD: *bit = BH_M_HEAD; return "HEAD";
    case EVHTTP_REQ_POST: *bit = BH_M_POST; return "POST";
    case EVHTTP_REQ_PUT: *bit = BH_M_PUT; return "PUT";
    case EVHTTP_REQ_PATCH: *bit = BH_M_PATCH; return "PATCH";
    case EVHTTP_REQ_DELETE: *bit = BH_M_DELETE; return "DELETE";
    case EVHTTP_REQ_OPTIONS: *bit = BH_M_OPTIONS; return "OPTIONS";
    default: *bit = 0; return "OTHER";
    }
}

/* `src` into dst[size], cut if need be. */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void set_request_id(bh_request *req)
{
    const char *given =
        evhttp_find_header(evhttp_request_get_input_headers(req->ev), "X-Request-Id");
    if (bh_request_id_ok(given)) /* short and harmless: it is echoed and logged */
        copy_str(req->id, sizeof req->id, given);
    else if (req->worker)
        bh_idgen_hex(&req->worker->ids, req->id);
    else
        bh_random_hex_id(req->id);
}

/* The last X-Forwarded-For entry is the one our own load balancer added;
 * earlier ones are whatever the client claimed. */
static int client_from_forwarded(bh_request *req)
{
    const char *xff =
        evhttp_find_header(evhttp_request_get_input_headers(req->ev), "X-Forwarded-For");
    if (!xff)
        return -1;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ')
        last++;
    unsigned char tmp[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, last, tmp) != 1 && inet_pton(AF_INET6, last, tmp) != 1)
        return -1;
    copy_str(req->client, sizeof req->client, last);
    return 0;
}

static void set_client(bh_request *req)
{
    if (req->app->cfg->trust_forwarded_for && client_from_forwarded(req) == 0)
        return;
    char *host = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(req->ev), &host, &port);
    copy_str(req->client, sizeof req->client, host ? host : "-");
}

/* 1 when the percent-decoded `s` is UTF-8 text. */
static int decodes_to_utf8(const char *s, int decode_plus)
{
    size_t n = 0;
    char *dec = evhttp_uridecode(s, decode_plus, &n);
    int ok = dec && bh_utf8_valid(dec, n);
    free(dec);
    return ok;
}

/* Path and query.  Their decoded forms must be UTF-8 text: plugins put
 * parameters into JSON and bind them as SQL text, and PostgreSQL refuses
 * invalid UTF-8 where SQLite stores it, so a bad byte would be a 500 on
 * one driver and not the other.  NULL, or why the target is refused. */
static const char *set_path(bh_request *req)
{
    static const char not_path[] = "the request target is not a valid path";
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req->ev);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!raw || raw[0] != '/')
        return not_path;
    req->raw_path_len = strlen(raw);
    req->raw_path = arena_strndup(req, raw, req->raw_path_len);
    int ok, text;
    if (!memchr(raw, '%', req->raw_path_len)) { /* nothing to decode: most paths */
        ok = 1;
        text = bh_utf8_valid(raw, req->raw_path_len);
        req->path = text ? req->raw_path : NULL;
    } else {
        size_t dlen = 0;
        char *dec = evhttp_uridecode(raw, 0, &dlen);
        if (!dec)
            return not_path;
        ok = strlen(dec) == dlen; /* a %00 would hide the rest of the path */
        text = ok && bh_utf8_valid(dec, dlen);
        req->path = text ? arena_strndup(req, dec, dlen) : NULL;
        free(dec);
    }
    const char *q = evhttp_uri_get_query(uri);
    req->query_string = q ? bh_req_strdup(req, q) : NULL;
    if (!ok)
        return not_path;
    if (!text)
        return "the request path must decode to UTF-8 text";
    if (q && !decodes_to_utf8(q, 1))
        return "the query string must decode to UTF-8 text";
    return NULL;
}

/* A worker reuses the memory of its last request (a bh_request is over a
 * KiB: beyond malloc's per-thread cache, each new one was a trip through
 * its arena). */
bh_request *bh_request_new(bh_app *app, struct bh_worker *w, struct evhttp_request *ev)
{
    bh_request *req = w && w->spare ? w->spare : bh_xmalloc(sizeof *req);
    if (w)
        w->spare = NULL;
    memset(req, 0, offsetof(bh_request, inline_arena)); /* the arena needs no zeroing */
    req->app = app;
    req->worker = w;
    req->ev = ev;
    req->start_us = bh_now_us();
    req->method = method_name(evhttp_request_get_command(ev), &req->method_bit);
    TAILQ_INIT(&req->query);
    bh_unit_init(&req->unit, req->id, NULL, app->storage, w ? &w->db : NULL,
                 req->method_bit != BH_M_GET && req->method_bit != BH_M_HEAD);
    set_request_id(req);
    set_client(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    req->body_len = evbuffer_get_length(in);
    req->body = req->body_len ? evbuffer_pullup(in, -1) : NULL;
    if ((req->bad_target = set_path(req))) { /* the pipeline answers 400 */
        req->path = req->raw_path ? req->raw_path : "/";
    }
    return req;
}

void bh_request_free(bh_request *req)
{
    if (!req)
        return;
    for (bh_ctx_entry *e = req->ctx, *next; e; e = next) {
        next = e->next;
        if (e->free_fn)
            e->free_fn(e->value);
    }
    if (req->query_parsed)
        evhttp_clear_headers(&req->query);
    json_decref(req->json);
    struct bh_worker *w = req->worker;
    if (req->resp_body) { /* emptied by evhttp_send_reply: kept for the next */
        if (w && !w->spare_body && evbuffer_get_length(req->resp_body) == 0)
            w->spare_body = req->resp_body;
        else
            evbuffer_free(req->resp_body);
    }
    bh_unit_reset(&req->unit);
    for (bh_arena_block *b = req->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    if (w && !w->spare)
        w->spare = req;
    else
        free(req);
}

/* ---- reading --------------------------------------------------------------- */

const char *bh_req_method(const bh_request *req)
{
    return req->method;
}
const char *bh_req_path(const bh_request *req)
{
    return req->path;
}
const char *bh_req_id(const bh_request *req)
{
    return req->id;
}
const char *bh_req_client(const bh_request *req)
{
    return req->client;
}
const json_t *bh_req_json(const bh_request *req)
{
    return req->json;
}
bh_unit *bh_req_unit(bh_request *req)
{
    return &req->unit;
}
int bh_resp_status(const bh_request *req)
{
    return req->status;
}
size_t bh_req_bytes_in(const bh_request *req)
{
    return req->body_len;
}
size_t bh_req_bytes_out(const bh_request *req)
{
    return req->bytes_out;
}
int64_t bh_req_elapsed_us(const bh_request *req)
{
    return bh_now_us() - req->start_us;
}

const char *bh_req_param(const bh_request *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (!strcmp(req->param_names[i], name))
            return req->param_values[i];
    return NULL;
}

const char *bh_req_query(const bh_request *req, const char *name)
{
    if (!req->query_string)
        return NULL;
    bh_request *r = (bh_request *)req; /* parsed lazily, once */
    if (!r->query_parsed) {
        if (evhttp_parse_query_str(r->query_string, &r->query) != 0)
            evhttp_clear_headers(&r->query); /* malformed: treat as empty */
        r->query_parsed = 1;
    }
    return evhttp_find_header(&r->query, name);
}

const char *bh_req_header(const bh_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

const unsigned char *bh_req_body(const bh_request *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body;
}

const char *bh_req_route_template(const bh_request *req)
{
    return req->route ? req->route->tmpl : NULL;
}

bh_auth_kind bh_req_route_auth(const bh_request *req, const char **value)
{
    if (value)
        *value = req->route ? req->route->auth_value : NULL;
    return req->route ? req->route->auth : BH_AUTH_PUBLIC;
}

unsigned bh_req_route_flags(const bh_request *req)
{
    return req->route ? req->route->flags : 0;
}

const char *bh_req_route_plugin(const bh_request *req)
{
    return req && req->route && req->route->plugin ? req->route->plugin->name : NULL;
}

/* ---- context --------------------------------------------------------------- */

void bh_req_set(bh_request *req, const char *key, void *value, void (*free_fn)(void *))
{
    for (bh_ctx_entry *e = req->ctx; e; e = e->next) {
        if (!strcmp(e->key, key)) {
            if (e->free_fn && e->value != value)
                e->free_fn(e->value);
            e->value = value;
            e->free_fn = free_fn;
            return;
        }
    }
    bh_ctx_entry *e = bh_req_alloc(req, sizeof *e);
    e->key = bh_req_strdup(req, key);
    e->value = value;
    e->free_fn = free_fn;
    e->next = req->ctx;
    req->ctx = e;
}

void *bh_req_get(const bh_request *req, const char *key)
{
    for (const bh_ctx_entry *e = req->ctx; e; e = e->next)
        if (!strcmp(e->key, key))
            return e->value;
    return NULL;
}

/* ---- principal ------------------------------------------------------------- */

static const char *const *copy_list(bh_request *req, const char *const *list)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    const char **out = bh_req_alloc(req, (n + 1) * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = bh_req_strdup(req, list[i]);
    return out;
}

void bh_req_set_principal(bh_request *req, const bh_principal *p)
{
    bh_principal *c = bh_req_alloc(req, sizeof *c);
    c->sub = bh_req_strdup(req, p->sub ? p->sub : "");
    c->username = p->username ? bh_req_strdup(req, p->username) : NULL;
    c->email = p->email ? bh_req_strdup(req, p->email) : NULL;
    c->groups = copy_list(req, p->groups);
    c->scopes = copy_list(req, p->scopes);
    req->principal = c;
}

const bh_principal *bh_req_principal(const bh_request *req)
{
    return req->principal;
}

static int list_has(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (!strcmp(list[i], s))
            return 1;
    return 0;
}

int bh_principal_in_group(const bh_principal *p, const char *group)
{
    return p && group && list_has(p->groups, group);
}

int bh_principal_has_scope(const bh_principal *p, const char *scope)
{
    return p && scope && list_has(p->scopes, scope);
}

int bh_req_owner_or_admin(const bh_request *req, const char *owner_sub)
{
    const bh_principal *p = req->principal;
    if (!p)
        return 0;
    return (owner_sub && !strcmp(p->sub, owner_sub)) || bh_principal_in_group(p, "admin");
}

/* ---- responses ------------------------------------------------------------- */

static struct evbuffer *reset_body(bh_request *req)
{
    struct bh_worker *w = req->worker;
    if (req->resp_body) {
        evbuffer_drain(req->resp_body, evbuffer_get_length(req->resp_body));
    } else if (w && w->spare_body) {
        req->resp_body = w->spare_body;
        w->spare_body = NULL;
    } else if (!(req->resp_body = evbuffer_new())) {
        abort();
    }
    return req->resp_body;
}

void bh_resp_bytes(bh_request *req, int status, const char *content_type, const void *data,
                   size_t len)
{
    struct evbuffer *b = reset_body(req);
    if (len)
        evbuffer_add(b, data, len);
    req->status = status;
    req->content_type = content_type ? bh_req_strdup(req, content_type) : NULL;
}

void bh_resp_empty(bh_request *req, int status)
{
    bh_resp_bytes(req, status, NULL, NULL, 0);
}

static void resp_json_typed(bh_request *req, int status, json_t *body, const char *type)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        bh_resp_problem_simple(req, 500, "internal", "Internal Server Error",
                               "the response could not be encoded");
        return;
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* overwrite the NUL: the body ends with a newline */
    bh_resp_bytes(req, status, type, text, n + 1);
    free(text);
}

void bh_resp_json(bh_request *req, int status, json_t *body)
{
    resp_json_typed(req, status, body, "application/json");
}

int bh_resp_header(bh_request *req, const char *name, const char *value)
{
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return -1;
    return evhttp_add_header(evhttp_request_get_output_headers(req->ev), name, value);
}

static void send_problem(bh_request *req, json_t *problem)
{
    int status = (int)json_integer_value(json_object_get(problem, "status"));
    resp_json_typed(req, status, problem, "application/problem+json");
}

void bh_resp_problem_simple(bh_request *req, int status, const char *type, const char *title,
                            const char *detail)
{
    send_problem(req, bh_problem_new(status, type, title, detail, req->id));
}

void bh_resp_problem(bh_request *req, int status, const char *type, const char *title,
                     const char *detail_fmt, ...)
{
    char detail[1024] = "";
    if (detail_fmt) {
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(detail, sizeof detail, detail_fmt, ap);
        va_end(ap);
    }
    bh_resp_problem_simple(req, status, type, title, detail_fmt ? detail : NULL);
}

void bh_resp_problem_fields(bh_request *req, int status, const char *title, json_t *errors)
{
    json_t *p =
        bh_problem_new(status, "validation", title, "one or more fields are invalid", req->id);
    json_object_set_new(p, "errors", errors ? errors : json_array());
    send_problem(req, p);
}

void bh_problem_field(json_t **errors, const char *pointer, const char *detail_fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof detail, detail_fmt, ap);
    va_end(ap);
    if (!*errors)
        *errors = json_array();
    json_t *e = json_pack("{s:s, s:s}", "pointer", pointer, "detail", detail);
    if (e)
        json_array_append_new(*errors, e);
}

/* ---- sending --------------------------------------------------------------- */

/* The Date header, formatted once a second per worker (evhttp would format
 * it for every response).  English names whatever the locale. */
static const char *worker_date(struct bh_worker *w)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != w->date_sec || !w->date[0]) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(w->date, sizeof w->date, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        w->date_sec = ts.tv_sec;
    }
    return w->date;
}

void bh_request_finish(bh_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req->ev);
    if (req->status == 0)
        bh_resp_problem_simple(req, 500, "internal", "Internal Server Error",
                               "the handler produced no response");
    evhttp_add_header(h, "X-Request-Id", req->id);
    if (req->worker)
        evhttp_add_header(h, "Date", worker_date(req->worker));
    if (req->content_type)
        evhttp_add_header(h, "Content-Type", req->content_type);
    if (atomic_load(&req->app->draining))
        evhttp_add_header(h, "Connection", "close");
    req->bytes_out = req->resp_body ? evbuffer_get_length(req->resp_body) : 0;
    if (req->method_bit == BH_M_HEAD && req->bytes_out > 0) {
        /* libevent 2.1 would send the body: announce its length, drop it */
        char len[24];
        snprintf(len, sizeof len, "%zu", req->bytes_out);
        evhttp_add_header(h, "Content-Length", len);
        evbuffer_drain(req->resp_body, req->bytes_out);
        req->bytes_out = 0;
    }
}

void bh_request_send(bh_request *req)
{
    /* evhttp may free req->ev inside this call (client already gone): it is
     * the last use of req->ev. */
    evhttp_send_reply(req->ev, req->status, bh_status_reason(req->status), req->resp_body);
    req->ev = NULL;
}
