/* server.h - the listening socket, the worker threads and their drain.
 *
 * One listening socket is bound by the main thread (so "address in use" is
 * a startup error, and two servers can never silently share a port); every
 * worker owns a dup() of it, its own event_base and its own evhttp, and the
 * kernel hands each new connection to whichever worker accepts first.
 * Handlers therefore run on the accepting worker's thread, with no locks
 * between workers on the request path.
 */
#ifndef BH_SERVER_H
#define BH_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "accesslog.h"
#include "core.h"
#include "db.h"
#include "metrics.h"
#include "ratelimit.h"

typedef struct bh_server bh_server;

typedef struct bh_worker {
    bh_server *srv;
    int index;
    pthread_t thread;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *drain_ev;       /* activated by the main thread */
    struct event *drain_tick;     /* polls in-flight while draining */
    bh_match match;               /* this thread's router scratch */
    bh_idgen ids;                 /* request ids */
    bh_dbconn *db;                /* this thread's database connection */
    bh_access_ring *access;       /* this worker's access-log records, or NULL */
    bh_access_encoder access_own; /* lines it encodes when its ring is full */
    struct event *log_tick;       /* flushes access_own every BH_LOG_FLUSH_MS */
    struct bh_request *spare;     /* the last request's memory, for the next */
    struct evbuffer *spare_body;  /* an empty response buffer, for the next */
    time_t date_sec;              /* the second `date` was made for */
    char date[80]; /* "Sun, 29 Nov 2026 10:00:00 GMT"; room for the compiler's worst case */
    atomic_long inflight;
    int draining;
} bh_worker;

struct bh_server {
    bh_app *app;
    int fd;                /* the listening socket */
    char listen_desc[300]; /* "127.0.0.1:8080" as bound */
    bh_worker *workers;
    int n_workers;
    bh_metrics *metrics;
    bh_ratelimit *ratelimit;
    bh_accesslog *accesslog; /* NULL when log.access_log is off */
    int64_t drain_deadline_us;
};

/* Bind `listen` ("HOST:PORT"; port 0 picks a free one) with SO_REUSEADDR.
 * Returns 0 or -1 with a message. */
int bh_server_bind(bh_server *srv, const char *listen, char *err, size_t errlen);

/* Create workers (event bases, evhttp, limits) and start their threads. */
int bh_server_start(bh_server *srv, int n_workers, char *err, size_t errlen);

/* Stop accepting and let every worker finish what it has in flight, then
 * leave its loop; bounded by cfg->drain_timeout_ms.  Any thread. */
void bh_server_drain(bh_server *srv);

/* Join the worker threads, then write the access lines still queued and
 * stop the access-log thread.  bh_server_free frees them. */
void bh_server_join(bh_server *srv);
void bh_server_free(bh_server *srv);

int bh_worker_draining(const bh_worker *w);

/* The HTTP request callback (pipeline.c). */
void bh_pipeline_handle(struct evhttp_request *ev, void *worker);

#endif
