/* test_order.c - the order plugin's pure logic, without a server: the
 * state machine (every pair of states), pricing (including int64 overflow
 * at every step) and the POST /orders body validation (types, bounds,
 * line counts, duplicates, each error's JSON pointer).
 *
 * Links plugins/order/{state,pricing,request}.c only: they make no SDK call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include "order.h"

#define TT1 "11111111-1111-4111-8111-111111111111"
#define TT2 "22222222-2222-4222-8222-222222222222"
#define PR1 "33333333-3333-4333-8333-333333333333"

/* ---- state machine ----------------------------------------------------------- */

static void test_state_names(void)
{
    const char *names[] = {"pending_payment", "paid", "expired", "cancelled", "refunded"};
    for (int s = 0; s < ORDER_STATE_COUNT; s++) {
        order_state back;
        CU_ASSERT_STRING_EQUAL(order_state_name((order_state)s), names[s]);
        CU_ASSERT_EQUAL(order_state_parse(names[s], &back), 0);
        CU_ASSERT_EQUAL(back, (order_state)s);
    }
    order_state x;
    CU_ASSERT_EQUAL(order_state_parse("PAID", &x), -1);
    CU_ASSERT_EQUAL(order_state_parse("", &x), -1);
    CU_ASSERT_EQUAL(order_state_parse("pending", &x), -1);
    CU_ASSERT_EQUAL(order_state_parse(NULL, &x), -1);
    CU_ASSERT_PTR_NULL(order_state_name(ORDER_STATE_COUNT));
    CU_ASSERT_PTR_NULL(order_state_name((order_state)-1));
}

static void test_transitions(void)
{
    /* legal[from][to]: exactly the four arrows of the spec */
    static const int legal[ORDER_STATE_COUNT][ORDER_STATE_COUNT] = {
        [ORDER_PENDING_PAYMENT] = {[ORDER_PAID] = 1, [ORDER_EXPIRED] = 1, [ORDER_CANCELLED] = 1},
        [ORDER_PAID] = {[ORDER_REFUNDED] = 1},
    };
    int allowed = 0;
    for (int f = 0; f < ORDER_STATE_COUNT; f++) {
        for (int t = 0; t < ORDER_STATE_COUNT; t++) {
            int got = order_transition_allowed((order_state)f, (order_state)t);
            if (got != legal[f][t])
                fprintf(stderr, "transition %s -> %s: got %d\n", order_state_name(f),
                        order_state_name(t), got);
            CU_ASSERT_EQUAL(got, legal[f][t]);
            allowed += got;
        }
    }
    CU_ASSERT_EQUAL(allowed, 4);
    /* out of range on either side */
    CU_ASSERT_FALSE(order_transition_allowed(ORDER_STATE_COUNT, ORDER_PAID));
    CU_ASSERT_FALSE(order_transition_allowed(ORDER_PENDING_PAYMENT, ORDER_STATE_COUNT));
    CU_ASSERT_FALSE(order_transition_allowed((order_state)-1, ORDER_PAID));
}

/* ---- pricing ------------------------------------------------------------------ */

static void test_line_total(void)
{
    int64_t out = -1;
    CU_ASSERT_EQUAL(order_price_line_total(3, 12500, &out), ORDER_PRICE_OK);
    CU_ASSERT_EQUAL(out, 37500);
    CU_ASSERT_EQUAL(order_price_line_total(1, 0, &out), ORDER_PRICE_OK);
    CU_ASSERT_EQUAL(out, 0);
    CU_ASSERT_EQUAL(order_price_line_total(1, INT64_MAX, &out), ORDER_PRICE_OK);
    CU_ASSERT_EQUAL(out, INT64_MAX);
    CU_ASSERT_EQUAL(order_price_line_total(20, INT64_MAX / 20, &out), ORDER_PRICE_OK);
    CU_ASSERT_EQUAL(out, (INT64_MAX / 20) * 20);
    /* one cent more per unit wraps int64: refused, never a wrapped number */
    CU_ASSERT_EQUAL(order_price_line_total(20, INT64_MAX / 20 + 1, &out), ORDER_PRICE_OVERFLOW);
    CU_ASSERT_EQUAL(order_price_line_total(2, INT64_MAX, &out), ORDER_PRICE_OVERFLOW);
    CU_ASSERT_EQUAL(order_price_line_total(INT64_MAX, 2, &out), ORDER_PRICE_OVERFLOW);
    CU_ASSERT_EQUAL(order_price_line_total(0, 100, &out), ORDER_PRICE_INVALID);
    CU_ASSERT_EQUAL(order_price_line_total(-1, 100, &out), ORDER_PRICE_INVALID);
    CU_ASSERT_EQUAL(order_price_line_total(INT64_MIN, -1, &out), ORDER_PRICE_INVALID);
    CU_ASSERT_EQUAL(order_price_line_total(1, -1, &out), ORDER_PRICE_INVALID);
}

static void test_order_totals(void)
{
    order_price_line l[] = {{2, 15000, 0}, {1, 2500, 0}, {3, 0, 0}};
    order_totals t;
    size_t bad = 99;
    CU_ASSERT_EQUAL(order_price(l, 3, &t, &bad), ORDER_PRICE_OK);
    CU_ASSERT_EQUAL(l[0].line_total_cents, 30000);
    CU_ASSERT_EQUAL(l[1].line_total_cents, 2500);
    CU_ASSERT_EQUAL(l[2].line_total_cents, 0);
    CU_ASSERT_EQUAL(t.subtotal_cents, 32500);
    CU_ASSERT_EQUAL(t.total_cents, 32500); /* no fees */
    CU_ASSERT_EQUAL(bad, 99);

    /* no lines: zero (the request layer never asks) */
    CU_ASSERT_EQUAL(order_price(l, 0, &t, &bad), ORDER_PRICE_OK);
    CU_ASSERT_EQUAL(t.subtotal_cents, 0);
}

static void test_order_overflow(void)
{
    order_totals t;
    size_t bad = 99;
    /* each line fits, their sum does not: the second line is named */
    order_price_line sum[] = {{1, INT64_MAX - 10, 0}, {1, 11, 0}, {1, 1, 0}};
    CU_ASSERT_EQUAL(order_price(sum, 3, &t, &bad), ORDER_PRICE_OVERFLOW);
    CU_ASSERT_EQUAL(bad, 1);
    /* exactly INT64_MAX is still a number */
    order_price_line edge[] = {{1, INT64_MAX - 10, 0}, {1, 10, 0}};
    CU_ASSERT_EQUAL(order_price(edge, 2, &t, &bad), ORDER_PRICE_OK);
    CU_ASSERT_EQUAL(t.total_cents, INT64_MAX);
    /* the product of the third line overflows */
    order_price_line mul[] = {{1, 5, 0}, {2, 7, 0}, {20, INT64_MAX / 10, 0}};
    CU_ASSERT_EQUAL(order_price(mul, 3, &t, &bad), ORDER_PRICE_OVERFLOW);
    CU_ASSERT_EQUAL(bad, 2);
    /* twenty lines at the largest price that fits each */
    order_price_line many[20];
    for (int i = 0; i < 20; i++)
        many[i] = (order_price_line){20, INT64_MAX / 400, 0};
    CU_ASSERT_EQUAL(order_price(many, 20, &t, &bad), ORDER_PRICE_OK);
    CU_ASSERT_EQUAL(t.total_cents, (INT64_MAX / 400) * 400);
    many[18].unit_price_cents = INT64_MAX / 20; /* line 18 fits alone; the sum does not */
    CU_ASSERT_EQUAL(order_price(many, 20, &t, &bad), ORDER_PRICE_OVERFLOW);
    CU_ASSERT_EQUAL(bad, 18);
    /* a negative price from the catalog is refused, naming the line */
    order_price_line neg[] = {{1, 1, 0}, {1, -5, 0}};
    CU_ASSERT_EQUAL(order_price(neg, 2, &t, &bad), ORDER_PRICE_INVALID);
    CU_ASSERT_EQUAL(bad, 1);
}

/* ---- request validation --------------------------------------------------------- */

/* The last body parsed: the request's ids are borrowed from it. */
static json_t *last_body;

/* Parse `text`; returns what order_request_parse returned.  errs receives
 * the errors array as compact JSON text (or "") for pointer checks. */
static int parse(const char *text, order_request *rq, char *errs, size_t errlen)
{
    json_error_t e;
    json_decref(last_body);
    last_body = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(last_body);
    json_t *errors = NULL;
    int rc = order_request_parse(last_body, rq, &errors);
    errs[0] = '\0';
    if (errors) {
        char *dump = json_dumps(errors, JSON_COMPACT);
        snprintf(errs, errlen, "%s", dump ? dump : "");
        free(dump);
    }
    CU_ASSERT_EQUAL(rc == 0, errors == NULL);
    json_decref(errors);
    return rc;
}

/* 1 when the errors mention `pointer` exactly. */
static int has_pointer(const char *errs, const char *pointer)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\"pointer\":\"%s\"", pointer);
    return strstr(errs, needle) != NULL;
}

static void test_request_valid(void)
{
    order_request rq;
    char errs[4096];
    CU_ASSERT_EQUAL(parse("{\"items\":[{\"ticket_type_id\":\"" TT1 "\",\"quantity\":2},"
                          "{\"ticket_type_id\":\"" TT2 "\",\"quantity\":20}],"
                          "\"products\":[{\"product_id\":\"" PR1 "\",\"quantity\":1}]}",
                          &rq, errs, sizeof errs),
                    0);
    CU_ASSERT_EQUAL(rq.n, 3);
    CU_ASSERT_EQUAL(rq.n_tickets, 2);
    CU_ASSERT_EQUAL(rq.lines[0].kind, BH_ORDER_LINE_TICKET);
    CU_ASSERT_STRING_EQUAL(rq.lines[0].id, TT1);
    CU_ASSERT_EQUAL(rq.lines[0].quantity, 2);
    CU_ASSERT_EQUAL(rq.lines[1].quantity, 20);
    CU_ASSERT_EQUAL(rq.lines[1].index, 1);
    CU_ASSERT_EQUAL(rq.lines[2].kind, BH_ORDER_LINE_PRODUCT);
    CU_ASSERT_STRING_EQUAL(rq.lines[2].id, PR1);
    CU_ASSERT_EQUAL(rq.lines[2].index, 0);
    /* products may be absent or empty */
    CU_ASSERT_EQUAL(parse("{\"items\":[{\"ticket_type_id\":\"" TT1 "\",\"quantity\":1}]}", &rq,
                          errs, sizeof errs),
                    0);
    CU_ASSERT_EQUAL(rq.n, 1);
    CU_ASSERT_EQUAL(parse("{\"items\":[{\"ticket_type_id\":\"" TT1 "\",\"quantity\":1}],"
                          "\"products\":[]}",
                          &rq, errs, sizeof errs),
                    0);
    /* the same id as a ticket type and a product is not a duplicate */
    CU_ASSERT_EQUAL(parse("{\"items\":[{\"ticket_type_id\":\"" TT1 "\",\"quantity\":1}],"
                          "\"products\":[{\"product_id\":\"" TT1 "\",\"quantity\":1}]}",
                          &rq, errs, sizeof errs),
                    0);
}

static void test_request_shape(void)
{
    order_request rq;
    char errs[4096];
    CU_ASSERT_EQUAL(parse("[]", &rq, errs, sizeof errs), -1);
    CU_ASSERT(has_pointer(errs, ""));
    CU_ASSERT_EQUAL(parse("{}", &rq, errs, sizeof errs), -1);
    CU_ASSERT(has_pointer(errs, "/items"));
    CU_ASSERT_EQUAL(parse("{\"items\":{}}", &rq, errs, sizeof errs), -1);
    CU_ASSERT(has_pointer(errs, "/items"));
    CU_ASSERT_EQUAL(parse("{\"items\":[]}", &rq, errs, sizeof errs), -1);
    CU_ASSERT(has_pointer(errs, "/items"));
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "at least one ticket line"));
    /* products alone are not an order */
    CU_ASSERT_EQUAL(parse("{\"items\":[],\"products\":[{\"product_id\":\"" PR1
                          "\",\"quantity\":1}]}",
                          &rq, errs, sizeof errs),
                    -1);
    CU_ASSERT(has_pointer(errs, "/items"));
    CU_ASSERT_EQUAL(parse("{\"items\":[{\"ticket_type_id\":\"" TT1 "\",\"quantity\":1}],"
                          "\"products\":null}",
                          &rq, errs, sizeof errs),
                    -1);
    CU_ASSERT(has_pointer(errs, "/products"));
    CU_ASSERT_EQUAL(parse("{\"items\":[1, \"x\", null]}", &rq, errs, sizeof errs), -1);
    CU_ASSERT(has_pointer(errs, "/items/0"));
    CU_ASSERT(has_pointer(errs, "/items/1"));
    CU_ASSERT(has_pointer(errs, "/items/2"));
}

static void test_request_fields(void)
{
    order_request rq;
    char errs[4096];
    /* every bad field is named at once */
    CU_ASSERT_EQUAL(parse("{\"items\":[{\"ticket_type_id\":\"" TT1 "\",\"quantity\":0},"
                          "{\"ticket_type_id\":\"" TT2 "\",\"quantity\":21},"
                          "{\"ticket_type_id\":7,\"quantity\":\"2\"},"
                          "{\"quantity\":1.5},"
                          "{\"ticket_type_id\":\"\",\"quantity\":-3},"
                          "{\"ticket_type_id\":\"" TT1 "x\",\"quantity\":99999999999},"
                          "{\"ticket_type_id\":\"" TT2 "\",\"quantity\":true}],"
                          "\"products\":[{\"product_id\":[],\"quantity\":null}]}",
                          &rq, errs, sizeof errs),
                    -1);
    CU_ASSERT(has_pointer(errs, "/items/0/quantity"));
    CU_ASSERT(has_pointer(errs, "/items/1/quantity"));
    CU_ASSERT(has_pointer(errs, "/items/2/ticket_type_id"));
    CU_ASSERT(has_pointer(errs, "/items/2/quantity"));
    CU_ASSERT(has_pointer(errs, "/items/3/ticket_type_id"));
    CU_ASSERT(has_pointer(errs, "/items/3/quantity"));
    CU_ASSERT(has_pointer(errs, "/items/4/ticket_type_id"));
    CU_ASSERT(has_pointer(errs, "/items/4/quantity"));
    CU_ASSERT(has_pointer(errs, "/items/5/quantity"));
    CU_ASSERT(!has_pointer(errs, "/items/5/ticket_type_id")); /* a well-formed unknown id */
    CU_ASSERT(has_pointer(errs, "/items/6/quantity"));
    CU_ASSERT(has_pointer(errs, "/products/0/product_id"));
    CU_ASSERT(has_pointer(errs, "/products/0/quantity"));
    CU_ASSERT(!has_pointer(errs, "/items/0/ticket_type_id"));

    /* an id over 64 bytes is refused before any lookup */
    char big[256];
    snprintf(big, sizeof big, "{\"items\":[{\"ticket_type_id\":\"%065d\",\"quantity\":1}]}", 0);
    CU_ASSERT_EQUAL(parse(big, &rq, errs, sizeof errs), -1);
    CU_ASSERT(has_pointer(errs, "/items/0/ticket_type_id"));
    snprintf(big, sizeof big, "{\"items\":[{\"ticket_type_id\":\"%064d\",\"quantity\":1}]}", 0);
    CU_ASSERT_EQUAL(parse(big, &rq, errs, sizeof errs), 0);
}

static void test_request_unknown_members(void)
{
    order_request rq;
    char errs[4096];
    /* a client's price is refused, not silently used or ignored */
    CU_ASSERT_EQUAL(parse("{\"items\":[{\"ticket_type_id\":\"" TT1 "\",\"quantity\":1,"
                          "\"unit_price_cents\":1}],\"total_cents\":1,\"a/b~c\":0}",
                          &rq, errs, sizeof errs),
                    -1);
    CU_ASSERT(has_pointer(errs, "/items/0/unit_price_cents"));
    CU_ASSERT(has_pointer(errs, "/total_cents"));
    CU_ASSERT(has_pointer(errs, "/a~1b~0c"));
    CU_ASSERT(!has_pointer(errs, "/items/0/quantity"));
    /* a huge key is cut in the pointer, never overflowing it */
    char text[2048];
    snprintf(text, sizeof text,
             "{\"items\":[{\"ticket_type_id\":\"" TT1 "\",\"quantity\":1}],"
             "\"%01000d\":1}",
             7);
    CU_ASSERT_EQUAL(parse(text, &rq, errs, sizeof errs), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "\"pointer\":\"/0000"));
    CU_ASSERT(strlen(errs) < 400);
}

static void test_request_duplicates(void)
{
    order_request rq;
    char errs[4096];
    CU_ASSERT_EQUAL(parse("{\"items\":[{\"ticket_type_id\":\"" TT1 "\",\"quantity\":1},"
                          "{\"ticket_type_id\":\"" TT2 "\",\"quantity\":1},"
                          "{\"ticket_type_id\":\"" TT1 "\",\"quantity\":2}],"
                          "\"products\":[{\"product_id\":\"" PR1 "\",\"quantity\":1},"
                          "{\"product_id\":\"" PR1 "\",\"quantity\":1}]}",
                          &rq, errs, sizeof errs),
                    -1);
    CU_ASSERT(has_pointer(errs, "/items/2/ticket_type_id"));
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "duplicates /items/0"));
    CU_ASSERT(has_pointer(errs, "/products/1/product_id"));
    CU_ASSERT(!has_pointer(errs, "/items/0/ticket_type_id"));
    CU_ASSERT(!has_pointer(errs, "/items/1/ticket_type_id"));
}

/* {"items": [nt ticket lines], "products": [np product lines]}, distinct ids */
static char *lines_body(int nt, int np)
{
    json_t *items = json_array(), *products = json_array();
    char id[40];
    for (int i = 0; i < nt; i++) {
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
        json_array_append_new(items, json_pack("{s:s, s:i}", "ticket_type_id", id, "quantity", 1));
    }
    for (int i = 0; i < np; i++) {
        snprintf(id, sizeof id, "00000000-0000-4000-9000-%012d", i);
        json_array_append_new(products, json_pack("{s:s, s:i}", "product_id", id, "quantity", 1));
    }
    json_t *body = json_pack("{s:o, s:o}", "items", items, "products", products);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

static void test_request_line_limit(void)
{
    order_request rq;
    char errs[4096];
    struct {
        int nt, np, ok;
        const char *pointer;
    } cases[] = {
        {20, 0, 1, NULL},       {19, 1, 1, NULL},         {1, 19, 1, NULL},
        {21, 0, 0, "/items"},   {20, 1, 0, "/products"},  {1, 20, 0, "/products"},
        {1000, 0, 0, "/items"}, {10, 11, 0, "/products"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = lines_body(cases[i].nt, cases[i].np);
        int rc = parse(text, &rq, errs, sizeof errs);
        free(text);
        CU_ASSERT_EQUAL(rc == 0, cases[i].ok);
        if (cases[i].ok) {
            CU_ASSERT_EQUAL(rq.n, (size_t)(cases[i].nt + cases[i].np));
            CU_ASSERT_EQUAL(rq.n_tickets, (size_t)cases[i].nt);
        } else {
            CU_ASSERT(has_pointer(errs, cases[i].pointer));
            CU_ASSERT_PTR_NOT_NULL(strstr(errs, "at most 20 lines"));
        }
    }
}

static void test_line_pointer(void)
{
    char buf[48];
    order_line_pointer(BH_ORDER_LINE_TICKET, 3, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "/items/3");
    order_line_pointer(BH_ORDER_LINE_PRODUCT, 0, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "/products/0");
}

static void payfix_add_tests(CU_pSuite s); /* the tests after main() */

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("order", NULL, NULL);
    CU_add_test(s, "state names", test_state_names);
    CU_add_test(s, "every transition, legal and illegal", test_transitions);
    CU_add_test(s, "line total", test_line_total);
    CU_add_test(s, "order totals", test_order_totals);
    CU_add_test(s, "int64 overflow names the line", test_order_overflow);
    CU_add_test(s, "request: a valid order", test_request_valid);
    CU_add_test(s, "request: shape", test_request_shape);
    CU_add_test(s, "request: fields", test_request_fields);
    CU_add_test(s, "request: unknown members", test_request_unknown_members);
    CU_add_test(s, "request: duplicate lines", test_request_duplicates);
    CU_add_test(s, "request: at most 20 lines", test_request_line_limit);
    CU_add_test(s, "line pointers", test_line_pointer);
    payfix_add_tests(s);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    json_decref(last_body);
    return failed ? 1 : 0;
}

/* ---- the lock order of an order's lines ------------------------------------------------- */

static void test_lock_sequence(void)
{
    bh_order_line l[5];
    const bh_order_line *ptrs[5];
    size_t seq[5];
    memset(l, 0, sizeof l);
    /* as the buyer listed them: a product, tickets "b", "a", a product, ticket "ab" */
    l[0].kind = BH_ORDER_LINE_PRODUCT;
    strcpy(l[0].ref_id, "p-1");
    l[1].kind = BH_ORDER_LINE_TICKET;
    strcpy(l[1].ref_id, "b");
    l[2].kind = BH_ORDER_LINE_TICKET;
    strcpy(l[2].ref_id, "a");
    l[3].kind = BH_ORDER_LINE_PRODUCT;
    strcpy(l[3].ref_id, "P-0"); /* bytewise: uppercase first */
    l[4].kind = BH_ORDER_LINE_TICKET;
    strcpy(l[4].ref_id, "ab");
    for (size_t i = 0; i < 5; i++)
        ptrs[i] = &l[i];
    order_lock_sequence(ptrs, 5, seq);
    /* tickets before products, each by id */
    CU_ASSERT_EQUAL(seq[0], 2);
    CU_ASSERT_EQUAL(seq[1], 4);
    CU_ASSERT_EQUAL(seq[2], 1);
    CU_ASSERT_EQUAL(seq[3], 3);
    CU_ASSERT_EQUAL(seq[4], 0);
    /* the same lines in another order lock in the same sequence of rows */
    const bh_order_line *rev[5] = {&l[4], &l[3], &l[2], &l[1], &l[0]};
    order_lock_sequence(rev, 5, seq);
    CU_ASSERT_PTR_EQUAL(rev[seq[0]], &l[2]);
    CU_ASSERT_PTR_EQUAL(rev[seq[1]], &l[4]);
    CU_ASSERT_PTR_EQUAL(rev[seq[4]], &l[0]);
    /* none, one */
    order_lock_sequence(ptrs, 0, seq);
    order_lock_sequence(ptrs, 1, seq);
    CU_ASSERT_EQUAL(seq[0], 0);
}

static void payfix_add_tests(CU_pSuite s)
{
    CU_add_test(s, "lock order: (kind, ref_id), whatever the buyer's order", test_lock_sequence);
}
