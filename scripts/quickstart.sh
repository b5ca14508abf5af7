#!/bin/bash
# quickstart.sh - the README's two commands.
#
#   ./scripts/quickstart.sh run    install what is missing, build, start the
#                                  server on the embedded default config
#   ./scripts/quickstart.sh test   install what is missing, build, run every
#                                  test: the normal build, the sanitizer build,
#                                  and `make distcheck`
#
# Needs Debian 12 and root (or sudo) only to apt-get missing packages.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
jobs=$(nproc 2>/dev/null || echo 2)

build_packages=(build-essential autoconf automake pkg-config
    libevent-dev libjansson-dev libpcre2-dev libjwt-dev libcunit1-dev
    libsqlite3-dev libssl-dev libcurl4-openssl-dev libpq-dev)
test_packages=(curl procps postgresql-15 postgresql-client-15 sqlite3)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

install_missing() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    local sudo=
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Node.js runs the integration tests and the npm tools in tests/package.json.
need_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        install_missing nodejs npm
    fi
    say "npm ci (tests/)"
    (cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    export BH_NODE_MODULES=$here/tests/node_modules
}

# build DIR [configure flags...]: an out-of-tree build, configured once.
build() {
    local dir=$1; shift
    [ -x configure ] || { say "autoreconf"; autoreconf -fi >/dev/null 2>&1; }
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ]; then
        say "configure $dir $*"
        (cd "$dir" && "$here/configure" -q "$@" 2>&1 | grep -v "cannot remove 'core'" || true)
        [ -f "$dir/Makefile" ] || { echo "configure failed in $dir" >&2; exit 1; }
    fi
    say "make ($dir)"
    make -C "$dir" -j"$jobs" >/dev/null
}

cmd_run() {
    install_missing "${build_packages[@]}" curl
    build build --enable-werror
    export BILHETAGEM_DATA_DIR=${BILHETAGEM_DATA_DIR:-$here/var}
    export BILHETAGEM_PLUGIN_DIR=$here/build/plugins
    say "starting bilhetagemd (data in $BILHETAGEM_DATA_DIR); Ctrl-C stops it"
    exec "$here/build/bilhetagemd" -c "$here/conf/bilhetagem.json" "$@"
}

run_suite() {
    local dir=$1
    say "make check ($dir)"
    if ! make -C "$dir" -j"$jobs" check >/dev/null 2>&1; then
        for log in $(grep -l -E "^(FAIL|ERROR)" $(find "$dir/tests" -name '*.log') 2>/dev/null); do
            echo "---- $log" >&2
            tail -n 80 "$log" >&2
        done
        grep -hE "^(FAIL|ERROR):" "$dir/test-suite.log" >&2 || true
        echo "tests failed in $dir" >&2
        exit 1
    fi
    grep -E "^# (TOTAL|PASS|FAIL|ERROR)" "$dir/test-suite.log" >&2 || true
}

cmd_test() {
    install_missing "${build_packages[@]}" "${test_packages[@]}"
    need_node
    build build --enable-werror
    run_suite build
    build build-asan --enable-werror --enable-sanitizers
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} run_suite build-asan
    say "make distcheck"
    make -C build -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >/dev/null 2>&1 ||
        { echo "make distcheck failed; run it in build/ to see why" >&2; exit 1; }
    say "all tests passed"
}

case "${1:-}" in
run) shift; cmd_run "$@" ;;
test) shift; cmd_test "$@" ;;
*) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
