/* config.h - the server's JSON configuration file.
 *
 * bh_config_load() reads one JSON file with jansson, interpolates ${VAR} and
 * ${VAR:-default} from the environment inside every string value (so secrets
 * never sit in the file), then checks the core's own keys strictly: an
 * unknown key or a value of the wrong type is an error naming the file, the
 * line and the JSON path, e.g.
 *     conf/x.json:12: server.workers: expected an integer, got a string
 * Each plugin's "config" object is kept as JSON for the plugin to validate.
 */
#ifndef BH_CONFIG_H
#define BH_CONFIG_H

#include <stddef.h>
#include <jansson.h>

#include "db.h"

#define BH_CONFIG_ERR_MAX 512

typedef struct bh_rate_class {
    char *name;
    double rate;  /* tokens added per second, > 0 */
    double burst; /* bucket size, >= 1 */
} bh_rate_class;

typedef struct bh_plugin_conf {
    char *name;     /* required, [a-z0-9_-]{1,32} */
    char *path;     /* as written, or "<name>.so" when absent */
    json_t *config; /* the plugin's own object ({} when absent); owned */
    int line;       /* line of the entry in the file, for messages */
} bh_plugin_conf;

typedef struct bh_config {
    char *file; /* the path it was loaded from */

    /* "server" */
    char *listen;            /* "HOST:PORT", default "127.0.0.1:8080" */
    int workers;             /* >= 0; 0 = number of online CPUs (default) */
    size_t max_header_bytes; /* default 8192, 512 .. 1 MiB */
    size_t max_body_bytes;   /* default 1 MiB, 1 .. 64 MiB */
    int timeout_ms;          /* read/write/idle per connection, default 10000 */
    int drain_timeout_ms;    /* SIGTERM drain bound, default 10000 */
    int max_json_depth;      /* default 32, 1 .. 1000 */
    int trust_forwarded_for; /* take the client from X-Forwarded-For, default 0 */

    /* "log" */
    char *log_level; /* "debug" | "info" | "warn" | "error", default "info" */
    char *log_file;  /* NULL = stdout */
    int access_log;  /* default 1 */

    /* "rate_limit" */
    int rate_limit_enabled;      /* default 1 */
    size_t rate_limit_clients;   /* buckets kept per class, default 65536 */
    bh_rate_class *rate_classes; /* always has "default" (50/s, burst 100) */
    size_t n_rate_classes;

    /* "storage": absent = no database (bh_db_* answer BH_DB_UNAVAILABLE) */
    int storage_enabled;
    bh_storage_conf storage;

    char *plugin_dir; /* NULL when not set */
    char *data_dir;   /* default "./var" */

    bh_plugin_conf *plugins;
    size_t n_plugins;
} bh_config;

/* Load and validate `path`.  Returns a new config, or NULL with a one-line
 * message in err ("FILE:LINE: PATH: what is wrong").  Caller frees with
 * bh_config_free(). */
bh_config *bh_config_load(const char *path, char *err, size_t errlen);

/* Same, from text already in memory (unit tests); `name` is used in
 * messages as the file name. */
bh_config *bh_config_parse(const char *text, const char *name, char *err, size_t errlen);

void bh_config_free(bh_config *cfg);

/* Interpolate ${VAR} / ${VAR:-default} in `in`.  Returns a malloc'd string,
 * or NULL with a message in err (unset variable without default, unclosed
 * "${", bad variable name).  "$$" is a literal "$". */
char *bh_config_interpolate(const char *in, char *err, size_t errlen);

/* The 1-based line on which the value at `path` (a dotted/indexed path such
 * as "plugins[2].config.mode") starts in the JSON `text`, or 0 if it cannot
 * be found.  Used only for error messages: jansson keeps no source
 * positions. */
int bh_json_path_line(const char *text, const char *path);

#endif
