/* authz.c - the authorizer: who is calling, from the Authorization header.
 *
 * Runs on every matched route (the core calls it; see bh_authorizer_set).
 * It only ever identifies: a verified token becomes the request's principal
 * and the core then enforces the route's requirement (401 without a
 * principal on a non-public route, 403 without the role or scope).  What it
 * refuses itself, and only on non-public routes, is a token that is present
 * but not acceptable:
 *
 *   no Authorization header, or another scheme  -> nothing here; the core's
 *                                                  401 "WWW-Authenticate: Bearer"
 *   a Bearer token that fails any check         -> 401, error="invalid_token"
 *   a token we cannot check yet (JWKS loading)  -> 503 unavailable, Retry-After
 *
 * On public routes a bad token is ignored: the caller is anonymous.  The
 * response never says which check failed; the log line does, with the
 * request id, and never contains the token.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <bilhetagem/bilhetagem.h>

#include "auth.h"

#define CHALLENGE "Bearer error=\"invalid_token\", error_description=\"invalid token\""

/* The token of "Bearer <token>" (scheme case-insensitive, RFC 7235), "" for
 * a Bearer header without one, or NULL for another scheme. */
static const char *bearer_token(bh_request *req, const char *h)
{
    if (strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t' && h[6] != '\0'))
        return NULL;
    const char *t = h + 6;
    t += strspn(t, " \t");
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (t[n] == '\0')
        return t;
    char *copy = bh_req_alloc(req, n + 1); /* trailing blanks: a trimmed copy */
    memcpy(copy, t, n);
    return copy;
}

/* The unknown-kid refetch runs in the request: an X-Ray subsegment around
 * it, and the trace header to the JWKS host.  (The start-up loader has no
 * request, so its fetches are not traced.) */
static int traced_refetch(bh_request *req, auth_jwks *j)
{
    if (!auth_jwks_refetch_claim(j))
        return 0;
    bh_unit *unit = bh_req_unit(req);
    bh_span *sp = bh_trace_begin(unit, "jwks", BH_TRACE_REMOTE);
    bh_trace_http(sp, "GET", auth_jwks_url(j));
    char hdr[BH_TRACE_HEADER_MAX];
    int traced = bh_trace_outbound_header(unit, sp, hdr, sizeof hdr) == 0;
    long status = 0;
    int ok = auth_jwks_fetch(j, traced ? hdr : NULL, &status);
    bh_trace_end(sp, (int)status, !ok); /* a 200 that does not parse failed too */
    return ok;
}

static auth_status check(bh_request *req, auth_state *st, const char *token, auth_identity *id)
{
    int64_t now = (int64_t)time(NULL);
    if (st->cfg.policy.mode == AUTH_MODE_HS256)
        return auth_verify(&st->cfg.policy, NULL, token, now, id);
    auth_keyset *ks = auth_jwks_acquire(st->jwks);
    auth_status s = auth_verify(&st->cfg.policy, ks, token, now, id);
    if (s == AUTH_E_UNKNOWN_KID && traced_refetch(req, st->jwks)) {
        /* the pool may have rotated its keys: one more try with the new set */
        auth_identity_clear(id);
        auth_keyset_unref(ks);
        ks = auth_jwks_acquire(st->jwks);
        s = auth_verify(&st->cfg.policy, ks, token, now, id);
    }
    auth_keyset_unref(ks);
    return s;
}

static void attach(bh_request *req, const auth_identity *id)
{
    bh_principal p = {
        .sub = id->sub,
        .username = id->username,
        .email = id->email,
        .groups = id->groups,
        .scopes = id->scopes,
    };
    bh_req_set_principal(req, &p); /* deep-copied into the request */
}

int auth_authorize(bh_request *req, void *arg)
{
    auth_state *st = arg;
    int protected = bh_req_route_auth(req, NULL) != BH_AUTH_PUBLIC;
    const char *h = bh_req_header(req, "Authorization");
    if (!h)
        return BH_NEXT;
    const char *token = bearer_token(req, h);
    if (!token) {
        if (protected)
            bh_req_log(req, BH_LOG_INFO,
                       "auth: Authorization header with a scheme other than Bearer");
        return BH_NEXT;
    }
    auth_identity id;
    auth_status s = check(req, st, token, &id);
    if (s == AUTH_OK) {
        attach(req, &id);
        auth_identity_clear(&id);
        return BH_NEXT;
    }
    char why[128];
    if (id.bad_claim)
        snprintf(why, sizeof why, "%s (claim %s)", auth_status_text(s), id.bad_claim);
    else
        snprintf(why, sizeof why, "%s", auth_status_text(s));
    if (protected)
        bh_req_log(req, BH_LOG_INFO, "auth: bearer token refused: %s", why);
    else
        bh_req_log(req, BH_LOG_DEBUG,
                   "auth: bearer token refused (public route: caller treated "
                   "as anonymous): %s",
                   why);
    auth_identity_clear(&id);
    if (!protected)
        return BH_NEXT;
    if (s == AUTH_E_NO_KEYS) {
        bh_resp_header(req, "Retry-After", "5");
        bh_resp_problem(req, 503, "unavailable", NULL,
                        "the signing keys are not loaded yet: try again shortly");
        return BH_DONE;
    }
    bh_resp_header(req, "WWW-Authenticate", CHALLENGE);
    bh_resp_problem(req, 401, "unauthorized", NULL, "invalid token");
    return BH_DONE;
}
