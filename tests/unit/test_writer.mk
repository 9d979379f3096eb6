TEST_DEPS_test_writer = daemon/writer.o daemon/audit.o daemon/store.o daemon/util.o daemon/log.o
