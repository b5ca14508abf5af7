/* bilhetagem/trace.h - distributed tracing: spans any plugin can open, the
 * X-Ray trace header, and the interface a tracing plugin installs.
 *
 * A plugin that calls the payment gateway, fetches keys or does any other
 * work worth seeing in a trace does it like this, without depending on the
 * tracing plugin:
 *
 *     bh_span *sp = bh_trace_begin(unit, "payment-gateway", BH_TRACE_REMOTE);
 *     bh_trace_http(sp, "POST", url);
 *     char hdr[BH_TRACE_HEADER_MAX];
 *     if (bh_trace_outbound_header(unit, sp, hdr, sizeof hdr) == 0)
 *         ... add "X-Amzn-Trace-Id: <hdr>" to the outbound request ...
 *     ... the call ...
 *     bh_trace_end(sp, http_status, failed_without_a_status);
 *
 * Every call is a no-op (bh_trace_begin returns NULL, and the others accept
 * NULL) when no tracer is installed or when the unit's trace is not sampled,
 * so the code above costs a few branches when tracing is off.
 *
 * Spans nest: a span opened in a unit while another is open in it becomes
 * its child, and SQL statements the unit runs become children of the
 * innermost open span.  Close spans in reverse order of opening.  A span
 * left open when its unit ends is closed then (marked "in_progress" no
 * more, ending at that time).
 *
 * Memory: a bh_span belongs to the tracer; it is valid from bh_trace_begin
 * until bh_trace_end or the end of its unit, whichever comes first.  Strings
 * passed in are copied.
 *
 * Threads: a span is used on the thread that runs its unit, like the unit.
 * The header helpers (bh_trace_header_*) are pure and any thread may call
 * them.
 */
#ifndef BILHETAGEM_TRACE_H
#define BILHETAGEM_TRACE_H

#include <bilhetagem/events.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bh_span bh_span; /* defined by the installed tracer */

/* Span namespaces (X-Ray's "namespace"): work in this process, a call to
 * another service over the network, a call to an AWS service. */
#define BH_TRACE_LOCAL NULL
#define BH_TRACE_REMOTE "remote"
#define BH_TRACE_AWS "aws"

/* The longest trace header the SDK produces or keeps, NUL included (the
 * unit's copy is limited the same way: bilhetagem/events.h). */
#define BH_TRACE_HEADER_MAX 256

/* ---- the X-Ray trace header -------------------------------------------------
 * "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
 * Fields are separated by ';' (spaces around them are allowed), names are
 * case-sensitive as AWS sends them, unknown fields (Lineage, Self...) are
 * ignored. */
typedef struct bh_trace_ctx {
    char root[36];   /* "1-" 8 hex "-" 24 hex, lowercase; "" when none */
    char parent[17]; /* 16 hex (the caller's segment id); "" when none */
    int sampled;     /* 1 (Sampled=1), 0 (Sampled=0), -1: not decided
                        (absent, or "Sampled=?") */
} bh_trace_ctx;

/* Parse `header` (may be NULL).  Returns 0 when it holds a valid Root (the
 * fields found are in *out), -1 otherwise (*out then holds no root, no
 * parent and sampled -1).  A malformed Parent or Sampled is dropped
 * (treated as absent), not an error: the trace still joins.  Input of any
 * length is safe; over BH_TRACE_HEADER_MAX bytes is refused. */
int bh_trace_header_parse(const char *header, bh_trace_ctx *out);

/* Format ctx as "Root=...[;Parent=...][;Sampled=0|1]" into out.  Returns 0,
 * or -1 when ctx has no valid root or `len` is too small. */
int bh_trace_header_format(const bh_trace_ctx *ctx, char *out, size_t len);

/* ---- spans: what any plugin may call ------------------------------------ */

/* Open a span named `name` (at most 200 bytes are kept) in `unit`, in
 * namespace `ns` (BH_TRACE_*).  NULL when nothing is traced: pass the NULL
 * on, the other calls accept it. */
bh_span *bh_trace_begin(bh_unit *unit, const char *name, const char *ns);

/* Describe an outbound HTTP call made in `span`: method and URL (the URL
 * goes into the trace: never put a secret in its query string). */
void bh_trace_http(bh_span *span, const char *method, const char *url);

/* Close `span`.  `http_status`: the callee's HTTP status, or 0 when there
 * was none (not HTTP, or no answer); 4xx marks the span an error (429 also
 * throttled), 5xx a fault.  `error` non-zero marks it a fault whatever the
 * status (a timeout, a refused connection). */
void bh_trace_end(bh_span *span, int http_status, int error);

/* Add an annotation (indexed, searchable in X-Ray: "order_id", "payment_id")
 * to the unit's segment.  `key`: [A-Za-z0-9_]{1,64}; value at most 1000
 * bytes.  Later calls with the same key replace the value. */
void bh_trace_annotate(bh_unit *unit, const char *key, const char *value);

/* The X-Amzn-Trace-Id value to send on an outbound call made in `span` (or,
 * with span NULL, in `unit`), so that the callee's work joins the trace:
 * Root of the unit's trace, Parent = the span, and the sampling decision.
 * Returns 0 with the header in `out`, or -1 when the unit has no trace
 * (send no header then). */
int bh_trace_outbound_header(const bh_unit *unit, const bh_span *span, char *out, size_t len);

/* The unit's trace id ("1-5759e988-bd862e3fe1be46a994272793"), copied into
 * out (36 bytes).  Returns 0, or -1 when the unit has no trace. */
int bh_trace_id(const bh_unit *unit, char out[36]);

/* ---- the tracer: what a tracing plugin installs ----------------------------
 * Exactly one plugin may install a tracer (like the authorizer), in its
 * init.  The core forwards the calls above to it and calls unit_begin /
 * unit_end around every event delivery, so a subscriber's work is traced in
 * the trace of the event it handles (bh_unit_trace_header() holds the
 * event's header when unit_begin runs).  The tracer opens request segments
 * itself, from its BEGIN / END hooks.
 *
 * Every callback runs on the thread of the unit concerned and must not
 * block: a tracer sends what it records without waiting for anyone. */
typedef struct bh_tracer {
    /* Open a child of bh_trace_current(unit) (or NULL). */
    bh_span *(*begin)(void *arg, bh_unit *unit, const char *name, const char *ns);
    void (*http)(void *arg, bh_span *span, const char *method, const char *url);
    void (*end)(void *arg, bh_span *span, int http_status, int error);
    void (*annotate)(void *arg, bh_unit *unit, const char *key, const char *value);
    /* The header for a call made in `span` (never NULL here). */
    int (*header)(void *arg, const bh_span *span, char *out, size_t len);
    /* An event delivery starts in `unit`: `what` names it ("deliver
     * payment.captured to order/reserve").  Returns the segment, or NULL. */
    bh_span *(*unit_begin)(void *arg, bh_unit *unit, const char *what);
    /* It ended: `error` non-zero when the subscriber failed. */
    void (*unit_end)(void *arg, bh_unit *unit, bh_span *span, int error);
    void *arg;
} bh_tracer;

/* Install the tracer (copied).  Init only; -1 after bh_plugin_error() when
 * another plugin installed one or a callback is missing. */
int bh_tracer_set(bh_plugin_ctx *ctx, const bh_tracer *tracer);

/* The unit's innermost open span, kept by the core for the tracer: a tracer
 * sets it when it opens a span and restores the parent when it closes it.
 * Any code may read it; only the tracer sets it. */
bh_span *bh_trace_current(const bh_unit *unit);
void bh_trace_set_current(bh_unit *unit, bh_span *span);

/* ---- CloudWatch: Embedded Metric Format ------------------------------------ */

/* Write `line` (stolen), a JSON object, as one line of its own on the log
 * stream (stdout unless log.file is set), where CloudWatch Logs finds EMF
 * documents.  Not a log message: no time, level or plugin is added.  Any
 * thread. */
void bh_emf_line(json_t *line);

/* The age in milliseconds of the oldest committed, undelivered outbox event
 * (0 when none is pending).  Reads the database on a connection of the
 * calling thread's own, opened on first use: a plugin thread that calls this
 * releases it with bh_event_thread_done() before it exits.  Not on a worker
 * thread (it is a query).  Returns 0, or -1 without storage or when the
 * database is unavailable. */
int bh_outbox_lag_ms(int64_t *lag_ms);

#ifdef __cplusplus
}
#endif
#endif
