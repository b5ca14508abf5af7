/* probe.c - a TEST FIXTURE, never installed: the `catalog-probe` plugin,
 * built by `make check` as tests/plugins/catalog_probe.so, calls the catalog
 * service over HTTP so tests/integration/products.test.mjs can check the
 * service's promises (no overselling under concurrent holds, nothing
 * negative, refusals named, rollback with the unit) on a real server and
 * database, without a test route in the production plugin.
 *
 *   POST /probe/catalog  {"ops": [{"op": "hold"|"release"|"commit"|"unsell"|
 *                          "lookup", "kind": "ticket"|"product", "id", "qty"}]}
 * runs the ops in one unit, in order, and answers 200 {"results": [...]}
 * ("ok", "not_found", "unavailable", "insufficient"; lookups add "item").
 * When an op is refused and "atomic" is true, it answers 409 with the same
 * body instead, so the unit rolls back what the earlier ops did.
 */
#include <string.h>

#include <bilhetagem/bilhetagem.h>
#include <bilhetagem/services/catalog.h>

static const char *result_name(int r)
{
    switch (r) {
    case BH_CATALOG_OK: return "ok";
    case BH_CATALOG_NOT_FOUND: return "not_found";
    case BH_CATALOG_UNAVAILABLE: return "unavailable";
    case BH_CATALOG_INSUFFICIENT: return "insufficient";
    default: return "db_error";
    }
}

static json_t *item_json(const bh_catalog_item *it)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:b}", "kind",
                     it->kind == BH_CATALOG_TICKET ? "ticket" : "product", "id", it->id, "event_id",
                     it->event_id, "event_name", it->event_name, "name", it->name, "sku", it->sku,
                     "price_cents", (json_int_t)it->price_cents, "currency", it->currency,
                     "available", (json_int_t)it->available, "on_sale", it->on_sale);
}

static int run_op(bh_request *req, const bh_catalog_service *svc, const json_t *op, json_t *out)
{
    const char *name = json_string_value(json_object_get(op, "op"));
    const char *kind_s = json_string_value(json_object_get(op, "kind"));
    const char *id = json_string_value(json_object_get(op, "id"));
    json_int_t qty = json_integer_value(json_object_get(op, "qty"));
    bh_catalog_kind kind = kind_s && strcmp(kind_s, "product") == 0  ? BH_CATALOG_PRODUCT
                           : kind_s && strcmp(kind_s, "ticket") == 0 ? BH_CATALOG_TICKET
                                                                     : (bh_catalog_kind)0;
    bh_unit *unit = bh_req_unit(req);
    bh_catalog_item item;
    int r;
    if (!name || !id)
        return -1;
    if (strcmp(name, "lookup") == 0)
        r = svc->lookup(svc->self, unit, kind, id, &item);
    else if (strcmp(name, "hold") == 0)
        r = svc->hold(svc->self, unit, kind, id, qty);
    else if (strcmp(name, "release") == 0)
        r = svc->release(svc->self, unit, kind, id, qty);
    else if (strcmp(name, "commit") == 0)
        r = svc->commit(svc->self, unit, kind, id, qty);
    else if (strcmp(name, "unsell") == 0)
        r = svc->unsell(svc->self, unit, kind, id, qty);
    else
        return -1;
    if (r < 0)
        return r; /* the unit failed: the core answers it */
    json_t *res = json_pack("{s:s}", "result", result_name(r));
    if (r == BH_CATALOG_OK && strcmp(name, "lookup") == 0)
        json_object_set_new(res, "item", item_json(&item));
    json_array_append_new(out, res);
    return r;
}

static int probe(bh_request *req, void *arg)
{
    const bh_catalog_service *svc = arg;
    const json_t *ops = json_object_get(bh_req_json(req), "ops");
    int atomic = json_is_true(json_object_get(bh_req_json(req), "atomic"));
    if (!json_is_array(ops) || json_array_size(ops) > 100) {
        bh_resp_problem(req, 400, "validation", NULL, "ops must be an array of at most 100");
        return 0;
    }
    json_t *results = json_array();
    int refused = 0;
    size_t i;
    const json_t *op;
    json_array_foreach(ops, i, op) {
        int r = run_op(req, svc, op, results);
        if (r < 0) {
            json_decref(results);
            return -1;
        }
        refused |= r != BH_CATALOG_OK;
    }
    bh_resp_json(req, atomic && refused ? 409 : 200, json_pack("{s:o}", "results", results));
    return 0;
}

static int probe_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    (void)config;
    *state = NULL;
    const bh_catalog_service *svc = bh_service_lookup(BH_CATALOG_SERVICE, 1);
    if (!svc) {
        bh_plugin_error(ctx, "no catalog service");
        return -1;
    }
    const bh_route r = {.method = "POST",
                        .path = "/probe/catalog",
                        .handler = probe,
                        .arg = (void *)svc,
                        .flags = BH_ROUTE_JSON_BODY};
    return bh_route_add(ctx, &r);
}

static const char *const probe_depends[] = {"products", NULL};

BH_PLUGIN(catalog_probe) = {
    .abi_version = BH_ABI_VERSION,
    .name = "catalog-probe",
    .version = "0",
    .depends = probe_depends,
    .init = probe_init,
};
