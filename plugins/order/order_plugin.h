/* order_plugin.h - what the order plugin's SDK-facing modules share: the
 * plugin state, the stored shapes of orders, lines and tickets, and each
 * module's entry points (see order.h for the map of files).
 */
#ifndef BH_PLUGIN_ORDER_PLUGIN_H
#define BH_PLUGIN_ORDER_PLUGIN_H

#include <bilhetagem/bilhetagem.h>
#include <bilhetagem/services/catalog.h>
#include <bilhetagem/services/orders.h>

#include "order.h"

#define ORDER_SWEEP_BATCH 100      /* orders expired per sweeper run, at most */
#define ORDER_TICKET_CODE_BYTES 16 /* 128 random bits per ticket code */
#define ORDER_TICKET_CODE_LEN (2 * ORDER_TICKET_CODE_BYTES)

typedef struct order_plugin {
    bh_plugin_ctx *ctx;
    const bh_catalog_service *catalog;
    bh_orders_service svc; /* what we provide */
    int64_t hold_ms;       /* config hold_seconds, in ms */
    int64_t sweep_interval_ms;
    bh_counter *created, *expired, *cancelled, *checked_in;
} order_plugin;

/* A line as stored: the service's bh_order_line (line.name is the ticket
 * type's or product's own name) plus the event's name for ticket lines. */
typedef struct order_line_rec {
    bh_order_line line;
    char event_name[201];
} order_line_rec;

typedef struct order_ticket {
    char code[ORDER_TICKET_CODE_LEN + 1];
    char order_id[40];
    char ticket_type_id[40];
    char event_id[40];
    char status[16]; /* "valid", "used", "void" */
    int64_t seq;     /* 1.. within the order: the list's order */
    int64_t used_at_ms;
} order_ticket;

/* ---- store.c: every statement on the plugin's tables ----------------------
 * Functions returning int answer BH_ORDERS_OK, BH_ORDERS_NOT_FOUND /
 * BH_ORDERS_CONFLICT where documented, or a negative bh_db_status. */

int order_store_migrations(bh_plugin_ctx *ctx);
int order_store_insert(bh_unit *unit, const bh_order_info *o, const order_line_rec *lines,
                       size_t n);
/* OK or NOT_FOUND. */
int order_store_get(bh_unit *unit, const char *id, int for_update, bh_order_info *out);
/* OK (possibly zero lines) */
int order_store_lines(bh_unit *unit, const char *id, order_line_rec *out, size_t max, size_t *n);
/* from -> to as a conditional UPDATE.  CONFLICT without SQL when the state
 * machine forbids it; else OK with *affected 0 (the order was not in
 * `from`, or, for -> paid, its hold had expired at now_ms) or 1. */
int order_store_transition(bh_unit *unit, const char *id, order_state from, order_state to,
                           int64_t now_ms, const char *payment_id, int64_t *affected);
/* Newest first, strictly after (after_ms, after_id) when after_id is not
 * NULL; `user` NULL lists everyone's.  Fills out[0..max-1]. */
int order_store_list(bh_unit *unit, const char *user, int64_t after_ms, const char *after_id,
                     size_t max, bh_order_info *out, size_t *n);
/* Ids of pending orders whose hold ended at or before now_ms. */
int order_store_expired_ids(bh_unit *unit, int64_t now_ms, char (*ids)[40], size_t max, size_t *n);

int order_store_ticket_insert(bh_unit *unit, const order_ticket *t, int64_t now_ms);
int order_store_tickets_void(bh_unit *unit, const char *order_id);
int order_store_tickets(bh_unit *unit, const char *order_id, int64_t after_seq, size_t max,
                        order_ticket *out, size_t *n);
/* valid -> used; *affected 1 when this call admitted the ticket. */
int order_store_checkin(bh_unit *unit, const char *code, const char *by, int64_t now_ms,
                        int64_t *affected);
/* OK or NOT_FOUND. */
int order_store_ticket(bh_unit *unit, const char *code, order_ticket *out);

/* ---- holds.c: inventory through the catalog -------------------------------- */

typedef enum order_holds_op {
    ORDER_HOLD,    /* place the order */
    ORDER_RELEASE, /* cancel / expire */
    ORDER_COMMIT,  /* paid */
    ORDER_UNSELL   /* refunded */
} order_holds_op;

/* Apply `op` to every line.  Returns BH_CATALOG_OK, or the first failing
 * line's catalog status (positive; *failed = its index) or a negative
 * bh_db_status.  Stops at the first failure: the caller fails the unit so
 * the lines already done roll back with it. */
int order_holds_apply(const order_plugin *p, bh_unit *unit, order_holds_op op,
                      const order_line_rec *lines, size_t n, size_t *failed);
/* Move every line of an order whose lines the catalog must know (commit on
 * paid, unsell on refund, release on cancel or expiry), in lock order, on
 * past a refusal; each refusal is logged as the books disagreeing.  0, the
 * first positive catalog status, or a negative bh_db_status. */
int order_holds_settle(const order_plugin *p, bh_unit *unit, const char *order_id,
                       order_holds_op op, const order_line_rec *lines, size_t n);
/* Release an order's holds after pending_payment -> expired | cancelled:
 * reads the lines and releases each.  0, a positive catalog status (logged:
 * the catalog held fewer than the order says) or a negative bh_db_status. */
int order_holds_release_order(const order_plugin *p, bh_unit *unit, const char *order_id);

/* ---- render.c: API JSON ---------------------------------------------------- */

json_t *order_render(const bh_order_info *o, const order_line_rec *lines, size_t n);
json_t *order_render_summary(const bh_order_info *o);
json_t *order_render_ticket(const order_ticket *t);
/* The line name the orders service gives: "Event - Type" for tickets. */
void order_line_display_name(const order_line_rec *l, char *out, size_t len);

/* ---- service.c ------------------------------------------------------------- */

void order_service_init(order_plugin *p); /* fills p->svc */

/* ---- routes.c / tickets.c / sweeper.c -------------------------------------- */

int order_routes_add(order_plugin *p);
int order_ticket_routes_add(order_plugin *p);
int order_sweep(bh_unit *unit, void *arg); /* a bh_task_fn */

/* Shared by handlers: the order `id` if the caller may see it (owner or
 * admin), else answers 404 and returns 1; -1 on a database failure. */
int order_load_visible(bh_request *req, const char *id, int for_update, bh_order_info *out);

#endif
