/*
 * store_v1: reading a schema-1 store (the layout of the first release:
 * whole plans per version, CRC frames, nothing sealed) for the migration
 * to schema 2 (daemon/migrate.c), and dropping what was migrated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "log.h"
#include "util.h"
#include "store.h"
#include "store_v1.h"
#include "store_impl.h"

#define V1_ID_LEN	32	/* household ids as text in schema-1 keys */

static int
v1_present(const struct store *st, int db)
{
	return st->st_dbi[db] != 0;
}

int
store_v1_needed(struct store *st)
{
	return st->st_schema < STORE_SCHEMA_VERSION;
}

static size_t
v1_key(uint8_t *buf, const char *hhid, uint64_t v)
{
	memcpy(buf, hhid, V1_ID_LEN);
	util_be64_put(buf + V1_ID_LEN, v);
	return V1_ID_LEN + 8;
}

/* The first key of db (must be at least minlen bytes) into key/klen. */
static int
v1_first(struct stxn *tx, int db, uint8_t *key, size_t cap, size_t *klen)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int mrc, rc;

	*klen = 0;
	if (!v1_present(tx->sx_store, db))
		return STORE_NOTFOUND;
	if ((mrc = mdb_cursor_open(tx->sx_txn, tx->sx_store->st_dbi[db],
	    &cur)) != MDB_SUCCESS)
		return stxn_mdb_fail(tx, mrc, "cursor", db);
	mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	if (mrc == MDB_SUCCESS) {
		if (k.mv_size > cap) {
			store_log_corrupt(db, &k, "schema-1 key too long");
			rc = stxn_fail(tx, STORE_CORRUPT);
		} else {
			memcpy(key, k.mv_data, k.mv_size);
			*klen = k.mv_size;
			rc = STORE_OK;
		}
	} else
		rc = mrc == MDB_NOTFOUND ? STORE_NOTFOUND :
		    stxn_mdb_fail(tx, mrc, "cursor get", db);
	mdb_cursor_close(cur);
	return rc;
}

int
store_v1_next_household(struct stxn *tx, char out[V1_ID_LEN + 1])
{
	uint8_t key[STORE_KEY_MAX];
	size_t klen;
	int rc;

	if ((rc = v1_first(tx, DB_V1_HOUSEHOLDS, key, sizeof(key), &klen)) !=
	    STORE_OK)
		return rc;
	if (klen != V1_ID_LEN) {
		MDB_val k = { klen, key };

		store_log_corrupt(DB_V1_HOUSEHOLDS, &k, "not a household id");
		return stxn_fail(tx, STORE_CORRUPT);
	}
	memcpy(out, key, V1_ID_LEN);
	out[V1_ID_LEN] = '\0';
	if (!util_valid_household_id(out))
		return stxn_fail(tx, STORE_CORRUPT);
	return STORE_OK;
}

int
store_v1_plan(struct stxn *tx, const char *hhid, uint64_t version,
    EpPlan **out)
{
	uint8_t key[V1_ID_LEN + 8];
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	if (version == 0)
		rc = store_get_msg(tx, DB_V1_HOUSEHOLDS, hhid, V1_ID_LEN, 1,
		    &eenplan__v1__plan__descriptor, &m);
	else
		rc = store_get_msg(tx, DB_V1_VERSIONS, key,
		    v1_key(key, hhid, version), 1,
		    &eenplan__v1__plan__descriptor, &m);
	if (rc == STORE_OK)
		*out = (EpPlan *)m;
	return rc;
}

int
store_v1_history(struct stxn *tx, const char *hhid, uint64_t version,
    EpHistoryEntry **out)
{
	uint8_t key[V1_ID_LEN + 8];
	ProtobufCMessage *m;
	int rc;

	*out = NULL;
	if (!v1_present(tx->sx_store, DB_V1_HISTORY))
		return STORE_NOTFOUND;
	rc = store_get_msg(tx, DB_V1_HISTORY, key, v1_key(key, hhid, version),
	    0, &eenplan__v1__history_entry__descriptor, &m);
	if (rc == STORE_OK)
		*out = (EpHistoryEntry *)m;
	return rc;
}

struct v1_grants {
	struct stxn	  *vg_tx;
	EpGrant		 **vg_items;
	size_t		   vg_n;
};

static int
v1_grant_one(const MDB_val *key, const uint8_t *p, size_t len, void *arg)
{
	struct v1_grants *vg = arg;
	ProtobufCMessage *m;
	EpGrant **v;
	int rc;

	if (key->mv_size != V1_ID_LEN + 8)
		return 0;
	if ((rc = store_unpack(vg->vg_tx, DB_V1_CONSENT, key->mv_data,
	    key->mv_size, &eenplan__v1__grant__descriptor, p, len, &m)) !=
	    STORE_OK)
		return rc;
	if ((v = reallocarray(vg->vg_items, vg->vg_n + 1, sizeof(*v))) ==
	    NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
		return STORE_ERR;
	}
	vg->vg_items = v;
	v[vg->vg_n++] = (EpGrant *)m;
	return 0;
}

int
store_v1_grants(struct stxn *tx, const char *hhid, EpGrant ***out, size_t *n)
{
	uint8_t start[V1_ID_LEN + 8];
	struct v1_grants vg;
	int rc;

	*out = NULL;
	*n = 0;
	if (!v1_present(tx->sx_store, DB_V1_CONSENT))
		return STORE_OK;
	memset(&vg, 0, sizeof(vg));
	vg.vg_tx = tx;
	rc = store_scan(tx, DB_V1_CONSENT, hhid, V1_ID_LEN, start,
	    v1_key(start, hhid, 0), v1_grant_one, &vg);
	if (rc != STORE_OK) {
		store_free_list((void **)vg.vg_items, vg.vg_n);
		return rc;
	}
	*out = vg.vg_items;
	*n = vg.vg_n;
	return STORE_OK;
}

static int
v1_del(struct stxn *tx, int db, const void *key, size_t klen)
{
	int rc;

	if (!v1_present(tx->sx_store, db))
		return STORE_OK;
	rc = store_del_key(tx, db, key, klen);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int
store_v1_household_drop(struct stxn *tx, const char *hhid, uint64_t versions,
    EpGrant *const *grants, size_t ngrants)
{
	uint8_t key[V1_ID_LEN + 8];
	uint64_t v;
	size_t i;
	int rc;

	for (v = 1; v <= versions; v++) {
		if ((rc = v1_del(tx, DB_V1_VERSIONS, key,
		    v1_key(key, hhid, v))) != STORE_OK ||
		    (rc = v1_del(tx, DB_V1_HISTORY, key,
		    v1_key(key, hhid, v))) != STORE_OK)
			return rc;
	}
	for (i = 0; i < ngrants; i++)
		if ((rc = v1_del(tx, DB_V1_CONSENT, key,
		    v1_key(key, hhid, grants[i]->id))) != STORE_OK)
			return rc;
	return v1_del(tx, DB_V1_HOUSEHOLDS, hhid, V1_ID_LEN);
}

int
store_v1_audit_next(struct stxn *tx, EpAuditRecord **out)
{
	uint8_t key[STORE_KEY_MAX];
	ProtobufCMessage *m;
	size_t klen;
	int rc;

	*out = NULL;
	if ((rc = v1_first(tx, DB_V1_AUDIT, key, sizeof(key), &klen)) !=
	    STORE_OK)
		return rc;
	if ((rc = store_get_msg(tx, DB_V1_AUDIT, key, klen, 1,
	    &eenplan__v1__audit_record__descriptor, &m)) != STORE_OK)
		return rc;
	*out = (EpAuditRecord *)m;
	if (klen != 8 || (*out)->seq != util_be64_get(key)) {
		MDB_val k = { klen, key };

		store_log_corrupt(DB_V1_AUDIT, &k, "record holds another seq");
		protobuf_c_message_free_unpacked(m, NULL);
		*out = NULL;
		return stxn_fail(tx, STORE_CORRUPT);
	}
	return STORE_OK;
}

int
store_v1_audit_drop(struct stxn *tx, const EpAuditRecord *r)
{
	uint8_t key[STORE_KEY_MAX];
	size_t i, n;
	int rc;

	util_be64_put(key, r->seq);
	if ((rc = v1_del(tx, DB_V1_AUDIT, key, 8)) != STORE_OK)
		return rc;
	if (util_valid_household_id(r->household_id) &&
	    (rc = v1_del(tx, DB_V1_AUDIT_HH, key,
	    v1_key(key, r->household_id, r->seq))) != STORE_OK)
		return rc;
	for (i = 0; i < r->n_listed_households; i++)
		if (util_valid_household_id(r->listed_households[i]) &&
		    (rc = v1_del(tx, DB_V1_AUDIT_HH, key,
		    v1_key(key, r->listed_households[i], r->seq))) != STORE_OK)
			return rc;
	if (r->actor != NULL && r->actor->org != NULL &&
	    (n = strnlen(r->actor->org, 129)) > 0 && n <= 128) {
		memcpy(key, r->actor->org, n);
		key[n] = '\0';
		util_be64_put(key + n + 1, r->seq);
		if ((rc = v1_del(tx, DB_V1_AUDIT_ORG, key, n + 9)) != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

int
store_v1_change_next(struct stxn *tx, EpChangeEvent **out)
{
	uint8_t key[STORE_KEY_MAX];
	ProtobufCMessage *m;
	size_t klen;
	int rc;

	*out = NULL;
	if ((rc = v1_first(tx, DB_V1_CHANGES, key, sizeof(key), &klen)) !=
	    STORE_OK)
		return rc;
	if ((rc = store_get_msg(tx, DB_V1_CHANGES, key, klen, 1,
	    &eenplan__v1__change_event__descriptor, &m)) != STORE_OK)
		return rc;
	*out = (EpChangeEvent *)m;
	if (klen != 8 || (*out)->seq != util_be64_get(key)) {
		protobuf_c_message_free_unpacked(m, NULL);
		*out = NULL;
		return stxn_fail(tx, STORE_CORRUPT);
	}
	return STORE_OK;
}

int
store_v1_change_drop(struct stxn *tx, uint64_t seq)
{
	uint8_t key[8];

	util_be64_put(key, seq);
	return v1_del(tx, DB_V1_CHANGES, key, 8);
}

/*
 * Events are re-stored under their own seq (change_seq in meta stays). A
 * schema-1 event has no consent generations: the feed decides it on the
 * household's consent as it is now.
 */
int
store_v1_change_put(struct stxn *tx, EpChangeEvent *ev)
{
	EpsFeedEvent fe = EENPLAN__STORE__FEED_EVENT__INIT;
	uint8_t key[8];

	fe.event = ev;
	util_be64_put(key, ev->seq);
	return store_put_frame(tx, DB_FEED, key, 8, &fe.base, NULL, 0,
	    MDB_NOOVERWRITE, NULL);
}

int
store_v1_finish(struct store *st, char *err, size_t errlen)
{
	struct stxn *tx;
	int i, mrc, rc;

	if ((rc = store_write_begin(st, &tx)) != STORE_OK) {
		snprintf(err, errlen, "migration: %s", store_strerror(rc));
		return -1;
	}
	for (i = DB_V1_FIRST; i < DB_COUNT; i++) {
		if (!v1_present(st, i))
			continue;
		/* Left over: the schema-1 principals index (rebuilt in pidx). */
		if ((mrc = mdb_drop(tx->sx_txn, st->st_dbi[i], 1)) !=
		    MDB_SUCCESS) {
			snprintf(err, errlen, "migration: drop %s: %s",
			    store_dbs[i].sd_name, mdb_strerror(mrc));
			store_abort(tx);
			return -1;
		}
	}
	if ((rc = store_meta_put_u64(tx, "schema", STORE_SCHEMA_VERSION)) !=
	    STORE_OK) {
		store_abort(tx);
		snprintf(err, errlen, "migration: %s", store_strerror(rc));
		return -1;
	}
	if ((rc = store_commit(tx)) != STORE_OK) {
		snprintf(err, errlen, "migration: %s", store_strerror(rc));
		return -1;
	}
	for (i = DB_V1_FIRST; i < DB_COUNT; i++)
		st->st_dbi[i] = 0;
	st->st_schema = STORE_SCHEMA_VERSION;
	return 0;
}
