/* admin: /metrics, /healthz and /readyz on a loopback address (see admin.h). */
#include <sys/statvfs.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "seal.h"
#include "server.h"
#include "store.h"
#include "tls.h"
#include "util.h"

/* A scraper sends a short GET: anything bigger or slower is cut. */
#define ADMIN_TIMEOUT_S		10
#define ADMIN_MAX_HEADERS	8192
#define ADMIN_MAX_BODY		1024
#define ADMIN_METRICS_MAX	(4u * 1024 * 1024)
#define ADMIN_TEXT_MAX		(64u * 1024)
/* Every watched loop runs a timer each second; /healthz fails past this. */
#define ADMIN_BEAT_S		1
#define ADMIN_STALL_S		10
/* The writer finishes a transaction at least every second, idle or not. */
#define ADMIN_WRITER_STALL_S	30

struct admin {
	struct server		*a_srv;
	struct event_base	*a_base;
	struct evhttp		*a_http;
	struct event		*a_stop_ev;
	pthread_t		 a_thread;
	int			 a_running;
	struct stxn		*a_rtxn;	/* this thread's read txn handle */
	int64_t			 a_start_time;	/* s since the epoch */
	struct event		*a_watch[METRICS_LOOPS];
};

/* ------------------------------------------------------------- replies */

static void
admin_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (code == 405)
		evhttp_add_header(h, "Allow", "GET, HEAD");
	/* HEAD: evhttp sends the headers (Content-Length too), not the body. */
	if (len > 0 && evbuffer_add(out, body, len) != 0) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	evhttp_send_reply(req, code, reason, NULL);
}

static void
admin_text(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	admin_reply(req, code, reason, "text/plain; charset=utf-8", text,
	    strlen(text));
}

static void
admin_fmt_time(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(out, len, "%lld", (long long)t);
}

/* ------------------------------------------------------------- checks */

/* The dates of the TLS context in use now. */
static size_t
admin_tls_dates(struct admin *a, struct tls_date *d, size_t max)
{
	struct tls_server *ts;
	size_t n;

	ts = server_tls_get(a->a_srv, NULL);
	n = tls_server_dates(ts, d, max);
	server_tls_put(a->a_srv, ts);
	return n;
}

/* The writer alive, its last transaction committed, the audit log too. */
static void
admin_check_store(struct metrics_buf *why)
{
	struct metrics_state ms;
	int64_t idle;

	metrics_state(&ms);
	idle = (metrics_now_us() - ms.ms_writer_beat) / 1000000;
	if (ms.ms_writer_beat == 0 || idle > ADMIN_WRITER_STALL_S)
		metrics_buf_printf(why, "store: the writer has not finished a "
		    "transaction for %lld s\n", (long long)idle);
	if (ms.ms_store_rc != STORE_OK)
		metrics_buf_printf(why, "store: the last write transaction "
		    "failed: %s\n", store_strerror(ms.ms_store_rc));
	if (ms.ms_audit_rc != STORE_OK)
		metrics_buf_printf(why, "audit: the last audit record could not "
		    "be written: %s\n", store_strerror(ms.ms_audit_rc));
}

/* Certificates valid for cert_min_days more days; no CRL past its due date. */
static void
admin_check_certs(struct admin *a, struct metrics_buf *why)
{
	const struct config *conf = a->a_srv->s_conf;
	struct tls_date d[TLS_DATES_MAX];
	int64_t now = (int64_t)time(NULL), min, left;
	char when[32];
	size_t i, n;

	min = (int64_t)conf->c_cert_min_days * 86400;
	n = admin_tls_dates(a, d, TLS_DATES_MAX);
	for (i = 0; i < n; i++) {
		admin_fmt_time(d[i].td_not_after, when, sizeof(when));
		left = d[i].td_not_after - now;
		if (d[i].td_crl) {
			if (left < 0)
				metrics_buf_printf(why, "crl: the CRL of %s was "
				    "due at %s: its certificates are refused "
				    "until a new one is loaded\n",
				    d[i].td_what, when);
			continue;
		}
		if (left < 0)
			metrics_buf_printf(why, "certificates: %s certificate "
			    "expired at %s\n", d[i].td_what, when);
		else if (left < min)
			metrics_buf_printf(why, "certificates: %s certificate "
			    "expires at %s, in %lld days (cert_min_days = %u)\n",
			    d[i].td_what, when, (long long)(left / 86400),
			    conf->c_cert_min_days);
		if (d[i].td_not_before > now) {
			admin_fmt_time(d[i].td_not_before, when, sizeof(when));
			metrics_buf_printf(why, "certificates: %s certificate "
			    "is not valid before %s\n", d[i].td_what, when);
		}
	}
}

/* The failing checks, one per line, into why; 1 when there are none. */
static int
admin_ready(struct admin *a, struct metrics_buf *why)
{
	admin_check_store(why);
	admin_check_certs(a, why);
	return why->mb_len == 0 && !why->mb_err;
}

/* ------------------------------------------------------------- pages */

static void
admin_healthz(struct admin *a, struct evhttp_request *req)
{
	struct metrics_buf why;
	int64_t now = metrics_now_us(), last;
	unsigned i;

	metrics_buf_init(&why, ADMIN_TEXT_MAX);
	for (i = 0; i < METRICS_LOOPS; i++) {
		if (a->a_watch[i] == NULL)
			continue;
		last = metrics_loop_last(i);
		if (now - last <= (int64_t)ADMIN_STALL_S * 1000000)
			continue;
		if (i == 0)
			metrics_buf_printf(&why, "main: its event loop has not "
			    "run for %lld s\n", (long long)(now - last) / 1000000);
		else
			metrics_buf_printf(&why, "worker %u: its event loop has "
			    "not run for %lld s\n", i - 1,
			    (long long)(now - last) / 1000000);
	}
	if (why.mb_len == 0 && !why.mb_err)
		admin_text(req, 200, "OK", "ok\n");
	else
		admin_reply(req, 503, "Service Unavailable",
		    "text/plain; charset=utf-8", why.mb_buf, why.mb_len);
	metrics_buf_free(&why);
}

static void
admin_readyz(struct admin *a, struct evhttp_request *req)
{
	struct metrics_buf why;

	metrics_buf_init(&why, ADMIN_TEXT_MAX);
	if (admin_ready(a, &why))
		admin_text(req, 200, "OK", "ok\n");
	else if (why.mb_err)
		admin_text(req, 503, "Service Unavailable", "not ready\n");
	else
		admin_reply(req, 503, "Service Unavailable",
		    "text/plain; charset=utf-8", why.mb_buf, why.mb_len);
	metrics_buf_free(&why);
}

/* The sequence numbers of the audit log and the feed, from the store. */
static void
admin_seqs(struct admin *a, struct metrics_gauges *g)
{
	uint64_t seq;

	if (a->a_rtxn == NULL || store_reader_begin(a->a_rtxn) != STORE_OK)
		return;
	if (store_change_last(a->a_rtxn, &seq) == STORE_OK)
		g->mg_feed_seq = seq > INT64_MAX ? INT64_MAX : (int64_t)seq;
	if (store_audit_last(a->a_rtxn, &seq) == STORE_OK)
		g->mg_audit_seq = seq > INT64_MAX ? INT64_MAX : (int64_t)seq;
	store_reader_end(a->a_rtxn);
}

static int64_t
admin_clamp(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void
admin_metrics(struct admin *a, struct evhttp_request *req)
{
	struct server *srv = a->a_srv;
	struct tls_date d[TLS_DATES_MAX];
	struct metrics_date certs[TLS_DATES_MAX], crls[TLS_DATES_MAX];
	struct metrics_gauges g;
	struct metrics_buf b, why;
	struct store_usage u;
	struct statvfs sv;
	size_t i, n;

	memset(&g, 0, sizeof(g));
	g.mg_start_time = a->a_start_time;
	g.mg_conns = __atomic_load_n(&srv->s_nconns, __ATOMIC_RELAXED);
	g.mg_conns_max = srv->s_conf->c_max_connections;
	g.mg_map_size = g.mg_map_used = g.mg_readers = g.mg_readers_max = -1;
	if (store_usage(srv->s_store, &u) == STORE_OK) {
		g.mg_map_size = admin_clamp(u.su_map_size);
		g.mg_map_used = admin_clamp(u.su_used);
		g.mg_readers = u.su_readers;
		g.mg_readers_max = u.su_readers_max;
	}
	g.mg_disk_free = g.mg_disk_size = -1;
	if (statvfs(srv->s_conf->c_data_dir, &sv) == 0) {
		g.mg_disk_free = admin_clamp((uint64_t)sv.f_bavail * sv.f_frsize);
		g.mg_disk_size = admin_clamp((uint64_t)sv.f_blocks * sv.f_frsize);
	}
	g.mg_feed_seq = g.mg_audit_seq = -1;
	admin_seqs(a, &g);
	n = admin_tls_dates(a, d, TLS_DATES_MAX);
	for (i = 0; i < n; i++) {
		struct metrics_date *md = d[i].td_crl ?
		    &crls[g.mg_ncrls++] : &certs[g.mg_ncerts++];

		md->md_what = d[i].td_what;
		md->md_time = d[i].td_not_after;
	}
	g.mg_certs = certs;
	g.mg_crls = crls;
	metrics_buf_init(&why, ADMIN_TEXT_MAX);
	g.mg_ready = admin_ready(a, &why);
	metrics_buf_free(&why);

	metrics_buf_init(&b, ADMIN_METRICS_MAX);
	if (metrics_render(&b, &g, dispatch_op_name) == 0)
		admin_reply(req, 200, "OK",
		    "text/plain; version=0.0.4; charset=utf-8", b.mb_buf,
		    b.mb_len);
	else {
		log_kv(LOGL_WARN, "admin: metrics too large", "max=%u",
		    ADMIN_METRICS_MAX);
		admin_text(req, 500, "Internal Server Error",
		    "metrics too large\n");
	}
	metrics_buf_free(&b);
}

static const struct admin_page {
	const char	*ap_path;
	void		(*ap_fn)(struct admin *, struct evhttp_request *);
} admin_pages[] = {
	{ "/metrics",	admin_metrics },
	{ "/healthz",	admin_healthz },
	{ "/readyz",	admin_readyz },
};

static void
admin_request(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	size_t i;

	for (i = 0; i < sizeof(admin_pages) / sizeof(admin_pages[0]); i++)
		if (path != NULL && strcmp(path, admin_pages[i].ap_path) == 0)
			break;
	if (i == sizeof(admin_pages) / sizeof(admin_pages[0])) {
		admin_text(req, 404, "Not Found", "not found: /metrics, "
		    "/healthz and /readyz are served here\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		admin_text(req, 405, "Method Not Allowed", "only GET and HEAD\n");
		return;
	}
	admin_pages[i].ap_fn(a, req);
}

/* ------------------------------------------------------------- life */

static void
admin_beat_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	metrics_loop_beat((unsigned)(uintptr_t)arg);
}

static void
admin_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin *a = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(a->a_base);
}

static void *
admin_main(void *arg)
{
	struct admin *a = arg;

	event_base_loop(a->a_base, EVLOOP_NO_EXIT_ON_EMPTY);
	seal_thread_done();
	return NULL;
}

struct admin *
admin_new(struct server *srv)
{
	const struct config *conf = srv->s_conf;
	struct admin *a;
	uint64_t port;

	if (conf->c_admin_host[0] == '\0')
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("calloc");
	a->a_srv = srv;
	a->a_start_time = (int64_t)time(NULL);
	if ((a->a_base = event_base_new()) == NULL ||
	    (a->a_http = evhttp_new(a->a_base)) == NULL ||
	    (a->a_stop_ev = event_new(a->a_base, -1, 0, admin_stop_cb, a)) ==
	    NULL)
		fatalx("admin: cannot set up the listener");
	evhttp_set_timeout(a->a_http, ADMIN_TIMEOUT_S);
	evhttp_set_max_headers_size(a->a_http, ADMIN_MAX_HEADERS);
	evhttp_set_max_body_size(a->a_http, ADMIN_MAX_BODY);
	/* Every method reaches admin_request, which answers 405 itself. */
	evhttp_set_allowed_methods(a->a_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_gencb(a->a_http, admin_request, a);
	/* config.c checked the port (1..65535) and the loopback address. */
	if (util_parse_u64(conf->c_admin_port, 65535, &port) == -1 ||
	    port == 0 || evhttp_bind_socket_with_handle(a->a_http, conf->c_admin_host,
	    (uint16_t)port) == NULL)
		fatal("admin listen %s:%s", conf->c_admin_host,
		    conf->c_admin_port);
	log_kv(LOGL_INFO, "admin listening", strchr(conf->c_admin_host, ':') ?
	    "addr=[%s]:%s" : "addr=%s:%s", conf->c_admin_host,
	    conf->c_admin_port);
	return a;
}

void
admin_watch(struct admin *a, struct event_base *base, unsigned slot)
{
	struct timeval tv = { ADMIN_BEAT_S, 0 };

	if (a == NULL || slot >= METRICS_LOOPS || a->a_watch[slot] != NULL)
		return;
	if ((a->a_watch[slot] = event_new(base, -1, EV_PERSIST, admin_beat_cb,
	    (void *)(uintptr_t)slot)) == NULL || event_add(a->a_watch[slot],
	    &tv) != 0)
		fatalx("admin: cannot watch event loop %u", slot);
	/* It has not run yet, but it is about to: not a stall. */
	metrics_loop_beat(slot);
}

void
admin_start(struct admin *a)
{
	if (a == NULL)
		return;
	if ((a->a_rtxn = store_reader_new(a->a_srv->s_store)) == NULL)
		fatal("admin: read transaction");
	if (pthread_create(&a->a_thread, NULL, admin_main, a) != 0)
		fatalx("admin: cannot start its thread");
	util_thread_name(a->a_thread, "admin");
	a->a_running = 1;
}

void
admin_stop(struct admin *a)
{
	if (a == NULL || !a->a_running)
		return;
	/* An active event, not loopbreak: that would be lost before the loop. */
	event_active(a->a_stop_ev, EV_READ, 0);
	pthread_join(a->a_thread, NULL);
	a->a_running = 0;
}

void
admin_free(struct admin *a)
{
	unsigned i;

	if (a == NULL)
		return;
	admin_stop(a);
	for (i = 0; i < METRICS_LOOPS; i++)
		if (a->a_watch[i] != NULL)
			event_free(a->a_watch[i]);
	evhttp_free(a->a_http);
	event_free(a->a_stop_ev);
	event_base_free(a->a_base);
	store_reader_free(a->a_rtxn);
	free(a);
}
