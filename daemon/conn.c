/*
 * conn: one client connection — TLS handshake and identity, framing with its
 * limits, backpressure, timeouts and answers (see conn.h).
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
/* Output queued beyond this stops reading until the peer catches up. */
#define CONN_OUTPUT_CAP		(4u * 1024 * 1024)

static uint64_t conn_ids;	/* atomic */

static void	conn_readcb(struct bufferevent *, void *);
static void	conn_writecb(struct bufferevent *, void *);
static void	conn_eventcb(struct bufferevent *, short, void *);

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

/* Frees the bufferevent now; the struct lives while requests hold it. */
static void
conn_close(struct conn *c)
{
	struct worker *w = c->c_worker;
	SSL *ssl;

	if (c->c_state == CONN_CLOSED)
		return;
	if (c->c_bev != NULL) {
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
	c->c_state = CONN_CLOSED;
	TAILQ_REMOVE(&w->w_conns, c, c_entry);
	w->w_nconns--;
	__atomic_sub_fetch(&w->w_srv->s_nconns, 1, __ATOMIC_RELAXED);
	conn_unref(c);
}

/* Sends what is queued, then closes: for a last error answer. */
static void
conn_close_after_flush(struct conn *c)
{
	if (c->c_state == CONN_CLOSED)
		return;
	c->c_state = CONN_CLOSING;
	bufferevent_disable(c->c_bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->c_bev)) == 0)
		conn_close(c);
}

static void
conn_update_reading(struct conn *c)
{
	const struct config *conf = c->c_worker->w_srv->s_conf;
	int pause;

	if (c->c_state != CONN_READY)
		return;
	pause = c->c_inflight >= conf->c_max_inflight ||
	    evbuffer_get_length(bufferevent_get_output(c->c_bev)) >
	    CONN_OUTPUT_CAP;
	if (pause && !c->c_read_paused) {
		bufferevent_disable(c->c_bev, EV_READ);
		c->c_read_paused = 1;
	} else if (!pause && c->c_read_paused) {
		c->c_read_paused = 0;
		bufferevent_enable(c->c_bev, EV_READ);
		/* Frames may already sit in the input buffer: look again. */
		bufferevent_trigger(c->c_bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	}
}

static int
conn_send_frame(struct conn *c, EpResponse *resp)
{
	uint32_t max = c->c_worker->w_srv->s_conf->c_max_frame;
	struct evbuffer *out = bufferevent_get_output(c->c_bev);
	uint8_t *frame;
	size_t len;
	int rc;

	if ((frame = wire_frame_pack(&resp->base, max, &len)) == NULL)
		return -1;
	rc = evbuffer_add(out, frame, len);
	free(frame);
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
 * after the connection closed (the answer is dropped).
 */
static void
conn_call_send(void *arg, uint8_t *buf, size_t off, size_t len)
{
	struct conn *c = arg;
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
		}
	} else
		free(buf);
	c->c_inflight--;
	if (c->c_state == CONN_READY)
		conn_update_reading(c);
	conn_unref(c);
}

/* One more answer of a call that goes on (a subscription's events). */
static void
conn_call_push(void *arg, uint8_t *buf, size_t off, size_t len)
{
	struct conn *c = arg;
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
		log_warnx("conn %llu: cannot queue an event; closing",
		    (unsigned long long)c->c_id);
		conn_close(c);
		return;
	}
	conn_update_reading(c);
}

static size_t
conn_call_pending(void *arg)
{
	struct conn *c = arg;

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

/* One whole frame of len bytes is at the front of the input. */
static void
conn_handle_frame(struct conn *c, struct evbuffer *in, uint32_t len)
{
	const struct config *conf = c->c_worker->w_srv->s_conf;
	struct call_sink sink;
	const uint8_t *body;
	struct call *ca;
	EpRequest *req;

	body = evbuffer_pullup(in, (ev_ssize_t)(WIRE_HDR_LEN + len));
	if (body == NULL) {
		conn_protocol_error(c, EENPLAN__V1__CODE__INTERNAL,
		    "out of memory reading a frame");
		return;
	}
	sink.cs_send = conn_call_send;
	sink.cs_push = conn_call_push;
	sink.cs_pending = conn_call_pending;
	sink.cs_arg = c;
	sink.cs_max_frame = conf->c_max_frame;
	if ((ca = call_new(&c->c_worker->w_env, &sink, &c->c_who,
	    conf->c_request_memory)) == NULL) {
		evbuffer_drain(in, WIRE_HDR_LEN + len);
		conn_protocol_error(c, EENPLAN__V1__CODE__RESOURCE_EXHAUSTED,
		    "out of memory");
		return;
	}
	/* The call holds the connection until its answer is sent. */
	conn_ref(c);
	c->c_inflight++;
	req = eenplan__v1__request__unpack(&ca->ca_budget.wb_alloc, len,
	    body + WIRE_HDR_LEN);
	evbuffer_drain(in, WIRE_HDR_LEN + len);
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
		call_reply(ca);
		conn_close_after_flush(c);
		return;
	}
	dispatch_request(ca, req);
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	const struct config *conf = c->c_worker->w_srv->s_conf;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[WIRE_HDR_LEN];
	const uint8_t *body;
	uint32_t len;
	size_t avail;
	int n;

	if (c->c_state != CONN_READY)
		return;
	/* A frame can close the connection; keep the struct until we are done. */
	conn_ref(c);
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
		 * Requests wait for the writer across loop turns: the limit on
		 * requests in flight must hold before a frame is taken, or one
		 * client could queue thousands behind one fsync.
		 */
		if (c->c_inflight >= conf->c_max_inflight) {
			conn_update_reading(c);
			goto done;
		}
		conn_handle_frame(c, in, len);
		conn_update_reading(c);
	}
	/* More may be waiting: come back after other connections had a turn. */
	if (c->c_state == CONN_READY && !c->c_read_paused &&
	    evbuffer_get_length(in) >= WIRE_HDR_LEN)
		bufferevent_trigger(bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
done:
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

static void
conn_identified(struct conn *c)
{
	struct server *srv = c->c_worker->w_srv;
	const struct config *conf = srv->s_conf;
	struct timeval idle = { (time_t)conf->c_idle_timeout, 0 };
	struct tls_server *ts;
	char err[256];
	int rc;

	ts = server_tls_get(srv);
	rc = tls_identify(ts, bufferevent_openssl_get_ssl(c->c_bev), conf,
	    &c->c_who, err, sizeof(err));
	server_tls_put(srv, ts);
	if (rc != 0) {
		metrics_handshake(METRICS_HS_IDENTITY);
		log_rl(&rl_identity, LOGL_WARN, "connection refused",
		    "conn=%llu peer=%s reason=identity error=%s",
		    (unsigned long long)c->c_id, c->c_who.pr_peer, log_q(err));
		conn_close(c);
		return;
	}
	metrics_handshake(METRICS_HS_OK);
	log_kv(LOGL_DEBUG, "connected", "conn=%llu peer=%s org=%s subject=%s "
	    "role=%s", (unsigned long long)c->c_id, c->c_who.pr_peer,
	    log_q(c->c_who.pr_org), log_q(c->c_who.pr_subject),
	    wire_role_name(c->c_who.pr_role));
	c->c_state = CONN_READY;
	event_free(c->c_hs_timer);
	c->c_hs_timer = NULL;
	bufferevent_set_timeouts(c->c_bev, &idle, &idle);
	/* A max-size frame must fit under the high watermark (STYLE rule 7). */
	bufferevent_setwatermark(c->c_bev, EV_READ, 0,
	    (size_t)conf->c_max_frame + WIRE_HDR_LEN + 16384);
	bufferevent_setwatermark(c->c_bev, EV_WRITE, CONN_OUTPUT_CAP / 2, 0);
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
			log_kv(LOGL_DEBUG, "idle timeout; closing",
			    "conn=%llu peer=%s", (unsigned long long)c->c_id,
			    c->c_who.pr_peer);
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
	    c->c_worker->w_srv->s_conf->c_handshake_timeout);
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
	ts = server_tls_get(srv);
	ssl = SSL_new(tls_server_ctx(ts));
	server_tls_put(srv, ts);
	if (ssl == NULL) {
		log_kv(LOGL_WARN, "SSL_new failed", NULL);
		ERR_clear_error();
		conn_accept_fail(srv, c, fd);
		return;
	}
	c->c_bev = bufferevent_openssl_socket_new(w->w_base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->c_bev == NULL) {
		/* The SSL is already freed (STYLE rule 3); the fd is not. */
		log_kv(LOGL_WARN, "bufferevent_openssl_socket_new failed",
		    NULL);
		conn_accept_fail(srv, c, fd);
		return;
	}
	c->c_hs_timer = evtimer_new(w->w_base, conn_handshake_deadline, c);
	if (c->c_hs_timer == NULL) {
		bufferevent_free(c->c_bev);	/* closes fd */
		free(c);
		__atomic_sub_fetch(&srv->s_nconns, 1, __ATOMIC_RELAXED);
		return;
	}
	c->c_worker = w;
	c->c_id = __atomic_add_fetch(&conn_ids, 1, __ATOMIC_RELAXED);
	c->c_state = CONN_HANDSHAKE;
	c->c_refs = 1;
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
