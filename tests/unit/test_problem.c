/* test_problem.c - RFC 9457 problem objects and reason phrases. */
#include <string.h>

#include <CUnit/Basic.h>

#include "core.h"

static void test_problem_shape(void)
{
    json_t *p = bh_problem_new(404, "not-found", NULL, "no order 7", "req-1");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "type")),
                           "https://bilhetagem.dev/problems/not-found");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "title")), "Not Found");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(p, "status")), 404);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "detail")), "no order 7");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "instance")), "req-1");
    CU_ASSERT_EQUAL(json_object_size(p), 5);
    json_decref(p);
}

static void test_problem_optional_fields(void)
{
    json_t *p = bh_problem_new(409, "conflict", "Seats gone", NULL, NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "title")), "Seats gone");
    CU_ASSERT_PTR_NULL(json_object_get(p, "detail"));
    CU_ASSERT_PTR_NULL(json_object_get(p, "instance"));
    json_decref(p);
}

static void test_problem_invalid_utf8_detail(void)
{
    json_t *p = bh_problem_new(400, "validation", NULL, "bad \xff byte", "r");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "detail")),
                           "(detail not valid UTF-8)");
    json_decref(p);
}

static void test_reasons(void)
{
    CU_ASSERT_STRING_EQUAL(bh_status_reason(413), "Content Too Large");
    CU_ASSERT_STRING_EQUAL(bh_status_reason(431), "Request Header Fields Too Large");
    CU_ASSERT_STRING_EQUAL(bh_status_reason(422), "Unprocessable Content");
    CU_ASSERT_STRING_EQUAL(bh_status_reason(499), "Client Error");
    CU_ASSERT_STRING_EQUAL(bh_status_reason(599), "Server Error");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("problem", NULL, NULL);
    CU_add_test(s, "problem+json has the RFC 9457 members", test_problem_shape);
    CU_add_test(s, "detail and instance are optional", test_problem_optional_fields);
    CU_add_test(s, "invalid UTF-8 detail never breaks the body", test_problem_invalid_utf8_detail);
    CU_add_test(s, "reason phrases", test_reasons);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
