/* pricing.c - what an order costs, in integer minor units (no SDK calls).
 *
 * line total = quantity x unit price; subtotal = the sum of the line totals;
 * total = subtotal (the checkout charges no fees and applies no discounts:
 * docs/plugins/order.md).  Every multiplication and addition is checked
 * with the compiler's overflow builtins: a price the catalog allows can
 * still overflow int64 once multiplied, and that must be a 422 naming the
 * line, never a wrapped (negative or tiny) amount.
 */
#include "order.h"

order_price_status order_price_line_total(int64_t quantity, int64_t unit_price_cents, int64_t *out)
{
    if (quantity < 1 || unit_price_cents < 0)
        return ORDER_PRICE_INVALID;
    if (__builtin_mul_overflow(quantity, unit_price_cents, out))
        return ORDER_PRICE_OVERFLOW;
    return ORDER_PRICE_OK;
}

order_price_status order_price(order_price_line *lines, size_t n, order_totals *totals,
                               size_t *bad_line)
{
    int64_t subtotal = 0;
    for (size_t i = 0; i < n; i++) {
        order_price_status st = order_price_line_total(lines[i].quantity, lines[i].unit_price_cents,
                                                       &lines[i].line_total_cents);
        if (st == ORDER_PRICE_OK &&
            __builtin_add_overflow(subtotal, lines[i].line_total_cents, &subtotal))
            st = ORDER_PRICE_OVERFLOW;
        if (st != ORDER_PRICE_OK) {
            *bad_line = i;
            return st;
        }
    }
    totals->subtotal_cents = subtotal;
    totals->total_cents = subtotal;
    return ORDER_PRICE_OK;
}
