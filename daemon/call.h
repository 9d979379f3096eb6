/*
 * call: one request's life from its decoded frame to its answer — the
 * status, the audit record, the worker's read transaction, the hand-off to
 * the writer, and the answer. A handler ends a call in one of three ways:
 * call_reply (nothing to audit), call_audit_reply (reads: the record — and
 * the consent decision, again, in the commit's transaction — are committed
 * by the writer before the answer leaves), or call_write (the writer runs
 * the change and its record in one child transaction, then answers).
 *
 * A call knows the world through its env (what the handlers may use) and
 * its sink (how the connection takes the answer): no server, no worker,
 * no connection here.
 */
#ifndef EENPLAN_CALL_H
#define EENPLAN_CALL_H

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"
#include "principal.h"
#include "consent.h"
#include "household.h"
#include "store.h"
#include "writer.h"

struct config;
struct quota;
struct subs;

#define CALL_SEEN	1024

/* Short names for the wire enums, for every handler. */

/* What a call may use: one per worker, set up by the server. */
struct call_env {
	const struct config		*ce_conf;
	const struct consent_conf	*ce_consent;
	const struct household_conf	*ce_hh;
	struct writer			*ce_writer;
	struct quota			*ce_quota;
	struct subs			*ce_subs;	/* this worker's subscriptions */
	struct stxn			*ce_reader;	/* this worker's */
	uint64_t			*ce_seen;	/* CALL_SEEN hashes of people
							   this worker has made known */
	/* From the writer thread: hands a finished job back to this worker. */
	void				(*ce_post)(void *, struct wjob *);
	void				*ce_post_arg;
};

/*
 * How the answer leaves: the connection's. cs_send takes the frame (a
 * malloc'd buffer, the frame at buf + off, len bytes; free(buf) when sent)
 * and ends the request's hold on the connection; buf NULL: no answer.
 */
struct call_sink {
	void	(*cs_send)(void *arg, uint8_t *buf, size_t off, size_t len);
	/* One more answer of a call that goes on (a subscription's events). */
	void	(*cs_push)(void *arg, uint8_t *buf, size_t off, size_t len);
	/* Bytes queued and not yet sent; SIZE_MAX when the connection is gone. */
	size_t	(*cs_pending)(void *arg);
	/*
	 * 0 once the caller may no longer act (its certificate was revoked
	 * while the call waited): the writer then changes nothing. Called in
	 * the writer thread. NULL: always may.
	 */
	int	(*cs_live)(void *arg);
	void	*cs_arg;
	/*
	 * Who the call belongs to beyond itself (the connection): another
	 * call of the same owner may end it (Unsubscribe). May be NULL.
	 */
	void	*cs_owner;
	uint32_t cs_max_frame;
};

/* A decision a prepared read was built on, checked again at commit. */
struct call_check {
	char		cc_hhid[33];
	int		cc_op;		/* enum consent_op */
	int		cc_access;
	uint32_t	cc_scope;
	/*
	 * The stored standing record the decision was made on (unset: the
	 * writer decides again in full), the moment it was made for, and
	 * until when its grants stay as they were (consent_decision).
	 */
	struct store_stamp cc_stamp;
	int64_t		cc_at;
	int64_t		cc_until;
};

struct call {
	const struct call_env	*ca_env;
	struct call_sink	 ca_sink;
	struct principal	 ca_who;
	uint64_t		 ca_id;
	int64_t			 ca_now;
	EpRequest		*ca_req;	/* decoded within ca_budget */
	struct wire_budget	 ca_budget;
	/* the answer */
	int			 ca_code;	/* EENPLAN__V1__CODE__* */
	char			 ca_msg[256];
	EpResponse		 ca_resp;
	ProtobufCMessage	*ca_body;	/* malloc'd; freed with the call */
	uint8_t			*ca_frame;	/* or a prepared frame (buf) */
	size_t			 ca_frame_off;
	size_t			 ca_frame_len;
	/* the record of it */
	EpAuditRecord		*ca_audit;
	struct wjob		 ca_job;
	wjob_exec_fn		 ca_exec;	/* the handler's part in the writer */
	int			 ca_write;	/* a change: charged to the quota */
	struct call_check	*ca_checks;
	size_t			 ca_nchecks;
	/* After the writer: instead of answering (a Subscribe goes on). */
	void			(*ca_on_done)(struct call *);
	/* handler state that lives until the answer (freed with the call) */
	void			*ca_state;
	void			(*ca_state_free)(void *);
	/* for metrics: when its frame was taken, and whether it was counted */
	int64_t			 ca_start;	/* metrics_now_us */
	int			 ca_counted;
};

/*
 * A new call for the caller who; its budget (request_memory bytes) is what
 * the request may be decoded into: unpack with &call->ca_budget.wb_alloc,
 * then hand the result to dispatch_request.
 */
struct call *call_new(const struct call_env *, const struct call_sink *,
	    const struct principal *who, size_t budget);
void	call_free(struct call *);

/*
 * Makes the caller known to the deployment (the writer records it among the
 * people: TransferRegie names only known professionals), once per worker.
 */
void	call_know(struct call *);

/* Handing the call back to its worker (the env's ce_post delivers it). */
void	call_complete(struct wjob *);

/* Endings. */
void	call_reply(struct call *);
void	call_audit_reply(struct call *);
void	call_write(struct call *, wjob_exec_fn);

/* Answer helpers. */
void	call_status(struct call *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	call_body(struct call *, int body_case, void *msg);
/*
 * A prepared frame as the answer (instead of a body): buf is the call's
 * now; the frame is at buf + off, len bytes. Dropped when the call fails.
 */
void	call_frame(struct call *, uint8_t *buf, size_t off, size_t len);
/* The one answer for "no such household" and "not allowed" alike. */
void	call_deny(struct call *);
/* A household id from a request: 0, or -1 with INVALID_ARGUMENT set. */
int	call_check_hhid(struct call *, const char *hhid);
/* Starts the audit record for this call (action = operation name). */
void	call_audit_begin(struct call *, const char *action, const char *hhid);
/*
 * The answer reveals household h (loaded by household_load) under its
 * decision h_dec for op: the writer decides again in the commit's
 * transaction, and a decision that no longer allows it drops the answer
 * (PERMISSION_DENIED, so recorded). 0 or -1.
 */
int	call_check(struct call *, const struct household *h, int op);
/*
 * How many such decisions the writer made again in full (opening the
 * record) since start, rather than finding the decided-on record unchanged
 * and no grant begun or ended since: for tests.
 */
uint64_t call_rechecks_in_full(void);

/* The read txn of the calling worker, begun; NULL (with status set) on error. */
struct stxn *call_reader(struct call *);
void	call_reader_end(struct call *);
/* Loads a household for the caller through t (household_load). */
int	call_household(struct call *, struct stxn *, const char *hhid,
	    struct household *) __attribute__((warn_unused_result));

/* Maps a STORE_* code to a status on the call. */
void	call_store_error(struct call *, int rc);
/* A refusal from the plan model as the call's status ("field: message"). */
void	call_plan_error(struct call *, const struct plan_error *);
/* Items per page: asked, or page_max when 0 or more was asked. */
uint32_t call_page_limit(const struct call *, uint32_t asked);

/* The caller as a wire Principal: pointing into p (for messages only packed). */
void	principal_ep_view(const struct principal *p, EpPrincipal *out);
/* A malloc'd copy, for plan and grant trees (free_unpacked compatible). */
EpPrincipal *principal_ep_new(const struct principal *);

#endif
