/* routes_products.c - the catalog's add-on products over HTTP:
 *   POST  /products        admin: create (sku unique: 409 sku-taken)
 *   GET   /products        public: products by sku (paged); inactive ones
 *                          only for admins
 *   GET   /products/{id}   public: one product, active or not
 *   PATCH /products/{id}   admin: name, price_cents, stock, active
 * Admins also see sold and held.  GET /products/{id}, the Location and the
 * 404s are the common resource's (routes_common.c).
 */
#include "products.h"

static int create_product(bh_request *req, void *arg)
{
    products_product_in in;
    json_t *errors = products_parse_product(bh_req_json(req), &in);
    if (errors)
        return products_invalid(req, "Invalid product", errors);
    char id[37];
    int duplicate = 0;
    int s = products_store_insert_product(bh_req_unit(req), &in, bh_time_ms(), id, &duplicate);
    if (s != BH_DB_OK)
        return products_db_fail(req, s);
    if (duplicate) {
        bh_resp_problem(req, 409, "sku-taken", "SKU already in use",
                        "another product already has sku %s", in.sku);
        return 0;
    }
    return products_respond(req, arg, id, 201);
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

static int patch_product(bh_request *req, void *arg)
{
    const char *id = products_item_id(req, arg);
    if (!id)
        return 0;
    products_product_patch p;
    json_t *errors = products_parse_product_patch(bh_req_json(req), &p);
    if (errors)
        return products_invalid(req, "Invalid product change", errors);
    products_patch_result result;
    int s = products_store_patch_product(bh_req_unit(req), id, &p, bh_time_ms(), &result);
    if (s != BH_DB_OK)
        return products_db_fail(req, s);
    switch (result) {
    case PRODUCTS_PATCHED: return products_respond(req, arg, id, 200);
    case PRODUCTS_PATCH_NOT_FOUND:
    case PRODUCTS_PATCH_BAD_TYPE: products_not_found(req, arg); return 0;
    case PRODUCTS_PATCH_BELOW_COMMITTED:
        bh_resp_problem(req, 409, "inventory-in-use", "Stock below items in use",
                        "stock is below the items already sold or held");
        return 0;
    }
    return -1;
}

const products_resource products_products = {
    .name = "product",
    .collection = "/products",
    .fetch = products_store_product_json,
    .create = create_product,
    .list = list_products,
    .patch = patch_product,
    .docs = {PRODUCTS_DOC_PRODUCT_CREATE, PRODUCTS_DOC_PRODUCT_LIST, PRODUCTS_DOC_PRODUCT_GET,
             PRODUCTS_DOC_PRODUCT_PATCH},
};
