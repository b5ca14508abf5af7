/* routes_common.c - what the catalog's event and product routes share:
 * who is asking, answering database failures and validation problems, and
 * the resource shape both follow (products_resource): admin-only writes,
 * public reads, one item by UUID or 404, 201 with its Location.
 */
#include <stdio.h>
#include <stdlib.h>

#include "products.h"

int products_is_admin(const bh_request *req)
{
    return bh_principal_in_group(bh_req_principal(req), "admin");
}

int products_db_fail(bh_request *req, int status)
{
    /* The core reads the unit's status after the handler and answers it:
     * 503 for RETRY (after its re-runs) and UNAVAILABLE, 500 for the rest. */
    bh_req_log(req, BH_LOG_DEBUG, "catalog statement failed (%d): %s", status,
               bh_db_error(bh_req_unit(req)));
    return -1;
}

int products_invalid(bh_request *req, const char *title, json_t *errors)
{
    bh_resp_problem_fields(req, 422, title, errors);
    return 0;
}

void products_not_found(bh_request *req, const products_resource *r)
{
    bh_resp_problem(req, 404, "not-found", NULL, "no such %s", r->name);
}

const char *products_item_id(bh_request *req, const products_resource *r)
{
    const char *id = bh_req_param(req, "id");
    if (products_is_uuid(id))
        return id;
    products_not_found(req, r);
    return NULL;
}

int products_respond(bh_request *req, const products_resource *r, const char *id, int status)
{
    if (status == 201) {
        char location[128];
        snprintf(location, sizeof location, "%s/%s", r->collection, id);
        if (bh_resp_header(req, "Location", location) != 0)
            return -1;
    }
    json_t *body = NULL;
    int s = r->fetch(bh_req_unit(req), id, products_is_admin(req), &body);
    if (s != BH_DB_OK)
        return products_db_fail(req, s);
    if (!body) {
        products_not_found(req, r);
        return 0;
    }
    bh_resp_json(req, status, body);
    return 0;
}

static int get_item(bh_request *req, void *arg)
{
    const products_resource *r = arg;
    const char *id = products_item_id(req, r);
    return id ? products_respond(req, r, id, 200) : 0;
}

/* Register `route` with the fragment `doc`. */
static int route_add(bh_plugin_ctx *ctx, bh_route route, products_doc doc)
{
    char *text = products_doc_text(doc);
    if (!text) {
        bh_plugin_error(ctx, "out of memory building the OpenAPI fragment of %s %s", route.method,
                        route.path);
        return -1;
    }
    route.openapi = text;
    int rc = bh_route_add(ctx, &route); /* the core copies what it keeps */
    free(text);
    return rc;
}

int products_resource_routes(bh_plugin_ctx *ctx, const products_resource *r)
{
    char item[64];
    snprintf(item, sizeof item, "%s/{id}", r->collection);
    void *arg = (void *)r; /* handed back as const products_resource * */
    const bh_route routes[] = {
        {.method = "POST",
         .path = r->collection,
         .handler = r->create,
         .arg = arg,
         .auth = BH_AUTH_ROLE,
         .auth_value = "admin",
         .flags = BH_ROUTE_JSON_BODY},
        {.method = "GET", .path = r->collection, .handler = r->list, .arg = arg},
        {.method = "GET", .path = item, .handler = get_item, .arg = arg},
        {.method = "PATCH",
         .path = item,
         .handler = r->patch,
         .arg = arg,
         .auth = BH_AUTH_ROLE,
         .auth_value = "admin",
         .flags = BH_ROUTE_JSON_BODY},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (route_add(ctx, routes[i], r->docs[i]) != 0)
            return -1;
    }
    return 0;
}
