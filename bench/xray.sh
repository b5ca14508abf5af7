#!/bin/bash
# xray.sh - what tracing costs a request when no X-Ray daemon listens.
#
# Three bilhetagemd, one worker each, the same GET /healthz under wrk:
#   off      no xray-tracing plugin
#   default  xray-tracing with the default rule (1/s then 5%), daemon
#            address pointing at a UDP port nothing listens on
#   all      xray-tracing sampling every request (fixed_target 0, rate 1):
#            a segment built, serialized and sent per request, to nowhere
# wrk runs -t1 -c${CONNS} -d${DURATION}s --latency RUNS times against each,
# alternating; the script prints the median requests/s, p50 and p99 and the
# ratios to "off".  Loopback only; every run is bounded by -d.  This is the
# issue's "request latency is unchanged with the daemon address pointing
# nowhere" check: a benchmark to read, not a timed test.
#
#   bench/xray.sh [BUILD_DIR]      (default: ./build, else .)
# Needs: wrk (apt-get install wrk), curl, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
[ -x "$build/bilhetagemd" ] || build=$here
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }

tmp=$(mktemp -d)
# start() runs in a command substitution (a subshell): each server's pid
# goes to a file, so that cleanup finds them all.
cleanup() {
    local f
    for f in "$tmp"/*.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_$1);s.bind(('127.0.0.1',0));print(s.getsockname()[1])"; }

wait_port() {
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not come up" >&2
    return 1
}

nowhere=127.0.0.1:$(free_port DGRAM) # bound and released: nothing listens there

# start NAME PLUGINS_JSON -> the port
start() {
    local name=$1 plugins=$2 port
    port=$(free_port STREAM)
    cat >"$tmp/$name.json" <<JSON
{
  "server": { "listen": "127.0.0.1:$port", "workers": 1 },
  "log": { "level": "info", "access_log": true, "file": "$tmp/$name-access.log" },
  "data_dir": "$tmp/var-$name",
  "plugins": $plugins
}
JSON
    AWS_XRAY_DAEMON_ADDRESS=$nowhere BILHETAGEM_PLUGIN_DIR="$build/plugins" \
        "$build/bilhetagemd" -c "$tmp/$name.json" >/dev/null 2>"$tmp/$name.err" &
    echo $! >"$tmp/$name.pid"
    echo "$port"
}

off_port=$(start off '[]')
def_port=$(start default '[{ "name": "xray-tracing" }]')
all_port=$(start all '[{ "name": "xray-tracing", "config": { "sampling": { "fixed_target": 0, "rate": 1 } } }]')
for p in "$off_port" "$def_port" "$all_port"; do wait_port "$p"; done

to_us() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v}
    else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else {sub(/s$/,"",v); print v*1000000}}'; }
run_wrk() {
    local out rps p50 p99
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$1/healthz")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_us)
    p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_us)
    echo "$rps $p50 $p99"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for p in "$off_port" "$def_port" "$all_port"; do # warm-up
    wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$p/healthz" >/dev/null
done
: >"$tmp/off.res"
: >"$tmp/default.res"
: >"$tmp/all.res"
for _ in $(seq 1 "$RUNS"); do
    run_wrk "$off_port" >>"$tmp/off.res"
    run_wrk "$def_port" >>"$tmp/default.res"
    run_wrk "$all_port" >>"$tmp/all.res"
done

col() { awk -v c="$2" '{print $c}' "$tmp/$1.res" | median; }
printf '%-8s %12s %10s %10s\n' server 'req/s' 'p50 us' 'p99 us'
for s in off default all; do
    printf '%-8s %12s %10s %10s\n' "$s" "$(col "$s" 1)" "$(col "$s" 2)" "$(col "$s" 3)"
done
base=$(col off 1)
for s in default all; do
    awk -v a="$(col "$s" 1)" -v b="$base" -v s="$s" 'BEGIN {printf "%s / off: %.3f of the requests/s\n", s, a / b}'
done
# the traced servers really traced: their access lines carry trace ids
grep -q '"trace_id"' "$tmp/all-access.log" || { echo "the 'all' server wrote no trace ids" >&2; exit 1; }
