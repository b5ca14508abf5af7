/* hello.c - the example plugin shipped with the server: one route, one
 * event, one subscriber (docs/plugin-guide.md builds its twin, greeter.c):
 *   GET /hello/{name}   answers {"message": "<greeting>, <name>!"} and
 *                       publishes a "hello.greeted" event
 *   GET /hello          answers how many greetings the subscriber has seen
 * Config: {"greeting": "Olá"} (optional string, 1..64 bytes), read with the
 * SDK's config readers (bilhetagem/config.h): any other key is an error.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bilhetagem/bilhetagem.h>

typedef struct hello {
    bh_plugin_ctx *ctx; /* for log lines from the subscriber */
    char greeting[65];
    atomic_long greeted; /* written by subscribers on any worker thread */
} hello;

static int greet(bh_request *req, void *arg)
{
    const hello *h = arg;
    const char *name = bh_req_param(req, "name");
    if (strlen(name) > 64) {
        json_t *errors = NULL;
        bh_problem_field(&errors, "/name", "must be at most 64 bytes");
        bh_resp_problem_fields(req, 400, "Invalid name", errors);
        return 0;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "%s, %s!", h->greeting, name);
    json_t *message = json_string(msg);
    if (!message) { /* json_string() refuses invalid UTF-8 */
        json_t *errors = NULL;
        bh_problem_field(&errors, "/name", "must be UTF-8 text");
        bh_resp_problem_fields(req, 400, "Invalid name", errors);
        return 0;
    }
    json_t *body = json_pack("{s:o}", "message", message);
    bh_event_publish(bh_req_unit(req), "hello.greeted", name, json_pack("{s:s}", "name", name));
    bh_resp_json(req, 200, body);
    return 0;
}

static int count(bh_request *req, void *arg)
{
    hello *h = arg;
    bh_resp_json(req, 200, json_pack("{s:I}", "greeted", (json_int_t)atomic_load(&h->greeted)));
    return 0;
}

static int on_greeted(bh_unit *unit, const bh_event *ev, void *arg)
{
    (void)unit;
    hello *h = arg;
    atomic_fetch_add(&h->greeted, 1);
    bh_log(h->ctx, BH_LOG_DEBUG, "greeted %s", bh_event_subject(ev));
    return 0;
}

static const char greet_doc[] =
    "{\"summary\":\"Greet someone\",\"tags\":[\"hello\"],\"operationId\":\"greet\","
    "\"responses\":{\"200\":{\"description\":\"A greeting\",\"content\":{\"application/json\":"
    "{\"schema\":{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\"}}}}}}}}";
static const char count_doc[] =
    "{\"summary\":\"Count greetings\",\"tags\":[\"hello\"],\"operationId\":\"countGreetings\","
    "\"responses\":{\"200\":{\"description\":\"How many greetings were delivered\"}}}";

static int hello_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    static const char *const keys[] = {"greeting", NULL};
    bh_config_reader cfg;
    char err[256];
    const char *greeting;
    if (bh_config_begin(&cfg, config, err, sizeof err) != 0 ||
        bh_config_only_keys(&cfg, keys, NULL) != 0 ||
        bh_config_string(&cfg, "greeting", BH_CONFIG_TEXT, 1, 64, "Olá", &greeting) != 0) {
        bh_plugin_error(ctx, "%s", err);
        return -1;
    }
    hello *h = calloc(1, sizeof *h);
    if (!h) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    h->ctx = ctx;
    snprintf(h->greeting, sizeof h->greeting, "%s", greeting);
    const bh_route routes[] = {
        {.method = "GET",
         .path = "/hello/{name}",
         .handler = greet,
         .arg = h,
         .openapi = greet_doc},
        {.method = "GET", .path = "/hello", .handler = count, .arg = h, .openapi = count_doc},
    };
    for (size_t i = 0; i < 2; i++) {
        if (bh_route_add(ctx, &routes[i]) != 0) {
            free(h);
            return -1;
        }
    }
    if (bh_event_subscribe(ctx, "hello.greeted", "counter", on_greeted, h) != 0) {
        free(h);
        return -1;
    }
    *state = h;
    return 0;
}

static void hello_stop(bh_plugin_ctx *ctx, void *state)
{
    (void)ctx;
    free(state);
}

BH_PLUGIN(hello) = {
    .abi_version = BH_ABI_VERSION,
    .name = "hello",
    .version = "1.0.0",
    .depends = NULL,
    .init = hello_init,
    .stop = hello_stop,
};
