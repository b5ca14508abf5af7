/* server.c - binding, worker threads, limits and the graceful drain.
 *
 * Drain, step by step: the main thread activates each worker's drain event
 * (libevent's pthread support makes event_active() safe across threads);
 * the worker stops accepting (closes its dup of the listening socket),
 * marks responses "Connection: close", and polls its in-flight count every
 * 20 ms; it leaves its loop when nothing is in flight or the drain deadline
 * passed.  Idle keep-alive connections are closed when its evhttp is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/listener.h>

#include "server.h"

#define DRAIN_POLL_MS 20

/* "HOST:PORT" or "[V6]:PORT" into host and port strings. */
static int split_listen(const char *listen, char *host, size_t hl, char *port, size_t pl)
{
    const char *colon;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':')
            return -1;
        snprintf(host, hl, "%.*s", (int)(end - listen - 1), listen + 1);
        colon = end + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return -1;
        snprintf(host, hl, "%.*s", (int)(colon - listen), listen);
    }
    snprintf(port, pl, "%s", colon + 1);
    return host[0] && port[0] ? 0 : -1;
}

static void describe_bound(bh_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(srv->fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        port = ntohs(s6->sin6_port);
        snprintf(srv->listen_desc, sizeof srv->listen_desc, "[%s]:%d", host, port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        port = ntohs(s4->sin_port);
        snprintf(srv->listen_desc, sizeof srv->listen_desc, "%s:%d", host, port);
    }
}

static int bind_addr(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int bh_server_bind(bh_server *srv, const char *listen, char *err, size_t errlen)
{
    char host[256], port[32];
    if (split_listen(listen, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "listen address \"%s\" is not HOST:PORT", listen);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "listen address \"%s\": %s", listen, gai_strerror(gai));
        return -1;
    }
    srv->fd = -1;
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai && srv->fd < 0; ai = ai->ai_next) {
        srv->fd = bind_addr(ai);
        if (srv->fd < 0)
            last_errno = errno;
    }
    freeaddrinfo(res);
    if (srv->fd < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen, strerror(last_errno));
        return -1;
    }
    describe_bound(srv);
    return 0;
}

int bh_worker_draining(const bh_worker *w)
{
    return w ? w->draining : 0;
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bh_worker *w = arg;
    if (atomic_load(&w->inflight) == 0 || bh_now_us() >= w->srv->drain_deadline_us) {
        bh_access_encoder_flush(&w->access_own);
        event_base_loopexit(w->base, NULL);
    }
}

static void drain_start(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bh_worker *w = arg;
    if (w->draining)
        return;
    w->draining = 1;
    if (w->bound) {
        evhttp_del_accept_socket(w->http, w->bound);
        w->bound = NULL;
    }
    struct timeval tv = {0, DRAIN_POLL_MS * 1000};
    event_add(w->drain_tick, &tv);
    drain_tick(-1, 0, w);
}

static void log_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bh_worker *w = arg;
    bh_access_encoder_flush(&w->access_own);
}

/* The epoll changelist folds the disable-read / enable-write / reverse
 * dance evhttp does around every request into fewer epoll_ctl calls. */
static struct event_base *new_base(void)
{
    struct event_config *ec = event_config_new();
    if (!ec)
        return NULL;
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(ec);
    event_config_free(ec);
    return base;
}

/* After bh_server_drain() shuts the socket down, accept() fails with
 * EINVAL until the worker removes its listener: disable it at once instead
 * of spinning (and logging) in that window. */
static void accept_error(struct evconnlistener *lev, void *arg)
{
    (void)arg;
    evconnlistener_disable(lev);
}

static int worker_setup(bh_worker *w, char *err, size_t errlen)
{
    const bh_config *cfg = w->srv->app->cfg;
    bh_idgen_seed(&w->ids);
    w->base = new_base();
    w->http = w->base ? evhttp_new(w->base) : NULL;
    if (!w->http) {
        snprintf(err, errlen, "worker %d: cannot create event loop", w->index);
        return -1;
    }
    /* libevent answers on its own beyond these ceilings; the pipeline
     * applies the configured header limit itself to answer 431. */
    evhttp_set_max_headers_size(w->http, (ev_ssize_t)(cfg->max_header_bytes * 2 + 1024));
    evhttp_set_max_body_size(w->http, (ev_ssize_t)cfg->max_body_bytes);
    struct timeval tv = {cfg->timeout_ms / 1000, (cfg->timeout_ms % 1000) * 1000};
    evhttp_set_timeout_tv(w->http, &tv);
    evhttp_set_default_content_type(w->http, NULL);
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(w->http, bh_pipeline_handle, w);
    int fd = fcntl(w->srv->fd, F_DUPFD_CLOEXEC, 0);
    w->bound = fd >= 0 ? evhttp_accept_socket_with_handle(w->http, fd) : NULL;
    if (w->bound)
        evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(w->bound), accept_error);
    w->drain_ev = event_new(w->base, -1, 0, drain_start, w);
    w->drain_tick = event_new(w->base, -1, EV_PERSIST, drain_tick, w);
    w->access = w->srv->accesslog ? bh_accesslog_ring(w->srv->accesslog, w->index) : NULL;
    w->log_tick = event_new(w->base, -1, EV_PERSIST, log_tick, w);
    struct timeval flush = {0, BH_LOG_FLUSH_MS * 1000};
    if (!w->bound || !w->drain_ev || !w->drain_tick || !w->log_tick ||
        event_add(w->log_tick, &flush) != 0 || bh_match_init(&w->match, w->srv->app->router) != 0) {
        if (fd >= 0 && !w->bound)
            close(fd);
        snprintf(err, errlen, "worker %d: cannot accept on the listening socket", w->index);
        return -1;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    bh_worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

int bh_server_start(bh_server *srv, int n_workers, char *err, size_t errlen)
{
    if (srv->app->cfg->access_log && !(srv->accesslog = bh_accesslog_start(n_workers, err, errlen)))
        return -1;
    srv->workers = bh_xcalloc((size_t)n_workers, sizeof *srv->workers);
    for (int i = 0; i < n_workers; i++) {
        bh_worker *w = &srv->workers[i];
        w->srv = srv;
        w->index = i;
        srv->n_workers = i + 1;
        if (worker_setup(w, err, errlen) != 0)
            return -1;
    }
    for (int i = 0; i < n_workers; i++) {
        int rc = pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start worker thread: %s", strerror(rc));
            srv->n_workers = i; /* join only those that run */
            return -1;
        }
    }
    return 0;
}

void bh_server_drain(bh_server *srv)
{
    srv->drain_deadline_us = bh_now_us() + (int64_t)srv->app->cfg->drain_timeout_ms * 1000;
    /* Stop accepting now, even while a worker is busy in a handler and has
     * not closed its dup yet: new connections are refused, not queued. */
    if (srv->fd >= 0)
        shutdown(srv->fd, SHUT_RDWR);
    for (int i = 0; i < srv->n_workers; i++)
        event_active(srv->workers[i].drain_ev, 0, 0);
    if (srv->fd >= 0) {
        close(srv->fd);
        srv->fd = -1;
    }
}

void bh_server_join(bh_server *srv)
{
    for (int i = 0; i < srv->n_workers; i++)
        pthread_join(srv->workers[i].thread, NULL);
    bh_accesslog_stop(srv->accesslog); /* no worker left to queue a line */
    srv->accesslog = NULL;
}

void bh_server_free(bh_server *srv)
{
    for (int i = 0; srv->workers && i < srv->n_workers; i++) {
        bh_worker *w = &srv->workers[i];
        if (w->http)
            evhttp_free(w->http);
        if (w->drain_ev)
            event_free(w->drain_ev);
        if (w->drain_tick)
            event_free(w->drain_tick);
        if (w->log_tick)
            event_free(w->log_tick);
        bh_access_encoder_free(&w->access_own);
        free(w->spare);
        if (w->spare_body)
            evbuffer_free(w->spare_body);
        bh_match_free(&w->match);
        if (w->db)
            w->db->drv->close(w->db);
        if (w->base)
            event_base_free(w->base);
    }
    free(srv->workers);
    srv->workers = NULL;
    bh_accesslog_stop(srv->accesslog); /* when the workers never started */
    srv->accesslog = NULL;
    if (srv->fd >= 0)
        close(srv->fd);
    srv->fd = -1;
    bh_metrics_free(srv->metrics);
    bh_ratelimit_free(srv->ratelimit);
}
