/* routes_common.c - what the catalog's event and product routes share:
 * who is asking, answering database failures and validation problems, and
 * the shape of a page of results.
 */
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

int products_route_add(bh_plugin_ctx *ctx, bh_route route, products_doc doc)
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
