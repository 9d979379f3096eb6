/*
 * plan: the integrated support plan model — creating a plan, validating and
 * applying mutations, filtering a plan or a history entry to a scope. Pure:
 * no I/O, no LMDB, no TLS, no clock (the caller passes now).
 *
 * Plans handled here are trees of malloc'd protobuf-c structs (the default
 * allocator), so protobuf_c_message_free_unpacked(msg, NULL) frees them;
 * string fields that are empty point at protobuf_c_empty_string.
 */
#ifndef EENPLAN_PLAN_H
#define EENPLAN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"
#include "consent.h"
#include "util.h"

/* Limits on what a plan may hold (characters, counts). */
#define PLAN_MEMBERS_MAX	16
#define PLAN_MUTATIONS_MAX	64	/* per MutatePlan request */
#define PLAN_ITEMS_MAX		4096	/* goals+actions+notes+assessments */
#define PLAN_TEXT_MAX		2000	/* goal/action text, remarks, reasons */
#define PLAN_NOTE_MAX		4000
#define PLAN_NAME_MAX		200
#define PLAN_RELATION_MAX	64
#define PLAN_PERSON_ID_MAX	64
#define PLAN_REFERENCE_MAX	UTIL_REFERENCE_MAX	/* consent form references */

/*
 * Bytes a packed plan may take. Items times text could reach megabytes,
 * but GetPlan answers with the whole plan in one frame, and every version
 * is stored whole: a plan stays under max_frame less PLAN_FRAME_HEADROOM
 * for the response around it (half of max_frame when that is under twice
 * the headroom). A change that would grow it further is refused with
 * RESOURCE_EXHAUSTED ("plan: would grow to N bytes ...").
 */
#define PLAN_FRAME_HEADROOM	(64 * 1024)
size_t	plan_bytes_max(uint32_t max_frame);

/* Why something was refused: a status code, the field, and a message. */
struct plan_error {
	int	pe_code;		/* EENPLAN__V1__CODE__* */
	char	pe_field[64];		/* e.g. "mutations[2].add_goal.text" */
	char	pe_msg[192];
};

/*
 * Makes version 1 of a new plan: status active, the creator as regisseur,
 * the members as given (validated: 1..PLAN_MEMBERS_MAX, person_id an
 * identifier, unique; name 1..200 UTF-8; relation 0..64), area 1..5,
 * intake_ref 1..128 chars. Returns 0 or -1 with err set (INVALID_ARGUMENT).
 */
int	plan_new(EpPlan **out, const char *household_id, int area,
	    EpMember *const *members, size_t nmembers, const EpPrincipal *creator,
	    const char *intake_ref, int64_t now, struct plan_error *err)
	    __attribute__((warn_unused_result));

/*
 * What mutation m touches, for the policy: the consent op, the ZRM domain
 * (for SetActionStatus/SetGoalStatus the existing item's domain; for
 * AddAction the goal's) and for action ops the owning organisation (pointer
 * into plan or m). Fails (NOT_FOUND / INVALID_ARGUMENT) when the item it
 * refers to does not exist or the mutation is empty.
 */
int	plan_mutation_target(const EpPlan *, const EpMutation *m,
	    enum consent_op *op, int *domain, const char **owner_org,
	    struct plan_error *err) __attribute__((warn_unused_result));

/*
 * Validates m and applies it to p in place: new items get p->next_item_id
 * (then incremented), created_by/at and updated_at set; *created_id is the
 * new item's id or 0. Does not change p->version (the caller bumps it once
 * per request). Rules: text lengths and UTF-8, dates, domains 1..13, scores
 * 1..5, action transitions proposed->accepted->in_progress->done and any
 * non-final -> cancelled (done and cancelled are final), an action's goal
 * must exist, a closed household refuses all (FAILED_PRECONDITION).
 * Also: goals move open -> achieved | dropped and back to open (reopen),
 * not achieved <-> dropped; setting the status an item already has is
 * FAILED_PRECONDITION; an action needs an open goal (FAILED_PRECONDITION);
 * unknown goal/action ids are NOT_FOUND (id 0: INVALID_ARGUMENT); a full
 * plan (PLAN_ITEMS_MAX items, PLAN_MEMBERS_MAX members) is
 * RESOURCE_EXHAUSTED; adding a person_id already listed is ALREADY_EXISTS;
 * SetTargetScore replaces the domain's target. p->updated_by/at are set.
 * Returns 0, or -1 with err set; on -1 p is unchanged.
 */
int	plan_apply(EpPlan *p, const EpMutation *m, const EpPrincipal *actor,
	    int64_t now, uint32_t *created_id, struct plan_error *err)
	    __attribute__((warn_unused_result));

/*
 * Household-level changes for the Escalate, CloseHousehold and
 * TransferRegie handlers. Like plan_apply they leave p->version to the
 * caller, set p->updated_by/at, refuse a closed household
 * (FAILED_PRECONDITION) and leave p unchanged on -1.
 * plan_escalate: reason 1..2000 chars ("reason"); appends an escalation and
 * sets status escalated (an escalated household may escalate again); at
 * most PLAN_ITEMS_MAX escalations (RESOURCE_EXHAUSTED, "escalations").
 * A closed household is refused without a field, so the message reads
 * alone.
 * plan_close: status closed. plan_set_regisseur: to's org and subject are
 * identifiers ("to_org", "to_subject"), and not already the regisseur.
 */
int	plan_escalate(EpPlan *p, const char *reason, const EpPrincipal *actor,
	    int64_t now, struct plan_error *err)
	    __attribute__((warn_unused_result));
int	plan_close(EpPlan *p, const EpPrincipal *actor, int64_t now,
	    struct plan_error *err) __attribute__((warn_unused_result));
int	plan_set_regisseur(EpPlan *p, const EpPrincipal *to,
	    const EpPrincipal *actor, int64_t now, struct plan_error *err)
	    __attribute__((warn_unused_result));

/* The domain mutation m touches within plan p (0 when none), for history. */
int	plan_mutation_domain(const EpPlan *p, const EpMutation *m);

/*
 * What a reader with scope sees of p, without copying: a new top-level
 * struct whose item arrays point at p's items in scope (members, regisseur,
 * area, status stay). A scoped view (scope not CONSENT_SCOPE_ALL) also
 * loses updated_by and next_item_id, and its escalations carry no reason
 * (a reason is tied to no domain: plan content only whole-plan readers
 * see). Valid while p lives; pack it, then plan_view_free(v, scope).
 * NULL on allocation failure.
 */
EpPlan	*plan_view(const EpPlan *p, uint32_t scope);
void	 plan_view_free(EpPlan *v, uint32_t scope);
/* A deep copy of plan_view(p, scope). NULL on allocation failure. */
EpPlan	*plan_filter(const EpPlan *p, uint32_t scope);

/*
 * Replays one committed version onto p (the version before it): the
 * entry's mutations (CHANGE_PLAN), escalation (detail is the reason),
 * closing, or regie change (regisseur: the new one; NULL: dismissed), then
 * what committing does (updated_by/at, version + 1). Exactly what the
 * commit did, so the result packs to the same bytes. 0, or -1 with err.
 */
int	plan_replay(EpPlan *p, const EpHistoryEntry *e,
	    const EpPrincipal *regisseur, struct plan_error *err)
	    __attribute__((warn_unused_result));

/*
 * A deep copy of a history entry keeping only mutations whose domain (the
 * entry's mutation_domains, parallel to mutations) is in scope; mutations
 * with domain 0 (not domain-bound) stay. A scoped copy loses the detail
 * (escalation, closing and transfer reasons). NULL on allocation failure.
 */
EpHistoryEntry *plan_filter_history(const EpHistoryEntry *, uint32_t scope);
/*
 * 1 when a reader with scope is told of the change e records: one without
 * mutations (every reader), or with a mutation in scope or bound to no
 * domain. The feed's rule, and the scoped view's version.
 */
int	plan_entry_visible(const EpHistoryEntry *e, uint32_t scope);

/* Deep copy (pack + unpack); NULL on failure. */
EpPlan	*plan_dup(const EpPlan *);
void	 plan_free(EpPlan *);


/* Set err (helper for handlers too). */
void	plan_error_set(struct plan_error *, int code, const char *field,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
