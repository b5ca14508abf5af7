/* db.h - the core's side of storage: drivers, connections, result sets.
 *
 * A driver (db_sqlite.c, db_pg.c) implements bh_db_driver; the rest of the
 * core talks to a bh_dbconn through the bh_conn_* functions, which add the
 * query observer and error bookkeeping.  One connection per thread that
 * touches the database (each worker, the outbox dispatcher, the CLI); a
 * connection is never shared between threads.
 */
#ifndef BH_DB_H
#define BH_DB_H

#include <stddef.h>
#include <stdint.h>

#include <bilhetagem/db.h>

#define BH_DB_ERR_MAX 256

/* Storage settings from the config's "storage" object. */
typedef struct bh_storage_conf {
    char *driver;                /* "sqlite" | "postgresql" */
    char *path;                  /* sqlite: database file */
    char *synchronous;           /* sqlite: "full" (default) | "normal" */
    int busy_timeout_ms;         /* sqlite: default 5000 */
    char *dsn;                   /* postgresql: libpq connection string */
    int statement_timeout_ms;    /* postgresql: default 5000 */
    int connect_timeout_ms;      /* postgresql: default 5000 */
    int max_retries;             /* unit re-runs on BH_DB_RETRY, default 4 */
    int outbox_batch;            /* default 100 */
    int outbox_max_attempts;     /* before dead-letter, default 10 */
    int outbox_backoff_ms;       /* first retry delay, default 500 */
    int outbox_max_backoff_ms;   /* cap, default 300000 */
    int outbox_lease_ms;         /* a claimed event's lease, default 30000 */
    int outbox_poll_ms;          /* look for due events at least this often */
    int idempotency_retention_s; /* default 86400 */
} bh_storage_conf;

typedef struct bh_dbconn bh_dbconn;

typedef struct bh_db_driver {
    const char *name;
    /* Connect.  NULL with a message on failure (the caller retries later). */
    bh_dbconn *(*open)(const bh_storage_conf *cfg, char *err, size_t errlen);
    void (*close)(bh_dbconn *c);
    /* Several statements, no parameters, no rows (migrations, DDL). */
    bh_db_status (*script)(bh_dbconn *c, const char *sql, char *err, size_t errlen);
    /* One statement with $n parameters.  rows may be NULL (results
     * discarded); *affected may be NULL. */
    bh_db_status (*run)(bh_dbconn *c, const char *sql, const bh_db_value *params, size_t n,
                        bh_rows **rows, int64_t *affected, char *err, size_t errlen);
    /* Transactions.  write=1 asks for the write lock up front (SQLite BEGIN
     * IMMEDIATE), so a reader upgraded to a writer cannot deadlock. */
    bh_db_status (*begin)(bh_dbconn *c, int write, char *err, size_t errlen);
    bh_db_status (*commit)(bh_dbconn *c, char *err, size_t errlen);
    void (*rollback)(bh_dbconn *c);
    /* Exclusive lock for migrations across processes: a PostgreSQL
     * advisory lock (the session has no statement_timeout until unlock, so
     * neither the wait nor a long migration is cut short); for SQLite an
     * flock() on "<path>.migrate.lock", since each migration runs in a
     * transaction of its own and SQLite cannot nest one inside a
     * lock-holding transaction. */
    bh_db_status (*lock)(bh_dbconn *c, int64_t key, char *err, size_t errlen);
    void (*unlock)(bh_dbconn *c, int64_t key);
    /* 1 when the connection is usable (reconnects when it is not). */
    int (*alive)(bh_dbconn *c);
} bh_db_driver;

extern const bh_db_driver bh_db_sqlite;
#ifdef BH_HAVE_POSTGRESQL
extern const bh_db_driver bh_db_postgresql;
#endif

/* The driver for cfg->driver, or NULL. */
const bh_db_driver *bh_db_driver_find(const char *name);

/* Every connection starts with this header, so the core can reach its
 * driver without knowing the driver's struct. */
struct bh_dbconn {
    const bh_db_driver *drv;
};

/* ---- result sets (db_rows.c): built by drivers, read through the SDK ----- */
bh_rows *bh_rows_new(size_t ncols);
/* Append a row of NULLs; returns its index. */
size_t bh_rows_add(bh_rows *r);
void bh_rows_set_int(bh_rows *r, size_t row, size_t col, int64_t v);
void bh_rows_set_text(bh_rows *r, size_t row, size_t col, const char *s, size_t len);
void bh_rows_free(bh_rows *r);

/* printf into a driver's error buffer (err may be NULL). */
void bh_db_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Classify SQLSTATEs / SQLite codes into bh_db_status (shared helpers). */
bh_db_status bh_db_status_from_sqlstate(const char *sqlstate);

#endif
