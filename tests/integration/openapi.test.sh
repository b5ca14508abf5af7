#!/bin/bash
# openapi.test.sh - the served OpenAPI document passes `redocly lint` (the
# npm package @redocly/cli from tests/package.json), and names every route
# the loaded plugins registered.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "${BH_SRCDIR:?}/tests/integration/lib.sh"
modules=${BH_NODE_MODULES:-$BH_SRCDIR/tests/node_modules}
redocly=$modules/.bin/redocly
[ -x "$redocly" ] || fail "$redocly missing: run npm ci in tests/ (scripts/quickstart.sh test does)"

BILHETAGEM_PLUGIN_DIR=$BH_BUILDDIR/plugins BH_TEST_PLUGINS=$BH_BUILDDIR/tests/plugins \
BILHETAGEM_DATA_DIR=$tmp/var start_server "$BH_BUILDDIR/bilhetagemd" \
    -c "$BH_SRCDIR/conf/test.json" --listen 127.0.0.1:0
curl -sf "http://$listen/openapi.json" -o "$tmp/openapi.json" || fail "GET /openapi.json"
for path in '"/hello/{name}"' '"/healthz"' '"/test/items/{id}"' '"/test/echo"'; do
    grep -q "$path" "$tmp/openapi.json" || fail "openapi.json lacks $path"
done
cat >"$tmp/redocly.yaml" <<'YAML'
extends:
  - recommended
YAML
cd "$tmp"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    "$redocly" lint --config "$tmp/redocly.yaml" "$tmp/openapi.json" 2>&1 | tee "$tmp/lint.log"
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || fail "redocly lint found errors"
echo "PASS: /openapi.json passes redocly lint"
