TEST_DEPS_test_client = client/eenplan_client.o client/cliopt.o client/cliout.o client/pbjson.o
