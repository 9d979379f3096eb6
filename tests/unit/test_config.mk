TEST_DEPS_test_config = daemon/config.o daemon/util.o daemon/log.o
