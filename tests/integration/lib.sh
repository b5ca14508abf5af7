# shellcheck shell=bash
# lib.sh - shared by the shell integration tests (sourced, not run).
#
#   tmp        a temporary directory, removed on exit with any server started
#   fail MSG   print "FAIL: MSG" and exit 1
#   start_server CMD...   run CMD (a bilhetagemd) in the background with its
#              output in $tmp/out.log and $tmp/err.log, wait at most 10 s for
#              its "listening" line and set $listen (HOST:PORT) and $pid
: "${BH_BUILDDIR:?}" "${BH_SRCDIR:?}"
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

start_server() {
    "$@" >"$tmp/out.log" 2>"$tmp/err.log" &
    pid=$!
    listen=
    for _ in $(seq 1 100); do
        listen=$(grep -o '"listen":"[^"]*"' "$tmp/out.log" | head -1 | cut -d'"' -f4 || true)
        [ -n "$listen" ] && return 0
        sleep 0.1
    done
    cat "$tmp/err.log" >&2
    fail "server did not start"
}
