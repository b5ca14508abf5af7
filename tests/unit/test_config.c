/* test_config.c - unit tests for core/config.c and core/jsonpos.c.
 *
 * Each test loads a small config (named "t.json" in messages) and checks
 * what an operator would see: the value that ends up in bh_config, or the
 * exact one-line error with file, line and JSON path.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "config.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parse `text` as "t.json"; the config, or NULL with the message in err. */
static bh_config *parse(const char *text, char *err)
{
    return bh_config_parse(text, "t.json", err, BH_CONFIG_ERR_MAX);
}

/* Assert that `text` is rejected with exactly the message `want`. */
#define EXPECT_ERROR(text, want)                                                                   \
    do {                                                                                           \
        char err_[BH_CONFIG_ERR_MAX] = "";                                                         \
        bh_config *cfg_ = parse((text), err_);                                                     \
        CU_ASSERT_PTR_NULL(cfg_);                                                                  \
        bh_config_free(cfg_);                                                                      \
        CU_ASSERT_STRING_EQUAL(err_, (want));                                                      \
        if (strcmp(err_, (want)) != 0)                                                             \
            fprintf(stderr, "\n    got:  %s\n    want: %s\n", err_, (want));                       \
    } while (0)

/* Assert that bh_config_interpolate turns `in` into `want`. */
#define EXPECT_INTERP(in, want)                                                                    \
    do {                                                                                           \
        char err_[BH_CONFIG_ERR_MAX] = "";                                                         \
        char *out_ = bh_config_interpolate((in), err_, sizeof err_);                               \
        CU_ASSERT_PTR_NOT_NULL_FATAL(out_);                                                        \
        CU_ASSERT_STRING_EQUAL(out_, (want));                                                      \
        free(out_);                                                                                \
    } while (0)

/* Assert that bh_config_interpolate rejects `in` with message `want`. */
#define EXPECT_INTERP_ERROR(in, want)                                                              \
    do {                                                                                           \
        char err_[BH_CONFIG_ERR_MAX] = "";                                                         \
        char *out_ = bh_config_interpolate((in), err_, sizeof err_);                               \
        CU_ASSERT_PTR_NULL(out_);                                                                  \
        free(out_);                                                                                \
        CU_ASSERT_STRING_EQUAL(err_, (want));                                                      \
    } while (0)

/* ---- defaults and values --------------------------------------------- */

static void test_defaults(void)
{
    char err[BH_CONFIG_ERR_MAX] = "";
    bh_config *cfg = parse("{}", err);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->file, "t.json");
    CU_ASSERT_STRING_EQUAL(cfg->listen, "127.0.0.1:8080");
    CU_ASSERT_EQUAL(cfg->workers, 0);
    CU_ASSERT_EQUAL(cfg->max_header_bytes, 8192);
    CU_ASSERT_EQUAL(cfg->max_body_bytes, 1048576);
    CU_ASSERT_EQUAL(cfg->timeout_ms, 10000);
    CU_ASSERT_EQUAL(cfg->drain_timeout_ms, 10000);
    CU_ASSERT_EQUAL(cfg->max_json_depth, 32);
    CU_ASSERT_EQUAL(cfg->trust_forwarded_for, 0);
    CU_ASSERT_STRING_EQUAL(cfg->log_level, "info");
    CU_ASSERT_PTR_NULL(cfg->log_file);
    CU_ASSERT_EQUAL(cfg->access_log, 1);
    CU_ASSERT_EQUAL(cfg->rate_limit_enabled, 1);
    CU_ASSERT_EQUAL(cfg->rate_limit_clients, 65536);
    CU_ASSERT_EQUAL_FATAL(cfg->n_rate_classes, 1);
    CU_ASSERT_STRING_EQUAL(cfg->rate_classes[0].name, "default");
    CU_ASSERT_DOUBLE_EQUAL(cfg->rate_classes[0].rate, 50.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(cfg->rate_classes[0].burst, 100.0, 1e-9);
    CU_ASSERT_PTR_NULL(cfg->plugin_dir);
    CU_ASSERT_STRING_EQUAL(cfg->data_dir, "./var");
    CU_ASSERT_EQUAL(cfg->n_plugins, 0);
    CU_ASSERT_PTR_NULL(cfg->plugins);
    bh_config_free(cfg);
}

static void test_server_keys(void)
{
    char err[BH_CONFIG_ERR_MAX] = "";
    bh_config *cfg = parse("{\"server\": {\n"
                           "  \"$comment\": \"front door\",\n"
                           "  \"listen\": \"[::1]:9000\",\n"
                           "  \"workers\": 4,\n"
                           "  \"max_header_bytes\": 512,\n"
                           "  \"max_body_bytes\": 67108864,\n"
                           "  \"timeout_ms\": 100,\n"
                           "  \"drain_timeout_ms\": 0,\n"
                           "  \"max_json_depth\": 1000,\n"
                           "  \"trust_forwarded_for\": true\n"
                           "}}",
                           err);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->listen, "[::1]:9000");
    CU_ASSERT_EQUAL(cfg->workers, 4);
    CU_ASSERT_EQUAL(cfg->max_header_bytes, 512);
    CU_ASSERT_EQUAL(cfg->max_body_bytes, 67108864);
    CU_ASSERT_EQUAL(cfg->timeout_ms, 100);
    CU_ASSERT_EQUAL(cfg->drain_timeout_ms, 0);
    CU_ASSERT_EQUAL(cfg->max_json_depth, 1000);
    CU_ASSERT_EQUAL(cfg->trust_forwarded_for, 1);
    bh_config_free(cfg);
}

static void test_log_rate_limit_dirs(void)
{
    char err[BH_CONFIG_ERR_MAX] = "";
    bh_config *cfg =
        parse("{\"log\": {\"level\": \"warn\", \"file\": \"/var/log/bh.log\",\n"
              "          \"access_log\": false},\n"
              " \"rate_limit\": {\"enabled\": false, \"max_clients\": 16,\n"
              "   \"classes\": {\"$comment\": \"per route\",\n"
              "                 \"login\": {\"rate_per_sec\": 0.5, \"burst\": 3},\n"
              "                 \"default\": {\"rate_per_sec\": 10, \"burst\": 1.5}}},\n"
              " \"plugin_dir\": \"/usr/lib/bh\", \"data_dir\": \"/srv/bh\"}",
              err);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->log_level, "warn");
    CU_ASSERT_STRING_EQUAL(cfg->log_file, "/var/log/bh.log");
    CU_ASSERT_EQUAL(cfg->access_log, 0);
    CU_ASSERT_EQUAL(cfg->rate_limit_enabled, 0);
    CU_ASSERT_EQUAL(cfg->rate_limit_clients, 16);
    CU_ASSERT_EQUAL_FATAL(cfg->n_rate_classes, 2);
    CU_ASSERT_STRING_EQUAL(cfg->rate_classes[0].name, "default");
    CU_ASSERT_DOUBLE_EQUAL(cfg->rate_classes[0].rate, 10.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(cfg->rate_classes[0].burst, 1.5, 1e-9);
    CU_ASSERT_STRING_EQUAL(cfg->rate_classes[1].name, "login");
    CU_ASSERT_DOUBLE_EQUAL(cfg->rate_classes[1].rate, 0.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(cfg->rate_classes[1].burst, 3.0, 1e-9);
    CU_ASSERT_STRING_EQUAL(cfg->plugin_dir, "/usr/lib/bh");
    CU_ASSERT_STRING_EQUAL(cfg->data_dir, "/srv/bh");
    bh_config_free(cfg);

    cfg = parse("{\"log\": {\"file\": null}}", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NULL(cfg->log_file);
    bh_config_free(cfg);
}

static void test_listen_shapes(void)
{
    static const char *const good[] = {"0.0.0.0:80",   "127.0.0.1:0",    "[::1]:8080",
                                       "[::]:65535",   "localhost:8080", "api-1.example.com:443",
                                       "my_service:80"};
    static const char *const bad[] = {
        "8080",     "localhost",    "localhost:", ":8080",    "host:65536",   "host:-1",
        "host:80x", "host:123456",  "::1:80",     "[::1:80",  "[zz]:80",      "[]:80",
        "a b:80",   "999.1.1.1:80", "1.2.3:80",   "-host:80", "host..name:80"};
    char text[256], err[BH_CONFIG_ERR_MAX];

    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        bh_config *cfg;

        snprintf(text, sizeof text, "{\"server\": {\"listen\": \"%s\"}}", good[i]);
        cfg = parse(text, err);
        CU_ASSERT_PTR_NOT_NULL(cfg);
        if (cfg)
            CU_ASSERT_STRING_EQUAL(cfg->listen, good[i]);
        bh_config_free(cfg);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, "{\"server\": {\n\"listen\": \"%s\"}}", bad[i]);
        EXPECT_ERROR(text, "t.json:2: server.listen: expected \"HOST:PORT\" with "
                           "an IPv4 address, a [bracketed] IPv6 address or a "
                           "name, and a port 0-65535");
    }
}

static void test_comments_ignored(void)
{
    char err[BH_CONFIG_ERR_MAX] = "";
    bh_config *cfg;

    unsetenv("BH_TEST_UNSET");
    cfg = parse("{\"$comment\": \"mentions ${BH_TEST_UNSET} freely\",\n"
                " \"log\": {\"$comment\": [1, 2]},\n"
                " \"plugins\": [{\"$comment\": {}, \"name\": \"a\"}]}",
                err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->n_plugins, 1);
    bh_config_free(cfg);
}

/* ---- interpolation ---------------------------------------------------- */

static void test_interpolate_function(void)
{
    setenv("BH_TEST_A", "alpha", 1);
    setenv("BH_TEST_EMPTY", "", 1);
    unsetenv("BH_TEST_UNSET");

    EXPECT_INTERP("", "");
    EXPECT_INTERP("plain", "plain");
    EXPECT_INTERP("${BH_TEST_A}", "alpha");
    EXPECT_INTERP("x-${BH_TEST_A}-${BH_TEST_A}-y", "x-alpha-alpha-y");
    EXPECT_INTERP("${BH_TEST_A:-dflt}", "alpha");
    EXPECT_INTERP("${BH_TEST_UNSET:-dflt}", "dflt");
    EXPECT_INTERP("${BH_TEST_UNSET:-}", "");
    EXPECT_INTERP("${BH_TEST_UNSET:-a b:c-d}", "a b:c-d");
    EXPECT_INTERP("${BH_TEST_EMPTY}", "");
    EXPECT_INTERP("${BH_TEST_EMPTY:-used}", "used");
    EXPECT_INTERP("cost $$5 and $$${BH_TEST_A}", "cost $5 and $alpha");
    EXPECT_INTERP("$$", "$");
    EXPECT_INTERP("$${BH_TEST_UNSET}", "${BH_TEST_UNSET}");
    EXPECT_INTERP("a lone $ and $x stay", "a lone $ and $x stay");
    EXPECT_INTERP("end$", "end$");

    EXPECT_INTERP_ERROR("${BH_TEST_UNSET}", "environment variable BH_TEST_UNSET is not set");
    EXPECT_INTERP_ERROR("key=${BH_TEST_A", "unterminated \"${\" (missing \"}\")");
    EXPECT_INTERP_ERROR("${", "unterminated \"${\" (missing \"}\")");
    EXPECT_INTERP_ERROR("${}", "invalid variable name in \"${}\"");
    EXPECT_INTERP_ERROR("${1ABC}", "invalid variable name in \"${1ABC}\"");
    EXPECT_INTERP_ERROR("${A-B}", "invalid variable name in \"${A-B}\"");
    EXPECT_INTERP_ERROR("${A B}", "invalid variable name in \"${A B}\"");
    EXPECT_INTERP_ERROR("${:-x}", "invalid variable name in \"${:-x}\"");
    EXPECT_INTERP_ERROR("${A:x}", "invalid variable name in \"${A:x}\"");
}

static void test_interpolate_core_strings(void)
{
    char err[BH_CONFIG_ERR_MAX] = "";
    bh_config *cfg;

    setenv("BH_TEST_HOST", "10.0.0.7", 1);
    unsetenv("BH_TEST_PORT");
    setenv("BH_TEST_EMPTY", "", 1);
    cfg = parse("{\"server\": {\"listen\": \"${BH_TEST_HOST}:${BH_TEST_PORT:-9090}\"},\n"
                " \"data_dir\": \"${BH_TEST_EMPTY:-/srv/data}\",\n"
                " \"plugin_dir\": \"/opt/$$bh\"}",
                err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->listen, "10.0.0.7:9090");
    CU_ASSERT_STRING_EQUAL(cfg->data_dir, "/srv/data");
    CU_ASSERT_STRING_EQUAL(cfg->plugin_dir, "/opt/$bh");
    bh_config_free(cfg);

    /* Set but empty is still set for ${VAR}: the value becomes "". */
    EXPECT_ERROR("{\n\"data_dir\": \"${BH_TEST_EMPTY}\"}", "t.json:2: data_dir: must not be empty");
}

static void test_interpolate_unset_error(void)
{
    unsetenv("BH_TEST_UNSET");
    EXPECT_ERROR("{\n"
                 "  \"server\": {\n"
                 "    \"workers\": 2,\n"
                 "    \"listen\": \"${BH_TEST_UNSET}:80\"\n"
                 "  }\n"
                 "}\n",
                 "t.json:4: server.listen: environment variable "
                 "BH_TEST_UNSET is not set");
    EXPECT_ERROR("{\"plugins\": [\n"
                 "  {\"name\": \"db\",\n"
                 "   \"config\": {\"hosts\": [\"a\",\n"
                 "                          \"${BH_TEST_UNSET}\"]}}\n"
                 "]}",
                 "t.json:4: plugins[0].config.hosts[1]: environment variable "
                 "BH_TEST_UNSET is not set");
    EXPECT_ERROR("{\n\"log\": {\"file\": \"/var/${BH_TEST_UNSET\"}}",
                 "t.json:2: log.file: unterminated \"${\" (missing \"}\")");
    EXPECT_ERROR("{\n\"log\": {\"file\": \"/var/${9}\"}}",
                 "t.json:2: log.file: invalid variable name in \"${9}\"");
}

static void test_interpolate_plugin_config(void)
{
    char err[BH_CONFIG_ERR_MAX] = "";
    bh_config *cfg;
    json_t *c;

    setenv("BH_TEST_SECRET", "s3cr3t", 1);
    setenv("BH_TEST_A", "alpha", 1);
    cfg = parse("{\"plugins\": [{\"name\": \"auth\", \"config\": {\n"
                "  \"$comment\": \"${BH_TEST_UNSET} is not expanded here\",\n"
                "  \"db\": {\"password\": \"${BH_TEST_SECRET}\", \"port\": 5432},\n"
                "  \"list\": [\"${BH_TEST_A}\", [\"$${BH_TEST_A}\"]],\n"
                "  \"${BH_TEST_A}\": \"keys are not expanded\"}}]}",
                err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL_FATAL(cfg->n_plugins, 1);
    c = cfg->plugins[0].config;
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(c, "db"), "password")),
                           "s3cr3t");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(c, "db"), "port")), 5432);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(c, "list"), 0)),
                           "alpha");
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_array_get(json_array_get(json_object_get(c, "list"), 1), 0)),
        "${BH_TEST_A}");
    CU_ASSERT_PTR_NOT_NULL(json_object_get(c, "${BH_TEST_A}"));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "$comment")),
                           "${BH_TEST_UNSET} is not expanded here");
    bh_config_free(cfg);
}

static void test_interpolate_cannot_inject_json(void)
{
    static const char *const evil = "x\", \"admin\": true, \"y\": \"";
    char err[BH_CONFIG_ERR_MAX] = "";
    bh_config *cfg;
    json_t *c;

    setenv("BH_TEST_EVIL", evil, 1);
    cfg = parse("{\"plugins\": [{\"name\": \"p\",\n"
                "  \"config\": {\"user\": \"${BH_TEST_EVIL}\"}}],\n"
                " \"data_dir\": \"${BH_TEST_EVIL}\"}",
                err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    c = cfg->plugins[0].config;
    CU_ASSERT_EQUAL(json_object_size(c), 1);
    CU_ASSERT_PTR_NULL(json_object_get(c, "admin"));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "user")), evil);
    CU_ASSERT_STRING_EQUAL(cfg->data_dir, evil);
    bh_config_free(cfg);
}

/* ---- schema errors ---------------------------------------------------- */

static void test_unknown_keys(void)
{
    EXPECT_ERROR("{\n"
                 "  \"server\": {},\n"
                 "  \"bogus\": 1\n"
                 "}\n",
                 "t.json:3: bogus: unknown key");
    EXPECT_ERROR("{\n"
                 "  \"server\": {\n"
                 "    \"workers\": 2,\n"
                 "    \"wrkers\": 2\n"
                 "  }\n"
                 "}\n",
                 "t.json:4: server.wrkers: unknown key");
    EXPECT_ERROR("{\"plugins\": [\n"
                 "  {\"name\": \"a\"},\n"
                 "  {\"name\": \"b\",\n"
                 "   \"cfg\": {}}\n"
                 "]}",
                 "t.json:4: plugins[1].cfg: unknown key");
    EXPECT_ERROR("{\"log\": {\n\"levle\": \"info\"}}", "t.json:2: log.levle: unknown key");
    EXPECT_ERROR("{\"rate_limit\": {\n\"classes\": {\"api\": {\"rate_per_sec\": 1,\n"
                 "\"burts\": 2}}}}",
                 "t.json:3: rate_limit.classes.api.burts: unknown key");
    /* Even a disabled entry must not hide a typo. */
    EXPECT_ERROR("{\"plugins\": [\n{\"name\": \"a\", \"enabled\": false,\n\"pth\": 1}]}",
                 "t.json:3: plugins[0].pth: unknown key");
}

static void test_error_is_one_line(void)
{
    EXPECT_ERROR("{\n\"bad\\nkey\\u0001\": 1}", "t.json:2: bad?key?: unknown key");
}

static void test_wrong_types(void)
{
    EXPECT_ERROR("{\"server\": {\n\"workers\": \"4\"}}",
                 "t.json:2: server.workers: expected an integer, got a string");
    EXPECT_ERROR("{\"server\": {\n\"workers\": 1.5}}",
                 "t.json:2: server.workers: expected an integer, got a real number");
    EXPECT_ERROR("{\"server\": {\"trust_forwarded_for\":\n1}}",
                 "t.json:2: server.trust_forwarded_for: expected a boolean, got an integer");
    EXPECT_ERROR("{\"server\": {\"listen\":\n8080}}",
                 "t.json:2: server.listen: expected a string, got an integer");
    EXPECT_ERROR("{\n\"server\": []}", "t.json:2: server: expected an object, got an array");
    EXPECT_ERROR("{\"log\": {\n\"file\": 3}}",
                 "t.json:2: log.file: expected a string or null, got an integer");
    EXPECT_ERROR("{\"log\": {\n\"level\": \"verbose\"}}",
                 "t.json:2: log.level: must be one of \"debug\", \"info\", "
                 "\"warn\", \"error\"");
    EXPECT_ERROR("{\"rate_limit\": {\n\"classes\": []}}",
                 "t.json:2: rate_limit.classes: expected an object, got an array");
    EXPECT_ERROR(
        "{\"rate_limit\": {\"classes\": {\n\"api\": {\"rate_per_sec\": \"5\", \"burst\": 1}}}}",
        "t.json:2: rate_limit.classes.api.rate_per_sec: expected a "
        "number, got a string");
    EXPECT_ERROR("{\"rate_limit\": {\"classes\": {\n\"api\": 5}}}",
                 "t.json:2: rate_limit.classes.api: expected an object, got an integer");
    EXPECT_ERROR("{\n\"plugins\": {}}", "t.json:2: plugins: expected an array, got an object");
    EXPECT_ERROR("{\"plugins\": [\n\"auth\"]}",
                 "t.json:2: plugins[0]: expected an object, got a string");
    EXPECT_ERROR("{\"plugins\": [{\"name\": \"a\",\n\"config\": null}]}",
                 "t.json:2: plugins[0].config: expected an object, got null");
    EXPECT_ERROR("{\"plugins\": [{\"name\": \"a\",\n\"enabled\": \"no\"}]}",
                 "t.json:2: plugins[0].enabled: expected a boolean, got a string");
    EXPECT_ERROR("{\n\"data_dir\": \"\"}", "t.json:2: data_dir: must not be empty");
    EXPECT_ERROR("\n[1, 2]", "t.json:2: top level must be an object, got an array");
}

static void test_out_of_range(void)
{
    EXPECT_ERROR("{\"server\": {\n\"max_body_bytes\": 0}}",
                 "t.json:2: server.max_body_bytes: must be between 1 and 67108864");
    EXPECT_ERROR("{\"server\": {\n\"max_body_bytes\": 67108865}}",
                 "t.json:2: server.max_body_bytes: must be between 1 and 67108864");
    EXPECT_ERROR("{\"server\": {\n\"workers\": 257}}",
                 "t.json:2: server.workers: must be between 0 and 256");
    EXPECT_ERROR("{\"server\": {\n\"workers\": -1}}",
                 "t.json:2: server.workers: must be between 0 and 256");
    EXPECT_ERROR("{\"server\": {\n\"max_header_bytes\": 511}}",
                 "t.json:2: server.max_header_bytes: must be between 512 and 1048576");
    EXPECT_ERROR("{\"server\": {\n\"timeout_ms\": 3600001}}",
                 "t.json:2: server.timeout_ms: must be between 100 and 3600000");
    EXPECT_ERROR("{\"server\": {\n\"drain_timeout_ms\": 600001}}",
                 "t.json:2: server.drain_timeout_ms: must be between 0 and 600000");
    EXPECT_ERROR("{\"server\": {\n\"max_json_depth\": 0}}",
                 "t.json:2: server.max_json_depth: must be between 1 and 1000");
    EXPECT_ERROR("{\"rate_limit\": {\n\"max_clients\": 15}}",
                 "t.json:2: rate_limit.max_clients: must be between 16 and 10000000");
    EXPECT_ERROR("{\"rate_limit\": {\"classes\": {\"api\":\n{\"rate_per_sec\": 0, \"burst\": 5}}}}",
                 "t.json:2: rate_limit.classes.api.rate_per_sec: must be greater than 0");
    EXPECT_ERROR(
        "{\"rate_limit\": {\"classes\": {\"api\":\n{\"rate_per_sec\": 1, \"burst\": 0.5}}}}",
        "t.json:2: rate_limit.classes.api.burst: must be at least 1");
    EXPECT_ERROR("{\"rate_limit\": {\"classes\": {\n\"api\": {\"burst\": 5}}}}",
                 "t.json:2: rate_limit.classes.api: missing required key \"rate_per_sec\"");
    EXPECT_ERROR(
        "{\"rate_limit\": {\"classes\": {\n\"API\": {\"rate_per_sec\": 1, \"burst\": 1}}}}",
        "t.json:2: rate_limit.classes.API: invalid class name "
        "(expected [a-z0-9_-]{1,32})");
}

static void test_nul_rejected(void)
{
    EXPECT_ERROR("{\n\"data_dir\": \"/srv\\u0000/x\"}",
                 "t.json:2: data_dir: string contains a NUL byte");
    EXPECT_ERROR("{\"plugins\": [{\"name\": \"a\", \"config\": {\n\"k\": [\"a\\u0000\"]}}]}",
                 "t.json:2: plugins[0].config.k[0]: string contains a NUL byte");
}

/* ---- plugins ---------------------------------------------------------- */

static void test_plugins(void)
{
    char err[BH_CONFIG_ERR_MAX] = "";
    bh_config *cfg;

    unsetenv("BH_TEST_UNSET");
    cfg = parse("{\"plugins\": [\n"
                "  {\"name\": \"hello\"},\n"
                "  {\"name\": \"off\", \"enabled\": false,\n"
                "   \"config\": {\"key\": \"${BH_TEST_UNSET}\"}},\n"
                "  {\"name\": \"hello\", \"enabled\": false},\n"
                "  {\"name\": \"auth-2_x\", \"path\": \"/opt/auth.so\",\n"
                "   \"enabled\": true, \"config\": {\"a\": 1}}\n"
                "]}",
                err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL_FATAL(cfg->n_plugins, 2);
    CU_ASSERT_STRING_EQUAL(cfg->plugins[0].name, "hello");
    CU_ASSERT_STRING_EQUAL(cfg->plugins[0].path, "hello.so");
    CU_ASSERT_TRUE(json_is_object(cfg->plugins[0].config));
    CU_ASSERT_EQUAL(json_object_size(cfg->plugins[0].config), 0);
    CU_ASSERT_EQUAL(cfg->plugins[0].line, 2);
    CU_ASSERT_STRING_EQUAL(cfg->plugins[1].name, "auth-2_x");
    CU_ASSERT_STRING_EQUAL(cfg->plugins[1].path, "/opt/auth.so");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(cfg->plugins[1].config, "a")), 1);
    CU_ASSERT_EQUAL(cfg->plugins[1].line, 6);
    bh_config_free(cfg);
}

static void test_plugin_errors(void)
{
    EXPECT_ERROR("{\"plugins\": [\n"
                 "  {\"name\": \"auth\"},\n"
                 "  {\"name\": \"other\"},\n"
                 "  {\"path\": \"x.so\",\n"
                 "   \"name\": \"auth\"}\n"
                 "]}",
                 "t.json:5: plugins[2].name: duplicate plugin \"auth\" "
                 "(first defined at line 2)");
    /* A missing key has no line of its own: the entry's line is used. */
    EXPECT_ERROR("{\"plugins\": [\n\n  {\"path\": \"x.so\"}]}",
                 "t.json:3: plugins[0]: missing required key \"name\"");
    EXPECT_ERROR("{\"plugins\": [\n{\"name\": \"Auth Plugin\"}]}",
                 "t.json:2: plugins[0].name: invalid plugin name "
                 "(expected [a-z0-9_-]{1,32})");
    EXPECT_ERROR("{\"plugins\": [\n{\"name\": \"abcdefghijklmnopqrstuvwxyz0123456\"}]}",
                 "t.json:2: plugins[0].name: invalid plugin name "
                 "(expected [a-z0-9_-]{1,32})");
}

/* ---- JSON syntax and files -------------------------------------------- */

static void test_json_syntax_error(void)
{
    char err[BH_CONFIG_ERR_MAX] = "";
    bh_config *cfg = parse("{\n  \"server\": {\n    \"workers\": 4,\n  }\n}\n", err);

    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_EQUAL(strncmp(err, "t.json:4: invalid JSON: ", 24), 0);

    cfg = parse("{\"log\": {},\n \"log\": {}}", err);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_EQUAL(strncmp(err, "t.json:2: invalid JSON: ", 24), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "duplicate"));

    cfg = parse("", err);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid JSON: "));
}

static void test_load_file(void)
{
    char path[] = "/tmp/bh_test_config_XXXXXX";
    char err[BH_CONFIG_ERR_MAX] = "", want[BH_CONFIG_ERR_MAX];
    const char *text = "{\n  \"server\": {\"workers\": 3}\n}\n";
    bh_config *cfg;
    int fd = mkstemp(path);

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    cfg = bh_config_load(path, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(cfg);
    if (cfg) {
        CU_ASSERT_STRING_EQUAL(cfg->file, path);
        CU_ASSERT_EQUAL(cfg->workers, 3);
    }
    bh_config_free(cfg);

    /* Errors from a file name the file. */
    fd = open(path, O_WRONLY | O_TRUNC);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, "{\n\"x\": 1}", 9) == 9);
    close(fd);
    CU_ASSERT_PTR_NULL(bh_config_load(path, err, sizeof err));
    snprintf(want, sizeof want, "%s:2: x: unknown key", path);
    CU_ASSERT_STRING_EQUAL(err, want);

    fd = open(path, O_WRONLY | O_TRUNC);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, "{}\0{}", 5) == 5);
    close(fd);
    CU_ASSERT_PTR_NULL(bh_config_load(path, err, sizeof err));
    snprintf(want, sizeof want, "%s: contains a NUL byte", path);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(path);
}

static void test_load_missing_file(void)
{
    char err[BH_CONFIG_ERR_MAX] = "", want[BH_CONFIG_ERR_MAX];

    CU_ASSERT_PTR_NULL(bh_config_load("/nonexistent/bh/x.json", err, sizeof err));
    snprintf(want, sizeof want, "/nonexistent/bh/x.json: %s", strerror(ENOENT));
    CU_ASSERT_STRING_EQUAL(err, want);

    CU_ASSERT_PTR_NULL(bh_config_load("/tmp", err, sizeof err));
    snprintf(want, sizeof want, "/tmp: %s", strerror(EISDIR));
    CU_ASSERT_STRING_EQUAL(err, want);
}

/* ---- bh_json_path_line ------------------------------------------------ */

static const char doc[] = "{\n"                                        /* 1 */
                          "  \"a\": {\n"                               /* 2 */
                          "    \"b\": [10,\n"                          /* 3 */
                          "          {\"c\": \"x\"},\n"                /* 4 */
                          "          [1, [2,\n"                        /* 5 */
                          "                3]]],\n"                    /* 6 */
                          "    \"s\": \"tricky \\\" } ] , : \\\\\",\n" /* 7 */
                          "    \"q\\\"k\": 1,\n"                       /* 8 */
                          "    \"\\u00e9t\\u00E9\": 2,\n"              /* 9 */
                          "    \"\\ud83d\\ude00\":\n"                  /* 10 */
                          "      3\n"                                  /* 11 */
                          "  },\n"                                     /* 12 */
                          "  \"z\": {}, \"e\": [],\n"                  /* 13 */
                          "  \"last\":\n"                              /* 14 */
                          "\n"                                         /* 15 */
                          "  null\n"                                   /* 16 */
                          "}\n";

static void test_path_line_found(void)
{
    CU_ASSERT_EQUAL(bh_json_path_line(doc, ""), 1);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a"), 2);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b"), 3);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[0]"), 3);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[1]"), 4);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[1].c"), 4);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[2]"), 5);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[2][1]"), 5);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[2][1][1]"), 6);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.s"), 7);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.q\"k"), 8);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.\xc3\xa9t\xc3\xa9"), 9);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.\xf0\x9f\x98\x80"), 11);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "z"), 13);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "e"), 13);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "last"), 16);
    CU_ASSERT_EQUAL(bh_json_path_line("[0, {\"k\":\n1}]", "[1].k"), 2);
}

static void test_path_line_not_found(void)
{
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "nope"), 0);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[3]"), 0);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[1].d"), 0);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a[0]"), 0);  /* object, not array */
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b.c"), 0); /* array, not object */
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.s.x"), 0); /* a string */
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "z.x"), 0);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "e[0]"), 0);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "tricky"), 0); /* text inside a string */
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b["), 0);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[]"), 0);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[x]"), 0);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, "a.b[99999999999999999999999999]"), 0);
    CU_ASSERT_EQUAL(bh_json_path_line(NULL, "a"), 0);
    CU_ASSERT_EQUAL(bh_json_path_line(doc, NULL), 0);
}

static void test_path_line_malformed(void)
{
    static const struct {
        const char *text, *path;
        int want;
    } cases[] = {
        {"", "", 0},
        {"   ", "", 0},
        {"", "a", 0},
        {"{", "a", 0},
        {"[", "[0]", 0},
        {"{\"a\"", "a", 0},
        {"{\"a\":", "a", 0},
        {"{\"a\": ", "a", 0},
        {"{\"a\\", "a", 0},
        {"{\"a\\u00", "a", 0},
        {"{\"a\\ud83d\\u", "a", 0},
        {"{\"a\": \"unterminated", "a.b", 0},
        {"{\"x\": \"unterminated", "a", 0},
        {"[1,2", "[2]", 0},
        {"[1,", "[1]", 0},
        {"}}}]]]", "a", 0},
        {"{\"a\" 1}", "a", 0},
        {"{\"a\": 1 \"b\": 2}", "b", 0},
        {"{,}", "a", 0},
        {"[,,,]", "[2]", 0},
        {"\"\\", "[0]", 0},
        {"{\"\\ud800\": 1}", "\xed\xa0\x80", 0},
        {"{\"\\udc00\": 1}", "\xed\xb0\x80", 0},
        {"{\"\\x\": 1}", "x", 0},
        {"[[[[[[[[[[[[[[[[[[[[", "[0][1]", 0},
        /* Whatever is well formed up to the value is still found. */
        {"[1,2", "[0]", 1},
        {"{\"a\": 1 \"b\": 2}", "a", 1},
        {"{\"a\": {\"b\":\n[", "a.b", 2},
        {"[[[[[[[[[[[[[[[[[[[[", "[0][0][0][0][0]", 1},
    };
    static const char *const paths[] = {"a", "b", "a.b", "[0]", "[2]", "a[0].b"};
    unsigned seed = 12345;

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* A heap copy of exactly the text, so ASan sees any overread. */
        char *t = strdup(cases[i].text);

        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_EQUAL(bh_json_path_line(t, cases[i].path), cases[i].want);
        free(t);
    }
    /* Every prefix of a real document, and random bytes. */
    for (size_t n = 0; n < sizeof doc; n++) {
        char *t = strndup(doc, n);
        int line;

        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        line = bh_json_path_line(t, "a.b[2][1][1]");
        CU_ASSERT(line == 0 || line == 6);
        line = bh_json_path_line(t, "last");
        CU_ASSERT(line == 0 || line == 16);
        free(t);
    }
    for (int round = 0; round < 2000; round++) {
        static const char alphabet[] = "{}[]\",:\\ ab0u\n";
        char t[48];
        int line;

        for (size_t k = 0; k < sizeof t - 1; k++) {
            seed = seed * 1103515245u + 12345u;
            t[k] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        t[sizeof t - 1] = '\0';
        for (size_t j = 0; j < sizeof paths / sizeof *paths; j++) {
            line = bh_json_path_line(t, paths[j]);
            CU_ASSERT(line >= 0 && line <= 48);
        }
    }
}

/* ---- runner ------------------------------------------------------------ */

typedef struct test_case {
    const char *suite;
    const char *name;
    CU_TestFunc fn;
} test_case;

static const test_case tests[] = {
    {"config", "defaults filled in", test_defaults},
    {"config", "every server key parsed", test_server_keys},
    {"config", "log, rate_limit, dirs parsed", test_log_rate_limit_dirs},
    {"config", "listen HOST:PORT shapes", test_listen_shapes},
    {"config", "$comment ignored", test_comments_ignored},
    {"config", "unknown keys with line", test_unknown_keys},
    {"config", "error message is one line", test_error_is_one_line},
    {"config", "wrong types", test_wrong_types},
    {"config", "out of range", test_out_of_range},
    {"config", "NUL in strings rejected", test_nul_rejected},
    {"config", "plugins, disabled skipped", test_plugins},
    {"config", "plugin errors", test_plugin_errors},
    {"config", "JSON syntax error with line", test_json_syntax_error},
    {"config", "load from a file", test_load_file},
    {"config", "load a missing file", test_load_missing_file},
    {"interpolate", "bh_config_interpolate", test_interpolate_function},
    {"interpolate", "core strings", test_interpolate_core_strings},
    {"interpolate", "unset/unclosed errors", test_interpolate_unset_error},
    {"interpolate", "plugin config", test_interpolate_plugin_config},
    {"interpolate", "cannot inject JSON", test_interpolate_cannot_inject_json},
    {"json_path_line", "found", test_path_line_found},
    {"json_path_line", "not found", test_path_line_not_found},
    {"json_path_line", "malformed input", test_path_line_malformed},
};

int main(void)
{
    CU_pSuite suite = NULL;
    const char *current = "";
    unsigned failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
        if (strcmp(tests[i].suite, current) != 0) {
            current = tests[i].suite;
            suite = CU_add_suite(current, NULL, NULL);
        }
        if (!suite || !CU_add_test(suite, tests[i].name, tests[i].fn)) {
            fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
            CU_cleanup_registry();
            return 1;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (CU_basic_run_tests() != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 1;
    }
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
