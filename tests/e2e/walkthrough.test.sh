#!/bin/bash
# walkthrough.test.sh - README.md's "A first purchase in five minutes" runs
# as written, so it cannot rot: the block between the walkthrough markers is
# executed by bash (set -euo pipefail) in a directory laid out like the
# repository after `./scripts/quickstart.sh run` (build/, conf/, var/ with
# the two secrets), against a server started, seeded and stopped here, on the
# shipped conf/bilhetagem.json.  Only the server's address is changed: the
# block's first line, B=http://127.0.0.1:8080.  Then the test checks what the
# walkthrough promised: the order paid, an invoice whose lines and total
# agree with the order, one ticket per seat.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "${BH_SRCDIR:?}/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is missing (apt-get install jq; the quickstart installs it)"

w=$tmp/w
mkdir -p "$w/var"
ln -s "$BH_BUILDDIR" "$w/build"
ln -s "$BH_SRCDIR/conf" "$w/conf"
for f in jwt-secret webhook-secret; do
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$w/var/$f")
done

block=$(awk '/<!-- walkthrough:begin/ { on = 1; next } /<!-- walkthrough:end/ { on = 0 }
             on && /^```/ { fence = !fence; next } on && fence' "$BH_SRCDIR/README.md")
[ -n "$block" ] || fail "README.md has no walkthrough block"
grep -qx 'B=http://127.0.0.1:8080' <<<"$block" || fail "the walkthrough no longer starts with B=http://127.0.0.1:8080"

cd "$w"
export BILHETAGEM_PLUGIN_DIR=$BH_BUILDDIR/plugins
BILHETAGEM_JWT_SECRET=$(cat var/jwt-secret) BILHETAGEM_PAYMENT_WEBHOOK_SECRET=$(cat var/webhook-secret) \
    build/bilhetagemctl seed -c conf/bilhetagem.json >"$tmp/seed.log" 2>&1 || { cat "$tmp/seed.log" >&2; fail "seed"; }
BILHETAGEM_JWT_SECRET=$(cat var/jwt-secret) BILHETAGEM_PAYMENT_WEBHOOK_SECRET=$(cat var/webhook-secret) \
    start_server build/bilhetagemd -c conf/bilhetagem.json --listen 127.0.0.1:0

checks=$(cat <<'CHECKS'
# ---- what the walkthrough promised (appended by walkthrough.test.sh) ----
for _ in $(seq 1 100); do
    inv=$(curl -s "$B/orders/$ORDER/invoice" -H "$AUTH")
    [ "$(jq -r .kind <<<"$inv")" = invoice ] && break
    sleep 0.1
done
order=$(curl -s "$B/orders/$ORDER" -H "$AUTH")
[ "$(jq -r .status <<<"$order")" = paid ] || { echo "CHECK: order not paid: $order"; exit 1; }
[ "$(jq .total_cents <<<"$inv")" = "$(jq .total_cents <<<"$order")" ] || { echo "CHECK: invoice total"; exit 1; }
[ "$(jq '[.lines[].line_total_cents] | add' <<<"$inv")" = "$(jq .total_cents <<<"$order")" ] ||
    { echo "CHECK: the lines do not add up to the total"; exit 1; }
[ "$(jq -c '[.lines[] | [.kind, .quantity]]' <<<"$inv")" = '[["ticket",2],["product",2]]' ] ||
    { echo "CHECK: invoice lines: $inv"; exit 1; }
[ "$(curl -s "$B/orders/$ORDER/tickets" -H "$AUTH" | jq '[.items[] | select(.status == "valid")] | length')" = 2 ] ||
    { echo "CHECK: two valid tickets"; exit 1; }
echo "CHECKS PASSED"
CHECKS
)
script="${block/B=http:\/\/127.0.0.1:8080/B=http://$listen}
$checks"
if ! bash -euo pipefail -c "$script" >"$tmp/walk.log" 2>&1; then
    cat "$tmp/walk.log" >&2
    fail "the README walkthrough failed"
fi
cat "$tmp/walk.log"
grep -q '"status": "captured"' "$tmp/walk.log" || fail "the payment step did not show a capture"
grep -qx 'CHECKS PASSED' "$tmp/walk.log" || fail "checks did not run"
echo "PASS: the README walkthrough runs as written"
