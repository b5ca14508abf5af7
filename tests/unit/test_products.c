/* test_products.c - the products plugin's request-body validation, ids and
 * list cursors, without a server.
 *
 * Links plugins/products/validate.c (the pure parsers the admin routes call
 * before any SQL) and the core library for bh_time_parse.  Every test feeds a
 * JSON text and checks the parsed struct, or the exact set of JSON pointers
 * reported as invalid: a client must learn every bad field at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "products.h"

/* ---- helpers ---------------------------------------------------------------- */

static json_t *parse_json(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
    if (!j)
        fprintf(stderr, "bad test JSON: %s: %s\n", text, err.text);
    return j;
}

/* The pointers of an error array, sorted as reported, joined by spaces. */
static char *pointers(const json_t *errors)
{
    static char buf[2048];
    buf[0] = '\0';
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e) {
        const char *p = json_string_value(json_object_get(e, "pointer"));
        const char *d = json_string_value(json_object_get(e, "detail"));
        CU_ASSERT_PTR_NOT_NULL(p);
        CU_ASSERT_PTR_NOT_NULL(d);
        if (!p)
            continue;
        if (i)
            strncat(buf, " ", sizeof buf - strlen(buf) - 1);
        strncat(buf, p[0] ? p : "<root>", sizeof buf - strlen(buf) - 1);
    }
    return buf;
}

/* Parse `text` with `fn` into `out`; returns the pointers reported ("" when valid). */
static const char *check(json_t *(*fn)(const json_t *, void *), const char *text, void *out)
{
    json_t *body = parse_json(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    json_t *errors = fn(body, out);
    const char *result = "";
    if (errors) {
        CU_ASSERT(json_is_array(errors) && json_array_size(errors) > 0);
        result = pointers(errors);
    }
    json_decref(errors);
    /* the parsed strings point into body: keep it alive for the caller */
    static json_t *keep;
    json_decref(keep);
    keep = body;
    return result;
}

static json_t *event_fn(const json_t *b, void *o)
{
    return products_parse_event(b, o);
}
static json_t *event_patch_fn(const json_t *b, void *o)
{
    return products_parse_event_patch(b, o);
}
static json_t *product_fn(const json_t *b, void *o)
{
    return products_parse_product(b, o);
}
static json_t *product_patch_fn(const json_t *b, void *o)
{
    return products_parse_product_patch(b, o);
}

static products_event_in ev;
static products_event_patch evp;
static products_product_in pr;
static products_product_patch prp;

#define EVENT(text) check(event_fn, text, &ev)
#define EVENT_PATCH(text) check(event_patch_fn, text, &evp)
#define PRODUCT(text) check(product_fn, text, &pr)
#define PRODUCT_PATCH(text) check(product_patch_fn, text, &prp)

#define TYPES "\"ticket_types\":[{\"name\":\"Pista\",\"price_cents\":15000,\"capacity\":500}]"
#define GOOD_EVENT_HEAD                                                                            \
    "\"name\":\"Show\",\"venue\":\"Arena\",\"starts_at\":\"2030-01-02T21:00:00Z\""

/* A string of n copies of c, as a JSON string literal body (no quotes). */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- events ------------------------------------------------------------------ */

static void test_event_valid(void)
{
    CU_ASSERT_STRING_EQUAL(
        EVENT("{\"name\":\"Festival\",\"venue\":\"Arena\",\"starts_at\":\"2030-01-02T21:00:00Z\","
              "\"currency\":\"USD\",\"ticket_types\":[{\"name\":\"Pista\",\"price_cents\":15000,"
              "\"capacity\":500},{\"name\":\"Camarote\",\"price_cents\":0,\"capacity\":0}]}"),
        "");
    CU_ASSERT_STRING_EQUAL(ev.name, "Festival");
    CU_ASSERT_STRING_EQUAL(ev.venue, "Arena");
    CU_ASSERT_STRING_EQUAL(ev.currency, "USD");
    CU_ASSERT_EQUAL(ev.starts_at_ms, 1893618000000LL);
    CU_ASSERT_EQUAL(ev.ntypes, 2);
    CU_ASSERT_STRING_EQUAL(ev.types[0].name, "Pista");
    CU_ASSERT_EQUAL(ev.types[0].price_cents, 15000);
    CU_ASSERT_EQUAL(ev.types[0].capacity, 500);
    CU_ASSERT_STRING_EQUAL(ev.types[1].name, "Camarote");
    CU_ASSERT_EQUAL(ev.types[1].price_cents, 0);
    CU_ASSERT_EQUAL(ev.types[1].capacity, 0);
}

static void test_event_defaults_and_offsets(void)
{
    CU_ASSERT_STRING_EQUAL(EVENT("{\"name\":\"S\",\"venue\":\"V\","
                                 "\"starts_at\":\"2030-01-02T21:00:00-03:00\"," TYPES "}"),
                           "");
    CU_ASSERT_STRING_EQUAL(ev.currency, "BRL");
    CU_ASSERT_EQUAL(ev.starts_at_ms, 1893618000000LL + 3 * 3600000LL);
}

static void test_event_missing_everything(void)
{
    CU_ASSERT_STRING_EQUAL(EVENT("{}"), "/name /venue /starts_at /ticket_types");
}

static void test_event_not_an_object(void)
{
    CU_ASSERT_STRING_EQUAL(EVENT("[1,2]"), "<root>");
    CU_ASSERT_STRING_EQUAL(EVENT("\"x\""), "<root>");
}

static void test_event_unknown_keys(void)
{
    CU_ASSERT_STRING_EQUAL(EVENT("{" GOOD_EVENT_HEAD
                                 ",\"status\":\"active\",\"ticket_types\":[{\"name\":\"P\","
                                 "\"price_cents\":1,\"capacity\":1,\"sold\":3}]}"),
                           "/status /ticket_types/0/sold");
}

static void test_event_wrong_types(void)
{
    CU_ASSERT_STRING_EQUAL(
        EVENT("{\"name\":5,\"venue\":null,\"starts_at\":1893618000,\"currency\":\"brl\","
              "\"ticket_types\":[{\"name\":[],\"price_cents\":\"100\",\"capacity\":1.5}, 7]}"),
        "/name /venue /starts_at /currency /ticket_types/0/name /ticket_types/0/price_cents "
        "/ticket_types/0/capacity /ticket_types/1");
}

static void test_event_ranges(void)
{
    CU_ASSERT_STRING_EQUAL(
        EVENT("{" GOOD_EVENT_HEAD ",\"ticket_types\":["
              "{\"name\":\"a\",\"price_cents\":-1,\"capacity\":-1},"
              "{\"name\":\"b\",\"price_cents\":10000000001,\"capacity\":1000001},"
              "{\"name\":\"c\",\"price_cents\":10000000000,\"capacity\":1000000},"
              "{\"name\":\"d\",\"price_cents\":9223372036854775807,\"capacity\":0}]}"),
        "/ticket_types/0/price_cents /ticket_types/0/capacity /ticket_types/1/price_cents "
        "/ticket_types/1/capacity /ticket_types/3/price_cents");
}

static void test_event_ticket_type_count(void)
{
    CU_ASSERT_STRING_EQUAL(EVENT("{" GOOD_EVENT_HEAD ",\"ticket_types\":[]}"), "/ticket_types");
    CU_ASSERT_STRING_EQUAL(EVENT("{" GOOD_EVENT_HEAD ",\"ticket_types\":{}}"), "/ticket_types");
    char body[4096];
    size_t n = (size_t)snprintf(body, sizeof body, "{" GOOD_EVENT_HEAD ",\"ticket_types\":[");
    for (int i = 0; i < 21; i++)
        n += (size_t)snprintf(body + n, sizeof body - n,
                              "%s{\"name\":\"T%d\",\"price_cents\":1,\"capacity\":1}", i ? "," : "",
                              i);
    snprintf(body + n, sizeof body - n, "]}");
    CU_ASSERT_STRING_EQUAL(EVENT(body), "/ticket_types");
    /* exactly 20 is fine: drop the last element */
    char *last = strrchr(body, '{');
    snprintf(last - 1, 3, "]}");
    CU_ASSERT_STRING_EQUAL(EVENT(body), "");
    CU_ASSERT_EQUAL(ev.ntypes, 20);
}

static void test_event_duplicate_ticket_names(void)
{
    CU_ASSERT_STRING_EQUAL(EVENT("{" GOOD_EVENT_HEAD ",\"ticket_types\":["
                                 "{\"name\":\"Pista\",\"price_cents\":1,\"capacity\":1},"
                                 "{\"name\":\"VIP\",\"price_cents\":1,\"capacity\":1},"
                                 "{\"name\":\"Pista\",\"price_cents\":2,\"capacity\":2}]}"),
                           "/ticket_types/2/name");
}

static void test_event_text_limits(void)
{
    char body[2048];
    char *s200 = repeat('a', 200), *s201 = repeat('b', 201);
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"venue\":\"%s\",\"starts_at\":\"2030-01-02T21:00:00Z\"," TYPES "}",
             s200, s201);
    CU_ASSERT_STRING_EQUAL(EVENT(body), "/venue");
    CU_ASSERT_EQUAL(strlen(ev.name), 200);
    free(s200);
    free(s201);
    CU_ASSERT_STRING_EQUAL(EVENT("{\"name\":\"\",\"venue\":\"   \","
                                 "\"starts_at\":\"2030-01-02T21:00:00Z\"," TYPES "}"),
                           "/name /venue");
    CU_ASSERT_STRING_EQUAL(EVENT("{\"name\":\"a\\nb\",\"venue\":\"tab\\there\","
                                 "\"starts_at\":\"2030-01-02T21:00:00Z\"," TYPES "}"),
                           "/name /venue");
    /* UTF-8 is counted in bytes: 100 two-byte characters are 200 bytes */
    char utf[512] = "";
    for (int i = 0; i < 100; i++)
        strcat(utf, "\xc3\xa3");
    snprintf(
        body, sizeof body,
        "{\"name\":\"%s\",\"venue\":\"%s\xc3\xa3\",\"starts_at\":\"2030-01-02T21:00:00Z\"," TYPES
        "}",
        utf, utf);
    CU_ASSERT_STRING_EQUAL(EVENT(body), "/venue");
}

static void test_event_times(void)
{
    static const char *bad[] = {"2030-01-02",
                                "2030-02-30T10:00:00Z",
                                "yesterday",
                                "2030-01-02T21:00:00Z trailing",
                                "1999-12-31T23:59:59Z",
                                ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"name\":\"S\",\"venue\":\"V\",\"starts_at\":\"%s\"," TYPES "}", bad[i]);
        CU_ASSERT_STRING_EQUAL(EVENT(body), "/starts_at");
    }
    CU_ASSERT_STRING_EQUAL(EVENT("{\"name\":\"S\",\"venue\":\"V\","
                                 "\"starts_at\":\"2000-01-01T00:00:00Z\"," TYPES "}"),
                           "");
    CU_ASSERT_EQUAL(ev.starts_at_ms, PRODUCTS_TIME_MIN);
}

static void test_event_currency(void)
{
    static const char *bad[] = {"\"BR\"", "\"BRLX\"", "\"brl\"", "\"B1L\"", "3", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, "{" GOOD_EVENT_HEAD ",\"currency\":%s," TYPES "}", bad[i]);
        CU_ASSERT_STRING_EQUAL(EVENT(body), "/currency");
    }
}

/* ---- event patches ------------------------------------------------------------ */

#define TT_ID "3f0c9a4e-8d1b-4c55-9a0e-2b7f5d61c3aa"
#define TT_ID2 "00000000-0000-4000-8000-000000000002"

static void test_event_patch_valid(void)
{
    CU_ASSERT_STRING_EQUAL(EVENT_PATCH("{\"name\":\"New\",\"status\":\"cancelled\","
                                       "\"starts_at\":\"2031-05-01T20:00:00.500Z\","
                                       "\"ticket_types\":[{\"id\":\"" TT_ID "\",\"capacity\":10},"
                                       "{\"id\":\"" TT_ID2 "\",\"price_cents\":99}]}"),
                           "");
    CU_ASSERT_STRING_EQUAL(evp.name, "New");
    CU_ASSERT_PTR_NULL(evp.venue);
    CU_ASSERT_STRING_EQUAL(evp.status, "cancelled");
    CU_ASSERT_EQUAL(evp.has_starts_at, 1);
    CU_ASSERT_EQUAL(evp.starts_at_ms % 1000, 500);
    CU_ASSERT_EQUAL(evp.ntypes, 2);
    CU_ASSERT_STRING_EQUAL(evp.types[0].id, TT_ID);
    CU_ASSERT(evp.types[0].has_capacity && !evp.types[0].has_price);
    CU_ASSERT_EQUAL(evp.types[0].capacity, 10);
    CU_ASSERT(evp.types[1].has_price && !evp.types[1].has_capacity);
    CU_ASSERT_EQUAL(evp.types[1].price_cents, 99);

    CU_ASSERT_STRING_EQUAL(EVENT_PATCH("{\"venue\":\"Elsewhere\"}"), "");
    CU_ASSERT_PTR_NULL(evp.name);
    CU_ASSERT_PTR_NULL(evp.status);
    CU_ASSERT_EQUAL(evp.has_starts_at, 0);
    CU_ASSERT_EQUAL(evp.ntypes, 0);
}

static void test_event_patch_errors(void)
{
    CU_ASSERT_STRING_EQUAL(EVENT_PATCH("{}"), "<root>");
    CU_ASSERT_STRING_EQUAL(EVENT_PATCH("[]"), "<root>");
    CU_ASSERT_STRING_EQUAL(EVENT_PATCH("{\"status\":\"sold-out\",\"currency\":\"USD\","
                                       "\"id\":\"x\",\"starts_at\":\"soon\"}"),
                           "/currency /id /starts_at /status");
    CU_ASSERT_STRING_EQUAL(
        EVENT_PATCH("{\"ticket_types\":[{\"price_cents\":1},{\"id\":\"nope\",\"capacity\":1},"
                    "{\"id\":\"" TT_ID "\"},{\"id\":\"" TT_ID "\",\"capacity\":-5,\"name\":\"x\"},"
                    "{\"id\":\"" TT_ID2 "\",\"price_cents\":1.0}]}"),
        "/ticket_types/0/id /ticket_types/1/id /ticket_types/2 /ticket_types/3/name "
        "/ticket_types/3/id /ticket_types/3/capacity /ticket_types/4/price_cents");
    CU_ASSERT_STRING_EQUAL(EVENT_PATCH("{\"ticket_types\":[]}"), "/ticket_types");
}

/* ---- products ------------------------------------------------------------------- */

static void test_product_valid(void)
{
    CU_ASSERT_STRING_EQUAL(
        PRODUCT("{\"sku\":\"PIPOCA-G\",\"name\":\"Pipoca\",\"price_cents\":2500,\"stock\":100}"),
        "");
    CU_ASSERT_STRING_EQUAL(pr.sku, "PIPOCA-G");
    CU_ASSERT_STRING_EQUAL(pr.name, "Pipoca");
    CU_ASSERT_STRING_EQUAL(pr.currency, "BRL");
    CU_ASSERT_EQUAL(pr.price_cents, 2500);
    CU_ASSERT_EQUAL(pr.stock, 100);
    CU_ASSERT_EQUAL(pr.active, 1);
    CU_ASSERT_STRING_EQUAL(PRODUCT("{\"sku\":\"a.b_c-9\",\"name\":\"x\",\"price_cents\":0,"
                                   "\"stock\":0,\"currency\":\"EUR\",\"active\":false}"),
                           "");
    CU_ASSERT_STRING_EQUAL(pr.currency, "EUR");
    CU_ASSERT_EQUAL(pr.active, 0);
}

static void test_product_errors(void)
{
    CU_ASSERT_STRING_EQUAL(PRODUCT("{}"), "/sku /name /price_cents /stock");
    CU_ASSERT_STRING_EQUAL(PRODUCT("{\"sku\":\"has space\",\"name\":\"x\",\"price_cents\":-1,"
                                   "\"stock\":1000001,\"active\":1,\"color\":\"red\"}"),
                           "/color /sku /price_cents /stock /active");
    CU_ASSERT_STRING_EQUAL(
        PRODUCT("{\"sku\":7,\"name\":\"x\",\"price_cents\":1,\"stock\":1,\"currency\":\"R$\"}"),
        "/sku /currency");
    char body[512];
    char *s64 = repeat('S', 64), *s65 = repeat('S', 65);
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"x\",\"price_cents\":1,\"stock\":1}",
             s64);
    CU_ASSERT_STRING_EQUAL(PRODUCT(body), "");
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"x\",\"price_cents\":1,\"stock\":1}",
             s65);
    CU_ASSERT_STRING_EQUAL(PRODUCT(body), "/sku");
    free(s64);
    free(s65);
    CU_ASSERT_STRING_EQUAL(PRODUCT("{\"sku\":\"\",\"name\":\"x\",\"price_cents\":1,\"stock\":1}"),
                           "/sku");
    CU_ASSERT_STRING_EQUAL(
        PRODUCT("{\"sku\":\"p\\u00e3o\",\"name\":\"x\",\"price_cents\":1,\"stock\":1}"), "/sku");
}

static void test_product_patch(void)
{
    CU_ASSERT_STRING_EQUAL(PRODUCT_PATCH("{\"price_cents\":3000,\"active\":false}"), "");
    CU_ASSERT(prp.has_price && prp.has_active && !prp.has_stock);
    CU_ASSERT_PTR_NULL(prp.name);
    CU_ASSERT_EQUAL(prp.price_cents, 3000);
    CU_ASSERT_EQUAL(prp.active, 0);
    CU_ASSERT_STRING_EQUAL(PRODUCT_PATCH("{\"stock\":0,\"name\":\"Pipoca doce\"}"), "");
    CU_ASSERT(prp.has_stock && prp.stock == 0);
    CU_ASSERT_STRING_EQUAL(prp.name, "Pipoca doce");
    CU_ASSERT_STRING_EQUAL(PRODUCT_PATCH("{}"), "<root>");
    CU_ASSERT_STRING_EQUAL(PRODUCT_PATCH("{\"sku\":\"X\",\"stock\":-1,\"active\":\"yes\"}"),
                           "/sku /stock /active");
}

/* ---- pointers, ids, cursors ------------------------------------------------------ */

static void test_unknown_key_pointers(void)
{
    /* RFC 6901: "~" -> "~0", "/" -> "~1" */
    CU_ASSERT_STRING_EQUAL(PRODUCT_PATCH("{\"a/b~c\":1}"), "/a~1b~0c");
    /* a huge key is cut, never at the middle of a UTF-8 character */
    char body[8192] = "{\"";
    for (int i = 0; i < 1000; i++)
        strcat(body, "\xc3\xa3");
    strcat(body, "\":1}");
    json_t *b = parse_json(body);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    json_t *errors = products_parse_product_patch(b, &prp);
    CU_ASSERT_EQUAL(json_array_size(errors), 1);
    const char *p = json_string_value(json_object_get(json_array_get(errors, 0), "pointer"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(strlen(p) < 160 && strlen(p) > 100);
    CU_ASSERT_EQUAL(strlen(p) % 2, 1); /* "/" + whole two-byte characters */
    json_decref(errors);
    json_decref(b);
}

static void test_uuid_and_sku(void)
{
    CU_ASSERT_TRUE(products_is_uuid(TT_ID));
    CU_ASSERT_TRUE(products_is_uuid("3F0C9A4E-8D1B-4C55-9A0E-2B7F5D61C3AA"));
    CU_ASSERT_FALSE(products_is_uuid(NULL));
    CU_ASSERT_FALSE(products_is_uuid(""));
    CU_ASSERT_FALSE(products_is_uuid("3f0c9a4e8d1b4c559a0e2b7f5d61c3aa"));
    CU_ASSERT_FALSE(products_is_uuid("3f0c9a4e-8d1b-4c55-9a0e-2b7f5d61c3ag"));
    CU_ASSERT_FALSE(products_is_uuid("3f0c9a4e-8d1b-4c55-9a0e-2b7f5d61c3aa0"));
    CU_ASSERT_FALSE(products_is_uuid("3f0c9a4e-8d1b-4c55-9a0e2-b7f5d61c3aa"));
    CU_ASSERT_TRUE(products_is_sku("A"));
    CU_ASSERT_TRUE(products_is_sku("PIPOCA-G_1.0"));
    CU_ASSERT_FALSE(products_is_sku(""));
    CU_ASSERT_FALSE(products_is_sku(NULL));
    CU_ASSERT_FALSE(products_is_sku("a b"));
    CU_ASSERT_FALSE(products_is_sku("a|b"));
    CU_ASSERT_FALSE(products_is_sku("a/b"));
}

static void test_event_cursor(void)
{
    char key[64], id[37];
    int64_t ms = 0;
    products_event_cursor_key(1893618000000LL, TT_ID, key);
    CU_ASSERT_STRING_EQUAL(key, "1893618000000|" TT_ID);
    CU_ASSERT_EQUAL(products_parse_event_cursor(key, &ms, id), 0);
    CU_ASSERT_EQUAL(ms, 1893618000000LL);
    CU_ASSERT_STRING_EQUAL(id, TT_ID);
    static const char *bad[] = {"",
                                "|",
                                "garbage",
                                "1893618000000",
                                "1893618000000|",
                                "1893618000000|nope",
                                "-1893618000000|" TT_ID,
                                "18936x8000000|" TT_ID,
                                "1|" TT_ID,
                                "9999999999999999|" TT_ID,
                                "1893618000000|" TT_ID "|x",
                                "1893618000000 |" TT_ID};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(products_parse_event_cursor(bad[i], &ms, id), -1);
    CU_ASSERT_EQUAL(products_parse_event_cursor(NULL, &ms, id), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("products", NULL, NULL);
    CU_add_test(s, "event: a valid body", test_event_valid);
    CU_add_test(s, "event: currency default, time offsets", test_event_defaults_and_offsets);
    CU_add_test(s, "event: every required field", test_event_missing_everything);
    CU_add_test(s, "event: not an object", test_event_not_an_object);
    CU_add_test(s, "event: unknown keys", test_event_unknown_keys);
    CU_add_test(s, "event: wrong JSON types", test_event_wrong_types);
    CU_add_test(s, "event: price and capacity ranges", test_event_ranges);
    CU_add_test(s, "event: 1..20 ticket types", test_event_ticket_type_count);
    CU_add_test(s, "event: duplicate ticket type names", test_event_duplicate_ticket_names);
    CU_add_test(s, "event: text lengths, blanks, control characters", test_event_text_limits);
    CU_add_test(s, "event: starts_at", test_event_times);
    CU_add_test(s, "event: currency", test_event_currency);
    CU_add_test(s, "event patch: valid", test_event_patch_valid);
    CU_add_test(s, "event patch: errors", test_event_patch_errors);
    CU_add_test(s, "product: valid", test_product_valid);
    CU_add_test(s, "product: errors", test_product_errors);
    CU_add_test(s, "product patch", test_product_patch);
    CU_add_test(s, "pointers of unknown keys", test_unknown_key_pointers);
    CU_add_test(s, "ids and skus", test_uuid_and_sku);
    CU_add_test(s, "event cursor keys", test_event_cursor);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
