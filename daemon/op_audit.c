/*
 * op_audit: QueryAudit — a household (its members and its regisseur) reads
 * who accessed its plan; an organisation's privacy officer (auditor) reads
 * what its own organisation's people did. The query is audited itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "audit.h"
#include "config.h"
#include "util.h"

/*
 * Records read per page, as a multiple of the page: a narrow period over a
 * long log matches few of them, and one request must not read it all.
 */
#define AQ_READ_FACTOR	10

/* One page being collected from store_audit_scan. */
struct aq_page {
	const struct audit_filter *ap_filter;	/* the period */
	const EpsHousehold	*ap_plan;	/* household mode: redact; else NULL */
	const char		*ap_household;	/* household mode: the one asked */
	const char		*ap_citizens_org;
	EpAuditRecord		*ap_audit;	/* the query's own record */
	EpAuditRecord		**ap_recs;	/* the response's array */
	size_t			 ap_n;
	size_t			 ap_limit;
	size_t			 ap_read;	/* records read, matching or not */
	size_t			 ap_read_max;
	uint64_t		 ap_last;	/* seq of the last record read */
	int			 ap_more;	/* the scan stopped before the end */
	int			 ap_oom;
};

static void
str_clear(char **field)
{
	if (*field != NULL && *field != protobuf_c_empty_string)
		free(*field);
	*field = (char *)(uintptr_t)protobuf_c_empty_string;
}


/*
 * DESIGN: the household reads organisation, role, action, purpose and time,
 * "a person's name only where the household needs it". The household needs
 * the names of the people it deals with as persons: its own members (who
 * did what among themselves), its current regisseur (named on the plan
 * anyway) and its GP (its own doctor, whom it chose). Of everyone else — the
 * professionals and systems of partner organisations, carers, auditors — it
 * sees the organisation and role, not who; the organisation's auditor can
 * trace the person. Certificate serial and peer address are for auditors
 * only.
 */
static int
aq_name_shown(const struct aq_page *ap, const EpAuditRecord *r)
{
	const EpsHousehold *p = ap->ap_plan;
	const EpPrincipal *actor = r->actor;
	size_t i;

	/* As the actor was then, towards this household (the record says). */
	if (str_eq(r->household_id, ap->ap_household) &&
	    consent_audit_name_shown(r->actor_capacity, actor->role))
		return 1;
	if (actor->role == ROLE(GP))
		return 1;
	/*
	 * Records from before capacities were recorded: a member stays one
	 * (no one leaves a household's member list), so members stay named.
	 */
	if (actor->role != ROLE(CLIENT) ||
	    !str_eq(actor->org, ap->ap_citizens_org))
		return 0;
	for (i = 0; i < p->n_members; i++)
		if (p->members[i] != NULL &&
		    str_eq(p->members[i]->person_id, actor->subject))
			return 1;
	return 0;
}

/*
 * A caseload listing is indexed under every household it named; to one of
 * them it shows only that it was named — the other households and their
 * number belong to the lister's caseload, not to this household.
 */
static void
aq_redact_listing(const struct aq_page *ap, EpAuditRecord *r)
{
	char *mine = NULL;
	size_t i;

	for (i = 0; i < r->n_listed_households; i++) {
		if (mine == NULL &&
		    str_eq(r->listed_households[i], ap->ap_household))
			mine = r->listed_households[i];
		else
			free(r->listed_households[i]);
	}
	r->n_listed_households = 0;
	if (mine != NULL)
		r->listed_households[r->n_listed_households++] = mine;
	str_clear(&r->detail);
}

static void
aq_redact(const struct aq_page *ap, EpAuditRecord *r)
{
	str_clear(&r->cert_serial);
	str_clear(&r->peer);
	if (r->actor != NULL && !aq_name_shown(ap, r))
		str_clear(&r->actor->subject);
	if (r->n_listed_households > 0)
		aq_redact_listing(ap, r);
}

static int
aq_reveal_listed(struct aq_page *ap, const EpAuditRecord *r)
{
	size_t i;

	for (i = 0; i < r->n_listed_households; i++)
		if (audit_record_reveal(ap->ap_audit,
		    r->listed_households[i]) != 0)
			return -1;
	return 0;
}

/*
 * Takes rec into the page when it matches. The scan stops at a matching
 * record past a full page (not taken) or after ap_read_max records read;
 * either way the next page starts after ap_last.
 */
static int
aq_add(const EpAuditRecord *rec, void *arg)
{
	struct aq_page *ap = arg;
	EpAuditRecord *r;

	if (audit_filter_match(ap->ap_filter, rec)) {
		if (ap->ap_n == ap->ap_limit) {
			ap->ap_more = 1;
			return 1;
		}
		if ((r = (EpAuditRecord *)wire_msg_dup(&rec->base)) == NULL) {
			ap->ap_oom = 1;
			return 1;
		}
		if (ap->ap_plan != NULL)
			aq_redact(ap, r);
		/* An auditor's query reveals the households of what it shows. */
		else if (audit_record_reveal(ap->ap_audit, r->household_id) !=
		    0 || aq_reveal_listed(ap, r) != 0) {
			protobuf_c_message_free_unpacked(&r->base, NULL);
			ap->ap_oom = 1;
			return 1;
		}
		ap->ap_recs[ap->ap_n++] = r;
	}
	ap->ap_last = rec->seq;
	if (++ap->ap_read == ap->ap_read_max) {
		ap->ap_more = 1;
		return 1;
	}
	return 0;
}

static int
aq_check_request(struct call *ca)
{
	Eenplan__V1__QueryAuditRequest *rq = ca->ca_req->query_audit;

	if (rq->household_id[0] != '\0' &&
	    !util_valid_household_id(rq->household_id)) {
		call_status(ca, CODE(INVALID_ARGUMENT), "household_id: must "
		    "be 32 lower-case hexadecimal characters");
		return -1;
	}
	if (rq->from < 0 || rq->until < 0) {
		call_status(ca, CODE(INVALID_ARGUMENT), "%s: must not be "
		    "negative", rq->from < 0 ? "from" : "until");
		return -1;
	}
	if (rq->until != 0 && rq->until < rq->from) {
		call_status(ca, CODE(INVALID_ARGUMENT),
		    "until: must not be before from");
		return -1;
	}
	return 0;
}

/*
 * Household mode: the caller must be a member or the regisseur. Sets
 * ap->ap_plan (owned by hh) for the redaction. -1 with status set.
 */
static int
aq_household(struct call *ca, struct stxn *t, struct household *h,
    struct aq_page *ap)
{
	const char *hhid = ca->ca_req->query_audit->household_id;
	int rc;

	rc = call_household(ca, t, hhid, h);
	if (rc < 0) {
		call_store_error(ca, rc);
		return -1;
	}
	if (rc == STORE_NOTFOUND || h->h_dec.cd_access == ACCESS(NONE)) {
		call_deny(ca);
		return -1;
	}
	if (!consent_allows(ca->ca_env->ce_consent, &ca->ca_who, &h->h_dec,
	    CONSENT_OP_READ_AUDIT, 0, NULL)) {
		call_status(ca, CODE(PERMISSION_DENIED), "only the household "
		    "or its regisseur reads the household's access log");
		return -1;
	}
	if (call_check(ca, h, CONSENT_OP_READ_AUDIT) != 0) {
		call_status(ca, CODE(INTERNAL), "out of memory");
		return -1;
	}
	ap->ap_plan = h->h_rec;
	ap->ap_household = hhid;
	return 0;
}

void
op_query_audit(struct call *ca)
{
	Eenplan__V1__QueryAuditRequest *rq = ca->ca_req->query_audit;
	Eenplan__V1__QueryAuditResponse *r;
	struct audit_filter af;
	struct aq_page ap;
	const char *hhid = NULL, *org = NULL;
	struct stxn *t;
	struct household hh;
	int rc;

	memset(&hh, 0, sizeof(hh));
	memset(&ap, 0, sizeof(ap));
	memset(&af, 0, sizeof(af));
	call_audit_begin(ca, "QueryAudit", rq->household_id);
	if (aq_check_request(ca) != 0) {
		call_audit_reply(ca);
		return;
	}
	if (rq->household_id[0] != '\0')
		hhid = rq->household_id;
	/* An auditor reads its own organisation's records, of one household if asked. */
	if (ca->ca_who.pr_role == ROLE(AUDITOR))
		org = ca->ca_who.pr_org;
	else if (hhid == NULL) {
		call_status(ca, CODE(PERMISSION_DENIED),
		    "only an auditor reads its organisation's access log");
		call_audit_reply(ca);
		return;
	}
	/* Every record answered before this query, committed (writer.h). */
	writer_audit_barrier(ca->ca_env->ce_writer);
	if ((t = call_reader(ca)) == NULL) {
		call_audit_reply(ca);
		return;
	}
	if (org == NULL && aq_household(ca, t, &hh, &ap) != 0)
		goto out;
	if ((r = malloc(sizeof(*r))) == NULL)
		goto oom;
	eenplan__v1__query_audit_response__init(r);
	call_body(ca, EENPLAN__V1__RESPONSE__BODY_QUERY_AUDIT, r);
	af.af_from = rq->from;
	af.af_until = rq->until;
	ap.ap_filter = &af;
	ap.ap_citizens_org = ca->ca_env->ce_consent->cc_citizens_org;
	ap.ap_audit = ca->ca_audit;
	ap.ap_limit = call_page_limit(ca, rq->limit);
	ap.ap_read_max = ap.ap_limit * AQ_READ_FACTOR;
	if ((ap.ap_recs = calloc(ap.ap_limit, sizeof(*ap.ap_recs))) == NULL)
		goto oom;
	r->records = ap.ap_recs;
	rc = store_audit_scan(t, hhid, org, rq->after_seq, aq_add, &ap);
	r->n_records = ap.ap_n;
	if (ap.ap_oom)
		goto oom;
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		call_store_error(ca, rc);
		goto out;
	}
	/* 0 only at the true end, even when this page matched nothing. */
	if (ap.ap_more)
		r->next_after_seq = ap.ap_last;
	audit_record_set(ca->ca_audit, CODE(OK), hh.h_purpose,
	    "%zu records after seq %llu", ap.ap_n,
	    (unsigned long long)rq->after_seq);
	goto out;
oom:
	call_status(ca, CODE(INTERNAL), "out of memory");
out:
	household_free(&hh);
	call_reader_end(ca);
	call_audit_reply(ca);
}
