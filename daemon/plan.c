/* plan: the support plan model (see plan.h). Pure: no I/O, no clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "principal.h"
#include "plan.h"

#define CODE_INVALID	EENPLAN__V1__CODE__INVALID_ARGUMENT
#define CODE_NOT_FOUND	EENPLAN__V1__CODE__NOT_FOUND
#define CODE_EXISTS	EENPLAN__V1__CODE__ALREADY_EXISTS
#define CODE_PRECOND	EENPLAN__V1__CODE__FAILED_PRECONDITION
#define CODE_EXHAUSTED	EENPLAN__V1__CODE__RESOURCE_EXHAUSTED
#define CODE_INTERNAL	EENPLAN__V1__CODE__INTERNAL

void
plan_error_set(struct plan_error *err, int code, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->pe_code = code;
	snprintf(err->pe_field, sizeof(err->pe_field), "%s",
	    field != NULL ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->pe_msg, sizeof(err->pe_msg), fmt, ap);
	va_end(ap);
}

static int
plan_fail(struct plan_error *err, int code, const char *field, const char *msg)
{
	plan_error_set(err, code, field, "%s", msg);
	return -1;
}

static int
plan_oom(struct plan_error *err)
{
	return plan_fail(err, CODE_INTERNAL, "", "out of memory");
}

/* ------------------------------------------------------------ strings */

/*
 * protobuf-c marks an empty string by pointing at its own constant, which
 * free_unpacked never frees; the field type is char *, hence the cast
 * through uintptr_t (the constant is never written to).
 */
static char *
plan_empty(void)
{
	return (char *)(uintptr_t)protobuf_c_empty_string;
}

/* *dst = a malloc'd copy of s, or the empty constant. 0 or -1 (no memory). */
static int
plan_str_set(char **dst, const char *s)
{
	char *c;

	if (s == NULL || s[0] == '\0') {
		*dst = plan_empty();
		return 0;
	}
	if ((c = strdup(s)) == NULL)
		return -1;
	*dst = c;
	return 0;
}

static int
plan_empty_str(const char *s)
{
	return s == NULL || s[0] == '\0';
}

static int
plan_check_text(const char *s, size_t min, size_t max, const char *field,
    struct plan_error *err)
{
	if (s == NULL)
		s = "";
	if (!util_utf8_ok(s, strlen(s))) {
		plan_error_set(err, CODE_INVALID, field, "not valid UTF-8");
		return -1;
	}
	if (!util_text_ok(s, min, max)) {
		plan_error_set(err, CODE_INVALID, field,
		    "must be %zu..%zu characters", min, max);
		return -1;
	}
	return 0;
}

static int
plan_check_date(const char *s, const char *field, struct plan_error *err)
{
	if (plan_empty_str(s) || util_date_ok(s))
		return 0;
	return plan_fail(err, CODE_INVALID, field,
	    "must be a real date YYYY-MM-DD or empty");
}

static int
plan_check_ident(const char *s, size_t max, int optional, const char *field,
    struct plan_error *err)
{
	if (optional && plan_empty_str(s))
		return 0;
	if (util_ident_ok(s, max))
		return 0;
	plan_error_set(err, CODE_INVALID, field,
	    "must be 1..%zu characters of [A-Za-z0-9._-]", max);
	return -1;
}

/* ------------------------------------------------------------ values */

static int
plan_domain_ok(int d)
{
	return d >= EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN &&
	    d <= EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE;
}

static int
plan_check_domain(int d, const char *field, struct plan_error *err)
{
	if (plan_domain_ok(d))
		return 0;
	return plan_fail(err, CODE_INVALID, field,
	    "must be a ZRM domain 1..13");
}

static int
plan_check_score(uint32_t score, const char *field, struct plan_error *err)
{
	if (score >= 1 && score <= 5)
		return 0;
	return plan_fail(err, CODE_INVALID, field, "must be a ZRM score 1..5");
}

/* Range-checked first: a shift by an unchecked stored value is undefined. */
static int
plan_in_scope(uint32_t scope, int domain)
{
	return plan_domain_ok(domain) &&
	    (scope & CONSENT_DOMAIN_BIT(domain)) != 0;
}

/* ------------------------------------------------------------ messages */

static EpPrincipal *
plan_principal_dup(const EpPrincipal *src)
{
	EpPrincipal *p;

	if ((p = malloc(sizeof(*p))) == NULL)
		return NULL;
	eenplan__v1__principal__init(p);
	if (plan_str_set(&p->org, src->org) == -1 ||
	    plan_str_set(&p->subject, src->subject) == -1) {
		protobuf_c_message_free_unpacked(&p->base, NULL);
		return NULL;
	}
	p->role = src->role;
	return p;
}

static EpMember *
plan_member_dup(const EpMember *src)
{
	EpMember *m;

	if ((m = malloc(sizeof(*m))) == NULL)
		return NULL;
	eenplan__v1__member__init(m);
	if (plan_str_set(&m->person_id, src->person_id) == -1 ||
	    plan_str_set(&m->name, src->name) == -1 ||
	    plan_str_set(&m->relation, src->relation) == -1) {
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return NULL;
	}
	return m;
}

static void
plan_msg_free(void *msg)
{
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
}

/* Room for one more element pointer; NULL (the old array kept) on failure. */
static void *
plan_grow(void *arr, size_t n, size_t elsz)
{
	if (n >= SIZE_MAX / elsz - 1)
		return NULL;
	return realloc(arr, (n + 1) * elsz);
}

EpPlan *
plan_dup(const EpPlan *p)
{
	if (p == NULL)
		return NULL;
	return (EpPlan *)wire_msg_dup(&p->base);
}

void
plan_free(EpPlan *p)
{
	plan_msg_free(p);
}

/* ------------------------------------------------------------ lookups */

static EpGoal *
plan_goal(const EpPlan *p, uint32_t id)
{
	size_t i;

	for (i = 0; p->goals != NULL && i < p->n_goals; i++)
		if (p->goals[i] != NULL && p->goals[i]->id == id)
			return p->goals[i];
	return NULL;
}

static EpAction *
plan_action(const EpPlan *p, uint32_t id)
{
	size_t i;

	for (i = 0; p->actions != NULL && i < p->n_actions; i++)
		if (p->actions[i] != NULL && p->actions[i]->id == id)
			return p->actions[i];
	return NULL;
}

static EpTargetScore *
plan_target(const EpPlan *p, int domain)
{
	size_t i;

	for (i = 0; p->targets != NULL && i < p->n_targets; i++)
		if (p->targets[i] != NULL &&
		    (int)p->targets[i]->domain == domain)
			return p->targets[i];
	return NULL;
}

static int
plan_has_member(const EpPlan *p, const char *person_id)
{
	size_t i;

	for (i = 0; p->members != NULL && i < p->n_members; i++)
		if (p->members[i] != NULL &&
		    strcmp(p->members[i]->person_id, person_id) == 0)
			return 1;
	return 0;
}

static int
plan_find_goal(const EpPlan *p, uint32_t id, const char *field,
    EpGoal **out, struct plan_error *err)
{
	if (id == 0)
		return plan_fail(err, CODE_INVALID, field, "required");
	if ((*out = plan_goal(p, id)) == NULL) {
		plan_error_set(err, CODE_NOT_FOUND, field, "no goal %u", id);
		return -1;
	}
	return 0;
}

static int
plan_find_action(const EpPlan *p, uint32_t id, const char *field,
    EpAction **out, struct plan_error *err)
{
	if (id == 0)
		return plan_fail(err, CODE_INVALID, field, "required");
	if ((*out = plan_action(p, id)) == NULL) {
		plan_error_set(err, CODE_NOT_FOUND, field, "no action %u", id);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ members */

/* field is the member's path, e.g. "members[2]" or "add_member.member". */
static int
plan_check_member(const EpMember *m, const char *field, struct plan_error *err)
{
	char f[64];

	if (m == NULL)
		return plan_fail(err, CODE_INVALID, field, "missing");
	snprintf(f, sizeof(f), "%s.person_id", field);
	if (plan_check_ident(m->person_id, PLAN_PERSON_ID_MAX, 0, f, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%s.name", field);
	if (plan_check_text(m->name, 1, PLAN_NAME_MAX, f, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%s.relation", field);
	return plan_check_text(m->relation, 0, PLAN_RELATION_MAX, f, err);
}

static int
plan_check_members(EpMember *const *members, size_t n, struct plan_error *err)
{
	char f[32];
	size_t i, j;

	if (n < 1 || n > PLAN_MEMBERS_MAX || members == NULL)
		return plan_fail(err, CODE_INVALID, "members",
		    "must list 1..16 members");
	for (i = 0; i < n; i++) {
		snprintf(f, sizeof(f), "members[%zu]", i);
		if (plan_check_member(members[i], f, err) == -1)
			return -1;
		for (j = 0; j < i; j++) {
			if (strcmp(members[j]->person_id,
			    members[i]->person_id) != 0)
				continue;
			snprintf(f, sizeof(f), "members[%zu].person_id", i);
			return plan_fail(err, CODE_INVALID, f,
			    "listed twice");
		}
	}
	return 0;
}

/* ------------------------------------------------------------ plan_new */

static int
plan_check_new(const char *household_id, int area, EpMember *const *members,
    size_t nmembers, const EpPrincipal *creator, const char *intake_ref,
    struct plan_error *err)
{
	if (!util_valid_household_id(household_id))
		return plan_fail(err, CODE_INVALID, "household_id",
		    "must be 32 lower-case hex characters");
	if (area < EENPLAN__V1__AREA__AREA_NOORD ||
	    area > EENPLAN__V1__AREA__AREA_STEDELIJK)
		return plan_fail(err, CODE_INVALID, "area", "must be 1..5");
	if (plan_check_members(members, nmembers, err) == -1)
		return -1;
	if (creator == NULL ||
	    !util_ident_ok(creator->org, PRINCIPAL_ORG_MAX - 1) ||
	    !util_ident_ok(creator->subject, PRINCIPAL_SUBJECT_MAX - 1))
		return plan_fail(err, CODE_INVALID, "creator",
		    "needs an organisation and a subject");
	return plan_check_text(intake_ref, 1, PLAN_REFERENCE_MAX,
	    "consent_reference", err);
}

static int
plan_new_members(EpPlan *p, EpMember *const *members, size_t n)
{
	EpMember *m;

	if ((p->members = calloc(n, sizeof(*p->members))) == NULL)
		return -1;
	/* counted as they are made, so free_unpacked sees only real ones */
	for (p->n_members = 0; p->n_members < n; p->n_members++) {
		m = plan_member_dup(members[p->n_members]);
		if ((p->members[p->n_members] = m) == NULL)
			return -1;
	}
	return 0;
}

int
plan_new(EpPlan **out, const char *household_id, int area,
    EpMember *const *members, size_t nmembers, const EpPrincipal *creator,
    const char *intake_ref, int64_t now, struct plan_error *err)
{
	EpPlan *p;

	if (out == NULL)
		return plan_fail(err, CODE_INTERNAL, "", "no output");
	*out = NULL;
	if (plan_check_new(household_id, area, members, nmembers, creator,
	    intake_ref, err) == -1)
		return -1;
	if ((p = malloc(sizeof(*p))) == NULL)
		return plan_oom(err);
	eenplan__v1__plan__init(p);
	if (plan_str_set(&p->household_id, household_id) == -1 ||
	    plan_str_set(&p->intake_reference, intake_ref) == -1 ||
	    plan_new_members(p, members, nmembers) == -1 ||
	    (p->regisseur = plan_principal_dup(creator)) == NULL ||
	    (p->updated_by = plan_principal_dup(creator)) == NULL) {
		plan_free(p);
		return plan_oom(err);
	}
	p->version = 1;
	p->area = area;
	p->status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ACTIVE;
	p->created_at = now;
	p->updated_at = now;
	p->next_item_id = 1;
	*out = p;
	return 0;
}

/* ------------------------------------------------------------ targets */

static const char *
plan_op_name(const EpMutation *m)
{
	switch (m->op_case) {
	case EENPLAN__V1__MUTATION__OP_ADD_GOAL:
		return m->add_goal != NULL ? "add_goal" : NULL;
	case EENPLAN__V1__MUTATION__OP_SET_GOAL_STATUS:
		return m->set_goal_status != NULL ? "set_goal_status" : NULL;
	case EENPLAN__V1__MUTATION__OP_ADD_ACTION:
		return m->add_action != NULL ? "add_action" : NULL;
	case EENPLAN__V1__MUTATION__OP_SET_ACTION_STATUS:
		return m->set_action_status != NULL ? "set_action_status" :
		    NULL;
	case EENPLAN__V1__MUTATION__OP_ADD_NOTE:
		return m->add_note != NULL ? "add_note" : NULL;
	case EENPLAN__V1__MUTATION__OP_ADD_ASSESSMENT:
		return m->add_assessment != NULL ? "add_assessment" : NULL;
	case EENPLAN__V1__MUTATION__OP_SET_TARGET_SCORE:
		return m->set_target_score != NULL ? "set_target_score" : NULL;
	case EENPLAN__V1__MUTATION__OP_ADD_MEMBER:
		return m->add_member != NULL ? "add_member" : NULL;
	case EENPLAN__V1__MUTATION__OP__NOT_SET:
	default:
		return NULL;
	}
}

/* The consent op, domain and owner of a mutation already known to be set. */
static int
plan_target_of(const EpPlan *p, const EpMutation *m, enum consent_op *op,
    int *domain, const char **owner, struct plan_error *err)
{
	EpGoal *g;
	EpAction *a;

	*domain = 0;
	*owner = NULL;
	switch (m->op_case) {
	case EENPLAN__V1__MUTATION__OP_ADD_GOAL:
		*op = CONSENT_OP_ADD_GOAL;
		*domain = m->add_goal->domain;
		return plan_check_domain(*domain, "add_goal.domain", err);
	case EENPLAN__V1__MUTATION__OP_SET_GOAL_STATUS:
		*op = CONSENT_OP_SET_GOAL_STATUS;
		if (plan_find_goal(p, m->set_goal_status->goal_id,
		    "set_goal_status.goal_id", &g, err) == -1)
			return -1;
		*domain = g->domain;
		return 0;
	case EENPLAN__V1__MUTATION__OP_ADD_ACTION:
		*op = CONSENT_OP_ADD_ACTION;
		if (plan_find_goal(p, m->add_action->goal_id,
		    "add_action.goal_id", &g, err) == -1)
			return -1;
		*domain = g->domain;
		*owner = m->add_action->owner_org;
		return 0;
	case EENPLAN__V1__MUTATION__OP_SET_ACTION_STATUS:
		*op = CONSENT_OP_SET_ACTION_STATUS;
		if (plan_find_action(p, m->set_action_status->action_id,
		    "set_action_status.action_id", &a, err) == -1)
			return -1;
		*domain = a->domain;
		*owner = a->owner_org;
		return 0;
	case EENPLAN__V1__MUTATION__OP_ADD_NOTE:
		*op = CONSENT_OP_ADD_NOTE;
		*domain = m->add_note->domain;
		return plan_check_domain(*domain, "add_note.domain", err);
	case EENPLAN__V1__MUTATION__OP_ADD_ASSESSMENT:
		*op = CONSENT_OP_ADD_ASSESSMENT;
		*domain = m->add_assessment->domain;
		return plan_check_domain(*domain, "add_assessment.domain", err);
	case EENPLAN__V1__MUTATION__OP_SET_TARGET_SCORE:
		*op = CONSENT_OP_SET_TARGET;
		*domain = m->set_target_score->domain;
		return plan_check_domain(*domain, "set_target_score.domain",
		    err);
	case EENPLAN__V1__MUTATION__OP_ADD_MEMBER:
		*op = CONSENT_OP_ADD_MEMBER;
		return 0;
	case EENPLAN__V1__MUTATION__OP__NOT_SET:
	default:
		return plan_fail(err, CODE_INVALID, "op", "no operation");
	}
}

int
plan_mutation_target(const EpPlan *p, const EpMutation *m,
    enum consent_op *op, int *domain, const char **owner_org,
    struct plan_error *err)
{
	enum consent_op o;
	const char *owner;
	int d;

	if (p == NULL || m == NULL)
		return plan_fail(err, CODE_INTERNAL, "", "no plan or mutation");
	if (plan_op_name(m) == NULL)
		return plan_fail(err, CODE_INVALID, "op", "no operation");
	if (plan_target_of(p, m, &o, &d, &owner, err) == -1)
		return -1;
	if (op != NULL)
		*op = o;
	if (domain != NULL)
		*domain = d;
	if (owner_org != NULL)
		*owner_org = owner;
	return 0;
}

int
plan_mutation_domain(const EpPlan *p, const EpMutation *m)
{
	enum consent_op op;
	const char *owner;
	int d;

	if (plan_mutation_target(p, m, &op, &d, &owner, NULL) == -1)
		return 0;
	return plan_domain_ok(d) ? d : 0;
}

/* ------------------------------------------------------------ checks */

static size_t
plan_items(const EpPlan *p)
{
	/* each count is bounded by memory; the sum of four cannot wrap */
	return p->n_goals + p->n_actions + p->n_notes + p->n_assessments;
}

/* Room for one more goal/action/note/assessment, and an id for it. */
static int
plan_check_room(const EpPlan *p, const char *field, struct plan_error *err)
{
	if (plan_items(p) >= PLAN_ITEMS_MAX) {
		plan_error_set(err, CODE_EXHAUSTED, field,
		    "the plan holds its maximum of %d items", PLAN_ITEMS_MAX);
		return -1;
	}
	if (p->next_item_id == UINT32_MAX)
		return plan_fail(err, CODE_EXHAUSTED, field,
		    "no item ids left");
	return 0;
}

static int
plan_check_add_goal(const EpPlan *p, const Eenplan__V1__AddGoal *ag,
    struct plan_error *err)
{
	if (plan_check_domain(ag->domain, "add_goal.domain", err) == -1 ||
	    plan_check_text(ag->text, 1, PLAN_TEXT_MAX, "add_goal.text",
	    err) == -1 ||
	    plan_check_date(ag->target_date, "add_goal.target_date", err) == -1)
		return -1;
	return plan_check_room(p, "add_goal", err);
}

/*
 * Goals: open -> achieved | dropped, and achieved | dropped -> open (a
 * support plan reopens a goal when a problem comes back). achieved and
 * dropped do not move into each other directly; a goal cannot be "set" to
 * the status it has.
 */
static int
plan_goal_move_ok(int from, int to)
{
	switch (from) {
	case EENPLAN__V1__GOAL_STATUS__GOAL_OPEN:
		return to == EENPLAN__V1__GOAL_STATUS__GOAL_ACHIEVED ||
		    to == EENPLAN__V1__GOAL_STATUS__GOAL_DROPPED;
	case EENPLAN__V1__GOAL_STATUS__GOAL_ACHIEVED:
	case EENPLAN__V1__GOAL_STATUS__GOAL_DROPPED:
		return to == EENPLAN__V1__GOAL_STATUS__GOAL_OPEN;
	default:
		return 0;
	}
}

static int
plan_check_set_goal_status(const EpPlan *p,
    const Eenplan__V1__SetGoalStatus *sg, struct plan_error *err)
{
	EpGoal *g;

	if (plan_find_goal(p, sg->goal_id, "set_goal_status.goal_id", &g,
	    err) == -1)
		return -1;
	if (sg->status < EENPLAN__V1__GOAL_STATUS__GOAL_OPEN ||
	    sg->status > EENPLAN__V1__GOAL_STATUS__GOAL_DROPPED)
		return plan_fail(err, CODE_INVALID, "set_goal_status.status",
		    "must be open, achieved or dropped");
	if (!plan_goal_move_ok(g->status, sg->status)) {
		plan_error_set(err, CODE_PRECOND, "set_goal_status.status",
		    "goal %u cannot go from %s to %s", g->id,
		    wire_goal_status_name(g->status) != NULL ?
		    wire_goal_status_name(g->status) : "?",
		    wire_goal_status_name(sg->status));
		return -1;
	}
	return 0;
}

static int
plan_check_add_action(const EpPlan *p, const Eenplan__V1__AddAction *aa,
    struct plan_error *err)
{
	EpGoal *g;

	if (plan_find_goal(p, aa->goal_id, "add_action.goal_id", &g, err) == -1)
		return -1;
	if (plan_check_text(aa->text, 1, PLAN_TEXT_MAX, "add_action.text",
	    err) == -1 ||
	    plan_check_ident(aa->owner_org, PRINCIPAL_ORG_MAX - 1, 0,
	    "add_action.owner_org", err) == -1 ||
	    plan_check_ident(aa->owner_subject, PRINCIPAL_SUBJECT_MAX - 1, 1,
	    "add_action.owner_subject", err) == -1 ||
	    plan_check_date(aa->due_date, "add_action.due_date", err) == -1)
		return -1;
	/* work towards a goal nobody pursues any more is a mistake */
	if (g->status != EENPLAN__V1__GOAL_STATUS__GOAL_OPEN) {
		plan_error_set(err, CODE_PRECOND, "add_action.goal_id",
		    "goal %u is not open", g->id);
		return -1;
	}
	return plan_check_room(p, "add_action", err);
}

/*
 * Actions: proposed -> accepted -> in_progress -> done, and any of the
 * first three -> cancelled. done and cancelled are final.
 */
static int
plan_action_move_ok(int from, int to)
{
	if (to == EENPLAN__V1__ACTION_STATUS__ACTION_CANCELLED)
		return from == EENPLAN__V1__ACTION_STATUS__ACTION_PROPOSED ||
		    from == EENPLAN__V1__ACTION_STATUS__ACTION_ACCEPTED ||
		    from == EENPLAN__V1__ACTION_STATUS__ACTION_IN_PROGRESS;
	switch (from) {
	case EENPLAN__V1__ACTION_STATUS__ACTION_PROPOSED:
		return to == EENPLAN__V1__ACTION_STATUS__ACTION_ACCEPTED;
	case EENPLAN__V1__ACTION_STATUS__ACTION_ACCEPTED:
		return to == EENPLAN__V1__ACTION_STATUS__ACTION_IN_PROGRESS;
	case EENPLAN__V1__ACTION_STATUS__ACTION_IN_PROGRESS:
		return to == EENPLAN__V1__ACTION_STATUS__ACTION_DONE;
	default:
		return 0;
	}
}

static int
plan_check_set_action_status(const EpPlan *p,
    const Eenplan__V1__SetActionStatus *sa, struct plan_error *err)
{
	EpAction *a;
	const char *from;

	if (plan_find_action(p, sa->action_id, "set_action_status.action_id",
	    &a, err) == -1)
		return -1;
	if (sa->status < EENPLAN__V1__ACTION_STATUS__ACTION_PROPOSED ||
	    sa->status > EENPLAN__V1__ACTION_STATUS__ACTION_CANCELLED)
		return plan_fail(err, CODE_INVALID, "set_action_status.status",
		    "must be proposed, accepted, in_progress, done or "
		    "cancelled");
	if (!plan_action_move_ok(a->status, sa->status)) {
		from = wire_action_status_name(a->status);
		plan_error_set(err, CODE_PRECOND, "set_action_status.status",
		    "action %u cannot go from %s to %s", a->id,
		    from != NULL ? from : "?",
		    wire_action_status_name(sa->status));
		return -1;
	}
	return 0;
}

static int
plan_check_add_note(const EpPlan *p, const Eenplan__V1__AddNote *an,
    struct plan_error *err)
{
	if (plan_check_domain(an->domain, "add_note.domain", err) == -1 ||
	    plan_check_text(an->text, 1, PLAN_NOTE_MAX, "add_note.text",
	    err) == -1)
		return -1;
	return plan_check_room(p, "add_note", err);
}

static int
plan_check_add_assessment(const EpPlan *p,
    const Eenplan__V1__AddAssessment *as, struct plan_error *err)
{
	if (plan_check_domain(as->domain, "add_assessment.domain", err) == -1 ||
	    plan_check_score(as->score, "add_assessment.score", err) == -1 ||
	    plan_check_text(as->remark, 0, PLAN_TEXT_MAX,
	    "add_assessment.remark", err) == -1)
		return -1;
	return plan_check_room(p, "add_assessment", err);
}

static int
plan_check_set_target(const Eenplan__V1__SetTargetScore *ts,
    struct plan_error *err)
{
	if (plan_check_domain(ts->domain, "set_target_score.domain",
	    err) == -1)
		return -1;
	return plan_check_score(ts->score, "set_target_score.score", err);
}

static int
plan_check_add_member(const EpPlan *p, const Eenplan__V1__AddMember *am,
    struct plan_error *err)
{
	if (plan_check_member(am->member, "add_member.member", err) == -1)
		return -1;
	if (plan_has_member(p, am->member->person_id))
		return plan_fail(err, CODE_EXISTS,
		    "add_member.member.person_id", "already a member");
	if (p->n_members >= PLAN_MEMBERS_MAX)
		return plan_fail(err, CODE_EXHAUSTED, "add_member",
		    "the household has its maximum of 16 members");
	return 0;
}

/* Everything that can refuse m, before anything is changed. */
static int
plan_check(const EpPlan *p, const EpMutation *m, struct plan_error *err)
{
	const char *name;

	if ((name = plan_op_name(m)) == NULL)
		return plan_fail(err, CODE_INVALID, "op", "no operation");
	if (p->status == EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED)
		return plan_fail(err, CODE_PRECOND, name,
		    "the household is closed");
	switch (m->op_case) {
	case EENPLAN__V1__MUTATION__OP_ADD_GOAL:
		return plan_check_add_goal(p, m->add_goal, err);
	case EENPLAN__V1__MUTATION__OP_SET_GOAL_STATUS:
		return plan_check_set_goal_status(p, m->set_goal_status, err);
	case EENPLAN__V1__MUTATION__OP_ADD_ACTION:
		return plan_check_add_action(p, m->add_action, err);
	case EENPLAN__V1__MUTATION__OP_SET_ACTION_STATUS:
		return plan_check_set_action_status(p, m->set_action_status,
		    err);
	case EENPLAN__V1__MUTATION__OP_ADD_NOTE:
		return plan_check_add_note(p, m->add_note, err);
	case EENPLAN__V1__MUTATION__OP_ADD_ASSESSMENT:
		return plan_check_add_assessment(p, m->add_assessment, err);
	case EENPLAN__V1__MUTATION__OP_SET_TARGET_SCORE:
		return plan_check_set_target(m->set_target_score, err);
	case EENPLAN__V1__MUTATION__OP_ADD_MEMBER:
		return plan_check_add_member(p, m->add_member, err);
	case EENPLAN__V1__MUTATION__OP__NOT_SET:
	default:
		return plan_fail(err, CODE_INVALID, "op", "no operation");
	}
}

/* ------------------------------------------------------------ commits */

/*
 * Each commit function allocates everything it needs first and changes p
 * only when nothing can fail any more, so a refusal leaves p as it was.
 * A grown array whose count did not change is not a change.
 */

static uint32_t
plan_next_id(const EpPlan *p)
{
	return p->next_item_id != 0 ? p->next_item_id : 1;
}

static int
plan_commit_add_goal(EpPlan *p, const Eenplan__V1__AddGoal *ag,
    const EpPrincipal *actor, int64_t now, uint32_t *id)
{
	EpGoal *g, **arr;

	if ((g = malloc(sizeof(*g))) == NULL)
		return -1;
	eenplan__v1__goal__init(g);
	if (plan_str_set(&g->text, ag->text) == -1 ||
	    plan_str_set(&g->target_date, ag->target_date) == -1 ||
	    (g->created_by = plan_principal_dup(actor)) == NULL ||
	    (arr = plan_grow(p->goals, p->n_goals, sizeof(*arr))) == NULL) {
		plan_msg_free(g);
		return -1;
	}
	g->id = *id = plan_next_id(p);
	g->domain = ag->domain;
	g->status = EENPLAN__V1__GOAL_STATUS__GOAL_OPEN;
	g->created_at = g->updated_at = now;
	p->goals = arr;
	p->goals[p->n_goals++] = g;
	p->next_item_id = g->id + 1;
	return 0;
}

static int
plan_commit_set_goal_status(EpPlan *p, const Eenplan__V1__SetGoalStatus *sg,
    int64_t now)
{
	EpGoal *g;

	if ((g = plan_goal(p, sg->goal_id)) == NULL)
		return -1;
	g->status = sg->status;
	g->updated_at = now;
	return 0;
}

static int
plan_action_fill(EpAction *a, const Eenplan__V1__AddAction *aa,
    const EpPrincipal *actor)
{
	if (plan_str_set(&a->text, aa->text) == -1 ||
	    plan_str_set(&a->owner_org, aa->owner_org) == -1 ||
	    plan_str_set(&a->owner_subject, aa->owner_subject) == -1 ||
	    plan_str_set(&a->due_date, aa->due_date) == -1 ||
	    (a->created_by = plan_principal_dup(actor)) == NULL ||
	    (a->updated_by = plan_principal_dup(actor)) == NULL)
		return -1;
	return 0;
}

static int
plan_commit_add_action(EpPlan *p, const Eenplan__V1__AddAction *aa,
    const EpPrincipal *actor, int64_t now, uint32_t *id)
{
	EpAction *a, **arr;
	EpGoal *g;

	if ((g = plan_goal(p, aa->goal_id)) == NULL ||
	    (a = malloc(sizeof(*a))) == NULL)
		return -1;
	eenplan__v1__action__init(a);
	if (plan_action_fill(a, aa, actor) == -1 ||
	    (arr = plan_grow(p->actions, p->n_actions, sizeof(*arr))) == NULL) {
		plan_msg_free(a);
		return -1;
	}
	a->id = *id = plan_next_id(p);
	a->goal_id = g->id;
	/* copied, so scope filters the action with its goal */
	a->domain = g->domain;
	a->status = EENPLAN__V1__ACTION_STATUS__ACTION_PROPOSED;
	a->created_at = a->updated_at = now;
	p->actions = arr;
	p->actions[p->n_actions++] = a;
	p->next_item_id = a->id + 1;
	return 0;
}

static int
plan_commit_set_action_status(EpPlan *p,
    const Eenplan__V1__SetActionStatus *sa, const EpPrincipal *actor,
    int64_t now)
{
	EpPrincipal *by;
	EpAction *a;

	if ((a = plan_action(p, sa->action_id)) == NULL ||
	    (by = plan_principal_dup(actor)) == NULL)
		return -1;
	plan_msg_free(a->updated_by);
	a->updated_by = by;
	a->status = sa->status;
	a->updated_at = now;
	return 0;
}

static int
plan_commit_add_note(EpPlan *p, const Eenplan__V1__AddNote *an,
    const EpPrincipal *actor, int64_t now, uint32_t *id)
{
	EpNote *n, **arr;

	if ((n = malloc(sizeof(*n))) == NULL)
		return -1;
	eenplan__v1__note__init(n);
	if (plan_str_set(&n->text, an->text) == -1 ||
	    (n->by = plan_principal_dup(actor)) == NULL ||
	    (arr = plan_grow(p->notes, p->n_notes, sizeof(*arr))) == NULL) {
		plan_msg_free(n);
		return -1;
	}
	n->id = *id = plan_next_id(p);
	n->domain = an->domain;
	n->at = now;
	p->notes = arr;
	p->notes[p->n_notes++] = n;
	p->next_item_id = n->id + 1;
	return 0;
}

static int
plan_commit_add_assessment(EpPlan *p, const Eenplan__V1__AddAssessment *as,
    const EpPrincipal *actor, int64_t now, uint32_t *id)
{
	EpAssessment *a, **arr;

	if ((a = malloc(sizeof(*a))) == NULL)
		return -1;
	eenplan__v1__assessment__init(a);
	if (plan_str_set(&a->remark, as->remark) == -1 ||
	    (a->by = plan_principal_dup(actor)) == NULL ||
	    (arr = plan_grow(p->assessments, p->n_assessments,
	    sizeof(*arr))) == NULL) {
		plan_msg_free(a);
		return -1;
	}
	a->id = *id = plan_next_id(p);
	a->domain = as->domain;
	a->score = as->score;
	a->at = now;
	p->assessments = arr;
	p->assessments[p->n_assessments++] = a;
	p->next_item_id = a->id + 1;
	return 0;
}

/* One target per domain: a new score replaces the old one. */
static int
plan_commit_set_target(EpPlan *p, const Eenplan__V1__SetTargetScore *ts)
{
	EpTargetScore *t, **arr;

	if ((t = plan_target(p, ts->domain)) != NULL) {
		t->score = ts->score;
		return 0;
	}
	if ((t = malloc(sizeof(*t))) == NULL)
		return -1;
	eenplan__v1__target_score__init(t);
	if ((arr = plan_grow(p->targets, p->n_targets, sizeof(*arr))) == NULL) {
		plan_msg_free(t);
		return -1;
	}
	t->domain = ts->domain;
	t->score = ts->score;
	p->targets = arr;
	p->targets[p->n_targets++] = t;
	return 0;
}

static int
plan_commit_add_member(EpPlan *p, const Eenplan__V1__AddMember *am)
{
	EpMember *m, **arr;

	if ((m = plan_member_dup(am->member)) == NULL)
		return -1;
	if ((arr = plan_grow(p->members, p->n_members, sizeof(*arr))) == NULL) {
		plan_msg_free(m);
		return -1;
	}
	p->members = arr;
	p->members[p->n_members++] = m;
	return 0;
}

static int
plan_commit(EpPlan *p, const EpMutation *m, const EpPrincipal *actor,
    int64_t now, uint32_t *id)
{
	switch (m->op_case) {
	case EENPLAN__V1__MUTATION__OP_ADD_GOAL:
		return plan_commit_add_goal(p, m->add_goal, actor, now, id);
	case EENPLAN__V1__MUTATION__OP_SET_GOAL_STATUS:
		return plan_commit_set_goal_status(p, m->set_goal_status, now);
	case EENPLAN__V1__MUTATION__OP_ADD_ACTION:
		return plan_commit_add_action(p, m->add_action, actor, now, id);
	case EENPLAN__V1__MUTATION__OP_SET_ACTION_STATUS:
		return plan_commit_set_action_status(p, m->set_action_status,
		    actor, now);
	case EENPLAN__V1__MUTATION__OP_ADD_NOTE:
		return plan_commit_add_note(p, m->add_note, actor, now, id);
	case EENPLAN__V1__MUTATION__OP_ADD_ASSESSMENT:
		return plan_commit_add_assessment(p, m->add_assessment, actor,
		    now, id);
	case EENPLAN__V1__MUTATION__OP_SET_TARGET_SCORE:
		return plan_commit_set_target(p, m->set_target_score);
	case EENPLAN__V1__MUTATION__OP_ADD_MEMBER:
		return plan_commit_add_member(p, m->add_member);
	case EENPLAN__V1__MUTATION__OP__NOT_SET:
	default:
		return -1;
	}
}

/* The plan's own updated_by/at; by is taken over. */
static void
plan_touch(EpPlan *p, EpPrincipal *by, int64_t now)
{
	plan_msg_free(p->updated_by);
	p->updated_by = by;
	p->updated_at = now;
}

int
plan_apply(EpPlan *p, const EpMutation *m, const EpPrincipal *actor,
    int64_t now, uint32_t *created_id, struct plan_error *err)
{
	EpPrincipal *by;
	uint32_t id = 0;

	if (created_id != NULL)
		*created_id = 0;
	if (p == NULL || m == NULL || actor == NULL)
		return plan_fail(err, CODE_INTERNAL, "",
		    "no plan, mutation or actor");
	if (plan_check(p, m, err) == -1)
		return -1;
	if ((by = plan_principal_dup(actor)) == NULL)
		return plan_oom(err);
	if (plan_commit(p, m, actor, now, &id) == -1) {
		plan_msg_free(by);
		return plan_oom(err);
	}
	plan_touch(p, by, now);
	if (created_id != NULL)
		*created_id = id;
	return 0;
}

/* ------------------------------------------------------------ household */

size_t
plan_bytes_max(uint32_t max_frame)
{
	if (max_frame < 2 * PLAN_FRAME_HEADROOM)
		return max_frame / 2;
	return max_frame - PLAN_FRAME_HEADROOM;
}

/* The state of the household, not one field: no field is named. */
static int
plan_check_open(const EpPlan *p, struct plan_error *err)
{
	if (p == NULL)
		return plan_fail(err, CODE_INTERNAL, "", "no plan");
	if (p->status == EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED)
		return plan_fail(err, CODE_PRECOND, "",
		    "the household is closed");
	return 0;
}

int
plan_escalate(EpPlan *p, const char *reason, const EpPrincipal *actor,
    int64_t now, struct plan_error *err)
{
	EpEscalation *e, **arr;
	EpPrincipal *by;

	if (plan_check_open(p, err) == -1 ||
	    plan_check_text(reason, 1, PLAN_TEXT_MAX, "reason", err) == -1)
		return -1;
	/* A journal of its own, outside the item count: bounded the same. */
	if (p->n_escalations >= PLAN_ITEMS_MAX)
		return plan_fail(err, CODE_EXHAUSTED, "escalations", "too many");
	if (actor == NULL)
		return plan_fail(err, CODE_INTERNAL, "", "no actor");
	if ((e = malloc(sizeof(*e))) == NULL)
		return plan_oom(err);
	eenplan__v1__escalation__init(e);
	by = NULL;
	if (plan_str_set(&e->reason, reason) == -1 ||
	    (e->by = plan_principal_dup(actor)) == NULL ||
	    (by = plan_principal_dup(actor)) == NULL ||
	    (arr = plan_grow(p->escalations, p->n_escalations,
	    sizeof(*arr))) == NULL) {
		plan_msg_free(by);
		plan_msg_free(e);
		return plan_oom(err);
	}
	e->at = now;
	p->escalations = arr;
	p->escalations[p->n_escalations++] = e;
	p->status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ESCALATED;
	plan_touch(p, by, now);
	return 0;
}

int
plan_close(EpPlan *p, const EpPrincipal *actor, int64_t now,
    struct plan_error *err)
{
	EpPrincipal *by;

	if (plan_check_open(p, err) == -1)
		return -1;
	if (actor == NULL)
		return plan_fail(err, CODE_INTERNAL, "", "no actor");
	if ((by = plan_principal_dup(actor)) == NULL)
		return plan_oom(err);
	p->status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED;
	plan_touch(p, by, now);
	return 0;
}

int
plan_set_regisseur(EpPlan *p, const EpPrincipal *to, const EpPrincipal *actor,
    int64_t now, struct plan_error *err)
{
	EpPrincipal *reg, *by;

	if (plan_check_open(p, err) == -1)
		return -1;
	if (to == NULL || actor == NULL)
		return plan_fail(err, CODE_INTERNAL, "", "no principal");
	if (plan_check_ident(to->org, PRINCIPAL_ORG_MAX - 1, 0, "to_org",
	    err) == -1 ||
	    plan_check_ident(to->subject, PRINCIPAL_SUBJECT_MAX - 1, 0,
	    "to_subject", err) == -1)
		return -1;
	if (p->regisseur != NULL && strcmp(p->regisseur->org, to->org) == 0 &&
	    strcmp(p->regisseur->subject, to->subject) == 0)
		return plan_fail(err, CODE_PRECOND, "to_subject",
		    "already the regisseur");
	if ((reg = plan_principal_dup(to)) == NULL)
		return plan_oom(err);
	if ((by = plan_principal_dup(actor)) == NULL) {
		plan_msg_free(reg);
		return plan_oom(err);
	}
	plan_msg_free(p->regisseur);
	p->regisseur = reg;
	plan_touch(p, by, now);
	return 0;
}

/* ------------------------------------------------------------ replay */

/* What committing a version does to the plan (see household_commit). */
static int
plan_bump(EpPlan *p, const EpHistoryEntry *e, struct plan_error *err)
{
	EpPrincipal *by;

	if ((by = plan_principal_dup(e->actor)) == NULL)
		return plan_oom(err);
	plan_touch(p, by, e->at);
	p->version++;
	if (p->version != e->version)
		return plan_fail(err, CODE_INTERNAL, "version",
		    "replay out of order");
	return 0;
}

int
plan_replay(EpPlan *p, const EpHistoryEntry *e, const EpPrincipal *regisseur,
    struct plan_error *err)
{
	uint32_t id;
	size_t i;

	if (p == NULL || e == NULL || e->actor == NULL)
		return plan_fail(err, CODE_INTERNAL, "", "nothing to replay");
	switch (e->kind) {
	case EENPLAN__V1__CHANGE_KIND__CHANGE_PLAN:
		for (i = 0; i < e->n_mutations; i++)
			if (plan_apply(p, e->mutations[i], e->actor, e->at, &id,
			    err) != 0)
				return -1;
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_ESCALATED:
		if (plan_escalate(p, e->detail, e->actor, e->at, err) != 0)
			return -1;
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_CLOSED:
		if (plan_close(p, e->actor, e->at, err) != 0)
			return -1;
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_REGIE:
		if (regisseur != NULL) {
			if (plan_set_regisseur(p, regisseur, e->actor, e->at,
			    err) != 0)
				return -1;
		} else {
			plan_msg_free(p->regisseur);
			p->regisseur = NULL;
		}
		break;
	default:
		return plan_fail(err, CODE_INTERNAL, "kind",
		    "this change cannot be replayed");
	}
	return plan_bump(p, e, err);
}

/* ------------------------------------------------------------ filters */

/*
 * Points a view's repeated field at the elements of the plan's whose domain
 * is in scope. A macro because the five item types share only the name of
 * their domain field. The array is the view's; the elements are the plan's.
 */
#define PLAN_VIEW_IN_SCOPE(v, p, field, scope) do {				size_t i_, k_ = 0;							(v)->field = NULL;							(v)->n_##field = 0;							if ((p)->n_##field > 0 && ((v)->field = calloc((p)->n_##field,		    sizeof(*(v)->field))) == NULL)						goto oom;							for (i_ = 0; i_ < (p)->n_##field; i_++)						if (plan_in_scope((scope), (p)->field[i_]->domain))				(v)->field[k_++] = (p)->field[i_];			(v)->n_##field = k_;						} while (0)

EpPlan *
plan_view(const EpPlan *p, uint32_t scope)
{
	EpPlan *v;
	size_t i;

	if (p == NULL || (v = malloc(sizeof(*v))) == NULL)
		return NULL;
	*v = *p;
	v->goals = NULL;
	v->actions = NULL;
	v->notes = NULL;
	v->assessments = NULL;
	v->targets = NULL;
	v->escalations = NULL;
	v->n_escalations = 0;
	PLAN_VIEW_IN_SCOPE(v, p, goals, scope);
	PLAN_VIEW_IN_SCOPE(v, p, actions, scope);
	PLAN_VIEW_IN_SCOPE(v, p, notes, scope);
	PLAN_VIEW_IN_SCOPE(v, p, assessments, scope);
	PLAN_VIEW_IN_SCOPE(v, p, targets, scope);
	if (scope == CONSENT_SCOPE_ALL) {
		v->escalations = p->escalations;
		v->n_escalations = p->n_escalations;
		return v;
	}
	/*
	 * Who changed the plan last, and how many items it holds, tell a
	 * scoped reader about work outside its scope; an escalation's reason
	 * is tied to no domain. A scoped reader sees that and when the
	 * household was escalated, not why.
	 */
	v->updated_by = NULL;
	v->next_item_id = 0;
	if (p->n_escalations > 0 && (v->escalations = calloc(p->n_escalations,
	    sizeof(*v->escalations))) == NULL)
		goto oom;
	for (i = 0; i < p->n_escalations; i++) {
		if ((v->escalations[i] = malloc(sizeof(**v->escalations))) ==
		    NULL)
			goto oom;
		*v->escalations[i] = *p->escalations[i];
		v->escalations[i]->reason =
		    (char *)(uintptr_t)protobuf_c_empty_string;
		v->n_escalations = i + 1;
	}
	return v;
oom:
	plan_view_free(v, scope);
	return NULL;
}

void
plan_view_free(EpPlan *v, uint32_t scope)
{
	size_t i;

	if (v == NULL)
		return;
	free(v->goals);
	free(v->actions);
	free(v->notes);
	free(v->assessments);
	free(v->targets);
	if (scope != CONSENT_SCOPE_ALL) {
		for (i = 0; i < v->n_escalations; i++)
			free(v->escalations[i]);
		free(v->escalations);
	}
	free(v);
}

EpPlan *
plan_filter(const EpPlan *p, uint32_t scope)
{
	EpPlan *v, *c;

	if ((v = plan_view(p, scope)) == NULL)
		return NULL;
	c = plan_dup(v);
	plan_view_free(v, scope);
	return c;
}

/* Domain 0 marks a mutation bound to no domain: every reader sees it. */
static int
plan_history_keep(const EpHistoryEntry *c, size_t i, uint32_t scope)
{
	int d;

	/* a mutation without a recorded domain is not known to be in scope */
	if (c->mutation_domains == NULL || i >= c->n_mutation_domains)
		return 0;
	d = c->mutation_domains[i];
	return d == 0 || plan_in_scope(scope, d);
}

int
plan_entry_visible(const EpHistoryEntry *e, uint32_t scope)
{
	size_t i;

	if (e == NULL)
		return 0;
	if (e->n_mutations == 0)
		return 1;
	for (i = 0; i < e->n_mutations; i++)
		if (plan_history_keep(e, i, scope))
			return 1;
	return 0;
}

EpHistoryEntry *
plan_filter_history(const EpHistoryEntry *e, uint32_t scope)
{
	EpHistoryEntry *c;
	size_t i, k = 0;

	if (e == NULL)
		return NULL;
	if ((c = (EpHistoryEntry *)wire_msg_dup(&e->base)) == NULL)
		return NULL;
	for (i = 0; i < c->n_mutations; i++) {
		if (plan_history_keep(c, i, scope)) {
			c->mutations[k] = c->mutations[i];
			c->mutation_domains[k] = c->mutation_domains[i];
			k++;
		} else
			plan_msg_free(c->mutations[i]);
	}
	c->n_mutations = k;
	/* stays parallel: domains of dropped or absent mutations go too */
	if (c->n_mutation_domains > k)
		c->n_mutation_domains = k;
	/* A reason tied to no domain is for readers of the whole plan. */
	if (scope != CONSENT_SCOPE_ALL && c->detail != NULL &&
	    c->detail != protobuf_c_empty_string) {
		free(c->detail);
		c->detail = (char *)(uintptr_t)protobuf_c_empty_string;
	}
	return c;
}
