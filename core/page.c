/* page.c - pagination for every list (bh_req_page / bh_page_cursor in
 * bilhetagem/http.h).
 *
 * A cursor is the plugin's own key (the sort columns of the last row it
 * returned) wrapped in unpadded base64url, so clients treat it as opaque
 * and it survives a query string untouched.  The key is not signed: a
 * forged cursor can only name another position in a list the caller may
 * read anyway, and plugins validate the key's shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "request.h"

#define PAGE_DEFAULT 20
#define PAGE_MAX 100
#define KEY_MAX 512

static int printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

const char *bh_page_cursor(bh_request *req, const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > KEY_MAX || !printable(key, n))
        return NULL;
    char *out = bh_req_alloc(req, 4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)key, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

/* The key inside a cursor, in request memory, or NULL when it is not one. */
static const char *decode_cursor(bh_request *req, const char *cursor)
{
    size_t n = strlen(cursor);
    if (n == 0 || n > 4 * ((KEY_MAX + 2) / 3) || n % 4 == 1)
        return NULL;
    char *b64 = bh_req_alloc(req, n + 4);
    for (size_t i = 0; i < n; i++) {
        char c = cursor[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return NULL; /* '+', '/', '=' and anything else are not ours */
        b64[i] = c;
    }
    size_t padded = n;
    while (padded % 4)
        b64[padded++] = '=';
    unsigned char *raw = bh_req_alloc(req, padded / 4 * 3 + 1);
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)padded);
    if (len < 0)
        return NULL;
    len -= (int)(padded - n); /* EVP_DecodeBlock counts the padding as zero bytes */
    if (len <= 0 || len > KEY_MAX || !printable((const char *)raw, (size_t)len))
        return NULL;
    raw[len] = '\0';
    return (const char *)raw;
}

int bh_req_page(bh_request *req, bh_page *page)
{
    page->limit = PAGE_DEFAULT;
    page->after = NULL;
    const char *limit = bh_req_query(req, "limit");
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (!*limit || *end || v < 1 || v > PAGE_MAX || limit[0] == '+' || limit[0] == ' ') {
            json_t *errors = NULL;
            bh_problem_field(&errors, "limit", "must be an integer from 1 to %d", PAGE_MAX);
            bh_resp_problem_fields(req, 400, "Invalid query parameter", errors);
            return -1;
        }
        page->limit = (int)v;
    }
    const char *cursor = bh_req_query(req, "cursor");
    if (cursor) {
        page->after = decode_cursor(req, cursor);
        if (!page->after) {
            bh_resp_bad_cursor(req);
            return -1;
        }
    }
    return 0;
}

void bh_resp_bad_cursor(bh_request *req)
{
    json_t *errors = NULL;
    bh_problem_field(&errors, "cursor", "is not a cursor this list returned");
    bh_resp_problem_fields(req, 400, "Invalid query parameter", errors);
}

int bh_resp_page(bh_request *req, json_t *items, const char *next_key)
{
    const char *cursor = next_key ? bh_page_cursor(req, next_key) : NULL;
    if (!items || (next_key && !cursor)) {
        json_decref(items);
        return -1;
    }
    bh_resp_json(req, 200, json_pack("{s:o, s:s?}", "items", items, "next_cursor", cursor));
    return 0;
}
