/* validate.c - the request bodies of the catalog's admin routes, checked
 * and parsed into plain structs before any SQL runs.
 *
 * Pure functions of a JSON value (plus bh_time_parse): no request, no
 * database, so tests/unit/test_products.c drives every branch directly.
 * Each parser walks the whole body and reports EVERY invalid field as a
 * {"pointer", "detail"} object (RFC 6901 pointers into the body), including
 * keys it does not know, so a client fixes all of its mistakes at once.
 * Every string is bounded in bytes, every integer in range, every array in
 * length; what passes is safe to store and to sum (prices * quantities stay
 * far below INT64_MAX).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "products.h"

#define POINTER_MAX 160 /* longest pointer we report (unknown keys are cut) */

static void add_error(json_t **errors, const char *pointer, const char *fmt, ...) BH_PRINTF(3, 4);

static void add_error(json_t **errors, const char *pointer, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (!*errors && !(*errors = json_array()))
        return;
    json_t *e = json_pack("{s:s, s:s}", "pointer", pointer, "detail", detail);
    if (e)
        json_array_append_new(*errors, e);
}

/* The parsers promise a non-NULL array for an invalid body even when jansson
 * ran out of memory while describing it. */
static json_t *finish(json_t *errors, int invalid)
{
    if (!invalid || errors)
        return errors;
    return json_array();
}

/* Report every key of `obj` that is not in the NULL-terminated `known`. */
static int unknown_keys(const json_t *obj, const char *prefix, const char *const *known,
                        json_t **errors)
{
    const char *key;
    const json_t *value;
    int bad = 0;
    json_object_foreach((json_t *)obj, key, value) {
        (void)value;
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (!known[i]) {
            char ptr[POINTER_MAX];
            bh_json_pointer(ptr, sizeof ptr, prefix, key);
            add_error(errors, ptr, "is not a known field");
            bad = 1;
        }
    }
    return bad;
}

/* A display text: a string of 1..max bytes with no control characters and
 * not only blanks.  Returns 1 when it is bad (and reported). */
static int check_text(const json_t *v, const char *ptr, size_t max, const char **out,
                      json_t **errors)
{
    if (!json_is_string(v)) {
        add_error(errors, ptr, "must be a string");
        return 1;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 || len > max) {
        add_error(errors, ptr, "must be 1..%zu bytes", max);
        return 1;
    }
    int blank = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            add_error(errors, ptr, "must not contain control characters");
            return 1;
        }
        if (c != ' ')
            blank = 0;
    }
    if (blank) {
        add_error(errors, ptr, "must not be blank");
        return 1;
    }
    *out = s;
    return 0;
}

static int check_int(const json_t *v, const char *ptr, int64_t min, int64_t max, int64_t *out,
                     json_t **errors)
{
    if (!json_is_integer(v)) {
        add_error(errors, ptr, "must be an integer");
        return 1;
    }
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        add_error(errors, ptr, "must be between %lld and %lld", (long long)min, (long long)max);
        return 1;
    }
    *out = (int64_t)i;
    return 0;
}

static int check_bool(const json_t *v, const char *ptr, int *out, json_t **errors)
{
    if (!json_is_boolean(v)) {
        add_error(errors, ptr, "must be true or false");
        return 1;
    }
    *out = json_is_true(v);
    return 0;
}

static int check_currency(const json_t *v, const char *ptr, const char **out, json_t **errors)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (!s || json_string_length(v) != 3 || !isupper((unsigned char)s[0]) ||
        !isupper((unsigned char)s[1]) || !isupper((unsigned char)s[2])) {
        add_error(errors, ptr, "must be a 3-letter upper-case ISO 4217 code such as \"BRL\"");
        return 1;
    }
    *out = s;
    return 0;
}

static int check_time(const json_t *v, const char *ptr, int64_t *out, json_t **errors)
{
    int64_t ms = 0;
    if (!json_is_string(v) || json_string_length(v) > 64 ||
        bh_time_parse(json_string_value(v), &ms) != 0) {
        add_error(errors, ptr, "must be an RFC 3339 date-time such as \"2026-12-31T21:00:00Z\"");
        return 1;
    }
    if (ms < PRODUCTS_TIME_MIN || ms > PRODUCTS_TIME_MAX) {
        add_error(errors, ptr, "must be between the years 2000 and 9999");
        return 1;
    }
    *out = ms;
    return 0;
}

static int check_status(const json_t *v, const char *ptr, const char **out, json_t **errors)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (!s || (strcmp(s, "active") != 0 && strcmp(s, "cancelled") != 0)) {
        add_error(errors, ptr, "must be \"active\" or \"cancelled\"");
        return 1;
    }
    *out = s;
    return 0;
}

/* A required member: reports "is required" when absent. */
static const json_t *need(const json_t *obj, const char *key, const char *ptr, json_t **errors)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        add_error(errors, ptr, "is required");
    return v;
}

static int not_object(const json_t *body, json_t **errors)
{
    if (json_is_object(body))
        return 0;
    add_error(errors, "", "must be a JSON object");
    return 1;
}

/* ---- events ----------------------------------------------------------------- */

static const char *const event_keys[] = {"name",     "venue",        "starts_at",
                                         "currency", "ticket_types", NULL};
static const char *const ticket_keys[] = {"name", "price_cents", "capacity", NULL};

/* The array member `ticket_types`: 1..PRODUCTS_TYPES_MAX objects.  Returns
 * its length, or 0 after reporting it. */
static size_t check_types_array(const json_t *v, json_t **errors)
{
    if (!json_is_array(v)) {
        add_error(errors, "/ticket_types", "must be an array");
        return 0;
    }
    size_t n = json_array_size(v);
    if (n == 0 || n > PRODUCTS_TYPES_MAX) {
        add_error(errors, "/ticket_types", "must hold 1..%d ticket types", PRODUCTS_TYPES_MAX);
        return 0;
    }
    return n;
}

static int parse_ticket(const json_t *t, size_t i, products_event_in *out, json_t **errors)
{
    char base[48], ptr[64];
    snprintf(base, sizeof base, "/ticket_types/%zu", i);
    if (!json_is_object(t)) {
        add_error(errors, base, "must be an object");
        return 1;
    }
    products_ticket_in *tt = &out->types[i];
    int bad = unknown_keys(t, base, ticket_keys, errors);
    snprintf(ptr, sizeof ptr, "%s/name", base);
    const json_t *v = need(t, "name", ptr, errors);
    if (!v || check_text(v, ptr, PRODUCTS_NAME_MAX, &tt->name, errors)) {
        bad = 1;
    } else {
        for (size_t j = 0; j < i; j++) {
            if (out->types[j].name && strcmp(out->types[j].name, tt->name) == 0) {
                add_error(errors, ptr, "repeats the name of /ticket_types/%zu", j);
                bad = 1;
                break;
            }
        }
    }
    snprintf(ptr, sizeof ptr, "%s/price_cents", base);
    v = need(t, "price_cents", ptr, errors);
    bad |= !v || check_int(v, ptr, 0, PRODUCTS_PRICE_MAX, &tt->price_cents, errors);
    snprintf(ptr, sizeof ptr, "%s/capacity", base);
    v = need(t, "capacity", ptr, errors);
    bad |= !v || check_int(v, ptr, 0, PRODUCTS_QTY_MAX, &tt->capacity, errors);
    return bad;
}

json_t *products_parse_event(const json_t *body, products_event_in *out)
{
    json_t *errors = NULL;
    memset(out, 0, sizeof *out);
    out->currency = PRODUCTS_DEFAULT_CURRENCY;
    if (not_object(body, &errors))
        return finish(errors, 1);
    int bad = unknown_keys(body, "", event_keys, &errors);
    const json_t *v = need(body, "name", "/name", &errors);
    bad |= !v || check_text(v, "/name", PRODUCTS_NAME_MAX, &out->name, &errors);
    v = need(body, "venue", "/venue", &errors);
    bad |= !v || check_text(v, "/venue", PRODUCTS_NAME_MAX, &out->venue, &errors);
    v = need(body, "starts_at", "/starts_at", &errors);
    bad |= !v || check_time(v, "/starts_at", &out->starts_at_ms, &errors);
    if ((v = json_object_get(body, "currency")))
        bad |= check_currency(v, "/currency", &out->currency, &errors);
    v = need(body, "ticket_types", "/ticket_types", &errors);
    size_t n = v ? check_types_array(v, &errors) : 0;
    bad |= n == 0;
    for (size_t i = 0; i < n; i++)
        bad |= parse_ticket(json_array_get(v, i), i, out, &errors);
    out->ntypes = n;
    return finish(errors, bad);
}

static const char *const event_patch_keys[] = {"name",   "venue",        "starts_at",
                                               "status", "ticket_types", NULL};
static const char *const ticket_patch_keys[] = {"id", "price_cents", "capacity", NULL};

static int parse_ticket_patch(const json_t *t, size_t i, products_event_patch *out, json_t **errors)
{
    char base[48], ptr[64];
    snprintf(base, sizeof base, "/ticket_types/%zu", i);
    if (!json_is_object(t)) {
        add_error(errors, base, "must be an object");
        return 1;
    }
    products_ticket_patch *tp = &out->types[i];
    int bad = unknown_keys(t, base, ticket_patch_keys, errors);
    snprintf(ptr, sizeof ptr, "%s/id", base);
    const json_t *v = need(t, "id", ptr, errors);
    if (v && (!json_is_string(v) || !products_is_uuid(json_string_value(v)))) {
        add_error(errors, ptr, "must be the id of one of this event's ticket types");
        bad = 1;
    } else if (v) {
        tp->id = json_string_value(v);
        for (size_t j = 0; j < i; j++) {
            if (out->types[j].id && strcmp(out->types[j].id, tp->id) == 0) {
                add_error(errors, ptr, "repeats /ticket_types/%zu/id", j);
                bad = 1;
                break;
            }
        }
    } else {
        bad = 1;
    }
    snprintf(ptr, sizeof ptr, "%s/price_cents", base);
    if ((v = json_object_get(t, "price_cents"))) {
        tp->has_price = 1;
        bad |= check_int(v, ptr, 0, PRODUCTS_PRICE_MAX, &tp->price_cents, errors);
    }
    snprintf(ptr, sizeof ptr, "%s/capacity", base);
    if ((v = json_object_get(t, "capacity"))) {
        tp->has_capacity = 1;
        bad |= check_int(v, ptr, 0, PRODUCTS_QTY_MAX, &tp->capacity, errors);
    }
    if (!tp->has_price && !tp->has_capacity) {
        add_error(errors, base, "must change price_cents or capacity");
        bad = 1;
    }
    return bad;
}

json_t *products_parse_event_patch(const json_t *body, products_event_patch *out)
{
    json_t *errors = NULL;
    memset(out, 0, sizeof *out);
    if (not_object(body, &errors))
        return finish(errors, 1);
    int bad = unknown_keys(body, "", event_patch_keys, &errors);
    const json_t *v;
    if ((v = json_object_get(body, "name")))
        bad |= check_text(v, "/name", PRODUCTS_NAME_MAX, &out->name, &errors);
    if ((v = json_object_get(body, "venue")))
        bad |= check_text(v, "/venue", PRODUCTS_NAME_MAX, &out->venue, &errors);
    if ((v = json_object_get(body, "starts_at"))) {
        out->has_starts_at = 1;
        bad |= check_time(v, "/starts_at", &out->starts_at_ms, &errors);
    }
    if ((v = json_object_get(body, "status")))
        bad |= check_status(v, "/status", &out->status, &errors);
    if ((v = json_object_get(body, "ticket_types"))) {
        size_t n = check_types_array(v, &errors);
        bad |= n == 0;
        for (size_t i = 0; i < n; i++)
            bad |= parse_ticket_patch(json_array_get(v, i), i, out, &errors);
        out->ntypes = n;
    }
    if (!bad && json_object_size(body) == 0) {
        add_error(&errors, "", "must change at least one field");
        bad = 1;
    }
    return finish(errors, bad);
}

/* ---- products ------------------------------------------------------------- */

static const char *const product_keys[] = {"sku",      "name",   "price_cents", "stock",
                                           "currency", "active", NULL};
static const char *const product_patch_keys[] = {"name", "price_cents", "stock", "active", NULL};

json_t *products_parse_product(const json_t *body, products_product_in *out)
{
    json_t *errors = NULL;
    memset(out, 0, sizeof *out);
    out->currency = PRODUCTS_DEFAULT_CURRENCY;
    out->active = 1;
    if (not_object(body, &errors))
        return finish(errors, 1);
    int bad = unknown_keys(body, "", product_keys, &errors);
    const json_t *v = need(body, "sku", "/sku", &errors);
    if (v && json_is_string(v) && products_is_sku(json_string_value(v))) {
        out->sku = json_string_value(v);
    } else {
        if (v)
            add_error(&errors, "/sku", "must be 1..%d characters of A-Z a-z 0-9 . _ -",
                      PRODUCTS_SKU_MAX);
        bad = 1;
    }
    v = need(body, "name", "/name", &errors);
    bad |= !v || check_text(v, "/name", PRODUCTS_NAME_MAX, &out->name, &errors);
    v = need(body, "price_cents", "/price_cents", &errors);
    bad |= !v || check_int(v, "/price_cents", 0, PRODUCTS_PRICE_MAX, &out->price_cents, &errors);
    v = need(body, "stock", "/stock", &errors);
    bad |= !v || check_int(v, "/stock", 0, PRODUCTS_QTY_MAX, &out->stock, &errors);
    if ((v = json_object_get(body, "currency")))
        bad |= check_currency(v, "/currency", &out->currency, &errors);
    if ((v = json_object_get(body, "active")))
        bad |= check_bool(v, "/active", &out->active, &errors);
    return finish(errors, bad);
}

json_t *products_parse_product_patch(const json_t *body, products_product_patch *out)
{
    json_t *errors = NULL;
    memset(out, 0, sizeof *out);
    if (not_object(body, &errors))
        return finish(errors, 1);
    int bad = unknown_keys(body, "", product_patch_keys, &errors);
    const json_t *v;
    if ((v = json_object_get(body, "name")))
        bad |= check_text(v, "/name", PRODUCTS_NAME_MAX, &out->name, &errors);
    if ((v = json_object_get(body, "price_cents"))) {
        out->has_price = 1;
        bad |= check_int(v, "/price_cents", 0, PRODUCTS_PRICE_MAX, &out->price_cents, &errors);
    }
    if ((v = json_object_get(body, "stock"))) {
        out->has_stock = 1;
        bad |= check_int(v, "/stock", 0, PRODUCTS_QTY_MAX, &out->stock, &errors);
    }
    if ((v = json_object_get(body, "active"))) {
        out->has_active = 1;
        bad |= check_bool(v, "/active", &out->active, &errors);
    }
    if (!bad && json_object_size(body) == 0) {
        add_error(&errors, "", "must change at least one field");
        bad = 1;
    }
    return finish(errors, bad);
}

/* ---- identifiers and cursors ------------------------------------------------ */

int products_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int products_is_sku(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > PRODUCTS_SKU_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return 0;
    }
    return 1;
}

void products_event_cursor_key(int64_t starts_at_ms, const char *id, char out[64])
{
    snprintf(out, 64, "%lld|%s", (long long)starts_at_ms, id);
}

int products_parse_event_cursor(const char *key, int64_t *starts_at_ms, char id[37])
{
    const char *bar = key ? strchr(key, '|') : NULL;
    size_t digits = bar ? (size_t)(bar - key) : 0;
    if (digits == 0 || digits > 15)
        return -1; /* PRODUCTS_TIME_MAX has 15 digits */
    int64_t v = 0;
    for (size_t i = 0; i < digits; i++) {
        if (!isdigit((unsigned char)key[i]))
            return -1;
        v = v * 10 + (key[i] - '0');
    }
    if (v < PRODUCTS_TIME_MIN || v > PRODUCTS_TIME_MAX || !products_is_uuid(bar + 1))
        return -1;
    *starts_at_ms = v;
    memcpy(id, bar + 1, 37);
    return 0;
}
