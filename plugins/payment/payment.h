/* payment.h - between the payment plugin's files (never installed, never
 * included outside plugins/payment/ except by its unit test).
 *
 * The plugin charges an order (card: authorize-and-capture now; PIX: a
 * copy-and-paste payload the buyer pays, confirmed later by a signed
 * webhook), refunds captured payments and reconciles payments whose outcome
 * the gateway did not tell in time.
 *
 *   config.c     the plugin's "config" object -> pay_config
 *   retry.c      exponential backoff with full jitter, the retry budget
 *   breaker.c    the circuit breaker (closed / open / half-open)
 *   signature.c  webhook signatures: HMAC-SHA256 over "<t>.<body>"
 *   token.c      card token checks (no card number ever gets further)
 *   simulator.c  the built-in gateway (test card tokens, PIX payloads)
 *   http_gw.c    the JSON-over-HTTP gateway, through libcurl
 *   gateway.c    one gateway operation: breaker, timeout, retries
 *   step.c       the create handler's next step, safe across re-runs
 *   payid.c      the payment id: derived from (sub, order, Idempotency-Key)
 *   --- the files above make no SDK calls but config.c's readers
 *       (bilhetagem/config.h): the unit test links them with those alone
 *   store.c      the payments table: SQL in the caller's unit
 *   settle.c     applying a gateway outcome: capture (the order becomes
 *                paid in the same unit), decline, orphan; events, counters
 *   routes.c     POST /orders/{id}/payments, GET /payments/{id},
 *                POST /payments/{id}/refund
 *   webhook.c    POST /payments/webhook
 *   reconcile.c  the periodic task: pending payments, orphan refunds
 *   openapi.c    the routes' OpenAPI fragments
 *   payment.c    the plugin glue: descriptor, init/start/stop, counters
 */
#ifndef BH_PAYMENT_PLUGIN_H
#define BH_PAYMENT_PLUGIN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <bilhetagem/plugin.h>

/* ---- limits ------------------------------------------------------------------ */

#define PAY_TOKEN_MAX 128        /* bytes of a card token */
#define PAY_PIX_MAX 512          /* bytes of a PIX copy-and-paste payload */
#define PAY_REASON_MAX 64        /* bytes of a decline reason */
#define PAY_REF_MAX 128          /* bytes of the gateway's own charge id */
#define PAY_URL_MAX 512          /* bytes of gateway_url */
#define PAY_SECRET_MIN 16        /* bytes of webhook_secret */
#define PAY_SECRET_MAX 512       /* bytes of webhook_secret / gateway_api_key */
#define PAY_TRACE_MAX 256        /* bytes of an X-Amzn-Trace-Id value, NUL included */
#define PAY_SIG_HEADER_MAX 1024  /* bytes of an X-Signature header */
#define PAY_GW_BODY_MAX 65536    /* bytes of a gateway answer we read */
#define PAY_SIM_MAX_ENTRIES 4096 /* payments the simulator remembers */
#define PAY_RC_SKIP_MAX 16       /* payments a reconcile run sets aside */

/* ---- configuration (config.c) ----------------------------------------------- */

typedef enum pay_gw_kind { PAY_GW_SIMULATOR = 0, PAY_GW_HTTP } pay_gw_kind;

typedef struct pay_config {
    pay_gw_kind gateway;
    char *gateway_url;     /* http: base URL, no trailing "/" */
    char *gateway_api_key; /* http: optional bearer key (a secret) */
    int allow_insecure;    /* http: http:// allowed (tests, emulators) */
    int64_t gateway_timeout_ms;
    int retry_max_attempts;
    int64_t retry_base_ms;
    int64_t retry_max_delay_ms;
    int64_t retry_budget_ms;
    int breaker_failures;
    int64_t breaker_cooldown_ms;
    char *webhook_secret; /* NULL: PIX is off and every webhook is refused */
    int64_t webhook_tolerance_s;
    int64_t reconcile_interval_ms;
    int reconcile_batch;
} pay_config;

/* Fill *out from the plugin's config (borrowed).  0, or -1 with a message
 * naming the directive in err; the message never quotes a secret. */
int pay_config_parse(const json_t *config, pay_config *out, char *err, size_t errlen);
void pay_config_free(pay_config *c);

/* ---- injectable time and randomness ------------------------------------------ */

/* A clock in milliseconds (monotonic for the breaker and retries). */
typedef int64_t (*pay_clock_fn)(void *arg);
/* 64 random bits. */
typedef uint64_t (*pay_rand_fn)(void *arg);
/* Sleep ms milliseconds (a fake clock advances instead). */
typedef void (*pay_sleep_fn)(void *arg, int64_t ms);

typedef struct pay_env {
    pay_clock_fn now_ms;
    pay_sleep_fn sleep_ms;
    pay_rand_fn rand64;
    void *arg;
} pay_env;

/* The real thing: CLOCK_MONOTONIC, nanosleep, getrandom-seeded xorshift. */
extern const pay_env pay_env_real;

/* ---- retries (retry.c) -------------------------------------------------------- */

typedef struct pay_retry_policy {
    int max_attempts;       /* >= 1, the first attempt included */
    int64_t base_ms;        /* delay cap before the second attempt */
    int64_t max_delay_ms;   /* no delay cap grows beyond this */
    int64_t budget_ms;      /* the whole operation, waits and attempts */
    int64_t timeout_ms;     /* one attempt */
    int64_t min_attempt_ms; /* an attempt shorter than this is not worth starting */
} pay_retry_policy;

/* Full jitter: a delay drawn uniformly from [0, min(max_delay, base * 2^n)]
 * for the retry after `n` failed attempts (n >= 1), from `r`. */
int64_t pay_backoff_delay(const pay_retry_policy *p, int n, uint64_t r);

/* After `done` attempts and `elapsed_ms` since the first began: 1 when one
 * more attempt fits (attempts left, and the delay plus a useful attempt fit
 * in the budget), with *delay_ms to wait first and *timeout_ms for it; 0
 * when the operation must stop.  For done == 0 the delay is 0. */
int pay_retry_next(const pay_retry_policy *p, int done, int64_t elapsed_ms, uint64_t r,
                   int64_t *delay_ms, int64_t *timeout_ms);

/* ---- circuit breaker (breaker.c) ---------------------------------------------- */

typedef enum pay_breaker_state {
    PAY_BREAKER_CLOSED = 0,
    PAY_BREAKER_OPEN,
    PAY_BREAKER_HALF_OPEN
} pay_breaker_state;

/* One per gateway, shared by every thread (its own mutex).  Closed: calls
 * pass, `threshold` consecutive failures open it.  Open: calls are refused
 * until `cooldown_ms` passed, then one probe is let through (half-open):
 * its success closes the breaker, its failure opens it again. */
typedef struct pay_breaker {
    pthread_mutex_t mu;
    pay_breaker_state state;
    int failures; /* consecutive, while closed */
    int threshold;
    int64_t cooldown_ms;
    int64_t opened_at_ms;
    int64_t probe_at_ms; /* when the half-open probe was let through */
    pay_clock_fn now_ms;
    void *clock_arg;
} pay_breaker;

int pay_breaker_init(pay_breaker *b, int threshold, int64_t cooldown_ms, pay_clock_fn now_ms,
                     void *clock_arg);
void pay_breaker_destroy(pay_breaker *b);
/* 1 when a call may go to the gateway now (the caller then reports its
 * result exactly once); 0 when refused, with *retry_after_ms until the
 * breaker lets a probe through. */
int pay_breaker_allow(pay_breaker *b, int64_t *retry_after_ms);
void pay_breaker_success(pay_breaker *b);
void pay_breaker_failure(pay_breaker *b);
pay_breaker_state pay_breaker_state_now(pay_breaker *b);

/* ---- webhook signatures (signature.c) ------------------------------------------ */

typedef enum pay_sig_status {
    PAY_SIG_OK = 0,
    PAY_SIG_MALFORMED, /* no header, no t=, no v1=, bad hex, too long */
    PAY_SIG_EXPIRED,   /* |now - t| > tolerance */
    PAY_SIG_MISMATCH   /* no v1 matches */
} pay_sig_status;

/* Check `header` ("t=<unix seconds>,v1=<64 hex>[,v1=...]") against the
 * HMAC-SHA256 of "<t>.<body>" under `secret`, in constant time. */
pay_sig_status pay_sig_verify(const char *header, const unsigned char *body, size_t len,
                              const char *secret, int64_t now_s, int64_t tolerance_s);
/* The header a sender would send, into out (at least 100 bytes).  0 / -1. */
int pay_sig_sign(const unsigned char *body, size_t len, const char *secret, int64_t t_s, char *out,
                 size_t outlen);

/* ---- card tokens (token.c) ------------------------------------------------------ */

typedef enum pay_token_status {
    PAY_TOKEN_OK = 0,
    PAY_TOKEN_PAN,     /* looks like a card number: refused, never echoed */
    PAY_TOKEN_INVALID, /* empty, too long, or characters outside [A-Za-z0-9_-] */
    PAY_TOKEN_NOT_TEST /* the simulator takes tok_[A-Za-z0-9_]+ only */
} pay_token_status;

pay_token_status pay_token_check(const char *token, size_t len, int simulator);

/* ---- gateways ----------------------------------------------------------------------- */

typedef enum pay_gw_op { PAY_OP_CHARGE = 0, PAY_OP_REFUND, PAY_OP_QUERY } pay_gw_op;

typedef enum pay_gw_outcome {
    PAY_GW_CAPTURED = 0, /* the money moved */
    PAY_GW_DECLINED,     /* the gateway refused: no money moved */
    PAY_GW_PENDING,      /* accepted, not settled yet (PIX; a charge in flight) */
    PAY_GW_REFUNDED,     /* refund done */
    PAY_GW_NOT_FOUND,    /* query: the gateway knows no such charge */
    PAY_GW_TRANSIENT,    /* timeout, connection error, 5xx, 408/429: retry */
    PAY_GW_UNAVAILABLE   /* the breaker refused: nothing was sent */
} pay_gw_outcome;

typedef struct pay_gw_request {
    const char *payment_id; /* the idempotency key of the charge */
    const char *order_id;
    const char *method; /* "card" / "pix" */
    const char *card_token;
    int64_t amount_cents;
    const char *currency;
    const char *trace_header; /* X-Amzn-Trace-Id, or NULL */
} pay_gw_request;

typedef struct pay_gw_result {
    pay_gw_outcome outcome;
    int http_status;                 /* http: the last status, 0 when none */
    char reason[PAY_REASON_MAX + 1]; /* declined: why ("card_declined") */
    char pix_copy_paste[PAY_PIX_MAX + 1];
    char gateway_ref[PAY_REF_MAX + 1];
    int attempts;           /* gateway.c: calls made */
    int64_t retry_after_ms; /* UNAVAILABLE: until the breaker half-opens */
} pay_gw_result;

/* One call, one attempt.  Fills out->outcome (never UNAVAILABLE) and what
 * goes with it.  Thread-safe. */
typedef void (*pay_gw_call_fn)(void *self, pay_gw_op op, const pay_gw_request *rq,
                               int64_t timeout_ms, pay_gw_result *out);

typedef struct pay_gateway {
    const char *name;
    pay_gw_call_fn call;
    void *self;
} pay_gateway;

/* simulator.c: test card tokens (docs/plugins/payment.md):
 *   tok_approve   captured           tok_decline  declined (card_declined)
 *   tok_timeout   never answers: the call waits its timeout, then TRANSIENT;
 *                 a query answers PENDING (the charge stays pending)
 *   tok_fail_N    TRANSIENT to the first N calls about this payment id
 *                 (charges and queries), then captured; N in 1..99
 *   other tok_*   declined (unknown_test_token)
 *   pix           PENDING with a copy-and-paste payload; a query answers
 *                 PENDING (the webhook confirms)
 * Refunds always succeed. */
typedef struct pay_simulator pay_simulator;
pay_simulator *pay_simulator_new(const pay_env *env);
void pay_simulator_free(pay_simulator *s);
void pay_simulator_call(void *self, pay_gw_op op, const pay_gw_request *rq, int64_t timeout_ms,
                        pay_gw_result *out);

/* http_gw.c: the documented JSON gateway API (docs/plugins/payment.md). */
typedef struct pay_http_gw pay_http_gw;
pay_http_gw *pay_http_gw_new(const char *base_url, const char *api_key, int allow_insecure);
void pay_http_gw_free(pay_http_gw *g);
void pay_http_gw_call(void *self, pay_gw_op op, const pay_gw_request *rq, int64_t timeout_ms,
                      pay_gw_result *out);
/* Parse a gateway answer body into out (outcome, reason, pix, ref): 0, or
 * -1 when it is not the documented shape. */
int pay_http_gw_parse(pay_gw_op op, const char *body, size_t len, pay_gw_result *out);

/* step.c: the create handler's next step, from whether the order can be
 * charged now and what an earlier run of the same request (a re-run after
 * BH_DB_RETRY) got from the gateway, if it asked. */
typedef enum pay_step {
    PAY_STEP_REFUSE = 0, /* 409: nothing moved */
    PAY_STEP_CHARGE,     /* call the gateway */
    PAY_STEP_RECORD      /* record the answer already in hand */
} pay_step;
pay_step pay_charge_step(int payable, int answered, pay_gw_outcome outcome);

/* payid.c: the id (and gateway idempotency key) of the payment that the
 * caller `sub` makes for `order_id` under Idempotency-Key `key`: a
 * version-8 UUID from SHA-256 of the three, so a retry of a failed request
 * with the same key charges under the same id.  0, or -1 (OpenSSL failed). */
int pay_payment_id(const char *sub, const char *order_id, const char *key, char out[37]);

/* gateway.c: one operation with the breaker, per-attempt timeouts and
 * retries of TRANSIENT outcomes.  The result is the last attempt's; it is
 * UNAVAILABLE only when the breaker refused before any attempt was made,
 * TRANSIENT when attempts were made but none gave an answer in budget
 * (the outcome is unknown: money may have moved).  With once != 0 it
 * makes at most one attempt (the reconcile task retries at its next run). */
typedef struct pay_resilient {
    const pay_gateway *gw;
    pay_breaker *breaker;
    pay_retry_policy policy;
    const pay_env *env;
} pay_resilient;

void pay_gw_do(const pay_resilient *r, pay_gw_op op, const pay_gw_request *rq, int once,
               pay_gw_result *out);

/* 1 when a DECLINED result is the gateway refusing the request itself (a
 * non-2xx answer such as 409 or 422), not a decline of the charge it
 * reported in a 2xx body.  After an attempt with an unknown outcome such a
 * refusal is no proof that no money moved (gateway.c). */
static inline int pay_gw_refusal(const pay_gw_result *r)
{
    return r->outcome == PAY_GW_DECLINED && r->http_status != 0 &&
           (r->http_status < 200 || r->http_status >= 300);
}

/* ---- the plugin (SDK calls from here on) -------------------------------------- */

#include <bilhetagem/bilhetagem.h>
#include <bilhetagem/services/orders.h>

typedef struct pay_state {
    bh_plugin_ctx *ctx;
    pay_config cfg;
    const bh_orders_service *orders;
    pay_simulator *sim;
    pay_http_gw *http;
    pay_gateway gw;
    pay_breaker breaker;
    pay_resilient res;
    bh_counter *captured, *declined, *refunded, *orphaned;
    int curl_ready;
    /* reconcile.c: payments whose settlement failed a run's unit, oldest
     * first; the next runs postpone them and settle the rest, and an entry
     * goes once a run that postponed it committed.  Only the task thread
     * touches these. */
    char rc_skip[PAY_RC_SKIP_MAX][40];
    int rc_postponed[PAY_RC_SKIP_MAX]; /* postponed by the current run */
    size_t rc_nskip;
} pay_state;

/* traced.c: pay_gw_do in an X-Ray subsegment ("payment-gateway", remote),
 * the span's trace header sent to the gateway.  rq->trace_header is set
 * for the call and cleared after it. */
void pay_gw_traced(const pay_state *st, bh_unit *u, pay_gw_op op, pay_gw_request *rq, int once,
                   pay_gw_result *out);

/* A payment as stored.  Strings point into the unit's rows or the
 * request's memory. */
typedef struct pay_payment {
    const char *id;
    const char *order_id;
    const char *user_sub;
    const char *method; /* "card" / "pix" */
    const char *status; /* "pending" "captured" "declined" "refunded" "orphaned" */
    int64_t amount_cents;
    const char *currency;
    const char *gateway;        /* "simulator" / "http" */
    const char *gateway_ref;    /* may be NULL */
    const char *pix_copy_paste; /* may be NULL */
    const char *decline_reason; /* may be NULL */
    int orphaned;               /* captured while the order could not take it */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t captured_at_ms; /* 0 when never */
    int64_t refunded_at_ms; /* 0 when never */
    int64_t check_attempts;
} pay_payment;

/* store.c: every function returns BH_DB_OK (or a count / found flag where
 * said) or a negative bh_db_status (the unit has failed). */
extern const bh_migration pay_migrations[];
extern const size_t pay_migrations_count;
int pay_store_insert(bh_unit *u, const pay_payment *p, int64_t next_check_at_ms);
/* 1 found (fields borrowed from the unit's rows), 0 none. */
int pay_store_get(bh_unit *u, const char *id, pay_payment *out);
/* 1 when the order has a captured payment, 0 when not. */
int pay_store_order_captured(bh_unit *u, const char *order_id);
/* status `from` -> `to` (and its timestamp); the affected-row count (0:
 * the payment was no longer `from`). */
int pay_store_transition(bh_unit *u, const char *id, const char *from, const char *to,
                         int64_t now_ms, const char *reason, const char *gateway_ref);
/* Up to `limit` ids of payments in `status` due for a check at now_ms. */
int pay_store_due(bh_unit *u, const char *status, int64_t now_ms, int limit, char ids[][40],
                  size_t *n);
/* The next check of a pending / orphaned payment: later (0: never again),
 * attempts + 1. */
int pay_store_postpone(bh_unit *u, const char *id, int64_t next_check_at_ms);

/* settle.c: what follows a gateway outcome, in the caller's unit. */
json_t *pay_payment_json(const pay_payment *p);
/* A new payment row for a gateway outcome (CAPTURED, DECLINED, PENDING or
 * TRANSIENT = unknown): the order becomes paid with a capture (or the
 * payment is orphaned when it cannot), events and counters follow.  *p is
 * completed (status, timestamps).  BH_DB_OK or a negative status. */
int pay_settle_new(pay_state *st, bh_unit *u, pay_payment *p, const pay_gw_result *r);
/* A new "free" payment (amount 0, no gateway) for an order whose total is
 * 0: the order becomes paid, "payment.captured" is published and counted.
 * BH_DB_OK, PAY_FREE_REFUSED when the order refused (nothing stored), or a
 * negative status. */
#define PAY_FREE_REFUSED 1
int pay_settle_free(pay_state *st, bh_unit *u, pay_payment *p);
/* A pending payment the gateway now reports captured (webhook, reconcile):
 * 1 done, 0 it was not pending any more (a duplicate: nothing changed),
 * or a negative status.  *p is updated. */
int pay_settle_capture(pay_state *st, bh_unit *u, pay_payment *p, const char *gateway_ref);
/* A pending payment the gateway now reports declined: 1 / 0 / negative. */
int pay_settle_decline(pay_state *st, bh_unit *u, pay_payment *p, const char *reason);
/* A captured or orphaned payment the gateway refunded: the order becomes
 * refunded (captured payments only).  1 done, 0 the payment moved on
 * (nothing changed), BH_ORDERS_CONFLICT + 100 when the order refused,
 * or a negative status. */
#define PAY_REFUND_ORDER_CONFLICT 100
int pay_settle_refund(pay_state *st, bh_unit *u, pay_payment *p);

/* routes.c, webhook.c, reconcile.c, openapi.c */
int pay_routes_add(pay_state *st);
int pay_webhook(bh_request *req, void *arg);
int pay_reconcile(bh_unit *u, void *arg);
extern const char pay_doc_create[], pay_doc_get[], pay_doc_refund[], pay_doc_webhook[];

#endif
