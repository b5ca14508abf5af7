/* fuzz_jwt.c - the auth plugin's bearer-token checks (plugins/auth/verify.c,
 * claims.c, mint.c): splitting the three segments, base64url, the JOSE
 * header (alg, typ, crit, kid), the HS256 signature and the claims.
 *
 * Input: a token, as the text after "Bearer ".  Invariants besides "no crash,
 * no leak, no undefined behaviour":
 *   - a token whose header the pre-key checks refuse is never accepted;
 *   - in cognito mode with no key loaded nothing is ever accepted;
 *   - a token minted for a subject equal to the input (when the input is an
 *     acceptable subject) verifies, and gives back exactly that subject.
 */
#include <stdio.h>

#include "auth.h"
#include "fuzz.h"

#define NOW 1795953600 /* 2026-11-29T12:00:00Z */

static auth_policy hs, cognito;
static char *hs_clients[] = {"fuzz-client", NULL};
static char *co_clients[] = {"cognito-client", NULL};
static unsigned char secret[] = "fuzz-secret-0123456789abcdef-0123456789";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hs.mode = AUTH_MODE_HS256;
    hs.token_use = AUTH_USE_ACCESS;
    hs.issuer = "bilhetagem-fuzz";
    hs.client_ids[0] = hs_clients[0];
    hs.leeway_s = 60;
    hs.secret = secret;
    hs.secret_len = sizeof secret - 1;
    cognito.mode = AUTH_MODE_COGNITO;
    cognito.token_use = AUTH_USE_ACCESS;
    cognito.issuer = "https://cognito-idp.sa-east-1.amazonaws.com/sa-east-1_fuzz";
    cognito.client_ids[0] = co_clients[0];
    cognito.leeway_s = 60;
    return 0;
}

static auth_status verify(const auth_policy *p, const char *token, auth_identity *id)
{
    memset(id, 0, sizeof *id);
    return auth_verify(p, NULL, token, NOW, id);
}

static void round_trip(const char *sub)
{
    char token[AUTH_TOKEN_MAX + 1], err[256];
    bh_auth_token_request r = {.sub = sub, .ttl_s = 3600};
    if (auth_mint(&hs, &r, NOW, token, sizeof token, err, sizeof err) != 0)
        return; /* not an acceptable subject: mint says so, fine */
    auth_identity id;
    if (verify(&hs, token, &id) != AUTH_OK || !id.sub || strcmp(id.sub, sub) != 0)
        abort(); /* our own token refused, or the subject changed */
    auth_identity_clear(&id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > AUTH_TOKEN_MAX + 16)
        return 0;
    char *token = fuzz_cstr(data, size);
    char kid[AUTH_KID_MAX + 1];
    auth_status header = auth_token_header(&hs, token, kid, sizeof kid);
    auth_identity id;
    auth_status full = verify(&hs, token, &id);
    auth_identity_clear(&id);
    if (full == AUTH_OK && header != AUTH_OK)
        abort();
    (void)auth_token_header(&cognito, token, kid, sizeof kid);
    if (verify(&cognito, token, &id) == AUTH_OK)
        abort(); /* no key was ever loaded */
    auth_identity_clear(&id);
    if (size <= 256)
        round_trip(token);
    free(token);
    return 0;
}
