/* builtin.c - the endpoints every server has, whatever plugins it loads:
 *   GET /healthz       liveness: the process answers
 *   GET /readyz        readiness: every plugin reports ready, else 503
 *   GET /metrics       Prometheus text exposition
 *   GET /openapi.json  the OpenAPI 3.1 document assembled at startup
 * They are registered as ordinary public routes of the core.
 */
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "outbox.h"
#include "request.h"
#include "server.h"
#include "storage.h"

/* A constant answer: load balancers poll this many times a second. */
static int healthz(bh_request *req, void *arg)
{
    (void)arg;
    static const char ok[] = "{\"status\":\"ok\"}\n";
    bh_resp_bytes(req, 200, "application/json", ok, sizeof ok - 1);
    return 0;
}

static int readyz(bh_request *req, void *arg)
{
    bh_server *srv = arg;
    json_t *checks = json_object();
    int ready = 1;
    for (size_t i = 0; i < srv->app->n_plugins; i++) {
        const bh_plugin_ctx *p = srv->app->plugins[i];
        const char *reason = NULL;
        int ok = !p->desc->ready || p->desc->ready(p->state, &reason);
        ready &= ok;
        json_object_set_new(checks, p->name,
                            ok ? json_string("ok") : json_string(reason ? reason : "not ready"));
    }
    if (srv->app->storage) {
        char why[BH_DB_ERR_MAX];
        int ok = bh_storage_ready(srv->app->storage);
        bh_storage_status(srv->app->storage, why, sizeof why);
        json_object_set_new(checks, "storage", json_string(ok ? "ok" : why));
        ready &= ok;
    }
    if (atomic_load(&srv->app->draining))
        ready = 0;
    if (!ready)
        bh_resp_header(req, "Retry-After", "5");
    bh_resp_json(
        req, ready ? 200 : 503,
        json_pack("{s:s, s:o}", "status", ready ? "ready" : "not ready", "checks", checks));
    return 0;
}

static int metrics(bh_request *req, void *arg)
{
    bh_server *srv = arg;
    size_t len = 0;
    char *text = bh_metrics_render(srv->metrics, &len);
    if (!text)
        return -1;
    bh_resp_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    bh_counters_render(req->resp_body);
    if (srv->accesslog)
        evbuffer_add_printf(req->resp_body,
                            "# HELP bilhetagem_access_log_overflow_total Access lines a worker "
                            "encoded itself because the access-log thread was behind.\n"
                            "# TYPE bilhetagem_access_log_overflow_total counter\n"
                            "bilhetagem_access_log_overflow_total %lu\n",
                            bh_accesslog_overflows(srv->accesslog));
    bh_outbox_stats os;
    if (srv->app->storage && bh_outbox_stats_read(srv->app, &req->worker->db, &os) == 0)
        evbuffer_add_printf(
            req->resp_body,
            "# HELP bilhetagem_outbox_pending Events committed and not yet delivered.\n"
            "# TYPE bilhetagem_outbox_pending gauge\n"
            "bilhetagem_outbox_pending %lld\n"
            "# HELP bilhetagem_outbox_oldest_pending_age_seconds Age of the oldest undelivered "
            "event.\n"
            "# TYPE bilhetagem_outbox_oldest_pending_age_seconds gauge\n"
            "bilhetagem_outbox_oldest_pending_age_seconds %.3f\n"
            "# HELP bilhetagem_outbox_dead Events dead-lettered after their last attempt.\n"
            "# TYPE bilhetagem_outbox_dead gauge\n"
            "bilhetagem_outbox_dead %lld\n",
            (long long)os.pending, (double)os.oldest_pending_age_ms / 1000.0, (long long)os.dead);
    return 0;
}

static int openapi(bh_request *req, void *arg)
{
    bh_server *srv = arg;
    const char *doc = srv->app->openapi_json;
    bh_resp_bytes(req, 200, "application/json", doc, strlen(doc));
    return 0;
}

static const char healthz_doc[] =
    "{\"summary\":\"Liveness\",\"tags\":[\"operations\"],\"operationId\":\"getHealthz\","
    "\"description\":\"Answers 200 while the process serves requests.\","
    "\"responses\":{\"200\":{\"description\":\"The process is alive.\"}}}";
static const char readyz_doc[] =
    "{\"summary\":\"Readiness\",\"tags\":[\"operations\"],\"operationId\":\"getReadyz\","
    "\"description\":\"Answers 200 when every loaded plugin is ready, 503 otherwise.\","
    "\"responses\":{\"200\":{\"description\":\"Ready to serve.\"},"
    "\"503\":{\"description\":\"A plugin is not ready, or the server is draining.\"}}}";
static const char metrics_doc[] =
    "{\"summary\":\"Prometheus metrics\",\"tags\":[\"operations\"],\"operationId\":\"getMetrics\","
    "\"description\":\"Prometheus text exposition format 0.0.4.\","
    "\"responses\":{\"200\":{\"description\":\"Metrics.\",\"content\":{\"text/plain\":"
    "{\"schema\":{\"type\":\"string\"}}}}}}";
static const char openapi_doc[] =
    "{\"summary\":\"This OpenAPI document\",\"tags\":[\"operations\"],"
    "\"operationId\":\"getOpenapi\",\"description\":\"The API of the loaded plugins.\","
    "\"responses\":{\"200\":{\"description\":\"OpenAPI 3.1 document.\"}}}";

int bh_builtin_register(bh_server *srv, char *err, size_t errlen)
{
    bh_plugin_ctx *core = &srv->app->core;
    core->app = srv->app;
    /* probes are exempt from rate limiting: a load balancer polls them */
    const struct {
        const char *path;
        bh_handler_fn fn;
        const char *doc, *cls;
    } eps[] = {
        {"/healthz", healthz, healthz_doc, "none"},
        {"/readyz", readyz, readyz_doc, "none"},
        {"/metrics", metrics, metrics_doc, "default"},
        {"/openapi.json", openapi, openapi_doc, "default"},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        bh_route r = {.method = "GET",
                      .path = eps[i].path,
                      .handler = eps[i].fn,
                      .arg = srv,
                      .auth = BH_AUTH_PUBLIC,
                      .rate_class = eps[i].cls,
                      .openapi = eps[i].doc};
        if (bh_route_add(core, &r) != 0) {
            snprintf(err, errlen, "core: %s", core->error);
            return -1;
        }
    }
    return 0;
}
