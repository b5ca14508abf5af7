// configs.test.mjs - the shipped configurations and the ECS task that runs
// one of them agree:
//   - conf/bilhetagem.json and conf/production.json pass `bilhetagemd -t`
//     (every plugin loads and accepts its config) given the variables they
//     name;
//   - every ${VAR} conf/production.json needs (no :-default) is supplied to
//     the bilhetagem container by deploy/ecs/task-definition.json, in its
//     environment or its secrets, and the container runs that file;
//   - without one of them the check fails, naming the file, line and path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { runBinary, serverEnv, SRCDIR } from './lib.mjs';

const PRODUCTION = path.join(SRCDIR, 'conf', 'production.json');
const SHIPPED = path.join(SRCDIR, 'conf', 'bilhetagem.json');

/** ${VAR} references without a default in a config file's text. */
function requiredVars(file) {
  const text = fs.readFileSync(file, 'utf8');
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]))].sort();
}

const SAMPLE = {
  BILHETAGEM_PG_DSN: 'host=127.0.0.1 port=1 dbname=bilhetagem connect_timeout=1',
  COGNITO_REGION: 'sa-east-1',
  COGNITO_USER_POOL_ID: 'sa-east-1_AbCdEf123',
  COGNITO_CLIENT_ID: '4v2k3example0clientid',
  BILHETAGEM_PAYMENT_GATEWAY_URL: 'https://payments.example.com/v1',
  BILHETAGEM_PAYMENT_GATEWAY_API_KEY: 'sk_test_example',
  BILHETAGEM_PAYMENT_WEBHOOK_SECRET: 'whsec_0123456789abcdef',
  BILHETAGEM_JWT_SECRET: 'x'.repeat(64),
};

test('conf/production.json needs exactly the variables the ECS task supplies', () => {
  const td = JSON.parse(fs.readFileSync(path.join(SRCDIR, 'deploy', 'ecs', 'task-definition.json'), 'utf8'));
  const c = td.containerDefinitions.find((x) => x.name === 'bilhetagem');
  assert.deepEqual(c.command, ['-c', '/etc/bilhetagem/production.json']);
  const supplied = new Set([...(c.environment || []), ...(c.secrets || [])].map((e) => e.name));
  const needed = requiredVars(PRODUCTION);
  assert.ok(needed.length >= 5, `found ${needed}`);
  for (const v of needed) assert.ok(supplied.has(v), `the task definition does not supply ${v}`);
  for (const s of c.secrets) assert.match(s.valueFrom, /^arn:aws:(secretsmanager|ssm):\$\{AWS_REGION\}:\$\{AWS_ACCOUNT_ID\}:/);
  for (const v of needed) assert.ok(v in SAMPLE, `this test has no sample value for ${v}`);
});

test('both shipped configs pass bilhetagemd -t with their variables set', async () => {
  for (const file of [SHIPPED, PRODUCTION]) {
    const env = Object.fromEntries(requiredVars(file).map((v) => [v, SAMPLE[v]]));
    const res = await runBinary(['-t', '-c', file], { env: serverEnv(env) });
    assert.equal(res.code, 0, `${file}: ${res.stderr}`);
    assert.match(res.stderr, /test is successful/);
  }
});

test('a missing variable is a startup error naming the file, line and path', async () => {
  const env = Object.fromEntries(requiredVars(PRODUCTION).map((v) => [v, SAMPLE[v]]));
  env.BILHETAGEM_PAYMENT_WEBHOOK_SECRET = undefined;
  const res = await runBinary(['-t', '-c', PRODUCTION], { env: serverEnv(env) });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /production\.json:\d+: plugins\[\d\]\.config\.webhook_secret: environment variable BILHETAGEM_PAYMENT_WEBHOOK_SECRET is not set/);
});
