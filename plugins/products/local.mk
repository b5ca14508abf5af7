# plugins/products/local.mk - included by the top Makefile.am: the products plugin,
# its unit tests and its integration tests.

# products: the catalog (events, ticket types, add-ons) and the catalog
# service.  PRODUCTS_CORE_SRC is the pure validation, linked again into
# tests/unit/test_products.
PRODUCTS_CORE_SRC = plugins/products/products.h plugins/products/validate.c
plugin_PROGRAMS += plugins/products.so
plugins_products_so_SOURCES = $(PRODUCTS_CORE_SRC) plugins/products/products.c \
	plugins/products/schema.c plugins/products/catalog.c plugins/products/store.c \
	plugins/products/routes_common.c plugins/products/routes_events.c \
	plugins/products/routes_products.c plugins/products/openapi.c plugins/products/seed.c
plugins_products_so_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_products_so_CFLAGS = $(PLUGIN_CFLAGS)
plugins_products_so_LDFLAGS = $(PLUGIN_LINK)
plugins_products_so_LDADD = $(JANSSON_LIBS)

# test_products: the body validators, cursors and ids, without a server.  It
# links the core library only for bh_time_parse (RFC 3339).
check_PROGRAMS += tests/unit/test_products
TESTS += tests/unit/test_products
tests_unit_test_products_SOURCES = tests/unit/test_products.c $(PRODUCTS_CORE_SRC)
tests_unit_test_products_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/plugins/products \
	$(JANSSON_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_products_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_products_LDFLAGS = $(UNIT_LINK)
tests_unit_test_products_LDADD = $(UNIT_LDADD)
tests_unit_test_products_DEPENDENCIES = libbhcore.a

# Integration tests: SQLite, and the same file on PostgreSQL.
PRODUCTS_INTEGRATION_TESTS = tests/integration/products.test.mjs \
	tests/integration/products-pg.test.sh
TESTS += $(PRODUCTS_INTEGRATION_TESTS)
EXTRA_DIST += $(PRODUCTS_INTEGRATION_TESTS)

# A test fixture (never installed): the catalog-probe plugin calls the
# catalog service over HTTP for products.test.mjs's service tests.
check_PROGRAMS += tests/plugins/catalog_probe.so
tests_plugins_catalog_probe_so_SOURCES = plugins/products/probe.c
tests_plugins_catalog_probe_so_CPPFLAGS = $(PLUGIN_CPPFLAGS)
tests_plugins_catalog_probe_so_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_catalog_probe_so_LDFLAGS = $(PLUGIN_LINK)
