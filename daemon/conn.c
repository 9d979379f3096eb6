/*
 * conn: one client connection — TLS handshake and identity, framing with its
 * limits, backpressure, deadlines and answers (see conn.h).
 *
 * Memory. A connection holds what it received and has not taken (c_in),
 * the requests it decoded that are on their way (c_req) and the answers it
 * has not read (c_out); evbuffer callbacks keep c_in and c_out exact, and
 * the server adds them all up (s_mem). Before a request is taken, room is
 * reserved for its answer (c_resv, s_resv): max_frame for an operation
 * whose answer may be that large, CONN_SMALL_ANSWER for the others. A frame
 * is taken only when that answer fits under conn_output_max (c_out + c_req
 * + c_resv) and, daemon-wide, under memory_max; otherwise the connection
 * stops reading — on its own until its answers leave, or on its worker's
 * waiting list until the daemon has room again. A request is decoded
 * before its reservation is known; when it does not fit, it is parked
 * until it does. So a client that asks for large answers and never reads
 * them holds at most conn_output_max, and all such clients together at
 * most memory_max (give or take one answer per worker, which may pass the
 * check at the same moment). When the bytes held stay high anyway, the
 * heaviest connection is cut (conn_mem_tick).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "tls.h"

/* Frames handled per read callback before yielding to other connections. */
#define CONN_FRAMES_PER_TURN	16
/* Reserved for the answer of an operation that answers in a few bytes. */
#define CONN_SMALL_ANSWER	(64u * 1024)
/* Certificates checked again per loop turn after a reload. */
#define CONN_REVERIFY_PER_TURN	64
/* Seconds a closing connection may take to flush its last answer. */
#define CONN_CLOSE_GRACE	5

#define BODY(x)	EENPLAN__V1__REQUEST__BODY_##x

/* A request on its way: the sink's argument, and its id while in flight. */
struct conn_req {
	struct conn		*cr_conn;
	uint64_t		 cr_id;		/* 0: not in c_reqs */
	size_t			 cr_mem;	/* decoded bytes, counted */
	size_t			 cr_resv;	/* reserved for its answer */
	LIST_ENTRY(conn_req)	 cr_entry;
};

enum conn_gate {
	CONN_GATE_OPEN = 0,
	CONN_GATE_LOCAL,	/* this connection holds enough */
	CONN_GATE_GLOBAL	/* the daemon holds enough */
};

static uint64_t conn_ids;	/* atomic */

static void	conn_readcb(struct bufferevent *, void *);
static void	conn_writecb(struct bufferevent *, void *);
static void	conn_eventcb(struct bufferevent *, short, void *);
static void	conn_frame_deadline(evutil_socket_t, short, void *);

static struct server *
conn_srv(const struct conn *c)
{
	return c->c_worker->w_srv;
}

static const struct config *
conn_conf(const struct conn *c)
{
	return c->c_worker->w_srv->s_conf;
}

void
conn_ref(struct conn *c)
{
	c->c_refs++;
}

void
conn_unref(struct conn *c)
{
	if (--c->c_refs == 0)
		free(c);
}

/* Lines a peer can cause, rate-limited (see log.h). */
static struct log_rate rl_handshake = LOG_RATE_INIT("refused (TLS handshake)");
static struct log_rate rl_identity = LOG_RATE_INIT("refused (identity)");
static struct log_rate rl_hs_timeout = LOG_RATE_INIT("refused (handshake timeout)");
static struct log_rate rl_bad_frame = LOG_RATE_INIT("bad frames");

/* One line per failed connection: the first TLS error says why (returned). */
static unsigned long
conn_log_ssl_errors(struct conn *c, const char *what)
{
	unsigned long e, first = 0;
	char buf[256];
	int saved = errno;

	while ((e = bufferevent_get_openssl_error(c->c_bev)) != 0)
		if (first == 0)
			first = e;
	if (first == 0) {
		log_kv(LOGL_DEBUG, what, "conn=%llu peer=%s error=%s",
		    (unsigned long long)c->c_id, c->c_who.pr_peer,
		    log_q(saved != 0 ? strerror(saved) : "closed"));
		return 0;
	}
	ERR_error_string_n(first, buf, sizeof(buf));
	if (c->c_state == CONN_HANDSHAKE)
		log_rl(&rl_handshake, LOGL_WARN, "connection refused",
		    "conn=%llu peer=%s reason=tls error=%s",
		    (unsigned long long)c->c_id, c->c_who.pr_peer, log_q(buf));
	else
		log_kv(LOGL_INFO, what, "conn=%llu peer=%s error=%s",
		    (unsigned long long)c->c_id, c->c_who.pr_peer, log_q(buf));
	return first;
}

/* How a handshake that failed with first TLS error e (0: none) ended. */
static enum metrics_hs
conn_hs_outcome(struct conn *c, unsigned long e)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->c_bev);
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (v == X509_V_ERR_CERT_REVOKED)
		return METRICS_HS_REVOKED;
	if (v != X509_V_OK)
		return METRICS_HS_CERT_REJECTED;
	if (e == 0)
		return METRICS_HS_CLOSED;
	if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) ==
	    SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		return METRICS_HS_NO_CERT;
	return METRICS_HS_TLS_ERROR;
}

/* ------------------------------------------------------------- memory */

/* The bytes in a connection's buffers, exact, as libevent changes them. */
static void
conn_inbuf_cb(struct evbuffer *b, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn *c = arg;
	int64_t d = (int64_t)info->n_added - (int64_t)info->n_deleted;

	(void)b;
	if (d == 0)
		return;
	c->c_in = (size_t)((int64_t)c->c_in + d);
	server_mem_change(conn_srv(c), d, 0);
}

static void
conn_outbuf_cb(struct evbuffer *b, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn *c = arg;
	int64_t d = (int64_t)info->n_added - (int64_t)info->n_deleted;

	(void)b;
	if (d == 0)
		return;
	c->c_out = (size_t)((int64_t)c->c_out + d);
	server_mem_change(conn_srv(c), d, 0);
}

static size_t
conn_small_answer(const struct config *conf)
{
	size_t most = (size_t)conf->c_max_frame + WIRE_HDR_LEN;

	return most < CONN_SMALL_ANSWER ? most : CONN_SMALL_ANSWER;
}

/*
 * Room to reserve for an operation's answer: a few bytes for those that
 * answer with an id, a version or a grant; a whole frame for the reads
 * (and for whatever this server does not know).
 */
static size_t
conn_answer_reserve(const struct config *conf, int body_case)
{
	switch (body_case) {
	case BODY(WHO_AM_I):
	case BODY(CREATE_HOUSEHOLD):
	case BODY(MUTATE_PLAN):
	case BODY(GRANT_CONSENT):
	case BODY(REVOKE_CONSENT):
	case BODY(TRANSFER_REGIE):
	case BODY(BREAK_GLASS):
	case BODY(ESCALATE):
	case BODY(CLOSE_HOUSEHOLD):
	case BODY(UNSUBSCRIBE):
		return conn_small_answer(conf);
	default:
		return (size_t)conf->c_max_frame + WIRE_HDR_LEN;
	}
}

/* May a request whose answer needs resv bytes be taken now? */
static enum conn_gate
conn_gate(const struct conn *c, size_t resv)
{
	const struct config *conf = conn_conf(c);
	const struct worker *w = c->c_worker;
	size_t held;

	if (c->c_inflight >= conf->c_max_inflight)
		return CONN_GATE_LOCAL;
	/* A parked request is judged without its own decoded bytes. */
	held = c->c_out + (c->c_req - c->c_parked_mem) + c->c_resv;
	if (held + resv > conf->c_conn_output_max)
		return CONN_GATE_LOCAL;
	/* Those waiting on this worker go first. */
	if (__atomic_load_n(&w->w_nwaiters, __ATOMIC_RELAXED) > 0 &&
	    !c->c_woken)
		return CONN_GATE_GLOBAL;
	if (server_mem_spare(conn_srv(c)) < resv)
		return CONN_GATE_GLOBAL;
	return CONN_GATE_OPEN;
}

static void
conn_wait(struct conn *c)
{
	struct worker *w = c->c_worker;

	c->c_woken = 0;
	if (c->c_waiting)
		return;
	c->c_waiting = 1;
	TAILQ_INSERT_TAIL(&w->w_waiters, c, c_wait_entry);
	__atomic_add_fetch(&w->w_nwaiters, 1, __ATOMIC_RELAXED);
}

static void
conn_unwait(struct conn *c)
{
	struct worker *w = c->c_worker;

	if (!c->c_waiting)
		return;
	c->c_waiting = 0;
	TAILQ_REMOVE(&w->w_waiters, c, c_wait_entry);
	__atomic_sub_fetch(&w->w_nwaiters, 1, __ATOMIC_RELAXED);
}

/* The request's memory and reservation, counted or given back. */
static void
conn_req_account(struct conn *c, struct conn_req *cr, int sign)
{
	if (sign > 0) {
		c->c_req += cr->cr_mem;
		c->c_resv += cr->cr_resv;
	} else {
		c->c_req -= cr->cr_mem;
		c->c_resv -= cr->cr_resv;
	}
	server_mem_change(conn_srv(c), sign * (int64_t)cr->cr_mem,
	    sign * (int64_t)cr->cr_resv);
}

/* Reserves room for the answer of request cr. */
static void
conn_reserve(struct conn *c, struct conn_req *cr, size_t resv)
{
	cr->cr_resv = resv;
	c->c_resv += resv;
	server_mem_change(conn_srv(c), 0, (int64_t)resv);
}

/* ------------------------------------------------------------ closing */

/* Frees the parked request, if any, and its memory. */
static void
conn_unpark_free(struct conn *c)
{
	struct call *ca = c->c_parked;
	struct conn_req *cr;

	if (ca == NULL)
		return;
	cr = ca->ca_sink.cs_arg;
	ca->ca_req = c->c_parked_req;	/* freed with the call */
	call_free(ca);
	cr->cr_resv = 0;
	conn_req_account(c, cr, -1);
	free(cr);
	c->c_parked = NULL;
	c->c_parked_req = NULL;
	c->c_parked_mem = 0;
	c->c_parked_resv = 0;
}

/* Frees the bufferevent now; the struct lives while requests hold it. */
static void
conn_close(struct conn *c)
{
	struct worker *w = c->c_worker;
	struct server *srv = w->w_srv;
	SSL *ssl;

	if (c->c_state == CONN_CLOSED)
		return;
	conn_unwait(c);
	if (c->c_bev != NULL) {
		/* Its buffers go with it: stop counting them. */
		if (c->c_in_cb != NULL)
			(void)evbuffer_remove_cb_entry(
			    bufferevent_get_input(c->c_bev), c->c_in_cb);
		if (c->c_out_cb != NULL)
			(void)evbuffer_remove_cb_entry(
			    bufferevent_get_output(c->c_bev), c->c_out_cb);
		c->c_in_cb = c->c_out_cb = NULL;
		server_mem_change(srv, -(int64_t)(c->c_in + c->c_out), 0);
		c->c_in = c->c_out = 0;
		if ((ssl = bufferevent_openssl_get_ssl(c->c_bev)) != NULL) {
			/*
			 * libevent 2.1 never sends close_notify itself. On an
			 * unfinished handshake SSL_shutdown only queues an error
			 * on this thread; skip it, and clear what it leaves.
			 */
			if (SSL_is_init_finished(ssl)) {
				SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);
				SSL_shutdown(ssl);
			}
			ERR_clear_error();
		}
		bufferevent_free(c->c_bev);
		c->c_bev = NULL;
	}
	if (c->c_hs_timer != NULL) {
		event_free(c->c_hs_timer);
		c->c_hs_timer = NULL;
	}
	if (c->c_hs_tls != NULL) {
		server_tls_put(srv, c->c_hs_tls);
		c->c_hs_tls = NULL;
	}
	if (c->c_frame_timer != NULL) {
		event_free(c->c_frame_timer);
		c->c_frame_timer = NULL;
	}
	conn_unpark_free(c);
	if (c->c_counted) {
		server_principal_release(srv, &c->c_who);
		c->c_counted = 0;
	}
	c->c_state = CONN_CLOSED;
	TAILQ_REMOVE(&w->w_conns, c, c_entry);
	w->w_nconns--;
	__atomic_sub_fetch(&srv->s_nconns, 1, __ATOMIC_RELAXED);
	conn_unref(c);
}

/* Arms the connection's one timer: secs from now. 0 or -1. */
static int
conn_timer_arm(struct conn *c, unsigned secs)
{
	struct timeval tv = { (time_t)secs, 0 };

	if (c->c_frame_timer == NULL &&
	    (c->c_frame_timer = evtimer_new(c->c_worker->w_base,
	    conn_frame_deadline, c)) == NULL)
		return -1;
	return evtimer_add(c->c_frame_timer, &tv);
}

static void
conn_timer_disarm(struct conn *c)
{
	if (c->c_frame_timer != NULL)
		(void)evtimer_del(c->c_frame_timer);
	c->c_frame_armed = 0;
}

/*
 * Sends what is queued, then closes: for a last error answer. A peer that
 * does not read it within CONN_CLOSE_GRACE seconds is closed anyway.
 */
static void
conn_close_after_flush(struct conn *c)
{
	if (c->c_state == CONN_CLOSED)
		return;
	c->c_state = CONN_CLOSING;
	conn_unwait(c);
	bufferevent_disable(c->c_bev, EV_READ);
	conn_timer_disarm(c);
	if (evbuffer_get_length(bufferevent_get_output(c->c_bev)) == 0 ||
	    conn_timer_arm(c, CONN_CLOSE_GRACE) == -1)
		conn_close(c);
}

/* -------------------------------------------------------- backpressure */

/*
 * A frame has begun when the input holds part of one and reading goes on:
 * it must be whole within frame_timeout, however slowly its bytes come.
 * Paused reading stops the clock (the peer cannot finish it then).
 */
static void
conn_frame_clock(struct conn *c)
{
	const struct config *conf = conn_conf(c);
	struct evbuffer *in;
	uint8_t hdr[WIRE_HDR_LEN];
	uint32_t len = 0;
	size_t avail;
	int begun;

	if (c->c_state != CONN_READY)
		return;
	if (c->c_read_paused) {
		if (c->c_frame_armed)
			conn_timer_disarm(c);
		return;
	}
	in = bufferevent_get_input(c->c_bev);
	avail = evbuffer_get_length(in);
	if (avail == 0)
		begun = 0;
	else if (avail < WIRE_HDR_LEN)
		begun = 1;
	else {
		(void)evbuffer_copyout(in, hdr, sizeof(hdr));
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		    (uint32_t)hdr[2] << 8 | hdr[3];
		begun = avail - WIRE_HDR_LEN < (size_t)len;
	}
	if (begun && !c->c_frame_armed) {
		if (conn_timer_arm(c, conf->c_frame_timeout) == 0)
			c->c_frame_armed = 1;
	} else if (!begun && c->c_frame_armed)
		conn_timer_disarm(c);
}

static void
conn_pause(struct conn *c)
{
	if (c->c_read_paused)
		return;
	bufferevent_disable(c->c_bev, EV_READ);
	c->c_read_paused = 1;
	conn_frame_clock(c);
}

static void
conn_resume(struct conn *c)
{
	if (!c->c_read_paused)
		return;
	c->c_read_paused = 0;
	bufferevent_enable(c->c_bev, EV_READ);
	/* Frames may already sit in the input buffer: look again. */
	bufferevent_trigger(c->c_bev, EV_READ,
	    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* Reading goes on while the next request can be taken, else it stops. */
static void
conn_update_reading(struct conn *c)
{
	size_t next;

	if (c->c_state != CONN_READY)
		return;
	next = c->c_parked != NULL ? c->c_parked_resv :
	    conn_small_answer(conn_conf(c));
	switch (conn_gate(c, next)) {
	case CONN_GATE_OPEN:
		conn_unwait(c);
		conn_resume(c);
		break;
	case CONN_GATE_GLOBAL:
		conn_pause(c);
		conn_wait(c);
		break;
	case CONN_GATE_LOCAL:
	default:
		/* Its own answers leaving will wake it. */
		conn_unwait(c);
		conn_pause(c);
		break;
	}
}

void
conn_mem_wake(struct worker *w)
{
	struct conn *c;
	size_t spare = server_mem_spare(w->w_srv), need;

	while ((c = TAILQ_FIRST(&w->w_waiters)) != NULL) {
		need = c->c_parked != NULL ? c->c_parked_resv :
		    conn_small_answer(conn_conf(c));
		if (need > spare)
			break;
		spare -= need;
		conn_unwait(c);
		c->c_woken = 1;
		conn_update_reading(c);
		if (c->c_waiting)
			break;
	}
}

void
conn_mem_tick(struct worker *w)
{
	struct server *srv = w->w_srv;
	struct conn *c, *heavy = NULL;
	size_t most = 0, b;

	if (!server_mem_cutting(srv)) {
		(void)server_mem_elect(srv, w, 0);
		return;
	}
	TAILQ_FOREACH(c, &w->w_conns, c_entry) {
		b = c->c_in + c->c_out + c->c_req;
		if (b > most) {
			most = b;
			heavy = c;
		}
	}
	if (heavy == NULL || !server_mem_elect(srv, w, most))
		return;
	log_warnx("conn %llu (%s %s/%s): cut, the heaviest connection: it "
	    "holds %zu bytes (%zu of them answers it does not read) while "
	    "connections hold %zu bytes, near memory_max (%zu)",
	    (unsigned long long)heavy->c_id, heavy->c_who.pr_peer,
	    heavy->c_who.pr_org, heavy->c_who.pr_subject, most,
	    heavy->c_out, __atomic_load_n(&srv->s_mem, __ATOMIC_RELAXED),
	    srv->s_conf->c_memory_max);
	conn_close(heavy);
}

/* -------------------------------------------------------------- answers */

/*
 * Writes what was just queued now, not a turn of the loop later. libevent
 * 2.1's TLS bufferevent on a socket, when bytes enter its output buffer,
 * only starts watching the socket for room and writes once epoll says
 * there is (which it nearly always does, at once): every answer cost one
 * more epoll_wait and two epoll_ctl calls (strace at the peak: 1.8 per
 * GetPlan). Running its write callback now writes at once and ends the
 * watch in the same turn — which the worker base's change list
 * (server.c, worker_base_new) then never sends to the kernel. A socket
 * without room keeps the watch, as before. Only for a connection past its
 * handshake: before it, the same event drives the handshake.
 */
static void
conn_write_now(struct conn *c)
{
	if (c->c_state == CONN_READY || c->c_state == CONN_CLOSING)
		event_active(&c->c_bev->ev_write, EV_WRITE, 1);
}

static int
conn_send_frame(struct conn *c, EpResponse *resp)
{
	uint32_t max = conn_conf(c)->c_max_frame;
	struct evbuffer *out = bufferevent_get_output(c->c_bev);
	uint8_t *frame;
	size_t len;
	int rc;

	if ((frame = wire_frame_pack(&resp->base, max, &len)) == NULL)
		return -1;
	rc = evbuffer_add(out, frame, len);
	free(frame);
	if (rc == 0)
		conn_write_now(c);
	return rc;
}

static void
conn_frame_free(const void *data, size_t len, void *buf)
{
	(void)data;
	(void)len;
	free(buf);
}

/*
 * A call's answer (its sink): queued without a copy — the buffer is freed
 * once sent — and the request's hold on the connection released. Safe
 * after the connection closed (the answer is dropped: a connection closed
 * because its certificate was revoked is never answered again).
 */
static void
conn_call_send(void *arg, uint8_t *buf, size_t off, size_t len)
{
	struct conn_req *cr = arg;
	struct conn *c = cr->cr_conn;
	struct evbuffer *out;

	if (buf != NULL && (c->c_state == CONN_READY ||
	    c->c_state == CONN_CLOSING)) {
		out = bufferevent_get_output(c->c_bev);
		if (evbuffer_add_reference(out, buf + off, len, conn_frame_free,
		    buf) != 0) {
			free(buf);
			log_kv(LOGL_WARN, "cannot queue an answer; closing",
			    "conn=%llu", (unsigned long long)c->c_id);
			conn_close(c);
		} else
			conn_write_now(c);
	} else
		free(buf);
	conn_req_account(c, cr, -1);
	if (cr->cr_id != 0)
		LIST_REMOVE(cr, cr_entry);
	free(cr);
	c->c_inflight--;
	conn_update_reading(c);
	conn_unref(c);
}

/* One more answer of a call that goes on (a subscription's events). */
static void
conn_call_push(void *arg, uint8_t *buf, size_t off, size_t len)
{
	struct conn_req *cr = arg;
	struct conn *c = cr->cr_conn;
	struct evbuffer *out;

	if (buf == NULL)
		return;
	if (c->c_state != CONN_READY && c->c_state != CONN_CLOSING) {
		free(buf);
		return;
	}
	out = bufferevent_get_output(c->c_bev);
	if (evbuffer_add_reference(out, buf + off, len, conn_frame_free,
	    buf) != 0) {
		free(buf);
		log_kv(LOGL_WARN, "cannot queue an event; closing",
		    "conn=%llu", (unsigned long long)c->c_id);
		conn_close(c);
		return;
	}
	conn_write_now(c);
	conn_update_reading(c);
}

/* In the writer thread: may this call's connection still act? */
static int
conn_call_live(void *arg)
{
	struct conn_req *cr = arg;

	return !__atomic_load_n(&cr->cr_conn->c_cut, __ATOMIC_ACQUIRE);
}

static size_t
conn_call_pending(void *arg)
{
	struct conn_req *cr = arg;
	struct conn *c = cr->cr_conn;

	if (c->c_state != CONN_READY)
		return SIZE_MAX;
	return evbuffer_get_length(bufferevent_get_output(c->c_bev));
}

/* A protocol error: tell the peer why (id 0), log, and close this one connection. */
static void
conn_protocol_error(struct conn *c, int code, const char *fmt, ...)
{
	EpResponse resp = EENPLAN__V1__RESPONSE__INIT;
	EpStatus st = EENPLAN__V1__STATUS__INIT;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_rl(&rl_bad_frame, LOGL_WARN, "bad frame; closing",
	    "conn=%llu peer=%s org=%s subject=%s reason=%s",
	    (unsigned long long)c->c_id, c->c_who.pr_peer,
	    log_q(c->c_who.pr_org), log_q(c->c_who.pr_subject), log_q(msg));
	st.code = code;
	st.message = msg;
	resp.status = &st;
	(void)conn_send_frame(c, &resp);
	conn_close_after_flush(c);
}

/* ------------------------------------------------------------ requests */

static struct conn_req *
conn_req_find(const struct conn *c, uint64_t id)
{
	struct conn_req *cr;

	LIST_FOREACH(cr, &c->c_reqs, cr_entry)
		if (cr->cr_id == id)
			return cr;
	return NULL;
}

/* Hands a decoded request to dispatch, with room reserved for its answer. */
static void
conn_dispatch(struct conn *c, struct call *ca, EpRequest *req, size_t resv)
{
	struct conn_req *cr = ca->ca_sink.cs_arg;

	conn_reserve(c, cr, resv);
	/* Id 0 is refused by dispatch; any other is in flight now. */
	if (req->id != 0) {
		cr->cr_id = req->id;
		LIST_INSERT_HEAD(&c->c_reqs, cr, cr_entry);
	}
	/* The call holds the connection until its answer is sent. */
	conn_ref(c);
	c->c_inflight++;
	c->c_woken = 0;
	dispatch_request(ca, req);
}

/* The parked request, if it fits now: 0 when none is left, -1 when not. */
static int
conn_unpark(struct conn *c)
{
	struct call *ca = c->c_parked;
	EpRequest *req = c->c_parked_req;
	size_t resv = c->c_parked_resv;

	if (ca == NULL)
		return 0;
	if (conn_gate(c, resv) != CONN_GATE_OPEN)
		return -1;
	c->c_parked = NULL;
	c->c_parked_req = NULL;
	c->c_parked_mem = 0;
	c->c_parked_resv = 0;
	conn_dispatch(c, ca, req, resv);
	return 0;
}

/*
 * One whole frame of len bytes is at the front of the input: decoded and
 * dispatched (0), or parked until its answer fits (1).
 */
static int
conn_handle_frame(struct conn *c, struct evbuffer *in, uint32_t len)
{
	const struct config *conf = conn_conf(c);
	size_t small = conn_small_answer(conf), resv;
	struct call_sink sink;
	struct conn_req *cr;
	const uint8_t *body;
	struct call *ca;
	EpRequest *req;
	char why[192];

	body = evbuffer_pullup(in, (ev_ssize_t)(WIRE_HDR_LEN + len));
	if (body == NULL) {
		conn_protocol_error(c, EENPLAN__V1__CODE__INTERNAL,
		    "out of memory reading a frame");
		return 0;
	}
	if ((cr = calloc(1, sizeof(*cr))) == NULL) {
		evbuffer_drain(in, WIRE_HDR_LEN + len);
		conn_protocol_error(c, EENPLAN__V1__CODE__RESOURCE_EXHAUSTED,
		    "out of memory");
		return 0;
	}
	cr->cr_conn = c;
	memset(&sink, 0, sizeof(sink));
	sink.cs_send = conn_call_send;
	sink.cs_push = conn_call_push;
	sink.cs_pending = conn_call_pending;
	sink.cs_live = conn_call_live;
	sink.cs_arg = cr;
	sink.cs_owner = c;
	sink.cs_max_frame = conf->c_max_frame;
	if ((ca = call_new(&c->c_worker->w_env, &sink, &c->c_who,
	    conf->c_request_memory)) == NULL) {
		free(cr);
		evbuffer_drain(in, WIRE_HDR_LEN + len);
		conn_protocol_error(c, EENPLAN__V1__CODE__RESOURCE_EXHAUSTED,
		    "out of memory");
		return 0;
	}
	req = eenplan__v1__request__unpack(&ca->ca_budget.wb_alloc, len,
	    body + WIRE_HDR_LEN);
	evbuffer_drain(in, WIRE_HDR_LEN + len);
	cr->cr_mem = ca->ca_budget.wb_used;
	conn_req_account(c, cr, 1);
	if (req == NULL) {
		/* Answer (id 0, the id is unknown) and close: the stream is suspect. */
		if (ca->ca_budget.wb_exhausted)
			call_status(ca, EENPLAN__V1__CODE__RESOURCE_EXHAUSTED,
			    "request decodes to more than the %zu bytes allowed",
			    conf->c_request_memory);
		else
			call_status(ca, EENPLAN__V1__CODE__INVALID_ARGUMENT,
			    "frame is not a valid Request message");
		log_rl(&rl_bad_frame, LOGL_WARN, "bad frame; closing",
		    "conn=%llu peer=%s org=%s subject=%s reason=%s",
		    (unsigned long long)c->c_id, c->c_who.pr_peer,
		    log_q(c->c_who.pr_org), log_q(c->c_who.pr_subject),
		    log_q(ca->ca_msg));
		conn_reserve(c, cr, small);
		conn_ref(c);
		c->c_inflight++;
		call_reply(ca);
		conn_close_after_flush(c);
		return 0;
	}
	if (req->id != 0 && conn_req_find(c, req->id) != NULL) {
		/* The one in flight goes on; this one is refused. */
		(void)snprintf(why, sizeof(why), "request id %llu is already in "
		    "flight on this connection; ids must be unique among a "
		    "connection's requests in flight",
		    (unsigned long long)req->id);
		ca->ca_req = req;
		ca->ca_id = req->id;
		conn_reserve(c, cr, small);
		conn_ref(c);
		c->c_inflight++;
		dispatch_bad_frame(ca, why);
		return 0;
	}
	resv = conn_answer_reserve(conf, req->body_case);
	if (resv > small && conn_gate(c, resv) != CONN_GATE_OPEN) {
		c->c_parked = ca;
		c->c_parked_req = req;
		c->c_parked_mem = cr->cr_mem;
		c->c_parked_resv = resv;
		return 1;
	}
	conn_dispatch(c, ca, req, resv);
	return 0;
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	const struct config *conf = conn_conf(c);
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t small = conn_small_answer(conf);
	uint8_t hdr[WIRE_HDR_LEN];
	const uint8_t *body;
	uint32_t len;
	size_t avail;
	int n;

	if (c->c_state != CONN_READY)
		return;
	/* A frame can close the connection; keep the struct until we are done. */
	conn_ref(c);
	if (conn_unpark(c) != 0) {
		conn_update_reading(c);
		goto done;
	}
	for (n = 0; n < CONN_FRAMES_PER_TURN; n++) {
		if (c->c_state != CONN_READY || c->c_read_paused)
			goto done;
		avail = evbuffer_get_length(in);
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ev_ssize_t)sizeof(hdr))
			goto done;
		/* The length is checked before the body is buffered. */
		switch (wire_frame_decode(hdr, sizeof(hdr), conf->c_max_frame,
		    &body, &len)) {
		case WIRE_FRAME_EMPTY:
			conn_protocol_error(c, EENPLAN__V1__CODE__INVALID_ARGUMENT,
			    "empty frame");
			goto done;
		case WIRE_FRAME_TOO_LARGE:
			conn_protocol_error(c, EENPLAN__V1__CODE__RESOURCE_EXHAUSTED,
			    "frame of %u bytes is over the limit of %u bytes",
			    len, conf->c_max_frame);
			goto done;
		case WIRE_FRAME_NEED_MORE:
		case WIRE_FRAME_OK:
			break;
		default:
			goto done;
		}
		if (avail - WIRE_HDR_LEN < (size_t)len)
			goto done;	/* the body is still coming */
		/*
		 * Requests wait for the writer across loop turns: the limits
		 * on requests in flight and on memory must hold before a frame
		 * is taken, or one client could queue thousands behind one
		 * fsync.
		 */
		if (conn_gate(c, small) != CONN_GATE_OPEN) {
			conn_update_reading(c);
			goto done;
		}
		if (conn_handle_frame(c, in, len) != 0) {
			conn_update_reading(c);
			goto done;
		}
		conn_update_reading(c);
	}
	/* More may be waiting: come back after other connections had a turn. */
	if (c->c_state == CONN_READY && !c->c_read_paused &&
	    evbuffer_get_length(in) >= WIRE_HDR_LEN)
		bufferevent_trigger(bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
done:
	conn_frame_clock(c);
	conn_unref(c);
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->c_state == CONN_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		conn_close(c);
		return;
	}
	conn_update_reading(c);
}

/*
 * The frame deadline (a begun frame not whole in time) or, for a closing
 * connection, the end of its grace to take its last answer.
 */
static void
conn_frame_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	const struct config *conf = conn_conf(c);

	(void)fd;
	(void)what;
	c->c_frame_armed = 0;
	if (c->c_state == CONN_CLOSING) {
		log_info("conn %llu (%s): its last answer not taken within %d s; "
		    "closing", (unsigned long long)c->c_id, c->c_who.pr_peer,
		    CONN_CLOSE_GRACE);
		conn_close(c);
		return;
	}
	if (c->c_state != CONN_READY)
		return;
	conn_protocol_error(c, EENPLAN__V1__CODE__DEADLINE_EXCEEDED,
	    "a frame was not whole within frame_timeout (%u s); %zu bytes "
	    "of it came", conf->c_frame_timeout,
	    evbuffer_get_length(bufferevent_get_input(c->c_bev)));
}

/* --------------------------------------------------------- handshake */

static void
conn_log_connected(const struct conn *c, SSL *ssl)
{
	char teams[PRINCIPAL_TEAMS_MAX * PRINCIPAL_TEAM_MAX + 16];
	size_t off = 0;
	int i;

	teams[0] = '\0';
	for (i = 0; i < c->c_who.pr_nteams; i++)
		off += (size_t)snprintf(teams + off, sizeof(teams) - off,
		    "%s%s", i == 0 ? "" : ",", c->c_who.pr_teams[i]);
	log_kv(LOGL_DEBUG, "connected", "conn=%llu peer=%s org=%s subject=%s "
	    "role=%s teams=%s resumed=%s", (unsigned long long)c->c_id,
	    c->c_who.pr_peer, log_q(c->c_who.pr_org),
	    log_q(c->c_who.pr_subject), wire_role_name(c->c_who.pr_role),
	    log_q(teams), SSL_session_reused(ssl) ? "yes" : "no");
}

static void
conn_identified(struct conn *c)
{
	struct server *srv = conn_srv(c);
	const struct config *conf = srv->s_conf;
	struct timeval idle = { (time_t)conf->c_idle_timeout, 0 };
	SSL *ssl = bufferevent_openssl_get_ssl(c->c_bev);
	struct evbuffer *in = bufferevent_get_input(c->c_bev);
	struct evbuffer *out = bufferevent_get_output(c->c_bev);
	struct tls_server *ts;
	char err[256];
	uint64_t gen;
	uint32_t n;
	int rc;

	ts = server_tls_get(srv, &gen);
	rc = tls_identify(ts, ssl, conf, &c->c_who, err, sizeof(err));
	server_tls_put(srv, ts);
	/* The handshake is over: its context's callbacks will not run again. */
	server_tls_put(srv, c->c_hs_tls);
	c->c_hs_tls = NULL;
	if (rc != 0) {
		metrics_handshake(METRICS_HS_IDENTITY);
		log_rl(&rl_identity, LOGL_WARN, "connection refused",
		    "conn=%llu peer=%s reason=identity error=%s",
		    (unsigned long long)c->c_id, c->c_who.pr_peer, log_q(err));
		conn_close(c);
		return;
	}
	metrics_handshake(METRICS_HS_OK);
	c->c_tls_gen = gen;
	event_free(c->c_hs_timer);
	c->c_hs_timer = NULL;
	c->c_state = CONN_READY;
	/* Count what its buffers hold from now on (see the top of this file). */
	c->c_in_cb = evbuffer_add_cb(in, conn_inbuf_cb, c);
	c->c_out_cb = evbuffer_add_cb(out, conn_outbuf_cb, c);
	if (c->c_in_cb == NULL || c->c_out_cb == NULL) {
		log_warnx("conn %llu: out of memory", (unsigned long long)c->c_id);
		conn_close(c);
		return;
	}
	c->c_in = evbuffer_get_length(in);
	c->c_out = evbuffer_get_length(out);
	server_mem_change(srv, (int64_t)(c->c_in + c->c_out), 0);
	/* One certificate cannot hold all of max_connections. */
	if (server_principal_hold(srv, &c->c_who, &n) != 0) {
		conn_protocol_error(c, EENPLAN__V1__CODE__RESOURCE_EXHAUSTED,
		    "%u connections of %s/%s are open, the limit per person or "
		    "system (max_connections_per_principal)", n,
		    c->c_who.pr_org, c->c_who.pr_subject);
		return;
	}
	c->c_counted = 1;
	conn_log_connected(c, ssl);
	bufferevent_set_timeouts(c->c_bev, &idle, &idle);
	/* A max-size frame must fit under the high watermark (STYLE rule 7). */
	bufferevent_setwatermark(c->c_bev, EV_READ, 0,
	    (size_t)conf->c_max_frame + WIRE_HDR_LEN + 16384);
	/* Reading resumes when unsent answers fall to half the cap. */
	bufferevent_setwatermark(c->c_bev, EV_WRITE,
	    conf->c_conn_output_max / 2, 0);
	bufferevent_enable(c->c_bev, EV_READ | EV_WRITE);
	conn_readcb(c->c_bev, c);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	unsigned long e;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->c_state == CONN_HANDSHAKE)
			conn_identified(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->c_state == CONN_HANDSHAKE) {
			metrics_handshake(METRICS_HS_TIMEOUT);
			log_rl(&rl_hs_timeout, LOGL_INFO, "connection refused",
			    "conn=%llu peer=%s reason=handshake_timeout",
			    (unsigned long long)c->c_id, c->c_who.pr_peer);
		} else
			log_kv(LOGL_DEBUG, (what & BEV_EVENT_WRITING) ?
			    "write timeout (answers not read); closing" :
			    "idle timeout; closing", "conn=%llu peer=%s",
			    (unsigned long long)c->c_id, c->c_who.pr_peer);
	}
	else if (what & BEV_EVENT_ERROR) {
		e = conn_log_ssl_errors(c, c->c_state == CONN_HANDSHAKE ?
		    "handshake failed" : "connection error");
		if (c->c_state == CONN_HANDSHAKE)
			metrics_handshake(conn_hs_outcome(c, e));
	} else if (what & BEV_EVENT_EOF) {
		if (c->c_state == CONN_HANDSHAKE)
			metrics_handshake(METRICS_HS_CLOSED);
		if (evbuffer_get_length(bufferevent_get_input(c->c_bev)) > 0)
			log_rl(&rl_bad_frame, LOGL_INFO,
			    "closed in the middle of a frame",
			    "conn=%llu peer=%s", (unsigned long long)c->c_id,
			    c->c_who.pr_peer);
		else
			log_kv(LOGL_DEBUG, "closed by peer", "conn=%llu",
			    (unsigned long long)c->c_id);
	}
	/* Drain whatever the TLS layer left, so it cannot leak into another conn. */
	while (bufferevent_get_openssl_error(c->c_bev) != 0)
		;
	conn_close(c);
}

/*
 * The bufferevent's timeouts restart with every byte; this deadline does
 * not, so a peer sending a byte now and then cannot hold a handshake open.
 */
static void
conn_handshake_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	metrics_handshake(METRICS_HS_TIMEOUT);
	log_rl(&rl_hs_timeout, LOGL_INFO, "connection refused",
	    "conn=%llu peer=%s reason=handshake_timeout timeout_s=%u",
	    (unsigned long long)c->c_id, c->c_who.pr_peer,
	    conn_conf(c)->c_handshake_timeout);
	conn_close(c);
}

/* Undoes what conn_accept had done when it cannot go on. */
static void
conn_accept_fail(struct server *srv, struct conn *c, int fd)
{
	free(c);
	close(fd);
	__atomic_sub_fetch(&srv->s_nconns, 1, __ATOMIC_RELAXED);
}

void
conn_accept(struct worker *w, int fd, const char *peer)
{
	struct server *srv = w->w_srv;
	const struct config *conf = srv->s_conf;
	struct timeval hs = { (time_t)conf->c_handshake_timeout, 0 };
	struct tls_server *ts;
	struct conn *c;
	SSL *ssl;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		conn_accept_fail(srv, NULL, fd);
		return;
	}
	/*
	 * The context stays held until the handshake is over: its ticket
	 * callbacks use it, and a reload may replace it meanwhile.
	 */
	ts = server_tls_get(srv, NULL);
	if ((ssl = SSL_new(tls_server_ctx(ts))) == NULL) {
		server_tls_put(srv, ts);
		log_kv(LOGL_WARN, "SSL_new failed", NULL);
		ERR_clear_error();
		conn_accept_fail(srv, c, fd);
		return;
	}
	c->c_bev = bufferevent_openssl_socket_new(w->w_base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->c_bev == NULL) {
		/* The SSL is already freed (STYLE rule 3); the fd is not. */
		server_tls_put(srv, ts);
		log_kv(LOGL_WARN, "bufferevent_openssl_socket_new failed",
		    NULL);
		conn_accept_fail(srv, c, fd);
		return;
	}
	c->c_hs_timer = evtimer_new(w->w_base, conn_handshake_deadline, c);
	if (c->c_hs_timer == NULL) {
		bufferevent_free(c->c_bev);	/* closes fd */
		server_tls_put(srv, ts);
		free(c);
		__atomic_sub_fetch(&srv->s_nconns, 1, __ATOMIC_RELAXED);
		return;
	}
	c->c_hs_tls = ts;
	c->c_worker = w;
	c->c_id = __atomic_add_fetch(&conn_ids, 1, __ATOMIC_RELAXED);
	c->c_state = CONN_HANDSHAKE;
	c->c_refs = 1;
	LIST_INIT(&c->c_reqs);
	snprintf(c->c_who.pr_peer, sizeof(c->c_who.pr_peer), "%s", peer);
	TAILQ_INSERT_TAIL(&w->w_conns, c, c_entry);
	w->w_nconns++;
	bufferevent_setcb(c->c_bev, conn_readcb, conn_writecb, conn_eventcb, c);
	/* The handshake must finish within the handshake timeout. */
	bufferevent_set_timeouts(c->c_bev, &hs, &hs);
	evtimer_add(c->c_hs_timer, &hs);
	bufferevent_enable(c->c_bev, EV_READ | EV_WRITE);
}

void
conn_close_all(struct worker *w)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&w->w_conns)) != NULL)
		conn_close(c);
}

/* 1 when a and b are the same person or system in the same role. */
static int
conn_same_principal(const struct principal *a, const struct principal *b)
{
	return strcmp(a->pr_org, b->pr_org) == 0 &&
	    strcmp(a->pr_subject, b->pr_subject) == 0 &&
	    a->pr_role == b->pr_role;
}

void
conn_reverify(struct worker *w)
{
	struct server *srv = w->w_srv;
	struct tls_server *ts;
	struct principal pr;
	struct conn *c, *next;
	char err[256];
	uint64_t gen;
	int n = 0, rc;

	ts = server_tls_get(srv, &gen);
	for (c = TAILQ_FIRST(&w->w_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_entry);
		if ((c->c_state != CONN_READY && c->c_state != CONN_CLOSING) ||
		    c->c_tls_gen == gen)
			continue;
		if (n++ == CONN_REVERIFY_PER_TURN) {
			/* The others after the loop had other work. */
			event_active(w->w_reverify_ev, EV_READ, 0);
			break;
		}
		c->c_tls_gen = gen;
		memset(&pr, 0, sizeof(pr));
		rc = tls_reverify(ts, bufferevent_openssl_get_ssl(c->c_bev),
		    srv->s_conf, &pr, err, sizeof(err));
		if (rc == 0 && conn_same_principal(&pr, &c->c_who))
			continue;
		if (rc == 0)
			(void)snprintf(err, sizeof(err), "its certificate now "
			    "names %s/%s", pr.pr_org, pr.pr_subject);
		log_warnx("conn %llu (%s %s/%s): refused after the reload: %s; "
		    "closing, its requests in flight unanswered and its "
		    "writes not carried out", (unsigned long long)c->c_id,
		    c->c_who.pr_peer, c->c_who.pr_org, c->c_who.pr_subject,
		    err);
		__atomic_store_n(&c->c_cut, 1, __ATOMIC_RELEASE);
		conn_close(c);
	}
	server_tls_put(srv, ts);
}
