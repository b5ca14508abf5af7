# plugins/invoice/local.mk - included by the top Makefile.am: the invoice plugin,
# its unit tests and its integration tests.

# The SDK-free half (text, totals, HTML, schema), linked again into
# tests/unit/test_invoice; the rest makes SDK calls.
INVOICE_CORE_SRC = plugins/invoice/invoice.h plugins/invoice/buf.c plugins/invoice/format.c \
	plugins/invoice/totals.c plugins/invoice/html.c plugins/invoice/schema.c
plugin_PROGRAMS += plugins/invoice.so
plugins_invoice_so_SOURCES = $(INVOICE_CORE_SRC) plugins/invoice/store.c \
	plugins/invoice/issue.c plugins/invoice/routes.c plugins/invoice/invoice.c
plugins_invoice_so_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_invoice_so_CFLAGS = $(PLUGIN_CFLAGS)
plugins_invoice_so_LDFLAGS = $(PLUGIN_LINK)
plugins_invoice_so_LDADD = $(JANSSON_LIBS)

# Unit test: numbers, money, HTML escaping and rendering, totals, and the
# schema's UNIQUE (kind, payment_id) and number allocator on a real SQLite.
check_PROGRAMS += tests/unit/test_invoice
TESTS += tests/unit/test_invoice
tests_unit_test_invoice_SOURCES = tests/unit/test_invoice.c $(INVOICE_CORE_SRC)
tests_unit_test_invoice_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/plugins/invoice \
	$(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_invoice_CFLAGS = $(AM_CFLAGS)
tests_unit_test_invoice_LDADD = $(JANSSON_LIBS) $(SQLITE_LIBS) $(CUNIT_LIBS)

# Integration tests: the checkout plugins end to end, on SQLite and PostgreSQL.
TESTS += tests/integration/invoice.test.mjs tests/integration/invoice-pg.test.sh
EXTRA_DIST += tests/integration/invoice.test.mjs tests/integration/invoice-pg.test.sh
