/* household: standing record, decisions, versions and grants (see household.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "household.h"
#include "log.h"
#include "util.h"


void
household_principal(const EpPrincipal *p, struct principal *out)
{
	memset(out, 0, sizeof(*out));
	if (p == NULL)
		return;
	snprintf(out->pr_org, sizeof(out->pr_org), "%s", p->org ? p->org : "");
	snprintf(out->pr_subject, sizeof(out->pr_subject), "%s",
	    p->subject ? p->subject : "");
	out->pr_role = p->role;
}

/* The caller as a wire Principal, pointing into p (for messages only packed). */
static void
hh_ep_view(const struct principal *p, EpPrincipal *out)
{
	eenplan__v1__principal__init(out);
	out->org = (char *)(uintptr_t)p->pr_org;
	out->subject = (char *)(uintptr_t)p->pr_subject;
	out->role = p->pr_role;
}

void
household_view(const struct household *h, struct consent_household *ch)
{
	memset(ch, 0, sizeof(*ch));
	if (h->h_rec == NULL)
		return;
	ch->ch_members = h->h_rec->members;
	ch->ch_nmembers = h->h_rec->n_members;
	ch->ch_regisseur = h->h_rec->regisseur;
}

int
household_decide(const struct household_conf *hc, struct household *h,
    const struct principal *who, int64_t now)
{
	struct consent_household ch;
	size_t i;

	memset(&h->h_dec, 0, sizeof(h->h_dec));
	memset(&h->h_stamp, 0, sizeof(h->h_stamp));
	h->h_now = now;
	free(h->h_purpose);
	h->h_purpose = NULL;
	if (h->h_rec == NULL)
		return STORE_OK;
	household_view(h, &ch);
	consent_evaluate(hc->hc_consent, who, &ch, h->h_rec->grants,
	    h->h_rec->n_grants, now, &h->h_dec);
	for (i = 0; i < h->h_rec->n_grants; i++)
		if (h->h_rec->grants[i]->id == h->h_dec.cd_grant_id &&
		    h->h_rec->grants[i]->purpose != NULL) {
			if ((h->h_purpose = strdup(
			    h->h_rec->grants[i]->purpose)) == NULL)
				return STORE_ERR;
			break;
		}
	return STORE_OK;
}

int
household_load(struct stxn *t, const struct household_conf *hc,
    const struct principal *who, const char *hhid, int64_t now,
    struct household *h)
{
	struct store_stamp stamp;
	int rc;

	memset(h, 0, sizeof(*h));
	snprintf(h->h_id, sizeof(h->h_id), "%s", hhid != NULL ? hhid : "");
	if ((rc = store_hh_get_stamped(t, hhid, &h->h_rec, &stamp)) !=
	    STORE_OK)
		return rc;
	h->h_gen0 = h->h_gen_saved = h->h_gen_evented =
	    h->h_rec->consent_gen;
	if ((rc = household_decide(hc, h, who, now)) == STORE_OK)
		h->h_stamp = stamp;	/* decided on exactly those bytes */
	return rc;
}

void
household_free(struct household *h)
{
	if (h == NULL)
		return;
	store_hh_free(h->h_rec);
	free(h->h_purpose);
	memset(h, 0, sizeof(*h));
}

/* -------------------------------------------------------------- reading */

static uint32_t
hh_crc(const uint8_t *p, size_t len)
{
	return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, len);
}

/* Packs plan into a new buffer. NULL on allocation failure. */
static uint8_t *
hh_pack(const EpPlan *plan, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(&plan->base);
	if ((buf = malloc(*len ? *len : 1)) == NULL)
		return NULL;
	protobuf_c_message_pack(&plan->base, buf);
	return buf;
}

/* The nearest snapshot at or before version, then each delta up to it. */
static int
hh_replay(struct stxn *t, const char *hhid, uint64_t version, EpPlan **out)
{
	EpsDelta *want = NULL, *d = NULL;
	struct plan_error pe;
	EpPlan *p = NULL;
	uint8_t *buf;
	uint64_t v;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = store_delta_get(t, hhid, version, &want)) != STORE_OK)
		return rc;
	if (want->snapshot == 0 || want->snapshot > version) {
		log_warnx("household %s: DATA LOSS: version %llu names no "
		    "snapshot to start from", hhid, (unsigned long long)version);
		rc = STORE_CORRUPT;
		goto out;
	}
	if ((rc = store_snap_get(t, hhid, want->snapshot, &p)) != STORE_OK)
		goto out;
	for (v = want->snapshot + 1; v <= version; v++) {
		if ((rc = store_delta_get(t, hhid, v, &d)) != STORE_OK)
			goto out;
		if (plan_replay(p, d->entry, d->regisseur, &pe) != 0) {
			log_warnx("household %s: DATA LOSS: version %llu does "
			    "not replay: %s %s", hhid, (unsigned long long)v,
			    pe.pe_field, pe.pe_msg);
			rc = STORE_CORRUPT;
			goto out;
		}
		store_delta_free(d);
		d = NULL;
	}
	/* The result must be the plan that was committed, byte for byte. */
	if ((buf = hh_pack(p, &len)) == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	if (len != want->plan_bytes || hh_crc(buf, len) != want->plan_crc) {
		log_warnx("household %s: DATA LOSS: version %llu replays to "
		    "another plan than was committed", hhid,
		    (unsigned long long)version);
		rc = STORE_CORRUPT;
	}
	free(buf);
	if (rc == STORE_OK) {
		*out = p;
		p = NULL;
	}
out:
	store_delta_free(want);
	store_delta_free(d);
	plan_free(p);
	return rc;
}

int
household_plan(struct stxn *t, const struct household *h, uint64_t version,
    EpPlan **out)
{
	*out = NULL;
	if (h->h_rec == NULL)
		return STORE_NOTFOUND;
	if (version > h->h_rec->version)
		return STORE_NOTFOUND;
	if (version == 0 || version == h->h_rec->version)
		return store_body_get(t, h->h_id, out);
	return hh_replay(t, h->h_id, version, out);
}

int
household_body_open(struct stxn *t, const struct household *h, size_t head,
    size_t tail, uint8_t **buf, size_t *len)
{
	if (h->h_rec == NULL)
		return STORE_NOTFOUND;
	return store_body_open(t, h->h_id, head, tail, buf, len);
}

/* ------------------------------------------------------ standing record */

static int
hh_members_set(EpsHousehold *rec, EpMember *const *m, size_t n)
{
	EpMember **v = NULL;
	size_t i;

	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v[i] = (EpMember *)wire_msg_dup(&m[i]->base)) == NULL) {
			store_free_list((void **)v, i);
			return -1;
		}
	}
	store_free_list((void **)rec->members, rec->n_members);
	rec->members = v;
	rec->n_members = n;
	return 0;
}

static int
hh_regisseur_set(EpsHousehold *rec, const EpPrincipal *r)
{
	EpPrincipal *c = NULL;

	if (r != NULL && (c = (EpPrincipal *)wire_msg_dup(&r->base)) == NULL)
		return -1;
	if (rec->regisseur != NULL)
		protobuf_c_message_free_unpacked(&rec->regisseur->base, NULL);
	rec->regisseur = c;
	return 0;
}

/* 1 when what the policy reads (members, regisseur) differs. */
static int
hh_standing_differs(const EpsHousehold *rec, const EpPlan *p)
{
	size_t i;

	if (rec->n_members != p->n_members)
		return 1;
	for (i = 0; i < p->n_members; i++)
		if (!str_eq(rec->members[i]->person_id,
		    p->members[i]->person_id))
			return 1;
	if ((rec->regisseur == NULL) != (p->regisseur == NULL))
		return 1;
	return p->regisseur != NULL &&
	    (!str_eq(rec->regisseur->org, p->regisseur->org) ||
	    !str_eq(rec->regisseur->subject, p->regisseur->subject) ||
	    rec->regisseur->role != p->regisseur->role);
}

/* The standing record follows the plan: never its content. */
static int
hh_record_sync(EpsHousehold *rec, const EpPlan *p)
{
	if (hh_standing_differs(rec, p)) {
		if (hh_members_set(rec, p->members, p->n_members) != 0 ||
		    hh_regisseur_set(rec, p->regisseur) != 0)
			return -1;
		rec->consent_gen++;
	}
	if (rec->status != p->status)
		rec->consent_gen++;
	rec->area = p->area;
	rec->status = p->status;
	rec->version = p->version;
	rec->created_at = p->created_at;
	rec->updated_at = p->updated_at;
	if (p->status == EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED &&
	    rec->closed_at == 0)
		rec->closed_at = p->updated_at;
	return 0;
}

EpsHousehold *
household_record_new(const EpPlan *plan)
{
	EpsHousehold *rec;

	if ((rec = malloc(sizeof(*rec))) == NULL)
		return NULL;
	eenplan__store__household__init(rec);
	if ((rec->household_id = strdup(plan->household_id)) == NULL ||
	    hh_record_sync(rec, plan) != 0) {
		store_hh_free(rec);
		return NULL;
	}
	rec->consent_gen = 1;
	return rec;
}

int
household_snapshot_due(const struct household_conf *hc,
    const EpsHousehold *rec, uint64_t version, size_t delta_bytes,
    size_t plan_bytes)
{
	size_t bytes = hc->hc_snapshot_bytes;

	if (version <= 1 || rec->snapshot_version == 0)
		return 1;
	if (hc->hc_snapshot_versions > 0 &&
	    version - rec->snapshot_version >= hc->hc_snapshot_versions)
		return 1;
	if (plan_bytes > bytes)
		bytes = plan_bytes;
	return rec->delta_bytes + delta_bytes >= bytes;
}

/* ---------------------------------------------------------- committing */

int
household_event(struct stxn *t, struct household *h,
    const struct household_ev *he, const struct principal *actor, int64_t now)
{
	EpChangeEvent ev = EENPLAN__V1__CHANGE_EVENT__INIT;
	EpsFeedEvent fe = EENPLAN__STORE__FEED_EVENT__INIT;
	EpPrincipal a;

	hh_ep_view(actor, &a);
	ev.household_id = (char *)(uintptr_t)h->h_id;
	ev.kind = he->he_kind;
	ev.version = h->h_rec != NULL ? h->h_rec->version : 0;
	ev.at = now;
	ev.actor = &a;
	ev.grant_id = he->he_grant_id;
	ev.consent = he->he_consent;
	ev.signal = (EpSignal *)(uintptr_t)he->he_signal;
	fe.event = &ev;
	fe.prev_gen = h->h_gen0;
	fe.gen = h->h_rec != NULL ? h->h_rec->consent_gen : h->h_gen0;
	h->h_gen_evented = fe.gen;
	return store_change_append(t, &fe);
}

/* An event of just a kind. */
static int
hh_event(struct stxn *t, struct household *h, int kind,
    const struct principal *actor, int64_t now)
{
	struct household_ev he;

	memset(&he, 0, sizeof(he));
	he.he_kind = kind;
	return household_event(t, h, &he, actor, now);
}

int
household_put(struct stxn *t, struct household *h)
{
	int rc;

	if ((rc = store_hh_put(t, h->h_rec)) != STORE_OK)
		return rc;
	/* A new consent generation: what it decided from, for the feed. */
	if (h->h_rec->consent_gen != h->h_gen_saved) {
		/*
		 * The one before, when this operation made it and no event
		 * names it, no reader of the feed will ask for: dropped.
		 */
		if (h->h_gen_saved != h->h_gen0 &&
		    h->h_gen_saved != h->h_gen_evented &&
		    (rc = store_cstate_del(t, h->h_id, h->h_gen_saved)) !=
		    STORE_OK && rc != STORE_NOTFOUND)
			return rc;
		if ((rc = store_cstate_put(t, h->h_id, h->h_rec->consent_gen,
		    h->h_rec)) != STORE_OK)
			return rc;
		h->h_gen_saved = h->h_rec->consent_gen;
	}
	return STORE_OK;
}

/* The delta of this version, and the snapshot when it is due. */
static int
hh_put_version(struct stxn *t, const struct household_conf *hc,
    EpsHousehold *rec, const EpPlan *plan, const uint8_t *buf, size_t len,
    const struct household_change *c)
{
	EpHistoryEntry e = EENPLAN__V1__HISTORY_ENTRY__INIT;
	EpsDelta d = EENPLAN__STORE__DELTA__INIT;
	EpPrincipal actor;
	size_t dbytes;
	int rc;

	hh_ep_view(c->hc_actor, &actor);
	e.version = plan->version;
	e.at = c->hc_now;
	e.actor = &actor;
	e.kind = c->hc_kind;
	e.mutations = c->hc_muts;
	e.n_mutations = c->hc_nmuts;
	e.mutation_domains = (Eenplan__V1__Domain *)c->hc_domains;
	e.n_mutation_domains = c->hc_domains != NULL ? c->hc_nmuts : 0;
	if (c->hc_detail != NULL)
		e.detail = (char *)(uintptr_t)c->hc_detail;
	d.entry = &e;
	if (c->hc_kind == KIND(REGIE))
		d.regisseur = plan->regisseur;
	d.plan_crc = hh_crc(buf, len);
	d.plan_bytes = len;
	d.snapshot = rec->snapshot_version;
	dbytes = eenplan__store__delta__get_packed_size(&d);
	if (household_snapshot_due(hc, rec, plan->version, dbytes, len)) {
		if ((rc = store_snap_put(t, rec->household_id, plan->version,
		    buf, len)) != STORE_OK)
			return rc;
		rec->snapshot_version = plan->version;
		rec->delta_bytes = 0;
		d.snapshot = plan->version;
		/* A walk back that reaches version 1 ends there anyway. */
		if (plan->version > 1) {
			d.scope_version = rec->scope_version;
			d.n_scope_version = rec->n_scope_version;
			d.scope_at = rec->scope_at;
			d.n_scope_at = rec->n_scope_at;
		}
	} else
		rec->delta_bytes += dbytes;
	return store_delta_put(t, rec->household_id, &d, NULL);
}

static int	hh_index_forget(struct stxn *, const struct household_conf *,
		    const EpsHousehold *, const char *, const char *);

/* Links the members (a new one may have come) in the principals index. */
static int
hh_index_members(struct stxn *t, const struct household_conf *hc,
    const EpsHousehold *rec)
{
	size_t i;
	int rc;

	for (i = 0; i < rec->n_members; i++)
		if ((rc = store_index_put(t, hc->hc_consent->cc_citizens_org,
		    rec->members[i]->person_id, rec->household_id)) !=
		    STORE_OK)
			return rc;
	return STORE_OK;
}

/* ------------------------------------------------------------ scopes */

#define HH_SCOPE_SLOTS	14	/* 0: every reader; 1..13: the ZRM domains */

/*
 * Version v (committed at c->hc_now) in the slots its change touches. A
 * record without slots gets them, each at the version before (prev_at).
 */
static int
hh_scope_note(EpsHousehold *rec, const struct household_change *c,
    uint64_t v, int64_t prev_at)
{
	size_t i;
	int d;

	if (rec->n_scope_version != HH_SCOPE_SLOTS ||
	    rec->n_scope_at != HH_SCOPE_SLOTS) {
		uint64_t *sv;
		int64_t *sa;

		if ((sv = calloc(HH_SCOPE_SLOTS, sizeof(*sv))) == NULL)
			return -1;
		if ((sa = calloc(HH_SCOPE_SLOTS, sizeof(*sa))) == NULL) {
			free(sv);
			return -1;
		}
		for (i = 0; i < HH_SCOPE_SLOTS; i++) {
			sv[i] = v > 0 ? v - 1 : 0;
			sa[i] = v > 1 ? prev_at : 0;
		}
		free(rec->scope_version);
		free(rec->scope_at);
		rec->scope_version = sv;
		rec->n_scope_version = HH_SCOPE_SLOTS;
		rec->scope_at = sa;
		rec->n_scope_at = HH_SCOPE_SLOTS;
	}
	/* As the feed decides (plan_entry_visible): see plan_history_keep. */
	if (c->hc_nmuts == 0) {
		rec->scope_version[0] = v;
		rec->scope_at[0] = c->hc_now;
		return 0;
	}
	for (i = 0; c->hc_domains != NULL && i < c->hc_nmuts; i++) {
		d = c->hc_domains[i];
		if (d < 0 || d >= HH_SCOPE_SLOTS)
			continue;
		rec->scope_version[d] = v;
		rec->scope_at[d] = c->hc_now;
	}
	return 0;
}

/*
 * The last version a scope is told of, from scope slots (a standing record's
 * or a snapshot delta's): slot 0 and each of its domains' slots.
 */
static int
hh_scoped_slots(const uint64_t *sv, size_t nsv, const int64_t *sa, size_t nsa,
    uint32_t scope, uint64_t *version, int64_t *at)
{
	size_t d;

	if (nsv != HH_SCOPE_SLOTS || nsa != HH_SCOPE_SLOTS)
		return 0;
	*version = sv[0];
	*at = sa[0];
	for (d = 1; d < HH_SCOPE_SLOTS; d++)
		if ((scope & CONSENT_DOMAIN_BIT(d)) != 0 && sv[d] > *version) {
			*version = sv[d];
			*at = sa[d];
		}
	return 1;
}

void
household_scoped_version(const EpsHousehold *rec, uint32_t scope,
    uint64_t *version, int64_t *at)
{
	*version = rec->version;
	*at = rec->updated_at;
	if (scope == CONSENT_SCOPE_ALL)
		return;
	(void)hh_scoped_slots(rec->scope_version, rec->n_scope_version,
	    rec->scope_at, rec->n_scope_at, scope, version, at);
}

int
household_scoped_version_at(struct stxn *t, const struct household *h,
    uint64_t upto, uint32_t scope, uint64_t *version, int64_t *at)
{
	EpsDelta *delta;
	uint64_t v;
	int rc, seen;

	if (h->h_rec == NULL)
		return STORE_NOTFOUND;
	if (upto >= h->h_rec->version) {
		household_scoped_version(h->h_rec, scope, version, at);
		return STORE_OK;
	}
	*version = 0;
	*at = 0;
	/*
	 * The last change at or before upto that the scope is told of: back
	 * through the deltas, at most to the snapshot before upto (whose
	 * delta keeps the slots as they were then) — no further back than a
	 * replay to upto reads. Deltas written before they kept slots: on
	 * to version 1.
	 */
	for (v = upto; v >= 1; v--) {
		if ((rc = store_delta_get(t, h->h_id, v, &delta)) != STORE_OK)
			return rc == STORE_NOTFOUND ? STORE_CORRUPT : rc;
		seen = scope == CONSENT_SCOPE_ALL ||
		    plan_entry_visible(delta->entry, scope);
		if (seen) {
			*version = v;
			*at = delta->entry != NULL ? delta->entry->at : 0;
		} else if (delta->snapshot == v)
			seen = hh_scoped_slots(delta->scope_version,
			    delta->n_scope_version, delta->scope_at,
			    delta->n_scope_at, scope, version, at);
		store_delta_free(delta);
		if (seen)
			break;
	}
	return STORE_OK;
}

int
household_commit(struct stxn *t, const struct household_conf *hc,
    struct household *h, EpPlan *plan, const struct household_change *c,
    struct plan_error *pe)
{
	EpPrincipal actor, *by;
	char oorg[PRINCIPAL_ORG_MAX] = "", osub[PRINCIPAL_SUBJECT_MAX] = "";
	uint8_t *buf = NULL;
	int64_t prev_at;
	size_t len;
	int rc, members, regie;

	if (h->h_rec == NULL) {
		plan_error_set(pe, CODE(INTERNAL), "", "no household");
		return STORE_ERR;
	}
	hh_ep_view(c->hc_actor, &actor);
	if ((by = (EpPrincipal *)wire_msg_dup(&actor.base)) == NULL) {
		plan_error_set(pe, CODE(INTERNAL), "", "out of memory");
		return STORE_ERR;
	}
	if (plan->updated_by != NULL)
		protobuf_c_message_free_unpacked(&plan->updated_by->base, NULL);
	plan->updated_by = by;
	plan->version++;
	plan->updated_at = c->hc_now;
	if ((buf = hh_pack(plan, &len)) == NULL) {
		plan_error_set(pe, CODE(INTERNAL), "", "out of memory");
		return STORE_ERR;
	}
	/* GetPlan answers with the whole plan in one frame: refuse the growth. */
	if (len > hc->hc_plan_bytes_max) {
		plan_error_set(pe, CODE(RESOURCE_EXHAUSTED), "plan", "would "
		    "grow to %zu bytes, over the limit of %zu; nothing was "
		    "changed", len, hc->hc_plan_bytes_max);
		free(buf);
		return STORE_ERR;
	}
	prev_at = h->h_rec->updated_at;
	members = h->h_rec->n_members != plan->n_members;
	if ((regie = h->h_rec->regisseur != NULL)) {
		snprintf(oorg, sizeof(oorg), "%s", h->h_rec->regisseur->org);
		snprintf(osub, sizeof(osub), "%s", h->h_rec->regisseur->subject);
	}
	if (hh_record_sync(h->h_rec, plan) != 0 ||
	    hh_scope_note(h->h_rec, c, plan->version, prev_at) != 0) {
		free(buf);
		plan_error_set(pe, CODE(INTERNAL), "", "out of memory");
		return STORE_ERR;
	}
	h->h_rec->body_bytes = len;
	rc = store_body_put(t, h->h_id, buf, len);
	if (rc == STORE_OK)
		rc = hh_put_version(t, hc, h->h_rec, plan, buf, len, c);
	free(buf);
	if (rc == STORE_OK && members)
		rc = hh_index_members(t, hc, h->h_rec);
	/* A regisseur moved away or dismissed keeps no link it no longer has. */
	if (rc == STORE_OK && regie)
		rc = hh_index_forget(t, hc, h->h_rec, oorg, osub);
	if (rc == STORE_OK)
		rc = household_put(t, h);
	if (rc == STORE_OK && !c->hc_no_event)
		rc = hh_event(t, h, c->hc_kind, c->hc_actor, c->hc_now);
	if (rc != STORE_OK)
		plan_error_set(pe, CODE(INTERNAL), "", "%s",
		    store_strerror(rc));
	return rc;
}

int
household_create(struct stxn *t, const struct household_conf *hc,
    struct household *h, EpPlan *plan, EpGrant *g,
    const struct principal *actor, int64_t now, struct plan_error *pe)
{
	struct household_change c;
	int rc;

	memset(h, 0, sizeof(*h));
	snprintf(h->h_id, sizeof(h->h_id), "%s", plan->household_id);
	if ((h->h_rec = household_record_new(plan)) == NULL) {
		plan_error_set(pe, CODE(INTERNAL), "", "out of memory");
		return STORE_ERR;
	}
	memset(&c, 0, sizeof(c));
	c.hc_kind = KIND(CREATED);
	c.hc_detail = "intake";
	c.hc_actor = actor;
	c.hc_now = now;
	c.hc_no_event = 1;
	if ((rc = household_commit(t, hc, h, plan, &c, pe)) != STORE_OK)
		return rc;
	/* The event comes with the regisseur's grant: the regisseur sees it. */
	if ((rc = hh_index_members(t, hc, h->h_rec)) != STORE_OK ||
	    (rc = household_grant_add(t, hc, h, g, 0, actor, now, pe)) !=
	    STORE_OK ||
	    (rc = hh_event(t, h, KIND(CREATED), actor, now)) != STORE_OK)
		return rc;
	return household_decide(hc, h, actor, now);
}

/* --------------------------------------------------------------- grants */

EpGrant *
household_grant_find(const struct household *h, uint64_t id)
{
	size_t i;

	if (h->h_rec == NULL)
		return NULL;
	for (i = 0; i < h->h_rec->n_grants; i++)
		if (h->h_rec->grants[i]->id == id)
			return h->h_rec->grants[i];
	return NULL;
}

/* 1 when something in rec still links (org, subject) to the household. */
static int
hh_linked(const struct household_conf *hc, const EpsHousehold *rec,
    const char *org, const char *subject)
{
	char gs[CONSENT_INDEX_SUBJECT_MAX];
	size_t i;

	for (i = 0; i < rec->n_grants; i++) {
		consent_index_subject(rec->grants[i], gs, sizeof(gs));
		if (str_eq(rec->grants[i]->grantee_org, org) &&
		    str_eq(gs, subject))
			return 1;
	}
	if (rec->regisseur != NULL && str_eq(rec->regisseur->org, org) &&
	    str_eq(rec->regisseur->subject, subject))
		return 1;
	if (str_eq(org, hc->hc_consent->cc_citizens_org))
		for (i = 0; i < rec->n_members; i++)
			if (str_eq(rec->members[i]->person_id, subject))
				return 1;
	return 0;
}

/* Forgets (org, subject)'s index link when nothing holds it any more. */
static int
hh_index_forget(struct stxn *t, const struct household_conf *hc,
    const EpsHousehold *rec, const char *org, const char *subject)
{
	if (org == NULL || hh_linked(hc, rec, org, subject))
		return STORE_OK;
	return store_index_del(t, org, subject, rec->household_id);
}

static int
hh_index_sync(struct stxn *t, const struct household_conf *hc,
    const EpsHousehold *rec, const EpGrant *g)
{
	char sub[CONSENT_INDEX_SUBJECT_MAX];

	consent_index_subject(g, sub, sizeof(sub));
	return hh_index_forget(t, hc, rec, g->grantee_org, sub);
}

/*
 * Drops grant id from the current grants (its index link too when nothing
 * else holds it). Grants past valid_until are left to hh_expire_lapsed,
 * which says so in the feed.
 */
static int
hh_current_drop(struct stxn *t, const struct household_conf *hc,
    struct household *h, uint64_t id)
{
	EpsHousehold *rec = h->h_rec;
	EpGrant **dropped;
	size_t i, k = 0, nd = 0;
	int rc = STORE_OK;

	if (rec->n_grants == 0)
		return STORE_OK;
	if ((dropped = calloc(rec->n_grants, sizeof(*dropped))) == NULL)
		return STORE_ERR;
	for (i = 0; i < rec->n_grants; i++) {
		EpGrant *g = rec->grants[i];

		if (g->id == id)
			dropped[nd++] = g;
		else
			rec->grants[k++] = g;
	}
	rec->n_grants = k;
	for (i = 0; i < nd && rc == STORE_OK; i++) {
		rc = hh_index_sync(t, hc, rec, dropped[i]);
		if (rc == STORE_OK && dropped[i]->valid_until > 0)
			rc = store_expiry_del(t, dropped[i]->valid_until,
			    h->h_id, dropped[i]->id);
	}
	if (nd > 0)
		rec->consent_gen++;
	store_free_list((void **)dropped, nd);
	return rc;
}

/*
 * Every current grant past its valid_until leaves the current grants, each
 * with its own CONSENT_EXPIRED event and consent generation, as the sweep
 * would have done: a change that comes between a grant's end and the next
 * sweep (a grant, a revocation) must not take it silently, or the feed
 * would judge the state before that change after the end already, and a
 * partner whose access ended would never be told to drop its copy. The
 * events are the system's (eenpland/expiry); the next event of the caller
 * starts from the state after them.
 */
static int
hh_expire_lapsed(struct stxn *t, const struct household_conf *hc,
    struct household *h, int64_t now)
{
	struct household_ev he;
	struct principal sys;
	EpGrant *g;
	uint64_t id;
	size_t i;
	int rc;

	memset(&sys, 0, sizeof(sys));
	snprintf(sys.pr_org, sizeof(sys.pr_org), "eenpland");
	snprintf(sys.pr_subject, sizeof(sys.pr_subject), "expiry");
	for (;;) {
		/* The one that ended first. */
		for (g = NULL, i = 0; i < h->h_rec->n_grants; i++)
			if (h->h_rec->grants[i]->valid_until != 0 &&
			    h->h_rec->grants[i]->valid_until <= now &&
			    (g == NULL || h->h_rec->grants[i]->valid_until <
			    g->valid_until))
				g = h->h_rec->grants[i];
		if (g == NULL)
			return STORE_OK;
		id = g->id;
		if ((rc = hh_current_drop(t, hc, h, id)) != STORE_OK ||
		    (rc = household_put(t, h)) != STORE_OK)
			return rc;
		memset(&he, 0, sizeof(he));
		he.he_kind = KIND(CONSENT);
		he.he_grant_id = id;
		he.he_consent = EENPLAN__V1__CONSENT_CHANGE__CONSENT_EXPIRED;
		if ((rc = household_event(t, h, &he, &sys, now)) != STORE_OK)
			return rc;
		h->h_gen0 = h->h_rec->consent_gen;
	}
}

int
household_grant_add(struct stxn *t, const struct household_conf *hc,
    struct household *h, EpGrant *g, int kind,
    const struct principal *actor, int64_t now, struct plan_error *pe)
{
	EpsHousehold *rec = h->h_rec;
	char sub[CONSENT_INDEX_SUBJECT_MAX];
	EpGrant *copy, **v;
	int rc;

	if (rec == NULL) {
		plan_error_set(pe, CODE(INTERNAL), "", "no household");
		return STORE_ERR;
	}
	if ((rc = hh_expire_lapsed(t, hc, h, now)) != STORE_OK) {
		plan_error_set(pe, CODE(INTERNAL), "", "%s", store_strerror(rc));
		return rc;
	}
	if (rec->grants_total >= hc->hc_grants_max) {
		plan_error_set(pe, CODE(RESOURCE_EXHAUSTED), "grants", "this "
		    "household has the maximum of %u grants (grants_max)",
		    hc->hc_grants_max);
		return STORE_ERR;
	}
	if (rec->n_grants >= hc->hc_active_grants_max) {
		plan_error_set(pe, CODE(RESOURCE_EXHAUSTED), "grants", "this "
		    "household has the maximum of %u current grants "
		    "(active_grants_max): revoke one first",
		    hc->hc_active_grants_max);
		return STORE_ERR;
	}
	g->id = rec->grants_total + 1;
	if ((copy = (EpGrant *)wire_msg_dup(&g->base)) == NULL ||
	    (v = reallocarray(rec->grants, rec->n_grants + 1,
	    sizeof(*v))) == NULL) {
		if (copy != NULL)
			protobuf_c_message_free_unpacked(&copy->base, NULL);
		plan_error_set(pe, CODE(INTERNAL), "", "out of memory");
		return STORE_ERR;
	}
	rec->grants = v;
	rec->grants[rec->n_grants++] = copy;
	rec->grants_total++;
	rec->consent_gen++;
	consent_index_subject(g, sub, sizeof(sub));
	if ((rc = store_grant_put(t, h->h_id, g)) != STORE_OK ||
	    (rc = store_index_put(t, g->grantee_org, sub, h->h_id)) !=
	    STORE_OK ||
	    (g->valid_until > 0 && (rc = store_expiry_put(t, g->valid_until,
	    h->h_id, g->id)) != STORE_OK) ||
	    /* A grant that starts later is told when it starts: swept too. */
	    (g->valid_from > now && (rc = store_expiry_put(t, g->valid_from,
	    h->h_id, g->id)) != STORE_OK) ||
	    (rc = household_put(t, h)) != STORE_OK) {
		plan_error_set(pe, CODE(INTERNAL), "", "%s", store_strerror(rc));
		return rc;
	}
	if (kind != 0) {
		struct household_ev he;

		memset(&he, 0, sizeof(he));
		he.he_kind = kind;
		he.he_grant_id = g->id;
		he.he_consent = kind == KIND(CONSENT) ?
		    EENPLAN__V1__CONSENT_CHANGE__CONSENT_GRANTED : 0;
		if ((rc = household_event(t, h, &he, actor, now)) != STORE_OK) {
			plan_error_set(pe, CODE(INTERNAL), "", "%s",
			    store_strerror(rc));
			return rc;
		}
	}
	return STORE_OK;
}

int
household_grant_update(struct stxn *t, const struct household_conf *hc,
    struct household *h, const EpGrant *g, int event,
    const struct principal *actor, int64_t now)
{
	EpsHousehold *rec = h->h_rec;
	int rc;

	if (rec == NULL || g == NULL)
		return STORE_ERR;
	if ((rc = hh_expire_lapsed(t, hc, h, now)) != STORE_OK ||
	    (rc = store_grant_put(t, h->h_id, g)) != STORE_OK)
		return rc;
	/* A revoked grant counts no more: it leaves the current grants. */
	if (g->revoked_at != 0 &&
	    (rc = hh_current_drop(t, hc, h, g->id)) != STORE_OK)
		return rc;
	if ((rc = household_put(t, h)) != STORE_OK)
		return rc;
	if (event) {
		struct household_ev he;

		memset(&he, 0, sizeof(he));
		he.he_kind = KIND(CONSENT);
		he.he_grant_id = g->id;
		he.he_consent = event;
		return household_event(t, h, &he, actor, now);
	}
	return STORE_OK;
}

int
household_grants_all(struct stxn *t, const struct household *h,
    EpGrant ***out, size_t *n)
{
	EpGrant **v;
	uint64_t i, total;
	int rc;

	*out = NULL;
	*n = 0;
	if (h->h_rec == NULL)
		return STORE_NOTFOUND;
	total = h->h_rec->grants_total;
	if (total == 0)
		return STORE_OK;
	if (total > SIZE_MAX / sizeof(*v) ||
	    (v = calloc(total, sizeof(*v))) == NULL)
		return STORE_ERR;
	/* Ids are 1..grants_total: one missing is damage, never a shorter list. */
	for (i = 0; i < total; i++) {
		if ((rc = store_grant_get(t, h->h_id, i + 1, &v[i])) !=
		    STORE_OK) {
			store_free_list((void **)v, i);
			return rc;
		}
	}
	*out = v;
	*n = total;
	return STORE_OK;
}

/* --------------------------------------------------------------- expiry */

struct hh_due {
	int64_t		 hd_until;
	char		 hd_hhid[33];
	uint64_t	 hd_id;
};

struct hh_due_list {
	struct hh_due	*dl_items;
	unsigned	 dl_n;
	unsigned	 dl_max;
};

static int
hh_due_one(int64_t until, const char *hhid, uint64_t id, void *arg)
{
	struct hh_due_list *dl = arg;

	if (dl->dl_n == dl->dl_max)
		return 1;
	dl->dl_items[dl->dl_n].hd_until = until;
	snprintf(dl->dl_items[dl->dl_n].hd_hhid, 33, "%s", hhid);
	dl->dl_items[dl->dl_n].hd_id = id;
	dl->dl_n++;
	return 0;
}

/*
 * One grant at its start (said so) or past its end (out of the current
 * grants, and said so).
 */
static int
hh_expire_one(struct stxn *t, const struct household_conf *hc,
    const struct hh_due *due, int64_t now, unsigned *n)
{
	struct household_ev he;
	EpGrant *g;
	struct principal sys;
	struct household h;
	int rc;

	memset(&sys, 0, sizeof(sys));
	snprintf(sys.pr_org, sizeof(sys.pr_org), "eenpland");
	snprintf(sys.pr_subject, sizeof(sys.pr_subject), "expiry");
	rc = household_load(t, hc, &sys, due->hd_hhid, now, &h);
	if (rc == STORE_NOTFOUND)	/* purged since: the entry is stale */
		return store_expiry_del(t, due->hd_until, due->hd_hhid,
		    due->hd_id);
	if (rc != STORE_OK)
		return rc;
	if ((g = household_grant_find(&h, due->hd_id)) != NULL &&
	    g->valid_from == due->hd_until && g->valid_from > 0) {
		/*
		 * Its start: it counts from now. A new consent generation, so
		 * the feed tells who it lets in.
		 */
		h.h_rec->consent_gen++;
		if ((rc = household_put(t, &h)) != STORE_OK)
			goto out;
		memset(&he, 0, sizeof(he));
		he.he_kind = KIND(CONSENT);
		he.he_grant_id = due->hd_id;
		he.he_consent = EENPLAN__V1__CONSENT_CHANGE__CONSENT_STARTED;
		if ((rc = household_event(t, &h, &he, &sys, now)) != STORE_OK)
			goto out;
		(*n)++;
	} else if (g != NULL) {
		/* It, and any other that ended, each with its event. */
		if ((rc = hh_expire_lapsed(t, hc, &h, now)) != STORE_OK)
			goto out;
		(*n)++;
	}
	/* Dropping took the entry out; a grant gone some other way leaves it. */
	rc = store_expiry_del(t, due->hd_until, due->hd_hhid, due->hd_id);
out:
	household_free(&h);
	return rc;
}

int
household_expire_due(struct stxn *t, const struct household_conf *hc,
    int64_t now, unsigned max, unsigned *n)
{
	struct hh_due_list dl;
	unsigned i;
	int rc;

	*n = 0;
	memset(&dl, 0, sizeof(dl));
	dl.dl_max = max;
	if (max == 0 || (dl.dl_items = calloc(max, sizeof(*dl.dl_items))) ==
	    NULL)
		return max == 0 ? STORE_OK : STORE_ERR;
	rc = store_expiry_due(t, now, hh_due_one, &dl);
	for (i = 0; rc == STORE_OK && i < dl.dl_n; i++)
		rc = hh_expire_one(t, hc, &dl.dl_items[i], now, n);
	free(dl.dl_items);
	return rc;
}

/* -------------------------------------------------------------- signals */

int
household_signal_add(struct stxn *t, struct household *h, EpSignal *sg,
    const struct principal *actor, int64_t now)
{
	struct household_ev he;
	int rc;

	if (h->h_rec == NULL || !str_eq(sg->household_id, h->h_id))
		return STORE_ERR;
	sg->id = h->h_rec->signals_total + 1;
	h->h_rec->signals_total++;
	if ((rc = store_signal_put(t, sg)) != STORE_OK ||
	    (rc = household_put(t, h)) != STORE_OK)
		return rc;
	memset(&he, 0, sizeof(he));
	he.he_kind = KIND(SIGNAL);
	he.he_signal = sg;
	return household_event(t, h, &he, actor, now);
}

int
household_signal_decoy(struct stxn *t, const char *hhid, EpSignal *sg,
    const struct principal *actor, int64_t now)
{
	EpsHousehold rec = EENPLAN__STORE__HOUSEHOLD__INIT;
	EpChangeEvent ev = EENPLAN__V1__CHANGE_EVENT__INIT;
	EpsFeedEvent fe = EENPLAN__STORE__FEED_EVENT__INIT;
	EpPrincipal a;

	/* A standing record of a household's size: its regisseur is the actor. */
	hh_ep_view(actor, &a);
	rec.household_id = (char *)(uintptr_t)hhid;
	rec.status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ACTIVE;
	rec.version = 1;
	rec.consent_gen = 1;
	rec.signals_total = 1;
	rec.created_at = rec.updated_at = now;
	rec.regisseur = &a;
	sg->id = 1;
	ev.household_id = (char *)(uintptr_t)hhid;
	ev.kind = KIND(SIGNAL);
	ev.version = 1;
	ev.at = now;
	ev.actor = &a;
	ev.signal = sg;
	fe.event = &ev;
	fe.prev_gen = fe.gen = 1;
	return store_signal_decoy(t, &rec, sg, &fe);
}

int
household_signals(struct stxn *t, const struct household *h, EpSignal ***out,
    size_t *n)
{
	EpSignal **v;
	uint64_t i, total;
	int rc;

	*out = NULL;
	*n = 0;
	if (h->h_rec == NULL)
		return STORE_NOTFOUND;
	if ((total = h->h_rec->signals_total) == 0)
		return STORE_OK;
	if (total > SIZE_MAX / sizeof(*v) ||
	    (v = calloc(total, sizeof(*v))) == NULL)
		return STORE_ERR;
	for (i = 0; i < total; i++) {
		if ((rc = store_signal_get(t, h->h_id, i + 1, &v[i])) !=
		    STORE_OK) {
			store_free_list((void **)v, i);
			return rc;
		}
	}
	*out = v;
	*n = total;
	return STORE_OK;
}

/* ---------------------------------------------------------- rechecking */

int
household_recheck(struct stxn *t, const struct household_conf *hc,
    const struct principal *who, const char *hhid, int op, int access,
    uint32_t scope, int64_t now)
{
	struct household h;
	int rc, ok;

	rc = household_load(t, hc, who, hhid, now, &h);
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK)
		return rc;
	ok = consent_allows(hc->hc_consent, who, &h.h_dec, op, 0, NULL) &&
	    h.h_dec.cd_access >= access &&
	    (h.h_dec.cd_scope & scope) == scope;
	household_free(&h);
	return ok;
}
