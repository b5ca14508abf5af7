/* sdkconfig.c - the readers of bilhetagem/config.h: a plugin's "config"
 * object checked strictly, with messages that name the key.
 *
 * Self-contained on purpose: it includes nothing of the core but the SDK
 * header, so a plugin's pure config code links it into a unit test (or a
 * fuzz target) without the rest of the server.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bilhetagem/config.h>

/* Control characters of a key quoted from the file would break the
 * message over lines (or into a terminal): they become '?', as in the
 * core's own config messages. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

int bh_config_fail(const bh_config_reader *cfg, const char *fmt, ...)
{
    va_list ap;
    if (!cfg->err || cfg->errlen == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(cfg->err, cfg->errlen, fmt, ap);
    va_end(ap);
    sanitize(cfg->err);
    return -1;
}

int bh_config_begin(bh_config_reader *cfg, const json_t *config, char *err, size_t errlen)
{
    cfg->obj = config;
    snprintf(cfg->path, sizeof cfg->path, "config");
    cfg->err = err;
    cfg->errlen = errlen;
    if (config && !json_is_object(config))
        return bh_config_fail(cfg, "config must be an object");
    return 0;
}

/* The value at `key`, NULL when absent (or when the object is). */
static const json_t *get(const bh_config_reader *cfg, const char *key)
{
    return cfg->obj ? json_object_get(cfg->obj, key) : NULL;
}

int bh_config_object(const bh_config_reader *cfg, const char *key, bh_config_reader *sub)
{
    const json_t *v = get(cfg, key);
    char path[BH_CONFIG_PATH_MAX];
    /* a longer path is cut: it only ever names a key in a message */
    if (snprintf(path, sizeof path, "%s.%s", cfg->path, key) < 0)
        path[0] = '\0';
    memcpy(sub->path, path, sizeof path); /* sub may be cfg itself */
    sub->obj = NULL;
    sub->err = cfg->err;
    sub->errlen = cfg->errlen;
    if (v && !json_is_object(v))
        return bh_config_fail(cfg, "%s must be an object", sub->path);
    sub->obj = v;
    return 0;
}

int bh_config_only_keys(const bh_config_reader *cfg, const char *const *allowed, const char *note)
{
    const char *key;
    const json_t *v;
    if (!cfg->obj)
        return 0;
    json_object_foreach((json_t *)cfg->obj, key, v) {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i] && strcmp(key, "$comment") != 0)
            return bh_config_fail(cfg, "%s.%s: unknown key%s%s", cfg->path, key, note ? " " : "",
                                  note ? note : "");
    }
    return 0;
}

int bh_config_int(const bh_config_reader *cfg, const char *key, int64_t def, int64_t min,
                  int64_t max, int64_t *out)
{
    const json_t *v = get(cfg, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return bh_config_fail(cfg, "%s.%s must be an integer from %lld to %lld", cfg->path, key,
                              (long long)min, (long long)max);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int bh_config_number(const bh_config_reader *cfg, const char *key, double def, double min,
                     double max, double *out)
{
    const json_t *v = get(cfg, key);
    if (!v) {
        *out = def;
        return 0;
    }
    /* written so that NaN bounds or values can never pass */
    if (!json_is_number(v) || !(json_number_value(v) >= min && json_number_value(v) <= max))
        return bh_config_fail(cfg, "%s.%s must be a number from %g to %g", cfg->path, key, min,
                              max);
    *out = json_number_value(v);
    return 0;
}

int bh_config_bool(const bh_config_reader *cfg, const char *key, int def, int *out)
{
    const json_t *v = get(cfg, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return bh_config_fail(cfg, "%s.%s must be a boolean", cfg->path, key);
    *out = json_is_true(v);
    return 0;
}

static int required(const bh_config_reader *cfg, const char *key)
{
    return bh_config_fail(cfg, "%s.%s is required", cfg->path, key);
}

int bh_config_enum(const bh_config_reader *cfg, const char *key, unsigned flags,
                   const char *const *choices, int def, int *out)
{
    const json_t *v = get(cfg, key);
    if (!v) {
        if (flags & BH_CONFIG_REQUIRED)
            return required(cfg, key);
        *out = def;
        return 0;
    }
    size_t n = 0;
    while (choices[n])
        n++;
    for (size_t i = 0; json_is_string(v) && i < n; i++) {
        if (strcmp(json_string_value(v), choices[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    /* "must be "a"", "must be "a" or "b"", "must be one of "a", "b" or "c"" */
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof list; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(list + used, sizeof list - used, "%s\"%s\"", sep, choices[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    return bh_config_fail(cfg, "%s.%s must be %s%s", cfg->path, key, n > 2 ? "one of " : "", list);
}

/* Every byte of s[0..len) belongs to the class; no NUL inside. */
static int in_class(const char *s, size_t len, unsigned cls)
{
    if (strlen(s) != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((cls == BH_CONFIG_ASCII && (c < 0x20 || c > 0x7e)) ||
            (cls == BH_CONFIG_TOKEN && (c <= 0x20 || c > 0x7e)))
            return 0;
    }
    return 1; /* BH_CONFIG_TEXT: jansson only holds valid UTF-8 */
}

int bh_config_string(const bh_config_reader *cfg, const char *key, unsigned flags, size_t min,
                     size_t max, const char *def, const char **out)
{
    static const char *const what[] = {"bytes", "printable ASCII characters",
                                       "printable characters without spaces"};
    const json_t *v = get(cfg, key);
    unsigned cls = flags & 3u;
    if (!v) {
        if (flags & BH_CONFIG_REQUIRED)
            return required(cfg, key);
        *out = def;
        return 0;
    }
    if (cls > BH_CONFIG_TOKEN || !json_is_string(v) || json_string_length(v) < min ||
        json_string_length(v) > max || !in_class(json_string_value(v), json_string_length(v), cls))
        return bh_config_fail(cfg, "%s.%s must be a string of %zu..%zu %s", cfg->path, key, min,
                              max, what[cls > BH_CONFIG_TOKEN ? 0 : cls]);
    *out = json_string_value(v);
    return 0;
}

int bh_config_string_copy(const bh_config_reader *cfg, const char *key, unsigned flags, size_t min,
                          size_t max, const char *def, char **out)
{
    const char *s;
    *out = NULL;
    if (bh_config_string(cfg, key, flags, min, max, def, &s) != 0)
        return -1;
    if (s && !(*out = strdup(s)))
        return bh_config_fail(cfg, "out of memory");
    return 0;
}
