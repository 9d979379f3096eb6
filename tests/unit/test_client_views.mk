TEST_DEPS_test_client_views = $(patsubst %.c,%.o,$(filter-out client/cli.c,$(wildcard client/*.c)))
