/* test_metrics.c - CUnit tests for core/metrics.c: the exact Prometheus text
 * produced for known requests, histogram edges, label escaping, what is left
 * out, the in-flight gauge and exact totals under concurrent workers.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "metrics.h"
#include "router.h"

static const char *const templates[] = {
    "unmatched", "/healthz", "/orders/{id}", "/say/\"hi\"\\now\nthen", "/never",
};
#define N_TEMPLATES (sizeof templates / sizeof templates[0])

static bh_metrics *new_metrics(void)
{
    bh_metrics *m = bh_metrics_new(templates, N_TEMPLATES);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    return m;
}

/* Render and check the reported length matches the string. */
static char *render(const bh_metrics *m)
{
    size_t len = 12345;
    char *text = bh_metrics_render(m, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_EQUAL(len, strlen(text));
    return text;
}

/* True when `line` appears as a whole line of `text`. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

static void test_new_rejects_bad_arguments(void)
{
    const char *const with_null[] = {"unmatched", NULL};
    CU_ASSERT_PTR_NULL(bh_metrics_new(templates, 0));
    CU_ASSERT_PTR_NULL(bh_metrics_new(NULL, 3));
    CU_ASSERT_PTR_NULL(bh_metrics_new(with_null, 2));
    CU_ASSERT_PTR_NULL(bh_metrics_new(templates, SIZE_MAX / 2));
    bh_metrics_free(NULL);
}

static void test_empty_render_is_exact(void)
{
    bh_metrics *m = new_metrics();
    char *text = render(m);
    CU_ASSERT_STRING_EQUAL(text,
                           "# HELP bilhetagem_http_requests_total HTTP requests by route "
                           "template, method and status.\n"
                           "# TYPE bilhetagem_http_requests_total counter\n"
                           "# HELP bilhetagem_http_request_duration_seconds HTTP request "
                           "duration in seconds by route template and method.\n"
                           "# TYPE bilhetagem_http_request_duration_seconds histogram\n"
                           "# HELP bilhetagem_http_requests_in_flight HTTP requests currently "
                           "being handled.\n"
                           "# TYPE bilhetagem_http_requests_in_flight gauge\n"
                           "bilhetagem_http_requests_in_flight 0\n");
    free(text);
    bh_metrics_free(m);
}

static void test_one_request_render_is_exact(void)
{
    bh_metrics *m = new_metrics();
    bh_metrics_observe(m, 1, BH_M_GET, 200, 123);
    char *text = render(m);
    const char *h = "bilhetagem_http_request_duration_seconds";
    const char *l = "{route=\"/healthz\",method=\"GET\"";
    char expected[4096];
    int n = snprintf(expected, sizeof expected,
                     "# HELP bilhetagem_http_requests_total HTTP requests by route "
                     "template, method and status.\n"
                     "# TYPE bilhetagem_http_requests_total counter\n"
                     "bilhetagem_http_requests_total{route=\"/healthz\",method=\"GET\","
                     "status=\"200\"} 1\n"
                     "# HELP %s HTTP request duration in seconds by route template and "
                     "method.\n"
                     "# TYPE %s histogram\n"
                     "%s_bucket%s,le=\"0.0005\"} 1\n"
                     "%s_bucket%s,le=\"0.001\"} 1\n"
                     "%s_bucket%s,le=\"0.0025\"} 1\n"
                     "%s_bucket%s,le=\"0.005\"} 1\n"
                     "%s_bucket%s,le=\"0.01\"} 1\n"
                     "%s_bucket%s,le=\"0.025\"} 1\n"
                     "%s_bucket%s,le=\"0.05\"} 1\n"
                     "%s_bucket%s,le=\"0.1\"} 1\n"
                     "%s_bucket%s,le=\"0.25\"} 1\n"
                     "%s_bucket%s,le=\"0.5\"} 1\n"
                     "%s_bucket%s,le=\"1\"} 1\n"
                     "%s_bucket%s,le=\"2.5\"} 1\n"
                     "%s_bucket%s,le=\"5\"} 1\n"
                     "%s_bucket%s,le=\"10\"} 1\n"
                     "%s_bucket%s,le=\"+Inf\"} 1\n"
                     "%s_sum%s} 0.000123\n"
                     "%s_count%s} 1\n"
                     "# HELP bilhetagem_http_requests_in_flight HTTP requests currently "
                     "being handled.\n"
                     "# TYPE bilhetagem_http_requests_in_flight gauge\n"
                     "bilhetagem_http_requests_in_flight 0\n",
                     h, h, h, l, h, l, h, l, h, l, h, l, h, l, h, l, h, l, h, l, h, l, h, l, h, l,
                     h, l, h, l, h, l, h, l, h, l);
    CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof expected);
    CU_ASSERT_STRING_EQUAL(text, expected);
    free(text);
    bh_metrics_free(m);
}

static void test_counter_lines(void)
{
    bh_metrics *m = new_metrics();
    for (int i = 0; i < 3; i++)
        bh_metrics_observe(m, 2, BH_M_GET, 200, 1000);
    bh_metrics_observe(m, 2, BH_M_GET, 404, 1000);
    bh_metrics_observe(m, 2, BH_M_DELETE, 204, 1000);
    bh_metrics_observe(m, 2, BH_M_OPTIONS, 204, 1000);
    bh_metrics_observe(m, 1, BH_M_HEAD, 200, 10);
    char *text = render(m);
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/orders/{id}\",method=\"GET\",status=\"200\"} 3"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/orders/{id}\",method=\"GET\",status=\"404\"} 1"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/orders/{id}\",method=\"DELETE\",status=\"204\"} 1"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/orders/{id}\",method=\"OPTIONS\",status=\"204\"} 1"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/healthz\",method=\"HEAD\",status=\"200\"} 1"));
    CU_ASSERT_PTR_NULL(strstr(text, "status=\"500\""));
    free(text);
    bh_metrics_free(m);
}

/* Uncommon codes fall back to their class, nonsense to "other". */
static void test_status_fallback_slots(void)
{
    bh_metrics *m = new_metrics();
    bh_metrics_observe(m, 1, BH_M_GET, 418, 1);
    bh_metrics_observe(m, 1, BH_M_GET, 451, 1);
    bh_metrics_observe(m, 1, BH_M_GET, 507, 1);
    bh_metrics_observe(m, 1, BH_M_GET, 101, 1);
    bh_metrics_observe(m, 1, BH_M_GET, 99, 1);
    bh_metrics_observe(m, 1, BH_M_GET, 600, 1);
    bh_metrics_observe(m, 1, BH_M_GET, -1, 1);
    char *text = render(m);
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/healthz\",method=\"GET\",status=\"4xx\"} 2"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/healthz\",method=\"GET\",status=\"5xx\"} 1"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/healthz\",method=\"GET\",status=\"1xx\"} 1"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/healthz\",method=\"GET\",status=\"other\"} 3"));
    free(text);
    bh_metrics_free(m);
}

/* Bad route index counts as unmatched; a mask or unknown bit as OTHER. */
static void test_out_of_range_inputs(void)
{
    bh_metrics *m = new_metrics();
    bh_metrics_observe(m, N_TEMPLATES, BH_M_POST, 201, 5);
    bh_metrics_observe(m, (size_t)-1, BH_M_POST, 201, 5);
    bh_metrics_observe(m, 0, 0, 501, 5);
    bh_metrics_observe(m, 0, BH_M_GET | BH_M_HEAD, 501, 5);
    bh_metrics_observe(m, 0, 1u << 7, 501, 5);
    bh_metrics_observe(NULL, 0, BH_M_GET, 200, 5);
    char *text = render(m);
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"unmatched\",method=\"POST\",status=\"201\"} 2"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"unmatched\",method=\"OTHER\",status=\"501\"} 3"));
    CU_ASSERT(has_line(text, "bilhetagem_http_request_duration_seconds_count"
                             "{route=\"unmatched\",method=\"OTHER\"} 3"));
    free(text);
    CU_ASSERT_PTR_NULL(bh_metrics_render(NULL, NULL));
    bh_metrics_free(m);
}

/* An observation exactly on a bound belongs to that bucket (le is <=). */
static void test_histogram_edges(void)
{
    bh_metrics *m = new_metrics();
    const int64_t durations[] = {0, -5, 500, 501, 1000, 10000000, 10000001};
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++)
        bh_metrics_observe(m, 1, BH_M_GET, 200, durations[i]);
    char *text = render(m);
#define B(le, n)                                                                                   \
    "bilhetagem_http_request_duration_seconds_bucket"                                              \
    "{route=\"/healthz\",method=\"GET\",le=\"" le "\"} " #n
    CU_ASSERT(has_line(text, B("0.0005", 3)));
    CU_ASSERT(has_line(text, B("0.001", 5)));
    CU_ASSERT(has_line(text, B("0.0025", 5)));
    CU_ASSERT(has_line(text, B("0.5", 5)));
    CU_ASSERT(has_line(text, B("5", 5)));
    CU_ASSERT(has_line(text, B("10", 6)));
    CU_ASSERT(has_line(text, B("+Inf", 7)));
#undef B
    /* 500 + 501 + 1000 + 10000000 + 10000001 us; negatives count as 0. */
    CU_ASSERT(has_line(text, "bilhetagem_http_request_duration_seconds_sum"
                             "{route=\"/healthz\",method=\"GET\"} 20.002002"));
    CU_ASSERT(has_line(text, "bilhetagem_http_request_duration_seconds_count"
                             "{route=\"/healthz\",method=\"GET\"} 7"));
    free(text);
    bh_metrics_free(m);
}

static void test_label_escaping(void)
{
    bh_metrics *m = new_metrics();
    bh_metrics_observe(m, 3, BH_M_PUT, 409, 42);
    char *text = render(m);
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/say/\\\"hi\\\"\\\\now\\nthen\",method=\"PUT\","
                             "status=\"409\"} 1"));
    CU_ASSERT(has_line(text, "bilhetagem_http_request_duration_seconds_count"
                             "{route=\"/say/\\\"hi\\\"\\\\now\\nthen\",method=\"PUT\"} 1"));
    CU_ASSERT_PTR_NULL(strstr(text, "now\nthen"));
    free(text);
    bh_metrics_free(m);
}

static void test_unobserved_routes_absent(void)
{
    bh_metrics *m = new_metrics();
    bh_metrics_observe(m, 2, BH_M_GET, 200, 1);
    char *text = render(m);
    CU_ASSERT_PTR_NULL(strstr(text, "route=\"/never\""));
    CU_ASSERT_PTR_NULL(strstr(text, "route=\"/healthz\""));
    CU_ASSERT_PTR_NULL(strstr(text, "route=\"unmatched\""));
    CU_ASSERT_PTR_NULL(strstr(text, "method=\"POST\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "route=\"/orders/{id}\""));
    free(text);
    bh_metrics_free(m);
}

static void test_inflight_gauge(void)
{
    bh_metrics *m = new_metrics();
    CU_ASSERT_EQUAL(bh_metrics_inflight(m), 0);
    bh_metrics_inflight_add(m, 3);
    bh_metrics_inflight_add(m, -1);
    CU_ASSERT_EQUAL(bh_metrics_inflight(m), 2);
    char *text = render(m);
    CU_ASSERT(has_line(text, "# TYPE bilhetagem_http_requests_in_flight gauge"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_in_flight 2"));
    free(text);
    bh_metrics_inflight_add(m, -2);
    CU_ASSERT_EQUAL(bh_metrics_inflight(m), 0);
    bh_metrics_inflight_add(NULL, 1);
    CU_ASSERT_EQUAL(bh_metrics_inflight(NULL), 0);
    bh_metrics_free(m);
}

/* A large table renders completely (the buffer grows past its first size). */
static void test_large_render(void)
{
    enum { N = 200 };
    static char names[N][32];
    const char *tmpls[N];
    for (int i = 0; i < N; i++) {
        if (i == 0)
            snprintf(names[i], sizeof names[i], "unmatched");
        else
            snprintf(names[i], sizeof names[i], "/r/%d", i);
        tmpls[i] = names[i];
    }
    bh_metrics *m = bh_metrics_new(tmpls, N);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    for (int i = 0; i < N; i++)
        bh_metrics_observe(m, (size_t)i, BH_M_GET, 200, i);
    char *text = render(m);
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/r/199\",method=\"GET\",status=\"200\"} 1"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_in_flight 0"));
    free(text);
    bh_metrics_free(m);
}

#define THREADS 4
#define PER_THREAD 100000

static void *observe_many(void *arg)
{
    bh_metrics *m = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        bh_metrics_inflight_add(m, 1);
        bh_metrics_observe(m, 2, BH_M_POST, 201, 100);
        bh_metrics_inflight_add(m, -1);
    }
    return NULL;
}

static void test_concurrent_observe_exact(void)
{
    bh_metrics *m = new_metrics();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, observe_many, m) == 0);
    for (int i = 0; i < THREADS; i++)
        CU_ASSERT(pthread_join(t[i], NULL) == 0);
    char *text = render(m);
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_total"
                             "{route=\"/orders/{id}\",method=\"POST\",status=\"201\"} 400000"));
    CU_ASSERT(has_line(text, "bilhetagem_http_request_duration_seconds_bucket"
                             "{route=\"/orders/{id}\",method=\"POST\",le=\"0.0005\"} 400000"));
    CU_ASSERT(has_line(text, "bilhetagem_http_request_duration_seconds_count"
                             "{route=\"/orders/{id}\",method=\"POST\"} 400000"));
    CU_ASSERT(has_line(text, "bilhetagem_http_request_duration_seconds_sum"
                             "{route=\"/orders/{id}\",method=\"POST\"} 40.000000"));
    CU_ASSERT(has_line(text, "bilhetagem_http_requests_in_flight 0"));
    free(text);
    bh_metrics_free(m);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"new rejects bad arguments", test_new_rejects_bad_arguments},
        {"empty render is exact", test_empty_render_is_exact},
        {"one request render is exact", test_one_request_render_is_exact},
        {"counter lines", test_counter_lines},
        {"status fallback slots", test_status_fallback_slots},
        {"out of range inputs", test_out_of_range_inputs},
        {"histogram bucket edges", test_histogram_edges},
        {"label escaping", test_label_escaping},
        {"unobserved routes absent", test_unobserved_routes_absent},
        {"in-flight gauge", test_inflight_gauge},
        {"large render grows the buffer", test_large_render},
        {"concurrent observe is exact", test_concurrent_observe_exact},
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("metrics", NULL, NULL);
    if (!suite)
        goto fail;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            goto fail;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (CU_basic_run_tests() != CUE_SUCCESS)
        goto fail;
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
fail:
    CU_cleanup_registry();
    return 1;
}
