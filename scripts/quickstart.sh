#!/bin/bash
# quickstart.sh - the README's two commands.
#
#   ./scripts/quickstart.sh run    install what is missing, build, seed the
#                                  demo catalog into an empty database, print
#                                  a customer and an admin token, start the
#                                  server on the embedded default config
#   ./scripts/quickstart.sh test   install what is missing, build, run every
#                                  test: the normal build, the sanitizer build,
#                                  `make lint`, a clang build, the coverage
#                                  threshold, a fuzz smoke run and
#                                  `make distcheck` (docs/quality.md)
#   ./scripts/quickstart.sh deps   install what is missing, nothing else
#                                  (the CI workflow's jobs start with it)
#
# Needs Debian 12 and root (or sudo) only to apt-get missing packages.
# BH_FUZZ_SECONDS (default 5) is the fuzz smoke run's time per target.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
jobs=$(nproc 2>/dev/null || echo 2)

build_packages=(build-essential autoconf automake pkg-config
    libevent-dev libjansson-dev libpcre2-dev libjwt-dev libcunit1-dev
    libsqlite3-dev libssl-dev libcurl4-openssl-dev libpq-dev)
test_packages=(curl jq nginx-light procps postgresql-15 postgresql-client-15 sqlite3)
# make lint, the clang build and make fuzz, make coverage
quality_packages=(clang-format cppcheck shellcheck clang libclang-rt-14-dev lcov)

say() { printf '\033[1m==> [%4ss] %s\033[0m\n' "$SECONDS" "$*" >&2; }

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
        (cd "$dir" && { "$here/configure" -q "$@" 2>&1 | grep -v "cannot remove 'core'" || true; })
        [ -f "$dir/Makefile" ] || { echo "configure failed in $dir" >&2; exit 1; }
    fi
    say "make ($dir)"
    make -C "$dir" -j"$jobs" >/dev/null
}

# The default config reads two secrets from the environment: the auth
# plugin's token key (BILHETAGEM_JWT_SECRET, hs256 mode) and the payment
# webhook's HMAC key (BILHETAGEM_PAYMENT_WEBHOOK_SECRET).  When one is unset,
# use the one kept in the data directory (never in the repository),
# generating it the first time.
# secret VAR FILE
secret() {
    local var=$1 file=$BILHETAGEM_DATA_DIR/$2
    [ -n "${!var:-}" ] && return 0
    mkdir -p "$BILHETAGEM_DATA_DIR"
    if [ ! -s "$file" ]; then
        say "generating $var in $file"
        (
            umask 077
            if command -v openssl >/dev/null; then
                openssl rand -hex 32 >"$file.new"
            else
                head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file.new"
            fi
            mv "$file.new" "$file"
        )
    fi
    chmod 600 "$file"
    printf -v "$var" '%s' "$(cat "$file")"
    export "${var?}"
}

# Two tokens to try the API with, minted exactly as the server checks them.
print_tokens() {
    local ctl=$here/build/bilhetagemctl conf=$here/conf/bilhetagem.json customer admin
    customer=$("$ctl" token -c "$conf" --sub customer --email customer@example.com --ttl 12h)
    admin=$("$ctl" token -c "$conf" --sub admin --groups admin --ttl 12h)
    say "tokens, valid 12 h (more: build/bilhetagemctl token -c conf/bilhetagem.json --sub NAME)"
    printf 'CUSTOMER_TOKEN=%s\nADMIN_TOKEN=%s\n' "$customer" "$admin"
}

cmd_run() {
    install_missing "${build_packages[@]}" curl jq
    build build --enable-werror
    export BILHETAGEM_DATA_DIR=${BILHETAGEM_DATA_DIR:-$here/var}
    export BILHETAGEM_PLUGIN_DIR=$here/build/plugins
    secret BILHETAGEM_JWT_SECRET jwt-secret
    secret BILHETAGEM_PAYMENT_WEBHOOK_SECRET webhook-secret
    say "seeding the demo catalog (only into an empty database)"
    "$here/build/bilhetagemctl" seed -c "$here/conf/bilhetagem.json"
    print_tokens
    say "starting bilhetagemd (data in $BILHETAGEM_DATA_DIR); Ctrl-C stops it"
    exec "$here/build/bilhetagemd" -c "$here/conf/bilhetagem.json" "$@"
}

run_suite() {
    local dir=$1
    say "make check ($dir)"
    if ! make -C "$dir" -j"$jobs" check >/dev/null 2>&1; then
        { grep -rlE --include='*.log' "^(FAIL|ERROR)" "$dir/tests" 2>/dev/null || true; } |
            while IFS= read -r log; do
                echo "---- $log" >&2
                tail -n 80 "$log" >&2
            done
        grep -hE "^(FAIL|ERROR):" "$dir/test-suite.log" >&2 || true
        [ -f "$dir/test-suite.log" ] ||
            make -C "$dir" -j"$jobs" check 2>&1 | grep -E "error|Error" | head -n 20 >&2 || true
        echo "tests failed in $dir" >&2
        exit 1
    fi
    grep -E "^# (TOTAL|PASS|FAIL|ERROR)" "$dir/test-suite.log" >&2 || true
}

# quiet MAKE-TARGET DIR [make args...]: run it, show its output only on failure.
quiet() {
    local what=$1 dir=$2 log
    shift 2
    log=$(mktemp)
    if ! make -C "$dir" "$@" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        rm -f "$log"
        echo "$what failed; run it in $dir to see why" >&2
        exit 1
    fi
    rm -f "$log"
}

cmd_deps() {
    install_missing "${build_packages[@]}" "${test_packages[@]}" "${quality_packages[@]}"
    need_node
}

cmd_test() {
    cmd_deps
    build build --enable-werror
    run_suite build
    build build-asan --enable-werror --enable-sanitizers
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} run_suite build-asan
    say "make lint (clang-format, cppcheck, shellcheck)"
    quiet "make lint" build lint
    # the second compiler: every warning an error, the whole suite again
    build build-clang --enable-werror CC=clang
    run_suite build-clang
    say "make coverage (threshold in Makefile.am)"
    # -Werror here too: at -O0 gcc's truncation checks see other ranges
    build build-cov --enable-werror --enable-coverage
    quiet "make coverage" build-cov -j"$jobs" coverage
    sed -n 's/^ *lines\.*: */line coverage of core\/ and plugins\/: /p' build-cov/coverage/summary.txt >&2
    say "make fuzz (${BH_FUZZ_SECONDS:-5} s a target)"
    quiet "make fuzz" build fuzz FUZZ_SECONDS="${BH_FUZZ_SECONDS:-5}"
    say "make distcheck"
    if ! make -C build -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
        >build/distcheck.log 2>&1; then
        # the failing tests' logs are in the unpacked tarball's build
        grep -hE "^(FAIL|ERROR):" build/distcheck.log >&2 || tail -n 40 build/distcheck.log >&2
        { grep -rlE --include='*.log' "^(FAIL|ERROR)" build/bilhetagem-*/_build 2>/dev/null || true; } |
            grep -v 'test-suite.log' | while IFS= read -r log; do
                echo "---- $log" >&2
                tail -n 60 "$log" >&2
            done
        echo "make distcheck failed (build/distcheck.log)" >&2
        exit 1
    fi
    say "all tests passed"
}

case "${1:-}" in
run) shift; cmd_run "$@" ;;
test) shift; cmd_test "$@" ;;
deps) shift; cmd_deps "$@" ;;
*) echo "usage: $0 run|test|deps" >&2; exit 2 ;;
esac
