/* xray.h - the xray-tracing plugin's internal interfaces.
 *
 *   config.c    the plugin's "config" object, checked strictly
 *   sampling.c  the fixed sampling rule: a reservoir per second, then a rate
 *   ids.c       trace and segment ids in X-Ray's formats, wall-clock seconds
 *   segment.c   building a segment document and its subsegments (bh_span)
 *   emit.c      UDP to the X-Ray daemon: the header line, splitting
 *   emf.c       CloudWatch Embedded Metric Format: per-route aggregation
 *   xray.c      the descriptor, the hooks, the tracer and the SQL observer
 *
 * Everything but xray.c is free of request plumbing, so
 * tests/unit/test_xray.c links it as it is.
 */
#ifndef XRAY_H
#define XRAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include <bilhetagem/bilhetagem.h>

/* ---- config ------------------------------------------------------------------ */

#define XR_NAME_MAX 200 /* X-Ray's limit on segment and subsegment names */
#define XR_DEFAULT_DAEMON "127.0.0.1:2000"
#define XR_DATAGRAM_DEFAULT 64000 /* the daemon reads 64 KiB datagrams */

typedef struct xr_config {
    char *service_name;   /* "bilhetagem" */
    char *daemon_address; /* "host:port" */
    char *origin;         /* "AWS::ECS::Container", or NULL */
    int fixed_target;     /* traces per second before the rate applies */
    double rate;          /* 0 .. 1 */
    int max_datagram;     /* bytes, header line included */
    int max_subsegments;  /* per segment; more are counted, not kept */
    int emf_enabled;
    char *emf_namespace;   /* "Bilhetagem" */
    int64_t emf_flush_ms;  /* 60000 */
    size_t emf_max_routes; /* distinct route keys kept per interval */
} xr_config;

/* Parse `config` (the plugin's object) into *c, defaults first; the
 * environment (AWS_XRAY_DAEMON_ADDRESS, AWS_XRAY_TRACING_NAME) overrides the
 * file, as X-Ray SDKs do.  -1 with err naming the key. */
int xr_config_parse(const json_t *config, xr_config *c, char *err, size_t errlen);
void xr_config_free(xr_config *c);

/* ---- sampling ------------------------------------------------------------------ */

typedef struct xr_sampler {
    int fixed_target;
    double rate;
    pthread_mutex_t lock;
    int64_t second; /* the second `used` counts in */
    int used;
} xr_sampler;

void xr_sampler_init(xr_sampler *s, int fixed_target, double rate);
void xr_sampler_destroy(xr_sampler *s);
/* Decide for a request arriving at `now_ms` (any clock in ms): 1 while the
 * reservoir of this second has room, else 1 when u (uniform in [0,1)) is
 * below the rate.  Any thread. */
int xr_sample(xr_sampler *s, int64_t now_ms, double u);

/* ---- ids and time -------------------------------------------------------------- */

/* Per-thread generator (splitmix64 seeded from bh_random_bytes). */
uint64_t xr_rand64(void);
double xr_rand01(void);
/* "1-" 8 hex (epoch seconds) "-" 24 random hex, NUL-terminated. */
void xr_trace_id(char out[36], int64_t epoch_s);
/* 16 random hex digits, never all zero. */
void xr_segment_id(char out[17]);
/* Wall-clock seconds since the epoch, microsecond precision. */
double xr_now(void);

/* ---- segments ------------------------------------------------------------------ */

typedef struct xr_tree xr_tree;

struct bh_span {
    json_t *doc;            /* the (sub)segment document */
    struct bh_span *parent; /* NULL for the segment itself */
    xr_tree *tree;
    bh_unit *unit; /* the unit it was opened in */
    int open;
};

/* A new segment (the root span).  `parent_id` may be NULL or "". */
bh_span *xr_segment_new(const char *name, const char *trace_id, const char *parent_id,
                        const char *origin, int max_subsegments, double start);
/* A child of `parent` (NULL when the segment is full). */
bh_span *xr_span_open(bh_span *parent, const char *name, const char *ns, double start);
/* Close a span (and any of its children still open) at `end`. */
void xr_span_close(bh_span *span, double end);
/* Set http.response.status and the error / throttle / fault flags. */
void xr_span_status(bh_span *span, int status, int fault);
void xr_span_http_request(bh_span *span, const char *method, const char *url);
/* annotations.KEY = value, on the segment of `span`. */
int xr_annotate(bh_span *span, const char *key, const char *value);
/* Set doc[key] to a string cut at `max` bytes (on a UTF-8 boundary); a
 * value that is not UTF-8 is left out.  0 or -1. */
int xr_set_str(json_t *obj, const char *key, const char *s, size_t max);
const char *xr_span_id(const bh_span *span);
const char *xr_trace_of(const bh_span *span);
bh_span *xr_root(const bh_span *span);
size_t xr_dropped(const bh_span *root);
/* Free the tree of the segment `root` (every span of it). */
void xr_segment_free(bh_span *root);

/* ---- the daemon --------------------------------------------------------------- */

typedef struct xr_emitter {
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int max_datagram;
    char header[48]; /* {"format":"json","version":1} and a newline */
    size_t header_len;
    atomic_long sent, dropped; /* datagrams */
} xr_emitter;

/* Parse "host:port" or "udp:host:port tcp:host:port" and open a
 * non-blocking UDP socket.  -1 with err. */
int xr_emitter_open(xr_emitter *e, const char *address, int max_datagram, char *err, size_t errlen);
void xr_emitter_close(xr_emitter *e);
/* Send the segment `root`: one datagram when it fits, else its
 * subsegments separately (recursively) and the segment without them.
 * Never blocks; returns the number of datagrams sent. */
int xr_emit(xr_emitter *e, const bh_span *root);

/* ---- EMF ----------------------------------------------------------------------- */

typedef struct xr_emf xr_emf;

/* NULL on allocation failure. */
xr_emf *xr_emf_new(const char *ns, const char *service, size_t max_routes);
void xr_emf_free(xr_emf *m);
/* Count one request: `route` is "METHOD /template" or "unmatched". */
void xr_emf_observe(xr_emf *m, const char *route, int status, double latency_ms);
/* One EMF line per route seen since the last flush, then the service line
 * (the deltas of the domain counters `counters` visits - bh_counter_each in
 * the plugin - and OutboxLag when lag_ms >= 0), each passed to `out` as a
 * JSON object (stolen).  Resets the interval.  One flushing thread. */
typedef void (*xr_counters_fn)(bh_counter_visit_fn fn, void *arg);
void xr_emf_flush(xr_emf *m, int64_t now_ms, int64_t lag_ms, xr_counters_fn counters,
                  void (*out)(json_t *line, void *arg), void *arg);
/* CamelCase of a counter name: "orders_created" -> "OrdersCreated". */
void xr_emf_metric_name(const char *counter, char *out, size_t len);

#endif
