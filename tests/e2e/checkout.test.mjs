// checkout.test.mjs - the whole purchase, end to end, through the four
// checkout plugins together on a real server and database (SQLite here;
// PostgreSQL through checkout-pg.test.sh), with real tokens:
//
//   admin creates an event with two ticket types and three add-ons
//   -> a customer orders tickets plus add-ons
//   -> pays by card (the simulator's tok_approve)
//   -> the order is paid, one ticket per seat is issued, the invoice lists
//      every line with exact totals (add-ons included)
//   -> a check-in admits a ticket once
//   -> the admin refunds: payment and order refunded, tickets void, seats
//      back on sale, a credit note referencing the invoice
// and the same purchase paid by PIX, confirmed by a signed webhook; and an
// order left unpaid until its hold lapses, whose payment is then refused.  The
// business counters in /metrics follow the funnel.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { drivers, startCheckout } from '../integration/checkout.mjs';
import { waitFor } from '../integration/lib.mjs';

const WEBHOOK_SECRET = crypto.randomBytes(24).toString('hex');

/** Create the catalog as the admin: two ticket types, three add-ons. */
async function seedCatalog(shop) {
  const ev = await shop.call('POST', '/events', {
    as: 'admin',
    body: {
      name: 'Show de Verão', venue: 'Arena Central', starts_at: '2031-01-10T21:00:00Z',
      ticket_types: [
        { name: 'Pista', price_cents: 15000, capacity: 100 },
        { name: 'Camarote', price_cents: 42050, capacity: 10 },
      ],
    },
  });
  assert.equal(ev.status, 201, ev.body);
  const [pista, camarote] = ev.json.ticket_types;
  const products = {};
  for (const [sku, name, price] of [['PIPOCA-G', 'Pipoca grande', 2500], ['REFRI-500', 'Refrigerante 500 ml', 899],
                                    ['ESTAC', 'Estacionamento', 3000]]) {
    const res = await shop.call('POST', '/products', {
      as: 'admin', body: { sku, name, price_cents: price, stock: 50 },
    });
    assert.equal(res.status, 201, res.body);
    products[sku] = res.json;
  }
  return { event: ev.json, pista, camarote, products };
}

/** Alice orders 2 Pista + 1 Camarote + 3 popcorn + 2 drinks + 1 parking. */
async function placeOrder(shop, cat) {
  const res = await shop.call('POST', '/orders', {
    as: 'alice', key: true,
    body: {
      items: [{ ticket_type_id: cat.pista.id, quantity: 2 }, { ticket_type_id: cat.camarote.id, quantity: 1 }],
      products: [
        { product_id: cat.products['PIPOCA-G'].id, quantity: 3 },
        { product_id: cat.products['REFRI-500'].id, quantity: 2 },
        { product_id: cat.products.ESTAC.id, quantity: 1 },
      ],
    },
  });
  assert.equal(res.status, 201, res.body);
  return res.json;
}

// 2 x 150.00 + 1 x 420.50 + 3 x 25.00 + 2 x 8.99 + 1 x 30.00
const EXPECTED_LINES = [
  ['Pista', 2, 15000, 30000], ['Camarote', 1, 42050, 42050],
  ['Pipoca grande', 3, 2500, 7500], ['Refrigerante 500 ml', 2, 899, 1798], ['Estacionamento', 1, 3000, 3000],
];
const EXPECTED_TOTAL = 84348;

async function available(shop, eventId) {
  const res = await shop.call('GET', `/events/${eventId}`);
  return Object.fromEntries(res.json.ticket_types.map((t) => [t.name, t.available]));
}

async function invoiceOf(shop, orderId, as = 'alice') {
  let res;
  await waitFor(async () => {
    res = await shop.call('GET', `/orders/${orderId}/invoice`, { as });
    return res.status === 200;
  }, { timeoutMs: 10_000, what: `the invoice of order ${orderId}` });
  return res.json;
}

function checkInvoice(inv, order, payment) {
  assert.equal(inv.kind, 'invoice');
  assert.match(inv.number, /^\d{4}-\d{6}$/);
  assert.equal(inv.order_id, order.id);
  assert.equal(inv.payment_id, payment.id);
  assert.equal(inv.buyer.sub, 'alice-1');
  assert.equal(inv.buyer.email, 'alice@example.com');
  assert.equal(inv.lines.length, EXPECTED_LINES.length);
  EXPECTED_LINES.forEach(([name, qty, unit, total], i) => {
    const l = inv.lines[i];
    assert.ok(l.description.includes(name), `line ${i}: "${l.description}" names ${name}`);
    assert.deepEqual([l.quantity, l.unit_price_cents, l.line_total_cents], [qty, unit, total], `line ${i}`);
  });
  assert.deepEqual(inv.lines.map((l) => l.kind), ['ticket', 'ticket', 'product', 'product', 'product']);
  assert.equal(inv.subtotal_cents, EXPECTED_TOTAL);
  assert.equal(inv.total_cents, EXPECTED_TOTAL);
  assert.equal(inv.total_cents, payment.amount_cents);
  assert.equal(inv.currency, 'BRL');
}

async function metric(shop, name) {
  const res = await shop.call('GET', '/metrics');
  const m = new RegExp(`^bilhetagem_${name}_total (\\d+)$`, 'm').exec(res.body);
  return m ? Number(m[1]) : 0;
}

/** After payment: paid, tickets, invoice, one check-in, refund, credit note. */
async function fulfilAndRefund(t, shop, cat, order, payment) {
  const paid = await shop.call('GET', `/orders/${order.id}`, { as: 'alice' });
  assert.equal(paid.json.status, 'paid');

  const tickets = await shop.call('GET', `/orders/${order.id}/tickets`, { as: 'alice' });
  assert.equal(tickets.status, 200);
  const list = tickets.json.items ?? tickets.json;
  assert.equal(list.length, 3, 'one ticket per seat: 2 Pista + 1 Camarote');
  assert.deepEqual(list.map((x) => x.ticket_type_id).sort(), [cat.pista.id, cat.pista.id, cat.camarote.id].sort());
  for (const tk of list) {
    assert.match(tk.code, /^[0-9a-f]{32,}$/, 'at least 128 random bits');
    assert.equal(tk.event_id, cat.event.id);
    assert.equal(tk.status, 'valid');
  }
  assert.deepEqual(await available(shop, cat.event.id), { Pista: 98, Camarote: 9 }, 'the seats are sold');

  const inv = await invoiceOf(shop, order.id);
  checkInvoice(inv, order, payment);
  const html = await shop.call('GET', `/invoices/${inv.id}`, { as: 'alice', headers: { Accept: 'text/html' } });
  assert.equal(html.status, 200);
  assert.match(html.headers['content-type'], /^text\/html/);
  assert.ok(html.body.includes(inv.number) && html.body.includes('843,48'), 'the page shows number and total');
  assert.equal((await shop.call('GET', `/orders/${order.id}/invoice`, { as: 'bob' })).status, 404);

  // Check-in: staff admits a ticket once.
  const code = list[0].code;
  assert.equal((await shop.call('POST', '/checkins', { as: 'alice', body: { code } })).status, 403);
  assert.equal((await shop.call('POST', '/checkins', { as: 'staff', body: { code } })).status, 200);
  assert.equal((await shop.call('POST', '/checkins', { as: 'staff', body: { code } })).status, 409);

  // Refund by the admin (a customer may not).
  assert.equal((await shop.call('POST', `/payments/${payment.id}/refund`, { as: 'alice', key: true })).status, 403);
  const refund = await shop.call('POST', `/payments/${payment.id}/refund`, { as: 'admin', key: true });
  assert.equal(refund.status, 200, refund.body);
  assert.equal(refund.json.status, 'refunded');
  assert.equal((await shop.call('GET', `/orders/${order.id}`, { as: 'alice' })).json.status, 'refunded');
  const after = await shop.call('GET', `/orders/${order.id}/tickets`, { as: 'alice' });
  assert.ok((after.json.items ?? after.json).every((x) => x.status === 'void'), 'every ticket is void');
  assert.equal((await shop.call('POST', '/checkins', { as: 'staff', body: { code: list[1].code } })).status, 409);
  assert.deepEqual(await available(shop, cat.event.id), { Pista: 100, Camarote: 10 }, 'seats back on sale');

  let notes;
  await waitFor(async () => {
    const r = await shop.call('GET', `/orders/${order.id}/invoice`, { as: 'alice' });
    notes = r.json.credit_notes;
    return notes && notes.length === 1;
  }, { timeoutMs: 10_000, what: 'the credit note' });
  const note = (await shop.call('GET', `/invoices/${notes[0].id}`, { as: 'alice' })).json;
  assert.equal(note.kind, 'credit_note');
  assert.match(note.number, /^NC-\d{4}-\d{6}$/);
  assert.deepEqual(note.credit_note_of, { id: inv.id, number: inv.number });
  assert.equal(note.total_cents, EXPECTED_TOTAL);
  return inv;
}

function sign(body, secret = WEBHOOK_SECRET) {
  const t = Math.floor(Date.now() / 1000);
  const v1 = crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

for (const driver of drivers()) {
  describe(`the checkout end to end on ${driver}`, () => {
    test('card: order, pay, tickets, invoice, check-in, refund, credit note', async (t) => {
      const shop = await startCheckout({ t, driver, env: { BH_TEST_WEBHOOK: WEBHOOK_SECRET },
                                         config: { payment: { webhook_secret: '${BH_TEST_WEBHOOK}' } } });
      const cat = await seedCatalog(shop);
      const order = await placeOrder(shop, cat);
      assert.equal(order.status, 'pending_payment');
      assert.equal(order.total_cents, EXPECTED_TOTAL);
      assert.equal(order.subtotal_cents, EXPECTED_TOTAL);
      assert.deepEqual(await available(shop, cat.event.id), { Pista: 98, Camarote: 9 }, 'held');

      const pay = await shop.call('POST', `/orders/${order.id}/payments`, {
        as: 'alice', key: true, body: { method: 'card', card_token: 'tok_approve' },
      });
      assert.equal(pay.status, 201, pay.body);
      assert.equal(pay.json.status, 'captured');
      assert.equal(pay.json.amount_cents, EXPECTED_TOTAL);
      const inv = await fulfilAndRefund(t, shop, cat, order, pay.json);
      assert.match(inv.number, /-000001$/, 'the first invoice of the series');

      assert.equal(await metric(shop, 'orders_created'), 1);
      assert.equal(await metric(shop, 'payments_captured'), 1);
      assert.equal(await metric(shop, 'payments_refunded'), 1);
      assert.equal(await metric(shop, 'invoices_issued'), 1);
      assert.equal(await metric(shop, 'tickets_checked_in'), 1);
    });

    test('expiry: a short hold lapses, the seats come back, paying afterwards is refused', async (t) => {
      const shop = await startCheckout({ t, driver, config: { order: { hold_seconds: 1, sweep_interval_ms: 100 },
                                                                payment: { retry_budget_ms: 100, gateway_timeout_ms: 100 } } });
      const cat = await seedCatalog(shop);
      const order = await placeOrder(shop, cat);
      assert.deepEqual(await available(shop, cat.event.id), { Pista: 98, Camarote: 9 });
      await waitFor(async () => (await shop.call('GET', `/orders/${order.id}`, { as: 'alice' })).json.status === 'expired',
                    { timeoutMs: 10_000, what: 'the order to expire' });
      assert.deepEqual(await available(shop, cat.event.id), { Pista: 100, Camarote: 10 }, 'the seats came back');
      const pay = await shop.call('POST', `/orders/${order.id}/payments`, {
        as: 'alice', key: true, body: { method: 'card', card_token: 'tok_approve' },
      });
      assert.equal(pay.status, 409, pay.body);
      assert.ok(pay.json.type.endsWith('/order-not-payable'));
      assert.equal(await metric(shop, 'payments_captured'), 0, 'nothing was charged');
      assert.equal(await metric(shop, 'orders_expired'), 1);
    });

    test('PIX: pending until a signed webhook confirms it, then the same fulfilment', async (t) => {
      const shop = await startCheckout({ t, driver, env: { BH_TEST_WEBHOOK: WEBHOOK_SECRET },
                                         config: { payment: { webhook_secret: '${BH_TEST_WEBHOOK}' } } });
      const cat = await seedCatalog(shop);
      const order = await placeOrder(shop, cat);
      const pay = await shop.call('POST', `/orders/${order.id}/payments`, {
        as: 'alice', key: true, body: { method: 'pix' },
      });
      assert.equal(pay.status, 201, pay.body);
      assert.equal(pay.json.status, 'pending');
      assert.equal(typeof pay.json.pix_copy_paste, 'string');
      assert.equal((await shop.call('GET', `/orders/${order.id}`, { as: 'alice' })).json.status, 'pending_payment');

      const body = JSON.stringify({ payment_id: pay.json.id, status: 'captured', amount_cents: EXPECTED_TOTAL });
      const forged = await shop.call('POST', '/payments/webhook', {
        body, headers: { 'X-Signature': sign(body, `${WEBHOOK_SECRET}-not`) },
      });
      assert.equal(forged.status, 401);
      assert.equal((await shop.call('GET', `/orders/${order.id}`, { as: 'alice' })).json.status, 'pending_payment');
      const hook = await shop.call('POST', '/payments/webhook', { body, headers: { 'X-Signature': sign(body) } });
      assert.equal(hook.status, 200, hook.body);
      assert.equal(hook.json.status, 'captured');
      const again = await shop.call('POST', '/payments/webhook', { body, headers: { 'X-Signature': sign(body) } });
      assert.equal(again.status, 200, 'a duplicate confirmation is a no-op');
      await fulfilAndRefund(t, shop, cat, order, hook.json);
      assert.equal(await metric(shop, 'payments_captured'), 1, 'captured once despite two webhooks');
    });
  });
}
