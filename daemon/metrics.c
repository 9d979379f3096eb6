/* metrics: counters, gauges, histograms and their text format (see metrics.h). */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "wire.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define ADD(x, v)	atomic_fetch_add_explicit(&(x), (v), memory_order_relaxed)
#define LOAD(x)		atomic_load_explicit(&(x), memory_order_relaxed)
#define SET(x, v)	atomic_store_explicit(&(x), (v), memory_order_relaxed)

#define HIST_MAX	16

/*
 * Durations in microseconds, shown in seconds: every read waits for an
 * fsync (its audit record), so most answers fall between 1 ms and 100 ms;
 * refusals that need no record take less.
 */
static const uint64_t time_bounds[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000
};
static const char *const time_labels[] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
	"0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"
};
/* Jobs per batch: at most WRITER_MAX_BATCH (1024). */
static const uint64_t batch_bounds[] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024
};
static const char *const batch_labels[] = {
	"1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "1024"
};

struct hist_def {
	const char		*hd_name;
	const char		*hd_help;
	size_t			 hd_n;
	const uint64_t		*hd_bounds;
	const char *const	*hd_labels;	/* le= of each bound */
	int			 hd_seconds;	/* observed in us, shown in s */
};

/* Buckets as observed (not cumulative); [hd_n] is above the last bound. */
struct hist {
	_Atomic uint64_t	h_bucket[HIST_MAX + 1];
	_Atomic uint64_t	h_sum;
};

static const struct hist_def def_latency = {
	"eenplan_request_duration_seconds",
	"Time from a request's frame to its answer, by operation.",
	NELEM(time_bounds), time_bounds, time_labels, 1
};
static const struct hist_def def_batch = {
	"eenplan_writer_batch_jobs",
	"Jobs (requests and audit-only records) per committed write "
	"transaction.",
	NELEM(batch_bounds), batch_bounds, batch_labels, 0
};
static const struct hist_def def_commit = {
	"eenplan_writer_commit_duration_seconds",
	"Time to commit a batch's write transaction, the flush of its data "
	"included.",
	NELEM(time_bounds), time_bounds, time_labels, 1
};
static const struct hist_def def_sync = {
	"eenplan_writer_sync_duration_seconds",
	"Time of the flushes that make the last commit durable when no other "
	"commit follows it.",
	NELEM(time_bounds), time_bounds, time_labels, 1
};

static const char *const hs_names[METRICS_HS__N] = {
	"ok", "tls_error", "no_certificate", "certificate_rejected", "revoked",
	"identity_refused", "timeout", "closed"
};

struct metrics {
	_Atomic uint64_t	m_requests[METRICS_OPS][METRICS_CODES];
	struct hist		m_latency[METRICS_OPS];
	_Atomic uint64_t	m_handshakes[METRICS_HS__N];
	_Atomic uint64_t	m_conn_refused;
	struct hist		m_batch;
	struct hist		m_commit;
	struct hist		m_sync;
	_Atomic uint64_t	m_commit_failures;
	_Atomic uint64_t	m_sync_failures;
	_Atomic uint64_t	m_audit_records;
	_Atomic uint64_t	m_audit_failures;
	_Atomic int		m_store_rc;
	_Atomic int		m_audit_rc;
	_Atomic int64_t		m_writer_beat;
	_Atomic int64_t		m_subs;
	_Atomic int64_t		m_sub_lag;
	_Atomic uint64_t	m_index_lag;
	_Atomic uint64_t	m_index_writer_steps;
	_Atomic uint64_t	m_wal_bytes;
	_Atomic uint64_t	m_wal_ckpts;
	_Atomic uint64_t	m_wal_ckpt_us;
	_Atomic int64_t		m_sub_pending;
	_Atomic int64_t		m_loop_beat[METRICS_LOOPS];
};

/* Zero-initialised static atomics are valid (C11 7.17.2.1). */
static struct metrics metrics;

int64_t
metrics_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
hist_observe(const struct hist_def *d, struct hist *h, uint64_t v)
{
	size_t i;

	for (i = 0; i < d->hd_n && v > d->hd_bounds[i]; i++)
		;
	ADD(h->h_bucket[i], 1);
	ADD(h->h_sum, v);
}

void
metrics_request(int op, int code, uint64_t us)
{
	if (op < 0 || op >= METRICS_OPS)
		op = 0;
	if (code < 0 || code >= METRICS_CODES)
		code = EENPLAN__V1__CODE__UNKNOWN;
	ADD(metrics.m_requests[op][code], 1);
	hist_observe(&def_latency, &metrics.m_latency[op], us);
}

void
metrics_handshake(enum metrics_hs o)
{
	if ((unsigned)o >= METRICS_HS__N)
		o = METRICS_HS_TLS_ERROR;
	ADD(metrics.m_handshakes[o], 1);
}

void
metrics_conn_refused(void)
{
	ADD(metrics.m_conn_refused, 1);
}

void
metrics_writer_batch(uint64_t jobs, uint64_t commit_us, uint64_t audits,
    int rc, int job_rc)
{
	hist_observe(&def_batch, &metrics.m_batch, jobs);
	hist_observe(&def_commit, &metrics.m_commit, commit_us);
	SET(metrics.m_store_rc, rc != 0 ? rc : job_rc);
	if (rc != 0) {
		ADD(metrics.m_commit_failures, 1);
		/* The batch's records went with it. */
		if (audits > 0) {
			ADD(metrics.m_audit_failures, audits);
			SET(metrics.m_audit_rc, rc);
		}
		return;
	}
	if (audits > 0) {
		ADD(metrics.m_audit_records, audits);
		SET(metrics.m_audit_rc, 0);
	}
}

void
metrics_writer_sync(uint64_t us, int rc)
{
	hist_observe(&def_sync, &metrics.m_sync, us);
	if (rc != 0) {
		ADD(metrics.m_sync_failures, 1);
		SET(metrics.m_store_rc, rc);
	}
}

void
metrics_audit_failed(int rc)
{
	ADD(metrics.m_audit_failures, 1);
	SET(metrics.m_audit_rc, rc);
}

void
metrics_writer_beat(void)
{
	SET(metrics.m_writer_beat, metrics_now_us());
}

void
metrics_subscribers(int delta)
{
	ADD(metrics.m_subs, delta);
}

void
metrics_sub_lag(int64_t delta)
{
	ADD(metrics.m_sub_lag, delta);
}

void
metrics_audit_index_lag(uint64_t records)
{
	SET(metrics.m_index_lag, records);
}

void
metrics_audit_index_writer_step(void)
{
	ADD(metrics.m_index_writer_steps, 1);
}

void
metrics_wal_append(uint64_t bytes)
{
	ADD(metrics.m_wal_bytes, bytes);
}

void
metrics_wal_checkpoint(uint64_t us)
{
	ADD(metrics.m_wal_ckpts, 1);
	ADD(metrics.m_wal_ckpt_us, us);
}

void
metrics_sub_pending(int64_t delta)
{
	ADD(metrics.m_sub_pending, delta);
}

void
metrics_loop_beat(unsigned slot)
{
	if (slot < METRICS_LOOPS)
		SET(metrics.m_loop_beat[slot], metrics_now_us());
}

int64_t
metrics_loop_last(unsigned slot)
{
	return slot < METRICS_LOOPS ? LOAD(metrics.m_loop_beat[slot]) : 0;
}

void
metrics_state(struct metrics_state *s)
{
	s->ms_store_rc = LOAD(metrics.m_store_rc);
	s->ms_audit_rc = LOAD(metrics.m_audit_rc);
	s->ms_writer_beat = LOAD(metrics.m_writer_beat);
}

void
metrics_reset(void)
{
	/* Tests only, with no other thread about: plain stores will do. */
	memset(&metrics, 0, sizeof(metrics));
}

/* ------------------------------------------------------------- buffer */

void
metrics_buf_init(struct metrics_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->mb_max = max;
}

void
metrics_buf_free(struct metrics_buf *b)
{
	free(b->mb_buf);
	memset(b, 0, sizeof(*b));
}

/* Room for need more bytes and a NUL; 0, or -1 (mb_err) past the maximum. */
static int
metrics_buf_room(struct metrics_buf *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->mb_err)
		return -1;
	if (b->mb_cap - b->mb_len > need)
		return 0;
	if (need >= b->mb_max - b->mb_len) {
		b->mb_err = 1;
		return -1;
	}
	cap = b->mb_cap != 0 ? b->mb_cap : b->mb_max < 4096 ? b->mb_max : 4096;
	while (cap - b->mb_len <= need)
		cap = cap > b->mb_max / 2 ? b->mb_max : cap * 2;
	if ((p = realloc(b->mb_buf, cap)) == NULL) {
		b->mb_err = 1;
		return -1;
	}
	b->mb_buf = p;
	b->mb_cap = cap;
	return 0;
}

void
metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (metrics_buf_room(b, 0) == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->mb_buf + b->mb_len, b->mb_cap - b->mb_len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->mb_err = 1;
		return;
	}
	if ((size_t)n >= b->mb_cap - b->mb_len) {
		if (metrics_buf_room(b, (size_t)n) == -1)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->mb_buf + b->mb_len, b->mb_cap - b->mb_len,
		    fmt, ap);
		va_end(ap);
		if (n < 0 || (size_t)n >= b->mb_cap - b->mb_len) {
			b->mb_err = 1;
			return;
		}
	}
	b->mb_len += (size_t)n;
}

/* ------------------------------------------------------------- format */

/* A label value as the format wants it: \\, \" and \n escaped. */
static void
render_label_value(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s != '\0' && o + 3 < outlen; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else
			out[o++] = *s;
	}
	out[o] = '\0';
}

static void
render_head(struct metrics_buf *b, const char *name, const char *type,
    const char *help)
{
	metrics_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static void
render_value(struct metrics_buf *b, uint64_t v, int seconds)
{
	if (seconds)
		metrics_buf_printf(b, "%llu.%06llu\n",
		    (unsigned long long)(v / 1000000),
		    (unsigned long long)(v % 1000000));
	else
		metrics_buf_printf(b, "%llu\n", (unsigned long long)v);
}

/* A histogram as read at one moment, plain numbers. */
struct hist_snap {
	uint64_t	hs_bucket[HIST_MAX + 1];
	uint64_t	hs_sum;
};

/* Adds h's buckets and sum into s. */
static void
hist_read(const struct hist_def *d, struct hist *h, struct hist_snap *s)
{
	size_t i;

	for (i = 0; i <= d->hd_n; i++)
		s->hs_bucket[i] += LOAD(h->h_bucket[i]);
	s->hs_sum += LOAD(h->h_sum);
}

static uint64_t
hist_total(const struct hist_def *d, const struct hist_snap *s)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i <= d->hd_n; i++)
		n += s->hs_bucket[i];
	return n;
}

/* One histogram's series; labels is "" or `op="GetPlan"`. */
static void
render_hist(struct metrics_buf *b, const struct hist_def *d,
    const struct hist_snap *s, const char *labels)
{
	const char *sep = labels[0] != '\0' ? "," : "";
	const char *open = labels[0] != '\0' ? "{" : "";
	const char *close = labels[0] != '\0' ? "}" : "";
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i <= d->hd_n; i++) {
		cum += s->hs_bucket[i];
		metrics_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n",
		    d->hd_name, labels, sep, i < d->hd_n ? d->hd_labels[i] :
		    "+Inf", (unsigned long long)cum);
	}
	metrics_buf_printf(b, "%s_sum%s%s%s ", d->hd_name, open, labels, close);
	render_value(b, s->hs_sum, d->hd_seconds);
	/* The count is the +Inf bucket, from the same reading: they agree. */
	metrics_buf_printf(b, "%s_count%s%s%s %llu\n", d->hd_name, open, labels,
	    close, (unsigned long long)cum);
}

/* A histogram without labels, as it is now. */
static void
render_hist_now(struct metrics_buf *b, const struct hist_def *d,
    struct hist *h)
{
	struct hist_snap s;

	memset(&s, 0, sizeof(s));
	hist_read(d, h, &s);
	render_head(b, d->hd_name, "histogram", d->hd_help);
	render_hist(b, d, &s, "");
}

/* The name of a slot; slot 0 and every slot without a name are "none". */
static const char *
slot_name(const char *(*op_name)(int), int i)
{
	const char *s = i != 0 && op_name != NULL ? op_name(i) : NULL;

	return s != NULL ? s : "none";
}

/* Every slot without a name is counted as "none" (slot 0). */
struct req_snap {
	uint64_t		rs_count[METRICS_OPS][METRICS_CODES];
	struct hist_snap	rs_latency[METRICS_OPS];
};

static void
render_requests(struct metrics_buf *b, const char *(*op_name)(int))
{
	struct req_snap *rs;
	char op[64], labels[96];
	int i, c, slot;

	if ((rs = calloc(1, sizeof(*rs))) == NULL) {
		b->mb_err = 1;
		return;
	}
	for (i = 0; i < METRICS_OPS; i++) {
		slot = strcmp(slot_name(op_name, i), "none") == 0 ? 0 : i;
		for (c = 0; c < METRICS_CODES; c++)
			rs->rs_count[slot][c] += LOAD(metrics.m_requests[i][c]);
		hist_read(&def_latency, &metrics.m_latency[i],
		    &rs->rs_latency[slot]);
	}
	render_head(b, "eenplan_requests_total", "counter",
	    "Requests answered, by operation and status code.");
	for (i = 0; i < METRICS_OPS; i++) {
		render_label_value(slot_name(op_name, i), op, sizeof(op));
		for (c = 0; c < METRICS_CODES; c++) {
			if (rs->rs_count[i][c] == 0)
				continue;
			metrics_buf_printf(b, "eenplan_requests_total{op=\"%s\","
			    "code=\"%s\"} %llu\n", op, wire_code_name(c),
			    (unsigned long long)rs->rs_count[i][c]);
		}
	}
	render_head(b, def_latency.hd_name, "histogram", def_latency.hd_help);
	for (i = 0; i < METRICS_OPS; i++) {
		if (hist_total(&def_latency, &rs->rs_latency[i]) == 0)
			continue;
		render_label_value(slot_name(op_name, i), op, sizeof(op));
		(void)snprintf(labels, sizeof(labels), "op=\"%s\"", op);
		render_hist(b, &def_latency, &rs->rs_latency[i], labels);
	}
	free(rs);
}

static void
render_counter(struct metrics_buf *b, const char *name, const char *help,
    uint64_t v)
{
	render_head(b, name, "counter", help);
	metrics_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void
render_gauge(struct metrics_buf *b, const char *name, const char *help,
    int64_t v)
{
	if (v < 0)
		return;
	render_head(b, name, "gauge", help);
	metrics_buf_printf(b, "%s %lld\n", name, (long long)v);
}

static void
render_dates(struct metrics_buf *b, const char *name, const char *label,
    const char *help, const struct metrics_date *d, size_t n)
{
	char what[96];
	size_t i;

	if (n == 0)
		return;
	render_head(b, name, "gauge", help);
	for (i = 0; i < n; i++) {
		render_label_value(d[i].md_what, what, sizeof(what));
		metrics_buf_printf(b, "%s{%s=\"%s\"} %lld\n", name, label, what,
		    (long long)d[i].md_time);
	}
}

static void
render_writer(struct metrics_buf *b)
{
	render_hist_now(b, &def_batch, &metrics.m_batch);
	render_hist_now(b, &def_commit, &metrics.m_commit);
	render_hist_now(b, &def_sync, &metrics.m_sync);
	render_head(b, "eenplan_writer_failures_total", "counter",
	    "Write transactions that failed, by stage: nothing of a failed "
	    "batch is answered OK.");
	metrics_buf_printf(b, "eenplan_writer_failures_total{stage=\"commit\"} "
	    "%llu\n", (unsigned long long)LOAD(metrics.m_commit_failures));
	metrics_buf_printf(b, "eenplan_writer_failures_total{stage=\"sync\"} "
	    "%llu\n", (unsigned long long)LOAD(metrics.m_sync_failures));
	render_counter(b, "eenplan_audit_records_total", "Audit records "
	    "committed since the start.", LOAD(metrics.m_audit_records));
	render_counter(b, "eenplan_audit_failures_total", "Audit records that "
	    "could not be written (their requests failed).",
	    LOAD(metrics.m_audit_failures));
}

int
metrics_render(struct metrics_buf *b, const struct metrics_gauges *g,
    const char *(*op_name)(int))
{
	int64_t v;
	size_t i;

	render_requests(b, op_name);
	render_head(b, "eenplan_handshakes_total", "counter",
	    "TLS handshakes, by outcome.");
	for (i = 0; i < METRICS_HS__N; i++)
		metrics_buf_printf(b, "eenplan_handshakes_total{outcome=\"%s\"} "
		    "%llu\n", hs_names[i],
		    (unsigned long long)LOAD(metrics.m_handshakes[i]));
	render_head(b, "eenplan_connections_refused_total", "counter",
	    "Connections closed at accept, by reason.");
	metrics_buf_printf(b, "eenplan_connections_refused_total{reason="
	    "\"max_connections\"} %llu\n",
	    (unsigned long long)LOAD(metrics.m_conn_refused));
	render_gauge(b, "eenplan_connections_open", "Client connections open "
	    "(handshaking or ready).", g->mg_conns);
	render_gauge(b, "eenplan_connections_max", "The max_connections limit.",
	    g->mg_conns_max);
	render_writer(b);
	render_gauge(b, "eenplan_store_map_size_bytes", "The store's map size "
	    "(map_max): the most its file may grow to.", g->mg_map_size);
	render_gauge(b, "eenplan_store_map_used_bytes", "Bytes of the map in "
	    "use (up to the last page written; freed pages are reused).",
	    g->mg_map_used);
	render_gauge(b, "eenplan_store_readers", "Reader slots of the store "
	    "taken so far (LMDB's high-water mark: this daemon and operator "
	    "commands).", g->mg_readers);
	render_gauge(b, "eenplan_store_readers_max", "Reader slots of the "
	    "store.", g->mg_readers_max);
	render_gauge(b, "eenplan_store_disk_free_bytes", "Bytes free for the "
	    "daemon on the file system of data_dir.", g->mg_disk_free);
	render_gauge(b, "eenplan_store_disk_size_bytes", "Size of the file "
	    "system of data_dir.", g->mg_disk_size);
	render_gauge(b, "eenplan_audit_last_seq", "Sequence number of the last "
	    "audit record committed.", g->mg_audit_seq);
	render_gauge(b, "eenplan_feed_last_seq", "Sequence number of the last "
	    "change event committed.", g->mg_feed_seq);
	render_gauge(b, "eenplan_audit_index_lag_records", "Durable audit "
	    "records the audit index did not cover yet when the indexer last "
	    "began a step (queries read them from the log).",
	    LOAD(metrics.m_index_lag));
	render_counter(b, "eenplan_audit_index_writer_steps_total", "Index "
	    "steps the writer ran itself because the indexer was more than "
	    "audit_index_lag_max durable records behind.",
	    LOAD(metrics.m_index_writer_steps));
	render_counter(b, "eenplan_wal_bytes_total", "Bytes appended to the "
	    "write-ahead log (each flushed before its commit is answered).",
	    LOAD(metrics.m_wal_bytes));
	render_counter(b, "eenplan_wal_checkpoints_total", "Checkpoints: the "
	    "data file flushed and its snapshot recorded in wal.ckpt.",
	    LOAD(metrics.m_wal_ckpts));
	render_head(b, "eenplan_wal_checkpoint_seconds_total", "counter",
	    "Time the checkpoints took (the data file's flush, off the "
	    "answers' path).");
	metrics_buf_printf(b, "eenplan_wal_checkpoint_seconds_total %.6f\n",
	    (double)LOAD(metrics.m_wal_ckpt_us) / 1e6);
	render_gauge(b, "eenplan_feed_subscribers", "Push subscriptions open.",
	    LOAD(metrics.m_subs));
	v = LOAD(metrics.m_sub_lag);
	render_gauge(b, "eenplan_feed_subscriber_lag_events", "Change events "
	    "committed after the last one each subscriber was given or "
	    "passed, summed over subscribers (as of their last round).",
	    v < 0 ? 0 : v);
	v = LOAD(metrics.m_sub_pending);
	render_gauge(b, "eenplan_feed_subscriber_pending_bytes", "Bytes queued "
	    "unsent on the subscribers' connections, summed (as of their last "
	    "round).", v < 0 ? 0 : v);
	render_dates(b, "eenplan_certificate_expiry_timestamp_seconds",
	    "certificate", "When each certificate the server relies on "
	    "expires (notAfter).", g->mg_certs, g->mg_ncerts);
	render_dates(b, "eenplan_crl_next_update_timestamp_seconds", "issuer",
	    "When each CRL is due to be replaced (nextUpdate); after it, "
	    "certificates of that CA are refused.", g->mg_crls, g->mg_ncrls);
	render_gauge(b, "eenplan_ready", "1 when /readyz answers 200.",
	    g->mg_ready);
	render_gauge(b, "eenplan_start_time_seconds", "When the daemon started, "
	    "in seconds since the epoch.", g->mg_start_time);
	return b->mb_err ? -1 : 0;
}
