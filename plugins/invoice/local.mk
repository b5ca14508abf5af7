# plugins/invoice/local.mk - included by the top Makefile.am: the invoice plugin,
# its unit tests and its integration tests.
