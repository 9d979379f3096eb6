/*
 * wal: the store's write-ahead log (see wal.c for why an acknowledged
 * write survives a power cut with it).
 *
 * A running daemon commits its LMDB transactions without flushing the data
 * file (MDB_NOSYNC). Each commit's changes, captured as they are made (a
 * walbuf per transaction, a child's merged into its parent when it
 * commits), are appended to a log file and that file alone is flushed: one
 * sequential write instead of the transaction's scattered pages. A
 * checkpoint thread flushes the data file now and then and records the
 * snapshot it made durable (its txn id and its meta page) in wal.ckpt; a
 * read transaction held on that snapshot keeps LMDB from reusing its pages.
 * After a power cut (the marker wal.mark names another boot) the opener
 * writes the checkpoint's meta page into both meta slots, opens the
 * snapshot, and replays the log's transactions after it.
 */
#ifndef EENPLAN_WAL_H
#define EENPLAN_WAL_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#define WAL_MARK	"wal.mark"
#define WAL_CKPT	"wal.ckpt"
#define WAL_LOG0	"wal.0"
#define WAL_LOG1	"wal.1"
#define WAL_META_LEN	256	/* of a meta page: LMDB's header and meta */
#define WAL_CKPT_MS	250	/* default [store] checkpoint_ms */
#define WAL_FILE_MB	64	/* default [store] log_file_mb */

/* What a walbuf records. */
#define WAL_PUT		1	/* key, value */
#define WAL_DEL		2	/* key (value empty: the key) */
#define WAL_DEL_PREFIX	3	/* every key that begins with key */

/* The changes of one transaction, in order. */
struct walbuf {
	uint8_t		*wb_buf;
	size_t		 wb_len;
	size_t		 wb_cap;
	int		 wb_err;	/* out of memory: the txn must fail */
};

int	walbuf_add(struct walbuf *, int, unsigned, const void *, size_t,
	    const void *, size_t);
int	walbuf_merge(struct walbuf *, struct walbuf *);
void	walbuf_free(struct walbuf *);

/* Applies one recorded change in txn (replay): 0 or an LMDB error. */
typedef int (*wal_apply_fn)(void *, MDB_txn *, int, unsigned, MDB_val *,
	    MDB_val *);
int	walbuf_each(const uint8_t *, size_t, MDB_txn *, wal_apply_fn, void *);

struct wal_ckpt {
	uint64_t	 ck_run;	/* the log's run id */
	uint64_t	 ck_seq;	/* slot sequence */
	uint64_t	 ck_txnid;	/* the durable snapshot */
	uint64_t	 ck_epoch;	/* the first log epoch to replay */
	uint8_t		 ck_meta[WAL_META_LEN];
};

/* wal_prepare's findings. */
#define WAL_NONE	0	/* no marker: LMDB's own durability */
#define WAL_LIVE	1	/* a daemon of this boot runs on it */
#define WAL_STALE	2	/* this boot's, its process gone: the page
				   cache holds every commit; flush, clear */
#define WAL_RECOVER	3	/* another boot's: metas restored, replay */

int	wal_state(const char *, const char *);
int	wal_prepare(const char *, const char *, int *, struct wal_ckpt *,
	    char *, size_t);
int	wal_replay(const char *, MDB_env *, const struct wal_ckpt *,
	    wal_apply_fn, void *, uint64_t *, char *, size_t);
int	wal_replay_from(const char *, MDB_env *, const struct wal_ckpt *,
	    uint64_t, wal_apply_fn, void *, uint64_t *, char *, size_t);
int	wal_clear(const char *);
int	wal_external_commit(const char *, MDB_env *, const char *);

struct wal;

/* dir, env, boot id, checkpoint_ms, log_file_mb */
int	wal_start(struct wal **, const char *, MDB_env *, const char *,
	    unsigned, unsigned, char *, size_t);
/*
 * A committed transaction's record (txn id, its changes) into the log:
 * wal_append writes it and says its place (lsn); wal_sync returns once
 * every record up to lsn is on disk (one flush covers all appended before
 * it, so a flusher thread can flush one batch while the next is made);
 * wal_commit is both. A failure is sticky: every later call fails.
 */
int	wal_append(struct wal *, uint64_t, const struct walbuf *, uint64_t *);
/*
 * A part of a txn still open in LMDB (the writer keeps appending audit
 * records to it across batches): flushed (wal_sync) before the batch it
 * holds is answered; replayed with the txn's other records, also when the
 * txn's commit never came (kill -9, power cut).
 */
int	wal_append_part(struct wal *, uint64_t, const struct walbuf *,
	    uint64_t *);
int	wal_sync(struct wal *, uint64_t);
int	wal_commit(struct wal *, uint64_t, const struct walbuf *);
uint64_t wal_last_txn(struct wal *);
/* 1 once a log write or flush, or a checkpoint, failed (sticky). */
int	wal_failed(struct wal *);
/* Makes the log failed (as a failed write does), saying why. */
void	wal_fail_final(struct wal *, const char *);
int	wal_foreign(struct wal *, uint64_t);
int	wal_stop(struct wal *);

#endif
