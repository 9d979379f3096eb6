TEST_DEPS_test_store = daemon/store.o daemon/util.o daemon/log.o
