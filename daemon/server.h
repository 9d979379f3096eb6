/*
 * server: the listener and the worker threads. The main thread accepts and
 * hands each socket to a worker; each worker runs its own event_base with
 * the connections it owns, its own read transaction, and a mailbox where
 * the writer thread drops finished jobs. Only server.c and conn.c touch
 * libevent.
 */
#ifndef EENPLAN_SERVER_H
#define EENPLAN_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "call.h"
#include "config.h"
#include "consent.h"
#include "household.h"
#include "store.h"
#include "writer.h"

struct event_base;
struct event;
struct evconnlistener;
struct conn;
struct tls_server;
struct admin;
struct tls_tickets;
struct principal;

/* Finished writer jobs for one worker, and the event that wakes it. */
struct mailbox {
	pthread_mutex_t	 mb_mtx;
	struct wjob	*mb_head;
	struct wjob	*mb_tail;
	struct event	*mb_ev;
};

/* Accepted sockets waiting for a worker to adopt them. */
struct fdq_item {
	int			 fq_fd;
	char			 fq_peer[64];
	STAILQ_ENTRY(fdq_item)	 fq_entry;
};

struct worker {
	int			 w_id;
	pthread_t		 w_thread;
	struct server		*w_srv;
	struct event_base	*w_base;
	struct stxn		*w_rtxn;	/* this thread's read txn handle */
	struct call_env		 w_env;		/* what its calls may use */
	struct mailbox		 w_mailbox;
	pthread_mutex_t		 w_fdq_mtx;
	STAILQ_HEAD(, fdq_item)	 w_fdq;
	struct event		*w_fdq_ev;
	struct event		*w_stop_ev;	/* ends the loop, from any thread */
	struct event		*w_feed_ev;	/* the feed moved (from the writer) */
	int			 w_stopping;
	TAILQ_HEAD(, conn)	 w_conns;
	uint32_t		 w_nconns;
	struct event		*w_reverify_ev;	/* a reload: check open connections */
	/* Memory: connections waiting for room, and the cutting tick. */
	struct event		*w_mem_ev;	/* room again, or over: look */
	struct event		*w_mem_timer;	/* while over memory_max */
	struct event		*w_trim_ev;	/* after a burst: give back (main) */
	TAILQ_HEAD(, conn)	 w_waiters;
	uint32_t		 w_nwaiters;	/* atomic */
	int			 w_wake_pending; /* atomic */
	size_t			 w_heavy;	/* heaviest connection, last tick (s_mem_mtx) */
};

struct pcount;

struct server {
	const struct config	*s_conf;
	struct consent_conf	 s_consent;
	struct consent_org	 s_orgs[CONFIG_MAX_ORGS];
	struct household_conf	 s_hh;
	struct quota		*s_quota;
	struct store		*s_store;
	struct writer		*s_writer;
	struct event_base	*s_base;	/* main thread: listener, signals */
	struct evconnlistener	*s_listener;
	struct event		*s_accept_resume;
	struct worker		*s_workers;
	int			 s_nworkers;
	unsigned		 s_next_worker;
	pthread_mutex_t		 s_tls_mtx;
	struct tls_server	*s_tls;		/* current context; swapped on SIGHUP */
	uint64_t		 s_tls_gen;	/* its generation (s_tls_mtx) */
	struct tls_tickets	*s_tickets;	/* NULL: no session resumption */
	uint32_t		 s_nconns;	/* atomic */
	struct pcount		*s_pcount;	/* connections per principal */
	/*
	 * Memory held for connections (atomics): s_mem is what they hold
	 * (received bytes, decoded requests, unsent answers), s_resv what is
	 * reserved for answers on their way. A frame is taken only while both
	 * together leave room for its answer under memory_max; s_mem alone
	 * above s_mem_low for long means the room is held by readers that do
	 * not read: the heaviest connection is cut (s_mem_over).
	 */
	size_t			 s_mem;
	size_t			 s_resv;
	size_t			 s_mem_low;	/* memory_max less a slack */
	int			 s_mem_over;
	int64_t			 s_mem_over_since; /* ms, monotonic */
	pthread_mutex_t		 s_mem_mtx;
	struct event		*s_trim_ev;	/* gives memory back after a burst */
	size_t			 s_trim_peak_mem;
	uint32_t		 s_trim_peak_conns;
	int64_t			 s_trim_last;	/* ms, monotonic */
	int			 s_stopping;
	int			 s_accept_paused; /* out of descriptors (main thread) */
	struct anchor		*s_anchor;	/* the audit head outside the store */
	struct guard		*s_guard;	/* the data file under us */
	struct event		*s_stop_ev;	/* stops the daemon, from any thread */
	struct admin		*s_admin;	/* [admin] listen, or NULL */
};

/* Builds everything from a loaded config; fatal on failure. */
struct server *server_new(const struct config *);
/* Runs until SIGTERM/SIGINT; SIGHUP reloads certificates and CRLs. */
int	server_run(struct server *);
void	server_free(struct server *);

/*
 * The current TLS context, referenced, and its generation (gen may be
 * NULL); release with server_tls_put.
 */
struct tls_server *server_tls_get(struct server *, uint64_t *gen);
void	server_tls_put(struct server *, struct tls_server *);

/*
 * Connections per (organisation, subject), across workers: 0 and counted,
 * or -1 when max_connections_per_principal are open already (*n: that many).
 */
int	server_principal_hold(struct server *, const struct principal *,
	    uint32_t *n) __attribute__((warn_unused_result));
void	server_principal_release(struct server *, const struct principal *);

/*
 * Memory: changes to the bytes held and reserved (from any thread); wakes
 * waiting connections when room is back, starts the cutting when held
 * bytes stay too high. server_mem_spare: the bytes that may still be
 * reserved under memory_max (0 while connections hold too much).
 */
void	server_mem_change(struct server *, int64_t held, int64_t resv);
size_t	server_mem_spare(struct server *);
/* 1 when connections hold too much for long enough that one is cut. */
int	server_mem_cutting(struct server *);
/* 1 when worker w's heaviest (bytes) is the daemon's: w cuts it. */
int	server_mem_elect(struct server *, struct worker *w, size_t bytes);

/* From any thread: queue a finished job for its worker and wake it. */
void	mailbox_post(struct mailbox *, struct wjob *);

#endif
