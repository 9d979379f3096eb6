/*
 * op_plan: the handlers for a household's plan — WhoAmI, CreateHousehold,
 * GetPlan, MutatePlan, GetHistory, ListHouseholds, Escalate, CloseHousehold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "audit.h"
#include "config.h"
#include "log.h"
#include "plan.h"
#include "server.h"
#include "util.h"

#define CODE(x)	EENPLAN__V1__CODE__##x

static char *
xstrdup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

/* ------------------------------------------------------------- WhoAmI */

void
op_who_am_i(struct call *ca)
{
	Eenplan__V1__WhoAmIResponse *r;
	const struct config_org *org;

	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__who_am_iresponse__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_WHO_AM_I, r);
	org = config_org_find(ca->ca_srv->s_conf, ca->ca_who.pr_org);
	r->principal = principal_ep_new(&ca->ca_who);
	r->org_name = xstrdup(org != NULL ? org->co_name : "");
	r->org_identifier = xstrdup(ca->ca_who.pr_org_identifier);
	r->cert_serial = xstrdup(ca->ca_who.pr_serial);
	if (r->principal == NULL || r->org_name == NULL ||
	    r->org_identifier == NULL || r->cert_serial == NULL)
		goto oom;
	call_reply(ca);
	return;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
	call_reply(ca);
}

/* ---------------------------------------------------- CreateHousehold */

static int
grant_put_new(struct call *ca, struct stxn *t, const char *hhid, EpGrant *g,
    uint64_t id)
{
	int rc;

	g->id = id;
	if ((rc = store_grant_put(t, hhid, g)) != STORE_OK) {
		call_store_error(ca, rc);
		return rc;
	}
	if ((rc = store_index_put(t, g->grantee_org, g->grantee_subject,
	    hhid)) != STORE_OK)
		call_store_error(ca, rc);
	return rc;
}

static int
exec_create(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__CreateHouseholdRequest *rq = ca->ca_req->create_household;
	Eenplan__V1__CreateHouseholdResponse *r;
	EpGrant g = EENPLAN__V1__GRANT__INIT;
	EpPrincipal me;
	struct plan_error pe;
	char hhid[HOUSEHOLD_ID_LEN + 1], *id;
	EpPlan *plan = NULL, *exists = NULL;
	size_t i;
	int rc = -1, src;

	if (util_random_id(hhid) != 0) {
		call_status(ca, CODE(INTERNAL), "no randomness for an id");
		return -1;
	}
	/* 128 random bits do not collide, but never overwrite a plan. */
	if ((src = store_plan_get(t, hhid, 0, &exists)) == STORE_OK) {
		plan_free(exists);
		call_status(ca, CODE(INTERNAL), "household id collision");
		return -1;
	}
	if (src != STORE_NOTFOUND) {
		call_store_error(ca, src);
		return -1;
	}
	principal_ep_view(&ca->ca_who, &me);
	if (plan_new(&plan, hhid, rq->area, rq->members, rq->n_members, &me,
	    rq->consent_reference, ca->ca_now, &pe) != 0) {
		call_status(ca, pe.pe_code, "%s: %s", pe.pe_field, pe.pe_msg);
		return -1;
	}
	/* The intake itself is version 1; hh_commit_version bumps it. */
	plan->version = 0;
	if (hh_commit_version(ca, t, plan, EENPLAN__V1__CHANGE_KIND__CHANGE_CREATED,
	    NULL, NULL, 0, "intake") != STORE_OK)
		goto out;
	/* The regisseur's manage grant: the one way manage is held. */
	g.grantee_org = ca->ca_who.pr_org;
	g.grantee_subject = ca->ca_who.pr_subject;
	g.access = EENPLAN__V1__ACCESS__ACCESS_MANAGE;
	g.purpose = (char *)(uintptr_t)"regie (intake)";
	g.recorded_by = &me;
	g.recorded_at = ca->ca_now;
	g.on_behalf = 1;
	g.form_reference = rq->consent_reference;
	if (grant_put_new(ca, t, hhid, &g, 1) != STORE_OK)
		goto out;
	for (i = 0; i < plan->n_members; i++) {
		if ((src = store_index_put(t,
		    ca->ca_srv->s_consent.cc_citizens_org,
		    plan->members[i]->person_id, hhid)) != STORE_OK) {
			call_store_error(ca, src);
			goto out;
		}
	}
	if ((r = malloc(sizeof(*r))) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		goto out;
	}
	eenplan__v1__create_household_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_CREATE_HOUSEHOLD, r);
	if ((r->household_id = strdup(hhid)) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		goto out;
	}
	r->version = plan->version;
	audit_record_set(ca->ca_audit, CODE(OK), "intake", "household %s, "
	    "version %llu, consent form %s", hhid,
	    (unsigned long long)plan->version, rq->consent_reference);
	/* The record names the household it created. */
	if ((id = strdup(hhid)) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		goto out;
	}
	free(ca->ca_audit->household_id);
	ca->ca_audit->household_id = id;
	rc = 0;
out:
	plan_free(plan);
	return rc;
}

void
op_create_household(struct call *ca)
{
	Eenplan__V1__CreateHouseholdRequest *rq = ca->ca_req->create_household;

	call_audit_begin(ca, "CreateHousehold", NULL);
	if (ca->ca_who.pr_role != EENPLAN__V1__ROLE__ROLE_PROFESSIONAL) {
		call_status(ca, CODE(PERMISSION_DENIED),
		    "only a professional can take in a household");
		call_audit_reply(ca);
		return;
	}
	if (rq->n_members > PLAN_MEMBERS_MAX) {
		call_status(ca, CODE(INVALID_ARGUMENT),
		    "members: at most %d", PLAN_MEMBERS_MAX);
		call_audit_reply(ca);
		return;
	}
	call_write(ca, exec_create);
}

/* ------------------------------------------------------------ GetPlan */

static void
scope_list(uint32_t scope, Eenplan__V1__Domain **out, size_t *n)
{
	int d;

	*out = NULL;
	*n = 0;
	if (scope == CONSENT_SCOPE_ALL)
		return;
	if ((*out = calloc(13, sizeof(**out))) == NULL)
		return;
	for (d = 1; d <= 13; d++)
		if (scope & CONSENT_DOMAIN_BIT(d))
			(*out)[(*n)++] = d;
}

void
op_get_plan(struct call *ca)
{
	Eenplan__V1__GetPlanRequest *rq = ca->ca_req->get_plan;
	Eenplan__V1__GetPlanResponse *r;
	EpPlan *old = NULL;
	const EpPlan *src;
	struct stxn *t;
	struct hh hh;
	int rc;

	call_audit_begin(ca, "GetPlan", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0 ||
	    (t = call_reader(ca)) == NULL) {
		call_audit_reply(ca);
		return;
	}
	rc = hh_load(t, ca->ca_srv, &ca->ca_who, rq->household_id, ca->ca_now, &hh);
	if (rc < 0) {
		call_store_error(ca, rc);
		goto out;
	}
	if (rc == STORE_NOTFOUND || !consent_allows(&ca->ca_srv->s_consent,
	    &ca->ca_who, &hh.hh_dec, CONSENT_OP_READ, 0, NULL)) {
		call_deny(ca);
		goto out;
	}
	src = hh.hh_plan;
	if (rq->version != 0 && rq->version != hh.hh_plan->version) {
		rc = store_plan_get(t, rq->household_id, rq->version, &old);
		if (rc == STORE_NOTFOUND) {
			call_status(ca, CODE(NOT_FOUND), "version: no version "
			    "%llu of this plan", (unsigned long long)rq->version);
			goto out;
		} else if (rc != STORE_OK) {
			call_store_error(ca, rc);
			goto out;
		}
		src = old;
	}
	if ((r = malloc(sizeof(*r))) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		goto out;
	}
	eenplan__v1__get_plan_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_GET_PLAN, r);
	r->access = hh.hh_dec.cd_access;
	scope_list(hh.hh_dec.cd_scope, &r->scope, &r->n_scope);
	if ((r->plan = plan_filter(src, hh.hh_dec.cd_scope)) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		goto out;
	}
	audit_record_set(ca->ca_audit, CODE(OK), hh.hh_purpose,
	    "version %llu%s", (unsigned long long)src->version,
	    hh.hh_dec.cd_break_glass ? ", break-glass" : "");
out:
	plan_free(old);
	hh_free(&hh);
	call_reader_end(ca);
	call_audit_reply(ca);
}

/* --------------------------------------------------------- MutatePlan */

struct mutate_state {
	int		*ms_domains;
	uint32_t	*ms_created;
};

static void
mutate_state_free(void *p)
{
	struct mutate_state *ms = p;

	if (ms == NULL)
		return;
	free(ms->ms_domains);
	free(ms->ms_created);
	free(ms);
}

static void
mutate_denied(struct call *ca, size_t i)
{
	call_status(ca, CODE(PERMISSION_DENIED), "mutations[%zu]: not allowed "
	    "with your access to this household", i);
}

/* A caller that may change nothing: a reader that is no member. */
static int
mutate_may_write(const struct consent_decision *d)
{
	return d->cd_access >= EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE ||
	    d->cd_member || d->cd_regisseur;
}

/*
 * Each mutation: what it touches, whether the caller may, then apply.
 * What the caller may not see stays unseen: a reader is refused before
 * any item is looked up, and an item missing from a scoped view is
 * refused like one outside the scope, so neither tells it exists.
 */
static int
mutate_apply_all(struct call *ca, struct hh *hh, struct mutate_state *ms)
{
	Eenplan__V1__MutatePlanRequest *rq = ca->ca_req->mutate_plan;
	enum consent_op op;
	struct plan_error pe;
	const char *owner;
	EpPrincipal me;
	int domain;
	size_t i;

	if (!mutate_may_write(&hh->hh_dec)) {
		mutate_denied(ca, 0);
		return -1;
	}
	principal_ep_view(&ca->ca_who, &me);
	for (i = 0; i < rq->n_mutations; i++) {
		if (plan_mutation_target(hh->hh_plan, rq->mutations[i], &op,
		    &domain, &owner, &pe) != 0) {
			if (pe.pe_code == CODE(NOT_FOUND) &&
			    hh->hh_dec.cd_scope != CONSENT_SCOPE_ALL) {
				mutate_denied(ca, i);
				return -1;
			}
			goto refused;
		}
		if (!consent_allows(&ca->ca_srv->s_consent, &ca->ca_who,
		    &hh->hh_dec, op, domain, owner)) {
			mutate_denied(ca, i);
			return -1;
		}
		ms->ms_domains[i] = domain;
		if (plan_apply(hh->hh_plan, rq->mutations[i], &me, ca->ca_now,
		    &ms->ms_created[i], &pe) != 0)
			goto refused;
	}
	return 0;
refused:
	call_status(ca, pe.pe_code, "mutations[%zu].%s: %s", i, pe.pe_field,
	    pe.pe_msg);
	return -1;
}

static int
exec_mutate(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__MutatePlanRequest *rq = ca->ca_req->mutate_plan;
	Eenplan__V1__MutatePlanResponse *r;
	struct mutate_state *ms = ca->ca_state;
	struct hh hh;
	int rc;

	rc = hh_load(t, ca->ca_srv, &ca->ca_who, rq->household_id, ca->ca_now, &hh);
	if (rc < 0) {
		call_store_error(ca, rc);
		return -1;
	}
	if (rc == STORE_NOTFOUND || hh.hh_dec.cd_access ==
	    EENPLAN__V1__ACCESS__ACCESS_NONE) {
		call_deny(ca);
		goto fail;
	}
	if (rq->expected_version != 0 &&
	    rq->expected_version != hh.hh_plan->version) {
		call_status(ca, CODE(ABORTED), "expected_version: the plan is "
		    "at version %llu, not %llu; nothing was changed",
		    (unsigned long long)hh.hh_plan->version,
		    (unsigned long long)rq->expected_version);
		goto fail;
	}
	if (mutate_apply_all(ca, &hh, ms) != 0)
		goto fail;
	if (hh_commit_version(ca, t, hh.hh_plan,
	    EENPLAN__V1__CHANGE_KIND__CHANGE_PLAN, rq->mutations, ms->ms_domains,
	    rq->n_mutations, NULL) != STORE_OK)
		goto fail;
	if ((r = malloc(sizeof(*r))) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		goto fail;
	}
	eenplan__v1__mutate_plan_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_MUTATE_PLAN, r);
	r->version = hh.hh_plan->version;
	r->created_ids = ms->ms_created;
	r->n_created_ids = rq->n_mutations;
	ms->ms_created = NULL;		/* now the body's */
	audit_record_set(ca->ca_audit, CODE(OK), hh.hh_purpose,
	    "version %llu, %zu mutation(s)",
	    (unsigned long long)r->version, rq->n_mutations);
	hh_free(&hh);
	return 0;
fail:
	hh_free(&hh);
	return -1;
}

void
op_mutate_plan(struct call *ca)
{
	Eenplan__V1__MutatePlanRequest *rq = ca->ca_req->mutate_plan;
	struct mutate_state *ms;

	call_audit_begin(ca, "MutatePlan", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0) {
		call_audit_reply(ca);
		return;
	}
	if (rq->n_mutations == 0 || rq->n_mutations > PLAN_MUTATIONS_MAX) {
		call_status(ca, CODE(INVALID_ARGUMENT),
		    "mutations: between 1 and %d per request", PLAN_MUTATIONS_MAX);
		call_audit_reply(ca);
		return;
	}
	if ((ms = calloc(1, sizeof(*ms))) == NULL ||
	    (ms->ms_domains = calloc(rq->n_mutations, sizeof(int))) == NULL ||
	    (ms->ms_created = calloc(rq->n_mutations, sizeof(uint32_t))) == NULL) {
		mutate_state_free(ms);
		call_status(ca, CODE(INTERNAL), "out of memory");
		call_audit_reply(ca);
		return;
	}
	ca->ca_state = ms;
	ca->ca_state_free = mutate_state_free;
	call_write(ca, exec_mutate);
}

/* --------------------------------------------------------- GetHistory */

void
op_get_history(struct call *ca)
{
	Eenplan__V1__GetHistoryRequest *rq = ca->ca_req->get_history;
	Eenplan__V1__GetHistoryResponse *r;
	EpHistoryEntry **ents = NULL;
	size_t n = 0, i;
	struct stxn *t;
	struct hh hh;
	int rc, more = 0;

	memset(&hh, 0, sizeof(hh));
	call_audit_begin(ca, "GetHistory", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0 ||
	    (t = call_reader(ca)) == NULL) {
		call_audit_reply(ca);
		return;
	}
	rc = hh_load(t, ca->ca_srv, &ca->ca_who, rq->household_id, ca->ca_now, &hh);
	if (rc < 0) {
		call_store_error(ca, rc);
		goto out;
	}
	if (rc == STORE_NOTFOUND || !consent_allows(&ca->ca_srv->s_consent,
	    &ca->ca_who, &hh.hh_dec, CONSENT_OP_READ, 0, NULL)) {
		call_deny(ca);
		goto out;
	}
	rc = store_history_list(t, rq->household_id, rq->after_version,
	    call_page_limit(ca, rq->limit), &ents, &n, &more);
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		call_store_error(ca, rc);
		goto out;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__get_history_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_GET_HISTORY, r);
	if (n > 0 && (r->entries = calloc(n, sizeof(*r->entries))) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		EpHistoryEntry *e;

		if ((e = plan_filter_history(ents[i], hh.hh_dec.cd_scope)) == NULL)
			goto oom;
		/* A change wholly outside the reader's scope is not shown at all. */
		if (ents[i]->n_mutations > 0 && e->n_mutations == 0) {
			protobuf_c_message_free_unpacked(&e->base, NULL);
			continue;
		}
		r->entries[r->n_entries++] = e;
	}
	r->more = more;
	/* What the reader was shown, not what was loaded for it. */
	audit_record_set(ca->ca_audit, CODE(OK), hh.hh_purpose,
	    "versions after %llu: %zu entries",
	    (unsigned long long)rq->after_version, r->n_entries);
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	if (ents != NULL)
		store_free_list((void **)ents, n);
	hh_free(&hh);
	call_reader_end(ca);
	call_audit_reply(ca);
}

/* ----------------------------------------------------- ListHouseholds */

/*
 * Index entries read per scan: a few times the page (entries may be stale
 * hints the policy refuses), bounded; the page token keeps the place.
 */
#define LIST_SCAN_MIN	16
#define LIST_SCAN_MAX	1024

struct idlist {
	char		(*il_ids)[HOUSEHOLD_ID_LEN + 1];
	size_t		  il_n;
	size_t		  il_cap;	/* room in il_ids */
	size_t		  il_scan;	/* taken by the current scan */
	size_t		  il_scan_max;	/* per scan */
	int		  il_full;	/* the current scan stopped early */
};

static int
idlist_add(const char *hhid, void *arg)
{
	struct idlist *il = arg;

	if (il->il_scan == il->il_scan_max || il->il_n == il->il_cap) {
		il->il_full = 1;
		return 1;
	}
	if (!util_valid_household_id(hhid))
		return 0;
	memcpy(il->il_ids[il->il_n++], hhid, HOUSEHOLD_ID_LEN + 1);
	il->il_scan++;
	return 0;
}

static int
idcmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * One index scan. When it stopped early, ids past its last one were not
 * seen: the horizon moves down to it, so no page skips over them.
 */
static int
list_scan(struct stxn *t, const char *org, const char *subject,
    const char *after, struct idlist *il, char *horizon)
{
	int rc;

	il->il_scan = 0;
	il->il_full = 0;
	rc = store_index_scan(t, org, subject, after, idlist_add, il);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	if (il->il_full && il->il_n > 0 && (horizon[0] == '\0' ||
	    strcmp(il->il_ids[il->il_n - 1], horizon) < 0))
		memcpy(horizon, il->il_ids[il->il_n - 1], HOUSEHOLD_ID_LEN + 1);
	return STORE_OK;
}

/*
 * Candidates in id order after the token, up to the horizon (empty: none):
 * index entries for the whole organisation and for the person.
 */
static int
list_candidates(struct call *ca, struct stxn *t, const char *after,
    struct idlist *il, char *horizon)
{
	size_t i, k;
	int rc;

	horizon[0] = '\0';
	if ((rc = list_scan(t, ca->ca_who.pr_org, "", after, il,
	    horizon)) != STORE_OK || (rc = list_scan(t, ca->ca_who.pr_org,
	    ca->ca_who.pr_subject, after, il, horizon)) != STORE_OK)
		return rc;
	qsort(il->il_ids, il->il_n, sizeof(*il->il_ids), idcmp);
	for (i = 0, k = 0; i < il->il_n; i++) {
		if (horizon[0] != '\0' && strcmp(il->il_ids[i], horizon) > 0)
			break;
		if (k == 0 || strcmp(il->il_ids[k - 1], il->il_ids[i]) != 0)
			memmove(il->il_ids[k++], il->il_ids[i], sizeof(*il->il_ids));
	}
	il->il_n = k;
	return STORE_OK;
}

static EpHouseholdSummary *
summary_new(const struct hh *hh)
{
	EpHouseholdSummary *s;
	const EpPlan *p = hh->hh_plan;

	if ((s = malloc(sizeof(*s))) == NULL)
		return NULL;
	eenplan__v1__household_summary__init(s);
	s->household_id = strdup(p->household_id);
	s->area = p->area;
	s->status = p->status;
	s->version = p->version;
	s->access = hh->hh_dec.cd_access;
	s->updated_at = p->updated_at;
	if (p->regisseur != NULL) {
		s->regisseur = malloc(sizeof(*s->regisseur));
		if (s->regisseur != NULL) {
			eenplan__v1__principal__init(s->regisseur);
			s->regisseur->org = xstrdup(p->regisseur->org);
			s->regisseur->subject = xstrdup(p->regisseur->subject);
			s->regisseur->role = p->regisseur->role;
		}
	}
	return s;
}

/* The record names every household the answer revealed. */
static int
list_audit_add(EpAuditRecord *rec, const char *hhid)
{
	char **v;

	v = realloc(rec->listed_households,
	    (rec->n_listed_households + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	rec->listed_households = v;
	if ((v[rec->n_listed_households] = strdup(hhid)) == NULL)
		return -1;
	rec->n_listed_households++;
	return 0;
}

void
op_list_households(struct call *ca)
{
	Eenplan__V1__ListHouseholdsRequest *rq = ca->ca_req->list_households;
	Eenplan__V1__ListHouseholdsResponse *r;
	struct idlist il = { NULL, 0, 0, 0, 0, 0 };
	char horizon[HOUSEHOLD_ID_LEN + 1];
	const char *after = rq->page_token;
	uint32_t limit = call_page_limit(ca, rq->page_size);
	size_t i;
	struct stxn *t;
	struct hh hh;
	int rc;

	call_audit_begin(ca, "ListHouseholds", NULL);
	if (after[0] != '\0' && !util_valid_household_id(after)) {
		call_status(ca, CODE(INVALID_ARGUMENT), "page_token: malformed");
		call_audit_reply(ca);
		return;
	}
	if (ca->ca_audit == NULL || (t = call_reader(ca)) == NULL) {
		call_audit_reply(ca);
		return;
	}
	il.il_scan_max = (size_t)limit * 8;
	if (il.il_scan_max < LIST_SCAN_MIN)
		il.il_scan_max = LIST_SCAN_MIN;
	if (il.il_scan_max > LIST_SCAN_MAX)
		il.il_scan_max = LIST_SCAN_MAX;
	il.il_cap = 2 * il.il_scan_max;
	if ((il.il_ids = calloc(il.il_cap, sizeof(*il.il_ids))) == NULL ||
	    (r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__list_households_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_LIST_HOUSEHOLDS, r);
	if ((rc = list_candidates(ca, t, after, &il, horizon)) != STORE_OK) {
		call_store_error(ca, rc);
		goto out;
	}
	if ((r->households = calloc(limit, sizeof(*r->households))) == NULL)
		goto oom;
	for (i = 0; i < il.il_n && r->n_households < limit; i++) {
		rc = hh_load(t, ca->ca_srv, &ca->ca_who, il.il_ids[i],
		    ca->ca_now, &hh);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc < 0) {
			call_store_error(ca, rc);
			goto out;
		}
		if (consent_allows(&ca->ca_srv->s_consent, &ca->ca_who,
		    &hh.hh_dec, CONSENT_OP_READ, 0, NULL)) {
			r->households[r->n_households] = summary_new(&hh);
			if (r->households[r->n_households] == NULL ||
			    list_audit_add(ca->ca_audit, il.il_ids[i]) != 0) {
				hh_free(&hh);
				goto oom;
			}
			r->n_households++;
		}
		hh_free(&hh);
	}
	/*
	 * A full page continues after its last household; a page cut short by
	 * the scan horizon continues from there, so every page moves forward.
	 */
	if (r->n_households == limit && i < il.il_n) {
		if ((r->next_page_token = strdup(il.il_ids[i - 1])) == NULL)
			goto oom;
	} else if (i == il.il_n && horizon[0] != '\0') {
		if ((r->next_page_token = strdup(horizon)) == NULL)
			goto oom;
	}
	audit_record_set(ca->ca_audit, CODE(OK), NULL, "%zu household(s)",
	    r->n_households);
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	free(il.il_ids);
	call_reader_end(ca);
	call_audit_reply(ca);
}

/* ------------------------------------------- Escalate, CloseHousehold */

/* Shared by Escalate and Close: manage only, open household, a reason. */
static int
exec_status_change(struct call *ca, struct stxn *t, const char *hhid,
    const char *reason, int kind, uint64_t *version)
{
	struct plan_error pe;
	EpPrincipal me;
	struct hh hh;
	int rc;

	rc = hh_load(t, ca->ca_srv, &ca->ca_who, hhid, ca->ca_now, &hh);
	if (rc < 0) {
		call_store_error(ca, rc);
		return -1;
	}
	rc = -1;
	if (hh.hh_plan == NULL || !consent_allows(&ca->ca_srv->s_consent,
	    &ca->ca_who, &hh.hh_dec, kind == EENPLAN__V1__CHANGE_KIND__CHANGE_CLOSED ?
	    CONSENT_OP_CLOSE : CONSENT_OP_ESCALATE, 0, NULL)) {
		if (hh.hh_plan != NULL && hh.hh_dec.cd_access !=
		    EENPLAN__V1__ACCESS__ACCESS_NONE)
			call_status(ca, CODE(PERMISSION_DENIED),
			    "only the regisseur can do this");
		else
			call_deny(ca);
		goto out;
	}
	principal_ep_view(&ca->ca_who, &me);
	if ((kind == EENPLAN__V1__CHANGE_KIND__CHANGE_CLOSED ?
	    plan_close(hh.hh_plan, &me, ca->ca_now, &pe) :
	    plan_escalate(hh.hh_plan, reason, &me, ca->ca_now, &pe)) != 0) {
		call_plan_error(ca, &pe);
		goto out;
	}
	if (hh_commit_version(ca, t, hh.hh_plan, kind, NULL, NULL, 0,
	    reason) != STORE_OK)
		goto out;
	*version = hh.hh_plan->version;
	audit_record_set(ca->ca_audit, CODE(OK), hh.hh_purpose,
	    "version %llu: %s", (unsigned long long)*version, reason);
	rc = 0;
out:
	hh_free(&hh);
	return rc;
}

static int
exec_escalate(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__EscalateRequest *rq = ca->ca_req->escalate;
	Eenplan__V1__EscalateResponse *r;
	uint64_t v;

	if (exec_status_change(ca, t, rq->household_id, rq->reason,
	    EENPLAN__V1__CHANGE_KIND__CHANGE_ESCALATED, &v) != 0)
		return -1;
	if ((r = malloc(sizeof(*r))) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		return -1;
	}
	eenplan__v1__escalate_response__init(r);
	r->version = v;
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_ESCALATE, r);
	return 0;
}

static int
exec_close(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__CloseHouseholdRequest *rq = ca->ca_req->close_household;
	Eenplan__V1__CloseHouseholdResponse *r;
	uint64_t v;

	if (exec_status_change(ca, t, rq->household_id, rq->reason,
	    EENPLAN__V1__CHANGE_KIND__CHANGE_CLOSED, &v) != 0)
		return -1;
	if ((r = malloc(sizeof(*r))) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		return -1;
	}
	eenplan__v1__close_household_response__init(r);
	r->version = v;
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_CLOSE_HOUSEHOLD, r);
	return 0;
}

static void
status_change(struct call *ca, const char *action, const char *hhid,
    const char *reason, wjob_exec_fn fn)
{
	call_audit_begin(ca, action, hhid);
	if (call_check_hhid(ca, hhid) != 0) {
		call_audit_reply(ca);
		return;
	}
	if (!plan_text_ok(reason, 1, PLAN_TEXT_MAX)) {
		call_status(ca, CODE(INVALID_ARGUMENT),
		    "reason: 1 to %d characters of text", PLAN_TEXT_MAX);
		call_audit_reply(ca);
		return;
	}
	call_write(ca, fn);
}

void
op_escalate(struct call *ca)
{
	status_change(ca, "Escalate", ca->ca_req->escalate->household_id,
	    ca->ca_req->escalate->reason, exec_escalate);
}

void
op_close_household(struct call *ca)
{
	status_change(ca, "CloseHousehold",
	    ca->ca_req->close_household->household_id,
	    ca->ca_req->close_household->reason, exec_close);
}
