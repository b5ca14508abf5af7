#!/bin/bash
# replay.test.sh - every fuzz target over its seed corpus, without libFuzzer
# (tests/fuzz/replay.c), in whatever build `make check` runs: each input that
# once crashed a target stays in tests/fuzz/<target>/corpus/ as a regression
# test, checked under the sanitizers and counted by the coverage build.
set -euo pipefail
: "${BH_BUILDDIR:?}" "${BH_SRCDIR:?}"
targets=(config router json_body headers event jwt order trace_header)
for t in "${targets[@]}"; do
    corpus=$BH_SRCDIR/tests/fuzz/$t/corpus
    [ -d "$corpus" ] || { echo "FAIL: $corpus is missing" >&2; exit 1; }
    [ -n "$(ls -A "$corpus")" ] || { echo "FAIL: $corpus is empty" >&2; exit 1; }
    "$BH_BUILDDIR/tests/fuzz/replay_$t" "$corpus" ||
        { echo "FAIL: replay_$t on $corpus" >&2; exit 1; }
done
echo "PASS: ${#targets[@]} fuzz targets replayed their corpora"
