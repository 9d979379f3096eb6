/*
 * op_feed: the change feed and signals — ReadChanges, SendSignal,
 * ListSignals (Subscribe and Unsubscribe: see sub.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "audit.h"
#include "feed.h"
#include "plan.h"
#include "sub.h"
#include "util.h"

/* Events looked at per answer, as a multiple of the page. */
#define FEED_READ_FACTOR	50
#define SIGNAL_TEXT_MAX		PLAN_TEXT_MAX

/* ------------------------------------------------------------ ReadChanges */

struct rc_page {
	struct feed_reader	 rp_fr;
	struct stxn		*rp_tx;
	struct call		*rp_ca;
	Eenplan__V1__ReadChangesResponse *rp_r;
	size_t			 rp_limit;
	size_t			 rp_looked;
	size_t			 rp_look_max;
	uint64_t		 rp_last;
	int			 rp_rc;
};

static int
rc_one(const EpsFeedEvent *fe, void *arg)
{
	struct rc_page *rp = arg;
	Eenplan__V1__ReadChangesResponse *r = rp->rp_r;
	EpChangeEvent *out[2];
	int i, n;

	if (r->n_events + 2 > rp->rp_limit || rp->rp_looked == rp->rp_look_max)
		return 1;
	rp->rp_looked++;
	if ((n = feed_view(&rp->rp_fr, rp->rp_tx, fe, out)) < 0) {
		rp->rp_rc = n;
		return 1;
	}
	for (i = 0; i < n; i++) {
		r->events[r->n_events++] = out[i];
		if (audit_record_reveal(rp->rp_ca->ca_audit, out[i]->household_id) != 0) {
			rp->rp_rc = STORE_ERR;
			return 1;
		}
	}
	rp->rp_last = fe->event->seq;
	return 0;
}

void
op_read_changes(struct call *ca)
{
	Eenplan__V1__ReadChangesRequest *rq = ca->ca_req->read_changes;
	Eenplan__V1__ReadChangesResponse *r;
	struct rc_page rp;
	uint64_t head;
	struct stxn *t;
	int rc;

	memset(&rp, 0, sizeof(rp));
	call_audit_begin(ca, "ReadChanges", NULL);
	if (ca->ca_audit == NULL || (t = call_reader(ca)) == NULL) {
		call_audit_reply(ca);
		return;
	}
	feed_reader_init(&rp.rp_fr, ca->ca_env->ce_hh, &ca->ca_who);
	rp.rp_tx = t;
	rp.rp_ca = ca;
	rp.rp_limit = call_page_limit(ca, rq->limit);
	if (rp.rp_limit < 2)
		rp.rp_limit = 2;
	rp.rp_look_max = rp.rp_limit * FEED_READ_FACTOR;
	rp.rp_last = rq->since_seq;
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__read_changes_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_READ_CHANGES, r);
	rp.rp_r = r;
	if ((r->events = calloc(rp.rp_limit, sizeof(*r->events))) == NULL)
		goto oom;
	if ((rc = store_change_last(t, &head)) != STORE_OK ||
	    (rc = store_change_scan(t, rq->since_seq, rc_one, &rp)) !=
	    STORE_OK || (rc = rp.rp_rc) != STORE_OK) {
		call_store_error(ca, rc);
		goto out;
	}
	r->last_seq = rp.rp_last;
	r->more = rp.rp_last < head;
	audit_record_set(ca->ca_audit, CODE(OK), NULL, "%zu event(s) after "
	    "seq %llu, up to %llu", r->n_events,
	    (unsigned long long)rq->since_seq, (unsigned long long)r->last_seq);
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	feed_reader_clear(&rp.rp_fr);
	call_reader_end(ca);
	call_audit_reply(ca);
}

/* ------------------------------------------------------------- SendSignal */

static int
exec_send_signal(struct wjob *j, struct stxn *t)
{
	struct call *ca = j->wj_arg;
	Eenplan__V1__SendSignalRequest *rq = ca->ca_req->send_signal;
	Eenplan__V1__SendSignalResponse *r;
	EpSignal sg = EENPLAN__V1__SIGNAL__INIT;
	char decoy[HOUSEHOLD_ID_LEN + 1];
	struct household h;
	EpPrincipal me;
	uint64_t receipt;
	int rc;

	memset(&h, 0, sizeof(h));
	principal_ep_view(&ca->ca_who, &me);
	sg.household_id = rq->household_id;
	sg.domain = rq->domain;
	sg.text = rq->text;
	sg.from = &me;
	sg.at = ca->ca_now;
	/*
	 * The sender's copy, whether or not the household exists: the answer
	 * and its cost are the same either way, and tell nothing.
	 */
	if ((rc = store_meta_get_u64(t, "sent_seq", &receipt)) != STORE_OK ||
	    (rc = store_meta_put_u64(t, "sent_seq", receipt + 1)) != STORE_OK ||
	    (rc = store_sent_put(t, ca->ca_who.pr_org, ca->ca_who.pr_subject,
	    receipt + 1, &sg)) != STORE_OK) {
		call_store_error(ca, rc);
		return -1;
	}
	rc = call_household(ca, t, rq->household_id, &h);
	if (rc == STORE_OK && h.h_rec->status !=
	    EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED)
		rc = household_signal_add(t, &h, &sg, &ca->ca_who, ca->ca_now);
	else if (rc == STORE_NOTFOUND || rc == STORE_OK) {
		/*
		 * Nobody to tell: the same answer, at the same cost. A closed
		 * household's own keys are taken (its record, its signal 1):
		 * its decoy is written under an id no household has, 128
		 * random bits, as a missing household's lands at a random
		 * place in the trees too.
		 */
		if (rc == STORE_OK) {
			if (util_random_id(decoy) != 0) {
				household_free(&h);
				call_status(ca, CODE(INTERNAL), "no randomness");
				return -1;
			}
			sg.household_id = decoy;
		}
		rc = household_signal_decoy(t, sg.household_id, &sg,
		    &ca->ca_who, ca->ca_now);
		sg.household_id = rq->household_id;
	}
	household_free(&h);
	if (rc != STORE_OK) {
		call_store_error(ca, rc);
		return -1;
	}
	if ((r = malloc(sizeof(*r))) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		return -1;
	}
	eenplan__v1__send_signal_response__init(r);
	r->receipt = receipt + 1;
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_SEND_SIGNAL, r);
	/* The text is the plan's (under its consent), not the record's. */
	audit_record_set(ca->ca_audit, CODE(OK), "signal", "signal receipt "
	    "%llu, domain %s", (unsigned long long)r->receipt,
	    wire_domain_name(rq->domain) != NULL ?
	    wire_domain_name(rq->domain) : "?");
	return 0;
}

void
op_send_signal(struct call *ca)
{
	Eenplan__V1__SendSignalRequest *rq = ca->ca_req->send_signal;

	call_audit_begin(ca, "SendSignal", rq->household_id);
	if (call_check_hhid(ca, rq->household_id) != 0) {
		call_audit_reply(ca);
		return;
	}
	if (ca->ca_who.pr_role != ROLE(PROFESSIONAL)) {
		call_status(ca, CODE(PERMISSION_DENIED),
		    "only a professional can pass a signal");
		call_audit_reply(ca);
		return;
	}
	if (rq->domain < 1 || rq->domain > 13) {
		call_status(ca, CODE(INVALID_ARGUMENT),
		    "domain: one of the 13 ZRM domains");
		call_audit_reply(ca);
		return;
	}
	if (!util_text_ok(rq->text, 1, SIGNAL_TEXT_MAX)) {
		call_status(ca, CODE(INVALID_ARGUMENT),
		    "text: 1 to %d characters of text", SIGNAL_TEXT_MAX);
		call_audit_reply(ca);
		return;
	}
	call_write(ca, exec_send_signal);
}

/* ------------------------------------------------------------ ListSignals */

struct sent_page {
	Eenplan__V1__ListSignalsResponse *sp_r;
	const char	*sp_hhid;	/* NULL: any */
	size_t		 sp_limit;
	size_t		 sp_looked;
	uint64_t	 sp_last;
	int		 sp_more;
	int		 sp_oom;
};

static int
sent_one(uint64_t seq, const EpSignal *sg, void *arg)
{
	struct sent_page *sp = arg;
	EpSignal *c;

	if (sp->sp_r->n_signals == sp->sp_limit ||
	    ++sp->sp_looked > 10 * sp->sp_limit) {
		sp->sp_more = 1;
		return 1;
	}
	sp->sp_last = seq;
	if (sp->sp_hhid != NULL && (sg->household_id == NULL ||
	    strcmp(sg->household_id, sp->sp_hhid) != 0))
		return 0;
	if ((c = (EpSignal *)wire_msg_dup(&sg->base)) == NULL) {
		sp->sp_oom = 1;
		return 1;
	}
	/* The sender's number for it: what its receipt said. */
	c->id = seq;
	sp->sp_r->signals[sp->sp_r->n_signals++] = c;
	return 0;
}

/* The household's own signals (its members and regisseur), paged by id. */
static int
ls_household(struct call *ca, struct stxn *t, struct household *h,
    Eenplan__V1__ListSignalsRequest *rq, Eenplan__V1__ListSignalsResponse *r,
    size_t limit)
{
	EpSignal *sg;
	uint64_t id;
	int rc;

	for (id = rq->after + 1; id <= h->h_rec->signals_total; id++) {
		if (r->n_signals == limit) {
			r->next = id - 1;
			break;
		}
		if ((rc = store_signal_get(t, h->h_id, id, &sg)) != STORE_OK)
			return rc;
		r->signals[r->n_signals++] = sg;
	}
	return call_check(ca, h, CONSENT_OP_LIST_CONSENT) ==
	    0 ? STORE_OK : STORE_ERR;
}

void
op_list_signals(struct call *ca)
{
	Eenplan__V1__ListSignalsRequest *rq = ca->ca_req->list_signals;
	Eenplan__V1__ListSignalsResponse *r;
	const char *hhid = NULL;
	struct sent_page sp;
	struct household h;
	size_t limit = call_page_limit(ca, rq->limit);
	struct stxn *t;
	int rc;

	memset(&h, 0, sizeof(h));
	memset(&sp, 0, sizeof(sp));
	call_audit_begin(ca, "ListSignals", rq->household_id);
	if (rq->household_id[0] != '\0') {
		if (call_check_hhid(ca, rq->household_id) != 0) {
			call_audit_reply(ca);
			return;
		}
		hhid = rq->household_id;
	}
	if ((t = call_reader(ca)) == NULL) {
		call_audit_reply(ca);
		return;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__list_signals_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_LIST_SIGNALS, r);
	if ((r->signals = calloc(limit, sizeof(*r->signals))) == NULL)
		goto oom;
	if (hhid != NULL) {
		rc = call_household(ca, t, hhid, &h);
		if (rc < 0) {
			call_store_error(ca, rc);
			goto out;
		}
		/* The household and its regisseur read all of its signals. */
		if (rc == STORE_OK && consent_allows(ca->ca_env->ce_consent,
		    &ca->ca_who, &h.h_dec, CONSENT_OP_LIST_CONSENT, 0, NULL)) {
			if ((rc = ls_household(ca, t, &h, rq, r, limit)) !=
			    STORE_OK) {
				call_store_error(ca, rc);
				goto out;
			}
			audit_record_set(ca->ca_audit, CODE(OK), h.h_purpose,
			    "%zu signal(s)", r->n_signals);
			goto out;
		}
	}
	/* Anyone else: the signals it sent itself (also to no household). */
	sp.sp_r = r;
	sp.sp_hhid = hhid;
	sp.sp_limit = limit;
	rc = store_sent_scan(t, ca->ca_who.pr_org, ca->ca_who.pr_subject,
	    rq->after, sent_one, &sp);
	if (sp.sp_oom)
		goto oom;
	if (rc != STORE_OK) {
		call_store_error(ca, rc);
		goto out;
	}
	if (sp.sp_more)
		r->next = sp.sp_last;
	audit_record_set(ca->ca_audit, CODE(OK), NULL, "%zu own signal(s)",
	    r->n_signals);
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	household_free(&h);
	call_reader_end(ca);
	call_audit_reply(ca);
}

/* ------------------------------------------------- Subscribe, Unsubscribe */

/* In the worker, once the Subscribe's record is committed: it goes on. */
static void
subscribe_start(struct call *ca)
{
	subs_add(ca->ca_env->ce_subs, ca, ca->ca_req->subscribe->since_seq);
}

void
op_subscribe(struct call *ca)
{
	call_audit_begin(ca, "Subscribe", NULL);
	if (ca->ca_env->ce_subs == NULL || ca->ca_sink.cs_push == NULL) {
		call_status(ca, CODE(UNIMPLEMENTED),
		    "subscriptions are not available here");
		call_audit_reply(ca);
		return;
	}
	audit_record_set(ca->ca_audit, CODE(OK), NULL, "from seq %llu",
	    (unsigned long long)ca->ca_req->subscribe->since_seq);
	ca->ca_on_done = subscribe_start;
	call_audit_reply(ca);
}

void
op_unsubscribe(struct call *ca)
{
	uint64_t id = ca->ca_req->unsubscribe->subscription_id;
	Eenplan__V1__UnsubscribeResponse *r;

	if (ca->ca_env->ce_subs == NULL ||
	    subs_end(ca->ca_env->ce_subs, ca->ca_sink.cs_owner, id) != 0) {
		call_status(ca, CODE(NOT_FOUND), "subscription_id: no "
		    "subscription %llu on this connection",
		    (unsigned long long)id);
		call_reply(ca);
		return;
	}
	if ((r = malloc(sizeof(*r))) == NULL) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		call_reply(ca);
		return;
	}
	eenplan__v1__unsubscribe_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_UNSUBSCRIBE, r);
	call_reply(ca);
}
