/* call: the life of one request, from decoded frame to answer (see call.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "audit.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "quota.h"
#include "util.h"

struct call *
call_new(const struct call_env *env, const struct call_sink *sink,
    const struct principal *who, size_t budget)
{
	struct call *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return NULL;
	ca->ca_env = env;
	ca->ca_sink = *sink;
	ca->ca_who = *who;
	ca->ca_code = CODE(OK);
	ca->ca_start = metrics_now_us();
	wire_budget_init(&ca->ca_budget, budget);
	eenplan__v1__response__init(&ca->ca_resp);
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
	free(ca->ca_frame);
	if (ca->ca_state_free != NULL)
		ca->ca_state_free(ca->ca_state);
	audit_record_free(ca->ca_audit);
	free(ca->ca_checks);
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
call_frame(struct call *ca, uint8_t *buf, size_t off, size_t len)
{
	free(ca->ca_frame);
	ca->ca_frame = buf;
	ca->ca_frame_off = off;
	ca->ca_frame_len = len;
}

/* What a failed call must not send: whatever it had prepared. */
static void
call_drop_answer(struct call *ca)
{
	if (ca->ca_body != NULL)
		protobuf_c_message_free_unpacked(ca->ca_body, NULL);
	ca->ca_body = NULL;
	ca->ca_resp.body_case = EENPLAN__V1__RESPONSE__BODY__NOT_SET;
	free(ca->ca_frame);
	ca->ca_frame = NULL;
}

void
call_deny(struct call *ca)
{
	call_status(ca, CODE(PERMISSION_DENIED), "no access to this household");
}

void
call_store_error(struct call *ca, int rc)
{
	switch (rc) {
	case STORE_FULL:
		call_status(ca, CODE(RESOURCE_EXHAUSTED),
		    "storage full (map_max): nothing was changed");
		break;
	case STORE_DISK_FULL:
		call_status(ca, CODE(RESOURCE_EXHAUSTED),
		    "disk full: the store's file system has no space left; "
		    "nothing was changed");
		break;
	case STORE_CORRUPT:
	case STORE_NOKEY:
		call_status(ca, CODE(DATA_LOSS),
		    "stored data failed its integrity check; nothing was "
		    "served (the operator is told in the log)");
		break;
	default:
		call_status(ca, CODE(INTERNAL), "storage error: %s",
		    store_strerror(rc));
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
	uint32_t max = ca->ca_env->ce_conf->c_page_max;

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
	call_status(ca, CODE(INVALID_ARGUMENT),
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

int
call_check(struct call *ca, const struct household *h, int op)
{
	const struct consent_decision *d = &h->h_dec;
	struct call_check *v, *c;

	v = reallocarray(ca->ca_checks, ca->ca_nchecks + 1, sizeof(*v));
	if (v == NULL)
		return -1;
	ca->ca_checks = v;
	c = &v[ca->ca_nchecks++];
	memset(c, 0, sizeof(*c));
	snprintf(c->cc_hhid, sizeof(c->cc_hhid), "%s", h->h_id);
	c->cc_op = op;
	c->cc_access = d->cd_access;
	c->cc_scope = d->cd_scope;
	/*
	 * What lets the writer skip deciding again: the decision allowed op
	 * here (as household_recheck asks), on the record of this stamp.
	 */
	if (h->h_stamp.ss_set && consent_allows(ca->ca_env->ce_hh->hc_consent,
	    &ca->ca_who, d, op, 0, NULL)) {
		c->cc_stamp = h->h_stamp;
		c->cc_at = h->h_now;
		c->cc_until = d->cd_until;
	}
	return 0;
}

struct stxn *
call_reader(struct call *ca)
{
	struct stxn *t = ca->ca_env->ce_reader;
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
	store_reader_end(ca->ca_env->ce_reader);
}

int
call_household(struct call *ca, struct stxn *t, const char *hhid,
    struct household *h)
{
	const char *cap;
	char *c;
	int rc;

	rc = household_load(t, ca->ca_env->ce_hh, &ca->ca_who, hhid,
	    ca->ca_now, h);
	/*
	 * The capacity the caller acts in, as it is now: whether the
	 * household's log names the person follows it, not a later change.
	 */
	if (rc == STORE_OK && ca->ca_audit != NULL &&
	    str_eq(ca->ca_audit->household_id, hhid) &&
	    (cap = consent_capacity(&ca->ca_who, &h->h_dec))[0] != '\0' &&
	    (c = strdup(cap)) != NULL) {
		if (ca->ca_audit->actor_capacity != protobuf_c_empty_string)
			free(ca->ca_audit->actor_capacity);
		ca->ca_audit->actor_capacity = c;
	}
	return rc;
}

/* ------------------------------------------------------------ endings */

/* Packs the response; one too large for a frame says so instead. */
static uint8_t *
call_pack(struct call *ca, size_t *len)
{
	uint32_t max = ca->ca_sink.cs_max_frame;
	EpResponse err = EENPLAN__V1__RESPONSE__INIT;
	EpStatus st = EENPLAN__V1__STATUS__INIT;
	uint8_t *frame;

	if ((frame = wire_frame_pack(&ca->ca_resp.base, max, len)) != NULL)
		return frame;
	st.code = CODE(RESOURCE_EXHAUSTED);
	st.message = (char *)(uintptr_t)"the answer is larger than the frame "
	    "limit; ask for a smaller page";
	err.id = ca->ca_id;
	err.status = &st;
	return wire_frame_pack(&err.base, max, len);
}

/*
 * Counted once, by operation and status, when answered — or, for a
 * Subscribe, when it begins (its last answer, when it ends, is not).
 */
static void
call_count(struct call *ca)
{
	if (ca->ca_counted)
		return;
	ca->ca_counted = 1;
	metrics_request(ca->ca_req != NULL ? (int)ca->ca_req->body_case : 0,
	    ca->ca_code, (uint64_t)(metrics_now_us() - ca->ca_start));
}

void
call_reply(struct call *ca)
{
	EpStatus st = EENPLAN__V1__STATUS__INIT;
	uint8_t *buf;
	size_t off = 0, len = 0;

	call_count(ca);
	ca->ca_resp.id = ca->ca_id;
	if (ca->ca_code != CODE(OK)) {
		st.code = ca->ca_code;
		st.message = ca->ca_msg;
		ca->ca_resp.status = &st;
		/* A refused request carries no data. */
		call_drop_answer(ca);
	}
	if (ca->ca_frame != NULL) {
		buf = ca->ca_frame;
		off = ca->ca_frame_off;
		len = ca->ca_frame_len;
		ca->ca_frame = NULL;
	} else
		buf = call_pack(ca, &len);
	ca->ca_resp.status = NULL;
	if (buf == NULL)
		log_warnx("request %llu: cannot make its answer",
		    (unsigned long long)ca->ca_id);
	ca->ca_sink.cs_send(ca->ca_sink.cs_arg, buf, off, len);
	call_free(ca);
}

struct know_job {
	struct wjob		kj_job;
	struct principal	kj_who;
};

/* In the writer thread, once recorded: nothing to answer. */
static void
know_post(struct wjob *j)
{
	free(j->wj_arg);
}

void
call_know(struct call *ca)
{
	const struct call_env *env = ca->ca_env;
	struct know_job *kj;
	uint64_t h = 1469598103934665603ULL;
	const char *s;

	if (env->ce_seen == NULL || env->ce_writer == NULL)
		return;
	for (s = ca->ca_who.pr_org; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (s = ca->ca_who.pr_subject; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	h = (h ^ (uint64_t)(ca->ca_who.pr_role + 1)) * 1099511628211ULL;
	if (h == 0)
		h = 1;
	if (env->ce_seen[h % CALL_SEEN] == h)
		return;
	if ((kj = calloc(1, sizeof(*kj))) == NULL)
		return;
	env->ce_seen[h % CALL_SEEN] = h;
	kj->kj_who = ca->ca_who;
	kj->kj_job.wj_who = &kj->kj_who;
	kj->kj_job.wj_post = know_post;
	kj->kj_job.wj_arg = kj;
	writer_submit(env->ce_writer, &kj->kj_job);
}

static void
call_post(struct wjob *j)
{
	struct call *ca = j->wj_arg;

	ca->ca_env->ce_post(ca->ca_env->ce_post_arg, j);
}

/* In the worker, after the writer committed (or failed) the call's batch. */
void
call_complete(struct wjob *j)
{
	struct call *ca = j->wj_arg;

	if (j->wj_rc != STORE_OK) {
		/* Nothing unaudited leaves: whatever the handler had, it fails. */
		if (j->wj_rc == STORE_FULL || j->wj_rc == STORE_DISK_FULL)
			call_status(ca, CODE(RESOURCE_EXHAUSTED),
			    "%s: the request and its audit record could not "
			    "be committed; nothing was served or changed",
			    j->wj_rc == STORE_FULL ? "storage full (map_max)" :
			    "disk full");
		else
			call_status(ca, CODE(UNAVAILABLE),
			    "the request and its audit record could not be "
			    "committed (%s); nothing was served or changed",
			    store_strerror(j->wj_rc));
		log_warnx("request %llu of %s/%s failed at commit: %s",
		    (unsigned long long)ca->ca_id, ca->ca_who.pr_org,
		    ca->ca_who.pr_subject, store_strerror(j->wj_rc));
	} else if (ca->ca_write && j->wj_exec_rc == 0)
		quota_charge(ca->ca_env->ce_quota, &ca->ca_who, j->wj_bytes,
		    util_now_us());
	if (ca->ca_on_done != NULL && ca->ca_code == CODE(OK)) {
		call_count(ca);
		ca->ca_on_done(ca);
	} else
		call_reply(ca);
}

static void
call_outcome_to_audit(struct call *ca)
{
	if (ca->ca_audit == NULL)
		return;
	ca->ca_audit->outcome = ca->ca_code;
	if (ca->ca_code != CODE(OK) &&
	    ca->ca_audit->detail == protobuf_c_empty_string)
		audit_record_set(ca->ca_audit, ca->ca_code, NULL, "%s",
		    ca->ca_msg);
}

static _Atomic uint64_t call_reopened;	/* decisions the writer made in full */

uint64_t
call_rechecks_in_full(void)
{
	return atomic_load(&call_reopened);
}

/*
 * Whether the decision c was made on still stands unopened: the commit's
 * transaction holds the very bytes it was decided on (the stamp), and no
 * grant has begun or ended since (the clock between the decision and
 * cc_until). The same record, the same caller and the same active grants
 * decide the same (consent_evaluate), so opening the record again (its
 * decryption and decoding, a fifth of the writer's time per read) would
 * only repeat it. 1: it stands; 0: decide in full; < 0: a store error.
 */
static int
call_check_stands(struct stxn *t, const struct call_check *c, int64_t now)
{
	struct store_stamp s;
	int rc;

	if (!c->cc_stamp.ss_set || now < c->cc_at || now >= c->cc_until)
		return 0;
	if ((rc = store_hh_stamp(t, c->cc_hhid, &s)) < 0)
		return rc;
	return rc == STORE_OK && store_stamp_equal(&s, &c->cc_stamp);
}

/*
 * In the writer: the decisions a prepared read was built on, again, as the
 * commit's transaction has them. A revoke committed before this (in an
 * earlier batch or earlier in this one) drops the answer.
 */
static int
call_recheck(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	int64_t now = util_now_us();
	size_t i;
	int r;

	for (i = 0; i < ca->ca_nchecks; i++) {
		const struct call_check *c = &ca->ca_checks[i];

		if ((r = call_check_stands(t, c, now)) == 0) {
			atomic_fetch_add(&call_reopened, 1);
			r = household_recheck(t, ca->ca_env->ce_hh,
			    &ca->ca_who, c->cc_hhid, c->cc_op, c->cc_access,
			    c->cc_scope, now);
		}
		if (r == 1)
			continue;
		call_drop_answer(ca);
		if (r < 0)
			call_store_error(ca, r);
		else {
			call_status(ca, CODE(PERMISSION_DENIED), "consent "
			    "changed before the answer was committed; nothing "
			    "was served");
			audit_record_set(ca->ca_audit, CODE(PERMISSION_DENIED),
			    NULL, "refused at commit: consent changed for "
			    "household %s", c->cc_hhid);
		}
		call_outcome_to_audit(ca);
		return -1;
	}
	return 0;
}

void
call_audit_reply(struct call *ca)
{
	if (ca->ca_audit == NULL) {
		call_status(ca, CODE(INTERNAL), "audit record could not be made");
		call_reply(ca);
		return;
	}
	call_outcome_to_audit(ca);
	/* Only an answer that reveals something needs its decision again. */
	ca->ca_job.wj_exec = ca->ca_code == CODE(OK) && ca->ca_nchecks > 0 ?
	    call_recheck : NULL;
	ca->ca_job.wj_readonly = 1;	/* the recheck only reads */
	ca->ca_job.wj_post = call_post;
	ca->ca_job.wj_done = call_complete;
	ca->ca_job.wj_arg = ca;
	ca->ca_job.wj_audit = ca->ca_audit;
	ca->ca_job.wj_who = &ca->ca_who;
	writer_submit(ca->ca_env->ce_writer, &ca->ca_job);
}

/* In the writer thread: the handler's change, then the outcome for the record. */
static int
call_exec(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	int rc;

	/* Revoked while it waited: on record, and nothing changed. */
	if (ca->ca_sink.cs_live != NULL && !ca->ca_sink.cs_live(ca->ca_sink.cs_arg)) {
		call_status(ca, CODE(UNAUTHENTICATED), "the certificate was "
		    "refused (revoked) before this request was carried out");
		call_drop_answer(ca);
		call_outcome_to_audit(ca);
		return -1;
	}
	rc = ca->ca_exec(j, t);
	if (rc == 0 && ca->ca_code != CODE(OK))
		rc = -1;
	/*
	 * The writer rolls a failed change back, so it must not be answered
	 * OK; a handler that failed without saying why ran out of memory.
	 */
	if (rc != 0 && ca->ca_code == CODE(OK))
		call_status(ca, CODE(INTERNAL), "out of memory");
	if (rc != 0)
		call_drop_answer(ca);
	call_outcome_to_audit(ca);
	return rc;
}

void
call_write(struct call *ca, wjob_exec_fn fn)
{
	const struct call_env *env = ca->ca_env;
	uint64_t retry;

	if (ca->ca_audit == NULL) {
		call_status(ca, CODE(INTERNAL), "audit record could not be made");
		call_reply(ca);
		return;
	}
	/* One principal may not fill the store or hold the writer. */
	if (quota_check(env->ce_quota, &ca->ca_who, ca->ca_now, &retry) != 0) {
		call_status(ca, CODE(RESOURCE_EXHAUSTED), "write_rate: you "
		    "wrote more than the %zu bytes per second allowed per "
		    "person or system; retry in %llu ms",
		    env->ce_conf->c_write_rate, (unsigned long long)retry);
		call_audit_reply(ca);
		return;
	}
	ca->ca_write = 1;
	ca->ca_exec = fn;
	ca->ca_job.wj_exec = call_exec;
	ca->ca_job.wj_post = call_post;
	ca->ca_job.wj_done = call_complete;
	ca->ca_job.wj_arg = ca;
	ca->ca_job.wj_audit = ca->ca_audit;
	ca->ca_job.wj_who = &ca->ca_who;
	writer_submit(env->ce_writer, &ca->ca_job);
}

void
principal_ep_view(const struct principal *p, EpPrincipal *out)
{
	eenplan__v1__principal__init(out);
	out->org = (char *)(uintptr_t)p->pr_org;
	out->subject = (char *)(uintptr_t)p->pr_subject;
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
