/* request.c - the body of POST /orders, checked before anything is looked
 * up or held (no SDK calls but the pure bh_json_pointer:
 * tests/unit/test_order.c feeds it JSON).
 *
 *   {"items":    [{"ticket_type_id": "<uuid>", "quantity": 2}, ...],
 *    "products": [{"product_id": "<uuid>", "quantity": 1}, ...]}
 *
 * "items" is required and holds at least one line; "products" is optional.
 * Every quantity is an integer in 1..ORDER_MAX_QUANTITY, every id a
 * non-empty string of at most ORDER_MAX_ID_BYTES, no id appears twice in
 * the same list, and the two lists hold BH_ORDERS_MAX_LINES lines at most.
 * Every invalid field is reported with its JSON pointer, so one answer
 * names all of them; a list over the line limit is refused as a whole
 * without looking inside it (bounded work for a huge array).  Unknown
 * members are refused too, a client's idea of a price first among them:
 * prices come from the catalog.
 */
#include <stdio.h>
#include <string.h>

#include <bilhetagem/http.h>

#include "order.h"

static void add_error(json_t **errors, const char *pointer, const char *detail)
{
    if (!*errors)
        *errors = json_array();
    json_t *e = json_pack("{s:s, s:s}", "pointer", pointer, "detail", detail);
    if (*errors && e)
        json_array_append_new(*errors, e);
    else
        json_decref(e);
}

/* Report every member of obj not named in `known` (NULL-terminated). */
static int unknown_members(const json_t *obj, const char *prefix, const char *const *known,
                           json_t **errors)
{
    const char *key;
    const json_t *v;
    int bad = 0;
    json_object_foreach((json_t *)obj, key, v) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (!known[i]) {
            char ptr[160];
            bh_json_pointer(ptr, sizeof ptr, prefix, key);
            add_error(errors, ptr, "is not a known field");
            bad = 1;
        }
    }
    return bad;
}

void order_line_pointer(bh_order_line_kind kind, size_t index, char *buf, size_t len)
{
    snprintf(buf, len, "/%s/%zu", kind == BH_ORDER_LINE_TICKET ? "items" : "products", index);
}

/* One element of "items" / "products"; 0 when valid (added to out). */
static int parse_line(const json_t *el, bh_order_line_kind kind, size_t index, order_request *out,
                      json_t **errors)
{
    const char *id_key = kind == BH_ORDER_LINE_TICKET ? "ticket_type_id" : "product_id";
    char base[48], ptr[96];
    order_line_pointer(kind, index, base, sizeof base);
    if (!json_is_object(el)) {
        add_error(errors, base, "must be an object");
        return -1;
    }
    const char *const known[] = {id_key, "quantity", NULL};
    int bad = unknown_members(el, base, known, errors);
    const json_t *id = json_object_get(el, id_key);
    snprintf(ptr, sizeof ptr, "%s/%s", base, id_key);
    if (!id) {
        add_error(errors, ptr, "is required");
        bad = 1;
    } else if (!json_is_string(id)) {
        add_error(errors, ptr, "must be a string");
        bad = 1;
    } else if (json_string_length(id) == 0 || json_string_length(id) > ORDER_MAX_ID_BYTES ||
               strlen(json_string_value(id)) != json_string_length(id)) {
        add_error(errors, ptr, "must be an id of 1 to 64 bytes");
        bad = 1;
    }
    const json_t *q = json_object_get(el, "quantity");
    snprintf(ptr, sizeof ptr, "%s/quantity", base);
    if (!q) {
        add_error(errors, ptr, "is required");
        bad = 1;
    } else if (!json_is_integer(q)) {
        add_error(errors, ptr, "must be an integer");
        bad = 1;
    } else if (json_integer_value(q) < 1 || json_integer_value(q) > ORDER_MAX_QUANTITY) {
        add_error(errors, ptr, "must be between 1 and 20");
        bad = 1;
    }
    if (bad)
        return -1;

    const char *idv = json_string_value(id);
    for (size_t i = 0; i < out->n; i++) {
        if (out->lines[i].kind == kind && strcmp(out->lines[i].id, idv) == 0) {
            char first[48], detail[96];
            order_line_pointer(kind, out->lines[i].index, first, sizeof first);
            snprintf(ptr, sizeof ptr, "%s/%s", base, id_key);
            snprintf(detail, sizeof detail, "duplicates %s: order each id once, with a quantity",
                     first);
            add_error(errors, ptr, detail);
            return -1;
        }
    }
    order_request_line *l = &out->lines[out->n++];
    l->kind = kind;
    l->id = idv;
    l->quantity = (int64_t)json_integer_value(q);
    l->index = index;
    return 0;
}

/* -1 with a non-NULL errors array, even when jansson ran out of memory
 * while describing what was wrong. */
static int refuse(json_t **errors)
{
    if (!*errors)
        *errors = json_array();
    return -1;
}

int order_request_parse(const json_t *body, order_request *out, json_t **errors)
{
    memset(out, 0, sizeof *out);
    *errors = NULL;
    if (!json_is_object(body)) {
        add_error(errors, "", "must be a JSON object");
        return refuse(errors);
    }
    static const char *const known[] = {"items", "products", NULL};
    int bad = unknown_members(body, "", known, errors);
    const json_t *items = json_object_get(body, "items");
    const json_t *products = json_object_get(body, "products");
    int shape_bad = 1;
    if (!items)
        add_error(errors, "/items", "is required");
    else if (!json_is_array(items))
        add_error(errors, "/items", "must be an array");
    else if (json_array_size(items) == 0)
        add_error(errors, "/items", "must hold at least one ticket line");
    else
        shape_bad = 0;
    if (products && !json_is_array(products)) {
        add_error(errors, "/products", "must be an array");
        shape_bad = 1;
    }
    if (shape_bad)
        return refuse(errors);

    size_t nt = json_array_size(items), np = products ? json_array_size(products) : 0;
    if (nt + np > BH_ORDERS_MAX_LINES) { /* array sizes: no overflow */
        add_error(errors, nt > BH_ORDERS_MAX_LINES ? "/items" : "/products",
                  "an order holds at most 20 lines, tickets and products together");
        return refuse(errors);
    }
    for (size_t i = 0; i < nt; i++)
        bad |= parse_line(json_array_get(items, i), BH_ORDER_LINE_TICKET, i, out, errors) != 0;
    out->n_tickets = out->n;
    for (size_t i = 0; i < np; i++)
        bad |= parse_line(json_array_get(products, i), BH_ORDER_LINE_PRODUCT, i, out, errors) != 0;
    return bad ? refuse(errors) : 0;
}
