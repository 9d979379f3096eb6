/*
 * store: the only module that touches LMDB. One environment, named
 * databases, every value checked on every read, LMDB errors mapped once to
 * STORE_* codes, a sticky error on each transaction so a failed put makes
 * the commit refuse.
 *
 * Schema 2. hh16 is a household id as 16 raw bytes; u64 are big-endian, so
 * key order is numeric order. Values marked "sealed" are AES-256-GCM under a
 * data key with the database name and the LMDB key as associated data (see
 * seal.h); the others carry a CRC-32 over key and payload.
 *
 *   hh        hh16                  -> sealed Household (standing record)
 *   body      hh16                  -> sealed Plan (current version)
 *   delta     hh16 | version        -> sealed Delta (every version)
 *   snap      hh16 | version        -> sealed Plan (every so many versions)
 *   grants    hh16 | grant id       -> sealed Grant (every grant ever)
 *   pidx      ihash16 | hh16        -> CRC (ihash16: keyed hash of
 *                                      org \0 subject; "" for a whole org)
 *   log       seq                   -> sealed AuditEntry (an AuditRecord
 *                                      without seq, prev_hash; its actor
 *                                      a number), appended
 *   log_hh    bucket | hh16         => seq | CRC, DUPSORT (records naming
 *                                      the household, bucket: seq >> 16 as
 *                                      32 bits big-endian; in the audit index's
 *                                      own environment, built off the hot
 *                                      path up to its meta "audit_indexed")
 *   log_org   org \0                => seq | CRC, DUPSORT (records by the
 *                                      actor's org; likewise)
 *   actors    id                    -> sealed Actor (principal, org
 *                                      identifier, certificate serial)
 *   actor_idx ihash16               -> CRC, id (the keyed hash of an actor)
 *   feed      seq                   -> sealed ChangeEvent
 *   sent      ihash16 | receipt     -> sealed Signal (the sender's copy;
 *                                      receipt: meta "sent_seq")
 *   sent_hh   hh16 | receipt | ihash16 -> CRC, empty (the sender copies
 *                                      by the household they are about;
 *                                      complete once meta "sent_hh" is 1)
 *   meta      name                  -> CRC ("schema", "keyring",
 *                                      "audit_head", "change_seq", ...)
 *
 * Damage is never served as a shorter truth: a value that fails its check
 * is STORE_CORRUPT; a lookup that misses checks the entries around where
 * the key would be, and a range scan checks the entry before its start and
 * the one that ends it, so a damaged key reads as STORE_CORRUPT, not as
 * "not found" or as the end of the range. Where a count is known (versions,
 * grants) a missing entry is STORE_CORRUPT too.
 */
#ifndef EENPLAN_STORE_H
#define EENPLAN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"
#include "seal.h"
#include "store.pb-c.h"

#define STORE_SCHEMA_VERSION	2
#define STORE_HHID_LEN		16

typedef Eenplan__Store__Household	EpsHousehold;
typedef Eenplan__Store__Delta		EpsDelta;
typedef Eenplan__Store__Keyring		EpsKeyring;
typedef Eenplan__Store__FeedEvent	EpsFeedEvent;

enum store_rc {
	STORE_OK = 0,
	STORE_NOTFOUND = 1,
	STORE_ERR = -1,		/* unexpected LMDB or allocation error */
	STORE_CORRUPT = -2,	/* a value or key failed its check, or an entry
				   that must exist is missing */
	STORE_FULL = -3,	/* map full: RESOURCE_EXHAUSTED, nothing written */
	STORE_READONLY = -4,
	STORE_TXN_FULL = -5,	/* one write txn changed too many pages: nothing
				   written; a smaller batch would pass */
	STORE_READERS_FULL = -6, /* every reader slot taken (max_readers) */
	STORE_DISK_FULL = -7,	/* the file system is full (ENOSPC, EDQUOT) */
	STORE_NOKEY = -8,	/* a value is sealed under a key we do not hold */
};

struct store;
struct stxn;	/* a read, write or child transaction; carries a sticky error */

struct store_opts {
	const char		*so_dir;	/* the environment's directory */
	size_t			 so_map_max;	/* bytes; the file grows up to this */
	unsigned		 so_max_readers;
	int			 so_readonly;	/* admin tools: MDB_RDONLY */
	const struct seal_key	*so_kek;	/* the operator's key (required) */
	/* Migration from schema 1: households per transaction (0: 64). */
	unsigned		 so_migrate_batch;
};

/*
 * Opens (creating when absent and not read-only) the environment, opens all
 * databases in one committed txn, runs mdb_reader_check, refuses a damaged
 * file (size smaller than what the environment's meta says it uses),
 * unlocks the keyring with so_kek (creating it in a new store), checks the
 * schema version and migrates an older store in place, in bounded
 * transactions, logging progress. A clear message in err on failure.
 */
int	store_open(struct store **, const struct store_opts *, char *err,
	    size_t errlen) __attribute__((warn_unused_result));
void	store_close(struct store *);
const char *store_strerror(int rc);
struct keyring *store_keyring(struct store *);
/* The schema version the store has now (migrate.c brings 1 to 2). */
uint64_t store_schema(struct store *);

/* How full the environment is (for metrics); any thread. */
struct store_usage {
	uint64_t	su_map_size;	/* bytes the map may grow to */
	uint64_t	su_used;	/* bytes up to the last page written */
	unsigned	su_readers;	/* reader slots in use */
	unsigned	su_readers_max;
};
int	store_usage(struct store *, struct store_usage *)
	    __attribute__((warn_unused_result));

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
/*
 * A write txn's commit whose flush is the caller's: with the write-ahead
 * log, the commit's record is appended but not yet flushed, *lsn says
 * which it is, and nothing it changed may be acknowledged before
 * store_wal_sync(lsn) returned STORE_OK (readers see it at once). Without
 * the log, or for a commit that changed nothing, *lsn is 0 and this is
 * store_commit.
 */
int	store_commit_unflushed(struct stxn *, uint64_t *lsn)
	    __attribute__((warn_unused_result));
int	store_wal_sync(struct store *, uint64_t lsn)
	    __attribute__((warn_unused_result));
/*
 * With the log: 1 while the write txn changed nothing but the audit log
 * and its head; store_commit_part then logs its changes so far (durable
 * after store_wal_sync(*lsn)) and keeps it open for more; see
 * store_env.c. store_fail_open_txn: one with answered parts could not be
 * committed (final; the next start replays them).
 */
int	store_txn_only_audit(const struct stxn *);
/* 1 if the map and the file system both have min_bytes free. */
int	store_room_ok(struct store *, uint64_t min_bytes);
int	store_commit_part(struct stxn *, uint64_t *lsn)
	    __attribute__((warn_unused_result));
void	store_fail_open_txn(struct store *);
void	store_abort(struct stxn *);
int	store_txn_error(const struct stxn *);	/* the sticky error, STORE_OK if none */
/*
 * Commits sync their data but not their meta page (MDB_NOMETASYNC): a
 * commit is durable once the next flush ran — the next commit's, or this
 * one. The writer answers only then.
 */
int	store_sync(struct store *) __attribute__((warn_unused_result));
/* The write-ahead log (wal.h): started by the daemon's writer. */
/* checkpoint_ms, log_file_mb */
int	store_wal_start(struct store *, unsigned, unsigned, char *, size_t);
int	store_wal_on(const struct store *);
/*
 * What the open found of a daemon's log (WAL_NONE, WAL_STALE: flushed,
 * WAL_RECOVER: the checkpoint restored and *replayed txns replayed).
 */
int	store_wal_found(const struct store *, uint64_t *replayed);
/*
 * The id of the last write txn committed to the environment (by any
 * process; 0 if unknown). A commit that changed nothing leaves it as it
 * was: LMDB then writes and flushes nothing.
 */
uint64_t store_last_txn(struct store *);
/* Bytes of values this txn (a child: itself only) has put so far. */
uint64_t store_txn_bytes(const struct stxn *);
/* Change events this txn (a child: itself only) has appended so far. */
uint64_t store_txn_events(const struct stxn *);

/* ---------------------------------------------------------- households */

/* Household id text (32 hex) to key bytes. 0, or -1 when malformed. */
int	store_hhid(const char *hex, uint8_t out[STORE_HHID_LEN]);

/* The standing record; STORE_NOTFOUND when there is none. */
int	store_hh_get(struct stxn *, const char *hhid, EpsHousehold **out)
	    __attribute__((warn_unused_result));
/*
 * What tells one stored standing record from any other without opening it:
 * its length and its sealed frame's header (version, key id and the nonce,
 * drawn afresh for every seal and never twice) and tag. Two equal stamps are
 * the same stored bytes. ss_set 0: none taken (an unsealed database).
 */
#define STORE_STAMP_LEN	(4 + SEAL_HDR_LEN + SEAL_TAG_LEN)
struct store_stamp {
	uint8_t		ss_b[STORE_STAMP_LEN];
	int		ss_set;
};
/* store_hh_get, and the stamp of the bytes it opened (stamp may be NULL). */
int	store_hh_get_stamped(struct stxn *, const char *hhid,
	    EpsHousehold **out, struct store_stamp *)
	    __attribute__((warn_unused_result));
/*
 * The stamp of household hhid's standing record as t has it, the record
 * neither opened nor checked: STORE_OK, STORE_NOTFOUND, or an error.
 */
int	store_hh_stamp(struct stxn *, const char *hhid, struct store_stamp *)
	    __attribute__((warn_unused_result));
/* Both taken and equal. */
int	store_stamp_equal(const struct store_stamp *, const struct store_stamp *);
int	store_hh_put(struct stxn *, const EpsHousehold *)
	    __attribute__((warn_unused_result));
void	store_hh_free(EpsHousehold *);

/* The current plan body, decoded. STORE_CORRUPT when missing. */
int	store_body_get(struct stxn *, const char *hhid, EpPlan **out)
	    __attribute__((warn_unused_result));
/*
 * The current plan body as stored (packed Plan), opened into a new malloc'd
 * buffer *buf of head + *len + tail bytes, the plan at *buf + head: room
 * for a response around it without another copy. Free *buf with free().
 */
int	store_body_open(struct stxn *, const char *hhid, size_t head,
	    size_t tail, uint8_t **buf, size_t *len)
	    __attribute__((warn_unused_result));
int	store_body_put(struct stxn *, const char *hhid, const uint8_t *plan,
	    size_t len) __attribute__((warn_unused_result));

/* Deltas and snapshots: both STORE_CORRUPT when missing (a caller asks for
 * what the standing record says exists). */
int	store_delta_get(struct stxn *, const char *hhid, uint64_t version,
	    EpsDelta **out) __attribute__((warn_unused_result));
int	store_delta_put(struct stxn *, const char *hhid, const EpsDelta *,
	    size_t *bytes) __attribute__((warn_unused_result));
void	store_delta_free(EpsDelta *);
int	store_snap_get(struct stxn *, const char *hhid, uint64_t version,
	    EpPlan **out) __attribute__((warn_unused_result));
int	store_snap_put(struct stxn *, const char *hhid, uint64_t version,
	    const uint8_t *plan, size_t len) __attribute__((warn_unused_result));

/* The grants archive; get is STORE_CORRUPT when missing. */
int	store_grant_get(struct stxn *, const char *hhid, uint64_t id,
	    EpGrant **out) __attribute__((warn_unused_result));
int	store_grant_put(struct stxn *, const char *hhid, const EpGrant *)
	    __attribute__((warn_unused_result));

/*
 * Removes everything stored of a household: standing record, body, deltas,
 * snapshots, grants, consent states, signals (for the retention purge; the
 * principals index entries the caller names with store_index_del, the
 * senders' copies of its signals with store_sent_purge).
 */
int	store_hh_purge(struct stxn *, const char *hhid)
	    __attribute__((warn_unused_result));

/* ------------------------------------------------------ principals index */

/* Links (org, subject) to hhid; subject "" stands for the whole org. */
int	store_index_put(struct stxn *, const char *org, const char *subject,
	    const char *hhid) __attribute__((warn_unused_result));
int	store_index_del(struct stxn *, const char *org, const char *subject,
	    const char *hhid) __attribute__((warn_unused_result));
/*
 * Calls cb for each hhid linked to (org, subject) in key order (not id
 * order: keys hold raw ids), starting after after_hhid (NULL/"": from the
 * start), until cb returns non-zero.
 */
int	store_index_scan(struct stxn *, const char *org, const char *subject,
	    const char *after_hhid, int (*cb)(const char *hhid, void *), void *)
	    __attribute__((warn_unused_result));

/* ---------------------------------------------------------------- audit */

/* Audit records: rec->seq must be set (the audit module numbers them). */
int	store_audit_put(struct stxn *, const EpAuditRecord *rec)
	    __attribute__((warn_unused_result));
int	store_audit_get(struct stxn *, uint64_t seq, EpAuditRecord **out)
	    __attribute__((warn_unused_result));
/*
 * Calls cb for each record with seq > after, in order, filtered by household
 * (hhid != NULL, via log_hh) or by actor org (org != NULL, via log_org),
 * until cb returns non-zero. A record failing its check stops the scan
 * with STORE_CORRUPT.
 */
int	store_audit_scan(struct stxn *, const char *hhid, const char *org,
	    uint64_t after, int (*cb)(const EpAuditRecord *, void *), void *)
	    __attribute__((warn_unused_result));
/* The highest audit seq stored (0 when none): verify looks past the head. */
int	store_audit_last(struct stxn *, uint64_t *seq)
	    __attribute__((warn_unused_result));
/*
 * The audit index (log_hh, log_org) lives in an LMDB environment of its own
 * (DATA_DIR/audit-index), written by the writer's indexer thread beside the
 * writer: its random page writes (one leaf per household a record names)
 * never hold up a batch. It is derived data: it covers the log up to its
 * audit_indexed; a scan reads it up to there and the log past it.
 *
 * store_audit_index indexes up to max records (0: a few thousand) of the
 * log past what is indexed, none past upto (the indexer passes the last
 * seq known durable: a record a power cut can still take away is never
 * indexed), in one committed txn of the index; *pending (may be NULL) gets
 * how many up to upto remain. STORE_READONLY without an index.
 */
int	store_audit_index(struct store *, uint64_t upto, unsigned max,
	    uint64_t *pending) __attribute__((warn_unused_result));
/* The highest seq the index covers, as committed (0: none, or no index). */
uint64_t store_audit_indexed(struct store *);
/* The index's commits (written without flushes) made durable. */
int	store_audit_index_flush(struct store *)
	    __attribute__((warn_unused_result));
/*
 * Empties the index (the retention purge, before it takes records away;
 * the indexer builds it again).
 */
int	store_audit_index_reset(struct store *)
	    __attribute__((warn_unused_result));
/*
 * At an open: an index that does not match the log beside it (past its
 * last record, or its last indexed record not the one there: a data file
 * restored without its index), or whose own bookkeeping is damaged, is
 * emptied to be built again (read-write), or not used (read-only).
 */
int	store_audit_index_check(struct store *)
	    __attribute__((warn_unused_result));

/* ---------------------------------------------------------- change feed */

/* Assigns fe->event->seq (next from meta "change_seq") and stores it. */
int	store_change_append(struct stxn *, EpsFeedEvent *fe)
	    __attribute__((warn_unused_result));
/* The last seq committed (0: none). */
int	store_change_last(struct stxn *, uint64_t *seq)
	    __attribute__((warn_unused_result));
/* Events with seq > after, in order, until cb returns non-zero. */
int	store_change_scan(struct stxn *, uint64_t after,
	    int (*cb)(const EpsFeedEvent *, void *), void *)
	    __attribute__((warn_unused_result));

/* ------------------------------------------------------ consent states */

/*
 * What the policy read of a household at consent generation gen (members,
 * regisseur, current grants, status, as a Household message): the feed
 * decides with it who could read an event of that generation. Get:
 * STORE_CORRUPT when missing.
 */
int	store_cstate_put(struct stxn *, const char *hhid, uint64_t gen,
	    const EpsHousehold *) __attribute__((warn_unused_result));
/* Drops the state of a generation no event names (STORE_NOTFOUND: none). */
int	store_cstate_del(struct stxn *, const char *hhid, uint64_t gen)
	    __attribute__((warn_unused_result));
int	store_cstate_get(struct stxn *, const char *hhid, uint64_t gen,
	    EpsHousehold **out) __attribute__((warn_unused_result));

/* --------------------------------------------------------------- expiry */

/* Grants that end at until: the writer's sweep finds them when it passes. */
int	store_expiry_put(struct stxn *, int64_t until, const char *hhid,
	    uint64_t grant_id) __attribute__((warn_unused_result));
int	store_expiry_del(struct stxn *, int64_t until, const char *hhid,
	    uint64_t grant_id) __attribute__((warn_unused_result));
/* Calls cb for each entry with until <= now, oldest first, until non-zero. */
int	store_expiry_due(struct stxn *, int64_t now,
	    int (*cb)(int64_t until, const char *hhid, uint64_t grant_id,
	    void *), void *) __attribute__((warn_unused_result));

/* -------------------------------------------------------------- signals */

/* A household's signals (ids 1..signals_total). Get: STORE_CORRUPT when missing. */
int	store_signal_put(struct stxn *, const EpSignal *)
	    __attribute__((warn_unused_result));
int	store_signal_get(struct stxn *, const char *hhid, uint64_t id,
	    EpSignal **out) __attribute__((warn_unused_result));
/*
 * For a household that does not exist (or is closed: nobody to tell): the
 * writes a signal would make — sg under its id, the standing record rec,
 * the feed event fe after the last one — each sealed and put where it
 * would go, then taken out again in the same transaction. Nothing is kept
 * or counted (no event is announced), but the work and the pages written
 * are a real signal's: the sender cannot tell from the answer's time
 * whether the household exists. Never overwrites: a value already there is
 * left as it is (STORE_CORRUPT).
 */
int	store_signal_decoy(struct stxn *, const EpsHousehold *rec,
	    const EpSignal *sg, EpsFeedEvent *fe)
	    __attribute__((warn_unused_result));
/*
 * The sender's own copies, by a global receipt number (any well-formed
 * household id, existing or not); put also indexes the copy by the
 * household it is about (sent_hh), in the same txn.
 */
int	store_sent_put(struct stxn *, const char *org, const char *subject,
	    uint64_t seq, const EpSignal *) __attribute__((warn_unused_result));
int	store_sent_scan(struct stxn *, const char *org, const char *subject,
	    uint64_t after, int (*cb)(uint64_t seq, const EpSignal *, void *),
	    void *) __attribute__((warn_unused_result));
/*
 * The copies senders keep of signals about hhid: how many (*n), or all of
 * them removed with their index entries (*removed; the retention purge).
 * Each copy is checked to be about hhid before it goes. STORE_NOTFOUND
 * from count, and a refusal (STORE_ERR) from purge, while sent_hh does not
 * cover every copy yet (a read-only open of a store no read-write open of
 * this version has indexed).
 */
int	store_sent_count(struct stxn *, const char *hhid, uint64_t *n)
	    __attribute__((warn_unused_result));
int	store_sent_purge(struct stxn *, const char *hhid, uint64_t *removed)
	    __attribute__((warn_unused_result));
/*
 * Indexes in sent_hh the copies a store holds from before sent_hh
 * existed, batch per txn (0: 1024), going on from where a run cut off
 * stopped (meta "sent_hh_pos"); then sets meta "sent_hh" and is a single
 * meta read from then on. store_open runs it at every read-write open.
 */
int	store_sent_index(struct store *, unsigned batch)
	    __attribute__((warn_unused_result));

/* --------------------------------------------------------------- people */

/*
 * The people the deployment knows: every principal that has made a request
 * (the writer records it), with the role of its certificate. TransferRegie
 * names only a known professional. Keys are keyed hashes.
 */
int	store_person_get(struct stxn *, const char *org, const char *subject,
	    EpPrincipal **out) __attribute__((warn_unused_result));
int	store_person_put(struct stxn *, const EpPrincipal *)
	    __attribute__((warn_unused_result));

/* ----------------------------------------------------------------- meta */

/* Small named values in meta (audit head, counters). */
int	store_meta_get(struct stxn *, const char *name, void *buf, size_t cap,
	    size_t *len) __attribute__((warn_unused_result));
int	store_meta_put(struct stxn *, const char *name, const void *buf,
	    size_t len) __attribute__((warn_unused_result));
int	store_meta_get_u64(struct stxn *, const char *name, uint64_t *v)
	    __attribute__((warn_unused_result));
int	store_meta_put_u64(struct stxn *, const char *name, uint64_t v)
	    __attribute__((warn_unused_result));

/* ----------------------------------------------- for the retention purge */

/*
 * Every standing record, in key order, until cb returns non-zero (the
 * retention purge: a read-only walk in a second process).
 */
int	store_hh_scan(struct stxn *, int (*cb)(const EpsHousehold *, void *),
	    void *) __attribute__((warn_unused_result));
/*
 * The retention purge: removes record seq and its index entries (log_hh,
 * log_org). STORE_NOTFOUND when there is no such record.
 */
int	store_audit_del(struct stxn *, uint64_t seq)
	    __attribute__((warn_unused_result));

/* -------------------------------------------------------- the data file */

/*
 * The data file against what the environment uses — the check store_open
 * makes, on the descriptor LMDB maps: STORE_OK when it is whole;
 * STORE_CORRUPT with err when it is shorter than LMDB's last page (it was
 * truncated under us). From then on every transaction of this store fails
 * with STORE_CORRUPT: nothing more is read past the end of the file (a
 * SIGBUS) or written into the hole. Cheap (an fstat); any thread.
 */
int	store_check_file(struct store *, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/* 1 once store_check_file found the file damaged. */
int	store_damaged(struct store *);
/*
 * Once a flush failed, the daemon stops: 1 without the write-ahead log (a
 * commit's or a sync's flush of the data file), 2 with it (a write or
 * flush of the log, or a checkpoint's flush); else 0.
 */
int	store_flush_failed(struct store *);
/* The mapped region, so a SIGBUS handler can tell a fault in the map. */
void	store_map_range(struct store *, void **addr, size_t *len);

/*
 * eenpland store verify: every value of the store read on the reader's
 * snapshot (not the audit index, which is derived), in key order — keys
 * in order and each once, each value opening under its own key — and what
 * each household's standing record counts checked against what is kept:
 * its body, a delta per version, its newest snapshot, its grants and
 * signals there; nothing kept of a household without a standing record,
 * nothing past what the record counts. Each problem is logged as the
 * daemon logs damage and counted in sv_problems; the walk goes on after
 * it. STORE_OK when the walk finished (problems or not); STORE_ERR for a
 * store of an older schema (the daemon's start migrates it).
 */
#define STORE_VERIFY_DBS	32
struct store_verify {
	uint64_t	 sv_values[STORE_VERIFY_DBS];	/* per database */
	unsigned	 sv_dbs;		/* databases walked */
	uint64_t	 sv_households;
	uint64_t	 sv_problems;
};
int	store_verify(struct stxn *, struct store_verify *)
	    __attribute__((warn_unused_result));
/* A database's name (store_verify's sv_values index), NULL past the last. */
const char *store_db_name(int db);

/* ------------------------------------------------------------ operations */

/*
 * Replaces the data file by a compacted copy (only live pages; what was
 * freed is gone from the file). Only while no other process has the store
 * open and no transaction of ours is live. 0, or -1 with err.
 */
int	store_compact(struct store *, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * Hot backup (mdb_env_copy2 with MDB_CP_COMPACT) into dir, which is made
 * (mode 0700) when absent and must be empty when present. The copy is as
 * sealed as the store: useless without the key file.
 */
int	store_backup(struct store *, const char *dir, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * Rekey (run as a second process while the daemon serves, or alone): adds a
 * new data key wrapped under the current KEK and under newkek, makes it the
 * current key, re-encrypts every sealed value under it in transactions of
 * at most batch values, then leaves only the wraps under newkek, so the
 * store opens with newkek alone. progress (may be NULL) is called after each
 * transaction. 0, or -1 with err.
 */
int	store_rekey(struct store *, const struct seal_key *newkek,
	    unsigned batch, void (*progress)(uint64_t done, void *), void *arg,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * Re-reads the keyring from meta through tx when its generation moved (a
 * rekey in another process): new data keys become usable here. Cheap when
 * nothing changed. STORE_* code.
 */
int	store_keyring_refresh(struct stxn *) __attribute__((warn_unused_result));
/*
 * The daemon's side of a rekey: store_daemon_mark at start records its pid
 * in meta; store_keyring_ack (the writer, when idle) takes a moved keyring
 * and acknowledges it, which a rekey waits for before it drops the wraps
 * under the old key file. STORE_* codes.
 */
int	store_daemon_mark(struct store *) __attribute__((warn_unused_result));
int	store_keyring_ack(struct store *) __attribute__((warn_unused_result));
/* The same inside a batch's own write txn (cheap when nothing moved). */
int	store_keyring_ack_txn(struct stxn *) __attribute__((warn_unused_result));

/* ----------------------------------------------------------- tests, admin */

/* Frees arrays of unpacked messages (each element, then the array). */
void	store_free_list(void **items, size_t n);

/*
 * For tests and admin (repair) tools only: put a correctly framed value
 * (sealed where the database is sealed) or delete a key in the database
 * named db ("log", "meta", ...), bypassing every index and invariant; get
 * the raw stored bytes of a key (malloc'd copy).
 */
/* Tests: replaces record rec->seq with rec as given (no chain check). */
int	store_audit_raw_replace(struct stxn *, const EpAuditRecord *rec)
	    __attribute__((warn_unused_result));
int	store_raw_put(struct stxn *, const char *db, const void *key,
	    size_t keylen, const void *payload, size_t len)
	    __attribute__((warn_unused_result));
int	store_raw_del(struct stxn *, const char *db, const void *key,
	    size_t keylen) __attribute__((warn_unused_result));
int	store_raw_get(struct stxn *, const char *db, const void *key,
	    size_t keylen, uint8_t **val, size_t *len)
	    __attribute__((warn_unused_result));

/* For tests (fault injection): the next top-level commit aborts and returns rc. */
void	store_fail_next_commit(struct store *, int rc);
/*
 * For tests: the next child commit fails as if LMDB's had failed with rc:
 * the child is gone and its parent carries rc as its sticky error.
 */
void	store_fail_next_child_commit(struct store *, int rc);
/* For tests: how many times a plan body was read (opened) since start. */
uint64_t store_body_reads(struct store *);
uint64_t store_delta_reads(struct store *);
/* Tests: child transactions begun so far. */
uint64_t store_child_txns(struct store *);

#endif
