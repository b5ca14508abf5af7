/* signature.c - is this webhook really from the gateway?
 *
 * The gateway signs each webhook with the shared webhook_secret:
 *     X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
 * The timestamp is inside the MAC, so a captured request cannot be replayed
 * after the tolerance (default 300 s) with a fresh t; several v1= entries
 * may be sent while the gateway rotates its secret (any one matching is
 * enough).  Comparison is constant-time (CRYPTO_memcmp).  Pure: the caller
 * gives the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "payment.h"

#define SIG_LEN 32      /* SHA-256 */
#define SIG_MAX_V1 4    /* v1= entries we look at */
#define SIG_T_DIGITS 12 /* a unix time in seconds, far into the future */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly 2*SIG_LEN hex digits -> out. */
static int unhex(const char *s, size_t len, unsigned char out[SIG_LEN])
{
    if (len != 2 * SIG_LEN)
        return -1;
    for (size_t i = 0; i < SIG_LEN; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int mac(const char *secret, const char *t, size_t tlen, const unsigned char *body,
               size_t len, unsigned char out[SIG_LEN])
{
    size_t n = tlen + 1 + len;
    unsigned char *msg = malloc(n ? n : 1);
    unsigned int outlen = 0;
    if (!msg)
        return -1;
    memcpy(msg, t, tlen);
    msg[tlen] = '.';
    if (len)
        memcpy(msg + tlen + 1, body, len);
    const unsigned char *r = HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, n, out, &outlen);
    free(msg);
    return r && outlen == SIG_LEN ? 0 : -1;
}

typedef struct parsed_sig {
    const char *t;
    size_t tlen;
    int64_t t_s;
    unsigned char v1[SIG_MAX_V1][SIG_LEN];
    int nv1;
} parsed_sig;

/* "t=...,v1=...": spaces around items tolerated, unknown keys ignored. */
static int parse(const char *h, parsed_sig *p)
{
    memset(p, 0, sizeof *p);
    if (!h || strlen(h) > PAY_SIG_HEADER_MAX)
        return -1;
    while (*h) {
        while (*h == ' ')
            h++;
        const char *end = strchr(h, ',');
        size_t len = end ? (size_t)(end - h) : strlen(h);
        while (len > 0 && h[len - 1] == ' ')
            len--;
        if (len > 2 && !strncmp(h, "t=", 2)) {
            if (p->t || len - 2 > SIG_T_DIGITS || strspn(h + 2, "0123456789") < len - 2)
                return -1;
            p->t = h + 2;
            p->tlen = len - 2;
            p->t_s = 0;
            for (size_t i = 0; i < p->tlen; i++)
                p->t_s = p->t_s * 10 + (p->t[i] - '0');
        } else if (len > 3 && !strncmp(h, "v1=", 3)) {
            if (p->nv1 == SIG_MAX_V1 || unhex(h + 3, len - 3, p->v1[p->nv1]) != 0)
                return -1;
            p->nv1++;
        }
        if (!end)
            break;
        h = end + 1;
    }
    return p->t && p->nv1 > 0 ? 0 : -1;
}

pay_sig_status pay_sig_verify(const char *header, const unsigned char *body, size_t len,
                              const char *secret, int64_t now_s, int64_t tolerance_s)
{
    parsed_sig p;
    unsigned char want[SIG_LEN];
    if (!secret || parse(header, &p) != 0)
        return PAY_SIG_MALFORMED;
    if (p.t_s < now_s - tolerance_s || p.t_s > now_s + tolerance_s)
        return PAY_SIG_EXPIRED;
    if (mac(secret, p.t, p.tlen, body, len, want) != 0)
        return PAY_SIG_MISMATCH;
    int ok = 0;
    for (int i = 0; i < p.nv1; i++)
        ok |= CRYPTO_memcmp(want, p.v1[i], SIG_LEN) == 0;
    OPENSSL_cleanse(want, sizeof want);
    return ok ? PAY_SIG_OK : PAY_SIG_MISMATCH;
}

int pay_sig_sign(const unsigned char *body, size_t len, const char *secret, int64_t t_s, char *out,
                 size_t outlen)
{
    char t[24];
    unsigned char sig[SIG_LEN];
    int tlen = snprintf(t, sizeof t, "%lld", (long long)t_s);
    if (tlen <= 0 || mac(secret, t, (size_t)tlen, body, len, sig) != 0)
        return -1;
    int n = snprintf(out, outlen, "t=%s,v1=", t);
    if (n < 0 || (size_t)n + 2 * SIG_LEN + 1 > outlen)
        return -1;
    for (size_t i = 0; i < SIG_LEN; i++)
        snprintf(out + n + 2 * i, 3, "%02x", sig[i]);
    return 0;
}
