#!/bin/bash
# coverage.sh - `make coverage`: the whole suite in a build configured with
# --enable-coverage (gcc --coverage -O0), line coverage of core/ and
# plugins/ collected with lcov, an HTML report, and a threshold.
#
#   BUILDDIR/coverage/lcov.info      core/ and plugins/ only (the CI artifact)
#   BUILDDIR/coverage/html/          genhtml's report: open index.html
#   BUILDDIR/coverage/summary.txt    the figure the threshold is checked on
#
# The Makefile sets BH_SRCDIR, BH_BUILDDIR, BH_COVERAGE (configure's
# answer), COVERAGE_THRESHOLD (a percentage of lines), MAKE.  Fails when the
# suite fails or when line coverage is below the threshold.
set -euo pipefail
: "${BH_SRCDIR:?}" "${BH_BUILDDIR:?}" "${COVERAGE_THRESHOLD:?}"
MAKE=${MAKE:-make}
say() { printf '%s\n' "coverage: $*" >&2; }

if [ "${BH_COVERAGE:-no}" != yes ]; then
    say "this build is not instrumented: configure it with --enable-coverage (a build of its own)"
    exit 2
fi
for tool in lcov genhtml; do
    command -v "$tool" >/dev/null || { say "$tool not found: apt-get install lcov"; exit 2; }
done
src=$(cd "$BH_SRCDIR" && pwd -P)
build=$(cd "$BH_BUILDDIR" && pwd -P)
out=$build/coverage
rm -rf "$out"
mkdir -p "$out"

say "zeroing counters"
lcov --quiet --zerocounters --directory "$build"
say "running the suite (make check)"
if ! "$MAKE" -C "$build" check >"$out/check.log" 2>&1; then
    grep -E "^(FAIL|ERROR)" "$out/check.log" >&2 || tail -n 40 "$out/check.log" >&2
    say "the suite failed: no coverage figure (see $out/check.log)"
    exit 1
fi

say "collecting"
lcov --quiet --capture --directory "$build" --base-directory "$build" \
    --output-file "$out/all.info" --rc lcov_branch_coverage=0 2>"$out/lcov.err" ||
    { cat "$out/lcov.err" >&2; exit 1; }
lcov --quiet --extract "$out/all.info" "$src/core/*" "$src/plugins/*" \
    --output-file "$out/lcov.info" --rc lcov_branch_coverage=0
genhtml --quiet --output-directory "$out/html" --prefix "$src" --title "bilhetagem: core/ and plugins/" \
    --legend "$out/lcov.info" >/dev/null
lcov --summary "$out/lcov.info" 2>&1 | tee "$out/summary.txt" >&2

# "lines......: 81.3% (4321 of 5314 lines)"
pct=$(sed -n 's/^ *lines\.*: *\([0-9.]*\)%.*/\1/p' "$out/summary.txt")
[ -n "$pct" ] || { say "no line figure in the lcov summary"; exit 1; }
{
    echo "files:"
    lcov --list "$out/lcov.info" --rc lcov_branch_coverage=0 2>/dev/null | sed "s|$src/||"
} >"$out/files.txt" || true
if awk -v p="$pct" -v t="$COVERAGE_THRESHOLD" 'BEGIN { exit !(p + 0 >= t + 0) }'; then
    say "line coverage of core/ and plugins/: ${pct}% (threshold ${COVERAGE_THRESHOLD}%): ok"
    say "report: $out/html/index.html"
else
    say "line coverage of core/ and plugins/: ${pct}% is below the threshold of ${COVERAGE_THRESHOLD}%"
    exit 1
fi
