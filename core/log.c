/* log.c - JSON-lines logging for the core and the plugins.
 *
 * Every line is one JSON object built with jansson, written with a single
 * fputs under a mutex so lines from several workers never interleave.  The
 * stream is stdout unless log.file is set; SIGHUP reopens that file (for
 * logrotate).  Access-log lines, one per request, are encoded by the
 * access-log thread (accesslog.c) into a bh_log_buffer, written when full
 * and every BH_LOG_FLUSH_MS, so a busy server does one write per batch, not
 * per request.  Messages are formatted by the caller's printf format: the
 * SDK header tells plugin authors never to pass secrets.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core.h"
#include "request.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_out; /* NULL = stdout (stderr after bh_log_use_stderr) */
static int log_stderr;
static char *log_path;
static bh_log_level log_min = BH_LOG_INFO;

static const char *level_name(bh_log_level l)
{
    switch (l) {
    case BH_LOG_DEBUG: return "debug";
    case BH_LOG_INFO: return "info";
    case BH_LOG_WARN: return "warn";
    default: return "error";
    }
}

static bh_log_level parse_level(const char *s)
{
    if (!s || !strcmp(s, "info"))
        return BH_LOG_INFO;
    if (!strcmp(s, "debug"))
        return BH_LOG_DEBUG;
    if (!strcmp(s, "warn"))
        return BH_LOG_WARN;
    return BH_LOG_ERROR;
}

/* libevent's own warnings ("Error from accept() call") become JSON lines. */
static void libevent_log(int severity, const char *msg)
{
    bh_log_level l = severity >= EVENT_LOG_ERR    ? BH_LOG_ERROR
                     : severity == EVENT_LOG_WARN ? BH_LOG_WARN
                                                  : BH_LOG_DEBUG;
    bh_log_core(l, "libevent: %s", msg);
}

int bh_log_open(const bh_config *cfg, char *err, size_t errlen)
{
    log_min = parse_level(cfg->log_level);
    event_set_log_callback(libevent_log);
    if (!cfg->log_file)
        return 0;
    FILE *f = fopen(cfg->log_file, "a");
    if (!f) {
        snprintf(err, errlen, "%s: log.file: cannot open %s: %s", cfg->file, cfg->log_file,
                 strerror(errno));
        return -1;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    pthread_mutex_lock(&log_lock);
    log_out = f;
    free(log_path);
    log_path = bh_xstrdup(cfg->log_file);
    pthread_mutex_unlock(&log_lock);
    return 0;
}

int bh_log_reopen(void)
{
    int rc = 0;
    pthread_mutex_lock(&log_lock);
    if (log_out && log_path) {
        FILE *f = fopen(log_path, "a");
        if (f) {
            setvbuf(f, NULL, _IOLBF, 0);
            fclose(log_out);
            log_out = f;
        } else {
            rc = -1; /* keep writing to the old file rather than lose lines */
        }
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

void bh_log_set_level(bh_log_level level)
{
    log_min = level;
}

void bh_log_use_stderr(void)
{
    pthread_mutex_lock(&log_lock);
    log_stderr = 1;
    pthread_mutex_unlock(&log_lock);
}

/* Append `len` bytes under the lock, straight to the descriptor: a line
 * buffered stream would cut a 32 KiB batch into many writes. */
static void log_write(const char *data, size_t len)
{
    pthread_mutex_lock(&log_lock);
    FILE *out = log_out ? log_out : log_stderr ? stderr : stdout;
    fflush(out); /* nothing is left there; but never reorder if it were */
    int fd = fileno(out);
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full disk or a closed pipe: the lines are lost */
        data += n;
        len -= (size_t)n;
    }
    pthread_mutex_unlock(&log_lock);
}

void bh_log_buffer_flush(bh_log_buffer *b)
{
    if (b->len) {
        log_write(b->data, b->len);
        b->len = 0;
    }
}

void bh_log_buffered(bh_log_buffer *b, json_t *obj)
{
    size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(6);
    size_t room = sizeof b->data - b->len;
    size_t n = json_dumpb(obj, b->data + b->len, room > 1 ? room - 1 : 0, flags);
    if (n == 0 || n + 1 > room) { /* does not fit: flush, then try again */
        bh_log_buffer_flush(b);
        n = json_dumpb(obj, b->data, sizeof b->data - 1, flags);
        if (n == 0 || n + 1 > sizeof b->data) { /* a giant line goes alone */
            bh_log_json(json_incref(obj));
            return;
        }
    }
    b->len += n;
    b->data[b->len++] = '\n';
}

void bh_log_json(json_t *obj)
{
    char *line = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
    json_decref(obj);
    if (!line)
        return;
    size_t n = strlen(line);
    line[n] = '\n'; /* replaces the NUL: written by length */
    log_write(line, n + 1);
    free(line);
}

BH_PRINTF(5, 0) /* clang's -Wformat-nonliteral: fmt is checked at the callers */
static void log_va(const char *plugin, const char *request_id, const char *trace_id,
                   bh_log_level level, const char *fmt, va_list ap)
{
    if (level < log_min)
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    char now[32];
    bh_rfc3339_now(now);
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(now));
    json_object_set_new(o, "level", json_string(level_name(level)));
    json_object_set_new(o, "plugin", json_string(plugin ? plugin : "core"));
    if (request_id)
        json_object_set_new(o, "request_id", json_string(request_id));
    if (trace_id && *trace_id) /* xray: the request's trace, for log correlation */
        json_object_set_new(o, "trace_id", json_string(trace_id));
    /* json_string rejects invalid UTF-8; keep the line rather than lose it */
    json_t *m = json_string(msg);
    json_object_set_new(o, "msg", m ? m : json_string("(message not valid UTF-8)"));
    bh_log_json(o);
}

void bh_log_core(bh_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_va(NULL, NULL, NULL, level, fmt, ap);
    va_end(ap);
}

/* Per thread: set by the core around the code that runs in a unit. */
static _Thread_local const bh_unit *scope;

const bh_unit *bh_log_scope(const bh_unit *unit)
{
    const bh_unit *prev = scope;
    scope = unit;
    return prev;
}

void bh_log(const bh_plugin_ctx *ctx, bh_log_level level, const char *fmt, ...)
{
    char trace_id[36] = "";
    if (scope && bh_trace_id(scope, trace_id) != 0)
        trace_id[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    log_va(ctx ? ctx->name : NULL, scope ? scope->id : NULL, trace_id, level, fmt, ap);
    va_end(ap);
}

void bh_req_log(const bh_request *req, bh_log_level level, const char *fmt, ...)
{
    char trace_id[36];
    bh_trace_id(&req->unit, trace_id); /* xray: "" when the request has no trace */
    va_list ap;
    va_start(ap, fmt);
    log_va(bh_req_route_plugin(req), bh_req_id(req), trace_id, level, fmt, ap);
    va_end(ap);
}
