/* unit.h - a unit of work: one handler run and everything it does.
 *
 * A unit carries what the handler's effects belong to: the events it
 * published and, with storage, the database transaction those effects live
 * in.  The transaction begins at the unit's first statement on the calling
 * thread's connection and ends in bh_unit_end(): commit when the unit
 * succeeded, rollback otherwise.  The first failing statement marks the
 * unit failed; later ones return the same status without running.
 */
#ifndef BH_UNIT_H
#define BH_UNIT_H

#include "core.h"
#include "db.h"

struct bh_storage;

struct bh_unit {
    const char *id;           /* request id or event id, for logs */
    bh_pending_event *events; /* published, not yet delivered (FIFO) */
    bh_pending_event **events_tail;
    bh_plugin_ctx *publisher; /* plugin whose code runs in the unit */
    char trace[256];          /* X-Ray trace header, "" when none */

    struct bh_storage *storage; /* NULL: no database configured */
    bh_dbconn **conn;           /* the thread's connection slot */
    int write;                  /* take the write lock when beginning */
    int in_tx;
    int published;       /* events went to the outbox */
    bh_db_status failed; /* first error, BH_DB_OK when none */
    char error[BH_DB_ERR_MAX];
    bh_vec rows;   /* bh_rows* to free when the unit ends */
    bh_vec counts; /* bh_unit_count()s applied when the unit commits */
};

/* Prepare a unit.  `conn` is the calling thread's connection slot (opened
 * lazily); storage may be NULL. */
void bh_unit_init(bh_unit *u, const char *id, bh_plugin_ctx *publisher, struct bh_storage *storage,
                  bh_dbconn **conn, int write);

/* End the unit: commit when `success` and nothing failed, else roll back.
 * Returns BH_DB_OK, or why the unit's work did not commit (RETRY: run it
 * again; UNAVAILABLE: answer 503; ERROR/CONSTRAINT: a bug or a conflict).
 * Frees the unit's result sets; keeps its events (the caller decides). */
bh_db_status bh_unit_end(bh_unit *u, int success);

/* Forget everything the unit did so its handler can run again (its
 * bh_unit_count()s included). */
void bh_unit_reset(bh_unit *u);

/* Run a statement in the unit (the SDK calls go through here too). */
bh_db_status bh_unit_run(bh_unit *u, const char *sql, const bh_db_value *params, size_t n,
                         bh_rows **rows, int64_t *affected);

#endif
