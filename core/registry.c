/* registry.c - what plugins register during init: routes, hooks, the
 * authorizer, event subscriptions and services.
 *
 * Registration is only open on the main thread before the workers start;
 * bh_registry_finalize() then checks the whole picture (a route that needs
 * auth with no authorizer installed is a startup error: fail closed),
 * freezes the router and assembles the OpenAPI document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

bh_app *bh_the_app;

static int closed(bh_plugin_ctx *ctx, const char *what)
{
    if (!ctx->app->serving)
        return 0;
    bh_plugin_error(ctx, "%s after startup is not allowed", what);
    return 1;
}

/* "none" exempts a route from rate limiting (load-balancer probes). */
static long rate_class_index(const bh_config *cfg, const char *name)
{
    if (!strcmp(name, "none"))
        return BH_RATE_EXEMPT;
    for (size_t i = 0; i < cfg->n_rate_classes; i++)
        if (!strcmp(cfg->rate_classes[i].name, name))
            return (long)i;
    return -1;
}

static int route_check(bh_plugin_ctx *ctx, const bh_route *r, unsigned bit, long cls)
{
    const char *where = r->path ? r->path : "(null)";
    if (!r->method || !(bit & (BH_M_GET | BH_M_POST | BH_M_PUT | BH_M_PATCH | BH_M_DELETE))) {
        bh_plugin_error(ctx, "route %s: method must be GET, POST, PUT, PATCH or DELETE", where);
        return -1;
    }
    if (!r->path || !r->handler) {
        bh_plugin_error(ctx, "route %s %s: path and handler are required", r->method, where);
        return -1;
    }
    if (r->auth > BH_AUTH_SCOPE || ((r->auth == BH_AUTH_ROLE || r->auth == BH_AUTH_SCOPE) &&
                                    (!r->auth_value || !*r->auth_value))) {
        bh_plugin_error(ctx, "route %s %s: invalid auth requirement", r->method, r->path);
        return -1;
    }
    if (cls < 0 && cls != BH_RATE_EXEMPT) {
        bh_plugin_error(ctx,
                        "route %s %s: rate class \"%s\" is not configured in rate_limit.classes",
                        r->method, r->path, r->rate_class);
        return -1;
    }
    return 0;
}

static json_t *parse_openapi(bh_plugin_ctx *ctx, const bh_route *r)
{
    json_error_t e;
    json_t *op = json_loads(r->openapi, JSON_REJECT_DUPLICATES, &e);
    if (!op || !json_is_object(op)) {
        bh_plugin_error(ctx, "route %s %s: openapi fragment is not a JSON object: %s", r->method,
                        r->path, op ? "wrong type" : e.text);
        json_decref(op);
        return NULL;
    }
    return op;
}

static void route_entry_free(bh_route_entry *e)
{
    if (!e)
        return;
    free(e->method);
    free(e->tmpl);
    free(e->auth_value);
    json_decref(e->openapi);
    free(e);
}

int bh_route_add(bh_plugin_ctx *ctx, const bh_route *r)
{
    if (closed(ctx, "bh_route_add"))
        return -1;
    bh_app *app = ctx->app;
    unsigned bit = r->method ? bh_method_bit(r->method) : 0;
    long cls = rate_class_index(app->cfg, r->rate_class ? r->rate_class : "default");
    if (route_check(ctx, r, bit, cls) != 0)
        return -1;
    json_t *op = NULL;
    if (r->openapi && !(op = parse_openapi(ctx, r)))
        return -1;
    bh_route_entry *e = bh_xcalloc(1, sizeof *e);
    e->plugin = ctx->name ? ctx : NULL; /* the core's own routes have no plugin */
    e->method = bh_xstrdup(r->method);
    e->tmpl = bh_xstrdup(r->path);
    e->method_bit = bit;
    e->handler = r->handler;
    e->arg = r->arg;
    e->auth = r->auth;
    e->auth_value = r->auth_value ? bh_xstrdup(r->auth_value) : NULL;
    e->flags = r->flags;
    e->rate_class = cls == BH_RATE_EXEMPT ? SIZE_MAX : (size_t)cls;
    e->openapi = op;
    char err[BH_ROUTER_ERR_MAX];
    if (bh_router_add(app->router, bit, r->path, e, err, sizeof err) != 0) {
        bh_plugin_error(ctx, "%s", err);
        route_entry_free(e);
        return -1;
    }
    *(bh_route_entry **)bh_vec_push(&app->routes) = e;
    e->index = app->routes.len; /* 0 is reserved for "unmatched" */
    return 0;
}

int bh_hook_add(bh_plugin_ctx *ctx, bh_hook_phase phase, bh_hook_fn fn, void *arg)
{
    if (closed(ctx, "bh_hook_add"))
        return -1;
    if (phase > BH_HOOK_END || !fn) {
        bh_plugin_error(ctx, "bh_hook_add: invalid phase or NULL function");
        return -1;
    }
    bh_hook *h = bh_vec_push(&ctx->app->hooks[phase]);
    h->plugin = ctx;
    h->fn = fn;
    h->arg = arg;
    return 0;
}

int bh_authorizer_set(bh_plugin_ctx *ctx, bh_hook_fn fn, void *arg)
{
    if (closed(ctx, "bh_authorizer_set"))
        return -1;
    bh_hook *a = &ctx->app->authorizer;
    if (a->fn) {
        bh_plugin_error(ctx, "an authorizer is already installed by plugin %s", a->plugin->name);
        return -1;
    }
    if (!fn) {
        bh_plugin_error(ctx, "bh_authorizer_set: NULL function");
        return -1;
    }
    a->plugin = ctx;
    a->fn = fn;
    a->arg = arg;
    return 0;
}

int bh_event_subscribe(bh_plugin_ctx *ctx, const char *type, const char *name, bh_event_fn fn,
                       void *arg)
{
    if (closed(ctx, "bh_event_subscribe"))
        return -1;
    if (!type || !*type || !name || !*name || !fn) {
        bh_plugin_error(ctx, "bh_event_subscribe: type, name and function are required");
        return -1;
    }
    bh_vec *subs = &ctx->app->subscriptions;
    for (size_t i = 0; i < subs->len; i++) {
        bh_subscription *s = bh_vec_at(subs, i);
        if (s->plugin == ctx && !strcmp(s->name, name) && !strcmp(s->type, type)) {
            bh_plugin_error(ctx, "subscriber %s to %s registered twice", name, type);
            return -1;
        }
    }
    bh_subscription *s = bh_vec_push(subs);
    s->plugin = ctx;
    s->type = bh_xstrdup(type);
    s->name = bh_xstrdup(name);
    s->fn = fn;
    s->arg = arg;
    return 0;
}

int bh_service_provide(bh_plugin_ctx *ctx, const char *name, uint32_t version, const void *iface)
{
    if (closed(ctx, "bh_service_provide"))
        return -1;
    bh_vec *v = &ctx->app->services;
    for (size_t i = 0; i < v->len; i++) {
        bh_service *s = bh_vec_at(v, i);
        if (!strcmp(s->name, name)) {
            bh_plugin_error(ctx, "service %s is already provided by plugin %s", name,
                            s->plugin->name);
            return -1;
        }
    }
    bh_service *s = bh_vec_push(v);
    s->name = bh_xstrdup(name);
    s->version = version;
    s->iface = iface;
    s->plugin = ctx;
    return 0;
}

const void *bh_service_lookup(const char *name, uint32_t min_version)
{
    const bh_vec *v = &bh_the_app->services;
    for (size_t i = 0; i < v->len; i++) {
        const bh_service *s = bh_vec_at(v, i);
        if (!strcmp(s->name, name))
            return s->version >= min_version ? s->iface : NULL;
    }
    return NULL;
}

/* ---- finishing ------------------------------------------------------------- */

static int check_auth_enforced(const bh_app *app, char *err, size_t errlen)
{
    if (app->authorizer.fn)
        return 0;
    for (size_t i = 0; i < app->routes.len; i++) {
        const bh_route_entry *e = *(bh_route_entry **)bh_vec_at(&app->routes, i);
        if (e->auth != BH_AUTH_PUBLIC) {
            snprintf(err, errlen,
                     "route %s %s (plugin %s) requires authentication but no loaded "
                     "plugin enforces auth: add the auth plugin to the configuration",
                     e->method, e->tmpl, e->plugin ? e->plugin->name : "core");
            return -1;
        }
    }
    return 0;
}

/* Idempotency-Keys live in the database: without one, refuse to start
 * rather than serve an "idempotent" route that cannot keep its promise. */
static int check_idempotency_backed(const bh_app *app, char *err, size_t errlen)
{
    if (app->storage)
        return 0;
    for (size_t i = 0; i < app->routes.len; i++) {
        const bh_route_entry *e = *(bh_route_entry **)bh_vec_at(&app->routes, i);
        if (e->flags & BH_ROUTE_IDEMPOTENT) {
            snprintf(err, errlen,
                     "route %s %s (plugin %s) is idempotent but the configuration has no "
                     "\"storage\" to keep Idempotency-Keys in",
                     e->method, e->tmpl, e->plugin ? e->plugin->name : "core");
            return -1;
        }
    }
    return 0;
}

int bh_registry_finalize(bh_app *app, char *err, size_t errlen)
{
    if (check_auth_enforced(app, err, errlen) != 0 ||
        check_idempotency_backed(app, err, errlen) != 0)
        return -1;
    if (bh_router_finalize(app->router, err, errlen) != 0)
        return -1;
    app->openapi_json = bh_openapi_build(app);
    if (!app->openapi_json) {
        snprintf(err, errlen, "cannot assemble the OpenAPI document");
        return -1;
    }
    return 0;
}

void bh_registry_free(bh_app *app)
{
    for (size_t i = 0; i < app->routes.len; i++)
        route_entry_free(*(bh_route_entry **)bh_vec_at(&app->routes, i));
    bh_vec_free(&app->routes);
    for (int p = 0; p < 3; p++)
        bh_vec_free(&app->hooks[p]);
    for (size_t i = 0; i < app->subscriptions.len; i++) {
        bh_subscription *s = bh_vec_at(&app->subscriptions, i);
        free(s->type);
        free(s->name);
    }
    bh_vec_free(&app->subscriptions);
    for (size_t i = 0; i < app->services.len; i++)
        free(((bh_service *)bh_vec_at(&app->services, i))->name);
    bh_vec_free(&app->services);
    bh_trace_reset(); /* xray: the tracer's callbacks go with its plugin */
    free(app->openapi_json);
    app->openapi_json = NULL;
    if (app->router)
        bh_router_free(app->router);
    app->router = NULL;
}
