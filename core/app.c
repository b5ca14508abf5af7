/* app.c - building and freeing the process's bh_app (see app.h).
 *
 * The order matters and is the same in both programs: the config first (it
 * names everything else), then the log (so later failures are logged the
 * configured way), then the storage object (plugins declare migrations
 * into it during init), then the plugins.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app.h"
#include "counters.h"
#include "storage.h"
#include "tasks.h"

void bh_app_init(bh_app *app)
{
    bh_vec_init(&app->routes, sizeof(bh_route_entry *));
    for (int p = 0; p < 3; p++)
        bh_vec_init(&app->hooks[p], sizeof(bh_hook));
    bh_vec_init(&app->subscriptions, sizeof(bh_subscription));
    bh_vec_init(&app->services, sizeof(bh_service));
    bh_vec_init(&app->counters, sizeof(bh_counter *));
    bh_vec_init(&app->tasks, sizeof(bh_task));
    bh_vec_init(&app->commands, sizeof(bh_command));
    bh_the_app = app;
}

const char *bh_app_setting(const char *flag, const char *env_name, const char *file,
                           const char *def)
{
    const char *env = getenv(env_name);
    if (flag && *flag)
        return flag;
    if (env && *env)
        return env;
    if (file && *file)
        return file;
    return def;
}

int bh_app_configure(bh_app *app, const char *path, char *err, size_t errlen)
{
    if (!(app->cfg = bh_config_load(path, err, errlen)))
        return -1;
    if (bh_log_open(app->cfg, err, errlen) != 0)
        return -1;
    if (app->cfg->storage_enabled &&
        !(app->storage = bh_storage_new(&app->cfg->storage, err, errlen)))
        return -1;
    app->router = bh_router_new();
    return 0;
}

int bh_app_load_plugins(bh_app *app, const char *plugin_dir_flag, char *err, size_t errlen)
{
    const char *dir = bh_app_setting(plugin_dir_flag, "BILHETAGEM_PLUGIN_DIR", app->cfg->plugin_dir,
                                     BH_PLUGIN_DIR);
    if (bh_plugins_load(app, dir, err, errlen) != 0 || bh_plugins_init(app, err, errlen) != 0)
        return -1;
    return 0;
}

int bh_app_make_data_dir(const bh_app *app, char *err, size_t errlen)
{
    const char *path = app->cfg->data_dir;
    char buf[4096];
    if (strlen(path) >= sizeof buf) {
        snprintf(err, errlen, "data_dir: path longer than %zu bytes", sizeof buf - 1);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", path);
    /* mkdir -p: each prefix ending at a '/', then the whole path */
    for (char *p = buf + 1;; p++) {
        char saved = *p;
        if (saved == '/' || saved == '\0') {
            *p = '\0';
            if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "data_dir: cannot create %.400s: %s", buf, strerror(errno));
                return -1;
            }
            *p = saved;
        }
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "data_dir: %.400s is not a directory", path);
        return -1;
    }
    return 0;
}

void bh_app_free(bh_app *app)
{
    bh_tasks_stop(app->tasks_runner); /* a failed startup may leave it running */
    app->tasks_runner = NULL;
    if (app->storage)
        bh_storage_stop(app->storage);
    bh_plugins_stop(app);
    bh_registry_free(app);
    bh_tasks_free(app);
    bh_counters_free(app);
    bh_plugins_unload(app);
    bh_storage_free(app->storage);
    app->storage = NULL;
    bh_config_free(app->cfg);
    app->cfg = NULL;
}
