/*
 * eenplan_client: blocking client of eenpland (see eenplan_client.h).
 *
 * The socket is non-blocking; every wait is a poll() with a deadline. Frames
 * read ahead of the caller (answers to other requests, subscription events)
 * are kept raw in a queue: only the id is read from them, the whole message
 * is unpacked when it is handed out, each into its own bounded arena.
 * The transport is TLS, or a plain socket (ep_client_from_fd) for tests.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "eenplan_client.h"

#define RBUF_INITIAL	(16u * 1024u)
#define QUEUE_MAX_BYTES	(64u * 1024u * 1024u)
/* First arena per response: most answers fit; else retry with the budget. */
#define ARENA_FIRST(len) ((size_t)(len) * 64u + 64u * 1024u)

struct ep_frame {
	struct ep_frame		*ef_next;
	uint64_t		 ef_id;
	uint32_t		 ef_len;
	uint8_t			 ef_body[];
};

/* A response handed to the caller and the memory it lives in. */
struct ep_box {
	struct ep_box		*eb_next;
	EpResponse		*eb_resp;
	int			 eb_has_arena;
	struct wire_arena	 eb_arena;
};

struct ep_client {
	int			 cl_fd;
	SSL_CTX			*cl_ctx;
	SSL			*cl_ssl;	/* NULL: plain socket */
	uint32_t		 cl_max_frame;
	size_t			 cl_budget;
	int			 cl_timeout_ms;
	uint64_t		 cl_next_id;
	uint64_t		 cl_pending[EP_CLIENT_MAX_INFLIGHT];
	size_t			 cl_npending;
	uint64_t		 cl_subs[EP_CLIENT_MAX_SUBS];
	size_t			 cl_nsubs;
	struct ep_frame		*cl_qhead;
	struct ep_frame		**cl_qtail;
	size_t			 cl_qcount;
	size_t			 cl_qbytes;
	struct ep_box		*cl_boxes;
	uint8_t			*cl_rbuf;
	size_t			 cl_rcap;
	size_t			 cl_rlen;
	int			 cl_got_frame;	/* the server has answered at least once */
	int			 cl_broken;
	char			 cl_broken_msg[256];
};

enum io_rc { IO_OK, IO_EOF, IO_WAIT, IO_ERR };

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Remembers why the connection is unusable, and stops all I/O on it. */
static void
client_break(struct ep_client *cl, const char *msg)
{
	if (cl->cl_broken)
		return;
	cl->cl_broken = 1;
	snprintf(cl->cl_broken_msg, sizeof(cl->cl_broken_msg), "%s", msg);
	if (cl->cl_fd != -1)
		shutdown(cl->cl_fd, SHUT_RDWR);
}

static int
client_fail(struct ep_client *cl, char *err, size_t errlen, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_break(cl, msg);
	seterr(err, errlen, "%s", msg);
	return -1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
deadline_in(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* poll() timeout left until deadline (-1: none); 0 once it has passed. */
static int
ms_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > 60000 ? 60000 : (int)left;
}

/* 1 ready, 0 deadline passed, -1 error (errno). */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int n, left;

	for (;;) {
		left = ms_left(deadline);
		if (deadline >= 0 && left == 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left);
		if (n > 0)
			return 1;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

/* ------------------------------------------------------------ TLS errors */

static const char *
alert_text(int alert)
{
	switch (alert) {
	case 42: return "bad certificate";
	case 43: return "unsupported certificate";
	case 44: return "certificate revoked";
	case 45: return "certificate expired";
	case 46: return "certificate unknown";
	case 48: return "unknown ca";
	case 49: return "access denied";
	case 116: return "certificate required";
	default: return NULL;
	}
}

/*
 * Words for a person about what went wrong in TLS. A fatal alert from the
 * server about our certificate is the common case; with TLS 1.3 it only shows
 * at our first read after the handshake.
 */
static void
tls_explain(SSL *ssl, int sslerr, int saved_errno, int got_frame, char *msg,
    size_t len)
{
	unsigned long e, last = 0;
	const char *what;
	long vr;
	int reason, alert;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (sslerr == SSL_ERROR_SYSCALL && last == 0) {
		if (saved_errno == 0 || saved_errno == ECONNRESET ||
		    saved_errno == EPIPE) {
			snprintf(msg, len, "the server closed the connection%s%s",
			    got_frame ? "" : " before answering (it may have "
			    "refused our certificate)", saved_errno ? ": " : "");
			if (saved_errno) {
				size_t n = strlen(msg);
				snprintf(msg + n, len - n, "%s",
				    strerror(saved_errno));
			}
		} else
			snprintf(msg, len, "connection error: %s",
			    strerror(saved_errno));
		return;
	}
	if (last == 0) {
		snprintf(msg, len, "TLS error (%d)", sslerr);
		return;
	}
	reason = ERR_GET_REASON(last);
	if (ERR_GET_LIB(last) == ERR_LIB_SSL &&
	    reason >= SSL_AD_REASON_OFFSET &&
	    reason < SSL_AD_REASON_OFFSET + 256) {
		alert = reason - SSL_AD_REASON_OFFSET;
		if ((what = alert_text(alert)) != NULL) {
			snprintf(msg, len, "the server refused our certificate "
			    "(%s)", what);
			return;
		}
		if (alert == 120) {	/* no_application_protocol */
			snprintf(msg, len, "the server does not speak %s "
			    "(ALPN refused)", WIRE_ALPN);
			return;
		}
		snprintf(msg, len, "the server ended the TLS session: %s",
		    SSL_alert_desc_string_long(alert));
		return;
	}
	if (ERR_GET_LIB(last) == ERR_LIB_SSL &&
	    reason == SSL_R_CERTIFICATE_VERIFY_FAILED && ssl != NULL) {
		vr = SSL_get_verify_result(ssl);
		if (vr == X509_V_ERR_HOSTNAME_MISMATCH ||
		    vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
			snprintf(msg, len, "the server's certificate is not "
			    "issued for the address we connected to");
		else
			snprintf(msg, len, "cannot verify the server's "
			    "certificate: %s", X509_verify_cert_error_string(vr));
		return;
	}
	snprintf(msg, len, "TLS error: %s", ERR_reason_error_string(last) ?
	    ERR_reason_error_string(last) : "unknown");
}

/*
 * OpenSSL writes to the socket with write(2): a peer that has gone raises
 * SIGPIPE, which a library must not let kill its caller. Block it around our
 * writes and swallow one that we caused.
 */
struct sigpipe_guard {
	sigset_t	sg_old;
	int		sg_was_pending;
};

static void
sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pend);
	sigpending(&pend);
	g->sg_was_pending = sigismember(&pend, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &set, &g->sg_old);
}

static void
sigpipe_restore(struct sigpipe_guard *g)
{
	struct timespec zero = { 0, 0 };
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pend);
	sigpending(&pend);
	if (!g->sg_was_pending && sigismember(&pend, SIGPIPE) == 1)
		(void)sigtimedwait(&set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &g->sg_old, NULL);
}

/* ------------------------------------------------------------ raw I/O */

static enum io_rc
io_read(struct ep_client *cl, uint8_t *buf, size_t len, size_t *done,
    short *want, char *msg, size_t msglen)
{
	ssize_t n;
	int r, e;

	*done = 0;
	if (cl->cl_ssl == NULL) {
		n = recv(cl->cl_fd, buf, len, 0);
		if (n > 0) {
			*done = (size_t)n;
			return IO_OK;
		}
		if (n == 0)
			return IO_EOF;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			*want = POLLIN;
			return IO_WAIT;
		}
		snprintf(msg, msglen, "read: %s", strerror(errno));
		return IO_ERR;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_read(cl->cl_ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (r > 0) {
		*done = (size_t)r;
		return IO_OK;
	}
	e = errno;
	switch ((r = SSL_get_error(cl->cl_ssl, r))) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		return IO_WAIT;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		return IO_WAIT;
	case SSL_ERROR_ZERO_RETURN:
		return IO_EOF;
	case SSL_ERROR_SYSCALL:
		if (e == 0 && ERR_peek_error() == 0)
			return IO_EOF;
		/* FALLTHROUGH */
	default:
		tls_explain(cl->cl_ssl, r, e, cl->cl_got_frame, msg, msglen);
		return IO_ERR;
	}
}

static enum io_rc
io_write(struct ep_client *cl, const uint8_t *buf, size_t len, size_t *done,
    short *want, char *msg, size_t msglen)
{
	struct sigpipe_guard g;
	ssize_t n;
	int r, e;

	*done = 0;
	if (cl->cl_ssl == NULL) {
		n = send(cl->cl_fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0) {
			*done = (size_t)n;
			return IO_OK;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			*want = POLLOUT;
			return IO_WAIT;
		}
		snprintf(msg, msglen, "write: %s", strerror(errno));
		return IO_ERR;
	}
	ERR_clear_error();
	errno = 0;
	sigpipe_block(&g);
	r = SSL_write(cl->cl_ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	e = errno;
	sigpipe_restore(&g);
	if (r > 0) {
		*done = (size_t)r;
		return IO_OK;
	}
	switch ((r = SSL_get_error(cl->cl_ssl, r))) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		return IO_WAIT;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		return IO_WAIT;
	default:
		tls_explain(cl->cl_ssl, r, e, cl->cl_got_frame, msg, msglen);
		return IO_ERR;
	}
}

/* ------------------------------------------------------------ frames */

static int
varint(const uint8_t *p, size_t n, size_t *off, uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; shift < 64; shift += 7) {
		if (*off >= n)
			return -1;
		*v |= (uint64_t)(p[*off] & 0x7f) << shift;
		if ((p[(*off)++] & 0x80) == 0)
			return 0;
	}
	return -1;
}

/*
 * The id (field 1) of a Response, read without unpacking the rest: a frame
 * waiting in the queue costs its bytes and nothing more. As in protobuf, the
 * last occurrence wins. -1 when the message is malformed.
 */
static int
scan_id(const uint8_t *p, size_t n, uint64_t *id)
{
	size_t off = 0;
	uint64_t key, v;

	*id = 0;
	while (off < n) {
		if (varint(p, n, &off, &key) == -1 || (key >> 3) == 0)
			return -1;
		switch (key & 7) {
		case 0:
			if (varint(p, n, &off, &v) == -1)
				return -1;
			if ((key >> 3) == 1)
				*id = v;
			break;
		case 1:
			if (n - off < 8)
				return -1;
			off += 8;
			break;
		case 2:
			if (varint(p, n, &off, &v) == -1 || v > n - off)
				return -1;
			off += (size_t)v;
			break;
		case 5:
			if (n - off < 4)
				return -1;
			off += 4;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

static int
id_in(const uint64_t *set, size_t n, uint64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (set[i] == id)
			return 1;
	return 0;
}

static void
id_remove(uint64_t *set, size_t *n, uint64_t id)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (set[i] == id) {
			set[i] = set[--*n];
			return;
		}
}

/* Keeps one complete frame for a later wait or next_event. */
static int
queue_frame(struct ep_client *cl, const uint8_t *body, uint32_t len, char *err,
    size_t errlen)
{
	struct ep_frame *f;
	uint64_t id;

	if (scan_id(body, len, &id) == -1)
		return client_fail(cl, err, errlen, "protocol error: the server "
		    "sent a frame that is not a protobuf message");
	if (id == 0 || id >= cl->cl_next_id)
		return client_fail(cl, err, errlen, "protocol error: the server "
		    "answered request %llu, which was never sent",
		    (unsigned long long)id);
	cl->cl_got_frame = 1;
	/* An answer nobody waits for (timed out, unsubscribed) is dropped. */
	if (!id_in(cl->cl_pending, cl->cl_npending, id) &&
	    !id_in(cl->cl_subs, cl->cl_nsubs, id))
		return 0;
	if (cl->cl_qcount >= EP_CLIENT_MAX_QUEUED ||
	    cl->cl_qbytes > QUEUE_MAX_BYTES - len)
		return client_fail(cl, err, errlen, "too many unread frames "
		    "from the server (%zu); connection closed", cl->cl_qcount);
	if ((f = malloc(sizeof(*f) + len)) == NULL)
		return client_fail(cl, err, errlen, "out of memory");
	f->ef_next = NULL;
	f->ef_id = id;
	f->ef_len = len;
	memcpy(f->ef_body, body, len);
	*cl->cl_qtail = f;
	cl->cl_qtail = &f->ef_next;
	cl->cl_qcount++;
	cl->cl_qbytes += len;
	return 0;
}

/* Moves every complete frame in the read buffer to the queue. */
static int
drain_rbuf(struct ep_client *cl, char *err, size_t errlen)
{
	const uint8_t *body;
	uint32_t len;
	size_t off = 0;
	uint8_t *nb;

	for (;;) {
		switch (wire_frame_decode(cl->cl_rbuf + off, cl->cl_rlen - off,
		    cl->cl_max_frame, &body, &len)) {
		case WIRE_FRAME_OK:
			if (queue_frame(cl, body, len, err, errlen) == -1)
				return -1;
			off += WIRE_HDR_LEN + (size_t)len;
			continue;
		case WIRE_FRAME_NEED_MORE:
			break;
		case WIRE_FRAME_EMPTY:
			return client_fail(cl, err, errlen, "protocol error: "
			    "the server sent an empty frame");
		case WIRE_FRAME_TOO_LARGE:
			return client_fail(cl, err, errlen, "protocol error: "
			    "the server sent a frame of %lu bytes, over the "
			    "limit of %lu; connection closed",
			    (unsigned long)len, (unsigned long)cl->cl_max_frame);
		default:
			return client_fail(cl, err, errlen, "frame decoder "
			    "failed");
		}
		break;
	}
	if (off > 0) {
		memmove(cl->cl_rbuf, cl->cl_rbuf + off, cl->cl_rlen - off);
		cl->cl_rlen -= off;
	}
	/* A partial frame larger than the buffer: make room for exactly it. */
	if (len > 0 && cl->cl_rcap - WIRE_HDR_LEN < (size_t)len) {
		if ((nb = realloc(cl->cl_rbuf, WIRE_HDR_LEN + (size_t)len)) ==
		    NULL)
			return client_fail(cl, err, errlen, "out of memory");
		cl->cl_rbuf = nb;
		cl->cl_rcap = WIRE_HDR_LEN + (size_t)len;
	}
	return 0;
}

static int
eof_error(struct ep_client *cl, char *err, size_t errlen)
{
	if (cl->cl_rlen > 0)
		return client_fail(cl, err, errlen, "the server closed the "
		    "connection in the middle of a frame (%zu bytes of it "
		    "read)", cl->cl_rlen);
	if (!cl->cl_got_frame && cl->cl_ssl != NULL)
		return client_fail(cl, err, errlen, "the server closed the "
		    "connection before answering (it may have refused our "
		    "certificate)");
	return client_fail(cl, err, errlen, "the server closed the "
	    "connection");
}

/*
 * Reads what has arrived and queues the complete frames. Waits until the
 * deadline only when nothing could be read at once. 0 after a read, 1 when
 * the deadline passed, -1 on error (the connection is then broken).
 */
static int
client_fill(struct ep_client *cl, int64_t deadline, char *err, size_t errlen)
{
	char msg[256];
	short want = POLLIN;
	size_t n;
	int w;

	if (cl->cl_broken) {
		seterr(err, errlen, "%s", cl->cl_broken_msg);
		return -1;
	}
	for (;;) {
		switch (io_read(cl, cl->cl_rbuf + cl->cl_rlen,
		    cl->cl_rcap - cl->cl_rlen, &n, &want, msg, sizeof(msg))) {
		case IO_OK:
			cl->cl_rlen += n;
			return drain_rbuf(cl, err, errlen);
		case IO_EOF:
			return eof_error(cl, err, errlen);
		case IO_WAIT:
			break;
		case IO_ERR:
		default:
			return client_fail(cl, err, errlen, "%s", msg);
		}
		if ((w = wait_fd(cl->cl_fd, want, deadline)) == 0)
			return 1;
		if (w == -1)
			return client_fail(cl, err, errlen, "poll: %s",
			    strerror(errno));
	}
}

/*
 * Writes all of buf. While the server cannot take more, reads what it sends
 * meanwhile, so that neither side waits for the other with full buffers.
 */
static int
write_all(struct ep_client *cl, const uint8_t *buf, size_t len,
    int64_t deadline, char *err, size_t errlen)
{
	struct pollfd pfd;
	char msg[256];
	short want = POLLOUT;
	size_t off = 0, n;
	int r;

	while (off < len) {
		switch (io_write(cl, buf + off, len - off, &n, &want, msg,
		    sizeof(msg))) {
		case IO_OK:
			off += n;
			continue;
		case IO_WAIT:
			break;
		case IO_EOF:
		case IO_ERR:
		default:
			/* The reason (a TLS alert) may wait in the input. */
			if (cl->cl_ssl != NULL &&
			    client_fill(cl, now_ms() + 1000, err, errlen) == -1)
				return -1;
			return client_fail(cl, err, errlen, "%s", msg);
		}
		pfd.fd = cl->cl_fd;
		pfd.events = want | POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, ms_left(deadline));
		if (r == -1 && errno != EINTR)
			return client_fail(cl, err, errlen, "poll: %s",
			    strerror(errno));
		if (r == 0 && deadline >= 0 && ms_left(deadline) == 0)
			return client_fail(cl, err, errlen, "timed out "
			    "sending a request");
		if (r > 0 && (pfd.revents & POLLIN) && want != POLLIN &&
		    client_fill(cl, 0, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ responses */

static int
box_unpack(struct ep_box *b, size_t budget, const struct ep_frame *f)
{
	size_t size;

	if (budget == 0) {
		b->eb_resp = eenplan__v1__response__unpack(NULL, f->ef_len,
		    f->ef_body);
		return b->eb_resp ? 0 : -1;
	}
	size = ARENA_FIRST(f->ef_len);
	if (size > budget)
		size = budget;
	for (;;) {
		if (wire_arena_init(&b->eb_arena, size) == -1)
			return -2;
		b->eb_has_arena = 1;
		b->eb_resp = eenplan__v1__response__unpack(
		    &b->eb_arena.wa_alloc, f->ef_len, f->ef_body);
		if (b->eb_resp != NULL)
			return 0;
		if (!b->eb_arena.wa_exhausted)
			return -1;
		wire_arena_free(&b->eb_arena);
		b->eb_has_arena = 0;
		if (size == budget)
			return -3;
		size = budget;
	}
}

/* Unpacks a frame taken off the queue and hands it out; frees the frame. */
static int
deliver(struct ep_client *cl, struct ep_frame *f, EpResponse **resp, char *err,
    size_t errlen)
{
	struct ep_box *b;
	uint64_t id = f->ef_id;
	int rc;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		free(f);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	rc = box_unpack(b, cl->cl_budget, f);
	free(f);
	if (rc == 0 && b->eb_resp->id != id)
		rc = -1;
	if (rc != 0) {
		if (b->eb_resp != NULL && !b->eb_has_arena)
			protobuf_c_message_free_unpacked(&b->eb_resp->base,
			    NULL);
		if (b->eb_has_arena)
			wire_arena_free(&b->eb_arena);
		free(b);
		if (rc == -3)
			seterr(err, errlen, "response %llu needs more than "
			    "the decode budget of %zu bytes",
			    (unsigned long long)id, cl->cl_budget);
		else if (rc == -2)
			seterr(err, errlen, "out of memory");
		else
			seterr(err, errlen, "protocol error: cannot decode "
			    "response %llu", (unsigned long long)id);
		return -1;
	}
	b->eb_next = cl->cl_boxes;
	cl->cl_boxes = b;
	*resp = b->eb_resp;
	return 0;
}

/* Takes the first queued frame whose id is id, or any subscription's if id is 0. */
static struct ep_frame *
queue_take(struct ep_client *cl, uint64_t id)
{
	struct ep_frame **pp, *f;

	for (pp = &cl->cl_qhead; (f = *pp) != NULL; pp = &f->ef_next) {
		if (id != 0 ? f->ef_id != id :
		    !id_in(cl->cl_subs, cl->cl_nsubs, f->ef_id))
			continue;
		*pp = f->ef_next;
		if (cl->cl_qtail == &f->ef_next)
			cl->cl_qtail = pp;
		cl->cl_qcount--;
		cl->cl_qbytes -= f->ef_len;
		f->ef_next = NULL;
		return f;
	}
	return NULL;
}

static void
queue_drop_id(struct ep_client *cl, uint64_t id)
{
	struct ep_frame *f;

	while ((f = queue_take(cl, id)) != NULL)
		free(f);
}

void
ep_client_response_free(struct ep_client *cl, EpResponse *resp)
{
	struct ep_box **pp, *b;

	if (cl == NULL || resp == NULL)
		return;
	for (pp = &cl->cl_boxes; (b = *pp) != NULL; pp = &b->eb_next) {
		if (b->eb_resp != resp)
			continue;
		*pp = b->eb_next;
		if (b->eb_has_arena)
			wire_arena_free(&b->eb_arena);
		else
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		free(b);
		return;
	}
}

/* ------------------------------------------------------------ calls */

int
ep_client_send(struct ep_client *cl, EpRequest *req, uint64_t *id, char *err,
    size_t errlen)
{
	uint8_t *frame;
	size_t len, packed;
	int rc;

	if (cl->cl_broken) {
		seterr(err, errlen, "%s", cl->cl_broken_msg);
		return -1;
	}
	if (cl->cl_npending >= EP_CLIENT_MAX_INFLIGHT) {
		seterr(err, errlen, "too many requests in flight (%d)",
		    EP_CLIENT_MAX_INFLIGHT);
		return -1;
	}
	req->id = cl->cl_next_id;
	if ((frame = wire_frame_pack(&req->base, cl->cl_max_frame, &len)) ==
	    NULL) {
		packed = protobuf_c_message_get_packed_size(&req->base);
		if (packed > cl->cl_max_frame)
			seterr(err, errlen, "request too large (%zu bytes, "
			    "limit %lu)", packed,
			    (unsigned long)cl->cl_max_frame);
		else
			seterr(err, errlen, "out of memory");
		return -1;
	}
	cl->cl_next_id++;
	cl->cl_pending[cl->cl_npending++] = req->id;
	rc = write_all(cl, frame, len, deadline_in(cl->cl_timeout_ms), err,
	    errlen);
	free(frame);
	if (rc == -1)
		return -1;
	if (id != NULL)
		*id = req->id;
	return 0;
}

int
ep_client_wait(struct ep_client *cl, uint64_t id, EpResponse **resp, char *err,
    size_t errlen)
{
	struct ep_frame *f;
	int64_t deadline;
	int r;

	*resp = NULL;
	if (id == 0 || !id_in(cl->cl_pending, cl->cl_npending, id)) {
		seterr(err, errlen, "no request %llu is waiting for an answer",
		    (unsigned long long)id);
		return -1;
	}
	deadline = deadline_in(cl->cl_timeout_ms);
	while ((f = queue_take(cl, id)) == NULL) {
		if ((r = client_fill(cl, deadline, err, errlen)) == -1)
			return -1;
		if (r == 1) {
			/* A late answer is dropped when it comes. */
			id_remove(cl->cl_pending, &cl->cl_npending, id);
			seterr(err, errlen, "no answer from the server within "
			    "%d ms", cl->cl_timeout_ms);
			return -1;
		}
	}
	id_remove(cl->cl_pending, &cl->cl_npending, id);
	return deliver(cl, f, resp, err, errlen);
}

int
ep_client_call(struct ep_client *cl, EpRequest *req, EpResponse **resp,
    char *err, size_t errlen)
{
	uint64_t id;

	*resp = NULL;
	if (ep_client_send(cl, req, &id, err, errlen) == -1)
		return -1;
	return ep_client_wait(cl, id, resp, err, errlen);
}

int
ep_client_subscribe(struct ep_client *cl, uint64_t since_seq, uint64_t *sub_id,
    EpResponse **resp, char *err, size_t errlen)
{
	EpRequest req;
	Eenplan__V1__SubscribeRequest sub;
	uint64_t id;

	*resp = NULL;
	if (cl->cl_nsubs >= EP_CLIENT_MAX_SUBS) {
		seterr(err, errlen, "too many subscriptions (%d)",
		    EP_CLIENT_MAX_SUBS);
		return -1;
	}
	eenplan__v1__request__init(&req);
	eenplan__v1__subscribe_request__init(&sub);
	sub.since_seq = since_seq;
	req.body_case = EENPLAN__V1__REQUEST__BODY_SUBSCRIBE;
	req.subscribe = &sub;
	if (ep_client_send(cl, &req, &id, err, errlen) == -1)
		return -1;
	/* Listed before the confirmation arrives: events may follow at once. */
	cl->cl_subs[cl->cl_nsubs++] = id;
	if (ep_client_wait(cl, id, resp, err, errlen) == -1 ||
	    ep_client_status(*resp) != EENPLAN__V1__CODE__OK) {
		id_remove(cl->cl_subs, &cl->cl_nsubs, id);
		queue_drop_id(cl, id);
		return *resp != NULL ? 0 : -1;
	}
	if (sub_id != NULL)
		*sub_id = id;
	return 0;
}

int
ep_client_unsubscribe(struct ep_client *cl, uint64_t sub_id, EpResponse **resp,
    char *err, size_t errlen)
{
	EpRequest req;
	Eenplan__V1__UnsubscribeRequest un;

	*resp = NULL;
	id_remove(cl->cl_subs, &cl->cl_nsubs, sub_id);
	queue_drop_id(cl, sub_id);
	eenplan__v1__request__init(&req);
	eenplan__v1__unsubscribe_request__init(&un);
	un.subscription_id = sub_id;
	req.body_case = EENPLAN__V1__REQUEST__BODY_UNSUBSCRIBE;
	req.unsubscribe = &un;
	return ep_client_call(cl, &req, resp, err, errlen);
}

int
ep_client_next_event(struct ep_client *cl, int timeout_ms, EpResponse **ev,
    char *err, size_t errlen)
{
	struct ep_frame *f;
	int64_t deadline = deadline_in(timeout_ms);
	uint64_t id;
	int r;

	*ev = NULL;
	while ((f = queue_take(cl, 0)) == NULL) {
		if (cl->cl_nsubs == 0 && timeout_ms < 0) {
			seterr(err, errlen, "no subscription");
			return -1;
		}
		if ((r = client_fill(cl, deadline, err, errlen)) == -1)
			return -1;
		if (r == 1)
			return 0;
	}
	id = f->ef_id;
	if (deliver(cl, f, ev, err, errlen) == -1)
		return -1;
	if (ep_client_status(*ev) != EENPLAN__V1__CODE__OK) {
		id_remove(cl->cl_subs, &cl->cl_nsubs, id);
		queue_drop_id(cl, id);
	}
	return 1;
}

/* ------------------------------------------------------------ setup */

static struct ep_client *
client_new(int fd, char *err, size_t errlen)
{
	struct ep_client *cl;

	if ((cl = calloc(1, sizeof(*cl))) == NULL ||
	    (cl->cl_rbuf = malloc(RBUF_INITIAL)) == NULL) {
		free(cl);
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	cl->cl_fd = fd;
	cl->cl_rcap = RBUF_INITIAL;
	cl->cl_max_frame = WIRE_DEFAULT_MAX_FRAME;
	cl->cl_budget = EP_CLIENT_DEFAULT_BUDGET;
	cl->cl_timeout_ms = EP_CLIENT_DEFAULT_TIMEOUT_MS;
	cl->cl_next_id = 1;
	cl->cl_qtail = &cl->cl_qhead;
	return cl;
}

static int
set_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	return 0;
}

struct ep_client *
ep_client_from_fd(int fd, char *err, size_t errlen)
{
	struct ep_client *cl;

	if (fd < 0 || set_nonblock(fd) == -1) {
		seterr(err, errlen, "bad socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if ((cl = client_new(fd, err, errlen)) == NULL)
		close(fd);
	return cl;
}

void
ep_client_set_max_frame(struct ep_client *cl, uint32_t max)
{
	cl->cl_max_frame = max < 64 ? 64 : max;
}

void
ep_client_set_budget(struct ep_client *cl, size_t budget)
{
	cl->cl_budget = budget;
}

void
ep_client_set_timeout(struct ep_client *cl, int timeout_ms)
{
	cl->cl_timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

int
ep_client_split_hostport(const char *s, const char *defport, char *host,
    size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *h = s, *p = NULL;
	size_t hl, i;

	if (s == NULL || *s == '\0')
		return -1;
	if (*s == '[') {
		if ((colon = strchr(s, ']')) == NULL)
			return -1;
		h = s + 1;
		hl = (size_t)(colon - h);
		if (colon[1] == ':')
			p = colon + 2;
		else if (colon[1] != '\0')
			return -1;
	} else if ((colon = strrchr(s, ':')) != NULL) {
		if (strchr(s, ':') != colon)	/* bare IPv6 needs brackets */
			return -1;
		hl = (size_t)(colon - s);
		p = colon + 1;
	} else
		hl = strlen(s);
	if (p == NULL)
		p = defport;
	if (hl == 0 || hl >= hostlen || p == NULL || *p == '\0' ||
	    strlen(p) >= portlen || strlen(p) > 5)
		return -1;
	for (i = 0; p[i] != '\0'; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	if (strtoul(p, NULL, 10) == 0 || strtoul(p, NULL, 10) > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, portlen, "%s", p);
	return 0;
}

static int
tcp_connect(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int64_t deadline = deadline_in(EP_CLIENT_CONNECT_TIMEOUT_MS);
	socklen_t sl;
	int fd = -1, gai, soerr = 0, w, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0) {
		seterr(err, errlen, "cannot resolve %s: %s", host,
		    gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			soerr = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		soerr = errno;
		if (errno == EINPROGRESS) {
			if ((w = wait_fd(fd, POLLOUT, deadline)) == 1) {
				sl = sizeof(soerr);
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
				    &sl) == 0 && soerr == 0)
					break;
			} else
				soerr = w == 0 ? ETIMEDOUT : errno;
		}
		close(fd);
		fd = -1;
		if (soerr == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		seterr(err, errlen, "cannot connect to %s port %s: %s", host,
		    port, soerr == ETIMEDOUT ? "timed out" : strerror(soerr));
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* A private key others can read is a leaked key: refuse it, as ssh does. */
static int
key_file_ok(const char *key, char *err, size_t errlen)
{
	struct stat st;

	if (stat(key, &st) == -1) {
		seterr(err, errlen, "cannot use key %s: %s", key,
		    strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		seterr(err, errlen, "key %s is readable by others; refusing "
		    "to use it (chmod 600 %s)", key, key);
		return -1;
	}
	return 0;
}

static void
ssl_errstr(char *buf, size_t len)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	snprintf(buf, len, "%s", last && ERR_reason_error_string(last) ?
	    ERR_reason_error_string(last) : "unknown error");
}

static int
readable(const char *what, const char *path, char *err, size_t errlen)
{
	if (access(path, R_OK) == -1) {
		seterr(err, errlen, "cannot read %s %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static SSL_CTX *
tls_context(const char *cert, const char *key, const char *ca, char *err,
    size_t errlen)
{
	static const unsigned char alpn[] = "\x09" WIRE_ALPN;
	char why[160];
	SSL_CTX *ctx;

	if (readable("certificate", cert, err, errlen) == -1 ||
	    readable("key", key, err, errlen) == -1 ||
	    readable("CA certificate", ca, err, errlen) == -1 ||
	    key_file_ok(key, err, errlen) == -1)
		return NULL;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		seterr(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* The daemon (libevent) closes without close_notify; a partial frame at EOF is caught by framing. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
		seterr(err, errlen, "cannot configure TLS");
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		ssl_errstr(why, sizeof(why));
		seterr(err, errlen, "cannot load CA certificate %s: %s", ca,
		    why);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_errstr(why, sizeof(why));
		seterr(err, errlen, "cannot load certificate %s: %s", cert,
		    why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ssl_errstr(why, sizeof(why));
		seterr(err, errlen, "cannot load key %s: %s", key, why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		seterr(err, errlen, "key %s does not belong to certificate %s",
		    key, cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int
is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

static int
tls_handshake(struct ep_client *cl, const char *host, char *err, size_t errlen)
{
	int64_t deadline = deadline_in(EP_CLIENT_CONNECT_TIMEOUT_MS);
	struct sigpipe_guard g;
	const unsigned char *proto;
	unsigned int plen;
	char msg[256];
	int r, e, w;

	if ((cl->cl_ssl = SSL_new(cl->cl_ctx)) == NULL ||
	    SSL_set_fd(cl->cl_ssl, cl->cl_fd) != 1) {
		seterr(err, errlen, "cannot create a TLS session");
		return -1;
	}
	SSL_set_mode(cl->cl_ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (is_ip(host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(cl->cl_ssl),
		    host) != 1) {
			seterr(err, errlen, "bad address %s", host);
			return -1;
		}
	} else if (SSL_set1_host(cl->cl_ssl, host) != 1 ||
	    SSL_set_tlsext_host_name(cl->cl_ssl, host) != 1) {
		seterr(err, errlen, "bad host name %s", host);
		return -1;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		sigpipe_block(&g);
		r = SSL_connect(cl->cl_ssl);
		e = errno;
		sigpipe_restore(&g);
		if (r == 1)
			break;
		switch ((r = SSL_get_error(cl->cl_ssl, r))) {
		case SSL_ERROR_WANT_READ:
			w = wait_fd(cl->cl_fd, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			w = wait_fd(cl->cl_fd, POLLOUT, deadline);
			break;
		default:
			tls_explain(cl->cl_ssl, r, e, 0, msg, sizeof(msg));
			seterr(err, errlen, "TLS handshake with %s failed: %s",
			    host, msg);
			return -1;
		}
		if (w != 1) {
			seterr(err, errlen, "TLS handshake with %s %s", host,
			    w == 0 ? "timed out" : "failed");
			return -1;
		}
	}
	SSL_get0_alpn_selected(cl->cl_ssl, &proto, &plen);
	if (plen != sizeof(WIRE_ALPN) - 1 ||
	    memcmp(proto, WIRE_ALPN, plen) != 0) {
		seterr(err, errlen, "%s does not speak %s (ALPN)", host,
		    WIRE_ALPN);
		return -1;
	}
	return 0;
}

struct ep_client *
ep_client_connect(const char *host, const char *port, const char *cert,
    const char *key, const char *ca, char *err, size_t errlen)
{
	struct ep_client *cl;
	SSL_CTX *ctx;
	int fd;

	if (host == NULL || port == NULL || cert == NULL || key == NULL ||
	    ca == NULL) {
		seterr(err, errlen, "host, port, certificate, key and CA are "
		    "all needed");
		return NULL;
	}
	if ((ctx = tls_context(cert, key, ca, err, errlen)) == NULL)
		return NULL;
	if ((fd = tcp_connect(host, port, err, errlen)) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if ((cl = client_new(fd, err, errlen)) == NULL) {
		close(fd);
		SSL_CTX_free(ctx);
		return NULL;
	}
	cl->cl_ctx = ctx;
	if (tls_handshake(cl, host, err, errlen) == -1) {
		ep_client_close(cl);
		return NULL;
	}
	return cl;
}

void
ep_client_close(struct ep_client *cl)
{
	struct sigpipe_guard g;
	struct ep_frame *f;

	if (cl == NULL)
		return;
	if (cl->cl_ssl != NULL) {
		if (!cl->cl_broken && SSL_is_init_finished(cl->cl_ssl)) {
			sigpipe_block(&g);
			(void)SSL_shutdown(cl->cl_ssl);	/* once: no wait for the reply */
			sigpipe_restore(&g);
		}
		SSL_free(cl->cl_ssl);
	}
	SSL_CTX_free(cl->cl_ctx);
	ERR_clear_error();
	if (cl->cl_fd != -1)
		close(cl->cl_fd);
	while (cl->cl_boxes != NULL)
		ep_client_response_free(cl, cl->cl_boxes->eb_resp);
	while ((f = cl->cl_qhead) != NULL) {
		cl->cl_qhead = f->ef_next;
		free(f);
	}
	free(cl->cl_rbuf);
	free(cl);
}

int
ep_client_status(const EpResponse *resp)
{
	if (resp == NULL || resp->status == NULL)
		return EENPLAN__V1__CODE__OK;
	return (int)resp->status->code;
}

const char *
ep_client_status_message(const EpResponse *resp)
{
	if (resp == NULL || resp->status == NULL ||
	    resp->status->message == NULL)
		return "";
	return resp->status->message;
}
