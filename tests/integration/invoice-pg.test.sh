#!/bin/bash
# invoice-pg.test.sh - invoice.test.mjs against a real PostgreSQL 15 that
# tests/pg.sh starts for the run and stops whatever happens: invoice numbers
# stay gapless and unique with concurrent issuers on PostgreSQL too.
set -euo pipefail
: "${BH_BUILDDIR:?}" "${BH_SRCDIR:?}"
BH_TEST_DRIVERS=postgresql exec "$BH_SRCDIR/tests/pg.sh" run \
    node --test --test-reporter=spec "$BH_SRCDIR/tests/integration/invoice.test.mjs"
