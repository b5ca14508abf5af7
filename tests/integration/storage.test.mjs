// storage.test.mjs - storage, durable events and Idempotency-Keys, end to end.
//
// The real bilhetagemd with the testkit's database routes (testkit_db.c) and
// the real bilhetagemctl, against SQLite always and against PostgreSQL when
// BH_TEST_PG_DSN names a server (storage-pg.test.sh starts one with
// tests/pg.sh).  BH_TEST_DRIVERS=sqlite,postgresql picks the drivers
// explicitly.  Every test that needs its own database gets a fresh one: a
// fresh data dir on SQLite, CREATE DATABASE on PostgreSQL.
//
// What a user would notice is asserted exactly: statuses, problem types,
// replayed bytes, counter values, how many times each subscriber effect
// happened, the CLI's lines and exit codes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import {
  assertProblem, BUILDDIR, freePort, HOST, PLUGIN_DIR, psql, request, runBinary, serverEnv, sleep, SRCDIR, startServer, tempDir, waitFor, withDatabase, writeTempFile,
} from './lib.mjs';

const CTL = path.join(BUILDDIR, 'bilhetagemctl');
const PG_SH = path.join(SRCDIR, 'tests', 'pg.sh');
const PG_BIN = process.env.BH_PG_BIN || '/usr/lib/postgresql/15/bin';
const PG_DSN = process.env.BH_TEST_PG_DSN || '';
const DRIVERS = (process.env.BH_TEST_DRIVERS || (PG_DSN ? 'sqlite,postgresql' : 'sqlite'))
  .split(',').map((d) => d.trim()).filter(Boolean);

const ALL_MIGRATIONS = [
  'applied core/1 core_outbox_inbox_idempotency',
  'applied testkit/1 create_counters',
  'applied testkit/2 create_effects',
  'applied testkit/3 create_names',
  'applied testkit/4 effects_trace',
];

// ---- processes ----------------------------------------------------------------

/** Runs `cmd args` to completion: { code, stdout, stderr }.  Killed (and
 * rejected) after timeoutMs. */
/** CMD ARGS, collecting its output; bounded by timeoutMs. */
const run = (cmd, args, { env = process.env, timeoutMs = 20_000 } = {}) =>
  runBinary(args, { env, timeoutMs, bin: cmd });

/** bilhetagemctl ARGS with a server's environment plus `env`. */
const ctl = (args, env = {}) => run(CTL, args, { env: serverEnv(env) });

// ---- the two drivers ------------------------------------------------------------

let dbSerial = 0;
const DRIVER = {
  sqlite: {
    config: path.join(SRCDIR, 'conf', 'test-sqlite.json'),
    // A fresh database: a fresh data dir (the config puts test.db in it).
    fresh: async () => ({ BILHETAGEM_DATA_DIR: tempDir('bh-data-') }),
  },
  postgresql: {
    config: path.join(SRCDIR, 'conf', 'test-pg.json'),
    fresh: async () => {
      const db = `bh_it_${process.pid}_${++dbSerial}`;
      await psql(PG_DSN, `CREATE DATABASE ${db}`);
      return { BH_TEST_PG_DSN: withDatabase(PG_DSN, db), BILHETAGEM_DATA_DIR: tempDir('bh-data-') };
    },
  },
};

/** The driver's config, or a copy with server / storage / testkit settings
 * changed. */
function configFor(driver, { server, storage, testkit } = {}) {
  if (!server && !storage && !testkit) return DRIVER[driver].config;
  const cfg = JSON.parse(fs.readFileSync(DRIVER[driver].config, 'utf8'));
  Object.assign(cfg.server, server);
  Object.assign(cfg.storage, storage);
  Object.assign(cfg.plugins.find((p) => p.name === 'testkit').config, testkit);
  return writeTempFile('config.json', cfg);
}

// ---- HTTP helpers ---------------------------------------------------------------

/** POST /test/db/counters with an Idempotency-Key (and X-Test-User). */
function count(port, body, { key, user, timeoutMs } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (key) headers['Idempotency-Key'] = key;
  if (user) headers['X-Test-User'] = user;
  return request({ port, method: 'POST', path: '/test/db/counters', headers, body, timeoutMs });
}

/** SIGTERM, and the server must exit 0 (under the sanitizers a leak or an
 * error report changes the status). */
async function stopClean(server) {
  const { code, signal } = await server.stop();
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, `bilhetagemd stderr:\n${server.stderr()}`);
}

/** Resolves when /readyz answers 200 (a node that found the database busy
 * at startup keeps retrying in the background until it is ready). */
const ready = (server) => waitFor(async () => (await request({ port: server.port, path: '/readyz' })).status === 200,
                                  { timeoutMs: 10_000, stepMs: 50, what: `/readyz 200 on port ${server.port}` });

async function counterValue(port, name) {
  const res = await request({ port, path: `/test/db/counters/${encodeURIComponent(name)}` });
  if (res.status === 404) return null;
  assert.equal(res.status, 200, res.body);
  return res.json.value;
}

async function effects(port, name) {
  const res = await request({ port, path: '/test/db/effects' });
  assert.equal(res.status, 200, res.body);
  return name === undefined ? res.json.events : res.json.events.filter((e) => e.name === name);
}

/** The value of an unlabelled gauge in /metrics, or undefined. */
async function gauge(port, metric) {
  const res = await request({ port, path: '/metrics' });
  assert.equal(res.status, 200);
  const m = new RegExp(`^${metric} (\\S+)$`, 'm').exec(res.body);
  return m ? Number(m[1]) : undefined;
}

/** Rows of `bilhetagemctl outbox list`, split by the header's columns. */
function parseOutboxList(stdout) {
  const lines = stdout.trimEnd().split('\n');
  const header = lines[0];
  const names = header.split(/\s+/);
  assert.deepEqual(names, ['SEQ', 'EVENT_ID', 'TYPE', 'SUBJECT', 'STATUS', 'ATTEMPTS',
                           'NEXT_ATTEMPT', 'LAST_ERROR']);
  const starts = names.map((n) => header.indexOf(n));
  const footer = lines[lines.length - 1];
  const rows = lines.slice(1, -1).map((line) => {
    const row = {};
    names.forEach((n, i) => {
      row[n.toLowerCase()] = line.slice(starts[i], i + 1 < names.length ? starts[i + 1] : undefined).trim();
    });
    return row;
  });
  assert.equal(footer, `(${rows.length} event${rows.length === 1 ? '' : 's'})`);
  return rows;
}

async function outboxList(config, env, ...filter) {
  const r = await ctl(['outbox', 'list', '-c', config, ...filter], env);
  assert.equal(r.code, 0, `outbox list: ${r.stderr}`);
  return parseOutboxList(r.stdout);
}

// ---- the suite, once per driver ---------------------------------------------------

for (const driver of DRIVERS) {
  describe(`storage on ${driver}`, () => {
    describe('one server', () => {
      let server;
      let port;
      before(async () => {
        server = await startServer({ config: DRIVER[driver].config, env: await DRIVER[driver].fresh() });
        port = server.port;
      });
      after(() => stopClean(server));

      test('/readyz reports storage ok', async () => {
        const res = await request({ port, path: '/readyz' });
        assert.equal(res.status, 200, res.body);
        assert.equal(res.json.checks.storage, 'ok');
      });

      test('a retry with the same key and body replays the first response byte for byte', async () => {
        const first = await count(port, { name: 'replay' }, { key: 'k-replay' });
        assert.equal(first.status, 201, first.body);
        assert.deepEqual(first.json, { name: 'replay', value: 1 });
        assert.equal(first.headers['idempotency-replayed'], undefined);
        for (let i = 0; i < 2; i++) {
          const again = await count(port, { name: 'replay' }, { key: 'k-replay' });
          assert.equal(again.status, 201);
          assert.equal(again.headers['idempotency-replayed'], 'true');
          assert.equal(again.headers['content-type'], first.headers['content-type']);
          assert.equal(again.body, first.body);
        }
        assert.equal(await counterValue(port, 'replay'), 1);
      });

      test('the same key with another body is 422 idempotency-key-reused and does no work', async () => {
        assert.equal((await count(port, { name: 'reuse' }, { key: 'k-reuse' })).status, 201);
        const res = await count(port, { name: 'reuse-other' }, { key: 'k-reuse' });
        assertProblem(res, 422, 'idempotency-key-reused');
        assert.equal(await counterValue(port, 'reuse'), 1);
        assert.equal(await counterValue(port, 'reuse-other'), null);
      });

      test('a missing Idempotency-Key is 400 idempotency-key', async () => {
        assertProblem(await count(port, { name: 'nokey' }), 400, 'idempotency-key');
        assert.equal(await counterValue(port, 'nokey'), null);
      });

      test('20 concurrent requests with one key: one runs, the rest get 409 or its replay', async () => {
        const all = await Promise.all(Array.from({ length: 20 },
          () => count(port, { name: 'concurrent' }, { key: 'k-concurrent' })));
        const fresh = all.filter((r) => r.status === 201 && !r.headers['idempotency-replayed']);
        assert.equal(fresh.length, 1, `statuses: ${all.map((r) => r.status)}`);
        assert.deepEqual(fresh[0].json, { name: 'concurrent', value: 1 });
        for (const r of all) {
          if (r === fresh[0]) continue;
          if (r.status === 409) {
            assertProblem(r, 409, 'idempotency-in-progress');
            assert.equal(r.headers['retry-after'], '1');
          } else {
            assert.equal(r.status, 201, r.body);
            assert.equal(r.headers['idempotency-replayed'], 'true');
            assert.equal(r.body, fresh[0].body);
          }
        }
        const later = await count(port, { name: 'concurrent' }, { key: 'k-concurrent' });
        assert.equal(later.headers['idempotency-replayed'], 'true');
        assert.equal(later.body, fresh[0].body);
        assert.equal(await counterValue(port, 'concurrent'), 1);
      });

      test('a 422 from the handler is rolled back and replayed too', async () => {
        const first = await count(port, { name: 'failing', fail: true }, { key: 'k-failing' });
        assertProblem(first, 422, 'told-to-fail');
        const again = await count(port, { name: 'failing', fail: true }, { key: 'k-failing' });
        assert.equal(again.status, 422);
        assert.equal(again.headers['idempotency-replayed'], 'true');
        assert.equal(again.headers['content-type'], 'application/problem+json');
        assert.equal(again.body, first.body);
        assert.equal(await counterValue(port, 'failing'), null, 'the write was rolled back');
      });

      test('keys are scoped to the caller: two users with one key both run', async () => {
        const alice = await count(port, { name: 'callers' }, { key: 'k-shared', user: 'alice' });
        const bob = await count(port, { name: 'callers' }, { key: 'k-shared', user: 'bob' });
        const anon = await count(port, { name: 'callers' }, { key: 'k-shared' });
        assert.deepEqual([alice.status, bob.status, anon.status], [201, 201, 201]);
        assert.deepEqual([alice.json.value, bob.json.value, anon.json.value], [1, 2, 3]);
        assert.equal(bob.headers['idempotency-replayed'], undefined);
        const aliceAgain = await count(port, { name: 'callers' }, { key: 'k-shared', user: 'alice' });
        assert.equal(aliceAgain.headers['idempotency-replayed'], 'true');
        assert.equal(aliceAgain.body, alice.body);
        assert.equal(await counterValue(port, 'callers'), 3);
      });

      test('a failed unit rolls back its write and its event', async () => {
        assert.equal((await count(port, { name: 'rollback' }, { key: 'k-rb-1' })).status, 201);
        assertProblem(await count(port, { name: 'rollback', fail: true }, { key: 'k-rb-2' }),
                      422, 'told-to-fail');
        assert.equal(await counterValue(port, 'rollback'), 1);
        await waitFor(async () => (await effects(port, 'rollback')).length === 1,
                      { timeoutMs: 5000, what: 'the committed event to be delivered' });
        await sleep(300); // three more dispatcher polls: the rolled-back event must not appear
        assert.equal((await effects(port, 'rollback')).length, 1);
        assert.deepEqual(await effects(port, 'failing'), []);
      });

      test('every committed event reaches the subscriber exactly once', async () => {
        const ids = [];
        for (let i = 0; i < 5; i++) {
          const res = await count(port, { name: 'delivered' }, { key: `k-delivered-${i}` });
          assert.equal(res.status, 201, res.body);
          assert.equal(res.json.value, i + 1);
        }
        await waitFor(async () => (await effects(port, 'delivered')).length === 5,
                      { timeoutMs: 5000, what: 'five deliveries' });
        const seen = await effects(port, 'delivered');
        for (const e of seen) {
          assert.match(e.event_id, /^[0-9a-f-]{16,}$/);
          assert.equal(e.seen, 1, `event ${e.event_id} took effect ${e.seen} times`);
          ids.push(e.event_id);
        }
        assert.equal(new Set(ids).size, 5);
        await waitFor(async () => (await gauge(port, 'bilhetagem_outbox_pending')) === 0,
                      { timeoutMs: 5000, what: 'bilhetagem_outbox_pending 0' });
        assert.equal(await gauge(port, 'bilhetagem_outbox_dead'), 0);
        assert.equal(await gauge(port, 'bilhetagem_outbox_oldest_pending_age_seconds'), 0);
      });

      test('the trace header travels with the event into the subscriber\'s unit', async () => {
        const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
        const res = await request({ port, method: 'POST', path: '/test/db/counters',
                                    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'k-traced',
                                               'X-Amzn-Trace-Id': trace },
                                    body: { name: 'traced' } });
        assert.equal(res.status, 201, res.body);
        await waitFor(async () => (await effects(port, 'traced')).length === 1,
                      { timeoutMs: 5000, what: 'the traced delivery' });
        assert.equal((await effects(port, 'traced'))[0].trace, trace);
        const untraced = await count(port, { name: 'untraced' }, { key: 'k-untraced' });
        assert.equal(untraced.status, 201);
        await waitFor(async () => (await effects(port, 'untraced')).length === 1,
                      { timeoutMs: 5000, what: 'the untraced delivery' });
        assert.equal((await effects(port, 'untraced'))[0].trace, null);
      });

      test('a UNIQUE violation is the handler\'s 409, and nothing else is lost', async () => {
        const post = (name) => request({ port, method: 'POST', path: '/test/db/unique',
                                         headers: { 'Content-Type': 'application/json' }, body: { name } });
        assert.equal((await post('u1')).status, 201);
        assertProblem(await post('u1'), 409, 'conflict');
        const other = await post('u2');
        assert.equal(other.status, 201);
        assert.deepEqual(other.json, { name: 'u2' });
      });

      test('GET of a counter that does not exist is 404', async () => {
        assertProblem(await request({ port, path: '/test/db/counters/nobody' }), 404, 'not-found');
      });

      test('a path parameter that is not UTF-8 is 400 on both drivers, not a 500 from PostgreSQL', async () => {
        // SQLite stores any bytes; PostgreSQL refuses them (SQLSTATE 22021).
        // The core refuses them first, so the same handler answers the same.
        assertProblem(await request({ port, path: '/test/db/counters/%FF%FE' }), 400, 'bad-request');
        assertProblem(await request({ port, path: '/test/db/counters/ok?q=%FF' }), 400, 'bad-request');
      });

      test('the same key on the same route with another query string is 422, not a replay', async () => {
        const post = (query) => request({ port, method: 'POST', path: `/test/db/counters${query}`,
                                          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'k-query' },
                                          body: { name: 'query' } });
        const first = await post('?variant=1');
        assert.equal(first.status, 201, first.body);
        assertProblem(await post('?variant=2'), 422, 'idempotency-key-reused');
        const again = await post('?variant=1');
        assert.equal(again.headers['idempotency-replayed'], 'true');
        assert.equal(again.body, first.body);
        assert.equal(await counterValue(port, 'query'), 1);
      });
    });

    test('an expired key runs again (idempotency_retention_s 1)', async () => {
      const server = await startServer({ config: configFor(driver, { storage: { idempotency_retention_s: 1 } }),
                                         env: await DRIVER[driver].fresh() });
      try {
        const first = await count(server.port, { name: 'expiry' }, { key: 'k-expiry' });
        assert.equal(first.status, 201);
        const replay = await count(server.port, { name: 'expiry' }, { key: 'k-expiry' });
        assert.equal(replay.headers['idempotency-replayed'], 'true');
        await sleep(1300);
        const later = await count(server.port, { name: 'expiry' }, { key: 'k-expiry' });
        assert.equal(later.status, 201);
        assert.equal(later.headers['idempotency-replayed'], undefined);
        assert.deepEqual(later.json, { name: 'expiry', value: 2 });
      } finally {
        await stopClean(server);
      }
    });

    test('through an event transport (send, then bh_event_receive) each event takes effect once', async () => {
      const server = await startServer({ config: configFor(driver, { testkit: { loopback_transport: true } }),
                                         env: await DRIVER[driver].fresh() });
      try {
        for (let i = 0; i < 4; i++) {
          const res = await count(server.port, { name: 'carried' }, { key: `k-carried-${i}` });
          assert.equal(res.status, 201, res.body);
        }
        await waitFor(async () => (await effects(server.port, 'carried')).length === 4,
                      { timeoutMs: 5000, what: 'four deliveries through the transport' });
        const stats = (await request({ port: server.port, path: '/test/transport' })).json;
        assert.deepEqual(stats, { sent: 4, received: 4, failed: 0 });
        for (const e of await effects(server.port, 'carried')) assert.equal(e.seen, 1);
        await waitFor(async () => (await gauge(server.port, 'bilhetagem_outbox_pending')) === 0,
                      { timeoutMs: 5000, what: 'outbox drained' });
      } finally {
        await stopClean(server);
      }
    });

    test('kill -9 with deliveries pending: after a restart each effect happened exactly once', async () => {
      const N = 8;
      const db = await DRIVER[driver].fresh();
      // On SQLite a delivery holds the write lock while the subscriber
      // sleeps, so requests queue behind it: a generous read timeout.
      const slow = configFor(driver, { server: { timeout_ms: 30_000 }, testkit: { slow_subscriber_ms: 400 } });
      const first = await startServer({ config: slow, env: db });
      let res;
      try {
        res = await Promise.all(Array.from({ length: N },
          (_, i) => count(first.port, { name: `crash-${i}` }, { key: `k-crash-${i}`, timeoutMs: 20_000 })));
        assert.deepEqual(res.map((r) => r.status), Array(N).fill(201));
        const pending = await gauge(first.port, 'bilhetagem_outbox_pending');
        assert.ok(pending > 0, `deliveries still pending when killed (pending ${pending})`);
      } finally {
        first.kill('SIGKILL');
        await first.exited;
      }
      const second = await startServer({ config: DRIVER[driver].config, env: db });
      try {
        // The event being delivered at the kill is leased for 2 s; then redelivered.
        await waitFor(async () => (await effects(second.port)).length === N,
                      { timeoutMs: 10_000, stepMs: 100, what: `${N} effects after the restart` });
        await sleep(300);
        const seen = await effects(second.port);
        assert.deepEqual(seen.map((e) => e.name).sort(), res.map((r) => r.json.name).sort());
        for (const e of seen) assert.equal(e.seen, 1, `${e.name} took effect ${e.seen} times`);
        assert.equal(new Set(seen.map((e) => e.event_id)).size, N);
        await waitFor(async () => (await gauge(second.port, 'bilhetagem_outbox_pending')) === 0,
                      { timeoutMs: 3000, what: 'an empty outbox' });
        const done = await outboxList(DRIVER[driver].config, db, '--status', 'done');
        assert.equal(done.length, N);
        assert.deepEqual(done.map((r) => r.event_id).sort(), seen.map((e) => e.event_id).sort());
      } finally {
        await stopClean(second);
      }
    });

    test('an event delivered twice (its lease ran out mid-delivery) takes effect once', async () => {
      // The subscriber outlasts the 2 s lease, so the second node claims the
      // event while the first is still delivering it.  On PostgreSQL both
      // deliveries really run; the inbox row (event, subscriber) written in
      // the delivery's transaction makes the second one a no-op.  (On SQLite
      // the first delivery holds the write lock, so the second claim usually
      // finds the event done: the outcome must be the same.)
      const db = await DRIVER[driver].fresh();
      const config = configFor(driver, { server: { timeout_ms: 30_000 }, testkit: { slow_subscriber_ms: 2500 } });
      const nodes = await Promise.all([startServer({ config, env: db }), startServer({ config, env: db })]);
      try {
        await Promise.all(nodes.map(ready));
        assert.equal((await count(nodes[0].port, { name: 'twice' }, { key: 'k-twice' })).status, 201);
        await waitFor(async () => (await effects(nodes[1].port, 'twice')).length === 1,
                      { timeoutMs: 8000, stepMs: 100, what: 'the effect' });
        await sleep(500); // past the lease: the second claim, if any, has happened
      } finally {
        // A stopping server finishes the delivery it is in.
        await Promise.all(nodes.map(stopClean));
      }
      const [row] = await outboxList(DRIVER[driver].config, db);
      assert.equal(row.status, 'done');
      // attempts counts claims: the first node's, and the second's if it
      // claimed before the first marked the event done
      assert.ok(['1', '2'].includes(row.attempts), `attempts ${row.attempts}`);
      assert.equal(row.last_error, '-');
      const reader = await startServer({ config: DRIVER[driver].config, env: db });
      try {
        const [effect] = await effects(reader.port, 'twice');
        assert.equal(effect.seen, 1, `the effect happened ${effect.seen} times`);
      } finally {
        await stopClean(reader);
      }
    });

    test('a failing subscriber dead-letters the event; outbox retry re-drives it', async () => {
      const db = await DRIVER[driver].fresh();
      const config = DRIVER[driver].config;
      const failing = await startServer({ config: configFor(driver, { testkit: { fail_subscriber: true } }), env: db });
      try {
        assert.equal((await count(failing.port, { name: 'doomed' }, { key: 'k-doomed' })).status, 201);
        await waitFor(async () => (await gauge(failing.port, 'bilhetagem_outbox_dead')) === 1,
                      { timeoutMs: 8000, stepMs: 100, what: 'bilhetagem_outbox_dead 1' });
        assert.equal(await gauge(failing.port, 'bilhetagem_outbox_pending'), 0);
      } finally {
        await stopClean(failing);
      }
      const dead = await outboxList(config, db, '--status', 'dead');
      assert.equal(dead.length, 1);
      const [row] = dead;
      assert.equal(row.type, 'test.counted');
      assert.equal(row.subject, 'doomed');
      assert.equal(row.status, 'dead');
      assert.equal(row.attempts, '3');
      assert.equal(row.next_attempt, '-');
      assert.match(row.last_error, /subscriber testkit\/effects failed/);
      assert.deepEqual(await outboxList(config, db, '--status', 'pending'), []);

      const retry = await ctl(['outbox', 'retry', '-c', config, row.seq], db);
      assert.equal(retry.code, 0, retry.stderr);
      assert.equal(retry.stdout, `outbox event ${row.seq} (test.counted ${row.event_id}) is pending again\n`);
      const [pending] = await outboxList(config, db, '--status', 'pending');
      assert.equal(pending.seq, row.seq);
      assert.equal(pending.attempts, '0');
      assert.match(pending.next_attempt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      const unknown = await ctl(['outbox', 'retry', '-c', config, '999999'], db);
      assert.equal(unknown.code, 2);
      assert.equal(unknown.stdout, '');
      assert.match(unknown.stderr, /^bilhetagemctl: no outbox event has seq 999999$/m);

      // The subscriber fixed: the re-driven event is delivered once.
      const fixed = await startServer({ config, env: db });
      try {
        await waitFor(async () => (await effects(fixed.port, 'doomed')).length === 1,
                      { timeoutMs: 5000, stepMs: 100, what: 'the re-driven event to take effect' });
        await waitFor(async () => (await gauge(fixed.port, 'bilhetagem_outbox_pending')) === 0,
                      { timeoutMs: 3000, what: 'an empty outbox' });
        assert.equal(await gauge(fixed.port, 'bilhetagem_outbox_dead'), 0);
      } finally {
        await stopClean(fixed);
      }
      const again = await ctl(['outbox', 'retry', '-c', config, row.seq], db);
      assert.equal(again.code, 2);
      assert.match(again.stderr, new RegExp(`outbox event ${row.seq} is done: only pending or dead`));
    });

    test('an event whose delivery kills the process is dead-lettered after outbox_max_attempts', async () => {
      // A poison event: the subscriber takes the whole process down.  Each
      // restart claims it again once its lease runs out; the attempt must be
      // counted when it is claimed, or the nodes crash-loop for ever.
      const db = await DRIVER[driver].fresh();
      const config = configFor(driver, { storage: { outbox_lease_ms: 300 },
                                         testkit: { kill_on_subject: 'poison', slow_subscriber_ms: 200 } });
      const first = await startServer({ config, env: db });
      assert.equal((await count(first.port, { name: 'poison' }, { key: 'k-poison' })).status, 201);
      assert.equal((await first.exited).signal, 'SIGKILL', 'the poison event killed the first node');
      let deaths = 1;
      let survivor = null;
      for (let i = 0; i < 5 && !survivor; i++) {
        let server;
        try {
          server = await startServer({ config, env: db });
        } catch (e) {
          assert.match(String(e), /SIGKILL/); // died before it printed "listening"
          deaths++;
          continue;
        }
        const outcome = await Promise.race([server.exited, sleep(2000).then(() => 'alive')]);
        if (outcome === 'alive') survivor = server;
        else {
          assert.equal(outcome.signal, 'SIGKILL', server.stderr());
          deaths++;
        }
      }
      assert.ok(survivor, `every node died (${deaths} deaths): the event was never dead-lettered`);
      try {
        assert.equal(deaths, 3, 'one death per attempt (outbox_max_attempts 3)');
        await waitFor(async () => (await gauge(survivor.port, 'bilhetagem_outbox_dead')) === 1,
                      { timeoutMs: 3000, what: 'bilhetagem_outbox_dead 1' });
        assert.deepEqual(await effects(survivor.port, 'poison'), []);
      } finally {
        await stopClean(survivor);
      }
      const [row] = await outboxList(DRIVER[driver].config, db, '--status', 'dead');
      assert.equal(row.subject, 'poison');
      assert.equal(row.attempts, '3');
      assert.match(row.last_error, /attempt 3 did not finish/);
    });

    test('a node whose lease ran out does not undo the delivery of the node that took over', async () => {
      // Node A claims the event and its transport takes 2.5 s to fail; the
      // 2 s lease runs out, node B claims it and delivers it.  A's late
      // failure must not make the delivered event pending (or dead) again.
      const db = await DRIVER[driver].fresh();
      const slow = configFor(driver, { testkit: { loopback_transport: true, transport_send_ms: 2500,
                                                  transport_fail: true } });
      const healthy = configFor(driver, { testkit: { loopback_transport: true } });
      const a = await startServer({ config: slow, env: db });
      let b;
      try {
        assert.equal((await count(a.port, { name: 'taken-over' }, { key: 'k-taken-over' })).status, 201);
        b = await startServer({ config: healthy, env: db }); // after A's claim: A has it first
        const stats = async (node) => (await request({ port: node.port, path: '/test/transport' })).json;
        await waitFor(async () => (await stats(a)).failed === 1,
                      { timeoutMs: 15_000, stepMs: 100, what: 'node A\'s failed send' });
        // Long enough for an event made pending again to be claimed and sent
        // again by either node (A's send takes 2.5 s, then B's lease 2 s).
        await sleep(2800);
        assert.deepEqual(await stats(b), { sent: 1, received: 1, failed: 0 });
        assert.equal((await effects(b.port, 'taken-over')).length, 1);
      } finally {
        await stopClean(a);
        if (b) await stopClean(b);
      }
      const [row] = await outboxList(DRIVER[driver].config, db);
      assert.equal(row.status, 'done');
      assert.equal(row.attempts, '2', 'A\'s claim and B\'s');
      assert.equal(row.last_error, '-');
    });

    test('a subscriber that swallows a database error still fails, and the dead letter says why', async () => {
      const db = await DRIVER[driver].fresh();
      const server = await startServer({ config: configFor(driver, { testkit: { bad_statement_subscriber: true } }),
                                         env: db });
      try {
        assert.equal((await count(server.port, { name: 'swallowed' }, { key: 'k-swallowed' })).status, 201);
        await waitFor(async () => (await gauge(server.port, 'bilhetagem_outbox_dead')) === 1,
                      { timeoutMs: 8000, stepMs: 100, what: 'bilhetagem_outbox_dead 1' });
      } finally {
        await stopClean(server);
      }
      const [row] = await outboxList(DRIVER[driver].config, db, '--status', 'dead');
      assert.equal(row.attempts, '3');
      assert.match(row.last_error, /^subscriber testkit\/effects: .*testkit_no_such_table/);
    });

    test('bilhetagemctl migrate: applies once, then the schema is up to date', async () => {
      const db = await DRIVER[driver].fresh();
      const config = DRIVER[driver].config;
      const first = await ctl(['migrate', '-c', config], db);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(first.stdout.trimEnd().split('\n'), ALL_MIGRATIONS);
      const second = await ctl(['migrate', '-c', config], db);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout, `schema is up to date (${ALL_MIGRATIONS.length} migrations)\n`);
      // The server finds nothing to apply and serves.
      const server = await startServer({ config, env: db });
      try {
        assert.equal(server.lines.filter((l) => /^migration .* applied$/.test(l.msg || '')).length, 0);
        assert.equal((await count(server.port, { name: 'migrated' }, { key: 'k-m' })).status, 201);
      } finally {
        await stopClean(server);
      }
    });

    test('a migration changed after it was applied stops the server and the CLI (exit 2)', async () => {
      const db = await DRIVER[driver].fresh();
      assert.equal((await ctl(['migrate', '-c', DRIVER[driver].config], db)).code, 0);
      const changed = configFor(driver, { testkit: { migration_comment: 'edited after release' } });
      const daemon = await runBinary(['-c', changed, '--listen', `${HOST}:0`], { env: serverEnv(db) });
      assert.equal(daemon.code, 2, daemon.stderr);
      assert.match(daemon.stderr,
                   /^bilhetagemd: migration testkit\/1 \(create_counters\) changed after it was applied/m);
      assert.doesNotMatch(daemon.stdout, /"msg":"listening"/);
      const cli = await ctl(['migrate', '-c', changed], db);
      assert.equal(cli.code, 2);
      assert.equal(cli.stdout, '');
      assert.match(cli.stderr, /^bilhetagemctl: migration testkit\/1 \(create_counters\) changed after it was applied/m);
    });

    test('two bilhetagemctl migrate at once: both succeed, each migration applied once', async () => {
      const db = await DRIVER[driver].fresh();
      const config = DRIVER[driver].config;
      const both = await Promise.all([ctl(['migrate', '-c', config], db), ctl(['migrate', '-c', config], db)]);
      for (const r of both) assert.equal(r.code, 0, r.stderr);
      const applied = both.flatMap((r) => r.stdout.split('\n').filter((l) => l.startsWith('applied ')));
      assert.deepEqual(applied.sort(), [...ALL_MIGRATIONS].sort());
      if (driver === 'postgresql') {
        const rows = await psql(db.BH_TEST_PG_DSN,
          'SELECT plugin, version, COUNT(*) FROM schema_migrations GROUP BY plugin, version ORDER BY plugin, version');
        const expected = ALL_MIGRATIONS.map((m) => `${m.split(' ')[1].replace('/', '|')}|1`).join('\n');
        assert.equal(rows, expected);
      }
    });

    if (driver === 'postgresql') {
      test('a migration slower than statement_timeout_ms is applied (migrations are not bound by it)', async () => {
        const db = await DRIVER.postgresql.fresh();
        const config = configFor(driver, { storage: { statement_timeout_ms: 200 },
                                           testkit: { slow_migration_ms: 700 } });
        const cli = await ctl(['migrate', '-c', config], db);
        assert.equal(cli.code, 0, cli.stderr);
        assert.deepEqual(cli.stdout.trimEnd().split('\n'), [...ALL_MIGRATIONS, 'applied testkit/5 slow']);
        // On a fresh database the server applies it at startup and is ready.
        const server = await startServer({ config, env: await DRIVER.postgresql.fresh() });
        try {
          const res = await request({ port: server.port, path: '/readyz' });
          assert.equal(res.status, 200, res.body);
          assert.equal((await count(server.port, { name: 'after-slow' }, { key: 'k-slow' })).status, 201);
        } finally {
          await stopClean(server);
        }
      });

      test('database unreachable at startup: 503s until it comes up, then ready', async () => {
        // The server's DSN points at a port where nothing listens yet; later
        // a fresh PostgreSQL starts and a forwarder opens that port to it.
        const port = await freePort();
        const dsn = `host=${HOST} port=${port} dbname=bilhetagem user=postgres`; // as tests/pg.sh makes it
        const server = await startServer({ config: DRIVER.postgresql.config, env: { BH_TEST_PG_DSN: dsn } });
        const pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bh-pg-'));
        let proxy;
        try {
          const ready = await request({ port: server.port, path: '/readyz' });
          assert.equal(ready.status, 503);
          assert.match(ready.json.checks.storage, /cannot connect: .*Connection refused/,
                       'checks.storage says why the database is not ready');

          const get = await request({ port: server.port, path: '/test/db/counters/x' });
          assertProblem(get, 503, 'unavailable');
          assert.equal(get.headers['retry-after'], '1');
          const post = await count(server.port, { name: 'x' }, { key: 'k-down' });
          assertProblem(post, 503, 'unavailable');
          assert.equal(post.headers['retry-after'], '1');

          const cli = await ctl(['migrate', '-c', DRIVER.postgresql.config], { BH_TEST_PG_DSN: dsn });
          assert.equal(cli.code, 2);
          assert.match(cli.stderr, /^bilhetagemctl: database unreachable: /m);

          const started = await run(PG_SH, ['start', pgDir], { timeoutMs: 60_000 });
          assert.equal(started.code, 0, started.stderr);
          const pgPort = Number(/\bport=(\d+)/.exec(started.stdout)[1]);
          proxy = await forward(port, pgPort);
          await waitFor(async () => (await request({ port: server.port, path: '/readyz' })).status === 200,
                        { timeoutMs: 15_000, stepMs: 200, what: '/readyz 200 once the database is up' });
          assert.equal((await count(server.port, { name: 'x' }, { key: 'k-up' })).status, 201);
          assert.equal(await counterValue(server.port, 'x'), 1);
        } finally {
          await stopClean(server);
          if (proxy) await proxy.close();
          await run(PG_SH, ['stop', pgDir], { timeoutMs: 60_000 });
          fs.rmSync(pgDir, { recursive: true, force: true }); // if start failed early
        }
      });
    }
  });
}

describe('bilhetagemctl command line', { skip: !DRIVERS.includes('sqlite') && 'runs with the SQLite half' }, () => {
  test('--version and --help exit 0', async () => {
    const v = await run(CTL, ['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^bilhetagemctl \d+\.\d+\.\d+ \(SDK ABI \d+\)\n$/);
    const h = await run(CTL, ['--help']);
    assert.equal(h.code, 0);
    for (const c of ['migrate', 'outbox list', 'outbox retry']) assert.ok(h.stdout.includes(c), c);
  });

  test('usage errors exit 2 with a line on stderr', async () => {
    const config = DRIVER.sqlite.config;
    const cases = [
      [[], /no command given/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['outbox'], /"outbox" needs a subcommand/],
      [['outbox', 'purge'], /unknown command "outbox purge"/],
      [['migrate'], /-c FILE is required/],
      [['outbox', 'retry', '-c', config], /retry: missing argument/],
      [['outbox', 'retry', '-c', config, 'abc'], /SEQ must be a positive integer, not "abc"/],
      [['outbox', 'list', '-c', config, '--status', 'lost'], /--status must be pending, done or dead/],
      [['outbox', 'list', '-c', config, '--limit', '0'], /--limit must be 1-100000/],
      [['migrate', '-c', config, '--status', 'dead'], /only apply to outbox list/],
    ];
    for (const [args, re] of cases) {
      const r = await ctl(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, re);
    }
  });

  test('migrate honours --plugin-dir and fails on a config without storage', async () => {
    const env = { BILHETAGEM_DATA_DIR: tempDir('bh-data-'), BILHETAGEM_PLUGIN_DIR: undefined };
    const config = DRIVER.sqlite.config;
    const lost = await ctl(['migrate', '-c', config], env);
    assert.equal(lost.code, 2);
    assert.match(lost.stderr, /plugin hello/);
    const found = await ctl(['migrate', '-c', config, '--plugin-dir', PLUGIN_DIR], env);
    assert.equal(found.code, 0, found.stderr);
    assert.deepEqual(found.stdout.trimEnd().split('\n'), ALL_MIGRATIONS);
    const none = await ctl(['migrate', '-c', path.join(SRCDIR, 'conf', 'test.json')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /has no "storage" section/);
  });

  test('outbox list limits and orders the rows', async () => {
    const db = await DRIVER.sqlite.fresh();
    const config = configFor('sqlite', { testkit: { fail_subscriber: true } });
    const server = await startServer({ config, env: db });
    try {
      for (let i = 0; i < 3; i++)
        assert.equal((await count(server.port, { name: `l${i}` }, { key: `k-l${i}` })).status, 201);
    } finally {
      await stopClean(server);
    }
    const all = await outboxList(config, db);
    assert.equal(all.length, 3);
    assert.deepEqual(all.map((r) => Number(r.seq)), [...all.map((r) => Number(r.seq))].sort((a, b) => a - b));
    const two = await outboxList(config, db, '--limit', '2');
    assert.deepEqual(two.map((r) => r.seq), all.slice(0, 2).map((r) => r.seq));
  });
});

/** A TCP forwarder 127.0.0.1:from -> 127.0.0.1:to; close() resolves when
 * it and its connections are gone. */
function forward(from, to) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: HOST, port: to });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(from, HOST, () => resolve({
      close: () => new Promise((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
    }));
  });
}
