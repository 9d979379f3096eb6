/*
 * wal: the store's write-ahead log (see wal.h).
 *
 * Why an answer given after wal_commit returned survives a power cut:
 *
 * - The answer's transaction T' was committed into LMDB without a flush
 *   (MDB_NOSYNC), then its changes were appended to the current log file
 *   (wal.0 or wal.1, alternately, one per epoch) and that file flushed.
 * - A checkpoint C (wal.ckpt: two 512-byte slots, the newer valid one
 *   counts) names a snapshot whose pages and meta page were flushed
 *   (mdb_env_sync) before C was written, C's raw meta page, and the first
 *   log epoch holding the transactions after it. A read transaction held
 *   on that snapshot (the pin) from before its flush until a newer
 *   checkpoint is written keeps LMDB from reusing any page of it: LMDB
 *   reuses a page only when no reader can see it. So whatever a cut leaves
 *   of the writes made after C, C's tree is whole on disk.
 * - The marker wal.mark (boot id and pid, flushed with its directory
 *   before the first unflushed commit) says the data file may hold
 *   unflushed commits. A marker of another boot means the machine stopped:
 *   wal_prepare writes C's meta page into both meta slots (LMDB opens the
 *   newer of two; both now name C), and wal_replay applies the logged
 *   transactions after C in txn id order, each exactly once, stopping at
 *   the first record that is not whole (torn or never flushed: never
 *   answered). A marker of this boot whose process is gone (kill -9) needs
 *   no replay: the page cache kept every commit; the file is flushed. A
 *   log write or flush, or a checkpoint, that failed rewrites the marker
 *   (wal_set_failed) so that the next start recovers as after a power cut
 *   rather than trust a page cache that may have dropped what it could not
 *   write; the daemon refuses every write from then on and stops.
 * - A txn the writer keeps open across batches of reads (writer.c) is
 *   logged in parts (WAL_REC_PART in the record's header) before it is
 *   committed, each flushed before its batch is answered; its last record
 *   follows its commit. A replay applies a txn's records in one LMDB txn
 *   and commits it at its last record — or at the log's end, when only
 *   parts of it were logged: those were answered. Parts never begin a
 *   checkpoint (wal_append_part), so they stay in the epochs a replay
 *   from the last checkpoint reads. After kill -9 on this boot the page
 *   cache holds every commit but not the open txn: wal_replay_from applies
 *   the records after LMDB's last commit (its parts), nothing before.
 * - A process beside the daemon that commits (rekey) flushes the file and
 *   writes a checkpoint at its commit (wal_external_commit), and the
 *   daemon, finding a commit not its own before its next one (wal_foreign),
 *   does the same first: the log never needs a transaction it does not
 *   hold. Replay refuses a gap in the txn ids rather than skip one.
 *
 * Leans on: the disk honours fdatasync, and writes a 512-byte sector whole
 * (a checkpoint slot, a meta page's first sector); log records carry a
 * CRC-32, so a torn record is seen.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <zlib.h>

#include "log.h"
#include "metrics.h"
#include "util.h"
#include "wal.h"

#define WAL_REC_MAGIC	0x4c415745u	/* "EWAL" */
#define WAL_CK_MAGIC	0x4b435745u	/* "EWCK" */
#define WAL_SLOT	512
#define WAL_MARK_FAILED	"failed"	/* wal.mark after a failure: recover */
#define WAL_OP_HDR	12
#define WAL_REC_PART	1u	/* wr_pad: a part of a txn; more follow */
/*
 * Each log file is written with zeros to [store] log_file_mb once
 * (w_file_bytes): an append then overwrites blocks the file has, and its
 * flush (fdatasync) writes that data alone. A file that grew would need a
 * journal commit per flush, and ext4 (data=ordered) writes the data file's
 * newly allocated pages before such a commit — every unflushed page of the
 * store, on the answer's path. A checkpoint is begun when an epoch has
 * filled half of its file (or checkpoint_ms passed), so the other half
 * takes the commits while it runs; past the end the file grows.
 */
/* LMDB 0.9's meta page: page header (16), then MDB_meta. */
#define META_FLAGS_OFF	10
#define META_MAGIC_OFF	16
#define META_TXNID_OFF	144
#define LMDB_MAGIC	0xBEEFC0DEu
#define P_META		0x08

static uint64_t	wal_appended(struct wal *);
static void	wal_set_failed(struct wal *);

struct wal_rec {
	uint32_t	 wr_magic;
	uint32_t	 wr_len;	/* payload bytes */
	uint64_t	 wr_run;
	uint64_t	 wr_epoch;
	uint64_t	 wr_txnid;
	uint32_t	 wr_crc;	/* of the header (crc 0) and payload */
	uint32_t	 wr_pad;
};

struct wal {
	char		*w_dir;
	MDB_env		*w_env;
	int		 w_fd[2];
	int		 w_ckfd;
	int		 w_datafd;
	unsigned	 w_psize;
	/* The writer's side (one committer at a time: the store's lock). */
	uint64_t	 w_run;
	uint64_t	 w_epoch;
	uint64_t	 w_off;
	uint64_t	 w_last;	/* the last txn logged or checkpointed */
	int64_t		 w_ckpt_at;	/* us, the last checkpoint begun */
	int64_t		 w_ckpt_us;	/* a checkpoint this often */
	uint64_t	 w_file_bytes;	/* each log file's size (see the top) */
	int		 w_test_noflush; /* test only: see wal_start */
	/* The checkpoint thread's. */
	pthread_t	 w_thread;
	int		 w_started;
	pthread_mutex_t	 w_mtx;
	pthread_cond_t	 w_cond;
	int		 w_busy;	/* under w_mtx: a checkpoint handed over */
	int		 w_stopping;	/* under w_mtx */
	int		 w_failed;	/* under w_mtx: a checkpoint or a log
					   write or flush failed */
	int		 w_marked;	/* under w_mtx: wal.mark says so */
	/*
	 * Appends and flushes (wal_append, wal_sync): records are numbered
	 * in the order appended (lsn); w_synced, the last one known on disk.
	 * Records of an epoch are all flushed before the next epoch's first
	 * is written (wal_checkpoint_begin), so one flush of the current
	 * file covers every record appended before it.
	 */
	uint64_t	 w_appended;	/* under w_mtx */
	uint64_t	 w_synced;	/* under w_mtx */
	int		 w_sync_fd;	/* under w_mtx: the current file */
	unsigned	 w_sync_file;	/* under w_mtx: its number (0, 1) */
	MDB_txn		*w_pin;		/* the durable snapshot's reader */
	MDB_txn		*w_next_pin;
	uint64_t	 w_next_txnid;
	uint64_t	 w_next_epoch;
	uint8_t		 w_next_meta[WAL_META_LEN];
};

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* ------------------------------------------------------------ walbuf */

int
walbuf_add(struct walbuf *wb, int op, unsigned db, const void *k, size_t kl,
    const void *v, size_t vl)
{
	size_t need, cap;
	uint8_t *p;

	if (wb->wb_err)
		return -1;
	if (kl > UINT32_MAX || vl > UINT32_MAX || db > 0xffff) {
		wb->wb_err = 1;
		return -1;
	}
	need = WAL_OP_HDR + kl + vl;
	if (wb->wb_len + need > wb->wb_cap) {
		cap = wb->wb_cap == 0 ? 4096 : wb->wb_cap;
		while (cap < wb->wb_len + need)
			cap *= 2;
		if ((p = realloc(wb->wb_buf, cap)) == NULL) {
			wb->wb_err = 1;
			return -1;
		}
		wb->wb_buf = p;
		wb->wb_cap = cap;
	}
	p = wb->wb_buf + wb->wb_len;
	p[0] = (uint8_t)op;
	p[1] = 0;
	p[2] = (uint8_t)(db & 0xff);
	p[3] = (uint8_t)(db >> 8);
	put32(p + 4, (uint32_t)kl);
	put32(p + 8, (uint32_t)vl);
	if (kl > 0)
		memcpy(p + WAL_OP_HDR, k, kl);
	if (vl > 0)
		memcpy(p + WAL_OP_HDR + kl, v, vl);
	wb->wb_len += need;
	return 0;
}

/* child's changes after parent's; child emptied. */
int
walbuf_merge(struct walbuf *parent, struct walbuf *child)
{
	uint8_t *p;
	size_t cap;

	if (child->wb_err)
		parent->wb_err = 1;
	if (parent->wb_err) {
		walbuf_free(child);
		return -1;
	}
	if (child->wb_len == 0) {
		walbuf_free(child);
		return 0;
	}
	if (parent->wb_len == 0) {
		walbuf_free(parent);
		*parent = *child;
		memset(child, 0, sizeof(*child));
		return 0;
	}
	if (parent->wb_len + child->wb_len > parent->wb_cap) {
		cap = parent->wb_cap;
		while (cap < parent->wb_len + child->wb_len)
			cap *= 2;
		if ((p = realloc(parent->wb_buf, cap)) == NULL) {
			parent->wb_err = 1;
			walbuf_free(child);
			return -1;
		}
		parent->wb_buf = p;
		parent->wb_cap = cap;
	}
	memcpy(parent->wb_buf + parent->wb_len, child->wb_buf, child->wb_len);
	parent->wb_len += child->wb_len;
	walbuf_free(child);
	return 0;
}

void
walbuf_free(struct walbuf *wb)
{
	free(wb->wb_buf);
	memset(wb, 0, sizeof(*wb));
}

int
walbuf_each(const uint8_t *b, size_t len, MDB_txn *txn, wal_apply_fn fn,
    void *arg)
{
	size_t off = 0;
	uint32_t kl, vl;
	MDB_val k, v;
	int rc;

	while (off < len) {
		if (len - off < WAL_OP_HDR)
			return EINVAL;
		kl = get32(b + off + 4);
		vl = get32(b + off + 8);
		if ((uint64_t)kl + vl > len - off - WAL_OP_HDR ||
		    b[off] < WAL_PUT || b[off] > WAL_DEL_PREFIX)
			return EINVAL;
		k.mv_data = (void *)(uintptr_t)(b + off + WAL_OP_HDR);
		k.mv_size = kl;
		v.mv_data = (void *)(uintptr_t)(b + off + WAL_OP_HDR + kl);
		v.mv_size = vl;
		if ((rc = fn(arg, txn, b[off], (unsigned)b[off + 2] |
		    ((unsigned)b[off + 3] << 8), &k, &v)) != 0)
			return rc;
		off += WAL_OP_HDR + kl + vl;
	}
	return 0;
}

/* ------------------------------------------------------------ files */

static int
wal_path(char *out, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
wal_open_file(const char *dir, const char *name, int flags)
{
	char path[PATH_MAX];

	if (wal_path(path, sizeof(path), dir, name) == -1)
		return -1;
	return open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
}

static uint32_t
wal_slot_crc(const uint8_t *s)
{
	uint8_t tmp[WAL_SLOT];

	memcpy(tmp, s, WAL_SLOT);
	put32(tmp + 4, 0);
	return (uint32_t)crc32(0L, tmp, WAL_SLOT);
}

/* The newer valid slot of the checkpoint file fd: 0, or -1 if none. */
static int
wal_ckpt_read(int fd, struct wal_ckpt *ck)
{
	uint8_t s[2][WAL_SLOT];
	int i, best = -1;
	uint64_t seq[2];

	for (i = 0; i < 2; i++) {
		if (pread(fd, s[i], WAL_SLOT, (off_t)i * WAL_SLOT) != WAL_SLOT ||
		    get32(s[i]) != WAL_CK_MAGIC ||
		    get32(s[i] + 4) != wal_slot_crc(s[i]))
			continue;
		seq[i] = get64(s[i] + 16);
		if (best == -1 || seq[i] > seq[best])
			best = i;
	}
	if (best == -1)
		return -1;
	ck->ck_run = get64(s[best] + 8);
	ck->ck_seq = get64(s[best] + 16);
	ck->ck_txnid = get64(s[best] + 24);
	ck->ck_epoch = get64(s[best] + 32);
	memcpy(ck->ck_meta, s[best] + 64, WAL_META_LEN);
	return 0;
}

static int
wal_ckpt_write(int fd, const struct wal_ckpt *ck)
{
	uint8_t s[WAL_SLOT];

	memset(s, 0, sizeof(s));
	put32(s, WAL_CK_MAGIC);
	memcpy(s + 8, &ck->ck_run, 8);
	memcpy(s + 16, &ck->ck_seq, 8);
	memcpy(s + 24, &ck->ck_txnid, 8);
	memcpy(s + 32, &ck->ck_epoch, 8);
	memcpy(s + 64, ck->ck_meta, WAL_META_LEN);
	put32(s + 4, wal_slot_crc(s));
	if (pwrite(fd, s, WAL_SLOT, (off_t)(ck->ck_seq & 1) * WAL_SLOT) !=
	    WAL_SLOT || fdatasync(fd) == -1)
		return -1;
	return 0;
}

/* The meta page of txnid as LMDB wrote it (slot txnid & 1): 0, or -1. */
static int
wal_meta_read(int datafd, unsigned psize, uint64_t txnid,
    uint8_t meta[WAL_META_LEN])
{
	uint16_t flags;

	if (pread(datafd, meta, WAL_META_LEN, (off_t)(txnid & 1) * psize) !=
	    WAL_META_LEN)
		return -1;
	memcpy(&flags, meta + META_FLAGS_OFF, 2);
	if (!(flags & P_META) || get32(meta + META_MAGIC_OFF) != LMDB_MAGIC ||
	    get64(meta + META_TXNID_OFF) != txnid) {
		errno = ESTALE;
		return -1;
	}
	return 0;
}

/*
 * Under the checkpoint file's lock: a checkpoint at txnid (meta), replay
 * from epoch, unless the file names a later snapshot already (then that
 * one, from epoch: it holds every transaction after it too).
 */
static int
wal_ckpt_advance(int fd, uint64_t run, uint64_t txnid, const uint8_t *meta,
    uint64_t epoch)
{
	struct wal_ckpt cur, ck;
	int rc;

	if (flock(fd, LOCK_EX) == -1)
		return -1;
	memset(&ck, 0, sizeof(ck));
	ck.ck_run = run;
	ck.ck_txnid = txnid;
	ck.ck_epoch = epoch;
	memcpy(ck.ck_meta, meta, WAL_META_LEN);
	if (wal_ckpt_read(fd, &cur) == 0) {
		ck.ck_seq = cur.ck_seq + 1;
		if (cur.ck_run == run && cur.ck_txnid > txnid) {
			ck.ck_txnid = cur.ck_txnid;
			memcpy(ck.ck_meta, cur.ck_meta, WAL_META_LEN);
		}
		if (cur.ck_run == run && cur.ck_epoch > epoch)
			ck.ck_epoch = cur.ck_epoch;
	} else
		ck.ck_seq = 1;
	rc = wal_ckpt_write(fd, &ck);
	(void)flock(fd, LOCK_UN);
	return rc;
}

/* ------------------------------------------------------------ marker */

static int
wal_mark_write(const char *dir, const char *boot)
{
	char path[PATH_MAX], buf[128];
	int fd, n;

	if (wal_path(path, sizeof(path), dir, WAL_MARK) == -1)
		return -1;
	n = snprintf(buf, sizeof(buf), "%s %ld\n", boot, (long)getpid());
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		return -1;
	if (write(fd, buf, (size_t)n) != n || fsync(fd) == -1) {
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	return util_fsync_path(dir, 1);
}

int
wal_clear(const char *dir)
{
	char path[PATH_MAX];

	if (wal_path(path, sizeof(path), dir, WAL_MARK) == -1)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return util_fsync_path(dir, 1);
}

/* WAL_NONE, WAL_LIVE, WAL_STALE or WAL_RECOVER for dir's marker. */
int
wal_state(const char *dir, const char *boot)
{
	char path[PATH_MAX];

	if (wal_path(path, sizeof(path), dir, WAL_MARK) == -1)
		return WAL_RECOVER;
	switch (util_mark_class(path, boot, 0)) {
	case UTIL_MARK_ABSENT:
		return WAL_NONE;
	case UTIL_MARK_LIVE:
		return WAL_LIVE;
	case UTIL_MARK_OURS:
	case UTIL_MARK_GONE:
		return WAL_STALE;
	default:
		return WAL_RECOVER;
	}
}

/* ------------------------------------------------------------ recovery */

int
wal_prepare(const char *dir, const char *boot, int *state,
    struct wal_ckpt *ck, char *err, size_t errlen)
{
	uint8_t meta[WAL_META_LEN];
	unsigned psize;
	int fd, datafd, i;

	*state = wal_state(dir, boot);
	memset(ck, 0, sizeof(*ck));
	/* Killed on this boot: the checkpoint says where the log to read
	   for the open txn's parts begins (ck_run 0: none readable). */
	if (*state == WAL_STALE) {
		if ((fd = wal_open_file(dir, WAL_CKPT, O_RDONLY)) != -1) {
			if (wal_ckpt_read(fd, ck) == -1)
				memset(ck, 0, sizeof(*ck));
			(void)close(fd);
		}
		return 0;
	}
	if (*state != WAL_RECOVER)
		return 0;
	if ((fd = wal_open_file(dir, WAL_CKPT, O_RDONLY)) == -1 ||
	    wal_ckpt_read(fd, ck) == -1) {
		snprintf(err, errlen, "%s/%s: the machine stopped while the "
		    "daemon ran, and no checkpoint is readable: refusing to "
		    "open a data file that may hold half-written commits",
		    dir, WAL_CKPT);
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	(void)close(fd);
	memcpy(meta, ck->ck_meta, sizeof(meta));
	if (get32(meta + META_MAGIC_OFF) != LMDB_MAGIC ||
	    get64(meta + META_TXNID_OFF) != ck->ck_txnid) {
		snprintf(err, errlen, "%s/%s: the checkpoint's meta page is "
		    "not LMDB's of txn %llu", dir, WAL_CKPT,
		    (unsigned long long)ck->ck_txnid);
		return -1;
	}
	/* The page size: the meta's own (mm_psize, in the free DB's pad). */
	psize = get32(meta + META_MAGIC_OFF + 24);
	if (psize < 512 || psize > 65536 || (psize & (psize - 1)) != 0) {
		snprintf(err, errlen, "%s/%s: page size %u", dir, WAL_CKPT,
		    psize);
		return -1;
	}
	if ((datafd = wal_open_file(dir, "data.mdb", O_RDWR)) == -1) {
		snprintf(err, errlen, "%s/data.mdb: %s", dir, strerror(errno));
		return -1;
	}
	/* Both slots name the checkpoint: LMDB opens it. */
	for (i = 0; i < 2; i++) {
		uint64_t pgno = (uint64_t)i;

		memcpy(meta, &pgno, 8);
		if (pwrite(datafd, meta, sizeof(meta), (off_t)i * psize) !=
		    (ssize_t)sizeof(meta)) {
			snprintf(err, errlen, "%s/data.mdb: %s", dir,
			    strerror(errno));
			(void)close(datafd);
			return -1;
		}
	}
	if (fdatasync(datafd) == -1) {
		snprintf(err, errlen, "%s/data.mdb: %s", dir, strerror(errno));
		(void)close(datafd);
		return -1;
	}
	(void)close(datafd);
	return 0;
}

/* The record at off of fd, checked: payload in *buf (malloc). 0, or -1. */
static int
wal_rec_read(int fd, uint64_t off, uint64_t run, uint64_t epoch,
    struct wal_rec *r, uint8_t **buf)
{
	struct wal_rec h;
	uint32_t crc;
	uint8_t *p;

	*buf = NULL;
	if (pread(fd, r, sizeof(*r), (off_t)off) != (ssize_t)sizeof(*r) ||
	    r->wr_magic != WAL_REC_MAGIC || r->wr_run != run ||
	    r->wr_epoch != epoch || r->wr_len > (1u << 30))
		return -1;
	if ((p = malloc(r->wr_len > 0 ? r->wr_len : 1)) == NULL)
		return -1;
	if (pread(fd, p, r->wr_len, (off_t)(off + sizeof(*r))) !=
	    (ssize_t)r->wr_len) {
		free(p);
		return -1;
	}
	h = *r;
	h.wr_crc = 0;
	crc = (uint32_t)crc32(0L, (const uint8_t *)&h, sizeof(h));
	crc = (uint32_t)crc32(crc, p, r->wr_len);
	if (crc != r->wr_crc) {
		free(p);
		return -1;
	}
	*buf = p;
	return 0;
}

/* Commits the replayed txn (its last record read). 0, or -1 with err. */
static int
wal_replay_commit(MDB_txn **txn, uint64_t id, uint64_t *prev,
    uint64_t *replayed, char *err, size_t errlen)
{
	int mrc;

	if (*txn == NULL)
		return 0;
	mrc = mdb_txn_commit(*txn);
	*txn = NULL;
	if (mrc != 0) {
		snprintf(err, errlen, "replay of txn %llu: %s",
		    (unsigned long long)id, mdb_strerror(mrc));
		return -1;
	}
	*prev = id;
	(*replayed)++;
	return 0;
}

int
wal_replay(const char *dir, MDB_env *env, const struct wal_ckpt *ck,
    wal_apply_fn fn, void *arg, uint64_t *replayed, char *err,
    size_t errlen)
{
	return wal_replay_from(dir, env, ck, ck->ck_txnid, fn, arg, replayed,
	    err, errlen);
}

/*
 * from: the txn the store opened at — the checkpoint's after a power cut,
 * LMDB's last commit after kill -9 (the page cache kept every commit; the
 * log may hold parts of the next one, answered, never committed). A
 * transaction's records are its parts (WAL_REC_PART) and its last one;
 * they are applied in one LMDB txn, committed at its last record, or at
 * the log's end when only parts of it were written (each was flushed
 * before the batch it holds was answered).
 */
int
wal_replay_from(const char *dir, MDB_env *env, const struct wal_ckpt *ck,
    uint64_t from, wal_apply_fn fn, void *arg, uint64_t *replayed,
    char *err, size_t errlen)
{
	MDB_txn *pin = NULL, *txn = NULL;
	struct wal_rec r;
	uint64_t epoch = ck->ck_epoch, off = 0, prev = from, open_id = 0;
	uint8_t *buf;
	int fd[2] = { -1, -1 }, rc = -1, mrc, i, moved = 1;

	*replayed = 0;
	/* The checkpoint's pages stay as they are until the end: a cut
	   during the replay finds them again. */
	if ((mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &pin)) != 0 ||
	    mdb_txn_id(pin) != from) {
		snprintf(err, errlen, "replay: the store opened at txn %llu, "
		    "not %llu", pin != NULL ?
		    (unsigned long long)mdb_txn_id(pin) : 0ULL,
		    (unsigned long long)from);
		goto out;
	}
	if ((fd[0] = wal_open_file(dir, WAL_LOG0, O_RDONLY)) == -1 &&
	    errno != ENOENT)
		goto ioerr;
	if ((fd[1] = wal_open_file(dir, WAL_LOG1, O_RDONLY)) == -1 &&
	    errno != ENOENT)
		goto ioerr;
	(void)mdb_env_set_flags(env, MDB_NOSYNC, 1);
	for (;;) {
		i = (int)(epoch & 1);
		if (fd[i] == -1 ||
		    wal_rec_read(fd[i], off, ck->ck_run, epoch, &r, &buf) == -1) {
			/* The epoch ends: the next one, if it goes on. */
			if (off == 0 && !moved)
				break;
			epoch++;
			off = 0;
			moved = 0;
			continue;
		}
		moved = 1;
		off += sizeof(r) + r.wr_len;
		if (txn == NULL && r.wr_txnid <= prev && prev == from &&
		    r.wr_txnid <= from) {
			free(buf);	/* in the store already */
			continue;
		}
		if (txn == NULL || r.wr_txnid != open_id) {
			/* A txn left with parts only, then another: the
			   parts were its whole (its commit never logged). */
			if (wal_replay_commit(&txn, open_id, &prev, replayed,
			    err, errlen) == -1) {
				free(buf);
				goto out;
			}
			if (r.wr_txnid != prev + 1) {
				snprintf(err, errlen, "replay: the log goes "
				    "from txn %llu to %llu (epoch %llu): a "
				    "transaction is missing; refusing to open "
				    "a store without it",
				    (unsigned long long)prev,
				    (unsigned long long)r.wr_txnid,
				    (unsigned long long)epoch);
				free(buf);
				goto out;
			}
			if ((mrc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
				txn = NULL;
				free(buf);
				snprintf(err, errlen, "replay: %s",
				    mdb_strerror(mrc));
				goto out;
			}
			open_id = r.wr_txnid;
		}
		if ((mrc = walbuf_each(buf, r.wr_len, txn, fn, arg)) != 0 ||
		    mdb_txn_id(txn) != r.wr_txnid) {
			free(buf);
			snprintf(err, errlen, "replay of txn %llu: %s",
			    (unsigned long long)r.wr_txnid, mrc != 0 ?
			    mdb_strerror(mrc) : "txn id differs");
			goto out;
		}
		free(buf);
		if (!(r.wr_pad & WAL_REC_PART) && wal_replay_commit(&txn,
		    open_id, &prev, replayed, err, errlen) == -1)
			goto out;
	}
	if (wal_replay_commit(&txn, open_id, &prev, replayed, err,
	    errlen) == -1)
		goto out;
	if ((mrc = mdb_env_sync(env, 1)) != 0) {
		snprintf(err, errlen, "replay: sync: %s", mdb_strerror(mrc));
		goto out;
	}
	rc = 0;
	goto out;
ioerr:
	snprintf(err, errlen, "replay: %s: %s", dir, strerror(errno));
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	(void)mdb_env_set_flags(env, MDB_NOSYNC, 0);
	if (pin != NULL)
		mdb_txn_abort(pin);
	for (i = 0; i < 2; i++)
		if (fd[i] != -1)
			(void)close(fd[i]);
	return rc;
}

/*
 * After a commit by a process other than the running daemon, under the
 * write lock (the caller holds a write txn, or has just committed and
 * nobody else writes): the file flushed and a checkpoint at its last txn,
 * so that no replay ever needs it from the daemon's log. Nothing to do
 * when no daemon runs with a log on dir.
 */
int
wal_external_commit(const char *dir, MDB_env *env, const char *boot)
{
	uint8_t meta[WAL_META_LEN];
	struct wal_ckpt cur;
	MDB_envinfo info;
	MDB_stat ms;
	int fd, datafd, rc = -1;

	if (wal_state(dir, boot) != WAL_LIVE)
		return 0;
	if (mdb_env_sync(env, 1) != 0 || mdb_env_info(env, &info) != 0 ||
	    mdb_env_stat(env, &ms) != 0 ||
	    mdb_env_get_fd(env, &datafd) != 0)
		return -1;
	if ((fd = wal_open_file(dir, WAL_CKPT, O_RDWR)) == -1)
		return -1;
	if (flock(fd, LOCK_SH) == 0 && wal_ckpt_read(fd, &cur) == 0 &&
	    wal_meta_read(datafd, ms.ms_psize, info.me_last_txnid, meta) == 0) {
		(void)flock(fd, LOCK_UN);
		rc = wal_ckpt_advance(fd, cur.ck_run, info.me_last_txnid, meta,
		    cur.ck_epoch);
	}
	(void)close(fd);
	return rc;
}

/* ------------------------------------------------------------ the log */

static void *
wal_thread(void *arg)
{
	struct wal *w = arg;
	MDB_txn *old;
	int64_t t0;
	int ok;

	pthread_mutex_lock(&w->w_mtx);
	for (;;) {
		while (!w->w_busy && !w->w_stopping)
			pthread_cond_wait(&w->w_cond, &w->w_mtx);
		if (!w->w_busy)
			break;
		pthread_mutex_unlock(&w->w_mtx);
		t0 = metrics_now_us();
		ok = mdb_env_sync(w->w_env, 1) == 0 &&
		    wal_ckpt_advance(w->w_ckfd, w->w_run, w->w_next_txnid,
		    w->w_next_meta, w->w_next_epoch) == 0;
		if (!ok)
			log_warnx("wal: checkpoint at txn %llu failed: %s; "
			    "writes are refused from now on",
			    (unsigned long long)w->w_next_txnid,
			    strerror(errno));
		old = w->w_pin;
		if (!ok)
			wal_set_failed(w);
		pthread_mutex_lock(&w->w_mtx);
		if (ok) {
			w->w_pin = w->w_next_pin;
			w->w_next_pin = NULL;
			metrics_wal_checkpoint((uint64_t)(metrics_now_us() - t0));
		}
		w->w_busy = 0;
		pthread_cond_broadcast(&w->w_cond);
		pthread_mutex_unlock(&w->w_mtx);
		/* Pages the old snapshot held may be reused from now on. */
		if (ok && old != NULL)
			mdb_txn_abort(old);
		pthread_mutex_lock(&w->w_mtx);
	}
	pthread_mutex_unlock(&w->w_mtx);
	return NULL;
}

/* Waits for the checkpoint in flight; -1 if one failed. */
static int
wal_wait(struct wal *w)
{
	int failed;

	pthread_mutex_lock(&w->w_mtx);
	while (w->w_busy)
		pthread_cond_wait(&w->w_cond, &w->w_mtx);
	failed = w->w_failed;
	pthread_mutex_unlock(&w->w_mtx);
	return failed ? -1 : 0;
}

/*
 * Begins a checkpoint at the last commit, txnid (the writer's, right after
 * it): its reader, its meta page, the next epoch. 0 (begun, or not now),
 * -1 on failure.
 */
static int
wal_checkpoint_begin(struct wal *w, uint64_t txnid)
{
	MDB_txn *pin;

	if (mdb_txn_begin(w->w_env, NULL, MDB_RDONLY, &pin) != 0)
		return -1;
	if (mdb_txn_id(pin) != txnid ||
	    wal_meta_read(w->w_datafd, w->w_psize, txnid, w->w_next_meta) ==
	    -1) {
		/* Another process committed since: the next time. */
		mdb_txn_abort(pin);
		return 0;
	}
	/* The epoch's records on disk before the next epoch's first. */
	if (wal_sync(w, wal_appended(w)) == -1) {
		mdb_txn_abort(pin);
		return -1;
	}
	w->w_epoch++;
	w->w_off = 0;
	w->w_ckpt_at = metrics_now_us();
	pthread_mutex_lock(&w->w_mtx);
	w->w_sync_fd = w->w_fd[w->w_epoch & 1];
	w->w_sync_file = (unsigned)(w->w_epoch & 1);
	w->w_next_pin = pin;
	w->w_next_txnid = txnid;
	w->w_next_epoch = w->w_epoch;
	w->w_busy = 1;
	pthread_cond_broadcast(&w->w_cond);
	pthread_mutex_unlock(&w->w_mtx);
	return 0;
}

/* The last record appended (its lsn). */
static uint64_t
wal_appended(struct wal *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->w_mtx);
	n = w->w_appended;
	pthread_mutex_unlock(&w->w_mtx);
	return n;
}

/*
 * A log write or flush, or a checkpoint, failed: sticky (every later
 * append and flush fails), and wal.mark no longer says "this boot". After
 * a failed flush Linux may have marked the pages it could not write clean,
 * so a daemon started again on this boot must not take the page cache for
 * the disk (WAL_STALE): the marker makes it restore the last checkpoint
 * and replay the log, as after a power cut. Written through the page
 * cache, which the next start on this boot reads, even if the disk does
 * not take it; another boot recovers anyway. The daemon stops (guard.c).
 */
static void
wal_set_failed(struct wal *w)
{
	int mark;

	pthread_mutex_lock(&w->w_mtx);
	w->w_failed = 1;
	mark = !w->w_marked;
	w->w_marked = 1;
	pthread_mutex_unlock(&w->w_mtx);
	if (mark && wal_mark_write(w->w_dir, WAL_MARK_FAILED) == -1)
		log_warnx("wal: %s/%s: %s (written as far as it went)",
		    w->w_dir, WAL_MARK, strerror(errno));
}

void
wal_fail_final(struct wal *w, const char *why)
{
	log_warnx("wal: %s: %s; writes are refused from now on", w->w_dir,
	    why);
	wal_set_failed(w);
}

int
wal_failed(struct wal *w)
{
	int failed;

	pthread_mutex_lock(&w->w_mtx);
	failed = w->w_failed;
	pthread_mutex_unlock(&w->w_mtx);
	return failed;
}

/* file: which log file (0, 1) failed; its caller's, not w_epoch's. */
static void
wal_fail(struct wal *w, unsigned file, int e)
{
	log_warnx("wal: %s/wal.%u: %s", w->w_dir, file, strerror(e));
	wal_set_failed(w);
	errno = e;
}

static int
wal_write_rec(struct wal *w, uint64_t txnid, const struct walbuf *wb,
    uint32_t flags, uint64_t *lsn, int *busy_out)
{
	struct wal_rec r;
	struct iovec iov[2];
	ssize_t want;
	int busy, failed;

	pthread_mutex_lock(&w->w_mtx);
	busy = w->w_busy;
	failed = w->w_failed;
	pthread_mutex_unlock(&w->w_mtx);
	if (failed || wb->wb_err) {
		errno = EIO;
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.wr_magic = WAL_REC_MAGIC;
	r.wr_len = (uint32_t)wb->wb_len;
	r.wr_run = w->w_run;
	r.wr_epoch = w->w_epoch;
	r.wr_txnid = txnid;
	r.wr_pad = flags;
	r.wr_crc = (uint32_t)crc32(0L, (const uint8_t *)&r, sizeof(r));
	r.wr_crc = (uint32_t)crc32(r.wr_crc, wb->wb_buf, (uInt)wb->wb_len);
	iov[0].iov_base = &r;
	iov[0].iov_len = sizeof(r);
	iov[1].iov_base = wb->wb_buf;
	iov[1].iov_len = wb->wb_len;
	want = (ssize_t)(sizeof(r) + wb->wb_len);
	if (pwritev(w->w_fd[w->w_epoch & 1], iov, wb->wb_len > 0 ? 2 : 1,
	    (off_t)w->w_off) != want) {
		wal_fail(w, (unsigned)(w->w_epoch & 1),
		    errno != 0 ? errno : EIO);
		return -1;
	}
	w->w_off += (uint64_t)want;
	w->w_last = txnid;
	metrics_wal_append((uint64_t)want);
	pthread_mutex_lock(&w->w_mtx);
	*lsn = ++w->w_appended;
	pthread_mutex_unlock(&w->w_mtx);
	*busy_out = busy;
	return 0;
}

int
wal_append(struct wal *w, uint64_t txnid, const struct walbuf *wb,
    uint64_t *lsn)
{
	int busy;

	if (wal_write_rec(w, txnid, wb, 0, lsn, &busy) == -1)
		return -1;
	if (!busy && (metrics_now_us() - w->w_ckpt_at >= w->w_ckpt_us ||
	    w->w_off >= w->w_file_bytes / 2))
		return wal_checkpoint_begin(w, txnid);
	return 0;
}

/*
 * A part of the open txn txnid (not committed into LMDB yet): more of it,
 * and its last record, follow. Never begins a checkpoint: a checkpoint
 * names a committed snapshot and a new epoch, and the txn's parts must
 * stay in the epochs a replay after that snapshot reads.
 */
int
wal_append_part(struct wal *w, uint64_t txnid, const struct walbuf *wb,
    uint64_t *lsn)
{
	int busy;

	return wal_write_rec(w, txnid, wb, WAL_REC_PART, lsn, &busy);
}

int
wal_sync(struct wal *w, uint64_t lsn)
{
	uint64_t upto;
	unsigned file;
	int fd, failed;

	pthread_mutex_lock(&w->w_mtx);
	failed = w->w_failed;
	upto = w->w_appended;
	fd = w->w_sync_fd;
	file = w->w_sync_file;
	/*
	 * Flushed before any failure: on disk, and replayed after one (the
	 * failure leaves the log and the last checkpoint as they were).
	 */
	if (w->w_synced >= lsn) {
		pthread_mutex_unlock(&w->w_mtx);
		return 0;
	}
	pthread_mutex_unlock(&w->w_mtx);
	if (failed) {
		errno = EIO;
		return -1;
	}
	/* Every record up to upto is in fd, or flushed with its epoch. */
	if (!w->w_test_noflush && fdatasync(fd) == -1) {
		wal_fail(w, file, errno);
		return -1;
	}
	pthread_mutex_lock(&w->w_mtx);
	if (upto > w->w_synced)
		w->w_synced = upto;
	pthread_mutex_unlock(&w->w_mtx);
	return 0;
}

int
wal_commit(struct wal *w, uint64_t txnid, const struct walbuf *wb)
{
	uint64_t lsn;

	if (wal_append(w, txnid, wb, &lsn) == -1)
		return -1;
	return wal_sync(w, lsn);
}

uint64_t
wal_last_txn(struct wal *w)
{
	return w->w_last;
}

/*
 * Under the write lock, before a commit: last, the txn before the one
 * begun, is not the last we logged — another process committed. Its
 * commits made durable and checkpointed first (see the top).
 */
int
wal_foreign(struct wal *w, uint64_t last)
{
	uint8_t meta[WAL_META_LEN];
	struct wal_ckpt cur;

	if (last == w->w_last)
		return 0;
	log_info("wal: txn %llu..%llu committed by another process: "
	    "checkpointed", (unsigned long long)w->w_last + 1,
	    (unsigned long long)last);
	/* The checkpoint thread writes wal.ckpt through the same open file
	   (flock does not keep it out): not at the same time. */
	if (wal_wait(w) == -1 || mdb_env_sync(w->w_env, 1) != 0 ||
	    wal_meta_read(w->w_datafd, w->w_psize, last, meta) == -1 ||
	    flock(w->w_ckfd, LOCK_SH) == -1)
		return -1;
	if (wal_ckpt_read(w->w_ckfd, &cur) == -1) {
		(void)flock(w->w_ckfd, LOCK_UN);
		return -1;
	}
	(void)flock(w->w_ckfd, LOCK_UN);
	if (wal_ckpt_advance(w->w_ckfd, w->w_run, last, meta,
	    cur.ck_epoch) == -1)
		return -1;
	w->w_last = last;
	return 0;
}

/* fd written with zeros up to size (see w_file_bytes). */
static int
wal_fill(int fd, uint64_t size)
{
	static const uint8_t zero[65536];
	struct stat sb;
	off_t off;
	size_t n;

	if (fstat(fd, &sb) == -1)
		return -1;
	for (off = sb.st_size; off < (off_t)size; off += (off_t)n) {
		n = sizeof(zero);
		if ((off_t)size - off < (off_t)n)
			n = (size_t)((off_t)size - off);
		if (pwrite(fd, zero, n, off) != (ssize_t)n)
			return -1;
	}
	return 0;
}

static void
wal_free(struct wal *w)
{
	int i;

	if (w->w_started) {
		pthread_mutex_lock(&w->w_mtx);
		w->w_stopping = 1;
		pthread_cond_broadcast(&w->w_cond);
		pthread_mutex_unlock(&w->w_mtx);
		pthread_join(w->w_thread, NULL);
	}
	if (w->w_next_pin != NULL)
		mdb_txn_abort(w->w_next_pin);
	if (w->w_pin != NULL)
		mdb_txn_abort(w->w_pin);
	for (i = 0; i < 2; i++)
		if (w->w_fd[i] != -1)
			(void)close(w->w_fd[i]);
	if (w->w_ckfd != -1)
		(void)close(w->w_ckfd);
	pthread_mutex_destroy(&w->w_mtx);
	pthread_cond_destroy(&w->w_cond);
	free(w->w_dir);
	free(w);
}

int
wal_start(struct wal **out, const char *dir, MDB_env *env, const char *boot,
    unsigned ckpt_ms, unsigned file_mb, char *err, size_t errlen)
{
	struct wal_ckpt cur, ck;
	MDB_envinfo info;
	MDB_stat ms;
	struct wal *w;
	int i, have;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->w_dir = strdup(dir)) == NULL) {
		free(w);
		snprintf(err, errlen, "wal: out of memory");
		return -1;
	}
	w->w_env = env;
	w->w_ckpt_us = (int64_t)ckpt_ms * 1000;
	w->w_file_bytes = (uint64_t)file_mb * 1024 * 1024;
	/*
	 * Test only (tests/blackbox/test_crash.py proves it can fail): the
	 * log is not flushed, so commits are answered before they are
	 * durable — an acknowledged write a power cut can lose.
	 */
	w->w_test_noflush = getenv("EENPLAN_TEST_ACK_BEFORE_FLUSH") != NULL;
	w->w_fd[0] = w->w_fd[1] = w->w_ckfd = -1;
	pthread_mutex_init(&w->w_mtx, NULL);
	pthread_cond_init(&w->w_cond, NULL);
	if (mdb_env_get_fd(env, &w->w_datafd) != 0 ||
	    mdb_env_stat(env, &ms) != 0 || mdb_env_sync(env, 1) != 0 ||
	    mdb_env_info(env, &info) != 0) {
		snprintf(err, errlen, "wal: %s: the data file", dir);
		goto fail;
	}
	w->w_psize = ms.ms_psize;
	if ((w->w_fd[0] = wal_open_file(dir, WAL_LOG0, O_RDWR | O_CREAT)) ==
	    -1 || (w->w_fd[1] = wal_open_file(dir, WAL_LOG1, O_RDWR |
	    O_CREAT)) == -1 || (w->w_ckfd = wal_open_file(dir, WAL_CKPT,
	    O_RDWR | O_CREAT)) == -1) {
		snprintf(err, errlen, "wal: %s: %s", dir, strerror(errno));
		goto fail;
	}
	for (i = 0; i < 2; i++)
		if (wal_fill(w->w_fd[i], w->w_file_bytes) == -1)
			goto ioerr;
	/* A new run: its epochs after every record the files hold. */
	if (RAND_bytes((unsigned char *)&w->w_run, sizeof(w->w_run)) != 1) {
		snprintf(err, errlen, "wal: no random run id");
		goto fail;
	}
	if (w->w_run == 0)	/* 0 is "no checkpoint" (wal_prepare) */
		w->w_run = 1;
	if (flock(w->w_ckfd, LOCK_EX) == -1) {
		snprintf(err, errlen, "wal: %s: %s", WAL_CKPT, strerror(errno));
		goto fail;
	}
	have = wal_ckpt_read(w->w_ckfd, &cur) == 0;
	memset(&ck, 0, sizeof(ck));
	ck.ck_run = w->w_run;
	ck.ck_seq = have ? cur.ck_seq + 1 : 1;
	ck.ck_txnid = info.me_last_txnid;
	ck.ck_epoch = w->w_epoch = 1;
	w->w_sync_fd = w->w_fd[w->w_epoch & 1];
	w->w_sync_file = (unsigned)(w->w_epoch & 1);
	if (wal_meta_read(w->w_datafd, w->w_psize, ck.ck_txnid,
	    ck.ck_meta) == -1 || mdb_txn_begin(env, NULL, MDB_RDONLY,
	    &w->w_pin) != 0 || mdb_txn_id(w->w_pin) != ck.ck_txnid ||
	    wal_ckpt_write(w->w_ckfd, &ck) == -1) {
		(void)flock(w->w_ckfd, LOCK_UN);
		snprintf(err, errlen, "wal: the first checkpoint (txn %llu): "
		    "%s", (unsigned long long)ck.ck_txnid, strerror(errno));
		goto fail;
	}
	(void)flock(w->w_ckfd, LOCK_UN);
	w->w_last = ck.ck_txnid;
	w->w_ckpt_at = metrics_now_us();
	for (i = 0; i < 2; i++)
		if (fdatasync(w->w_fd[i]) == -1)
			goto ioerr;
	if (util_fsync_path(dir, 1) == -1 || wal_mark_write(dir, boot) == -1)
		goto ioerr;
	if (pthread_create(&w->w_thread, NULL, wal_thread, w) != 0) {
		snprintf(err, errlen, "wal: no checkpoint thread");
		goto fail_mark;
	}
	util_thread_name(w->w_thread, "checkpoint");
	w->w_started = 1;
	if (mdb_env_set_flags(env, MDB_NOSYNC, 1) != 0) {
		snprintf(err, errlen, "wal: MDB_NOSYNC refused");
		goto fail_mark;
	}
	*out = w;
	return 0;
ioerr:
	snprintf(err, errlen, "wal: %s: %s", dir, strerror(errno));
fail_mark:
	(void)wal_clear(dir);
fail:
	wal_free(w);
	return -1;
}

/* Every commit flushed, the marker gone: LMDB's own durability again. */
int
wal_stop(struct wal *w)
{
	int rc = 0;

	if (w == NULL)
		return 0;
	if (wal_wait(w) == -1)
		rc = -1;
	(void)mdb_env_set_flags(w->w_env, MDB_NOSYNC, 0);
	if (mdb_env_sync(w->w_env, 1) != 0)
		rc = -1;
	else if (rc == 0 && wal_clear(w->w_dir) == -1)
		rc = -1;
	if (rc == -1)
		log_warnx("wal: %s: not all flushed at stop: the next start "
		    "replays the log", w->w_dir);
	wal_free(w);
	return rc;
}
