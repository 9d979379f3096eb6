TEST_DEPS_test_store = daemon/store.o daemon/store_audit.o daemon/store_env.o daemon/wal.o daemon/metrics.o daemon/store_v1.o daemon/seal.o gen/store.pb-c.o daemon/util.o daemon/log.o
