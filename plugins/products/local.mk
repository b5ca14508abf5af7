# plugins/products/local.mk - included by the top Makefile.am: the products plugin,
# its unit tests and its integration tests.
