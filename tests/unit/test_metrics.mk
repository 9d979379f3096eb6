TEST_DEPS_test_metrics = daemon/metrics.o
