/* db_rows.c - result sets, SQLSTATE classification and the driver table.
 *
 * A driver builds a bh_rows while it steps through a statement's results
 * (bh_rows_new, bh_rows_add, bh_rows_set_*); the core hands it to a plugin,
 * which reads it through the SDK accessors declared in bilhetagem/db.h.
 * Cells are a row-major array of bh_db_value; a text cell owns a private,
 * NUL-terminated copy of its bytes, so a result set never points into a
 * driver's buffers (a SQLite statement is reset and a PGresult cleared as
 * soon as the rows are built).
 *
 * Allocation failure aborts, as everywhere in the core (util.c): a half
 * built result set has no honest meaning to hand back.
 */
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

struct bh_rows {
    size_t ncols;
    size_t nrows;
    size_t cap;         /* rows the cell array has room for */
    bh_db_value *cells; /* nrows * ncols; TEXT cells own their `s` */
};

__attribute__((noreturn)) static void rows_oom(size_t n)
{
    /* No allocation here: we are out of memory. */
    fprintf(stderr, "{\"level\":\"error\",\"msg\":\"out of memory allocating %zu bytes\"}\n", n);
    abort();
}

bh_rows *bh_rows_new(size_t ncols)
{
    bh_rows *r = calloc(1, sizeof *r);

    if (!r)
        rows_oom(sizeof *r);
    r->ncols = ncols;
    return r;
}

/* Make room for one more row, doubling the cell array. */
static void rows_grow(bh_rows *r)
{
    size_t cap = r->cap ? r->cap * 2 : 8;
    bh_db_value *cells;

    if (r->ncols == 0) {
        r->cap = cap; /* rows without columns still count */
        return;
    }
    if (cap > SIZE_MAX / r->ncols / sizeof *cells)
        rows_oom(SIZE_MAX);
    cells = realloc(r->cells, cap * r->ncols * sizeof *cells);
    if (!cells)
        rows_oom(cap * r->ncols * sizeof *cells);
    r->cells = cells;
    r->cap = cap;
}

size_t bh_rows_add(bh_rows *r)
{
    size_t col;

    if (r->nrows == r->cap)
        rows_grow(r);
    for (col = 0; col < r->ncols; col++)
        r->cells[r->nrows * r->ncols + col] = BH_DB_N;
    return r->nrows++;
}

/* The cell at (row, col), or NULL when it does not exist. */
static bh_db_value *cell_at(const bh_rows *r, size_t row, size_t col)
{
    if (!r || row >= r->nrows || col >= r->ncols)
        return NULL;
    return &r->cells[row * r->ncols + col];
}

static void cell_clear(bh_db_value *v)
{
    if (v->type == BH_DB_TEXT)
        free((char *)v->s); /* our own copy, see bh_rows_set_text */
    *v = BH_DB_N;
}

void bh_rows_set_int(bh_rows *r, size_t row, size_t col, int64_t v)
{
    bh_db_value *cell = cell_at(r, row, col);

    if (!cell)
        return;
    cell_clear(cell);
    *cell = BH_DB_I(v);
}

void bh_rows_set_text(bh_rows *r, size_t row, size_t col, const char *s, size_t len)
{
    bh_db_value *cell = cell_at(r, row, col);
    char *copy;

    if (!cell)
        return;
    cell_clear(cell);
    if (!s)
        return; /* stays NULL */
    if (len == SIZE_MAX || !(copy = malloc(len + 1)))
        rows_oom(len);
    memcpy(copy, s, len);
    copy[len] = '\0';
    cell->type = BH_DB_TEXT;
    cell->s = copy;
}

void bh_rows_free(bh_rows *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->nrows * r->ncols; i++)
        cell_clear(&r->cells[i]);
    free(r->cells);
    free(r);
}

/* ---- SDK accessors ------------------------------------------------------- */

size_t bh_rows_count(const bh_rows *rows)
{
    return rows ? rows->nrows : 0;
}

size_t bh_rows_columns(const bh_rows *rows)
{
    return rows ? rows->ncols : 0;
}

bh_db_status bh_rows_int(const bh_rows *rows, size_t row, size_t col, int64_t *out)
{
    const bh_db_value *cell = cell_at(rows, row, col);

    if (!cell || cell->type != BH_DB_INT)
        return BH_DB_ERROR;
    if (out)
        *out = cell->i;
    return BH_DB_OK;
}

const char *bh_rows_text(const bh_rows *rows, size_t row, size_t col)
{
    const bh_db_value *cell = cell_at(rows, row, col);

    return cell && cell->type == BH_DB_TEXT ? cell->s : NULL;
}

/* A cell that does not exist holds no value either: 1, so that a caller
 * testing "is there something here" never reads past the end. */
int bh_rows_is_null(const bh_rows *rows, size_t row, size_t col)
{
    const bh_db_value *cell = cell_at(rows, row, col);

    return !cell || cell->type == BH_DB_NULL;
}

/* ---- classification and lookup ------------------------------------------ */

static int sqlstate_is(const char *state, const char *prefix)
{
    return strncmp(state, prefix, strlen(prefix)) == 0;
}

bh_db_status bh_db_status_from_sqlstate(const char *state)
{
    if (!state || strlen(state) != 5)
        return BH_DB_ERROR;
    if (sqlstate_is(state, "23")) /* integrity constraint violation */
        return BH_DB_CONSTRAINT;
    if (sqlstate_is(state, "40001") || /* serialization_failure */
        sqlstate_is(state, "40P01"))   /* deadlock_detected */
        return BH_DB_RETRY;
    /* 08P01 protocol_violation sits in the connection class, but the server
     * sends it for a healthy connection when the client bound the wrong
     * number of parameters: a caller's bug, not an outage. */
    if (sqlstate_is(state, "08P01"))
        return BH_DB_ERROR;
    if (sqlstate_is(state, "08") ||    /* connection exception */
        sqlstate_is(state, "53") ||    /* insufficient resources: disk full, ... */
        sqlstate_is(state, "57P01") || /* admin_shutdown */
        sqlstate_is(state, "57P02") || /* crash_shutdown */
        sqlstate_is(state, "57P03") || /* cannot_connect_now */
        sqlstate_is(state, "57014") || /* query_canceled: statement_timeout */
        sqlstate_is(state, "25006"))   /* read_only_sql_transaction (a standby) */
        return BH_DB_UNAVAILABLE;
    return BH_DB_ERROR;
}

void bh_db_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const bh_db_driver *bh_db_driver_find(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, bh_db_sqlite.name) == 0)
        return &bh_db_sqlite;
#ifdef BH_HAVE_POSTGRESQL
    if (strcmp(name, bh_db_postgresql.name) == 0)
        return &bh_db_postgresql;
#endif
    return NULL;
}
