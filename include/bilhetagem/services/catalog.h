/* bilhetagem/services/catalog.h - the catalog: prices and inventory.
 *
 * Provided by the products plugin; used by the order plugin.  Two kinds of
 * sellable thing live in the catalog: the ticket types of an event (price,
 * capacity) and add-on products (popcorn, drinks, parking: price, stock).
 * Each has a quantity held (in pending orders) and a quantity sold;
 * available = capacity (or stock) - sold - held, never below zero.
 *
 * Every call runs in the caller's unit of work (its transaction), so an
 * order's holds commit or roll back together with the order.  Each inventory
 * change is one conditional UPDATE checked through the affected-row count:
 * safe under any concurrency on both databases, never oversold, never
 * negative.
 *
 * Return values: BH_CATALOG_OK (0), a positive bh_catalog_status, or a
 * negative bh_db_status (the unit has failed; return it to the core by
 * failing the request/subscriber).  Threads: the unit's thread.
 */
#ifndef BILHETAGEM_SERVICES_CATALOG_H
#define BILHETAGEM_SERVICES_CATALOG_H

#include <stdint.h>

#include <bilhetagem/events.h>

#define BH_CATALOG_SERVICE "catalog"
#define BH_CATALOG_SERVICE_VERSION 1u

typedef enum bh_catalog_kind {
    BH_CATALOG_TICKET = 1, /* an event's ticket type; id = ticket type id */
    BH_CATALOG_PRODUCT = 2 /* an add-on product; id = product id */
} bh_catalog_kind;

typedef enum bh_catalog_status {
    BH_CATALOG_OK = 0,
    BH_CATALOG_NOT_FOUND = 1,   /* no such id (or not of this kind) */
    BH_CATALOG_UNAVAILABLE = 2, /* exists but not on sale: inactive product,
                                    cancelled or past event */
    BH_CATALOG_INSUFFICIENT = 3 /* not enough available / held / sold */
} bh_catalog_status;

/* One sellable item as the catalog knows it now.  Text is copied in. */
typedef struct bh_catalog_item {
    bh_catalog_kind kind;
    char id[40];          /* UUID */
    char event_id[40];    /* ticket types: the event's id; products: "" */
    char event_name[201]; /* ticket types: the event's name; products: "" */
    char name[201];       /* ticket type name ("Pista") or product name */
    char sku[65];         /* products: the SKU; ticket types: "" */
    int64_t price_cents;  /* the current price, >= 0 */
    char currency[4];     /* ISO 4217, "BRL" */
    int64_t available;    /* capacity/stock - sold - held at lookup time */
    int on_sale;          /* 1 unless inactive / cancelled / already started */
} bh_catalog_item;

typedef struct bh_catalog_service {
    uint32_t version; /* BH_CATALOG_SERVICE_VERSION */
    void *self;       /* the provider's state: pass it back to every call */

    /* Fill *out with the item `id` of `kind`.  OK or NOT_FOUND (an id that
     * is not a well-formed UUID is NOT_FOUND too). */
    int (*lookup)(void *self, bh_unit *unit, bh_catalog_kind kind, const char *id,
                  bh_catalog_item *out);

    /* held += qty when available >= qty and the item is on sale.
     * OK, NOT_FOUND, UNAVAILABLE or INSUFFICIENT (nothing changed). */
    int (*hold)(void *self, bh_unit *unit, bh_catalog_kind kind, const char *id, int64_t qty);

    /* held -= qty (an order expired or was cancelled).  INSUFFICIENT when
     * fewer than qty are held (a bug in the caller: nothing changed). */
    int (*release)(void *self, bh_unit *unit, bh_catalog_kind kind, const char *id, int64_t qty);

    /* held -= qty, sold += qty (the order was paid).  INSUFFICIENT when
     * fewer than qty are held. */
    int (*commit)(void *self, bh_unit *unit, bh_catalog_kind kind, const char *id, int64_t qty);

    /* sold -= qty (a paid order was refunded: the seats go back on sale).
     * INSUFFICIENT when fewer than qty are sold. */
    int (*unsell)(void *self, bh_unit *unit, bh_catalog_kind kind, const char *id, int64_t qty);
} bh_catalog_service;

#endif
