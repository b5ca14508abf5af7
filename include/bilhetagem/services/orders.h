/* bilhetagem/services/orders.h - orders as other plugins see them.
 *
 * Provided by the order plugin; used by the payment plugin (what to charge,
 * and the order's transitions when money moves) and the invoice plugin (the
 * lines to bill).  Every call runs in the caller's unit of work, so a
 * payment's capture and the order becoming paid commit together or not at
 * all.
 *
 * Return values: BH_ORDERS_OK (0), a positive bh_orders_status, or a
 * negative bh_db_status (the unit has failed).  Threads: the unit's thread.
 */
#ifndef BILHETAGEM_SERVICES_ORDERS_H
#define BILHETAGEM_SERVICES_ORDERS_H

#include <stddef.h>
#include <stdint.h>

#include <bilhetagem/events.h>

#define BH_ORDERS_SERVICE "orders"
#define BH_ORDERS_SERVICE_VERSION 1u

/* An order holds at most this many lines, tickets and products together. */
#define BH_ORDERS_MAX_LINES 20

typedef enum bh_orders_status {
    BH_ORDERS_OK = 0,
    BH_ORDERS_NOT_FOUND = 1, /* no such order */
    BH_ORDERS_CONFLICT = 2   /* the transition is illegal from the current
                                state (nothing changed) */
} bh_orders_status;

/* Order states, as stored and as the API spells them:
 *   pending_payment -> paid | expired | cancelled;  paid -> refunded */
typedef struct bh_order_info {
    char id[40];
    char status[24];      /* "pending_payment", "paid", ... */
    char user_sub[129];   /* the buyer's principal sub */
    char user_email[255]; /* "" when the token carried none */
    int64_t subtotal_cents;
    int64_t total_cents; /* what must be charged, exactly */
    char currency[4];
    int64_t created_at_ms;
    int64_t expires_at_ms; /* hold expiry (pending orders) */
} bh_order_info;

typedef enum bh_order_line_kind {
    BH_ORDER_LINE_TICKET = 1,
    BH_ORDER_LINE_PRODUCT = 2
} bh_order_line_kind;

/* One line as priced when the order was placed. */
typedef struct bh_order_line {
    bh_order_line_kind kind;
    char ref_id[40];   /* ticket type id or product id */
    char event_id[40]; /* tickets: the event; products: "" */
    char name[201];    /* what the buyer sees ("Show X - Pista", "Pipoca") */
    char sku[65];      /* products: the SKU; tickets: "" */
    int64_t quantity;
    int64_t unit_price_cents;
    int64_t line_total_cents;
} bh_order_line;

typedef struct bh_orders_service {
    uint32_t version; /* BH_ORDERS_SERVICE_VERSION */
    void *self;

    /* Read the order.  `for_update` non-zero locks its row until the unit
     * ends (PostgreSQL SELECT ... FOR UPDATE; SQLite's write transaction
     * already excludes other writers), so no expiry or cancellation can
     * slip between this read and the caller's decision.  OK or NOT_FOUND. */
    int (*get)(void *self, bh_unit *unit, const char *order_id, int for_update, bh_order_info *out);

    /* Copy the order's lines (tickets first, then products, in the order
     * the buyer listed them) into out[0..max-1]; *n receives how many.
     * max >= BH_ORDERS_MAX_LINES always suffices.  OK or NOT_FOUND. */
    int (*lines)(void *self, bh_unit *unit, const char *order_id, bh_order_line *out, size_t max,
                 size_t *n);

    /* The order was paid by `payment_id`: pending_payment -> paid, holds
     * become sold, one ticket is issued per seat, "order.paid" is published.
     * CONFLICT when the order is not pending_payment or its hold already
     * expired (expires_at_ms <= now), so money can never buy released
     * seats. */
    int (*mark_paid)(void *self, bh_unit *unit, const char *order_id, const char *payment_id);

    /* The payment was refunded: paid -> refunded, tickets voided, the seats
     * and products go back on sale, "order.refunded" is published.
     * CONFLICT when the order is not paid. */
    int (*mark_refunded)(void *self, bh_unit *unit, const char *order_id, const char *payment_id);
} bh_orders_service;

#endif
