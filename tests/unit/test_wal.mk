TEST_DEPS_test_wal = daemon/wal.o daemon/util.o daemon/log.o
