/* Unit tests for the audit chain: hashing, appending, tamper detection, export. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>

#include "log.h"
#include "util.h"
#include "audit.h"
#include "testkey.h"

#define HH_A	"0123456789abcdef0123456789abcdef"
#define HH_B	"fedcba9876543210fedcba9876543210"
#define T0	INT64_C(1700000000000000)
#define NREC	10

static int	hh_swap_from;	/* rec_hh: see there */

struct fx {
	char			 dir[256];
	char			 env[300];
	struct store		*st;
	struct audit_head	 head;
	int			 index;	/* append_n builds the indexes too */
	size_t			 map;	/* 0: 16 MB */
};

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

	if (testkey_open(&f->st, f->env, f->map ? f->map : 16u << 20, 0, 0,
	    0, err, sizeof(err)) == -1) {
		print_error("store_open: %s\n", err);
		return -1;
	}
	return 0;
}

static int
setup(void **state)
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
	if (fx_open(f) == -1)
		return -1;
	f->index = 1;
	hh_swap_from = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/*
 * Record i (1-based) of the standard fixture. From hh_swap_from on (0:
 * never), the households swap: another log under the same seqs.
 */
static const char *
rec_hh(int i)
{
	return (i % 2 != 0) != (hh_swap_from > 0 && i >= hh_swap_from) ?
	    HH_A : HH_B;
}

static const char *
rec_org(int i)
{
	return i % 3 == 0 ? "senzer" : "lev";
}

static EpAuditRecord *
make_rec(int i)
{
	struct principal p;
	EpAuditRecord *r;

	memset(&p, 0, sizeof(p));
	snprintf(p.pr_org, sizeof(p.pr_org), "%s", rec_org(i));
	snprintf(p.pr_subject, sizeof(p.pr_subject), "user%d", i);
	p.pr_role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	snprintf(p.pr_org_identifier, sizeof(p.pr_org_identifier), "9999");
	snprintf(p.pr_serial, sizeof(p.pr_serial), "0a%02x", i);
	snprintf(p.pr_peer, sizeof(p.pr_peer), "192.0.2.%d:5000", i);
	r = audit_record_new(&p, "GetPlan", rec_hh(i), T0 + i * INT64_C(1000000));
	assert_non_null(r);
	audit_record_set(r, i == 4 ? EENPLAN__V1__CODE__PERMISSION_DENIED :
	    EENPLAN__V1__CODE__OK, "begeleiding", "record %d", i);
	return r;
}

/*
 * The audit index up to the last committed record, as the indexer builds
 * it (in its own environment, from what the store committed).
 */
static void
index_all(struct store *st)
{
	uint64_t pending;

	do
		assert_int_equal(store_audit_index(st, UINT64_MAX, 0, &pending),
		    STORE_OK);
	while (pending > 0);
}

static void
append_n(struct fx *f, int from, int to)
{
	struct stxn *tx;
	EpAuditRecord *r;
	int i;

	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	for (i = from; i <= to; i++) {
		r = make_rec(i);
		assert_int_equal(audit_append(tx, &f->head, r), STORE_OK);
		assert_int_equal(r->seq, (uint64_t)i);
		assert_int_equal(f->head.ah_seq, (uint64_t)i);
		audit_record_free(r);
	}
	assert_int_equal(store_commit(tx), STORE_OK);
	if (f->index) {
		index_all(f->st);
		assert_int_equal(store_audit_indexed(f->st), (uint64_t)to);
	}
}

static int
setup_chain(void **state)
{
	if (setup(state) == -1)
		return -1;
	append_n(*state, 1, NREC);
	return 0;
}

static int
verify(struct fx *f, uint64_t *count, uint64_t *bad, char *msg, size_t len)
{
	struct stxn *rd = store_reader_new(f->st);
	int rc;

	assert_non_null(rd);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	rc = audit_verify(rd, count, bad, msg, len);
	store_reader_end(rd);
	store_reader_free(rd);
	return rc;
}

static void
expect_bad(struct fx *f, uint64_t seq, const char *why)
{
	uint64_t count, bad;
	char msg[256];

	assert_int_equal(verify(f, &count, &bad, msg, sizeof(msg)), -1);
	if (bad != seq || strstr(msg, why) == NULL)
		print_error("verify said %llu: %s\n", (unsigned long long)bad,
		    msg);
	assert_int_equal(bad, seq);
	assert_non_null(strstr(msg, why));
	assert_int_equal(count, seq - 1);
}

static EpAuditRecord *
rec_get(struct fx *f, uint64_t seq)
{
	struct stxn *rd = store_reader_new(f->st);
	EpAuditRecord *r;

	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(store_audit_get(rd, seq, &r), STORE_OK);
	store_reader_end(rd);
	store_reader_free(rd);
	return r;
}

static void
seq_key(uint8_t k[8], uint64_t seq)
{
	int i;

	for (i = 7; i >= 0; i--, seq >>= 8)
		k[i] = seq & 0xff;
}

/*
 * Stores r under key seq as a well-formed value, sealed like any other:
 * only the hash chain can tell.
 */
static void
rec_put_raw(struct fx *f, uint64_t seq, const EpAuditRecord *r)
{
	EpAuditRecord at = *r;
	struct stxn *tx;

	/*
	 * The record's content under seq, with no check. The log keeps the
	 * seq only as the key: a record moved to another seq reads as that
	 * seq, with content its hash no longer matches.
	 */
	at.seq = seq;
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_audit_raw_replace(tx, &at), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
}

static void
rec_del(struct fx *f, uint64_t seq)
{
	struct stxn *tx;
	uint8_t k[8];

	seq_key(k, seq);
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_raw_del(tx, "log", k, 8), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
}

/* ------------------------------------------------------------ verify */

static void
test_verify_empty(void **state)
{
	struct fx *f = *state;
	uint64_t count = 99, bad = 99;
	char msg[128];

	assert_int_equal(verify(f, &count, &bad, msg, sizeof(msg)), 0);
	assert_int_equal(count, 0);
}

static void
test_verify_intact(void **state)
{
	struct fx *f = *state;
	uint64_t count, bad;
	char msg[128];

	assert_int_equal(verify(f, &count, &bad, msg, sizeof(msg)), 0);
	assert_int_equal(count, NREC);
	/* And again after more appends in a later txn. */
	append_n(f, NREC + 1, NREC + 3);
	assert_int_equal(verify(f, &count, &bad, msg, sizeof(msg)), 0);
	assert_int_equal(count, NREC + 3);
}

static void
test_verify_edited(void **state)
{
	struct fx *f = *state;
	EpAuditRecord *r = rec_get(f, 5);

	free(r->detail);
	r->detail = strdup("record 5, nothing to see");
	rec_put_raw(f, 5, r);
	audit_record_free(r);
	expect_bad(f, 5, "record 5 edited");
}

static void
test_verify_edited_outcome(void **state)
{
	struct fx *f = *state;
	EpAuditRecord *r = rec_get(f, 4);

	/* A denial rewritten as a success. */
	assert_int_equal(r->outcome, EENPLAN__V1__CODE__PERMISSION_DENIED);
	r->outcome = EENPLAN__V1__CODE__OK;
	rec_put_raw(f, 4, r);
	audit_record_free(r);
	expect_bad(f, 4, "record 4 edited");
}

static void
test_verify_edited_and_rehashed(void **state)
{
	struct fx *f = *state;
	EpAuditRecord *r = rec_get(f, 5);

	free(r->detail);
	r->detail = strdup("rewritten");
	assert_int_equal(audit_hash(r, r->hash.data), 0);
	rec_put_raw(f, 5, r);
	audit_record_free(r);
	/*
	 * Record 5 is self-consistent now; the link from 6 gives it away (the
	 * log keeps record 6's prev_hash as record 5's hash, so 6 no longer
	 * hashes as stored).
	 */
	expect_bad(f, 6, "record 6");
}

static void
test_verify_deleted(void **state)
{
	struct fx *f = *state;

	rec_del(f, 4);
	expect_bad(f, 4, "record 4 missing");
}

static void
test_verify_swapped(void **state)
{
	struct fx *f = *state;
	EpAuditRecord *r3 = rec_get(f, 3), *r4 = rec_get(f, 4);

	rec_put_raw(f, 3, r4);
	rec_put_raw(f, 4, r3);
	audit_record_free(r3);
	audit_record_free(r4);
	/* Its seq is its key: record 4's content under 3 breaks the chain. */
	expect_bad(f, 3, "record 3");
}

/* The bytes of records 7 and 8 (equal in size) swapped in data.mdb. */
static void
test_verify_swapped_raw(void **state)
{
	struct fx *f = *state;
	struct testkey_loc lA, lB;
	uint8_t keyA[8], keyB[8], *cA, *cB;
	char path[400];
	int fd;

	store_close(f->st);
	f->st = NULL;
	seq_key(keyA, 7);
	seq_key(keyB, 8);
	assert_int_equal(testkey_locate(f->env, "log", keyA, 8, &lA), 0);
	assert_int_equal(testkey_locate(f->env, "log", keyB, 8, &lB), 0);
	assert_int_equal(lA.tl_vlen, lB.tl_vlen);
	cA = malloc(lA.tl_vlen);
	cB = malloc(lB.tl_vlen);
	assert_non_null(cA);
	assert_non_null(cB);
	snprintf(path, sizeof(path), "%s/data.mdb", f->env);
	assert_true((fd = open(path, O_RDWR)) >= 0);
	assert_int_equal(pread(fd, cA, lA.tl_vlen, lA.tl_val),
	    (ssize_t)lA.tl_vlen);
	assert_int_equal(pread(fd, cB, lB.tl_vlen, lB.tl_val),
	    (ssize_t)lB.tl_vlen);
	assert_int_equal(pwrite(fd, cB, lB.tl_vlen, lA.tl_val),
	    (ssize_t)lB.tl_vlen);
	assert_int_equal(pwrite(fd, cA, lA.tl_vlen, lB.tl_val),
	    (ssize_t)lA.tl_vlen);
	close(fd);
	free(cA);
	free(cB);
	assert_int_equal(fx_open(f), 0);
	/* The key is in a sealed value's associated data: moved, it fails. */
	expect_bad(f, 7, "record 7 corrupt");
}

/* One byte of record 5's key, or of its sealed value, flipped in the file. */
static void
flip_rec(struct fx *f, uint64_t seq, int in_key, size_t pos, uint8_t mask)
{
	struct testkey_loc l;
	uint8_t key[8];
	char path[400];

	store_close(f->st);
	f->st = NULL;
	seq_key(key, seq);
	assert_int_equal(testkey_locate(f->env, "log", key, 8, &l), 0);
	assert_true(pos < (in_key ? 8 : l.tl_vlen));
	snprintf(path, sizeof(path), "%s/data.mdb", f->env);
	assert_int_equal(testkey_xor(path, (in_key ? l.tl_key : l.tl_val) +
	    (off_t)pos, mask), 0);
	assert_int_equal(fx_open(f), 0);
}

static void
test_verify_damaged_key(void **state)
{
	struct fx *f = *state;
	uint64_t count, bad;
	char msg[256];

	/*
	 * Seq 5 becomes 4: a second key 4 where 5 was. Which of the two a
	 * lookup of 4 meets is LMDB's business; either way the walk stops.
	 */
	flip_rec(f, 5, 1, 7, 0x01);
	assert_int_equal(verify(f, &count, &bad, msg, sizeof(msg)), -1);
	if (bad != 4 && bad != 5)
		print_error("verify said %llu: %s\n", (unsigned long long)bad,
		    msg);
	assert_true(bad == 4 || bad == 5);
	assert_non_null(strstr(msg, "corrupt"));
	assert_int_equal(count, bad - 1);
}

static void
test_verify_damaged_key_far(void **state)
{
	struct fx *f = *state;

	/* Seq 5 becomes huge: it now sorts past the head. */
	flip_rec(f, 5, 1, 0, 0x80);
	expect_bad(f, 5, "record 5 corrupt");
}

static void
test_verify_damaged_value(void **state)
{
	struct fx *f = *state;

	flip_rec(f, 3, 0, 30, 0x04);
	expect_bad(f, 3, "record 3 corrupt");
}

/* Damage stops an export: never a shorter export that looks whole. */
static int
count_cb(const EpAuditRecord *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static void
test_export_damaged(void **state)
{
	struct fx *f = *state;
	struct audit_filter all = { 0, 0, NULL, NULL };
	struct audit_filter hh = { 0, 0, HH_A, NULL };
	struct audit_filter org = { 0, 0, NULL, "lev" };
	struct stxn *rd;
	char *buf;
	size_t len;
	FILE *fp;
	int n;

	flip_rec(f, 5, 0, 20, 0x01);
	rd = store_reader_new(f->st);
	assert_non_null(rd);
	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(audit_export_json(rd, fp, &all), -1);
	store_reader_end(rd);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(audit_export_json(rd, fp, &hh), -1);
	store_reader_end(rd);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(audit_export_json(rd, fp, &org), -1);
	store_reader_end(rd);
	/*
	 * Record 5 is HH_A's, lev's; record 6 (HH_B's) takes its prev_hash
	 * from record 5's hash, so it cannot be read either: HH_B's log fails
	 * too. Past record 6 it reads, seq 8 onwards.
	 */
	hh.af_household = HH_B;
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(audit_export_json(rd, fp, &hh), -1);
	store_reader_end(rd);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	n = 0;
	assert_int_equal(store_audit_scan(rd, HH_B, NULL, 6, count_cb, &n),
	    STORE_OK);
	assert_int_equal(n, (NREC - 6) / 2);
	store_reader_end(rd);
	store_reader_free(rd);
	fclose(fp);
	free(buf);
}

static void
test_verify_truncated(void **state)
{
	struct fx *f = *state;

	rec_del(f, NREC);
	rec_del(f, NREC - 1);
	expect_bad(f, NREC - 1, "missing");
}

static void
test_verify_beyond_head(void **state)
{
	struct fx *f = *state;
	EpAuditRecord *r = rec_get(f, NREC);
	struct stxn *rd;
	struct audit_head h;

	r->seq = NREC + 1;
	rec_put_raw(f, NREC + 1, r);
	audit_record_free(r);
	expect_bad(f, NREC + 1, "beyond the head");
	/* The writer would refuse to append on such a head. */
	rd = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(audit_head_load(rd, &h), STORE_CORRUPT);
	store_reader_end(rd);
	store_reader_free(rd);
}

static void
test_verify_head_mismatch(void **state)
{
	struct fx *f = *state;
	struct stxn *tx, *rd;
	struct audit_head h;
	uint8_t buf[40];
	size_t len;

	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_meta_get(tx, "audit_head", buf, sizeof(buf),
	    &len), STORE_OK);
	assert_int_equal(len, 40);
	buf[20] ^= 0x80;
	assert_int_equal(store_meta_put(tx, "audit_head", buf, len), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	expect_bad(f, NREC, "does not match the audit head");
	rd = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(audit_head_load(rd, &h), STORE_CORRUPT);
	store_reader_end(rd);
	store_reader_free(rd);
}

/* A head of seq 0 with a non-zero hash: no record to blame, nothing to wrap. */
static void
test_verify_head_seq0_with_hash(void **state)
{
	struct fx *f = *state;
	struct stxn *tx, *rd;
	struct audit_head h;
	uint64_t count = 99, bad = 99;
	uint8_t buf[40];
	char msg[128];

	memset(buf, 0, sizeof(buf));
	buf[8] = 0x5a;
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_meta_put(tx, "audit_head", buf, sizeof(buf)),
	    STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	assert_int_equal(verify(f, &count, &bad, msg, sizeof(msg)), -1);
	assert_int_equal(count, 0);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(msg, "seq 0"));
	/* The writer would link record 1 to that hash: refused. */
	rd = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(audit_head_load(rd, &h), STORE_CORRUPT);
	store_reader_end(rd);
	store_reader_free(rd);
	/* An all-zero head of seq 0 is simply an empty chain. */
	buf[8] = 0;
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_meta_put(tx, "audit_head", buf, sizeof(buf)),
	    STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	assert_int_equal(verify(f, &count, &bad, msg, sizeof(msg)), 0);
	assert_int_equal(count, 0);
}

static void
test_head_load(void **state)
{
	struct fx *f = *state;
	struct stxn *rd, *tx;
	struct audit_head h;
	EpAuditRecord *r = rec_get(f, NREC);

	rd = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(audit_head_load(rd, &h), STORE_OK);
	assert_int_equal(h.ah_seq, NREC);
	assert_memory_equal(h.ah_hash, r->hash.data, AUDIT_HASH_LEN);
	assert_memory_equal(h.ah_hash, f->head.ah_hash, AUDIT_HASH_LEN);
	store_reader_end(rd);
	audit_record_free(r);
	/* Records without a head: refuse rather than restart at 1. */
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_raw_del(tx, "meta", "audit_head", 10), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(audit_head_load(rd, &h), STORE_CORRUPT);
	store_reader_end(rd);
	store_reader_free(rd);
	expect_bad(f, 1, "beyond the head");
}

static void
test_append_failure_keeps_head(void **state)
{
	struct fx *f = *state;
	struct audit_head stale, before;
	struct stxn *tx;
	EpAuditRecord *r = make_rec(1);

	/* A stale head would overwrite record 6: refused, head untouched. */
	stale = f->head;
	stale.ah_seq = 5;
	before = stale;
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_not_equal(audit_append(tx, &stale, r), STORE_OK);
	assert_memory_equal(&stale, &before, sizeof(stale));
	store_abort(tx);
	audit_record_free(r);
	{
		uint64_t count, bad;
		char msg[128];

		assert_int_equal(verify(f, &count, &bad, msg, sizeof(msg)), 0);
		assert_int_equal(count, NREC);
	}
}

/* -------------------------------------------------------------- hash */

static void
fixed_rec(EpAuditRecord *r, EpPrincipal *p, uint8_t prev[32])
{
	eenplan__v1__audit_record__init(r);
	eenplan__v1__principal__init(p);
	p->org = "lev";
	p->subject = "jan.jansen";
	p->role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	memset(prev, 0x11, 32);
	r->seq = 7;
	r->time = INT64_C(1700000000123456);
	r->actor = p;
	r->actor_org_identifier = "12345678";
	r->cert_serial = "0a1b";
	r->action = "GetPlan";
	r->household_id = HH_A;
	r->outcome = EENPLAN__V1__CODE__PERMISSION_DENIED;
	r->detail = "version 3";
	r->peer = "192.0.2.1:443";
	r->purpose = "begeleiding";
	r->prev_hash.data = prev;
	r->prev_hash.len = 32;
}

static void
test_hash_known_answer(void **state)
{
	EpAuditRecord r;
	EpPrincipal p;
	uint8_t prev[32], h[32], h2[32];
	char hex[65];

	(void)state;
	fixed_rec(&r, &p, prev);
	assert_int_equal(audit_hash(&r, h), 0);
	util_hex(h, 32, hex);
	/* Pins the canonical encoding: a change here forks every chain. */
	assert_string_equal(hex, "66bb7d4136282cc1b37b42bf9447110669a5e159"
	    "53bcfcc6142cf2ed94e06388");
	/* The hash field itself is not hashed. */
	r.hash.data = h;
	r.hash.len = 32;
	assert_int_equal(audit_hash(&r, h2), 0);
	assert_memory_equal(h, h2, 32);
}

static void
test_hash_every_field(void **state)
{
	EpAuditRecord r;
	EpPrincipal p;
	uint8_t prev[32], base[32], h[32];
	int i;

	(void)state;
	for (i = 0; i < 16; i++) {
		fixed_rec(&r, &p, prev);
		if (i == 0)
			assert_int_equal(audit_hash(&r, base), 0);
		switch (i) {
		case 0: r.seq = 8; break;
		case 1: r.time++; break;
		case 2: p.org = "levx"; break;
		case 3: p.subject = "jan.jansen2"; break;
		case 4: p.role = EENPLAN__V1__ROLE__ROLE_SYSTEM; break;
		case 5: r.actor_org_identifier = "12345679"; break;
		case 6: r.cert_serial = "0a1c"; break;
		case 7: r.action = "GetPlam"; break;
		case 8: r.household_id = HH_B; break;
		case 9: r.outcome = EENPLAN__V1__CODE__OK; break;
		case 10: r.detail = "version 4"; break;
		case 11: r.peer = "192.0.2.1:444"; break;
		case 12: r.purpose = ""; break;
		case 13: prev[31] ^= 1; break;
		case 14: r.actor = NULL; break;
		/* Bytes moved across a field boundary. */
		case 15: r.action = "GetPlanb"; r.detail = "egeleiding";
			r.purpose = "version 3"; break;
		default: break;
		}
		assert_int_equal(audit_hash(&r, h), 0);
		if (memcmp(h, base, 32) == 0)
			print_error("field case %d does not change the hash\n",
			    i);
		assert_memory_not_equal(h, base, 32);
	}
	/* Deterministic. */
	fixed_rec(&r, &p, prev);
	assert_int_equal(audit_hash(&r, h), 0);
	assert_memory_equal(h, base, 32);
}

static void
test_record_new_set(void **state)
{
	struct principal p;
	EpAuditRecord *r;

	(void)state;
	memset(&p, 0, sizeof(p));
	strcpy(p.pr_org, "zorgboog");
	strcpy(p.pr_subject, "wijk.vpk-1");
	p.pr_role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	strcpy(p.pr_org_identifier, "URA-12345");
	strcpy(p.pr_serial, "7f01");
	strcpy(p.pr_peer, "198.51.100.7:40000");
	r = audit_record_new(&p, "MutatePlan", NULL, 42);
	assert_non_null(r);
	assert_string_equal(r->actor->org, "zorgboog");
	assert_string_equal(r->actor->subject, "wijk.vpk-1");
	assert_int_equal(r->actor->role, EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	assert_string_equal(r->actor_org_identifier, "URA-12345");
	assert_string_equal(r->cert_serial, "7f01");
	assert_string_equal(r->peer, "198.51.100.7:40000");
	assert_string_equal(r->action, "MutatePlan");
	assert_string_equal(r->household_id, "");
	assert_int_equal(r->time, 42);
	assert_int_equal(r->outcome, EENPLAN__V1__CODE__OK);
	audit_record_set(r, EENPLAN__V1__CODE__ABORTED, "zorg", "version %d",
	    3);
	audit_record_set(r, EENPLAN__V1__CODE__ABORTED, "zorg2", "v%s", "4");
	assert_int_equal(r->outcome, EENPLAN__V1__CODE__ABORTED);
	assert_string_equal(r->purpose, "zorg2");
	assert_string_equal(r->detail, "v4");
	/* NULLs leave purpose and detail alone. */
	audit_record_set(r, EENPLAN__V1__CODE__OK, NULL, NULL);
	assert_string_equal(r->detail, "v4");
	audit_record_free(r);
	r = audit_record_new(NULL, "Admin", HH_A, 1);
	assert_non_null(r);
	assert_string_equal(r->actor->org, "");
	audit_record_free(r);
}

/* ------------------------------------------------------------ export */

static long
export(struct fx *f, const struct audit_filter *flt, char **out)
{
	struct stxn *rd = store_reader_new(f->st);
	size_t len;
	FILE *fp;
	long n;

	fp = open_memstream(out, &len);
	assert_non_null(fp);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	n = audit_export_json(rd, fp, flt);
	store_reader_end(rd);
	store_reader_free(rd);
	fclose(fp);
	return n;
}

/* Parses every line; returns how many, checking each against its record. */
static int
check_lines(char *buf)
{
	char *line, *save = NULL;
	json_error_t je;
	json_t *o, *a;
	int n = 0;
	json_int_t seq;
	const char *t, *h, *ph;

	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		o = json_loads(line, 0, &je);
		if (o == NULL)
			print_error("bad JSON line: %s: %s\n", line, je.text);
		assert_non_null(o);
		assert_true(json_is_object(o));
		seq = json_integer_value(json_object_get(o, "seq"));
		assert_true(seq >= 1 && seq <= NREC);
		a = json_object_get(o, "actor");
		assert_true(json_is_object(a));
		assert_string_equal(json_string_value(json_object_get(a,
		    "org")), rec_org((int)seq));
		assert_string_equal(json_string_value(json_object_get(a,
		    "role")), "professional");
		assert_string_equal(json_string_value(json_object_get(a,
		    "org_identifier")), "9999");
		assert_non_null(json_string_value(json_object_get(a,
		    "cert_serial")));
		assert_non_null(json_string_value(json_object_get(a,
		    "subject")));
		assert_string_equal(json_string_value(json_object_get(o,
		    "household")), rec_hh((int)seq));
		assert_string_equal(json_string_value(json_object_get(o,
		    "action")), "GetPlan");
		assert_string_equal(json_string_value(json_object_get(o,
		    "outcome")), seq == 4 ? "PERMISSION_DENIED" : "OK");
		assert_string_equal(json_string_value(json_object_get(o,
		    "purpose")), "begeleiding");
		assert_non_null(json_string_value(json_object_get(o, "peer")));
		assert_non_null(json_string_value(json_object_get(o,
		    "detail")));
		assert_int_equal(json_integer_value(json_object_get(o,
		    "time_us")), T0 + seq * 1000000);
		t = json_string_value(json_object_get(o, "time"));
		assert_non_null(t);
		assert_int_equal(strlen(t), 27);
		assert_int_equal(t[10], 'T');
		assert_int_equal(t[26], 'Z');
		h = json_string_value(json_object_get(o, "hash"));
		ph = json_string_value(json_object_get(o, "prev_hash"));
		assert_non_null(h);
		assert_non_null(ph);
		assert_int_equal(strlen(h), 64);
		assert_int_equal(strlen(ph), 64);
		if (seq == 1)
			assert_string_equal(ph, "0000000000000000000000000000"
			    "000000000000000000000000000000000000");
		json_decref(o);
		n++;
	}
	return n;
}

static int
expected(const struct audit_filter *flt)
{
	int i, n = 0;
	int64_t t;

	for (i = 1; i <= NREC; i++) {
		t = T0 + i * INT64_C(1000000);
		if (flt->af_from && t < flt->af_from)
			continue;
		if (flt->af_until && t > flt->af_until)
			continue;
		if (flt->af_household && strcmp(flt->af_household,
		    rec_hh(i)) != 0)
			continue;
		if (flt->af_org && strcmp(flt->af_org, rec_org(i)) != 0)
			continue;
		n++;
	}
	return n;
}

static void
test_export(void **state)
{
	struct fx *f = *state;
	struct audit_filter flt[] = {
		{ 0, 0, NULL, NULL },
		{ 0, 0, HH_A, NULL },
		{ 0, 0, NULL, "senzer" },
		{ 0, 0, HH_B, "senzer" },
		{ T0 + 3000000, T0 + 6000000, NULL, NULL },
		{ T0 + 3000000, 0, HH_A, "lev" },
		{ 0, 0, "00000000000000000000000000000000", NULL },
		{ 0, 0, NULL, "nobody" },
	};
	size_t i;
	char *buf;
	long n;

	for (i = 0; i < sizeof(flt) / sizeof(flt[0]); i++) {
		buf = NULL;
		n = export(f, &flt[i], &buf);
		assert_int_equal(n, expected(&flt[i]));
		assert_int_equal(check_lines(buf), n);
		free(buf);
	}
	/* Sanity of the expectations themselves. */
	assert_int_equal(expected(&flt[0]), NREC);
	assert_int_equal(expected(&flt[1]), 5);
	assert_int_equal(expected(&flt[2]), 3);
	assert_int_equal(expected(&flt[3]), 1);
	assert_int_equal(expected(&flt[4]), 4);
	/* No filter at all. */
	buf = NULL;
	n = export(f, NULL, &buf);
	assert_int_equal(n, NREC);
	assert_int_equal(check_lines(buf), NREC);
	free(buf);
}

static void
test_filter_match(void **state)
{
	struct audit_filter flt = { T0 + 2000000, T0 + 2000000, HH_B, "lev" };
	EpAuditRecord *r = make_rec(2);

	(void)state;
	assert_true(audit_filter_match(&flt, r));
	assert_true(audit_filter_match(NULL, r));
	flt.af_until = T0 + 1999999;
	assert_false(audit_filter_match(&flt, r));
	flt.af_until = 0;
	flt.af_from = T0 + 2000001;
	assert_false(audit_filter_match(&flt, r));
	flt.af_from = 0;
	flt.af_org = "senzer";
	assert_false(audit_filter_match(&flt, r));
	flt.af_org = NULL;
	flt.af_household = HH_A;
	assert_false(audit_filter_match(&flt, r));
	audit_record_free(r);
}


/*
 * A ListHouseholds record names the households it revealed: they are in the
 * hash, each household's scan finds the record, and an edit is caught.
 */
static void
test_listed_households(void **state)
{
	struct fx *f = *state;
	char *listed[2] = { (char *)(uintptr_t)HH_A, (char *)(uintptr_t)HH_B };
	EpAuditRecord *r = make_rec(NREC + 1), *back;
	uint8_t h1[32], h2[32];
	struct stxn *tx;
	int na = 0, nb = 0;

	free(r->household_id);
	r->household_id = NULL;		/* a list names no single household */
	r->listed_households = listed;
	r->n_listed_households = 2;
	assert_int_equal(audit_hash(r, h1), 0);
	r->n_listed_households = 1;
	assert_int_equal(audit_hash(r, h2), 0);
	assert_memory_not_equal(h1, h2, 32);
	r->n_listed_households = 2;
	assert_true(audit_names_household(r, HH_A));
	assert_true(audit_names_household(r, HH_B));

	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(audit_append(tx, &f->head, r), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	r->listed_households = NULL;
	r->n_listed_households = 0;
	audit_record_free(r);

	tx = store_reader_new(f->st);
	assert_int_equal(store_reader_begin(tx), STORE_OK);
	assert_int_equal(store_audit_scan(tx, HH_A, NULL, NREC, count_cb, &na),
	    STORE_OK);
	assert_int_equal(store_audit_scan(tx, HH_B, NULL, NREC, count_cb, &nb),
	    STORE_OK);
	store_reader_end(tx);
	store_reader_free(tx);
	assert_int_equal(na, 1);
	assert_int_equal(nb, 1);

	/* Dropping a listed household from the stored record breaks the chain. */
	back = rec_get(f, NREC + 1);
	assert_int_equal(back->n_listed_households, 2);
	back->n_listed_households = 1;
	rec_put_raw(f, NREC + 1, back);
	back->n_listed_households = 2;
	audit_record_free(back);
	expect_bad(f, NREC + 1, "edited");
}

/* What a scan handed out: each record once, in order, none past upto. */
struct seen {
	uint64_t	 s_last;	/* the last seq seen */
	uint64_t	 s_upto;	/* none past it */
	int		 s_n;
	int		 s_bad;		/* out of order, twice, or past upto */
};

static int
seen_cb(const EpAuditRecord *r, void *arg)
{
	struct seen *s = arg;

	if (r->seq <= s->s_last || r->seq > s->s_upto) {
		print_error("scan handed out record %llu after %llu (up to "
		    "%llu)\n", (unsigned long long)r->seq,
		    (unsigned long long)s->s_last,
		    (unsigned long long)s->s_upto);
		s->s_bad++;
	}
	s->s_last = r->seq;
	s->s_n++;
	return 0;
}

/*
 * The records past after up to upto a household or an organisation has,
 * by brute force, against what scans in rd hand out.
 */
static void
expect_counts_in(struct stxn *rd, uint64_t after, uint64_t upto)
{
	static const char *const hhs[] = { HH_A, HH_B };
	static const char *const orgs[] = { "lev", "senzer" };
	struct seen s;
	uint64_t seq, want;
	int i, j;

	for (i = 0; i < 2; i++) {
		for (j = -1; j < 2; j++) {
			want = 0;
			for (seq = after + 1; seq <= upto; seq++)
				if (strcmp(rec_hh((int)seq), hhs[i]) == 0 &&
				    (j < 0 || strcmp(rec_org((int)seq),
				    orgs[j]) == 0))
					want++;
			memset(&s, 0, sizeof(s));
			s.s_last = after;
			s.s_upto = upto;
			assert_int_equal(store_audit_scan(rd, hhs[i], j < 0 ?
			    NULL : orgs[j], after, seen_cb, &s), STORE_OK);
			assert_int_equal(s.s_bad, 0);
			assert_int_equal((uint64_t)s.s_n, want);
		}
	}
	for (j = 0; j < 2; j++) {
		want = 0;
		for (seq = after + 1; seq <= upto; seq++)
			if (strcmp(rec_org((int)seq), orgs[j]) == 0)
				want++;
		memset(&s, 0, sizeof(s));
		s.s_last = after;
		s.s_upto = upto;
		assert_int_equal(store_audit_scan(rd, NULL, orgs[j], after,
		    seen_cb, &s), STORE_OK);
		assert_int_equal(s.s_bad, 0);
		assert_int_equal((uint64_t)s.s_n, want);
	}
}

/* The records a household or an organisation has, by brute force. */
static void
expect_counts(struct fx *f, uint64_t after)
{
	struct stxn *rd = store_reader_new(f->st);

	assert_non_null(rd);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	expect_counts_in(rd, after, f->head.ah_seq);
	store_reader_end(rd);
	store_reader_free(rd);
}

/*
 * The index is built after the records are committed (off the hot path,
 * in its own environment): a scan sees every record committed before it,
 * indexed or not, in order, once.
 */
static void
test_scan_unindexed_tail(void **state)
{
	struct fx *f = *state;
	uint64_t pending, after;

	f->index = 0;
	append_n(f, 1, 40);
	assert_int_equal(store_audit_indexed(f->st), 0);
	for (after = 0; after < 40; after += 13)
		expect_counts(f, after);
	/* All of it indexed, in one step (at most a chunk). */
	assert_int_equal(store_audit_index(f->st, UINT64_MAX, 0, &pending),
	    STORE_OK);
	assert_int_equal(pending, 0);
	assert_int_equal(store_audit_indexed(f->st), 40);
	append_n(f, 41, 70);
	assert_int_equal(store_audit_indexed(f->st), 40);
	for (after = 0; after < 70; after += 9)
		expect_counts(f, after);
	f->index = 1;
	append_n(f, 71, 75);
	for (after = 0; after < 75; after += 11)
		expect_counts(f, after);
	/* Indexing twice changes nothing. */
	pending = 99;
	assert_int_equal(store_audit_index(f->st, UINT64_MAX, 0, &pending),
	    STORE_OK);
	assert_int_equal(pending, 0);
	assert_int_equal(store_audit_indexed(f->st), 75);
	expect_counts(f, 0);
	/* What is indexed is committed: a reopen finds it. */
	store_close(f->st);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(store_audit_indexed(f->st), 75);
	expect_counts(f, 0);
}

/*
 * The per-household index is kept in buckets of 65,536 records (its keys
 * begin with seq >> 16): a scan that starts in one bucket and ends in the
 * next, or starts right at a boundary, sees every record once, in order —
 * indexed, and with the index ending inside the second bucket.
 */
static void
test_scan_across_buckets(void **state)
{
	struct fx *f = *state;
	uint64_t pending;
	int from;

	store_close(f->st);
	f->map = (size_t)256 << 20;
	assert_int_equal(fx_open(f), 0);
	f->index = 0;
	for (from = 1; from <= 65736; from += 8192)
		append_n(f, from, from + 8191 > 65736 ? 65736 : from + 8191);
	assert_int_equal(store_audit_index(f->st, 65540, 0, &pending),
	    STORE_OK);
	while (store_audit_indexed(f->st) < 65540)
		assert_int_equal(store_audit_index(f->st, 65540, 0, &pending),
		    STORE_OK);
	expect_counts(f, 65500);	/* index ends in bucket 1, then log */
	index_all(f->st);
	assert_int_equal(store_audit_indexed(f->st), 65736);
	expect_counts(f, 65500);	/* across the boundary */
	expect_counts(f, 65535);	/* from the last of bucket 0 */
	expect_counts(f, 65536);	/* from the first of bucket 1 */
	expect_counts(f, 65000);
	expect_counts(f, 0);		/* all of it */
}

/*
 * The indexer takes a bounded number of records per step (max), so that
 * it never holds its environment long; the rest waits its turn, pending
 * says how many, and scans still see every record.
 */
static void
test_index_step_bounded(void **state)
{
	struct fx *f = *state;
	uint64_t pending;

	f->index = 0;
	append_n(f, 1, 40);
	assert_int_equal(store_audit_index(f->st, UINT64_MAX, 16, &pending),
	    STORE_OK);
	assert_int_equal(pending, 24);
	assert_int_equal(store_audit_indexed(f->st), 16);
	expect_counts(f, 0);
	expect_counts(f, 16);
	assert_int_equal(store_audit_index(f->st, UINT64_MAX, 16, &pending),
	    STORE_OK);
	assert_int_equal(store_audit_indexed(f->st), 32);
	assert_int_equal(pending, 8);
	expect_counts(f, 0);
	expect_counts(f, 20);
	assert_int_equal(store_audit_index(f->st, UINT64_MAX, 16, &pending),
	    STORE_OK);
	assert_int_equal(pending, 0);
	assert_int_equal(store_audit_indexed(f->st), 40);
	expect_counts(f, 0);
	/* max 1: one record a step. */
	append_n(f, 41, 43);
	assert_int_equal(store_audit_index(f->st, UINT64_MAX, 1, &pending),
	    STORE_OK);
	assert_int_equal(pending, 2);
	assert_int_equal(store_audit_indexed(f->st), 41);
	expect_counts(f, 0);
}

/*
 * upto bounds what is indexed (the indexer passes the last record known
 * durable): none past it, and pending counts only what remains up to it.
 */
static void
test_index_upto_bounded(void **state)
{
	struct fx *f = *state;
	uint64_t pending;

	f->index = 0;
	append_n(f, 1, 40);
	assert_int_equal(store_audit_index(f->st, 25, 0, &pending), STORE_OK);
	assert_int_equal(store_audit_indexed(f->st), 25);
	assert_int_equal(pending, 0);
	expect_counts(f, 0);
	expect_counts(f, 24);
	expect_counts(f, 25);
	expect_counts(f, 30);
	/* max and upto together: pending counts up to upto only. */
	assert_int_equal(store_audit_index(f->st, 30, 2, &pending), STORE_OK);
	assert_int_equal(store_audit_indexed(f->st), 27);
	assert_int_equal(pending, 3);
	/* upto behind what is indexed: nothing, nothing pending. */
	pending = 99;
	assert_int_equal(store_audit_index(f->st, 10, 0, &pending), STORE_OK);
	assert_int_equal(store_audit_indexed(f->st), 27);
	assert_int_equal(pending, 0);
	expect_counts(f, 0);
	/* upto 0: nothing at all. */
	pending = 99;
	assert_int_equal(store_audit_index(f->st, 0, 0, &pending), STORE_OK);
	assert_int_equal(store_audit_indexed(f->st), 27);
	assert_int_equal(pending, 0);
	/* upto past the log's last: up to the last, nothing pending. */
	assert_int_equal(store_audit_index(f->st, 1000, 0, &pending),
	    STORE_OK);
	assert_int_equal(store_audit_indexed(f->st), 40);
	assert_int_equal(pending, 0);
	expect_counts(f, 0);
	expect_counts(f, 27);
}

/*
 * A scan's read txn, begun before more records were committed and
 * indexed: the index (read in a txn of its own, begun later) is ahead of
 * the scan's snapshot. The scan hands out exactly the records of its own
 * snapshot, each once: none of the later ones, and no damage reported for
 * index entries naming records its snapshot does not hold.
 */
static void
test_scan_older_snapshot(void **state)
{
	struct fx *f = *state;
	struct stxn *rd, *rd2;
	uint64_t after;

	/* Partly indexed when the old txn begins: 1..12 of 1..20. */
	f->index = 0;
	append_n(f, 1, 20);
	assert_int_equal(store_audit_index(f->st, 12, 0, NULL), STORE_OK);
	assert_int_equal(store_audit_indexed(f->st), 12);
	assert_non_null(rd = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	f->index = 1;
	append_n(f, 21, 40);
	assert_int_equal(store_audit_indexed(f->st), 40);
	for (after = 0; after < 20; after += 3)
		expect_counts_in(rd, after, 20);
	expect_counts_in(rd, 20, 20);
	expect_counts_in(rd, 30, 20);
	/* Fully indexed when it begins, then the index moves on. */
	assert_non_null(rd2 = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(rd2), STORE_OK);
	append_n(f, 41, 55);
	assert_int_equal(store_audit_indexed(f->st), 55);
	for (after = 0; after < 40; after += 7)
		expect_counts_in(rd2, after, 40);
	expect_counts_in(rd, 0, 20);
	store_reader_end(rd2);
	store_reader_free(rd2);
	store_reader_end(rd);
	store_reader_free(rd);
	/* A txn begun now sees them all. */
	for (after = 0; after < 55; after += 11)
		expect_counts(f, after);
}

/* dir/audit-index/data.mdb, the index's data file. */
static void
index_data(const struct fx *f, char *buf, size_t len)
{
	snprintf(buf, len, "%s/audit-index/data.mdb", f->env);
}

static void
main_data(const struct fx *f, char *buf, size_t len)
{
	snprintf(buf, len, "%s/data.mdb", f->env);
}

/* A copy of the file at path (the store closed). */
static void
file_save(const char *path, uint8_t **buf, size_t *len)
{
	assert_int_equal(testkey_slurp(path, buf, len), 0);
}

/* Puts a copy back in place of the file at path. */
static void
file_put(const char *path, const uint8_t *buf, size_t len)
{
	assert_int_equal(testkey_spill(path, buf, len), 0);
}

/* The chain's head as stored (after a data file was put back). */
static void
head_reload(struct fx *f)
{
	struct stxn *rd = store_reader_new(f->st);

	assert_non_null(rd);
	assert_int_equal(store_reader_begin(rd), STORE_OK);
	assert_int_equal(audit_head_load(rd, &f->head), STORE_OK);
	store_reader_end(rd);
	store_reader_free(rd);
}

/*
 * A data file put back from before records were appended, without its
 * index: the index names records past the log's last. A read-write open
 * empties it (store_audit_index_check); the indexer builds it again, and
 * the records appended then under the same seqs are found where they are.
 */
static void
test_index_check_log_shorter(void **state)
{
	struct fx *f = *state;
	char data[400];
	uint8_t *copy;
	size_t len;

	main_data(f, data, sizeof(data));
	store_close(f->st);
	f->st = NULL;
	file_save(data, &copy, &len);
	assert_int_equal(fx_open(f), 0);
	append_n(f, NREC + 1, 2 * NREC);
	assert_int_equal(store_audit_indexed(f->st), 2 * NREC);
	/* An index that belongs to its log is kept at an open. */
	store_close(f->st);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(store_audit_indexed(f->st), 2 * NREC);
	expect_counts(f, 0);
	store_close(f->st);
	f->st = NULL;
	file_put(data, copy, len);
	free(copy);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(store_audit_indexed(f->st), 0);
	head_reload(f);
	assert_int_equal(f->head.ah_seq, NREC);
	expect_counts(f, 0);
	expect_counts(f, 4);
	/* Other records under seqs the old index named. */
	hh_swap_from = NREC + 1;
	append_n(f, NREC + 1, 2 * NREC);
	assert_int_equal(store_audit_indexed(f->st), 2 * NREC);
	expect_counts(f, 0);
	expect_counts(f, NREC);
}

/* Puts value (raw, no frame) under meta name in the audit index's env. */
static void
index_meta_raw(const struct fx *f, const char *name, const void *val,
    size_t len)
{
	char dir[400];
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi dbi;
	MDB_val k, v;

	snprintf(dir, sizeof(dir), "%s/audit-index", f->env);
	assert_int_equal(testkey_raw_begin(dir, 0, &e, &t), 0);
	assert_int_equal(mdb_dbi_open(t, "meta", 0, &dbi), MDB_SUCCESS);
	k.mv_data = (void *)(uintptr_t)name;
	k.mv_size = strlen(name);
	v.mv_data = (void *)(uintptr_t)val;
	v.mv_size = len;
	assert_int_equal(mdb_put(t, dbi, &k, &v, 0), MDB_SUCCESS);
	assert_int_equal(mdb_txn_commit(t), MDB_SUCCESS);
	mdb_env_close(e);
}

/*
 * The index's own bookkeeping damaged (how far it got, or the hash of the
 * last record it indexed): a read-write open empties it and it is built
 * again; a read-only open goes on without it, reading the log. Neither
 * refuses the store: the index is derived data.
 */
static void
test_index_meta_damaged(void **state)
{
	static const char *const names[] = { "audit_indexed",
	    "audit_indexed_hash" };
	static const uint8_t junk[12] = { 1, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef,
	    0, 0, 0, 7 };
	struct fx *f = *state;
	char err[512];
	size_t i;

	for (i = 0; i < 2; i++) {
		assert_int_equal(store_audit_indexed(f->st), NREC + i * 2);
		store_close(f->st);
		f->st = NULL;
		index_meta_raw(f, names[i], junk, sizeof(junk));
		/* Read-only: opens, no index, every record from the log. */
		assert_int_equal(testkey_open(&f->st, f->env, 16u << 20, 0, 1,
		    0, err, sizeof(err)), 0);
		assert_int_equal(store_audit_indexed(f->st), 0);
		expect_counts(f, 0);
		store_close(f->st);
		f->st = NULL;
		assert_int_equal(fx_open(f), 0);
		assert_int_equal(store_audit_indexed(f->st), 0);
		expect_counts(f, 0);
		expect_counts(f, 3);
		append_n(f, NREC + i * 2 + 1, NREC + i * 2 + 2);
		assert_int_equal(store_audit_indexed(f->st), NREC + i * 2 + 2);
		expect_counts(f, 0);
	}
}

/*
 * An index put back beside a log as long as the one it was built from,
 * but another: its last indexed record's hash is not the log's. Emptied
 * at the open, built again.
 */
static void
test_index_check_other_log(void **state)
{
	struct fx *f = *state;
	char data[400], idata[400];
	uint8_t *copy, *icopy;
	size_t len, ilen;

	main_data(f, data, sizeof(data));
	index_data(f, idata, sizeof(idata));
	store_close(f->st);
	f->st = NULL;
	file_save(data, &copy, &len);
	assert_int_equal(fx_open(f), 0);
	append_n(f, NREC + 1, 2 * NREC);
	store_close(f->st);
	f->st = NULL;
	file_save(idata, &icopy, &ilen);
	/* The log of 10 again, and 10 other records after them. */
	file_put(data, copy, len);
	free(copy);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(store_audit_indexed(f->st), 0);
	head_reload(f);
	hh_swap_from = NREC + 1;
	append_n(f, NREC + 1, 2 * NREC);
	assert_int_equal(store_audit_indexed(f->st), 2 * NREC);
	expect_counts(f, 0);
	/* The first log's index put back: up to 20 too, but not this 20. */
	store_close(f->st);
	f->st = NULL;
	file_put(idata, icopy, ilen);
	free(icopy);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(store_audit_indexed(f->st), 0);
	expect_counts(f, 0);
	expect_counts(f, NREC);
	index_all(f->st);
	assert_int_equal(store_audit_indexed(f->st), 2 * NREC);
	expect_counts(f, 0);
	expect_counts(f, NREC - 3);
}


/* Duplicates naming seqs 1..n under key in a legacy index database. */
static void
raw_legacy_put(MDB_txn *t, MDB_dbi d, const void *key, size_t klen,
    uint64_t n)
{
	MDB_val k, v;
	uint8_t dd[12];
	uint64_t seq;

	for (seq = 1; seq <= n; seq++) {
		memset(dd, 0, sizeof(dd));
		util_be64_put(dd, seq);
		k.mv_data = (void *)(uintptr_t)key;
		k.mv_size = klen;
		v.mv_data = dd;
		v.mv_size = sizeof(dd);
		assert_int_equal(mdb_put(t, d, &k, &v, 0), 0);
	}
}

static int
rm_tree(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * An index of the earlier format (log_hh keyed by the household alone, no
 * audit_index_format in its meta) is built again at a read-write open:
 * scans are right before and after, and the next open keeps the new one.
 */
static void
test_index_earlier_format(void **state)
{
	struct fx *f = *state;
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi d;
	MDB_val k;
	uint8_t hh[16];
	char dir[400];

	f->index = 1;
	append_n(f, 1, 4 * NREC);
	assert_int_equal(store_audit_indexed(f->st), 4 * NREC);
	store_close(f->st);
	f->st = NULL;
	snprintf(dir, sizeof(dir), "%s/audit-index", f->env);
	assert_int_equal(testkey_raw_begin(dir, 0, &e, &t), 0);
	assert_int_equal(mdb_dbi_open(t, "meta", 0, &d), 0);
	k.mv_data = "audit_index_format";
	k.mv_size = strlen(k.mv_data);
	assert_int_equal(mdb_del(t, d, &k, NULL), 0);
	assert_int_equal(mdb_dbi_open(t, "log_hh", 0, &d), 0);
	assert_int_equal(mdb_drop(t, d, 0), 0);
	assert_int_equal(store_hhid(HH_A, hh), 0);
	raw_legacy_put(t, d, hh, sizeof(hh), 4 * NREC);
	assert_int_equal(mdb_txn_commit(t), 0);
	mdb_env_close(e);

	assert_int_equal(fx_open(f), 0);
	assert_int_equal(store_audit_indexed(f->st), 0);	/* reset */
	expect_counts(f, 0);
	index_all(f->st);
	assert_int_equal(store_audit_indexed(f->st), 4 * NREC);
	expect_counts(f, 0);
	expect_counts(f, NREC);
	store_close(f->st);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(store_audit_indexed(f->st), 4 * NREC);	/* kept */
	expect_counts(f, 0);
}

/*
 * A store made before the index had its own environment: log_hh, log_org
 * and meta audit_indexed in the store's own environment, no audit-index
 * directory. A read-write open drops them there; the index is built in its
 * own environment from the log, and scans are right throughout.
 */
static void
test_index_legacy_store(void **state)
{
	struct fx *f = *state;
	struct stxn *tx;
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi d;
	uint8_t hh[16], u64[8], buf[16];
	char dir[400];
	struct stat sb;
	size_t len;

	f->index = 0;
	append_n(f, 1, 2 * NREC);
	/* The old index's meta, in the store's own meta. */
	util_be64_put(u64, 2 * NREC);
	assert_int_equal(store_write_begin(f->st, &tx), STORE_OK);
	assert_int_equal(store_meta_put(tx, "audit_indexed", u64,
	    sizeof(u64)), STORE_OK);
	assert_int_equal(store_commit(tx), STORE_OK);
	store_close(f->st);
	f->st = NULL;
	/* Its databases, made with LMDB itself; no index environment. */
	assert_int_equal(testkey_raw_begin(f->env, 0, &e, &t), 0);
	assert_int_equal(mdb_dbi_open(t, "log_hh", MDB_CREATE | MDB_DUPSORT |
	    MDB_DUPFIXED, &d), 0);
	assert_int_equal(store_hhid(HH_A, hh), 0);
	raw_legacy_put(t, d, hh, sizeof(hh), 2 * NREC);
	assert_int_equal(store_hhid(HH_B, hh), 0);
	raw_legacy_put(t, d, hh, sizeof(hh), 2);
	assert_int_equal(mdb_dbi_open(t, "log_org", MDB_CREATE | MDB_DUPSORT |
	    MDB_DUPFIXED, &d), 0);
	raw_legacy_put(t, d, "lev", 4, 2 * NREC);
	raw_legacy_put(t, d, "senzer", 7, 1);
	assert_int_equal(mdb_txn_commit(t), 0);
	mdb_env_close(e);
	assert_int_equal(testkey_db_probe(f->env, "log_hh"), 0);
	assert_int_equal(testkey_db_probe(f->env, "log_org"), 0);
	snprintf(dir, sizeof(dir), "%s/audit-index", f->env);
	assert_int_equal(rm_tree(dir), 0);
	assert_int_equal(stat(dir, &sb), -1);

	assert_int_equal(fx_open(f), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(store_audit_indexed(f->st), 0);
	/* The old meta is gone from the store's meta. */
	assert_non_null(tx = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(tx), STORE_OK);
	assert_int_equal(store_meta_get(tx, "audit_indexed", buf, sizeof(buf),
	    &len), STORE_NOTFOUND);
	store_reader_end(tx);
	store_reader_free(tx);
	expect_counts(f, 0);
	expect_counts(f, NREC);
	index_all(f->st);
	assert_int_equal(store_audit_indexed(f->st), 2 * NREC);
	expect_counts(f, 0);
	expect_counts(f, 7);
	f->index = 1;
	append_n(f, 2 * NREC + 1, 3 * NREC);
	expect_counts(f, 0);
	store_close(f->st);
	f->st = NULL;
	/* Dropped from the store's environment, not merely emptied. */
	assert_int_equal(testkey_db_probe(f->env, "log_hh"), MDB_NOTFOUND);
	assert_int_equal(testkey_db_probe(f->env, "log_org"), MDB_NOTFOUND);
	assert_int_equal(testkey_db_probe(f->env, "log"), 0);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(store_audit_indexed(f->st), 3 * NREC);
	expect_counts(f, 0);
}

/*
 * A read-only open (admin tools) reads the index when there is one; of a
 * store without an audit-index directory, it makes none, indexes nothing,
 * and its scans read every record from the log.
 */
static void
test_scan_readonly_no_index(void **state)
{
	struct fx *f = *state;
	char dir[400], err[512];
	struct stat sb;
	uint64_t pending;

	/* Indexed up to 15 of 20. */
	append_n(f, NREC + 1, NREC + 5);
	f->index = 0;
	append_n(f, NREC + 6, 2 * NREC);
	assert_int_equal(store_audit_indexed(f->st), NREC + 5);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(testkey_open(&f->st, f->env, 16u << 20, 0, 1, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(store_audit_indexed(f->st), NREC + 5);
	expect_counts(f, 0);
	expect_counts(f, NREC + 5);
	assert_int_equal(store_audit_index(f->st, UINT64_MAX, 0, &pending),
	    STORE_READONLY);
	store_close(f->st);
	f->st = NULL;
	/* Without one. */
	snprintf(dir, sizeof(dir), "%s/audit-index", f->env);
	assert_int_equal(rm_tree(dir), 0);
	assert_int_equal(testkey_open(&f->st, f->env, 16u << 20, 0, 1, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(stat(dir, &sb), -1);
	assert_int_equal(store_audit_indexed(f->st), 0);
	assert_int_equal(store_audit_index(f->st, UINT64_MAX, 0, &pending),
	    STORE_READONLY);
	assert_int_equal(store_audit_index_reset(f->st), STORE_OK);
	expect_counts(f, 0);
	expect_counts(f, 3);
	expect_counts(f, NREC + 5);
	expect_counts(f, 2 * NREC);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(stat(dir, &sb), -1);
	/* A read-write open makes it again, empty. */
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(store_audit_indexed(f->st), 0);
	expect_counts(f, 0);
	index_all(f->st);
	assert_int_equal(store_audit_indexed(f->st), 2 * NREC);
	expect_counts(f, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_verify_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verify_intact, setup_chain,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verify_edited, setup_chain,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verify_edited_outcome,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_edited_and_rehashed,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_deleted,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_swapped,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_swapped_raw,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_damaged_key,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_damaged_key_far,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_damaged_value,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_export_damaged,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_truncated,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_beyond_head,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_head_mismatch,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_verify_head_seq0_with_hash,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_load, setup_chain,
		    teardown),
		cmocka_unit_test_setup_teardown(test_append_failure_keeps_head,
		    setup_chain, teardown),
		cmocka_unit_test(test_hash_known_answer),
		cmocka_unit_test(test_hash_every_field),
		cmocka_unit_test(test_record_new_set),
		cmocka_unit_test_setup_teardown(test_export, setup_chain,
		    teardown),
		cmocka_unit_test(test_filter_match),
		cmocka_unit_test_setup_teardown(test_scan_across_buckets,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_unindexed_tail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_index_step_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_index_upto_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scan_older_snapshot,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_check_log_shorter,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_index_check_other_log,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_index_meta_damaged,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_index_earlier_format,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_legacy_store, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scan_readonly_no_index,
		    setup_chain, teardown),
		cmocka_unit_test_setup_teardown(test_listed_households,
		    setup_chain, teardown),
	};

	log_init(0, "test_audit");
	/* TEST_FILTER=test_name (a glob) runs only those. */
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
