#!/bin/bash
# sdk.test.sh - a plugin author's path, end to end: install the SDK into a
# temporary DESTDIR, build tests/sdk/greeter.c out of tree with nothing but
# `pkg-config --cflags --libs bilhetagem`, load it into the installed
# bilhetagemd and call its route over loopback.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
. "${BH_SRCDIR:?}/tests/integration/lib.sh"

${MAKE:-make} -C "$BH_BUILDDIR" install DESTDIR="$tmp/root" >/dev/null
pc=$(find "$tmp/root" -name bilhetagem.pc -print -quit)
[ -n "$pc" ] || fail "bilhetagem.pc was not installed"
bin=$(find "$tmp/root" -path '*/bin/bilhetagemd' -print -quit)
[ -x "$bin" ] || fail "bilhetagemd was not installed"
hello=$(find "$tmp/root" -path '*/bilhetagem/plugins/hello.so' -print -quit)
[ -n "$hello" ] || fail "hello.so is not in \$(pkglibdir)/plugins"
[ -f "$(dirname "$pc")/../../include/bilhetagem/bilhetagem.h" ] ||
    find "$tmp/root" -path '*/include/bilhetagem/bilhetagem.h' | grep -q . ||
    fail "SDK headers were not installed under \$(includedir)/bilhetagem"

PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR=$tmp/root
read -r -a flags <<<"$(pkg-config --cflags --libs bilhetagem)"
echo "pkg-config: ${flags[*]}"
# only the installed SDK: no -I into the source tree
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/greeter.so" "$BH_SRCDIR/tests/sdk/greeter.c" "${flags[@]}"

cat >"$tmp/greeter.json" <<JSON
{
  "server": { "listen": "127.0.0.1:0", "workers": 1 },
  "data_dir": "$tmp/var",
  "plugins": [ { "name": "greeter", "path": "$tmp/greeter.so" } ]
}
JSON
"$bin" -t -c "$tmp/greeter.json" 2>"$tmp/t.err" || { cat "$tmp/t.err" >&2; fail "-t refused the out-of-tree plugin"; }
grep -q "test is successful" "$tmp/t.err" || fail "-t did not report success"

start_server "$bin" -c "$tmp/greeter.json"
body=$(curl -sf "http://$listen/greetings/ana")
[ "$body" = '{"greeting":"Hi, ana"}' ] || fail "unexpected body: $body"
sent=$(curl -sf "http://$listen/greetings")
[ "$sent" = '{"sent":1}' ] || fail "event not delivered: $sent"
kill -TERM "$pid"
wait "$pid" || fail "server exited non-zero after SIGTERM"
pid=
echo "PASS: out-of-tree plugin built with pkg-config, loaded and served"
