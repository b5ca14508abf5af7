// tasks.test.mjs - work no request starts (bilhetagem/tasks.h), domain
// counters and pagination, through the testkit fixture on SQLite:
//   - a periodic task runs in its own unit: its writes, events and counted
//     facts commit together, and a failing run leaves none of them;
//   - `bilhetagemctl NAME -c FILE` runs a plugin's command in a unit;
//   - bh_req_page / bh_page_cursor walk a list and refuse bad input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  assertProblem, BUILDDIR, request, runBinary, serverEnv, SRCDIR, startServer, tempDir, waitFor,
  writeTempFile,
} from './lib.mjs';

const CTL = path.join(BUILDDIR, 'bilhetagemctl');

function config(testkit = {}) {
  const cfg = JSON.parse(fs.readFileSync(path.join(SRCDIR, 'conf', 'test-sqlite.json'), 'utf8'));
  Object.assign(cfg.plugins.find((p) => p.name === 'testkit').config, testkit);
  return writeTempFile('tasks.json', cfg);
}

async function counter(port, name) {
  const res = await request({ port, path: `/test/db/counters/${name}` });
  return res.status === 200 ? res.json.value : 0;
}

async function metric(port, name) {
  const res = await request({ port, path: '/metrics' });
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(res.body);
  return m ? Number(m[1]) : undefined;
}

describe('periodic tasks', () => {
  test('a task runs every interval, in a unit that commits its write, event and count', async (t) => {
    const env = { BILHETAGEM_DATA_DIR: tempDir('bh-data-') };
    const server = await startServer({ config: config({ task_interval_ms: 100 }), env, t });
    await waitFor(async () => (await counter(server.port, 'task-ticks')) >= 3,
                  { timeoutMs: 5000, what: 'three task runs' });
    // The task's event reached the subscriber: the outbox was woken.
    await waitFor(async () => {
      const res = await request({ port: server.port, path: '/test/db/effects' });
      return res.json.events.some((e) => e.name === 'task-ticks');
    }, { timeoutMs: 5000, what: 'the task event delivered' });
    const ticks = await metric(server.port, 'bilhetagem_testkit_ticks_total');
    assert.ok(ticks >= 3, `bilhetagem_testkit_ticks_total is ${ticks}`);
    assert.match((await request({ port: server.port, path: '/metrics' })).body,
                 /# TYPE bilhetagem_testkit_ticks_total counter/);
  });

  test('a failing run rolls back its write and its count, and is logged', async (t) => {
    const env = { BILHETAGEM_DATA_DIR: tempDir('bh-data-') };
    const server = await startServer({ config: config({ task_interval_ms: 100, task_fail_every: 2 }), env, t });
    await server.waitForLine((l) => l.level === 'warn' && /task:testkit\/tick failed/.test(l.msg), 5000);
    await waitFor(async () => (await counter(server.port, 'task-ticks')) >= 3,
                  { timeoutMs: 5000, what: 'three committed runs' });
    await server.stop();
    // Stopped: nothing moves.  Every other run failed, so about half of the
    // runs committed, and the counter counted exactly the committed ones.
    const runs = server.lines.filter((l) => /task:testkit\/tick failed/.test(l.msg || '')).length;
    const restarted = await startServer({ config: config({}), env, t });
    const value = await counter(restarted.port, 'task-ticks');
    assert.ok(runs >= 1);
    assert.ok(Math.abs(value - runs) <= 1, `${value} committed runs and ${runs} failed ones alternate`);
  });
});

describe('bilhetagemctl plugin commands', () => {
  test('a command runs in a unit; a refusal rolls back and exits 2; an unknown name exits 2', async () => {
    const env = serverEnv({ BILHETAGEM_DATA_DIR: tempDir('bh-data-') });
    const cfg = config({});
    const run = (name) => runBinary([name, '-c', cfg], { env, bin: CTL });
    let r = await run('testkit-count');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'command counter is now 1\n');
    r = await run('testkit-fail');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /testkit-fail \(plugin testkit\): refused/);
    r = await run('testkit-count');
    assert.equal(r.stdout, 'command counter is now 2\n', 'the failed command wrote nothing');
    r = await run('no-such-command');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "no-such-command"/);
  });
});

describe('pagination', () => {
  test('cursors walk the whole list once; bad limits and cursors are 400', async (t) => {
    const env = { BILHETAGEM_DATA_DIR: tempDir('bh-data-') };
    const server = await startServer({ config: config({}), env, t });
    const get = (q) => request({ port: server.port, path: `/test/page${q}` });
    let res = await get('');
    assert.equal(res.json.items.length, 20, 'the default limit is 20');
    const seen = [];
    let q = '?limit=7';
    for (let pages = 0; pages < 20; pages++) {
      res = await get(q);
      assert.equal(res.status, 200);
      seen.push(...res.json.items);
      if (res.json.next_cursor === null) break;
      assert.match(res.json.next_cursor, /^[A-Za-z0-9_-]+$/, 'opaque and URL-safe');
      q = `?limit=7&cursor=${res.json.next_cursor}`;
    }
    assert.deepEqual(seen, Array.from({ length: 45 }, (_, i) => i + 1));
    for (const bad of ['?limit=0', '?limit=101', '?limit=abc', '?limit=', '?limit=5x']) {
      res = await get(bad);
      assertProblem(res, 400, 'validation');
      assert.equal(res.json.errors[0].pointer, 'limit', bad);
    }
    const nonPrintable = Buffer.from([0x01, 0x02]).toString('base64url');
    for (const bad of ['!!!', 'a', nonPrintable, 'YWZ0ZXI6Mw==', 'x'.repeat(2000)]) {
      res = await get(`?cursor=${encodeURIComponent(bad)}`);
      assertProblem(res, 400, 'validation');
      assert.equal(res.json.errors[0].pointer, 'cursor', bad);
    }
    // A well-formed cursor the list never made is the plugin's to refuse.
    res = await get(`?cursor=${Buffer.from('before:3').toString('base64url')}`);
    assertProblem(res, 400, 'validation');
  });
});
