/* holds.c - an order's inventory, moved through the catalog service.
 *
 * The catalog (the products plugin) owns capacity, stock, held and sold;
 * this plugin only asks it, line by line, in the caller's unit of work, so
 * the inventory moves commit or roll back together with the order row that
 * caused them.  Each catalog call is itself one conditional UPDATE.
 */
#include "order_plugin.h"

static bh_catalog_kind catalog_kind(bh_order_line_kind k)
{
    return k == BH_ORDER_LINE_PRODUCT ? BH_CATALOG_PRODUCT : BH_CATALOG_TICKET;
}

int order_holds_apply(const order_plugin *p, bh_unit *unit, order_holds_op op,
                      const order_line_rec *lines, size_t n, size_t *failed)
{
    const bh_catalog_service *c = p->catalog;
    for (size_t i = 0; i < n; i++) {
        bh_catalog_kind k = catalog_kind(lines[i].line.kind);
        const char *id = lines[i].line.ref_id;
        int64_t q = lines[i].line.quantity;
        int st;
        switch (op) {
        case ORDER_HOLD: st = c->hold(c->self, unit, k, id, q); break;
        case ORDER_RELEASE: st = c->release(c->self, unit, k, id, q); break;
        case ORDER_COMMIT: st = c->commit(c->self, unit, k, id, q); break;
        default: st = c->unsell(c->self, unit, k, id, q); break;
        }
        if (st != BH_CATALOG_OK) {
            *failed = i;
            return st;
        }
    }
    return BH_CATALOG_OK;
}

int order_holds_settle(const order_plugin *p, bh_unit *unit, const char *order_id,
                       order_holds_op op, const order_line_rec *lines, size_t n)
{
    static const char *const verb[] = {"hold", "release", "commit", "unsell"};
    size_t failed = 0;
    int st = order_holds_apply(p, unit, op, lines, n, &failed);
    if (st > 0) {
        /* The order says it holds (or sold) more than the catalog has: the
         * books disagree.  Say so loudly; the caller decides whether to
         * fail its unit. */
        bh_log(p->ctx, BH_LOG_ERROR, "order %s: catalog refused to %s line %zu (status %d)",
               order_id, verb[op], failed + 1, st);
    }
    return st;
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
