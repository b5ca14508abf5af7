// payment.test.mjs - the payment plugin over HTTP: a real bilhetagemd with
// products, order and payment, on SQLite (and PostgreSQL through
// payment-pg.test.sh), real tokens, the built-in simulator gateway and, for
// the "http" gateway, the test provider of gateway.mjs.
//
// Every server runs with short gateway timeouts (200-500 ms) so the slow
// paths (timeouts, retries, the breaker, reconciliation) take about a
// second, and every wait is bounded.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';

import { checkoutConfig, drivers, startCheckout } from './checkout.mjs';
import { startGateway } from './gateway.mjs';
import { runBinary, serverEnv, sleep, waitFor, writeTempFile } from './lib.mjs';

const SECRET = `whsec_${crypto.randomBytes(16).toString('hex')}`;
const PAN = '4111111111111111';

const FAST = {
  gateway_timeout_ms: 200, retry_max_attempts: 3, retry_base_ms: 10, retry_max_delay_ms: 40,
  retry_budget_ms: 1000, breaker_failures: 5, breaker_cooldown_ms: 60000,
  webhook_secret: '${BH_TEST_WEBHOOK_SECRET}', reconcile_interval_ms: 200,
};

async function shopWith(t, driver, { payment = {}, order = {} } = {}) {
  const shop = await startCheckout({
    t, driver, plugins: ['products', 'order', 'payment'],
    config: { order, payment: { ...FAST, ...payment } },
    env: { BH_TEST_WEBHOOK_SECRET: SECRET },
  });
  const ev = await shop.call('POST', '/events', {
    as: 'admin',
    body: {
      name: 'Show', venue: 'Arena', starts_at: '2030-01-01T20:00:00Z', currency: 'BRL',
      ticket_types: [{ name: 'Pista', price_cents: 5000, capacity: 1000 }],
    },
  });
  assert.equal(ev.status, 201, ev.body);
  shop.ticketType = ev.json.ticket_types[0].id;
  return shop;
}

async function placeOrder(shop, as = 'alice', quantity = 2) {
  const res = await shop.call('POST', '/orders', {
    as, key: true, body: { items: [{ ticket_type_id: shop.ticketType, quantity }] },
  });
  assert.equal(res.status, 201, res.body);
  assert.equal(res.json.status, 'pending_payment');
  return res.json;
}

const pay = (shop, orderId, body, { as = 'alice', key = true, headers } = {}) =>
  shop.call('POST', `/orders/${orderId}/payments`, { as, key, body, headers });

const orderStatus = async (shop, orderId) => (await shop.call('GET', `/orders/${orderId}`, { as: 'admin' })).json.status;

async function counter(shop, name) {
  const res = await shop.call('GET', '/metrics');
  const m = new RegExp(`^bilhetagem_${name}_total (\\d+)$`, 'm').exec(res.body);
  return m ? Number(m[1]) : 0;
}

function sign(body, { secret = SECRET, t = Math.floor(Date.now() / 1000) } = {}) {
  const v1 = crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

const webhook = (shop, payload, opts = {}) => {
  const body = JSON.stringify(payload);
  return shop.call('POST', '/payments/webhook', {
    body, headers: { 'X-Signature': opts.signature ?? sign(body, opts) },
  });
};

function assertProblem(res, status, type) {
  assert.equal(res.status, status, res.body);
  assert.match(res.headers['content-type'], /^application\/problem\+json/);
  assert.equal(res.json.type, `https://bilhetagem.dev/problems/${type}`);
}

for (const driver of drivers()) {
  test(`payment on ${driver}: cards, PIX, webhooks, refunds`, async (t) => {
    const shop = await shopWith(t, driver);

    await t.test('tok_approve captures the total and the order becomes paid', async () => {
      const order = await placeOrder(shop);
      const res = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' });
      assert.equal(res.status, 201, res.body);
      assert.equal(res.json.status, 'captured');
      assert.equal(res.json.order_id, order.id);
      assert.equal(res.json.method, 'card');
      assert.equal(res.json.amount_cents, order.total_cents);
      assert.equal(res.json.amount_cents, 10000);
      assert.equal(res.json.currency, 'BRL');
      assert.match(res.json.id, /^[0-9a-f-]{36}$/);
      assert.match(res.json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(res.headers.location, `/payments/${res.json.id}`);
      assert.equal(await orderStatus(shop, order.id), 'paid');
      // the owner and admins read it; another customer is told it does not exist
      const mine = await shop.call('GET', `/payments/${res.json.id}`, { as: 'alice' });
      assert.equal(mine.status, 200);
      assert.equal(mine.json.status, 'captured');
      assert.equal((await shop.call('GET', `/payments/${res.json.id}`, { as: 'admin' })).status, 200);
      assertProblem(await shop.call('GET', `/payments/${res.json.id}`, { as: 'bob' }), 404, 'not-found');
      assertProblem(await shop.call('GET', '/payments/nope', { as: 'alice' }), 404, 'not-found');
      assert.equal((await shop.call('GET', `/payments/${res.json.id}`)).status, 401);
      // paying a paid order again
      assertProblem(await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' }), 409, 'order-not-payable');
    });

    await t.test('bad input is a 422 naming the field; card numbers are never echoed', async () => {
      const order = await placeOrder(shop);
      let res = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve', amount_cents: 1 });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(res.json.errors.map((e) => e.pointer), ['/amount_cents']);
      res = await pay(shop, order.id, { method: 'card', card_token: PAN });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(res.json.errors.map((e) => e.pointer), ['/card_token']);
      assert.ok(!res.body.includes(PAN), 'the card number is echoed');
      res = await pay(shop, order.id, { method: 'card', card_token: '4111 1111 1111 1111' });
      assertProblem(res, 422, 'validation');
      assert.ok(!res.body.includes('4111 1111'));
      res = await pay(shop, order.id, { method: 'card' });
      assert.deepEqual(res.json.errors.map((e) => e.pointer), ['/card_token']);
      res = await pay(shop, order.id, { method: 'boleto' });
      assert.deepEqual(res.json.errors.map((e) => e.pointer), ['/method']);
      res = await pay(shop, order.id, { method: 'pix', card_token: 'tok_approve' });
      assert.deepEqual(res.json.errors.map((e) => e.pointer), ['/card_token']);
      res = await pay(shop, order.id, { method: 'card', card_token: 'pm_live_123' });
      assert.deepEqual(res.json.errors.map((e) => e.pointer), ['/card_token']);
      res = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve', 'x/~y': 1, amount: 5 });
      assert.deepEqual(res.json.errors.map((e) => e.pointer).sort(), ['/amount', '/x~1~0y']);
      res = await pay(shop, order.id, { method: 'card', card_token: 'x'.repeat(100000) });
      assertProblem(res, 422, 'validation');
      res = await pay(shop, order.id, [1, 2]);
      assertProblem(res, 422, 'validation');
      // no Idempotency-Key
      res = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' }, { key: false });
      assertProblem(res, 400, 'idempotency-key');
      // nothing was charged: the order still waits
      assert.equal(await orderStatus(shop, order.id), 'pending_payment');
      assert.ok(!shop.server.stdout().includes(PAN), 'a card number reached the log');
    });

    await t.test('another customer paying the order gets 404; unknown orders 404', async () => {
      const order = await placeOrder(shop, 'alice');
      assertProblem(await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' }, { as: 'bob' }),
                    404, 'not-found');
      assertProblem(await pay(shop, '00000000-0000-4000-8000-000000000000', { method: 'pix' }), 404, 'not-found');
      assert.equal(await orderStatus(shop, order.id), 'pending_payment');
    });

    await t.test('tok_decline: stored as declined, the order waits, a second card pays', async () => {
      const declinedBefore = await counter(shop, 'payments_declined');
      const order = await placeOrder(shop);
      const res = await pay(shop, order.id, { method: 'card', card_token: 'tok_decline' });
      assert.equal(res.status, 201, res.body);
      assert.equal(res.json.status, 'declined');
      assert.equal(res.json.decline_reason, 'card_declined');
      assert.equal(await orderStatus(shop, order.id), 'pending_payment');
      const stored = await shop.call('GET', `/payments/${res.json.id}`, { as: 'alice' });
      assert.equal(stored.json.status, 'declined');
      const second = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' });
      assert.equal(second.status, 201);
      assert.equal(second.json.status, 'captured');
      assert.notEqual(second.json.id, res.json.id);
      assert.equal(await orderStatus(shop, order.id), 'paid');
      assert.equal(await counter(shop, 'payments_declined'), declinedBefore + 1);
    });

    await t.test('tok_fail_2: two 5xx, retried with the same key, captured once', async () => {
      const before = await counter(shop, 'payments_captured');
      const order = await placeOrder(shop);
      const res = await pay(shop, order.id, { method: 'card', card_token: 'tok_fail_2' });
      assert.equal(res.status, 201, res.body);
      assert.equal(res.json.status, 'captured');
      assert.equal(await orderStatus(shop, order.id), 'paid');
      assert.equal(await counter(shop, 'payments_captured'), before + 1);
    });

    await t.test('tok_fail_4: attempts run out, pending; the reconcile task captures it', async () => {
      const order = await placeOrder(shop);
      const res = await pay(shop, order.id, { method: 'card', card_token: 'tok_fail_4' });
      assert.equal(res.status, 201, res.body);
      assert.equal(res.json.status, 'pending'); // unknown, never "failed"
      assert.equal(await orderStatus(shop, order.id), 'pending_payment');
      // the task asks again with the same payment id: one more 5xx, then captured
      await waitFor(async () => (await orderStatus(shop, order.id)) === 'paid',
                    { timeoutMs: 5000, what: 'reconciliation to capture the payment' });
      const stored = await shop.call('GET', `/payments/${res.json.id}`, { as: 'alice' });
      assert.equal(stored.json.status, 'captured');
      assert.equal(stored.json.orphaned, false);
    });

    await t.test('the same Idempotency-Key replays the same payment', async () => {
      const before = await counter(shop, 'payments_captured');
      const order = await placeOrder(shop);
      const key = crypto.randomUUID();
      const first = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' }, { key });
      const again = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' }, { key });
      assert.equal(first.status, 201);
      assert.equal(again.status, 201);
      assert.equal(again.body, first.body);
      assert.equal(again.headers['idempotency-replayed'], 'true');
      assert.equal(await counter(shop, 'payments_captured'), before + 1);
      // a second key for the same order: refused once the first captured
      const other = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' });
      assertProblem(other, 409, 'order-not-payable');
      assert.equal(await counter(shop, 'payments_captured'), before + 1);
    });

    await t.test('two keys at once for one order: exactly one capture', async () => {
      const before = await counter(shop, 'payments_captured');
      const order = await placeOrder(shop);
      const results = await Promise.all([1, 2, 3].map(() =>
        pay(shop, order.id, { method: 'card', card_token: 'tok_approve' })));
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
      for (const r of results.filter((x) => x.status !== 201)) assertProblem(r, 409, 'order-not-payable');
      assert.equal(await counter(shop, 'payments_captured'), before + 1);
    });

    await t.test('PIX: pending with a copy-and-paste code until the signed webhook', async () => {
      const order = await placeOrder(shop);
      const res = await pay(shop, order.id, { method: 'pix' });
      assert.equal(res.status, 201, res.body);
      assert.equal(res.json.status, 'pending');
      assert.equal(res.json.method, 'pix');
      assert.match(res.json.pix_copy_paste, /^000201.*6304[0-9A-F]{4}$/);
      assert.equal(await orderStatus(shop, order.id), 'pending_payment');
      const id = res.json.id;
      const payload = { payment_id: id, status: 'captured', amount_cents: order.total_cents };
      // refused: no signature, wrong secret, tampered body, stale or future timestamp
      assertProblem(await webhook(shop, payload, { signature: '' }), 401, 'invalid-signature');
      assertProblem(await webhook(shop, payload, { signature: 't=1,v1=zz' }), 401, 'invalid-signature');
      assertProblem(await webhook(shop, payload, { secret: 'whsec_not_the_secret_at_all' }), 401, 'invalid-signature');
      const body = JSON.stringify(payload);
      const tampered = await shop.call('POST', '/payments/webhook', {
        body: body.replace('captured', 'declined'), headers: { 'X-Signature': sign(body) },
      });
      assertProblem(tampered, 401, 'invalid-signature');
      const now = Math.floor(Date.now() / 1000);
      // past the 300 s tolerance by more than the second the clocks may tick meanwhile
      assertProblem(await webhook(shop, payload, { t: now - 310 }), 401, 'invalid-signature');
      assertProblem(await webhook(shop, payload, { t: now + 310 }), 401, 'invalid-signature');
      assert.equal((await shop.call('GET', `/payments/${id}`, { as: 'alice' })).json.status, 'pending');
      // a wrong amount is refused; then the real confirmation captures
      const wrong = await webhook(shop, { ...payload, amount_cents: 1 });
      assertProblem(wrong, 422, 'validation');
      const ok = await webhook(shop, payload);
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.json.status, 'captured');
      assert.equal(ok.json.pix_copy_paste, undefined);
      assert.equal(await orderStatus(shop, order.id), 'paid');
      // the provider delivers again: nothing changes
      const before = await counter(shop, 'payments_captured');
      const dup = await webhook(shop, payload);
      assert.equal(dup.status, 200);
      assert.equal(dup.json.status, 'captured');
      assert.equal(dup.json.captured_at, ok.json.captured_at);
      assert.equal(await counter(shop, 'payments_captured'), before);
      // unknown payments, bad bodies
      assertProblem(await webhook(shop, { payment_id: crypto.randomUUID(), status: 'captured' }), 404, 'not-found');
      const bad = await webhook(shop, { payment_id: id, status: 'maybe' });
      assertProblem(bad, 422, 'validation');
      assert.deepEqual(bad.json.errors.map((e) => e.pointer), ['/status']);
    });

    await t.test('PIX declined by the gateway: the order waits', async () => {
      const order = await placeOrder(shop);
      const res = await pay(shop, order.id, { method: 'pix' });
      const hook = await webhook(shop, { payment_id: res.json.id, status: 'declined', reason: 'expired_qr' });
      assert.equal(hook.status, 200, hook.body);
      assert.equal(hook.json.status, 'declined');
      assert.equal(hook.json.decline_reason, 'expired_qr');
      assert.equal(await orderStatus(shop, order.id), 'pending_payment');
    });

    await t.test('refunds: admins only, captured payments only; the order becomes refunded', async () => {
      const before = await counter(shop, 'payments_refunded');
      const order = await placeOrder(shop);
      const res = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' });
      const id = res.json.id;
      assertProblem(await shop.call('POST', `/payments/${id}/refund`, { as: 'alice' }), 403, 'forbidden');
      assert.equal((await shop.call('POST', `/payments/${id}/refund`)).status, 401);
      const refund = await shop.call('POST', `/payments/${id}/refund`, { as: 'admin' });
      assert.equal(refund.status, 200, refund.body);
      assert.equal(refund.json.status, 'refunded');
      assert.match(refund.json.refunded_at, /Z$/);
      assert.equal(await orderStatus(shop, order.id), 'refunded');
      assert.equal((await shop.call('GET', `/payments/${id}`, { as: 'alice' })).json.status, 'refunded');
      assertProblem(await shop.call('POST', `/payments/${id}/refund`, { as: 'admin' }), 409, 'payment-not-refundable');
      assert.equal(await counter(shop, 'payments_refunded'), before + 1);
      // a declined payment cannot be refunded; an unknown one does not exist
      const order2 = await placeOrder(shop);
      const declined = await pay(shop, order2.id, { method: 'card', card_token: 'tok_decline' });
      assertProblem(await shop.call('POST', `/payments/${declined.json.id}/refund`, { as: 'admin' }),
                    409, 'payment-not-refundable');
      assertProblem(await shop.call('POST', `/payments/${crypto.randomUUID()}/refund`, { as: 'admin' }),
                    404, 'not-found');
    });

    await t.test('no card token ever reaches the log', async () => {
      const out = shop.server.stdout();
      for (const secret of ['tok_approve', 'tok_decline', 'tok_fail_2', PAN, SECRET]) {
        assert.ok(!out.includes(secret), `${secret} is in the log`);
      }
    });
  });

  test(`payment on ${driver}: timeouts open the breaker, then 503 at once`, async (t) => {
    const timeout = 800; // the 503 must come in well under half of it, even on a busy machine
    const shop = await shopWith(t, driver, {
      payment: { gateway_timeout_ms: timeout, retry_max_attempts: 2, retry_budget_ms: 1800,
                 breaker_failures: 2, reconcile_interval_ms: 60000 },
    });
    const order = await placeOrder(shop);
    // the gateway never answers: both attempts time out, the outcome is
    // unknown, so the payment is kept pending (never reported failed)
    let started = Date.now();
    const first = await pay(shop, order.id, { method: 'card', card_token: 'tok_timeout' });
    const slow = Date.now() - started;
    assert.equal(first.status, 201, first.body);
    assert.equal(first.json.status, 'pending');
    assert.ok(slow >= 2 * timeout - 50, `answered in ${slow} ms: the gateway was not waited for`);
    assert.equal(await orderStatus(shop, order.id), 'pending_payment');
    // the breaker is open: refused without calling the gateway
    for (let i = 0; i < 3; i++) {
      started = Date.now();
      const res = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' });
      const fast = Date.now() - started;
      assertProblem(res, 503, 'gateway-unavailable');
      assert.ok(Number(res.headers['retry-after']) >= 1 && Number(res.headers['retry-after']) <= 60,
                `Retry-After ${res.headers['retry-after']}`);
      assert.ok(fast < timeout / 2, `503 took ${fast} ms: a gateway call was waited for`);
    }
    // the 503 was not stored with its key: the same key may run again later
    const key = crypto.randomUUID();
    assertProblem(await pay(shop, order.id, { method: 'pix' }, { key }), 503, 'gateway-unavailable');
    assertProblem(await pay(shop, order.id, { method: 'pix' }, { key }), 503, 'gateway-unavailable');
    // the pending payment stays pending (the simulator never settles tok_timeout)
    const stored = await shop.call('GET', `/payments/${first.json.id}`, { as: 'alice' });
    assert.equal(stored.json.status, 'pending');
  });

  test(`payment on ${driver}: money after the hold expired is orphaned, then refunded`, async (t) => {
    const shop = await shopWith(t, driver, { order: { hold_seconds: 1 } });
    // a card charge may take the whole retry budget (1 s): a 1 s hold is too short
    const early = await placeOrder(shop);
    assertProblem(await pay(shop, early.id, { method: 'card', card_token: 'tok_approve' }), 409, 'order-not-payable');
    // PIX is accepted; the buyer pays after the hold expired
    const order = await placeOrder(shop);
    const res = await pay(shop, order.id, { method: 'pix' });
    assert.equal(res.status, 201, res.body);
    await sleep(1300);
    const hook = await webhook(shop, { payment_id: res.json.id, status: 'captured' });
    assert.equal(hook.status, 200, hook.body);
    assert.equal(hook.json.status, 'orphaned');
    assert.equal(hook.json.orphaned, true);
    assert.notEqual(await orderStatus(shop, order.id), 'paid');
    assert.equal(await counter(shop, 'payments_orphaned'), 1);
    await shop.server.waitForLine((l) => typeof l.msg === 'string' && l.msg.includes('kept as orphaned'));
    // the reconcile task refunds it through the gateway
    const refunded = await waitFor(async () => {
      const r = await shop.call('GET', `/payments/${res.json.id}`, { as: 'alice' });
      return r.json.status === 'refunded' && r.json;
    }, { timeoutMs: 5000, what: 'the orphaned payment to be refunded' });
    assert.equal(refunded.orphaned, true);
    assert.notEqual(await orderStatus(shop, order.id), 'paid');
    assert.notEqual(await orderStatus(shop, order.id), 'refunded');
    // a second confirmation changes nothing
    const dup = await webhook(shop, { payment_id: res.json.id, status: 'captured' });
    assert.equal(dup.status, 200);
    assert.equal(dup.json.status, 'refunded');
  });

  test(`payment on ${driver}: without a webhook_secret PIX is off`, async (t) => {
    const shop = await shopWith(t, driver, { payment: { webhook_secret: undefined } });
    const order = await placeOrder(shop);
    const res = await pay(shop, order.id, { method: 'pix' });
    assertProblem(res, 422, 'validation');
    assert.deepEqual(res.json.errors.map((e) => e.pointer), ['/method']);
    const hook = await webhook(shop, { payment_id: crypto.randomUUID(), status: 'captured' });
    assertProblem(hook, 401, 'invalid-signature');
    // cards still work
    assert.equal((await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' })).json.status, 'captured');
  });

  test(`payment on ${driver}: the http gateway`, async (t) => {
    const gw = await startGateway({ slowMs: 1500 });
    t.after(() => gw.close());
    const shop = await shopWith(t, driver, {
      payment: { gateway: 'http', gateway_url: gw.url, allow_insecure_gateway: true,
                 gateway_api_key: 'sk_test_key_123', gateway_timeout_ms: 300, retry_budget_ms: 1200 },
    });
    const charges = (id) => gw.requests.filter((r) => r.method === 'POST' && r.path === '/charges' &&
                                                 r.body.payment_id === id);

    // tok_fail_2: three calls, all with the payment's id as the idempotency key
    const order = await placeOrder(shop);
    const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const res = await pay(shop, order.id, { method: 'card', card_token: 'tok_fail_2' },
                          { headers: { 'X-Amzn-Trace-Id': trace } });
    assert.equal(res.status, 201, res.body);
    assert.equal(res.json.status, 'captured');
    const sent = charges(res.json.id);
    assert.equal(sent.length, 3);
    for (const r of sent) {
      assert.equal(r.idempotencyKey, res.json.id);
      assert.equal(r.authorization, 'Bearer sk_test_key_123');
      assert.deepEqual(r.body, { payment_id: res.json.id, order_id: order.id, amount_cents: order.total_cents,
                                 currency: 'BRL', method: 'card', card_token: 'tok_fail_2' });
      // the trace header travels once a tracing plugin set it on the unit
      if (r.traceHeader !== undefined) assert.match(r.traceHeader, /^Root=1-/);
    }
    assert.equal(gw.charges.get(res.json.id).charged, 1);
    assert.equal(await orderStatus(shop, order.id), 'paid');

    // declined
    const order2 = await placeOrder(shop);
    const declined = await pay(shop, order2.id, { method: 'card', card_token: 'tok_decline' });
    assert.equal(declined.json.status, 'declined');
    assert.equal(declined.json.decline_reason, 'card_declined');

    // the answer is lost (slower than the timeout) although the money moved:
    // pending, then the reconcile task asks again and captures
    const order3 = await placeOrder(shop);
    const lost = await pay(shop, order3.id, { method: 'card', card_token: 'tok_timeout' });
    assert.equal(lost.status, 201, lost.body);
    assert.equal(lost.json.status, 'pending');
    for (const r of charges(lost.json.id)) assert.equal(r.idempotencyKey, lost.json.id);
    assert.equal(gw.charges.get(lost.json.id).charged, 1);
    await waitFor(async () => (await orderStatus(shop, order3.id)) === 'paid',
                  { timeoutMs: 5000, what: 'reconciliation to capture the lost charge' });
    const settled = await shop.call('GET', `/payments/${lost.json.id}`, { as: 'alice' });
    assert.equal(settled.json.status, 'captured');
    assert.ok(gw.requests.some((r) => r.method === 'GET' && r.path === `/charges/${lost.json.id}`));

    // PIX through the provider, confirmed by its webhook
    const order4 = await placeOrder(shop);
    const pix = await pay(shop, order4.id, { method: 'pix' });
    assert.equal(pix.json.status, 'pending');
    assert.equal(pix.json.pix_copy_paste, `00020126PIX-${pix.json.id}`);
    const hook = await webhook(shop, { payment_id: pix.json.id, status: 'captured', id: `ch_${pix.json.id}` });
    assert.equal(hook.json.status, 'captured');
    assert.equal(await orderStatus(shop, order4.id), 'paid');

    // refund: its own idempotency key
    const refund = await shop.call('POST', `/payments/${res.json.id}/refund`, { as: 'admin' });
    assert.equal(refund.status, 200, refund.body);
    assert.equal(refund.json.status, 'refunded');
    const r = gw.requests.find((x) => x.path === `/charges/${res.json.id}/refund`);
    assert.equal(r.idempotencyKey, `${res.json.id}:refund`);
    assert.equal(await orderStatus(shop, order.id), 'refunded');
    assert.ok(!shop.server.stdout().includes('sk_test_key_123'), 'the API key reached the log');
  });
}

test('a bad payment config stops startup, naming the key and never a secret', async () => {
  const storage = { driver: 'sqlite', path: ':memory:' };
  const cases = [
    [{ gateway: 'paypal' }, /config\.gateway must be/],
    [{ gateway: 'http' }, /config\.gateway_url is required/],
    [{ gateway: 'http', gateway_url: 'http://127.0.0.1:9' }, /allow_insecure_gateway/],
    [{ gateway_timeout_ms: 10 }, /config\.gateway_timeout_ms must be an integer from 50/],
    [{ retry_budget_ms: 100, gateway_timeout_ms: 200 }, /config\.retry_budget_ms/],
    [{ amount: 1 }, /config\.amount: unknown key/],
    [{ webhook_secret: 'short secret' }, /config\.webhook_secret must be/],
  ];
  for (const [payment, message] of cases) {
    const config = checkoutConfig({ storage, plugins: ['products', 'order', 'payment'], config: { payment } });
    const file = writeTempFile('bad.json', config);
    const r = await runBinary(['-t', '-c', file], { env: serverEnv({ BH_TEST_JWT_SECRET: 'x'.repeat(40) }) });
    assert.notEqual(r.code, 0, JSON.stringify(payment));
    assert.match(r.stderr + r.stdout, message);
    assert.ok(!(r.stderr + r.stdout).includes('short secret'));
  }
});

// ---- regressions (payfix) ------------------------------------------------------------

// A trigger that makes every INSERT into payments fail, and its removal.
const failInserts = (shop, driver) => shop.sql(driver === 'sqlite'
  ? `CREATE TRIGGER no_insert BEFORE INSERT ON payments BEGIN SELECT RAISE(ABORT, 'failing for the test'); END;`
  : `CREATE FUNCTION no_insert() RETURNS trigger LANGUAGE plpgsql AS
     $$ BEGIN RAISE EXCEPTION 'failing for the test'; END $$;
     CREATE TRIGGER no_insert BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION no_insert();`);
const allowInserts = (shop, driver) => shop.sql(driver === 'sqlite' ? 'DROP TRIGGER no_insert'
  : 'DROP TRIGGER no_insert ON payments');

const paymentOf = async (shop, id) => (await shop.call('GET', `/payments/${id}`, { as: 'admin' })).json;

for (const driver of drivers()) {
  test(`payment on ${driver}: a capture for an order paid meanwhile is orphaned, not a constraint error`, async (t) => {
    // a long first check, so the second payment surely pays the order first
    const shop = await shopWith(t, driver, { payment: { reconcile_interval_ms: 1500 } });
    // #1 stays pending (three 5xx), #2 pays the order with a new key
    const order = await placeOrder(shop);
    const first = await pay(shop, order.id, { method: 'card', card_token: 'tok_fail_4' });
    assert.equal(first.json.status, 'pending', first.body);
    const second = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' });
    assert.equal(second.json.status, 'captured', second.body);
    // another pending payment the same runs must settle
    const other = await placeOrder(shop);
    const pendingOther = await pay(shop, other.id, { method: 'card', card_token: 'tok_fail_4' });
    assert.equal(pendingOther.json.status, 'pending', pendingOther.body);
    // a PIX confirmation for an order a card paid meanwhile: 200 orphaned, not 500
    const order3 = await placeOrder(shop);
    const pix = await pay(shop, order3.id, { method: 'pix' });
    assert.equal((await pay(shop, order3.id, { method: 'card', card_token: 'tok_approve' })).json.status, 'captured');
    const hook = await webhook(shop, { payment_id: pix.json.id, status: 'captured' });
    assert.equal(hook.status, 200, hook.body);
    assert.equal(hook.json.status, 'orphaned');
    assert.equal(hook.json.orphaned, true);
    // reconciliation: #1 is orphaned then refunded, the other payment captured
    await waitFor(async () => (await paymentOf(shop, first.json.id)).status === 'refunded',
                  { timeoutMs: 10000, what: 'payment #1 to be orphaned and refunded' });
    assert.equal((await paymentOf(shop, first.json.id)).orphaned, true);
    await waitFor(async () => (await paymentOf(shop, pendingOther.json.id)).status === 'captured',
                  { timeoutMs: 10000, what: 'the other pending payment to be captured' });
    assert.equal(await orderStatus(shop, other.id), 'paid');
    assert.equal(await orderStatus(shop, order.id), 'paid');
    assert.equal((await paymentOf(shop, second.json.id)).status, 'captured');
    await waitFor(async () => (await paymentOf(shop, pix.json.id)).status === 'refunded',
                  { timeoutMs: 10000, what: 'the orphaned PIX payment to be refunded' });
    assert.equal(await counter(shop, 'payments_orphaned'), 2);
  });

  test(`payment on ${driver}: payments that cannot be settled do not block the others`, async (t) => {
    // the 5xx of the tok_fail_4 payments must not open the breaker
    const shop = await shopWith(t, driver, { payment: { reconcile_interval_ms: 300, breaker_failures: 100 } });
    const payFail4 = async () => pay(shop, (await placeOrder(shop)).id, { method: 'card', card_token: 'tok_fail_4' });
    // two bad ones first (oldest first in every batch), then a good one
    const bad = [await payFail4(), await payFail4()];
    const good = await payFail4();
    for (const p of [...bad, good]) assert.equal(p.json.status, 'pending', p.body);
    // any change of a bad payment's status fails in the database
    const ids = bad.map((p) => p.json.id);
    const list = ids.map((id) => `'${id}'`).join(', ');
    if (driver === 'sqlite') {
      await shop.sql(`CREATE TRIGGER poison BEFORE UPDATE ON payments WHEN OLD.id IN (${list})
                      AND NEW.status <> OLD.status BEGIN SELECT RAISE(ABORT, 'poisoned by the test'); END;`);
    } else {
      await shop.sql(`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS
                      $$ BEGIN RAISE EXCEPTION 'poisoned by the test'; END $$;
                      CREATE TRIGGER poison BEFORE UPDATE ON payments FOR EACH ROW
                      WHEN (OLD.id IN (${list}) AND NEW.status <> OLD.status) EXECUTE FUNCTION poison();`);
    }
    await waitFor(async () => (await paymentOf(shop, good.json.id)).status === 'captured',
                  { timeoutMs: 10000, what: 'the good payment to be captured despite the bad ones' });
    for (const id of ids) {
      await shop.server.waitForLine((l) => typeof l.msg === 'string' && l.msg.includes(id) &&
                                           l.msg.includes('failed to settle'));
      assert.equal((await paymentOf(shop, id)).status, 'pending');
    }
    // once the rows can be written again, later runs settle them
    await shop.sql(driver === 'sqlite' ? 'DROP TRIGGER poison' : 'DROP TRIGGER poison ON payments');
    for (const id of ids) {
      await waitFor(async () => (await paymentOf(shop, id)).status === 'captured',
                    { timeoutMs: 15000, what: 'a bad payment to be captured once it can be' });
    }
  });

}

for (const driver of drivers()) {
  test(`payment on ${driver}: a retry after a 5xx that followed a capture charges under the same key`, async (t) => {
    const gw = await startGateway({});
    t.after(() => gw.close());
    const shop = await shopWith(t, driver, {
      payment: { gateway: 'http', gateway_url: gw.url, allow_insecure_gateway: true,
                 gateway_timeout_ms: 300, retry_budget_ms: 1200 },
    });
    const order = await placeOrder(shop);
    const key = crypto.randomUUID();
    const body = { method: 'card', card_token: 'tok_approve' };
    // the gateway captures, then recording the payment fails: 5xx, nothing kept
    await failInserts(shop, driver);
    const failed = await pay(shop, order.id, body, { key });
    assert.ok(failed.status >= 500, failed.body);
    assert.equal(await orderStatus(shop, order.id), 'pending_payment');
    await allowInserts(shop, driver);
    // the client retries with the same key: the same charge, not a second one
    const retry = await pay(shop, order.id, body, { key });
    assert.equal(retry.status, 201, retry.body);
    assert.equal(retry.json.status, 'captured');
    const sent = gw.requests.filter((r) => r.method === 'POST' && r.path === '/charges' &&
                                           r.body.order_id === order.id);
    assert.equal(sent.length, 2);
    assert.deepEqual([...new Set(sent.map((r) => r.idempotencyKey))], [retry.json.id]);
    assert.equal(gw.charges.get(retry.json.id).charged, 1);
    assert.match(retry.json.id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(await orderStatus(shop, order.id), 'paid');
    // another key is another payment (refused here: the order is paid)
    assertProblem(await pay(shop, order.id, body), 409, 'order-not-payable');
  });
}

for (const driver of drivers()) {
  test(`payment on ${driver}: a webhook naming another currency is refused`, async (t) => {
    const shop = await shopWith(t, driver);
    const order = await placeOrder(shop);
    const pix = await pay(shop, order.id, { method: 'pix' });
    assert.equal(pix.json.status, 'pending', pix.body);
    let res = await webhook(shop, { payment_id: pix.json.id, status: 'captured', currency: 'USD' });
    assertProblem(res, 422, 'validation');
    assert.deepEqual(res.json.errors.map((e) => e.pointer), ['/currency']);
    res = await webhook(shop, { payment_id: pix.json.id, status: 'captured', currency: 7 });
    assertProblem(res, 422, 'validation');
    assert.deepEqual(res.json.errors.map((e) => e.pointer), ['/currency']);
    assert.equal((await paymentOf(shop, pix.json.id)).status, 'pending');
    assert.equal(await orderStatus(shop, order.id), 'pending_payment');
    // the payment's own currency (and amount) is accepted
    res = await webhook(shop, { payment_id: pix.json.id, status: 'captured', currency: 'BRL',
                                amount_cents: order.total_cents });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.status, 'captured');
  });
}

for (const driver of drivers()) {
  test(`payment on ${driver}: a free order is paid with method free, without a gateway`, async (t) => {
    const shop = await shopWith(t, driver);
    const ev = await shop.call('POST', '/events', {
      as: 'admin',
      body: { name: 'Free show', venue: 'Park', starts_at: '2030-01-01T20:00:00Z', currency: 'BRL',
              ticket_types: [{ name: 'Lawn', price_cents: 0, capacity: 100 }] },
    });
    assert.equal(ev.status, 201, ev.body);
    const res = await shop.call('POST', '/orders', {
      as: 'alice', key: true, body: { items: [{ ticket_type_id: ev.json.ticket_types[0].id, quantity: 2 }] },
    });
    assert.equal(res.status, 201, res.body);
    const free = res.json;
    assert.equal(free.total_cents, 0);
    // card and pix are refused for a zero total; free is refused for anything else
    let r = await pay(shop, free.id, { method: 'card', card_token: 'tok_approve' });
    assertProblem(r, 422, 'validation');
    assert.deepEqual(r.json.errors.map((e) => e.pointer), ['/method']);
    assertProblem(await pay(shop, free.id, { method: 'pix' }), 422, 'validation');
    r = await pay(shop, free.id, { method: 'free', card_token: 'tok_approve' });
    assertProblem(r, 422, 'validation');
    assert.deepEqual(r.json.errors.map((e) => e.pointer), ['/card_token']);
    const priced = await placeOrder(shop);
    r = await pay(shop, priced.id, { method: 'free' });
    assertProblem(r, 422, 'validation');
    assert.deepEqual(r.json.errors.map((e) => e.pointer), ['/method']);
    assert.equal(await orderStatus(shop, priced.id), 'pending_payment');
    // free: captured at once, amount 0, the order paid, counted
    const before = await counter(shop, 'payments_captured');
    const paid = await pay(shop, free.id, { method: 'free' });
    assert.equal(paid.status, 201, paid.body);
    assert.equal(paid.json.method, 'free');
    assert.equal(paid.json.status, 'captured');
    assert.equal(paid.json.amount_cents, 0);
    assert.equal(paid.json.currency, 'BRL');
    assert.equal(await orderStatus(shop, free.id), 'paid');
    assert.equal(await counter(shop, 'payments_captured'), before + 1);
    const tickets = await shop.call('GET', `/orders/${free.id}/tickets`, { as: 'alice' });
    assert.equal(tickets.json.items.length, 2);
    // once only
    assertProblem(await pay(shop, free.id, { method: 'free' }), 409, 'order-not-payable');
    // an admin refund needs no gateway either
    const refund = await shop.call('POST', `/payments/${paid.json.id}/refund`, { as: 'admin' });
    assert.equal(refund.status, 200, refund.body);
    assert.equal(refund.json.status, 'refunded');
    assert.equal(await orderStatus(shop, free.id), 'refunded');
  });
}

for (const driver of drivers()) {
  test(`payment on ${driver}: a refund whose recording failed is healed by the admin's retry`, async (t) => {
    const gw = await startGateway({});
    t.after(() => gw.close());
    const shop = await shopWith(t, driver, {
      payment: { gateway: 'http', gateway_url: gw.url, allow_insecure_gateway: true,
                 gateway_timeout_ms: 300, retry_budget_ms: 1200 },
    });
    const order = await placeOrder(shop);
    const paid = await pay(shop, order.id, { method: 'card', card_token: 'tok_approve' });
    assert.equal(paid.json.status, 'captured', paid.body);
    // the gateway refunds, then recording it fails: 5xx, the payment still reads captured
    const id = paid.json.id;
    await shop.sql(driver === 'sqlite'
      ? `CREATE TRIGGER no_refund BEFORE UPDATE ON payments WHEN NEW.status = 'refunded'
         BEGIN SELECT RAISE(ABORT, 'failing for the test'); END;`
      : `CREATE FUNCTION no_refund() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN RAISE EXCEPTION 'failing for the test'; END $$;
         CREATE TRIGGER no_refund BEFORE UPDATE ON payments FOR EACH ROW
         WHEN (NEW.status = 'refunded') EXECUTE FUNCTION no_refund();`);
    const failed = await shop.call('POST', `/payments/${id}/refund`, { as: 'admin' });
    assert.ok(failed.status >= 500, failed.body);
    assert.equal((await paymentOf(shop, id)).status, 'captured');
    await shop.sql(driver === 'sqlite' ? 'DROP TRIGGER no_refund' : 'DROP TRIGGER no_refund ON payments');
    // the admin retries: the same gateway key, and this time it is recorded
    const healed = await shop.call('POST', `/payments/${id}/refund`, { as: 'admin' });
    assert.equal(healed.status, 200, healed.body);
    assert.equal(healed.json.status, 'refunded');
    assert.equal(await orderStatus(shop, order.id), 'refunded');
    const refunds = gw.requests.filter((r) => r.path === `/charges/${id}/refund`);
    assert.equal(refunds.length, 2);
    for (const r of refunds) assert.equal(r.idempotencyKey, `${id}:refund`);
  });
}
