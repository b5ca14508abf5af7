/* bilhetagem/tasks.h - work that no request starts: periodic background
 * tasks (hold expiry, reconciliation) and operator commands run by
 * bilhetagemctl (seeding a demo catalog).
 *
 * Both run inside a unit of work of their own, exactly like a subscriber:
 * statements go to that unit's transaction, events published in it go to the
 * outbox with it, and the core commits when the callback returns 0 and rolls
 * back otherwise.  BH_DB_RETRY from a statement makes the core roll back and
 * call the callback again (bounded, with backoff).  Both need storage.
 */
#ifndef BILHETAGEM_TASKS_H
#define BILHETAGEM_TASKS_H

#include <stdio.h>

#include <bilhetagem/events.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- periodic tasks -----------------------------------------------------------
 * The core runs every task on one background thread of its own (never a
 * worker), from after the last plugin's start until before the first
 * plugin's stop, every `interval_ms` (100 .. 86 400 000) measured from the
 * end of the previous run; the first run comes one interval after start.
 * A run that fails is logged and tried again at the next interval.
 *
 * Several nodes run the same tasks at the same time against one database:
 * write them as conditional updates checked through the affected-row count
 * (UPDATE ... WHERE status = 'pending' AND expires_at_ms <= $1), so that two
 * runs racing over the same row cannot both act on it.  Keep a run short
 * (a bounded batch, LIMIT n): it holds a transaction. */
typedef int (*bh_task_fn)(bh_unit *unit, void *arg);

/* Register a task (init only).  `name` ([a-z0-9_.-], unique in the plugin)
 * appears in logs.  Returns 0, or -1 after bh_plugin_error() (no storage,
 * bad interval or name). */
int bh_task_every(bh_plugin_ctx *ctx, const char *name, int64_t interval_ms, bh_task_fn fn,
                  void *arg);

/* ---- operator commands ----------------------------------------------------------
 * `bilhetagemctl NAME -c FILE` loads the config's plugins and runs every
 * command registered under NAME, in plugin dependency order, each in its own
 * unit of work, after applying pending migrations.  The command writes its
 * human-readable report to `out` (stdout) and returns 0 (commit, exit 0) or
 * non-zero (rollback; bilhetagemctl exits 2) after writing why.  bilhetagemctl's built-in
 * commands (migrate, outbox, token, help) cannot be replaced. */
typedef int (*bh_command_fn)(bh_unit *unit, FILE *out, void *arg);

/* Register a command (init only).  `name` is [a-z][a-z0-9-]{0,31};
 * `summary` is one line for `bilhetagemctl --help`.  Returns 0, or -1 after
 * bh_plugin_error(). */
int bh_command_add(bh_plugin_ctx *ctx, const char *name, const char *summary, bh_command_fn fn,
                   void *arg);

#ifdef __cplusplus
}
#endif
#endif
