/*
 * tconn: one non-blocking TCP + TLS client connection on the bench's epoll
 * loop — connect, handshake, buffered reads and writes through OpenSSL —
 * and the in-flight table of a connection. The handshake modes end each
 * connection with close_notify and wait for the server to close, so a
 * handshake counts only once the server has taken our certificate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "bench.h"

#define TCONN_READ_CHUNK	(16u * 1024u + 512u)	/* one TLS record */

/* ---------------------------------------------------------------- buf */

int
buf_reserve(struct buf *b, size_t more)
{
	size_t want, cap;
	uint8_t *p;

	if (b->b_cap - b->b_len >= more)
		return 0;
	if (b->b_off > 0) {
		buf_compact(b);
		if (b->b_cap - b->b_len >= more)
			return 0;
	}
	if (more > b->b_max - b->b_len)
		return -1;
	want = b->b_len + more;
	cap = b->b_cap ? b->b_cap : 4096;
	while (cap < want)
		cap = cap > b->b_max / 2 ? b->b_max : cap * 2;
	if ((p = realloc(b->b_data, cap)) == NULL)
		return -1;
	b->b_data = p;
	b->b_cap = cap;
	return 0;
}

void
buf_compact(struct buf *b)
{
	if (b->b_off == 0)
		return;
	if (b->b_off < b->b_len)
		memmove(b->b_data, b->b_data + b->b_off, b->b_len - b->b_off);
	b->b_len -= b->b_off;
	b->b_off = 0;
}

void
buf_free(struct buf *b)
{
	free(b->b_data);
	b->b_data = NULL;
	b->b_off = b->b_len = b->b_cap = 0;
}

/* ---------------------------------------------------------------- flights */

struct flight *
flight_new(struct slot *s)
{
	struct flight *f = NULL;
	unsigned i, j;

	if (s->s_nfl >= s->s_flcap)
		return NULL;
	if (s->s_b->b_fifo) {
		j = (s->s_fifo_head + s->s_nfl) % s->s_flcap;
		f = &s->s_fl[j];
	} else {
		for (i = 0; i < s->s_flcap; i++) {
			j = (unsigned)((s->s_seq + i) % s->s_flcap);
			if (s->s_fl[j].fl_id == 0) {
				f = &s->s_fl[j];
				break;
			}
		}
		if (f == NULL)
			return NULL;
	}
	s->s_seq++;
	/* Unique among the connection's requests, >= 1; the low bits find it. */
	f->fl_id = (s->s_seq << 12) | j;
	f->fl_stage = 0;
	f->fl_hh[0] = '\0';
	s->s_nfl++;
	return f;
}

struct flight *
flight_by_id(struct slot *s, uint64_t id)
{
	unsigned j = (unsigned)(id & 0xfff);

	if (j >= s->s_flcap || id == 0 || s->s_fl[j].fl_id != id)
		return NULL;
	return &s->s_fl[j];
}

struct flight *
flight_oldest(struct slot *s)
{
	if (s->s_nfl == 0)
		return NULL;
	return &s->s_fl[s->s_fifo_head];
}

void
flight_release(struct slot *s, struct flight *f)
{
	f->fl_id = 0;
	s->s_nfl--;
	if (s->s_b->b_fifo)
		s->s_fifo_head = (s->s_fifo_head + 1) % s->s_flcap;
}

/* ---------------------------------------------------------------- TLS */

const char *
tconn_ssl_err(char *buf, size_t len)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last != 0)
		ERR_error_string_n(last, buf, len);
	else if (errno != 0)
		snprintf(buf, len, "%s", strerror(errno));
	else
		snprintf(buf, len, "connection closed by the server");
	return buf;
}

static int
tconn_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct slot *s = SSL_get_app_data(ssl);

	if (s == NULL)
		return 0;
	if (s->s_sess != NULL)
		SSL_SESSION_free(s->s_sess);
	s->s_sess = sess;	/* keep the reference OpenSSL hands us */
	return 1;
}

SSL_CTX *
tconn_ctx(const struct bench_opts *o, const char *alpn, int resume, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;
	unsigned char proto[64];
	size_t n;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Thousands of idle connections: hold no TLS buffers between records. */
	if (o->o_mode == MODE_IDLE)
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, o->o_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->o_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, o->o_ca, NULL) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, o->o_insecure ? SSL_VERIFY_NONE :
	    SSL_VERIFY_PEER, NULL);
	if (alpn != NULL) {
		n = strlen(alpn);
		if (n == 0 || n >= sizeof(proto))
			goto fail;
		proto[0] = (unsigned char)n;
		memcpy(proto + 1, alpn, n);
		if (SSL_CTX_set_alpn_protos(ctx, proto, (unsigned)n + 1) != 0)
			goto fail;
	}
	if (resume) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, tconn_new_session);
	} else
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
fail:
	tconn_ssl_err(err, errlen);
	SSL_CTX_free(ctx);
	return NULL;
}

void
tconn_watch(struct slot *s, uint32_t events)
{
	struct epoll_event ev;

	if (s->s_fd < 0 || s->s_ev == events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = s;
	if (epoll_ctl(s->s_b->b_ep, s->s_ev == 0 ? EPOLL_CTL_ADD :
	    EPOLL_CTL_MOD, s->s_fd, &ev) == -1) {
		bench_slot_fail(s, "epoll_ctl failed");
		return;
	}
	s->s_ev = events;
}

void
tconn_close(struct slot *s)
{
	if (s->s_ssl != NULL) {
		SSL_free(s->s_ssl);
		s->s_ssl = NULL;
	}
	if (s->s_fd >= 0) {
		close(s->s_fd);	/* also leaves the epoll set */
		s->s_fd = -1;
	}
	s->s_ev = 0;
	s->s_want_write = 0;
	s->s_shut_sent = 0;
	s->s_in.b_off = s->s_in.b_len = 0;
	s->s_out.b_off = s->s_out.b_len = 0;
	s->s_st = SL_IDLE;
}

int
tconn_connect(struct slot *s)
{
	struct bench *b = s->s_b;
	int fd, one = 1, srv = s->s_server;

	s->s_t_conn = bench_now();
	fd = socket(b->b_addr[srv].ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		bench_slot_fail(s, strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->s_fd = fd;
	s->s_ev = 0;
	s->s_st = SL_CONNECTING;
	if (connect(fd, (struct sockaddr *)&b->b_addr[srv], b->b_addrlen[srv])
	    == -1 && errno != EINPROGRESS) {
		bench_slot_fail(s, strerror(errno));
		return -1;
	}
	tconn_watch(s, EPOLLOUT);
	return s->s_st == SL_DEAD ? -1 : 0;
}

static int
tconn_ssl_new(struct slot *s)
{
	struct bench *b = s->s_b;
	const char *host = b->b_o.o_servername ? b->b_o.o_servername :
	    b->b_host[s->s_server];
	unsigned char tmp[16];
	X509_VERIFY_PARAM *vp;

	if ((s->s_ssl = SSL_new(b->b_ctx)) == NULL)
		return -1;
	SSL_set_app_data(s->s_ssl, s);
	if (SSL_set_fd(s->s_ssl, s->s_fd) != 1)
		return -1;
	SSL_set_connect_state(s->s_ssl);
	if (!b->b_o.o_insecure) {
		vp = SSL_get0_param(s->s_ssl);
		if (inet_pton(AF_INET, host, tmp) == 1 ||
		    inet_pton(AF_INET6, host, tmp) == 1) {
			if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1)
				return -1;
		} else {
			if (SSL_set1_host(s->s_ssl, host) != 1 ||
			    SSL_set_tlsext_host_name(s->s_ssl, host) != 1)
				return -1;
		}
	}
	if (s->s_sess != NULL && SSL_set_session(s->s_ssl, s->s_sess) != 1)
		return -1;
	return 0;
}

/* Interest for the socket given what SSL last asked for. */
static void
tconn_want(struct slot *s, int err)
{
	if (err == SSL_ERROR_WANT_WRITE)
		s->s_want_write = 1;
	tconn_watch(s, EPOLLIN | (s->s_want_write ||
	    s->s_out.b_len > s->s_out.b_off ? EPOLLOUT : 0));
}

static void
tconn_fail_ssl(struct slot *s, const char *what, int err)
{
	char e[160], msg[220];

	if (err == SSL_ERROR_ZERO_RETURN)
		snprintf(msg, sizeof(msg), "%s: connection closed by the server",
		    what);
	else
		snprintf(msg, sizeof(msg), "%s: %s", what,
		    tconn_ssl_err(e, sizeof(e)));
	bench_slot_fail(s, msg);
}

int
tconn_flush(struct slot *s)
{
	struct buf *o = &s->s_out;
	int n, err;

	s->s_want_write = 0;
	while (o->b_len > o->b_off) {
		size_t left = o->b_len - o->b_off;

		ERR_clear_error();
		errno = 0;
		n = SSL_write(s->s_ssl, o->b_data + o->b_off,
		    left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0) {
			o->b_off += (size_t)n;
			continue;
		}
		err = SSL_get_error(s->s_ssl, n);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
			tconn_want(s, err);
			return 0;
		}
		tconn_fail_ssl(s, "write", err);
		return -1;
	}
	o->b_off = o->b_len = 0;
	tconn_want(s, 0);
	return 0;
}

/* Hands s_in to the target; -1 when the slot died meanwhile. */
static int
tconn_input(struct slot *s)
{
	if (s->s_in.b_len > s->s_in.b_off && s->s_b->b_t->t_input(s) != 0) {
		if (s->s_st != SL_DEAD)
			bench_slot_fail(s, "protocol error in an answer");
		return -1;
	}
	return s->s_ssl == NULL ? -1 : 0;
}

/* Reads what TLS holds into s_in, handing complete input to the target. */
static int
tconn_read(struct slot *s)
{
	struct buf *in = &s->s_in;
	int n, err;

	for (;;) {
		if (buf_reserve(in, TCONN_READ_CHUNK) != 0) {
			/* At the limit: let the target take what is whole. */
			if (tconn_input(s) != 0)
				return -1;
			buf_compact(in);
			if (in->b_len == in->b_cap && buf_reserve(in, 1) != 0) {
				bench_slot_fail(s, "an answer exceeds the buffer limit");
				return -1;
			}
		}
		ERR_clear_error();
		errno = 0;
		n = SSL_read(s->s_ssl, in->b_data + in->b_len,
		    (int)(in->b_cap - in->b_len > INT32_MAX ? INT32_MAX :
		    in->b_cap - in->b_len));
		if (n > 0) {
			in->b_len += (size_t)n;
			continue;
		}
		err = SSL_get_error(s->s_ssl, n);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			tconn_want(s, err);
			break;
		}
		/* What arrived before the close still counts. */
		if (tconn_input(s) != 0)
			return -1;
		tconn_fail_ssl(s, "read", err);
		return -1;
	}
	if (tconn_input(s) != 0)
		return -1;
	buf_compact(in);
	return 0;
}

static void
tconn_handshake_done(struct slot *s)
{
	struct bench *b = s->s_b;

	s->s_t_hs = bench_now();
	s->s_resumed = SSL_session_reused(s->s_ssl);
	if (b->b_o.o_mode == MODE_HANDSHAKE || b->b_o.o_mode == MODE_RESUME) {
		/* Say goodbye at once; the server's close confirms it took us. */
		s->s_st = SL_CLOSING;
		return;
	}
	s->s_st = SL_SETUP;
	if (b->b_t->t_setup(s) != 0)
		return;
	if (s->s_st == SL_SETUP || s->s_st == SL_READY)
		(void)tconn_flush(s);
}

/* Handshake modes: close_notify sent, read until the server closes. */
static void
tconn_closing(struct slot *s)
{
	char buf[4096];
	int n, err, op;

	if (!s->s_shut_sent) {
		ERR_clear_error();
		n = SSL_shutdown(s->s_ssl);
		if (n < 0) {
			err = SSL_get_error(s->s_ssl, n);
			if (err == SSL_ERROR_WANT_WRITE ||
			    err == SSL_ERROR_WANT_READ) {
				tconn_want(s, err);
				return;
			}
			tconn_fail_ssl(s, "close_notify", err);
			return;
		}
		s->s_shut_sent = 1;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		n = SSL_read(s->s_ssl, buf, sizeof(buf));
		if (n > 0)
			continue;	/* nothing is expected; ignore it */
		err = SSL_get_error(s->s_ssl, n);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			s->s_want_write = 0;
			tconn_want(s, err);
			return;
		}
		if (err == SSL_ERROR_ZERO_RETURN)
			break;
		tconn_fail_ssl(s, "after the handshake", err);
		return;
	}
	op = s->s_b->b_o.o_mode == MODE_RESUME && s->s_resumed ? 1 : 0;
	tconn_close(s);
	/* The latency of a handshake: connect() to our Finished. */
	bench_done(s, op, bench_now() - (s->s_t_hs - s->s_t_conn), 1, NULL, 0);
}

static void
tconn_connected(struct slot *s)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(s->s_fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		soerr = errno;
	if (soerr != 0) {
		char msg[200];

		snprintf(msg, sizeof(msg), "connect: %s", strerror(soerr));
		bench_slot_fail(s, msg);
		return;
	}
	if (tconn_ssl_new(s) != 0) {
		char e[160];

		bench_slot_fail(s, tconn_ssl_err(e, sizeof(e)));
		return;
	}
	s->s_st = SL_HANDSHAKE;
}

void
tconn_event(struct slot *s, uint32_t events)
{
	int n, err;

	if (s->s_st == SL_CONNECTING) {
		if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
			return;
		tconn_connected(s);
		if (s->s_st != SL_HANDSHAKE)
			return;
	}
	if (s->s_st == SL_HANDSHAKE) {
		ERR_clear_error();
		errno = 0;
		n = SSL_do_handshake(s->s_ssl);
		if (n != 1) {
			err = SSL_get_error(s->s_ssl, n);
			if (err == SSL_ERROR_WANT_READ ||
			    err == SSL_ERROR_WANT_WRITE) {
				s->s_want_write = 0;
				tconn_want(s, err);
				return;
			}
			tconn_fail_ssl(s, "handshake", err);
			return;
		}
		tconn_handshake_done(s);
		if (s->s_st == SL_CLOSING)
			tconn_closing(s);
		else if (s->s_st == SL_SETUP || s->s_st == SL_READY)
			(void)tconn_read(s);
		return;
	}
	if (s->s_st == SL_CLOSING) {
		tconn_closing(s);
		return;
	}
	if (s->s_st != SL_SETUP && s->s_st != SL_READY)
		return;
	s->s_want_write = 0;
	if ((events & EPOLLOUT) && s->s_out.b_len > s->s_out.b_off) {
		if (tconn_flush(s) != 0)
			return;
	}
	if (tconn_read(s) != 0)
		return;
	if (s->s_out.b_len > s->s_out.b_off)
		(void)tconn_flush(s);
	else
		tconn_want(s, 0);
}
