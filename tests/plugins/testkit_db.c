/* testkit_db.c - the testkit's database-backed routes (storage tests only).
 *
 * Registered only when the config has "storage".  They give the storage
 * tests behaviour they can count:
 *
 *   POST /test/db/counters {name, fail?}   idempotent: +1 on the counter,
 *        publishes test.counted (subject = name), 201 {name, value}; with
 *        fail:true it answers 422 after the write, so the unit must roll
 *        back (value unchanged, no event)
 *   GET  /test/db/counters/{name}          200 {name, value} or 404
 *   GET  /test/db/effects                  what the test.counted subscriber
 *        did: {count, events: [{event_id, name, seen}]}; seen > 1 would mean
 *        an effect happened twice
 *   POST /test/db/unique {name}            201, or 409 on the UNIQUE name
 *
 * Config: "slow_subscriber_ms": N makes the subscriber sleep first (the
 * crash test kills the server mid-delivery); "fail_subscriber": true makes
 * it fail (dead-letter tests); "bad_statement_subscriber": true makes it run
 * a statement that fails and return 0 anyway (the core must still fail the
 * delivery, and say why); "kill_on_subject": "name" makes it kill its own
 * process (SIGKILL, after the slow sleep) on events of that subject, a
 * poison event; "migration_comment": "text" appends a comment to the first
 * migration, which changes its checksum (the changed-migration test);
 * "slow_migration_ms": N declares a fifth migration that takes N ms on
 * PostgreSQL (pg_sleep; a no-op on SQLite).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bilhetagem/bilhetagem.h>

#include "testkit.h"

#define NAME_MAX_LEN 100

struct tk_db {
    long slow_ms;
    int fail_subscriber;
    int bad_statement;  /* run a failing statement, then return 0 */
    char *kill_subject; /* SIGKILL the process on this subject, or NULL */
    long slow_migration_ms;
    char *counters_sql; /* migration 1, with the optional comment */
    char *slow_sql_pg;  /* migration 5 on PostgreSQL, when slow_migration_ms */
};

/* ---- helpers --------------------------------------------------------------- */

/* A statement failed: let the core map it (503 when unavailable, a re-run
 * on RETRY); a real error is logged with the driver's message. */
static int db_failed(bh_request *req, bh_db_status s)
{
    if (s == BH_DB_ERROR)
        bh_req_log(req, BH_LOG_ERROR, "testkit: %s", bh_db_error(bh_req_unit(req)));
    bh_resp_problem(req, 500, "internal", NULL, "database statement failed");
    return 0;
}

/* body.name: a string of 1..NAME_MAX_LEN bytes, else a 422 and NULL. */
static const char *body_name(bh_request *req)
{
    const char *name = json_string_value(json_object_get(bh_req_json(req), "name"));
    if (name && *name && strlen(name) <= NAME_MAX_LEN)
        return name;
    json_t *errors = NULL;
    bh_problem_field(&errors, "/name", "a string of 1-%d characters is required", NAME_MAX_LEN);
    bh_resp_problem_fields(req, 422, "invalid counter", errors);
    return NULL;
}

/* ---- routes ---------------------------------------------------------------- */

static int count_handler(bh_request *req, void *arg)
{
    (void)arg;
    const char *name = body_name(req);
    if (!name)
        return 0;
    const json_t *fail = json_object_get(bh_req_json(req), "fail");
    bh_unit *u = bh_req_unit(req);
    bh_db_value p[] = {BH_DB_S(name)};
    bh_rows *rows = NULL;
    bh_db_status s =
        bh_db_query(u,
                    "INSERT INTO testkit_counters (name, value) VALUES ($1, 1)"
                    " ON CONFLICT (name) DO UPDATE SET value = testkit_counters.value + 1"
                    " RETURNING value",
                    p, 1, &rows);
    int64_t value = 0;
    if (s == BH_DB_OK)
        s = bh_rows_int(rows, 0, 0, &value);
    if (s != BH_DB_OK)
        return db_failed(req, s);
    /* what the tracing plugin does for real: the request's trace rides along */
    bh_unit_set_trace_header(u, bh_req_header(req, "X-Amzn-Trace-Id"));
    if (bh_event_publish(u, "test.counted", name,
                         json_pack("{s:s, s:I}", "name", name, "value", (json_int_t)value)) != 0)
        return -1;
    if (json_is_true(fail)) { /* after the write and the event: both must vanish */
        bh_resp_problem(req, 422, "told-to-fail", NULL, "told to fail after counting %s", name);
        return 0;
    }
    bh_resp_json(req, 201, json_pack("{s:s, s:I}", "name", name, "value", (json_int_t)value));
    return 0;
}

static int counter_handler(bh_request *req, void *arg)
{
    (void)arg;
    const char *name = bh_req_param(req, "name");
    bh_db_value p[] = {BH_DB_S(name)};
    bh_rows *rows = NULL;
    bh_db_status s = bh_db_query(bh_req_unit(req),
                                 "SELECT value FROM testkit_counters WHERE name = $1", p, 1, &rows);
    int64_t value = 0;
    if (s == BH_DB_OK && bh_rows_count(rows) == 0) {
        bh_resp_problem(req, 404, "not-found", NULL, "no counter named %s", name);
        return 0;
    }
    if (s == BH_DB_OK)
        s = bh_rows_int(rows, 0, 0, &value);
    if (s != BH_DB_OK)
        return db_failed(req, s);
    bh_resp_json(req, 200, json_pack("{s:s, s:I}", "name", name, "value", (json_int_t)value));
    return 0;
}

static int effects_handler(bh_request *req, void *arg)
{
    (void)arg;
    bh_rows *rows = NULL;
    bh_db_status s = bh_db_query(bh_req_unit(req),
                                 "SELECT event_id, name, seen, trace"
                                 " FROM testkit_effects ORDER BY name, event_id",
                                 NULL, 0, &rows);
    if (s != BH_DB_OK)
        return db_failed(req, s);
    json_t *events = json_array();
    size_t n = bh_rows_count(rows);
    for (size_t i = 0; i < n; i++) {
        int64_t seen = 0;
        if ((s = bh_rows_int(rows, i, 2, &seen)) != BH_DB_OK) {
            json_decref(events);
            return db_failed(req, s);
        }
        json_array_append_new(events, json_pack("{s:s?, s:s?, s:I, s:s?}", "event_id",
                                                bh_rows_text(rows, i, 0), "name",
                                                bh_rows_text(rows, i, 1), "seen", (json_int_t)seen,
                                                "trace", bh_rows_text(rows, i, 3)));
    }
    bh_resp_json(req, 200, json_pack("{s:I, s:o}", "count", (json_int_t)n, "events", events));
    return 0;
}

static int unique_handler(bh_request *req, void *arg)
{
    (void)arg;
    const char *name = body_name(req);
    if (!name)
        return 0;
    bh_db_value p[] = {BH_DB_S(name)};
    bh_db_status s =
        bh_db_exec(bh_req_unit(req), "INSERT INTO testkit_names (name) VALUES ($1)", p, 1, NULL);
    if (s == BH_DB_CONSTRAINT) {
        bh_resp_problem(req, 409, "conflict", NULL, "the name %s is taken", name);
        return 0;
    }
    if (s != BH_DB_OK)
        return db_failed(req, s);
    bh_resp_json(req, 201, json_pack("{s:s}", "name", name));
    return 0;
}

/* ---- the test.counted subscriber --------------------------------------------- */

static int on_counted(bh_unit *unit, const bh_event *ev, void *arg)
{
    const struct tk_db *db = arg;
    if (db->slow_ms > 0) {
        struct timespec ts = {db->slow_ms / 1000, (db->slow_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    const char *name = bh_event_subject(ev);
    if (db->kill_subject && name && !strcmp(name, db->kill_subject))
        kill(getpid(), SIGKILL); /* a poison event: the process dies in delivery */
    if (db->fail_subscriber)
        return -1;
    if (db->bad_statement) { /* the error is swallowed: the core must notice */
        bh_db_exec(unit, "INSERT INTO testkit_no_such_table (x) VALUES (1)", NULL, 0, NULL);
        return 0;
    }
    bh_db_value p[] = {BH_DB_S(bh_event_id(ev)), BH_DB_S(name ? name : ""),
                       BH_DB_S(bh_unit_trace_header(unit))};
    /* A second delivery that got past the inbox would show as seen = 2. */
    return bh_db_exec(unit,
                      "INSERT INTO testkit_effects (event_id, name, seen, trace)"
                      " VALUES ($1, $2, 1, $3) ON CONFLICT (event_id)"
                      " DO UPDATE SET seen = testkit_effects.seen + 1",
                      p, 3, NULL) == BH_DB_OK
               ? 0
               : -1;
}

/* ---- registration ---------------------------------------------------------- */

static int read_config(bh_plugin_ctx *ctx, const json_t *config, struct tk_db *db)
{
    const json_t *slow = json_object_get(config, "slow_subscriber_ms");
    const json_t *fail = json_object_get(config, "fail_subscriber");
    const json_t *comment = json_object_get(config, "migration_comment");
    const json_t *bad = json_object_get(config, "bad_statement_subscriber");
    const json_t *kill_on = json_object_get(config, "kill_on_subject");
    const json_t *slow_mig = json_object_get(config, "slow_migration_ms");
    if (slow && (!json_is_integer(slow) || json_integer_value(slow) < 0 ||
                 json_integer_value(slow) > 60000)) {
        bh_plugin_error(ctx, "config.slow_subscriber_ms must be an integer 0-60000");
        return -1;
    }
    if (slow_mig && (!json_is_integer(slow_mig) || json_integer_value(slow_mig) < 0 ||
                     json_integer_value(slow_mig) > 60000)) {
        bh_plugin_error(ctx, "config.slow_migration_ms must be an integer 0-60000");
        return -1;
    }
    if ((fail && !json_is_boolean(fail)) || (bad && !json_is_boolean(bad))) {
        bh_plugin_error(ctx,
                        "config.fail_subscriber and bad_statement_subscriber must be booleans");
        return -1;
    }
    if (kill_on && !json_is_string(kill_on)) {
        bh_plugin_error(ctx, "config.kill_on_subject must be a string");
        return -1;
    }
    if (comment && !json_is_string(comment)) {
        bh_plugin_error(ctx, "config.migration_comment must be a string");
        return -1;
    }
    db->slow_ms = slow ? (long)json_integer_value(slow) : 0;
    db->fail_subscriber = json_is_true(fail);
    db->bad_statement = json_is_true(bad);
    db->slow_migration_ms = slow_mig ? (long)json_integer_value(slow_mig) : 0;
    if (kill_on && !(db->kill_subject = strdup(json_string_value(kill_on)))) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    if (slow_mig) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT pg_sleep(%ld.%03ld);", db->slow_migration_ms / 1000,
                 db->slow_migration_ms % 1000);
        if (!(db->slow_sql_pg = strdup(sql))) {
            bh_plugin_error(ctx, "out of memory");
            return -1;
        }
    }
    static const char counters[] =
        "CREATE TABLE testkit_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);";
    const char *extra = comment ? json_string_value(comment) : NULL;
    size_t len = sizeof counters + (extra ? strlen(extra) + 4 : 0);
    if (!(db->counters_sql = malloc(len))) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    snprintf(db->counters_sql, len, "%s%s%s", counters, extra ? "\n-- " : "", extra ? extra : "");
    return 0;
}

static int add_routes(bh_plugin_ctx *ctx, struct tk_db *db)
{
    const bh_migration migrations[] = {
        {1, "create_counters", db->counters_sql, NULL},
        {2, "create_effects",
         "CREATE TABLE testkit_effects (event_id TEXT PRIMARY KEY, name TEXT NOT NULL,"
         " seen BIGINT NOT NULL);",
         NULL},
        {3, "create_names", "CREATE TABLE testkit_names (name TEXT NOT NULL UNIQUE);", NULL},
        {4, "effects_trace", "ALTER TABLE testkit_effects ADD COLUMN trace TEXT;", NULL},
        {5, "slow", "SELECT 1;", db->slow_sql_pg}, /* only with slow_migration_ms */
    };
    const bh_route routes[] = {
        {.method = "POST",
         .path = "/test/db/counters",
         .handler = count_handler,
         .flags = BH_ROUTE_JSON_BODY | BH_ROUTE_IDEMPOTENT},
        {.method = "GET", .path = "/test/db/counters/{name}", .handler = counter_handler},
        {.method = "GET", .path = "/test/db/effects", .handler = effects_handler},
        {.method = "POST",
         .path = "/test/db/unique",
         .handler = unique_handler,
         .flags = BH_ROUTE_JSON_BODY},
    };
    size_t nmigrations = sizeof migrations / sizeof migrations[0] - (db->slow_sql_pg ? 0 : 1);
    if (bh_db_migrations(ctx, migrations, nmigrations) != 0)
        return -1;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (bh_route_add(ctx, &routes[i]) != 0)
            return -1;
    return bh_event_subscribe(ctx, "test.counted", "effects", on_counted, db);
}

int tk_db_register(bh_plugin_ctx *ctx, const json_t *config, struct tk_db **out)
{
    *out = NULL;
    if (!bh_db_driver_name())
        return 0; /* no storage: the database routes do not exist */
    struct tk_db *db = calloc(1, sizeof *db);
    if (!db) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    if (read_config(ctx, config, db) != 0 || add_routes(ctx, db) != 0) {
        tk_db_free(db);
        return -1;
    }
    *out = db;
    return 0;
}

void tk_db_free(struct tk_db *db)
{
    if (!db)
        return;
    free(db->counters_sql);
    free(db->slow_sql_pg);
    free(db->kill_subject);
    free(db);
}
