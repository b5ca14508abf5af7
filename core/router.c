/* router.c - method + path-template routing compiled to PCRE2.
 *
 * bh_router_add() checks a template against the grammar, records its shape
 * (the template with parameter names erased: "/a/{}") and refuses a second
 * route with the same method and shape.  bh_router_finalize() turns every
 * template into one anchored pattern ("/events/(?<id>[^/]+)/ticket-types"),
 * JIT-compiles it and sorts the routes so that, segment by segment, a
 * literal comes before a parameter.  bh_router_match() scans in that order.
 *
 * After finalize the router is read-only: matching never allocates and only
 * touches the caller's bh_match (whose PCRE2 match data is per thread), so
 * every worker can share one router.
 *
 * Two cheap checks run before PCRE2: the path must contain as many '/' as
 * the template, and must start with the template's literal prefix (the bytes
 * before its first parameter).  Both follow from the grammar: literals never
 * contain '/', and a parameter matches exactly one non-empty segment.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "router.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BH_PARAM_NAME_MAX 32

typedef struct bh_route {
    unsigned method;
    char *tmpl;
    char *shape; /* tmpl with parameter names erased: "/a/{}" */
    void *data;
    size_t prefix_len; /* bytes of tmpl before the first parameter */
    size_t nslash;     /* '/' in tmpl, i.e. its number of segments */
    int nparams;
    /* Group number i + 1 -> name: every group is a named parameter, and
     * PCRE2 numbers groups in the order they appear in the pattern. */
    char names[BH_ROUTER_MAX_PARAMS][BH_PARAM_NAME_MAX + 1];
    pcre2_code *code;
} bh_route;

struct bh_router {
    bh_route *routes;
    size_t n, cap;
    uint32_t max_groups; /* largest capture count; sizes the match data */
    int finalized;
};

/* In the order bh_methods_format() lists them. */
static const struct {
    const char *name;
    unsigned bit;
} methods[] = {
    {"GET", BH_M_GET},     {"HEAD", BH_M_HEAD},     {"POST", BH_M_POST},       {"PUT", BH_M_PUT},
    {"PATCH", BH_M_PATCH}, {"DELETE", BH_M_DELETE}, {"OPTIONS", BH_M_OPTIONS},
};
#define NMETHODS (sizeof methods / sizeof methods[0])

/* Bits a route may be registered under: HEAD and OPTIONS are derived. */
#define ROUTE_METHODS (BH_M_GET | BH_M_POST | BH_M_PUT | BH_M_PATCH | BH_M_DELETE)

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* ---- methods ------------------------------------------------------------ */

unsigned bh_method_bit(const char *method)
{
    size_t i;

    if (method == NULL)
        return 0;
    for (i = 0; i < NMETHODS; i++)
        if (strcmp(method, methods[i].name) == 0)
            return methods[i].bit;
    return 0;
}

static const char *method_name(unsigned bit)
{
    size_t i;

    for (i = 0; i < NMETHODS; i++)
        if (methods[i].bit == bit)
            return methods[i].name;
    return "?";
}

/* Only whole names are written: when the next one does not fit, the list
 * stops there, so a short buffer holds a shorter but well-formed list. */
void bh_methods_format(unsigned mask, char *buf, size_t len)
{
    size_t used = 0, i;

    if (buf == NULL || len == 0)
        return;
    buf[0] = '\0';
    for (i = 0; i < NMETHODS; i++) {
        size_t n = strlen(methods[i].name);
        size_t sep = used > 0 ? 2 : 0;

        if (!(mask & methods[i].bit))
            continue;
        if (used + sep + n >= len)
            break;
        memcpy(buf + used, ", ", sep);
        memcpy(buf + used + sep, methods[i].name, n + 1);
        used += sep + n;
    }
}

/* ---- template grammar --------------------------------------------------- */

static int is_alpha(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_alnum(int c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* RFC 3986 unreserved and sub-delims, plus ':' and '@'. */
static int is_literal_char(int c)
{
    return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

static int valid_name(const char *name, size_t len)
{
    size_t i;

    if (len == 0 || len > BH_PARAM_NAME_MAX)
        return 0;
    if (!is_alpha(name[0]) && name[0] != '_')
        return 0;
    for (i = 1; i < len; i++)
        if (!is_alnum(name[i]) && name[i] != '_')
            return 0;
    return 1;
}

static int check_literal(const char *tmpl, const char *seg, size_t n, char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)seg[i];

        if (c == '{' || c == '}') {
            set_err(err, errlen, "'{' or '}' inside a literal segment of '%s'", tmpl);
            return -1;
        }
        if (c == '%') {
            set_err(err, errlen, "'%%' not allowed in a literal segment of '%s'", tmpl);
            return -1;
        }
        if (!is_literal_char(c)) {
            set_err(err, errlen, "invalid character 0x%02x in '%s'", c, tmpl);
            return -1;
        }
    }
    return 0;
}

/* seg is "{name}" (n bytes, braces checked by the caller). */
static int add_param(bh_route *rt, const char *tmpl, const char *seg, size_t n, char *err,
                     size_t errlen)
{
    const char *name = seg + 1;
    size_t len = n - 2;
    int i;

    if (!valid_name(name, len)) {
        set_err(err, errlen, "bad parameter name '%.*s' in '%s'", (int)len, name, tmpl);
        return -1;
    }
    for (i = 0; i < rt->nparams; i++) {
        if (strlen(rt->names[i]) == len && memcmp(rt->names[i], name, len) == 0) {
            set_err(err, errlen, "duplicate parameter name '%.*s' in '%s'", (int)len, name, tmpl);
            return -1;
        }
    }
    if (rt->nparams == BH_ROUTER_MAX_PARAMS) {
        set_err(err, errlen, "more than %d parameters in '%s'", BH_ROUTER_MAX_PARAMS, tmpl);
        return -1;
    }
    memcpy(rt->names[rt->nparams], name, len);
    rt->names[rt->nparams][len] = '\0';
    rt->nparams++;
    return 0;
}

/* Check tmpl (already known to start with '/') and fill rt's parameter
 * names, counts and prefix, and `shape` (room for strlen(tmpl) + 1). */
static int parse_template(bh_route *rt, const char *tmpl, char *shape, char *err, size_t errlen)
{
    const char *p = tmpl;

    rt->prefix_len = strlen(tmpl);
    if (strcmp(tmpl, "/") == 0) {
        rt->nslash = 1;
        strcpy(shape, "/");
        return 0;
    }
    while (*p == '/') {
        const char *seg = p + 1;
        size_t n = strcspn(seg, "/");

        rt->nslash++;
        *shape++ = '/';
        if (n == 0) {
            set_err(err, errlen, "empty segment in '%s'", tmpl);
            return -1;
        }
        if (n >= 2 && seg[0] == '{' && seg[n - 1] == '}') {
            if (add_param(rt, tmpl, seg, n, err, errlen) < 0)
                return -1;
            if (rt->nparams == 1)
                rt->prefix_len = (size_t)(seg - tmpl);
            memcpy(shape, "{}", 2);
            shape += 2;
        } else {
            if (check_literal(tmpl, seg, n, err, errlen) < 0)
                return -1;
            memcpy(shape, seg, n);
            shape += n;
        }
        p = seg + n;
    }
    *shape = '\0';
    return 0;
}

/* ---- building ----------------------------------------------------------- */

bh_router *bh_router_new(void)
{
    return calloc(1, sizeof(bh_router));
}

void bh_router_free(bh_router *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++) {
        free(r->routes[i].tmpl);
        free(r->routes[i].shape);
        pcre2_code_free(r->routes[i].code);
    }
    free(r->routes);
    free(r);
}

static const bh_route *find_conflict(const bh_router *r, unsigned method, const char *shape)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        if (r->routes[i].method == method && strcmp(r->routes[i].shape, shape) == 0)
            return &r->routes[i];
    return NULL;
}

static int reserve_one(bh_router *r)
{
    size_t cap;
    bh_route *routes;

    if (r->n < r->cap)
        return 0;
    cap = r->cap > 0 ? r->cap * 2 : 16;
    routes = realloc(r->routes, cap * sizeof *routes);
    if (routes == NULL)
        return -1;
    r->routes = routes;
    r->cap = cap;
    return 0;
}

/* Validate and check for conflicts; on success rt owns tmpl and shape. */
static int prepare_route(const bh_router *r, bh_route *rt, unsigned method, const char *tmpl,
                         char *err, size_t errlen)
{
    const bh_route *other;

    rt->method = method;
    rt->shape = malloc(strlen(tmpl) + 1);
    rt->tmpl = dup_str(tmpl);
    if (rt->shape == NULL || rt->tmpl == NULL) {
        set_err(err, errlen, "out of memory adding '%s'", tmpl);
        return -1;
    }
    if (parse_template(rt, tmpl, rt->shape, err, errlen) < 0)
        return -1;
    other = find_conflict(r, method, rt->shape);
    if (other != NULL) {
        set_err(err, errlen, "%s %s conflicts with %s %s", method_name(method), tmpl,
                method_name(other->method), other->tmpl);
        return -1;
    }
    return 0;
}

int bh_router_add(bh_router *r, unsigned method, const char *tmpl, void *data, char *err,
                  size_t errlen)
{
    bh_route rt;

    if (r->finalized) {
        set_err(err, errlen, "router is finalized; cannot add '%s'",
                tmpl != NULL ? tmpl : "(null)");
        return -1;
    }
    if (method == 0 || (method & (method - 1)) != 0 || !(method & ROUTE_METHODS)) {
        set_err(err, errlen, "method must be one of GET, POST, PUT, PATCH, DELETE");
        return -1;
    }
    if (tmpl == NULL || tmpl[0] != '/') {
        set_err(err, errlen, "template must start with '/': '%s'", tmpl != NULL ? tmpl : "(null)");
        return -1;
    }
    if (reserve_one(r) < 0) {
        set_err(err, errlen, "out of memory adding '%s'", tmpl);
        return -1;
    }
    memset(&rt, 0, sizeof rt);
    rt.data = data;
    if (prepare_route(r, &rt, method, tmpl, err, errlen) < 0) {
        free(rt.tmpl);
        free(rt.shape);
        return -1;
    }
    r->routes[r->n++] = rt;
    return 0;
}

/* ---- finalize ----------------------------------------------------------- */

/* "/events/{id}" -> "/events/(?<id>[^/]+)".  Every non-alphanumeric literal
 * byte is escaped with '\', which PCRE2 always reads as that byte.  Size: a
 * literal byte needs at most 2 bytes; "{name}" (len + 2) becomes
 * "(?<name>[^/]+)" (len + 10), which 2 * (len + 2) + 10 covers. */
static char *build_pattern(const char *tmpl, int nparams)
{
    char *pat = malloc(2 * strlen(tmpl) + 10 * (size_t)nparams + 1);
    char *o = pat;
    const char *p;

    if (pat == NULL)
        return NULL;
    for (p = tmpl; *p != '\0'; p++) {
        if (*p == '{') {
            size_t n = strcspn(p + 1, "}");

            o += sprintf(o, "(?<%.*s>[^/]+)", (int)n, p + 1);
            p += n + 1;
            continue;
        }
        if (*p != '/' && !is_alnum((unsigned char)*p))
            *o++ = '\\';
        *o++ = *p;
    }
    *o = '\0';
    return pat;
}

static int compile_route(bh_route *rt, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE off;
    uint32_t groups;
    char *pat;

    if (rt->code != NULL) /* compiled by an earlier, failed finalize */
        return 0;
    pat = build_pattern(rt->tmpl, rt->nparams);
    if (pat == NULL) {
        set_err(err, errlen, "out of memory compiling '%s'", rt->tmpl);
        return -1;
    }
    rt->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                             PCRE2_ANCHORED | PCRE2_ENDANCHORED, &code, &off, NULL);
    if (rt->code == NULL) {
        PCRE2_UCHAR msg[160] = "unknown error";

        (void)pcre2_get_error_message(code, msg, sizeof msg);
        set_err(err, errlen, "cannot compile '%s' as %s: %s at offset %zu", rt->tmpl, pat,
                (const char *)msg, (size_t)off);
        free(pat);
        return -1;
    }
    free(pat);
    /* Without JIT (unsupported platform, no executable memory) the
     * interpreter gives the same answers, only slower. */
    (void)pcre2_jit_compile(rt->code, PCRE2_JIT_COMPLETE);
    if (pcre2_pattern_info(rt->code, PCRE2_INFO_CAPTURECOUNT, &groups) != 0 ||
        groups != (uint32_t)rt->nparams) {
        set_err(err, errlen, "'%s': pattern has an unexpected group count", rt->tmpl);
        return -1;
    }
    return 0;
}

/* Segment by segment, a literal before a parameter; then fewer segments. */
static int cmp_shape(const char *a, const char *b)
{
    while (*a != '\0' && *b != '\0') {
        int pa = a[1] == '{', pb = b[1] == '{';

        if (pa != pb)
            return pa - pb;
        a += 1 + strcspn(a + 1, "/");
        b += 1 + strcspn(b + 1, "/");
    }
    return (*a != '\0') - (*b != '\0');
}

/* A total order: (template, method) is unique since duplicates conflict,
 * so qsort's lack of stability cannot change the result. */
static int cmp_routes(const void *pa, const void *pb)
{
    const bh_route *a = pa, *b = pb;
    int c = cmp_shape(a->tmpl, b->tmpl);

    if (c == 0)
        c = strcmp(a->tmpl, b->tmpl);
    if (c == 0)
        c = (a->method > b->method) - (a->method < b->method);
    return c;
}

int bh_router_finalize(bh_router *r, char *err, size_t errlen)
{
    size_t i;

    if (r->finalized) {
        set_err(err, errlen, "router is already finalized");
        return -1;
    }
    for (i = 0; i < r->n; i++) {
        if (compile_route(&r->routes[i], err, errlen) < 0)
            return -1;
        if ((uint32_t)r->routes[i].nparams > r->max_groups)
            r->max_groups = (uint32_t)r->routes[i].nparams;
    }
    if (r->n > 1)
        qsort(r->routes, r->n, sizeof *r->routes, cmp_routes);
    r->finalized = 1;
    return 0;
}

/* ---- matching ----------------------------------------------------------- */

int bh_match_init(bh_match *m, const bh_router *r)
{
    memset(m, 0, sizeof *m);
    if (r == NULL || !r->finalized)
        return -1;
    m->md = pcre2_match_data_create(r->max_groups + 1, NULL);
    return m->md != NULL ? 0 : -1;
}

void bh_match_free(bh_match *m)
{
    if (m->md != NULL)
        pcre2_match_data_free(m->md);
    m->md = NULL;
}

static size_t count_slashes(const char *path, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++)
        n += path[i] == '/';
    return n;
}

static int route_matches(const bh_route *rt, const char *path, size_t len, size_t nslash,
                         pcre2_match_data *md)
{
    if (rt->nslash != nslash || len < rt->prefix_len || memcmp(path, rt->tmpl, rt->prefix_len) != 0)
        return 0;
    /* JIT matching does not allocate; the interpreter (no JIT) keeps its
     * frames in the thread's match data, allocated once on first use.
     * Errors (match limits) count as no match: the route is not taken. */
    return pcre2_match(rt->code, (PCRE2_SPTR)path, len, 0, 0, md, NULL) > 0;
}

static void fill_found(bh_match *m, const bh_route *rt)
{
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
    int i;

    m->route = rt->data;
    m->tmpl = rt->tmpl;
    m->nparams = rt->nparams;
    for (i = 0; i < rt->nparams; i++) {
        m->names[i] = rt->names[i];
        m->value_off[i] = ov[2 * i + 2];
        m->value_len[i] = ov[2 * i + 3] - ov[2 * i + 2];
    }
}

bh_route_result bh_router_match(const bh_router *r, unsigned method, const char *path, size_t len,
                                bh_match *m)
{
    /* HEAD is served by GET routes; OPTIONS is never routed to a handler. */
    unsigned want = method == BH_M_HEAD ? BH_M_GET : method == BH_M_OPTIONS ? 0u : method;
    size_t nslash = count_slashes(path, len);
    unsigned allowed = 0;
    size_t i;

    m->route = NULL;
    m->tmpl = NULL;
    m->nparams = 0;
    m->allowed = 0;
    if (!r->finalized || m->md == NULL)
        return BH_ROUTE_NOT_FOUND;
    /* The first route in precedence order that takes this method wins, even
     * when a more specific route of another method also matches the path. */
    for (i = 0; i < r->n; i++) {
        if ((r->routes[i].method & want) &&
            route_matches(&r->routes[i], path, len, nslash, m->md)) {
            fill_found(m, &r->routes[i]);
            return BH_ROUTE_FOUND;
        }
    }
    /* Not found: which other methods does the path have (405 / OPTIONS)? */
    for (i = 0; i < r->n; i++)
        if (!(r->routes[i].method & want) && route_matches(&r->routes[i], path, len, nslash, m->md))
            allowed |= r->routes[i].method;
    if (allowed == 0)
        return BH_ROUTE_NOT_FOUND;
    if (allowed & BH_M_GET)
        allowed |= BH_M_HEAD;
    m->allowed = allowed | BH_M_OPTIONS;
    return BH_ROUTE_METHOD;
}

/* ---- iteration ---------------------------------------------------------- */

size_t bh_router_count(const bh_router *r)
{
    return r != NULL ? r->n : 0;
}

void bh_router_entry(const bh_router *r, size_t i, const char **tmpl, unsigned *method, void **data)
{
    const bh_route *rt = r != NULL && i < r->n ? &r->routes[i] : NULL;

    if (tmpl != NULL)
        *tmpl = rt != NULL ? rt->tmpl : NULL;
    if (method != NULL)
        *method = rt != NULL ? rt->method : 0;
    if (data != NULL)
        *data = rt != NULL ? rt->data : NULL;
}
