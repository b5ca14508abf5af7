#!/bin/bash
# healthz.sh - bilhetagemd vs nginx on the same tiny JSON answer.
#
# Both servers get one worker (wrk takes the machine's other core), keep-alive
# with no practical request cap, and one access-log line per request written
# to a file.  wrk runs -t1 -c64 -d${DURATION}s --latency, RUNS times against
# each, alternating; the script prints the median requests/s, p50 and p99 of
# each and the ratios.  Loopback only; every run is bounded by -d.
#
#   bench/healthz.sh [BUILD_DIR]      (default: ./build, else .)
# Needs: wrk, nginx, a C compiler and libevent-dev (apt-get install wrk nginx-light).
# A third server, bench/evhttp_floor.c (bare evhttp, no logging), shows the
# ceiling any evhttp-based server has on this machine.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
[ -x "$build/bilhetagemd" ] || build=$here
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "needs nginx (apt-get install nginx-light)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000)); }

wait_port() {
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not come up" >&2
    return 1
}

# ---- bilhetagemd: 1 worker, access log to a file ------------------------------
bh_port=$(free_port)
cat >"$tmp/bh.json" <<JSON
{
  "server": { "listen": "127.0.0.1:$bh_port", "workers": 1 },
  "log": { "level": "info", "access_log": true, "file": "$tmp/bh-access.log" },
  "data_dir": "$tmp/var",
  "plugins": []
}
JSON
"$build/bilhetagemd" -c "$tmp/bh.json" >/dev/null 2>"$tmp/bh.err" &
pids+=($!)

# ---- nginx: 1 worker, same body, JSON access log to a file --------------------
ng_port=$(free_port)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
    log_format json escape=json '{"time":"\$time_iso8601","request_id":"\$request_id",'
        '"method":"\$request_method","route":"\$uri","status":\$status,'
        '"duration_s":\$request_time,"bytes_in":\$request_length,"bytes_out":\$bytes_sent}';
    access_log $tmp/nginx-access.log json buffer=32k flush=100ms;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$ng_port;
        location = /healthz {
            default_type application/json;
            add_header X-Request-Id \$request_id;
            return 200 '{"status":"ok"}\n';
        }
    }
}
CONF
"$NGINX" -c "$tmp/nginx.conf" -e "$tmp/nginx/error.log" &
pids+=($!)
# ---- the evhttp floor: bare evhttp, same body, no logging ------------------------
fl_port=$(free_port)
read -r -a libevent_flags <<<"$(pkg-config --cflags --libs libevent)"
cc -O2 -o "$tmp/evhttp_floor" "$here/bench/evhttp_floor.c" "${libevent_flags[@]}"
"$tmp/evhttp_floor" "$fl_port" &
pids+=($!)
wait_port "$bh_port"
wait_port "$ng_port"
wait_port "$fl_port"

# wrk's --latency output: "Requests/sec: N" and "50% 1.23ms" lines.
to_us() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v}
    else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else {sub(/s$/,"",v); print v*1000000}}'; }
run_wrk() {
    local out
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$1/healthz")
    local rps p50 p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_us)
    p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_us)
    echo "$rps $p50 $p99"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$tmp/bh.res"
: >"$tmp/ng.res"
: >"$tmp/fl.res"
for p in "$bh_port" "$ng_port" "$fl_port"; do # warm-up
    wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$p/healthz" >/dev/null
done
for i in $(seq 1 "$RUNS"); do
    run_wrk "$bh_port" >>"$tmp/bh.res"
    run_wrk "$ng_port" >>"$tmp/ng.res"
    run_wrk "$fl_port" >>"$tmp/fl.res"
    echo "run $i: bilhetagemd $(tail -1 "$tmp/bh.res")  nginx $(tail -1 "$tmp/ng.res")" \
        " evhttp floor $(tail -1 "$tmp/fl.res")  (req/s p50_us p99_us)" >&2
done

col() { awk -v c="$2" '{print $c}' "$1" | median; }
bh_rps=$(col "$tmp/bh.res" 1); bh_p50=$(col "$tmp/bh.res" 2); bh_p99=$(col "$tmp/bh.res" 3)
ng_rps=$(col "$tmp/ng.res" 1); ng_p50=$(col "$tmp/ng.res" 2); ng_p99=$(col "$tmp/ng.res" 3)
fl_rps=$(col "$tmp/fl.res" 1); fl_p50=$(col "$tmp/fl.res" 2); fl_p99=$(col "$tmp/fl.res" 3)
bh_lines=$(wc -l <"$tmp/bh-access.log")
ng_lines=$(wc -l <"$tmp/nginx-access.log")

printf '\nGET /healthz, wrk -t1 -c%s -d%ss --latency, median of %s runs, 1 worker each\n' "$CONNS" "$DURATION" "$RUNS"
printf '%-12s %12s %10s %10s %14s\n' server "req/s" "p50 (us)" "p99 (us)" "access lines"
printf '%-12s %12.0f %10.0f %10.0f %14s\n' bilhetagemd "$bh_rps" "$bh_p50" "$bh_p99" "$bh_lines"
printf '%-12s %12.0f %10.0f %10.0f %14s\n' nginx "$ng_rps" "$ng_p50" "$ng_p99" "$ng_lines"
printf '%-12s %12.0f %10.0f %10.0f %14s\n' evhttp-floor "$fl_rps" "$fl_p50" "$fl_p99" "(no log)"
awk -v a="$bh_rps" -v b="$ng_rps" -v c="$bh_p99" -v d="$ng_p99" -v f="$fl_rps" \
    'BEGIN {printf "ratio        req/s %.2fx nginx (target >= 0.8x), p99 %.2fx nginx (target <= 2x)\n", a/b, c/d;
            printf "             bare evhttp reaches %.2fx nginx; bilhetagemd is %.2fx bare evhttp\n", f/b, a/f}'
