/* loader.c - loading plugin shared objects and running their lifecycle.
 *
 * For each configured plugin: dlopen(RTLD_NOW | RTLD_LOCAL) so unresolved
 * symbols fail at load and plugins cannot see each other's symbols; find the
 * one exported descriptor; refuse a foreign ABI version before reading any
 * other field.  Then order plugins so each comes after what it depends on
 * (depth-first, reporting a cycle as the path that closes it), and run
 * init / start in that order and stop in reverse.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static char *resolve_path(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir)
        return bh_xstrdup(path);
    size_t n = strlen(dir) + strlen(path) + 2;
    char *full = bh_xmalloc(n);
    snprintf(full, n, "%s/%s", dir, path);
    return full;
}

static int check_descriptor(const bh_plugin_ctx *p, char *err, size_t errlen)
{
    const bh_plugin_descriptor *d = p->desc;
    if (d->abi_version != BH_ABI_VERSION) {
        snprintf(err, errlen, "plugin %s: %s was built for SDK ABI %u, this server has ABI %u",
                 p->name, p->path, d->abi_version, BH_ABI_VERSION);
        return -1;
    }
    if (!d->name || strcmp(d->name, p->name) != 0) {
        snprintf(err, errlen, "plugin %s: %s calls itself \"%s\"", p->name, p->path,
                 d->name ? d->name : "(null)");
        return -1;
    }
    if (!d->init) {
        snprintf(err, errlen, "plugin %s: %s has no init callback", p->name, p->path);
        return -1;
    }
    return 0;
}

static int load_one(bh_app *app, const bh_plugin_conf *pc, const char *dir, char *err,
                    size_t errlen)
{
    bh_plugin_ctx *p = bh_xcalloc(1, sizeof *p);
    app->plugins[app->n_plugins++] = p;
    p->app = app;
    p->name = bh_xstrdup(pc->name);
    p->path = resolve_path(dir, pc->path);
    p->config = pc->config;
    p->dl = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        snprintf(err, errlen, "%s:%d: plugin %s: cannot load: %s", app->cfg->file, pc->line,
                 p->name, dlerror());
        return -1;
    }
    dlerror();
    p->desc = dlsym(p->dl, BH_PLUGIN_SYMBOL);
    if (!p->desc) {
        snprintf(err, errlen, "%s:%d: plugin %s: %s exports no \"%s\" descriptor", app->cfg->file,
                 pc->line, p->name, p->path, BH_PLUGIN_SYMBOL);
        return -1;
    }
    return check_descriptor(p, err, errlen);
}

int bh_plugins_load(bh_app *app, const char *plugin_dir, char *err, size_t errlen)
{
    const bh_config *cfg = app->cfg;
    app->plugins = bh_xcalloc(cfg->n_plugins, sizeof *app->plugins);
    app->n_plugins = 0;
    for (size_t i = 0; i < cfg->n_plugins; i++)
        if (load_one(app, &cfg->plugins[i], plugin_dir, err, errlen) != 0)
            return -1;
    return bh_plugins_order(app, err, errlen);
}

/* ---- dependency order ------------------------------------------------------ */

enum { WHITE = 0, GREY, BLACK };

typedef struct order_state {
    bh_app *app;
    int *mark;
    bh_plugin_ctx **out;
    size_t n_out;
    size_t *stack; /* indices on the current DFS path, for cycle messages */
    size_t depth;
    char *err;
    size_t errlen;
} order_state;

static long find_plugin(const bh_app *app, const char *name)
{
    for (size_t i = 0; i < app->n_plugins; i++)
        if (!strcmp(app->plugins[i]->name, name))
            return (long)i;
    return -1;
}

static void cycle_message(order_state *s, size_t closing)
{
    size_t start = 0;
    while (s->stack[start] != closing)
        start++;
    int n = snprintf(s->err, s->errlen, "plugin dependency cycle: ");
    for (size_t i = start; i < s->depth && n > 0 && (size_t)n < s->errlen; i++)
        n += snprintf(s->err + n, s->errlen - (size_t)n, "%s -> ",
                      s->app->plugins[s->stack[i]]->name);
    if (n > 0 && (size_t)n < s->errlen)
        snprintf(s->err + n, s->errlen - (size_t)n, "%s", s->app->plugins[closing]->name);
}

static int visit(order_state *s, size_t i)
{
    if (s->mark[i] == BLACK)
        return 0;
    if (s->mark[i] == GREY) {
        cycle_message(s, i);
        return -1;
    }
    s->mark[i] = GREY;
    s->stack[s->depth++] = i;
    bh_plugin_ctx *p = s->app->plugins[i];
    for (const char *const *d = p->desc->depends; d && *d; d++) {
        long j = find_plugin(s->app, *d);
        if (j < 0) {
            snprintf(s->err, s->errlen,
                     "plugin %s depends on plugin %s, which is not in the configuration", p->name,
                     *d);
            return -1;
        }
        if (visit(s, (size_t)j) != 0)
            return -1;
    }
    s->depth--;
    s->mark[i] = BLACK;
    s->out[s->n_out++] = p;
    return 0;
}

int bh_plugins_order(bh_app *app, char *err, size_t errlen)
{
    size_t n = app->n_plugins;
    order_state s = {app,
                     bh_xcalloc(n, sizeof(int)),
                     bh_xcalloc(n, sizeof(bh_plugin_ctx *)),
                     0,
                     bh_xcalloc(n, sizeof(size_t)),
                     0,
                     err,
                     errlen};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = visit(&s, i);
    if (rc == 0)
        memcpy(app->plugins, s.out, n * sizeof *s.out);
    free(s.mark);
    free(s.out);
    free(s.stack);
    return rc;
}

/* ---- lifecycle ------------------------------------------------------------- */

static void lifecycle_error(const bh_plugin_ctx *p, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "plugin %s: %s", p->name, p->error[0] ? p->error : what);
}

int bh_plugins_init(bh_app *app, char *err, size_t errlen)
{
    for (size_t i = 0; i < app->n_plugins; i++) {
        bh_plugin_ctx *p = app->plugins[i];
        json_t *empty = p->config ? NULL : json_object(); /* "config" absent */
        int rc = p->desc->init(p, p->config ? p->config : empty, &p->state);
        json_decref(empty);
        if (rc != 0) {
            lifecycle_error(p, "init failed", err, errlen);
            return -1;
        }
        p->inited = 1;
    }
    return 0;
}

int bh_plugins_start(bh_app *app, char *err, size_t errlen)
{
    for (size_t i = 0; i < app->n_plugins; i++) {
        bh_plugin_ctx *p = app->plugins[i];
        if (p->desc->start && p->desc->start(p, p->state) != 0) {
            lifecycle_error(p, "start failed", err, errlen);
            return -1;
        }
        p->started = 1;
    }
    return 0;
}

void bh_plugins_stop(bh_app *app)
{
    for (size_t i = app->n_plugins; i-- > 0;) {
        bh_plugin_ctx *p = app->plugins[i];
        if (p->inited && p->desc->stop)
            p->desc->stop(p, p->state);
        p->inited = p->started = 0;
    }
}

void bh_plugins_unload(bh_app *app)
{
    for (size_t i = 0; i < app->n_plugins; i++) {
        bh_plugin_ctx *p = app->plugins[i];
        if (!p)
            continue;
            /* Sanitizer builds keep the code mapped so leak reports can still
         * symbolize plugin frames. */
#if !defined(__SANITIZE_ADDRESS__)
        if (p->dl)
            dlclose(p->dl);
#endif
        free(p->name);
        free(p->path);
        free(p);
    }
    free(app->plugins);
    app->plugins = NULL;
    app->n_plugins = 0;
}

/* ---- SDK: errors and names ------------------------------------------------- */

void bh_plugin_error(bh_plugin_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
    va_end(ap);
}

const char *bh_plugin_name(const bh_plugin_ctx *ctx)
{
    return ctx->name;
}
