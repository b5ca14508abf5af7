/* holds.c - an order's inventory, moved through the catalog service.
 *
 * The catalog (the products plugin) owns capacity, stock, held and sold;
 * this plugin only asks it, line by line, in the caller's unit of work, so
 * the inventory moves commit or roll back together with the order row that
 * caused them.  Each catalog call is itself one conditional UPDATE, and the
 * lines go in their lock order (sequence.c), never the buyer's, so two
 * orders never lock the same catalog rows in opposite orders.
 */
#include "order_plugin.h"

static bh_catalog_kind catalog_kind(bh_order_line_kind k)
{
    return k == BH_ORDER_LINE_PRODUCT ? BH_CATALOG_PRODUCT : BH_CATALOG_TICKET;
}

/* One catalog call for one line. */
static int apply_one(const bh_catalog_service *c, bh_unit *unit, order_holds_op op,
                     const order_line_rec *l)
{
    bh_catalog_kind k = catalog_kind(l->line.kind);
    const char *id = l->line.ref_id;
    int64_t q = l->line.quantity;
    switch (op) {
    case ORDER_HOLD: return c->hold(c->self, unit, k, id, q);
    case ORDER_RELEASE: return c->release(c->self, unit, k, id, q);
    case ORDER_COMMIT: return c->commit(c->self, unit, k, id, q);
    default: return c->unsell(c->self, unit, k, id, q);
    }
}

/* seq = the lines' lock order (sequence.c); -1 when n is out of bounds. */
static int lock_sequence(const order_line_rec *lines, size_t n, size_t *seq)
{
    const bh_order_line *ptrs[BH_ORDERS_MAX_LINES] = {0};
    if (n > BH_ORDERS_MAX_LINES)
        return -1;
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &lines[i].line;
    order_lock_sequence(ptrs, n, seq);
    return 0;
}

int order_holds_apply(const order_plugin *p, bh_unit *unit, order_holds_op op,
                      const order_line_rec *lines, size_t n, size_t *failed)
{
    size_t seq[BH_ORDERS_MAX_LINES];
    if (lock_sequence(lines, n, seq) != 0)
        return BH_DB_ERROR;
    for (size_t k = 0; k < n; k++) {
        int st = apply_one(p->catalog, unit, op, &lines[seq[k]]);
        if (st != BH_CATALOG_OK) {
            *failed = seq[k]; /* the buyer's index, for the answer's pointer */
            return st;
        }
    }
    return BH_CATALOG_OK;
}

int order_holds_settle(const order_plugin *p, bh_unit *unit, const char *order_id,
                       order_holds_op op, const order_line_rec *lines, size_t n)
{
    static const char *const verb[] = {"hold", "release", "commit", "unsell"};
    size_t seq[BH_ORDERS_MAX_LINES];
    if (lock_sequence(lines, n, seq) != 0)
        return BH_DB_ERROR;
    /* Every line, even after a refusal: stopping would leave the rest held
     * forever once the order is expired or cancelled. */
    int first = BH_CATALOG_OK;
    for (size_t k = 0; k < n; k++) {
        const order_line_rec *l = &lines[seq[k]];
        int st = apply_one(p->catalog, unit, op, l);
        if (st < 0)
            return st;
        if (st > 0) {
            /* The order says it holds (or sold) more than the catalog has:
             * the books disagree.  Say so loudly; the caller decides whether
             * to fail its unit. */
            bh_log(p->ctx, BH_LOG_ERROR,
                   "order %s: catalog refused to %s line %zu (%s %s, quantity %lld, status %d)",
                   order_id, verb[op], seq[k] + 1,
                   l->line.kind == BH_ORDER_LINE_PRODUCT ? "product" : "ticket type",
                   l->line.ref_id, (long long)l->line.quantity, st);
            if (first == BH_CATALOG_OK)
                first = st;
        }
    }
    return first;
}

int order_holds_release_order(const order_plugin *p, bh_unit *unit, const char *order_id)
{
    order_line_rec lines[BH_ORDERS_MAX_LINES];
    size_t n;
    int st = order_store_lines(unit, order_id, lines, BH_ORDERS_MAX_LINES, &n);
    if (st != BH_ORDERS_OK)
        return st < 0 ? st : BH_DB_ERROR;
    return order_holds_settle(p, unit, order_id, ORDER_RELEASE, lines, n);
}
