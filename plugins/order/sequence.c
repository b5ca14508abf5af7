/* sequence.c - the one order in which an order's lines touch the catalog.
 *
 * Holding, releasing, committing and unselling each lock one catalog row
 * per line (the ticket type's or the product's).  Two transactions that
 * lock the same rows in different orders (alice buys A then B, bob B then
 * A) can deadlock on PostgreSQL; PostgreSQL breaks it by failing one after
 * deadlock_timeout, which costs a second and a re-run.  Going through the
 * lines sorted by (kind, ref_id) everywhere makes that impossible.  Pure.
 */
#include <string.h>

#include "order.h"

static int before(const bh_order_line *a, const bh_order_line *b)
{
    if (a->kind != b->kind)
        return a->kind < b->kind;
    return strcmp(a->ref_id, b->ref_id) < 0;
}

void order_lock_sequence(const bh_order_line *const *lines, size_t n, size_t *seq)
{
    /* insertion sort: at most BH_ORDERS_MAX_LINES lines, and stable */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && before(lines[i], lines[seq[j - 1]]); j--)
            seq[j] = seq[j - 1];
        seq[j] = i;
    }
}
