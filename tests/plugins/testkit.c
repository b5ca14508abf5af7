/* testkit.c - a fixture plugin for the integration tests (never installed).
 *
 * It gives the tests routes with known behaviour: a handler that sleeps (for
 * the drain and stalled-client tests), a JSON echo, literal-vs-parameter
 * precedence, a failing handler, an event round trip, a tight rate-limit
 * class, and - when its config says {"authorizer": true} - a TEST-ONLY
 * authorizer that trusts an "X-Test-User: name[,group...]" header.  That
 * authorizer is a stand-in for the auth plugin so the core's auth phase can
 * be tested on its own; it must never be loaded outside tests.  With
 * {"secured_routes": true} it registers the protected routes without that
 * authorizer, so the real auth plugin guards them (auth.test.mjs).  With
 * storage configured it also has database-backed routes (testkit_db.c).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bilhetagem/bilhetagem.h>

#include "testkit.h"

typedef struct testkit {
    atomic_long pings_delivered;
    bh_counter *pings;              /* testkit_pings: counted when the delivery's unit ends well */
    struct tk_db *db;               /* NULL without storage */
    struct tk_transport *transport; /* NULL unless loopback_transport */
} testkit;

static int sleep_handler(bh_request *req, void *arg)
{
    (void)arg;
    const char *ms_s = bh_req_query(req, "ms");
    long ms = ms_s ? strtol(ms_s, NULL, 10) : 100;
    if (ms < 0 || ms > 5000) {
        bh_resp_problem(req, 400, "validation", NULL, "ms must be 0..5000");
        return 0;
    }
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    bh_resp_json(req, 200, json_pack("{s:i}", "slept_ms", (int)ms));
    return 0;
}

static int echo_handler(bh_request *req, void *arg)
{
    (void)arg;
    bh_resp_json(req, 200, json_deep_copy(bh_req_json(req)));
    return 0;
}

static int item_handler(bh_request *req, void *arg)
{
    (void)arg;
    const char *id = bh_req_param(req, "id");
    bh_resp_json(
        req, 200,
        json_pack("{s:s, s:s}", "id", id ? id : "mine", "route", bh_req_route_template(req)));
    return 0;
}

static int fail_handler(bh_request *req, void *arg)
{
    (void)req;
    /* a plugin's own line: the core tags it with the request it belongs to */
    bh_log(arg, BH_LOG_WARN, "testkit: failing on purpose");
    return -1;
}

static int publish_handler(bh_request *req, void *arg)
{
    (void)arg;
    const char *fail = bh_req_query(req, "fail");
    if (bh_event_publish(bh_req_unit(req), "test.ping", "agg-1",
                         json_pack("{s:s}", "from", "test")) != 0)
        return -1;
    if (fail) { /* a failed unit: the event must never be delivered */
        bh_resp_problem(req, 409, "conflict", NULL, "told to fail after publishing");
        return 0;
    }
    bh_resp_json(req, 202, json_pack("{s:b}", "published", 1));
    return 0;
}

static int on_ping(bh_unit *unit, const bh_event *ev, void *arg)
{
    testkit *tk = arg;
    if (strcmp(bh_event_type(ev), "test.ping") || !bh_event_id(ev) || !bh_event_data(ev))
        return -1;
    atomic_fetch_add(&tk->pings_delivered, 1);
    bh_unit_count(unit, tk->pings, 1);
    return 0;
}

static int events_handler(bh_request *req, void *arg)
{
    testkit *tk = arg;
    bh_resp_json(
        req, 200,
        json_pack("{s:I}", "pings_delivered", (json_int_t)atomic_load(&tk->pings_delivered)));
    return 0;
}

static int whoami_handler(bh_request *req, void *arg)
{
    (void)arg;
    const bh_principal *p = bh_req_principal(req);
    bh_resp_json(req, 200, json_pack("{s:s?}", "sub", p ? p->sub : NULL));
    return 0;
}

/* The whole principal, for the auth plugin's tests. */
static int principal_handler(bh_request *req, void *arg)
{
    (void)arg;
    const bh_principal *p = bh_req_principal(req);
    if (!p) {
        bh_resp_json(req, 200, json_pack("{s:n}", "principal"));
        return 0;
    }
    json_t *groups = json_array(), *scopes = json_array();
    for (size_t i = 0; p->groups && p->groups[i]; i++)
        json_array_append_new(groups, json_string(p->groups[i]));
    for (size_t i = 0; p->scopes && p->scopes[i]; i++)
        json_array_append_new(scopes, json_string(p->scopes[i]));
    bh_resp_json(req, 200,
                 json_pack("{s:{s:s, s:s?, s:s?, s:o, s:o}}", "principal", "sub", p->sub,
                           "username", p->username, "email", p->email, "groups", groups, "scopes",
                           scopes));
    return 0;
}

static int test_authorizer(bh_request *req, void *arg)
{
    (void)arg;
    const char *h = bh_req_header(req, "X-Test-User");
    if (!h)
        return BH_NEXT; /* the core refuses non-public routes without a principal */
    char *copy = bh_req_strdup(req, h);
    const char *groups[8] = {NULL};
    char *save = NULL, *sub = strtok_r(copy, ",", &save);
    for (int i = 0; i < 7 && (groups[i] = strtok_r(NULL, ",", &save)); i++)
        ;
    bh_principal p = {.sub = sub ? sub : "", .groups = groups};
    bh_req_set_principal(req, &p);
    return BH_NEXT; /* roles are checked by the core, which is what the tests exercise */
}

static int tk_register(bh_plugin_ctx *ctx, const json_t *config, testkit *tk);

static int tk_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    testkit *tk = calloc(1, sizeof *tk);
    if (!tk) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    if (tk_register(ctx, config, tk) != 0) {
        tk_transport_free(tk->transport);
        tk_db_free(tk->db);
        free(tk); /* stop is not called when init fails */
        return -1;
    }
    *state = tk;
    return 0;
}

static int tk_register(bh_plugin_ctx *ctx, const json_t *config, testkit *tk)
{
    const json_t *want_auth = json_object_get(config, "authorizer");
    if (want_auth && !json_is_boolean(want_auth)) {
        bh_plugin_error(ctx, "config.authorizer must be a boolean");
        return -1;
    }
    const json_t *want_secured = json_object_get(config, "secured_routes");
    if (want_secured && !json_is_boolean(want_secured)) {
        bh_plugin_error(ctx, "config.secured_routes must be a boolean");
        return -1;
    }
    const bh_route routes[] = {
        {.method = "GET", .path = "/test/sleep", .handler = sleep_handler},
        {.method = "POST",
         .path = "/test/echo",
         .handler = echo_handler,
         .flags = BH_ROUTE_JSON_BODY,
         .openapi = "{\"summary\":\"Echo a JSON "
                    "body\",\"responses\":{\"200\":{\"description\":\"The body\"}}}"},
        {.method = "GET", .path = "/test/items/{id}", .handler = item_handler},
        {.method = "GET", .path = "/test/items/mine", .handler = item_handler},
        {.method = "DELETE", .path = "/test/items/{id}", .handler = item_handler},
        {.method = "GET", .path = "/test/fail", .handler = fail_handler, .arg = ctx},
        {.method = "POST", .path = "/test/publish", .handler = publish_handler},
        {.method = "GET", .path = "/test/events", .handler = events_handler, .arg = tk},
        {.method = "GET", .path = "/test/limited", .handler = item_handler, .rate_class = "tight"},
        {.method = "GET", .path = "/test/whoami", .handler = whoami_handler},
        {.method = "GET", .path = "/test/principal", .handler = principal_handler},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (bh_route_add(ctx, &routes[i]) != 0)
            return -1;
    /* idempotent routes need storage (the core refuses them without) */
    const bh_route idem = {.method = "POST",
                           .path = "/test/idem",
                           .handler = item_handler,
                           .flags = BH_ROUTE_IDEMPOTENT};
    if (bh_db_driver_name() && bh_route_add(ctx, &idem) != 0)
        return -1;
    if (json_is_true(want_auth) || json_is_true(want_secured)) {
        const bh_route secured[] = {
            {.method = "GET",
             .path = "/test/secure",
             .handler = whoami_handler,
             .auth = BH_AUTH_AUTHENTICATED},
            {.method = "GET",
             .path = "/test/admin",
             .handler = whoami_handler,
             .auth = BH_AUTH_ROLE,
             .auth_value = "admin"},
            {.method = "GET",
             .path = "/test/scoped",
             .handler = whoami_handler,
             .auth = BH_AUTH_SCOPE,
             .auth_value = "tickets:read"},
        };
        for (size_t i = 0; i < sizeof secured / sizeof secured[0]; i++)
            if (bh_route_add(ctx, &secured[i]) != 0)
                return -1;
    }
    if (json_is_true(want_auth) && bh_authorizer_set(ctx, test_authorizer, tk) != 0)
        return -1;
    if (tk_db_register(ctx, config, &tk->db) != 0 || tk_tasks_register(ctx, config) != 0 ||
        tk_transport_register(ctx, config, &tk->transport) != 0)
        return -1;
    if (!(tk->pings = bh_counter_declare(ctx, "testkit_pings", "test.ping deliveries.")))
        return -1;
    return bh_event_subscribe(ctx, "test.ping", "counter", on_ping, tk);
}

static void tk_stop(bh_plugin_ctx *ctx, void *state)
{
    (void)ctx;
    testkit *tk = state;
    tk_transport_free(tk->transport); /* first: its consumer uses the database */
    tk_db_free(tk->db);
    free(tk);
}

BH_PLUGIN(testkit) = {
    .abi_version = BH_ABI_VERSION,
    .name = "testkit",
    .version = "1.0.0",
    .init = tk_init,
    .stop = tk_stop,
};
