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
#include "util.h"

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
	org = config_org_find(ca->ca_env->ce_conf, ca->ca_who.pr_org);
	r->principal = principal_ep_new(&ca->ca_who);
	r->org_name = xstrdup(org != NULL ? org->co_name : "");
	r->org_identifier = xstrdup(ca->ca_who.pr_org_identifier);
	r->cert_serial = xstrdup(ca->ca_who.pr_serial);
	if (r->principal == NULL || r->org_name == NULL ||
	    r->org_identifier == NULL || r->cert_serial == NULL)
		goto oom;
	/* The teams its organisation's CA put it in. */
	if (ca->ca_who.pr_nteams > 0) {
		int i;

		if ((r->teams = calloc((size_t)ca->ca_who.pr_nteams,
		    sizeof(*r->teams))) == NULL)
			goto oom;
		for (i = 0; i < ca->ca_who.pr_nteams; i++) {
			if ((r->teams[i] = xstrdup(ca->ca_who.pr_teams[i])) ==
			    NULL)
				goto oom;
			r->n_teams++;
		}
	}
	call_reply(ca);
	return;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
	call_reply(ca);
}

/* ---------------------------------------------------- CreateHousehold */

static int
exec_create(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__CreateHouseholdRequest *rq = ca->ca_req->create_household;
	Eenplan__V1__CreateHouseholdResponse *r;
	EpGrant g = EENPLAN__V1__GRANT__INIT;
	char hhid[HOUSEHOLD_ID_LEN + 1], *id;
	EpsHousehold *exists = NULL;
	struct household h;
	struct plan_error pe;
	EpPrincipal me;
	EpPlan *plan = NULL;
	int rc = -1, src;

	memset(&h, 0, sizeof(h));
	if (util_random_id(hhid) != 0) {
		call_status(ca, CODE(INTERNAL), "no randomness for an id");
		return -1;
	}
	/* 128 random bits do not collide, but never overwrite a household. */
	if ((src = store_hh_get(t, hhid, &exists)) != STORE_NOTFOUND) {
		store_hh_free(exists);
		if (src == STORE_OK)
			call_status(ca, CODE(INTERNAL), "household id collision");
		else
			call_store_error(ca, src);
		return -1;
	}
	principal_ep_view(&ca->ca_who, &me);
	if (plan_new(&plan, hhid, rq->area, rq->members, rq->n_members, &me,
	    rq->consent_reference, ca->ca_now, &pe) != 0) {
		call_plan_error(ca, &pe);
		return -1;
	}
	/* The intake itself is version 1: committing bumps it. */
	plan->version = 0;
	/* The regisseur's manage grant: the one way manage is held. */
	g.grantee_org = ca->ca_who.pr_org;
	g.grantee_subject = ca->ca_who.pr_subject;
	g.access = ACCESS(MANAGE);
	g.purpose = (char *)(uintptr_t)"regie (intake)";
	g.recorded_by = &me;
	g.recorded_at = ca->ca_now;
	g.on_behalf = 1;
	g.form_reference = rq->consent_reference;
	if ((src = household_create(t, ca->ca_env->ce_hh, &h, plan, &g,
	    &ca->ca_who, ca->ca_now, &pe)) != STORE_OK) {
		if (src == STORE_ERR)
			call_plan_error(ca, &pe);
		else
			call_store_error(ca, src);
		goto out;
	}
	/* The law it falls under decides its retention after closing. */
	if ((id = strdup(rq->regime != NULL && rq->regime[0] != '\0' ?
	    rq->regime : "wmo")) == NULL)
		goto oom;
	if (h.h_rec->regime != protobuf_c_empty_string)
		free(h.h_rec->regime);
	h.h_rec->regime = id;
	if ((src = household_put(t, &h)) != STORE_OK) {
		call_store_error(ca, src);
		goto out;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__create_household_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_CREATE_HOUSEHOLD, r);
	if ((r->household_id = strdup(hhid)) == NULL)
		goto oom;
	r->version = plan->version;
	audit_record_set(ca->ca_audit, CODE(OK), "intake", "household %s, "
	    "version %llu, consent form %s", hhid,
	    (unsigned long long)plan->version, rq->consent_reference);
	/* The record names the household it created, and its regisseur. */
	if ((id = strdup(hhid)) == NULL)
		goto oom;
	free(ca->ca_audit->household_id);
	ca->ca_audit->household_id = id;
	if ((id = strdup(CONSENT_CAPACITY_REGISSEUR)) == NULL)
		goto oom;
	if (ca->ca_audit->actor_capacity != protobuf_c_empty_string)
		free(ca->ca_audit->actor_capacity);
	ca->ca_audit->actor_capacity = id;
	rc = 0;
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	household_free(&h);
	plan_free(plan);
	return rc;
}

void
op_create_household(struct call *ca)
{
	Eenplan__V1__CreateHouseholdRequest *rq = ca->ca_req->create_household;

	call_audit_begin(ca, "CreateHousehold", NULL);
	if (!consent_may_intake(&ca->ca_who)) {
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
	if (rq->regime != NULL && rq->regime[0] != '\0' &&
	    strcmp(rq->regime, "wmo") != 0 &&
	    strcmp(rq->regime, "jeugdwet") != 0) {
		call_status(ca, CODE(INVALID_ARGUMENT),
		    "regime: wmo or jeugdwet (the law the support falls under)");
		call_audit_reply(ca);
		return;
	}
	call_write(ca, exec_create);
}

/* ------------------------------------------------------------ GetPlan */

/* Room left before and after the plan's bytes for the response around them. */
#define GETPLAN_HEAD	32
#define GETPLAN_TAIL	32

static size_t
pb_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
		n++;
	} while (v != 0);
	return n;
}

/*
 * Wraps plen bytes of packed Plan at buf + GETPLAN_HEAD into the frame of a
 * Response {id, get_plan {plan, access, scope}}, as protobuf-c would pack
 * it: the header right before the plan, access and scope after it. The
 * plan's bytes are not copied. *off and *len give the frame.
 */
static int
getplan_wrap(uint8_t *buf, size_t plen, uint64_t id, int access,
    uint32_t scope, const uint8_t *extra, size_t extralen, uint32_t max_frame,
    size_t *off, size_t *len)
{
	uint8_t hdr[GETPLAN_HEAD], tail[GETPLAN_TAIL], sc[16], tmp[10];
	size_t h = 0, tl = 0, nsc = 0, gp, body;
	int d;

	for (d = 1; d <= 13 && scope != CONSENT_SCOPE_ALL; d++)
		if (scope & CONSENT_DOMAIN_BIT(d))
			sc[nsc++] = (uint8_t)d;
	if (access > 0) {
		tail[tl++] = 0x10;
		tl += pb_varint(tail + tl, (uint64_t)access);
	}
	if (nsc > 0) {
		tail[tl++] = 0x1a;
		tl += pb_varint(tail + tl, nsc);
		memcpy(tail + tl, sc, nsc);
		tl += nsc;
	}
	gp = 1 + pb_varint(tmp, plen) + plen + tl + extralen;
	body = 1 + pb_varint(tmp, id) + 1 + pb_varint(tmp, gp) + gp;
	if (body > max_frame)
		return -1;
	/* Header: length, id, get_plan's tag and length, plan's tag and length. */
	h = 4;
	hdr[h++] = 0x08;
	h += pb_varint(hdr + h, id);
	hdr[h++] = 0x62;
	h += pb_varint(hdr + h, gp);
	hdr[h++] = 0x0a;
	h += pb_varint(hdr + h, plen);
	wire_frame_header(hdr, (uint32_t)body);
	*off = GETPLAN_HEAD - h;
	memcpy(buf + *off, hdr, h);
	memcpy(buf + GETPLAN_HEAD + plen, tail, tl);
	if (extralen > 0)
		memcpy(buf + GETPLAN_HEAD + plen + tl, extra, extralen);
	*len = h + plen + tl + extralen;
	return 0;
}

/*
 * A plan seen through scope, packed into a new frame buffer. A scoped view
 * is at the version and time of the last change its scope is told of.
 */
static uint8_t *
getplan_pack(const EpPlan *p, uint32_t scope, uint64_t version, int64_t at,
    size_t extra, size_t *plen)
{
	EpPlan *v;
	uint8_t *buf;

	if ((v = plan_view(p, scope)) == NULL)
		return NULL;
	if (scope != CONSENT_SCOPE_ALL) {
		v->version = version;
		v->updated_at = at;
	}
	*plen = protobuf_c_message_get_packed_size(&v->base);
	if ((buf = malloc(GETPLAN_HEAD + *plen + GETPLAN_TAIL + extra)) != NULL)
		protobuf_c_message_pack(&v->base, buf + GETPLAN_HEAD);
	plan_view_free(v, scope);
	return buf;
}

/*
 * A household's signals, packed as the Plan's repeated field 18, for its
 * members and its regisseur reading the whole plan: appended to the stored
 * plan bytes, they merge into the Plan a client decodes (protobuf
 * concatenation). NULL and 0 for none.
 */
static uint8_t *
getplan_signals(struct stxn *t, const struct household *h, size_t *len,
    int *rc)
{
	EpSignal **sg = NULL;
	uint8_t *buf = NULL, *p;
	size_t n = 0, i, sz;

	*len = 0;
	if ((*rc = household_signals(t, h, &sg, &n)) != STORE_OK || n == 0)
		return NULL;
	for (i = 0, sz = 0; i < n; i++)
		sz += 2 + 10 + protobuf_c_message_get_packed_size(&sg[i]->base);
	if ((buf = malloc(sz)) == NULL) {
		*rc = STORE_ERR;
		goto out;
	}
	for (i = 0, p = buf; i < n; i++) {
		*p++ = 0x92;	/* field 18, length-delimited */
		*p++ = 0x01;
		p += pb_varint(p, protobuf_c_message_get_packed_size(
		    &sg[i]->base));
		p += protobuf_c_message_pack(&sg[i]->base, p);
	}
	*len = (size_t)(p - buf);
out:
	store_free_list((void **)sg, n);
	return buf;
}

/*
 * The break-glass windows open now, as GetPlanResponse field 4, for who
 * keeps the household's consent (its members and regisseur): the banner.
 */
static uint8_t *
getplan_break_glass(struct call *ca, const struct household *h, size_t *len)
{
	const EpsHousehold *rec = h->h_rec;
	uint8_t *buf, *p;
	size_t i, sz = 0;

	*len = 0;
	if (!consent_allows(ca->ca_env->ce_consent, &ca->ca_who, &h->h_dec,
	    CONSENT_OP_LIST_CONSENT, 0, NULL))
		return NULL;
	for (i = 0; i < rec->n_grants; i++)
		if (rec->grants[i]->break_glass &&
		    consent_grant_active(rec->grants[i], ca->ca_now))
			sz += 1 + 10 + protobuf_c_message_get_packed_size(
			    &rec->grants[i]->base);
	if (sz == 0 || (buf = malloc(sz)) == NULL)
		return NULL;
	for (i = 0, p = buf; i < rec->n_grants; i++) {
		if (!rec->grants[i]->break_glass ||
		    !consent_grant_active(rec->grants[i], ca->ca_now))
			continue;
		*p++ = 0x22;	/* field 4, length-delimited */
		p += pb_varint(p, protobuf_c_message_get_packed_size(
		    &rec->grants[i]->base));
		p += protobuf_c_message_pack(&rec->grants[i]->base, p);
	}
	*len = (size_t)(p - buf);
	return buf;
}

void
op_get_plan(struct call *ca)
{
	Eenplan__V1__GetPlanRequest *rq = ca->ca_req->get_plan;
	const struct consent_decision *d;
	uint64_t version, sv;
	int64_t sat;
	EpPlan *plan = NULL;
	uint8_t *buf = NULL, *sig = NULL, *bg = NULL;
	size_t plen = 0, off, len, siglen = 0, bglen = 0;
	struct household h;
	struct stxn *t;
	int rc;

	memset(&h, 0, sizeof(h));
	call_audit_begin(ca, "GetPlan", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0 ||
	    (t = call_reader(ca)) == NULL) {
		call_audit_reply(ca);
		return;
	}
	/* The decision reads the standing record only: a refusal costs the same. */
	rc = call_household(ca, t, rq->household_id, &h);
	d = &h.h_dec;
	if (rc < 0) {
		call_store_error(ca, rc);
		goto out;
	}
	if (rc == STORE_NOTFOUND || !consent_allows(ca->ca_env->ce_consent,
	    &ca->ca_who, d, CONSENT_OP_READ, 0, NULL)) {
		call_deny(ca);
		goto out;
	}
	version = rq->version == 0 ? h.h_rec->version : rq->version;
	bg = getplan_break_glass(ca, &h, &bglen);
	if (version == h.h_rec->version && d->cd_scope == CONSENT_SCOPE_ALL) {
		/*
		 * The whole plan: its stored bytes, as they are; and for the
		 * household and its regisseur (as ListSignals), its signals.
		 */
		rc = STORE_OK;
		if (d->cd_member || d->cd_regisseur)
			sig = getplan_signals(t, &h, &siglen, &rc);
		if (rc == STORE_OK)
			rc = household_body_open(t, &h, GETPLAN_HEAD,
			    GETPLAN_TAIL + siglen + bglen, &buf, &plen);
		if (rc == STORE_OK && siglen > 0) {
			memcpy(buf + GETPLAN_HEAD + plen, sig, siglen);
			plen += siglen;
		}
	} else if ((rc = household_plan(t, &h, version, &plan)) == STORE_OK &&
	    (rc = household_scoped_version_at(t, &h, version, d->cd_scope,
	    &sv, &sat)) == STORE_OK &&
	    (buf = getplan_pack(plan, d->cd_scope, sv, sat, bglen,
	    &plen)) == NULL)
		rc = STORE_ERR;
	if (rc == STORE_NOTFOUND) {
		call_status(ca, CODE(NOT_FOUND), "version: no version %llu of "
		    "this plan", (unsigned long long)rq->version);
		goto out;
	}
	if (rc != STORE_OK) {
		call_store_error(ca, rc);
		goto out;
	}
	if (getplan_wrap(buf, plen, ca->ca_id, d->cd_access, d->cd_scope, bg,
	    bglen, ca->ca_sink.cs_max_frame, &off, &len) != 0) {
		call_status(ca, CODE(RESOURCE_EXHAUSTED), "the plan is larger "
		    "than the frame limit");
		goto out;
	}
	call_frame(ca, buf, off, len);
	buf = NULL;
	if (call_check(ca, &h, CONSENT_OP_READ) != 0) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		goto out;
	}
	audit_record_set(ca->ca_audit, CODE(OK), h.h_purpose,
	    "version %llu%s", (unsigned long long)version,
	    d->cd_break_glass ? ", break-glass" : "");
out:
	free(buf);
	free(sig);
	free(bg);
	plan_free(plan);
	household_free(&h);
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

/*
 * Each mutation: what it touches, whether the caller may, then apply.
 * What the caller may not see stays unseen: an item missing from a scoped
 * view is refused like one outside the scope.
 */
static int
mutate_apply_all(struct call *ca, struct household *h, EpPlan *plan,
    struct mutate_state *ms)
{
	Eenplan__V1__MutatePlanRequest *rq = ca->ca_req->mutate_plan;
	enum consent_op op;
	struct plan_error pe;
	const char *owner;
	EpPrincipal me;
	int domain;
	size_t i;

	principal_ep_view(&ca->ca_who, &me);
	for (i = 0; i < rq->n_mutations; i++) {
		if (plan_mutation_target(plan, rq->mutations[i], &op, &domain,
		    &owner, &pe) != 0) {
			if (pe.pe_code == CODE(NOT_FOUND) &&
			    h->h_dec.cd_scope != CONSENT_SCOPE_ALL) {
				mutate_denied(ca, i);
				return -1;
			}
			goto refused;
		}
		if (!consent_allows(ca->ca_env->ce_consent, &ca->ca_who,
		    &h->h_dec, op, domain, owner)) {
			mutate_denied(ca, i);
			return -1;
		}
		ms->ms_domains[i] = domain;
		if (plan_apply(plan, rq->mutations[i], &me, ca->ca_now,
		    &ms->ms_created[i], &pe) != 0)
			goto refused;
	}
	return 0;
refused:
	call_status(ca, pe.pe_code, "mutations[%zu].%s: %s", i, pe.pe_field,
	    pe.pe_msg);
	return -1;
}

/* Commits plan as h's next version; -1 with the status set. */
static int
commit_version(struct call *ca, struct stxn *t, struct household *h,
    EpPlan *plan, int kind, EpMutation **muts, int *domains, size_t n,
    const char *detail)
{
	struct household_change c;
	struct plan_error pe;
	int rc;

	memset(&c, 0, sizeof(c));
	c.hc_kind = kind;
	c.hc_muts = muts;
	c.hc_domains = domains;
	c.hc_nmuts = n;
	c.hc_detail = detail;
	c.hc_actor = &ca->ca_who;
	c.hc_now = ca->ca_now;
	rc = household_commit(t, ca->ca_env->ce_hh, h, plan, &c, &pe);
	if (rc == STORE_OK)
		return 0;
	if (rc == STORE_ERR)
		call_plan_error(ca, &pe);
	else
		call_store_error(ca, rc);
	return -1;
}

static int
exec_mutate(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__MutatePlanRequest *rq = ca->ca_req->mutate_plan;
	Eenplan__V1__MutatePlanResponse *r;
	struct mutate_state *ms = ca->ca_state;
	struct household h;
	EpPlan *plan = NULL;
	uint64_t sv;
	int64_t sat;
	int rc, ret = -1;

	rc = call_household(ca, t, rq->household_id, &h);
	if (rc < 0) {
		call_store_error(ca, rc);
		return -1;
	}
	if (rc == STORE_NOTFOUND || h.h_dec.cd_access == ACCESS(NONE)) {
		call_deny(ca);
		goto out;
	}
	/* A reader is refused before any item of the plan is looked at. */
	if (!consent_may_mutate(&ca->ca_who, &h.h_dec)) {
		mutate_denied(ca, 0);
		goto out;
	}
	/* A scoped writer's version: the last change in its scope. */
	household_scoped_version(h.h_rec, h.h_dec.cd_scope, &sv, &sat);
	if (rq->expected_version != 0 && rq->expected_version != sv) {
		call_status(ca, CODE(ABORTED), "expected_version: the plan is "
		    "at version %llu, not %llu; nothing was changed",
		    (unsigned long long)sv,
		    (unsigned long long)rq->expected_version);
		goto out;
	}
	if ((rc = household_plan(t, &h, 0, &plan)) != STORE_OK) {
		call_store_error(ca, rc);
		goto out;
	}
	if (mutate_apply_all(ca, &h, plan, ms) != 0 ||
	    commit_version(ca, t, &h, plan, KIND(PLAN), rq->mutations,
	    ms->ms_domains, rq->n_mutations, NULL) != 0)
		goto out;
	if ((r = malloc(sizeof(*r))) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		goto out;
	}
	eenplan__v1__mutate_plan_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_MUTATE_PLAN, r);
	r->version = plan->version;
	r->created_ids = ms->ms_created;
	r->n_created_ids = rq->n_mutations;
	ms->ms_created = NULL;		/* now the body's */
	audit_record_set(ca->ca_audit, CODE(OK), h.h_purpose,
	    "version %llu, %zu mutation(s)",
	    (unsigned long long)r->version, rq->n_mutations);
	ret = 0;
out:
	plan_free(plan);
	household_free(&h);
	return ret;
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

/* Versions looked at per page, as a multiple of the page: a scoped reader
 * may see few of them, and one request must not read the whole history. */
#define HISTORY_READ_FACTOR	4

void
op_get_history(struct call *ca)
{
	Eenplan__V1__GetHistoryRequest *rq = ca->ca_req->get_history;
	Eenplan__V1__GetHistoryResponse *r;
	const struct consent_decision *d;
	uint32_t limit = call_page_limit(ca, rq->limit);
	uint64_t v, last, end;
	EpsDelta *delta = NULL;
	EpHistoryEntry *e;
	struct household h;
	struct stxn *t;
	int rc;

	memset(&h, 0, sizeof(h));
	call_audit_begin(ca, "GetHistory", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0 ||
	    (t = call_reader(ca)) == NULL) {
		call_audit_reply(ca);
		return;
	}
	rc = call_household(ca, t, rq->household_id, &h);
	d = &h.h_dec;
	if (rc < 0) {
		call_store_error(ca, rc);
		goto out;
	}
	if (rc == STORE_NOTFOUND || !consent_allows(ca->ca_env->ce_consent,
	    &ca->ca_who, d, CONSENT_OP_READ, 0, NULL)) {
		call_deny(ca);
		goto out;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__get_history_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_GET_HISTORY, r);
	if ((r->entries = calloc(limit, sizeof(*r->entries))) == NULL)
		goto oom;
	last = h.h_rec->version;
	end = rq->after_version >= last ? last :
	    rq->after_version + (uint64_t)limit * HISTORY_READ_FACTOR;
	if (end > last || end < rq->after_version)
		end = last;
	/* Every version 1..last has its delta: one missing is damage. */
	for (v = rq->after_version + 1; v <= end && r->n_entries < limit; v++) {
		if ((rc = store_delta_get(t, h.h_id, v, &delta)) != STORE_OK) {
			call_store_error(ca, rc);
			goto out;
		}
		e = plan_filter_history(delta->entry, d->cd_scope);
		/* A change wholly outside the reader's scope is not shown at all. */
		if (e != NULL && delta->entry->n_mutations > 0 &&
		    e->n_mutations == 0) {
			protobuf_c_message_free_unpacked(&e->base, NULL);
			e = NULL;
		} else if (e == NULL) {
			store_delta_free(delta);
			delta = NULL;
			goto oom;
		} else
			r->entries[r->n_entries++] = e;
		store_delta_free(delta);
		delta = NULL;
	}
	if (v <= last) {
		r->more = 1;
		r->next_after_version = v - 1;
	}
	if (call_check(ca, &h, CONSENT_OP_READ) != 0)
		goto oom;
	/* What the reader was shown, not what was loaded for it. */
	audit_record_set(ca->ca_audit, CODE(OK), h.h_purpose,
	    "versions after %llu: %zu entries",
	    (unsigned long long)rq->after_version, r->n_entries);
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	household_free(&h);
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
	if (rc != STORE_OK)
		return rc;
	if (il->il_full && il->il_n > 0 && (horizon[0] == '\0' ||
	    strcmp(il->il_ids[il->il_n - 1], horizon) < 0))
		memcpy(horizon, il->il_ids[il->il_n - 1], HOUSEHOLD_ID_LEN + 1);
	return STORE_OK;
}

/*
 * Candidates in id order after the token, up to the horizon (empty: none):
 * index entries for the whole organisation, the person and its teams.
 */
static int
list_candidates(struct call *ca, struct stxn *t, const char *after,
    struct idlist *il, char *horizon)
{
	char team[CONSENT_INDEX_SUBJECT_MAX];
	size_t i, k;
	int rc, tm;

	horizon[0] = '\0';
	if ((rc = list_scan(t, ca->ca_who.pr_org, "", after, il,
	    horizon)) != STORE_OK || (rc = list_scan(t, ca->ca_who.pr_org,
	    ca->ca_who.pr_subject, after, il, horizon)) != STORE_OK)
		return rc;
	/* And what is granted to a team the caller's CA put it in. */
	for (tm = 0; tm < ca->ca_who.pr_nteams && tm < PRINCIPAL_TEAMS_MAX;
	    tm++) {
		consent_team_subject(ca->ca_who.pr_teams[tm], team,
		    sizeof(team));
		if ((rc = list_scan(t, ca->ca_who.pr_org, team, after, il,
		    horizon)) != STORE_OK)
			return rc;
	}
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
summary_new(const struct household *h)
{
	const EpsHousehold *p = h->h_rec;
	EpHouseholdSummary *s;

	if ((s = malloc(sizeof(*s))) == NULL)
		return NULL;
	eenplan__v1__household_summary__init(s);
	s->area = p->area;
	s->status = p->status;
	/* A scoped reader's: of the last change it is told of. */
	household_scoped_version(p, h->h_dec.cd_scope, &s->version,
	    &s->updated_at);
	s->access = h->h_dec.cd_access;
	if ((s->household_id = strdup(p->household_id)) == NULL ||
	    (p->regisseur != NULL && (s->regisseur =
	    (EpPrincipal *)wire_msg_dup(&p->regisseur->base)) == NULL)) {
		protobuf_c_message_free_unpacked(&s->base, NULL);
		return NULL;
	}
	return s;
}

/* One candidate: listed when the caller may read it. -1 with status set. */
static int
list_one(struct call *ca, struct stxn *t, const char *hhid,
    Eenplan__V1__ListHouseholdsResponse *r)
{
	struct household h;
	int rc, ret = 0;

	rc = call_household(ca, t, hhid, &h);
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc < 0) {
		call_store_error(ca, rc);
		return -1;
	}
	if (consent_allows(ca->ca_env->ce_consent, &ca->ca_who, &h.h_dec,
	    CONSENT_OP_READ, 0, NULL)) {
		r->households[r->n_households] = summary_new(&h);
		if (r->households[r->n_households] == NULL ||
		    audit_record_reveal(ca->ca_audit, hhid) != 0 ||
		    call_check(ca, &h, CONSENT_OP_READ) != 0) {
			call_status(ca, CODE(INTERNAL), "out of memory");
			ret = -1;
		} else
			r->n_households++;
	}
	household_free(&h);
	return ret;
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
	struct stxn *t;
	size_t i;
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
	/* Room for a scan of the org, the person and each of its teams. */
	il.il_cap = (size_t)(2 + PRINCIPAL_TEAMS_MAX) * il.il_scan_max;
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
	for (i = 0; i < il.il_n && r->n_households < limit; i++)
		if (list_one(ca, t, il.il_ids[i], r) != 0)
			goto out;
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

/*
 * Shared by Escalate and Close: manage only, open household, a reason. The
 * reason is plan content: it stays in the plan, under its consent, and is
 * not copied into the audit record.
 */
static int
exec_status_change(struct call *ca, struct stxn *t, const char *hhid,
    const char *reason, int kind, uint64_t *version)
{
	struct plan_error pe;
	struct household h;
	EpPrincipal me;
	EpPlan *plan = NULL;
	int rc;

	rc = call_household(ca, t, hhid, &h);
	if (rc < 0) {
		call_store_error(ca, rc);
		return -1;
	}
	rc = -1;
	if (h.h_rec == NULL || !consent_allows(ca->ca_env->ce_consent,
	    &ca->ca_who, &h.h_dec, kind == KIND(CLOSED) ? CONSENT_OP_CLOSE :
	    CONSENT_OP_ESCALATE, 0, NULL)) {
		if (h.h_rec != NULL && h.h_dec.cd_access != ACCESS(NONE))
			call_status(ca, CODE(PERMISSION_DENIED),
			    "only the regisseur can do this");
		else
			call_deny(ca);
		goto out;
	}
	if ((rc = household_plan(t, &h, 0, &plan)) != STORE_OK) {
		call_store_error(ca, rc);
		rc = -1;
		goto out;
	}
	rc = -1;
	principal_ep_view(&ca->ca_who, &me);
	if ((kind == KIND(CLOSED) ? plan_close(plan, &me, ca->ca_now, &pe) :
	    plan_escalate(plan, reason, &me, ca->ca_now, &pe)) != 0) {
		call_plan_error(ca, &pe);
		goto out;
	}
	if (commit_version(ca, t, &h, plan, kind, NULL, NULL, 0, reason) != 0)
		goto out;
	*version = plan->version;
	audit_record_set(ca->ca_audit, CODE(OK), h.h_purpose, "version %llu",
	    (unsigned long long)*version);
	rc = 0;
out:
	plan_free(plan);
	household_free(&h);
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
	    KIND(ESCALATED), &v) != 0)
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
	    KIND(CLOSED), &v) != 0)
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
	if (!util_text_ok(reason, 1, PLAN_TEXT_MAX)) {
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
