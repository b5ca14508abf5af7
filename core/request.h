/* request.h - the bh_request behind the SDK's opaque handle.
 *
 * One bh_request per HTTP request, created by the pipeline when evhttp has
 * read a complete request, freed when the answer has been handed to evhttp.
 * It owns a small arena for request-scoped memory, the context entries
 * plugins attach, the pending response and the unit of work.
 */
#ifndef BH_REQUEST_H
#define BH_REQUEST_H

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core.h"
#include "unit.h"

struct bh_worker;

typedef struct bh_arena_block {
    struct bh_arena_block *next;
    size_t used, size;
    max_align_t data[];
} bh_arena_block;

typedef struct bh_ctx_entry {
    struct bh_ctx_entry *next;
    char *key;
    void *value;
    void (*free_fn)(void *);
} bh_ctx_entry;

struct bh_request {
    bh_app *app;
    struct bh_worker *worker;
    struct evhttp_request *ev;
    int64_t start_us;

    const char *method;
    unsigned method_bit;
    const char *raw_path; /* arena copy, still percent-encoded */
    size_t raw_path_len;
    const char *path;         /* decoded */
    const char *query_string; /* may be NULL */
    struct evkeyvalq query;
    int query_parsed;

    char id[129];
    char client[64];

    const unsigned char *body;
    size_t body_len;
    json_t *json;

    bh_route_entry *route;
    int nparams;
    const char *param_names[BH_ROUTER_MAX_PARAMS];
    const char *param_values[BH_ROUTER_MAX_PARAMS];

    bh_principal *principal;
    bh_ctx_entry *ctx;

    const char *bad_target; /* why the target is refused, or NULL */
    int status;             /* 0 until a response is set */
    const char *content_type;
    struct evbuffer *resp_body;
    size_t bytes_out;

    struct bh_unit unit;
    bh_arena_block *arena;        /* chain of extra blocks, newest first */
    size_t inline_used;           /* bytes taken from inline_arena */
    max_align_t inline_arena[64]; /* the first KiB needs no malloc */
};

/* Create a request for `ev`; reads method, path, query, id, client, body.
 * A target that cannot be decoded, or whose path or query does not decode
 * to UTF-8, sets bad_target (the pipeline answers 400).  Never NULL. */
bh_request *bh_request_new(bh_app *app, struct bh_worker *w, struct evhttp_request *ev);
void bh_request_free(bh_request *req);

/* Fix the response: default 500 when none was set, X-Request-Id,
 * Content-Type, Connection: close while draining; bytes_out is final. */
void bh_request_finish(bh_request *req);
/* Hand the response to evhttp.  The last use of the evhttp request. */
void bh_request_send(bh_request *req);

/* Response helpers used by the core itself. */
void bh_resp_problem_simple(bh_request *req, int status, const char *type, const char *title,
                            const char *detail);

#endif
