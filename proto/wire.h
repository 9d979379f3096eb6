/*
 * wire: what daemon and client share besides the generated protobuf code —
 * the frame codec (4-byte big-endian length + one message), a bounded
 * per-request allocator for unpacking, and short names for the wire types.
 */
#ifndef EENPLAN_WIRE_H
#define EENPLAN_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "eenplan.pb-c.h"

/* The wire enums by their short names: CODE(OK), ACCESS(READ), ... */
#define CODE(x)		EENPLAN__V1__CODE__##x
#define ACCESS(x)	EENPLAN__V1__ACCESS__ACCESS_##x
#define ROLE(x)		EENPLAN__V1__ROLE__ROLE_##x
#define KIND(x)		EENPLAN__V1__CHANGE_KIND__CHANGE_##x

#define WIRE_HDR_LEN		4
#define WIRE_DEFAULT_MAX_FRAME	(1024u * 1024u)	/* 1 MiB */
#define WIRE_ALPN		"eenplan/1"

/* Short names for the generated types. */
typedef Eenplan__V1__Request		EpRequest;
typedef Eenplan__V1__Response		EpResponse;
typedef Eenplan__V1__Status		EpStatus;
typedef Eenplan__V1__Principal		EpPrincipal;
typedef Eenplan__V1__Plan		EpPlan;
typedef Eenplan__V1__Member		EpMember;
typedef Eenplan__V1__Goal		EpGoal;
typedef Eenplan__V1__Action		EpAction;
typedef Eenplan__V1__Assessment		EpAssessment;
typedef Eenplan__V1__TargetScore	EpTargetScore;
typedef Eenplan__V1__Note		EpNote;
typedef Eenplan__V1__Escalation		EpEscalation;
typedef Eenplan__V1__Mutation		EpMutation;
typedef Eenplan__V1__HistoryEntry	EpHistoryEntry;
typedef Eenplan__V1__Grant		EpGrant;
typedef Eenplan__V1__AuditRecord	EpAuditRecord;
typedef Eenplan__V1__ChangeEvent	EpChangeEvent;
typedef Eenplan__V1__HouseholdSummary	EpHouseholdSummary;
typedef Eenplan__V1__Signal		EpSignal;

enum wire_frame_rc {
	WIRE_FRAME_OK = 0,	/* a whole frame is available */
	WIRE_FRAME_NEED_MORE,	/* not enough bytes yet */
	WIRE_FRAME_EMPTY,	/* length 0: protocol error */
	WIRE_FRAME_TOO_LARGE	/* length over the limit: protocol error */
};

/* Writes the 4-byte header for a body of len bytes. */
void	wire_frame_header(uint8_t hdr[WIRE_HDR_LEN], uint32_t len);

/*
 * Looks at avail bytes at buf. The length is checked against max before
 * anything else, so a caller can refuse a frame before buffering its body.
 * On WIRE_FRAME_OK, *body and *len give the message and the whole frame is
 * WIRE_HDR_LEN + *len bytes. *len is also set for TOO_LARGE and NEED_MORE
 * once the header is complete (else 0).
 */
enum wire_frame_rc wire_frame_decode(const uint8_t *buf, size_t avail,
	    uint32_t max, const uint8_t **body, uint32_t *len)
	    __attribute__((warn_unused_result));

/*
 * Packs msg into a new malloc'd frame (header + body). Returns NULL when the
 * message is larger than max or on allocation failure.
 */
uint8_t	*wire_frame_pack(const ProtobufCMessage *msg, uint32_t max,
	    size_t *frame_len) __attribute__((warn_unused_result));

/*
 * A bump allocator with a hard budget, for protobuf_c unpack: a small wire
 * message can expand to many times its size in allocations. Frees are no-ops;
 * wire_arena_reset() releases everything at once.
 */
struct wire_arena {
	ProtobufCAllocator	 wa_alloc;	/* pass &wa_alloc to unpack */
	uint8_t			*wa_buf;
	size_t			 wa_cap;
	size_t			 wa_used;
	int			 wa_exhausted;	/* an allocation was refused */
};

int	wire_arena_init(struct wire_arena *, size_t budget)
	    __attribute__((warn_unused_result));
void	wire_arena_reset(struct wire_arena *);
void	wire_arena_free(struct wire_arena *);

/*
 * A counting allocator with a hard budget: each allocation is a malloc, the
 * total live bytes may not exceed the budget. Unlike the arena it needs no
 * up-front buffer, so it suits requests that live across loop turns; free the
 * message with protobuf_c_message_free_unpacked(msg, &wb->wb_alloc).
 */
struct wire_budget {
	ProtobufCAllocator	 wb_alloc;
	size_t			 wb_used;
	size_t			 wb_max;
	int			 wb_exhausted;
};

void	wire_budget_init(struct wire_budget *, size_t max);

/*
 * A deep copy of msg made of malloc'd parts (pack + unpack), freed with
 * protobuf_c_message_free_unpacked(copy, NULL). NULL on failure.
 */
ProtobufCMessage *wire_msg_dup(const ProtobufCMessage *msg);

/* gRPC name of a status code ("PERMISSION_DENIED"), "UNKNOWN" if out of range. */
const char *wire_code_name(int code);

/*
 * Text of enum values for people and for the CLI's arguments; each returns
 * NULL / -1 when out of range or unknown. Names are the lower-case tails
 * ("financien", "noord", "in_progress", "contribute", "professional").
 */
const char *wire_domain_name(int);
int	    wire_domain_parse(const char *);
const char *wire_domain_label(int);	/* Dutch display label */
const char *wire_area_name(int);
int	    wire_area_parse(const char *);
const char *wire_role_name(int);
int	    wire_role_parse(const char *);
const char *wire_access_name(int);
int	    wire_access_parse(const char *);
const char *wire_action_status_name(int);
int	    wire_action_status_parse(const char *);
const char *wire_goal_status_name(int);
int	    wire_goal_status_parse(const char *);
const char *wire_household_status_name(int);
const char *wire_change_kind_name(int);

#endif
