// products.test.mjs - the catalog over HTTP (work in progress).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { drivers, startCheckout } from './checkout.mjs';

for (const driver of drivers()) {
  test(`products on ${driver}: empty catalog`, async (t) => {
    const shop = await startCheckout({ t, driver, plugins: ['products'] });
    const res = await shop.call('GET', '/events');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { items: [], next_cursor: null });
  });
}
