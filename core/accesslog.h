/* accesslog.h - access-log records from the workers, JSON lines from one thread.
 *
 * A worker does not encode its access lines when it can avoid it: it copies
 * the few fields of a line into a fixed-size record in its own ring (one
 * producer, one consumer, no lock), and the access-log thread, which runs
 * on idle CPU only, encodes the records with jansson and writes them in
 * batches.  When a ring is full the worker encodes that line itself.  See
 * accesslog.c.
 */
#ifndef BH_ACCESSLOG_H
#define BH_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core.h"

/* One access line before encoding.  Every string is copied into the record
 * except `method` and `route`, which point at strings that outlive the
 * access-log thread (static names and the app's route templates). */
typedef struct bh_access_rec {
    struct timespec time; /* CLOCK_REALTIME when the response was ready */
    int64_t duration_us;
    uint64_t bytes_in, bytes_out;
    const char *method;
    const char *route; /* the matched template, or NULL */
    int status;
    char request_id[129];
    char client[64];
    char trace_id[36]; /* "" when the request has no trace */
} bh_access_rec;

/* Records a ring holds: about 45 ms of lines for a worker answering 90 000
 * requests a second (a ring is about 1.2 MB). */
#define BH_ACCESS_RING_SLOTS 4096

/* Encodes records into a batch of lines with one reused jansson object.
 * Zero-initialised; one thread at a time. */
typedef struct bh_access_encoder {
    json_t *line;
    bh_log_buffer batch; /* written when full and by bh_access_encoder_flush */
    time_t clock_sec;    /* the second clock_text was made for */
    char clock_text[24]; /* "2026-11-29T10:00:00" */
} bh_access_encoder;

/* Append the line of `r` to e's batch. */
void bh_access_encode(bh_access_encoder *e, const bh_access_rec *r);
/* Write the batch to the log stream. */
void bh_access_encoder_flush(bh_access_encoder *e);
/* Write the batch and release the object. */
void bh_access_encoder_free(bh_access_encoder *e);

typedef struct bh_access_ring bh_access_ring;
typedef struct bh_accesslog bh_accesslog;

/* Start the access-log thread with `n_rings` rings, one per worker.
 * NULL with a message in err on failure.  Main thread. */
bh_accesslog *bh_accesslog_start(int n_rings, char *err, size_t errlen);

/* Ring `i`: its worker is the only thread that may reserve in it. */
bh_access_ring *bh_accesslog_ring(bh_accesslog *lg, int i);

/* The next free record of `r`, to fill and then publish with
 * bh_access_commit(); NULL when the ring is full (counted: the worker then
 * encodes that line itself).  The ring's worker only. */
bh_access_rec *bh_access_reserve(bh_access_ring *r);
void bh_access_commit(bh_access_ring *r);

/* Lines the workers encoded themselves because their ring was full, since
 * start (0 for NULL).  Any thread. */
unsigned long bh_accesslog_overflows(const bh_accesslog *lg);

/* Encode and write every queued record, stop the thread and free it all.
 * Call once the workers have stopped (no producer left).  NULL is a no-op. */
void bh_accesslog_stop(bh_accesslog *lg);

#endif
