/* config.c - the schema of the server's JSON config file.
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

#include "config_read.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BH_CONFIG_FILE_MAX (16u * 1024 * 1024)

static const char *const top_keys[] = {"server",     "log",      "rate_limit", "storage",
                                       "plugin_dir", "data_dir", "plugins",    NULL};
static const char *const storage_keys[] = {"driver",
                                           "path",
                                           "synchronous",
                                           "busy_timeout_ms",
                                           "dsn",
                                           "statement_timeout_ms",
                                           "connect_timeout_ms",
                                           "max_retries",
                                           "outbox_batch",
                                           "outbox_max_attempts",
                                           "outbox_backoff_ms",
                                           "outbox_max_backoff_ms",
                                           "outbox_lease_ms",
                                           "outbox_poll_ms",
                                           "idempotency_retention_s",
                                           NULL};
static const char *const server_keys[] = {
    "listen",     "workers",          "max_header_bytes", "max_body_bytes",
    "timeout_ms", "drain_timeout_ms", "max_json_depth",   "trust_forwarded_for",
    NULL};
static const char *const log_keys[] = {"level", "file", "access_log", NULL};
static const char *const rate_limit_keys[] = {"enabled", "max_clients", "classes", NULL};
static const char *const rate_class_keys[] = {"rate_per_sec", "burst", NULL};
static const char *const plugin_keys[] = {"name", "path", "config", "enabled", NULL};

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

static int check_listen(const bh_cfg_ctx *ctx, const char *listen)
{
    const char *colon = strrchr(listen, ':');

    if (!colon || !valid_host(listen, (size_t)(colon - listen)) || !valid_port(colon + 1))
        return bh_cfg_fail(ctx, "server", "listen",
                           "expected \"HOST:PORT\" with an IPv4 address, a "
                           "[bracketed] IPv6 address or a name, and a port 0-65535");
    return 0;
}

static int load_server(const bh_cfg_ctx *ctx, json_t *root, bh_config *cfg)
{
    const char *s = "server";
    json_t *o;

    if (bh_cfg_get_section(ctx, root, "", s, server_keys, &o) < 0)
        return -1;
    if (!o)
        return 0;
    if (bh_cfg_get_str(ctx, o, s, "listen", 0, &cfg->listen) < 0 ||
        check_listen(ctx, cfg->listen) < 0 ||
        bh_cfg_get_int(ctx, o, s, "workers", 0, 256, &cfg->workers) < 0 ||
        bh_cfg_get_size(ctx, o, s, "max_header_bytes", 512, 1048576, &cfg->max_header_bytes) < 0 ||
        bh_cfg_get_size(ctx, o, s, "max_body_bytes", 1, 67108864, &cfg->max_body_bytes) < 0 ||
        bh_cfg_get_int(ctx, o, s, "timeout_ms", 100, 3600000, &cfg->timeout_ms) < 0 ||
        bh_cfg_get_int(ctx, o, s, "drain_timeout_ms", 0, 600000, &cfg->drain_timeout_ms) < 0 ||
        bh_cfg_get_int(ctx, o, s, "max_json_depth", 1, 1000, &cfg->max_json_depth) < 0 ||
        bh_cfg_get_bool(ctx, o, s, "trust_forwarded_for", &cfg->trust_forwarded_for) < 0)
        return -1;
    return 0;
}

static int load_log(const bh_cfg_ctx *ctx, json_t *root, bh_config *cfg)
{
    const char *level;
    json_t *o;

    if (bh_cfg_get_section(ctx, root, "", "log", log_keys, &o) < 0)
        return -1;
    if (!o)
        return 0;
    if (bh_cfg_get_str(ctx, o, "log", "level", 0, &cfg->log_level) < 0 ||
        bh_cfg_get_str(ctx, o, "log", "file", 1, &cfg->log_file) < 0 ||
        bh_cfg_get_bool(ctx, o, "log", "access_log", &cfg->access_log) < 0)
        return -1;
    level = cfg->log_level;
    if (strcmp(level, "debug") && strcmp(level, "info") && strcmp(level, "warn") &&
        strcmp(level, "error"))
        return bh_cfg_fail(ctx, "log", "level",
                           "must be one of \"debug\", \"info\", \"warn\", \"error\"");
    return 0;
}

static int check_storage(const bh_cfg_ctx *ctx, const bh_storage_conf *st)
{
    const char *s = "storage";
    if (!st->driver)
        return bh_cfg_fail(ctx, s, NULL, "missing required key \"driver\"");
    if (strcmp(st->driver, "sqlite") && strcmp(st->driver, "postgresql"))
        return bh_cfg_fail(ctx, s, "driver", "must be \"sqlite\" or \"postgresql\"");
    if (!strcmp(st->driver, "sqlite") && !st->path)
        return bh_cfg_fail(ctx, s, NULL, "the sqlite driver needs \"path\"");
    if (!strcmp(st->driver, "postgresql") && !st->dsn)
        return bh_cfg_fail(ctx, s, NULL, "the postgresql driver needs \"dsn\"");
    if (strcmp(st->synchronous, "full") && strcmp(st->synchronous, "normal"))
        return bh_cfg_fail(ctx, s, "synchronous", "must be \"full\" or \"normal\"");
    return 0;
}

static int load_storage(const bh_cfg_ctx *ctx, json_t *root, bh_config *cfg)
{
    const char *s = "storage";
    bh_storage_conf *st = &cfg->storage;
    json_t *o;

    if (bh_cfg_get_section(ctx, root, "", s, storage_keys, &o) < 0)
        return -1;
    if (!o)
        return 0;
    cfg->storage_enabled = 1;
    if (bh_cfg_get_str(ctx, o, s, "driver", 0, &st->driver) < 0 ||
        bh_cfg_get_str(ctx, o, s, "path", 0, &st->path) < 0 ||
        bh_cfg_get_str(ctx, o, s, "synchronous", 0, &st->synchronous) < 0 ||
        bh_cfg_get_int(ctx, o, s, "busy_timeout_ms", 0, 600000, &st->busy_timeout_ms) < 0 ||
        bh_cfg_get_str(ctx, o, s, "dsn", 0, &st->dsn) < 0 ||
        bh_cfg_get_int(ctx, o, s, "statement_timeout_ms", 0, 3600000, &st->statement_timeout_ms) <
            0 ||
        bh_cfg_get_int(ctx, o, s, "connect_timeout_ms", 100, 600000, &st->connect_timeout_ms) < 0 ||
        bh_cfg_get_int(ctx, o, s, "max_retries", 0, 100, &st->max_retries) < 0 ||
        bh_cfg_get_int(ctx, o, s, "outbox_batch", 1, 10000, &st->outbox_batch) < 0 ||
        bh_cfg_get_int(ctx, o, s, "outbox_max_attempts", 1, 1000, &st->outbox_max_attempts) < 0 ||
        bh_cfg_get_int(ctx, o, s, "outbox_backoff_ms", 1, 3600000, &st->outbox_backoff_ms) < 0 ||
        bh_cfg_get_int(ctx, o, s, "outbox_max_backoff_ms", 1, 86400000,
                       &st->outbox_max_backoff_ms) < 0 ||
        bh_cfg_get_int(ctx, o, s, "outbox_lease_ms", 100, 3600000, &st->outbox_lease_ms) < 0 ||
        bh_cfg_get_int(ctx, o, s, "outbox_poll_ms", 10, 600000, &st->outbox_poll_ms) < 0 ||
        bh_cfg_get_int(ctx, o, s, "idempotency_retention_s", 1, 31536000,
                       &st->idempotency_retention_s) < 0)
        return -1;
    return check_storage(ctx, st);
}

/* One entry of rate_limit.classes; "default" replaces the built-in one. */
static int load_rate_class(const bh_cfg_ctx *ctx, const char *path, const char *name, json_t *v,
                           bh_config *cfg)
{
    double rate = 0, burst = 0;
    bh_rate_class *c;
    int r;

    if (!bh_cfg_valid_name(name))
        return bh_cfg_fail(ctx, path, NULL, "invalid class name (expected [a-z0-9_-]{1,32})");
    if (!strcmp(name, "none")) /* routes use "none" to opt out of limiting */
        return bh_cfg_fail(ctx, path, NULL, "\"none\" is reserved: it means \"not rate limited\"");
    if (!json_is_object(v))
        return bh_cfg_fail(ctx, path, NULL, "expected an object, got %s", bh_cfg_type_name(v));
    if (bh_cfg_check_keys(ctx, v, path, rate_class_keys) < 0)
        return -1;
    if ((r = bh_cfg_read_number(ctx, v, path, "rate_per_sec", &rate)) <= 0)
        return r < 0 ? -1 : bh_cfg_fail(ctx, path, NULL, "missing required key \"rate_per_sec\"");
    if (!(rate > 0))
        return bh_cfg_fail(ctx, path, "rate_per_sec", "must be greater than 0");
    if ((r = bh_cfg_read_number(ctx, v, path, "burst", &burst)) <= 0)
        return r < 0 ? -1 : bh_cfg_fail(ctx, path, NULL, "missing required key \"burst\"");
    if (!(burst >= 1))
        return bh_cfg_fail(ctx, path, "burst", "must be at least 1");
    c = &cfg->rate_classes[0];
    if (strcmp(name, "default") != 0) {
        c = &cfg->rate_classes[cfg->n_rate_classes];
        if (!(c->name = bh_cfg_dup_str(name)))
            return bh_cfg_fail_oom(ctx);
        cfg->n_rate_classes++;
    }
    c->rate = rate;
    c->burst = burst;
    return 0;
}

static int load_rate_classes(const bh_cfg_ctx *ctx, json_t *rl, bh_config *cfg)
{
    json_t *classes = json_object_get(rl, "classes"), *v;
    bh_rate_class *grown;
    const char *name;

    if (!classes)
        return 0;
    if (!json_is_object(classes))
        return bh_cfg_fail(ctx, "rate_limit", "classes", "expected an object, got %s",
                           bh_cfg_type_name(classes));
    grown = realloc(cfg->rate_classes, (1 + json_object_size(classes)) * sizeof *grown);
    if (!grown)
        return bh_cfg_fail_oom(ctx);
    cfg->rate_classes = grown;
    json_object_foreach(classes, name, v) {
        char *path;
        int r;

        if (strcmp(name, "$comment") == 0)
            continue;
        if (!(path = bh_cfg_join_path("rate_limit.classes", name)))
            return bh_cfg_fail_oom(ctx);
        r = load_rate_class(ctx, path, name, v, cfg);
        free(path);
        if (r < 0)
            return -1;
    }
    return 0;
}

static int load_rate_limit(const bh_cfg_ctx *ctx, json_t *root, bh_config *cfg)
{
    json_t *o;

    if (bh_cfg_get_section(ctx, root, "", "rate_limit", rate_limit_keys, &o) < 0)
        return -1;
    if (!o)
        return 0;
    if (bh_cfg_get_bool(ctx, o, "rate_limit", "enabled", &cfg->rate_limit_enabled) < 0 ||
        bh_cfg_get_size(ctx, o, "rate_limit", "max_clients", 16, 10000000,
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
static int load_plugin_fields(const bh_cfg_ctx *ctx, json_t *entry, const char *parent,
                              bh_plugin_conf *pc)
{
    json_t *config = json_object_get(entry, "config");
    bh_cfg_strbuf path = {0};
    int r;

    if (bh_cfg_get_str(ctx, entry, parent, "name", 0, &pc->name) < 0)
        return -1;
    if (!pc->name)
        return bh_cfg_fail(ctx, parent, NULL, "missing required key \"name\"");
    if (!bh_cfg_valid_name(pc->name))
        return bh_cfg_fail(ctx, parent, "name", "invalid plugin name (expected [a-z0-9_-]{1,32})");
    if (bh_cfg_get_str(ctx, entry, parent, "path", 0, &pc->path) < 0)
        return -1;
    if (!pc->path) {
        size_t n = strlen(pc->name) + sizeof ".so";

        if (!(pc->path = malloc(n)))
            return bh_cfg_fail_oom(ctx);
        snprintf(pc->path, n, "%s.so", pc->name);
    }
    if (config && !json_is_object(config))
        return bh_cfg_fail(ctx, parent, "config", "expected an object, got %s",
                           bh_cfg_type_name(config));
    pc->config = config ? json_incref(config) : json_object();
    if (!pc->config)
        return bh_cfg_fail_oom(ctx);
    if (bh_cfg_sb_add(&path, parent, strlen(parent)) < 0 ||
        bh_cfg_sb_add(&path, ".config", strlen(".config")) < 0) {
        free(path.s);
        return bh_cfg_fail_oom(ctx);
    }
    r = bh_cfg_interpolate_tree(ctx, pc->config, &path);
    free(path.s);
    return r;
}

static int check_unique(const bh_cfg_ctx *ctx, const bh_config *cfg, const char *parent,
                        const char *name)
{
    for (size_t i = 0; i < cfg->n_plugins; i++)
        if (strcmp(cfg->plugins[i].name, name) == 0)
            return bh_cfg_fail(ctx, parent, "name",
                               "duplicate plugin \"%s\" (first defined at line %d)", name,
                               cfg->plugins[i].line);
    return 0;
}

/* plugins[i]: an entry with "enabled": false is checked for unknown keys,
 * then skipped entirely. */
static int load_plugin(const bh_cfg_ctx *ctx, json_t *entry, size_t i, bh_config *cfg)
{
    bh_plugin_conf pc = {0};
    char parent[48];
    int enabled = 1;

    snprintf(parent, sizeof parent, "plugins[%zu]", i);
    if (!json_is_object(entry))
        return bh_cfg_fail(ctx, parent, NULL, "expected an object, got %s",
                           bh_cfg_type_name(entry));
    if (bh_cfg_check_keys(ctx, entry, parent, plugin_keys) < 0 ||
        bh_cfg_get_bool(ctx, entry, parent, "enabled", &enabled) < 0)
        return -1;
    if (!enabled)
        return 0;
    if (load_plugin_fields(ctx, entry, parent, &pc) < 0 ||
        check_unique(ctx, cfg, parent, pc.name) < 0) {
        free_plugin(&pc);
        return -1;
    }
    pc.line = bh_cfg_path_line(ctx->text, parent);
    cfg->plugins[cfg->n_plugins++] = pc;
    return 0;
}

static int load_plugins(const bh_cfg_ctx *ctx, json_t *root, bh_config *cfg)
{
    json_t *plugins = json_object_get(root, "plugins"), *entry;
    size_t i;

    if (!plugins)
        return 0;
    if (!json_is_array(plugins))
        return bh_cfg_fail(ctx, "", "plugins", "expected an array, got %s",
                           bh_cfg_type_name(plugins));
    if (json_array_size(plugins) == 0)
        return 0;
    cfg->plugins = calloc(json_array_size(plugins), sizeof *cfg->plugins);
    if (!cfg->plugins)
        return bh_cfg_fail_oom(ctx);
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
    cfg->file = bh_cfg_dup_str(name);
    cfg->listen = bh_cfg_dup_str("127.0.0.1:8080");
    cfg->max_header_bytes = 8192;
    cfg->max_body_bytes = 1048576;
    cfg->timeout_ms = 10000;
    cfg->drain_timeout_ms = 10000;
    cfg->max_json_depth = 32;
    cfg->log_level = bh_cfg_dup_str("info");
    cfg->access_log = 1;
    cfg->rate_limit_enabled = 1;
    cfg->rate_limit_clients = 65536;
    cfg->data_dir = bh_cfg_dup_str("./var");
    cfg->storage = (bh_storage_conf){.synchronous = bh_cfg_dup_str("full"),
                                     .busy_timeout_ms = 5000,
                                     .statement_timeout_ms = 5000,
                                     .connect_timeout_ms = 5000,
                                     .max_retries = 4,
                                     .outbox_batch = 100,
                                     .outbox_max_attempts = 10,
                                     .outbox_backoff_ms = 500,
                                     .outbox_max_backoff_ms = 300000,
                                     .outbox_lease_ms = 30000,
                                     .outbox_poll_ms = 1000,
                                     .idempotency_retention_s = 86400};
    cfg->rate_classes = calloc(1, sizeof *cfg->rate_classes);
    if (cfg->rate_classes) {
        cfg->rate_classes[0] = (bh_rate_class){bh_cfg_dup_str("default"), 50, 100};
        cfg->n_rate_classes = 1;
    }
    if (!cfg->file || !cfg->listen || !cfg->log_level || !cfg->data_dir ||
        !cfg->storage.synchronous || !cfg->rate_classes || !cfg->rate_classes[0].name) {
        bh_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static int load_root(const bh_cfg_ctx *ctx, json_t *root, bh_config *cfg)
{
    if (!json_is_object(root))
        return bh_cfg_fail(ctx, "", NULL, "top level must be an object, got %s",
                           bh_cfg_type_name(root));
    if (bh_cfg_check_keys(ctx, root, "", top_keys) < 0 ||
        bh_cfg_get_str(ctx, root, "", "plugin_dir", 0, &cfg->plugin_dir) < 0 ||
        bh_cfg_get_str(ctx, root, "", "data_dir", 0, &cfg->data_dir) < 0 ||
        load_server(ctx, root, cfg) < 0 || load_log(ctx, root, cfg) < 0 ||
        load_rate_limit(ctx, root, cfg) < 0 || load_storage(ctx, root, cfg) < 0 ||
        load_plugins(ctx, root, cfg) < 0)
        return -1;
    return 0;
}

bh_config *bh_config_parse(const char *text, const char *name, char *err, size_t errlen)
{
    bh_cfg_ctx ctx = {text, name ? name : "(config)", err, errlen};
    json_error_t jerr;
    bh_config *cfg;
    json_t *root;

    if (!text) {
        bh_cfg_set_err(err, errlen, "%s: no text", ctx.name);
        return NULL;
    }
    /* JSON_ALLOW_NUL: let "\u0000" through so that it is reported below
     * with its path, instead of as a bare syntax error. */
    root = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        bh_cfg_set_err(err, errlen, "%s:%d: invalid JSON: %s", ctx.name, jerr.line, jerr.text);
        return NULL;
    }
    if (!(cfg = config_new(ctx.name)))
        bh_cfg_fail_oom(&ctx);
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
    bh_cfg_strbuf buf = {0};
    char chunk[8192];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f) {
        bh_cfg_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf.len + n > BH_CONFIG_FILE_MAX) {
            bh_cfg_set_err(err, errlen, "%s: larger than %u bytes", path, BH_CONFIG_FILE_MAX);
            goto fail;
        }
        if (bh_cfg_sb_add(&buf, chunk, n) < 0)
            goto oom;
    }
    if (ferror(f)) {
        bh_cfg_set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (bh_cfg_sb_add(&buf, "", 0) < 0)
        goto oom;
    if (strlen(buf.s) != buf.len) {
        bh_cfg_set_err(err, errlen, "%s: contains a NUL byte", path);
        goto fail;
    }
    fclose(f);
    return buf.s;
oom:
    bh_cfg_set_err(err, errlen, "%s: out of memory", path);
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
