/*
 * metrics: the daemon's counters, gauges and histograms, and the state its
 * health and readiness checks read. Updated from any thread with C11
 * atomics (relaxed: a scrape needs no ordering between them); written in
 * the Prometheus text exposition format (0.0.4) when the admin listener is
 * scraped. Labels carry operation names, status codes, outcomes and
 * certificate names only: never a household, a person or plan content.
 * No I/O and no libevent here.
 */
#ifndef EENPLAN_METRICS_H
#define EENPLAN_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Request body cases (wire field numbers) counted apart; 0 is "none". */
#define METRICS_OPS	64
/* Status codes OK (0) .. UNAUTHENTICATED (16); others count as UNKNOWN. */
#define METRICS_CODES	17
/* Event loops watched by /healthz: the main thread's and every worker's. */
#define METRICS_LOOPS	260

/* How a TLS handshake ended. */
enum metrics_hs {
	METRICS_HS_OK = 0,
	METRICS_HS_TLS_ERROR,		/* protocol, version, cipher, ALPN ... */
	METRICS_HS_NO_CERT,		/* the client sent no certificate */
	METRICS_HS_CERT_REJECTED,	/* its chain did not verify (unknown CA,
					   expired, ...) */
	METRICS_HS_REVOKED,		/* the CRL revokes it */
	METRICS_HS_IDENTITY,		/* verified, but the identity is refused
					   (wrong O, a role its CA may not issue) */
	METRICS_HS_TIMEOUT,		/* handshake_timeout */
	METRICS_HS_CLOSED,		/* the peer left during the handshake */
	METRICS_HS__N
};

/* Monotonic microseconds: the clock every duration here is taken on. */
int64_t	metrics_now_us(void);

/* Once per answered request: its operation (body case), status and time. */
void	metrics_request(int op, int code, uint64_t us);
void	metrics_handshake(enum metrics_hs);
/* A connection refused at accept (max_connections). */
void	metrics_conn_refused(void);

/*
 * The writer, once per batch that had jobs: how many, how long its commit
 * took (with the flush of its data), the audit records it added (on a
 * failed commit: lost), the commit's STORE_* code, and the first store
 * error one of its jobs met (a change or record that did not fit). The
 * two decide the store readiness check until the next batch.
 */
void	metrics_writer_batch(uint64_t jobs, uint64_t commit_us,
	    uint64_t audits, int rc, int job_rc);
/* A flush of its own (store_sync) that made the last commit durable. */
void	metrics_writer_sync(uint64_t us, int rc);
/* An audit record that could not be appended (STORE_* code). */
void	metrics_audit_failed(int rc);
/* The writer finished a turn of its loop (also when idle, about every s). */
void	metrics_writer_beat(void);

/* Push subscriptions: +1 / -1, and changes of their lag and unsent bytes. */
void	metrics_subscribers(int delta);
void	metrics_sub_lag(int64_t delta_events);
void	metrics_audit_index_lag(uint64_t records);
void	metrics_audit_index_writer_step(void);
void	metrics_wal_append(uint64_t bytes);
void	metrics_wal_checkpoint(uint64_t us);
void	metrics_sub_pending(int64_t delta_bytes);

/* An event loop ran (slot 0: main thread, 1 + i: worker i). */
void	metrics_loop_beat(unsigned slot);
/* When slot last ran (metrics_now_us), 0 if never. */
int64_t	metrics_loop_last(unsigned slot);

/* What the readiness checks read. */
struct metrics_state {
	int		ms_store_rc;	/* last batch with jobs: STORE_* */
	int		ms_audit_rc;	/* last audit append: STORE_* */
	int64_t		ms_writer_beat;	/* metrics_now_us, 0: never */
};
void	metrics_state(struct metrics_state *);

/* A certificate or CRL date shown as a gauge (label: what). */
struct metrics_date {
	const char	*md_what;	/* "server", "root", "org:lev" */
	int64_t		 md_time;	/* seconds since the epoch */
};

/* Gauges the admin reads at scrape time; a negative value is left out. */
struct metrics_gauges {
	int64_t		 mg_start_time;		/* s since the epoch */
	int64_t		 mg_conns;
	int64_t		 mg_conns_max;
	int64_t		 mg_map_size;
	int64_t		 mg_map_used;
	int64_t		 mg_readers;
	int64_t		 mg_readers_max;
	int64_t		 mg_disk_free;
	int64_t		 mg_disk_size;
	int64_t		 mg_feed_seq;
	int64_t		 mg_audit_seq;
	int64_t		 mg_ready;		/* 1 or 0 */
	const struct metrics_date *mg_certs;	/* not after */
	size_t		 mg_ncerts;
	const struct metrics_date *mg_crls;	/* next update */
	size_t		 mg_ncrls;
};

/* A growable text buffer born with its maximum; mb_err once it is hit. */
struct metrics_buf {
	char		*mb_buf;
	size_t		 mb_len;
	size_t		 mb_cap;
	size_t		 mb_max;
	int		 mb_err;
};
void	metrics_buf_init(struct metrics_buf *, size_t max);
void	metrics_buf_printf(struct metrics_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	metrics_buf_free(struct metrics_buf *);

/*
 * Everything, in the text format, into b: the counters and histograms,
 * then the gauges of g. op_name names a body case (NULL: not an operation,
 * shown as "none"). 0, or -1 when b hit its maximum.
 */
int	metrics_render(struct metrics_buf *b, const struct metrics_gauges *g,
	    const char *(*op_name)(int));

/* For tests: every counter back to zero. */
void	metrics_reset(void);

#endif
