/* sub: a worker's push subscriptions (see sub.h). */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "feed.h"
#include "log.h"
#include "metrics.h"
#include "sub.h"
#include "util.h"

/* Events looked at per round, as a multiple of what it may push. */
#define SUB_LOOK_FACTOR	50
/* A subscriber's lag or unsent bytes as counted: the sum cannot overflow. */
#define SUB_LAG_MAX	((int64_t)1 << 40)

struct sub_round;

struct sub {
	struct subs		*s_subs;
	struct call		*s_call;	/* the Subscribe call: holds the conn */
	uint64_t		 s_cursor;	/* the last seq handled */
	struct feed_reader	 s_fr;
	struct sub_round	*s_round;	/* with the writer, or NULL */
	int			 s_again;	/* more may be waiting */
	int			 s_end_code;	/* end after the round (0: no) */
	char			 s_end_msg[160];
	int64_t			 s_lag;		/* for metrics: events after its
						   cursor, unsent bytes, as of
						   its last round */
	int64_t			 s_pending;
	TAILQ_ENTRY(sub)	 s_entry;
};

struct sub_round {
	struct wjob		 r_job;
	const struct call_env	*r_env;
	struct sub		*r_sub;
	EpAuditRecord		*r_audit;
	uint8_t			**r_frames;
	size_t			*r_lens;
	size_t			 r_n;
	uint64_t		 r_cursor;
};

struct subs {
	TAILQ_HEAD(, sub)	 ss_list;
	size_t			 ss_n;
	size_t			 ss_out_max;
};

struct subs *
subs_new(size_t out_max)
{
	struct subs *ss;

	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return NULL;
	TAILQ_INIT(&ss->ss_list);
	ss->ss_out_max = out_max;
	return ss;
}

size_t
subs_count(const struct subs *ss)
{
	return ss != NULL ? ss->ss_n : 0;
}

static void
round_free(struct sub_round *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->r_n; i++)
		free(r->r_frames[i]);
	free(r->r_frames);
	free(r->r_lens);
	audit_record_free(r->r_audit);
	free(r);
}

/* For metrics: s's lag and unsent bytes now (a negative one: unchanged). */
static void
sub_note(struct sub *s, int64_t lag, int64_t pending)
{
	if (lag >= 0) {
		metrics_sub_lag(lag - s->s_lag);
		s->s_lag = lag;
	}
	if (pending >= 0) {
		metrics_sub_pending(pending - s->s_pending);
		s->s_pending = pending;
	}
}

/* Ends s with its last answer (code, message) and frees it. */
static void
sub_finish(struct sub *s, int code, const char *msg)
{
	struct subs *ss = s->s_subs;

	sub_note(s, 0, 0);
	metrics_subscribers(-1);
	TAILQ_REMOVE(&ss->ss_list, s, s_entry);
	ss->ss_n--;
	feed_reader_clear(&s->s_fr);
	call_status(s->s_call, code, "%s", msg);
	call_reply(s->s_call);		/* releases the connection */
	free(s);
}

/* Ends s now, or when its round comes back from the writer. */
static void
sub_end(struct sub *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void
sub_end(struct sub *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->s_end_msg, sizeof(s->s_end_msg), fmt, ap);
	va_end(ap);
	s->s_end_code = code;
	if (s->s_round == NULL)
		sub_finish(s, code, s->s_end_msg);
}

/* One frame of the subscription: Response {id, subscribe {event, last_seq}}. */
static int
sub_frame(struct sub *s, EpChangeEvent *ev, uint64_t last, uint8_t **buf,
    size_t *len)
{
	Eenplan__V1__SubscribeResponse sr =
	    EENPLAN__V1__SUBSCRIBE_RESPONSE__INIT;
	EpResponse resp = EENPLAN__V1__RESPONSE__INIT;

	sr.event = ev;
	sr.last_seq = last;
	resp.id = s->s_call->ca_id;
	resp.body_case = EENPLAN__V1__RESPONSE__BODY_SUBSCRIBE;
	resp.subscribe = &sr;
	*buf = wire_frame_pack(&resp.base, s->s_call->ca_sink.cs_max_frame, len);
	return *buf != NULL ? 0 : -1;
}

struct collect {
	struct sub		*c_sub;
	struct sub_round	*c_round;
	struct stxn		*c_tx;
	size_t			 c_looked;
	int			 c_rc;
	int			 c_full;
};

static int
collect_one(const EpsFeedEvent *fe, void *arg)
{
	struct collect *c = arg;
	struct sub_round *r = c->c_round;
	EpChangeEvent *out[2];
	int i, n, rc = 0;

	if (r->r_n + 2 > SUB_ROUND_EVENTS ||
	    c->c_looked == SUB_ROUND_EVENTS * SUB_LOOK_FACTOR) {
		c->c_full = 1;
		return 1;
	}
	c->c_looked++;
	if ((n = feed_view(&c->c_sub->s_fr, c->c_tx, fe, out)) < 0) {
		c->c_rc = n;
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0 && (sub_frame(c->c_sub, out[i], fe->event->seq,
		    &r->r_frames[r->r_n], &r->r_lens[r->r_n]) != 0 ||
		    audit_record_reveal(r->r_audit, out[i]->household_id) != 0))
			rc = STORE_ERR;
		else if (rc == 0)
			r->r_n++;
		protobuf_c_message_free_unpacked(&out[i]->base, NULL);
	}
	if (rc != 0) {
		c->c_rc = rc;
		return 1;
	}
	r->r_cursor = fe->event->seq;
	return 0;
}

static void sub_round_done(struct wjob *);

/* In the writer thread: back to the worker the subscription lives on. */
static void
sub_post(struct wjob *j)
{
	struct sub_round *r = j->wj_arg;

	r->r_env->ce_post(r->r_env->ce_post_arg, j);
}

/* The next round of s: what it may see after its cursor, then the writer. */
static void
sub_round(struct sub *s)
{
	const struct call_env *env = s->s_call->ca_env;
	struct call_sink *sink = &s->s_call->ca_sink;
	struct collect c;
	struct sub_round *r;
	uint64_t head;
	size_t pending;
	int rc;

	s->s_again = 0;
	if ((pending = sink->cs_pending(sink->cs_arg)) == SIZE_MAX) {
		sub_end(s, CODE(CANCELLED), "connection closed");
		return;
	}
	sub_note(s, -1, pending > SUB_LAG_MAX ? SUB_LAG_MAX : (int64_t)pending);
	if (pending > s->s_subs->ss_out_max) {
		log_warnx("subscription %llu of %s/%s: %zu bytes unsent, over "
		    "subscriber_buffer; ended", (unsigned long long)
		    s->s_call->ca_id, s->s_call->ca_who.pr_org,
		    s->s_call->ca_who.pr_subject, pending);
		sub_end(s, CODE(RESOURCE_EXHAUSTED), "subscriber_buffer: more "
		    "than %zu bytes of events unread; subscribe again from "
		    "seq %llu", s->s_subs->ss_out_max,
		    (unsigned long long)s->s_cursor);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->r_frames = calloc(SUB_ROUND_EVENTS, sizeof(*r->r_frames))) ==
	    NULL || (r->r_lens = calloc(SUB_ROUND_EVENTS,
	    sizeof(*r->r_lens))) == NULL ||
	    (r->r_audit = audit_record_new(&s->s_call->ca_who, "Subscribe",
	    NULL, util_now_us())) == NULL) {
		round_free(r);
		sub_end(s, CODE(INTERNAL), "out of memory");
		return;
	}
	r->r_sub = s;
	r->r_env = env;
	r->r_cursor = s->s_cursor;
	memset(&c, 0, sizeof(c));
	c.c_sub = s;
	c.c_round = r;
	if ((rc = store_reader_begin(env->ce_reader)) != STORE_OK) {
		round_free(r);
		sub_end(s, CODE(UNAVAILABLE), "storage: %s", store_strerror(rc));
		return;
	}
	c.c_tx = env->ce_reader;
	rc = store_change_scan(c.c_tx, s->s_cursor, collect_one, &c);
	/* What is left after this round: its lag, for metrics. */
	if (rc == STORE_OK && c.c_rc == STORE_OK &&
	    store_change_last(c.c_tx, &head) == STORE_OK)
		sub_note(s, head <= r->r_cursor ? 0 :
		    head - r->r_cursor > SUB_LAG_MAX ? SUB_LAG_MAX :
		    (int64_t)(head - r->r_cursor), -1);
	store_reader_end(env->ce_reader);
	/* Consent states are read per round: a subscriber holds none. */
	feed_reader_clear(&s->s_fr);
	if (rc == STORE_OK)
		rc = c.c_rc;
	if (rc != STORE_OK) {
		round_free(r);
		sub_end(s, rc == STORE_CORRUPT ? CODE(DATA_LOSS) :
		    CODE(UNAVAILABLE), "the feed could not be read: %s",
		    store_strerror(rc));
		return;
	}
	s->s_again = c.c_full;
	if (r->r_n == 0) {
		/* Nothing it may see: it is up to date without a word. */
		s->s_cursor = r->r_cursor;
		round_free(r);
		return;
	}
	audit_record_set(r->r_audit, CODE(OK), NULL, "pushed %zu event(s) "
	    "after seq %llu, up to %llu", r->r_n,
	    (unsigned long long)s->s_cursor, (unsigned long long)r->r_cursor);
	/* Nothing leaves before its audit record is committed. */
	s->s_round = r;
	memset(&r->r_job, 0, sizeof(r->r_job));
	r->r_job.wj_exec = NULL;
	r->r_job.wj_readonly = 1;
	r->r_job.wj_post = sub_post;
	r->r_job.wj_done = sub_round_done;
	r->r_job.wj_arg = r;
	r->r_job.wj_audit = r->r_audit;
	writer_submit(env->ce_writer, &r->r_job);
}

static void
sub_round_done(struct wjob *j)
{
	struct sub_round *r = j->wj_arg;
	struct sub *s = r->r_sub;
	struct call_sink *sink;
	size_t i;

	if (s == NULL) {
		round_free(r);
		return;
	}
	sink = &s->s_call->ca_sink;
	s->s_round = NULL;
	if (j->wj_rc != STORE_OK) {
		round_free(r);
		sub_end(s, CODE(UNAVAILABLE), "the audit record of pushed "
		    "events could not be committed (%s); resume from seq %llu",
		    store_strerror(j->wj_rc), (unsigned long long)s->s_cursor);
		return;
	}
	for (i = 0; i < r->r_n; i++) {
		sink->cs_push(sink->cs_arg, r->r_frames[i], 0, r->r_lens[i]);
		r->r_frames[i] = NULL;
	}
	s->s_cursor = r->r_cursor;
	round_free(r);
	if (s->s_end_code != 0) {
		sub_finish(s, s->s_end_code, s->s_end_msg);
		return;
	}
	if (s->s_again)
		sub_round(s);
}

void
subs_add(struct subs *ss, struct call *ca, uint64_t since)
{
	Eenplan__V1__SubscribeResponse sr =
	    EENPLAN__V1__SUBSCRIBE_RESPONSE__INIT;
	EpResponse resp = EENPLAN__V1__RESPONSE__INIT;
	struct sub *s;
	uint8_t *buf;
	size_t len;

	if (ss == NULL || (s = calloc(1, sizeof(*s))) == NULL) {
		call_status(ca, CODE(RESOURCE_EXHAUSTED), "out of memory");
		call_reply(ca);
		return;
	}
	s->s_subs = ss;
	s->s_call = ca;
	s->s_cursor = since;
	feed_reader_init(&s->s_fr, ca->ca_env->ce_hh, &ca->ca_who);
	TAILQ_INSERT_TAIL(&ss->ss_list, s, s_entry);
	ss->ss_n++;
	metrics_subscribers(1);
	/* The confirmation: subscribed, up to date to since. */
	sr.last_seq = since;
	resp.id = ca->ca_id;
	resp.body_case = EENPLAN__V1__RESPONSE__BODY_SUBSCRIBE;
	resp.subscribe = &sr;
	if ((buf = wire_frame_pack(&resp.base, ca->ca_sink.cs_max_frame,
	    &len)) == NULL) {
		sub_finish(s, CODE(INTERNAL), "out of memory");
		return;
	}
	ca->ca_sink.cs_push(ca->ca_sink.cs_arg, buf, 0, len);
	sub_round(s);
}

int
subs_end(struct subs *ss, void *owner, uint64_t id)
{
	struct sub *s;

	TAILQ_FOREACH(s, &ss->ss_list, s_entry) {
		if (s->s_call->ca_sink.cs_owner == owner &&
		    s->s_call->ca_id == id && s->s_end_code == 0) {
			sub_end(s, CODE(CANCELLED), "unsubscribed");
			return 0;
		}
	}
	return -1;
}

void
subs_pump(struct subs *ss)
{
	struct sub *s, *next;

	if (ss == NULL)
		return;
	/* A round can end its subscription: take the next one first. */
	for (s = TAILQ_FIRST(&ss->ss_list); s != NULL; s = next) {
		next = TAILQ_NEXT(s, s_entry);
		if (s->s_end_code != 0)
			continue;
		if (s->s_round == NULL)
			sub_round(s);
		else
			s->s_again = 1;	/* its round did not see these: one more */
	}
}

void
subs_free(struct subs *ss)
{
	struct sub *s;

	if (ss == NULL)
		return;
	while ((s = TAILQ_FIRST(&ss->ss_list)) != NULL) {
		/* A round still with the writer comes back to nobody. */
		if (s->s_round != NULL)
			s->s_round->r_sub = NULL;
		s->s_round = NULL;
		sub_finish(s, CODE(UNAVAILABLE), "the server is stopping");
	}
	free(ss);
}
