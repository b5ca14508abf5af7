/* bilhetagem/util.h - what every domain plugin needs and should not write
 * again: unguessable random bytes and ids, wall-clock time in RFC 3339, and
 * domain counters that show up in /metrics.
 *
 * Any thread may call every function here unless its comment says otherwise.
 */
#ifndef BILHETAGEM_UTIL_H
#define BILHETAGEM_UTIL_H

#include <bilhetagem/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bh_unit bh_unit; /* see bilhetagem/events.h */

/* ---- randomness and ids ----------------------------------------------------
 * Both come from the kernel's CSPRNG (getrandom), so they are fit for
 * secrets such as ticket codes. */

/* Fill buf with len random bytes.  Returns 0, or -1 when the kernel refuses
 * (never in practice). */
int bh_random_bytes(void *buf, size_t len);

/* A random (version 4) UUID in lowercase text form, NUL-terminated:
 * "3f0c9a4e-8d1b-4c55-9a0e-2b7f5d61c3aa" (122 random bits). */
void bh_uuid(char out[37]);

/* 2*len lowercase hex digits of random bytes, NUL-terminated into `out`
 * (which holds 2*len+1 bytes).  len <= 64.  Returns 0 or -1. */
int bh_random_hex(char *out, size_t len);

/* ---- time -------------------------------------------------------------------
 * Times in the API are RFC 3339 in UTC with milliseconds
 * ("2026-11-29T12:00:00.000Z"); in the database they are BIGINT milliseconds
 * since the Unix epoch, which sort and compare the same on both drivers. */

/* Wall-clock milliseconds since the epoch. */
int64_t bh_time_ms(void);

/* Format epoch milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" (NUL-terminated;
 * 25 bytes are used). */
void bh_time_format(int64_t epoch_ms, char out[32]);

/* Parse an RFC 3339 date-time ("2026-12-31T21:00:00Z", fractional seconds
 * and a "+hh:mm" / "-hh:mm" offset allowed) into epoch milliseconds.
 * Returns 0, or -1 on anything else (a date alone, an invalid day, trailing
 * text). */
int bh_time_parse(const char *s, int64_t *epoch_ms);

/* ---- domain counters ---------------------------------------------------------
 * A plugin declares the business counters it keeps (orders created, payments
 * captured...) in init; /metrics shows each as
 *   bilhetagem_<name>_total  (counter)
 * and a metrics plugin can read them through bh_counter_each().  Names are
 * [a-z][a-z0-9_]{0,62}, unique in the process. */
typedef struct bh_counter bh_counter;

/* Declare a counter (init only).  `help` is one line for /metrics.  Returns
 * the counter (valid for the process life), or NULL after bh_plugin_error()
 * on a bad or duplicate name. */
bh_counter *bh_counter_declare(bh_plugin_ctx *ctx, const char *name, const char *help);

/* Add n (>= 0) now.  Lock-free. */
void bh_counter_add(bh_counter *c, int64_t n);

/* Add n when `unit` commits, and never if it rolls back or is run again
 * (BH_DB_RETRY): count business facts with this so a counter never counts
 * an order that did not happen.  Call on the unit's thread. */
void bh_unit_count(bh_unit *unit, bh_counter *c, int64_t n);

/* Visit every declared counter: name, help, current value.  Any thread
 * after startup. */
typedef void (*bh_counter_visit_fn)(const char *name, const char *help, int64_t value, void *arg);
void bh_counter_each(bh_counter_visit_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
