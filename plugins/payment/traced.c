/* traced.c - every gateway operation as an X-Ray subsegment.
 *
 * The gateway layer (gateway.c, http_gw.c, simulator.c) makes no SDK call so
 * that tests/unit/test_payment links it alone; this wrapper is the SDK side:
 * it opens a remote span named "payment-gateway" around the whole resilient
 * operation (its retries included), describes it as the HTTP call it is,
 * sends the span's own trace header to the gateway (Parent = the span), and
 * closes it with the last status.  Without a tracer, or on an unsampled
 * request, the span is NULL and only the unit's header travels.
 */
#include <stdio.h>

#include <bilhetagem/trace.h>

#include "payment.h"

/* The request line the operation stands for (docs/plugins/payment.md). */
static void describe(const pay_state *st, pay_gw_op op, const char *payment_id, const char **method,
                     char *url, size_t len)
{
    const char *base = st->cfg.gateway_url ? st->cfg.gateway_url : "simulator:";
    *method = op == PAY_OP_QUERY ? "GET" : "POST";
    switch (op) {
    case PAY_OP_CHARGE: snprintf(url, len, "%s/charges", base); break;
    case PAY_OP_REFUND: snprintf(url, len, "%s/charges/%s/refund", base, payment_id); break;
    case PAY_OP_QUERY: snprintf(url, len, "%s/charges/%s", base, payment_id); break;
    }
}

void pay_gw_traced(const pay_state *st, bh_unit *u, pay_gw_op op, pay_gw_request *rq, int once,
                   pay_gw_result *out)
{
    bh_span *span = bh_trace_begin(u, "payment-gateway", BH_TRACE_REMOTE);
    if (span) {
        const char *method;
        char url[PAY_URL_MAX + 128];
        describe(st, op, rq->payment_id, &method, url, sizeof url);
        bh_trace_http(span, method, url);
    }
    char header[BH_TRACE_HEADER_MAX];
    rq->trace_header = bh_trace_outbound_header(u, span, header, sizeof header) == 0
                           ? header
                           : bh_unit_trace_header(u);
    pay_gw_do(&st->res, op, rq, once, out);
    rq->trace_header = NULL; /* `header` ends here */
    bh_trace_end(span, out->http_status,
                 out->outcome == PAY_GW_TRANSIENT || out->outcome == PAY_GW_UNAVAILABLE);
}
