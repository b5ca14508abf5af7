/* fuzz_headers.c - the shape checks on request headers (input.c):
 * Content-Type (is it JSON?), X-Request-Id, Idempotency-Key.
 *
 * Input: the whole input as each header's value.  Each check is compared
 * with its documented rule restated here, so a change in behaviour is a
 * finding, not only a crash.
 */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "fuzz.h"
#include "input.h"

static int id_rule(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 128)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

static int key_rule(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *v = fuzz_cstr(data, size);
    if (bh_request_id_ok(v) != id_rule(v))
        abort();
    if (bh_idempotency_key_ok(v) != key_rule(v))
        abort();
    int json = bh_is_json_type(v);
    if (json && strncasecmp(v, "application/", 12) != 0)
        abort();
    free(v);
    return 0;
}
