/* routes.c - charging an order, reading a payment, refunding one.
 *
 *   POST /orders/{id}/payments   the order's owner; Idempotency-Key
 *   GET  /payments/{id}          the payment's owner or an admin
 *   POST /payments/{id}/refund   admins
 *
 * The charge runs inside the request's unit: the order is read FOR UPDATE,
 * the gateway called (bounded by the retry budget and the breaker), then
 * the outcome recorded and the order marked paid, all in one transaction.
 * The core may run a handler again after BH_DB_RETRY; the payment's id
 * (the gateway's idempotency key) and the gateway's answer are kept in the
 * request context, so a re-run charges nobody twice and records what the
 * gateway said even if the order moved on meanwhile.  The id itself is
 * derived from (caller, order, Idempotency-Key) (payid.c), so a client's
 * retry of a request that failed with a 5xx after a capture reaches the
 * gateway under the same key, and is not charged twice either.
 */
#include <stdio.h>
#include <string.h>

#include <bilhetagem/trace.h>

#include "payment.h"

#define ID_MAX 64 /* bytes of an id in a URL */
#define ATTEMPT_KEY "payment.attempt"

/* What survives a re-run of the create handler. */
typedef struct attempt {
    char id[37];
    int answered; /* the gateway was asked: result holds its answer */
    pay_gw_result result;
} attempt;

static int db_failed(void)
{
    return -1; /* the unit has failed: the core settles retry / 503 / 500 */
}

static void not_found(bh_request *req, const char *what)
{
    bh_resp_problem(req, 404, "not-found", NULL, "no such %s", what);
}

static int respond_payment(bh_request *req, int status, const pay_payment *p)
{
    bh_unit *u = bh_req_unit(req); /* both ids searchable in X-Ray */
    bh_trace_annotate(u, "payment_id", p->id);
    bh_trace_annotate(u, "order_id", p->order_id);
    json_t *body = pay_payment_json(p);
    char loc[80];
    snprintf(loc, sizeof loc, "/payments/%s", p->id);
    if (!body || (status == 201 && bh_resp_header(req, "Location", loc) != 0)) {
        json_decref(body);
        return -1; /* no answer set: the core answers 500 */
    }
    bh_resp_json(req, status, body);
    return 0;
}

static void gateway_unavailable(bh_request *req, int64_t retry_after_ms)
{
    char secs[24];
    int64_t s = (retry_after_ms + 999) / 1000;
    snprintf(secs, sizeof secs, "%lld", (long long)(s < 1 ? 1 : s));
    bh_resp_header(req, "Retry-After", secs);
    bh_resp_problem(req, 503, "gateway-unavailable", NULL,
                    "the payment gateway is not answering; retry in %s s", secs);
}

/* ---- POST /orders/{id}/payments ------------------------------------------------ */

typedef struct charge_input {
    const char *method;
    const char *token;
} charge_input;

static const char *token_problem(pay_token_status t)
{
    switch (t) {
    case PAY_TOKEN_PAN:
        return "card numbers are never accepted: send the card token the gateway's "
               "client library gave you";
    case PAY_TOKEN_NOT_TEST:
        return "the simulator gateway takes test tokens only: tok_approve, tok_decline, "
               "tok_timeout, tok_fail_N";
    default: return "must be a card token of 1..128 characters [A-Za-z0-9_-]";
    }
}

/* 0 with *in filled, or -1 after a 422. */
static int read_input(bh_request *req, const pay_state *st, charge_input *in)
{
    const json_t *body = bh_req_json(req);
    json_t *errors = NULL;
    const char *key;
    const json_t *v;
    char ptr[80];
    memset(in, 0, sizeof *in);
    if (!json_is_object(body)) {
        bh_problem_field(&errors, "", "must be an object");
        bh_resp_problem_fields(req, 422, "Invalid payment", errors);
        return -1;
    }
    json_object_foreach((json_t *)body, key, v) {
        if (!strcmp(key, "method") || !strcmp(key, "card_token"))
            continue;
        bh_json_pointer(ptr, sizeof ptr, "", key);
        if (!strncmp(key, "amount", 6))
            bh_problem_field(&errors, ptr, "the amount is the order's total_cents; never send it");
        else
            bh_problem_field(&errors, ptr, "unknown field");
    }
    const json_t *m = json_object_get(body, "method");
    const json_t *t = json_object_get(body, "card_token");
    if (!json_is_string(m) ||
        (strcmp(json_string_value(m), "card") && strcmp(json_string_value(m), "pix") &&
         strcmp(json_string_value(m), "free"))) {
        bh_problem_field(&errors, "/method", "must be \"card\", \"pix\" or \"free\"");
    } else if (!strcmp(json_string_value(m), "free")) {
        in->method = "free";
        if (t)
            bh_problem_field(&errors, "/card_token", "is not used with free");
    } else if (!strcmp(json_string_value(m), "card")) {
        in->method = "card";
        if (!t) {
            bh_problem_field(&errors, "/card_token", "is required for card payments");
        } else if (!json_is_string(t)) {
            bh_problem_field(&errors, "/card_token", "must be a string");
        } else {
            pay_token_status ts = pay_token_check(json_string_value(t), json_string_length(t),
                                                  st->cfg.gateway == PAY_GW_SIMULATOR);
            if (ts != PAY_TOKEN_OK)
                bh_problem_field(&errors, "/card_token", "%s", token_problem(ts));
            in->token = json_string_value(t);
        }
    } else {
        in->method = "pix";
        if (t)
            bh_problem_field(&errors, "/card_token", "is not used with pix");
        if (!st->cfg.webhook_secret)
            bh_problem_field(&errors, "/method",
                             "pix is not enabled on this server (no webhook_secret)");
    }
    if (errors) {
        bh_resp_problem_fields(req, 422, "Invalid payment", errors);
        return -1;
    }
    return 0;
}

/* The request's attempt, made once: every re-run of the handler reuses it.
 * Its id is derived from (caller, order, Idempotency-Key) (payid.c), so a
 * retry of a request that failed after the gateway captured - the core
 * forgets the key of a 5xx - charges under the same idempotency key and
 * gets the first charge back.  NULL when it cannot be made. */
static attempt *the_attempt(bh_request *req, const char *sub, const char *order_id)
{
    attempt *a = bh_req_get(req, ATTEMPT_KEY);
    if (a)
        return a;
    const char *key = bh_req_header(req, "Idempotency-Key"); /* the route requires one */
    a = bh_req_alloc(req, sizeof *a);                        /* zeroed */
    if (!key)
        bh_uuid(a->id);
    else if (pay_payment_id(sub, order_id, key, a->id) != 0)
        return NULL;
    bh_req_set(req, ATTEMPT_KEY, a, NULL);
    return a;
}

/* NULL when the order can be charged now, else why not. */
static const char *not_payable(const pay_state *st, const bh_order_info *o, const char *method,
                               int has_capture)
{
    if (strcmp(o->status, "pending_payment"))
        return "the order is not awaiting payment";
    if (has_capture)
        return "the order already has a captured payment";
    /* a card charge may take the whole retry budget: the hold must outlast
     * it, or the money could arrive for seats already released */
    int64_t margin = !strcmp(method, "card") ? st->cfg.retry_budget_ms : 0;
    if (o->expires_at_ms <= bh_time_ms() + margin)
        return "the order's hold has expired or expires before a charge could complete";
    return NULL;
}

/* method "free": an order whose total is 0 is paid at once, without any
 * gateway (no money moves, so there is nothing to keep if the order cannot
 * take it: 409 and nothing is stored). */
static int pay_free(pay_state *st, bh_request *req, const bh_order_info *o, const attempt *a,
                    const char *why)
{
    pay_payment p = {
        .id = a->id,
        .order_id = o->id,
        .user_sub = o->user_sub,
        .method = "free",
        .amount_cents = 0,
        .currency = o->currency,
        .gateway = "none",
    };
    int s = why ? PAY_FREE_REFUSED : pay_settle_free(st, bh_req_unit(req), &p);
    if (s < 0)
        return db_failed();
    if (s == PAY_FREE_REFUSED) {
        bh_resp_problem(req, 409, "order-not-payable", NULL, "%s",
                        why ? why : "the order is not awaiting payment");
        return 0;
    }
    bh_req_log(req, BH_LOG_INFO, "payment %s of order %s: free, captured", p.id, o->id);
    return respond_payment(req, 201, &p);
}

static int create_payment(bh_request *req, void *arg)
{
    pay_state *st = arg;
    bh_unit *u = bh_req_unit(req);
    const bh_principal *me = bh_req_principal(req);
    const char *order_id = bh_req_param(req, "id");
    charge_input in;
    bh_order_info o;
    if (read_input(req, st, &in) != 0)
        return 0;
    if (!me || strlen(order_id) > ID_MAX) {
        not_found(req, "order");
        return 0;
    }
    int s = st->orders->get(st->orders->self, u, order_id, 1, &o);
    if (s < 0)
        return db_failed();
    if (s != BH_ORDERS_OK || strcmp(o.user_sub, me->sub)) {
        not_found(req, "order"); /* another buyer's order is not even confirmed */
        return 0;
    }
    /* a free order is paid with "free", anything else with card or pix */
    int is_free = !strcmp(in.method, "free");
    if (is_free != (o.total_cents == 0)) {
        json_t *errors = NULL;
        bh_problem_field(&errors, "/method",
                         is_free ? "free is only for an order whose total_cents is 0"
                                 : "the order's total_cents is 0: pay it with method free");
        bh_resp_problem_fields(req, 422, "Invalid payment", errors);
        return 0;
    }
    attempt *a = the_attempt(req, me->sub, o.id);
    if (!a)
        return -1;
    /* the same key's payment already committed (its stored answer was
     * purged, or the answer was lost): answer with it, charge nothing */
    pay_payment done;
    if ((s = pay_store_get(u, a->id, &done)) < 0)
        return db_failed();
    if (s == 1)
        return respond_payment(req, 201, &done);
    int captured = pay_store_order_captured(u, o.id);
    if (captured < 0)
        return db_failed();
    const char *why = not_payable(st, &o, in.method, captured);
    if (is_free)
        return pay_free(st, req, &o, a, why);
    switch (pay_charge_step(why == NULL, a->answered, a->result.outcome)) {
    case PAY_STEP_REFUSE:
        bh_resp_problem(req, 409, "order-not-payable", NULL, "%s",
                        why ? why : "the order is not awaiting payment");
        return 0;
    case PAY_STEP_CHARGE: {
        pay_gw_request rq = {a->id, o.id, in.method, in.token, o.total_cents, o.currency, NULL};
        pay_gw_traced(st, u, PAY_OP_CHARGE, &rq, 0, &a->result);
        if (a->result.outcome == PAY_GW_UNAVAILABLE || a->result.attempts == 0) {
            gateway_unavailable(req, a->result.retry_after_ms);
            return 0; /* nothing was sent: nothing to record */
        }
        a->answered = 1;
        break;
    }
    case PAY_STEP_RECORD: break;
    }
    pay_payment p = {
        .id = a->id,
        .order_id = o.id,
        .user_sub = o.user_sub,
        .method = in.method,
        .amount_cents = o.total_cents,
        .currency = o.currency,
        .gateway = st->gw.name,
    };
    /* a re-run that finds the order gone after the gateway took (or may
     * have taken) the money records it - orphaned or pending - never
     * drops it (settle.c) */
    if ((s = pay_settle_new(st, u, &p, &a->result)) != BH_DB_OK)
        return db_failed();
    bh_req_log(req, BH_LOG_INFO, "payment %s of order %s: %s after %d gateway call(s)", p.id, o.id,
               p.status, a->result.attempts);
    return respond_payment(req, 201, &p);
}

/* ---- GET /payments/{id} ------------------------------------------------------------ */

static int get_payment(bh_request *req, void *arg)
{
    (void)arg;
    const char *id = bh_req_param(req, "id");
    pay_payment p;
    if (strlen(id) > ID_MAX) {
        not_found(req, "payment");
        return 0;
    }
    int s = pay_store_get(bh_req_unit(req), id, &p);
    if (s < 0)
        return db_failed();
    if (s == 0 || !bh_req_owner_or_admin(req, p.user_sub)) {
        not_found(req, "payment");
        return 0;
    }
    return respond_payment(req, 200, &p);
}

/* ---- POST /payments/{id}/refund ---------------------------------------------------- */

static int refund_payment(bh_request *req, void *arg)
{
    pay_state *st = arg;
    bh_unit *u = bh_req_unit(req);
    const char *id = bh_req_param(req, "id");
    pay_payment p;
    bh_order_info o;
    if (strlen(id) > ID_MAX) {
        not_found(req, "payment");
        return 0;
    }
    int s = pay_store_get(u, id, &p);
    if (s < 0)
        return db_failed();
    if (s == 0) {
        not_found(req, "payment");
        return 0;
    }
    int orphan = !strcmp(p.status, "orphaned");
    if (strcmp(p.status, "captured") && !orphan) {
        bh_resp_problem(req, 409, "payment-not-refundable", NULL,
                        "only a captured payment can be refunded; this one is %s", p.status);
        return 0;
    }
    /* lock the order, and make sure it will take the refund, before any
     * money moves back */
    if (!orphan) {
        if ((s = st->orders->get(st->orders->self, u, p.order_id, 1, &o)) < 0)
            return db_failed();
        if (s != BH_ORDERS_OK || strcmp(o.status, "paid")) {
            bh_resp_problem(req, 409, "payment-not-refundable", NULL,
                            "the payment's order is not in a refundable state");
            return 0;
        }
    }
    pay_gw_request rq = {p.id, p.order_id, p.method, NULL, p.amount_cents, p.currency, NULL};
    pay_gw_result r;
    memset(&r, 0, sizeof r);
    r.outcome = PAY_GW_REFUNDED; /* a free payment moved no money: no gateway to ask */
    if (strcmp(p.method, "free"))
        pay_gw_traced(st, u, PAY_OP_REFUND, &rq, 0, &r);
    if (r.outcome == PAY_GW_UNAVAILABLE || r.outcome == PAY_GW_TRANSIENT) {
        /* refunds are idempotent at the gateway (<payment id>:refund): the
         * admin retries and nothing happens twice */
        gateway_unavailable(req, r.retry_after_ms);
        return 0;
    }
    if (r.outcome != PAY_GW_REFUNDED) {
        bh_resp_problem(req, 502, "gateway-refused", NULL,
                        "the payment gateway refused the refund (%s)",
                        r.reason[0] ? r.reason : "no reason given");
        return 0;
    }
    s = pay_settle_refund(st, u, &p);
    if (s < 0)
        return db_failed();
    if (s == 0 || s == PAY_REFUND_ORDER_CONFLICT) {
        bh_resp_problem(req, 409, "payment-not-refundable", NULL,
                        "the payment or its order changed meanwhile; read it again");
        return 0;
    }
    bh_req_log(req, BH_LOG_INFO, "payment %s of order %s refunded", p.id, p.order_id);
    return respond_payment(req, 200, &p);
}

int pay_routes_add(pay_state *st)
{
    const bh_route routes[] = {
        {.method = "POST",
         .path = "/orders/{id}/payments",
         .handler = create_payment,
         .arg = st,
         .auth = BH_AUTH_AUTHENTICATED,
         .flags = BH_ROUTE_JSON_BODY | BH_ROUTE_IDEMPOTENT,
         .openapi = pay_doc_create},
        {.method = "GET",
         .path = "/payments/{id}",
         .handler = get_payment,
         .arg = st,
         .auth = BH_AUTH_AUTHENTICATED,
         .openapi = pay_doc_get},
        {.method = "POST",
         .path = "/payments/{id}/refund",
         .handler = refund_payment,
         .arg = st,
         .auth = BH_AUTH_ROLE,
         .auth_value = "admin",
         .openapi = pay_doc_refund},
        {.method = "POST",
         .path = "/payments/webhook",
         .handler = pay_webhook,
         .arg = st,
         .auth = BH_AUTH_PUBLIC,
         .flags = BH_ROUTE_JSON_BODY,
         .rate_class = "none",
         .openapi = pay_doc_webhook},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (bh_route_add(st->ctx, &routes[i]) != 0)
            return -1;
    return 0;
}
