TEST_DEPS_test_wal = daemon/wal.o daemon/metrics.o daemon/util.o daemon/log.o
