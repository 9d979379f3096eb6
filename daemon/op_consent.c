/*
 * op_consent: the handlers for a household's consent — GrantConsent,
 * RevokeConsent, ListConsent, TransferRegie, BreakGlass. Every change is
 * decided in the writer on what its transaction sees, so a revoke or a
 * transfer earlier in the same batch already counts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "audit.h"
#include "config.h"
#include "plan.h"
#include "util.h"

/* Room for a reason of PLAN_TEXT_MAX characters of UTF-8 plus names. */
#define CONSENT_DETAIL_MAX	(PLAN_TEXT_MAX * 4 + 512)


/* Replaces a string field of a free_unpacked-compatible message. */
static int
str_set(char **field, const char *val)
{
	char *s;

	if ((s = strdup(val != NULL ? val : "")) == NULL)
		return -1;
	if (*field != NULL && *field != protobuf_c_empty_string)
		free(*field);
	*field = s;
	return 0;
}

/* Marks g revoked now by the caller, with the form reference (may be empty). */
static int
grant_revoke(struct call *ca, EpGrant *g, const char *ref)
{
	EpPrincipal *by;

	if ((by = principal_ep_new(&ca->ca_who)) == NULL)
		return -1;
	if (g->revoked_by != NULL)
		protobuf_c_message_free_unpacked(&g->revoked_by->base, NULL);
	g->revoked_by = by;
	g->revoked_at = ca->ca_now;
	return str_set(&g->revoke_reference, ref);
}

/* The manage grant of the household's current regisseur. */
static int
grant_is_regie(const EpsHousehold *rec, const EpGrant *g)
{
	return g->access == ACCESS(MANAGE) && rec->regisseur != NULL &&
	    str_eq(g->grantee_org, rec->regisseur->org) &&
	    str_eq(g->grantee_subject, rec->regisseur->subject);
}

/*
 * Loads hhid through t for the caller. -1 with the status set when the
 * request cannot go on: a store error, or no such household (answered as
 * a refusal, like any household the caller may not see).
 */
static int
consent_load(struct call *ca, struct stxn *t, const char *hhid,
    struct household *h)
{
	int rc;

	rc = call_household(ca, t, hhid, h);
	if (rc < 0) {
		call_store_error(ca, rc);
		return -1;
	}
	if (rc == STORE_NOTFOUND) {
		call_deny(ca);
		return -1;
	}
	return 0;
}

/*
 * 0 when the caller may do op; else -1 with the status set: a caller that
 * can see the household learns why, any other gets the one refusal.
 */
static int
consent_need(struct call *ca, const struct household *h, enum consent_op op,
    const char *why)
{
	if (consent_allows(ca->ca_env->ce_consent, &ca->ca_who, &h->h_dec, op,
	    0, NULL))
		return 0;
	if (h->h_dec.cd_access != ACCESS(NONE))
		call_status(ca, CODE(PERMISSION_DENIED), "%s", why);
	else
		call_deny(ca);
	return -1;
}

static int
consent_open(struct call *ca, const struct household *h)
{
	if (h->h_rec->status != EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED)
		return 0;
	call_status(ca, CODE(FAILED_PRECONDITION), "the household is closed");
	return -1;
}

static const char *
access_name(int a)
{
	const char *s = wire_access_name(a);

	return s != NULL ? s : "?";
}

/* A household-module refusal (pe) or store error as the call's status. */
static void
consent_fail(struct call *ca, int rc, const struct plan_error *pe)
{
	if (rc == STORE_ERR && pe->pe_code != 0)
		call_plan_error(ca, pe);
	else
		call_store_error(ca, rc);
}

/* ------------------------------------------------------- GrantConsent */

static int
exec_grant(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__GrantConsentRequest *rq = ca->ca_req->grant_consent;
	const EpGrant *in = rq->grant;
	Eenplan__V1__GrantConsentResponse *r;
	EpGrant g = EENPLAN__V1__GRANT__INIT;
	struct plan_error pe;
	struct household h;
	EpPrincipal me;
	char err[192];
	int rc = -1, src;

	memset(&pe, 0, sizeof(pe));
	if (consent_load(ca, t, rq->household_id, &h) != 0)
		goto out;
	if (consent_need(ca, &h, CONSENT_OP_GRANT, "only the household or "
	    "its regisseur can grant consent") != 0 ||
	    consent_open(ca, &h) != 0)
		goto out;
	if (consent_check_grant(&ca->ca_who, &h.h_dec, in, err,
	    sizeof(err)) != 0) {
		call_status(ca, CODE(INVALID_ARGUMENT), "%s", err);
		goto out;
	}
	/* Only what the household decides is taken from the request. */
	principal_ep_view(&ca->ca_who, &me);
	g.grantee_org = in->grantee_org;
	g.grantee_subject = in->grantee_subject;
	g.grantee_team = in->grantee_team;
	g.access = in->access;
	g.n_scope = in->n_scope;
	g.scope = in->scope;
	g.valid_from = in->valid_from;
	g.valid_until = in->valid_until;
	g.purpose = in->purpose;
	g.recorded_by = &me;
	g.recorded_at = ca->ca_now;
	g.on_behalf = !(h.h_dec.cd_member && ca->ca_who.pr_role == ROLE(CLIENT));
	g.form_reference = in->form_reference;
	if ((src = household_grant_add(t, ca->ca_env->ce_hh, &h, &g,
	    KIND(CONSENT), &ca->ca_who, ca->ca_now, &pe)) != STORE_OK) {
		consent_fail(ca, src, &pe);
		goto out;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__grant_consent_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_GRANT_CONSENT, r);
	if ((r->grant = (EpGrant *)wire_msg_dup(&g.base)) == NULL)
		goto oom;
	audit_record_set(ca->ca_audit, CODE(OK), h.h_purpose,
	    "grant %llu: %s for %s%s%s%s%s%s%s", (unsigned long long)g.id,
	    access_name(g.access), g.grantee_org,
	    str_empty(g.grantee_subject) ? "" : "/", g.grantee_subject,
	    str_empty(g.grantee_team) ? "" : " team ",
	    str_empty(g.grantee_team) ? "" : g.grantee_team,
	    g.on_behalf ? ", on the household's behalf, form " : "",
	    g.on_behalf ? g.form_reference : "");
	rc = 0;
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	household_free(&h);
	return rc;
}

/* What can be checked without the household (the rest in exec_grant). */
static int
grant_check_request(struct call *ca, const EpGrant *in)
{
	char err[192];

	if (consent_check_grant_request(ca->ca_env->ce_consent, in, ca->ca_now,
	    err, sizeof(err)) == 0)
		return 0;
	call_status(ca, CODE(INVALID_ARGUMENT), "%s", err);
	return -1;
}

void
op_grant_consent(struct call *ca)
{
	Eenplan__V1__GrantConsentRequest *rq = ca->ca_req->grant_consent;

	call_audit_begin(ca, "GrantConsent", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0 ||
	    grant_check_request(ca, rq->grant) != 0) {
		call_audit_reply(ca);
		return;
	}
	call_write(ca, exec_grant);
}

/* ------------------------------------------------------ RevokeConsent */

/* The policy's answer, or the status of a refusal on the call. */
static enum consent_revoke
revoke_how(struct call *ca, const struct household *h, const EpGrant *g)
{
	enum consent_revoke how;

	how = consent_revoke_how(ca->ca_env->ce_consent, &ca->ca_who, &h->h_dec,
	    g);
	switch (how) {
	case CONSENT_REVOKE_REGIE_TRANSFER:
		call_status(ca, CODE(FAILED_PRECONDITION), "the regisseur "
		    "leaves only by transferring the regie");
		return CONSENT_REVOKE_REFUSED;
	case CONSENT_REVOKE_REFUSED:
		if (h->h_dec.cd_access != ACCESS(NONE))
			call_status(ca, CODE(PERMISSION_DENIED), "only the "
			    "household, its regisseur or the grantee itself "
			    "can revoke this grant");
		else
			call_deny(ca);
		return CONSENT_REVOKE_REFUSED;
	default:
		return how;
	}
}

static const char *
revoke_how_text(enum consent_revoke how)
{
	switch (how) {
	case CONSENT_REVOKE_HOUSEHOLD:
		return "revoked by the household";
	case CONSENT_REVOKE_ON_BEHALF:
		return "revoked on the household's behalf";
	case CONSENT_REVOKE_RENOUNCE:
		return "renounced by its grantee";
	case CONSENT_REVOKE_REFUSED:
	case CONSENT_REVOKE_REGIE_TRANSFER:
	default:
		return "refused";
	}
}

/* The household dismisses its regisseur: the plan names none from now on. */
static int
revoke_dismiss(struct call *ca, struct stxn *t, struct household *h)
{
	struct household_change c;
	struct plan_error pe;
	EpPlan *plan = NULL;
	int rc;

	if ((rc = household_plan(t, h, 0, &plan)) != STORE_OK) {
		call_store_error(ca, rc);
		return -1;
	}
	if (plan->regisseur != NULL)
		protobuf_c_message_free_unpacked(&plan->regisseur->base, NULL);
	plan->regisseur = NULL;
	memset(&c, 0, sizeof(c));
	c.hc_kind = KIND(REGIE);
	c.hc_detail = "regisseur dismissed by the household";
	c.hc_actor = &ca->ca_who;
	c.hc_now = ca->ca_now;
	rc = household_commit(t, ca->ca_env->ce_hh, h, plan, &c, &pe);
	plan_free(plan);
	if (rc != STORE_OK) {
		consent_fail(ca, rc, &pe);
		return -1;
	}
	return 0;
}

/* The grant by id: a current one, else from the archive (revoked, ended). */
static int
revoke_find(struct call *ca, struct stxn *t, const struct household *h,
    uint64_t id, EpGrant **out)
{
	EpGrant *g;
	int rc;

	*out = NULL;
	if ((g = household_grant_find(h, id)) != NULL) {
		if ((*out = (EpGrant *)wire_msg_dup(&g->base)) == NULL)
			return STORE_ERR;
		return STORE_OK;
	}
	if (id == 0 || id > h->h_rec->grants_total)
		return STORE_NOTFOUND;
	if ((rc = store_grant_get(t, h->h_id, id, out)) != STORE_OK)
		call_store_error(ca, rc);
	return rc;
}

static int
exec_revoke(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__RevokeConsentRequest *rq = ca->ca_req->revoke_consent;
	Eenplan__V1__RevokeConsentResponse *r;
	enum consent_revoke how;
	struct household h;
	EpGrant *g = NULL;
	int rc = -1, dismiss, src;

	if (consent_load(ca, t, rq->household_id, &h) != 0)
		goto out;
	if ((src = revoke_find(ca, t, &h, rq->grant_id, &g)) < 0)
		goto out;
	/*
	 * Only who may list the grants learns which exist: to any other
	 * caller a grant not its own is answered like an unknown one, and
	 * like an unknown household.
	 */
	if (!consent_allows(ca->ca_env->ce_consent, &ca->ca_who, &h.h_dec,
	    CONSENT_OP_LIST_CONSENT, 0, NULL) &&
	    (g == NULL || !consent_grant_is_own(&ca->ca_who, g))) {
		call_deny(ca);
		goto out;
	}
	if (g == NULL) {
		call_status(ca, CODE(NOT_FOUND), "grant_id: this household "
		    "has no grant %llu", (unsigned long long)rq->grant_id);
		goto out;
	}
	if ((how = revoke_how(ca, &h, g)) == CONSENT_REVOKE_REFUSED)
		goto out;
	if (g->revoked_at != 0) {
		call_status(ca, CODE(FAILED_PRECONDITION),
		    "grant %llu is already revoked", (unsigned long long)g->id);
		goto out;
	}
	if (how == CONSENT_REVOKE_ON_BEHALF &&
	    !util_text_ok(rq->form_reference, 1, PLAN_REFERENCE_MAX)) {
		call_status(ca, CODE(INVALID_ARGUMENT), "form_reference: "
		    "required when revoking on the household's behalf "
		    "(1 to %d characters)", PLAN_REFERENCE_MAX);
		goto out;
	}
	dismiss = how == CONSENT_REVOKE_HOUSEHOLD && grant_is_regie(h.h_rec, g);
	if (grant_revoke(ca, g, rq->form_reference) != 0)
		goto oom;
	/* Consent changes leave the plan's version alone; a dismissal does not. */
	if ((src = household_grant_update(t, ca->ca_env->ce_hh, &h, g,
	    dismiss ? 0 : how == CONSENT_REVOKE_RENOUNCE ?
	    EENPLAN__V1__CONSENT_CHANGE__CONSENT_RENOUNCED :
	    EENPLAN__V1__CONSENT_CHANGE__CONSENT_REVOKED, &ca->ca_who,
	    ca->ca_now)) != STORE_OK) {
		call_store_error(ca, src);
		goto out;
	}
	if (dismiss && revoke_dismiss(ca, t, &h) != 0)
		goto out;
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__revoke_consent_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_REVOKE_CONSENT, r);
	r->grant = g;
	audit_record_set(ca->ca_audit, CODE(OK), h.h_purpose,
	    "grant %llu (%s for %s%s%s) %s%s%s%s", (unsigned long long)g->id,
	    access_name(g->access), g->grantee_org,
	    str_empty(g->grantee_subject) ? "" : "/", g->grantee_subject,
	    revoke_how_text(how),
	    str_empty(rq->form_reference) ? "" : ", form ",
	    rq->form_reference,
	    dismiss ? "; regisseur dismissed" : "");
	g = NULL;		/* the body's now */
	rc = 0;
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	if (g != NULL)
		protobuf_c_message_free_unpacked(&g->base, NULL);
	household_free(&h);
	return rc;
}

void
op_revoke_consent(struct call *ca)
{
	Eenplan__V1__RevokeConsentRequest *rq = ca->ca_req->revoke_consent;

	call_audit_begin(ca, "RevokeConsent", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0) {
		call_audit_reply(ca);
		return;
	}
	if (rq->grant_id == 0) {
		call_status(ca, CODE(INVALID_ARGUMENT), "grant_id: required");
		call_audit_reply(ca);
		return;
	}
	/* Whether it is required depends on who revokes: decided in exec. */
	if (!str_empty(rq->form_reference) &&
	    !util_text_ok(rq->form_reference, 1, PLAN_REFERENCE_MAX)) {
		call_status(ca, CODE(INVALID_ARGUMENT), "form_reference: 1 to "
		    "%d characters of text", PLAN_REFERENCE_MAX);
		call_audit_reply(ca);
		return;
	}
	call_write(ca, exec_revoke);
}

/* -------------------------------------------------------- ListConsent */

/* Current: counting now, or recorded to start later; not revoked, not ended. */
static int
grant_current(const EpGrant *g, int64_t now)
{
	if (consent_grant_active(g, now))
		return 1;
	return g->revoked_at == 0 && g->valid_from > now &&
	    (g->valid_until == 0 || now < g->valid_until);
}

void
op_list_consent(struct call *ca)
{
	Eenplan__V1__ListConsentRequest *rq = ca->ca_req->list_consent;
	Eenplan__V1__ListConsentResponse *r;
	EpGrant **all = NULL, **src;
	size_t i, n = 0;
	struct household h;
	struct stxn *t;
	int rc;

	memset(&h, 0, sizeof(h));
	call_audit_begin(ca, "ListConsent", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0 ||
	    (t = call_reader(ca)) == NULL) {
		call_audit_reply(ca);
		return;
	}
	if (consent_load(ca, t, rq->household_id, &h) != 0 ||
	    consent_need(ca, &h, CONSENT_OP_LIST_CONSENT, "only the "
	    "household or its regisseur can list its consent") != 0)
		goto out;
	/* The current grants are in the standing record; the past in the archive. */
	if (rq->include_past) {
		if ((rc = household_grants_all(t, &h, &all, &n)) != STORE_OK) {
			call_store_error(ca, rc);
			goto out;
		}
		src = all;
	} else {
		src = h.h_rec->grants;
		n = h.h_rec->n_grants;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__list_consent_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_LIST_CONSENT, r);
	if (n > 0 && (r->grants = calloc(n, sizeof(*r->grants))) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if (!rq->include_past && !grant_current(src[i], ca->ca_now))
			continue;
		if ((r->grants[r->n_grants] =
		    (EpGrant *)wire_msg_dup(&src[i]->base)) == NULL)
			goto oom;
		r->n_grants++;
	}
	if (call_check(ca, &h, CONSENT_OP_LIST_CONSENT) != 0)
		goto oom;
	audit_record_set(ca->ca_audit, CODE(OK), h.h_purpose,
	    "%zu grant(s)%s", r->n_grants,
	    rq->include_past ? ", past included" : "");
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	store_free_list((void **)all, all != NULL ? n : 0);
	household_free(&h);
	call_reader_end(ca);
	call_audit_reply(ca);
}

/* ------------------------------------------------------ TransferRegie */

/*
 * Ends every manage grant still current (there is one; ending all of them
 * makes sure no second regisseur can ever stand) and records the new one.
 */
static int
transfer_grants(struct call *ca, struct stxn *t, struct household *h)
{
	Eenplan__V1__TransferRegieRequest *rq = ca->ca_req->transfer_regie;
	EpGrant g = EENPLAN__V1__GRANT__INIT, *old;
	struct plan_error pe;
	EpPrincipal me;
	size_t i;
	int rc;

	memset(&pe, 0, sizeof(pe));
	for (i = 0; i < h->h_rec->n_grants; ) {
		if (h->h_rec->grants[i]->access != ACCESS(MANAGE)) {
			i++;
			continue;
		}
		/* Updating drops it from the current grants: index i again. */
		if ((old = (EpGrant *)wire_msg_dup(
		    &h->h_rec->grants[i]->base)) == NULL ||
		    grant_revoke(ca, old, rq->form_reference) != 0) {
			if (old != NULL)
				protobuf_c_message_free_unpacked(&old->base,
				    NULL);
			call_status(ca, CODE(INTERNAL), "out of memory");
			return -1;
		}
		rc = household_grant_update(t, ca->ca_env->ce_hh, h, old, 0,
		    &ca->ca_who, ca->ca_now);
		protobuf_c_message_free_unpacked(&old->base, NULL);
		if (rc != STORE_OK) {
			call_store_error(ca, rc);
			return -1;
		}
	}
	principal_ep_view(&ca->ca_who, &me);
	g.grantee_org = rq->to_org;
	g.grantee_subject = rq->to_subject;
	g.access = ACCESS(MANAGE);
	g.purpose = (char *)(uintptr_t)"regie";
	g.recorded_by = &me;
	g.recorded_at = ca->ca_now;
	g.on_behalf = !h->h_dec.cd_member;
	g.form_reference = rq->form_reference;
	if ((rc = household_grant_add(t, ca->ca_env->ce_hh, h, &g, 0,
	    &ca->ca_who, ca->ca_now, &pe)) != STORE_OK) {
		consent_fail(ca, rc, &pe);
		return -1;
	}
	return 0;
}

/*
 * Whom the regie may go to (the policy's rules); the target's role is what
 * the deployment knows of it. -1 with the status set.
 */
static int
transfer_target(struct call *ca, struct stxn *t, const struct household *h,
    int *role)
{
	Eenplan__V1__TransferRegieRequest *rq = ca->ca_req->transfer_regie;
	const struct consent_conf *cc = ca->ca_env->ce_consent;
	struct consent_household ch;
	EpPrincipal *known = NULL;
	int to_role = ROLE(UNSPECIFIED), rc;
	char err[256];

	if (!str_eq(rq->to_org, cc->cc_citizens_org)) {
		rc = store_person_get(t, rq->to_org, rq->to_subject, &known);
		if (rc == STORE_OK)
			to_role = known->role;
		else if (rc != STORE_NOTFOUND) {
			call_store_error(ca, rc);
			return -1;
		}
		if (known != NULL)
			protobuf_c_message_free_unpacked(&known->base, NULL);
	}
	household_view(h, &ch);
	if (!consent_regie_target_ok(cc, &ch, rq->to_org, rq->to_subject,
	    to_role, role, err, sizeof(err))) {
		call_status(ca, CODE(INVALID_ARGUMENT), "%s", err);
		return -1;
	}
	return 0;
}

static int
exec_transfer(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__TransferRegieRequest *rq = ca->ca_req->transfer_regie;
	Eenplan__V1__TransferRegieResponse *r;
	struct household_change c;
	EpPrincipal to, me;
	struct plan_error pe;
	struct household h;
	EpPlan *plan = NULL;
	char *detail = NULL;
	int rc = -1, src, role;

	if (consent_load(ca, t, rq->household_id, &h) != 0)
		goto out;
	/* A second transfer in the same batch finds the caller no longer regisseur. */
	if (consent_need(ca, &h, CONSENT_OP_TRANSFER_REGIE, "only the "
	    "regisseur can transfer the regie") != 0 ||
	    consent_open(ca, &h) != 0)
		goto out;
	/* The regisseur acts for the household: on its signed form. */
	if (!h.h_dec.cd_member && str_empty(rq->form_reference)) {
		call_status(ca, CODE(INVALID_ARGUMENT), "form_reference: "
		    "required when the regisseur transfers the regie");
		goto out;
	}
	if ((detail = malloc(CONSENT_DETAIL_MAX)) == NULL)
		goto oom;
	snprintf(detail, CONSENT_DETAIL_MAX, "regie from %s/%s to %s/%s%s%s",
	    ca->ca_who.pr_org, ca->ca_who.pr_subject, rq->to_org,
	    rq->to_subject, str_empty(rq->reason) ? "" : ": ", rq->reason);
	if (transfer_target(ca, t, &h, &role) != 0)
		goto out;
	if ((src = household_plan(t, &h, 0, &plan)) != STORE_OK) {
		call_store_error(ca, src);
		goto out;
	}
	/* The regisseur's role as it is: a professional, or a member. */
	eenplan__v1__principal__init(&to);
	to.org = rq->to_org;
	to.subject = rq->to_subject;
	to.role = role;
	principal_ep_view(&ca->ca_who, &me);
	if (plan_set_regisseur(plan, &to, &me, ca->ca_now, &pe) != 0) {
		call_plan_error(ca, &pe);
		goto out;
	}
	if (transfer_grants(ca, t, &h) != 0)
		goto out;
	memset(&c, 0, sizeof(c));
	c.hc_kind = KIND(REGIE);
	c.hc_detail = detail;
	c.hc_actor = &ca->ca_who;
	c.hc_now = ca->ca_now;
	if ((src = household_commit(t, ca->ca_env->ce_hh, &h, plan, &c,
	    &pe)) != STORE_OK) {
		consent_fail(ca, src, &pe);
		goto out;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__transfer_regie_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_TRANSFER_REGIE, r);
	r->version = plan->version;
	if ((r->regisseur = (EpPrincipal *)wire_msg_dup(
	    &plan->regisseur->base)) == NULL)
		goto oom;
	/* Who and when are the record's; the reason stays in the plan. */
	audit_record_set(ca->ca_audit, CODE(OK), h.h_purpose,
	    "version %llu, form %s: regie from %s/%s to %s/%s",
	    (unsigned long long)r->version, rq->form_reference,
	    ca->ca_who.pr_org, ca->ca_who.pr_subject, rq->to_org,
	    rq->to_subject);
	rc = 0;
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	free(detail);
	plan_free(plan);
	household_free(&h);
	return rc;
}

static int
transfer_check_request(struct call *ca)
{
	Eenplan__V1__TransferRegieRequest *rq = ca->ca_req->transfer_regie;

	if (consent_org(ca->ca_env->ce_consent, rq->to_org) == NULL) {
		call_status(ca, CODE(INVALID_ARGUMENT), "to_org: not an "
		    "organisation of this deployment");
		return -1;
	}
	if (!util_ident_ok(rq->to_subject, PRINCIPAL_SUBJECT_MAX - 1)) {
		call_status(ca, CODE(INVALID_ARGUMENT), "to_subject: 1 to %d "
		    "characters of [A-Za-z0-9._-]", PRINCIPAL_SUBJECT_MAX - 1);
		return -1;
	}
	if (str_eq(rq->to_org, ca->ca_who.pr_org) &&
	    str_eq(rq->to_subject, ca->ca_who.pr_subject)) {
		call_status(ca, CODE(INVALID_ARGUMENT),
		    "to_subject: the regie cannot be transferred to yourself");
		return -1;
	}
	/* Required of the regisseur; checked once the caller is known. */
	if (!util_text_ok(rq->form_reference, 0, PLAN_REFERENCE_MAX)) {
		call_status(ca, CODE(INVALID_ARGUMENT), "form_reference: "
		    "at most %d characters of text", PLAN_REFERENCE_MAX);
		return -1;
	}
	if (!util_text_ok(rq->reason, 0, PLAN_TEXT_MAX)) {
		call_status(ca, CODE(INVALID_ARGUMENT), "reason: at most %d "
		    "characters of text", PLAN_TEXT_MAX);
		return -1;
	}
	return 0;
}

void
op_transfer_regie(struct call *ca)
{
	Eenplan__V1__TransferRegieRequest *rq = ca->ca_req->transfer_regie;

	call_audit_begin(ca, "TransferRegie", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0 ||
	    transfer_check_request(ca) != 0) {
		call_audit_reply(ca);
		return;
	}
	call_write(ca, exec_transfer);
}

/* --------------------------------------------------------- BreakGlass */

/* Break-glass windows this household gave lately: newest first, bounded. */
#define BREAK_GLASS_RECENT_MAX	64

static int
break_glass_recent(struct call *ca, struct stxn *t, const struct household *h,
    EpGrant ***out, size_t *n)
{
	const struct consent_conf *cc = ca->ca_env->ce_consent;
	int64_t since = ca->ca_now - cc->cc_break_glass_window -
	    cc->cc_break_glass_pause;
	EpGrant *g, **v;
	uint64_t id;
	int rc;

	*out = NULL;
	*n = 0;
	if ((v = calloc(BREAK_GLASS_RECENT_MAX, sizeof(*v))) == NULL)
		return STORE_ERR;
	*out = v;
	for (id = h->h_rec->grants_total; id > 0 &&
	    h->h_rec->grants_total - id < BREAK_GLASS_RECENT_MAX; id--) {
		if ((rc = store_grant_get(t, h->h_id, id, &g)) != STORE_OK)
			return rc;
		if (g->recorded_at < since) {
			protobuf_c_message_free_unpacked(&g->base, NULL);
			break;
		}
		if (g->break_glass)
			v[(*n)++] = g;
		else
			protobuf_c_message_free_unpacked(&g->base, NULL);
	}
	return STORE_OK;
}

static int
exec_break_glass(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__BreakGlassRequest *rq = ca->ca_req->break_glass;
	const struct consent_conf *cc = ca->ca_env->ce_consent;
	Eenplan__V1__BreakGlassResponse *r;
	EpGrant g = EENPLAN__V1__GRANT__INIT;
	char until[32], *purpose = NULL, err[256];
	EpGrant **recent = NULL;
	struct plan_error pe;
	struct household h;
	EpPrincipal me;
	size_t plen, nrecent = 0;
	int rc = -1, src, code;

	memset(&pe, 0, sizeof(pe));
	if (consent_load(ca, t, rq->household_id, &h) != 0)
		goto out;
	if ((src = break_glass_recent(ca, t, &h, &recent, &nrecent)) !=
	    STORE_OK) {
		call_store_error(ca, src);
		goto out;
	}
	if (!consent_break_glass_ok(cc, &ca->ca_who, &h.h_dec, recent, nrecent,
	    ca->ca_now, &code, err, sizeof(err))) {
		/* To who cannot see the household, the one refusal. */
		if (h.h_dec.cd_access == ACCESS(NONE) &&
		    code == CODE(PERMISSION_DENIED))
			call_deny(ca);
		else
			call_status(ca, code, "%s", err);
		goto out;
	}
	/* A closed file is kept for the law, not for emergencies. */
	if (consent_open(ca, &h) != 0)
		goto out;
	plen = strlen(rq->reason) + sizeof("break-glass: ");
	if ((purpose = malloc(plen)) == NULL)
		goto oom;
	snprintf(purpose, plen, "break-glass: %s", rq->reason);
	principal_ep_view(&ca->ca_who, &me);
	g.grantee_org = me.org;
	g.grantee_subject = me.subject;
	g.access = ACCESS(READ);
	g.break_glass = 1;
	g.valid_from = ca->ca_now;
	g.valid_until = ca->ca_now + cc->cc_break_glass_window;
	g.purpose = purpose;
	g.recorded_by = &me;
	g.recorded_at = ca->ca_now;
	g.on_behalf = 0;
	/* The change event is what puts it on the regisseur's feed. */
	if ((src = household_grant_add(t, ca->ca_env->ce_hh, &h, &g,
	    KIND(BREAK_GLASS), &ca->ca_who, ca->ca_now, &pe)) != STORE_OK) {
		consent_fail(ca, src, &pe);
		goto out;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__break_glass_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_BREAK_GLASS, r);
	if ((r->grant = (EpGrant *)wire_msg_dup(&g.base)) == NULL)
		goto oom;
	util_fmt_time(g.valid_until, until, sizeof(until));
	/* The reason is what the auditor must judge: it is the record's. */
	audit_record_set(ca->ca_audit, CODE(OK), "break-glass",
	    "break-glass until %s: %s", until, rq->reason);
	rc = 0;
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	free(purpose);
	store_free_list((void **)recent, nrecent);
	household_free(&h);
	return rc;
}

void
op_break_glass(struct call *ca)
{
	Eenplan__V1__BreakGlassRequest *rq = ca->ca_req->break_glass;
	const struct consent_conf *cc = ca->ca_env->ce_consent;
	size_t min = cc->cc_break_glass_reason_min;

	struct consent_decision none;
	char err[256];
	int code;

	call_audit_begin(ca, "BreakGlass", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0) {
		call_audit_reply(ca);
		return;
	}
	/* Switch, role and organisation: no household needed to refuse. */
	memset(&none, 0, sizeof(none));
	if (!consent_break_glass_ok(cc, &ca->ca_who, &none, NULL, 0, ca->ca_now,
	    &code, err, sizeof(err))) {
		call_status(ca, code, "%s", err);
		call_audit_reply(ca);
		return;
	}
	if (!util_text_ok(rq->reason, min > 0 ? min : 1, PLAN_TEXT_MAX)) {
		call_status(ca, CODE(INVALID_ARGUMENT), "reason: at least %zu "
		    "characters (at most %d)", min > 0 ? min : 1, PLAN_TEXT_MAX);
		call_audit_reply(ca);
		return;
	}
	call_write(ca, exec_break_glass);
}
