/* db_pg.c - the PostgreSQL storage driver (bh_db_postgresql), over libpq.
 *
 * Built only with libpq (BH_HAVE_POSTGRESQL).  One connection per thread;
 * each session runs with storage.statement_timeout_ms (0: none, as in
 * PostgreSQL) and TimeZone UTC, re-applied whenever alive() reconnects a
 * broken connection.  storage.connect_timeout_ms bounds connecting, in
 * whole seconds (libpq's unit), unless the DSN sets connect_timeout.
 *
 * Statements go through PQexecParams with every parameter in text format
 * and no declared types, so the server infers them from context exactly as
 * it would for literals ($1 compared with a BIGINT column is a BIGINT).
 * Results are read by column type: integer and boolean columns become
 * integers, numeric, float, money and bytea columns are refused with
 * BH_DB_ERROR (cast aggregates to BIGINT: SUM of a BIGINT is NUMERIC), and
 * everything else comes back as PostgreSQL's text form.
 *
 * Secrets: messages carry the server's primary message and SQLSTATE, never
 * its DETAIL (which quotes key values), never the primary message of a data
 * exception (which quotes the rejected value), and never the DSN (which may
 * hold a password).
 */
#ifdef BH_HAVE_POSTGRESQL

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#define PG_MAX_PARAMS 65535 /* the protocol's limit */

/* Type OIDs of the built-in types we treat specially (pg_type.dat; the
 * server's catalog headers are not part of libpq-dev). */
enum {
    PG_BOOL = 16,
    PG_BYTEA = 17,
    PG_INT8 = 20,
    PG_INT2 = 21,
    PG_INT4 = 23,
    PG_OID = 26,
    PG_FLOAT4 = 700,
    PG_FLOAT8 = 701,
    PG_MONEY = 790,
    PG_NUMERIC = 1700
};

enum { PG_KIND_TEXT, PG_KIND_INT, PG_KIND_BOOL }; /* how a column is read */

typedef struct pg_conn {
    bh_dbconn base; /* first: the core reaches the driver through it */
    PGconn *pg;
    int statement_timeout_ms;
} pg_conn;

/* libpq's messages end in a newline and may span lines ("\n\tIs the server
 * running..."): fold them into one log-friendly line. */
static void one_line(char *dst, size_t len, const char *src)
{
    size_t o = 0;
    int space = 0;

    for (; src && *src && o + 1 < len; src++) {
        if (*src == '\n' || *src == '\t' || *src == '\r') {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < len)
            dst[o++] = ' ';
        space = 0;
        dst[o++] = *src;
    }
    dst[o] = '\0';
}

/* Describe a failed result (res may be NULL) and classify it. */
static bh_db_status pg_fail(pg_conn *c, const PGresult *res, char *err, size_t errlen)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    bh_db_status st = bh_db_status_from_sqlstate(state);
    char msg[BH_DB_ERR_MAX];

    if (state && strncmp(state, "22", 2) == 0)
        primary = "a value does not fit its column or type"; /* the server's text quotes it */
    one_line(msg, sizeof msg, primary ? primary : PQerrorMessage(c->pg));
    if (PQstatus(c->pg) == CONNECTION_BAD)
        st = BH_DB_UNAVAILABLE;
    bh_db_set_err(err, errlen, "postgresql: %s (SQLSTATE %s)", msg[0] ? msg : "unknown error",
                  state ? state : "none");
    return st;
}

/* A command that returns nothing we keep. */
static bh_db_status pg_simple(pg_conn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType s = PQresultStatus(res); /* PGRES_FATAL_ERROR for NULL */
    bh_db_status st = BH_DB_OK;

    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        st = pg_fail(c, res, err, errlen);
    PQclear(res);
    return st;
}

static bh_db_status pg_set_timeout(pg_conn *c, int ms, char *err, size_t errlen)
{
    char sql[64];

    snprintf(sql, sizeof sql, "SET statement_timeout = %d", ms);
    return pg_simple(c, sql, err, errlen);
}

/* Session settings, after connecting and after every reconnect. */
static bh_db_status pg_setup(pg_conn *c, char *err, size_t errlen)
{
    bh_db_status st = pg_set_timeout(c, c->statement_timeout_ms, err, errlen);

    return st != BH_DB_OK ? st : pg_simple(c, "SET TIME ZONE 'UTC'", err, errlen);
}

/* Notices (ROLLBACK outside a transaction, DROP ... IF EXISTS) would go to
 * stderr and break the JSON log; they carry nothing we act on. */
static void pg_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* ---- opening ------------------------------------------------------------- */

static void pg_close(bh_dbconn *conn)
{
    pg_conn *c = (pg_conn *)conn;

    if (!c)
        return;
    PQfinish(c->pg); /* accepts NULL */
    free(c);
}

/* libpq's own rule: a dbname is expanded as a connection string when it is
 * a URI or contains '='.  Anything else is a bare database name. */
static int pg_is_conninfo(const char *dsn)
{
    return strchr(dsn, '=') || strncmp(dsn, "postgresql://", 13) == 0 ||
           strncmp(dsn, "postgres://", 11) == 0;
}

/* Check that the DSN parses, without letting libpq's parse error (which
 * quotes the offending token, possibly the password) reach the log.
 * *password receives a copy of the DSN's password, if any, for redaction. */
static int pg_check_dsn(const char *dsn, char **password, char *err, size_t errlen)
{
    PQconninfoOption *opts, *o;
    char *perr = NULL;

    *password = NULL;
    if (!pg_is_conninfo(dsn))
        return 0;
    if (!(opts = PQconninfoParse(dsn, &perr))) {
        PQfreemem(perr);
        bh_db_set_err(err, errlen, "postgresql: storage.dsn is not a valid connection string");
        return -1;
    }
    for (o = opts; o->keyword && strcmp(o->keyword, "password") != 0; o++)
        ;
    if (o->keyword && o->val && *o->val && !(*password = strdup(o->val))) {
        PQconninfoFree(opts);
        bh_db_set_err(err, errlen, "postgresql: out of memory");
        return -1;
    }
    PQconninfoFree(opts);
    return 0;
}

static PGconn *pg_connect(const bh_storage_conf *cfg)
{
    int ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 0;
    char timeout[16];
    /* Keywords before dbname are defaults the DSN may override. */
    const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *vals[] = {timeout, "bilhetagemd", cfg->dsn, NULL};

    snprintf(timeout, sizeof timeout, "%d", (ms + 999) / 1000); /* whole seconds, 0: none */
    return PQconnectdbParams(keys, vals, 1);
}

static int pg_connected(pg_conn *c, const char *password, char *err, size_t errlen)
{
    char msg[BH_DB_ERR_MAX];

    if (!c->pg) {
        bh_db_set_err(err, errlen, "postgresql: out of memory");
        return 0;
    }
    if (PQstatus(c->pg) == CONNECTION_OK)
        return 1;
    one_line(msg, sizeof msg, PQerrorMessage(c->pg));
    if (password && strstr(msg, password))
        bh_db_set_err(err, errlen, "postgresql: cannot connect (the reason quoted the password)");
    else
        bh_db_set_err(err, errlen, "postgresql: cannot connect: %s", msg);
    return 0;
}

static bh_dbconn *pg_open(const bh_storage_conf *cfg, char *err, size_t errlen)
{
    pg_conn *c;
    char *password;
    int ok;

    if (!cfg->dsn || !*cfg->dsn) {
        bh_db_set_err(err, errlen, "postgresql: storage.dsn is not set");
        return NULL;
    }
    if (pg_check_dsn(cfg->dsn, &password, err, errlen) != 0)
        return NULL;
    if (!(c = calloc(1, sizeof *c))) {
        free(password);
        bh_db_set_err(err, errlen, "postgresql: out of memory");
        return NULL;
    }
    c->base.drv = &bh_db_postgresql;
    c->statement_timeout_ms = cfg->statement_timeout_ms;
    c->pg = pg_connect(cfg);
    ok = pg_connected(c, password, err, errlen);
    free(password);
    if (!ok) {
        pg_close(&c->base);
        return NULL;
    }
    PQsetNoticeProcessor(c->pg, pg_ignore_notice, NULL);
    if (pg_setup(c, err, errlen) != BH_DB_OK) {
        pg_close(&c->base);
        return NULL;
    }
    return &c->base;
}

/* ---- results --------------------------------------------------------------- */

/* How a column is read, or -1 with err set when its type is refused. */
static int pg_column_kind(const PGresult *res, int col, char *err, size_t errlen)
{
    const char *why;

    switch (PQftype(res, col)) {
    case PG_INT2:
    case PG_INT4:
    case PG_INT8:
    case PG_OID: return PG_KIND_INT;
    case PG_BOOL: return PG_KIND_BOOL;
    case PG_NUMERIC: why = "numeric column: cast to BIGINT"; break;
    case PG_FLOAT4:
    case PG_FLOAT8: why = "unsupported column type float (money is integer minor units)"; break;
    case PG_MONEY: why = "unsupported column type money (use BIGINT minor units)"; break;
    case PG_BYTEA: why = "unsupported column type bytea"; break;
    default: return PG_KIND_TEXT;
    }
    bh_db_set_err(err, errlen, "postgresql: %s (column %s)", why, PQfname(res, col));
    return -1;
}

static bh_db_status pg_store_cell(bh_rows *r, size_t row, const PGresult *res, int t, int col,
                                  char *err, size_t errlen)
{
    const char *v = PQgetvalue(res, t, col);
    char *end;
    long long i;

    switch (pg_column_kind(res, col, NULL, 0)) {
    case PG_KIND_INT:
        i = strtoll(v, &end, 10); /* int2/4/8 and oid always fit */
        if (end == v || *end) {
            bh_db_set_err(err, errlen, "postgresql: column %s: bad integer", PQfname(res, col));
            return BH_DB_ERROR;
        }
        bh_rows_set_int(r, row, (size_t)col, (int64_t)i);
        return BH_DB_OK;
    case PG_KIND_BOOL: bh_rows_set_int(r, row, (size_t)col, v[0] == 't'); return BH_DB_OK;
    case PG_KIND_TEXT:
        bh_rows_set_text(r, row, (size_t)col, v, (size_t)PQgetlength(res, t, col));
        return BH_DB_OK;
    }
    return BH_DB_ERROR; /* unreachable: pg_materialize checked the types */
}

/* Check every column's type (even with no rows: a NUMERIC SUM is a bug
 * whether or not the table is empty); then, when wanted, copy the rows. */
static bh_db_status pg_materialize(const PGresult *res, bh_rows **rows, char *err, size_t errlen)
{
    int nf = PQnfields(res), nt = PQntuples(res), f, t;
    bh_rows *r;

    for (f = 0; f < nf; f++)
        if (pg_column_kind(res, f, err, errlen) < 0)
            return BH_DB_ERROR;
    if (!rows)
        return BH_DB_OK;
    r = bh_rows_new((size_t)nf);
    for (t = 0; t < nt; t++) {
        size_t row = bh_rows_add(r);

        for (f = 0; f < nf; f++) {
            if (PQgetisnull(res, t, f))
                continue;
            if (pg_store_cell(r, row, res, t, f, err, errlen) != BH_DB_OK) {
                bh_rows_free(r);
                return BH_DB_ERROR;
            }
        }
    }
    *rows = r;
    return BH_DB_OK;
}

/* Rows written by INSERT/UPDATE/DELETE/MERGE (with or without RETURNING);
 * 0 for anything else, as in the SQLite driver (PQcmdTuples would count
 * the rows of a SELECT too). */
static int64_t pg_affected(const PGresult *res)
{
    static const char *const writes[] = {"INSERT ", "UPDATE ", "DELETE ", "MERGE "};
    const char *cmd = PQcmdStatus((PGresult *)res); /* libpq's prototype lacks const */
    size_t i;

    for (i = 0; i < sizeof writes / sizeof writes[0]; i++)
        if (strncmp(cmd, writes[i], strlen(writes[i])) == 0)
            return strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
    return 0;
}

static bh_db_status pg_result(pg_conn *c, const PGresult *res, bh_rows **rows, int64_t *affected,
                              char *err, size_t errlen)
{
    bh_db_status st;

    switch (PQresultStatus(res)) {
    case PGRES_TUPLES_OK: st = pg_materialize(res, rows, err, errlen); break;
    case PGRES_COMMAND_OK: st = BH_DB_OK; break;
    case PGRES_EMPTY_QUERY:
        bh_db_set_err(err, errlen, "postgresql: empty statement");
        return BH_DB_ERROR;
    default: return pg_fail(c, res, err, errlen);
    }
    if (st == BH_DB_OK && affected)
        *affected = pg_affected(res);
    return st;
}

/* ---- statements ------------------------------------------------------------ */

/* Parameters in text format: integers as decimal, NULL as a NULL pointer.
 * `ints` has room for n decimal integers. */
static bh_db_status pg_params(const bh_db_value *params, size_t n, const char **vals,
                              char (*ints)[24], char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < n; i++) {
        switch (params[i].type) {
        case BH_DB_INT:
            snprintf(ints[i], sizeof ints[i], "%lld", (long long)params[i].i);
            vals[i] = ints[i];
            break;
        case BH_DB_TEXT: vals[i] = params[i].s; break;
        case BH_DB_NULL: vals[i] = NULL; break;
        default:
            bh_db_set_err(err, errlen, "postgresql: parameter $%zu has an unknown type", i + 1);
            return BH_DB_ERROR;
        }
    }
    return BH_DB_OK;
}

static bh_db_status pg_run(bh_dbconn *conn, const char *sql, const bh_db_value *params, size_t n,
                           bh_rows **rows, int64_t *affected, char *err, size_t errlen)
{
    pg_conn *c = (pg_conn *)conn;
    const char **vals = NULL;
    char(*ints)[24] = NULL;
    PGresult *res;
    bh_db_status st;

    if (rows)
        *rows = NULL;
    if (affected)
        *affected = 0;
    if (n > PG_MAX_PARAMS) {
        bh_db_set_err(err, errlen, "postgresql: %zu parameters, at most %d", n, PG_MAX_PARAMS);
        return BH_DB_ERROR;
    }
    if (n > 0 && (!(vals = calloc(n, sizeof *vals)) || !(ints = calloc(n, sizeof *ints)))) {
        free(vals);
        bh_db_set_err(err, errlen, "postgresql: out of memory");
        return BH_DB_ERROR;
    }
    st = pg_params(params, n, vals, ints, err, errlen);
    if (st == BH_DB_OK) {
        /* The server checks the count: 08P01 "bind message supplies N
         * parameters, but prepared statement requires M" (BH_DB_ERROR, see
         * bh_db_status_from_sqlstate), 42P18 when a $k is skipped. */
        res = PQexecParams(c->pg, sql, (int)n, NULL, vals, NULL, NULL, 0);
        st = pg_result(c, res, rows, affected, err, errlen);
        PQclear(res);
    }
    free(vals);
    free(ints);
    return st;
}

static bh_db_status pg_script(bh_dbconn *conn, const char *sql, char *err, size_t errlen)
{
    /* PQexec speaks the simple query protocol: several statements are fine. */
    return pg_simple((pg_conn *)conn, sql, err, errlen);
}

/* ---- transactions, the migration lock, liveness ------------------------------ */

static bh_db_status pg_begin(bh_dbconn *conn, int write, char *err, size_t errlen)
{
    pg_conn *c = (pg_conn *)conn;

    (void)write; /* READ COMMITTED: row locks are taken as rows are written */
    if (PQtransactionStatus(c->pg) == PQTRANS_INTRANS ||
        PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
        /* PostgreSQL would only warn; SQLite refuses, and so do we. */
        bh_db_set_err(err, errlen, "postgresql: a transaction is already open");
        return BH_DB_ERROR;
    }
    return pg_simple(c, "BEGIN", err, errlen);
}

static bh_db_status pg_commit(bh_dbconn *conn, char *err, size_t errlen)
{
    pg_conn *c = (pg_conn *)conn;
    PGresult *res = PQexec(c->pg, "COMMIT");
    bh_db_status st = BH_DB_OK;

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        st = pg_fail(c, res, err, errlen); /* 40001 at commit: BH_DB_RETRY */
    } else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        /* COMMIT of a transaction an earlier error aborted rolls it back */
        bh_db_set_err(err, errlen, "postgresql: the transaction had failed; COMMIT rolled it back");
        st = BH_DB_ERROR;
    }
    PQclear(res);
    return st;
}

static void pg_rollback(bh_dbconn *conn)
{
    pg_conn *c = (pg_conn *)conn;
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);

    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        PQclear(PQexec(c->pg, "ROLLBACK")); /* a lost connection rolls back anyway */
}

static PGresult *pg_advisory(pg_conn *c, const char *sql, int64_t key)
{
    static const Oid int8[1] = {PG_INT8};
    char text[24];
    const char *vals[1] = {text};

    snprintf(text, sizeof text, "%lld", (long long)key);
    return PQexecParams(c->pg, sql, 1, int8, vals, NULL, NULL, 0);
}

/* A session-level advisory lock, held until unlock or disconnect (a node
 * that dies mid-migration releases it).  While it is held the session runs
 * without statement_timeout: neither the wait (another node may be running
 * long migrations, and a node that gave up after a few seconds would only
 * fail its startup) nor the migrations themselves (an index on a big table
 * takes minutes) are bound by it.  unlock() restores the timeout. */
static bh_db_status pg_lock(bh_dbconn *conn, int64_t key, char *err, size_t errlen)
{
    pg_conn *c = (pg_conn *)conn;
    PGresult *res;
    bh_db_status st;

    if ((st = pg_set_timeout(c, 0, err, errlen)) != BH_DB_OK)
        return st;
    res = pg_advisory(c, "SELECT pg_advisory_lock($1)", key);
    st = PQresultStatus(res) == PGRES_TUPLES_OK ? BH_DB_OK : pg_fail(c, res, err, errlen);
    PQclear(res);
    if (st != BH_DB_OK)
        pg_set_timeout(c, c->statement_timeout_ms, NULL, 0);
    return st;
}

static void pg_unlock(bh_dbconn *conn, int64_t key)
{
    pg_conn *c = (pg_conn *)conn;

    /* Nothing to report on failure: a session that cannot run these is
     * gone, and its locks with it. */
    PQclear(pg_advisory(c, "SELECT pg_advisory_unlock($1)", key));
    pg_set_timeout(c, c->statement_timeout_ms, NULL, 0);
}

/* PQstatus goes bad once libpq notices a lost connection (the statement
 * that noticed returned BH_DB_UNAVAILABLE); then reconnect with the same
 * parameters and restore the session settings. */
static int pg_alive(bh_dbconn *conn)
{
    pg_conn *c = (pg_conn *)conn;
    char err[BH_DB_ERR_MAX];

    if (PQstatus(c->pg) == CONNECTION_OK)
        return 1;
    PQreset(c->pg);
    return PQstatus(c->pg) == CONNECTION_OK && pg_setup(c, err, sizeof err) == BH_DB_OK;
}

const bh_db_driver bh_db_postgresql = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .script = pg_script,
    .run = pg_run,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .lock = pg_lock,
    .unlock = pg_unlock,
    .alive = pg_alive,
};

#endif /* BH_HAVE_POSTGRESQL */
