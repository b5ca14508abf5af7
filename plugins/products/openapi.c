/* openapi.c - the OpenAPI 3.1 operation fragments of the catalog's routes,
 * built with jansson from a few shared schema pieces (an event, a product,
 * a page, a problem) and handed to bh_route_add() as text.
 *
 * The core adds what it knows better: the path parameters, `security`, and
 * the shared problem responses (400/415 on JSON bodies, 401/403 on admin
 * routes, 429).  Fragments describe what the handlers really do; the limits
 * are the ones validate.c enforces.
 */
#include <stdlib.h>

#include "products.h"

/* ---- schema pieces (each call returns a new reference) ---------------------- */

static json_t *s_type(const char *type)
{
    return json_pack("{s:s}", "type", type);
}

static json_t *s_text(void)
{
    return json_pack("{s:s, s:i, s:i}", "type", "string", "minLength", 1, "maxLength",
                     PRODUCTS_NAME_MAX);
}

static json_t *s_int(json_int_t max)
{
    return json_pack("{s:s, s:i, s:I}", "type", "integer", "minimum", 0, "maximum", max);
}

static json_t *s_time(void)
{
    return json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
}

static json_t *s_uuid(void)
{
    return json_pack("{s:s, s:s}", "type", "string", "format", "uuid");
}

static json_t *s_currency(void)
{
    return json_pack("{s:s, s:s, s:s}", "type", "string", "pattern", "^[A-Z]{3}$", "default",
                     PRODUCTS_DEFAULT_CURRENCY);
}

static json_t *s_admin_int(void)
{
    return json_pack("{s:s, s:s}", "type", "integer", "description", "shown to admins only");
}

static json_t *ticket_schema(void)
{
    return json_pack("{s:s, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}}", "type", "object",
                     "properties", "id", s_uuid(), "name", s_type("string"), "price_cents",
                     s_type("integer"), "currency", s_type("string"), "capacity", s_type("integer"),
                     "available", s_type("integer"), "sold", s_admin_int(), "held", s_admin_int());
}

static json_t *event_schema(void)
{
    return json_pack("{s:s, s:{s:o, s:o, s:o, s:o, s:o, s:{s:s, s:[s,s]}, s:o, s:{s:s, s:o},"
                     " s:o, s:o}}",
                     "type", "object", "properties", "id", s_uuid(), "name", s_type("string"),
                     "venue", s_type("string"), "starts_at", s_time(), "currency", s_type("string"),
                     "status", "type", "string", "enum", "active", "cancelled", "on_sale",
                     s_type("boolean"), "ticket_types", "type", "array", "items", ticket_schema(),
                     "created_at", s_time(), "updated_at", s_time());
}

static json_t *product_schema(void)
{
    return json_pack("{s:s, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}}",
                     "type", "object", "properties", "id", s_uuid(), "sku", s_type("string"),
                     "name", s_type("string"), "price_cents", s_type("integer"), "currency",
                     s_type("string"), "stock", s_type("integer"), "available", s_type("integer"),
                     "active", s_type("boolean"), "sold", s_admin_int(), "held", s_admin_int(),
                     "created_at", s_time(), "updated_at", s_time());
}

static json_t *event_in_schema(void)
{
    return json_pack("{s:s, s:b, s:[s,s,s,s], s:{s:o, s:o, s:o, s:o, s:{s:s, s:i, s:i, s:{s:s, s:b,"
                     " s:[s,s,s], s:{s:o, s:o, s:o}}}}}",
                     "type", "object", "additionalProperties", 0, "required", "name", "venue",
                     "starts_at", "ticket_types", "properties", "name", s_text(), "venue", s_text(),
                     "starts_at", s_time(), "currency", s_currency(), "ticket_types", "type",
                     "array", "minItems", 1, "maxItems", PRODUCTS_TYPES_MAX, "items", "type",
                     "object", "additionalProperties", 0, "required", "name", "price_cents",
                     "capacity", "properties", "name", s_text(), "price_cents",
                     s_int(PRODUCTS_PRICE_MAX), "capacity", s_int(PRODUCTS_QTY_MAX));
}

static json_t *event_patch_schema(void)
{
    return json_pack(
        "{s:s, s:b, s:i, s:{s:o, s:o, s:o, s:{s:s, s:[s,s]}, s:{s:s, s:i, s:i, s:{s:s, s:b,"
        " s:[s], s:{s:o, s:o, s:o}}}}}",
        "type", "object", "additionalProperties", 0, "minProperties", 1, "properties", "name",
        s_text(), "venue", s_text(), "starts_at", s_time(), "status", "type", "string", "enum",
        "active", "cancelled", "ticket_types", "type", "array", "minItems", 1, "maxItems",
        PRODUCTS_TYPES_MAX, "items", "type", "object", "additionalProperties", 0, "required", "id",
        "properties", "id", s_uuid(), "price_cents", s_int(PRODUCTS_PRICE_MAX), "capacity",
        s_int(PRODUCTS_QTY_MAX));
}

static json_t *product_in_schema(void)
{
    return json_pack("{s:s, s:b, s:[s,s,s,s], s:{s:{s:s, s:s}, s:o, s:o, s:o, s:o, s:{s:s, s:b}}}",
                     "type", "object", "additionalProperties", 0, "required", "sku", "name",
                     "price_cents", "stock", "properties", "sku", "type", "string", "pattern",
                     "^[A-Za-z0-9._-]{1,64}$", "name", s_text(), "price_cents",
                     s_int(PRODUCTS_PRICE_MAX), "stock", s_int(PRODUCTS_QTY_MAX), "currency",
                     s_currency(), "active", "type", "boolean", "default", 1);
}

static json_t *product_patch_schema(void)
{
    return json_pack("{s:s, s:b, s:i, s:{s:o, s:o, s:o, s:o}}", "type", "object",
                     "additionalProperties", 0, "minProperties", 1, "properties", "name", s_text(),
                     "price_cents", s_int(PRODUCTS_PRICE_MAX), "stock", s_int(PRODUCTS_QTY_MAX),
                     "active", s_type("boolean"));
}

static json_t *page_schema(json_t *item)
{
    return json_pack("{s:s, s:[s,s], s:{s:{s:s, s:o}, s:{s:[s,s]}}}", "type", "object", "required",
                     "items", "next_cursor", "properties", "items", "type", "array", "items", item,
                     "next_cursor", "type", "string", "null");
}

/* ---- responses and operations ----------------------------------------------- */

static json_t *ok(const char *description, json_t *schema)
{
    return json_pack("{s:s, s:{s:{s:o}}}", "description", description, "content",
                     "application/json", "schema", schema);
}

static json_t *problem(const char *description)
{
    return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", description, "content",
                     "application/problem+json", "schema", "type", "object");
}

static json_t *request_body(json_t *schema)
{
    return json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content", "application/json", "schema",
                     schema);
}

static json_t *list_parameters(void)
{
    return json_pack("[{s:s, s:s, s:b, s:{s:s, s:i, s:i, s:i}},"
                     " {s:s, s:s, s:b, s:s, s:{s:s}}]",
                     "name", "limit", "in", "query", "required", 0, "schema", "type", "integer",
                     "minimum", 1, "maximum", 100, "default", 20, "name", "cursor", "in", "query",
                     "required", 0, "description", "next_cursor of the previous page", "schema",
                     "type", "string");
}

static json_t *operation(const char *id, const char *summary, json_t *responses)
{
    return json_pack("{s:s, s:s, s:[s], s:o}", "operationId", id, "summary", summary, "tags",
                     "catalog", "responses", responses);
}

static json_t *build(products_doc which)
{
    json_t *op = NULL;
    const char *invalid = "Invalid fields: errors[] names each (validation)";
    switch (which) {
    case PRODUCTS_DOC_EVENT_CREATE:
        op = operation("createEvent", "Create an event with its ticket types",
                       json_pack("{s:o, s:o}", "201", ok("The event", event_schema()), "422",
                                 problem(invalid)));
        if (op && json_object_set_new(op, "requestBody", request_body(event_in_schema())) != 0)
            break;
        return op;
    case PRODUCTS_DOC_EVENT_LIST:
        op = operation("listEvents", "List events by start time, then id",
                       json_pack("{s:o, s:o}", "200",
                                 ok("A page of events", page_schema(event_schema())), "400",
                                 problem("A bad limit or cursor")));
        if (op && json_object_set_new(op, "parameters", list_parameters()) != 0)
            break;
        return op;
    case PRODUCTS_DOC_EVENT_GET:
        return operation("getEvent", "Get an event and what each ticket type has available",
                         json_pack("{s:o, s:o}", "200", ok("The event", event_schema()), "404",
                                   problem("No such event")));
    case PRODUCTS_DOC_EVENT_PATCH:
        op = operation("patchEvent", "Change an event, or its ticket types' price and capacity",
                       json_pack("{s:o, s:o, s:o, s:o}", "200", ok("The event", event_schema()),
                                 "404", problem("No such event"), "409",
                                 problem("A capacity below the tickets sold or held "
                                         "(inventory-in-use)"),
                                 "422", problem(invalid)));
        if (op && json_object_set_new(op, "requestBody", request_body(event_patch_schema())) != 0)
            break;
        return op;
    case PRODUCTS_DOC_PRODUCT_CREATE:
        op = operation("createProduct", "Create an add-on product",
                       json_pack("{s:o, s:o, s:o}", "201", ok("The product", product_schema()),
                                 "409", problem("The sku is taken (sku-taken)"), "422",
                                 problem(invalid)));
        if (op && json_object_set_new(op, "requestBody", request_body(product_in_schema())) != 0)
            break;
        return op;
    case PRODUCTS_DOC_PRODUCT_LIST:
        op = operation("listProducts", "List products by sku (inactive ones for admins only)",
                       json_pack("{s:o, s:o}", "200",
                                 ok("A page of products", page_schema(product_schema())), "400",
                                 problem("A bad limit or cursor")));
        if (op && json_object_set_new(op, "parameters", list_parameters()) != 0)
            break;
        return op;
    case PRODUCTS_DOC_PRODUCT_GET:
        return operation("getProduct", "Get a product",
                         json_pack("{s:o, s:o}", "200", ok("The product", product_schema()), "404",
                                   problem("No such product")));
    case PRODUCTS_DOC_PRODUCT_PATCH:
        op = operation("patchProduct", "Change a product's name, price, stock or active flag",
                       json_pack("{s:o, s:o, s:o, s:o}", "200", ok("The product", product_schema()),
                                 "404", problem("No such product"), "409",
                                 problem("Stock below the items sold or held (inventory-in-use)"),
                                 "422", problem(invalid)));
        if (op && json_object_set_new(op, "requestBody", request_body(product_patch_schema())) != 0)
            break;
        return op;
    }
    json_decref(op);
    return NULL;
}

char *products_doc_text(products_doc which)
{
    json_t *op = build(which);
    char *text = op ? json_dumps(op, JSON_COMPACT) : NULL;
    json_decref(op);
    return text;
}
