/*
 * The store's write-ahead log (daemon/wal.c) on a plain LMDB environment:
 * what a transaction records, and what an opener after a power cut makes
 * of the files a killed writer left — the checkpoint's snapshot restored
 * over a data file that holds later commits, the log replayed after it,
 * a torn last record left out, a missing transaction refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal.h"

#define NDB	2
#define TXNS	40

struct env {
	char	 dir[64];
	MDB_env	*env;
	MDB_dbi	 dbi[NDB];
};

static int
env_open(struct env *e)
{
	MDB_txn *txn;
	char name[8];
	int i;

	if (mdb_env_create(&e->env) != 0 || mdb_env_set_maxdbs(e->env, 4) != 0 ||
	    mdb_env_set_mapsize(e->env, 64u << 20) != 0 ||
	    mdb_env_open(e->env, e->dir, MDB_NOTLS | MDB_NOMETASYNC, 0600) != 0)
		return -1;
	if (mdb_txn_begin(e->env, NULL, 0, &txn) != 0)
		return -1;
	for (i = 0; i < NDB; i++) {
		snprintf(name, sizeof(name), "db%d", i);
		if (mdb_dbi_open(txn, name, MDB_CREATE, &e->dbi[i]) != 0)
			return -1;
	}
	return mdb_txn_commit(txn);
}

static int
apply(void *arg, MDB_txn *txn, int op, unsigned db, MDB_val *k, MDB_val *v)
{
	struct env *e = arg;

	if (db >= NDB)
		return 22;
	if (op == WAL_PUT)
		return mdb_put(txn, e->dbi[db], k, v, 0);
	if (op == WAL_DEL)
		return mdb_del(txn, e->dbi[db], k, NULL);
	return 22;
}

/* Transaction i: puts key i (a page's worth of value) and deletes i - 3. */
static void
one_txn(struct env *e, struct wal *w, int i)
{
	struct walbuf wb;
	MDB_txn *txn;
	MDB_val k, v;
	char key[16], val[3000];
	uint64_t id;

	memset(&wb, 0, sizeof(wb));
	assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
	id = mdb_txn_id(txn);
	snprintf(key, sizeof(key), "k%04d", i);
	memset(val, 'a' + i % 26, sizeof(val));
	k.mv_data = key;
	k.mv_size = strlen(key);
	v.mv_data = val;
	v.mv_size = sizeof(val);
	assert_int_equal(mdb_put(txn, e->dbi[i % NDB], &k, &v, 0), 0);
	assert_int_equal(walbuf_add(&wb, WAL_PUT, (unsigned)(i % NDB), key,
	    k.mv_size, val, sizeof(val)), 0);
	if (i >= 3) {
		snprintf(key, sizeof(key), "k%04d", i - 3);
		if (mdb_del(txn, e->dbi[(i - 3) % NDB], &k, NULL) == 0)
			assert_int_equal(walbuf_add(&wb, WAL_DEL,
			    (unsigned)((i - 3) % NDB), key, k.mv_size, NULL,
			    0), 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(wal_commit(w, id, &wb), 0);
	walbuf_free(&wb);
}

/* What the store holds after transactions 0..n-1: "k%04d" -> its byte. */
static void
check_content(struct env *e, int n)
{
	MDB_txn *txn;
	MDB_val k, v;
	char key[16];
	int i, want;

	assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn), 0);
	for (i = 0; i < TXNS; i++) {
		snprintf(key, sizeof(key), "k%04d", i);
		k.mv_data = key;
		k.mv_size = strlen(key);
		want = i < n && i >= n - 3;
		if (mdb_get(txn, e->dbi[i % NDB], &k, &v) == 0) {
			if (!want)
				fail_msg("key %s present after %d txns", key, n);
			assert_int_equal(v.mv_size, 3000);
			assert_int_equal(((char *)v.mv_data)[0], 'a' + i % 26);
		} else if (want)
			fail_msg("key %s missing after %d txns", key, n);
	}
	mdb_txn_abort(txn);
}

/* Runs fn(e, arg) in a child that dies without a word; it must get to its end. */
static void
in_child(void (*fn)(struct env *, int), struct env *e, int arg)
{
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn(e, arg);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A child runs TXNS logged transactions and dies without a word. */
static void
killed_writer_run(struct env *e, int unused)
{
	struct wal *w;
	char err[256];
	int i;

	(void)unused;
	if (env_open(e) != 0 ||
	    wal_start(&w, e->dir, e->env, "boot-A", 300, 1, err, sizeof(err)))
		_exit(2);
	/*
	 * Checkpoints begin at the first commit after each pause
	 * (every 300 ms): at i = 6, 16 and 26, so the
	 * last 13 transactions are only in the log.
	 */
	for (i = 0; i < TXNS; i++) {
		one_txn(e, w, i);
		if (i == 5 || i == 15 || i == 25)
			usleep(400000);
	}
}

static void
killed_writer(struct env *e)
{
	in_child(killed_writer_run, e, 0);
}

static void
fresh(struct env *e)
{
	char cmd[128];

	snprintf(e->dir, sizeof(e->dir), "/tmp/test_wal.%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(mkdir(e->dir, 0700), 0);
	e->env = NULL;
}

static void
cleanup(struct env *e)
{
	char cmd[128];

	if (e->env != NULL)
		mdb_env_close(e->env);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	assert_int_equal(system(cmd), 0);
}

/* After another boot: prepare, open, replay; the count replayed. */
static int
recover(struct env *e, uint64_t *n, char *err, size_t errlen)
{
	struct wal_ckpt ck;
	int state;

	if (wal_prepare(e->dir, "boot-B", &state, &ck, err, errlen) == -1)
		return -1;
	assert_int_equal(state, WAL_RECOVER);
	assert_int_equal(env_open(e), 0);
	assert_true(ck.ck_txnid > 0);
	return wal_replay(e->dir, e->env, &ck, apply, e, n, err, errlen);
}

static void
test_walbuf(void **state)
{
	struct walbuf a;
	uint8_t *copy;
	uint32_t big = 1000;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(walbuf_add(&a, WAL_PUT, 1, "k1", 2, "v1", 2), 0);
	assert_int_equal(a.wb_len, 12 + 4);
	/* Cut inside a header, or lengths past the end: refused, nothing
	   applied (a NULL apply function would crash). */
	assert_int_equal(walbuf_each(a.wb_buf, 5, NULL, NULL, NULL), 22);
	copy = malloc(a.wb_len);
	assert_non_null(copy);
	memcpy(copy, a.wb_buf, a.wb_len);
	memcpy(copy + 4, &big, 4);
	assert_int_equal(walbuf_each(copy, a.wb_len, NULL, NULL, NULL), 22);
	copy[0] = 9;
	memcpy(copy + 4, "\2\0\0\0", 4);
	assert_int_equal(walbuf_each(copy, a.wb_len, NULL, NULL, NULL), 22);
	free(copy);
	/* Out of memory before: every later add refused. */
	a.wb_err = 1;
	assert_int_equal(walbuf_add(&a, WAL_PUT, 1, "k", 1, "v", 1), -1);
	walbuf_free(&a);
}

static int
count_ops(void *arg, MDB_txn *txn, int op, unsigned db, MDB_val *k,
    MDB_val *v)
{
	int *n = arg;

	(void)txn;
	switch (*n) {
	case 0:
		assert_int_equal(op, WAL_PUT);
		assert_int_equal(db, 1);
		assert_memory_equal(k->mv_data, "k1", 2);
		assert_memory_equal(v->mv_data, "v1", 2);
		break;
	case 1:
		assert_int_equal(op, WAL_DEL);
		assert_int_equal(db, 300);
		assert_int_equal(v->mv_size, 0);
		break;
	case 2:
		assert_int_equal(op, WAL_DEL_PREFIX);
		assert_int_equal(k->mv_size, 1);
		break;
	}
	(*n)++;
	return 0;
}

static void
test_walbuf_order(void **state)
{
	struct walbuf a, b;
	int n = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(walbuf_add(&a, WAL_PUT, 1, "k1", 2, "v1", 2), 0);
	assert_int_equal(walbuf_add(&b, WAL_DEL, 300, "k2", 2, NULL, 0), 0);
	assert_int_equal(walbuf_add(&b, WAL_DEL_PREFIX, 0, "p", 1, NULL, 0),
	    0);
	assert_int_equal(walbuf_merge(&a, &b), 0);
	assert_int_equal(walbuf_each(a.wb_buf, a.wb_len, NULL, count_ops, &n),
	    0);
	assert_int_equal(n, 3);
	walbuf_free(&a);
}

/* Everything the killed writer committed comes back, from the checkpoint
   the opener restores over later commits' meta pages. */
static void
test_replay_all(void **state)
{
	struct env e;
	char err[256];
	uint64_t n = 0;

	(void)state;
	fresh(&e);
	killed_writer(&e);
	if (recover(&e, &n, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(n, 13);
	check_content(&e, TXNS);
	/* The marker is the caller's to clear; a second start finds none. */
	assert_int_equal(wal_clear(e.dir), 0);
	cleanup(&e);
}

/*
 * log_file_mb: each file is written to its size, and a checkpoint begins
 * when an epoch has filled half of one, however long checkpoint_ms is.
 * 250 transactions of ~3 KB with checkpoint_ms at a minute and 1 MB
 * files: one checkpoint after ~171 (512 KB), the rest in wal.1, and only
 * those replayed after a cut.
 */
static void
test_checkpoint_by_size(void **state)
{
	struct env e;
	struct stat sb;
	struct wal *w;
	char err[256], path[128];
	uint64_t n = 0;
	pid_t pid;
	int st, i;

	(void)state;
	fresh(&e);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (env_open(&e) != 0 ||
		    wal_start(&w, e.dir, e.env, "boot-A", 60000, 1, err,
		    sizeof(err)))
			_exit(2);
		for (i = 0; i < 250; i++)
			one_txn(&e, w, i);
		usleep(300000);		/* the checkpoint thread's write */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/wal.%d", e.dir, i);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_size, 1024 * 1024);
	}
	if (recover(&e, &n, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	if (n < 60 || n > 90)
		fail_msg("%llu transactions replayed: expected those after a "
		    "checkpoint at ~512 KB of log (~79)", (unsigned long long)n);
	assert_int_equal(wal_clear(e.dir), 0);
	cleanup(&e);
}

/* The log's last record torn (never flushed, never answered): left out. */
static void
test_replay_torn_tail(void **state)
{
	struct env e;
	char err[256], path[128];
	uint64_t n = 0;
	int fd;
	off_t end;

	(void)state;
	fresh(&e);
	killed_writer(&e);
	/* Epoch 4 (see killed_writer), in wal.0: its last record. */
	{
		uint8_t buf[48];
		off_t off = 0, last = -1;
		uint32_t len;

		snprintf(path, sizeof(path), "%s/%s", e.dir, WAL_LOG0);
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		/* Walk the records (magic, len) to the last one. */
		for (;;) {
			if (pread(fd, buf, 40, off) != 40 ||
			    memcmp(buf, "EWAL", 4) != 0)
				break;
			memcpy(&len, buf + 4, 4);
			last = off;
			off += 40 + len;
		}
		assert_true(last >= 0);
		end = off;
		/* A byte of its payload changed: its CRC fails. */
		assert_int_equal(pwrite(fd, "\xff", 1, end - 1), 1);
		close(fd);
	}
	if (recover(&e, &n, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(n, 12);
	check_content(&e, TXNS - 1);
	cleanup(&e);
}

/* A record in the middle gone: replay refuses rather than skip it. */
static void
test_replay_gap_refused(void **state)
{
	struct env e;
	char err[256], p[128];
	uint8_t buf[48];
	uint64_t n = 0;
	uint32_t len;
	off_t off = 0;
	int fd, k, i, broke = 0;

	(void)state;
	fresh(&e);
	killed_writer(&e);
	/* Epoch 4's second record (wal.0) removed, the rest moved up. */
	for (i = 0; i < 1; i++) {
		snprintf(p, sizeof(p), "%s/%s", e.dir, WAL_LOG0);
		fd = open(p, O_RDWR);
		assert_true(fd >= 0);
		for (k = 0, off = 0; k < 2; k++) {
			if (pread(fd, buf, 40, off) != 40 ||
			    memcmp(buf, "EWAL", 4) != 0)
				break;
			memcpy(&len, buf + 4, 4);
			if (k == 1) {
				/* Remove it: the third record moves up. */
				uint8_t *rest;
				off_t tail = off + 40 + len;
				ssize_t r;

				rest = malloc(8u << 20);
				assert_non_null(rest);
				r = pread(fd, rest, 8u << 20, tail);
				assert_true(r > 0);
				assert_int_equal(pwrite(fd, rest, (size_t)r,
				    off), r);
				free(rest);
				broke++;
			}
			off += 40 + len;
		}
		close(fd);
	}
	assert_int_equal(broke, 1);
	assert_int_equal(recover(&e, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing"));
	cleanup(&e);
}

/* The same boot, the writer gone: the page cache kept everything. */
static void
test_stale_same_boot(void **state)
{
	struct env e;
	struct wal_ckpt ck;
	char err[256];
	int st;

	(void)state;
	fresh(&e);
	killed_writer(&e);
	assert_int_equal(wal_prepare(e.dir, "boot-A", &st, &ck, err,
	    sizeof(err)), 0);
	assert_int_equal(st, WAL_STALE);
	assert_int_equal(env_open(&e), 0);
	check_content(&e, TXNS);
	assert_int_equal(wal_clear(e.dir), 0);
	assert_int_equal(wal_prepare(e.dir, "boot-B", &st, &ck, err,
	    sizeof(err)), 0);
	assert_int_equal(st, WAL_NONE);
	cleanup(&e);
}

/*
 * A child commits 10 transactions (keys 7..9 left), then keeps one open
 * and logs it in 5 parts (keys 10..14), each flushed — as the writer does
 * for batches of audit records, answering each part after its flush.
 * closed: then puts key 15 and commits it, its last record logged; else
 * it dies with the txn open, never committed into LMDB.
 */
static void
parts_writer_run(struct env *e, int closed)
{
	struct walbuf wb;
	struct wal *w;
	MDB_txn *txn;
	MDB_val k, v;
	char err[256], key[16], val[100];
	uint64_t id, lsn;
	int i;

	if (env_open(e) != 0 ||
	    wal_start(&w, e->dir, e->env, "boot-A", 60000, 1, err,
	    sizeof(err)))
		_exit(2);
	for (i = 0; i < 10; i++)
		one_txn(e, w, i);
	memset(&wb, 0, sizeof(wb));
	if (mdb_txn_begin(e->env, NULL, 0, &txn) != 0)
		_exit(3);
	id = mdb_txn_id(txn);
	for (i = 10; i < (closed ? 16 : 15); i++) {
		snprintf(key, sizeof(key), "k%04d", i);
		memset(val, 'a' + i % 26, sizeof(val));
		k.mv_data = key;
		k.mv_size = strlen(key);
		v.mv_data = val;
		v.mv_size = sizeof(val);
		if (mdb_put(txn, e->dbi[i % NDB], &k, &v, 0) != 0 ||
		    walbuf_add(&wb, WAL_PUT, (unsigned)(i % NDB), key,
		    k.mv_size, val, sizeof(val)) != 0)
			_exit(4);
		if (i == 15)
			break;
		if (wal_append_part(w, id, &wb, &lsn) != 0 ||
		    wal_sync(w, lsn) != 0)
			_exit(5);
		wb.wb_len = 0;
	}
	if (closed && (mdb_txn_commit(txn) != 0 ||
	    wal_commit(w, id, &wb) != 0))
		_exit(6);
}

static void
parts_writer(struct env *e, int closed)
{
	in_child(parts_writer_run, e, closed);
}

/* Which of keys 7..15 the store holds, as a bit mask (bit i: key i). */
static unsigned
keys_held(struct env *e)
{
	MDB_txn *txn;
	MDB_val k, v;
	char key[16];
	unsigned m = 0;
	int i;

	assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn), 0);
	for (i = 7; i < 16; i++) {
		snprintf(key, sizeof(key), "k%04d", i);
		k.mv_data = key;
		k.mv_size = strlen(key);
		if (mdb_get(txn, e->dbi[i % NDB], &k, &v) == 0) {
			assert_int_equal(v.mv_size, i < 10 ? 3000 : 100);
			m |= 1u << i;
		}
	}
	mdb_txn_abort(txn);
	return m;
}

#define KEYS(a, b)	(((1u << ((b) + 1)) - 1) & ~((1u << (a)) - 1))

/*
 * After a power cut the parts of the txn the writer had open come back:
 * committed at the log's end when only parts were logged (closed 0), as
 * one txn with its last record when its commit was logged too (1).
 */
static void
parts_recovered(int closed, unsigned want)
{
	struct env e;
	char err[256];
	uint64_t n = 0;

	fresh(&e);
	parts_writer(&e, closed);
	if (recover(&e, &n, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	/* 10 txns after the start's checkpoint, and the open one. */
	assert_int_equal(n, 11);
	assert_int_equal(keys_held(&e), want);
	cleanup(&e);
}

static void
test_parts_after_power_cut(void **state)
{
	(void)state;
	parts_recovered(0, KEYS(7, 14));
}

static void
test_parts_then_commit(void **state)
{
	(void)state;
	parts_recovered(1, KEYS(7, 15));
}

/*
 * Killed on the same boot with a txn open: the page cache holds every
 * commit but not the open txn, which only the log has. Replayed from
 * LMDB's last commit; a second replay finds nothing more to do.
 */
static void
test_parts_after_kill_same_boot(void **state)
{
	struct env e;
	struct wal_ckpt ck;
	MDB_envinfo info;
	char err[256];
	uint64_t n = 0;
	int st;

	(void)state;
	fresh(&e);
	parts_writer(&e, 0);
	assert_int_equal(wal_prepare(e.dir, "boot-A", &st, &ck, err,
	    sizeof(err)), 0);
	assert_int_equal(st, WAL_STALE);
	assert_true(ck.ck_run != 0);
	assert_int_equal(env_open(&e), 0);
	assert_int_equal(keys_held(&e), KEYS(7, 9));
	assert_int_equal(mdb_env_info(e.env, &info), 0);
	if (wal_replay_from(e.dir, e.env, &ck, info.me_last_txnid, apply, &e,
	    &n, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(n, 1);
	assert_int_equal(keys_held(&e), KEYS(7, 14));
	assert_int_equal(mdb_env_info(e.env, &info), 0);
	if (wal_replay_from(e.dir, e.env, &ck, info.me_last_txnid, apply, &e,
	    &n, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(n, 0);
	assert_int_equal(keys_held(&e), KEYS(7, 14));
	cleanup(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walbuf),
		cmocka_unit_test(test_walbuf_order),
		cmocka_unit_test(test_replay_all),
		cmocka_unit_test(test_replay_torn_tail),
		cmocka_unit_test(test_replay_gap_refused),
		cmocka_unit_test(test_stale_same_boot),
		cmocka_unit_test(test_checkpoint_by_size),
		cmocka_unit_test(test_parts_after_power_cut),
		cmocka_unit_test(test_parts_then_commit),
		cmocka_unit_test(test_parts_after_kill_same_boot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
