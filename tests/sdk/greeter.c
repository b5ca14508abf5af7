/* greeter.c - the plugin written in docs/plugin-guide.md, built out of tree
 * against the installed SDK by tests/integration/sdk.test.sh:
 *
 *   cc -o greeter.so greeter.c $(pkg-config --cflags --libs bilhetagem)
 *
 * GET /greetings/{name} answers {"greeting": "Hi, NAME"} and publishes a
 * "greeting.sent" event; a subscriber counts them for GET /greetings. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <bilhetagem/bilhetagem.h>

struct greeter {
    atomic_long sent;
};

static int greet(bh_request *req, void *arg)
{
    (void)arg;
    char text[128];
    snprintf(text, sizeof text, "Hi, %s", bh_req_param(req, "name"));
    json_t *body = json_pack("{s:s}", "greeting", text);
    if (!body) {
        bh_resp_problem(req, 400, "validation", NULL, "name must be UTF-8");
        return 0;
    }
    bh_event_publish(bh_req_unit(req), "greeting.sent", NULL, json_pack("{s:s}", "text", text));
    bh_resp_json(req, 200, body);
    return 0;
}

static int count(bh_request *req, void *arg)
{
    struct greeter *g = arg;
    bh_resp_json(req, 200, json_pack("{s:I}", "sent", (json_int_t)atomic_load(&g->sent)));
    return 0;
}

static int on_sent(bh_unit *unit, const bh_event *ev, void *arg)
{
    (void)unit;
    (void)ev;
    struct greeter *g = arg;
    atomic_fetch_add(&g->sent, 1);
    return 0;
}

static int greeter_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    (void)config;
    struct greeter *g = calloc(1, sizeof *g);
    if (!g) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    bh_route hello = {.method = "GET", .path = "/greetings/{name}", .handler = greet};
    bh_route total = {.method = "GET", .path = "/greetings", .handler = count, .arg = g};
    if (bh_route_add(ctx, &hello) != 0 || bh_route_add(ctx, &total) != 0 ||
        bh_event_subscribe(ctx, "greeting.sent", "counter", on_sent, g) != 0) {
        free(g);
        return -1;
    }
    *state = g;
    return 0;
}

static void greeter_stop(bh_plugin_ctx *ctx, void *state)
{
    (void)ctx;
    free(state);
}

BH_PLUGIN(greeter) = {
    .abi_version = BH_ABI_VERSION,
    .name = "greeter",
    .version = "1.0.0",
    .init = greeter_init,
    .stop = greeter_stop,
};
