// lifecycle.test.mjs - the command line, startup checks, signals and drain.
//
// Startup is all-or-nothing: a bad config, a plugin that cannot load, a
// dependency problem or a failing init exits 2 with one line on stderr (with
// -t, followed by nginx's "test failed" line), and never listens.  SIGTERM
// and SIGINT drain and exit 0; SIGHUP reopens the log file and keeps serving.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import {
  FIXTURE_DIR, PLUGIN_DIR, TEST_CONFIG, freePort, request, runBinary, serverEnv, sleep,
  startServer, tempDir, waitFor, within, writeTempFile,
} from './lib.mjs';

const DRAIN_TIMEOUT_MS = 5000;
const testConfig = () => JSON.parse(fs.readFileSync(TEST_CONFIG, 'utf8'));

/** A config of fixture plugins, found through the file's plugin_dir. */
const fixtureConfig = (...names) => ({
  plugin_dir: FIXTURE_DIR,
  data_dir: '${BILHETAGEM_DATA_DIR}',
  plugins: names.map((name) => ({ name })),
});
// BILHETAGEM_PLUGIN_DIR would override the file's plugin_dir.
const FIXTURE_ENV = { BILHETAGEM_PLUGIN_DIR: undefined };

/**
 * Runs `bilhetagemd -t -c FILE` on a config (text, object or path) expected
 * to fail: exit 2, nothing on stdout, stderr exactly the error line and the
 * "test failed" line.  Returns { file, line } (line without the prefix).
 */
async function checkFails(config, { env = {}, name = 'bad.json' } = {}) {
  const file = typeof config === 'string' && config.startsWith('/') ? config
    : writeTempFile(name, config);
  const r = await runBinary(['-t', '-c', file], { env: serverEnv(env) });
  assert.equal(r.code, 2, `exit code; stderr:\n${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 2, `one error line and the verdict:\n${r.stderr}`);
  assert.equal(lines[1], `bilhetagemd: configuration file ${file} test failed`);
  assert.ok(lines[0].startsWith('bilhetagemd: '), lines[0]);
  return { file, line: lines[0].slice('bilhetagemd: '.length) };
}

async function checkPasses(file, env = {}) {
  const r = await runBinary(['-t', '-c', file], { env: serverEnv(env) });
  assert.equal(r.code, 0, `exit code; stderr:\n${r.stderr}`);
  assert.match(r.stderr, /test is successful/);
  assert.equal(r.stdout, '', '-t does not start serving');
  return r;
}

describe('command line', () => {
  test('--version prints "bilhetagemd 0.1.0" and exits 0', async () => {
    for (const flag of ['--version', '-v']) {
      const r = await runBinary([flag]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^bilhetagemd 0\.1\.0\b/);
    }
  });

  test('--help prints the usage on stdout and exits 0', async () => {
    const r = await runBinary(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: bilhetagemd -c FILE/);
    assert.match(r.stdout, /--listen HOST:PORT/);
    assert.equal(r.stderr, '');
  });

  test('no -c is exit 2 with a reason and the usage on stderr', async () => {
    const r = await runBinary([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^bilhetagemd: -c FILE is required\nusage: bilhetagemd/);
  });

  test('an unexpected argument or an unknown option is exit 2', async () => {
    const extra = await runBinary(['-c', TEST_CONFIG, 'stray']);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /^bilhetagemd: unexpected argument\n/);
    const unknown = await runBinary(['-c', TEST_CONFIG, '--frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /usage: bilhetagemd/);
  });
});

describe('-t: configuration test', () => {
  test('conf/test.json passes', async () => {
    const r = await checkPasses(TEST_CONFIG);
    assert.equal(r.stderr,
      `bilhetagemd: the configuration file ${TEST_CONFIG} syntax is ok\n` +
      `bilhetagemd: configuration file ${TEST_CONFIG} test is successful\n`);
  });

  test('invalid JSON names the file and the line', async () => {
    const { file, line } = await checkFails('{\n  "server": {\n    "workers": 2,\n  }\n}\n');
    assert.ok(line.startsWith(`${file}:4: invalid JSON: `), line);
  });

  test('a missing config file names the file and the system error', async () => {
    const file = path.join(tempDir(), 'absent.json');
    const { line } = await checkFails(file);
    assert.equal(line, `${file}: No such file or directory`);
  });

  test('an unknown key names its path and line', async () => {
    const { file, line } = await checkFails(
      '{\n  "server": {\n    "listen": "127.0.0.1:0",\n    "wrokers": 2\n  }\n}\n');
    assert.equal(line, `${file}:4: server.wrokers: unknown key`);
  });

  test('a wrong type names the path, the line and both types', async () => {
    const { file, line } = await checkFails('{\n  "server": {\n    "workers": "two"\n  }\n}\n');
    assert.equal(line, `${file}:3: server.workers: expected an integer, got a string`);
  });

  test('an unset environment variable in a string names it', async () => {
    const { file, line } = await checkFails('{\n  "data_dir": "${BH_IT_SURELY_UNSET}"\n}\n',
                                            { env: { BH_IT_SURELY_UNSET: undefined } });
    assert.equal(line, `${file}:2: data_dir: environment variable BH_IT_SURELY_UNSET is not set`);
  });

  test('a plugin .so that does not exist gives the dlerror text', async () => {
    const { file, line } = await checkFails('{\n  "plugins": [\n    { "name": "nosuch" }\n  ]\n}\n');
    assert.equal(line, `${file}:3: plugin nosuch: cannot load: ${PLUGIN_DIR}/nosuch.so: ` +
                       'cannot open shared object file: No such file or directory');
  });

  test('a dependency cycle is named as the path that closes it', async () => {
    const { line } = await checkFails(fixtureConfig('fx_cyc_a', 'fx_cyc_b'), { env: FIXTURE_ENV });
    assert.equal(line, 'plugin dependency cycle: fx_cyc_a -> fx_cyc_b -> fx_cyc_a');
  });

  test('a dependency that is not configured is named', async () => {
    const { line } = await checkFails(fixtureConfig('fx_needs'), { env: FIXTURE_ENV });
    assert.equal(line, 'plugin fx_needs depends on plugin fx_good, which is not in the configuration');
  });

  test('the same plugin with its dependency passes, whatever the order in the file', async () => {
    await checkPasses(writeTempFile('ok.json', fixtureConfig('fx_needs', 'fx_good')), FIXTURE_ENV);
  });

  test('a plugin built for another ABI is refused', async () => {
    const { line } = await checkFails(fixtureConfig('fx_abi'), { env: FIXTURE_ENV });
    assert.match(line, new RegExp(`^plugin fx_abi: ${FIXTURE_DIR}/fx_abi\\.so was built for SDK ABI 999, ` +
                                  'this server has ABI \\d+$'));
  });

  test('a .so without the descriptor is refused', async () => {
    const config = `{\n  "plugin_dir": "${FIXTURE_DIR}",\n  "plugins": [\n    { "name": "fx_nosym" }\n  ]\n}\n`;
    const { file, line } = await checkFails(config, { env: FIXTURE_ENV });
    assert.equal(line, `${file}:4: plugin fx_nosym: ${FIXTURE_DIR}/fx_nosym.so exports no "bh_plugin" descriptor`);
  });

  test('a .so whose descriptor has another name is refused', async () => {
    const config = { plugin_dir: FIXTURE_DIR, plugins: [{ name: 'fx_other', path: 'fx_good.so' }] };
    const { line } = await checkFails(config, { env: FIXTURE_ENV });
    assert.equal(line, `plugin fx_other: ${FIXTURE_DIR}/fx_good.so calls itself "fx_good"`);
  });

  test('a failing init stops startup with the plugin\'s message and undoes earlier inits', async () => {
    const trace = path.join(tempDir(), 'trace');
    const { line } = await checkFails(fixtureConfig('fx_good', 'fx_initfail'),
                                      { env: { ...FIXTURE_ENV, BH_FIXTURE_TRACE: trace } });
    assert.equal(line, 'plugin fx_initfail: refusing to start: fixture told to fail');
    assert.equal(fs.readFileSync(trace, 'utf8'), 'init fx_good\nstop fx_good\n');
  });

  test('a plugin\'s own config check fails startup (testkit authorizer not a boolean)', async () => {
    const config = testConfig();
    config.plugins[1].config = { authorizer: 'yes' };
    const { line } = await checkFails(config);
    assert.equal(line, 'plugin testkit: config.authorizer must be a boolean');
  });

  test('testkit without its authorizer passes (its secured routes are not registered)', async () => {
    const config = testConfig();
    config.plugins[1].config = { authorizer: false };
    await checkPasses(writeTempFile('noauth.json', config));
  });

  test('plugin dir: -p overrides BILHETAGEM_PLUGIN_DIR, which overrides the file', async () => {
    const config = { plugin_dir: '/nonexistent/plugins', plugins: [{ name: 'fx_good' }] };
    const file = writeTempFile('dirs.json', config);
    await checkPasses(file, { BILHETAGEM_PLUGIN_DIR: FIXTURE_DIR });
    const r = await runBinary(['-t', '-c', file, '-p', FIXTURE_DIR],
                              { env: serverEnv({ BILHETAGEM_PLUGIN_DIR: '/nonexistent/env' }) });
    assert.equal(r.code, 0, r.stderr);
    const { line } = await checkFails(file, { env: FIXTURE_ENV });
    assert.match(line, /plugin fx_good: cannot load: \/nonexistent\/plugins\/fx_good\.so: /);
  });
});

describe('startup', () => {
  test('without -t a bad config exits 2 with exactly one line and never listens', async () => {
    const file = writeTempFile('bad.json', '{\n  "server": {\n    "wrokers": 2\n  }\n}\n');
    const r = await runBinary(['-c', file, '--listen', '127.0.0.1:0']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `bilhetagemd: ${file}:3: server.wrokers: unknown key\n`);
    assert.equal(r.stdout, '');
  });

  test('a port in use is exit 2 naming the address and the error; the first server is unharmed', async (t) => {
    const first = await startServer({ t });
    const addr = `127.0.0.1:${first.port}`;
    const r = await runBinary(['-c', TEST_CONFIG, '--listen', addr]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `bilhetagemd: cannot listen on ${addr}: Address already in use\n`);
    assert.equal((await request({ port: first.port, path: '/healthz' })).status, 200);
    // -t never binds, so it passes while the port is taken.
    const check = await runBinary(['-t', '-c', TEST_CONFIG, '--listen', addr]);
    assert.equal(check.code, 0, check.stderr);
  });

  test('listen address: --listen beats BILHETAGEM_LISTEN, which beats the file', async () => {
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    const config = testConfig();
    config.server.listen = `127.0.0.1:${p1}`;
    const file = writeTempFile('listen.json', config);
    const cases = [
      { env: {}, listen: null, want: p1 },
      { env: { BILHETAGEM_LISTEN: `127.0.0.1:${p2}` }, listen: null, want: p2 },
      { env: { BILHETAGEM_LISTEN: `127.0.0.1:${p2}` }, listen: `127.0.0.1:${p3}`, want: p3 },
    ];
    for (const c of cases) {
      const srv = await startServer({ config: file, env: c.env, listen: c.listen });
      try {
        assert.equal(srv.port, c.want, JSON.stringify(c));
        assert.equal((await request({ port: c.want, path: '/healthz' })).status, 200);
      } finally {
        assert.equal((await srv.stop()).code, 0);
      }
    }
  });

  test('data_dir is created with its parents', async (t) => {
    const dataDir = path.join(tempDir(), 'a', 'b', 'c');
    const srv = await startServer({ t, env: { BILHETAGEM_DATA_DIR: dataDir } });
    assert.ok(fs.statSync(dataDir).isDirectory());
    assert.equal((await request({ port: srv.port, path: '/healthz' })).status, 200);
  });

  test('a data_dir that cannot be created is exit 2 with one line', async () => {
    const file = path.join(tempDir(), 'plain-file');
    fs.writeFileSync(file, '');
    const dataDir = path.join(file, 'sub');
    const r = await runBinary(['-c', TEST_CONFIG, '--listen', '127.0.0.1:0'],
                              { env: serverEnv({ BILHETAGEM_DATA_DIR: dataDir }) });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `bilhetagemd: data_dir: cannot create ${dataDir}: Not a directory\n`);
  });

  test('plugins start in dependency order and stop in reverse', async (t) => {
    const trace = path.join(tempDir(), 'trace');
    const file = writeTempFile('fx.json', fixtureConfig('fx_needs', 'fx_good'));
    const srv = await startServer({ t, config: file, env: { ...FIXTURE_ENV, BH_FIXTURE_TRACE: trace } });
    assert.equal(fs.readFileSync(trace, 'utf8'),
                 'init fx_good\ninit fx_needs\nstart fx_good\nstart fx_needs\n');
    assert.equal((await srv.stop()).code, 0);
    assert.equal(fs.readFileSync(trace, 'utf8'),
                 'init fx_good\ninit fx_needs\nstart fx_good\nstart fx_needs\nstop fx_needs\nstop fx_good\n');
  });

  test('plugin config reaches the plugin (hello greeting)', async (t) => {
    const config = testConfig();
    config.plugins[0].config = { greeting: 'Oi' };
    const srv = await startServer({ t, config: writeTempFile('oi.json', config) });
    const res = await request({ port: srv.port, path: '/hello/Ana' });
    assert.deepEqual(res.json, { message: 'Oi, Ana!' });
    config.plugins[0].config = { greeting: '' };
    const { line } = await checkFails(config);
    assert.equal(line, 'plugin hello: config.greeting must be a string of 1..64 bytes');
    config.plugins[0].config = { greting: 'Oi' }; /* a typo does not pass silently */
    assert.equal((await checkFails(config)).line, 'plugin hello: config.greting: unknown key');
  });

  test('testkit without its authorizer serves its public routes and not the secured ones', async (t) => {
    const config = testConfig();
    config.plugins[1].config = { authorizer: false };
    const srv = await startServer({ t, config: writeTempFile('noauth.json', config) });
    assert.equal((await request({ port: srv.port, path: '/test/items/1' })).status, 200);
    assert.equal((await request({ port: srv.port, path: '/test/secure' })).status, 404);
    assert.equal((await request({ port: srv.port, path: '/test/admin' })).status, 404);
  });
});

describe('signals', () => {
  test('SIGTERM drains: the in-flight request completes, new connections are refused, exit 0', async (t) => {
    const srv = await startServer({ t });
    const inflight = request({ port: srv.port, path: '/test/sleep?ms=1500', timeoutMs: 8000,
                               headers: { 'X-Request-Id': 'drain-inflight' } });
    await sleep(200);
    const signalledAt = Date.now();
    srv.kill('SIGTERM');
    await srv.waitForLine((l) => /^signal 15: draining/.test(l.msg || ''), 2000);

    // A new connection once the drain began: refused, or answered and closed.
    let late;
    try {
      const res = await request({ port: srv.port, path: '/healthz', timeoutMs: 4000 });
      late = { status: res.status, connection: res.headers.connection };
    } catch (e) {
      late = { error: e.code || e.message };
    }

    const res = await inflight;
    const finishedAt = Date.now();
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { slept_ms: 1500 });

    const info = await within(srv.exited, DRAIN_TIMEOUT_MS, 'the exit after the drain');
    assert.deepEqual(info, { code: 0, signal: null });
    const exitedAt = Date.now();
    assert.ok(exitedAt - finishedAt < 1000, `exit ${exitedAt - finishedAt} ms after the last response`);
    assert.ok(exitedAt - signalledAt < DRAIN_TIMEOUT_MS, 'well before drain_timeout_ms');
    const access = srv.lines.find((l) => l.type === 'access' && l.request_id === 'drain-inflight');
    assert.ok(access, 'the in-flight request\'s access line is written before exit');
    assert.equal(access.status, 200);
    assert.ok(srv.lines.some((l) => l.msg === 'stopped'), 'a "stopped" line');

    // Checked last so that the properties above are verified either way.
    if (late.error) {
      assert.equal(late.error, 'ECONNREFUSED', 'a connection made during the drain is refused, not reset');
    } else {
      assert.equal(late.connection, 'close', JSON.stringify(late));
    }
  });

  test('SIGTERM with only idle keep-alive connections exits at once', async (t) => {
    const srv = await startServer({ t });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      assert.equal((await request({ port: srv.port, path: '/healthz', agent })).status, 200);
      const signalledAt = Date.now();
      assert.deepEqual(await srv.stop('SIGTERM'), { code: 0, signal: null });
      assert.ok(Date.now() - signalledAt < 1000, `exited in ${Date.now() - signalledAt} ms`);
    } finally {
      agent.destroy();
    }
  });

  test('SIGINT drains and exits 0', async (t) => {
    const srv = await startServer({ t });
    assert.equal((await request({ port: srv.port, path: '/healthz' })).status, 200);
    assert.deepEqual(await srv.stop('SIGINT'), { code: 0, signal: null });
    assert.ok(srv.lines.some((l) => /^signal 2: draining/.test(l.msg || '')));
  });

  test('SIGHUP keeps the server running (stdout: nothing to reopen)', async (t) => {
    const srv = await startServer({ t });
    srv.kill('SIGHUP');
    await srv.waitForLine((l) => l.msg === 'SIGHUP: logging to stdout, nothing to reopen', 2000);
    assert.equal(srv.exitInfo(), null);
    const res = await request({ port: srv.port, path: '/healthz' });
    assert.equal(res.status, 200);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  });

  test('SIGHUP reopens log.file, so a rotated log continues in a new file', async (t) => {
    const logDir = tempDir('bh-log-');
    const logFile = path.join(logDir, 'bilhetagem.log');
    const config = testConfig();
    config.log.file = logFile;
    const port = await freePort();
    const srv = await startServer({ t, config: writeTempFile('logfile.json', config),
                                    listen: `127.0.0.1:${port}`, probePort: port });
    const read = (f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
    await request({ port, path: '/healthz', headers: { 'X-Request-Id': 'before-rotate' } });
    await waitFor(() => read(logFile).includes('"before-rotate"'), { what: 'the first access line' });

    fs.renameSync(logFile, `${logFile}.1`);
    srv.kill('SIGHUP');
    await waitFor(() => read(logFile).includes('SIGHUP: log file reopened'), { what: 'the new log file' });
    await request({ port, path: '/healthz', headers: { 'X-Request-Id': 'after-rotate' } });
    await waitFor(() => read(logFile).includes('"after-rotate"'), { what: 'the access line in the new file' });
    assert.equal(read(`${logFile}.1`).includes('after-rotate'), false);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
    assert.equal(srv.stdout(), '', 'with log.file set nothing goes to stdout');
    assert.match(read(logFile), /"msg":"stopped"/);
  });
});
