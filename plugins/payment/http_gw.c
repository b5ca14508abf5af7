/* http_gw.c - the "http" gateway: a payment provider behind a small JSON
 * API (docs/plugins/payment.md, "The http gateway API"):
 *
 *   POST {url}/charges                    charge; Idempotency-Key: <payment id>
 *   POST {url}/charges/{payment id}/refund  refund; Idempotency-Key: <payment id>:refund
 *   GET  {url}/charges/{payment id}       what became of a charge
 *
 * answering {"status": "captured"|"declined"|"pending"|"refunded",
 * "reason"?, "pix_copy_paste"?, "id"?}.  One libcurl easy handle per call,
 * CURLOPT_TIMEOUT_MS from the caller's budget, no redirects, http(s) only,
 * at most PAY_GW_BODY_MAX bytes read.  The unit's X-Ray trace header goes
 * along as X-Amzn-Trace-Id.  The card token is sent to the gateway and
 * nowhere else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "payment.h"

struct pay_http_gw {
    char *base;
    char *auth_header; /* "Authorization: Bearer ...", or NULL */
    int allow_insecure;
};

pay_http_gw *pay_http_gw_new(const char *base_url, const char *api_key, int allow_insecure)
{
    pay_http_gw *g = calloc(1, sizeof *g);
    if (!g || !(g->base = strdup(base_url)))
        goto fail;
    if (api_key) {
        size_t n = strlen(api_key) + sizeof "Authorization: Bearer ";
        if (!(g->auth_header = malloc(n)))
            goto fail;
        snprintf(g->auth_header, n, "Authorization: Bearer %s", api_key);
    }
    g->allow_insecure = allow_insecure;
    return g;
fail:
    pay_http_gw_free(g);
    return NULL;
}

void pay_http_gw_free(pay_http_gw *g)
{
    if (!g)
        return;
    free(g->base);
    if (g->auth_header) {
        memset(g->auth_header, 0, strlen(g->auth_header));
        free(g->auth_header);
    }
    free(g);
}

typedef struct body_buf {
    char data[PAY_GW_BODY_MAX + 1];
    size_t len;
    int overflow;
} body_buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    body_buf *b = arg;
    size_t n = size * nmemb;
    if (b->len + n > PAY_GW_BODY_MAX) {
        b->overflow = 1;
        return 0; /* abort the transfer */
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static void copy_field(const json_t *o, const char *key, char *out, size_t outlen)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s && strlen(s) < outlen)
        snprintf(out, outlen, "%s", s);
}

int pay_http_gw_parse(pay_gw_op op, const char *body, size_t len, pay_gw_result *out)
{
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const char *st = json_string_value(json_object_get(o, "status"));
    int rc = 0;
    if (!json_is_object(o) || !st)
        rc = -1;
    else if (!strcmp(st, "captured") && op != PAY_OP_REFUND)
        out->outcome = PAY_GW_CAPTURED;
    else if (!strcmp(st, "declined"))
        out->outcome = PAY_GW_DECLINED;
    else if (!strcmp(st, "pending"))
        out->outcome = PAY_GW_PENDING;
    else if (!strcmp(st, "refunded") && op != PAY_OP_CHARGE)
        out->outcome = PAY_GW_REFUNDED;
    else
        rc = -1;
    if (rc == 0) {
        copy_field(o, "reason", out->reason, sizeof out->reason);
        copy_field(o, "pix_copy_paste", out->pix_copy_paste, sizeof out->pix_copy_paste);
        copy_field(o, "id", out->gateway_ref, sizeof out->gateway_ref);
        if (out->outcome == PAY_GW_DECLINED && !out->reason[0])
            snprintf(out->reason, sizeof out->reason, "declined");
    }
    json_decref(o);
    return rc;
}

static char *request_body(pay_gw_op op, const pay_gw_request *rq)
{
    json_t *o = json_pack("{s:s, s:I, s:s}", "payment_id", rq->payment_id, "amount_cents",
                          (json_int_t)rq->amount_cents, "currency", rq->currency);
    if (!o)
        return NULL;
    if (op == PAY_OP_CHARGE &&
        (json_object_set_new(o, "order_id", json_string(rq->order_id)) ||
         json_object_set_new(o, "method", json_string(rq->method)) ||
         (rq->card_token && json_object_set_new(o, "card_token", json_string(rq->card_token))))) {
        json_decref(o);
        return NULL;
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Classify a finished transfer. */
static void classify(pay_gw_op op, CURLcode rc, long status, const body_buf *b, pay_gw_result *out)
{
    out->http_status = (int)status;
    out->outcome = PAY_GW_TRANSIENT;
    if (rc != CURLE_OK || b->overflow)
        return; /* timeout, connection refused or reset, oversized answer */
    if (status >= 200 && status < 300) {
        if (pay_http_gw_parse(op, b->data, b->len, out) != 0)
            out->outcome = PAY_GW_TRANSIENT; /* an answer we cannot read: unknown */
        return;
    }
    if (status == 404 && op == PAY_OP_QUERY) {
        out->outcome = PAY_GW_NOT_FOUND;
        return;
    }
    if (status == 408 || status == 429 || status >= 500 || op == PAY_OP_QUERY)
        return;
    /* another 4xx: the gateway refused the request, so no money moved */
    out->outcome = PAY_GW_DECLINED;
    snprintf(out->reason, sizeof out->reason, "gateway_rejected_%ld", status);
}

void pay_http_gw_call(void *self, pay_gw_op op, const pay_gw_request *rq, int64_t timeout_ms,
                      pay_gw_result *out)
{
    pay_http_gw *g = self;
    char url[PAY_URL_MAX + 128], key[64 + 16], trace[PAY_TRACE_MAX + 32];
    struct curl_slist *h = NULL, *tmp;
    char *payload = NULL;
    body_buf *b = malloc(sizeof *b); /* 64 KiB: off the worker's stack */
    CURL *c = curl_easy_init();
    memset(out, 0, sizeof *out);
    out->outcome = PAY_GW_TRANSIENT;
    if (!c || !b) {
        free(b);
        if (c)
            curl_easy_cleanup(c);
        return;
    }
    b->len = 0;
    b->overflow = 0;
    b->data[0] = '\0';
    const char *suffix = op == PAY_OP_CHARGE ? "" : op == PAY_OP_REFUND ? "/refund" : "";
    if (op == PAY_OP_CHARGE)
        snprintf(url, sizeof url, "%s/charges", g->base);
    else
        snprintf(url, sizeof url, "%s/charges/%s%s", g->base, rq->payment_id, suffix);
    snprintf(key, sizeof key, "Idempotency-Key: %s%s", rq->payment_id,
             op == PAY_OP_REFUND ? ":refund" : "");
    int ok = (tmp = curl_slist_append(h, "Accept: application/json")) && (h = tmp) &&
             (tmp = curl_slist_append(h, key)) && (h = tmp);
    if (ok && op != PAY_OP_QUERY)
        ok = (tmp = curl_slist_append(h, "Content-Type: application/json")) && (h = tmp);
    if (ok && g->auth_header)
        ok = (tmp = curl_slist_append(h, g->auth_header)) && (h = tmp);
    if (ok && rq->trace_header && strlen(rq->trace_header) < PAY_TRACE_MAX &&
        !strpbrk(rq->trace_header, "\r\n")) {
        snprintf(trace, sizeof trace, "X-Amzn-Trace-Id: %s", rq->trace_header);
        ok = (tmp = curl_slist_append(h, trace)) && (h = tmp);
    }
    if (ok && op != PAY_OP_QUERY)
        ok = (payload = request_body(op, rq)) != NULL;
    const char *protocols = g->allow_insecure ? "http,https" : "https";
    if (ok && (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
               curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols) != CURLE_OK ||
               curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
               curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms) != CURLE_OK ||
               curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms) != CURLE_OK ||
               curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
               curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
               curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
               curl_easy_setopt(c, CURLOPT_WRITEDATA, b) != CURLE_OK ||
               (payload && curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload) != CURLE_OK)))
        ok = 0;
    if (ok) {
        long status = 0;
        CURLcode rc = curl_easy_perform(c);
        if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
            status = 0;
        classify(op, rc, status, b, out);
    }
    curl_slist_free_all(h);
    free(payload);
    free(b);
    curl_easy_cleanup(c);
}
