#!/bin/bash
# scaleout-pg.test.sh - two nodes behind nginx on one PostgreSQL 15
# (scaleout.test.mjs); tests/pg.sh starts the database and stops it.
set -euo pipefail
: "${BH_BUILDDIR:?}" "${BH_SRCDIR:?}"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] ||
    { echo "FAIL: nginx is missing (apt-get install nginx-light; the quickstart installs it)" >&2; exit 1; }
BH_TEST_DRIVERS=postgresql exec "$BH_SRCDIR/tests/pg.sh" run \
    node --test --test-reporter=spec "$BH_SRCDIR/tests/e2e/scaleout.test.mjs"
