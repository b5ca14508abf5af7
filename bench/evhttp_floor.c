/* evhttp_floor.c - the least any libevent evhttp server can do: one thread,
 * one evhttp, the same JSON body for every request, no logging.  bench/
 * healthz.sh runs it beside bilhetagemd and nginx so the report shows how
 * much of the gap to nginx is evhttp itself and how much is ours.
 *
 *   cc -O2 -o evhttp_floor evhttp_floor.c -levent && ./evhttp_floor PORT */
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

static void answer(struct evhttp_request *req, void *arg)
{
    struct evbuffer *body = arg;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add_reference(body, "{\"status\":\"ok\"}\n", 16, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", body);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(ec);
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    struct evbuffer *body = evbuffer_new();
    if (!http || !body || evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)atoi(argv[1])) != 0) {
        fprintf(stderr, "evhttp_floor: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    evhttp_set_gencb(http, answer, body);
    event_base_dispatch(base);
    return 0;
}
