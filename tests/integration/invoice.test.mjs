// invoice.test.mjs - the invoice plugin end to end: products, order, payment
// and invoice on a real server and database (SQLite here, PostgreSQL through
// invoice-pg.test.sh), real tokens, the payment simulator.
//
// A captured payment reaches the invoice plugin only as an event through the
// outbox, so every check first polls GET /orders/{id}/invoice (bounded to a
// few seconds).  What is checked: exact lines and totals, consecutive numbers
// (also with two nodes paying concurrently on one database), the printable
// page and its escaping, who may read an invoice, credit notes on refund, and
// that a payment.captured delivered twice (same event id: the inbox; a copy
// with a new event id: UNIQUE (kind, payment_id)) still gives one invoice and
// consumes no number.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { drivers, startCheckout, USERS } from './checkout.mjs';
import { assertProblem, request, startServer, waitFor } from './lib.mjs';

const PLUGINS = ['products', 'order', 'payment', 'invoice'];
const YEAR = new Date().getUTCFullYear();
const EVENT_NAME = 'Show <X> & "Y"';
const PRODUCT_NAME = `<b>&"'Pipoca`;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const WAIT = { timeoutMs: 8000, stepMs: 50 };
const CONCURRENT_ORDERS = 10;

const num = (series, n) => `${series}-${String(n).padStart(6, '0')}`;

/** Writes a CloudEvents envelope into the core's outbox, as a publisher
 * would: the dispatcher delivers it like any other event.  Returns its id. */
async function forgeEvent(shop, driver, type, subject, data) {
  const id = crypto.randomUUID();
  const envelope = JSON.stringify({
    specversion: '1.0', id, source: 'bilhetagem/payment', type, subject,
    time: new Date().toISOString(), datacontenttype: 'application/json', data,
  }).replace(/'/g, "''");
  await shop.sql(`INSERT INTO bh_outbox (event_id, type, subject, envelope, status, attempts,
                           next_attempt_at, lease_until, created_at) VALUES ('${id}', '${type}',
                           '${subject}', '${envelope}', 'pending', 0, 0, 0, 0)`);
  return id;
}

for (const driver of drivers()) {
  describe(`invoice on ${driver}`, () => {
    let shop;
    let event; // the event with two ticket types
    let product; // the add-on with an HTML-hostile name
    const paid = []; // { order, payment, invoice } in payment order
    const poisoned = []; // payment ids of events the test made wrong on purpose

    async function placeOrder(as, items, products = []) {
      const res = await shop.call('POST', '/orders', { as, key: true, body: { items, products } });
      assert.equal(res.status, 201, res.body);
      return res.json;
    }

    async function pay(order, as, call = shop.call) {
      const res = await call('POST', `/orders/${order.id}/payments`, {
        as, key: true, body: { method: 'card', card_token: 'tok_approve' },
      });
      assert.ok(res.status === 201 || res.status === 200, res.body);
      assert.equal(res.json.status, 'captured', res.body);
      return res.json;
    }

    async function invoiceOf(orderId, as = 'admin', until = (doc) => doc) {
      return waitFor(async () => {
        const res = await shop.call('GET', `/orders/${orderId}/invoice`, { as });
        if (res.status === 404) return null;
        assert.equal(res.status, 200, res.body);
        return until(res.json) ? res.json : null;
      }, { ...WAIT, what: `the invoice of order ${orderId}` });
    }

    async function counter(name) {
      const res = await shop.call('GET', '/metrics');
      assert.equal(res.status, 200);
      const m = res.body.match(new RegExp(`^bilhetagem_${name}_total (\\d+)$`, 'm'));
      assert.ok(m, `${name} in /metrics`);
      return Number(m[1]);
    }

    async function buyAndInvoice(as = 'alice') {
      const order = await placeOrder(as, [{ ticket_type_id: event.ticket_types[0].id, quantity: 1 }]);
      const payment = await pay(order, as);
      const invoice = await invoiceOf(order.id, as);
      paid.push({ order, payment, invoice });
      return { order, payment, invoice };
    }

    before(async () => {
      shop = await startCheckout({ driver, plugins: PLUGINS });
      const ev = await shop.call('POST', '/events', {
        as: 'admin',
        body: {
          name: EVENT_NAME, venue: 'Arena', starts_at: `${YEAR + 1}-06-01T20:00:00Z`,
          ticket_types: [{ name: 'Pista', price_cents: 15000, capacity: 1000 },
                         { name: 'VIP', price_cents: 123456, capacity: 100 }],
        },
      });
      assert.equal(ev.status, 201, ev.body);
      event = ev.json;
      const pr = await shop.call('POST', '/products', {
        as: 'admin', body: { sku: 'POP-1', name: PRODUCT_NAME, price_cents: 1250, stock: 1000 },
      });
      assert.equal(pr.status, 201, pr.body);
      product = pr.json;
    });

    after(async () => {
      if (!shop) return;
      await shop.stop();
      // the only errors the plugin logged are the ones the test provoked
      const errors = shop.server.lines.filter((l) => l.plugin === 'invoice' && l.level === 'error' &&
                                                     !poisoned.some((p) => String(l.msg).includes(p)));
      assert.deepEqual(errors, []);
    });

    test('a captured card payment issues one invoice with the order\'s exact lines', async () => {
      const order = await placeOrder('alice', [
        { ticket_type_id: event.ticket_types[0].id, quantity: 2 },
        { ticket_type_id: event.ticket_types[1].id, quantity: 1 },
      ], [{ product_id: product.id, quantity: 3 }]);
      const total = 2 * 15000 + 123456 + 3 * 1250;
      assert.equal(order.total_cents, total);
      const payment = await pay(order, 'alice');
      assert.equal(payment.amount_cents, total);

      const inv = await invoiceOf(order.id, 'alice');
      paid.push({ order, payment, invoice: inv });
      assert.match(inv.id, /^[0-9a-f-]{36}$/);
      assert.equal(inv.number, num(YEAR, 1));
      assert.equal(inv.kind, 'invoice');
      assert.equal(inv.order_id, order.id);
      assert.equal(inv.payment_id, payment.id);
      assert.match(inv.issued_at, RFC3339);
      assert.deepEqual(inv.buyer, { sub: USERS.alice.sub, email: USERS.alice.email });
      assert.deepEqual(inv.lines, [
        { kind: 'ticket', description: `${EVENT_NAME} - Pista`, quantity: 2,
          unit_price_cents: 15000, line_total_cents: 30000 },
        { kind: 'ticket', description: `${EVENT_NAME} - VIP`, quantity: 1,
          unit_price_cents: 123456, line_total_cents: 123456 },
        { kind: 'product', description: PRODUCT_NAME, sku: 'POP-1', quantity: 3,
          unit_price_cents: 1250, line_total_cents: 3750 },
      ]);
      assert.equal(inv.subtotal_cents, total);
      assert.equal(inv.total_cents, total);
      assert.equal(inv.currency, 'BRL');
      assert.deepEqual(inv.credit_notes, []);

      // the same document under its own id (without the order's credit_notes)
      const byId = await shop.call('GET', `/invoices/${inv.id}`, { as: 'alice' });
      assert.equal(byId.status, 200, byId.body);
      assert.match(byId.headers['content-type'], /^application\/json/);
      const { credit_notes: _, ...doc } = inv;
      assert.deepEqual(byId.json, doc);
    });

    test('the next paid order gets the next number', async () => {
      const { invoice } = await buyAndInvoice('bob');
      assert.equal(invoice.number, num(YEAR, 2));
      assert.deepEqual(invoice.buyer, { sub: USERS.bob.sub, email: USERS.bob.email });
      assert.equal(invoice.total_cents, 15000);
    });

    test('Accept: text/html answers a printable, escaped page', async () => {
      const inv = paid[0].invoice;
      const res = await shop.call('GET', `/invoices/${inv.id}`, {
        as: 'alice', headers: { Accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(res.headers.vary, /Accept/);
      const page = res.body;
      assert.ok(page.startsWith('<!DOCTYPE html>\n<html lang="pt-BR">'), page.slice(0, 80));
      assert.ok(page.includes(`<title>Fatura ${inv.number}</title>`));
      assert.ok(page.includes('<td>&lt;b&gt;&amp;&quot;&#39;Pipoca</td>'), page);
      assert.ok(page.includes('Show &lt;X&gt; &amp; &quot;Y&quot; - VIP'));
      assert.ok(!page.includes('<b>'), 'no raw product markup');
      assert.ok(!page.includes('<X>'), 'no raw event markup');
      assert.ok(page.includes('<td class="num">R$ 1.234,56</td>'), 'VIP unit price');
      assert.ok(page.includes('<td class="num">R$ 1.572,06</td></tr>\n</tfoot>'), 'total');
      assert.ok(page.trimEnd().endsWith('</html>'));
      const body = page.slice(page.indexOf('<tbody>'), page.indexOf('</tbody>'));
      assert.equal((body.match(/<tr>/g) || []).length, 3, 'one row per line');
      assert.equal((page.match(/<tr>/g) || []).length, 1 + 3 + 2, 'header, lines, subtotal and total');

      // JSON stays the default, and wins when it comes first
      for (const accept of [undefined, 'application/json', 'application/json, text/html', '*/*']) {
        const j = await shop.call('GET', `/invoices/${inv.id}`, {
          as: 'alice', headers: accept ? { Accept: accept } : {},
        });
        assert.equal(j.status, 200);
        assert.match(j.headers['content-type'], /^application\/json/, `Accept: ${accept}`);
      }
    });

    test('only the buyer and admins see an invoice: everyone else gets 404', async () => {
      const { order, invoice } = paid[0];
      for (const p of [`/invoices/${invoice.id}`, `/orders/${order.id}/invoice`]) {
        assertProblem(await shop.call('GET', p, { as: 'bob' }), 404, 'not-found');
        assertProblem(await shop.call('GET', p, { as: 'staff' }), 404, 'not-found');
        const html = await shop.call('GET', p, { as: 'bob', headers: { Accept: 'text/html' } });
        assertProblem(html, 404, 'not-found');
        assert.equal((await shop.call('GET', p, { as: 'admin' })).status, 200);
        assert.equal((await shop.call('GET', p, { as: 'alice' })).status, 200);
        assertProblem(await shop.call('GET', p), 401, 'unauthorized');
      }
      for (const id of [crypto.randomUUID(), 'not-a-uuid', 'x'.repeat(300)]) {
        assertProblem(await shop.call('GET', `/invoices/${id}`, { as: 'admin' }), 404, 'not-found');
        assertProblem(await shop.call('GET', `/orders/${id}/invoice`, { as: 'admin' }), 404,
                      'not-found');
      }
      // an order that is not paid has no invoice
      const unpaid = await placeOrder('alice', [{ ticket_type_id: event.ticket_types[0].id, quantity: 1 }]);
      assertProblem(await shop.call('GET', `/orders/${unpaid.id}/invoice`, { as: 'alice' }), 404,
                    'not-found');
    });

    test('a refund issues one credit note referencing the invoice', async () => {
      const { order, payment, invoice } = paid[0];
      const res = await shop.call('POST', `/payments/${payment.id}/refund`, { as: 'admin' });
      assert.ok(res.status === 200 || res.status === 201, res.body);
      const withNote = await invoiceOf(order.id, 'alice', (doc) => doc.credit_notes.length > 0);
      assert.equal(withNote.id, invoice.id);
      assert.equal(withNote.credit_notes.length, 1);
      const note = withNote.credit_notes[0];
      assert.equal(note.kind, 'credit_note');
      assert.equal(note.number, num(`NC-${YEAR}`, 1));
      assert.deepEqual(note.credit_note_of, { id: invoice.id, number: invoice.number });
      assert.equal(note.order_id, order.id);
      assert.equal(note.payment_id, payment.id);
      assert.deepEqual(note.lines, invoice.lines);
      assert.deepEqual(note.buyer, invoice.buyer);
      assert.equal(note.subtotal_cents, invoice.subtotal_cents);
      assert.equal(note.total_cents, invoice.total_cents);
      assert.equal(note.currency, 'BRL');
      assert.match(note.issued_at, RFC3339);

      const byId = await shop.call('GET', `/invoices/${note.id}`, { as: 'alice' });
      assert.equal(byId.status, 200);
      assert.deepEqual(byId.json, note);
      assertProblem(await shop.call('GET', `/invoices/${note.id}`, { as: 'bob' }), 404, 'not-found');
      const page = await shop.call('GET', `/invoices/${note.id}`, { as: 'admin', headers: { Accept: 'text/html' } });
      assert.equal(page.status, 200);
      assert.ok(page.body.includes(`Nota de crédito ${note.number}`));
      assert.ok(page.body.includes(`Referente à fatura ${invoice.number}`));
    });

    test('a captured amount that disagrees with the order issues nothing and is retried', async () => {
      const order = await placeOrder('alice', [{ ticket_type_id: event.ticket_types[0].id, quantity: 1 }]);
      const paymentId = crypto.randomUUID();
      poisoned.push(paymentId);
      const id = await forgeEvent(shop, driver, 'payment.captured', order.id, {
        payment_id: paymentId, order_id: order.id, amount_cents: order.total_cents - 1,
        currency: 'BRL', method: 'card', user: USERS.alice.sub,
      });
      // the subscriber fails: the outbox keeps the event for a retry (then the dead letter)
      const row = await waitFor(async () => {
        const r = await shop.sql(`SELECT attempts, status FROM bh_outbox WHERE event_id = '${id}'`);
        return Number(r.split('|')[0]) >= 2 && r;
      }, { ...WAIT, what: 'two failed deliveries' });
      assert.match(row, /\|(pending|dead)$/);
      const logged = shop.server.lines.find((l) => l.plugin === 'invoice' && l.level === 'error' &&
                                                   String(l.msg).includes(paymentId));
      assert.ok(logged, 'an error line names the payment');
      assert.match(logged.msg, /no invoice issued/);
      assertProblem(await shop.call('GET', `/orders/${order.id}/invoice`, { as: 'admin' }), 404, 'not-found');
      assert.equal(await counter('invoices_issued'), paid.length);
      // stop the retries of this poisoned event (the test shares the database)
      await waitFor(async () => {
        await shop.sql(`UPDATE bh_outbox SET status = 'dead' WHERE event_id = '${id}'`);
        await new Promise((resolve) => setTimeout(resolve, 200)); // a claim in flight lands
        return (await shop.sql(`SELECT status FROM bh_outbox WHERE event_id = '${id}'`)) === 'dead';
      }, { ...WAIT, what: 'the poisoned event set aside' });
    });


    test('a refund delivered before its invoice is retried until the invoice exists', async () => {
      const order = await placeOrder('bob', [{ ticket_type_id: event.ticket_types[1].id, quantity: 1 }]);
      const data = { payment_id: crypto.randomUUID(), order_id: order.id, amount_cents: order.total_cents,
                     currency: 'BRL', method: 'card', user: USERS.bob.sub };
      // different subjects, so nothing orders the two: the refund comes first
      const refund = await forgeEvent(shop, driver, 'payment.refunded', `${order.id}/refund`, data);
      await waitFor(async () => Number(await shop.sql(`SELECT attempts FROM bh_outbox WHERE event_id = '${refund}'`)) >= 1, { ...WAIT, what: 'a refund attempt' });
      assertProblem(await shop.call('GET', `/orders/${order.id}/invoice`, { as: 'bob' }), 404, 'not-found');
      await forgeEvent(shop, driver, 'payment.captured', order.id, data);
      const inv = await invoiceOf(order.id, 'bob', (doc) => doc.credit_notes.length === 1);
      paid.push({ order, payment: { id: data.payment_id, amount_cents: data.amount_cents }, invoice: inv });
      assert.equal(inv.number, num(YEAR, paid.length));
      assert.equal(inv.credit_notes[0].number, num(`NC-${YEAR}`, 2));
      assert.deepEqual(inv.credit_notes[0].credit_note_of, { id: inv.id, number: inv.number });
      assert.equal(inv.credit_notes[0].total_cents, 123456);
      const warned = shop.server.lines.find((l) => l.plugin === 'invoice' && l.level === 'warn' &&
                                                   String(l.msg).includes(data.payment_id));
      assert.match(warned.msg, /refunded before its invoice/);
    });

    test('counters: invoices_issued and credit_notes_issued', async () => {
      assert.equal(await counter('invoices_issued'), paid.length);
      assert.equal(await counter('credit_notes_issued'), 2);
    });

    test(`${CONCURRENT_ORDERS} orders paid concurrently on two nodes: numbers without gaps or repeats`,
      async () => {
        // a second bilhetagemd on the same database: both dispatch the outbox
        const second = await startServer({ config: shop.configPath, env: shop.env });
        try {
          const callSecond = (method, p, { as, body } = {}) => request({
            port: second.port, method, path: p, body,
            headers: { Authorization: `Bearer ${shop.tokens[as]}`, 'Content-Type': 'application/json',
                       'Idempotency-Key': crypto.randomUUID() },
          });
          const orders = [];
          for (let i = 0; i < CONCURRENT_ORDERS; i++) {
            orders.push(await placeOrder(i % 2 ? 'bob' : 'alice',
                                         [{ ticket_type_id: event.ticket_types[0].id, quantity: 1 }]));
          }
          const payments = await Promise.all(orders.map((o, i) => pay(o, i % 2 ? 'bob' : 'alice',
                                                                        i % 2 ? callSecond : shop.call)));
          const invoices = await Promise.all(orders.map((o) => invoiceOf(o.id)));
          orders.forEach((order, i) => paid.push({ order, payment: payments[i], invoice: invoices[i] }));
        } finally {
          await second.stop();
        }
        const numbers = paid.map((p) => p.invoice.number).sort();
        const want = paid.map((_, i) => num(YEAR, i + 1));
        assert.deepEqual(numbers, want);
        assert.equal(new Set(paid.map((p) => p.invoice.id)).size, paid.length);
        for (const { order, payment, invoice } of paid) {
          assert.equal(invoice.order_id, order.id);
          assert.equal(invoice.payment_id, payment.id);
          assert.equal(invoice.total_cents, payment.amount_cents);
        }
      });

    test('payment.captured delivered twice still gives one invoice and uses no number', async () => {
      const { order, payment, invoice } = paid[paid.length - 1];
      const pid = payment.id.replace(/'/g, "''");
      const where = `type = 'payment.captured' AND envelope LIKE '%${pid}%'`;
      const issued = await counter('invoices_issued');
      const original = await shop.sql(`SELECT event_id FROM bh_outbox WHERE ${where}`);
      assert.match(original, /^\S+$/, 'exactly one payment.captured for the payment');

      // 1. the same event again: the core's inbox recognises it
      await shop.sql(`UPDATE bh_outbox SET status = 'pending', attempts = 0,
                               next_attempt_at = 0, lease_until = 0 WHERE event_id = '${original}'`);
      // 2. a copy under a new event id: only UNIQUE (kind, payment_id) stands in the way
      const copy = crypto.randomUUID();
      await shop.sql(`INSERT INTO bh_outbox (event_id, type, subject, envelope, status,
                               attempts, next_attempt_at, lease_until, created_at)
                               SELECT '${copy}', type, subject, replace(envelope, event_id, '${copy}'),
                               'pending', 0, 0, 0, created_at FROM bh_outbox WHERE event_id = '${original}'`);
      await waitFor(async () => (await shop.sql(`SELECT COUNT(*) FROM bh_outbox WHERE event_id IN ('${original}', '${copy}') AND status = 'done'`)) === '2',
      { ...WAIT, what: 'both deliveries done' });

      const again = await shop.call('GET', `/orders/${order.id}/invoice`, { as: 'admin' });
      assert.equal(again.status, 200);
      assert.equal(again.json.id, invoice.id);
      assert.equal(again.json.number, invoice.number);
      assert.equal(await counter('invoices_issued'), issued);
      // the duplicate took no number: the next invoice follows on directly
      const next = await buyAndInvoice('alice');
      assert.equal(next.invoice.number, num(YEAR, paid.length));
      assert.equal(await counter('invoices_issued'), issued + 1);
    });

    test('copies of one payment.captured racing on two nodes: one invoice, no number lost', async () => {
      // Copies under different subjects are not ordered against each other, so
      // the two nodes' dispatchers may run them at the same time: the loser's
      // insert does nothing and it gives its number back.
      const ORDERS = 5;
      const COPIES = 3;
      const second = await startServer({ config: shop.configPath, env: shop.env });
      const orders = [];
      try {
        for (let i = 0; i < ORDERS; i++) {
          const order = await placeOrder('alice', [{ ticket_type_id: event.ticket_types[0].id, quantity: 1 }]);
          const data = { payment_id: crypto.randomUUID(), order_id: order.id, amount_cents: order.total_cents,
                         currency: 'BRL', method: 'card', user: USERS.alice.sub };
          for (let c = 0; c < COPIES; c++) await forgeEvent(shop, driver, 'payment.captured', `${order.id}/${c}`, data);
          orders.push({ order, payment: { id: data.payment_id, amount_cents: data.amount_cents } });
        }
        await waitFor(async () => (await shop.sql("SELECT COUNT(*) FROM bh_outbox WHERE type = 'payment.captured' AND status NOT IN ('done', 'dead')")) === '0',
        { ...WAIT, what: 'every copy delivered' });
      } finally {
        await second.stop();
      }
      const first = paid.length + 1;
      for (const o of orders) paid.push({ ...o, invoice: await invoiceOf(o.order.id) });
      const numbers = paid.slice(first - 1).map((p) => p.invoice.number).sort();
      assert.deepEqual(numbers, orders.map((_, i) => num(YEAR, first + i)));
      for (const o of paid.slice(first - 1)) assert.equal(o.invoice.payment_id, o.payment.id);
      const next = await buyAndInvoice('bob');
      assert.equal(next.invoice.number, num(YEAR, paid.length));
    });

  });
}

// ---- regressions (payfix) ------------------------------------------------------------

for (const driver of drivers()) {
  test(`invoice on ${driver}: a free order gets an invoice of total 0`, async (t) => {
    const shop = await startCheckout({ t, driver, plugins: PLUGINS });
    const ev = await shop.call('POST', '/events', {
      as: 'admin',
      body: { name: 'Free show', venue: 'Park', starts_at: '2031-01-01T20:00:00Z',
              ticket_types: [{ name: 'Lawn', price_cents: 0, capacity: 10 }] },
    });
    assert.equal(ev.status, 201, ev.body);
    const order = await shop.call('POST', '/orders', {
      as: 'alice', key: true, body: { items: [{ ticket_type_id: ev.json.ticket_types[0].id, quantity: 1 }] },
    });
    assert.equal(order.status, 201, order.body);
    const paid = await shop.call('POST', `/orders/${order.json.id}/payments`,
                                 { as: 'alice', key: true, body: { method: 'free' } });
    assert.equal(paid.status, 201, paid.body);
    assert.equal(paid.json.amount_cents, 0);
    const invoice = await waitFor(async () => {
      const res = await shop.call('GET', `/orders/${order.json.id}/invoice`, { as: 'alice' });
      return res.status === 200 ? res.json : null;
    }, { ...WAIT, what: 'the free order\'s invoice' });
    assert.equal(invoice.total_cents, 0);
    assert.equal(invoice.subtotal_cents, 0);
    assert.equal(invoice.lines.length, 1);
    assert.equal(invoice.lines[0].line_total_cents, 0);
  });
}
