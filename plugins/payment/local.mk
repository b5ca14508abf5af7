# plugins/payment/local.mk - included by the top Makefile.am: the payment plugin,
# its unit tests and its integration tests.

# PAYMENT_CORE_SRC makes no SDK calls but the config readers: tests/unit/test_payment
# links it with those alone ($(SDK_PURE_SRC)).
PAYMENT_CORE_SRC = plugins/payment/payment.h plugins/payment/config.c \
	plugins/payment/retry.c plugins/payment/breaker.c plugins/payment/signature.c \
	plugins/payment/token.c plugins/payment/simulator.c plugins/payment/http_gw.c \
	plugins/payment/gateway.c plugins/payment/step.c plugins/payment/payid.c
PAYMENT_DEPS_CFLAGS = $(JANSSON_CFLAGS) $(LIBCURL_CFLAGS) $(OPENSSL_CFLAGS)
PAYMENT_DEPS_LIBS = $(LIBCURL_LIBS) $(OPENSSL_LIBS) $(JANSSON_LIBS) -lpthread

plugin_PROGRAMS += plugins/payment.so
plugins_payment_so_SOURCES = $(PAYMENT_CORE_SRC) plugins/payment/store.c \
	plugins/payment/settle.c plugins/payment/routes.c plugins/payment/webhook.c \
	plugins/payment/reconcile.c plugins/payment/openapi.c plugins/payment/traced.c \
	plugins/payment/payment.c
plugins_payment_so_CPPFLAGS = -I$(top_srcdir)/include $(PAYMENT_DEPS_CFLAGS)
plugins_payment_so_CFLAGS = $(PLUGIN_CFLAGS)
plugins_payment_so_LDFLAGS = $(PLUGIN_LINK)
plugins_payment_so_LDADD = $(PAYMENT_DEPS_LIBS)

check_PROGRAMS += tests/unit/test_payment
TESTS += tests/unit/test_payment
tests_unit_test_payment_SOURCES = tests/unit/test_payment.c $(PAYMENT_CORE_SRC) $(SDK_PURE_SRC)
tests_unit_test_payment_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/plugins/payment \
	$(PAYMENT_DEPS_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_payment_CFLAGS = $(AM_CFLAGS) -pthread
tests_unit_test_payment_LDADD = $(PAYMENT_DEPS_LIBS) $(CUNIT_LIBS)

PAYMENT_INTEGRATION = tests/integration/payment.test.mjs tests/integration/payment-pg.test.sh
TESTS += $(PAYMENT_INTEGRATION)
EXTRA_DIST += $(PAYMENT_INTEGRATION) tests/integration/gateway.mjs
