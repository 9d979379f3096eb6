/*
 * Unit tests for daemon/log.c: the logfmt line, escaping, the journald
 * form, the rate limiter (with a fake clock) and the queue in front of a
 * stderr that nobody reads (a full pipe): a caller must not wait for it,
 * and what was dropped is reported once the pipe drains.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static int	pfd[2];
static char	got[1 << 20];

static int
setup(void **state)
{
	(void)state;
	if (pipe(pfd) == -1)
		return -1;
	unsetenv("JOURNAL_STREAM");
	log_set_fd(pfd[1]);
	log_init(0, "test");
	log_set_clock(NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_stop();
	log_set_fd(2);
	close(pfd[0]);
	close(pfd[1]);
	return 0;
}

/* Everything readable from the pipe within ms, appended to got. */
static size_t
drain(int ms)
{
	struct pollfd p = { pfd[0], POLLIN, 0 };
	size_t len = 0;
	ssize_t n;

	got[0] = '\0';
	while (len < sizeof(got) - 1 && poll(&p, 1, ms) == 1) {
		n = read(pfd[0], got + len, sizeof(got) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		got[len] = '\0';
	}
	return len;
}

static int
count_lines(const char *s, const char *needle)
{
	int n = 0;
	const char *line, *nl;

	for (line = s; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		if (needle == NULL ||
		    (memmem(line, (size_t)(nl - line), needle, strlen(needle))
		    != NULL))
			n++;
	}
	return n;
}

static void
test_line_format(void **state)
{
	(void)state;
	log_kv(LOGL_INFO, "listening", "addr=%s", "127.0.0.1:7411");
	drain(50);
	/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ, then the fixed order of fields */
	assert_int_equal(strncmp(got, "ts=", 3), 0);
	assert_int_equal(got[26], 'Z');
	assert_string_equal(got + 27,
	    " level=info msg=\"listening\" addr=127.0.0.1:7411\n");
}

static void
test_levels_and_old_calls(void **state)
{
	(void)state;
	log_warnx("conn %d (%s): refused", 5, "127.0.0.1:1");
	errno = ENOENT;
	log_warn("open %s", "x.pem");
	log_info("store: migrated");
	log_debug("not shown without -v");
	log_kv(LOGL_DEBUG, "not shown either", NULL);
	log_kv(LOGL_ERROR, "broken", NULL);
	drain(50);
	assert_int_equal(count_lines(got, NULL), 4);
	assert_non_null(strstr(got,
	    " level=warn msg=\"conn 5 (127.0.0.1:1): refused\"\n"));
	assert_non_null(strstr(got, " level=warn msg=\"open x.pem\" "
	    "error=\"No such file or directory\"\n"));
	assert_non_null(strstr(got, " level=info msg=\"store: migrated\"\n"));
	assert_non_null(strstr(got, " level=error msg=\"broken\"\n"));

	log_init(1, "test");
	log_debug("now shown");
	drain(50);
	assert_non_null(strstr(got, " level=debug msg=\"now shown\"\n"));
	log_init(0, "test");
}

/* A value from a peer cannot start a new line or a new field. */
static void
test_escaping(void **state)
{
	(void)state;
	log_kv(LOGL_WARN, "bad \"frame\"\nlevel=error", "peer=%s reason=%s "
	    "empty=%s plain=%s", log_q("1.2.3.4:5"),
	    log_q("a b\"c\\d\ne\x01 level=error"), log_q(""), log_q("x-y.z"));
	log_kv(LOGL_INFO, "raw", "v=%s", "line\nbreak");
	drain(50);
	assert_int_equal(count_lines(got, NULL), 2);
	assert_non_null(strstr(got, " msg=\"bad \\\"frame\\\"\\nlevel=error\" "
	    "peer=1.2.3.4:5 reason=\"a b\\\"c\\\\d\\ne\\x01 level=error\" "
	    "empty=\"\" plain=x-y.z\n"));
	assert_non_null(strstr(got, " msg=\"raw\" v=line\\x0abreak\n"));
}

/* Under journald: priority prefix, no timestamp of our own. */
static void
test_journal_form(void **state)
{
	struct stat st;
	char js[64];

	(void)state;
	assert_int_equal(fstat(pfd[1], &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_init(0, "test");
	log_kv(LOGL_INFO, "ready", "workers=%d", 2);
	log_warnx("w");
	drain(50);
	assert_string_equal(got, "<6>level=info msg=\"ready\" workers=2\n"
	    "<4>level=warn msg=\"w\"\n");
	/* Another stream (a terminal, a file) keeps the timestamp. */
	setenv("JOURNAL_STREAM", "1:2", 1);
	log_init(0, "test");
	log_kv(LOGL_INFO, "ready", NULL);
	drain(50);
	assert_int_equal(strncmp(got, "ts=", 3), 0);
	unsetenv("JOURNAL_STREAM");
	log_init(0, "test");
}

static int64_t fake_ms;

static int64_t
fake_clock(void)
{
	return fake_ms;
}

static void
test_rate_limit(void **state)
{
	static struct log_rate rl = LOG_RATE_INIT("refused (test)");
	static struct log_rate other = LOG_RATE_INIT("bad frames (test)");
	char want[128];
	int i;

	(void)state;
	fake_ms = 1000000;
	log_set_clock(fake_clock);
	for (i = 0; i < 100; i++) {
		log_rl(&rl, LOGL_WARN, "connection refused", "n=%d", i);
		fake_ms += 10;		/* 1 s in all */
	}
	/* Another kind has its own budget. */
	log_rl(&other, LOGL_WARN, "bad frame", "n=%d", 0);
	drain(50);
	assert_int_equal(count_lines(got, "msg=\"connection refused\""),
	    LOG_RATE_BURST);
	assert_int_equal(count_lines(got, "msg=\"bad frame\""), 1);
	assert_int_equal(count_lines(got, "more"), 0);
	assert_non_null(strstr(got, " n=4\n"));
	assert_null(strstr(got, " n=5\n"));

	/* Within the window nothing is summed up yet. */
	log_rate_tick();
	drain(20);
	assert_int_equal(got[0], '\0');

	/* After it, the summary comes by itself (the log thread ticks). */
	fake_ms += LOG_RATE_WINDOW_S * 1000;
	log_rate_tick();
	drain(50);
	snprintf(want, sizeof(want), " level=warn msg=\"%d more refused (test) "
	    "in the last %d s\" suppressed=%d window_s=%d\n",
	    100 - LOG_RATE_BURST, LOG_RATE_WINDOW_S, 100 - LOG_RATE_BURST,
	    LOG_RATE_WINDOW_S);
	assert_non_null(strstr(got, want));
	assert_int_equal(count_lines(got, NULL), 1);

	/* A new window lets a burst through again; summed up by the next line. */
	for (i = 0; i < LOG_RATE_BURST + 3; i++)
		log_rl(&rl, LOGL_WARN, "connection refused", "n=%d", i);
	fake_ms += LOG_RATE_WINDOW_S * 1000 + 1;
	log_rl(&rl, LOGL_WARN, "connection refused", "n=%d", 99);
	drain(50);
	assert_int_equal(count_lines(got, "msg=\"connection refused\""),
	    LOG_RATE_BURST + 1);
	assert_non_null(strstr(got, "msg=\"3 more refused (test) in the last"));
	assert_non_null(strstr(got, " n=99\n"));
	/* Nothing held back: no summary. */
	fake_ms += LOG_RATE_WINDOW_S * 1000;
	log_rate_tick();
	drain(20);
	assert_int_equal(got[0], '\0');
	log_set_clock(NULL);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * stderr is a pipe nobody reads: after 64 KiB the log thread blocks in
 * write(2). Callers must go on at full speed, dropping what does not fit.
 */
static void
test_blocked_stderr(void **state)
{
	int64_t t0, t, worst = 0, total;
	uint64_t dropped, reported;
	char *p;
	int i, n = 20000;

	(void)state;
	log_start();
	t0 = now_us();
	for (i = 0; i < n; i++) {
		t = now_us();
		log_kv(LOGL_WARN, "connection refused", "conn=%d peer=%s "
		    "reason=tls error=%s", i, "127.0.0.1:40000",
		    log_q("error:0A000418:SSL routines::tlsv1 alert unknown ca"));
		t = now_us() - t;
		if (t > worst)
			worst = t;
	}
	total = now_us() - t0;
	dropped = log_dropped_total();
	print_message("%d lines in %lld us (worst call %lld us), %llu dropped\n",
	    n, (long long)total, (long long)worst, (unsigned long long)dropped);
	/* The thread cannot have written them all: the pipe holds ~64 KiB. */
	assert_true(dropped > 0);
	/* Generous for a loaded machine and sanitizers; a wait would be seconds. */
	assert_true(worst < 200000);
	assert_true(total < 5000000);

	/* Someone reads stderr again: the rest, then the count of what was lost. */
	drain(1500);
	for (p = got, reported = 0; (p = strstr(p, "msg=\"dropped ")) != NULL;
	    p += 13)
		reported += strtoull(p + 13, NULL, 10);
	assert_true(reported == dropped);
	assert_true(count_lines(got, "msg=\"connection refused\"") +
	    (int)dropped == n);
	/* Still working after that. */
	log_kv(LOGL_INFO, "after", NULL);
	drain(200);
	assert_non_null(strstr(got, "msg=\"after\""));
	log_stop();
}

/* log_stop writes what is still queued before it returns. */
static void
test_stop_flushes(void **state)
{
	int i;

	(void)state;
	log_start();
	for (i = 0; i < 100; i++)
		log_kv(LOGL_INFO, "queued", "i=%d", i);
	log_stop();
	drain(50);
	assert_int_equal(count_lines(got, "msg=\"queued\""), 100);
	/* Without the thread lines are written at once. */
	log_kv(LOGL_INFO, "direct", NULL);
	drain(50);
	assert_non_null(strstr(got, "msg=\"direct\""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_levels_and_old_calls,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_form, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_blocked_stderr, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stop_flushes, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
