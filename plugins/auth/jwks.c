/* jwks.c - getting the user pool's signing keys, and keeping them fresh.
 *
 * Startup never waits on the network: start() spawns a loader thread that
 * fetches <issuer>/.well-known/jwks.json with libcurl until it gets a usable
 * document, backing off from 250 ms to 30 s between attempts; until then
 * the plugin reports not ready (/readyz 503).
 *
 * Key rotation: a token whose kid is unknown makes the worker that saw it
 * refetch once, synchronously and bounded by the fetch timeout, but at most
 * once per refetch_min_s across all workers (a compare-and-swap on the time
 * of the last refetch decides who goes), so a stream of forged kids cannot
 * make the server hammer the JWKS URL.  A fetch that fails, or returns a
 * document without a usable RSA key, changes nothing: the old keys stay.
 *
 * Readers take a reference on the current key set under a mutex held for
 * two pointer operations; the writer swaps the pointer under the same mutex
 * and drops its reference, so the old set is freed by whichever thread
 * finishes with it last.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "auth.h"

#define BODY_MAX (256 * 1024)
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 30000
#define NEVER INT64_MIN

struct auth_jwks {
    char *url;
    int allow_http;
    long timeout_ms;
    long refetch_min_s;
    auth_log_fn log;
    void *log_arg;

    pthread_mutex_t lock; /* guards current, stopping, the condition */
    pthread_cond_t wake;  /* the loader's backoff sleep; signalled by stop */
    auth_keyset *current;
    int stopping;
    atomic_int cancel; /* aborts a fetch in progress at stop */
    atomic_int ready;
    _Atomic int64_t last_refetch; /* monotonic seconds, or NEVER */
    pthread_t thread;
    int started;
};

BH_PRINTF(3, 4)
static void say(const auth_jwks *j, bh_log_level level, const char *fmt, ...)
{
    if (!j->log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j->log(j->log_arg, level, msg);
}

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* ---- one HTTP GET ---------------------------------------------------------- */

typedef struct body_buf {
    char *data;
    size_t len;
    int too_big;
} body_buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    body_buf *b = arg;
    size_t n = size * nmemb;
    if (n > BODY_MAX - b->len) {
        b->too_big = 1;
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    }
    char *grown = realloc(b->data, b->len + n + 1);
    if (!grown)
        return 0;
    b->data = grown;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const atomic_int *cancel = arg;
    return cancel && atomic_load(cancel) ? 1 : 0; /* non-zero aborts the transfer */
}

/* Every option of one GET; the first failure's code. */
static CURLcode set_options(CURL *c, const char *url, int allow_http, long timeout_ms,
                            atomic_int *cancel, body_buf *b, char *curl_err,
                            struct curl_slist *headers)
{
    /* curl reads no CA bundle variable itself; honour the usual two */
    const char *ca = getenv("CURL_CA_BUNDLE");
    if (!ca || !*ca)
        ca = getenv("SSL_CERT_FILE");
    CURLcode rc;
    if ((rc = curl_easy_setopt(c, CURLOPT_URL, url)) ||
        (rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, allow_http ? "http,https" : "https")) ||
        (rc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L)) ||
        (rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) || /* worker and loader threads */
        (rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms)) ||
        (rc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms)) ||
        (rc = curl_easy_setopt(c, CURLOPT_USERAGENT, "bilhetagem-auth")) ||
        (rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err)) ||
        (rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body)) ||
        (rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, b)) ||
        (rc = curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L)) ||
        (rc = curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress)) ||
        (rc = curl_easy_setopt(c, CURLOPT_XFERINFODATA, cancel)) ||
        (headers && (rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers))))
        return rc;
    if (ca && *ca)
        rc = curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    return rc;
}

/* `trace_header`, when not NULL, goes out as X-Amzn-Trace-Id (the callee
 * joins the request's X-Ray trace); *status_out gets the HTTP status. */
static int http_get(const char *url, int allow_http, long timeout_ms, atomic_int *cancel,
                    const char *trace_header, long *status_out, char **body, size_t *len, char *err,
                    size_t errlen)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    struct curl_slist *headers = NULL;
    if (trace_header) {
        char h[300];
        snprintf(h, sizeof h, "X-Amzn-Trace-Id: %s", trace_header);
        headers = curl_slist_append(NULL, h); /* NULL: send without, untraced */
    }
    body_buf b = {0};
    char curl_err[CURL_ERROR_SIZE] = "";
    CURLcode rc = set_options(c, url, allow_http, timeout_ms, cancel, &b, curl_err, headers);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    if (status_out)
        *status_out = status;
    if (rc != CURLE_OK || status != 200) {
        if (b.too_big)
            snprintf(err, errlen, "GET %.300s: body over %d bytes", url, BODY_MAX);
        else if (rc != CURLE_OK)
            snprintf(err, errlen, "GET %.300s: %s", url,
                     curl_err[0] ? curl_err : curl_easy_strerror(rc));
        else
            snprintf(err, errlen, "GET %.300s: HTTP status %ld", url, status);
        free(b.data);
        return -1;
    }
    if (!b.data && !(b.data = calloc(1, 1))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *body = b.data;
    *len = b.len;
    return 0;
}

int auth_http_get(const char *url, int allow_http, long timeout_ms, char **body, size_t *len,
                  char *err, size_t errlen)
{
    return http_get(url, allow_http, timeout_ms, NULL, NULL, NULL, body, len, err, errlen);
}

/* ---- the key set holder ------------------------------------------------------ */

static void install(auth_jwks *j, auth_keyset *ks)
{
    pthread_mutex_lock(&j->lock);
    auth_keyset *old = j->current;
    j->current = ks;
    pthread_mutex_unlock(&j->lock);
    atomic_store(&j->ready, 1);
    auth_keyset_unref(old);
}

/* Fetch, parse, install.  0 when a new set is in use. */
static int load_once(auth_jwks *j, const char *why, const char *trace_header, long *status)
{
    char err[512] = "";
    char *doc = NULL;
    size_t len = 0;
    auth_keyset *ks = NULL;
    int fetched = http_get(j->url, j->allow_http, j->timeout_ms, &j->cancel, trace_header, status,
                           &doc, &len, err, sizeof err) == 0;
    if (fetched && !(ks = auth_keyset_parse(doc, len, err, sizeof err))) {
        /* err says why; prefix it so the log line reads */
        char parse_err[512];
        snprintf(parse_err, sizeof parse_err, "JWKS from %.300s is unusable: %.150s", j->url, err);
        snprintf(err, sizeof err, "%s", parse_err);
    }
    free(doc);
    if (!ks) {
        say(j, BH_LOG_WARN, "%s failed%s: %s", why,
            atomic_load(&j->ready) ? " (the previous keys stay in use)" : "", err);
        return -1;
    }
    say(j, BH_LOG_INFO, "%s: %zu signing key%s loaded from %s", why, auth_keyset_count(ks),
        auth_keyset_count(ks) == 1 ? "" : "s", j->url);
    install(j, ks);
    return 0;
}

static void *loader(void *arg)
{
    auth_jwks *j = arg;
    long delay_ms = BACKOFF_FIRST_MS;
    for (;;) {
        if (load_once(j, "JWKS fetch", NULL, NULL) == 0) /* no request: untraced */
            break;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += delay_ms / 1000;
        until.tv_nsec += (delay_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&j->lock);
        /* bounded: each wait ends at `until` or at stop */
        while (!j->stopping && pthread_cond_timedwait(&j->wake, &j->lock, &until) != ETIMEDOUT)
            ;
        int stop = j->stopping;
        pthread_mutex_unlock(&j->lock);
        if (stop)
            break;
        delay_ms = delay_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay_ms * 2;
    }
    return NULL;
}

auth_jwks *auth_jwks_new(const auth_jwks_opts *o)
{
    auth_jwks *j = calloc(1, sizeof *j);
    if (!j || !(j->url = strdup(o->url))) {
        free(j);
        return NULL;
    }
    j->allow_http = o->allow_http;
    j->timeout_ms = o->timeout_ms;
    j->refetch_min_s = o->refetch_min_s;
    j->log = o->log;
    j->log_arg = o->log_arg;
    atomic_init(&j->last_refetch, NEVER);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->lock, NULL);
    return j;
}

int auth_jwks_start(auth_jwks *j, char *err, size_t errlen)
{
    int rc = pthread_create(&j->thread, NULL, loader, j);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the JWKS loader thread: %s", strerror(rc));
        return -1;
    }
    j->started = 1;
    return 0;
}

void auth_jwks_free(auth_jwks *j)
{
    if (!j)
        return;
    if (j->started) {
        pthread_mutex_lock(&j->lock);
        j->stopping = 1;
        atomic_store(&j->cancel, 1);
        pthread_cond_signal(&j->wake);
        pthread_mutex_unlock(&j->lock);
        pthread_join(j->thread, NULL);
    }
    auth_keyset_unref(j->current);
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->lock);
    free(j->url);
    free(j);
}

int auth_jwks_ready(auth_jwks *j)
{
    return atomic_load(&j->ready);
}

auth_keyset *auth_jwks_acquire(auth_jwks *j)
{
    pthread_mutex_lock(&j->lock);
    auth_keyset *ks = auth_keyset_ref(j->current);
    pthread_mutex_unlock(&j->lock);
    return ks;
}

int auth_jwks_refetch_claim(auth_jwks *j)
{
    int64_t now = mono_s();
    int64_t last = atomic_load(&j->last_refetch);
    if (last != NEVER && now - last < j->refetch_min_s)
        return 0;
    /* only the thread that moves the clock does the fetch */
    return atomic_compare_exchange_strong(&j->last_refetch, &last, now);
}

int auth_jwks_fetch(auth_jwks *j, const char *trace_header, long *http_status)
{
    return load_once(j, "JWKS refetch (unknown kid)", trace_header, http_status) == 0;
}

int auth_jwks_refetch(auth_jwks *j)
{
    return auth_jwks_refetch_claim(j) && auth_jwks_fetch(j, NULL, NULL);
}

const char *auth_jwks_url(const auth_jwks *j)
{
    return j->url;
}
