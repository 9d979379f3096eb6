/*
 * dispatch: the operation table — which handler (op_*.c) answers which
 * request, and the envelope checks before it does.
 */
#ifndef EENPLAN_DISPATCH_H
#define EENPLAN_DISPATCH_H

#include "call.h"

/* Takes ownership of req, which must have been decoded within the call's budget. */
void	dispatch_request(struct call *, EpRequest *req);
/* Answers a frame that did not decode (the call has no request). */
void	dispatch_bad_frame(struct call *, const char *why);
/* The operation's name ("GetPlan") for a request body case; NULL if none. */
const char *dispatch_op_name(int body_case);

/* Handlers (op_*.c). */
void	op_who_am_i(struct call *);
void	op_create_household(struct call *);
void	op_get_plan(struct call *);
void	op_mutate_plan(struct call *);
void	op_get_history(struct call *);
void	op_list_households(struct call *);
void	op_grant_consent(struct call *);
void	op_revoke_consent(struct call *);
void	op_list_consent(struct call *);
void	op_transfer_regie(struct call *);
void	op_break_glass(struct call *);
void	op_escalate(struct call *);
void	op_close_household(struct call *);
void	op_query_audit(struct call *);
void	op_read_changes(struct call *);
void	op_send_signal(struct call *);
void	op_list_signals(struct call *);
void	op_subscribe(struct call *);
void	op_unsubscribe(struct call *);

#endif
