/*
 * t_eenplan: the eenplan wire protocol for the bench — requests packed with
 * the generated protobuf-c code straight into the output buffer, answers
 * only scanned (id, status, which body) rather than decoded, so the client
 * spends its CPU on TLS, not on unpacking plans it does not read.
 *
 * Population: CreateHousehold (area Noord, two members), then one
 * MutatePlan with o_notes AddNote mutations of BENCH_NOTE_LEN bytes each.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "wire.h"

enum { EP_GET, EP_MUTATE, EP_WHOAMI = 20, EP_CREATE, EP_NOTES };

static const char *const eenplan_ops[] = { "get", "mutate", NULL };

/* ---------------------------------------------------------------- scan */

static int
pb_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;
	unsigned shift = 0;

	while (p < end && shift < 64) {
		x |= (uint64_t)(*p & 0x7f) << shift;
		if ((*p++ & 0x80) == 0) {
			*v = x;
			*pp = p;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

/* Reads one field's key and, for LEN fields, its extent. */
static int
pb_field(const uint8_t **pp, const uint8_t *end, unsigned *num, unsigned *wt,
    uint64_t *val, const uint8_t **data, size_t *len)
{
	uint64_t key, n;

	if (pb_varint(pp, end, &key) != 0)
		return -1;
	*num = (unsigned)(key >> 3);
	*wt = (unsigned)(key & 7);
	switch (*wt) {
	case 0:
		return pb_varint(pp, end, val);
	case 1:
		if (end - *pp < 8)
			return -1;
		*pp += 8;
		return 0;
	case 2:
		if (pb_varint(pp, end, &n) != 0 || (uint64_t)(end - *pp) < n)
			return -1;
		*data = *pp;
		*len = (size_t)n;
		*pp += n;
		return 0;
	case 5:
		if (end - *pp < 4)
			return -1;
		*pp += 4;
		return 0;
	default:
		return -1;
	}
}

struct ep_answer {
	uint64_t	 ea_id;
	uint64_t	 ea_code;
	const uint8_t	*ea_msg;
	size_t		 ea_msglen;
	unsigned	 ea_body;	/* field number of the body, 0 if none */
	const uint8_t	*ea_bdata;
	size_t		 ea_blen;
};

static int
ep_scan_status(const uint8_t *p, const uint8_t *end, struct ep_answer *a)
{
	unsigned num, wt;
	uint64_t v = 0;
	const uint8_t *d = NULL;
	size_t n = 0;

	while (p < end) {
		if (pb_field(&p, end, &num, &wt, &v, &d, &n) != 0)
			return -1;
		if (num == 1 && wt == 0)
			a->ea_code = v;
		else if (num == 2 && wt == 2) {
			a->ea_msg = d;
			a->ea_msglen = n;
		}
	}
	return 0;
}

static int
ep_scan(const uint8_t *p, size_t len, struct ep_answer *a)
{
	const uint8_t *end = p + len, *d = NULL;
	unsigned num, wt;
	uint64_t v = 0;
	size_t n = 0;

	memset(a, 0, sizeof(*a));
	while (p < end) {
		if (pb_field(&p, end, &num, &wt, &v, &d, &n) != 0)
			return -1;
		if (num == 1 && wt == 0)
			a->ea_id = v;
		else if (num == 2 && wt == 2) {
			if (ep_scan_status(d, d + n, a) != 0)
				return -1;
		} else if (num >= 10 && num <= 26 && wt == 2) {
			a->ea_body = num;
			a->ea_bdata = d;
			a->ea_blen = n;
		}
	}
	return 0;
}

/* CreateHouseholdResponse.household_id, copied to out. */
static int
ep_created_id(const struct ep_answer *a, char out[BENCH_HHID_LEN + 1])
{
	const uint8_t *p = a->ea_bdata, *end = p + a->ea_blen, *d = NULL;
	unsigned num, wt;
	uint64_t v = 0;
	size_t n = 0;

	while (p < end) {
		if (pb_field(&p, end, &num, &wt, &v, &d, &n) != 0)
			return -1;
		if (num == 1 && wt == 2 && n == BENCH_HHID_LEN) {
			memcpy(out, d, n);
			out[n] = '\0';
			return 0;
		}
	}
	return -1;
}

/* ---------------------------------------------------------------- send */

static int
ep_queue(struct slot *s, const EpRequest *rq)
{
	size_t n = eenplan__v1__request__get_packed_size(rq);
	struct buf *o = &s->s_out;

	if (n > WIRE_DEFAULT_MAX_FRAME || buf_reserve(o, WIRE_HDR_LEN + n) != 0)
		return -1;
	wire_frame_header(o->b_data + o->b_len, (uint32_t)n);
	eenplan__v1__request__pack(rq, o->b_data + o->b_len + WIRE_HDR_LEN);
	o->b_len += WIRE_HDR_LEN + n;
	return 0;
}

static int
ep_send_whoami(struct slot *s, struct flight *f)
{
	EpRequest rq = EENPLAN__V1__REQUEST__INIT;
	Eenplan__V1__WhoAmIRequest w = EENPLAN__V1__WHO_AM_IREQUEST__INIT;

	f->fl_op = EP_WHOAMI;
	rq.id = f->fl_id;
	rq.body_case = EENPLAN__V1__REQUEST__BODY_WHO_AM_I;
	rq.who_am_i = &w;
	return ep_queue(s, &rq);
}

static int
ep_send_get(struct slot *s, struct flight *f, const char *hh)
{
	EpRequest rq = EENPLAN__V1__REQUEST__INIT;
	Eenplan__V1__GetPlanRequest g = EENPLAN__V1__GET_PLAN_REQUEST__INIT;

	rq.id = f->fl_id;
	rq.body_case = EENPLAN__V1__REQUEST__BODY_GET_PLAN;
	rq.get_plan = &g;
	g.household_id = (char *)(uintptr_t)hh;
	return ep_queue(s, &rq);
}

/* MutatePlan with n AddNote mutations, each BENCH_NOTE_LEN bytes. */
static int
ep_send_notes(struct slot *s, struct flight *f, const char *hh, int n)
{
	EpRequest rq = EENPLAN__V1__REQUEST__INIT;
	Eenplan__V1__MutatePlanRequest m = EENPLAN__V1__MUTATE_PLAN_REQUEST__INIT;
	EpMutation mu[64], *mp[64];
	Eenplan__V1__AddNote an[64];
	char text[64][BENCH_NOTE_LEN + 1];
	int i;

	if (n < 1 || n > 64)
		return -1;
	for (i = 0; i < n; i++) {
		eenplan__v1__mutation__init(&mu[i]);
		eenplan__v1__add_note__init(&an[i]);
		memcpy(text[i], bench_note(s->s_b), BENCH_NOTE_LEN);
		text[i][BENCH_NOTE_LEN] = '\0';
		an[i].domain = (Eenplan__V1__Domain)(i % 13 + 1);
		an[i].text = text[i];
		mu[i].op_case = EENPLAN__V1__MUTATION__OP_ADD_NOTE;
		mu[i].add_note = &an[i];
		mp[i] = &mu[i];
	}
	rq.id = f->fl_id;
	rq.body_case = EENPLAN__V1__REQUEST__BODY_MUTATE_PLAN;
	rq.mutate_plan = &m;
	m.household_id = (char *)(uintptr_t)hh;
	m.n_mutations = (size_t)n;
	m.mutations = mp;
	return ep_queue(s, &rq);
}

static int
ep_send_create(struct slot *s, struct flight *f)
{
	EpRequest rq = EENPLAN__V1__REQUEST__INIT;
	Eenplan__V1__CreateHouseholdRequest c =
	    EENPLAN__V1__CREATE_HOUSEHOLD_REQUEST__INIT;
	EpMember m[2], *mp[2];
	char ref[48];

	eenplan__v1__member__init(&m[0]);
	eenplan__v1__member__init(&m[1]);
	m[0].person_id = (char *)(uintptr_t)"henk.desmet";
	m[0].name = (char *)(uintptr_t)"Henk de Smet";
	m[0].relation = (char *)(uintptr_t)"ouder";
	m[1].person_id = (char *)(uintptr_t)"anja.desmet";
	m[1].name = (char *)(uintptr_t)"Anja de Smet";
	m[1].relation = (char *)(uintptr_t)"ouder";
	mp[0] = &m[0];
	mp[1] = &m[1];
	snprintf(ref, sizeof(ref), "BENCH-%llu",
	    (unsigned long long)(bench_rand(s->s_b) % 1000000000ull));
	rq.id = f->fl_id;
	rq.body_case = EENPLAN__V1__REQUEST__BODY_CREATE_HOUSEHOLD;
	rq.create_household = &c;
	c.area = EENPLAN__V1__AREA__AREA_NOORD;
	c.n_members = 2;
	c.members = mp;
	c.consent_reference = ref;
	f->fl_op = EP_CREATE;
	return ep_queue(s, &rq);
}

static int
ep_setup(struct slot *s)
{
	struct flight *f = flight_new(s);

	if (f == NULL || ep_send_whoami(s, f) != 0) {
		bench_slot_fail(s, "cannot queue WhoAmI");
		return -1;
	}
	f->fl_t0 = bench_now();
	s->s_setup_left = 1;
	return 0;
}

static int
ep_send(struct slot *s, int op, int64_t t0)
{
	struct flight *f = flight_new(s);
	int rc;

	if (f == NULL)
		return -1;
	f->fl_t0 = t0;
	f->fl_op = (uint8_t)op;
	switch (op) {
	case EP_GET:
		rc = ep_send_get(s, f, bench_pick_hh(s->s_b));
		break;
	case EP_MUTATE:
		rc = ep_send_notes(s, f, bench_pick_hh(s->s_b), 1);
		break;
	case OP_POPULATE:
		rc = ep_send_create(s, f);
		break;
	default:
		rc = -1;
		break;
	}
	if (rc != 0) {
		flight_release(s, f);
		bench_slot_fail(s, "cannot queue a request");
	}
	return rc;
}

/* ---------------------------------------------------------------- input */

static void
ep_err_text(const struct ep_answer *a, const char *what, char *buf, size_t len)
{
	if (a->ea_code != 0)
		snprintf(buf, len, "%s: %s: %.*s", what,
		    wire_code_name((int)a->ea_code),
		    (int)(a->ea_msglen > 100 ? 100 : a->ea_msglen),
		    a->ea_msg ? (const char *)a->ea_msg : "");
	else
		snprintf(buf, len, "%s: OK without the expected body", what);
}

static void
ep_answer_populate(struct slot *s, struct flight *f, const struct ep_answer *a)
{
	char err[200], hh[BENCH_HHID_LEN + 1];
	int ok;

	if (f->fl_op == EP_CREATE) {
		ok = a->ea_code == 0 && a->ea_body ==
		    EENPLAN__V1__RESPONSE__BODY_CREATE_HOUSEHOLD &&
		    ep_created_id(a, hh) == 0;
		flight_release(s, f);
		if (!ok) {
			ep_err_text(a, "CreateHousehold", err, sizeof(err));
			bench_err(s->s_b, "%s", err);
			bench_pop_created(s, 0, NULL);
			return;
		}
		if ((f = flight_new(s)) == NULL ||
		    ep_send_notes(s, f, hh, s->s_b->b_o.o_notes) != 0) {
			bench_slot_fail(s, "cannot queue MutatePlan");
			return;
		}
		f->fl_op = EP_NOTES;
		f->fl_t0 = bench_now();
		memcpy(f->fl_hh, hh, sizeof(hh));
		return;
	}
	ok = a->ea_code == 0 && a->ea_body ==
	    EENPLAN__V1__RESPONSE__BODY_MUTATE_PLAN;
	memcpy(hh, f->fl_hh, sizeof(hh));
	flight_release(s, f);
	if (!ok) {
		ep_err_text(a, "MutatePlan (population)", err, sizeof(err));
		bench_err(s->s_b, "%s", err);
		bench_pop_created(s, 0, NULL);
		return;
	}
	bench_pop_created(s, 1, hh);
}

static void
ep_answer(struct slot *s, const uint8_t *body, size_t len)
{
	struct ep_answer a;
	struct flight *f;
	char err[200];
	unsigned want;
	int op, ok;
	int64_t t0;

	if (ep_scan(body, len, &a) != 0) {
		bench_slot_fail(s, "undecodable answer");
		return;
	}
	if (a.ea_id == 0 && a.ea_code != 0) {
		/* The daemon's refusal of the connection itself (id 0), e.g.
		   max_connections_per_principal: named, not taken for a stray
		   answer. */
		ep_err_text(&a, "connection refused by the daemon", err,
		    sizeof(err));
		bench_slot_fail(s, err);
		return;
	}
	if ((f = flight_by_id(s, a.ea_id)) == NULL) {
		bench_slot_fail(s, "answer to no request in flight");
		return;
	}
	op = f->fl_op;
	t0 = f->fl_t0;
	if (op == EP_WHOAMI) {
		flight_release(s, f);
		if (a.ea_code != 0 || a.ea_body !=
		    EENPLAN__V1__RESPONSE__BODY_WHO_AM_I) {
			ep_err_text(&a, "WhoAmI", err, sizeof(err));
			bench_slot_fail(s, err);
			return;
		}
		if (--s->s_setup_left == 0)
			bench_slot_ready(s);
		return;
	}
	if (op == EP_CREATE || op == EP_NOTES) {
		ep_answer_populate(s, f, &a);
		return;
	}
	flight_release(s, f);
	want = op == EP_GET ? EENPLAN__V1__RESPONSE__BODY_GET_PLAN :
	    EENPLAN__V1__RESPONSE__BODY_MUTATE_PLAN;
	ok = a.ea_code == 0 && a.ea_body == want;
	if (!ok)
		ep_err_text(&a, op == EP_GET ? "GetPlan" : "MutatePlan", err,
		    sizeof(err));
	bench_done(s, op, t0, ok, ok ? NULL : err, len + WIRE_HDR_LEN);
}

static int
ep_input(struct slot *s)
{
	struct buf *in = &s->s_in;
	const uint8_t *body;
	uint32_t len;

	while (s->s_ssl != NULL && in->b_len > in->b_off) {
		switch (wire_frame_decode(in->b_data + in->b_off,
		    in->b_len - in->b_off, WIRE_DEFAULT_MAX_FRAME, &body, &len)) {
		case WIRE_FRAME_OK:
			break;
		case WIRE_FRAME_NEED_MORE:
			return 0;
		case WIRE_FRAME_EMPTY:
		case WIRE_FRAME_TOO_LARGE:
		default:
			return -1;
		}
		in->b_off += WIRE_HDR_LEN + (size_t)len;
		ep_answer(s, body, len);
	}
	return 0;
}

const struct target target_eenplan = {
	.t_name = "eenplan",
	.t_ops = eenplan_ops,
	.t_setup = ep_setup,
	.t_send = ep_send,
	.t_input = ep_input,
};
