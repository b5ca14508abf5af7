#!/bin/bash
# openapi.test.sh - the served OpenAPI document passes `redocly lint` (the
# npm package @redocly/cli from tests/package.json), and names every route
# the loaded plugins registered: once for the test config (hello and the
# testkit), once for the shipped conf/bilhetagem.json (auth and the whole
# checkout: products, order, payment, invoice).
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "${BH_SRCDIR:?}/tests/integration/lib.sh"
modules=${BH_NODE_MODULES:-$BH_SRCDIR/tests/node_modules}
redocly=$modules/.bin/redocly
[ -x "$redocly" ] || fail "$redocly missing: run npm ci in tests/ (scripts/quickstart.sh test does)"
cat >"$tmp/redocly.yaml" <<'YAML'
extends:
  - recommended
YAML

# lint_config NAME CONFIG PATH...: start a server on CONFIG, fetch its
# document, check it names each PATH and passes the linter, stop the server.
lint_config() {
    local name=$1 config=$2 doc=$tmp/$1.json status p
    shift 2
    BILHETAGEM_PLUGIN_DIR=$BH_BUILDDIR/plugins BH_TEST_PLUGINS=$BH_BUILDDIR/tests/plugins \
        BILHETAGEM_DATA_DIR=$tmp/var-$name BILHETAGEM_JWT_SECRET=$(printf '%064d' 7) \
        BILHETAGEM_PAYMENT_WEBHOOK_SECRET=$(printf '%032d' 9) \
        start_server "$BH_BUILDDIR/bilhetagemd" -c "$config" --listen 127.0.0.1:0
    curl -sf "http://$listen/openapi.json" -o "$doc" || fail "$name: GET /openapi.json"
    kill "$pid"
    wait "$pid" || true
    pid=
    for p in "$@"; do
        grep -q "\"$p\"" "$doc" || fail "$name: openapi.json lacks $p"
    done
    (cd "$tmp" && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
        "$redocly" lint --config "$tmp/redocly.yaml" "$doc" 2>&1 | tee "$tmp/lint-$name.log"
        exit "${PIPESTATUS[0]}") || status=$?
    [ "${status:-0}" -eq 0 ] || fail "$name: redocly lint found errors"
}

lint_config test "$BH_SRCDIR/conf/test.json" '/hello/{name}' /healthz '/test/items/{id}' /test/echo
lint_config shipped "$BH_SRCDIR/conf/bilhetagem.json" /events '/events/{id}' '/products/{id}' \
    /orders '/orders/{id}/cancel' '/orders/{id}/tickets' /checkins '/orders/{id}/payments' \
    '/payments/{id}/refund' /payments/webhook '/invoices/{id}' '/orders/{id}/invoice'
echo "PASS: both documents pass redocly lint"
