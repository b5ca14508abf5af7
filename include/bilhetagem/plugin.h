/* bilhetagem/plugin.h - the plugin contract.
 *
 * A plugin is a shared object that exports exactly one symbol, the descriptor
 * named by BH_PLUGIN_SYMBOL.  The core reads its ABI version first, orders all
 * configured plugins by their declared dependencies, then calls, on the main
 * thread and before any worker thread exists:
 *
 *     init(ctx, config, &state)   in dependency order: validate config,
 *                                 register routes, hooks, subscriptions,
 *                                 provide or look up services
 *     start(ctx, state)           in dependency order, once every init passed
 *     ...workers serve requests, calling handlers on their own threads...
 *     stop(ctx, state)            in reverse order, after workers drained
 *
 * Any init or start returning non-zero stops startup: every plugin whose init
 * succeeded is stopped in reverse order and the process exits with status 2 and the
 * message the plugin left with bh_plugin_error().  Never a half-started server.
 *
 * Thread rules: every function in this header may only be called from init,
 * start or stop (the main thread), unless its comment says otherwise.
 */
#ifndef BILHETAGEM_PLUGIN_H
#define BILHETAGEM_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct or function signature of the SDK changes
 * incompatibly.  The loader refuses a plugin built for another version. */
#define BH_ABI_VERSION 1u

/* The name of the one symbol every plugin exports. */
#define BH_PLUGIN_SYMBOL "bh_plugin"

#if defined(__GNUC__)
#define BH_EXPORT __attribute__((visibility("default")))
#define BH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define BH_EXPORT
#define BH_PRINTF(f, a)
#endif

/* Opaque handle the core passes to a plugin's lifecycle callbacks.  It names
 * the plugin in every registration (routes, hooks, subscriptions, services)
 * so errors and metrics can say which plugin did what.  Owned by the core,
 * valid for the life of the process. */
typedef struct bh_plugin_ctx bh_plugin_ctx;

typedef struct bh_plugin_descriptor {
    uint32_t abi_version;       /* always BH_ABI_VERSION */
    const char *name;           /* unique, [a-z0-9_-]{1,32}; matches config */
    const char *version;        /* the plugin's own version, free form */
    const char *const *depends; /* NULL-terminated plugin names, or NULL */

    /* Validate `config` (borrowed; the plugin's own "config" object, {} when
     * absent) and register everything.  Store private data in *state; the
     * core hands it back to start/stop/ready.  Return 0, or non-zero after
     * bh_plugin_error(). */
    int (*init)(bh_plugin_ctx *ctx, const json_t *config, void **state);
    /* Optional.  Start background resources.  Same return convention. */
    int (*start)(bh_plugin_ctx *ctx, void *state);
    /* Optional.  Release everything `state` owns.  Called exactly once for
     * every plugin whose init succeeded, in reverse dependency order. */
    void (*stop)(bh_plugin_ctx *ctx, void *state);
    /* Optional.  Called by GET /readyz from any worker thread: return 1
     * when the plugin can serve, 0 otherwise (and may set *reason to a
     * static string).  Must not block. */
    int (*ready)(void *state, const char **reason);
} bh_plugin_descriptor;

/* Declare the descriptor in a plugin source file:
 *     BH_PLUGIN(hello_plugin) = { BH_ABI_VERSION, "hello", "1.0", ... };  */
#define BH_PLUGIN(unused_name) BH_EXPORT const bh_plugin_descriptor bh_plugin

/* Record why init/start failed.  The core prints it as
 * "plugin NAME: MESSAGE".  The last call wins. */
void bh_plugin_error(bh_plugin_ctx *ctx, const char *fmt, ...) BH_PRINTF(2, 3);

/* The plugin's configured name.  Borrowed, valid for the process life. */
const char *bh_plugin_name(const bh_plugin_ctx *ctx);

/* ---- services: how plugins talk without including each other ----------
 * A provider registers a versioned struct of function pointers (declared in
 * include/bilhetagem/services/NAME.h) under a name; a consumer that lists the
 * provider in `depends` looks it up in its own init.  `iface` must stay valid
 * until the provider's stop.  Returns 0, or -1 if the name is taken. */
int bh_service_provide(bh_plugin_ctx *ctx, const char *name, uint32_t version, const void *iface);

/* Returns the interface registered under `name` whose version is at least
 * `min_version`, or NULL.  Any thread may call it after startup. */
const void *bh_service_lookup(const char *name, uint32_t min_version);

#ifdef __cplusplus
}
#endif
#endif
