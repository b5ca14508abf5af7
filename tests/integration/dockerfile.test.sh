#!/bin/bash
# dockerfile.test.sh - what matters in the Dockerfile, checked without a
# Docker engine (none runs here; the deploy workflow builds the image):
# `dockerfilelint` passes (npm, tests/package.json); two stages, building on
# debian:12 and running on debian:12-slim; the runtime stage installs no
# compiler and no -dev package, yet every shared library that bilhetagemd,
# bilhetagemctl and the plugins of this build link directly; a non-root
# USER before the command; HEALTHCHECK on /healthz; EXPOSE 8080; listening
# on 0.0.0.0 through BILHETAGEM_LISTEN; the data directory a VOLUME; the
# command runs bilhetagemd on the installed config.
set -euo pipefail
: "${BH_BUILDDIR:?}" "${BH_SRCDIR:?}"
modules=${BH_NODE_MODULES:-$BH_SRCDIR/tests/node_modules}
lint=$modules/.bin/dockerfilelint
dockerfile=$BH_SRCDIR/Dockerfile
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$dockerfile" ] || fail "$dockerfile missing"
[ -x "$lint" ] || fail "$lint missing: run npm ci in tests/ (scripts/quickstart.sh test does)"

"$lint" "$dockerfile" || fail "dockerfilelint found problems"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One instruction a line: comments dropped, continuations joined.
grep -v '^[[:space:]]*#' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
    sed -e 's/[[:space:]]\+/ /g' -e '/^ *$/d' >"$tmp/all"
[ "$(grep -c '^FROM ' "$tmp/all")" -eq 2 ] || fail "expected exactly two stages (build, runtime)"
grep -qx 'FROM debian:12 AS build' "$tmp/all" || fail "the build stage is not 'FROM debian:12 AS build'"
# the runtime stage: from the last FROM to the end
awk '/^FROM /{n++} n==2' "$tmp/all" >"$tmp/run"
[[ $(head -n1 "$tmp/run") == "FROM debian:12-slim"* ]] || fail "the runtime stage is not debian:12-slim"

# packages the runtime stage installs
sed -n 's/.*apt-get install \(.*\)/\1/p' "$tmp/run" | sed 's/&&.*//' | tr ' ' '\n' |
    grep -v '^-' | grep -v '^$' | sort -u >"$tmp/pkgs"
[ -s "$tmp/pkgs" ] || fail "the runtime stage installs no package (apt-get install ... not found)"
bad=$(grep -E -- '-dev$|^(gcc|g\+\+|cpp|clang|make|build-essential|autoconf|automake|libtool|pkg-config|binutils)(-[0-9.]+)?$' "$tmp/pkgs" || true)
[ -z "$bad" ] || fail "the runtime stage installs build tools: $bad"
grep -qE '(gcc|clang|make|/out/usr/include)' <(grep -E '^(RUN|COPY)' "$tmp/run") &&
    fail "the runtime stage runs a compiler or copies the SDK headers"

# every library our binaries link directly comes from a listed package (or
# libc6, which debian:12-slim has)
if command -v dpkg-query >/dev/null && command -v readelf >/dev/null; then
    bins=("$BH_BUILDDIR/bilhetagemd" "$BH_BUILDDIR/bilhetagemctl")
    for so in "$BH_BUILDDIR"/plugins/*.so; do [ -f "$so" ] && bins+=("$so"); done
    for b in "${bins[@]}"; do
        [ -x "$b" ] || [ -f "$b" ] || fail "$b not built"
        readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
    done | sort -u >"$tmp/needed"
    while read -r lib; do
        # (no early exit in these pipelines: a SIGPIPE would fail them under pipefail)
        path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !p { p = $NF } END { print p }')
        [ -n "$path" ] || continue
        pkg=$(dpkg-query -S "$(readlink -f "$path")" 2>/dev/null | sed -n '1s/:.*//p' || true)
        [ -n "$pkg" ] || pkg=$(dpkg-query -S "$path" 2>/dev/null | sed -n '1s/:.*//p' || true)
        [ -n "$pkg" ] || continue
        # libc6 is in every image; a sanitizer build links the sanitizers'
        # runtimes, which the image's plain build does not
        case $pkg in libc6 | libgcc-s1 | libasan[0-9]* | libubsan[0-9]* | liblsan[0-9]*) continue ;; esac
        grep -qx "$pkg" "$tmp/pkgs" || fail "$lib (package $pkg) is linked but not installed in the runtime stage"
    done <"$tmp/needed"
fi

# non-root, before the command
user=$(sed -n 's/^USER \([^: ]*\).*/\1/p' "$tmp/run" | tail -n1)
[ -n "$user" ] || fail "no USER in the runtime stage: the server would run as root"
case $user in root | 0) fail "USER is $user" ;; esac
awk '/^USER /{u=NR} /^(CMD|ENTRYPOINT) /{c=NR} END{exit !(u && u < c)}' "$tmp/run" ||
    fail "USER must come before ENTRYPOINT/CMD"

grep -q '^HEALTHCHECK .*CMD .*/healthz' "$tmp/run" || fail "no HEALTHCHECK on /healthz"
if grep -q '^HEALTHCHECK .*CMD curl' "$tmp/run"; then
    grep -qx curl "$tmp/pkgs" || fail "the HEALTHCHECK runs curl, which the runtime stage does not install"
fi
grep -qE '^EXPOSE 8080( |$)' "$tmp/run" || fail "no EXPOSE 8080"
grep -qE '^ENV .*BILHETAGEM_LISTEN=0\.0\.0\.0:8080' "$tmp/run" ||
    fail "BILHETAGEM_LISTEN is not 0.0.0.0:8080"
grep -qE '^VOLUME .*/var/lib/bilhetagem' "$tmp/run" || fail "the data directory is not a VOLUME"
grep -qE '^ENV .*BILHETAGEM_DATA_DIR=/var/lib/bilhetagem' "$tmp/run" ||
    fail "BILHETAGEM_DATA_DIR does not point at the volume"
grep -qx 'ENTRYPOINT \["/usr/bin/bilhetagemd"\]' "$tmp/run" || fail "ENTRYPOINT is not bilhetagemd"
grep -qx 'CMD \["-c", "/etc/bilhetagem/bilhetagem.json"\]' "$tmp/run" ||
    fail "CMD is not -c /etc/bilhetagem/bilhetagem.json"
grep -q '^COPY --from=build /out/etc/bilhetagem /etc/bilhetagem' "$tmp/run" ||
    fail "the config the CMD names is not copied into the image"
echo "PASS: Dockerfile: lint clean, slim non-root runtime with a health check"
