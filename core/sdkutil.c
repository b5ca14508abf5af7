/* sdkutil.c - the small helpers of bilhetagem/util.h: random bytes and ids
 * for plugins, and wall-clock time in RFC 3339.
 *
 * Randomness comes from getrandom(2) (bh_random in util.c), the kernel's
 * CSPRNG, so ticket codes and ids are unguessable.  Time is formatted and
 * parsed here rather than in every plugin so that the whole API spells
 * instants one way: UTC, milliseconds, "Z".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

static const char hexdigits[] = "0123456789abcdef";

int bh_random_bytes(void *buf, size_t len)
{
    return bh_random(buf, len);
}

static void random_or_die(void *buf, size_t len)
{
    if (bh_random(buf, len) != 0) {
        /* getrandom(2) without flags only fails on a broken kernel; an id
         * that is not random would be worse than stopping. */
        bh_log_core(BH_LOG_ERROR, "getrandom failed");
        abort();
    }
}

int bh_random_hex(char *out, size_t len)
{
    unsigned char raw[64];
    if (len > sizeof raw || bh_random(raw, len) != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hexdigits[raw[i] >> 4];
        out[2 * i + 1] = hexdigits[raw[i] & 15];
    }
    out[2 * len] = '\0';
    return 0;
}

void bh_uuid(char out[37])
{
    unsigned char b[16];
    random_or_die(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hexdigits[b[i] >> 4];
        *p++ = hexdigits[b[i] & 15];
    }
    *p = '\0';
}

int64_t bh_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bh_time_format(int64_t epoch_ms, char out[32])
{
    int64_t ms = epoch_ms % 1000;
    time_t secs = (time_t)(epoch_ms / 1000);
    if (ms < 0) { /* before 1970: floor, not truncate */
        ms += 1000;
        secs -= 1;
    }
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        snprintf(out, 32, "invalid-time");
        return;
    }
    /* %04d, not strftime's %Y: glibc does not pad years below 1000, which
     * bh_time_parse (four digits) would then refuse.  The year is 0..9999 and
     * the rest in range, so 25 bytes are written; the wider buffer only keeps
     * the compiler's truncation check quiet about fields it cannot bound. */
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
    size_t n = strnlen(buf, 31);
    memcpy(out, buf, n);
    out[n] = '\0';
}

/* n decimal digits at *p, advancing it; -1 if any is not a digit. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int expect(const char **p, char a, char b)
{
    if (**p != a && **p != b)
        return -1;
    (*p)++;
    return 0;
}

int bh_time_parse(const char *s, int64_t *epoch_ms)
{
    if (!s)
        return -1;
    const char *p = s;
    int y = digits(&p, 4), mo, d, h, mi, se;
    if (y < 0 || expect(&p, '-', '-') || (mo = digits(&p, 2)) < 1 || mo > 12 ||
        expect(&p, '-', '-') || (d = digits(&p, 2)) < 1 || d > days_in_month(y, mo) ||
        expect(&p, 'T', 't') || (h = digits(&p, 2)) < 0 || h > 23 || expect(&p, ':', ':') ||
        (mi = digits(&p, 2)) < 0 || mi > 59 || expect(&p, ':', ':') || (se = digits(&p, 2)) < 0 ||
        se > 59)
        return -1;
    int ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                ms = ms * 10 + (*p - '0');
        if (n == 0 || n > 9)
            return -1;
        for (; n < 3; n++)
            ms *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, 2), om;
        if (oh < 0 || oh > 23 || expect(&p, ':', ':') || (om = digits(&p, 2)) < 0 || om > 59)
            return -1;
        offset_min = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    time_t t = timegm(&tm);
    *epoch_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + ms;
    return 0;
}
