/* routes_events.c - the catalog's events over HTTP:
 *   POST  /events        admin: create an event with its ticket types
 *   GET   /events        public: every event by starts_at, then id (paged)
 *   GET   /events/{id}   public: one event, each ticket type's `available`
 *   PATCH /events/{id}   admin: name, venue, starts_at, status, and per
 *                        ticket type price_cents / capacity
 * Admins also see each ticket type's sold and held.
 */
#include <stdio.h>

#include "products.h"

static void not_found(bh_request *req)
{
    bh_resp_problem(req, 404, "not-found", NULL, "no such event");
}

/* Answer 200 (or 201) with the event as it is now in this unit. */
static int respond_event(bh_request *req, const char *id, int status)
{
    json_t *event = NULL;
    int s = products_store_event_json(bh_req_unit(req), id, products_is_admin(req), bh_time_ms(),
                                      &event);
    if (s != BH_DB_OK)
        return products_db_fail(req, s);
    if (!event) {
        not_found(req);
        return 0;
    }
    bh_resp_json(req, status, event);
    return 0;
}

static int create_event(bh_request *req, void *arg)
{
    (void)arg;
    products_event_in in;
    json_t *errors = products_parse_event(bh_req_json(req), &in);
    if (errors)
        return products_invalid(req, "Invalid event", errors);
    char id[37], location[64];
    int s = products_store_insert_event(bh_req_unit(req), &in, bh_time_ms(), id);
    if (s != BH_DB_OK)
        return products_db_fail(req, s);
    snprintf(location, sizeof location, "/events/%s", id);
    if (bh_resp_header(req, "Location", location) != 0)
        return -1;
    return respond_event(req, id, 201);
}

static int list_events(bh_request *req, void *arg)
{
    (void)arg;
    bh_page page;
    if (bh_req_page(req, &page) != 0)
        return 0; /* the core set the 400 */
    int64_t after_ms = 0;
    char after_id[37];
    if (page.after && products_parse_event_cursor(page.after, &after_ms, after_id) != 0) {
        bh_resp_bad_cursor(req);
        return 0;
    }
    json_t *items = json_array();
    if (!items)
        return -1;
    int more = 0;
    int s =
        products_store_event_page(bh_req_unit(req), after_ms, page.after ? after_id : NULL,
                                  page.limit, products_is_admin(req), bh_time_ms(), items, &more);
    if (s != BH_DB_OK) {
        json_decref(items);
        return products_db_fail(req, s);
    }
    char key[64];
    if (more) {
        const json_t *last = json_array_get(items, json_array_size(items) - 1);
        int64_t starts = 0;
        /* the last event's own sort key, read back from its representation */
        if (bh_time_parse(json_string_value(json_object_get(last, "starts_at")), &starts) != 0) {
            json_decref(items);
            return -1;
        }
        products_event_cursor_key(starts, json_string_value(json_object_get(last, "id")), key);
    }
    return bh_resp_page(req, items, more ? key : NULL);
}

static int get_event(bh_request *req, void *arg)
{
    (void)arg;
    const char *id = bh_req_param(req, "id");
    if (!products_is_uuid(id)) {
        not_found(req);
        return 0;
    }
    return respond_event(req, id, 200);
}

static int patch_event(bh_request *req, void *arg)
{
    (void)arg;
    const char *id = bh_req_param(req, "id");
    if (!products_is_uuid(id)) {
        not_found(req);
        return 0;
    }
    products_event_patch p;
    json_t *errors = products_parse_event_patch(bh_req_json(req), &p);
    if (errors)
        return products_invalid(req, "Invalid event change", errors);
    products_patch_result result;
    size_t bad = 0;
    int s = products_store_patch_event(bh_req_unit(req), id, &p, bh_time_ms(), &result, &bad);
    if (s != BH_DB_OK)
        return products_db_fail(req, s);
    char ptr[64];
    switch (result) {
    case PRODUCTS_PATCHED: return respond_event(req, id, 200);
    case PRODUCTS_PATCH_NOT_FOUND: not_found(req); return 0;
    case PRODUCTS_PATCH_BAD_TYPE:
        snprintf(ptr, sizeof ptr, "/ticket_types/%zu/id", bad);
        bh_problem_field(&errors, ptr, "is not a ticket type of this event");
        return products_invalid(req, "Invalid event change", errors);
    case PRODUCTS_PATCH_BELOW_COMMITTED:
        bh_resp_problem(req, 409, "inventory-in-use", "Capacity below tickets in use",
                        "/ticket_types/%zu/capacity is below the tickets already sold or held",
                        bad);
        return 0;
    }
    return -1;
}

int products_event_routes(bh_plugin_ctx *ctx)
{
    const struct {
        bh_route route;
        products_doc doc;
    } routes[] = {
        {{
             .method = "POST",
             .path = "/events",
             .handler = create_event,
             .auth = BH_AUTH_ROLE,
             .auth_value = "admin",
             .flags = BH_ROUTE_JSON_BODY,
         },
         PRODUCTS_DOC_EVENT_CREATE},
        {{
             .method = "GET",
             .path = "/events",
             .handler = list_events,
         },
         PRODUCTS_DOC_EVENT_LIST},
        {{
             .method = "GET",
             .path = "/events/{id}",
             .handler = get_event,
         },
         PRODUCTS_DOC_EVENT_GET},
        {{
             .method = "PATCH",
             .path = "/events/{id}",
             .handler = patch_event,
             .auth = BH_AUTH_ROLE,
             .auth_value = "admin",
             .flags = BH_ROUTE_JSON_BODY,
         },
         PRODUCTS_DOC_EVENT_PATCH},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (products_route_add(ctx, routes[i].route, routes[i].doc) != 0)
            return -1;
    }
    return 0;
}
