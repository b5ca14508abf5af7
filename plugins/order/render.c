/* render.c - orders and tickets as the API shows them (jansson only).
 *
 * Money stays integer minor units with the order's currency; times are
 * RFC 3339 UTC (bh_time_format); the buyer is shown as "user": the sub.
 * The buyer's e-mail is stored but not echoed.
 */
#include <stdio.h>
#include <string.h>

#include "order_plugin.h"

static json_t *time_json(int64_t ms)
{
    char buf[32];
    bh_time_format(ms, buf);
    return json_string(buf);
}

static json_t *line_json(const order_line_rec *r)
{
    const bh_order_line *l = &r->line;
    if (l->kind == BH_ORDER_LINE_TICKET)
        return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "ticket_type_id", l->ref_id,
                         "event_id", l->event_id, "event_name", r->event_name, "name", l->name,
                         "quantity", (json_int_t)l->quantity, "unit_price_cents",
                         (json_int_t)l->unit_price_cents, "line_total_cents",
                         (json_int_t)l->line_total_cents);
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "product_id", l->ref_id, "sku", l->sku,
                     "name", l->name, "quantity", (json_int_t)l->quantity, "unit_price_cents",
                     (json_int_t)l->unit_price_cents, "line_total_cents",
                     (json_int_t)l->line_total_cents);
}

json_t *order_render_summary(const bh_order_info *o)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:o}", "id", o->id, "status", o->status,
                     "user", o->user_sub, "subtotal_cents", (json_int_t)o->subtotal_cents,
                     "total_cents", (json_int_t)o->total_cents, "currency", o->currency,
                     "created_at", time_json(o->created_at_ms), "expires_at",
                     time_json(o->expires_at_ms));
}

json_t *order_render(const bh_order_info *o, const order_line_rec *lines, size_t n)
{
    json_t *body = order_render_summary(o);
    json_t *items = json_array(), *products = json_array();
    int ok = body && items && products;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *l = line_json(&lines[i]);
        ok = l && json_array_append_new(
                      lines[i].line.kind == BH_ORDER_LINE_TICKET ? items : products, l) == 0;
    }
    if (!ok) {
        json_decref(items);
        json_decref(products);
        json_decref(body);
        return NULL;
    }
    /* set_new steals the value even when it fails */
    int bad = json_object_set_new(body, "items", items);
    bad |= json_object_set_new(body, "products", products);
    if (bad) {
        json_decref(body);
        return NULL;
    }
    return body;
}

json_t *order_render_ticket(const order_ticket *t)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "code", t->code, "order_id", t->order_id,
                     "ticket_type_id", t->ticket_type_id, "event_id", t->event_id, "status",
                     t->status);
}

void order_line_display_name(const order_line_rec *l, char *out, size_t len)
{
    if (l->line.kind == BH_ORDER_LINE_TICKET && l->event_name[0])
        snprintf(out, len, "%s - %s", l->event_name, l->line.name);
    else
        snprintf(out, len, "%s", l->line.name);
    /* snprintf cuts at a byte: drop a UTF-8 sequence it cut in half */
    size_t n = strlen(out);
    if (n + 1 < len)
        return;
    size_t i = n;
    while (i > 0 && ((unsigned char)out[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0 && ((unsigned char)out[i - 1] & 0x80)) {
        unsigned char lead = (unsigned char)out[i - 1];
        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (n - (i - 1) < want)
            out[i - 1] = '\0';
    }
}
