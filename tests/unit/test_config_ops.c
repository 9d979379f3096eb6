/*
 * Unit tests for the operations settings of daemon/config.c: [server] user
 * and paths in systemd's credentials directory ("%d/...").
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char	tmpdir[PATH_MAX];
static char	conf_path[PATH_MAX + 32];

#define ORGS \
	"[store]\n" \
	"key = keys/store.key\n" \
	"[org burgers]\n" \
	"name = Burgers van Helmond\n" \
	"identifier = OIN:99990000000000000007\n" \
	"ca = ca/burgers.crt\n" \
	"roles = client, carer\n"

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config_ops.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/eenpland.conf", tmpdir);
	unsetenv("CREDENTIALS_DIRECTORY");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	unsetenv("CREDENTIALS_DIRECTORY");
	return rmdir(tmpdir);
}

/* [server] with key and extra lines, then one org; returns config_load's rc. */
static int
load(const char *key, const char *extra, struct config *cfg, char *err,
    size_t errlen)
{
	FILE *fp = fopen(conf_path, "w");

	assert_non_null(fp);
	fprintf(fp, "[server]\nlisten = 127.0.0.1:7443\ndata_dir = data\n"
	    "cert = tls/server.crt\nkey = %s\nca = ca/root.crt\n%s\n%s",
	    key, extra, ORGS);
	assert_int_equal(fclose(fp), 0);
	err[0] = '\0';
	return config_load(cfg, conf_path, err, errlen);
}

static void
test_credentials_dir(void **state)
{
	static struct config cfg;
	char err[1024];

	(void)state;
	/* By hand (-n, backup): the directory of eenpland.service. */
	assert_int_equal(load("%d/server.key", "", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.c_key_file,
	    "/run/credentials/eenpland.service/server.key");

	setenv("CREDENTIALS_DIRECTORY", "/run/credentials/eenpland@x.service",
	    1);
	assert_int_equal(load("%d/server.key", "", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.c_key_file,
	    "/run/credentials/eenpland@x.service/server.key");
	/* Other paths are as before: relative to the config file. */
	assert_non_null(strstr(cfg.c_cert_file, "/tls/server.crt"));
	assert_int_equal(load("keys/%d/x", "", &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(cfg.c_key_file, "/keys/%d/x"));

	/* A relative CREDENTIALS_DIRECTORY is not systemd's. */
	setenv("CREDENTIALS_DIRECTORY", "run/creds", 1);
	assert_int_equal(load("%d/server.key", "", &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CREDENTIALS_DIRECTORY"));
	assert_non_null(strstr(err, ":5: key"));
}

static void
test_user(void **state)
{
	static struct config cfg;
	char err[1024];

	(void)state;
	assert_int_equal(load("k", "", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.c_user, "");
	assert_int_equal(load("k", "user = eenplan", &cfg, err, sizeof(err)),
	    0);
	assert_string_equal(cfg.c_user, "eenplan");
	assert_int_equal(load("k", "user = root", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.c_user, "root");
	assert_int_equal(load("k", "user = _eenplan-d.1", &cfg, err,
	    sizeof(err)), 0);

	assert_int_equal(load("k", "user = eenplan daemon", &cfg, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "user"));
	assert_int_equal(load("k", "user = -x", &cfg, err, sizeof(err)), -1);
	assert_int_equal(load("k", "user = a/b", &cfg, err, sizeof(err)), -1);
	assert_int_equal(load("k", "user = "
	    "a234567890123456789012345678901234", &cfg, err, sizeof(err)), -1);
	assert_int_equal(load("k", "user = a\nuser = b", &cfg, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "set twice"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_credentials_dir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_user, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
