/* consent: the access policy (see consent.h). Pure: no I/O, no clock. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "principal.h"
#include "consent.h"

#define CONSENT_PURPOSE_MAX	500

static int
consent_domain_ok(int d)
{
	return d >= EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN &&
	    d <= EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE;
}

/* Range-checked first: a shift by an unchecked wire value is undefined. */
static int
consent_in_scope(uint32_t scope, int domain)
{
	return consent_domain_ok(domain) &&
	    (scope & CONSENT_DOMAIN_BIT(domain)) != 0;
}

int
consent_grant_active(const EpGrant *g, int64_t now)
{
	if (g == NULL || g->revoked_at != 0)
		return 0;
	if (g->valid_from != 0 && now < g->valid_from)
		return 0;
	/* valid_until is the first moment the grant no longer counts. */
	if (g->valid_until != 0 && now >= g->valid_until)
		return 0;
	return 1;
}

uint32_t
consent_scope_bits(const EpGrant *g)
{
	uint32_t bits = 0;
	size_t i;

	if (g == NULL)
		return 0;
	if (g->n_scope == 0)
		return CONSENT_SCOPE_ALL;
	if (g->scope == NULL)
		return 0;
	/* Unknown domains widen nothing: a scope never grows by error. */
	for (i = 0; i < g->n_scope; i++)
		if (consent_domain_ok(g->scope[i]))
			bits |= CONSENT_DOMAIN_BIT(g->scope[i]);
	return bits;
}

static int
consent_in_team(const struct principal *pr, const char *team)
{
	int i;

	for (i = 0; i < pr->pr_nteams && i < PRINCIPAL_TEAMS_MAX; i++)
		if (str_eq(pr->pr_teams[i], team))
			return 1;
	return 0;
}

static int
consent_grant_matches(const EpGrant *g, const struct principal *pr)
{
	if (g == NULL || pr->pr_org[0] == '\0' ||
	    !str_eq(g->grantee_org, pr->pr_org))
		return 0;
	/* A team's grant: the org's CA put the caller in that team. */
	if (!str_empty(g->grantee_team))
		return str_empty(g->grantee_subject) &&
		    consent_in_team(pr, g->grantee_team);
	if (str_empty(g->grantee_subject))
		return 1;
	return str_eq(g->grantee_subject, pr->pr_subject);
}

static int
consent_is_member(const struct consent_conf *conf, const struct principal *pr,
    const struct consent_household *hh)
{
	size_t i;

	if (pr->pr_role != EENPLAN__V1__ROLE__ROLE_CLIENT || hh == NULL ||
	    hh->ch_members == NULL || pr->pr_subject[0] == '\0' ||
	    !str_eq(pr->pr_org, conf->cc_citizens_org))
		return 0;
	for (i = 0; i < hh->ch_nmembers; i++)
		if (hh->ch_members[i] != NULL &&
		    str_eq(hh->ch_members[i]->person_id, pr->pr_subject))
			return 1;
	return 0;
}

/*
 * The plan names the one regisseur; a manage grant counts only for that
 * principal, so two stale manage grants can never make two regisseurs.
 */
static int
consent_is_regisseur(const struct consent_household *hh,
    const struct principal *pr)
{
	if (hh == NULL || hh->ch_regisseur == NULL ||
	    pr->pr_subject[0] == '\0')
		return 0;
	return str_eq(hh->ch_regisseur->org, pr->pr_org) &&
	    str_eq(hh->ch_regisseur->subject, pr->pr_subject);
}

/*
 * A break-glass grant opens read for a professional only, only while the
 * feature is switched on (switching it off closes open windows too), and
 * only when bounded in time.
 */
static int
consent_break_glass_level(const struct consent_conf *conf,
    const struct principal *pr, const EpGrant *g)
{
	if (pr->pr_role != EENPLAN__V1__ROLE__ROLE_PROFESSIONAL ||
	    !conf->cc_break_glass || g->valid_until == 0)
		return EENPLAN__V1__ACCESS__ACCESS_NONE;
	return EENPLAN__V1__ACCESS__ACCESS_READ;
}

/* The most a grant can give this caller, whatever its access says. */
static int
consent_ceiling(const struct consent_conf *conf, const struct principal *pr,
    const struct consent_household *plan, const EpGrant *g)
{
	if (g->break_glass)
		return consent_break_glass_level(conf, pr, g);
	switch (pr->pr_role) {
	case EENPLAN__V1__ROLE__ROLE_GP:
	case EENPLAN__V1__ROLE__ROLE_CARER:
		return EENPLAN__V1__ACCESS__ACCESS_READ;
	case EENPLAN__V1__ROLE__ROLE_PROFESSIONAL:
	case EENPLAN__V1__ROLE__ROLE_SYSTEM:
		/* manage belongs to one person, never to a whole org */
		if (!str_empty(g->grantee_subject) &&
		    consent_is_regisseur(plan, pr))
			return EENPLAN__V1__ACCESS__ACCESS_MANAGE;
		return EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE;
	case EENPLAN__V1__ROLE__ROLE_CLIENT:	/* members: by membership */
	case EENPLAN__V1__ROLE__ROLE_AUDITOR:	/* never reads plans */
	default:
		return EENPLAN__V1__ACCESS__ACCESS_NONE;
	}
}

/* What one active, matching grant gives the caller after ceilings. */
static int
consent_grant_level(const struct consent_conf *conf, const struct principal *pr,
    const struct consent_household *plan, const EpGrant *g)
{
	int level, ceiling;

	/*
	 * An org-wide grant to the citizens' organisation would reach every
	 * carer in the city; only a named person there counts.
	 */
	if (str_eq(g->grantee_org, conf->cc_citizens_org) &&
	    str_empty(g->grantee_subject))
		return EENPLAN__V1__ACCESS__ACCESS_NONE;
	level = g->access;
	if (level < EENPLAN__V1__ACCESS__ACCESS_NONE ||
	    level > EENPLAN__V1__ACCESS__ACCESS_MANAGE)
		return EENPLAN__V1__ACCESS__ACCESS_NONE;
	ceiling = consent_ceiling(conf, pr, plan, g);
	return level < ceiling ? level : ceiling;
}

static void
consent_add_grant(const struct consent_conf *conf, const struct principal *pr,
    const struct consent_household *plan, const EpGrant *g,
    struct consent_decision *out, int *regular)
{
	uint32_t bits;
	int level;

	level = consent_grant_level(conf, pr, plan, g);
	if (level == EENPLAN__V1__ACCESS__ACCESS_NONE)
		return;
	bits = level == EENPLAN__V1__ACCESS__ACCESS_MANAGE ?
	    CONSENT_SCOPE_ALL : consent_scope_bits(g);
	if (bits == 0)
		return;
	out->cd_scope |= bits;
	if (level >= EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE)
		out->cd_write_scope |= bits;
	if (!g->break_glass)
		*regular = 1;
	if (level > out->cd_access) {
		out->cd_access = level;
		out->cd_grant_id = g->id;
	}
}

void
consent_household_of_plan(const EpPlan *p, struct consent_household *out)
{
	memset(out, 0, sizeof(*out));
	if (p == NULL)
		return;
	out->ch_members = p->members;
	out->ch_nmembers = p->n_members;
	out->ch_regisseur = p->regisseur;
}

void
consent_evaluate(const struct consent_conf *conf, const struct principal *pr,
    const struct consent_household *plan, EpGrant *const *grants,
    size_t ngrants, int64_t now, struct consent_decision *out)
{
	int regular = 0;
	size_t i;

	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	out->cd_until = INT64_MAX;
	if (conf == NULL || pr == NULL)
		return;
	out->cd_no_regisseur = 1;
	for (i = 0; grants != NULL && i < ngrants; i++) {
		if (grants[i]->revoked_at != 0)
			continue;
		if (grants[i]->valid_from > now &&
		    grants[i]->valid_from < out->cd_until)
			out->cd_until = grants[i]->valid_from;
		if (grants[i]->valid_until > now &&
		    grants[i]->valid_until < out->cd_until)
			out->cd_until = grants[i]->valid_until;
	}
	for (i = 0; grants != NULL && i < ngrants; i++) {
		if (grants[i]->access == EENPLAN__V1__ACCESS__ACCESS_MANAGE &&
		    !grants[i]->break_glass && consent_grant_active(grants[i], now))
			out->cd_no_regisseur = 0;
	}
	for (i = 0; grants != NULL && i < ngrants; i++) {
		if (!consent_grant_matches(grants[i], pr) ||
		    !consent_grant_active(grants[i], now))
			continue;
		out->cd_matching++;
		consent_add_grant(conf, pr, plan, grants[i], out, &regular);
	}
	if (consent_is_member(conf, pr, plan)) {
		/* grants never count for clients; membership does */
		out->cd_member = 1;
		out->cd_access = EENPLAN__V1__ACCESS__ACCESS_READ;
		out->cd_scope = CONSENT_SCOPE_ALL;
		out->cd_write_scope = 0;
		out->cd_grant_id = 0;
		return;
	}
	if (out->cd_access == EENPLAN__V1__ACCESS__ACCESS_NONE) {
		out->cd_scope = 0;
		out->cd_write_scope = 0;
		return;
	}
	out->cd_regisseur =
	    out->cd_access == EENPLAN__V1__ACCESS__ACCESS_MANAGE;
	out->cd_break_glass = !regular;
}

/*
 * The roles checks below repeat the ceilings of consent_evaluate, so a
 * decision built by hand or by mistake cannot lift a role over its ceiling.
 */
static int
consent_may_write(const struct principal *pr)
{
	return pr->pr_role == EENPLAN__V1__ROLE__ROLE_PROFESSIONAL ||
	    pr->pr_role == EENPLAN__V1__ROLE__ROLE_SYSTEM;
}

static int
consent_manages(const struct principal *pr, const struct consent_decision *d)
{
	return consent_may_write(pr) && d->cd_regisseur &&
	    d->cd_access == EENPLAN__V1__ACCESS__ACCESS_MANAGE;
}

static int
consent_member(const struct principal *pr, const struct consent_decision *d)
{
	return d->cd_member && pr->pr_role == EENPLAN__V1__ROLE__ROLE_CLIENT;
}

static int
consent_contributes(const struct principal *pr,
    const struct consent_decision *d, int domain)
{
	return consent_may_write(pr) &&
	    d->cd_access >= EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE &&
	    consent_in_scope(d->cd_write_scope, domain);
}

static int
consent_reads(const struct principal *pr, const struct consent_decision *d)
{
	if (pr->pr_role == EENPLAN__V1__ROLE__ROLE_AUDITOR)
		return 0;
	if (consent_member(pr, d))
		return 1;
	return d->cd_access >= EENPLAN__V1__ACCESS__ACCESS_READ &&
	    d->cd_access <= EENPLAN__V1__ACCESS__ACCESS_MANAGE &&
	    d->cd_scope != 0;
}

static int
consent_may_break_glass(const struct consent_conf *conf,
    const struct principal *pr, const struct consent_decision *d)
{
	return pr->pr_role == EENPLAN__V1__ROLE__ROLE_PROFESSIONAL &&
	    conf->cc_break_glass &&
	    d->cd_access == EENPLAN__V1__ACCESS__ACCESS_NONE &&
	    !consent_member(pr, d);
}

int
consent_allows(const struct consent_conf *conf, const struct principal *pr,
    const struct consent_decision *d, enum consent_op op, int domain,
    const char *owner_org)
{
	if (conf == NULL || pr == NULL || d == NULL)
		return 0;
	switch (op) {
	case CONSENT_OP_READ:
		return consent_reads(pr, d);
	case CONSENT_OP_ADD_NOTE:
		return consent_manages(pr, d) || consent_member(pr, d) ||
		    consent_contributes(pr, d, domain);
	case CONSENT_OP_ADD_ASSESSMENT:
		return consent_manages(pr, d) ||
		    consent_contributes(pr, d, domain);
	case CONSENT_OP_ADD_ACTION:
	case CONSENT_OP_SET_ACTION_STATUS:
		return consent_manages(pr, d) ||
		    (consent_contributes(pr, d, domain) &&
		    str_eq(owner_org, pr->pr_org));
	case CONSENT_OP_ADD_GOAL:
	case CONSENT_OP_SET_GOAL_STATUS:
	case CONSENT_OP_SET_TARGET:
	case CONSENT_OP_ADD_MEMBER:
	case CONSENT_OP_ESCALATE:
	case CONSENT_OP_CLOSE:
		return consent_manages(pr, d);
	case CONSENT_OP_TRANSFER_REGIE:
		return consent_manages(pr, d) ||
		    (consent_member(pr, d) && d->cd_no_regisseur);
	case CONSENT_OP_GRANT:
	case CONSENT_OP_REVOKE:
	case CONSENT_OP_LIST_CONSENT:
	case CONSENT_OP_READ_AUDIT:
		return consent_member(pr, d) || consent_manages(pr, d);
	case CONSENT_OP_RENOUNCE:
		return consent_member(pr, d) || consent_manages(pr, d) ||
		    d->cd_matching > 0;
	case CONSENT_OP_BREAK_GLASS:
		return consent_may_break_glass(conf, pr, d);
	case CONSENT_OP__MAX:
	default:
		return 0;
	}
}

static int
consent_err(char *err, size_t errlen, const char *field, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", field, msg);
	return -1;
}

/* 1..32 characters of [a-z0-9-]. */
static int
consent_team_ok(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0'; i++)
		if (i >= CONSENT_TEAM_MAX || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return s != NULL && i > 0;
}

static int
consent_check_grantee(const EpGrant *g, char *err, size_t errlen)
{
	if (!util_ident_ok(g->grantee_org, PRINCIPAL_ORG_MAX - 1))
		return consent_err(err, errlen, "grant.grantee_org",
		    "must be an organisation id");
	if (!str_empty(g->grantee_subject) &&
	    !util_ident_ok(g->grantee_subject, PRINCIPAL_SUBJECT_MAX - 1))
		return consent_err(err, errlen, "grant.grantee_subject",
		    "must be empty or 1..64 characters of [A-Za-z0-9._-]");
	if (!str_empty(g->grantee_team)) {
		if (!consent_team_ok(g->grantee_team))
			return consent_err(err, errlen, "grant.grantee_team",
			    "must be 1..32 characters of [a-z0-9-]");
		if (!str_empty(g->grantee_subject))
			return consent_err(err, errlen, "grant.grantee_team",
			    "names a team: grantee_subject must be empty");
	}
	return 0;
}

static int
consent_check_access(const EpGrant *g, char *err, size_t errlen)
{
	switch (g->access) {
	case EENPLAN__V1__ACCESS__ACCESS_READ:
	case EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE:
		return 0;
	case EENPLAN__V1__ACCESS__ACCESS_MANAGE:
		return consent_err(err, errlen, "grant.access",
		    "manage moves only by TransferRegie");
	default:
		return consent_err(err, errlen, "grant.access",
		    "must be read or contribute");
	}
}

static int
consent_check_scope(const EpGrant *g, char *err, size_t errlen)
{
	uint32_t seen = 0;
	size_t i;

	if (g->n_scope > 0 && g->scope == NULL)
		return consent_err(err, errlen, "grant.scope", "missing");
	for (i = 0; i < g->n_scope; i++) {
		if (!consent_domain_ok(g->scope[i]))
			return consent_err(err, errlen, "grant.scope",
			    "unknown domain");
		if (seen & CONSENT_DOMAIN_BIT(g->scope[i]))
			return consent_err(err, errlen, "grant.scope",
			    "domain listed twice");
		seen |= CONSENT_DOMAIN_BIT(g->scope[i]);
	}
	return 0;
}

static int
consent_check_validity(const EpGrant *g, char *err, size_t errlen)
{
	if (g->valid_from < 0)
		return consent_err(err, errlen, "grant.valid_from",
		    "must not be negative");
	if (g->valid_until < 0)
		return consent_err(err, errlen, "grant.valid_until",
		    "must not be negative");
	if (g->valid_from != 0 && g->valid_until != 0 &&
	    g->valid_until <= g->valid_from)
		return consent_err(err, errlen, "grant.valid_until",
		    "must be after valid_from");
	return 0;
}

/* Anyone but a member records on the household's behalf: the form proves it. */
static int
consent_check_form(const struct principal *pr, const struct consent_decision *d,
    const EpGrant *g, char *err, size_t errlen)
{
	int member;

	member = d != NULL && consent_member(pr, d);
	if (str_empty(g->form_reference)) {
		if (member)
			return 0;
		return consent_err(err, errlen, "grant.form_reference",
		    "required when recorded on the household's behalf");
	}
	if (!util_text_ok(g->form_reference, 1, UTIL_REFERENCE_MAX))
		return consent_err(err, errlen, "grant.form_reference",
		    "must be 1..128 characters of UTF-8");
	return 0;
}

int
consent_check_grant(const struct principal *pr,
    const struct consent_decision *d, const EpGrant *g, char *err,
    size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (pr == NULL)
		return consent_err(err, errlen, "caller", "missing");
	if (g == NULL)
		return consent_err(err, errlen, "grant", "missing");
	if (consent_check_grantee(g, err, errlen) == -1 ||
	    consent_check_access(g, err, errlen) == -1 ||
	    consent_check_scope(g, err, errlen) == -1 ||
	    consent_check_validity(g, err, errlen) == -1)
		return -1;
	if (!util_text_ok(g->purpose, 1, CONSENT_PURPOSE_MAX))
		return consent_err(err, errlen, "grant.purpose",
		    "must be 1..500 characters of UTF-8");
	return consent_check_form(pr, d, g, err, errlen);
}

/* ------------------------------------------------------- the handlers' rules */

const struct consent_org *
consent_org(const struct consent_conf *conf, const char *id)
{
	size_t i;

	for (i = 0; conf != NULL && id != NULL && i < conf->cc_norgs; i++)
		if (str_eq(conf->cc_orgs[i].co_id, id))
			return &conf->cc_orgs[i];
	return NULL;
}

int
consent_may_mutate(const struct principal *pr, const struct consent_decision *d)
{
	if (pr == NULL || d == NULL)
		return 0;
	return consent_member(pr, d) || (consent_may_write(pr) &&
	    (d->cd_access >= EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE ||
	    d->cd_regisseur));
}

int
consent_may_intake(const struct principal *pr)
{
	return pr != NULL && pr->pr_role == EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
}

int
consent_grant_is_own(const struct principal *me, const EpGrant *g)
{
	if (me == NULL || g == NULL || !str_eq(g->grantee_org, me->pr_org))
		return 0;
	if (!str_empty(g->grantee_team))
		return 0;
	if (!str_empty(g->grantee_subject))
		return str_eq(g->grantee_subject, me->pr_subject);
	return me->pr_role == EENPLAN__V1__ROLE__ROLE_SYSTEM;
}

enum consent_revoke
consent_revoke_how(const struct consent_conf *conf, const struct principal *me,
    const struct consent_decision *d, const EpGrant *g)
{
	int may_revoke;

	if (conf == NULL || me == NULL || d == NULL || g == NULL)
		return CONSENT_REVOKE_REFUSED;
	may_revoke = consent_allows(conf, me, d, CONSENT_OP_REVOKE, 0, NULL);
	/* The household may end any grant, its regisseur's included. */
	if (may_revoke && d->cd_member)
		return CONSENT_REVOKE_HOUSEHOLD;
	if (consent_grant_is_own(me, g)) {
		if (d->cd_regisseur &&
		    g->access == EENPLAN__V1__ACCESS__ACCESS_MANAGE)
			return CONSENT_REVOKE_REGIE_TRANSFER;
		if (consent_allows(conf, me, d, CONSENT_OP_RENOUNCE, 0, NULL))
			return CONSENT_REVOKE_RENOUNCE;
	}
	if (may_revoke && d->cd_regisseur)
		return CONSENT_REVOKE_ON_BEHALF;
	return CONSENT_REVOKE_REFUSED;
}

int
consent_check_grant_request(const struct consent_conf *conf, const EpGrant *g,
    int64_t now, char *err, size_t errlen)
{
	if (g == NULL)
		return consent_err(err, errlen, "grant", "missing");
	if (consent_org(conf, g->grantee_org) == NULL)
		return consent_err(err, errlen, "grant.grantee_org",
		    "not an organisation of this deployment");
	/* Such a grant would count for nobody (see consent_evaluate). */
	if (str_eq(g->grantee_org, conf->cc_citizens_org) &&
	    str_empty(g->grantee_subject))
		return consent_err(err, errlen, "grant.grantee_subject",
		    "required for the citizens' organisation");
	if (!str_empty(g->grantee_team) &&
	    !consent_team_ok(g->grantee_team))
		return consent_err(err, errlen, "grant.grantee_team",
		    "must be 1..32 characters of [a-z0-9-]");
	if (g->valid_until != 0 && g->valid_until <= now)
		return consent_err(err, errlen, "grant.valid_until",
		    "must be in the future");
	return 0;
}

static int
consent_refuse(int *code, int c, char *err, size_t errlen, const char *msg)
{
	*code = c;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
	return 0;
}

int
consent_break_glass_ok(const struct consent_conf *conf,
    const struct principal *pr, const struct consent_decision *d,
    EpGrant *const *recent, size_t nrecent, int64_t now, int *code,
    char *err, size_t errlen)
{
	const struct consent_org *org;
	int64_t until;
	size_t i;

	*code = EENPLAN__V1__CODE__OK;
	if (conf == NULL || pr == NULL || d == NULL)
		return consent_refuse(code, EENPLAN__V1__CODE__PERMISSION_DENIED,
		    err, errlen, "not allowed");
	if (!conf->cc_break_glass)
		return consent_refuse(code, EENPLAN__V1__CODE__PERMISSION_DENIED,
		    err, errlen, "break-glass is switched off");
	if (pr->pr_role != EENPLAN__V1__ROLE__ROLE_PROFESSIONAL)
		return consent_refuse(code, EENPLAN__V1__CODE__PERMISSION_DENIED,
		    err, errlen, "only a professional can break the glass");
	if ((org = consent_org(conf, pr->pr_org)) == NULL ||
	    !org->co_break_glass)
		return consent_refuse(code, EENPLAN__V1__CODE__PERMISSION_DENIED,
		    err, errlen, "break-glass is not open to your "
		    "organisation's professionals (break_glass in its [org] "
		    "section)");
	if (!consent_may_break_glass(conf, pr, d))
		return consent_refuse(code,
		    EENPLAN__V1__CODE__FAILED_PRECONDITION, err, errlen,
		    "you already have access to this household");
	/* Not again for the same household until the pause has passed. */
	for (i = 0; recent != NULL && i < nrecent; i++) {
		const EpGrant *g = recent[i];

		if (g == NULL || !g->break_glass ||
		    !str_eq(g->grantee_org, pr->pr_org) ||
		    !str_eq(g->grantee_subject, pr->pr_subject))
			continue;
		until = g->revoked_at != 0 && g->revoked_at < g->valid_until ?
		    g->revoked_at : g->valid_until;
		if (now < until + conf->cc_break_glass_pause)
			return consent_refuse(code,
			    EENPLAN__V1__CODE__FAILED_PRECONDITION, err, errlen,
			    "your last break-glass window for this household "
			    "ended less than break_glass_pause ago");
	}
	return 1;
}

int
consent_regie_target_ok(const struct consent_conf *conf,
    const struct consent_household *hh, const char *to_org,
    const char *to_subject, int to_role, int *role, char *err, size_t errlen)
{
	const struct consent_org *org;
	size_t i;

	*role = EENPLAN__V1__ROLE__ROLE_UNSPECIFIED;
	if (conf == NULL || to_org == NULL || to_subject == NULL)
		return 0;
	/* Self-regie: a member of the household. */
	if (str_eq(to_org, conf->cc_citizens_org)) {
		for (i = 0; hh != NULL && i < hh->ch_nmembers; i++) {
			if (hh->ch_members[i] != NULL && str_eq(
			    hh->ch_members[i]->person_id, to_subject)) {
				*role = EENPLAN__V1__ROLE__ROLE_CLIENT;
				return 1;
			}
		}
		consent_err(err, errlen, "to_subject", "in the citizens' "
		    "organisation only a member of the household can take "
		    "the regie (self-regie)");
		return 0;
	}
	if ((org = consent_org(conf, to_org)) == NULL) {
		consent_err(err, errlen, "to_org", "not an organisation of "
		    "this deployment");
		return 0;
	}
	if (!org->co_regie || (org->co_roles &
	    (1u << EENPLAN__V1__ROLE__ROLE_PROFESSIONAL)) == 0) {
		consent_err(err, errlen, "to_org", "this organisation does "
		    "not direct cases (regie in its [org] section)");
		return 0;
	}
	if (to_role != EENPLAN__V1__ROLE__ROLE_PROFESSIONAL) {
		consent_err(err, errlen, "to_subject", to_role ==
		    EENPLAN__V1__ROLE__ROLE_UNSPECIFIED ? "no professional of "
		    "this organisation is known by that name (a person is "
		    "known once it has used eenplan)" : "the regisseur is a "
		    "professional: not an auditor, a system, a GP or a carer");
		return 0;
	}
	*role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	return 1;
}

int
consent_audit_name_shown(const char *capacity, int role)
{
	if (role == EENPLAN__V1__ROLE__ROLE_GP)
		return 1;
	return str_eq(capacity, CONSENT_CAPACITY_MEMBER) ||
	    str_eq(capacity, CONSENT_CAPACITY_REGISSEUR);
}

const char *
consent_capacity(const struct principal *pr, const struct consent_decision *d)
{
	if (pr == NULL || d == NULL)
		return "";
	if (consent_member(pr, d))
		return CONSENT_CAPACITY_MEMBER;
	if (d->cd_regisseur)
		return CONSENT_CAPACITY_REGISSEUR;
	return "";
}

void
consent_index_subject(const EpGrant *g, char *out, size_t outlen)
{
	if (!str_empty(g->grantee_team))
		consent_team_subject(g->grantee_team, out, outlen);
	else
		snprintf(out, outlen, "%s", str_empty(g->grantee_subject) ?
		    "" : g->grantee_subject);
}

void
consent_team_subject(const char *team, char *out, size_t outlen)
{
	/* ':' is in no subject: a team's entries never meet a person's. */
	snprintf(out, outlen, "team:%s", team != NULL ? team : "");
}
