/* payid.c - the id of the payment a create request makes, and so the
 * idempotency key the gateway sees.
 *
 * The id is derived, not drawn: SHA-256 over the caller's sub, the order id
 * and the request's Idempotency-Key, shaped as a version-8 ("custom",
 * RFC 9562) UUID.  When a request fails after the gateway captured (the
 * commit fails, mark_paid errs, ...) the core answers 5xx and forgets the
 * Idempotency-Key; the client's retry with the same key then reaches the
 * gateway under the same payment id, and the gateway answers with the first
 * charge instead of making a second one.  Each field is length-prefixed, so
 * no two different triples hash the same input.  Pure: the unit test links it.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "payment.h"

static int put_field(EVP_MD_CTX *md, const char *s)
{
    size_t len = strlen(s);
    unsigned char n[8];
    for (int i = 0; i < 8; i++)
        n[i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return EVP_DigestUpdate(md, n, sizeof n) == 1 && EVP_DigestUpdate(md, s, len) == 1;
}

int pay_payment_id(const char *sub, const char *order_id, const char *key, char out[37])
{
    static const char domain[] = "bilhetagem.payment.v1";
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && put_field(md, domain) &&
             put_field(md, sub) && put_field(md, order_id) && put_field(md, key) &&
             EVP_DigestFinal_ex(md, h, &hlen) == 1 && hlen >= 16;
    EVP_MD_CTX_free(md);
    if (!ok)
        return -1;
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x80); /* version 8 */
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80); /* the RFC 9562 variant */
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        snprintf(p, 3, "%02x", h[i]);
        p += 2;
    }
    *p = '\0';
    return 0;
}
