/* webhook.c - POST /payments/webhook: the gateway tells us what became of
 * a payment it could not settle at once (PIX, or a card charge whose
 * answer was lost).
 *
 * Public, never rate limited (a provider retries a dropped confirmation,
 * late), and trusted only through its signature: X-Signature carries an
 * HMAC-SHA256 of "<t>.<raw body>" under webhook_secret (signature.c),
 * checked before the body is looked at; a stale t is refused, so a
 * recorded request cannot be replayed.  Body:
 *     {"payment_id": "...", "status": "captured" | "declined",
 *      "amount_cents": 4200?, "currency": "BRL"?, "reason": "..."?,
 *      "id": "<gateway ref>"?}
 * amount_cents and currency, when present, must be the payment's (422).
 * Other fields are ignored.  A confirmation of a payment that is no longer
 * pending changes nothing and answers 200 (providers deliver at least
 * once).  A capture whose order can no longer take it is kept as orphaned
 * and refunded by the reconcile task (settle.c).
 */
#include <string.h>

#include "payment.h"

static const char *sig_reason(pay_sig_status s)
{
    switch (s) {
    case PAY_SIG_EXPIRED: return "the signature's timestamp is outside the tolerance";
    case PAY_SIG_MISMATCH: return "the signature does not match";
    default: return "missing or malformed X-Signature header";
    }
}

static const char *short_string(const json_t *body, const char *key, size_t max)
{
    const json_t *v = json_object_get(body, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
        return NULL;
    return json_string_value(v);
}

int pay_webhook(bh_request *req, void *arg)
{
    pay_state *st = arg;
    bh_unit *u = bh_req_unit(req);
    size_t len = 0;
    const unsigned char *raw = bh_req_body(req, &len);
    if (!st->cfg.webhook_secret) {
        bh_resp_problem(req, 401, "invalid-signature", NULL,
                        "webhooks are not enabled on this server (no webhook_secret)");
        return 0;
    }
    pay_sig_status sig =
        pay_sig_verify(bh_req_header(req, "X-Signature"), raw, len, st->cfg.webhook_secret,
                       bh_time_ms() / 1000, st->cfg.webhook_tolerance_s);
    if (sig != PAY_SIG_OK) {
        bh_req_log(req, BH_LOG_WARN, "webhook refused: %s", sig_reason(sig));
        bh_resp_problem(req, 401, "invalid-signature", NULL, "%s", sig_reason(sig));
        return 0;
    }
    const json_t *body = bh_req_json(req);
    const char *id = short_string(body, "payment_id", 64);
    const char *status = short_string(body, "status", 16);
    const json_t *amount = json_object_get(body, "amount_cents");
    const json_t *currency = json_object_get(body, "currency");
    const json_t *reason = json_object_get(body, "reason");
    const json_t *ref = json_object_get(body, "id");
    json_t *errors = NULL;
    if (!id)
        bh_problem_field(&errors, "/payment_id", "must be a string of 1..64 characters");
    if (!status || (strcmp(status, "captured") && strcmp(status, "declined")))
        bh_problem_field(&errors, "/status", "must be \"captured\" or \"declined\"");
    if (amount && !json_is_integer(amount))
        bh_problem_field(&errors, "/amount_cents", "must be an integer");
    if (currency && !short_string(body, "currency", 3))
        bh_problem_field(&errors, "/currency", "must be an ISO 4217 code");
    if (reason && !short_string(body, "reason", PAY_REASON_MAX))
        bh_problem_field(&errors, "/reason", "must be a string of 1..%d characters",
                         PAY_REASON_MAX);
    if (ref && !short_string(body, "id", PAY_REF_MAX))
        bh_problem_field(&errors, "/id", "must be a string of 1..%d characters", PAY_REF_MAX);
    if (errors) {
        bh_resp_problem_fields(req, 422, "Invalid webhook", errors);
        return 0;
    }
    pay_payment p;
    int s = pay_store_get(u, id, &p);
    if (s < 0)
        return -1;
    if (s == 0) {
        bh_resp_problem(req, 404, "not-found", NULL, "no such payment");
        return 0;
    }
    json_t *e = NULL;
    if (amount && json_integer_value(amount) != p.amount_cents)
        bh_problem_field(&e, "/amount_cents", "does not match the payment's amount");
    if (currency && strcmp(json_string_value(currency), p.currency))
        bh_problem_field(&e, "/currency", "does not match the payment's currency");
    if (e) {
        bh_req_log(req, BH_LOG_WARN, "webhook for payment %s names another amount or currency",
                   p.id);
        bh_resp_problem_fields(req, 422, "Invalid webhook", e);
        return 0;
    }
    if (!strcmp(p.status, "pending")) {
        if (!strcmp(status, "captured"))
            s = pay_settle_capture(st, u, &p, ref ? json_string_value(ref) : NULL);
        else
            s = pay_settle_decline(st, u, &p, reason ? json_string_value(reason) : NULL);
        if (s < 0)
            return -1;
        if (s > 0)
            bh_req_log(req, BH_LOG_INFO, "webhook: payment %s of order %s is %s", p.id, p.order_id,
                       p.status);
    }
    /* s == 0 or not pending: a duplicate, answered with what we know */
    if (s == 0 && (s = pay_store_get(u, id, &p)) <= 0)
        return -1;
    json_t *out = pay_payment_json(&p);
    if (!out)
        return -1;
    bh_resp_json(req, 200, out);
    return 0;
}
