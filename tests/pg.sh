#!/bin/bash
# pg.sh - a throwaway PostgreSQL 15 for tests, from Debian's postgresql-15.
#
#   tests/pg.sh start DIR   initdb into DIR, start a server listening only on
#                           127.0.0.1 (a free port) with its unix socket in
#                           DIR, create the database "bilhetagem" and print
#                           its DSN on stdout (everything else: stderr)
#   tests/pg.sh stop DIR    stop that server and remove DIR
#   tests/pg.sh run CMD...  start one in a temporary directory, run CMD with
#                           BH_TEST_PG_DSN set, stop it whatever happened,
#                           exit with CMD's status (not skipped when
#                           PostgreSQL is missing: an untested driver fails)
#
# PostgreSQL refuses to run as root, so under root the cluster belongs to
# the `postgres` OS user (created by the package) and DIR is handed to it;
# DIR's parent directories must let that user through.  Authentication is
# `trust` on loopback only, and fsync is off: the data dies with the test.
#
# Exit status: 0; 1 on failure; 3 when PostgreSQL 15 is not installed (the
# message names the Debian packages to install).
set -euo pipefail

PG_BIN=${BH_PG_BIN:-/usr/lib/postgresql/15/bin}
MARK=.bilhetagem-pg
ME=tests/pg.sh

die() {
    echo "$ME: $*" >&2
    exit 1
}

missing() {
    echo "$ME: $* - install the Debian packages postgresql-15 and postgresql-client-15" \
        "(apt-get install postgresql-15)" >&2
    exit 3
}

is_root() { [ "$(id -u)" = 0 ]; }

# Run a server-side command as the cluster's owner.
as_pg() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

need_postgresql() {
    local b
    for b in initdb pg_ctl postgres psql; do
        [ -x "$PG_BIN/$b" ] || missing "$PG_BIN/$b not found"
    done
    if is_root && ! id postgres >/dev/null 2>&1; then
        missing "no \`postgres' OS user to run the server"
    fi
}

# Nothing accepts connections on 127.0.0.1:$1 (bash's /dev/tcp connect).
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Start the cluster in $1 on some free port; prints the port.
start_server() {
    local dir=$1 port opts
    for _ in $(seq 1 20); do
        port=$((20000 + RANDOM % 30000))
        port_free "$port" || continue
        opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir"
        opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        rm -f "$dir/server.log"  # pg_ctl creates it as the server's user
        if as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" \
            -w -t 60 -s start >&2; then
            echo "$port"
            return 0
        fi
        # another process took the port between the probe and the bind: retry
        grep -qs "could not bind\|could not create any TCP/IP sockets" "$dir/server.log" ||
            break
    done
    cat "$dir/server.log" >&2 2>/dev/null || true
    die "the PostgreSQL server in $dir did not start"
}

start() {
    local dir=$1 port
    need_postgresql
    # pg_ctl -o goes through a shell, and a unix socket path is short
    [[ $dir =~ ^[A-Za-z0-9/._-]+$ ]] || die "$dir: use only letters, digits and /._- in DIR"
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
        die "$dir exists and is not empty"
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ ${#dir} -le 80 ] || die "$dir: too long for a unix socket path (80 characters at most)"
    touch "$dir/$MARK"
    if is_root; then
        chown postgres: "$dir"
        chmod 700 "$dir"
    fi
    as_pg test -w "$dir" ||
        die "the postgres user cannot write $dir: make its parent directories searchable (chmod 755)"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    port=$(start_server "$dir")
    echo "$port" >"$dir/port"
    "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -c "CREATE DATABASE bilhetagem" >&2 ||
        die "could not create the database bilhetagem"
    echo "host=127.0.0.1 port=$port dbname=bilhetagem user=postgres"
}

stop() {
    local dir=$1
    [ -d "$dir" ] || return 0  # already gone
    # rm -rf only what start made
    [ -f "$dir/$MARK" ] || die "$dir was not made by '$ME start': not removing it"
    if [ -f "$dir/data/postmaster.pid" ]; then
        need_postgresql
        as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 -s stop >&2 ||
            as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -s stop >&2 ||
            die "could not stop the PostgreSQL server in $dir"
    fi
    rm -rf "$dir"
}

run() {
    local tmp dsn rc=0
    tmp=$(mktemp -d)
    chmod 755 "$tmp" # the server runs as the postgres user when we are root
    trap 'stop "$tmp/pg" || true; rm -rf "$tmp"' EXIT
    dsn=$(start "$tmp/pg") || {
        echo "FAIL: could not start PostgreSQL 15 (see above)" >&2
        exit 1
    }
    BH_TEST_PG_DSN=$dsn "$@" || rc=$?
    exit "$rc"
}

case "${1:-} ${2:+arg}" in
"start arg") start "$2" ;;
"stop arg") stop "$2" ;;
"run arg") shift; run "$@" ;;
*)
    echo "usage: $ME start DIR | $ME stop DIR | $ME run CMD..." >&2
    exit 1
    ;;
esac
