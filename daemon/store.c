/* store: the LMDB environment, checked and sealed values, STORE_* codes (see store.h). */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/crypto.h>
#include <zlib.h>

#include "log.h"
#include "util.h"
#include "store.h"
#include "store_impl.h"

#define STORE_ID_MAX		128	/* orgs and subjects in keys */
#define STORE_META_NAME_MAX	64
#define STORE_DEFAULT_MAP	((size_t)1 << 30)
#define STORE_DEFAULT_READERS	126
#define STORE_KEYRING_MAX	(64 * 1024)

const struct store_dbinfo store_dbs[DB_COUNT] = {
	[DB_HH] =	 { "hh",	 1 },
	[DB_BODY] =	 { "body",	 1 },
	[DB_DELTA] =	 { "delta",	 1 },
	[DB_SNAP] =	 { "snap",	 1 },
	[DB_GRANTS] =	 { "grants",	 1 },
	[DB_PIDX] =	 { "pidx",	 0 },
	[DB_LOG] =	 { "log",	 1 },
	[DB_LOG_HH] =	 { "log_hh",	 0, MDB_DUPSORT | MDB_DUPFIXED, 0, 1 },
	[DB_LOG_ORG] =	 { "log_org",	 0, MDB_DUPSORT | MDB_DUPFIXED, 0, 1 },
	[DB_FEED] =	 { "feed",	 1 },
	[DB_CSTATE] =	 { "cstate",	 1 },
	[DB_EXPIRY] =	 { "expiry",	 0 },
	[DB_SIGNALS] =	 { "signals",	 1 },
	[DB_SENT] =	 { "sent",	 1 },
	[DB_SENT_HH] =	 { "sent_hh",	 0, 0, 1 },
	[DB_PEOPLE] =	 { "people",	 1 },
	[DB_ACTORS] =	 { "actors",	 1 },
	[DB_ACTOR_IDX] = { "actor_idx",	 0 },
	[DB_META] =	 { "meta",	 0 },
	/* Schema 1, read by the migration only. */
	[DB_V1_HOUSEHOLDS] = { "households", 0 },
	[DB_V1_VERSIONS] = { "versions",	 0 },
	[DB_V1_HISTORY] = { "history",	 0 },
	[DB_V1_CONSENT] = { "consent",	 0 },
	[DB_V1_PRINCIPALS] = { "principals", 0 },
	[DB_V1_AUDIT] =	 { "audit",	 0 },
	[DB_V1_AUDIT_HH] = { "audit_hh",	 0 },
	[DB_V1_AUDIT_ORG] = { "audit_org", 0 },
	[DB_V1_CHANGES] = { "changes",	 0 },
};

/* ------------------------------------------------------------ helpers */

/*
 * A change to anything but the audit log and its head ("audit_head" in
 * meta): the writer may keep a txn open across batches only while it
 * holds nothing else (writer.c), since readers see what is committed.
 */
static void
stxn_note_change(struct stxn *tx, int db, const void *key, size_t klen)
{
	static const char head[] = "audit_head";

	if (db == DB_LOG || (db == DB_META && klen == sizeof(head) - 1 &&
	    memcmp(key, head, klen) == 0))
		return;
	tx->sx_other = 1;
}

static uint32_t
frame_crc(const void *key, size_t klen, const void *payload, size_t len)
{
	uLong crc = crc32_z(0L, Z_NULL, 0);

	crc = crc32_z(crc, key, klen);
	if (len > 0)
		crc = crc32_z(crc, payload, len);
	return (uint32_t)crc;
}

static void
frame_header(uint8_t *hdr, uint32_t crc)
{
	hdr[0] = FRAME_VERSION;
	hdr[1] = hdr[2] = hdr[3] = 0;
	hdr[4] = crc >> 24;
	hdr[5] = (crc >> 16) & 0xff;
	hdr[6] = (crc >> 8) & 0xff;
	hdr[7] = crc & 0xff;
}

int
store_map_rc(int mrc)
{
	switch (mrc) {
	case MDB_SUCCESS:
		return STORE_OK;
	case MDB_NOTFOUND:
		return STORE_NOTFOUND;
	case MDB_MAP_FULL:
		return STORE_FULL;
	/* The file system, not the configured map: say so, it is not ours to fix. */
	case ENOSPC:
	case EDQUOT:
		return STORE_DISK_FULL;
	/* Not "storage full": the disk has room, a limit of LMDB's was hit. */
	case MDB_TXN_FULL:
		return STORE_TXN_FULL;
	case MDB_READERS_FULL:
		return STORE_READERS_FULL;
	case MDB_PANIC:
		/*
		 * A meta page write failed: LMDB refuses every txn from now
		 * on. Going on would fail each request while looking healthy;
		 * a restart reopens the environment at its last good meta.
		 */
		fatalx("store: %s: the environment is unusable, exiting",
		    mdb_strerror(mrc));
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return STORE_CORRUPT;
	case EACCES:
	case EROFS:
		return STORE_READONLY;
	default:
		return STORE_ERR;
	}
}

/* Records a failure as the txn's sticky error (the first one wins). */
int
stxn_fail(struct stxn *tx, int rc)
{
	if (rc != STORE_OK && rc != STORE_NOTFOUND && tx->sx_err == STORE_OK)
		tx->sx_err = rc;
	return rc;
}

int
stxn_mdb_fail(struct stxn *tx, int mrc, const char *what, int db)
{
	int rc = store_map_rc(mrc);

	if (rc != STORE_NOTFOUND)
		log_warnx("store: %s %s: %s", what,
		    db >= 0 ? store_dbs[db].sd_name : "", mdb_strerror(mrc));
	return stxn_fail(tx, rc);
}

void
store_log_corrupt(int db, const MDB_val *key, const char *why)
{
	char hex[2 * 64 + 1];
	size_t n = key->mv_size < 64 ? key->mv_size : 64;

	util_hex(key->mv_data, n, hex);
	log_warnx("store: DATA LOSS in database %s, key %s%s: %s",
	    store_dbs[db].sd_name, hex, key->mv_size > n ? "..." : "", why);
}

int
stxn_writable(struct stxn *tx)
{
	if (tx == NULL || tx->sx_txn == NULL)
		return STORE_ERR;
	if (tx->sx_kind == STXN_READ)
		return STORE_READONLY;
	return tx->sx_err;
}

int
stxn_readable(const struct stxn *tx)
{
	if (tx == NULL || tx->sx_txn == NULL)
		return STORE_ERR;
	if (tx->sx_kind == STXN_READ && !tx->sx_active)
		return STORE_ERR;
	return STORE_OK;
}

/* LMDB's default order: bytes, then the shorter first. */
int
store_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int
store_hhid(const char *hex, uint8_t out[STORE_HHID_LEN])
{
	size_t i;
	int hi, lo;

	if (!util_valid_household_id(hex))
		return -1;
	for (i = 0; i < STORE_HHID_LEN; i++) {
		hi = hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10;
		lo = hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' :
		    hex[2 * i + 1] - 'a' + 10;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* hh16 | u64 into buf (24 bytes); 0 or -1 for a malformed id. */
static int
key_hh_u64(uint8_t buf[STORE_HHID_LEN + 8], const char *hhid, uint64_t v)
{
	if (store_hhid(hhid, buf) != 0)
		return -1;
	util_be64_put(buf + STORE_HHID_LEN, v);
	return 0;
}

/* Length of a string used in a key: 1..STORE_ID_MAX, else 0. */
static size_t
key_str_len(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, STORE_ID_MAX + 1);
	return n > STORE_ID_MAX ? 0 : n;
}

/* ------------------------------------------------------ value frames */

/* Associated data of a sealed value: the database's name, \0, the key. */
size_t
store_frame_ad(uint8_t *ad, int db, const void *key, size_t klen)
{
	size_t n = strlen(store_dbs[db].sd_name);

	memcpy(ad, store_dbs[db].sd_name, n);
	ad[n] = '\0';
	memcpy(ad + n + 1, key, klen);
	return n + 1 + klen;
}

/* The key a sealed frame names, refreshing the keyring once when unknown. */
static const struct seal_key *
frame_key(struct stxn *tx, const uint8_t *frame)
{
	struct store *st = tx->sx_store;
	const struct seal_key *k;
	uint32_t id = seal_frame_key_id(frame);

	if ((k = keyring_get(st->st_keys, id)) != NULL)
		return k;
	/* A rekey in another process may have added it since we looked. */
	if (store_keyring_refresh(tx) != STORE_OK)
		return NULL;
	return keyring_get(st->st_keys, id);
}

/*
 * Checks the frame of val stored in db under key. CRC frames: *payload and
 * *len give the payload in place. Sealed frames: opened into a new buffer
 * (*owned, to free) of head + *len + tail bytes, the payload at head.
 */
static int
frame_open(struct stxn *tx, int db, const MDB_val *key, const MDB_val *val,
    size_t head, size_t tail, const uint8_t **payload, size_t *len,
    uint8_t **owned)
{
	const uint8_t *p = val->mv_data;
	uint8_t ad[32 + STORE_KEY_MAX];
	const struct seal_key *k;
	uint8_t *buf;
	size_t adlen, ptlen;
	uint32_t crc;

	*owned = NULL;
	if (!store_dbs[db].sd_sealed) {
		if (val->mv_size < FRAME_HDR || p[0] != FRAME_VERSION ||
		    p[1] != 0 || p[2] != 0 || p[3] != 0) {
			store_log_corrupt(db, key, "bad value frame");
			return STORE_CORRUPT;
		}
		crc = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
		    (uint32_t)p[6] << 8 | p[7];
		if (crc != frame_crc(key->mv_data, key->mv_size, p + FRAME_HDR,
		    val->mv_size - FRAME_HDR)) {
			store_log_corrupt(db, key, "checksum mismatch");
			return STORE_CORRUPT;
		}
		*payload = p + FRAME_HDR;
		*len = val->mv_size - FRAME_HDR;
		return STORE_OK;
	}
	if (val->mv_size < SEAL_OVERHEAD || p[0] != SEAL_VERSION ||
	    key->mv_size > STORE_KEY_MAX) {
		store_log_corrupt(db, key, "bad sealed frame");
		return STORE_CORRUPT;
	}
	if ((k = frame_key(tx, p)) == NULL) {
		store_log_corrupt(db, key, "sealed under a key this store's "
		    "keyring does not hold (damaged, or from another store)");
		return STORE_CORRUPT;
	}
	ptlen = val->mv_size - SEAL_OVERHEAD;
	/* Each term checked on its own: a caller's room cannot wrap the sum. */
	if (tail > SIZE_MAX - 1 - ptlen || head > SIZE_MAX - 1 - ptlen - tail ||
	    (buf = malloc(head + ptlen + tail + 1)) == NULL)
		return STORE_ERR;
	adlen = store_frame_ad(ad, db, key->mv_data, key->mv_size);
	if (seal_open(k, ad, adlen, p, val->mv_size, buf + head) != 0) {
		free(buf);
		store_log_corrupt(db, key, "authentication failed (damaged, "
		    "or moved from another key)");
		return STORE_CORRUPT;
	}
	*owned = buf;
	*payload = buf + head;
	*len = ptlen;
	return STORE_OK;
}

/* Only checks an entry (for the neighbours of a miss and ends of scans). */
static int
frame_verify(struct stxn *tx, int db, const MDB_val *key, const MDB_val *val)
{
	const uint8_t *p;
	uint8_t *owned;
	size_t len;
	int rc;

	rc = frame_open(tx, db, key, val, 0, 0, &p, &len, &owned);
	if (owned != NULL) {
		OPENSSL_cleanse(owned, len);
		free(owned);
	}
	return rc;
}

int
store_frame_verify(struct stxn *tx, int db, const MDB_val *key,
    const MDB_val *val)
{
	return frame_verify(tx, db, key, val);
}

/*
 * Stores msg (or raw bytes when msg is NULL) under key: written straight
 * into the page LMDB reserves, and sealed there in place for sealed
 * databases, so nothing is copied twice. *stored (may be NULL) gets the
 * bytes the value takes.
 */
int
store_put_frame(struct stxn *tx, int db, const void *key, size_t klen,
    const ProtobufCMessage *msg, const void *raw, size_t rawlen,
    unsigned flags, size_t *stored)
{
	uint8_t kbuf[STORE_KEY_MAX], ad[32 + STORE_KEY_MAX];
	const struct seal_key *k = NULL;
	int sealed = store_dbs[db].sd_sealed;
	size_t len, hdr, total;
	MDB_val kv, v;
	uint8_t *p;
	int rc, mrc;

	if ((rc = stxn_writable(tx)) != STORE_OK)
		return rc;
	if (klen == 0 || klen > sizeof(kbuf)) {
		log_warnx("store: %s: key of %zu bytes refused",
		    store_dbs[db].sd_name, klen);
		return STORE_ERR;
	}
	if (sealed && (k = keyring_current(tx->sx_store->st_keys)) == NULL) {
		log_warnx("store: no data key to seal with");
		return stxn_fail(tx, STORE_NOKEY);
	}
	len = msg != NULL ? protobuf_c_message_get_packed_size(msg) : rawlen;
	hdr = sealed ? SEAL_HDR_LEN : FRAME_HDR;
	if (len > UINT32_MAX - SEAL_OVERHEAD)
		return stxn_fail(tx, STORE_FULL);
	total = len + (sealed ? SEAL_OVERHEAD : FRAME_HDR);
	memcpy(kbuf, key, klen);
	kv.mv_data = kbuf;
	kv.mv_size = klen;
	v.mv_data = NULL;
	v.mv_size = total;
	if ((mrc = mdb_put(tx->sx_txn, tx->sx_store->st_dbi[db], &kv, &v,
	    MDB_RESERVE | flags)) != MDB_SUCCESS) {
		if (mrc == MDB_KEYEXIST)
			store_log_corrupt(db, &kv, "refusing to overwrite");
		return stxn_mdb_fail(tx, mrc, "put", db);
	}
	p = v.mv_data;
	if (msg != NULL) {
		if (protobuf_c_message_pack(msg, p + hdr) != len) {
			log_warnx("store: %s: packed size changed",
			    store_dbs[db].sd_name);
			return stxn_fail(tx, STORE_ERR);
		}
	} else if (len > 0)
		memcpy(p + hdr, raw, len);
	if (sealed) {
		if (seal_value(k, ad, store_frame_ad(ad, db, kbuf, klen), p + hdr,
		    len, p) != 0) {
			log_warnx("store: %s: sealing failed",
			    store_dbs[db].sd_name);
			return stxn_fail(tx, STORE_ERR);
		}
	} else
		frame_header(p, frame_crc(kbuf, klen, p + FRAME_HDR, len));
	if (tx->sx_store->st_wal != NULL && walbuf_add(&tx->sx_wal, WAL_PUT,
	    (unsigned)db, kbuf, klen, p, total) == -1)
		return stxn_fail(tx, STORE_ERR);
	stxn_note_change(tx, db, kbuf, klen);
	tx->sx_bytes += total + klen;
	if (stored != NULL)
		*stored = total + klen;
	return STORE_OK;
}

/*
 * Looks key up. A miss is checked: the entries either side of where the
 * key would be must be whole and in order, else a damaged key (which LMDB
 * can no longer find) would read as "not found".
 */
static int
store_lookup(struct stxn *tx, int db, const MDB_val *k, MDB_val *v,
    int checked_miss)
{
	MDB_cursor *cur;
	MDB_val nk, nv;
	int mrc, rc = STORE_NOTFOUND;

	mrc = mdb_get(tx->sx_txn, tx->sx_store->st_dbi[db],
	    (MDB_val *)(uintptr_t)k, v);
	if (mrc != MDB_NOTFOUND)
		return mrc == MDB_SUCCESS ? STORE_OK :
		    stxn_mdb_fail(tx, mrc, "get", db);
	if (!checked_miss)
		return STORE_NOTFOUND;
	if ((mrc = mdb_cursor_open(tx->sx_txn, tx->sx_store->st_dbi[db],
	    &cur)) != MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "cursor", db);
	nk = *k;
	mrc = mdb_cursor_get(cur, &nk, &nv, MDB_SET_RANGE);
	if (mrc == MDB_SUCCESS) {
		if (store_key_cmp(nk.mv_data, nk.mv_size, k->mv_data,
		    k->mv_size) <= 0) {
			store_log_corrupt(db, &nk, "keys out of order");
			rc = STORE_CORRUPT;
			goto out;
		}
		if ((rc = frame_verify(tx, db, &nk, &nv)) != STORE_OK)
			goto out;
		rc = STORE_NOTFOUND;
		mrc = mdb_cursor_get(cur, &nk, &nv, MDB_PREV);
	} else if (mrc == MDB_NOTFOUND)
		mrc = mdb_cursor_get(cur, &nk, &nv, MDB_LAST);
	if (mrc == MDB_SUCCESS) {
		if (store_key_cmp(nk.mv_data, nk.mv_size, k->mv_data,
		    k->mv_size) >= 0) {
			store_log_corrupt(db, &nk, "keys out of order");
			rc = STORE_CORRUPT;
			goto out;
		}
		if ((rc = frame_verify(tx, db, &nk, &nv)) != STORE_OK)
			goto out;
		rc = STORE_NOTFOUND;
	} else if (mrc != MDB_NOTFOUND)
		rc = stxn_mdb_fail(tx, mrc, "cursor get", db);
out:
	mdb_cursor_close(cur);
	return rc == STORE_CORRUPT ? stxn_fail(tx, rc) : rc;
}

/*
 * Finds key and opens its value (see frame_open). must_exist: a miss is
 * damage (STORE_CORRUPT) — the caller asks for what a count says is there.
 * Also hands back the stored value as LMDB holds it (*raw).
 */
static int
store_get_frame_raw(struct stxn *tx, int db, const void *key, size_t klen,
    int must_exist, size_t head, size_t tail, const uint8_t **payload,
    size_t *len, uint8_t **owned, MDB_val *raw)
{
	uint8_t kbuf[STORE_KEY_MAX];
	MDB_val k;
	int rc;

	*owned = NULL;
	if ((rc = stxn_readable(tx)) != STORE_OK)
		return rc;
	if (klen == 0 || klen > sizeof(kbuf))
		return STORE_ERR;
	memcpy(kbuf, key, klen);
	k.mv_data = kbuf;
	k.mv_size = klen;
	rc = store_lookup(tx, db, &k, raw, !must_exist);
	if (rc == STORE_NOTFOUND && must_exist) {
		store_log_corrupt(db, &k, "missing, though counted");
		return stxn_fail(tx, STORE_CORRUPT);
	}
	if (rc != STORE_OK)
		return rc;
	return stxn_fail(tx, frame_open(tx, db, &k, raw, head, tail, payload,
	    len, owned));
}

int
store_get_frame(struct stxn *tx, int db, const void *key, size_t klen,
    int must_exist, size_t head, size_t tail, const uint8_t **payload,
    size_t *len, uint8_t **owned)
{
	MDB_val v;

	return store_get_frame_raw(tx, db, key, klen, must_exist, head, tail,
	    payload, len, owned, &v);
}

int
store_unpack(struct stxn *tx, int db, const void *key, size_t klen,
    const ProtobufCMessageDescriptor *desc, const uint8_t *payload,
    size_t len, ProtobufCMessage **out)
{
	MDB_val k;

	*out = protobuf_c_message_unpack(desc, NULL, len, payload);
	if (*out == NULL) {
		k.mv_data = (void *)(uintptr_t)key;
		k.mv_size = klen;
		store_log_corrupt(db, &k, "value does not decode");
		return stxn_fail(tx, STORE_CORRUPT);
	}
	return STORE_OK;
}

static void
owned_free(uint8_t *owned, size_t len)
{
	if (owned != NULL) {
		OPENSSL_cleanse(owned, len);
		free(owned);
	}
}

int
store_get_msg(struct stxn *tx, int db, const void *key, size_t klen,
    int must_exist, const ProtobufCMessageDescriptor *desc,
    ProtobufCMessage **out)
{
	const uint8_t *p;
	uint8_t *owned;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = store_get_frame(tx, db, key, klen, must_exist, 0, 0, &p,
	    &len, &owned)) != STORE_OK)
		return rc;
	rc = store_unpack(tx, db, key, klen, desc, p, len, out);
	owned_free(owned, len);
	return rc;
}

/*
 * Walks db from the first key >= start while keys begin with prefix, each
 * value checked before fn sees it (payload opened; valid during the call).
 * The entry before start and the first entry past the range are checked
 * too: a damaged key that no longer sorts where it belongs stops the scan
 * as damage, never as the end of the range.
 */
int
store_scan(struct stxn *tx, int db, const void *prefix, size_t plen,
    const void *start, size_t slen, store_scan_fn fn, void *arg)
{
	uint8_t kbuf[STORE_KEY_MAX];
	MDB_cursor *cur;
	MDB_val k, v, pk, pv;
	const uint8_t *p;
	uint8_t *owned;
	size_t len;
	int rc, mrc, have;

	if ((rc = stxn_readable(tx)) != STORE_OK)
		return rc;
	if (slen > sizeof(kbuf) || (slen == 0 && plen > 0))
		return STORE_ERR;
	if ((mrc = mdb_cursor_open(tx->sx_txn, tx->sx_store->st_dbi[db],
	    &cur)) != MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "cursor", db);
	if (slen > 0) {
		memcpy(kbuf, start, slen);
		k.mv_data = kbuf;
		k.mv_size = slen;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	} else
		mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) {
		rc = stxn_mdb_fail(tx, mrc, "cursor get", db);
		goto out;
	}
	have = mrc == MDB_SUCCESS;
	/* The entry before the start. */
	if (slen > 0) {
		mrc = mdb_cursor_get(cur, &pk, &pv, have ? MDB_PREV : MDB_LAST);
		if (mrc == MDB_SUCCESS) {
			if (store_key_cmp(pk.mv_data, pk.mv_size, start,
			    slen) >= 0) {
				store_log_corrupt(db, &pk, "keys out of order");
				rc = stxn_fail(tx, STORE_CORRUPT);
				goto out;
			}
			if ((rc = stxn_fail(tx, frame_verify(tx, db, &pk,
			    &pv))) != STORE_OK)
				goto out;
			if (have && (mrc = mdb_cursor_get(cur, &k, &v,
			    MDB_NEXT)) != MDB_SUCCESS) {
				rc = stxn_mdb_fail(tx, mrc == MDB_NOTFOUND ?
				    MDB_CORRUPTED : mrc, "cursor get", db);
				goto out;
			}
		} else if (mrc != MDB_NOTFOUND) {
			rc = stxn_mdb_fail(tx, mrc, "cursor get", db);
			goto out;
		}
	}
	rc = STORE_OK;
	while (have) {
		if (plen > 0 && (k.mv_size < plen ||
		    memcmp(k.mv_data, prefix, plen) != 0)) {
			/* The end of the range, if it is a whole entry past it. */
			if (store_key_cmp(k.mv_data, k.mv_size, prefix,
			    plen) < 0) {
				store_log_corrupt(db, &k, "keys out of order");
				rc = stxn_fail(tx, STORE_CORRUPT);
			} else
				rc = stxn_fail(tx, frame_verify(tx, db, &k, &v));
			break;
		}
		if ((rc = stxn_fail(tx, frame_open(tx, db, &k, &v, 0, 0, &p,
		    &len, &owned))) != STORE_OK)
			break;
		rc = fn(&k, p, len, arg);
		owned_free(owned, len);
		if (rc != 0) {
			rc = rc > 0 ? STORE_OK : stxn_fail(tx, rc);
			break;
		}
		mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		if (mrc == MDB_NOTFOUND)
			break;
		if (mrc != MDB_SUCCESS) {
			rc = stxn_mdb_fail(tx, mrc, "cursor get", db);
			break;
		}
	}
out:
	mdb_cursor_close(cur);
	return rc;
}

int
store_del_key(struct stxn *tx, int db, const void *key, size_t klen)
{
	uint8_t kbuf[STORE_KEY_MAX];
	MDB_val k;
	int rc, mrc;

	if ((rc = stxn_writable(tx)) != STORE_OK)
		return rc;
	if (klen == 0 || klen > sizeof(kbuf))
		return STORE_ERR;
	memcpy(kbuf, key, klen);
	k.mv_data = kbuf;
	k.mv_size = klen;
	if ((mrc = mdb_del(tx->sx_txn, tx->sx_store->st_dbi[db], &k, NULL)) !=
	    MDB_SUCCESS)
		return mrc == MDB_NOTFOUND ? STORE_NOTFOUND :
		    stxn_mdb_fail(tx, mrc, "del", db);
	if (tx->sx_store->st_wal != NULL && walbuf_add(&tx->sx_wal, WAL_DEL,
	    (unsigned)db, kbuf, klen, NULL, 0) == -1)
		return stxn_fail(tx, STORE_ERR);
	stxn_note_change(tx, db, kbuf, klen);
	return STORE_OK;
}

void
store_free_list(void **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (items[i] != NULL)
			protobuf_c_message_free_unpacked(items[i], NULL);
	free(items);
}

const char *
store_strerror(int rc)
{
	switch (rc) {
	case STORE_OK:
		return "ok";
	case STORE_NOTFOUND:
		return "not found";
	case STORE_ERR:
		return "storage error";
	case STORE_CORRUPT:
		return "stored data damaged (a value or key failed its check, "
		    "or a counted entry is missing)";
	case STORE_FULL:
		return "storage full (the store reached map_max)";
	case STORE_READONLY:
		return "storage is read-only";
	case STORE_TXN_FULL:
		return "write transaction too large (too many changed pages)";
	case STORE_READERS_FULL:
		return "too many concurrent readers (reader table full)";
	case STORE_DISK_FULL:
		return "disk full (no space left on the file system)";
	case STORE_NOKEY:
		return "no data key to seal or open this value";
	default:
		return "unknown storage error";
	}
}

/* ----------------------------------------------------------------- meta */

int
store_meta_get(struct stxn *tx, const char *name, void *buf, size_t cap,
    size_t *len)
{
	const uint8_t *p;
	uint8_t *owned;
	size_t n, nlen;
	int rc;

	*len = 0;
	nlen = name != NULL ? strnlen(name, STORE_META_NAME_MAX + 1) : 0;
	if (nlen == 0 || nlen > STORE_META_NAME_MAX)
		return STORE_ERR;
	if ((rc = store_get_frame(tx, DB_META, name, nlen, 0, 0, 0, &p, &n,
	    &owned)) != STORE_OK)
		return rc;
	*len = n;
	if (n > cap) {
		log_warnx("store: meta %s: %zu bytes, room for %zu", name, n,
		    cap);
		return STORE_ERR;
	}
	if (n > 0)
		memcpy(buf, p, n);
	return STORE_OK;
}

int
store_meta_put(struct stxn *tx, const char *name, const void *buf,
    size_t len)
{
	size_t nlen;

	nlen = name != NULL ? strnlen(name, STORE_META_NAME_MAX + 1) : 0;
	if (nlen == 0 || nlen > STORE_META_NAME_MAX)
		return STORE_ERR;
	return store_put_frame(tx, DB_META, name, nlen, NULL, buf, len, 0,
	    NULL);
}

int
store_meta_get_u64(struct stxn *tx, const char *name, uint64_t *v)
{
	uint8_t buf[8];
	size_t len;
	int rc;

	*v = 0;
	rc = store_meta_get(tx, name, buf, sizeof(buf), &len);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	if (len != sizeof(buf)) {
		log_warnx("store: meta %s: %zu bytes, wants 8", name, len);
		return stxn_fail(tx, STORE_CORRUPT);
	}
	*v = util_be64_get(buf);
	return STORE_OK;
}

int
store_meta_put_u64(struct stxn *tx, const char *name, uint64_t v)
{
	uint8_t buf[8];

	util_be64_put(buf, v);
	return store_meta_put(tx, name, buf, sizeof(buf));
}

/* ---------------------------------------------------------- households */

void
store_hh_free(EpsHousehold *h)
{
	if (h != NULL)
		protobuf_c_message_free_unpacked(&h->base, NULL);
}

void
store_delta_free(EpsDelta *d)
{
	if (d != NULL)
		protobuf_c_message_free_unpacked(&d->base, NULL);
}

static void
hh_stamp_of(const MDB_val *v, struct store_stamp *s)
{
	const uint8_t *p = v->mv_data;
	uint32_t n = (uint32_t)v->mv_size;

	memset(s, 0, sizeof(*s));
	if (!store_dbs[DB_HH].sd_sealed || v->mv_size < SEAL_OVERHEAD ||
	    v->mv_size > UINT32_MAX)
		return;
	s->ss_b[0] = (uint8_t)(n >> 24);
	s->ss_b[1] = (uint8_t)(n >> 16);
	s->ss_b[2] = (uint8_t)(n >> 8);
	s->ss_b[3] = (uint8_t)n;
	memcpy(s->ss_b + 4, p, SEAL_HDR_LEN);
	memcpy(s->ss_b + 4 + SEAL_HDR_LEN, p + v->mv_size - SEAL_TAG_LEN,
	    SEAL_TAG_LEN);
	s->ss_set = 1;
}

int
store_stamp_equal(const struct store_stamp *a, const struct store_stamp *b)
{
	return a->ss_set && b->ss_set &&
	    CRYPTO_memcmp(a->ss_b, b->ss_b, sizeof(a->ss_b)) == 0;
}

int
store_hh_stamp(struct stxn *tx, const char *hhid, struct store_stamp *s)
{
	uint8_t key[STORE_HHID_LEN];
	MDB_val k, v;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = stxn_readable(tx)) != STORE_OK)
		return rc;
	if (store_hhid(hhid, key) != 0)
		return STORE_NOTFOUND;
	k.mv_data = key;
	k.mv_size = sizeof(key);
	if ((rc = store_lookup(tx, DB_HH, &k, &v, 0)) != STORE_OK)
		return rc;
	hh_stamp_of(&v, s);
	return STORE_OK;
}

int
store_hh_get(struct stxn *tx, const char *hhid, EpsHousehold **out)
{
	return store_hh_get_stamped(tx, hhid, out, NULL);
}

int
store_hh_get_stamped(struct stxn *tx, const char *hhid, EpsHousehold **out,
    struct store_stamp *stamp)
{
	uint8_t key[STORE_HHID_LEN];
	ProtobufCMessage *m;
	const uint8_t *p;
	uint8_t *owned;
	MDB_val v;
	size_t len;
	int rc;

	*out = NULL;
	if (stamp != NULL)
		memset(stamp, 0, sizeof(*stamp));
	if (store_hhid(hhid, key) != 0)
		return STORE_NOTFOUND;
	if ((rc = store_get_frame_raw(tx, DB_HH, key, sizeof(key), 0, 0, 0, &p,
	    &len, &owned, &v)) != STORE_OK)
		return rc;
	rc = store_unpack(tx, DB_HH, key, sizeof(key),
	    &eenplan__store__household__descriptor, p, len, &m);
	owned_free(owned, len);
	if (rc != STORE_OK)
		return rc;
	if (stamp != NULL)
		hh_stamp_of(&v, stamp);
	*out = (EpsHousehold *)m;
	if ((*out)->household_id == NULL ||
	    strcmp((*out)->household_id, hhid) != 0) {
		log_warnx("store: DATA LOSS in database hh: record %s names "
		    "household %s", hhid, (*out)->household_id);
		store_hh_free(*out);
		*out = NULL;
		return stxn_fail(tx, STORE_CORRUPT);
	}
	return STORE_OK;
}

int
store_hh_put(struct stxn *tx, const EpsHousehold *h)
{
	uint8_t key[STORE_HHID_LEN];

	if (h == NULL || store_hhid(h->household_id, key) != 0) {
		log_warnx("store: standing record without a household id");
		return STORE_ERR;
	}
	return store_put_frame(tx, DB_HH, key, sizeof(key), &h->base, NULL, 0,
	    0, NULL);
}

int
store_body_get(struct stxn *tx, const char *hhid, EpPlan **out)
{
	uint8_t key[STORE_HHID_LEN];
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	if (store_hhid(hhid, key) != 0)
		return STORE_ERR;
	atomic_fetch_add(&tx->sx_store->st_body_reads, 1);
	rc = store_get_msg(tx, DB_BODY, key, sizeof(key), 1,
	    &eenplan__v1__plan__descriptor, &m);
	if (rc == STORE_OK)
		*out = (EpPlan *)m;
	return rc;
}

int
store_body_open(struct stxn *tx, const char *hhid, size_t head, size_t tail,
    uint8_t **buf, size_t *len)
{
	uint8_t key[STORE_HHID_LEN];
	const uint8_t *p;
	int rc;

	*buf = NULL;
	*len = 0;
	if (store_hhid(hhid, key) != 0)
		return STORE_ERR;
	atomic_fetch_add(&tx->sx_store->st_body_reads, 1);
	rc = store_get_frame(tx, DB_BODY, key, sizeof(key), 1, head, tail, &p,
	    len, buf);
	if (rc == STORE_OK && *buf == NULL) {
		log_warnx("store: body of %s is not sealed", hhid);
		return stxn_fail(tx, STORE_CORRUPT);
	}
	return rc;
}

int
store_body_put(struct stxn *tx, const char *hhid, const uint8_t *plan,
    size_t len)
{
	uint8_t key[STORE_HHID_LEN];

	if (store_hhid(hhid, key) != 0)
		return STORE_ERR;
	return store_put_frame(tx, DB_BODY, key, sizeof(key), NULL, plan, len,
	    0, NULL);
}

int
store_delta_get(struct stxn *tx, const char *hhid, uint64_t version,
    EpsDelta **out)
{
	uint8_t key[STORE_HHID_LEN + 8];
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	if (key_hh_u64(key, hhid, version) != 0)
		return STORE_ERR;
	atomic_fetch_add(&tx->sx_store->st_delta_reads, 1);
	rc = store_get_msg(tx, DB_DELTA, key, sizeof(key), 1,
	    &eenplan__store__delta__descriptor, &m);
	if (rc != STORE_OK)
		return rc;
	*out = (EpsDelta *)m;
	if ((*out)->entry == NULL || (*out)->entry->version != version) {
		log_warnx("store: DATA LOSS in database delta: %s version "
		    "%llu holds another version", hhid,
		    (unsigned long long)version);
		store_delta_free(*out);
		*out = NULL;
		return stxn_fail(tx, STORE_CORRUPT);
	}
	return STORE_OK;
}

int
store_delta_put(struct stxn *tx, const char *hhid, const EpsDelta *d,
    size_t *bytes)
{
	uint8_t key[STORE_HHID_LEN + 8];

	if (d == NULL || d->entry == NULL || d->entry->version == 0 ||
	    key_hh_u64(key, hhid, d->entry->version) != 0) {
		log_warnx("store: delta without household id or version");
		return STORE_ERR;
	}
	return store_put_frame(tx, DB_DELTA, key, sizeof(key), &d->base, NULL,
	    0, 0, bytes);
}

int
store_snap_get(struct stxn *tx, const char *hhid, uint64_t version,
    EpPlan **out)
{
	uint8_t key[STORE_HHID_LEN + 8];
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	if (key_hh_u64(key, hhid, version) != 0)
		return STORE_ERR;
	rc = store_get_msg(tx, DB_SNAP, key, sizeof(key), 1,
	    &eenplan__v1__plan__descriptor, &m);
	if (rc == STORE_OK)
		*out = (EpPlan *)m;
	return rc;
}

int
store_snap_put(struct stxn *tx, const char *hhid, uint64_t version,
    const uint8_t *plan, size_t len)
{
	uint8_t key[STORE_HHID_LEN + 8];

	if (version == 0 || key_hh_u64(key, hhid, version) != 0)
		return STORE_ERR;
	return store_put_frame(tx, DB_SNAP, key, sizeof(key), NULL, plan, len,
	    0, NULL);
}

int
store_grant_get(struct stxn *tx, const char *hhid, uint64_t id, EpGrant **out)
{
	uint8_t key[STORE_HHID_LEN + 8];
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	if (key_hh_u64(key, hhid, id) != 0)
		return STORE_ERR;
	rc = store_get_msg(tx, DB_GRANTS, key, sizeof(key), 1,
	    &eenplan__v1__grant__descriptor, &m);
	if (rc != STORE_OK)
		return rc;
	*out = (EpGrant *)m;
	if ((*out)->id != id) {
		log_warnx("store: DATA LOSS in database grants: %s grant "
		    "%llu holds another grant", hhid, (unsigned long long)id);
		protobuf_c_message_free_unpacked(m, NULL);
		*out = NULL;
		return stxn_fail(tx, STORE_CORRUPT);
	}
	return STORE_OK;
}

int
store_grant_put(struct stxn *tx, const char *hhid, const EpGrant *g)
{
	uint8_t key[STORE_HHID_LEN + 8];

	if (g == NULL || g->id == 0 || key_hh_u64(key, hhid, g->id) != 0) {
		log_warnx("store: grant without household id or grant id");
		return STORE_ERR;
	}
	return store_put_frame(tx, DB_GRANTS, key, sizeof(key), &g->base,
	    NULL, 0, 0, NULL);
}

/* Deletes every entry of db whose key begins with the household's id. */
static int
purge_prefix(struct stxn *tx, int db, const uint8_t hh16[STORE_HHID_LEN])
{
	MDB_cursor *cur;
	MDB_val k, v;
	int mrc, rc = STORE_OK;

	if ((mrc = mdb_cursor_open(tx->sx_txn, tx->sx_store->st_dbi[db],
	    &cur)) != MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "cursor", db);
	k.mv_data = (void *)(uintptr_t)hh16;
	k.mv_size = STORE_HHID_LEN;
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (mrc == MDB_SUCCESS && k.mv_size >= STORE_HHID_LEN &&
	    memcmp(k.mv_data, hh16, STORE_HHID_LEN) == 0) {
		if ((mrc = mdb_cursor_del(cur, 0)) != MDB_SUCCESS)
			break;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
	}
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND && mrc != EINVAL)
		rc = stxn_mdb_fail(tx, mrc, "purge", db);
	mdb_cursor_close(cur);
	tx->sx_other = 1;
	if (rc == STORE_OK && tx->sx_store->st_wal != NULL &&
	    walbuf_add(&tx->sx_wal, WAL_DEL_PREFIX, (unsigned)db, hh16,
	    STORE_HHID_LEN, NULL, 0) == -1)
		rc = stxn_fail(tx, STORE_ERR);
	return rc;
}

int
store_hh_purge(struct stxn *tx, const char *hhid)
{
	static const int dbs[] = { DB_DELTA, DB_SNAP, DB_GRANTS, DB_CSTATE,
	    DB_SIGNALS, DB_BODY, DB_HH };
	uint8_t key[STORE_HHID_LEN];
	size_t i;
	int rc;

	if (store_hhid(hhid, key) != 0)
		return STORE_ERR;
	if ((rc = stxn_writable(tx)) != STORE_OK)
		return rc;
	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
		if ((rc = purge_prefix(tx, dbs[i], key)) != STORE_OK)
			return rc;
	return STORE_OK;
}

/* --------------------------------------------------- principals index */

/* ihash16 of (org, subject), then hh16 when hhid is given. 0 or -1. */
static int
index_key(struct stxn *tx, uint8_t *buf, const char *org, const char *subject,
    const char *hhid)
{
	const struct seal_key *ik = keyring_index(tx->sx_store->st_keys);

	if (key_str_len(org) == 0 || subject == NULL ||
	    strnlen(subject, STORE_ID_MAX + 1) > STORE_ID_MAX)
		return -1;
	if (seal_index_hash(ik, org, subject, buf) != 0)
		return -1;
	if (hhid != NULL && store_hhid(hhid, buf + SEAL_INDEX_LEN) != 0)
		return -1;
	return 0;
}

int
store_index_put(struct stxn *tx, const char *org, const char *subject,
    const char *hhid)
{
	uint8_t key[SEAL_INDEX_LEN + STORE_HHID_LEN];

	if (index_key(tx, key, org, subject, hhid) != 0) {
		log_warnx("store: index entry without org or household id");
		return STORE_ERR;
	}
	return store_put_frame(tx, DB_PIDX, key, sizeof(key), NULL, NULL, 0, 0,
	    NULL);
}

int
store_index_del(struct stxn *tx, const char *org, const char *subject,
    const char *hhid)
{
	uint8_t key[SEAL_INDEX_LEN + STORE_HHID_LEN];
	int rc;

	if (index_key(tx, key, org, subject, hhid) != 0)
		return STORE_ERR;
	rc = store_del_key(tx, DB_PIDX, key, sizeof(key));
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

struct index_arg {
	const uint8_t	 *ia_skip;	/* the after key itself */
	int		(*ia_cb)(const char *, void *);
	void		 *ia_arg;
};

static int
index_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct index_arg *ia = arg;
	char hhid[2 * STORE_HHID_LEN + 1];

	(void)p;
	(void)len;
	if (key->mv_size != SEAL_INDEX_LEN + STORE_HHID_LEN) {
		store_log_corrupt(DB_PIDX, key, "malformed index key");
		return STORE_CORRUPT;
	}
	if (ia->ia_skip != NULL && memcmp(key->mv_data, ia->ia_skip,
	    key->mv_size) == 0)
		return 0;
	util_hex((const uint8_t *)key->mv_data + SEAL_INDEX_LEN,
	    STORE_HHID_LEN, hhid);
	return ia->ia_cb(hhid, ia->ia_arg) != 0 ? 1 : 0;
}

int
store_index_scan(struct stxn *tx, const char *org, const char *subject,
    const char *after_hhid, int (*cb)(const char *hhid, void *), void *arg)
{
	uint8_t key[SEAL_INDEX_LEN + STORE_HHID_LEN];
	struct index_arg ia;
	size_t slen = SEAL_INDEX_LEN;

	if (cb == NULL || index_key(tx, key, org, subject, NULL) != 0)
		return STORE_ERR;
	memset(&ia, 0, sizeof(ia));
	ia.ia_cb = cb;
	ia.ia_arg = arg;
	if (after_hhid != NULL && after_hhid[0] != '\0') {
		if (store_hhid(after_hhid, key + SEAL_INDEX_LEN) != 0)
			return STORE_ERR;
		ia.ia_skip = key;
		slen = sizeof(key);
	}
	return store_scan(tx, DB_PIDX, key, SEAL_INDEX_LEN, key, slen,
	    index_one, &ia);
}

/* ------------------------------------------------------- change feed */

int
store_change_append(struct stxn *tx, EpsFeedEvent *fe)
{
	uint8_t key[8];
	uint64_t seq;
	int rc;

	if (fe == NULL || fe->event == NULL)
		return STORE_ERR;
	if ((rc = stxn_writable(tx)) != STORE_OK)
		return rc;
	if ((rc = store_meta_get_u64(tx, "change_seq", &seq)) != STORE_OK)
		return rc;
	if (seq == UINT64_MAX)
		return stxn_fail(tx, STORE_FULL);
	fe->event->seq = seq + 1;
	util_be64_put(key, fe->event->seq);
	if ((rc = store_put_frame(tx, DB_FEED, key, 8, &fe->base, NULL, 0,
	    MDB_NOOVERWRITE, NULL)) != STORE_OK)
		return rc;
	tx->sx_events++;
	return store_meta_put(tx, "change_seq", key, 8);
}

int
store_change_last(struct stxn *tx, uint64_t *seq)
{
	return store_meta_get_u64(tx, "change_seq", seq);
}

struct change_arg {
	struct stxn	 *cha_tx;
	uint64_t	  cha_next;	/* the seq the next event must have */
	int		  cha_stopped;
	int		(*cha_cb)(const EpsFeedEvent *, void *);
	void		 *cha_arg;
};

static int
change_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct change_arg *cha = arg;
	EpsFeedEvent *fe;
	ProtobufCMessage *m;
	int rc, stop;

	if (key->mv_size != 8) {
		store_log_corrupt(DB_FEED, key, "key is not a sequence number");
		return STORE_CORRUPT;
	}
	/* The feed has no gaps: one missing is damage, not the end. */
	if (util_be64_get(key->mv_data) != cha->cha_next) {
		store_log_corrupt(DB_FEED, key, "sequence gap before this event");
		return STORE_CORRUPT;
	}
	if ((rc = store_unpack(cha->cha_tx, DB_FEED, key->mv_data,
	    key->mv_size, &eenplan__store__feed_event__descriptor, p, len,
	    &m)) != STORE_OK)
		return rc;
	fe = (EpsFeedEvent *)m;
	if (fe->event == NULL || fe->event->seq != cha->cha_next) {
		store_log_corrupt(DB_FEED, key, "event holds another seq");
		protobuf_c_message_free_unpacked(m, NULL);
		return STORE_CORRUPT;
	}
	cha->cha_next++;
	stop = cha->cha_cb(fe, cha->cha_arg);
	protobuf_c_message_free_unpacked(m, NULL);
	if (stop != 0)
		cha->cha_stopped = 1;
	return stop != 0 ? 1 : 0;
}

int
store_change_scan(struct stxn *tx, uint64_t after,
    int (*cb)(const EpsFeedEvent *, void *), void *arg)
{
	struct change_arg cha;
	uint64_t last;
	uint8_t key[8];
	int rc;

	if (cb == NULL)
		return STORE_ERR;
	if ((rc = store_meta_get_u64(tx, "change_seq", &last)) != STORE_OK)
		return rc;
	if (after >= last)
		return STORE_OK;
	memset(&cha, 0, sizeof(cha));
	cha.cha_tx = tx;
	cha.cha_next = after + 1;
	cha.cha_cb = cb;
	cha.cha_arg = arg;
	util_be64_put(key, after + 1);
	rc = store_scan(tx, DB_FEED, NULL, 0, key, 8, change_one, &cha);
	/* Events up to change_seq exist: one short is damage, not the end. */
	if (rc == STORE_OK && !cha.cha_stopped && cha.cha_next <= last) {
		log_warnx("store: DATA LOSS in database feed: events %llu..%llu "
		    "missing", (unsigned long long)cha.cha_next,
		    (unsigned long long)last);
		return stxn_fail(tx, STORE_CORRUPT);
	}
	return rc;
}

/* ------------------------------------------------------ consent states */

int
store_cstate_put(struct stxn *tx, const char *hhid, uint64_t gen,
    const EpsHousehold *h)
{
	uint8_t key[STORE_HHID_LEN + 8];

	if (gen == 0 || key_hh_u64(key, hhid, gen) != 0)
		return STORE_ERR;
	return store_put_frame(tx, DB_CSTATE, key, sizeof(key), &h->base, NULL,
	    0, 0, NULL);
}

int
store_cstate_del(struct stxn *tx, const char *hhid, uint64_t gen)
{
	uint8_t key[STORE_HHID_LEN + 8];

	if (gen == 0 || key_hh_u64(key, hhid, gen) != 0)
		return STORE_ERR;
	return store_del_key(tx, DB_CSTATE, key, sizeof(key));
}

int
store_cstate_get(struct stxn *tx, const char *hhid, uint64_t gen,
    EpsHousehold **out)
{
	uint8_t key[STORE_HHID_LEN + 8];
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	if (key_hh_u64(key, hhid, gen) != 0)
		return STORE_ERR;
	rc = store_get_msg(tx, DB_CSTATE, key, sizeof(key), 1,
	    &eenplan__store__household__descriptor, &m);
	if (rc == STORE_OK)
		*out = (EpsHousehold *)m;
	return rc;
}

/* -------------------------------------------------------------- expiry */

/* until | hh16 | grant id (40 bytes). */
static int
key_expiry(uint8_t *buf, int64_t until, const char *hhid, uint64_t id)
{
	util_be64_put(buf, (uint64_t)until);
	if (store_hhid(hhid, buf + 8) != 0)
		return -1;
	util_be64_put(buf + 8 + STORE_HHID_LEN, id);
	return 0;
}

int
store_expiry_put(struct stxn *tx, int64_t until, const char *hhid,
    uint64_t id)
{
	uint8_t key[16 + STORE_HHID_LEN];

	if (until <= 0 || key_expiry(key, until, hhid, id) != 0)
		return STORE_ERR;
	return store_put_frame(tx, DB_EXPIRY, key, sizeof(key), NULL, NULL, 0,
	    0, NULL);
}

int
store_expiry_del(struct stxn *tx, int64_t until, const char *hhid,
    uint64_t id)
{
	uint8_t key[16 + STORE_HHID_LEN];
	int rc;

	if (until <= 0 || key_expiry(key, until, hhid, id) != 0)
		return STORE_ERR;
	rc = store_del_key(tx, DB_EXPIRY, key, sizeof(key));
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

struct expiry_arg {
	int64_t		  ex_now;
	int		(*ex_cb)(int64_t, const char *, uint64_t, void *);
	void		 *ex_arg;
};

static int
expiry_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct expiry_arg *ex = arg;
	const uint8_t *k = key->mv_data;
	char hhid[2 * STORE_HHID_LEN + 1];
	int64_t until;

	(void)p;
	(void)len;
	if (key->mv_size != 16 + STORE_HHID_LEN) {
		store_log_corrupt(DB_EXPIRY, key, "malformed key");
		return STORE_CORRUPT;
	}
	until = (int64_t)util_be64_get(k);
	if (until > ex->ex_now)
		return 1;
	util_hex(k + 8, STORE_HHID_LEN, hhid);
	return ex->ex_cb(until, hhid, util_be64_get(k + 8 + STORE_HHID_LEN),
	    ex->ex_arg) != 0 ? 1 : 0;
}

int
store_expiry_due(struct stxn *tx, int64_t now,
    int (*cb)(int64_t until, const char *hhid, uint64_t id, void *), void *arg)
{
	struct expiry_arg ex;

	ex.ex_now = now;
	ex.ex_cb = cb;
	ex.ex_arg = arg;
	return store_scan(tx, DB_EXPIRY, NULL, 0, NULL, 0, expiry_one, &ex);
}

/* ------------------------------------------------------------- signals */

int
store_signal_put(struct stxn *tx, const EpSignal *sg)
{
	uint8_t key[STORE_HHID_LEN + 8];

	if (sg == NULL || sg->id == 0 ||
	    key_hh_u64(key, sg->household_id, sg->id) != 0)
		return STORE_ERR;
	return store_put_frame(tx, DB_SIGNALS, key, sizeof(key), &sg->base,
	    NULL, 0, 0, NULL);
}

/* Put and take out again: a put's work and dirty pages, nothing kept. */
static int
store_put_undo(struct stxn *tx, int db, const void *key, size_t klen,
    const ProtobufCMessage *msg)
{
	int rc;

	if ((rc = store_put_frame(tx, db, key, klen, msg, NULL, 0,
	    MDB_NOOVERWRITE, NULL)) != STORE_OK)
		return rc;
	rc = store_del_key(tx, db, key, klen);
	return rc == STORE_NOTFOUND ? stxn_fail(tx, STORE_ERR) : rc;
}

int
store_signal_decoy(struct stxn *tx, const EpsHousehold *rec,
    const EpSignal *sg, EpsFeedEvent *fe)
{
	uint8_t skey[STORE_HHID_LEN + 8], hkey[STORE_HHID_LEN], fkey[8];
	uint64_t seq;
	int rc;

	if (sg == NULL || sg->id == 0 || rec == NULL || fe == NULL ||
	    fe->event == NULL ||
	    key_hh_u64(skey, sg->household_id, sg->id) != 0 ||
	    store_hhid(rec->household_id, hkey) != 0)
		return STORE_ERR;
	if ((rc = store_put_undo(tx, DB_SIGNALS, skey, sizeof(skey),
	    &sg->base)) != STORE_OK ||
	    (rc = store_put_undo(tx, DB_HH, hkey, sizeof(hkey),
	    &rec->base)) != STORE_OK ||
	    (rc = store_meta_get_u64(tx, "change_seq", &seq)) != STORE_OK)
		return rc;
	if (seq == UINT64_MAX)
		return STORE_OK;
	fe->event->seq = seq + 1;
	util_be64_put(fkey, fe->event->seq);
	if ((rc = store_put_undo(tx, DB_FEED, fkey, sizeof(fkey),
	    &fe->base)) != STORE_OK)
		return rc;
	/* The counter written as the real event writes it, unchanged. */
	util_be64_put(fkey, seq);
	return store_meta_put(tx, "change_seq", fkey, sizeof(fkey));
}

int
store_signal_get(struct stxn *tx, const char *hhid, uint64_t id,
    EpSignal **out)
{
	uint8_t key[STORE_HHID_LEN + 8];
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	if (key_hh_u64(key, hhid, id) != 0)
		return STORE_ERR;
	rc = store_get_msg(tx, DB_SIGNALS, key, sizeof(key), 1,
	    &eenplan__v1__signal__descriptor, &m);
	if (rc == STORE_OK)
		*out = (EpSignal *)m;
	return rc;
}

/*
 * sent_hh: hh16 | receipt | ihash16 (the sender copy's key turned round),
 * an empty CRC frame. The household comes first, so the retention purge
 * finds every copy sent about it.
 */
#define SENT_HH_KEY_LEN		(STORE_HHID_LEN + 8 + SEAL_INDEX_LEN)
#define SENT_HH_BATCH		1024	/* copies indexed per txn */

static void
key_sent_hh(uint8_t *buf, const uint8_t hh16[STORE_HHID_LEN],
    const uint8_t *sent_key)
{
	memcpy(buf, hh16, STORE_HHID_LEN);
	memcpy(buf + STORE_HHID_LEN, sent_key + SEAL_INDEX_LEN, 8);
	memcpy(buf + STORE_HHID_LEN + 8, sent_key, SEAL_INDEX_LEN);
}

int
store_sent_put(struct stxn *tx, const char *org, const char *subject,
    uint64_t seq, const EpSignal *sg)
{
	uint8_t key[SEAL_INDEX_LEN + 8], hh[STORE_HHID_LEN];
	uint8_t hkey[SENT_HH_KEY_LEN];
	int rc;

	if (sg == NULL || index_key(tx, key, org, subject, NULL) != 0 ||
	    store_hhid(sg->household_id, hh) != 0)
		return STORE_ERR;
	util_be64_put(key + SEAL_INDEX_LEN, seq);
	key_sent_hh(hkey, hh, key);
	if ((rc = store_put_frame(tx, DB_SENT, key, sizeof(key), &sg->base,
	    NULL, 0, MDB_NOOVERWRITE, NULL)) != STORE_OK)
		return rc;
	return store_put_frame(tx, DB_SENT_HH, hkey, sizeof(hkey), NULL, NULL,
	    0, MDB_NOOVERWRITE, NULL);
}

struct sent_arg {
	struct stxn	 *se_tx;
	int		(*se_cb)(uint64_t, const EpSignal *, void *);
	void		 *se_arg;
};

static int
sent_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct sent_arg *se = arg;
	ProtobufCMessage *m;
	int rc, stop;

	if (key->mv_size != SEAL_INDEX_LEN + 8) {
		store_log_corrupt(DB_SENT, key, "malformed key");
		return STORE_CORRUPT;
	}
	if ((rc = store_unpack(se->se_tx, DB_SENT, key->mv_data, key->mv_size,
	    &eenplan__v1__signal__descriptor, p, len, &m)) != STORE_OK)
		return rc;
	stop = se->se_cb(util_be64_get((const uint8_t *)key->mv_data +
	    SEAL_INDEX_LEN), (EpSignal *)m, se->se_arg);
	protobuf_c_message_free_unpacked(m, NULL);
	return stop != 0 ? 1 : 0;
}

int
store_sent_scan(struct stxn *tx, const char *org, const char *subject,
    uint64_t after, int (*cb)(uint64_t seq, const EpSignal *, void *),
    void *arg)
{
	uint8_t key[SEAL_INDEX_LEN + 8];
	struct sent_arg se;

	if (cb == NULL || after == UINT64_MAX ||
	    index_key(tx, key, org, subject, NULL) != 0)
		return STORE_ERR;
	util_be64_put(key + SEAL_INDEX_LEN, after + 1);
	se.se_tx = tx;
	se.se_cb = cb;
	se.se_arg = arg;
	return store_scan(tx, DB_SENT, key, SEAL_INDEX_LEN, key, sizeof(key),
	    sent_one, &se);
}

/* STORE_OK when sent_hh holds every sender copy; STORE_NOTFOUND: not (yet). */
static int
sent_hh_ready(struct stxn *tx)
{
	uint64_t built;
	int rc;

	/* A read-only open of a store no read-write open has upgraded. */
	if (tx->sx_store->st_dbi[DB_SENT_HH] == 0)
		return STORE_NOTFOUND;
	if ((rc = store_meta_get_u64(tx, SENT_HH_META, &built)) != STORE_OK)
		return rc;
	return built == 1 ? STORE_OK : STORE_NOTFOUND;
}

struct sent_hh_arg {
	uint8_t		(*sh_keys)[SENT_HH_KEY_LEN];	/* sh_collect: each key */
	size_t		  sh_n;
	size_t		  sh_cap;
	int		  sh_collect;
};

static int
sent_hh_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct sent_hh_arg *sh = arg;
	uint8_t (*v)[SENT_HH_KEY_LEN];
	size_t cap;

	(void)p;
	if (key->mv_size != SENT_HH_KEY_LEN || len != 0) {
		store_log_corrupt(DB_SENT_HH, key, "malformed index entry");
		return STORE_CORRUPT;
	}
	if (sh->sh_collect && sh->sh_n == sh->sh_cap) {
		cap = sh->sh_cap > 0 ? 2 * sh->sh_cap : 16;
		if ((v = reallocarray(sh->sh_keys, cap, sizeof(*v))) == NULL)
			return STORE_ERR;
		sh->sh_keys = v;
		sh->sh_cap = cap;
	}
	if (sh->sh_collect)
		memcpy(sh->sh_keys[sh->sh_n], key->mv_data, SENT_HH_KEY_LEN);
	sh->sh_n++;
	return 0;
}

int
store_sent_count(struct stxn *tx, const char *hhid, uint64_t *n)
{
	uint8_t hh[STORE_HHID_LEN];
	struct sent_hh_arg sh;
	int rc;

	*n = 0;
	if (store_hhid(hhid, hh) != 0)
		return STORE_ERR;
	if ((rc = stxn_readable(tx)) != STORE_OK ||
	    (rc = sent_hh_ready(tx)) != STORE_OK)
		return rc;
	memset(&sh, 0, sizeof(sh));
	if ((rc = store_scan(tx, DB_SENT_HH, hh, sizeof(hh), hh, sizeof(hh),
	    sent_hh_one, &sh)) == STORE_OK)
		*n = sh.sh_n;
	return rc;
}

/* The copy an index entry points at: there, and about hhid. */
static int
sent_check(struct stxn *tx, const uint8_t *skey, size_t klen,
    const char *hhid)
{
	ProtobufCMessage *m;
	EpSignal *sg;
	MDB_val k;
	int rc;

	if ((rc = store_get_msg(tx, DB_SENT, skey, klen, 1,
	    &eenplan__v1__signal__descriptor, &m)) != STORE_OK)
		return rc;
	sg = (EpSignal *)m;
	if (sg->household_id == NULL || strcmp(sg->household_id, hhid) != 0) {
		k.mv_data = (void *)(uintptr_t)skey;
		k.mv_size = klen;
		store_log_corrupt(DB_SENT, &k, "the copy is about another "
		    "household than its sent_hh entry says");
		rc = stxn_fail(tx, STORE_CORRUPT);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

int
store_sent_purge(struct stxn *tx, const char *hhid, uint64_t *removed)
{
	uint8_t hh[STORE_HHID_LEN], skey[SEAL_INDEX_LEN + 8];
	struct sent_hh_arg sh;
	const uint8_t *k;
	size_t i;
	int rc;

	*removed = 0;
	if (store_hhid(hhid, hh) != 0)
		return STORE_ERR;
	if ((rc = stxn_writable(tx)) != STORE_OK)
		return rc;
	/* Without the whole index some copies would stay: refused. */
	if ((rc = sent_hh_ready(tx)) == STORE_NOTFOUND) {
		log_warnx("store: the sender copies of signals are not all "
		    "indexed by household (the index is built at a read-write "
		    "open: see its warning): not purging %s without them",
		    hhid);
		rc = STORE_ERR;
	}
	if (rc != STORE_OK)
		return stxn_fail(tx, rc);
	memset(&sh, 0, sizeof(sh));
	sh.sh_collect = 1;
	rc = store_scan(tx, DB_SENT_HH, hh, sizeof(hh), hh, sizeof(hh),
	    sent_hh_one, &sh);
	for (i = 0; rc == STORE_OK && i < sh.sh_n; i++) {
		k = sh.sh_keys[i];
		memcpy(skey, k + STORE_HHID_LEN + 8, SEAL_INDEX_LEN);
		memcpy(skey + SEAL_INDEX_LEN, k + STORE_HHID_LEN, 8);
		if ((rc = sent_check(tx, skey, sizeof(skey), hhid)) !=
		    STORE_OK ||
		    (rc = store_del_key(tx, DB_SENT, skey, sizeof(skey))) !=
		    STORE_OK ||
		    (rc = store_del_key(tx, DB_SENT_HH, k, SENT_HH_KEY_LEN)) !=
		    STORE_OK)
			break;
	}
	free(sh.sh_keys);
	/* Both were just read: a miss now is no miss to forgive. */
	if (rc == STORE_NOTFOUND)
		rc = stxn_fail(tx, STORE_ERR);
	if (rc == STORE_OK)
		*removed = sh.sh_n;
	return rc;
}

/* ------------------------------- sent_hh for copies made before it */

struct sent_build {
	struct stxn	*sb_tx;
	uint8_t		 sb_pos[SEAL_INDEX_LEN + 8];	/* the last copy done */
	int		 sb_have_pos;
	int		 sb_stopped;	/* the txn's batch is full */
	unsigned	 sb_batch;
	unsigned	 sb_n;		/* copies in this txn */
	uint64_t	 sb_total;
};

static int
sent_build_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct sent_build *sb = arg;
	uint8_t hh[STORE_HHID_LEN], hkey[SENT_HH_KEY_LEN];
	ProtobufCMessage *m;
	EpSignal *sg;
	char hex[2 * (SEAL_INDEX_LEN + 8) + 1];
	int rc = STORE_OK;

	if (key->mv_size != sizeof(sb->sb_pos)) {
		store_log_corrupt(DB_SENT, key, "malformed key");
		return STORE_CORRUPT;
	}
	/* Resumed: the scan starts at the copy done last. */
	if (sb->sb_have_pos && memcmp(key->mv_data, sb->sb_pos,
	    sizeof(sb->sb_pos)) == 0)
		return 0;
	if (sb->sb_n == sb->sb_batch) {
		sb->sb_stopped = 1;
		return 1;
	}
	if ((rc = store_unpack(sb->sb_tx, DB_SENT, key->mv_data, key->mv_size,
	    &eenplan__v1__signal__descriptor, p, len, &m)) != STORE_OK)
		return rc;
	sg = (EpSignal *)m;
	if (store_hhid(sg->household_id, hh) == 0) {
		key_sent_hh(hkey, hh, key->mv_data);
		/* Not NOOVERWRITE: a run cut off, or a send since, may have it. */
		rc = store_put_frame(sb->sb_tx, DB_SENT_HH, hkey, sizeof(hkey),
		    NULL, NULL, 0, 0, NULL);
	} else {
		util_hex(key->mv_data, key->mv_size, hex);
		log_warnx("store: sent %s names no household: not indexed",
		    hex);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	if (rc != STORE_OK)
		return rc;
	memcpy(sb->sb_pos, key->mv_data, sizeof(sb->sb_pos));
	sb->sb_have_pos = 1;
	sb->sb_n++;
	sb->sb_total++;
	return 0;
}

/* One txn of the build: 1 when more remain, 0 when done, < 0 an error. */
static int
sent_build_step(struct store *st, struct sent_build *sb)
{
	struct stxn *tx;
	size_t len;
	int rc;

	if ((rc = store_write_begin(st, &tx)) != STORE_OK)
		return rc;
	sb->sb_tx = tx;
	sb->sb_n = 0;
	sb->sb_stopped = 0;
	rc = store_meta_get(tx, SENT_HH_POS_META, sb->sb_pos,
	    sizeof(sb->sb_pos), &len);
	if (rc == STORE_OK && len != sizeof(sb->sb_pos)) {
		log_warnx("store: meta %s: %zu bytes", SENT_HH_POS_META, len);
		rc = stxn_fail(tx, STORE_CORRUPT);
	}
	sb->sb_have_pos = rc == STORE_OK;
	if (rc == STORE_NOTFOUND)
		rc = STORE_OK;
	if (rc == STORE_OK)
		rc = store_scan(tx, DB_SENT, NULL, 0, sb->sb_pos,
		    sb->sb_have_pos ? sizeof(sb->sb_pos) : 0, sent_build_one,
		    sb);
	if (rc == STORE_OK && sb->sb_stopped)
		rc = store_meta_put(tx, SENT_HH_POS_META, sb->sb_pos,
		    sizeof(sb->sb_pos));
	else if (rc == STORE_OK &&
	    (rc = store_meta_put_u64(tx, SENT_HH_META, 1)) == STORE_OK &&
	    (rc = store_del_key(tx, DB_META, SENT_HH_POS_META,
	    strlen(SENT_HH_POS_META))) == STORE_NOTFOUND)
		rc = STORE_OK;
	if (rc != STORE_OK) {
		store_abort(tx);
		return rc;
	}
	if ((rc = store_commit(tx)) != STORE_OK)
		return rc;
	return sb->sb_stopped ? 1 : 0;
}

int
store_sent_index(struct store *st, unsigned batch)
{
	struct sent_build sb;
	struct stxn *rd;
	uint64_t built = 0;
	int rc;

	if ((rd = store_reader_new(st)) == NULL)
		return STORE_ERR;
	if ((rc = store_reader_begin(rd)) == STORE_OK) {
		rc = store_meta_get_u64(rd, SENT_HH_META, &built);
		store_reader_end(rd);
	}
	store_reader_free(rd);
	if (rc != STORE_OK || built == 1)
		return rc;
	memset(&sb, 0, sizeof(sb));
	sb.sb_batch = batch > 0 ? batch : SENT_HH_BATCH;
	log_info("store: indexing the senders' copies of signals by household "
	    "(once, for copies made before this version)");
	while ((rc = sent_build_step(st, &sb)) == 1)
		;
	if (rc != STORE_OK)
		return rc;
	log_info("store: %llu senders' copies of signals indexed by household",
	    (unsigned long long)sb.sb_total);
	return STORE_OK;
}

/* -------------------------------------------------------------- people */

int
store_person_get(struct stxn *tx, const char *org, const char *subject,
    EpPrincipal **out)
{
	uint8_t key[SEAL_INDEX_LEN];
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	if (index_key(tx, key, org, subject, NULL) != 0)
		return STORE_ERR;
	rc = store_get_msg(tx, DB_PEOPLE, key, sizeof(key), 0,
	    &eenplan__v1__principal__descriptor, &m);
	if (rc != STORE_OK)
		return rc;
	*out = (EpPrincipal *)m;
	if ((*out)->org == NULL || strcmp((*out)->org, org) != 0 ||
	    (*out)->subject == NULL || strcmp((*out)->subject, subject) != 0) {
		log_warnx("store: DATA LOSS in database people: the entry of "
		    "%s/%s names another", org, subject);
		protobuf_c_message_free_unpacked(m, NULL);
		*out = NULL;
		return stxn_fail(tx, STORE_CORRUPT);
	}
	return STORE_OK;
}

int
store_person_put(struct stxn *tx, const EpPrincipal *p)
{
	uint8_t key[SEAL_INDEX_LEN];

	if (p == NULL || index_key(tx, key, p->org, p->subject, NULL) != 0)
		return STORE_ERR;
	return store_put_frame(tx, DB_PEOPLE, key, sizeof(key), &p->base, NULL,
	    0, 0, NULL);
}

/* ------------------------------------------------------ raw (tests) */

static int
store_db_lookup(const struct stxn *tx, const char *name)
{
	int i;

	for (i = 0; name != NULL && i < DB_COUNT; i++)
		if (strcmp(name, store_dbs[i].sd_name) == 0)
			/* The index's databases are not in the store's env. */
			return store_dbs[i].sd_index &&
			    !tx->sx_store->st_is_index ? -1 : i;
	return -1;
}

int
store_raw_put(struct stxn *tx, const char *db, const void *key,
    size_t keylen, const void *payload, size_t len)
{
	int d;

	if ((d = store_db_lookup(tx, db)) == -1)
		return STORE_ERR;
	return store_put_frame(tx, d, key, keylen, NULL, payload, len, 0,
	    NULL);
}

int
store_raw_del(struct stxn *tx, const char *db, const void *key,
    size_t keylen)
{
	int d;

	if ((d = store_db_lookup(tx, db)) == -1)
		return STORE_ERR;
	return store_del_key(tx, d, key, keylen);
}

int
store_raw_get(struct stxn *tx, const char *db, const void *key,
    size_t keylen, uint8_t **val, size_t *len)
{
	uint8_t kbuf[STORE_KEY_MAX];
	MDB_val k, v;
	int d, mrc, rc;

	*val = NULL;
	*len = 0;
	if ((d = store_db_lookup(tx, db)) == -1 || keylen == 0 ||
	    keylen > sizeof(kbuf))
		return STORE_ERR;
	if ((rc = stxn_readable(tx)) != STORE_OK)
		return rc;
	memcpy(kbuf, key, keylen);
	k.mv_data = kbuf;
	k.mv_size = keylen;
	if ((mrc = mdb_get(tx->sx_txn, tx->sx_store->st_dbi[d], &k, &v)) !=
	    MDB_SUCCESS)
		return store_map_rc(mrc);
	if ((*val = malloc(v.mv_size ? v.mv_size : 1)) == NULL)
		return STORE_ERR;
	memcpy(*val, v.mv_data, v.mv_size);
	*len = v.mv_size;
	return STORE_OK;
}

/* --------------------------------------------- for the retention purge */

struct hh_scan_arg {
	struct stxn	 *hs_tx;
	int		(*hs_cb)(const EpsHousehold *, void *);
	void		 *hs_arg;
};

static int
hh_scan_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct hh_scan_arg *hs = arg;
	ProtobufCMessage *m;
	EpsHousehold *h;
	uint8_t want[STORE_HHID_LEN];
	int rc, stop;

	if (key->mv_size != STORE_HHID_LEN) {
		store_log_corrupt(DB_HH, key, "key is not a household id");
		return STORE_CORRUPT;
	}
	if ((rc = store_unpack(hs->hs_tx, DB_HH, key->mv_data, key->mv_size,
	    &eenplan__store__household__descriptor, p, len, &m)) != STORE_OK)
		return rc;
	h = (EpsHousehold *)m;
	if (h->household_id == NULL || store_hhid(h->household_id, want) != 0 ||
	    memcmp(want, key->mv_data, STORE_HHID_LEN) != 0) {
		store_log_corrupt(DB_HH, key, "record names another household");
		store_hh_free(h);
		return STORE_CORRUPT;
	}
	stop = hs->hs_cb(h, hs->hs_arg);
	store_hh_free(h);
	return stop != 0 ? 1 : 0;
}

int
store_hh_scan(struct stxn *tx, int (*cb)(const EpsHousehold *, void *),
    void *arg)
{
	struct hh_scan_arg hs;

	if (cb == NULL)
		return STORE_ERR;
	hs.hs_tx = tx;
	hs.hs_cb = cb;
	hs.hs_arg = arg;
	return store_scan(tx, DB_HH, NULL, 0, NULL, 0, hh_scan_one, &hs);
}
