/* auth.c - the auth plugin: who the caller is, from a bearer token.
 *
 * Two modes, one principal (docs/configuration.md, "auth"):
 *   cognito  RS256 access (or ID) tokens of an Amazon Cognito user pool, or
 *            of an emulator standing in for one; keys from the pool's JWKS
 *   hs256    local development: HS256 tokens signed with a shared secret,
 *            minted by `bilhetagemctl token` through the auth.tokens service
 *
 * This file is the glue the core calls: init reads the config, installs the
 * authorizer (authz.c) and provides the service; start launches the JWKS
 * loader (jwks.c) without waiting for it; ready() reports whether keys are
 * loaded, so /readyz answers 503 until they are.
 */
#include <stdlib.h>
#include <time.h>

#include <curl/curl.h>

#include <bilhetagem/bilhetagem.h>

#include "auth.h"

static void log_from_jwks(void *arg, bh_log_level level, const char *msg)
{
    const auth_state *st = arg;
    bh_log(st->ctx, level, "%s", msg);
}

static int mint(void *self, const bh_auth_token_request *r, char *out, size_t outlen, char *err,
                size_t errlen)
{
    const auth_state *st = self;
    return auth_mint(&st->cfg.policy, r, (int64_t)time(NULL), out, outlen, err, errlen);
}

static void state_free(auth_state *st)
{
    auth_jwks_free(st->jwks);
    if (st->curl_ready)
        curl_global_cleanup();
    auth_config_free(&st->cfg);
    free(st);
}

static int auth_init(bh_plugin_ctx *ctx, const json_t *config, void **state)
{
    auth_state *st = calloc(1, sizeof *st);
    char err[512];
    if (!st) {
        bh_plugin_error(ctx, "out of memory");
        return -1;
    }
    st->ctx = ctx;
    if (auth_config_parse(config, &st->cfg, err, sizeof err) != 0) {
        bh_plugin_error(ctx, "%s", err);
        free(st);
        return -1;
    }
    if (st->cfg.policy.mode == AUTH_MODE_COGNITO) {
        auth_jwks_opts o = {
            .url = st->cfg.jwks_url,
            .allow_http = st->cfg.allow_insecure,
            .timeout_ms = st->cfg.jwks_timeout_ms,
            .refetch_min_s = AUTH_REFETCH_MIN_S,
            .log = log_from_jwks,
            .log_arg = st,
        };
        if (!(st->jwks = auth_jwks_new(&o))) {
            bh_plugin_error(ctx, "out of memory");
            state_free(st);
            return -1;
        }
    }
    st->svc = (bh_auth_tokens_service){BH_AUTH_TOKENS_SERVICE_VERSION, st, mint};
    const char *svc_name = BH_AUTH_TOKENS_SERVICE;
    if (bh_authorizer_set(ctx, auth_authorize, st) != 0 ||
        bh_service_provide(ctx, svc_name, BH_AUTH_TOKENS_SERVICE_VERSION, &st->svc) != 0) {
        state_free(st); /* the core set the error */
        return -1;
    }
    *state = st;
    return 0;
}

static int auth_start(bh_plugin_ctx *ctx, void *state)
{
    auth_state *st = state;
    const auth_policy *p = &st->cfg.policy;
    if (p->mode == AUTH_MODE_HS256) {
        bh_log(ctx, BH_LOG_INFO, "hs256 mode (local development tokens), issuer %s", p->issuer);
        return 0;
    }
    /* on the main thread, before any worker or loader thread exists */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        bh_plugin_error(ctx, "curl_global_init failed");
        return -1;
    }
    st->curl_ready = 1;
    if (st->cfg.allow_insecure)
        bh_log(ctx, BH_LOG_WARN,
               "allow_insecure_issuer is set: signing keys may come over "
               "plain HTTP (emulators only, never in production)");
    bh_log(ctx, BH_LOG_INFO, "cognito mode, issuer %s, %s tokens; fetching keys from %s", p->issuer,
           p->token_use == AUTH_USE_ID ? "ID" : "access", st->cfg.jwks_url);
    char err[256];
    if (auth_jwks_start(st->jwks, err, sizeof err) != 0) {
        bh_plugin_error(ctx, "%s", err);
        return -1;
    }
    return 0;
}

static void auth_stop(bh_plugin_ctx *ctx, void *state)
{
    (void)ctx;
    state_free(state);
}

static int auth_ready(void *state, const char **reason)
{
    auth_state *st = state;
    if (st->jwks && !auth_jwks_ready(st->jwks)) {
        *reason = "signing keys (JWKS) not loaded yet";
        return 0;
    }
    return 1;
}

BH_PLUGIN(auth) = {
    .abi_version = BH_ABI_VERSION,
    .name = "auth",
    .version = "1.0.0",
    .init = auth_init,
    .start = auth_start,
    .stop = auth_stop,
    .ready = auth_ready,
};
