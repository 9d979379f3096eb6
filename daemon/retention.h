/*
 * retention: the retention purge (`eenpland purge`). Removes the plans of
 * households closed longer ago than their regime's retention ([retention]
 * wmo, jeugdwet; a household records its regime at intake) and closed
 * before the date the operator gives, and the audit records older than
 * [audit] retention_years (at least 5). What it removes is put on record in
 * the audit chain (ids and counts, never content), and the change feed
 * tells every receiver that could read a purged household ACCESS_ENDED, so
 * partner systems purge their copies too.
 *
 * It runs as a second process with the daemon stopped: it appends audit
 * records, and a running daemon's writer holds the chain's head in memory
 * (two appenders would fork the chain). Work goes in bounded transactions,
 * each whole: one household (its removal, its feed, its audit record), or
 * one batch of audit records (with the new base and a record saying so), so
 * a purge cut off leaves a consistent store and the next run goes on.
 */
#ifndef EENPLAN_RETENTION_H
#define EENPLAN_RETENTION_H

#include <stdint.h>

#include "config.h"
#include "store.h"

#define RETENTION_AUDIT_BATCH	1024	/* audit records per transaction */

struct retention_opts {
	int64_t		 ro_now;		/* us */
	int64_t		 ro_closed_before;	/* us: only households closed
						   before this */
	int		 ro_apply;		/* 0: count and list only */
	int		 ro_audit;		/* purge audit records too */
	const char	*ro_operator;		/* who ran it (the records' peer) */
	/* One line per household found due (and per audit batch). */
	void		(*ro_say)(void *arg, const char *line);
	void		*ro_arg;
};

struct retention_result {
	uint64_t	rr_households;		/* standing records seen */
	uint64_t	rr_closed;		/* of them closed */
	uint64_t	rr_due;			/* closed before the date and past
						   their retention */
	uint64_t	rr_kept;		/* closed before the date, but
						   within their retention */
	uint64_t	rr_purged;		/* removed (--apply) */
	uint64_t	rr_versions;		/* plan versions removed */
	uint64_t	rr_grants;		/* grants removed */
	uint64_t	rr_signals;		/* signals removed */
	uint64_t	rr_sent;		/* senders' copies of them */
	int		rr_sent_unknown;	/* not counted (dry run on a
						   store not yet indexed) */
	uint64_t	rr_feed_hidden;		/* old feed events emptied */
	uint64_t	rr_audit_due;		/* audit records past retention */
	uint64_t	rr_audit_purged;
	uint64_t	rr_audit_first;		/* their sequence numbers */
	uint64_t	rr_audit_last;
	uint64_t	rr_records_added;	/* audit records the purge wrote */
};

/*
 * Calendar arithmetic in UTC: the moment years after (or, negative, before)
 * t (us). 29 February goes to 28 February when the year has none.
 */
int64_t	retention_add_years(int64_t t, int years);

/*
 * Runs the purge on st (opened for writing when ro_apply, by the only
 * process on it). 0, or -1 with err (what was committed before stays).
 */
int	retention_run(struct store *, const struct config *,
	    const struct retention_opts *, struct retention_result *,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
