/* products.h - the products plugin's internal interface: the parsed shapes
 * of request bodies (validate.c), the SQL that reads and writes the catalog
 * tables (store.c), the catalog service (catalog.c), the HTTP routes
 * (routes_events.c, routes_products.c, openapi.c) and the seed command
 * (seed.c).  Nothing here is visible outside the plugin: every symbol is
 * hidden by -fvisibility=hidden and only the descriptor is exported.
 */
#ifndef PRODUCTS_H
#define PRODUCTS_H

#include <stdint.h>

#include <bilhetagem/bilhetagem.h>
#include <bilhetagem/services/catalog.h>

/* ---- limits (docs/plugins/products.md, "Validation") ----------------------- */
#define PRODUCTS_NAME_MAX 200               /* bytes of UTF-8: event, venue, ticket type, product */
#define PRODUCTS_SKU_MAX 64                 /* [A-Za-z0-9._-]{1,64} */
#define PRODUCTS_TYPES_MAX 20               /* ticket types per event */
#define PRODUCTS_PRICE_MAX 10000000000LL    /* 100 000 000.00 in minor units */
#define PRODUCTS_QTY_MAX 1000000LL          /* capacity, stock, and one service call's qty */
#define PRODUCTS_TIME_MIN 946684800000LL    /* 2000-01-01T00:00:00Z */
#define PRODUCTS_TIME_MAX 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define PRODUCTS_DEFAULT_CURRENCY "BRL"

/* ---- parsed request bodies (validate.c) -------------------------------------
 * Every `const char *` points into the JSON body it was parsed from and lives
 * as long as that body.  The parsers return NULL when the body is valid, or a
 * new JSON array of {"pointer", "detail"} objects naming every invalid field
 * (the caller owns it; bh_resp_problem_fields() steals it). */

typedef struct products_ticket_in {
    const char *name;
    int64_t price_cents;
    int64_t capacity;
} products_ticket_in;

typedef struct products_event_in {
    const char *name;
    const char *venue;
    const char *currency; /* "BRL" when absent */
    int64_t starts_at_ms;
    size_t ntypes; /* 1 .. PRODUCTS_TYPES_MAX */
    products_ticket_in types[PRODUCTS_TYPES_MAX];
} products_event_in;

typedef struct products_ticket_patch {
    const char *id; /* a well-formed UUID; existence is the store's to check */
    int has_price, has_capacity;
    int64_t price_cents;
    int64_t capacity;
} products_ticket_patch;

typedef struct products_event_patch {
    const char *name;   /* NULL: unchanged */
    const char *venue;  /* NULL: unchanged */
    const char *status; /* "active", "cancelled" or NULL */
    int has_starts_at;
    int64_t starts_at_ms;
    size_t ntypes;
    products_ticket_patch types[PRODUCTS_TYPES_MAX];
} products_event_patch;

typedef struct products_product_in {
    const char *sku;
    const char *name;
    const char *currency; /* "BRL" when absent */
    int64_t price_cents;
    int64_t stock;
    int active; /* 1 when absent */
} products_product_in;

typedef struct products_product_patch {
    const char *name; /* NULL: unchanged */
    int has_price, has_stock, has_active;
    int64_t price_cents;
    int64_t stock;
    int active;
} products_product_patch;

json_t *products_parse_event(const json_t *body, products_event_in *out);
json_t *products_parse_event_patch(const json_t *body, products_event_patch *out);
json_t *products_parse_product(const json_t *body, products_product_in *out);
json_t *products_parse_product_patch(const json_t *body, products_product_patch *out);

/* 1 when s is a lowercase or uppercase UUID in 8-4-4-4-12 form. */
int products_is_uuid(const char *s);
/* 1 when s matches [A-Za-z0-9._-]{1,64}. */
int products_is_sku(const char *s);
/* The event list's cursor key "starts_at_ms|id" (made by
 * products_event_cursor_key): 0 and the parts, or -1 when it is not one. */
int products_parse_event_cursor(const char *key, int64_t *starts_at_ms, char id[37]);
/* Write "starts_at_ms|id" into out (at least 64 bytes). */
void products_event_cursor_key(int64_t starts_at_ms, const char *id, char out[64]);

/* ---- storage (store.c): every call runs in `unit` ---------------------------- */

/* Insert an event and its ticket types; *id receives the new event's id.
 * Returns a bh_db_status. */
int products_store_insert_event(bh_unit *unit, const products_event_in *in, int64_t now_ms,
                                char id[37]);
/* Insert a product; *id receives its id; *duplicate = 1 (and nothing is
 * written) when the sku is taken.  Returns a bh_db_status. */
int products_store_insert_product(bh_unit *unit, const products_product_in *in, int64_t now_ms,
                                  char id[37], int *duplicate);

/* The event `id` as its API representation in *out (NULL when there is no
 * such event).  `admin` adds sold and held.  Returns a bh_db_status. */
int products_store_event_json(bh_unit *unit, const char *id, int admin, int64_t now_ms,
                              json_t **out);
/* One page of events ordered by (starts_at_ms, id) after the cursor
 * (after_id NULL: the first page): appends at most `limit` events to
 * `items`; *more = 1 when another page follows.  Returns a bh_db_status. */
int products_store_event_page(bh_unit *unit, int64_t after_ms, const char *after_id, int limit,
                              int admin, int64_t now_ms, json_t *items, int *more);

int products_store_product_json(bh_unit *unit, const char *id, int admin, json_t **out);
/* Products ordered by sku after `after_sku` (NULL: first page); inactive
 * ones only when `admin`. */
int products_store_product_page(bh_unit *unit, const char *after_sku, int limit, int admin,
                                json_t *items, int *more);

/* Outcome of a PATCH that must respect sold + held. */
typedef enum products_patch_result {
    PRODUCTS_PATCHED = 0,
    PRODUCTS_PATCH_NOT_FOUND,      /* no such event / product */
    PRODUCTS_PATCH_BAD_TYPE,       /* a ticket type id not of this event: *bad_index */
    PRODUCTS_PATCH_BELOW_COMMITTED /* capacity/stock < sold + held: *bad_index */
} products_patch_result;

/* Apply a validated patch with conditional UPDATEs.  *result says what
 * happened; on anything but PRODUCTS_PATCHED the caller answers 4xx and the
 * unit rolls back what was already changed.  Returns a bh_db_status. */
int products_store_patch_event(bh_unit *unit, const char *id, const products_event_patch *p,
                               int64_t now_ms, products_patch_result *result, size_t *bad_index);
int products_store_patch_product(bh_unit *unit, const char *id, const products_product_patch *p,
                                 int64_t now_ms, products_patch_result *result);

/* Events and products in the catalog (seed.c). */
int products_store_counts(bh_unit *unit, int64_t *events, int64_t *products);

/* ---- the plugin's pieces ------------------------------------------------------ */

/* The catalog service (catalog.c), provided in init; `self` is unused. */
extern const bh_catalog_service products_catalog_service;

int products_migrations(bh_plugin_ctx *ctx);   /* schema.c */
int products_seed_command(bh_plugin_ctx *ctx); /* seed.c */

/* Shared by the route files (routes_common.c). */
int products_is_admin(const bh_request *req);
/* Answer a bh_db_status that is not OK: return -1 (the core answers 503 /
 * 500 from the unit's status) after logging. */
int products_db_fail(bh_request *req, int status);
/* Answer a validation problem (422) from a parser's error array. */
int products_invalid(bh_request *req, const char *title, json_t *errors);

/* The OpenAPI operation fragments (openapi.c): JSON text (malloc'd, the
 * caller frees it) or NULL when out of memory. */
typedef enum products_doc {
    PRODUCTS_DOC_EVENT_CREATE,
    PRODUCTS_DOC_EVENT_LIST,
    PRODUCTS_DOC_EVENT_GET,
    PRODUCTS_DOC_EVENT_PATCH,
    PRODUCTS_DOC_PRODUCT_CREATE,
    PRODUCTS_DOC_PRODUCT_LIST,
    PRODUCTS_DOC_PRODUCT_GET,
    PRODUCTS_DOC_PRODUCT_PATCH
} products_doc;
char *products_doc_text(products_doc which);

/* ---- a catalog resource over HTTP (routes_common.c) ------------------------------
 * Events and products are served alike: POST COLLECTION and PATCH
 * COLLECTION/{id} for admins with a JSON body, GET COLLECTION (a page) and
 * GET COLLECTION/{id} for anyone.  Each route's handler gets the resource
 * as its arg. */
typedef struct products_resource {
    const char *name;       /* "event": the 404 says "no such event" */
    const char *collection; /* "/events"; one is "/events/{id}" */
    /* The resource `id` as the caller sees it (`admin` sees more) in *out,
     * NULL when there is none.  Returns a bh_db_status. */
    int (*fetch)(bh_unit *unit, const char *id, int admin, json_t **out);
    bh_handler_fn create, list, patch; /* GET COLLECTION/{id} is common */
    products_doc docs[4];              /* create, list, get, patch */
} products_resource;

extern const products_resource products_events;   /* routes_events.c */
extern const products_resource products_products; /* routes_products.c */

/* Register the four routes of `r` (static: it is every handler's arg).  0,
 * or -1 after bh_plugin_error(). */
int products_resource_routes(bh_plugin_ctx *ctx, const products_resource *r);
/* Answer `status` with resource `id` as it is now in the request's unit:
 * 200, or 201 with its Location; 404 when it is not there.  0 or -1. */
int products_respond(bh_request *req, const products_resource *r, const char *id, int status);
/* The request's {id} when it is a UUID; otherwise answers 404 and returns
 * NULL (an id that cannot exist is not found, not invalid). */
const char *products_item_id(bh_request *req, const products_resource *r);
void products_not_found(bh_request *req, const products_resource *r);

#endif
