/* idempotency.c - claiming, recording and replaying Idempotency-Keys.
 * See idempotency.h for the protocol. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "idempotency.h"
#include "server.h"
#include "storage.h"

/* A claim older than this belongs to a request that died: take it over. */
#define STALE_CLAIM_MS 60000

typedef struct idem_key {
    char scope[192];
    char route[300];
    const char *key;
    char hash[65];
} idem_key;

/* What makes two requests "the same": method, path, query string and
 * body.  A retry that changes any of them is another request (422).  The
 * query is hashed only when there is one, so keys stored before it was
 * part of the hash still replay. */
static void request_hash(const bh_request *req, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    const char *q = req->query_string;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok =
        ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, req->method, strlen(req->method)) == 1 &&
        EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
        EVP_DigestUpdate(ctx, req->raw_path, req->raw_path_len) == 1 &&
        (!q || (EVP_DigestUpdate(ctx, "?", 1) == 1 && EVP_DigestUpdate(ctx, q, strlen(q)) == 1)) &&
        EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
        (req->body_len == 0 || EVP_DigestUpdate(ctx, req->body, req->body_len) == 1) &&
        EVP_DigestFinal_ex(ctx, md, &n) == 1;
    EVP_MD_CTX_free(ctx);
    for (unsigned int i = 0; ok && i < n && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[ok ? 64 : 0] = '\0';
}

static void key_of(const bh_request *req, idem_key *k)
{
    const bh_principal *p = bh_req_principal(req);
    if (p)
        snprintf(k->scope, sizeof k->scope, "sub:%s", p->sub);
    else
        snprintf(k->scope, sizeof k->scope, "client:%s", req->client);
    snprintf(k->route, sizeof k->route, "%s %s", req->route->method, req->route->tmpl);
    k->key = bh_req_header(req, "Idempotency-Key");
    request_hash(req, k->hash);
}

/* A short write transaction of its own on the worker's connection. */
static bh_unit *side_unit(bh_request *req, bh_worker *w, bh_unit *u)
{
    bh_unit_init(u, req->id, NULL, req->app->storage, &w->db, 1);
    return u;
}

static void replay(bh_request *req, const bh_rows *r)
{
    int64_t status = 0;
    bh_rows_int(r, 0, 2, &status);
    const char *ct = bh_rows_text(r, 0, 3), *body = bh_rows_text(r, 0, 4);
    bh_resp_bytes(req, (int)status, ct, body ? body : "", body ? strlen(body) : 0);
    bh_resp_header(req, "Idempotency-Replayed", "true");
}

/* The key exists: replay, refuse, or take over a stale or expired claim. */
static int existing(bh_request *req, bh_unit *u, const idem_key *k, int64_t now)
{
    bh_db_value p[] = {BH_DB_S(k->scope), BH_DB_S(k->route), BH_DB_S(k->key)};
    bh_rows *r = NULL;
    if (bh_unit_run(u,
                    "SELECT request_hash, state, status, content_type, body, created_at,"
                    " expires_at FROM bh_idempotency WHERE scope = $1 AND route = $2"
                    " AND idem_key = $3",
                    p, 3, &r, NULL) != BH_DB_OK ||
        bh_rows_count(r) == 0)
        return -1; /* vanished between INSERT and SELECT: let the client retry */
    const char *hash = bh_rows_text(r, 0, 0), *state = bh_rows_text(r, 0, 1);
    int64_t created = 0, expires = 0;
    bh_rows_int(r, 0, 5, &created);
    bh_rows_int(r, 0, 6, &expires);
    int done = state && !strcmp(state, "done");
    if ((done && expires < now) || (!done && created < now - STALE_CLAIM_MS)) {
        /* Only the row as it was read: the state too, since the request
         * that holds a stale claim may commit its response meanwhile (on
         * PostgreSQL this UPDATE waits for it and then re-checks). */
        bh_db_value q[] = {
            BH_DB_S(k->hash),
            BH_DB_I(now),
            BH_DB_I(now + (int64_t)req->app->cfg->storage.idempotency_retention_s * 1000),
            BH_DB_S(k->scope),
            BH_DB_S(k->route),
            BH_DB_S(k->key),
            BH_DB_I(created),
            BH_DB_S(done ? "done" : "processing")};
        int64_t n = 0;
        bh_unit_run(u,
                    "UPDATE bh_idempotency SET request_hash = $1, state = 'processing',"
                    " status = NULL, content_type = NULL, body = NULL, created_at = $2,"
                    " expires_at = $3 WHERE scope = $4 AND route = $5 AND idem_key = $6"
                    " AND created_at = $7 AND state = $8",
                    q, 8, NULL, &n);
        return n == 1 ? 0 : -1;
    }
    if (!hash || strcmp(hash, k->hash) != 0) {
        bh_resp_problem(req, 422, "idempotency-key-reused", NULL,
                        "this Idempotency-Key was used with a different request body");
    } else if (done) {
        replay(req, r);
    } else {
        bh_resp_header(req, "Retry-After", "1");
        bh_resp_problem(req, 409, "idempotency-in-progress", NULL,
                        "a request with this Idempotency-Key is still being processed");
    }
    return 1;
}

int bh_idem_claim(bh_request *req, bh_worker *w)
{
    if (!req->app->storage) {
        bh_resp_header(req, "Retry-After", "1");
        bh_resp_problem(req, 503, "unavailable", NULL, "idempotent operations need storage");
        return BH_DONE;
    }
    idem_key k;
    key_of(req, &k);
    int64_t now = bh_epoch_ms();
    bh_unit u;
    side_unit(req, w, &u);
    bh_db_value p[] = {
        BH_DB_S(k.scope),
        BH_DB_S(k.route),
        BH_DB_S(k.key),
        BH_DB_S(k.hash),
        BH_DB_I(now),
        BH_DB_I(now + (int64_t)req->app->cfg->storage.idempotency_retention_s * 1000)};
    int64_t inserted = 0;
    bh_db_status s = bh_unit_run(&u,
                                 "INSERT INTO bh_idempotency (scope, route, idem_key,"
                                 " request_hash, state, created_at, expires_at)"
                                 " VALUES ($1, $2, $3, $4, 'processing', $5, $6)"
                                 " ON CONFLICT DO NOTHING",
                                 p, 6, NULL, &inserted);
    int outcome = s == BH_DB_OK && inserted == 1 ? 0
                  : s == BH_DB_OK                ? existing(req, &u, &k, now)
                                                 : -1;
    s = bh_unit_end(&u, outcome >= 0);
    if (outcome == 0 && s == BH_DB_OK)
        return BH_NEXT;
    if (outcome == 1 && s == BH_DB_OK)
        return BH_DONE; /* replayed or refused */
    req->status = 0;
    bh_resp_header(req, "Retry-After", "1");
    bh_resp_problem(req, 503, "unavailable", NULL,
                    "the Idempotency-Key could not be checked; retry shortly");
    return BH_DONE;
}

static const char record_sql[] =
    "UPDATE bh_idempotency SET state = 'done', status = $1, content_type = $2, body = $3"
    " WHERE scope = $4 AND route = $5 AND idem_key = $6";

static bh_db_status record(bh_request *req, bh_unit *u)
{
    idem_key k;
    key_of(req, &k);
    size_t len = req->resp_body ? evbuffer_get_length(req->resp_body) : 0;
    char *body = bh_req_alloc(req, len + 1);
    if (len)
        evbuffer_copyout(req->resp_body, body, len);
    bh_db_value p[] = {BH_DB_I(req->status), BH_DB_S(req->content_type), BH_DB_S(body),
                       BH_DB_S(k.scope),     BH_DB_S(k.route),           BH_DB_S(k.key)};
    return bh_unit_run(u, record_sql, p, 6, NULL, NULL);
}

bh_db_status bh_idem_record_in_unit(bh_request *req)
{
    return record(req, &req->unit);
}

void bh_idem_settle(bh_request *req, bh_worker *w)
{
    bh_unit u;
    side_unit(req, w, &u);
    if (req->status >= 400 && req->status < 500) {
        record(req, &u);
    } else if (req->status >= 500) {
        idem_key k;
        key_of(req, &k);
        bh_db_value p[] = {BH_DB_S(k.scope), BH_DB_S(k.route), BH_DB_S(k.key)};
        bh_unit_run(&u,
                    "DELETE FROM bh_idempotency WHERE scope = $1 AND route = $2"
                    " AND idem_key = $3 AND state = 'processing'",
                    p, 3, NULL, NULL);
    }
    if (bh_unit_end(&u, 1) != BH_DB_OK)
        bh_req_log(req, BH_LOG_WARN, "could not settle the Idempotency-Key: %s", u.error);
}

int64_t bh_idem_purge(bh_app *app, bh_dbconn **conn)
{
    bh_unit u;
    bh_unit_init(&u, "idempotency-purge", NULL, app->storage, conn, 1);
    bh_db_value p[] = {BH_DB_I(bh_epoch_ms())};
    int64_t n = 0;
    bh_unit_run(&u, "DELETE FROM bh_idempotency WHERE expires_at < $1", p, 1, NULL, &n);
    return bh_unit_end(&u, 1) == BH_DB_OK ? n : 0;
}
