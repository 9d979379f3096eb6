/*
 * store_verify: eenpland store verify (see store.h). One read snapshot,
 * every database of the store walked in key order: each key must come
 * after the one before (a key twice, or out of order, is a damaged tree),
 * each value must open under its own key (the GCM tag or the CRC: a value
 * moved to another key fails). Then the counts: what a household's standing
 * record says exists — the current body, a delta per version, the newest
 * snapshot, grants 1..grants_total, signals 1..signals_total — must be
 * there, and what is kept of a household must be counted by its standing
 * record (nothing of a household without one, no delta past its version).
 * Each problem is logged as the daemon logs damage ("DATA LOSS in database
 * ..., key ...: why") and counted; the walk goes on after it, so one run
 * names them all. It never writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "log.h"
#include "util.h"
#include "store.h"
#include "store_impl.h"

/* What a database's keys count, checked against the standing record. */
enum sv_count {
	SV_NONE,	/* not a household's (or not counted) */
	SV_HH_ONLY,	/* hh16: the household's own (body) */
	SV_HH_ANY,	/* hh16 | u64 of no count (consent states) */
	SV_VERSION,	/* hh16 | version, 1..version (deltas, snapshots) */
	SV_GRANTS,	/* hh16 | id, 1..grants_total */
	SV_SIGNALS	/* hh16 | id, 1..signals_total */
};

struct sv {
	struct stxn		*sv_tx;
	struct store_verify	*sv_out;
	/* The standing record of the last household prefix looked up. */
	uint8_t			 sv_hh[STORE_HHID_LEN];
	int			 sv_hh_valid;	/* sv_hh looked up */
	int			 sv_hh_rc;	/* STORE_OK, NOTFOUND, CORRUPT */
	EpsHousehold		*sv_rec;
	/* Standing records that did not open (named once, by the walk). */
	uint8_t			(*sv_bad)[STORE_HHID_LEN];
	size_t			 sv_nbad;
	int			 sv_oom;
};

static void
sv_problem(struct sv *sv, int db, const MDB_val *key, const char *why)
{
	if (why != NULL)
		store_log_corrupt(db, key, why);
	sv->sv_out->sv_problems++;
}

static enum sv_count
sv_count_of(int db)
{
	switch (db) {
	case DB_BODY:
		return SV_HH_ONLY;
	case DB_DELTA:
	case DB_SNAP:
		return SV_VERSION;
	case DB_GRANTS:
		return SV_GRANTS;
	case DB_SIGNALS:
		return SV_SIGNALS;
	case DB_CSTATE:
		return SV_HH_ANY;
	default:
		return SV_NONE;
	}
}

/*
 * The standing record of the household key begins with (cached for a run
 * of keys with the same prefix): STORE_OK with sv_rec, STORE_NOTFOUND, or
 * STORE_CORRUPT (counted where the walk of hh met it).
 */
static int
sv_household(struct sv *sv, const uint8_t *hh16)
{
	ProtobufCMessage *m;
	MDB_val k, v;
	size_t i;
	int mrc;

	if (sv->sv_hh_valid && memcmp(sv->sv_hh, hh16, STORE_HHID_LEN) == 0)
		return sv->sv_hh_rc;
	store_hh_free(sv->sv_rec);
	sv->sv_rec = NULL;
	memcpy(sv->sv_hh, hh16, STORE_HHID_LEN);
	sv->sv_hh_valid = 1;
	k.mv_data = sv->sv_hh;
	k.mv_size = STORE_HHID_LEN;
	mrc = mdb_get(sv->sv_tx->sx_txn, sv->sv_tx->sx_store->st_dbi[DB_HH],
	    &k, &v);
	if (mrc == MDB_NOTFOUND)
		return sv->sv_hh_rc = STORE_NOTFOUND;
	if (mrc != MDB_SUCCESS)
		return sv->sv_hh_rc = STORE_CORRUPT;
	/* The walk of hh (the first) named those that do not open. */
	for (i = 0; i < sv->sv_nbad; i++)
		if (memcmp(sv->sv_bad[i], hh16, STORE_HHID_LEN) == 0)
			return sv->sv_hh_rc = STORE_CORRUPT;
	sv->sv_hh_rc = store_get_msg(sv->sv_tx, DB_HH, sv->sv_hh,
	    STORE_HHID_LEN, 1, &eenplan__store__household__descriptor, &m);
	if (sv->sv_hh_rc == STORE_OK)
		sv->sv_rec = (EpsHousehold *)m;
	else
		sv->sv_hh_rc = STORE_CORRUPT;
	return sv->sv_hh_rc;
}

/* An entry of a household's database: counted by its standing record? */
static void
sv_counted(struct sv *sv, int db, const MDB_val *key)
{
	enum sv_count c = sv_count_of(db);
	const uint8_t *p = key->mv_data;
	uint64_t n, max = 0;
	int rc;

	if (c == SV_NONE)
		return;
	if (key->mv_size != STORE_HHID_LEN + (c == SV_HH_ONLY ? 0 : 8)) {
		sv_problem(sv, db, key, "key of the wrong length");
		return;
	}
	rc = sv_household(sv, p);
	if (rc == STORE_NOTFOUND) {
		sv_problem(sv, db, key, "kept without its household's standing "
		    "record");
		return;
	}
	if (rc != STORE_OK || c == SV_HH_ONLY || c == SV_HH_ANY)
		return;
	n = util_be64_get(p + STORE_HHID_LEN);
	switch (c) {
	case SV_VERSION:
		max = sv->sv_rec->version;
		break;
	case SV_GRANTS:
		max = sv->sv_rec->grants_total;
		break;
	default:
		max = sv->sv_rec->signals_total;
		break;
	}
	if (n == 0 || n > max)
		sv_problem(sv, db, key, "past what its household's standing "
		    "record counts");
}

static void
sv_bad_add(struct sv *sv, const uint8_t *hh16)
{
	uint8_t (*b)[STORE_HHID_LEN];

	if ((b = reallocarray(sv->sv_bad, sv->sv_nbad + 1, sizeof(*b))) ==
	    NULL) {
		sv->sv_oom = 1;
		return;
	}
	sv->sv_bad = b;
	memcpy(sv->sv_bad[sv->sv_nbad++], hh16, STORE_HHID_LEN);
}

/* One database, every entry in key order. */
static int
sv_walk(struct sv *sv, int db, uint64_t *values)
{
	struct stxn *tx = sv->sv_tx;
	uint8_t prev[STORE_KEY_MAX];
	size_t plen = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	int mrc, have_prev = 0;

	*values = 0;
	if ((mrc = mdb_cursor_open(tx->sx_txn, tx->sx_store->st_dbi[db],
	    &cur)) != MDB_SUCCESS)
		return store_map_rc(mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		(*values)++;
		if (k.mv_size == 0 || k.mv_size > sizeof(prev)) {
			sv_problem(sv, db, &k, "key of the wrong length");
			continue;
		}
		if (have_prev && store_key_cmp(prev, plen, k.mv_data,
		    k.mv_size) >= 0)
			sv_problem(sv, db, &k, "keys out of order (a key "
			    "twice, or the tree damaged)");
		memcpy(prev, k.mv_data, k.mv_size);
		plen = k.mv_size;
		have_prev = 1;
		if (store_frame_verify(tx, db, &k, &v) != STORE_OK) {
			sv_problem(sv, db, &k, NULL);	/* it said why */
			if (db == DB_HH && k.mv_size == STORE_HHID_LEN)
				sv_bad_add(sv, k.mv_data);
		}
		sv_counted(sv, db, &k);
	}
	mdb_cursor_close(cur);
	if (mrc != MDB_NOTFOUND) {
		log_warnx("store: DATA LOSS in database %s: the walk stopped "
		    "after %llu entries: %s", store_dbs[db].sd_name,
		    (unsigned long long)*values, mdb_strerror(mrc));
		sv->sv_out->sv_problems++;
	}
	return STORE_OK;
}

/* Must be there: a key a standing record counts. */
static void
sv_present(struct sv *sv, int db, const uint8_t *key, size_t klen)
{
	MDB_val k, v;
	uint8_t kbuf[STORE_HHID_LEN + 8];
	int mrc;

	memcpy(kbuf, key, klen);
	k.mv_data = kbuf;
	k.mv_size = klen;
	mrc = mdb_get(sv->sv_tx->sx_txn, sv->sv_tx->sx_store->st_dbi[db], &k,
	    &v);
	if (mrc == MDB_NOTFOUND)
		sv_problem(sv, db, &k, "missing, though counted");
	else if (mrc != MDB_SUCCESS)
		sv_problem(sv, db, &k, mdb_strerror(mrc));
}

static void
sv_present_n(struct sv *sv, int db, const uint8_t *hh16, uint64_t from,
    uint64_t to)
{
	uint8_t key[STORE_HHID_LEN + 8];
	uint64_t n;

	memcpy(key, hh16, STORE_HHID_LEN);
	for (n = from; n <= to && n != 0; n++) {
		util_be64_put(key + STORE_HHID_LEN, n);
		sv_present(sv, db, key, sizeof(key));
	}
}

/* What every household's standing record counts is there. */
static int
sv_households(struct sv *sv)
{
	struct stxn *tx = sv->sv_tx;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t hh[STORE_HHID_LEN];
	EpsHousehold *r;
	int mrc;

	if ((mrc = mdb_cursor_open(tx->sx_txn, tx->sx_store->st_dbi[DB_HH],
	    &cur)) != MDB_SUCCESS)
		return store_map_rc(mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != STORE_HHID_LEN) {
			sv_problem(sv, DB_HH, &k, "key is not a household id");
			continue;
		}
		memcpy(hh, k.mv_data, sizeof(hh));
		if (sv_household(sv, hh) != STORE_OK)
			continue;	/* the walk of hh named it */
		r = sv->sv_rec;
		if (r->household_id == NULL || store_hhid(r->household_id,
		    hh) != 0 || memcmp(hh, k.mv_data, sizeof(hh)) != 0) {
			sv_problem(sv, DB_HH, &k, "record names another "
			    "household");
			continue;
		}
		sv->sv_out->sv_households++;
		sv_present(sv, DB_BODY, hh, sizeof(hh));
		sv_present_n(sv, DB_DELTA, hh, 1, r->version);
		sv_present_n(sv, DB_SNAP, hh, r->snapshot_version,
		    r->snapshot_version);
		sv_present_n(sv, DB_GRANTS, hh, 1, r->grants_total);
		sv_present_n(sv, DB_SIGNALS, hh, 1, r->signals_total);
	}
	mdb_cursor_close(cur);
	if (mrc != MDB_NOTFOUND) {
		log_warnx("store: DATA LOSS in database hh: the walk stopped: "
		    "%s", mdb_strerror(mrc));
		sv->sv_out->sv_problems++;
	}
	return STORE_OK;
}

int
store_verify(struct stxn *tx, struct store_verify *out)
{
	struct store *st;
	struct sv sv;
	int db, rc = STORE_OK;

	memset(out, 0, sizeof(*out));
	if ((rc = stxn_readable(tx)) != STORE_OK)
		return rc;
	st = tx->sx_store;
	if (st->st_schema < STORE_SCHEMA_VERSION)
		return STORE_ERR;
	_Static_assert(DB_V1_FIRST <= STORE_VERIFY_DBS, "sv_values too small");
	memset(&sv, 0, sizeof(sv));
	sv.sv_tx = tx;
	sv.sv_out = out;
	for (db = 0; db < DB_V1_FIRST && rc == STORE_OK; db++) {
		/* The audit index is another environment; an index not yet
		   made by a read-write open is absent. */
		if (store_dbs[db].sd_index || st->st_dbi[db] == 0)
			continue;
		rc = sv_walk(&sv, db, &out->sv_values[db]);
		out->sv_dbs++;
	}
	if (rc == STORE_OK)
		rc = sv_households(&sv);
	if (rc == STORE_OK && sv.sv_oom)
		rc = STORE_ERR;
	store_hh_free(sv.sv_rec);
	free(sv.sv_bad);
	return rc;
}

const char *
store_db_name(int db)
{
	return db >= 0 && db < DB_V1_FIRST ? store_dbs[db].sd_name : NULL;
}
