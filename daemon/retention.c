/* retention: the retention purge (see retention.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "consent.h"
#include "retention.h"
#include "util.h"

#define KIND(x)		EENPLAN__V1__CHANGE_KIND__CHANGE_##x
#define CLOSED		EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED

/* A household found due. */
struct rt_due {
	char		 rd_id[33];
	int64_t		 rd_closed_at;
	uint32_t	 rd_years;
	char		 rd_regime[16];
};

/* One of its change events, to be emptied with it. */
struct rt_event {
	size_t		 re_due;	/* index into the due list */
	uint64_t	 re_seq;
	int		 re_kind;
	uint64_t	 re_version;
	int64_t		 re_at;
};

struct rt {
	const struct config		*rt_conf;
	const struct retention_opts	*rt_opts;
	struct retention_result		*rt_res;
	struct rt_due			*rt_due;
	size_t				 rt_ndue, rt_capdue;
	struct rt_event			*rt_ev;
	size_t				 rt_nev, rt_capev;
	size_t				 rt_evpos;	/* next event to empty */
	struct stxn			*rt_tx;		/* the finding's read txn */
	int				 rt_oom;
	int				 rt_err;	/* a store error while finding */
};

int64_t
retention_add_years(int64_t t, int years)
{
	struct tm tm;
	time_t s = (time_t)(t / 1000000);
	int64_t us = t % 1000000;
	int leapday;

	if (us < 0) {
		us += 1000000;
		s--;
	}
	if (gmtime_r(&s, &tm) == NULL)
		return t;
	leapday = tm.tm_mon == 1 && tm.tm_mday == 29;
	tm.tm_year += years;
	/* timegm would make 29 February of a common year 1 March. */
	if (leapday) {
		int y = tm.tm_year + 1900;

		if (!((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
			tm.tm_mday = 28;
	}
	return (int64_t)timegm(&tm) * 1000000 + us;
}

static void __attribute__((format(printf, 2, 3)))
rt_say(struct rt *rt, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (rt->rt_opts->ro_say == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	rt->rt_opts->ro_say(rt->rt_opts->ro_arg, line);
}

static void
rt_day(int64_t us, char *buf, size_t len)
{
	struct tm tm;
	time_t s = (time_t)(us / 1000000);

	if (gmtime_r(&s, &tm) == NULL || strftime(buf, len, "%Y-%m-%d",
	    &tm) == 0)
		(void)snprintf(buf, len, "?");
}

/* --------------------------------------------------------- finding */

static int
rt_find_one(const EpsHousehold *h, void *arg)
{
	struct rt *rt = arg;
	const struct retention_opts *o = rt->rt_opts;
	const char *regime = h->regime != NULL && h->regime[0] != '\0' ?
	    h->regime : "wmo";
	struct rt_due *d, *v;
	char closed[16], until[16], sent[48];
	uint64_t nsent;
	uint32_t years;
	int64_t end;
	int rc;

	rt->rt_res->rr_households++;
	if (h->status != CLOSED)
		return 0;
	rt->rt_res->rr_closed++;
	if (h->closed_at <= 0 || h->closed_at >= o->ro_closed_before)
		return 0;
	rt_day(h->closed_at, closed, sizeof(closed));
	if ((years = config_regime_years(rt->rt_conf, regime)) == 0) {
		/* Not a regime this deployment knows: never purged blind. */
		rt->rt_res->rr_kept++;
		rt_say(rt, "keep  %s closed %s: regime \"%.16s\" has no "
		    "retention in [retention]", h->household_id, closed,
		    regime);
		return 0;
	}
	end = retention_add_years(h->closed_at, (int)years);
	if (end > o->ro_now) {
		rt->rt_res->rr_kept++;
		rt_day(end, until, sizeof(until));
		rt_say(rt, "keep  %s closed %s, %s %u years: kept until %s",
		    h->household_id, closed, regime, years, until);
		return 0;
	}
	if (rt->rt_ndue == rt->rt_capdue) {
		size_t cap = rt->rt_capdue ? 2 * rt->rt_capdue : 64;

		if ((v = reallocarray(rt->rt_due, cap, sizeof(*v))) == NULL) {
			rt->rt_oom = 1;
			return 1;
		}
		rt->rt_due = v;
		rt->rt_capdue = cap;
	}
	d = &rt->rt_due[rt->rt_ndue++];
	memset(d, 0, sizeof(*d));
	(void)snprintf(d->rd_id, sizeof(d->rd_id), "%s", h->household_id);
	d->rd_closed_at = h->closed_at;
	d->rd_years = years;
	(void)snprintf(d->rd_regime, sizeof(d->rd_regime), "%s", regime);
	rt->rt_res->rr_due++;
	/* The copies senders keep of signals about it go with it. */
	rc = store_sent_count(rt->rt_tx, h->household_id, &nsent);
	if (rc == STORE_OK)
		(void)snprintf(sent, sizeof(sent), "%llu sender copies",
		    (unsigned long long)nsent);
	else if (rc == STORE_NOTFOUND) {
		rt->rt_res->rr_sent_unknown = 1;
		(void)snprintf(sent, sizeof(sent), "sender copies not counted");
	} else {
		rt->rt_err = rc;
		return 1;
	}
	if (!o->ro_apply) {
		/* What would go; --apply counts what went. */
		rt->rt_res->rr_versions += h->version;
		rt->rt_res->rr_grants += h->grants_total;
		rt->rt_res->rr_signals += h->signals_total;
		rt->rt_res->rr_sent += nsent;
	}
	rt_say(rt, "%s %s closed %s, %s %u years: %llu versions, %llu grants, "
	    "%llu signals, %s", o->ro_apply ? "purge" : "due  ",
	    h->household_id, closed, regime, years,
	    (unsigned long long)h->version,
	    (unsigned long long)h->grants_total,
	    (unsigned long long)h->signals_total, sent);
	return 0;
}

static int
rt_due_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rt_due *)a)->rd_id,
	    ((const struct rt_due *)b)->rd_id);
}

/* The events of due households: they are emptied with them. */
static int
rt_event_one(const EpsFeedEvent *fe, void *arg)
{
	struct rt *rt = arg;
	const EpChangeEvent *ev = fe->event;
	struct rt_due key, *d;
	struct rt_event *v, *e;

	if (ev->household_id == NULL || strlen(ev->household_id) >= 33)
		return 0;
	memcpy(key.rd_id, ev->household_id, strlen(ev->household_id) + 1);
	if ((d = bsearch(&key, rt->rt_due, rt->rt_ndue, sizeof(*d),
	    rt_due_cmp)) == NULL)
		return 0;
	if (rt->rt_nev == rt->rt_capev) {
		size_t cap = rt->rt_capev ? 2 * rt->rt_capev : 256;

		if ((v = reallocarray(rt->rt_ev, cap, sizeof(*v))) == NULL) {
			rt->rt_oom = 1;
			return 1;
		}
		rt->rt_ev = v;
		rt->rt_capev = cap;
	}
	e = &rt->rt_ev[rt->rt_nev++];
	e->re_due = (size_t)(d - rt->rt_due);
	e->re_seq = ev->seq;
	e->re_kind = ev->kind;
	e->re_version = ev->version;
	e->re_at = ev->at;
	return 0;
}

static int
rt_event_cmp(const void *a, const void *b)
{
	const struct rt_event *x = a, *y = b;

	if (x->re_due != y->re_due)
		return x->re_due < y->re_due ? -1 : 1;
	return x->re_seq < y->re_seq ? -1 : x->re_seq > y->re_seq;
}

static int
rt_find(struct store *st, struct rt *rt, char *err, size_t errlen)
{
	struct stxn *t;
	int rc;

	if ((t = store_reader_new(st)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((rc = store_reader_begin(t)) != STORE_OK) {
		store_reader_free(t);
		snprintf(err, errlen, "read: %s", store_strerror(rc));
		return -1;
	}
	rt->rt_tx = t;
	rc = store_hh_scan(t, rt_find_one, rt);
	if (rc == STORE_OK)
		rc = rt->rt_err;
	if (rc == STORE_OK && !rt->rt_oom && rt->rt_ndue > 0 &&
	    rt->rt_opts->ro_apply) {
		qsort(rt->rt_due, rt->rt_ndue, sizeof(*rt->rt_due), rt_due_cmp);
		rc = store_change_scan(t, 0, rt_event_one, rt);
		if (rt->rt_nev > 0)
			qsort(rt->rt_ev, rt->rt_nev, sizeof(*rt->rt_ev),
			    rt_event_cmp);
	}
	store_reader_end(t);
	store_reader_free(t);
	rt->rt_tx = NULL;
	if (rt->rt_oom) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (rc != STORE_OK) {
		snprintf(err, errlen, "reading the households and the feed: %s",
		    store_strerror(rc));
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------- removing */

/*
 * An event of a purged household, emptied: only its place in the feed is
 * kept (the feed has no gaps). With generation 0 and no standing record,
 * the feed shows it to nobody; what it said (the actor, a signal's text,
 * the consent states it pointed at) is gone with the household.
 */
static int
rt_event_empty(struct stxn *t, const char *id, const struct rt_event *e)
{
	EpChangeEvent ev = EENPLAN__V1__CHANGE_EVENT__INIT;
	EpsFeedEvent fe = EENPLAN__STORE__FEED_EVENT__INIT;
	uint8_t key[8], *buf;
	size_t len;
	int rc;

	ev.seq = e->re_seq;
	ev.kind = e->re_kind;
	ev.household_id = (char *)(uintptr_t)id;
	ev.version = e->re_version;
	ev.at = e->re_at;
	fe.event = &ev;
	len = eenplan__store__feed_event__get_packed_size(&fe);
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		return STORE_ERR;
	(void)eenplan__store__feed_event__pack(&fe, buf);
	util_be64_put(key, e->re_seq);
	rc = store_raw_put(t, "feed", key, sizeof(key), buf, len);
	free(buf);
	return rc;
}

/*
 * The consent state the purge event is decided by: who could read the
 * household when it went, and nothing else — member ids without names,
 * grants without purposes, forms or end dates (a grant still current when
 * the household went is one whose receiver may hold a copy: it is told,
 * even if its end date passed unswept while the daemon was stopped).
 */
static int
rt_last_state(struct stxn *t, const EpsHousehold *rec, uint64_t gen)
{
	EpsHousehold r = EENPLAN__STORE__HOUSEHOLD__INIT;
	EpMember *m = NULL, **mp = NULL;
	EpGrant *g = NULL, **gp = NULL;
	size_t i;
	int rc = STORE_ERR;

	r.household_id = rec->household_id;
	r.status = rec->status;
	r.regisseur = rec->regisseur;
	r.consent_gen = gen;
	r.updated_at = rec->updated_at;
	r.closed_at = rec->closed_at;
	if (rec->n_members > 0 &&
	    ((m = calloc(rec->n_members, sizeof(*m))) == NULL ||
	    (mp = calloc(rec->n_members, sizeof(*mp))) == NULL))
		goto out;
	for (i = 0; i < rec->n_members; i++) {
		eenplan__v1__member__init(&m[i]);
		m[i].person_id = rec->members[i]->person_id;
		mp[i] = &m[i];
	}
	r.members = mp;
	r.n_members = rec->n_members;
	if (rec->n_grants > 0 &&
	    ((g = calloc(rec->n_grants, sizeof(*g))) == NULL ||
	    (gp = calloc(rec->n_grants, sizeof(*gp))) == NULL))
		goto out;
	for (i = 0; i < rec->n_grants; i++) {
		const EpGrant *o = rec->grants[i];

		eenplan__v1__grant__init(&g[i]);
		g[i].id = o->id;
		g[i].grantee_org = o->grantee_org;
		g[i].grantee_subject = o->grantee_subject;
		g[i].grantee_team = o->grantee_team;
		g[i].access = o->access;
		g[i].scope = o->scope;
		g[i].n_scope = o->n_scope;
		g[i].valid_from = o->valid_from;
		g[i].break_glass = o->break_glass;
		gp[i] = &g[i];
	}
	r.grants = gp;
	r.n_grants = rec->n_grants;
	rc = store_cstate_put(t, rec->household_id, gen, &r);
out:
	free(m);
	free(mp);
	free(g);
	free(gp);
	return rc;
}

/* Every principals-index link and expiry entry the standing record holds. */
static int
rt_unlink(struct stxn *t, const struct config *conf, const EpsHousehold *rec)
{
	char sub[CONSENT_INDEX_SUBJECT_MAX];
	const char *id = rec->household_id;
	size_t i;
	int rc;

	for (i = 0; i < rec->n_members; i++)
		if ((rc = store_index_del(t, conf->c_citizens_org,
		    rec->members[i]->person_id, id)) != STORE_OK)
			return rc;
	if (rec->regisseur != NULL && (rc = store_index_del(t,
	    rec->regisseur->org, rec->regisseur->subject, id)) != STORE_OK)
		return rc;
	for (i = 0; i < rec->n_grants; i++) {
		const EpGrant *g = rec->grants[i];

		consent_index_subject(g, sub, sizeof(sub));
		if ((rc = store_index_del(t, g->grantee_org, sub, id)) !=
		    STORE_OK)
			return rc;
		if (g->valid_until > 0 && (rc = store_expiry_del(t,
		    g->valid_until, id, g->id)) != STORE_OK)
			return rc;
		/* A grant that starts later is swept at its start too. */
		if (g->valid_from > 0 && (rc = store_expiry_del(t,
		    g->valid_from, id, g->id)) != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* One household, whole, in t: removal, feed, record. */
static int
rt_purge_one(struct rt *rt, struct stxn *t, size_t di,
    struct audit_head *head, uint64_t *hidden)
{
	const struct rt_due *d = &rt->rt_due[di];
	const struct retention_opts *o = rt->rt_opts;
	EpChangeEvent ev = EENPLAN__V1__CHANGE_EVENT__INIT;
	EpsFeedEvent fe = EENPLAN__STORE__FEED_EVENT__INIT;
	EpAuditRecord *a = NULL;
	EpsHousehold *rec = NULL;
	char closed[16];
	uint64_t gen, n = 0, sent = 0;
	size_t i;
	int rc;

	*hidden = 0;
	if ((rc = store_hh_get(t, d->rd_id, &rec)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_CORRUPT : rc;
	/* Decided on a snapshot: decided again here. */
	if (rec->status != CLOSED || rec->closed_at != d->rd_closed_at) {
		store_hh_free(rec);
		return STORE_NOTFOUND;
	}
	gen = rec->consent_gen > 0 ? rec->consent_gen : 1;
	if ((rc = rt_unlink(t, rt->rt_conf, rec)) != STORE_OK)
		goto out;
	for (i = rt->rt_evpos; i < rt->rt_nev && rt->rt_ev[i].re_due == di;
	    i++, n++)
		if ((rc = rt_event_empty(t, d->rd_id, &rt->rt_ev[i])) !=
		    STORE_OK)
			goto out;
	if ((rc = store_hh_purge(t, d->rd_id)) != STORE_OK ||
	    (rc = store_sent_purge(t, d->rd_id, &sent)) != STORE_OK ||
	    (rc = rt_last_state(t, rec, gen)) != STORE_OK)
		goto out;
	/* Everyone who could read it is told to drop their copy. */
	ev.household_id = rec->household_id;
	ev.kind = KIND(ACCESS_ENDED);
	ev.version = rec->version;
	ev.at = o->ro_now;
	fe.event = &ev;
	fe.gen = gen;
	fe.prev_gen = gen;
	if ((rc = store_change_append(t, &fe)) != STORE_OK)
		goto out;
	rt_day(d->rd_closed_at, closed, sizeof(closed));
	if ((a = audit_record_new(NULL, "Purge", d->rd_id, o->ro_now)) ==
	    NULL) {
		rc = STORE_ERR;
		goto out;
	}
	audit_record_set(a, EENPLAN__V1__CODE__OK, "retention", "retention "
	    "purge: closed %s, regime %s (%u years); removed the plan (%llu "
	    "versions), %llu grants, %llu signals, %llu sender copies; %llu "
	    "feed events emptied, ACCESS_ENDED at feed seq %llu", closed,
	    d->rd_regime, d->rd_years, (unsigned long long)rec->version,
	    (unsigned long long)rec->grants_total,
	    (unsigned long long)rec->signals_total, (unsigned long long)sent,
	    (unsigned long long)n, (unsigned long long)ev.seq);
	if (a->peer != protobuf_c_empty_string)
		free(a->peer);
	if ((a->peer = strdup(o->ro_operator != NULL ? o->ro_operator :
	    "operator")) == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	if ((rc = audit_append(t, head, a)) != STORE_OK)
		goto out;
	rt->rt_res->rr_versions += rec->version;
	rt->rt_res->rr_grants += rec->grants_total;
	rt->rt_res->rr_signals += rec->signals_total;
	rt->rt_res->rr_sent += sent;
	*hidden = n;
out:
	audit_record_free(a);
	store_hh_free(rec);
	return rc;
}

static int
rt_households(struct store *st, struct rt *rt, struct audit_head *head,
    char *err, size_t errlen)
{
	struct audit_head saved;
	struct stxn *t;
	uint64_t hidden;
	size_t i;
	int rc;

	for (i = 0; i < rt->rt_ndue; i++) {
		saved = *head;
		if ((rc = store_write_begin(st, &t)) != STORE_OK) {
			snprintf(err, errlen, "write: %s", store_strerror(rc));
			return -1;
		}
		rc = rt_purge_one(rt, t, i, head, &hidden);
		while (rt->rt_evpos < rt->rt_nev &&
		    rt->rt_ev[rt->rt_evpos].re_due == i)
			rt->rt_evpos++;
		if (rc == STORE_NOTFOUND) {
			/* Reopened or gone since it was found: left alone. */
			store_abort(t);
			*head = saved;
			continue;
		}
		if (rc == STORE_OK)
			rc = store_commit(t);
		else
			store_abort(t);
		if (rc != STORE_OK) {
			*head = saved;
			snprintf(err, errlen, "household %s: %s "
			    "(%llu purged before it)", rt->rt_due[i].rd_id,
			    store_strerror(rc),
			    (unsigned long long)rt->rt_res->rr_purged);
			return -1;
		}
		rt->rt_res->rr_purged++;
		rt->rt_res->rr_feed_hidden += hidden;
		rt->rt_res->rr_records_added++;
	}
	return 0;
}

/* ----------------------------------------------------------- audit */

/*
 * Audit records older than the cutoff, from the oldest kept on, in batches:
 * each batch removes its records, moves the chain's base to the last one
 * and appends a record saying what went. Stops at the first record not
 * older than the cutoff (records are appended in time order; one a
 * little out of order keeps those after it, never the other way round).
 */
static int
rt_audit(struct store *st, struct rt *rt, struct audit_head *head,
    int64_t cutoff, char *err, size_t errlen)
{
	const struct retention_opts *o = rt->rt_opts;
	struct audit_head base, saved;
	EpAuditRecord *r, *a;
	struct stxn *t;
	char day[16];
	uint64_t seq, first, n, left;
	int rc, done = 0, reset = 0;

	rt_day(cutoff, day, sizeof(day));
	while (!done) {
		if ((rc = o->ro_apply ? store_write_begin(st, &t) :
		    STORE_OK) != STORE_OK) {
			snprintf(err, errlen, "write: %s", store_strerror(rc));
			return -1;
		}
		if (!o->ro_apply) {
			if ((t = store_reader_new(st)) == NULL ||
			    store_reader_begin(t) != STORE_OK) {
				store_reader_free(t);
				snprintf(err, errlen, "cannot read the store");
				return -1;
			}
		}
		saved = *head;
		if ((rc = audit_base_load(t, &base)) != STORE_OK)
			goto fail;
		if (!o->ro_apply && rt->rt_res->rr_audit_last > base.ah_seq)
			base.ah_seq = rt->rt_res->rr_audit_last;
		first = base.ah_seq + 1;
		for (seq = first, n = 0; seq <= head->ah_seq &&
		    n < RETENTION_AUDIT_BATCH; seq++) {
			if ((rc = store_audit_get(t, seq, &r)) != STORE_OK)
				goto fail;
			if (r->time >= cutoff) {
				audit_record_free(r);
				done = 1;
				break;
			}
			if (o->ro_apply) {
				memcpy(base.ah_hash, r->hash.data,
				    AUDIT_HASH_LEN);
				base.ah_seq = seq;
			}
			audit_record_free(r);
			if (o->ro_apply && (rc = store_audit_del(t, seq)) !=
			    STORE_OK)
				goto fail;
			n++;
		}
		if (seq > head->ah_seq)
			done = 1;
		if (n == 0) {
			if (o->ro_apply)
				store_abort(t);
			else {
				store_reader_end(t);
				store_reader_free(t);
			}
			break;
		}
		if (rt->rt_res->rr_audit_first == 0)
			rt->rt_res->rr_audit_first = first;
		rt->rt_res->rr_audit_last = first + n - 1;
		rt->rt_res->rr_audit_due += n;
		if (!o->ro_apply) {
			store_reader_end(t);
			store_reader_free(t);
			continue;
		}
		if ((rc = audit_base_put(t, &base)) != STORE_OK)
			goto fail;
		/*
		 * The audit index names the records going: emptied before
		 * the first of them goes (a cut between leaves an empty
		 * index, which the daemon builds again), built again after.
		 */
		if (!reset && (rc = store_audit_index_reset(st)) != STORE_OK)
			goto fail;
		reset = 1;
		if ((a = audit_record_new(NULL, "AuditPurge", NULL, o->ro_now)) ==
		    NULL) {
			rc = STORE_ERR;
			goto fail;
		}
		audit_record_set(a, EENPLAN__V1__CODE__OK, "retention",
		    "retention purge: audit records %llu..%llu (%llu) older "
		    "than %s (%u years) removed; the chain goes on from record "
		    "%llu's hash", (unsigned long long)first,
		    (unsigned long long)(first + n - 1),
		    (unsigned long long)n, day,
		    rt->rt_conf->c_audit_retention_years,
		    (unsigned long long)(first + n - 1));
		if (a->peer != protobuf_c_empty_string)
			free(a->peer);
		a->peer = strdup(o->ro_operator != NULL ? o->ro_operator :
		    "operator");
		rc = a->peer == NULL ? STORE_ERR : audit_append(t, head, a);
		audit_record_free(a);
		if (rc != STORE_OK)
			store_abort(t);		/* nothing of this batch kept */
		else
			rc = store_commit(t);	/* frees t, kept or not */
		if (rc != STORE_OK) {
			*head = saved;
			snprintf(err, errlen, "audit records %llu..: %s",
			    (unsigned long long)first, store_strerror(rc));
			return -1;
		}
		rt->rt_res->rr_audit_purged += n;
		rt->rt_res->rr_records_added++;
		rt_say(rt, "purge audit records %llu..%llu (%llu)",
		    (unsigned long long)first,
		    (unsigned long long)(first + n - 1),
		    (unsigned long long)n);
	}
	if (reset) {
		/* On disk first: the index never names a record a cut loses. */
		if ((rc = store_sync(st)) != STORE_OK)
			goto fail_index;
		do {
			if ((rc = store_audit_index(st, UINT64_MAX, 0,
			    &left)) != STORE_OK)
				goto fail_index;
		} while (left > 0);
		rt_say(rt, "audit index built again up to record %llu",
		    (unsigned long long)store_audit_indexed(st));
	}
	return 0;
fail_index:
	snprintf(err, errlen, "audit index: %s (the daemon builds it at its "
	    "start)", store_strerror(rc));
	return -1;
fail:
	if (o->ro_apply) {
		store_abort(t);
		*head = saved;
	} else {
		store_reader_end(t);
		store_reader_free(t);
	}
	snprintf(err, errlen, "audit records: %s", store_strerror(rc));
	return -1;
}

/* The chain's head, through a read txn. */
static int
rt_head(struct store *st, struct audit_head *head, char *err, size_t errlen)
{
	int rc;

	if ((rc = audit_head_of(st, head)) != STORE_OK) {
		snprintf(err, errlen, "audit head: %s (run audit verify)",
		    store_strerror(rc));
		return -1;
	}
	return 0;
}

int
retention_run(struct store *st, const struct config *conf,
    const struct retention_opts *o, struct retention_result *res, char *err,
    size_t errlen)
{
	struct audit_head head;
	struct rt rt;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&rt, 0, sizeof(rt));
	rt.rt_conf = conf;
	rt.rt_opts = o;
	rt.rt_res = res;
	if (conf->c_audit_retention_years < AUDIT_RETENTION_MIN_YEARS) {
		snprintf(err, errlen, "[audit] retention_years %u is below the "
		    "%d years NEN 7513 asks: refused",
		    conf->c_audit_retention_years, AUDIT_RETENTION_MIN_YEARS);
		return -1;
	}
	if (rt_head(st, &head, err, errlen) == -1)
		goto out;
	if (rt_find(st, &rt, err, errlen) == -1)
		goto out;
	/* The purge would leave copies it cannot find: refused before any. */
	if (o->ro_apply && res->rr_sent_unknown) {
		snprintf(err, errlen, "the senders' copies of signals are not "
		    "all indexed by household (the store's open says why): "
		    "nothing purged");
		goto out;
	}
	if (o->ro_apply && rt_households(st, &rt, &head, err, errlen) == -1)
		goto out;
	if (o->ro_audit && rt_audit(st, &rt, &head, retention_add_years(
	    o->ro_now, -(int)conf->c_audit_retention_years), err, errlen) ==
	    -1)
		goto out;
	rc = 0;
out:
	free(rt.rt_due);
	free(rt.rt_ev);
	return rc;
}
