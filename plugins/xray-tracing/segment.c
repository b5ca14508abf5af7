/* segment.c - one X-Ray segment document and its subsegments, built as a
 * jansson tree while the work happens.
 *
 * A bh_span wraps the JSON object of a (sub)segment.  Opening a child
 * appends its object to the parent's "subsegments" array at once, so the
 * segment's document is always the whole tree, ready to send when the
 * segment closes.  Every span of a tree is listed in the tree so it is
 * freed with it; `max_subsegments` bounds that list: a request that runs
 * ten thousand statements keeps the first few hundred and counts the rest
 * (metadata.xray.dropped_subsegments).
 */
#include <stdlib.h>
#include <string.h>

#include "xray.h"

#define ANNOTATION_KEY_MAX 64
#define ANNOTATION_VALUE_MAX 1000
#define ANNOTATIONS_MAX 50 /* X-Ray indexes at most 50 per trace */

struct xr_tree {
    bh_span **spans; /* [0] is the segment */
    size_t n, cap;
    int max_subsegments;
    size_t dropped;
    char trace_id[36];
};

int xr_set_str(json_t *obj, const char *key, const char *s, size_t max)
{
    if (!obj || !s)
        return -1;
    size_t n = strnlen(s, max + 1);
    if (n > max) {
        n = max; /* cut on a character boundary: never inside a UTF-8 sequence */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    json_t *v = json_stringn(s, n); /* NULL when not UTF-8 */
    return v ? json_object_set_new(obj, key, v) : -1;
}

/* X-Ray names: letters, digits, white space and _ . : / % & # = + \ - @.
 * Anything else in ASCII becomes '_'; UTF-8 letters pass. */
static void set_name(json_t *doc, const char *name)
{
    char buf[XR_NAME_MAX + 1];
    size_t n = 0;
    for (; name && name[n] && n < XR_NAME_MAX; n++) {
        unsigned char c = (unsigned char)name[n];
        int ok = c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                 (c >= 'A' && c <= 'Z') || strchr(" _.:/%&#=+\\-@", c);
        buf[n] = ok && c != '\0' ? (char)c : '_';
    }
    if (name && name[n]) /* cut short: not in the middle of a UTF-8 character */
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            n--;
    buf[n] = '\0';
    if (n == 0 || xr_set_str(doc, "name", buf, XR_NAME_MAX) != 0)
        json_object_set_new(doc, "name", json_string("unnamed"));
}

static bh_span *span_new(xr_tree *t, bh_span *parent, const char *name, double start)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        bh_span **grown = realloc(t->spans, cap * sizeof *grown);
        if (!grown)
            return NULL;
        t->spans = grown;
        t->cap = cap;
    }
    bh_span *s = calloc(1, sizeof *s);
    json_t *doc = json_object();
    if (!s || !doc) {
        free(s);
        json_decref(doc);
        return NULL;
    }
    char id[17];
    xr_segment_id(id);
    set_name(doc, name);
    json_object_set_new(doc, "id", json_string(id));
    json_object_set_new(doc, "start_time", json_real(start));
    s->doc = doc;
    s->parent = parent;
    s->tree = t;
    s->open = 1;
    t->spans[t->n++] = s;
    return s;
}

bh_span *xr_segment_new(const char *name, const char *trace_id, const char *parent_id,
                        const char *origin, int max_subsegments, double start)
{
    xr_tree *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max_subsegments = max_subsegments;
    snprintf(t->trace_id, sizeof t->trace_id, "%s", trace_id);
    bh_span *root = span_new(t, NULL, name, start);
    if (!root) {
        free(t);
        return NULL;
    }
    json_object_set_new(root->doc, "trace_id", json_string(t->trace_id));
    if (parent_id && *parent_id)
        json_object_set_new(root->doc, "parent_id", json_string(parent_id));
    if (origin)
        json_object_set_new(root->doc, "origin", json_string(origin));
    return root;
}

bh_span *xr_span_open(bh_span *parent, const char *name, const char *ns, double start)
{
    if (!parent)
        return NULL;
    xr_tree *t = parent->tree;
    if (t->n > (size_t)t->max_subsegments) {
        t->dropped++;
        return NULL;
    }
    bh_span *s = span_new(t, parent, name, start);
    if (!s)
        return NULL;
    if (ns)
        json_object_set_new(s->doc, "namespace", json_string(ns));
    json_t *subs = json_object_get(parent->doc, "subsegments");
    if (!subs)
        json_object_set_new(parent->doc, "subsegments", subs = json_array());
    json_array_append(subs, s->doc);
    return s;
}

static int descends_from(const bh_span *s, const bh_span *ancestor)
{
    for (s = s->parent; s; s = s->parent)
        if (s == ancestor)
            return 1;
    return 0;
}

void xr_span_close(bh_span *span, double end)
{
    if (!span || !span->open)
        return;
    xr_tree *t = span->tree;
    for (size_t i = 0; i < t->n; i++) /* children left open end with it */
        if (t->spans[i]->open && descends_from(t->spans[i], span)) {
            json_object_set_new(t->spans[i]->doc, "end_time", json_real(end));
            t->spans[i]->open = 0;
        }
    double start = json_real_value(json_object_get(span->doc, "start_time"));
    json_object_set_new(span->doc, "end_time", json_real(end < start ? start : end));
    span->open = 0;
    if (!span->parent && t->dropped)
        json_object_set_new(
            span->doc, "metadata",
            json_pack("{s:{s:I}}", "xray", "dropped_subsegments", (json_int_t)t->dropped));
}

static json_t *child_object(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (!json_is_object(o))
        json_object_set_new(parent, key, o = json_object());
    return o;
}

void xr_span_status(bh_span *span, int status, int fault)
{
    if (!span)
        return;
    int is_root = span->parent == NULL;
    if (status > 0) {
        json_t *resp = child_object(child_object(span->doc, "http"), "response");
        json_object_set_new(resp, "status", json_integer(status));
    }
    int error = status >= 400 && status < 500, throttle = status == 429;
    fault = fault || status >= 500;
    /* The segment always says all three; a subsegment only what is true. */
    if (is_root || error)
        json_object_set_new(span->doc, "error", json_boolean(error));
    if (is_root || throttle)
        json_object_set_new(span->doc, "throttle", json_boolean(throttle));
    if (is_root || fault)
        json_object_set_new(span->doc, "fault", json_boolean(fault));
}

void xr_span_http_request(bh_span *span, const char *method, const char *url)
{
    if (!span)
        return;
    json_t *req = child_object(child_object(span->doc, "http"), "request");
    if (method)
        xr_set_str(req, "method", method, 16);
    if (url)
        xr_set_str(req, "url", url, 2048);
}

static int key_ok(const char *k)
{
    size_t n = 0;
    for (; k[n]; n++)
        if (n >= ANNOTATION_KEY_MAX ||
            !((k[n] >= 'a' && k[n] <= 'z') || (k[n] >= 'A' && k[n] <= 'Z') ||
              (k[n] >= '0' && k[n] <= '9') || k[n] == '_'))
            return 0;
    return n > 0;
}

int xr_annotate(bh_span *span, const char *key, const char *value)
{
    if (!span || !key || !value || !key_ok(key))
        return -1;
    json_t *ann = child_object(xr_root(span)->doc, "annotations");
    if (json_object_size(ann) >= ANNOTATIONS_MAX && !json_object_get(ann, key))
        return -1;
    return xr_set_str(ann, key, value, ANNOTATION_VALUE_MAX);
}

const char *xr_span_id(const bh_span *span)
{
    return json_string_value(json_object_get(span->doc, "id"));
}

const char *xr_trace_of(const bh_span *span)
{
    return span->tree->trace_id;
}

bh_span *xr_root(const bh_span *span)
{
    return span->tree->spans[0];
}

size_t xr_dropped(const bh_span *root)
{
    return root->tree->dropped;
}

void xr_segment_free(bh_span *root)
{
    if (!root)
        return;
    xr_tree *t = root->tree;
    for (size_t i = 0; i < t->n; i++) {
        json_decref(t->spans[i]->doc);
        free(t->spans[i]);
    }
    free(t->spans);
    free(t);
}
