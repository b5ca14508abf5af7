/* config_read.c - typed readers, error reporting and ${VAR} interpolation
 * for the config file (see config_read.h; the schema is in config.c).
 *
 * ${VAR} and ${VAR:-default} are expanded after parsing and only inside
 * string values, so an environment variable can never change the structure
 * of the document.  jansson keeps no source positions, so the LINE in every
 * message comes from bh_json_path_line() (jsonpos.c) on the original text.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "config_read.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers --------------------------------------------------- */

int bh_cfg_sb_add(bh_cfg_strbuf *b, const char *p, size_t n)
{
    if (b->cap - b->len <= n) {
        size_t cap = b->cap ? b->cap : 64;
        char *s;

        while (cap - b->len <= n)
            cap *= 2;
        if (!(s = realloc(b->s, cap)))
            return -1;
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

char *bh_cfg_dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    return d ? memcpy(d, s, n) : NULL;
}

/* Format into err, then turn control characters into '?' so that a key or
 * value quoted from the file can never break the message over lines. */
void bh_cfg_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
}

const char *bh_cfg_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

static int bh_cfg_has_nul(const json_t *s)
{
    return strlen(json_string_value(s)) != json_string_length(s);
}

/* [a-z0-9_-]{1,32}: plugin and rate class names. */
int bh_cfg_valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > BH_NAME_MAX)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* ---- error reporting ------------------------------------------------- */

/* "parent.key", or either alone when the other is empty. */
char *bh_cfg_join_path(const char *parent, const char *key)
{
    size_t plen = strlen(parent), klen = key ? strlen(key) : 0;
    char *path = malloc(plen + klen + 2);

    if (!path)
        return NULL;
    memcpy(path, parent, plen);
    if (plen && klen)
        path[plen++] = '.';
    memcpy(path + plen, key ? key : "", klen + 1);
    return path;
}

/* The line of `path`, or of the nearest enclosing path that can be found. */
int bh_cfg_path_line(const char *text, const char *path)
{
    char *p = bh_cfg_dup_str(path);
    int line;

    if (!p)
        return bh_json_path_line(text, path);
    while ((line = bh_json_path_line(text, p)) == 0 && *p) {
        char *cut = p + strlen(p);

        while (cut > p && *cut != '.' && *cut != '[')
            cut--;
        *cut = '\0';
    }
    free(p);
    return line > 0 ? line : 1;
}

/* Report "FILE:LINE: PARENT.KEY: message" (key may be NULL).  Returns -1. */
int bh_cfg_fail(const bh_cfg_ctx *ctx, const char *parent, const char *key, const char *fmt, ...)
{
    char msg[BH_CONFIG_ERR_MAX];
    char *path = bh_cfg_join_path(parent, key);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!path)
        bh_cfg_set_err(ctx->err, ctx->errlen, "%s: out of memory", ctx->name);
    else if (*path)
        bh_cfg_set_err(ctx->err, ctx->errlen, "%s:%d: %s: %s", ctx->name,
                       bh_cfg_path_line(ctx->text, path), path, msg);
    else
        bh_cfg_set_err(ctx->err, ctx->errlen, "%s:%d: %s", ctx->name,
                       bh_cfg_path_line(ctx->text, path), msg);
    free(path);
    return -1;
}

int bh_cfg_fail_oom(const bh_cfg_ctx *ctx)
{
    bh_cfg_set_err(ctx->err, ctx->errlen, "%s: out of memory", ctx->name);
    return -1;
}

/* ---- interpolation --------------------------------------------------- */

static int is_var_char(char c, int first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Expand the "${NAME}" or "${NAME:-default}" at *pp onto out and advance
 * *pp past it.  The default is literal text up to the first '}' (no nested
 * expansion).  Returns 0, or -1 with a message in err. */
static int expand_var(const char **pp, bh_cfg_strbuf *out, char *err, size_t errlen)
{
    const char *name = *pp + 2, *end = name, *close = strchr(name, '}');
    const char *value, *def = NULL;
    char *var;

    if (!close) {
        bh_cfg_set_err(err, errlen, "unterminated \"${\" (missing \"}\")");
        return -1;
    }
    while (end < close && is_var_char(*end, end == name))
        end++;
    if (end > name && end < close && end[0] == ':' && end[1] == '-')
        def = end + 2;
    if (end == name || (end < close && !def)) {
        bh_cfg_set_err(err, errlen, "invalid variable name in \"${%.*s}\"",
                       (int)(close - name > 64 ? 64 : close - name), name);
        return -1;
    }
    if (!(var = malloc((size_t)(end - name) + 1))) {
        bh_cfg_set_err(err, errlen, "out of memory");
        return -1;
    }
    memcpy(var, name, (size_t)(end - name));
    var[end - name] = '\0';
    value = getenv(var);
    if (!value && !def) {
        bh_cfg_set_err(err, errlen, "environment variable %s is not set", var);
        free(var);
        return -1;
    }
    free(var);
    if (def && (!value || !*value)) /* shell ":-": unset or empty */
        value = NULL;
    if (value ? bh_cfg_sb_add(out, value, strlen(value))
              : bh_cfg_sb_add(out, def, (size_t)(close - def))) {
        bh_cfg_set_err(err, errlen, "out of memory");
        return -1;
    }
    *pp = close + 1;
    return 0;
}

char *bh_config_interpolate(const char *in, char *err, size_t errlen)
{
    bh_cfg_strbuf out = {0};
    const char *p = in;

    if (!in) {
        bh_cfg_set_err(err, errlen, "no input");
        return NULL;
    }
    if (bh_cfg_sb_add(&out, "", 0) < 0)
        goto oom;
    while (*p) {
        const char *dollar = strchr(p, '$');
        size_t lit = dollar ? (size_t)(dollar - p) : strlen(p);

        if (bh_cfg_sb_add(&out, p, lit) < 0)
            goto oom;
        if (!dollar)
            break;
        p = dollar;
        if (p[1] == '{') {
            if (expand_var(&p, &out, err, errlen) < 0) {
                free(out.s);
                return NULL;
            }
            continue;
        }
        if (bh_cfg_sb_add(&out, "$", 1) < 0) /* "$$" and a lone "$" both give "$" */
            goto oom;
        p += p[1] == '$' ? 2 : 1;
    }
    return out.s;
oom:
    free(out.s);
    bh_cfg_set_err(err, errlen, "out of memory");
    return NULL;
}

/* Interpolate one string value of the tree in place. */
static int interpolate_string(const bh_cfg_ctx *ctx, json_t *v, const char *path)
{
    char ierr[BH_CONFIG_ERR_MAX];
    char *s;
    int r;

    if (bh_cfg_has_nul(v))
        return bh_cfg_fail(ctx, path, NULL, "string contains a NUL byte");
    if (!strchr(json_string_value(v), '$'))
        return 0;
    if (!(s = bh_config_interpolate(json_string_value(v), ierr, sizeof ierr)))
        return bh_cfg_fail(ctx, path, NULL, "%s", ierr);
    r = json_string_set(v, s); /* fails on OOM or invalid UTF-8 */
    free(s);
    if (r < 0)
        return bh_cfg_fail(ctx, path, NULL, "not valid UTF-8 after interpolation");
    return 0;
}

/* Interpolate `child`, whose path is `path` + sep + name; path is restored. */
static int interpolate_child(const bh_cfg_ctx *ctx, json_t *child, bh_cfg_strbuf *path,
                             const char *sep, const char *name)
{
    size_t mark = path->len;
    int r;

    if (bh_cfg_sb_add(path, sep, strlen(sep)) < 0 || bh_cfg_sb_add(path, name, strlen(name)) < 0)
        return bh_cfg_fail_oom(ctx);
    r = bh_cfg_interpolate_tree(ctx, child, path);
    path->len = mark;
    path->s[mark] = '\0';
    return r;
}

/* Interpolate every string value under v, which `path` names. */
int bh_cfg_interpolate_tree(const bh_cfg_ctx *ctx, json_t *v, bh_cfg_strbuf *path)
{
    json_t *child;

    if (json_is_string(v))
        return interpolate_string(ctx, v, path->s);
    if (json_is_object(v)) {
        const char *key;

        json_object_foreach(v, key, child)
            if (strcmp(key, "$comment") != 0 && interpolate_child(ctx, child, path, ".", key) < 0)
                return -1;
    } else if (json_is_array(v)) {
        char index[32];
        size_t i;

        json_array_foreach(v, i, child) {
            snprintf(index, sizeof index, "[%zu]", i);
            if (interpolate_child(ctx, child, path, "", index) < 0)
                return -1;
        }
    }
    return 0;
}

/* ---- typed getters: 0 = read or absent (*out untouched), -1 = error ---- */

int bh_cfg_check_keys(const bh_cfg_ctx *ctx, json_t *obj, const char *parent,
                      const char *const *allowed)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        size_t i = 0;

        (void)v;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i] && strcmp(key, "$comment") != 0)
            return bh_cfg_fail(ctx, parent, key, "unknown key");
    }
    return 0;
}

/* 1 = present and in range (*out set), 0 = absent, -1 = error. */
static int bh_cfg_read_int(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                           long long min, long long max, long long *out)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_integer(v))
        return bh_cfg_fail(ctx, parent, key, "expected an integer, got %s", bh_cfg_type_name(v));
    if (json_integer_value(v) < min || json_integer_value(v) > max)
        return bh_cfg_fail(ctx, parent, key, "must be between %lld and %lld", min, max);
    *out = json_integer_value(v);
    return 1;
}

int bh_cfg_get_int(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                   long long min, long long max, int *out)
{
    long long v;
    int r = bh_cfg_read_int(ctx, obj, parent, key, min, max, &v);

    if (r > 0)
        *out = (int)v;
    return r < 0 ? -1 : 0;
}

int bh_cfg_get_size(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                    long long min, long long max, size_t *out)
{
    long long v;
    int r = bh_cfg_read_int(ctx, obj, parent, key, min, max, &v);

    if (r > 0)
        *out = (size_t)v;
    return r < 0 ? -1 : 0;
}

int bh_cfg_get_bool(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                    int *out)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return bh_cfg_fail(ctx, parent, key, "expected a boolean, got %s", bh_cfg_type_name(v));
    *out = json_is_true(v);
    return 0;
}

/* An integer or a real; 1 = present (*out set), 0 = absent, -1 = error. */
int bh_cfg_read_number(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                       double *out)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_number(v))
        return bh_cfg_fail(ctx, parent, key, "expected a number, got %s", bh_cfg_type_name(v));
    *out = json_number_value(v);
    return 1;
}

/* A non-empty string, interpolated, replacing *out.  With `nullable`, a
 * JSON null sets *out to NULL. */
int bh_cfg_get_str(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                   int nullable, char **out)
{
    json_t *v = json_object_get(obj, key);
    char ierr[BH_CONFIG_ERR_MAX];
    char *s;

    if (!v)
        return 0;
    if (nullable && json_is_null(v)) {
        free(*out);
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return bh_cfg_fail(ctx, parent, key, "expected a string%s, got %s",
                           nullable ? " or null" : "", bh_cfg_type_name(v));
    if (bh_cfg_has_nul(v))
        return bh_cfg_fail(ctx, parent, key, "string contains a NUL byte");
    if (!(s = bh_config_interpolate(json_string_value(v), ierr, sizeof ierr)))
        return bh_cfg_fail(ctx, parent, key, "%s", ierr);
    if (!*s) {
        free(s);
        return bh_cfg_fail(ctx, parent, key, "must not be empty");
    }
    free(*out);
    *out = s;
    return 0;
}

/* The object at obj[key] in *out (NULL when absent), its keys checked. */
int bh_cfg_get_section(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                       const char *const *allowed, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    char *path;
    int r;

    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return bh_cfg_fail(ctx, parent, key, "expected an object, got %s", bh_cfg_type_name(v));
    if (!(path = bh_cfg_join_path(parent, key)))
        return bh_cfg_fail_oom(ctx);
    r = bh_cfg_check_keys(ctx, v, path, allowed);
    free(path);
    *out = v;
    return r;
}
