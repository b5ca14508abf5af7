/* routes_products.c - the catalog's add-on products over HTTP:
 *   POST  /products        admin: create (sku unique: 409 sku-taken)
 *   GET   /products        public: products by sku (paged); inactive ones
 *                          only for admins
 *   GET   /products/{id}   public: one product, active or not
 *   PATCH /products/{id}   admin: name, price_cents, stock, active
 * Admins also see sold and held.
 */
#include <stdio.h>

#include "products.h"

static void not_found(bh_request *req)
{
    bh_resp_problem(req, 404, "not-found", NULL, "no such product");
}

static int respond_product(bh_request *req, const char *id, int status)
{
    json_t *product = NULL;
    int s = products_store_product_json(bh_req_unit(req), id, products_is_admin(req), &product);
    if (s != BH_DB_OK)
        return products_db_fail(req, s);
    if (!product) {
        not_found(req);
        return 0;
    }
    bh_resp_json(req, status, product);
    return 0;
}

static int create_product(bh_request *req, void *arg)
{
    (void)arg;
    products_product_in in;
    json_t *errors = products_parse_product(bh_req_json(req), &in);
    if (errors)
        return products_invalid(req, "Invalid product", errors);
    char id[37], location[64];
    int duplicate = 0;
    int s = products_store_insert_product(bh_req_unit(req), &in, bh_time_ms(), id, &duplicate);
    if (s != BH_DB_OK)
        return products_db_fail(req, s);
    if (duplicate) {
        bh_resp_problem(req, 409, "sku-taken", "SKU already in use",
                        "another product already has sku %s", in.sku);
        return 0;
    }
    snprintf(location, sizeof location, "/products/%s", id);
    if (bh_resp_header(req, "Location", location) != 0)
        return -1;
    return respond_product(req, id, 201);
}

static int list_products(bh_request *req, void *arg)
{
    (void)arg;
    bh_page page;
    if (bh_req_page(req, &page) != 0)
        return 0; /* the core set the 400 */
    if (page.after && !products_is_sku(page.after)) {
        bh_resp_bad_cursor(req);
        return 0;
    }
    json_t *items = json_array();
    if (!items)
        return -1;
    int more = 0;
    int s = products_store_product_page(bh_req_unit(req), page.after, page.limit,
                                        products_is_admin(req), items, &more);
    if (s != BH_DB_OK) {
        json_decref(items);
        return products_db_fail(req, s);
    }
    const json_t *last = json_array_get(items, json_array_size(items) - 1);
    const char *key = more ? json_string_value(json_object_get(last, "sku")) : NULL;
    /* key points into `items`, which the response steals: copy it first */
    return bh_resp_page(req, items, key ? bh_req_strdup(req, key) : NULL);
}

static int get_product(bh_request *req, void *arg)
{
    (void)arg;
    const char *id = bh_req_param(req, "id");
    if (!products_is_uuid(id)) {
        not_found(req);
        return 0;
    }
    return respond_product(req, id, 200);
}

static int patch_product(bh_request *req, void *arg)
{
    (void)arg;
    const char *id = bh_req_param(req, "id");
    if (!products_is_uuid(id)) {
        not_found(req);
        return 0;
    }
    products_product_patch p;
    json_t *errors = products_parse_product_patch(bh_req_json(req), &p);
    if (errors)
        return products_invalid(req, "Invalid product change", errors);
    products_patch_result result;
    int s = products_store_patch_product(bh_req_unit(req), id, &p, bh_time_ms(), &result);
    if (s != BH_DB_OK)
        return products_db_fail(req, s);
    switch (result) {
    case PRODUCTS_PATCHED: return respond_product(req, id, 200);
    case PRODUCTS_PATCH_NOT_FOUND:
    case PRODUCTS_PATCH_BAD_TYPE: not_found(req); return 0;
    case PRODUCTS_PATCH_BELOW_COMMITTED:
        bh_resp_problem(req, 409, "inventory-in-use", "Stock below items in use",
                        "stock is below the items already sold or held");
        return 0;
    }
    return -1;
}

int products_product_routes(bh_plugin_ctx *ctx)
{
    const struct {
        bh_route route;
        products_doc doc;
    } routes[] = {
        {{
             .method = "POST",
             .path = "/products",
             .handler = create_product,
             .auth = BH_AUTH_ROLE,
             .auth_value = "admin",
             .flags = BH_ROUTE_JSON_BODY,
         },
         PRODUCTS_DOC_PRODUCT_CREATE},
        {{
             .method = "GET",
             .path = "/products",
             .handler = list_products,
         },
         PRODUCTS_DOC_PRODUCT_LIST},
        {{
             .method = "GET",
             .path = "/products/{id}",
             .handler = get_product,
         },
         PRODUCTS_DOC_PRODUCT_GET},
        {{
             .method = "PATCH",
             .path = "/products/{id}",
             .handler = patch_product,
             .auth = BH_AUTH_ROLE,
             .auth_value = "admin",
             .flags = BH_ROUTE_JSON_BODY,
         },
         PRODUCTS_DOC_PRODUCT_PATCH},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (products_route_add(ctx, routes[i].route, routes[i].doc) != 0)
            return -1;
    }
    return 0;
}
