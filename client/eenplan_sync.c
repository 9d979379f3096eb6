/*
 * eenplan_sync: a resuming follower of the change feed (see eenplan_sync.h).
 *
 * One loop: connect, catch up with ReadChanges pages (their cursor moves
 * past events the caller may not see, so a resume never reads a stretch
 * twice), then Subscribe from the cursor and hand out what is pushed. Any
 * failure — transport, a retryable status, a subscription the server ended,
 * a callback that could not finish — comes back to the top of the loop,
 * after a back-off, with the last acknowledged cursor.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "eenplan_sync.h"

enum sync_step {
	SS_OK,		/* go on */
	SS_DONE,	/* stopped, or caught up with so_once */
	SS_AGAIN,	/* failed: back off, then again (same connection if whole) */
	SS_CB,		/* the callback stopped it: return s_rc */
	SS_GAVE_UP,	/* too many failures in a row: return -1 */
	SS_FATAL	/* retrying cannot mend it: return EP_SYNC_REFUSED */
};

struct sync {
	const struct ep_sync_opts *s_o;
	ep_sync_event_fn	*s_cb;
	void			*s_arg;
	struct ep_client	*s_cl;
	uint64_t		 s_cursor;	/* the last one cb acknowledged */
	int			 s_failures;	/* failed attempts in a row */
	int			 s_rc;		/* cb's value for SS_CB */
	int			 s_keep;	/* SS_AGAIN on a whole connection */
	char			 s_why[512];	/* what failed, for the log */
	char			*s_err;
	size_t			 s_errlen;
};

static int64_t
sync_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
sync_stopped(const struct sync *s)
{
	return s->s_o->so_stop != NULL && *s->s_o->so_stop;
}

static void
sync_log(const struct sync *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void
sync_log(const struct sync *s, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (s->s_o->so_log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->s_o->so_log(s->s_o->so_log_arg, msg);
}

/* Records why the step failed; returns step. */
static enum sync_step
sync_why(struct sync *s, enum sync_step step, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum sync_step
sync_why(struct sync *s, enum sync_step step, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->s_why, sizeof(s->s_why), fmt, ap);
	va_end(ap);
	return step;
}

int
ep_sync_backoff(int failures, int min_ms, int max_ms, uint32_t rnd)
{
	int base, half, i;

	if (min_ms < 1)
		min_ms = 1;
	if (max_ms < min_ms)
		max_ms = min_ms;
	base = min_ms;
	for (i = 1; i < failures && base < max_ms; i++)
		base = base > max_ms / 2 ? max_ms : base * 2;
	half = base / 2;
	return half + (int)(rnd % (uint32_t)(base - half + 1));
}

int
ep_sync_retryable(int code)
{
	switch (code) {
	case EENPLAN__V1__CODE__CANCELLED:
	case EENPLAN__V1__CODE__UNKNOWN:
	case EENPLAN__V1__CODE__DEADLINE_EXCEEDED:
	case EENPLAN__V1__CODE__RESOURCE_EXHAUSTED:
	case EENPLAN__V1__CODE__ABORTED:
	case EENPLAN__V1__CODE__INTERNAL:
	case EENPLAN__V1__CODE__UNAVAILABLE:
		return 1;
	default:
		return 0;
	}
}

static uint32_t
sync_random(void)
{
	uint32_t r;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)sync_now_ms() * 2654435761u;
	return r;
}

/* Sleeps ms, looking at the stop flag every tick. */
static void
sync_sleep(const struct sync *s, int ms)
{
	struct timespec ts;
	int64_t end = sync_now_ms() + ms, left;

	while (!sync_stopped(s) && (left = end - sync_now_ms()) > 0) {
		if (left > EP_SYNC_TICK_MS)
			left = EP_SYNC_TICK_MS;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		if (nanosleep(&ts, NULL) == -1 && errno != EINTR)
			break;
	}
}

static void
sync_drop(struct sync *s)
{
	ep_client_close(s->s_cl);
	s->s_cl = NULL;
}

/*
 * One more failed attempt: gives up (-1, err set) after so_max_failures in
 * a row, else waits the back-off (0).
 */
static int
sync_failed(struct sync *s)
{
	const struct ep_sync_opts *o = s->s_o;
	int ms;

	s->s_failures++;
	if (o->so_max_failures > 0 && s->s_failures >= o->so_max_failures) {
		snprintf(s->s_err, s->s_errlen, "%s (gave up after %d "
		    "attempt%s)", s->s_why, s->s_failures,
		    s->s_failures == 1 ? "" : "s");
		return -1;
	}
	ms = ep_sync_backoff(s->s_failures, o->so_backoff_min_ms > 0 ?
	    o->so_backoff_min_ms : EP_SYNC_BACKOFF_MIN_MS,
	    o->so_backoff_max_ms > 0 ? o->so_backoff_max_ms :
	    EP_SYNC_BACKOFF_MAX_MS, sync_random());
	sync_log(s, "%s; again in %d ms, from seq %llu", s->s_why, ms,
	    (unsigned long long)s->s_cursor);
	sync_sleep(s, ms);
	return 0;
}

static enum sync_step
sync_connect(struct sync *s)
{
	const struct ep_sync_opts *o = s->s_o;
	char err[512];

	err[0] = '\0';
	s->s_cl = o->so_connect != NULL ?
	    o->so_connect(o->so_connect_arg, err, sizeof(err)) :
	    ep_client_connect(o->so_host, o->so_port, o->so_cert, o->so_key,
	    o->so_ca, err, sizeof(err));
	if (s->s_cl == NULL)
		return sync_why(s, SS_AGAIN, "%s", err[0] ? err :
		    "cannot connect");
	if (s->s_failures > 0)
		sync_log(s, "connected again; resuming after seq %llu",
		    (unsigned long long)s->s_cursor);
	return SS_OK;
}

/* A refusal by the server: worth another attempt, or the end. */
static enum sync_step
sync_refused(struct sync *s, const char *what, const EpResponse *resp)
{
	int code = ep_client_status(resp);
	const char *msg = ep_client_status_message(resp);

	if (ep_sync_retryable(code)) {
		s->s_keep = 1;	/* an answer came: the connection is whole */
		return sync_why(s, SS_AGAIN, "%s: %s: %s", what,
		    wire_code_name(code), msg);
	}
	snprintf(s->s_err, s->s_errlen, "%s: %s: %s", what,
	    wire_code_name(code), msg[0] ? msg : "refused by the server");
	return SS_FATAL;
}

/* Hands one event (or, ev NULL, a cursor move) to the callback. */
static enum sync_step
sync_hand(struct sync *s, const EpChangeEvent *ev, uint64_t cursor)
{
	int rc;

	rc = s->s_cb(s->s_cl, ev, cursor, s->s_arg);
	if (rc == 0) {
		s->s_cursor = cursor;
		return SS_OK;
	}
	if (rc == EP_SYNC_RETRY)
		return sync_why(s, SS_AGAIN, "event %llu not handled",
		    (unsigned long long)(ev != NULL ? ev->seq : cursor));
	s->s_rc = rc;
	return SS_CB;
}

/* The events of one ReadChanges page, then the page's cursor. */
static enum sync_step
sync_page(struct sync *s, const Eenplan__V1__ReadChangesResponse *rc)
{
	const EpChangeEvent *ev;
	enum sync_step st;
	uint64_t cursor;
	size_t i;

	for (i = 0; i < rc->n_events; i++) {
		if (sync_stopped(s))
			return SS_DONE;
		if ((ev = rc->events[i]) == NULL || ev->seq <= s->s_cursor)
			return sync_why(s, SS_AGAIN, "protocol error: the feed "
			    "went back to seq %llu", (unsigned long long)
			    (ev != NULL ? ev->seq : 0));
		/* Two events of one seq: resuming after the first gives the second. */
		cursor = i + 1 < rc->n_events && rc->events[i + 1] != NULL &&
		    rc->events[i + 1]->seq == ev->seq ? ev->seq - 1 : ev->seq;
		if ((st = sync_hand(s, ev, cursor)) != SS_OK)
			return st;
	}
	if (rc->last_seq > s->s_cursor)
		return sync_hand(s, NULL, rc->last_seq);
	return SS_OK;
}

/* ReadChanges pages from the cursor until the end of the feed. */
static enum sync_step
sync_catch_up(struct sync *s)
{
	Eenplan__V1__ReadChangesRequest rq;
	EpRequest req;
	EpResponse *resp = NULL;
	enum sync_step st;
	uint64_t since;
	char err[512];
	int more;

	for (;;) {
		if (sync_stopped(s))
			return SS_DONE;
		eenplan__v1__request__init(&req);
		eenplan__v1__read_changes_request__init(&rq);
		rq.since_seq = since = s->s_cursor;
		rq.limit = s->s_o->so_page;
		req.body_case = EENPLAN__V1__REQUEST__BODY_READ_CHANGES;
		req.read_changes = &rq;
		if (ep_client_call(s->s_cl, &req, &resp, err, sizeof(err)) ==
		    -1)
			return sync_why(s, SS_AGAIN, "%s", err);
		if (ep_client_status(resp) != EENPLAN__V1__CODE__OK) {
			st = sync_refused(s, "ReadChanges", resp);
			ep_client_response_free(s->s_cl, resp);
			return st;
		}
		if (resp->body_case != EENPLAN__V1__RESPONSE__BODY_READ_CHANGES ||
		    resp->read_changes == NULL) {
			ep_client_response_free(s->s_cl, resp);
			return sync_why(s, SS_AGAIN, "protocol error: "
			    "ReadChanges answered with another message");
		}
		s->s_failures = 0;
		st = sync_page(s, resp->read_changes);
		more = resp->read_changes->more;
		ep_client_response_free(s->s_cl, resp);
		if (st != SS_OK)
			return st;
		if (!more)
			return SS_OK;
		if (s->s_cursor <= since)
			return sync_why(s, SS_AGAIN, "protocol error: the feed "
			    "does not move past seq %llu",
			    (unsigned long long)since);
	}
}

/* A cheap call on a quiet connection: is the server still there? */
static enum sync_step
sync_heartbeat(struct sync *s)
{
	Eenplan__V1__WhoAmIRequest w;
	EpRequest req;
	EpResponse *resp = NULL;
	char err[512];

	eenplan__v1__request__init(&req);
	eenplan__v1__who_am_irequest__init(&w);
	req.body_case = EENPLAN__V1__REQUEST__BODY_WHO_AM_I;
	req.who_am_i = &w;
	if (ep_client_call(s->s_cl, &req, &resp, err, sizeof(err)) == -1)
		return sync_why(s, SS_AGAIN, "%s", err);
	ep_client_response_free(s->s_cl, resp);
	return SS_OK;
}

static void
sync_unsubscribe(struct sync *s, uint64_t sub)
{
	EpResponse *resp = NULL;
	char err[512];

	ep_client_set_timeout(s->s_cl, 2000);	/* leaving: no long wait */
	if (ep_client_unsubscribe(s->s_cl, sub, &resp, err, sizeof(err)) ==
	    0)
		ep_client_response_free(s->s_cl, resp);
}

/* One pushed frame of the subscription. */
static enum sync_step
sync_pushed(struct sync *s, const EpResponse *ev)
{
	const EpChangeEvent *ce;

	/* E.g. RESOURCE_EXHAUSTED: it fell behind; subscribe again. */
	if (ep_client_status(ev) != EENPLAN__V1__CODE__OK)
		return sync_refused(s, "the server ended the subscription",
		    ev);
	if (ev->body_case != EENPLAN__V1__RESPONSE__BODY_SUBSCRIBE ||
	    ev->subscribe == NULL)
		return sync_why(s, SS_AGAIN, "protocol error: a pushed frame "
		    "that is not a change event");
	if ((ce = ev->subscribe->event) == NULL)
		return SS_OK;
	return sync_hand(s, ce, ce->seq);
}

/* Subscribes from the cursor and hands out what is pushed. */
static enum sync_step
sync_follow(struct sync *s)
{
	const struct ep_sync_opts *o = s->s_o;
	int heartbeat = o->so_heartbeat_ms > 0 ? o->so_heartbeat_ms :
	    EP_SYNC_HEARTBEAT_MS;
	EpResponse *resp = NULL;
	enum sync_step st;
	int64_t last;
	uint64_t sub;
	char err[512];
	int r;

	if (ep_client_subscribe(s->s_cl, s->s_cursor, &sub, &resp, err,
	    sizeof(err)) == -1)
		return sync_why(s, SS_AGAIN, "%s", err);
	if (ep_client_status(resp) != EENPLAN__V1__CODE__OK) {
		st = sync_refused(s, "Subscribe", resp);
		ep_client_response_free(s->s_cl, resp);
		return st;
	}
	ep_client_response_free(s->s_cl, resp);
	s->s_failures = 0;
	last = sync_now_ms();
	for (;;) {
		if (sync_stopped(s)) {
			sync_unsubscribe(s, sub);
			return SS_DONE;
		}
		r = ep_client_next_event(s->s_cl, EP_SYNC_TICK_MS, &resp, err,
		    sizeof(err));
		if (r == -1)
			return sync_why(s, SS_AGAIN, "%s", err);
		if (r == 0) {
			if (sync_now_ms() - last < heartbeat)
				continue;
			if ((st = sync_heartbeat(s)) != SS_OK)
				return st;
			last = sync_now_ms();
			continue;
		}
		last = sync_now_ms();
		st = sync_pushed(s, resp);
		ep_client_response_free(s->s_cl, resp);
		if (st != SS_OK)
			return st;
	}
}

int
ep_sync_run(const struct ep_sync_opts *o, ep_sync_event_fn *cb, void *arg,
    uint64_t *cursor, char *err, size_t errlen)
{
	struct sync s;
	enum sync_step st;
	char dummy[1];
	int rc;

	memset(&s, 0, sizeof(s));
	s.s_o = o;
	s.s_cb = cb;
	s.s_arg = arg;
	s.s_cursor = o->so_since;
	s.s_err = err != NULL && errlen > 0 ? err : dummy;
	s.s_errlen = err != NULL && errlen > 0 ? errlen : sizeof(dummy);
	s.s_err[0] = '\0';
	s.s_cl = o->so_client;
	for (;;) {
		if (sync_stopped(&s)) {
			st = SS_DONE;
			break;
		}
		s.s_keep = 0;
		if (s.s_cl == NULL && (st = sync_connect(&s)) != SS_OK)
			goto again;
		if ((st = sync_catch_up(&s)) != SS_OK)
			goto again;
		if (o->so_once) {
			st = SS_DONE;
			break;
		}
		st = sync_follow(&s);
again:
		if (st == SS_DONE || st == SS_CB || st == SS_FATAL)
			break;
		/*
		 * A connection that failed is closed; one that answered with
		 * a retryable status (a subscription ended because it fell
		 * behind, a busy server) is used again.
		 */
		if (!s.s_keep)
			sync_drop(&s);
		if (sync_failed(&s) == -1) {
			st = SS_GAVE_UP;
			break;
		}
	}
	sync_drop(&s);
	if (cursor != NULL)
		*cursor = s.s_cursor;
	switch (st) {
	case SS_DONE:
		rc = 0;
		break;
	case SS_CB:
		rc = s.s_rc;
		break;
	case SS_FATAL:
		rc = EP_SYNC_REFUSED;
		break;
	case SS_GAVE_UP:
	default:
		rc = -1;
		break;
	}
	return rc;
}
