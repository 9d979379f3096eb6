/*
 * feed: what one receiver may see of the change feed. Each stored event
 * carries its household's consent generations before and after it; the
 * receiver sees the event when it could read the household at that
 * generation — filtered to its scope (only its domains' mutations; a reason
 * only for whole-plan readers; no event at all for a change wholly outside
 * its scope) — and CHANGE_ACCESS_ENDED when the event took its access away
 * (revoke, expiry, the regie handed on). Consent changes are seen by who
 * may list the household's consent, and by a receiver they give access
 * (so a mirror knows to fetch the plan); signals by the regisseur.
 */
#ifndef EENPLAN_FEED_H
#define EENPLAN_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "household.h"
#include "principal.h"
#include "store.h"

#define FEED_CACHE	32	/* consent states remembered per reader */

struct feed_state {
	char		 fs_hhid[33];
	uint64_t	 fs_gen;
	EpsHousehold	*fs_rec;
	uint64_t	 fs_used;
};

struct feed_reader {
	const struct household_conf	*fr_hc;
	const struct principal		*fr_who;
	struct feed_state		 fr_cache[FEED_CACHE];
	uint64_t			 fr_tick;
};

void	feed_reader_init(struct feed_reader *, const struct household_conf *,
	    const struct principal *who);
/* Frees the cached states (call when the read txn ends, or reuse). */
void	feed_reader_clear(struct feed_reader *);

/*
 * What the receiver may see of fe, read through t: up to two events in
 * out (malloc'd, free with protobuf_c_message_free_unpacked): ACCESS_ENDED,
 * then the event itself. Returns how many, or a STORE_* error (< 0).
 */
int	feed_view(struct feed_reader *, struct stxn *, const EpsFeedEvent *fe,
	    EpChangeEvent *out[2]) __attribute__((warn_unused_result));

#endif
