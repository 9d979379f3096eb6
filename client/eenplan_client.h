/*
 * eenplan_client: a small blocking client for eenpland — a mutual-TLS
 * connection, calls whose responses are matched by id, and subscriptions.
 * Shares nothing with the daemon but proto/. One client object is not to be
 * used by two threads at once.
 */
#ifndef EENPLAN_CLIENT_H
#define EENPLAN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define EP_CLIENT_DEFAULT_BUDGET	(16u * 1024u * 1024u)	/* decode memory per response */
#define EP_CLIENT_DEFAULT_TIMEOUT_MS	30000	/* waiting for one response */
#define EP_CLIENT_CONNECT_TIMEOUT_MS	10000	/* TCP connect, then again for the handshake */
#define EP_CLIENT_MAX_INFLIGHT		64	/* requests sent and not yet answered */
#define EP_CLIENT_MAX_SUBS		16
#define EP_CLIENT_MAX_QUEUED		4096	/* frames read ahead of the caller */

struct ep_client;

/*
 * Connects to host:port over TCP, then TLS 1.2+ with our certificate and key,
 * verifying the server against the CA file and its name (or IP address) and
 * requiring ALPN "eenplan/1". A key file readable by group or others is
 * refused. Returns NULL with a message for a person in err.
 */
struct ep_client *ep_client_connect(const char *host, const char *port,
	    const char *cert, const char *key, const char *ca, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/*
 * A client over an already connected stream socket without TLS; it owns fd
 * from here on. For tests and for a transport set up by the caller (e.g. a
 * TLS-terminating local proxy); eenpland itself only speaks TLS.
 */
struct ep_client *ep_client_from_fd(int fd, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/* Largest frame accepted or sent (default WIRE_DEFAULT_MAX_FRAME, >= 64). */
void	ep_client_set_max_frame(struct ep_client *, uint32_t max);
/* Decode budget per response; 0 unpacks with protobuf-c's default allocator. */
void	ep_client_set_budget(struct ep_client *, size_t budget);
/* How long a call waits for its response; -1 waits for ever. */
void	ep_client_set_timeout(struct ep_client *, int timeout_ms);

/*
 * Sends req, assigning req->id (1, 2, ...; written back to req and *id).
 * Several requests may be in flight; collect each with ep_client_wait.
 * 0, or -1 with err set.
 */
int	ep_client_send(struct ep_client *, EpRequest *req, uint64_t *id,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Reads until the response with this id arrives, whatever order the server
 * answers in; other frames are kept for their own wait or for
 * ep_client_next_event. Returns 0 with *resp set (its status may be an error:
 * see ep_client_status), -1 on a transport or protocol error or timeout.
 */
int	ep_client_wait(struct ep_client *, uint64_t id, EpResponse **resp,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/* ep_client_send + ep_client_wait. */
int	ep_client_call(struct ep_client *, EpRequest *req, EpResponse **resp,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Releases a response or event of this client (NULL is fine). Responses not
 * released are released by ep_client_close: none outlives its client.
 */
void	ep_client_response_free(struct ep_client *, EpResponse *);

/*
 * Subscribes to the change feed from since_seq. Returns like ep_client_call
 * with the server's confirmation in *resp; when its status is OK the
 * subscription is live, *sub_id names it and its events come from
 * ep_client_next_event.
 */
int	ep_client_subscribe(struct ep_client *, uint64_t since_seq,
	    uint64_t *sub_id, EpResponse **resp, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/* Ends a subscription; its events still queued are dropped. Like call. */
int	ep_client_unsubscribe(struct ep_client *, uint64_t sub_id,
	    EpResponse **resp, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * The next event of any live subscription: 1 with *ev set, 0 when none came
 * within timeout_ms (-1: wait for ever; 0: only what is already here), -1 on
 * error. An event with a non-OK status ends its subscription.
 */
int	ep_client_next_event(struct ep_client *, int timeout_ms,
	    EpResponse **ev, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/* Sends close_notify (best effort), closes and frees. NULL is fine. */
void	ep_client_close(struct ep_client *);

/* The status code of a response (absent status = OK) and its message ("" if none). */
int	    ep_client_status(const EpResponse *);
const char *ep_client_status_message(const EpResponse *);

/*
 * Splits "host:port", "[v6addr]:port" or "host" (port = defport) into the
 * two buffers. 0, or -1 when malformed or too long.
 */
int	ep_client_split_hostport(const char *s, const char *defport,
	    char *host, size_t hostlen, char *port, size_t portlen)
	    __attribute__((warn_unused_result));

#endif
