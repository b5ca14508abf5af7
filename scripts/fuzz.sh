#!/bin/bash
# fuzz.sh - build and run the libFuzzer targets of tests/fuzz/ (`make fuzz`).
#
#   scripts/fuzz.sh build   compile the core with clang and
#                           -fsanitize=fuzzer-no-link,address,undefined
#                           into BUILDDIR/fuzz/libbhfuzz.a, link each target
#                           with -fsanitize=fuzzer,address,undefined
#   scripts/fuzz.sh run     build, then run each target for FUZZ_SECONDS
#                           seconds on its seed corpus; a crash, a leak, a
#                           timeout or undefined behaviour fails the run and
#                           leaves the input in BUILDDIR/fuzz/artifacts/
#
# The Makefile sets the environment: BH_SRCDIR, BH_BUILDDIR, FUZZ_CC (clang),
# FUZZ_SECONDS, FUZZ_TARGETS, FUZZ_CORE_SOURCES (the core's sources, as in
# Makefile.am), FUZZ_DEPS_CFLAGS, FUZZ_DEPS_LIBS, FUZZ_PACKAGE_VERSION.  The core is built without
# the PostgreSQL driver: no target needs a server.  New inputs libFuzzer finds
# go to BUILDDIR/fuzz/corpus/TARGET, never into the source tree: copy one into
# tests/fuzz/TARGET/corpus/ by hand when it is worth keeping (a crash is,
# with the fix: `make check` replays every seed).
set -euo pipefail
: "${BH_SRCDIR:?}" "${BH_BUILDDIR:?}" "${FUZZ_TARGETS:?}" "${FUZZ_CORE_SOURCES:?}"
FUZZ_CC=${FUZZ_CC:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
src=$(cd "$BH_SRCDIR" && pwd)
out=$(mkdir -p "$BH_BUILDDIR/fuzz" && cd "$BH_BUILDDIR/fuzz" && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

say() { printf '%s\n' "fuzz: $*" >&2; }

command -v "$FUZZ_CC" >/dev/null ||
    { say "$FUZZ_CC not found: install the Debian packages clang and libclang-rt-14-dev"; exit 2; }

read -r -a deps_cflags <<<"${FUZZ_DEPS_CFLAGS:-}"
read -r -a deps_libs <<<"${FUZZ_DEPS_LIBS:-}"
san=("-fsanitize=address,undefined" -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
cflags=(-g -O1 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE
    "-DBH_PLUGIN_DIR=\"/nonexistent\"" "-DPACKAGE_VERSION=\"${FUZZ_PACKAGE_VERSION:-0}\""
    -I"$src/include" -I"$src/core" "${deps_cflags[@]}")

# Compile one core source into obj/ when it is newer than its object.
compile_one() {
    local c=$1 o
    o=$out/obj/$(basename "${c%.c}").o
    if [ ! -f "$o" ] || [ "$src/$c" -nt "$o" ] || [ -n "$(find "$src/core" "$src/include" \
        -name '*.h' -newer "$o" -print -quit)" ]; then
        "$FUZZ_CC" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer-no-link -c "$src/$c" -o "$o"
    fi
}

build() {
    mkdir -p "$out/obj"
    local sources=() c t
    for c in $FUZZ_CORE_SOURCES; do
        case $c in *.c) sources+=("$c") ;; esac
    done
    say "compiling ${#sources[@]} core sources with $FUZZ_CC"
    local pids=() rc=0 p
    for c in "${sources[@]}"; do
        compile_one "$c" &
        pids+=($!)
        if [ ${#pids[@]} -ge "$jobs" ]; then
            wait "${pids[0]}" || rc=1
            pids=("${pids[@]:1}")
        fi
    done
    for p in "${pids[@]}"; do
        wait "$p" || rc=1
    done
    [ "$rc" -eq 0 ] || { say "compiling the core failed"; exit 1; }
    rm -f "$out/libbhfuzz.a"
    ar cr "$out/libbhfuzz.a" "$out"/obj/*.o
    for t in $FUZZ_TARGETS; do
        # A target of a plugin's code names that code in the environment:
        # FUZZ_SOURCES_<t> (its sources, top-relative), FUZZ_CFLAGS_<t>
        # (include paths) and FUZZ_LIBS_<t> (what it links).
        local sv=FUZZ_SOURCES_$t cv=FUZZ_CFLAGS_$t lv=FUZZ_LIBS_$t extra=() xcf=() xlib=() f
        for f in ${!sv:-}; do
            case $f in *.c) extra+=("$src/$f") ;; esac
        done
        read -r -a xcf <<<"${!cv:-}"
        read -r -a xlib <<<"${!lv:-}"
        say "linking fuzz_$t"
        "$FUZZ_CC" "${cflags[@]}" "${xcf[@]}" "${san[@]}" -fsanitize=fuzzer -I"$src/tests/fuzz" \
            "$src/tests/fuzz/fuzz_$t.c" "${extra[@]}" "$out/libbhfuzz.a" "${xlib[@]}" \
            "${deps_libs[@]}" -ldl -lpthread -lm -o "$out/fuzz_$t"
    done
}

run() {
    local t failed=() log stats
    for t in $FUZZ_TARGETS; do
        mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
        log=$out/$t.log
        say "fuzz_$t for ${FUZZ_SECONDS}s (log: $log)"
        if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
            UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
            "$out/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
            "$out/corpus/$t" "$src/tests/fuzz/$t/corpus" >"$log" 2>&1; then
            stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n1 || true)
            say "fuzz_$t: ok ${stats:-}"
        else
            tail -n 40 "$log" >&2
            say "fuzz_$t FAILED: the input is in $out/artifacts/$t/"
            failed+=("$t")
        fi
    done
    [ ${#failed[@]} -eq 0 ] || { say "FAILED: ${failed[*]}"; exit 1; }
}

case ${1:-run} in
build) build ;;
run) build; run ;;
*) echo "usage: $0 build|run" >&2; exit 2 ;;
esac
