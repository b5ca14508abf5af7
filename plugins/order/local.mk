# plugins/order/local.mk - included by the top Makefile.am: the order plugin,
# its unit tests and its integration tests.
