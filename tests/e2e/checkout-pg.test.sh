#!/bin/bash
# checkout-pg.test.sh - the end-to-end checkout (checkout.test.mjs) on a real
# PostgreSQL 15 that tests/pg.sh starts for the run and stops afterwards.
set -euo pipefail
: "${BH_BUILDDIR:?}" "${BH_SRCDIR:?}"
BH_TEST_DRIVERS=postgresql exec "$BH_SRCDIR/tests/pg.sh" run \
    node --test --test-reporter=spec "$BH_SRCDIR/tests/e2e/checkout.test.mjs"
