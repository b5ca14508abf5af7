#!/bin/bash
# storage-drivers.test.sh - the driver suites of tests/unit/test_db, SQLite
# and a real PostgreSQL 15 that tests/pg.sh starts for the run and stops.
# (Named apart from storage.test.mjs: both would log to storage.test.log.)
set -euo pipefail
: "${BH_BUILDDIR:?}" "${BH_SRCDIR:?}"
exec "$BH_SRCDIR/tests/pg.sh" run "$BH_BUILDDIR/tests/unit/test_db"
