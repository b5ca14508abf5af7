/* bilhetagem/db.h - storage: parameterized SQL inside a unit of work.
 *
 * The core opens the database (SQLite by default, PostgreSQL for several
 * nodes) and gives each worker thread its own connection; plugins never open
 * databases.  Every statement runs in the transaction of the unit of work
 * it is given (bh_req_unit() in a handler, the unit passed to a subscriber):
 * the transaction begins with the first statement and the core commits it
 * when the unit succeeds (a response below 400, a subscriber returning 0)
 * or rolls it back when it fails.  Events published in the unit are written
 * to the outbox in that same transaction.
 *
 * SQL: one placeholder syntax for both drivers, $1, $2, ... numbered from
 * one.  There is no way to splice values into SQL text: pass them as
 * parameters.  Write the common subset of SQLite and PostgreSQL: INSERT ...
 * RETURNING, ON CONFLICT, conditional UPDATE ... WHERE checked through the
 * affected-row count; integer columns as BIGINT, text as TEXT; cast
 * aggregates (CAST(SUM(x) AS BIGINT)) so both drivers return integers.
 *
 * Errors: every call returns a bh_db_status.  After any error the unit is
 * failed: later statements in it return the same status without running,
 * and the unit is rolled back.  BH_DB_RETRY (SQLite busy, PostgreSQL
 * serialization failure or deadlock) makes the core roll back and run the
 * whole handler again (bounded, with backoff), so handlers must not have
 * effects outside the database before they respond.  BH_DB_UNAVAILABLE
 * makes the core answer 503 with Retry-After whatever the handler did.
 * BH_DB_CONSTRAINT is the handler's to answer (409 or 422).
 *
 * Threads: a unit belongs to one thread; call these only on it.
 */
#ifndef BILHETAGEM_DB_H
#define BILHETAGEM_DB_H

#include <bilhetagem/events.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bh_db_type { BH_DB_NULL = 0, BH_DB_INT, BH_DB_TEXT } bh_db_type;

/* A parameter or a result cell.  Text is borrowed: it must outlive the call
 * (parameters) or is valid while the rows live (results). */
typedef struct bh_db_value {
    bh_db_type type;
    int64_t i;
    const char *s;
} bh_db_value;

static inline bh_db_value bh_db_int(int64_t v)
{
    bh_db_value x = {BH_DB_INT, v, NULL};
    return x;
}

/* NULL text binds SQL NULL. */
static inline bh_db_value bh_db_text(const char *s)
{
    bh_db_value x = {s ? BH_DB_TEXT : BH_DB_NULL, 0, s};
    return x;
}

#define BH_DB_I(v) bh_db_int((int64_t)(v))
#define BH_DB_S(v) bh_db_text(v)
#define BH_DB_N bh_db_text(NULL)

typedef enum bh_db_status {
    BH_DB_OK = 0,
    BH_DB_CONSTRAINT = -1,  /* unique, foreign-key or check violation */
    BH_DB_RETRY = -2,       /* transient conflict: the core re-runs the unit */
    BH_DB_UNAVAILABLE = -3, /* no database, connection lost, read-only or full */
    BH_DB_ERROR = -4        /* bad SQL, wrong parameter count, type mismatch */
} bh_db_status;

typedef struct bh_rows bh_rows;

/* Run one statement.  *affected (may be NULL) receives the rows it inserted,
 * updated or deleted. */
bh_db_status bh_db_exec(bh_unit *unit, const char *sql, const bh_db_value *params, size_t nparams,
                        int64_t *affected);

/* Run a statement that returns rows (SELECT, ... RETURNING).  *rows belongs
 * to the unit and is freed when the unit ends. */
bh_db_status bh_db_query(bh_unit *unit, const char *sql, const bh_db_value *params, size_t nparams,
                         bh_rows **rows);

size_t bh_rows_count(const bh_rows *rows);
size_t bh_rows_columns(const bh_rows *rows);

/* Typed access.  bh_rows_int: BH_DB_OK, or BH_DB_ERROR when the cell is NULL
 * or not an integer (a clear type error, never a silent 0).  bh_rows_text:
 * the text, or NULL when the cell is NULL or not text.  Out-of-range row or
 * column: BH_DB_ERROR / NULL. */
bh_db_status bh_rows_int(const bh_rows *rows, size_t row, size_t col, int64_t *out);
const char *bh_rows_text(const bh_rows *rows, size_t row, size_t col);
int bh_rows_is_null(const bh_rows *rows, size_t row, size_t col);

/* The message of the unit's last database error ("" when none), for logs.
 * It never contains parameter values. */
const char *bh_db_error(const bh_unit *unit);

/* "sqlite" or "postgresql"; NULL when no storage is configured. */
const char *bh_db_driver_name(void);

/* ---- migrations ------------------------------------------------------------
 * A plugin declares its schema as ordered migrations in init.  The core
 * applies the pending ones before the server starts, each in its own
 * transaction, and records (plugin, version, checksum) in schema_migrations.
 * An applied migration whose SQL changed stops startup.  `sql` may hold
 * several statements; `sql_postgresql`, when not NULL, replaces it on
 * PostgreSQL (for the rare DDL the two dialects spell differently). */
typedef struct bh_migration {
    int version;      /* 1, 2, 3...: strictly increasing */
    const char *name; /* "create_orders" */
    const char *sql;
    const char *sql_postgresql;
} bh_migration;

/* Register migrations (copied).  Returns 0 or -1 (bad order, no storage). */
int bh_db_migrations(bh_plugin_ctx *ctx, const bh_migration *list, size_t n);

/* ---- observing queries ------------------------------------------------------
 * A tracing plugin learns about every statement: its SQL text (never the
 * values), duration, rows returned or affected, and status.  Called on the
 * thread that ran the statement, right after it.  One observer. */
typedef void (*bh_db_observer_fn)(bh_unit *unit, const char *sql, int64_t duration_us, int64_t rows,
                                  bh_db_status status, void *arg);
int bh_db_set_observer(bh_plugin_ctx *ctx, bh_db_observer_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
