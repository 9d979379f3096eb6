/*
 * conn: one client connection on a worker — the TLS bufferevent, the
 * handshake and identity, framing with its limits, backpressure (requests in
 * flight, the bytes a connection and the daemon hold), deadlines, and
 * sending answers. Requests go to dispatch; answers come back through the
 * call's sink.
 */
#ifndef EENPLAN_CONN_H
#define EENPLAN_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "wire.h"
#include "principal.h"

struct worker;
struct bufferevent;
struct evbuffer_cb_entry;
struct event;
struct call;
struct conn_req;
struct tls_server;

enum conn_state {
	CONN_HANDSHAKE = 0,
	CONN_READY,
	CONN_CLOSING,		/* flushing its last output */
	CONN_CLOSED		/* bufferevent gone; struct lives while jobs reference it */
};

struct conn {
	struct worker		*c_worker;
	struct bufferevent	*c_bev;
	enum conn_state		 c_state;
	struct principal	 c_who;
	uint64_t		 c_id;		/* for log lines */
	uint64_t		 c_tls_gen;	/* TLS context its identity was checked under */
	uint32_t		 c_inflight;	/* requests not yet answered */
	uint32_t		 c_refs;	/* 1 while open + 1 per request in flight */
	int			 c_read_paused;
	int			 c_counted;	/* holds a place in its principal's count */
	/*
	 * Its certificate was refused after a reload: a write of it still
	 * waiting in the writer is not carried out (atomic; the writer reads).
	 */
	int			 c_cut;
	int			 c_waiting;	/* on the worker's list: no room daemon-wide */
	int			 c_woken;	/* taken off that list: may go first */
	int			 c_frame_armed;	/* c_frame_timer runs for a begun frame */
	struct tls_server	*c_hs_tls;	/* its SSL's context, held until identified */
	struct event		*c_hs_timer;	/* handshake deadline */
	struct event		*c_frame_timer;	/* begun frame's deadline; closing grace */
	/* What it holds, as counted in the server's totals (see conn.c). */
	size_t			 c_in;		/* received, not yet taken */
	size_t			 c_out;		/* answers not yet sent */
	size_t			 c_req;		/* decoded requests on their way */
	size_t			 c_resv;	/* reserved for their answers */
	struct evbuffer_cb_entry *c_in_cb;
	struct evbuffer_cb_entry *c_out_cb;
	/* A decoded request waiting for room for its answer. */
	struct call		*c_parked;
	EpRequest		*c_parked_req;
	size_t			 c_parked_mem;
	size_t			 c_parked_resv;
	LIST_HEAD(, conn_req)	 c_reqs;	/* in flight, with their ids */
	TAILQ_ENTRY(conn)	 c_entry;
	TAILQ_ENTRY(conn)	 c_wait_entry;
};

/* Adopts an accepted socket on worker w (its thread). Closes fd on failure. */
void	conn_accept(struct worker *w, int fd, const char *peer);

/* Closes every connection of a worker (shutdown). */
void	conn_close_all(struct worker *w);

void	conn_ref(struct conn *);
void	conn_unref(struct conn *);

/*
 * On w's thread, after a reload: every open connection's certificate is
 * checked against the new context (CRLs, expiry, organisation rules); the
 * ones now refused are closed at once, their answers dropped. A few at a
 * time: it re-arms itself until all are done.
 */
void	conn_reverify(struct worker *w);

/* On w's thread: memory is free again; w's waiting connections go on. */
void	conn_mem_wake(struct worker *w);

/*
 * On w's thread, every tick while the daemon holds more than memory_max
 * allows: the heaviest connection of the daemon, if it is w's, is cut.
 */
void	conn_mem_tick(struct worker *w);

#endif
