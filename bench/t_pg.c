/*
 * t_pg: the PostgreSQL reference for the bench — libpq in its non-blocking
 * mode on the bench's epoll loop, over TLS with the same client certificate
 * (the server maps its CN to the database role; pg_hba "cert"). One query in
 * flight per connection. Each request is one statement, so one implicit
 * transaction, committed with synchronous_commit on:
 *
 *   get-audit     SELECT the 2 KB plan (row-level security: the regisseur's
 *                 rows only) + INSERT one audit row
 *   update-audit  UPDATE the plan row (version, a 200-byte note) + INSERT one
 *                 audit row
 *
 * The schema is made by bench/run.py (see there).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <libpq-fe.h>

#include "bench.h"

enum { PG_GET, PG_UPDATE, PG_PREPARE = 20 };

const char *const pg_ops[] = { "get-audit", "update-audit", NULL };

static const char pg_sql_get[] =
    "WITH p AS (SELECT body FROM plans WHERE id = $1), "
    "a AS (INSERT INTO audit (action, household, outcome) "
    "SELECT 'GetPlan', $1, CASE WHEN EXISTS (SELECT 1 FROM p) "
    "THEN 'OK' ELSE 'PERMISSION_DENIED' END) "
    "SELECT body FROM p";

static const char pg_sql_update[] =
    "WITH u AS (UPDATE plans SET version = version + 1, last_note = $2, "
    "updated_at = now() WHERE id = $1 RETURNING version), "
    "a AS (INSERT INTO audit (action, household, outcome) "
    "SELECT 'MutatePlan', $1, CASE WHEN EXISTS (SELECT 1 FROM u) "
    "THEN 'OK' ELSE 'PERMISSION_DENIED' END) "
    "SELECT version FROM u";

struct pgslot {
	PGconn	*ps_c;
	int	 ps_ok;		/* the current query's result was right */
	int	 ps_got;	/* a result came for the current query */
	char	 ps_err[200];
};

static PGconn *
pg_conn(struct slot *s)
{
	return ((struct pgslot *)s->s_pg)->ps_c;
}

static void
pg_fail(struct slot *s, const char *what)
{
	char msg[300];
	const char *e = PQerrorMessage(pg_conn(s));
	size_t n = strcspn(e, "\n");

	snprintf(msg, sizeof(msg), "%s: %.*s", what, (int)(n > 200 ? 200 : n), e);
	bench_slot_fail(s, msg);
}

/* Follows libpq's socket, which can change while connecting. */
static void
pg_watch(struct slot *s, uint32_t events)
{
	int fd = PQsocket(pg_conn(s));

	if (fd != s->s_fd) {
		s->s_fd = fd;
		s->s_ev = 0;
	}
	if (fd >= 0)
		tconn_watch(s, events);
}

int
pg_connect(struct slot *s)
{
	struct bench *b = s->s_b;
	const struct bench_opts *o = &b->b_o;
	struct pgslot *ps;
	const char *kw[] = { "host", "port", "dbname", "user", "sslmode",
	    "sslcert", "sslkey", "sslrootcert", "application_name",
	    "connect_timeout", NULL };
	const char *val[11];

	if (s->s_pg == NULL && (s->s_pg = calloc(1, sizeof(*ps))) == NULL) {
		bench_slot_fail(s, "out of memory");
		return -1;
	}
	ps = s->s_pg;
	val[0] = b->b_host[s->s_server];
	val[1] = b->b_port[s->s_server];
	val[2] = o->o_pg_db;
	val[3] = o->o_pg_user;
	val[4] = o->o_insecure ? "require" : "verify-full";
	val[5] = o->o_cert;
	val[6] = o->o_key;
	val[7] = o->o_ca;
	val[8] = "eenplan-bench";
	val[9] = "10";
	val[10] = NULL;
	s->s_t_conn = bench_now();
	s->s_st = SL_CONNECTING;
	s->s_fd = -1;
	s->s_ev = 0;
	if ((ps->ps_c = PQconnectStartParams(kw, val, 0)) == NULL) {
		bench_slot_fail(s, "PQconnectStartParams: out of memory");
		return -1;
	}
	if (PQstatus(ps->ps_c) == CONNECTION_BAD) {
		pg_fail(s, "connect");
		return -1;
	}
	pg_watch(s, EPOLLOUT);
	return s->s_st == SL_DEAD ? -1 : 0;
}

void
pg_close(struct slot *s)
{
	struct pgslot *ps = s->s_pg;

	if (ps != NULL && ps->ps_c != NULL) {
		PQfinish(ps->ps_c);	/* closes the socket: it leaves epoll */
		ps->ps_c = NULL;
	}
	s->s_fd = -1;
	s->s_ev = 0;
	s->s_st = SL_IDLE;
}

static int
pg_flush(struct slot *s)
{
	int r = PQflush(pg_conn(s));

	if (r < 0) {
		pg_fail(s, "send");
		return -1;
	}
	pg_watch(s, EPOLLIN | (r == 1 ? EPOLLOUT : 0));
	return 0;
}

static int
pg_prepare_next(struct slot *s)
{
	struct flight *f;
	int which = s->s_pg_stage++;

	if (which > 1) {
		bench_slot_ready(s);
		return 0;
	}
	if ((f = flight_new(s)) == NULL)
		return -1;
	((struct pgslot *)s->s_pg)->ps_ok = 0;
	((struct pgslot *)s->s_pg)->ps_got = 0;
	f->fl_op = PG_PREPARE;
	f->fl_t0 = bench_now();
	if (!PQsendPrepare(pg_conn(s), which == 0 ? "g" : "u",
	    which == 0 ? pg_sql_get : pg_sql_update, which == 0 ? 1 : 2, NULL)) {
		pg_fail(s, "prepare");
		return -1;
	}
	return pg_flush(s);
}

int
pg_send(struct slot *s, int op, int64_t t0)
{
	struct pgslot *ps = s->s_pg;
	struct flight *f;
	const char *vals[2];
	char note[BENCH_NOTE_LEN + 1];

	if (s->s_nfl > 0 || (f = flight_new(s)) == NULL)
		return -1;	/* one query at a time */
	f->fl_op = (uint8_t)op;
	f->fl_t0 = t0;
	ps->ps_ok = 0;
	ps->ps_got = 0;
	vals[0] = bench_pick_hh(s->s_b);
	memcpy(note, bench_note(s->s_b), BENCH_NOTE_LEN);
	note[BENCH_NOTE_LEN] = '\0';
	vals[1] = note;
	if (!PQsendQueryPrepared(ps->ps_c, op == PG_GET ? "g" : "u",
	    op == PG_GET ? 1 : 2, vals, NULL, NULL, 1)) {
		pg_fail(s, "send");
		return -1;
	}
	return pg_flush(s);
}

/* Looks at one result of the current query. */
static void
pg_result(struct slot *s, struct flight *f, PGresult *res)
{
	struct pgslot *ps = s->s_pg;
	ExecStatusType st = PQresultStatus(res);

	if (ps->ps_got++ > 0) {
		ps->ps_ok = 0;
		snprintf(ps->ps_err, sizeof(ps->ps_err), "more than one result");
		return;
	}
	if (f->fl_op == PG_PREPARE) {
		ps->ps_ok = st == PGRES_COMMAND_OK;
	} else if (st != PGRES_TUPLES_OK) {
		ps->ps_ok = 0;
	} else if (PQntuples(res) != 1) {
		ps->ps_ok = 0;
		snprintf(ps->ps_err, sizeof(ps->ps_err), "%s: %d rows "
		    "(row-level security or a missing row)", pg_ops[f->fl_op],
		    PQntuples(res));
		return;
	} else if (f->fl_op == PG_GET)
		ps->ps_ok = PQgetlength(res, 0, 0) == BENCH_VALUE_LEN;
	else
		ps->ps_ok = 1;
	if (!ps->ps_ok) {
		const char *e = PQresultErrorMessage(res);
		size_t n = strcspn(e, "\n");

		snprintf(ps->ps_err, sizeof(ps->ps_err), "%s: %s %.*s",
		    f->fl_op == PG_PREPARE ? "prepare" : pg_ops[f->fl_op],
		    PQresStatus(st), (int)(n > 150 ? 150 : n), e);
	}
}

/* The current query is complete. */
static void
pg_complete(struct slot *s, struct flight *f, size_t bytes)
{
	struct pgslot *ps = s->s_pg;
	int op = f->fl_op, ok = ps->ps_ok && ps->ps_got == 1;
	int64_t t0 = f->fl_t0;

	flight_release(s, f);
	if (op == PG_PREPARE) {
		if (!ok) {
			bench_slot_fail(s, ps->ps_err);
			return;
		}
		(void)pg_prepare_next(s);
		return;
	}
	if (!ok && ps->ps_got == 0)
		snprintf(ps->ps_err, sizeof(ps->ps_err), "%s: no result",
		    pg_ops[op]);
	bench_done(s, op, t0, ok, ok ? NULL : ps->ps_err, bytes);
}

static void
pg_connecting(struct slot *s)
{
	switch (PQconnectPoll(pg_conn(s))) {
	case PGRES_POLLING_READING:
		pg_watch(s, EPOLLIN);
		return;
	case PGRES_POLLING_WRITING:
		pg_watch(s, EPOLLOUT);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(pg_conn(s), 1) != 0) {
			pg_fail(s, "non-blocking mode");
			return;
		}
		s->s_t_hs = bench_now();
		s->s_st = SL_SETUP;
		s->s_pg_stage = 0;
		(void)pg_prepare_next(s);
		return;
	case PGRES_POLLING_FAILED:
	case PGRES_POLLING_ACTIVE:
	default:
		pg_fail(s, "connect");
		return;
	}
}

void
pg_event(struct slot *s, uint32_t events)
{
	PGconn *c;
	PGresult *res;

	if (s->s_st == SL_CONNECTING) {
		pg_connecting(s);
		return;
	}
	if (s->s_st != SL_SETUP && s->s_st != SL_READY)
		return;
	c = pg_conn(s);
	if ((events & EPOLLOUT) && pg_flush(s) != 0)
		return;
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) == 0)
		return;
	if (!PQconsumeInput(c)) {
		pg_fail(s, "read");
		return;
	}
	while (s->s_nfl > 0 && !PQisBusy(c)) {
		struct flight *f = flight_oldest(s);

		if ((res = PQgetResult(c)) != NULL) {
			pg_result(s, f, res);
			PQclear(res);
			continue;
		}
		pg_complete(s, f, 0);
		if (s->s_st != SL_SETUP && s->s_st != SL_READY)
			return;
		c = pg_conn(s);
	}
}
