/*
 * test_plan: the plan model — plan_new, every field of every mutation
 * (limits counted in characters, not bytes), the goal and action state
 * machines, closed households, the item limit, "unchanged on failure"
 * (packed bytes before == after), and the scope filters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wire.h"
#include "principal.h"
#include "consent.h"
#include "plan.h"

#define NOW		((int64_t)1750000000000000)
#define HHID		"0123456789abcdef0123456789abcdef"

#define C_OK		EENPLAN__V1__CODE__OK
#define C_INVALID	EENPLAN__V1__CODE__INVALID_ARGUMENT
#define C_NOT_FOUND	EENPLAN__V1__CODE__NOT_FOUND
#define C_EXISTS	EENPLAN__V1__CODE__ALREADY_EXISTS
#define C_PRECOND	EENPLAN__V1__CODE__FAILED_PRECONDITION
#define C_EXHAUSTED	EENPLAN__V1__CODE__RESOURCE_EXHAUSTED

#define OP_ADD_GOAL	EENPLAN__V1__MUTATION__OP_ADD_GOAL
#define OP_SET_GOAL	EENPLAN__V1__MUTATION__OP_SET_GOAL_STATUS
#define OP_ADD_ACTION	EENPLAN__V1__MUTATION__OP_ADD_ACTION
#define OP_SET_ACTION	EENPLAN__V1__MUTATION__OP_SET_ACTION_STATUS
#define OP_ADD_NOTE	EENPLAN__V1__MUTATION__OP_ADD_NOTE
#define OP_ADD_ASSESS	EENPLAN__V1__MUTATION__OP_ADD_ASSESSMENT
#define OP_SET_TARGET	EENPLAN__V1__MUTATION__OP_SET_TARGET_SCORE
#define OP_ADD_MEMBER	EENPLAN__V1__MUTATION__OP_ADD_MEMBER

#define G_OPEN		EENPLAN__V1__GOAL_STATUS__GOAL_OPEN
#define G_ACHIEVED	EENPLAN__V1__GOAL_STATUS__GOAL_ACHIEVED
#define G_DROPPED	EENPLAN__V1__GOAL_STATUS__GOAL_DROPPED

#define A_PROPOSED	EENPLAN__V1__ACTION_STATUS__ACTION_PROPOSED
#define A_ACCEPTED	EENPLAN__V1__ACTION_STATUS__ACTION_ACCEPTED
#define A_IN_PROGRESS	EENPLAN__V1__ACTION_STATUS__ACTION_IN_PROGRESS
#define A_DONE		EENPLAN__V1__ACTION_STATUS__ACTION_DONE
#define A_CANCELLED	EENPLAN__V1__ACTION_STATUS__ACTION_CANCELLED

/* ------------------------------------------------------------ texts */

/* Texts at and over each limit, made of multi-byte characters. */
static char euro_2000[2000 * 3 + 1], euro_2001[2001 * 3 + 1];
static char euro_4000[4000 * 3 + 1], euro_4001[4001 * 3 + 1];
static char e_200[200 * 2 + 1], e_201[201 * 2 + 1];
static char e_64[64 * 2 + 1], e_65[65 * 2 + 1];
static char smile_128[128 * 4 + 1], smile_129[129 * 4 + 1];
static char id_64[65], id_65[66], org_31[32], org_32[33];

static void
fill(char *buf, size_t n, const char *unit)
{
	size_t i, u = strlen(unit);

	for (i = 0; i < n; i++)
		memcpy(buf + i * u, unit, u);
	buf[n * u] = '\0';
}

static int
texts_setup(void **state)
{
	(void)state;
	fill(euro_2000, 2000, "\xe2\x82\xac");		/* € */
	fill(euro_2001, 2001, "\xe2\x82\xac");
	fill(euro_4000, 4000, "\xe2\x82\xac");
	fill(euro_4001, 4001, "\xe2\x82\xac");
	fill(e_200, 200, "\xc3\xa9");			/* é */
	fill(e_201, 201, "\xc3\xa9");
	fill(e_64, 64, "\xc3\xa9");
	fill(e_65, 65, "\xc3\xa9");
	fill(smile_128, 128, "\xf0\x9f\x98\x80");	/* U+1F600 */
	fill(smile_129, 129, "\xf0\x9f\x98\x80");
	fill(id_64, 64, "a");
	fill(id_65, 65, "a");
	fill(org_31, 31, "o");
	fill(org_32, 32, "o");
	return 0;
}

/* ------------------------------------------------------------ fixtures */

static EpPrincipal regie, pro, member_anna;

static void
principals_init(void)
{
	eenplan__v1__principal__init(&regie);
	regie.org = "gemeente";
	regie.subject = "regie-1";
	regie.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	eenplan__v1__principal__init(&pro);
	pro.org = "lev";
	pro.subject = "pro-sanne";
	pro.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	eenplan__v1__principal__init(&member_anna);
	member_anna.org = "burgers";
	member_anna.subject = "p-anna";
	member_anna.role = EENPLAN__V1__ROLE__ROLE_CLIENT;
}

static void
member_set(EpMember *m, char *person_id, char *name, char *relation)
{
	eenplan__v1__member__init(m);
	m->person_id = person_id;
	m->name = name;
	m->relation = relation;
}

static EpPlan *
new_plan(void)
{
	EpMember m[2];
	EpMember *mp[2] = { &m[0], &m[1] };
	struct plan_error err;
	EpPlan *p = NULL;

	principals_init();
	member_set(&m[0], "p-anna", "Anna de Vries", "ouder");
	member_set(&m[1], "p-bram", "Bram de Vries", "kind");
	assert_int_equal(plan_new(&p, HHID, EENPLAN__V1__AREA__AREA_NOORD, mp,
	    2, &regie, "FORM-2025-001", NOW, &err), 0);
	assert_non_null(p);
	return p;
}

static uint8_t *
pack(const EpPlan *p, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(&p->base);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(&p->base, buf), *len);
	return buf;
}

static int
same_bytes(const EpPlan *a, const EpPlan *b)
{
	uint8_t *x, *y;
	size_t xl, yl;
	int same;

	x = pack(a, &xl);
	y = pack(b, &yl);
	same = xl == yl && memcmp(x, y, xl) == 0;
	free(x);
	free(y);
	return same;
}

/* A mutation with room for every kind of body. */
struct mbuf {
	EpMutation			m;
	Eenplan__V1__AddGoal		ag;
	Eenplan__V1__SetGoalStatus	sg;
	Eenplan__V1__AddAction		aa;
	Eenplan__V1__SetActionStatus	sa;
	Eenplan__V1__AddNote		an;
	Eenplan__V1__AddAssessment	as;
	Eenplan__V1__SetTargetScore	ts;
	Eenplan__V1__AddMember		am;
	EpMember			mem;
};

/* A valid mutation of kind op (goal 1 open, action 2, as made by base_plan). */
static EpMutation *
mbuf_valid(struct mbuf *b, int op)
{
	memset(b, 0, sizeof(*b));
	eenplan__v1__mutation__init(&b->m);
	b->m.op_case = op;
	switch (op) {
	case OP_ADD_GOAL:
		eenplan__v1__add_goal__init(&b->ag);
		b->ag.domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
		b->ag.text = "Schulden op orde";
		b->m.add_goal = &b->ag;
		break;
	case OP_SET_GOAL:
		eenplan__v1__set_goal_status__init(&b->sg);
		b->sg.goal_id = 1;
		b->sg.status = G_ACHIEVED;
		b->m.set_goal_status = &b->sg;
		break;
	case OP_ADD_ACTION:
		eenplan__v1__add_action__init(&b->aa);
		b->aa.goal_id = 1;
		b->aa.text = "Budgetcoach regelen";
		b->aa.owner_org = "lev";
		b->m.add_action = &b->aa;
		break;
	case OP_SET_ACTION:
		eenplan__v1__set_action_status__init(&b->sa);
		b->sa.action_id = 2;
		b->sa.status = A_ACCEPTED;
		b->m.set_action_status = &b->sa;
		break;
	case OP_ADD_NOTE:
		eenplan__v1__add_note__init(&b->an);
		b->an.domain = EENPLAN__V1__DOMAIN__DOMAIN_HUISVESTING;
		b->an.text = "Huisbezoek gedaan";
		b->m.add_note = &b->an;
		break;
	case OP_ADD_ASSESS:
		eenplan__v1__add_assessment__init(&b->as);
		b->as.domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
		b->as.score = 2;
		b->m.add_assessment = &b->as;
		break;
	case OP_SET_TARGET:
		eenplan__v1__set_target_score__init(&b->ts);
		b->ts.domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
		b->ts.score = 4;
		b->m.set_target_score = &b->ts;
		break;
	case OP_ADD_MEMBER:
		eenplan__v1__add_member__init(&b->am);
		member_set(&b->mem, "p-cees", "Cees de Vries", "partner");
		b->am.member = &b->mem;
		b->m.add_member = &b->am;
		break;
	default:
		break;
	}
	return &b->m;
}

static uint32_t
apply_ok(EpPlan *p, const EpMutation *m)
{
	struct plan_error err;
	uint32_t id = 99999;

	memset(&err, 0, sizeof(err));
	if (plan_apply(p, m, &regie, NOW, &id, &err) != 0)
		fail_msg("apply refused: %d %s: %s", err.pe_code, err.pe_field,
		    err.pe_msg);
	return id;
}

/* Applies m expecting a refusal; returns 0 when code, field and "unchanged" hold. */
static int
apply_refused(EpPlan *p, const EpMutation *m, int code, const char *field,
    const char *what)
{
	struct plan_error err;
	EpPlan *before;
	uint32_t id = 12345;
	int rc, bad = 0;

	before = plan_dup(p);
	assert_non_null(before);
	memset(&err, 0, sizeof(err));
	rc = plan_apply(p, m, &pro, NOW + 777, &id, &err);
	if (rc != -1 || err.pe_code != code || strcmp(err.pe_field, field) != 0) {
		print_message("%s: rc %d code %d field \"%s\" (%s); want code %d "
		    "field \"%s\"\n", what, rc, err.pe_code, err.pe_field,
		    err.pe_msg, code, field);
		bad = 1;
	} else if (!same_bytes(before, p)) {
		print_message("%s: plan changed by a refused mutation\n", what);
		bad = 1;
	} else if (id != 0) {
		print_message("%s: created_id %u after a refusal\n", what, id);
		bad = 1;
	}
	plan_free(before);
	return bad;
}

/* Goal 1 (financien, open), action 2 (on goal 1, lev), goal 3 (dropped). */
static EpPlan *
base_plan(void)
{
	struct mbuf b;
	EpPlan *p;

	p = new_plan();
	assert_int_equal(apply_ok(p, mbuf_valid(&b, OP_ADD_GOAL)), 1);
	assert_int_equal(apply_ok(p, mbuf_valid(&b, OP_ADD_ACTION)), 2);
	mbuf_valid(&b, OP_ADD_GOAL);
	b.ag.domain = EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE;
	assert_int_equal(apply_ok(p, &b.m), 3);
	mbuf_valid(&b, OP_SET_GOAL);
	b.sg.goal_id = 3;
	b.sg.status = G_DROPPED;
	apply_ok(p, &b.m);
	return p;
}

/* ------------------------------------------------------------ plan_new */

static void
test_plan_new_ok(void **state)
{
	EpPlan *p;

	(void)state;
	p = new_plan();
	assert_string_equal(p->household_id, HHID);
	assert_int_equal(p->version, 1);
	assert_int_equal(p->area, EENPLAN__V1__AREA__AREA_NOORD);
	assert_int_equal(p->status,
	    EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ACTIVE);
	assert_int_equal(p->n_members, 2);
	assert_string_equal(p->members[1]->person_id, "p-bram");
	assert_string_equal(p->members[1]->relation, "kind");
	assert_non_null(p->regisseur);
	assert_string_equal(p->regisseur->org, "gemeente");
	assert_string_equal(p->regisseur->subject, "regie-1");
	assert_ptr_not_equal(p->regisseur->org, regie.org);	/* a copy */
	assert_string_equal(p->intake_reference, "FORM-2025-001");
	assert_int_equal(p->created_at, NOW);
	assert_int_equal(p->updated_at, NOW);
	assert_int_equal(p->next_item_id, 1);
	assert_int_equal(p->n_goals + p->n_actions + p->n_notes +
	    p->n_assessments + p->n_targets + p->n_escalations, 0);
	plan_free(p);
	plan_free(NULL);
}

struct new_case {
	const char	*name;
	const char	*hhid;
	int		 area;
	size_t		 nmembers;	/* of the 17 prepared */
	int		 null_member;	/* members[1] = NULL */
	int		 null_array;
	char		*person1;	/* person_id of members[1] */
	char		*name0;
	char		*relation0;
	char		*ref;
	int		 no_creator;
	const char	*field;		/* NULL: accepted */
};

static const struct new_case new_cases[] = {
	{ "valid", HHID, 1, 2, 0, 0, NULL, NULL, NULL, NULL, 0, NULL },
	{ "area 5", HHID, 5, 2, 0, 0, NULL, NULL, NULL, NULL, 0, NULL },
	{ "16 members", HHID, 1, 16, 0, 0, NULL, NULL, NULL, NULL, 0, NULL },
	{ "household id upper", "0123456789ABCDEF0123456789abcdef", 1, 2, 0,
	    0, NULL, NULL, NULL, NULL, 0, "household_id" },
	{ "household id short", "0123456789abcdef0123456789abcde", 1, 2, 0,
	    0, NULL, NULL, NULL, NULL, 0, "household_id" },
	{ "household id null", NULL, 1, 2, 0, 0, NULL, NULL, NULL, NULL, 0,
	    "household_id" },
	{ "area 0", HHID, 0, 2, 0, 0, NULL, NULL, NULL, NULL, 0, "area" },
	{ "area 6", HHID, 6, 2, 0, 0, NULL, NULL, NULL, NULL, 0, "area" },
	{ "area -1", HHID, -1, 2, 0, 0, NULL, NULL, NULL, NULL, 0, "area" },
	{ "no members", HHID, 1, 0, 0, 0, NULL, NULL, NULL, NULL, 0,
	    "members" },
	{ "17 members", HHID, 1, 17, 0, 0, NULL, NULL, NULL, NULL, 0,
	    "members" },
	{ "null array", HHID, 1, 2, 0, 1, NULL, NULL, NULL, NULL, 0,
	    "members" },
	{ "null member", HHID, 1, 2, 1, 0, NULL, NULL, NULL, NULL, 0,
	    "members[1]" },
	{ "duplicate member", HHID, 1, 2, 0, 0, "p-0", NULL, NULL, NULL, 0,
	    "members[1].person_id" },
	{ "person_id empty", HHID, 1, 2, 0, 0, "", NULL, NULL, NULL, 0,
	    "members[1].person_id" },
	{ "person_id space", HHID, 1, 2, 0, 0, "p 1", NULL, NULL, NULL, 0,
	    "members[1].person_id" },
	{ "person_id 65", HHID, 1, 2, 0, 0, id_65, NULL, NULL, NULL, 0,
	    "members[1].person_id" },
	{ "person_id 64", HHID, 1, 2, 0, 0, id_64, NULL, NULL, NULL, 0, NULL },
	{ "name empty", HHID, 1, 2, 0, 0, NULL, "", NULL, NULL, 0,
	    "members[0].name" },
	{ "name 201 chars", HHID, 1, 2, 0, 0, NULL, e_201, NULL, NULL, 0,
	    "members[0].name" },
	{ "name 200 chars", HHID, 1, 2, 0, 0, NULL, e_200, NULL, NULL, 0,
	    NULL },
	{ "name bad UTF-8", HHID, 1, 2, 0, 0, NULL, "Ann\xe9", NULL, NULL, 0,
	    "members[0].name" },
	{ "relation 65 chars", HHID, 1, 2, 0, 0, NULL, NULL, e_65, NULL, 0,
	    "members[0].relation" },
	{ "relation 64 chars", HHID, 1, 2, 0, 0, NULL, NULL, e_64, NULL, 0,
	    NULL },
	{ "relation empty", HHID, 1, 2, 0, 0, NULL, NULL, "", NULL, 0, NULL },
	{ "reference empty", HHID, 1, 2, 0, 0, NULL, NULL, NULL, "", 0,
	    "consent_reference" },
	{ "reference 129", HHID, 1, 2, 0, 0, NULL, NULL, NULL, smile_129, 0,
	    "consent_reference" },
	{ "reference 128", HHID, 1, 2, 0, 0, NULL, NULL, NULL, smile_128, 0,
	    NULL },
	{ "reference bad UTF-8", HHID, 1, 2, 0, 0, NULL, NULL, NULL,
	    "F\xc0\xaf", 0, "consent_reference" },
	{ "no creator", HHID, 1, 2, 0, 0, NULL, NULL, NULL, NULL, 1,
	    "creator" },
};

static void
test_plan_new_validation(void **state)
{
	char ids[17][8];
	EpMember m[17];
	EpMember *mp[17];
	struct plan_error err;
	const struct new_case *c;
	EpPlan *p;
	size_t i, k;
	int rc, bad = 0;

	(void)state;
	principals_init();
	for (i = 0; i < sizeof(new_cases) / sizeof(new_cases[0]); i++) {
		c = &new_cases[i];
		for (k = 0; k < 17; k++) {
			snprintf(ids[k], sizeof(ids[k]), "p-%zu", k);
			member_set(&m[k], ids[k], "Naam", "");
			mp[k] = &m[k];
		}
		if (c->person1 != NULL)
			m[1].person_id = c->person1;
		if (c->name0 != NULL)
			m[0].name = c->name0;
		if (c->relation0 != NULL)
			m[0].relation = c->relation0;
		if (c->null_member)
			mp[1] = NULL;
		p = (EpPlan *)&err;	/* must be reset to NULL on failure */
		memset(&err, 0, sizeof(err));
		rc = plan_new(&p, c->hhid, c->area, c->null_array ? NULL : mp,
		    c->nmembers, c->no_creator ? NULL : &regie,
		    c->ref != NULL ? c->ref : "FORM-1", NOW, &err);
		if (c->field == NULL) {
			if (rc != 0 || p == NULL) {
				print_message("plan_new %s: refused: %s %s\n",
				    c->name, err.pe_field, err.pe_msg);
				bad++;
			}
			plan_free(p);
			continue;
		}
		if (rc != -1 || p != NULL || err.pe_code != C_INVALID ||
		    strcmp(err.pe_field, c->field) != 0) {
			print_message("plan_new %s: rc %d code %d field \"%s\"; "
			    "want field \"%s\"\n", c->name, rc, err.pe_code,
			    err.pe_field, c->field);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------ validation */

enum fld { F_DOMAIN, F_TEXT, F_DATE, F_ID, F_STATUS, F_SCORE, F_OWNER_ORG,
    F_OWNER_SUBJECT, F_REMARK, F_PERSON_ID, F_NAME, F_RELATION, F_NO_MEMBER,
    F_NO_BODY, F_OP };

struct vcase {
	const char	*name;
	int		 op;
	enum fld	 f;
	long		 i;		/* integer value */
	char		*s;		/* text value */
	int		 code;		/* C_OK: accepted */
	const char	*field;
};

static const struct vcase vcases[] = {
	/* add_goal */
	{ "goal domain 0", OP_ADD_GOAL, F_DOMAIN, 0, NULL, C_INVALID,
	    "add_goal.domain" },
	{ "goal domain 14", OP_ADD_GOAL, F_DOMAIN, 14, NULL, C_INVALID,
	    "add_goal.domain" },
	{ "goal domain -1", OP_ADD_GOAL, F_DOMAIN, -1, NULL, C_INVALID,
	    "add_goal.domain" },
	{ "goal domain 13", OP_ADD_GOAL, F_DOMAIN, 13, NULL, C_OK, NULL },
	{ "goal text empty", OP_ADD_GOAL, F_TEXT, 0, "", C_INVALID,
	    "add_goal.text" },
	{ "goal text 2001", OP_ADD_GOAL, F_TEXT, 0, euro_2001, C_INVALID,
	    "add_goal.text" },
	{ "goal text 2000", OP_ADD_GOAL, F_TEXT, 0, euro_2000, C_OK, NULL },
	{ "goal text truncated UTF-8", OP_ADD_GOAL, F_TEXT, 0, "Doel \xe2\x82",
	    C_INVALID, "add_goal.text" },
	{ "goal text overlong UTF-8", OP_ADD_GOAL, F_TEXT, 0, "\xc0\xaf",
	    C_INVALID, "add_goal.text" },
	{ "goal text surrogate", OP_ADD_GOAL, F_TEXT, 0, "\xed\xa0\x80",
	    C_INVALID, "add_goal.text" },
	{ "goal text control", OP_ADD_GOAL, F_TEXT, 0, "a\x1b[2J", C_INVALID,
	    "add_goal.text" },
	{ "goal text newline", OP_ADD_GOAL, F_TEXT, 0, "a\nb\tc", C_OK, NULL },
	{ "goal date 2026-02-30", OP_ADD_GOAL, F_DATE, 0, "2026-02-30",
	    C_INVALID, "add_goal.target_date" },
	{ "goal date 2027-02-29", OP_ADD_GOAL, F_DATE, 0, "2027-02-29",
	    C_INVALID, "add_goal.target_date" },
	{ "goal date 2026-13-01", OP_ADD_GOAL, F_DATE, 0, "2026-13-01",
	    C_INVALID, "add_goal.target_date" },
	{ "goal date slashes", OP_ADD_GOAL, F_DATE, 0, "2026/01/01",
	    C_INVALID, "add_goal.target_date" },
	{ "goal date short", OP_ADD_GOAL, F_DATE, 0, "2026-1-1", C_INVALID,
	    "add_goal.target_date" },
	{ "goal date trailing", OP_ADD_GOAL, F_DATE, 0, "2026-01-01x",
	    C_INVALID, "add_goal.target_date" },
	{ "goal date 2028-02-29", OP_ADD_GOAL, F_DATE, 0, "2028-02-29", C_OK,
	    NULL },
	{ "goal date empty", OP_ADD_GOAL, F_DATE, 0, "", C_OK, NULL },

	/* set_goal_status */
	{ "goal id 0", OP_SET_GOAL, F_ID, 0, NULL, C_INVALID,
	    "set_goal_status.goal_id" },
	{ "goal id unknown", OP_SET_GOAL, F_ID, 999, NULL, C_NOT_FOUND,
	    "set_goal_status.goal_id" },
	{ "goal id is an action", OP_SET_GOAL, F_ID, 2, NULL, C_NOT_FOUND,
	    "set_goal_status.goal_id" },
	{ "goal status 0", OP_SET_GOAL, F_STATUS, 0, NULL, C_INVALID,
	    "set_goal_status.status" },
	{ "goal status 4", OP_SET_GOAL, F_STATUS, 4, NULL, C_INVALID,
	    "set_goal_status.status" },
	{ "goal status open (same)", OP_SET_GOAL, F_STATUS, G_OPEN, NULL,
	    C_PRECOND, "set_goal_status.status" },
	{ "goal status dropped", OP_SET_GOAL, F_STATUS, G_DROPPED, NULL, C_OK,
	    NULL },

	/* add_action */
	{ "action goal 0", OP_ADD_ACTION, F_ID, 0, NULL, C_INVALID,
	    "add_action.goal_id" },
	{ "action goal unknown", OP_ADD_ACTION, F_ID, 77, NULL, C_NOT_FOUND,
	    "add_action.goal_id" },
	{ "action goal dropped", OP_ADD_ACTION, F_ID, 3, NULL, C_PRECOND,
	    "add_action.goal_id" },
	{ "action text empty", OP_ADD_ACTION, F_TEXT, 0, "", C_INVALID,
	    "add_action.text" },
	{ "action text 2001", OP_ADD_ACTION, F_TEXT, 0, euro_2001, C_INVALID,
	    "add_action.text" },
	{ "action text 2000", OP_ADD_ACTION, F_TEXT, 0, euro_2000, C_OK, NULL },
	{ "action text bad UTF-8", OP_ADD_ACTION, F_TEXT, 0, "\xff", C_INVALID,
	    "add_action.text" },
	{ "action owner empty", OP_ADD_ACTION, F_OWNER_ORG, 0, "", C_INVALID,
	    "add_action.owner_org" },
	{ "action owner space", OP_ADD_ACTION, F_OWNER_ORG, 0, "le v",
	    C_INVALID, "add_action.owner_org" },
	{ "action owner 32", OP_ADD_ACTION, F_OWNER_ORG, 0, org_32, C_INVALID,
	    "add_action.owner_org" },
	{ "action owner 31", OP_ADD_ACTION, F_OWNER_ORG, 0, org_31, C_OK,
	    NULL },
	{ "action owner UTF-8", OP_ADD_ACTION, F_OWNER_ORG, 0, "l\xc3\xa9v",
	    C_INVALID, "add_action.owner_org" },
	{ "action subject slash", OP_ADD_ACTION, F_OWNER_SUBJECT, 0, "a/b",
	    C_INVALID, "add_action.owner_subject" },
	{ "action subject 65", OP_ADD_ACTION, F_OWNER_SUBJECT, 0, id_65,
	    C_INVALID, "add_action.owner_subject" },
	{ "action subject 64", OP_ADD_ACTION, F_OWNER_SUBJECT, 0, id_64, C_OK,
	    NULL },
	{ "action due 2026-02-30", OP_ADD_ACTION, F_DATE, 0, "2026-02-30",
	    C_INVALID, "add_action.due_date" },
	{ "action due 2026-00-10", OP_ADD_ACTION, F_DATE, 0, "2026-00-10",
	    C_INVALID, "add_action.due_date" },
	{ "action due 2026-12-31", OP_ADD_ACTION, F_DATE, 0, "2026-12-31",
	    C_OK, NULL },

	/* set_action_status */
	{ "action id 0", OP_SET_ACTION, F_ID, 0, NULL, C_INVALID,
	    "set_action_status.action_id" },
	{ "action id unknown", OP_SET_ACTION, F_ID, 555, NULL, C_NOT_FOUND,
	    "set_action_status.action_id" },
	{ "action id is a goal", OP_SET_ACTION, F_ID, 1, NULL, C_NOT_FOUND,
	    "set_action_status.action_id" },
	{ "action status 0", OP_SET_ACTION, F_STATUS, 0, NULL, C_INVALID,
	    "set_action_status.status" },
	{ "action status 6", OP_SET_ACTION, F_STATUS, 6, NULL, C_INVALID,
	    "set_action_status.status" },
	{ "action status -3", OP_SET_ACTION, F_STATUS, -3, NULL, C_INVALID,
	    "set_action_status.status" },

	/* add_note */
	{ "note domain 0", OP_ADD_NOTE, F_DOMAIN, 0, NULL, C_INVALID,
	    "add_note.domain" },
	{ "note domain 14", OP_ADD_NOTE, F_DOMAIN, 14, NULL, C_INVALID,
	    "add_note.domain" },
	{ "note domain 1", OP_ADD_NOTE, F_DOMAIN, 1, NULL, C_OK, NULL },
	{ "note text empty", OP_ADD_NOTE, F_TEXT, 0, "", C_INVALID,
	    "add_note.text" },
	{ "note text 4001", OP_ADD_NOTE, F_TEXT, 0, euro_4001, C_INVALID,
	    "add_note.text" },
	{ "note text 4000", OP_ADD_NOTE, F_TEXT, 0, euro_4000, C_OK, NULL },
	{ "note text bad UTF-8", OP_ADD_NOTE, F_TEXT, 0, "ok \xf5\x80\x80\x80",
	    C_INVALID, "add_note.text" },
	{ "note text DEL", OP_ADD_NOTE, F_TEXT, 0, "a\x7f", C_INVALID,
	    "add_note.text" },

	/* add_assessment */
	{ "assessment domain 0", OP_ADD_ASSESS, F_DOMAIN, 0, NULL, C_INVALID,
	    "add_assessment.domain" },
	{ "assessment domain 14", OP_ADD_ASSESS, F_DOMAIN, 14, NULL, C_INVALID,
	    "add_assessment.domain" },
	{ "assessment score 0", OP_ADD_ASSESS, F_SCORE, 0, NULL, C_INVALID,
	    "add_assessment.score" },
	{ "assessment score 6", OP_ADD_ASSESS, F_SCORE, 6, NULL, C_INVALID,
	    "add_assessment.score" },
	{ "assessment score 1", OP_ADD_ASSESS, F_SCORE, 1, NULL, C_OK, NULL },
	{ "assessment score 5", OP_ADD_ASSESS, F_SCORE, 5, NULL, C_OK, NULL },
	{ "assessment remark 2001", OP_ADD_ASSESS, F_REMARK, 0, euro_2001,
	    C_INVALID, "add_assessment.remark" },
	{ "assessment remark 2000", OP_ADD_ASSESS, F_REMARK, 0, euro_2000,
	    C_OK, NULL },
	{ "assessment remark bad UTF-8", OP_ADD_ASSESS, F_REMARK, 0, "\x80",
	    C_INVALID, "add_assessment.remark" },
	{ "assessment remark empty", OP_ADD_ASSESS, F_REMARK, 0, "", C_OK,
	    NULL },

	/* set_target_score */
	{ "target domain 0", OP_SET_TARGET, F_DOMAIN, 0, NULL, C_INVALID,
	    "set_target_score.domain" },
	{ "target domain 14", OP_SET_TARGET, F_DOMAIN, 14, NULL, C_INVALID,
	    "set_target_score.domain" },
	{ "target score 0", OP_SET_TARGET, F_SCORE, 0, NULL, C_INVALID,
	    "set_target_score.score" },
	{ "target score 6", OP_SET_TARGET, F_SCORE, 6, NULL, C_INVALID,
	    "set_target_score.score" },
	{ "target score 5", OP_SET_TARGET, F_SCORE, 5, NULL, C_OK, NULL },

	/* add_member */
	{ "member missing", OP_ADD_MEMBER, F_NO_MEMBER, 0, NULL, C_INVALID,
	    "add_member.member" },
	{ "member person_id empty", OP_ADD_MEMBER, F_PERSON_ID, 0, "",
	    C_INVALID, "add_member.member.person_id" },
	{ "member person_id space", OP_ADD_MEMBER, F_PERSON_ID, 0, "p c",
	    C_INVALID, "add_member.member.person_id" },
	{ "member person_id 65", OP_ADD_MEMBER, F_PERSON_ID, 0, id_65,
	    C_INVALID, "add_member.member.person_id" },
	{ "member person_id 64", OP_ADD_MEMBER, F_PERSON_ID, 0, id_64, C_OK,
	    NULL },
	{ "member duplicate", OP_ADD_MEMBER, F_PERSON_ID, 0, "p-anna",
	    C_EXISTS, "add_member.member.person_id" },
	{ "member name empty", OP_ADD_MEMBER, F_NAME, 0, "", C_INVALID,
	    "add_member.member.name" },
	{ "member name 201", OP_ADD_MEMBER, F_NAME, 0, e_201, C_INVALID,
	    "add_member.member.name" },
	{ "member name 200", OP_ADD_MEMBER, F_NAME, 0, e_200, C_OK, NULL },
	{ "member name bad UTF-8", OP_ADD_MEMBER, F_NAME, 0, "\xc3", C_INVALID,
	    "add_member.member.name" },
	{ "member relation 65", OP_ADD_MEMBER, F_RELATION, 0, e_65, C_INVALID,
	    "add_member.member.relation" },
	{ "member relation 64", OP_ADD_MEMBER, F_RELATION, 0, e_64, C_OK,
	    NULL },
	{ "member relation bad UTF-8", OP_ADD_MEMBER, F_RELATION, 0, "\xe0\x80",
	    C_INVALID, "add_member.member.relation" },

	/* no body at all */
	{ "op not set", 0, F_OP, 0, NULL, C_INVALID, "op" },
	{ "op unknown", 42, F_OP, 0, NULL, C_INVALID, "op" },
	{ "add_goal without body", OP_ADD_GOAL, F_NO_BODY, 0, NULL, C_INVALID,
	    "op" },
	{ "add_member without body", OP_ADD_MEMBER, F_NO_BODY, 0, NULL,
	    C_INVALID, "op" },
};

static void
vcase_set_domain(struct mbuf *b, int d)
{
	b->ag.domain = d;
	b->an.domain = d;
	b->as.domain = d;
	b->ts.domain = d;
}

static void
vcase_set_text(struct mbuf *b, char *s)
{
	b->ag.text = s;
	b->aa.text = s;
	b->an.text = s;
}

static void
vcase_set_id(struct mbuf *b, uint32_t id)
{
	b->sg.goal_id = id;
	b->aa.goal_id = id;
	b->sa.action_id = id;
}

static void
vcase_set(struct mbuf *b, const struct vcase *c)
{
	switch (c->f) {
	case F_DOMAIN:
		vcase_set_domain(b, (int)c->i);
		break;
	case F_TEXT:
		vcase_set_text(b, c->s);
		break;
	case F_DATE:
		b->ag.target_date = c->s;
		b->aa.due_date = c->s;
		break;
	case F_ID:
		vcase_set_id(b, (uint32_t)c->i);
		break;
	case F_STATUS:
		b->sg.status = (int)c->i;
		b->sa.status = (int)c->i;
		break;
	case F_SCORE:
		b->as.score = (uint32_t)c->i;
		b->ts.score = (uint32_t)c->i;
		break;
	case F_OWNER_ORG:
		b->aa.owner_org = c->s;
		break;
	case F_OWNER_SUBJECT:
		b->aa.owner_subject = c->s;
		break;
	case F_REMARK:
		b->as.remark = c->s;
		break;
	case F_PERSON_ID:
		b->mem.person_id = c->s;
		break;
	case F_NAME:
		b->mem.name = c->s;
		break;
	case F_RELATION:
		b->mem.relation = c->s;
		break;
	case F_NO_MEMBER:
		b->am.member = NULL;
		break;
	case F_NO_BODY:
		b->m.add_goal = NULL;	/* the union: every body pointer */
		break;
	case F_OP:
	default:
		break;
	}
}

static void
test_mutation_validation(void **state)
{
	const struct vcase *c;
	struct mbuf b;
	EpPlan *p;
	size_t i, n = sizeof(vcases) / sizeof(vcases[0]);
	int bad = 0;

	(void)state;
	for (i = 0; i < n; i++) {
		c = &vcases[i];
		p = base_plan();
		mbuf_valid(&b, c->op);
		vcase_set(&b, c);
		if (c->code == C_OK) {
			struct plan_error err;
			uint32_t id;

			if (plan_apply(p, &b.m, &pro, NOW, &id, &err) != 0) {
				print_message("%s: refused: %s: %s\n", c->name,
				    err.pe_field, err.pe_msg);
				bad++;
			}
		} else
			bad += apply_refused(p, &b.m, c->code, c->field,
			    c->name);
		plan_free(p);
	}
	print_message("mutation validation: %zu cases, %d wrong\n", n, bad);
	assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------ applying */

static void
assert_principal(const EpPrincipal *got, const EpPrincipal *want)
{
	assert_non_null(got);
	assert_ptr_not_equal(got, want);
	assert_string_equal(got->org, want->org);
	assert_string_equal(got->subject, want->subject);
	assert_int_equal(got->role, want->role);
}

static void
test_apply_each(void **state)
{
	struct plan_error err;
	struct mbuf b;
	EpPlan *p;
	uint32_t id;

	(void)state;
	p = new_plan();

	mbuf_valid(&b, OP_ADD_GOAL);
	b.ag.target_date = "2026-06-30";
	assert_int_equal(plan_apply(p, &b.m, &pro, NOW + 1, &id, &err), 0);
	assert_int_equal(id, 1);
	assert_int_equal(p->n_goals, 1);
	assert_int_equal(p->goals[0]->id, 1);
	assert_int_equal(p->goals[0]->domain,
	    EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN);
	assert_string_equal(p->goals[0]->text, "Schulden op orde");
	assert_ptr_not_equal(p->goals[0]->text, b.ag.text);
	assert_string_equal(p->goals[0]->target_date, "2026-06-30");
	assert_int_equal(p->goals[0]->status, G_OPEN);
	assert_principal(p->goals[0]->created_by, &pro);
	assert_int_equal(p->goals[0]->created_at, NOW + 1);
	assert_int_equal(p->goals[0]->updated_at, NOW + 1);
	assert_int_equal(p->next_item_id, 2);
	assert_int_equal(p->version, 1);	/* the caller bumps it */
	assert_int_equal(p->updated_at, NOW + 1);
	assert_principal(p->updated_by, &pro);

	mbuf_valid(&b, OP_ADD_ACTION);
	b.aa.owner_subject = "pro-sanne";
	b.aa.due_date = "2026-03-01";
	assert_int_equal(plan_apply(p, &b.m, &regie, NOW + 2, &id, &err), 0);
	assert_int_equal(id, 2);
	assert_int_equal(p->n_actions, 1);
	assert_int_equal(p->actions[0]->goal_id, 1);
	assert_int_equal(p->actions[0]->domain,
	    EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN);	/* the goal's */
	assert_string_equal(p->actions[0]->owner_org, "lev");
	assert_string_equal(p->actions[0]->owner_subject, "pro-sanne");
	assert_string_equal(p->actions[0]->due_date, "2026-03-01");
	assert_int_equal(p->actions[0]->status, A_PROPOSED);
	assert_principal(p->actions[0]->created_by, &regie);
	assert_principal(p->actions[0]->updated_by, &regie);
	assert_int_equal(p->actions[0]->created_at, NOW + 2);

	mbuf_valid(&b, OP_SET_ACTION);
	assert_int_equal(plan_apply(p, &b.m, &pro, NOW + 3, &id, &err), 0);
	assert_int_equal(id, 0);
	assert_int_equal(p->actions[0]->status, A_ACCEPTED);
	assert_principal(p->actions[0]->updated_by, &pro);
	assert_int_equal(p->actions[0]->updated_at, NOW + 3);
	assert_int_equal(p->actions[0]->created_at, NOW + 2);

	mbuf_valid(&b, OP_ADD_NOTE);
	assert_int_equal(plan_apply(p, &b.m, &member_anna, NOW + 4, &id, &err),
	    0);
	assert_int_equal(id, 3);
	assert_int_equal(p->notes[0]->domain,
	    EENPLAN__V1__DOMAIN__DOMAIN_HUISVESTING);
	assert_string_equal(p->notes[0]->text, "Huisbezoek gedaan");
	assert_principal(p->notes[0]->by, &member_anna);
	assert_int_equal(p->notes[0]->at, NOW + 4);

	mbuf_valid(&b, OP_ADD_ASSESS);
	b.as.remark = "eerste meting";
	assert_int_equal(plan_apply(p, &b.m, &pro, NOW + 5, &id, &err), 0);
	assert_int_equal(id, 4);
	assert_int_equal(p->assessments[0]->score, 2);
	assert_string_equal(p->assessments[0]->remark, "eerste meting");
	assert_principal(p->assessments[0]->by, &pro);
	assert_int_equal(p->assessments[0]->at, NOW + 5);
	/* assessments are a history: a second one adds, not replaces */
	b.as.score = 3;
	assert_int_equal(plan_apply(p, &b.m, &pro, NOW + 6, &id, &err), 0);
	assert_int_equal(id, 5);
	assert_int_equal(p->n_assessments, 2);
	assert_int_equal(p->assessments[0]->score, 2);

	mbuf_valid(&b, OP_SET_TARGET);
	assert_int_equal(plan_apply(p, &b.m, &regie, NOW, &id, &err), 0);
	assert_int_equal(id, 0);
	assert_int_equal(p->n_targets, 1);
	assert_int_equal(p->targets[0]->score, 4);
	/* one target per domain: a new score replaces it */
	b.ts.score = 5;
	assert_int_equal(plan_apply(p, &b.m, &regie, NOW, &id, &err), 0);
	assert_int_equal(p->n_targets, 1);
	assert_int_equal(p->targets[0]->score, 5);
	b.ts.domain = EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE;
	assert_int_equal(plan_apply(p, &b.m, &regie, NOW, &id, &err), 0);
	assert_int_equal(p->n_targets, 2);

	mbuf_valid(&b, OP_ADD_MEMBER);
	assert_int_equal(plan_apply(p, &b.m, &regie, NOW, &id, &err), 0);
	assert_int_equal(id, 0);
	assert_int_equal(p->n_members, 3);
	assert_string_equal(p->members[2]->person_id, "p-cees");
	assert_string_equal(p->members[2]->relation, "partner");

	mbuf_valid(&b, OP_SET_GOAL);
	assert_int_equal(plan_apply(p, &b.m, &regie, NOW + 9, &id, &err), 0);
	assert_int_equal(p->goals[0]->status, G_ACHIEVED);
	assert_int_equal(p->goals[0]->updated_at, NOW + 9);

	assert_int_equal(p->next_item_id, 6);
	assert_int_equal(p->version, 1);
	/* NULL created_id is allowed */
	mbuf_valid(&b, OP_ADD_NOTE);
	assert_int_equal(plan_apply(p, &b.m, &regie, NOW, NULL, &err), 0);
	/* no plan, mutation or actor */
	assert_int_equal(plan_apply(NULL, &b.m, &regie, NOW, &id, &err), -1);
	assert_int_equal(plan_apply(p, NULL, &regie, NOW, &id, &err), -1);
	assert_int_equal(plan_apply(p, &b.m, NULL, NOW, &id, &err), -1);

	/* what survives a round trip through the wire */
	{
		EpPlan *d = plan_dup(p);

		assert_non_null(d);
		assert_true(same_bytes(d, p));
		plan_free(d);
	}
	plan_free(p);
}

/* ------------------------------------------------------------ state machines */

/* Expected outcome of moving an action from (row) to (column), 0..6. */
static const int action_moves[6][7] = {
	/*		unspec	   proposed   accepted	 in_prog    done       cancelled  6 */
	[A_PROPOSED] =	{ C_INVALID, C_PRECOND, C_OK,	 C_PRECOND, C_PRECOND, C_OK,	  C_INVALID },
	[A_ACCEPTED] =	{ C_INVALID, C_PRECOND, C_PRECOND, C_OK,    C_PRECOND, C_OK,	  C_INVALID },
	[A_IN_PROGRESS] = { C_INVALID, C_PRECOND, C_PRECOND, C_PRECOND, C_OK,  C_OK,	  C_INVALID },
	[A_DONE] =	{ C_INVALID, C_PRECOND, C_PRECOND, C_PRECOND, C_PRECOND, C_PRECOND, C_INVALID },
	[A_CANCELLED] =	{ C_INVALID, C_PRECOND, C_PRECOND, C_PRECOND, C_PRECOND, C_PRECOND, C_INVALID },
};

/* How to reach each status from proposed. */
static const int action_path[6][4] = {
	[A_PROPOSED] =	  { 0 },
	[A_ACCEPTED] =	  { A_ACCEPTED, 0 },
	[A_IN_PROGRESS] = { A_ACCEPTED, A_IN_PROGRESS, 0 },
	[A_DONE] =	  { A_ACCEPTED, A_IN_PROGRESS, A_DONE, 0 },
	[A_CANCELLED] =	  { A_CANCELLED, 0 },
};

static void
test_action_states(void **state)
{
	struct plan_error err;
	struct mbuf b;
	EpPlan *p;
	int from, to, k, bad = 0;
	char what[64];

	(void)state;
	for (from = A_PROPOSED; from <= A_CANCELLED; from++) {
		for (to = 0; to <= 6; to++) {
			p = base_plan();
			mbuf_valid(&b, OP_SET_ACTION);
			for (k = 0; action_path[from][k] != 0; k++) {
				b.sa.status = action_path[from][k];
				apply_ok(p, &b.m);
			}
			assert_int_equal(p->actions[0]->status, from);
			b.sa.status = to;
			snprintf(what, sizeof(what), "action %s -> %d",
			    wire_action_status_name(from), to);
			if (action_moves[from][to] != C_OK) {
				bad += apply_refused(p, &b.m,
				    action_moves[from][to],
				    "set_action_status.status", what);
			} else if (plan_apply(p, &b.m, &pro, NOW + 50, NULL,
			    &err) != 0 || (int)p->actions[0]->status != to ||
			    p->actions[0]->updated_at != NOW + 50 ||
			    strcmp(p->actions[0]->updated_by->subject,
			    pro.subject) != 0) {
				print_message("%s: not applied\n", what);
				bad++;
			}
			plan_free(p);
		}
	}
	assert_int_equal(bad, 0);
}

static const int goal_moves[4][5] = {
	/*		unspec	   open	      achieved	 dropped    4 */
	[G_OPEN] =	{ C_INVALID, C_PRECOND, C_OK,	 C_OK,	    C_INVALID },
	[G_ACHIEVED] =	{ C_INVALID, C_OK,	C_PRECOND, C_PRECOND, C_INVALID },
	[G_DROPPED] =	{ C_INVALID, C_OK,	C_PRECOND, C_PRECOND, C_INVALID },
};

static void
test_goal_states(void **state)
{
	struct mbuf b;
	EpPlan *p;
	int from, to, bad = 0;
	char what[64];

	(void)state;
	for (from = G_OPEN; from <= G_DROPPED; from++) {
		for (to = 0; to <= 4; to++) {
			p = base_plan();
			mbuf_valid(&b, OP_SET_GOAL);
			if (from != G_OPEN) {
				b.sg.status = from;
				apply_ok(p, &b.m);
			}
			b.sg.status = to;
			snprintf(what, sizeof(what), "goal %s -> %d",
			    wire_goal_status_name(from), to);
			if (goal_moves[from][to] != C_OK)
				bad += apply_refused(p, &b.m, goal_moves[from][to],
				    "set_goal_status.status", what);
			else if (plan_apply(p, &b.m, &pro, NOW, NULL, NULL) != 0 ||
			    (int)p->goals[0]->status != to) {
				print_message("%s: not applied\n", what);
				bad++;
			}
			plan_free(p);
		}
	}
	assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------ household */

static const int all_ops[] = { OP_ADD_GOAL, OP_SET_GOAL, OP_ADD_ACTION,
    OP_SET_ACTION, OP_ADD_NOTE, OP_ADD_ASSESS, OP_SET_TARGET, OP_ADD_MEMBER };
static const char *all_op_names[] = { "add_goal", "set_goal_status",
    "add_action", "set_action_status", "add_note", "add_assessment",
    "set_target_score", "add_member" };
#define NALL_OPS	(sizeof(all_ops) / sizeof(all_ops[0]))

static void
test_closed(void **state)
{
	struct plan_error err;
	struct mbuf b;
	EpPrincipal to;
	EpPlan *p;
	size_t i;
	int bad = 0;

	(void)state;
	p = base_plan();
	/* every mutation is fine while the household is open */
	for (i = 0; i < NALL_OPS; i++) {
		EpPlan *q = plan_dup(p);

		assert_non_null(q);
		apply_ok(q, mbuf_valid(&b, all_ops[i]));
		plan_free(q);
	}
	assert_int_equal(plan_close(p, &regie, NOW + 10, &err), 0);
	assert_int_equal(p->status,
	    EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED);
	assert_int_equal(p->updated_at, NOW + 10);
	for (i = 0; i < NALL_OPS; i++)
		bad += apply_refused(p, mbuf_valid(&b, all_ops[i]), C_PRECOND,
		    all_op_names[i], all_op_names[i]);
	assert_int_equal(bad, 0);

	assert_int_equal(plan_close(p, &regie, NOW, &err), -1);
	assert_int_equal(err.pe_code, C_PRECOND);
	assert_int_equal(plan_escalate(p, "zorgen", &regie, NOW, &err), -1);
	assert_int_equal(err.pe_code, C_PRECOND);
	to = pro;
	assert_int_equal(plan_set_regisseur(p, &to, &regie, NOW, &err), -1);
	assert_int_equal(err.pe_code, C_PRECOND);
	plan_free(p);
}

static void
test_household_changes(void **state)
{
	struct plan_error err;
	EpPrincipal to;
	EpPlan *p, *before;

	(void)state;
	p = new_plan();
	before = plan_dup(p);

	assert_int_equal(plan_escalate(p, "", &regie, NOW, &err), -1);
	assert_int_equal(err.pe_code, C_INVALID);
	assert_string_equal(err.pe_field, "reason");
	assert_int_equal(plan_escalate(p, euro_2001, &regie, NOW, &err), -1);
	assert_int_equal(plan_escalate(p, "\xff", &regie, NOW, &err), -1);
	assert_true(same_bytes(before, p));
	assert_int_equal(plan_escalate(p, euro_2000, &regie, NOW + 1, &err), 0);
	assert_int_equal(p->status,
	    EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ESCALATED);
	assert_int_equal(p->n_escalations, 1);
	assert_int_equal(p->escalations[0]->at, NOW + 1);
	assert_principal(p->escalations[0]->by, &regie);
	assert_int_equal(plan_escalate(p, "opnieuw", &regie, NOW + 2, &err), 0);
	assert_int_equal(p->n_escalations, 2);

	plan_free(before);
	before = plan_dup(p);
	to = regie;
	assert_int_equal(plan_set_regisseur(p, &to, &regie, NOW, &err), -1);
	assert_int_equal(err.pe_code, C_PRECOND);
	to = pro;
	to.org = "le v";
	assert_int_equal(plan_set_regisseur(p, &to, &regie, NOW, &err), -1);
	assert_string_equal(err.pe_field, "to_org");
	to = pro;
	to.subject = "";
	assert_int_equal(plan_set_regisseur(p, &to, &regie, NOW, &err), -1);
	assert_string_equal(err.pe_field, "to_subject");
	assert_true(same_bytes(before, p));
	to = pro;
	assert_int_equal(plan_set_regisseur(p, &to, &regie, NOW + 3, &err), 0);
	assert_principal(p->regisseur, &pro);
	assert_int_equal(p->updated_at, NOW + 3);
	assert_int_equal(p->version, 1);
	plan_free(before);
	plan_free(p);
}

static void
test_items_limit(void **state)
{
	struct plan_error err;
	struct mbuf b;
	EpPlan *p;
	size_t items;
	int bad = 0;

	(void)state;
	p = base_plan();	/* 3 items */
	mbuf_valid(&b, OP_ADD_NOTE);
	b.an.text = "n";
	while (p->n_goals + p->n_actions + p->n_notes + p->n_assessments <
	    PLAN_ITEMS_MAX)
		apply_ok(p, &b.m);
	items = p->n_goals + p->n_actions + p->n_notes + p->n_assessments;
	assert_int_equal(items, PLAN_ITEMS_MAX);
	assert_int_equal(p->next_item_id, PLAN_ITEMS_MAX + 1);

	bad += apply_refused(p, mbuf_valid(&b, OP_ADD_NOTE), C_EXHAUSTED,
	    "add_note", "note over limit");
	bad += apply_refused(p, mbuf_valid(&b, OP_ADD_GOAL), C_EXHAUSTED,
	    "add_goal", "goal over limit");
	bad += apply_refused(p, mbuf_valid(&b, OP_ADD_ACTION), C_EXHAUSTED,
	    "add_action", "action over limit");
	bad += apply_refused(p, mbuf_valid(&b, OP_ADD_ASSESS), C_EXHAUSTED,
	    "add_assessment", "assessment over limit");
	/* a field error still wins over the limit */
	mbuf_valid(&b, OP_ADD_NOTE);
	b.an.text = "";
	bad += apply_refused(p, &b.m, C_INVALID, "add_note.text",
	    "bad note over limit");
	assert_int_equal(bad, 0);
	/* what adds no item still works */
	assert_int_equal(plan_apply(p, mbuf_valid(&b, OP_SET_TARGET), &regie,
	    NOW, NULL, &err), 0);
	assert_int_equal(plan_apply(p, mbuf_valid(&b, OP_SET_ACTION), &regie,
	    NOW, NULL, &err), 0);
	assert_int_equal(plan_apply(p, mbuf_valid(&b, OP_SET_GOAL), &regie,
	    NOW, NULL, &err), 0);
	assert_int_equal(plan_apply(p, mbuf_valid(&b, OP_ADD_MEMBER), &regie,
	    NOW, NULL, &err), 0);
	plan_free(p);
}

static void
test_members_limit(void **state)
{
	char ids[PLAN_MEMBERS_MAX + 1][8];
	struct mbuf b;
	EpPlan *p;
	size_t k;

	(void)state;
	p = new_plan();
	for (k = p->n_members; k < PLAN_MEMBERS_MAX; k++) {
		snprintf(ids[k], sizeof(ids[k]), "p-%zu", k);
		mbuf_valid(&b, OP_ADD_MEMBER);
		b.mem.person_id = ids[k];
		apply_ok(p, &b.m);
	}
	assert_int_equal(p->n_members, PLAN_MEMBERS_MAX);
	mbuf_valid(&b, OP_ADD_MEMBER);
	assert_int_equal(apply_refused(p, &b.m, C_EXHAUSTED, "add_member",
	    "17th member"), 0);
	/* a duplicate is reported as such even when full */
	b.mem.person_id = "p-anna";
	assert_int_equal(apply_refused(p, &b.m, C_EXISTS,
	    "add_member.member.person_id", "duplicate when full"), 0);
	plan_free(p);
}

/* ------------------------------------------------------------ targets */

static void
test_mutation_target(void **state)
{
	struct plan_error err;
	enum consent_op op;
	const char *owner;
	struct mbuf b;
	EpPlan *p;
	int d;

	(void)state;
	p = base_plan();

	mbuf_valid(&b, OP_ADD_GOAL);
	b.ag.domain = 7;
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    0);
	assert_int_equal(op, CONSENT_OP_ADD_GOAL);
	assert_int_equal(d, 7);
	assert_null(owner);

	mbuf_valid(&b, OP_SET_GOAL);
	b.sg.goal_id = 3;
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    0);
	assert_int_equal(op, CONSENT_OP_SET_GOAL_STATUS);
	assert_int_equal(d, EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE);

	mbuf_valid(&b, OP_ADD_ACTION);
	b.aa.owner_org = "senzer";
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    0);
	assert_int_equal(op, CONSENT_OP_ADD_ACTION);
	assert_int_equal(d, EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN);
	assert_string_equal(owner, "senzer");

	mbuf_valid(&b, OP_SET_ACTION);
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    0);
	assert_int_equal(op, CONSENT_OP_SET_ACTION_STATUS);
	assert_int_equal(d, EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN);
	assert_string_equal(owner, "lev");	/* the action's, not the caller's */

	mbuf_valid(&b, OP_ADD_NOTE);
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    0);
	assert_int_equal(op, CONSENT_OP_ADD_NOTE);
	assert_int_equal(d, EENPLAN__V1__DOMAIN__DOMAIN_HUISVESTING);
	assert_null(owner);

	mbuf_valid(&b, OP_ADD_ASSESS);
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    0);
	assert_int_equal(op, CONSENT_OP_ADD_ASSESSMENT);

	mbuf_valid(&b, OP_SET_TARGET);
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    0);
	assert_int_equal(op, CONSENT_OP_SET_TARGET);
	assert_int_equal(d, EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN);

	mbuf_valid(&b, OP_ADD_MEMBER);
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    0);
	assert_int_equal(op, CONSENT_OP_ADD_MEMBER);
	assert_int_equal(d, 0);
	assert_null(owner);

	/* refusals */
	mbuf_valid(&b, OP_SET_ACTION);
	b.sa.action_id = 404;
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    -1);
	assert_int_equal(err.pe_code, C_NOT_FOUND);
	assert_string_equal(err.pe_field, "set_action_status.action_id");
	mbuf_valid(&b, OP_ADD_ACTION);
	b.aa.goal_id = 404;
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    -1);
	assert_int_equal(err.pe_code, C_NOT_FOUND);
	mbuf_valid(&b, OP_SET_GOAL);
	b.sg.goal_id = 404;
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    -1);
	assert_int_equal(err.pe_code, C_NOT_FOUND);
	mbuf_valid(&b, OP_ADD_NOTE);
	b.an.domain = 0;
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    -1);
	assert_int_equal(err.pe_code, C_INVALID);
	assert_string_equal(err.pe_field, "add_note.domain");
	mbuf_valid(&b, 0);
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    -1);
	assert_int_equal(err.pe_code, C_INVALID);
	mbuf_valid(&b, OP_ADD_NOTE);
	b.m.add_note = NULL;
	assert_int_equal(plan_mutation_target(p, &b.m, &op, &d, &owner, &err),
	    -1);

	/* plan_mutation_domain */
	mbuf_valid(&b, OP_SET_GOAL);
	b.sg.goal_id = 3;
	assert_int_equal(plan_mutation_domain(p, &b.m),
	    EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE);
	b.sg.goal_id = 404;
	assert_int_equal(plan_mutation_domain(p, &b.m), 0);
	assert_int_equal(plan_mutation_domain(p, mbuf_valid(&b,
	    OP_ADD_MEMBER)), 0);
	assert_int_equal(plan_mutation_domain(p, mbuf_valid(&b, OP_ADD_NOTE)),
	    EENPLAN__V1__DOMAIN__DOMAIN_HUISVESTING);
	mbuf_valid(&b, OP_ADD_GOAL);
	b.ag.domain = 99;
	assert_int_equal(plan_mutation_domain(p, &b.m), 0);
	plan_free(p);
}

/* ------------------------------------------------------------ filters */

/* Applies a note/goal/assessment/target in domain d; returns the new id. */
static uint32_t
add_in(EpPlan *p, int op, int d)
{
	struct mbuf b;

	mbuf_valid(&b, op);
	vcase_set_domain(&b, d);
	return apply_ok(p, &b.m);
}

static uint32_t
add_action_to(EpPlan *p, uint32_t goal)
{
	struct mbuf b;

	mbuf_valid(&b, OP_ADD_ACTION);
	b.aa.goal_id = goal;
	return apply_ok(p, &b.m);
}

static int
ids_equal(const uint32_t *got, size_t ngot, const uint32_t *want, size_t nwant)
{
	size_t i;

	if (ngot != nwant)
		return 0;
	for (i = 0; i < ngot; i++)
		if (got[i] != want[i])
			return 0;
	return 1;
}

static void
test_filter(void **state)
{
	uint32_t g1, g6, g9, a1, a6, n2, n6, n13, s6, s9;
	uint32_t got[16], scope;
	struct plan_error err;
	EpPlan *p, *f, *before;
	size_t i;

	(void)state;
	p = new_plan();
	g1 = add_in(p, OP_ADD_GOAL, 1);
	g6 = add_in(p, OP_ADD_GOAL, 6);
	g9 = add_in(p, OP_ADD_GOAL, 9);
	a1 = add_action_to(p, g1);
	a6 = add_action_to(p, g6);
	n2 = add_in(p, OP_ADD_NOTE, 2);
	n6 = add_in(p, OP_ADD_NOTE, 6);
	n13 = add_in(p, OP_ADD_NOTE, 13);
	s6 = add_in(p, OP_ADD_ASSESS, 6);
	s9 = add_in(p, OP_ADD_ASSESS, 9);
	add_in(p, OP_SET_TARGET, 1);
	add_in(p, OP_SET_TARGET, 6);
	add_in(p, OP_SET_TARGET, 13);
	assert_int_equal(plan_escalate(p, "crisis", &regie, NOW, &err), 0);
	(void)g9; (void)a1; (void)n2; (void)s9;
	before = plan_dup(p);

	scope = CONSENT_DOMAIN_BIT(6) | CONSENT_DOMAIN_BIT(13);
	f = plan_filter(p, scope);
	assert_non_null(f);
	assert_true(same_bytes(before, p));	/* the original is untouched */
	assert_int_equal(f->n_goals, 1);
	assert_int_equal(f->goals[0]->id, g6);
	assert_int_equal(f->n_actions, 1);
	assert_int_equal(f->actions[0]->id, a6);
	for (i = 0; i < f->n_notes; i++)
		got[i] = f->notes[i]->id;
	assert_true(ids_equal(got, f->n_notes, (uint32_t[]){ n6, n13 }, 2));
	assert_int_equal(f->n_assessments, 1);
	assert_int_equal(f->assessments[0]->id, s6);
	assert_int_equal(f->n_targets, 2);
	assert_int_equal(f->targets[0]->domain, 6);
	assert_int_equal(f->targets[1]->domain, 13);
	/* what every reader sees stays */
	assert_int_equal(f->n_members, 2);
	assert_non_null(f->regisseur);
	assert_string_equal(f->regisseur->subject, "regie-1");
	assert_int_equal(f->n_escalations, 1);
	/* that it was escalated, by whom and when; not why (issue 10) */
	assert_string_equal(f->escalations[0]->reason, "");
	assert_int_equal(f->escalations[0]->at, NOW);
	assert_non_null(f->escalations[0]->by);
	assert_string_equal(p->escalations[0]->reason, "crisis");
	assert_string_equal(f->household_id, HHID);
	assert_int_equal(f->area, p->area);
	assert_int_equal(f->status, p->status);
	assert_int_equal(f->version, p->version);
	/* who changed it last and how many items it holds are not for a
	   scoped reader: they tell of work outside its scope */
	assert_non_null(p->updated_by);
	assert_true(p->next_item_id > 0);
	assert_null(f->updated_by);
	assert_int_equal(f->next_item_id, 0);
	plan_free(f);

	/* all domains: the same plan */
	f = plan_filter(p, CONSENT_SCOPE_ALL);
	assert_true(same_bytes(f, p));
	plan_free(f);

	/* no domain: no items */
	f = plan_filter(p, 0);
	assert_int_equal(f->n_goals + f->n_actions + f->n_notes +
	    f->n_assessments + f->n_targets, 0);
	assert_int_equal(f->n_members, 2);
	assert_int_equal(f->n_escalations, 1);
	plan_free(f);

	/* an item with a domain out of range is never shown */
	p->notes[0]->domain = 0;
	p->notes[1]->domain = 40;
	f = plan_filter(p, 0xffffffffu);
	assert_int_equal(f->n_notes, 1);
	assert_int_equal(f->notes[0]->id, n13);
	plan_free(f);

	assert_null(plan_filter(NULL, CONSENT_SCOPE_ALL));
	plan_free(before);
	plan_free(p);
}

static void
test_filter_history(void **state)
{
	Eenplan__V1__AddNote n2, n6;
	Eenplan__V1__AddGoal g9;
	Eenplan__V1__AddMember am;
	EpMember mem;
	EpMutation m[4];
	EpMutation *mp[4] = { &m[0], &m[1], &m[2], &m[3] };
	Eenplan__V1__Domain doms[4] = { 0, 2, 6, 9 };
	EpHistoryEntry e, *f;
	EpPrincipal actor;

	(void)state;
	for (int i = 0; i < 4; i++)
		eenplan__v1__mutation__init(&m[i]);
	eenplan__v1__add_member__init(&am);
	member_set(&mem, "p-cees", "Cees", "");
	am.member = &mem;
	m[0].op_case = OP_ADD_MEMBER;
	m[0].add_member = &am;
	eenplan__v1__add_note__init(&n2);
	n2.domain = 2;
	n2.text = "twee";
	m[1].op_case = OP_ADD_NOTE;
	m[1].add_note = &n2;
	eenplan__v1__add_note__init(&n6);
	n6.domain = 6;
	n6.text = "zes";
	m[2].op_case = OP_ADD_NOTE;
	m[2].add_note = &n6;
	eenplan__v1__add_goal__init(&g9);
	g9.domain = 9;
	g9.text = "negen";
	m[3].op_case = OP_ADD_GOAL;
	m[3].add_goal = &g9;
	eenplan__v1__principal__init(&actor);
	actor.org = "lev";
	actor.subject = "pro-sanne";
	eenplan__v1__history_entry__init(&e);
	e.version = 7;
	e.at = NOW;
	e.actor = &actor;
	e.kind = EENPLAN__V1__CHANGE_KIND__CHANGE_PLAN;
	e.mutations = mp;
	e.n_mutations = 4;
	e.mutation_domains = doms;
	e.n_mutation_domains = 4;
	e.detail = "d";

	f = plan_filter_history(&e, CONSENT_DOMAIN_BIT(2) |
	    CONSENT_DOMAIN_BIT(9));
	assert_non_null(f);
	assert_int_equal(f->n_mutations, 3);
	assert_int_equal(f->n_mutation_domains, 3);
	assert_int_equal(f->mutations[0]->op_case, OP_ADD_MEMBER);
	assert_string_equal(f->mutations[1]->add_note->text, "twee");
	assert_string_equal(f->mutations[2]->add_goal->text, "negen");
	assert_int_equal(f->mutation_domains[0], 0);
	assert_int_equal(f->mutation_domains[1], 2);
	assert_int_equal(f->mutation_domains[2], 9);
	assert_int_equal(f->version, 7);
	assert_int_equal(f->at, NOW);
	assert_string_equal(f->actor->subject, "pro-sanne");
	/* a reason is tied to no domain: only whole-plan readers see it */
	assert_string_equal(f->detail, "");
	assert_int_equal(e.n_mutations, 4);	/* the original is untouched */
	protobuf_c_message_free_unpacked(&f->base, NULL);

	f = plan_filter_history(&e, 0);
	assert_int_equal(f->n_mutations, 1);
	assert_int_equal(f->mutations[0]->op_case, OP_ADD_MEMBER);
	protobuf_c_message_free_unpacked(&f->base, NULL);

	f = plan_filter_history(&e, CONSENT_SCOPE_ALL);
	assert_int_equal(f->n_mutations, 4);
	protobuf_c_message_free_unpacked(&f->base, NULL);

	/* mutations without a recorded domain are not shown */
	e.n_mutation_domains = 2;
	f = plan_filter_history(&e, CONSENT_SCOPE_ALL);
	assert_int_equal(f->n_mutations, 2);
	assert_int_equal(f->n_mutation_domains, 2);
	protobuf_c_message_free_unpacked(&f->base, NULL);

	/* a domain out of range is never in scope */
	e.n_mutation_domains = 4;
	doms[1] = 31;
	f = plan_filter_history(&e, 0xffffffffu);
	assert_int_equal(f->n_mutations, 3);
	assert_string_equal(f->mutations[1]->add_note->text, "zes");
	protobuf_c_message_free_unpacked(&f->base, NULL);

	assert_null(plan_filter_history(NULL, CONSENT_SCOPE_ALL));
}

/* ------------------------------------------------------------ out of memory */

/*
 * The allocator is replaced (glibc allows it) so that each allocation can
 * fail in turn, and live allocations are counted so a failure path that
 * leaks shows. ASan brings its own allocator: there the test is skipped.
 */
#define OOM_SKIP_REASON	"ASan brings its own allocator, so allocations " \
	"cannot be made to fail here; the normal build runs this test"
#if defined(__SANITIZE_ADDRESS__)
#define OOM_TESTS	0
#else
#define OOM_TESTS	1
void	*__libc_malloc(size_t);
void	*__libc_calloc(size_t, size_t);
void	*__libc_realloc(void *, size_t);
void	 __libc_free(void *);

static int	oom_armed;
static long	oom_countdown;
static long	oom_live;

static int
oom_fail_now(void)
{
	return oom_armed && oom_countdown-- == 0;
}

void *
malloc(size_t n)
{
	void *p;

	if (oom_fail_now())
		return NULL;
	if ((p = __libc_malloc(n)) != NULL)
		oom_live++;
	return p;
}

void *
calloc(size_t a, size_t b)
{
	void *p;

	if (oom_fail_now())
		return NULL;
	if ((p = __libc_calloc(a, b)) != NULL)
		oom_live++;
	return p;
}

void *
realloc(void *old, size_t n)
{
	void *p;

	if (oom_fail_now())
		return NULL;
	if ((p = __libc_realloc(old, n)) != NULL && old == NULL)
		oom_live++;
	return p;
}

void
free(void *p)
{
	if (p != NULL)
		oom_live--;
	__libc_free(p);
}
#endif

static void
oom_arm(long n)
{
#if OOM_TESTS
	oom_countdown = n;
	oom_armed = 1;
#else
	(void)n;
#endif
}

static void
oom_disarm(void)
{
#if OOM_TESTS
	oom_armed = 0;
#endif
}

static long
oom_live_now(void)
{
#if OOM_TESTS
	return oom_live;
#else
	return 0;
#endif
}

/* Each allocation of each mutation fails in turn: refused, unchanged, no leak. */
static void
test_apply_oom(void **state)
{
	struct plan_error err;
	struct mbuf b;
	EpPlan *p, *before;
	uint32_t id;
	long n, live;
	size_t i;
	int rc, bad = 0, failures = 0;

	(void)state;
	if (!OOM_TESTS) {
		print_message("skip test_apply_oom: %s\n", OOM_SKIP_REASON);
		skip();
	}
	for (i = 0; i < NALL_OPS; i++) {
		for (n = 0; n < 100; n++) {
			p = base_plan();
			before = plan_dup(p);
			mbuf_valid(&b, all_ops[i]);
			live = oom_live_now();
			oom_arm(n);
			rc = plan_apply(p, &b.m, &pro, NOW, &id, &err);
			oom_disarm();
			if (rc == 0) {
				plan_free(before);
				plan_free(p);
				break;
			}
			failures++;
			if (err.pe_code != EENPLAN__V1__CODE__INTERNAL ||
			    !same_bytes(before, p) || oom_live_now() != live) {
				print_message("%s, allocation %ld failing: code "
				    "%d, changed %d, leaked %ld\n",
				    all_op_names[i], n, err.pe_code,
				    !same_bytes(before, p),
				    oom_live_now() - live);
				bad++;
			}
			plan_free(before);
			plan_free(p);
		}
		assert_true(n < 100);
	}
	print_message("apply under failing allocations: %d failures checked\n",
	    failures);
	assert_int_equal(bad, 0);
}

/* plan_new, plan_dup and the filters fail cleanly too. */
static void
test_other_oom(void **state)
{
	EpMember m[2];
	EpMember *mp[2] = { &m[0], &m[1] };
	struct plan_error err;
	EpPlan *p, *q;
	EpHistoryEntry e, *f;
	long n, live;
	int rc, bad = 0;

	(void)state;
	if (!OOM_TESTS) {
		print_message("skip test_other_oom: %s\n", OOM_SKIP_REASON);
		skip();
	}
	member_set(&m[0], "p-anna", "Anna", "ouder");
	member_set(&m[1], "p-bram", "Bram", "");
	for (n = 0; n < 100; n++) {
		live = oom_live_now();
		oom_arm(n);
		rc = plan_new(&p, HHID, 1, mp, 2, &regie, "F-1", NOW, &err);
		oom_disarm();
		if (rc == 0) {
			plan_free(p);
			break;
		}
		if (p != NULL || oom_live_now() != live)
			bad++;
	}
	assert_true(n < 100);

	p = base_plan();
	assert_int_equal(plan_escalate(p, "x", &regie, NOW, &err), 0);
	for (n = 0; n < 200; n++) {
		live = oom_live_now();
		oom_arm(n);
		q = plan_filter(p, CONSENT_DOMAIN_BIT(1));
		oom_disarm();
		if (q != NULL) {
			plan_free(q);
			break;
		}
		if (oom_live_now() != live)
			bad++;
	}
	assert_true(n < 200);
	for (n = 0; n < 10; n++) {
		live = oom_live_now();
		oom_arm(n);
		rc = plan_escalate(p, "y", &regie, NOW, &err);
		oom_disarm();
		if (rc == 0)
			break;
		if (oom_live_now() != live || p->n_escalations != 1)
			bad++;
	}
	assert_true(n < 10);
	plan_free(p);

	eenplan__v1__history_entry__init(&e);
	e.version = 2;
	e.detail = "d";
	for (n = 0; n < 20; n++) {
		live = oom_live_now();
		oom_arm(n);
		f = plan_filter_history(&e, 0);
		oom_disarm();
		if (f != NULL) {
			protobuf_c_message_free_unpacked(&f->base, NULL);
			break;
		}
		if (oom_live_now() != live)
			bad++;
	}
	assert_true(n < 20);
	assert_int_equal(bad, 0);
}

static void
test_text_ok(void **state)
{
	(void)state;
	assert_true(util_text_ok("", 0, 0));
	assert_false(util_text_ok("", 1, 10));
	assert_true(util_text_ok(NULL, 0, 1));
	assert_true(util_text_ok(e_200, 1, 200));
	assert_false(util_text_ok(e_201, 1, 200));
	assert_true(util_text_ok(smile_128, 128, 128));
	assert_false(util_text_ok("\xc3", 0, 10));
	assert_true(util_text_ok("a\0b", 1, 1));	/* a C string ends at NUL */
}

static void
test_error_set(void **state)
{
	struct plan_error err;
	char longfield[200];

	(void)state;
	fill(longfield, 150, "f");
	plan_error_set(&err, C_INVALID, longfield, "%s %d", "x", 7);
	assert_int_equal(err.pe_code, C_INVALID);
	assert_int_equal(strlen(err.pe_field), sizeof(err.pe_field) - 1);
	assert_string_equal(err.pe_msg, "x 7");
	plan_error_set(&err, C_OK, NULL, "ok");
	assert_string_equal(err.pe_field, "");
	plan_error_set(NULL, C_OK, "a", "b");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_new_ok),
		cmocka_unit_test(test_plan_new_validation),
		cmocka_unit_test(test_mutation_validation),
		cmocka_unit_test(test_apply_each),
		cmocka_unit_test(test_action_states),
		cmocka_unit_test(test_goal_states),
		cmocka_unit_test(test_closed),
		cmocka_unit_test(test_household_changes),
		cmocka_unit_test(test_items_limit),
		cmocka_unit_test(test_members_limit),
		cmocka_unit_test(test_mutation_target),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_filter_history),
		cmocka_unit_test(test_apply_oom),
		cmocka_unit_test(test_other_oom),
		cmocka_unit_test(test_text_ok),
		cmocka_unit_test(test_error_set),
	};

	return cmocka_run_group_tests_name("plan", tests, texts_setup, NULL);
}
