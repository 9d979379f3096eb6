TEST_DEPS_test_client_sync = $(patsubst %.c,%.o,$(filter-out client/cli.c,$(wildcard client/*.c)))
