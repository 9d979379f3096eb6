/* clireq: the request of each eenplan subcommand (see clireq.h). */
#include <string.h>

#include "clicmd.h"
#include "clireq.h"

static void
init(struct clireq *r)
{
	memset(r, 0, sizeof(*r));
	eenplan__v1__request__init(&r->r_req);
}

void
clireq_build(struct cliopt *o, struct clireq *r)
{
	init(r);
	if (o->o_def != NULL && o->o_def->cc_build != NULL)
		o->o_def->cc_build(o, r);
}

/* ------------------------------------------------------------ plan changes */

/* The one mutation of a plan change, with its MutatePlan wrapper. */
static EpMutation *
mutation(struct cliopt *o, struct clireq *r)
{
	EpMutation *m = &r->r_mut;

	eenplan__v1__mutate_plan_request__init(&r->r_mutate);
	eenplan__v1__mutation__init(m);
	r->r_mutate.household_id = o->o_hh;
	r->r_mutate.expected_version = o->o_expect_version;
	r->r_mutp = m;
	r->r_mutate.n_mutations = 1;
	r->r_mutate.mutations = &r->r_mutp;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_MUTATE_PLAN;
	r->r_req.mutate_plan = &r->r_mutate;
	return m;
}

void
clireq_goal_add(struct cliopt *o, struct clireq *r)
{
	EpMutation *m = mutation(o, r);

	eenplan__v1__add_goal__init(&r->r_add_goal);
	r->r_add_goal.domain = o->o_domain;
	r->r_add_goal.text = o->o_text;
	if (o->o_target_date)
		r->r_add_goal.target_date = o->o_target_date;
	m->op_case = EENPLAN__V1__MUTATION__OP_ADD_GOAL;
	m->add_goal = &r->r_add_goal;
}

void
clireq_goal_status(struct cliopt *o, struct clireq *r)
{
	EpMutation *m = mutation(o, r);

	eenplan__v1__set_goal_status__init(&r->r_goal_status);
	r->r_goal_status.goal_id = (uint32_t)o->o_id;
	r->r_goal_status.status = o->o_status;
	m->op_case = EENPLAN__V1__MUTATION__OP_SET_GOAL_STATUS;
	m->set_goal_status = &r->r_goal_status;
}

void
clireq_action_add(struct cliopt *o, struct clireq *r)
{
	EpMutation *m = mutation(o, r);

	eenplan__v1__add_action__init(&r->r_add_action);
	r->r_add_action.goal_id = o->o_goal;
	r->r_add_action.text = o->o_text;
	r->r_add_action.owner_org = o->o_owner_org;
	if (o->o_owner_subject)
		r->r_add_action.owner_subject = o->o_owner_subject;
	if (o->o_due)
		r->r_add_action.due_date = o->o_due;
	m->op_case = EENPLAN__V1__MUTATION__OP_ADD_ACTION;
	m->add_action = &r->r_add_action;
}

void
clireq_action_status(struct cliopt *o, struct clireq *r)
{
	EpMutation *m = mutation(o, r);

	eenplan__v1__set_action_status__init(&r->r_action_status);
	r->r_action_status.action_id = (uint32_t)o->o_id;
	r->r_action_status.status = o->o_status;
	m->op_case = EENPLAN__V1__MUTATION__OP_SET_ACTION_STATUS;
	m->set_action_status = &r->r_action_status;
}

void
clireq_note_add(struct cliopt *o, struct clireq *r)
{
	EpMutation *m = mutation(o, r);

	eenplan__v1__add_note__init(&r->r_add_note);
	r->r_add_note.domain = o->o_domain;
	r->r_add_note.text = o->o_text;
	m->op_case = EENPLAN__V1__MUTATION__OP_ADD_NOTE;
	m->add_note = &r->r_add_note;
}

void
clireq_assess(struct cliopt *o, struct clireq *r)
{
	EpMutation *m = mutation(o, r);

	eenplan__v1__add_assessment__init(&r->r_add_assessment);
	r->r_add_assessment.domain = o->o_domain;
	r->r_add_assessment.score = o->o_score;
	if (o->o_remark)
		r->r_add_assessment.remark = o->o_remark;
	m->op_case = EENPLAN__V1__MUTATION__OP_ADD_ASSESSMENT;
	m->add_assessment = &r->r_add_assessment;
}

void
clireq_target(struct cliopt *o, struct clireq *r)
{
	EpMutation *m = mutation(o, r);

	eenplan__v1__set_target_score__init(&r->r_target);
	r->r_target.domain = o->o_domain;
	r->r_target.score = o->o_score;
	m->op_case = EENPLAN__V1__MUTATION__OP_SET_TARGET_SCORE;
	m->set_target_score = &r->r_target;
}

void
clireq_member_add(struct cliopt *o, struct clireq *r)
{
	EpMutation *m = mutation(o, r);

	eenplan__v1__add_member__init(&r->r_add_member);
	r->r_member = o->o_members[0];
	r->r_add_member.member = &r->r_member;
	m->op_case = EENPLAN__V1__MUTATION__OP_ADD_MEMBER;
	m->add_member = &r->r_add_member;
}

/* ------------------------------------------------------------ reads */

void
clireq_whoami(struct cliopt *o, struct clireq *r)
{
	(void)o;
	eenplan__v1__who_am_irequest__init(&r->r_whoami);
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_WHO_AM_I;
	r->r_req.who_am_i = &r->r_whoami;
}

void
clireq_households(struct cliopt *o, struct clireq *r)
{
	eenplan__v1__list_households_request__init(&r->r_list);
	r->r_list.page_size = o->o_page_size;
	if (o->o_page_token)
		r->r_list.page_token = o->o_page_token;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_LIST_HOUSEHOLDS;
	r->r_req.list_households = &r->r_list;
}

void
clireq_plan_version(struct clireq *r, char *hh, uint64_t version)
{
	init(r);
	eenplan__v1__get_plan_request__init(&r->r_get_plan);
	r->r_get_plan.household_id = hh;
	r->r_get_plan.version = version;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_GET_PLAN;
	r->r_req.get_plan = &r->r_get_plan;
}

void
clireq_get_plan(struct cliopt *o, struct clireq *r)
{
	clireq_plan_version(r, o->o_hh, o->o_version);
}

void
clireq_history_after(struct clireq *r, char *hh, uint64_t after)
{
	init(r);
	eenplan__v1__get_history_request__init(&r->r_history);
	r->r_history.household_id = hh;
	r->r_history.after_version = after;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_GET_HISTORY;
	r->r_req.get_history = &r->r_history;
}

void
clireq_history(struct cliopt *o, struct clireq *r)
{
	clireq_history_after(r, o->o_hh, o->o_after);
	r->r_history.limit = o->o_limit;
}

void
clireq_audit(struct cliopt *o, struct clireq *r)
{
	eenplan__v1__query_audit_request__init(&r->r_audit);
	if (o->o_hh[0] != '\0')
		r->r_audit.household_id = o->o_hh;
	r->r_audit.from = o->o_from;
	r->r_audit.until = o->o_until;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_QUERY_AUDIT;
	r->r_req.query_audit = &r->r_audit;
}

void
clireq_audit_household(struct clireq *r, char *hh)
{
	init(r);
	eenplan__v1__query_audit_request__init(&r->r_audit);
	r->r_audit.household_id = hh;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_QUERY_AUDIT;
	r->r_req.query_audit = &r->r_audit;
}

void
clireq_list_signals(struct clireq *r, char *hh, uint64_t after)
{
	init(r);
	eenplan__v1__list_signals_request__init(&r->r_list_signals);
	r->r_list_signals.household_id = hh;
	r->r_list_signals.after = after;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_LIST_SIGNALS;
	r->r_req.list_signals = &r->r_list_signals;
}

void
clireq_households_page(struct clireq *r, char *token)
{
	init(r);
	eenplan__v1__list_households_request__init(&r->r_list);
	if (token != NULL)
		r->r_list.page_token = token;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_LIST_HOUSEHOLDS;
	r->r_req.list_households = &r->r_list;
}

void
clireq_signal_send(struct cliopt *o, struct clireq *r)
{
	eenplan__v1__send_signal_request__init(&r->r_send_signal);
	r->r_send_signal.household_id = o->o_hh;
	r->r_send_signal.domain = o->o_domain;
	r->r_send_signal.text = o->o_text;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_SEND_SIGNAL;
	r->r_req.send_signal = &r->r_send_signal;
}

void
clireq_signals(struct cliopt *o, struct clireq *r)
{
	clireq_list_signals(r, o->o_hh, 0);
}

void
clireq_changes(struct cliopt *o, struct clireq *r)
{
	eenplan__v1__read_changes_request__init(&r->r_changes);
	r->r_changes.since_seq = o->o_since;
	r->r_changes.limit = o->o_limit;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_READ_CHANGES;
	r->r_req.read_changes = &r->r_changes;
}

/* ------------------------------------------------------------ household */

void
clireq_household_create(struct cliopt *o, struct clireq *r)
{
	size_t i;

	eenplan__v1__create_household_request__init(&r->r_create);
	r->r_create.area = o->o_area;
	for (i = 0; i < o->o_nmembers; i++)
		r->r_memberp[i] = &o->o_members[i];
	r->r_create.n_members = o->o_nmembers;
	r->r_create.members = r->r_memberp;
	r->r_create.consent_reference = o->o_consent_ref;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_CREATE_HOUSEHOLD;
	r->r_req.create_household = &r->r_create;
}

void
clireq_regie_transfer(struct cliopt *o, struct clireq *r)
{
	eenplan__v1__transfer_regie_request__init(&r->r_regie);
	r->r_regie.household_id = o->o_hh;
	r->r_regie.to_org = o->o_to_org;
	r->r_regie.to_subject = o->o_to_subject;
	r->r_regie.form_reference = o->o_form_ref;
	if (o->o_reason)
		r->r_regie.reason = o->o_reason;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_TRANSFER_REGIE;
	r->r_req.transfer_regie = &r->r_regie;
}

void
clireq_breakglass(struct cliopt *o, struct clireq *r)
{
	eenplan__v1__break_glass_request__init(&r->r_break_glass);
	r->r_break_glass.household_id = o->o_hh;
	r->r_break_glass.reason = o->o_reason;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_BREAK_GLASS;
	r->r_req.break_glass = &r->r_break_glass;
}

void
clireq_escalate(struct cliopt *o, struct clireq *r)
{
	eenplan__v1__escalate_request__init(&r->r_escalate);
	r->r_escalate.household_id = o->o_hh;
	r->r_escalate.reason = o->o_reason;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_ESCALATE;
	r->r_req.escalate = &r->r_escalate;
}

void
clireq_close(struct cliopt *o, struct clireq *r)
{
	eenplan__v1__close_household_request__init(&r->r_close);
	r->r_close.household_id = o->o_hh;
	r->r_close.reason = o->o_reason;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_CLOSE_HOUSEHOLD;
	r->r_req.close_household = &r->r_close;
}

/* ------------------------------------------------------------ consent */

void
clireq_consent_grant(struct cliopt *o, struct clireq *r)
{
	EpGrant *g = &r->r_grant;
	size_t i;

	eenplan__v1__grant_consent_request__init(&r->r_grant_req);
	eenplan__v1__grant__init(g);
	r->r_grant_req.household_id = o->o_hh;
	r->r_grant_req.grant = g;
	g->grantee_org = o->o_to_org;
	if (o->o_to_subject)
		g->grantee_subject = o->o_to_subject;
	if (o->o_to_team)
		g->grantee_team = o->o_to_team;
	g->access = o->o_access;
	for (i = 0; i < o->o_ndomains; i++)
		r->r_scope[i] = o->o_domains[i];
	g->n_scope = o->o_ndomains;
	g->scope = o->o_ndomains ? r->r_scope : NULL;
	g->valid_from = o->o_from;
	g->valid_until = o->o_until;
	g->purpose = o->o_purpose;
	if (o->o_form_ref) {
		g->form_reference = o->o_form_ref;
		g->on_behalf = 1;
	}
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_GRANT_CONSENT;
	r->r_req.grant_consent = &r->r_grant_req;
}

void
clireq_consent_revoke(struct cliopt *o, struct clireq *r)
{
	eenplan__v1__revoke_consent_request__init(&r->r_revoke);
	r->r_revoke.household_id = o->o_hh;
	r->r_revoke.grant_id = o->o_id;
	if (o->o_form_ref)
		r->r_revoke.form_reference = o->o_form_ref;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_REVOKE_CONSENT;
	r->r_req.revoke_consent = &r->r_revoke;
}

void
clireq_consent_all(struct clireq *r, char *hh)
{
	init(r);
	eenplan__v1__list_consent_request__init(&r->r_list_consent);
	r->r_list_consent.household_id = hh;
	r->r_list_consent.include_past = 1;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_LIST_CONSENT;
	r->r_req.list_consent = &r->r_list_consent;
}

void
clireq_consent_list(struct cliopt *o, struct clireq *r)
{
	clireq_consent_all(r, o->o_hh);
	r->r_list_consent.include_past = o->o_all;
}
