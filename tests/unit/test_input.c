/* test_input.c - the shape checks on client input (core/input.c): JSON
 * depth, JSON media types, X-Request-Id and Idempotency-Key. */
#include <string.h>

#include <CUnit/Basic.h>

#include "input.h"

static json_t *load(const char *text)
{
    json_error_t e;
    return json_loads(text, JSON_DECODE_ANY, &e);
}

static int exceeds(const char *text, int max)
{
    json_t *j = load(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    int r = bh_json_depth_exceeds(j, max);
    json_decref(j);
    return r;
}

static void test_depth_counts_containers(void)
{
    CU_ASSERT_FALSE(exceeds("[]", 1));
    CU_ASSERT_TRUE(exceeds("[[]]", 1));
    CU_ASSERT_FALSE(exceeds("[[1]]", 2));
    CU_ASSERT_FALSE(exceeds("{\"a\": {\"b\": 1}}", 2));
    CU_ASSERT_TRUE(exceeds("{\"a\": {\"b\": {}}}", 2));
    CU_ASSERT_FALSE(exceeds("\"scalar\"", 1));
    CU_ASSERT_FALSE(exceeds("[1, \"two\", null, true]", 1));
}

static void test_depth_finds_the_deep_branch(void)
{
    /* the deep container is the last member of a wide object */
    CU_ASSERT_TRUE(exceeds("{\"a\": 1, \"b\": [], \"c\": [[[[]]]]}", 4));
    CU_ASSERT_FALSE(exceeds("{\"a\": 1, \"b\": [], \"c\": [[[[]]]]}", 5));
}

static void test_depth_nonpositive_limit(void)
{
    /* a limit of 0 (or a negative one) admits no container at all */
    CU_ASSERT_TRUE(exceeds("{}", 0));
    CU_ASSERT_TRUE(exceeds("[]", -3));
    CU_ASSERT_FALSE(exceeds("42", 0));
}

static void test_json_types(void)
{
    CU_ASSERT_TRUE(bh_is_json_type("application/json"));
    CU_ASSERT_TRUE(bh_is_json_type("Application/JSON; charset=utf-8"));
    CU_ASSERT_TRUE(bh_is_json_type("application/json ;charset=utf-8"));
    CU_ASSERT_TRUE(bh_is_json_type("application/merge-patch+json"));
    CU_ASSERT_TRUE(bh_is_json_type("application/problem+json; q=1"));
    CU_ASSERT_FALSE(bh_is_json_type(NULL));
    CU_ASSERT_FALSE(bh_is_json_type(""));
    CU_ASSERT_FALSE(bh_is_json_type("text/json"));
    CU_ASSERT_FALSE(bh_is_json_type("application/jsonp"));
    CU_ASSERT_FALSE(bh_is_json_type("application/+json")); /* no subtype before +json */
    CU_ASSERT_FALSE(bh_is_json_type("text/plain+json"));
}

static void test_request_ids(void)
{
    char id[130];
    CU_ASSERT_TRUE(bh_request_id_ok("req-01HZ.abc_def:42"));
    CU_ASSERT_FALSE(bh_request_id_ok(NULL));
    CU_ASSERT_FALSE(bh_request_id_ok(""));
    CU_ASSERT_FALSE(bh_request_id_ok("has space"));
    CU_ASSERT_FALSE(bh_request_id_ok("quote\"d"));
    CU_ASSERT_FALSE(bh_request_id_ok("caf\xc3\xa9"));
    memset(id, 'a', 128);
    id[128] = '\0';
    CU_ASSERT_TRUE(bh_request_id_ok(id));
    id[128] = 'a';
    id[129] = '\0';
    CU_ASSERT_FALSE(bh_request_id_ok(id)); /* 129 characters */
}

static void test_idempotency_keys(void)
{
    char key[258];
    CU_ASSERT_TRUE(bh_idempotency_key_ok("8e0f6b5c-6f3a-4f0e-9a7b-1c2d3e4f5a6b"));
    CU_ASSERT_TRUE(bh_idempotency_key_ok("!~"));
    CU_ASSERT_FALSE(bh_idempotency_key_ok(NULL));
    CU_ASSERT_FALSE(bh_idempotency_key_ok(""));
    CU_ASSERT_FALSE(bh_idempotency_key_ok("with space"));
    CU_ASSERT_FALSE(bh_idempotency_key_ok("tab\there"));
    CU_ASSERT_FALSE(bh_idempotency_key_ok("del\x7f"));
    CU_ASSERT_FALSE(bh_idempotency_key_ok("caf\xc3\xa9"));
    memset(key, 'k', 255);
    key[255] = '\0';
    CU_ASSERT_TRUE(bh_idempotency_key_ok(key));
    key[255] = 'k';
    key[256] = '\0';
    CU_ASSERT_FALSE(bh_idempotency_key_ok(key)); /* 256 characters */
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("input", NULL, NULL);
    CU_add_test(s, "JSON depth counts containers, not scalars", test_depth_counts_containers);
    CU_add_test(s, "JSON depth finds the deepest branch", test_depth_finds_the_deep_branch);
    CU_add_test(s, "a limit of 0 or less admits no container", test_depth_nonpositive_limit);
    CU_add_test(s, "application/json and +json media types", test_json_types);
    CU_add_test(s, "X-Request-Id: 1-128 of [A-Za-z0-9._:-]", test_request_ids);
    CU_add_test(s, "Idempotency-Key: 1-255 printable ASCII", test_idempotency_keys);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
