/* input.h - the shape checks the pipeline applies to what a client sends.
 *
 * Pure functions of their arguments, kept apart from the request plumbing
 * (pipeline.c, request.c) so that unit tests and the fuzz targets in
 * tests/fuzz/ can call them on arbitrary bytes.  Any thread.
 */
#ifndef BH_INPUT_H
#define BH_INPUT_H

#include <jansson.h>

/* Nonzero when `j` nests containers deeper than `max_depth`.  Depth counts
 * containers: [] is 1, [[1]] is 2; scalars add nothing. */
int bh_json_depth_exceeds(const json_t *j, int max_depth);

/* Nonzero for application/json or application/<anything>+json, parameters
 * (";charset=utf-8") ignored; 0 for NULL. */
int bh_is_json_type(const char *content_type);

/* A client-supplied X-Request-Id is echoed and logged, so it must be short
 * and harmless: 1..128 of [A-Za-z0-9._:-].  0 for NULL. */
int bh_request_id_ok(const char *s);

/* An Idempotency-Key: 1..255 printable ASCII characters (0x21..0x7e), as
 * the storage layer stores and replays it.  0 for NULL. */
int bh_idempotency_key_ok(const char *k);

#endif
