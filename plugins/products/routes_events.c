/* routes_events.c - the catalog's events over HTTP:
 *   POST  /events        admin: create an event with its ticket types
 *   GET   /events        public: every event by starts_at, then id (paged)
 *   GET   /events/{id}   public: one event, each ticket type's `available`
 *   PATCH /events/{id}   admin: name, venue, starts_at, status, and per
 *                        ticket type price_cents / capacity
 * Admins also see each ticket type's sold and held.  GET /events/{id}, the
 * Location and the 404s are the common resource's (routes_common.c).
 */
#include <stdio.h>

#include "products.h"

/* The event as it is now: ticket types' `available` depends on the clock. */
static int fetch_event(bh_unit *unit, const char *id, int admin, json_t **out)
{
    return products_store_event_json(unit, id, admin, bh_time_ms(), out);
}

static int create_event(bh_request *req, void *arg)
{
    products_event_in in;
    json_t *errors = products_parse_event(bh_req_json(req), &in);
    if (errors)
        return products_invalid(req, "Invalid event", errors);
    char id[37];
    int s = products_store_insert_event(bh_req_unit(req), &in, bh_time_ms(), id);
    if (s != BH_DB_OK)
        return products_db_fail(req, s);
    return products_respond(req, arg, id, 201);
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

static int patch_event(bh_request *req, void *arg)
{
    const char *id = products_item_id(req, arg);
    if (!id)
        return 0;
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
    case PRODUCTS_PATCHED: return products_respond(req, arg, id, 200);
    case PRODUCTS_PATCH_NOT_FOUND: products_not_found(req, arg); return 0;
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

const products_resource products_events = {
    .name = "event",
    .collection = "/events",
    .fetch = fetch_event,
    .create = create_event,
    .list = list_events,
    .patch = patch_event,
    .docs = {PRODUCTS_DOC_EVENT_CREATE, PRODUCTS_DOC_EVENT_LIST, PRODUCTS_DOC_EVENT_GET,
             PRODUCTS_DOC_EVENT_PATCH},
};
