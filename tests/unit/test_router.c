/* test_router.c - CUnit tests for core/router.c.
 *
 * Covers the method helpers, the template grammar (every rejection with the
 * phrase its message must contain), precedence, 405/OPTIONS answers,
 * conflicts, the finalize lifecycle, and concurrent matching from several
 * threads against one shared router.
 */
#include "router.h"

#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct spec {
    unsigned method;
    const char *tmpl;
} spec;

/* Build and finalize a router over `routes`; each route's data is the
 * address of its spec, so tests can check which one matched. */
static bh_router *build(spec *routes, size_t n)
{
    char err[BH_ROUTER_ERR_MAX] = "";
    bh_router *r = bh_router_new();
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    for (i = 0; i < n; i++) {
        int rc = bh_router_add(r, routes[i].method, routes[i].tmpl, &routes[i], err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "add %s: %s\n", routes[i].tmpl, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
    }
    CU_ASSERT_EQUAL_FATAL(bh_router_finalize(r, err, sizeof err), 0);
    return r;
}

static bh_route_result match(const bh_router *r, bh_match *m, unsigned method, const char *path)
{
    return bh_router_match(r, method, path, strlen(path), m);
}

/* Parameter i of the last match is `name` with the raw bytes `value`. */
static int param_is(const bh_match *m, const char *path, int i, const char *name, const char *value)
{
    size_t n = strlen(value);

    return i < m->nparams && strcmp(m->names[i], name) == 0 && m->value_len[i] == n &&
           memcmp(path + m->value_off[i], value, n) == 0;
}

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- methods ------------------------------------------------------------ */

static void test_method_bits(void)
{
    CU_ASSERT_EQUAL(bh_method_bit("GET"), BH_M_GET);
    CU_ASSERT_EQUAL(bh_method_bit("HEAD"), BH_M_HEAD);
    CU_ASSERT_EQUAL(bh_method_bit("POST"), BH_M_POST);
    CU_ASSERT_EQUAL(bh_method_bit("PUT"), BH_M_PUT);
    CU_ASSERT_EQUAL(bh_method_bit("PATCH"), BH_M_PATCH);
    CU_ASSERT_EQUAL(bh_method_bit("DELETE"), BH_M_DELETE);
    CU_ASSERT_EQUAL(bh_method_bit("OPTIONS"), BH_M_OPTIONS);
    CU_ASSERT_EQUAL(bh_method_bit("get"), 0);
    CU_ASSERT_EQUAL(bh_method_bit("GETX"), 0);
    CU_ASSERT_EQUAL(bh_method_bit("GE"), 0);
    CU_ASSERT_EQUAL(bh_method_bit("CONNECT"), 0);
    CU_ASSERT_EQUAL(bh_method_bit(""), 0);
    CU_ASSERT_EQUAL(bh_method_bit(NULL), 0);
}

static void test_methods_format(void)
{
    char buf[64];

    bh_methods_format(0x7f, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    bh_methods_format(BH_M_DELETE | BH_M_GET, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "GET, DELETE");
    bh_methods_format(BH_M_OPTIONS, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "OPTIONS");
    strcpy(buf, "junk");
    bh_methods_format(0, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "");
    bh_methods_format(0x80, buf, sizeof buf); /* unknown bit ignored */
    CU_ASSERT_STRING_EQUAL(buf, "");
}

static void test_methods_format_small(void)
{
    char buf[16];

    memset(buf, 'x', sizeof buf);
    bh_methods_format(BH_M_GET | BH_M_HEAD, buf, 5);
    CU_ASSERT_STRING_EQUAL(buf, "GET");
    CU_ASSERT_EQUAL(buf[5], 'x');           /* nothing past len */
    bh_methods_format(BH_M_DELETE, buf, 5); /* "DELETE" cannot fit */
    CU_ASSERT_STRING_EQUAL(buf, "");
    bh_methods_format(BH_M_GET | BH_M_HEAD, buf, 10); /* exact fit */
    CU_ASSERT_STRING_EQUAL(buf, "GET, HEAD");
    bh_methods_format(BH_M_GET | BH_M_HEAD, buf, 9);
    CU_ASSERT_STRING_EQUAL(buf, "GET");
    bh_methods_format(BH_M_GET, buf, 1);
    CU_ASSERT_STRING_EQUAL(buf, "");
    buf[0] = 'x';
    bh_methods_format(BH_M_GET, buf, 0);
    CU_ASSERT_EQUAL(buf[0], 'x');
}

/* ---- templates ---------------------------------------------------------- */

static void test_valid_templates(void)
{
    static const char *const ok[] = {
        "/",
        "/a",
        "/events/{id}/ticket-types",
        "/x/{_a1}/{B}",
        "/a-._~!$&'()*+,;=:@Z9",
        "/{abcdefghijklmnopqrstuvwxyz_01234}", /* 32-char name */
    };
    char err[BH_ROUTER_ERR_MAX];
    bh_router *r = bh_router_new();
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    for (i = 0; i < NELEMS(ok); i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, ok[i], NULL, err, sizeof err), 0);
        CU_ASSERT_STRING_EQUAL(err, "");
    }
    CU_ASSERT_EQUAL(bh_router_finalize(r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_router_count(r), NELEMS(ok));
    bh_router_free(r);
}

static void test_invalid_templates(void)
{
    static const struct {
        const char *tmpl;
        const char *phrase;
    } bad[] = {
        {NULL, "must start with '/'"},
        {"", "must start with '/'"},
        {"a/b", "must start with '/'"},
        {"//", "empty segment"},
        {"/a/", "empty segment"},
        {"/a//b", "empty segment"},
        {"/{1a}", "bad parameter name '1a'"},
        {"/{}", "bad parameter name ''"},
        {"/{a-b}", "bad parameter name 'a-b'"},
        {"/{a{b}", "bad parameter name 'a{b'"},
        {"/{abcdefghijklmnopqrstuvwxyz_012345}", "bad parameter name"},
        {"/{a}/x/{a}", "duplicate parameter name 'a'"},
        {"/a{b}", "'{' or '}' inside a literal"},
        {"/{a}b", "'{' or '}' inside a literal"},
        {"/{a", "'{' or '}' inside a literal"},
        {"/a}", "'{' or '}' inside a literal"},
        {"/a%20b", "'%' not allowed"},
        {"/a b", "invalid character 0x20"},
        {"/a?b", "invalid character 0x3f"},
        {"/a#", "invalid character 0x23"},
        {"/caf\xc3\xa9", "invalid character 0xc3"},
    };
    char err[BH_ROUTER_ERR_MAX];
    bh_router *r = bh_router_new();
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    for (i = 0; i < NELEMS(bad); i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, bad[i].tmpl, NULL, err, sizeof err), -1);
        if (strstr(err, bad[i].phrase) == NULL)
            fprintf(stderr, "template %s: got \"%s\"\n", bad[i].tmpl ? bad[i].tmpl : "(null)", err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].phrase));
    }
    CU_ASSERT_EQUAL(bh_router_count(r), 0); /* nothing half-added */
    bh_router_free(r);
}

static void test_bad_methods(void)
{
    static const unsigned bad[] = {0, BH_M_HEAD, BH_M_OPTIONS, BH_M_GET | BH_M_POST, 0x80};
    char err[BH_ROUTER_ERR_MAX];
    bh_router *r = bh_router_new();
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    for (i = 0; i < NELEMS(bad); i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(bh_router_add(r, bad[i], "/a", NULL, err, sizeof err), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "method must be one of"));
    }
    CU_ASSERT_EQUAL(bh_router_count(r), 0);
    bh_router_free(r);
}

static void test_err_truncated(void)
{
    char err[8];
    bh_router *r = bh_router_new();

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    memset(err, 'x', sizeof err);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, "/a//b", NULL, err, sizeof err), -1);
    CU_ASSERT_EQUAL(strlen(err), sizeof err - 1);
    CU_ASSERT_STRING_EQUAL(err, "empty s");
    /* No error buffer at all is allowed. */
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, "/a//b", NULL, NULL, 0), -1);
    bh_router_free(r);
}

static void test_param_limit(void)
{
    const char *eight = "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}";
    const char *path = "/1/22/333/4/5/6/7/8%2F";
    static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    static const char *const values[] = {"1", "22", "333", "4", "5", "6", "7", "8%2F"};
    char err[BH_ROUTER_ERR_MAX];
    bh_router *r = bh_router_new();
    bh_match m;
    int i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(
        bh_router_add(r, BH_M_GET, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", NULL, err, sizeof err),
        -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "more than 8 parameters"));
    CU_ASSERT_EQUAL_FATAL(bh_router_add(r, BH_M_GET, eight, NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(bh_router_finalize(r, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL_FATAL(match(r, &m, BH_M_GET, path), BH_ROUTE_FOUND);
    CU_ASSERT_EQUAL(m.nparams, 8);
    for (i = 0; i < 8; i++)
        CU_ASSERT_TRUE(param_is(&m, path, i, names[i], values[i]));
    CU_ASSERT_EQUAL(m.value_off[7], 18);
    CU_ASSERT_EQUAL(m.value_len[7], 4);
    bh_match_free(&m);
    bh_router_free(r);
}

/* ---- matching ----------------------------------------------------------- */

static void test_literal(void)
{
    spec routes[] = {
        {BH_M_GET, "/health"},
        {BH_M_GET, "/events/{id}/ticket-types"},
        {BH_M_GET, "/a.b"},
    };
    bh_router *r = build(routes, NELEMS(routes));
    bh_match m;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/health"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, &routes[0]);
    CU_ASSERT_STRING_EQUAL(m.tmpl, "/health");
    CU_ASSERT_EQUAL(m.nparams, 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/healthz"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_PTR_NULL(m.route);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/Health"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/health/x"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "health"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, ""), BH_ROUTE_NOT_FOUND);
    /* '.' is escaped: it matches only itself. */
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/a.b"), BH_ROUTE_FOUND);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/aXb"), BH_ROUTE_NOT_FOUND);
    bh_match_free(&m);
    bh_match_free(&m); /* idempotent */
    bh_router_free(r);
}

static void test_params_raw(void)
{
    spec routes[] = {{BH_M_GET, "/events/{event}/seats/{seat}"}};
    bh_router *r = build(routes, NELEMS(routes));
    const char *path = "/events/a%20b/seats/12";
    bh_match m;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL_FATAL(match(r, &m, BH_M_GET, path), BH_ROUTE_FOUND);
    CU_ASSERT_EQUAL(m.nparams, 2);
    CU_ASSERT_STRING_EQUAL(m.names[0], "event");
    CU_ASSERT_EQUAL(m.value_off[0], 8);
    CU_ASSERT_EQUAL(m.value_len[0], 5);
    CU_ASSERT_NSTRING_EQUAL(path + m.value_off[0], "a%20b", 5);
    CU_ASSERT_STRING_EQUAL(m.names[1], "seat");
    CU_ASSERT_EQUAL(m.value_off[1], 20);
    CU_ASSERT_EQUAL(m.value_len[1], 2);
    /* A parameter is one non-empty segment. */
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/events//seats/1"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/events/a/b/seats/1"), BH_ROUTE_NOT_FOUND);
    bh_match_free(&m);
    bh_router_free(r);
}

static void test_len_not_nul(void)
{
    spec routes[] = {{BH_M_GET, "/events/{id}"}, {BH_M_GET, "/ping"}};
    bh_router *r = build(routes, NELEMS(routes));
    const char *raw = "/events/42?x=/1";
    bh_match m;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL_FATAL(bh_router_match(r, BH_M_GET, raw, 10, &m), BH_ROUTE_FOUND);
    CU_ASSERT_TRUE(param_is(&m, raw, 0, "id", "42"));
    CU_ASSERT_EQUAL(bh_router_match(r, BH_M_GET, "/pingpong", 5, &m), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, &routes[1]);
    CU_ASSERT_EQUAL(bh_router_match(r, BH_M_GET, "/ping", 4, &m), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(bh_router_match(r, BH_M_GET, NULL, 0, &m), BH_ROUTE_NOT_FOUND);
    bh_match_free(&m);
    bh_router_free(r);
}

static void check_mine_vs_id(spec *routes, size_t n, const spec *mine, const spec *id)
{
    bh_router *r = build(routes, n);
    bh_match m;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/orders/mine"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, mine);
    CU_ASSERT_EQUAL(m.nparams, 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/orders/7"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, id);
    CU_ASSERT_TRUE(param_is(&m, "/orders/7", 0, "id", "7"));
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/orders/mines"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, id);
    bh_match_free(&m);
    bh_router_free(r);
}

static void test_literal_beats_param(void)
{
    spec param_first[] = {{BH_M_GET, "/orders/{id}"}, {BH_M_GET, "/orders/mine"}};
    spec literal_first[] = {{BH_M_GET, "/orders/mine"}, {BH_M_GET, "/orders/{id}"}};

    check_mine_vs_id(param_first, 2, &param_first[1], &param_first[0]);
    check_mine_vs_id(literal_first, 2, &literal_first[0], &literal_first[1]);
}

static void test_leftmost_literal_wins(void)
{
    spec routes[] = {{BH_M_GET, "/a/{x}/c"}, {BH_M_GET, "/a/b/{y}"}, {BH_M_GET, "/{z}/b/c"}};
    bh_router *r = build(routes, NELEMS(routes));
    bh_match m;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/a/b/c"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, &routes[1]);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/a/q/c"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, &routes[0]);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/q/b/c"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, &routes[2]);
    bh_match_free(&m);
    bh_router_free(r);
}

static void test_cross_method(void)
{
    spec routes[] = {{BH_M_GET, "/orders/mine"}, {BH_M_DELETE, "/orders/{id}"}};
    bh_router *r = build(routes, NELEMS(routes));
    bh_match m;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_DELETE, "/orders/mine"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, &routes[1]);
    CU_ASSERT_TRUE(param_is(&m, "/orders/mine", 0, "id", "mine"));
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/orders/mine"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, &routes[0]);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/orders/5"), BH_ROUTE_METHOD);
    CU_ASSERT_EQUAL(m.allowed, BH_M_DELETE | BH_M_OPTIONS);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_PUT, "/orders/mine"), BH_ROUTE_METHOD);
    CU_ASSERT_EQUAL(m.allowed, BH_M_GET | BH_M_HEAD | BH_M_DELETE | BH_M_OPTIONS);
    bh_match_free(&m);
    bh_router_free(r);
}

static void test_405_allowed(void)
{
    spec routes[] = {{BH_M_POST, "/events"}, {BH_M_GET, "/events"}, {BH_M_GET, "/other"}};
    bh_router *r = build(routes, NELEMS(routes));
    char allow[64];
    bh_match m;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_DELETE, "/events"), BH_ROUTE_METHOD);
    CU_ASSERT_EQUAL(m.allowed, BH_M_GET | BH_M_HEAD | BH_M_POST | BH_M_OPTIONS);
    CU_ASSERT_PTR_NULL(m.route);
    bh_methods_format(m.allowed, allow, sizeof allow);
    CU_ASSERT_STRING_EQUAL(allow, "GET, HEAD, POST, OPTIONS");
    CU_ASSERT_EQUAL(match(r, &m, BH_M_DELETE, "/nowhere"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(m.allowed, 0);
    CU_ASSERT_EQUAL(match(r, &m, 0, "/events"), BH_ROUTE_METHOD);
    bh_match_free(&m);
    bh_router_free(r);
}

static void test_head(void)
{
    spec routes[] = {{BH_M_GET, "/events/{id}"}, {BH_M_POST, "/events"}};
    bh_router *r = build(routes, NELEMS(routes));
    bh_match m;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_HEAD, "/events/9"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, &routes[0]);
    CU_ASSERT_TRUE(param_is(&m, "/events/9", 0, "id", "9"));
    CU_ASSERT_EQUAL(match(r, &m, BH_M_HEAD, "/events"), BH_ROUTE_METHOD);
    CU_ASSERT_EQUAL(m.allowed, BH_M_POST | BH_M_OPTIONS);
    bh_match_free(&m);
    bh_router_free(r);
}

static void test_options(void)
{
    spec routes[] = {{BH_M_GET, "/events"}, {BH_M_PATCH, "/events"}};
    bh_router *r = build(routes, NELEMS(routes));
    bh_match m;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_OPTIONS, "/events"), BH_ROUTE_METHOD);
    CU_ASSERT_EQUAL(m.allowed, BH_M_GET | BH_M_HEAD | BH_M_PATCH | BH_M_OPTIONS);
    CU_ASSERT_PTR_NULL(m.route);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_OPTIONS, "/missing"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(m.allowed, 0);
    bh_match_free(&m);
    bh_router_free(r);
}

static void test_trailing_slash(void)
{
    spec routes[] = {{BH_M_GET, "/orders"}, {BH_M_GET, "/orders/{id}/items"}};
    bh_router *r = build(routes, NELEMS(routes));
    bh_match m;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/orders"), BH_ROUTE_FOUND);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/orders/"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "//orders"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/orders/1/items/"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/orders/1/items"), BH_ROUTE_FOUND);
    bh_match_free(&m);
    bh_router_free(r);
}

static void test_root(void)
{
    spec routes[] = {{BH_M_GET, "/{page}"}, {BH_M_GET, "/"}};
    spec no_root[] = {{BH_M_GET, "/{page}"}};
    bh_router *r = build(routes, NELEMS(routes));
    bh_router *r2 = build(no_root, NELEMS(no_root));
    bh_match m, m2;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m2, r2), 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, &routes[1]);
    CU_ASSERT_STRING_EQUAL(m.tmpl, "/");
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/x"), BH_ROUTE_FOUND);
    CU_ASSERT_PTR_EQUAL(m.route, &routes[0]);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "//"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_POST, "/"), BH_ROUTE_METHOD);
    CU_ASSERT_EQUAL(match(r2, &m2, BH_M_GET, "/"), BH_ROUTE_NOT_FOUND);
    bh_match_free(&m);
    bh_match_free(&m2);
    bh_router_free(r);
    bh_router_free(r2);
}

static void test_long_path(void)
{
    spec routes[] = {{BH_M_GET, "/events/{id}"}, {BH_M_GET, "/a/b/c"}};
    bh_router *r = build(routes, NELEMS(routes));
    static char path[20000];
    bh_match m;
    size_t i;

    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    /* Many segments: more than any route has. */
    for (i = 0; i + 2 < sizeof path; i += 2)
        memcpy(path + i, "/a", 2);
    CU_ASSERT_EQUAL(bh_router_match(r, BH_M_GET, path, i, &m), BH_ROUTE_NOT_FOUND);
    /* One huge segment is still a single parameter value. */
    memcpy(path, "/events/", 8);
    memset(path + 8, 'x', sizeof path - 8);
    CU_ASSERT_EQUAL(bh_router_match(r, BH_M_GET, path, sizeof path, &m), BH_ROUTE_FOUND);
    CU_ASSERT_EQUAL(m.value_off[0], 8);
    CU_ASSERT_EQUAL(m.value_len[0], sizeof path - 8);
    /* A literal route followed by extra bytes. */
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/a/b/cdefghijklmnopqrstuvwxyz"), BH_ROUTE_NOT_FOUND);
    bh_match_free(&m);
    bh_router_free(r);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void test_conflicts(void)
{
    char err[BH_ROUTER_ERR_MAX];
    bh_router *r = bh_router_new();

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, "/a/{x}", NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, "/a/{y}", NULL, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "GET /a/{y} conflicts with GET /a/{x}");
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_POST, "/b", NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_POST, "/b", NULL, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "POST /b conflicts with POST /b");
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_PUT, "/c/{p}/d/{q}", NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_PUT, "/c/{q}/d/{p}", NULL, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "PUT /c/{q}/d/{p} conflicts with PUT /c/{p}/d/{q}");
    /* Different methods, or different shapes, coexist. */
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_DELETE, "/a/{y}", NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, "/b", NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, "/a/{x}/b", NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, "/a/b", NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, "/{a}/b", NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_router_count(r), 8);
    CU_ASSERT_EQUAL(bh_router_finalize(r, err, sizeof err), 0);
    bh_router_free(r);
}

static void test_add_after_finalize(void)
{
    char err[BH_ROUTER_ERR_MAX];
    bh_router *r = bh_router_new();
    bh_match m;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, "/a", NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_match_init(&m, r), -1); /* not finalized yet */
    CU_ASSERT_PTR_NULL(m.md);
    CU_ASSERT_EQUAL(bh_router_finalize(r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_router_add(r, BH_M_GET, "/b", NULL, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "finalized"));
    CU_ASSERT_EQUAL(bh_router_finalize(r, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "already finalized"));
    CU_ASSERT_EQUAL(bh_router_count(r), 1);
    bh_router_free(r);
    bh_router_free(NULL);
}

static void test_empty_router(void)
{
    char err[BH_ROUTER_ERR_MAX];
    bh_router *r = bh_router_new();
    bh_match m;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(bh_router_finalize(r, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(bh_match_init(&m, r), 0);
    CU_ASSERT_EQUAL(match(r, &m, BH_M_GET, "/"), BH_ROUTE_NOT_FOUND);
    CU_ASSERT_EQUAL(bh_router_count(r), 0);
    bh_match_free(&m);
    bh_router_free(r);
}

static void test_iteration_order(void)
{
    spec routes[] = {
        {BH_M_GET, "/orders/{id}"}, {BH_M_GET, "/{id}"}, {BH_M_GET, "/orders/mine"},
        {BH_M_POST, "/orders"},     {BH_M_GET, "/"},     {BH_M_GET, "/orders"},
    };
    static const char *const order[] = {
        "/", "/orders", "/orders", "/orders/mine", "/orders/{id}", "/{id}"};
    static const unsigned methods[] = {BH_M_GET, BH_M_GET, BH_M_POST, BH_M_GET, BH_M_GET, BH_M_GET};
    bh_router *r = build(routes, NELEMS(routes));
    const char *tmpl;
    unsigned method;
    void *data;
    size_t i;

    CU_ASSERT_EQUAL_FATAL(bh_router_count(r), NELEMS(order));
    for (i = 0; i < NELEMS(order); i++) {
        bh_router_entry(r, i, &tmpl, &method, &data);
        CU_ASSERT_STRING_EQUAL(tmpl, order[i]);
        CU_ASSERT_EQUAL(method, methods[i]);
        CU_ASSERT_STRING_EQUAL(((spec *)data)->tmpl, order[i]);
    }
    bh_router_entry(r, NELEMS(order), &tmpl, &method, &data);
    CU_ASSERT_PTR_NULL(tmpl);
    CU_ASSERT_EQUAL(method, 0);
    CU_ASSERT_PTR_NULL(data);
    bh_router_free(r);
}

/* ---- concurrency -------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 100000

typedef struct probe {
    unsigned method;
    const char *path;
    bh_route_result want;
    const char *tmpl;  /* FOUND: the template that must win */
    const char *value; /* FOUND: the last parameter's raw value, or NULL */
    unsigned allowed;  /* METHOD: the exact mask */
} probe;

static const probe probes[] = {
    {BH_M_GET, "/orders/mine", BH_ROUTE_FOUND, "/orders/mine", NULL, 0},
    {BH_M_DELETE, "/orders/mine", BH_ROUTE_FOUND, "/orders/{id}", "mine", 0},
    {BH_M_HEAD, "/events/e%201/ticket-types", BH_ROUTE_FOUND, "/events/{id}/ticket-types", "e%201",
     0},
    {BH_M_GET, "/res17/abc", BH_ROUTE_FOUND, "/res17/{id}", "abc", 0},
    {BH_M_GET, "/res29/abc/def", BH_ROUTE_NOT_FOUND, NULL, NULL, 0},
    {BH_M_PUT, "/orders/9", BH_ROUTE_METHOD, NULL, NULL, BH_M_DELETE | BH_M_OPTIONS},
    {BH_M_OPTIONS, "/events", BH_ROUTE_METHOD, NULL, NULL,
     BH_M_GET | BH_M_HEAD | BH_M_POST | BH_M_OPTIONS},
    {BH_M_GET, "/", BH_ROUTE_FOUND, "/", NULL, 0},
    {BH_M_GET, "/orders/", BH_ROUTE_NOT_FOUND, NULL, NULL, 0},
};

typedef struct worker {
    const bh_router *r;
    size_t offset;
    size_t checked;
    size_t failures;
    int init_rc;
} worker;

static int probe_ok(const bh_router *r, bh_match *m, const probe *p)
{
    bh_route_result rc = bh_router_match(r, p->method, p->path, strlen(p->path), m);
    int last = m->nparams - 1;

    if (rc != p->want)
        return 0;
    if (rc == BH_ROUTE_METHOD)
        return m->allowed == p->allowed;
    if (rc == BH_ROUTE_NOT_FOUND)
        return m->route == NULL;
    if (strcmp(m->tmpl, p->tmpl) != 0)
        return 0;
    if (p->value == NULL)
        return m->nparams == 0;
    return last >= 0 && m->value_len[last] == strlen(p->value) &&
           memcmp(p->path + m->value_off[last], p->value, strlen(p->value)) == 0;
}

/* CUnit is not thread-safe, so workers only count; the main thread asserts. */
static void *worker_run(void *arg)
{
    worker *w = arg;
    bh_match m;
    size_t i;

    w->init_rc = bh_match_init(&m, w->r);
    if (w->init_rc != 0)
        return NULL;
    for (i = 0; i < ROUNDS; i++) {
        if (!probe_ok(w->r, &m, &probes[(i + w->offset) % NELEMS(probes)]))
            w->failures++;
        w->checked++;
    }
    bh_match_free(&m);
    return NULL;
}

static bh_router *build_busy_router(void)
{
    static const spec fixed[] = {
        {BH_M_GET, "/orders/mine"},
        {BH_M_DELETE, "/orders/{id}"},
        {BH_M_GET, "/events/{id}/ticket-types"},
        {BH_M_GET, "/events"},
        {BH_M_POST, "/events"},
        {BH_M_GET, "/"},
    };
    char err[BH_ROUTER_ERR_MAX], tmpl[32];
    bh_router *r = bh_router_new();
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    for (i = 0; i < NELEMS(fixed); i++)
        CU_ASSERT_EQUAL_FATAL(
            bh_router_add(r, fixed[i].method, fixed[i].tmpl, NULL, err, sizeof err), 0);
    for (i = 0; i < 34; i++) { /* 40 routes in all, like a real server */
        snprintf(tmpl, sizeof tmpl, "/res%02zu/{id}", i);
        CU_ASSERT_EQUAL_FATAL(bh_router_add(r, BH_M_GET, tmpl, NULL, err, sizeof err), 0);
    }
    CU_ASSERT_EQUAL_FATAL(bh_router_finalize(r, err, sizeof err), 0);
    return r;
}

static void test_threads(void)
{
    bh_router *r = build_busy_router();
    pthread_t tid[THREADS];
    worker w[THREADS];
    size_t i;

    for (i = 0; i < THREADS; i++) {
        w[i] = (worker){.r = r, .offset = i};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&tid[i], NULL, worker_run, &w[i]), 0);
    }
    for (i = 0; i < THREADS; i++)
        CU_ASSERT_EQUAL(pthread_join(tid[i], NULL), 0);
    for (i = 0; i < THREADS; i++) {
        CU_ASSERT_EQUAL(w[i].init_rc, 0);
        CU_ASSERT_EQUAL(w[i].checked, ROUNDS);
        CU_ASSERT_EQUAL(w[i].failures, 0);
    }
    bh_router_free(r);
}

/* ---- main --------------------------------------------------------------- */

typedef struct test_entry {
    const char *suite;
    const char *name;
    CU_TestFunc fn;
} test_entry;

static const test_entry tests[] = {
    {"methods", "method bits", test_method_bits},
    {"methods", "format", test_methods_format},
    {"methods", "format into small buffers", test_methods_format_small},
    {"templates", "valid templates", test_valid_templates},
    {"templates", "invalid templates", test_invalid_templates},
    {"templates", "bad methods", test_bad_methods},
    {"templates", "error text truncated", test_err_truncated},
    {"templates", "8 params ok, 9 rejected", test_param_limit},
    {"match", "literal", test_literal},
    {"match", "raw params and offsets", test_params_raw},
    {"match", "len bounds the path", test_len_not_nul},
    {"match", "literal beats param", test_literal_beats_param},
    {"match", "leftmost literal wins", test_leftmost_literal_wins},
    {"match", "cross-method literal vs param", test_cross_method},
    {"match", "405 allowed mask", test_405_allowed},
    {"match", "HEAD matches GET", test_head},
    {"match", "OPTIONS", test_options},
    {"match", "trailing slash", test_trailing_slash},
    {"match", "root route", test_root},
    {"match", "long paths", test_long_path},
    {"lifecycle", "conflicts", test_conflicts},
    {"lifecycle", "add after finalize", test_add_after_finalize},
    {"lifecycle", "empty router", test_empty_router},
    {"lifecycle", "iteration order", test_iteration_order},
    {"concurrency", "4 threads x 100k matches", test_threads},
};

static int register_tests(void)
{
    CU_pSuite suite = NULL;
    const char *current = NULL;
    size_t i;

    for (i = 0; i < NELEMS(tests); i++) {
        if (current == NULL || strcmp(current, tests[i].suite) != 0) {
            current = tests[i].suite;
            suite = CU_add_suite(current, NULL, NULL);
            if (suite == NULL)
                return -1;
        }
        if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
            return -1;
    }
    return 0;
}

int main(void)
{
    unsigned failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (register_tests() != 0) {
        fprintf(stderr, "registering tests: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (CU_basic_run_tests() != CUE_SUCCESS) {
        CU_cleanup_registry();
        return 1;
    }
    failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed != 0;
}
