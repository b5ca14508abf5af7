/* bilhetagem/http.h - routes, requests, responses and request hooks.
 *
 * A handler runs synchronously on the worker thread that accepted the
 * connection.  It reads the request through the bh_req_* accessors and
 * describes its answer with the bh_resp_* functions; the core sends the
 * answer after the handler returns (and, once storage exists, after the
 * handler's unit of work committed).  A response with status >= 400 marks the
 * unit of work failed: nothing it published is delivered.
 *
 * Memory: every `const char *` returned by a bh_req_* function is borrowed
 * from the request and valid until the handler (or hook) returns.  Memory a
 * plugin needs for the life of one request comes from bh_req_alloc() and is
 * freed with the request.  A handler never frees what the core gave it.
 *
 * Threads: every bh_req_* / bh_resp_* function may be called only on the
 * worker thread that runs the request, during a handler or hook.
 */
#ifndef BILHETAGEM_HTTP_H
#define BILHETAGEM_HTTP_H

#include <bilhetagem/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bh_request bh_request;
typedef struct bh_unit bh_unit; /* see bilhetagem/events.h */

/* ---- routes -------------------------------------------------------------- */

typedef enum bh_auth_kind {
    BH_AUTH_PUBLIC = 0,    /* anyone */
    BH_AUTH_AUTHENTICATED, /* any valid principal */
    BH_AUTH_ROLE,          /* a principal in group `auth_value` ("admin") */
    BH_AUTH_SCOPE          /* a principal holding scope `auth_value` */
} bh_auth_kind;

enum {
    BH_ROUTE_JSON_BODY = 1u << 0, /* body must be application/json; the core
                                      answers 415 / 400 and the handler reads
                                      bh_req_json() */
    BH_ROUTE_IDEMPOTENT = 1u << 1 /* Idempotency-Key required (storage) */
};

/* A handler returns 0 after setting a response, or -1 on an internal error
 * (the core answers 500 and logs it with the request id).  Returning 0
 * without a response is a bug and also answers 500. */
typedef int (*bh_handler_fn)(bh_request *req, void *arg);

typedef struct bh_route {
    const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path;   /* template: "/orders/{id}"; a parameter is
                                [A-Za-z_][A-Za-z0-9_]* and matches one
                                non-empty segment */
    bh_handler_fn handler;
    void *arg; /* handed back to the handler */
    bh_auth_kind auth;
    const char *auth_value; /* group or scope for ROLE / SCOPE */
    unsigned flags;         /* BH_ROUTE_* */
    const char *rate_class; /* rate-limit class from the config, NULL =
                                "default", "none" = never limited */
    const char *openapi;    /* JSON text of the OpenAPI 3.1 Operation
                                Object (summary, parameters, requestBody,
                                responses...), or NULL */
} bh_route;

/* Register a route.  The core copies what it needs.  Fails (-1, with the
 * reason in the plugin's error) on a malformed template, invalid OpenAPI
 * JSON, or a template that conflicts with an existing route of the same
 * method (same shape, e.g. /a/{x} and /a/{y}).  Literal segments take
 * precedence over parameters at match time. */
int bh_route_add(bh_plugin_ctx *ctx, const bh_route *route);

/* ---- request hooks ------------------------------------------------------- */

typedef enum bh_hook_phase {
    BH_HOOK_BEGIN = 0, /* before routing: no route yet */
    BH_HOOK_ROUTED,    /* after the match and authorization, before the
                          handler: bh_req_route_*() are valid */
    BH_HOOK_END        /* after the response was handed to the network:
                          status, sizes and duration are final */
} bh_hook_phase;

/* BEGIN and ROUTED hooks return BH_NEXT to go on, or BH_DONE after setting a
 * response to answer the request without running the handler.  END hooks'
 * return value is ignored.  Hooks run in plugin dependency order. */
enum { BH_NEXT = 0, BH_DONE = 1 };
typedef int (*bh_hook_fn)(bh_request *req, void *arg);

int bh_hook_add(bh_plugin_ctx *ctx, bh_hook_phase phase, bh_hook_fn fn, void *arg);

/* The authorizer: exactly one plugin may install one.  It runs after the
 * route matched, for every route whose auth is not BH_AUTH_PUBLIC, and
 * either attaches a principal (bh_req_set_principal) and returns BH_NEXT, or
 * sets a 401/403 response and returns BH_DONE.  It also runs on public
 * routes so a present token can still identify the caller; there it must
 * not refuse.  Registering routes that need auth with no authorizer
 * installed is a startup error (fail closed). */
int bh_authorizer_set(bh_plugin_ctx *ctx, bh_hook_fn fn, void *arg);

/* ---- reading the request ------------------------------------------------- */

const char *bh_req_method(const bh_request *req); /* "GET" ... */
const char *bh_req_path(const bh_request *req);   /* decoded path, no query */
const char *bh_req_id(const bh_request *req);     /* the request id */
const char *bh_req_client(const bh_request *req); /* client IP address */

/* Path parameter by template name ("id" for /orders/{id}), percent-decoded,
 * or NULL.  Always valid UTF-8: the core answers 400 to a path or query
 * string that does not decode to UTF-8 before any plugin sees it. */
const char *bh_req_param(const bh_request *req, const char *name);
/* First query-string value for `name`, decoded (valid UTF-8), or NULL. */
const char *bh_req_query(const bh_request *req, const char *name);
/* Request header (case-insensitive name), or NULL. */
const char *bh_req_header(const bh_request *req, const char *name);

/* Raw body bytes (not NUL-terminated) and their length. */
const unsigned char *bh_req_body(const bh_request *req, size_t *len);
/* The decoded JSON body on BH_ROUTE_JSON_BODY routes (borrowed, valid for
 * the request), else NULL. */
const json_t *bh_req_json(const bh_request *req);

/* Matched route metadata (NULL / PUBLIC before routing). */
const char *bh_req_route_template(const bh_request *req);
bh_auth_kind bh_req_route_auth(const bh_request *req, const char **value);
unsigned bh_req_route_flags(const bh_request *req);
const char *bh_req_route_plugin(const bh_request *req);

/* The unit of work this request's handler runs in (bilhetagem/events.h). */
bh_unit *bh_req_unit(bh_request *req);

/* Request-scoped memory, zeroed, freed with the request.  Never NULL: the
 * process aborts on out-of-memory like the rest of the core. */
void *bh_req_alloc(bh_request *req, size_t size);
char *bh_req_strdup(bh_request *req, const char *s);

/* Request-scoped context: plugins attach values under a key they own
 * ("xray.trace").  `free_fn` (may be NULL) runs when the request ends.
 * Setting an existing key replaces (and frees) the old value. */
void bh_req_set(bh_request *req, const char *key, void *value, void (*free_fn)(void *));
void *bh_req_get(const bh_request *req, const char *key);

/* ---- pagination --------------------------------------------------------------
 * Every list is paginated the same way: ?limit= (default 20, 1..100) and an
 * opaque ?cursor= taken from the previous page's "next_cursor".  A plugin
 * chooses its own cursor key (text such as "1764417600000|3f0c...", the sort
 * columns of the last row it returned); the core only wraps it so clients
 * treat it as opaque. */
typedef struct bh_page {
    int limit;         /* 1 .. 100 */
    const char *after; /* the key given to bh_page_cursor() for the previous
                          page, or NULL on the first page; printable ASCII,
                          at most 512 bytes; borrowed from the request */
} bh_page;

/* Read ?limit= and ?cursor=.  Returns 0, or -1 after setting a 400
 * problem+json naming the parameter (limit not an integer in 1..100, a
 * cursor that does not decode).  A plugin must still validate the decoded
 * key's shape and answer 400 when it is not one it made. */
int bh_req_page(bh_request *req, bh_page *page);

/* The opaque cursor for `key` (printable ASCII, at most 512 bytes), in
 * request memory; NULL when key is not acceptable. */
const char *bh_page_cursor(bh_request *req, const char *key);

/* Answer a page: 200 {"items": items, "next_cursor": the cursor for
 * next_key, or null when next_key is NULL (the last page)}.  Steals
 * `items` (an array).  Returns 0, or -1 when the answer cannot be built (a
 * next_key bh_page_cursor refuses: a bug; the handler returns -1). */
int bh_resp_page(bh_request *req, json_t *items, const char *next_key);

/* Answer the 400 bh_req_page gives for a cursor that does not decode, for
 * one that decodes to a key this list never makes. */
void bh_resp_bad_cursor(bh_request *req);

/* ---- the principal ------------------------------------------------------- */

typedef struct bh_principal {
    const char *sub;           /* stable subject id */
    const char *username;      /* may be NULL */
    const char *email;         /* may be NULL */
    const char *const *groups; /* NULL-terminated, may be empty */
    const char *const *scopes; /* NULL-terminated, may be empty */
} bh_principal;

/* Attach the caller's identity.  The core deep-copies `p` into request
 * memory.  Authorizer only. */
void bh_req_set_principal(bh_request *req, const bh_principal *p);
/* The caller, or NULL on an anonymous request.  Borrowed. */
const bh_principal *bh_req_principal(const bh_request *req);
int bh_principal_in_group(const bh_principal *p, const char *group);
int bh_principal_has_scope(const bh_principal *p, const char *scope);
/* 1 when the caller is `owner_sub` or in group "admin".  Domain plugins
 * answer 404 (not 403) when this is 0, so other users' resources are not
 * even confirmed to exist. */
int bh_req_owner_or_admin(const bh_request *req, const char *owner_sub);

/* ---- writing the response ------------------------------------------------ */

/* JSON response; steals the reference to `body`. */
void bh_resp_json(bh_request *req, int status, json_t *body);
/* Arbitrary body, copied. */
void bh_resp_bytes(bh_request *req, int status, const char *content_type, const void *data,
                   size_t len);
/* Empty body (204, 304...). */
void bh_resp_empty(bh_request *req, int status);
/* Add a response header (copied).  Returns -1 on CR/LF in name or value. */
int bh_resp_header(bh_request *req, const char *name, const char *value);

/* RFC 9457 problem+json.  `type` is a stable slug documented in
 * docs/api.md ("not-found", "validation"); the core expands it to
 * "https://bilhetagem.dev/problems/<slug>" and sets instance = request id. */
void bh_resp_problem(bh_request *req, int status, const char *type, const char *title,
                     const char *detail_fmt, ...) BH_PRINTF(5, 6);
/* Validation problem (status 400 or 422) with `errors`: a JSON array of
 * {"pointer": "/items/0/quantity", "detail": "..."} objects (stolen). */
void bh_resp_problem_fields(bh_request *req, int status, const char *title, json_t *errors);
/* Append one {"pointer","detail"} to `errors` (created when *errors is
 * NULL).  A helper for handlers that collect every invalid field. */
void bh_problem_field(json_t **errors, const char *pointer, const char *detail_fmt, ...)
    BH_PRINTF(3, 4);
/* The JSON pointer (RFC 6901) of member `key` of the value at `parent` (""
 * for the body itself, "/items/0"): parent + "/" + key with "~" written
 * "~0" and "/" written "~1", NUL-terminated in out (len bytes).  A key too
 * long for out is cut at a UTF-8 character boundary, so a client's huge key
 * never comes back whole.  Returns out.  Pure (core/sdkjson.c needs nothing
 * else of the core): any thread, in or out of a request. */
char *bh_json_pointer(char *out, size_t len, const char *parent, const char *key);

/* The status set so far, 0 when none. */
int bh_resp_status(const bh_request *req);

/* For END hooks (and any later phase): request body bytes received, response
 * body bytes sent, and microseconds since the request was received. */
size_t bh_req_bytes_in(const bh_request *req);
size_t bh_req_bytes_out(const bh_request *req);
int64_t bh_req_elapsed_us(const bh_request *req);

#ifdef __cplusplus
}
#endif
#endif
