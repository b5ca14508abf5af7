/* bilhetagem/log.h - structured logging.
 *
 * Every log line is one JSON object on the core's log stream (stdout by
 * default): {"time","level","plugin","msg", "request_id"?}.  Messages are
 * formatted with printf rules; never pass a token, secret, password or card
 * data: log lines are shipped off the machine.
 *
 * Any thread may call these functions.
 */
#ifndef BILHETAGEM_LOG_H
#define BILHETAGEM_LOG_H

#include <bilhetagem/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bh_log_level { BH_LOG_DEBUG = 0, BH_LOG_INFO, BH_LOG_WARN, BH_LOG_ERROR } bh_log_level;

struct bh_request;

/* Log on behalf of a plugin (ctx may be NULL for "core"). */
void bh_log(const bh_plugin_ctx *ctx, bh_log_level level, const char *fmt, ...) BH_PRINTF(3, 4);

/* Log within a request: the line carries its request id and the plugin that
 * owns the matched route. */
void bh_req_log(const struct bh_request *req, bh_log_level level, const char *fmt, ...)
    BH_PRINTF(3, 4);

#ifdef __cplusplus
}
#endif
#endif
