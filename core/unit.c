/* unit.c - units of work and the SDK's bh_db_exec / bh_db_query.
 *
 * A unit's transaction starts lazily, at its first statement, on the
 * calling thread's connection; bh_unit_end() commits or rolls it back.  The
 * first error marks the unit failed and later statements return it at once:
 * after a failed statement PostgreSQL refuses everything until ROLLBACK, and
 * SQLite's state is no better defined, so nothing may pretend to go on.
 */
#include <stdio.h>
#include <string.h>

#include "storage.h"
#include "unit.h"

void bh_unit_init(bh_unit *u, const char *id, bh_plugin_ctx *publisher, bh_storage *storage,
                  bh_dbconn **conn, int write)
{
    memset(u, 0, sizeof *u);
    u->id = id;
    u->publisher = publisher;
    u->events_tail = &u->events;
    u->storage = storage;
    u->conn = conn;
    u->write = write;
    bh_vec_init(&u->rows, sizeof(bh_rows *));
    bh_vec_init(&u->counts, sizeof(bh_unit_counted));
}

static bh_db_status fail(bh_unit *u, bh_db_status s, const char *msg)
{
    if (u->failed == BH_DB_OK) {
        u->failed = s;
        snprintf(u->error, sizeof u->error, "%s", msg);
    }
    return u->failed;
}

static bh_db_status ensure_tx(bh_unit *u)
{
    if (u->in_tx)
        return BH_DB_OK;
    char err[BH_DB_ERR_MAX] = "";
    if (!u->storage)
        return fail(u, BH_DB_UNAVAILABLE, "no storage is configured");
    if (!bh_storage_ready(u->storage)) {
        bh_storage_status(u->storage, err, sizeof err);
        return fail(u, BH_DB_UNAVAILABLE, err);
    }
    if (bh_storage_connect(u->storage, u->conn, err, sizeof err) != BH_DB_OK)
        return fail(u, BH_DB_UNAVAILABLE, err);
    bh_db_status s = (*u->conn)->drv->begin(*u->conn, u->write, err, sizeof err);
    if (s != BH_DB_OK)
        return fail(u, s, err);
    u->in_tx = 1;
    return BH_DB_OK;
}

bh_db_status bh_unit_run(bh_unit *u, const char *sql, const bh_db_value *params, size_t n,
                         bh_rows **rows, int64_t *affected)
{
    if (rows)
        *rows = NULL;
    if (affected)
        *affected = 0;
    if (u->failed != BH_DB_OK)
        return u->failed;
    bh_db_status s = ensure_tx(u);
    if (s != BH_DB_OK)
        return s;
    char err[BH_DB_ERR_MAX] = "";
    int64_t t0 = bh_now_us(), count = 0;
    bh_dbconn *c = *u->conn;
    s = c->drv->run(c, sql, params, n, rows, &count, err, sizeof err);
    if (rows && *rows) {
        *(bh_rows **)bh_vec_push(&u->rows) = *rows;
        count = (int64_t)bh_rows_count(*rows);
    }
    if (affected)
        *affected = count;
    const bh_storage *st = u->storage;
    if (st->observer)
        st->observer(u, sql, bh_now_us() - t0, count, s, st->observer_arg);
    return s == BH_DB_OK ? s : fail(u, s, err);
}

bh_db_status bh_db_exec(bh_unit *unit, const char *sql, const bh_db_value *params, size_t nparams,
                        int64_t *affected)
{
    return bh_unit_run(unit, sql, params, nparams, NULL, affected);
}

bh_db_status bh_db_query(bh_unit *unit, const char *sql, const bh_db_value *params, size_t nparams,
                         bh_rows **rows)
{
    bh_rows *tmp = NULL;
    bh_db_status s = bh_unit_run(unit, sql, params, nparams, &tmp, NULL);
    if (rows)
        *rows = s == BH_DB_OK ? tmp : NULL;
    return s;
}

const char *bh_db_error(const bh_unit *unit)
{
    return unit->error;
}

static void free_rows(bh_unit *u)
{
    for (size_t i = 0; i < u->rows.len; i++)
        bh_rows_free(*(bh_rows **)bh_vec_at(&u->rows, i));
    bh_vec_free(&u->rows);
}

/* The unit's business counters count only what committed. */
static void settle_counts(bh_unit *u, int committed)
{
    for (size_t i = 0; committed && i < u->counts.len; i++) {
        const bh_unit_counted *c = bh_vec_at(&u->counts, i);
        bh_counter_add(c->counter, c->n);
    }
    bh_vec_free(&u->counts);
}

static bh_db_status end_tx(bh_unit *u, int success)
{
    if (!u->in_tx)
        return u->failed;
    bh_dbconn *c = *u->conn;
    u->in_tx = 0;
    if (!success || u->failed != BH_DB_OK) {
        c->drv->rollback(c);
        return u->failed;
    }
    char err[BH_DB_ERR_MAX] = "";
    bh_db_status s = c->drv->commit(c, err, sizeof err);
    if (s != BH_DB_OK) {
        c->drv->rollback(c);
        return fail(u, s, err);
    }
    return BH_DB_OK;
}

bh_db_status bh_unit_end(bh_unit *u, int success)
{
    free_rows(u);
    bh_db_status s = end_tx(u, success);
    settle_counts(u, success && s == BH_DB_OK);
    return s;
}

void bh_unit_count(bh_unit *unit, bh_counter *c, int64_t n)
{
    if (!unit || !c || n <= 0)
        return;
    bh_unit_counted *slot = bh_vec_push(&unit->counts);
    slot->counter = c;
    slot->n = n;
}

void bh_unit_reset(bh_unit *u)
{
    if (u->in_tx)
        bh_unit_end(u, 0);
    free_rows(u);
    bh_vec_free(&u->counts);
    bh_events_discard(u->events);
    u->events = NULL;
    u->events_tail = &u->events;
    u->failed = BH_DB_OK;
    u->error[0] = '\0';
    u->published = 0;
}
