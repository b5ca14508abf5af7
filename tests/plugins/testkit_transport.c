/* testkit_transport.c - a loopback event transport for the tests.
 *
 * With {"loopback_transport": true} testkit installs an event transport
 * whose send() queues a copy of each envelope in memory and whose consumer
 * thread hands it back with bh_event_receive(), as a queue-based transport
 * (SQS) does across nodes.  It exercises the transport interface of the
 * SDK end to end; it is not durable and must never be deployed.
 * GET /test/transport answers {"sent", "received", "failed"}.
 *
 * "transport_send_ms": N makes send() take N ms, and "transport_fail": true
 * makes it refuse every event after that (a remote queue that is slow and
 * down): the lease tests run one such node beside a healthy one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "testkit.h"

typedef struct tk_msg {
    struct tk_msg *next;
    json_t *envelope;
} tk_msg;

struct tk_transport {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    tk_msg *head, **tail;
    int stopping, running;
    pthread_t thread;
    long send_ms;
    int fail;
    atomic_long sent, received, failed;
};

static void push(struct tk_transport *t, json_t *env)
{
    tk_msg *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(env);
        return;
    }
    m->envelope = env;
    pthread_mutex_lock(&t->lock);
    *t->tail = m;
    t->tail = &m->next;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

static int loopback_send(const json_t *envelope, void *arg)
{
    struct tk_transport *t = arg;
    if (t->send_ms > 0) {
        struct timespec ts = {t->send_ms / 1000, (t->send_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (t->fail) {
        atomic_fetch_add(&t->failed, 1);
        return -1;
    }
    json_t *copy = json_deep_copy(envelope);
    if (!copy)
        return -1;
    push(t, copy);
    atomic_fetch_add(&t->sent, 1);
    return 0;
}

static tk_msg *pop(struct tk_transport *t)
{
    pthread_mutex_lock(&t->lock);
    while (!t->head && !t->stopping)
        pthread_cond_wait(&t->cond, &t->lock);
    tk_msg *m = t->head;
    if (m && !(t->head = m->next))
        t->tail = &t->head;
    pthread_mutex_unlock(&t->lock);
    return m;
}

static void *consumer(void *arg)
{
    struct tk_transport *t = arg;
    tk_msg *m;
    while ((m = pop(t))) {
        if (bh_event_receive(m->envelope) == 0) {
            atomic_fetch_add(&t->received, 1);
            json_decref(m->envelope);
        } else { /* like a queue's visibility timeout: again, later */
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
            push(t, m->envelope);
        }
        free(m);
    }
    bh_event_thread_done();
    return NULL;
}

static int stats_handler(bh_request *req, void *arg)
{
    struct tk_transport *t = arg;
    bh_resp_json(req, 200,
                 json_pack("{s:I, s:I, s:I}", "sent", (json_int_t)atomic_load(&t->sent), "received",
                           (json_int_t)atomic_load(&t->received), "failed",
                           (json_int_t)atomic_load(&t->failed)));
    return 0;
}

int tk_transport_register(bh_plugin_ctx *ctx, const json_t *config, struct tk_transport **out)
{
    *out = NULL;
    const json_t *want = json_object_get(config, "loopback_transport");
    if (!json_is_true(want))
        return 0;
    const json_t *send_ms = json_object_get(config, "transport_send_ms");
    const json_t *fail = json_object_get(config, "transport_fail");
    if ((send_ms && (!json_is_integer(send_ms) || json_integer_value(send_ms) < 0 ||
                     json_integer_value(send_ms) > 60000)) ||
        (fail && !json_is_boolean(fail))) {
        bh_plugin_error(ctx, "config.transport_send_ms must be 0-60000, transport_fail a boolean");
        return -1;
    }
    struct tk_transport *t = calloc(1, sizeof *t);
    if (!t) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    t->send_ms = send_ms ? (long)json_integer_value(send_ms) : 0;
    t->fail = json_is_true(fail);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->tail = &t->head;
    *out = t;
    bh_event_transport tr = {.name = "testkit-loopback", .send = loopback_send, .arg = t};
    bh_route stats = {
        .method = "GET", .path = "/test/transport", .handler = stats_handler, .arg = t};
    if (bh_event_transport_set(ctx, &tr) != 0 || bh_route_add(ctx, &stats) != 0)
        return -1;
    if (pthread_create(&t->thread, NULL, consumer, t) != 0) {
        bh_plugin_error(ctx, "cannot start the loopback consumer");
        return -1;
    }
    t->running = 1;
    return 0;
}

void tk_transport_free(struct tk_transport *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    if (t->running)
        pthread_join(t->thread, NULL);
    for (tk_msg *m = t->head, *next; m; m = next) {
        next = m->next;
        json_decref(m->envelope);
        free(m);
    }
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
