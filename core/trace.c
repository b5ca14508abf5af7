/* trace.c - the SDK's tracing calls (bilhetagem/trace.h): the X-Ray trace
 * header parser and formatter, the one installed tracer, and the calls any
 * plugin (and the core's event bus) makes, which forward to that tracer or
 * do nothing.
 *
 * The tracer is installed during init and read-only once workers start, so
 * the forwarding needs no lock.  A unit's innermost open span lives in the
 * unit (bh_unit.trace_span): units are single-threaded.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "unit.h"

static bh_tracer tracer;             /* begin == NULL: none installed */
static bh_plugin_ctx *tracer_plugin; /* who installed it */

/* ---- the header ---------------------------------------------------------- */

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    return 1;
}

static int is_upper_hex(const char *root)
{
    for (size_t i = 0; i < 35; i++)
        if (root[i] >= 'A' && root[i] <= 'F')
            return 1;
    return 0;
}

static void lower_copy(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'F') ? (char)(src[i] - 'A' + 'a') : src[i];
    dst[n] = '\0';
}

/* "1-" 8 hex "-" 24 hex: 35 characters. */
static int root_ok(const char *v, size_t n)
{
    return n == 35 && v[0] == '1' && v[1] == '-' && is_hex(v + 2, 8) && v[10] == '-' &&
           is_hex(v + 11, 24);
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* One "Name=value" field of the header. */
static void parse_field(const char *f, size_t n, bh_trace_ctx *out)
{
    const char *eq = memchr(f, '=', n);
    if (!eq)
        return;
    const char *name = f, *val = eq + 1;
    size_t nlen = (size_t)(eq - f), vlen = n - nlen - 1;
    trim(&name, &nlen);
    trim(&val, &vlen);
    if (nlen == 4 && !memcmp(name, "Root", 4) && root_ok(val, vlen))
        lower_copy(out->root, val, vlen);
    else if (nlen == 6 && !memcmp(name, "Parent", 6) && vlen == 16 && is_hex(val, 16))
        lower_copy(out->parent, val, vlen);
    else if (nlen == 7 && !memcmp(name, "Sampled", 7) && vlen == 1)
        out->sampled = val[0] == '1' ? 1 : val[0] == '0' ? 0 : -1;
}

int bh_trace_header_parse(const char *header, bh_trace_ctx *out)
{
    memset(out, 0, sizeof *out);
    out->sampled = -1;
    if (!header)
        return -1;
    size_t len = strnlen(header, BH_TRACE_HEADER_MAX);
    if (len >= BH_TRACE_HEADER_MAX)
        return -1;
    const char *p = header, *end = header + len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        parse_field(p, (size_t)(stop - p), out);
        p = stop + 1;
    }
    if (!out->root[0]) {
        out->parent[0] = '\0';
        out->sampled = -1;
        return -1;
    }
    return 0;
}

/* Append n bytes at *o if they fit before end (one byte kept for the NUL). */
static int put(char **o, const char *end, const char *s, size_t n)
{
    if ((size_t)(end - *o) <= n)
        return -1;
    memcpy(*o, s, n);
    *o += n;
    return 0;
}

/* Plain copies, no printf: this runs two or three times per request. */
int bh_trace_header_format(const bh_trace_ctx *ctx, char *out, size_t len)
{
    if (!ctx || !root_ok(ctx->root, strnlen(ctx->root, sizeof ctx->root)) || !out || !len)
        return -1;
    int parent = strnlen(ctx->parent, sizeof ctx->parent) == 16 && is_hex(ctx->parent, 16);
    const char *sampled = ctx->sampled == 1 ? ";Sampled=1" : ctx->sampled == 0 ? ";Sampled=0" : "";
    char *o = out, *end = out + len;
    if (put(&o, end, "Root=", 5) || put(&o, end, ctx->root, 35) ||
        (parent && (put(&o, end, ";Parent=", 8) || put(&o, end, ctx->parent, 16))) ||
        put(&o, end, sampled, strlen(sampled))) {
        out[0] = '\0';
        return -1;
    }
    *o = '\0';
    return 0;
}

/* ---- the tracer ------------------------------------------------------------ */

int bh_tracer_set(bh_plugin_ctx *ctx, const bh_tracer *t)
{
    if (ctx->app->serving) {
        bh_plugin_error(ctx, "bh_tracer_set after startup is not allowed");
        return -1;
    }
    if (tracer.begin) {
        bh_plugin_error(ctx, "a tracer is already installed by plugin %s", tracer_plugin->name);
        return -1;
    }
    if (!t || !t->begin || !t->http || !t->end || !t->annotate || !t->header || !t->unit_begin ||
        !t->unit_end) {
        bh_plugin_error(ctx, "bh_tracer_set: every callback is required");
        return -1;
    }
    tracer = *t;
    tracer_plugin = ctx;
    return 0;
}

void bh_trace_reset(void)
{
    memset(&tracer, 0, sizeof tracer);
    tracer_plugin = NULL;
}

bh_span *bh_trace_current(const bh_unit *unit)
{
    return unit ? unit->trace_span : NULL;
}

void bh_trace_set_current(bh_unit *unit, bh_span *span)
{
    if (unit)
        unit->trace_span = span;
}

bh_span *bh_trace_begin(bh_unit *unit, const char *name, const char *ns)
{
    if (!tracer.begin || !unit || !name)
        return NULL;
    return tracer.begin(tracer.arg, unit, name, ns);
}

void bh_trace_http(bh_span *span, const char *method, const char *url)
{
    if (span && tracer.http)
        tracer.http(tracer.arg, span, method, url);
}

void bh_trace_end(bh_span *span, int http_status, int error)
{
    if (span && tracer.end)
        tracer.end(tracer.arg, span, http_status, error);
}

void bh_trace_annotate(bh_unit *unit, const char *key, const char *value)
{
    if (unit && key && value && tracer.annotate)
        tracer.annotate(tracer.arg, unit, key, value);
}

int bh_trace_outbound_header(const bh_unit *unit, const bh_span *span, char *out, size_t len)
{
    if (!out || !len)
        return -1;
    out[0] = '\0';
    if (span && tracer.header && tracer.header(tracer.arg, span, out, len) == 0)
        return 0;
    /* Not sampled here (or no tracer): pass on the unit's trace as it is,
     * so the callee keeps the trace id and the decision. */
    bh_trace_ctx ctx;
    if (!unit || bh_trace_header_parse(unit->trace, &ctx) != 0)
        return -1;
    return bh_trace_header_format(&ctx, out, len);
}

int bh_trace_id(const bh_unit *unit, char out[36])
{
    out[0] = '\0';
    if (!unit || !unit->trace[0])
        return -1;
    /* Every access line asks: the tracer writes Root first, lowercase. */
    if (!strncmp(unit->trace, "Root=", 5) && root_ok(unit->trace + 5, 35) &&
        (unit->trace[40] == ';' || unit->trace[40] == '\0') && !is_upper_hex(unit->trace + 5)) {
        memcpy(out, unit->trace + 5, 35);
        out[35] = '\0';
        return 0;
    }
    bh_trace_ctx ctx;
    if (bh_trace_header_parse(unit->trace, &ctx) != 0)
        return -1;
    memcpy(out, ctx.root, sizeof ctx.root);
    return 0;
}

void bh_emf_line(json_t *line)
{
    if (json_is_object(line))
        bh_log_json(line); /* steals */
    else
        json_decref(line);
}

/* ---- the core's side: event deliveries --------------------------------- */

bh_span *bh_trace_unit_begin(bh_unit *unit, const char *type, const char *subscriber)
{
    if (!tracer.unit_begin || !unit->trace[0])
        return NULL;
    char what[256];
    snprintf(what, sizeof what, "deliver %s to %s", type ? type : "?",
             subscriber ? subscriber : "?");
    return tracer.unit_begin(tracer.arg, unit, what);
}

void bh_trace_unit_end(bh_unit *unit, bh_span *span, int error)
{
    if (span && tracer.unit_end)
        tracer.unit_end(tracer.arg, unit, span, error);
    unit->trace_span = NULL;
}
