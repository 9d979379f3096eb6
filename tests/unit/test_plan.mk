TEST_DEPS_test_plan = daemon/plan.o daemon/consent.o daemon/util.o
