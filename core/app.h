/* app.h - building the process's bh_app, shared by bilhetagemd and the
 * admin CLI bilhetagemctl.
 *
 * Both programs read the same config, open the same storage and load the
 * same plugins the same way (so `bilhetagemctl migrate` sees exactly the
 * migrations the daemon would apply); only the daemon then binds a socket
 * and starts workers.  Everything here runs on the main thread.
 */
#ifndef BH_APP_H
#define BH_APP_H

#include "core.h"

/* Empty registries; makes `app` the process-wide bh_the_app. */
void bh_app_init(bh_app *app);

/* A setting's value: the command-line flag, else the environment variable,
 * else the config file's value, else the built-in default (empty strings
 * count as unset).  Borrowed from whichever was chosen. */
const char *bh_app_setting(const char *flag, const char *env_name, const char *file,
                           const char *def);

/* Load the config at `path`, open the log and create the storage (not
 * connected yet) and the router.  -1 with err on failure. */
int bh_app_configure(bh_app *app, const char *path, char *err, size_t errlen);

/* Load and init the configured plugins from `plugin_dir_flag` (NULL when not
 * given), else BILHETAGEM_PLUGIN_DIR, plugin_dir or the built-in directory.
 * -1 with err ("plugin NAME: ...") on failure. */
int bh_app_load_plugins(bh_app *app, const char *plugin_dir_flag, char *err, size_t errlen);

/* Create data_dir (and its parents) if missing.  -1 with err. */
int bh_app_make_data_dir(const bh_app *app, char *err, size_t errlen);

/* Stop the plugins and free everything bh_app_configure and
 * bh_app_load_plugins built.  Safe on a partly built app. */
void bh_app_free(bh_app *app);

#endif
