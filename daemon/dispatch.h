/*
 * dispatch: one decoded request = one call. dispatch_request checks the
 * envelope and hands the call to the handler of its operation (op_*.c).
 * A handler ends the call in one of three ways: call_reply (nothing to
 * audit), call_audit_reply (reads: the audit record is committed by the
 * writer before the answer leaves), or call_write (the writer runs the
 * change and its audit record in one child transaction, then answers).
 */
#ifndef EENPLAN_DISPATCH_H
#define EENPLAN_DISPATCH_H

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"
#include "principal.h"
#include "consent.h"
#include "store.h"
#include "writer.h"

struct conn;
struct server;
struct worker;

struct call {
	struct conn		*ca_conn;
	struct worker		*ca_worker;
	struct server		*ca_srv;
	struct principal	 ca_who;
	uint64_t		 ca_id;
	int64_t			 ca_now;
	EpRequest		*ca_req;	/* decoded within ca_budget */
	struct wire_budget	 ca_budget;
	/* the answer */
	int			 ca_code;	/* EENPLAN__V1__CODE__* */
	char			 ca_msg[256];
	EpResponse		 ca_resp;
	ProtobufCMessage	*ca_body;	/* malloc'd; freed with the call */
	/* the record of it */
	EpAuditRecord		*ca_audit;
	struct wjob		 ca_job;
	wjob_exec_fn		 ca_exec;	/* the handler's part in the writer */
	/* handler state that lives until the answer (freed with the call) */
	void			*ca_state;
	void			(*ca_state_free)(void *);
};

/* A household as one caller sees it at one moment. */
struct hh {
	EpPlan			*hh_plan;
	EpGrant			**hh_grants;
	size_t			 hh_ngrants;
	struct consent_decision	 hh_dec;
	const char		*hh_purpose;	/* of the grant giving access, or NULL */
};

/*
 * A new call on conn for the caller who; its budget (request_memory bytes)
 * is what the request may be decoded into: unpack with
 * &call->ca_budget.wb_alloc, then hand the result to dispatch_request.
 */
struct call *call_new(struct conn *, const struct principal *who, size_t budget);
void	call_free(struct call *);
/* Takes ownership of req, which must have been decoded within the call's budget. */
void	dispatch_request(struct call *, EpRequest *req);
/* Answers a frame that did not decode (the call has no request). */
void	dispatch_bad_frame(struct call *, const char *why);

/* Handing the call back to its worker (from the mailbox). */
void	call_complete(struct wjob *);

/* Endings. */
void	call_reply(struct call *);
void	call_audit_reply(struct call *);
void	call_write(struct call *, wjob_exec_fn);

/* Answer helpers. */
void	call_status(struct call *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	call_body(struct call *, int body_case, void *msg);
/* The one answer for "no such household" and "not allowed" alike. */
void	call_deny(struct call *);
/* A household id from a request: 0, or -1 with INVALID_ARGUMENT set. */
int	call_check_hhid(struct call *, const char *hhid);
/* Starts the audit record for this call (action = operation name). */
void	call_audit_begin(struct call *, const char *action, const char *hhid);

/*
 * Loads household hhid (current plan and all grants) through txn and
 * decides the caller's standing. Returns 0, 1 when it does not exist, or a
 * STORE_* error (< 0).
 */
int	hh_load(struct stxn *, const struct server *, const struct principal *,
	    const char *hhid, int64_t now, struct hh *);
void	hh_free(struct hh *);

/* The read txn of the calling worker, begun; NULL (with status set) on error. */
struct stxn *call_reader(struct call *);
void	call_reader_end(struct call *);

/* Maps a STORE_* code to a status on the call. */
void	call_store_error(struct call *, int rc);
/* A refusal from the plan model as the call's status ("field: message"). */
struct plan_error;
void	call_plan_error(struct call *, const struct plan_error *);
/* Items per page: asked, or page_max when 0 or more was asked. */
uint32_t call_page_limit(const struct call *, uint32_t asked);

/* Both set and equal (wire strings may be NULL in hand-built messages). */
static inline int
str_eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The caller as a wire Principal: pointing into p (for messages only packed). */
void	principal_ep_view(struct principal *p, EpPrincipal *out);
/* A malloc'd copy, for plan and grant trees (free_unpacked compatible). */
EpPrincipal *principal_ep_new(const struct principal *);

/*
 * Commits the next version of plan (version + 1, updated_at/by) through t:
 * the plan, its history entry (kind, the mutations with their domains,
 * detail) and a change event. A plan that would outgrow plan_bytes_max is
 * refused (RESOURCE_EXHAUSTED). Returns a STORE_* code; on error the call's
 * status is set.
 */
int	hh_commit_version(struct call *, struct stxn *t, EpPlan *plan, int kind,
	    EpMutation **muts, int *domains, size_t nmuts, const char *detail);
/* Appends a change event of kind for household hhid at version. */
int	hh_change(struct call *, struct stxn *t, const char *hhid, int kind,
	    uint64_t version);

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

#endif
