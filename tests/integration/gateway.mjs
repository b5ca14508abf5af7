// gateway.mjs - a payment provider for the tests of the payment plugin's
// "http" gateway: the JSON API of docs/plugins/payment.md, on 127.0.0.1 with
// an ephemeral port, recording every request it gets (method, path,
// Idempotency-Key, X-Amzn-Trace-Id, Authorization, body) so a test can
// assert what the plugin sent.
//
//   POST /charges                  {payment_id, order_id, amount_cents, currency, method, card_token?}
//   GET  /charges/{payment_id}     what became of it (404 when unknown)
//   POST /charges/{payment_id}/refund
//
// The card token decides, like the built-in simulator:
//   tok_approve  captured          tok_decline  declined (card_declined)
//   tok_fail_N   503 to the first N calls about this payment id, then captured
//   tok_timeout  captured, but the answer comes after `slowMs` (longer than
//                the plugin's timeout): the money moved, the plugin never heard
//   pix          pending, with a pix_copy_paste payload
// A repeated Idempotency-Key answers the first outcome: nothing is charged twice.
import http from 'node:http';

const HOST = '127.0.0.1';
const BODY_MAX = 65536;

/** Start the gateway.  Resolves { url, requests, charges, close() }. */
export function startGateway({ slowMs = 1500 } = {}) {
  const requests = [];
  const charges = new Map(); // payment_id -> { status, failsLeft, token, amount_cents, charged }
  const timers = new Set();

  const send = (res, status, body, delayMs = 0) => {
    const text = JSON.stringify(body);
    const write = () => {
      if (res.destroyed) return;
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (!delayMs) return write();
    const timer = setTimeout(() => { timers.delete(timer); write(); }, delayMs);
    timers.add(timer);
    return undefined;
  };

  const charge = (body, res) => {
    const id = body.payment_id;
    let c = charges.get(id);
    if (!c) {
      const token = body.card_token || '';
      const m = /^tok_fail_(\d+)$/.exec(token);
      c = { token, method: body.method, amount_cents: body.amount_cents, failsLeft: m ? Number(m[1]) : 0,
            status: 'new', charged: 0 };
      charges.set(id, c);
    }
    if (c.failsLeft > 0) {
      c.failsLeft -= 1;
      return send(res, 503, { error: 'try again' });
    }
    if (c.status === 'new') {
      if (c.method === 'pix') c.status = 'pending';
      else if (c.token === 'tok_decline') c.status = 'declined';
      else { c.status = 'captured'; c.charged += 1; }
    }
    const answer = { id: `ch_${id}`, status: c.status };
    if (c.status === 'declined') answer.reason = 'card_declined';
    if (c.method === 'pix') answer.pix_copy_paste = `00020126PIX-${id}`;
    return send(res, 200, answer, c.token === 'tok_timeout' ? slowMs : 0);
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > BODY_MAX) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body = {};
      try { body = text ? JSON.parse(text) : {}; } catch { return send(res, 400, { error: 'bad json' }); }
      const url = new URL(req.url, `http://${HOST}`);
      requests.push({
        method: req.method, path: url.pathname, body,
        idempotencyKey: req.headers['idempotency-key'],
        traceHeader: req.headers['x-amzn-trace-id'],
        authorization: req.headers.authorization,
      });
      if (req.method === 'POST' && url.pathname === '/charges') return charge(body, res);
      const m = /^\/charges\/([^/]+)(\/refund)?$/.exec(url.pathname);
      const c = m && charges.get(m[1]);
      if (m && req.method === 'GET' && !m[2]) {
        if (!c || c.status === 'new') return send(res, 404, { error: 'no such charge' });
        if (c.failsLeft > 0) {
          c.failsLeft -= 1;
          return send(res, 503, { error: 'try again' });
        }
        return send(res, 200, { id: `ch_${m[1]}`, status: c.status });
      }
      if (m && req.method === 'POST' && m[2]) {
        if (!c) return send(res, 404, { error: 'no such charge' });
        c.status = 'refunded';
        return send(res, 200, { id: `re_${m[1]}`, status: 'refunded' });
      }
      return send(res, 404, { error: 'no such route' });
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      resolve({
        url: `http://${HOST}:${port}`,
        requests,
        charges,
        close: () => new Promise((done) => {
          for (const timer of timers) clearTimeout(timer);
          server.closeAllConnections?.();
          server.close(() => done());
        }),
      });
    });
  });
}
