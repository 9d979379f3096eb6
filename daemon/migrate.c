/* migrate: schema 1 to schema 2, in place (see migrate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "log.h"
#include "migrate.h"
#include "plan.h"
#include "store_v1.h"
#include "util.h"


struct mig_stats {
	uint64_t	ms_households;
	uint64_t	ms_versions;
	uint64_t	ms_snapshots;
	uint64_t	ms_whole;	/* kept whole: replay differed */
	uint64_t	ms_grants;
	uint64_t	ms_audit;
	uint64_t	ms_events;
};

int
migrate_needed(struct store *st)
{
	return store_v1_needed(st);
}

static uint8_t *
mig_pack(const EpPlan *p, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(&p->base);
	if ((buf = malloc(*len ? *len : 1)) != NULL)
		protobuf_c_message_pack(&p->base, buf);
	return buf;
}

static uint32_t
mig_crc(const uint8_t *p, size_t len)
{
	return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, len);
}

/* 1 when replaying e onto prev packs to exactly want. */
static int
mig_replays(const EpPlan *prev, const EpHistoryEntry *e,
    const EpPrincipal *regisseur, const uint8_t *want, size_t wlen)
{
	struct plan_error pe;
	EpPlan *p;
	uint8_t *buf;
	size_t len;
	int same = 0;

	if ((p = plan_dup(prev)) == NULL)
		return 0;
	if (plan_replay(p, e, regisseur, &pe) == 0 &&
	    (buf = mig_pack(p, &len)) != NULL) {
		same = len == wlen && memcmp(buf, want, len) == 0;
		free(buf);
	}
	plan_free(p);
	return same;
}

/* The versions of one household: deltas, and snapshots where due or needed. */
static int
mig_versions(struct stxn *t, const struct household_conf *hc,
    EpsHousehold *rec, const char *hhid, uint64_t versions,
    struct mig_stats *ms)
{
	EpsDelta d = EENPLAN__STORE__DELTA__INIT;
	EpHistoryEntry *e = NULL;
	EpPlan *prev = NULL, *pv = NULL;
	uint8_t *buf = NULL;
	size_t len, dbytes;
	uint64_t v;
	int rc = STORE_OK, snap;

	for (v = 1; v <= versions && rc == STORE_OK; v++) {
		if ((rc = store_v1_plan(t, hhid, v, &pv)) != STORE_OK)
			break;
		rc = store_v1_history(t, hhid, v, &e);
		if (rc == STORE_NOTFOUND) {
			log_warnx("migrate: %s version %llu has no history "
			    "entry", hhid, (unsigned long long)v);
			rc = STORE_CORRUPT;
		}
		if (rc != STORE_OK || (buf = mig_pack(pv, &len)) == NULL) {
			rc = rc != STORE_OK ? rc : STORE_ERR;
			break;
		}
		eenplan__store__delta__init(&d);
		d.entry = e;
		if (e->kind == KIND(REGIE))
			d.regisseur = pv->regisseur;
		d.plan_crc = mig_crc(buf, len);
		d.plan_bytes = len;
		d.snapshot = rec->snapshot_version;
		dbytes = eenplan__store__delta__get_packed_size(&d);
		snap = household_snapshot_due(hc, rec, v, dbytes, len);
		if (!snap && (prev == NULL ||
		    !mig_replays(prev, e, d.regisseur, buf, len))) {
			snap = 1;
			ms->ms_whole++;
		}
		if (snap) {
			rc = store_snap_put(t, hhid, v, buf, len);
			rec->snapshot_version = v;
			rec->delta_bytes = 0;
			d.snapshot = v;
			ms->ms_snapshots++;
		} else
			rec->delta_bytes += dbytes;
		if (rc == STORE_OK)
			rc = store_delta_put(t, hhid, &d, NULL);
		ms->ms_versions++;
		free(buf);
		buf = NULL;
		protobuf_c_message_free_unpacked(&e->base, NULL);
		e = NULL;
		plan_free(prev);
		prev = pv;
		pv = NULL;
	}
	if (e != NULL)
		protobuf_c_message_free_unpacked(&e->base, NULL);
	free(buf);
	plan_free(prev);
	plan_free(pv);
	return rc;
}

/* The grants: the archive as it was, the current ones in the record. */
static int
mig_grants(struct stxn *t, const struct household_conf *hc,
    EpsHousehold *rec, const char *hhid, EpGrant **g, size_t n, int64_t now,
    struct mig_stats *ms)
{
	char sub[CONSENT_INDEX_SUBJECT_MAX];
	EpGrant **cur;
	size_t i;
	int rc;

	if (n > 0 && (cur = calloc(n, sizeof(*cur))) == NULL)
		return STORE_ERR;
	if (n == 0)
		cur = NULL;
	rec->grants = cur;
	for (i = 0; i < n; i++) {
		/* Ids were given 1, 2, 3, ...: the archive is counted. */
		if (g[i]->id != i + 1) {
			log_warnx("migrate: %s: grant ids are not 1..%zu",
			    hhid, n);
			return STORE_CORRUPT;
		}
		if ((rc = store_grant_put(t, hhid, g[i])) != STORE_OK)
			return rc;
		if (g[i]->revoked_at != 0 ||
		    (g[i]->valid_until != 0 && g[i]->valid_until <= now))
			continue;
		if (rec->n_grants >= hc->hc_active_grants_max)
			log_warnx("migrate: %s: more current grants than "
			    "active_grants_max; keeping all", hhid);
		if ((cur[rec->n_grants] =
		    (EpGrant *)wire_msg_dup(&g[i]->base)) == NULL)
			return STORE_ERR;
		rec->n_grants++;
		if (g[i]->valid_until > 0 && (rc = store_expiry_put(t,
		    g[i]->valid_until, hhid, g[i]->id)) != STORE_OK)
			return rc;
		consent_index_subject(g[i], sub, sizeof(sub));
		if ((rc = store_index_put(t, g[i]->grantee_org, sub, hhid)) !=
		    STORE_OK)
			return rc;
	}
	rec->grants_total = n;
	ms->ms_grants += n;
	return STORE_OK;
}

static int
mig_household(struct stxn *t, const struct household_conf *hc,
    const char *hhid, int64_t now, struct mig_stats *ms)
{
	EpsHousehold *rec = NULL;
	EpGrant **grants = NULL;
	EpPlan *cur = NULL;
	uint8_t *buf = NULL;
	size_t ngrants = 0, len, i;
	int rc;

	if ((rc = store_v1_plan(t, hhid, 0, &cur)) != STORE_OK ||
	    (rc = store_v1_grants(t, hhid, &grants, &ngrants)) != STORE_OK)
		goto out;
	if ((rec = household_record_new(cur)) == NULL ||
	    (buf = mig_pack(cur, &len)) == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	rec->body_bytes = len;
	if ((rc = mig_versions(t, hc, rec, hhid, cur->version, ms)) !=
	    STORE_OK ||
	    (rc = store_body_put(t, hhid, buf, len)) != STORE_OK ||
	    (rc = mig_grants(t, hc, rec, hhid, grants, ngrants, now, ms)) !=
	    STORE_OK)
		goto out;
	for (i = 0; i < rec->n_members; i++)
		if ((rc = store_index_put(t, hc->hc_consent->cc_citizens_org,
		    rec->members[i]->person_id, hhid)) != STORE_OK)
			goto out;
	if ((rc = store_hh_put(t, rec)) != STORE_OK ||
	    (rc = store_cstate_put(t, hhid, rec->consent_gen, rec)) !=
	    STORE_OK ||
	    (rc = store_v1_household_drop(t, hhid, cur->version, grants,
	    ngrants)) != STORE_OK)
		goto out;
	ms->ms_households++;
out:
	free(buf);
	store_hh_free(rec);
	plan_free(cur);
	store_free_list((void **)grants, ngrants);
	return rc;
}

/* One transaction: up to batch households. 1 when none were left. */
static int
mig_household_batch(struct store *st, const struct household_conf *hc,
    unsigned batch, struct mig_stats *ms, char *err, size_t errlen)
{
	char hhid[33];
	struct stxn *t;
	unsigned n;
	int rc, done = 0;

	if ((rc = store_write_begin(st, &t)) != STORE_OK)
		goto fail;
	for (n = 0; n < batch; n++) {
		rc = store_v1_next_household(t, hhid);
		if (rc == STORE_NOTFOUND) {
			done = 1;
			break;
		}
		if (rc != STORE_OK ||
		    (rc = mig_household(t, hc, hhid, util_now_us(), ms)) !=
		    STORE_OK) {
			store_abort(t);
			snprintf(err, errlen, "migration: household %s: %s",
			    rc == STORE_OK ? "?" : hhid, store_strerror(rc));
			return -1;
		}
	}
	if ((rc = store_commit(t)) != STORE_OK)
		goto fail;
	return done;
fail:
	snprintf(err, errlen, "migration: %s", store_strerror(rc));
	return -1;
}

/* One transaction of audit records, then of events. 1 when none were left. */
static int
mig_log_batch(struct store *st, unsigned batch, struct mig_stats *ms,
    char *err, size_t errlen)
{
	EpAuditRecord *r;
	EpChangeEvent *ev;
	struct stxn *t;
	uint64_t pending;
	unsigned n;
	int rc, done = 0;

	if ((rc = store_write_begin(st, &t)) != STORE_OK)
		goto fail;
	for (n = 0; n < batch; n++) {
		if ((rc = store_v1_audit_next(t, &r)) == STORE_NOTFOUND)
			break;
		if (rc != STORE_OK)
			goto abort;
		rc = store_audit_put(t, r);
		if (rc == STORE_OK)
			rc = store_v1_audit_drop(t, r);
		protobuf_c_message_free_unpacked(&r->base, NULL);
		if (rc != STORE_OK)
			goto abort;
		ms->ms_audit++;
	}
	for (; n < batch; n++) {
		if ((rc = store_v1_change_next(t, &ev)) == STORE_NOTFOUND) {
			done = 1;
			break;
		}
		if (rc != STORE_OK)
			goto abort;
		rc = store_v1_change_put(t, ev);
		if (rc == STORE_OK)
			rc = store_v1_change_drop(t, ev->seq);
		protobuf_c_message_free_unpacked(&ev->base, NULL);
		if (rc != STORE_OK)
			goto abort;
		ms->ms_events++;
	}
	if ((rc = store_commit(t)) != STORE_OK)
		goto fail;
	/*
	 * The audit index of what this transaction moved, in the index's
	 * own environment (a cut here leaves it behind the log: the
	 * indexer, or the next step, goes on from where it got).
	 */
	do {
		if ((rc = store_audit_index(st, UINT64_MAX, 0, &pending)) !=
		    STORE_OK)
			goto fail;
	} while (pending > 0);
	return done;
abort:
	store_abort(t);
fail:
	snprintf(err, errlen, "migration: audit log and feed: %s",
	    store_strerror(rc));
	return -1;
}

/*
 * For the black-box test of a migration cut off half way: with
 * EENPLAN_TEST_MIGRATE_CRASH_AFTER=N in the environment the process dies
 * (_exit, like kill -9) after N committed transactions of households.
 */
static void
mig_test_crash(unsigned long done)
{
	const char *s = getenv("EENPLAN_TEST_MIGRATE_CRASH_AFTER");
	uint64_t n;

	if (s != NULL && util_parse_u64(s, UINT32_MAX, &n) == 0 && done >= n) {
		log_warnx("migrate: test crash after %lu transactions", done);
		_exit(9);
	}
}

int
migrate_store(struct store *st, const struct household_conf *hc,
    unsigned batch, char *err, size_t errlen)
{
	struct mig_stats ms;
	int64_t start = util_now_us(), last = start, now;
	unsigned long txns = 0;
	int rc;

	if (!migrate_needed(st))
		return 0;
	if (batch == 0)
		batch = 64;
	memset(&ms, 0, sizeof(ms));
	log_info("migrate: schema 1 to 2: %u households per transaction",
	    batch);
	while ((rc = mig_household_batch(st, hc, batch, &ms, err, errlen)) ==
	    0) {
		mig_test_crash(++txns);
		if ((now = util_now_us()) - last >= 5000000) {
			log_info("migrate: %llu households so far",
			    (unsigned long long)ms.ms_households);
			last = now;
		}
	}
	if (rc < 0)
		return -1;
	while ((rc = mig_log_batch(st, batch * 16, &ms, err, errlen)) == 0)
		;
	if (rc < 0)
		return -1;
	if (store_v1_finish(st, err, errlen) != 0)
		return -1;
	/* Freed pages still hold the schema-1 plaintext: keep only live ones. */
	if (store_compact(st, err, errlen) != 0)
		return -1;
	log_info("migrate: done in %.1f s: %llu households, %llu versions "
	    "(%llu snapshots, %llu kept whole), %llu grants, %llu audit "
	    "records, %llu events", (double)(util_now_us() - start) / 1e6,
	    (unsigned long long)ms.ms_households,
	    (unsigned long long)ms.ms_versions,
	    (unsigned long long)ms.ms_snapshots,
	    (unsigned long long)ms.ms_whole, (unsigned long long)ms.ms_grants,
	    (unsigned long long)ms.ms_audit, (unsigned long long)ms.ms_events);
	return 0;
}
