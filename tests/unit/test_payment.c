/* test_payment.c - the payment plugin's pure logic, with a fake clock and a
 * fake random source.
 *
 * Links the plugin's sources but its SDK-calling files (plugins/payment/
 * minus store, settle, routes, webhook, reconcile, openapi and the glue):
 * backoff and full jitter, the retry budget, the circuit breaker's state
 * machine, webhook signatures, card token checks, the simulator's test
 * tokens, one resilient gateway operation (retries, budget, breaker) over a
 * scripted gateway, the http gateway's answer parsing, and the config.
 * Time only moves when a test moves it: nothing here sleeps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "payment.h"

/* ---- a fake world: clock, sleep, random bits ------------------------------------ */

typedef struct fake {
    int64_t now;
    uint64_t rand_value; /* what rand64 answers */
    int64_t slept;       /* total ms slept */
} fake;

static int64_t fake_now(void *arg)
{
    return ((fake *)arg)->now;
}

static void fake_sleep(void *arg, int64_t ms)
{
    fake *f = arg;
    f->now += ms;
    f->slept += ms;
}

static uint64_t fake_rand(void *arg)
{
    return ((fake *)arg)->rand_value;
}

static pay_retry_policy policy(void)
{
    pay_retry_policy p = {.max_attempts = 3,
                          .base_ms = 100,
                          .max_delay_ms = 1000,
                          .budget_ms = 2000,
                          .timeout_ms = 500,
                          .min_attempt_ms = 20};
    return p;
}

/* ---- backoff and the retry budget ------------------------------------------------- */

static void test_backoff_full_jitter_bounds(void)
{
    pay_retry_policy p = policy();
    /* the cap doubles per failure: 100, 200, 400, 800, then max_delay 1000 */
    const int64_t caps[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (int n = 1; n <= 7; n++) {
        int64_t cap = caps[n - 1];
        CU_ASSERT_EQUAL(pay_backoff_delay(&p, n, 0), 0);                 /* lowest draw */
        CU_ASSERT_EQUAL(pay_backoff_delay(&p, n, (uint64_t)cap), cap);   /* highest */
        CU_ASSERT_EQUAL(pay_backoff_delay(&p, n, (uint64_t)cap + 1), 0); /* wraps */
        CU_ASSERT(pay_backoff_delay(&p, n, UINT64_MAX) <= cap);
        for (uint64_t r = 0; r < 5000; r += 37)
            CU_ASSERT(pay_backoff_delay(&p, n, r) >= 0 && pay_backoff_delay(&p, n, r) <= cap);
    }
    /* huge failure counts never overflow */
    CU_ASSERT(pay_backoff_delay(&p, 1000000, UINT64_MAX) <= 1000);
}

static void test_retry_attempts_and_budget(void)
{
    pay_retry_policy p = policy();
    int64_t delay = -1, timeout = -1;
    CU_ASSERT_EQUAL(pay_retry_next(&p, 0, 0, 12345, &delay, &timeout), 1);
    CU_ASSERT_EQUAL(delay, 0); /* the first attempt never waits */
    CU_ASSERT_EQUAL(timeout, 500);
    CU_ASSERT_EQUAL(pay_retry_next(&p, 1, 500, 50, &delay, &timeout), 1);
    CU_ASSERT_EQUAL(delay, 50);
    CU_ASSERT_EQUAL(timeout, 500);
    CU_ASSERT_EQUAL(pay_retry_next(&p, 3, 0, 0, &delay, &timeout), 0); /* attempts used up */
    /* the budget caps the attempt's timeout: 2000 - 1700 - 100 = 200 */
    CU_ASSERT_EQUAL(pay_retry_next(&p, 2, 1700, 100, &delay, &timeout), 1);
    CU_ASSERT_EQUAL(timeout, 200);
    /* nothing worth starting is left: 2000 - 1900 - 90 = 10 < 20 */
    CU_ASSERT_EQUAL(pay_retry_next(&p, 2, 1900, 90, &delay, &timeout), 0);
    /* the budget already spent */
    CU_ASSERT_EQUAL(pay_retry_next(&p, 1, 2000, 0, &delay, &timeout), 0);
    CU_ASSERT_EQUAL(pay_retry_next(&p, 1, 5000, 0, &delay, &timeout), 0);
}

/* ---- the circuit breaker ------------------------------------------------------------- */

static void test_breaker_state_machine(void)
{
    fake f = {.now = 1000};
    pay_breaker b;
    int64_t ra = 0;
    CU_ASSERT_EQUAL_FATAL(pay_breaker_init(&b, 3, 30000, fake_now, &f), 0);
    CU_ASSERT_EQUAL(pay_breaker_state_now(&b), PAY_BREAKER_CLOSED);
    /* failures that are not consecutive never open it */
    pay_breaker_failure(&b);
    pay_breaker_failure(&b);
    pay_breaker_success(&b);
    pay_breaker_failure(&b);
    pay_breaker_failure(&b);
    CU_ASSERT_EQUAL(pay_breaker_state_now(&b), PAY_BREAKER_CLOSED);
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 1);
    /* the third in a row does */
    pay_breaker_failure(&b);
    CU_ASSERT_EQUAL(pay_breaker_state_now(&b), PAY_BREAKER_OPEN);
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 0);
    CU_ASSERT_EQUAL(ra, 30000);
    f.now += 29999;
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 0);
    CU_ASSERT_EQUAL(ra, 1);
    /* the cool-down is over: one probe goes, the next caller waits */
    f.now += 1;
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 1);
    CU_ASSERT_EQUAL(pay_breaker_state_now(&b), PAY_BREAKER_HALF_OPEN);
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 0);
    /* the probe fails: open again, for a whole new cool-down */
    pay_breaker_failure(&b);
    CU_ASSERT_EQUAL(pay_breaker_state_now(&b), PAY_BREAKER_OPEN);
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 0);
    CU_ASSERT_EQUAL(ra, 30000);
    /* next probe succeeds: closed, and the failure count starts over */
    f.now += 30000;
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 1);
    pay_breaker_success(&b);
    CU_ASSERT_EQUAL(pay_breaker_state_now(&b), PAY_BREAKER_CLOSED);
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 1);
    pay_breaker_failure(&b);
    pay_breaker_failure(&b);
    CU_ASSERT_EQUAL(pay_breaker_state_now(&b), PAY_BREAKER_CLOSED);
    pay_breaker_destroy(&b);
}

static void test_breaker_lost_probe(void)
{
    fake f = {.now = 0};
    pay_breaker b;
    int64_t ra = 0;
    CU_ASSERT_EQUAL_FATAL(pay_breaker_init(&b, 1, 1000, fake_now, &f), 0);
    pay_breaker_failure(&b);
    f.now = 1000;
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 1); /* the probe, which never reports */
    f.now = 1500;
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 0);
    CU_ASSERT_EQUAL(ra, 500);
    f.now = 2000;
    CU_ASSERT_EQUAL(pay_breaker_allow(&b, &ra), 1); /* a new probe replaces it */
    pay_breaker_destroy(&b);
}

/* ---- webhook signatures ------------------------------------------------------------ */

#define SECRET "whsec_0123456789abcdef"
#define BODY "{\"payment_id\":\"p1\",\"status\":\"captured\"}"
#define NOW_S 1764417600LL

static void test_signature_valid(void)
{
    char h[160];
    const unsigned char *b = (const unsigned char *)BODY;
    CU_ASSERT_EQUAL_FATAL(pay_sig_sign(b, strlen(BODY), SECRET, NOW_S, h, sizeof h), 0);
    CU_ASSERT_EQUAL(pay_sig_verify(h, b, strlen(BODY), SECRET, NOW_S, 300), PAY_SIG_OK);
    /* within the tolerance, both ways */
    CU_ASSERT_EQUAL(pay_sig_verify(h, b, strlen(BODY), SECRET, NOW_S + 300, 300), PAY_SIG_OK);
    CU_ASSERT_EQUAL(pay_sig_verify(h, b, strlen(BODY), SECRET, NOW_S - 300, 300), PAY_SIG_OK);
    /* a known vector: HMAC-SHA256("k", "1.x") */
    char hv[160];
    CU_ASSERT_EQUAL(pay_sig_sign((const unsigned char *)"x", 1, "k", 1, hv, sizeof hv), 0);
    CU_ASSERT_STRING_EQUAL(
        hv, "t=1,v1=976cb87e4f568d1c0f03f32859e90af8597cf00b978ba37c229c97d3a15b8449");
}

static void test_signature_rotation_and_spaces(void)
{
    char good[160], other[160], h[400];
    const unsigned char *b = (const unsigned char *)BODY;
    pay_sig_sign(b, strlen(BODY), SECRET, NOW_S, good, sizeof good);
    pay_sig_sign(b, strlen(BODY), "whsec_the_old_secret_value", NOW_S, other, sizeof other);
    /* t=..., v1=<old>, v1=<new>: any match is enough; spaces tolerated */
    snprintf(h, sizeof h, "t=%lld, %s, v0=ignored, %s", NOW_S, strchr(other, 'v'),
             strchr(good, 'v'));
    CU_ASSERT_EQUAL(pay_sig_verify(h, b, strlen(BODY), SECRET, NOW_S, 300), PAY_SIG_OK);
}

static void test_signature_refusals(void)
{
    char h[160];
    const unsigned char *b = (const unsigned char *)BODY;
    size_t n = strlen(BODY);
    pay_sig_sign(b, n, SECRET, NOW_S, h, sizeof h);
    /* wrong secret */
    CU_ASSERT_EQUAL(pay_sig_verify(h, b, n, "whsec_another_secret!", NOW_S, 300), PAY_SIG_MISMATCH);
    /* tampered body: one byte */
    char tampered[] = BODY;
    tampered[strlen(tampered) - 3] = 'x';
    CU_ASSERT_EQUAL(pay_sig_verify(h, (const unsigned char *)tampered, n, SECRET, NOW_S, 300),
                    PAY_SIG_MISMATCH);
    /* a truncated body */
    CU_ASSERT_EQUAL(pay_sig_verify(h, b, n - 1, SECRET, NOW_S, 300), PAY_SIG_MISMATCH);
    /* expired, and from the future */
    CU_ASSERT_EQUAL(pay_sig_verify(h, b, n, SECRET, NOW_S + 301, 300), PAY_SIG_EXPIRED);
    CU_ASSERT_EQUAL(pay_sig_verify(h, b, n, SECRET, NOW_S - 301, 300), PAY_SIG_EXPIRED);
    /* the timestamp is inside the MAC: a fresh t on an old signature fails */
    char replay[160];
    snprintf(replay, sizeof replay, "t=%lld,%s", NOW_S + 1000, strchr(h, 'v'));
    CU_ASSERT_EQUAL(pay_sig_verify(replay, b, n, SECRET, NOW_S + 1000, 300), PAY_SIG_MISMATCH);
    /* malformed headers */
    const char *bad[] = {
        NULL,
        "",
        "garbage",
        "t=1764417600",         /* no v1 */
        "v1=00",                /* no t */
        "t=abc,v1=00",          /* t not digits */
        "t=1764417600,v1=zz",   /* not hex */
        "t=1764417600,v1=0011", /* too short */
        "t=1,t=2,v1=" /* twice */,
        "t=9999999999999999999,v1=00", /* t too long */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(pay_sig_verify(bad[i], b, n, SECRET, NOW_S, 300), PAY_SIG_MALFORMED);
    /* a 64-hex v1 with a bad character */
    char badhex[160];
    snprintf(badhex, sizeof badhex, "t=%lld,v1=%064d", NOW_S, 0);
    badhex[strlen(badhex) - 1] = 'g';
    CU_ASSERT_EQUAL(pay_sig_verify(badhex, b, n, SECRET, NOW_S, 300), PAY_SIG_MALFORMED);
    /* an oversized header is not parsed */
    char *huge = malloc(PAY_SIG_HEADER_MAX + 100);
    memset(huge, 'a', PAY_SIG_HEADER_MAX + 99);
    huge[PAY_SIG_HEADER_MAX + 99] = '\0';
    memcpy(huge, "t=1,", 4);
    CU_ASSERT_EQUAL(pay_sig_verify(huge, b, n, SECRET, NOW_S, 300), PAY_SIG_MALFORMED);
    free(huge);
    /* no secret configured: nothing is ever valid */
    CU_ASSERT_EQUAL(pay_sig_verify(h, b, n, NULL, NOW_S, 300), PAY_SIG_MALFORMED);
}

/* ---- card tokens ----------------------------------------------------------------------- */

static pay_token_status tok(const char *t, int sim)
{
    return pay_token_check(t, strlen(t), sim);
}

static void test_card_tokens(void)
{
    CU_ASSERT_EQUAL(tok("tok_approve", 1), PAY_TOKEN_OK);
    CU_ASSERT_EQUAL(tok("tok_fail_2", 1), PAY_TOKEN_OK);
    CU_ASSERT_EQUAL(tok("tok_Ab9_x", 1), PAY_TOKEN_OK);
    /* card numbers, bare or spaced or dashed or inside a token */
    CU_ASSERT_EQUAL(tok("4111111111111111", 1), PAY_TOKEN_PAN);
    CU_ASSERT_EQUAL(tok("4111 1111 1111 1111", 0), PAY_TOKEN_PAN);
    CU_ASSERT_EQUAL(tok("4111-1111-1111-1111", 0), PAY_TOKEN_PAN);
    CU_ASSERT_EQUAL(tok("5500000000000004", 0), PAY_TOKEN_PAN);
    CU_ASSERT_EQUAL(tok("4222222222222", 0), PAY_TOKEN_PAN);       /* 13 digits */
    CU_ASSERT_EQUAL(tok("4000000000000000006", 0), PAY_TOKEN_PAN); /* 19 */
    CU_ASSERT_EQUAL(tok("tok_4111111111111111", 1), PAY_TOKEN_PAN);
    /* 12 digits is no card number */
    CU_ASSERT_EQUAL(tok("123456789012", 0), PAY_TOKEN_OK);
    CU_ASSERT_EQUAL(tok("123456789012", 1), PAY_TOKEN_NOT_TEST);
    /* shape */
    CU_ASSERT_EQUAL(tok("", 0), PAY_TOKEN_INVALID);
    CU_ASSERT_EQUAL(tok("tok approve", 1), PAY_TOKEN_INVALID);
    CU_ASSERT_EQUAL(tok("tok_é", 1), PAY_TOKEN_INVALID);
    CU_ASSERT_EQUAL(tok("tok_<script>", 1), PAY_TOKEN_INVALID);
    char longtok[PAY_TOKEN_MAX + 2];
    memset(longtok, 'a', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = '\0';
    memcpy(longtok, "tok_", 4);
    CU_ASSERT_EQUAL(tok(longtok, 1), PAY_TOKEN_INVALID);
    longtok[PAY_TOKEN_MAX] = '\0';
    CU_ASSERT_EQUAL(tok(longtok, 1), PAY_TOKEN_OK);
    CU_ASSERT_EQUAL(pay_token_check("tok_a\0b", 7, 1), PAY_TOKEN_INVALID);
    /* the simulator takes its test tokens only; a real gateway's are free */
    CU_ASSERT_EQUAL(tok("pm_1NqKx2", 1), PAY_TOKEN_NOT_TEST);
    CU_ASSERT_EQUAL(tok("pm_1NqKx2", 0), PAY_TOKEN_OK);
    CU_ASSERT_EQUAL(tok("tok_", 1), PAY_TOKEN_NOT_TEST);
    CU_ASSERT_EQUAL(tok("tok_a-b", 1), PAY_TOKEN_NOT_TEST);
}

/* ---- the simulator ------------------------------------------------------------------ */

static pay_gw_request card(const char *id, const char *token)
{
    pay_gw_request r = {id, "order-1", "card", token, 4200, "BRL", NULL};
    return r;
}

/* Card payments through the simulator, in order: its answers depend on
 * what it has seen for each payment id. */
static const struct sim_step {
    const char *id, *token;
    pay_gw_op op;
    pay_gw_outcome outcome;
    const char *reason; /* NULL: not checked */
} sim_steps[] = {
    {"p-approve", "tok_approve", PAY_OP_CHARGE, PAY_GW_CAPTURED, NULL},
    {"p-approve", "tok_approve", PAY_OP_QUERY, PAY_GW_CAPTURED, NULL},
    {"p-decline", "tok_decline", PAY_OP_CHARGE, PAY_GW_DECLINED, "card_declined"},
    /* tok_timeout waits the whole timeout, then reports no answer... */
    {"p-timeout", "tok_timeout", PAY_OP_CHARGE, PAY_GW_TRANSIENT, NULL},
    /* ...and stays pending */
    {"p-timeout", "tok_timeout", PAY_OP_QUERY, PAY_GW_PENDING, NULL},
    /* tok_fail_2: two failures for this payment id, then approved; another
     * payment id with the same token counts on its own */
    {"p-fail", "tok_fail_2", PAY_OP_CHARGE, PAY_GW_TRANSIENT, NULL},
    {"p-fail-other", "tok_fail_2", PAY_OP_CHARGE, PAY_GW_TRANSIENT, NULL},
    {"p-fail", "tok_fail_2", PAY_OP_CHARGE, PAY_GW_TRANSIENT, NULL},
    {"p-fail", "tok_fail_2", PAY_OP_CHARGE, PAY_GW_CAPTURED, NULL},
    {"p-fail", "tok_fail_2", PAY_OP_CHARGE, PAY_GW_CAPTURED, NULL}, /* a replay: same answer */
    /* unknown payment ids are unknown; refunds always pass */
    {"p-never", "tok_approve", PAY_OP_QUERY, PAY_GW_NOT_FOUND, NULL},
    {"p-approve", "tok_approve", PAY_OP_REFUND, PAY_GW_REFUNDED, NULL},
};

static void test_simulator_tokens(void)
{
    fake f = {.now = 0};
    pay_env env = {fake_now, fake_sleep, fake_rand, &f};
    pay_simulator *s = pay_simulator_new(&env);
    pay_gw_result r;
    for (size_t i = 0; i < sizeof sim_steps / sizeof sim_steps[0]; i++) {
        const struct sim_step *st = &sim_steps[i];
        pay_gw_request rq = card(st->id, st->token);
        memset(&r, 0, sizeof r);
        pay_simulator_call(s, st->op, &rq, 200, &r);
        if (r.outcome != st->outcome || (st->reason && strcmp(r.reason, st->reason) != 0)) {
            fprintf(stderr, "\nstep %zu (%s, %s): outcome %d\n", i, st->id, st->token,
                    (int)r.outcome);
            CU_FAIL("simulator step");
        }
    }
    CU_ASSERT_EQUAL(f.slept, 200); /* tok_timeout's charge, and nothing else */
    /* PIX: pending with a BR Code naming the amount */
    pay_gw_request pix = {
        "3f0c9a4e-8d1b-4c55-9a0e-2b7f5d61c3aa", "o", "pix", NULL, 4200, "BRL", NULL};
    memset(&r, 0, sizeof r);
    pay_simulator_call(s, PAY_OP_CHARGE, &pix, 200, &r);
    CU_ASSERT_EQUAL(r.outcome, PAY_GW_PENDING);
    CU_ASSERT(strncmp(r.pix_copy_paste, "000201", 6) == 0);
    CU_ASSERT(strstr(r.pix_copy_paste, "540542.00") != NULL);
    CU_ASSERT(strstr(r.pix_copy_paste, "6304") != NULL); /* the CRC field ends it */
    pay_simulator_free(s);
}

/* ---- one resilient operation over a scripted gateway ---------------------------------- */

typedef struct script {
    fake *f;
    pay_gw_outcome answers[16]; /* answer i to call i; later calls get the last */
    int n;
    int calls;
    int64_t timeouts[16]; /* the timeout each call was given */
    int64_t takes_ms;     /* how long a TRANSIENT call takes (its timeout when < 0) */
} script;

static void scripted(void *self, pay_gw_op op, const pay_gw_request *rq, int64_t timeout_ms,
                     pay_gw_result *out)
{
    (void)op;
    (void)rq;
    script *s = self;
    pay_gw_outcome o = s->answers[s->calls < s->n ? s->calls : s->n - 1];
    if (s->calls < 16)
        s->timeouts[s->calls] = timeout_ms;
    s->calls++;
    if (o == PAY_GW_TRANSIENT)
        s->f->now += s->takes_ms < 0 ? timeout_ms : s->takes_ms;
    out->outcome = o;
}

typedef struct rig {
    fake f;
    pay_env env;
    script sc;
    pay_gateway gw;
    pay_breaker b;
    pay_resilient r;
} rig;

static void rig_init(rig *g, int breaker_failures)
{
    memset(g, 0, sizeof *g);
    g->f.now = 10000;
    g->f.rand_value = UINT64_MAX; /* always the highest delay of its cap */
    g->env = (pay_env){fake_now, fake_sleep, fake_rand, &g->f};
    g->sc.f = &g->f;
    g->gw = (pay_gateway){"script", scripted, &g->sc};
    pay_breaker_init(&g->b, breaker_failures, 30000, fake_now, &g->f);
    g->r = (pay_resilient){&g->gw, &g->b, policy(), &g->env};
}

/* One operation over the scripted gateway, from a fresh rig each: what it
 * answers, how many calls it took, how long it slept. */
static const struct gw_case {
    const char *what;
    int breaker_failures;
    int max_attempts; /* 0: the policy's 3 */
    pay_gw_outcome answers[3];
    int n;
    int64_t takes_ms; /* a TRANSIENT call's duration; < 0: its whole timeout */
    pay_gw_op op;
    int once;
    pay_gw_outcome outcome;
    int calls_min, calls_max;
    int64_t slept; /* < 0: not checked */
} gw_cases[] = {
    /* UINT64_MAX drawn against caps 100 then 200: 78 + 150 ms of backoff */
    {.what = "transient twice, then captured: retried",
     .breaker_failures = 5,
     .answers = {PAY_GW_TRANSIENT, PAY_GW_TRANSIENT, PAY_GW_CAPTURED},
     .n = 3,
     .takes_ms = 10,
     .op = PAY_OP_CHARGE,
     .outcome = PAY_GW_CAPTURED,
     .calls_min = 3,
     .calls_max = 3,
     .slept = 78 + 150},
    {.what = "a decline is an answer: no retry",
     .breaker_failures = 5,
     .answers = {PAY_GW_DECLINED},
     .n = 1,
     .op = PAY_OP_CHARGE,
     .outcome = PAY_GW_DECLINED,
     .calls_min = 1,
     .calls_max = 1,
     .slept = 0},
    /* still unknown when the budget runs out, long before 10 attempts */
    {.what = "every call times out: the budget ends it",
     .breaker_failures = 100,
     .max_attempts = 10,
     .answers = {PAY_GW_TRANSIENT},
     .n = 1,
     .takes_ms = -1,
     .op = PAY_OP_CHARGE,
     .outcome = PAY_GW_TRANSIENT,
     .calls_min = 2,
     .calls_max = 9,
     .slept = -1},
    {.what = "once: one attempt only",
     .breaker_failures = 100,
     .answers = {PAY_GW_TRANSIENT},
     .n = 1,
     .op = PAY_OP_QUERY,
     .once = 1,
     .outcome = PAY_GW_TRANSIENT,
     .calls_min = 1,
     .calls_max = 1,
     .slept = 0},
};

static void test_gw_do_cases(void)
{
    for (size_t i = 0; i < sizeof gw_cases / sizeof gw_cases[0]; i++) {
        const struct gw_case *c = &gw_cases[i];
        rig g;
        pay_gw_result r;
        pay_gw_request rq = card("p", "tok");
        rig_init(&g, c->breaker_failures);
        if (c->max_attempts)
            g.r.policy.max_attempts = c->max_attempts;
        memcpy(g.sc.answers, c->answers, sizeof c->answers);
        g.sc.n = c->n;
        g.sc.takes_ms = c->takes_ms;
        int64_t start = g.f.now;
        pay_gw_do(&g.r, c->op, &rq, c->once, &r);
        int ok = r.outcome == c->outcome && r.attempts == g.sc.calls &&
                 g.sc.calls >= c->calls_min && g.sc.calls <= c->calls_max &&
                 (c->slept < 0 || g.f.slept == c->slept) &&
                 g.f.now - start <= g.r.policy.budget_ms &&
                 pay_breaker_state_now(&g.b) == PAY_BREAKER_CLOSED;
        /* every attempt gets a timeout worth starting, the first the full one */
        ok = ok && g.sc.timeouts[0] == 500;
        for (int k = 0; k < g.sc.calls && k < 16; k++)
            ok = ok && g.sc.timeouts[k] >= 20 && g.sc.timeouts[k] <= 500;
        if (!ok) {
            fprintf(stderr, "\n%s: outcome %d, %d call(s), %d attempt(s), slept %lld\n", c->what,
                    (int)r.outcome, g.sc.calls, r.attempts, (long long)g.f.slept);
            CU_FAIL(c->what);
        }
        pay_breaker_destroy(&g.b);
    }
}

static void test_gw_do_breaker(void)
{
    rig g;
    pay_gw_result r;
    pay_gw_request rq = card("p", "tok_timeout");
    rig_init(&g, 2);
    g.sc.answers[0] = PAY_GW_TRANSIENT;
    g.sc.n = 1;
    g.sc.takes_ms = -1;
    /* two timeouts open the breaker; the third attempt is not made and the
     * outcome stays unknown (attempts were made) */
    pay_gw_do(&g.r, PAY_OP_CHARGE, &rq, 0, &r);
    CU_ASSERT_EQUAL(r.outcome, PAY_GW_TRANSIENT);
    CU_ASSERT_EQUAL(r.attempts, 2);
    CU_ASSERT_EQUAL(pay_breaker_state_now(&g.b), PAY_BREAKER_OPEN);
    /* the next operation is refused at once, nothing sent, nothing slept */
    int calls = g.sc.calls;
    int64_t before = g.f.now;
    pay_gw_do(&g.r, PAY_OP_CHARGE, &rq, 0, &r);
    CU_ASSERT_EQUAL(r.outcome, PAY_GW_UNAVAILABLE);
    CU_ASSERT_EQUAL(r.attempts, 0);
    CU_ASSERT(r.retry_after_ms > 0 && r.retry_after_ms <= 30000);
    CU_ASSERT_EQUAL(g.sc.calls, calls);
    CU_ASSERT_EQUAL(g.f.now, before);
    /* after the cool-down, a successful probe closes it */
    g.f.now += 30000;
    g.sc.answers[0] = PAY_GW_CAPTURED;
    pay_gw_do(&g.r, PAY_OP_CHARGE, &rq, 0, &r);
    CU_ASSERT_EQUAL(r.outcome, PAY_GW_CAPTURED);
    CU_ASSERT_EQUAL(pay_breaker_state_now(&g.b), PAY_BREAKER_CLOSED);
    pay_breaker_destroy(&g.b);
}

/* ---- the create handler's next step, across re-runs ------------------------------------ */

static void test_charge_step(void)
{
    /* a first run */
    CU_ASSERT_EQUAL(pay_charge_step(1, 0, PAY_GW_CAPTURED), PAY_STEP_CHARGE);
    CU_ASSERT_EQUAL(pay_charge_step(0, 0, PAY_GW_CAPTURED), PAY_STEP_REFUSE);
    /* a re-run after BH_DB_RETRY never calls the gateway again */
    for (int o = PAY_GW_CAPTURED; o <= PAY_GW_TRANSIENT; o++)
        CU_ASSERT_EQUAL(pay_charge_step(1, 1, (pay_gw_outcome)o), PAY_STEP_RECORD);
    /* ...and when the order moved on meanwhile, money that moved or may
     * have moved is still recorded; only a decline may be refused */
    CU_ASSERT_EQUAL(pay_charge_step(0, 1, PAY_GW_CAPTURED), PAY_STEP_RECORD);
    CU_ASSERT_EQUAL(pay_charge_step(0, 1, PAY_GW_PENDING), PAY_STEP_RECORD);
    CU_ASSERT_EQUAL(pay_charge_step(0, 1, PAY_GW_TRANSIENT), PAY_STEP_RECORD);
    CU_ASSERT_EQUAL(pay_charge_step(0, 1, PAY_GW_DECLINED), PAY_STEP_REFUSE);
}

/* ---- the http gateway's answers, and the config ------------------------------------------ */

static void test_http_parse(void)
{
    static const struct {
        pay_gw_op op;
        const char *body;
        pay_gw_outcome outcome;
        const char *ref, *pix, *reason; /* "": not checked */
    } good[] = {
        {PAY_OP_CHARGE, "{\"status\":\"captured\",\"id\":\"ch_1\"}", PAY_GW_CAPTURED, "ch_1", "",
         ""},
        {PAY_OP_CHARGE, "{\"status\":\"pending\",\"pix_copy_paste\":\"000201abc\"}", PAY_GW_PENDING,
         "", "000201abc", ""},
        {PAY_OP_CHARGE, "{\"status\":\"declined\"}", PAY_GW_DECLINED, "", "", "declined"},
        {PAY_OP_REFUND, "{\"status\":\"refunded\"}", PAY_GW_REFUNDED, "", "", ""},
    };
    pay_gw_result r;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        memset(&r, 0, sizeof r);
        CU_ASSERT_EQUAL(pay_http_gw_parse(good[i].op, good[i].body, strlen(good[i].body), &r), 0);
        CU_ASSERT_EQUAL(r.outcome, good[i].outcome);
        CU_ASSERT(!*good[i].ref || strcmp(r.gateway_ref, good[i].ref) == 0);
        CU_ASSERT(!*good[i].pix || strcmp(r.pix_copy_paste, good[i].pix) == 0);
        CU_ASSERT(!*good[i].reason || strcmp(r.reason, good[i].reason) == 0);
    }
    const char *bad[] = {"",
                         "[]",
                         "{}",
                         "{\"status\":1}",
                         "{\"status\":\"weird\"}",
                         "{\"status\":\"refunded\"}", /* not an answer to a charge */
                         "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(pay_http_gw_parse(PAY_OP_CHARGE, bad[i], strlen(bad[i]), &r), -1);
}

static int parse_config(const char *text, pay_config *c, char *err, size_t errlen)
{
    json_t *j = json_loads(text, 0, NULL);
    int rc = pay_config_parse(j, c, err, errlen);
    json_decref(j);
    return rc;
}

static void test_config(void)
{
    pay_config c;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(parse_config("{}", &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.gateway, PAY_GW_SIMULATOR);
    CU_ASSERT_EQUAL(c.gateway_timeout_ms, 5000);
    CU_ASSERT_EQUAL(c.retry_max_attempts, 3);
    CU_ASSERT_EQUAL(c.breaker_failures, 5);
    CU_ASSERT_EQUAL(c.breaker_cooldown_ms, 30000);
    CU_ASSERT_EQUAL(c.webhook_tolerance_s, 300);
    CU_ASSERT_PTR_NULL(c.webhook_secret);
    pay_config_free(&c);
    CU_ASSERT_EQUAL(parse_config("{\"$comment\":\"allowed\",\"gateway\":\"http\","
                                 "\"gateway_url\":\"http://127.0.0.1:1\","
                                 "\"allow_insecure_gateway\":true,\"gateway_timeout_ms\":200,"
                                 "\"retry_budget_ms\":1000,\"webhook_secret\":"
                                 "\"0123456789abcdef\"}",
                                 &c, err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(c.gateway, PAY_GW_HTTP);
    CU_ASSERT_STRING_EQUAL(c.gateway_url, "http://127.0.0.1:1");
    pay_config_free(&c);
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"gateway\":\"paypal\"}", "config.gateway must be \"simulator\" or \"http\""},
        {"{\"unknown\":1}", "config.unknown: unknown key"},
        {"{\"gateway\":\"http\"}", "config.gateway_url is required with \"gateway\": \"http\""},
        {"{\"gateway\":\"http\",\"gateway_url\":\"http://x\"}",
         "config.gateway_url is http://: use https://, or set allow_insecure_gateway"},
        {"{\"gateway\":\"http\",\"gateway_url\":\"ftp://x\"}",
         "config.gateway_url must be an https:// URL"},
        {"{\"gateway\":\"http\",\"gateway_url\":\"https://x/\"}",
         "config.gateway_url must not end with \"/\""},
        {"{\"gateway_url\":\"https://x\"}",
         "config.gateway_url and gateway_api_key need \"gateway\": \"http\""},
        {"{\"gateway_timeout_ms\":0}",
         "config.gateway_timeout_ms must be an integer from 50 to 60000"},
        {"{\"gateway_timeout_ms\":\"5000\"}",
         "config.gateway_timeout_ms must be an integer from 50 to 60000"},
        {"{\"retry_max_attempts\":11}",
         "config.retry_max_attempts must be an integer from 1 to 10"},
        {"{\"retry_budget_ms\":100,\"gateway_timeout_ms\":200}",
         "config.retry_budget_ms must be at least gateway_timeout_ms (one attempt)"},
        {"{\"webhook_secret\":\"short\"}",
         "config.webhook_secret must be a string of 16..512 printable characters without spaces"},
        {"{\"breaker_failures\":0}", "config.breaker_failures must be an integer from 1 to 1000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(parse_config(bad[i].text, &c, err, sizeof err), -1);
        if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0) {
            fprintf(stderr, "\n%s -> %s\n", bad[i].text, err);
            CU_FAIL(bad[i].msg);
        }
    }
    /* the secret is never quoted */
    CU_ASSERT_EQUAL(parse_config("{\"webhook_secret\":\"s3cr3t value\"}", &c, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(strstr(err, "s3cr3t"));
}

/* ---- the payment id: derived from (sub, order, Idempotency-Key) ------------------------ */

static void test_payment_id(void)
{
    char a[37], b[37];
    CU_ASSERT_EQUAL(pay_payment_id("alice-1", "order-1", "key-1", a), 0);
    CU_ASSERT_EQUAL(strlen(a), 36);
    CU_ASSERT_EQUAL(a[8], '-');
    CU_ASSERT_EQUAL(a[14], '8');                   /* version 8 */
    CU_ASSERT_PTR_NOT_NULL(strchr("89ab", a[19])); /* the RFC 9562 variant */
    /* the same three: the same id (a retry reaches the gateway under it) */
    CU_ASSERT_EQUAL(pay_payment_id("alice-1", "order-1", "key-1", b), 0);
    CU_ASSERT_STRING_EQUAL(a, b);
    /* any one different: another id */
    pay_payment_id("bob-1", "order-1", "key-1", b);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    pay_payment_id("alice-1", "order-2", "key-1", b);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    pay_payment_id("alice-1", "order-1", "key-2", b);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    /* fields are length-prefixed: moving a byte across a boundary changes it */
    pay_payment_id("ab", "c", "k", a);
    pay_payment_id("a", "bc", "k", b);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

static void payfix_add_tests(CU_pSuite s); /* the tests after main() */

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("payment", NULL, NULL);
    CU_add_test(s, "backoff: full jitter bounds", test_backoff_full_jitter_bounds);
    CU_add_test(s, "retry: attempts and budget", test_retry_attempts_and_budget);
    CU_add_test(s, "breaker: closed, open, half-open, closed", test_breaker_state_machine);
    CU_add_test(s, "breaker: a lost probe is replaced", test_breaker_lost_probe);
    CU_add_test(s, "signature: valid", test_signature_valid);
    CU_add_test(s, "signature: rotation, spaces", test_signature_rotation_and_spaces);
    CU_add_test(s, "signature: refusals", test_signature_refusals);
    CU_add_test(s, "card tokens", test_card_tokens);
    CU_add_test(s, "simulator: test tokens", test_simulator_tokens);
    CU_add_test(s, "gateway: retries, answers, the budget, once", test_gw_do_cases);
    CU_add_test(s, "gateway: the breaker", test_gw_do_breaker);
    CU_add_test(s, "create: the next step across re-runs", test_charge_step);
    CU_add_test(s, "http gateway: answers", test_http_parse);
    CU_add_test(s, "config", test_config);
    payfix_add_tests(s);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/* ---- after a lost answer, a refusal of the key is no decline --------------------------- */

typedef struct status_script {
    fake *f;
    pay_gw_outcome answers[4];
    int http[4]; /* the http_status that goes with each answer */
    int n, calls;
} status_script;

static void status_scripted(void *self, pay_gw_op op, const pay_gw_request *rq, int64_t timeout_ms,
                            pay_gw_result *out)
{
    (void)op;
    (void)rq;
    status_script *s = self;
    int i = s->calls < s->n ? s->calls : s->n - 1;
    s->calls++;
    if (s->answers[i] == PAY_GW_TRANSIENT)
        s->f->now += timeout_ms; /* a timeout */
    out->outcome = s->answers[i];
    out->http_status = s->http[i];
    if (out->outcome == PAY_GW_DECLINED)
        snprintf(out->reason, sizeof out->reason, "gateway_rejected_%d", s->http[i]);
}

/* One operation over answers[0..n-1] (n <= 4) with a three-attempt policy. */
static pay_gw_result run_statuses(pay_gw_op op, int n, const pay_gw_outcome *answers,
                                  const int *http, int *calls)
{
    fake f = {.now = 10000, .rand_value = 0};
    pay_env env = {fake_now, fake_sleep, fake_rand, &f};
    status_script sc = {.f = &f, .n = n};
    for (int i = 0; i < n; i++) {
        sc.answers[i] = answers[i];
        sc.http[i] = http[i];
    }
    pay_gateway gw = {"status-script", status_scripted, &sc};
    pay_breaker b;
    pay_breaker_init(&b, 100, 30000, fake_now, &f);
    pay_resilient r = {&gw, &b, policy(), &env};
    pay_gw_request rq = card("p", "tok_approve");
    pay_gw_result out;
    pay_gw_do(&r, op, &rq, 0, &out);
    pay_breaker_destroy(&b);
    *calls = sc.calls;
    return out;
}

static void test_gw_do_refusal_after_transient(void)
{
    int calls;
    /* a timeout, then 409 "key in use": the first attempt may have captured */
    pay_gw_outcome a1[] = {PAY_GW_TRANSIENT, PAY_GW_DECLINED};
    int h1[] = {0, 409};
    pay_gw_result r = run_statuses(PAY_OP_CHARGE, 2, a1, h1, &calls);
    CU_ASSERT_EQUAL(r.outcome, PAY_GW_TRANSIENT);
    CU_ASSERT_EQUAL(r.reason[0], '\0');
    CU_ASSERT_EQUAL(calls, 3); /* kept asking while the budget allowed */
    /* a 5xx, then 422: unknown as well; refunds the same */
    pay_gw_outcome a2[] = {PAY_GW_TRANSIENT, PAY_GW_DECLINED};
    int h2[] = {503, 422};
    r = run_statuses(PAY_OP_REFUND, 2, a2, h2, &calls);
    CU_ASSERT_EQUAL(r.outcome, PAY_GW_TRANSIENT);
    /* a timeout, 409, then the real answer: captured */
    pay_gw_outcome a3[] = {PAY_GW_TRANSIENT, PAY_GW_DECLINED, PAY_GW_CAPTURED};
    int h3[] = {0, 409, 200};
    r = run_statuses(PAY_OP_CHARGE, 3, a3, h3, &calls);
    CU_ASSERT_EQUAL(r.outcome, PAY_GW_CAPTURED);
    CU_ASSERT_EQUAL(calls, 3);
    /* a timeout, then a real decline in a 2xx body: final */
    pay_gw_outcome a4[] = {PAY_GW_TRANSIENT, PAY_GW_DECLINED};
    int h4[] = {0, 200};
    r = run_statuses(PAY_OP_CHARGE, 2, a4, h4, &calls);
    CU_ASSERT_EQUAL(r.outcome, PAY_GW_DECLINED);
    CU_ASSERT_EQUAL(calls, 2);
    /* a 4xx on the first attempt is still a final refusal: nothing was sent before */
    pay_gw_outcome a5[] = {PAY_GW_DECLINED};
    int h5[] = {400};
    r = run_statuses(PAY_OP_CHARGE, 1, a5, h5, &calls);
    CU_ASSERT_EQUAL(r.outcome, PAY_GW_DECLINED);
    CU_ASSERT_STRING_EQUAL(r.reason, "gateway_rejected_400");
    CU_ASSERT_EQUAL(calls, 1);
}

static void payfix_add_tests(CU_pSuite s)
{
    CU_add_test(s, "gateway: a refusal after a lost answer leaves it unknown",
                test_gw_do_refusal_after_transient);
    CU_add_test(s, "payment id: derived from caller, order and key", test_payment_id);
}
