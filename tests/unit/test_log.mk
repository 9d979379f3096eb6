TEST_DEPS_test_log = daemon/log.o daemon/util.o
