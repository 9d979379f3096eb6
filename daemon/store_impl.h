/*
 * store_impl: what the store's own files share (store.c values and typed
 * accessors, store_env.c environment, transactions and keys, store_v1.c the
 * schema-1 reader for the migration). Nothing outside store*.c includes it.
 */
#ifndef EENPLAN_STORE_IMPL_H
#define EENPLAN_STORE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <lmdb.h>

#include "seal.h"
#include "store.h"
#include "wal.h"

/*
 * CRC frames: version (1 byte), 3 reserved zero bytes, CRC-32 (big-endian)
 * over the key bytes and then the payload, then the payload. The key is
 * inside the checksum so a value moved to another key is caught. Sealed
 * frames: see seal.h (the key is in the associated data).
 */
#define FRAME_VERSION		1
#define FRAME_HDR		8
#define STORE_KEY_MAX		511	/* LMDB's default maximum key size */
/* meta: sent_hh covers every sender copy (1); where its build got to. */
#define SENT_HH_META		"sent_hh"
#define SENT_HH_POS_META	"sent_hh_pos"
/* meta of the audit index (and, before it had its own environment, of the
   store): the last seq indexed. */
#define STORE_AUDIT_INDEXED_META "audit_indexed"
/* The audit index's environment, under the store's directory. */
#define STORE_INDEX_DIR		"audit-index"
#define STORE_INDEX_MARK	"unflushed"

enum store_db {
	DB_HH,
	DB_BODY,
	DB_DELTA,
	DB_SNAP,
	DB_GRANTS,
	DB_PIDX,
	DB_LOG,
	DB_LOG_HH,
	DB_LOG_ORG,
	DB_FEED,
	DB_CSTATE,
	DB_EXPIRY,
	DB_SIGNALS,
	DB_SENT,
	DB_SENT_HH,
	DB_PEOPLE,
	DB_ACTORS,
	DB_ACTOR_IDX,
	DB_META,
	DB_V1_HOUSEHOLDS,
	DB_V1_VERSIONS,
	DB_V1_HISTORY,
	DB_V1_CONSENT,
	DB_V1_PRINCIPALS,
	DB_V1_AUDIT,
	DB_V1_AUDIT_HH,
	DB_V1_AUDIT_ORG,
	DB_V1_CHANGES,
	DB_COUNT
};
#define DB_V1_FIRST	DB_V1_HOUSEHOLDS

struct store_dbinfo {
	const char	*sd_name;
	int		 sd_sealed;
	unsigned	 sd_flags;	/* LMDB flags at creation (DUPSORT) */
	/*
	 * An index a later version added, which the first read-write open
	 * makes and fills: a read-only open of a store not yet opened so
	 * finds it absent (st_dbi 0) and goes on without it.
	 */
	int		 sd_derived;
	/*
	 * Lives in the audit index's own environment (st_index), not in the
	 * store's: written by its own thread beside the writer.
	 */
	int		 sd_index;
};
extern const struct store_dbinfo store_dbs[DB_COUNT];

struct store {
	MDB_env		*st_env;
	/*
	 * The audit index's environment (DATA_DIR/audit-index), a store of
	 * its own holding log_hh, log_org and meta; NULL in the index itself
	 * and in a read-only open of a store that has none yet.
	 */
	struct store	*st_index;
	int		 st_is_index;
	/*
	 * The daemon's store (store_daemon_mark): no other daemon runs on
	 * it, so its commits need no checkpoint beside one (store_wal_beside).
	 */
	int		 st_daemon;
	/* What the open found (store_wal_recover): WAL_*, txns replayed. */
	int		 st_wal_found;
	uint64_t	 st_wal_replayed;
	/*
	 * The index opened read-write: its commits are not flushed
	 * (MDB_NOSYNC) and this marker (STORE_INDEX_MARK.<pid>) says so
	 * until store_close has flushed them (store_env.c, index_marks).
	 */
	char		*st_mark;
	/* In the index: the last seq indexed, as committed. */
	atomic_uint_fast64_t st_indexed;
	char		*st_dir;
	size_t		 st_map_max;
	size_t		 st_psize;	/* LMDB's page size */
	unsigned	 st_max_readers;
	MDB_dbi		 st_dbi[DB_COUNT];
	int		 st_readonly;
	uint64_t	 st_schema;	/* as found at open */
	struct keyring	*st_keys;
	struct seal_key	 st_kek;
	pthread_mutex_t	 st_keys_mtx;	/* refresh: one adder at a time */
	atomic_uint_fast64_t st_keys_gen; /* keyring generation loaded */
	atomic_uint_fast64_t st_keys_acked; /* ... and acknowledged in meta */
	atomic_int	 st_fail_commit;	/* test hook, 0: none */
	atomic_int	 st_fail_child_commit;	/* test hook, 0: none */
	atomic_uint_fast64_t st_body_reads;	/* test hook */
	atomic_uint_fast64_t st_delta_reads;	/* test hook */
	atomic_int	 st_damaged;	/* the file shrank under us: no more txns */
	atomic_int	 st_flush_failed; /* no log: a flush failed (EIO): no more
				    commits, nothing it covered answered */
	atomic_uint_fast64_t st_child_txns;	/* test hook: children begun */
	/*
	 * The write-ahead log of a running daemon (store_wal_start), or
	 * NULL: LMDB's own flush per commit. st_wal_mtx is held from a
	 * write txn's begin to its log record's flush, so the log holds the
	 * commits in their order.
	 */
	struct wal	*st_wal;
	pthread_mutex_t	 st_wal_mtx;
	/* The last audit record put, by the one write txn at a time. */
	uint64_t	 st_audit_seq;	/* 0: none known */
	uint8_t		 st_audit_hash[32];
};

enum stxn_kind {
	STXN_READ,
	STXN_WRITE,
	STXN_CHILD
};

struct stxn {
	struct store	*sx_store;
	struct stxn	*sx_parent;	/* a child's: a failed merge poisons it */
	MDB_txn		*sx_txn;
	int		 sx_kind;
	int		 sx_active;	/* readers: between begin and end */
	int		 sx_err;	/* sticky: first failure, STORE_OK if none */
	uint64_t	 sx_bytes;	/* value bytes put */
	uint64_t	 sx_events;	/* change events appended */
	uint64_t	 sx_ack_gen;	/* keyring generation acknowledged here */
	uint64_t	 sx_next_pgno;	/* a write txn's: the first page past the
					   file's pages when it began */
	struct walbuf	 sx_wal;	/* its changes, for the log (st_wal) */
	int		 sx_wal_locked;	/* a write txn's: holds st_wal_mtx */
	uint64_t	 sx_begin_end;	/* a write txn's: where the file ended
					   by the meta it began on (bytes) */
	int		 sx_other;	/* changed more than the audit log and
					   its head (store_txn_only_audit) */
};

/* What a prefix scan does with one entry: 0 go on, 1 stop, < 0 a STORE_* error. */
typedef int (*store_scan_fn)(const MDB_val *key, const uint8_t *payload,
    size_t len, void *arg);

/* After a commit: the file extended to its meta's end (store_env.c). */
void	store_extend_to_meta(struct store *, uint64_t began);
int	store_map_rc(int mrc);
int	stxn_fail(struct stxn *, int rc);
int	stxn_mdb_fail(struct stxn *, int mrc, const char *what, int db);
int	stxn_writable(struct stxn *);
int	stxn_readable(const struct stxn *);
void	store_log_corrupt(int db, const MDB_val *key, const char *why);
int	store_key_cmp(const void *, size_t, const void *, size_t);
int	store_put_frame(struct stxn *, int db, const void *key, size_t klen,
	    const ProtobufCMessage *msg, const void *raw, size_t rawlen,
	    unsigned flags, size_t *stored);
int	store_get_frame(struct stxn *, int db, const void *key, size_t klen,
	    int must_exist, size_t head, size_t tail, const uint8_t **payload,
	    size_t *len, uint8_t **owned);
int	store_get_msg(struct stxn *, int db, const void *key, size_t klen,
	    int must_exist, const ProtobufCMessageDescriptor *,
	    ProtobufCMessage **out);
int	store_unpack(struct stxn *, int db, const void *key, size_t klen,
	    const ProtobufCMessageDescriptor *, const uint8_t *payload,
	    size_t len, ProtobufCMessage **out);
int	store_scan(struct stxn *, int db, const void *prefix, size_t plen,
	    const void *start, size_t slen, store_scan_fn, void *);
/* The associated data of a sealed value into ad (32 + STORE_KEY_MAX bytes). */
size_t	store_frame_ad(uint8_t *ad, int db, const void *key, size_t klen);
int	store_del_key(struct stxn *, int db, const void *key, size_t klen);
/* A write txn of the store's audit index (STORE_READONLY: none). */
int	store_index_write_begin(struct store *, struct stxn **);
/* Checks one entry's value (opens it): STORE_OK or STORE_CORRUPT. */
int	store_frame_verify(struct stxn *, int db, const MDB_val *key,
	    const MDB_val *val);

#endif
