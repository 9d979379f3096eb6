/*
 * Unit tests for eenplan_sync (the resuming feed follower) and the CLI's
 * new subcommands' parsing and printing. The follower connects through its
 * so_connect hook to fake servers: each connection is a socketpair with a
 * server thread that follows its own script (pages of ReadChanges, a
 * subscription, a hang-up, RESOURCE_EXHAUSTED, a refusal), and records the
 * cursors it was asked for, so every test checks what was handed out, in
 * which order, and where each resume started.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clicmd.h"
#include "cliopt.h"
#include "cliout.h"
#include "eenplan_client.h"
#include "eenplan_sync.h"

#define HH		"0123456789abcdef0123456789abcdef"
#define MAX_CONNS	8
#define MAX_SEEN	64

/* ------------------------------------------------------------ fake servers */

struct srv;
typedef void (*script_fn)(struct srv *);

struct srv {
	int		 s_fd;
	pthread_t	 s_thr;
	script_fn	 s_script;
	int		 s_failures;
	char		 s_why[256];
};

static struct {
	script_fn	 scripts[MAX_CONNS];
	size_t		 nscripts;
	struct srv	 srv[MAX_CONNS];
	size_t		 nconns;
	int		 connect_calls;
	/* what the follower asked for, over every connection */
	char		 asked[MAX_SEEN][32];	/* "rc 12", "sub 12", "who", "unsub" */
	size_t		 nasked;
	pthread_mutex_t	 lock;
} fx = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* What the callback was handed: "N@C" for event seq N, cursor C; "-@C". */
static char	 handed[MAX_SEEN][32];
static size_t	 nhanded;
static volatile sig_atomic_t stop_flag;

static void
srv_fail(struct srv *s, const char *why)
{
	if (s->s_failures++ == 0)
		snprintf(s->s_why, sizeof(s->s_why), "%s", why);
}

static void
asked(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fx.lock);
	if (fx.nasked < MAX_SEEN) {
		va_start(ap, fmt);
		vsnprintf(fx.asked[fx.nasked++], sizeof(fx.asked[0]), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&fx.lock);
}

/* Exactly n bytes within 5 s: 0, 1 at EOF, -1 on error or timeout. */
static int
srv_read(struct srv *s, void *buf, size_t n)
{
	struct pollfd pfd;
	size_t off = 0;
	ssize_t r;

	while (off < n) {
		pfd.fd = s->s_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 5000) != 1)
			return -1;
		r = read(s->s_fd, (uint8_t *)buf + off, n - off);
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

/* The next request; NULL at EOF (or on error, then recorded). */
static EpRequest *
srv_recv(struct srv *s)
{
	uint8_t hdr[4], *body;
	uint32_t len;
	EpRequest *req;
	int rc;

	if ((rc = srv_read(s, hdr, 4)) != 0) {
		if (rc == -1)
			srv_fail(s, "no request within 5 s");
		return NULL;
	}
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > 65536 || (body = malloc(len)) == NULL) {
		srv_fail(s, "bad request frame");
		return NULL;
	}
	if (srv_read(s, body, len) != 0) {
		free(body);
		srv_fail(s, "truncated request");
		return NULL;
	}
	if ((req = eenplan__v1__request__unpack(NULL, len, body)) == NULL)
		srv_fail(s, "request does not unpack");
	free(body);
	if (req != NULL) {
		switch (req->body_case) {
		case EENPLAN__V1__REQUEST__BODY_READ_CHANGES:
			asked("rc %llu", (unsigned long long)
			    req->read_changes->since_seq);
			break;
		case EENPLAN__V1__REQUEST__BODY_SUBSCRIBE:
			asked("sub %llu", (unsigned long long)
			    req->subscribe->since_seq);
			break;
		case EENPLAN__V1__REQUEST__BODY_UNSUBSCRIBE:
			asked("unsub");
			break;
		case EENPLAN__V1__REQUEST__BODY_WHO_AM_I:
			asked("who");
			break;
		default:
			asked("other");
			break;
		}
	}
	return req;
}

static void
srv_send(struct srv *s, EpResponse *r)
{
	uint8_t *frame;
	size_t len, off = 0;
	ssize_t w;

	if ((frame = wire_frame_pack(&r->base, 1u << 22, &len)) == NULL) {
		srv_fail(s, "cannot pack");
		return;
	}
	while (off < len) {
		w = send(s->s_fd, frame + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(frame);
}

/* A request of this kind, or a recorded failure (NULL). */
static EpRequest *
srv_expect(struct srv *s, int body_case)
{
	EpRequest *r;

	if ((r = srv_recv(s)) == NULL) {
		srv_fail(s, "the client went away early");
		return NULL;
	}
	if ((int)r->body_case != body_case) {
		srv_fail(s, "another request than expected");
		eenplan__v1__request__free_unpacked(r, NULL);
		return NULL;
	}
	return r;
}

static void
event_init(EpChangeEvent *ev, uint64_t seq, int kind)
{
	eenplan__v1__change_event__init(ev);
	ev->seq = seq;
	ev->household_id = HH;
	ev->kind = kind;
}

/* Answers a ReadChanges with these event seqs (kinds: PLAN). */
static void
srv_page(struct srv *s, const uint64_t *seqs, size_t n, uint64_t last,
    int more)
{
	Eenplan__V1__ReadChangesResponse rc;
	EpChangeEvent evs[8], *evp[8];
	EpResponse resp;
	EpRequest *r;
	size_t i;

	if ((r = srv_expect(s, EENPLAN__V1__REQUEST__BODY_READ_CHANGES)) ==
	    NULL)
		return;
	eenplan__v1__response__init(&resp);
	eenplan__v1__read_changes_response__init(&rc);
	for (i = 0; i < n && i < 8; i++) {
		event_init(&evs[i], seqs[i], KIND(PLAN));
		evp[i] = &evs[i];
	}
	rc.n_events = n;
	rc.events = evp;
	rc.last_seq = last;
	rc.more = more;
	resp.id = r->id;
	resp.body_case = EENPLAN__V1__RESPONSE__BODY_READ_CHANGES;
	resp.read_changes = &rc;
	srv_send(s, &resp);
	eenplan__v1__request__free_unpacked(r, NULL);
}

/* Answers a Subscribe with its confirmation; returns its id (0: failed). */
static uint64_t
srv_subscribed(struct srv *s)
{
	Eenplan__V1__SubscribeResponse sr;
	EpResponse resp;
	EpRequest *r;
	uint64_t id;

	if ((r = srv_expect(s, EENPLAN__V1__REQUEST__BODY_SUBSCRIBE)) == NULL)
		return 0;
	eenplan__v1__response__init(&resp);
	eenplan__v1__subscribe_response__init(&sr);
	sr.last_seq = r->subscribe->since_seq;
	resp.id = id = r->id;
	resp.body_case = EENPLAN__V1__RESPONSE__BODY_SUBSCRIBE;
	resp.subscribe = &sr;
	srv_send(s, &resp);
	eenplan__v1__request__free_unpacked(r, NULL);
	return id;
}

/* One pushed event, or (code != 0) the subscription's last answer. */
static void
srv_push(struct srv *s, uint64_t id, uint64_t seq, int code)
{
	Eenplan__V1__SubscribeResponse sr;
	EpChangeEvent ev;
	EpResponse resp;
	EpStatus st;

	eenplan__v1__response__init(&resp);
	resp.id = id;
	if (code != 0) {
		eenplan__v1__status__init(&st);
		st.code = code;
		st.message = "subscriber_buffer: subscribe again";
		resp.status = &st;
	} else {
		eenplan__v1__subscribe_response__init(&sr);
		event_init(&ev, seq, KIND(PLAN));
		sr.event = &ev;
		sr.last_seq = seq;
		resp.body_case = EENPLAN__V1__RESPONSE__BODY_SUBSCRIBE;
		resp.subscribe = &sr;
	}
	srv_send(s, &resp);
}

/* Answers a request with a bare status. */
static void
srv_refuse(struct srv *s, int body_case, int code)
{
	EpResponse resp;
	EpStatus st;
	EpRequest *r;

	if ((r = srv_expect(s, body_case)) == NULL)
		return;
	eenplan__v1__response__init(&resp);
	eenplan__v1__status__init(&st);
	st.code = code;
	st.message = "no";
	resp.id = r->id;
	resp.status = &st;
	srv_send(s, &resp);
	eenplan__v1__request__free_unpacked(r, NULL);
}

/* Serves what comes (WhoAmI, Unsubscribe) until the client closes. */
static void
srv_rest(struct srv *s)
{
	Eenplan__V1__UnsubscribeResponse un;
	Eenplan__V1__WhoAmIResponse w;
	EpResponse resp;
	EpRequest *r;

	while ((r = srv_recv(s)) != NULL) {
		eenplan__v1__response__init(&resp);
		resp.id = r->id;
		if (r->body_case == EENPLAN__V1__REQUEST__BODY_WHO_AM_I) {
			eenplan__v1__who_am_iresponse__init(&w);
			resp.body_case = EENPLAN__V1__RESPONSE__BODY_WHO_AM_I;
			resp.who_am_i = &w;
		} else {
			eenplan__v1__unsubscribe_response__init(&un);
			resp.body_case = EENPLAN__V1__RESPONSE__BODY_UNSUBSCRIBE;
			resp.unsubscribe = &un;
		}
		srv_send(s, &resp);
		eenplan__v1__request__free_unpacked(r, NULL);
	}
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;

	s->s_script(s);
	return NULL;
}

/* so_connect: the next script's connection, or a refusal when none is left. */
static struct ep_client *
fx_connect(void *arg, char *err, size_t errlen)
{
	struct srv *s;
	struct ep_client *c;
	int sv[2];

	(void)arg;
	fx.connect_calls++;
	if (fx.nconns >= fx.nscripts || fx.scripts[fx.nconns] == NULL) {
		snprintf(err, errlen, "connection refused (test)");
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return NULL;
	}
	s = &fx.srv[fx.nconns];
	memset(s, 0, sizeof(*s));
	s->s_fd = sv[1];
	s->s_script = fx.scripts[fx.nconns++];
	if ((c = ep_client_from_fd(sv[0], err, errlen)) == NULL ||
	    pthread_create(&s->s_thr, NULL, srv_main, s) != 0) {
		ep_client_close(c);
		close(sv[1]);
		fx.nconns--;
		return NULL;
	}
	return c;
}

static void
fx_start(script_fn a, script_fn b, script_fn c)
{
	memset(fx.scripts, 0, sizeof(fx.scripts));
	fx.scripts[0] = a;
	fx.scripts[1] = b;
	fx.scripts[2] = c;
	fx.nscripts = 3;
	fx.nconns = 0;
	fx.nasked = 0;
	fx.connect_calls = 0;
	nhanded = 0;
	stop_flag = 0;
}

/* Joins every server; their scripts must have gone as planned. */
static void
fx_finish(void)
{
	size_t i;

	for (i = 0; i < fx.nconns; i++) {
		pthread_join(fx.srv[i].s_thr, NULL);
		close(fx.srv[i].s_fd);
		if (fx.srv[i].s_failures)
			fail_msg("fake server %zu: %s", i, fx.srv[i].s_why);
	}
	fx.nconns = 0;
}

static void
opts(struct ep_sync_opts *so, uint64_t since, int once)
{
	memset(so, 0, sizeof(*so));
	so->so_connect = fx_connect;
	so->so_since = since;
	so->so_once = once;
	so->so_backoff_min_ms = 1;
	so->so_backoff_max_ms = 4;
	so->so_stop = &stop_flag;
}

/* Checks what the callback was handed, in order. */
static void
handed_is(const char *const *want)
{
	size_t i;

	for (i = 0; want[i] != NULL; i++) {
		if (i >= nhanded)
			fail_msg("handed %zu, expected %s next", nhanded,
			    want[i]);
		if (strcmp(handed[i], want[i]) != 0)
			fail_msg("handed[%zu] = %s, expected %s", i, handed[i],
			    want[i]);
	}
	if (i != nhanded)
		fail_msg("handed %zu, expected %zu (next: %s)", nhanded, i,
		    handed[i]);
}

static void
asked_is(const char *const *want)
{
	size_t i;

	for (i = 0; want[i] != NULL; i++) {
		if (i >= fx.nasked)
			fail_msg("asked %zu times, expected '%s' next",
			    fx.nasked, want[i]);
		if (strcmp(fx.asked[i], want[i]) != 0)
			fail_msg("request %zu was '%s', expected '%s'", i,
			    fx.asked[i], want[i]);
	}
	if (i != fx.nasked)
		fail_msg("%zu requests, expected %zu (next: %s)", fx.nasked, i,
		    fx.asked[i]);
}

/* The callback: records; its answers come from a small plan. */
static struct {
	uint64_t	 retry_seq;	/* answer EP_SYNC_RETRY once for it */
	uint64_t	 stop_seq;	/* answer 42 for it */
	uint64_t	 halt_seq;	/* set the stop flag after it */
} plan;

static int
cb(struct ep_client *c, const EpChangeEvent *ev, uint64_t cursor, void *arg)
{
	(void)c;
	(void)arg;
	if (nhanded < MAX_SEEN) {
		if (ev != NULL)
			snprintf(handed[nhanded++], sizeof(handed[0]),
			    "%llu@%llu", (unsigned long long)ev->seq,
			    (unsigned long long)cursor);
		else
			snprintf(handed[nhanded++], sizeof(handed[0]),
			    "-@%llu", (unsigned long long)cursor);
	}
	if (ev == NULL)
		return 0;
	if (ev->seq == plan.retry_seq) {
		plan.retry_seq = 0;
		return EP_SYNC_RETRY;
	}
	if (ev->seq == plan.stop_seq)
		return 42;
	if (ev->seq == plan.halt_seq)
		stop_flag = 1;
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	memset(&plan, 0, sizeof(plan));
	return 0;
}

/* ------------------------------------------------------------ back-off */

static void
test_backoff(void **state)
{
	int f, d, prev_max = 0;

	(void)state;
	/* First wait: within [min/2, min]; rnd picks the point. */
	assert_int_equal(ep_sync_backoff(1, 100, 30000, 0), 50);
	assert_int_equal(ep_sync_backoff(1, 100, 30000, 50), 100);
	assert_int_equal(ep_sync_backoff(1, 100, 30000, 51), 50);
	/* Doubling to the cap, never over it, never under half of it. */
	for (f = 1; f <= 40; f++) {
		d = ep_sync_backoff(f, 100, 30000, UINT32_MAX);
		assert_true(d <= 30000);
		assert_true(d >= prev_max || d == 30000);
		prev_max = d;
		assert_true(ep_sync_backoff(f, 100, 30000, 0) >= d / 2);
	}
	assert_int_equal(ep_sync_backoff(9, 100, 30000, 0), 12800);
	assert_int_equal(ep_sync_backoff(10, 100, 30000, 0), 15000);
	assert_int_equal(ep_sync_backoff(10, 100, 30000, 15000), 30000);
	assert_int_equal(ep_sync_backoff(2, 100, 30000, 100), 200);
	/* Nonsense bounds are mended, not trusted. */
	assert_true(ep_sync_backoff(1, 0, 0, 7) >= 0);
	assert_true(ep_sync_backoff(3, 500, 10, 7) <= 500);
	assert_true(ep_sync_retryable(EENPLAN__V1__CODE__UNAVAILABLE));
	assert_true(ep_sync_retryable(EENPLAN__V1__CODE__RESOURCE_EXHAUSTED));
	assert_false(ep_sync_retryable(EENPLAN__V1__CODE__PERMISSION_DENIED));
	assert_false(ep_sync_retryable(EENPLAN__V1__CODE__DATA_LOSS));
}

/* ------------------------------------------------------------ catching up */

static void
script_two_pages(struct srv *s)
{
	static const uint64_t p1[] = { 3, 5 }, p2[] = { 9 };

	srv_page(s, p1, 2, 7, 1);	/* 6 and 7: events not for this reader */
	srv_page(s, p2, 1, 12, 0);
	srv_rest(s);
}

static void
test_once_pages_and_cursor(void **state)
{
	static const char *const want[] = { "3@3", "5@5", "-@7", "9@9",
	    "-@12", NULL };
	static const char *const req[] = { "rc 0", "rc 7", NULL };
	struct ep_sync_opts so;
	uint64_t cursor = 0;
	char e[256];

	(void)state;
	fx_start(script_two_pages, NULL, NULL);
	opts(&so, 0, 1);
	assert_int_equal(ep_sync_run(&so, cb, NULL, &cursor, e, sizeof(e)),
	    0);
	fx_finish();
	assert_int_equal(cursor, 12);
	handed_is(want);
	asked_is(req);
}

static void
script_pair(struct srv *s)
{
	static const uint64_t p[] = { 2, 4, 4 };

	srv_page(s, p, 3, 4, 0);
	srv_rest(s);
}

/* Two events of one seq: the first's cursor must not skip the second. */
static void
test_same_seq_pair(void **state)
{
	static const char *const want[] = { "2@2", "4@3", "4@4", NULL };
	struct ep_sync_opts so;
	uint64_t cursor = 0;
	char e[256];

	(void)state;
	fx_start(script_pair, NULL, NULL);
	opts(&so, 1, 1);
	assert_int_equal(ep_sync_run(&so, cb, NULL, &cursor, e, sizeof(e)),
	    0);
	fx_finish();
	assert_int_equal(cursor, 4);
	handed_is(want);
}

/* ------------------------------------------------------------ live */

static void
script_hangup_after_12(struct srv *s)
{
	static const uint64_t p[] = { 11 };
	uint64_t id;

	srv_page(s, p, 1, 11, 0);
	if ((id = srv_subscribed(s)) == 0)
		return;
	srv_push(s, id, 12, 0);
	/* The daemon goes away (kill -9): no answer, no close_notify. */
	shutdown(s->s_fd, SHUT_RDWR);
}

static void
script_resume_13(struct srv *s)
{
	uint64_t id;

	srv_page(s, NULL, 0, 12, 0);
	if ((id = srv_subscribed(s)) == 0)
		return;
	srv_push(s, id, 13, 0);
	srv_rest(s);
}

static void
test_reconnect_resumes_after_acked(void **state)
{
	static const char *const want[] = { "11@11", "12@12", "13@13", NULL };
	static const char *const req[] = { "rc 10", "sub 11", "rc 12",
	    "sub 12", "unsub", NULL };
	struct ep_sync_opts so;
	uint64_t cursor = 0;
	char e[256];

	(void)state;
	fx_start(script_hangup_after_12, script_resume_13, NULL);
	plan.halt_seq = 13;
	opts(&so, 10, 0);
	assert_int_equal(ep_sync_run(&so, cb, NULL, &cursor, e, sizeof(e)),
	    0);
	fx_finish();
	assert_int_equal(cursor, 13);
	assert_int_equal(fx.connect_calls, 2);
	handed_is(want);
	asked_is(req);
}

static void
script_exhausted(struct srv *s)
{
	uint64_t id;

	srv_page(s, NULL, 0, 5, 0);
	if ((id = srv_subscribed(s)) == 0)
		return;
	srv_push(s, id, 6, 0);
	srv_push(s, id, 0, EENPLAN__V1__CODE__RESOURCE_EXHAUSTED);
	/* The connection is whole: the follower asks again on it. */
	srv_page(s, NULL, 0, 6, 0);
	if ((id = srv_subscribed(s)) == 0)
		return;
	srv_push(s, id, 7, 0);
	srv_rest(s);
}

static void
test_fallen_behind_subscribes_again(void **state)
{
	static const char *const want[] = { "-@5", "6@6", "7@7", NULL };
	static const char *const req[] = { "rc 0", "sub 5", "rc 6", "sub 6",
	    NULL };
	struct ep_sync_opts so;
	uint64_t cursor = 0;
	char e[256];

	(void)state;
	fx_start(script_exhausted, NULL, NULL);
	plan.stop_seq = 7;
	opts(&so, 0, 0);
	/* The callback's own value ends the run; 7 was not acknowledged. */
	assert_int_equal(ep_sync_run(&so, cb, NULL, &cursor, e, sizeof(e)),
	    42);
	fx_finish();
	assert_int_equal(cursor, 6);
	assert_int_equal(fx.connect_calls, 1);
	handed_is(want);
	asked_is(req);
}

static void
script_two(struct srv *s)
{
	static const uint64_t p[] = { 1, 2 };

	srv_page(s, p, 2, 2, 0);
	srv_rest(s);
}

static void
script_again_two(struct srv *s)
{
	static const uint64_t p[] = { 2 };

	srv_page(s, p, 1, 2, 0);
	srv_rest(s);
}

/* A callback that could not finish gets the same event again, nothing else. */
static void
test_callback_retry_redelivers(void **state)
{
	static const char *const want[] = { "1@1", "2@2", "2@2", NULL };
	static const char *const req[] = { "rc 0", "rc 1", NULL };
	struct ep_sync_opts so;
	uint64_t cursor = 0;
	char e[256];

	(void)state;
	fx_start(script_two, script_again_two, NULL);
	plan.retry_seq = 2;
	opts(&so, 0, 1);
	assert_int_equal(ep_sync_run(&so, cb, NULL, &cursor, e, sizeof(e)),
	    0);
	fx_finish();
	assert_int_equal(cursor, 2);
	handed_is(want);
	asked_is(req);
}

static void
script_denied(struct srv *s)
{
	srv_refuse(s, EENPLAN__V1__REQUEST__BODY_READ_CHANGES,
	    EENPLAN__V1__CODE__PERMISSION_DENIED);
	srv_rest(s);
}

static void
test_refusal_is_final(void **state)
{
	struct ep_sync_opts so;
	uint64_t cursor = 0;
	char e[256];

	(void)state;
	fx_start(script_denied, script_denied, NULL);
	opts(&so, 3, 0);
	assert_int_equal(ep_sync_run(&so, cb, NULL, &cursor, e, sizeof(e)),
	    EP_SYNC_REFUSED);
	fx_finish();
	assert_non_null(strstr(e, "PERMISSION_DENIED"));
	assert_int_equal(fx.connect_calls, 1);
	assert_int_equal(cursor, 3);
	assert_int_equal(nhanded, 0);
}

static void
script_busy(struct srv *s)
{
	srv_refuse(s, EENPLAN__V1__REQUEST__BODY_READ_CHANGES,
	    EENPLAN__V1__CODE__UNAVAILABLE);
	srv_page(s, NULL, 0, 9, 0);
	srv_rest(s);
}

/* A retryable status is tried again, on the same connection. */
static void
test_unavailable_is_retried(void **state)
{
	static const char *const want[] = { "-@9", NULL };
	static const char *const req[] = { "rc 0", "rc 0", NULL };
	struct ep_sync_opts so;
	uint64_t cursor = 0;
	char e[256];

	(void)state;
	fx_start(script_busy, NULL, NULL);
	opts(&so, 0, 1);
	assert_int_equal(ep_sync_run(&so, cb, NULL, &cursor, e, sizeof(e)),
	    0);
	fx_finish();
	assert_int_equal(cursor, 9);
	assert_int_equal(fx.connect_calls, 1);
	handed_is(want);
	asked_is(req);
}

static void
test_gives_up(void **state)
{
	struct ep_sync_opts so;
	uint64_t cursor = 0;
	char e[256];

	(void)state;
	fx_start(NULL, NULL, NULL);
	opts(&so, 5, 0);
	so.so_max_failures = 3;
	assert_int_equal(ep_sync_run(&so, cb, NULL, &cursor, e, sizeof(e)),
	    -1);
	assert_int_equal(fx.connect_calls, 3);
	assert_non_null(strstr(e, "connection refused (test)"));
	assert_non_null(strstr(e, "3 attempts"));
	assert_int_equal(cursor, 5);
}

static void
script_quiet(struct srv *s)
{
	srv_page(s, NULL, 0, 1, 0);
	if (srv_subscribed(s) == 0)
		return;
	srv_rest(s);	/* WhoAmI heartbeats, then the Unsubscribe */
}

static void *
stopper(void *arg)
{
	struct timespec ts = { 0, 300 * 1000000L };

	(void)arg;
	nanosleep(&ts, NULL);
	stop_flag = 1;
	return NULL;
}

/* A quiet subscription: heartbeats, then the stop flag ends it cleanly. */
static void
test_heartbeat_and_stop(void **state)
{
	struct ep_sync_opts so;
	uint64_t cursor = 0;
	pthread_t t;
	char e[256];
	size_t i, who = 0;

	(void)state;
	fx_start(script_quiet, NULL, NULL);
	opts(&so, 0, 0);
	so.so_heartbeat_ms = 50;
	assert_int_equal(pthread_create(&t, NULL, stopper, NULL), 0);
	assert_int_equal(ep_sync_run(&so, cb, NULL, &cursor, e, sizeof(e)),
	    0);
	pthread_join(t, NULL);
	fx_finish();
	for (i = 0; i < fx.nasked; i++)
		who += strcmp(fx.asked[i], "who") == 0;
	assert_true(who >= 1);
	assert_string_equal(fx.asked[fx.nasked - 1], "unsub");
	assert_int_equal(cursor, 1);
}

/* ------------------------------------------------------------ CLI */

static struct cliopt opt;
static char perr[256];

static int
parse(const char *first, ...)
{
	char *argv[16];
	va_list ap;
	int argc = 0;
	const char *a;

	argv[argc++] = (char *)(uintptr_t)"eenplan";
	va_start(ap, first);
	for (a = first; a != NULL && argc < 15; a = va_arg(ap, const char *))
		argv[argc++] = (char *)(uintptr_t)a;
	va_end(ap);
	argv[argc] = NULL;
	cliopt_free(&opt);
	return cliopt_parse(&opt, argc, argv, perr, sizeof(perr));
}

static void
test_parse_new_subcommands(void **state)
{
	(void)state;
	assert_int_equal(parse("watch", NULL), 0);
	assert_int_equal(opt.o_cmd, CMD_WATCH);
	assert_true(clicmd_of(CMD_WATCH)->cc_flags & CC_OWNS_CONN);
	assert_int_equal(parse("watch", "--since", "17", NULL), 0);
	assert_int_equal(opt.o_since, 17);
	assert_int_equal(parse("watch", "--dir", "x", NULL), -1);

	assert_int_equal(parse("sync", "--dir", "/tmp/m", "--once", NULL), 0);
	assert_int_equal(opt.o_cmd, CMD_SYNC);
	assert_string_equal(opt.o_dir, "/tmp/m");
	assert_true(opt.o_once);
	assert_int_equal(parse("sync", NULL), -1);
	assert_non_null(strstr(perr, "--dir"));
	assert_int_equal(parse("sync", "--dir", "", NULL), -1);

	assert_int_equal(parse("signal", "send", HH, "--domain", "financien",
	    "--text", "zorgen", NULL), 0);
	assert_int_equal(opt.o_cmd, CMD_SIGNAL_SEND);
	assert_int_equal(opt.o_domain, EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN);
	assert_int_equal(parse("signal", "send", HH, "--text", "x", NULL), -1);
	assert_int_equal(parse("signal", "send", "--domain", "financien",
	    "--text", "x", NULL), -1);

	assert_int_equal(parse("signals", NULL), 0);
	assert_int_equal(opt.o_cmd, CMD_SIGNALS);
	assert_string_equal(opt.o_hh, "");
	assert_int_equal(parse("signals", HH, NULL), 0);
	assert_string_equal(opt.o_hh, HH);
	assert_int_equal(parse("signals", "nothex", NULL), -1);
	assert_int_equal(parse("signals", HH, HH, NULL), -1);
	cliopt_free(&opt);
}

/* ------------------------------------------------------------ printing */

static char *
printed(void (*fn)(FILE *, const EpChangeEvent *), const EpChangeEvent *ev)
{
	static char buf[4096];
	FILE *f;

	memset(buf, 0, sizeof(buf));
	assert_non_null(f = fmemopen(buf, sizeof(buf) - 1, "w"));
	fn(f, ev);
	fclose(f);
	return buf;
}

static void
test_event_text(void **state)
{
	EpChangeEvent ev;
	EpHistoryEntry he;
	EpMutation m, *mp = &m;
	Eenplan__V1__AddNote an;
	EpSignal sg;
	EpPrincipal who, from;
	Eenplan__V1__Domain dom = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	char *out;

	(void)state;
	eenplan__v1__principal__init(&who);
	who.org = "gemeente";
	who.subject = "a.devries";
	who.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	event_init(&ev, 12, KIND(PLAN));
	ev.version = 3;
	ev.actor = &who;
	eenplan__v1__history_entry__init(&he);
	eenplan__v1__mutation__init(&m);
	eenplan__v1__add_note__init(&an);
	an.domain = dom;
	an.text = "private note text";
	m.op_case = EENPLAN__V1__MUTATION__OP_ADD_NOTE;
	m.add_note = &an;
	he.n_mutations = 1;
	he.mutations = &mp;
	he.n_mutation_domains = 1;
	he.mutation_domains = &dom;
	ev.change = &he;
	out = printed(cliout_event_detail, &ev);
	assert_non_null(strstr(out, "#12"));
	assert_non_null(strstr(out, HH));
	assert_non_null(strstr(out, "plan changed to version 3 by "
	    "gemeente/a.devries (professional)"));
	assert_non_null(strstr(out, "note added [Financiën]"));

	event_init(&ev, 13, KIND(ACCESS_ENDED));
	out = printed(cliout_event_detail, &ev);
	assert_non_null(strstr(out, "your access ended"));

	event_init(&ev, 14, KIND(CONSENT));
	ev.consent = EENPLAN__V1__CONSENT_CHANGE__CONSENT_EXPIRED;
	ev.grant_id = 4;
	who.org = "eenpland";
	ev.actor = &who;
	out = printed(cliout_event_detail, &ev);
	assert_non_null(strstr(out, "consent expired (grant 4)"));
	assert_null(strstr(out, "eenpland"));

	event_init(&ev, 15, KIND(SIGNAL));
	eenplan__v1__signal__init(&sg);
	eenplan__v1__principal__init(&from);
	from.org = "senzer";
	from.subject = "m.vandijk";
	sg.from = &from;
	sg.domain = dom;
	sg.text = "line one\n\033[2Jline two";
	ev.signal = &sg;
	out = printed(cliout_event_detail, &ev);
	assert_non_null(strstr(out, "signal [Financiën] from senzer/m.vandijk"));
	assert_non_null(strstr(out, "    line one\n    ?[2Jline two"));
	assert_null(strchr(out, '\033'));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test_setup(test_once_pages_and_cursor, setup),
		cmocka_unit_test_setup(test_same_seq_pair, setup),
		cmocka_unit_test_setup(test_reconnect_resumes_after_acked,
		    setup),
		cmocka_unit_test_setup(test_fallen_behind_subscribes_again,
		    setup),
		cmocka_unit_test_setup(test_callback_retry_redelivers, setup),
		cmocka_unit_test_setup(test_refusal_is_final, setup),
		cmocka_unit_test_setup(test_unavailable_is_retried, setup),
		cmocka_unit_test_setup(test_gives_up, setup),
		cmocka_unit_test_setup(test_heartbeat_and_stop, setup),
		cmocka_unit_test(test_parse_new_subcommands),
		cmocka_unit_test(test_event_text),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
