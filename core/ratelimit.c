/* ratelimit.c - token buckets per (rate class, client), in a bounded,
 * sharded hash table.
 *
 * Layout.  A key hashes to one of SHARDS shards (top bits of the hash); each
 * shard has its own mutex, a fixed pool of buckets, a chained hash index over
 * them (low bits of the hash) and an LRU list.  Everything is allocated in
 * bh_ratelimit_new; a take never allocates: a new client gets the next
 * unused bucket of its shard or, once the pool is full, the least recently
 * used one.  Pools are calloc'd and handed out in order, so pages of a large
 * pool that were never needed are never touched.
 *
 * Links are 32-bit indices and index 0 is a sentinel that is never a bucket,
 * so zeroed memory is an empty index and an empty list.
 *
 * Capacity.  max_clients * n_classes buckets in total, split evenly over the
 * shards (rounded up); classes share the pool, so a busy class can hold more
 * than max_clients buckets while a quiet one holds fewer.
 *
 * Keys.  The first KEY_MAX bytes of the client string are stored along with
 * its full length and a 64-bit hash of the whole string; a lookup compares
 * all three.  Two clients longer than KEY_MAX bytes therefore share a
 * bucket only if they agree on the prefix, the length and the hash.
 *
 * Hashing.  FNV-1a seeded from getrandom(2) at creation, then a final mix so
 * both the shard bits and the chain bits depend on every input byte.  With
 * a secret seed an attacker cannot precompute client strings that pile into
 * one chain (hash flooding); FNV is no keyed PRF, so this raises the bar
 * rather than proving resistance - chains are also bounded by the shard.
 *
 * Tokens are refilled lazily from the elapsed time at each take.  They are
 * counted in micro-tokens (tokens x 10^6), so a refill is elapsed_us x rate:
 * for an integral rate every value stays an integer well inside a double's
 * exact range, and a client that waits exactly 1/rate seconds gets exactly
 * one token instead of 0.9999999 of one.  If the clock passed in goes
 * backwards (two workers racing), no refill happens and the later time is
 * kept.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ratelimit.h"

#define SHARD_BITS 5
#define SHARDS (1u << SHARD_BITS)
#define KEY_MAX 63
#define NIL 0u    /* index 0: the sentinel */
#define MICRO 1e6 /* micro-tokens per token */

typedef struct rl_bucket {
    uint64_t hash;
    uint32_t chain_next;         /* next in the hash chain */
    uint32_t lru_prev, lru_next; /* toward most / least recent */
    uint32_t cls;
    size_t key_len;        /* full length of the client key */
    int64_t last_us;       /* time of the last refill */
    double micro_tokens;   /* tokens x MICRO, see above */
    char key[KEY_MAX + 1]; /* first KEY_MAX bytes, NUL-ended */
} rl_bucket;

typedef struct rl_shard {
    pthread_mutex_t lock;
    rl_bucket *buckets; /* [1..capacity]; [0] unused */
    uint32_t *chains;   /* [n_chains] heads */
    uint32_t n_chains;  /* power of two >= capacity */
    uint32_t capacity;
    uint32_t used;               /* buckets handed out so far */
    uint32_t lru_head, lru_tail; /* most / least recently used */
    char pad[64];                /* neighbours off one cache line */
} rl_shard;

struct bh_ratelimit {
    bh_rate_spec *classes;
    size_t n_classes;
    uint64_t seed;
    size_t n_locks; /* mutexes initialised (for free) */
    rl_shard shards[SHARDS];
};

/* ---- creation ------------------------------------------------------------ */

static int spec_is_valid(const bh_rate_spec *s)
{
    return isfinite(s->rate) && s->rate > 0 && isfinite(s->burst) && s->burst >= 1;
}

static int read_seed(uint64_t *seed)
{
    ssize_t n;
    do
        n = getrandom(seed, sizeof *seed, 0);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof *seed ? 0 : -1;
}

/* Buckets per shard, or 0 when the total does not fit our indices. */
static uint32_t shard_capacity(size_t max_clients, size_t n_classes)
{
    if (n_classes && max_clients > SIZE_MAX / n_classes)
        return 0;
    size_t total = max_clients * n_classes;
    size_t per = total / SHARDS + (total % SHARDS != 0);
    if (per == 0)
        per = 1;
    if (per > UINT32_MAX / 2)
        return 0;
    return (uint32_t)per;
}

static int shard_init(rl_shard *s, uint32_t capacity)
{
    uint32_t n_chains = 1;
    while (n_chains < capacity)
        n_chains <<= 1;
    s->buckets = calloc((size_t)capacity + 1, sizeof *s->buckets);
    s->chains = calloc(n_chains, sizeof *s->chains);
    if (!s->buckets || !s->chains)
        return -1;
    s->capacity = capacity;
    s->n_chains = n_chains;
    return 0;
}

bh_ratelimit *bh_ratelimit_new(const bh_rate_spec *classes, size_t n_classes, size_t max_clients)
{
    if (n_classes && !classes)
        return NULL;
    for (size_t i = 0; i < n_classes; i++)
        if (!spec_is_valid(&classes[i]))
            return NULL;
    uint32_t capacity = shard_capacity(max_clients, n_classes);
    if (capacity == 0 || n_classes > UINT32_MAX)
        return NULL;
    bh_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->classes = calloc(n_classes ? n_classes : 1, sizeof *rl->classes);
    if (!rl->classes || read_seed(&rl->seed) < 0)
        goto fail;
    if (n_classes)
        memcpy(rl->classes, classes, n_classes * sizeof *classes);
    rl->n_classes = n_classes;
    for (size_t i = 0; i < SHARDS; i++) {
        if (pthread_mutex_init(&rl->shards[i].lock, NULL) != 0)
            goto fail;
        rl->n_locks++;
        if (shard_init(&rl->shards[i], capacity) < 0)
            goto fail;
    }
    return rl;
fail:
    bh_ratelimit_free(rl);
    return NULL;
}

void bh_ratelimit_free(bh_ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < SHARDS; i++) {
        if (i < rl->n_locks)
            pthread_mutex_destroy(&rl->shards[i].lock);
        free(rl->shards[i].buckets);
        free(rl->shards[i].chains);
    }
    free(rl->classes);
    free(rl);
}

/* ---- the table ----------------------------------------------------------- */

static uint64_t hash_key(uint64_t seed, uint32_t cls, const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed; /* FNV-1a offset basis */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull; /* FNV-1a 64-bit prime */
    }
    h ^= (uint64_t)cls * 0x9e3779b97f4a7c15ull;
    /* Final avalanche (the splitmix64 finaliser): FNV's multiply carries
     * only upward, so its low bits, which pick the chain, would depend only
     * on the low bits of each byte. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static uint32_t *chain_head(rl_shard *s, uint64_t hash)
{
    return &s->chains[hash & (s->n_chains - 1)];
}

static uint32_t find_bucket(rl_shard *s, uint64_t hash, uint32_t cls, const char *key, size_t len)
{
    size_t stored = len < KEY_MAX ? len : KEY_MAX;
    for (uint32_t i = *chain_head(s, hash); i != NIL; i = s->buckets[i].chain_next) {
        const rl_bucket *b = &s->buckets[i];
        if (b->hash == hash && b->cls == cls && b->key_len == len &&
            memcmp(b->key, key, stored) == 0)
            return i;
    }
    return NIL;
}

static void lru_unlink(rl_shard *s, uint32_t i)
{
    rl_bucket *b = &s->buckets[i];
    if (b->lru_prev != NIL)
        s->buckets[b->lru_prev].lru_next = b->lru_next;
    else
        s->lru_head = b->lru_next;
    if (b->lru_next != NIL)
        s->buckets[b->lru_next].lru_prev = b->lru_prev;
    else
        s->lru_tail = b->lru_prev;
    b->lru_prev = b->lru_next = NIL;
}

static void lru_push_front(rl_shard *s, uint32_t i)
{
    rl_bucket *b = &s->buckets[i];
    b->lru_prev = NIL;
    b->lru_next = s->lru_head;
    if (s->lru_head != NIL)
        s->buckets[s->lru_head].lru_prev = i;
    else
        s->lru_tail = i;
    s->lru_head = i;
}

static void chain_unlink(rl_shard *s, uint32_t i)
{
    uint32_t *link = chain_head(s, s->buckets[i].hash);
    while (*link != i)
        link = &s->buckets[*link].chain_next;
    *link = s->buckets[i].chain_next;
}

/* A bucket for a new key: a never-used one, else the least recently used. */
static uint32_t claim_bucket(rl_shard *s)
{
    if (s->used < s->capacity)
        return ++s->used;
    uint32_t i = s->lru_tail;
    lru_unlink(s, i);
    chain_unlink(s, i);
    return i;
}

static uint32_t insert_bucket(rl_shard *s, uint64_t hash, uint32_t cls, const char *key, size_t len,
                              const bh_rate_spec *spec, int64_t now_us)
{
    uint32_t i = claim_bucket(s);
    rl_bucket *b = &s->buckets[i];
    size_t stored = len < KEY_MAX ? len : KEY_MAX;
    b->hash = hash;
    b->cls = cls;
    b->key_len = len;
    memcpy(b->key, key, stored);
    b->key[stored] = '\0';
    b->micro_tokens = spec->burst * MICRO;
    b->last_us = now_us;
    uint32_t *head = chain_head(s, hash);
    b->chain_next = *head;
    *head = i;
    lru_push_front(s, i);
    return i;
}

/* ---- tokens -------------------------------------------------------------- */

static void refill(rl_bucket *b, const bh_rate_spec *spec, int64_t now_us)
{
    if (now_us <= b->last_us)
        return;
    /* Unsigned: the difference of any two int64 fits, no overflow. */
    uint64_t elapsed = (uint64_t)now_us - (uint64_t)b->last_us;
    double micro = b->micro_tokens + (double)elapsed * spec->rate;
    double full = spec->burst * MICRO;
    b->micro_tokens = micro < full ? micro : full;
    b->last_us = now_us;
}

/* Whole seconds until one token is there: ceil((1 - tokens) / rate), >= 1. */
static int retry_after(const rl_bucket *b, const bh_rate_spec *spec)
{
    double wait = (MICRO - b->micro_tokens) / (spec->rate * MICRO);
    if (wait >= (double)INT_MAX)
        return INT_MAX;
    int secs = (int)wait;
    if ((double)secs < wait)
        secs++;
    return secs < 1 ? 1 : secs;
}

static int take_token(rl_bucket *b, const bh_rate_spec *spec, int64_t now_us)
{
    refill(b, spec, now_us);
    if (b->micro_tokens >= MICRO) {
        b->micro_tokens -= MICRO;
        return 0;
    }
    return retry_after(b, spec);
}

/* A class index out of range is a caller bug, not a client's fault: the
 * request is allowed.  So is one whose shard lock cannot be taken (a default
 * mutex only fails that way if memory is corrupt).  A NULL client is treated
 * as "" (one shared bucket for unidentified clients) rather than let
 * through. */
int bh_ratelimit_take(bh_ratelimit *rl, size_t cls, const char *client, int64_t now_us)
{
    if (!rl || cls >= rl->n_classes)
        return 0;
    if (!client)
        client = "";
    const bh_rate_spec *spec = &rl->classes[cls];
    size_t len = strlen(client);
    uint64_t hash = hash_key(rl->seed, (uint32_t)cls, client, len);
    rl_shard *s = &rl->shards[hash >> (64 - SHARD_BITS)];

    if (pthread_mutex_lock(&s->lock) != 0)
        return 0;
    uint32_t i = find_bucket(s, hash, (uint32_t)cls, client, len);
    if (i == NIL) {
        i = insert_bucket(s, hash, (uint32_t)cls, client, len, spec, now_us);
    } else {
        lru_unlink(s, i);
        lru_push_front(s, i);
    }
    int result = take_token(&s->buckets[i], spec, now_us);
    pthread_mutex_unlock(&s->lock);
    return result;
}
