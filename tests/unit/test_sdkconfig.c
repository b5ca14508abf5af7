/* test_sdkconfig.c - the config readers of bilhetagem/config.h: defaults,
 * values, and the exact message of every refusal.  Linked with
 * core/sdkconfig.c alone, which proves it needs nothing else of the core. */
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <bilhetagem/config.h>

static json_t *doc;
static bh_config_reader cfg;
static char err[256];

/* Begin reading `text` (a JSON object). */
static void load(const char *text)
{
    json_decref(doc);
    doc = json_loads(text, JSON_ALLOW_NUL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    err[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(bh_config_begin(&cfg, doc, err, sizeof err), 0);
}

static void test_begin(void)
{
    json_t *arr = json_array();
    CU_ASSERT_EQUAL(bh_config_begin(&cfg, arr, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "config must be an object");
    json_decref(arr);
    /* NULL reads as {}: every key takes its default */
    CU_ASSERT_EQUAL(bh_config_begin(&cfg, NULL, err, sizeof err), 0);
    int64_t n = 0;
    CU_ASSERT_EQUAL(bh_config_int(&cfg, "n", 7, 0, 10, &n), 0);
    CU_ASSERT_EQUAL(n, 7);
    CU_ASSERT_EQUAL(bh_config_only_keys(&cfg, (const char *const[]){NULL}, NULL), 0);
}

static void test_only_keys(void)
{
    static const char *const keys[] = {"a", "b", NULL};
    load("{\"a\": 1, \"$comment\": \"always allowed\", \"b\": 2}");
    CU_ASSERT_EQUAL(bh_config_only_keys(&cfg, keys, NULL), 0);
    load("{\"a\": 1, \"c\": 2}");
    CU_ASSERT_EQUAL(bh_config_only_keys(&cfg, keys, NULL), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.c: unknown key");
    CU_ASSERT_EQUAL(bh_config_only_keys(&cfg, keys, "in hs256 mode"), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.c: unknown key in hs256 mode");
    /* a key quoted from the file cannot break the message over lines */
    load("{\"x\\ny\\u001b\": 1}");
    CU_ASSERT_EQUAL(bh_config_only_keys(&cfg, keys, NULL), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.x?y?: unknown key");
}

static void test_int(void)
{
    int64_t v = 0;
    load("{\"n\": 50, \"big\": 9007199254740993, \"real\": 5.0, \"text\": \"5\"}");
    CU_ASSERT_EQUAL(bh_config_int(&cfg, "n", 1, 50, 60, &v), 0);
    CU_ASSERT_EQUAL(v, 50);
    CU_ASSERT_EQUAL(bh_config_int(&cfg, "absent", -3, -10, 10, &v), 0);
    CU_ASSERT_EQUAL(v, -3);
    CU_ASSERT_EQUAL(bh_config_int(&cfg, "big", 0, 0, INT64_MAX, &v), 0);
    CU_ASSERT_EQUAL(v, 9007199254740993LL); /* no trip through a double */
    v = 99;
    CU_ASSERT_EQUAL(bh_config_int(&cfg, "n", 1, 51, 60, &v), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.n must be an integer from 51 to 60");
    CU_ASSERT_EQUAL(v, 99); /* untouched on error */
    CU_ASSERT_EQUAL(bh_config_int(&cfg, "n", 1, 0, 49, &v), -1);
    CU_ASSERT_EQUAL(bh_config_int(&cfg, "real", 1, 0, 10, &v), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.real must be an integer from 0 to 10");
    CU_ASSERT_EQUAL(bh_config_int(&cfg, "text", 1, 0, 10, &v), -1);
}

static void test_number(void)
{
    double d = -1;
    load("{\"rate\": 0.25, \"one\": 1, \"over\": 1.5, \"s\": \"x\"}");
    CU_ASSERT_EQUAL(bh_config_number(&cfg, "rate", 0.05, 0, 1, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(d, 0.25, 1e-12);
    CU_ASSERT_EQUAL(bh_config_number(&cfg, "one", 0.05, 0, 1, &d), 0); /* an integer is a number */
    CU_ASSERT_DOUBLE_EQUAL(d, 1.0, 1e-12);
    CU_ASSERT_EQUAL(bh_config_number(&cfg, "absent", 0.05, 0, 1, &d), 0);
    CU_ASSERT_DOUBLE_EQUAL(d, 0.05, 1e-12);
    CU_ASSERT_EQUAL(bh_config_number(&cfg, "over", 0.05, 0, 1, &d), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.over must be a number from 0 to 1");
    CU_ASSERT_EQUAL(bh_config_number(&cfg, "s", 0.05, 0, 1, &d), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.s must be a number from 0 to 1");
}

static void test_bool(void)
{
    int b = -1;
    load("{\"on\": true, \"off\": false, \"yes\": \"yes\", \"one\": 1}");
    CU_ASSERT_EQUAL(bh_config_bool(&cfg, "on", 0, &b), 0);
    CU_ASSERT_EQUAL(b, 1);
    CU_ASSERT_EQUAL(bh_config_bool(&cfg, "off", 1, &b), 0);
    CU_ASSERT_EQUAL(b, 0);
    CU_ASSERT_EQUAL(bh_config_bool(&cfg, "absent", 1, &b), 0);
    CU_ASSERT_EQUAL(b, 1);
    CU_ASSERT_EQUAL(bh_config_bool(&cfg, "yes", 0, &b), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.yes must be a boolean");
    CU_ASSERT_EQUAL(bh_config_bool(&cfg, "one", 0, &b), -1);
}

static void test_enum(void)
{
    static const char *const two[] = {"cognito", "hs256", NULL};
    static const char *const three[] = {"a", "b", "c", NULL};
    static const char *const one[] = {"only", NULL};
    int i = -1;
    load("{\"mode\": \"hs256\", \"bad\": \"rs512\", \"num\": 3}");
    CU_ASSERT_EQUAL(bh_config_enum(&cfg, "mode", 0, two, 0, &i), 0);
    CU_ASSERT_EQUAL(i, 1);
    CU_ASSERT_EQUAL(bh_config_enum(&cfg, "absent", 0, two, 0, &i), 0);
    CU_ASSERT_EQUAL(i, 0);
    i = 7;
    CU_ASSERT_EQUAL(bh_config_enum(&cfg, "absent", BH_CONFIG_REQUIRED, two, 0, &i), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.absent is required");
    CU_ASSERT_EQUAL(i, 7);
    CU_ASSERT_EQUAL(bh_config_enum(&cfg, "bad", 0, two, 0, &i), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.bad must be \"cognito\" or \"hs256\"");
    CU_ASSERT_EQUAL(bh_config_enum(&cfg, "num", 0, three, 0, &i), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.num must be one of \"a\", \"b\" or \"c\"");
    CU_ASSERT_EQUAL(bh_config_enum(&cfg, "bad", 0, one, 0, &i), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.bad must be \"only\"");
}

static void test_string_classes(void)
{
    const char *s = NULL;
    load("{\"name\": \"Olá mundo\", \"spaced\": \"a b\", \"url\": \"https://x/y\","
         " \"nul\": \"a\\u0000b\", \"tab\": \"a\\tb\", \"empty\": \"\", \"num\": 5}");
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "name", BH_CONFIG_TEXT, 1, 64, NULL, &s), 0);
    CU_ASSERT_STRING_EQUAL(s, "Olá mundo");
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "name", BH_CONFIG_ASCII, 1, 64, NULL, &s), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.name must be a string of 1..64 printable ASCII characters");
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "spaced", BH_CONFIG_ASCII, 1, 64, NULL, &s), 0);
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "spaced", BH_CONFIG_TOKEN, 1, 64, NULL, &s), -1);
    CU_ASSERT_STRING_EQUAL(err,
                           "config.spaced must be a string of 1..64 printable characters without "
                           "spaces");
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "url", BH_CONFIG_TOKEN, 1, 512, NULL, &s), 0);
    CU_ASSERT_STRING_EQUAL(s, "https://x/y");
    /* a NUL inside would cut the string short in C: refused in every class */
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "nul", BH_CONFIG_TEXT, 1, 64, NULL, &s), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.nul must be a string of 1..64 bytes");
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "tab", BH_CONFIG_TEXT, 1, 64, NULL, &s), 0);
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "tab", BH_CONFIG_ASCII, 1, 64, NULL, &s), -1);
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "num", BH_CONFIG_TEXT, 1, 64, NULL, &s), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.num must be a string of 1..64 bytes");
}

static void test_string_bounds(void)
{
    const char *s = NULL;
    load("{\"empty\": \"\", \"four\": \"abcd\"}");
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "empty", BH_CONFIG_TEXT, 0, 4, NULL, &s), 0);
    CU_ASSERT_STRING_EQUAL(s, "");
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "empty", BH_CONFIG_TEXT, 1, 4, NULL, &s), -1);
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "four", BH_CONFIG_TOKEN, 4, 4, NULL, &s), 0);
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "four", BH_CONFIG_TOKEN, 1, 3, NULL, &s), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.four must be a string of 1..3 printable characters "
                                "without spaces");
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "four", BH_CONFIG_TOKEN, 5, 9, NULL, &s), -1);
    /* absent: the default, or NULL, or an error when required */
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "absent", BH_CONFIG_TEXT, 1, 4, "dflt", &s), 0);
    CU_ASSERT_STRING_EQUAL(s, "dflt");
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "absent", BH_CONFIG_TEXT, 1, 4, NULL, &s), 0);
    CU_ASSERT_PTR_NULL(s);
    s = "untouched";
    CU_ASSERT_EQUAL(
        bh_config_string(&cfg, "absent", BH_CONFIG_TOKEN | BH_CONFIG_REQUIRED, 1, 4, NULL, &s), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.absent is required");
    CU_ASSERT_STRING_EQUAL(s, "untouched");
    CU_ASSERT_EQUAL(bh_config_string(&cfg, "four", BH_CONFIG_TOKEN, 1, 3, "d", &s), -1);
    CU_ASSERT_STRING_EQUAL(s, "untouched");
}

static void test_string_copy(void)
{
    char *s = NULL;
    load("{\"k\": \"value\", \"bad\": 1}");
    CU_ASSERT_EQUAL(bh_config_string_copy(&cfg, "k", BH_CONFIG_TOKEN, 1, 16, NULL, &s), 0);
    CU_ASSERT_STRING_EQUAL(s, "value");
    CU_ASSERT_PTR_NOT_EQUAL(s, json_string_value(json_object_get(doc, "k")));
    free(s);
    CU_ASSERT_EQUAL(bh_config_string_copy(&cfg, "absent", BH_CONFIG_TOKEN, 1, 16, "d", &s), 0);
    CU_ASSERT_STRING_EQUAL(s, "d");
    free(s);
    CU_ASSERT_EQUAL(bh_config_string_copy(&cfg, "absent", BH_CONFIG_TOKEN, 1, 16, NULL, &s), 0);
    CU_ASSERT_PTR_NULL(s);
    s = (char *)"sentinel";
    CU_ASSERT_EQUAL(bh_config_string_copy(&cfg, "bad", BH_CONFIG_TOKEN, 1, 16, NULL, &s), -1);
    CU_ASSERT_PTR_NULL(s); /* nothing to free after an error */
}

static void test_nested(void)
{
    static const char *const emf_keys[] = {"enabled", NULL};
    bh_config_reader emf, missing;
    int b = 0;
    load("{\"emf\": {\"enabled\": \"yes\", \"extra\": 1}, \"list\": []}");
    CU_ASSERT_EQUAL(bh_config_object(&cfg, "emf", &emf), 0);
    CU_ASSERT_EQUAL(bh_config_bool(&emf, "enabled", 0, &b), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.emf.enabled must be a boolean");
    CU_ASSERT_EQUAL(bh_config_only_keys(&emf, emf_keys, NULL), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.emf.extra: unknown key");
    /* absent: every read in it yields the default */
    CU_ASSERT_EQUAL(bh_config_object(&cfg, "missing", &missing), 0);
    CU_ASSERT_PTR_NULL(missing.obj);
    CU_ASSERT_EQUAL(bh_config_bool(&missing, "enabled", 1, &b), 0);
    CU_ASSERT_EQUAL(b, 1);
    CU_ASSERT_EQUAL(bh_config_only_keys(&missing, emf_keys, NULL), 0);
    CU_ASSERT_EQUAL(bh_config_object(&cfg, "list", &missing), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.list must be an object");
}

static void test_fail_and_small_buffers(void)
{
    char small[12];
    int64_t v;
    load("{\"n\": 0}");
    CU_ASSERT_EQUAL(bh_config_fail(&cfg, "config.x %s\n%d", "needs y", 2), -1);
    CU_ASSERT_STRING_EQUAL(err, "config.x needs y?2");
    /* a message is cut to the buffer, never past it */
    CU_ASSERT_EQUAL(bh_config_begin(&cfg, doc, small, sizeof small), 0);
    CU_ASSERT_EQUAL(bh_config_int(&cfg, "n", 1, 1, 2, &v), -1);
    CU_ASSERT_STRING_EQUAL(small, "config.n mu");
    /* no buffer at all: still -1 */
    CU_ASSERT_EQUAL(bh_config_begin(&cfg, doc, NULL, 0), 0);
    CU_ASSERT_EQUAL(bh_config_int(&cfg, "n", 1, 1, 2, &v), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("sdkconfig", NULL, NULL);
    CU_add_test(s, "begin: an object, or NULL read as {}", test_begin);
    CU_add_test(s, "unknown keys are named; $comment is allowed", test_only_keys);
    CU_add_test(s, "integers in range, defaults when absent", test_int);
    CU_add_test(s, "numbers in range, integers included", test_number);
    CU_add_test(s, "booleans", test_bool);
    CU_add_test(s, "one of a list of strings", test_enum);
    CU_add_test(s, "string character classes", test_string_classes);
    CU_add_test(s, "string lengths, defaults and required", test_string_bounds);
    CU_add_test(s, "copied strings belong to the caller", test_string_copy);
    CU_add_test(s, "nested objects name their path", test_nested);
    CU_add_test(s, "plugin messages and small buffers", test_fail_and_small_buffers);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    json_decref(doc);
    return failed ? 1 : 0;
}
