/* routes.c - the order routes:
 *   POST /orders               place an order: price from the catalog, hold
 *                              everything in the request's transaction
 *   GET  /orders               the caller's orders (admin: anyone's), newest first
 *   GET  /orders/{id}          one order (owner or admin, else 404)
 *   POST /orders/{id}/cancel   pending_payment -> cancelled, holds released
 *
 * Every handler works in bh_req_unit(req): an answer >= 400 rolls back
 * whatever it did, holds included, so a refused order leaves nothing held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bilhetagem/trace.h>

#include "openapi.h"
#include "order_plugin.h"

#define SUB_MAX 128   /* bh_order_info.user_sub */
#define EMAIL_MAX 254 /* bh_order_info.user_email */

int order_load_visible(bh_request *req, const char *id, int for_update, bh_order_info *out)
{
    int st = BH_ORDERS_NOT_FOUND;
    if (strlen(id) < sizeof out->id)
        st = order_store_get(bh_req_unit(req), id, for_update, out);
    if (st < 0)
        return -1;
    if (st == BH_ORDERS_NOT_FOUND || !bh_req_owner_or_admin(req, out->user_sub)) {
        bh_resp_problem(req, 404, "not-found", "Not Found", "no order with this id");
        return 1;
    }
    bh_trace_annotate(bh_req_unit(req), "order_id", out->id); /* searchable in X-Ray */
    return 0;
}

/* ---- POST /orders ------------------------------------------------------------ */

static const char *id_field(bh_order_line_kind k)
{
    return k == BH_ORDER_LINE_TICKET ? "ticket_type_id" : "product_id";
}

/* Look every line up in the catalog and copy what it says now: names and
 * prices are the catalog's, never the client's.  0, or 1 after answering
 * 422 (unknown ids, mixed currencies), or -1 on a database failure. */
static int lookup_lines(bh_request *req, const order_plugin *p, const order_request *rq,
                        order_line_rec *lines, char currency[4])
{
    const bh_catalog_service *c = p->catalog;
    json_t *errors = NULL;
    currency[0] = '\0';
    for (size_t i = 0; i < rq->n; i++) {
        const order_request_line *in = &rq->lines[i];
        char ptr[96], base[48];
        order_line_pointer(in->kind, in->index, base, sizeof base);
        snprintf(ptr, sizeof ptr, "%s/%s", base, id_field(in->kind));
        bh_catalog_item item;
        memset(&item, 0, sizeof item);
        int st =
            c->lookup(c->self, bh_req_unit(req),
                      in->kind == BH_ORDER_LINE_TICKET ? BH_CATALOG_TICKET : BH_CATALOG_PRODUCT,
                      in->id, &item);
        if (st < 0) {
            json_decref(errors);
            return -1;
        }
        if (st != BH_CATALOG_OK) {
            bh_problem_field(&errors, ptr, "no such %s",
                             in->kind == BH_ORDER_LINE_TICKET ? "ticket type" : "product");
            continue;
        }
        /* The catalog may accept another spelling of an id: compare its own. */
        for (size_t j = 0; j < i; j++) {
            if (lines[j].line.kind == in->kind && strcmp(lines[j].line.ref_id, item.id) == 0) {
                char first[48];
                order_line_pointer(in->kind, rq->lines[j].index, first, sizeof first);
                bh_problem_field(&errors, ptr, "duplicates %s", first);
                break;
            }
        }
        if (!currency[0])
            snprintf(currency, 4, "%s", item.currency);
        else if (strcmp(currency, item.currency) != 0)
            bh_problem_field(&errors, ptr, "is sold in %s, the order's other lines in %s",
                             item.currency, currency);
        order_line_rec *l = &lines[i];
        l->line.kind = in->kind;
        l->line.quantity = in->quantity;
        l->line.unit_price_cents = item.price_cents;
        snprintf(l->line.ref_id, sizeof l->line.ref_id, "%s", item.id);
        snprintf(l->line.event_id, sizeof l->line.event_id, "%s", item.event_id);
        snprintf(l->line.name, sizeof l->line.name, "%s", item.name);
        snprintf(l->line.sku, sizeof l->line.sku, "%s", item.sku);
        snprintf(l->event_name, sizeof l->event_name, "%s", item.event_name);
    }
    if (errors) {
        bh_resp_problem_fields(req, 422, "Invalid order", errors);
        return 1;
    }
    return 0;
}

/* Price every line; 0, or 1 after answering 422 amount-overflow. */
static int price_lines(bh_request *req, const order_request *rq, order_line_rec *lines, size_t n,
                       order_totals *tot)
{
    order_price_line pl[BH_ORDERS_MAX_LINES];
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        pl[i] = (order_price_line){lines[i].line.quantity, lines[i].line.unit_price_cents, 0};
    order_price_status st = order_price(pl, n, tot, &bad);
    if (st != ORDER_PRICE_OK) {
        char ptr[48];
        order_line_pointer(rq->lines[bad].kind, rq->lines[bad].index, ptr, sizeof ptr);
        bh_resp_problem(req, 422, "amount-overflow", "Amount overflow",
                        "%s: the line total or the order total does not fit in a 64-bit amount "
                        "of minor units",
                        ptr);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        lines[i].line.line_total_cents = pl[i].line_total_cents;
    return 0;
}

/* Hold every line; 0, or 1 after answering 409/422 naming the line that
 * could not be held (the core rolls back the holds already placed). */
static int hold_lines(bh_request *req, const order_plugin *p, const order_request *rq,
                      const order_line_rec *lines, size_t n)
{
    size_t bad = 0;
    int st = order_holds_apply(p, bh_req_unit(req), ORDER_HOLD, lines, n, &bad);
    if (st < 0)
        return -1;
    if (st == BH_CATALOG_OK)
        return 0;
    char ptr[48];
    order_line_pointer(rq->lines[bad].kind, rq->lines[bad].index, ptr, sizeof ptr);
    const char *what = rq->lines[bad].kind == BH_ORDER_LINE_TICKET ? "ticket type" : "product";
    if (st == BH_CATALOG_INSUFFICIENT)
        bh_resp_problem(req, 409, "insufficient-inventory", "Not enough available",
                        "%s: fewer than %lld of %s %s are available", ptr,
                        (long long)lines[bad].line.quantity, what, lines[bad].line.ref_id);
    else if (st == BH_CATALOG_UNAVAILABLE)
        bh_resp_problem(req, 409, "not-on-sale", "Not on sale", "%s: %s %s is not on sale", ptr,
                        what, lines[bad].line.ref_id);
    else {
        json_t *errors = NULL;
        char field[96];
        snprintf(field, sizeof field, "%s/%s", ptr, id_field(rq->lines[bad].kind));
        bh_problem_field(&errors, field, "no such %s", what);
        bh_resp_problem_fields(req, 422, "Invalid order", errors);
    }
    return 1;
}

static int publish_created(bh_unit *unit, const bh_order_info *o, const order_line_rec *lines,
                           size_t n)
{
    json_t *ls = json_array();
    for (size_t i = 0; ls && i < n; i++) {
        json_t *l =
            json_pack("{s:s, s:s, s:I, s:I}", "kind",
                      lines[i].line.kind == BH_ORDER_LINE_TICKET ? "ticket" : "product", "ref_id",
                      lines[i].line.ref_id, "quantity", (json_int_t)lines[i].line.quantity,
                      "line_total_cents", (json_int_t)lines[i].line.line_total_cents);
        if (!l || json_array_append_new(ls, l) != 0) {
            json_decref(ls);
            return -1;
        }
    }
    char expires[32];
    bh_time_format(o->expires_at_ms, expires);
    json_t *data = ls ? json_pack("{s:s, s:s, s:I, s:s, s:s, s:o}", "order_id", o->id, "user",
                                  o->user_sub, "total_cents", (json_int_t)o->total_cents,
                                  "currency", o->currency, "expires_at", expires, "lines", ls)
                      : NULL;
    if (!data)
        return -1;
    return bh_event_publish(unit, "order.created", o->id, data);
}

static int create_order(bh_request *req, void *arg)
{
    order_plugin *p = arg;
    const bh_principal *who = bh_req_principal(req);
    if (!who || !who->sub || strlen(who->sub) > SUB_MAX) {
        bh_resp_problem(req, 403, "forbidden", "Forbidden",
                        "the caller's identity (sub) is missing or longer than %d bytes", SUB_MAX);
        return 0;
    }
    order_request rq;
    json_t *errors = NULL;
    if (order_request_parse(bh_req_json(req), &rq, &errors) != 0) {
        bh_resp_problem_fields(req, 422, "Invalid order", errors);
        return 0;
    }
    order_line_rec *lines = bh_req_alloc(req, rq.n * sizeof *lines);
    bh_order_info o;
    memset(&o, 0, sizeof o);
    order_totals tot;
    int st = lookup_lines(req, p, &rq, lines, o.currency);
    if (st == 0)
        st = price_lines(req, &rq, lines, rq.n, &tot);
    if (st == 0)
        st = hold_lines(req, p, &rq, lines, rq.n);
    if (st != 0)
        return st < 0 ? -1 : 0;

    bh_uuid(o.id);
    bh_trace_annotate(bh_req_unit(req), "order_id", o.id);
    snprintf(o.status, sizeof o.status, "%s", order_state_name(ORDER_PENDING_PAYMENT));
    snprintf(o.user_sub, sizeof o.user_sub, "%s", who->sub);
    if (who->email && strlen(who->email) <= EMAIL_MAX)
        snprintf(o.user_email, sizeof o.user_email, "%s", who->email);
    o.subtotal_cents = tot.subtotal_cents;
    o.total_cents = tot.total_cents;
    o.created_at_ms = bh_time_ms();
    o.expires_at_ms = o.created_at_ms + p->hold_ms;
    bh_unit *unit = bh_req_unit(req);
    if (order_store_insert(unit, &o, lines, rq.n) != BH_DB_OK ||
        publish_created(unit, &o, lines, rq.n) != 0)
        return -1;
    json_t *body = order_render(&o, lines, rq.n);
    if (!body)
        return -1;
    bh_unit_count(unit, p->created, 1);
    char location[64];
    snprintf(location, sizeof location, "/orders/%s", o.id);
    if (bh_resp_header(req, "Location", location) != 0) {
        json_decref(body);
        return -1;
    }
    bh_resp_json(req, 201, body);
    return 0;
}

/* ---- GET /orders/{id} -------------------------------------------------------- */

static int get_order(bh_request *req, void *arg)
{
    (void)arg;
    bh_order_info o;
    order_line_rec lines[BH_ORDERS_MAX_LINES];
    size_t n = 0;
    int st = order_load_visible(req, bh_req_param(req, "id"), 0, &o);
    if (st != 0)
        return st < 0 ? -1 : 0;
    if (order_store_lines(bh_req_unit(req), o.id, lines, BH_ORDERS_MAX_LINES, &n) != BH_ORDERS_OK)
        return -1;
    json_t *body = order_render(&o, lines, n);
    if (!body)
        return -1;
    bh_resp_json(req, 200, body);
    return 0;
}

/* ---- GET /orders -------------------------------------------------------------- */

/* "created_at_ms|id" as this plugin wrote it; 0 or -1. */
static int parse_cursor(const char *key, int64_t *ms, char id[40])
{
    const char *bar = strchr(key, '|');
    if (!bar || bar == key || bar - key > 19 || strlen(bar + 1) == 0 || strlen(bar + 1) >= 40)
        return -1;
    int64_t v = 0;
    for (const char *c = key; c < bar; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *c - '0', &v))
            return -1;
    }
    *ms = v;
    snprintf(id, 40, "%s", bar + 1);
    return 0;
}

static int list_orders(bh_request *req, void *arg)
{
    (void)arg;
    bh_page page;
    if (bh_req_page(req, &page) != 0)
        return 0;
    const bh_principal *who = bh_req_principal(req);
    const char *user = bh_req_query(req, "user");
    if (!bh_principal_in_group(who, "admin")) {
        if (user && strcmp(user, who->sub) != 0) {
            bh_resp_problem(req, 403, "forbidden", "Forbidden",
                            "only admins may list another user's orders");
            return 0;
        }
        user = who->sub;
    } else if (user && (user[0] == '\0' || strlen(user) > SUB_MAX)) {
        bh_resp_problem(req, 400, "invalid-parameter", "Bad Request",
                        "user must be a sub of 1 to %d bytes", SUB_MAX);
        return 0;
    }
    int64_t after_ms = 0;
    char after_id[40];
    if (page.after && parse_cursor(page.after, &after_ms, after_id) != 0) {
        bh_resp_bad_cursor(req);
        return 0;
    }
    size_t want = (size_t)page.limit + 1, n = 0; /* one more: is there a next page? */
    bh_order_info *rows = bh_req_alloc(req, want * sizeof *rows);
    if (order_store_list(bh_req_unit(req), user, after_ms, page.after ? after_id : NULL, want, rows,
                         &n) != BH_ORDERS_OK)
        return -1;
    json_t *items = json_array();
    size_t shown = n > (size_t)page.limit ? (size_t)page.limit : n;
    for (size_t i = 0; items && i < shown; i++) {
        json_t *o = order_render_summary(&rows[i]);
        if (!o || json_array_append_new(items, o) != 0) {
            json_decref(items);
            return -1;
        }
    }
    char key[80];
    if (n > shown)
        snprintf(key, sizeof key, "%lld|%s", (long long)rows[shown - 1].created_at_ms,
                 rows[shown - 1].id);
    return bh_resp_page(req, items, n > shown ? key : NULL);
}

/* ---- POST /orders/{id}/cancel ------------------------------------------------- */

static int cancel_order(bh_request *req, void *arg)
{
    order_plugin *p = arg;
    bh_unit *unit = bh_req_unit(req);
    bh_order_info o;
    int st = order_load_visible(req, bh_req_param(req, "id"), 1, &o);
    if (st != 0)
        return st < 0 ? -1 : 0;
    order_state cur;
    int64_t now = bh_time_ms(), affected = 0;
    if (order_state_parse(o.status, &cur) != 0)
        return -1;
    if (!order_transition_allowed(cur, ORDER_CANCELLED)) {
        bh_resp_problem(req, 409, "order-state", "Conflict",
                        "the order is %s: only a pending_payment order can be cancelled", o.status);
        return 0;
    }
    if (order_store_transition(unit, o.id, cur, ORDER_CANCELLED, now, NULL, &affected) !=
        BH_ORDERS_OK)
        return -1;
    if (affected == 0) { /* locked above, so only a bug gets here */
        bh_resp_problem(req, 409, "order-state", "Conflict", "the order changed meanwhile");
        return 0;
    }
    if (order_holds_release_order(p, unit, o.id) != 0)
        return -1;
    const bh_principal *who = bh_req_principal(req);
    if (bh_event_publish(unit, "order.cancelled", o.id,
                         json_pack("{s:s, s:s, s:s}", "order_id", o.id, "user", o.user_sub,
                                   "cancelled_by", who->sub)) != 0)
        return -1;
    bh_unit_count(unit, p->cancelled, 1);
    snprintf(o.status, sizeof o.status, "%s", order_state_name(ORDER_CANCELLED));
    order_line_rec lines[BH_ORDERS_MAX_LINES];
    size_t n = 0;
    if (order_store_lines(unit, o.id, lines, BH_ORDERS_MAX_LINES, &n) != BH_ORDERS_OK)
        return -1;
    json_t *body = order_render(&o, lines, n);
    if (!body)
        return -1;
    bh_resp_json(req, 200, body);
    return 0;
}

int order_routes_add(order_plugin *p)
{
    const bh_route routes[] = {
        {.method = "POST",
         .path = "/orders",
         .handler = create_order,
         .arg = p,
         .auth = BH_AUTH_AUTHENTICATED,
         .flags = BH_ROUTE_JSON_BODY | BH_ROUTE_IDEMPOTENT,
         .openapi = order_doc_create},
        {.method = "GET",
         .path = "/orders",
         .handler = list_orders,
         .arg = p,
         .auth = BH_AUTH_AUTHENTICATED,
         .openapi = order_doc_list},
        {.method = "GET",
         .path = "/orders/{id}",
         .handler = get_order,
         .arg = p,
         .auth = BH_AUTH_AUTHENTICATED,
         .openapi = order_doc_get},
        {.method = "POST",
         .path = "/orders/{id}/cancel",
         .handler = cancel_order,
         .arg = p,
         .auth = BH_AUTH_AUTHENTICATED,
         .openapi = order_doc_cancel},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (bh_route_add(p->ctx, &routes[i]) != 0)
            return -1;
    return 0;
}
