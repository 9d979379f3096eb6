/*
 * household: one household as the request path sees it. Owns "load the
 * standing record (with its grants) and decide the caller's standing" —
 * which never reads the plan body, so a refusal costs the same whether the
 * household exists or not — and "commit the next version": the body once,
 * the version as a delta, a snapshot every so often, the standing record,
 * the change event. Also the plan at an old version (snapshot + replay) and
 * the grants. Takes its configuration, not the server's.
 */
#ifndef EENPLAN_HOUSEHOLD_H
#define EENPLAN_HOUSEHOLD_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"
#include "consent.h"
#include "plan.h"
#include "principal.h"
#include "store.h"

struct household_conf {
	const struct consent_conf *hc_consent;
	size_t		 hc_plan_bytes_max;	/* plan_bytes_max(max_frame) */
	/*
	 * A full snapshot is stored at version 1, then when snapshot_versions
	 * versions passed since the last one, or when the deltas since it
	 * reach snapshot_bytes or the plan's own size, whichever is larger:
	 * an old version is a snapshot plus at most that many deltas, and
	 * history costs at most about twice its deltas.
	 */
	uint32_t	 hc_snapshot_versions;
	size_t		 hc_snapshot_bytes;
	uint32_t	 hc_grants_max;		/* grants ever, per household */
	uint32_t	 hc_active_grants_max;	/* current grants, per household */
};

#define HOUSEHOLD_SNAPSHOT_VERSIONS	1000
#define HOUSEHOLD_SNAPSHOT_BYTES	(64 * 1024)
#define HOUSEHOLD_GRANTS_MAX		4096
#define HOUSEHOLD_ACTIVE_GRANTS_MAX	64

struct household {
	EpsHousehold		*h_rec;		/* NULL: no such household */
	char			 h_id[33];
	struct consent_decision	 h_dec;
	char			*h_purpose;	/* a copy: of the grant giving access,
						   or NULL (the grant may go) */
	uint64_t		 h_gen0;	/* consent generation as loaded */
	uint64_t		 h_gen_saved;	/* the last one with its state stored */
	uint64_t		 h_gen_evented;	/* the last one an event named */
	struct store_stamp	 h_stamp;	/* of the stored record h_dec was
						   decided on; unset once decided
						   again (the record may differ) */
	int64_t			 h_now;		/* the moment h_dec is for */
};

/* What an event says besides its kind (household_event). */
struct household_ev {
	int			 he_kind;	/* CHANGE_* */
	uint64_t		 he_grant_id;	/* CHANGE_CONSENT, BREAK_GLASS */
	int			 he_consent;	/* CONSENT_* (ConsentChange) */
	const EpSignal		*he_signal;	/* CHANGE_SIGNAL */
};

/*
 * Loads household hhid's standing record through t and decides who's
 * standing at now. STORE_OK, STORE_NOTFOUND (h->h_rec NULL, no access), or
 * a STORE_* error (< 0). Never reads the plan body.
 */
int	household_load(struct stxn *, const struct household_conf *,
	    const struct principal *who, const char *hhid, int64_t now,
	    struct household *h) __attribute__((warn_unused_result));
/*
 * Decides again for another caller or moment (the record as loaded).
 * STORE_OK, or STORE_ERR out of memory.
 */
int	household_decide(const struct household_conf *, struct household *,
	    const struct principal *who, int64_t now)
	    __attribute__((warn_unused_result));
void	household_free(struct household *);
/* The members and regisseur of a loaded household, for the policy. */
void	household_view(const struct household *, struct consent_household *);

/* The current plan (decoded), or the plan at version (snapshot + replay). */
int	household_plan(struct stxn *, const struct household *,
	    uint64_t version, EpPlan **out) __attribute__((warn_unused_result));
/* The current plan's stored bytes (see store_body_open). */
int	household_body_open(struct stxn *, const struct household *,
	    size_t head, size_t tail, uint8_t **buf, size_t *len)
	    __attribute__((warn_unused_result));

/* One version's change, for household_commit. */
struct household_change {
	int			 hc_kind;	/* CHANGE_* */
	EpMutation		**hc_muts;	/* CHANGE_PLAN */
	int			*hc_domains;	/* parallel to hc_muts */
	size_t			 hc_nmuts;
	const char		*hc_detail;	/* reason, "intake", ... */
	const struct principal	*hc_actor;
	int64_t			 hc_now;
	int			 hc_no_event;	/* the caller appends it */
};

/*
 * Commits plan (h's plan, changed in memory by the caller) as the next
 * version: version + 1, updated_by/at, the body, the delta, a snapshot when
 * due, the standing record (members, regisseur, status follow the plan)
 * and a change event. A plan that would outgrow hc_plan_bytes_max is
 * refused (RESOURCE_EXHAUSTED in pe, "plan"). STORE_* code; on a refusal
 * STORE_ERR with pe set.
 */
/*
 * The version and time a reader with scope sees the plan at: its last
 * change the scope is told of (the feed's rule), for the current version.
 */
void	household_scoped_version(const EpsHousehold *, uint32_t scope,
	    uint64_t *version, int64_t *at);
/* The same as of version upto (an older version: from its deltas). */
int	household_scoped_version_at(struct stxn *, const struct household *,
	    uint64_t upto, uint32_t scope, uint64_t *version, int64_t *at)
	    __attribute__((warn_unused_result));
int	household_commit(struct stxn *, const struct household_conf *,
	    struct household *, EpPlan *plan, const struct household_change *,
	    struct plan_error *pe) __attribute__((warn_unused_result));

/*
 * Intake: plan is version 0 as plan_new made it (the caller's id in it);
 * stores version 1 and the regisseur's manage grant g (id assigned) and
 * links the members and the regisseur in the principals index. h is
 * filled as household_load would. STORE_* code, pe set on a refusal.
 */
int	household_create(struct stxn *, const struct household_conf *,
	    struct household *, EpPlan *plan, EpGrant *g,
	    const struct principal *actor, int64_t now, struct plan_error *pe)
	    __attribute__((warn_unused_result));

/*
 * Records a new grant (g->id assigned here): archive, the standing record's
 * current grants, the principals index, a CHANGE_CONSENT event (kind may
 * be CHANGE_BREAK_GLASS). Refused (RESOURCE_EXHAUSTED in pe) past
 * hc_grants_max or hc_active_grants_max.
 */
int	household_grant_add(struct stxn *, const struct household_conf *,
	    struct household *, EpGrant *g, int kind,
	    const struct principal *actor, int64_t now, struct plan_error *pe)
	    __attribute__((warn_unused_result));
/*
 * Stores g, a grant of h changed by the caller (revoked): archive, the
 * standing record drops it from its current grants, the index forgets the
 * grantee when nothing else links it. event: 0, or the ConsentChange of a
 * CHANGE_CONSENT event to append.
 */
int	household_grant_update(struct stxn *, const struct household_conf *,
	    struct household *, const EpGrant *g, int event,
	    const struct principal *actor, int64_t now)
	    __attribute__((warn_unused_result));
/* A current grant of h by id (in the standing record), or NULL. */
EpGrant	*household_grant_find(const struct household *, uint64_t id);
/* Every grant ever recorded (the archive), in id order. */
int	household_grants_all(struct stxn *, const struct household *,
	    EpGrant ***out, size_t *n) __attribute__((warn_unused_result));

/*
 * Appends a change event for h at its version, with the household's consent
 * generations before the request (h_gen0) and now: the feed decides by them
 * who could read it.
 */
int	household_event(struct stxn *, struct household *,
	    const struct household_ev *, const struct principal *actor,
	    int64_t now) __attribute__((warn_unused_result));
/*
 * Stores h's standing record, and the consent state of its generation when
 * that moved (the feed reads it). Every writer of the record goes through it.
 */
int	household_put(struct stxn *, struct household *)
	    __attribute__((warn_unused_result));

/*
 * The writer's sweep: grants whose valid_until passed leave the current
 * grants, each with a CHANGE_CONSENT (CONSENT_EXPIRED) event, at most max
 * per call. *n: how many. STORE_* code.
 */
int	household_expire_due(struct stxn *, const struct household_conf *,
	    int64_t now, unsigned max, unsigned *n)
	    __attribute__((warn_unused_result));

/*
 * A signal for h's regisseur: stored (id assigned), a CHANGE_SIGNAL event.
 * sg->household_id must be h's.
 */
int	household_signal_add(struct stxn *, struct household *, EpSignal *sg,
	    const struct principal *actor, int64_t now)
	    __attribute__((warn_unused_result));
/*
 * What household_signal_add costs, for household id hhid that does not
 * exist or is closed, with nothing kept (store_signal_decoy).
 */
int	household_signal_decoy(struct stxn *, const char *hhid, EpSignal *sg,
	    const struct principal *actor, int64_t now)
	    __attribute__((warn_unused_result));
/* All of h's signals, in id order (counted: one missing is damage). */
int	household_signals(struct stxn *, const struct household *,
	    EpSignal ***out, size_t *n) __attribute__((warn_unused_result));

/*
 * For a read prepared on an older snapshot: decides again through t (the
 * commit's transaction) and says whether the prepared answer may still be
 * given — 1 when the caller still may do op with at least the access and
 * the scope the answer was built for, 0 when not (also when the household
 * is gone), < 0 a STORE_* error.
 */
int	household_recheck(struct stxn *, const struct household_conf *,
	    const struct principal *who, const char *hhid, int op,
	    int access, uint32_t scope, int64_t now)
	    __attribute__((warn_unused_result));

/* Whole household for the migration: standing record from a plan. */
EpsHousehold *household_record_new(const EpPlan *plan);
/* The snapshot rule of household_conf: 1 when version needs a snapshot. */
int	household_snapshot_due(const struct household_conf *,
	    const EpsHousehold *rec, uint64_t version, size_t delta_bytes,
	    size_t plan_bytes);
/* A principal view of a wire Principal (for decisions on stored actors). */
void	household_principal(const EpPrincipal *, struct principal *);

#endif
