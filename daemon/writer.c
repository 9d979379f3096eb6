/*
 * writer: the group-commit thread (see writer.h).
 *
 * With the write-ahead log ([store] write_ahead_log = on, the default;
 * wal.c says why it is safe) a batch's commit appends its changes to the
 * log without flushing it (store_commit_unflushed) and hands the batch to
 * a flusher thread, which flushes the log (one fdatasync covers every
 * record appended before it began) and only then answers the batch — and
 * any batch before it still waiting for a flush of its own, oldest first
 * (WRITER_FLUSHERS): the writer runs the next batch while the disk works,
 * so a cycle costs the larger of the two, not their sum. Readers (and the
 * next batch) see a batch before it is durable, but nothing they learn
 * from it leaves before it is: every answer goes out through a batch of
 * its own (its audit record), after that batch's flush, and flushes cover
 * the log in order. The writer waits
 * while a batch it handed over is not yet taken by a flusher, so at most
 * WRITER_FLUSHERS batches are being flushed and one waits; the jobs that
 * arrive meanwhile make the next batch larger.
 *
 * Batches of reads (they write only their audit records and the head) are
 * not committed into LMDB one by one: the writer keeps the txn open and
 * logs each such batch as a part of it (store_commit_part, wal_append_part)
 * — answered, like a commit, once the flush covering it returned. Parts
 * are replayed with the txn's other records, and committed even when its
 * commit never came (a power cut, or kill -9: wal_replay_from), so an
 * answered read's record survives as an answered write does. What no
 * reader may miss is committed before it is read: any batch that changes
 * more than the audit log commits the txn with it (so a change is never
 * answered while readers cannot see it), and a reader of the log
 * (QueryAudit) has it committed first (writer_audit_barrier). Otherwise
 * it is committed when no batch came for WRITER_OPEN_IDLE_US, when it is
 * audit_commit_ms old, or at a stop. A failure to log a part, or to
 * commit a txn with logged parts, is final (store_fail_open_txn): the
 * daemon stops and the next start replays them. So a batch with a change
 * commits the open txn alone before it runs (its failure is then its
 * own), and none is kept open near a full map or file system
 * (WRITER_OPEN_ROOM) or after a batch met one (w_space_trouble): a full
 * disk refuses requests and leaves the daemon up, as before. Why: a
 * commit copies the pages it touches (the log's last leaf, branch pages,
 * the free list, the meta database), which at a few reads per batch was
 * most of what a read cost the disk and much of the writer's time (A/B
 * in writer.h).
 *
 * Without the log, LMDB's own order, as follows.
 *
 * Why an answer never leaves before what it acknowledges survives a power
 * cut at any instant (tested by tests/blackbox/test_crash.py):
 *
 * - LMDB keeps two meta pages (pages 0 and 1) and writes them in turn; at
 *   open it takes the one with the higher txn id. A commit (mdb_txn_commit)
 *   writes its new pages, flushes them (fdatasync), and only then writes
 *   its meta page: 120 bytes (map size, the two roots, last page, txn id)
 *   inside the first 512-byte sector of that page. A meta page on disk
 *   therefore always names pages that reached the disk before it.
 * - LMDB reuses a freed page only once no reader and neither of the two
 *   newest snapshots can see it, so the tree of the older meta page stays
 *   whole while a newer commit's pages are written: whatever subset of
 *   the writes since the last flush a cut leaves, one of the two meta
 *   pages describes a complete tree — the last flushed commit's or, if
 *   its meta page landed, the one after it.
 * - With MDB_NOMETASYNC that meta page is written without a flush. It is
 *   durable once the next flush of the file returned: the next commit's
 *   data flush (which flushes every dirty page of the file, the meta page
 *   before it too) or store_sync. So a batch is answered (wj_post) only
 *   after that next flush: writer_durable keeps it pending while more
 *   work waits, else flushes at once; a commit that changed nothing
 *   flushes nothing (LMDB skips it) and is never taken for that flush.
 *   A job's audit record is in its child txn, so the record and the change
 *   it records land, or are lost, together, and no answer leaves first.
 *
 * What this leans on: the disk honours fdatasync (a write cache that lies
 * loses anything), and writes a 512-byte sector whole. LMDB 0.9.24's meta
 * pages carry no checksum. A device that tore inside a sector and kept
 * the new txn id without the new roots would make LMDB open the tree of
 * two commits before: whole, so no check here sees it, and the commit in
 * between — answered — is gone (DESIGN.md's `audit verify --expect`, a
 * chain head kept outside the store, would; it is not built yet). With
 * the new free-list root and the old main root it opens a damaged tree:
 * refused at start, DATA_LOSS answers, or LMDB aborting on its own
 * assertion (mdb_page_touch). The crash test's disk model keeps sectors
 * whole; those cases were tried by hand, not in the test.
 */
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "audit.h"
#include "metrics.h"
#include "seal.h"
#include "util.h"
#include "writer.h"

/* Seconds of no work after which the writer looks at the keyring. */
#define WRITER_IDLE_S	1
#define WRITER_SEEN	4096	/* people remembered as recorded */
/*
 * The audit index (log_hh, log_org) is built by the indexer, a thread of
 * its own beside the writer, in the index's own LMDB environment (see
 * store.h): one page write per household a record names, random across the
 * households, which in the writer's batches was the GetPlan tail (a 10-25
 * ms stall every ~1,000 audited requests at first, every 256th batch later)
 * and, at 1,000,000 households, half of the read throughput (every index
 * step also copied the index's branch pages, a level deeper). The indexer
 * indexes only records known durable (w_durable: the writer moves it after
 * each flush), so a power cut never leaves it naming a record the log lost,
 * in steps of up to WRITER_INDEX_STEP records once audit_index_lag of them
 * wait, or all of them after WRITER_IDLE_S of waiting. Queries read the
 * log past it directly meanwhile.
 *
 * The indexer runs at nice WRITER_INDEX_NICE: its work is never what an
 * answer waits for, so it takes the CPU the workers and the writer leave
 * rather than a fair share of it (A/B, tests/bench/getplan_ab.sh 3 11000,
 * 100,000 households: closed-loop GetPlan 21.3k/21.2k/22.5k/s at nice 0,
 * 25.0k/24.9k/27.4k/s at 19; the p99 at 11,000/s unchanged, ~3.1-3.9 ms).
 * On a machine kept busy it could then fall behind without bound, and a
 * query reads what it has not indexed from the log: past
 * audit_index_lag_max durable records, the writer indexes a step of
 * WRITER_VALVE_STEP itself after a flush — if the indexer is not in one
 * (w_ix_step, tried, never waited for: a low-priority thread holding it
 * would stall the writer).
 */
#define WRITER_INDEX_STEP	4096
#define WRITER_INDEX_NICE	19
#define WRITER_VALVE_STEP	1024
#define WRITER_INDEX_FLUSH_US	(1 * 1000000)
/* Free space (map and file system) below which no txn is kept open. */
#define WRITER_OPEN_ROOM	((uint64_t)32 << 20)

/*
 * Log flushes in flight at once. One flush covers every record appended
 * before it began (wal_sync), so a flusher that takes the next batch while
 * another flushes the one before overlaps the two on the device, and the
 * batch no longer waits for the previous flush to end before its own
 * begins. Answers still leave in log order: whichever flush ends first
 * answers every batch it covers, oldest first, under w_fl_post.
 * A/B against one flusher (tests/bench/getplan_ab.sh, 13 interleaved
 * rounds, 100,000 households, AMD EPYC 2 cores, 2026-12-02): MutatePlan
 * 6.4k against 6.1k/s (median, better in 11 of 13 rounds, median ratio
 * 1.12), closed-loop GetPlan median ratio 1.10 (better in 8 of 13; this
 * disk's drift is larger than that), open-loop p99 at 5,000 GetPlan/s 20
 * against 26 ms (better in 7 of 13). Four threads flushing one file here
 * made 6.5k flushes/s against 6.0k for two and 4.1k for one.
 */
#ifndef WRITER_FLUSHERS
#define WRITER_FLUSHERS	2
#endif

/* Batches handed to the flushers as one: answered once lsn is durable. */
struct writer_unit {
	struct wjob	*wu_head;
	uint64_t	 wu_lsn;
	uint64_t	 wu_seq;	/* the audit seq it makes durable */
};

struct writer {
	struct store		*w_store;
	pthread_t		 w_thread;
	pthread_mutex_t		 w_mtx;
	pthread_cond_t		 w_cond;
	struct wjob		*w_head;	/* FIFO, under w_mtx */
	struct wjob		*w_tail;
	int			 w_stopping;	/* under w_mtx */
	int			 w_joined;
	struct writer_stats	 w_stats;	/* under w_mtx */
	struct audit_head	 w_ahead;	/* writer thread only */
	uint32_t		 w_index_lag;	/* records before indexing */
	uint32_t		 w_index_lag_max; /* ... before the writer does */
	int64_t			 w_index_stop_us; /* catching up at a stop */
	pthread_mutex_t		 w_ix_step;	/* held for an index step */
	uint64_t		 w_commit_seq;	/* writer thread only: the last
						   audit seq, as of the last
						   commit */
	/* The indexer (see above). */
	pthread_t		 w_ix_thread;
	int			 w_ix_started;
	pthread_mutex_t		 w_ix_mtx;
	pthread_cond_t		 w_ix_cond;
	uint64_t		 w_durable;	/* under w_ix_mtx: the last audit
						   seq known durable */
	int			 w_ix_stopping;	/* under w_ix_mtx */
	int			 w_reload;	/* writer thread only: w_ahead
						   may not match the disk */
	struct wjob		*w_pending;	/* writer thread only: committed,
						   its meta not yet flushed */
	int			 w_test_ack_early; /* test only: see writer_start */
	writer_tick_fn		 w_tick;
	writer_notify_fn	 w_notify;
	void			*w_hook_arg;
	int64_t			 w_last_tick;	/* writer thread only, us */
	writer_commit_fn	 w_commit_hook;	/* the anchor's, or NULL */
	void			*w_commit_arg;
	int			 w_batch_err;	/* writer thread only: the first
						   store error a job of this
						   batch met (for readiness) */
	uint64_t		 w_seen[WRITER_SEEN];	/* writer thread only:
							   hashes of people known */
	uint64_t		 w_batch_lsn;	/* writer thread only: the last
						   commit's log record */
	/* The flushers (with the log; see the top and WRITER_FLUSHERS). */
	pthread_t		 w_fl_thread[WRITER_FLUSHERS];
	int			 w_fl_started;	/* how many run */
	pthread_mutex_t		 w_fl_post;	/* held while answering */
	struct writer_unit	 w_fl_unit[WRITER_FLUSHERS];	/* under
					   w_fl_mtx: taken, not yet answered,
					   in the order taken (= lsn order) */
	unsigned		 w_fl_units;	/* under w_fl_mtx */
	pthread_mutex_t		 w_fl_mtx;
	pthread_cond_t		 w_fl_cond;	/* work handed over, or stop */
	pthread_cond_t		 w_fl_taken;	/* the handed-over work taken */
	struct wjob		*w_fl_head;	/* under w_fl_mtx: to answer */
	struct wjob		*w_fl_tail;
	uint64_t		 w_fl_lsn;	/* under w_fl_mtx: to flush */
	uint64_t		 w_fl_seq;	/* under w_fl_mtx: audit seq */
	int			 w_fl_work;	/* under w_fl_mtx */
	int			 w_fl_stopping;	/* under w_fl_mtx */
	/* The txn kept open across audit-only batches (see writer.h). */
	struct stxn		*w_open;	/* writer thread only */
	int64_t			 w_open_at;	/* writer thread only: us, its
						   first part */
	int64_t			 w_open_us;	/* audit_commit_ms, in us */
	int64_t			 w_open_idle_us; /* WRITER_OPEN_IDLE_US */
	int			 w_space_trouble; /* writer thread: a batch met a
						   full map or disk since the
						   last good commit */
	int			 w_room_ok;	/* writer thread: store_room_ok,
						   as last looked at */
	int64_t			 w_room_at;	/* writer thread: then, us */
	int			 w_open_parts;	/* under w_mtx: it holds parts
						   that are, or will be,
						   answered */
	uint64_t		 w_closed;	/* under w_mtx: open txns ended */
	int			 w_barrier;	/* under w_mtx: a reader waits */
	int			 w_done;	/* under w_mtx: the thread ended */
	pthread_cond_t		 w_closed_cond;	/* w_closed moved, or w_done */
};

static uint64_t
writer_who_hash(const struct principal *p)
{
	uint64_t h = 1469598103934665603ULL;
	const char *s;

	for (s = p->pr_org; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (s = p->pr_subject; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	h = (h ^ (uint64_t)(p->pr_role + 1)) * 1099511628211ULL;
	return h == 0 ? 1 : h;
}

/*
 * Records who asked among the people the deployment knows (TransferRegie
 * names only a known professional), in the job's txn; remembered, so a
 * known person costs no lookup.
 */
static int
writer_know(struct writer *w, struct stxn *t, const struct principal *who)
{
	EpPrincipal e = EENPLAN__V1__PRINCIPAL__INIT, *old = NULL;
	uint64_t h;
	int rc;

	if (who == NULL || who->pr_org[0] == '\0' || who->pr_subject[0] == '\0')
		return STORE_OK;
	h = writer_who_hash(who);
	if (w->w_seen[h % WRITER_SEEN] == h)
		return STORE_OK;
	rc = store_person_get(t, who->pr_org, who->pr_subject, &old);
	if (rc == STORE_OK && (int)old->role == who->pr_role)
		rc = STORE_OK;
	else if (rc == STORE_OK || rc == STORE_NOTFOUND) {
		e.org = (char *)(uintptr_t)who->pr_org;
		e.subject = (char *)(uintptr_t)who->pr_subject;
		e.role = who->pr_role;
		rc = store_person_put(t, &e);
	}
	if (old != NULL)
		protobuf_c_message_free_unpacked(&old->base, NULL);
	if (rc == STORE_OK)
		w->w_seen[h % WRITER_SEEN] = h;
	return rc;
}

#define WRITER_TICK_US	1000000

void
writer_set_index_lag(struct writer *w, uint32_t lag)
{
	pthread_mutex_lock(&w->w_ix_mtx);
	w->w_index_lag = lag > 0 ? lag : 1;
	pthread_cond_signal(&w->w_ix_cond);
	pthread_mutex_unlock(&w->w_ix_mtx);
}

void
writer_set_index_lag_max(struct writer *w, uint32_t max)
{
	pthread_mutex_lock(&w->w_ix_mtx);
	w->w_index_lag_max = max > 0 ? max : 1;
	pthread_mutex_unlock(&w->w_ix_mtx);
}

void
writer_set_index_stop_ms(struct writer *w, uint32_t ms)
{
	pthread_mutex_lock(&w->w_ix_mtx);
	w->w_index_stop_us = (int64_t)ms * 1000;
	pthread_mutex_unlock(&w->w_ix_mtx);
}

void
writer_set_audit_commit_ms(struct writer *w, uint32_t ms)
{
	w->w_open_us = (int64_t)ms * 1000;
}

void
writer_set_open_idle_us(struct writer *w, uint32_t us)
{
	w->w_open_idle_us = us;
}

void
writer_audit_barrier(struct writer *w)
{
	uint64_t closed;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->w_mtx);
	if (w->w_open_parts) {
		closed = w->w_closed;
		w->w_barrier = 1;
		pthread_cond_signal(&w->w_cond);
		while (w->w_closed == closed && !w->w_done)
			pthread_cond_wait(&w->w_closed_cond, &w->w_mtx);
	}
	pthread_mutex_unlock(&w->w_mtx);
}

/* The open txn ended (committed, or failed): readers waiting go on. */
static void
writer_open_closed(struct writer *w)
{
	pthread_mutex_lock(&w->w_mtx);
	if (w->w_open_parts) {
		w->w_open_parts = 0;
		w->w_closed++;
		pthread_cond_broadcast(&w->w_closed_cond);
	}
	w->w_barrier = 0;
	pthread_mutex_unlock(&w->w_mtx);
}

/*
 * Whether the batch just run in parent is logged as a part of it, the txn
 * kept open (see writer.h): only with the log and flushers, for a txn that
 * holds audit records alone, while it is young and no reader of the log
 * waits.
 */
static int
writer_keep_open(struct writer *w, struct stxn *parent, struct wjob *batch,
    int cont)
{
	int no;

	int64_t now;

	if (batch == NULL || w->w_open_us <= 0 || !w->w_fl_started ||
	    w->w_test_ack_early || !store_txn_only_audit(parent) ||
	    w->w_space_trouble || w->w_batch_err != STORE_OK)
		return 0;
	now = metrics_now_us();
	if (cont && now - w->w_open_at >= w->w_open_us)
		return 0;
	/*
	 * A txn with answered parts that cannot be committed is final: none
	 * is begun near a full map or disk (looked at every 100 ms).
	 */
	if (now - w->w_room_at >= 100000 || w->w_room_at == 0) {
		w->w_room_ok = store_room_ok(w->w_store, WRITER_OPEN_ROOM);
		w->w_room_at = now;
	}
	if (!w->w_room_ok)
		return 0;
	pthread_mutex_lock(&w->w_mtx);
	no = w->w_barrier || w->w_stopping;
	pthread_mutex_unlock(&w->w_mtx);
	return !no;
}

void
writer_set_hooks(struct writer *w, writer_tick_fn tick, writer_notify_fn notify,
    void *arg)
{
	w->w_tick = tick;
	w->w_notify = notify;
	w->w_hook_arg = arg;
}

void
writer_set_commit_hook(struct writer *w, writer_commit_fn fn, void *arg)
{
	/* The writer thread runs already: arg first, then fn (released). */
	__atomic_store_n(&w->w_commit_arg, arg, __ATOMIC_RELAXED);
	__atomic_store_n(&w->w_commit_hook, fn, __ATOMIC_RELEASE);
}

/* audit_append, with a failure counted (the readiness check "audit"). */
static int
writer_append(struct writer *w, struct stxn *t, EpAuditRecord *rec)
{
	int rc;

	if ((rc = audit_append(t, &w->w_ahead, rec)) != STORE_OK)
		metrics_audit_failed(rc);
	return rc;
}

/*
 * Records up to seq are on disk: the indexer may index them; woken when
 * audit_index_lag of them wait.
 */
static void
writer_set_durable(struct writer *w, uint64_t seq)
{
	uint64_t behind = 0, max;
	int rc;

	pthread_mutex_lock(&w->w_ix_mtx);
	if (seq > w->w_durable) {
		w->w_durable = seq;
		behind = seq - store_audit_indexed(w->w_store);
		if (behind >= w->w_index_lag)
			pthread_cond_signal(&w->w_ix_cond);
	}
	max = w->w_index_lag_max;
	pthread_mutex_unlock(&w->w_ix_mtx);
	/* The indexer too far behind: a step here (see WRITER_INDEX_NICE). */
	if (behind <= max || pthread_mutex_trylock(&w->w_ix_step) != 0)
		return;
	rc = store_audit_index(w->w_store, seq, WRITER_VALVE_STEP, NULL);
	pthread_mutex_unlock(&w->w_ix_step);
	/* A failure is the indexer's to report: its next step meets it. */
	if (rc == STORE_OK)
		metrics_audit_index_writer_step();
}

/*
 * The index is written without flushes (store_env.c, index_marks); the
 * indexer flushes it itself every WRITER_INDEX_FLUSH_US while it works,
 * and once it has been idle WRITER_IDLE_S, so that its page writes go to
 * the disk while the daemon is busy with the requests that caused them,
 * not half a minute later (the kernel's dirty_expire_centisecs) beside
 * whatever runs then; a page changed by many steps in between is still
 * written once. Once a second, not less often: every flush's page writes
 * sit in the disk's queue ahead of the log flushes the answers wait for,
 * so five seconds' worth at once was a ~40 ms stall of every answer
 * (tests/bench/getplan_ab.sh 3 7250, 100,000 households, open-loop
 * GetPlan at 7,250/s, p99 of the rounds: 5 s 36.7-45.4 ms, 1 s
 * 20.8-33.0 ms, 0.25 s 20.3-61.9 ms; closed-loop MutatePlan 6.1k-6.5k vs
 * 6.9k-7.4k vs 5.8k-7.1k/s, GetPlan's peak alike).
 */
static void
writer_index_flush(struct writer *w, int64_t *flushed, int *dirty)
{
	int rc;

	if ((rc = store_audit_index_flush(w->w_store)) != STORE_OK)
		log_warnx("writer: audit index flush: %s", store_strerror(rc));
	*flushed = metrics_now_us();
	*dirty = 0;
}

/* One indexer step up to durable, under w_ix_step (see writer_set_durable). */
static int
writer_index_step(struct writer *w, uint64_t durable, uint64_t *left)
{
	int rc;

	pthread_mutex_lock(&w->w_ix_step);
	rc = store_audit_index(w->w_store, durable, WRITER_INDEX_STEP, left);
	pthread_mutex_unlock(&w->w_ix_step);
	return rc;
}

static void *
writer_indexer(void *arg)
{
	struct writer *w = arg;
	struct timespec ts;
	uint64_t durable, indexed, left;
	int64_t flushed = metrics_now_us(), t0, stop_us;
	int rc, waited = 0, warned = 0, dirty = 0;

	/* Linux: a thread's own nice value (see WRITER_INDEX_NICE). */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
	    WRITER_INDEX_NICE) == -1)
		log_debug("writer: indexer priority: %s", strerror(errno));
	pthread_mutex_lock(&w->w_ix_mtx);
	while (!w->w_ix_stopping) {
		durable = w->w_durable;
		indexed = store_audit_indexed(w->w_store);
		if (durable > indexed &&
		    (durable - indexed >= w->w_index_lag || waited)) {
			pthread_mutex_unlock(&w->w_ix_mtx);
			metrics_audit_index_lag(durable - indexed);
			rc = writer_index_step(w, durable, &left);
			if (rc != STORE_OK && !warned)
				log_warnx("writer: audit index: %s (queries read "
				    "the log past it directly)",
				    store_strerror(rc));
			warned = rc != STORE_OK;
			dirty |= rc == STORE_OK;
			if (dirty && metrics_now_us() - flushed >=
			    WRITER_INDEX_FLUSH_US)
				writer_index_flush(w, &flushed, &dirty);
			pthread_mutex_lock(&w->w_ix_mtx);
			/* After a failure, the next try waits a while. */
			if (rc == STORE_OK) {
				waited = left > 0;
				continue;
			}
		} else if (dirty && waited) {
			/* Idle for a while: what it wrote goes to the disk now. */
			pthread_mutex_unlock(&w->w_ix_mtx);
			writer_index_flush(w, &flushed, &dirty);
			pthread_mutex_lock(&w->w_ix_mtx);
		}
		util_deadline_ms(&ts, WRITER_IDLE_S * 1000);
		waited = pthread_cond_timedwait(&w->w_ix_cond, &w->w_ix_mtx,
		    &ts) == ETIMEDOUT;
	}
	/*
	 * A clean stop: the writer has stopped, what it committed is
	 * durable; the index catches up with it (at most
	 * audit_index_lag_max records behind), so the next start finds an
	 * index that ends where the log does, and one copied beside another
	 * store's log names the record it ended on. For at most
	 * audit_index_stop_ms: a stop is not held up by a lag_max set high;
	 * the next start's indexer does the rest.
	 */
	durable = w->w_durable;
	stop_us = w->w_index_stop_us;
	pthread_mutex_unlock(&w->w_ix_mtx);
	rc = STORE_OK;
	t0 = metrics_now_us();
	while (rc == STORE_OK &&
	    durable > (indexed = store_audit_indexed(w->w_store))) {
		if (metrics_now_us() - t0 >= stop_us) {
			log_info("writer: audit index: %llu durable records "
			    "left for the next start to index",
			    (unsigned long long)(durable - indexed));
			break;
		}
		if ((rc = writer_index_step(w, durable, &left)) != STORE_OK)
			log_warnx("writer: audit index at stop: %s (the next "
			    "start indexes the rest)", store_strerror(rc));
	}
	seal_thread_done();
	return NULL;
}

/* store_sync, timed. */
static int
writer_sync(struct writer *w)
{
	int64_t t0 = metrics_now_us();
	int rc;

	rc = store_sync(w->w_store);
	metrics_writer_sync((uint64_t)(metrics_now_us() - t0), rc);
	if (rc == STORE_OK)
		writer_set_durable(w, w->w_commit_seq);
	return rc;
}

/* The tick, when due, in its own child: its failure costs the batch nothing. */
static void
writer_run_tick(struct writer *w, struct stxn *parent)
{
	struct stxn *child;
	int64_t now = metrics_now_us();
	int rc;

	if (w->w_tick == NULL || now - w->w_last_tick < WRITER_TICK_US)
		return;
	w->w_last_tick = now;
	if (store_child_begin(parent, &child) != STORE_OK)
		return;
	if ((rc = w->w_tick(child, w->w_hook_arg)) < 0) {
		log_warnx("writer: housekeeping: %s", store_strerror(rc));
		store_abort(child);
		return;
	}
	if ((rc = store_commit(child)) != STORE_OK)
		log_warnx("writer: housekeeping: %s", store_strerror(rc));
}

/*
 * Appends the job's record alone in a fresh child: for a job whose change
 * was refused or could not be kept, so that the attempt is still audited.
 */
static int
writer_audit_alone(struct writer *w, struct stxn *parent, struct wjob *job)
{
	struct audit_head saved = w->w_ahead;
	struct stxn *child;
	int rc;

	if ((rc = store_child_begin(parent, &child)) != STORE_OK)
		return rc;
	/* A failed audit_append leaves the head as it was. */
	if ((rc = writer_append(w, child, job->wj_audit)) != STORE_OK) {
		store_abort(child);
		return rc;
	}
	if ((rc = store_commit(child)) != STORE_OK) {
		/* Numbered but not kept: the next record takes its place. */
		w->w_ahead = saved;
		return rc;
	}
	return STORE_OK;
}

/*
 * A job whose change ran but whose record or child could not be kept
 * (error rc): the change is gone and the request fails. The attempt still
 * goes on record, alone, when that fits, and with the failure as its
 * outcome, since the caller is told it failed. Returns rc.
 */
static int
writer_job_failed(struct writer *w, struct stxn *parent, struct wjob *job,
    int rc)
{
	EpAuditRecord *r = job->wj_audit;
	int arc;

	log_warnx("writer: job not kept (%s): rolled back",
	    store_strerror(rc));
	/* An audit-only job's record was all it had: nothing else to try. */
	if (job->wj_exec == NULL)
		return rc;
	r->outcome = rc == STORE_FULL || rc == STORE_DISK_FULL ?
	    EENPLAN__V1__CODE__RESOURCE_EXHAUSTED :
	    EENPLAN__V1__CODE__UNAVAILABLE;
	/* The handler's own detail, if any, says more than ours. */
	if (r->detail == NULL || r->detail[0] == '\0')
		audit_record_set(r, r->outcome, NULL, "not committed: %s",
		    store_strerror(rc));
	if ((arc = writer_audit_alone(w, parent, job)) != STORE_OK)
		log_warnx("writer: the failed attempt is not on record "
		    "either: %s", store_strerror(arc));
	return rc;
}

/*
 * Runs one job in its own child txn. The data and the audit record share
 * that child, so a job whose record cannot be written keeps no data.
 * Returns STORE_OK when the job's part is in the parent.
 */
static int
writer_run_job(struct writer *w, struct stxn *parent, struct wjob *job)
{
	struct audit_head saved = w->w_ahead;
	struct stxn *child;
	int rc;

	job->wj_exec_rc = 0;
	job->wj_bytes = 0;
	/* A change nobody would be on record for is not made. */
	if (job->wj_exec != NULL && job->wj_audit == NULL) {
		log_warnx("writer: job with a change but no audit record "
		    "refused");
		return STORE_ERR;
	}
	if ((rc = store_child_begin(parent, &child)) != STORE_OK)
		return rc;
	if (job->wj_exec != NULL &&
	    (job->wj_exec_rc = job->wj_exec(job, child)) != 0) {
		/* A change refused for want of room: the store is not ready. */
		rc = store_txn_error(child);
		if ((rc == STORE_FULL || rc == STORE_DISK_FULL) &&
		    w->w_batch_err == STORE_OK)
			w->w_batch_err = rc;
		store_abort(child);
		return writer_audit_alone(w, parent, job);
	}
	/* A failed audit_append leaves the head as it was. */
	if ((job->wj_audit != NULL &&
	    (rc = writer_append(w, child, job->wj_audit)) != STORE_OK) ||
	    (rc = writer_know(w, child, job->wj_who)) !=
	    STORE_OK) {
		store_abort(child);
		w->w_ahead = saved;
		return writer_job_failed(w, parent, job, rc);
	}
	job->wj_bytes = store_txn_bytes(child);
	/* A failed commit has freed the child: no abort. */
	if ((rc = store_commit(child)) != STORE_OK) {
		w->w_ahead = saved;
		return writer_job_failed(w, parent, job, rc);
	}
	return STORE_OK;
}

/*
 * Jobs that change nothing but their audit record (reads) run together in
 * one child txn: each LMDB child txn costs megabytes of bookkeeping to
 * make and free, which for reads was most of the writer's work. A read
 * whose decision changed (its recheck refused) gets its record all the
 * same, as in writer_audit_alone. If anything in the group fails, the group
 * is rolled back and each job runs in its own child (writer_run_job), so a
 * failure is still that one job's. Returns the first job after the group.
 */
static struct wjob *
writer_run_group(struct writer *w, struct stxn *parent, struct wjob *first)
{
	struct audit_head saved = w->w_ahead;
	struct wjob *job, *end;
	struct stxn *child;
	uint64_t before;
	int rc = STORE_OK;

	for (end = first; end != NULL && end->wj_readonly; end = end->wj_next)
		;
	if (first->wj_next == end || store_child_begin(parent, &child) !=
	    STORE_OK)
		goto one_by_one;
	for (job = first; job != end && rc == STORE_OK; job = job->wj_next) {
		job->wj_exec_rc = 0;
		job->wj_bytes = 0;
		before = store_txn_bytes(child);
		/* A recheck that refuses writes nothing: the record says so. */
		if (job->wj_exec != NULL)
			job->wj_exec_rc = job->wj_exec(job, child);
		if ((job->wj_audit != NULL &&
		    (rc = writer_append(w, child, job->wj_audit)) != STORE_OK) ||
		    (rc = writer_know(w, child, job->wj_who)) != STORE_OK)
			break;
		job->wj_bytes = store_txn_bytes(child) - before;
	}
	if (rc != STORE_OK)
		store_abort(child);
	else if ((rc = store_commit(child)) == STORE_OK) {
		for (job = first; job != end; job = job->wj_next)
			job->wj_rc = STORE_OK;
		return end;
	}
	w->w_ahead = saved;
	/* Who it recorded as known in the rolled-back group is not. */
	memset(w->w_seen, 0, sizeof(w->w_seen));
one_by_one:
	for (job = first; job != end; job = job->wj_next)
		job->wj_rc = writer_run_job(w, parent, job);
	return end;
}

/*
 * After a failed commit the head in memory is a guess: an I/O error may
 * have come after the data reached the disk. Read it back through the new
 * write txn (which sees the last commit) before numbering more records;
 * appending on a wrong head would fork the chain or collide with a record.
 */
static int
writer_head_reload(struct writer *w, struct stxn *parent)
{
	struct audit_head h;
	int rc;

	if ((rc = audit_head_load(parent, &h)) != STORE_OK) {
		log_warnx("writer: audit head: %s (run verify)",
		    store_strerror(rc));
		return rc;
	}
	w->w_ahead = h;
	w->w_reload = 0;
	return STORE_OK;
}

static void
writer_post_all(struct wjob *batch)
{
	struct wjob *job, *next;

	/* The job may be freed by its post: read the link first. */
	for (job = batch; job != NULL; job = next) {
		next = job->wj_next;
		job->wj_next = NULL;
		if (job->wj_post != NULL)
			job->wj_post(job);
	}
}

/*
 * With the log: batch (answered once lsn is on disk) and the audit seq it
 * makes durable go to the flusher. Called by the writer thread after each
 * commit, and with nothing at its end.
 */
static void
writer_flush_handoff(struct writer *w, struct wjob *batch, uint64_t lsn,
    uint64_t seq)
{
	struct wjob *last;

	if (batch == NULL && lsn == 0)
		return;
	pthread_mutex_lock(&w->w_fl_mtx);
	if (batch != NULL) {
		for (last = batch; last->wj_next != NULL; last = last->wj_next)
			;
		if (w->w_fl_tail != NULL)
			w->w_fl_tail->wj_next = batch;
		else
			w->w_fl_head = batch;
		w->w_fl_tail = last;
	}
	if (lsn > w->w_fl_lsn)
		w->w_fl_lsn = lsn;
	if (seq > w->w_fl_seq)
		w->w_fl_seq = seq;
	w->w_fl_work = 1;
	pthread_cond_signal(&w->w_fl_cond);
	pthread_mutex_unlock(&w->w_fl_mtx);
}

/* The writer, before its next batch: the last one handed over taken. */
static void
writer_flush_wait(struct writer *w)
{
	if (!w->w_fl_started)
		return;
	pthread_mutex_lock(&w->w_fl_mtx);
	while (w->w_fl_work)
		pthread_cond_wait(&w->w_fl_taken, &w->w_fl_mtx);
	pthread_mutex_unlock(&w->w_fl_mtx);
}

/*
 * After a flush up to lsn (rc, its outcome): every unit taken up to lsn
 * answered, oldest first. A flush that failed still leaves durable what an
 * earlier one covered (wal_sync answers from w_synced without a flush).
 */
static void
writer_flush_answer(struct writer *w, uint64_t lsn, int rc)
{
	struct writer_unit done[WRITER_FLUSHERS];
	struct wjob *job;
	uint64_t seq = 0;
	unsigned i, n = 0;
	int urc;

	pthread_mutex_lock(&w->w_fl_post);
	pthread_mutex_lock(&w->w_fl_mtx);
	while (n < w->w_fl_units && w->w_fl_unit[n].wu_lsn <= lsn) {
		done[n] = w->w_fl_unit[n];
		n++;
	}
	w->w_fl_units -= n;
	memmove(&w->w_fl_unit[0], &w->w_fl_unit[n],
	    w->w_fl_units * sizeof(w->w_fl_unit[0]));
	pthread_mutex_unlock(&w->w_fl_mtx);
	for (i = 0; i < n; i++) {
		urc = rc == STORE_OK ? STORE_OK :
		    store_wal_sync(w->w_store, done[i].wu_lsn);
		/* Committed, but not durable: nobody may be told it is. */
		for (job = done[i].wu_head; urc != STORE_OK && job != NULL;
		    job = job->wj_next)
			if (job->wj_rc == STORE_OK)
				job->wj_rc = urc;
		writer_post_all(done[i].wu_head);
		if (urc == STORE_OK && done[i].wu_seq > seq)
			seq = done[i].wu_seq;
	}
	pthread_mutex_unlock(&w->w_fl_post);
	if (seq > 0)
		writer_set_durable(w, seq);
}

static void *
writer_flusher(void *arg)
{
	struct writer *w = arg;
	uint64_t lsn;
	int64_t t0;
	int rc;

	pthread_mutex_lock(&w->w_fl_mtx);
	for (;;) {
		while (!w->w_fl_work && !w->w_fl_stopping)
			pthread_cond_wait(&w->w_fl_cond, &w->w_fl_mtx);
		if (!w->w_fl_work)
			break;
		/* At most WRITER_FLUSHERS taken: one per flusher. */
		lsn = w->w_fl_lsn;
		w->w_fl_unit[w->w_fl_units].wu_head = w->w_fl_head;
		w->w_fl_unit[w->w_fl_units].wu_lsn = lsn;
		w->w_fl_unit[w->w_fl_units].wu_seq = w->w_fl_seq;
		w->w_fl_units++;
		w->w_fl_head = w->w_fl_tail = NULL;
		w->w_fl_work = 0;
		pthread_cond_signal(&w->w_fl_taken);
		pthread_mutex_unlock(&w->w_fl_mtx);
		t0 = metrics_now_us();
		rc = store_wal_sync(w->w_store, lsn);
		metrics_writer_sync((uint64_t)(metrics_now_us() - t0), rc);
		writer_flush_answer(w, lsn, rc);
		pthread_mutex_lock(&w->w_fl_mtx);
	}
	/* Stopping, the other flushers too: nothing left to take. */
	pthread_cond_broadcast(&w->w_fl_cond);
	pthread_mutex_unlock(&w->w_fl_mtx);
	seal_thread_done();
	return NULL;
}

/* The writer thread's end: what it handed over flushed and answered. */
static void
writer_flush_stop(struct writer *w)
{
	int i;

	if (!w->w_fl_started)
		return;
	pthread_mutex_lock(&w->w_fl_mtx);
	w->w_fl_stopping = 1;
	pthread_cond_broadcast(&w->w_fl_cond);
	pthread_mutex_unlock(&w->w_fl_mtx);
	for (i = 0; i < w->w_fl_started; i++)
		pthread_join(w->w_fl_thread[i], NULL);
	w->w_fl_started = 0;
}

/*
 * Who may be answered after a commit. A commit flushes its data and then
 * writes its meta page unflushed (MDB_NOMETASYNC); that meta is durable
 * once the next flush ran. So the batch committed before this one is
 * durable now if this commit flushed, and is answered; this batch waits
 * for the next commit — or, when no work is waiting, for a flush of its
 * own. Under load that is one flush per batch instead of two.
 *
 * flushed: the commit wrote (LMDB skips a txn that changed nothing — an
 * idle one, or a batch whose jobs only found their person known — and
 * then writes and flushes nothing, so it makes nothing before it durable).
 */
static void
writer_durable(struct writer *w, struct wjob *batch, int rc, int flushed)
{
	struct wjob *prev = w->w_pending, *job;
	int waiting, src;

	w->w_pending = NULL;
	/* With the log: answered by the flusher (see the top). */
	if (w->w_fl_started) {
		writer_flush_handoff(w, batch, rc == STORE_OK ? w->w_batch_lsn :
		    0, w->w_commit_seq);
		return;
	}
	if (rc != STORE_OK) {
		/* A failed commit flushed nothing: the previous one needs its own. */
		if (prev != NULL) {
			src = writer_sync(w);
			for (job = prev; src != STORE_OK && job != NULL;
			    job = job->wj_next)
				job->wj_rc = src;
			writer_post_all(prev);
		}
		writer_post_all(batch);
		return;
	}
	/* A commit of nothing flushed nothing: the previous one needs one. */
	if (!flushed && prev != NULL &&
	    (src = writer_sync(w)) != STORE_OK)
		for (job = prev; job != NULL; job = job->wj_next)
			job->wj_rc = src;
	writer_post_all(prev);
	if (batch == NULL)
		return;
	/* The broken order the crash test must catch: answered unflushed. */
	if (w->w_test_ack_early) {
		writer_post_all(batch);
		return;
	}
	pthread_mutex_lock(&w->w_mtx);
	waiting = w->w_head != NULL && !w->w_stopping;
	pthread_mutex_unlock(&w->w_mtx);
	if (waiting) {
		w->w_pending = batch;
		return;
	}
	/* Nothing else to commit soon: make this one durable now. */
	if ((src = writer_sync(w)) != STORE_OK)
		for (job = batch; job != NULL; job = job->wj_next)
			job->wj_rc = src;
	writer_post_all(batch);
}

static void
writer_run_batch(struct writer *w, struct wjob *batch)
{
	struct audit_head saved = w->w_ahead;
	struct stxn *parent;
	struct wjob *job, *next;
	uint64_t n = 0, events = 0, records = 0, audits = 0, txn, after;
	int64_t t0, commit_us = 0;
	writer_commit_fn hook;
	int rc, flushed = 0, cont = 0, part = 0;

	for (job = batch; job != NULL; job = job->wj_next) {
		n++;
		if (job->wj_audit != NULL)
			records++;
	}
	/*
	 * A batch with a change commits the reads' open txn alone first: a
	 * failure of the change (a full map or disk) then costs that batch
	 * only, not answered parts.
	 */
	for (job = batch; w->w_open != NULL && job != NULL; job = job->wj_next)
		if (!job->wj_readonly) {
			writer_run_batch(w, NULL);
			break;
		}
	w->w_batch_err = STORE_OK;
	/* The txn kept open by the batches before (only audit records). */
	if ((parent = w->w_open) != NULL) {
		w->w_open = NULL;
		cont = 1;
		rc = STORE_OK;
	} else if ((rc = store_write_begin(w->w_store, &parent)) == STORE_OK) {
		if (w->w_reload && (rc = writer_head_reload(w, parent)) !=
		    STORE_OK)
			store_abort(parent);
		else if ((rc = store_keyring_ack_txn(parent)) != STORE_OK)
			store_abort(parent);
	}
	if (rc == STORE_OK) {
		saved = w->w_ahead;
		/* Housekeeping writes: only in a fresh txn (it comes due). */
		if (!cont)
			writer_run_tick(w, parent);
		for (job = batch; job != NULL; job = next) {
			struct wjob *g;

			if (job->wj_readonly)
				next = writer_run_group(w, parent, job);
			else {
				job->wj_rc = writer_run_job(w, parent,
				    job);
				next = job->wj_next;
			}
			for (g = job; g != next; g = g->wj_next)
				if (g->wj_rc != STORE_OK &&
				    w->w_batch_err == STORE_OK)
					w->w_batch_err = g->wj_rc;
		}
		events = store_txn_events(parent);
		audits = w->w_ahead.ah_seq - saved.ah_seq;
		if (writer_keep_open(w, parent, batch, cont)) {
			t0 = metrics_now_us();
			rc = store_commit_part(parent,
			    &w->w_batch_lsn);
			commit_us = metrics_now_us() - t0;
			if (rc == STORE_OK) {
				if (!cont)
					w->w_open_at = t0;
				w->w_open = parent;
				part = 1;
				/* Before any of it is answered. */
				pthread_mutex_lock(&w->w_mtx);
				w->w_open_parts = 1;
				pthread_mutex_unlock(&w->w_mtx);
			} else {
				store_abort(parent);
				store_fail_open_txn(w->w_store);
				writer_open_closed(w);
			}
			goto logged;
		}
		/*
		 * One fsync for the whole batch — if it changed
		 * anything: only then does the id of the last commit
		 * move. (We hold the write lock up to our commit; a
		 * commit of another process (rekey) right after it
		 * moves the id too, and flushed the file as well.)
		 */
		txn = store_last_txn(w->w_store);
		t0 = metrics_now_us();
		rc = store_commit_unflushed(parent, &w->w_batch_lsn);
		commit_us = metrics_now_us() - t0;
		after = rc == STORE_OK ? store_last_txn(w->w_store) : 0;
		flushed = txn != 0 && after != 0 && after != txn;
		if (rc == STORE_OK) {
			/* Its flush made every commit before durable
			   (with the log: the flusher's). */
			if (flushed && !w->w_fl_started)
				writer_set_durable(w, w->w_commit_seq);
			w->w_commit_seq = w->w_ahead.ah_seq;
		}
		if (rc == STORE_OK && events > 0 && w->w_notify != NULL)
			w->w_notify(w->w_hook_arg);
		if (rc == STORE_OK && (hook = __atomic_load_n(
		    &w->w_commit_hook, __ATOMIC_ACQUIRE)) != NULL)
			hook(&w->w_ahead, __atomic_load_n(
			    &w->w_commit_arg, __ATOMIC_RELAXED));
		/* Answered parts not committed: final. */
		if (rc != STORE_OK && cont)
			store_fail_open_txn(w->w_store);
		writer_open_closed(w);
		if (rc == STORE_FULL || rc == STORE_DISK_FULL ||
		    w->w_batch_err == STORE_FULL ||
		    w->w_batch_err == STORE_DISK_FULL)
			w->w_space_trouble = 1;
		else if (rc == STORE_OK && batch != NULL &&
		    w->w_batch_err == STORE_OK)
			w->w_space_trouble = 0;
	}
logged:
	if (rc != STORE_OK) {
		/* Nothing of the batch was written: every job fails. */
		log_warnx("writer: batch of %llu not committed: %s",
		    (unsigned long long)n, store_strerror(rc));
		w->w_ahead = saved;
		/* Only a full map is sure to have left the disk as it was. */
		if ((rc != STORE_FULL && rc != STORE_DISK_FULL) || cont)
			w->w_reload = 1;
		for (job = batch; job != NULL; job = job->wj_next)
			job->wj_rc = rc;
	}
	if (batch == NULL && rc == STORE_OK) {
		writer_durable(w, NULL, rc, flushed);
		return;
	}
	/* On failure, the records the batch would have written are lost. */
	if (batch != NULL)
		metrics_writer_batch(n, (uint64_t)commit_us, rc == STORE_OK ?
		    audits : records, rc, w->w_batch_err);
	pthread_mutex_lock(&w->w_mtx);
	w->w_stats.ws_batches++;
	w->w_stats.ws_jobs += n;
	if (n > w->w_stats.ws_max_batch)
		w->w_stats.ws_max_batch = n;
	if (rc != STORE_OK)
		w->w_stats.ws_failed_commits++;
	else if (part)
		w->w_stats.ws_parts++;
	else
		w->w_stats.ws_commits++;
	pthread_mutex_unlock(&w->w_mtx);
	writer_durable(w, batch, rc, flushed);
}

/* ts: now + us on the writer's condition clock (CLOCK_MONOTONIC). */
static void
writer_deadline_us(struct timespec *ts, int64_t us)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += (long)(us % 1000000) * 1000L;
	ts->tv_sec += (time_t)(us / 1000000);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct wjob *batch, *last;
	unsigned n;

	struct timespec ts;
	int idle;

	for (;;) {
		/* With the log: one batch flushing, at most one waiting. */
		writer_flush_wait(w);
		pthread_mutex_lock(&w->w_mtx);
		idle = 0;
		while (w->w_head == NULL && !w->w_stopping) {
			/*
			 * A txn kept open is committed once no batch came
			 * for WRITER_OPEN_IDLE_US, or a reader of the log
			 * waits for it (the empty batch commits it).
			 */
			if (w->w_open != NULL) {
				if (w->w_barrier) {
					idle = 1;
					break;
				}
				writer_deadline_us(&ts, w->w_open_idle_us);
				if (pthread_cond_timedwait(&w->w_cond,
				    &w->w_mtx, &ts) == ETIMEDOUT &&
				    w->w_head == NULL && !w->w_stopping) {
					idle = 1;
					break;
				}
				continue;
			}
			util_deadline_ms(&ts, WRITER_IDLE_S * 1000);
			if (pthread_cond_timedwait(&w->w_cond, &w->w_mtx, &ts) ==
			    ETIMEDOUT && w->w_head == NULL && !w->w_stopping) {
				idle = 1;
				break;
			}
		}
		if (idle) {
			pthread_mutex_unlock(&w->w_mtx);
			/*
			 * An empty batch: the keyring (a rekey in another
			 * process waits for us to take its key) and the tick.
			 * A txn that wrote nothing commits without a flush.
			 */
			writer_run_batch(w, NULL);
			metrics_writer_beat();
			continue;
		}
		/* At most WRITER_MAX_BATCH; the rest stay queued, in order. */
		batch = last = w->w_head;
		for (n = 1; last != NULL && last->wj_next != NULL &&
		    n < WRITER_MAX_BATCH; n++)
			last = last->wj_next;
		if (last != NULL) {
			w->w_head = last->wj_next;
			last->wj_next = NULL;
			if (w->w_head == NULL)
				w->w_tail = NULL;
		}
		pthread_mutex_unlock(&w->w_mtx);
		/* Stopping only ends the loop once the queue is empty. */
		if (batch == NULL)
			break;
		writer_run_batch(w, batch);
		metrics_writer_beat();
	}
	/* Stopping: the open txn committed; made durable and answered. */
	if (w->w_open != NULL)
		writer_run_batch(w, NULL);
	writer_durable(w, NULL, STORE_OK, 0);
	writer_flush_stop(w);
	pthread_mutex_lock(&w->w_mtx);
	w->w_done = 1;
	pthread_cond_broadcast(&w->w_closed_cond);
	pthread_mutex_unlock(&w->w_mtx);
	seal_thread_done();
	return NULL;
}

struct writer *
writer_start(struct store *st, char *err, size_t errlen)
{
	struct writer *w;
	struct stxn *rd;
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "writer: out of memory");
		return NULL;
	}
	w->w_store = st;
	w->w_index_lag = WRITER_INDEX_LAG;
	w->w_index_lag_max = WRITER_INDEX_LAG_MAX;
	w->w_index_stop_us = (int64_t)WRITER_INDEX_STOP_MS * 1000;
	w->w_open_us = (int64_t)WRITER_AUDIT_COMMIT_MS * 1000;
	w->w_open_idle_us = WRITER_OPEN_IDLE_US;
	/*
	 * Test only (tests/blackbox/test_crash.py proves it can fail):
	 * answers each batch as soon as its commit returned, before its meta
	 * page is flushed — an acknowledged write a power cut can lose.
	 */
	if (getenv("EENPLAN_TEST_ACK_BEFORE_FLUSH") != NULL) {
		w->w_test_ack_early = 1;
		log_warnx("writer: EENPLAN_TEST_ACK_BEFORE_FLUSH is set: answers "
		    "leave before they are durable (a test of the crash test; "
		    "never in production)");
	}
	if ((rd = store_reader_new(st)) == NULL) {
		snprintf(err, errlen, "writer: out of memory");
		goto fail;
	}
	if ((rc = store_reader_begin(rd)) == STORE_OK) {
		rc = audit_head_load(rd, &w->w_ahead);
		store_reader_end(rd);
	}
	store_reader_free(rd);
	if (rc != STORE_OK) {
		snprintf(err, errlen, "writer: audit head: %s (run verify)",
		    store_strerror(rc));
		goto fail;
	}
	if (pthread_mutex_init(&w->w_mtx, NULL) != 0) {
		snprintf(err, errlen, "writer: mutex");
		goto fail;
	}
	if (util_cond_init(&w->w_cond) != 0) {
		snprintf(err, errlen, "writer: condition variable");
		pthread_mutex_destroy(&w->w_mtx);
		goto fail;
	}
	if (util_cond_init(&w->w_closed_cond) != 0) {
		snprintf(err, errlen, "writer: condition variable");
		pthread_cond_destroy(&w->w_cond);
		pthread_mutex_destroy(&w->w_mtx);
		goto fail;
	}
	/* Whatever the log holds at the start is on disk. */
	w->w_commit_seq = w->w_durable = w->w_ahead.ah_seq;
	if (pthread_mutex_init(&w->w_ix_mtx, NULL) != 0) {
		snprintf(err, errlen, "writer: mutex");
		goto fail_cond;
	}
	if (util_cond_init(&w->w_ix_cond) != 0) {
		snprintf(err, errlen, "writer: condition variable");
		pthread_mutex_destroy(&w->w_ix_mtx);
		goto fail_cond;
	}
	if (pthread_mutex_init(&w->w_ix_step, NULL) != 0) {
		snprintf(err, errlen, "writer: mutex");
		pthread_cond_destroy(&w->w_ix_cond);
		pthread_mutex_destroy(&w->w_ix_mtx);
		goto fail_cond;
	}
	if (pthread_mutex_init(&w->w_fl_mtx, NULL) != 0 ||
	    pthread_mutex_init(&w->w_fl_post, NULL) != 0 ||
	    util_cond_init(&w->w_fl_cond) != 0 ||
	    util_cond_init(&w->w_fl_taken) != 0) {
		snprintf(err, errlen, "writer: flusher condition variables");
		goto fail_ix;
	}
	while (store_wal_on(st) && w->w_fl_started < WRITER_FLUSHERS) {
		if ((rc = pthread_create(&w->w_fl_thread[w->w_fl_started],
		    NULL, writer_flusher, w)) != 0) {
			snprintf(err, errlen, "writer: flusher thread: %s",
			    strerror(rc));
			writer_flush_stop(w);
			goto fail_fl;
		}
		util_thread_name(w->w_fl_thread[w->w_fl_started], "flusher%d",
		    w->w_fl_started);
		w->w_fl_started++;
	}
	metrics_writer_beat();
	if ((rc = pthread_create(&w->w_thread, NULL, writer_main, w)) != 0) {
		snprintf(err, errlen, "writer: thread: %s", strerror(rc));
		writer_flush_stop(w);
		goto fail_fl;
	}
	util_thread_name(w->w_thread, "writer");
	/* Test only: the indexer never runs (the writer's steps alone). */
	if (getenv("EENPLAN_TEST_NO_INDEXER") != NULL)
		log_warnx("writer: EENPLAN_TEST_NO_INDEXER is set: no indexer "
		    "thread (a test of audit_index_lag_max)");
	else if ((rc = pthread_create(&w->w_ix_thread, NULL, writer_indexer,
	    w)) != 0)
		log_warnx("writer: indexer thread: %s (queries read the log "
		    "past the audit index)", strerror(rc));
	else {
		util_thread_name(w->w_ix_thread, "indexer");
		w->w_ix_started = 1;
	}
	return w;
fail_fl:
	pthread_cond_destroy(&w->w_fl_taken);
	pthread_cond_destroy(&w->w_fl_cond);
	pthread_mutex_destroy(&w->w_fl_post);
	pthread_mutex_destroy(&w->w_fl_mtx);
fail_ix:
	pthread_mutex_destroy(&w->w_ix_step);
	pthread_cond_destroy(&w->w_ix_cond);
	pthread_mutex_destroy(&w->w_ix_mtx);
fail_cond:
	pthread_cond_destroy(&w->w_closed_cond);
	pthread_cond_destroy(&w->w_cond);
	pthread_mutex_destroy(&w->w_mtx);
fail:
	free(w);
	return NULL;
}

void
writer_submit(struct writer *w, struct wjob *job)
{
	job->wj_next = NULL;
	pthread_mutex_lock(&w->w_mtx);
	if (w->w_stopping) {
		pthread_mutex_unlock(&w->w_mtx);
		job->wj_exec_rc = 0;
		job->wj_rc = STORE_ERR;
		if (job->wj_post != NULL)
			job->wj_post(job);
		return;
	}
	if (w->w_tail != NULL)
		w->w_tail->wj_next = job;
	else
		w->w_head = job;
	w->w_tail = job;
	pthread_cond_signal(&w->w_cond);
	pthread_mutex_unlock(&w->w_mtx);
}

void
writer_stop(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->w_mtx);
	w->w_stopping = 1;
	pthread_cond_signal(&w->w_cond);
	pthread_mutex_unlock(&w->w_mtx);
	if (!w->w_joined) {
		pthread_join(w->w_thread, NULL);
		w->w_joined = 1;
	}
	if (w->w_ix_started) {
		pthread_mutex_lock(&w->w_ix_mtx);
		w->w_ix_stopping = 1;
		pthread_cond_signal(&w->w_ix_cond);
		pthread_mutex_unlock(&w->w_ix_mtx);
		pthread_join(w->w_ix_thread, NULL);
		w->w_ix_started = 0;
	}
}

void
writer_free(struct writer *w)
{
	if (w == NULL)
		return;
	writer_stop(w);
	pthread_cond_destroy(&w->w_fl_taken);
	pthread_cond_destroy(&w->w_fl_cond);
	pthread_mutex_destroy(&w->w_fl_post);
	pthread_mutex_destroy(&w->w_fl_mtx);
	pthread_mutex_destroy(&w->w_ix_step);
	pthread_cond_destroy(&w->w_ix_cond);
	pthread_mutex_destroy(&w->w_ix_mtx);
	pthread_cond_destroy(&w->w_closed_cond);
	pthread_cond_destroy(&w->w_cond);
	pthread_mutex_destroy(&w->w_mtx);
	free(w);
}

void
writer_stats(struct writer *w, struct writer_stats *out)
{
	pthread_mutex_lock(&w->w_mtx);
	*out = w->w_stats;
	pthread_mutex_unlock(&w->w_mtx);
}
