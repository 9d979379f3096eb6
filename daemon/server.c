/*
 * server: listener, worker threads, mailboxes, signals and certificate
 * reload (see server.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "server.h"
#include "admin.h"
#include "anchor.h"
#include "conn.h"
#include "dispatch.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "plan.h"
#include "proc.h"
#include "quota.h"
#include "seal.h"
#include "sub.h"
#include "tls.h"
#include "util.h"

/* A TLS context with the number of users still holding it. */
struct tls_slot {
	struct tls_server	*tsl_ts;
	unsigned		 tsl_refs;
};

static struct tls_slot *cur_slot;

struct tls_server *
server_tls_get(struct server *srv, uint64_t *gen)
{
	struct tls_server *ts;

	pthread_mutex_lock(&srv->s_tls_mtx);
	cur_slot->tsl_refs++;
	ts = cur_slot->tsl_ts;
	if (gen != NULL)
		*gen = srv->s_tls_gen;
	pthread_mutex_unlock(&srv->s_tls_mtx);
	return ts;
}

/*
 * Contexts are few (one per reload), so old slots are found by a short
 * list walk; an old one is freed when its last user lets go.
 */
#define TLS_SLOTS_MAX	64
static struct tls_slot *old_slots[TLS_SLOTS_MAX];

void
server_tls_put(struct server *srv, struct tls_server *ts)
{
	size_t i;

	pthread_mutex_lock(&srv->s_tls_mtx);
	if (cur_slot->tsl_ts == ts) {
		cur_slot->tsl_refs--;
		pthread_mutex_unlock(&srv->s_tls_mtx);
		return;
	}
	for (i = 0; i < TLS_SLOTS_MAX; i++) {
		if (old_slots[i] == NULL || old_slots[i]->tsl_ts != ts)
			continue;
		if (--old_slots[i]->tsl_refs == 0) {
			tls_server_free(old_slots[i]->tsl_ts);
			free(old_slots[i]);
			old_slots[i] = NULL;
		}
		break;
	}
	pthread_mutex_unlock(&srv->s_tls_mtx);
}

/* A new context from the config's files, with session resumption if on. */
static struct tls_server *
server_tls_make(struct server *srv, char *err, size_t errlen)
{
	struct tls_server *ts;

	if ((ts = tls_server_new(srv->s_conf, err, errlen)) == NULL)
		return NULL;
	if (srv->s_tickets != NULL &&
	    tls_server_use_tickets(ts, srv->s_tickets, err, errlen) != 0) {
		tls_server_free(ts);
		return NULL;
	}
	return ts;
}

/*
 * SIGHUP: new connections get the new certificates and CRLs; each worker
 * then checks its open connections against them and closes the ones whose
 * certificate is now revoked or expired (conn_reverify).
 */
static void
server_tls_reload(struct server *srv)
{
	struct tls_slot *ns;
	struct tls_server *ts;
	char err[256];
	size_t i;
	int k;

	if ((ts = server_tls_make(srv, err, sizeof(err))) == NULL) {
		log_kv(LOGL_WARN, "reload failed: keeping the current "
		    "certificates", "error=%s", log_q(err));
		return;
	}
	if ((ns = calloc(1, sizeof(*ns))) == NULL) {
		tls_server_free(ts);
		return;
	}
	ns->tsl_ts = ts;
	pthread_mutex_lock(&srv->s_tls_mtx);
	if (cur_slot->tsl_refs == 0) {
		tls_server_free(cur_slot->tsl_ts);
		free(cur_slot);
	} else {
		for (i = 0; i < TLS_SLOTS_MAX && old_slots[i] != NULL; i++)
			;
		if (i == TLS_SLOTS_MAX) {
			/* Leak rather than free a context in use. */
			log_warnx("reload: too many contexts still in use");
		} else
			old_slots[i] = cur_slot;
	}
	cur_slot = ns;
	srv->s_tls_gen++;
	pthread_mutex_unlock(&srv->s_tls_mtx);
	log_kv(LOGL_INFO, "reloaded", "what=certificates,crls "
	    "next=recheck_open_connections");
	for (k = 0; k < srv->s_nworkers; k++)
		event_active(srv->s_workers[k].w_reverify_ev, EV_READ, 0);
}

/* --------------------------------------------- connections per principal */

struct pcount_ent {
	struct pcount_ent	*pe_next;
	uint32_t		 pe_n;
	char			 pe_org[PRINCIPAL_ORG_MAX];
	char			 pe_subject[PRINCIPAL_SUBJECT_MAX];
};

struct pcount {
	pthread_mutex_t		 pc_mtx;
	uint32_t		 pc_max;
	uint32_t		 pc_seed;
	size_t			 pc_nb;		/* a power of two */
	struct pcount_ent	**pc_b;
};

static struct pcount *
pcount_new(uint32_t max, uint32_t max_connections)
{
	struct pcount *pc;

	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return NULL;
	pc->pc_max = max;
	pc->pc_seed = (uint32_t)time(NULL) ^ (uint32_t)getpid() * 2654435761u;
	for (pc->pc_nb = 64; pc->pc_nb < 65536 && pc->pc_nb < max_connections / 4;
	    pc->pc_nb *= 2)
		;
	if ((pc->pc_b = calloc(pc->pc_nb, sizeof(*pc->pc_b))) == NULL) {
		free(pc);
		return NULL;
	}
	pthread_mutex_init(&pc->pc_mtx, NULL);
	return pc;
}

static void
pcount_free(struct pcount *pc)
{
	struct pcount_ent *e, *next;
	size_t i;

	if (pc == NULL)
		return;
	for (i = 0; i < pc->pc_nb; i++)
		for (e = pc->pc_b[i]; e != NULL; e = next) {
			next = e->pe_next;
			free(e);
		}
	free(pc->pc_b);
	pthread_mutex_destroy(&pc->pc_mtx);
	free(pc);
}

/* The bucket of (org, subject): FNV-1a, seeded. */
static struct pcount_ent **
pcount_bucket(struct pcount *pc, const struct principal *p)
{
	uint32_t h = 2166136261u ^ pc->pc_seed;
	const char *s;

	for (s = p->pr_org; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (s = p->pr_subject; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return &pc->pc_b[h & (pc->pc_nb - 1)];
}

static struct pcount_ent *
pcount_find(struct pcount_ent *e, const struct principal *p)
{
	for (; e != NULL; e = e->pe_next)
		if (strcmp(e->pe_org, p->pr_org) == 0 &&
		    strcmp(e->pe_subject, p->pr_subject) == 0)
			return e;
	return NULL;
}

int
server_principal_hold(struct server *srv, const struct principal *p,
    uint32_t *n)
{
	struct pcount *pc = srv->s_pcount;
	struct pcount_ent **b, *e;
	int rc = 0;

	pthread_mutex_lock(&pc->pc_mtx);
	b = pcount_bucket(pc, p);
	if ((e = pcount_find(*b, p)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			*n = 0;
			rc = -1;
			goto out;
		}
		memcpy(e->pe_org, p->pr_org, sizeof(e->pe_org));
		memcpy(e->pe_subject, p->pr_subject, sizeof(e->pe_subject));
		e->pe_next = *b;
		*b = e;
	}
	*n = e->pe_n;
	if (e->pe_n >= pc->pc_max)
		rc = -1;
	else
		*n = ++e->pe_n;
 out:
	pthread_mutex_unlock(&pc->pc_mtx);
	return rc;
}

void
server_principal_release(struct server *srv, const struct principal *p)
{
	struct pcount *pc = srv->s_pcount;
	struct pcount_ent **b, *e;

	pthread_mutex_lock(&pc->pc_mtx);
	for (b = pcount_bucket(pc, p); (e = *b) != NULL; b = &e->pe_next) {
		if (strcmp(e->pe_org, p->pr_org) != 0 ||
		    strcmp(e->pe_subject, p->pr_subject) != 0)
			continue;
		if (--e->pe_n == 0) {
			*b = e->pe_next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&pc->pc_mtx);
}

/* ------------------------------------------------------------- memory */

/* Seconds the bytes held may stay too high before a connection is cut. */
#define SERVER_CUT_GRACE_MS	1000
/* How often, while they do, each worker looks for the heaviest. */
#define SERVER_CUT_TICK_US	100000
/* How often the main thread looks whether memory can be given back. */
#define SERVER_TRIM_TICK_S	1
#define SERVER_TRIM_EVERY_MS	5000
/* glibc's mmap and trim thresholds (see server_mem_init). */
#define SERVER_MMAP_THRESHOLD	(4 * 1024 * 1024)

static int64_t
server_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
server_mem_poke(struct server *srv, int all)
{
	struct worker *w;
	int i;

	for (i = 0; i < srv->s_nworkers; i++) {
		w = &srv->s_workers[i];
		if (!all && __atomic_load_n(&w->w_nwaiters,
		    __ATOMIC_RELAXED) == 0)
			continue;
		if (__atomic_exchange_n(&w->w_wake_pending, 1,
		    __ATOMIC_ACQ_REL) == 0)
			event_active(w->w_mem_ev, EV_READ, 0);
	}
}

void
server_mem_change(struct server *srv, int64_t held, int64_t resv)
{
	const struct config *conf = srv->s_conf;
	size_t mem, rsv;

	mem = held != 0 ? __atomic_add_fetch(&srv->s_mem, (size_t)held,
	    __ATOMIC_RELAXED) : __atomic_load_n(&srv->s_mem, __ATOMIC_RELAXED);
	rsv = resv != 0 ? __atomic_add_fetch(&srv->s_resv, (size_t)resv,
	    __ATOMIC_RELAXED) : __atomic_load_n(&srv->s_resv,
	    __ATOMIC_RELAXED);
	if (held > 0 || resv > 0) {
		if (mem <= srv->s_mem_low ||
		    __atomic_exchange_n(&srv->s_mem_over, 1,
		    __ATOMIC_ACQ_REL) != 0)
			return;
		__atomic_store_n(&srv->s_mem_over_since, server_now_ms(),
		    __ATOMIC_RELAXED);
		log_warnx("memory: connections hold %zu bytes, near memory_max "
		    "(%zu): reading pauses on every connection, and the "
		    "heaviest is cut if this lasts", mem, conf->c_memory_max);
		server_mem_poke(srv, 1);
		return;
	}
	if (mem + rsv > srv->s_mem_low)
		return;
	if (__atomic_load_n(&srv->s_mem_over, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&srv->s_mem_over, 0, __ATOMIC_ACQ_REL) != 0) {
		log_warnx("memory: connections hold %zu bytes again; reading "
		    "resumes", mem);
		server_mem_poke(srv, 1);
		return;
	}
	server_mem_poke(srv, 0);
}

size_t
server_mem_spare(struct server *srv)
{
	size_t max = srv->s_conf->c_memory_max, used;

	if (__atomic_load_n(&srv->s_mem_over, __ATOMIC_RELAXED))
		return 0;
	used = __atomic_load_n(&srv->s_mem, __ATOMIC_RELAXED) +
	    __atomic_load_n(&srv->s_resv, __ATOMIC_RELAXED);
	return used >= max ? 0 : max - used;
}

int
server_mem_cutting(struct server *srv)
{
	return __atomic_load_n(&srv->s_mem_over, __ATOMIC_RELAXED) &&
	    server_now_ms() - __atomic_load_n(&srv->s_mem_over_since,
	    __ATOMIC_RELAXED) >= SERVER_CUT_GRACE_MS;
}

int
server_mem_elect(struct server *srv, struct worker *w, size_t bytes)
{
	struct worker *o;
	int i, elected = bytes > 0;

	pthread_mutex_lock(&srv->s_mem_mtx);
	w->w_heavy = bytes;
	for (i = 0; i < srv->s_nworkers && elected; i++) {
		o = &srv->s_workers[i];
		if (o != w && (o->w_heavy > bytes ||
		    (o->w_heavy == bytes && o->w_id < w->w_id)))
			elected = 0;
	}
	if (elected)
		w->w_heavy = 0;		/* cut now; the next tick says anew */
	pthread_mutex_unlock(&srv->s_mem_mtx);
	return elected;
}

/* A worker is poked: room again (waiters go on), or over (tick starts). */
static void
worker_mem_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tick = { 0, SERVER_CUT_TICK_US };

	(void)fd;
	(void)what;
	__atomic_store_n(&w->w_wake_pending, 0, __ATOMIC_RELEASE);
	if (__atomic_load_n(&w->w_srv->s_mem_over, __ATOMIC_RELAXED)) {
		if (!evtimer_pending(w->w_mem_timer, NULL))
			evtimer_add(w->w_mem_timer, &tick);
		return;
	}
	conn_mem_wake(w);
}

static void
worker_mem_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (!__atomic_load_n(&w->w_srv->s_mem_over, __ATOMIC_RELAXED)) {
		(void)server_mem_elect(w->w_srv, w, 0);
		evtimer_del(w->w_mem_timer);
		conn_mem_wake(w);
		return;
	}
	conn_mem_tick(w);
}

/*
 * After a burst (many connections or much memory gone since the last
 * look), give freed heap back to the system, at most every few seconds:
 * malloc keeps what it once had otherwise.
 */
static void
server_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	size_t mem = __atomic_load_n(&srv->s_mem, __ATOMIC_RELAXED) +
	    __atomic_load_n(&srv->s_resv, __ATOMIC_RELAXED);
	uint32_t conns = __atomic_load_n(&srv->s_nconns, __ATOMIC_RELAXED);
	int64_t now = server_now_ms();
	int i;

	(void)fd;
	(void)what;
	if (mem > srv->s_trim_peak_mem)
		srv->s_trim_peak_mem = mem;
	if (conns > srv->s_trim_peak_conns)
		srv->s_trim_peak_conns = conns;
	if (now - srv->s_trim_last < SERVER_TRIM_EVERY_MS)
		return;
	if (!((srv->s_trim_peak_conns >= conns + 64 &&
	    conns <= srv->s_trim_peak_conns / 2 + srv->s_trim_peak_conns / 4) ||
	    srv->s_trim_peak_mem >= mem + 16u * 1024 * 1024))
		return;
	/* Each worker tidies its own heap, then trims them all (malloc_trim). */
	for (i = 0; i < srv->s_nworkers; i++)
		event_active(srv->s_workers[i].w_trim_ev, EV_READ, 0);
	log_debug("memory: given back after %u connections and %zu bytes "
	    "(now %u and %zu)", srv->s_trim_peak_conns, srv->s_trim_peak_mem,
	    conns, mem);
	srv->s_trim_peak_mem = mem;
	srv->s_trim_peak_conns = conns;
	srv->s_trim_last = now;
}

/*
 * In each worker, when server_trim_cb saw a burst go: malloc_trim, which
 * gives back the free pages inside every arena's chunks, left two things
 * behind in a worker's arena after 10,000 connections came and went
 * (~1.2 MB resident in each, found by hand with malloc_info and smaps):
 * - the thread's tcache: up to 7 freed chunks of each small size, the
 *   last ones the closing connections freed, scattered over the arena,
 *   each pinning its page. Taken out (the 7 first mallocs of a size come
 *   from it), with 7 fresh chunks of each size behind them, and freed
 *   fresh ones first: the tcache refills with the fresh ones, side by
 *   side, and the scattered ones go back to the arena's bins, where
 *   malloc_trim gives their pages back;
 * - the free top of the arena, which glibc trims only when a free there
 *   finds it above M_TRIM_THRESHOLD, kept high on purpose
 *   (server_mem_init): the threshold lowered for one large free, then put
 *   back, one worker at a time (the threshold is the process's).
 */
#define TRIM_SIZES		64	/* glibc's tcache: chunks of 32..1040 B */
#define TRIM_PER_SIZE		7	/* its chunks per size */
#define SERVER_TRIM_PROBE	(256 * 1024)
#define SERVER_TRIM_TOP		(128 * 1024)

static void
worker_trim_cb(evutil_socket_t fd, short what, void *arg)
{
#ifdef __GLIBC__
	static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
	void *held[TRIM_SIZES][2 * TRIM_PER_SIZE];
	char *p;
	int c, i;

	for (c = 0; c < TRIM_SIZES; c++)
		for (i = 0; i < 2 * TRIM_PER_SIZE; i++)
			held[c][i] = malloc(24 + 16 * (size_t)c);
	for (c = 0; c < TRIM_SIZES; c++) {
		for (i = TRIM_PER_SIZE; i < 2 * TRIM_PER_SIZE; i++)
			free(held[c][i]);
		for (i = 0; i < TRIM_PER_SIZE; i++)
			free(held[c][i]);
	}
	pthread_mutex_lock(&mtx);
	(void)mallopt(M_TRIM_THRESHOLD, SERVER_TRIM_TOP);
	if ((p = malloc(SERVER_TRIM_PROBE)) != NULL) {
		*(volatile char *)p = 0;	/* a pair not elided */
		free(p);
	}
	(void)mallopt(M_TRIM_THRESHOLD, SERVER_MMAP_THRESHOLD);
	(void)malloc_trim(0);
	pthread_mutex_unlock(&mtx);
#endif
	(void)fd;
	(void)what;
	(void)arg;
}

/* ------------------------------------------------------------ mailbox */

void
mailbox_post(struct mailbox *mb, struct wjob *j)
{
	j->wj_next = NULL;
	pthread_mutex_lock(&mb->mb_mtx);
	if (mb->mb_tail != NULL)
		mb->mb_tail->wj_next = j;
	else
		mb->mb_head = j;
	mb->mb_tail = j;
	pthread_mutex_unlock(&mb->mb_mtx);
	event_active(mb->mb_ev, EV_READ, 0);
}

static void
mailbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mailbox *mb = arg;
	struct wjob *j, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&mb->mb_mtx);
	j = mb->mb_head;
	mb->mb_head = mb->mb_tail = NULL;
	pthread_mutex_unlock(&mb->mb_mtx);
	for (; j != NULL; j = next) {
		next = j->wj_next;
		j->wj_done(j);
	}
}

/* ------------------------------------------------------------ workers */

static void
worker_fdq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct fdq_item *it;

	(void)fd;
	(void)what;
	for (;;) {
		pthread_mutex_lock(&w->w_fdq_mtx);
		if ((it = STAILQ_FIRST(&w->w_fdq)) != NULL)
			STAILQ_REMOVE_HEAD(&w->w_fdq, fq_entry);
		pthread_mutex_unlock(&w->w_fdq_mtx);
		if (it == NULL)
			break;
		if (w->w_stopping)
			close(it->fq_fd);	/* never adopted, never leaked */
		else
			conn_accept(w, it->fq_fd, it->fq_peer);
		if (w->w_stopping)
			__atomic_sub_fetch(&w->w_srv->s_nconns, 1,
			    __ATOMIC_RELAXED);
		free(it);
	}
}

/*
 * An active event, not event_base_loopbreak from another thread: a break
 * sent before the worker entered its loop would be forgotten (the loop
 * clears it on entry), and the join would wait for ever.
 */
static void
worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	w->w_stopping = 1;
	event_base_loopbreak(w->w_base);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_loop(w->w_base, EVLOOP_NO_EXIT_ON_EMPTY);
	w->w_stopping = 1;
	conn_close_all(w);
	/* Answers still in the writer come back to a closed connection. */
	event_base_loop(w->w_base, EVLOOP_NONBLOCK);
	subs_free(w->w_env.ce_subs);
	w->w_env.ce_subs = NULL;
	seal_thread_done();
	return NULL;
}

/* The writer committed change events: push them to this worker's subscribers. */
static void
worker_feed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	subs_pump(w->w_env.ce_subs);
}

/* In the writer thread, after a commit with change events. */
static void
server_feed_moved(void *arg)
{
	struct server *srv = arg;
	int i;

	for (i = 0; i < srv->s_nworkers; i++)
		event_active(srv->s_workers[i].w_feed_ev, EV_READ, 0);
}

/* In the writer thread, about every second: grants whose time is up. */
static int
server_tick(struct stxn *t, void *arg)
{
	struct server *srv = arg;
	unsigned n = 0;
	int rc;

	rc = household_expire_due(t, &srv->s_hh, util_now_us(), 256, &n);
	return rc != STORE_OK ? rc : (int)n;
}

/* A reload: this worker's open connections are checked again. */
static void
worker_reverify_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_reverify(arg);
}

/* The writer hands a finished call back to the worker it came from. */
static void
worker_post(void *arg, struct wjob *j)
{
	struct worker *w = arg;

	mailbox_post(&w->w_mailbox, j);
}

static void
worker_noop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
worker_quiet_log(int severity, const char *msg)
{
	(void)severity;
	(void)msg;
}

/*
 * libevent keeps a small slot per descriptor number a base ever watched,
 * made the first time and never freed. Made while connections come in,
 * each lands between that connection's buffers and pins a page of the
 * heap after the connection is gone, so a burst of connections would leave
 * megabytes behind. Made here, up front and side by side, they pin
 * nothing: adding an event makes the slot even when the descriptor is not
 * open (the add then fails, quietly).
 */
static void
worker_fd_slots(struct worker *w, int nfds)
{
	struct event *ev;
	int fd;

	event_set_log_callback(worker_quiet_log);
	for (fd = 0; fd < nfds; fd++) {
		if ((ev = event_new(w->w_base, fd, EV_READ, worker_noop_cb,
		    NULL)) == NULL)
			break;
		if (event_add(ev, NULL) == 0)
			(void)event_del(ev);
		event_free(ev);
	}
	event_set_log_callback(NULL);
}

/*
 * A worker's event base. With epoll's change list, the changes to what a
 * descriptor is watched for are kept until the next epoll_wait and then
 * made at once, so a change undone in the same turn costs no system call.
 * That is every answer: the TLS bufferevent starts watching for writability
 * when the answer enters its output buffer, writes it at once, and stops
 * watching once the buffer is empty — two epoll_ctl calls per answer
 * without the list (strace at the peak: 1.8 per GetPlan), none with it.
 * libevent warns that the list misbehaves with descriptors duplicated by
 * dup(): the daemon duplicates none (sockets come from accept, the
 * mailboxes are libevent's own).
 */
static struct event_base *
worker_base_new(void)
{
	struct event_config *cfg;
	struct event_base *b;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	if (event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST)
	    != 0) {
		event_config_free(cfg);
		return NULL;
	}
	b = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return b;
}

static void
worker_init(struct server *srv, struct worker *w, int id)
{
	w->w_id = id;
	w->w_srv = srv;
	TAILQ_INIT(&w->w_conns);
	STAILQ_INIT(&w->w_fdq);
	pthread_mutex_init(&w->w_fdq_mtx, NULL);
	pthread_mutex_init(&w->w_mailbox.mb_mtx, NULL);
	if ((w->w_base = worker_base_new()) == NULL)
		fatalx("worker %d: event_base_new failed", id);
	w->w_mailbox.mb_ev = event_new(w->w_base, -1, 0, mailbox_cb,
	    &w->w_mailbox);
	w->w_fdq_ev = event_new(w->w_base, -1, 0, worker_fdq_cb, w);
	w->w_stop_ev = event_new(w->w_base, -1, 0, worker_stop_cb, w);
	w->w_feed_ev = event_new(w->w_base, -1, 0, worker_feed_cb, w);
	w->w_reverify_ev = event_new(w->w_base, -1, 0, worker_reverify_cb, w);
	w->w_mem_ev = event_new(w->w_base, -1, 0, worker_mem_cb, w);
	w->w_mem_timer = event_new(w->w_base, -1, EV_PERSIST,
	    worker_mem_tick_cb, w);
	w->w_trim_ev = event_new(w->w_base, -1, 0, worker_trim_cb, w);
	TAILQ_INIT(&w->w_waiters);
	if (w->w_mailbox.mb_ev == NULL || w->w_fdq_ev == NULL ||
	    w->w_stop_ev == NULL || w->w_feed_ev == NULL ||
	    w->w_reverify_ev == NULL || w->w_mem_ev == NULL ||
	    w->w_mem_timer == NULL || w->w_trim_ev == NULL)
		fatalx("worker %d: event_new failed", id);
	if ((w->w_env.ce_subs = subs_new(srv->s_conf->c_subscriber_buffer)) ==
	    NULL)
		fatalx("worker %d: out of memory", id);
	if ((w->w_rtxn = store_reader_new(srv->s_store)) == NULL)
		fatalx("worker %d: cannot make a read transaction", id);
	worker_fd_slots(w, (int)(srv->s_conf->c_max_connections > 65536 ?
	    65536 : srv->s_conf->c_max_connections) + 64);
	w->w_env.ce_conf = srv->s_conf;
	w->w_env.ce_consent = &srv->s_consent;
	w->w_env.ce_hh = &srv->s_hh;
	w->w_env.ce_writer = srv->s_writer;
	w->w_env.ce_quota = srv->s_quota;
	w->w_env.ce_reader = w->w_rtxn;
	w->w_env.ce_post = worker_post;
	w->w_env.ce_post_arg = w;
	if ((w->w_env.ce_seen = calloc(CALL_SEEN, sizeof(uint64_t))) == NULL)
		fatal("calloc");
}

static void
worker_free(struct worker *w)
{
	struct fdq_item *it;

	while ((it = STAILQ_FIRST(&w->w_fdq)) != NULL) {
		STAILQ_REMOVE_HEAD(&w->w_fdq, fq_entry);
		close(it->fq_fd);
		free(it);
	}
	store_reader_free(w->w_rtxn);
	free(w->w_env.ce_seen);
	event_free(w->w_mailbox.mb_ev);
	event_free(w->w_fdq_ev);
	event_free(w->w_stop_ev);
	event_free(w->w_feed_ev);
	event_free(w->w_reverify_ev);
	event_free(w->w_mem_ev);
	event_free(w->w_mem_timer);
	event_free(w->w_trim_ev);
	event_base_free(w->w_base);
	pthread_mutex_destroy(&w->w_fdq_mtx);
	pthread_mutex_destroy(&w->w_mailbox.mb_mtx);
}

/* ----------------------------------------------------------- listener */

static void
peer_name(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	const void *addr;
	unsigned port;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		addr = &s6->sin6_addr;
		port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		addr = &s4->sin_addr;
		port = ntohs(s4->sin_port);
	}
	if (inet_ntop(sa->sa_family, addr, host, sizeof(host)) == NULL)
		snprintf(host, sizeof(host), "?");
	snprintf(out, len, "%s:%u", host, port);
}

static struct log_rate rl_max_connections =
    LOG_RATE_INIT("refused (max_connections)");

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct server *srv = arg;
	struct worker *w;
	struct fdq_item *it;
	uint32_t n;
	int one = 1;

	(void)l;
	(void)salen;
	if (srv->s_accept_paused) {
		srv->s_accept_paused = 0;
		log_kv(LOGL_INFO, "descriptors available again; accepting", NULL);
	}
	n = __atomic_add_fetch(&srv->s_nconns, 1, __ATOMIC_RELAXED);
	if (n > srv->s_trim_peak_conns)
		srv->s_trim_peak_conns = n;
	if (n > srv->s_conf->c_max_connections || srv->s_stopping) {
		__atomic_sub_fetch(&srv->s_nconns, 1, __ATOMIC_RELAXED);
		if (!srv->s_stopping) {
			char peer[64];

			metrics_conn_refused();
			peer_name(sa, peer, sizeof(peer));
			log_rl(&rl_max_connections, LOGL_WARN,
			    "connection refused", "peer=%s reason=max_connections"
			    " limit=%u", peer, srv->s_conf->c_max_connections);
		}
		close(fd);
		return;
	}
	if ((it = calloc(1, sizeof(*it))) == NULL) {
		__atomic_sub_fetch(&srv->s_nconns, 1, __ATOMIC_RELAXED);
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	it->fq_fd = fd;
	peer_name(sa, it->fq_peer, sizeof(it->fq_peer));
	w = &srv->s_workers[srv->s_next_worker++ % (unsigned)srv->s_nworkers];
	pthread_mutex_lock(&w->w_fdq_mtx);
	STAILQ_INSERT_TAIL(&w->w_fdq, it, fq_entry);
	pthread_mutex_unlock(&w->w_fdq_mtx);
	event_active(w->w_fdq_ev, EV_READ, 0);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(srv->s_listener);
}

/* Out of descriptors: pause accepting for a moment instead of spinning. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *srv = arg;
	struct timeval tv = { 0, 200000 };
	int e = EVUTIL_SOCKET_ERROR();

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		/* Once per episode: the retry every 200 ms is not news. */
		if (!srv->s_accept_paused)
			log_kv(LOGL_WARN, "pausing accepts", "error=%s "
			    "retry_ms=200",
			    log_q(evutil_socket_error_to_string(e)));
		srv->s_accept_paused = 1;
		evconnlistener_disable(l);
		evtimer_add(srv->s_accept_resume, &tv);
		return;
	}
	log_kv(LOGL_WARN, "accept failed", "error=%s",
	    log_q(evutil_socket_error_to_string(e)));
}

static void
server_listen(struct server *srv)
{
	const struct config *conf = srv->s_conf;
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(conf->c_listen_host[0] ? conf->c_listen_host : NULL,
	    conf->c_listen_port, &hints, &res);
	if (rc != 0)
		fatalx("listen %s:%s: %s", conf->c_listen_host,
		    conf->c_listen_port, gai_strerror(rc));
	srv->s_listener = evconnlistener_new_bind(srv->s_base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (srv->s_listener == NULL)
		fatal("listen %s:%s", conf->c_listen_host, conf->c_listen_port);
	evconnlistener_set_error_cb(srv->s_listener, accept_error_cb);
	srv->s_accept_resume = evtimer_new(srv->s_base, accept_resume_cb, srv);
	log_kv(LOGL_INFO, "listening", strchr(conf->c_listen_host, ':') ?
	    "addr=[%s]:%s" : "addr=%s:%s", conf->c_listen_host,
	    conf->c_listen_port);
}

/* ------------------------------------------------------------ signals */

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	switch (sig) {
	case SIGHUP:
		proc_notify_reloading();
		server_tls_reload(srv);
		proc_notify_ready(srv->s_nworkers);
		break;
	case SIGINT:
	case SIGTERM:
		proc_notify_stopping();
		log_kv(LOGL_INFO, "stopping", "signal=%s",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		srv->s_stopping = 1;
		event_base_loopbreak(srv->s_base);
		break;
	default:
		break;
	}
}

/* The guard found the data file damaged: stop as SIGTERM would. */
static void
server_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	proc_notify_stopping();
	log_kv(LOGL_INFO, "stopping", "reason=\"data file damaged\"");
	srv->s_stopping = 1;
	event_base_loopbreak(srv->s_base);
}

/* From the guard's thread. */
static void
server_stop_async(void *arg)
{
	struct server *srv = arg;

	event_active(srv->s_stop_ev, EV_READ, 0);
}

/*
 * The memory marks: connections may reserve up to memory_max; held bytes
 * above s_mem_low (memory_max less an eighth, at least one frame) leave
 * too little room, and end the pause only once all is below it again.
 */
static void
server_mem_init(struct server *srv)
{
	const struct config *conf = srv->s_conf;
	size_t slack = conf->c_memory_max / 8;

	if (slack < (size_t)conf->c_max_frame + 4)
		slack = (size_t)conf->c_max_frame + 4;
	if (slack > conf->c_memory_max / 2)
		slack = conf->c_memory_max / 2;
	srv->s_mem_low = conf->c_memory_max - slack;
#ifdef __GLIBC__
	/*
	 * Fixed thresholds, above the ~2.5 MB that LMDB mallocs and frees for
	 * every child txn (its dirty and free page lists): the writer runs
	 * one per mutation, and at glibc's 128 KB or our former 256 KB each
	 * was an mmap, page faults and an munmap whose TLB shootdown
	 * interrupted the other core (10-15 % of the writer's time; reads
	 * +13 %, mutations +10-15 % without, tests/bench/getplan_ab.sh).
	 * Fixed, not glibc's moving threshold, so it stays put; what a burst
	 * of large answers leaves in the heaps is given back by
	 * worker_trim_cb (malloc_trim), not by the threshold.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, SERVER_MMAP_THRESHOLD);
	(void)mallopt(M_TRIM_THRESHOLD, SERVER_MMAP_THRESHOLD);
#endif
}

struct server *
server_new(const struct config *conf)
{
	struct store_opts so;
	struct seal_key kek;
	struct server *srv;
	char err[PATH_MAX + 1024], head_file[PATH_MAX];
	size_t k;
	long ncpu;
	int i, rc;

	if (evthread_use_pthreads() != 0)
		fatalx("libevent without thread support");
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		fatal("calloc");
	srv->s_conf = conf;
	srv->s_consent.cc_citizens_org = conf->c_citizens_org;
	srv->s_consent.cc_break_glass = conf->c_break_glass;
	srv->s_consent.cc_break_glass_window =
	    (int64_t)conf->c_break_glass_window * 1000000;
	srv->s_consent.cc_break_glass_reason_min = conf->c_break_glass_reason_min;
	srv->s_consent.cc_break_glass_pause =
	    (int64_t)conf->c_break_glass_pause * 1000000;
	for (k = 0; k < conf->c_norgs; k++) {
		srv->s_orgs[k].co_id = conf->c_orgs[k].co_id;
		srv->s_orgs[k].co_roles = conf->c_orgs[k].co_roles;
		srv->s_orgs[k].co_regie = conf->c_orgs[k].co_regie;
		srv->s_orgs[k].co_break_glass = conf->c_orgs[k].co_break_glass;
	}
	srv->s_consent.cc_orgs = srv->s_orgs;
	srv->s_consent.cc_norgs = conf->c_norgs;
	srv->s_hh.hc_consent = &srv->s_consent;
	srv->s_hh.hc_plan_bytes_max = plan_bytes_max(conf->c_max_frame);
	srv->s_hh.hc_snapshot_versions = conf->c_snapshot_versions;
	srv->s_hh.hc_snapshot_bytes = conf->c_snapshot_bytes;
	srv->s_hh.hc_grants_max = conf->c_grants_max;
	srv->s_hh.hc_active_grants_max = conf->c_active_grants_max;
	if ((srv->s_quota = quota_new(conf->c_write_rate,
	    conf->c_write_burst)) == NULL)
		fatal("calloc");
	pthread_mutex_init(&srv->s_tls_mtx, NULL);
	pthread_mutex_init(&srv->s_mem_mtx, NULL);
	server_mem_init(srv);
	if ((srv->s_pcount = pcount_new(conf->c_max_conns_principal,
	    conf->c_max_connections)) == NULL)
		fatal("calloc");

	if (conf->c_ticket_lifetime > 0 &&
	    (srv->s_tickets = tls_tickets_new(conf->c_ticket_lifetime)) == NULL)
		fatalx("tls: cannot make session ticket keys");
	if ((cur_slot = calloc(1, sizeof(*cur_slot))) == NULL)
		fatal("calloc");
	if ((cur_slot->tsl_ts = server_tls_make(srv, err, sizeof(err))) == NULL)
		fatalx("tls: %s", err);

	srv->s_nworkers = conf->c_workers;
	if (srv->s_nworkers <= 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		srv->s_nworkers = ncpu <= 0 ? 2 : ncpu > 64 ? 64 : (int)ncpu;
	}
	/* The store's key: outside the data, never in a copy of it. */
	if (seal_key_load(&kek, conf->c_store_key, conf->c_data_dir, err,
	    sizeof(err)) != 0)
		fatalx("store key: %s", err);
	/*
	 * Bound, the TLS key and the store key read: only now become the
	 * configured user, who owns data_dir. The store is opened as it.
	 */
	if ((srv->s_base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	server_listen(srv);
	srv->s_admin = admin_new(srv);
	proc_become_user(conf);
	proc_lock_data_dir(conf->c_data_dir);

	/* A reader slot per worker, and room for the operator's admin tools. */
	memset(&so, 0, sizeof(so));
	so.so_dir = conf->c_data_dir;
	so.so_map_max = conf->c_map_max;
	so.so_max_readers = (unsigned)srv->s_nworkers + 64;
	so.so_kek = &kek;
	rc = store_open(&srv->s_store, &so, err, sizeof(err));
	seal_key_wipe(&kek);
	if (rc != STORE_OK)
		fatalx("store %s: %s", conf->c_data_dir, err);
	if (migrate_store(srv->s_store, &srv->s_hh, conf->c_migrate_batch, err,
	    sizeof(err)) != 0)
		fatalx("store %s: %s", conf->c_data_dir, err);
	/* A rekey in another process waits for this daemon by its pid. */
	if ((rc = store_daemon_mark(srv->s_store)) != STORE_OK)
		fatalx("store %s: %s", conf->c_data_dir, store_strerror(rc));
	/* A store behind its audit head file was rolled back: refused. */
	if (anchor_path(conf, head_file, sizeof(head_file)) == -1)
		fatalx("[audit] head_file: path too long");
	if (anchor_startup(srv->s_store, head_file, conf->c_accept_rollback,
	    err, sizeof(err)) == -1)
		fatalx("store %s: %s", conf->c_data_dir, err);
	/* Commits flushed through the log from here on (wal.h). */
	if (conf->c_wal && store_wal_start(srv->s_store, conf->c_checkpoint_ms,
	    conf->c_log_file_mb, err, sizeof(err)) == -1)
		fatalx("store %s: %s", conf->c_data_dir, err);
	if ((srv->s_writer = writer_start(srv->s_store, err, sizeof(err))) == NULL)
		fatalx("writer: %s", err);
	if ((srv->s_anchor = anchor_start(srv->s_store, head_file, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	writer_set_commit_hook(srv->s_writer, anchor_committed, srv->s_anchor);

	if ((srv->s_trim_ev = event_new(srv->s_base, -1, EV_PERSIST,
	    server_trim_cb, srv)) == NULL)
		fatalx("event_new failed");
	if ((srv->s_workers = calloc((size_t)srv->s_nworkers,
	    sizeof(*srv->s_workers))) == NULL)
		fatal("calloc");
	for (i = 0; i < srv->s_nworkers; i++)
		worker_init(srv, &srv->s_workers[i], i);
	admin_watch(srv->s_admin, srv->s_base, 0);
	for (i = 0; i < srv->s_nworkers; i++)
		admin_watch(srv->s_admin, srv->s_workers[i].w_base,
		    1 + (unsigned)i);
	writer_set_hooks(srv->s_writer, server_tick, server_feed_moved, srv);
	writer_set_index_lag(srv->s_writer, srv->s_conf->c_audit_index_lag);
	writer_set_index_lag_max(srv->s_writer,
	    srv->s_conf->c_audit_index_lag_max);
	writer_set_index_stop_ms(srv->s_writer,
	    srv->s_conf->c_audit_index_stop_ms);
	writer_set_audit_commit_ms(srv->s_writer,
	    srv->s_conf->c_audit_commit_ms);
	if ((srv->s_stop_ev = event_new(srv->s_base, -1, 0, server_stop_cb,
	    srv)) == NULL)
		fatalx("event_new failed");
	if ((srv->s_guard = guard_start(srv->s_store, server_stop_async, srv,
	    err, sizeof(err))) == NULL)
		fatalx("%s", err);
	return srv;
}

int
server_run(struct server *srv)
{
	struct event *sigs[3];
	int signos[3] = { SIGHUP, SIGINT, SIGTERM };
	int i;

	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(srv->s_base, signos[i], signal_cb, srv);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0)
			fatalx("cannot install signal %d", signos[i]);
	}
	for (i = 0; i < srv->s_nworkers; i++)
		if (pthread_create(&srv->s_workers[i].w_thread, NULL,
		    worker_main, &srv->s_workers[i]) != 0)
			fatalx("cannot start worker %d", i);
		else
			util_thread_name(srv->s_workers[i].w_thread,
			    "worker%d", i);
	{
		struct timeval trim = { SERVER_TRIM_TICK_S, 0 };

		evtimer_add(srv->s_trim_ev, &trim);
	}
	admin_start(srv->s_admin);
	log_kv(LOGL_INFO, "ready", "workers=%d", srv->s_nworkers);
	proc_notify_ready(srv->s_nworkers);
	event_base_dispatch(srv->s_base);

	/* Stop accepting, let the writer finish what it has, stop workers. */
	evconnlistener_disable(srv->s_listener);
	admin_stop(srv->s_admin);
	writer_stop(srv->s_writer);
	/* The last head is durable now: into the file and the log. */
	anchor_stop(srv->s_anchor);
	srv->s_anchor = NULL;
	for (i = 0; i < srv->s_nworkers; i++)
		event_active(srv->s_workers[i].w_stop_ev, EV_READ, 0);
	for (i = 0; i < srv->s_nworkers; i++)
		pthread_join(srv->s_workers[i].w_thread, NULL);
	/* Every connection and call is gone: so is what they were counted for. */
	if (srv->s_mem != 0 || srv->s_resv != 0)
		log_warnx("memory accounting: %zu bytes held and %zu reserved "
		    "left at exit", srv->s_mem, srv->s_resv);
	/* No worker can submit any more. */
	writer_free(srv->s_writer);
	srv->s_writer = NULL;
	guard_stop(srv->s_guard);
	srv->s_guard = NULL;
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	return 0;
}

void
server_free(struct server *srv)
{
	int i;
	size_t k;

	if (srv == NULL)
		return;
	/* Its watch timers live on the workers' and the main event bases. */
	admin_free(srv->s_admin);
	for (i = 0; i < srv->s_nworkers; i++)
		worker_free(&srv->s_workers[i]);
	free(srv->s_workers);
	if (srv->s_listener != NULL)
		evconnlistener_free(srv->s_listener);
	if (srv->s_accept_resume != NULL)
		event_free(srv->s_accept_resume);
	if (srv->s_stop_ev != NULL)
		event_free(srv->s_stop_ev);
	if (srv->s_trim_ev != NULL)
		event_free(srv->s_trim_ev);
	event_base_free(srv->s_base);
	store_close(srv->s_store);
	quota_free(srv->s_quota);
	tls_server_free(cur_slot->tsl_ts);
	free(cur_slot);
	for (k = 0; k < TLS_SLOTS_MAX; k++)
		if (old_slots[k] != NULL) {
			tls_server_free(old_slots[k]->tsl_ts);
			free(old_slots[k]);
		}
	pthread_mutex_destroy(&srv->s_tls_mtx);
	pthread_mutex_destroy(&srv->s_mem_mtx);
	pcount_free(srv->s_pcount);
	tls_tickets_free(srv->s_tickets);
	free(srv);
	libevent_global_shutdown();
}
