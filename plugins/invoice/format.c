/* format.c - the text of an invoice: numbers, money, HTML-safe strings.
 *
 * Pure functions (no SDK calls, no allocation but the inv_buf), unit-tested
 * in tests/unit/test_invoice.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "invoice.h"

int inv_number_format(char *out, size_t outlen, const char *series, int64_t seq)
{
    if (!series || !*series || seq <= 0 || outlen == 0)
        return -1;
    int n = snprintf(out, outlen, "%s-%06" PRId64, series, seq);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int inv_series_for(char *out, size_t outlen, int64_t epoch_ms, int credit_note)
{
    if (epoch_ms < 0 || outlen == 0)
        return -1;
    time_t t = (time_t)(epoch_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return -1;
    int n =
        snprintf(out, outlen, "%s%04d", credit_note ? INV_CREDIT_PREFIX : "", tm.tm_year + 1900);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The integer part's digits, with `sep` every three from the right (none
 * when sep is 0).  out holds at least 32 bytes. */
static void group_digits(uint64_t units, char sep, char *out)
{
    char rev[32];
    size_t n = 0, digits = 0;
    do {
        if (sep && digits > 0 && digits % 3 == 0)
            rev[n++] = sep;
        rev[n++] = (char)('0' + units % 10);
        units /= 10;
        digits++;
    } while (units > 0);
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    out[n] = '\0';
}

int inv_money_format(char *out, size_t outlen, int64_t cents, const char *currency)
{
    if (!inv_is_currency(currency) || outlen == 0)
        return -1;
    /* the magnitude without negating INT64_MIN */
    uint64_t mag = cents < 0 ? (uint64_t)(-(cents + 1)) + 1u : (uint64_t)cents;
    char units[32];
    int brl = strcmp(currency, "BRL") == 0;
    group_digits(mag / 100, brl ? '.' : 0, units);
    unsigned frac = (unsigned)(mag % 100);
    int n =
        brl ? snprintf(out, outlen, "%sR$ %s,%02u", cents < 0 ? "-" : "", units, frac)
            : snprintf(out, outlen, "%s%s %s.%02u", cents < 0 ? "-" : "", currency, units, frac);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int inv_html_escape(inv_buf *b, const char *s)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *ent;
        switch (*p) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default: continue;
        }
        inv_buf_append(b, run, (size_t)(p - run));
        inv_buf_puts(b, ent);
        run = p + 1;
    }
    inv_buf_puts(b, run);
    return b->failed ? -1 : 0;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int inv_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return 0;
    }
    return 1;
}

int inv_is_currency(const char *s)
{
    if (!s || strlen(s) != 3)
        return 0;
    for (size_t i = 0; i < 3; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    return 1;
}
