/* metrics.h - request metrics in the Prometheus text exposition format.
 *
 * Counters are plain atomics in fixed tables sized at startup (routes are
 * known once plugins are loaded), so recording a request on a worker costs a
 * few relaxed atomic adds and never takes a lock.  GET /metrics reads the
 * tables and renders text; a reader may see one request's counter before its
 * histogram bucket, which Prometheus tolerates.
 */
#ifndef BH_METRICS_H
#define BH_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bh_metrics bh_metrics;

/* `route_templates[0]` must be the label for unmatched requests ("unmatched");
 * templates 1..n_routes-1 are the registered routes (by bh_route_entry.index).
 * Strings are copied. */
bh_metrics *bh_metrics_new(const char *const *route_templates, size_t n_routes);
void bh_metrics_free(bh_metrics *m);

/* Record one finished request.  `method_bit` is a BH_M_* bit (router.h);
 * `status` any HTTP status; `duration_us` >= 0.  Any thread. */
void bh_metrics_observe(bh_metrics *m, size_t route_index, unsigned method_bit, int status,
                        int64_t duration_us);

/* In-flight gauge.  Any thread. */
void bh_metrics_inflight_add(bh_metrics *m, int delta);
long bh_metrics_inflight(const bh_metrics *m);

/* Render every metric as Prometheus text (version 0.0.4):
 *   bilhetagem_http_requests_total{route,method,status}       counter
 *   bilhetagem_http_request_duration_seconds{route,method}    histogram
 *   bilhetagem_http_requests_in_flight                        gauge
 * Returns a malloc'd NUL-terminated string (caller frees), *len set. */
char *bh_metrics_render(const bh_metrics *m, size_t *len);

#endif
