/* jsonpos.c - find the line on which a value of a JSON document starts.
 *
 * Why this exists: jansson parses into a tree that keeps no source
 * positions, yet a config error is only useful when it names the line
 * ("conf/x.json:12: server.workers: ...").  So once the loader has found a
 * problem by its JSON path, this small scanner walks the raw text a second
 * time, following just that path, and reports where the value begins.
 *
 * It decorates error messages and nothing else: it does not validate, it
 * gives up (returns 0) on anything it does not understand, and whatever bytes
 * it is fed it never reads past the terminating NUL.  It is iterative, so
 * deeply nested input cannot exhaust the stack.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* One step of a path: an object key, or an array index when key is NULL. */
typedef struct path_step {
    const char *key;
    size_t keylen;
    size_t index;
} path_step;

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *skip_ws(const char *p)
{
    while (is_ws(*p))
        p++;
    return p;
}

/* A value can start here: not the end of the text, nor punctuation that
 * closes or separates. */
static int is_value_start(char c)
{
    return c != '\0' && !strchr("]},:", c);
}

/* Read the next step of a path such as "plugins[2].config.mode".
 * Returns 1 with *step filled, 0 at the end of the path, -1 if malformed. */
static int next_step(const char **pathp, path_step *step)
{
    const char *p = *pathp;

    if (*p == '\0')
        return 0;
    if (*p == '[') {
        size_t n = 0;

        for (p++; is_digit(*p); p++) {
            size_t d = (size_t)(*p - '0');
            if (n > (SIZE_MAX - d) / 10)
                return -1;
            n = n * 10 + d;
        }
        if (p == *pathp + 1 || *p != ']')
            return -1;
        *step = (path_step){NULL, 0, n};
        *pathp = p + 1;
        return 1;
    }
    if (*p == '.')
        p++;
    *pathp = p;
    while (*p != '\0' && *p != '.' && *p != '[')
        p++;
    *step = (path_step){*pathp, (size_t)(p - *pathp), 0};
    *pathp = p;
    return 1;
}

/* p is at an opening quote: return the byte after the closing one, or NULL
 * if the text ends first. */
static const char *skip_string(const char *p)
{
    for (p++; *p != '"'; p++) {
        if (*p == '\0')
            return NULL;
        if (*p == '\\' && *++p == '\0')
            return NULL;
    }
    return p + 1;
}

/* Skip the value starting at p (a scalar, string, object or array).  Returns
 * the first byte after it, or NULL if the text ends first.  Brackets are only
 * counted, not matched: this skips, it does not validate. */
static const char *skip_value(const char *p)
{
    size_t depth = 0;

    for (;;) {
        if (*p == '\0')
            return NULL;
        if (*p == '"') {
            if (!(p = skip_string(p)))
                return NULL;
            if (depth == 0)
                return p;
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0)
                return p; /* a scalar ended by its container's close */
            if (--depth == 0)
                return p + 1;
        } else if (depth == 0 && (*p == ',' || *p == ':' || is_ws(*p))) {
            return p;
        }
        p++;
    }
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) { /* stops at a NUL: it is not a hex digit */
        char c = p[i];
        unsigned d;

        if (is_digit(c))
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static size_t utf8_encode(unsigned cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode a \uXXXX escape (a surrogate pair counts as one) at *pp into UTF-8.
 * Returns the number of bytes written and advances *pp, or 0 if malformed. */
static size_t decode_unicode(const char **pp, char out[4])
{
    const char *p = *pp;
    unsigned cp, lo;

    if (hex4(p + 2, &cp) < 0)
        return 0;
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
            return 0;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return 0;
    }
    *pp = p;
    return utf8_encode(cp, out);
}

/* Decode the escape at *pp (which points at the backslash) into out.
 * Returns the number of bytes written and advances *pp, or 0 if malformed. */
static size_t decode_escape(const char **pp, char out[4])
{
    const char *p = *pp;

    switch (p[1]) {
    case '"':
    case '\\':
    case '/': out[0] = p[1]; break;
    case 'b': out[0] = '\b'; break;
    case 'f': out[0] = '\f'; break;
    case 'n': out[0] = '\n'; break;
    case 'r': out[0] = '\r'; break;
    case 't': out[0] = '\t'; break;
    case 'u': return decode_unicode(pp, out);
    default: return 0;
    }
    *pp = p + 2;
    return 1;
}

/* Does the JSON string at p (at its opening quote), once unescaped, equal
 * key[0..keylen)? */
static int key_equals(const char *p, const char *key, size_t keylen)
{
    size_t matched = 0;

    for (p++; *p != '"';) {
        char buf[4];
        size_t n;

        if (*p == '\0')
            return 0;
        if (*p == '\\') {
            if ((n = decode_escape(&p, buf)) == 0)
                return 0;
        } else {
            buf[0] = *p++;
            n = 1;
        }
        if (n > keylen - matched || memcmp(buf, key + matched, n) != 0)
            return 0;
        matched += n;
    }
    return matched == keylen;
}

/* p is at a value.  If it is the kind of container `step` selects from,
 * return the start of the selected member's value, else NULL. */
static const char *find_member(const char *p, const path_step *step)
{
    size_t index = 0;

    if (*p != (step->key ? '{' : '['))
        return NULL;
    p = skip_ws(p + 1);
    for (;;) {
        int match;

        if (step->key) {
            if (*p != '"')
                return NULL;
            match = key_equals(p, step->key, step->keylen);
            if (!(p = skip_string(p)))
                return NULL;
            p = skip_ws(p);
            if (*p != ':')
                return NULL;
            p = skip_ws(p + 1);
        } else {
            match = index++ == step->index;
        }
        if (match)
            return is_value_start(*p) ? p : NULL;
        if (!(p = skip_value(p)))
            return NULL;
        p = skip_ws(p);
        if (*p != ',')
            return NULL;
        p = skip_ws(p + 1);
    }
}

static int line_at(const char *text, const char *p)
{
    int line = 1;

    for (; text < p; text++)
        if (*text == '\n' && line < INT_MAX)
            line++;
    return line;
}

int bh_json_path_line(const char *text, const char *path)
{
    const char *p;
    path_step step;
    int r;

    if (!text || !path)
        return 0;
    p = skip_ws(text);
    while ((r = next_step(&path, &step)) > 0)
        if (!(p = find_member(p, &step)))
            return 0;
    if (r < 0 || !is_value_start(*p))
        return 0;
    return line_at(text, p);
}
