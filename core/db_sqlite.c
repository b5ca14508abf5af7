/* db_sqlite.c - the SQLite 3 storage driver (bh_db_sqlite).
 *
 * One connection per thread (SQLITE_OPEN_NOMUTEX: the core never shares a
 * connection), opened in WAL mode so readers never wait for the writer,
 * with foreign keys on, synchronous=FULL (a commit survives power loss)
 * unless storage.synchronous says "normal", and storage.busy_timeout_ms
 * (0: do not wait): a writer that cannot get the lock within it gets
 * SQLITE_BUSY, which surfaces as BH_DB_RETRY.
 *
 * Placeholders are SQLite named parameters "$1", "$2", ...: a name used
 * twice is one parameter, so a statement's parameter count is the highest
 * $N it references, and every $1..$N must appear.  Prepared statements are
 * cached per connection (keyed by SQL text, least recently used evicted)
 * and are reset and cleared right after each run, so an idle cached SELECT
 * never pins a read snapshot that would stop WAL checkpoints.
 *
 * Values come back as integers, text or NULL.  Floats and blobs are refused
 * with BH_DB_ERROR: money is integer minor units, never floating point.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "db.h"

#define SQ_CACHE_MAX 64
#define SQ_MAX_PARAM 32766 /* SQLite's own limit on host parameters */

typedef struct sq_stmt {
    char *sql; /* cache key; NULL when the slot is free */
    sqlite3_stmt *stmt;
    int nparams;        /* highest $N the statement references */
    unsigned long used; /* tick of the last use, for LRU eviction */
} sq_stmt;

typedef struct sq_conn {
    bh_dbconn base; /* first: the core reaches the driver through it */
    sqlite3 *db;
    char *lock_path; /* "<path>.migrate.lock" */
    int lock_fd;     /* held migration lock, or -1 */
    int busy_ms;     /* storage.busy_timeout_ms */
    unsigned long tick;
    sq_stmt cache[SQ_CACHE_MAX];
} sq_conn;

static void sq_close(bh_dbconn *conn);

/* Classify a (possibly extended) SQLite result code. */
static bh_db_status sq_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return BH_DB_CONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return BH_DB_RETRY;
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return BH_DB_UNAVAILABLE;
    default: return BH_DB_ERROR;
    }
}

/* SQLite's messages name tables, columns and constraints, never the values
 * bound to a statement, so they are safe to log. */
static bh_db_status sq_fail(sq_conn *c, int rc, char *err, size_t errlen)
{
    bh_db_set_err(err, errlen, "sqlite: %s", sqlite3_errmsg(c->db));
    return sq_status(rc);
}

static bh_db_status sq_exec(sq_conn *c, const char *sql, char *err, size_t errlen)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? BH_DB_OK : sq_fail(c, rc, err, errlen);
}

/* ---- opening ------------------------------------------------------------- */

/* Run a pragma that answers with one text value and check the answer. */
static int sq_pragma_expect(sq_conn *c, const char *path, const char *sql, const char *want,
                            char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    const char *got;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    int ok;

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        bh_db_set_err(err, errlen, "sqlite: %s: %s: %s", path, sql, sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return -1;
    }
    got = (const char *)sqlite3_column_text(st, 0);
    ok = got && strcasecmp(got, want) == 0;
    if (!ok)
        bh_db_set_err(err, errlen, "sqlite: %s: %s answered \"%s\", not \"%s\"", path, sql,
                      got ? got : "", want);
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

static int sq_pragma(sq_conn *c, const char *path, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    bh_db_set_err(err, errlen, "sqlite: %s: %s: %s", path, sql, sqlite3_errmsg(c->db));
    return -1;
}

/* "PRAGMA synchronous=..." for storage.synchronous, or NULL when invalid. */
static const char *sq_sync_pragma(const char *value)
{
    if (!value || strcasecmp(value, "full") == 0)
        return "PRAGMA synchronous=FULL";
    if (strcasecmp(value, "normal") == 0)
        return "PRAGMA synchronous=NORMAL";
    return NULL;
}

/* Switching a fresh file to WAL takes an exclusive lock, and SQLite does
 * not run the busy handler for it: two processes opening a new database at
 * once would see "database is locked".  A database already in WAL needs no
 * switch; otherwise retry for up to the busy timeout. */
static int sq_enable_wal(sq_conn *c, const bh_storage_conf *cfg, char *err, size_t errlen)
{
    char scratch[BH_DB_ERR_MAX];
    int waited = 0;

    for (;;) {
        if (sq_pragma_expect(c, cfg->path, "PRAGMA journal_mode", "wal", scratch, sizeof scratch) ==
                0 ||
            sq_pragma_expect(c, cfg->path, "PRAGMA journal_mode=WAL", "wal", err, errlen) == 0)
            return 0;
        int busy = (sqlite3_errcode(c->db) & 0xff) == SQLITE_BUSY ||
                   (sqlite3_errcode(c->db) & 0xff) == SQLITE_LOCKED;
        if (!busy || waited >= cfg->busy_timeout_ms)
            return -1;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        waited += 10;
    }
}

/* The busy handler: while another connection holds the write lock, try
 * again every millisecond, busy_timeout_ms times (so for at least that long).  SQLite's own
 * (sqlite3_busy_timeout) naps 1, 2, 5 ... then 100 ms at a time, so a writer
 * that arrives while the outbox dispatcher commits can sleep through many
 * free moments; under load that was the p99 (bench/checkout.sh: 0.5-0.9 s
 * at 1 000 orders/s).  A millisecond poll costs nothing next to the fsync
 * each commit makes. */
static int sq_busy(void *arg, int count)
{
    const sq_conn *c = arg;
    if ((int64_t)count >= (int64_t)c->busy_ms)
        return 0; /* give up: SQLITE_BUSY, which the core retries */
    struct timespec nap = {0, 1000000L};
    nanosleep(&nap, NULL);
    return 1;
}

static int sq_configure(sq_conn *c, const bh_storage_conf *cfg, char *err, size_t errlen)
{
    const char *sync = sq_sync_pragma(cfg->synchronous);

    if (!sync) {
        bh_db_set_err(err, errlen,
                      "sqlite: storage.synchronous must be \"full\" or \"normal\", not \"%s\"",
                      cfg->synchronous);
        return -1;
    }
    /* The busy handler first, so that switching to WAL waits for another
     * process's lock. */
    c->busy_ms = cfg->busy_timeout_ms;
    if (sqlite3_extended_result_codes(c->db, 1) != SQLITE_OK ||
        sqlite3_busy_handler(c->db, sq_busy, c) != SQLITE_OK) {
        bh_db_set_err(err, errlen, "sqlite: %s: %s", cfg->path, sqlite3_errmsg(c->db));
        return -1;
    }
    if (sq_enable_wal(c, cfg, err, errlen) != 0 ||
        sq_pragma(c, cfg->path, sync, err, errlen) != 0 ||
        sq_pragma(c, cfg->path, "PRAGMA foreign_keys=ON", err, errlen) != 0)
        return -1;
    return 0;
}

static bh_dbconn *sq_open(const bh_storage_conf *cfg, char *err, size_t errlen)
{
    static const char lock_suffix[] = ".migrate.lock";
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    sq_conn *c;
    size_t len;
    int rc;

    if (!cfg->path || !*cfg->path) {
        bh_db_set_err(err, errlen, "sqlite: storage.path is not set");
        return NULL;
    }
    len = strlen(cfg->path);
    if (!(c = calloc(1, sizeof *c)) || !(c->lock_path = malloc(len + sizeof lock_suffix))) {
        free(c);
        bh_db_set_err(err, errlen, "sqlite: out of memory");
        return NULL;
    }
    c->base.drv = &bh_db_sqlite;
    c->lock_fd = -1;
    memcpy(c->lock_path, cfg->path, len);
    memcpy(c->lock_path + len, lock_suffix, sizeof lock_suffix);
    rc = sqlite3_open_v2(cfg->path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        bh_db_set_err(err, errlen, "sqlite: cannot open %s: %s", cfg->path,
                      c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sq_close(&c->base);
        return NULL;
    }
    if (sq_configure(c, cfg, err, errlen) != 0) {
        sq_close(&c->base);
        return NULL;
    }
    return &c->base;
}

static void sq_close(bh_dbconn *conn)
{
    sq_conn *c = (sq_conn *)conn;
    size_t i;

    if (!c)
        return;
    for (i = 0; i < SQ_CACHE_MAX; i++) {
        sqlite3_finalize(c->cache[i].stmt);
        free(c->cache[i].sql);
    }
    if (c->lock_fd >= 0)
        close(c->lock_fd); /* releases the flock */
    /* _v2: every statement is finalized above; should one have escaped,
     * the handle is freed with it instead of leaking. */
    sqlite3_close_v2(c->db);
    free(c->lock_path);
    free(c);
}

/* ---- statements ------------------------------------------------------------ */

/* 1..SQ_MAX_PARAM for a placeholder named "$N" (no leading zero), else 0. */
static int sq_param_number(const char *name)
{
    int n = 0;

    if (!name || name[0] != '$' || name[1] < '1' || name[1] > '9')
        return 0;
    for (name++; *name; name++) {
        if (*name < '0' || *name > '9')
            return 0;
        n = n * 10 + (*name - '0');
        if (n > SQ_MAX_PARAM)
            return 0;
    }
    return n;
}

/* The highest $N the statement references, checking that each placeholder
 * is a $N and that none of $1..$N is skipped; -1 with err set otherwise. */
static int sq_param_max(sqlite3_stmt *st, char *err, size_t errlen)
{
    int count = sqlite3_bind_parameter_count(st);
    int max = 0, i;

    for (i = 1; i <= count; i++) {
        const char *name = sqlite3_bind_parameter_name(st, i);
        int n = sq_param_number(name);

        if (n == 0) {
            bh_db_set_err(err, errlen, "sqlite: placeholder %s is not supported: use $1, $2, ...",
                          name ? name : "?");
            return -1;
        }
        if (n > max)
            max = n;
    }
    /* names are distinct, so count == max exactly when none is skipped */
    if (max != count) {
        for (i = 1; i <= max; i++) {
            char name[16];

            snprintf(name, sizeof name, "$%d", i);
            if (sqlite3_bind_parameter_index(st, name) == 0)
                break;
        }
        bh_db_set_err(err, errlen, "sqlite: statement uses $%d but not $%d", max, i);
        return -1;
    }
    return max;
}

/* Nothing but whitespace and comments left after the first statement? */
static int sq_tail_empty(sq_conn *c, const char *tail)
{
    sqlite3_stmt *st = NULL;
    int rc;

    tail += strspn(tail, " \t\r\n;");
    if (!*tail)
        return 1;
    rc = sqlite3_prepare_v2(c->db, tail, -1, &st, NULL);
    sqlite3_finalize(st);
    return rc == SQLITE_OK && !st;
}

/* Compile one statement and check its placeholders. */
static bh_db_status sq_compile(sq_conn *c, const char *sql, sqlite3_stmt **out, int *nparams,
                               char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);

    if (rc != SQLITE_OK)
        return sq_fail(c, rc, err, errlen);
    if (!st) {
        bh_db_set_err(err, errlen, "sqlite: empty statement");
        return BH_DB_ERROR;
    }
    if (!sq_tail_empty(c, tail)) {
        sqlite3_finalize(st);
        bh_db_set_err(err, errlen,
                      "sqlite: one statement at a time (several statements belong in a script)");
        return BH_DB_ERROR;
    }
    if ((*nparams = sq_param_max(st, err, errlen)) < 0) {
        sqlite3_finalize(st);
        return BH_DB_ERROR;
    }
    *out = st;
    return BH_DB_OK;
}

/* The cached statement for `sql`, compiling it (and evicting the least
 * recently used entry) on a miss. */
static bh_db_status sq_prepare(sq_conn *c, const char *sql, sq_stmt **out, char *err, size_t errlen)
{
    sq_stmt *victim = &c->cache[0];
    sqlite3_stmt *st = NULL;
    char *key;
    int nparams = 0;
    bh_db_status s;
    size_t i;

    for (i = 0; i < SQ_CACHE_MAX; i++) {
        sq_stmt *e = &c->cache[i];

        if (e->sql && strcmp(e->sql, sql) == 0) {
            e->used = ++c->tick;
            *out = e;
            return BH_DB_OK;
        }
        if (e->used < victim->used) /* free slots have used == 0 */
            victim = e;
    }
    if ((s = sq_compile(c, sql, &st, &nparams, err, errlen)) != BH_DB_OK)
        return s;
    if (!(key = strdup(sql))) {
        sqlite3_finalize(st);
        bh_db_set_err(err, errlen, "sqlite: out of memory");
        return BH_DB_ERROR;
    }
    sqlite3_finalize(victim->stmt);
    free(victim->sql);
    *victim = (sq_stmt){key, st, nparams, ++c->tick};
    *out = victim;
    return BH_DB_OK;
}

static int sq_bind_one(sqlite3_stmt *st, int idx, const bh_db_value *v)
{
    switch (v->type) {
    case BH_DB_INT: return sqlite3_bind_int64(st, idx, v->i);
    case BH_DB_TEXT:
        /* STATIC: the caller's text outlives the call, and the bindings
         * are cleared before sq_run returns. */
        return v->s ? sqlite3_bind_text(st, idx, v->s, -1, SQLITE_STATIC)
                    : sqlite3_bind_null(st, idx);
    case BH_DB_NULL: return sqlite3_bind_null(st, idx);
    }
    return SQLITE_MISUSE;
}

static bh_db_status sq_bind(sq_conn *c, const sq_stmt *s, const bh_db_value *params, size_t n,
                            char *err, size_t errlen)
{
    size_t i;

    if ((size_t)s->nparams != n) {
        bh_db_set_err(err, errlen, "sqlite: statement has %d parameters, %zu given", s->nparams, n);
        return BH_DB_ERROR;
    }
    for (i = 0; i < n; i++) {
        char name[24];
        int rc;

        snprintf(name, sizeof name, "$%zu", i + 1);
        rc = sq_bind_one(s->stmt, sqlite3_bind_parameter_index(s->stmt, name), &params[i]);
        if (rc == SQLITE_MISUSE) {
            bh_db_set_err(err, errlen, "sqlite: parameter $%zu has an unknown type", i + 1);
            return BH_DB_ERROR;
        }
        if (rc != SQLITE_OK)
            return sq_fail(c, rc, err, errlen);
    }
    return BH_DB_OK;
}

static const char *sq_type_name(int type)
{
    return type == SQLITE_FLOAT ? "a float" : "a blob";
}

/* Copy the current row into `rows` (NULL: check the types only). */
static bh_db_status sq_store_row(sqlite3_stmt *st, bh_rows *rows, char *err, size_t errlen)
{
    int ncols = sqlite3_column_count(st), col;
    size_t row = rows ? bh_rows_add(rows) : 0;

    for (col = 0; col < ncols; col++) {
        int type = sqlite3_column_type(st, col);

        if (type == SQLITE_INTEGER) {
            if (rows)
                bh_rows_set_int(rows, row, (size_t)col, sqlite3_column_int64(st, col));
        } else if (type == SQLITE_TEXT) {
            /* text first, then its length: the documented safe order */
            const char *s = (const char *)sqlite3_column_text(st, col);

            if (!s) {
                bh_db_set_err(err, errlen, "sqlite: out of memory");
                return BH_DB_ERROR;
            }
            if (rows)
                bh_rows_set_text(rows, row, (size_t)col, s, (size_t)sqlite3_column_bytes(st, col));
        } else if (type != SQLITE_NULL) {
            const char *name = sqlite3_column_name(st, col);

            bh_db_set_err(err, errlen,
                          "sqlite: unsupported column type: column %s is %s (use integers: "
                          "money is minor units)",
                          name ? name : "?", sq_type_name(type));
            return BH_DB_ERROR;
        }
    }
    return BH_DB_OK;
}

static bh_db_status sq_step_all(sq_conn *c, sqlite3_stmt *st, bh_rows *rows, char *err,
                                size_t errlen)
{
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bh_db_status s = sq_store_row(st, rows, err, errlen);

        if (s != BH_DB_OK)
            return s;
    }
    return rc == SQLITE_DONE ? BH_DB_OK : sq_fail(c, rc, err, errlen);
}

static bh_db_status sq_run(bh_dbconn *conn, const char *sql, const bh_db_value *params, size_t n,
                           bh_rows **rows, int64_t *affected, char *err, size_t errlen)
{
    sq_conn *c = (sq_conn *)conn;
    bh_rows *r = NULL;
    sq_stmt *s;
    bh_db_status st;
    int before;

    if (rows)
        *rows = NULL;
    if (affected)
        *affected = 0;
    if ((st = sq_prepare(c, sql, &s, err, errlen)) != BH_DB_OK)
        return st;
    if (rows)
        r = bh_rows_new((size_t)sqlite3_column_count(s->stmt));
    before = sqlite3_total_changes(c->db);
    st = sq_bind(c, s, params, n, err, errlen);
    if (st == BH_DB_OK)
        st = sq_step_all(c, s->stmt, r, err, errlen);
    /* sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE
     * through other statements (DDL, SELECT): trust it only when this
     * statement wrote and the connection's total moved. */
    if (st == BH_DB_OK && affected && !sqlite3_stmt_readonly(s->stmt) &&
        sqlite3_total_changes(c->db) != before)
        *affected = sqlite3_changes(c->db);
    /* Reset now: the step's error is already reported, and a statement left
     * mid-way would keep its read snapshot open. */
    sqlite3_reset(s->stmt);
    sqlite3_clear_bindings(s->stmt);
    if (st != BH_DB_OK) {
        bh_rows_free(r);
        return st;
    }
    if (rows)
        *rows = r;
    return BH_DB_OK;
}

static bh_db_status sq_script(bh_dbconn *conn, const char *sql, char *err, size_t errlen)
{
    return sq_exec((sq_conn *)conn, sql, err, errlen);
}

/* ---- transactions and the migration lock ---------------------------------- */

static bh_db_status sq_begin(bh_dbconn *conn, int write, char *err, size_t errlen)
{
    /* IMMEDIATE takes the write lock now (waiting up to busy_timeout), so a
     * transaction that reads and then writes cannot fail to upgrade. */
    return sq_exec((sq_conn *)conn, write ? "BEGIN IMMEDIATE" : "BEGIN", err, errlen);
}

static bh_db_status sq_commit(bh_dbconn *conn, char *err, size_t errlen)
{
    return sq_exec((sq_conn *)conn, "COMMIT", err, errlen);
}

static void sq_rollback(bh_dbconn *conn)
{
    sq_conn *c = (sq_conn *)conn;

    /* Autocommit means no transaction is open (never begun, or SQLite
     * already rolled it back after an I/O or full-disk error). */
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL); /* nothing to do if it fails */
}

/* The migration lock is an flock(2) on "<path>.migrate.lock", not a SQLite
 * transaction: the core applies each migration in its own transaction while
 * it holds the lock, and SQLite transactions do not nest.  The file lock
 * serializes every process that opens the same database file, and the
 * kernel drops it if the holder dies.  The file is left in place: removing
 * it would let a waiter lock an unlinked inode.  `key` is unused: one
 * database file, one migration lock. */
static bh_db_status sq_lock(bh_dbconn *conn, int64_t key, char *err, size_t errlen)
{
    sq_conn *c = (sq_conn *)conn;
    int fd;

    (void)key;
    if (c->lock_fd >= 0) {
        bh_db_set_err(err, errlen, "sqlite: this connection already holds the migration lock");
        return BH_DB_ERROR;
    }
    fd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        bh_db_set_err(err, errlen, "sqlite: cannot open %s: %s", c->lock_path, strerror(errno));
        return BH_DB_UNAVAILABLE;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        bh_db_set_err(err, errlen, "sqlite: cannot lock %s: %s", c->lock_path, strerror(errno));
        close(fd);
        return BH_DB_UNAVAILABLE;
    }
    c->lock_fd = fd;
    return BH_DB_OK;
}

static void sq_unlock(bh_dbconn *conn, int64_t key)
{
    sq_conn *c = (sq_conn *)conn;

    (void)key;
    if (c->lock_fd < 0)
        return;
    close(c->lock_fd); /* the last descriptor of the open file: drops the flock */
    c->lock_fd = -1;
}

/* A local file cannot disconnect. */
static int sq_alive(bh_dbconn *conn)
{
    (void)conn;
    return 1;
}

const bh_db_driver bh_db_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .script = sq_script,
    .run = sq_run,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .lock = sq_lock,
    .unlock = sq_unlock,
    .alive = sq_alive,
};
