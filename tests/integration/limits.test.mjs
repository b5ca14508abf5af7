// limits.test.mjs - limits and bad input, against the real bilhetagemd.
//
// conf/test.json: max_header_bytes 4096, max_body_bytes 65536, timeout_ms
// 2000, max_json_depth 16, rate class "tight" = 1/s burst 3.  Every refusal
// is checked for its exact status and problem type, and every test that
// could upset the server checks that it still answers afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertProblem, openRaw, parseResponses, rawExchange, request, SRCDIR, startServer, within,
} from './lib.mjs';

const MAX_HEADER_BYTES = 4096;
const MAX_BODY_BYTES = 65536;
const TIMEOUT_MS = 2000;
const MAX_JSON_DEPTH = 16;

let srv;
let port;

before(async () => {
  srv = await startServer();
  port = srv.port;
});
after(async () => {
  const { code } = await srv.stop();
  assert.equal(code, 0, `exit code after SIGTERM; stderr:\n${srv.stderr()}`);
});

async function assertStillServing() {
  const res = await request({ port, path: '/healthz' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { status: 'ok' });
}

const echo = (body, contentType = 'application/json') => request({
  port, method: 'POST', path: '/test/echo', body,
  headers: contentType === null ? {} : { 'Content-Type': contentType },
});

describe('JSON bodies', () => {
  test('application/json is echoed back', async () => {
    const res = await echo('{"a":[1,2,{"b":null}],"c":"ç"}');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { a: [1, 2, { b: null }], c: 'ç' });
  });

  for (const ct of ['application/json; charset=utf-8', 'Application/JSON', 'application/merge-patch+json',
                    'application/problem+json ; charset=utf-8']) {
    test(`Content-Type "${ct}" is accepted`, async () => {
      const res = await echo('{"ok":true}', ct);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { ok: true });
    });
  }

  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx',
                    'text/json', null]) {
    test(`Content-Type ${ct === null ? '(none)' : `"${ct}"`} is 415 unsupported-media-type`, async () => {
      assertProblem(await echo('{"ok":true}', ct), 415, 'unsupported-media-type');
    });
  }

  test('an empty body is 400 malformed-json', async () => {
    const p = assertProblem(await echo(''), 400, 'malformed-json');
    assert.equal(p.detail, 'a JSON body is required');
  });

  for (const [label, body] of [
    ['truncated JSON', '{"a":'],
    ['a trailing comma', '[1,2,]'],
    ['single quotes', "{'a':1}"],
    ['two documents', '{} {}'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])],
  ]) {
    test(`${label} is 400 malformed-json`, async () => {
      assertProblem(await echo(body), 400, 'malformed-json');
    });
  }

  test('duplicate object keys are 400 malformed-json', async () => {
    const p = assertProblem(await echo('{"a":1,"a":2}'), 400, 'malformed-json');
    assert.match(p.detail, /duplicate/);
  });

  // Depth counts nested containers: [] is depth 1, [[]] depth 2.
  const arrays = (n, leaf) => '['.repeat(n) + leaf + ']'.repeat(n);
  const objects = (n, leaf) => '{"k":'.repeat(n) + leaf + '}'.repeat(n);
  const emptyObjects = (n) => '{"k":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1);

  test(`${MAX_JSON_DEPTH} nested arrays are accepted, ${MAX_JSON_DEPTH + 1} are 400`, async () => {
    const ok = await echo(arrays(MAX_JSON_DEPTH, '1'));
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, JSON.parse(arrays(MAX_JSON_DEPTH, '1')));
    const p = assertProblem(await echo(arrays(MAX_JSON_DEPTH + 1, '1')), 400, 'malformed-json');
    assert.equal(p.detail, `JSON nesting is deeper than ${MAX_JSON_DEPTH} levels`);
  });

  test(`${MAX_JSON_DEPTH} nested objects are accepted, ${MAX_JSON_DEPTH + 1} are 400`, async () => {
    const ok = await echo(objects(MAX_JSON_DEPTH, '"leaf"'));
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, JSON.parse(objects(MAX_JSON_DEPTH, '"leaf"')));
    assertProblem(await echo(objects(MAX_JSON_DEPTH + 1, '"leaf"')), 400, 'malformed-json');
  });

  test(`the depth limit does not depend on the innermost container being empty`, async () => {
    assert.equal((await echo(arrays(MAX_JSON_DEPTH, ''))).status, 200);
    assert.equal((await echo(emptyObjects(MAX_JSON_DEPTH))).status, 200);
    assertProblem(await echo(arrays(MAX_JSON_DEPTH + 1, '')), 400, 'malformed-json');
    assertProblem(await echo(emptyObjects(MAX_JSON_DEPTH + 1)), 400, 'malformed-json');
  });

  test('a body far deeper than the limit is refused without harm', async () => {
    assertProblem(await echo(arrays(5000, '')), 400, 'malformed-json');
    await assertStillServing();
  });
});

describe('body size', () => {
  test(`a body of exactly ${MAX_BODY_BYTES} bytes is accepted`, async () => {
    const body = `{"s":"${'a'.repeat(MAX_BODY_BYTES - 8)}"}`;
    assert.equal(body.length, MAX_BODY_BYTES);
    const res = await echo(body);
    assert.equal(res.status, 200);
    assert.equal(res.json.s.length, MAX_BODY_BYTES - 8);
  });

  test(`a body of ${MAX_BODY_BYTES + 1} bytes is 413 and the server keeps serving`, async () => {
    const body = `{"s":"${'a'.repeat(MAX_BODY_BYTES - 7)}"}`;
    assert.equal(body.length, MAX_BODY_BYTES + 1);
    const text = await rawExchange(port,
      'POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${body.length}\r\n\r\n${body}`);
    assert.match(text, /^HTTP\/1\.1 413 /);
    await assertStillServing();
  });

  test('a chunked body over the limit is 413', async () => {
    const chunk = 'a'.repeat(16384);
    let bytes = 'POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
                'Transfer-Encoding: chunked\r\n\r\n';
    for (let i = 0; i < 5; i++) bytes += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    bytes += '0\r\n\r\n';
    const text = await rawExchange(port, bytes);
    assert.match(text, /^HTTP\/1\.1 413 /);
    await assertStillServing();
  });
});

describe('header size', () => {
  // A GET /healthz whose request line and headers total exactly `total` bytes.
  const sized = (total, path = '/healthz') => {
    const head = `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Pad: `;
    const tail = '\r\nConnection: close\r\n\r\n';
    const pad = total - head.length - tail.length;
    assert.ok(pad > 0);
    const req = head + 'p'.repeat(pad) + tail;
    assert.equal(req.length, total);
    return req;
  };

  test('headers comfortably under the limit are served', async () => {
    const [res] = parseResponses(await rawExchange(port, sized(MAX_HEADER_BYTES - 96)));
    assert.equal(res.status, 200);
  });

  test('headers over the limit are 431 headers-too-large and the connection closes', async () => {
    const conn = await openRaw(port);
    conn.socket.on('error', () => {});
    conn.socket.write(sized(MAX_HEADER_BYTES + 104).replace('Connection: close', 'X-Keep: 1'));
    const { afterMs } = await conn.closed;
    assert.ok(afterMs < TIMEOUT_MS - 500, `closed by the 431, not the idle timeout (${afterMs} ms)`);
    const [res] = parseResponses(conn.text());
    assert.equal(res.headers.connection, 'close');
    assertProblem({ status: res.status, headers: res.headers, body: res.body, json: JSON.parse(res.body) },
                  431, 'headers-too-large');
    await assertStillServing();
  });

  test('many small headers adding up past the limit are 431', async () => {
    let bytes = 'GET /healthz HTTP/1.1\r\nHost: x\r\n';
    for (let i = 0; i < 100; i++) bytes += `X-H${i}: ${'v'.repeat(40)}\r\n`;
    bytes += 'Connection: close\r\n\r\n';
    assert.ok(bytes.length > MAX_HEADER_BYTES);
    const [res] = parseResponses(await rawExchange(port, bytes));
    assert.equal(res.status, 431);
    assert.equal(JSON.parse(res.body).type, 'https://bilhetagem.dev/problems/headers-too-large');
  });

  test('a long request target counts toward the limit', async () => {
    const [res] = parseResponses(await rawExchange(port,
      `GET /test/items/${'x'.repeat(MAX_HEADER_BYTES + 100)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    assert.equal(res.status, 431);
  });

  test('64 KiB of headers is refused by the HTTP parser and the server keeps serving', async () => {
    const text = await rawExchange(port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(65536)}\r\n\r\n`, { timeoutMs: 3000 });
    assert.ok(text === '' || /^HTTP\/1\.[01] 4\d\d /.test(text),
              `a 4xx or a closed connection, got ${JSON.stringify(text.slice(0, 80))}`);
    await assertStillServing();
  });
});

describe('rate limiting', () => {
  test('the tight class allows a burst of 3, then 429 rate-limited with Retry-After', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await request({ port, path: '/test/limited' })).status);
    assert.deepEqual(statuses, [200, 200, 200]);
    const res = await request({ port, path: '/test/limited' });
    assertProblem(res, 429, 'rate-limited');
    assert.match(res.headers['retry-after'], /^[0-9]+$/);
    assert.ok(Number(res.headers['retry-after']) >= 1, `Retry-After ${res.headers['retry-after']}`);
    // Other classes are not affected by the exhausted one.
    assert.equal((await request({ port, path: '/test/items/1' })).status, 200);
    await assertStillServing();
  });
});

describe('idempotency keys (SQLite storage)', () => {
  let port;
  let srv;
  before(async () => {
    srv = await startServer({ config: `${SRCDIR}/conf/test-sqlite.json` });
    port = srv.port;
  });
  after(async () => { await srv.stop(); });
  const idem = (key) => request({ port, method: 'POST', path: '/test/idem',
                                  headers: key === undefined ? {} : { 'Idempotency-Key': key } });

  test('a missing key is 400 idempotency-key', async () => {
    assertProblem(await idem(undefined), 400, 'idempotency-key');
  });

  test('keys of 1 and 255 printable characters are accepted', async () => {
    assert.equal((await idem('k')).status, 200);
    assert.equal((await idem('~'.repeat(255))).status, 200);
  });

  for (const [label, key] of [['256 characters', 'k'.repeat(256)], ['an inner space', 'a b'],
                              ['a tab', 'a\tb']]) {
    test(`a key with ${label} is 400 idempotency-key`, async () => {
      assertProblem(await idem(key), 400, 'idempotency-key');
    });
  }
});

describe('bad requests', () => {
  test('a %00 in the path is 400 bad-request', async () => {
    assertProblem(await request({ port, path: '/hello/a%00b' }), 400, 'bad-request');
  });

  test('a path or query that does not decode to UTF-8 is 400 bad-request, not a 500', async () => {
    // Plugins get text: a parameter they put into JSON or bind as SQL text
    // (PostgreSQL refuses invalid UTF-8) must not turn bad input into a 500.
    for (const path of ['/hello/%FF%FE', '/hello/caf%E9', '/hello/%C0%AF', '/hello/%ED%A0%80',
                        '/hello?name=%FF', '/hello?%FF=x']) {
      const p = assertProblem(await request({ port, path }), 400, 'bad-request');
      assert.match(p.detail, /UTF-8/, path);
    }
    assert.equal((await request({ port, path: '/hello/Jo%C3%A3o?x=%F0%9F%8E%AB' })).status, 200);
  });

  test('an unknown method is 501 and the server keeps serving', async () => {
    const text = await rawExchange(port, 'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 501 /);
    await assertStillServing();
  });

  test('a garbage request line is 400 and the server keeps serving', async () => {
    const text = await rawExchange(port, 'hello there\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 400 /);
    await assertStillServing();
  });

  test('the sleep route validates its query (ms over 5000 is 400)', async () => {
    assertProblem(await request({ port, path: '/test/sleep?ms=5001' }), 400, 'validation');
  });
});

describe('stalled clients', () => {
  test('a client that stops mid-headers does not block others and is closed after timeout_ms', async () => {
    const stalled = await openRaw(port);
    stalled.socket.on('error', () => {});
    stalled.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    try {
      for (let i = 0; i < 4; i++) {
        const t0 = Date.now();
        await assertStillServing();
        assert.ok(Date.now() - t0 < 1000, 'answered promptly while another client stalls');
      }
      const { afterMs } = await within(stalled.closed, 6000, 'the server closing the stalled connection');
      assert.ok(afterMs >= TIMEOUT_MS - 500, `closed after ${afterMs} ms, not before timeout_ms`);
      assert.ok(stalled.text() === '' || /^HTTP\/1\.1 408 /.test(stalled.text()),
                `nothing or a 408, got ${JSON.stringify(stalled.text().slice(0, 60))}`);
    } finally {
      stalled.socket.destroy();
    }
  });

  test('a client that stops mid-body is closed after timeout_ms', async () => {
    const stalled = await openRaw(port);
    stalled.socket.on('error', () => {});
    stalled.socket.write('POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
                         'Content-Length: 10\r\n\r\n[1');
    try {
      await assertStillServing();
      const { afterMs } = await within(stalled.closed, 6000, 'the server closing the stalled connection');
      assert.ok(afterMs >= TIMEOUT_MS - 500 && afterMs <= 6000, `closed after ${afterMs} ms`);
      assert.ok(!/^HTTP\/1\.1 200 /.test(stalled.text()), 'a partial body is never handled');
    } finally {
      stalled.socket.destroy();
    }
  });
});
