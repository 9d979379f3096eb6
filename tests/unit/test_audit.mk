TEST_DEPS_test_audit = daemon/audit.o daemon/store.o daemon/util.o daemon/log.o
