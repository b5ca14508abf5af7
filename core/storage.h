/* storage.h - the configured database: driver, migrations, readiness.
 *
 * Built on the main thread when the config has a "storage" section.  Plugins
 * register migrations during init; bh_storage_start() applies them (the
 * core's own tables first) under the driver's migration lock, or, when the
 * database cannot be reached yet, keeps retrying in a background thread
 * while /readyz answers 503 and database work answers 503.
 */
#ifndef BH_STORAGE_H
#define BH_STORAGE_H

#include <pthread.h>
#include <stdatomic.h>

#include "core.h"
#include "db.h"

typedef struct bh_storage_migration {
    char *plugin;
    int version;
    char *name;
    char *sql;         /* the text for this driver */
    char checksum[65]; /* SHA-256 hex of sql */
    int applied;       /* applied by this process (bilhetagemctl reports it) */
} bh_storage_migration;

typedef struct bh_storage {
    const bh_storage_conf *cfg;
    const bh_db_driver *drv;
    bh_vec migrations; /* bh_storage_migration, apply order */
    bh_db_observer_fn observer;
    void *observer_arg;
    atomic_int ready; /* schema is current */
    atomic_int stopping;
    pthread_t retry_thread;
    int retry_running;
    pthread_mutex_t lock; /* guards last_error */
    char last_error[BH_DB_ERR_MAX];
} bh_storage;

/* NULL with err when the driver is unknown or not built in. */
bh_storage *bh_storage_new(const bh_storage_conf *cfg, char *err, size_t errlen);
void bh_storage_free(bh_storage *st);

/* Apply pending migrations once, on a connection of its own.  Returns
 * BH_DB_OK; BH_DB_UNAVAILABLE when the database cannot be reached (retry
 * later); anything else (a changed checksum, bad SQL) with err set. */
bh_db_status bh_storage_migrate(bh_storage *st, char *err, size_t errlen);

/* Migrate now, or start retrying in the background when unreachable.
 * -1 (err set) only for errors a retry cannot fix. */
int bh_storage_start(bh_storage *st, char *err, size_t errlen);
void bh_storage_stop(bh_storage *st);

int bh_storage_ready(const bh_storage *st);
/* Why it is not ready (copied into buf). */
void bh_storage_status(bh_storage *st, char *buf, size_t len);

/* Open *slot if it is not open (or reconnect a dead one).  BH_DB_OK or
 * BH_DB_UNAVAILABLE with err. */
bh_db_status bh_storage_connect(bh_storage *st, bh_dbconn **slot, char *err, size_t errlen);
void bh_storage_disconnect(bh_dbconn **slot);

/* Milliseconds since the epoch (timestamps stored in core tables). */
int64_t bh_epoch_ms(void);

#endif
