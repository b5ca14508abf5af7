/* fuzz_order.c - the order plugin's POST /orders validation
 * (plugins/order/request.c) and pricing (pricing.c), behind the core's own
 * JSON decoding (jansson with JSON_REJECT_DUPLICATES, as the pipeline does).
 *
 * Input: a request body.  Invariants besides "no crash, no leak, no
 * undefined behaviour":
 *   - a refusal names at least one field, each as a JSON pointer ("/..."),
 *     and an acceptance names none;
 *   - an accepted request has 1..BH_ORDERS_MAX_LINES lines, tickets first,
 *     at least one ticket, every quantity 1..ORDER_MAX_QUANTITY, every id a
 *     non-empty string of at most ORDER_MAX_ID_BYTES, no id twice in a kind;
 *   - pricing those lines at any price either fits int64 exactly (checked
 *     against 128-bit arithmetic) or says overflow: never a wrapped total.
 */
#include <stdio.h>

#include "fuzz.h"
#include "order.h"

static void check_accepted(const order_request *r)
{
    if (r->n < 1 || r->n > BH_ORDERS_MAX_LINES || r->n_tickets < 1 || r->n_tickets > r->n)
        abort();
    for (size_t i = 0; i < r->n; i++) {
        const order_request_line *l = &r->lines[i];
        if ((i < r->n_tickets) != (l->kind == BH_ORDER_LINE_TICKET))
            abort(); /* tickets first */
        if (l->quantity < 1 || l->quantity > ORDER_MAX_QUANTITY || !l->id || !*l->id ||
            strlen(l->id) > ORDER_MAX_ID_BYTES)
            abort();
        for (size_t j = 0; j < i; j++)
            if (r->lines[j].kind == l->kind && !strcmp(r->lines[j].id, l->id))
                abort();
    }
}

/* Price the accepted lines at prices taken from the input's bytes. */
static void check_pricing(const order_request *r, const uint8_t *data, size_t size)
{
    order_price_line lines[BH_ORDERS_MAX_LINES];
    __int128 sum = 0;
    int overflow = 0;
    for (size_t i = 0; i < r->n; i++) {
        uint64_t p = 0;
        for (size_t k = 0; k < 8 && size; k++)
            p = p << 8 | data[(i * 8 + k) % size];
        lines[i].quantity = r->lines[i].quantity;
        lines[i].unit_price_cents = (int64_t)(p >> 1); /* >= 0 */
        __int128 line = (__int128)lines[i].quantity * lines[i].unit_price_cents;
        sum += line;
        if (line > INT64_MAX || sum > INT64_MAX)
            overflow = 1;
    }
    order_totals t;
    size_t bad = 0;
    order_price_status s = order_price(lines, r->n, &t, &bad);
    if (overflow != (s == ORDER_PRICE_OVERFLOW) || (!overflow && s != ORDER_PRICE_OK))
        abort();
    if (s == ORDER_PRICE_OK &&
        (t.subtotal_cents != (int64_t)sum || t.total_cents != t.subtotal_cents))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    json_error_t jerr;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!body)
        return 0; /* the core answers 400 before the plugin sees it */
    order_request r;
    json_t *errors = NULL;
    int rc = order_request_parse(body, &r, &errors);
    if (rc == 0) {
        if (errors)
            abort();
        check_accepted(&r);
        check_pricing(&r, data, size);
    } else {
        if (rc != -1 || !json_is_array(errors) || json_array_size(errors) == 0)
            abort();
        size_t i;
        json_t *e;
        json_array_foreach(errors, i, e) {
            const char *ptr = json_string_value(json_object_get(e, "pointer"));
            if (!ptr || (ptr[0] != '/' && ptr[0] != '\0') ||
                !json_is_string(json_object_get(e, "detail")))
                abort();
        }
    }
    json_decref(errors);
    json_decref(body);
    return 0;
}
