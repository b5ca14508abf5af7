/* testkit_tasks.c - the testkit's exercise of bilhetagem/tasks.h, the
 * domain counters and pagination (storage tests only).
 *
 *   task "tick"        with config {"task_interval_ms": N}: every N ms adds
 *                      one to testkit_counters["task-ticks"], publishes
 *                      test.counted and counts testkit_ticks (on commit);
 *                      with {"task_fail_every": K} every K-th run writes and
 *                      then fails, so the write and the count must vanish
 *   command "testkit-count"   adds one to testkit_counters["command"] and
 *                      prints the new value; "testkit-fail" writes, then
 *                      fails (the write must be rolled back)
 *   GET /test/page     the integers 1..n (?n=, default 45) a page at a time
 *                      through bh_req_page / bh_page_cursor (cursor key
 *                      "after:<last>")
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bilhetagem/bilhetagem.h>

#include "testkit.h"

static bh_counter *ticks_counter;
static atomic_long task_runs;
static long task_fail_every;

static bh_db_status bump(bh_unit *u, const char *name, int64_t *value)
{
    bh_db_value p[] = {BH_DB_S(name)};
    bh_rows *rows = NULL;
    bh_db_status s =
        bh_db_query(u,
                    "INSERT INTO testkit_counters (name, value) VALUES ($1, 1)"
                    " ON CONFLICT (name) DO UPDATE SET value = testkit_counters.value + 1"
                    " RETURNING value",
                    p, 1, &rows);
    if (s == BH_DB_OK)
        s = bh_rows_int(rows, 0, 0, value);
    return s;
}

static int tick(bh_unit *u, void *arg)
{
    (void)arg;
    long run = atomic_fetch_add(&task_runs, 1) + 1;
    int64_t value = 0;
    if (bump(u, "task-ticks", &value) != BH_DB_OK)
        return -1;
    bh_unit_count(u, ticks_counter, 1);
    if (task_fail_every > 0 && run % task_fail_every == 0)
        return -1; /* after the write: the core must roll it back */
    return bh_event_publish(u, "test.counted", "task-ticks",
                            json_pack("{s:s}", "name", "task-ticks"));
}

static int count_command(bh_unit *u, FILE *out, void *arg)
{
    (void)arg;
    int64_t value = 0;
    if (bump(u, "command", &value) != BH_DB_OK) {
        fprintf(out, "testkit-count: %s\n", bh_db_error(u));
        return -1;
    }
    fprintf(out, "command counter is now %lld\n", (long long)value);
    return 0;
}

static int fail_command(bh_unit *u, FILE *out, void *arg)
{
    (void)arg;
    int64_t value = 0;
    (void)bump(u, "command", &value);
    fprintf(out, "testkit-fail: refusing after the write\n");
    return 1;
}

static int page_handler(bh_request *req, void *arg)
{
    (void)arg;
    bh_page page;
    if (bh_req_page(req, &page) != 0)
        return 0;
    long n = 45, after = 0;
    const char *ns = bh_req_query(req, "n");
    if (ns)
        n = strtol(ns, NULL, 10);
    if (page.after && sscanf(page.after, "after:%ld", &after) != 1) {
        bh_resp_bad_cursor(req);
        return 0;
    }
    json_t *items = json_array();
    long last = after;
    for (long i = after + 1; i <= n && (long)json_array_size(items) < page.limit; i++) {
        json_array_append_new(items, json_integer(i));
        last = i;
    }
    char key[64];
    snprintf(key, sizeof key, "after:%ld", last);
    return bh_resp_page(req, items, last < n ? key : NULL);
}

int tk_tasks_register(bh_plugin_ctx *ctx, const json_t *config)
{
    if (!bh_db_driver_name())
        return 0;
    json_int_t interval = json_integer_value(json_object_get(config, "task_interval_ms"));
    task_fail_every = (long)json_integer_value(json_object_get(config, "task_fail_every"));
    if (!(ticks_counter = bh_counter_declare(ctx, "testkit_ticks", "Task runs that committed.")))
        return -1;
    if (interval > 0 && bh_task_every(ctx, "tick", interval, tick, NULL) != 0)
        return -1;
    const bh_route page = {.method = "GET", .path = "/test/page", .handler = page_handler};
    if (bh_command_add(ctx, "testkit-count", "add one to the command counter", count_command,
                       NULL) != 0 ||
        bh_command_add(ctx, "testkit-fail", "write, then fail", fail_command, NULL) != 0)
        return -1;
    return bh_route_add(ctx, &page);
}
