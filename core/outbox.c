/* outbox.c - the transactional outbox, its dispatcher thread and the inbox.
 *
 * Claiming: a due event is claimed by setting its lease and counting the
 * attempt with a conditional UPDATE checked through its result, so two
 * dispatchers (two nodes) never deliver the same event at the same time; a
 * dispatcher that dies leaves a lease that simply runs out, and an attempt
 * counted, so an event that kills its process every time still ends
 * dead-lettered.  A failure is recorded only by the claim that still holds
 * the lease, never over the outcome of a later one.  Ordering: an event whose
 * subject has an older pending event waits for it, so one aggregate's
 * events are delivered in publish order.  The pending and subject partial
 * indexes keep each poll to the due rows, never a table scan.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idempotency.h"
#include "outbox.h"
#include "storage.h"

struct bh_outbox {
    bh_app *app;
    bh_storage *st;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int woken, running;
    atomic_int stopping; /* also read by the dispatcher outside the lock */
    bh_dbconn *conn;
    bh_idgen rng;
};

int bh_outbox_append(bh_unit *u, const json_t *env)
{
    char *text = json_dumps(env, JSON_COMPACT);
    if (!text)
        return -1;
    int64_t now = bh_epoch_ms();
    bh_db_value p[] = {BH_DB_S(json_string_value(json_object_get(env, "id"))),
                       BH_DB_S(json_string_value(json_object_get(env, "type"))),
                       BH_DB_S(json_string_value(json_object_get(env, "subject"))),
                       BH_DB_S(text),
                       BH_DB_I(now),
                       BH_DB_I(now)};
    bh_db_status s = bh_unit_run(u,
                                 "INSERT INTO bh_outbox (event_id, type, subject, envelope,"
                                 " next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                                 p, 6, NULL, NULL);
    free(text);
    if (s != BH_DB_OK)
        return -1;
    u->published = 1;
    return 0;
}

/* ---- delivery ---------------------------------------------------------------- */

/* One subscriber in its own unit: inbox row first; a duplicate is a no-op. */
static bh_db_status deliver_one(bh_app *app, bh_dbconn **conn, const bh_subscription *s,
                                const bh_event *ev, char *err, size_t errlen)
{
    char who[160];
    snprintf(who, sizeof who, "%s/%s", s->plugin ? s->plugin->name : "core", s->name);
    const char *id = bh_event_id(ev);
    bh_db_status rc = BH_DB_OK;
    for (int attempt = 0; attempt <= app->cfg->storage.max_retries; attempt++) {
        bh_unit u;
        bh_unit_init(&u, id, s->plugin, app->storage, conn, 1);
        bh_unit_set_trace_header(&u, bh_event_trace_header(ev));
        bh_db_value p[] = {BH_DB_S(id), BH_DB_S(who), BH_DB_I(bh_epoch_ms())};
        int64_t fresh = 0;
        rc = bh_unit_run(&u,
                         "INSERT INTO bh_inbox (event_id, subscriber, processed_at)"
                         " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                         p, 3, NULL, &fresh);
        bh_span *span = fresh ? bh_trace_unit_begin(&u, bh_event_type(ev), who) : NULL; /* xray */
        const bh_unit *outer = bh_log_scope(&u); /* its log lines name the event */
        int refused = rc == BH_DB_OK && fresh != 0 && s->fn(&u, ev, s->arg) != 0;
        bh_log_scope(outer);
        bh_trace_unit_end(&u, span, refused);
        int ok = rc == BH_DB_OK && !refused;
        int published = u.published;
        rc = bh_unit_end(&u, ok);
        bh_events_discard(u.events);
        if (rc == BH_DB_OK && ok) {
            if (published && app->outbox)
                bh_outbox_wake(app->outbox);
            return BH_DB_OK;
        }
        /* After the unit ended, so that a statement the subscriber ignored,
         * or the commit, can say why. */
        if (refused)
            snprintf(err, errlen, "subscriber %.100s failed%s%.120s", who, u.error[0] ? ": " : "",
                     u.error);
        else
            snprintf(err, errlen, "subscriber %.100s: %.120s", who, u.error);
        if (rc != BH_DB_RETRY)
            return rc == BH_DB_OK ? BH_DB_ERROR : rc;
    }
    return rc;
}

int bh_outbox_deliver(bh_app *app, bh_dbconn **conn, const json_t *envelope, char *err,
                      size_t errlen)
{
    bh_event ev = {(json_t *)envelope};
    const char *type = bh_event_type(&ev);
    int failed = 0;
    for (size_t i = 0; type && i < app->subscriptions.len; i++) {
        const bh_subscription *s = bh_vec_at(&app->subscriptions, i);
        if (strcmp(s->type, type))
            continue;
        char why[BH_DB_ERR_MAX] = "";
        if (deliver_one(app, conn, s, &ev, why, sizeof why) != BH_DB_OK) {
            if (!failed)
                snprintf(err, errlen, "%s", why);
            failed++;
        }
    }
    return failed;
}

/* ---- the dispatcher ------------------------------------------------------------ */

static const char due_sql[] =
    "SELECT seq, envelope FROM bh_outbox o"
    " WHERE o.status = 'pending' AND o.next_attempt_at <= $1 AND o.lease_until < $1"
    " AND NOT EXISTS (SELECT 1 FROM bh_outbox p WHERE p.status = 'pending'"
    "   AND p.subject = o.subject AND p.seq < o.seq)"
    " ORDER BY o.seq LIMIT $2";

/* Statements outside any unit: autocommit on the dispatcher's connection. */
static bh_db_status run1(bh_outbox *ob, const char *sql, const bh_db_value *p, size_t n,
                         bh_rows **rows, int64_t *affected)
{
    char err[BH_DB_ERR_MAX];
    if (bh_storage_connect(ob->st, &ob->conn, err, sizeof err) != BH_DB_OK)
        return BH_DB_UNAVAILABLE;
    return ob->conn->drv->run(ob->conn, sql, p, n, rows, affected, err, sizeof err);
}

/* Take the event's lease and count the attempt, in one conditional UPDATE
 * (two dispatchers never both get it).  The attempt is counted when it
 * starts, not when it fails, so a delivery that never ends (the process
 * died in it) still counts towards the dead letter.  The lease runs from
 * the clock now, not from when the batch was read: after a few slow
 * deliveries that would hand out leases already over.  Returns the attempt
 * number (1, 2...), or 0 when another dispatcher has the event; *lease
 * names this claim for settle(). */
static int64_t claim(bh_outbox *ob, int64_t seq, int64_t *lease)
{
    int64_t now = bh_epoch_ms(), attempt = 0;
    *lease = now + ob->st->cfg->outbox_lease_ms;
    bh_db_value p[] = {BH_DB_I(*lease), BH_DB_I(seq), BH_DB_I(now)};
    bh_rows *r = NULL;
    if (run1(ob,
             "UPDATE bh_outbox SET lease_until = $1, attempts = attempts + 1 WHERE seq = $2"
             " AND status = 'pending' AND lease_until < $3 RETURNING attempts",
             p, 3, &r, NULL) != BH_DB_OK ||
        bh_rows_count(r) != 1 || bh_rows_int(r, 0, 0, &attempt) != BH_DB_OK)
        attempt = 0;
    bh_rows_free(r);
    return attempt;
}

/* Exponential backoff with full jitter: uniform in [0, min(cap, base*2^(n-1))),
 * so the first retry waits up to outbox_backoff_ms. */
static int64_t backoff_ms(bh_outbox *ob, int64_t attempt)
{
    const bh_storage_conf *c = ob->st->cfg;
    int64_t doublings = attempt < 1 ? 0 : attempt - 1;
    double ceiling = c->outbox_backoff_ms * pow(2.0, (double)(doublings > 40 ? 40 : doublings));
    if (ceiling > c->outbox_max_backoff_ms)
        ceiling = c->outbox_max_backoff_ms;
    char id[33];
    bh_idgen_hex(&ob->rng, id);
    double u = (double)strtoull(id + 16, NULL, 16) / 18446744073709551616.0;
    return (int64_t)(ceiling * u) + 1;
}

/* Delivered: done, whoever holds the lease by now. */
static void settle_done(bh_outbox *ob, int64_t seq)
{
    bh_db_value p[] = {BH_DB_I(seq)};
    run1(ob, "UPDATE bh_outbox SET status = 'done', lease_until = 0 WHERE seq = $1", p, 1, NULL,
         NULL);
}

/* Not delivered: due again after a backoff, or dead after the last of
 * `attempts`.  Recorded only while this claim still holds the lease: once
 * it ran out another dispatcher took the event over and may have delivered
 * it, and its outcome is the one that counts. */
static void settle_failed(bh_outbox *ob, int64_t seq, int64_t lease, int64_t attempts,
                          const char *why)
{
    int dead = attempts >= ob->st->cfg->outbox_max_attempts;
    int64_t next = bh_epoch_ms() + (dead ? 0 : backoff_ms(ob, attempts));
    bh_db_value p[] = {BH_DB_S(dead ? "dead" : "pending"),
                       BH_DB_I(attempts),
                       BH_DB_I(next),
                       BH_DB_S(why),
                       BH_DB_I(seq),
                       BH_DB_I(lease)};
    int64_t n = 0;
    if (run1(ob,
             "UPDATE bh_outbox SET status = $1, attempts = $2, next_attempt_at = $3,"
             " lease_until = 0, last_error = $4 WHERE seq = $5 AND status = 'pending'"
             " AND lease_until = $6",
             p, 6, NULL, &n) == BH_DB_OK &&
        n == 0) {
        bh_log_core(BH_LOG_WARN,
                    "outbox event %lld: attempt %lld failed (%s) after its lease ran out;"
                    " another dispatcher has the event",
                    (long long)seq, (long long)attempts, why);
        return;
    }
    bh_log_core(dead ? BH_LOG_ERROR : BH_LOG_WARN, "outbox event %lld: attempt %lld failed (%s)%s",
                (long long)seq, (long long)attempts, why, dead ? "; dead-lettered" : "");
}

/* Hand the event to the transport, or to this process's subscribers. */
static int route_event(bh_outbox *ob, const json_t *env, char *why, size_t len)
{
    const bh_event_transport *t = &ob->app->transport;
    if (!t->send)
        return bh_outbox_deliver(ob->app, &ob->conn, env, why, len);
    if (t->send(env, t->arg) == 0)
        return 0;
    snprintf(why, len, "transport %s did not accept the event", t->name ? t->name : "?");
    return 1;
}

static void dispatch_row(bh_outbox *ob, const bh_rows *rows, size_t i)
{
    int64_t seq = 0, lease = 0;
    bh_rows_int(rows, i, 0, &seq);
    int64_t attempt = claim(ob, seq, &lease);
    if (attempt == 0)
        return; /* another dispatcher has it */
    char why[BH_DB_ERR_MAX] = "envelope is not valid JSON";
    if (attempt > ob->st->cfg->outbox_max_attempts) {
        /* Every attempt was started and the last one never ended: the event
         * takes its process down, or outlives every lease.  Stop here. */
        snprintf(why, sizeof why,
                 "attempt %lld did not finish (the process stopped, or the lease"
                 " ran out, during delivery)",
                 (long long)(attempt - 1));
        settle_failed(ob, seq, lease, attempt - 1, why);
        return;
    }
    json_error_t je;
    const char *text = bh_rows_text(rows, i, 1);
    json_t *env = text ? json_loads(text, 0, &je) : NULL;
    int failed = env ? route_event(ob, env, why, sizeof why) : 1;
    json_decref(env);
    if (failed)
        settle_failed(ob, seq, lease, attempt, why);
    else
        settle_done(ob, seq);
}

/* One pass: returns how many due events it saw (a full batch: look again). */
static size_t dispatch_batch(bh_outbox *ob)
{
    int64_t now = bh_epoch_ms();
    bh_db_value p[] = {BH_DB_I(now), BH_DB_I(ob->st->cfg->outbox_batch)};
    bh_rows *rows = NULL;
    if (run1(ob, due_sql, p, 2, &rows, NULL) != BH_DB_OK)
        return 0;
    size_t n = bh_rows_count(rows);
    for (size_t i = 0; i < n && !ob->stopping; i++)
        dispatch_row(ob, rows, i);
    bh_rows_free(rows);
    return n;
}

static void wait_for_work(bh_outbox *ob)
{
    pthread_mutex_lock(&ob->lock);
    if (!ob->woken && !ob->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)ob->st->cfg->outbox_poll_ms * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&ob->cond, &ob->lock, &ts);
    }
    ob->woken = 0;
    pthread_mutex_unlock(&ob->lock);
}

/* Expired Idempotency-Keys go once a minute, from the same thread. */
static void purge_keys(bh_outbox *ob, int64_t *last)
{
    int64_t now = bh_epoch_ms();
    if (now - *last < 60000)
        return;
    *last = now;
    int64_t n = bh_idem_purge(ob->app, &ob->conn);
    if (n > 0)
        bh_log_core(BH_LOG_INFO, "purged %lld expired Idempotency-Keys", (long long)n);
}

static void *dispatcher_main(void *arg)
{
    bh_outbox *ob = arg;
    int64_t last_purge = 0;
    while (!ob->stopping) {
        if (bh_storage_ready(ob->st))
            purge_keys(ob, &last_purge);
        if (bh_storage_ready(ob->st) && dispatch_batch(ob) >= (size_t)ob->st->cfg->outbox_batch)
            continue; /* more may be due right now */
        wait_for_work(ob);
    }
    bh_storage_disconnect(&ob->conn);
    return NULL;
}

bh_outbox *bh_outbox_start(bh_app *app, char *err, size_t errlen)
{
    bh_outbox *ob = bh_xcalloc(1, sizeof *ob);
    ob->app = app;
    ob->st = app->storage;
    bh_idgen_seed(&ob->rng);
    pthread_mutex_init(&ob->lock, NULL);
    pthread_cond_init(&ob->cond, NULL);
    int rc = pthread_create(&ob->thread, NULL, dispatcher_main, ob);
    if (rc != 0) { /* the error is returned, not left in errno */
        snprintf(err, errlen, "cannot start the outbox dispatcher: %s", strerror(rc));
        bh_outbox_free(ob);
        return NULL;
    }
    ob->running = 1;
    return ob;
}

void bh_outbox_wake(bh_outbox *ob)
{
    pthread_mutex_lock(&ob->lock);
    ob->woken = 1;
    pthread_cond_signal(&ob->cond);
    pthread_mutex_unlock(&ob->lock);
}

void bh_outbox_stop(bh_outbox *ob)
{
    if (!ob)
        return;
    pthread_mutex_lock(&ob->lock);
    ob->stopping = 1;
    pthread_cond_signal(&ob->cond);
    pthread_mutex_unlock(&ob->lock);
    if (ob->running)
        pthread_join(ob->thread, NULL);
    ob->running = 0;
}

void bh_outbox_free(bh_outbox *ob)
{
    if (!ob)
        return;
    bh_outbox_stop(ob);
    pthread_cond_destroy(&ob->cond);
    pthread_mutex_destroy(&ob->lock);
    free(ob);
}

/* ---- gauges for /metrics ---------------------------------------------------------- */

int bh_outbox_stats_read(bh_app *app, bh_dbconn **conn, bh_outbox_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!bh_storage_ready(app->storage))
        return -1;
    bh_unit u;
    bh_unit_init(&u, "metrics", NULL, app->storage, conn, 0);
    bh_rows *r = NULL;
    bh_db_value p[] = {BH_DB_I(bh_epoch_ms())};
    bh_db_status s = bh_unit_run(
        &u,
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE($1 - MIN(created_at), 0) AS BIGINT)"
        " FROM bh_outbox WHERE status = 'pending'",
        p, 1, &r, NULL);
    if (s == BH_DB_OK) {
        bh_rows_int(r, 0, 0, &out->pending);
        bh_rows_int(r, 0, 1, &out->oldest_pending_age_ms);
        s = bh_unit_run(&u, "SELECT CAST(COUNT(*) AS BIGINT) FROM bh_outbox WHERE status = 'dead'",
                        NULL, 0, &r, NULL);
    }
    if (s == BH_DB_OK)
        bh_rows_int(r, 0, 0, &out->dead);
    bh_unit_end(&u, 1);
    return s == BH_DB_OK ? 0 : -1;
}

/* ---- SDK: transports --------------------------------------------------------------- */

int bh_event_transport_set(bh_plugin_ctx *ctx, const bh_event_transport *t)
{
    bh_app *app = ctx->app;
    if (!app->storage || !t || !t->send) {
        bh_plugin_error(ctx, "an event transport needs storage and a send function");
        return -1;
    }
    if (app->transport.send) {
        bh_plugin_error(ctx, "an event transport is already installed by plugin %s",
                        app->transport_plugin->name);
        return -1;
    }
    app->transport = *t;
    app->transport_plugin = ctx;
    return 0;
}

/* A transport's consumer threads are the plugin's own: each gets a
 * connection of its own, kept until it says it is done. */
static __thread bh_dbconn *receiver_conn;

int bh_event_receive(const json_t *envelope)
{
    bh_app *app = bh_the_app;
    if (!app || !app->storage || !json_is_object(envelope) || !bh_storage_ready(app->storage))
        return -1;
    char why[BH_DB_ERR_MAX] = "";
    int failed = bh_outbox_deliver(app, &receiver_conn, envelope, why, sizeof why);
    if (failed)
        bh_log_core(BH_LOG_WARN, "received event %s: %s",
                    json_string_value(json_object_get(envelope, "id")), why);
    return failed ? -1 : 0;
}

void bh_event_thread_done(void)
{
    bh_storage_disconnect(&receiver_conn);
}

/* xray: OutboxLag for CloudWatch (bilhetagem/trace.h), on the calling
 * thread's own connection, released by bh_event_thread_done(). */
int bh_outbox_lag_ms(int64_t *lag_ms)
{
    bh_app *app = bh_the_app;
    bh_outbox_stats os;
    *lag_ms = 0;
    if (!app || !app->storage || bh_outbox_stats_read(app, &receiver_conn, &os) != 0)
        return -1;
    *lag_ms = os.oldest_pending_age_ms;
    return 0;
}
