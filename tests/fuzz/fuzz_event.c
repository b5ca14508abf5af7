/* fuzz_event.c - CloudEvents envelopes arriving from outside: the outbox
 * dispatcher's parse (json_loads of the stored text) and a transport's
 * bh_event_receive(), which hand arbitrary JSON to bh_outbox_deliver(),
 * the inbox and the bh_event_* accessors a subscriber calls.
 *
 * Setup (once): SQLite storage in a temporary directory, migrated, and two
 * subscribers ("fuzz.a", "fuzz.b") that read every accessor and publish an
 * event of their own from what they read, so the outbox append path sees
 * the same arbitrary ids, subjects, data and trace headers.
 *
 * Input: text as stored in bh_outbox.envelope.
 */
#include <stdio.h>
#include <unistd.h>

#include "core.h"
#include "fuzz.h"
#include "storage.h"
#include "unit.h"

static bh_app app;
static bh_config *cfg;
static char dir[256];

static size_t touch(const char *s)
{
    return s ? strlen(s) : 0; /* ASan checks every byte up to the NUL */
}

static int subscriber(bh_unit *unit, const bh_event *ev, void *arg)
{
    (void)arg;
    size_t n = touch(bh_event_id(ev)) + touch(bh_event_type(ev)) + touch(bh_event_source(ev)) +
               touch(bh_event_subject(ev)) + touch(bh_event_time(ev)) +
               touch(bh_event_trace_header(ev)) + touch(bh_unit_id(unit)) +
               touch(bh_unit_trace_header(unit));
    const json_t *data = bh_event_data(ev);
    if (!bh_event_envelope(ev))
        abort();
    json_t *copy = json_is_object(data) ? json_deep_copy(data) : NULL;
    char type[64];
    snprintf(type, sizeof type, "fuzz.seen.%zu", n % 7);
    return bh_event_publish(unit, type, bh_event_subject(ev), copy) == 0 ? 0 : 1;
}

static void cleanup(void)
{
    static const char *const files[] = {"fuzz.db", "fuzz.db-wal", "fuzz.db-shm",
                                        "fuzz.db.migrate.lock"};
    char p[320];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/bh-fuzz-event-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    bh_log_set_level((bh_log_level)(BH_LOG_ERROR + 1)); /* quiet: failures are expected */

    char text[512], err[BH_CONFIG_ERR_MAX];
    snprintf(text, sizeof text,
             "{\"storage\": {\"driver\": \"sqlite\", \"path\": \"%s/fuzz.db\","
             " \"synchronous\": \"normal\", \"max_retries\": 0}}",
             dir);
    if (!(cfg = bh_config_parse(text, "fuzz-event", err, sizeof err))) {
        fprintf(stderr, "fuzz_event: %s\n", err);
        abort();
    }
    app.cfg = cfg;
    if (!(app.storage = bh_storage_new(&cfg->storage, err, sizeof err)) ||
        bh_storage_migrate(app.storage, err, sizeof err) != BH_DB_OK) {
        fprintf(stderr, "fuzz_event: storage: %s\n", err);
        abort();
    }
    bh_vec_init(&app.subscriptions, sizeof(bh_subscription));
    static const char *const types[] = {"fuzz.a", "fuzz.b"};
    for (size_t i = 0; i < 2; i++) {
        bh_subscription *s = bh_vec_push(&app.subscriptions);
        s->type = (char *)types[i];
        s->name = (char *)"fuzz";
        s->fn = subscriber;
    }
    bh_the_app = &app;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16 * 1024)
        return 0;
    char *text = fuzz_cstr(data, size);
    json_error_t je;
    json_t *env = json_loads(text, 0, &je); /* as dispatch_row() reads a stored row */
    if (env) {
        bh_event ev = {env};
        touch(bh_event_id(&ev));
        touch(bh_event_type(&ev));
        touch(bh_event_subject(&ev));
        touch(bh_event_trace_header(&ev));
        bh_unit u;
        bh_unit_init(&u, bh_event_id(&ev), NULL, NULL, NULL, 0);
        bh_unit_set_trace_header(&u, bh_event_trace_header(&ev));
        if (strlen(bh_unit_trace_header(&u) ? bh_unit_trace_header(&u) : "") > 255)
            abort(); /* the header is copied, truncated */
        bh_unit_reset(&u);
        bh_event_receive(env); /* a transport's consumer: any JSON off the wire */
        json_decref(env);
    }
    free(text);
    return 0;
}
