/* storage.c - the configured database: driver choice, migrations, readiness,
 * and the SDK calls that act on storage as a whole (bh_db_migrations,
 * bh_db_set_observer, bh_db_driver_name).
 *
 * Migrations are applied by one process at a time (the driver's migration
 * lock: a PostgreSQL advisory lock, a file lock beside the SQLite file), each
 * in its own transaction together with its schema_migrations row, so a crash
 * never leaves one half applied.  A migration whose text changed after it was
 * applied stops startup: the schema would no longer be what the code says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "storage.h"

/* Arbitrary constant naming "bilhetagem migrations" for pg_advisory_lock. */
#define MIGRATION_LOCK_KEY 0x6268696c6d6967LL

/* The core's own tables.  The outbox sequence is the one piece of DDL the
 * two dialects spell differently. */
static const char outbox_sqlite[] =
    "CREATE TABLE bh_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,";
static const char outbox_pg[] = "CREATE TABLE bh_outbox (seq BIGSERIAL PRIMARY KEY,";
static const char core_tables[] =
    " event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, subject TEXT,"
    " envelope TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"
    " attempts BIGINT NOT NULL DEFAULT 0, next_attempt_at BIGINT NOT NULL,"
    " lease_until BIGINT NOT NULL DEFAULT 0, last_error TEXT, created_at BIGINT NOT NULL);"
    "CREATE INDEX bh_outbox_due ON bh_outbox (next_attempt_at, seq) WHERE status = 'pending';"
    "CREATE INDEX bh_outbox_subject ON bh_outbox (subject, seq) WHERE status = 'pending';"
    "CREATE INDEX bh_outbox_status ON bh_outbox (status, seq);"
    "CREATE TABLE bh_inbox (event_id TEXT NOT NULL, subscriber TEXT NOT NULL,"
    " processed_at BIGINT NOT NULL, PRIMARY KEY (event_id, subscriber));"
    "CREATE TABLE bh_idempotency (scope TEXT NOT NULL, route TEXT NOT NULL,"
    " idem_key TEXT NOT NULL, request_hash TEXT NOT NULL, state TEXT NOT NULL,"
    " status BIGINT, content_type TEXT, body TEXT, created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL, PRIMARY KEY (scope, route, idem_key));"
    "CREATE INDEX bh_idempotency_expiry ON bh_idempotency (expires_at);";

int64_t bh_epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sha256_hex(const char *text, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    if (EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL) != 1)
        n = 0;
    for (unsigned int i = 0; i < n && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[n ? 64 : 0] = '\0';
}

static int is_postgres(const bh_storage *st)
{
    return !strcmp(st->drv->name, "postgresql");
}

static void add_migration(bh_storage *st, const char *plugin, const bh_migration *m)
{
    bh_storage_migration *sm = bh_vec_push(&st->migrations);
    const char *sql = is_postgres(st) && m->sql_postgresql ? m->sql_postgresql : m->sql;
    sm->plugin = bh_xstrdup(plugin);
    sm->version = m->version;
    sm->name = bh_xstrdup(m->name ? m->name : "");
    sm->sql = bh_xstrdup(sql);
    sha256_hex(sm->sql, sm->checksum);
}

bh_storage *bh_storage_new(const bh_storage_conf *cfg, char *err, size_t errlen)
{
    const bh_db_driver *drv = bh_db_driver_find(cfg->driver);
    if (!drv) {
        snprintf(err, errlen, "storage.driver: \"%s\" is not built into this server%s", cfg->driver,
                 !strcmp(cfg->driver, "postgresql") ? " (configure --with-postgresql)" : "");
        return NULL;
    }
    bh_storage *st = bh_xcalloc(1, sizeof *st);
    st->cfg = cfg;
    st->drv = drv;
    bh_vec_init(&st->migrations, sizeof(bh_storage_migration));
    pthread_mutex_init(&st->lock, NULL);
    snprintf(st->last_error, sizeof st->last_error, "migrations not applied yet");
    size_t n = sizeof outbox_sqlite + sizeof outbox_pg + sizeof core_tables; /* room for either */
    char *sqlite_text = bh_xmalloc(n), *pg_text = bh_xmalloc(n);
    snprintf(sqlite_text, n, "%s%s", outbox_sqlite, core_tables);
    snprintf(pg_text, n, "%s%s", outbox_pg, core_tables);
    bh_migration core = {1, "core_outbox_inbox_idempotency", sqlite_text, pg_text};
    add_migration(st, "core", &core);
    free(sqlite_text);
    free(pg_text);
    return st;
}

void bh_storage_free(bh_storage *st)
{
    if (!st)
        return;
    bh_storage_stop(st);
    for (size_t i = 0; i < st->migrations.len; i++) {
        bh_storage_migration *m = bh_vec_at(&st->migrations, i);
        free(m->plugin);
        free(m->name);
        free(m->sql);
    }
    bh_vec_free(&st->migrations);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static void set_status(bh_storage *st, const char *msg)
{
    pthread_mutex_lock(&st->lock);
    snprintf(st->last_error, sizeof st->last_error, "%s", msg);
    pthread_mutex_unlock(&st->lock);
}

void bh_storage_status(bh_storage *st, char *buf, size_t len)
{
    pthread_mutex_lock(&st->lock);
    snprintf(buf, len, "%s", st->last_error);
    pthread_mutex_unlock(&st->lock);
}

int bh_storage_ready(const bh_storage *st)
{
    return st && atomic_load(&st->ready);
}

/* ---- connections ----------------------------------------------------------- */

bh_db_status bh_storage_connect(bh_storage *st, bh_dbconn **slot, char *err, size_t errlen)
{
    if (*slot && (*slot)->drv->alive(*slot))
        return BH_DB_OK;
    if (*slot) {
        (*slot)->drv->close(*slot);
        *slot = NULL;
    }
    *slot = st->drv->open(st->cfg, err, errlen);
    return *slot ? BH_DB_OK : BH_DB_UNAVAILABLE;
}

void bh_storage_disconnect(bh_dbconn **slot)
{
    if (*slot)
        (*slot)->drv->close(*slot);
    *slot = NULL;
}

/* ---- migrations ------------------------------------------------------------ */

static const char schema_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations (plugin TEXT NOT NULL,"
    " version BIGINT NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL, PRIMARY KEY (plugin, version))";

/* 1 = applied with the same checksum, 0 = pending, <0 = error. */
static int applied_state(bh_dbconn *c, const bh_storage_migration *m, char *err, size_t errlen)
{
    bh_db_value p[] = {BH_DB_S(m->plugin), BH_DB_I(m->version)};
    bh_rows *rows = NULL;
    bh_db_status s =
        c->drv->run(c, "SELECT checksum FROM schema_migrations WHERE plugin = $1 AND version = $2",
                    p, 2, &rows, NULL, err, errlen);
    if (s != BH_DB_OK)
        return s;
    int state = 0;
    if (bh_rows_count(rows) > 0) {
        const char *sum = bh_rows_text(rows, 0, 0);
        if (sum && !strcmp(sum, m->checksum)) {
            state = 1;
        } else {
            snprintf(err, errlen,
                     "migration %s/%d (%s) changed after it was applied (checksum %.12s..., "
                     "database has %.12s...): applied migrations are immutable, add a new one",
                     m->plugin, m->version, m->name, m->checksum, sum ? sum : "?");
            state = BH_DB_ERROR;
        }
    }
    bh_rows_free(rows);
    return state;
}

static bh_db_status apply_one(bh_dbconn *c, const bh_storage_migration *m, char *err, size_t errlen)
{
    const bh_db_driver *d = c->drv;
    char msg[BH_DB_ERR_MAX] = "";
    bh_db_status s = d->begin(c, 1, msg, sizeof msg);
    if (s == BH_DB_OK)
        s = d->script(c, m->sql, msg, sizeof msg);
    if (s == BH_DB_OK) {
        bh_db_value p[] = {BH_DB_S(m->plugin), BH_DB_I(m->version), BH_DB_S(m->name),
                           BH_DB_S(m->checksum), BH_DB_I(bh_epoch_ms())};
        s = d->run(c,
                   "INSERT INTO schema_migrations (plugin, version, name, checksum, applied_at)"
                   " VALUES ($1, $2, $3, $4, $5)",
                   p, 5, NULL, NULL, msg, sizeof msg);
    }
    if (s == BH_DB_OK)
        s = d->commit(c, msg, sizeof msg);
    if (s != BH_DB_OK) {
        d->rollback(c);
        snprintf(err, errlen, "migration %s/%d (%s) failed: %s", m->plugin, m->version, m->name,
                 msg);
        return s;
    }
    bh_log_core(BH_LOG_INFO, "migration %s/%d (%s) applied", m->plugin, m->version, m->name);
    return BH_DB_OK;
}

static bh_db_status migrate_all(bh_storage *st, bh_dbconn *c, char *err, size_t errlen)
{
    bh_db_status s = c->drv->script(c, schema_table, err, errlen);
    for (size_t i = 0; s == BH_DB_OK && i < st->migrations.len; i++) {
        bh_storage_migration *m = bh_vec_at(&st->migrations, i);
        int state = applied_state(c, m, err, errlen);
        if (state < 0)
            s = (bh_db_status)state;
        else if (state == 0 && (s = apply_one(c, m, err, errlen)) == BH_DB_OK)
            m->applied = 1;
    }
    return s;
}

bh_db_status bh_storage_migrate(bh_storage *st, char *err, size_t errlen)
{
    bh_dbconn *c = NULL;
    bh_db_status s = bh_storage_connect(st, &c, err, errlen);
    if (s != BH_DB_OK) {
        set_status(st, err); /* /readyz says why */
        return s;
    }
    s = c->drv->lock(c, MIGRATION_LOCK_KEY, err, errlen);
    if (s == BH_DB_OK) {
        s = migrate_all(st, c, err, errlen);
        c->drv->unlock(c, MIGRATION_LOCK_KEY);
    }
    bh_storage_disconnect(&c);
    if (s == BH_DB_OK) {
        set_status(st, "ready");
        atomic_store(&st->ready, 1);
    } else {
        set_status(st, err);
    }
    return s;
}

/* ---- start: now, or in the background ---------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *retry_main(void *arg)
{
    bh_storage *st = arg;
    int delay = 250;
    while (!atomic_load(&st->stopping)) {
        for (int waited = 0; waited < delay && !atomic_load(&st->stopping); waited += 50)
            sleep_ms(50);
        if (atomic_load(&st->stopping))
            break;
        char err[BH_DB_ERR_MAX] = "";
        bh_db_status s = bh_storage_migrate(st, err, sizeof err);
        if (s == BH_DB_OK) {
            bh_log_core(BH_LOG_INFO, "database reachable: migrations applied, ready");
            break;
        }
        if (s != BH_DB_UNAVAILABLE) {
            bh_log_core(BH_LOG_ERROR, "storage: %s; not retrying, /readyz stays 503", err);
            break;
        }
        bh_log_core(BH_LOG_WARN, "database unreachable (%s); retrying in %d ms", err, delay * 2);
        delay = delay * 2 > 10000 ? 10000 : delay * 2;
    }
    return NULL;
}

int bh_storage_start(bh_storage *st, char *err, size_t errlen)
{
    bh_db_status s = bh_storage_migrate(st, err, errlen);
    if (s == BH_DB_OK)
        return 0;
    if (s != BH_DB_UNAVAILABLE)
        return -1;
    bh_log_core(BH_LOG_WARN,
                "database unreachable at startup (%s): serving with /readyz 503, "
                "retrying with backoff",
                err);
    if (pthread_create(&st->retry_thread, NULL, retry_main, st) != 0) {
        snprintf(err, errlen, "cannot start the storage retry thread");
        return -1;
    }
    st->retry_running = 1;
    err[0] = '\0';
    return 0;
}

void bh_storage_stop(bh_storage *st)
{
    atomic_store(&st->stopping, 1);
    if (st->retry_running) {
        pthread_join(st->retry_thread, NULL);
        st->retry_running = 0;
    }
}

/* ---- SDK ------------------------------------------------------------------- */

int bh_db_migrations(bh_plugin_ctx *ctx, const bh_migration *list, size_t n)
{
    bh_storage *st = ctx->app->storage;
    if (!st) {
        bh_plugin_error(ctx, "declares database migrations but the config has no \"storage\"");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].version < 1 || !list[i].sql ||
            (i > 0 && list[i].version <= list[i - 1].version)) {
            bh_plugin_error(ctx, "migration %zu: versions must start at 1 and increase, with SQL",
                            i);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++)
        add_migration(st, ctx->name, &list[i]);
    return 0;
}

int bh_db_set_observer(bh_plugin_ctx *ctx, bh_db_observer_fn fn, void *arg)
{
    bh_storage *st = ctx->app->storage;
    if (!st)
        return 0; /* nothing to observe: not an error for a tracing plugin */
    if (st->observer) {
        bh_plugin_error(ctx, "a database observer is already installed");
        return -1;
    }
    st->observer = fn;
    st->observer_arg = arg;
    return 0;
}

const char *bh_db_driver_name(void)
{
    return bh_the_app && bh_the_app->storage ? bh_the_app->storage->drv->name : NULL;
}
