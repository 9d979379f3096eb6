/* Unit tests for daemon/config.c: values, defaults and every refusal. */
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
#include "wire.h"

#define ROLE_BIT(x)	(1u << EENPLAN__V1__ROLE__ROLE_##x)

static char	tmpdir[PATH_MAX];
static char	conf_path[PATH_MAX + 32];

#define SERVER \
	"[server]\n" \
	"listen = 127.0.0.1:7443\n" \
	"data_dir = data\n" \
	"cert = tls/server.crt\n" \
	"key = tls/server.key\n" \
	"ca = /etc/eenplan/ca/root.crt\n"

#define STORE \
	"[store]\n" \
	"key = keys/store.key\n"

#define ORGS \
	STORE \
	"[org gemeente]\n" \
	"name = Gemeente Helmond\n" \
	"identifier = OIN:99990000000000000001\n" \
	"ca = ca/gemeente.crt\n" \
	"roles = professional, system,auditor\n" \
	"\n" \
	"[org burgers]\n" \
	"name = Burgers van Helmond\n" \
	"identifier = OIN:99990000000000000007\n" \
	"ca = /etc/eenplan/ca/burgers.crt\n" \
	"roles = client, carer\n"

#define BASE	SERVER ORGS

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/eenpland.conf", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	return rmdir(tmpdir);
}

static void
write_conf(const char *text)
{
	FILE *fp = fopen(conf_path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int
lines_in(const char *s)
{
	int n = 0;

	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* Loads text; returns the result, err filled. */
static int
load(const char *text, struct config *cfg, char *err, size_t errlen)
{
	write_conf(text);
	err[0] = '\0';
	return config_load(cfg, conf_path, err, errlen);
}

/* text must fail with every one of the NULL-terminated needles in err. */
static void
expect_fail(const char *text, ...)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[1024];
	const char *needle;
	va_list ap;
	int rc;

	assert_non_null(cfg);
	rc = load(text, cfg, err, sizeof(err));
	if (rc != -1)
		fail_msg("config unexpectedly accepted:\n%s", text);
	va_start(ap, text);
	while ((needle = va_arg(ap, const char *)) != NULL) {
		if (strstr(err, needle) == NULL)
			fail_msg("error \"%s\" lacks \"%s\"", err, needle);
	}
	va_end(ap);
	/* Every message names the file. */
	assert_non_null(strstr(err, conf_path));
	free(cfg);
}

/* "path:N:" for the error at line N. */
static const char *
at_line(int n)
{
	static char buf[PATH_MAX + 64];

	snprintf(buf, sizeof(buf), "%s:%d:", conf_path, n);
	return buf;
}

static void
test_defaults(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));

	(void)state;
	assert_non_null(cfg);
	memset(cfg, 0xa5, sizeof(*cfg));
	config_defaults(cfg);
	assert_int_equal(cfg->c_workers, 0);
	assert_string_equal(cfg->c_citizens_org, "burgers");
	assert_int_equal(cfg->c_max_frame, 1048576);
	assert_int_equal(cfg->c_max_inflight, 64);
	assert_int_equal(cfg->c_max_connections, 4096);
	assert_int_equal(cfg->c_handshake_timeout, 10);
	assert_int_equal(cfg->c_idle_timeout, 300);
	assert_int_equal(cfg->c_request_memory, 8388608);
	assert_int_equal(cfg->c_map_max, 1073741824);
	assert_int_equal(cfg->c_page_max, 200);
	assert_int_equal(cfg->c_break_glass, 1);
	assert_int_equal(cfg->c_break_glass_window, 14400);
	assert_int_equal(cfg->c_break_glass_reason_min, 20);
	assert_int_equal(cfg->c_audit_retention_years, 5);
	assert_int_equal(cfg->c_ticket_lifetime, 600);
	assert_int_equal(cfg->c_max_conns_principal, 64);
	assert_int_equal(cfg->c_frame_timeout, 30);
	assert_int_equal(cfg->c_conn_output_max, 8388608);
	assert_int_equal(cfg->c_memory_max, 268435456);
	assert_int_equal(cfg->c_write_rate, 1048576);
	assert_int_equal(cfg->c_write_burst, 33554432);
	assert_int_equal(cfg->c_snapshot_versions, 1000);
	assert_int_equal(cfg->c_snapshot_bytes, 65536);
	assert_int_equal(cfg->c_grants_max, 4096);
	assert_int_equal(cfg->c_active_grants_max, 64);
	assert_int_equal(cfg->c_audit_index_lag, 128);
	assert_int_equal(cfg->c_audit_index_lag_max, 16384);
	assert_int_equal(cfg->c_audit_index_stop_ms, 3000);
	assert_int_equal(cfg->c_audit_commit_ms, 100);
	assert_int_equal(cfg->c_wal, 1);
	assert_int_equal(cfg->c_checkpoint_ms, 250);
	assert_int_equal(cfg->c_log_file_mb, 64);
	assert_string_equal(cfg->c_store_key, "");
	assert_int_equal(cfg->c_norgs, 0);
	assert_string_equal(cfg->c_crl_file, "");
	free(cfg);
}

static void
test_full(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	const struct config_org *o;
	char err[1024], want[PATH_MAX + 64], real[PATH_MAX];

	(void)state;
	assert_non_null(cfg);
	if (load(
	    "\xef\xbb\xbf" "# a full config, with a UTF-8 BOM\n"
	    "; comment\n"
	    "[server]\n"
	    "listen = [::1]:8443 ; inline comment\n"
	    "data_dir = /var/lib/eenplan\n"
	    "cert = tls/server.crt\n"
	    "key = tls/server.key\n"
	    "ca = ../root.crt\n"
	    "crl = crl/all.pem\n"
	    "workers = 4\n"
	    "citizens_org = inwoners\n"
	    "\n"
	    "[limits]\n"
	    "max_frame = 65536\n"
	    "max_inflight = 16\n"
	    "max_connections = 100\n"
	    "handshake_timeout = 5\n"
	    "idle_timeout = 60\n"
	    "request_memory = 1048576\n"
	    "map_max = 10485760\n"
	    "page_max = 50\n"
	    "[consent]\n"
	    "  # an indented comment is fine\n"
	    "break_glass = off\n"
	    "break_glass_window = 3600\n"
	    "break_glass_reason_min = 30\n"
	    "[audit]\n"
	    "retention_years = 7\n"
	    "[store]\n"
	    "key = /etc/eenplan/store.key\n"
	    "snapshot_versions = 50\n"
	    "snapshot_bytes = 4096\n"
	    "grants_max = 100\n"
	    "active_grants_max = 8\n"
	    "migrate_batch = 16\n"
	    "audit_index_lag = 77\n"
	    "audit_index_lag_max = 78\n"
	    "audit_index_stop_ms = 0\n"
	    "audit_commit_ms = 7\n"
	    "write_ahead_log = off\n"
	    "checkpoint_ms = 40\n"
	    "log_file_mb = 3\n"
	    "[org gemeente]\n"
	    "name = Gemeente Helmond\n"
	    "identifier = OIN:99990000000000000001\n"
	    "ca = ca/gemeente.crt\n"
	    "roles = professional, system,auditor\n"
	    "[org huisarts-noord]\n"
	    "name = Huisartsenpraktijk Helmond-Noord\n"
	    "identifier = URA:99990006\n"
	    "ca = /etc/eenplan/ca/huisarts-noord.crt\n"
	    "roles = gp,auditor\n"
	    "[org inwoners]\n"
	    "name = Inwoners \xc3\xa9\xc3\xa9n\n"
	    "identifier = OIN:99990000000000000007\n"
	    "ca = ca/inwoners.crt\n"
	    "roles = client , carer\n", cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);

	assert_non_null(realpath(tmpdir, real));
	assert_string_equal(cfg->c_listen_host, "::1");
	assert_string_equal(cfg->c_listen_port, "8443");
	assert_string_equal(cfg->c_data_dir, "/var/lib/eenplan");
	snprintf(want, sizeof(want), "%s/tls/server.crt", real);
	assert_string_equal(cfg->c_cert_file, want);
	snprintf(want, sizeof(want), "%s/tls/server.key", real);
	assert_string_equal(cfg->c_key_file, want);
	snprintf(want, sizeof(want), "%s/../root.crt", real);
	assert_string_equal(cfg->c_ca_file, want);
	snprintf(want, sizeof(want), "%s/crl/all.pem", real);
	assert_string_equal(cfg->c_crl_file, want);
	assert_int_equal(cfg->c_workers, 4);
	assert_string_equal(cfg->c_citizens_org, "inwoners");
	assert_int_equal(cfg->c_max_frame, 65536);
	assert_int_equal(cfg->c_max_inflight, 16);
	assert_int_equal(cfg->c_max_connections, 100);
	assert_int_equal(cfg->c_handshake_timeout, 5);
	assert_int_equal(cfg->c_idle_timeout, 60);
	assert_int_equal(cfg->c_request_memory, 1048576);
	assert_int_equal(cfg->c_map_max, 10485760);
	assert_int_equal(cfg->c_page_max, 50);
	assert_int_equal(cfg->c_break_glass, 0);
	assert_int_equal(cfg->c_break_glass_window, 3600);
	assert_int_equal(cfg->c_break_glass_reason_min, 30);
	assert_int_equal(cfg->c_audit_retention_years, 7);
	assert_string_equal(cfg->c_store_key, "/etc/eenplan/store.key");
	assert_int_equal(cfg->c_snapshot_versions, 50);
	assert_int_equal(cfg->c_snapshot_bytes, 4096);
	assert_int_equal(cfg->c_grants_max, 100);
	assert_int_equal(cfg->c_active_grants_max, 8);
	assert_int_equal(cfg->c_migrate_batch, 16);
	assert_int_equal(cfg->c_audit_index_lag, 77);
	assert_int_equal(cfg->c_audit_index_lag_max, 78);
	assert_int_equal(cfg->c_audit_index_stop_ms, 0);
	assert_int_equal(cfg->c_audit_commit_ms, 7);
	assert_int_equal(cfg->c_wal, 0);
	assert_int_equal(cfg->c_checkpoint_ms, 40);
	assert_int_equal(cfg->c_log_file_mb, 3);

	assert_int_equal(cfg->c_norgs, 3);
	assert_string_equal(cfg->c_orgs[0].co_id, "gemeente");
	assert_string_equal(cfg->c_orgs[1].co_id, "huisarts-noord");
	assert_string_equal(cfg->c_orgs[2].co_id, "inwoners");
	o = config_org_find(cfg, "gemeente");
	assert_ptr_equal(o, &cfg->c_orgs[0]);
	assert_string_equal(o->co_name, "Gemeente Helmond");
	assert_string_equal(o->co_identifier, "OIN:99990000000000000001");
	snprintf(want, sizeof(want), "%s/ca/gemeente.crt", real);
	assert_string_equal(o->co_ca_file, want);
	assert_int_equal(o->co_roles,
	    ROLE_BIT(PROFESSIONAL) | ROLE_BIT(SYSTEM) | ROLE_BIT(AUDITOR));
	o = config_org_find(cfg, "huisarts-noord");
	assert_non_null(o);
	assert_string_equal(o->co_ca_file, "/etc/eenplan/ca/huisarts-noord.crt");
	assert_int_equal(o->co_roles, ROLE_BIT(GP) | ROLE_BIT(AUDITOR));
	o = config_org_find(cfg, "inwoners");
	assert_non_null(o);
	assert_string_equal(o->co_name, "Inwoners \xc3\xa9\xc3\xa9n");
	assert_int_equal(o->co_roles, ROLE_BIT(CLIENT) | ROLE_BIT(CARER));
	assert_null(config_org_find(cfg, "lev"));
	assert_null(config_org_find(cfg, ""));
	assert_null(config_org_find(cfg, NULL));
	free(cfg);
}

/* The minimal config: every omitted key keeps its default. */
static void
test_minimal_defaults(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[1024];

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(load(BASE, cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->c_listen_host, "127.0.0.1");
	assert_string_equal(cfg->c_listen_port, "7443");
	assert_string_equal(cfg->c_crl_file, "");
	assert_string_equal(cfg->c_citizens_org, "burgers");
	assert_int_equal(cfg->c_max_frame, 1048576);
	assert_int_equal(cfg->c_max_inflight, 64);
	assert_int_equal(cfg->c_request_memory, 8388608);
	assert_int_equal(cfg->c_map_max, 1073741824);
	assert_int_equal(cfg->c_break_glass, 1);
	assert_int_equal(cfg->c_audit_retention_years, 5);
	assert_int_equal(cfg->c_norgs, 2);
	free(cfg);
}

/* Limits at both ends of their ranges are accepted. */
static void
test_bounds_accepted(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[1024];

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(load(BASE
	    "[limits]\nmax_frame = 1024\nmax_inflight = 4096\n"
	    "request_memory = 65536\nmap_max = 1048576\n"
	    "[audit]\nretention_years = 5\n", cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->c_max_frame, 1024);
	assert_int_equal(cfg->c_max_inflight, 4096);
	assert_int_equal(cfg->c_map_max, 1048576);
	assert_int_equal(load(BASE
	    "[limits]\nmax_frame = 67108864\nrequest_memory = 67108864\n",
	    cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->c_max_frame, 67108864);
	free(cfg);
}

static void
test_example_config(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	const struct config_org *o;
	char err[1024];

	(void)state;
	assert_non_null(cfg);
	if (config_load(cfg, "deploy/eenpland.conf.example", err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg->c_norgs, 7);
	assert_non_null(o = config_org_find(cfg, "huisarts-noord"));
	assert_int_equal(o->co_roles, ROLE_BIT(GP) | ROLE_BIT(AUDITOR));
	assert_non_null(o = config_org_find(cfg, "burgers"));
	assert_int_equal(o->co_roles, ROLE_BIT(CLIENT) | ROLE_BIT(CARER));
	assert_non_null(o = config_org_find(cfg, "zorgboog"));
	assert_int_equal(strncmp(o->co_identifier, "URA:", 4), 0);
	assert_string_equal(cfg->c_crl_file, "/etc/eenplan/crl/all.pem");
	free(cfg);
}

static void
test_unknown_key(void **state)
{
	(void)state;
	expect_fail(BASE "[limits]\nmax_frame = 2048\nbogus_key = 1\n",
	    "bogus_key", at_line(lines_in(BASE) + 3), NULL);
	expect_fail(SERVER "tls_version = 1.3\n" ORGS, "tls_version",
	    at_line(lines_in(SERVER) + 1), NULL);
	expect_fail(BASE "[org lev]\nname = LEVgroep\nurl = x\n", "url",
	    at_line(lines_in(BASE) + 3), NULL);
	/* A key outside any section. */
	expect_fail("workers = 2\n" BASE, "workers", at_line(1), NULL);
}

static void
test_unknown_section(void **state)
{
	(void)state;
	expect_fail(BASE "[logging]\nlevel = debug\n", "[logging]",
	    at_line(lines_in(BASE) + 1), NULL);
	expect_fail(BASE "[org]\n", "[org]", at_line(lines_in(BASE) + 1),
	    NULL);
	expect_fail(BASE "[Server]\n", "[Server]",
	    at_line(lines_in(BASE) + 1), NULL);
	/* Refused even without keys in it. */
	expect_fail(SERVER "[empty]\n" ORGS, "[empty]",
	    at_line(lines_in(SERVER) + 1), NULL);
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	expect_fail(SERVER "workers 4\n" ORGS, "syntax",
	    at_line(lines_in(SERVER) + 1), NULL);
	expect_fail(SERVER "[limits\n" ORGS, "]",
	    at_line(lines_in(SERVER) + 1), NULL);
	expect_fail(SERVER "[limits] junk\n" ORGS,
	    at_line(lines_in(SERVER) + 1), NULL);
	/* A continuation line would silently extend a value. */
	expect_fail(SERVER "workers = 4\n   8\n" ORGS, "indented",
	    at_line(lines_in(SERVER) + 2), NULL);
	/* A line inih would split in two. */
	expect_fail(SERVER "data_dir = /a/"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "\n" ORGS, "too long", at_line(lines_in(SERVER) + 1), NULL);
	/* A NUL byte would cut a line short unseen. */
	{
		static const char nul[] = "[server]\nworkers = 1\0junk\n";
		struct config *cfg = malloc(sizeof(*cfg));
		char err[1024];
		FILE *fp = fopen(conf_path, "w");

		assert_non_null(cfg);
		assert_non_null(fp);
		assert_int_equal(fwrite(nul, 1, sizeof(nul) - 1, fp),
		    sizeof(nul) - 1);
		assert_int_equal(fclose(fp), 0);
		assert_int_equal(config_load(cfg, conf_path, err, sizeof(err)),
		    -1);
		assert_non_null(strstr(err, "NUL"));
		assert_non_null(strstr(err, at_line(2)));
		free(cfg);
	}
	/* The first error is the one reported. */
	expect_fail(SERVER "oops\n" ORGS "[limits]\nmax_frame = x\n",
	    "syntax", at_line(lines_in(SERVER) + 1), NULL);
	expect_fail(SERVER "[limits]\nmax_frame = x\noops\n" ORGS,
	    "max_frame", at_line(lines_in(SERVER) + 2), NULL);
}

static void
test_bad_number(void **state)
{
	(void)state;
	expect_fail(BASE "[limits]\nmax_frame = 12x\n", "max_frame",
	    "not a number", at_line(lines_in(BASE) + 2), NULL);
	expect_fail(BASE "[limits]\nmax_inflight = -1\n", "max_inflight",
	    at_line(lines_in(BASE) + 2), NULL);
	expect_fail(BASE "[limits]\nmax_inflight = +5\n", "max_inflight",
	    NULL);
	expect_fail(BASE "[limits]\npage_max = 0x10\n", "page_max", NULL);
	expect_fail(BASE "[limits]\npage_max = \n", "page_max", NULL);
	expect_fail(BASE "[limits]\nmap_max = 99999999999999999999999\n",
	    "map_max", NULL);
	expect_fail(BASE "[limits]\nidle_timeout = 1 0\n", "idle_timeout",
	    NULL);
	expect_fail(BASE "[consent]\nbreak_glass = yes\n", "break_glass",
	    NULL);
	expect_fail(SERVER "workers = four\n" ORGS, "workers",
	    at_line(lines_in(SERVER) + 1), NULL);
}

static void
test_out_of_range(void **state)
{
	(void)state;
	expect_fail(BASE "[limits]\nmax_frame = 1023\n", "max_frame",
	    "out of range", at_line(lines_in(BASE) + 2), NULL);
	expect_fail(BASE "[limits]\nmax_frame = 67108865\n", "max_frame",
	    "out of range", NULL);
	expect_fail(BASE "[limits]\nmax_inflight = 0\n", "max_inflight", NULL);
	expect_fail(BASE "[limits]\nmax_inflight = 4097\n", "max_inflight",
	    NULL);
	expect_fail(BASE "[limits]\nmap_max = 1048575\n", "map_max", NULL);
	expect_fail(BASE "[limits]\nhandshake_timeout = 0\n",
	    "handshake_timeout", NULL);
	expect_fail(BASE "[limits]\nmax_connections = 0\n", "max_connections",
	    NULL);
	expect_fail(BASE "[limits]\npage_max = 10001\n", "page_max", NULL);
	/* 2^32 + 1 must not wrap into a uint32_t. */
	expect_fail(BASE "[limits]\nmax_connections = 4294967297\n",
	    "max_connections", NULL);
	expect_fail(SERVER "workers = 257\n" ORGS, "workers", NULL);
	expect_fail(BASE "[consent]\nbreak_glass_window = 59\n",
	    "break_glass_window", NULL);
	expect_fail(BASE "[consent]\nbreak_glass_reason_min = 0\n",
	    "break_glass_reason_min", NULL);
	expect_fail(BASE "[limits]\nmax_frame = 2097152\n"
	    "request_memory = 1048576\n", "request_memory", "max_frame", NULL);
	expect_fail(BASE "[audit]\nretention_years = 4\n", "retention_years",
	    at_line(lines_in(BASE) + 2), NULL);
	expect_fail(BASE "[audit]\nretention_years = 0\n", "retention_years",
	    NULL);
	expect_fail(BASE "[store]\naudit_index_lag = 0\n", "audit_index_lag",
	    "out of range", NULL);
	expect_fail(BASE "[store]\naudit_index_lag = 100001\n",
	    "audit_index_lag", "out of range", NULL);
	expect_fail(BASE "[store]\naudit_index_lag_max = 0\n",
	    "audit_index_lag_max", "out of range", NULL);
	expect_fail(BASE "[store]\naudit_index_stop_ms = 600001\n",
	    "audit_index_stop_ms", "out of range", NULL);
	expect_fail(BASE "[store]\naudit_commit_ms = 1001\n",
	    "audit_commit_ms", "out of range", NULL);
	expect_fail(BASE "[store]\ncheckpoint_ms = 9\n", "checkpoint_ms",
	    "out of range", NULL);
	expect_fail(BASE "[store]\ncheckpoint_ms = 60001\n", "checkpoint_ms",
	    "out of range", NULL);
	expect_fail(BASE "[store]\nlog_file_mb = 0\n", "log_file_mb",
	    "out of range", NULL);
	expect_fail(BASE "[store]\nlog_file_mb = 4097\n", "log_file_mb",
	    "out of range", NULL);
	expect_fail(BASE "[store]\nwrite_ahead_log = maybe\n",
	    "write_ahead_log", NULL);
	/* Set below the lag: refused (unset, it follows: config_lag_max). */
	expect_fail(BASE "[store]\naudit_index_lag = 200\n"
	    "audit_index_lag_max = 199\n", "audit_index_lag_max (199) must be "
	    "at least audit_index_lag (200)", at_line(lines_in(BASE) + 3),
	    NULL);
}

/* audit_index_lag_max unset follows a lag set above its default. */
static void
test_index_lag_max(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[1024];

	(void)state;
	assert_non_null(cfg);
	if (load(BASE "[store]\naudit_index_lag = 20000\n", cfg, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg->c_audit_index_lag, 20000);
	assert_int_equal(cfg->c_audit_index_lag_max, 20000);
	assert_int_equal(load(BASE "[store]\naudit_index_lag = 20\n", cfg,
	    err, sizeof(err)), 0);
	assert_int_equal(cfg->c_audit_index_lag_max, 16384);
	assert_int_equal(load(BASE "[store]\naudit_index_lag_max = 200\n",
	    cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->c_audit_index_lag_max, 200);
	free(cfg);
}

static void
test_listen(void **state)
{
	(void)state;
	expect_fail("[server]\nlisten = 7443\n" ORGS, "listen", at_line(2),
	    NULL);
	expect_fail("[server]\nlisten = host:0\n" ORGS, "listen", NULL);
	expect_fail("[server]\nlisten = host:65536\n" ORGS, "listen", NULL);
	expect_fail("[server]\nlisten = :7443\n" ORGS, "listen", NULL);
	expect_fail("[server]\nlisten = ::1:7443\n" ORGS, "listen", NULL);
	expect_fail("[server]\nlisten = [::1]7443\n" ORGS, "listen", NULL);
}

static void
test_missing_required(void **state)
{
	(void)state;
	expect_fail("[server]\ndata_dir = d\ncert = c\nkey = k\nca = r\n" ORGS,
	    "listen", "required", NULL);
	expect_fail("[server]\nlisten = h:1\ncert = c\nkey = k\nca = r\n" ORGS,
	    "data_dir", NULL);
	expect_fail("[server]\nlisten = h:1\ndata_dir = d\ncert = c\nca = r\n"
	    ORGS, "key", NULL);
	expect_fail("[server]\nlisten = h:1\ndata_dir = d\nkey = k\nca = r\n"
	    ORGS, "cert", NULL);
	expect_fail("[server]\nlisten = h:1\ndata_dir = d\ncert = c\nkey = k\n"
	    ORGS, "ca", NULL);
	expect_fail(SERVER STORE, "organisation", NULL);
	/* The store's key file: no default, no store without it. */
	expect_fail(SERVER "[org burgers]\nname = B\nidentifier = OIN:1\n"
	    "ca = b.crt\nroles = client\n", "[store] key", "required", NULL);
	expect_fail(BASE "[org lev]\nname = LEVgroep\nidentifier = KvK:1\n"
	    "roles = professional\n", "[org lev]", "ca", NULL);
	expect_fail(BASE "[org lev]\nname = LEVgroep\nca = lev.crt\n"
	    "roles = professional\n", "identifier", NULL);
	expect_fail(BASE "[org lev]\nidentifier = KvK:1\nca = lev.crt\n"
	    "roles = professional\n", "name", NULL);
	expect_fail(BASE "[org lev]\nname = LEVgroep\nidentifier = KvK:1\n"
	    "ca = lev.crt\n", "roles", NULL);
	expect_fail(BASE "[org lev]\n", "[org lev]", NULL);
	/* A required path cannot be empty. */
	expect_fail("[server]\nlisten = h:1\ndata_dir =\ncert = c\nkey = k\n"
	    "ca = r\n" ORGS, "data_dir", at_line(3), NULL);
}

static void
test_duplicates(void **state)
{
	(void)state;
	expect_fail(BASE "[org gemeente]\nname = Nog een\n", "gemeente",
	    "duplicate", at_line(lines_in(BASE) + 1), NULL);
	expect_fail(SERVER "workers = 1\nworkers = 2\n" ORGS, "workers",
	    "twice", at_line(lines_in(SERVER) + 2), NULL);
	expect_fail(BASE "[limits]\nmax_frame = 2048\n[consent]\n[limits]\n"
	    "page_max = 9\npage_max = 10\n", "page_max", "twice",
	    at_line(lines_in(BASE) + 6), NULL);
	expect_fail(BASE "[org lev]\nname = A\nname = B\n", "name", "twice",
	    NULL);
	expect_fail(BASE "[org lev]\nroles = gp, gp\n", "roles", "gp", NULL);
}

/*
 * A fixed section may come again, as in an override file appended to a
 * generated config (deploy/mkconf.sh): its keys win.
 */
static void
test_override_section(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[1024];

	(void)state;
	assert_non_null(cfg);
	if (load(BASE "[limits]\nmax_frame = 2048\npage_max = 7\n"
	    "[server]\nworkers = 3\n"
	    "[limits]\nmax_frame = 4096\n", cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg->c_max_frame, 4096);
	assert_int_equal(cfg->c_page_max, 7);
	assert_int_equal(cfg->c_workers, 3);
	assert_string_equal(cfg->c_listen_port, "7443");
	free(cfg);
}

static void
test_bad_org_id(void **state)
{
	(void)state;
	expect_fail(BASE "[org Lev]\n", "Lev", at_line(lines_in(BASE) + 1),
	    NULL);
	expect_fail(BASE "[org lev_groep]\n", "lev_groep", NULL);
	expect_fail(BASE "[org lev groep]\n", "lev groep", NULL);
	expect_fail(BASE "[org ]\n", "organisation id", NULL);
	expect_fail(BASE "[org abcdefghijklmnopqrstuvwxyz012345]\n",
	    "abcdefghijklmnopqrstuvwxyz012345", NULL);
	expect_fail(BASE "[org caf\xc3\xa9]\n", "organisation id", NULL);
}

static void
test_org_values(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[1024];

	(void)state;
	assert_non_null(cfg);
	/* 31 characters is the longest id. */
	assert_int_equal(load(BASE
	    "[org abcdefghijklmnopqrstuvwxyz01234]\nname = n\n"
	    "identifier = KvK:1\nca = a.crt\nroles = system\n",
	    cfg, err, sizeof(err)), 0);
	assert_non_null(config_org_find(cfg,
	    "abcdefghijklmnopqrstuvwxyz01234"));
	free(cfg);

	expect_fail(BASE "[org lev]\nroles = professional, admin\n", "roles",
	    "admin", at_line(lines_in(BASE) + 2), NULL);
	expect_fail(BASE "[org lev]\nroles = Professional\n", "Professional",
	    NULL);
	expect_fail(BASE "[org lev]\nroles = professional,,system\n", "roles",
	    NULL);
	expect_fail(BASE "[org lev]\nroles =\n", "roles", NULL);
	expect_fail(BASE "[org lev]\nidentifier = KvK 1234\n", "identifier",
	    NULL);
	expect_fail(BASE "[org lev]\nidentifier = "
	    "KvK:123456789012345678901234567890123456789012345\n",
	    "identifier", NULL);
	expect_fail(BASE "[org lev]\nname = bad \xff utf8\n", "name", NULL);
}

static void
test_citizens_org(void **state)
{
	(void)state;
	expect_fail(SERVER "citizens_org = inwoners\n" ORGS, "citizens_org",
	    "inwoners", NULL);
	expect_fail(SERVER "citizens_org = Burgers!\n" ORGS, "citizens_org",
	    NULL);
	/* Without the key, the default "burgers" must exist. */
	expect_fail(SERVER STORE "[org gemeente]\nname = G\nidentifier = "
	    "OIN:1\nca = g.crt\nroles = professional\n", "citizens_org",
	    "burgers", NULL);
}

static void
test_missing_file(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[1024], path[PATH_MAX + 32];

	(void)state;
	assert_non_null(cfg);
	snprintf(path, sizeof(path), "%s/nonexistent.conf", tmpdir);
	assert_int_equal(config_load(cfg, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nonexistent.conf"));
	free(cfg);
}

/* What config_load_all handed over, one problem per line. */
struct problems {
	char	text[8192];
	int	n;
};

static void
collect(void *arg, const char *problem)
{
	struct problems *p = arg;
	size_t len = strlen(p->text);

	snprintf(p->text + len, sizeof(p->text) - len, "%s\n", problem);
	p->n++;
}

/*
 * eenpland -n: every problem of a file, each with its line, not just the
 * first; and a good file loads as config_load loads it.
 */
static void
test_load_all(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	struct problems *p = calloc(1, sizeof(*p));
	char want[PATH_MAX + 128];
	int n, base = lines_in(BASE);

	(void)state;
	assert_non_null(cfg);
	assert_non_null(p);
	write_conf(BASE);
	assert_int_equal(config_load_all(cfg, conf_path, collect, p), 0);
	assert_int_equal(p->n, 0);
	assert_int_equal(cfg->c_norgs, 2);

	write_conf(BASE
	    "[limits]\n"
	    "max_frame = lots\n"			/* base + 2 */
	    "page_max = 0\n"				/* base + 3 */
	    "no equals sign here\n"			/* base + 4 */
	    "[nonsense]\n"				/* base + 5 */
	    "ignored = 1\n"				/* base + 6: not reported */
	    "[org Bad_Id]\n"				/* base + 7 */
	    "name = x\n"				/* base + 8: not reported */
	    "[server]\n"
	    "citizens_org = inwoners\n"		/* base + 10 */
	    "bogus = 1\n");				/* base + 11 */
	n = config_load_all(cfg, conf_path, collect, p);
	assert_int_equal(n, p->n);
	if (n != 7)
		fail_msg("expected 7 problems, got %d:\n%s", n, p->text);
	snprintf(want, sizeof(want), "%s:%d: max_frame", conf_path, base + 2);
	assert_non_null(strstr(p->text, want));
	snprintf(want, sizeof(want), "%s:%d: page_max", conf_path, base + 3);
	assert_non_null(strstr(p->text, want));
	snprintf(want, sizeof(want), "%s:%d: syntax error", conf_path,
	    base + 4);
	assert_non_null(strstr(p->text, want));
	snprintf(want, sizeof(want), "%s:%d: unknown section [nonsense]",
	    conf_path, base + 5);
	assert_non_null(strstr(p->text, want));
	snprintf(want, sizeof(want), "%s:%d: [org Bad_Id]", conf_path,
	    base + 7);
	assert_non_null(strstr(p->text, want));
	snprintf(want, sizeof(want), "%s:%d: citizens_org", conf_path,
	    base + 10);
	assert_non_null(strstr(p->text, want));
	snprintf(want, sizeof(want), "%s:%d: unknown key \"bogus\"",
	    conf_path, base + 11);
	assert_non_null(strstr(p->text, want));
	assert_null(strstr(p->text, "ignored"));
	free(p);
	free(cfg);
}

/* Where each setting came from, for the checks' messages. */
static void
test_lines(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[1024];

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(load(BASE "[limits]\npage_max = 9\n"
	    "[audit]\nhead_file = anchor/audit.head\n"
	    "[retention]\nwmo = 16\njeugdwet = 25\n", cfg, err,
	    sizeof(err)), 0);
	assert_int_equal(config_line(cfg, "server", "listen"), 2);
	assert_int_equal(config_line(cfg, "server", "ca"), 6);
	assert_int_equal(config_line(cfg, "store", "key"), 8);
	assert_int_equal(config_line(cfg, "org gemeente", "ca"), 12);
	assert_int_equal(config_line(cfg, "org burgers", "roles"), 19);
	assert_int_equal(config_line(cfg, "limits", "page_max"),
	    lines_in(BASE) + 2);
	assert_int_equal(config_line(cfg, "audit", "head_file"),
	    lines_in(BASE) + 4);
	/* Not set, unknown: 0. */
	assert_int_equal(config_line(cfg, "server", "crl"), 0);
	assert_int_equal(config_line(cfg, "org lev", "ca"), 0);
	assert_int_equal(config_line(cfg, "nonsense", "ca"), 0);
	assert_non_null(strstr(cfg->c_audit_head_file, "/anchor/audit.head"));
	assert_int_equal(config_regime_years(cfg, "wmo"), 16);
	assert_int_equal(config_regime_years(cfg, ""), 16);
	assert_int_equal(config_regime_years(cfg, "jeugdwet"), 25);
	assert_int_equal(config_regime_years(cfg, "participatiewet"), 0);
	free(cfg);
	/* Defaults: Wmo 15, Jeugdwet 20; at least a year, at most 100. */
	cfg = malloc(sizeof(*cfg));
	assert_non_null(cfg);
	assert_int_equal(load(BASE, cfg, err, sizeof(err)), 0);
	assert_int_equal(config_regime_years(cfg, "wmo"), 15);
	assert_int_equal(config_regime_years(cfg, "jeugdwet"), 20);
	assert_string_equal(cfg->c_audit_head_file, "");
	free(cfg);
	expect_fail(BASE "[retention]\nwmo = 0\n", "wmo", NULL);
	expect_fail(BASE "[retention]\njeugdwet = 101\n", "jeugdwet", NULL);
	expect_fail(BASE "[retention]\nwlz = 10\n", "wlz", NULL);
}

/* [admin]: off by default; a loopback address only, as a number. */
static void
test_admin(void **state)
{
	static const char *const ok[] = {
		"127.0.0.1:7412", "127.1.2.3:9", "[::1]:7412",
		"[::ffff:127.0.0.1]:80",
	};
	static const char *const refused[] = {
		"0.0.0.0:7412", "192.0.2.1:7412", "[::]:7412", "localhost:7412",
		"[::ffff:10.0.0.1]:7412", "128.0.0.1:7412",
	};
	struct config *cfg = malloc(sizeof(*cfg));
	char text[2048], err[1024];
	size_t i;

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(load(BASE, cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->c_admin_host, "");
	assert_int_equal(cfg->c_cert_min_days, 14);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), BASE "[admin]\nlisten = %s\n"
		    "cert_min_days = 30\n", ok[i]);
		if (load(text, cfg, err, sizeof(err)) != 0)
			fail_msg("[admin] listen = %s refused: %s", ok[i], err);
		assert_int_equal(cfg->c_cert_min_days, 30);
		assert_true(cfg->c_admin_host[0] != '\0');
		assert_true(cfg->c_admin_port[0] != '\0');
	}
	assert_string_equal(cfg->c_listen_host, "127.0.0.1");
	assert_string_equal(cfg->c_listen_port, "7443");
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(text, sizeof(text), BASE "[admin]\nlisten = %s\n",
		    refused[i]);
		expect_fail(text, "[admin] listen", "is not a loopback address",
		    at_line(lines_in(BASE) + 2), NULL);
	}
	expect_fail(BASE "[admin]\nlisten = 127.0.0.1\n", "listen",
	    "is not host:port", NULL);
	expect_fail(BASE "[admin]\ncert_min_days = 36501\n", "cert_min_days",
	    "out of range", NULL);
	expect_fail(BASE "[admin]\nport = 7412\n", "unknown key", NULL);
	free(cfg);
}

/* The limits against one client taking more than its share. */
static void
test_share_limits(void **state)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[1024];

	(void)state;
	assert_non_null(cfg);
	if (load(SERVER "ticket_lifetime = 0\n" ORGS "[limits]\n"
	    "max_connections_per_principal = 3\nframe_timeout = 5\n"
	    "conn_output_max = 2097152\nmemory_max = 4194304\n", cfg, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg->c_ticket_lifetime, 0);
	assert_int_equal(cfg->c_max_conns_principal, 3);
	assert_int_equal(cfg->c_frame_timeout, 5);
	assert_int_equal(cfg->c_conn_output_max, 2097152);
	assert_int_equal(cfg->c_memory_max, 4194304);

	/* Unset, they grow with a large max_frame. */
	if (load(BASE "[limits]\nmax_frame = 16777216\n"
	    "request_memory = 16777216\n", cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg->c_conn_output_max, 2 * (16777216 + 4));
	assert_int_equal(cfg->c_memory_max, 268435456);
	if (load(BASE "[limits]\nmax_frame = 67108864\n"
	    "request_memory = 67108864\n", cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg->c_conn_output_max, 2 * (67108864 + 4));
	assert_true(cfg->c_memory_max >= cfg->c_conn_output_max);
	free(cfg);

	/* Set, they are held to the frame they must carry. */
	expect_fail(BASE "[limits]\nconn_output_max = 1048576\n",
	    "conn_output_max", "max_frame", NULL);
	expect_fail(BASE "[limits]\nconn_output_max = 4194304\n"
	    "memory_max = 2097152\n", "memory_max", "conn_output_max", NULL);
	expect_fail(BASE "[limits]\nframe_timeout = 0\n", "frame_timeout",
	    "out of range", NULL);
	expect_fail(BASE "[limits]\nframe_timeout = 3601\n", "frame_timeout",
	    NULL);
	expect_fail(BASE "[limits]\nmax_connections_per_principal = 0\n",
	    "max_connections_per_principal", NULL);
	expect_fail(BASE "[limits]\nconn_output_max = 65535\n",
	    "conn_output_max", "out of range", NULL);
	expect_fail(BASE "[limits]\nmemory_max = 1048575\n", "memory_max",
	    "out of range", NULL);
	expect_fail(SERVER "ticket_lifetime = 86401\n" ORGS,
	    "ticket_lifetime", NULL);
	expect_fail(SERVER "ticket_lifetime = -1\n" ORGS, "ticket_lifetime",
	    NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_bounds_accepted),
		cmocka_unit_test(test_example_config),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_bad_number),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_index_lag_max),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_override_section),
		cmocka_unit_test(test_bad_org_id),
		cmocka_unit_test(test_org_values),
		cmocka_unit_test(test_citizens_org),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_load_all),
		cmocka_unit_test(test_lines),

		cmocka_unit_test(test_admin),
		cmocka_unit_test(test_share_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
