/* idempotency.h - Idempotency-Key on routes flagged BH_ROUTE_IDEMPOTENT.
 *
 * A key is scoped to the caller (the principal's sub, else the client
 * address) and the route.  The first request claims it in a short
 * transaction of its own, so a concurrent request with the same key sees
 * the claim at once and is answered 409 instead of waiting.  A successful
 * response is stored in the handler's own transaction (it exists exactly
 * when the work does); a 4xx is stored after the rolled-back unit; a 5xx or
 * a database failure releases the claim so the client may retry.  A retry
 * with the same key and body replays the stored status, content type and
 * body byte for byte with Idempotency-Replayed: true; another body is 422.
 */
#ifndef BH_IDEMPOTENCY_H
#define BH_IDEMPOTENCY_H

#include "request.h"

struct bh_worker;

/* Claim the key, or answer (replay, 409, 422, 503) and return BH_DONE. */
int bh_idem_claim(bh_request *req, struct bh_worker *w);
/* Inside the handler's unit, before commit: store a < 400 response. */
bh_db_status bh_idem_record_in_unit(bh_request *req);
/* After the unit ended: store a 4xx, or release the claim on 5xx. */
void bh_idem_settle(bh_request *req, struct bh_worker *w);
/* Delete keys past their retention; returns how many. */
int64_t bh_idem_purge(bh_app *app, bh_dbconn **conn);

#endif
