/* store: the LMDB environment, checksummed values, STORE_* codes (see store.h). */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <zlib.h>

#include "log.h"
#include "util.h"
#include "store.h"

/*
 * Every value is framed: version (1 byte), 3 reserved zero bytes, CRC32
 * (big-endian) over the key bytes and then the payload, then the payload.
 * The key is inside the checksum so a value moved to another key is caught.
 */
#define FRAME_VERSION		1
#define FRAME_HDR		8

#define STORE_ID_MAX		128	/* household ids, orgs, subjects in keys */
#define STORE_META_NAME_MAX	64
#define STORE_KEY_MAX		511	/* LMDB's default maximum key size */
#define STORE_DEFAULT_MAP	((size_t)1 << 30)
#define STORE_DEFAULT_READERS	126

enum store_db {
	DB_HOUSEHOLDS,
	DB_VERSIONS,
	DB_HISTORY,
	DB_CONSENT,
	DB_PRINCIPALS,
	DB_AUDIT,
	DB_AUDIT_HH,
	DB_AUDIT_ORG,
	DB_CHANGES,
	DB_META,
	DB_COUNT
};

static const char *const store_db_names[DB_COUNT] = {
	"households", "versions", "history", "consent", "principals",
	"audit", "audit_hh", "audit_org", "changes", "meta"
};

struct store {
	MDB_env		*st_env;
	MDB_dbi		 st_dbi[DB_COUNT];
	int		 st_readonly;
	atomic_int	 st_fail_commit;	/* test hook, 0: none */
	atomic_int	 st_fail_child_commit;	/* test hook, 0: none */
};

enum stxn_kind {
	STXN_READ,
	STXN_WRITE,
	STXN_CHILD
};

struct stxn {
	struct store	*sx_store;
	struct stxn	*sx_parent;	/* a child's: a failed merge poisons it */
	MDB_txn		*sx_txn;
	int		 sx_kind;
	int		 sx_active;	/* readers: between begin and end */
	int		 sx_err;	/* sticky: first failure, STORE_OK if none */
};

/* What a prefix scan does with one entry: 0 go on, 1 stop, < 0 a STORE_* error. */
typedef int (*store_scan_fn)(const MDB_val *key, const uint8_t *payload,
    size_t len, void *arg);

static int	store_migrate(struct stxn *, uint64_t from, uint64_t to);
static int	store_meta_get_u64(struct stxn *, const char *, uint64_t *);

/* ------------------------------------------------------------ helpers */

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

static int
store_map_rc(int mrc)
{
	switch (mrc) {
	case MDB_SUCCESS:
		return STORE_OK;
	case MDB_NOTFOUND:
		return STORE_NOTFOUND;
	case MDB_MAP_FULL:
	case ENOSPC:
		return STORE_FULL;
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
static int
stxn_fail(struct stxn *tx, int rc)
{
	if (rc != STORE_OK && rc != STORE_NOTFOUND && tx->sx_err == STORE_OK)
		tx->sx_err = rc;
	return rc;
}

static int
stxn_mdb_fail(struct stxn *tx, int mrc, const char *what, int db)
{
	int rc = store_map_rc(mrc);

	if (rc != STORE_NOTFOUND)
		log_warnx("store: %s %s: %s", what,
		    db >= 0 ? store_db_names[db] : "", mdb_strerror(mrc));
	return stxn_fail(tx, rc);
}

static void
log_corrupt(int db, const MDB_val *key, const char *why)
{
	char hex[2 * 64 + 1];
	size_t n = key->mv_size < 64 ? key->mv_size : 64;

	util_hex(key->mv_data, n, hex);
	log_warnx("store: %s key %s%s: %s", store_db_names[db], hex,
	    key->mv_size > n ? "..." : "", why);
}

/* Checks the frame of val stored under key; on success payload and len give the body. */
static int
frame_check(int db, const MDB_val *key, const MDB_val *val,
    const uint8_t **payload, size_t *len)
{
	const uint8_t *p = val->mv_data;
	uint32_t crc;

	if (val->mv_size < FRAME_HDR) {
		log_corrupt(db, key, "value shorter than its frame");
		return STORE_CORRUPT;
	}
	if (p[0] != FRAME_VERSION || p[1] != 0 || p[2] != 0 || p[3] != 0) {
		log_corrupt(db, key, "unknown frame version");
		return STORE_CORRUPT;
	}
	crc = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
	    (uint32_t)p[6] << 8 | p[7];
	if (crc != frame_crc(key->mv_data, key->mv_size, p + FRAME_HDR,
	    val->mv_size - FRAME_HDR)) {
		log_corrupt(db, key, "checksum mismatch");
		return STORE_CORRUPT;
	}
	*payload = p + FRAME_HDR;
	*len = val->mv_size - FRAME_HDR;
	return STORE_OK;
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

/* id | seq (u64 BE) into buf (STORE_ID_MAX + 8 bytes); returns the length. */
static size_t
key_id_seq(uint8_t *buf, const char *id, size_t idlen, uint64_t seq)
{
	memcpy(buf, id, idlen);
	util_be64_put(buf + idlen, seq);
	return idlen + 8;
}

/*
 * org \0 seq (u64 BE) into buf (STORE_ID_MAX + 9 bytes); returns the length.
 * The \0 ends the org, so "lev" never matches the prefix of "levx".
 */
static size_t
key_org_seq(uint8_t *buf, const char *org, size_t orglen, uint64_t seq)
{
	memcpy(buf, org, orglen);
	buf[orglen] = '\0';
	util_be64_put(buf + orglen + 1, seq);
	return orglen + 9;
}

static int
stxn_writable(struct stxn *tx)
{
	if (tx == NULL || tx->sx_txn == NULL)
		return STORE_ERR;
	if (tx->sx_kind == STXN_READ)
		return STORE_READONLY;
	return tx->sx_err;
}

static int
stxn_readable(const struct stxn *tx)
{
	if (tx == NULL || tx->sx_txn == NULL)
		return STORE_ERR;
	if (tx->sx_kind == STXN_READ && !tx->sx_active)
		return STORE_ERR;
	return STORE_OK;
}

/* ------------------------------------------------------ put and get */

/*
 * Stores msg (or raw bytes when msg is NULL) framed under key. The frame is
 * written straight into the page LMDB reserves, so nothing is copied twice.
 */
static int
store_put_frame(struct stxn *tx, int db, const void *key, size_t klen,
    const ProtobufCMessage *msg, const void *raw, size_t rawlen,
    unsigned flags)
{
	uint8_t kbuf[STORE_KEY_MAX];
	MDB_val k, v;
	size_t len;
	uint8_t *p;
	int rc, mrc;

	if ((rc = stxn_writable(tx)) != STORE_OK)
		return rc;
	if (klen == 0 || klen > sizeof(kbuf)) {
		log_warnx("store: %s: key of %zu bytes refused",
		    store_db_names[db], klen);
		return STORE_ERR;
	}
	len = msg != NULL ? protobuf_c_message_get_packed_size(msg) : rawlen;
	if (len > UINT32_MAX - FRAME_HDR)
		return stxn_fail(tx, STORE_FULL);
	memcpy(kbuf, key, klen);
	k.mv_data = kbuf;
	k.mv_size = klen;
	v.mv_data = NULL;
	v.mv_size = FRAME_HDR + len;
	if ((mrc = mdb_put(tx->sx_txn, tx->sx_store->st_dbi[db], &k, &v,
	    MDB_RESERVE | flags)) != MDB_SUCCESS) {
		if (mrc == MDB_KEYEXIST)
			log_corrupt(db, &k, "refusing to overwrite");
		return stxn_mdb_fail(tx, mrc, "put", db);
	}
	p = v.mv_data;
	if (msg != NULL) {
		if (protobuf_c_message_pack(msg, p + FRAME_HDR) != len) {
			log_warnx("store: %s: packed size changed",
			    store_db_names[db]);
			return stxn_fail(tx, STORE_ERR);
		}
	} else if (len > 0)
		memcpy(p + FRAME_HDR, raw, len);
	frame_header(p, frame_crc(kbuf, klen, p + FRAME_HDR, len));
	return STORE_OK;
}

/* Finds key and checks its frame; *payload lives until the txn ends. */
static int
store_get_frame(struct stxn *tx, int db, const void *key, size_t klen,
    const uint8_t **payload, size_t *len)
{
	uint8_t kbuf[STORE_KEY_MAX];
	MDB_val k, v;
	int rc, mrc;

	if ((rc = stxn_readable(tx)) != STORE_OK)
		return rc;
	if (klen == 0 || klen > sizeof(kbuf))
		return STORE_ERR;
	memcpy(kbuf, key, klen);
	k.mv_data = kbuf;
	k.mv_size = klen;
	if ((mrc = mdb_get(tx->sx_txn, tx->sx_store->st_dbi[db], &k, &v)) !=
	    MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "get", db);
	return stxn_fail(tx, frame_check(db, &k, &v, payload, len));
}

static int
store_unpack(struct stxn *tx, int db, const MDB_val *key,
    const ProtobufCMessageDescriptor *desc, const uint8_t *payload,
    size_t len, ProtobufCMessage **out)
{
	*out = protobuf_c_message_unpack(desc, NULL, len, payload);
	if (*out == NULL) {
		log_corrupt(db, key, "value does not decode");
		return stxn_fail(tx, STORE_CORRUPT);
	}
	return STORE_OK;
}

static int
store_get_msg(struct stxn *tx, int db, const void *key, size_t klen,
    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
	const uint8_t *p;
	size_t len;
	MDB_val k;
	int rc;

	*out = NULL;
	if ((rc = store_get_frame(tx, db, key, klen, &p, &len)) != STORE_OK)
		return rc;
	/* Only for the log line; the bytes are not written through. */
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	return store_unpack(tx, db, &k, desc, p, len, out);
}

/*
 * Walks db from the first key >= start while keys begin with prefix,
 * checking each frame before fn sees it.
 */
static int
store_scan(struct stxn *tx, int db, const void *prefix, size_t plen,
    const void *start, size_t slen, store_scan_fn fn, void *arg)
{
	uint8_t kbuf[STORE_KEY_MAX];
	MDB_cursor *cur;
	MDB_val k, v;
	const uint8_t *p;
	size_t len;
	int rc, mrc;
	MDB_cursor_op op;

	if ((rc = stxn_readable(tx)) != STORE_OK)
		return rc;
	if (slen > sizeof(kbuf))
		return STORE_ERR;
	if ((mrc = mdb_cursor_open(tx->sx_txn, tx->sx_store->st_dbi[db],
	    &cur)) != MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "cursor", db);
	if (slen > 0) {
		memcpy(kbuf, start, slen);
		k.mv_data = kbuf;
		k.mv_size = slen;
		op = MDB_SET_RANGE;
	} else
		op = MDB_FIRST;
	for (;;) {
		if ((mrc = mdb_cursor_get(cur, &k, &v, op)) != MDB_SUCCESS) {
			rc = mrc == MDB_NOTFOUND ? STORE_OK :
			    stxn_mdb_fail(tx, mrc, "cursor get", db);
			break;
		}
		op = MDB_NEXT;
		if (plen > 0 && (k.mv_size < plen ||
		    memcmp(k.mv_data, prefix, plen) != 0)) {
			rc = STORE_OK;
			break;
		}
		if ((rc = frame_check(db, &k, &v, &p, &len)) != STORE_OK) {
			stxn_fail(tx, rc);
			break;
		}
		if ((rc = fn(&k, p, len, arg)) != 0) {
			rc = rc > 0 ? STORE_OK : stxn_fail(tx, rc);
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc;
}

/* A growing array of unpacked messages. */
struct msg_list {
	ProtobufCMessage	**ml_items;
	size_t			  ml_n;
	size_t			  ml_cap;
};

static int
msg_list_push(struct msg_list *l, ProtobufCMessage *m)
{
	ProtobufCMessage **n;
	size_t cap;

	if (l->ml_n == l->ml_cap) {
		cap = l->ml_cap ? l->ml_cap * 2 : 8;
		if (cap > SIZE_MAX / sizeof(*n) ||
		    (n = reallocarray(l->ml_items, cap, sizeof(*n))) == NULL)
			return STORE_ERR;
		l->ml_items = n;
		l->ml_cap = cap;
	}
	l->ml_items[l->ml_n++] = m;
	return STORE_OK;
}

static void
msg_list_clear(struct msg_list *l)
{
	store_free_list((void **)l->ml_items, l->ml_n);
	memset(l, 0, sizeof(*l));
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

/* ------------------------------------------------------ open and close */

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
		return "stored value damaged (checksum or decoding failed)";
	case STORE_FULL:
		return "storage full";
	case STORE_READONLY:
		return "storage is read-only";
	case STORE_TXN_FULL:
		return "write transaction too large (too many changed pages)";
	case STORE_READERS_FULL:
		return "too many concurrent readers (reader table full)";
	default:
		return "unknown storage error";
	}
}

/*
 * LMDB has no page checksums and maps the file: a file shorter than the
 * pages its meta page claims opens fine and then SIGBUSes on the first read
 * past the end. Refuse it before reading anything but the meta pages.
 * env_info comes before stat: a concurrent writer grows the file before it
 * moves the meta, so this order never refuses a healthy file.
 */
static int
store_check_size(MDB_env *env, const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	MDB_envinfo info;
	MDB_stat ms;
	struct stat sb;
	uint64_t need;
	int mrc;

	if ((mrc = mdb_env_info(env, &info)) != MDB_SUCCESS ||
	    (mrc = mdb_env_stat(env, &ms)) != MDB_SUCCESS) {
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(mrc));
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (stat(path, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	need = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	if ((uint64_t)sb.st_size < need) {
		snprintf(err, errlen, "%s: data file truncated: %lld bytes, "
		    "needs %llu; restore from a backup", path,
		    (long long)sb.st_size, (unsigned long long)need);
		return -1;
	}
	return 0;
}

/*
 * A data file of zero bytes would be taken by LMDB for a new, empty
 * environment: every record silently gone. Refuse it instead.
 */
static int
store_check_empty_file(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat sb;

	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (stat(path, &sb) == -1)
		return 0;
	if (sb.st_size == 0) {
		snprintf(err, errlen, "%s: data file truncated: 0 bytes; "
		    "restore from a backup or remove it to start empty", path);
		return -1;
	}
	return 0;
}

/*
 * The migrations seam: each step from version v to v + 1 rewrites what
 * changed. Version 0 is a store without a schema number (new): the layout
 * of version 1 is what opening creates, so that step only records it.
 */
static int
store_migrate(struct stxn *tx, uint64_t from, uint64_t to)
{
	uint8_t buf[8];
	uint64_t v;
	int rc;

	for (v = from; v < to; v++) {
		switch (v) {
		case 0:
			break;
		default:
			log_warnx("store: no migration from schema %llu",
			    (unsigned long long)v);
			return STORE_ERR;
		}
	}
	util_be64_put(buf, to);
	if ((rc = store_meta_put(tx, "schema", buf, sizeof(buf))) != STORE_OK)
		return rc;
	if (from > 0)
		log_info("store: migrated schema %llu to %llu",
		    (unsigned long long)from, (unsigned long long)to);
	return STORE_OK;
}

/* Opens every database and checks the schema in one committed txn. */
static int
store_open_dbs(struct store *st, char *err, size_t errlen)
{
	struct stxn tx;
	unsigned flags = st->st_readonly ? 0 : MDB_CREATE;
	uint64_t schema;
	int i, mrc, rc;

	memset(&tx, 0, sizeof(tx));
	tx.sx_store = st;
	tx.sx_kind = st->st_readonly ? STXN_READ : STXN_WRITE;
	tx.sx_active = 1;
	if ((mrc = mdb_txn_begin(st->st_env, NULL,
	    st->st_readonly ? MDB_RDONLY : 0, &tx.sx_txn)) != MDB_SUCCESS) {
		snprintf(err, errlen, "begin: %s", mdb_strerror(mrc));
		return -1;
	}
	for (i = 0; i < DB_COUNT; i++) {
		if ((mrc = mdb_dbi_open(tx.sx_txn, store_db_names[i], flags,
		    &st->st_dbi[i])) != MDB_SUCCESS) {
			snprintf(err, errlen, "database %s: %s%s",
			    store_db_names[i], mdb_strerror(mrc),
			    mrc == MDB_NOTFOUND ? " (not an eenplan store?)" :
			    "");
			goto fail;
		}
	}
	/* Absent reads as 0: a new store, whose "migration" only records 1. */
	if ((rc = store_meta_get_u64(&tx, "schema", &schema)) != STORE_OK) {
		snprintf(err, errlen, "schema version: %s", store_strerror(rc));
		goto fail;
	}
	if (schema > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "schema version %llu is newer than this "
		    "eenpland supports (%d)", (unsigned long long)schema,
		    STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (schema < STORE_SCHEMA_VERSION) {
		if (st->st_readonly) {
			snprintf(err, errlen, "schema version %llu needs "
			    "migration to %d (open read-write first)",
			    (unsigned long long)schema, STORE_SCHEMA_VERSION);
			goto fail;
		}
		if ((rc = store_migrate(&tx, schema, STORE_SCHEMA_VERSION)) !=
		    STORE_OK) {
			snprintf(err, errlen, "schema migration: %s",
			    store_strerror(rc));
			goto fail;
		}
	}
	if ((mrc = mdb_txn_commit(tx.sx_txn)) != MDB_SUCCESS) {
		snprintf(err, errlen, "commit: %s", mdb_strerror(mrc));
		return -1;
	}
	return 0;
fail:
	mdb_txn_abort(tx.sx_txn);
	return -1;
}

int
store_open(struct store **out, const struct store_opts *o, char *err,
    size_t errlen)
{
	struct store *st;
	unsigned flags;
	int mrc, dead;
	size_t map;

	*out = NULL;
	if (o == NULL || o->so_dir == NULL) {
		snprintf(err, errlen, "no store directory");
		return -1;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->st_readonly = o->so_readonly;
	atomic_init(&st->st_fail_commit, 0);
	atomic_init(&st->st_fail_child_commit, 0);
	if (!st->st_readonly && mkdir(o->so_dir, 0700) == -1 &&
	    errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", o->so_dir, strerror(errno));
		goto fail;
	}
	if (store_check_empty_file(o->so_dir, err, errlen) == -1)
		goto fail;
	if ((mrc = mdb_env_create(&st->st_env)) != MDB_SUCCESS) {
		snprintf(err, errlen, "env: %s", mdb_strerror(mrc));
		goto fail;
	}
	/* Set once: the file is sparse and grows as pages are written. */
	map = o->so_map_max;
	if (map == 0 && !st->st_readonly)
		map = STORE_DEFAULT_MAP;
	if ((mrc = mdb_env_set_maxdbs(st->st_env, DB_COUNT)) != MDB_SUCCESS ||
	    (map > 0 && (mrc = mdb_env_set_mapsize(st->st_env, map)) !=
	    MDB_SUCCESS) ||
	    (mrc = mdb_env_set_maxreaders(st->st_env, o->so_max_readers > 0 ?
	    o->so_max_readers : STORE_DEFAULT_READERS)) != MDB_SUCCESS) {
		snprintf(err, errlen, "env: %s", mdb_strerror(mrc));
		goto fail;
	}
	flags = MDB_NOTLS | (st->st_readonly ? MDB_RDONLY : 0);
	if ((mrc = mdb_env_open(st->st_env, o->so_dir, flags, 0600)) !=
	    MDB_SUCCESS) {
		snprintf(err, errlen, "%s: %s", o->so_dir, mrc == MDB_INVALID ?
		    "data file damaged or not an LMDB environment" :
		    mdb_strerror(mrc));
		goto fail;
	}
	if (store_check_size(st->st_env, o->so_dir, err, errlen) == -1)
		goto fail;
	if ((mrc = mdb_reader_check(st->st_env, &dead)) != MDB_SUCCESS) {
		snprintf(err, errlen, "reader check: %s", mdb_strerror(mrc));
		goto fail;
	}
	if (dead > 0)
		log_info("store: cleared %d stale reader slot(s)", dead);
	if (store_open_dbs(st, err, errlen) == -1)
		goto fail;
	*out = st;
	return 0;
fail:
	if (st->st_env != NULL)
		mdb_env_close(st->st_env);
	free(st);
	return -1;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	mdb_env_close(st->st_env);
	free(st);
}

void
store_fail_next_commit(struct store *st, int rc)
{
	atomic_store(&st->st_fail_commit, rc);
}

void
store_fail_next_child_commit(struct store *st, int rc)
{
	atomic_store(&st->st_fail_child_commit, rc);
}

/* ------------------------------------------------------- transactions */

struct stxn *
store_reader_new(struct store *st)
{
	struct stxn *tx;

	if ((tx = calloc(1, sizeof(*tx))) == NULL)
		return NULL;
	tx->sx_store = st;
	tx->sx_kind = STXN_READ;
	return tx;
}

int
store_reader_begin(struct stxn *tx)
{
	int mrc;

	if (tx == NULL || tx->sx_kind != STXN_READ || tx->sx_active)
		return STORE_ERR;
	tx->sx_err = STORE_OK;
	if (tx->sx_txn == NULL)
		mrc = mdb_txn_begin(tx->sx_store->st_env, NULL, MDB_RDONLY,
		    &tx->sx_txn);
	else
		mrc = mdb_txn_renew(tx->sx_txn);
	/*
	 * Another process grew the map past ours. Only read-only admin
	 * processes (one thread, no other txn live) may adopt its size.
	 */
	if (mrc == MDB_MAP_RESIZED && tx->sx_store->st_readonly &&
	    mdb_env_set_mapsize(tx->sx_store->st_env, 0) == MDB_SUCCESS) {
		if (tx->sx_txn == NULL)
			mrc = mdb_txn_begin(tx->sx_store->st_env, NULL,
			    MDB_RDONLY, &tx->sx_txn);
		else
			mrc = mdb_txn_renew(tx->sx_txn);
	}
	if (mrc != MDB_SUCCESS) {
		log_warnx("store: read txn: %s", mdb_strerror(mrc));
		return store_map_rc(mrc) == STORE_NOTFOUND ? STORE_ERR :
		    store_map_rc(mrc);
	}
	tx->sx_active = 1;
	return STORE_OK;
}

void
store_reader_end(struct stxn *tx)
{
	if (tx == NULL || tx->sx_kind != STXN_READ || !tx->sx_active)
		return;
	mdb_txn_reset(tx->sx_txn);
	tx->sx_active = 0;
}

void
store_reader_free(struct stxn *tx)
{
	if (tx == NULL)
		return;
	if (tx->sx_txn != NULL)
		mdb_txn_abort(tx->sx_txn);
	free(tx);
}

static int
store_txn_new(struct store *st, struct stxn *parent, struct stxn **out)
{
	struct stxn *tx;
	int mrc;

	*out = NULL;
	if (st->st_readonly)
		return STORE_READONLY;
	if ((tx = calloc(1, sizeof(*tx))) == NULL)
		return STORE_ERR;
	tx->sx_store = st;
	tx->sx_parent = parent;
	tx->sx_kind = parent != NULL ? STXN_CHILD : STXN_WRITE;
	if ((mrc = mdb_txn_begin(st->st_env, parent ? parent->sx_txn : NULL,
	    0, &tx->sx_txn)) != MDB_SUCCESS) {
		log_warnx("store: %s txn: %s", parent ? "child" : "write",
		    mdb_strerror(mrc));
		free(tx);
		return store_map_rc(mrc) == STORE_NOTFOUND ? STORE_ERR :
		    store_map_rc(mrc);
	}
	*out = tx;
	return STORE_OK;
}

int
store_write_begin(struct store *st, struct stxn **out)
{
	return store_txn_new(st, NULL, out);
}

int
store_child_begin(struct stxn *parent, struct stxn **child)
{
	int rc;

	*child = NULL;
	if ((rc = stxn_writable(parent)) != STORE_OK)
		return rc;
	return store_txn_new(parent->sx_store, parent, child);
}

int
store_commit(struct stxn *tx)
{
	struct stxn *parent;
	int rc, mrc;

	if (tx == NULL)
		return STORE_ERR;
	if (tx->sx_kind == STXN_READ) {
		log_warnx("store: commit of a read txn");
		return STORE_ERR;
	}
	if (tx->sx_err != STORE_OK) {
		rc = tx->sx_err;
		mdb_txn_abort(tx->sx_txn);
		free(tx);
		return rc;
	}
	parent = tx->sx_parent;
	if (tx->sx_kind == STXN_WRITE &&
	    (rc = atomic_exchange(&tx->sx_store->st_fail_commit, 0)) != 0) {
		mdb_txn_abort(tx->sx_txn);
		free(tx);
		return rc;
	}
	if (tx->sx_kind == STXN_CHILD &&
	    (rc = atomic_exchange(&tx->sx_store->st_fail_child_commit, 0)) !=
	    0) {
		mdb_txn_abort(tx->sx_txn);
		free(tx);
		return stxn_fail(parent, rc);
	}
	/* A failed commit has freed the txn already, a child's too. */
	mrc = mdb_txn_commit(tx->sx_txn);
	free(tx);
	if (mrc != MDB_SUCCESS) {
		log_warnx("store: %s commit: %s", parent != NULL ? "child" :
		    "write", mdb_strerror(mrc));
		if ((rc = store_map_rc(mrc)) == STORE_NOTFOUND)
			rc = STORE_ERR;
		/*
		 * A child's merge can fail half-way (say, out of memory after
		 * its free list went over): the parent may then hold part of
		 * the child. Make the parent refuse further use and its
		 * commit, rather than count on LMDB to have flagged it.
		 */
		if (parent != NULL)
			stxn_fail(parent, rc);
		return rc;
	}
	return STORE_OK;
}

void
store_abort(struct stxn *tx)
{
	if (tx == NULL)
		return;
	if (tx->sx_txn != NULL)
		mdb_txn_abort(tx->sx_txn);
	free(tx);
}

int
store_txn_error(const struct stxn *tx)
{
	return tx == NULL ? STORE_ERR : tx->sx_err;
}

/* -------------------------------------------------------------- meta */

int
store_meta_get(struct stxn *tx, const char *name, void *buf, size_t cap,
    size_t *len)
{
	const uint8_t *p;
	size_t n, nlen;
	int rc;

	*len = 0;
	nlen = name != NULL ? strnlen(name, STORE_META_NAME_MAX + 1) : 0;
	if (nlen == 0 || nlen > STORE_META_NAME_MAX)
		return STORE_ERR;
	if ((rc = store_get_frame(tx, DB_META, name, nlen, &p, &n)) !=
	    STORE_OK)
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
	return store_put_frame(tx, DB_META, name, nlen, NULL, buf, len, 0);
}

static int
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

/* ------------------------------------------------------------- plans */

int
store_plan_get(struct stxn *tx, const char *hhid, uint64_t version,
    EpPlan **out)
{
	uint8_t key[STORE_ID_MAX + 8];
	size_t idlen = key_str_len(hhid), klen;
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	if (idlen == 0)
		return STORE_NOTFOUND;
	if (version == 0)
		rc = store_get_msg(tx, DB_HOUSEHOLDS, hhid, idlen,
		    &eenplan__v1__plan__descriptor, &m);
	else {
		klen = key_id_seq(key, hhid, idlen, version);
		rc = store_get_msg(tx, DB_VERSIONS, key, klen,
		    &eenplan__v1__plan__descriptor, &m);
	}
	if (rc == STORE_OK)
		*out = (EpPlan *)m;
	return rc;
}

int
store_plan_put(struct stxn *tx, const EpPlan *plan,
    const EpHistoryEntry *entry)
{
	uint8_t key[STORE_ID_MAX + 8];
	size_t idlen, klen;
	int rc;

	idlen = plan != NULL ? key_str_len(plan->household_id) : 0;
	if (idlen == 0 || plan->version == 0) {
		log_warnx("store: plan without household id or version");
		return STORE_ERR;
	}
	if (entry != NULL && entry->version != plan->version) {
		log_warnx("store: history entry version %llu for plan "
		    "version %llu", (unsigned long long)entry->version,
		    (unsigned long long)plan->version);
		return STORE_ERR;
	}
	if ((rc = store_put_frame(tx, DB_HOUSEHOLDS, plan->household_id,
	    idlen, &plan->base, NULL, 0, 0)) != STORE_OK)
		return rc;
	klen = key_id_seq(key, plan->household_id, idlen, plan->version);
	if ((rc = store_put_frame(tx, DB_VERSIONS, key, klen, &plan->base,
	    NULL, 0, 0)) != STORE_OK)
		return rc;
	if (entry == NULL)
		return STORE_OK;
	return store_put_frame(tx, DB_HISTORY, key, klen, &entry->base, NULL,
	    0, 0);
}

/* Collects unpacked values of one household (id | u64 keys) into a list. */
struct collect_arg {
	struct stxn				*ca_tx;
	int					 ca_db;
	size_t					 ca_keylen;	/* exact */
	const ProtobufCMessageDescriptor	*ca_desc;
	struct msg_list				 ca_list;
	size_t					 ca_limit;	/* SIZE_MAX: all */
	int					 ca_more;
};

static int
collect_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct collect_arg *ca = arg;
	ProtobufCMessage *m;
	int rc;

	if (key->mv_size != ca->ca_keylen)
		return 0;	/* a longer id that shares the prefix */
	if (ca->ca_list.ml_n >= ca->ca_limit) {
		ca->ca_more = 1;
		return 1;
	}
	if ((rc = store_unpack(ca->ca_tx, ca->ca_db, key, ca->ca_desc, p, len,
	    &m)) != STORE_OK)
		return rc;
	if (msg_list_push(&ca->ca_list, m) != STORE_OK) {
		protobuf_c_message_free_unpacked(m, NULL);
		return STORE_ERR;
	}
	return 0;
}

static int
store_collect(struct stxn *tx, int db, const char *hhid, uint64_t after,
    size_t limit, const ProtobufCMessageDescriptor *desc,
    ProtobufCMessage ***out, size_t *n, int *more)
{
	uint8_t start[STORE_ID_MAX + 8];
	struct collect_arg ca;
	size_t idlen = key_str_len(hhid), slen;
	int rc;

	*out = NULL;
	*n = 0;
	if (more != NULL)
		*more = 0;
	if (idlen == 0 || after == UINT64_MAX)
		return STORE_OK;
	memset(&ca, 0, sizeof(ca));
	ca.ca_tx = tx;
	ca.ca_db = db;
	ca.ca_keylen = idlen + 8;
	ca.ca_desc = desc;
	ca.ca_limit = limit;
	slen = key_id_seq(start, hhid, idlen, after + 1);
	rc = store_scan(tx, db, hhid, idlen, start, slen, collect_one, &ca);
	if (rc != STORE_OK) {
		msg_list_clear(&ca.ca_list);
		return rc;
	}
	*out = ca.ca_list.ml_items;
	*n = ca.ca_list.ml_n;
	if (more != NULL)
		*more = ca.ca_more;
	return STORE_OK;
}

int
store_history_list(struct stxn *tx, const char *hhid, uint64_t after,
    uint32_t limit, EpHistoryEntry ***out, size_t *n, int *more)
{
	ProtobufCMessage **items;
	int rc;

	rc = store_collect(tx, DB_HISTORY, hhid, after, limit,
	    &eenplan__v1__history_entry__descriptor, &items, n, more);
	*out = (EpHistoryEntry **)items;
	return rc;
}

/* ------------------------------------------------------------ consent */

int
store_grants_get(struct stxn *tx, const char *hhid, EpGrant ***out,
    size_t *n)
{
	ProtobufCMessage **items;
	int rc;

	rc = store_collect(tx, DB_CONSENT, hhid, 0, SIZE_MAX,
	    &eenplan__v1__grant__descriptor, &items, n, NULL);
	*out = (EpGrant **)items;
	return rc;
}

int
store_grant_put(struct stxn *tx, const char *hhid, const EpGrant *g)
{
	uint8_t key[STORE_ID_MAX + 8];
	size_t idlen = key_str_len(hhid), klen;

	if (idlen == 0 || g == NULL || g->id == 0) {
		log_warnx("store: grant without household id or grant id");
		return STORE_ERR;
	}
	klen = key_id_seq(key, hhid, idlen, g->id);
	return store_put_frame(tx, DB_CONSENT, key, klen, &g->base, NULL, 0,
	    0);
}

/* --------------------------------------------------- principals index */

/* "org \0 subject \0" into buf; returns its length or 0 when refused. */
static size_t
index_prefix(uint8_t *buf, const char *org, const char *subject)
{
	size_t olen = key_str_len(org), slen;

	if (olen == 0 || subject == NULL)
		return 0;
	slen = strnlen(subject, STORE_ID_MAX + 1);
	if (slen > STORE_ID_MAX)
		return 0;
	memcpy(buf, org, olen);
	buf[olen] = '\0';
	memcpy(buf + olen + 1, subject, slen);
	buf[olen + 1 + slen] = '\0';
	return olen + slen + 2;
}

int
store_index_put(struct stxn *tx, const char *org, const char *subject,
    const char *hhid)
{
	uint8_t key[3 * STORE_ID_MAX + 2];
	size_t plen, idlen = key_str_len(hhid);

	if ((plen = index_prefix(key, org, subject)) == 0 || idlen == 0) {
		log_warnx("store: index entry without org or household id");
		return STORE_ERR;
	}
	memcpy(key + plen, hhid, idlen);
	return store_put_frame(tx, DB_PRINCIPALS, key, plen + idlen, NULL,
	    NULL, 0, 0);
}

struct index_arg {
	size_t		  ia_plen;
	const uint8_t	 *ia_skip;	/* the after key itself */
	size_t		  ia_skiplen;
	int		(*ia_cb)(const char *, void *);
	void		 *ia_arg;
};

static int
index_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct index_arg *ia = arg;
	char hhid[STORE_ID_MAX + 1];
	size_t n = key->mv_size - ia->ia_plen;

	(void)p;
	(void)len;
	if (ia->ia_skip != NULL && key->mv_size == ia->ia_skiplen &&
	    memcmp(key->mv_data, ia->ia_skip, ia->ia_skiplen) == 0)
		return 0;
	if (n == 0 || n > STORE_ID_MAX) {
		log_corrupt(DB_PRINCIPALS, key, "no household id in key");
		return STORE_CORRUPT;
	}
	memcpy(hhid, (const uint8_t *)key->mv_data + ia->ia_plen, n);
	hhid[n] = '\0';
	return ia->ia_cb(hhid, ia->ia_arg) != 0 ? 1 : 0;
}

int
store_index_scan(struct stxn *tx, const char *org, const char *subject,
    const char *after_hhid, int (*cb)(const char *hhid, void *), void *arg)
{
	uint8_t key[3 * STORE_ID_MAX + 2];
	struct index_arg ia;
	size_t plen, alen = 0;

	if ((plen = index_prefix(key, org, subject)) == 0 || cb == NULL)
		return STORE_ERR;
	memset(&ia, 0, sizeof(ia));
	ia.ia_plen = plen;
	ia.ia_cb = cb;
	ia.ia_arg = arg;
	if (after_hhid != NULL && after_hhid[0] != '\0') {
		if ((alen = key_str_len(after_hhid)) == 0)
			return STORE_ERR;
		memcpy(key + plen, after_hhid, alen);
		ia.ia_skip = key;
		ia.ia_skiplen = plen + alen;
	}
	return store_scan(tx, DB_PRINCIPALS, key, plen, key, plen + alen,
	    index_one, &ia);
}

/* -------------------------------------------------------------- audit */

int
store_audit_put(struct stxn *tx, const EpAuditRecord *rec)
{
	uint8_t key[STORE_ID_MAX + 9];
	size_t idlen, olen, i;
	int rc;

	if (rec == NULL || rec->seq == 0) {
		log_warnx("store: audit record without seq");
		return STORE_ERR;
	}
	/* Audit records are never overwritten, whatever the caller believes. */
	util_be64_put(key, rec->seq);
	if ((rc = store_put_frame(tx, DB_AUDIT, key, 8, &rec->base, NULL, 0,
	    MDB_NOOVERWRITE)) != STORE_OK)
		return rc;
	/* Ids too long for a key (hostile input) stay findable by a full scan. */
	if ((idlen = key_str_len(rec->household_id)) > 0 &&
	    (rc = store_put_frame(tx, DB_AUDIT_HH, key,
	    key_id_seq(key, rec->household_id, idlen, rec->seq), NULL, NULL,
	    0, 0)) != STORE_OK)
		return rc;
	for (i = 0; i < rec->n_listed_households; i++) {
		if ((idlen = key_str_len(rec->listed_households[i])) == 0 ||
		    (rec->household_id != NULL &&
		    strcmp(rec->household_id, rec->listed_households[i]) == 0))
			continue;
		if ((rc = store_put_frame(tx, DB_AUDIT_HH, key,
		    key_id_seq(key, rec->listed_households[i], idlen, rec->seq),
		    NULL, NULL, 0, 0)) != STORE_OK)
			return rc;
	}
	if (rec->actor != NULL && (olen = key_str_len(rec->actor->org)) > 0 &&
	    (rc = store_put_frame(tx, DB_AUDIT_ORG, key,
	    key_org_seq(key, rec->actor->org, olen, rec->seq), NULL, NULL, 0,
	    0)) != STORE_OK)
		return rc;
	return STORE_OK;
}

int
store_audit_get(struct stxn *tx, uint64_t seq, EpAuditRecord **out)
{
	uint8_t key[8];
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	util_be64_put(key, seq);
	rc = store_get_msg(tx, DB_AUDIT, key, sizeof(key),
	    &eenplan__v1__audit_record__descriptor, &m);
	if (rc == STORE_OK)
		*out = (EpAuditRecord *)m;
	return rc;
}

int
store_audit_last(struct stxn *tx, uint64_t *seq)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, mrc;

	*seq = 0;
	if ((rc = stxn_readable(tx)) != STORE_OK)
		return rc;
	if ((mrc = mdb_cursor_open(tx->sx_txn, tx->sx_store->st_dbi[DB_AUDIT],
	    &cur)) != MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "cursor", DB_AUDIT);
	mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (mrc == MDB_SUCCESS) {
		if (k.mv_size == 8) {
			*seq = util_be64_get(k.mv_data);
			rc = STORE_OK;
		} else {
			log_corrupt(DB_AUDIT, &k, "key is not a sequence number");
			rc = stxn_fail(tx, STORE_CORRUPT);
		}
	} else if (mrc == MDB_NOTFOUND)
		rc = STORE_OK;
	else
		rc = stxn_mdb_fail(tx, mrc, "cursor get", DB_AUDIT);
	mdb_cursor_close(cur);
	return rc;
}

struct audit_scan_arg {
	struct stxn	 *as_tx;
	int		  as_db;
	size_t		  as_keylen;	/* exact length of index keys */
	const char	 *as_org;	/* filter on the record, with hhid */
	int		(*as_cb)(const EpAuditRecord *, void *);
	void		 *as_arg;
};

static int
audit_scan_emit(struct audit_scan_arg *as, EpAuditRecord *r)
{
	int stop;

	if (as->as_org != NULL && (r->actor == NULL ||
	    strcmp(r->actor->org, as->as_org) != 0)) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return 0;
	}
	stop = as->as_cb(r, as->as_arg);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return stop != 0 ? 1 : 0;
}

/* One entry of the audit database itself. */
static int
audit_scan_rec(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct audit_scan_arg *as = arg;
	ProtobufCMessage *m;
	int rc;

	if (key->mv_size != 8) {
		log_corrupt(DB_AUDIT, key, "key is not a sequence number");
		return STORE_CORRUPT;
	}
	if ((rc = store_unpack(as->as_tx, DB_AUDIT, key,
	    &eenplan__v1__audit_record__descriptor, p, len, &m)) != STORE_OK)
		return rc;
	return audit_scan_emit(as, (EpAuditRecord *)m);
}

/* One entry of an index: the seq is the key's last 8 bytes. */
static int
audit_scan_idx(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct audit_scan_arg *as = arg;
	EpAuditRecord *r;
	uint64_t seq;
	int rc;

	(void)p;
	(void)len;
	if (key->mv_size != as->as_keylen)
		return 0;	/* a longer id that shares the prefix */
	seq = util_be64_get((const uint8_t *)key->mv_data + key->mv_size - 8);
	if ((rc = store_audit_get(as->as_tx, seq, &r)) != STORE_OK) {
		if (rc == STORE_NOTFOUND) {
			log_corrupt(as->as_db, key, "indexed audit record "
			    "missing");
			rc = STORE_CORRUPT;
		}
		return rc;
	}
	return audit_scan_emit(as, r);
}

int
store_audit_scan(struct stxn *tx, const char *hhid, const char *org,
    uint64_t after, int (*cb)(const EpAuditRecord *, void *), void *arg)
{
	uint8_t key[STORE_ID_MAX + 9];
	struct audit_scan_arg as;
	size_t n;

	if (cb == NULL)
		return STORE_ERR;
	if (after == UINT64_MAX)
		return STORE_OK;
	memset(&as, 0, sizeof(as));
	as.as_tx = tx;
	as.as_cb = cb;
	as.as_arg = arg;
	if (hhid != NULL) {
		if ((n = key_str_len(hhid)) == 0)
			return STORE_OK;	/* never indexed */
		as.as_db = DB_AUDIT_HH;
		as.as_keylen = n + 8;
		as.as_org = org;
		return store_scan(tx, DB_AUDIT_HH, hhid, n, key,
		    key_id_seq(key, hhid, n, after + 1), audit_scan_idx, &as);
	}
	if (org != NULL) {
		if ((n = key_str_len(org)) == 0)
			return STORE_OK;
		as.as_db = DB_AUDIT_ORG;
		as.as_keylen = key_org_seq(key, org, n, after + 1);
		/* The prefix is the org and its \0. */
		return store_scan(tx, DB_AUDIT_ORG, key, n + 1, key,
		    as.as_keylen, audit_scan_idx, &as);
	}
	as.as_db = DB_AUDIT;
	util_be64_put(key, after + 1);
	return store_scan(tx, DB_AUDIT, NULL, 0, key, 8, audit_scan_rec, &as);
}

/* ------------------------------------------------------- change feed */

int
store_change_append(struct stxn *tx, EpChangeEvent *ev)
{
	uint8_t key[8];
	uint64_t seq;
	int rc;

	if (ev == NULL)
		return STORE_ERR;
	if ((rc = stxn_writable(tx)) != STORE_OK)
		return rc;
	if ((rc = store_meta_get_u64(tx, "change_seq", &seq)) != STORE_OK)
		return rc;
	if (seq == UINT64_MAX)
		return stxn_fail(tx, STORE_FULL);
	ev->seq = seq + 1;
	util_be64_put(key, ev->seq);
	if ((rc = store_put_frame(tx, DB_CHANGES, key, 8, &ev->base, NULL,
	    0, 0)) != STORE_OK)
		return rc;
	return store_meta_put(tx, "change_seq", key, 8);
}

struct change_arg {
	struct stxn	 *cha_tx;
	int		(*cha_cb)(const EpChangeEvent *, void *);
	void		 *cha_arg;
};

static int
change_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct change_arg *cha = arg;
	ProtobufCMessage *m;
	int rc, stop;

	if (key->mv_size != 8) {
		log_corrupt(DB_CHANGES, key, "key is not a sequence number");
		return STORE_CORRUPT;
	}
	if ((rc = store_unpack(cha->cha_tx, DB_CHANGES, key,
	    &eenplan__v1__change_event__descriptor, p, len, &m)) != STORE_OK)
		return rc;
	stop = cha->cha_cb((EpChangeEvent *)m, cha->cha_arg);
	protobuf_c_message_free_unpacked(m, NULL);
	return stop != 0 ? 1 : 0;
}

int
store_change_scan(struct stxn *tx, uint64_t after,
    int (*cb)(const EpChangeEvent *, void *), void *arg)
{
	struct change_arg cha;
	uint8_t key[8];

	if (cb == NULL)
		return STORE_ERR;
	if (after == UINT64_MAX)
		return STORE_OK;
	cha.cha_tx = tx;
	cha.cha_cb = cb;
	cha.cha_arg = arg;
	util_be64_put(key, after + 1);
	return store_scan(tx, DB_CHANGES, NULL, 0, key, 8, change_one, &cha);
}

/* ------------------------------------------------------------- backup */

static int
fsync_path(const char *path, int flags)
{
	int fd, rc;

	if ((fd = open(path, flags | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
store_backup(struct store *st, const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int mrc;

	if (dir == NULL ||
	    (size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path)) {
		snprintf(err, errlen, "backup: bad directory");
		return -1;
	}
	if ((mrc = mdb_env_copy2(st->st_env, dir, MDB_CP_COMPACT)) !=
	    MDB_SUCCESS) {
		snprintf(err, errlen, "backup to %s: %s", dir,
		    mdb_strerror(mrc));
		return -1;
	}
	/* mdb_env_copy2 does not sync: make the copy durable before saying so. */
	if (fsync_path(path, O_RDONLY) == -1 ||
	    fsync_path(dir, O_RDONLY | O_DIRECTORY) == -1) {
		snprintf(err, errlen, "backup: sync %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------ raw (tests) */

static int
store_db_lookup(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < DB_COUNT; i++)
		if (strcmp(name, store_db_names[i]) == 0)
			return i;
	return -1;
}

int
store_raw_put(struct stxn *tx, const char *db, const void *key,
    size_t keylen, const void *payload, size_t len)
{
	int d;

	if ((d = store_db_lookup(db)) == -1)
		return STORE_ERR;
	return store_put_frame(tx, d, key, keylen, NULL, payload, len, 0);
}

int
store_raw_del(struct stxn *tx, const char *db, const void *key,
    size_t keylen)
{
	uint8_t kbuf[STORE_KEY_MAX];
	MDB_val k;
	int d, rc, mrc;

	if ((d = store_db_lookup(db)) == -1)
		return STORE_ERR;
	if ((rc = stxn_writable(tx)) != STORE_OK)
		return rc;
	if (keylen == 0 || keylen > sizeof(kbuf))
		return STORE_ERR;
	memcpy(kbuf, key, keylen);
	k.mv_data = kbuf;
	k.mv_size = keylen;
	if ((mrc = mdb_del(tx->sx_txn, tx->sx_store->st_dbi[d], &k, NULL)) !=
	    MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "del", d);
	return STORE_OK;
}
