// http.test.mjs - routing and protocol, against the real bilhetagemd.
//
// One server (conf/test.json: hello + testkit with its test-only authorizer)
// serves every test in this file; each test reads counts relative to what
// it saw first, so the tests do not depend on each other's traffic.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import {
  assertProblem, openRaw, parseResponses, rawExchange, request, sleep, SRCDIR, startServer, waitFor,
} from './lib.mjs';

const HEX_ID = /^[0-9a-f]{32}$/;

let srv;
let port;
const get = (path, headers = {}) => request({ port, path, headers });

before(async () => {
  srv = await startServer();
  port = srv.port;
});
after(async () => {
  const { code, signal } = await srv.stop();
  assert.equal(code, 0, `exit code after SIGTERM; stderr:\n${srv.stderr()}`);
  assert.equal(signal, null);
});

describe('built-in endpoints', () => {
  test('GET /healthz answers 200 {"status":"ok"} as application/json', async () => {
    const res = await get('/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.deepEqual(res.json, { status: 'ok' });
    assert.match(res.headers['x-request-id'], HEX_ID);
  });

  test('GET /readyz reports every plugin ready', async () => {
    const res = await get('/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'ready', checks: { hello: 'ok', testkit: 'ok' } });
  });

  test('GET /metrics counts each request by route, method and status', async () => {
    const counter = (text) => {
      const m = /^bilhetagem_http_requests_total\{route="\/healthz",method="GET",status="200"\} (\d+)$/m
        .exec(text);
      return m ? Number(m[1]) : 0;
    };
    await get('/healthz'); // so the series exists
    const first = await get('/metrics');
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(first.body, /^# TYPE bilhetagem_http_requests_total counter$/m);
    const before = counter(first.body);
    assert.ok(before >= 1, `healthz counter present:\n${first.body}`);
    for (let i = 0; i < 3; i++) assert.equal((await get('/healthz')).status, 200);
    const second = await get('/metrics');
    assert.equal(counter(second.body), before + 3);
  });

  test('GET /openapi.json is an OpenAPI 3.1.0 document with the plugins\' paths', async () => {
    const res = await get('/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.json.openapi, '3.1.0');
    assert.ok(res.json.paths['/hello/{name}'], 'has /hello/{name}');
    assert.ok(res.json.paths['/hello/{name}'].get, '/hello/{name} has get');
    assert.ok(res.json.paths['/test/echo'], 'has /test/echo');
    assert.ok(res.json.paths['/test/echo'].post, '/test/echo has post');
    assert.ok(res.json.paths['/healthz'].get, 'has /healthz');
  });
});

describe('request ids', () => {
  test('a well-formed X-Request-Id is echoed in the header and the problem instance', async () => {
    const id = 'Trace-1.2_3:abc';
    const ok = await get('/healthz', { 'X-Request-Id': id });
    assert.equal(ok.headers['x-request-id'], id);
    const missing = await get('/no/such/thing', { 'X-Request-Id': id });
    const p = assertProblem(missing, 404, 'not-found');
    assert.equal(p.instance, id);
  });

  test('an X-Request-Id of exactly 128 allowed characters is echoed', async () => {
    const id = 'a'.repeat(127) + 'Z';
    const res = await get('/healthz', { 'X-Request-Id': id });
    assert.equal(res.headers['x-request-id'], id);
  });

  for (const [label, bad] of [
    ['129 characters', 'b'.repeat(129)],
    ['a space', 'has space'],
    ['a slash', 'a/b'],
    ['a quote', 'x"y'],
  ]) {
    test(`an X-Request-Id with ${label} is replaced by a generated 32-hex id`, async () => {
      const res = await get('/healthz', { 'X-Request-Id': bad });
      assert.equal(res.status, 200);
      assert.match(res.headers['x-request-id'], HEX_ID);
    });
  }

  test('generated ids differ between requests', async () => {
    const ids = new Set();
    for (let i = 0; i < 5; i++) ids.add((await get('/healthz')).headers['x-request-id']);
    assert.equal(ids.size, 5);
  });
});

describe('routing', () => {
  test('an unknown path is 404 problem not-found', async () => {
    assertProblem(await get('/nope'), 404, 'not-found');
    assertProblem(await request({ port, method: 'POST', path: '/nope/deeper', body: '{}' }),
                  404, 'not-found');
  });

  test('a known path with another method is 405 with Allow', async () => {
    const res = await request({ port, method: 'DELETE', path: '/hello' });
    assertProblem(res, 405, 'method-not-allowed');
    assert.equal(res.headers.allow, 'GET, HEAD, OPTIONS');
    const put = await request({ port, method: 'PUT', path: '/test/items/7', body: '{}' });
    assertProblem(put, 405, 'method-not-allowed');
    assert.equal(put.headers.allow, 'GET, HEAD, DELETE, OPTIONS');
  });

  test('OPTIONS on a known path is 204 with Allow and no body', async () => {
    const res = await request({ port, method: 'OPTIONS', path: '/hello' });
    assert.equal(res.status, 204);
    assert.equal(res.headers.allow, 'GET, HEAD, OPTIONS');
    assert.equal(res.body, '');
    assert.match(res.headers['x-request-id'], HEX_ID);
    const echo = await request({ port, method: 'OPTIONS', path: '/test/echo' });
    assert.equal(echo.status, 204);
    assert.equal(echo.headers.allow, 'POST, OPTIONS');
  });

  test('OPTIONS on an unknown path is 404', async () => {
    assertProblem(await request({ port, method: 'OPTIONS', path: '/nope' }), 404, 'not-found');
  });

  test('HEAD /healthz is 200 with the GET headers and no body', async () => {
    const res = await request({ port, method: 'HEAD', path: '/healthz' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.match(res.headers['x-request-id'], HEX_ID);
    assert.equal(res.body, '');
  });

  test('a HEAD response carries no body bytes on the wire (keep-alive stays in sync)', async () => {
    // A body after a HEAD response would be read as the start of the next
    // response on the same connection.
    const text = await rawExchange(port,
      'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const head = text.indexOf('\r\n\r\n');
    assert.ok(head > 0, `a response head: ${JSON.stringify(text)}`);
    assert.match(text.slice(0, head), /^HTTP\/1\.1 200 /);
    const rest = text.slice(head + 4);
    assert.match(rest, /^HTTP\/1\.1 200 /,
                 `the next bytes after the HEAD response must be the next status line, got ${JSON.stringify(rest.slice(0, 40))}`);
  });

  test('a literal segment beats a parameter', async () => {
    const mine = await get('/test/items/mine');
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.json, { id: 'mine', route: '/test/items/mine' });
    const other = await get('/test/items/42');
    assert.deepEqual(other.json, { id: '42', route: '/test/items/{id}' });
  });

  test('DELETE /test/items/mine falls to the DELETE parameter route', async () => {
    const res = await request({ port, method: 'DELETE', path: '/test/items/mine' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { id: 'mine', route: '/test/items/{id}' });
  });

  test('path parameters are percent-decoded', async () => {
    assert.deepEqual((await get('/test/items/a%20b')).json, { id: 'a b', route: '/test/items/{id}' });
    assert.deepEqual((await get('/test/items/caf%C3%A9')).json, { id: 'café', route: '/test/items/{id}' });
    assert.deepEqual((await get('/test/items/a%2Fb')).json, { id: 'a/b', route: '/test/items/{id}' });
  });

  test('a query string does not change the route', async () => {
    const res = await get('/test/items/9?x=1&y=2');
    assert.deepEqual(res.json, { id: '9', route: '/test/items/{id}' });
  });
});

describe('hello plugin and events', () => {
  const greeted = async () => {
    const res = await get('/hello');
    assert.equal(res.status, 200);
    assert.equal(typeof res.json.greeted, 'number');
    return res.json.greeted;
  };

  test('GET /hello/{name} greets, and each greeting is delivered to the subscriber once', async () => {
    const before = await greeted();
    const res = await get('/hello/Ana');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { message: 'Olá, Ana!' });
    assert.deepEqual((await get('/hello/Jo%C3%A3o')).json, { message: 'Olá, João!' });
    await waitFor(async () => (await greeted()) >= before + 2, { what: 'two greetings delivered' });
    await sleep(100); // a duplicate delivery would show up by now
    assert.equal(await greeted(), before + 2);
  });

  test('a name over 64 bytes is a 400 validation problem and publishes nothing', async () => {
    const before = await greeted();
    const res = await get(`/hello/${'n'.repeat(65)}`);
    const p = assertProblem(res, 400, 'validation');
    assert.deepEqual(p.errors, [{ pointer: '/name', detail: 'must be at most 64 bytes' }]);
    assert.deepEqual((await get(`/hello/${'n'.repeat(64)}`)).json, { message: `Olá, ${'n'.repeat(64)}!` });
    await waitFor(async () => (await greeted()) >= before + 1, { what: 'the valid greeting delivered' });
    await sleep(100);
    assert.equal(await greeted(), before + 1);
  });

  test('POST /test/publish is 202 and its event reaches the subscriber', async () => {
    const count = async () => (await get('/test/events')).json.pings_delivered;
    const before = await count();
    const res = await request({ port, method: 'POST', path: '/test/publish' });
    assert.equal(res.status, 202);
    assert.deepEqual(res.json, { published: true });
    await waitFor(async () => (await count()) === before + 1, { what: 'one ping delivered' });
    // The subscriber's bh_unit_count applied when its unit ended, in process too.
    const metrics = await get('/metrics');
    assert.match(metrics.body, new RegExp(`^bilhetagem_testkit_pings_total ${before + 1}$`, 'm'));
  });

  test('a failed unit (409) discards the event it published', async () => {
    const count = async () => (await get('/test/events')).json.pings_delivered;
    const before = await count();
    const failed = await request({ port, method: 'POST', path: '/test/publish?fail=1' });
    assertProblem(failed, 409, 'conflict');
    // A successful publish afterwards proves delivery is working at all.
    assert.equal((await request({ port, method: 'POST', path: '/test/publish' })).status, 202);
    await waitFor(async () => (await count()) >= before + 1, { what: 'the successful ping' });
    await sleep(150);
    assert.equal(await count(), before + 1);
  });

  test('a failing handler is 500 problem internal, logged with the request id; the server keeps serving', async () => {
    const res = await get('/test/fail', { 'X-Request-Id': 'fail-probe-1' });
    const p = assertProblem(res, 500, 'internal');
    assert.equal(p.instance, 'fail-probe-1');
    const line = await srv.waitForLine((l) => l.level === 'error' && l.request_id === 'fail-probe-1');
    assert.match(line.msg, /GET \/test\/fail/);
    // The plugin's own bh_log line, written inside the handler, names the request too.
    const own = await srv.waitForLine((l) => l.plugin === 'testkit' && /failing on purpose/.test(l.msg));
    assert.equal(own.request_id, 'fail-probe-1');
    assert.equal((await get('/healthz')).status, 200);
  });
});

describe('authorization (test authorizer)', () => {
  test('an authenticated route without a principal is 401 with WWW-Authenticate: Bearer', async () => {
    const res = await get('/test/secure');
    assertProblem(res, 401, 'unauthorized');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  test('an authenticated route with a principal answers with its subject', async () => {
    const res = await get('/test/secure', { 'X-Test-User': 'alice' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { sub: 'alice' });
  });

  test('a role route is 403 for a principal without the role', async () => {
    const res = await get('/test/admin', { 'X-Test-User': 'bob' });
    assertProblem(res, 403, 'forbidden');
    assert.equal(res.headers['www-authenticate'], undefined);
  });

  test('a role route is 200 for a principal with the role', async () => {
    const res = await get('/test/admin', { 'X-Test-User': 'carol,admin' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { sub: 'carol' });
  });

  test('a role route without a principal is 401', async () => {
    const res = await get('/test/admin');
    assertProblem(res, 401, 'unauthorized');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  test('a public route ignores the absence of a principal', async () => {
    assert.deepEqual((await get('/test/whoami')).json, { sub: null });
    assert.deepEqual((await get('/test/whoami', { 'X-Test-User': 'dave' })).json, { sub: 'dave' });
  });
});

describe('idempotent routes (SQLite storage)', () => {
  let port;
  let srv;
  before(async () => {
    srv = await startServer({ config: `${SRCDIR}/conf/test-sqlite.json` });
    port = srv.port;
  });
  after(async () => { await srv.stop(); });

  test('POST /test/idem without Idempotency-Key is 400 idempotency-key', async () => {
    assertProblem(await request({ port, method: 'POST', path: '/test/idem' }), 400, 'idempotency-key');
  });

  test('POST /test/idem with Idempotency-Key: abc is 200', async () => {
    const res = await request({ port, method: 'POST', path: '/test/idem', headers: { 'Idempotency-Key': 'abc' } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { id: 'mine', route: '/test/idem' });
  });
});

describe('connections', () => {
  test('keep-alive: several requests reuse one socket', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const results = [];
      for (let i = 0; i < 5; i++) {
        results.push(await request({ port, path: i % 2 ? '/healthz' : `/hello/k${i}`, agent }));
      }
      assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200]);
      assert.deepEqual(results[0].json, { message: 'Olá, k0!' });
      assert.deepEqual(results[1].json, { status: 'ok' });
      const ports = new Set(results.map((r) => r.localPort));
      assert.equal(ports.size, 1, `one local port for all requests, got ${[...ports]}`);
      assert.equal(new Set(results.map((r) => r.headers['x-request-id'])).size, 5);
    } finally {
      agent.destroy();
    }
  });

  test('pipelined requests on one connection are answered in order', async () => {
    const text = await rawExchange(port,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-1\r\n\r\n' +
      'GET /test/items/p2 HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-2\r\n\r\n' +
      'POST /test/echo HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-3\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"n":[3]}' +
      'GET /nope HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-4\r\nConnection: close\r\n\r\n');
    const responses = parseResponses(text);
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 404]);
    assert.deepEqual(responses.map((r) => r.headers['x-request-id']), ['pipe-1', 'pipe-2', 'pipe-3', 'pipe-4']);
    assert.deepEqual(JSON.parse(responses[0].body), { status: 'ok' });
    assert.deepEqual(JSON.parse(responses[1].body), { id: 'p2', route: '/test/items/{id}' });
    assert.deepEqual(JSON.parse(responses[2].body), { n: [3] });
    assert.equal(JSON.parse(responses[3].body).type, 'https://bilhetagem.dev/problems/not-found');
  });

  test('Connection: close is honoured: the server closes after the response', async () => {
    const conn = await openRaw(port);
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const { afterMs } = await conn.closed;
    assert.ok(afterMs < 1000, `closed after ${afterMs} ms`);
    const [res] = parseResponses(conn.text());
    assert.equal(res.status, 200);
  });
});

describe('access log', () => {
  const accessLine = (id) => srv.waitForLine((l) => l.type === 'access' && l.request_id === id);

  test('each request yields one access line with its route template, status and sizes', async () => {
    const res = await get('/test/items/7', { 'X-Request-Id': 'access-1' });
    assert.equal(res.status, 200);
    const line = await accessLine('access-1');
    assert.equal(line.method, 'GET');
    assert.equal(line.route, '/test/items/{id}');
    assert.equal(line.status, 200);
    assert.equal(line.bytes_in, 0);
    assert.equal(line.bytes_out, Buffer.byteLength(res.body));
    assert.equal(line.level, 'info');
    assert.equal(line.client, '127.0.0.1');
    await sleep(250); // past the access log's flush interval: a duplicate would be out
    assert.equal(srv.lines.filter((l) => l.request_id === 'access-1' && l.type === 'access').length, 1);
    assert.equal(typeof line.duration_ms, 'number', `duration_ms in ${JSON.stringify(line)}`);
    assert.ok(line.duration_ms >= 0);
  });

  test('the access line counts the body in and has route null when nothing matched', async () => {
    const body = JSON.stringify({ hello: 'world', n: [1, 2, 3] });
    const echo = await request({ port, method: 'POST', path: '/test/echo', body,
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'access-2' } });
    assert.equal(echo.status, 200);
    const line = await accessLine('access-2');
    assert.equal(line.method, 'POST');
    assert.equal(line.route, '/test/echo');
    assert.equal(line.bytes_in, Buffer.byteLength(body));
    assert.equal(line.bytes_out, Buffer.byteLength(echo.body));

    const missing = await get('/nowhere', { 'X-Request-Id': 'access-3' });
    assert.equal(missing.status, 404);
    const miss = await accessLine('access-3');
    assert.equal(miss.route, null);
    assert.equal(miss.status, 404);
    assert.equal(miss.bytes_out, Buffer.byteLength(missing.body));
  });

  test('a bearer token never reaches stdout or stderr', async () => {
    const secret = 'secret-token-xyz';
    const headers = { Authorization: `Bearer ${secret}`, 'X-Request-Id': 'secret-1' };
    assert.equal((await get('/test/secure', headers)).status, 401);
    assert.equal((await get('/test/fail', { ...headers, 'X-Request-Id': 'secret-2' })).status, 500);
    await accessLine('secret-1');
    await accessLine('secret-2');
    assert.equal(srv.stdout().includes(secret), false, 'stdout leaks the token');
    assert.equal(srv.stderr().includes(secret), false, 'stderr leaks the token');
  });

  test('the access log records neither the query string nor header values', async () => {
    const res = await get('/test/items/5?token=query-secret-abc',
                          { 'X-Request-Id': 'secret-3', 'X-Test-User': 'header-secret-def' });
    assert.equal(res.status, 200);
    const line = await accessLine('secret-3');
    assert.equal(line.route, '/test/items/{id}');
    for (const s of ['query-secret-abc', 'header-secret-def']) {
      assert.equal(srv.stdout().includes(s), false, `stdout has ${s}`);
      assert.equal(srv.stderr().includes(s), false, `stderr has ${s}`);
    }
  });
});
