/*
 * clireq: the request each subcommand sends, built from its checked
 * arguments. No I/O; the request points into the struct cliopt it came from.
 */
#ifndef EENPLAN_CLIREQ_H
#define EENPLAN_CLIREQ_H

#include "cliopt.h"
#include "wire.h"

/* Storage for any one request the CLI sends. */
struct clireq {
	EpRequest					r_req;
	Eenplan__V1__WhoAmIRequest			r_whoami;
	Eenplan__V1__CreateHouseholdRequest		r_create;
	EpMember					*r_memberp[CLIOPT_MAX_MEMBERS];
	Eenplan__V1__ListHouseholdsRequest		r_list;
	Eenplan__V1__GetPlanRequest			r_get_plan;
	Eenplan__V1__MutatePlanRequest			r_mutate;
	EpMutation					r_mut;
	EpMutation					*r_mutp;
	Eenplan__V1__AddGoal				r_add_goal;
	Eenplan__V1__SetGoalStatus			r_goal_status;
	Eenplan__V1__AddAction				r_add_action;
	Eenplan__V1__SetActionStatus			r_action_status;
	Eenplan__V1__AddNote				r_add_note;
	Eenplan__V1__AddAssessment			r_add_assessment;
	Eenplan__V1__SetTargetScore			r_target;
	Eenplan__V1__AddMember				r_add_member;
	EpMember					r_member;
	Eenplan__V1__GetHistoryRequest			r_history;
	Eenplan__V1__GrantConsentRequest		r_grant_req;
	EpGrant						r_grant;
	Eenplan__V1__Domain				r_scope[13];
	Eenplan__V1__RevokeConsentRequest		r_revoke;
	Eenplan__V1__ListConsentRequest			r_list_consent;
	Eenplan__V1__TransferRegieRequest		r_regie;
	Eenplan__V1__BreakGlassRequest			r_break_glass;
	Eenplan__V1__EscalateRequest			r_escalate;
	Eenplan__V1__CloseHouseholdRequest		r_close;
	Eenplan__V1__QueryAuditRequest			r_audit;
	Eenplan__V1__ReadChangesRequest			r_changes;
	Eenplan__V1__SendSignalRequest			r_send_signal;
	Eenplan__V1__ListSignalsRequest			r_list_signals;
};

/* Fills r with the (first) request of o's subcommand (from its table row). */
void	clireq_build(struct cliopt *o, struct clireq *r);

/* One builder per request; the subcommand table names them. */
void	clireq_whoami(struct cliopt *, struct clireq *);
void	clireq_household_create(struct cliopt *, struct clireq *);
void	clireq_households(struct cliopt *, struct clireq *);
void	clireq_get_plan(struct cliopt *, struct clireq *);	/* o_version */
void	clireq_goal_add(struct cliopt *, struct clireq *);
void	clireq_goal_status(struct cliopt *, struct clireq *);
void	clireq_action_add(struct cliopt *, struct clireq *);
void	clireq_action_status(struct cliopt *, struct clireq *);
void	clireq_note_add(struct cliopt *, struct clireq *);
void	clireq_assess(struct cliopt *, struct clireq *);
void	clireq_target(struct cliopt *, struct clireq *);
void	clireq_member_add(struct cliopt *, struct clireq *);
void	clireq_history(struct cliopt *, struct clireq *);
void	clireq_consent_grant(struct cliopt *, struct clireq *);
void	clireq_consent_revoke(struct cliopt *, struct clireq *);
void	clireq_consent_list(struct cliopt *, struct clireq *);	/* o_all */
void	clireq_regie_transfer(struct cliopt *, struct clireq *);
void	clireq_breakglass(struct cliopt *, struct clireq *);
void	clireq_escalate(struct cliopt *, struct clireq *);
void	clireq_close(struct cliopt *, struct clireq *);
void	clireq_audit(struct cliopt *, struct clireq *);
void	clireq_changes(struct cliopt *, struct clireq *);
void	clireq_signal_send(struct cliopt *, struct clireq *);
void	clireq_signals(struct cliopt *, struct clireq *);	/* o_hh may be "" */

/* Requests the composite subcommands send besides their first. */
void	clireq_plan_version(struct clireq *r, char *hh, uint64_t version);
void	clireq_consent_all(struct clireq *r, char *hh);
void	clireq_history_after(struct clireq *r, char *hh, uint64_t after);
void	clireq_audit_household(struct clireq *r, char *hh);
void	clireq_list_signals(struct clireq *r, char *hh, uint64_t after);	/* hh "": own */
void	clireq_households_page(struct clireq *r, char *token);

#endif
