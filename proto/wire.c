/* wire: frame codec, bounded unpack allocator and enum names (see wire.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wire.h"

void
wire_frame_header(uint8_t hdr[WIRE_HDR_LEN], uint32_t len)
{
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
}

enum wire_frame_rc
wire_frame_decode(const uint8_t *buf, size_t avail, uint32_t max,
    const uint8_t **body, uint32_t *len)
{
	uint32_t n;

	*body = NULL;
	*len = 0;
	if (avail < WIRE_HDR_LEN)
		return WIRE_FRAME_NEED_MORE;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | (uint32_t)buf[3];
	*len = n;
	if (n == 0)
		return WIRE_FRAME_EMPTY;
	if (n > max)
		return WIRE_FRAME_TOO_LARGE;
	if (avail - WIRE_HDR_LEN < (size_t)n)
		return WIRE_FRAME_NEED_MORE;
	*body = buf + WIRE_HDR_LEN;
	return WIRE_FRAME_OK;
}

uint8_t *
wire_frame_pack(const ProtobufCMessage *msg, uint32_t max, size_t *frame_len)
{
	size_t n;
	uint8_t *f;

	*frame_len = 0;
	n = protobuf_c_message_get_packed_size(msg);
	if (n > max)
		return NULL;
	if ((f = malloc(WIRE_HDR_LEN + (n ? n : 1))) == NULL)
		return NULL;
	wire_frame_header(f, (uint32_t)n);
	if (protobuf_c_message_pack(msg, f + WIRE_HDR_LEN) != n) {
		free(f);
		return NULL;
	}
	*frame_len = WIRE_HDR_LEN + n;
	return f;
}

static void *
arena_alloc(void *ctx, size_t size)
{
	struct wire_arena *wa = ctx;
	size_t off;

	/* 16-byte alignment, checked so that no sum can wrap. */
	off = (wa->wa_used + 15) & ~(size_t)15;
	if (off > wa->wa_cap || wa->wa_cap - off < size) {
		wa->wa_exhausted = 1;
		return NULL;
	}
	wa->wa_used = off + size;
	return wa->wa_buf + off;
}

static void
arena_free(void *ctx, void *p)
{
	(void)ctx;
	(void)p;
}

int
wire_arena_init(struct wire_arena *wa, size_t budget)
{
	memset(wa, 0, sizeof(*wa));
	if ((wa->wa_buf = malloc(budget)) == NULL)
		return -1;
	wa->wa_cap = budget;
	wa->wa_alloc.alloc = arena_alloc;
	wa->wa_alloc.free = arena_free;
	wa->wa_alloc.allocator_data = wa;
	return 0;
}

void
wire_arena_reset(struct wire_arena *wa)
{
	wa->wa_used = 0;
	wa->wa_exhausted = 0;
}

void
wire_arena_free(struct wire_arena *wa)
{
	free(wa->wa_buf);
	memset(wa, 0, sizeof(*wa));
}

/* Each block carries its size in front, so free can return it to the budget. */
static void *
budget_alloc(void *ctx, size_t size)
{
	struct wire_budget *wb = ctx;
	size_t *p;

	if (size > wb->wb_max || wb->wb_max - wb->wb_used < size ||
	    size > SIZE_MAX - 16) {
		wb->wb_exhausted = 1;
		return NULL;
	}
	if ((p = malloc(size + 16)) == NULL)
		return NULL;
	p[0] = size;
	wb->wb_used += size;
	return (uint8_t *)p + 16;
}

static void
budget_free(void *ctx, void *ptr)
{
	struct wire_budget *wb = ctx;
	size_t *p;

	if (ptr == NULL)
		return;
	p = (size_t *)(void *)((uint8_t *)ptr - 16);
	wb->wb_used -= p[0];
	free(p);
}

void
wire_budget_init(struct wire_budget *wb, size_t max)
{
	memset(wb, 0, sizeof(*wb));
	wb->wb_max = max;
	wb->wb_alloc.alloc = budget_alloc;
	wb->wb_alloc.free = budget_free;
	wb->wb_alloc.allocator_data = wb;
}

ProtobufCMessage *
wire_msg_dup(const ProtobufCMessage *msg)
{
	ProtobufCMessage *copy;
	uint8_t *buf;
	size_t len;

	len = protobuf_c_message_get_packed_size(msg);
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		return NULL;
	if (protobuf_c_message_pack(msg, buf) != len) {
		free(buf);
		return NULL;
	}
	copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
	free(buf);
	return copy;
}

static const char *const code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED"
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const char *
name_of(const char *const *t, size_t n, int v)
{
	if (v < 0 || (size_t)v >= n || t[v] == NULL)
		return NULL;
	return t[v];
}

/* Index 0 (the proto3 "unspecified") never parses. */
static int
parse_in(const char *const *t, size_t n, const char *s)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 1; i < n; i++)
		if (t[i] != NULL && strcasecmp(t[i], s) == 0)
			return (int)i;
	return -1;
}

const char *
wire_code_name(int code)
{
	const char *s = name_of(code_names, NELEM(code_names), code);

	return s ? s : "UNKNOWN";
}

static const char *const domain_names[] = {
	NULL, "financien", "werk_opleiding", "tijdsbesteding", "huisvesting",
	"huiselijke_relaties", "geestelijke_gezondheid",
	"lichamelijke_gezondheid", "middelengebruik", "basale_adl",
	"instrumentele_adl", "sociaal_netwerk", "maatschappelijke_participatie",
	"justitie"
};
static const char *const domain_labels[] = {
	NULL, "Financiën", "Werk & opleiding", "Tijdsbesteding", "Huisvesting",
	"Huiselijke relaties", "Geestelijke gezondheid",
	"Lichamelijke gezondheid", "Middelengebruik", "Basale ADL",
	"Instrumentele ADL", "Sociaal netwerk", "Maatschappelijke participatie",
	"Justitie"
};
static const char *const area_names[] = {
	NULL, "noord", "oost", "west", "binnenstad", "stedelijk"
};
static const char *const role_names[] = {
	NULL, "client", "carer", "gp", "professional", "system", "auditor"
};
static const char *const access_names[] = {
	"none", "read", "contribute", "manage"
};
static const char *const action_status_names[] = {
	NULL, "proposed", "accepted", "in_progress", "done", "cancelled"
};
static const char *const goal_status_names[] = {
	NULL, "open", "achieved", "dropped"
};
static const char *const household_status_names[] = {
	NULL, "active", "escalated", "closed"
};
static const char *const change_kind_names[] = {
	NULL, "created", "plan", "consent", "regie", "escalated", "closed",
	"break_glass", "signal", "access_ended"
};

const char *wire_domain_name(int v) { return name_of(domain_names, NELEM(domain_names), v); }
int wire_domain_parse(const char *s) { return parse_in(domain_names, NELEM(domain_names), s); }
const char *wire_domain_label(int v) { return name_of(domain_labels, NELEM(domain_labels), v); }
const char *wire_area_name(int v) { return name_of(area_names, NELEM(area_names), v); }
int wire_area_parse(const char *s) { return parse_in(area_names, NELEM(area_names), s); }
const char *wire_role_name(int v) { return name_of(role_names, NELEM(role_names), v); }
int wire_role_parse(const char *s) { return parse_in(role_names, NELEM(role_names), s); }
const char *wire_access_name(int v) { return name_of(access_names, NELEM(access_names), v); }
const char *wire_action_status_name(int v) { return name_of(action_status_names, NELEM(action_status_names), v); }
int wire_action_status_parse(const char *s) { return parse_in(action_status_names, NELEM(action_status_names), s); }
const char *wire_goal_status_name(int v) { return name_of(goal_status_names, NELEM(goal_status_names), v); }
int wire_goal_status_parse(const char *s) { return parse_in(goal_status_names, NELEM(goal_status_names), s); }
const char *wire_household_status_name(int v) { return name_of(household_status_names, NELEM(household_status_names), v); }
const char *wire_change_kind_name(int v) { return name_of(change_kind_names, NELEM(change_kind_names), v); }

int
wire_access_parse(const char *s)
{
	int v = parse_in(access_names, NELEM(access_names), s);

	return v;
}
