// scaleout.test.mjs - several bilhetagemd nodes behind a real load balancer
// (nginx, round robin) sharing one PostgreSQL, the way production runs:
//
//   - 200 customers race through the balancer for the 50 seats of a ticket
//     type: exactly 50 orders succeed, 150 are 409, both nodes served, and
//     the inventory reads 0 available on either node;
//   - every order placed is then paid through the balancer: the invoices are
//     numbered 1..N of the year's series with no gap and no repeat, although
//     both nodes' dispatchers deliver payment.captured;
//   - holds that expire are released exactly once, although both nodes run
//     the expiry task.
//
// Needs BH_TEST_PG_DSN (scaleout-pg.test.sh starts PostgreSQL with
// tests/pg.sh) and nginx (the Debian package nginx-light).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { startCheckout } from '../integration/checkout.mjs';
import { freePort, request, startServer, tempDir, waitFor } from '../integration/lib.mjs';

const NGINX = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
const SEATS = 50;
const BUYERS = 200;

/** nginx balancing round robin over `ports`; resolves { port, stop() }. */
async function startBalancer(ports) {
  const dir = tempDir('bh-lb-');
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    upstream bilhetagem {
        ${ports.map((p) => `server 127.0.0.1:${p};`).join('\n        ')}
        keepalive 16;
    }
    server {
        listen 127.0.0.1:${port};
        location / {
            proxy_pass http://bilhetagem;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream off;
        }
    }
}
`);
  const proc = spawn(NGINX, ['-c', conf, '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
  await waitFor(async () => {
    try {
      return (await request({ port, path: '/healthz', timeoutMs: 500 })).status === 200;
    } catch { return false; }
  }, { timeoutMs: 10_000, what: 'nginx answering' });
  return {
    port,
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null) { resolve(); return; }
      proc.on('exit', resolve);
      proc.kill('SIGQUIT');
    }),
  };
}

/** The access lines a node wrote for `route`. */
const served = (server, route) => server.lines.filter((l) => l.type === 'access' && l.route === route).length;

describe('two nodes behind nginx on one PostgreSQL', { timeout: 120_000 }, () => {
  let shop;
  let second;
  let lb;
  let cat;
  const call = (method, reqPath, opts = {}) => shop.call(method, reqPath, opts);
  // The same calls, through the balancer.
  const viaLb = (method, reqPath, { as, body, key } = {}) => {
    const headers = {};
    if (as) headers.Authorization = `Bearer ${shop.tokens[as]}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (key) headers['Idempotency-Key'] = key;
    return request({ port: lb.port, method, path: reqPath, headers, body, timeoutMs: 20_000 });
  };

  before(async () => {
    shop = await startCheckout({ driver: 'postgresql', config: {
      order: { hold_seconds: 8, sweep_interval_ms: 200 },
      payment: { gateway_timeout_ms: 500, retry_budget_ms: 1000 },
    } });
    second = await startServer({ config: shop.configPath, env: shop.env });
    lb = await startBalancer([shop.port, second.port]);
    const ev = await call('POST', '/events', {
      as: 'admin',
      body: { name: 'Final', venue: 'Estádio', starts_at: '2031-06-01T20:00:00Z',
              ticket_types: [{ name: 'Arquibancada', price_cents: 12000, capacity: SEATS },
                             { name: 'Cadeira', price_cents: 30000, capacity: 10 }] },
    });
    assert.equal(ev.status, 201, ev.body);
    cat = ev.json;
  });
  after(async () => {
    if (lb) await lb.stop();
    if (second) await second.stop();
    if (shop) await shop.stop();
  });

  test(`${BUYERS} buyers for ${SEATS} seats: exactly ${SEATS} orders, through both nodes`, async () => {
    const seat = cat.ticket_types.find((t) => t.name === 'Arquibancada').id;
    const results = await Promise.all(Array.from({ length: BUYERS }, (_, i) => viaLb('POST', '/orders', {
      as: i % 2 ? 'alice' : 'bob', key: `race-${i}`, body: { items: [{ ticket_type_id: seat, quantity: 1 }] },
    })));
    const count = (s) => results.filter((r) => r.status === s).length;
    assert.equal(count(201), SEATS, `statuses: ${[...new Set(results.map((r) => r.status))]}`);
    assert.equal(count(409), BUYERS - SEATS);
    for (const r of results.filter((x) => x.status === 409)) assert.equal(r.json.type.endsWith('/insufficient-inventory'), true);
    // access lines are written by an idle-priority thread: wait for them
    await waitFor(() => served(shop.server, '/orders') > 0 && served(second, '/orders') > 0,
                  { timeoutMs: 15_000, what: 'access lines from both nodes: the balancer used both' });
    for (const port of [shop.port, second.port]) {
      const ev = await request({ port, path: `/events/${cat.id}` });
      assert.equal(ev.json.ticket_types.find((t) => t.id === seat).available, 0);
    }
    shop.won = results.filter((r) => r.status === 201).map((r) => r.json);
  });

  test('every order paid through the balancer: invoices 1..N, no gap, no repeat', async () => {
    const orders = shop.won.slice(0, 20);
    const pays = await Promise.all(orders.map((o, i) => viaLb('POST', `/orders/${o.id}/payments`, {
      as: o.user === 'alice-1' ? 'alice' : 'bob', key: `pay-${i}`, body: { method: 'card', card_token: 'tok_approve' },
    })));
    for (const p of pays) assert.equal(p.status, 201, p.body);
    assert.ok(pays.every((p) => p.json.status === 'captured'));
    const numbers = [];
    for (const o of orders) {
      let inv;
      await waitFor(async () => {
        inv = await viaLb('GET', `/orders/${o.id}/invoice`, { as: o.user === 'alice-1' ? 'alice' : 'bob' });
        return inv.status === 200;
      }, { timeoutMs: 15_000, what: `invoice of ${o.id}` });
      numbers.push(Number(inv.json.number.split('-')[1]));
    }
    assert.deepEqual(numbers.sort((a, b) => a - b), Array.from({ length: orders.length }, (_, i) => i + 1));
  });

  test('unpaid holds expire once, with both nodes sweeping', async () => {
    const seat = cat.ticket_types.find((t) => t.name === 'Arquibancada').id;
    const unpaid = shop.won.length - 20;
    await waitFor(async () => {
      const ev = await viaLb('GET', `/events/${cat.id}`);
      return ev.json.ticket_types.find((t) => t.id === seat).available === unpaid;
    }, { timeoutMs: 20_000, what: `${unpaid} seats back on sale` });
    const expired = await shop.sql("SELECT COUNT(*) FROM orders WHERE status = 'expired'");
    assert.equal(Number(expired), unpaid);
    const metric = async (port) => {
      const res = await request({ port, path: '/metrics' });
      return Number(/^bilhetagem_orders_expired_total (\d+)$/m.exec(res.body)[1]);
    };
    assert.equal(await metric(shop.port) + await metric(second.port), unpaid, 'each order expired on one node only');
  });
});
