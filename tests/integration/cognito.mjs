// cognito.mjs - what auth.test.mjs needs besides the server: the Cognito
// emulator (the npm package cognito-local, from tests/package.json) with a
// user pool made through the real AWS SDK, a JWKS server of our own for the
// cases the emulator cannot play (key rotation, a JWKS that is down or
// malformed), and tokens built byte by byte for the forgeries.
//
// Everything listens on 127.0.0.1 only; every process and server started
// here is stopped by its stop()/close(), and killed when the test process
// exits whatever happened.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

import { freePort, HOST, SRCDIR, tempDir, waitFor } from './lib.mjs';

export const MODULES = process.env.BH_NODE_MODULES || path.join(SRCDIR, 'tests', 'node_modules');

/** Throws a clear message when `npm ci` has not been run in tests/. */
export function requireModules() {
  for (const pkg of ['cognito-local', '@aws-sdk/client-cognito-identity-provider']) {
    if (!fs.existsSync(path.join(MODULES, pkg, 'package.json'))) {
      throw new Error(`${pkg} missing under ${MODULES}: run npm ci in tests/ ` +
                      '(scripts/quickstart.sh test does)');
    }
  }
  return createRequire(path.join(MODULES, 'noop.js'));
}

const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
});

// ---- tokens ----------------------------------------------------------------

export const b64u = (data) => Buffer.from(data).toString('base64url');
export const decodePart = (token, i) => JSON.parse(Buffer.from(token.split('.')[i], 'base64url').toString('utf8'));
const signingInput = (header, payload) => `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;

/** An RS256 JWT of `header` and `payload` signed with `key` (a KeyObject or PEM). */
export function signRS256(header, payload, key) {
  const input = signingInput(header, payload);
  return `${input}.${b64u(crypto.sign('sha256', Buffer.from(input), key))}`;
}

/** An HS256 JWT signed with `secret` (string or Buffer). */
export function signHS256(header, payload, secret) {
  const input = signingInput(header, payload);
  return `${input}.${b64u(crypto.createHmac('sha256', secret).update(input).digest())}`;
}

/** An unsigned ("alg": "none") JWT. */
export function unsigned(payload) {
  return `${signingInput({ alg: 'none', typ: 'JWT' }, payload)}.`;
}

/** A fresh RSA key pair and its public JWK under `kid`. */
export function rsaKey(kid) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}

// ---- cognito-local -------------------------------------------------------------

/**
 * Starts cognito-local on a free loopback port in a private directory and
 * resolves { port, endpoint, client (the SDK client), sdk, privateKey,
 * publicJwk, stop() } once it answers /health.
 */
export async function startCognitoLocal() {
  const req = requireModules();
  const sdk = req('@aws-sdk/client-cognito-identity-provider');
  const pkgDir = path.dirname(req.resolve('cognito-local/package.json'));
  const port = await freePort();
  const proc = spawn(process.execPath, [path.join(pkgDir, 'lib', 'bin', 'start.js')], {
    cwd: tempDir('bh-cognito-'),
    env: { ...process.env, HOST, PORT: String(port), NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let output = '';
  proc.stdout.on('data', (c) => { output += c; });
  proc.stderr.on('data', (c) => { output += c; });
  const exited = new Promise((resolve) => proc.on('close', (code) => { children.delete(proc); resolve(code); }));
  const endpoint = `http://${HOST}:${port}`;
  try {
    await waitFor(async () => {
      if (!children.has(proc)) throw new Error(`cognito-local exited:\n${output}`);
      try {
        return (await fetch(`${endpoint}/health`)).ok;
      } catch {
        return false;
      }
    }, { timeoutMs: 20_000, stepMs: 100, what: 'cognito-local to answer /health' });
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  const keys = req('cognito-local/lib/keys/cognitoLocal.private.json');
  const pub = req('cognito-local/lib/keys/cognitoLocal.public.json');
  const client = new sdk.CognitoIdentityProviderClient({
    endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  return {
    port,
    endpoint,
    sdk,
    client,
    privateKey: crypto.createPrivateKey(keys.pem),
    publicJwk: pub.jwk,
    publicPem: pub.pem,
    async stop() {
      client.destroy();
      if (children.has(proc)) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A user pool with an app client and `users` ({ name, password, groups })
 * made through the AWS SDK; the pool's usernames are e-mail addresses.
 * Resolves { poolId, clientId, issuer, login(name) -> AuthenticationResult }.
 */
export async function makePool(cognito, poolName, users) {
  const { sdk, client } = cognito;
  const send = (Cmd, input) => client.send(new sdk[Cmd](input));
  const pool = (await send('CreateUserPoolCommand', { PoolName: poolName })).UserPool;
  const app = (await send('CreateUserPoolClientCommand', { UserPoolId: pool.Id, ClientName: `${poolName}-app` }))
    .UserPoolClient;
  const groups = new Set(users.flatMap((u) => u.groups || []));
  for (const g of groups) await send('CreateGroupCommand', { UserPoolId: pool.Id, GroupName: g });
  for (const u of users) {
    await send('AdminCreateUserCommand', {
      UserPoolId: pool.Id, Username: u.name, MessageAction: 'SUPPRESS', TemporaryPassword: 'Temporary-1',
      UserAttributes: [{ Name: 'email', Value: u.name }],
    });
    await send('AdminSetUserPasswordCommand', { UserPoolId: pool.Id, Username: u.name, Password: u.password, Permanent: true });
    for (const g of u.groups || []) {
      await send('AdminAddUserToGroupCommand', { UserPoolId: pool.Id, Username: u.name, GroupName: g });
    }
  }
  const passwords = new Map(users.map((u) => [u.name, u.password]));
  return {
    poolId: pool.Id,
    clientId: app.ClientId,
    issuer: `${cognito.endpoint}/${pool.Id}`,
    async newClient(name) {
      return (await send('CreateUserPoolClientCommand', { UserPoolId: pool.Id, ClientName: name })).UserPoolClient.ClientId;
    },
    async login(name, clientId = app.ClientId) {
      const res = await send('InitiateAuthCommand', {
        AuthFlow: 'USER_PASSWORD_AUTH', ClientId: clientId,
        AuthParameters: { USERNAME: name, PASSWORD: passwords.get(name) },
      });
      return res.AuthenticationResult;
    },
  };
}

// ---- a JWKS server of our own --------------------------------------------------------

/**
 * Serves GET <anything>/.well-known/jwks.json on 127.0.0.1:`port` (0: any).
 * setKeys(jwks) serves {"keys": jwks}; setRaw(text) serves text as is.
 * Resolves { port, setKeys, setRaw, hits(), close() }.
 */
export async function startJwksServer(port = 0) {
  let body = JSON.stringify({ keys: [] });
  let hits = 0;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || !req.url.endsWith('/.well-known/jwks.json')) {
      res.writeHead(404).end();
      return;
    }
    hits++;
    res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' }).end(body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, resolve);
  });
  return {
    port: server.address().port,
    setKeys(keys) { body = JSON.stringify({ keys }); },
    setRaw(text) { body = text; },
    hits: () => hits,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
