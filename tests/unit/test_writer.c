/* Unit tests for the group-commit writer: batching, rollback, audit atomicity. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "audit.h"
#include "writer.h"
#include "testkey.h"

#define NTHREADS	4
#define PER_THREAD	250

enum tkind {
	TJ_OK,		/* writes a plan, keeps it */
	TJ_REFUSE,	/* writes a plan, then refuses (-1) */
	TJ_AUDIT_ONLY,	/* no exec */
	TJ_READ,	/* read-only: its exec reads, changes nothing */
	TJ_READ_REFUSE,	/* read-only: its exec refuses (consent changed) */
	TJ_CLASH,	/* writes a plan and takes the next audit seq's key:
			   exec succeeds, then its record cannot be stored */
	TJ_ARM		/* writes a plan; the first one to see the keyring
			   moved makes its own child's commit fail */
};

struct gate {
	int	g_entered;
	int	g_open;
};

struct tjob {
	struct wjob	 tj_job;	/* first: the writer hands this back */
	int		 tj_kind;
	char		 tj_hhid[33];
	struct gate	*tj_gate;
	int		 tj_posted;
	uint64_t	 tj_order;	/* global post order */
};

struct fx {
	char		 dir[256];
	char		 env[300];
	size_t		 map;
	unsigned	 key;		/* test KEK number */
	struct store	*st;
	struct writer	*w;
};

/* The second run: the daemon's default, the write-ahead log and flusher. */
static int		t_wal;
static pthread_mutex_t	t_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	t_cond = PTHREAD_COND_INITIALIZER;
static uint64_t		t_posted;
static uint64_t		t_submitted;

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int
fx_open(struct fx *f)
{
	char err[512];

	if (testkey_open(&f->st, f->env, f->map, 0, 0, f->key, err,
	    sizeof(err)) == -1) {
		print_error("store_open: %s\n", err);
		return -1;
	}
	if (t_wal && (store_wal_start(f->st, 100, 1, err, sizeof(err)) == -1 ||
	    !store_wal_on(f->st))) {
		print_error("store_wal_start: %s\n", err);
		return -1;
	}
	if ((f->w = writer_start(f->st, err, sizeof(err))) == NULL) {
		print_error("writer_start: %s\n", err);
		return -1;
	}
	return 0;
}

static int
setup_map(void **state, size_t map)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/eenplan-test-XXXXXX",
	    t && *t ? t : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->env, sizeof(f->env), "%s/db", f->dir);
	f->map = map;
	if (fx_open(f) == -1)
		return -1;
	pthread_mutex_lock(&t_mtx);
	t_posted = t_submitted = 0;
	pthread_mutex_unlock(&t_mtx);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_map(state, 64u << 20);
}

static int
setup_small(void **state)
{
	return setup_map(state, 1u << 20);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	writer_free(f->w);
	store_close(f->st);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ------------------------------------------------------------- jobs */

static void
tj_post(struct wjob *j)
{
	struct tjob *tj = (struct tjob *)j;

	pthread_mutex_lock(&t_mtx);
	tj->tj_posted++;
	tj->tj_order = ++t_posted;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_mtx);
}

static void
gate_pass(struct gate *g)
{
	pthread_mutex_lock(&t_mtx);
	g->g_entered = 1;
	pthread_cond_broadcast(&t_cond);
	while (!g->g_open)
		pthread_cond_wait(&t_cond, &t_mtx);
	pthread_mutex_unlock(&t_mtx);
}

/* TJ_ARM: the keyring generation at the start, and whether it fired. */
static uint64_t	t_arm_gen;
static int	t_armed;
static struct store *t_arm_store;

static int
tj_exec(struct wjob *j, struct stxn *tx)
{
	struct tjob *tj = (struct tjob *)j;
	EpsHousehold h = EENPLAN__STORE__HOUSEHOLD__INIT;
	EpPlan p = EENPLAN__V1__PLAN__INIT;
	uint8_t body[128];
	size_t len;
	int rc;

	if (tj->tj_gate != NULL)
		gate_pass(tj->tj_gate);
	h.household_id = tj->tj_hhid;
	h.version = 1;
	h.status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ACTIVE;
	p.household_id = tj->tj_hhid;
	p.version = 1;
	len = eenplan__v1__plan__get_packed_size(&p);
	assert_true(len <= sizeof(body));
	eenplan__v1__plan__pack(&p, body);
	if ((rc = store_hh_put(tx, &h)) != STORE_OK ||
	    (rc = store_body_put(tx, tj->tj_hhid, body, len)) != STORE_OK ||
	    (rc = store_index_put(tx, "lev", "", tj->tj_hhid)) != STORE_OK) {
		if (j->wj_audit != NULL)
			audit_record_set(j->wj_audit,
			    EENPLAN__V1__CODE__RESOURCE_EXHAUSTED, NULL, "%s",
			    store_strerror(rc));
		return -1;
	}
	if (tj->tj_kind == TJ_CLASH) {
		struct audit_head ah;
		uint8_t k[8];
		uint64_t seq;
		int i;

		/* The child sees the batch so far: the head is current. */
		assert_int_equal(audit_head_load(tx, &ah), STORE_OK);
		for (i = 7, seq = ah.ah_seq + 1; i >= 0; i--, seq >>= 8)
			k[i] = seq & 0xff;
		assert_int_equal(store_raw_put(tx, "log", k, 8, "", 0),
		    STORE_OK);
		return 0;
	}
	if (tj->tj_kind == TJ_ARM) {
		uint64_t gen;

		assert_int_equal(store_meta_get_u64(tx, "keyring_gen", &gen),
		    STORE_OK);
		pthread_mutex_lock(&t_mtx);
		if (!t_armed && gen > t_arm_gen) {
			/* This batch took the new key and said so in meta. */
			t_armed = 1;
			tj->tj_order = UINT64_MAX;	/* marks the victim */
			store_fail_next_child_commit(t_arm_store, STORE_ERR);
		}
		pthread_mutex_unlock(&t_mtx);
		return 0;
	}
	if (tj->tj_kind == TJ_REFUSE) {
		if (j->wj_audit != NULL)
			audit_record_set(j->wj_audit,
			    EENPLAN__V1__CODE__PERMISSION_DENIED, NULL,
			    "refused");
		return -1;
	}
	return 0;
}

/* A read's recheck: looks, changes nothing; TJ_READ_REFUSE refuses. */
static int
tj_read_exec(struct wjob *j, struct stxn *tx)
{
	struct tjob *tj = (struct tjob *)j;
	EpsHousehold *h = NULL;

	if (store_hh_get(tx, tj->tj_hhid, &h) == STORE_OK)
		store_hh_free(h);
	if (tj->tj_kind == TJ_READ_REFUSE) {
		audit_record_set(j->wj_audit,
		    EENPLAN__V1__CODE__PERMISSION_DENIED, NULL,
		    "refused at commit");
		return -1;
	}
	return 0;
}

static void
tj_init(struct tjob *tj, int kind, unsigned a, unsigned b, int audited)
{
	struct principal pr;

	memset(tj, 0, sizeof(*tj));
	tj->tj_kind = kind;
	snprintf(tj->tj_hhid, sizeof(tj->tj_hhid), "%016x%016x", a, b);
	tj->tj_job.wj_exec = kind == TJ_AUDIT_ONLY ? NULL :
	    kind == TJ_READ || kind == TJ_READ_REFUSE ? tj_read_exec : tj_exec;
	tj->tj_job.wj_readonly = kind == TJ_READ || kind == TJ_READ_REFUSE;
	tj->tj_job.wj_post = tj_post;
	tj->tj_job.wj_arg = tj;
	tj->tj_job.wj_rc = 12345;
	if (!audited)
		return;
	memset(&pr, 0, sizeof(pr));
	snprintf(pr.pr_org, sizeof(pr.pr_org), "lev");
	snprintf(pr.pr_subject, sizeof(pr.pr_subject), "worker%u", a);
	pr.pr_role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	tj->tj_job.wj_audit = audit_record_new(&pr, "CreateHousehold",
	    tj->tj_hhid, 1);
	assert_non_null(tj->tj_job.wj_audit);
}

static void
tj_fini(struct tjob *tj)
{
	audit_record_free(tj->tj_job.wj_audit);
	tj->tj_job.wj_audit = NULL;
}

static void
submit(struct fx *f, struct tjob *tj)
{
	writer_submit(f->w, &tj->tj_job);
	pthread_mutex_lock(&t_mtx);
	t_submitted++;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_mtx);
}

/* Waits (at most 20 s) until pred holds, under t_mtx. */
#define WAIT_UNTIL(pred) do {						\
	struct timespec ts_;						\
	clock_gettime(CLOCK_REALTIME, &ts_);				\
	ts_.tv_sec += 20;						\
	pthread_mutex_lock(&t_mtx);					\
	while (!(pred))							\
		if (pthread_cond_timedwait(&t_cond, &t_mtx, &ts_) ==	\
		    ETIMEDOUT)						\
			break;						\
	int ok_ = (pred);						\
	pthread_mutex_unlock(&t_mtx);					\
	assert_true(ok_);						\
} while (0)

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&t_mtx);
	g->g_open = 1;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_mtx);
}

/* The job's household is there: standing record and body. */
static int
plan_exists(struct fx *f, const char *hhid)
{
	struct stxn *rd = store_reader_new(f->st);
	EpsHousehold *h = NULL;
	EpPlan *p = NULL;
	int rc;

	assert_int_equal(store_reader_begin(rd), STORE_OK);
	rc = store_hh_get(rd, hhid, &h);
	assert_true(rc == STORE_OK || rc == STORE_NOTFOUND);
	if (rc == STORE_OK) {
		assert_int_equal(h->version, 1);
		assert_int_equal(store_body_get(rd, hhid, &p), STORE_OK);
		assert_string_equal(p->household_id, hhid);
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
	store_hh_free(h);
	store_reader_end(rd);
	store_reader_free(rd);
	return rc == STORE_OK;
}

static uint64_t
verify_ok(struct fx *f)
{
	struct stxn *rd = store_reader_new(f->st);
	uint64_t count, bad;
	char msg[256];
	int rc;

	writer_audit_barrier(f->w);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	rc = audit_verify(rd, &count, &bad, msg, sizeof(msg));
	store_reader_end(rd);
	store_reader_free(rd);
	if (rc != 0)
		print_error("verify: %llu: %s\n", (unsigned long long)bad, msg);
	assert_int_equal(rc, 0);
	return count;
}

/* The committed audit record for a household (its only one), or NULL. */
struct find_arg {
	int		n;
	int		outcome;
	uint64_t	seq;
};

static int
find_cb(const EpAuditRecord *r, void *arg)
{
	struct find_arg *fa = arg;

	fa->n++;
	fa->outcome = r->outcome;
	fa->seq = r->seq;
	return 0;
}

static struct find_arg
audit_of(struct fx *f, const char *hhid)
{
	struct stxn *rd = store_reader_new(f->st);
	struct find_arg fa;

	/* A reader of the log first has what was answered committed. */
	writer_audit_barrier(f->w);
	memset(&fa, 0, sizeof(fa));
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(store_audit_scan(rd, hhid, NULL, 0, find_cb, &fa),
	    STORE_OK);
	store_reader_end(rd);
	store_reader_free(rd);
	return fa;
}

/* The last audit seq a reader sees now, without a barrier. */
static uint64_t
audit_last_seen(struct fx *f)
{
	struct stxn *rd = store_reader_new(f->st);
	uint64_t seq = 0;

	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(store_audit_last(rd, &seq), STORE_OK);
	store_reader_end(rd);
	store_reader_free(rd);
	return seq;
}

/* Submits a read of household (a, b) and waits for its answer. */
static void
read_one(struct fx *f, struct tjob *r, unsigned a, unsigned b)
{
	tj_init(r, TJ_READ, a, b, 1);
	submit(f, r);
	WAIT_UNTIL(r->tj_posted == 1);
	assert_int_equal(r->tj_job.wj_rc, STORE_OK);
}

/* ------------------------------------------------------------ tests */

struct thr_arg {
	struct fx	*ta_f;
	struct tjob	*ta_jobs;
	unsigned	 ta_id;
	int		 ta_closed_loop;	/* wait for each job */
};

static void *
thr_submit(void *arg)
{
	struct thr_arg *ta = arg;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		submit(ta->ta_f, &ta->ta_jobs[i]);
		if (ta->ta_closed_loop)
			WAIT_UNTIL(ta->ta_jobs[i].tj_posted > 0);
	}
	WAIT_UNTIL(ta->ta_jobs[PER_THREAD - 1].tj_posted > 0);
	return NULL;
}

static void
run_threads(struct fx *f, struct tjob *jobs, unsigned base, int closed,
    struct gate *g)
{
	pthread_t th[NTHREADS];
	struct thr_arg ta[NTHREADS];
	int t;

	for (t = 0; t < NTHREADS; t++) {
		ta[t].ta_f = f;
		ta[t].ta_jobs = jobs + t * PER_THREAD;
		ta[t].ta_id = base + t;
		ta[t].ta_closed_loop = closed;
		assert_int_equal(pthread_create(&th[t], NULL, thr_submit,
		    &ta[t]), 0);
	}
	if (g != NULL) {
		/* Everything is queued behind the gate before it opens. */
		WAIT_UNTIL(t_submitted == 1 + NTHREADS * PER_THREAD);
		gate_open(g);
	}
	for (t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
}

static void
check_jobs(struct fx *f, struct tjob *jobs)
{
	int t, i;

	for (t = 0; t < NTHREADS; t++)
		for (i = 0; i < PER_THREAD; i++) {
			struct tjob *tj = &jobs[t * PER_THREAD + i];

			assert_int_equal(tj->tj_posted, 1);
			assert_int_equal(tj->tj_job.wj_rc, STORE_OK);
			assert_int_equal(tj->tj_job.wj_exec_rc, 0);
			/* Posted in the order each thread submitted. */
			if (i > 0)
				assert_true(tj->tj_order > tj[-1].tj_order);
			assert_true(plan_exists(f, tj->tj_hhid));
			assert_true(tj->tj_job.wj_audit->seq > 0);
		}
}

static void
test_batches_from_threads(void **state)
{
	struct fx *f = *state;
	struct tjob *jobs, gate_job;
	struct gate g = { 0, 0 };
	struct writer_stats ws;
	int i, n = NTHREADS * PER_THREAD;

	jobs = calloc(n, sizeof(*jobs));
	assert_non_null(jobs);
	for (i = 0; i < n; i++)
		tj_init(&jobs[i], TJ_OK, i / PER_THREAD + 1, i, 1);
	/* Phase 1: hold the writer so every job of every thread queues. */
	tj_init(&gate_job, TJ_OK, 0, 0, 1);
	gate_job.tj_gate = &g;
	submit(f, &gate_job);
	WAIT_UNTIL(g.g_entered);
	run_threads(f, jobs, 1, 0, &g);
	check_jobs(f, jobs);
	writer_stats(f->w, &ws);
	assert_int_equal(ws.ws_jobs, n + 1);
	assert_int_equal(ws.ws_batches, 2);
	assert_int_equal(ws.ws_max_batch, n);
	assert_int_equal(ws.ws_failed_commits, 0);
	assert_int_equal(verify_ok(f), n + 1);
	for (i = 0; i < n; i++)
		tj_fini(&jobs[i]);
	tj_fini(&gate_job);

	/* Phase 2: free running, each thread waiting for each answer. */
	for (i = 0; i < n; i++)
		tj_init(&jobs[i], TJ_OK, i / PER_THREAD + 101, i, 1);
	run_threads(f, jobs, 101, 1, NULL);
	check_jobs(f, jobs);
	writer_stats(f->w, &ws);
	assert_int_equal(ws.ws_jobs, 2 * n + 1);
	assert_true(ws.ws_batches <= ws.ws_jobs);
	assert_int_equal(verify_ok(f), 2 * n + 1);
	for (i = 0; i < n; i++)
		tj_fini(&jobs[i]);
	free(jobs);
}

static void
test_refused_job_keeps_audit_only(void **state)
{
	struct fx *f = *state;
	struct tjob gj, a, r, b, quiet;
	struct gate g = { 0, 0 };
	struct find_arg fa;
	struct writer_stats ws;

	tj_init(&gj, TJ_OK, 1, 1, 1);
	gj.tj_gate = &g;
	tj_init(&a, TJ_OK, 1, 2, 1);
	tj_init(&r, TJ_REFUSE, 1, 3, 1);
	tj_init(&b, TJ_OK, 1, 4, 1);
	tj_init(&quiet, TJ_REFUSE, 1, 5, 0);
	submit(f, &gj);
	WAIT_UNTIL(g.g_entered);
	submit(f, &a);
	submit(f, &r);
	submit(f, &quiet);
	submit(f, &b);
	gate_open(&g);
	WAIT_UNTIL(b.tj_posted == 1);
	writer_stats(f->w, &ws);
	assert_int_equal(ws.ws_batches, 2);

	assert_int_equal(r.tj_posted, 1);
	assert_int_equal(r.tj_job.wj_exec_rc, -1);
	assert_int_equal(r.tj_job.wj_rc, STORE_OK);	/* its audit is in */
	assert_false(plan_exists(f, r.tj_hhid));
	fa = audit_of(f, r.tj_hhid);
	assert_int_equal(fa.n, 1);
	assert_int_equal(fa.outcome, EENPLAN__V1__CODE__PERMISSION_DENIED);

	/* A change without an audit record is refused unrun, in its turn. */
	assert_int_equal(quiet.tj_posted, 1);
	assert_int_equal(quiet.tj_job.wj_exec_rc, 0);
	assert_int_equal(quiet.tj_job.wj_rc, STORE_ERR);
	assert_false(plan_exists(f, quiet.tj_hhid));
	assert_int_equal(audit_of(f, quiet.tj_hhid).n, 0);

	assert_true(plan_exists(f, a.tj_hhid));
	assert_true(plan_exists(f, b.tj_hhid));
	assert_int_equal(a.tj_job.wj_rc, STORE_OK);
	assert_int_equal(b.tj_job.wj_rc, STORE_OK);
	/* FIFO order of posting. */
	assert_true(a.tj_order < r.tj_order && r.tj_order < quiet.tj_order &&
	    quiet.tj_order < b.tj_order);
	assert_int_equal(verify_ok(f), 4);
	tj_fini(&gj);
	tj_fini(&a);
	tj_fini(&r);
	tj_fini(&b);
	tj_fini(&quiet);
}

static void
test_audit_only_job(void **state)
{
	struct fx *f = *state;
	struct tjob j;

	tj_init(&j, TJ_AUDIT_ONLY, 2, 1, 1);
	submit(f, &j);
	WAIT_UNTIL(j.tj_posted == 1);
	assert_int_equal(j.tj_job.wj_rc, STORE_OK);
	assert_int_equal(j.tj_job.wj_audit->seq, 1);
	assert_int_equal(audit_of(f, j.tj_hhid).n, 1);
	assert_false(plan_exists(f, j.tj_hhid));
	assert_int_equal(verify_ok(f), 1);
	tj_fini(&j);
}

/*
 * Reads (jobs that change nothing but their record) run together in one
 * child txn; one whose recheck refuses keeps its record, with its outcome;
 * a write between them runs in its own child; the chain stays in order.
 */
#define NREADS	20
static void
test_reads_grouped(void **state)
{
	struct fx *f = *state;
	struct tjob gj, r[NREADS], w, r2;
	struct gate g = { 0, 0 };
	uint64_t children;
	struct find_arg fa;
	int i;

	tj_init(&gj, TJ_OK, 7, 1, 1);
	gj.tj_gate = &g;
	submit(f, &gj);
	WAIT_UNTIL(g.g_entered);
	for (i = 0; i < NREADS; i++) {
		tj_init(&r[i], i == 5 ? TJ_READ_REFUSE : TJ_READ, 7,
		    (unsigned)(10 + i), 1);
		submit(f, &r[i]);
	}
	tj_init(&w, TJ_OK, 7, 100, 1);
	submit(f, &w);
	tj_init(&r2, TJ_READ, 7, 101, 1);
	submit(f, &r2);
	children = store_child_txns(f->st);
	gate_open(&g);
	WAIT_UNTIL(r2.tj_posted == 1);
	/* Reads in two groups and the write in its own: not one per job. */
	assert_true(store_child_txns(f->st) - children <= 6);
	for (i = 0; i < NREADS; i++) {
		assert_int_equal(r[i].tj_job.wj_rc, STORE_OK);
		assert_int_equal(r[i].tj_job.wj_audit->seq,
		    gj.tj_job.wj_audit->seq + 1 + (uint64_t)i);
		fa = audit_of(f, r[i].tj_hhid);
		assert_int_equal(fa.n, 1);
		assert_int_equal(fa.outcome, i == 5 ?
		    EENPLAN__V1__CODE__PERMISSION_DENIED : EENPLAN__V1__CODE__OK);
		assert_false(plan_exists(f, r[i].tj_hhid));
	}
	assert_int_equal(r[5].tj_job.wj_exec_rc, -1);
	assert_int_equal(w.tj_job.wj_rc, STORE_OK);
	assert_true(plan_exists(f, w.tj_hhid));
	assert_int_equal(r2.tj_job.wj_rc, STORE_OK);
	assert_int_equal(r2.tj_job.wj_audit->seq, w.tj_job.wj_audit->seq + 1);
	assert_int_equal(verify_ok(f), NREADS + 3);
	tj_fini(&gj);
	for (i = 0; i < NREADS; i++)
		tj_fini(&r[i]);
	tj_fini(&w);
	tj_fini(&r2);
}

/*
 * With the log, batches of reads are logged (and answered) as parts of one
 * txn kept open, not committed: a reader of the store does not see their
 * records until a barrier (QueryAudit's), a change, or audit_commit_ms
 * commits it. Without the log every batch is committed.
 */
static void
test_reads_kept_open(void **state)
{
	struct fx *f = *state;
	struct tjob w0, r[NREADS], w1, r2;
	struct writer_stats s0, s1;
	uint64_t seen;
	int i;

	writer_set_audit_commit_ms(f->w, 1000);
	writer_set_open_idle_us(f->w, 60u * 1000000);
	/* A write first: it commits, and its person is known from then. */
	tj_init(&w0, TJ_OK, 9, 1, 1);
	submit(f, &w0);
	WAIT_UNTIL(w0.tj_posted == 1);
	assert_int_equal(w0.tj_job.wj_rc, STORE_OK);
	writer_stats(f->w, &s0);
	for (i = 0; i < NREADS; i++)
		read_one(f, &r[i], 9, (unsigned)(10 + i));
	writer_stats(f->w, &s1);
	seen = audit_last_seen(f);
	if (t_wal) {
		/* Each read its own batch, each a part; none committed. */
		assert_int_equal(s1.ws_parts - s0.ws_parts, NREADS);
		assert_int_equal(s1.ws_commits, s0.ws_commits);
		assert_int_equal(seen, w0.tj_job.wj_audit->seq);
		writer_audit_barrier(f->w);
		assert_int_equal(audit_last_seen(f),
		    r[NREADS - 1].tj_job.wj_audit->seq);
	} else {
		assert_int_equal(s1.ws_parts, 0);
		assert_int_equal(seen, r[NREADS - 1].tj_job.wj_audit->seq);
	}
	/* Reads again, then a write: committed with them, in order. */
	read_one(f, &r2, 9, 99);
	tj_init(&w1, TJ_OK, 9, 100, 1);
	submit(f, &w1);
	WAIT_UNTIL(w1.tj_posted == 1);
	assert_int_equal(w1.tj_job.wj_rc, STORE_OK);
	assert_int_equal(w1.tj_job.wj_audit->seq, r2.tj_job.wj_audit->seq + 1);
	assert_int_equal(audit_last_seen(f), w1.tj_job.wj_audit->seq);
	assert_true(plan_exists(f, w1.tj_hhid));
	assert_int_equal(verify_ok(f), NREADS + 3);
	tj_fini(&w0);
	for (i = 0; i < NREADS; i++)
		tj_fini(&r[i]);
	tj_fini(&r2);
	tj_fini(&w1);
}

/*
 * audit_commit_ms bounds how long a txn stays open under reads; a queue
 * that stays empty commits it sooner (here: 20 ms).
 */
static void
test_open_txn_bounded(void **state)
{
	struct fx *f = *state;
	struct tjob w0, r1, r2, r3;

	writer_set_audit_commit_ms(f->w, 5);
	writer_set_open_idle_us(f->w, 60u * 1000000);
	tj_init(&w0, TJ_OK, 11, 1, 1);
	submit(f, &w0);
	WAIT_UNTIL(w0.tj_posted == 1);
	read_one(f, &r1, 11, 2);
	/* Older than 5 ms at its next batch: committed with that batch. */
	usleep(20000);
	read_one(f, &r2, 11, 3);
	assert_int_equal(audit_last_seen(f), r2.tj_job.wj_audit->seq);
	/* No batch for the idle time: committed without one. */
	writer_set_audit_commit_ms(f->w, 1000);
	writer_set_open_idle_us(f->w, 20000);
	read_one(f, &r3, 11, 4);
	usleep(200000);
	assert_int_equal(audit_last_seen(f), r3.tj_job.wj_audit->seq);
	assert_int_equal(verify_ok(f), 4);
	tj_fini(&w0);
	tj_fini(&r1);
	tj_fini(&r2);
	tj_fini(&r3);
}

static void
test_audit_failure_rolls_back_data(void **state)
{
	struct fx *f = *state;
	struct tjob gj, a, bad, b, c;
	struct gate g = { 0, 0 };
	char *huge;
	size_t n = 2u << 20;	/* twice the map */

	tj_init(&gj, TJ_OK, 3, 1, 1);
	gj.tj_gate = &g;
	tj_init(&a, TJ_OK, 3, 2, 1);
	tj_init(&bad, TJ_OK, 3, 3, 1);
	tj_init(&b, TJ_OK, 3, 4, 1);
	huge = malloc(n + 1);
	assert_non_null(huge);
	memset(huge, 'a', n);
	huge[n] = '\0';
	audit_record_set(bad.tj_job.wj_audit, EENPLAN__V1__CODE__OK, NULL,
	    "%s", huge);
	free(huge);

	submit(f, &gj);
	WAIT_UNTIL(g.g_entered);
	submit(f, &a);
	submit(f, &bad);
	submit(f, &b);
	gate_open(&g);
	WAIT_UNTIL(b.tj_posted == 1);

	assert_int_equal(bad.tj_posted, 1);
	assert_int_equal(bad.tj_job.wj_exec_rc, 0);
	assert_int_equal(bad.tj_job.wj_rc, STORE_FULL);
	assert_false(plan_exists(f, bad.tj_hhid));
	/* Tried alone, marked as failed; too big even alone, so not there. */
	assert_int_equal(bad.tj_job.wj_audit->outcome,
	    EENPLAN__V1__CODE__RESOURCE_EXHAUSTED);
	assert_int_equal(audit_of(f, bad.tj_hhid).n, 0);
	assert_int_equal(a.tj_job.wj_rc, STORE_OK);
	assert_int_equal(b.tj_job.wj_rc, STORE_OK);
	assert_true(plan_exists(f, a.tj_hhid));
	assert_true(plan_exists(f, b.tj_hhid));
	/* The failed child's number was given back. */
	assert_int_equal(b.tj_job.wj_audit->seq, a.tj_job.wj_audit->seq + 1);
	assert_int_equal(verify_ok(f), 3);

	tj_init(&c, TJ_OK, 3, 5, 1);
	submit(f, &c);
	WAIT_UNTIL(c.tj_posted == 1);
	assert_int_equal(c.tj_job.wj_rc, STORE_OK);
	assert_int_equal(verify_ok(f), 4);
	tj_fini(&gj);
	tj_fini(&a);
	tj_fini(&bad);
	tj_fini(&b);
	tj_fini(&c);
}

static void
test_failed_batch(void **state)
{
	struct fx *f = *state;
	struct tjob g1, g2, a, b, c, d;
	struct gate gate1 = { 0, 0 }, gate2 = { 0, 0 };
	struct writer_stats ws;

	tj_init(&g1, TJ_OK, 4, 1, 1);
	g1.tj_gate = &gate1;
	tj_init(&g2, TJ_OK, 4, 2, 1);
	g2.tj_gate = &gate2;
	tj_init(&a, TJ_OK, 4, 3, 1);
	tj_init(&b, TJ_REFUSE, 4, 4, 1);
	tj_init(&c, TJ_OK, 4, 5, 1);
	tj_init(&d, TJ_OK, 4, 6, 1);

	submit(f, &g1);
	WAIT_UNTIL(gate1.g_entered);
	submit(f, &g2);
	submit(f, &a);
	submit(f, &b);
	gate_open(&gate1);
	/* Batch 1 (g1) is committed once batch 2 (g2, a, b) is running. */
	WAIT_UNTIL(gate2.g_entered);
	store_fail_next_commit(f->st, STORE_ERR);
	submit(f, &c);
	submit(f, &d);
	gate_open(&gate2);
	WAIT_UNTIL(d.tj_posted == 1);

	assert_int_equal(g1.tj_job.wj_rc, STORE_OK);
	assert_true(plan_exists(f, g1.tj_hhid));
	assert_int_equal(g2.tj_job.wj_rc, STORE_ERR);
	assert_int_equal(a.tj_job.wj_rc, STORE_ERR);
	assert_int_equal(b.tj_job.wj_rc, STORE_ERR);
	assert_int_equal(g2.tj_posted + a.tj_posted + b.tj_posted, 3);
	assert_false(plan_exists(f, g2.tj_hhid));
	assert_false(plan_exists(f, a.tj_hhid));
	assert_int_equal(audit_of(f, g2.tj_hhid).n, 0);
	assert_int_equal(audit_of(f, a.tj_hhid).n, 0);
	assert_int_equal(audit_of(f, b.tj_hhid).n, 0);
	assert_int_equal(c.tj_job.wj_rc, STORE_OK);
	assert_int_equal(d.tj_job.wj_rc, STORE_OK);
	/* The head went back to g1: no hole in the chain. */
	assert_int_equal(c.tj_job.wj_audit->seq, g1.tj_job.wj_audit->seq + 1);
	assert_int_equal(verify_ok(f), 3);
	writer_stats(f->w, &ws);
	assert_int_equal(ws.ws_failed_commits, 1);
	assert_int_equal(ws.ws_batches, 3);
	tj_fini(&g1);
	tj_fini(&g2);
	tj_fini(&a);
	tj_fini(&b);
	tj_fini(&c);
	tj_fini(&d);
}

static void
test_record_failure_recorded_alone(void **state)
{
	struct fx *f = *state;
	struct tjob gj, a, x, b;
	struct gate g = { 0, 0 };
	struct find_arg fa;

	tj_init(&gj, TJ_OK, 8, 1, 1);
	gj.tj_gate = &g;
	tj_init(&a, TJ_OK, 8, 2, 1);
	tj_init(&x, TJ_CLASH, 8, 3, 1);
	tj_init(&b, TJ_OK, 8, 4, 1);
	submit(f, &gj);
	WAIT_UNTIL(g.g_entered);
	submit(f, &a);
	submit(f, &x);
	submit(f, &b);
	gate_open(&g);
	WAIT_UNTIL(b.tj_posted == 1);

	/* Its change ran, its record could not be stored with it: it fails. */
	assert_int_equal(x.tj_posted, 1);
	assert_int_equal(x.tj_job.wj_exec_rc, 0);
	assert_int_equal(x.tj_job.wj_rc, STORE_ERR);
	assert_false(plan_exists(f, x.tj_hhid));
	/* ...but the attempt is on record, alone, as failed. */
	fa = audit_of(f, x.tj_hhid);
	assert_int_equal(fa.n, 1);
	assert_int_equal(fa.outcome, EENPLAN__V1__CODE__UNAVAILABLE);
	assert_int_equal(fa.seq, x.tj_job.wj_audit->seq);
	assert_non_null(strstr(x.tj_job.wj_audit->detail, "not committed"));
	assert_int_equal(x.tj_job.wj_audit->seq, a.tj_job.wj_audit->seq + 1);
	assert_int_equal(b.tj_job.wj_audit->seq, x.tj_job.wj_audit->seq + 1);
	assert_int_equal(a.tj_job.wj_rc, STORE_OK);
	assert_int_equal(b.tj_job.wj_rc, STORE_OK);
	assert_true(plan_exists(f, a.tj_hhid));
	assert_true(plan_exists(f, b.tj_hhid));
	assert_int_equal(verify_ok(f), 4);
	tj_fini(&gj);
	tj_fini(&a);
	tj_fini(&x);
	tj_fini(&b);
}

static void
test_child_commit_failure_fails_batch(void **state)
{
	struct fx *f = *state;
	struct tjob g1, g2, a, b, c;
	struct gate gate1 = { 0, 0 }, gate2 = { 0, 0 };
	struct writer_stats ws;

	tj_init(&g1, TJ_OK, 9, 1, 1);
	g1.tj_gate = &gate1;
	tj_init(&g2, TJ_OK, 9, 2, 1);
	g2.tj_gate = &gate2;
	tj_init(&a, TJ_OK, 9, 3, 1);
	tj_init(&b, TJ_AUDIT_ONLY, 9, 4, 1);
	submit(f, &g1);
	WAIT_UNTIL(gate1.g_entered);
	submit(f, &g2);
	submit(f, &a);
	submit(f, &b);
	gate_open(&gate1);
	/* g2's exec runs: its child's commit is the next one. */
	WAIT_UNTIL(gate2.g_entered);
	store_fail_next_child_commit(f->st, STORE_ERR);
	gate_open(&gate2);
	WAIT_UNTIL(b.tj_posted == 1);

	assert_int_equal(g1.tj_job.wj_rc, STORE_OK);
	/* The failed merge may have broken the parent: the batch is lost. */
	assert_int_equal(g2.tj_job.wj_exec_rc, 0);
	assert_int_equal(g2.tj_job.wj_rc, STORE_ERR);
	assert_int_equal(g2.tj_job.wj_audit->outcome,
	    EENPLAN__V1__CODE__UNAVAILABLE);
	/* Nothing ran on the broken parent. */
	assert_int_equal(a.tj_job.wj_exec_rc, 0);
	assert_int_equal(a.tj_job.wj_rc, STORE_ERR);
	assert_int_equal(b.tj_job.wj_rc, STORE_ERR);
	assert_false(plan_exists(f, g2.tj_hhid));
	assert_false(plan_exists(f, a.tj_hhid));
	assert_int_equal(audit_of(f, g2.tj_hhid).n, 0);
	assert_int_equal(audit_of(f, a.tj_hhid).n, 0);
	assert_int_equal(audit_of(f, b.tj_hhid).n, 0);
	writer_stats(f->w, &ws);
	assert_int_equal(ws.ws_failed_commits, 1);

	tj_init(&c, TJ_OK, 9, 5, 1);
	submit(f, &c);
	WAIT_UNTIL(c.tj_posted == 1);
	assert_int_equal(c.tj_job.wj_rc, STORE_OK);
	assert_int_equal(c.tj_job.wj_audit->seq, g1.tj_job.wj_audit->seq + 1);
	assert_int_equal(verify_ok(f), 2);
	tj_fini(&g1);
	tj_fini(&g2);
	tj_fini(&a);
	tj_fini(&b);
	tj_fini(&c);
}

/*
 * A commit can fail after its data reached the disk (an I/O error on the
 * way out): the head is then read back, not guessed. Here the record the
 * writer did not see is appended behind its back.
 */
static void
test_head_reloaded_after_failed_commit(void **state)
{
	struct fx *f = *state;
	struct tjob j1, j2, j3;
	struct audit_head h;
	struct stxn *tx;
	EpAuditRecord *r;

	tj_init(&j1, TJ_OK, 10, 1, 1);
	submit(f, &j1);
	WAIT_UNTIL(j1.tj_posted == 1);
	assert_int_equal(j1.tj_job.wj_rc, STORE_OK);
	store_fail_next_commit(f->st, STORE_ERR);
	tj_init(&j2, TJ_OK, 10, 2, 1);
	submit(f, &j2);
	WAIT_UNTIL(j2.tj_posted == 1);
	assert_int_equal(j2.tj_job.wj_rc, STORE_ERR);

	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(audit_head_load(tx, &h), STORE_OK);
	assert_int_equal(h.ah_seq, 1);
	r = audit_record_new(NULL, "Outside", NULL, 2);
	assert_non_null(r);
	assert_int_equal(audit_append(tx, &h, r), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	audit_record_free(r);

	tj_init(&j3, TJ_OK, 10, 3, 1);
	submit(f, &j3);
	WAIT_UNTIL(j3.tj_posted == 1);
	assert_int_equal(j3.tj_job.wj_rc, STORE_OK);
	assert_int_equal(j3.tj_job.wj_audit->seq, 3);
	assert_int_equal(verify_ok(f), 3);
	tj_fini(&j1);
	tj_fini(&j2);
	tj_fini(&j3);
}

#define CAP_JOBS	2000

static void
test_batch_cap(void **state)
{
	struct fx *f = *state;
	struct tjob *jobs, gj;
	struct gate g = { 0, 0 };
	struct writer_stats ws;
	int i;

	jobs = calloc(CAP_JOBS, sizeof(*jobs));
	assert_non_null(jobs);
	tj_init(&gj, TJ_OK, 11, 0, 1);
	gj.tj_gate = &g;
	submit(f, &gj);
	WAIT_UNTIL(g.g_entered);
	for (i = 0; i < CAP_JOBS; i++) {
		tj_init(&jobs[i], TJ_OK, 11, i + 1, 1);
		submit(f, &jobs[i]);
	}
	gate_open(&g);
	WAIT_UNTIL(t_posted == CAP_JOBS + 1);
	for (i = 0; i < CAP_JOBS; i++) {
		assert_int_equal(jobs[i].tj_posted, 1);
		assert_int_equal(jobs[i].tj_job.wj_rc, STORE_OK);
		/* The rest waited their turn: FIFO across batches. */
		if (i > 0)
			assert_true(jobs[i].tj_order > jobs[i - 1].tj_order);
	}
	assert_true(plan_exists(f, jobs[0].tj_hhid));
	assert_true(plan_exists(f, jobs[CAP_JOBS - 1].tj_hhid));
	writer_stats(f->w, &ws);
	assert_true(ws.ws_max_batch <= WRITER_MAX_BATCH);
	assert_int_equal(ws.ws_max_batch, WRITER_MAX_BATCH);
	/* The gate's batch, a full one, the remainder. */
	assert_int_equal(ws.ws_batches,
	    1 + (CAP_JOBS + WRITER_MAX_BATCH - 1) / WRITER_MAX_BATCH);
	assert_int_equal(ws.ws_jobs, CAP_JOBS + 1);
	assert_int_equal(ws.ws_failed_commits, 0);
	assert_int_equal(verify_ok(f), CAP_JOBS + 1);
	for (i = 0; i < CAP_JOBS; i++)
		tj_fini(&jobs[i]);
	tj_fini(&gj);
	free(jobs);
}

static void *
open_later(void *arg)
{
	usleep(50 * 1000);
	gate_open(arg);
	return NULL;
}

static void
test_stop_drains_then_refuses(void **state)
{
	struct fx *f = *state;
	struct tjob gj, jobs[10], late;
	struct gate g = { 0, 0 };
	pthread_t th;
	int i;

	tj_init(&gj, TJ_OK, 5, 0, 1);
	gj.tj_gate = &g;
	submit(f, &gj);
	WAIT_UNTIL(g.g_entered);
	for (i = 0; i < 10; i++) {
		tj_init(&jobs[i], TJ_OK, 5, i + 1, 1);
		submit(f, &jobs[i]);
	}
	assert_int_equal(pthread_create(&th, NULL, open_later, &g), 0);
	writer_stop(f->w);
	pthread_join(th, NULL);
	assert_int_equal(gj.tj_posted, 1);
	for (i = 0; i < 10; i++) {
		assert_int_equal(jobs[i].tj_posted, 1);
		assert_int_equal(jobs[i].tj_job.wj_rc, STORE_OK);
		assert_true(plan_exists(f, jobs[i].tj_hhid));
		tj_fini(&jobs[i]);
	}
	/* After stop: posted back at once, in this thread, not run. */
	tj_init(&late, TJ_OK, 5, 99, 1);
	writer_submit(f->w, &late.tj_job);
	assert_int_equal(late.tj_posted, 1);
	assert_int_equal(late.tj_job.wj_rc, STORE_ERR);
	assert_false(plan_exists(f, late.tj_hhid));
	writer_stop(f->w);	/* twice is harmless */
	assert_int_equal(verify_ok(f), 11);
	tj_fini(&gj);
	tj_fini(&late);
}

/*
 * Five jobs committed and durable, which the indexer leaves waiting: it
 * waits for 1000 records, or an idle second.
 */
static void
submit_unindexed(struct fx *f, struct tjob jobs[5])
{
	int i;

	writer_set_index_lag(f->w, 1000);
	for (i = 0; i < 5; i++) {
		tj_init(&jobs[i], TJ_OK, 5, i + 1, 1);
		submit(f, &jobs[i]);
	}
	WAIT_UNTIL(jobs[4].tj_posted == 1);
	assert_true(store_audit_indexed(f->st) <
	    jobs[4].tj_job.wj_audit->seq);
}

/*
 * A clean stop leaves the audit index where the log ends: the indexer,
 * left waiting for audit_index_lag records that never came, indexes the
 * durable rest before it stops.
 */
static void
test_stop_catches_up_the_index(void **state)
{
	struct fx *f = *state;
	struct tjob jobs[5];
	int i;

	submit_unindexed(f, jobs);
	writer_stop(f->w);
	for (i = 0; i < 5; i++)
		assert_int_equal(jobs[i].tj_job.wj_rc, STORE_OK);
	assert_int_equal(store_audit_indexed(f->st),
	    jobs[4].tj_job.wj_audit->seq);
	for (i = 0; i < 5; i++)
		tj_fini(&jobs[i]);
}

/*
 * audit_index_stop_ms = 0: a stop does not wait for the index; what waits
 * stays for the next start's indexer.
 */
static void
test_stop_index_bounded(void **state)
{
	struct fx *f = *state;
	struct tjob jobs[5];
	int i;

	writer_set_index_stop_ms(f->w, 0);
	submit_unindexed(f, jobs);
	writer_stop(f->w);
	assert_true(store_audit_indexed(f->st) <
	    jobs[4].tj_job.wj_audit->seq);
	for (i = 0; i < 5; i++)
		tj_fini(&jobs[i]);
}

static void
test_restart_continues_chain(void **state)
{
	struct fx *f = *state;
	struct tjob j1, j2;

	tj_init(&j1, TJ_OK, 6, 1, 1);
	submit(f, &j1);
	WAIT_UNTIL(j1.tj_posted == 1);
	writer_free(f->w);
	store_close(f->st);
	assert_int_equal(fx_open(f), 0);
	tj_init(&j2, TJ_OK, 6, 2, 1);
	submit(f, &j2);
	WAIT_UNTIL(j2.tj_posted == 1);
	assert_int_equal(j2.tj_job.wj_rc, STORE_OK);
	assert_int_equal(j2.tj_job.wj_audit->seq, 2);
	assert_int_equal(verify_ok(f), 2);
	tj_fini(&j1);
	tj_fini(&j2);
}

static void
test_start_refuses_broken_head(void **state)
{
	struct fx *f = *state;
	struct tjob j;
	struct stxn *tx;
	char err[256];
	uint8_t k[8] = { 0, 0, 0, 0, 0, 0, 0, 2 };

	tj_init(&j, TJ_OK, 7, 1, 1);
	submit(f, &j);
	WAIT_UNTIL(j.tj_posted == 1);
	writer_free(f->w);
	f->w = NULL;
	/* A record past the head: appending would fork the chain. */
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_raw_put(tx, "log", k, 8, "", 0), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	err[0] = '\0';
	assert_null(writer_start(f->st, err, sizeof(err)));
	assert_non_null(strstr(err, "audit head"));
	tj_fini(&j);
}

/* ------------------------------------------------- rekey beside the writer */

static uint64_t
meta_u64(struct fx *f, const char *name)
{
	struct stxn *rd = store_reader_new(f->st);
	uint64_t v;

	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(store_meta_get_u64(rd, name, &v), STORE_OK);
	store_reader_end(rd);
	store_reader_free(rd);
	return v;
}

/* `eenpland rekey` in another process: key 0 to key 1. */
static pid_t
rekey_child(const char *env)
{
	pid_t pid;

	fflush(NULL);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		struct store *st;
		struct seal_key nk;
		char err[512];
		int rc;

		if (testkey_open(&st, env, 64u << 20, 0, 0, 0, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "rekey child: %s\n", err);
			_exit(1);
		}
		testkey(&nk, 1);
		rc = store_rekey(st, &nk, 16, NULL, NULL, err, sizeof(err));
		if (rc != 0)
			fprintf(stderr, "rekey child: %s\n", err);
		store_close(st);
		_exit(rc == 0 ? 0 : 2);
	}
	return pid;
}

/* The child's exit status, waiting at most secs seconds (-1: still running). */
static int
child_wait(pid_t pid, int secs)
{
	int i, status;
	pid_t got;

	for (i = 0; i < secs * 50; i++) {
		if ((got = waitpid(pid, &status, WNOHANG)) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		assert_int_equal(got, 0);
		usleep(20 * 1000);
	}
	return -1;
}

/*
 * The daemon marked the store; a rekey runs beside it. The idle writer
 * takes the new data key and says so; the rekey finishes; the writer goes
 * on with the key the old key file can no longer unwrap.
 */
static void
test_rekey_beside_idle_writer(void **state)
{
	struct fx *f = *state;
	struct tjob j1, j2;
	pid_t pid;
	int status;

	tj_init(&j1, TJ_OK, 12, 1, 1);
	submit(f, &j1);
	WAIT_UNTIL(j1.tj_posted == 1);
	assert_int_equal(store_daemon_mark(f->st), STORE_OK);
	pid = rekey_child(f->env);
	status = child_wait(pid, 20);
	assert_int_equal(status, 0);
	assert_true(meta_u64(f, "keyring_ack") >= meta_u64(f,
	    "keyring_gen") - 1);
	tj_init(&j2, TJ_OK, 12, 2, 1);
	submit(f, &j2);
	WAIT_UNTIL(j2.tj_posted == 1);
	assert_int_equal(j2.tj_job.wj_rc, STORE_OK);
	assert_true(plan_exists(f, j1.tj_hhid));
	assert_true(plan_exists(f, j2.tj_hhid));
	assert_int_equal(verify_ok(f), 2);
	/* The new key file opens it, with what the writer wrote after. */
	writer_free(f->w);
	store_close(f->st);
	f->key = 1;
	assert_int_equal(fx_open(f), 0);
	assert_true(plan_exists(f, j1.tj_hhid));
	assert_true(plan_exists(f, j2.tj_hhid));
	assert_int_equal(verify_ok(f), 2);
	tj_fini(&j1);
	tj_fini(&j2);
}

/* The child's side of test_beside_after_kill: 0, or where it failed. */
static int
kill_child_run(struct fx *f, int up, int go, uint64_t *last)
{
	struct tjob w0, r[4];
	struct timespec ts;
	char c;
	int i;

	if (fx_open(f) != 0)
		return 2;
	writer_set_audit_commit_ms(f->w, 1000);
	writer_set_open_idle_us(f->w, 60u * 1000000);
	tj_init(&w0, TJ_OK, 13, 1, 1);
	submit(f, &w0);
	if (write(up, "u", 1) != 1 || read(go, &c, 1) != 1)
		return 3;
	for (i = 0; i < 4; i++) {
		tj_init(&r[i], TJ_READ, 13, (unsigned)(2 + i), 1);
		submit(f, &r[i]);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 20;
		pthread_mutex_lock(&t_mtx);
		while (r[i].tj_posted == 0 && pthread_cond_timedwait(&t_cond,
		    &t_mtx, &ts) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&t_mtx);
		if (r[i].tj_posted == 0 || r[i].tj_job.wj_rc != STORE_OK)
			return 4;
	}
	*last = r[3].tj_job.wj_audit->seq;
	return 0;
}

/*
 * A process writing beside the daemon (rekey) opened the store while the
 * daemon ran; the daemon is killed with a txn open whose parts (audit
 * records of answered reads) are only in its log. The next start replays
 * the records after LMDB's last commit: a commit beside in between would
 * put that past the parts, and they would be skipped. So the commit
 * beside is refused until the store is recovered, and the recovery keeps
 * every answered read's record. Without the log there is no marker, and
 * the write beside goes through.
 */
static void
test_beside_after_kill(void **state)
{
	struct fx *f = *state;
	struct store *bs = NULL;
	struct stxn *tx;
	uint64_t last = 0;
	int up[2], go[2], status;
	char c, err[512];
	pid_t pid;

	writer_free(f->w);
	f->w = NULL;
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		int rc = kill_child_run(f, up[1], go[0], &last);

		if (rc == 0 && write(up[1], &last, sizeof(last)) !=
		    (ssize_t)sizeof(last))
			rc = 5;
		_exit(rc);	/* the writer's txn open: as kill -9 leaves it */
	}
	assert_int_equal(read(up[0], &c, 1), 1);
	/* Beside it, while it runs. */
	assert_int_equal(testkey_open(&bs, f->env, f->map, 0, 0, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(up[0], &last, sizeof(last)), sizeof(last));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(up[0]);
	close(up[1]);
	close(go[0]);
	close(go[1]);
	if (t_wal) {
		assert_int_equal(store_write_begin(bs, &tx), STORE_ERR);
	} else {
		assert_int_equal(store_write_begin(bs, &tx), STORE_OK);
		assert_int_equal(store_meta_put(tx, "beside", "x", 1),
		    STORE_OK);
		assert_int_equal(store_commit(tx), STORE_OK);
	}
	store_close(bs);
	/* The next start: every answered read on record, the chain whole. */
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(audit_last_seen(f), last);
	assert_int_equal(verify_ok(f), 5);
}

#define LOAD_MAX	500

struct loader {
	struct fx	*l_f;
	struct tjob	 l_jobs[LOAD_MAX];
	int		 l_n;
	int		 l_stop;	/* under t_mtx */
};

/* A job every 20 ms: the writer is never idle long enough to look around. */
static void *
loader_main(void *arg)
{
	struct loader *l = arg;
	int stop;

	for (;;) {
		pthread_mutex_lock(&t_mtx);
		stop = l->l_stop;
		pthread_mutex_unlock(&t_mtx);
		if (stop || l->l_n == LOAD_MAX)
			break;
		tj_init(&l->l_jobs[l->l_n], TJ_ARM, 13, (unsigned)l->l_n, 1);
		submit(l->l_f, &l->l_jobs[l->l_n]);
		l->l_n++;
		usleep(20 * 1000);
	}
	return NULL;
}

/*
 * Under steady load, the batch that first acknowledges a rekey's new key
 * fails its commit. The acknowledgement must still reach meta with a later
 * batch, or the rekey waits in vain while the daemon is busy.
 */
static void
test_rekey_ack_survives_failed_batch(void **state)
{
	struct fx *f = *state;
	struct loader *l;
	pthread_t th;
	uint64_t gen, ack;
	int i, status, victims = 0;
	pid_t pid;

	assert_int_equal(store_daemon_mark(f->st), STORE_OK);
	pthread_mutex_lock(&t_mtx);
	t_arm_gen = meta_u64(f, "keyring_gen");
	t_armed = 0;
	t_arm_store = f->st;
	pthread_mutex_unlock(&t_mtx);
	assert_non_null(l = calloc(1, sizeof(*l)));
	l->l_f = f;
	pid = rekey_child(f->env);
	assert_int_equal(pthread_create(&th, NULL, loader_main, l), 0);
	WAIT_UNTIL(t_armed);
	/* Well past the failed batch, still busy: batches commit. */
	usleep(1500 * 1000);
	gen = meta_u64(f, "keyring_gen");
	ack = meta_u64(f, "keyring_ack");
	pthread_mutex_lock(&t_mtx);
	l->l_stop = 1;
	pthread_mutex_unlock(&t_mtx);
	pthread_join(th, NULL);
	/* Idle now: the writer looks, and the rekey may go on. */
	status = child_wait(pid, 40);
	WAIT_UNTIL(t_posted == t_submitted);
	for (i = 0; i < l->l_n; i++) {
		if (l->l_jobs[i].tj_job.wj_rc != STORE_OK)
			victims++;
		tj_fini(&l->l_jobs[i]);
	}
	free(l);
	if (ack < gen)
		print_error("keyring generation %llu, acknowledged %llu: the "
		    "failed batch's acknowledgement was never made again\n",
		    (unsigned long long)gen, (unsigned long long)ack);
	assert_true(victims > 0);
	assert_int_equal(status, 0);
	assert_true(ack >= gen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batches_from_threads,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_refused_job_keeps_audit_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_grouped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit_only_job, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reads_kept_open, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_txn_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_audit_failure_rolls_back_data, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_failed_batch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stop_drains_then_refuses,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_catches_up_the_index,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_index_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restart_continues_chain,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_refuses_broken_head,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_record_failure_recorded_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_child_commit_failure_fails_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_head_reloaded_after_failed_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rekey_beside_idle_writer,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rekey_ack_survives_failed_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_beside_after_kill, setup,
		    teardown),
	};

	log_init(0, "test_writer");
	/* TEST_FILTER=test_name (a glob) runs only those. */
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	if (cmocka_run_group_tests_name("writer, log off", tests, NULL,
	    NULL) != 0)
		return 1;
	/* Again with the log: commits answered by the flusher thread. */
	t_wal = 1;
	return cmocka_run_group_tests_name("writer, log on", tests, NULL,
	    NULL);
}
