/* test_sdkjson.c - bh_json_pointer (bilhetagem/http.h): RFC 6901 escaping
 * and cutting a long key at a character boundary.  Linked with
 * core/sdkjson.c alone, which proves it needs nothing else of the core. */
#include <string.h>

#include <CUnit/Basic.h>

#include <bilhetagem/http.h>

static void test_escaping(void)
{
    char out[64];
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(out, sizeof out, "", "name"), "/name");
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(out, sizeof out, "/items/0", "price"), "/items/0/price");
    /* "~" first: "~1" in a key must not read back as "/" */
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(out, sizeof out, "", "a/b~c~1"), "/a~1b~0c~01");
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(out, sizeof out, "", ""), "/"); /* the "" member */
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(out, sizeof out, NULL, "ação"), "/ação");
}

static void test_cutting(void)
{
    char out[8];
    /* "/" + 6 bytes fit; the 7th is cut */
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(out, sizeof out, "", "abcdefgh"), "/abcdef");
    /* "ã" is two bytes: never half of one */
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(out, sizeof out, "", "aããã"), "/aãã");
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(out, sizeof out, "", "abcde/"), "/abcde");
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(out, sizeof out, "", "ab😀😀"), "/ab😀");
    /* a parent too long for out is cut too, and out always ends */
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(out, sizeof out, "/items/1000", "x"), "/items/");
    char one[1];
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(one, sizeof one, "", "x"), "");
    /* a sequence cut short by the end of the string is not read past it */
    char big[16];
    CU_ASSERT_STRING_EQUAL(bh_json_pointer(big, sizeof big, "", "a\xE2\x82"), "/a\xE2\x82");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("sdkjson", NULL, NULL);
    CU_add_test(s, "member pointers are escaped as RFC 6901 says", test_escaping);
    CU_add_test(s, "long keys are cut on character boundaries", test_cutting);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
