/*
 * t_redis: the redis reference for the bench, RESP over the same TLS
 * connection code and the same client certificate as eenplan.
 *
 *   get        GET hh:<id>                     (the ceiling: a server that writes nothing)
 *   get-audit  EVALSHA: GET + XADD audit entry (an audited read)
 *   set-audit  EVALSHA: SET XX of a new 2 KB value + XADD audit entry
 *
 * The scripts are loaded with SCRIPT LOAD on every connection before the
 * run; the SHA-1 redis returns must be the one computed here.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "bench.h"

enum { RD_GET, RD_GET_AUDIT, RD_SET_AUDIT, RD_LOAD = 20, RD_POP };

static const char *const redis_ops[] = { "get", "get-audit", "set-audit", NULL };

#define RD_ACTOR	"gemeente/a.devries"

static const char rd_get_audit[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "redis.call('XADD', KEYS[2], '*', 'actor', ARGV[1], 'action', 'GetPlan',"
    " 'household', KEYS[1], 'outcome', v and 'OK' or 'NOT_FOUND')\n"
    "return v\n";

static const char rd_set_audit[] =
    "local ok = redis.call('SET', KEYS[1], ARGV[2], 'XX')\n"
    "redis.call('XADD', KEYS[2], '*', 'actor', ARGV[1], 'action', 'MutatePlan',"
    " 'household', KEYS[1], 'outcome', ok and 'OK' or 'NOT_FOUND')\n"
    "if not ok then return redis.error_reply('NOT_FOUND') end\n"
    "return ok\n";

static char rd_sha_get[41], rd_sha_set[41];

static int
rd_sha1(const char *text, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (EVP_Digest(text, strlen(text), md, &n, EVP_sha1(), NULL) != 1 ||
	    n != 20)
		return -1;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* ---------------------------------------------------------------- RESP */

static int
rd_cmd(struct buf *o, int argc, const char *const argv[], const size_t len[])
{
	char hdr[32];
	size_t need = 0;
	int i, n;

	for (i = 0; i < argc; i++)
		need += len[i] + 32;
	if (buf_reserve(o, need + 32) != 0)
		return -1;
	n = snprintf(hdr, sizeof(hdr), "*%d\r\n", argc);
	memcpy(o->b_data + o->b_len, hdr, (size_t)n);
	o->b_len += (size_t)n;
	for (i = 0; i < argc; i++) {
		n = snprintf(hdr, sizeof(hdr), "$%zu\r\n", len[i]);
		memcpy(o->b_data + o->b_len, hdr, (size_t)n);
		o->b_len += (size_t)n;
		memcpy(o->b_data + o->b_len, argv[i], len[i]);
		o->b_len += len[i];
		memcpy(o->b_data + o->b_len, "\r\n", 2);
		o->b_len += 2;
	}
	return 0;
}

struct rd_reply {
	char		 rr_type;	/* + - : $ * */
	long long	 rr_n;		/* bulk length (-1 nil), integer, array size */
	const char	*rr_data;	/* simple/error text, bulk data */
	size_t		 rr_len;
};

/* The number after the type byte up to CRLF; the line's end in *next. */
static int
rd_line(const char *p, const char *end, const char **lend, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL)
		return 0;
	if (nl == p || nl[-1] != '\r')
		return -1;
	*lend = nl - 1;
	*next = nl + 1;
	return 1;
}

static int
rd_num(const char *p, const char *e, long long *v)
{
	long long x = 0;
	int neg = 0;

	if (p < e && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == e || e - p > 18)
		return -1;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		x = x * 10 + (*p - '0');
	}
	*v = neg ? -x : x;
	return 0;
}

/*
 * One reply at p: its length in bytes, 0 when incomplete, -1 when
 * malformed. Nested arrays are walked (depth-limited), only the top is kept.
 */
static long
rd_parse(const char *p, const char *end, int depth, struct rd_reply *r)
{
	const char *le, *next, *q;
	long long n, i;
	long sub;
	int rc;

	if (p >= end)
		return 0;
	if (depth > 8)
		return -1;
	if ((rc = rd_line(p, end, &le, &next)) <= 0)
		return rc;
	r->rr_type = *p;
	r->rr_data = p + 1;
	r->rr_len = (size_t)(le - p - 1);
	switch (*p) {
	case '+':
	case '-':
		return next - p;
	case ':':
		return rd_num(p + 1, le, &r->rr_n) == 0 ? next - p : -1;
	case '$':
		if (rd_num(p + 1, le, &n) != 0 || n < -1 || n > (64 << 20))
			return -1;
		r->rr_n = n;
		if (n == -1)
			return next - p;
		if (end - next < n + 2)
			return 0;
		if (next[n] != '\r' || next[n + 1] != '\n')
			return -1;
		r->rr_data = next;
		r->rr_len = (size_t)n;
		return next + n + 2 - p;
	case '*':
		if (rd_num(p + 1, le, &n) != 0 || n < -1 || n > 1000000)
			return -1;
		r->rr_n = n;
		q = next;
		for (i = 0; i < n; i++) {
			struct rd_reply sr;

			if ((sub = rd_parse(q, end, depth + 1, &sr)) <= 0)
				return sub;
			q += sub;
		}
		return q - p;
	default:
		return -1;
	}
}

/* ---------------------------------------------------------------- ops */

static int
rd_key(char *out, size_t len, const char *hh)
{
	int n = snprintf(out, len, "hh:%s", hh);

	return n > 0 && (size_t)n < len ? n : -1;
}

static int
rd_setup(struct slot *s)
{
	static const char *const cmd[] = { "SCRIPT", "LOAD" };
	const char *argv[3];
	size_t len[3];
	struct flight *f;
	int i;

	for (i = 0; i < 2; i++) {
		if ((f = flight_new(s)) == NULL)
			goto fail;
		f->fl_op = RD_LOAD;
		f->fl_stage = (uint8_t)i;
		f->fl_t0 = bench_now();
		argv[0] = cmd[0];
		argv[1] = cmd[1];
		argv[2] = i == 0 ? rd_get_audit : rd_set_audit;
		len[0] = 6;
		len[1] = 4;
		len[2] = strlen(argv[2]);
		if (rd_cmd(&s->s_out, 3, argv, len) != 0)
			goto fail;
	}
	s->s_setup_left = 2;
	return 0;
fail:
	bench_slot_fail(s, "cannot queue SCRIPT LOAD");
	return -1;
}

static int
rd_send(struct slot *s, int op, int64_t t0)
{
	struct bench *b = s->s_b;
	struct flight *f = flight_new(s);
	const char *argv[7];
	size_t len[7];
	char key[64];
	int argc, kl, i;

	if (f == NULL)
		return -1;
	f->fl_op = (uint8_t)(op == OP_POPULATE ? RD_POP : op);
	f->fl_t0 = t0;
	kl = rd_key(key, sizeof(key), op == OP_POPULATE ?
	    b->b_hh[b->b_pop_issued] : bench_pick_hh(b));
	if (kl < 0)
		goto fail;
	switch (op) {
	case RD_GET:
		argv[0] = "GET";
		argv[1] = key;
		argc = 2;
		break;
	case RD_GET_AUDIT:
	case RD_SET_AUDIT:
		argv[0] = "EVALSHA";
		argv[1] = op == RD_GET_AUDIT ? rd_sha_get : rd_sha_set;
		argv[2] = "2";
		argv[3] = key;
		argv[4] = "audit";
		argv[5] = RD_ACTOR;
		argv[6] = b->b_value;	/* set-audit: ARGV[2], the new value */
		argc = op == RD_GET_AUDIT ? 6 : 7;
		break;
	case OP_POPULATE:
		argv[0] = "SET";
		argv[1] = key;
		argv[2] = b->b_value;
		argc = 3;
		break;
	default:
		goto fail;
	}
	for (i = 0; i < argc; i++)
		len[i] = argv[i] == b->b_value ? BENCH_VALUE_LEN : strlen(argv[i]);
	if (rd_cmd(&s->s_out, argc, argv, len) != 0)
		goto fail;
	return 0;
fail:
	bench_slot_fail(s, "cannot queue a command");	/* drops every flight */
	return -1;
}

static void
rd_answer(struct slot *s, const struct rd_reply *r, size_t bytes)
{
	struct flight *f = flight_oldest(s);
	char err[200];
	int op, ok;
	int64_t t0;

	if (f == NULL) {
		bench_slot_fail(s, "reply to no command in flight");
		return;
	}
	op = f->fl_op;
	t0 = f->fl_t0;
	if (op == RD_LOAD) {
		const char *want = f->fl_stage == 0 ? rd_sha_get : rd_sha_set;

		flight_release(s, f);
		if (r->rr_type != '$' || r->rr_len != 40 ||
		    memcmp(r->rr_data, want, 40) != 0) {
			snprintf(err, sizeof(err), "SCRIPT LOAD: %.*s",
			    (int)(r->rr_len > 100 ? 100 : r->rr_len), r->rr_data);
			bench_slot_fail(s, err);
			return;
		}
		if (--s->s_setup_left == 0)
			bench_slot_ready(s);
		return;
	}
	flight_release(s, f);
	if (op == RD_POP || op == RD_SET_AUDIT)
		ok = r->rr_type == '+' && r->rr_len == 2 &&
		    memcmp(r->rr_data, "OK", 2) == 0;
	else
		ok = r->rr_type == '$' && r->rr_n == BENCH_VALUE_LEN;
	if (!ok) {
		if (r->rr_type == '-')
			snprintf(err, sizeof(err), "%s: %.*s", op == RD_POP ?
			    "SET" : redis_ops[op],
			    (int)(r->rr_len > 120 ? 120 : r->rr_len), r->rr_data);
		else if (r->rr_type == '$' && r->rr_n == -1)
			snprintf(err, sizeof(err), "%s: no such key",
			    op == RD_POP ? "SET" : redis_ops[op]);
		else
			snprintf(err, sizeof(err), "%s: unexpected reply type %c",
			    op == RD_POP ? "SET" : redis_ops[op], r->rr_type);
	}
	if (op == RD_POP) {
		if (!ok)
			bench_err(s->s_b, "%s", err);
		bench_pop_created(s, ok, NULL);
		return;
	}
	bench_done(s, op, t0, ok, ok ? NULL : err, bytes);
}

static int
rd_input(struct slot *s)
{
	struct buf *in = &s->s_in;
	struct rd_reply r;
	long n;

	while (s->s_ssl != NULL && in->b_len > in->b_off) {
		const char *p = (const char *)in->b_data + in->b_off;

		n = rd_parse(p, (const char *)in->b_data + in->b_len, 0, &r);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		in->b_off += (size_t)n;
		rd_answer(s, &r, (size_t)n);
	}
	return 0;
}

int	redis_init(void);

int
redis_init(void)
{
	if (rd_sha1(rd_get_audit, rd_sha_get) != 0 ||
	    rd_sha1(rd_set_audit, rd_sha_set) != 0)
		return -1;
	return 0;
}

const struct target target_redis = {
	.t_name = "redis",
	.t_ops = redis_ops,
	.t_setup = rd_setup,
	.t_send = rd_send,
	.t_input = rd_input,
};
