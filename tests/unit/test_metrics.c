/*
 * Unit tests for daemon/metrics.c: where an observation lands in its
 * histogram, the text format (cumulative buckets, _count equal to +Inf,
 * escaped label values, gauges left out when unknown), and the bounded
 * buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "wire.h"

static const char *
op_name(int op)
{
	switch (op) {
	case 12:
		return "GetPlan";
	case 13:
		return "MutatePlan";
	default:
		return NULL;
	}
}

static void
gauges_none(struct metrics_gauges *g)
{
	memset(g, 0, sizeof(*g));
	g->mg_start_time = g->mg_conns = g->mg_conns_max = -1;
	g->mg_map_size = g->mg_map_used = g->mg_readers = -1;
	g->mg_readers_max = g->mg_disk_free = g->mg_disk_size = -1;
	g->mg_feed_seq = g->mg_audit_seq = g->mg_ready = -1;
}

/* The exposition with the given gauges; the caller frees it. */
static char *
render(const struct metrics_gauges *g)
{
	struct metrics_buf b;
	char *s;

	metrics_buf_init(&b, 1 << 20);
	assert_int_equal(metrics_render(&b, g, op_name), 0);
	assert_non_null(b.mb_buf);
	assert_int_equal(strlen(b.mb_buf), b.mb_len);
	s = strdup(b.mb_buf);
	metrics_buf_free(&b);
	assert_non_null(s);
	return s;
}

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	metrics_reset();
	return 0;
}

static void
test_empty(void **state)
{
	struct metrics_gauges g;
	char *t;

	(void)state;
	gauges_none(&g);
	t = render(&g);
	assert_true(has_line(t, "# TYPE eenplan_requests_total counter"));
	assert_true(has_line(t, "eenplan_handshakes_total{outcome=\"revoked\"} 0"));
	assert_true(has_line(t, "eenplan_writer_batch_jobs_bucket{le=\"+Inf\"} 0"));
	assert_true(has_line(t, "eenplan_writer_batch_jobs_count 0"));
	assert_true(has_line(t, "eenplan_writer_commit_duration_seconds_sum "
	    "0.000000"));
	/* No request yet: no series and no latency histogram. */
	assert_null(strstr(t, "eenplan_requests_total{"));
	assert_null(strstr(t, "eenplan_request_duration_seconds_bucket"));
	/* Unknown gauges are left out, HELP and TYPE too. */
	assert_null(strstr(t, "eenplan_store_map_size_bytes"));
	assert_null(strstr(t, "eenplan_ready"));
	assert_null(strstr(t, "eenplan_certificate_expiry"));
	/* Always there: subscribers (a counter of this process). */
	assert_true(has_line(t, "eenplan_feed_subscribers 0"));
	free(t);
}

static void
test_request_buckets(void **state)
{
	struct metrics_gauges g;
	char *t;

	(void)state;
	gauges_none(&g);
	/* On a bound is in that bucket; just above it, in the next. */
	metrics_request(12, EENPLAN__V1__CODE__OK, 1000);
	metrics_request(12, EENPLAN__V1__CODE__OK, 1001);
	metrics_request(12, EENPLAN__V1__CODE__PERMISSION_DENIED, 20000000);
	metrics_request(13, EENPLAN__V1__CODE__ABORTED, 0);
	/* Out of range: op "none", code UNKNOWN. */
	metrics_request(-1, 99, 5);
	metrics_request(METRICS_OPS, EENPLAN__V1__CODE__OK, 5);
	metrics_request(40, EENPLAN__V1__CODE__OK, 5);	/* unnamed */
	t = render(&g);
	assert_true(has_line(t, "eenplan_requests_total{op=\"GetPlan\","
	    "code=\"OK\"} 2"));
	assert_true(has_line(t, "eenplan_requests_total{op=\"GetPlan\","
	    "code=\"PERMISSION_DENIED\"} 1"));
	assert_true(has_line(t, "eenplan_requests_total{op=\"MutatePlan\","
	    "code=\"ABORTED\"} 1"));
	assert_true(has_line(t, "eenplan_requests_total{op=\"none\","
	    "code=\"UNKNOWN\"} 1"));
	assert_true(has_line(t, "eenplan_requests_total{op=\"none\","
	    "code=\"OK\"} 2"));
	assert_true(has_line(t, "eenplan_request_duration_seconds_bucket{"
	    "op=\"GetPlan\",le=\"0.0005\"} 0"));
	assert_true(has_line(t, "eenplan_request_duration_seconds_bucket{"
	    "op=\"GetPlan\",le=\"0.001\"} 1"));
	assert_true(has_line(t, "eenplan_request_duration_seconds_bucket{"
	    "op=\"GetPlan\",le=\"0.0025\"} 2"));
	assert_true(has_line(t, "eenplan_request_duration_seconds_bucket{"
	    "op=\"GetPlan\",le=\"10\"} 2"));
	assert_true(has_line(t, "eenplan_request_duration_seconds_bucket{"
	    "op=\"GetPlan\",le=\"+Inf\"} 3"));
	assert_true(has_line(t, "eenplan_request_duration_seconds_count{"
	    "op=\"GetPlan\"} 3"));
	assert_true(has_line(t, "eenplan_request_duration_seconds_sum{"
	    "op=\"GetPlan\"} 20.002001"));
	assert_true(has_line(t, "eenplan_request_duration_seconds_bucket{"
	    "op=\"MutatePlan\",le=\"0.0001\"} 1"));
	free(t);
}

static void
test_writer_and_state(void **state)
{
	struct metrics_gauges g;
	struct metrics_state ms;
	char *t;

	(void)state;
	gauges_none(&g);
	metrics_writer_batch(3, 1500000, 3, 0, 0);
	metrics_writer_batch(1024, 10, 1024, 0, 0);
	metrics_writer_batch(2000, 10, 0, 0, 0);
	metrics_state(&ms);
	assert_int_equal(ms.ms_store_rc, 0);
	assert_int_equal(ms.ms_audit_rc, 0);
	t = render(&g);
	assert_true(has_line(t, "eenplan_writer_batch_jobs_bucket{le=\"2\"} 0"));
	assert_true(has_line(t, "eenplan_writer_batch_jobs_bucket{le=\"4\"} 1"));
	assert_true(has_line(t, "eenplan_writer_batch_jobs_bucket{le=\"1024\"} "
	    "2"));
	assert_true(has_line(t, "eenplan_writer_batch_jobs_bucket{le=\"+Inf\"} "
	    "3"));
	assert_true(has_line(t, "eenplan_writer_batch_jobs_sum 3027"));
	assert_true(has_line(t, "eenplan_writer_commit_duration_seconds_sum "
	    "1.500020"));
	assert_true(has_line(t, "eenplan_audit_records_total 1027"));
	free(t);

	/* A failed batch loses its records; the next good one clears it. */
	metrics_writer_batch(2, 10, 2, -3, -3);
	metrics_state(&ms);
	assert_int_equal(ms.ms_store_rc, -3);
	assert_int_equal(ms.ms_audit_rc, -3);
	t = render(&g);
	assert_true(has_line(t, "eenplan_writer_failures_total{stage=\"commit\"} "
	    "1"));
	assert_true(has_line(t, "eenplan_audit_failures_total 2"));
	free(t);
	metrics_writer_batch(1, 10, 1, 0, 0);
	metrics_state(&ms);
	assert_int_equal(ms.ms_store_rc, 0);
	assert_int_equal(ms.ms_audit_rc, 0);
	/* Committed, but a job's change did not fit: the store is not ready. */
	metrics_writer_batch(2, 10, 2, 0, -3);
	metrics_state(&ms);
	assert_int_equal(ms.ms_store_rc, -3);
	assert_int_equal(ms.ms_audit_rc, 0);
	metrics_writer_batch(1, 10, 1, 0, 0);
	metrics_state(&ms);
	assert_int_equal(ms.ms_store_rc, 0);
	/* A failed flush and a failed append mark their checks. */
	metrics_writer_sync(10, -1);
	metrics_audit_failed(-7);
	metrics_state(&ms);
	assert_int_equal(ms.ms_store_rc, -1);
	assert_int_equal(ms.ms_audit_rc, -7);
}

static void
test_gauges_and_labels(void **state)
{
	static const struct metrics_date certs[] = {
		{ "server", 1900000000 },
		{ "odd\"name\\with\nnewline", 5 },
	};
	struct metrics_gauges g;
	char *t;

	(void)state;
	gauges_none(&g);
	g.mg_map_size = 1073741824;
	g.mg_map_used = 0;
	g.mg_ready = 1;
	g.mg_certs = certs;
	g.mg_ncerts = 2;
	metrics_subscribers(2);
	metrics_subscribers(-1);
	metrics_sub_lag(-5);		/* never shown below zero */
	metrics_handshake(METRICS_HS_REVOKED);
	metrics_handshake((enum metrics_hs)99);	/* counted as tls_error */
	t = render(&g);
	assert_true(has_line(t, "# TYPE eenplan_store_map_size_bytes gauge"));
	assert_true(has_line(t, "eenplan_store_map_size_bytes 1073741824"));
	assert_true(has_line(t, "eenplan_store_map_used_bytes 0"));
	assert_true(has_line(t, "eenplan_ready 1"));
	assert_true(has_line(t, "eenplan_feed_subscribers 1"));
	assert_true(has_line(t, "eenplan_feed_subscriber_lag_events 0"));
	assert_true(has_line(t, "eenplan_handshakes_total{outcome=\"revoked\"} 1"));
	assert_true(has_line(t, "eenplan_handshakes_total{outcome=\"tls_error\"} "
	    "1"));
	assert_true(has_line(t, "eenplan_certificate_expiry_timestamp_seconds{"
	    "certificate=\"server\"} 1900000000"));
	assert_true(has_line(t, "eenplan_certificate_expiry_timestamp_seconds{"
	    "certificate=\"odd\\\"name\\\\with\\nnewline\"} 5"));
	assert_null(strstr(t, "eenplan_crl_next_update"));
	free(t);
}

/* Every line a comment or `name{labels} value`, none empty, all ended. */
static void
test_every_line_well_formed(void **state)
{
	struct metrics_gauges g;
	char *t, *line, *save = NULL;
	int n = 0;

	(void)state;
	gauges_none(&g);
	g.mg_conns = 3;
	metrics_request(12, 0, 700);
	t = render(&g);
	assert_int_equal(t[strlen(t) - 1], '\n');
	assert_null(strstr(t, "\n\n"));
	for (line = strtok_r(t, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		n++;
		if (strncmp(line, "# HELP eenplan_", 15) == 0 ||
		    strncmp(line, "# TYPE eenplan_", 15) == 0)
			continue;
		assert_int_equal(strncmp(line, "eenplan_", 8), 0);
		/* One space, before the value; none in label values here. */
		assert_non_null(strchr(line, ' '));
		assert_ptr_equal(strchr(line, ' '), strrchr(line, ' '));
	}
	assert_true(n > 50);
	free(t);
}

static void
test_buffer_bounded(void **state)
{
	struct metrics_gauges g;
	struct metrics_buf b;
	int i;

	(void)state;
	gauges_none(&g);
	metrics_buf_init(&b, 512);
	assert_int_equal(metrics_render(&b, &g, op_name), -1);
	assert_true(b.mb_err);
	assert_true(b.mb_len < 512);
	metrics_buf_free(&b);

	/* Growth: many small appends, then one that does not fit. */
	metrics_buf_init(&b, 100000);
	for (i = 0; i < 9000; i++)
		metrics_buf_printf(&b, "%04d\n", i % 10000);
	assert_false(b.mb_err);
	assert_int_equal(b.mb_len, 45000);
	assert_int_equal(strncmp(b.mb_buf + 44995, "8999\n", 5), 0);
	metrics_buf_printf(&b, "%60000s", "x");
	assert_true(b.mb_err);
	assert_int_equal(b.mb_len, 45000);
	metrics_buf_printf(&b, "y");
	assert_int_equal(b.mb_len, 45000);
	metrics_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_empty, setup),
		cmocka_unit_test_setup(test_request_buckets, setup),
		cmocka_unit_test_setup(test_writer_and_state, setup),
		cmocka_unit_test_setup(test_gauges_and_labels, setup),
		cmocka_unit_test_setup(test_every_line_well_formed, setup),
		cmocka_unit_test_setup(test_buffer_bounded, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
