/*
 * store_audit: the audit log in the store (see store.h).
 *
 * The hot path writes one thing per audited request: its record, appended
 * to log under the next seq (MDB_APPEND: pages filled, one sequential run
 * per batch). The record is stored as an AuditEntry (store.proto): what its
 * key (seq) and the record before it (prev_hash, that record's hash) say is
 * not repeated, and its actor is a number into actors, where each actor
 * (principal, organisation identifier, certificate serial) is stored once.
 * Read back it is the wire AuditRecord again, field for field, so the
 * chain verifies as it did. A prev_hash that is not the hash of the record
 * before (a migrated or damaged chain) is stored as it is.
 *
 * The indexes are built off the hot path, in an LMDB environment of their
 * own (store.h): store_audit_index, called by the writer's indexer thread,
 * indexes the durable records past the index's meta "audit_indexed" into
 * log_hh (one key per household) and log_org (one key per organisation).
 * Both are DUPSORT: each duplicate is a seq and a CRC-32 over the key and
 * the seq, 12 bytes. A scan reads the index up to audit_indexed (never past
 * its own snapshot's last record) and the log after it, so it sees every
 * record committed before it, once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <openssl/crypto.h>
#include <zlib.h>

#include "log.h"
#include "util.h"
#include "store.h"
#include "store_impl.h"

typedef Eenplan__Store__AuditEntry	EpsAuditEntry;
typedef Eenplan__Store__Actor		EpsActor;

#define AUDIT_INDEXED_META	STORE_AUDIT_INDEXED_META
#define AUDIT_INDEXED_HASH_META	"audit_indexed_hash"
#define AUDIT_DUP_LEN		12	/* seq (8, big-endian) | CRC-32 (4) */
#define AUDIT_HASH		32
#define AUDIT_ID_MAX		128	/* org in a log_org key */
#define AUDIT_INDEX_CHUNK	4096	/* records per store_audit_index call */
/*
 * log_hh keys: the record's bucket (seq >> AUDIT_BUCKET_SHIFT, 32 bits
 * big-endian), then the household. The entries an index step adds land in
 * the newest bucket's few pages, not on one page per household across the
 * whole index: with 1,000,000 households the latter was a scattered page
 * write per audited read (tests/bench/population_io.sh). A household's
 * query reads one range per bucket from the one its `after` falls in.
 * AUDIT_INDEX_FORMAT in the index's meta names this layout; an index
 * without it (keyed by the household alone) is built again at open.
 */
#define AUDIT_BUCKET_SHIFT	16
#define AUDIT_HH_KEY_LEN	(4 + STORE_HHID_LEN)
#define AUDIT_INDEX_FORMAT_META	"audit_index_format"
#define AUDIT_INDEX_FORMAT	2
#define ACTOR_CACHE		8

/* ------------------------------------------------------------- helpers */

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

static char *
dupstr(const char *s)
{
	return strdup(nz(s));
}

/* The duplicate of an index entry: seq, then CRC-32 over key and seq. */
static void
dup_make(uint8_t d[AUDIT_DUP_LEN], const void *key, size_t klen,
    uint64_t seq)
{
	uLong crc = crc32_z(0L, Z_NULL, 0);

	util_be64_put(d, seq);
	crc = crc32_z(crc, key, klen);
	crc = crc32_z(crc, d, 8);
	d[8] = (uint8_t)(crc >> 24);
	d[9] = (uint8_t)(crc >> 16);
	d[10] = (uint8_t)(crc >> 8);
	d[11] = (uint8_t)crc;
}

static int
dup_ok(const MDB_val *key, const MDB_val *d, uint64_t *seq)
{
	uint8_t want[AUDIT_DUP_LEN];

	if (d->mv_size != AUDIT_DUP_LEN)
		return 0;
	*seq = util_be64_get(d->mv_data);
	dup_make(want, key->mv_data, key->mv_size, *seq);
	return memcmp(want, d->mv_data, AUDIT_DUP_LEN) == 0 && *seq != 0;
}

/* org \0 into buf; its length with the \0 (0: unusable in a key). */
static size_t
org_key(uint8_t *buf, const char *org)
{
	size_t n;

	if (org == NULL || (n = strnlen(org, AUDIT_ID_MAX + 1)) == 0 ||
	    n > AUDIT_ID_MAX)
		return 0;
	memcpy(buf, org, n);
	buf[n] = '\0';
	return n + 1;
}

/* ------------------------------------------------------------- actors */

static int
actor_empty(const EpAuditRecord *r)
{
	return r->actor == NULL && nz(r->actor_org_identifier)[0] == '\0' &&
	    nz(r->cert_serial)[0] == '\0';
}

/*
 * The keyed hash naming an actor in actor_idx: over the organisation, then
 * each other field with its length, so no two actors share the input.
 */
static int
actor_idx_key(struct stxn *tx, const EpAuditRecord *r, uint8_t *out)
{
	const struct seal_key *ik = keyring_index(tx->sx_store->st_keys);
	const EpPrincipal *p = r->actor;
	const char *sub = p != NULL ? nz(p->subject) : "";
	const char *oid = nz(r->actor_org_identifier);
	const char *ser = nz(r->cert_serial);
	size_t cap = strlen(sub) + strlen(oid) + strlen(ser) + 96;
	char *buf;
	int rc;

	if ((buf = malloc(cap)) == NULL)
		return -1;
	snprintf(buf, cap, "%c%d|%zu:%s|%zu:%s|%zu:%s", p != NULL ? 'p' : '-',
	    p != NULL ? (int)p->role : 0, strlen(sub), sub, strlen(oid), oid,
	    strlen(ser), ser);
	rc = seal_index_hash(ik, p != NULL ? nz(p->org) : "", buf, out);
	free(buf);
	return rc;
}

static int
actor_get(struct stxn *tx, uint64_t id, EpsActor **out)
{
	uint8_t key[8];

	util_be64_put(key, id);
	return store_get_msg(tx, DB_ACTORS, key, sizeof(key), 1,
	    &eenplan__store__actor__descriptor, (ProtobufCMessage **)out);
}

/* The actor's number, stored on first use; 0 for a record without one. */
static int
actor_ref(struct stxn *tx, const EpAuditRecord *r, uint64_t *id)
{
	uint8_t ikey[SEAL_INDEX_LEN], key[8];
	EpsActor a = EENPLAN__STORE__ACTOR__INIT;
	const uint8_t *p;
	uint8_t *owned;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t len;
	int rc, mrc;

	*id = 0;
	if (actor_empty(r))
		return STORE_OK;
	if (actor_idx_key(tx, r, ikey) != 0)
		return stxn_fail(tx, STORE_ERR);
	rc = store_get_frame(tx, DB_ACTOR_IDX, ikey, sizeof(ikey), 0, 0, 0,
	    &p, &len, &owned);
	if (rc == STORE_OK) {
		if (len == 8)
			*id = util_be64_get(p);
		free(owned);
		if (*id == 0) {
			k.mv_data = ikey;
			k.mv_size = sizeof(ikey);
			store_log_corrupt(DB_ACTOR_IDX, &k, "not an actor id");
			return stxn_fail(tx, STORE_CORRUPT);
		}
		return STORE_OK;
	}
	if (rc != STORE_NOTFOUND)
		return rc;
	/* A new actor: the next number. */
	if ((mrc = mdb_cursor_open(tx->sx_txn, tx->sx_store->st_dbi[DB_ACTORS],
	    &cur)) != MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "cursor", DB_ACTORS);
	mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (mrc == MDB_SUCCESS && k.mv_size == 8)
		*id = util_be64_get(k.mv_data) + 1;
	else if (mrc == MDB_NOTFOUND)
		*id = 1;
	else if (mrc == MDB_SUCCESS) {
		store_log_corrupt(DB_ACTORS, &k, "key is not an actor id");
		return stxn_fail(tx, STORE_CORRUPT);
	} else
		return stxn_mdb_fail(tx, mrc, "cursor get", DB_ACTORS);
	a.principal = r->actor;
	a.org_identifier = (char *)(uintptr_t)nz(r->actor_org_identifier);
	a.cert_serial = (char *)(uintptr_t)nz(r->cert_serial);
	util_be64_put(key, *id);
	if ((rc = store_put_frame(tx, DB_ACTORS, key, sizeof(key), &a.base,
	    NULL, 0, MDB_APPEND, NULL)) != STORE_OK ||
	    (rc = store_put_frame(tx, DB_ACTOR_IDX, ikey, sizeof(ikey), NULL,
	    key, sizeof(key), MDB_NOOVERWRITE, NULL)) != STORE_OK)
		return rc;
	return STORE_OK;
}

/* A few actors a scan met last: most pages of a log name few people. */
struct actor_cache {
	uint64_t	 ac_id[ACTOR_CACHE];
	EpsActor	*ac_actor[ACTOR_CACHE];
	unsigned	 ac_next;
};

static void
actor_cache_free(struct actor_cache *c)
{
	unsigned i;

	for (i = 0; i < ACTOR_CACHE; i++)
		if (c->ac_actor[i] != NULL)
			protobuf_c_message_free_unpacked(&c->ac_actor[i]->base,
			    NULL);
	memset(c, 0, sizeof(*c));
}

/* The actor by number, through the cache when there is one. */
static int
actor_find(struct stxn *tx, struct actor_cache *c, uint64_t id,
    EpsActor **out, EpsActor **owned)
{
	unsigned i;
	int rc;

	*owned = NULL;
	for (i = 0; c != NULL && i < ACTOR_CACHE; i++)
		if (c->ac_actor[i] != NULL && c->ac_id[i] == id) {
			*out = c->ac_actor[i];
			return STORE_OK;
		}
	if ((rc = actor_get(tx, id, out)) != STORE_OK)
		return rc;
	if (c == NULL) {
		*owned = *out;
		return STORE_OK;
	}
	i = c->ac_next++ % ACTOR_CACHE;
	if (c->ac_actor[i] != NULL)
		protobuf_c_message_free_unpacked(&c->ac_actor[i]->base, NULL);
	c->ac_actor[i] = *out;
	c->ac_id[i] = id;
	return STORE_OK;
}

/* ------------------------------------------------------------ entries */

static int
entry_get(struct stxn *tx, uint64_t seq, int must_exist, EpsAuditEntry **out)
{
	uint8_t key[8];

	util_be64_put(key, seq);
	return store_get_msg(tx, DB_LOG, key, sizeof(key), must_exist,
	    &eenplan__store__audit_entry__descriptor,
	    (ProtobufCMessage **)out);
}

static void
entry_free(EpsAuditEntry *e)
{
	if (e != NULL)
		protobuf_c_message_free_unpacked(&e->base, NULL);
}

/*
 * The hash record seq - 1 holds (zeros before the first): what the chain
 * says record seq's prev_hash is. STORE_NOTFOUND when that record is not
 * there, or (lax) holds no hash of the chain's length.
 */
static int
prev_of(struct stxn *tx, uint64_t seq, int lax, uint8_t out[AUDIT_HASH])
{
	struct store *st = tx->sx_store;
	EpsAuditEntry *e;
	int rc;

	if (seq <= 1) {
		memset(out, 0, AUDIT_HASH);
		return STORE_OK;
	}
	/* The writer's last append, while it is the one before. */
	if (tx->sx_kind != STXN_READ && st->st_audit_seq == seq - 1) {
		memcpy(out, st->st_audit_hash, AUDIT_HASH);
		return STORE_OK;
	}
	if ((rc = entry_get(tx, seq - 1, 0, &e)) != STORE_OK)
		return rc;
	if (e->hash.len != AUDIT_HASH && lax) {
		entry_free(e);
		return STORE_NOTFOUND;
	}
	if (e->hash.len != AUDIT_HASH) {
		MDB_val k;
		uint8_t key[8];

		util_be64_put(key, seq - 1);
		k.mv_data = key;
		k.mv_size = sizeof(key);
		store_log_corrupt(DB_LOG, &k, "record without its hash");
		entry_free(e);
		return stxn_fail(tx, STORE_CORRUPT);
	}
	memcpy(out, e->hash.data, AUDIT_HASH);
	entry_free(e);
	return STORE_OK;
}

/* The wire record from its entry; prev: the hash before it. */
static int
record_build(struct stxn *tx, struct actor_cache *c, uint64_t seq,
    const EpsAuditEntry *e, const uint8_t *prev, EpAuditRecord **out)
{
	EpsActor *a = NULL, *owned = NULL;
	EpAuditRecord *r = NULL;
	size_t i, plen = AUDIT_HASH;
	int rc;

	*out = NULL;
	if (e->actor != 0 && (rc = actor_find(tx, c, e->actor, &a, &owned)) !=
	    STORE_OK)
		return rc;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__audit_record__init(r);
	r->seq = seq;
	r->time = e->time;
	r->outcome = e->outcome;
	if (a != NULL && a->principal != NULL) {
		if ((r->actor = calloc(1, sizeof(*r->actor))) == NULL)
			goto oom;
		eenplan__v1__principal__init(r->actor);
		r->actor->role = a->principal->role;
		if ((r->actor->org = dupstr(a->principal->org)) == NULL ||
		    (r->actor->subject = dupstr(a->principal->subject)) == NULL)
			goto oom;
	}
	if ((r->actor_org_identifier = dupstr(a != NULL ?
	    a->org_identifier : NULL)) == NULL ||
	    (r->cert_serial = dupstr(a != NULL ? a->cert_serial : NULL)) ==
	    NULL ||
	    (r->action = dupstr(e->action)) == NULL ||
	    (r->detail = dupstr(e->detail)) == NULL ||
	    (r->peer = dupstr(e->peer)) == NULL ||
	    (r->purpose = dupstr(e->purpose)) == NULL ||
	    (r->actor_capacity = dupstr(e->actor_capacity)) == NULL)
		goto oom;
	if (e->household.len == STORE_HHID_LEN) {
		if ((r->household_id = malloc(2 * STORE_HHID_LEN + 1)) == NULL)
			goto oom;
		util_hex(e->household.data, STORE_HHID_LEN, r->household_id);
	} else if ((r->household_id = dupstr(e->household_text)) == NULL)
		goto oom;
	if (e->n_listed_households > 0) {
		if ((r->listed_households = calloc(e->n_listed_households,
		    sizeof(char *))) == NULL)
			goto oom;
		for (i = 0; i < e->n_listed_households; i++) {
			if ((r->listed_households[i] =
			    dupstr(e->listed_households[i])) == NULL)
				goto oom;
			r->n_listed_households++;
		}
	}
	/* Hashes of another length (damage) read as they are: verify says so. */
	if (e->prev_hash_stored) {
		prev = e->prev_hash.data;
		plen = e->prev_hash.len;
	}
	if ((r->hash.data = malloc(e->hash.len + 1)) == NULL ||
	    (r->prev_hash.data = malloc(plen + 1)) == NULL)
		goto oom;
	if (e->hash.len > 0)
		memcpy(r->hash.data, e->hash.data, e->hash.len);
	r->hash.len = e->hash.len;
	if (plen > 0)
		memcpy(r->prev_hash.data, prev, plen);
	r->prev_hash.len = plen;
	if (owned != NULL)
		protobuf_c_message_free_unpacked(&owned->base, NULL);
	*out = r;
	return STORE_OK;
oom:
	if (owned != NULL)
		protobuf_c_message_free_unpacked(&owned->base, NULL);
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	return stxn_fail(tx, STORE_ERR);
}

/* ----------------------------------------------------------- the log */

int
store_audit_put(struct stxn *tx, const EpAuditRecord *rec)
{
	EpsAuditEntry e = EENPLAN__STORE__AUDIT_ENTRY__INIT;
	struct store *st = tx->sx_store;
	uint8_t key[8], hh[STORE_HHID_LEN], prev[AUDIT_HASH];
	uint64_t actor, last = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, mrc;

	if (rec == NULL || rec->seq == 0) {
		log_warnx("store: audit record without seq");
		return STORE_ERR;
	}
	if ((rc = stxn_writable(tx)) != STORE_OK)
		return rc;
	if ((rc = actor_ref(tx, rec, &actor)) != STORE_OK)
		return rc;
	e.time = rec->time;
	e.actor = actor;
	e.action = (char *)(uintptr_t)nz(rec->action);
	if (rec->household_id != NULL && store_hhid(rec->household_id, hh) == 0) {
		e.household.data = hh;
		e.household.len = sizeof(hh);
	} else
		e.household_text = (char *)(uintptr_t)nz(rec->household_id);
	e.outcome = rec->outcome;
	e.detail = (char *)(uintptr_t)nz(rec->detail);
	e.peer = (char *)(uintptr_t)nz(rec->peer);
	e.purpose = (char *)(uintptr_t)nz(rec->purpose);
	e.hash = rec->hash;
	e.n_listed_households = rec->n_listed_households;
	e.listed_households = rec->listed_households;
	e.actor_capacity = (char *)(uintptr_t)nz(rec->actor_capacity);
	/* prev_hash is kept only when the chain does not already say it. */
	rc = prev_of(tx, rec->seq, 1, prev);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	if (rc == STORE_NOTFOUND || rec->prev_hash.len != AUDIT_HASH ||
	    memcmp(rec->prev_hash.data, prev, AUDIT_HASH) != 0) {
		/* Even an empty one: it must not read as the chain's. */
		e.prev_hash = rec->prev_hash;
		e.prev_hash_stored = 1;
	}
	/* Records come in seq order: appended, pages filled. */
	if ((mrc = mdb_cursor_open(tx->sx_txn, st->st_dbi[DB_LOG], &cur)) !=
	    MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "cursor", DB_LOG);
	if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == MDB_SUCCESS &&
	    k.mv_size == 8)
		last = util_be64_get(k.mv_data);
	mdb_cursor_close(cur);
	util_be64_put(key, rec->seq);
	/* Audit records are never overwritten, whatever the caller believes. */
	if ((rc = store_put_frame(tx, DB_LOG, key, sizeof(key), &e.base, NULL,
	    0, rec->seq > last ? MDB_APPEND : MDB_NOOVERWRITE, NULL)) !=
	    STORE_OK)
		return rc;
	st->st_audit_seq = 0;
	if (rec->hash.len == AUDIT_HASH) {
		memcpy(st->st_audit_hash, rec->hash.data, AUDIT_HASH);
		st->st_audit_seq = rec->seq;
	}
	return STORE_OK;
}

int
store_audit_get(struct stxn *tx, uint64_t seq, EpAuditRecord **out)
{
	uint8_t prev[AUDIT_HASH];
	EpsAuditEntry *e;
	int rc;

	*out = NULL;
	if ((rc = entry_get(tx, seq, 0, &e)) != STORE_OK)
		return rc;
	if (!e->prev_hash_stored && (rc = prev_of(tx, seq, 0, prev)) !=
	    STORE_OK) {
		entry_free(e);
		/* The record before is gone: this one cannot say its chain. */
		return rc == STORE_NOTFOUND ? stxn_fail(tx, STORE_CORRUPT) : rc;
	}
	rc = record_build(tx, NULL, seq, e, prev, out);
	entry_free(e);
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
	if ((mrc = mdb_cursor_open(tx->sx_txn, tx->sx_store->st_dbi[DB_LOG],
	    &cur)) != MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "cursor", DB_LOG);
	mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (mrc == MDB_SUCCESS) {
		if (k.mv_size == 8 && (rc = stxn_fail(tx, store_frame_verify(tx,
		    DB_LOG, &k, &v))) == STORE_OK)
			*seq = util_be64_get(k.mv_data);
		else if (k.mv_size != 8) {
			store_log_corrupt(DB_LOG, &k,
			    "key is not a sequence number");
			rc = stxn_fail(tx, STORE_CORRUPT);
		}
	} else if (mrc == MDB_NOTFOUND)
		rc = STORE_OK;
	else
		rc = stxn_mdb_fail(tx, mrc, "cursor get", DB_LOG);
	mdb_cursor_close(cur);
	return rc;
}

/* ------------------------------------------------------------ scans */

struct audit_scan {
	struct stxn	 *as_tx;
	const char	 *as_hhid;	/* the household asked for, or NULL */
	const char	 *as_org;	/* the organisation asked for, or NULL */
	uint64_t	  as_prev_seq;	/* the last entry seen, its hash: */
	uint8_t		  as_prev[AUDIT_HASH];
	struct actor_cache as_cache;
	int		(*as_cb)(const EpAuditRecord *, void *);
	void		 *as_arg;
	int		  as_stopped;	/* the callback asked to stop */
};

/* The log_hh key of household hh16's records in seq's bucket. */
static void
hh_key(uint8_t out[AUDIT_HH_KEY_LEN], uint64_t seq, const uint8_t *hh16)
{
	uint64_t b = seq >> AUDIT_BUCKET_SHIFT;

	out[0] = (uint8_t)(b >> 24);
	out[1] = (uint8_t)(b >> 16);
	out[2] = (uint8_t)(b >> 8);
	out[3] = (uint8_t)b;
	memcpy(out + 4, hh16, STORE_HHID_LEN);
}

static int
names_household(const EpAuditRecord *r, const char *hhid)
{
	size_t i;

	if (strcmp(nz(r->household_id), hhid) == 0)
		return 1;
	for (i = 0; i < r->n_listed_households; i++)
		if (strcmp(nz(r->listed_households[i]), hhid) == 0)
			return 1;
	return 0;
}

static int
by_org(const EpAuditRecord *r, const char *org)
{
	return r->actor != NULL && strcmp(nz(r->actor->org), org) == 0;
}

/*
 * One entry: built and checked against what the index said of it (in the
 * index part) or filtered (in the tail), then handed to the callback.
 * 0 go on, 1 stop, < 0 a STORE_* error.
 */
static int
scan_emit(struct audit_scan *as, uint64_t seq, const EpsAuditEntry *e,
    int indexed_by)
{
	EpAuditRecord *r;
	uint8_t prev[AUDIT_HASH];
	uint8_t key[8];
	MDB_val k;
	int rc, keep, stop;

	if (!e->prev_hash_stored) {
		if (as->as_prev_seq != 0 && as->as_prev_seq == seq - 1)
			memcpy(prev, as->as_prev, AUDIT_HASH);
		else if ((rc = prev_of(as->as_tx, seq, 0, prev)) != STORE_OK)
			return rc == STORE_NOTFOUND ?
			    stxn_fail(as->as_tx, STORE_CORRUPT) : rc;
	}
	if (e->hash.len == AUDIT_HASH) {
		as->as_prev_seq = seq;
		memcpy(as->as_prev, e->hash.data, AUDIT_HASH);
	} else
		as->as_prev_seq = 0;
	if ((rc = record_build(as->as_tx, &as->as_cache, seq, e, prev, &r)) !=
	    STORE_OK)
		return rc;
	keep = (as->as_hhid == NULL || names_household(r, as->as_hhid)) &&
	    (as->as_org == NULL || by_org(r, as->as_org));
	/* What the index the record came by says of it must hold. */
	if ((indexed_by == DB_LOG_HH && !names_household(r, as->as_hhid)) ||
	    (indexed_by == DB_LOG_ORG && !by_org(r, as->as_org))) {
		/* The index named a record that is not of its key. */
		util_be64_put(key, seq);
		k.mv_data = key;
		k.mv_size = sizeof(key);
		store_log_corrupt(indexed_by, &k, indexed_by == DB_LOG_HH ?
		    "indexes a record of another household" :
		    "indexes a record of another organisation");
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return STORE_CORRUPT;
	}
	stop = keep ? as->as_cb(r, as->as_arg) : 0;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return stop != 0 ? 1 : 0;
}

/* One entry of the log (a store_scan callback). */
static int
scan_log_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct audit_scan *as = arg;
	EpsAuditEntry *e;
	int rc;

	if (key->mv_size != 8) {
		store_log_corrupt(DB_LOG, key, "key is not a sequence number");
		return STORE_CORRUPT;
	}
	if ((rc = store_unpack(as->as_tx, DB_LOG, key->mv_data, key->mv_size,
	    &eenplan__store__audit_entry__descriptor, p, len,
	    (ProtobufCMessage **)&e)) != STORE_OK)
		return rc;
	rc = scan_emit(as, util_be64_get(key->mv_data), e, DB_LOG);
	entry_free(e);
	return rc;
}

/*
 * key is not in the index db: the keys either side of where it would be
 * must be in order and their first duplicates whole, else a damaged key
 * would read as "no records".
 */
static int
dup_checked_miss(struct stxn *tx, int db, MDB_cursor *cur, const MDB_val *key)
{
	MDB_val k = *key, d;
	uint64_t seq;
	int mrc, cmp;

	mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	if (mrc == MDB_SUCCESS) {
		cmp = store_key_cmp(k.mv_data, k.mv_size, key->mv_data,
		    key->mv_size);
		if (cmp <= 0 || !dup_ok(&k, &d, &seq))
			goto damaged;
		mrc = mdb_cursor_get(cur, &k, &d, MDB_PREV_NODUP);
	} else if (mrc == MDB_NOTFOUND)
		mrc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	if (mrc == MDB_SUCCESS) {
		cmp = store_key_cmp(k.mv_data, k.mv_size, key->mv_data,
		    key->mv_size);
		if (cmp >= 0 || !dup_ok(&k, &d, &seq))
			goto damaged;
	} else if (mrc != MDB_NOTFOUND)
		return stxn_mdb_fail(tx, mrc, "cursor get", db);
	return STORE_OK;
damaged:
	store_log_corrupt(db, &k, "index entry damaged or out of order");
	return stxn_fail(tx, STORE_CORRUPT);
}

/*
 * The index part of a scan: key's records with after < seq <= upto, the
 * index read in ix (the index's environment), the records in the scan's
 * own txn.
 */
static int
scan_index(struct audit_scan *as, struct stxn *ix, int db, const void *keyb,
    size_t klen, uint64_t after, uint64_t upto)
{
	struct stxn *tx = as->as_tx;
	uint8_t start[AUDIT_DUP_LEN];
	EpsAuditEntry *e;
	MDB_cursor *cur;
	MDB_val k, d;
	uint64_t seq;
	int mrc, rc = STORE_OK;

	if (after >= upto)
		return STORE_OK;
	if ((mrc = mdb_cursor_open(ix->sx_txn, ix->sx_store->st_dbi[db],
	    &cur)) != MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "cursor", db);
	k.mv_data = (void *)(uintptr_t)keyb;
	k.mv_size = klen;
	mrc = mdb_cursor_get(cur, &k, &d, MDB_SET);
	if (mrc == MDB_NOTFOUND) {
		if ((rc = dup_checked_miss(ix, db, cur, &k)) != STORE_OK)
			rc = stxn_fail(tx, rc);
		goto out;
	}
	if (mrc == MDB_SUCCESS) {
		memset(start, 0, sizeof(start));
		util_be64_put(start, after + 1);
		d.mv_data = start;
		d.mv_size = sizeof(start);
		mrc = mdb_cursor_get(cur, &k, &d, MDB_GET_BOTH_RANGE);
	}
	while (mrc == MDB_SUCCESS) {
		if (!dup_ok(&k, &d, &seq)) {
			store_log_corrupt(db, &k, "index entry damaged");
			rc = stxn_fail(tx, STORE_CORRUPT);
			goto out;
		}
		if (seq > upto)
			break;
		if ((rc = entry_get(tx, seq, 1, &e)) != STORE_OK)
			goto out;
		rc = scan_emit(as, seq, e, db);
		entry_free(e);
		if (rc != 0) {
			as->as_stopped = rc > 0;
			rc = rc > 0 ? STORE_OK : stxn_fail(tx, rc);
			goto out;
		}
		mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP);
	}
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
		rc = stxn_fail(tx, stxn_mdb_fail(ix, mrc, "cursor get", db));
out:
	mdb_cursor_close(cur);
	return rc;
}

/* A household's records with after < seq <= upto: bucket by bucket. */
static int
scan_index_hh(struct audit_scan *as, struct stxn *ix, const uint8_t *hh16,
    uint64_t after, uint64_t upto)
{
	uint8_t key[AUDIT_HH_KEY_LEN];
	uint64_t b, first, last;
	int rc = STORE_OK;

	if (after >= upto)
		return STORE_OK;
	first = (after + 1) >> AUDIT_BUCKET_SHIFT;
	last = upto >> AUDIT_BUCKET_SHIFT;
	for (b = first; b <= last && rc == STORE_OK && !as->as_stopped;
	    b++) {
		hh_key(key, b << AUDIT_BUCKET_SHIFT, hh16);
		rc = scan_index(as, ix, DB_LOG_HH, key, sizeof(key), after,
		    upto);
	}
	return rc;
}

/* 1 when the scan's callback asked to stop (as_stopped). */
struct stop_probe {
	int	(*sp_cb)(const EpAuditRecord *, void *);
	void	 *sp_arg;
	int	  sp_stopped;
};

static int
stop_probe_cb(const EpAuditRecord *r, void *arg)
{
	struct stop_probe *sp = arg;
	int rc = sp->sp_cb(r, sp->sp_arg);

	if (rc != 0)
		sp->sp_stopped = 1;
	return rc;
}

int
store_audit_scan(struct stxn *tx, const char *hhid, const char *org,
    uint64_t after, int (*cb)(const EpAuditRecord *, void *), void *arg)
{
	uint8_t key[AUDIT_ID_MAX + 1], start[8];
	struct audit_scan as;
	struct stop_probe sp;
	struct stxn *ix;
	uint64_t indexed = 0, last;
	size_t n;
	int rc;

	if (cb == NULL)
		return STORE_ERR;
	if (after == UINT64_MAX)
		return STORE_OK;
	if ((rc = stxn_readable(tx)) != STORE_OK)
		return rc;
	memset(&as, 0, sizeof(as));
	memset(&sp, 0, sizeof(sp));
	sp.sp_cb = cb;
	sp.sp_arg = arg;
	as.as_tx = tx;
	as.as_cb = stop_probe_cb;
	as.as_arg = &sp;
	as.as_hhid = hhid;
	as.as_org = org;
	if (hhid != NULL && store_hhid(hhid, key) != 0)
		return STORE_OK;	/* never indexed, never named */
	if (hhid == NULL && org != NULL && org_key(key, org) == 0)
		return STORE_OK;
	/*
	 * The index's snapshot, taken after ours, may have indexed records
	 * past our snapshot's last: it is read only up to that last, and the
	 * log after what it had indexed, so every record committed before
	 * this txn began is seen exactly once. Without an index (a read-only
	 * open of a store that has none yet), the whole log is read.
	 */
	if ((hhid != NULL || org != NULL) && tx->sx_store->st_index != NULL) {
		if ((ix = store_reader_new(tx->sx_store->st_index)) == NULL)
			return stxn_fail(tx, STORE_ERR);
		if ((rc = store_reader_begin(ix)) != STORE_OK ||
		    (rc = store_meta_get_u64(ix, AUDIT_INDEXED_META,
		    &indexed)) != STORE_OK ||
		    (rc = store_audit_last(tx, &last)) != STORE_OK) {
			store_reader_free(ix);
			return stxn_fail(tx, rc);
		}
		if (indexed > last)
			indexed = last;
		if (hhid != NULL)
			rc = scan_index_hh(&as, ix, key, after, indexed);
		else {
			n = org_key(key, org);
			rc = scan_index(&as, ix, DB_LOG_ORG, key, n, after,
			    indexed);
		}
		store_reader_free(ix);
	}
	/* The log past what is indexed (all of it for an unfiltered scan). */
	if (rc == STORE_OK && !sp.sp_stopped) {
		util_be64_put(start, (after > indexed ? after : indexed) + 1);
		rc = store_scan(tx, DB_LOG, NULL, 0, start, sizeof(start),
		    scan_log_one, &as);
	}
	actor_cache_free(&as.as_cache);
	return rc;
}

/* ------------------------------------------------------------ indexes */

/*
 * Puts (del 0) or removes (del 1; absent is fine) the index entry of
 * record seq under key.
 */
static int
index_set(struct stxn *tx, int db, const void *keyb, size_t klen,
    uint64_t seq, int del)
{
	uint8_t d[AUDIT_DUP_LEN];
	MDB_val k, v;
	int mrc;

	dup_make(d, keyb, klen, seq);
	k.mv_data = (void *)(uintptr_t)keyb;
	k.mv_size = klen;
	v.mv_data = d;
	v.mv_size = sizeof(d);
	if (del) {
		mrc = mdb_del(tx->sx_txn, tx->sx_store->st_dbi[db], &k, &v);
		if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
			return stxn_mdb_fail(tx, mrc, "del", db);
		return STORE_OK;
	}
	if ((mrc = mdb_put(tx->sx_txn, tx->sx_store->st_dbi[db], &k, &v, 0)) !=
	    MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "put", db);
	tx->sx_bytes += klen + sizeof(d);
	return STORE_OK;
}

#define index_put(tx, db, k, klen, seq)	index_set(tx, db, k, klen, seq, 0)
#define index_del(tx, db, k, klen, seq)	index_set(tx, db, k, klen, seq, 1)

struct index_arg {
	struct stxn	*ia_tx;		/* the store's: the log */
	struct stxn	*ia_ix;		/* the index's: written */
	struct actor_cache ia_cache;
	uint64_t	 ia_last;	/* the last seq indexed */
	uint64_t	 ia_upto;	/* the last seq to index */
	uint8_t		 ia_hash[AUDIT_HASH];	/* ia_last's hash */
	int		 ia_hashed;	/* ia_hash holds it */
	unsigned	 ia_n;
	unsigned	 ia_max;	/* records this call */
};

static int
index_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct index_arg *ia = arg;
	struct stxn *tx = ia->ia_tx, *ix = ia->ia_ix;
	uint8_t hh[STORE_HHID_LEN], ok[AUDIT_ID_MAX + 1], hk[AUDIT_HH_KEY_LEN];
	EpsActor *a, *owned;
	EpsAuditEntry *e;
	uint64_t seq;
	size_t i, n;
	int rc = STORE_OK;

	if (key->mv_size != 8) {
		store_log_corrupt(DB_LOG, key, "key is not a sequence number");
		return STORE_CORRUPT;
	}
	if ((seq = util_be64_get(key->mv_data)) > ia->ia_upto)
		return 1;
	if ((rc = store_unpack(tx, DB_LOG, key->mv_data, key->mv_size,
	    &eenplan__store__audit_entry__descriptor, p, len,
	    (ProtobufCMessage **)&e)) != STORE_OK)
		return rc;
	if (e->household.len == STORE_HHID_LEN) {
		hh_key(hk, seq, e->household.data);
		rc = index_put(ix, DB_LOG_HH, hk, sizeof(hk), seq);
	}
	for (i = 0; rc == STORE_OK && i < e->n_listed_households; i++) {
		if (store_hhid(e->listed_households[i], hh) != 0 ||
		    (e->household.len == STORE_HHID_LEN &&
		    memcmp(hh, e->household.data, STORE_HHID_LEN) == 0))
			continue;
		hh_key(hk, seq, hh);
		rc = index_put(ix, DB_LOG_HH, hk, sizeof(hk), seq);
	}
	if (rc == STORE_OK && e->actor != 0 &&
	    (rc = actor_find(tx, &ia->ia_cache, e->actor, &a, &owned)) ==
	    STORE_OK && a->principal != NULL &&
	    (n = org_key(ok, a->principal->org)) > 0)
		rc = index_put(ix, DB_LOG_ORG, ok, n, seq);
	if (rc == STORE_OK) {
		ia->ia_hashed = e->hash.len == AUDIT_HASH;
		if (ia->ia_hashed)
			memcpy(ia->ia_hash, e->hash.data, AUDIT_HASH);
	}
	entry_free(e);
	if (rc != STORE_OK)
		return rc;
	ia->ia_last = seq;
	return ++ia->ia_n >= ia->ia_max ? 1 : 0;
}

/*
 * Indexes the records of tx's log past the index's audit_indexed, up to
 * upto (at most max of them), into ix. The index keeps the hash of the
 * last record it indexed, so that an index that does not belong to the
 * log beside it (a data file put back without its index) is known.
 */
static int
index_run(struct stxn *tx, struct stxn *ix, uint64_t upto, unsigned max,
    uint64_t *indexed_out, uint64_t *pending)
{
	struct index_arg ia;
	uint8_t start[8];
	uint64_t indexed, last;
	int rc;

	*pending = 0;
	if ((rc = store_meta_get_u64(ix, AUDIT_INDEXED_META, &indexed)) !=
	    STORE_OK || (rc = store_audit_last(tx, &last)) != STORE_OK)
		return rc;
	*indexed_out = indexed;
	if (upto > last)
		upto = last;
	if (upto <= indexed)
		return STORE_OK;
	memset(&ia, 0, sizeof(ia));
	ia.ia_tx = tx;
	ia.ia_ix = ix;
	ia.ia_last = indexed;
	ia.ia_upto = upto;
	ia.ia_max = max == 0 || max > AUDIT_INDEX_CHUNK ? AUDIT_INDEX_CHUNK : max;
	util_be64_put(start, indexed + 1);
	rc = store_scan(tx, DB_LOG, NULL, 0, start, sizeof(start), index_one,
	    &ia);
	actor_cache_free(&ia.ia_cache);
	if (rc != STORE_OK)
		return rc;
	if (ia.ia_last > indexed && ((rc = store_meta_put_u64(ix,
	    AUDIT_INDEXED_META, ia.ia_last)) != STORE_OK ||
	    (rc = ia.ia_hashed ? store_meta_put(ix, AUDIT_INDEXED_HASH_META,
	    ia.ia_hash, AUDIT_HASH) : store_del_key(ix, DB_META,
	    AUDIT_INDEXED_HASH_META, strlen(AUDIT_INDEXED_HASH_META))) !=
	    STORE_OK) && rc != STORE_NOTFOUND)
		return rc;
	*indexed_out = ia.ia_last;
	*pending = upto - ia.ia_last;
	return STORE_OK;
}

int
store_audit_index(struct store *st, uint64_t upto, unsigned max,
    uint64_t *pending)
{
	struct stxn *rd, *ix;
	uint64_t left = 0, indexed = 0;
	int rc;

	if (pending != NULL)
		*pending = 0;
	if (st->st_index == NULL)
		return STORE_READONLY;
	if ((rd = store_reader_new(st)) == NULL)
		return STORE_ERR;
	if ((rc = store_reader_begin(rd)) != STORE_OK) {
		store_reader_free(rd);
		return rc;
	}
	if ((rc = store_index_write_begin(st, &ix)) == STORE_OK) {
		if ((rc = index_run(rd, ix, upto, max, &indexed, &left)) !=
		    STORE_OK)
			store_abort(ix);
		else if ((rc = store_commit(ix)) == STORE_OK)
			atomic_store(&st->st_index->st_indexed, indexed);
	}
	store_reader_free(rd);
	if (rc == STORE_OK && pending != NULL)
		*pending = left;
	return rc;
}

int
store_audit_index_flush(struct store *st)
{
	if (st->st_index == NULL)
		return STORE_OK;
	return store_sync(st->st_index);
}

uint64_t
store_audit_indexed(struct store *st)
{
	return st->st_index != NULL ? atomic_load(&st->st_index->st_indexed) :
	    0;
}

int
store_audit_index_reset(struct store *st)
{
	struct stxn *ix;
	int mrc, rc;

	if (st->st_index == NULL)
		return STORE_OK;
	if ((rc = store_index_write_begin(st, &ix)) != STORE_OK)
		return rc;
	if ((mrc = mdb_drop(ix->sx_txn, st->st_index->st_dbi[DB_LOG_HH], 0)) !=
	    MDB_SUCCESS ||
	    (mrc = mdb_drop(ix->sx_txn, st->st_index->st_dbi[DB_LOG_ORG], 0)) !=
	    MDB_SUCCESS)
		rc = stxn_mdb_fail(ix, mrc, "drop", DB_LOG_HH);
	if (rc == STORE_OK)
		rc = store_meta_put_u64(ix, AUDIT_INDEXED_META, 0);
	if (rc == STORE_OK)
		rc = store_meta_put_u64(ix, AUDIT_INDEX_FORMAT_META,
		    AUDIT_INDEX_FORMAT);
	if (rc == STORE_OK && (rc = store_del_key(ix, DB_META,
	    AUDIT_INDEXED_HASH_META, strlen(AUDIT_INDEXED_HASH_META))) ==
	    STORE_NOTFOUND)
		rc = STORE_OK;
	if (rc != STORE_OK) {
		store_abort(ix);
		return rc;
	}
	if ((rc = store_commit(ix)) == STORE_OK)
		atomic_store(&st->st_index->st_indexed, 0);
	return rc;
}

int
store_audit_index_check(struct store *st)
{
	uint8_t hash[AUDIT_HASH];
	struct stxn *rd = NULL, *ix = NULL;
	EpsAuditEntry *e = NULL;
	uint64_t indexed, last, format = 0;
	size_t hlen = 0;
	const char *why = NULL;
	int rc, quiet = 0, old_format = 0;

	if (st->st_index == NULL)
		return STORE_OK;
	if ((rd = store_reader_new(st)) == NULL ||
	    (ix = store_reader_new(st->st_index)) == NULL) {
		store_reader_free(rd);
		return STORE_ERR;
	}
	/*
	 * The index's snapshot first: beside a running daemon (rekey, -n),
	 * what its indexer indexed by then was durable, so in the log's
	 * snapshot taken after.
	 */
	if ((rc = store_reader_begin(ix)) != STORE_OK ||
	    (rc = store_reader_begin(rd)) != STORE_OK)
		goto out;
	/* The index's own bookkeeping damaged: it is only derived data. */
	if ((rc = store_meta_get_u64(ix, AUDIT_INDEXED_META, &indexed)) ==
	    STORE_CORRUPT) {
		why = "its record of how far it got is damaged";
		rc = STORE_OK;
		goto out;
	}
	if (rc != STORE_OK)
		goto out;
	if ((rc = store_meta_get_u64(ix, AUDIT_INDEX_FORMAT_META, &format)) ==
	    STORE_NOTFOUND || (rc == STORE_OK && format !=
	    AUDIT_INDEX_FORMAT)) {
		/* Empty: only its format to record, nothing to say of it. */
		if (indexed != 0)
			old_format = 1;
		else
			quiet = 1;
		rc = STORE_OK;
		goto out;
	} else if (rc == STORE_CORRUPT) {
		why = "its record of its format is damaged";
		rc = STORE_OK;
		goto out;
	} else if (rc != STORE_OK)
		goto out;
	if (indexed == 0)
		goto out;
	rc = store_meta_get(ix, AUDIT_INDEXED_HASH_META, hash, sizeof(hash),
	    &hlen);
	if (rc == STORE_NOTFOUND)
		hlen = 0;
	else if (rc == STORE_CORRUPT || (rc == STORE_OK &&
	    hlen != AUDIT_HASH)) {
		why = "its record of the last record it indexed is damaged";
		rc = STORE_OK;
		goto out;
	} else if (rc != STORE_OK)
		goto out;
	if ((rc = store_audit_last(rd, &last)) != STORE_OK)
		goto log_damaged;
	if (indexed > last)
		why = "it indexed records past the log's last";
	else if ((rc = entry_get(rd, indexed, 0, &e)) == STORE_NOTFOUND)
		why = "the last record it indexed is not in the log";
	else if (rc != STORE_OK)
		goto log_damaged;
	else if (hlen != (e->hash.len == AUDIT_HASH ? AUDIT_HASH : 0) ||
	    (hlen == AUDIT_HASH && CRYPTO_memcmp(hash, e->hash.data,
	    AUDIT_HASH) != 0))
		why = "the last record it indexed is not the one in the log";
	rc = STORE_OK;
	goto out;
log_damaged:
	/*
	 * A damaged log cannot say whether the index is its own: the index
	 * is kept, the store opens, and the reads that meet the damage report
	 * it, as for any other damaged entry.
	 */
	if (rc == STORE_CORRUPT) {
		log_warnx("store: the audit index is kept unchecked: the "
		    "log is damaged (its last record, or record %llu)",
		    (unsigned long long)indexed);
		rc = STORE_OK;
	}
out:
	entry_free(e);
	store_reader_free(ix);
	store_reader_free(rd);
	if (rc != STORE_OK)
		return rc;
	if (quiet && !st->st_readonly)
		return store_audit_index_reset(st);	/* records the format */
	if (old_format) {
		log_warnx("store: the audit index is of an earlier format "
		    "(keyed by household alone): %s", st->st_readonly ?
		    "not used (audit queries read the log)" :
		    "built again from the log");
		if (!st->st_readonly)
			return store_audit_index_reset(st);
		store_close(st->st_index);
		st->st_index = NULL;
		return STORE_OK;
	}
	if (why == NULL)
		return STORE_OK;
	if (st->st_readonly) {
		/* Not ours to change: gone without it, reading the log. */
		log_warnx("store: the audit index does not belong to this log "
		    "or is damaged (%s): not used (audit queries read the "
		    "log)", why);
		store_close(st->st_index);
		st->st_index = NULL;
		return STORE_OK;
	}
	log_warnx("store: the audit index does not belong to this log or is "
	    "damaged (%s): built again from the log", why);
	return store_audit_index_reset(st);
}

/* ------------------------------------------------------- raw (tests) */

int
store_audit_raw_replace(struct stxn *tx, const EpAuditRecord *rec)
{
	uint8_t key[8];
	int rc;

	if (rec == NULL || rec->seq == 0)
		return STORE_ERR;
	util_be64_put(key, rec->seq);
	rc = store_del_key(tx, DB_LOG, key, sizeof(key));
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	tx->sx_store->st_audit_seq = 0;
	return store_audit_put(tx, rec);
}

/* ---------------------------------------------- the retention purge */

/*
 * Record seq keeps its prev_hash in its own entry: the record before it,
 * which says it otherwise, is about to go.
 */
static int
entry_keep_prev(struct stxn *tx, uint64_t seq)
{
	uint8_t key[8], prev[AUDIT_HASH];
	EpsAuditEntry *e;
	int rc;

	if ((rc = entry_get(tx, seq, 0, &e)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	if (e->prev_hash_stored) {
		entry_free(e);
		return STORE_OK;
	}
	if ((rc = prev_of(tx, seq, 0, prev)) != STORE_OK) {
		entry_free(e);
		return rc == STORE_NOTFOUND ? stxn_fail(tx, STORE_CORRUPT) : rc;
	}
	free(e->prev_hash.data);
	if ((e->prev_hash.data = malloc(AUDIT_HASH)) == NULL) {
		entry_free(e);
		return stxn_fail(tx, STORE_ERR);
	}
	memcpy(e->prev_hash.data, prev, AUDIT_HASH);
	e->prev_hash.len = AUDIT_HASH;
	e->prev_hash_stored = 1;
	util_be64_put(key, seq);
	rc = store_put_frame(tx, DB_LOG, key, sizeof(key), &e->base, NULL, 0,
	    0, NULL);
	entry_free(e);
	return rc;
}

/*
 * For the retention purge (ops): record seq goes; the record after it first
 * keeps the hash of this one as its prev_hash, so it still says where the
 * chain comes from. The purge empties the audit index first
 * (store_audit_index_reset) and builds it again after.
 */
int
store_audit_del(struct stxn *tx, uint64_t seq)
{
	uint8_t key[8];
	EpsAuditEntry *e;
	int rc;

	if ((rc = stxn_writable(tx)) != STORE_OK)
		return rc;
	if ((rc = entry_get(tx, seq, 0, &e)) != STORE_OK)
		return rc;
	entry_free(e);
	if ((rc = entry_keep_prev(tx, seq + 1)) != STORE_OK)
		return rc;
	util_be64_put(key, seq);
	rc = store_del_key(tx, DB_LOG, key, sizeof(key));
	if (tx->sx_store->st_audit_seq == seq)
		tx->sx_store->st_audit_seq = 0;
	return rc;
}
