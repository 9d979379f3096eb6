/*
 * consent: the access policy — who may do what with one household's plan,
 * decided from the caller, the plan (members, regisseur) and the household's
 * grants. Pure: no I/O, no clock (the caller passes now), no LMDB, no TLS.
 * Every handler that touches a household asks it, and nothing else decides.
 */
#ifndef EENPLAN_CONSENT_H
#define EENPLAN_CONSENT_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"
#include "principal.h"

/* Bit d (1..13) set: ZRM domain d is visible/writable. */
#define CONSENT_SCOPE_ALL	0x3ffeu
#define CONSENT_DOMAIN_BIT(d)	(1u << (d))

/* What the policy knows of an organisation (from the config). */
struct consent_org {
	const char	*co_id;
	uint32_t	 co_roles;	/* bit (1 << ROLE) its CA may issue */
	int		 co_regie;	/* its professionals may direct cases */
	int		 co_break_glass; /* its professionals may break the glass */
};

/* Settings the policy needs (from the config). */
struct consent_conf {
	const char	*cc_citizens_org;	/* org of household members, "burgers" */
	int		 cc_break_glass;	/* 0: switched off */
	int64_t		 cc_break_glass_window;	/* microseconds, default 4 h */
	size_t		 cc_break_glass_reason_min; /* characters */
	/* Before the same person may open it again for the same household. */
	int64_t		 cc_break_glass_pause;	/* microseconds */
	const struct consent_org *cc_orgs;	/* the deployment's organisations */
	size_t		 cc_norgs;
};

#define CONSENT_TEAM_MAX	32	/* characters of a team name */

/* What a caller wants to do. */
enum consent_op {
	CONSENT_OP_READ = 1,		/* GetPlan, GetHistory, ListHouseholds, feed */
	CONSENT_OP_ADD_NOTE,		/* domain-bound */
	CONSENT_OP_ADD_ASSESSMENT,	/* domain-bound */
	CONSENT_OP_ADD_GOAL,		/* domain-bound */
	CONSENT_OP_SET_GOAL_STATUS,	/* domain-bound */
	CONSENT_OP_ADD_ACTION,		/* domain-bound; owner_org = action owner */
	CONSENT_OP_SET_ACTION_STATUS,	/* domain-bound; owner_org = action owner */
	CONSENT_OP_SET_TARGET,		/* domain-bound */
	CONSENT_OP_ADD_MEMBER,
	CONSENT_OP_GRANT,		/* record a new grant */
	CONSENT_OP_REVOKE,		/* revoke someone else's grant */
	CONSENT_OP_RENOUNCE,		/* grantee ends its own grant (owner_org/
					   subject of the grant checked by handler) */
	CONSENT_OP_LIST_CONSENT,
	CONSENT_OP_TRANSFER_REGIE,
	CONSENT_OP_ESCALATE,
	CONSENT_OP_CLOSE,
	CONSENT_OP_READ_AUDIT,		/* the household's access log */
	CONSENT_OP_BREAK_GLASS,		/* open emergency read access */
	CONSENT_OP__MAX
};

/*
 * The caller's standing towards one household at one moment.
 * cd_scope is what the caller may see (filter plans, history and the feed
 * with it); cd_write_scope is where it may contribute, which can be narrower
 * (read on all domains + contribute on one). Decide writes with
 * consent_allows, never with cd_scope.
 */
struct consent_decision {
	int		cd_access;	/* EENPLAN__V1__ACCESS__*, after role ceilings */
	uint32_t	cd_scope;	/* domains visible; 0 when no access */
	int		cd_member;	/* a household member (client role, listed) */
	int		cd_regisseur;	/* holds the valid manage grant */
	int		cd_break_glass;	/* access comes only from break-glass */
	uint64_t	cd_grant_id;	/* the grant giving the highest access, 0: none */
	uint32_t	cd_write_scope;	/* domains writable (contribute/manage); 0: none */
	size_t		cd_matching;	/* active grants naming the caller, before
					   ceilings (who may RENOUNCE) */
	int		cd_no_regisseur; /* no active manage grant: the household
					   dismissed its regisseur */
	int64_t		cd_until;	/* the first moment after now a grant
					   begins or ends (INT64_MAX: none): the
					   same grants decide the same until then */
};

/* What the policy reads of a household besides its grants. */
struct consent_household {
	EpMember *const		*ch_members;
	size_t			 ch_nmembers;
	const EpPrincipal	*ch_regisseur;	/* NULL: none */
};
/* The members and regisseur of a plan, as the policy reads them. */
void	consent_household_of_plan(const EpPlan *, struct consent_household *);

/*
 * Decides the caller's standing. grants are all the household's grants,
 * revoked and expired included. Rules (DESIGN.md "Consent"):
 * - a grant matches when grantee_org == caller org and grantee_subject is
 *   empty or == caller subject; it counts only when valid_from <= now (or 0),
 *   now < valid_until (or 0), and not revoked;
 * - the caller's access is the highest matching access, scopes of matching
 *   grants at that level or higher are united (empty scope = all domains);
 *   a lower-level grant with another scope widens only read scope;
 * - ceilings: gp and carer at most read; auditor none; client no grants at
 *   all — a client that is a member (org == citizens_org, subject listed as
 *   a member's person_id) reads all domains and may contribute notes;
 *   system and professional as granted; manage only to the holder of the
 *   household's one valid manage grant (the regisseur), whatever its role,
 *   except gp/carer/auditor/client who never hold manage;
 * - break-glass grants (break_glass set) give read to professional only.
 * A caller with no access gets cd_access = NONE and cd_scope = 0.
 * Also (defence in depth): a manage grant counts as manage only when it
 * names one subject and the household's regisseur is the caller (else it counts as
 * contribute); a break-glass grant counts only while cc_break_glass is on
 * and when it has a valid_until; an org-wide grant to cc_citizens_org counts
 * for nobody; grants whose scope holds no known domain count for nothing.
 */
void	consent_evaluate(const struct consent_conf *, const struct principal *,
	    const struct consent_household *, EpGrant *const *grants,
	    size_t ngrants, int64_t now, struct consent_decision *out);

/*
 * 1 when the decision allows op. domain is the ZRM domain the op touches
 * (0 for ops not bound to one); owner_org is the owning organisation for
 * action ops (NULL otherwise). Rules:
 * - READ: access >= read (members always).
 * - ADD_NOTE, ADD_ASSESSMENT: contribute in scope, or member (notes only,
 *   any domain), or manage.
 * - SET_ACTION_STATUS: manage; or contribute in scope when owner_org is the
 *   caller's org.
 * - ADD_ACTION: manage; or contribute in scope with owner_org == caller org.
 * - ADD_GOAL, SET_GOAL_STATUS, SET_TARGET, ADD_MEMBER, ESCALATE, CLOSE,
 *   TRANSFER_REGIE: manage.
 * - TRANSFER_REGIE also: a member, when the household has no regisseur
 *   (it dismissed the last one) — the household appoints the next.
 * - GRANT, REVOKE, LIST_CONSENT: member or manage.
 * - RENOUNCE: any caller with a matching grant (the handler checks it is
 *   the caller's own grant); member and manage too.
 * - READ_AUDIT: member or manage.
 * - BREAK_GLASS: professional role, break-glass switched on, and not
 *   already reading. (Never for gp, carer, system, auditor, client.)
 */
int	consent_allows(const struct consent_conf *, const struct principal *,
	    const struct consent_decision *, enum consent_op, int domain,
	    const char *owner_org);

/*
 * Checks a grant before it is recorded by a caller with decision d:
 * fields (grantee org/subject identifiers, access read or contribute — manage
 * only moves by TransferRegie —, scope domains 1..13 without duplicates,
 * valid_until > valid_from when both set, purpose 1..500 chars of UTF-8), and
 * on-behalf rules (a non-member recorder must give form_reference). Returns 0,
 * or -1 with the offending field's name and a message in err.
 */
int	consent_check_grant(const struct principal *, const struct consent_decision *,
	    const EpGrant *, char *err, size_t errlen);

/* The organisation id of the config, or NULL. */
const struct consent_org *consent_org(const struct consent_conf *,
	    const char *id);

/* MutatePlan at all: contribute, a member, or the regisseur (not a reader). */
int	consent_may_mutate(const struct principal *,
	    const struct consent_decision *);
/* CreateHousehold (intake): a professional. */
int	consent_may_intake(const struct principal *);

/*
 * The caller's own grant (which it may renounce): one naming the caller,
 * or an org-wide grant when the caller is that organisation's system (a
 * person speaks neither for the whole organisation nor for its team).
 */
int	consent_grant_is_own(const struct principal *, const EpGrant *);

/* How a revoke of grant g by the caller goes. */
enum consent_revoke {
	CONSENT_REVOKE_REFUSED = 0,	/* the caller may not: the refusal */
	CONSENT_REVOKE_HOUSEHOLD,	/* a member, for the household */
	CONSENT_REVOKE_ON_BEHALF,	/* the regisseur, with the signed form */
	CONSENT_REVOKE_RENOUNCE,	/* the grantee ends its own grant */
	CONSENT_REVOKE_REGIE_TRANSFER	/* the regisseur's own manage grant:
					   it leaves only by TransferRegie */
};
enum consent_revoke consent_revoke_how(const struct consent_conf *,
	    const struct principal *, const struct consent_decision *,
	    const EpGrant *g);

/*
 * A grant in a GrantConsent request, before the household is looked at:
 * grantee_org an organisation of the deployment, a person for the citizens'
 * organisation (an org-wide grant there would reach every carer in the
 * city), a team name well formed and only with an org, valid_until in the
 * future. 0, or -1 with the field and why in err.
 */
int	consent_check_grant_request(const struct consent_conf *,
	    const EpGrant *, int64_t now, char *err, size_t errlen);

/*
 * Whether the caller may open break-glass access now: switched on, a
 * professional of an organisation allowed to, not already reading, and not
 * within break_glass_pause of its own last window for this household
 * (recent: the household's break-glass grants recorded since now - window
 * - pause). 1, or 0 with *code (EENPLAN__V1__CODE__*) and a message.
 */
int	consent_break_glass_ok(const struct consent_conf *,
	    const struct principal *, const struct consent_decision *,
	    EpGrant *const *recent, size_t nrecent, int64_t now, int *code,
	    char *err, size_t errlen);

/*
 * Who may be made regisseur (TransferRegie's to_org/to_subject): a member
 * of the household (self-regie), or a professional of an organisation the
 * config lets direct cases — never an auditor, a system, a carer, a GP or a
 * person the deployment does not know. to_role is the role the target is
 * known by (ROLE_UNSPECIFIED: not known). 1 with *role (what to store as
 * the regisseur's role), or 0 with the rule broken in err.
 */
int	consent_regie_target_ok(const struct consent_conf *,
	    const struct consent_household *, const char *to_org,
	    const char *to_subject, int to_role, int *role, char *err,
	    size_t errlen);

/*
 * Whether the household's access log shows who (the person's name) acted:
 * its members and its regisseur — as they were when they acted
 * (capacity) — and its GP. Everyone else by organisation and role.
 */
#define CONSENT_CAPACITY_MEMBER		"member"
#define CONSENT_CAPACITY_REGISSEUR	"regisseur"
int	consent_audit_name_shown(const char *capacity, int role);
/* The capacity to record for a caller with decision d ("" for none). */
const char *consent_capacity(const struct principal *,
	    const struct consent_decision *);

/*
 * The principals index subject of a grant: "" (the whole organisation),
 * the person, or "team:NAME". out holds PRINCIPAL_SUBJECT_MAX + 8 bytes.
 */
#define CONSENT_INDEX_SUBJECT_MAX	(PRINCIPAL_SUBJECT_MAX + 8)
void	consent_index_subject(const EpGrant *, char *out, size_t outlen);
/* The same for one of a principal's teams. */
void	consent_team_subject(const char *team, char *out, size_t outlen);

/* 1 when a grant counts at time now (started, not ended, not revoked). */
int	consent_grant_active(const EpGrant *, int64_t now);

/* Scope bits from a grant's scope list (empty: CONSENT_SCOPE_ALL). */
uint32_t consent_scope_bits(const EpGrant *);

#endif
