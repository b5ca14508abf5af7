/* html.c - the printable page of an invoice or credit note.
 *
 * GET /invoices/{id} with Accept: text/html answers this page, rendered from
 * the very JSON object the API answers, so the two can never disagree.  A
 * complete HTML5 document (doctype, lang, charset, title), one table row per
 * line, subtotal and total in the footer.  Every piece of text, ours or the
 * buyer's, goes through inv_html_escape(); money through inv_money_format().
 */
#include <string.h>

#include "invoice.h"

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int money(inv_buf *b, const json_t *o, const char *key, const char *currency)
{
    const json_t *v = json_object_get(o, key);
    char text[INV_MONEY_MAX];
    if (!json_is_integer(v) ||
        inv_money_format(text, sizeof text, (int64_t)json_integer_value(v), currency) != 0)
        return -1;
    return inv_html_escape(b, text);
}

/* <tag>escaped text</tag> */
static void cell(inv_buf *b, const char *tag, const char *cls, const char *text)
{
    inv_buf_printf(b, "<%s%s%s%s>", tag, cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
    inv_html_escape(b, text ? text : "");
    inv_buf_printf(b, "</%s>", tag);
}

static int render_line(inv_buf *b, const json_t *line, const char *currency)
{
    const char *desc = str(line, "description");
    const json_t *qty = json_object_get(line, "quantity");
    if (!desc || !json_is_integer(qty))
        return -1;
    inv_buf_puts(b, "<tr>");
    cell(b, "td", NULL, desc);
    cell(b, "td", NULL, str(line, "sku"));
    inv_buf_printf(b, "<td class=\"num\">%" JSON_INTEGER_FORMAT "</td>", json_integer_value(qty));
    inv_buf_puts(b, "<td class=\"num\">");
    if (money(b, line, "unit_price_cents", currency) != 0)
        return -1;
    inv_buf_puts(b, "</td><td class=\"num\">");
    if (money(b, line, "line_total_cents", currency) != 0)
        return -1;
    return inv_buf_puts(b, "</td></tr>\n");
}

static const char style[] = "body{font-family:sans-serif;margin:2em;color:#222}"
                            "table{border-collapse:collapse;width:100%}"
                            "th,td{border-bottom:1px solid #ccc;padding:.4em;text-align:left}"
                            ".num{text-align:right}"
                            "tfoot th,tfoot td{font-weight:bold}"
                            "@media print{body{margin:0}}";

int inv_html_render(const json_t *inv, inv_buf *b)
{
    const char *number = str(inv, "number"), *kind = str(inv, "kind");
    const char *currency = str(inv, "currency");
    const json_t *buyer = json_object_get(inv, "buyer"), *lines = json_object_get(inv, "lines");
    if (!number || !kind || !currency || !json_is_object(buyer) || !json_is_array(lines))
        return -1;
    const json_t *of = json_object_get(inv, "credit_note_of");
    int credit = strcmp(kind, INV_KIND_CREDIT_NOTE) == 0;
    const char *title = credit ? "Nota de crédito" : "Fatura";

    inv_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"pt-BR\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>");
    inv_html_escape(b, title);
    inv_buf_puts(b, " ");
    inv_html_escape(b, number);
    inv_buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
    inv_html_escape(b, title);
    inv_buf_puts(b, " <span class=\"number\">");
    inv_html_escape(b, number);
    inv_buf_puts(b, "</span></h1>\n");
    if (credit && json_is_object(of)) {
        inv_buf_puts(b, "<p>Referente à fatura ");
        inv_html_escape(b, str(of, "number") ? str(of, "number") : "");
        inv_buf_puts(b, "</p>\n");
    }
    inv_buf_puts(b, "<dl>\n");
    const char *const meta[][2] = {{"Emitida em", str(inv, "issued_at")},
                                   {"Pedido", str(inv, "order_id")},
                                   {"Pagamento", str(inv, "payment_id")},
                                   {"Comprador", str(buyer, "sub")},
                                   {"E-mail", str(buyer, "email")}};
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
        if (!meta[i][1])
            continue; /* an e-mail we never knew */
        cell(b, "dt", NULL, meta[i][0]);
        cell(b, "dd", NULL, meta[i][1]);
        inv_buf_puts(b, "\n");
    }
    inv_buf_puts(b, "</dl>\n<table>\n<thead><tr><th>Descrição</th><th>SKU</th>"
                    "<th class=\"num\">Qtd.</th><th class=\"num\">Preço unitário</th>"
                    "<th class=\"num\">Total</th></tr></thead>\n<tbody>\n");
    size_t i;
    const json_t *line;
    json_array_foreach(lines, i, line) {
        if (render_line(b, line, currency) != 0)
            return -1;
    }
    inv_buf_puts(b, "</tbody>\n<tfoot>\n<tr><th colspan=\"4\">Subtotal</th><td class=\"num\">");
    if (money(b, inv, "subtotal_cents", currency) != 0)
        return -1;
    inv_buf_puts(b, "</td></tr>\n<tr><th colspan=\"4\">Total</th><td class=\"num\">");
    if (money(b, inv, "total_cents", currency) != 0)
        return -1;
    inv_buf_puts(b, "</td></tr>\n</tfoot>\n</table>\n</body>\n</html>\n");
    return b->failed ? -1 : 0;
}
