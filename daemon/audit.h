/*
 * audit: NEN 7513 access records — building them, the SHA-256 hash chain
 * over a canonical encoding, appending (writer thread), verifying the chain
 * and exporting JSON lines (admin commands, read-only second process).
 */
#ifndef EENPLAN_AUDIT_H
#define EENPLAN_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include "wire.h"
#include "principal.h"
#include "store.h"

#define AUDIT_HASH_LEN		32
#define AUDIT_RETENTION_MIN_YEARS 5

/* The newest record's sequence number and hash (zeros when none). */
struct audit_head {
	uint64_t	ah_seq;
	uint8_t		ah_hash[AUDIT_HASH_LEN];
};

/*
 * A new record (malloc'd, free with audit_record_free) for actor doing
 * action ("GetPlan") on household hhid (NULL when none) at time now; outcome
 * OK until set.
 */
EpAuditRecord *audit_record_new(const struct principal *actor,
	    const char *action, const char *hhid, int64_t now);
void	audit_record_set(EpAuditRecord *, int outcome, const char *purpose,
	    const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));
void	audit_record_free(EpAuditRecord *);
/*
 * The request the record is of revealed household hhid too: named in its
 * listed_households (once), so the household sees it in its access log.
 * 0 or -1 (out of memory).
 */
int	audit_record_reveal(EpAuditRecord *, const char *hhid)
	    __attribute__((warn_unused_result));

/* SHA-256 over the canonical encoding of every field but hash. 0 or -1. */
int	audit_hash(const EpAuditRecord *, uint8_t out[AUDIT_HASH_LEN])
	    __attribute__((warn_unused_result));

int	audit_head_load(struct stxn *, struct audit_head *)
	    __attribute__((warn_unused_result));
/* The same, through a read txn of its own on st. */
int	audit_head_of(struct store *, struct audit_head *)
	    __attribute__((warn_unused_result));
/*
 * The chain's base: the last record a retention purge removed (seq and
 * hash; zeros when none was). The chain kept starts after it: record
 * base + 1 links to the base's hash. audit_base_put is the purge's.
 */
int	audit_base_load(struct stxn *, struct audit_head *)
	    __attribute__((warn_unused_result));
int	audit_base_put(struct stxn *, const struct audit_head *)
	    __attribute__((warn_unused_result));
/*
 * Numbers rec (head seq + 1), links it (prev_hash = head hash), hashes it,
 * stores it with its indexes and the new head in meta, and advances *head.
 * On error *head is unchanged. Returns a STORE_* code.
 */
int	audit_append(struct stxn *, struct audit_head *, EpAuditRecord *rec)
	    __attribute__((warn_unused_result));

/*
 * Walks the whole chain from seq 1 (or the record after the base a
 * retention purge left) to the head in meta. Returns 0 with
 * *count records when intact; -1 with *bad_seq the first sequence number
 * that is missing, out of place, edited or unlinked, and why in msg.
 */
int	audit_verify(struct stxn *, uint64_t *count, uint64_t *bad_seq,
	    char *msg, size_t msglen);

struct audit_filter {
	int64_t		 af_from;	/* 0: any */
	int64_t		 af_until;	/* 0: any */
	const char	*af_household;	/* NULL: any */
	const char	*af_org;	/* NULL: any (actor's org) */
};
/* 1 when r concerns household hhid (its household_id or listed_households). */
int	audit_names_household(const EpAuditRecord *, const char *hhid);
int	audit_filter_match(const struct audit_filter *, const EpAuditRecord *);

/* One JSON object per line (jansson). Returns the number written, or -1. */
long	audit_export_json(struct stxn *, FILE *, const struct audit_filter *);

#endif
