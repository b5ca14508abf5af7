# plugins/payment/local.mk - included by the top Makefile.am: the payment plugin,
# its unit tests and its integration tests.
