/* events.c - publishing events, and the in-process bus used without storage.
 *
 * bh_event_publish() builds a CloudEvents 1.0 envelope.  With storage it goes
 * to the outbox in the unit's transaction (outbox.c delivers it).  Without
 * storage it is appended to the unit, and when the unit succeeds the
 * pipeline calls bh_events_deliver(), which hands
 * each event to every subscriber of its type, each subscriber in a unit of
 * its own; what a subscriber publishes joins the back of the same queue, so
 * delivery is breadth-first and in publish order.  When a unit fails its
 * events are discarded with it.
 *
 * Without storage a subscriber that fails is logged and its own events
 * dropped: nothing is durable.  Deployments that need events configure
 * storage.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "outbox.h"
#include "request.h"

/* Bound on deliveries caused by one unit, so two subscribers that publish
 * to each other cannot spin a worker forever. */
#define BH_MAX_DELIVERIES 1024

struct bh_pending_event {
    struct bh_pending_event *next;
    json_t *envelope;
};

int bh_event_publish(bh_unit *unit, const char *type, const char *subject, json_t *data)
{
    if (!unit || !type || !*type || (data && !json_is_object(data))) {
        json_decref(data);
        return -1;
    }
    char id[33], now[32], source[64];
    bh_random_hex_id(id);
    bh_rfc3339_now(now);
    snprintf(source, sizeof source, "bilhetagem/%s",
             unit->publisher ? unit->publisher->name : "core");
    json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "specversion", "1.0", "id", id,
                            "source", source, "type", type, "time", now, "datacontenttype",
                            "application/json", "data", data ? data : json_object());
    if (!env)
        return -1; /* type not valid UTF-8; data was stolen by json_pack */
    if (subject)
        json_object_set_new(env, "subject", json_string(subject));
    /* xray: a span for the publish (the outbox INSERT nests in it); the
     * event carries it as the consumer's parent, or the unit's header as is. */
    char name[96], hdr[BH_TRACE_HEADER_MAX];
    snprintf(name, sizeof name, "publish %s", type);
    bh_span *span = bh_trace_begin(unit, name, BH_TRACE_LOCAL);
    if (span && bh_trace_outbound_header(unit, span, hdr, sizeof hdr) == 0)
        json_object_set_new(env, "awstraceheader", json_string(hdr));
    else if (unit->trace[0]) /* CloudEvents extension: lowercase letters only */
        json_object_set_new(env, "awstraceheader", json_string(unit->trace));
    if (unit->storage) { /* durable: into the outbox, in the unit's transaction */
        int rc = bh_outbox_append(unit, env);
        json_decref(env);
        bh_trace_end(span, 0, rc != 0);
        return rc;
    }
    bh_trace_end(span, 0, 0);
    struct bh_pending_event *pe = bh_xcalloc(1, sizeof *pe);
    pe->envelope = env;
    *unit->events_tail = pe;
    unit->events_tail = &pe->next;
    return 0;
}

static const char *env_str(const bh_event *ev, const char *key)
{
    return json_string_value(json_object_get(ev->envelope, key));
}

const char *bh_event_id(const bh_event *ev)
{
    return env_str(ev, "id");
}
const char *bh_event_type(const bh_event *ev)
{
    return env_str(ev, "type");
}
const char *bh_event_source(const bh_event *ev)
{
    return env_str(ev, "source");
}
const char *bh_event_subject(const bh_event *ev)
{
    return env_str(ev, "subject");
}
const char *bh_event_time(const bh_event *ev)
{
    return env_str(ev, "time");
}
const json_t *bh_event_data(const bh_event *ev)
{
    return json_object_get(ev->envelope, "data");
}
const json_t *bh_event_envelope(const bh_event *ev)
{
    return ev->envelope;
}
const char *bh_unit_id(const bh_unit *unit)
{
    return unit->id;
}
const char *bh_event_trace_header(const bh_event *ev)
{
    return env_str(ev, "awstraceheader");
}

void bh_unit_set_trace_header(bh_unit *unit, const char *header)
{
    snprintf(unit->trace, sizeof unit->trace, "%s", header ? header : "");
}

const char *bh_unit_trace_header(const bh_unit *unit)
{
    return unit->trace[0] ? unit->trace : NULL;
}

void bh_events_discard(bh_pending_event *list)
{
    while (list) {
        bh_pending_event *next = list->next;
        json_decref(list->envelope);
        free(list);
        list = next;
    }
}

/* Run one subscriber; its published events are appended to the queue. */
static void deliver_one(const bh_subscription *s, const bh_event *ev, bh_pending_event ***tail)
{
    bh_unit unit;
    bh_unit_init(&unit, bh_event_id(ev), s->plugin, NULL, NULL, 0);
    bh_unit_set_trace_header(&unit, bh_event_trace_header(ev));
    char who[160]; /* xray: "plugin/subscriber", as the outbox names it */
    snprintf(who, sizeof who, "%s/%s", s->plugin ? s->plugin->name : "core", s->name);
    bh_span *span = bh_trace_unit_begin(&unit, bh_event_type(ev), who);
    const bh_unit *outer = bh_log_scope(&unit);
    int rc = s->fn(&unit, ev, s->arg);
    bh_log_scope(outer);
    bh_trace_unit_end(&unit, span, rc != 0);
    /* No transaction without storage, but the unit still ends: its
     * bh_unit_count()s apply when it succeeded, and its memory goes. */
    bh_unit_end(&unit, rc == 0);
    if (rc != 0) {
        bh_log(s->plugin, BH_LOG_ERROR, "subscriber %s failed on event %s (%s)", s->name,
               bh_event_id(ev), bh_event_type(ev));
        bh_events_discard(unit.events);
        return;
    }
    if (unit.events) {
        **tail = unit.events;
        *tail = unit.events_tail;
    }
}

void bh_events_deliver(bh_app *app, bh_pending_event *list, const char *cause_id)
{
    bh_pending_event *head = list, **tail = &head;
    while (*tail)
        tail = &(*tail)->next;
    size_t done = 0;
    while (head) {
        bh_pending_event *pe = head;
        bh_event ev = {pe->envelope};
        for (size_t i = 0; i < app->subscriptions.len && done < BH_MAX_DELIVERIES; i++) {
            const bh_subscription *s = bh_vec_at(&app->subscriptions, i);
            if (!strcmp(s->type, bh_event_type(&ev))) {
                deliver_one(s, &ev, &tail);
                done++;
            }
        }
        head = pe->next;
        if (!head)
            tail = &head;
        json_decref(pe->envelope);
        free(pe);
    }
    if (done >= BH_MAX_DELIVERIES)
        bh_log_core(BH_LOG_ERROR, "event delivery for %s stopped after %d deliveries", cause_id,
                    BH_MAX_DELIVERIES);
}
