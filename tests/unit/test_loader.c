/* test_loader.c - the plugin loader: loading, ABI check, dependency order,
 * lifecycle order, and each way a plugin can stop startup.  Uses the fixture
 * plugins built into tests/plugins/ (run from the build directory). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "core.h"

#define FIXTURES "tests/plugins"

static bh_app app;
static char err[1024];
static char trace_path[] = "/tmp/bh-loader-trace-XXXXXX";

static void app_reset(void)
{
    bh_registry_free(&app);
    bh_plugins_unload(&app);
    bh_config_free(app.cfg);
    memset(&app, 0, sizeof app);
    bh_vec_init(&app.routes, sizeof(bh_route_entry *));
    for (int p = 0; p < 3; p++)
        bh_vec_init(&app.hooks[p], sizeof(bh_hook));
    bh_vec_init(&app.subscriptions, sizeof(bh_subscription));
    bh_vec_init(&app.services, sizeof(bh_service));
    app.router = bh_router_new();
    bh_the_app = &app;
    err[0] = '\0';
}

/* Load a config naming `plugins` (a JSON array text). */
static int load(const char *plugins)
{
    app_reset();
    char text[2048];
    snprintf(text, sizeof text, "{\"plugins\": %s}", plugins);
    app.cfg = bh_config_parse(text, "loader.json", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(app.cfg);
    return bh_plugins_load(&app, FIXTURES, err, sizeof err);
}

static char *read_trace(void)
{
    static char buf[1024];
    FILE *f = fopen(trace_path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

static void test_good_plugin(void)
{
    CU_ASSERT_EQUAL(load("[{\"name\": \"fx_good\", \"path\": \"fx_good.so\"}]"), 0);
    CU_ASSERT_EQUAL(app.n_plugins, 1);
    CU_ASSERT_STRING_EQUAL(app.plugins[0]->desc->version, "0.0.1");
    CU_ASSERT_EQUAL(bh_plugins_init(&app, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_plugins_start(&app, err, sizeof err), 0);
    bh_plugins_stop(&app);
}

static void test_missing_file(void)
{
    CU_ASSERT_EQUAL(load("[{\"name\": \"nope\"}]"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "loader.json:1: plugin nope: cannot load"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "nope.so")); /* dlerror() names the file */
}

static void test_missing_symbol(void)
{
    CU_ASSERT_EQUAL(load("[{\"name\": \"fx_nosym\"}]"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "exports no \"bh_plugin\" descriptor"));
}

static void test_abi_mismatch(void)
{
    CU_ASSERT_EQUAL(load("[{\"name\": \"fx_abi\"}]"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "built for SDK ABI 999"));
}

static void test_name_mismatch(void)
{
    CU_ASSERT_EQUAL(load("[{\"name\": \"other\", \"path\": \"fx_good.so\"}]"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "calls itself \"fx_good\""));
}

static void test_dependency_order(void)
{
    /* listed dependent-first: the loader must put fx_good first */
    CU_ASSERT_EQUAL(load("[{\"name\": \"fx_needs\"}, {\"name\": \"fx_good\"}]"), 0);
    CU_ASSERT_STRING_EQUAL(app.plugins[0]->name, "fx_good");
    CU_ASSERT_STRING_EQUAL(app.plugins[1]->name, "fx_needs");
    unlink(trace_path);
    CU_ASSERT_EQUAL(bh_plugins_init(&app, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bh_plugins_start(&app, err, sizeof err), 0);
    bh_plugins_stop(&app);
    CU_ASSERT_STRING_EQUAL(read_trace(), "init fx_good\ninit fx_needs\nstart fx_good\n"
                                         "start fx_needs\nstop fx_needs\nstop fx_good\n");
}

static void test_missing_dependency(void)
{
    CU_ASSERT_EQUAL(load("[{\"name\": \"fx_needs\"}]"), -1);
    CU_ASSERT_STRING_EQUAL(err, "plugin fx_needs depends on plugin fx_good, which is not in "
                                "the configuration");
}

static void test_cycle(void)
{
    CU_ASSERT_EQUAL(load("[{\"name\": \"fx_cyc_a\"}, {\"name\": \"fx_cyc_b\"}]"), -1);
    CU_ASSERT_STRING_EQUAL(err, "plugin dependency cycle: fx_cyc_a -> fx_cyc_b -> fx_cyc_a");
}

static void test_failing_init_stops_the_others(void)
{
    CU_ASSERT_EQUAL(load("[{\"name\": \"fx_good\"}, {\"name\": \"fx_initfail\"}]"), 0);
    unlink(trace_path);
    CU_ASSERT_EQUAL(bh_plugins_init(&app, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "plugin fx_initfail: refusing to start: fixture told to fail");
    bh_plugins_stop(&app); /* what main does on failure */
    CU_ASSERT_STRING_EQUAL(read_trace(), "init fx_good\nstop fx_good\n");
}

static void test_auth_required_without_authorizer(void)
{
    app_reset();
    app.cfg = bh_config_parse("{}", "x.json", err, sizeof err);
    bh_plugin_ctx ctx = {.name = "p", .app = &app};
    bh_route r = {.method = "GET",
                  .path = "/secret",
                  .handler = (bh_handler_fn)1,
                  .auth = BH_AUTH_AUTHENTICATED};
    CU_ASSERT_EQUAL(bh_route_add(&ctx, &r), 0);
    CU_ASSERT_EQUAL(bh_registry_finalize(&app, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "route GET /secret (plugin p) requires authentication but "
                                       "no loaded plugin enforces auth"));
}

static void test_idempotent_route_without_storage(void)
{
    app_reset();
    app.cfg = bh_config_parse("{}", "x.json", err, sizeof err);
    bh_plugin_ctx ctx = {.name = "order", .app = &app};
    bh_route r = {.method = "POST",
                  .path = "/orders",
                  .handler = (bh_handler_fn)1,
                  .flags = BH_ROUTE_IDEMPOTENT};
    CU_ASSERT_EQUAL(bh_route_add(&ctx, &r), 0);
    CU_ASSERT_EQUAL(bh_registry_finalize(&app, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "route POST /orders (plugin order) is idempotent but the "
                                "configuration has no \"storage\" to keep Idempotency-Keys in");
}

static void test_route_conflict_names_plugin(void)
{
    app_reset();
    app.cfg = bh_config_parse("{}", "x.json", err, sizeof err);
    bh_plugin_ctx a = {.name = "a", .app = &app};
    bh_route r1 = {.method = "GET", .path = "/x/{id}", .handler = (bh_handler_fn)1};
    bh_route r2 = {.method = "GET", .path = "/x/{other}", .handler = (bh_handler_fn)1};
    bh_route r3 = {
        .method = "GET", .path = "/y", .handler = (bh_handler_fn)1, .rate_class = "nope"};
    bh_route r4 = {.method = "GET", .path = "/z", .handler = (bh_handler_fn)1, .openapi = "{nope"};
    CU_ASSERT_EQUAL(bh_route_add(&a, &r1), 0);
    CU_ASSERT_EQUAL(bh_route_add(&a, &r2), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.error, "conflicts with GET /x/{id}"));
    CU_ASSERT_EQUAL(bh_route_add(&a, &r3), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.error, "rate class \"nope\" is not configured"));
    CU_ASSERT_EQUAL(bh_route_add(&a, &r4), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.error, "openapi fragment is not a JSON object"));
}

static void test_services(void)
{
    app_reset();
    app.cfg = bh_config_parse("{}", "x.json", err, sizeof err);
    bh_plugin_ctx a = {.name = "a", .app = &app}, b = {.name = "b", .app = &app};
    static const int iface = 42;
    CU_ASSERT_EQUAL(bh_service_provide(&a, "catalog", 2, &iface), 0);
    CU_ASSERT_EQUAL(bh_service_provide(&b, "catalog", 3, &iface), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.error, "already provided by plugin a"));
    CU_ASSERT_PTR_EQUAL(bh_service_lookup("catalog", 1), &iface);
    CU_ASSERT_PTR_EQUAL(bh_service_lookup("catalog", 2), &iface);
    CU_ASSERT_PTR_NULL(bh_service_lookup("catalog", 3));
    CU_ASSERT_PTR_NULL(bh_service_lookup("payments", 1));
}

int main(void)
{
    int fd = mkstemp(trace_path);
    if (fd < 0)
        return 1;
    close(fd);
    setenv("BH_FIXTURE_TRACE", trace_path, 1);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("loader", NULL, NULL);
    CU_add_test(s, "good plugin loads, inits, starts", test_good_plugin);
    CU_add_test(s, "missing .so names the file", test_missing_file);
    CU_add_test(s, "missing descriptor symbol", test_missing_symbol);
    CU_add_test(s, "ABI mismatch", test_abi_mismatch);
    CU_add_test(s, "descriptor name differs from config", test_name_mismatch);
    CU_add_test(s, "dependency order and lifecycle order", test_dependency_order);
    CU_add_test(s, "missing dependency", test_missing_dependency);
    CU_add_test(s, "dependency cycle", test_cycle);
    CU_add_test(s, "failing init stops started plugins", test_failing_init_stops_the_others);
    CU_pSuite r = CU_add_suite("registry", NULL, NULL);
    CU_add_test(r, "auth route without authorizer fails closed",
                test_auth_required_without_authorizer);
    CU_add_test(r, "route conflicts and bad metadata", test_route_conflict_names_plugin);
    CU_add_test(r, "idempotent route without storage fails closed",
                test_idempotent_route_without_storage);
    CU_add_test(r, "services provide and lookup", test_services);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    app_reset();
    bh_registry_free(&app);
    bh_config_free(app.cfg);
    CU_cleanup_registry();
    unlink(trace_path);
    return failed ? 1 : 0;
}
