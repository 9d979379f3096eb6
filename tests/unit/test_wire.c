/*
 * Unit tests for proto/wire.c: the frame codec at and around every limit,
 * frame packing, the bounded unpack allocator and the enum names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

#define MAX	1024u

/* A frame of len body bytes (all 0xab) into a new buffer of len + 4 + extra. */
static uint8_t *
frame(uint32_t hdr_len, size_t body_len, size_t extra)
{
	uint8_t *f = malloc(WIRE_HDR_LEN + body_len + extra + 1);

	assert_non_null(f);
	wire_frame_header(f, hdr_len);
	memset(f + WIRE_HDR_LEN, 0xab, body_len + extra);
	return f;
}

static void
test_header_bytes(void **state)
{
	uint8_t h[WIRE_HDR_LEN];

	(void)state;
	wire_frame_header(h, 0x01020304);
	assert_int_equal(h[0], 1);
	assert_int_equal(h[1], 2);
	assert_int_equal(h[2], 3);
	assert_int_equal(h[3], 4);
	wire_frame_header(h, 0xFFFFFFFFu);
	assert_int_equal(h[0], 0xff);
	assert_int_equal(h[3], 0xff);
}

static void
test_decode_empty(void **state)
{
	const uint8_t *body = (const uint8_t *)"x";
	uint32_t len = 99;
	uint8_t *f = frame(0, 0, 0);

	(void)state;
	assert_int_equal(wire_frame_decode(f, WIRE_HDR_LEN, MAX, &body, &len),
	    WIRE_FRAME_EMPTY);
	assert_null(body);
	assert_int_equal(len, 0);
	free(f);
}

static void
test_decode_one(void **state)
{
	const uint8_t *body;
	uint32_t len;
	uint8_t *f = frame(1, 1, 0);

	(void)state;
	assert_int_equal(wire_frame_decode(f, WIRE_HDR_LEN, MAX, &body, &len),
	    WIRE_FRAME_NEED_MORE);
	assert_null(body);
	assert_int_equal(len, 1);	/* known once the header is complete */
	assert_int_equal(wire_frame_decode(f, WIRE_HDR_LEN + 1, MAX, &body,
	    &len), WIRE_FRAME_OK);
	assert_ptr_equal(body, f + WIRE_HDR_LEN);
	assert_int_equal(len, 1);
	assert_int_equal(body[0], 0xab);
	free(f);
}

static void
test_decode_max(void **state)
{
	const uint8_t *body;
	uint32_t len;
	uint8_t *f = frame(MAX, MAX, 0);

	(void)state;
	assert_int_equal(wire_frame_decode(f, WIRE_HDR_LEN + MAX, MAX, &body,
	    &len), WIRE_FRAME_OK);
	assert_ptr_equal(body, f + WIRE_HDR_LEN);
	assert_int_equal(len, MAX);
	/* Short by one byte. */
	assert_int_equal(wire_frame_decode(f, WIRE_HDR_LEN + MAX - 1, MAX,
	    &body, &len), WIRE_FRAME_NEED_MORE);
	assert_null(body);
	assert_int_equal(len, MAX);
	free(f);

	/* The default maximum, too. */
	f = frame(WIRE_DEFAULT_MAX_FRAME, 0, 0);
	assert_int_equal(wire_frame_decode(f, WIRE_HDR_LEN,
	    WIRE_DEFAULT_MAX_FRAME, &body, &len), WIRE_FRAME_NEED_MORE);
	free(f);
}

static void
test_decode_too_large(void **state)
{
	const uint8_t *body;
	uint32_t len;
	uint8_t *f;

	(void)state;
	/* max + 1, from the 4 header bytes alone: no body present. */
	f = frame(MAX + 1, 0, 0);
	assert_int_equal(wire_frame_decode(f, WIRE_HDR_LEN, MAX, &body, &len),
	    WIRE_FRAME_TOO_LARGE);
	assert_null(body);
	assert_int_equal(len, MAX + 1);
	free(f);

	/* ... and still when the whole body is there. */
	f = frame(MAX + 1, MAX + 1, 0);
	assert_int_equal(wire_frame_decode(f, WIRE_HDR_LEN + MAX + 1, MAX,
	    &body, &len), WIRE_FRAME_TOO_LARGE);
	assert_null(body);
	free(f);

	f = frame(0xFFFFFFFFu, 0, 0);
	assert_int_equal(wire_frame_decode(f, WIRE_HDR_LEN, MAX, &body, &len),
	    WIRE_FRAME_TOO_LARGE);
	assert_int_equal(len, 0xFFFFFFFFu);
	/* Even with the largest possible max, 4 GiB - 1 is not there. */
	assert_int_equal(wire_frame_decode(f, WIRE_HDR_LEN, 0xFFFFFFFFu, &body,
	    &len), WIRE_FRAME_NEED_MORE);
	assert_null(body);
	free(f);
}

static void
test_decode_truncated_header(void **state)
{
	const uint8_t *body;
	uint32_t len;
	size_t n;
	uint8_t *f = frame(0xFFFFFFFFu, 0, 0);	/* would be TOO_LARGE */

	(void)state;
	for (n = 0; n < WIRE_HDR_LEN; n++) {
		len = 77;
		assert_int_equal(wire_frame_decode(f, n, MAX, &body, &len),
		    WIRE_FRAME_NEED_MORE);
		assert_null(body);
		assert_int_equal(len, 0);
	}
	free(f);
}

static void
test_decode_truncated_body(void **state)
{
	const uint8_t *body;
	uint32_t len;
	size_t n;
	uint8_t *f = frame(100, 100, 0);

	(void)state;
	for (n = WIRE_HDR_LEN; n < WIRE_HDR_LEN + 100; n++) {
		assert_int_equal(wire_frame_decode(f, n, MAX, &body, &len),
		    WIRE_FRAME_NEED_MORE);
		assert_null(body);
		assert_int_equal(len, 100);
	}
	assert_int_equal(wire_frame_decode(f, n, MAX, &body, &len),
	    WIRE_FRAME_OK);
	free(f);
}

static void
test_decode_back_to_back(void **state)
{
	uint8_t buf[WIRE_HDR_LEN * 2 + 3 + 5 + 2], third[WIRE_HDR_LEN];
	const uint8_t *body;
	uint32_t len;
	size_t off = 0;

	(void)state;
	wire_frame_header(buf, 3);
	memcpy(buf + 4, "abc", 3);
	wire_frame_header(buf + 7, 5);
	memcpy(buf + 11, "defgh", 5);
	wire_frame_header(third, 1);	/* start of a third: 2 bytes only */
	memcpy(buf + 16, third, 2);

	assert_int_equal(wire_frame_decode(buf, sizeof(buf), MAX, &body, &len),
	    WIRE_FRAME_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(body, "abc", 3);
	off += WIRE_HDR_LEN + len;
	assert_int_equal(wire_frame_decode(buf + off, sizeof(buf) - off, MAX,
	    &body, &len), WIRE_FRAME_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(body, "defgh", 5);
	off += WIRE_HDR_LEN + len;
	assert_int_equal(sizeof(buf) - off, 2);
	assert_int_equal(wire_frame_decode(buf + off, sizeof(buf) - off, MAX,
	    &body, &len), WIRE_FRAME_NEED_MORE);
}

static void
test_pack_round_trip(void **state)
{
	EpRequest req = EENPLAN__V1__REQUEST__INIT, *out;
	Eenplan__V1__GetPlanRequest gp = EENPLAN__V1__GET_PLAN_REQUEST__INIT;
	const uint8_t *body;
	uint8_t *f;
	size_t flen, n;
	uint32_t len;

	(void)state;
	req.id = 4242;
	req.body_case = EENPLAN__V1__REQUEST__BODY_GET_PLAN;
	req.get_plan = &gp;
	gp.household_id = "0123456789abcdef0123456789abcdef";
	gp.version = 7;
	n = protobuf_c_message_get_packed_size(&req.base);

	f = wire_frame_pack(&req.base, MAX, &flen);
	assert_non_null(f);
	assert_int_equal(flen, WIRE_HDR_LEN + n);
	assert_int_equal(wire_frame_decode(f, flen, MAX, &body, &len),
	    WIRE_FRAME_OK);
	assert_int_equal(len, n);
	out = eenplan__v1__request__unpack(NULL, len, body);
	assert_non_null(out);
	assert_int_equal(out->id, 4242);
	assert_int_equal(out->body_case, EENPLAN__V1__REQUEST__BODY_GET_PLAN);
	assert_string_equal(out->get_plan->household_id,
	    "0123456789abcdef0123456789abcdef");
	assert_int_equal(out->get_plan->version, 7);
	eenplan__v1__request__free_unpacked(out, NULL);
	free(f);

	/* Exactly max fits; one byte less does not. */
	f = wire_frame_pack(&req.base, (uint32_t)n, &flen);
	assert_non_null(f);
	free(f);
	flen = 99;
	assert_null(wire_frame_pack(&req.base, (uint32_t)n - 1, &flen));
	assert_int_equal(flen, 0);
}

/* A Request whose create_household has n tiny members, packed. */
static uint8_t *
pack_members(size_t n, size_t *len)
{
	EpRequest req = EENPLAN__V1__REQUEST__INIT;
	Eenplan__V1__CreateHouseholdRequest ch =
	    EENPLAN__V1__CREATE_HOUSEHOLD_REQUEST__INIT;
	EpMember *m = calloc(n, sizeof(*m));
	EpMember **mp = calloc(n, sizeof(*mp));
	uint8_t *buf;
	size_t i;

	assert_non_null(m);
	assert_non_null(mp);
	for (i = 0; i < n; i++) {
		eenplan__v1__member__init(&m[i]);
		m[i].person_id = "p";
		m[i].name = "n";
		mp[i] = &m[i];
	}
	req.id = 1;
	req.body_case = EENPLAN__V1__REQUEST__BODY_CREATE_HOUSEHOLD;
	req.create_household = &ch;
	ch.area = EENPLAN__V1__AREA__AREA_NOORD;
	ch.n_members = n;
	ch.members = mp;
	*len = protobuf_c_message_get_packed_size(&req.base);
	buf = malloc(*len);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(&req.base, buf), *len);
	free(mp);
	free(m);
	return buf;
}

static void
test_arena_budget(void **state)
{
	struct wire_arena wa;
	EpRequest *r;
	uint8_t *big, *small;
	size_t biglen, smalllen;

	(void)state;
	big = pack_members(5000, &biglen);
	/* Small on the wire, far larger once decoded. */
	assert_true(biglen < 64 * 1024);
	small = pack_members(2, &smalllen);

	assert_int_equal(wire_arena_init(&wa, 64 * 1024), 0);
	r = eenplan__v1__request__unpack(&wa.wa_alloc, biglen, big);
	assert_null(r);
	assert_true(wa.wa_exhausted);
	assert_true(wa.wa_used <= wa.wa_cap);

	/* Reset, then the arena serves a request that fits. */
	wire_arena_reset(&wa);
	assert_false(wa.wa_exhausted);
	assert_int_equal(wa.wa_used, 0);
	r = eenplan__v1__request__unpack(&wa.wa_alloc, smalllen, small);
	assert_non_null(r);
	assert_false(wa.wa_exhausted);
	assert_int_equal(r->create_household->n_members, 2);
	assert_string_equal(r->create_household->members[1]->person_id, "p");
	/* Every allocation lies inside the arena. */
	assert_true((uint8_t *)r >= wa.wa_buf &&
	    (uint8_t *)r < wa.wa_buf + wa.wa_cap);
	eenplan__v1__request__free_unpacked(r, &wa.wa_alloc);	/* no-op */

	/* And again, many times: reset gives the whole budget back. */
	for (int i = 0; i < 100; i++) {
		wire_arena_reset(&wa);
		r = eenplan__v1__request__unpack(&wa.wa_alloc, smalllen, small);
		assert_non_null(r);
	}
	wire_arena_free(&wa);

	/* With a budget that is big enough, the big one decodes. */
	assert_int_equal(wire_arena_init(&wa, 8 * 1024 * 1024), 0);
	r = eenplan__v1__request__unpack(&wa.wa_alloc, biglen, big);
	assert_non_null(r);
	assert_int_equal(r->create_household->n_members, 5000);
	assert_true(wa.wa_used > 64 * 1024);
	wire_arena_free(&wa);
	assert_null(wa.wa_buf);

	free(big);
	free(small);
}

/* A request larger than a small arena by a lot, allocation by allocation. */
static void
test_arena_every_budget(void **state)
{
	struct wire_arena wa;
	EpRequest *r;
	uint8_t *buf;
	size_t len, budget, need;

	(void)state;
	buf = pack_members(20, &len);
	assert_int_equal(wire_arena_init(&wa, 1 << 20), 0);
	assert_non_null(eenplan__v1__request__unpack(&wa.wa_alloc, len, buf));
	need = wa.wa_used;
	wire_arena_free(&wa);
	/* Every budget below what it needs fails cleanly; at it, succeeds. */
	for (budget = 0; budget <= need; budget += 8) {
		assert_int_equal(wire_arena_init(&wa, budget ? budget : 1), 0);
		r = eenplan__v1__request__unpack(&wa.wa_alloc, len, buf);
		if (budget < need) {
			assert_null(r);
			assert_true(wa.wa_exhausted);
		}
		wire_arena_free(&wa);
	}
	assert_int_equal(wire_arena_init(&wa, need), 0);
	assert_non_null(eenplan__v1__request__unpack(&wa.wa_alloc, len, buf));
	assert_false(wa.wa_exhausted);
	wire_arena_free(&wa);
	free(buf);
}

/* The counting allocator: same budget rule, and frees give bytes back. */
static void
test_budget(void **state)
{
	struct wire_budget wb;
	EpRequest *r;
	uint8_t *big, *small;
	size_t biglen, smalllen, used;

	(void)state;
	big = pack_members(5000, &biglen);
	small = pack_members(3, &smalllen);

	wire_budget_init(&wb, 64 * 1024);
	r = eenplan__v1__request__unpack(&wb.wb_alloc, biglen, big);
	assert_null(r);
	assert_true(wb.wb_exhausted);
	/* What was allocated before the refusal was all freed again. */
	assert_int_equal(wb.wb_used, 0);

	wire_budget_init(&wb, 64 * 1024);
	r = eenplan__v1__request__unpack(&wb.wb_alloc, smalllen, small);
	assert_non_null(r);
	assert_false(wb.wb_exhausted);
	used = wb.wb_used;
	assert_true(used > 0 && used <= 64 * 1024);
	assert_int_equal(r->create_household->n_members, 3);
	protobuf_c_message_free_unpacked(&r->base, &wb.wb_alloc);
	assert_int_equal(wb.wb_used, 0);

	/* A budget of exactly what it needs is enough; one byte less is not. */
	wire_budget_init(&wb, used);
	r = eenplan__v1__request__unpack(&wb.wb_alloc, smalllen, small);
	assert_non_null(r);
	protobuf_c_message_free_unpacked(&r->base, &wb.wb_alloc);
	wire_budget_init(&wb, used - 1);
	assert_null(eenplan__v1__request__unpack(&wb.wb_alloc, smalllen,
	    small));
	assert_true(wb.wb_exhausted);
	assert_int_equal(wb.wb_used, 0);

	free(big);
	free(small);
}

typedef const char *(*name_fn)(int);
typedef int (*parse_fn)(const char *);

/* Every value 1..last has a name that parses back; 0, last+1 and junk not. */
static void
round_trip(name_fn name, parse_fn parse, int last, const char *const *want)
{
	int v;

	for (v = 1; v <= last; v++) {
		assert_non_null(name(v));
		assert_string_equal(name(v), want[v - 1]);
		assert_int_equal(parse(name(v)), v);
	}
	assert_null(name(last + 1));
	assert_null(name(-1));
	assert_null(name(1000));
	assert_int_equal(parse(NULL), -1);
	assert_int_equal(parse(""), -1);
	assert_int_equal(parse("bogus"), -1);
	assert_int_equal(parse("unspecified"), -1);
	/* A prefix or an extension of a name is not the name. */
	assert_int_equal(parse("noor"), -1);
	assert_int_equal(parse("client2"), -1);
	assert_int_equal(parse(" read"), -1);
}

static void
test_enum_names(void **state)
{
	static const char *const domains[] = {
		"financien", "werk_opleiding", "tijdsbesteding", "huisvesting",
		"huiselijke_relaties", "geestelijke_gezondheid",
		"lichamelijke_gezondheid", "middelengebruik", "basale_adl",
		"instrumentele_adl", "sociaal_netwerk",
		"maatschappelijke_participatie", "justitie"
	};
	static const char *const areas[] = {
		"noord", "oost", "west", "binnenstad", "stedelijk"
	};
	static const char *const roles[] = {
		"client", "carer", "gp", "professional", "system", "auditor"
	};
	static const char *const access[] = { "read", "contribute", "manage" };
	static const char *const action[] = {
		"proposed", "accepted", "in_progress", "done", "cancelled"
	};
	static const char *const goal[] = { "open", "achieved", "dropped" };
	int v;

	(void)state;
	round_trip(wire_domain_name, wire_domain_parse,
	    EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE, domains);
	round_trip(wire_area_name, wire_area_parse,
	    EENPLAN__V1__AREA__AREA_STEDELIJK, areas);
	round_trip(wire_role_name, wire_role_parse,
	    EENPLAN__V1__ROLE__ROLE_AUDITOR, roles);
	round_trip(wire_access_name, wire_access_parse,
	    EENPLAN__V1__ACCESS__ACCESS_MANAGE, access);
	round_trip(wire_action_status_name, wire_action_status_parse,
	    EENPLAN__V1__ACTION_STATUS__ACTION_CANCELLED, action);
	round_trip(wire_goal_status_name, wire_goal_status_parse,
	    EENPLAN__V1__GOAL_STATUS__GOAL_DROPPED, goal);

	/* The names match the generated enum values. */
	assert_int_equal(wire_role_parse("professional"),
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	assert_int_equal(wire_domain_parse("justitie"),
	    EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE);
	assert_int_equal(wire_action_status_parse("in_progress"),
	    EENPLAN__V1__ACTION_STATUS__ACTION_IN_PROGRESS);
	assert_int_equal(wire_area_parse("stedelijk"),
	    EENPLAN__V1__AREA__AREA_STEDELIJK);

	/* "none" names ACCESS_NONE but is never granted from text. */
	assert_string_equal(wire_access_name(0), "none");
	assert_int_equal(wire_access_parse("none"), -1);
	assert_null(wire_domain_name(0));
	assert_null(wire_role_name(0));

	/* Labels for people, one per domain. */
	assert_string_equal(wire_domain_label(1), "Financi\xc3\xabn");
	for (v = 1; v <= 13; v++)
		assert_non_null(wire_domain_label(v));
	assert_null(wire_domain_label(14));
	assert_null(wire_domain_label(0));

	for (v = 1; v <= 3; v++)
		assert_non_null(wire_household_status_name(v));
	assert_string_equal(wire_household_status_name(
	    EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ESCALATED), "escalated");
	assert_null(wire_household_status_name(4));
	for (v = 1; v <= 9; v++)
		assert_non_null(wire_change_kind_name(v));
	assert_string_equal(wire_change_kind_name(
	    EENPLAN__V1__CHANGE_KIND__CHANGE_ACCESS_ENDED), "access_ended");
	assert_null(wire_change_kind_name(10));
}

static void
test_code_names(void **state)
{
	(void)state;
	assert_string_equal(wire_code_name(EENPLAN__V1__CODE__OK), "OK");
	assert_string_equal(wire_code_name(
	    EENPLAN__V1__CODE__PERMISSION_DENIED), "PERMISSION_DENIED");
	assert_string_equal(wire_code_name(EENPLAN__V1__CODE__ABORTED),
	    "ABORTED");
	assert_string_equal(wire_code_name(
	    EENPLAN__V1__CODE__UNAUTHENTICATED), "UNAUTHENTICATED");
	assert_string_equal(wire_code_name(17), "UNKNOWN");
	assert_string_equal(wire_code_name(-1), "UNKNOWN");
}

/*
 * protobuf-c has no nesting limit, so the schema must bound the depth: no
 * message type may contain itself, directly or through others. Depth-first
 * walk with an on-path mark; also reports the deepest nesting.
 */
#define DESC_MAX	128

struct desc_walk {
	const ProtobufCMessageDescriptor	*dw_seen[DESC_MAX];
	int					 dw_state[DESC_MAX]; /* 1 on path, 2 done */
	size_t					 dw_n;
	int					 dw_cycle;
};

static int
desc_walk(struct desc_walk *w, const ProtobufCMessageDescriptor *d, int depth,
    int *maxdepth)
{
	size_t i, k;

	for (k = 0; k < w->dw_n && w->dw_seen[k] != d; k++)
		;
	if (k < w->dw_n) {
		if (w->dw_state[k] == 1) {
			print_error("cycle through %s\n", d->name);
			w->dw_cycle = 1;
		}
		return 0;
	}
	assert_true(w->dw_n < DESC_MAX);
	w->dw_seen[k] = d;
	w->dw_state[k] = 1;
	w->dw_n++;
	if (depth > *maxdepth)
		*maxdepth = depth;
	for (i = 0; i < d->n_fields; i++)
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
			desc_walk(w, d->fields[i].descriptor, depth + 1, maxdepth);
	w->dw_state[k] = 2;
	return 0;
}

static void
test_descriptors_acyclic(void **state)
{
	const ProtobufCMessageDescriptor *roots[] = {
		&eenplan__v1__request__descriptor,
		&eenplan__v1__response__descriptor,
		&eenplan__v1__plan__descriptor,
		&eenplan__v1__history_entry__descriptor,
		&eenplan__v1__grant__descriptor,
		&eenplan__v1__audit_record__descriptor,
		&eenplan__v1__change_event__descriptor,
	};
	struct desc_walk w;
	size_t i;
	int maxdepth = 0;

	(void)state;
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		memset(&w, 0, sizeof(w));
		desc_walk(&w, roots[i], 1, &maxdepth);
		assert_false(w.dw_cycle);
	}
	/* Response > GetPlanResponse > Plan > Goal > Principal. */
	assert_true(maxdepth <= 6);

	/* The walk does find a cycle when there is one. */
	{
		ProtobufCFieldDescriptor f;
		ProtobufCMessageDescriptor self;

		memset(&f, 0, sizeof(f));
		memset(&self, 0, sizeof(self));
		f.type = PROTOBUF_C_TYPE_MESSAGE;
		f.descriptor = &self;
		self.name = "test.Self";
		self.n_fields = 1;
		self.fields = &f;
		memset(&w, 0, sizeof(w));
		desc_walk(&w, &self, 1, &maxdepth);
		assert_true(w.dw_cycle);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptors_acyclic),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_decode_empty),
		cmocka_unit_test(test_decode_one),
		cmocka_unit_test(test_decode_max),
		cmocka_unit_test(test_decode_too_large),
		cmocka_unit_test(test_decode_truncated_header),
		cmocka_unit_test(test_decode_truncated_body),
		cmocka_unit_test(test_decode_back_to_back),
		cmocka_unit_test(test_pack_round_trip),
		cmocka_unit_test(test_arena_budget),
		cmocka_unit_test(test_arena_every_budget),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_enum_names),
		cmocka_unit_test(test_code_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
