// products.test.mjs - the catalog over HTTP: events with ticket types and
// add-on products, on a real server with a real database (SQLite here;
// PostgreSQL through products-pg.test.sh), real tokens for an admin and a
// customer.
//
// Covered: admin creates and patches, public reads, 401 without a token and
// 403 for a customer on admin routes, 409 on a duplicate sku and on
// capacity / stock below what is sold or held, 422 with the offending
// field's pointer, 404 on unknown ids, pagination (limit=2 over 5 items, the
// cursor continues, bad cursors are 400), `available` = capacity - sold -
// held, and `bilhetagemctl seed` seeding once and leaving the catalog alone
// the second time.  The products plugin has no route that moves sold and
// held, on purpose: the HTTP tests set them straight in the database, and
// the catalog service is driven through the catalog-probe test fixture
// (plugins/products/probe.c, built by `make check` only): concurrent holds
// never oversell, refusals are named, every change rolls back with its unit.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

import { drivers, startCheckout } from './checkout.mjs';
import { assertProblem, request, startServer } from './lib.mjs';

const FUTURE = '2030-01-02T21:00:00Z';

function eventBody(over = {}) {
  return {
    name: 'Festival de Verão',
    venue: 'Arena',
    starts_at: FUTURE,
    ticket_types: [
      { name: 'Pista', price_cents: 15000, capacity: 500 },
      { name: 'Camarote', price_cents: 45000, capacity: 50 },
    ],
    ...over,
  };
}

function pointers(res) {
  return (res.json.errors || []).map((e) => e.pointer);
}

/** Every page of `path` with limit=2: the pages' item counts and all items. */
async function allPages(shop, listPath, as) {
  const sizes = [];
  const items = [];
  let cursor = null;
  for (let i = 0; i < 10; i++) { // bounded: 5 items make 3 pages
    const q = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
    const res = await shop.call('GET', listPath + q, { as });
    assert.equal(res.status, 200, res.body);
    sizes.push(res.json.items.length);
    items.push(...res.json.items);
    cursor = res.json.next_cursor;
    if (cursor === null) return { sizes, items };
    assert.equal(typeof cursor, 'string');
  }
  throw new Error('pagination did not end');
}

for (const driver of drivers()) {
  test(`catalog on ${driver}: events`, async (t) => {
    const shop = await startCheckout({ t, driver, plugins: ['products'] });

    await t.test('an empty catalog lists nothing', async () => {
      for (const p of ['/events', '/products']) {
        const res = await shop.call('GET', p);
        assert.equal(res.status, 200);
        assert.deepEqual(res.json, { items: [], next_cursor: null });
      }
    });

    await t.test('admin routes need a token (401) and the admin group (403)', async () => {
      const id = '00000000-0000-4000-8000-000000000000';
      assertProblem(await shop.call('POST', '/events', { body: eventBody() }), 401, 'unauthorized');
      assertProblem(await shop.call('POST', '/events', { as: 'alice', body: eventBody() }), 403, 'forbidden');
      assertProblem(await shop.call('POST', '/events', { as: 'staff', body: eventBody() }), 403, 'forbidden');
      assertProblem(await shop.call('PATCH', `/events/${id}`, { body: { name: 'x' } }), 401, 'unauthorized');
      assertProblem(await shop.call('PATCH', `/events/${id}`, { as: 'bob', body: { name: 'x' } }), 403, 'forbidden');
      const list = await shop.call('GET', '/events');
      assert.deepEqual(list.json.items, [], 'nothing was created');
    });

    let ev;
    await t.test('admin creates an event: 201, Location, every field', async () => {
      const res = await shop.call('POST', '/events', { as: 'admin', body: eventBody() });
      assert.equal(res.status, 201, res.body);
      ev = res.json;
      assert.match(ev.id, /^[0-9a-f-]{36}$/);
      assert.equal(res.headers.location, `/events/${ev.id}`);
      assert.equal(ev.name, 'Festival de Verão');
      assert.equal(ev.venue, 'Arena');
      assert.equal(ev.starts_at, '2030-01-02T21:00:00.000Z');
      assert.equal(ev.currency, 'BRL');
      assert.equal(ev.status, 'active');
      assert.equal(ev.on_sale, true);
      assert.match(ev.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(ev.ticket_types.length, 2);
      assert.deepEqual(ev.ticket_types.map((tt) => [tt.name, tt.price_cents, tt.currency, tt.capacity,
                                                     tt.available, tt.sold, tt.held]),
                       [['Pista', 15000, 'BRL', 500, 500, 0, 0], ['Camarote', 45000, 'BRL', 50, 50, 0, 0]]);
    });

    await t.test('the public reads it without sold and held', async () => {
      const res = await shop.call('GET', `/events/${ev.id}`);
      assert.equal(res.status, 200);
      assert.equal(res.json.name, ev.name);
      assert.deepEqual(res.json.ticket_types.map((tt) => Object.keys(tt).sort()),
                       [['available', 'capacity', 'currency', 'id', 'name', 'price_cents'],
                        ['available', 'capacity', 'currency', 'id', 'name', 'price_cents']]);
      const list = await shop.call('GET', '/events', { as: 'alice' });
      assert.equal(list.json.items.length, 1);
      assert.equal(list.json.items[0].id, ev.id);
      assert.equal(list.json.next_cursor, null);
    });

    await t.test('available = capacity - sold - held', async () => {
      const [pista, camarote] = ev.ticket_types;
      await shop.sql(`UPDATE catalog_ticket_types SET sold = 100, held = 25 WHERE id = '${pista.id}'`);
      await shop.sql(`UPDATE catalog_ticket_types SET sold = 50, held = 0 WHERE id = '${camarote.id}'`);
      const res = await shop.call('GET', `/events/${ev.id}`);
      assert.deepEqual(res.json.ticket_types.map((tt) => tt.available), [375, 0]);
      const admin = await shop.call('GET', `/events/${ev.id}`, { as: 'admin' });
      assert.deepEqual(admin.json.ticket_types.map((tt) => [tt.sold, tt.held]), [[100, 25], [50, 0]]);
    });

    await t.test('capacity may not go below sold + held: 409, nothing changed', async () => {
      const [pista] = ev.ticket_types;
      const res = await shop.call('PATCH', `/events/${ev.id}`, {
        as: 'admin',
        body: { name: 'Renamed', ticket_types: [{ id: pista.id, capacity: 124 }] },
      });
      assertProblem(res, 409, 'inventory-in-use');
      const after = await shop.call('GET', `/events/${ev.id}`);
      assert.equal(after.json.name, 'Festival de Verão', 'the rename rolled back too');
      assert.equal(after.json.ticket_types[0].capacity, 500);
      const ok = await shop.call('PATCH', `/events/${ev.id}`, {
        as: 'admin', body: { ticket_types: [{ id: pista.id, capacity: 125, price_cents: 16000 }] },
      });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.json.ticket_types[0].capacity, 125);
      assert.equal(ok.json.ticket_types[0].price_cents, 16000);
      assert.equal(ok.json.ticket_types[0].available, 0);
    });

    await t.test('admin patches name, venue, starts_at and status', async () => {
      const res = await shop.call('PATCH', `/events/${ev.id}`, {
        as: 'admin',
        body: { name: 'Festival de Inverno', venue: 'Estádio', starts_at: '2031-07-01T20:00:00-03:00',
                status: 'cancelled' },
      });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json.name, 'Festival de Inverno');
      assert.equal(res.json.venue, 'Estádio');
      assert.equal(res.json.starts_at, '2031-07-01T23:00:00.000Z');
      assert.equal(res.json.status, 'cancelled');
      assert.equal(res.json.on_sale, false);
      assert.equal(res.json.ticket_types.length, 2, 'ticket types untouched');
      assert.equal(res.json.ticket_types[1].price_cents, 45000);
      const back = await shop.call('PATCH', `/events/${ev.id}`, { as: 'admin', body: { status: 'active' } });
      assert.equal(back.json.status, 'active');
      assert.equal(back.json.on_sale, true);
    });

    await t.test('a past event is listed but not on sale', async () => {
      const res = await shop.call('POST', '/events', {
        as: 'admin', body: eventBody({ name: 'Ontem', starts_at: '2020-05-05T20:00:00Z' }),
      });
      assert.equal(res.status, 201, res.body);
      assert.equal(res.json.on_sale, false);
      const list = await shop.call('GET', '/events');
      assert.deepEqual(list.json.items.map((e) => e.name), ['Ontem', 'Festival de Inverno']);
    });

    await t.test('bad event bodies: 422 naming every field', async () => {
      let res = await shop.call('POST', '/events', { as: 'admin', body: {} });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(pointers(res), ['/name', '/venue', '/starts_at', '/ticket_types']);
      res = await shop.call('POST', '/events', { as: 'admin', body: eventBody({ colour: 'red' }) });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(pointers(res), ['/colour']);
      res = await shop.call('POST', '/events', {
        as: 'admin',
        body: eventBody({ starts_at: '2030-02-30T10:00:00Z', currency: 'real',
                          ticket_types: [{ name: 'A', price_cents: -1, capacity: 1.5 },
                                         { name: 'A', price_cents: 1e11, capacity: 1000001, extra: 1 }] }),
      });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(pointers(res), ['/starts_at', '/currency', '/ticket_types/0/price_cents',
                                       '/ticket_types/0/capacity', '/ticket_types/1/extra',
                                       '/ticket_types/1/name', '/ticket_types/1/price_cents',
                                       '/ticket_types/1/capacity']);
      const many = Array.from({ length: 21 }, (_, i) => ({ name: `T${i}`, price_cents: 1, capacity: 1 }));
      res = await shop.call('POST', '/events', { as: 'admin', body: eventBody({ ticket_types: many }) });
      assert.deepEqual(pointers(res), ['/ticket_types']);
      res = await shop.call('POST', '/events', { as: 'admin', body: eventBody({ name: 'x'.repeat(201) }) });
      assert.deepEqual(pointers(res), ['/name']);
      res = await shop.call('POST', '/events', { as: 'admin', body: eventBody({ venue: 'a'.repeat(1 << 19) }) });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(pointers(res), ['/venue']);
      res = await shop.call('POST', '/events', { as: 'admin', body: [eventBody()] });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(pointers(res), ['']);
      res = await shop.call('POST', '/events', { as: 'admin', body: 'name=x',
                                                 headers: { 'Content-Type': 'text/plain' } });
      assertProblem(res, 415, 'unsupported-media-type');
      const list = await shop.call('GET', '/events');
      assert.equal(list.json.items.length, 2, 'no bad body created anything');
    });

    await t.test('bad event patches: 422, 404', async () => {
      let res = await shop.call('PATCH', `/events/${ev.id}`, { as: 'admin', body: {} });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(pointers(res), ['']);
      res = await shop.call('PATCH', `/events/${ev.id}`, { as: 'admin', body: { status: 'sold-out', currency: 'USD' } });
      assert.deepEqual(pointers(res), ['/currency', '/status']);
      res = await shop.call('PATCH', `/events/${ev.id}`, {
        as: 'admin', body: { ticket_types: [{ id: '00000000-0000-4000-8000-000000000000', price_cents: 1 }] },
      });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(pointers(res), ['/ticket_types/0/id']);
      res = await shop.call('PATCH', '/events/00000000-0000-4000-8000-000000000000', { as: 'admin', body: { name: 'x' } });
      assertProblem(res, 404, 'not-found');
      res = await shop.call('PATCH', '/events/not-a-uuid', { as: 'admin', body: { name: 'x' } });
      assertProblem(res, 404, 'not-found');
      assertProblem(await shop.call('GET', '/events/00000000-0000-4000-8000-000000000000'), 404, 'not-found');
      assertProblem(await shop.call('GET', '/events/nope'), 404, 'not-found');
    });
  });

  test(`catalog on ${driver}: products`, async (t) => {
    const shop = await startCheckout({ t, driver, plugins: ['products'] });
    const pipoca = { sku: 'PIPOCA-G', name: 'Pipoca', price_cents: 2500, stock: 100 };
    let p;

    await t.test('admin creates a product; the public reads it', async () => {
      assertProblem(await shop.call('POST', '/products', { body: pipoca }), 401, 'unauthorized');
      assertProblem(await shop.call('POST', '/products', { as: 'alice', body: pipoca }), 403, 'forbidden');
      const res = await shop.call('POST', '/products', { as: 'admin', body: pipoca });
      assert.equal(res.status, 201, res.body);
      p = res.json;
      assert.equal(res.headers.location, `/products/${p.id}`);
      assert.deepEqual([p.sku, p.name, p.price_cents, p.currency, p.stock, p.available, p.active, p.sold, p.held],
                       ['PIPOCA-G', 'Pipoca', 2500, 'BRL', 100, 100, true, 0, 0]);
      const pub = await shop.call('GET', `/products/${p.id}`);
      assert.equal(pub.status, 200);
      assert.equal(pub.json.sold, undefined);
      assert.equal(pub.json.available, 100);
      const list = await shop.call('GET', '/products');
      assert.deepEqual(list.json.items.map((x) => x.sku), ['PIPOCA-G']);
    });

    await t.test('a duplicate sku is 409 sku-taken', async () => {
      const res = await shop.call('POST', '/products', { as: 'admin', body: { ...pipoca, name: 'Outra' } });
      assertProblem(res, 409, 'sku-taken');
      const list = await shop.call('GET', '/products', { as: 'admin' });
      assert.equal(list.json.items.length, 1);
      assert.equal(list.json.items[0].name, 'Pipoca');
    });

    await t.test('bad product bodies: 422 naming every field', async () => {
      let res = await shop.call('POST', '/products', { as: 'admin', body: {} });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(pointers(res), ['/sku', '/name', '/price_cents', '/stock']);
      res = await shop.call('POST', '/products', {
        as: 'admin', body: { sku: 'with space', name: '', price_cents: '10', stock: -1, active: 'yes', id: 'x' },
      });
      assert.deepEqual(pointers(res), ['/id', '/sku', '/name', '/price_cents', '/stock', '/active']);
      res = await shop.call('POST', '/products', { as: 'admin', body: { ...pipoca, sku: 'S'.repeat(65) } });
      assert.deepEqual(pointers(res), ['/sku']);
      res = await shop.call('PATCH', `/products/${p.id}`, { as: 'admin', body: { sku: 'NEW', stock: 1e7 } });
      assertProblem(res, 422, 'validation');
      assert.deepEqual(pointers(res), ['/sku', '/stock']);
      res = await shop.call('PATCH', `/products/${p.id}`, { as: 'admin', body: {} });
      assert.deepEqual(pointers(res), ['']);
      assertProblem(await shop.call('PATCH', `/products/${p.id}`, { as: 'bob', body: { stock: 1 } }), 403, 'forbidden');
      assertProblem(await shop.call('PATCH', '/products/00000000-0000-4000-8000-000000000000',
                                    { as: 'admin', body: { stock: 1 } }), 404, 'not-found');
      assertProblem(await shop.call('GET', '/products/00000000-0000-4000-8000-000000000000'), 404, 'not-found');
    });

    await t.test('admin patches price and stock; stock never below sold + held', async () => {
      await shop.sql(`UPDATE catalog_products SET sold = 30, held = 10 WHERE id = '${p.id}'`);
      let res = await shop.call('GET', `/products/${p.id}`);
      assert.equal(res.json.available, 60);
      res = await shop.call('PATCH', `/products/${p.id}`, { as: 'admin', body: { price_cents: 3000, stock: 39 } });
      assertProblem(res, 409, 'inventory-in-use');
      res = await shop.call('GET', `/products/${p.id}`, { as: 'admin' });
      assert.deepEqual([res.json.price_cents, res.json.stock], [2500, 100], 'nothing changed');
      res = await shop.call('PATCH', `/products/${p.id}`, { as: 'admin', body: { price_cents: 3000, stock: 40 } });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual([res.json.price_cents, res.json.stock, res.json.available, res.json.sold, res.json.held],
                       [3000, 40, 0, 30, 10]);
    });

    await t.test('an inactive product is hidden from the public list, shown to admins', async () => {
      const drink = await shop.call('POST', '/products', {
        as: 'admin', body: { sku: 'REFRI', name: 'Refrigerante', price_cents: 900, stock: 10 },
      });
      assert.equal(drink.status, 201);
      const res = await shop.call('PATCH', `/products/${p.id}`, { as: 'admin', body: { active: false } });
      assert.equal(res.status, 200);
      assert.equal(res.json.active, false);
      const pub = await shop.call('GET', '/products', { as: 'alice' });
      assert.deepEqual(pub.json.items.map((x) => x.sku), ['REFRI']);
      const adm = await shop.call('GET', '/products', { as: 'admin' });
      assert.deepEqual(adm.json.items.map((x) => [x.sku, x.active]), [['PIPOCA-G', false], ['REFRI', true]]);
      const one = await shop.call('GET', `/products/${p.id}`);
      assert.equal(one.status, 200);
      assert.equal(one.json.active, false);
    });
  });

  test(`catalog on ${driver}: seed and pagination`, async (t) => {
    const shop = await startCheckout({ t, driver, plugins: ['products'] });

    await t.test('bilhetagemctl seed fills an empty catalog', async () => {
      const r = await shop.ctl(['seed']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /created event [0-9a-f-]{36} \(2 ticket types\) and 3 products/);
      const events = await shop.call('GET', '/events');
      assert.equal(events.json.items.length, 1);
      assert.deepEqual(events.json.items[0].ticket_types.map((tt) => tt.name), ['Pista', 'Camarote']);
      assert.equal(events.json.items[0].on_sale, true);
      const products = await shop.call('GET', '/products');
      assert.deepEqual(products.json.items.map((x) => x.name),
                       ['Estacionamento', 'Pipoca grande', 'Refrigerante 500 ml']);
    });

    await t.test('a second seed changes nothing and exits 0', async () => {
      const before = await shop.call('GET', '/events?limit=100', { as: 'admin' });
      const r = await shop.ctl(['seed']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /not empty \(1 events, 3 products\); nothing seeded/);
      const after = await shop.call('GET', '/events?limit=100', { as: 'admin' });
      assert.deepEqual(after.json, before.json);
      const products = await shop.call('GET', '/products?limit=100');
      assert.equal(products.json.items.length, 3);
    });

    await t.test('two seeds at once seed once', async () => {
      const other = await startCheckout({ t, driver, plugins: ['products'] });
      const runs = await Promise.all([other.ctl(['seed']), other.ctl(['seed'])]);
      for (const r of runs) assert.equal(r.code, 0, r.stderr);
      assert.equal(runs.filter((r) => /created event/.test(r.stdout)).length, 1,
                   runs.map((r) => r.stdout).join(''));
      const events = await other.call('GET', '/events');
      assert.equal(events.json.items.length, 1);
      const products = await other.call('GET', '/products');
      assert.equal(products.json.items.length, 3);
      await other.stop();
    });

    await t.test('events page by starts_at, then id: limit=2 over 5', async () => {
      // Two events share a start time: the id breaks the tie.
      for (const [name, at] of [['E1', '2029-01-01T10:00:00Z'], ['E2', '2040-01-01T10:00:00Z'],
                                ['E3', '2029-01-01T10:00:00Z'], ['E4', '2021-01-01T10:00:00Z']]) {
        const res = await shop.call('POST', '/events', { as: 'admin', body: eventBody({ name, starts_at: at }) });
        assert.equal(res.status, 201, res.body);
      }
      const { sizes, items } = await allPages(shop, '/events', undefined);
      assert.deepEqual(sizes, [2, 2, 1]);
      const keys = items.map((e) => [Date.parse(e.starts_at), e.id]);
      const sorted = [...keys].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
      assert.deepEqual(keys, sorted);
      assert.equal(new Set(items.map((e) => e.id)).size, 5, 'no event twice');
      assert.equal(items[0].name, 'E4');
      assert.equal(items[4].name, 'E2');
    });

    await t.test('products page by sku: limit=2 over 5', async () => {
      for (const sku of ['AAA', 'zzz']) {
        const res = await shop.call('POST', '/products', { as: 'admin', body: { sku, name: sku, price_cents: 1, stock: 1 } });
        assert.equal(res.status, 201, res.body);
      }
      const { sizes, items } = await allPages(shop, '/products', 'bob');
      assert.deepEqual(sizes, [2, 2, 1]);
      assert.deepEqual(items.map((x) => x.sku), ['AAA', 'ESTAC', 'PIPOCA-G', 'REFRI-500', 'zzz']);
    });

    await t.test('bad limits and cursors are 400', async () => {
      for (const q of ['limit=0', 'limit=101', 'limit=abc', 'cursor=!!!', 'cursor=%2B%2B']) {
        for (const p of ['/events', '/products']) {
          const res = await shop.call('GET', `${p}?${q}`);
          assertProblem(res, 400, 'validation');
        }
      }
      // Cursors that decode but were not made by the list.
      const forged = (key) => Buffer.from(key).toString('base64url');
      for (const key of ['hello', '123|not-a-uuid', 'DROP TABLE', `1|${'0'.repeat(36)}`]) {
        const res = await shop.call('GET', `/events?cursor=${forged(key)}`);
        assertProblem(res, 400, 'validation');
        assert.deepEqual(pointers(res), ['cursor']);
      }
      for (const key of ['has space', 'a|b']) {
        const res = await shop.call('GET', `/products?cursor=${forged(key)}`);
        assertProblem(res, 400, 'validation');
        assert.deepEqual(pointers(res), ['cursor']);
      }
    });

    await t.test('the routes are in /openapi.json', async () => {
      const res = await shop.call('GET', '/openapi.json');
      assert.equal(res.status, 200);
      const paths = res.json.paths;
      assert.deepEqual(Object.keys(paths['/events']).sort(), ['get', 'post']);
      assert.deepEqual(Object.keys(paths['/events/{id}']).sort(), ['get', 'patch']);
      assert.deepEqual(Object.keys(paths['/products']).sort(), ['get', 'post']);
      assert.deepEqual(Object.keys(paths['/products/{id}']).sort(), ['get', 'patch']);
      assert.equal(paths['/events'].post.operationId, 'createEvent');
      assert.ok(paths['/products'].post.responses['409']);
      assert.equal(paths['/events'].get.parameters.find((x) => x.name === 'limit').schema.maximum, 100);
    });
  });
}

/** A products server plus the catalog-probe fixture: the shop's own config
 * and database, restarted with the probe added.  Returns { call, probe }. */
async function startWithProbe(t, driver) {
  const shop = await startCheckout({ t, driver, plugins: ['products'] });
  await shop.stop();
  const cfg = JSON.parse(fs.readFileSync(shop.configPath, 'utf8'));
  cfg.plugins.push({ name: 'catalog-probe', path: '${BH_TEST_PLUGINS}/catalog_probe.so' });
  fs.writeFileSync(shop.configPath, JSON.stringify(cfg));
  const server = await startServer({ config: shop.configPath, env: shop.env, t });
  const call = (method, reqPath, { as, body } = {}) => request({
    port: server.port, method, path: reqPath, body,
    headers: { ...(as ? { Authorization: `Bearer ${shop.tokens[as]}` } : {}),
               ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
  });
  const probe = async (ops, atomic = false) => {
    const res = await call('POST', '/probe/catalog', { body: { ops, atomic } });
    assert.ok(res.status === 200 || res.status === 409, res.body);
    return { status: res.status, results: res.json.results.map((r) => r.result), raw: res.json.results };
  };
  return { call, probe };
}

const count = (list, what) => list.filter((x) => x === what).length;

for (const driver of drivers()) {
  test(`catalog service on ${driver}`, async (t) => {
    const { call, probe } = await startWithProbe(t, driver);
    const mk = async (p, body) => {
      const res = await call('POST', p, { as: 'admin', body });
      assert.equal(res.status, 201, res.body);
      return res.json;
    };
    const ev = await mk('/events', eventBody({
      ticket_types: [{ name: 'Pista', price_cents: 15000, capacity: 20 },
                     { name: 'VIP', price_cents: 50000, capacity: 5 },
                     { name: 'Mix', price_cents: 100, capacity: 10 }],
    }));
    const [pista, vip, mix] = ev.ticket_types.map((tt) => tt.id);
    const past = (await mk('/events', eventBody({ name: 'Passado', starts_at: '2020-01-01T00:00:00Z' })))
      .ticket_types[0].id;
    const prod = (await mk('/products', { sku: 'PIPOCA', name: 'Pipoca', price_cents: 2500, stock: 7 })).id;
    const off = (await mk('/products', { sku: 'OFF', name: 'Off', price_cents: 1, stock: 5, active: false })).id;
    const inventory = async (id) => {
      const res = await call('GET', `/events/${ev.id}`, { as: 'admin' });
      const tt = res.json.ticket_types.find((x) => x.id === id);
      return [tt.sold, tt.held, tt.available];
    };
    const T = (op, id, qty = 1) => ({ op, kind: 'ticket', id, qty });
    const P = (op, id, qty = 1) => ({ op, kind: 'product', id, qty });

    await t.test('lookup: prices, names, availability, on_sale', async () => {
      const r = await probe([T('lookup', pista), P('lookup', prod), T('lookup', past), P('lookup', off)]);
      assert.deepEqual(r.results, ['ok', 'ok', 'ok', 'ok']);
      const [tk, pr, ps, of] = r.raw.map((x) => x.item);
      assert.deepEqual(tk, { kind: 'ticket', id: pista, event_id: ev.id, event_name: 'Festival de Verão',
                             name: 'Pista', sku: '', price_cents: 15000, currency: 'BRL', available: 20,
                             on_sale: true });
      assert.deepEqual(pr, { kind: 'product', id: prod, event_id: '', event_name: '', name: 'Pipoca',
                             sku: 'PIPOCA', price_cents: 2500, currency: 'BRL', available: 7, on_sale: true });
      assert.equal(ps.on_sale, false);
      assert.equal(of.on_sale, false);
      const miss = await probe([T('lookup', prod), P('lookup', pista), T('lookup', 'nope'),
                                T('lookup', '00000000-0000-4000-8000-000000000000')]);
      assert.deepEqual(miss.results, ['not_found', 'not_found', 'not_found', 'not_found']);
    });

    await t.test('60 concurrent holds on 20 seats: exactly 20 succeed', async () => {
      const results = await Promise.all(Array.from({ length: 60 }, () => probe([T('hold', pista)])));
      const flat = results.flatMap((r) => r.results);
      assert.equal(count(flat, 'ok'), 20);
      assert.equal(count(flat, 'insufficient'), 40);
      assert.deepEqual(await inventory(pista), [0, 20, 0]);
    });

    await t.test('10 concurrent holds of 2 on a stock of 7: exactly 3 succeed', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => probe([P('hold', prod, 2)])));
      const flat = results.flatMap((r) => r.results);
      assert.equal(count(flat, 'ok'), 3);
      assert.equal(count(flat, 'insufficient'), 7);
      assert.deepEqual((await probe([P('hold', prod, 2), P('hold', prod, 1), P('hold', prod, 1)])).results,
                       ['insufficient', 'ok', 'insufficient']);
      const res = await call('GET', `/products/${prod}`, { as: 'admin' });
      assert.deepEqual([res.json.held, res.json.available], [7, 0]);
    });

    await t.test('refusals: unavailable, not_found, insufficient quantities', async () => {
      const r = await probe([T('hold', past), P('hold', off), T('hold', prod), P('hold', pista),
                             T('hold', vip, 0), T('hold', vip, -1), T('hold', vip, 2 ** 53),
                             T('hold', vip, 6), T('release', vip), T('commit', vip), T('unsell', vip)]);
      assert.deepEqual(r.results, ['unavailable', 'unavailable', 'not_found', 'not_found', 'insufficient',
                                   'insufficient', 'insufficient', 'insufficient', 'insufficient',
                                   'insufficient', 'insufficient']);
      assert.deepEqual(await inventory(vip), [0, 0, 5]);
      // A cancelled event is not on sale; active again, it is.
      await call('PATCH', `/events/${ev.id}`, { as: 'admin', body: { status: 'cancelled' } });
      assert.deepEqual((await probe([T('hold', vip)])).results, ['unavailable']);
      await call('PATCH', `/events/${ev.id}`, { as: 'admin', body: { status: 'active' } });
      assert.deepEqual((await probe([T('hold', vip), T('release', vip)])).results, ['ok', 'ok']);
    });

    await t.test('commit, release and unsell move held and sold, never below zero', async () => {
      const r = await probe([T('commit', pista, 5), T('commit', pista, 16), T('release', pista, 15),
                             T('release', pista, 1), T('unsell', pista, 6), T('unsell', pista, 5),
                             T('unsell', pista, 1)]);
      assert.deepEqual(r.results, ['ok', 'insufficient', 'ok', 'insufficient', 'insufficient', 'ok',
                                   'insufficient']);
      assert.deepEqual(await inventory(pista), [0, 0, 20]);
      assert.deepEqual((await probe([P('commit', prod, 7), P('unsell', prod, 7), P('release', prod, 1)])).results,
                       ['ok', 'ok', 'insufficient']);
      const res = await call('GET', `/products/${prod}`, { as: 'admin' });
      assert.deepEqual([res.json.sold, res.json.held, res.json.available], [0, 0, 7]);
    });

    await t.test('holds roll back with the caller\'s unit', async () => {
      const failed = await probe([T('hold', vip, 3), T('hold', vip, 3)], true);
      assert.equal(failed.status, 409);
      assert.deepEqual(failed.results, ['ok', 'insufficient']);
      assert.deepEqual(await inventory(vip), [0, 0, 5], 'the first hold was rolled back');
      const kept = await probe([T('hold', vip, 3), T('hold', vip, 3)]);
      assert.deepEqual(kept.results, ['ok', 'insufficient']);
      assert.deepEqual(await inventory(vip), [0, 3, 2]);
    });

    await t.test('concurrent holds and releases keep 0 <= held <= capacity', async () => {
      const ops = Array.from({ length: 60 }, (_, i) => (i % 2 ? T('release', mix) : T('hold', mix, 2)));
      const results = (await Promise.all(ops.map((op) => probe([op])))).map((r) => r.results[0]);
      const holds = results.filter((_, i) => i % 2 === 0);
      const releases = results.filter((_, i) => i % 2 === 1);
      const held = 2 * count(holds, 'ok') - count(releases, 'ok');
      assert.ok(count(holds, 'ok') >= 5, 'at least the first five holds fit');
      const [sold, heldNow, available] = await inventory(mix);
      assert.equal(sold, 0);
      assert.equal(heldNow, held);
      assert.ok(heldNow >= 0 && heldNow <= 10, `held ${heldNow}`);
      assert.equal(available, 10 - heldNow);
    });
  });
}
