/* test_invoice.c - the invoice plugin's pure logic, and its schema on SQLite.
 *
 * Links the plugin's SDK-free files (plugins/invoice/ but store.c, issue.c,
 * routes.c and invoice.c): invoice numbers, the year's series, money for
 * people, HTML escaping and the printable page, totals with overflow, and
 * the tables themselves on a real in-memory SQLite: the number allocator
 * (consecutive, a rollback gives the number back) and UNIQUE (kind,
 * payment_id), the defence against a payment delivered twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <sqlite3.h>

#include "invoice.h"

/* ---- numbers and series -------------------------------------------------------- */

static void test_number_format(void)
{
    char out[INV_NUMBER_MAX];
    CU_ASSERT_EQUAL(inv_number_format(out, sizeof out, "2026", 1), 0);
    CU_ASSERT_STRING_EQUAL(out, "2026-000001");
    CU_ASSERT_EQUAL(inv_number_format(out, sizeof out, "2026", 42), 0);
    CU_ASSERT_STRING_EQUAL(out, "2026-000042");
    CU_ASSERT_EQUAL(inv_number_format(out, sizeof out, "2026", 999999), 0);
    CU_ASSERT_STRING_EQUAL(out, "2026-999999");
    /* past six digits the number simply grows: never truncated or wrapped */
    CU_ASSERT_EQUAL(inv_number_format(out, sizeof out, "2026", 1000000), 0);
    CU_ASSERT_STRING_EQUAL(out, "2026-1000000");
    CU_ASSERT_EQUAL(inv_number_format(out, sizeof out, "2026", INT64_MAX), 0);
    CU_ASSERT_STRING_EQUAL(out, "2026-9223372036854775807");
    CU_ASSERT_EQUAL(inv_number_format(out, sizeof out, "NC-2026", 7), 0);
    CU_ASSERT_STRING_EQUAL(out, "NC-2026-000007");
}

static void test_number_format_refuses(void)
{
    char out[INV_NUMBER_MAX], small[11];
    CU_ASSERT_EQUAL(inv_number_format(out, sizeof out, "2026", 0), -1);
    CU_ASSERT_EQUAL(inv_number_format(out, sizeof out, "2026", -1), -1);
    CU_ASSERT_EQUAL(inv_number_format(out, sizeof out, "", 1), -1);
    CU_ASSERT_EQUAL(inv_number_format(out, sizeof out, NULL, 1), -1);
    /* "2026-000001" needs 12 bytes */
    CU_ASSERT_EQUAL(inv_number_format(small, sizeof small, "2026", 1), -1);
    char exact[12];
    CU_ASSERT_EQUAL(inv_number_format(exact, sizeof exact, "2026", 1), 0);
}

static void test_series(void)
{
    char s[INV_SERIES_MAX];
    CU_ASSERT_EQUAL(inv_series_for(s, sizeof s, 1767225600000LL, 0), 0); /* 2026-01-01T00:00Z */
    CU_ASSERT_STRING_EQUAL(s, "2026");
    CU_ASSERT_EQUAL(inv_series_for(s, sizeof s, 1767225599999LL, 0), 0); /* a ms before */
    CU_ASSERT_STRING_EQUAL(s, "2025");
    CU_ASSERT_EQUAL(inv_series_for(s, sizeof s, 1767225600000LL, 1), 0);
    CU_ASSERT_STRING_EQUAL(s, "NC-2026");
    CU_ASSERT_EQUAL(inv_series_for(s, sizeof s, -1, 0), -1);
    CU_ASSERT_EQUAL(inv_series_for(s, 4, 1767225600000LL, 0), -1);
}

/* ---- money ----------------------------------------------------------------------- */

static void check_money(int64_t cents, const char *cur, const char *want)
{
    char out[INV_MONEY_MAX];
    CU_ASSERT_EQUAL_FATAL(inv_money_format(out, sizeof out, cents, cur), 0);
    CU_ASSERT_STRING_EQUAL(out, want);
    if (strcmp(out, want) != 0)
        fprintf(stderr, "money %lld %s: got \"%s\", want \"%s\"\n", (long long)cents, cur, out,
                want);
}

static void test_money_brl(void)
{
    check_money(0, "BRL", "R$ 0,00");
    check_money(5, "BRL", "R$ 0,05");
    check_money(100, "BRL", "R$ 1,00");
    check_money(99999, "BRL", "R$ 999,99");
    check_money(100000, "BRL", "R$ 1.000,00");
    check_money(123456, "BRL", "R$ 1.234,56");
    check_money(100000000, "BRL", "R$ 1.000.000,00");
    check_money(-500, "BRL", "-R$ 5,00");
    check_money(-123456, "BRL", "-R$ 1.234,56");
    check_money(INT64_MAX, "BRL", "R$ 92.233.720.368.547.758,07");
    check_money(INT64_MIN, "BRL", "-R$ 92.233.720.368.547.758,08");
}

static void test_money_other(void)
{
    check_money(0, "USD", "USD 0.00");
    check_money(5, "USD", "USD 0.05");
    check_money(100, "EUR", "EUR 1.00");
    check_money(123456, "USD", "USD 1234.56");
    check_money(-123456, "USD", "-USD 1234.56");
}

static void test_money_refuses(void)
{
    char out[INV_MONEY_MAX], small[8];
    CU_ASSERT_EQUAL(inv_money_format(out, sizeof out, 1, "brl"), -1);
    CU_ASSERT_EQUAL(inv_money_format(out, sizeof out, 1, "BR"), -1);
    CU_ASSERT_EQUAL(inv_money_format(out, sizeof out, 1, "<b>"), -1);
    CU_ASSERT_EQUAL(inv_money_format(out, sizeof out, 1, NULL), -1);
    CU_ASSERT_EQUAL(inv_money_format(small, sizeof small, 123456, "BRL"), -1);
}

/* ---- HTML escaping ---------------------------------------------------------------- */

static void check_escape(const char *in, const char *want)
{
    inv_buf b = {0};
    CU_ASSERT_EQUAL(inv_html_escape(&b, in), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b.data);
    CU_ASSERT_STRING_EQUAL(b.data, want);
    CU_ASSERT_EQUAL(b.len, strlen(want));
    inv_buf_free(&b);
}

static void test_escape(void)
{
    check_escape("<b>&\"'", "&lt;b&gt;&amp;&quot;&#39;");
    check_escape("plain text", "plain text");
    check_escape("", "");
    check_escape("a<b", "a&lt;b");
    check_escape("&amp;", "&amp;amp;"); /* escaped text is escaped again */
    check_escape("<script>alert('x')</script>", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    check_escape("Pipoca \xc3\xa0 vontade", "Pipoca \xc3\xa0 vontade"); /* UTF-8 untouched */
}

static void test_buf_grows(void)
{
    inv_buf b = {0};
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL(inv_buf_printf(&b, "%04d,", i), 0);
    CU_ASSERT_EQUAL(b.len, 5000u);
    CU_ASSERT_EQUAL(strncmp(b.data + 4995, "0999,", 5), 0);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CU_ASSERT_EQUAL(inv_buf_printf(&b, "[%s]", big), 0); /* past the printf stack buffer */
    CU_ASSERT_EQUAL(b.len, 5000u + 601u);
    CU_ASSERT_EQUAL(b.data[b.len - 1], ']');
    inv_buf_free(&b);
    CU_ASSERT_PTR_NULL(b.data);
}

/* ---- totals ------------------------------------------------------------------------ */

static bh_order_line line(int64_t qty, int64_t unit, int64_t total)
{
    bh_order_line l;
    memset(&l, 0, sizeof l);
    l.kind = BH_ORDER_LINE_PRODUCT;
    l.quantity = qty;
    l.unit_price_cents = unit;
    l.line_total_cents = total;
    return l;
}

static void test_totals(void)
{
    bh_order_line ls[] = {line(2, 15000, 30000), line(3, 1250, 3750), line(1, 0, 0)};
    int64_t sub = -1;
    size_t bad = 99;
    CU_ASSERT_EQUAL(inv_totals(ls, 3, &sub, &bad), INV_TOTALS_OK);
    CU_ASSERT_EQUAL(sub, 33750);
    CU_ASSERT_EQUAL(inv_totals(ls, 0, &sub, NULL), INV_TOTALS_OK);
    CU_ASSERT_EQUAL(sub, 0);
}

static void test_totals_bad_lines(void)
{
    int64_t sub = 7;
    size_t bad = 99;
    bh_order_line wrong[] = {line(2, 100, 200), line(2, 100, 201)};
    CU_ASSERT_EQUAL(inv_totals(wrong, 2, &sub, &bad), INV_TOTALS_BAD_LINE);
    CU_ASSERT_EQUAL(bad, 1);
    CU_ASSERT_EQUAL(sub, 7); /* untouched on error */
    bh_order_line zero[] = {line(0, 100, 0)};
    CU_ASSERT_EQUAL(inv_totals(zero, 1, &sub, &bad), INV_TOTALS_BAD_LINE);
    CU_ASSERT_EQUAL(bad, 0);
    bh_order_line negative[] = {line(1, -100, -100)};
    CU_ASSERT_EQUAL(inv_totals(negative, 1, &sub, NULL), INV_TOTALS_BAD_LINE);
}

static void test_totals_overflow(void)
{
    int64_t sub = 7;
    size_t bad = 99;
    /* quantity * unit price does not fit */
    bh_order_line product[] = {line(1, 1, 1), line(INT64_MAX / 2, 3, 0)};
    CU_ASSERT_EQUAL(inv_totals(product, 2, &sub, &bad), INV_TOTALS_OVERFLOW);
    CU_ASSERT_EQUAL(bad, 1);
    /* each line fits, their sum does not */
    bh_order_line sum[] = {line(1, INT64_MAX, INT64_MAX), line(1, 1, 1)};
    CU_ASSERT_EQUAL(inv_totals(sum, 2, &sub, &bad), INV_TOTALS_OVERFLOW);
    CU_ASSERT_EQUAL(bad, 1);
    CU_ASSERT_EQUAL(sub, 7);
    /* exactly INT64_MAX is fine */
    bh_order_line edge[] = {line(1, INT64_MAX - 1, INT64_MAX - 1), line(1, 1, 1)};
    CU_ASSERT_EQUAL(inv_totals(edge, 2, &sub, NULL), INV_TOTALS_OK);
    CU_ASSERT_EQUAL(sub, INT64_MAX);
}

/* ---- the printable page ------------------------------------------------------------ */

static json_t *sample_invoice(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:i, s:i, s:i},"
                     " {s:s, s:s, s:s, s:i, s:i, s:i}], s:i, s:i, s:s}",
                     "id", "7d0c3c1e-0000-4000-8000-000000000001", "number", "2026-000001", "kind",
                     "invoice", "order_id", "o-1", "payment_id", "p-1", "issued_at",
                     "2026-11-29T12:00:00.000Z", "buyer", "sub", "alice-1", "email",
                     "alice@example.com", "lines", "kind", "ticket", "description",
                     "Show <X> - Pista", "quantity", 2, "unit_price_cents", 50000,
                     "line_total_cents", 100000, "kind", "product", "description", "<b>&\"'Pipoca",
                     "sku", "POP-1", "quantity", 1, "unit_price_cents", 23456, "line_total_cents",
                     23456, "subtotal_cents", 123456, "total_cents", 123456, "currency", "BRL");
}

static void test_html_page(void)
{
    json_t *inv = sample_invoice();
    CU_ASSERT_PTR_NOT_NULL_FATAL(inv);
    inv_buf b = {0};
    CU_ASSERT_EQUAL_FATAL(inv_html_render(inv, &b), 0);
    const char *p = b.data;
    CU_ASSERT_EQUAL(strncmp(p, "<!DOCTYPE html>\n<html lang=\"pt-BR\">", 34), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "<meta charset=\"utf-8\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "<title>Fatura 2026-000001</title>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "<td>&lt;b&gt;&amp;&quot;&#39;Pipoca</td>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "Show &lt;X&gt; - Pista"));
    CU_ASSERT_PTR_NULL(strstr(p, "<b>"));
    CU_ASSERT_PTR_NULL(strstr(p, "<X>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "<td class=\"num\">R$ 1.234,56</td></tr>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "<td class=\"num\">R$ 500,00</td>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "<td>POP-1</td>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "alice@example.com"));
    CU_ASSERT_PTR_NULL(strstr(p, "Referente"));
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "</table>\n</body>\n</html>\n"));
    CU_ASSERT_EQUAL(strlen(p), b.len);
    inv_buf_free(&b);
    json_decref(inv);
}

static void test_html_credit_note(void)
{
    json_t *inv = sample_invoice();
    json_object_set_new(inv, "kind", json_string("credit_note"));
    json_object_set_new(inv, "number", json_string("NC-2026-000001"));
    json_object_set_new(inv, "credit_note_of",
                        json_pack("{s:s, s:s}", "id", "x", "number", "2026-000001"));
    json_object_set_new(json_object_get(inv, "buyer"), "email", json_null());
    json_object_set_new(inv, "currency", json_string("USD"));
    inv_buf b = {0};
    CU_ASSERT_EQUAL_FATAL(inv_html_render(inv, &b), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "<title>Nota de crédito NC-2026-000001</title>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "Referente à fatura 2026-000001"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "USD 1234.56"));
    CU_ASSERT_PTR_NULL(strstr(b.data, "E-mail")); /* unknown e-mail: no row */
    inv_buf_free(&b);
    json_decref(inv);
}

static void test_html_refuses_broken(void)
{
    const char *required[] = {"number", "kind", "currency", "buyer", "lines", "total_cents"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        json_t *inv = sample_invoice();
        json_object_del(inv, required[i]);
        inv_buf b = {0};
        CU_ASSERT_EQUAL(inv_html_render(inv, &b), -1);
        inv_buf_free(&b);
        json_decref(inv);
    }
    json_t *inv = sample_invoice();
    json_object_set_new(inv, "currency", json_string("<b>"));
    inv_buf b = {0};
    CU_ASSERT_EQUAL(inv_html_render(inv, &b), -1);
    inv_buf_free(&b);
    json_decref(inv);
}

/* ---- the schema on SQLite ---------------------------------------------------------- */

static sqlite3 *db;

static int db_setup(void)
{
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return -1;
    for (size_t i = 0; i < inv_migrations_count; i++)
        if (sqlite3_exec(db, inv_migrations[i].sql, NULL, NULL, NULL) != SQLITE_OK)
            return -1;
    return 0;
}

static int db_teardown(void)
{
    return sqlite3_close(db) == SQLITE_OK ? 0 : -1;
}

/* Run sql with $1.. bound to texts (NULL = SQL NULL) or, where text is "#",
 * to ints[i].  Returns the sqlite3 result of the last step; *col0 gets the
 * first column of the first row (or -1 when no row). */
static int run(const char *sql, const char *const *texts, const int64_t *ints, int n, int64_t *col0)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "$%d", i + 1);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (texts[i] && !strcmp(texts[i], "#"))
            sqlite3_bind_int64(st, idx, ints[i]);
        else if (texts[i])
            sqlite3_bind_text(st, idx, texts[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, idx);
    }
    if (col0)
        *col0 = -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && col0)
        *col0 = sqlite3_column_int64(st, 0);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc;
}

static int64_t next_number(const char *series)
{
    const char *t[] = {series};
    int64_t v;
    CU_ASSERT_EQUAL(run(inv_sql_next_number, t, NULL, 1, &v), SQLITE_DONE);
    return v;
}

/* Insert a document header; returns the sqlite3 code, *inserted = rows back. */
static int insert_doc(const char *id, const char *kind, const char *series, int64_t seq,
                      const char *payment, const char *of, int *inserted)
{
    char number[INV_NUMBER_MAX];
    inv_number_format(number, sizeof number, series, seq);
    const char *t[] = {id, kind,      series, "#", number, "o-1", payment,
                       of, "alice-1", NULL,   "#", "#",    "BRL", "#"};
    const int64_t ints[] = {0, 0, 0, seq, 0, 0, 0, 0, 0, 0, 1000, 1000, 0, 1767225600000LL};
    int64_t back;
    int rc = run(inv_sql_insert_doc, t, ints, 14, &back);
    *inserted = back != -1;
    return rc;
}

static void test_sql_numbers_consecutive(void)
{
    CU_ASSERT_EQUAL(next_number("2030"), 1);
    CU_ASSERT_EQUAL(next_number("2030"), 2);
    CU_ASSERT_EQUAL(next_number("NC-2030"), 1); /* series are independent */
    CU_ASSERT_EQUAL(next_number("2030"), 3);
}

static void test_sql_rollback_returns_number(void)
{
    CU_ASSERT_EQUAL(next_number("2031"), 1);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(next_number("2031"), 2);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(next_number("2031"), 2); /* no gap */
}

static void test_sql_give_back(void)
{
    CU_ASSERT_EQUAL(next_number("2032"), 1);
    CU_ASSERT_EQUAL(next_number("2032"), 2);
    const char *t[] = {"2032", "#"};
    const int64_t stale[] = {0, 1}, last[] = {0, 2};
    CU_ASSERT_EQUAL(run(inv_sql_give_back, t, stale, 2, NULL), SQLITE_DONE);
    CU_ASSERT_EQUAL(sqlite3_changes(db), 0); /* only the last number goes back */
    CU_ASSERT_EQUAL(run(inv_sql_give_back, t, last, 2, NULL), SQLITE_DONE);
    CU_ASSERT_EQUAL(sqlite3_changes(db), 1);
    CU_ASSERT_EQUAL(next_number("2032"), 2);
}

static void test_sql_one_invoice_per_payment(void)
{
    int inserted = 0;
    CU_ASSERT_EQUAL(insert_doc("i-1", "invoice", "2040", 1, "pay-1", NULL, &inserted), SQLITE_DONE);
    CU_ASSERT_EQUAL(inserted, 1);
    /* the same payment again, with a fresh number: nothing inserted, no error */
    CU_ASSERT_EQUAL(insert_doc("i-2", "invoice", "2040", 2, "pay-1", NULL, &inserted), SQLITE_DONE);
    CU_ASSERT_EQUAL(inserted, 0);
    int64_t count;
    const char *none[] = {NULL};
    CU_ASSERT_EQUAL(
        run("SELECT COUNT(*) FROM invoices WHERE payment_id = 'pay-1'", none, NULL, 0, &count),
        SQLITE_DONE);
    CU_ASSERT_EQUAL(count, 1);
    /* and a plain INSERT hits the UNIQUE constraint itself */
    CU_ASSERT_EQUAL(sqlite3_exec(db,
                                 "INSERT INTO invoices (id, kind, series, seq, number, order_id,"
                                 " payment_id, buyer_sub, subtotal_cents, total_cents, currency,"
                                 " issued_at) VALUES ('i-3', 'invoice', '2040', 3, '2040-000003',"
                                 " 'o-1', 'pay-1', 'alice-1', 1, 1, 'BRL', 0)",
                                 NULL, NULL, NULL),
                    SQLITE_CONSTRAINT);
    /* one credit note for the payment, then no second one */
    CU_ASSERT_EQUAL(insert_doc("c-1", "credit_note", "NC-2040", 1, "pay-1", "i-1", &inserted),
                    SQLITE_DONE);
    CU_ASSERT_EQUAL(inserted, 1);
    CU_ASSERT_EQUAL(insert_doc("c-2", "credit_note", "NC-2040", 2, "pay-1", "i-1", &inserted),
                    SQLITE_DONE);
    CU_ASSERT_EQUAL(inserted, 0);
}

static void test_sql_checks(void)
{
    int inserted = 0;
    /* a credit note must reference its invoice, an invoice must not */
    CU_ASSERT_EQUAL(insert_doc("c-9", "credit_note", "NC-2041", 1, "pay-9", NULL, &inserted),
                    SQLITE_CONSTRAINT);
    CU_ASSERT_EQUAL(insert_doc("i-9", "invoice", "2041", 1, "pay-9", "i-1", &inserted),
                    SQLITE_CONSTRAINT);
    /* a number is never handed out twice */
    CU_ASSERT_EQUAL(insert_doc("i-10", "invoice", "2041", 1, "pay-10", NULL, &inserted),
                    SQLITE_DONE);
    CU_ASSERT_EQUAL(insert_doc("i-11", "invoice", "2041", 1, "pay-11", NULL, &inserted),
                    SQLITE_CONSTRAINT);
    CU_ASSERT_EQUAL(insert_doc("i-12", "receipt", "2041", 2, "pay-12", NULL, &inserted),
                    SQLITE_CONSTRAINT);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite text = CU_add_suite("invoice text", NULL, NULL);
    CU_pSuite totals = CU_add_suite("invoice totals", NULL, NULL);
    CU_pSuite html = CU_add_suite("invoice html", NULL, NULL);
    CU_pSuite sql = CU_add_suite("invoice schema (sqlite)", db_setup, db_teardown);
    if (!text || !totals || !html || !sql ||
        !CU_add_test(text, "number format", test_number_format) ||
        !CU_add_test(text, "number format refuses", test_number_format_refuses) ||
        !CU_add_test(text, "series of a year", test_series) ||
        !CU_add_test(text, "money BRL", test_money_brl) ||
        !CU_add_test(text, "money other currencies", test_money_other) ||
        !CU_add_test(text, "money refuses", test_money_refuses) ||
        !CU_add_test(text, "html escape", test_escape) ||
        !CU_add_test(text, "buffer grows", test_buf_grows) ||
        !CU_add_test(totals, "sum", test_totals) ||
        !CU_add_test(totals, "bad lines", test_totals_bad_lines) ||
        !CU_add_test(totals, "overflow", test_totals_overflow) ||
        !CU_add_test(html, "page", test_html_page) ||
        !CU_add_test(html, "credit note page", test_html_credit_note) ||
        !CU_add_test(html, "broken documents", test_html_refuses_broken) ||
        !CU_add_test(sql, "numbers consecutive", test_sql_numbers_consecutive) ||
        !CU_add_test(sql, "rollback returns the number", test_sql_rollback_returns_number) ||
        !CU_add_test(sql, "give back", test_sql_give_back) ||
        !CU_add_test(sql, "one invoice per payment", test_sql_one_invoice_per_payment) ||
        !CU_add_test(sql, "checks", test_sql_checks)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
