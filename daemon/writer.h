/*
 * writer: the one thread that owns every LMDB write transaction. Workers hand
 * it jobs; it takes the jobs waiting (at most WRITER_MAX_BATCH), runs each in
 * its own child txn inside one parent txn, appends each job's audit record
 * in that same child, commits the parent once (one fsync for the batch) and
 * only then hands the jobs back (wj_post), so no response leaves before its
 * data and audit record are on disk. No libevent here: wj_post is the
 * caller's way to wake its loop.
 */
#ifndef EENPLAN_WRITER_H
#define EENPLAN_WRITER_H

#include <stdint.h>

#include "wire.h"
#include "principal.h"
#include "store.h"

struct writer;
struct wjob;

/*
 * Jobs per parent txn; the rest wait for the next batch. LMDB caps the pages
 * one write txn may change (MDB_TXN_FULL, about 128k) and a parent cannot
 * spill while its children run: ordinary jobs change a handful of pages, so
 * this leaves ample room, and one fsync still serves a thousand requests.
 */
#define WRITER_MAX_BATCH	1024

/*
 * Runs in the writer thread inside a child txn. Returns 0 to keep what it
 * wrote, or -1 to roll the child back (a refused or invalid request: it sets
 * its own status in wj_arg and the audit record's outcome). A store error it
 * gets back (STORE_FULL, ...) it returns as -1 too, after setting its status.
 */
typedef int	(*wjob_exec_fn)(struct wjob *, struct stxn *);
/* Runs in the writer thread after the commit (or its failure): must only queue. */
typedef void	(*wjob_post_fn)(struct wjob *);

/*
 * A job whose change ran but could not be kept (its record or its child
 * failed) fails with nothing of its change written; its record is then
 * tried alone, outcome RESOURCE_EXHAUSTED (storage full) or UNAVAILABLE, so
 * the attempt is on record when there is room for that.
 */
struct wjob {
	wjob_exec_fn	 wj_exec;	/* NULL: the job only appends its audit record */
	wjob_post_fn	 wj_post;
	void		(*wj_done)(struct wjob *);	/* the caller's, on its
							   own thread after post */
	void		*wj_arg;	/* the caller's */
	EpAuditRecord	*wj_audit;	/* appended in the job's child txn;
					   NULL only without wj_exec (a
					   change without it: STORE_ERR) */
	int		 wj_exec_rc;	/* what wj_exec returned */
	int		 wj_rc;		/* STORE_OK: committed (data if kept, and audit);
					   else why not — the request must fail */
	uint64_t	 wj_bytes;	/* bytes its child txn put (data and record) */
	const struct principal *wj_who;	/* who asked (recorded as known), or NULL */
	/*
	 * wj_exec (if any) only reads: the job changes nothing but its audit
	 * record (a read). Such jobs run together in one child txn.
	 */
	int		 wj_readonly;
	struct wjob	*wj_next;	/* writer's queue link */
};

struct writer_stats {
	uint64_t	ws_batches;
	uint64_t	ws_jobs;
	uint64_t	ws_max_batch;
	uint64_t	ws_failed_commits;
	uint64_t	ws_commits;	/* LMDB commits of batches */
	uint64_t	ws_parts;	/* batches logged into an open txn */
};

/*
 * Housekeeping in the writer thread: tick runs about every second, in a
 * child txn of a batch (or of an empty one when idle) — the expiry sweep —
 * and returns the changes it made (>= 0) or a STORE_* error (the child is
 * then rolled back). notify runs after every commit that appended change
 * events (the workers then push them to their subscribers). Set before
 * the writer has jobs.
 */
typedef int	(*writer_tick_fn)(struct stxn *, void *);
typedef void	(*writer_notify_fn)(void *);
/*
 * Durable audit records that gather before the indexer indexes them
 * (default WRITER_INDEX_LAG; after a second of waiting it indexes whatever
 * waits). Smaller steps spread its page writes (the GetPlan p99 at half of
 * peak: 8.6 ms at 1024, 5.7 at 256, 4.6 at 128; eenplan-bench, 100,000
 * households, 8,000/s open loop).
 */
#define WRITER_INDEX_LAG	128
void	writer_set_index_lag(struct writer *, uint32_t);
/*
 * The indexer runs at the lowest priority (WRITER_INDEX_NICE): it takes
 * the CPU the workers and the writer leave. Should it still fall more
 * than this many durable records behind (a machine kept busy), the writer
 * indexes a step itself after a flush, when the indexer is not in one
 * (default WRITER_INDEX_LAG_MAX).
 */
#define WRITER_INDEX_LAG_MAX	16384
void	writer_set_index_lag_max(struct writer *, uint32_t);
/*
 * A clean stop (writer_stop) lets the indexer index the durable records
 * that still wait for at most this long, so that the index ends where the
 * log does; the next start's indexer does any rest. 0: not at all
 * (default WRITER_INDEX_STOP_MS).
 */
#define WRITER_INDEX_STOP_MS	3000
void	writer_set_index_stop_ms(struct writer *, uint32_t);
/*
 * With the log: a batch that wrote nothing but audit records (reads) is
 * logged as a part of the txn the writer keeps open (store_commit_part),
 * not committed into LMDB, for at most this long from its first part; a
 * batch that changes anything else, a queue that stays empty for
 * WRITER_OPEN_IDLE_US, a reader of the audit log (writer_audit_barrier)
 * or a stop commits it. 0: every batch is committed (default
 * WRITER_AUDIT_COMMIT_MS). A/B on the bench store (100,000 households,
 * tests/bench/getplan_ab.sh 2 9000, AMD EPYC 2 cores, 2026-12-03):
 * closed-loop GetPlan 18.5k and 21.9k/s against 14.5k and 15.2k/s for
 * the build before (14.7k and 15.9k with audit_commit_ms = 0); p99 at
 * 9,000/s open loop 26.5 ms both rounds against 94.9 and 66.1 ms (p50
 * 1.4 and 0.9 against 18.4 and 5.1); 3.2 kB written to the disk per read
 * at 9,000/s (tests/bench/disk_writes.sh) against 15.7 kB at 6,800/s.
 */
#define WRITER_AUDIT_COMMIT_MS	100
#define WRITER_OPEN_IDLE_US	2000
void	writer_set_audit_commit_ms(struct writer *, uint32_t);
/* Tests: how long no batch may come before the open txn is committed. */
void	writer_set_open_idle_us(struct writer *, uint32_t);
/*
 * For a reader of the audit log (QueryAudit): returns once every record
 * answered before the call is committed, so a snapshot begun after it
 * sees them. Thread-safe; waits at most one batch.
 */
void	writer_audit_barrier(struct writer *);
void	writer_set_hooks(struct writer *, writer_tick_fn, writer_notify_fn,
	    void *arg);

/*
 * After every commit that returned 0 (its head possibly not yet durable):
 * the audit head it left, for the anchor (anchor.h). Must only copy it.
 */
struct audit_head;
typedef void	(*writer_commit_fn)(const struct audit_head *, void *);
void	writer_set_commit_hook(struct writer *, writer_commit_fn, void *arg);

/* Loads the audit head from the store and starts the thread. NULL on failure. */
struct writer *writer_start(struct store *, char *err, size_t errlen);
/* Thread-safe. After writer_stop it posts the job back at once with STORE_ERR. */
void	writer_submit(struct writer *, struct wjob *);
/*
 * Finishes the jobs already queued, then joins the thread. The writer stays
 * valid (later submits are posted back with STORE_ERR) until writer_free.
 */
void	writer_stop(struct writer *);
/* Stops the writer if still running, then frees it. */
void	writer_free(struct writer *);
void	writer_stats(struct writer *, struct writer_stats *);

#endif
