// lib.mjs - the harness the integration tests share.
//
// It starts the real bilhetagemd on 127.0.0.1 with an ephemeral port, reads
// the JSON lines it prints on stdout (the "listening" line gives the port),
// and speaks HTTP to it two ways: node:http for ordinary requests, node:net
// for raw bytes (malformed or oversized requests, pipelining, stalled
// clients).  Every wait here is bounded in time, and every server started is
// killed when the test process exits, whatever happened to the test.
//
// Environment (set by `make check`; defaults let `node --test FILE` run
// straight from a built source tree):
//   BH_BUILDDIR  holds ./bilhetagemd, ./plugins/*.so, ./tests/plugins/*.so
//   BH_SRCDIR    holds conf/test.json
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BUILDDIR = process.env.BH_BUILDDIR || '/work/main';
export const SRCDIR = process.env.BH_SRCDIR || '/work/main';
export const BIN = path.join(BUILDDIR, 'bilhetagemd');
export const TEST_CONFIG = path.join(SRCDIR, 'conf', 'test.json');
export const PLUGIN_DIR = path.join(BUILDDIR, 'plugins');
export const FIXTURE_DIR = path.join(BUILDDIR, 'tests', 'plugins');
export const HOST = '127.0.0.1';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 15_000;

// Every child we spawn, so none outlives the test process: killed on a
// normal exit, and on the SIGTERM / SIGINT the test runner sends a file
// that overruns its timeout.
const children = new Set();
const killChildren = () => {
  for (const child of children) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
};
process.on('exit', killChildren);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    killChildren();
    process.exit(128 + (sig === 'SIGTERM' ? 15 : 2));
  });
}

// Temporary directories, removed when the test process exits.
const tempDirs = new Set();
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh private directory under the system temp dir. */
export function tempDir(prefix = 'bh-it-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Writes `content` (a string, or an object serialised as JSON) to NAME in a
 * fresh temp dir and returns the file's path. */
export function writeTempFile(name, content) {
  const file = path.join(tempDir(), name);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** The environment every server gets: plugin dirs and a fresh data dir,
 * then `extra` (a value of undefined removes a variable). */
export function serverEnv(extra = {}) {
  const env = {
    ...process.env,
    BILHETAGEM_PLUGIN_DIR: PLUGIN_DIR,
    BH_TEST_PLUGINS: FIXTURE_DIR,
    BILHETAGEM_DATA_DIR: tempDir('bh-data-'),
  };
  delete env.BILHETAGEM_LISTEN; // a developer's shell must not redirect the tests
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export { sleep };

/** Resolves like `promise`, or rejects with "`what` took over `ms` ms".  The
 * timer is cleared either way, so it never holds the test process open. */
export async function within(promise, ms, what = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `fn` every `stepMs` until it returns a truthy value (which is
 * returned) or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(fn, { timeoutMs = 3000, stepMs = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/**
 * Starts bilhetagemd and resolves once it prints its "listening" line.
 *
 * Returns { port, host, proc, lines, exited, stdout(), stderr(), exitInfo(),
 * waitForLine(pred), kill(signal), stop(signal) }.  `lines` holds every
 * stdout line parsed as JSON so far and keeps growing.  stop() sends
 * `signal` and resolves { code, signal }; it rejects (so the test fails) if
 * the process is still running 15 s later (after killing it), or if it had
 * already exited without being signalled through kill() or stop() (a crash).
 * stop() is idempotent.  With `probePort` (for configs that log to a file),
 * readiness is GET /healthz answering on that port instead.  With `t` (a test context or
 * suite), stop() is also registered as an after-hook.
 */
export function startServer({ config = TEST_CONFIG, env = {}, args = [], listen = `${HOST}:0`, t,
                              probePort } = {}) {
  const argv = ['-c', config, ...(listen ? ['--listen', listen] : []), ...args];
  // A private working directory: a relative path in a config lands there.
  const proc = spawn(BIN, argv, { env: serverEnv(env), cwd: tempDir('bh-cwd-'),
                                  stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);

  let out = '';
  let err = '';
  let partial = '';
  const lines = [];
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    // 'close', not 'exit': by then stdout and stderr have been read to the end.
    proc.on('close', (code, signal) => {
      exitInfo = { code, signal };
      children.delete(proc);
      resolve(exitInfo);
    });
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => { err += chunk; });
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => {
    out += chunk;
    partial += chunk;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const text = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try { lines.push(JSON.parse(text)); } catch { lines.push({ unparsed: text }); }
    }
  });

  let stopping = null;
  let signalled = false; // an exit before any kill() is a crash or an outside kill
  const server = {
    host: HOST,
    port: 0,
    proc,
    lines,
    exited,
    stdout: () => out,
    stderr: () => err,
    exitInfo: () => exitInfo,
    /** The first stdout line matching pred, waiting up to timeoutMs. */
    waitForLine: (pred, timeoutMs = 3000) =>
      waitFor(() => lines.find(pred), { timeoutMs, what: `a log line matching ${pred}` }),
    /** Sends `signal` (an expected one: stop() will not complain). */
    kill(signal) {
      signalled = true;
      return proc.kill(signal);
    },
    stop(signal = 'SIGTERM') {
      if (stopping) return stopping;
      const unexpected = exitInfo && !signalled;
      stopping = (async () => {
        if (unexpected) {
          throw new Error(`bilhetagemd exited on its own before stop() ` +
                          `(code ${exitInfo.code}, signal ${exitInfo.signal}); stderr:\n${err}`);
        }
        if (!exitInfo) {
          server.kill(signal);
          let timer;
          const timedOut = new Promise((resolve) => {
            timer = setTimeout(() => resolve(null), STOP_TIMEOUT_MS);
          });
          const info = await Promise.race([exited, timedOut]);
          clearTimeout(timer);
          if (!info) {
            proc.kill('SIGKILL');
            await exited;
            throw new Error(`bilhetagemd did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}; ` +
                            `stderr:\n${err}`);
          }
        }
        return exitInfo;
      })();
      return stopping;
    },
  };
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signalled = true;
      proc.kill('SIGKILL');
      reject(new Error(`bilhetagemd did not print "listening" within ${START_TIMEOUT_MS} ms; ` +
                       `stderr:\n${err}`));
    }, START_TIMEOUT_MS);
    const onData = () => {
      const ready = lines.find((l) => l.msg === 'listening');
      if (!ready) return;
      clearTimeout(timer);
      proc.stdout.off('data', onData);
      const m = /^127\.0\.0\.1:(\d+)$/.exec(ready.listen || '');
      if (!m) {
        signalled = true;
        proc.kill('SIGKILL');
        reject(new Error(`unexpected "listen" field in ${JSON.stringify(ready)}`));
        return;
      }
      server.port = Number(m[1]);
      resolve(server);
    };
    if (probePort) {
      // The config sends the log elsewhere: ready when /healthz answers.
      let settled = false;
      const probe = () => {
        if (settled || exitInfo) return;
        request({ port: probePort, path: '/healthz', timeoutMs: 1000 }).then((res) => {
          if (res.status !== 200) throw new Error(`healthz ${res.status}`);
          settled = true;
          clearTimeout(timer);
          server.port = probePort;
          resolve(server);
        }).catch(() => setTimeout(probe, 50));
      };
      probe();
    } else {
      proc.stdout.on('data', onData);
    }
    exited.then((info) => {
      clearTimeout(timer);
      reject(new Error(`bilhetagemd exited (code ${info.code}, signal ${info.signal}) ` +
                       `before listening; stderr:\n${err}`));
    });
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return ready.then(() => {
    if (t) t.after(() => server.stop());
    return server;
  });
}

/**
 * Runs bilhetagemd to completion (for -t, --version, bad configs) and
 * resolves { code, signal, stdout, stderr }.  Killed after timeoutMs.
 */
export function runBinary(args, { env = serverEnv(), timeoutMs = 10_000, bin = BIN } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { env, cwd: tempDir('bh-cwd-'), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (c) => { stdout += c; });
    proc.stderr.on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(proc);
      if (signal === 'SIGKILL') reject(new Error(`${path.basename(bin)} ${args.join(' ')} ran over ${timeoutMs} ms`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for tests of how the
 * listen address is chosen, which need to know the port in advance). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * One HTTP request over node:http (a fresh connection unless `agent` is
 * given).  Resolves { status, headers, body, json, socket } where json is the
 * parsed body or undefined and socket carries the local port used.
 */
export function request({ port, method = 'GET', path: reqPath = '/', headers = {}, body,
                          agent = false, timeoutMs = 5000 }) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined
      : Buffer.isBuffer(body) ? body
      : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const hdrs = { ...headers };
    if (data !== undefined) hdrs['Content-Length'] = String(data.length);
    const req = http.request({ host: HOST, port, method, path: reqPath, headers: hdrs, agent });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${reqPath}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks = [];
      const localPort = res.socket.localPort;
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json, localPort });
      });
    });
    req.end(data);
  });
}

/**
 * Opens a raw TCP connection.  Returns { socket, text(), closed } where
 * closed resolves { afterMs, error } when the server closes (or resets) it.
 * Rejects if the connection cannot be made (e.g. ECONNREFUSED).
 */
export function openRaw(port, { connectTimeoutMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    const chunks = [];
    const started = Date.now();
    let connected = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${HOST}:${port} timed out`));
    }, connectTimeoutMs);
    const closed = new Promise((resolveClosed) => {
      let error = null;
      socket.on('error', (e) => {
        error = e;
        if (!connected) {
          clearTimeout(timer);
          reject(e);
        }
      });
      socket.on('close', () => resolveClosed({ afterMs: Date.now() - started, error }));
    });
    socket.on('data', (c) => chunks.push(c));
    socket.on('connect', () => {
      connected = true;
      clearTimeout(timer);
      resolve({ socket, text: () => Buffer.concat(chunks).toString('latin1'), closed });
    });
  });
}

/**
 * Writes raw bytes and collects everything the server sends until it closes
 * the connection or timeoutMs passes (then the socket is destroyed).
 * Resolves the response text (latin1, so byte counts are exact).
 */
export async function rawExchange(port, bytes, { timeoutMs = 5000 } = {}) {
  const conn = await openRaw(port);
  conn.socket.on('error', () => {}); // a reset after some bytes still yields them
  conn.socket.write(bytes);
  let timer;
  const timedOut = new Promise((resolve) => {
    timer = setTimeout(() => { conn.socket.destroy(); resolve(); }, timeoutMs);
  });
  await Promise.race([conn.closed, timedOut]);
  clearTimeout(timer);
  conn.socket.destroy();
  return conn.text();
}

/**
 * Splits raw HTTP/1.1 response text into responses: [{ status, headers
 * (lower-case names), body }].  Bodies are delimited by Content-Length (no
 * header: no body, as every response of ours has one unless it is empty).
 */
export function parseResponses(text) {
  const out = [];
  let rest = text;
  for (let guard = 0; rest.length > 0 && guard < 1000; guard++) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`incomplete response head: ${JSON.stringify(rest.slice(0, 200))}`);
    const [statusLine, ...headerLines] = rest.slice(0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const headers = {};
    for (const h of headerLines) {
      const i = h.indexOf(':');
      headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] || 0);
    const body = rest.slice(end + 4, end + 4 + len);
    out.push({ status: Number(m[1]), headers, body });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

export const PROBLEM_BASE = 'https://bilhetagem.dev/problems/';

/** Asserts `res` is an RFC 9457 problem of `status` and type slug `slug`
 * whose instance is the response's X-Request-Id.  Returns the problem. */
export function assertProblem(res, status, slug) {
  assert.equal(res.status, status, `status (body: ${res.body})`);
  assert.equal(res.headers['content-type'], 'application/problem+json');
  const p = res.json;
  assert.ok(p && typeof p === 'object', `problem body is JSON: ${res.body}`);
  assert.equal(p.type, PROBLEM_BASE + slug);
  assert.equal(p.status, status);
  assert.equal(typeof p.title, 'string');
  assert.ok(p.title.length > 0, 'title is not empty');
  assert.equal(typeof p.detail, 'string');
  assert.ok(p.detail.length > 0, 'detail is not empty');
  assert.match(res.headers['x-request-id'], /^[0-9a-f]{32}$|^[A-Za-z0-9._:-]{1,128}$/);
  assert.equal(p.instance, res.headers['x-request-id']);
  return p;
}

// ---- PostgreSQL helpers -----------------------------------------------------------

/** `dsn` (keyword=value or URI form) with another database name. */
export function withDatabase(dsn, db) {
  if (/^postgres(ql)?:\/\//.test(dsn)) {
    const u = new URL(dsn);
    u.pathname = `/${db}`;
    return u.toString();
  }
  return /\bdbname=\S+/.test(dsn) ? dsn.replace(/\bdbname=\S+/, `dbname=${db}`) : `${dsn} dbname=${db}`;
}

const PG_BIN = process.env.BH_PG_BIN || '/usr/lib/postgresql/15/bin';
const PSQL = fs.existsSync(path.join(PG_BIN, 'psql')) ? path.join(PG_BIN, 'psql') : 'psql';

/** psql -c SQL against `dsn`: the unaligned, tuples-only output, trimmed.
 * Rejects when psql fails (the message has psql's stderr). */
export async function psql(dsn, sql, { timeoutMs = 20_000 } = {}) {
  const r = await runBinary(['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', dsn, '-c', sql],
                            { env: process.env, timeoutMs, bin: PSQL });
  if (r.code !== 0) throw new Error(`psql ${sql}: ${r.stderr}`);
  return r.stdout.trim();
}
