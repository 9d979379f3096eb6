TEST_DEPS_test_consent = daemon/consent.o daemon/util.o
