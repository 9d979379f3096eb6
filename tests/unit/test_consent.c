/*
 * test_consent: the access policy. The first test walks the whole decision
 * space (role x grant level x scope x validity x owner x break-glass switch
 * x op) against an expectation table written from DESIGN.md "Consent" and
 * consent.h, in a different shape from consent.c: per-op allow-lists of
 * (role, level, scope, owner, switch) patterns. The rest are targeted cases.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "wire.h"
#include "principal.h"
#include "consent.h"

/* The policy decides on a household's members and regisseur: a plan's here. */
static void
ev_plan(const struct consent_conf *cc, const struct principal *pr,
    const EpPlan *p, EpGrant *const *g, size_t n, int64_t now,
    struct consent_decision *d)
{
	struct consent_household ch;

	consent_household_of_plan(p, &ch);
	consent_evaluate(cc, pr, p != NULL ? &ch : NULL, g, n, now, d);
}

#define NOW		((int64_t)1750000000000000)	/* 2025, in us */
#define DOM		EENPLAN__V1__DOMAIN__DOMAIN_GEESTELIJKE_GEZONDHEID
#define OTHER_DOM	EENPLAN__V1__DOMAIN__DOMAIN_WERK_OPLEIDING

#define A_NONE		EENPLAN__V1__ACCESS__ACCESS_NONE
#define A_READ		EENPLAN__V1__ACCESS__ACCESS_READ
#define A_CONTRIBUTE	EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE
#define A_MANAGE	EENPLAN__V1__ACCESS__ACCESS_MANAGE

#define ROLE_CLIENT	EENPLAN__V1__ROLE__ROLE_CLIENT
#define ROLE_CARER	EENPLAN__V1__ROLE__ROLE_CARER
#define ROLE_GP		EENPLAN__V1__ROLE__ROLE_GP
#define ROLE_PRO	EENPLAN__V1__ROLE__ROLE_PROFESSIONAL
#define ROLE_SYS	EENPLAN__V1__ROLE__ROLE_SYSTEM
#define ROLE_AUD	EENPLAN__V1__ROLE__ROLE_AUDITOR

/* ------------------------------------------------------------ fixtures */

static struct consent_conf conf_on = {
	.cc_citizens_org = "burgers",
	.cc_break_glass = 1,
	.cc_break_glass_window = 4LL * 3600 * 1000000,
	.cc_break_glass_reason_min = 20,
};

static struct consent_conf conf_off = {
	.cc_citizens_org = "burgers",
	.cc_break_glass = 0,
	.cc_break_glass_window = 4LL * 3600 * 1000000,
	.cc_break_glass_reason_min = 20,
};

static struct principal
who(const char *org, const char *subject, int role)
{
	struct principal pr;

	memset(&pr, 0, sizeof(pr));
	snprintf(pr.pr_org, sizeof(pr.pr_org), "%s", org);
	snprintf(pr.pr_subject, sizeof(pr.pr_subject), "%s", subject);
	pr.pr_role = role;
	return pr;
}

/* A household with members p-anna and p-bram and the given regisseur. */
struct household {
	EpPlan		 plan;
	EpMember	 m[2];
	EpMember	*mp[2];
	EpPrincipal	 reg;
};

static void
household_init(struct household *h, char *reg_org, char *reg_subject,
    int reg_role)
{
	eenplan__v1__plan__init(&h->plan);
	eenplan__v1__member__init(&h->m[0]);
	eenplan__v1__member__init(&h->m[1]);
	h->m[0].person_id = "p-anna";
	h->m[0].name = "Anna";
	h->m[1].person_id = "p-bram";
	h->m[1].name = "Bram";
	h->mp[0] = &h->m[0];
	h->mp[1] = &h->m[1];
	h->plan.members = h->mp;
	h->plan.n_members = 2;
	eenplan__v1__principal__init(&h->reg);
	h->reg.org = reg_org;
	h->reg.subject = reg_subject;
	h->reg.role = reg_role;
	h->plan.regisseur = &h->reg;
	h->plan.status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ACTIVE;
}

static void
grant_init(EpGrant *g, uint64_t id, char *org, char *subject, int access)
{
	eenplan__v1__grant__init(g);
	g->id = id;
	g->grantee_org = org;
	g->grantee_subject = subject;
	g->access = access;
	g->purpose = "test";
	g->recorded_at = NOW - 5000;
}

static Eenplan__V1__Domain scope_in[] = { DOM, OTHER_DOM };
static Eenplan__V1__Domain scope_out[] = { OTHER_DOM,
    EENPLAN__V1__DOMAIN__DOMAIN_BASALE_ADL };

/* ------------------------------------------------------------ the space */

enum t_role { R_MEMBER, R_CLIENT, R_CARER, R_GP, R_PRO, R_SYSTEM,
    R_AUDITOR, R__N };
enum t_level { L_NONE, L_READ, L_CONTRIBUTE, L_MANAGE, L__N };
enum t_scope { S_IN, S_ALL, S_OUT, S__N };
enum t_valid { V_VALID, V_OPEN, V_EXPIRED, V_REVOKED, V_NOT_YET, V__N };
enum t_owner { O_OWN, O_OTHER, O__N };
enum t_bg { B_ON, B_OFF, B__N };

static const char *role_name[R__N] = { "member", "client", "carer", "gp",
    "professional", "system", "auditor" };
static const char *level_name[L__N] = { "none", "read", "contribute",
    "manage" };
static const char *scope_name[S__N] = { "in", "all", "out" };
static const char *valid_name[V__N] = { "valid", "open-ended", "expired",
    "revoked", "not-yet-valid" };
static const char *owner_name[O__N] = { "own", "other" };
static const char *bg_name[B__N] = { "on", "off" };

static const struct {
	const char	*org;
	const char	*subject;
	int		 role;
} callers[R__N] = {
	[R_MEMBER] =	{ "burgers", "p-anna", EENPLAN__V1__ROLE__ROLE_CLIENT },
	[R_CLIENT] =	{ "burgers", "p-vreemd", EENPLAN__V1__ROLE__ROLE_CLIENT },
	[R_CARER] =	{ "burgers", "c-kees", EENPLAN__V1__ROLE__ROLE_CARER },
	[R_GP] =	{ "hap-zuid", "gp-jansen", EENPLAN__V1__ROLE__ROLE_GP },
	[R_PRO] =	{ "lev", "pro-sanne",
			  EENPLAN__V1__ROLE__ROLE_PROFESSIONAL },
	[R_SYSTEM] =	{ "senzer", "sys-senzer", EENPLAN__V1__ROLE__ROLE_SYSTEM },
	[R_AUDITOR] =	{ "lev", "aud-piet", EENPLAN__V1__ROLE__ROLE_AUDITOR },
};

static const struct {
	enum consent_op	 op;
	const char	*name;
	int		 domain_bound;
} ops[] = {
	{ CONSENT_OP_READ, "READ", 0 },
	{ CONSENT_OP_ADD_NOTE, "ADD_NOTE", 1 },
	{ CONSENT_OP_ADD_ASSESSMENT, "ADD_ASSESSMENT", 1 },
	{ CONSENT_OP_ADD_GOAL, "ADD_GOAL", 1 },
	{ CONSENT_OP_SET_GOAL_STATUS, "SET_GOAL_STATUS", 1 },
	{ CONSENT_OP_ADD_ACTION, "ADD_ACTION", 1 },
	{ CONSENT_OP_SET_ACTION_STATUS, "SET_ACTION_STATUS", 1 },
	{ CONSENT_OP_SET_TARGET, "SET_TARGET", 1 },
	{ CONSENT_OP_ADD_MEMBER, "ADD_MEMBER", 0 },
	{ CONSENT_OP_GRANT, "GRANT", 0 },
	{ CONSENT_OP_REVOKE, "REVOKE", 0 },
	{ CONSENT_OP_RENOUNCE, "RENOUNCE", 0 },
	{ CONSENT_OP_LIST_CONSENT, "LIST_CONSENT", 0 },
	{ CONSENT_OP_TRANSFER_REGIE, "TRANSFER_REGIE", 0 },
	{ CONSENT_OP_ESCALATE, "ESCALATE", 0 },
	{ CONSENT_OP_CLOSE, "CLOSE", 0 },
	{ CONSENT_OP_READ_AUDIT, "READ_AUDIT", 0 },
	{ CONSENT_OP_BREAK_GLASS, "BREAK_GLASS", 0 },
};
#define NOPS	(sizeof(ops) / sizeof(ops[0]))

/* ------------------------------------------------------- the expectation */

/*
 * Who may do what, restated from DESIGN.md and consent.h. A row allows op
 * for a caller whose coordinates match every pattern ("a|b": one of, "*":
 * any). "level" is the level of the caller's grant that counts: a grant
 * that is expired, revoked or not yet valid counts as "none". The manage
 * grant in the fixture is always the regisseur's (the plan names its
 * holder). Anything not allowed by a row is denied (default deny).
 */
static const struct rule {
	enum consent_op	 op;
	const char	*roles;
	const char	*levels;
	const char	*scopes;	/* the op's domain in the grant's scope */
	const char	*owners;	/* action owned by the caller's org */
	const char	*bg;		/* break-glass switched on */
} rules[] = {
	/* members always read their own plan; grants give read to those
	   whose role may read plans */
	{ CONSENT_OP_READ, "member", "*", "*", "*", "*" },
	{ CONSENT_OP_READ, "carer|gp|professional|system",
	    "read|contribute|manage", "*", "*", "*" },

	/* notes: members in any domain; contributors in scope; manage */
	{ CONSENT_OP_ADD_NOTE, "member", "*", "*", "*", "*" },
	{ CONSENT_OP_ADD_NOTE, "professional|system", "contribute",
	    "in|all", "*", "*" },
	{ CONSENT_OP_ADD_NOTE, "professional|system", "manage", "*", "*", "*" },

	/* assessments: contributors in scope; manage (members: notes only) */
	{ CONSENT_OP_ADD_ASSESSMENT, "professional|system", "contribute",
	    "in|all", "*", "*" },
	{ CONSENT_OP_ADD_ASSESSMENT, "professional|system", "manage",
	    "*", "*", "*" },

	/* actions: contributors for their own organisation's actions */
	{ CONSENT_OP_ADD_ACTION, "professional|system", "contribute",
	    "in|all", "own", "*" },
	{ CONSENT_OP_ADD_ACTION, "professional|system", "manage",
	    "*", "*", "*" },
	{ CONSENT_OP_SET_ACTION_STATUS, "professional|system", "contribute",
	    "in|all", "own", "*" },
	{ CONSENT_OP_SET_ACTION_STATUS, "professional|system", "manage",
	    "*", "*", "*" },

	/* the regisseur's alone */
	{ CONSENT_OP_ADD_GOAL, "professional|system", "manage", "*", "*", "*" },
	{ CONSENT_OP_SET_GOAL_STATUS, "professional|system", "manage",
	    "*", "*", "*" },
	{ CONSENT_OP_SET_TARGET, "professional|system", "manage",
	    "*", "*", "*" },
	{ CONSENT_OP_ADD_MEMBER, "professional|system", "manage",
	    "*", "*", "*" },
	{ CONSENT_OP_TRANSFER_REGIE, "professional|system", "manage",
	    "*", "*", "*" },
	{ CONSENT_OP_ESCALATE, "professional|system", "manage", "*", "*", "*" },
	{ CONSENT_OP_CLOSE, "professional|system", "manage", "*", "*", "*" },

	/* consent management and the access log: the household or its
	   regisseur */
	{ CONSENT_OP_GRANT, "member", "*", "*", "*", "*" },
	{ CONSENT_OP_GRANT, "professional|system", "manage", "*", "*", "*" },
	{ CONSENT_OP_REVOKE, "member", "*", "*", "*", "*" },
	{ CONSENT_OP_REVOKE, "professional|system", "manage", "*", "*", "*" },
	{ CONSENT_OP_LIST_CONSENT, "member", "*", "*", "*", "*" },
	{ CONSENT_OP_LIST_CONSENT, "professional|system", "manage",
	    "*", "*", "*" },
	{ CONSENT_OP_READ_AUDIT, "member", "*", "*", "*", "*" },
	{ CONSENT_OP_READ_AUDIT, "professional|system", "manage",
	    "*", "*", "*" },

	/* a grantee may always give its own (counting) grant back */
	{ CONSENT_OP_RENOUNCE, "member", "*", "*", "*", "*" },
	{ CONSENT_OP_RENOUNCE, "*", "read|contribute|manage", "*", "*", "*" },

	/* break-glass: a professional who cannot read yet, when switched on */
	{ CONSENT_OP_BREAK_GLASS, "professional", "none", "*", "*", "on" },
};

/* What access the decision reports: a role x counting-level matrix. */
static const int expected_access[R__N][L__N] = {
	/*		none	read	contribute	manage */
	[R_MEMBER] =	{ A_READ, A_READ, A_READ,	A_READ },
	[R_CLIENT] =	{ A_NONE, A_NONE, A_NONE,	A_NONE },
	[R_CARER] =	{ A_NONE, A_READ, A_READ,	A_READ },
	[R_GP] =	{ A_NONE, A_READ, A_READ,	A_READ },
	[R_PRO] =	{ A_NONE, A_READ, A_CONTRIBUTE,	A_MANAGE },
	[R_SYSTEM] =	{ A_NONE, A_READ, A_CONTRIBUTE,	A_MANAGE },
	[R_AUDITOR] =	{ A_NONE, A_NONE, A_NONE,	A_NONE },
};

/* 1 when value is one of the '|'-separated words of pattern, or pattern is "*". */
static int
pattern_has(const char *pattern, const char *value)
{
	size_t vlen = strlen(value);
	const char *p = pattern;

	if (strcmp(pattern, "*") == 0)
		return 1;
	while (*p != '\0') {
		size_t wlen = strcspn(p, "|");

		if (wlen == vlen && strncmp(p, value, vlen) == 0)
			return 1;
		p += wlen;
		if (*p == '|')
			p++;
	}
	return 0;
}

static int
counting_level(enum t_level level, enum t_valid valid)
{
	return valid == V_VALID || valid == V_OPEN ? (int)level : L_NONE;
}

static int
expected(enum t_role role, enum t_level level, enum t_scope scope,
    enum t_valid valid, enum t_owner owner, enum t_bg bg, enum consent_op op)
{
	const char *lv = level_name[counting_level(level, valid)];
	size_t i;

	/*
	 * A household without a regisseur appoints the next one. In this
	 * fixture the household has no active manage grant exactly when the
	 * only manage grant (the caller's, at level manage) does not count.
	 */
	if (op == CONSENT_OP_TRANSFER_REGIE && role == R_MEMBER)
		return level == L_MANAGE && counting_level(level, valid) == L_NONE;
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (rules[i].op == op &&
		    pattern_has(rules[i].roles, role_name[role]) &&
		    pattern_has(rules[i].levels, lv) &&
		    pattern_has(rules[i].scopes, scope_name[scope]) &&
		    pattern_has(rules[i].owners, owner_name[owner]) &&
		    pattern_has(rules[i].bg, bg_name[bg]))
			return 1;
	}
	return 0;
}

static uint32_t
expected_scope(enum t_role role, int access, enum t_scope scope)
{
	if (role == R_MEMBER || access == A_MANAGE)
		return CONSENT_SCOPE_ALL;
	if (access == A_NONE)
		return 0;
	switch (scope) {
	case S_IN:
		return CONSENT_DOMAIN_BIT(DOM) | CONSENT_DOMAIN_BIT(OTHER_DOM);
	case S_OUT:
		return CONSENT_DOMAIN_BIT(OTHER_DOM) |
		    CONSENT_DOMAIN_BIT(EENPLAN__V1__DOMAIN__DOMAIN_BASALE_ADL);
	case S_ALL:
	default:
		return CONSENT_SCOPE_ALL;
	}
}

/* ------------------------------------------------------- one coordinate */

struct world {
	struct household	 hh;
	EpGrant			 g[3];
	EpGrant			*gp[3];
	size_t			 ng;
	struct principal	 pr;
};

static void
world_grant_validity(EpGrant *g, enum t_valid valid)
{
	switch (valid) {
	case V_VALID:
		g->valid_from = NOW - 1000;
		g->valid_until = NOW + 1000;
		break;
	case V_OPEN:
		break;
	case V_EXPIRED:
		g->valid_from = NOW - 1000;
		g->valid_until = NOW - 1;
		break;
	case V_REVOKED:
		g->valid_from = NOW - 1000;
		g->revoked_at = NOW - 10;
		break;
	case V_NOT_YET:
		g->valid_from = NOW + 1;
		g->valid_until = NOW + 1000;
		break;
	default:
		fail_msg("bad validity");
	}
}

static void
world_grant_scope(EpGrant *g, enum t_scope scope)
{
	switch (scope) {
	case S_IN:
		g->scope = scope_in;
		g->n_scope = 2;
		break;
	case S_OUT:
		g->scope = scope_out;
		g->n_scope = 2;
		break;
	case S_ALL:
	default:
		break;
	}
}

static void
world_build(struct world *w, enum t_role role, enum t_level level,
    enum t_scope scope, enum t_valid valid)
{
	memset(w, 0, sizeof(*w));
	w->pr = who(callers[role].org, callers[role].subject,
	    callers[role].role);
	/* the caller's manage grant is the regisseur's: the plan names it */
	if (level == L_MANAGE)
		household_init(&w->hh, w->pr.pr_org, w->pr.pr_subject,
		    callers[role].role);
	else {
		household_init(&w->hh, "gemeente", "regie-1",
		    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
		grant_init(&w->g[w->ng], 1, "gemeente", "regie-1", A_MANAGE);
		w->ng++;
	}
	/* someone else's grant, which must not rub off */
	grant_init(&w->g[w->ng], 2, "zorgboog", "", A_CONTRIBUTE);
	w->ng++;
	if (level != L_NONE) {
		grant_init(&w->g[w->ng], 7, w->pr.pr_org, w->pr.pr_subject,
		    (int)level);
		world_grant_scope(&w->g[w->ng], scope);
		world_grant_validity(&w->g[w->ng], valid);
		w->ng++;
	}
	for (size_t i = 0; i < w->ng; i++)
		w->gp[i] = &w->g[i];
}

static int
check_decision(const struct world *w, const struct consent_decision *d,
    enum t_role role, enum t_level level, enum t_scope scope,
    enum t_valid valid)
{
	int lv = counting_level(level, valid);
	int acc = expected_access[role][lv];
	uint32_t sc = expected_scope(role, acc, scope);

	(void)w;
	if (d->cd_access == acc && d->cd_scope == sc &&
	    d->cd_member == (role == R_MEMBER) &&
	    d->cd_regisseur == (acc == A_MANAGE))
		return 0;
	print_message("DECISION MISMATCH role=%s level=%s scope=%s "
	    "validity=%s: expected access %d scope %#x member %d regisseur %d,"
	    " got access %d scope %#x member %d regisseur %d\n",
	    role_name[role], level_name[level], scope_name[scope],
	    valid_name[valid], acc, sc, role == R_MEMBER, acc == A_MANAGE,
	    d->cd_access, d->cd_scope, d->cd_member, d->cd_regisseur);
	return 1;
}

static int
check_ops(const struct world *w, const struct consent_decision *d,
    enum t_role role, enum t_level level, enum t_scope scope,
    enum t_valid valid)
{
	const char *owner_org;
	size_t o;
	int bad = 0, got, want, ow, bg;

	for (o = 0; o < NOPS; o++) {
		for (ow = 0; ow < O__N; ow++) {
			for (bg = 0; bg < B__N; bg++) {
				owner_org = ow == O_OWN ? w->pr.pr_org : "other-org";
				got = consent_allows(bg == B_ON ? &conf_on :
				    &conf_off, &w->pr, d, ops[o].op,
				    ops[o].domain_bound ? DOM : 0, owner_org);
				want = expected(role, level, scope, valid, ow,
				    bg, ops[o].op);
				if (got == want)
					continue;
				bad++;
				print_message("MISMATCH op=%s role=%s level=%s "
				    "scope=%s validity=%s owner=%s "
				    "break-glass=%s: expected %s, got %s\n",
				    ops[o].name, role_name[role],
				    level_name[level], scope_name[scope],
				    valid_name[valid], owner_name[ow],
				    bg_name[bg], want ? "allow" : "deny",
				    got ? "allow" : "deny");
			}
		}
	}
	return bad;
}

static void
test_decision_space(void **state)
{
	struct consent_decision d;
	struct world w;
	int role, level, scope, valid, bad = 0, points = 0;

	(void)state;
	for (role = 0; role < R__N; role++)
	for (level = 0; level < L__N; level++)
	for (scope = 0; scope < S__N; scope++)
	for (valid = 0; valid < V__N; valid++) {
		world_build(&w, role, level, scope, valid);
		/* the decision itself does not depend on the switch unless
		   break-glass grants are involved; none are here */
		ev_plan(&conf_on, &w.pr, &w.hh.plan, w.gp, w.ng, NOW,
		    &d);
		bad += check_decision(&w, &d, role, level, scope, valid);
		bad += check_ops(&w, &d, role, level, scope, valid);
		points += (int)(NOPS * O__N * B__N);
	}
	print_message("decision space: %d points, %d mismatches\n", points,
	    bad);
	assert_int_equal(bad, 0);
}

/* The expectation table must be able to say no and yes: sanity of the oracle. */
static void
test_oracle_sane(void **state)
{
	(void)state;
	assert_true(expected(R_MEMBER, L_NONE, S_OUT, V_VALID, O_OTHER, B_OFF,
	    CONSENT_OP_ADD_NOTE));
	assert_false(expected(R_MEMBER, L_MANAGE, S_ALL, V_VALID, O_OWN, B_ON,
	    CONSENT_OP_ADD_GOAL));
	assert_false(expected(R_GP, L_MANAGE, S_ALL, V_VALID, O_OWN, B_ON,
	    CONSENT_OP_ADD_NOTE));
	assert_false(expected(R_PRO, L_CONTRIBUTE, S_ALL, V_EXPIRED, O_OWN,
	    B_ON, CONSENT_OP_READ));
	assert_true(expected(R_PRO, L_CONTRIBUTE, S_ALL, V_EXPIRED, O_OWN,
	    B_ON, CONSENT_OP_BREAK_GLASS));
	assert_false(pattern_has("read|contribute", "rea"));
	assert_true(pattern_has("read|contribute", "contribute"));
}

/* ------------------------------------------------------- targeted cases */

static void
eval(const struct consent_conf *conf, const struct principal *pr,
    const EpPlan *plan, EpGrant **grants, size_t n, struct consent_decision *d)
{
	ev_plan(conf, pr, plan, grants, n, NOW, d);
}

static void
test_subject_grant(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal sanne, other, senzer;
	EpGrant g;
	EpGrant *gl[] = { &g };

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	grant_init(&g, 3, "lev", "pro-sanne", A_CONTRIBUTE);
	sanne = who("lev", "pro-sanne", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	other = who("lev", "pro-other", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	senzer = who("senzer", "pro-sanne",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);

	eval(&conf_on, &sanne, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_CONTRIBUTE);
	assert_int_equal(d.cd_grant_id, 3);
	eval(&conf_on, &other, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);
	assert_int_equal(d.cd_scope, 0);
	assert_int_equal(d.cd_grant_id, 0);
	assert_false(consent_allows(&conf_on, &other, &d, CONSENT_OP_READ, 0,
	    NULL));
	/* same subject name in another organisation is someone else */
	eval(&conf_on, &senzer, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);
}

static void
test_org_grant(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal a, b, c;
	EpGrant g;
	EpGrant *gl[] = { &g };

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	grant_init(&g, 4, "lev", "", A_READ);
	g.scope = scope_in;
	g.n_scope = 2;
	a = who("lev", "pro-a", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	b = who("lev", "sys-lev", EENPLAN__V1__ROLE__ROLE_SYSTEM);
	c = who("senzer", "pro-a", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);

	eval(&conf_on, &a, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_READ);
	assert_int_equal(d.cd_scope,
	    CONSENT_DOMAIN_BIT(DOM) | CONSENT_DOMAIN_BIT(OTHER_DOM));
	eval(&conf_on, &b, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_READ);
	eval(&conf_on, &c, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);
}

/* An org-wide grant to the citizens' org would reach every carer: it counts for nobody. */
static void
test_citizens_org_wide(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal carer;
	EpGrant g;
	EpGrant *gl[] = { &g };

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	carer = who("burgers", "c-kees", EENPLAN__V1__ROLE__ROLE_CARER);
	grant_init(&g, 4, "burgers", "", A_READ);
	eval(&conf_on, &carer, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);
	g.grantee_subject = "c-kees";
	eval(&conf_on, &carer, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_READ);
}

static void
test_union(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal pr;
	EpGrant r, c;
	EpGrant *gl[] = { &r, &c };
	Eenplan__V1__Domain one[] = { DOM };
	Eenplan__V1__Domain two[] = { OTHER_DOM };

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	pr = who("lev", "pro-sanne", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	grant_init(&r, 10, "lev", "", A_READ);		/* read, all domains */
	grant_init(&c, 11, "lev", "pro-sanne", A_CONTRIBUTE);
	c.scope = one;
	c.n_scope = 1;

	eval(&conf_on, &pr, &hh.plan, gl, 2, &d);
	assert_int_equal(d.cd_access, A_CONTRIBUTE);
	assert_int_equal(d.cd_grant_id, 11);
	assert_int_equal(d.cd_scope, CONSENT_SCOPE_ALL);	/* sees all */
	assert_int_equal(d.cd_write_scope, CONSENT_DOMAIN_BIT(DOM));
	assert_true(consent_allows(&conf_on, &pr, &d, CONSENT_OP_READ, 0,
	    NULL));
	assert_true(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_NOTE,
	    DOM, NULL));
	/* the read grant's wider scope widens reading only */
	assert_false(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_NOTE,
	    OTHER_DOM, NULL));
	assert_false(consent_allows(&conf_on, &pr, &d,
	    CONSENT_OP_ADD_ASSESSMENT, OTHER_DOM, NULL));
	assert_true(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_ACTION,
	    DOM, "lev"));
	assert_false(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_ACTION,
	    DOM, "senzer"));
	assert_false(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_ACTION,
	    DOM, NULL));

	/* two contribute grants with different scopes: both writable */
	r.access = A_CONTRIBUTE;
	r.scope = two;
	r.n_scope = 1;
	eval(&conf_on, &pr, &hh.plan, gl, 2, &d);
	assert_int_equal(d.cd_write_scope,
	    CONSENT_DOMAIN_BIT(DOM) | CONSENT_DOMAIN_BIT(OTHER_DOM));
	assert_true(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_NOTE,
	    OTHER_DOM, NULL));
	/* a domain out of range is never in scope */
	assert_false(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_NOTE,
	    0, NULL));
	assert_false(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_NOTE,
	    14, NULL));
	assert_false(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_NOTE,
	    40, NULL));
}

static void
test_break_glass_grant(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal pro, gp, sys;
	EpGrant bg, rd;
	EpGrant *gl[] = { &bg, &rd };
	Eenplan__V1__Domain one[] = { OTHER_DOM };

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	pro = who("lev", "pro-sanne", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	gp = who("lev", "pro-sanne", EENPLAN__V1__ROLE__ROLE_GP);
	sys = who("lev", "pro-sanne", EENPLAN__V1__ROLE__ROLE_SYSTEM);
	grant_init(&bg, 20, "lev", "pro-sanne", A_READ);
	bg.break_glass = 1;
	bg.valid_from = NOW - 10;
	bg.valid_until = NOW + conf_on.cc_break_glass_window;

	eval(&conf_on, &pro, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_READ);
	assert_int_equal(d.cd_scope, CONSENT_SCOPE_ALL);
	assert_int_equal(d.cd_break_glass, 1);
	assert_int_equal(d.cd_grant_id, 20);
	assert_true(consent_allows(&conf_on, &pro, &d, CONSENT_OP_READ, 0,
	    NULL));
	assert_false(consent_allows(&conf_on, &pro, &d, CONSENT_OP_ADD_NOTE,
	    DOM, NULL));
	/* already reading: no second window */
	assert_false(consent_allows(&conf_on, &pro, &d,
	    CONSENT_OP_BREAK_GLASS, 0, NULL));
	/* but it may close its own window */
	assert_true(consent_allows(&conf_on, &pro, &d, CONSENT_OP_RENOUNCE, 0,
	    NULL));

	/* break-glass never gives more than read, whatever it says */
	bg.access = A_MANAGE;
	eval(&conf_on, &pro, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_READ);
	bg.access = A_READ;

	/* not for gp or system */
	eval(&conf_on, &gp, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);
	eval(&conf_on, &sys, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);

	/* switching break-glass off closes open windows */
	eval(&conf_off, &pro, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);

	/* an unbounded break-glass grant counts for nothing */
	bg.valid_until = 0;
	eval(&conf_on, &pro, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);
	bg.valid_until = NOW + 1;

	/* expired window */
	bg.valid_until = NOW;
	eval(&conf_on, &pro, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);
	bg.valid_until = NOW + 1;

	/* with a regular grant too, access is not from break-glass alone */
	grant_init(&rd, 21, "lev", "", A_READ);
	rd.scope = one;
	rd.n_scope = 1;
	eval(&conf_on, &pro, &hh.plan, gl, 2, &d);
	assert_int_equal(d.cd_access, A_READ);
	assert_int_equal(d.cd_break_glass, 0);
	assert_int_equal(d.cd_scope, CONSENT_SCOPE_ALL);
}

static void
test_break_glass_op(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal pr;
	static const int roles[] = {
		EENPLAN__V1__ROLE__ROLE_CLIENT, EENPLAN__V1__ROLE__ROLE_CARER,
		EENPLAN__V1__ROLE__ROLE_GP, EENPLAN__V1__ROLE__ROLE_SYSTEM,
		EENPLAN__V1__ROLE__ROLE_AUDITOR, EENPLAN__V1__ROLE__ROLE_UNSPECIFIED,
	};
	EpGrant g;
	EpGrant *gl[] = { &g };
	size_t i;

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	pr = who("lev", "pro-sanne", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	eval(&conf_on, &pr, &hh.plan, NULL, 0, &d);
	assert_int_equal(d.cd_access, A_NONE);
	assert_true(consent_allows(&conf_on, &pr, &d, CONSENT_OP_BREAK_GLASS,
	    0, NULL));
	assert_false(consent_allows(&conf_off, &pr, &d, CONSENT_OP_BREAK_GLASS,
	    0, NULL));

	/* a professional who reads already needs no break-glass */
	grant_init(&g, 5, "lev", "pro-sanne", A_READ);
	eval(&conf_on, &pr, &hh.plan, gl, 1, &d);
	assert_false(consent_allows(&conf_on, &pr, &d, CONSENT_OP_BREAK_GLASS,
	    0, NULL));

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		pr = who("lev", "x", roles[i]);
		eval(&conf_on, &pr, &hh.plan, NULL, 0, &d);
		assert_false(consent_allows(&conf_on, &pr, &d,
		    CONSENT_OP_BREAK_GLASS, 0, NULL));
	}
}

static void
test_renounce(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal pro, aud, member;
	EpGrant g;
	EpGrant *gl[] = { &g };

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	pro = who("lev", "pro-sanne", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	aud = who("lev", "aud-piet", EENPLAN__V1__ROLE__ROLE_AUDITOR);
	member = who("burgers", "p-bram", EENPLAN__V1__ROLE__ROLE_CLIENT);

	eval(&conf_on, &pro, &hh.plan, NULL, 0, &d);
	assert_false(consent_allows(&conf_on, &pro, &d, CONSENT_OP_RENOUNCE,
	    0, NULL));
	grant_init(&g, 6, "lev", "", A_READ);
	eval(&conf_on, &pro, &hh.plan, gl, 1, &d);
	assert_true(consent_allows(&conf_on, &pro, &d, CONSENT_OP_RENOUNCE,
	    0, NULL));
	/* an auditor never reads, but may hand back a grant naming it */
	eval(&conf_on, &aud, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);
	assert_int_equal(d.cd_scope, 0);
	assert_true(consent_allows(&conf_on, &aud, &d, CONSENT_OP_RENOUNCE,
	    0, NULL));
	assert_false(consent_allows(&conf_on, &aud, &d, CONSENT_OP_READ, 0,
	    NULL));
	/* a grant that no longer counts cannot be renounced */
	g.revoked_at = NOW - 1;
	eval(&conf_on, &pro, &hh.plan, gl, 1, &d);
	assert_false(consent_allows(&conf_on, &pro, &d, CONSENT_OP_RENOUNCE,
	    0, NULL));
	eval(&conf_on, &member, &hh.plan, NULL, 0, &d);
	assert_true(d.cd_member);
	assert_true(consent_allows(&conf_on, &member, &d, CONSENT_OP_RENOUNCE,
	    0, NULL));
}

/* gp, carer, client and auditor never hold manage, even when named regisseur. */
static void
test_manage_ceilings(void **state)
{
	static const struct { int role; int access; } cases[] = {
		{ EENPLAN__V1__ROLE__ROLE_GP, A_READ },
		{ EENPLAN__V1__ROLE__ROLE_CARER, A_READ },
		{ EENPLAN__V1__ROLE__ROLE_CLIENT, A_NONE },
		{ EENPLAN__V1__ROLE__ROLE_AUDITOR, A_NONE },
		{ EENPLAN__V1__ROLE__ROLE_UNSPECIFIED, A_NONE },
		{ 99, A_NONE },
	};
	struct household hh;
	struct consent_decision d;
	struct principal pr;
	EpGrant g;
	EpGrant *gl[] = { &g };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pr = who("hap-zuid", "gp-jansen", cases[i].role);
		household_init(&hh, "hap-zuid", "gp-jansen", cases[i].role);
		grant_init(&g, 8, "hap-zuid", "gp-jansen", A_MANAGE);
		eval(&conf_on, &pr, &hh.plan, gl, 1, &d);
		assert_int_equal(d.cd_access, cases[i].access);
		assert_false(d.cd_regisseur);
		assert_false(consent_allows(&conf_on, &pr, &d,
		    CONSENT_OP_ADD_GOAL, DOM, NULL));
		assert_false(consent_allows(&conf_on, &pr, &d,
		    CONSENT_OP_TRANSFER_REGIE, 0, NULL));
		assert_false(consent_allows(&conf_on, &pr, &d,
		    CONSENT_OP_ADD_NOTE, DOM, NULL));
	}
}

/* manage needs one named holder whom the plan calls its regisseur. */
static void
test_manage_holder(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal pr;
	EpGrant g;
	EpGrant *gl[] = { &g };

	(void)state;
	pr = who("lev", "pro-sanne", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	household_init(&hh, "lev", "pro-sanne",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	grant_init(&g, 9, "lev", "pro-sanne", A_MANAGE);
	g.scope = scope_out;	/* manage is everything, scope or not */
	g.n_scope = 2;
	eval(&conf_on, &pr, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_MANAGE);
	assert_true(d.cd_regisseur);
	assert_int_equal(d.cd_scope, CONSENT_SCOPE_ALL);
	assert_int_equal(d.cd_write_scope, CONSENT_SCOPE_ALL);
	assert_true(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_GOAL,
	    DOM, NULL));

	/* the plan names someone else: a stale manage grant is contribute */
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	eval(&conf_on, &pr, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_CONTRIBUTE);
	assert_false(d.cd_regisseur);
	assert_false(consent_allows(&conf_on, &pr, &d, CONSENT_OP_ADD_GOAL,
	    DOM, NULL));

	/* an org-wide manage grant makes nobody regisseur */
	household_init(&hh, "lev", "pro-sanne",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	g.grantee_subject = "";
	eval(&conf_on, &pr, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_CONTRIBUTE);

	/* no plan: nobody can be checked as regisseur */
	g.grantee_subject = "pro-sanne";
	eval(&conf_on, &pr, NULL, gl, 1, &d);
	assert_int_equal(d.cd_access, A_CONTRIBUTE);
}

static void
test_validity_edges(void **state)
{
	EpGrant g;

	(void)state;
	grant_init(&g, 1, "lev", "", A_READ);
	assert_true(consent_grant_active(&g, NOW));
	g.valid_until = NOW;
	assert_false(consent_grant_active(&g, NOW));	/* ends at until */
	assert_true(consent_grant_active(&g, NOW - 1));
	g.valid_from = NOW;
	assert_false(consent_grant_active(&g, NOW));
	g.valid_until = NOW + 1;
	assert_true(consent_grant_active(&g, NOW));	/* starts at from */
	assert_false(consent_grant_active(&g, NOW - 1));
	g.revoked_at = NOW + 100;	/* any revocation ends it */
	assert_false(consent_grant_active(&g, NOW));
	assert_false(consent_grant_active(NULL, NOW));
}

static unsigned
lcg(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/* The decision's fields, cd_until aside. */
static int
decision_same(const struct consent_decision *a,
    const struct consent_decision *b)
{
	return a->cd_access == b->cd_access && a->cd_scope == b->cd_scope &&
	    a->cd_member == b->cd_member &&
	    a->cd_regisseur == b->cd_regisseur &&
	    a->cd_break_glass == b->cd_break_glass &&
	    a->cd_grant_id == b->cd_grant_id &&
	    a->cd_write_scope == b->cd_write_scope &&
	    a->cd_matching == b->cd_matching &&
	    a->cd_no_regisseur == b->cd_no_regisseur;
}

/*
 * cd_until, on which the writer relies to keep a read's decision without
 * deciding again (call_check): over random sets of grants beginning,
 * ending and revoked around now, the decision is the same at every moment
 * from now up to cd_until (it may end sooner than the decision changes: a
 * window that never opens counts too), and cd_until is a moment a grant
 * not revoked begins or ends. One grant open now: its end.
 */
static void
test_decided_until(void **state)
{
	struct principal pros[2];
	struct household hh;
	struct consent_decision d, e;
	EpGrant g[4], *gl[4];
	unsigned seed = 20261203;
	int round, i, changed;
	int64_t t;

	(void)state;
	pros[0] = who("lev", "s.bakker", ROLE_PRO);
	pros[1] = who("gemeente", "regie-1", ROLE_PRO);
	household_init(&hh, "gemeente", "regie-1", ROLE_PRO);
	for (round = 0; round < 5000; round++) {
		const struct principal *pr = &pros[lcg(&seed) % 2];
		size_t n = 1 + lcg(&seed) % 4;

		for (i = 0; i < (int)n; i++) {
			grant_init(&g[i], (uint64_t)i + 1,
			    lcg(&seed) % 2 ? "lev" : "gemeente",
			    lcg(&seed) % 3 == 0 ? "regie-1" : "",
			    (int)(1 + lcg(&seed) % 3));
			if (lcg(&seed) % 2)
				g[i].valid_from = NOW - 20 +
				    (int64_t)(lcg(&seed) % 60);
			if (lcg(&seed) % 2)
				g[i].valid_until = NOW - 20 +
				    (int64_t)(lcg(&seed) % 60);
			if (lcg(&seed) % 5 == 0)
				g[i].revoked_at = NOW - 30;
			gl[i] = &g[i];
		}
		consent_evaluate(&conf_on, pr, NULL, gl, n, NOW, &d);
		assert_true(d.cd_until > NOW);
		for (t = NOW; t < d.cd_until && t < NOW + 100; t++) {
			consent_evaluate(&conf_on, pr, NULL, gl, n, t, &e);
			assert_true(decision_same(&d, &e));
		}
		if (d.cd_until == INT64_MAX) {
			for (i = 0; i < (int)n; i++)
				assert_int_equal(consent_grant_active(&g[i],
				    NOW), consent_grant_active(&g[i],
				    NOW + 1000000));
			continue;
		}
		/* A moment a grant not revoked begins or ends, at the least. */
		for (i = 0, changed = 0; i < (int)n; i++)
			changed |= g[i].revoked_at == 0 &&
			    (g[i].valid_from == d.cd_until ||
			    g[i].valid_until == d.cd_until);
		assert_true(changed);
	}
	grant_init(&g[0], 1, "lev", "", A_READ);
	g[0].valid_from = NOW - 10;
	g[0].valid_until = NOW + 10;
	consent_evaluate(&conf_on, &pros[0], NULL, gl, 1, NOW, &d);
	assert_int_equal(d.cd_access, A_READ);
	assert_true(d.cd_until == NOW + 10);
}

static void
test_expired_at_now(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal pr;
	EpGrant g;
	EpGrant *gl[] = { &g };

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	pr = who("lev", "pro-sanne", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	grant_init(&g, 1, "lev", "", A_CONTRIBUTE);
	g.valid_until = NOW;
	eval(&conf_on, &pr, &hh.plan, gl, 1, &d);
	assert_int_equal(d.cd_access, A_NONE);
	assert_int_equal(d.cd_matching, 0);
	ev_plan(&conf_on, &pr, &hh.plan, gl, 1, NOW - 1, &d);
	assert_int_equal(d.cd_access, A_CONTRIBUTE);
}

static void
test_members(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal m, wrong_org, gp_named_like_member;
	EpGrant g;
	EpGrant *gl[] = { &g };

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	m = who("burgers", "p-bram", EENPLAN__V1__ROLE__ROLE_CLIENT);
	wrong_org = who("lev", "p-bram", EENPLAN__V1__ROLE__ROLE_CLIENT);
	gp_named_like_member = who("burgers", "p-bram",
	    EENPLAN__V1__ROLE__ROLE_CARER);

	/* a member's grant (here manage) does not change its standing */
	grant_init(&g, 1, "burgers", "p-bram", A_MANAGE);
	eval(&conf_on, &m, &hh.plan, gl, 1, &d);
	assert_true(d.cd_member);
	assert_int_equal(d.cd_access, A_READ);
	assert_int_equal(d.cd_scope, CONSENT_SCOPE_ALL);
	assert_false(d.cd_regisseur);
	assert_true(consent_allows(&conf_on, &m, &d, CONSENT_OP_ADD_NOTE,
	    EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE, NULL));
	assert_false(consent_allows(&conf_on, &m, &d,
	    CONSENT_OP_ADD_ASSESSMENT, DOM, NULL));

	eval(&conf_on, &wrong_org, &hh.plan, NULL, 0, &d);
	assert_false(d.cd_member);
	assert_int_equal(d.cd_access, A_NONE);
	eval(&conf_on, &gp_named_like_member, &hh.plan, NULL, 0, &d);
	assert_false(d.cd_member);
	assert_int_equal(d.cd_access, A_NONE);
	/* without the plan, membership cannot be shown */
	eval(&conf_on, &m, NULL, NULL, 0, &d);
	assert_false(d.cd_member);
	assert_int_equal(d.cd_access, A_NONE);
}

/* A decision made up by mistake must not lift a role over its ceiling. */
static void
test_allows_defends(void **state)
{
	struct consent_decision d;
	struct principal gp, aud, pro;

	(void)state;
	gp = who("hap-zuid", "gp-jansen", EENPLAN__V1__ROLE__ROLE_GP);
	aud = who("lev", "aud", EENPLAN__V1__ROLE__ROLE_AUDITOR);
	pro = who("lev", "pro", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	memset(&d, 0, sizeof(d));
	d.cd_access = A_MANAGE;
	d.cd_regisseur = 1;
	d.cd_scope = d.cd_write_scope = CONSENT_SCOPE_ALL;
	d.cd_member = 1;
	assert_false(consent_allows(&conf_on, &gp, &d, CONSENT_OP_ADD_GOAL,
	    DOM, NULL));
	assert_false(consent_allows(&conf_on, &gp, &d, CONSENT_OP_GRANT, 0,
	    NULL));
	assert_false(consent_allows(&conf_on, &aud, &d, CONSENT_OP_READ, 0,
	    NULL));
	assert_false(consent_allows(&conf_on, &aud, &d, CONSENT_OP_READ_AUDIT,
	    0, NULL));
	/* cd_member means nothing for a professional */
	d.cd_access = A_NONE;
	d.cd_regisseur = 0;
	assert_false(consent_allows(&conf_on, &pro, &d, CONSENT_OP_GRANT, 0,
	    NULL));
	assert_false(consent_allows(&conf_on, &pro, &d, CONSENT_OP_READ, 0,
	    NULL));
	/* bad ops and missing arguments */
	assert_false(consent_allows(&conf_on, &pro, &d, CONSENT_OP__MAX, 0,
	    NULL));
	assert_false(consent_allows(&conf_on, &pro, &d, (enum consent_op)0, 0,
	    NULL));
	assert_false(consent_allows(NULL, &pro, &d, CONSENT_OP_READ, 0, NULL));
	assert_false(consent_allows(&conf_on, NULL, &d, CONSENT_OP_READ, 0,
	    NULL));
	assert_false(consent_allows(&conf_on, &pro, NULL, CONSENT_OP_READ, 0,
	    NULL));
	ev_plan(&conf_on, &pro, NULL, NULL, 0, NOW, NULL);
}

static void
test_highest_grant_and_bad_values(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal pr;
	EpGrant a, b, c;
	EpGrant *gl[] = { &a, &b, &c };
	Eenplan__V1__Domain bogus[] = { 0, 14, 31 };

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	pr = who("lev", "pro-sanne", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	grant_init(&a, 30, "lev", "", A_READ);
	grant_init(&b, 31, "lev", "pro-sanne", A_CONTRIBUTE);
	grant_init(&c, 32, "lev", "", 7);		/* unknown access */
	eval(&conf_on, &pr, &hh.plan, gl, 3, &d);
	assert_int_equal(d.cd_access, A_CONTRIBUTE);
	assert_int_equal(d.cd_grant_id, 31);
	assert_int_equal(d.cd_matching, 3);

	/* a scope of unknown domains opens nothing */
	b.scope = bogus;
	b.n_scope = 3;
	assert_int_equal(consent_scope_bits(&b), 0);
	eval(&conf_on, &pr, &hh.plan, gl, 3, &d);
	assert_int_equal(d.cd_access, A_READ);
	assert_int_equal(d.cd_grant_id, 30);
	assert_int_equal(d.cd_write_scope, 0);
}

static void
test_scope_bits(void **state)
{
	EpGrant g;
	Eenplan__V1__Domain s[] = { 1, 13, 13, 0, 20 };

	(void)state;
	grant_init(&g, 1, "lev", "", A_READ);
	assert_int_equal(consent_scope_bits(&g), CONSENT_SCOPE_ALL);
	g.scope = s;
	g.n_scope = 5;
	assert_int_equal(consent_scope_bits(&g),
	    CONSENT_DOMAIN_BIT(1) | CONSENT_DOMAIN_BIT(13));
	assert_int_equal(consent_scope_bits(NULL), 0);
	assert_int_equal(CONSENT_SCOPE_ALL, 0x3ffe);
}

/* ------------------------------------------------------- check_grant */

struct grant_case {
	const char	*name;
	void		(*mod)(EpGrant *);
	const char	*field;		/* NULL: accepted */
};

static char purpose_501[501 * 2 + 1];
static char purpose_500[500 * 2 + 1];
static char ref_129[130];
static char ref_128[129];
static char subject_65[66];
static char org_32[33];

static void
fill(char *buf, size_t n, const char *unit)
{
	size_t i, u = strlen(unit);

	for (i = 0; i < n; i++)
		memcpy(buf + i * u, unit, u);
	buf[n * u] = '\0';
}

static void m_none(EpGrant *g) { (void)g; }
static void m_org_empty(EpGrant *g) { g->grantee_org = ""; }
static void m_org_bad(EpGrant *g) { g->grantee_org = "le v"; }
static void m_org_long(EpGrant *g) { g->grantee_org = org_32; }
static void m_subject_bad(EpGrant *g) { g->grantee_subject = "a/b"; }
static void m_subject_long(EpGrant *g) { g->grantee_subject = subject_65; }
static void m_subject_ok(EpGrant *g) { g->grantee_subject = "pro-1"; }
static void m_access_none(EpGrant *g) { g->access = A_NONE; }
static void m_access_manage(EpGrant *g) { g->access = A_MANAGE; }
static void m_access_bad(EpGrant *g) { g->access = 9; }
static void m_access_contribute(EpGrant *g) { g->access = A_CONTRIBUTE; }

static Eenplan__V1__Domain sc_dup[] = { 3, 4, 3 };
static Eenplan__V1__Domain sc_zero[] = { 0 };
static Eenplan__V1__Domain sc_14[] = { 14 };
static Eenplan__V1__Domain sc_ok[] = { 1, 13 };
static void m_scope_dup(EpGrant *g) { g->scope = sc_dup; g->n_scope = 3; }
static void m_scope_zero(EpGrant *g) { g->scope = sc_zero; g->n_scope = 1; }
static void m_scope_14(EpGrant *g) { g->scope = sc_14; g->n_scope = 1; }
static void m_scope_ok(EpGrant *g) { g->scope = sc_ok; g->n_scope = 2; }
static void m_until_eq(EpGrant *g) { g->valid_from = NOW; g->valid_until = NOW; }
static void m_until_before(EpGrant *g)
{
	g->valid_from = NOW;
	g->valid_until = NOW - 1;
}
static void m_until_after(EpGrant *g)
{
	g->valid_from = NOW;
	g->valid_until = NOW + 1;
}
static void m_until_only(EpGrant *g) { g->valid_until = NOW; }
static void m_from_neg(EpGrant *g) { g->valid_from = -1; }
static void m_until_neg(EpGrant *g) { g->valid_until = -5; }
static void m_purpose_empty(EpGrant *g) { g->purpose = ""; }
static void m_purpose_long(EpGrant *g) { g->purpose = purpose_501; }
static void m_purpose_max(EpGrant *g) { g->purpose = purpose_500; }
static void m_purpose_utf8(EpGrant *g) { g->purpose = "zorg \xc3\x28"; }
static void m_purpose_ctl(EpGrant *g) { g->purpose = "zorg\x01"; }
static void m_form_empty(EpGrant *g) { g->form_reference = ""; }
static void m_form_long(EpGrant *g) { g->form_reference = ref_129; }
static void m_form_max(EpGrant *g) { g->form_reference = ref_128; }
static void m_form_utf8(EpGrant *g) { g->form_reference = "\xff"; }

static const struct grant_case grant_cases[] = {
	{ "valid", m_none, NULL },
	{ "org empty", m_org_empty, "grant.grantee_org" },
	{ "org bad char", m_org_bad, "grant.grantee_org" },
	{ "org 32 chars", m_org_long, "grant.grantee_org" },
	{ "subject bad char", m_subject_bad, "grant.grantee_subject" },
	{ "subject 65 chars", m_subject_long, "grant.grantee_subject" },
	{ "subject ok", m_subject_ok, NULL },
	{ "access none", m_access_none, "grant.access" },
	{ "access manage", m_access_manage, "grant.access" },
	{ "access 9", m_access_bad, "grant.access" },
	{ "access contribute", m_access_contribute, NULL },
	{ "scope duplicate", m_scope_dup, "grant.scope" },
	{ "scope 0", m_scope_zero, "grant.scope" },
	{ "scope 14", m_scope_14, "grant.scope" },
	{ "scope 1,13", m_scope_ok, NULL },
	{ "until == from", m_until_eq, "grant.valid_until" },
	{ "until < from", m_until_before, "grant.valid_until" },
	{ "until > from", m_until_after, NULL },
	{ "until only", m_until_only, NULL },
	{ "from negative", m_from_neg, "grant.valid_from" },
	{ "until negative", m_until_neg, "grant.valid_until" },
	{ "purpose empty", m_purpose_empty, "grant.purpose" },
	{ "purpose 501 chars", m_purpose_long, "grant.purpose" },
	{ "purpose 500 chars", m_purpose_max, NULL },
	{ "purpose bad UTF-8", m_purpose_utf8, "grant.purpose" },
	{ "purpose control char", m_purpose_ctl, "grant.purpose" },
	{ "form missing (regisseur)", m_form_empty, "grant.form_reference" },
	{ "form 129 chars", m_form_long, "grant.form_reference" },
	{ "form 128 chars", m_form_max, NULL },
	{ "form bad UTF-8", m_form_utf8, "grant.form_reference" },
};

static void
test_check_grant(void **state)
{
	struct consent_decision d;
	struct principal reg;
	char err[256];
	EpGrant g;
	size_t i, flen;
	int rc, bad = 0;

	(void)state;
	fill(purpose_501, 501, "\xc3\xa9");	/* é: 2 bytes, 1 character */
	fill(purpose_500, 500, "\xc3\xa9");
	fill(ref_129, 129, "r");
	fill(ref_128, 128, "r");
	fill(subject_65, 65, "s");
	fill(org_32, 32, "o");
	reg = who("gemeente", "regie-1", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	memset(&d, 0, sizeof(d));
	d.cd_access = A_MANAGE;
	d.cd_regisseur = 1;
	d.cd_scope = d.cd_write_scope = CONSENT_SCOPE_ALL;

	for (i = 0; i < sizeof(grant_cases) / sizeof(grant_cases[0]); i++) {
		grant_init(&g, 0, "lev", "", A_READ);
		g.purpose = "begeleiding bij schulden";
		g.form_reference = "FORM-2025-001";
		grant_cases[i].mod(&g);
		memset(err, 0, sizeof(err));
		rc = consent_check_grant(&reg, &d, &g, err, sizeof(err));
		if (grant_cases[i].field == NULL) {
			if (rc == 0)
				continue;
			print_message("check_grant %s: refused (%s)\n",
			    grant_cases[i].name, err);
			bad++;
			continue;
		}
		flen = strlen(grant_cases[i].field);
		if (rc == -1 && strncmp(err, grant_cases[i].field, flen) == 0 &&
		    err[flen] == ':')
			continue;
		print_message("check_grant %s: rc %d err \"%s\", want field %s\n",
		    grant_cases[i].name, rc, err, grant_cases[i].field);
		bad++;
	}
	assert_int_equal(bad, 0);
}

static void
test_check_grant_member(void **state)
{
	struct household hh;
	struct consent_decision d;
	struct principal m;
	char err[128];
	EpGrant g;

	(void)state;
	household_init(&hh, "gemeente", "regie-1",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	m = who("burgers", "p-anna", EENPLAN__V1__ROLE__ROLE_CLIENT);
	eval(&conf_on, &m, &hh.plan, NULL, 0, &d);
	assert_true(d.cd_member);
	grant_init(&g, 0, "lev", "", A_READ);
	/* the household itself needs no form */
	assert_int_equal(consent_check_grant(&m, &d, &g, err, sizeof(err)), 0);
	/* but manage is not the household's to give */
	g.access = A_MANAGE;
	assert_int_equal(consent_check_grant(&m, &d, &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "grant.access"));
	/* no decision: treated as on behalf */
	g.access = A_READ;
	assert_int_equal(consent_check_grant(&m, NULL, &g, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "grant.form_reference"));
	assert_int_equal(consent_check_grant(&m, &d, NULL, err, sizeof(err)),
	    -1);
	assert_int_equal(consent_check_grant(&m, &d, &g, NULL, 0), 0);
}

/* ------------------------------------------------- the rules moved here */

/*
 * The organisations of the tables below, each with what its [org] section
 * says. Expectations are written per case by hand, not derived from it.
 */
static const struct consent_org orgs[] = {
	{ "gemeente", 1u << ROLE_PRO | 1u << ROLE_SYS | 1u << ROLE_AUD, 1, 1 },
	{ "lev", 1u << ROLE_PRO | 1u << ROLE_SYS, 1, 0 },	/* no break-glass */
	{ "zorg", 1u << ROLE_PRO, 0, 1 },			/* no regie */
	{ "burgers", 1u << ROLE_CLIENT | 1u << ROLE_CARER, 0, 0 },
	{ "huisarts", 1u << ROLE_GP, 0, 0 },
};

static struct consent_conf
conf_orgs(void)
{
	struct consent_conf c = conf_on;

	c.cc_orgs = orgs;
	c.cc_norgs = sizeof(orgs) / sizeof(orgs[0]);
	c.cc_break_glass_pause = 3600LL * 1000000;
	return c;
}

static void
test_teams(void **state)
{
	struct consent_conf c = conf_orgs();
	struct household hh;
	struct consent_decision d;
	EpGrant g = EENPLAN__V1__GRANT__INIT, *gl[1] = { &g };
	struct principal bms = who("gemeente", "j-jansen", ROLE_PRO);
	struct principal wmo = who("gemeente", "a-devries", ROLE_PRO);
	struct principal levbms = who("lev", "s-bakker", ROLE_PRO);
	char err[200];

	(void)state;
	household_init(&hh, "gemeente", "reg", ROLE_PRO);
	snprintf(bms.pr_teams[0], sizeof(bms.pr_teams[0]), "noord");
	snprintf(bms.pr_teams[1], sizeof(bms.pr_teams[1]), "bms");
	bms.pr_nteams = 2;
	snprintf(wmo.pr_teams[0], sizeof(wmo.pr_teams[0]), "noord");
	wmo.pr_nteams = 1;
	snprintf(levbms.pr_teams[0], sizeof(levbms.pr_teams[0]), "bms");
	levbms.pr_nteams = 1;
	g.id = 1;
	g.grantee_org = "gemeente";
	g.grantee_team = "bms";
	g.access = A_READ;
	g.purpose = "schuldhulp";
	/* The team's member reads; a colleague outside it, and a person of
	   another org in a team of the same name, do not. */
	ev_plan(&c, &bms, &hh.plan, gl, 1, NOW, &d);
	assert_int_equal(d.cd_access, A_READ);
	ev_plan(&c, &wmo, &hh.plan, gl, 1, NOW, &d);
	assert_int_equal(d.cd_access, A_NONE);
	ev_plan(&c, &levbms, &hh.plan, gl, 1, NOW, &d);
	assert_int_equal(d.cd_access, A_NONE);
	/* A team grant naming a person too counts for nobody, and is refused. */
	g.grantee_subject = "j-jansen";
	ev_plan(&c, &bms, &hh.plan, gl, 1, NOW, &d);
	assert_int_equal(d.cd_access, A_NONE);
	assert_int_equal(consent_check_grant(&bms, &d, &g, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "grantee_team"));
	g.grantee_subject = "";
	g.grantee_team = "BMS!";
	assert_int_equal(consent_check_grant_request(&c, &g, NOW, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "grantee_team"));
	/* No one member renounces a team's grant: it is no one's own. */
	g.grantee_team = "bms";
	assert_false(consent_grant_is_own(&bms, &g));
}

static void
test_regie_targets(void **state)
{
	/* to_org, to_subject, the target's known role: ok, the role stored */
	static const struct {
		const char	*org, *sub;
		int		 known, ok, role;
	} cases[] = {
		{ "gemeente", "b-willems", ROLE_PRO, 1, ROLE_PRO },
		{ "lev", "s-bakker", ROLE_PRO, 1, ROLE_PRO },
		{ "gemeente", "nobody", 0, 0, 0 },		/* not known */
		{ "gemeente", "privacy", ROLE_AUD, 0, 0 },	/* auditor */
		{ "lev", "lev-crm", ROLE_SYS, 0, 0 },		/* system */
		{ "zorg", "j-smits", ROLE_PRO, 0, 0 },		/* no regie */
		{ "huisarts", "dr-p", ROLE_GP, 0, 0 },
		{ "nowhere", "x", ROLE_PRO, 0, 0 },		/* no such org */
		{ "burgers", "p-anna", 0, 1, ROLE_CLIENT },	/* self-regie */
		{ "burgers", "p-bram", ROLE_CLIENT, 1, ROLE_CLIENT },
		{ "burgers", "p-lisa", ROLE_CARER, 0, 0 },	/* no member */
		{ "burgers", "p-zoe", ROLE_CLIENT, 0, 0 },	/* no member */
	};
	struct consent_conf c = conf_orgs();
	struct consent_household ch;
	struct household hh;
	char err[256];
	size_t i;
	int role;

	(void)state;
	household_init(&hh, "gemeente", "reg", ROLE_PRO);
	consent_household_of_plan(&hh.plan, &ch);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (consent_regie_target_ok(&c, &ch, cases[i].org, cases[i].sub,
		    cases[i].known, &role, err, sizeof(err)) != cases[i].ok)
			fail_msg("regie to %s/%s (known as %d): expected %s (%s)",
			    cases[i].org, cases[i].sub, cases[i].known,
			    cases[i].ok ? "allowed" : "refused", err);
		if (cases[i].ok)
			assert_int_equal(role, cases[i].role);
		else
			assert_true(strncmp(err, "to_", 3) == 0);
	}
}

static EpGrant
bg_grant(const char *org, const char *sub, int64_t from, int64_t until,
    int64_t revoked)
{
	EpGrant g = EENPLAN__V1__GRANT__INIT;

	g.grantee_org = (char *)(uintptr_t)org;
	g.grantee_subject = (char *)(uintptr_t)sub;
	g.access = A_READ;
	g.break_glass = 1;
	g.valid_from = from;
	g.recorded_at = from;
	g.valid_until = until;
	g.revoked_at = revoked;
	return g;
}

static void
test_break_glass_limits(void **state)
{
	const int64_t H = 3600LL * 1000000, WIN = 4 * H;	/* pause: 1 h */
	struct consent_conf c = conf_orgs(), off = conf_orgs();
	struct principal gem = who("gemeente", "a-devries", ROLE_PRO);
	struct principal lev = who("lev", "s-bakker", ROLE_PRO);
	struct principal gp = who("huisarts", "dr-p", ROLE_GP);
	struct consent_decision none, reads;
	EpGrant own_recent, own_old, other, own_revoked;
	EpGrant *rec[1];
	char err[256];
	int code;

	(void)state;
	off.cc_break_glass = 0;
	memset(&none, 0, sizeof(none));
	memset(&reads, 0, sizeof(reads));
	reads.cd_access = A_READ;
	reads.cd_scope = CONSENT_SCOPE_ALL;
	/* Ended 30 min ago: within the pause. Ended 2 h ago: past it. */
	own_recent = bg_grant("gemeente", "a-devries", NOW - WIN - H / 2,
	    NOW - H / 2, 0);
	own_old = bg_grant("gemeente", "a-devries", NOW - WIN - 2 * H,
	    NOW - 2 * H, 0);
	other = bg_grant("gemeente", "b-willems", NOW - WIN, NOW - 1, 0);
	/* Switched off early (revoked) 2 h ago though meant to last longer. */
	own_revoked = bg_grant("gemeente", "a-devries", NOW - 3 * H, NOW + H,
	    NOW - 2 * H);

	assert_true(consent_break_glass_ok(&c, &gem, &none, NULL, 0, NOW,
	    &code, err, sizeof(err)));
	assert_false(consent_break_glass_ok(&off, &gem, &none, NULL, 0, NOW,
	    &code, err, sizeof(err)));
	assert_int_equal(code, EENPLAN__V1__CODE__PERMISSION_DENIED);
	/* lev's professionals may not (break_glass off for lev). */
	assert_false(consent_break_glass_ok(&c, &lev, &none, NULL, 0, NOW,
	    &code, err, sizeof(err)));
	assert_int_equal(code, EENPLAN__V1__CODE__PERMISSION_DENIED);
	assert_non_null(strstr(err, "organisation"));
	assert_false(consent_break_glass_ok(&c, &gp, &none, NULL, 0, NOW,
	    &code, err, sizeof(err)));
	/* Already reading: no emergency needed. */
	assert_false(consent_break_glass_ok(&c, &gem, &reads, NULL, 0, NOW,
	    &code, err, sizeof(err)));
	assert_int_equal(code, EENPLAN__V1__CODE__FAILED_PRECONDITION);
	/* The pause, for the same person only. */
	rec[0] = &own_recent;
	assert_false(consent_break_glass_ok(&c, &gem, &none, rec, 1, NOW,
	    &code, err, sizeof(err)));
	assert_int_equal(code, EENPLAN__V1__CODE__FAILED_PRECONDITION);
	assert_non_null(strstr(err, "break_glass_pause"));
	rec[0] = &own_old;
	assert_true(consent_break_glass_ok(&c, &gem, &none, rec, 1, NOW,
	    &code, err, sizeof(err)));
	rec[0] = &other;
	assert_true(consent_break_glass_ok(&c, &gem, &none, rec, 1, NOW,
	    &code, err, sizeof(err)));
	rec[0] = &own_revoked;
	assert_true(consent_break_glass_ok(&c, &gem, &none, rec, 1, NOW,
	    &code, err, sizeof(err)));
}

static void
test_revoke_how(void **state)
{
	struct consent_conf c = conf_orgs();
	struct household hh;
	struct consent_decision d;
	EpGrant person = EENPLAN__V1__GRANT__INIT, orgw = EENPLAN__V1__GRANT__INIT;
	EpGrant team = EENPLAN__V1__GRANT__INIT, regie = EENPLAN__V1__GRANT__INIT;
	EpGrant *all[4] = { &person, &orgw, &team, &regie };
	struct principal anna = who("burgers", "p-anna", ROLE_CLIENT);
	struct principal reg = who("gemeente", "reg", ROLE_PRO);
	struct principal bakker = who("lev", "s-bakker", ROLE_PRO);
	struct principal crm = who("lev", "lev-crm", ROLE_SYS);
	struct principal stranger = who("zorg", "j-smits", ROLE_PRO);
	/*
	 * Who revokes which grant, and how (H: household, B: on behalf,
	 * R: renounce, T: the regisseur's own, must transfer, -: refused).
	 */
	static const char *const expect[5] = {
		/* person orgw team regie */
		"HHHH",		/* anna, a member */
		"BBBT",		/* the regisseur */
		"R---",		/* s-bakker, the person granted */
		"-R--",		/* lev-crm, lev's system */
		"----",		/* a stranger */
	};
	const struct principal *who5[5] = { &anna, &reg, &bakker, &crm,
	    &stranger };
	const EpGrant *grants[4] = { &person, &orgw, &team, &regie };
	static const char code[] = { '-', 'H', 'B', 'R', 'T' };
	size_t i, j;
	int how;

	(void)state;
	household_init(&hh, "gemeente", "reg", ROLE_PRO);
	person.id = 1;
	person.grantee_org = "lev";
	person.grantee_subject = "s-bakker";
	person.access = A_READ;
	orgw.id = 2;
	orgw.grantee_org = "lev";
	orgw.access = A_CONTRIBUTE;
	team.id = 3;
	team.grantee_org = "lev";
	team.grantee_team = "schuldhulp";
	team.access = A_READ;
	regie.id = 4;
	regie.grantee_org = "gemeente";
	regie.grantee_subject = "reg";
	regie.access = A_MANAGE;
	for (i = 0; i < 5; i++) {
		ev_plan(&c, who5[i], &hh.plan, all, 4, NOW, &d);
		for (j = 0; j < 4; j++) {
			how = consent_revoke_how(&c, who5[i], &d, grants[j]);
			if (code[how] != expect[i][j])
				fail_msg("caller %zu, grant %zu: %c, expected %c",
				    i, j, code[how], expect[i][j]);
		}
	}
}

static void
test_audit_names_and_mutate(void **state)
{
	struct consent_decision d;
	struct principal anna = who("burgers", "p-anna", ROLE_CLIENT);
	struct principal pro = who("lev", "s-bakker", ROLE_PRO);
	struct principal gp = who("huisarts", "dr-p", ROLE_GP);

	(void)state;
	assert_true(consent_audit_name_shown("member", ROLE_CLIENT));
	assert_true(consent_audit_name_shown("regisseur", ROLE_PRO));
	assert_true(consent_audit_name_shown("", ROLE_GP));
	assert_false(consent_audit_name_shown("", ROLE_PRO));
	assert_false(consent_audit_name_shown("", ROLE_CLIENT));
	assert_false(consent_audit_name_shown(NULL, ROLE_SYS));
	assert_false(consent_audit_name_shown("boss", ROLE_PRO));
	/* Mutating at all: members, contributors, the regisseur; no reader. */
	memset(&d, 0, sizeof(d));
	d.cd_member = 1;
	d.cd_access = A_READ;
	assert_true(consent_may_mutate(&anna, &d));
	assert_false(consent_may_mutate(&pro, &d));	/* member flag, wrong role */
	memset(&d, 0, sizeof(d));
	d.cd_access = A_READ;
	assert_false(consent_may_mutate(&pro, &d));
	d.cd_access = A_CONTRIBUTE;
	assert_true(consent_may_mutate(&pro, &d));
	assert_false(consent_may_mutate(&gp, &d));	/* ceiling, hand-made */
	assert_true(consent_may_intake(&pro));
	assert_false(consent_may_intake(&gp));
	assert_false(consent_may_intake(&anna));
	assert_string_equal(consent_capacity(&pro, &d), "");
	d.cd_regisseur = 1;
	d.cd_access = A_MANAGE;
	assert_string_equal(consent_capacity(&pro, &d), "regisseur");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oracle_sane),
		cmocka_unit_test(test_decision_space),
		cmocka_unit_test(test_subject_grant),
		cmocka_unit_test(test_org_grant),
		cmocka_unit_test(test_citizens_org_wide),
		cmocka_unit_test(test_union),
		cmocka_unit_test(test_break_glass_grant),
		cmocka_unit_test(test_break_glass_op),
		cmocka_unit_test(test_renounce),
		cmocka_unit_test(test_manage_ceilings),
		cmocka_unit_test(test_manage_holder),
		cmocka_unit_test(test_validity_edges),
		cmocka_unit_test(test_decided_until),
		cmocka_unit_test(test_expired_at_now),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_allows_defends),
		cmocka_unit_test(test_highest_grant_and_bad_values),
		cmocka_unit_test(test_scope_bits),
		cmocka_unit_test(test_check_grant),
		cmocka_unit_test(test_check_grant_member),
		cmocka_unit_test(test_teams),
		cmocka_unit_test(test_regie_targets),
		cmocka_unit_test(test_break_glass_limits),
		cmocka_unit_test(test_revoke_how),
		cmocka_unit_test(test_audit_names_and_mutate),
	};

	return cmocka_run_group_tests_name("consent", tests, NULL, NULL);
}
