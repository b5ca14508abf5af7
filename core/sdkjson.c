/* sdkjson.c - bh_json_pointer (bilhetagem/http.h): the RFC 6901 pointer of
 * a body member, which every plugin names in the 422 that refuses an
 * unknown field.
 *
 * Self-contained like sdkconfig.c: it includes nothing of the core but the
 * SDK header, so the plugins' pure validation code links it into unit tests
 * and fuzz targets without a server.
 */
#include <string.h>

#include <bilhetagem/http.h>

/* The bytes of the UTF-8 sequence that starts with c (1 for a stray
 * continuation byte: it is copied alone). */
static size_t sequence_length(unsigned char c)
{
    return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

char *bh_json_pointer(char *out, size_t len, const char *parent, const char *key)
{
    size_t n = 0;
    if (len == 0)
        return out;
    for (const char *p = parent ? parent : ""; *p && n + 1 < len; p++)
        out[n++] = *p;
    if (n + 1 < len)
        out[n++] = '/';
    for (const char *k = key ? key : ""; *k;) {
        const char *esc = *k == '~' ? "~0" : *k == '/' ? "~1" : NULL;
        if (esc) {
            if (n + 2 >= len)
                break;
            out[n++] = esc[0];
            out[n++] = esc[1];
            k++;
            continue;
        }
        size_t seq = sequence_length((unsigned char)*k), have = 0;
        while (have < seq && k[have]) /* never past the NUL of a cut sequence */
            have++;
        if (n + have >= len)
            break; /* the whole character, or none of it */
        memcpy(out + n, k, have);
        n += have;
        k += have;
    }
    out[n] = '\0';
    return out;
}
