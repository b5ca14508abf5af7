// auth.test.mjs - the auth plugin in front of the testkit's protected routes
// (/test/secure: any caller, /test/admin: group admin, /test/scoped: scope
// tickets:read, /test/principal and /test/whoami: public).
//
//   cognito mode   against cognito-local (tests/package.json), a real
//                  Cognito emulator: a user pool, app clients, users and an
//                  admin group made through @aws-sdk/client-cognito-identity-provider,
//                  tokens from InitiateAuth (USER_PASSWORD_AUTH).  Forgeries are
//                  signed here, with the emulator's own key where the point is
//                  a valid signature on bad claims.
//   key loading    cognito-local serves one fixed key and cannot rotate it, so
//                  rotation, a JWKS that is down at startup and a malformed
//                  JWKS use a JWKS server of this test's own (cognito.mjs).
//   hs256 mode     tokens minted by `bilhetagemctl token`, the shipped config.
//
// Every refusal asserts the response (401, the RFC 6750 challenge, problem
// unauthorized, "invalid token") and the log line giving the precise reason
// for that request id; the servers' whole output is checked at the end for
// any token or secret.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';

import {
  assertProblem, BUILDDIR, freePort, request, runBinary, serverEnv, SRCDIR, startServer, waitFor,
  writeTempFile,
} from './lib.mjs';
import {
  b64u, decodePart, makePool, rsaKey, signHS256, signRS256, startCognitoLocal, startJwksServer, unsigned,
} from './cognito.mjs';

const CTL = path.join(BUILDDIR, 'bilhetagemctl');
const CHALLENGE = 'Bearer error="invalid_token", error_description="invalid token"';
const now = () => Math.floor(Date.now() / 1000);

/** A server config: the auth plugin with `auth` as its config, and the
 * testkit's protected routes without the testkit's own authorizer. */
function configFile(auth) {
  return writeTempFile('auth.json', {
    server: {
      listen: '127.0.0.1:0', workers: 2, max_header_bytes: 32768, max_body_bytes: 65536,
      timeout_ms: 2000, drain_timeout_ms: 5000, max_json_depth: 16,
    },
    log: { level: 'debug', access_log: true },
    rate_limit: {
      enabled: true,
      classes: { default: { rate_per_sec: 100000, burst: 100000 }, tight: { rate_per_sec: 1, burst: 3 } },
    },
    data_dir: '${BILHETAGEM_DATA_DIR:-./var}',
    plugins: [
      { name: 'auth', config: auth },
      { name: 'testkit', path: '${BH_TEST_PLUGINS}/testkit.so', config: { secured_routes: true } },
    ],
  });
}

let probe = 0;

/** GET `path` with `token` (or a raw Authorization value) and a fresh request id. */
async function call(srv, reqPath, { token, authorization } = {}) {
  const id = `auth-probe-${process.pid}-${++probe}`;
  const headers = { 'X-Request-Id': id };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  if (authorization !== undefined) headers.Authorization = authorization;
  const res = await request({ port: srv.port, path: reqPath, headers });
  return { ...res, id };
}

/** Asserts a 401 invalid_token for `token` on /test/secure and that the log
 * line for that request gives `reason`. */
async function assertRefused(srv, token, reason) {
  const res = await call(srv, '/test/secure', { token });
  const p = assertProblem(res, 401, 'unauthorized');
  assert.equal(p.detail, 'invalid token');
  assert.equal(res.headers['www-authenticate'], CHALLENGE);
  const line = await srv.waitForLine((l) => l.request_id === res.id && /bearer token refused/.test(l.msg || ''));
  assert.match(line.msg, reason);
  assert.equal(line.level, 'info');
  return res;
}

/** The output of `srv` contains none of `secrets` (tokens: their signatures too). */
function assertNoSecrets(srv, secrets) {
  const out = srv.stdout() + srv.stderr();
  for (const s of secrets) {
    assert.ok(!out.includes(s), `server output contains a secret or token (${s.slice(0, 12)}...)`);
    const sig = s.split('.')[2];
    if (sig && sig.length > 16) assert.ok(!out.includes(sig), 'server output contains a token signature');
  }
}

// ---- cognito mode against cognito-local --------------------------------------------

describe('cognito mode against cognito-local', { timeout: 120_000 }, () => {
  let cognito;
  let pool;
  let otherPool;
  let srv;
  let customer; // AuthenticationResult of a customer (no group)
  let admin;    // ... of a member of the admin group
  const sent = []; // every token we sent, for the leak check

  before(async () => {
    cognito = await startCognitoLocal();
    pool = await makePool(cognito, 'shop', [
      { name: 'customer@example.com', password: 'Customer-pass-1' },
      { name: 'admin@example.com', password: 'Admin-pass-1', groups: ['admin'] },
    ]);
    otherPool = await makePool(cognito, 'elsewhere', [{ name: 'stranger@example.com', password: 'Stranger-pass-1' }]);
    customer = await pool.login('customer@example.com');
    admin = await pool.login('admin@example.com');
    sent.push(customer.AccessToken, customer.IdToken, admin.AccessToken);
    srv = await startServer({
      config: configFile({
        mode: 'cognito', issuer: pool.issuer, allow_insecure_issuer: true,
        client_ids: [pool.clientId], jwks_timeout_ms: 2000,
      }),
    });
    await waitFor(async () => (await request({ port: srv.port, path: '/readyz' })).status === 200,
      { timeoutMs: 10_000, what: '/readyz 200 (JWKS loaded from cognito-local)' });
  });

  after(async () => {
    try {
      if (srv) {
        const { code } = await srv.stop();
        assert.equal(code, 0, `exit code; stderr:\n${srv.stderr()}`);
        assertNoSecrets(srv, sent);
      }
    } finally {
      if (cognito) await cognito.stop();
    }
  });

  const forge = (claims, header = { alg: 'RS256', typ: 'JWT', kid: 'CognitoLocal' }) => {
    const t = signRS256(header, { ...decodePart(customer.AccessToken, 1), ...claims }, cognito.privateKey);
    sent.push(t);
    return t;
  };

  test('the issuer is the emulator\'s pool URL on loopback', () => {
    assert.equal(decodePart(customer.AccessToken, 1).iss, pool.issuer);
    assert.equal(decodePart(customer.AccessToken, 0).kid, 'CognitoLocal');
  });

  test('/readyz lists the auth plugin ready once the JWKS is loaded', async () => {
    const res = await request({ port: srv.port, path: '/readyz' });
    assert.deepEqual(res.json, { status: 'ready', checks: { auth: 'ok', testkit: 'ok' } });
    await srv.waitForLine((l) => l.plugin === 'auth' && /1 signing key loaded/.test(l.msg || ''));
  });

  test('an access token from InitiateAuth is accepted: the principal comes from its claims', async () => {
    const claims = decodePart(admin.AccessToken, 1);
    const res = await call(srv, '/test/principal', { token: admin.AccessToken });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {
      principal: {
        sub: claims.sub, username: claims.username, email: null, groups: ['admin'],
        scopes: ['aws.cognito.signin.user.admin'],
      },
    });
    const secure = await call(srv, '/test/secure', { token: customer.AccessToken });
    assert.equal(secure.status, 200);
    assert.deepEqual(secure.json, { sub: decodePart(customer.AccessToken, 1).sub });
  });

  test('no Authorization header: 401 with a bare Bearer challenge (RFC 6750 section 3)', async () => {
    const res = await call(srv, '/test/secure');
    assertProblem(res, 401, 'unauthorized');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  test('another scheme: 401 with a bare Bearer challenge, logged', async () => {
    const res = await call(srv, '/test/secure', { authorization: `Basic ${b64u('customer:Customer-pass-1')}` });
    assertProblem(res, 401, 'unauthorized');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    await srv.waitForLine((l) => l.request_id === res.id && /scheme other than Bearer/.test(l.msg));
  });

  test('the Bearer scheme is case-insensitive', async () => {
    const res = await call(srv, '/test/secure', { authorization: `bearer ${customer.AccessToken}` });
    assert.equal(res.status, 200);
  });

  test('garbage: 401 invalid_token', async () => {
    await assertRefused(srv, 'not-a-token', /malformed token/);
    await assertRefused(srv, '', /malformed token/);
    await assertRefused(srv, 'a.b.c.d', /malformed token/);
    await assertRefused(srv, `${b64u('{"alg":')}.${b64u('{}')}.x`, /malformed token header/);
  });

  test('a truncated token: 401 invalid_token', async () => {
    const t = customer.AccessToken;
    await assertRefused(srv, t.slice(0, t.lastIndexOf('.')), /malformed token/);
    await assertRefused(srv, t.slice(0, Math.floor(t.length / 2)), /malformed|header/);
    await assertRefused(srv, t.slice(0, -10), /bad signature/);
  });

  test('a tampered payload (customer adds the admin group): 401, and no way to the admin route', async () => {
    const [h, , s] = customer.AccessToken.split('.');
    const claims = { ...decodePart(customer.AccessToken, 1), 'cognito:groups': ['admin'] };
    const forged = `${h}.${b64u(JSON.stringify(claims))}.${s}`;
    await assertRefused(srv, forged, /bad signature/);
    const res = await call(srv, '/test/admin', { token: forged });
    assertProblem(res, 401, 'unauthorized');
  });

  test('a tampered signature: 401 invalid_token', async () => {
    const t = customer.AccessToken;
    const sig = Buffer.from(t.split('.')[2], 'base64url');
    sig[10] ^= 0x01;
    await assertRefused(srv, `${t.slice(0, t.lastIndexOf('.'))}.${b64u(sig)}`, /bad signature/);
  });

  test('expired beyond the 60 s leeway: 401; expired within it: accepted', async () => {
    const t = now();
    await assertRefused(srv, forge({ iat: t - 3700, auth_time: t - 3700, exp: t - 100 }), /expired/);
    const res = await call(srv, '/test/secure', { token: forge({ iat: t - 3630, exp: t - 30 }) });
    assert.equal(res.status, 200);
  });

  test('not yet valid (nbf ahead beyond the leeway): 401 invalid_token', async () => {
    await assertRefused(srv, forge({ nbf: now() + 600 }), /not yet valid/);
  });

  test('issued in the future beyond the leeway: 401 invalid_token', async () => {
    await assertRefused(srv, forge({ iat: now() + 600 }), /issued in the future/);
  });

  test('the wrong issuer (another pool of the same emulator, same key): 401', async () => {
    const stranger = await otherPool.login('stranger@example.com');
    sent.push(stranger.AccessToken);
    assert.notEqual(decodePart(stranger.AccessToken, 1).iss, pool.issuer);
    await assertRefused(srv, stranger.AccessToken, /wrong issuer/);
  });

  test('the wrong app client id (a second client of the same pool): 401', async () => {
    const other = await pool.newClient('not-allowed');
    const tokens = await pool.login('customer@example.com', other);
    sent.push(tokens.AccessToken);
    assert.equal(decodePart(tokens.AccessToken, 1).client_id, other);
    await assertRefused(srv, tokens.AccessToken, /client not allowed/);
  });

  test('an ID token where access tokens are required: 401', async () => {
    assert.equal(decodePart(customer.IdToken, 1).token_use, 'id');
    await assertRefused(srv, customer.IdToken, /wrong token_use/);
  });

  test('unsigned (alg none): 401 before any signature work', async () => {
    const t = unsigned(decodePart(admin.AccessToken, 1));
    sent.push(t);
    await assertRefused(srv, t, /algorithm not accepted/);
  });

  test('HS256 on a cognito server: 401, even keyed with the pool\'s public key', async () => {
    const claims = decodePart(admin.AccessToken, 1);
    const header = { alg: 'HS256', typ: 'JWT', kid: 'CognitoLocal' };
    const spki = crypto.createPublicKey({ key: cognito.publicJwk, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' });
    for (const secret of ['a-shared-secret-of-more-than-32-bytes', spki, cognito.publicPem]) {
      const t = signHS256(header, claims, secret);
      sent.push(t);
      await assertRefused(srv, t, /algorithm not accepted/);
    }
  });

  test('an unknown kid: 401 (after one rate-limited refetch of the JWKS)', async () => {
    const stranger = rsaKey('not-in-the-pool');
    const t = signRS256({ alg: 'RS256', typ: 'JWT', kid: stranger.kid }, decodePart(admin.AccessToken, 1), stranger.privateKey);
    sent.push(t);
    await assertRefused(srv, t, /unknown kid/);
    await srv.waitForLine((l) => l.plugin === 'auth' && /JWKS refetch \(unknown kid\)/.test(l.msg || ''));
    // a second one within 30 s does not refetch again
    await assertRefused(srv, t, /unknown kid/);
    const refetches = srv.lines.filter((l) => /JWKS refetch/.test(l.msg || '')).length;
    assert.equal(refetches, 1);
  });

  test('an oversized token (validly signed, over 8 KiB): 401 without decoding', async () => {
    const t = forge({ padding: 'x'.repeat(8300) });
    assert.ok(t.length > 8192);
    await assertRefused(srv, t, /token too large/);
  });

  test('roles: customer on the admin route is 403, admin is 200', async () => {
    const denied = await call(srv, '/test/admin', { token: customer.AccessToken });
    assertProblem(denied, 403, 'forbidden');
    assert.equal(denied.headers['www-authenticate'], undefined);
    const allowed = await call(srv, '/test/admin', { token: admin.AccessToken });
    assert.equal(allowed.status, 200);
    assert.deepEqual(allowed.json, { sub: decodePart(admin.AccessToken, 1).sub });
  });

  test('scopes: a token without the route\'s scope is 403', async () => {
    assertProblem(await call(srv, '/test/scoped', { token: admin.AccessToken }), 403, 'forbidden');
  });

  test('public routes: no token is anonymous, a valid token identifies, a bad one is ignored', async () => {
    const anon = await call(srv, '/test/whoami');
    assert.equal(anon.status, 200);
    assert.deepEqual(anon.json, { sub: null });
    const known = await call(srv, '/test/whoami', { token: customer.AccessToken });
    assert.deepEqual(known.json, { sub: decodePart(customer.AccessToken, 1).sub });
    const expired = forge({ exp: now() - 3600, iat: now() - 7200 });
    for (const token of ['garbage', expired, customer.IdToken]) {
      const res = await call(srv, '/test/whoami', { token });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { sub: null });
    }
  });

  test('a bad token is never a 500', async () => {
    const claims = decodePart(customer.AccessToken, 1);
    const nasty = [
      forge({ exp: 'tomorrow' }), forge({ 'cognito:groups': 'admin' }), forge({ sub: 42 }),
      forge({ scope: ['a'] }), forge({ exp: 1e300 }), signRS256({ alg: 'RS256', kid: 5 }, claims, cognito.privateKey),
      `${b64u('[]')}.${b64u('{}')}.`, `${b64u('{"alg":"RS256","kid":"CognitoLocal"}')}.${b64u('[1,2]')}.AAAA`,
      '...', '%00', 'é',
    ];
    for (const token of nasty) {
      const res = await call(srv, '/test/secure', { token });
      assert.equal(res.status, 401, `${token.slice(0, 40)}: ${res.body}`);
    }
  });
});

// ---- key loading: a JWKS server of this test's own -----------------------------------------

describe('JWKS loading, rotation and malformed documents (a JWKS served by the test)', { timeout: 90_000 }, () => {
  const key1 = rsaKey('key-1');
  const key2 = rsaKey('key-2');
  let jwksPort;
  let jwks;
  let issuer;
  const servers = [];
  const sent = [];

  const claims = () => ({
    sub: 'user-1', token_use: 'access', client_id: 'app', iss: issuer, iat: now(), exp: now() + 600,
    auth_time: now(), username: 'user-1',
  });
  const tokenFor = (key) => {
    const t = signRS256({ alg: 'RS256', typ: 'JWT', kid: key.kid }, claims(), key.privateKey);
    sent.push(t);
    return t;
  };
  const start = async () => {
    const srv = await startServer({
      config: configFile({ mode: 'cognito', issuer, allow_insecure_issuer: true, client_ids: ['app'], jwks_timeout_ms: 1000 }),
    });
    servers.push(srv);
    return srv;
  };

  before(async () => {
    jwksPort = await freePort(); // nothing listens there yet
    issuer = `http://127.0.0.1:${jwksPort}/pool`;
  });
  after(async () => {
    for (const srv of servers) {
      const { code } = await srv.stop();
      assert.equal(code, 0, `exit code; stderr:\n${srv.stderr()}`);
      assertNoSecrets(srv, sent);
    }
    if (jwks) await jwks.close();
  });

  test('/readyz is 503 until the JWKS loads; the server starts anyway and retries with backoff', async () => {
    const srv = await start();
    const res = await request({ port: srv.port, path: '/readyz' });
    assert.equal(res.status, 503);
    assert.equal(res.json.checks.auth, 'signing keys (JWKS) not loaded yet');
    // a token that cannot be checked yet is 503 on a protected route, not 401
    const pending = await call(srv, '/test/secure', { token: tokenFor(key1) });
    assertProblem(pending, 503, 'unavailable');
    // garbage is still 401
    assertProblem(await call(srv, '/test/secure', { token: 'garbage' }), 401, 'unauthorized');
    await srv.waitForLine((l) => l.plugin === 'auth' && /JWKS fetch failed/.test(l.msg || ''));

    jwks = await startJwksServer(jwksPort);
    jwks.setKeys([key1.jwk]);
    await waitFor(async () => (await request({ port: srv.port, path: '/readyz' })).status === 200,
      { timeoutMs: 20_000, stepMs: 100, what: '/readyz 200 after the JWKS came up' });
    assert.equal((await call(srv, '/test/secure', { token: tokenFor(key1) })).status, 200);
  });

  test('key rotation: a token signed by a newly added key is accepted after the refetch', async () => {
    const srv = servers[0];
    const before = jwks.hits();
    jwks.setKeys([key1.jwk, key2.jwk]); // the pool publishes its next key
    const res = await call(srv, '/test/secure', { token: tokenFor(key2) });
    assert.equal(res.status, 200, res.body);
    assert.equal(jwks.hits(), before + 1);
    assert.equal((await call(srv, '/test/secure', { token: tokenFor(key1) })).status, 200);
    await srv.waitForLine((l) => /JWKS refetch \(unknown kid\): 2 signing keys loaded/.test(l.msg || ''));
  });

  test('a malformed JWKS at refetch keeps the previous keys', async () => {
    jwks.setKeys([key1.jwk]);
    const srv = await start();
    await waitFor(async () => (await request({ port: srv.port, path: '/readyz' })).status === 200,
      { timeoutMs: 10_000, what: '/readyz 200' });
    jwks.setRaw('{"keys": [ this is not json');
    const res = await call(srv, '/test/secure', { token: tokenFor(key2) }); // unknown here: refetch
    assertProblem(res, 401, 'unauthorized');
    await srv.waitForLine((l) => /JWKS refetch \(unknown kid\) failed \(the previous keys stay in use\).*unusable/.test(l.msg || ''));
    assert.equal((await call(srv, '/test/secure', { token: tokenFor(key1) })).status, 200);
    assert.equal((await request({ port: srv.port, path: '/readyz' })).status, 200);
  });
});

// ---- hs256 mode: tokens from bilhetagemctl token ---------------------------------------------

describe('hs256 mode with bilhetagemctl token', { timeout: 60_000 }, () => {
  const secret = crypto.randomBytes(32).toString('hex');
  const env = { BILHETAGEM_JWT_SECRET: secret };
  let config;
  let srv;
  const sent = [];

  const ctl = async (args, extraEnv = env) => {
    const res = await runBinary(args, { bin: CTL, env: serverEnv(extraEnv) });
    assert.ok(!res.stdout.includes(secret) && !res.stderr.includes(secret), 'ctl never prints the secret');
    return res;
  };
  const mint = async (...args) => {
    const res = await ctl(['token', '-c', config, ...args]);
    assert.equal(res.code, 0, res.stderr);
    const token = res.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    sent.push(token);
    return token;
  };

  before(async () => {
    config = configFile({
      mode: 'hs256', secret: '${BILHETAGEM_JWT_SECRET}', issuer: 'bilhetagem-local', client_ids: ['bilhetagem-local'],
    });
    srv = await startServer({ config, env });
  });
  after(async () => {
    const { code } = await srv.stop();
    assert.equal(code, 0, `exit code; stderr:\n${srv.stderr()}`);
    assertNoSecrets(srv, [secret, ...sent]);
  });

  test('a minted token has the claim shape of a Cognito access token', async () => {
    const token = await mint('--sub', 'alice', '--groups', 'admin,staff', '--scopes', 'tickets:read,openid',
      '--ttl', '2h', '--email', 'alice@example.com', '--username', 'alice01');
    assert.deepEqual(decodePart(token, 0), { alg: 'HS256', typ: 'JWT' });
    const c = decodePart(token, 1);
    assert.deepEqual(Object.keys(c).sort(), ['auth_time', 'client_id', 'cognito:groups', 'email', 'exp', 'iat',
      'iss', 'jti', 'scope', 'sub', 'token_use', 'username']);
    assert.equal(c.token_use, 'access');
    assert.equal(c.client_id, 'bilhetagem-local');
    assert.equal(c.iss, 'bilhetagem-local');
    assert.deepEqual(c['cognito:groups'], ['admin', 'staff']);
    assert.equal(c.scope, 'tickets:read openid');
    assert.equal(c.exp - c.iat, 7200);
    assert.ok(Math.abs(c.iat - now()) < 30);
    const res = await call(srv, '/test/principal', { token });
    assert.deepEqual(res.json, {
      principal: { sub: 'alice', username: 'alice01', email: 'alice@example.com', groups: ['admin', 'staff'],
        scopes: ['tickets:read', 'openid'] },
    });
  });

  test('roles: customer 403 on the admin route, admin 200, public route without a token 200', async () => {
    const customer = await mint('--sub', 'carla', '--scopes', 'tickets:read');
    const admin = await mint('--sub', 'root', '--groups', 'admin');
    assert.equal((await call(srv, '/test/secure', { token: customer })).status, 200);
    assertProblem(await call(srv, '/test/admin', { token: customer }), 403, 'forbidden');
    assert.equal((await call(srv, '/test/admin', { token: admin })).status, 200);
    assert.equal((await call(srv, '/test/scoped', { token: customer })).status, 200);
    assertProblem(await call(srv, '/test/scoped', { token: admin }), 403, 'forbidden');
    assert.equal((await call(srv, '/test/whoami')).status, 200);
  });

  test('a token signed with another secret, or RS256, is refused', async () => {
    const c = decodePart(await mint('--sub', 'mallory', '--groups', 'admin'), 1);
    const t = signHS256({ alg: 'HS256', typ: 'JWT' }, c, crypto.randomBytes(32).toString('hex'));
    sent.push(t);
    await assertRefused(srv, t, /bad signature/);
    const k = rsaKey('k');
    await assertRefused(srv, signRS256({ alg: 'RS256', kid: 'k' }, c, k.privateKey), /algorithm not accepted/);
    await assertRefused(srv, unsigned(c), /algorithm not accepted/);
  });

  test('bilhetagemctl token: usage errors', async () => {
    let res = await ctl(['token', '-c', config]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--sub is required/);
    res = await ctl(['token', '-c', config, '--sub', 'a', '--ttl', '31d']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--ttl must be/);
    res = await ctl(['migrate', '-c', config, '--sub', 'a']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /only apply to token/);
    res = await ctl(['token', '-c', config, '--sub', 'two words']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /without spaces/);
  });

  test('bilhetagemctl token refuses a cognito config and a config without the auth plugin', async () => {
    const cognitoConfig = configFile({
      mode: 'cognito', region: 'eu-west-1', user_pool_id: 'eu-west-1_AbC123', client_ids: ['app'],
    });
    let res = await ctl(['token', '-c', cognitoConfig, '--sub', 'a']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /cognito mode/);
    res = await ctl(['token', '-c', path.join(SRCDIR, 'conf', 'test.json'), '--sub', 'a']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no configured plugin provides the auth\.tokens service/);
  });

  test('the server refuses a secret under 32 bytes, or none, and never prints it', async () => {
    const short = 'only-31-bytes-of-secret-0123456';
    let res = await runBinary(['-t', '-c', config], { env: serverEnv({ BILHETAGEM_JWT_SECRET: short }) });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /plugin auth: config\.secret is 31 bytes: it must be 32\.\.4096 bytes/);
    assert.ok(!res.stderr.includes(short) && !res.stdout.includes(short));
    res = await runBinary(['-t', '-c', config], { env: serverEnv({ BILHETAGEM_JWT_SECRET: undefined }) });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /BILHETAGEM_JWT_SECRET is not set/);
  });

  test('the shipped conf/bilhetagem.json loads the auth plugin in hs256 mode and mints', async () => {
    const shipped = path.join(SRCDIR, 'conf', 'bilhetagem.json');
    // The shipped config also loads the payment plugin, whose webhook key
    // comes from the environment too.
    const withWebhook = { ...env, BILHETAGEM_PAYMENT_WEBHOOK_SECRET: 'w'.repeat(32) };
    const res = await runBinary(['-t', '-c', shipped], { env: serverEnv(withWebhook) });
    assert.equal(res.code, 0, res.stderr);
    const out = await ctl(['token', '-c', shipped, '--sub', 'alice'], withWebhook);
    assert.equal(out.code, 0, out.stderr);
    const c = decodePart(out.stdout.trim(), 1);
    assert.equal(c.iss, 'bilhetagem-local');
    sent.push(out.stdout.trim());
  });
});
