// checkout.mjs - the harness every checkout test shares: a bilhetagemd with
// the auth plugin in local (HS256) mode, a real database (a fresh SQLite file,
// or a fresh database on the PostgreSQL server tests/pg.sh started) and the
// checkout plugins the test asks for; real tokens for an admin, a staff
// member and two customers, minted by `bilhetagemctl token` from the same
// config; and a `call` helper that speaks JSON to it.
//
//   const shop = await startCheckout({ t, driver: 'sqlite',
//                                      plugins: ['products', 'order'],
//                                      config: { order: { hold_seconds: 2 } } });
//   const res = await shop.call('POST', '/events', { as: 'admin', body: {...} });
//
// Drivers: BH_TEST_DRIVERS (comma list, default "sqlite", plus "postgresql"
// when BH_TEST_PG_DSN is set) says which a test file should loop over:
// `drivers()`.
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';

import {
  BUILDDIR, psql, request, runBinary, serverEnv, startServer, tempDir, withDatabase, writeTempFile,
} from './lib.mjs';

export const CTL = path.join(BUILDDIR, 'bilhetagemctl');

/** The users every checkout test has: sub, groups and e-mail. */
export const USERS = {
  admin: { sub: 'admin-1', groups: ['admin'], email: 'admin@example.com' },
  staff: { sub: 'staff-1', groups: ['staff'], email: 'staff@example.com' },
  alice: { sub: 'alice-1', groups: [], email: 'alice@example.com' },
  bob: { sub: 'bob-1', groups: [], email: 'bob@example.com' },
};

/** The drivers this run covers. */
export function drivers() {
  const env = process.env.BH_TEST_DRIVERS;
  if (env) return env.split(',').map((s) => s.trim()).filter(Boolean);
  return process.env.BH_TEST_PG_DSN ? ['sqlite', 'postgresql'] : ['sqlite'];
}

let dbSerial = 0;

/** A storage section on a fresh, empty database (a new SQLite file in
 * dataDir, or a new database on BH_TEST_PG_DSN's server); the env it needs. */
export async function freshStorage(driver, dataDir) {
  const common = { outbox_poll_ms: 50, outbox_backoff_ms: 50, outbox_lease_ms: 2000 };
  if (driver === 'sqlite') {
    return { storage: { driver: 'sqlite', path: path.join(dataDir, 'checkout.db'), ...common }, env: {} };
  }
  if (driver !== 'postgresql') throw new Error(`unknown driver ${driver}`);
  const base = process.env.BH_TEST_PG_DSN;
  if (!base) throw new Error('BH_TEST_PG_DSN is not set: run this test through tests/pg.sh run');
  const db = `bh_co_${process.pid}_${++dbSerial}`;
  await psql(base, `CREATE DATABASE ${db}`);
  return {
    storage: { driver: 'postgresql', dsn: '${BH_TEST_CHECKOUT_DSN}', connect_timeout_ms: 2000, ...common },
    env: { BH_TEST_CHECKOUT_DSN: withDatabase(base, db) },
  };
}

/** The whole config as an object (exported for tests that change more). */
export function checkoutConfig({ storage, plugins, config = {}, workers = 2, server = {} }) {
  return {
    $comment: 'written by tests/integration/checkout.mjs',
    server: {
      listen: '127.0.0.1:0', workers, max_header_bytes: 8192, max_body_bytes: 1048576,
      timeout_ms: 5000, drain_timeout_ms: 5000, max_json_depth: 16, ...server,
    },
    log: { level: 'debug', access_log: true },
    rate_limit: { enabled: false },
    storage,
    data_dir: '${BILHETAGEM_DATA_DIR}',
    plugins: [
      {
        name: 'auth',
        config: { mode: 'hs256', secret: '${BH_TEST_JWT_SECRET}', issuer: 'bilhetagem-test',
                  client_ids: ['bilhetagem-test'] },
      },
      ...plugins.map((name) => ({ name, config: config[name] || {} })),
    ],
  };
}

/** Mint a token for `user` ({sub, groups, email}) with the config's secret. */
export async function mint(configPath, env, user) {
  const args = ['token', '-c', configPath, '--sub', user.sub, '--ttl', '2h'];
  if (user.groups && user.groups.length) args.push('--groups', user.groups.join(','));
  if (user.email) args.push('--email', user.email);
  const r = await runBinary(args, { env: serverEnv(env), bin: CTL });
  if (r.code !== 0) throw new Error(`bilhetagemctl token failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * Start a checkout server.  Returns { server, port, configPath, env, tokens,
 * call, ctl, stop }:
 *   call(method, path, { as, token, body, headers, key, timeoutMs })
 *     as: 'admin' | 'staff' | 'alice' | 'bob' (a bearer token) or undefined;
 *     key: an Idempotency-Key (key: true makes a random one);
 *     resolves lib.mjs request()'s { status, headers, body, json }.
 *   ctl(args) runs bilhetagemctl with this config and env.
 */
export async function startCheckout({ t, driver = 'sqlite', plugins = ['products', 'order', 'payment', 'invoice'],
                                      config = {}, workers = 2, server: serverConf = {}, env: extraEnv = {} } = {}) {
  const dataDir = tempDir('bh-co-');
  const { storage, env: storageEnv } = await freshStorage(driver, dataDir);
  const env = {
    BILHETAGEM_DATA_DIR: dataDir,
    BH_TEST_JWT_SECRET: crypto.randomBytes(32).toString('hex'),
    ...storageEnv,
    ...extraEnv,
  };
  const configPath = writeTempFile('checkout.json',
                                   checkoutConfig({ storage, plugins, config, workers, server: serverConf }));
  const server = await startServer({ config: configPath, env, t });
  const tokens = {};
  for (const [name, user] of Object.entries(USERS)) tokens[name] = await mint(configPath, env, user);

  const call = (method, reqPath, { as, token, body, headers = {}, key, timeoutMs } = {}) => {
    const h = { ...headers };
    const bearer = token || (as ? tokens[as] : undefined);
    if (bearer) h.Authorization = `Bearer ${bearer}`;
    if (body !== undefined && !h['Content-Type']) h['Content-Type'] = 'application/json';
    if (key) h['Idempotency-Key'] = key === true ? crypto.randomUUID() : key;
    return request({ port: server.port, method, path: reqPath, headers: h, body, timeoutMs });
  };
  const ctl = (args, opts = {}) => runBinary([args[0], '-c', configPath, ...args.slice(1)],
                                             { env: serverEnv(env), bin: CTL, ...opts });
  // One SQL statement on the shop's database, from outside the server (the
  // sqlite3 or psql command-line tool): for tests that look at or arrange
  // state no route exposes.
  const sql = (text) => (driver === 'sqlite'
    ? new Promise((resolve, reject) => {
      execFile('sqlite3', ['-bail', '-cmd', '.timeout 5000', path.join(dataDir, 'checkout.db'), text],
               { timeout: 10_000 }, (err, stdout, stderr) => {
                 if (err) reject(new Error(`sqlite3: ${stderr || err.message}`));
                 else resolve(stdout.trim());
               });
    })
    : psql(env.BH_TEST_CHECKOUT_DSN, text));
  return { server, port: server.port, configPath, env, dataDir, tokens, call, ctl, sql, stop: () => server.stop() };
}
