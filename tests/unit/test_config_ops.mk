TEST_DEPS_test_config_ops = daemon/config.o daemon/util.o daemon/log.o
