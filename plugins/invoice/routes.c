/* routes.c - reading invoices over HTTP.
 *
 *   GET /invoices/{id}         an invoice or a credit note, as JSON, or with
 *                              Accept: text/html as a printable page
 *   GET /orders/{id}/invoice   the order's invoice plus its credit_notes
 *
 * Both need a caller; only the buyer (the sub stored on the invoice) or an
 * admin sees a document: anyone else gets the same 404 as for an id that
 * does not exist.  The OpenAPI fragments are built with jansson at init.
 */
#include <stdlib.h>
#include <string.h>

#include <bilhetagem/bilhetagem.h>

#include "invoice.h"

static void not_found(bh_request *req, const char *detail)
{
    bh_resp_problem(req, 404, "not-found", NULL, "%s", detail);
}

/* 1 when the client prefers the HTML page: Accept names text/html and does
 * not name application/json before it (a browser's Accept, "text/html",
 * "text/html, application/json").  Anything else gets JSON. */
static int wants_html(const bh_request *req)
{
    const char *accept = bh_req_header(req, "Accept");
    if (!accept)
        return 0;
    const char *html = strstr(accept, "text/html");
    const char *json = strstr(accept, "application/json");
    return html && (!json || html < json);
}

static int send_html(bh_request *req, const json_t *doc)
{
    inv_buf page = {0};
    if (inv_html_render(doc, &page) != 0) {
        inv_buf_free(&page);
        bh_req_log(req, BH_LOG_ERROR, "could not render the invoice page");
        return -1;
    }
    bh_resp_bytes(req, 200, "text/html; charset=utf-8", page.data, page.len);
    inv_buf_free(&page);
    return 0;
}

/* Owner or admin, else the 404 of a missing document (doc is released). */
static int visible(bh_request *req, json_t *doc)
{
    const char *sub = json_string_value(json_object_get(json_object_get(doc, "buyer"), "sub"));
    if (sub && bh_req_owner_or_admin(req, sub))
        return 1;
    json_decref(doc);
    return 0;
}

static int get_invoice(bh_request *req, void *arg)
{
    (void)arg;
    const char *id = bh_req_param(req, "id");
    json_t *doc = NULL;
    if (!inv_is_uuid(id)) {
        not_found(req, "no invoice or credit note with this id");
        return 0;
    }
    int r = inv_store_load(bh_req_unit(req), id, &doc);
    if (r < 0)
        return -1; /* the core answers 503 / retries as the status says */
    if (r == 0 || !visible(req, doc)) {
        not_found(req, "no invoice or credit note with this id");
        return 0;
    }
    if (bh_resp_header(req, "Vary", "Accept") != 0) {
        json_decref(doc);
        return -1;
    }
    if (wants_html(req)) {
        r = send_html(req, doc);
        json_decref(doc);
        return r;
    }
    bh_resp_json(req, 200, doc);
    return 0;
}

static int get_order_invoice(bh_request *req, void *arg)
{
    (void)arg;
    const char *id = bh_req_param(req, "id");
    json_t *doc = NULL;
    if (!inv_is_uuid(id)) {
        not_found(req, "no invoice for this order (yet)");
        return 0;
    }
    int r = inv_store_load_for_order(bh_req_unit(req), id, &doc);
    if (r < 0)
        return -1;
    if (r == 0 || !visible(req, doc)) {
        not_found(req, "no invoice for this order (yet)");
        return 0;
    }
    bh_resp_json(req, 200, doc);
    return 0;
}

/* ---- OpenAPI ------------------------------------------------------------------ */

static json_t *line_schema(void)
{
    return json_pack("{s:s, s:[s,s,s,s,s], s:{s:{s:s, s:[s,s]}, s:{s:s}, s:{s:s}, s:{s:s, s:i},"
                     " s:{s:s}, s:{s:s}}}",
                     "type", "object", "required", "kind", "description", "quantity",
                     "unit_price_cents", "line_total_cents", "properties", "kind", "type", "string",
                     "enum", "ticket", "product", "description", "type", "string", "sku", "type",
                     "string", "quantity", "type", "integer", "minimum", 1, "unit_price_cents",
                     "type", "integer", "line_total_cents", "type", "integer");
}

static json_t *doc_schema(void)
{
    json_t *s = json_pack(
        "{s:s, s:[s,s,s,s,s,s,s,s,s,s,s], s:{s:{s:s, s:s}, s:{s:s, s:[s]}, s:{s:s, s:[s,s]},"
        " s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:{s:{s:s}, s:{s:[s,s]}}},"
        " s:{s:s, s:o}, s:{s:s}, s:{s:s}, s:{s:s, s:s},"
        " s:{s:s, s:s, s:{s:{s:s}, s:{s:s}}}}}",
        "type", "object", "required", "id", "number", "kind", "order_id", "payment_id", "issued_at",
        "buyer", "lines", "subtotal_cents", "total_cents", "currency", "properties", "id", "type",
        "string", "format", "uuid", "number", "type", "string", "examples", "2026-000001", "kind",
        "type", "string", "enum", "invoice", "credit_note", "order_id", "type", "string",
        "payment_id", "type", "string", "issued_at", "type", "string", "format", "date-time",
        "buyer", "type", "object", "properties", "sub", "type", "string", "email", "type", "string",
        "null", "lines", "type", "array", "items", line_schema(), "subtotal_cents", "type",
        "integer", "total_cents", "type", "integer", "currency", "type", "string", "pattern",
        "^[A-Z]{3}$", "credit_note_of", "type", "object", "description",
        "credit notes only: the invoice this one cancels", "properties", "id", "type", "string",
        "number", "type", "string");
    return s;
}

static json_t *problem_response(const char *description)
{
    return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", description, "content",
                     "application/problem+json", "schema", "type", "object");
}

static json_t *invoice_op(void)
{
    return json_pack(
        "{s:s, s:s, s:s, s:[s], s:{s:{s:s, s:{s:{s:o}, s:{s:{s:s}}}}, s:o}}", "operationId",
        "getInvoice", "summary", "An invoice or credit note (JSON, or a printable HTML page)",
        "description",
        "The buyer or an admin only; anyone else gets 404. Accept: text/html answers the"
        " printable page (text/html; charset=utf-8).",
        "tags", "invoice", "responses", "200", "description", "The invoice or credit note",
        "content", "application/json", "schema", doc_schema(), "text/html", "schema", "type",
        "string", "404", problem_response("No such invoice, or not yours"));
}

static json_t *order_invoice_op(void)
{
    json_t *schema = doc_schema();
    if (schema)
        json_object_set_new(json_object_get(schema, "properties"), "credit_notes",
                            json_pack("{s:s, s:o}", "type", "array", "items", doc_schema()));
    return json_pack(
        "{s:s, s:s, s:s, s:[s], s:{s:{s:s, s:{s:{s:o}}}, s:o}}", "operationId", "getOrderInvoice",
        "summary", "The invoice of an order, with its credit notes", "description",
        "The buyer or an admin only. 404 until the payment's invoice is issued"
        " (asynchronously, moments after the capture).",
        "tags", "invoice", "responses", "200", "description", "The invoice plus credit_notes",
        "content", "application/json", "schema", schema, "404",
        problem_response("No invoice for this order (yet), or not yours"));
}

static int add_route(bh_plugin_ctx *ctx, const char *path, bh_handler_fn fn, inv_state *st,
                     json_t *op)
{
    char *text = op ? json_dumps(op, JSON_COMPACT) : NULL;
    json_decref(op);
    if (!text) {
        bh_plugin_error(ctx, "out of memory building the OpenAPI fragment of %s", path);
        return -1;
    }
    bh_route r = {.method = "GET",
                  .path = path,
                  .handler = fn,
                  .arg = st,
                  .auth = BH_AUTH_AUTHENTICATED,
                  .openapi = text};
    int rc = bh_route_add(ctx, &r);
    free(text);
    return rc;
}

int inv_routes_add(bh_plugin_ctx *ctx, inv_state *st)
{
    if (add_route(ctx, "/invoices/{id}", get_invoice, st, invoice_op()) != 0 ||
        add_route(ctx, "/orders/{id}/invoice", get_order_invoice, st, order_invoice_op()) != 0)
        return -1;
    return 0;
}
