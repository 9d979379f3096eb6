/*
 * testkey: what the store's unit tests share — fixed test keys (KEKs), a
 * store opened with one, and where LMDB keeps the live copy of a key and
 * its value inside data.mdb, so a test can damage exactly those bytes.
 */
#ifndef EENPLAN_TESTKEY_H
#define EENPLAN_TESTKEY_H

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "seal.h"
#include "store.h"
#include "util.h"

/* Test KEK number n: fixed bytes, so a reopen (or a forked child) agrees. */
static inline void
testkey(struct seal_key *k, unsigned n)
{
	size_t i;

	for (i = 0; i < SEAL_KEY_LEN; i++)
		k->sk_key[i] = (uint8_t)(0xa5 ^ (i * 29) ^ (n * 0x3b) ^
		    (n << 4));
	k->sk_id = seal_key_id(k->sk_key);
}

static inline uint32_t
testkey_id(unsigned n)
{
	struct seal_key k;

	testkey(&k, n);
	return k.sk_id;
}

/* store_open of dir with test key keyno; 0 or -1 with err. */
static inline int
testkey_open(struct store **st, const char *dir, size_t map, unsigned readers,
    int readonly, unsigned keyno, char *err, size_t errlen)
{
	struct store_opts o;
	struct seal_key k;
	int rc;

	memset(&o, 0, sizeof(o));
	testkey(&k, keyno);
	o.so_dir = dir;
	o.so_map_max = map;
	o.so_max_readers = readers;
	o.so_readonly = readonly;
	o.so_kek = &k;
	rc = store_open(st, &o, err, errlen);
	seal_key_wipe(&k);
	return rc;
}

/* Where an entry lives in data.mdb: file offsets of its key and value. */
struct testkey_loc {
	off_t	tl_key;
	off_t	tl_val;
	size_t	tl_vlen;
};

/*
 * The file offset of p, a pointer a read txn handed out: LMDB pages are
 * psize-aligned in the map and begin with their page number.
 */
static inline off_t
testkey_off(const void *p, size_t psize)
{
	uintptr_t a = (uintptr_t)p, pg = a & ~(uintptr_t)(psize - 1);
	size_t pgno;

	memcpy(&pgno, (const void *)pg, sizeof(pgno));
	return (off_t)(pgno * psize + (a - pg));
}

/* 1 when the file at off holds exactly the len bytes at p. */
static inline int
testkey_file_holds(const char *path, off_t off, const void *p, size_t len)
{
	uint8_t *b;
	int fd, same = 0;

	if ((b = malloc(len + 1)) == NULL)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		same = pread(fd, b, len, off) == (ssize_t)len &&
		    memcmp(b, p, len) == 0;
		close(fd);
	}
	free(b);
	return same;
}

/*
 * Finds the live copy of key in database db of the (closed) environment
 * dir, through LMDB itself: a read txn hands out pointers into the map,
 * which give the file offsets. Stale copies of the same bytes in freed
 * pages are never chosen. 0, or -1 when absent.
 */
static inline int
testkey_locate_dup(const char *dir, const char *db, const void *key,
    size_t klen, uint64_t dup_seq, struct testkey_loc *out)
{
	MDB_env *e = NULL;
	MDB_txn *t = NULL;
	MDB_cursor *c = NULL;
	MDB_stat ms;
	MDB_dbi d;
	MDB_val k, v;
	char path[4096];
	int rc = -1;

	if (mdb_env_create(&e) != 0)
		return -1;
	if (mdb_env_set_maxdbs(e, 64) != 0 ||
	    mdb_env_open(e, dir, MDB_RDONLY, 0600) != 0 ||
	    mdb_env_stat(e, &ms) != 0 ||
	    mdb_txn_begin(e, NULL, MDB_RDONLY, &t) != 0 ||
	    mdb_dbi_open(t, db, 0, &d) != 0 ||
	    mdb_cursor_open(t, d, &c) != 0)
		goto out;
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	if (mdb_cursor_get(c, &k, &v, MDB_SET_KEY) != 0 || k.mv_size != klen ||
	    memcmp(k.mv_data, key, klen) != 0)
		goto out;
	/* A DUPSORT index: the duplicate that starts with that seq. */
	if (dup_seq != 0) {
		uint8_t dd[12];

		memset(dd, 0, sizeof(dd));
		util_be64_put(dd, dup_seq);
		v.mv_data = dd;
		v.mv_size = sizeof(dd);
		if (mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE) != 0 ||
		    v.mv_size != sizeof(dd) ||
		    util_be64_get(v.mv_data) != dup_seq)
			goto out;
	}
	out->tl_key = testkey_off(k.mv_data, ms.ms_psize);
	out->tl_val = testkey_off(v.mv_data, ms.ms_psize);
	out->tl_vlen = v.mv_size;
	/* Trust, but check: those offsets hold those bytes. */
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (testkey_file_holds(path, out->tl_key, key, klen) &&
	    testkey_file_holds(path, out->tl_val, v.mv_data, v.mv_size))
		rc = 0;
out:
	if (c != NULL)
		mdb_cursor_close(c);
	if (t != NULL)
		mdb_txn_abort(t);
	mdb_env_close(e);
	return rc;
}

static inline int
testkey_locate(const char *dir, const char *db, const void *key, size_t klen,
    struct testkey_loc *out)
{
	return testkey_locate_dup(dir, db, key, klen, 0, out);
}

/* XORs the byte at off of path with mask. 0 or -1. */
static inline int
testkey_xor(const char *path, off_t off, uint8_t mask)
{
	uint8_t b;
	int fd, rc = -1;

	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	if (pread(fd, &b, 1, off) == 1) {
		b ^= mask;
		if (pwrite(fd, &b, 1, off) == 1)
			rc = 0;
	}
	close(fd);
	return rc;
}

/* The whole file (malloc'd) into *buf. 0 or -1. */
static inline int
testkey_slurp(const char *path, uint8_t **buf, size_t *len)
{
	FILE *fp;
	long n;

	*buf = NULL;
	*len = 0;
	if ((fp = fopen(path, "rb")) == NULL)
		return -1;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 ||
	    (*buf = malloc((size_t)n + 1)) == NULL ||
	    fread(*buf, 1, (size_t)n, fp) != (size_t)n) {
		free(*buf);
		*buf = NULL;
		fclose(fp);
		return -1;
	}
	fclose(fp);
	*len = (size_t)n;
	return 0;
}

/*
 * The LMDB environment in dir opened raw (flags: 0, or MDB_RDONLY), with a
 * txn of the same kind begun; *e closed again on failure. 0 or -1.
 */
static inline int
testkey_raw_begin(const char *dir, unsigned flags, MDB_env **e, MDB_txn **t)
{
	*t = NULL;
	if (mdb_env_create(e) != 0)
		return -1;
	if (mdb_env_set_maxdbs(*e, 64) != 0 ||
	    mdb_env_open(*e, dir, flags, 0600) != 0 ||
	    mdb_txn_begin(*e, NULL, flags & MDB_RDONLY, t) != 0) {
		mdb_env_close(*e);
		return -1;
	}
	return 0;
}

/* Whether dir's environment has a database named db: mdb_dbi_open's rc. */
static inline int
testkey_db_probe(const char *dir, const char *db)
{
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi d;
	int mrc;

	if (testkey_raw_begin(dir, MDB_RDONLY, &e, &t) != 0)
		return -1;
	mrc = mdb_dbi_open(t, db, 0, &d);
	mdb_txn_abort(t);
	mdb_env_close(e);
	return mrc;
}

/* Writes buf over the file at path (truncated first). 0 or -1. */
static inline int
testkey_spill(const char *path, const uint8_t *buf, size_t len)
{
	int fd, rc = 0;

	if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0)
		return -1;
	if (write(fd, buf, len) != (ssize_t)len)
		rc = -1;
	close(fd);
	return rc;
}

/* How many times needle occurs in the file at path (-1: unreadable). */
static inline long
testkey_count(const char *path, const void *needle, size_t nlen)
{
	uint8_t *buf, *p, *end;
	size_t len;
	long n = 0;

	if (testkey_slurp(path, &buf, &len) != 0)
		return -1;
	p = buf;
	end = buf + len;
	while (nlen > 0 && (size_t)(end - p) >= nlen &&
	    (p = memmem(p, (size_t)(end - p), needle, nlen)) != NULL) {
		n++;
		p++;
	}
	free(buf);
	return n;
}

#endif
