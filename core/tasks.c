/* tasks.c - work no request starts: periodic tasks and operator commands
 * (bilhetagem/tasks.h).
 *
 * Plugins register both in init.  Periodic tasks run on one thread of the
 * core's own (never a worker: a sweep must not delay a request), started
 * after every plugin's start and stopped before the first stop; commands run
 * on bilhetagemctl's main thread.  Either way the callback runs in a unit of
 * work of its own, the way a subscriber does: committed when it returns 0,
 * rolled back otherwise, run again when the database asks (BH_DB_RETRY), and
 * the outbox woken when it published.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outbox.h"
#include "storage.h"
#include "tasks.h"
#include "unit.h"

#define TASK_MIN_MS 100
#define TASK_MAX_MS 86400000LL

struct bh_tasks {
    bh_app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    int stopping;
    bh_dbconn *conn; /* the thread's own connection */
};

/* ---- registration ------------------------------------------------------------ */

static int name_ok(const char *s, size_t max, int dots)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                 (dots && (c == '_' || c == '.'));
        if (!ok || (i == 0 && !(c >= 'a' && c <= 'z')))
            return 0;
    }
    return 1;
}

static int registration_open(bh_plugin_ctx *ctx, const char *what)
{
    if (ctx->app->serving) {
        bh_plugin_error(ctx, "%s after startup is not allowed", what);
        return 0;
    }
    if (!ctx->app->storage) {
        bh_plugin_error(ctx, "%s needs storage: the config has no \"storage\" section", what);
        return 0;
    }
    return 1;
}

int bh_task_every(bh_plugin_ctx *ctx, const char *name, int64_t interval_ms, bh_task_fn fn,
                  void *arg)
{
    if (!registration_open(ctx, "bh_task_every"))
        return -1;
    if (!name_ok(name, 64, 1) || !fn) {
        bh_plugin_error(ctx, "bh_task_every: a name of [a-z0-9_.-] and a function are required");
        return -1;
    }
    if (interval_ms < TASK_MIN_MS || interval_ms > TASK_MAX_MS) {
        bh_plugin_error(ctx, "task %s: interval %lld ms is outside %d .. %lld", name,
                        (long long)interval_ms, TASK_MIN_MS, TASK_MAX_MS);
        return -1;
    }
    for (size_t i = 0; i < ctx->app->tasks.len; i++) {
        const bh_task *t = bh_vec_at(&ctx->app->tasks, i);
        if (t->plugin == ctx && !strcmp(t->name, name)) {
            bh_plugin_error(ctx, "task %s registered twice", name);
            return -1;
        }
    }
    bh_task *t = bh_vec_push(&ctx->app->tasks);
    t->plugin = ctx;
    t->name = bh_xstrdup(name);
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->arg = arg;
    return 0;
}

int bh_command_add(bh_plugin_ctx *ctx, const char *name, const char *summary, bh_command_fn fn,
                   void *arg)
{
    static const char *const builtin[] = {"migrate", "outbox", "token", "help", NULL};
    if (!registration_open(ctx, "bh_command_add"))
        return -1;
    if (!name_ok(name, 32, 0) || !fn || !summary) {
        bh_plugin_error(ctx, "bh_command_add: a name of [a-z][a-z0-9-]{0,31}, a summary and a "
                             "function are required");
        return -1;
    }
    for (size_t i = 0; builtin[i]; i++)
        if (!strcmp(name, builtin[i])) {
            bh_plugin_error(ctx, "command %s is bilhetagemctl's own", name);
            return -1;
        }
    for (size_t i = 0; i < ctx->app->commands.len; i++) {
        const bh_command *c = bh_vec_at(&ctx->app->commands, i);
        if (c->plugin == ctx && !strcmp(c->name, name)) {
            bh_plugin_error(ctx, "command %s registered twice", name);
            return -1;
        }
    }
    bh_command *c = bh_vec_push(&ctx->app->commands);
    c->plugin = ctx;
    c->name = bh_xstrdup(name);
    c->summary = bh_xstrdup(summary);
    c->fn = fn;
    c->arg = arg;
    return 0;
}

void bh_tasks_free(bh_app *app)
{
    for (size_t i = 0; i < app->tasks.len; i++)
        free(((bh_task *)bh_vec_at(&app->tasks, i))->name);
    bh_vec_free(&app->tasks);
    for (size_t i = 0; i < app->commands.len; i++) {
        bh_command *c = bh_vec_at(&app->commands, i);
        free(c->name);
        free(c->summary);
    }
    bh_vec_free(&app->commands);
}

/* ---- one run in a unit of work -------------------------------------------------- */

typedef int (*unit_fn)(bh_unit *u, void *arg);

static void retry_pause(int attempt)
{
    unsigned r = 0;
    (void)bh_random(&r, sizeof r);
    long ms = (5L << (attempt < 6 ? attempt : 6)) + (long)(r % 10);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Run fn in fresh units until it commits, fails for good or runs out of
 * retries.  0 when committed; -1 with err. */
static int run_in_unit(bh_app *app, bh_dbconn **conn, bh_plugin_ctx *plugin, const char *id,
                       unit_fn fn, void *arg, char *err, size_t errlen)
{
    for (int attempt = 0;; attempt++) {
        bh_unit u;
        bh_unit_init(&u, id, plugin, app->storage, conn, 1);
        const bh_unit *outer = bh_log_scope(&u); /* its log lines name the task run */
        int refused = fn(&u, arg) != 0;
        bh_log_scope(outer);
        int published = u.published;
        bh_db_status s = bh_unit_end(&u, !refused);
        bh_events_discard(u.events);
        if (s == BH_DB_OK && !refused) {
            if (published && app->outbox)
                bh_outbox_wake(app->outbox);
            return 0;
        }
        if (s == BH_DB_RETRY && attempt < app->cfg->storage.max_retries) {
            retry_pause(attempt);
            continue;
        }
        snprintf(err, errlen, "%s%s%s", refused ? "refused" : "database error",
                 u.error[0] ? ": " : "", u.error);
        return -1;
    }
}

/* ---- the tasks thread ------------------------------------------------------------- */

static int call_task(bh_unit *u, void *arg)
{
    const bh_task *t = arg;
    return t->fn(u, t->arg);
}

static void run_task(bh_tasks *r, bh_task *t)
{
    char id[128], err[BH_ERR_MAX] = "";
    snprintf(id, sizeof id, "task:%s/%s", t->plugin->name, t->name);
    if (run_in_unit(r->app, &r->conn, t->plugin, id, call_task, t, err, sizeof err) != 0)
        bh_log_core(BH_LOG_WARN, "%s failed, next run in %lld ms: %s", id,
                    (long long)t->interval_ms, err);
}

static void deadline(int64_t due_us, struct timespec *ts)
{
    ts->tv_sec = (time_t)(due_us / 1000000);
    ts->tv_nsec = (long)(due_us % 1000000) * 1000;
}

static void *tasks_main(void *arg)
{
    bh_tasks *r = arg;
    bh_vec *tasks = &r->app->tasks;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        int64_t now = bh_now_us(), next = INT64_MAX;
        for (size_t i = 0; i < tasks->len && !r->stopping; i++) {
            bh_task *t = bh_vec_at(tasks, i);
            if (t->due_us <= now) {
                pthread_mutex_unlock(&r->mu);
                run_task(r, t);
                pthread_mutex_lock(&r->mu);
                now = bh_now_us();
                t->due_us = now + t->interval_ms * 1000; /* from the end of the run */
            }
            if (t->due_us < next)
                next = t->due_us;
        }
        if (r->stopping || next <= bh_now_us())
            continue;
        struct timespec ts;
        deadline(next, &ts);
        int rc = pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (rc != 0 && rc != ETIMEDOUT && rc != EINTR)
            break;
    }
    pthread_mutex_unlock(&r->mu);
    bh_storage_disconnect(&r->conn);
    return NULL;
}

bh_tasks *bh_tasks_start(bh_app *app, char *err, size_t errlen)
{
    bh_tasks *r = bh_xcalloc(1, sizeof *r);
    r->app = app;
    int64_t now = bh_now_us();
    for (size_t i = 0; i < app->tasks.len; i++) {
        bh_task *t = bh_vec_at(&app->tasks, i);
        t->due_us = now + t->interval_ms * 1000;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&r->thread, NULL, tasks_main, r);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the tasks thread: %s", strerror(rc));
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NULL;
    }
    return r;
}

void bh_tasks_stop(bh_tasks *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ---- commands ----------------------------------------------------------------------- */

typedef struct command_call {
    const bh_command *cmd;
    FILE *out;
} command_call;

static int call_command(bh_unit *u, void *arg)
{
    const command_call *c = arg;
    return c->cmd->fn(u, c->out, c->cmd->arg);
}

int bh_commands_run(bh_app *app, const char *name, FILE *out, char *err, size_t errlen)
{
    int found = 0;
    bh_dbconn *conn = NULL;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < app->commands.len; i++) {
        const bh_command *cmd = bh_vec_at(&app->commands, i);
        if (strcmp(cmd->name, name))
            continue;
        found = 1;
        char id[128], why[BH_ERR_MAX] = "";
        snprintf(id, sizeof id, "command:%s/%s", cmd->plugin->name, name);
        command_call call = {cmd, out};
        if (run_in_unit(app, &conn, cmd->plugin, id, call_command, &call, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s (plugin %s): %s", name, cmd->plugin->name, why);
            rc = -1;
        }
    }
    bh_storage_disconnect(&conn);
    if (!found) {
        snprintf(err, errlen,
                 "unknown command \"%s\": neither bilhetagemctl's own nor one a "
                 "configured plugin registers",
                 name);
        return -1;
    }
    return rc;
}

int bh_commands_list(const bh_app *app, FILE *out)
{
    for (size_t i = 0; i < app->commands.len; i++) {
        const bh_command *c = bh_vec_at(&app->commands, i);
        fprintf(out, "  %s -c FILE\n      %s (plugin %s)\n", c->name, c->summary, c->plugin->name);
    }
    return (int)app->commands.len;
}
