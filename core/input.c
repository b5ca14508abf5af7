/* input.c - shape checks on client input (see input.h).
 *
 * Moved out of pipeline.c and request.c unchanged in behaviour, so the
 * fuzz targets (tests/fuzz/) and unit tests reach them without a server.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "input.h"

int bh_json_depth_exceeds(const json_t *j, int max_depth)
{
    if (!json_is_object(j) && !json_is_array(j))
        return 0;
    if (max_depth <= 0)
        return 1;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            if (bh_json_depth_exceeds(v, max_depth - 1))
                return 1;
        }
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            if (bh_json_depth_exceeds(v, max_depth - 1))
                return 1;
        }
    }
    return 0;
}

int bh_is_json_type(const char *ct)
{
    if (!ct)
        return 0;
    size_t n = strcspn(ct, ";");
    while (n > 0 && isspace((unsigned char)ct[n - 1]))
        n--;
    if (n == 16 && !strncasecmp(ct, "application/json", 16))
        return 1;
    /* application/<anything>+json (merge-patch+json, problem+json...) */
    return n > 17 && !strncasecmp(ct, "application/", 12) && !strncasecmp(ct + n - 5, "+json", 5);
}

int bh_request_id_ok(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= 128 || !(isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':'))
            return 0;
    }
    return n > 0;
}

int bh_idempotency_key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n < 1 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return 0;
    return 1;
}
