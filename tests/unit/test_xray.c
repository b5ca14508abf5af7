/* test_xray.c - the xray-tracing plugin's logic without a server: the
 * trace header (the SDK's parser), sampling on a fake clock, X-Ray id
 * formats, segment documents, the UDP framing and splitting (to a socket of
 * the test's own), the EMF lines and the config.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "xray.h"

static const char ROOT[] = "1-5759e988-bd862e3fe1be46a994272793";

/* ---- the header ---------------------------------------------------------------- */

static void test_header_parse(void)
{
    bh_trace_ctx c;
    CU_ASSERT_EQUAL(
        bh_trace_header_parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                              "Sampled=1",
                              &c),
        0);
    CU_ASSERT_STRING_EQUAL(c.root, ROOT);
    CU_ASSERT_STRING_EQUAL(c.parent, "53995c3f42cd8ad8");
    CU_ASSERT_EQUAL(c.sampled, 1);

    /* case, spaces, order, unknown fields, undecided */
    CU_ASSERT_EQUAL(bh_trace_header_parse(" Sampled=? ; Lineage=a:1 ;Parent=53995C3F42CD8AD8; "
                                          "Root=1-5759E988-BD862E3FE1BE46A994272793",
                                          &c),
                    0);
    CU_ASSERT_STRING_EQUAL(c.root, ROOT);
    CU_ASSERT_STRING_EQUAL(c.parent, "53995c3f42cd8ad8");
    CU_ASSERT_EQUAL(c.sampled, -1);

    CU_ASSERT_EQUAL(bh_trace_header_parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0", &c),
                    0);
    CU_ASSERT_EQUAL(c.sampled, 0);
    CU_ASSERT_STRING_EQUAL(c.parent, "");

    /* a bad Parent is dropped, the trace still joins */
    CU_ASSERT_EQUAL(bh_trace_header_parse(
                        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz;Sampled=yes", &c),
                    0);
    CU_ASSERT_STRING_EQUAL(c.parent, "");
    CU_ASSERT_EQUAL(c.sampled, -1);
}

static void test_header_refused(void)
{
    static const char *const bad[] = {
        "",
        "Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=2-5759e988-bd862e3fe1be46a994272793",
        "Root=1-5759e988-bd862e3fe1be46a99427279",
        "Root=1-5759e988-bd862e3fe1be46a9942727933",
        "Root=1-5759e98g-bd862e3fe1be46a994272793",
        "Root=1_5759e988_bd862e3fe1be46a994272793",
        "root=1-5759e988-bd862e3fe1be46a994272793",
        ";;;=;Root=;Root",
    };
    bh_trace_ctx c;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bh_trace_header_parse(bad[i], &c) != -1)
            CU_FAIL(bad[i]);
        CU_ASSERT_STRING_EQUAL(c.root, "");
        CU_ASSERT_EQUAL(c.sampled, -1);
    }
    CU_ASSERT_EQUAL(bh_trace_header_parse(NULL, &c), -1);
    char big[400];
    snprintf(big, sizeof big, "Root=%s;%0300d", ROOT, 0);
    CU_ASSERT_EQUAL(bh_trace_header_parse(big, &c), -1); /* over BH_TRACE_HEADER_MAX */
}

static void test_header_format(void)
{
    bh_trace_ctx c = {.sampled = 1};
    strcpy(c.root, ROOT);
    strcpy(c.parent, "53995c3f42cd8ad8");
    char out[BH_TRACE_HEADER_MAX];
    CU_ASSERT_EQUAL(bh_trace_header_format(&c, out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(
        out, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
    c.parent[0] = '\0';
    c.sampled = 0;
    CU_ASSERT_EQUAL(bh_trace_header_format(&c, out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
    c.sampled = -1;
    CU_ASSERT_EQUAL(bh_trace_header_format(&c, out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "Root=1-5759e988-bd862e3fe1be46a994272793");
    CU_ASSERT_EQUAL(bh_trace_header_format(&c, out, 20), -1); /* refuses, never truncates */
    c.root[0] = '\0';
    CU_ASSERT_EQUAL(bh_trace_header_format(&c, out, sizeof out), -1);
}

/* ---- sampling on a fake clock -------------------------------------------------- */

static void test_sampling_default_rule(void)
{
    xr_sampler s;
    xr_sampler_init(&s, 1, 0.05); /* X-Ray's default */
    /* the reservoir: the first request of a second, whatever the dice say */
    CU_ASSERT_EQUAL(xr_sample(&s, 10000, 0.99), 1);
    /* then 5% of the rest: a draw below 0.05 is traced, one above is not */
    CU_ASSERT_EQUAL(xr_sample(&s, 10100, 0.99), 0);
    CU_ASSERT_EQUAL(xr_sample(&s, 10500, 0.049), 1);
    CU_ASSERT_EQUAL(xr_sample(&s, 10999, 0.05), 0);
    /* a new second refills the reservoir */
    CU_ASSERT_EQUAL(xr_sample(&s, 11000, 0.99), 1);
    CU_ASSERT_EQUAL(xr_sample(&s, 11001, 0.99), 0);
    /* 1000 requests in one second with uniform draws: 1 + 5% of 999 */
    int traced = 0;
    for (int i = 0; i < 1000; i++)
        traced += xr_sample(&s, 20000 + i % 1000, (i + 0.5) / 1000.0);
    CU_ASSERT_EQUAL(traced, 1 + 50 - 1); /* draw 0 went to the reservoir */
    xr_sampler_destroy(&s);
}

static void test_sampling_configured(void)
{
    xr_sampler s;
    xr_sampler_init(&s, 3, 0.0);
    int traced = 0;
    for (int i = 0; i < 10; i++)
        traced += xr_sample(&s, 5000 + i, 0.0);
    CU_ASSERT_EQUAL(traced, 3); /* rate 0: the reservoir only */
    xr_sampler_destroy(&s);

    xr_sampler_init(&s, 0, 0.0);
    CU_ASSERT_EQUAL(xr_sample(&s, 1, 0.0), 0); /* tracing nothing */
    xr_sampler_destroy(&s);

    xr_sampler_init(&s, 0, 1.0);
    for (int i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(xr_sample(&s, 7, 0.999999), 1); /* everything */
    xr_sampler_destroy(&s);

    xr_sampler_init(&s, 1, 0.0); /* seconds before the epoch count too */
    CU_ASSERT_EQUAL(xr_sample(&s, -1500, 0.5), 1);
    CU_ASSERT_EQUAL(xr_sample(&s, -1001, 0.5), 0);
    CU_ASSERT_EQUAL(xr_sample(&s, -1000, 0.5), 1);
    xr_sampler_destroy(&s);
}

/* ---- ids ---------------------------------------------------------------------- */

static int all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

static void test_ids(void)
{
    char t[36], a[17], b[17];
    xr_trace_id(t, 0x5759e988);
    CU_ASSERT_EQUAL(strlen(t), 35);
    CU_ASSERT_NSTRING_EQUAL(t, "1-5759e988-", 11);
    CU_ASSERT(all_hex(t + 11, 24));
    bh_trace_ctx c;
    CU_ASSERT_EQUAL(bh_trace_header_parse("Root=1-00000000-000000000000000000000000", &c), 0);
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Root=%s", t);
    CU_ASSERT_EQUAL(bh_trace_header_parse(hdr, &c), 0); /* the SDK accepts what we make */
    xr_segment_id(a);
    xr_segment_id(b);
    CU_ASSERT_EQUAL(strlen(a), 16);
    CU_ASSERT(all_hex(a, 16));
    CU_ASSERT(strcmp(a, b) != 0);
    double u = xr_rand01();
    CU_ASSERT(u >= 0.0 && u < 1.0);
    CU_ASSERT(fabs(xr_now() - (double)time(NULL)) < 2.0);
}

/* ---- segments ------------------------------------------------------------------- */

static const char *str_at(json_t *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && cur;
         k = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, k);
    return json_string_value(cur);
}

static void test_segment_tree(void)
{
    bh_span *seg = xr_segment_new("svc", ROOT, "53995c3f42cd8ad8", "AWS::ECS::Container", 3, 100.0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(seg);
    CU_ASSERT_STRING_EQUAL(str_at(seg->doc, "trace_id"), ROOT);
    CU_ASSERT_STRING_EQUAL(str_at(seg->doc, "parent_id"), "53995c3f42cd8ad8");
    CU_ASSERT_STRING_EQUAL(str_at(seg->doc, "origin"), "AWS::ECS::Container");
    bh_span *a = xr_span_open(seg, "GET /orders/{id}", "remote", 100.1);
    bh_span *b = xr_span_open(a, "sqlite", "remote", 100.2);
    CU_ASSERT_STRING_EQUAL(str_at(a->doc, "name"), "GET /orders/_id_"); /* X-Ray's charset */
    CU_ASSERT_STRING_EQUAL(str_at(a->doc, "namespace"), "remote");
    CU_ASSERT_PTR_EQUAL(xr_root(b), seg);
    CU_ASSERT_EQUAL(xr_annotate(b, "order_id", "o-1"), 0); /* lands on the segment */
    CU_ASSERT_STRING_EQUAL(str_at(seg->doc, "annotations.order_id"), "o-1");
    CU_ASSERT_EQUAL(xr_annotate(b, "bad-key", "x"), -1);
    CU_ASSERT_EQUAL(xr_annotate(b, "", "x"), -1);
    /* closing a span closes what is still open under it */
    xr_span_close(a, 100.5);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(b->doc, "end_time")), 100.5, 1e-9);
    CU_ASSERT_FALSE(b->open);
    xr_span_open(seg, "c", NULL, 100.6);
    CU_ASSERT_PTR_NULL(xr_span_open(seg, "over", NULL, 100.7)); /* max_subsegments 3 */
    CU_ASSERT_EQUAL(xr_dropped(seg), 1);
    xr_span_close(seg, 101.0);
    CU_ASSERT_EQUAL(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(seg->doc, "metadata"), "xray"), "dropped_subsegments")),
        1);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(seg->doc, "subsegments")), 2);
    xr_segment_free(seg);
}

static int flag(const bh_span *s, const char *k)
{
    return json_is_true(json_object_get(s->doc, k));
}

static void test_status_flags(void)
{
    static const struct {
        int status, fault_in, error, throttle, fault;
    } cases[] = {
        {200, 0, 0, 0, 0}, {302, 0, 0, 0, 0}, {404, 0, 1, 0, 0},
        {429, 0, 1, 1, 0}, {503, 0, 0, 0, 1}, {0, 1, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bh_span *seg = xr_segment_new("svc", ROOT, NULL, NULL, 10, 1.0);
        bh_span *sub = xr_span_open(seg, "gw", "remote", 1.0);
        xr_span_status(seg, cases[i].status, cases[i].fault_in);
        xr_span_status(sub, cases[i].status, cases[i].fault_in);
        CU_ASSERT_EQUAL(flag(seg, "error"), cases[i].error);
        CU_ASSERT_EQUAL(flag(seg, "throttle"), cases[i].throttle);
        CU_ASSERT_EQUAL(flag(seg, "fault"), cases[i].fault);
        /* the segment states all three; a subsegment only what is true */
        CU_ASSERT_PTR_NOT_NULL(json_object_get(seg->doc, "error"));
        CU_ASSERT_EQUAL(json_object_get(sub->doc, "error") != NULL, cases[i].error);
        CU_ASSERT_EQUAL(flag(sub, "fault"), cases[i].fault);
        json_t *st = json_object_get(json_object_get(json_object_get(seg->doc, "http"), "response"),
                                     "status");
        CU_ASSERT_EQUAL(st != NULL, cases[i].status > 0);
        xr_segment_free(seg);
    }
}

static void test_set_str_bounds(void)
{
    json_t *o = json_object();
    CU_ASSERT_EQUAL(xr_set_str(o, "a", "h\xc3\xa9llo", 2), 0); /* never cuts é in half */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "a")), "h");
    CU_ASSERT_EQUAL(xr_set_str(o, "b", "bad \xff utf-8", 100), -1);
    CU_ASSERT_PTR_NULL(json_object_get(o, "b"));
    json_decref(o);
}

/* ---- UDP -------------------------------------------------------------------------- */

static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    *port = ntohs(a.sin_port);
    return fd;
}

/* One datagram: checks the header line, returns the document (or NULL). */
static json_t *receive(int fd, size_t *size)
{
    static char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    *size = (size_t)n;
    char *nl = strchr(buf, '\n');
    if (!nl)
        return NULL;
    json_error_t e;
    json_t *h = json_loadb(buf, (size_t)(nl - buf), 0, &e);
    int ok = h && !strcmp(json_string_value(json_object_get(h, "format")), "json") &&
             json_integer_value(json_object_get(h, "version")) == 1;
    json_decref(h);
    return ok ? json_loads(nl + 1, 0, &e) : NULL;
}

static void test_emit_one_datagram(void)
{
    int port, fd = listener(&port);
    CU_ASSERT_FATAL(fd >= 0);
    char addr[64], err[256];
    snprintf(addr, sizeof addr, "udp:127.0.0.1:%d tcp:127.0.0.1:%d", port, port);
    xr_emitter e;
    CU_ASSERT_EQUAL_FATAL(xr_emitter_open(&e, addr, XR_DATAGRAM_DEFAULT, err, sizeof err), 0);
    bh_span *seg = xr_segment_new("svc", ROOT, NULL, NULL, 10, 1.0);
    xr_span_close(xr_span_open(seg, "sqlite", "remote", 1.1), 1.2);
    xr_span_close(seg, 2.0);
    CU_ASSERT_EQUAL(xr_emit(&e, seg), 1);
    size_t size;
    json_t *doc = receive(fd, &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    CU_ASSERT_STRING_EQUAL(str_at(doc, "id"), xr_span_id(seg));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(doc, "subsegments")), 1);
    json_decref(doc);
    xr_segment_free(seg);
    xr_emitter_close(&e);
    close(fd);
}

static void test_emit_splits(void)
{
    int port, fd = listener(&port);
    CU_ASSERT_FATAL(fd >= 0);
    char addr[64], err[256];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    xr_emitter e;
    CU_ASSERT_EQUAL_FATAL(xr_emitter_open(&e, addr, 1024, err, sizeof err), 0);
    bh_span *seg = xr_segment_new("svc", ROOT, NULL, NULL, 100, 1.0);
    bh_span *outer = xr_span_open(seg, "publish", NULL, 1.0);
    char sql[300];
    memset(sql, 'x', sizeof sql - 1);
    sql[sizeof sql - 1] = '\0';
    for (int i = 0; i < 6; i++) { /* 6 x 300 bytes: over 1024 twice over */
        bh_span *s = xr_span_open(outer, "sqlite", "remote", 1.1);
        xr_set_str(s->doc, "sql_text", sql, sizeof sql);
        xr_span_close(s, 1.2);
    }
    xr_span_close(seg, 2.0);
    int sent = xr_emit(&e, seg);
    CU_ASSERT_EQUAL(sent, 6 + 1 + 1); /* 6 statements, outer, segment */
    int subsegments = 0, segments = 0, children_of_outer = 0;
    for (int i = 0; i < sent; i++) {
        size_t size = 0;
        json_t *doc = receive(fd, &size);
        CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
        CU_ASSERT(size <= 1024);
        CU_ASSERT_PTR_NULL(json_object_get(doc, "subsegments")); /* all split off */
        const char *type = str_at(doc, "type");
        if (type && !strcmp(type, "subsegment")) {
            subsegments++;
            CU_ASSERT_STRING_EQUAL(str_at(doc, "trace_id"), ROOT);
            const char *parent = str_at(doc, "parent_id");
            CU_ASSERT_PTR_NOT_NULL_FATAL(parent);
            children_of_outer += !strcmp(parent, xr_span_id(outer));
            if (!strcmp(str_at(doc, "id"), xr_span_id(outer)))
                CU_ASSERT_STRING_EQUAL(parent, xr_span_id(seg));
        } else {
            segments++;
            CU_ASSERT_STRING_EQUAL(str_at(doc, "id"), xr_span_id(seg));
        }
        json_decref(doc);
    }
    CU_ASSERT_EQUAL(segments, 1);
    CU_ASSERT_EQUAL(subsegments, 7);
    CU_ASSERT_EQUAL(children_of_outer, 6);
    /* the tree itself is untouched: it can still be read or sent again */
    CU_ASSERT_EQUAL(json_array_size(json_object_get(seg->doc, "subsegments")), 1);
    xr_segment_free(seg);
    xr_emitter_close(&e);
    close(fd);
}

static void test_emitter_addresses(void)
{
    xr_emitter e;
    char err[256];
    static const char *const good[] = {"127.0.0.1:2000", "udp:127.0.0.1:2000 tcp:127.0.0.1:2001",
                                       "tcp:127.0.0.1:2001 udp:127.0.0.1:2000", "[::1]:2000",
                                       "localhost:2000"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (xr_emitter_open(&e, good[i], 1024, err, sizeof err) != 0)
            CU_FAIL(good[i]);
        xr_emitter_close(&e);
    }
    static const char *const bad[] = {"",
                                      "127.0.0.1",
                                      "127.0.0.1:",
                                      ":2000",
                                      "127.0.0.1:http",
                                      "127.0.0.1:70000",
                                      "tcp:127.0.0.1:2000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (xr_emitter_open(&e, bad[i], 1024, err, sizeof err) != -1)
            CU_FAIL(bad[i]);
        xr_emitter_close(&e);
    }
}

/* ---- EMF ---------------------------------------------------------------------------- */

static int64_t fake_orders = 5;

static void fake_counters(bh_counter_visit_fn fn, void *arg)
{
    fn("orders_created", "help", fake_orders, arg);
    fn("payments_declined", "help", 0, arg);
}

static json_t *lines[16];
static size_t nlines;

static void collect(json_t *line, void *arg)
{
    (void)arg;
    if (nlines < 16)
        lines[nlines++] = line;
    else
        json_decref(line);
}

static void drop_lines(void)
{
    for (size_t i = 0; i < nlines; i++)
        json_decref(lines[i]);
    nlines = 0;
}

static json_t *line_for(const char *route)
{
    for (size_t i = 0; i < nlines; i++) {
        const char *r = str_at(lines[i], "Route");
        if (route && r && !strcmp(r, route))
            return lines[i];
    }
    return NULL;
}

/* A service line (no Route) carrying `metric`. */
static json_t *service_line_with(const char *metric)
{
    for (size_t i = 0; i < nlines; i++)
        if (!str_at(lines[i], "Route") && json_object_get(lines[i], metric))
            return lines[i];
    return NULL;
}

/* The _aws directive in the documented shape, naming exactly `names`. */
static void check_directive(json_t *line, int64_t ts, const char *dims, const char *const *names)
{
    json_t *aws = json_object_get(line, "_aws");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(aws, "Timestamp")), ts);
    json_t *cwm = json_object_get(aws, "CloudWatchMetrics");
    CU_ASSERT_EQUAL_FATAL(json_array_size(cwm), 1);
    json_t *d = json_array_get(cwm, 0);
    CU_ASSERT_STRING_EQUAL(str_at(d, "Namespace"), "Bilhetagem");
    char *dj = json_dumps(json_object_get(d, "Dimensions"), JSON_COMPACT);
    CU_ASSERT_STRING_EQUAL(dj, dims);
    free(dj);
    json_t *metrics = json_object_get(d, "Metrics");
    size_t n = 0;
    while (names[n])
        n++;
    CU_ASSERT_EQUAL(json_array_size(metrics), n);
    for (size_t i = 0; i < n && i < json_array_size(metrics); i++) {
        json_t *m = json_array_get(metrics, i);
        CU_ASSERT_STRING_EQUAL(str_at(m, "Name"), names[i]);
        CU_ASSERT_PTR_NOT_NULL(json_object_get(line, names[i])); /* the value is there */
        CU_ASSERT_PTR_NOT_NULL(str_at(m, "Unit"));
    }
}

static void test_emf_lines(void)
{
    xr_emf *m = xr_emf_new("Bilhetagem", "svc", 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    xr_emf_observe(m, "POST /orders", 201, 1.0);
    xr_emf_observe(m, "POST /orders", 404, 2.0);
    xr_emf_observe(m, "POST /orders", 503, 300.0);
    xr_emf_observe(m, "GET /orders/{id}", 200, 0.01);
    xr_emf_flush(m, 1764417600000, 1234, fake_counters, collect, NULL);
    CU_ASSERT_EQUAL(nlines, 4); /* two routes, the service's requests, the counters */
    static const char *const route_metrics[] = {"RequestCount", "Latency", "Http4xx", "Http5xx",
                                                NULL};
    json_t *post = line_for("POST /orders");
    CU_ASSERT_PTR_NOT_NULL_FATAL(post);
    check_directive(post, 1764417600000, "[[\"Service\",\"Route\"]]", route_metrics);
    CU_ASSERT_STRING_EQUAL(str_at(post, "Service"), "svc");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(post, "RequestCount")), 3);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(post, "Http4xx")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(post, "Http5xx")), 1);
    json_t *lat = json_object_get(post, "Latency");
    CU_ASSERT_EQUAL_FATAL(json_array_size(lat), 3);
    static const double want[] = {1.0, 2.0, 300.0};
    for (size_t i = 0; i < 3; i++) /* within a bucket (10%) */
        CU_ASSERT(fabs(json_real_value(json_array_get(lat, i)) - want[i]) <= want[i] * 0.1);
    /* the service's requests: its own histogram of all four */
    json_t *all = service_line_with("RequestCount");
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    check_directive(all, 1764417600000, "[[\"Service\"]]", route_metrics);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(all, "RequestCount")), 4);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(all, "Http4xx")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(all, "Http5xx")), 1);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(all, "Latency")), 4);
    static const char *const service_metrics[] = {"OrdersCreated", "PaymentsDeclined", "OutboxLag",
                                                  NULL};
    json_t *svc = service_line_with("OrdersCreated");
    CU_ASSERT_PTR_NOT_NULL_FATAL(svc);
    check_directive(svc, 1764417600000, "[[\"Service\"]]", service_metrics);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(svc, "OrdersCreated")), 5);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(svc, "OutboxLag")), 1234);
    drop_lines();

    /* the next interval: no requests, counter deltas only, no lag known */
    fake_orders = 7;
    xr_emf_flush(m, 1764417660000, -1, fake_counters, collect, NULL);
    CU_ASSERT_EQUAL(nlines, 1);
    svc = service_line_with("OrdersCreated");
    CU_ASSERT_PTR_NOT_NULL_FATAL(svc);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(svc, "OrdersCreated")), 2);
    CU_ASSERT_PTR_NULL(json_object_get(svc, "OutboxLag"));
    drop_lines();
    xr_emf_free(m);
}

static void test_emf_quantiles_and_routes(void)
{
    xr_emf *m = xr_emf_new("Bilhetagem", "svc", 2);
    for (int i = 1; i <= 1000; i++) /* 1..1000 ms */
        xr_emf_observe(m, "GET /a", 200, (double)i);
    xr_emf_observe(m, "GET /b", 200, 1.0);
    xr_emf_observe(m, "GET /c", 200, 1.0); /* past max_routes: "other" */
    xr_emf_observe(m, "GET /d", 500, 1.0);
    xr_emf_flush(m, 1, -1, NULL, collect, NULL);
    json_t *a = line_for("GET /a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    json_t *lat = json_object_get(a, "Latency");
    CU_ASSERT_EQUAL(json_array_size(lat), 100); /* EMF's limit */
    double p50 = json_real_value(json_array_get(lat, 49)),
           p99 = json_real_value(json_array_get(lat, 98));
    CU_ASSERT(fabs(p50 - 500.0) <= 50.0);
    CU_ASSERT(fabs(p99 - 990.0) <= 99.0);
    for (size_t i = 1; i < 100; i++)
        CU_ASSERT(json_real_value(json_array_get(lat, i)) >=
                  json_real_value(json_array_get(lat, i - 1)));
    json_t *other = line_for("other");
    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(other, "RequestCount")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(other, "Http5xx")), 1);
    CU_ASSERT_PTR_NULL(service_line_with("OutboxLag")); /* no counters, no lag */
    /* The service's quantiles weigh every request: 1000 of the 1003 were
     * GET /a's 1..1000 ms, so its median is near 500 ms, not a mix of four
     * routes' medians. */
    json_t *all = service_line_with("RequestCount");
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(all, "RequestCount")), 1003);
    json_t *alat = json_object_get(all, "Latency");
    CU_ASSERT_EQUAL_FATAL(json_array_size(alat), 100);
    CU_ASSERT(fabs(json_real_value(json_array_get(alat, 49)) - 500.0) <= 50.0);
    CU_ASSERT(fabs(json_real_value(json_array_get(alat, 98)) - 990.0) <= 99.0);
    drop_lines();
    xr_emf_free(m);

    char name[64];
    xr_emf_metric_name("orders_created", name, sizeof name);
    CU_ASSERT_STRING_EQUAL(name, "OrdersCreated");
    xr_emf_metric_name("credit_notes_issued", name, sizeof name);
    CU_ASSERT_STRING_EQUAL(name, "CreditNotesIssued");
}

/* Counters whose EMF names would clash stay out of the line (CloudWatch
 * would reject it whole). */
static void clashing_counters(bh_counter_visit_fn fn, void *arg)
{
    fn("service", "h", 1, arg);    /* "Service": the dimension */
    fn("outbox_lag", "h", 2, arg); /* "OutboxLag": the gauge */
    fn("a_b", "h", 3, arg);        /* "AB" */
    fn("ab", "h", 4, arg);         /* "Ab": a different name, kept */
    fn("a__b", "h", 5, arg);       /* "AB" again */
}

static void test_emf_name_clashes(void)
{
    xr_emf *m = xr_emf_new("Bilhetagem", "svc", 10);
    xr_emf_flush(m, 1, 7, clashing_counters, collect, NULL);
    json_t *svc = service_line_with("OutboxLag");
    CU_ASSERT_PTR_NOT_NULL_FATAL(svc);
    CU_ASSERT_STRING_EQUAL(str_at(svc, "Service"), "svc");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(svc, "OutboxLag")), 7);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(svc, "AB")), 3);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(svc, "Ab")), 4);
    json_t *d =
        json_array_get(json_object_get(json_object_get(svc, "_aws"), "CloudWatchMetrics"), 0);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(d, "Metrics")), 3); /* AB, Ab, OutboxLag */
    drop_lines();
    xr_emf_free(m);
}

/* ---- config -------------------------------------------------------------------------- */

static int parse(const char *text, xr_config *c, char *err, size_t errlen)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    int rc = xr_config_parse(j, c, err, errlen);
    json_decref(j);
    return rc;
}

static void test_config(void)
{
    xr_config c;
    char err[256];
    unsetenv("AWS_XRAY_DAEMON_ADDRESS");
    unsetenv("AWS_XRAY_TRACING_NAME");
    CU_ASSERT_EQUAL_FATAL(parse("{}", &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.service_name, "bilhetagem");
    CU_ASSERT_STRING_EQUAL(c.daemon_address, "127.0.0.1:2000");
    CU_ASSERT_EQUAL(c.fixed_target, 1);
    CU_ASSERT_DOUBLE_EQUAL(c.rate, 0.05, 1e-12);
    CU_ASSERT_EQUAL(c.emf_enabled, 0);
    CU_ASSERT_STRING_EQUAL(c.emf_namespace, "Bilhetagem");
    CU_ASSERT_EQUAL(c.emf_flush_ms, 60000);
    xr_config_free(&c);

    setenv("AWS_XRAY_DAEMON_ADDRESS", "xray-daemon:2000", 1);
    CU_ASSERT_EQUAL_FATAL(parse("{\"daemon_address\": \"10.0.0.1:2000\", \"service_name\": \"api\","
                                " \"sampling\": {\"fixed_target\": 0, \"rate\": 1},"
                                " \"emf\": {\"enabled\": true, \"namespace\": \"Shop\","
                                " \"flush_interval_ms\": 200}}",
                                &c, err, sizeof err),
                          0);
    CU_ASSERT_STRING_EQUAL(c.daemon_address, "xray-daemon:2000"); /* the environment wins */
    CU_ASSERT_STRING_EQUAL(c.service_name, "api");
    CU_ASSERT_EQUAL(c.fixed_target, 0);
    CU_ASSERT_EQUAL(c.emf_enabled, 1);
    CU_ASSERT_STRING_EQUAL(c.emf_namespace, "Shop");
    CU_ASSERT_EQUAL(c.emf_flush_ms, 200);
    xr_config_free(&c);
    unsetenv("AWS_XRAY_DAEMON_ADDRESS");

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"sampler\": {}}", "config.sampler: unknown key"},
        {"{\"sampling\": {\"rate\": 1.5}}", "config.sampling.rate must be a number from 0 to 1"},
        {"{\"sampling\": {\"fixed_target\": -1}}",
         "config.sampling.fixed_target must be an integer"},
        {"{\"sampling\": {\"burst\": 1}}", "config.sampling.burst: unknown key"},
        {"{\"service_name\": \"\"}",
         "config.service_name must be a string of 1..200 printable ASCII characters"},
        {"{\"service_name\": 7}", "config.service_name must be a string of 1..200"},
        {"{\"emf\": {\"enabled\": \"yes\"}}", "config.emf.enabled must be a boolean"},
        {"{\"emf\": {\"flush_interval_ms\": 5}}",
         "config.emf.flush_interval_ms must be an integer"},
        {"{\"max_datagram\": 100}", "config.max_datagram must be an integer"},
        {"{\"emf\": []}", "config.emf must be an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(parse(bad[i].text, &c, err, sizeof err), -1);
        if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0) {
            fprintf(stderr, "\n%s -> %s\n", bad[i].text, err);
            CU_FAIL(bad[i].msg);
        }
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("xray", NULL, NULL);
    CU_add_test(s, "the trace header parses", test_header_parse);
    CU_add_test(s, "malformed headers are refused", test_header_refused);
    CU_add_test(s, "the trace header formats", test_header_format);
    CU_add_test(s, "sampling: reservoir, then the rate (fake clock)", test_sampling_default_rule);
    CU_add_test(s, "sampling: configured rules", test_sampling_configured);
    CU_add_test(s, "trace and segment ids in X-Ray's formats", test_ids);
    CU_add_test(s, "segments nest, annotate and bound subsegments", test_segment_tree);
    CU_add_test(s, "error, throttle and fault by status", test_status_flags);
    CU_add_test(s, "strings are cut on UTF-8 boundaries", test_set_str_bounds);
    CU_add_test(s, "a segment that fits is one datagram", test_emit_one_datagram);
    CU_add_test(s, "a large segment is split into subsegments", test_emit_splits);
    CU_add_test(s, "daemon addresses", test_emitter_addresses);
    CU_add_test(s, "EMF lines per route and for the service", test_emf_lines);
    CU_add_test(s, "EMF latency quantiles and the route limit", test_emf_quantiles_and_routes);
    CU_add_test(s, "EMF counter names that would clash are left out", test_emf_name_clashes);
    CU_add_test(s, "config: defaults, environment, errors", test_config);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
