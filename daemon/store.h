/*
 * store: the only module that touches LMDB. One environment, named
 * databases, every value checksummed (CRC32 over key and payload, checked on
 * every read), LMDB errors mapped once to STORE_* codes, a sticky error on
 * each transaction so a failed put makes the commit refuse.
 *
 * Databases (key -> value):
 *   households  hhid                         -> Plan (current version)
 *   versions    hhid | version (u64 BE)      -> Plan (every version)
 *   history     hhid | version (u64 BE)      -> HistoryEntry
 *   consent     hhid | grant id (u64 BE)     -> Grant
 *   principals  org \0 subject \0 hhid       -> empty   (who may be linked;
 *               subject "" for whole-org grants; members under citizens org)
 *   audit       seq (u64 BE)                 -> AuditRecord
 *   audit_hh    hhid | seq                   -> empty
 *   audit_org   org \0 seq (u64 BE)          -> empty   (the actor's org)
 *   changes     seq (u64 BE)                 -> ChangeEvent
 *   meta        name                         -> value ("schema", "audit_head",
 *                                               "change_seq")
 */
#ifndef EENPLAN_STORE_H
#define EENPLAN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define STORE_SCHEMA_VERSION	1

enum store_rc {
	STORE_OK = 0,
	STORE_NOTFOUND = 1,
	STORE_ERR = -1,		/* unexpected LMDB or allocation error */
	STORE_CORRUPT = -2,	/* a value failed its checksum or did not decode */
	STORE_FULL = -3,	/* map full: RESOURCE_EXHAUSTED, nothing written */
	STORE_READONLY = -4,
	STORE_TXN_FULL = -5,	/* one write txn changed too many pages: nothing
				   written; a smaller batch would pass */
	STORE_READERS_FULL = -6, /* every reader slot taken (max_readers) */
};

struct store;
struct stxn;	/* a read, write or child transaction; carries a sticky error */

struct store_opts {
	const char	*so_dir;	/* the environment's directory */
	size_t		 so_map_max;	/* bytes; the file grows up to this */
	unsigned	 so_max_readers;
	int		 so_readonly;	/* admin tools: MDB_RDONLY */
};

/*
 * Opens (creating when absent and not read-only) the environment, opens all
 * databases in one committed txn, runs mdb_reader_check, checks or writes
 * the schema version, and refuses a damaged file (size smaller than what the
 * environment's meta says it uses) with a clear message in err.
 */
int	store_open(struct store **, const struct store_opts *, char *err,
	    size_t errlen) __attribute__((warn_unused_result));
void	store_close(struct store *);
const char *store_strerror(int rc);

/* Read transactions: one handle per thread, renewed and reset per request. */
struct stxn *store_reader_new(struct store *);
int	store_reader_begin(struct stxn *) __attribute__((warn_unused_result));
void	store_reader_end(struct stxn *);
void	store_reader_free(struct stxn *);

/* Write transactions: writer thread only. A child aborts alone. */
int	store_write_begin(struct store *, struct stxn **)
	    __attribute__((warn_unused_result));
int	store_child_begin(struct stxn *parent, struct stxn **child)
	    __attribute__((warn_unused_result));
/*
 * Commits; refuses (aborting) when the sticky error is set. The txn is gone
 * either way. A child whose LMDB commit fails may have left its parent
 * half-merged: the parent takes that error as its sticky error, so it can
 * neither begin another child nor commit.
 */
int	store_commit(struct stxn *) __attribute__((warn_unused_result));
void	store_abort(struct stxn *);
int	store_txn_error(const struct stxn *);	/* the sticky error, STORE_OK if none */

/* Plans. version 0 = current. *out is freed with plan_free(). */
int	store_plan_get(struct stxn *, const char *hhid, uint64_t version,
	    EpPlan **out) __attribute__((warn_unused_result));
/* Writes plan as current and as version plan->version, and its history entry. */
int	store_plan_put(struct stxn *, const EpPlan *plan,
	    const EpHistoryEntry *entry) __attribute__((warn_unused_result));
/* Entries with version > after, at most limit; *more set when there are more. */
int	store_history_list(struct stxn *, const char *hhid, uint64_t after,
	    uint32_t limit, EpHistoryEntry ***out, size_t *n, int *more)
	    __attribute__((warn_unused_result));

/* Consent: all grants of a household, in id order. */
int	store_grants_get(struct stxn *, const char *hhid, EpGrant ***out,
	    size_t *n) __attribute__((warn_unused_result));
int	store_grant_put(struct stxn *, const char *hhid, const EpGrant *)
	    __attribute__((warn_unused_result));

/* The principals index: hints for ListHouseholds; the policy decides. */
int	store_index_put(struct stxn *, const char *org, const char *subject,
	    const char *hhid) __attribute__((warn_unused_result));
/*
 * Calls cb for each hhid linked to (org, subject) in hhid order, starting
 * after after_hhid (NULL/"" from the start), until cb returns non-zero.
 */
int	store_index_scan(struct stxn *, const char *org, const char *subject,
	    const char *after_hhid, int (*cb)(const char *hhid, void *), void *)
	    __attribute__((warn_unused_result));

/* Audit records: rec->seq must be set (the audit module numbers them). */
int	store_audit_put(struct stxn *, const EpAuditRecord *rec)
	    __attribute__((warn_unused_result));
int	store_audit_get(struct stxn *, uint64_t seq, EpAuditRecord **out)
	    __attribute__((warn_unused_result));
/*
 * Calls cb for each record with seq > after, in order, filtered by household
 * (hhid != NULL, via audit_hh) or by actor org (org != NULL, via audit_org),
 * until cb returns non-zero. A record failing its checksum stops the scan
 * with STORE_CORRUPT.
 */
int	store_audit_scan(struct stxn *, const char *hhid, const char *org,
	    uint64_t after, int (*cb)(const EpAuditRecord *, void *), void *)
	    __attribute__((warn_unused_result));

/* Change feed: assigns ev->seq (next from meta "change_seq") and stores it. */
int	store_change_append(struct stxn *, EpChangeEvent *ev)
	    __attribute__((warn_unused_result));
int	store_change_scan(struct stxn *, uint64_t after,
	    int (*cb)(const EpChangeEvent *, void *), void *)
	    __attribute__((warn_unused_result));

/* Small named values in meta (audit head, counters). */
int	store_meta_get(struct stxn *, const char *name, void *buf, size_t cap,
	    size_t *len) __attribute__((warn_unused_result));
int	store_meta_put(struct stxn *, const char *name, const void *buf,
	    size_t len) __attribute__((warn_unused_result));

/* Hot backup (mdb_env_copy2 with MDB_CP_COMPACT) into an empty directory. */
int	store_backup(struct store *, const char *dir, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/* Frees arrays returned above (each element with free_unpacked, then the array). */
void	store_free_list(void **items, size_t n);

/* The highest audit seq stored (0 when none): verify looks past the head. */
int	store_audit_last(struct stxn *, uint64_t *seq)
	    __attribute__((warn_unused_result));

/*
 * For tests and admin (repair) tools only: put a correctly framed and
 * checksummed value, or delete a key, in the database named db ("audit",
 * "meta", ...), bypassing every index and invariant.
 */
int	store_raw_put(struct stxn *, const char *db, const void *key,
	    size_t keylen, const void *payload, size_t len)
	    __attribute__((warn_unused_result));
int	store_raw_del(struct stxn *, const char *db, const void *key,
	    size_t keylen) __attribute__((warn_unused_result));

/* For tests (fault injection): the next top-level commit aborts and returns rc. */
void	store_fail_next_commit(struct store *, int rc);
/*
 * For tests: the next child commit fails as if LMDB's had failed with rc:
 * the child is gone and its parent carries rc as its sticky error.
 */
void	store_fail_next_child_commit(struct store *, int rc);

#endif
