/*
 * Unit tests for the client library and the CLI's pure parts, without a
 * server: the library talks plaintext frames over a socketpair to a fake
 * server thread that follows a script (answers out of order, interleaves
 * events, sends oversized, truncated, empty or garbage frames, goes silent).
 * Then argument parsing, the connection settings, request building, text
 * output and the generic protobuf-to-JSON conversion.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "clicmd.h"
#include "cliconn.h"
#include "cliopt.h"
#include "cliout.h"
#include "clireq.h"
#include "clival.h"
#include "eenplan_client.h"
#include "pbjson.h"

#define HH	"0123456789abcdef0123456789abcdef"

/* ------------------------------------------------------------ fake server */

struct fake;
typedef void (*script_fn)(struct fake *);

struct fake {
	int		 f_fd;
	pthread_t	 f_thr;
	script_fn	 f_script;
	int		 f_failures;
	char		 f_why[256];
	int		 f_saw_eof;
};

static struct fake	 fk;
static struct ep_client	*cl;
static char		 err[512];

static void
fake_fail(struct fake *f, const char *why)
{
	if (f->f_failures++ == 0)
		snprintf(f->f_why, sizeof(f->f_why), "%s", why);
}

/* Exactly n bytes, waiting at most 5 s: 0, 1 at EOF, -1 on error or timeout. */
static int
srv_read(struct fake *f, void *buf, size_t n)
{
	struct pollfd pfd;
	size_t off = 0;
	ssize_t r;

	while (off < n) {
		pfd.fd = f->f_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 5000) != 1)
			return -1;
		r = read(f->f_fd, (uint8_t *)buf + off, n - off);
		if (r == 0)
			return 1;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECONNRESET ? 1 : -1;
		}
		off += (size_t)r;
	}
	return 0;
}

static EpRequest *
srv_recv(struct fake *f)
{
	uint8_t hdr[4], *body;
	uint32_t len;
	EpRequest *req;

	if (srv_read(f, hdr, 4) != 0)
		return NULL;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > (1u << 22) || (body = malloc(len)) == NULL) {
		fake_fail(f, "bad request frame length");
		return NULL;
	}
	if (srv_read(f, body, len) != 0) {
		free(body);
		fake_fail(f, "truncated request");
		return NULL;
	}
	if ((req = eenplan__v1__request__unpack(NULL, len, body)) == NULL)
		fake_fail(f, "request does not unpack");
	free(body);
	return req;
}

static void
srv_free(EpRequest *r)
{
	if (r != NULL)
		eenplan__v1__request__free_unpacked(r, NULL);
}

static void
srv_raw(struct fake *f, const void *buf, size_t n)
{
	size_t off = 0;
	ssize_t w;

	while (off < n) {
		w = send(f->f_fd, (const uint8_t *)buf + off, n - off,
		    MSG_NOSIGNAL);
		if (w <= 0)
			return;	/* the client may have closed on purpose */
		off += (size_t)w;
	}
}

static void
srv_send(struct fake *f, EpResponse *r)
{
	uint8_t *frame;
	size_t len;

	if ((frame = wire_frame_pack(&r->base, 1u << 22, &len)) == NULL) {
		fake_fail(f, "cannot pack");
		return;
	}
	srv_raw(f, frame, len);
	free(frame);
}

static void
srv_whoami(struct fake *f, uint64_t id, char *subject, char *org_name)
{
	Eenplan__V1__WhoAmIResponse w;
	EpPrincipal p;
	EpResponse r;

	eenplan__v1__response__init(&r);
	eenplan__v1__who_am_iresponse__init(&w);
	eenplan__v1__principal__init(&p);
	p.org = "lev";
	p.subject = subject;
	p.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	w.principal = &p;
	if (org_name != NULL)
		w.org_name = org_name;
	r.id = id;
	r.body_case = EENPLAN__V1__RESPONSE__BODY_WHO_AM_I;
	r.who_am_i = &w;
	srv_send(f, &r);
}

/* A subscription frame: the confirmation (seq 0) or one event. */
static void
srv_event(struct fake *f, uint64_t id, uint64_t seq, int code)
{
	Eenplan__V1__SubscribeResponse s;
	EpChangeEvent ev;
	EpStatus st;
	EpResponse r;

	eenplan__v1__response__init(&r);
	eenplan__v1__subscribe_response__init(&s);
	eenplan__v1__change_event__init(&ev);
	r.id = id;
	r.body_case = EENPLAN__V1__RESPONSE__BODY_SUBSCRIBE;
	r.subscribe = &s;
	if (seq != 0) {
		ev.seq = seq;
		ev.household_id = HH;
		ev.kind = EENPLAN__V1__CHANGE_KIND__CHANGE_PLAN;
		s.event = &ev;
	}
	if (code != 0) {
		eenplan__v1__status__init(&st);
		st.code = code;
		st.message = "stopped";
		r.status = &st;
	}
	srv_send(f, &r);
}

static void
srv_status(struct fake *f, uint64_t id, int code, char *msg)
{
	EpStatus st;
	EpResponse r;

	eenplan__v1__response__init(&r);
	eenplan__v1__status__init(&st);
	st.code = code;
	st.message = msg;
	r.id = id;
	r.status = &st;
	srv_send(f, &r);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	uint8_t b;

	f->f_script(f);
	/* Then wait for the client to close its end. */
	if (srv_read(f, &b, 1) == 1)
		f->f_saw_eof = 1;
	return NULL;
}

static void
start(script_fn script)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(&fk, 0, sizeof(fk));
	fk.f_fd = sv[1];
	fk.f_script = script;
	cl = ep_client_from_fd(sv[0], err, sizeof(err));
	assert_non_null(cl);
	assert_int_equal(pthread_create(&fk.f_thr, NULL, fake_main, &fk), 0);
}

/* Closes the client, joins the server; its script must have gone as planned. */
static void
finish(void)
{
	ep_client_close(cl);
	cl = NULL;
	pthread_join(fk.f_thr, NULL);
	close(fk.f_fd);
	fk.f_fd = -1;
	if (fk.f_failures)
		fail_msg("fake server: %s", fk.f_why);
}

static int
teardown_conn(void **state)
{
	(void)state;
	if (cl != NULL) {
		ep_client_close(cl);
		cl = NULL;
		pthread_join(fk.f_thr, NULL);
		close(fk.f_fd);
	}
	return 0;
}

static void
whoami_req(EpRequest *req, Eenplan__V1__WhoAmIRequest *w)
{
	eenplan__v1__request__init(req);
	eenplan__v1__who_am_irequest__init(w);
	req->body_case = EENPLAN__V1__REQUEST__BODY_WHO_AM_I;
	req->who_am_i = w;
}

static const char *
subject_of(const EpResponse *r)
{
	assert_non_null(r);
	assert_int_equal(r->body_case, EENPLAN__V1__RESPONSE__BODY_WHO_AM_I);
	assert_non_null(r->who_am_i->principal);
	return r->who_am_i->principal->subject;
}

/* ------------------------------------------------------------ library */

static void
script_two_calls(struct fake *f)
{
	EpRequest *r;

	if ((r = srv_recv(f)) == NULL)
		return;
	if (r->id != 1 || r->body_case != EENPLAN__V1__REQUEST__BODY_WHO_AM_I)
		fake_fail(f, "first request is not WhoAmI id 1");
	srv_whoami(f, r->id, "eerste", NULL);
	srv_free(r);
	if ((r = srv_recv(f)) == NULL)
		return;
	if (r->id != 2)
		fake_fail(f, "second request is not id 2");
	srv_whoami(f, r->id, "tweede", NULL);
	srv_free(r);
}

static void
test_call_assigns_ids(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	EpRequest req;
	EpResponse *resp;

	(void)state;
	start(script_two_calls);
	whoami_req(&req, &w);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), 0);
	assert_int_equal(req.id, 1);
	assert_int_equal(resp->id, 1);
	assert_int_equal(ep_client_status(resp), EENPLAN__V1__CODE__OK);
	assert_string_equal(ep_client_status_message(resp), "");
	assert_string_equal(subject_of(resp), "eerste");
	ep_client_response_free(cl, resp);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), 0);
	assert_int_equal(req.id, 2);
	assert_string_equal(subject_of(resp), "tweede");
	/* Not freed on purpose: ep_client_close releases it (ASan checks). */
	finish();
	assert_int_equal(fk.f_saw_eof, 1);
}

static void
script_reversed(struct fake *f)
{
	EpRequest *a, *b, *c;

	a = srv_recv(f);
	b = srv_recv(f);
	c = srv_recv(f);
	if (a == NULL || b == NULL || c == NULL) {
		fake_fail(f, "expected three requests");
	} else {
		srv_whoami(f, c->id, "drie", NULL);
		srv_whoami(f, a->id, "een", NULL);
		srv_whoami(f, b->id, "twee", NULL);
	}
	srv_free(a);
	srv_free(b);
	srv_free(c);
}

static void
test_out_of_order_answers(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	EpRequest req;
	EpResponse *r1, *r2, *r3;
	uint64_t id1, id2, id3;

	(void)state;
	start(script_reversed);
	whoami_req(&req, &w);
	assert_int_equal(ep_client_send(cl, &req, &id1, err, sizeof(err)), 0);
	assert_int_equal(ep_client_send(cl, &req, &id2, err, sizeof(err)), 0);
	assert_int_equal(ep_client_send(cl, &req, &id3, err, sizeof(err)), 0);
	assert_int_equal(id1, 1);
	assert_int_equal(id3, 3);
	assert_int_equal(ep_client_wait(cl, id2, &r2, err, sizeof(err)), 0);
	assert_int_equal(r2->id, 2);
	assert_string_equal(subject_of(r2), "twee");
	assert_int_equal(ep_client_wait(cl, id1, &r1, err, sizeof(err)), 0);
	assert_string_equal(subject_of(r1), "een");
	assert_int_equal(ep_client_wait(cl, id3, &r3, err, sizeof(err)), 0);
	assert_string_equal(subject_of(r3), "drie");
	/* Each lives in its own memory: freeing one leaves the others whole. */
	ep_client_response_free(cl, r2);
	assert_string_equal(subject_of(r1), "een");
	ep_client_response_free(cl, r1);
	ep_client_response_free(cl, r3);
	/* Waiting for an id that is not in flight is refused. */
	assert_int_equal(ep_client_wait(cl, id1, &r1, err, sizeof(err)), -1);
	assert_null(r1);
	finish();
}

static void
script_event_first(struct fake *f)
{
	EpRequest *s, *r;

	if ((s = srv_recv(f)) == NULL)
		return;
	if (s->body_case != EENPLAN__V1__REQUEST__BODY_SUBSCRIBE ||
	    s->subscribe->since_seq != 7)
		fake_fail(f, "expected Subscribe since 7");
	srv_event(f, s->id, 0, 0);		/* confirmation */
	if ((r = srv_recv(f)) != NULL) {
		srv_event(f, s->id, 8, 0);	/* before the answer */
		srv_event(f, s->id, 9, 0);
		srv_whoami(f, r->id, "na", NULL);
	}
	srv_free(r);
	if ((r = srv_recv(f)) == NULL)
		fake_fail(f, "no second request");
	else
		srv_event(f, s->id, 0, EENPLAN__V1__CODE__UNAVAILABLE);
	srv_free(r);
	srv_free(s);
}

static void
test_event_before_response_is_queued(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	EpRequest req;
	EpResponse *resp, *ev;
	uint64_t sub = 0;

	(void)state;
	start(script_event_first);
	assert_int_equal(ep_client_subscribe(cl, 7, &sub, &resp, err,
	    sizeof(err)), 0);
	assert_int_equal(sub, 1);
	assert_int_equal(ep_client_status(resp), EENPLAN__V1__CODE__OK);
	assert_null(resp->subscribe->event);
	ep_client_response_free(cl, resp);

	whoami_req(&req, &w);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp->id, 2);
	assert_string_equal(subject_of(resp), "na");
	ep_client_response_free(cl, resp);

	/* Both events were read ahead and kept, in order. */
	assert_int_equal(ep_client_next_event(cl, 0, &ev, err, sizeof(err)), 1);
	assert_int_equal(ev->id, sub);
	assert_non_null(ev->subscribe->event);
	assert_int_equal(ev->subscribe->event->seq, 8);
	ep_client_response_free(cl, ev);
	assert_int_equal(ep_client_next_event(cl, 0, &ev, err, sizeof(err)), 1);
	assert_int_equal(ev->subscribe->event->seq, 9);
	ep_client_response_free(cl, ev);
	assert_int_equal(ep_client_next_event(cl, 0, &ev, err, sizeof(err)), 0);
	assert_null(ev);

	/* A non-OK event ends the subscription. */
	assert_int_equal(ep_client_send(cl, &req, NULL, err, sizeof(err)), 0);
	assert_int_equal(ep_client_next_event(cl, 5000, &ev, err, sizeof(err)),
	    1);
	assert_int_equal(ep_client_status(ev), EENPLAN__V1__CODE__UNAVAILABLE);
	ep_client_response_free(cl, ev);
	assert_int_equal(ep_client_next_event(cl, -1, &ev, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "no subscription"));
	finish();
}

static void
script_sub_refused(struct fake *f)
{
	EpRequest *s;

	if ((s = srv_recv(f)) == NULL)
		return;
	srv_status(f, s->id, EENPLAN__V1__CODE__UNIMPLEMENTED, "not yet");
	srv_free(s);
}

static void
test_subscribe_refused(void **state)
{
	EpResponse *resp, *ev;
	uint64_t sub = 0;

	(void)state;
	start(script_sub_refused);
	assert_int_equal(ep_client_subscribe(cl, 0, &sub, &resp, err,
	    sizeof(err)), 0);
	assert_int_equal(ep_client_status(resp),
	    EENPLAN__V1__CODE__UNIMPLEMENTED);
	assert_string_equal(ep_client_status_message(resp), "not yet");
	assert_int_equal(sub, 0);
	ep_client_response_free(cl, resp);
	assert_int_equal(ep_client_next_event(cl, -1, &ev, err, sizeof(err)),
	    -1);
	finish();
}

static void
script_unsubscribe(struct fake *f)
{
	Eenplan__V1__UnsubscribeResponse ur;
	EpRequest *s, *u;
	EpResponse r;

	if ((s = srv_recv(f)) == NULL)
		return;
	srv_event(f, s->id, 0, 0);
	srv_event(f, s->id, 1, 0);
	srv_event(f, s->id, 2, 0);
	if ((u = srv_recv(f)) == NULL ||
	    u->body_case != EENPLAN__V1__REQUEST__BODY_UNSUBSCRIBE ||
	    u->unsubscribe->subscription_id != s->id) {
		fake_fail(f, "expected Unsubscribe of the subscription");
	} else {
		srv_event(f, s->id, 3, 0);	/* late: must be dropped */
		eenplan__v1__response__init(&r);
		eenplan__v1__unsubscribe_response__init(&ur);
		r.id = u->id;
		r.body_case = EENPLAN__V1__RESPONSE__BODY_UNSUBSCRIBE;
		r.unsubscribe = &ur;
		srv_send(f, &r);
	}
	srv_free(u);
	srv_free(s);
}

static void
test_unsubscribe_drops_events(void **state)
{
	EpResponse *resp, *ev;
	uint64_t sub;

	(void)state;
	start(script_unsubscribe);
	assert_int_equal(ep_client_subscribe(cl, 0, &sub, &resp, err,
	    sizeof(err)), 0);
	ep_client_response_free(cl, resp);
	assert_int_equal(ep_client_unsubscribe(cl, sub, &resp, err,
	    sizeof(err)), 0);
	assert_int_equal(resp->body_case,
	    EENPLAN__V1__RESPONSE__BODY_UNSUBSCRIBE);
	ep_client_response_free(cl, resp);
	assert_int_equal(ep_client_next_event(cl, 0, &ev, err, sizeof(err)), 0);
	finish();
}

static void
script_oversized(struct fake *f)
{
	uint8_t hdr[4 + 16];
	EpRequest *r;

	if ((r = srv_recv(f)) == NULL)
		return;
	srv_free(r);
	memset(hdr, 0x41, sizeof(hdr));
	wire_frame_header(hdr, 1025);
	srv_raw(f, hdr, sizeof(hdr));
}

static void
test_frame_over_max_closes(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	EpRequest req;
	EpResponse *resp;
	uint8_t b;

	(void)state;
	start(script_oversized);
	ep_client_set_max_frame(cl, 1024);
	whoami_req(&req, &w);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_null(resp);
	assert_non_null(strstr(err, "1025 bytes"));
	assert_non_null(strstr(err, "limit of 1024"));
	/* The connection is closed at once: the server sees EOF ... */
	pthread_join(fk.f_thr, NULL);
	assert_int_equal(fk.f_saw_eof, 1);
	assert_int_equal(recv(fk.f_fd, &b, 1, MSG_DONTWAIT), 0);
	/* ... and every later call fails with the same reason. */
	err[0] = '\0';
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "limit of 1024"));
	ep_client_close(cl);
	cl = NULL;
	close(fk.f_fd);
}

static void
script_truncated(struct fake *f)
{
	uint8_t buf[4 + 10];
	EpRequest *r;

	if ((r = srv_recv(f)) == NULL)
		return;
	srv_free(r);
	memset(buf, 0, sizeof(buf));
	wire_frame_header(buf, 100);
	srv_raw(f, buf, sizeof(buf));
	shutdown(f->f_fd, SHUT_WR);
}

static void
test_truncated_frame(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	EpRequest req;
	EpResponse *resp;

	(void)state;
	start(script_truncated);
	whoami_req(&req, &w);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "middle of a frame"));
	finish();
}

static void
script_hangup(struct fake *f)
{
	EpRequest *r;

	if ((r = srv_recv(f)) == NULL)
		return;
	srv_free(r);
	shutdown(f->f_fd, SHUT_WR);
}

static void
test_server_hangs_up(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	EpRequest req;
	EpResponse *resp;

	(void)state;
	start(script_hangup);
	whoami_req(&req, &w);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "closed the connection"));
	assert_null(strstr(err, "middle"));
	finish();
}

static void
script_bad_frames(struct fake *f)
{
	static const uint8_t empty[4] = { 0, 0, 0, 0 };
	static const uint8_t garbage[4 + 5] = { 0, 0, 0, 5, 0xff, 0xff, 0xff,
	    0xff, 0xff };
	EpRequest *r;

	if ((r = srv_recv(f)) == NULL)
		return;
	/* The test's state says which bad frame to send. */
	if (r->who_am_i != NULL && r->body_case ==
	    EENPLAN__V1__REQUEST__BODY_WHO_AM_I)
		srv_raw(f, empty, sizeof(empty));
	else if (r->body_case == EENPLAN__V1__REQUEST__BODY_GET_PLAN)
		srv_raw(f, garbage, sizeof(garbage));
	else
		srv_whoami(f, 99, "nooit", NULL);	/* never asked */
	srv_free(r);
}

static void
test_bad_frames(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	Eenplan__V1__GetPlanRequest gp;
	Eenplan__V1__ListHouseholdsRequest lh;
	EpRequest req;
	EpResponse *resp;

	(void)state;
	start(script_bad_frames);
	whoami_req(&req, &w);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty frame"));
	finish();

	start(script_bad_frames);
	eenplan__v1__request__init(&req);
	eenplan__v1__get_plan_request__init(&gp);
	req.body_case = EENPLAN__V1__REQUEST__BODY_GET_PLAN;
	req.get_plan = &gp;
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a protobuf message"));
	finish();

	start(script_bad_frames);
	eenplan__v1__request__init(&req);
	eenplan__v1__list_households_request__init(&lh);
	req.body_case = EENPLAN__V1__REQUEST__BODY_LIST_HOUSEHOLDS;
	req.list_households = &lh;
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "request 99, which was never sent"));
	finish();
}

static void
script_late(struct fake *f)
{
	EpRequest *a, *b;

	a = srv_recv(f);
	b = srv_recv(f);
	if (a == NULL || b == NULL) {
		fake_fail(f, "expected two requests");
	} else {
		srv_whoami(f, a->id, "te laat", NULL);
		srv_whoami(f, b->id, "op tijd", NULL);
	}
	srv_free(a);
	srv_free(b);
}

static void
test_timeout_then_late_answer_dropped(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	EpRequest req;
	EpResponse *resp;

	(void)state;
	start(script_late);
	ep_client_set_timeout(cl, 150);
	whoami_req(&req, &w);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no answer"));
	ep_client_set_timeout(cl, 5000);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp->id, 2);
	assert_string_equal(subject_of(resp), "op tijd");
	ep_client_response_free(cl, resp);
	finish();
}

static void
script_big(struct fake *f)
{
	Eenplan__V1__ListHouseholdsResponse lh;
	EpHouseholdSummary hs[300], *hp[300];
	EpResponse r;
	EpRequest *q;
	char *big;
	size_t i;

	/* 1: many summaries (over a small decode budget). */
	if ((q = srv_recv(f)) == NULL)
		return;
	eenplan__v1__response__init(&r);
	eenplan__v1__list_households_response__init(&lh);
	for (i = 0; i < 300; i++) {
		eenplan__v1__household_summary__init(&hs[i]);
		hs[i].household_id = HH;
		hs[i].version = i + 1;
		hp[i] = &hs[i];
	}
	lh.n_households = 300;
	lh.households = hp;
	r.id = q->id;
	r.body_case = EENPLAN__V1__RESPONSE__BODY_LIST_HOUSEHOLDS;
	r.list_households = &lh;
	srv_send(f, &r);
	srv_free(q);
	/* 2: small again: the connection must still work. */
	if ((q = srv_recv(f)) == NULL)
		return;
	srv_whoami(f, q->id, "klein", NULL);
	srv_free(q);
	/* 3: nearly 1 MiB in one frame. */
	if ((q = srv_recv(f)) == NULL)
		return;
	if ((big = malloc(1000001)) != NULL) {
		memset(big, 'x', 1000000);
		big[1000000] = '\0';
		srv_whoami(f, q->id, "groot", big);
		free(big);
	}
	srv_free(q);
	/* 4: the same, decoded with the default allocator. */
	if ((q = srv_recv(f)) == NULL)
		return;
	srv_whoami(f, q->id, "standaard", NULL);
	srv_free(q);
}

static void
test_decode_budget_and_large_frames(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	EpRequest req;
	EpResponse *resp;

	(void)state;
	start(script_big);
	ep_client_set_budget(cl, 4096);
	whoami_req(&req, &w);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "decode budget"));
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), 0);
	assert_string_equal(subject_of(resp), "klein");
	ep_client_response_free(cl, resp);
	ep_client_set_budget(cl, EP_CLIENT_DEFAULT_BUDGET);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), 0);
	assert_string_equal(subject_of(resp), "groot");
	assert_int_equal(strlen(resp->who_am_i->org_name), 1000000);
	ep_client_response_free(cl, resp);
	ep_client_set_budget(cl, 0);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), 0);
	assert_string_equal(subject_of(resp), "standaard");
	ep_client_response_free(cl, resp);
	finish();
}

static void
script_one_whoami(struct fake *f)
{
	EpRequest *q;

	if ((q = srv_recv(f)) == NULL)
		return;
	if (q->id != 1)
		fake_fail(f, "a refused request used up an id");
	srv_whoami(f, q->id, "daarna", NULL);
	srv_free(q);
}

static void
test_request_too_large(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	Eenplan__V1__GetPlanRequest gp;
	EpRequest req;
	EpResponse *resp;
	char id[200];

	(void)state;
	start(script_one_whoami);
	ep_client_set_max_frame(cl, 64);
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	eenplan__v1__request__init(&req);
	eenplan__v1__get_plan_request__init(&gp);
	gp.household_id = id;
	req.body_case = EENPLAN__V1__REQUEST__BODY_GET_PLAN;
	req.get_plan = &gp;
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "request too large"));
	ep_client_set_max_frame(cl, WIRE_DEFAULT_MAX_FRAME);
	whoami_req(&req, &w);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), 0);
	assert_string_equal(subject_of(resp), "daarna");
	finish();
}

static void
script_flood(struct fake *f)
{
	EpRequest *s, *q;
	size_t i;

	if ((s = srv_recv(f)) == NULL)
		return;
	srv_event(f, s->id, 0, 0);
	if ((q = srv_recv(f)) != NULL) {
		for (i = 0; i <= EP_CLIENT_MAX_QUEUED; i++)
			srv_event(f, s->id, i + 1, 0);
		srv_whoami(f, q->id, "te veel", NULL);
	}
	srv_free(q);
	srv_free(s);
}

static void
test_unread_events_are_bounded(void **state)
{
	Eenplan__V1__WhoAmIRequest w;
	EpRequest req;
	EpResponse *resp;
	uint64_t sub;

	(void)state;
	start(script_flood);
	assert_int_equal(ep_client_subscribe(cl, 0, &sub, &resp, err,
	    sizeof(err)), 0);
	ep_client_response_free(cl, resp);
	whoami_req(&req, &w);
	assert_int_equal(ep_client_call(cl, &req, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many unread frames"));
	finish();
}

static void
test_split_hostport(void **state)
{
	char h[64], p[8];

	(void)state;
	assert_int_equal(ep_client_split_hostport("127.0.0.1:7411", "1", h,
	    sizeof(h), p, sizeof(p)), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_string_equal(p, "7411");
	assert_int_equal(ep_client_split_hostport("[::1]:8000", "1", h,
	    sizeof(h), p, sizeof(p)), 0);
	assert_string_equal(h, "::1");
	assert_string_equal(p, "8000");
	assert_int_equal(ep_client_split_hostport("plan.example", "7411", h,
	    sizeof(h), p, sizeof(p)), 0);
	assert_string_equal(h, "plan.example");
	assert_string_equal(p, "7411");
	assert_int_equal(ep_client_split_hostport("::1", "1", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(ep_client_split_hostport("host:", "1", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(ep_client_split_hostport("host:65536", "1", h,
	    sizeof(h), p, sizeof(p)), -1);
	assert_int_equal(ep_client_split_hostport("host:0", "1", h, sizeof(h),
	    p, sizeof(p)), -1);
	assert_int_equal(ep_client_split_hostport("host:7x", "1", h, sizeof(h),
	    p, sizeof(p)), -1);
	assert_int_equal(ep_client_split_hostport(":7411", "1", h, sizeof(h),
	    p, sizeof(p)), -1);
	assert_int_equal(ep_client_split_hostport("[::1", "1", h, sizeof(h), p,
	    sizeof(p)), -1);
	assert_int_equal(ep_client_split_hostport("", "1", h, sizeof(h), p,
	    sizeof(p)), -1);
}

static void
test_connect_errors(void **state)
{
	char dir[] = "/tmp/test_client.XXXXXX", key[80];
	FILE *f;

	(void)state;
	assert_null(ep_client_connect("127.0.0.1", "1", "/nonexistent.crt",
	    "/nonexistent.key", "/nonexistent.ca", err, sizeof(err)));
	assert_non_null(strstr(err, "cannot read certificate /nonexistent.crt"));
	/* A key others may read is refused before anything is sent. */
	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/k.key", dir);
	assert_non_null(f = fopen(key, "w"));
	fputs("not a key\n", f);
	fclose(f);
	chmod(key, 0644);
	assert_null(ep_client_connect("127.0.0.1", "1", key, key, key, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "readable by others"));
	unlink(key);
	rmdir(dir);
}

/* ------------------------------------------------------------ CLI: values */

static void
test_number(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(clival_number("5", 1, 5, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(clival_number("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(clival_number("18446744073709551615", 0, UINT64_MAX,
	    &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(clival_number("18446744073709551616", 0, UINT64_MAX,
	    &v), -1);
	assert_int_equal(clival_number("6", 1, 5, &v), -1);
	assert_int_equal(clival_number("0", 1, 5, &v), -1);
	assert_int_equal(clival_number("-1", 0, 5, &v), -1);
	assert_int_equal(clival_number("+1", 0, 5, &v), -1);
	assert_int_equal(clival_number(" 1", 0, 5, &v), -1);
	assert_int_equal(clival_number("1 ", 0, 5, &v), -1);
	assert_int_equal(clival_number("1e3", 0, 5000, &v), -1);
	assert_int_equal(clival_number("0x10", 0, 5000, &v), -1);
	assert_int_equal(clival_number("", 0, 5, &v), -1);
	assert_int_equal(clival_number(NULL, 0, 5, &v), -1);
}

static void
test_date(void **state)
{
	int64_t us = -1;

	(void)state;
	assert_int_equal(clival_date("1970-01-01", &us), 0);
	assert_true(us == 0);
	assert_int_equal(clival_date("2026-03-01", &us), 0);
	assert_true(us == 1772323200000000LL);
	assert_int_equal(clival_date("2024-02-29", &us), 0);
	assert_true(us == 1709164800000000LL);
	assert_int_equal(clival_date("2000-03-01", &us), 0);
	assert_true(us == 951868800000000LL);
	assert_int_equal(clival_date("9999-12-31", &us), 0);
	assert_true(us == 253402214400000000LL);
	assert_int_equal(clival_date("2000-02-29", &us), 0);
	assert_int_equal(clival_date("2023-02-29", &us), -1);
	assert_int_equal(clival_date("2100-02-29", &us), -1);
	assert_int_equal(clival_date("2026-04-31", &us), -1);
	assert_int_equal(clival_date("2026-13-01", &us), -1);
	assert_int_equal(clival_date("2026-00-10", &us), -1);
	assert_int_equal(clival_date("2026-01-00", &us), -1);
	assert_int_equal(clival_date("1969-12-31", &us), -1);
	assert_int_equal(clival_date("2026-1-01", &us), -1);
	assert_int_equal(clival_date("2026/01/01", &us), -1);
	assert_int_equal(clival_date("2026-01-01T", &us), -1);
	assert_int_equal(clival_date("", &us), -1);
}

static void
test_household_id(void **state)
{
	char out[CLIOPT_HH_LEN + 1];

	(void)state;
	assert_int_equal(clival_household_id(HH, out), 0);
	assert_string_equal(out, HH);
	assert_int_equal(clival_household_id("0123456789ABCDEF0123456789ABCDEF",
	    out), 0);
	assert_string_equal(out, HH);
	assert_int_equal(clival_household_id("0123456789abcdef0123456789abcde",
	    out), -1);
	assert_int_equal(clival_household_id("0123456789abcdef0123456789abcdeg",
	    out), -1);
	assert_int_equal(clival_household_id(HH "0", out), -1);
}

/* ------------------------------------------------------------ CLI: output */

static char	*outbuf;
static size_t	 outlen;

static FILE *
out_open(void)
{
	FILE *f;

	free(outbuf);
	outbuf = NULL;
	assert_non_null(f = open_memstream(&outbuf, &outlen));
	return f;
}

static void	args_free(void);
static struct cliopt opt;

static int
teardown_out(void **state)
{
	(void)state;
	free(outbuf);
	outbuf = NULL;
	cliopt_free(&opt);
	args_free();
	return 0;
}

static void
has(const char *want)
{
	if (strstr(outbuf, want) == NULL)
		fail_msg("expected '%s' in:\n%s", want, outbuf);
}

static void
lacks(const char *bad)
{
	if (strstr(outbuf, bad) != NULL)
		fail_msg("did not expect '%s' in:\n%s", bad, outbuf);
}

/* ------------------------------------------------------------ CLI: parse */

static char	*argbuf[64];
static int	 nargbuf;

static void
args_free(void)
{
	while (nargbuf > 0)
		free(argbuf[--nargbuf]);
}

/* Parses "eenplan" + the NULL-terminated words into opt. */
static int
parse(const char *first, ...)
{
	const char *w;
	va_list ap;

	cliopt_free(&opt);
	args_free();
	argbuf[nargbuf++] = strdup("eenplan");
	va_start(ap, first);
	for (w = first; w != NULL && nargbuf < 63; w = va_arg(ap, const char *))
		argbuf[nargbuf++] = strdup(w);
	va_end(ap);
	argbuf[nargbuf] = NULL;
	err[0] = '\0';
	return cliopt_parse(&opt, nargbuf, argbuf, err, sizeof(err));
}

static int
teardown_parse(void **state)
{
	(void)state;
	cliopt_free(&opt);
	args_free();
	return 0;
}

static void
test_parse_household_create(void **state)
{
	struct clireq r;
	Eenplan__V1__CreateHouseholdRequest *c;

	(void)state;
	assert_int_equal(parse("--as", "wmo", "household", "create", "--area",
	    "noord", "--member", "henk.desmet:Henk de Smet:ouder", "--member",
	    "kind1:Sem", "--member", "x:Naam: met dubbele punt:kind",
	    "--consent-ref", "TOESTEMMING-1", "--json", NULL), 0);
	assert_int_equal(opt.o_cmd, CMD_HOUSEHOLD_CREATE);
	assert_string_equal(opt.o_as, "wmo");
	assert_int_equal(opt.o_json, 1);
	clireq_build(&opt, &r);
	assert_int_equal(r.r_req.body_case,
	    EENPLAN__V1__REQUEST__BODY_CREATE_HOUSEHOLD);
	c = r.r_req.create_household;
	assert_int_equal(c->area, EENPLAN__V1__AREA__AREA_NOORD);
	assert_int_equal(c->n_members, 3);
	assert_string_equal(c->members[0]->person_id, "henk.desmet");
	assert_string_equal(c->members[0]->name, "Henk de Smet");
	assert_string_equal(c->members[0]->relation, "ouder");
	assert_string_equal(c->members[1]->name, "Sem");
	assert_string_equal(c->members[1]->relation, "");
	assert_string_equal(c->members[2]->name, "Naam: met dubbele punt");
	assert_string_equal(c->members[2]->relation, "kind");
	assert_string_equal(c->consent_reference, "TOESTEMMING-1");
	/* The request packs: every field is set to something valid. */
	assert_true(protobuf_c_message_get_packed_size(&r.r_req.base) > 0);
}

static void
test_parse_mutations(void **state)
{
	struct clireq r;
	EpMutation *m;

	(void)state;
	assert_int_equal(parse("goal", "add", HH, "--domain", "financien",
	    "--text", "Schulden", "--target-date", "2027-06-30",
	    "--expect-version", "5", NULL), 0);
	clireq_build(&opt, &r);
	assert_int_equal(r.r_req.body_case,
	    EENPLAN__V1__REQUEST__BODY_MUTATE_PLAN);
	assert_string_equal(r.r_req.mutate_plan->household_id, HH);
	assert_int_equal(r.r_req.mutate_plan->expected_version, 5);
	assert_int_equal(r.r_req.mutate_plan->n_mutations, 1);
	m = r.r_req.mutate_plan->mutations[0];
	assert_int_equal(m->op_case, EENPLAN__V1__MUTATION__OP_ADD_GOAL);
	assert_int_equal(m->add_goal->domain,
	    EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN);
	assert_string_equal(m->add_goal->text, "Schulden");
	assert_string_equal(m->add_goal->target_date, "2027-06-30");

	/* Options may come before the subcommand, and ids are positional. */
	assert_int_equal(parse("--json", "action", "start", HH, "12", NULL), 0);
	clireq_build(&opt, &r);
	m = r.r_req.mutate_plan->mutations[0];
	assert_int_equal(r.r_req.mutate_plan->expected_version, 0);
	assert_int_equal(m->op_case, EENPLAN__V1__MUTATION__OP_SET_ACTION_STATUS);
	assert_int_equal(m->set_action_status->action_id, 12);
	assert_int_equal(m->set_action_status->status,
	    EENPLAN__V1__ACTION_STATUS__ACTION_IN_PROGRESS);

	assert_int_equal(parse("action", "cancel", HH, "3", NULL), 0);
	clireq_build(&opt, &r);
	assert_int_equal(r.r_req.mutate_plan->mutations[0]->set_action_status
	    ->status, EENPLAN__V1__ACTION_STATUS__ACTION_CANCELLED);

	assert_int_equal(parse("goal", "status", HH, "4", "achieved", NULL), 0);
	clireq_build(&opt, &r);
	m = r.r_req.mutate_plan->mutations[0];
	assert_int_equal(m->set_goal_status->goal_id, 4);
	assert_int_equal(m->set_goal_status->status,
	    EENPLAN__V1__GOAL_STATUS__GOAL_ACHIEVED);

	assert_int_equal(parse("action", "add", HH, "--goal", "1", "--text",
	    "Bellen", "--owner", "lev/s.bakker", "--due", "2026-12-15", NULL), 0);
	clireq_build(&opt, &r);
	m = r.r_req.mutate_plan->mutations[0];
	assert_int_equal(m->add_action->goal_id, 1);
	assert_string_equal(m->add_action->owner_org, "lev");
	assert_string_equal(m->add_action->owner_subject, "s.bakker");
	assert_string_equal(m->add_action->due_date, "2026-12-15");

	assert_int_equal(parse("assess", HH, "--domain", "justitie", "--score",
	    "3", "--remark", "r", NULL), 0);
	clireq_build(&opt, &r);
	m = r.r_req.mutate_plan->mutations[0];
	assert_int_equal(m->add_assessment->domain,
	    EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE);
	assert_int_equal(m->add_assessment->score, 3);

	assert_int_equal(parse("member", "add", HH, "--member", "p1:Piet",
	    NULL), 0);
	clireq_build(&opt, &r);
	m = r.r_req.mutate_plan->mutations[0];
	assert_string_equal(m->add_member->member->person_id, "p1");
	assert_string_equal(m->add_member->member->name, "Piet");
}

static void
test_parse_consent_and_audit(void **state)
{
	struct clireq r;
	EpGrant *g;

	(void)state;
	assert_int_equal(parse("consent", "grant", HH, "--to", "huisarts-noord",
	    "--access", "read", "--domain", "lichamelijke_gezondheid",
	    "--domain", "geestelijke_gezondheid", "--domain",
	    "lichamelijke_gezondheid", "--from", "2026-03-01", "--until",
	    "2027-03-01", "--purpose", "Afstemming", "--form-ref", "F-1", NULL),
	    0);
	clireq_build(&opt, &r);
	assert_int_equal(r.r_req.body_case,
	    EENPLAN__V1__REQUEST__BODY_GRANT_CONSENT);
	g = r.r_req.grant_consent->grant;
	assert_string_equal(g->grantee_org, "huisarts-noord");
	assert_string_equal(g->grantee_subject, "");
	assert_int_equal(g->access, EENPLAN__V1__ACCESS__ACCESS_READ);
	assert_int_equal(g->n_scope, 2);	/* the repeat is dropped */
	assert_int_equal(g->scope[0],
	    EENPLAN__V1__DOMAIN__DOMAIN_LICHAMELIJKE_GEZONDHEID);
	assert_int_equal(g->scope[1],
	    EENPLAN__V1__DOMAIN__DOMAIN_GEESTELIJKE_GEZONDHEID);
	assert_true(g->valid_from == 1772323200000000LL);
	assert_true(g->valid_until == 1772323200000000LL +
	    365LL * 86400 * 1000000);
	assert_int_equal(g->on_behalf, 1);
	assert_string_equal(g->form_reference, "F-1");

	/* A team inside an organisation: no subject, the team in the grant. */
	assert_int_equal(parse("consent", "grant", HH, "--team", "bms", "--to",
	    "gemeente", "--access", "read", "--domain", "financien",
	    "--purpose", "Schuldhulp", NULL), 0);
	clireq_build(&opt, &r);
	g = r.r_req.grant_consent->grant;
	assert_string_equal(g->grantee_org, "gemeente");
	assert_string_equal(g->grantee_subject, "");
	assert_string_equal(g->grantee_team, "bms");
	assert_int_equal(g->n_scope, 1);
	assert_int_equal(g->on_behalf, 0);
	assert_int_equal(parse("consent", "grant", HH, "--to", "lev",
	    "--access", "read", "--purpose", "p", NULL), 0);
	clireq_build(&opt, &r);
	assert_string_equal(r.r_req.grant_consent->grant->grantee_team, "");
	assert_int_equal(parse("consent", "grant", HH, "--to", "lev", "--team",
	    "schuldhulpmaatje-0123456789-abcd", "--access", "read",
	    "--purpose", "p", NULL), 0);	/* 32 characters */

	assert_int_equal(parse("consent", "revoke", HH, "7", NULL), 0);
	clireq_build(&opt, &r);
	assert_int_equal(r.r_req.revoke_consent->grant_id, 7);

	assert_int_equal(parse("consent", "list", HH, "--all", NULL), 0);
	clireq_build(&opt, &r);
	assert_int_equal(r.r_req.list_consent->include_past, 1);

	/* audit --until includes its day; --org needs no household. */
	assert_int_equal(parse("audit", HH, "--from", "2026-03-01", "--until",
	    "2026-03-01", NULL), 0);
	clireq_build(&opt, &r);
	assert_int_equal(r.r_req.body_case,
	    EENPLAN__V1__REQUEST__BODY_QUERY_AUDIT);
	assert_string_equal(r.r_req.query_audit->household_id, HH);
	assert_true(r.r_req.query_audit->from == 1772323200000000LL);
	assert_true(r.r_req.query_audit->until == 1772323200000000LL +
	    86400LL * 1000000);
	assert_int_equal(parse("audit", "--org", "--all-pages", NULL), 0);
	assert_int_equal(opt.o_org, 1);
	assert_int_equal(opt.o_all_pages, 1);
	clireq_build(&opt, &r);
	assert_string_equal(r.r_req.query_audit->household_id, "");

	assert_int_equal(parse("regie", "transfer", HH, "--to",
	    "gemeente/b.willems", "--form-ref", "F-2", NULL), 0);
	clireq_build(&opt, &r);
	assert_string_equal(r.r_req.transfer_regie->to_org, "gemeente");
	assert_string_equal(r.r_req.transfer_regie->to_subject, "b.willems");
	assert_string_equal(r.r_req.transfer_regie->form_reference, "F-2");

	assert_int_equal(parse("changes", "--since", "40", "--limit", "10",
	    NULL), 0);
	clireq_build(&opt, &r);
	assert_int_equal(r.r_req.read_changes->since_seq, 40);
	assert_int_equal(r.r_req.read_changes->limit, 10);

	assert_int_equal(parse("afschrift", HH, "-o", "uit.json", NULL), 0);
	assert_string_equal(opt.o_output, "uit.json");
	clireq_build(&opt, &r);
	assert_int_equal(r.r_req.body_case, EENPLAN__V1__REQUEST__BODY_GET_PLAN);
}

/* Each of these is refused before any connection, with this in the message. */
static void
test_parse_refusals(void **state)
{
	FILE *f;

	(void)state;
#define REFUSED(want, ...) do {						\
	assert_int_equal(parse(__VA_ARGS__, NULL), -1);			\
	if (strstr(err, want) == NULL)					\
		fail_msg("expected '%s' in '%s'", want, err);		\
} while (0)
	REFUSED("no subcommand", "--json");
	REFUSED("unknown subcommand 'frobnicate'", "frobnicate");
	REFUSED("needs one of: add, status", "goal", "remove", HH);
	REFUSED("needs --text", "goal", "add", HH, "--domain", "financien");
	REFUSED("--score does not apply to 'goal add'", "goal", "add", HH,
	    "--domain", "financien", "--text", "t", "--score", "2");
	REFUSED("not a life domain", "note", "add", HH, "--domain", "geld",
	    "--text", "t");
	REFUSED("--domain given twice", "note", "add", HH, "--domain",
	    "financien", "--domain", "justitie", "--text", "t");
	REFUSED("--text given twice", "note", "add", HH, "--domain",
	    "financien", "--text", "a", "--text", "b");
	REFUSED("--text must not be empty", "note", "add", HH, "--domain",
	    "financien", "--text", "");
	REFUSED("not a household id", "plan", "show", "abc");
	REFUSED("takes 1 argument", "plan", "show");
	REFUSED("takes 1 argument", "plan", "show", HH, HH);
	REFUSED("--area 'zuid'", "household", "create", "--area", "zuid",
	    "--member", "a:b", "--consent-ref", "r");
	REFUSED("PERSON_ID:NAME", "household", "create", "--area", "noord",
	    "--member", "alleen", "--consent-ref", "r");
	REFUSED("the person id", "household", "create", "--area", "noord",
	    "--member", "a b:Naam", "--consent-ref", "r");
	REFUSED("the name is empty", "household", "create", "--area", "noord",
	    "--member", "a:", "--consent-ref", "r");
	REFUSED("from 1 to 5", "target", HH, "--domain", "financien",
	    "--score", "0");
	REFUSED("from 1 to 5", "assess", HH, "--domain", "financien",
	    "--score", "3.5");
	REFUSED("expected a date", "goal", "add", HH, "--domain", "financien",
	    "--text", "t", "--target-date", "30-06-2027");
	REFUSED("action id", "action", "done", HH, "0");
	REFUSED("open, achieved or dropped", "goal", "status", HH, "1", "klaar");
	REFUSED("regie transfer", "consent", "grant", HH, "--to", "lev",
	    "--access", "manage", "--purpose", "p");
	REFUSED("read or contribute", "consent", "grant", HH, "--to", "lev",
	    "--access", "none", "--purpose", "p");
	REFUSED("--until must come after --from", "consent", "grant", HH,
	    "--to", "lev", "--access", "read", "--purpose", "p", "--from",
	    "2026-05-01", "--until", "2026-05-01");
	REFUSED("expected ORG/SUBJECT", "regie", "transfer", HH, "--to", "lev",
	    "--form-ref", "f");
	REFUSED("--team names a team of an organisation, not of one person",
	    "consent", "grant", HH, "--to", "gemeente/j.jansen", "--team",
	    "bms", "--access", "read", "--purpose", "p");
	REFUSED("--team 'BMS': expected a team name", "consent", "grant", HH,
	    "--to", "gemeente", "--team", "BMS", "--access", "read",
	    "--purpose", "p");
	REFUSED("--team 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'", "consent",
	    "grant", HH, "--to", "gemeente", "--team",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "--access", "read",
	    "--purpose", "p");
	REFUSED("--team 'b_ms'", "consent", "grant", HH, "--to", "gemeente",
	    "--team", "b_ms", "--access", "read", "--purpose", "p");
	REFUSED("--team '': expected a team name", "consent", "grant", HH,
	    "--to", "gemeente", "--team", "", "--access", "read", "--purpose", "p");
	REFUSED("--team does not apply to 'regie transfer'", "regie",
	    "transfer", HH, "--to", "gemeente/b.willems", "--team", "bms",
	    "--form-ref", "f");
	REFUSED("ORG or ORG/SUBJECT", "action", "add", HH, "--goal", "1",
	    "--text", "t", "--owner", "lev/");
	REFUSED("needs a household id", "audit");
	REFUSED("unknown or ambiguous option '--nope'", "whoami", "--nope");
	REFUSED("--text needs a value", "note", "add", HH, "--domain",
	    "financien", "--text");
	REFUSED("--limit does not apply with --follow", "changes", "--follow",
	    "--limit", "4");
	REFUSED("--as '../x'", "--as", "../x", "whoami");
	REFUSED("at most 16 --member", "household", "create", "--area", "oost",
	    "--consent-ref", "r", "--member", "a:a", "--member", "a:a",
	    "--member", "a:a", "--member", "a:a", "--member", "a:a",
	    "--member", "a:a", "--member", "a:a", "--member", "a:a",
	    "--member", "a:a", "--member", "a:a", "--member", "a:a",
	    "--member", "a:a", "--member", "a:a", "--member", "a:a",
	    "--member", "a:a", "--member", "a:a", "--member", "a:a");
#undef REFUSED
	assert_int_equal(parse("help", NULL), 0);
	assert_int_equal(opt.o_cmd, CMD_HELP);
	assert_int_equal(parse("goal", "add", "--help", NULL), 0);
	assert_int_equal(opt.o_cmd, CMD_HELP);
	f = out_open();
	clicmd_usage(f);
	fclose(f);
	has("afschrift HH [-o FILE]");
	has("action accept|start|done|cancel HH ACTION_ID");
	has("plan diff HH VERSION [VERSION]");
	free(outbuf);
	outbuf = NULL;
}

/* ------------------------------------------------------------ CLI: connection */

static char tmpdir[64];

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void
clear_env(void)
{
	unsetenv("EENPLAN_SERVER");
	unsetenv("EENPLAN_CERT");
	unsetenv("EENPLAN_KEY");
	unsetenv("EENPLAN_CA");
	unsetenv("EENPLAN_PKI");
	unsetenv("XDG_CONFIG_HOME");
}

static void
test_connection_settings(void **state)
{
	struct cliconn c;
	char conf[128], path[200];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_client_conf.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	clear_env();
	setenv("HOME", tmpdir, 1);	/* no ~/.config/eenplan/client.conf */

	/* Defaults and --as. */
	assert_int_equal(parse("--as", "henk", "whoami", NULL), 0);
	assert_int_equal(cliconn_settle(&opt, &c, err, sizeof(err)), 0);
	assert_string_equal(c.c_host, "127.0.0.1");
	assert_string_equal(c.c_port, "7411");
	assert_string_equal(c.c_cert, "certs/demo/people/henk.crt");
	assert_string_equal(c.c_key, "certs/demo/people/henk.key");
	assert_string_equal(c.c_ca, "certs/demo/ca/root.crt");
	cliconn_free(&c);

	/* Nothing to authenticate with: a usage error. */
	assert_int_equal(parse("whoami", NULL), 0);
	assert_int_equal(cliconn_settle(&opt, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--as NAME"));

	/* The config file; relative paths are relative to it. */
	snprintf(conf, sizeof(conf), "%s/client.conf", tmpdir);
	write_file("client.conf", "# eenplan\nserver = plan.example:9000\n"
	    "cert = me.crt\nkey = /keys/me.key\nca = ca.crt\npki = pki\n");
	assert_int_equal(parse("--config", conf, "whoami", NULL), 0);
	assert_int_equal(cliconn_settle(&opt, &c, err, sizeof(err)), 0);
	assert_string_equal(c.c_host, "plan.example");
	assert_string_equal(c.c_port, "9000");
	snprintf(path, sizeof(path), "%s/me.crt", tmpdir);
	assert_string_equal(c.c_cert, path);
	assert_string_equal(c.c_key, "/keys/me.key");
	cliconn_free(&c);

	/* The environment beats the file, flags beat the environment. */
	setenv("EENPLAN_SERVER", "env.example:9100", 1);
	setenv("EENPLAN_CERT", "/env/me.crt", 1);
	assert_int_equal(parse("--config", conf, "--key", "/flag/me.key",
	    "whoami", NULL), 0);
	assert_int_equal(cliconn_settle(&opt, &c, err, sizeof(err)), 0);
	assert_string_equal(c.c_host, "env.example");
	assert_string_equal(c.c_port, "9100");
	assert_string_equal(c.c_cert, "/env/me.crt");
	assert_string_equal(c.c_key, "/flag/me.key");
	cliconn_free(&c);
	assert_int_equal(parse("--config", conf, "--server", "[::1]:7500",
	    "--as", "anja", "--ca", "/flag/ca.crt", "whoami", NULL), 0);
	assert_int_equal(cliconn_settle(&opt, &c, err, sizeof(err)), 0);
	assert_string_equal(c.c_host, "::1");
	assert_string_equal(c.c_port, "7500");
	snprintf(path, sizeof(path), "%s/pki/people/anja.crt", tmpdir);
	assert_string_equal(c.c_cert, path);	/* --as over the environment */
	assert_string_equal(c.c_ca, "/flag/ca.crt");
	cliconn_free(&c);
	clear_env();

	/* The default file is found through XDG_CONFIG_HOME. */
	snprintf(path, sizeof(path), "%s/eenplan", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_file("eenplan/client.conf", "server = xdg.example\n");
	setenv("XDG_CONFIG_HOME", tmpdir, 1);
	assert_int_equal(parse("--as", "henk", "whoami", NULL), 0);
	assert_int_equal(cliconn_settle(&opt, &c, err, sizeof(err)), 0);
	assert_string_equal(c.c_host, "xdg.example");
	assert_string_equal(c.c_port, "7411");
	cliconn_free(&c);

	/* Mistakes in the file are usage errors with the line. */
	write_file("bad.conf", "server = a:1\n\ncolour = blue\n");
	snprintf(conf, sizeof(conf), "%s/bad.conf", tmpdir);
	assert_int_equal(parse("--config", conf, "--as", "x", "whoami", NULL),
	    0);
	assert_int_equal(cliconn_settle(&opt, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 3"));
	assert_non_null(strstr(err, "colour"));
	assert_int_equal(parse("--config", "/nonexistent/eenplan.conf", "--as",
	    "x", "whoami", NULL), 0);
	assert_int_equal(cliconn_settle(&opt, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot read config"));
	assert_int_equal(parse("--server", "a:b:c", "--as", "x", "whoami",
	    NULL), 0);
	assert_int_equal(cliconn_settle(&opt, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "HOST:PORT"));
	clear_env();

	snprintf(path, sizeof(path), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(path), 0);
}

#define T0	1772359200000000LL	/* 2026-03-01 10:00 UTC */

static void
test_text_plan(void **state)
{
	Eenplan__V1__GetPlanResponse gp;
	EpPlan p;
	EpPrincipal reg, lev;
	EpMember m, *mp[1];
	EpGoal g[2], *gpp[2];
	EpAction a[2], *ap[2];
	EpAssessment as[3], *asp[3];
	EpTargetScore t, *tp[1];
	EpNote n[12], *np[12];
	char texts[12][24];
	Eenplan__V1__Domain scope[1] = { EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN };
	EpResponse r;
	FILE *f;
	size_t i;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	eenplan__v1__principal__init(&reg);
	reg.org = "gemeente";
	reg.subject = "a.devries";
	reg.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	eenplan__v1__principal__init(&lev);
	lev.org = "lev";
	lev.subject = "s.bakker";
	lev.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	eenplan__v1__plan__init(&p);
	p.household_id = HH;
	p.version = 9;
	p.area = EENPLAN__V1__AREA__AREA_NOORD;
	p.status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ACTIVE;
	p.regisseur = &reg;
	p.updated_at = T0;
	p.updated_by = &lev;
	eenplan__v1__member__init(&m);
	m.person_id = "henk.desmet";
	m.name = "Henk de Smet";
	m.relation = "ouder";
	mp[0] = &m;
	p.n_members = 1;
	p.members = mp;
	for (i = 0; i < 2; i++) {
		eenplan__v1__goal__init(&g[i]);
		eenplan__v1__action__init(&a[i]);
		gpp[i] = &g[i];
		ap[i] = &a[i];
	}
	g[0].id = 1;
	g[0].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	g[0].text = "Schulden stabiliseren";
	g[0].status = EENPLAN__V1__GOAL_STATUS__GOAL_OPEN;
	g[0].target_date = "2027-06-30";
	g[1].id = 2;
	g[1].domain = EENPLAN__V1__DOMAIN__DOMAIN_HUISVESTING;
	g[1].text = "Woning \x1b[31mbehouden";	/* an escape sequence */
	g[1].status = EENPLAN__V1__GOAL_STATUS__GOAL_ACHIEVED;
	a[0].id = 3;
	a[0].goal_id = 1;
	a[0].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	a[0].text = "Aanmelden schuldhulp";
	a[0].owner_org = "lev";
	a[0].owner_subject = "s.bakker";
	a[0].due_date = "2026-12-15";
	a[0].status = EENPLAN__V1__ACTION_STATUS__ACTION_IN_PROGRESS;
	a[1].id = 4;
	a[1].goal_id = 77;	/* its goal is outside the reader's scope */
	a[1].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	a[1].text = "Wees-actie";
	a[1].owner_org = "zorgboog";
	a[1].status = EENPLAN__V1__ACTION_STATUS__ACTION_PROPOSED;
	p.n_goals = 2;
	p.goals = gpp;
	p.n_actions = 2;
	p.actions = ap;
	for (i = 0; i < 3; i++) {
		eenplan__v1__assessment__init(&as[i]);
		as[i].id = 10 + i;
		as[i].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
		as[i].by = &lev;
		asp[i] = &as[i];
	}
	as[0].score = 1;
	as[0].at = T0;
	as[1].score = 3;
	as[1].at = T0 + 2000000;	/* the latest, though not last */
	as[2].score = 2;
	as[2].at = T0 + 1000000;
	p.n_assessments = 3;
	p.assessments = asp;
	eenplan__v1__target_score__init(&t);
	t.domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	t.score = 4;
	tp[0] = &t;
	p.n_targets = 1;
	p.targets = tp;
	for (i = 0; i < 12; i++) {
		eenplan__v1__note__init(&n[i]);
		snprintf(texts[i], sizeof(texts[i]), "notitie-%02zu", i + 1);
		n[i].id = 20 + i;
		n[i].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
		n[i].text = texts[i];
		n[i].by = &lev;
		n[i].at = T0;
		np[i] = &n[i];
	}
	p.n_notes = 12;
	p.notes = np;
	eenplan__v1__get_plan_response__init(&gp);
	gp.plan = &p;
	gp.access = EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE;
	gp.n_scope = 1;
	gp.scope = scope;
	eenplan__v1__response__init(&r);
	r.body_case = EENPLAN__V1__RESPONSE__BODY_GET_PLAN;
	r.get_plan = &gp;

	assert_int_equal(parse("plan", "show", HH, NULL), 0);
	f = out_open();
	assert_int_equal(cliout_response(f, &opt, &r, T0), 0);
	fclose(f);
	has("Household " HH);
	has("area:        noord");
	has("version:     9 (changed 2026-03-01 10:00 by lev/s.bakker)");
	has("regisseur:   gemeente/a.devries (professional)");
	has("your access: contribute, Financiën");
	has("henk.desmet          Henk de Smet (ouder)");
	has("  Financiën\n    goal 1 [open] Schulden stabiliseren (target "
	    "2027-06-30)\n      action 3 [in_progress] Aanmelden schuldhulp — "
	    "lev/s.bakker, due 2026-12-15\n");
	has("action 4 (goal 77) [proposed] Wees-actie — zorgboog");
	has("  Huisvesting\n    goal 2 [achieved] Woning ?[31mbehouden");
	lacks("\x1b");
	has("3 beperkt zelfredzaam");
	has("target 4");
	has("scores: 1 3 2");
	has("Notes (last 10 of 12)");
	lacks("notitie-01");
	lacks("notitie-02");
	has("notitie-03");
	has("notitie-12");
	lacks("Escalations");

	/* The wrong body for the subcommand is a protocol error. */
	assert_int_equal(parse("whoami", NULL), 0);
	f = out_open();
	assert_int_equal(cliout_response(f, &opt, &r, T0), -1);
	fclose(f);
}

static void
test_text_results(void **state)
{
	Eenplan__V1__MutatePlanResponse mp;
	Eenplan__V1__CreateHouseholdResponse ch;
	uint32_t ids[1] = { 3 };
	EpResponse r;
	FILE *f;

	(void)state;
	eenplan__v1__response__init(&r);
	eenplan__v1__mutate_plan_response__init(&mp);
	mp.version = 5;
	mp.n_created_ids = 1;
	mp.created_ids = ids;
	r.body_case = EENPLAN__V1__RESPONSE__BODY_MUTATE_PLAN;
	r.mutate_plan = &mp;
	assert_int_equal(parse("goal", "add", HH, "--domain", "financien",
	    "--text", "t", NULL), 0);
	f = out_open();
	assert_int_equal(cliout_response(f, &opt, &r, T0), 0);
	fclose(f);
	assert_string_equal(outbuf, "goal 3 added (plan version 5)\n");
	assert_int_equal(parse("action", "done", HH, "8", NULL), 0);
	f = out_open();
	assert_int_equal(cliout_response(f, &opt, &r, T0), 0);
	fclose(f);
	assert_string_equal(outbuf, "action 8 is now done (plan version 5)\n");

	eenplan__v1__response__init(&r);
	eenplan__v1__create_household_response__init(&ch);
	ch.household_id = HH;
	ch.version = 1;
	r.body_case = EENPLAN__V1__RESPONSE__BODY_CREATE_HOUSEHOLD;
	r.create_household = &ch;
	assert_int_equal(parse("household", "create", "--area", "west",
	    "--member", "a:b", "--consent-ref", "r", NULL), 0);
	f = out_open();
	assert_int_equal(cliout_response(f, &opt, &r, T0), 0);
	fclose(f);
	assert_string_equal(outbuf, HH "\n");	/* alone on line 1 */
}

/* consent list names the grantee: an organisation, a person or a team. */
static void
test_text_consent(void **state)
{
	Eenplan__V1__ListConsentResponse lc;
	EpGrant g[3], *gp[3];
	EpResponse r;
	FILE *f;
	size_t i;

	(void)state;
	eenplan__v1__response__init(&r);
	eenplan__v1__list_consent_response__init(&lc);
	for (i = 0; i < 3; i++) {
		eenplan__v1__grant__init(&g[i]);
		g[i].id = i + 2;
		g[i].access = EENPLAN__V1__ACCESS__ACCESS_READ;
		g[i].purpose = "p";
		g[i].recorded_at = T0;
		gp[i] = &g[i];
	}
	g[0].grantee_org = "lev";
	g[1].grantee_org = "burgers";
	g[1].grantee_subject = "lisa.desmet";
	g[2].grantee_org = "gemeente";
	g[2].grantee_team = "bms";
	lc.n_grants = 3;
	lc.grants = gp;
	r.body_case = EENPLAN__V1__RESPONSE__BODY_LIST_CONSENT;
	r.list_consent = &lc;
	assert_int_equal(parse("consent", "list", HH, NULL), 0);
	f = out_open();
	assert_int_equal(cliout_response(f, &opt, &r, T0), 0);
	fclose(f);
	has("grant 2  active\n  to:        lev (the whole organisation)\n");
	has("grant 3  active\n  to:        burgers/lisa.desmet\n");
	has("grant 4  active\n  to:        gemeente team bms (only the "
	    "organisation's people in that team)\n");
}

static void
test_text_audit(void **state)
{
	EpAuditRecord rec[2], *rp[2];
	EpPrincipal who;
	FILE *f;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	eenplan__v1__principal__init(&who);
	who.org = "savant";
	who.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	eenplan__v1__audit_record__init(&rec[0]);
	eenplan__v1__audit_record__init(&rec[1]);
	rec[0].time = T0;
	rec[0].actor = &who;
	rec[0].action = "GetPlan";
	rec[0].outcome = EENPLAN__V1__CODE__PERMISSION_DENIED;
	rec[0].household_id = HH;
	rec[1].time = T0 + 60000000;
	rec[1].actor = &who;
	rec[1].action = "BreakGlass";
	rec[1].outcome = EENPLAN__V1__CODE__OK;
	rec[1].purpose = "Acute zorg";
	rp[0] = &rec[0];
	rp[1] = &rec[1];
	f = out_open();
	cliout_audit(f, rp, 2, 0);
	fclose(f);
	has("2026-03-01 10:00  savant (professional)");
	has("read the plan");
	has("refused");
	has("2026-03-01 10:01");
	has("EMERGENCY ACCESS (break-glass)");
	has("allowed   Acute zorg");
	lacks(HH);	/* the household knows its own id */
	f = out_open();
	cliout_audit(f, rp, 0, 0);
	fclose(f);
	assert_string_equal(outbuf, "no records\n");
}

static void
test_text_sanitised(void **state)
{
	FILE *f;

	(void)state;
	f = out_open();
	cliout_text(f, "a\x1b]0;title\x07" "b\tc\nd\xc2\x9b" "e\xc3\xab", "|");
	fclose(f);
	assert_string_equal(outbuf, "a?]0;title?b c|d?e\xc3\xab");
}

/* ------------------------------------------------------------ JSON */

static void
test_json_generic(void **state)
{
	EpAuditRecord rec;
	EpPrincipal who;
	EpGrant gr;
	Eenplan__V1__Domain scope[2] = { EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN,
	    99 };
	uint8_t hash[3] = { 0x00, 0xab, 0xff };
	json_t *j, *a;
	EpResponse r;
	Eenplan__V1__GrantConsentResponse gc;
	EpChangeEvent ev;
	FILE *f;

	(void)state;
	eenplan__v1__principal__init(&who);
	who.org = "lev";
	who.subject = "s.bakker";
	who.role = EENPLAN__V1__ROLE__ROLE_AUDITOR;
	eenplan__v1__audit_record__init(&rec);
	rec.seq = 12;
	rec.time = T0;
	rec.actor = &who;
	rec.action = "Get\xffPlan";	/* not UTF-8 */
	rec.outcome = EENPLAN__V1__CODE__ABORTED;
	rec.hash.data = hash;
	rec.hash.len = sizeof(hash);
	assert_non_null(j = pbjson_message(&rec.base));
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 12);
	assert_true(json_integer_value(json_object_get(j, "time")) == T0);
	assert_string_equal(json_string_value(json_object_get(j, "time_utc")),
	    "2026-03-01T10:00:00.000000Z");
	assert_string_equal(json_string_value(json_object_get(j, "outcome")),
	    "ABORTED");
	assert_string_equal(json_string_value(json_object_get(j, "hash")),
	    "00abff");
	assert_string_equal(json_string_value(json_object_get(j, "prev_hash")),
	    "");
	assert_string_equal(json_string_value(json_object_get(j, "action")),
	    "Get\xef\xbf\xbdPlan");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "actor"), "role")), "ROLE_AUDITOR");
	json_decref(j);

	eenplan__v1__grant__init(&gr);
	gr.id = UINT64_MAX;
	gr.n_scope = 2;
	gr.scope = scope;
	gr.on_behalf = 1;
	assert_non_null(j = pbjson_message(&gr.base));
	assert_string_equal(json_string_value(json_object_get(j, "id")),
	    "18446744073709551615");
	a = json_object_get(j, "scope");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)),
	    "DOMAIN_FINANCIEN");
	assert_int_equal(json_integer_value(json_array_get(a, 1)), 99);
	assert_true(json_is_true(json_object_get(j, "on_behalf")));
	assert_null(json_object_get(j, "recorded_by"));	/* unset message */
	assert_null(json_object_get(j, "valid_from_utc"));	/* zero time */
	assert_int_equal(json_integer_value(json_object_get(j, "valid_from")), 0);
	json_decref(j);

	/* A Response prints as its body (the oneof member that is set). */
	eenplan__v1__response__init(&r);
	eenplan__v1__grant_consent_response__init(&gc);
	gr.id = 5;
	gc.grant = &gr;
	r.id = 3;
	r.body_case = EENPLAN__V1__RESPONSE__BODY_GRANT_CONSENT;
	r.grant_consent = &gc;
	assert_true(pbjson_oneof_message(&r.base) == &gc.base);
	f = out_open();
	assert_int_equal(cliout_json(f, &r.base), 0);
	fclose(f);
	assert_non_null(j = json_loads(outbuf, 0, NULL));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "grant"), "id")), 5);
	assert_null(json_object_get(j, "id"));
	json_decref(j);

	eenplan__v1__change_event__init(&ev);
	assert_null(pbjson_oneof_message(&ev.base));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_call_assigns_ids, teardown_conn),
		cmocka_unit_test_teardown(test_out_of_order_answers,
		    teardown_conn),
		cmocka_unit_test_teardown(test_event_before_response_is_queued,
		    teardown_conn),
		cmocka_unit_test_teardown(test_subscribe_refused, teardown_conn),
		cmocka_unit_test_teardown(test_unsubscribe_drops_events,
		    teardown_conn),
		cmocka_unit_test_teardown(test_frame_over_max_closes,
		    teardown_conn),
		cmocka_unit_test_teardown(test_truncated_frame, teardown_conn),
		cmocka_unit_test_teardown(test_server_hangs_up, teardown_conn),
		cmocka_unit_test_teardown(test_bad_frames, teardown_conn),
		cmocka_unit_test_teardown(test_timeout_then_late_answer_dropped,
		    teardown_conn),
		cmocka_unit_test_teardown(test_decode_budget_and_large_frames,
		    teardown_conn),
		cmocka_unit_test_teardown(test_request_too_large, teardown_conn),
		cmocka_unit_test_teardown(test_unread_events_are_bounded,
		    teardown_conn),
		cmocka_unit_test(test_split_hostport),
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_number),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_household_id),
		cmocka_unit_test_teardown(test_parse_household_create,
		    teardown_parse),
		cmocka_unit_test_teardown(test_parse_mutations, teardown_parse),
		cmocka_unit_test_teardown(test_parse_consent_and_audit,
		    teardown_parse),
		cmocka_unit_test_teardown(test_parse_refusals, teardown_parse),
		cmocka_unit_test_teardown(test_connection_settings,
		    teardown_parse),
		cmocka_unit_test_teardown(test_text_plan, teardown_out),
		cmocka_unit_test_teardown(test_text_results, teardown_out),
		cmocka_unit_test_teardown(test_text_consent, teardown_out),
		cmocka_unit_test_teardown(test_text_audit, teardown_out),
		cmocka_unit_test_teardown(test_text_sanitised, teardown_out),
		cmocka_unit_test_teardown(test_json_generic, teardown_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
