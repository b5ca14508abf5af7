/* tickets.c - the tickets of paid orders:
 *   GET  /orders/{id}/tickets   the order's tickets (owner or admin, else 404)
 *   POST /checkins              {code}: admit a ticket once (staff or admin)
 *
 * Tickets are issued by the orders service when an order is paid
 * (service.c); a code is 32 hex digits of the kernel's CSPRNG (128 bits),
 * so it cannot be guessed.  Admission is one conditional UPDATE valid ->
 * used: of two scanners racing over the same code exactly one admits it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openapi.h"
#include "order_plugin.h"

#define CODE_MAX 128 /* longer input cannot be a code: 404 without a lookup */

/* The cursor key this list writes: a ticket's seq, 1 to 18 digits. */
static int parse_seq(const char *key, int64_t *out)
{
    size_t n = strlen(key);
    if (n == 0 || n > 18 || strspn(key, "0123456789") != n)
        return -1;
    *out = (int64_t)strtoll(key, NULL, 10);
    return 0;
}

static int list_tickets(bh_request *req, void *arg)
{
    (void)arg;
    bh_page page;
    if (bh_req_page(req, &page) != 0)
        return 0;
    int64_t after = 0;
    if (page.after && parse_seq(page.after, &after) != 0) {
        bh_resp_bad_cursor(req);
        return 0;
    }
    bh_order_info o;
    int st = order_load_visible(req, bh_req_param(req, "id"), 0, &o);
    if (st != 0)
        return st < 0 ? -1 : 0;
    size_t want = (size_t)page.limit + 1, n = 0;
    order_ticket *t = bh_req_alloc(req, want * sizeof *t);
    if (order_store_tickets(bh_req_unit(req), o.id, after, want, t, &n) != BH_ORDERS_OK)
        return -1;
    size_t shown = n > (size_t)page.limit ? (size_t)page.limit : n;
    json_t *items = json_array();
    for (size_t i = 0; items && i < shown; i++) {
        json_t *j = order_render_ticket(&t[i]);
        if (!j || json_array_append_new(items, j) != 0) {
            json_decref(items);
            return -1;
        }
    }
    char key[24];
    if (n > shown)
        snprintf(key, sizeof key, "%lld", (long long)t[shown - 1].seq);
    return bh_resp_page(req, items, n > shown ? key : NULL);
}

static int checkin(bh_request *req, void *arg)
{
    order_plugin *p = arg;
    const bh_principal *who = bh_req_principal(req);
    if (!bh_principal_in_group(who, "staff") && !bh_principal_in_group(who, "admin")) {
        bh_resp_problem(req, 403, "forbidden", "Forbidden",
                        "checking tickets in needs the staff or admin group");
        return 0;
    }
    const json_t *body = bh_req_json(req);
    const json_t *code = json_is_object(body) ? json_object_get(body, "code") : NULL;
    if (!json_is_string(code) || json_string_length(code) == 0) {
        json_t *errors = NULL;
        bh_problem_field(&errors, json_is_object(body) ? "/code" : "",
                         json_is_object(body) ? "must be a non-empty string"
                                              : "must be a JSON object");
        bh_resp_problem_fields(req, 422, "Invalid check-in", errors);
        return 0;
    }
    const char *c = json_string_value(code);
    bh_unit *unit = bh_req_unit(req);
    order_ticket t;
    int64_t now = bh_time_ms(), affected = 0;
    int st = BH_ORDERS_NOT_FOUND;
    if (json_string_length(code) <= CODE_MAX) {
        if (order_store_checkin(unit, c, who->sub, now, &affected) != BH_DB_OK)
            return -1;
        st = order_store_ticket(unit, c, &t);
    }
    if (st < 0)
        return -1;
    if (st == BH_ORDERS_NOT_FOUND) {
        bh_resp_problem(req, 404, "not-found", "Not Found", "no ticket with this code");
        return 0;
    }
    if (affected == 0) {
        if (strcmp(t.status, "void") == 0)
            bh_resp_problem(req, 409, "ticket-void", "Conflict",
                            "this ticket was voided (its order was refunded)");
        else
            bh_resp_problem(req, 409, "ticket-used", "Conflict",
                            "this ticket was already checked in");
        return 0;
    }
    json_t *out = order_render_ticket(&t);
    char at[32];
    bh_time_format(now, at);
    if (!out || json_object_set_new(out, "checked_in_at", json_string(at)) != 0) {
        json_decref(out);
        return -1;
    }
    bh_unit_count(unit, p->checked_in, 1);
    bh_resp_json(req, 200, out);
    return 0;
}

int order_ticket_routes_add(order_plugin *p)
{
    const bh_route routes[] = {
        {.method = "GET",
         .path = "/orders/{id}/tickets",
         .handler = list_tickets,
         .arg = p,
         .auth = BH_AUTH_AUTHENTICATED,
         .openapi = order_doc_tickets},
        {.method = "POST",
         .path = "/checkins",
         .handler = checkin,
         .arg = p,
         .auth = BH_AUTH_AUTHENTICATED,
         .flags = BH_ROUTE_JSON_BODY,
         .openapi = order_doc_checkin},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (bh_route_add(p->ctx, &routes[i]) != 0)
            return -1;
    return 0;
}
