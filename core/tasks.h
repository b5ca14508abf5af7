/* tasks.h - the core side of bilhetagem/tasks.h: the periodic-tasks thread
 * and running operator commands for bilhetagemctl. */
#ifndef BH_TASKS_H
#define BH_TASKS_H

#include <stdio.h>

#include "core.h"

typedef struct bh_tasks bh_tasks;

/* Start the thread that runs app->tasks (call only with storage and at
 * least one task).  NULL with err on failure. */
bh_tasks *bh_tasks_start(bh_app *app, char *err, size_t errlen);

/* Wake the thread, wait for the run in progress to end, join.  NULL is a
 * no-op. */
void bh_tasks_stop(bh_tasks *r);

/* Run every command registered under `name`, in plugin order, each in its
 * own unit.  0 when all committed; -1 with err (also when no plugin
 * registers `name`). */
int bh_commands_run(bh_app *app, const char *name, FILE *out, char *err, size_t errlen);

/* Print the registered commands for usage; returns how many. */
int bh_commands_list(const bh_app *app, FILE *out);

/* Free the registrations. */
void bh_tasks_free(bh_app *app);

#endif
