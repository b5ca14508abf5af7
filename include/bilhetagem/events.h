/* bilhetagem/events.h - units of work and the event bus.
 *
 * Every handler runs inside a unit of work: an HTTP handler in its request's
 * unit (bh_req_unit), an event subscriber in the unit the core opens for that
 * delivery.  Events published in a unit belong to it: they are delivered
 * only if the unit succeeds (an HTTP response below 400, a subscriber
 * returning 0) and never if it fails.  The storage layer makes that promise
 * durable (a transactional outbox) without changing these signatures.
 *
 * Events are CloudEvents 1.0: the core fills `specversion`, `id`, `source`
 * (bilhetagem/<plugin>), `time` and `datacontenttype`; the publisher gives
 * `type`, an optional `subject` (the aggregate id: delivery is ordered per
 * subject) and the `data` object.
 *
 * With storage, events go to a transactional outbox and a dispatcher thread
 * delivers them at least once; the core's inbox makes each subscriber's
 * database effects happen once per event (the inbox row is written in the
 * subscriber's own unit).  Without storage, delivery is in process, right
 * after the publishing request, on its worker thread, and is not retried.
 * Either way a subscriber may run on any thread, concurrently with others.
 */
#ifndef BILHETAGEM_EVENTS_H
#define BILHETAGEM_EVENTS_H

#include <bilhetagem/http.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bh_event bh_event;

/* Subscriber: return 0 when handled, non-zero when it failed (the failure is
 * logged and what it published is dropped; the durable outbox of the storage
 * layer retries it later).  `ev` and everything read from it are borrowed
 * for the call. */
typedef int (*bh_event_fn)(bh_unit *unit, const bh_event *ev, void *arg);

/* Subscribe to events of exactly `type` ("payment.captured").  `name`
 * identifies the subscriber within the plugin (deduplication key). */
int bh_event_subscribe(bh_plugin_ctx *ctx, const char *type, const char *name, bh_event_fn fn,
                       void *arg);

/* Publish in `unit`.  `data` is stolen (an object; NULL means {}).
 * `subject` may be NULL.  Returns 0, or -1 on invalid arguments.  Any thread
 * that owns `unit`. */
int bh_event_publish(bh_unit *unit, const char *type, const char *subject, json_t *data);

/* Accessors: borrowed for the duration of the subscriber call. */
const char *bh_event_id(const bh_event *ev);
const char *bh_event_type(const bh_event *ev);
const char *bh_event_source(const bh_event *ev);
const char *bh_event_subject(const bh_event *ev); /* may be NULL */
const char *bh_event_time(const bh_event *ev);    /* RFC 3339 UTC */
const json_t *bh_event_data(const bh_event *ev);
/* The whole CloudEvents envelope. */
const json_t *bh_event_envelope(const bh_event *ev);

/* The request id (or event id) that opened `unit`, for log correlation. */
const char *bh_unit_id(const bh_unit *unit);

/* The trace the unit's work belongs to, as an X-Ray trace header
 * ("Root=1-...;Parent=...;Sampled=1"), copied (at most 255 bytes).  The
 * tracing plugin sets it on a request's unit; events published in the unit
 * carry it as the CloudEvents extension attribute "awstraceheader", and a
 * subscriber's unit starts with the header of the event it handles, so the
 * consumer's work joins the same trace.  NULL clears it. */
void bh_unit_set_trace_header(bh_unit *unit, const char *header);
const char *bh_unit_trace_header(const bh_unit *unit); /* NULL when none */
const char *bh_event_trace_header(const bh_event *ev); /* NULL when none */

/* ---- transports -----------------------------------------------------------
 * By default the outbox dispatcher hands every committed event to the
 * subscribers of its own process.  A transport plugin (SQS) carries events
 * between nodes instead: the dispatcher calls send() for each committed
 * event, and the plugin's consumer calls bh_event_receive() for each event
 * it takes off the wire.  At most one transport; it needs storage. */
typedef struct bh_event_transport {
    const char *name;
    /* On the dispatcher thread.  Return 0 once the event is durably accepted
     * (the outbox marks it delivered), non-zero to have it retried with
     * backoff.  `envelope` is borrowed for the call. */
    int (*send)(const json_t *envelope, void *arg);
    void *arg;
} bh_event_transport;

/* Install the transport (copied).  init only.  -1 without storage or when
 * one is already installed. */
int bh_event_transport_set(bh_plugin_ctx *ctx, const bh_event_transport *t);

/* Deliver a received envelope (borrowed) to this process's subscribers of
 * its type, each exactly once through the inbox.  Returns 0 when every
 * subscriber has handled it (now or before), non-zero when one failed or the
 * database is unavailable: keep the message and deliver it again later.
 * Any thread; the core keeps one database connection per calling thread
 * until bh_event_thread_done() is called on it. */
int bh_event_receive(const json_t *envelope);
void bh_event_thread_done(void);

#ifdef __cplusplus
}
#endif
#endif
