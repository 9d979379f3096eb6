/* dispatch: the operation table (see dispatch.h). */
#include <stddef.h>

#include "dispatch.h"
#include "util.h"

#define BODY(x)	EENPLAN__V1__REQUEST__BODY_##x

struct dispatch_op {
	int		 do_body;
	const char	*do_name;
	void		(*do_fn)(struct call *);	/* NULL: not implemented */
};

static const struct dispatch_op dispatch_ops[] = {
	{ BODY(WHO_AM_I),		"WhoAmI",		op_who_am_i },
	{ BODY(CREATE_HOUSEHOLD),	"CreateHousehold",	op_create_household },
	{ BODY(GET_PLAN),		"GetPlan",		op_get_plan },
	{ BODY(MUTATE_PLAN),		"MutatePlan",		op_mutate_plan },
	{ BODY(GET_HISTORY),		"GetHistory",		op_get_history },
	{ BODY(LIST_HOUSEHOLDS),	"ListHouseholds",	op_list_households },
	{ BODY(GRANT_CONSENT),		"GrantConsent",		op_grant_consent },
	{ BODY(REVOKE_CONSENT),		"RevokeConsent",	op_revoke_consent },
	{ BODY(LIST_CONSENT),		"ListConsent",		op_list_consent },
	{ BODY(TRANSFER_REGIE),		"TransferRegie",	op_transfer_regie },
	{ BODY(BREAK_GLASS),		"BreakGlass",		op_break_glass },
	{ BODY(ESCALATE),		"Escalate",		op_escalate },
	{ BODY(CLOSE_HOUSEHOLD),	"CloseHousehold",	op_close_household },
	{ BODY(QUERY_AUDIT),		"QueryAudit",		op_query_audit },
	{ BODY(READ_CHANGES),		"ReadChanges",		op_read_changes },
	{ BODY(SUBSCRIBE),		"Subscribe",		op_subscribe },
	{ BODY(UNSUBSCRIBE),		"Unsubscribe",		op_unsubscribe },
	{ BODY(SEND_SIGNAL),		"SendSignal",		op_send_signal },
	{ BODY(LIST_SIGNALS),		"ListSignals",		op_list_signals },
};

static const struct dispatch_op *
dispatch_find(int body_case)
{
	size_t i;

	for (i = 0; i < sizeof(dispatch_ops) / sizeof(dispatch_ops[0]); i++)
		if (dispatch_ops[i].do_body == body_case)
			return &dispatch_ops[i];
	return NULL;
}

const char *
dispatch_op_name(int body_case)
{
	const struct dispatch_op *op = dispatch_find(body_case);

	return op != NULL ? op->do_name : NULL;
}

void
dispatch_bad_frame(struct call *ca, const char *why)
{
	call_status(ca, EENPLAN__V1__CODE__INVALID_ARGUMENT, "%s", why);
	call_reply(ca);
}

void
dispatch_request(struct call *ca, EpRequest *req)
{
	const struct dispatch_op *op;

	ca->ca_req = req;
	ca->ca_id = req->id;
	ca->ca_now = util_now_us();
	if (req->id == 0) {
		dispatch_bad_frame(ca, "request id must be at least 1");
		return;
	}
	if (req->body_case == EENPLAN__V1__REQUEST__BODY__NOT_SET) {
		/* An unknown field number decodes as NOT_SET too. */
		dispatch_bad_frame(ca, "request has no operation (or one this "
		    "server does not know)");
		return;
	}
	call_know(ca);
	if ((op = dispatch_find(req->body_case)) == NULL || op->do_fn == NULL) {
		call_status(ca, EENPLAN__V1__CODE__UNIMPLEMENTED,
		    "%s is not implemented yet", op != NULL ? op->do_name :
		    "this operation");
		call_reply(ca);
		return;
	}
	op->do_fn(ca);
}
