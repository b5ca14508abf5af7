/* main.c - bilhetagemd: command line, startup order, signals, shutdown.
 *
 * Startup is all-or-nothing: config, plugins (load, order, init), routes,
 * the listening socket, plugin start, workers.  Any failure prints one line
 * on stderr and exits 2 after undoing what was done: never a half-started
 * server.  `-t` stops after the plugins' init and the route checks, like
 * `nginx -t`.
 *
 * Signals are handled on the main thread's own event loop: SIGTERM/SIGINT
 * drain and exit 0, SIGHUP reopens the log file.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/thread.h>

#include "app.h"
#include "outbox.h"
#include "server.h"
#include "tasks.h"
#include "storage.h"

#define EXIT_CONFIG 2

typedef struct options {
    const char *config;
    const char *listen;
    const char *plugin_dir;
    int test_only;
} options;

static void usage(FILE *out)
{
    fputs("usage: bilhetagemd -c FILE [options]\n"
          "  -c, --config FILE       configuration file (JSON)\n"
          "  -t, --test              check the configuration and its plugins, then exit\n"
          "  -l, --listen HOST:PORT  listen address (overrides BILHETAGEM_LISTEN and the file)\n"
          "  -p, --plugin-dir DIR    where relative plugin paths are found\n"
          "                          (overrides BILHETAGEM_PLUGIN_DIR and plugin_dir)\n"
          "  -v, --version           print the version and exit\n"
          "  -h, --help              print this help and exit\n",
          out);
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {{"config", required_argument, NULL, 'c'},
                                          {"test", no_argument, NULL, 't'},
                                          {"listen", required_argument, NULL, 'l'},
                                          {"plugin-dir", required_argument, NULL, 'p'},
                                          {"version", no_argument, NULL, 'v'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:tl:p:vh", longs, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 't': o->test_only = 1; break;
        case 'l': o->listen = optarg; break;
        case 'p': o->plugin_dir = optarg; break;
        case 'v': printf("bilhetagemd %s (SDK ABI %u)\n", PACKAGE_VERSION, BH_ABI_VERSION); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc || !o->config) {
        fprintf(stderr, "bilhetagemd: %s\n",
                o->config ? "unexpected argument" : "-c FILE is required");
        usage(stderr);
        return -1;
    }
    return 0;
}

typedef struct runtime {
    bh_app app;
    bh_server srv;
    struct event_base *base;
} runtime;

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    runtime *rt = arg;
    if (atomic_exchange(&rt->app.draining, 1))
        return;
    bh_log_core(BH_LOG_INFO, "signal %d: draining (at most %d ms), then stopping", (int)sig,
                rt->app.cfg->drain_timeout_ms);
    bh_server_drain(&rt->srv);
    event_base_loopexit(rt->base, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    runtime *rt = arg;
    if (!rt->app.cfg->log_file)
        bh_log_core(BH_LOG_INFO, "SIGHUP: logging to stdout, nothing to reopen");
    else if (bh_log_reopen() != 0)
        bh_log_core(BH_LOG_ERROR,
                    "SIGHUP: cannot reopen the log file; still writing to the old one");
    else
        bh_log_core(BH_LOG_INFO, "SIGHUP: log file reopened");
}

/* Metric labels by route index; index 0 counts unmatched requests. */
static const char **route_index_labels(const bh_app *app)
{
    const char **labels = bh_xcalloc(app->routes.len + 1, sizeof *labels);
    labels[0] = "unmatched";
    for (size_t i = 0; i < app->routes.len; i++) {
        const bh_route_entry *e = *(bh_route_entry **)bh_vec_at(&app->routes, i);
        labels[e->index] = e->tmpl;
    }
    return labels;
}

static int build_limits(runtime *rt, char *err, size_t errlen)
{
    bh_app *app = &rt->app;
    const char **labels = route_index_labels(app);
    rt->srv.metrics = bh_metrics_new(labels, app->routes.len + 1);
    free(labels);
    if (app->cfg->rate_limit_enabled) {
        size_t n = app->cfg->n_rate_classes;
        bh_rate_spec *specs = bh_xcalloc(n, sizeof *specs);
        for (size_t i = 0; i < n; i++) {
            specs[i].rate = app->cfg->rate_classes[i].rate;
            specs[i].burst = app->cfg->rate_classes[i].burst;
        }
        rt->srv.ratelimit = bh_ratelimit_new(specs, n, app->cfg->rate_limit_clients);
        free(specs);
    }
    if (!rt->srv.metrics || (app->cfg->rate_limit_enabled && !rt->srv.ratelimit)) {
        snprintf(err, errlen, "cannot allocate metrics or rate-limit tables");
        return -1;
    }
    return 0;
}

/* Everything up to a server ready to accept.  -1 with err on failure. */
static int start_up(runtime *rt, const options *o, char *err, size_t errlen)
{
    bh_app *app = &rt->app;
    if (bh_app_configure(app, o->config, err, errlen) != 0)
        return -1;
    rt->srv.app = app;
    rt->srv.fd = -1;
    if (bh_builtin_register(&rt->srv, err, errlen) != 0 ||
        bh_app_load_plugins(app, o->plugin_dir, err, errlen) != 0 ||
        bh_registry_finalize(app, err, errlen) != 0)
        return -1;
    if (o->test_only)
        return 0;
    const char *listen =
        bh_app_setting(o->listen, "BILHETAGEM_LISTEN", app->cfg->listen, "127.0.0.1:8080");
    if (bh_app_make_data_dir(app, err, errlen) != 0 ||
        bh_server_bind(&rt->srv, listen, err, errlen) != 0 || build_limits(rt, err, errlen) != 0)
        return -1;
    if (app->storage && (bh_storage_start(app->storage, err, errlen) != 0 ||
                         !(app->outbox = bh_outbox_start(app, err, errlen))))
        return -1;
    if (bh_plugins_start(app, err, errlen) != 0)
        return -1;
    if (app->storage && app->tasks.len && !(app->tasks_runner = bh_tasks_start(app, err, errlen)))
        return -1;
    app->serving = 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = app->cfg->workers > 0 ? app->cfg->workers : (cpus > 0 ? (int)cpus : 1);
    return bh_server_start(&rt->srv, workers, err, errlen);
}

static void shut_down(runtime *rt)
{
    bh_server_join(&rt->srv);
    bh_tasks_stop(rt->app.tasks_runner); /* before any plugin stops */
    rt->app.tasks_runner = NULL;
    bh_outbox_stop(rt->app.outbox); /* after the workers; before the transport's plugin */
    if (rt->app.storage)
        bh_storage_stop(rt->app.storage);
    bh_plugins_stop(&rt->app);
    /* Only now: a transport's consumer threads may wake the outbox (a
     * subscriber that publishes) until their plugin has stopped them. */
    bh_outbox_free(rt->app.outbox);
    rt->app.outbox = NULL;
    bh_server_free(&rt->srv);
    bh_app_free(&rt->app);
}

static int serve(runtime *rt)
{
    rt->base = event_base_new();
    struct event *sigs[3] = {
        evsignal_new(rt->base, SIGTERM, on_stop_signal, rt),
        evsignal_new(rt->base, SIGINT, on_stop_signal, rt),
        evsignal_new(rt->base, SIGHUP, on_hup, rt),
    };
    for (int i = 0; i < 3; i++)
        if (!sigs[i] || event_add(sigs[i], NULL) != 0)
            return -1;
    char now[32];
    bh_rfc3339_now(now);
    json_t *line =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "time", now, "level", "info",
                  "plugin", "core", "msg", "listening", "listen", rt->srv.listen_desc, "url", "",
                  "workers", rt->srv.n_workers, "version", PACKAGE_VERSION);
    char url[320];
    snprintf(url, sizeof url, "http://%s/", rt->srv.listen_desc);
    json_object_set_new(line, "url", json_string(url));
    bh_log_json(line);
    event_base_dispatch(rt->base);
    for (int i = 0; i < 3; i++)
        event_free(sigs[i]);
    event_base_free(rt->base);
    return 0;
}

int main(int argc, char **argv)
{
    options o = {0};
    if (parse_options(argc, argv, &o) != 0)
        return EXIT_CONFIG;
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "bilhetagemd: libevent has no pthread support\n");
        return EXIT_CONFIG;
    }
    static runtime rt;
    bh_app_init(&rt.app);

    char err[BH_ERR_MAX * 2] = "";
    int rc = start_up(&rt, &o, err, sizeof err);
    if (rc == 0 && o.test_only)
        fprintf(stderr,
                "bilhetagemd: the configuration file %s syntax is ok\n"
                "bilhetagemd: configuration file %s test is successful\n",
                o.config, o.config);
    else if (rc == 0)
        rc = serve(&rt);
    if (rc != 0) {
        fprintf(stderr, "bilhetagemd: %s\n", err[0] ? err : "startup failed");
        if (o.test_only)
            fprintf(stderr, "bilhetagemd: configuration file %s test failed\n", o.config);
        if (rt.srv.n_workers > 0) { /* workers started: stop them cleanly */
            bh_server_drain(&rt.srv);
        }
    }
    shut_down(&rt);
    if (rc == 0 && !o.test_only)
        bh_log_core(BH_LOG_INFO, "stopped");
    return rc == 0 ? 0 : EXIT_CONFIG;
}
