TEST_DEPS_test_tls_ident = daemon/tls.o daemon/config.o daemon/util.o daemon/log.o
