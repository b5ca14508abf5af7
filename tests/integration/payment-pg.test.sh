#!/bin/bash
# payment-pg.test.sh - tests/integration/payment.test.mjs again, on a real
# PostgreSQL 15 that tests/pg.sh starts and stops around it.
set -euo pipefail
: "${BH_BUILDDIR:?}" "${BH_SRCDIR:?}"
BH_TEST_DRIVERS=postgresql exec "$BH_SRCDIR/tests/pg.sh" run node --test --test-reporter=spec \
    "$BH_SRCDIR/tests/integration/payment.test.mjs"
