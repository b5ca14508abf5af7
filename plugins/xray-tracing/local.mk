# plugins/xray-tracing/local.mk - included by the top Makefile.am: the xray-tracing plugin,
# its unit tests and its integration tests.

# XRAY_CORE_SRC is everything but the glue (xray.c), linked again into
# tests/unit/test_xray.
XRAY_CORE_SRC = plugins/xray-tracing/xray.h plugins/xray-tracing/config.c \
	plugins/xray-tracing/sampling.c plugins/xray-tracing/ids.c \
	plugins/xray-tracing/segment.c plugins/xray-tracing/emit.c plugins/xray-tracing/emf.c
plugin_PROGRAMS += plugins/xray-tracing.so
plugins_xray_tracing_so_SOURCES = $(XRAY_CORE_SRC) plugins/xray-tracing/xray.c
plugins_xray_tracing_so_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_xray_tracing_so_CFLAGS = $(PLUGIN_CFLAGS) -pthread
plugins_xray_tracing_so_LDFLAGS = $(PLUGIN_LINK)
plugins_xray_tracing_so_LDADD = $(JANSSON_LIBS) -lpthread -lm

# test_xray links the plugin's sources but its glue, against the core (for
# the SDK's header parser and random bytes).
check_PROGRAMS += tests/unit/test_xray
TESTS += tests/unit/test_xray
tests_unit_test_xray_SOURCES = tests/unit/test_xray.c $(XRAY_CORE_SRC)
tests_unit_test_xray_CPPFLAGS = $(UNIT_CPPFLAGS) -I$(top_srcdir)/plugins/xray-tracing
tests_unit_test_xray_CFLAGS = $(UNIT_CFLAGS) -pthread
tests_unit_test_xray_LDFLAGS = $(UNIT_LINK)
tests_unit_test_xray_LDADD = $(UNIT_LDADD) -lm
tests_unit_test_xray_DEPENDENCIES = libbhcore.a

# Integration: a UDP listener checks every segment the plugin sends; the
# deploy files (dashboard, alarms, task definition, IAM policy) against the
# metric names the code emits.
TESTS += tests/integration/xray.test.mjs tests/integration/xray-pg.test.sh
EXTRA_DIST += tests/integration/xray.test.mjs tests/integration/xray-pg.test.sh \
	tests/integration/xray-daemon.mjs plugins/xray-tracing/local.mk \
	tests/fuzz/fuzz_trace_header.c bench/xray.sh
