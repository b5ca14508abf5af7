/* test_accesslog.c - CUnit tests for core/accesslog.c: the line a record
 * becomes, and that no line is lost or doubled whether it went through a
 * ring or, the ring being full, through the worker's own encoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <jansson.h>

#include "accesslog.h"
#include "config.h"
#include "core.h"

static char log_path[64];

/* The log stream goes to one temporary file (opened once: the log module
 * never closes its stream); each test starts it empty. */
static void log_to_temp_file(void)
{
    static int opened;
    if (!opened) {
        snprintf(log_path, sizeof log_path, "/tmp/test_accesslog.XXXXXX");
        int fd = mkstemp(log_path);
        CU_ASSERT_FATAL(fd >= 0);
        close(fd);
        bh_config cfg = {0};
        cfg.file = log_path;
        cfg.log_file = log_path;
        char err[256];
        CU_ASSERT_EQUAL_FATAL(bh_log_open(&cfg, err, sizeof err), 0);
        opened = 1;
    }
    CU_ASSERT_EQUAL_FATAL(truncate(log_path, 0), 0); /* appends start over at 0 */
}

/* Every line of the log file, parsed; *n set. */
static json_t **read_lines(size_t *n)
{
    FILE *f = fopen(log_path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t cap = 1024, len = 0;
    json_t **lines = malloc(cap * sizeof *lines);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lines);
    char buf[4096];
    while (fgets(buf, sizeof buf, f)) {
        if (len == cap) {
            json_t **grown = realloc(lines, (cap *= 2) * sizeof *lines);
            CU_ASSERT_PTR_NOT_NULL_FATAL(grown);
            lines = grown;
        }
        json_error_t e;
        lines[len] = json_loads(buf, 0, &e);
        CU_ASSERT_PTR_NOT_NULL(lines[len]);
        len++;
    }
    fclose(f);
    *n = len;
    return lines;
}

static void free_lines(json_t **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(lines[i]);
    free(lines);
}

static void fill(bh_access_rec *r, unsigned i, const char *route)
{
    r->time.tv_sec = 1796032800; /* 2026-11-30T10:00:00Z */
    r->time.tv_nsec = 123456789;
    r->duration_us = 1500;
    r->bytes_in = 7;
    r->bytes_out = 16;
    r->method = "GET";
    r->route = route;
    r->status = 200;
    snprintf(r->request_id, sizeof r->request_id, "req-%u", i);
    snprintf(r->client, sizeof r->client, "127.0.0.1");
    r->trace_id[0] = '\0';
}

static void test_line_fields(void)
{
    log_to_temp_file();
    bh_access_encoder e = {0};
    bh_access_rec r;
    fill(&r, 1, "/orders/{id}");
    snprintf(r.trace_id, sizeof r.trace_id, "1-5759e988-bd862e3fe1be46a994272793");
    bh_access_encode(&e, &r);
    fill(&r, 2, NULL); /* no route: null, and no trace: no trace_id */
    bh_access_encode(&e, &r);
    fill(&r, 3, "/orders/{id}");
    bh_access_encode(&e, &r);
    fill(&r, 4, "/bad/\xff"); /* refused by jansson: null, not line 3's route */
    bh_access_encode(&e, &r);
    bh_access_encoder_free(&e);

    size_t n;
    json_t **lines = read_lines(&n);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    json_t *l = lines[0];
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(l, "time")),
                           "2026-11-30T10:00:00.123Z");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(l, "type")), "access");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(l, "level")), "info");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(l, "request_id")), "req-1");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(l, "method")), "GET");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(l, "route")), "/orders/{id}");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(l, "status")), 200);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(l, "duration_ms")), 1.5, 1e-9);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(l, "bytes_in")), 7);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(l, "bytes_out")), 16);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(l, "client")), "127.0.0.1");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(l, "trace_id")),
                           "1-5759e988-bd862e3fe1be46a994272793");
    CU_ASSERT_TRUE(json_is_null(json_object_get(lines[1], "route")));
    CU_ASSERT_PTR_NULL(json_object_get(lines[1], "trace_id"));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(lines[2], "route")), "/orders/{id}");
    CU_ASSERT_TRUE(json_is_null(json_object_get(lines[3], "route")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(lines[3], "request_id")), "req-4");
    free_lines(lines, n);
}

/* A producer much faster than the thread: the ring fills, the overflow is
 * encoded on the producer's side, and stopping drains the rest.  Each line
 * is written exactly once, whichever way it went. */
static void test_every_line_once(void)
{
    enum { LINES = 3 * BH_ACCESS_RING_SLOTS };
    log_to_temp_file();
    char err[256];
    bh_accesslog *lg = bh_accesslog_start(2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lg);
    bh_access_ring *ring = bh_accesslog_ring(lg, 1);
    bh_access_encoder own = {0};
    unsigned long overflowed = 0;
    for (unsigned i = 0; i < LINES; i++) {
        bh_access_rec mine, *r = bh_access_reserve(ring);
        fill(r ? r : &mine, i, "/healthz");
        if (r) {
            bh_access_commit(ring);
        } else {
            bh_access_encode(&own, &mine);
            overflowed++;
        }
    }
    /* 12 288 records take the producer well under a millisecond; the thread
     * encodes one in a microsecond or two: the ring has filled. */
    CU_ASSERT(overflowed > 0);
    CU_ASSERT_EQUAL(bh_accesslog_overflows(lg), overflowed);
    bh_access_encoder_free(&own);
    bh_accesslog_stop(lg);

    size_t n;
    json_t **lines = read_lines(&n);
    CU_ASSERT_EQUAL_FATAL(n, LINES);
    char *seen = calloc(LINES, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned id = 0;
        const char *rid = json_string_value(json_object_get(lines[i], "request_id"));
        CU_ASSERT_FATAL(rid && sscanf(rid, "req-%u", &id) == 1 && id < LINES);
        CU_ASSERT_EQUAL(seen[id], 0);
        seen[id] = 1;
    }
    free(seen);
    free_lines(lines, n);
}

static void test_stop_without_lines(void)
{
    char err[256];
    bh_accesslog *lg = bh_accesslog_start(1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lg);
    CU_ASSERT_EQUAL(bh_accesslog_overflows(lg), 0);
    bh_accesslog_stop(lg);
    bh_accesslog_stop(NULL); /* a no-op */
    CU_ASSERT_EQUAL(bh_accesslog_overflows(NULL), 0);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"a record's line has every field", test_line_fields},
        {"every line is written once, through the ring or not", test_every_line_once},
        {"stop with nothing queued", test_stop_without_lines},
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("accesslog", NULL, NULL);
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
    if (log_path[0])
        unlink(log_path);
    return failed ? 1 : 0;
fail:
    CU_cleanup_registry();
    return 1;
}
