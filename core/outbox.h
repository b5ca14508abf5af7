/* outbox.h - durable events: the transactional outbox and its dispatcher.
 *
 * With storage, bh_event_publish() inserts the CloudEvents envelope into
 * bh_outbox inside the publishing unit's transaction: the event exists if
 * and only if the unit commits.  One dispatcher thread per process (its own
 * connection) claims due events in order, leases them so several nodes can
 * dispatch at once, and delivers each to every subscriber of its type in a
 * unit of its own; bh_inbox (event id, subscriber), written in that same
 * unit, makes a subscriber's effects happen once however often the event is
 * delivered.  Failed deliveries back off exponentially with full jitter and
 * end dead-lettered after storage.outbox_max_attempts.
 */
#ifndef BH_OUTBOX_H
#define BH_OUTBOX_H

#include "core.h"
#include "unit.h"

typedef struct bh_outbox bh_outbox;

/* Insert `envelope` (borrowed) into the outbox in the unit's transaction. */
int bh_outbox_append(bh_unit *u, const json_t *envelope);

bh_outbox *bh_outbox_start(bh_app *app, char *err, size_t errlen);
/* A unit that published committed: look for work now.  Any thread. */
void bh_outbox_wake(bh_outbox *ob);
/* Finish the current event and stop the dispatcher (main thread, after
 * the workers).  The outbox itself stays: a transport plugin's consumer
 * threads may still wake it (bh_event_receive) until that plugin stops;
 * bh_outbox_free() it after bh_plugins_stop(). */
void bh_outbox_stop(bh_outbox *ob);
void bh_outbox_free(bh_outbox *ob);

/* Deliver one envelope to the local subscribers of its type, deduplicated
 * through the inbox, on connection `conn`.  Returns the number of
 * subscribers that failed (0 = all done).  `err` gets the first failure. */
int bh_outbox_deliver(bh_app *app, bh_dbconn **conn, const json_t *envelope, char *err,
                      size_t errlen);

typedef struct bh_outbox_stats {
    int64_t pending, dead, oldest_pending_age_ms, delivered_total;
} bh_outbox_stats;
/* Read the gauges with a short read on `conn`; -1 when unavailable. */
int bh_outbox_stats_read(bh_app *app, bh_dbconn **conn, bh_outbox_stats *out);

#endif
