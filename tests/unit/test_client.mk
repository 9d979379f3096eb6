TEST_DEPS_test_client = $(patsubst %.c,%.o,$(filter-out client/cli.c,$(wildcard client/*.c)))
