/* testkit.h - between the testkit fixture plugin's two files. */
#ifndef TESTKIT_H
#define TESTKIT_H

#include <bilhetagem/bilhetagem.h>

struct tk_db;

/* Register the database-backed test routes, migrations and subscriber when
 * storage is configured (*out stays NULL when it is not).  0, or -1 after
 * bh_plugin_error(). */
int tk_db_register(bh_plugin_ctx *ctx, const json_t *config, struct tk_db **out);
void tk_db_free(struct tk_db *db);

struct tk_transport;

/* With config {"loopback_transport": true}: install the loopback event
 * transport and its consumer thread (testkit_transport.c). */
int tk_transport_register(bh_plugin_ctx *ctx, const json_t *config, struct tk_transport **out);
void tk_transport_free(struct tk_transport *t);

/* Periodic task, commands, a counter and a paginated route
 * (testkit_tasks.c), with storage. */
int tk_tasks_register(bh_plugin_ctx *ctx, const json_t *config);

#endif
