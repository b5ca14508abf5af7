/* fixture.c - one tiny plugin compiled several times with -D switches to
 * give the loader tests their cases: a good plugin (FX_NAME only), a foreign
 * ABI (FX_ABI), no descriptor (FX_NO_DESCRIPTOR), a dependency (FX_DEP) and
 * an init that fails (FX_INIT_FAIL).  Its "started"/"stopped" marks go to
 * the file named by the BH_FIXTURE_TRACE environment variable, so tests can
 * check lifecycle order across plugins. */
#include <stdio.h>
#include <stdlib.h>

#include <bilhetagem/bilhetagem.h>

#ifndef FX_ABI
#define FX_ABI BH_ABI_VERSION
#endif

static void trace(const char *what)
{
    const char *path = getenv("BH_FIXTURE_TRACE");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f) {
        fprintf(f, "%s %s\n", what, FX_NAME);
        fclose(f);
    }
}

static int fx_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    (void)config;
    (void)state;
#ifdef FX_INIT_FAIL
    bh_plugin_error(ctx, "refusing to start: fixture told to fail");
    return -1;
#else
    (void)ctx;
    trace("init");
    return 0;
#endif
}

static int fx_start(bh_plugin_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    trace("start");
    return 0;
}

static void fx_stop(bh_plugin_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    trace("stop");
}

#ifdef FX_DEP
static const char *const fx_deps[] = {FX_DEP, NULL};
#define FX_DEPS fx_deps
#else
#define FX_DEPS NULL
#endif

/* FX_NO_DESCRIPTOR exports the descriptor under a wrong symbol name. */
#ifdef FX_NO_DESCRIPTOR
BH_EXPORT const bh_plugin_descriptor bh_plugin_misnamed = {
#else
BH_PLUGIN(fixture) = {
#endif
    .abi_version = FX_ABI,
    .name = FX_NAME,
    .version = "0.0.1",
    .depends = FX_DEPS,
    .init = fx_init,
    .start = fx_start,
    .stop = fx_stop,
};
