/* bilhetagem/config.h - reading a plugin's "config" object strictly.
 *
 * Every plugin checks its config the same way: an unknown key is an error, a
 * value of the wrong type or out of range is an error, and the message names
 * the key so the operator can find it.  These readers do that once:
 *
 *     bh_config_reader cfg;
 *     char err[256];
 *     static const char *const keys[] = {"greeting", "max_names", NULL};
 *     int64_t max = 10;
 *     const char *greeting;
 *     if (bh_config_begin(&cfg, config, err, sizeof err) != 0 ||
 *         bh_config_only_keys(&cfg, keys, NULL) != 0 ||
 *         bh_config_string(&cfg, "greeting", BH_CONFIG_TEXT, 1, 64, "Hi", &greeting) != 0 ||
 *         bh_config_int(&cfg, "max_names", 10, 1, 100, &max) != 0) {
 *         bh_plugin_error(ctx, "%s", err);
 *         return -1;
 *     }
 *
 * A reader returns 0 when the key is absent (the output then holds the
 * default) or valid (the output holds its value), and -1 after writing the
 * reason into the err buffer given to bh_config_begin(), leaving the output
 * as it was (a copy: NULL).  Chain reads with || and the first error wins.
 * Messages name the key by its path from the plugin's config object, in
 * these forms, which the core prints as "plugin NAME: MESSAGE":
 *
 *     config.KEY: unknown key[ NOTE]
 *     config.KEY is required
 *     config.KEY must be an integer from MIN to MAX
 *     config.KEY must be a number from MIN to MAX
 *     config.KEY must be a boolean
 *     config.KEY must be "a" or "b"          (or: one of "a", "b" or "c")
 *     config.KEY must be a string of MIN..MAX bytes     (or characters of
 *                                                       a class: below)
 *     config.emf must be an object             (nested: config.emf.KEY ...)
 *
 * A message never quotes a value (a secret is safe to read this way), and
 * control characters of a key quoted from the file become '?', so a message
 * is always one line.
 *
 * Memory: strings are borrowed from the JSON object given to
 * bh_config_begin() (valid while it is: during init for the plugin's config)
 * except those of bh_config_string_copy(), which the caller frees.
 *
 * Threads: these functions keep no state but the reader; any thread may
 * call them.  They need nothing else of the core (core/sdkconfig.c stands
 * alone), so a plugin's pure config code that uses them can be unit-tested
 * without a server.
 */
#ifndef BILHETAGEM_CONFIG_H
#define BILHETAGEM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <bilhetagem/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BH_CONFIG_PATH_MAX 96

/* One object being read: the plugin's config, or an object nested in it
 * (bh_config_object).  Fill it with bh_config_begin(); the members are
 * read-only for the plugin. */
typedef struct bh_config_reader {
    const json_t *obj;             /* borrowed; NULL reads as {} */
    char path[BH_CONFIG_PATH_MAX]; /* how messages name it: "config" */
    char *err;                     /* the caller's error buffer */
    size_t errlen;
} bh_config_reader;

/* Start reading `config`, the object the core gave init ({} when the
 * deployer wrote none; NULL reads as {}).  Returns 0, or -1 with "config
 * must be an object" when it is another JSON value. */
int bh_config_begin(bh_config_reader *cfg, const json_t *config, char *err, size_t errlen);

/* Read the object at `key` into *sub, named "PATH.KEY" in messages and
 * reporting into the same buffer.  Absent: sub->obj is NULL, so every read
 * in it yields its default.  Returns 0, or -1 when the value is not an
 * object. */
int bh_config_object(const bh_config_reader *cfg, const char *key, bh_config_reader *sub);

/* Every key of the object must be in `allowed` (NULL-terminated) or be
 * "$comment", which is always allowed, as in the core's own sections.
 * `note` (may be NULL) follows the message ("in hs256 mode", "(known: a,
 * b)").  Returns 0, or -1 naming the first other key. */
int bh_config_only_keys(const bh_config_reader *cfg, const char *const *allowed, const char *note);

/* An integer in [min, max]; *out = def when absent.  A real (5.0) is not
 * an integer. */
int bh_config_int(const bh_config_reader *cfg, const char *key, int64_t def, int64_t min,
                  int64_t max, int64_t *out);

/* A number (integer or real) in [min, max]; *out = def when absent.
 * Messages print the bounds with %g. */
int bh_config_number(const bh_config_reader *cfg, const char *key, double def, double min,
                     double max, double *out);

/* true or false; *out = def (0 or 1) when absent. */
int bh_config_bool(const bh_config_reader *cfg, const char *key, int def, int *out);

/* A string that must be one of `choices` (NULL-terminated, at least one):
 * *out is its index, or def when absent.  `flags`: 0, or BH_CONFIG_REQUIRED.
 * The message lists the choices: must be "a" or "b", must be one of "a",
 * "b" or "c". */
int bh_config_enum(const bh_config_reader *cfg, const char *key, unsigned flags,
                   const char *const *choices, int def, int *out);

/* Flags of the string readers: one character class, and BH_CONFIG_REQUIRED.
 * Every class refuses a string with a NUL byte inside it. */
enum {
    BH_CONFIG_TEXT = 0,     /* any UTF-8 ("Olá"): names, greetings */
    BH_CONFIG_ASCII = 1,    /* printable ASCII, spaces allowed (0x20-0x7e) */
    BH_CONFIG_TOKEN = 2,    /* printable ASCII without spaces (0x21-0x7e):
                               URLs, ids, secrets */
    BH_CONFIG_REQUIRED = 16 /* absence is an error: "config.KEY is required" */
};

/* A string of min..max bytes of the class in `flags`; *out = def (may be
 * NULL) when absent.  *out is borrowed (see Memory above).  The messages:
 *   TEXT   "must be a string of MIN..MAX bytes"
 *   ASCII  "must be a string of MIN..MAX printable ASCII characters"
 *   TOKEN  "must be a string of MIN..MAX printable characters without
 *          spaces" */
int bh_config_string(const bh_config_reader *cfg, const char *key, unsigned flags, size_t min,
                     size_t max, const char *def, const char **out);

/* The same, but *out is a malloc'd copy the caller frees (NULL when absent
 * and def is NULL).  -1 also on out of memory ("out of memory"). */
int bh_config_string_copy(const bh_config_reader *cfg, const char *key, unsigned flags, size_t min,
                          size_t max, const char *def, char **out);

/* A check of the plugin's own (two keys that exclude each other, a URL
 * scheme...): format the message into the err buffer, control characters
 * replaced by '?'.  Name the key the way the readers do ("config.KEY ...").
 * Returns -1, so that `return bh_config_fail(&cfg, ...);` ends a parser. */
int bh_config_fail(const bh_config_reader *cfg, const char *fmt, ...) BH_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif
#endif
