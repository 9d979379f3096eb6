/*
 * conn: one client connection on a worker — the TLS bufferevent, the
 * handshake and identity, framing with its limits, backpressure (requests in
 * flight, output size), timeouts, and sending responses. Requests go to
 * dispatch; answers come back through the call's sink.
 */
#ifndef EENPLAN_CONN_H
#define EENPLAN_CONN_H

#include <stdint.h>
#include <sys/queue.h>

#include "wire.h"
#include "principal.h"

struct worker;
struct bufferevent;

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
	uint32_t		 c_inflight;	/* requests not yet answered */
	uint32_t		 c_refs;	/* 1 while open + 1 per request in flight */
	int			 c_read_paused;
	struct event		*c_hs_timer;	/* handshake deadline */
	TAILQ_ENTRY(conn)	 c_entry;
};

/* Adopts an accepted socket on worker w (its thread). Closes fd on failure. */
void	conn_accept(struct worker *w, int fd, const char *peer);

/* Closes every connection of a worker (shutdown). */
void	conn_close_all(struct worker *w);

void	conn_ref(struct conn *);
void	conn_unref(struct conn *);

#endif
