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
};

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
	uint32_t		 s_nconns;	/* atomic */
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

/* The current TLS context, referenced; release with server_tls_put. */
struct tls_server *server_tls_get(struct server *);
void	server_tls_put(struct server *, struct tls_server *);

/* From any thread: queue a finished job for its worker and wake it. */
void	mailbox_post(struct mailbox *, struct wjob *);

#endif
