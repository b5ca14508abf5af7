/* counters.c - domain counters (bilhetagem/util.h): the business facts
 * plugins count (orders created, payments captured), shown in /metrics next
 * to the core's request metrics.
 *
 * Declared on the main thread during init, so the list never changes while
 * workers read it; each value is one relaxed atomic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "counters.h"

#define COUNTER_NAME_MAX 63

static int counter_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > COUNTER_NAME_MAX || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

bh_counter *bh_counter_declare(bh_plugin_ctx *ctx, const char *name, const char *help)
{
    if (ctx->app->serving) {
        bh_plugin_error(ctx, "bh_counter_declare after startup is not allowed");
        return NULL;
    }
    if (!counter_name_ok(name)) {
        bh_plugin_error(ctx, "counter name \"%s\" is not [a-z][a-z0-9_]{0,62}", name ? name : "");
        return NULL;
    }
    bh_vec *v = &ctx->app->counters;
    for (size_t i = 0; i < v->len; i++) {
        const bh_counter *c = *(bh_counter **)bh_vec_at(v, i);
        if (!strcmp(c->name, name)) {
            bh_plugin_error(ctx, "counter %s is already declared by plugin %s", name,
                            c->plugin->name);
            return NULL;
        }
    }
    bh_counter *c = bh_xcalloc(1, sizeof *c);
    c->name = bh_xstrdup(name);
    c->help = bh_xstrdup(help && *help ? help : name);
    for (char *p = c->help; *p; p++)
        if (*p == '\n' || *p == '\\')
            *p = ' '; /* one line of Prometheus HELP text */
    c->plugin = ctx;
    atomic_init(&c->value, 0);
    *(bh_counter **)bh_vec_push(v) = c;
    return c;
}

void bh_counter_add(bh_counter *c, int64_t n)
{
    if (c && n > 0)
        atomic_fetch_add_explicit(&c->value, (long long)n, memory_order_relaxed);
}

void bh_counter_each(bh_counter_visit_fn fn, void *arg)
{
    const bh_vec *v = &bh_the_app->counters;
    for (size_t i = 0; i < v->len; i++) {
        bh_counter *c = *(bh_counter **)bh_vec_at(v, i);
        fn(c->name, c->help, (int64_t)atomic_load_explicit(&c->value, memory_order_relaxed), arg);
    }
}

static void render_one(const char *name, const char *help, int64_t value, void *arg)
{
    evbuffer_add_printf(arg,
                        "# HELP bilhetagem_%s_total %s\n# TYPE bilhetagem_%s_total counter\n"
                        "bilhetagem_%s_total %lld\n",
                        name, help, name, name, (long long)value);
}

void bh_counters_render(struct evbuffer *out)
{
    bh_counter_each(render_one, out);
}

void bh_counters_free(bh_app *app)
{
    for (size_t i = 0; i < app->counters.len; i++) {
        bh_counter *c = *(bh_counter **)bh_vec_at(&app->counters, i);
        free(c->name);
        free(c->help);
        free(c);
    }
    bh_vec_free(&app->counters);
}
