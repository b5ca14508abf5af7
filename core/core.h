/* core.h - the core's internal shapes, shared by core/ files only.
 *
 * The process has one bh_app, built on the main thread during startup
 * (config, plugins, routes, hooks, subscriptions) and read-only once the
 * workers start.  What changes while serving lives elsewhere: per-worker
 * state in bh_worker, counters in metrics.c (atomics), rate-limit buckets in
 * ratelimit.c (sharded locks).
 */
#ifndef BH_CORE_H
#define BH_CORE_H

#include <stdatomic.h>
#include <stdint.h>

#include <bilhetagem/bilhetagem.h>

#include "config.h"
#include "router.h"

#define BH_ERR_MAX 512
#define BH_RATE_EXEMPT (-2L)

/* One loaded plugin. */
struct bh_plugin_ctx {
    char *name;
    char *path; /* resolved .so path */
    void *dl;   /* dlopen handle */
    const bh_plugin_descriptor *desc;
    const json_t *config; /* borrowed from bh_config */
    void *state;          /* from init */
    int inited, started;
    char error[BH_ERR_MAX];
    struct bh_app *app;
};

/* A registered route: the router's data pointer. */
typedef struct bh_route_entry {
    struct bh_plugin_ctx *plugin;
    char *method;
    char *tmpl;
    unsigned method_bit;
    bh_handler_fn handler;
    void *arg;
    bh_auth_kind auth;
    char *auth_value;
    unsigned flags;
    size_t rate_class; /* index into cfg->rate_classes, SIZE_MAX = exempt */
    json_t *openapi;   /* Operation Object or NULL */
    size_t index;      /* dense id for metrics, 0 = unmatched */
} bh_route_entry;

typedef struct bh_hook {
    struct bh_plugin_ctx *plugin;
    bh_hook_fn fn;
    void *arg;
} bh_hook;

typedef struct bh_subscription {
    struct bh_plugin_ctx *plugin;
    char *type;
    char *name;
    bh_event_fn fn;
    void *arg;
} bh_subscription;

/* A domain counter (bilhetagem/util.h). */
struct bh_counter {
    char *name;
    char *help;
    atomic_llong value;
    struct bh_plugin_ctx *plugin;
};

/* A bh_unit_count() waiting for its unit to commit. */
typedef struct bh_unit_counted {
    bh_counter *counter;
    int64_t n;
} bh_unit_counted;

/* A periodic task or an operator command (bilhetagem/tasks.h). */
typedef struct bh_task {
    struct bh_plugin_ctx *plugin;
    char *name;
    int64_t interval_ms;
    bh_task_fn fn;
    void *arg;
    int64_t due_us; /* next run, monotonic; the tasks thread's own */
} bh_task;

typedef struct bh_command {
    struct bh_plugin_ctx *plugin;
    char *name;
    char *summary;
    bh_command_fn fn;
    void *arg;
} bh_command;

typedef struct bh_service {
    char *name;
    uint32_t version;
    const void *iface;
    struct bh_plugin_ctx *plugin;
} bh_service;

/* A growable array of fixed-size items. */
typedef struct bh_vec {
    void *items;
    size_t len, cap, size;
} bh_vec;

void bh_vec_init(bh_vec *v, size_t item_size);
void *bh_vec_push(bh_vec *v); /* zeroed slot; aborts on OOM */
void *bh_vec_at(const bh_vec *v, size_t i);
void bh_vec_free(bh_vec *v);

typedef struct bh_app {
    bh_config *cfg;
    bh_plugin_ctx **plugins; /* in dependency order */
    size_t n_plugins;

    bh_router *router;
    bh_vec routes;                 /* bh_route_entry* (owned) */
    bh_vec hooks[3];               /* bh_hook, per bh_hook_phase */
    bh_hook authorizer;            /* fn == NULL when none */
    bh_vec subscriptions;          /* bh_subscription */
    bh_vec services;               /* bh_service */
    bh_vec counters;               /* bh_counter* (owned) */
    bh_vec tasks;                  /* bh_task */
    bh_vec commands;               /* bh_command */
    struct bh_tasks *tasks_runner; /* the tasks thread, with storage */
    char *openapi_json;            /* assembled once at startup */
    bh_plugin_ctx core;            /* names the core's own routes (name NULL) */
    struct bh_storage *storage;    /* NULL without a "storage" config */
    struct bh_outbox *outbox;      /* the dispatcher, with storage */
    bh_event_transport transport;  /* send == NULL: deliver in this process */
    bh_plugin_ctx *transport_plugin;
    int serving; /* set when workers start: registration closed */
    atomic_int draining;
} bh_app;

/* xmalloc family: abort with a log line on out-of-memory, like the rest of
 * the core (a server that cannot allocate 100 bytes cannot recover). */
void *bh_xmalloc(size_t n);
void *bh_xcalloc(size_t n, size_t size);
char *bh_xstrdup(const char *s);

/* 1 when s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF), else 0. */
int bh_utf8_valid(const char *s, size_t n);

/* Monotonic and wall clocks. */
int64_t bh_now_us(void);           /* CLOCK_MONOTONIC */
void bh_rfc3339_now(char out[32]); /* "2026-11-29T10:00:00.123Z" */

/* Random bytes from getrandom(2); 0 or -1. */
int bh_random(void *buf, size_t len);
/* 32 lowercase hex chars from 16 random bytes. */
void bh_random_hex_id(char out[33]);

/* A fast per-thread generator for ids that must be unique, not secret
 * (request ids): splitmix64 seeded from getrandom(2). */
typedef struct bh_idgen {
    uint64_t state;
} bh_idgen;
void bh_idgen_seed(bh_idgen *g);
void bh_idgen_hex(bh_idgen *g, char out[33]);

/* log.c */
int bh_log_open(const bh_config *cfg, char *err, size_t errlen);
int bh_log_reopen(void);
void bh_log_set_level(bh_log_level level);
/* Without log.file, write to stderr instead of stdout (the CLI's stdout is
 * its output). */
void bh_log_use_stderr(void);
/* The unit whose work the calling thread is doing (a request, an event
 * delivery, a task run), or NULL: bh_log lines written meanwhile carry its
 * id as request_id and its trace id, so a plugin's own log lines join the
 * request they belong to.  Returns the previous one, to restore. */
const bh_unit *bh_log_scope(const bh_unit *unit);
void bh_log_core(bh_log_level level, const char *fmt, ...) BH_PRINTF(2, 3);
/* Write one JSON object as a line (steals obj). */
void bh_log_json(json_t *obj);

/* A batch of log lines (see log.c): the access-log thread's. */
#define BH_LOG_FLUSH_MS 100
typedef struct bh_log_buffer {
    size_t len;
    char data[32768];
} bh_log_buffer;
/* Append obj (borrowed) as a line; writes the batch first when full. */
void bh_log_buffered(bh_log_buffer *b, json_t *obj);
void bh_log_buffer_flush(bh_log_buffer *b);

/* loader.c */
int bh_plugins_load(bh_app *app, const char *plugin_dir, char *err, size_t errlen);
int bh_plugins_init(bh_app *app, char *err, size_t errlen);
int bh_plugins_start(bh_app *app, char *err, size_t errlen);
void bh_plugins_stop(bh_app *app);
void bh_plugins_unload(bh_app *app);
/* Order plugins by dependencies (exposed for unit tests). */
int bh_plugins_order(bh_app *app, char *err, size_t errlen);

/* registry.c: finishing registration once all plugins are in. */
int bh_registry_finalize(bh_app *app, char *err, size_t errlen);
void bh_registry_free(bh_app *app);

/* openapi.c */
char *bh_openapi_build(const bh_app *app);

/* builtin.c: /healthz, /readyz, /metrics, /openapi.json */
struct bh_server;
int bh_builtin_register(struct bh_server *srv, char *err, size_t errlen);

/* problem.c */
json_t *bh_problem_new(int status, const char *type, const char *title, const char *detail,
                       const char *instance);
const char *bh_status_reason(int status);

/* events.c: in-process delivery of a unit's published events. */
typedef struct bh_pending_event bh_pending_event;
struct bh_event {
    json_t *envelope; /* CloudEvents 1.0 */
};
void bh_events_deliver(bh_app *app, bh_pending_event *list, const char *cause_id);
void bh_events_discard(bh_pending_event *list);

/* trace.c (xray): the tracer around an event delivery in `unit`, whose
 * trace header is already set; and forgetting the tracer at shutdown. */
bh_span *bh_trace_unit_begin(bh_unit *unit, const char *type, const char *subscriber);
void bh_trace_unit_end(bh_unit *unit, bh_span *span, int error);
void bh_trace_reset(void);

/* The process-wide app, set once by main before plugins load; SDK entry
 * points that get no context (bh_service_lookup) read it. */
extern bh_app *bh_the_app;

#endif
