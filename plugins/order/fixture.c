/* fixture.c - order_fixture.so, a TEST-ONLY plugin (built by `make check`,
 * never installed): it stands in for the payment and invoice plugins so
 * tests/integration/order.test.mjs can drive the orders service over HTTP.
 * Admin only:
 *   GET  /test/order-fixture/{id}            service get + lines
 *   POST /test/order-fixture/{id}/paid       mark_paid {"payment_id"}
 *   POST /test/order-fixture/{id}/refunded   mark_refunded {"payment_id"}
 * Answers 200 {"result":"ok"}, 404 / 409 {"result":"not_found"|"conflict"}
 * like a caller of the service would, in the request's unit of work.
 */
#include <string.h>

#include <bilhetagem/bilhetagem.h>
#include <bilhetagem/services/orders.h>

static int answer(bh_request *req, int st)
{
    if (st < 0)
        return -1;
    int status = st == BH_ORDERS_OK ? 200 : st == BH_ORDERS_NOT_FOUND ? 404 : 409;
    const char *result = st == BH_ORDERS_OK          ? "ok"
                         : st == BH_ORDERS_NOT_FOUND ? "not_found"
                                                     : "conflict";
    bh_resp_json(req, status, json_pack("{s:s}", "result", result));
    return 0;
}

static const char *payment_id(bh_request *req)
{
    const json_t *p = json_object_get(bh_req_json(req), "payment_id");
    return json_is_string(p) ? json_string_value(p) : NULL;
}

static int paid(bh_request *req, void *arg)
{
    const bh_orders_service *o = arg;
    return answer(
        req, o->mark_paid(o->self, bh_req_unit(req), bh_req_param(req, "id"), payment_id(req)));
}

static int refunded(bh_request *req, void *arg)
{
    const bh_orders_service *o = arg;
    return answer(
        req, o->mark_refunded(o->self, bh_req_unit(req), bh_req_param(req, "id"), payment_id(req)));
}

static int show(bh_request *req, void *arg)
{
    const bh_orders_service *o = arg;
    bh_order_info info;
    bh_order_line lines[BH_ORDERS_MAX_LINES];
    size_t n = 0;
    const char *id = bh_req_param(req, "id");
    int for_update = bh_req_query(req, "for_update") != NULL;
    int st = o->get(o->self, bh_req_unit(req), id, for_update, &info);
    if (st == BH_ORDERS_OK)
        st = o->lines(o->self, bh_req_unit(req), id, lines, BH_ORDERS_MAX_LINES, &n);
    if (st != BH_ORDERS_OK)
        return answer(req, st);
    json_t *ls = json_array();
    for (size_t i = 0; ls && i < n; i++)
        json_array_append_new(ls,
                              json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "kind",
                                        (int)lines[i].kind, "ref_id", lines[i].ref_id, "event_id",
                                        lines[i].event_id, "name", lines[i].name, "sku",
                                        lines[i].sku, "quantity", (json_int_t)lines[i].quantity,
                                        "unit_price_cents", (json_int_t)lines[i].unit_price_cents,
                                        "line_total_cents", (json_int_t)lines[i].line_total_cents));
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:o*}", "id", info.id,
                             "status", info.status, "user_sub", info.user_sub, "user_email",
                             info.user_email, "subtotal_cents", (json_int_t)info.subtotal_cents,
                             "total_cents", (json_int_t)info.total_cents, "currency", info.currency,
                             "created_at_ms", (json_int_t)info.created_at_ms, "expires_at_ms",
                             (json_int_t)info.expires_at_ms, "lines", ls);
    if (!body)
        return -1;
    bh_resp_json(req, 200, body);
    return 0;
}

static int fixture_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    (void)config;
    (void)state;
    const bh_orders_service *o = bh_service_lookup(BH_ORDERS_SERVICE, BH_ORDERS_SERVICE_VERSION);
    if (!o) {
        bh_plugin_error(ctx, "no orders service");
        return -1;
    }
    const bh_route routes[] = {
        {.method = "GET",
         .path = "/test/order-fixture/{id}",
         .handler = show,
         .arg = (void *)o,
         .auth = BH_AUTH_ROLE,
         .auth_value = "admin"},
        {.method = "POST",
         .path = "/test/order-fixture/{id}/paid",
         .handler = paid,
         .arg = (void *)o,
         .auth = BH_AUTH_ROLE,
         .auth_value = "admin",
         .flags = BH_ROUTE_JSON_BODY},
        {.method = "POST",
         .path = "/test/order-fixture/{id}/refunded",
         .handler = refunded,
         .arg = (void *)o,
         .auth = BH_AUTH_ROLE,
         .auth_value = "admin",
         .flags = BH_ROUTE_JSON_BODY},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (bh_route_add(ctx, &routes[i]) != 0)
            return -1;
    return 0;
}

static const char *const fixture_depends[] = {"order", NULL};

BH_PLUGIN(order_fixture) = {
    .abi_version = BH_ABI_VERSION,
    .name = "order_fixture",
    .version = "test",
    .depends = fixture_depends,
    .init = fixture_init,
};
