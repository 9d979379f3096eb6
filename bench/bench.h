/*
 * bench: the load generator eenplan-bench — one thread, one epoll loop,
 * non-blocking sockets with OpenSSL (or libpq) on them, so the client costs
 * the machine little next to the server it measures. This header is the
 * contract between the loop (eenplan-bench.c), the TLS connection code
 * (tconn.c), the latency histogram (hist.c) and the targets (t_*.c), each of
 * which speaks one server's protocol.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <openssl/ssl.h>

#define BENCH_MAX_OPS		4
#define BENCH_MAX_INFLIGHT	4000	/* per connection; ids keep the slot in 12 bits */
#define BENCH_MAX_SERVERS	16
#define BENCH_ERR_SAMPLES	10	/* distinct error texts kept for the report */
#define BENCH_HHID_LEN		32	/* household ids: 32 hex characters */
#define BENCH_VALUE_LEN		2048	/* references: the stored plan value */
#define BENCH_NOTE_LEN		200	/* MutatePlan / update: the note text */
#define OP_POPULATE		100	/* t_send: the next population step */
#define BENCH_BUF_MAX		(2u * 1024u * 1024u + 65536u)	/* per direction */

/* ---------------------------------------------------------------- hist */

/*
 * A log-linear latency histogram over nanoseconds: exact below 256 ns, then
 * 128 sub-buckets per power of two (relative error under 0.8 %). Reported
 * values are the upper bound of their bucket, so they never flatter.
 */
#define HIST_LINEAR	256
#define HIST_SUB	128
#define HIST_SHIFTS	40
#define HIST_BUCKETS	(HIST_LINEAR + HIST_SHIFTS * HIST_SUB)

struct hist {
	uint64_t	h_count;
	uint64_t	h_sum;
	uint64_t	h_max;
	uint64_t	h_b[HIST_BUCKETS];
};

void		hist_reset(struct hist *);
void		hist_add(struct hist *, uint64_t ns);
uint64_t	hist_pct(const struct hist *, double pct);	/* pct in 0..100 */
void		hist_merge(struct hist *, const struct hist *);

/* ---------------------------------------------------------------- types */

enum bench_target { TGT_EENPLAN, TGT_REDIS, TGT_PG, TGT_TLS };
enum bench_mode { MODE_LOAD, MODE_HANDSHAKE, MODE_RESUME, MODE_POPULATE,
	MODE_IDLE };
enum bench_phase { PH_SETUP, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };

/* Connection states of a slot. */
enum slot_state { SL_IDLE, SL_CONNECTING, SL_HANDSHAKE, SL_SETUP, SL_READY,
	SL_CLOSING, SL_DEAD };

struct buf {
	uint8_t	*b_data;
	size_t	 b_off;		/* consumed (in) or written (out) */
	size_t	 b_len;		/* filled */
	size_t	 b_cap;
	size_t	 b_max;		/* never grown beyond */
};

int	buf_reserve(struct buf *, size_t more) __attribute__((warn_unused_result));
void	buf_compact(struct buf *);
void	buf_free(struct buf *);

/* One request in flight. */
struct flight {
	uint64_t	fl_id;		/* eenplan: request id; 0 = free */
	int64_t		fl_t0;		/* send time, or scheduled time (open loop) */
	uint8_t		fl_op;
	uint8_t		fl_stage;	/* populate: 0 create, 1 notes */
	char		fl_hh[BENCH_HHID_LEN + 1];
};

struct bench;

/* One connection to the server (or to libpq's socket). */
struct slot {
	struct bench	*s_b;
	int		 s_idx;
	enum slot_state	 s_st;
	int		 s_fd;
	uint32_t	 s_ev;		/* events registered with epoll */
	int		 s_want_write;	/* SSL needs the socket writable */
	SSL		*s_ssl;
	SSL_SESSION	*s_sess;	/* resume mode: the latest ticket */
	struct buf	 s_in;
	struct buf	 s_out;
	int64_t		 s_t_conn;	/* connect() began */
	int64_t		 s_t_hs;	/* handshake finished */
	int		 s_resumed;
	int		 s_server;	/* index into the server list */

	struct flight	*s_fl;		/* s_flcap entries */
	unsigned	 s_flcap;
	unsigned	 s_nfl;		/* in flight */
	int		 s_shut_sent;	/* handshake modes: close_notify sent */
	unsigned	 s_fifo_head;	/* redis/pg: oldest in flight */
	uint64_t	 s_seq;		/* eenplan: request id counter */
	int		 s_setup_left;	/* replies still due for the setup */

	void		*s_pg;		/* t_pg: PGconn */
	int		 s_pg_stage;
};

/* What a target does; the loop calls these. */
struct target {
	const char		*t_name;
	const char *const	*t_ops;		/* op names, NULL-terminated */
	/* Connected (TLS done, or libpq connected): start the setup. */
	int	(*t_setup)(struct slot *);
	/* Queues one request of op (index into t_ops), latency from t0. */
	int	(*t_send)(struct slot *, int op, int64_t t0);
	/* Consumes s_in: completes requests with bench_done(). -1: protocol error. */
	int	(*t_input)(struct slot *);
};

extern const struct target target_eenplan;
extern const struct target target_redis;
extern const struct target target_tls;

struct opstat {
	struct hist	os_h;
	uint64_t	os_ok;		/* in the measured window */
	uint64_t	os_err;
	uint64_t	os_bytes;	/* response bytes, in the window */
};

struct bench_opts {
	enum bench_target	 o_target;
	enum bench_mode		 o_mode;
	char			*o_servers[BENCH_MAX_SERVERS];
	int			 o_nservers;
	const char		*o_cert, *o_key, *o_ca;
	const char		*o_servername;	/* name to verify; default the host */
	int			 o_insecure;	/* do not verify the server */
	int			 o_conns;
	int			 o_inflight;
	int			 o_connect_conc;	/* handshakes at once while connecting */
	unsigned		 o_weights[BENCH_MAX_OPS];
	double			 o_warmup, o_duration;
	double			 o_rate;	/* open loop: requests/s; 0 = closed loop */
	const char		*o_households;	/* population file */
	long			 o_populate;	/* households to create */
	int			 o_notes;	/* notes per created household */
	const char		*o_json;
	const char		*o_label;
	const char		*o_pg_db, *o_pg_user;
	long			 o_watch_pid;	/* server pid: CPU and RSS */
	double			 o_settle;	/* idle mode: seconds before reading RSS */
	uint64_t		 o_seed;
	int			 o_quiet;
};

struct bench {
	struct bench_opts	 b_o;
	const struct target	*b_t;
	int			 b_nops;
	int			 b_ep;
	int			 b_tfd;		/* open loop timer */
	SSL_CTX			*b_ctx;
	int			 b_fifo;	/* answers come in request order */
	struct sockaddr_storage	 b_addr[BENCH_MAX_SERVERS];
	socklen_t		 b_addrlen[BENCH_MAX_SERVERS];
	char			 b_host[BENCH_MAX_SERVERS][256];
	char			 b_port[BENCH_MAX_SERVERS][16];
	struct slot		*b_slots;
	enum bench_phase	 b_phase;
	int64_t			 b_t_start, b_t_measure, b_t_end;

	/* population */
	char			(*b_hh)[BENCH_HHID_LEN + 1];
	size_t			 b_nhh;
	size_t			 b_hh_cap;
	long			 b_pop_issued;	/* populate: creations sent */
	long			 b_pop_done;

	/* connecting */
	int			 b_connecting;	/* slots between connect and ready */
	int			 b_next_connect;/* next slot to connect */
	int			 b_ready;
	int			 b_conn_failed;
	int			 b_conn_lost;	/* failed after being ready */

	/* open loop */
	uint64_t		 b_ol_due;	/* scheduled so far */
	uint64_t		 b_ol_sent;
	uint64_t		 b_ol_backlog_max;
	int64_t			 b_ol_t0;

	/* results */
	struct opstat		 b_st[BENCH_MAX_OPS];
	uint64_t		 b_err_total;	/* non-OK answers, every phase */
	uint64_t		 b_ok_total;	/* OK answers, every phase */
	uint64_t		 b_unanswered;	/* still in flight after the drain */
	char			 b_err_text[BENCH_ERR_SAMPLES][160];
	uint64_t		 b_err_count[BENCH_ERR_SAMPLES];
	int			 b_nerr_text;
	uint64_t		 b_hs_full, b_hs_resumed;	/* window */
	uint64_t		 b_rng;

	/* shared request payloads */
	char			*b_notes;	/* random note text pool */
	size_t			 b_notes_len;
	char			 b_value[BENCH_VALUE_LEN];
};

int64_t	bench_now(void);
uint64_t bench_rand(struct bench *);
/* A random household id of the population. */
const char *bench_pick_hh(struct bench *);
/* A pseudo-random note text of BENCH_NOTE_LEN bytes (not NUL-terminated). */
const char *bench_note(struct bench *);

/* A request finished: ok or not (err says why), bytes of the answer. */
void	bench_done(struct slot *, int op, int64_t t0, int ok, const char *err,
	    size_t bytes);
/* Populate: one household done (ok or not); eenplan gives its id. */
void	bench_pop_created(struct slot *, int ok, const char *hhid);
/* The slot's setup finished: it may carry load. */
void	bench_slot_ready(struct slot *);
/* The slot failed: closes it, fails its requests, counts it. */
void	bench_slot_fail(struct slot *, const char *why);
/* Records an error text (counted per distinct text). */
void	bench_err(struct bench *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* In-flight bookkeeping (tconn.c). */
struct flight *flight_new(struct slot *);	/* NULL when full */
struct flight *flight_by_id(struct slot *, uint64_t id);
struct flight *flight_oldest(struct slot *);	/* FIFO targets */
void	flight_release(struct slot *, struct flight *);

/* ---------------------------------------------------------------- tconn */

SSL_CTX	*tconn_ctx(const struct bench_opts *, const char *alpn, int resume,
	    char *err, size_t errlen);
/* Starts a non-blocking connect of s to its server. 0, or -1 (s failed). */
int	tconn_connect(struct slot *);
/* Drives s on an epoll event. */
void	tconn_event(struct slot *, uint32_t events);
/* Sends what s_out holds; 0, or -1 after failing the slot. */
int	tconn_flush(struct slot *);
/* Closes the socket and frees the SSL; the slot becomes SL_IDLE. */
void	tconn_close(struct slot *);
/* Updates the epoll registration of s to events. */
void	tconn_watch(struct slot *, uint32_t events);
/* The text of the OpenSSL error queue (drained), or of errno. */
const char *tconn_ssl_err(char *buf, size_t len);

/* ---------------------------------------------------------------- t_pg */

int	pg_connect(struct slot *);
void	pg_event(struct slot *, uint32_t events);
int	pg_send(struct slot *, int op, int64_t t0);
void	pg_close(struct slot *);
extern const char *const pg_ops[];

/* ---------------------------------------------------------------- loop */

/* Splits host:port of a server. */
int	bench_hostport(const char *s, char *host, size_t hl, char *port, size_t pl);

#endif
