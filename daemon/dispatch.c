/* dispatch: the life of one request, from decoded frame to answer (see dispatch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "audit.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "plan.h"
#include "server.h"
#include "util.h"

struct call *
call_new(struct conn *c, const struct principal *who, size_t budget)
{
	struct call *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return NULL;
	ca->ca_conn = c;
	ca->ca_worker = c->c_worker;
	ca->ca_srv = c->c_worker->w_srv;
	ca->ca_who = *who;
	ca->ca_code = EENPLAN__V1__CODE__OK;
	wire_budget_init(&ca->ca_budget, budget);
	eenplan__v1__response__init(&ca->ca_resp);
	conn_ref(c);
	c->c_inflight++;
	return ca;
}

void
call_free(struct call *ca)
{
	if (ca == NULL)
		return;
	if (ca->ca_req != NULL)
		protobuf_c_message_free_unpacked(&ca->ca_req->base,
		    &ca->ca_budget.wb_alloc);
	if (ca->ca_body != NULL)
		protobuf_c_message_free_unpacked(ca->ca_body, NULL);
	if (ca->ca_state_free != NULL)
		ca->ca_state_free(ca->ca_state);
	audit_record_free(ca->ca_audit);
	free(ca);
}

void
call_status(struct call *ca, int code, const char *fmt, ...)
{
	va_list ap;

	ca->ca_code = code;
	va_start(ap, fmt);
	vsnprintf(ca->ca_msg, sizeof(ca->ca_msg), fmt, ap);
	va_end(ap);
}

void
call_body(struct call *ca, int body_case, void *msg)
{
	if (ca->ca_body != NULL)
		protobuf_c_message_free_unpacked(ca->ca_body, NULL);
	ca->ca_body = msg;
	ca->ca_resp.body_case = body_case;
	/* Every member of the body union is a pointer to a message. */
	ca->ca_resp.who_am_i = msg;
}

void
call_deny(struct call *ca)
{
	call_status(ca, EENPLAN__V1__CODE__PERMISSION_DENIED,
	    "no access to this household");
}

void
call_store_error(struct call *ca, int rc)
{
	switch (rc) {
	case STORE_FULL:
		call_status(ca, EENPLAN__V1__CODE__RESOURCE_EXHAUSTED,
		    "storage full: nothing was changed");
		break;
	case STORE_CORRUPT:
		call_status(ca, EENPLAN__V1__CODE__DATA_LOSS,
		    "a stored record failed its checksum");
		break;
	default:
		call_status(ca, EENPLAN__V1__CODE__INTERNAL,
		    "storage error: %s", store_strerror(rc));
		break;
	}
}

void
call_plan_error(struct call *ca, const struct plan_error *pe)
{
	if (pe->pe_field[0] != '\0')
		call_status(ca, pe->pe_code, "%s: %s", pe->pe_field, pe->pe_msg);
	else
		call_status(ca, pe->pe_code, "%s", pe->pe_msg);
}

uint32_t
call_page_limit(const struct call *ca, uint32_t asked)
{
	uint32_t max = ca->ca_srv->s_conf->c_page_max;

	/* The config allows no 0, but a page of 0 would never move on. */
	if (max == 0)
		max = 1;
	return asked == 0 || asked > max ? max : asked;
}

int
call_check_hhid(struct call *ca, const char *hhid)
{
	if (util_valid_household_id(hhid))
		return 0;
	call_status(ca, EENPLAN__V1__CODE__INVALID_ARGUMENT,
	    "household_id: must be 32 lower-case hexadecimal characters");
	return -1;
}

void
call_audit_begin(struct call *ca, const char *action, const char *hhid)
{
	audit_record_free(ca->ca_audit);
	ca->ca_audit = audit_record_new(&ca->ca_who, action,
	    hhid != NULL && util_valid_household_id(hhid) ? hhid : NULL,
	    ca->ca_now);
}

struct stxn *
call_reader(struct call *ca)
{
	struct stxn *t = ca->ca_worker->w_rtxn;
	int rc;

	if ((rc = store_reader_begin(t)) != STORE_OK) {
		call_store_error(ca, rc);
		return NULL;
	}
	return t;
}

void
call_reader_end(struct call *ca)
{
	store_reader_end(ca->ca_worker->w_rtxn);
}

int
hh_load(struct stxn *t, const struct server *srv, const struct principal *who,
    const char *hhid, int64_t now, struct hh *hh)
{
	size_t i;
	int rc;

	memset(hh, 0, sizeof(*hh));
	rc = store_plan_get(t, hhid, 0, &hh->hh_plan);
	if (rc != STORE_OK)
		return rc;
	rc = store_grants_get(t, hhid, &hh->hh_grants, &hh->hh_ngrants);
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		hh_free(hh);
		return rc;
	}
	consent_evaluate(&srv->s_consent, who, hh->hh_plan, hh->hh_grants,
	    hh->hh_ngrants, now, &hh->hh_dec);
	for (i = 0; i < hh->hh_ngrants; i++)
		if (hh->hh_grants[i]->id == hh->hh_dec.cd_grant_id)
			hh->hh_purpose = hh->hh_grants[i]->purpose;
	return STORE_OK;
}

void
hh_free(struct hh *hh)
{
	if (hh->hh_plan != NULL)
		plan_free(hh->hh_plan);
	if (hh->hh_grants != NULL)
		store_free_list((void **)hh->hh_grants, hh->hh_ngrants);
	memset(hh, 0, sizeof(*hh));
}

void
call_reply(struct call *ca)
{
	EpStatus st = EENPLAN__V1__STATUS__INIT;

	ca->ca_resp.id = ca->ca_id;
	if (ca->ca_code != EENPLAN__V1__CODE__OK) {
		st.code = ca->ca_code;
		st.message = ca->ca_msg;
		ca->ca_resp.status = &st;
		/* A refused request carries no data. */
		ca->ca_resp.body_case = EENPLAN__V1__RESPONSE__BODY__NOT_SET;
	}
	conn_respond(ca->ca_conn, &ca->ca_resp);
	ca->ca_resp.status = NULL;
	call_free(ca);
}

static void
call_post(struct wjob *j)
{
	struct call *ca = j->wj_arg;

	mailbox_post(&ca->ca_worker->w_mailbox, j);
}

/* In the worker, after the writer committed (or failed) the call's batch. */
void
call_complete(struct wjob *j)
{
	struct call *ca = j->wj_arg;

	if (j->wj_rc != STORE_OK) {
		/* Nothing unaudited leaves: whatever the handler had, it fails. */
		if (j->wj_rc == STORE_FULL)
			call_status(ca, EENPLAN__V1__CODE__RESOURCE_EXHAUSTED,
			    "storage full: the request and its audit record "
			    "could not be committed; nothing was served or "
			    "changed");
		else
			call_status(ca, EENPLAN__V1__CODE__UNAVAILABLE,
			    "the request and its audit record could not be "
			    "committed (%s); nothing was served or changed",
			    store_strerror(j->wj_rc));
		log_warnx("request %llu of %s/%s failed at commit: %s",
		    (unsigned long long)ca->ca_id, ca->ca_who.pr_org,
		    ca->ca_who.pr_subject, store_strerror(j->wj_rc));
	}
	call_reply(ca);
}

static void
call_outcome_to_audit(struct call *ca)
{
	if (ca->ca_audit == NULL)
		return;
	ca->ca_audit->outcome = ca->ca_code;
	if (ca->ca_code != EENPLAN__V1__CODE__OK &&
	    ca->ca_audit->detail == protobuf_c_empty_string)
		audit_record_set(ca->ca_audit, ca->ca_code, NULL, "%s",
		    ca->ca_msg);
}

void
call_audit_reply(struct call *ca)
{
	if (ca->ca_audit == NULL) {
		call_status(ca, EENPLAN__V1__CODE__INTERNAL,
		    "audit record could not be made");
		call_reply(ca);
		return;
	}
	call_outcome_to_audit(ca);
	ca->ca_job.wj_exec = NULL;
	ca->ca_job.wj_post = call_post;
	ca->ca_job.wj_arg = ca;
	ca->ca_job.wj_audit = ca->ca_audit;
	writer_submit(ca->ca_srv->s_writer, &ca->ca_job);
}

/* In the writer thread: the handler's change, then the outcome for the record. */
static int
call_exec(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	int rc;

	rc = ca->ca_exec(j, t);
	if (rc == 0 && ca->ca_code != EENPLAN__V1__CODE__OK)
		rc = -1;
	/*
	 * The writer rolls a failed change back, so it must not be answered
	 * OK; a handler that failed without saying why ran out of memory.
	 */
	if (rc != 0 && ca->ca_code == EENPLAN__V1__CODE__OK)
		call_status(ca, EENPLAN__V1__CODE__INTERNAL, "out of memory");
	call_outcome_to_audit(ca);
	return rc;
}

void
call_write(struct call *ca, wjob_exec_fn fn)
{
	if (ca->ca_audit == NULL) {
		call_status(ca, EENPLAN__V1__CODE__INTERNAL,
		    "audit record could not be made");
		call_reply(ca);
		return;
	}
	ca->ca_exec = fn;
	ca->ca_job.wj_exec = call_exec;
	ca->ca_job.wj_post = call_post;
	ca->ca_job.wj_arg = ca;
	ca->ca_job.wj_audit = ca->ca_audit;
	writer_submit(ca->ca_srv->s_writer, &ca->ca_job);
}

void
dispatch_bad_frame(struct call *ca, const char *why)
{
	call_status(ca, EENPLAN__V1__CODE__INVALID_ARGUMENT, "%s", why);
	call_reply(ca);
}

static void
op_unimplemented(struct call *ca)
{
	call_status(ca, EENPLAN__V1__CODE__UNIMPLEMENTED,
	    "this operation is not implemented yet");
	call_reply(ca);
}

void
dispatch_request(struct call *ca, EpRequest *req)
{
	ca->ca_req = req;
	ca->ca_id = req->id;
	ca->ca_now = util_now_us();
	if (req->id == 0) {
		dispatch_bad_frame(ca, "request id must be at least 1");
		return;
	}
	switch (req->body_case) {
	case EENPLAN__V1__REQUEST__BODY_WHO_AM_I:
		op_who_am_i(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_CREATE_HOUSEHOLD:
		op_create_household(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_GET_PLAN:
		op_get_plan(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_MUTATE_PLAN:
		op_mutate_plan(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_GET_HISTORY:
		op_get_history(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_LIST_HOUSEHOLDS:
		op_list_households(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_GRANT_CONSENT:
		op_grant_consent(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_REVOKE_CONSENT:
		op_revoke_consent(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_LIST_CONSENT:
		op_list_consent(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_TRANSFER_REGIE:
		op_transfer_regie(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_BREAK_GLASS:
		op_break_glass(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_ESCALATE:
		op_escalate(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_CLOSE_HOUSEHOLD:
		op_close_household(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_QUERY_AUDIT:
		op_query_audit(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY_READ_CHANGES:
	case EENPLAN__V1__REQUEST__BODY_SUBSCRIBE:
	case EENPLAN__V1__REQUEST__BODY_UNSUBSCRIBE:
		op_unimplemented(ca);
		break;
	case EENPLAN__V1__REQUEST__BODY__NOT_SET:
		dispatch_bad_frame(ca, "request has no operation");
		break;
	default:
		/* An unknown field number decodes as NOT_SET; be safe anyway. */
		op_unimplemented(ca);
		break;
	}
}

void
principal_ep_view(struct principal *p, EpPrincipal *out)
{
	eenplan__v1__principal__init(out);
	out->org = p->pr_org;
	out->subject = p->pr_subject;
	out->role = p->pr_role;
}

EpPrincipal *
principal_ep_new(const struct principal *p)
{
	EpPrincipal *e;

	if ((e = malloc(sizeof(*e))) == NULL)
		return NULL;
	eenplan__v1__principal__init(e);
	e->org = strdup(p->pr_org);
	e->subject = strdup(p->pr_subject);
	e->role = p->pr_role;
	if (e->org == NULL || e->subject == NULL) {
		free(e->org);
		free(e->subject);
		free(e);
		return NULL;
	}
	return e;
}

int
hh_change(struct call *ca, struct stxn *t, const char *hhid, int kind,
    uint64_t version)
{
	EpChangeEvent ev = EENPLAN__V1__CHANGE_EVENT__INIT;
	EpPrincipal actor;
	int rc;

	principal_ep_view(&ca->ca_who, &actor);
	ev.household_id = (char *)(uintptr_t)hhid;
	ev.kind = kind;
	ev.version = version;
	ev.at = ca->ca_now;
	ev.actor = &actor;
	if ((rc = store_change_append(t, &ev)) != STORE_OK)
		call_store_error(ca, rc);
	return rc;
}

int
hh_commit_version(struct call *ca, struct stxn *t, EpPlan *plan, int kind,
    EpMutation **muts, int *domains, size_t nmuts, const char *detail)
{
	EpHistoryEntry e = EENPLAN__V1__HISTORY_ENTRY__INIT;
	EpPrincipal actor, *by;
	size_t size, max;
	int rc;

	if ((by = principal_ep_new(&ca->ca_who)) == NULL) {
		call_status(ca, EENPLAN__V1__CODE__INTERNAL, "out of memory");
		return STORE_ERR;
	}
	if (plan->updated_by != NULL)
		protobuf_c_message_free_unpacked(&plan->updated_by->base, NULL);
	plan->updated_by = by;
	plan->version++;
	plan->updated_at = ca->ca_now;
	/*
	 * A plan GetPlan could not answer within a frame would be lost to
	 * its readers, and every version is stored whole: refuse the growth.
	 */
	size = protobuf_c_message_get_packed_size(&plan->base);
	max = plan_bytes_max(ca->ca_srv->s_conf->c_max_frame);
	if (size > max) {
		call_status(ca, EENPLAN__V1__CODE__RESOURCE_EXHAUSTED,
		    "plan: would grow to %zu bytes, over the limit of %zu; "
		    "nothing was changed", size, max);
		return STORE_ERR;
	}

	principal_ep_view(&ca->ca_who, &actor);
	e.version = plan->version;
	e.at = ca->ca_now;
	e.actor = &actor;
	e.kind = kind;
	e.mutations = muts;
	e.n_mutations = nmuts;
	e.mutation_domains = (Eenplan__V1__Domain *)domains;
	e.n_mutation_domains = domains != NULL ? nmuts : 0;
	if (detail != NULL)
		e.detail = (char *)(uintptr_t)detail;
	if ((rc = store_plan_put(t, plan, &e)) != STORE_OK) {
		call_store_error(ca, rc);
		return rc;
	}
	return hh_change(ca, t, plan->household_id, kind, plan->version);
}
