#!/bin/bash
# checkout.sh - how many orders a node places per second, on each database.
#
# One bilhetagemd (server.workers = 2, the shipped checkout plugins, access
# log to a file) per run: on SQLite (synchronous full: every commit is on
# disk) and on a PostgreSQL 15 that tests/pg.sh starts for the run.  An admin
# creates an event with a million seats; wrk then sends POST /orders (one
# ticket, a fresh Idempotency-Key per request, two customers' tokens) with
# -t1 -c${CONNS} for ${DURATION}s, RUNS times, and the script prints the
# median orders/s, p50 and p99, and checks the database agrees: the seats
# held equal the 201 answers.  Loopback only; every run is bounded by -d.
#
#   bench/checkout.sh [BUILD_DIR]       (default: ./build, else .)
#   BH_BENCH_KEEP=1 keeps the temporary directory (configs, logs, the SQLite file).
# Needs: wrk, curl, jq, python3, PostgreSQL 15 (tests/pg.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
[ -x "$build/bilhetagemd" ] || build=$here
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
for t in wrk curl jq python3; do
    command -v "$t" >/dev/null || { echo "needs $t (apt-get install $t)" >&2; exit 2; }
done

tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -d "$tmp/pg" ] && "$here/tests/pg.sh" stop "$tmp/pg" >/dev/null 2>&1
    if [ -n "${BH_BENCH_KEEP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
chmod 755 "$tmp" # tests/pg.sh hands $tmp/pg to the postgres user under root

free_port() { python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])"; }
to_us() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v}
    else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else {sub(/s$/,"",v); print v*1000000}}'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

export BILHETAGEM_PLUGIN_DIR=$build/plugins
BILHETAGEM_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
BILHETAGEM_PAYMENT_WEBHOOK_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export BILHETAGEM_JWT_SECRET BILHETAGEM_PAYMENT_WEBHOOK_SECRET

# wrk: POST /orders with a new Idempotency-Key each time, alternating users.
cat >"$tmp/order.lua" <<'LUA'
local n = 0
local run = os.getenv("BH_RUN") -- one per wrk invocation: keys never repeat
local tokens = { os.getenv("BH_TOKEN_A"), os.getenv("BH_TOKEN_B") }
local body = '{"items": [{"ticket_type_id": "' .. os.getenv("BH_SEAT") .. '", "quantity": 1}]}'
request = function()
    n = n + 1
    return wrk.format("POST", "/orders", {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. tokens[n % 2 + 1],
        ["Idempotency-Key"] = string.format("bench-%s-%d", run, n),
    }, body)
end
LUA

# bench NAME STORAGE_JSON: one server, RUNS wrk runs; prints a result line.
bench() {
    local name=$1 storage=$2 port conf admin seat out res=()
    port=$(free_port)
    conf=$tmp/$name.json
    jq --argjson storage "$storage" --arg listen "127.0.0.1:$port" --arg log "$tmp/$name-access.log" \
        --arg data "$tmp/data-$name" '
        .server.listen = $listen | .server.workers = 2 | .log.file = $log
        | .rate_limit.enabled = false | .storage = $storage | .data_dir = $data
        | .plugins |= map(select(.name != "hello" and .name != "xray-tracing"))' \
        "$here/conf/bilhetagem.json" >"$conf"
    ctl() { "$build/bilhetagemctl" "$@"; }
    mkdir -p "$tmp/data-$name"
    "$build/bilhetagemd" -c "$conf" >/dev/null 2>"$tmp/$name.err" &
    pid=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
    admin=$(ctl token -c "$conf" --sub bench-admin --groups admin)
    seat=$(curl -sf -X POST "http://127.0.0.1:$port/events" -H "Authorization: Bearer $admin" \
        -H 'Content-Type: application/json' \
        -d '{"name": "Bench", "venue": "Loopback", "starts_at": "2035-01-01T20:00:00Z",
             "ticket_types": [{"name": "Pista", "price_cents": 1000, "capacity": 1000000}]}' |
        jq -r '.ticket_types[0].id')
    BH_TOKEN_A=$(ctl token -c "$conf" --sub bench-a)
    BH_TOKEN_B=$(ctl token -c "$conf" --sub bench-b)
    export BH_TOKEN_A BH_TOKEN_B BH_SEAT=$seat
    BH_RUN=$name-warmup wrk -t1 -c"$CONNS" -d2s -s "$tmp/order.lua" "http://127.0.0.1:$port" >/dev/null
    local created=0 r
    for r in $(seq 1 "$RUNS"); do
        out=$(BH_RUN=$name-$r wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$tmp/order.lua" "http://127.0.0.1:$port")
        res+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(awk '$1=="50%" {print $2}' <<<"$out" | to_us) $(awk '$1=="99%" {print $2}' <<<"$out" | to_us)")
        if grep -q "Non-2xx" <<<"$out"; then echo "$name: wrk saw non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
    done
    # wrk stops with requests still in flight: let them finish before reading
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/metrics" | grep -qx 'bilhetagem_http_requests_in_flight 1' && break
        sleep 0.1
    done
    held=$(curl -sf "http://127.0.0.1:$port/events" -H "Authorization: Bearer $admin" | jq '.items[0].ticket_types[0].held')
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid= # SIGTERM flushes the access log
    created=$(grep -c '"route":"/orders","status":201' "$tmp/$name-access.log" || true)
    [ "$held" = "$created" ] || { echo "$name: $held seats held but $created orders answered 201" >&2; exit 1; }
    col() { printf '%s\n' "${res[@]}" | awk -v c="$1" '{print $c}' | median; }
    printf '%-11s %10s %10s %10s %10s\n' "$name" "$(col 1)" "$(col 2)" "$(col 3)" "$created"
}

printf '%-11s %10s %10s %10s %10s\n' database 'orders/s' 'p50 us' 'p99 us' 'orders'
bench sqlite '{"driver": "sqlite", "path": "'"$tmp"'/data-sqlite/bench.db", "synchronous": "full"}'
dsn=$("$here/tests/pg.sh" start "$tmp/pg" 2>/dev/null)
bench postgresql '{"driver": "postgresql", "dsn": "'"$dsn"'"}'
