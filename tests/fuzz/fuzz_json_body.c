/* fuzz_json_body.c - decoding a JSON request body as the pipeline does:
 * jansson with JSON_REJECT_DUPLICATES, then the depth limit
 * (bh_json_depth_exceeds, input.c).
 *
 * Input: the first byte picks the configured max_json_depth (1..64); the
 * rest is the body.  The limit must agree with a depth computed here
 * independently, and a document within the limit must survive a
 * dump/load round trip.
 */
#include <stdio.h>

#include "fuzz.h"
#include "input.h"

/* Containers nested, counted as the pipeline documents it: [] is 1. */
static int depth_of(const json_t *j)
{
    int best = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            int d = depth_of(v);
            if (d > best)
                best = d;
        }
        return best + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            int d = depth_of(v);
            if (d > best)
                best = d;
        }
        return best + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    int max_depth = 1 + data[0] % 64;
    json_error_t e;
    json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        if (e.position < 0 || (size_t)e.position > size) /* the 400 quotes it */
            abort();
        return 0;
    }
    int exceeds = bh_json_depth_exceeds(j, max_depth);
    if (exceeds != (depth_of(j) > max_depth))
        abort();
    if (!exceeds) {
        char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *again =
            text ? json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e) : NULL;
        if (!again || !json_equal(j, again))
            abort();
        json_decref(again);
        free(text);
    }
    json_decref(j);
    return 0;
}
