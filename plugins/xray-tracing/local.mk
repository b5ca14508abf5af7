# plugins/xray-tracing/local.mk - included by the top Makefile.am: the xray-tracing plugin,
# its unit tests and its integration tests.
