/* fuzz_router.c - path templates and matching (router.c).
 *
 * Input: lines.  Every line but the last is a route, "METHOD TEMPLATE"
 * (an unknown method is tried as GET); the last line is a request path,
 * matched under every method.  Malformed templates and conflicts must be
 * refused with a message; whatever matches must hand back parameter
 * offsets inside the path.
 */
#include <stdio.h>

#include "fuzz.h"
#include "router.h"

#define MAX_ROUTES 16
#define MAX_LINE 512

static const unsigned methods[] = {BH_M_GET,   BH_M_HEAD,   BH_M_POST,   BH_M_PUT,
                                   BH_M_PATCH, BH_M_DELETE, BH_M_OPTIONS};

static void check_match(const bh_router *r, const char *path, size_t len)
{
    bh_match m;
    if (bh_match_init(&m, r) != 0)
        return;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        bh_route_result res = bh_router_match(r, methods[i], path, len, &m);
        if (res != BH_ROUTE_FOUND)
            continue;
        if (!m.tmpl || m.nparams < 0 || m.nparams > BH_ROUTER_MAX_PARAMS)
            abort();
        for (int p = 0; p < m.nparams; p++) {
            /* a parameter is one non-empty segment of the path */
            if (m.value_len[p] == 0 || m.value_off[p] + m.value_len[p] > len ||
                memchr(path + m.value_off[p], '/', m.value_len[p]) || !m.names[p])
                abort();
        }
    }
    char allow[128];
    bh_methods_format(m.allowed, allow, sizeof allow);
    bh_match_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = fuzz_cstr(data, size);
    char *lines[MAX_ROUTES + 1];
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < MAX_ROUTES + 1;
         l = strtok_r(NULL, "\n", &save)) {
        if (strlen(l) < MAX_LINE)
            lines[n++] = l;
    }
    if (n == 0) {
        free(text);
        return 0;
    }

    bh_router *r = bh_router_new();
    if (!r)
        abort();
    char err[BH_ROUTER_ERR_MAX];
    static int tag[MAX_ROUTES];
    for (size_t i = 0; i + 1 < n; i++) {
        char *sp = strchr(lines[i], ' ');
        const char *tmpl = sp ? sp + 1 : lines[i];
        if (sp)
            *sp = '\0';
        unsigned m = sp ? bh_method_bit(lines[i]) : BH_M_GET;
        if (m == 0 || m == BH_M_HEAD || m == BH_M_OPTIONS)
            m = BH_M_GET;
        err[0] = '\0';
        if (bh_router_add(r, m, tmpl, &tag[i], err, sizeof err) != 0 && err[0] == '\0')
            abort(); /* a refusal always says why */
    }
    err[0] = '\0';
    if (bh_router_finalize(r, err, sizeof err) == 0) {
        const char *path = lines[n - 1];
        check_match(r, path, strlen(path));
        for (size_t i = 0; i < bh_router_count(r); i++) {
            const char *t;
            unsigned m;
            void *d;
            bh_router_entry(r, i, &t, &m, &d);
            check_match(r, t, strlen(t)); /* a template matches itself as a path */
        }
    } else if (err[0] == '\0') {
        abort();
    }
    bh_router_free(r);
    free(text);
    return 0;
}
