/* config_read.h - the readers config.c builds the schema from (internal).
 *
 * Typed getters over a jansson object that report "FILE:LINE: PATH: what is
 * wrong" through one context, ${VAR} interpolation of string values, and the
 * small string helpers they share.  Getters return 0 when the key was read
 * or is absent (*out untouched when absent) and -1 after reporting.
 */
#ifndef BH_CONFIG_READ_H
#define BH_CONFIG_READ_H

#include <stddef.h>

#include <jansson.h>

#include "config.h"

#define BH_NAME_MAX 32 /* plugin and rate class names */

/* What every validation step needs to report an error. */
typedef struct bh_cfg_ctx {
    const char *text; /* the original JSON, for line numbers */
    const char *name; /* the file name, for messages */
    char *err;
    size_t errlen;
} bh_cfg_ctx;

/* A growable NUL-terminated string. */
typedef struct bh_cfg_strbuf {
    char *s;
    size_t len, cap;
} bh_cfg_strbuf;

int bh_cfg_sb_add(bh_cfg_strbuf *b, const char *p, size_t n);
char *bh_cfg_dup_str(const char *s);
/* Format into err; control characters become '?' (one-line messages). */
void bh_cfg_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *bh_cfg_type_name(const json_t *v);
/* [a-z0-9_-]{1,32}: plugin and rate class names. */
int bh_cfg_valid_name(const char *s);
char *bh_cfg_join_path(const char *parent, const char *key);
/* The line of `path`, or of the nearest enclosing path that can be found. */
int bh_cfg_path_line(const char *text, const char *path);

/* Report "FILE:LINE: PARENT.KEY: message" (key may be NULL).  Returns -1. */
int bh_cfg_fail(const bh_cfg_ctx *ctx, const char *parent, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int bh_cfg_fail_oom(const bh_cfg_ctx *ctx);

/* Expand ${VAR} in every string value below `v` (its path in `path`). */
int bh_cfg_interpolate_tree(const bh_cfg_ctx *ctx, json_t *v, bh_cfg_strbuf *path);

/* An object's keys must all be in `allowed` (or "$comment"). */
int bh_cfg_check_keys(const bh_cfg_ctx *ctx, json_t *obj, const char *parent,
                      const char *const *allowed);
int bh_cfg_get_int(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                   long long min, long long max, int *out);
int bh_cfg_get_size(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                    long long min, long long max, size_t *out);
int bh_cfg_get_bool(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                    int *out);
/* An integer or a real: 1 = present (*out set), 0 = absent, -1 = error. */
int bh_cfg_read_number(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                       double *out);
/* A non-empty string, interpolated, replacing *out; with `nullable` a JSON
 * null sets *out to NULL. */
int bh_cfg_get_str(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                   int nullable, char **out);
/* The object at obj[key] in *out (NULL when absent), its keys checked. */
int bh_cfg_get_section(const bh_cfg_ctx *ctx, json_t *obj, const char *parent, const char *key,
                       const char *const *allowed, json_t **out);

#endif
