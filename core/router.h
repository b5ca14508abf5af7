/* router.h - method + path-template routing compiled to PCRE2.
 *
 * Templates are absolute paths whose segments are literals or named
 * parameters: "/events/{id}/ticket-types".  Each template compiles to one
 * anchored PCRE2 pattern (JIT-compiled where available) with a named group
 * per parameter matching one non-empty segment ([^/]+).  Matching works on
 * the raw (still percent-encoded) path; the caller decodes parameter values.
 *
 * Precedence: at each segment a literal beats a parameter, so "/orders/mine"
 * wins over "/orders/{id}" whatever the registration order.  Two templates
 * of the same method with the same shape ("/a/{x}" and "/a/{y}") conflict.
 *
 * The router is built on the main thread, then frozen by bh_router_finalize
 * and read concurrently by every worker; a bh_match belongs to one thread.
 */
#ifndef BH_ROUTER_H
#define BH_ROUTER_H

#include <stddef.h>

#define BH_ROUTER_MAX_PARAMS 8
#define BH_ROUTER_ERR_MAX 256

/* Methods as a bit mask, so 405 answers can list Allow. */
enum {
    BH_M_GET = 1u << 0,
    BH_M_HEAD = 1u << 1,
    BH_M_POST = 1u << 2,
    BH_M_PUT = 1u << 3,
    BH_M_PATCH = 1u << 4,
    BH_M_DELETE = 1u << 5,
    BH_M_OPTIONS = 1u << 6
};

/* "GET" -> BH_M_GET; 0 for anything else. */
unsigned bh_method_bit(const char *method);
/* Write "GET, HEAD, POST" style list of `mask` into buf. */
void bh_methods_format(unsigned mask, char *buf, size_t len);

typedef struct bh_router bh_router;

typedef struct bh_match {
    void *route;      /* the data given to bh_router_add */
    const char *tmpl; /* the matched template */
    int nparams;
    const char *names[BH_ROUTER_MAX_PARAMS]; /* borrowed from the router */
    size_t value_off[BH_ROUTER_MAX_PARAMS];  /* offsets into the path */
    size_t value_len[BH_ROUTER_MAX_PARAMS];
    unsigned allowed; /* on BH_ROUTE_METHOD: methods the path has */
    void *md;         /* per-thread PCRE2 match data */
} bh_match;

typedef enum { BH_ROUTE_FOUND = 0, BH_ROUTE_NOT_FOUND, BH_ROUTE_METHOD } bh_route_result;

bh_router *bh_router_new(void);
void bh_router_free(bh_router *r);

/* Add `method` (one BH_M_* bit, not HEAD/OPTIONS) + template.  Returns 0, or
 * -1 with a message in err: malformed template (not starting with '/', empty
 * segment, bad parameter name, duplicate parameter name, more than
 * BH_ROUTER_MAX_PARAMS, '{' inside a literal), or a conflict ("GET /a/{y}
 * conflicts with GET /a/{x}"). */
int bh_router_add(bh_router *r, unsigned method, const char *tmpl, void *data, char *err,
                  size_t errlen);

/* Compile every template and sort by precedence.  Returns 0 or -1 with err. */
int bh_router_finalize(bh_router *r, char *err, size_t errlen);

/* Prepare / release a match for one thread. */
int bh_match_init(bh_match *m, const bh_router *r);
void bh_match_free(bh_match *m);

/* Match `path` (raw, no query string, length `len`) for `method` (one bit;
 * HEAD matches GET routes).  FOUND fills route/tmpl/params; METHOD means the
 * path exists under other methods (see m->allowed, which includes HEAD when
 * GET is there, and OPTIONS); NOT_FOUND otherwise. */
bh_route_result bh_router_match(const bh_router *r, unsigned method, const char *path, size_t len,
                                bh_match *m);

/* Iterate over routes in precedence order (for OpenAPI): returns the count
 * and fills *tmpl, *method, *data of entry i. */
size_t bh_router_count(const bh_router *r);
void bh_router_entry(const bh_router *r, size_t i, const char **tmpl, unsigned *method,
                     void **data);

#endif
