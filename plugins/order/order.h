/* order.h - the order plugin's private header: the pieces of the plugin and
 * the few types they share.
 *
 * Pure modules (no bh_* calls, linked into tests/unit/test_order too):
 *   state.c     the order state machine
 *   pricing.c   line totals, subtotal and total, overflow-checked
 *   request.c   POST /orders body -> a validated order_request
 * Modules that talk to the core:
 *   store.c     the plugin's tables: every SQL statement lives here
 *   holds.c     inventory through the catalog service (hold/release/...)
 *   service.c   the "orders" service (orders.h) for payment and invoice
 *   render.c    orders and tickets as API JSON
 *   routes.c    POST/GET /orders, GET /orders/{id}, cancel
 *   tickets.c   GET /orders/{id}/tickets, POST /checkins
 *   sweeper.c   the hold-expiry background task
 *   order.c     config, init/stop, the descriptor
 */
#ifndef BH_PLUGIN_ORDER_H
#define BH_PLUGIN_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <bilhetagem/services/orders.h>

/* ---- state.c ---------------------------------------------------------------- */

typedef enum order_state {
    ORDER_PENDING_PAYMENT = 0,
    ORDER_PAID,
    ORDER_EXPIRED,
    ORDER_CANCELLED,
    ORDER_REFUNDED,
    ORDER_STATE_COUNT
} order_state;

/* "pending_payment", "paid", ...; NULL for a value out of range. */
const char *order_state_name(order_state s);
/* 0 and *out on a known name, -1 otherwise (NULL included). */
int order_state_parse(const char *name, order_state *out);
/* 1 when from -> to is one of the legal transitions:
 *   pending_payment -> paid | expired | cancelled;  paid -> refunded
 * 0 otherwise (same state, out-of-range values, anything from a final state). */
int order_transition_allowed(order_state from, order_state to);

/* ---- pricing.c -------------------------------------------------------------- */

typedef struct order_price_line {
    int64_t quantity;         /* in: >= 1 */
    int64_t unit_price_cents; /* in: >= 0, the catalog's price */
    int64_t line_total_cents; /* out */
} order_price_line;

typedef struct order_totals {
    int64_t subtotal_cents;
    int64_t total_cents; /* = subtotal: no fees, no discounts (docs) */
} order_totals;

typedef enum order_price_status {
    ORDER_PRICE_OK = 0,
    ORDER_PRICE_INVALID = 1, /* quantity < 1 or a negative price */
    ORDER_PRICE_OVERFLOW = 2 /* a product or sum does not fit in int64 */
} order_price_status;

/* quantity x unit price into *out, overflow-checked. */
order_price_status order_price_line_total(int64_t quantity, int64_t unit_price_cents, int64_t *out);
/* Fill every line_total_cents and *totals.  On failure *bad_line is the
 * index of the line that could not be priced (or whose addition to the
 * subtotal overflowed) and nothing else is meaningful. */
order_price_status order_price(order_price_line *lines, size_t n, order_totals *totals,
                               size_t *bad_line);

/* ---- request.c -------------------------------------------------------------- */

#define ORDER_MAX_QUANTITY 20 /* per line */
#define ORDER_MAX_ID_BYTES 64 /* longer ids are refused before any lookup */

typedef struct order_request_line {
    bh_order_line_kind kind;
    const char *id;   /* borrowed from the JSON body */
    int64_t quantity; /* 1 .. ORDER_MAX_QUANTITY */
    size_t index;     /* position in "items" or "products" */
} order_request_line;

typedef struct order_request {
    size_t n;         /* tickets first, then products */
    size_t n_tickets; /* >= 1 */
    order_request_line lines[BH_ORDERS_MAX_LINES];
} order_request;

/* Validate a POST /orders body.  Returns 0 with *out filled, or -1 with
 * *errors a new JSON array of {"pointer", "detail"} objects (caller owns
 * it).  Checks shapes only: types, bounds, line counts, duplicate ids; not
 * whether the ids exist. */
int order_request_parse(const json_t *body, order_request *out, json_t **errors);

/* "/items/3" or "/products/0" for a line, into buf. */
void order_line_pointer(bh_order_line_kind kind, size_t index, char *buf, size_t len);

/* ---- sequence.c: the order in which an order's lines lock catalog rows ---- */

/* seq[0..n) = the indexes of lines[0..n), sorted by (kind, ref_id) bytewise
 * (stable).  Every catalog call (hold, release, commit, unsell) goes in this
 * order, so two transactions touching the same rows lock them in the same
 * order and cannot deadlock on PostgreSQL.  The lines themselves keep the
 * buyer's order. */
void order_lock_sequence(const bh_order_line *const *lines, size_t n, size_t *seq);

#endif
