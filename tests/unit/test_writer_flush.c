/*
 * The writer answers a batch only once its meta page is flushed (a bug
 * found by tests/blackbox/test_crash.py). With MDB_NOMETASYNC a commit
 * flushes its data and writes its meta page unflushed; the writer counts
 * on the next commit's flush for that meta. But a commit that changed
 * nothing writes and flushes nothing — a batch of only "record this person
 * as known" jobs (call_know) for someone the writer already knows — so the
 * batch before it must not be answered on the strength of it. This binary
 * defines fdatasync (liblmdb's calls come here) and counts the flushes
 * that returned between a job's exec and its answer: its own commit's data
 * flush and one after its meta page, at least two.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "audit.h"
#include "writer.h"
#include "testkey.h"

static atomic_uint	t_flushes;	/* fdatasync calls returned */

static pthread_mutex_t	t_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	t_cond = PTHREAD_COND_INITIALIZER;
/*
 * test_flushers_overlap: the next flush of a log file (wal.0, wal.1) waits,
 * before it flushes anything, until t_log_release.
 */
static int	t_log_gate;	/* under t_mtx */
static int	t_log_held;	/* under t_mtx: a log flush is waiting */
static int	t_log_release;	/* under t_mtx */
static unsigned	t_post_order;	/* under t_mtx: answers so far */

static int
is_log_fd(int fd)
{
	char link[64], path[512];
	ssize_t n;
	const char *b;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 0)
		return 0;
	path[n] = '\0';
	b = strrchr(path, '/');
	b = b != NULL ? b + 1 : path;
	return strcmp(b, "wal.0") == 0 || strcmp(b, "wal.1") == 0;
}

int
fdatasync(int fd)
{
	static int (*real)(int);
	int rc;

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	pthread_mutex_lock(&t_mtx);
	if (t_log_gate && is_log_fd(fd)) {
		t_log_gate = 0;
		t_log_held = 1;
		pthread_cond_broadcast(&t_cond);
		while (!t_log_release)
			pthread_cond_wait(&t_cond, &t_mtx);
		t_log_held = 0;
	}
	pthread_mutex_unlock(&t_mtx);
	rc = real(fd);
	atomic_fetch_add(&t_flushes, 1);
	return rc;
}

struct fjob {
	struct wjob	 fj_job;	/* first: the writer hands this back */
	char		 fj_hhid[33];
	int		 fj_gate;	/* wait in exec until t_open */
	int		 fj_entered;
	int		 fj_posted;
	unsigned	 fj_order;	/* its place among the answers */
	unsigned	 fj_flushes_exec;	/* flushes done when exec ran */
	unsigned	 fj_flushes_post;	/* ... when posted */
};

static int	t_open;

static void
fj_post(struct wjob *j)
{
	struct fjob *fj = (struct fjob *)j;

	pthread_mutex_lock(&t_mtx);
	fj->fj_flushes_post = atomic_load(&t_flushes);
	fj->fj_posted = 1;
	fj->fj_order = ++t_post_order;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_mtx);
}

static int
fj_exec(struct wjob *j, struct stxn *tx)
{
	struct fjob *fj = (struct fjob *)j;
	EpsHousehold h = EENPLAN__STORE__HOUSEHOLD__INIT;

	pthread_mutex_lock(&t_mtx);
	fj->fj_entered = 1;
	pthread_cond_broadcast(&t_cond);
	while (fj->fj_gate && !t_open)
		pthread_cond_wait(&t_cond, &t_mtx);
	fj->fj_flushes_exec = atomic_load(&t_flushes);
	pthread_mutex_unlock(&t_mtx);
	h.household_id = fj->fj_hhid;
	h.version = 1;
	h.status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ACTIVE;
	return store_hh_put(tx, &h) == STORE_OK ? 0 : -1;
}

static struct principal t_who;

static void
who_init(void)
{
	memset(&t_who, 0, sizeof(t_who));
	snprintf(t_who.pr_org, sizeof(t_who.pr_org), "lev");
	snprintf(t_who.pr_subject, sizeof(t_who.pr_subject), "s.bakker");
	t_who.pr_role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
}

/* A job that changes data (gated or not), or one that only records t_who. */
static void
fj_init(struct fjob *fj, int change, int gate, unsigned n)
{
	memset(fj, 0, sizeof(*fj));
	fj->fj_gate = gate;
	fj->fj_job.wj_post = fj_post;
	fj->fj_job.wj_arg = fj;
	fj->fj_job.wj_who = &t_who;
	snprintf(fj->fj_hhid, sizeof(fj->fj_hhid), "%032x", n);
	if (!change)
		return;
	fj->fj_job.wj_exec = fj_exec;
	fj->fj_job.wj_audit = audit_record_new(&t_who, "CreateHousehold",
	    fj->fj_hhid, 1);
	assert_non_null(fj->fj_job.wj_audit);
}

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

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

struct fx {
	char		 dir[256];
	struct store	*st;
	struct writer	*w;
	struct fjob	 a;	/* its audit record freed by teardown */
};

static int
setup_log(void **state, int with_log)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");
	char env[300], err[512];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/eenplan-test-XXXXXX",
	    t && *t ? t : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(env, sizeof(env), "%s/db", f->dir);
	if (testkey_open(&f->st, env, 16u << 20, 0, 0, 1, err,
	    sizeof(err)) == -1 || (with_log && store_wal_start(f->st, 60000,
	    1, err, sizeof(err)) == -1) ||
	    (f->w = writer_start(f->st, err, sizeof(err))) == NULL) {
		print_error("%s\n", err);
		return -1;
	}
	who_init();
	t_open = 0;
	t_log_gate = t_log_held = t_log_release = 0;
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_log(state, 0);
}

static int
setup_wal(void **state)
{
	return setup_log(state, 1);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	pthread_mutex_lock(&t_mtx);
	t_log_release = 1;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_mtx);

	writer_free(f->w);
	audit_record_free(f->a.fj_job.wj_audit);
	store_close(f->st);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* What makes a batch durable comes after it: here, a commit of nothing. */
static void
test_empty_batch_after_a_change(void **state)
{
	struct fx *f = *state;
	struct fjob known, k;

	/* The writer records t_who: from now on a job of theirs alone is empty. */
	fj_init(&known, 0, 0, 0);
	writer_submit(f->w, &known.fj_job);
	WAIT_UNTIL(known.fj_posted);

	/* a's batch runs; k waits behind it, then commits as a batch alone. */
	fj_init(&f->a, 1, 1, 1);
	fj_init(&k, 0, 0, 2);
	writer_submit(f->w, &f->a.fj_job);
	WAIT_UNTIL(f->a.fj_entered);
	writer_submit(f->w, &k.fj_job);
	pthread_mutex_lock(&t_mtx);
	t_open = 1;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_mtx);
	WAIT_UNTIL(f->a.fj_posted && k.fj_posted);
	assert_int_equal(f->a.fj_job.wj_rc, STORE_OK);
	assert_int_equal(k.fj_job.wj_rc, STORE_OK);
	if (f->a.fj_flushes_post < f->a.fj_flushes_exec + 2)
		fail_msg("a batch answered after %u flush(es) since it ran: "
		    "its meta page was not flushed", f->a.fj_flushes_post -
		    f->a.fj_flushes_exec);
}

/* Alone, with nothing waiting: answered after an explicit sync. */
static void
test_alone(void **state)
{
	struct fx *f = *state;

	fj_init(&f->a, 1, 0, 3);
	writer_submit(f->w, &f->a.fj_job);
	WAIT_UNTIL(f->a.fj_posted);
	assert_int_equal(f->a.fj_job.wj_rc, STORE_OK);
	assert_true(f->a.fj_flushes_post >= f->a.fj_flushes_exec + 2);
}

/* Under load: answered after the next batch's commit flushed. */
static void
test_next_batch(void **state)
{
	struct fx *f = *state;
	struct fjob b;

	fj_init(&f->a, 1, 1, 4);
	fj_init(&b, 1, 0, 5);
	writer_submit(f->w, &f->a.fj_job);
	WAIT_UNTIL(f->a.fj_entered);
	writer_submit(f->w, &b.fj_job);
	pthread_mutex_lock(&t_mtx);
	t_open = 1;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_mtx);
	WAIT_UNTIL(f->a.fj_posted && b.fj_posted);
	audit_record_free(b.fj_job.wj_audit);
	assert_true(f->a.fj_flushes_post >= f->a.fj_flushes_exec + 2);
	assert_true(b.fj_flushes_post >= b.fj_flushes_exec + 2);
}

/*
 * With the log: while one flusher's flush of batch a has not returned, the
 * other takes batch b and flushes it; that flush began after a's record
 * was written, so it answers a, then b — before a's own flush returns.
 * With one flusher (or answers tied to their own flush) b would wait.
 */
static void
test_flushers_overlap(void **state)
{
	struct fx *f = *state;
	static struct fjob b;	/* answered after a failed wait too */
	int held;

	pthread_mutex_lock(&t_mtx);
	t_log_gate = 1;
	pthread_mutex_unlock(&t_mtx);
	fj_init(&f->a, 1, 0, 6);
	writer_submit(f->w, &f->a.fj_job);
	WAIT_UNTIL(t_log_held);
	fj_init(&b, 1, 0, 7);
	writer_submit(f->w, &b.fj_job);
	WAIT_UNTIL(f->a.fj_posted && b.fj_posted);
	pthread_mutex_lock(&t_mtx);
	held = t_log_held;
	pthread_mutex_unlock(&t_mtx);
	audit_record_free(b.fj_job.wj_audit);
	assert_true(held);	/* a's own flush still waits */
	assert_int_equal(f->a.fj_job.wj_rc, STORE_OK);
	assert_int_equal(b.fj_job.wj_rc, STORE_OK);
	assert_true(f->a.fj_order < b.fj_order);
	/* b's flush, after both records were written: one at least. */
	assert_true(f->a.fj_flushes_post > f->a.fj_flushes_exec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flushers_overlap,
		    setup_wal, teardown),
		cmocka_unit_test_setup_teardown(test_next_batch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_batch_after_a_change,
		    setup, teardown),
	};

	log_init(0, "test_writer_flush");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
