/*
 * eenplan_sync: follow the change feed as a partner system does — catch up
 * with ReadChanges, then stay live with Subscribe — and survive what a
 * long-running follower meets: a dropped connection, a restarted daemon, a
 * subscription ended for falling behind. It reconnects with bounded
 * exponential back-off and resumes after the last cursor the caller
 * acknowledged, so nothing is missed and nothing is handed out twice.
 * Blocking, one thread; built on eenplan_client.
 */
#ifndef EENPLAN_SYNC_H
#define EENPLAN_SYNC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "eenplan_client.h"

#define EP_SYNC_BACKOFF_MIN_MS	100
#define EP_SYNC_BACKOFF_MAX_MS	30000
#define EP_SYNC_HEARTBEAT_MS	60000	/* a quiet connection is checked this often */
#define EP_SYNC_TICK_MS		250	/* the stop flag is looked at this often */

/* An event callback's answer: not handled, reconnect and hand it out again. */
#define EP_SYNC_RETRY		(-2)
/* ep_sync_run: the server refused in a way retrying cannot mend. */
#define EP_SYNC_REFUSED		(-3)

/*
 * Called per event (ev set, cursor = its seq), and with ev NULL when the
 * feed has been read up to cursor and the cursor moved past the last event
 * handed out (events the caller may not see move it too). cl is the live
 * connection, for calls such as GetPlan. Return 0 once the event is
 * handled: the caller keeps cursor (persists it, for a restart), and a
 * resume starts after it. EP_SYNC_RETRY: not handled (e.g. the connection
 * failed under a call) — ep_sync_run reconnects and hands it out again.
 * Any other value stops ep_sync_run, which returns it.
 */
typedef int	ep_sync_event_fn(struct ep_client *cl, const EpChangeEvent *ev,
		    uint64_t cursor, void *arg);
/* Makes a connection (instead of host/port/cert/key/ca); NULL with err. */
typedef struct ep_client *ep_sync_connect_fn(void *arg, char *err,
		    size_t errlen);
/* A line for a person: reconnecting, resumed, given up. */
typedef void	ep_sync_log_fn(void *arg, const char *msg);

struct ep_sync_opts {
	const char	*so_host;
	const char	*so_port;
	const char	*so_cert;
	const char	*so_key;
	const char	*so_ca;
	ep_sync_connect_fn *so_connect;		/* set: used instead of the above */
	void		*so_connect_arg;
	struct ep_client *so_client;		/* a connection to start with: taken over */
	uint64_t	 so_since;		/* the caller's cursor: events after it */
	int		 so_once;		/* read to the end of the feed, then return */
	int		 so_backoff_min_ms;	/* 0: EP_SYNC_BACKOFF_MIN_MS */
	int		 so_backoff_max_ms;	/* 0: EP_SYNC_BACKOFF_MAX_MS */
	int		 so_max_failures;	/* failed attempts in a row, then give up; 0: never */
	uint32_t	 so_page;		/* ReadChanges limit; 0: the server's default */
	int		 so_heartbeat_ms;	/* 0: EP_SYNC_HEARTBEAT_MS */
	volatile sig_atomic_t *so_stop;		/* set (by a signal handler): return soon */
	ep_sync_log_fn	*so_log;
	void		*so_log_arg;
};

/*
 * Follows the feed from so_since, calling cb as described above, until the
 * stop flag is set (returns 0), with so_once until the end of the feed as it
 * was when reached (0), or until cb stops it (returns cb's value). With err
 * set: -1, given up after so_max_failures failed attempts in a row;
 * EP_SYNC_REFUSED, the server refused in a way retrying cannot mend
 * (PERMISSION_DENIED, DATA_LOSS, ...). *cursor (may be NULL) is the last
 * cursor cb acknowledged. Every connection it made or took over is closed.
 */
int	ep_sync_run(const struct ep_sync_opts *o, ep_sync_event_fn *cb,
	    void *arg, uint64_t *cursor, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * The wait before attempt number failures + 1 (failures >= 1 in a row):
 * min_ms doubled per failure, at most max_ms, and then a point in the upper
 * half of that chosen by rnd (jitter, so many followers of one restarted
 * daemon do not come back in step). Pure.
 */
int	ep_sync_backoff(int failures, int min_ms, int max_ms, uint32_t rnd);

/* 1 when a status from the server is worth retrying (the server may mend). */
int	ep_sync_retryable(int code);

#endif
