/* openapi.c - one OpenAPI 3.1 document from the fragments routes register.
 *
 * Each route may carry an Operation Object; the core adds what it knows
 * better than the plugin: the path parameters from the template, the
 * security requirement from the route's auth, the Idempotency-Key header on
 * idempotent routes, and the problem+json responses the pipeline itself can
 * produce.  Built once at startup, served as text.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

static void lower_method(const char *m, char out[8])
{
    size_t i = 0;
    for (; i < 7 && m[i]; i++)
        out[i] = (char)(m[i] | 0x20);
    out[i] = '\0';
}

static int has_path_param(const json_t *params, const char *name, size_t len)
{
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p) {
        const char *n = json_string_value(json_object_get(p, "name"));
        const char *in = json_string_value(json_object_get(p, "in"));
        if (n && in && !strcmp(in, "path") && strlen(n) == len && !strncmp(n, name, len))
            return 1;
    }
    return 0;
}

/* Template parameters the fragment did not already describe. */
static json_t *path_parameters(const char *tmpl, const json_t *declared)
{
    json_t *params = json_array();
    for (const char *p = strchr(tmpl, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        if (!end)
            break;
        if (has_path_param(declared, p + 1, (size_t)(end - p - 1)))
            continue;
        json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1,
                                                (size_t)(end - p - 1), "in", "path", "required", 1,
                                                "schema", "type", "string"));
    }
    return params;
}

static void add_core_responses(json_t *op, const bh_route_entry *e)
{
    json_t *responses = json_object_get(op, "responses"); /* fill_defaults made it */
    const char *codes[8];
    size_t n = 0;
    codes[n++] = "429";
    if (e->auth != BH_AUTH_PUBLIC) {
        codes[n++] = "401";
        codes[n++] = "403";
    }
    if (e->flags & (BH_ROUTE_JSON_BODY | BH_ROUTE_IDEMPOTENT))
        codes[n++] = "400";
    if (e->flags & BH_ROUTE_JSON_BODY)
        codes[n++] = "415";
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(responses, codes[i]))
            json_object_set_new(responses, codes[i],
                                json_pack("{s:s}", "$ref", "#/components/responses/Problem"));
}

/* "hello_get_hello_name" for GET /hello/{name} of plugin hello. */
static json_t *default_operation_id(const bh_route_entry *e)
{
    char id[256];
    int n = snprintf(id, sizeof id, "%s_%s", e->plugin ? e->plugin->name : "core", e->method);
    for (const char *p = e->tmpl; *p && n > 0 && (size_t)n < sizeof id - 1; p++) {
        char c = *p;
        if (c == '{' || c == '}')
            continue;
        id[n++] =
            ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c : '_';
    }
    id[n > 0 ? n : 0] = '\0';
    for (char *p = id; *p; p++)
        *p = (*p >= 'A' && *p <= 'Z') ? (char)(*p | 0x20) : *p;
    return json_string(id);
}

/* Routes registered without a fragment still get a valid operation. */
static void fill_defaults(json_t *op, const bh_route_entry *e)
{
    if (!json_object_get(op, "summary")) {
        char summary[300];
        snprintf(summary, sizeof summary, "%s %s", e->method, e->tmpl);
        json_object_set_new(op, "summary", json_string(summary));
    }
    if (!json_object_get(op, "operationId"))
        json_object_set_new(op, "operationId", default_operation_id(e));
    json_t *responses = json_object_get(op, "responses");
    if (!json_is_object(responses)) {
        responses = json_object();
        json_object_set_new(op, "responses", responses);
    }
    const char *code;
    json_t *v;
    json_object_foreach(responses, code, v)
        if (code[0] == '2')
            return;
    json_object_set_new(responses, "200", json_pack("{s:s}", "description", "Success"));
}

static json_t *operation_for(const bh_route_entry *e)
{
    json_t *op = e->openapi ? json_deep_copy(e->openapi) : json_object();
    fill_defaults(op, e);
    json_t *params = json_object_get(op, "parameters");
    if (!json_is_array(params)) {
        params = json_array();
        json_object_set_new(op, "parameters", params);
    }
    json_t *from_template = path_parameters(e->tmpl, params);
    json_array_extend(params, from_template);
    json_decref(from_template);
    if (e->flags & BH_ROUTE_IDEMPOTENT)
        json_array_append_new(params,
                              json_pack("{s:s, s:s, s:b, s:{s:s, s:i, s:i}}", "name",
                                        "Idempotency-Key", "in", "header", "required", 1, "schema",
                                        "type", "string", "minLength", 1, "maxLength", 255));
    if (json_array_size(params) == 0)
        json_object_del(op, "parameters");
    if (e->auth != BH_AUTH_PUBLIC && !json_object_get(op, "security"))
        json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearerAuth"));
    if (e->auth == BH_AUTH_PUBLIC && !json_object_get(op, "security"))
        json_object_set_new(op, "security", json_array());
    add_core_responses(op, e);
    return op;
}

static json_t *components(void)
{
    return json_pack("{s:{s:{s:s, s:s, s:s}}, s:{s:{s:s, s:{s:{s:{s:s}}}}},"
                     " s:{s:{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}}}",
                     "securitySchemes", "bearerAuth", "type", "http", "scheme", "bearer",
                     "bearerFormat", "JWT", "responses", "Problem", "description",
                     "An RFC 9457 problem", "content", "application/problem+json", "schema", "$ref",
                     "#/components/schemas/Problem", "schemas", "Problem", "type", "object",
                     "description", "RFC 9457 problem details", "properties", "type", "type",
                     "string", "title", "type", "string", "status", "type", "integer", "detail",
                     "type", "string", "instance", "type", "string");
}

char *bh_openapi_build(const bh_app *app)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < bh_router_count(app->router); i++) {
        const char *tmpl;
        unsigned bit;
        void *data;
        bh_router_entry(app->router, i, &tmpl, &bit, &data);
        const bh_route_entry *e = data;
        json_t *item = json_object_get(paths, tmpl);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, tmpl, item);
        }
        char m[8];
        lower_method(e->method, m);
        json_object_set_new(item, m, operation_for(e));
    }
    json_t *doc =
        json_pack("{s:s, s:{s:s, s:s, s:s, s:{s:s, s:s}}, s:[{s:s}], s:o, s:o}", "openapi", "3.1.0",
                  "info", "title", "Bilhetagem API", "version", PACKAGE_VERSION, "description",
                  "Event-ticketing checkout backend. Every error is RFC 9457 problem+json.",
                  "license", "name", "MIT", "identifier", "MIT", "servers", "url", "/", "paths",
                  paths, "components", components());
    if (!doc)
        return NULL;
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    return text;
}
