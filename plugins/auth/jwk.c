/* jwk.c - a JWKS document turned into the keys libjwt can use.
 *
 * libjwt 1.10 verifies RS256 with a PEM public key, and Cognito publishes
 * its keys as JWKs (base64url modulus n and exponent e).  OpenSSL 3 builds
 * the key from those two numbers (EVP_PKEY_fromdata) and writes it as a
 * SubjectPublicKeyInfo PEM.  The conversion happens once per fetch, not per
 * request.
 *
 * A key set is immutable once built and refcounted: the worker verifying a
 * token holds a reference, so a refetch can swap in a new set while old
 * requests finish with the old one.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "auth.h"

#define JWKS_MAX_KEYS 64
#define RSA_MIN_BITS 2048
#define RSA_MAX_BYTES 1024 /* 8192-bit modulus */
#define RSA_E_MAX_BYTES 8

typedef struct auth_key {
    char kid[AUTH_KID_MAX + 1];
    char *pem;
    size_t pem_len;
} auth_key;

struct auth_keyset {
    atomic_int refs;
    size_t n;
    auth_key keys[];
};

static int decode_number(const char *b64, size_t max, unsigned char *out, size_t *len)
{
    size_t n = strlen(b64);
    if (n == 0 || n > (max * 4 + 2) / 3)
        return -1;
    return auth_b64url_decode(b64, n, out, max + 3, len) == 0 && *len > 0 && *len <= max ? 0 : -1;
}

static EVP_PKEY *rsa_from_numbers(const unsigned char *n, size_t nlen, const unsigned char *e,
                                  size_t elen)
{
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_n = BN_bin2bn(n, (int)nlen, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (bn_n && bn_e && bld && ctx &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

static char *pem_of(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long len;
    if (bio && PEM_write_bio_PUBKEY(bio, pkey) == 1 && (len = BIO_get_mem_data(bio, &data)) > 0 &&
        (out = malloc((size_t)len + 1))) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    BIO_free(bio);
    return out;
}

char *auth_jwk_rsa_pem(const char *n_b64url, const char *e_b64url, char *err, size_t errlen)
{
    unsigned char n[RSA_MAX_BYTES + 3], e[RSA_E_MAX_BYTES + 3];
    size_t nlen = 0, elen = 0;
    if (decode_number(n_b64url, RSA_MAX_BYTES, n, &nlen) != 0 ||
        decode_number(e_b64url, RSA_E_MAX_BYTES, e, &elen) != 0) {
        snprintf(err, errlen, "n or e is not a base64url number of a usable size");
        return NULL;
    }
    EVP_PKEY *pkey = rsa_from_numbers(n, nlen, e, elen);
    if (!pkey) {
        snprintf(err, errlen, "OpenSSL refused the RSA numbers");
        return NULL;
    }
    char *pem = NULL;
    if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS)
        snprintf(err, errlen, "RSA key of %d bits: at least %d are needed", EVP_PKEY_get_bits(pkey),
                 RSA_MIN_BITS);
    else if (!(pem = pem_of(pkey)))
        snprintf(err, errlen, "cannot write the key as PEM");
    EVP_PKEY_free(pkey);
    return pem;
}

/* One JWK: 1 added, 0 skipped (not an RSA signing key), -1 malformed. */
static int add_key(auth_keyset *ks, const json_t *jwk, char *err, size_t errlen)
{
    const char *kty = NULL, *use = NULL, *alg = NULL, *kid = NULL, *n = NULL, *e = NULL;
    if (!json_is_object(jwk)) {
        snprintf(err, errlen, "a key is not an object");
        return -1;
    }
    if (json_unpack((json_t *)jwk, "{s:s, s?s, s?s, s?s, s?s, s?s}", "kty", &kty, "use", &use,
                    "alg", &alg, "kid", &kid, "n", &n, "e", &e) != 0) {
        snprintf(err, errlen, "a key has a member of the wrong type");
        return -1;
    }
    if (strcmp(kty, "RSA") || (use && strcmp(use, "sig")) || (alg && strcmp(alg, "RS256")))
        return 0;
    if (!kid || !*kid || strlen(kid) > AUTH_KID_MAX || !n || !e) {
        snprintf(err, errlen, "an RSA key lacks kid, n or e");
        return -1;
    }
    if (auth_keyset_pem(ks, kid, NULL)) /* the first key with a kid wins */
        return 0;
    char why[128];
    char *pem = auth_jwk_rsa_pem(n, e, why, sizeof why);
    if (!pem) {
        snprintf(err, errlen, "key %.64s: %.100s", kid, why);
        return -1;
    }
    auth_key *k = &ks->keys[ks->n++];
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    k->pem = pem;
    k->pem_len = strlen(pem);
    return 1;
}

auth_keyset *auth_keyset_parse(const char *doc, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *keys = json_object_get(root, "keys");
    auth_keyset *ks = NULL;
    if (!root) {
        snprintf(err, errlen, "not JSON (line %d: %s)", jerr.line, jerr.text);
        return NULL;
    }
    if (!json_is_array(keys) || json_array_size(keys) > JWKS_MAX_KEYS) {
        snprintf(err, errlen, "no \"keys\" array of at most %d keys", JWKS_MAX_KEYS);
        goto out;
    }
    if (!(ks = calloc(1, sizeof *ks + json_array_size(keys) * sizeof(auth_key)))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    atomic_init(&ks->refs, 1);
    size_t i;
    const json_t *jwk;
    int bad = 0;
    char why[256] = "";
    json_array_foreach(keys, i, jwk)
        if (add_key(ks, jwk, why, sizeof why) < 0)
            bad++;
    /* A malformed key next to good ones is skipped; none usable is an
     * error, so the caller keeps the keys it had. */
    if (ks->n == 0) {
        snprintf(err, errlen, "no usable RSA signing key%s%s", bad ? ": " : "", why);
        auth_keyset_unref(ks);
        ks = NULL;
    }
out:
    json_decref(root);
    return ks;
}

const char *auth_keyset_pem(const auth_keyset *ks, const char *kid, size_t *len)
{
    for (size_t i = 0; ks && i < ks->n; i++)
        if (!strcmp(ks->keys[i].kid, kid)) {
            if (len)
                *len = ks->keys[i].pem_len;
            return ks->keys[i].pem;
        }
    return NULL;
}

size_t auth_keyset_count(const auth_keyset *ks)
{
    return ks ? ks->n : 0;
}

auth_keyset *auth_keyset_ref(auth_keyset *ks)
{
    if (ks)
        atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
    return ks;
}

void auth_keyset_unref(auth_keyset *ks)
{
    if (!ks || atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < ks->n; i++)
        free(ks->keys[i].pem);
    free(ks);
}
