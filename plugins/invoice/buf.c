/* buf.c - inv_buf, the growable text buffer the HTML page is written into.
 *
 * Sticky failure: after the first allocation failure every append is a
 * no-op, so a renderer appends freely and checks `failed` (or the last
 * return value) once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invoice.h"

static int reserve(inv_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    size_t need;
    if (__builtin_add_overflow(b->len, extra, &need) || __builtin_add_overflow(need, 1, &need)) {
        b->failed = 1;
        return -1;
    }
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (__builtin_mul_overflow(cap, 2, &cap)) {
            b->failed = 1;
            return -1;
        }
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int inv_buf_append(inv_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int inv_buf_puts(inv_buf *b, const char *s)
{
    return inv_buf_append(b, s, strlen(s));
}

int inv_buf_printf(inv_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return -1;
    }
    if ((size_t)n < sizeof small)
        return inv_buf_append(b, small, (size_t)n);
    if (reserve(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    int m = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (m != n) {
        b->failed = 1;
        return -1;
    }
    b->len += (size_t)n;
    return 0;
}

void inv_buf_free(inv_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
