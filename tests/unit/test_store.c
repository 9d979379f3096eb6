/* Unit tests for the LMDB store: framing, checksums, limits, damage checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "log.h"
#include "store.h"

#define HH_A	"0123456789abcdef0123456789abcdef"
#define HH_B	"fedcba9876543210fedcba9876543210"
#define HH_C	"00000000000000000000000000000001"
#define HH_AX	"0123456789abcdef0123456789abcdef0"	/* HH_A is its prefix */

struct fx {
	char		 dir[256];	/* the temp dir */
	char		 env[300];	/* the environment inside it */
	struct store	*st;
};

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
make_tmpdir(char *out, size_t len)
{
	const char *t = getenv("TMPDIR");

	snprintf(out, len, "%s/eenplan-test-XXXXXX", t && *t ? t : "/tmp");
	assert_non_null(mkdtemp(out));
}

static int
fx_open(struct fx *f, size_t map)
{
	struct store_opts o;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.so_dir = f->env;
	o.so_map_max = map;
	if (store_open(&f->st, &o, err, sizeof(err)) == -1) {
		print_error("store_open: %s\n", err);
		return -1;
	}
	return 0;
}

static int
setup_map(void **state, size_t map)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	make_tmpdir(f->dir, sizeof(f->dir));
	snprintf(f->env, sizeof(f->env), "%s/db", f->dir);
	if (fx_open(f, map) == -1)
		return -1;
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_map(state, 16u << 20);
}

static int
setup_small(void **state)
{
	return setup_map(state, 64u << 10);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void
fx_reopen(struct fx *f)
{
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(fx_open(f, 16u << 20), 0);
}

/* A plan with one note of notelen bytes. */
struct tplan {
	EpPlan		 p;
	EpNote		 n;
	EpNote		*np[1];
	EpHistoryEntry	 h;
	char		*text;
};

static void
tplan_init(struct tplan *t, const char *hhid, uint64_t version,
    size_t notelen)
{
	memset(t, 0, sizeof(*t));
	eenplan__v1__plan__init(&t->p);
	eenplan__v1__note__init(&t->n);
	eenplan__v1__history_entry__init(&t->h);
	t->p.household_id = (char *)(uintptr_t)hhid;
	t->p.version = version;
	t->p.area = EENPLAN__V1__AREA__AREA_NOORD;
	t->h.version = version;
	t->h.kind = EENPLAN__V1__CHANGE_KIND__CHANGE_PLAN;
	t->h.at = (int64_t)version * 1000;
	if (notelen > 0) {
		t->text = malloc(notelen + 1);
		assert_non_null(t->text);
		memset(t->text, 'x', notelen);
		t->text[notelen] = '\0';
		t->n.id = 1;
		t->n.text = t->text;
		t->np[0] = &t->n;
		t->p.notes = t->np;
		t->p.n_notes = 1;
	}
}

static void
tplan_free(struct tplan *t)
{
	free(t->text);
}

static int
put_plan(struct store *st, const char *hhid, uint64_t version,
    size_t notelen)
{
	struct tplan t;
	struct stxn *tx;
	int rc;

	tplan_init(&t, hhid, version, notelen);
	assert_int_equal(store_write_begin(st, &tx), STORE_OK);
	rc = store_plan_put(tx, &t.p, &t.h);
	if (rc == STORE_OK)
		rc = store_commit(tx);
	else
		store_abort(tx);
	tplan_free(&t);
	return rc;
}

static int
get_plan_version(struct store *st, const char *hhid, uint64_t version,
    uint64_t *got)
{
	struct stxn *rd = store_reader_new(st);
	EpPlan *p = NULL;
	int rc;

	assert_non_null(rd);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	rc = store_plan_get(rd, hhid, version, &p);
	*got = p != NULL ? p->version : 0;
	if (p != NULL)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	store_reader_end(rd);
	store_reader_free(rd);
	return rc;
}

/* ------------------------------------------------------------ tests */

static void
test_open_creates_schema(void **state)
{
	struct fx *f = *state;
	struct stxn *rd = store_reader_new(f->st);
	uint8_t buf[16];
	size_t len;
	struct stat sb;
	char path[400];

	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(store_meta_get(rd, "schema", buf, sizeof(buf), &len),
	    STORE_OK);
	assert_int_equal(len, 8);
	assert_int_equal(buf[7], STORE_SCHEMA_VERSION);
	assert_int_equal(buf[0] | buf[1] | buf[2] | buf[3] | buf[4] | buf[5] |
	    buf[6], 0);
	store_reader_end(rd);
	store_reader_free(rd);
	snprintf(path, sizeof(path), "%s/data.mdb", f->env);
	assert_int_equal(stat(path, &sb), 0);
	/* Sparse growth: nowhere near the 16 MiB map. */
	assert_true(sb.st_size < (1 << 20));
}

static void
test_plan_put_get(void **state)
{
	struct fx *f = *state;
	uint64_t v;

	assert_int_equal(put_plan(f->st, HH_A, 1, 10), STORE_OK);
	assert_int_equal(put_plan(f->st, HH_A, 2, 20), STORE_OK);
	assert_int_equal(put_plan(f->st, HH_A, 3, 30), STORE_OK);
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &v), STORE_OK);
	assert_int_equal(v, 3);
	assert_int_equal(get_plan_version(f->st, HH_A, 2, &v), STORE_OK);
	assert_int_equal(v, 2);
	assert_int_equal(get_plan_version(f->st, HH_A, 9, &v), STORE_NOTFOUND);
	assert_int_equal(get_plan_version(f->st, HH_B, 0, &v), STORE_NOTFOUND);
	assert_int_equal(get_plan_version(f->st, "", 0, &v), STORE_NOTFOUND);
}

static void
test_plan_put_refuses_bad_input(void **state)
{
	struct fx *f = *state;
	struct tplan t;
	struct stxn *tx;

	tplan_init(&t, HH_A, 2, 0);
	t.h.version = 1;	/* entry for another version */
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_not_equal(store_plan_put(tx, &t.p, &t.h), STORE_OK);
	t.p.version = 0;
	assert_int_not_equal(store_plan_put(tx, &t.p, NULL), STORE_OK);
	store_abort(tx);
}

static void
test_history_paging(void **state)
{
	struct fx *f = *state;
	struct stxn *rd;
	EpHistoryEntry **e;
	size_t n;
	int more, v;

	for (v = 1; v <= 5; v++)
		assert_int_equal(put_plan(f->st, HH_A, v, 0), STORE_OK);
	/* Neighbours whose keys share or follow the prefix must not leak in. */
	assert_int_equal(put_plan(f->st, HH_AX, 1, 0), STORE_OK);
	assert_int_equal(put_plan(f->st, HH_C, 1, 0), STORE_OK);
	rd = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(rd), STORE_OK);

	assert_int_equal(store_history_list(rd, HH_A, 0, 2, &e, &n, &more),
	    STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(more, 1);
	assert_int_equal(e[0]->version, 1);
	assert_int_equal(e[1]->version, 2);
	store_free_list((void **)e, n);

	assert_int_equal(store_history_list(rd, HH_A, 2, 2, &e, &n, &more),
	    STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(more, 1);
	assert_int_equal(e[0]->version, 3);
	assert_int_equal(e[1]->version, 4);
	store_free_list((void **)e, n);

	assert_int_equal(store_history_list(rd, HH_A, 4, 2, &e, &n, &more),
	    STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(more, 0);
	assert_int_equal(e[0]->version, 5);
	assert_int_equal(e[0]->at, 5000);
	store_free_list((void **)e, n);

	assert_int_equal(store_history_list(rd, HH_A, 0, 100, &e, &n, &more),
	    STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(more, 0);
	store_free_list((void **)e, n);

	assert_int_equal(store_history_list(rd, HH_A, 5, 2, &e, &n, &more),
	    STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(more, 0);
	assert_null(e);
	assert_int_equal(store_history_list(rd, HH_A, UINT64_MAX, 2, &e, &n,
	    &more), STORE_OK);
	assert_int_equal(n, 0);
	store_reader_end(rd);
	store_reader_free(rd);
}

static void
test_grants_in_id_order(void **state)
{
	struct fx *f = *state;
	static const uint64_t ids[] = { 3, 1, 300, 2 };
	EpGrant g, **out;
	struct stxn *tx, *rd;
	size_t i, n;

	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		eenplan__v1__grant__init(&g);
		g.id = ids[i];
		g.grantee_org = "lev";
		g.access = EENPLAN__V1__ACCESS__ACCESS_READ;
		g.purpose = "begeleiding";
		assert_int_equal(store_grant_put(tx, HH_A, &g), STORE_OK);
	}
	g.id = 7;
	assert_int_equal(store_grant_put(tx, HH_B, &g), STORE_OK);
	g.id = 0;
	assert_int_not_equal(store_grant_put(tx, HH_B, &g), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);

	rd = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(store_grants_get(rd, HH_A, &out, &n), STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(out[0]->id, 1);
	assert_int_equal(out[1]->id, 2);
	assert_int_equal(out[2]->id, 3);
	assert_int_equal(out[3]->id, 300);
	assert_string_equal(out[0]->grantee_org, "lev");
	store_free_list((void **)out, n);
	assert_int_equal(store_grants_get(rd, HH_C, &out, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_reader_end(rd);
	store_reader_free(rd);
}

struct scan_acc {
	char	hh[8][40];
	int	n;
	int	stop_after;
};

static int
scan_cb(const char *hhid, void *arg)
{
	struct scan_acc *a = arg;

	if (a->n < 8)
		snprintf(a->hh[a->n], sizeof(a->hh[0]), "%s", hhid);
	a->n++;
	return a->stop_after > 0 && a->n >= a->stop_after;
}

static void
test_index_scan(void **state)
{
	struct fx *f = *state;
	struct stxn *tx, *rd;
	struct scan_acc a;

	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_index_put(tx, "lev", "", HH_B), STORE_OK);
	assert_int_equal(store_index_put(tx, "lev", "", HH_A), STORE_OK);
	assert_int_equal(store_index_put(tx, "lev", "", HH_C), STORE_OK);
	assert_int_equal(store_index_put(tx, "lev", "jan", HH_A), STORE_OK);
	assert_int_equal(store_index_put(tx, "levx", "", HH_A), STORE_OK);
	assert_int_equal(store_index_put(tx, "le", "v", HH_A), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);

	rd = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_index_scan(rd, "lev", "", NULL, scan_cb, &a),
	    STORE_OK);
	assert_int_equal(a.n, 3);
	assert_string_equal(a.hh[0], HH_C);
	assert_string_equal(a.hh[1], HH_A);
	assert_string_equal(a.hh[2], HH_B);

	memset(&a, 0, sizeof(a));
	assert_int_equal(store_index_scan(rd, "lev", "", HH_A, scan_cb, &a),
	    STORE_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.hh[0], HH_B);

	memset(&a, 0, sizeof(a));
	a.stop_after = 1;
	assert_int_equal(store_index_scan(rd, "lev", "", "", scan_cb, &a),
	    STORE_OK);
	assert_int_equal(a.n, 1);

	memset(&a, 0, sizeof(a));
	assert_int_equal(store_index_scan(rd, "lev", "jan", NULL, scan_cb, &a),
	    STORE_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.hh[0], HH_A);

	memset(&a, 0, sizeof(a));
	assert_int_equal(store_index_scan(rd, "lev", "piet", NULL, scan_cb,
	    &a), STORE_OK);
	assert_int_equal(a.n, 0);
	store_reader_end(rd);
	store_reader_free(rd);
}

static void
test_meta(void **state)
{
	struct fx *f = *state;
	struct stxn *tx, *rd;
	uint8_t buf[4];
	size_t len;

	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_meta_put(tx, "x", "hello", 5), STORE_OK);
	assert_int_equal(store_meta_put(tx, "empty", "", 0), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	rd = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	/* Too small a buffer is an error, never a silent truncation. */
	assert_int_equal(store_meta_get(rd, "x", buf, sizeof(buf), &len),
	    STORE_ERR);
	assert_int_equal(len, 5);
	assert_int_equal(store_meta_get(rd, "empty", buf, sizeof(buf), &len),
	    STORE_OK);
	assert_int_equal(len, 0);
	assert_int_equal(store_meta_get(rd, "nope", buf, sizeof(buf), &len),
	    STORE_NOTFOUND);
	store_reader_end(rd);
	store_reader_free(rd);
}

static int
change_cb(const EpChangeEvent *ev, void *arg)
{
	uint64_t *seqs = arg;

	seqs[++seqs[0]] = ev->seq;
	return 0;
}

static void
test_change_append(void **state)
{
	struct fx *f = *state;
	EpChangeEvent ev;
	struct stxn *tx, *child, *rd;
	uint64_t seqs[16];
	int i;

	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	for (i = 1; i <= 3; i++) {
		eenplan__v1__change_event__init(&ev);
		ev.household_id = HH_A;
		ev.kind = EENPLAN__V1__CHANGE_KIND__CHANGE_PLAN;
		ev.version = i;
		assert_int_equal(store_change_append(tx, &ev), STORE_OK);
		assert_int_equal(ev.seq, i);
	}
	/* An aborted child gives its number back. */
	assert_int_equal(store_child_begin(tx, &child), STORE_OK);
	assert_int_equal(store_change_append(child, &ev), STORE_OK);
	assert_int_equal(ev.seq, 4);
	store_abort(child);
	assert_int_equal(store_commit(tx), STORE_OK);

	fx_reopen(f);
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_change_append(tx, &ev), STORE_OK);
	assert_int_equal(ev.seq, 4);
	assert_int_equal(store_commit(tx), STORE_OK);

	rd = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	memset(seqs, 0, sizeof(seqs));
	assert_int_equal(store_change_scan(rd, 1, change_cb, seqs), STORE_OK);
	assert_int_equal(seqs[0], 3);
	assert_int_equal(seqs[1], 2);
	assert_int_equal(seqs[2], 3);
	assert_int_equal(seqs[3], 4);
	store_reader_end(rd);
	store_reader_free(rd);
}

/* Rewrites the value under key in db through raw LMDB, flipping one byte. */
static void
raw_flip(const char *env, const char *db, const void *key, size_t klen,
    size_t off)
{
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi d;
	MDB_val k, v, nv;
	uint8_t *copy;

	assert_int_equal(mdb_env_create(&e), 0);
	assert_int_equal(mdb_env_set_maxdbs(e, 16), 0);
	assert_int_equal(mdb_env_open(e, env, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(e, NULL, 0, &t), 0);
	assert_int_equal(mdb_dbi_open(t, db, 0, &d), 0);
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	assert_int_equal(mdb_get(t, d, &k, &v), 0);
	assert_true(off < v.mv_size);
	copy = malloc(v.mv_size);
	assert_non_null(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[off] ^= 0x01;
	nv.mv_data = copy;
	nv.mv_size = v.mv_size;
	assert_int_equal(mdb_put(t, d, &k, &nv, 0), 0);
	assert_int_equal(mdb_txn_commit(t), 0);
	free(copy);
	mdb_env_close(e);
}

static void
test_flipped_byte_is_corrupt(void **state)
{
	struct fx *f = *state;
	uint8_t vkey[40];
	uint64_t v;

	assert_int_equal(put_plan(f->st, HH_A, 1, 100), STORE_OK);
	assert_int_equal(put_plan(f->st, HH_B, 1, 100), STORE_OK);
	store_close(f->st);
	f->st = NULL;
	/* A payload byte of the current plan, the CRC of a version. */
	raw_flip(f->env, "households", HH_A, 32, 8 + 40);
	memcpy(vkey, HH_B, 32);
	memset(vkey + 32, 0, 8);
	vkey[39] = 1;
	raw_flip(f->env, "versions", vkey, 40, 5);
	assert_int_equal(fx_open(f, 16u << 20), 0);
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &v), STORE_CORRUPT);
	assert_int_equal(get_plan_version(f->st, HH_B, 1, &v), STORE_CORRUPT);
	/* What was not touched still reads. */
	assert_int_equal(get_plan_version(f->st, HH_A, 1, &v), STORE_OK);
	assert_int_equal(get_plan_version(f->st, HH_B, 0, &v), STORE_OK);
}

static void
test_value_moved_to_other_key_is_corrupt(void **state)
{
	struct fx *f = *state;
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi d;
	MDB_val k, v;
	uint8_t *copy;
	uint64_t got;

	assert_int_equal(put_plan(f->st, HH_A, 1, 10), STORE_OK);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(mdb_env_create(&e), 0);
	assert_int_equal(mdb_env_set_maxdbs(e, 16), 0);
	assert_int_equal(mdb_env_open(e, f->env, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(e, NULL, 0, &t), 0);
	assert_int_equal(mdb_dbi_open(t, "households", 0, &d), 0);
	k.mv_data = HH_A;
	k.mv_size = 32;
	assert_int_equal(mdb_get(t, d, &k, &v), 0);
	copy = malloc(v.mv_size);
	assert_non_null(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	v.mv_data = copy;
	k.mv_data = HH_B;
	assert_int_equal(mdb_put(t, d, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(t), 0);
	free(copy);
	mdb_env_close(e);
	assert_int_equal(fx_open(f, 16u << 20), 0);
	assert_int_equal(get_plan_version(f->st, HH_B, 0, &got), STORE_CORRUPT);
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &got), STORE_OK);
}

static void
test_map_full(void **state)
{
	struct fx *f = *state;
	uint64_t v;
	int i, rc = STORE_OK;

	assert_int_equal(put_plan(f->st, HH_A, 1, 100), STORE_OK);
	/* Far larger than the 64 KiB map. */
	assert_int_equal(put_plan(f->st, HH_B, 1, 200 * 1024), STORE_FULL);
	/* Still readable, and what was committed is intact. */
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &v), STORE_OK);
	assert_int_equal(v, 1);
	assert_int_equal(get_plan_version(f->st, HH_B, 0, &v), STORE_NOTFOUND);
	/* Still writable. */
	assert_int_equal(put_plan(f->st, HH_A, 2, 100), STORE_OK);
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &v), STORE_OK);
	assert_int_equal(v, 2);
	/* Fill it up in small steps: each step either fits or is refused. */
	for (i = 3; i < 1000 && (rc = put_plan(f->st, HH_A, i, 2000)) ==
	    STORE_OK; i++)
		;
	assert_int_equal(rc, STORE_FULL);
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &v), STORE_OK);
	assert_int_equal(v, i - 1);
	fx_reopen(f);
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &v), STORE_OK);
	assert_int_equal(v, i - 1);
}

static void
test_sticky_error(void **state)
{
	struct fx *f = *state;
	struct tplan big, small;
	struct stxn *tx, *child;
	uint64_t v;

	tplan_init(&big, HH_B, 1, 200 * 1024);
	tplan_init(&small, HH_C, 1, 10);
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_plan_put(tx, &small.p, &small.h), STORE_OK);
	assert_int_equal(store_txn_error(tx), STORE_OK);
	assert_int_equal(store_plan_put(tx, &big.p, &big.h), STORE_FULL);
	assert_int_equal(store_txn_error(tx), STORE_FULL);
	/* Later puts refuse with the same error; the commit aborts. */
	assert_int_equal(store_plan_put(tx, &small.p, NULL), STORE_FULL);
	assert_int_equal(store_commit(tx), STORE_FULL);
	assert_int_equal(get_plan_version(f->st, HH_C, 0, &v), STORE_NOTFOUND);

	/* In a child: the child refuses, the parent goes on. */
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_child_begin(tx, &child), STORE_OK);
	assert_int_equal(store_plan_put(child, &big.p, &big.h), STORE_FULL);
	assert_int_equal(store_commit(child), STORE_FULL);
	assert_int_equal(store_txn_error(tx), STORE_OK);
	assert_int_equal(store_plan_put(tx, &small.p, &small.h), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	assert_int_equal(get_plan_version(f->st, HH_C, 0, &v), STORE_OK);
	assert_int_equal(get_plan_version(f->st, HH_B, 0, &v), STORE_NOTFOUND);
	tplan_free(&big);
	tplan_free(&small);
}

static void
test_child_abort_and_commit(void **state)
{
	struct fx *f = *state;
	struct tplan a, b;
	struct stxn *tx, *c1, *c2;
	uint64_t v;

	tplan_init(&a, HH_A, 1, 10);
	tplan_init(&b, HH_B, 1, 10);
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_child_begin(tx, &c1), STORE_OK);
	assert_int_equal(store_plan_put(c1, &a.p, &a.h), STORE_OK);
	store_abort(c1);
	assert_int_equal(store_child_begin(tx, &c2), STORE_OK);
	assert_int_equal(store_plan_put(c2, &b.p, &b.h), STORE_OK);
	assert_int_equal(store_commit(c2), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &v), STORE_NOTFOUND);
	assert_int_equal(get_plan_version(f->st, HH_B, 0, &v), STORE_OK);
	tplan_free(&a);
	tplan_free(&b);
}

static void
test_reader_snapshot_renew(void **state)
{
	struct fx *f = *state;
	struct stxn *rd = store_reader_new(f->st);
	EpPlan *p;
	int i;

	assert_int_equal(put_plan(f->st, HH_A, 1, 0), STORE_OK);
	for (i = 2; i < 5; i++) {
		assert_int_equal(store_reader_begin(rd), STORE_OK);
		/* A second begin without end is refused. */
		assert_int_equal(store_reader_begin(rd), STORE_ERR);
		assert_int_equal(put_plan(f->st, HH_A, i, 0), STORE_OK);
		/* The reader keeps its snapshot... */
		assert_int_equal(store_plan_get(rd, HH_A, 0, &p), STORE_OK);
		assert_int_equal(p->version, i - 1);
		protobuf_c_message_free_unpacked(&p->base, NULL);
		store_reader_end(rd);
		/* ...and sees the new one once renewed. */
		assert_int_equal(store_reader_begin(rd), STORE_OK);
		assert_int_equal(store_plan_get(rd, HH_A, 0, &p), STORE_OK);
		assert_int_equal(p->version, i);
		protobuf_c_message_free_unpacked(&p->base, NULL);
		store_reader_end(rd);
	}
	/* An ended reader refuses to read. */
	assert_int_equal(store_plan_get(rd, HH_A, 0, &p), STORE_ERR);
	store_reader_free(rd);
}

static void
test_truncated_file_refused(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct stat sb;
	char path[400], err[512];
	int i;

	for (i = 1; i <= 40; i++)
		assert_int_equal(put_plan(f->st, HH_A, i, 4000), STORE_OK);
	store_close(f->st);
	f->st = NULL;
	snprintf(path, sizeof(path), "%s/data.mdb", f->env);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size > 100 * 1024);
	assert_int_equal(truncate(path, sb.st_size / 2), 0);
	memset(&o, 0, sizeof(o));
	o.so_dir = f->env;
	o.so_map_max = 16u << 20;
	err[0] = '\0';
	assert_int_equal(store_open(&f->st, &o, err, sizeof(err)), -1);
	assert_null(f->st);
	assert_non_null(strstr(err, "data file truncated"));
	assert_non_null(strstr(err, "needs"));
	/* Read-only (the admin tools) refuses too. */
	o.so_readonly = 1;
	assert_int_equal(store_open(&f->st, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "data file truncated"));
	/* So does an empty file, which LMDB would take for a new store. */
	assert_int_equal(truncate(path, 0), 0);
	o.so_readonly = 0;
	assert_int_equal(store_open(&f->st, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	/* Let teardown close something. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(fx_open(f, 16u << 20), 0);
}

static void
test_newer_schema_refused(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct stxn *tx;
	uint8_t v[8] = { 0, 0, 0, 0, 0, 0, 0, STORE_SCHEMA_VERSION + 1 };
	char err[512];

	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_meta_put(tx, "schema", v, sizeof(v)), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	store_close(f->st);
	f->st = NULL;
	memset(&o, 0, sizeof(o));
	o.so_dir = f->env;
	o.so_map_max = 16u << 20;
	assert_int_equal(store_open(&f->st, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "newer"));
	/* A fresh store so teardown has something to close. */
	rm_rf(f->env);
	assert_int_equal(fx_open(f, 16u << 20), 0);
}

static void
test_readonly(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *ro;
	struct stxn *tx, *rd;
	EpPlan *p;
	char err[512], none[300];

	assert_int_equal(put_plan(f->st, HH_A, 1, 10), STORE_OK);
	store_close(f->st);
	f->st = NULL;
	memset(&o, 0, sizeof(o));
	o.so_dir = f->env;
	o.so_readonly = 1;
	assert_int_equal(store_open(&ro, &o, err, sizeof(err)), 0);
	assert_int_equal(store_write_begin(ro, &tx), STORE_READONLY);
	rd = store_reader_new(ro);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(store_plan_get(rd, HH_A, 0, &p), STORE_OK);
	protobuf_c_message_free_unpacked(&p->base, NULL);
	assert_int_equal(store_meta_put(rd, "x", "y", 1), STORE_READONLY);
	store_reader_end(rd);
	store_reader_free(rd);
	store_close(ro);
	/* Read-only does not create. */
	snprintf(none, sizeof(none), "%s/nothing", f->dir);
	o.so_dir = none;
	assert_int_equal(store_open(&ro, &o, err, sizeof(err)), -1);
	assert_int_equal(fx_open(f, 16u << 20), 0);
}

static void
test_reopen_persists(void **state)
{
	struct fx *f = *state;
	uint64_t v;

	assert_int_equal(put_plan(f->st, HH_A, 1, 10), STORE_OK);
	assert_int_equal(put_plan(f->st, HH_A, 2, 10), STORE_OK);
	fx_reopen(f);
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &v), STORE_OK);
	assert_int_equal(v, 2);
	assert_int_equal(get_plan_version(f->st, HH_A, 1, &v), STORE_OK);
	assert_int_equal(v, 1);
}

static void
test_backup(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *bk;
	struct stxn *rd;
	EpPlan *p;
	char dir[300], err[512];
	int i;

	for (i = 1; i <= 5; i++)
		assert_int_equal(put_plan(f->st, HH_A, i, 3000), STORE_OK);
	snprintf(dir, sizeof(dir), "%s/backup", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(store_backup(f->st, dir, err, sizeof(err)), 0);
	/* Not over an existing backup. */
	assert_int_equal(store_backup(f->st, dir, err, sizeof(err)), -1);

	memset(&o, 0, sizeof(o));
	o.so_dir = dir;
	o.so_map_max = 16u << 20;
	assert_int_equal(store_open(&bk, &o, err, sizeof(err)), 0);
	rd = store_reader_new(bk);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(store_plan_get(rd, HH_A, 0, &p), STORE_OK);
	assert_int_equal(p->version, 5);
	assert_int_equal(p->n_notes, 1);
	assert_int_equal(strlen(p->notes[0]->text), 3000);
	protobuf_c_message_free_unpacked(&p->base, NULL);
	assert_int_equal(store_plan_get(rd, HH_A, 3, &p), STORE_OK);
	protobuf_c_message_free_unpacked(&p->base, NULL);
	store_reader_end(rd);
	store_reader_free(rd);
	store_close(bk);
}

struct audit_acc {
	uint64_t	seqs[16];
	int		n;
};

static int
audit_cb(const EpAuditRecord *r, void *arg)
{
	struct audit_acc *a = arg;

	if (a->n < 16)
		a->seqs[a->n] = r->seq;
	a->n++;
	return 0;
}

static void
test_audit_scan_indexes(void **state)
{
	struct fx *f = *state;
	static const char *hh[] = { HH_A, HH_B, HH_A, "", HH_A, HH_AX };
	static const char *org[] = { "lev", "lev", "senzer", "lev", "lev",
	    "lev" };
	EpAuditRecord r, *got;
	EpPrincipal p;
	struct stxn *tx, *rd;
	struct audit_acc a;
	uint64_t last;
	size_t i;

	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	for (i = 0; i < 6; i++) {
		eenplan__v1__audit_record__init(&r);
		eenplan__v1__principal__init(&p);
		p.org = (char *)(uintptr_t)org[i];
		r.actor = &p;
		r.seq = i + 1;
		r.household_id = (char *)(uintptr_t)hh[i];
		r.action = "GetPlan";
		assert_int_equal(store_audit_put(tx, &r), STORE_OK);
	}
	/* An audit record is never overwritten. */
	assert_int_not_equal(store_audit_put(tx, &r), STORE_OK);
	store_abort(tx);
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	for (i = 0; i < 6; i++) {
		eenplan__v1__audit_record__init(&r);
		eenplan__v1__principal__init(&p);
		p.org = (char *)(uintptr_t)org[i];
		r.actor = &p;
		r.seq = i + 1;
		r.household_id = (char *)(uintptr_t)hh[i];
		assert_int_equal(store_audit_put(tx, &r), STORE_OK);
	}
	assert_int_equal(store_commit(tx), STORE_OK);

	rd = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_audit_scan(rd, HH_A, NULL, 0, audit_cb, &a),
	    STORE_OK);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.seqs[0], 1);
	assert_int_equal(a.seqs[1], 3);
	assert_int_equal(a.seqs[2], 5);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_audit_scan(rd, HH_A, NULL, 3, audit_cb, &a),
	    STORE_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.seqs[0], 5);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_audit_scan(rd, HH_A, "lev", 0, audit_cb, &a),
	    STORE_OK);
	assert_int_equal(a.n, 2);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_audit_scan(rd, NULL, "lev", 1, audit_cb, &a),
	    STORE_OK);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.seqs[0], 2);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_audit_scan(rd, NULL, NULL, 4, audit_cb, &a),
	    STORE_OK);
	assert_int_equal(a.n, 2);
	assert_int_equal(store_audit_last(rd, &last), STORE_OK);
	assert_int_equal(last, 6);
	assert_int_equal(store_audit_get(rd, 3, &got), STORE_OK);
	assert_string_equal(got->actor->org, "senzer");
	protobuf_c_message_free_unpacked(&got->base, NULL);
	assert_int_equal(store_audit_get(rd, 7, &got), STORE_NOTFOUND);
	store_reader_end(rd);
	store_reader_free(rd);
}

static void
test_fail_next_commit(void **state)
{
	struct fx *f = *state;
	uint64_t v;

	store_fail_next_commit(f->st, STORE_ERR);
	assert_int_equal(put_plan(f->st, HH_A, 1, 10), STORE_ERR);
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &v), STORE_NOTFOUND);
	assert_int_equal(put_plan(f->st, HH_A, 1, 10), STORE_OK);
}

static void
test_child_commit_failure_poisons_parent(void **state)
{
	struct fx *f = *state;
	struct tplan a, b;
	struct stxn *tx, *c1, *c2;
	uint64_t v;

	tplan_init(&a, HH_A, 1, 10);
	tplan_init(&b, HH_B, 1, 10);
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_child_begin(tx, &c1), STORE_OK);
	assert_int_equal(store_plan_put(c1, &a.p, &a.h), STORE_OK);
	assert_int_equal(store_commit(c1), STORE_OK);
	assert_int_equal(store_child_begin(tx, &c2), STORE_OK);
	assert_int_equal(store_plan_put(c2, &b.p, &b.h), STORE_OK);
	store_fail_next_child_commit(f->st, STORE_ERR);
	/* The merge may have broken the parent: it refuses from now on. */
	assert_int_equal(store_commit(c2), STORE_ERR);
	assert_int_equal(store_txn_error(tx), STORE_ERR);
	assert_int_equal(store_child_begin(tx, &c2), STORE_ERR);
	assert_null(c2);
	assert_int_equal(store_plan_put(tx, &b.p, &b.h), STORE_ERR);
	assert_int_equal(store_commit(tx), STORE_ERR);
	/* Not even the first child's part was written. */
	assert_int_equal(get_plan_version(f->st, HH_A, 0, &v), STORE_NOTFOUND);
	assert_int_equal(get_plan_version(f->st, HH_B, 0, &v), STORE_NOTFOUND);
	/* The hook fired once; the top-level hook is separate. */
	assert_int_equal(put_plan(f->st, HH_A, 1, 10), STORE_OK);
	tplan_free(&a);
	tplan_free(&b);
}

#define READERS_TRY	4096

static void
test_readers_full(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct stxn **rd;
	char err[256];
	int i, n, rc = STORE_OK;

	/* LMDB rounds the table up to fill its lock file: count them. */
	store_close(f->st);
	memset(&o, 0, sizeof(o));
	o.so_dir = f->env;
	o.so_map_max = 16u << 20;
	o.so_max_readers = 1;
	assert_int_equal(store_open(&f->st, &o, err, sizeof(err)), 0);
	rd = calloc(READERS_TRY, sizeof(*rd));
	assert_non_null(rd);
	for (n = 0; n < READERS_TRY; n++) {
		assert_non_null(rd[n] = store_reader_new(f->st));
		if ((rc = store_reader_begin(rd[n])) != STORE_OK)
			break;
	}
	/* Its own code: the disk has room, the reader table has not. */
	assert_int_equal(rc, STORE_READERS_FULL);
	assert_true(n > 0);
	/* A slot given back is usable again. */
	store_reader_end(rd[0]);
	store_reader_free(rd[0]);
	assert_int_equal(store_reader_begin(rd[n]), STORE_OK);
	store_reader_end(rd[n]);
	for (i = 1; i <= n; i++) {
		store_reader_end(rd[i]);
		store_reader_free(rd[i]);
	}
	free(rd);
}

static void
test_strerror_limits(void **state)
{
	const char *full = store_strerror(STORE_FULL);
	const char *unknown = store_strerror(-99);

	(void)state;
	/* LMDB's own limits are not reported as a full disk. */
	assert_string_not_equal(store_strerror(STORE_TXN_FULL), full);
	assert_string_not_equal(store_strerror(STORE_READERS_FULL), full);
	assert_string_not_equal(store_strerror(STORE_TXN_FULL), unknown);
	assert_string_not_equal(store_strerror(STORE_READERS_FULL), unknown);
	assert_string_not_equal(store_strerror(STORE_TXN_FULL),
	    store_strerror(STORE_READERS_FULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_schema,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_put_get, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_plan_put_refuses_bad_input,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_paging, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_grants_in_id_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_index_scan, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_append, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_flipped_byte_is_corrupt,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_value_moved_to_other_key_is_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup_small,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sticky_error, setup_small,
		    teardown),
		cmocka_unit_test_setup_teardown(test_child_abort_and_commit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_snapshot_renew,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_file_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_persists, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_scan_indexes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fail_next_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_child_commit_failure_poisons_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readers_full, setup,
		    teardown),
		cmocka_unit_test(test_strerror_limits),
	};

	log_init(0, "test_store");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
