/* simulator.c - the built-in payment gateway, for the embedded default
 * configuration and the tests.  No money moves; the card token decides the
 * outcome (the table is in payment.h and docs/plugins/payment.md).
 *
 * It remembers each payment id it was asked about (at most
 * PAY_SIM_MAX_ENTRIES, the oldest forgotten first), so it behaves like a
 * real gateway honouring idempotency keys: asking again about a captured
 * payment answers "captured" again and never charges twice, and tok_fail_N
 * counts its failures per payment id, across the retries of one request,
 * a re-run of the handler and the reconcile task's queries.
 *
 * Process-wide, behind a mutex; a tok_timeout call sleeps outside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payment.h"

typedef enum sim_kind {
    SIM_APPROVE,
    SIM_DECLINE,
    SIM_UNKNOWN,
    SIM_TIMEOUT,
    SIM_FAIL,
    SIM_PIX
} sim_kind;

typedef struct sim_entry {
    char id[40];
    sim_kind kind;
    int fails_left;
    int captured;
    int refunded;
} sim_entry;

struct pay_simulator {
    pthread_mutex_t mu;
    const pay_env *env;
    sim_entry entries[PAY_SIM_MAX_ENTRIES];
    size_t next; /* ring: the slot the next new payment takes */
};

pay_simulator *pay_simulator_new(const pay_env *env)
{
    pay_simulator *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return NULL;
    }
    s->env = env;
    return s;
}

void pay_simulator_free(pay_simulator *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static sim_kind kind_of(const pay_gw_request *rq, int *fails)
{
    const char *t = rq->card_token;
    *fails = 0;
    if (rq->method && !strcmp(rq->method, "pix"))
        return SIM_PIX;
    if (!t)
        return SIM_UNKNOWN;
    if (!strcmp(t, "tok_approve"))
        return SIM_APPROVE;
    if (!strcmp(t, "tok_decline"))
        return SIM_DECLINE;
    if (!strcmp(t, "tok_timeout"))
        return SIM_TIMEOUT;
    if (!strncmp(t, "tok_fail_", 9) && strlen(t) >= 10 && strlen(t) <= 11 &&
        strspn(t + 9, "0123456789") == strlen(t + 9)) {
        *fails = atoi(t + 9);
        return *fails > 0 ? SIM_FAIL : SIM_UNKNOWN;
    }
    return SIM_UNKNOWN;
}

/* The entry for `id`, created (for charges) when missing; NULL when absent
 * and not created.  Under s->mu. */
static sim_entry *lookup(pay_simulator *s, const char *id, int create)
{
    for (size_t i = 0; i < PAY_SIM_MAX_ENTRIES; i++)
        if (s->entries[i].id[0] && !strcmp(s->entries[i].id, id))
            return &s->entries[i];
    if (!create)
        return NULL;
    sim_entry *e = &s->entries[s->next];
    s->next = (s->next + 1) % PAY_SIM_MAX_ENTRIES;
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    return e;
}

/* CRC-16/CCITT-FALSE, the checksum that ends a PIX "BR Code". */
static unsigned crc16(const char *s)
{
    unsigned crc = 0xFFFF;
    for (; *s; s++) {
        crc ^= (unsigned)(unsigned char)*s << 8;
        for (int i = 0; i < 8; i++)
            crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
        crc &= 0xFFFF;
    }
    return crc;
}

/* A static BR Code (EMV QR) with the payment id as the transaction id. */
static void pix_payload(const pay_gw_request *rq, char out[PAY_PIX_MAX + 1])
{
    char txid[26], amount[24], account[80], extra[48];
    size_t j = 0;
    for (const char *p = rq->payment_id; *p && j < 25; p++)
        if (*p != '-')
            txid[j++] = *p;
    txid[j] = '\0';
    snprintf(amount, sizeof amount, "%lld.%02lld", (long long)(rq->amount_cents / 100),
             (long long)(rq->amount_cents % 100));
    snprintf(account, sizeof account, "0014br.gov.bcb.pix0125pix@bilhetagem.example");
    snprintf(extra, sizeof extra, "05%02zu%s", strlen(txid), txid);
    int n = snprintf(out, PAY_PIX_MAX + 1,
                     "000201010212"
                     "26%02zu%s"
                     "52040000"
                     "5303986"
                     "54%02zu%s"
                     "5802BR"
                     "5910BILHETAGEM"
                     "6009SAO PAULO"
                     "62%02zu%s"
                     "6304",
                     strlen(account), account, strlen(amount), amount, strlen(extra), extra);
    if (n > 0 && (size_t)n + 4 <= PAY_PIX_MAX)
        snprintf(out + n, PAY_PIX_MAX + 1 - (size_t)n, "%04X", crc16(out));
}

static void set_ref(pay_gw_result *out, const char *id)
{
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "sim_%s", id);
}

/* Under s->mu.  Returns 1 when the caller must sleep the timeout. */
static int charge(pay_simulator *s, const pay_gw_request *rq, pay_gw_result *out)
{
    int fails;
    sim_entry *e = lookup(s, rq->payment_id, 0);
    if (!e) {
        e = lookup(s, rq->payment_id, 1);
        e->kind = kind_of(rq, &fails);
        e->fails_left = fails;
    }
    set_ref(out, rq->payment_id);
    switch (e->kind) {
    case SIM_TIMEOUT: return 1;
    case SIM_FAIL:
        if (e->fails_left > 0) {
            e->fails_left--;
            out->outcome = PAY_GW_TRANSIENT;
            out->http_status = 503;
            return 0;
        }
        e->captured = 1; /* approved after its failures */
        out->outcome = PAY_GW_CAPTURED;
        return 0;
    case SIM_APPROVE:
        e->captured = 1;
        out->outcome = PAY_GW_CAPTURED;
        return 0;
    case SIM_DECLINE:
        out->outcome = PAY_GW_DECLINED;
        snprintf(out->reason, sizeof out->reason, "card_declined");
        return 0;
    case SIM_UNKNOWN:
        out->outcome = PAY_GW_DECLINED;
        snprintf(out->reason, sizeof out->reason, "unknown_test_token");
        return 0;
    case SIM_PIX:
        out->outcome = e->captured ? PAY_GW_CAPTURED : PAY_GW_PENDING;
        pix_payload(rq, out->pix_copy_paste);
        return 0;
    }
    return 0;
}

/* Under s->mu. */
static void query(pay_simulator *s, const pay_gw_request *rq, pay_gw_result *out)
{
    sim_entry *e = lookup(s, rq->payment_id, 0);
    if (!e) {
        out->outcome = PAY_GW_NOT_FOUND;
        return;
    }
    set_ref(out, rq->payment_id);
    if (e->refunded) {
        out->outcome = PAY_GW_REFUNDED;
        return;
    }
    switch (e->kind) {
    case SIM_TIMEOUT:
    case SIM_PIX: out->outcome = e->captured ? PAY_GW_CAPTURED : PAY_GW_PENDING; return;
    case SIM_FAIL:
        if (e->fails_left > 0) {
            e->fails_left--;
            out->outcome = PAY_GW_TRANSIENT;
            out->http_status = 503;
            return;
        }
        e->captured = 1;
        out->outcome = PAY_GW_CAPTURED;
        return;
    case SIM_APPROVE: out->outcome = PAY_GW_CAPTURED; return;
    case SIM_DECLINE:
    case SIM_UNKNOWN:
        out->outcome = PAY_GW_DECLINED;
        snprintf(out->reason, sizeof out->reason, "card_declined");
        return;
    }
}

void pay_simulator_call(void *self, pay_gw_op op, const pay_gw_request *rq, int64_t timeout_ms,
                        pay_gw_result *out)
{
    pay_simulator *s = self;
    int sleep_timeout = 0;
    pthread_mutex_lock(&s->mu);
    switch (op) {
    case PAY_OP_CHARGE: sleep_timeout = charge(s, rq, out); break;
    case PAY_OP_QUERY: query(s, rq, out); break;
    case PAY_OP_REFUND: {
        sim_entry *e = lookup(s, rq->payment_id, 1);
        e->refunded = 1;
        set_ref(out, rq->payment_id);
        out->outcome = PAY_GW_REFUNDED;
        break;
    }
    }
    pthread_mutex_unlock(&s->mu);
    if (sleep_timeout) {
        /* the gateway never answers: the caller's timeout fires */
        s->env->sleep_ms(s->env->arg, timeout_ms);
        out->outcome = PAY_GW_TRANSIENT;
        out->http_status = 0;
    }
}
