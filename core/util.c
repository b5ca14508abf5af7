/* util.c - the small things every core file needs: growable arrays,
 * allocation that aborts on out-of-memory, UTF-8 checks, clocks and random
 * ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core.h"

static void die_oom(size_t n)
{
    /* No allocation here: we are out of memory. */
    fprintf(stderr, "{\"level\":\"error\",\"msg\":\"out of memory allocating %zu bytes\"}\n", n);
    abort();
}

void *bh_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_oom(n);
    return p;
}

void *bh_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die_oom(n * size);
    return p;
}

char *bh_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = bh_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

void bh_vec_init(bh_vec *v, size_t item_size)
{
    v->items = NULL;
    v->len = v->cap = 0;
    v->size = item_size;
}

void *bh_vec_push(bh_vec *v)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void *items = realloc(v->items, cap * v->size);
        if (!items)
            die_oom(cap * v->size);
        v->items = items;
        v->cap = cap;
    }
    void *slot = (char *)v->items + v->len++ * v->size;
    memset(slot, 0, v->size);
    return slot;
}

void *bh_vec_at(const bh_vec *v, size_t i)
{
    return (char *)v->items + i * v->size;
}

void bh_vec_free(bh_vec *v)
{
    free(v->items);
    bh_vec_init(v, v->size);
}

int64_t bh_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void bh_rfc3339_now(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

int bh_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void bh_random_hex_id(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    if (bh_random(raw, sizeof raw) != 0) {
        /* getrandom(2) without flags only fails on a broken kernel */
        fputs("{\"level\":\"error\",\"msg\":\"getrandom failed\"}\n", stderr);
        abort();
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
}

int bh_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* UTF-16 surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            return 0; /* a continuation byte, 0xc0/0xc1 (overlong) or 0xf5.. */
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

void bh_idgen_seed(bh_idgen *g)
{
    if (bh_random(&g->state, sizeof g->state) != 0)
        g->state = (uint64_t)bh_now_us();
}

static uint64_t splitmix64(bh_idgen *g)
{
    uint64_t z = (g->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void bh_idgen_hex(bh_idgen *g, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int half = 0; half < 2; half++) {
        uint64_t v = splitmix64(g);
        for (int i = 0; i < 16; i++, v >>= 4)
            out[half * 16 + i] = hex[v & 15];
    }
    out[32] = '\0';
}
