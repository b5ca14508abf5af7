/* test_sdkutil.c - the SDK's helpers (bilhetagem/util.h): RFC 3339 time,
 * UUIDs and random hex. */
#include <ctype.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "core.h"

static int64_t parsed(const char *s)
{
    int64_t ms = -1;
    CU_ASSERT_EQUAL_FATAL(bh_time_parse(s, &ms), 0);
    return ms;
}

static void test_time_parse(void)
{
    CU_ASSERT_EQUAL(parsed("1970-01-01T00:00:00Z"), 0);
    CU_ASSERT_EQUAL(parsed("2026-11-29T12:00:00Z"), 1795953600000LL);
    CU_ASSERT_EQUAL(parsed("2026-11-29T12:00:00.5Z"), 1795953600500LL);
    CU_ASSERT_EQUAL(parsed("2026-11-29T12:00:00.123456789Z"), 1795953600123LL);
    CU_ASSERT_EQUAL(parsed("2026-11-29T09:00:00-03:00"), 1795953600000LL);
    CU_ASSERT_EQUAL(parsed("2026-11-29t12:30:00+00:30"), 1795953600000LL);
    CU_ASSERT_EQUAL(parsed("2028-02-29T00:00:00Z"), 1835395200000LL); /* a leap day */
}

static void test_time_parse_refuses(void)
{
    static const char *const bad[] = {"",
                                      "2026-11-29",
                                      "2026-11-29T12:00:00",
                                      "2026-11-29 12:00:00Z",
                                      "2026-13-01T00:00:00Z",
                                      "2026-02-29T00:00:00Z",
                                      "2026-04-31T00:00:00Z",
                                      "2026-11-29T24:00:00Z",
                                      "2026-11-29T12:60:00Z",
                                      "2026-11-29T12:00:60Z",
                                      "2026-11-29T12:00:00.Z",
                                      "2026-11-29T12:00:00.1234567890Z",
                                      "2026-11-29T12:00:00+3:00",
                                      "2026-11-29T12:00:00Zjunk",
                                      "26-11-29T12:00:00Z",
                                      "2026-11-29T12:00:00+24:00",
                                      NULL};
    for (size_t i = 0; bad[i]; i++) {
        int64_t ms = 42;
        if (bh_time_parse(bad[i], &ms) != -1)
            CU_FAIL(bad[i]);
    }
    CU_ASSERT_EQUAL(bh_time_parse(NULL, NULL), -1);
}

static void test_time_format(void)
{
    char out[32];
    bh_time_format(0, out);
    CU_ASSERT_STRING_EQUAL(out, "1970-01-01T00:00:00.000Z");
    bh_time_format(1795953600123LL, out);
    CU_ASSERT_STRING_EQUAL(out, "2026-11-29T12:00:00.123Z");
    bh_time_format(-1, out); /* floors, never "-0.001" */
    CU_ASSERT_STRING_EQUAL(out, "1969-12-31T23:59:59.999Z");
    bh_time_format(-59011459200000LL, out); /* year 100: four digits, parses back */
    CU_ASSERT_STRING_EQUAL(out, "0100-01-01T00:00:00.000Z");
    CU_ASSERT_EQUAL(parsed(out), -59011459200000LL);
    /* format and parse agree */
    CU_ASSERT_EQUAL(parsed("2026-11-29T12:00:00.123Z"), 1795953600123LL);
    int64_t now = bh_time_ms();
    bh_time_format(now, out);
    CU_ASSERT_EQUAL(parsed(out), now);
}

static void test_uuid(void)
{
    char a[37], b[37];
    bh_uuid(a);
    bh_uuid(b);
    CU_ASSERT_EQUAL(strlen(a), 36);
    CU_ASSERT(strcmp(a, b) != 0);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            CU_ASSERT_EQUAL(a[i], '-');
        } else {
            CU_ASSERT(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
        }
    }
    CU_ASSERT_EQUAL(a[14], '4');              /* version 4 */
    CU_ASSERT(strchr("89ab", a[19]) != NULL); /* RFC 4122 variant */
}

static void test_random_hex(void)
{
    char a[65], b[65];
    CU_ASSERT_EQUAL(bh_random_hex(a, 16), 0);
    CU_ASSERT_EQUAL(bh_random_hex(b, 16), 0);
    CU_ASSERT_EQUAL(strlen(a), 32);
    CU_ASSERT(strcmp(a, b) != 0);
    CU_ASSERT_EQUAL(strspn(a, "0123456789abcdef"), 32);
    char big[200];
    CU_ASSERT_EQUAL(bh_random_hex(big, 65), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("sdkutil", NULL, NULL);
    CU_add_test(s, "RFC 3339 parses to epoch milliseconds", test_time_parse);
    CU_add_test(s, "anything else is refused", test_time_parse_refuses);
    CU_add_test(s, "formatting is UTC with milliseconds", test_time_format);
    CU_add_test(s, "UUIDs are version 4 and differ", test_uuid);
    CU_add_test(s, "random hex", test_random_hex);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
