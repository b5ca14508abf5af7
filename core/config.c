/* config.c - load, interpolate and validate the server's JSON config file.
 *
 * jansson parses the file into a tree; the core's own settings are then read
 * out of it one section at a time into a bh_config, strictly: an unknown
 * key, a wrong type or an out-of-range value stops the load with one line,
 * "FILE:LINE: PATH: what is wrong".  jansson keeps no source positions, so
 * LINE comes from bh_json_path_line() (jsonpos.c) run on the original text.
 *
 * ${VAR} and ${VAR:-default} are expanded after parsing and only inside
 * string values, so an environment variable can never change the structure
 * of the document.  Expanded: every string setting of the core and every
 * string inside an enabled plugin's "config".  Deliberately not expanded:
 * "$comment" values, and plugin entries with "enabled": false, so that a
 * plugin switched off does not need its secrets in the environment.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BH_CONFIG_FILE_MAX (16u * 1024 * 1024)
#define BH_NAME_MAX 32

/* What every validation step needs to report an error. */
typedef struct load_ctx {
    const char *text; /* the original JSON, for line numbers */
    const char *name; /* the file name, for messages */
    char *err;
    size_t errlen;
} load_ctx;

/* A growable NUL-terminated string. */
typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static const char *const top_keys[] = {
    "server", "log", "rate_limit", "storage", "plugin_dir", "data_dir", "plugins", NULL};
static const char *const storage_keys[] = {
    "driver", "path", "synchronous", "busy_timeout_ms", "dsn", "statement_timeout_ms",
    "connect_timeout_ms", "max_retries", "outbox_batch", "outbox_max_attempts",
    "outbox_backoff_ms", "outbox_max_backoff_ms", "outbox_lease_ms", "outbox_poll_ms",
    "idempotency_retention_s", NULL};
static const char *const server_keys[] = {
    "listen", "workers", "max_header_bytes", "max_body_bytes", "timeout_ms",
    "drain_timeout_ms", "max_json_depth", "trust_forwarded_for", NULL};
static const char *const log_keys[] = {"level", "file", "access_log", NULL};
static const char *const rate_limit_keys[] = {
    "enabled", "max_clients", "classes", NULL};
static const char *const rate_class_keys[] = {"rate_per_sec", "burst", NULL};
static const char *const plugin_keys[] = {
    "name", "path", "config", "enabled", NULL};

/* ---- small helpers --------------------------------------------------- */

static int sb_add(strbuf *b, const char *p, size_t n)
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

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    return d ? memcpy(d, s, n) : NULL;
}

/* Format into err, then turn control characters into '?' so that a key or
 * value quoted from the file can never break the message over lines. */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
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

static const char *type_name(const json_t *v)
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

static int has_nul(const json_t *s)
{
    return strlen(json_string_value(s)) != json_string_length(s);
}

/* [a-z0-9_-]{1,32}: plugin and rate class names. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > BH_NAME_MAX)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* ---- error reporting ------------------------------------------------- */

/* "parent.key", or either alone when the other is empty. */
static char *join_path(const char *parent, const char *key)
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
static int path_line(const char *text, const char *path)
{
    char *p = dup_str(path);
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
static int fail(const load_ctx *ctx, const char *parent, const char *key,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(const load_ctx *ctx, const char *parent, const char *key,
                const char *fmt, ...)
{
    char msg[BH_CONFIG_ERR_MAX];
    char *path = join_path(parent, key);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!path)
        set_err(ctx->err, ctx->errlen, "%s: out of memory", ctx->name);
    else if (*path)
        set_err(ctx->err, ctx->errlen, "%s:%d: %s: %s", ctx->name,
                path_line(ctx->text, path), path, msg);
    else
        set_err(ctx->err, ctx->errlen, "%s:%d: %s", ctx->name,
                path_line(ctx->text, path), msg);
    free(path);
    return -1;
}

static int fail_oom(const load_ctx *ctx)
{
    set_err(ctx->err, ctx->errlen, "%s: out of memory", ctx->name);
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
static int expand_var(const char **pp, strbuf *out, char *err, size_t errlen)
{
    const char *name = *pp + 2, *end = name, *close = strchr(name, '}');
    const char *value, *def = NULL;
    char *var;

    if (!close) {
        set_err(err, errlen, "unterminated \"${\" (missing \"}\")");
        return -1;
    }
    while (end < close && is_var_char(*end, end == name))
        end++;
    if (end > name && end < close && end[0] == ':' && end[1] == '-')
        def = end + 2;
    if (end == name || (end < close && !def)) {
        set_err(err, errlen, "invalid variable name in \"${%.*s}\"",
                (int)(close - name > 64 ? 64 : close - name), name);
        return -1;
    }
    if (!(var = malloc((size_t)(end - name) + 1))) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    memcpy(var, name, (size_t)(end - name));
    var[end - name] = '\0';
    value = getenv(var);
    if (!value && !def) {
        set_err(err, errlen, "environment variable %s is not set", var);
        free(var);
        return -1;
    }
    free(var);
    if (def && (!value || !*value)) /* shell ":-": unset or empty */
        value = NULL;
    if (value ? sb_add(out, value, strlen(value))
              : sb_add(out, def, (size_t)(close - def))) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    *pp = close + 1;
    return 0;
}

char *bh_config_interpolate(const char *in, char *err, size_t errlen)
{
    strbuf out = {0};
    const char *p = in;

    if (!in) {
        set_err(err, errlen, "no input");
        return NULL;
    }
    if (sb_add(&out, "", 0) < 0)
        goto oom;
    while (*p) {
        const char *dollar = strchr(p, '$');
        size_t lit = dollar ? (size_t)(dollar - p) : strlen(p);

        if (sb_add(&out, p, lit) < 0)
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
        if (sb_add(&out, "$", 1) < 0) /* "$$" and a lone "$" both give "$" */
            goto oom;
        p += p[1] == '$' ? 2 : 1;
    }
    return out.s;
oom:
    free(out.s);
    set_err(err, errlen, "out of memory");
    return NULL;
}

/* Interpolate one string value of the tree in place. */
static int interpolate_string(const load_ctx *ctx, json_t *v, const char *path)
{
    char ierr[BH_CONFIG_ERR_MAX];
    char *s;
    int r;

    if (has_nul(v))
        return fail(ctx, path, NULL, "string contains a NUL byte");
    if (!strchr(json_string_value(v), '$'))
        return 0;
    if (!(s = bh_config_interpolate(json_string_value(v), ierr, sizeof ierr)))
        return fail(ctx, path, NULL, "%s", ierr);
    r = json_string_set(v, s); /* fails on OOM or invalid UTF-8 */
    free(s);
    if (r < 0)
        return fail(ctx, path, NULL, "not valid UTF-8 after interpolation");
    return 0;
}

static int interpolate_tree(const load_ctx *ctx, json_t *v, strbuf *path);

/* Interpolate `child`, whose path is `path` + sep + name; path is restored. */
static int interpolate_child(const load_ctx *ctx, json_t *child, strbuf *path,
                             const char *sep, const char *name)
{
    size_t mark = path->len;
    int r;

    if (sb_add(path, sep, strlen(sep)) < 0 ||
        sb_add(path, name, strlen(name)) < 0)
        return fail_oom(ctx);
    r = interpolate_tree(ctx, child, path);
    path->len = mark;
    path->s[mark] = '\0';
    return r;
}

/* Interpolate every string value under v, which `path` names. */
static int interpolate_tree(const load_ctx *ctx, json_t *v, strbuf *path)
{
    json_t *child;

    if (json_is_string(v))
        return interpolate_string(ctx, v, path->s);
    if (json_is_object(v)) {
        const char *key;

        json_object_foreach(v, key, child)
            if (strcmp(key, "$comment") != 0 &&
                interpolate_child(ctx, child, path, ".", key) < 0)
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

static int check_keys(const load_ctx *ctx, json_t *obj, const char *parent,
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
            return fail(ctx, parent, key, "unknown key");
    }
    return 0;
}

/* 1 = present and in range (*out set), 0 = absent, -1 = error. */
static int read_int(const load_ctx *ctx, json_t *obj, const char *parent,
                    const char *key, long long min, long long max,
                    long long *out)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_integer(v))
        return fail(ctx, parent, key, "expected an integer, got %s",
                    type_name(v));
    if (json_integer_value(v) < min || json_integer_value(v) > max)
        return fail(ctx, parent, key, "must be between %lld and %lld", min,
                    max);
    *out = json_integer_value(v);
    return 1;
}

static int get_int(const load_ctx *ctx, json_t *obj, const char *parent,
                   const char *key, long long min, long long max, int *out)
{
    long long v;
    int r = read_int(ctx, obj, parent, key, min, max, &v);

    if (r > 0)
        *out = (int)v;
    return r < 0 ? -1 : 0;
}

static int get_size(const load_ctx *ctx, json_t *obj, const char *parent,
                    const char *key, long long min, long long max, size_t *out)
{
    long long v;
    int r = read_int(ctx, obj, parent, key, min, max, &v);

    if (r > 0)
        *out = (size_t)v;
    return r < 0 ? -1 : 0;
}

static int get_bool(const load_ctx *ctx, json_t *obj, const char *parent,
                    const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fail(ctx, parent, key, "expected a boolean, got %s",
                    type_name(v));
    *out = json_is_true(v);
    return 0;
}

/* An integer or a real; 1 = present (*out set), 0 = absent, -1 = error. */
static int read_number(const load_ctx *ctx, json_t *obj, const char *parent,
                       const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_number(v))
        return fail(ctx, parent, key, "expected a number, got %s",
                    type_name(v));
    *out = json_number_value(v);
    return 1;
}

/* A non-empty string, interpolated, replacing *out.  With `nullable`, a
 * JSON null sets *out to NULL. */
static int get_str(const load_ctx *ctx, json_t *obj, const char *parent,
                   const char *key, int nullable, char **out)
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
        return fail(ctx, parent, key, "expected a string%s, got %s",
                    nullable ? " or null" : "", type_name(v));
    if (has_nul(v))
        return fail(ctx, parent, key, "string contains a NUL byte");
    if (!(s = bh_config_interpolate(json_string_value(v), ierr, sizeof ierr)))
        return fail(ctx, parent, key, "%s", ierr);
    if (!*s) {
        free(s);
        return fail(ctx, parent, key, "must not be empty");
    }
    free(*out);
    *out = s;
    return 0;
}

/* The object at obj[key] in *out (NULL when absent), its keys checked. */
static int get_section(const load_ctx *ctx, json_t *obj, const char *parent,
                       const char *key, const char *const *allowed,
                       json_t **out)
{
    json_t *v = json_object_get(obj, key);
    char *path;
    int r;

    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return fail(ctx, parent, key, "expected an object, got %s",
                    type_name(v));
    if (!(path = join_path(parent, key)))
        return fail_oom(ctx);
    r = check_keys(ctx, v, path, allowed);
    free(path);
    *out = v;
    return r;
}

/* ---- sections -------------------------------------------------------- */

static int valid_port(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 5 && strspn(s, "0123456789") == n && atol(s) <= 65535;
}

/* Labels of [A-Za-z0-9_-]{1,63}, not starting or ending with '-'. */
static int valid_hostname(const char *h)
{
    const char *ok = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_-";

    for (;;) {
        size_t n = strspn(h, ok);

        if (n < 1 || n > 63 || h[0] == '-' || h[n - 1] == '-')
            return 0;
        if (h[n] == '\0')
            return 1;
        if (h[n] != '.')
            return 0;
        h += n + 1;
    }
}

/* An IPv4 address, a bracketed IPv6 address or a host name. */
static int valid_host(const char *h, size_t n)
{
    char buf[256];
    unsigned char addr[sizeof(struct in6_addr)];

    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, h, n);
    buf[n] = '\0';
    if (buf[0] == '[') {
        if (n < 3 || buf[n - 1] != ']')
            return 0;
        buf[n - 1] = '\0';
        return inet_pton(AF_INET6, buf + 1, addr) == 1;
    }
    if (strspn(buf, "0123456789.") == n)
        return inet_pton(AF_INET, buf, addr) == 1;
    return valid_hostname(buf);
}

static int check_listen(const load_ctx *ctx, const char *listen)
{
    const char *colon = strrchr(listen, ':');

    if (!colon || !valid_host(listen, (size_t)(colon - listen)) ||
        !valid_port(colon + 1))
        return fail(ctx, "server", "listen",
                    "expected \"HOST:PORT\" with an IPv4 address, a "
                    "[bracketed] IPv6 address or a name, and a port 0-65535");
    return 0;
}

static int load_server(const load_ctx *ctx, json_t *root, bh_config *cfg)
{
    const char *s = "server";
    json_t *o;

    if (get_section(ctx, root, "", s, server_keys, &o) < 0)
        return -1;
    if (!o)
        return 0;
    if (get_str(ctx, o, s, "listen", 0, &cfg->listen) < 0 ||
        check_listen(ctx, cfg->listen) < 0 ||
        get_int(ctx, o, s, "workers", 0, 256, &cfg->workers) < 0 ||
        get_size(ctx, o, s, "max_header_bytes", 512, 1048576,
                 &cfg->max_header_bytes) < 0 ||
        get_size(ctx, o, s, "max_body_bytes", 1, 67108864,
                 &cfg->max_body_bytes) < 0 ||
        get_int(ctx, o, s, "timeout_ms", 100, 3600000, &cfg->timeout_ms) < 0 ||
        get_int(ctx, o, s, "drain_timeout_ms", 0, 600000,
                &cfg->drain_timeout_ms) < 0 ||
        get_int(ctx, o, s, "max_json_depth", 1, 1000, &cfg->max_json_depth) < 0 ||
        get_bool(ctx, o, s, "trust_forwarded_for", &cfg->trust_forwarded_for) < 0)
        return -1;
    return 0;
}

static int load_log(const load_ctx *ctx, json_t *root, bh_config *cfg)
{
    const char *level;
    json_t *o;

    if (get_section(ctx, root, "", "log", log_keys, &o) < 0)
        return -1;
    if (!o)
        return 0;
    if (get_str(ctx, o, "log", "level", 0, &cfg->log_level) < 0 ||
        get_str(ctx, o, "log", "file", 1, &cfg->log_file) < 0 ||
        get_bool(ctx, o, "log", "access_log", &cfg->access_log) < 0)
        return -1;
    level = cfg->log_level;
    if (strcmp(level, "debug") && strcmp(level, "info") &&
        strcmp(level, "warn") && strcmp(level, "error"))
        return fail(ctx, "log", "level",
                    "must be one of \"debug\", \"info\", \"warn\", \"error\"");
    return 0;
}

static int check_storage(const load_ctx *ctx, const bh_storage_conf *st)
{
    const char *s = "storage";
    if (!st->driver)
        return fail(ctx, s, NULL, "missing required key \"driver\"");
    if (strcmp(st->driver, "sqlite") && strcmp(st->driver, "postgresql"))
        return fail(ctx, s, "driver", "must be \"sqlite\" or \"postgresql\"");
    if (!strcmp(st->driver, "sqlite") && !st->path)
        return fail(ctx, s, NULL, "the sqlite driver needs \"path\"");
    if (!strcmp(st->driver, "postgresql") && !st->dsn)
        return fail(ctx, s, NULL, "the postgresql driver needs \"dsn\"");
    if (strcmp(st->synchronous, "full") && strcmp(st->synchronous, "normal"))
        return fail(ctx, s, "synchronous", "must be \"full\" or \"normal\"");
    return 0;
}

static int load_storage(const load_ctx *ctx, json_t *root, bh_config *cfg)
{
    const char *s = "storage";
    bh_storage_conf *st = &cfg->storage;
    json_t *o;

    if (get_section(ctx, root, "", s, storage_keys, &o) < 0)
        return -1;
    if (!o)
        return 0;
    cfg->storage_enabled = 1;
    if (get_str(ctx, o, s, "driver", 0, &st->driver) < 0 ||
        get_str(ctx, o, s, "path", 0, &st->path) < 0 ||
        get_str(ctx, o, s, "synchronous", 0, &st->synchronous) < 0 ||
        get_int(ctx, o, s, "busy_timeout_ms", 0, 600000, &st->busy_timeout_ms) < 0 ||
        get_str(ctx, o, s, "dsn", 0, &st->dsn) < 0 ||
        get_int(ctx, o, s, "statement_timeout_ms", 0, 3600000, &st->statement_timeout_ms) < 0 ||
        get_int(ctx, o, s, "connect_timeout_ms", 100, 600000, &st->connect_timeout_ms) < 0 ||
        get_int(ctx, o, s, "max_retries", 0, 100, &st->max_retries) < 0 ||
        get_int(ctx, o, s, "outbox_batch", 1, 10000, &st->outbox_batch) < 0 ||
        get_int(ctx, o, s, "outbox_max_attempts", 1, 1000, &st->outbox_max_attempts) < 0 ||
        get_int(ctx, o, s, "outbox_backoff_ms", 1, 3600000, &st->outbox_backoff_ms) < 0 ||
        get_int(ctx, o, s, "outbox_max_backoff_ms", 1, 86400000, &st->outbox_max_backoff_ms) < 0 ||
        get_int(ctx, o, s, "outbox_lease_ms", 100, 3600000, &st->outbox_lease_ms) < 0 ||
        get_int(ctx, o, s, "outbox_poll_ms", 10, 600000, &st->outbox_poll_ms) < 0 ||
        get_int(ctx, o, s, "idempotency_retention_s", 1, 31536000,
                &st->idempotency_retention_s) < 0)
        return -1;
    return check_storage(ctx, st);
}

/* One entry of rate_limit.classes; "default" replaces the built-in one. */
static int load_rate_class(const load_ctx *ctx, const char *path,
                           const char *name, json_t *v, bh_config *cfg)
{
    double rate = 0, burst = 0;
    bh_rate_class *c;
    int r;

    if (!valid_name(name))
        return fail(ctx, path, NULL, "invalid class name (expected [a-z0-9_-]{1,32})");
    if (!strcmp(name, "none")) /* routes use "none" to opt out of limiting */
        return fail(ctx, path, NULL, "\"none\" is reserved: it means \"not rate limited\"");
    if (!json_is_object(v))
        return fail(ctx, path, NULL, "expected an object, got %s", type_name(v));
    if (check_keys(ctx, v, path, rate_class_keys) < 0)
        return -1;
    if ((r = read_number(ctx, v, path, "rate_per_sec", &rate)) <= 0)
        return r < 0 ? -1 : fail(ctx, path, NULL, "missing required key \"rate_per_sec\"");
    if (!(rate > 0))
        return fail(ctx, path, "rate_per_sec", "must be greater than 0");
    if ((r = read_number(ctx, v, path, "burst", &burst)) <= 0)
        return r < 0 ? -1 : fail(ctx, path, NULL, "missing required key \"burst\"");
    if (!(burst >= 1))
        return fail(ctx, path, "burst", "must be at least 1");
    c = &cfg->rate_classes[0];
    if (strcmp(name, "default") != 0) {
        c = &cfg->rate_classes[cfg->n_rate_classes];
        if (!(c->name = dup_str(name)))
            return fail_oom(ctx);
        cfg->n_rate_classes++;
    }
    c->rate = rate;
    c->burst = burst;
    return 0;
}

static int load_rate_classes(const load_ctx *ctx, json_t *rl, bh_config *cfg)
{
    json_t *classes = json_object_get(rl, "classes"), *v;
    bh_rate_class *grown;
    const char *name;

    if (!classes)
        return 0;
    if (!json_is_object(classes))
        return fail(ctx, "rate_limit", "classes", "expected an object, got %s",
                    type_name(classes));
    grown = realloc(cfg->rate_classes,
                    (1 + json_object_size(classes)) * sizeof *grown);
    if (!grown)
        return fail_oom(ctx);
    cfg->rate_classes = grown;
    json_object_foreach(classes, name, v) {
        char *path;
        int r;

        if (strcmp(name, "$comment") == 0)
            continue;
        if (!(path = join_path("rate_limit.classes", name)))
            return fail_oom(ctx);
        r = load_rate_class(ctx, path, name, v, cfg);
        free(path);
        if (r < 0)
            return -1;
    }
    return 0;
}

static int load_rate_limit(const load_ctx *ctx, json_t *root, bh_config *cfg)
{
    json_t *o;

    if (get_section(ctx, root, "", "rate_limit", rate_limit_keys, &o) < 0)
        return -1;
    if (!o)
        return 0;
    if (get_bool(ctx, o, "rate_limit", "enabled", &cfg->rate_limit_enabled) < 0 ||
        get_size(ctx, o, "rate_limit", "max_clients", 16, 10000000,
                 &cfg->rate_limit_clients) < 0 ||
        load_rate_classes(ctx, o, cfg) < 0)
        return -1;
    return 0;
}

static void free_plugin(bh_plugin_conf *pc)
{
    free(pc->name);
    free(pc->path);
    json_decref(pc->config);
}

/* name, path and config of an enabled plugin entry at `parent`. */
static int load_plugin_fields(const load_ctx *ctx, json_t *entry,
                              const char *parent, bh_plugin_conf *pc)
{
    json_t *config = json_object_get(entry, "config");
    strbuf path = {0};
    int r;

    if (get_str(ctx, entry, parent, "name", 0, &pc->name) < 0)
        return -1;
    if (!pc->name)
        return fail(ctx, parent, NULL, "missing required key \"name\"");
    if (!valid_name(pc->name))
        return fail(ctx, parent, "name",
                    "invalid plugin name (expected [a-z0-9_-]{1,32})");
    if (get_str(ctx, entry, parent, "path", 0, &pc->path) < 0)
        return -1;
    if (!pc->path) {
        size_t n = strlen(pc->name) + sizeof ".so";

        if (!(pc->path = malloc(n)))
            return fail_oom(ctx);
        snprintf(pc->path, n, "%s.so", pc->name);
    }
    if (config && !json_is_object(config))
        return fail(ctx, parent, "config", "expected an object, got %s",
                    type_name(config));
    pc->config = config ? json_incref(config) : json_object();
    if (!pc->config)
        return fail_oom(ctx);
    if (sb_add(&path, parent, strlen(parent)) < 0 ||
        sb_add(&path, ".config", strlen(".config")) < 0) {
        free(path.s);
        return fail_oom(ctx);
    }
    r = interpolate_tree(ctx, pc->config, &path);
    free(path.s);
    return r;
}

static int check_unique(const load_ctx *ctx, const bh_config *cfg,
                        const char *parent, const char *name)
{
    for (size_t i = 0; i < cfg->n_plugins; i++)
        if (strcmp(cfg->plugins[i].name, name) == 0)
            return fail(ctx, parent, "name",
                        "duplicate plugin \"%s\" (first defined at line %d)",
                        name, cfg->plugins[i].line);
    return 0;
}

/* plugins[i]: an entry with "enabled": false is checked for unknown keys,
 * then skipped entirely. */
static int load_plugin(const load_ctx *ctx, json_t *entry, size_t i,
                       bh_config *cfg)
{
    bh_plugin_conf pc = {0};
    char parent[48];
    int enabled = 1;

    snprintf(parent, sizeof parent, "plugins[%zu]", i);
    if (!json_is_object(entry))
        return fail(ctx, parent, NULL, "expected an object, got %s",
                    type_name(entry));
    if (check_keys(ctx, entry, parent, plugin_keys) < 0 ||
        get_bool(ctx, entry, parent, "enabled", &enabled) < 0)
        return -1;
    if (!enabled)
        return 0;
    if (load_plugin_fields(ctx, entry, parent, &pc) < 0 ||
        check_unique(ctx, cfg, parent, pc.name) < 0) {
        free_plugin(&pc);
        return -1;
    }
    pc.line = path_line(ctx->text, parent);
    cfg->plugins[cfg->n_plugins++] = pc;
    return 0;
}

static int load_plugins(const load_ctx *ctx, json_t *root, bh_config *cfg)
{
    json_t *plugins = json_object_get(root, "plugins"), *entry;
    size_t i;

    if (!plugins)
        return 0;
    if (!json_is_array(plugins))
        return fail(ctx, "", "plugins", "expected an array, got %s",
                    type_name(plugins));
    if (json_array_size(plugins) == 0)
        return 0;
    cfg->plugins = calloc(json_array_size(plugins), sizeof *cfg->plugins);
    if (!cfg->plugins)
        return fail_oom(ctx);
    json_array_foreach(plugins, i, entry)
        if (load_plugin(ctx, entry, i, cfg) < 0)
            return -1;
    return 0;
}

/* ---- the whole file -------------------------------------------------- */

static bh_config *config_new(const char *name)
{
    bh_config *cfg = calloc(1, sizeof *cfg);

    if (!cfg)
        return NULL;
    cfg->file = dup_str(name);
    cfg->listen = dup_str("127.0.0.1:8080");
    cfg->max_header_bytes = 8192;
    cfg->max_body_bytes = 1048576;
    cfg->timeout_ms = 10000;
    cfg->drain_timeout_ms = 10000;
    cfg->max_json_depth = 32;
    cfg->log_level = dup_str("info");
    cfg->access_log = 1;
    cfg->rate_limit_enabled = 1;
    cfg->rate_limit_clients = 65536;
    cfg->data_dir = dup_str("./var");
    cfg->storage = (bh_storage_conf){.synchronous = dup_str("full"), .busy_timeout_ms = 5000,
                                     .statement_timeout_ms = 5000, .connect_timeout_ms = 5000,
                                     .max_retries = 4, .outbox_batch = 100,
                                     .outbox_max_attempts = 10, .outbox_backoff_ms = 500,
                                     .outbox_max_backoff_ms = 300000,
                                     .outbox_lease_ms = 30000, .outbox_poll_ms = 1000,
                                     .idempotency_retention_s = 86400};
    cfg->rate_classes = calloc(1, sizeof *cfg->rate_classes);
    if (cfg->rate_classes) {
        cfg->rate_classes[0] = (bh_rate_class){dup_str("default"), 50, 100};
        cfg->n_rate_classes = 1;
    }
    if (!cfg->file || !cfg->listen || !cfg->log_level || !cfg->data_dir ||
        !cfg->storage.synchronous ||
        !cfg->rate_classes || !cfg->rate_classes[0].name) {
        bh_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static int load_root(const load_ctx *ctx, json_t *root, bh_config *cfg)
{
    if (!json_is_object(root))
        return fail(ctx, "", NULL, "top level must be an object, got %s",
                    type_name(root));
    if (check_keys(ctx, root, "", top_keys) < 0 ||
        get_str(ctx, root, "", "plugin_dir", 0, &cfg->plugin_dir) < 0 ||
        get_str(ctx, root, "", "data_dir", 0, &cfg->data_dir) < 0 ||
        load_server(ctx, root, cfg) < 0 || load_log(ctx, root, cfg) < 0 ||
        load_rate_limit(ctx, root, cfg) < 0 || load_storage(ctx, root, cfg) < 0 ||
        load_plugins(ctx, root, cfg) < 0)
        return -1;
    return 0;
}

bh_config *bh_config_parse(const char *text, const char *name, char *err,
                           size_t errlen)
{
    load_ctx ctx = {text, name ? name : "(config)", err, errlen};
    json_error_t jerr;
    bh_config *cfg;
    json_t *root;

    if (!text) {
        set_err(err, errlen, "%s: no text", ctx.name);
        return NULL;
    }
    /* JSON_ALLOW_NUL: let "\u0000" through so that it is reported below
     * with its path, instead of as a bare syntax error. */
    root = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        set_err(err, errlen, "%s:%d: invalid JSON: %s", ctx.name, jerr.line,
                jerr.text);
        return NULL;
    }
    if (!(cfg = config_new(ctx.name)))
        fail_oom(&ctx);
    else if (load_root(&ctx, root, cfg) < 0) {
        bh_config_free(cfg);
        cfg = NULL;
    }
    json_decref(root);
    return cfg;
}

/* The whole file as a NUL-terminated string, or NULL with a message. */
static char *read_file(const char *path, char *err, size_t errlen)
{
    strbuf buf = {0};
    char chunk[8192];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf.len + n > BH_CONFIG_FILE_MAX) {
            set_err(err, errlen, "%s: larger than %u bytes", path,
                    BH_CONFIG_FILE_MAX);
            goto fail;
        }
        if (sb_add(&buf, chunk, n) < 0)
            goto oom;
    }
    if (ferror(f)) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (sb_add(&buf, "", 0) < 0)
        goto oom;
    if (strlen(buf.s) != buf.len) {
        set_err(err, errlen, "%s: contains a NUL byte", path);
        goto fail;
    }
    fclose(f);
    return buf.s;
oom:
    set_err(err, errlen, "%s: out of memory", path);
fail:
    fclose(f);
    free(buf.s);
    return NULL;
}

bh_config *bh_config_load(const char *path, char *err, size_t errlen)
{
    char *text = read_file(path, err, errlen);
    bh_config *cfg;

    if (!text)
        return NULL;
    cfg = bh_config_parse(text, path, err, errlen);
    free(text);
    return cfg;
}

void bh_config_free(bh_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->file);
    free(cfg->listen);
    free(cfg->log_level);
    free(cfg->log_file);
    free(cfg->plugin_dir);
    free(cfg->data_dir);
    free(cfg->storage.driver);
    free(cfg->storage.path);
    free(cfg->storage.synchronous);
    free(cfg->storage.dsn);
    for (size_t i = 0; i < cfg->n_rate_classes; i++)
        free(cfg->rate_classes[i].name);
    free(cfg->rate_classes);
    for (size_t i = 0; i < cfg->n_plugins; i++)
        free_plugin(&cfg->plugins[i]);
    free(cfg->plugins);
    free(cfg);
}
