# plugins/order/local.mk - included by the top Makefile.am: the order plugin,
# its unit tests and its integration tests.

# ORDER_PURE_SRC makes no SDK call but bh_json_pointer: linked again into
# tests/unit/test_order with $(SDK_PURE_SRC) alone.
ORDER_PURE_SRC = plugins/order/order.h plugins/order/state.c plugins/order/pricing.c \
	plugins/order/request.c plugins/order/sequence.c
plugin_PROGRAMS += plugins/order.so
plugins_order_so_SOURCES = $(ORDER_PURE_SRC) plugins/order/order_plugin.h \
	plugins/order/openapi.h plugins/order/openapi.c plugins/order/store.c \
	plugins/order/holds.c plugins/order/render.c plugins/order/service.c \
	plugins/order/routes.c plugins/order/tickets.c plugins/order/sweeper.c \
	plugins/order/order.c
plugins_order_so_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_order_so_CFLAGS = $(PLUGIN_CFLAGS)
plugins_order_so_LDFLAGS = $(PLUGIN_LINK)

# A test-only plugin standing in for payment/invoice: it calls the orders
# service over HTTP (plugins/order/fixture.c).  Built by `make check` only.
check_PROGRAMS += plugins/order_fixture.so
plugins_order_fixture_so_SOURCES = plugins/order/fixture.c
plugins_order_fixture_so_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_order_fixture_so_CFLAGS = $(PLUGIN_CFLAGS)
plugins_order_fixture_so_LDFLAGS = $(PLUGIN_LINK)

check_PROGRAMS += tests/unit/test_order
TESTS += tests/unit/test_order
tests_unit_test_order_SOURCES = tests/unit/test_order.c $(ORDER_PURE_SRC) $(SDK_PURE_SRC)
tests_unit_test_order_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/plugins/order \
	$(JANSSON_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_order_CFLAGS = $(AM_CFLAGS)
tests_unit_test_order_LDADD = $(JANSSON_LIBS) $(CUNIT_LIBS)

TESTS += tests/integration/order.test.mjs tests/integration/order-pg.test.sh
EXTRA_DIST += tests/integration/order.test.mjs tests/integration/order-pg.test.sh \
	docs/plugins/order.md
