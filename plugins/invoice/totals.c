/* totals.c - an invoice's subtotal from its lines.
 *
 * The lines come from the order plugin (orders->lines), already priced; the
 * invoice re-checks them instead of trusting them: a line whose total is not
 * quantity * unit price, or a sum that does not fit int64, stops the invoice
 * rather than printing a wrong one.
 */
#include "invoice.h"

inv_totals_status inv_totals(const bh_order_line *lines, size_t n, int64_t *subtotal, size_t *bad)
{
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const bh_order_line *l = &lines[i];
        int64_t product;
        if (bad)
            *bad = i;
        if (l->quantity <= 0 || l->unit_price_cents < 0)
            return INV_TOTALS_BAD_LINE;
        if (__builtin_mul_overflow(l->quantity, l->unit_price_cents, &product))
            return INV_TOTALS_OVERFLOW;
        if (product != l->line_total_cents)
            return INV_TOTALS_BAD_LINE;
        if (__builtin_add_overflow(sum, product, &sum))
            return INV_TOTALS_OVERFLOW;
    }
    *subtotal = sum;
    return INV_TOTALS_OK;
}
