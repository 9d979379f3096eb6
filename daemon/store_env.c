/*
 * store_env: the LMDB environment — opening and its damage checks, the
 * schema, transactions, the keyring in meta, backup and rekey (see store.h).
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/crypto.h>

#include "log.h"
#include "util.h"
#include "store.h"
#include "store_impl.h"

#define STORE_DEFAULT_MAP	((size_t)1 << 30)
#define STORE_DEFAULT_READERS	126
#define KEYRING_META		"keyring"
#define KEYRING_GEN_META	"keyring_gen"
#define KEYRING_ACK_META	"keyring_ack"	/* the daemon holds this generation */
#define REKEY_ACK_WAIT_US	(30 * 1000000LL)
#define KEYRING_MAX		(64 * 1024)


/* ------------------------------------------------------------- checks */

/* LMDB's page number in its free list records (MDB_ID, midl.h). */
typedef size_t store_pgid;

/*
 * A file that ends before the pages its meta counts, opened for writing:
 * mended when every page it lacks is a free page (see store_meta_end:
 * LMDB counts a commit's loose pages but never writes them, and an eenpland
 * before the commit extended the file could leave them at the end), else
 * refused. The file is extended first (a page past the end would SIGBUS,
 * the extension reads as zeros), the free list read through LMDB — a
 * branch or leaf of it that was cut off reads as a zero page, which LMDB
 * calls corrupt — and every page from the first one lacking (a partial
 * last page included) to the meta's last must be named in it. Else the
 * file is cut back to the size it had: refused as it was found.
 * 1: mended; 0: not a free tail (size restored); -1: an error (errno).
 */
static int
store_mend_tail(MDB_env *env, uint64_t size, uint64_t need, unsigned psize,
    uint64_t *lacking)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	mdb_filehandle_t fd;
	uint64_t first, last, n, found = 0, i;
	uint8_t *seen;
	int mrc, ok = 0;

	first = size / psize;
	last = need / psize - 1;
	*lacking = n = last - first + 1;
	if (mdb_env_get_fd(env, &fd) != MDB_SUCCESS)
		return 0;
	if ((seen = calloc(n, 1)) == NULL)
		return -1;
	if (ftruncate(fd, (off_t)need) == -1) {
		free(seen);
		return -1;
	}
	if ((mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != MDB_SUCCESS ||
	    (mrc = mdb_cursor_open(txn, 0, &cur)) != MDB_SUCCESS)
		goto done;
	while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
		const store_pgid *idl = v.mv_data;
		store_pgid cnt;

		/* An IDL: its length, then that many page numbers. */
		if (v.mv_size < sizeof(cnt) || v.mv_size % sizeof(cnt))
			goto done;
		memcpy(&cnt, idl, sizeof(cnt));
		if (cnt != v.mv_size / sizeof(cnt) - 1)
			goto done;
		for (i = 1; i <= cnt; i++) {
			store_pgid pg;

			memcpy(&pg, idl + i, sizeof(pg));
			if (pg >= first && pg <= last && !seen[pg - first]) {
				seen[pg - first] = 1;
				found++;
			}
		}
	}
	ok = mrc == MDB_NOTFOUND && found == n;
done:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(seen);
	if (!ok && ftruncate(fd, (off_t)size) == -1)
		return -1;
	return ok;
}

/*
 * LMDB has no page checksums and maps the file: a file shorter than the
 * pages its meta page claims opens fine and then SIGBUSes on the first read
 * past the end. Refuse it before reading anything but the meta pages —
 * unless it lacks only free pages (store_mend_tail), which an open for
 * writing mends.
 * env_info comes before stat: a concurrent writer grows the file before it
 * moves the meta, so this order never refuses a healthy file.
 */
static int
store_check_size(MDB_env *env, const char *dir, int readonly, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	MDB_envinfo info;
	MDB_stat ms;
	struct stat sb;
	uint64_t need, lacking = 0;
	int mrc, rc;

	if ((mrc = mdb_env_info(env, &info)) != MDB_SUCCESS ||
	    (mrc = mdb_env_stat(env, &ms)) != MDB_SUCCESS) {
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(mrc));
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (stat(path, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	need = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	if ((uint64_t)sb.st_size >= need)
		return 0;
	if (readonly) {
		snprintf(err, errlen, "%s: data file truncated: %lld bytes, "
		    "needs %llu; if it lacks only free pages (an older "
		    "eenpland left them), starting the daemon mends it, else "
		    "restore from a backup", path,
		    (long long)sb.st_size, (unsigned long long)need);
		return -1;
	}
	rc = store_mend_tail(env, (uint64_t)sb.st_size, need, ms.ms_psize,
	    &lacking);
	if (rc == 1) {
		log_warnx("store: %s: the file ended %llu page(s) before its "
		    "last one, all of them free pages LMDB never wrote (an "
		    "older eenpland left them): extended to %llu bytes", path,
		    (unsigned long long)lacking, (unsigned long long)need);
		return 0;
	}
	if (rc == -1) {
		snprintf(err, errlen, "%s: data file truncated: %lld bytes, "
		    "needs %llu; mending it: %s", path, (long long)sb.st_size,
		    (unsigned long long)need, strerror(errno));
		return -1;
	}
	snprintf(err, errlen, "%s: data file truncated: %lld bytes, "
	    "needs %llu; restore from a backup", path,
	    (long long)sb.st_size, (unsigned long long)need);
	return -1;
}

/*
 * LMDB does not write a commit's loose pages (pages it took and freed
 * again in the same txn: mdb_page_flush skips P_LOOSE), yet its meta
 * counts them: when they are the last pages, the file ends before the
 * meta's last page, and the size checks here would take a healthy file
 * for a truncated one (seen making the 1,000,000-household bench store:
 * 13 pages short, and the daemon stopped itself). After each commit the
 * file is extended to the meta's end; those pages are free, never read
 * before they are written. Only a file that reached the end of the meta
 * the txn began on is extended: one cut shorter than that is damage,
 * which the guard must find, not zeros.
 */
static uint64_t
store_meta_end(struct store *st)
{
	MDB_envinfo info;
	MDB_stat ms;

	if (mdb_env_info(st->st_env, &info) != MDB_SUCCESS ||
	    mdb_env_stat(st->st_env, &ms) != MDB_SUCCESS)
		return 0;
	return ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
}

void
store_extend_to_meta(struct store *st, uint64_t began)
{
	struct stat sb;
	mdb_filehandle_t fd;
	uint64_t need;

	if (st->st_is_index || began == 0 || (need = store_meta_end(st)) == 0 ||
	    mdb_env_get_fd(st->st_env, &fd) != MDB_SUCCESS ||
	    fstat(fd, &sb) == -1)
		return;
	if ((uint64_t)sb.st_size < need && (uint64_t)sb.st_size >= began &&
	    ftruncate(fd, (off_t)need) == -1)
		log_warnx("store: %s/data.mdb: extending it to %llu bytes: %s",
		    st->st_dir, (unsigned long long)need, strerror(errno));
}

/* store_check_file's reading: 1 if the file is shorter than its meta. */
static int
store_file_short(struct store *st, int64_t *size, uint64_t *need, int *mrc)
{
	MDB_envinfo info;
	MDB_stat ms;
	struct stat sb;
	mdb_filehandle_t fd;

	/*
	 * As at open: the meta first, then the size. A writer grows the
	 * file before its meta names the new pages, so this order never
	 * takes a healthy file for a short one (but for loose pages:
	 * store_extend_to_meta).
	 */
	if ((*mrc = mdb_env_info(st->st_env, &info)) != MDB_SUCCESS ||
	    (*mrc = mdb_env_stat(st->st_env, &ms)) != MDB_SUCCESS ||
	    (*mrc = mdb_env_get_fd(st->st_env, &fd)) != MDB_SUCCESS)
		return -1;
	if (fstat(fd, &sb) == -1) {
		*mrc = errno;
		return -1;
	}
	*size = (int64_t)sb.st_size;
	*need = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	return (uint64_t)sb.st_size < *need;
}

int
store_check_file(struct store *st, char *err, size_t errlen)
{
	uint64_t need = 0;
	int64_t size = 0;
	int mrc = 0, rc;

	if (atomic_load(&st->st_damaged)) {
		snprintf(err, errlen, "%s/data.mdb: damaged (found before)",
		    st->st_dir);
		return STORE_CORRUPT;
	}
	/*
	 * Short: looked at again 100 ms later, by when a commit that left
	 * loose pages at the end has extended the file (store_commit_lsn).
	 */
	if ((rc = store_file_short(st, &size, &need, &mrc)) == 1) {
		usleep(100000);
		rc = store_file_short(st, &size, &need, &mrc);
	}
	if (rc == -1) {
		snprintf(err, errlen, "%s/data.mdb: %s", st->st_dir,
		    mdb_strerror(mrc));
		return STORE_ERR;
	}
	if (rc == 0)
		return STORE_OK;
	atomic_store(&st->st_damaged, 1);
	snprintf(err, errlen, "%s/data.mdb: data file truncated under the "
	    "running daemon: %lld bytes, needs %llu", st->st_dir,
	    (long long)size, (unsigned long long)need);
	return STORE_CORRUPT;
}

int
store_damaged(struct store *st)
{
	return atomic_load(&st->st_damaged);
}

int
store_flush_failed(struct store *st)
{
	if (atomic_load(&st->st_flush_failed))
		return 1;
	return st->st_wal != NULL && wal_failed(st->st_wal) ? 2 : 0;
}

/*
 * Without the log: a flush of the data file failed (EIO). Linux may have
 * marked the pages it could not write clean, and tells a failed writeback
 * once: a later fdatasync can return 0 with them still not on the disk —
 * a commit's meta page among them, written unflushed (MDB_NOMETASYNC),
 * whose batch is answered only after the next flush. So the failure is
 * final: nothing more is committed, no sync is trusted, the batches
 * waiting for a flush are refused, and the guard stops the daemon; the
 * next start drops the file's cached pages (store_cache_reset) and opens
 * what the disk holds, every answered commit in it.
 */
static void
store_set_flush_failed(struct store *st, const char *what, int err)
{
	if (st->st_wal != NULL || st->st_is_index || err != EIO ||
	    atomic_exchange(&st->st_flush_failed, 1) != 0)
		return;
	log_warnx("store: %s: a flush of the data file failed in a %s (%s): "
	    "nothing more is committed", st->st_dir, what, strerror(err));
}

/*
 * LMDB does not say where it mapped the file (mdb_env_info's me_mapaddr is
 * the fixed address asked for, NULL without MDB_FIXEDMAP): the mapping of
 * the data file's inode is found in /proc/self/maps.
 */
void
store_map_range(struct store *st, void **addr, size_t *len)
{
	char line[PATH_MAX + 128], dev[16];
	unsigned long long start, end, off, ino;
	mdb_filehandle_t fd;
	struct stat sb;
	unsigned maj, min;
	FILE *fp;

	*addr = NULL;
	*len = 0;
	if (st->st_env == NULL || mdb_env_get_fd(st->st_env, &fd) !=
	    MDB_SUCCESS || fstat(fd, &sb) == -1)
		return;
	if ((fp = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%llx-%llx %*s %llx %15s %llu", &start, &end,
		    &off, dev, &ino) != 5 || ino != (unsigned long long)
		    sb.st_ino || sscanf(dev, "%x:%x", &maj, &min) != 2 ||
		    makedev(maj, min) != sb.st_dev || off != 0)
			continue;
		*addr = (void *)(uintptr_t)start;
		*len = (size_t)(end - start);
		break;
	}
	(void)fclose(fp);
}

/*
 * A data file of zero bytes would be taken by LMDB for a new, empty
 * environment: every record silently gone. Refuse it instead.
 */
static int
store_check_empty_file(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat sb;

	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (stat(path, &sb) == -1)
		return 0;
	if (sb.st_size == 0) {
		snprintf(err, errlen, "%s: data file truncated: 0 bytes; "
		    "restore from a backup or remove it to start empty", path);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ keyring */

static void
keyring_ad(uint8_t ad[24], uint32_t id, int index)
{
	static const char label[] = "eenplan keyring";	/* 15 + NUL */

	memcpy(ad, label, sizeof(label));
	ad[16] = id >> 24;
	ad[17] = (id >> 16) & 0xff;
	ad[18] = (id >> 8) & 0xff;
	ad[19] = id & 0xff;
	ad[20] = index ? 1 : 0;
	ad[21] = ad[22] = ad[23] = 0;
}

/* Adds a wrap of key under kek to wk. 0 or -1. */
static int
keyring_wrap(Eenplan__Store__WrappedKey *wk, const struct seal_key *key,
    const struct seal_key *kek)
{
	Eenplan__Store__Wrap **v, *w;
	uint8_t ad[24];
	size_t i;

	for (i = 0; i < wk->n_wraps; i++)
		if (wk->wraps[i]->kek_id == kek->sk_id)
			return 0;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	eenplan__store__wrap__init(w);
	w->kek_id = kek->sk_id;
	if ((w->sealed.data = malloc(SEAL_KEY_LEN + SEAL_OVERHEAD)) == NULL)
		goto fail;
	w->sealed.len = SEAL_KEY_LEN + SEAL_OVERHEAD;
	keyring_ad(ad, key->sk_id, wk->index);
	if (seal_value(kek, ad, sizeof(ad), key->sk_key, SEAL_KEY_LEN,
	    w->sealed.data) != 0)
		goto fail;
	if ((v = reallocarray(wk->wraps, wk->n_wraps + 1, sizeof(*v))) == NULL)
		goto fail;
	wk->wraps = v;
	wk->wraps[wk->n_wraps++] = w;
	return 0;
fail:
	protobuf_c_message_free_unpacked(&w->base, NULL);
	return -1;
}

/* The key inside wk, if one of its wraps opens under kek. 0 or -1. */
static int
keyring_unwrap(const Eenplan__Store__WrappedKey *wk,
    const struct seal_key *kek, struct seal_key *out)
{
	uint8_t ad[24];
	size_t i;

	for (i = 0; i < wk->n_wraps; i++) {
		const Eenplan__Store__Wrap *w = wk->wraps[i];

		if (w->kek_id != kek->sk_id ||
		    w->sealed.len != SEAL_KEY_LEN + SEAL_OVERHEAD)
			continue;
		keyring_ad(ad, wk->id, wk->index);
		if (seal_open(kek, ad, sizeof(ad), w->sealed.data, w->sealed.len,
		    out->sk_key) != 0)
			return -1;
		out->sk_id = seal_key_id(out->sk_key);
		return out->sk_id == wk->id ? 0 : -1;
	}
	return -1;
}

static Eenplan__Store__WrappedKey *
keyring_new_entry(EpsKeyring *kr, const struct seal_key *key, int index)
{
	Eenplan__Store__WrappedKey *wk, **v;

	if ((wk = calloc(1, sizeof(*wk))) == NULL)
		return NULL;
	eenplan__store__wrapped_key__init(wk);
	wk->id = key->sk_id;
	wk->index = index;
	wk->created_at = util_now_us();
	if ((v = reallocarray(kr->keys, kr->n_keys + 1, sizeof(*v))) == NULL) {
		free(wk);
		return NULL;
	}
	kr->keys = v;
	kr->keys[kr->n_keys++] = wk;
	return wk;
}

static int
keyring_read(struct stxn *tx, EpsKeyring **out)
{
	uint8_t *buf;
	size_t len;
	int rc;

	*out = NULL;
	if ((buf = malloc(KEYRING_MAX)) == NULL)
		return STORE_ERR;
	rc = store_meta_get(tx, KEYRING_META, buf, KEYRING_MAX, &len);
	if (rc == STORE_OK) {
		*out = eenplan__store__keyring__unpack(NULL, len, buf);
		if (*out == NULL) {
			log_warnx("store: DATA LOSS: the keyring in meta does "
			    "not decode");
			rc = stxn_fail(tx, STORE_CORRUPT);
		}
	}
	free(buf);
	return rc;
}

static int
keyring_write(struct stxn *tx, EpsKeyring *kr)
{
	uint8_t *buf;
	size_t len;
	int rc;

	kr->generation++;
	len = eenplan__store__keyring__get_packed_size(kr);
	if (len > KEYRING_MAX || (buf = malloc(len)) == NULL)
		return STORE_ERR;
	eenplan__store__keyring__pack(kr, buf);
	rc = store_meta_put(tx, KEYRING_META, buf, len);
	free(buf);
	if (rc == STORE_OK)
		rc = store_meta_put_u64(tx, KEYRING_GEN_META, kr->generation);
	return rc;
}

/*
 * Takes into the store's keyring every key of kr that opens under our KEK.
 * The current data key must be among them.
 */
static int
keyring_adopt(struct store *st, const EpsKeyring *kr, char *err, size_t errlen)
{
	struct seal_key k;
	size_t i;
	int have_current = 0, have_index = 0;
	uint32_t other = 0;

	for (i = 0; i < kr->n_keys; i++) {
		if (keyring_unwrap(kr->keys[i], &st->st_kek, &k) != 0) {
			if (kr->keys[i]->n_wraps > 0)
				other = kr->keys[i]->wraps[0]->kek_id;
			continue;
		}
		if (kr->keys[i]->index) {
			keyring_set_index(st->st_keys, &k);
			have_index = 1;
		} else if (keyring_add(st->st_keys, &k) != 0) {
			seal_key_wipe(&k);
			snprintf(err, errlen, "keyring: too many data keys");
			return -1;
		}
		if (!kr->keys[i]->index && k.sk_id == kr->current)
			have_current = 1;
		seal_key_wipe(&k);
	}
	/*
	 * A running daemon may hold what a rekey in another process has since
	 * rewrapped under a key file it does not have: what it holds counts.
	 */
	if (!have_current && keyring_get(st->st_keys, kr->current) != NULL)
		have_current = 1;
	if (!have_index && keyring_index(st->st_keys) != NULL)
		have_index = 1;
	if (!have_current || !have_index) {
		snprintf(err, errlen, "the configured key file (key id %08x) "
		    "does not open this store: its keys are wrapped under key "
		    "id %08x (after a rekey, point [store] key at the new key "
		    "file)", st->st_kek.sk_id, other);
		return -1;
	}
	if (keyring_set_current(st->st_keys, kr->current) != 0) {
		snprintf(err, errlen, "keyring: current key missing");
		return -1;
	}
	atomic_store(&st->st_keys_gen, kr->generation);
	return 0;
}

/* A new store: a data key and the index key, wrapped under the KEK. */
static int
keyring_create(struct stxn *tx, char *err, size_t errlen)
{
	struct store *st = tx->sx_store;
	Eenplan__Store__WrappedKey *wk;
	EpsKeyring kr = EENPLAN__STORE__KEYRING__INIT;
	struct seal_key dek, ik;
	int rc = -1;

	memset(&dek, 0, sizeof(dek));
	memset(&ik, 0, sizeof(ik));
	if (seal_key_random(&dek) != 0 || seal_key_random(&ik) != 0) {
		snprintf(err, errlen, "keyring: no randomness");
		goto out;
	}
	if ((wk = keyring_new_entry(&kr, &dek, 0)) == NULL ||
	    keyring_wrap(wk, &dek, &st->st_kek) != 0 ||
	    (wk = keyring_new_entry(&kr, &ik, 1)) == NULL ||
	    keyring_wrap(wk, &ik, &st->st_kek) != 0) {
		snprintf(err, errlen, "keyring: out of memory");
		goto out;
	}
	kr.current = dek.sk_id;
	if (keyring_write(tx, &kr) != STORE_OK) {
		snprintf(err, errlen, "keyring: cannot store it");
		goto out;
	}
	rc = keyring_adopt(st, &kr, err, errlen);
	log_info("store: new keyring: data key %08x under key file %08x",
	    dek.sk_id, st->st_kek.sk_id);
out:
	seal_key_wipe(&dek);
	seal_key_wipe(&ik);
	/* kr is on the stack: free its parts only. */
	{
		size_t i;

		for (i = 0; i < kr.n_keys; i++)
			protobuf_c_message_free_unpacked(&kr.keys[i]->base,
			    NULL);
		free(kr.keys);
	}
	return rc;
}

int
store_keyring_refresh(struct stxn *tx)
{
	struct store *st = tx->sx_store;
	EpsKeyring *kr = NULL;
	uint64_t gen;
	char err[256];
	int rc;

	if ((rc = store_meta_get_u64(tx, KEYRING_GEN_META, &gen)) != STORE_OK)
		return rc;
	if (gen == atomic_load(&st->st_keys_gen))
		return STORE_OK;
	pthread_mutex_lock(&st->st_keys_mtx);
	if (gen != atomic_load(&st->st_keys_gen)) {
		if ((rc = keyring_read(tx, &kr)) == STORE_OK &&
		    keyring_adopt(st, kr, err, sizeof(err)) != 0) {
			log_warnx("store: keyring: %s", err);
			rc = STORE_NOKEY;
		} else if (rc == STORE_OK)
			log_info("store: keyring generation %llu: data key "
			    "%08x", (unsigned long long)gen, kr->current);
	}
	pthread_mutex_unlock(&st->st_keys_mtx);
	if (kr != NULL)
		eenplan__store__keyring__free_unpacked(kr, NULL);
	return rc;
}

/*
 * The daemon's side of a rekey in another process: when the keyring moved,
 * take the new keys (through a write txn, which refreshes) and say so in
 * meta "keyring_ack", so the rekey may drop the wraps under the old key file.
 * Called by the writer when idle. STORE_* code.
 */
int
store_keyring_ack(struct store *st)
{
	struct stxn *tx;
	uint64_t gen, ack;
	int rc;

	if ((rc = store_write_begin(st, &tx)) != STORE_OK)
		return rc;
	gen = atomic_load(&st->st_keys_gen);
	if ((rc = store_meta_get_u64(tx, KEYRING_ACK_META, &ack)) != STORE_OK ||
	    ack >= gen) {
		store_abort(tx);
		return rc;
	}
	if ((rc = store_meta_put_u64(tx, KEYRING_ACK_META, gen)) != STORE_OK) {
		store_abort(tx);
		return rc;
	}
	return store_commit(tx);
}

int
store_keyring_ack_txn(struct stxn *tx)
{
	struct store *st = tx->sx_store;
	uint64_t gen = atomic_load(&st->st_keys_gen);

	if (atomic_load(&st->st_keys_acked) >= gen)
		return STORE_OK;
	/* Counted as said only once this txn commits (store_commit). */
	tx->sx_ack_gen = gen;
	return store_meta_put_u64(tx, KEYRING_ACK_META, gen);
}

int
store_daemon_mark(struct store *st)
{
	struct stxn *tx;
	int rc;

	st->st_daemon = 1;
	if ((rc = store_write_begin(st, &tx)) != STORE_OK)
		return rc;
	if ((rc = store_meta_put_u64(tx, "daemon_pid", (uint64_t)getpid())) !=
	    STORE_OK || (rc = store_meta_put_u64(tx, KEYRING_ACK_META,
	    atomic_load(&st->st_keys_gen))) != STORE_OK) {
		store_abort(tx);
		return rc;
	}
	return store_commit(tx);
}

/* ------------------------------------------------------ open and close */

struct keyring *
store_keyring(struct store *st)
{
	return st->st_keys;
}

/*
 * Stores made before the audit index had its own environment kept it here:
 * dropped (its pages freed) on the first read-write open; the indexer
 * builds the new one from the log.
 */
static int
legacy_index_drop(struct stxn *tx, int db, char *err, size_t errlen)
{
	MDB_dbi dbi;
	int mrc, rc;

	mrc = mdb_dbi_open(tx->sx_txn, store_dbs[db].sd_name, 0, &dbi);
	if (mrc == MDB_NOTFOUND)
		return 0;
	if (mrc == MDB_SUCCESS)
		mrc = mdb_drop(tx->sx_txn, dbi, 1);
	if (mrc != MDB_SUCCESS) {
		snprintf(err, errlen, "database %s: %s", store_dbs[db].sd_name,
		    mdb_strerror(mrc));
		return -1;
	}
	rc = store_del_key(tx, DB_META, STORE_AUDIT_INDEXED_META,
	    strlen(STORE_AUDIT_INDEXED_META));
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		snprintf(err, errlen, "meta %s: %s", STORE_AUDIT_INDEXED_META,
		    store_strerror(rc));
		return -1;
	}
	log_info("store: the audit index moves to its own environment "
	    "(%s dropped here; rebuilt from the log)", store_dbs[db].sd_name);
	return 0;
}

/*
 * Opens every database, checks the schema and the keyring in one committed
 * txn. Schema-1 databases are opened when present (a store to migrate).
 */
static int
store_open_dbs(struct store *st, char *err, size_t errlen)
{
	struct stxn tx;
	unsigned flags = st->st_readonly ? 0 : MDB_CREATE;
	EpsKeyring *kr = NULL;
	uint64_t schema, schema_found;
	int i, mrc, rc, v1 = 0, missing = 0;

	memset(&tx, 0, sizeof(tx));
	tx.sx_store = st;
	tx.sx_kind = st->st_readonly ? STXN_READ : STXN_WRITE;
	tx.sx_active = 1;
	if ((mrc = mdb_txn_begin(st->st_env, NULL,
	    st->st_readonly ? MDB_RDONLY : 0, &tx.sx_txn)) != MDB_SUCCESS) {
		snprintf(err, errlen, "begin: %s", mdb_strerror(mrc));
		return -1;
	}
	for (i = 0; i < DB_COUNT; i++) {
		if (store_dbs[i].sd_index) {
			/* In the index's own environment (index_open). */
			st->st_dbi[i] = 0;
			continue;
		}
		mrc = mdb_dbi_open(tx.sx_txn, store_dbs[i].sd_name,
		    i >= DB_V1_FIRST ? 0 : flags | store_dbs[i].sd_flags,
		    &st->st_dbi[i]);
		if (mrc == MDB_NOTFOUND && i >= DB_V1_FIRST) {
			st->st_dbi[i] = 0;
			continue;
		}
		if (mrc == MDB_NOTFOUND && st->st_readonly && i != DB_META) {
			/*
			 * A schema-1 store (the check below says so), or one
			 * not yet opened read-write by this version. An index
			 * that open makes from what is there is only absent:
			 * what reads it says it does not know (-n, restore and
			 * the dry run still open an upgraded store).
			 */
			st->st_dbi[i] = 0;
			if (!store_dbs[i].sd_derived)
				missing = 1;
			continue;
		}
		if (mrc != MDB_SUCCESS) {
			snprintf(err, errlen, "database %s: %s%s",
			    store_dbs[i].sd_name, mdb_strerror(mrc),
			    mrc == MDB_NOTFOUND ? " (not an eenplan store?)" :
			    "");
			goto fail;
		}
		/* An existing database keeps the layout it was made with. */
		if (i < DB_V1_FIRST) {
			unsigned have = 0;

			if (mdb_dbi_flags(tx.sx_txn, st->st_dbi[i], &have) !=
			    MDB_SUCCESS || (have & (MDB_DUPSORT | MDB_DUPFIXED))
			    != store_dbs[i].sd_flags) {
				snprintf(err, errlen, "database %s: not laid out "
				    "as this version keeps it (a store made by "
				    "a development build?)", store_dbs[i].sd_name);
				goto fail;
			}
		}
		if (i == DB_V1_HOUSEHOLDS)
			v1 = 1;
	}
	for (i = 0; !st->st_readonly && i < DB_V1_FIRST; i++)
		if (store_dbs[i].sd_index &&
		    legacy_index_drop(&tx, i, err, errlen) == -1)
			goto fail;
	/* Absent reads as 0: a new store. */
	if ((rc = store_meta_get_u64(&tx, "schema", &schema)) != STORE_OK) {
		snprintf(err, errlen, "schema version: %s", store_strerror(rc));
		goto fail;
	}
	if (schema == 0 && v1)
		schema = 1;
	schema_found = schema;
	if (schema > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "schema version %llu is newer than this "
		    "eenpland supports (%d)", (unsigned long long)schema,
		    STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (schema != 0 && schema < STORE_SCHEMA_VERSION && st->st_readonly) {
		snprintf(err, errlen, "schema version %llu needs migration to "
		    "%d: start eenpland once (it migrates in place)",
		    (unsigned long long)schema, STORE_SCHEMA_VERSION);
		goto fail;
	}
	/* Database handle 0 is the main database: never read in its place. */
	if (missing && schema == STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "the store lacks databases of this "
		    "version: start eenpland on it once to add them");
		goto fail;
	}
	st->st_schema = schema == 0 ? STORE_SCHEMA_VERSION : schema;
	/* A new store has no sender copies: sent_hh holds them all. */
	if (schema == 0 && ((rc = store_meta_put_u64(&tx, "schema",
	    STORE_SCHEMA_VERSION)) != STORE_OK ||
	    (rc = store_meta_put_u64(&tx, SENT_HH_META, 1)) != STORE_OK)) {
		snprintf(err, errlen, "schema version: %s", store_strerror(rc));
		goto fail;
	}
	rc = keyring_read(&tx, &kr);
	if (rc == STORE_NOTFOUND) {
		if (st->st_readonly) {
			snprintf(err, errlen, "the store has no keyring");
			goto fail;
		}
		/*
		 * Only a new store, or one of schema 1 (nothing sealed yet),
		 * gets a new keyring: a sealed store without its keyring is
		 * damaged, and a new keyring would read all of it as damage.
		 */
		if (schema_found == STORE_SCHEMA_VERSION) {
			snprintf(err, errlen, "the store has no keyring (meta "
			    "\"keyring\" missing): damaged; restore from a "
			    "backup");
			goto fail;
		}
		if (keyring_create(&tx, err, errlen) != 0)
			goto fail;
	} else if (rc != STORE_OK) {
		snprintf(err, errlen, "keyring: %s", store_strerror(rc));
		goto fail;
	} else if (keyring_adopt(st, kr, err, errlen) != 0)
		goto fail;
	if (kr != NULL)
		eenplan__store__keyring__free_unpacked(kr, NULL);
	kr = NULL;
	/* Even read-only: an aborted txn would close the handles it opened. */
	if ((mrc = mdb_txn_commit(tx.sx_txn)) != MDB_SUCCESS) {
		snprintf(err, errlen, "commit: %s", mdb_strerror(mrc));
		return -1;
	}
	return 0;
fail:
	if (kr != NULL)
		eenplan__store__keyring__free_unpacked(kr, NULL);
	mdb_txn_abort(tx.sx_txn);
	return -1;
}

uint64_t
store_schema(struct store *st)
{
	return st->st_schema;
}

/*
 * mdb_env_info and mdb_env_stat only read the current meta page: safe
 * beside the writer and the readers, no transaction needed.
 */
int
store_usage(struct store *st, struct store_usage *u)
{
	MDB_envinfo info;
	MDB_stat ms;
	int mrc;

	memset(u, 0, sizeof(*u));
	if ((mrc = mdb_env_info(st->st_env, &info)) != MDB_SUCCESS ||
	    (mrc = mdb_env_stat(st->st_env, &ms)) != MDB_SUCCESS)
		return store_map_rc(mrc);
	u->su_map_size = info.me_mapsize;
	u->su_used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	u->su_readers = info.me_numreaders;
	u->su_readers_max = info.me_maxreaders;
	return STORE_OK;
}

/*
 * The page cache of a data file in pages of one 4 KiB page each.
 *
 * Linux (6.x, ext4 and others) caches a file in folios of up to a few MB
 * when it is read ahead or written in long runs (cp, readahead, LMDB's
 * writev of a run of new pages at the end of the file), and writes a
 * dirty folio back whole: a commit that changed one 4 KiB page in such a
 * folio wrote up to 2 MB. Measured on the bench store (100,000 households,
 * its copy made by cp; /proc/PID/task/TID/io of the writer and the
 * indexer): 520 KB sent to the disk per MutatePlan and 69 KB per audited
 * GetPlan, where LMDB wrote ~38 KB and ~7.5 KB; with what follows, 38 KB
 * and 8 KB (tests/blackbox/test_store.py
 * commits_write_back_only_the_pages_they_change: 2.4 MB -> 63 KB), and
 * the writer no longer waits on the block layer's writeback throttling.
 *
 * So, where the store is written: no readahead (MDB_NORDAHEAD: MADV_RANDOM
 * on the map; a fault reads one page, cached in a folio of one page; a
 * read-only process beside the daemon (backup, verify) still reads ahead,
 * but only the pages not cached yet); at a read-write open the file is
 * flushed and its cached pages dropped and read again ahead (WILLNEED
 * reads in folios of one page, in the background), unless the file is
 * larger than half the machine's memory (then they come back as they are
 * read); and after each commit the pages it added at the end of the file
 * (clean once the commit flushed them, written in one run) the same. Only
 * clean pages nobody maps are dropped: nothing is lost, a page in use
 * just stays as it is.
 */
#define STORE_WILLNEED_CHUNK	(1024 * 1024)

/*
 * Reads [off, off + len) ahead, in folios of one page. The kernel reads
 * at most its readahead window (a few hundred KB to a few MB) per call:
 * hence the chunks. Asynchronous.
 */
static void
store_cache_willneed(int fd, off_t off, off_t len)
{
	off_t n;

	for (; len > 0; off += n, len -= n) {
		n = len < STORE_WILLNEED_CHUNK ? len : STORE_WILLNEED_CHUNK;
		(void)posix_fadvise(fd, off, n, POSIX_FADV_WILLNEED);
	}
}

static void
store_cache_pages(struct store *st, uint64_t pgno, uint64_t n)
{
	int fd;

	if (mdb_env_get_fd(st->st_env, &fd) != MDB_SUCCESS || fd < 0)
		return;
	(void)posix_fadvise(fd, (off_t)(pgno * st->st_psize),
	    (off_t)(n * st->st_psize), POSIX_FADV_DONTNEED);
	store_cache_willneed(fd, (off_t)(pgno * st->st_psize),
	    (off_t)(n * st->st_psize));
}

static void
store_cache_reset(const struct store *st)
{
	char path[PATH_MAX];
	struct stat sb;
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	int fd;

	/*
	 * Before LMDB opens the file: its first read (the meta pages, by
	 * pread, with readahead) would cache them in one large folio that
	 * its map then holds, rewritten whole at every commit's meta write.
	 */
	if (st->st_readonly || (size_t)snprintf(path, sizeof(path),
	    "%s/data.mdb", st->st_dir) >= sizeof(path) ||
	    (fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return;
	/* Dirty pages (a file just copied or restored) are not dropped. */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && fdatasync(fd) == 0) {
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (pages > 0 && psz > 0 && (uint64_t)sb.st_size <=
		    (uint64_t)pages * (uint64_t)psz / 2)
			store_cache_willneed(fd, 0, sb.st_size);
	}
	(void)close(fd);
}

/* The first page past the file's pages, as of the last commit. */
static uint64_t
store_next_pgno(struct store *st)
{
	MDB_envinfo info;

	if (mdb_env_info(st->st_env, &info) != MDB_SUCCESS)
		return 0;
	return (uint64_t)info.me_last_pgno + 1;
}

/*
 * st->st_env made and opened on st->st_dir (the store's, or its audit
 * index's) and checked: map size, readers, the file's size against the
 * map, stale reader slots cleared.
 *
 * MDB_NOMETASYNC: a commit syncs its data, then writes its meta page
 * without a second flush; the next flush (the next commit's, or
 * store_sync) makes the meta durable. A power cut can only lose a commit
 * nobody was told about (the writer answers after that flush; the indexer
 * only indexes what is durable), and never breaks the file: a meta page is
 * written after its data is on disk.
 */
static int
store_env_open(struct store *st, unsigned maxdbs, char *err, size_t errlen)
{
	MDB_stat ms;
	unsigned flags;
	int mrc, dead;
	size_t map;

	if ((mrc = mdb_env_create(&st->st_env)) != MDB_SUCCESS) {
		snprintf(err, errlen, "env: %s", mdb_strerror(mrc));
		st->st_env = NULL;
		return -1;
	}
	/* Set once: the file is sparse and grows as pages are written. */
	map = st->st_map_max;
	if (map == 0 && !st->st_readonly)
		map = STORE_DEFAULT_MAP;
	if ((mrc = mdb_env_set_maxdbs(st->st_env, maxdbs)) != MDB_SUCCESS ||
	    (map > 0 && (mrc = mdb_env_set_mapsize(st->st_env, map)) !=
	    MDB_SUCCESS) ||
	    (mrc = mdb_env_set_maxreaders(st->st_env, st->st_max_readers > 0 ?
	    st->st_max_readers : STORE_DEFAULT_READERS)) != MDB_SUCCESS) {
		snprintf(err, errlen, "env: %s", mdb_strerror(mrc));
		return -1;
	}
	store_cache_reset(st);
	/*
	 * No readahead where we write: see store_cache_reset. Read-only
	 * opens (`-n`, verify, backup) keep it: they scan, and write nothing.
	 */
	flags = MDB_NOTLS | (st->st_readonly ? MDB_RDONLY :
	    MDB_NOMETASYNC | MDB_NORDAHEAD);
	/* The audit index: no flushes at all (see index_marks). */
	if (!st->st_readonly && st->st_is_index)
		flags |= MDB_NOSYNC;
	if ((mrc = mdb_env_open(st->st_env, st->st_dir, flags, 0600)) !=
	    MDB_SUCCESS) {
		snprintf(err, errlen, "%s: %s", st->st_dir, mrc == MDB_INVALID ?
		    "data file damaged or not an LMDB environment" :
		    mdb_strerror(mrc));
		return -1;
	}
	if (store_check_size(st->st_env, st->st_dir, st->st_readonly, err,
	    errlen) == -1)
		return -1;
	if ((mrc = mdb_reader_check(st->st_env, &dead)) != MDB_SUCCESS) {
		snprintf(err, errlen, "reader check: %s", mdb_strerror(mrc));
		return -1;
	}
	if (dead > 0)
		log_info("store: %s: cleared %d stale reader slot(s)",
		    st->st_dir, dead);
	st->st_psize = 4096;
	if (mdb_env_stat(st->st_env, &ms) == MDB_SUCCESS && ms.ms_psize > 0)
		st->st_psize = ms.ms_psize;
	return 0;
}

/* The environment of st->st_dir opened and checked, its databases too. */
static int
store_env_start(struct store *st, char *err, size_t errlen)
{
	if (store_check_empty_file(st->st_dir, err, errlen) == -1 ||
	    store_env_open(st, DB_COUNT, err, errlen) == -1)
		return -1;
	return store_open_dbs(st, err, errlen);
}

/*
 * An operator command run as root on the daemon's store must not leave an
 * index the daemon's user cannot open: what it made goes to the owner of
 * the data directory.
 */
static int
index_owner(const char *datadir, const char *dir, char *err, size_t errlen)
{
	static const char *const files[] = { "", "/data.mdb", "/lock.mdb" };
	char path[PATH_MAX];
	struct stat ds, fs;
	size_t i;

	if (geteuid() != 0)
		return 0;
	if (stat(datadir, &ds) == -1) {
		snprintf(err, errlen, "%s: %s", datadir, strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s%s", dir,
		    files[i]) >= sizeof(path) || lstat(path, &fs) == -1)
			continue;
		if ((fs.st_uid != ds.st_uid || fs.st_gid != ds.st_gid) &&
		    lchown(path, ds.st_uid, ds.st_gid) == -1) {
			snprintf(err, errlen, "%s: chown: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * The audit index is written without flushes (MDB_NOSYNC): an index step's
 * commit puts its pages in the page cache, and the indexer flushes the
 * index every few seconds (writer.c, writer_index_flush), so a page that
 * many steps change goes to the disk once per flush, and no step waits for
 * the disk or puts its flushes in the queue before the writer's. Measured
 * (tests/bench/getplan_ab.sh 3 10000, 100,000 households, flushed vs not):
 * closed-loop GetPlan 15.0k/12.9k/18.2k -> 19.5k/19.6k/23.4k/s, the p99 at
 * 10,000/s 7.4/6.8/4.6 -> 4.9/5.5/3.0 ms, MutatePlan 3.0k/3.4k/3.7k ->
 * 3.6k/3.9k/4.0k/s.
 *
 * What that changes: the index is whole after any stop of the daemon
 * (kill -9 included: the page cache keeps every commit, and LMDB writes a
 * commit's meta page after its pages), but after the machine stops (a
 * power cut, a kernel crash) its file may hold a meta page naming pages
 * that never reached the disk. It is derived data, so: a read-write opener
 * first writes and flushes a marker, STORE_INDEX_MARK.<pid>, holding the
 * machine's boot id, and removes it once store_close has flushed the
 * index. At open, a marker of another boot (or one that cannot be read)
 * means the machine stopped while index pages were maybe not on disk: the
 * index's files are removed and the indexer builds it again from the log
 * (queries read the log past what it covers meanwhile); a read-only open
 * does not use it. A marker of this boot whose process is gone (kill -9)
 * left its commits in the page cache: the index is flushed, the marker
 * removed. Markers of running processes of this boot are left alone.
 */
#define MARK_SUSPECT	0x1	/* another boot's, or unreadable */
#define MARK_STALE	0x2	/* this boot's, its process gone */
#define MARK_LIVE	0x4	/* this boot's, its process running */
#define BOOT_ID_PATH	"/proc/sys/kernel/random/boot_id"

/*
 * The machine's boot id, or "" when it cannot be read (then no marker
 * left by a process that is gone can be trusted).
 *
 * Test only (tests/blackbox/crashlib.py): a non-empty EENPLAN_TEST_BOOT_ID
 * in the environment is taken instead, so a daemon opening a power-cut
 * image runs as the first start of a new boot, as after a real cut.
 */
static void
boot_id(char *out, size_t len)
{
	const char *test = getenv("EENPLAN_TEST_BOOT_ID");
	FILE *f;
	size_t n;

	out[0] = '\0';
	if (test != NULL && test[0] != '\0') {
		(void)snprintf(out, len, "%s", test);
		return;
	}
	if ((f = fopen(BOOT_ID_PATH, "re")) == NULL)
		return;
	if (fgets(out, (int)len, f) == NULL)
		out[0] = '\0';
	(void)fclose(f);
	n = strcspn(out, "\n");
	out[n] = '\0';
}

/* What marker name (STORE_INDEX_MARK.<pid>) holds: MARK_*. */
static int
mark_class(const char *dir, const char *name, const char *boot)
{
	char path[PATH_MAX];
	uint64_t pid;

	if (util_parse_u64(name + strlen(STORE_INDEX_MARK) + 1, INT_MAX,
	    &pid) == -1 || pid == 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return MARK_SUSPECT;
	switch (util_mark_class(path, boot, pid)) {
	case UTIL_MARK_OURS:
		/* Ours (or a finished process's of the same pid). */
		return 0;
	case UTIL_MARK_LIVE:
		return MARK_LIVE;
	case UTIL_MARK_GONE:
		return MARK_STALE;
	default:
		return MARK_SUSPECT;
	}
}

/*
 * The markers in dir: the MARK_* classes found, those in drop removed
 * (and the directory flushed if any was); -1 on error (err set).
 */
static int
index_marks(const char *dir, const char *boot, int drop, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	size_t plen = strlen(STORE_INDEX_MARK);
	int found = 0, c, removed = 0;

	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, STORE_INDEX_MARK, plen) != 0 ||
		    de->d_name[plen] != '.')
			continue;
		c = mark_class(dir, de->d_name, boot);
		found |= c;
		if (!(c & drop))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) >= sizeof(path) ||
		    (unlink(path) == -1 && errno != ENOENT)) {
			snprintf(err, errlen, "%s/%s: %s", dir, de->d_name,
			    strerror(errno));
			(void)closedir(d);
			return -1;
		}
		removed = 1;
	}
	(void)closedir(d);
	if (removed && util_fsync_path(dir, 1) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return found;
}

/*
 * Before a read-write open of the index in dir: an index the machine may
 * have lost pages of removed, this process's marker written and flushed.
 * *stale: markers of this boot's finished processes are left (index_open
 * removes them once the opened index is flushed).
 */
static int
index_marks_open(struct store *ix, const char *boot, int *stale, char *err,
    size_t errlen)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
	char path[PATH_MAX];
	size_t i;
	int found, fd, n;

	*stale = 0;
	if ((found = index_marks(ix->st_dir, boot, 0, err, errlen)) == -1)
		return -1;
	/* A running opener of this boot dealt with what it found. */
	if ((found & MARK_SUSPECT) && !(found & MARK_LIVE)) {
		log_warnx("store: %s: the machine stopped while the audit "
		    "index had changes not yet on disk (it is written without "
		    "flushes): removed, built again from the log",
		    ix->st_dir);
		for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			if ((size_t)snprintf(path, sizeof(path), "%s/%s",
			    ix->st_dir, files[i]) >= sizeof(path) ||
			    (unlink(path) == -1 && errno != ENOENT)) {
				snprintf(err, errlen, "%s: %s", path,
				    strerror(errno));
				return -1;
			}
		if (util_fsync_path(ix->st_dir, 1) == -1) {
			snprintf(err, errlen, "%s: %s", ix->st_dir,
			    strerror(errno));
			return -1;
		}
		if (index_marks(ix->st_dir, boot, MARK_SUSPECT | MARK_STALE,
		    err, errlen) == -1)
			return -1;
	} else
		*stale = (found & MARK_STALE) != 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.%ld", ix->st_dir,
	    STORE_INDEX_MARK, (long)getpid()) >= sizeof(path) ||
	    (ix->st_mark = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: path too long", ix->st_dir);
		return -1;
	}
	/* Not secret: readable by an operator command run as another user. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1)
		goto fail;
	n = dprintf(fd, "%s\n", boot);
	if (n < 0 || fdatasync(fd) == -1) {
		(void)close(fd);
		goto fail;
	}
	if (close(fd) == -1 || util_fsync_path(ix->st_dir, 1) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	(void)unlink(path);
	free(ix->st_mark);
	ix->st_mark = NULL;
	return -1;
}

/*
 * The audit index's environment, DATA_DIR/audit-index: a store of its own
 * (log_hh, log_org, meta), no keyring (its entries are CRC-framed ids and
 * sequence numbers, as they were in the store). Written without flushes
 * (index_marks); it only ever names records known durable. A read-only
 * open of a store without one, or of one the machine may have lost pages
 * of, goes on without it (scans read the log).
 */
static int
index_open(struct store *st, char *err, size_t errlen)
{
	static const int dbs[] = { DB_LOG_HH, DB_LOG_ORG, DB_META };
	char dir[PATH_MAX];
	struct store *ix;
	struct stat sb;
	struct stxn tx;
	uint64_t indexed = 0;
	char boot[128];
	size_t i;
	int mrc, rc, found, stale = 0;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", st->st_dir,
	    STORE_INDEX_DIR) >= sizeof(dir)) {
		snprintf(err, errlen, "%s: path too long", st->st_dir);
		return -1;
	}
	boot_id(boot, sizeof(boot));
	if (st->st_readonly) {
		if (stat(dir, &sb) == -1 && errno == ENOENT)
			return 0;
		if ((found = index_marks(dir, boot, 0, err, errlen)) == -1)
			return -1;
		if ((found & MARK_SUSPECT) && !(found & MARK_LIVE)) {
			log_warnx("store: %s: the machine stopped while the "
			    "audit index had changes not yet on disk: not used "
			    "(audit queries read the log; the daemon's next "
			    "start builds it again)", dir);
			return 0;
		}
	} else if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((ix = calloc(1, sizeof(*ix))) == NULL ||
	    (ix->st_dir = strdup(dir)) == NULL) {
		free(ix);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ix->st_is_index = 1;
	ix->st_readonly = st->st_readonly;
	ix->st_map_max = st->st_map_max;
	ix->st_max_readers = st->st_max_readers;
	pthread_mutex_init(&ix->st_keys_mtx, NULL);
	atomic_init(&ix->st_fail_commit, 0);
	atomic_init(&ix->st_fail_child_commit, 0);
	atomic_init(&ix->st_damaged, 0);
	atomic_init(&ix->st_indexed, 0);
	st->st_index = ix;
	if ((!ix->st_readonly && index_marks_open(ix, boot, &stale, err,
	    errlen) == -1) ||
	    store_env_open(ix, 4, err, errlen) == -1 ||
	    (!ix->st_readonly && index_owner(st->st_dir, dir, err, errlen) ==
	    -1))
		return -1;
	/* What finished processes of this boot left: flushed, theirs gone. */
	if (stale && store_sync(ix) == STORE_OK &&
	    index_marks(dir, boot, MARK_STALE, err, errlen) == -1)
		return -1;
	memset(&tx, 0, sizeof(tx));
	tx.sx_store = ix;
	tx.sx_kind = ix->st_readonly ? STXN_READ : STXN_WRITE;
	tx.sx_active = 1;
	if ((mrc = mdb_txn_begin(ix->st_env, NULL, ix->st_readonly ?
	    MDB_RDONLY : 0, &tx.sx_txn)) != MDB_SUCCESS)
		goto mdb_fail;
	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
		if ((mrc = mdb_dbi_open(tx.sx_txn, store_dbs[dbs[i]].sd_name,
		    (ix->st_readonly ? 0 : MDB_CREATE) |
		    store_dbs[dbs[i]].sd_flags, &ix->st_dbi[dbs[i]])) !=
		    MDB_SUCCESS) {
			mdb_txn_abort(tx.sx_txn);
			goto mdb_fail;
		}
	/*
	 * Damaged, it reads as 0 here: store_audit_index_check, next, empties
	 * it (read-write) or leaves it unused (read-only).
	 */
	if ((rc = store_meta_get_u64(&tx, STORE_AUDIT_INDEXED_META,
	    &indexed)) != STORE_OK && rc != STORE_CORRUPT) {
		mdb_txn_abort(tx.sx_txn);
		snprintf(err, errlen, "%s: %s", dir, store_strerror(rc));
		return -1;
	}
	/* Even read-only: an aborted txn would close the handles it opened. */
	if ((mrc = mdb_txn_commit(tx.sx_txn)) != MDB_SUCCESS)
		goto mdb_fail;
	atomic_store(&ix->st_indexed, indexed);
	return 0;
mdb_fail:
	snprintf(err, errlen, "%s: %s", dir, mdb_strerror(mrc));
	return -1;
}

/* ------------------------------------------------------------ the log */

/* Replays one logged change (wal_replay). */
static int
store_wal_apply(void *arg, MDB_txn *txn, int op, unsigned db, MDB_val *k,
    MDB_val *v)
{
	struct store *st = arg;
	MDB_cursor *cur;
	MDB_val ck, cv;
	int mrc;

	if (db >= DB_COUNT || store_dbs[db].sd_index || st->st_dbi[db] == 0)
		return EINVAL;
	switch (op) {
	case WAL_PUT:
		return mdb_put(txn, st->st_dbi[db], k, v, 0);
	case WAL_DEL:
		return mdb_del(txn, st->st_dbi[db], k, NULL);
	case WAL_DEL_PREFIX:
		if ((mrc = mdb_cursor_open(txn, st->st_dbi[db], &cur)) != 0)
			return mrc;
		ck = *k;
		mrc = mdb_cursor_get(cur, &ck, &cv, MDB_SET_RANGE);
		while (mrc == 0 && ck.mv_size >= k->mv_size &&
		    memcmp(ck.mv_data, k->mv_data, k->mv_size) == 0) {
			if ((mrc = mdb_cursor_del(cur, 0)) != 0)
				break;
			mrc = mdb_cursor_get(cur, &ck, &cv, MDB_GET_CURRENT);
		}
		mdb_cursor_close(cur);
		return mrc == MDB_NOTFOUND || mrc == EINVAL ? 0 : mrc;
	}
	return EINVAL;
}

/*
 * Opens the store's environment after what a daemon's log says about it
 * (wal.h): a machine that stopped under a running daemon has its last
 * checkpoint restored and the log replayed; a daemon killed on this boot
 * left every commit in the page cache: flushed. The marker then goes.
 */
static int
store_wal_recover(struct store *st, char *err, size_t errlen)
{
	struct wal_ckpt ck;
	char boot[64];
	uint64_t n = 0;
	int state = WAL_NONE;

	boot_id(boot, sizeof(boot));
	/*
	 * A read-only opener cannot restore the checkpoint, and the file
	 * may name pages that never reached the disk.
	 */
	if (st->st_readonly && wal_state(st->st_dir, boot) == WAL_RECOVER) {
		snprintf(err, errlen, "%s: the machine stopped while the "
		    "daemon ran: the store must first be restored from its "
		    "log (eenpland recover, or start the daemon)", st->st_dir);
		return -1;
	}
	if (!st->st_readonly && wal_prepare(st->st_dir, boot, &state, &ck, err,
	    errlen) == -1)
		return -1;
	if (store_env_start(st, err, errlen) == -1)
		return -1;
	if (state == WAL_RECOVER) {
		if (wal_replay(st->st_dir, st->st_env, &ck, store_wal_apply,
		    st, &n, err, errlen) == -1)
			return -1;
		log_warnx("store: %s: the machine stopped, or a write or "
		    "flush of the store failed, while the daemon ran: restored "
		    "to its checkpoint (txn %llu) and %llu logged "
		    "transaction(s) replayed", st->st_dir,
		    (unsigned long long)ck.ck_txnid, (unsigned long long)n);
	}
	/*
	 * Killed on this boot: the page cache holds every commit, and the
	 * log may hold answered parts of a txn the writer had not committed
	 * yet (audit records of reads; writer.c): applied after the last.
	 */
	if (state == WAL_STALE && ck.ck_run != 0) {
		if (wal_replay_from(st->st_dir, st->st_env, &ck,
		    store_last_txn(st), store_wal_apply, st, &n, err,
		    errlen) == -1)
			return -1;
		if (n > 0)
			log_warnx("store: %s: the daemon was killed with a "
			    "transaction open: its logged part replayed",
			    st->st_dir);
	}
	st->st_wal_found = state;
	st->st_wal_replayed = n;
	if (state == WAL_STALE && store_sync(st) != STORE_OK) {
		snprintf(err, errlen, "%s: not flushed", st->st_dir);
		return -1;
	}
	if ((state == WAL_RECOVER || state == WAL_STALE) &&
	    wal_clear(st->st_dir) == -1) {
		snprintf(err, errlen, "%s/%s: %s", st->st_dir, WAL_MARK,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * 1 when this process writes beside a daemon's log (not the daemon, no
 * log of its own) and the marker says that daemon is gone since, on this
 * boot or after a failure (see store_write_begin).
 */
static int
store_beside_daemon_gone(struct store *st)
{
	char boot[64];
	int state;

	if (st->st_readonly || st->st_daemon || st->st_wal != NULL ||
	    st->st_is_index)
		return 0;
	boot_id(boot, sizeof(boot));
	state = wal_state(st->st_dir, boot);
	return state == WAL_STALE || state == WAL_RECOVER;
}

/*
 * After a commit of this process beside a daemon running with its log:
 * flushed and checkpointed (wal_external_commit) under the write lock.
 */
static void
store_wal_beside(struct store *st)
{
	char boot[64];
	MDB_txn *txn;

	if (st->st_readonly || st->st_daemon)
		return;
	boot_id(boot, sizeof(boot));
	/* Checked again under the write lock (wal_external_commit). */
	if (wal_state(st->st_dir, boot) != WAL_LIVE ||
	    mdb_txn_begin(st->st_env, NULL, 0, &txn) != MDB_SUCCESS)
		return;
	if (wal_external_commit(st->st_dir, st->st_env, boot) == -1)
		log_warnx("store: %s: a commit beside the running daemon "
		    "could not be checkpointed: %s", st->st_dir,
		    strerror(errno));
	mdb_txn_abort(txn);
}

int
store_wal_start(struct store *st, unsigned ckpt_ms, unsigned file_mb,
    char *err, size_t errlen)
{
	char boot[64];

	if (st->st_readonly || st->st_wal != NULL)
		return 0;
	boot_id(boot, sizeof(boot));
	return wal_start(&st->st_wal, st->st_dir, st->st_env, boot, ckpt_ms,
	    file_mb, err, errlen);
}

int
store_wal_found(const struct store *st, uint64_t *replayed)
{
	*replayed = st->st_wal_replayed;
	return st->st_wal_found;
}

int
store_wal_on(const struct store *st)
{
	return st->st_wal != NULL;
}

int
store_open(struct store **out, const struct store_opts *o, char *err,
    size_t errlen)
{
	struct store *st;
	int rc;

	*out = NULL;
	if (o == NULL || o->so_dir == NULL) {
		snprintf(err, errlen, "no store directory");
		return -1;
	}
	if (o->so_kek == NULL) {
		snprintf(err, errlen, "no key file ([store] key)");
		return -1;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->st_keys = keyring_new()) == NULL ||
	    (st->st_dir = strdup(o->so_dir)) == NULL) {
		if (st != NULL)
			keyring_free(st->st_keys);
		free(st);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->st_readonly = o->so_readonly;
	st->st_map_max = o->so_map_max;
	st->st_max_readers = o->so_max_readers;
	st->st_kek = *o->so_kek;
	pthread_mutex_init(&st->st_keys_mtx, NULL);
	pthread_mutex_init(&st->st_wal_mtx, NULL);
	atomic_init(&st->st_keys_gen, 0);
	atomic_init(&st->st_fail_commit, 0);
	atomic_init(&st->st_fail_child_commit, 0);
	atomic_init(&st->st_body_reads, 0);
	atomic_init(&st->st_delta_reads, 0);
	atomic_init(&st->st_keys_acked, 0);
	atomic_init(&st->st_damaged, 0);
	atomic_init(&st->st_flush_failed, 0);
	if (!st->st_readonly && mkdir(o->so_dir, 0700) == -1 &&
	    errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", o->so_dir, strerror(errno));
		goto fail;
	}
	if (store_wal_recover(st, err, errlen) == -1 ||
	    index_open(st, err, errlen) == -1)
		goto fail;
	if ((rc = store_audit_index_check(st)) != STORE_OK) {
		snprintf(err, errlen, "audit index: %s", store_strerror(rc));
		goto fail;
	}
	/*
	 * Copies made before sent_hh existed, indexed once. Not fatal: the
	 * store serves without it, only the retention purge refuses.
	 */
	if (!st->st_readonly && (rc = store_sent_index(st, 0)) != STORE_OK)
		log_warnx("store: indexing the senders' copies of signals by "
		    "household: %s; the retention purge refuses until a later "
		    "start finishes it", store_strerror(rc));
	*out = st;
	return 0;
fail:
	store_close(st->st_index);
	if (st->st_env != NULL)
		mdb_env_close(st->st_env);
	pthread_mutex_destroy(&st->st_wal_mtx);
	pthread_mutex_destroy(&st->st_keys_mtx);
	keyring_free(st->st_keys);
	seal_key_wipe(&st->st_kek);
	free(st->st_dir);
	free(st);
	return -1;
}

/*
 * Replaces the data file by a compacted copy of itself: only live pages,
 * so nothing of what was freed (a migrated store's plaintext) stays in the
 * file. Only with no other process on the environment and no txn open.
 */
int
store_compact(struct store *st, char *err, size_t errlen)
{
	char tmp[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	int mrc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/compact.tmp", st->st_dir) >=
	    sizeof(tmp) ||
	    (size_t)snprintf(from, sizeof(from), "%s/data.mdb", tmp) >=
	    sizeof(from) ||
	    (size_t)snprintf(to, sizeof(to), "%s/data.mdb", st->st_dir) >=
	    sizeof(to)) {
		snprintf(err, errlen, "compact: path too long");
		return -1;
	}
	(void)unlink(from);
	(void)rmdir(tmp);
	if (mkdir(tmp, 0700) == -1) {
		snprintf(err, errlen, "compact: %s: %s", tmp, strerror(errno));
		return -1;
	}
	if ((mrc = mdb_env_copy2(st->st_env, tmp, MDB_CP_COMPACT)) !=
	    MDB_SUCCESS || util_fsync_path(from, 0) == -1) {
		snprintf(err, errlen, "compact: %s", mrc != MDB_SUCCESS ?
		    mdb_strerror(mrc) : strerror(errno));
		(void)unlink(from);
		(void)rmdir(tmp);
		return -1;
	}
	mdb_env_close(st->st_env);
	st->st_env = NULL;
	/* Atomic: a crash leaves the old file or the new one, both whole. */
	if (rename(from, to) == -1 ||
	    util_fsync_path(st->st_dir, 1) == -1) {
		snprintf(err, errlen, "compact: %s: %s", to, strerror(errno));
		return -1;
	}
	(void)rmdir(tmp);
	return store_env_start(st, err, errlen);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_close(st->st_index);
	/* The index's commits on disk: its marker can go (index_marks). */
	if (st->st_mark != NULL && st->st_env != NULL) {
		if (store_sync(st) != STORE_OK)
			log_warnx("store: %s: not flushed: the next start "
			    "builds the audit index again if the machine "
			    "stops first", st->st_dir);
		else if (unlink(st->st_mark) == -1 ||
		    util_fsync_path(st->st_dir, 1) == -1)
			log_warnx("store: %s: %s", st->st_mark,
			    strerror(errno));
	}
	free(st->st_mark);
	if (st->st_wal != NULL) {
		(void)wal_stop(st->st_wal);
		st->st_wal = NULL;
	}
	if (st->st_env != NULL)
		mdb_env_close(st->st_env);
	pthread_mutex_destroy(&st->st_wal_mtx);
	pthread_mutex_destroy(&st->st_keys_mtx);
	keyring_free(st->st_keys);
	seal_key_wipe(&st->st_kek);
	free(st->st_dir);
	free(st);
}

void
store_fail_next_commit(struct store *st, int rc)
{
	atomic_store(&st->st_fail_commit, rc);
}

void
store_fail_next_child_commit(struct store *st, int rc)
{
	atomic_store(&st->st_fail_child_commit, rc);
}

uint64_t
store_child_txns(struct store *st)
{
	return atomic_load(&st->st_child_txns);
}

uint64_t
store_body_reads(struct store *st)
{
	return atomic_load(&st->st_body_reads);
}

uint64_t
store_delta_reads(struct store *st)
{
	return atomic_load(&st->st_delta_reads);
}

/* ------------------------------------------------------- transactions */

struct stxn *
store_reader_new(struct store *st)
{
	struct stxn *tx;

	if ((tx = calloc(1, sizeof(*tx))) == NULL)
		return NULL;
	tx->sx_store = st;
	tx->sx_kind = STXN_READ;
	return tx;
}

int
store_reader_begin(struct stxn *tx)
{
	int mrc;

	if (tx == NULL || tx->sx_kind != STXN_READ || tx->sx_active)
		return STORE_ERR;
	tx->sx_err = STORE_OK;
	/* A file found short: no page of the map may be read again. */
	if (atomic_load(&tx->sx_store->st_damaged))
		return STORE_CORRUPT;
	if (tx->sx_txn == NULL)
		mrc = mdb_txn_begin(tx->sx_store->st_env, NULL, MDB_RDONLY,
		    &tx->sx_txn);
	else
		mrc = mdb_txn_renew(tx->sx_txn);
	/*
	 * Another process grew the map past ours. Only read-only admin
	 * processes (one thread, no other txn live) may adopt its size.
	 */
	if (mrc == MDB_MAP_RESIZED && tx->sx_store->st_readonly &&
	    mdb_env_set_mapsize(tx->sx_store->st_env, 0) == MDB_SUCCESS) {
		if (tx->sx_txn == NULL)
			mrc = mdb_txn_begin(tx->sx_store->st_env, NULL,
			    MDB_RDONLY, &tx->sx_txn);
		else
			mrc = mdb_txn_renew(tx->sx_txn);
	}
	if (mrc != MDB_SUCCESS) {
		log_warnx("store: read txn: %s", mdb_strerror(mrc));
		return store_map_rc(mrc) == STORE_NOTFOUND ? STORE_ERR :
		    store_map_rc(mrc);
	}
	tx->sx_active = 1;
	return STORE_OK;
}

void
store_reader_end(struct stxn *tx)
{
	if (tx == NULL || tx->sx_kind != STXN_READ || !tx->sx_active)
		return;
	mdb_txn_reset(tx->sx_txn);
	tx->sx_active = 0;
}

void
store_reader_free(struct stxn *tx)
{
	if (tx == NULL)
		return;
	if (tx->sx_txn != NULL)
		mdb_txn_abort(tx->sx_txn);
	free(tx);
}

/* Frees tx (its txn ended): its log buffer, the log's lock. */
static void
stxn_release(struct stxn *tx)
{
	walbuf_free(&tx->sx_wal);
	if (tx->sx_wal_locked)
		pthread_mutex_unlock(&tx->sx_store->st_wal_mtx);
	free(tx);
}

static int
store_txn_new(struct store *st, struct stxn *parent, struct stxn **out)
{
	struct stxn *tx;
	int mrc;

	*out = NULL;
	if (st->st_readonly)
		return STORE_READONLY;
	if (atomic_load(&st->st_damaged))
		return STORE_CORRUPT;
	if ((tx = calloc(1, sizeof(*tx))) == NULL)
		return STORE_ERR;
	tx->sx_store = st;
	tx->sx_parent = parent;
	tx->sx_kind = parent != NULL ? STXN_CHILD : STXN_WRITE;
	tx->sx_active = 1;
	if (parent == NULL && st->st_wal != NULL) {
		pthread_mutex_lock(&st->st_wal_mtx);
		tx->sx_wal_locked = 1;
	}
	if ((mrc = mdb_txn_begin(st->st_env, parent ? parent->sx_txn : NULL,
	    0, &tx->sx_txn)) != MDB_SUCCESS) {
		log_warnx("store: %s txn: %s", parent ? "child" : "write",
		    mdb_strerror(mrc));
		stxn_release(tx);
		return store_map_rc(mrc) == STORE_NOTFOUND ? STORE_ERR :
		    store_map_rc(mrc);
	}
	/*
	 * Beside a daemon: one that stopped without closing its log since
	 * this process opened the store (kill -9, or its log failed) may
	 * have logged parts of a txn it never committed, answered; the next
	 * start replays the records after LMDB's last commit, and a commit
	 * here would put that past them (wal.c). Refused, under the write
	 * lock (the daemon holds no open txn while it is ours) until the
	 * store is recovered.
	 */
	if (parent == NULL && store_beside_daemon_gone(st)) {
		log_warnx("store: %s: the daemon stopped without closing its "
		    "log while this process had the store open: nothing is "
		    "written here; run `eenpland recover` (or start the "
		    "daemon), then run this again", st->st_dir);
		mdb_txn_abort(tx->sx_txn);
		stxn_release(tx);
		return STORE_ERR;
	}
	/* Commits of another process (rekey) made durable before ours. */
	if (tx->sx_wal_locked &&
	    wal_foreign(st->st_wal, mdb_txn_id(tx->sx_txn) - 1) == -1) {
		log_warnx("store: %s: a commit of another process could not "
		    "be checkpointed: %s", st->st_dir, strerror(errno));
		mdb_txn_abort(tx->sx_txn);
		stxn_release(tx);
		return STORE_ERR;
	}
	/*
	 * Where the commit's new pages will start (store_commit). Not in
	 * the index, whose commits are not flushed (index_marks): their
	 * pages are still dirty after the commit, and dropping them from
	 * the cache would send them to the disk at once.
	 */
	if (parent == NULL && !st->st_is_index && st->st_wal == NULL)
		tx->sx_next_pgno = store_next_pgno(st);
	if (parent == NULL && !st->st_is_index)
		tx->sx_begin_end = store_meta_end(st);
	*out = tx;
	return STORE_OK;
}

int
store_write_begin(struct store *st, struct stxn **out)
{
	int rc;

	if ((rc = store_txn_new(st, NULL, out)) != STORE_OK)
		return rc;
	/* A rekey in another process may have moved the current data key. */
	if ((rc = store_keyring_refresh(*out)) != STORE_OK) {
		store_abort(*out);
		*out = NULL;
	}
	return rc;
}

int
store_index_write_begin(struct store *st, struct stxn **out)
{
	*out = NULL;
	if (st->st_index == NULL)
		return STORE_READONLY;
	return store_txn_new(st->st_index, NULL, out);
}

int
store_child_begin(struct stxn *parent, struct stxn **child)
{
	int rc;

	*child = NULL;
	if ((rc = stxn_writable(parent)) != STORE_OK)
		return rc;
	atomic_fetch_add(&parent->sx_store->st_child_txns, 1);
	return store_txn_new(parent->sx_store, parent, child);
}

/* lsn NULL: durable when it returns; else see store_commit_unflushed. */
static int
store_commit_lsn(struct stxn *tx, uint64_t *lsn)
{
	struct stxn *parent;
	struct store *store;
	uint64_t bytes, events, ack_gen, next_pgno, now_pgno, txnid = 0, began;
	struct walbuf wb;
	int rc, mrc, locked, other;

	if (tx == NULL)
		return STORE_ERR;
	if (tx->sx_kind == STXN_READ) {
		log_warnx("store: commit of a read txn");
		return STORE_ERR;
	}
	if (tx->sx_err != STORE_OK) {
		rc = tx->sx_err;
		mdb_txn_abort(tx->sx_txn);
		stxn_release(tx);
		return rc;
	}
	/* Nothing written into a file that shrank under us. */
	if (tx->sx_kind == STXN_WRITE &&
	    atomic_load(&tx->sx_store->st_damaged)) {
		mdb_txn_abort(tx->sx_txn);
		stxn_release(tx);
		return STORE_CORRUPT;
	}
	parent = tx->sx_parent;
	next_pgno = tx->sx_next_pgno;
	began = tx->sx_begin_end;
	bytes = tx->sx_bytes;
	events = tx->sx_events;
	other = tx->sx_other;
	ack_gen = tx->sx_ack_gen;
	store = tx->sx_store;
	if (tx->sx_kind == STXN_WRITE &&
	    (rc = atomic_exchange(&tx->sx_store->st_fail_commit, 0)) != 0) {
		mdb_txn_abort(tx->sx_txn);
		stxn_release(tx);
		return rc;
	}
	if (tx->sx_kind == STXN_CHILD &&
	    (rc = atomic_exchange(&tx->sx_store->st_fail_child_commit, 0)) !=
	    0) {
		mdb_txn_abort(tx->sx_txn);
		stxn_release(tx);
		return stxn_fail(parent, rc);
	}
	/* A flush failed: nothing more is committed (the daemon stops). */
	if (tx->sx_kind == STXN_WRITE && store_flush_failed(store)) {
		mdb_txn_abort(tx->sx_txn);
		stxn_release(tx);
		return STORE_ERR;
	}
	if (tx->sx_kind == STXN_WRITE)
		txnid = mdb_txn_id(tx->sx_txn);
	/* A failed commit has freed the txn already, a child's too. */
	mrc = mdb_txn_commit(tx->sx_txn);
	if (mrc == MDB_SUCCESS && parent == NULL)
		store_extend_to_meta(store, began);
	wb = tx->sx_wal;
	memset(&tx->sx_wal, 0, sizeof(tx->sx_wal));
	locked = tx->sx_wal_locked;
	tx->sx_wal_locked = 0;
	stxn_release(tx);
	if (mrc == MDB_SUCCESS && parent != NULL) {
		if (walbuf_merge(&parent->sx_wal, &wb) == -1)
			stxn_fail(parent, STORE_ERR);
	} else if (mrc == MDB_SUCCESS && store->st_wal != NULL &&
	    store_last_txn(store) == txnid && (lsn != NULL ?
	    wal_append(store->st_wal, txnid, &wb, lsn) :
	    wal_commit(store->st_wal, txnid, &wb)) == -1) {
		/* In LMDB, not durable: nobody may be told it is. */
		log_warnx("store: txn %llu committed but not logged: %s",
		    (unsigned long long)txnid, strerror(errno));
		mrc = EIO;
	} else if (mrc == MDB_SUCCESS && parent == NULL &&
	    store->st_wal == NULL && !store->st_is_index)
		store_wal_beside(store);
	walbuf_free(&wb);
	if (locked)
		pthread_mutex_unlock(&store->st_wal_mtx);
	if (mrc != MDB_SUCCESS) {
		log_warnx("store: %s commit: %s", parent != NULL ? "child" :
		    "write", mdb_strerror(mrc));
		if (parent == NULL)
			store_set_flush_failed(store, "commit", mrc);
		if ((rc = store_map_rc(mrc)) == STORE_NOTFOUND)
			rc = STORE_ERR;
		/*
		 * A child's merge can fail half-way (say, out of memory after
		 * its free list went over): the parent may then hold part of
		 * the child. Make the parent refuse further use and its
		 * commit, rather than count on LMDB to have flagged it.
		 */
		if (parent != NULL)
			stxn_fail(parent, rc);
		return rc;
	}
	if (parent != NULL) {
		parent->sx_bytes += bytes;
		parent->sx_events += events;
		parent->sx_other |= other;
		return STORE_OK;
	}
	if (ack_gen > atomic_load(&store->st_keys_acked))
		atomic_store(&store->st_keys_acked, ack_gen);
	/* The pages it added at the end, flushed: see store_cache_reset. */
	if (next_pgno > 0 && (now_pgno = store_next_pgno(store)) > next_pgno)
		store_cache_pages(store, next_pgno, now_pgno - next_pgno);
	return STORE_OK;
}

int
store_commit(struct stxn *tx)
{
	return store_commit_lsn(tx, NULL);
}

int
store_commit_unflushed(struct stxn *tx, uint64_t *lsn)
{
	*lsn = 0;
	return store_commit_lsn(tx, tx != NULL && tx->sx_kind == STXN_WRITE &&
	    tx->sx_store->st_wal != NULL ? lsn : NULL);
}

int
store_room_ok(struct store *st, uint64_t min_bytes)
{
	struct statvfs sv;
	MDB_envinfo info;
	MDB_stat ms;
	uint64_t used, map;

	if (mdb_env_info(st->st_env, &info) != MDB_SUCCESS ||
	    mdb_env_stat(st->st_env, &ms) != MDB_SUCCESS)
		return 0;
	map = (uint64_t)info.me_mapsize;
	used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	if (used > map || map - used < min_bytes)
		return 0;
	if (statvfs(st->st_dir, &sv) == -1)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize >= min_bytes;
}

int
store_txn_only_audit(const struct stxn *tx)
{
	return tx != NULL && tx->sx_kind == STXN_WRITE && !tx->sx_other &&
	    tx->sx_err == STORE_OK && tx->sx_store->st_wal != NULL;
}

/*
 * Logs what the write txn tx changed since its last part, and keeps it
 * open: for a txn that holds only audit records (store_txn_only_audit).
 * The part is durable once store_wal_sync(lsn) returned; a later part or
 * the commit (store_commit_unflushed) logs the rest. A failure is final:
 * the log refuses everything after it and the daemon stops (parts before
 * it may have been answered: the next start replays them).
 */
int
store_commit_part(struct stxn *tx, uint64_t *lsn)
{
	struct store *st;

	*lsn = 0;
	if (!store_txn_only_audit(tx))
		return STORE_ERR;
	st = tx->sx_store;
	if (atomic_load(&st->st_damaged))
		return STORE_CORRUPT;
	if (store_flush_failed(st))
		return STORE_ERR;
	if (tx->sx_wal.wb_len == 0)
		return STORE_OK;
	if (wal_append_part(st->st_wal, mdb_txn_id(tx->sx_txn), &tx->sx_wal,
	    lsn) == -1) {
		log_warnx("store: txn %llu: its part not logged: %s",
		    (unsigned long long)mdb_txn_id(tx->sx_txn),
		    strerror(errno));
		return STORE_ERR;
	}
	tx->sx_wal.wb_len = 0;
	return STORE_OK;
}

/*
 * The writer could not commit a txn whose logged parts were answered:
 * final, as a failed log write is (the next start replays them).
 */
void
store_fail_open_txn(struct store *st)
{
	if (st->st_wal != NULL)
		wal_fail_final(st->st_wal, "a transaction with answered parts "
		    "was not committed");
}

int
store_wal_sync(struct store *st, uint64_t lsn)
{
	if (st->st_wal == NULL || lsn == 0)
		return STORE_OK;
	return wal_sync(st->st_wal, lsn) == 0 ? STORE_OK : STORE_ERR;
}

void
store_abort(struct stxn *tx)
{
	if (tx == NULL)
		return;
	if (tx->sx_txn != NULL)
		mdb_txn_abort(tx->sx_txn);
	if (tx->sx_kind == STXN_READ)
		free(tx);
	else
		stxn_release(tx);
}

int
store_sync(struct store *st)
{
	int mrc;

	/* After a failed flush a sync that succeeds proves nothing. */
	if (atomic_load(&st->st_flush_failed))
		return STORE_ERR;
	if ((mrc = mdb_env_sync(st->st_env, 1)) != MDB_SUCCESS) {
		log_warnx("store: sync: %s", mdb_strerror(mrc));
		store_set_flush_failed(st, "sync", mrc);
		return store_map_rc(mrc) == STORE_NOTFOUND ? STORE_ERR :
		    store_map_rc(mrc);
	}
	return STORE_OK;
}

uint64_t
store_last_txn(struct store *st)
{
	MDB_envinfo info;

	if (mdb_env_info(st->st_env, &info) != MDB_SUCCESS)
		return 0;
	return (uint64_t)info.me_last_txnid;
}

int
store_txn_error(const struct stxn *tx)
{
	return tx == NULL ? STORE_ERR : tx->sx_err;
}

uint64_t
store_txn_bytes(const struct stxn *tx)
{
	return tx == NULL ? 0 : tx->sx_bytes;
}

uint64_t
store_txn_events(const struct stxn *tx)
{
	return tx == NULL ? 0 : tx->sx_events;
}

/* ------------------------------------------------------------- backup */

/* Makes dir (0700) when absent; refuses one that holds anything. */
static int
backup_dir_ready(const char *dir, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int empty = 1;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		snprintf(err, errlen, "backup: %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "backup: %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	if (!empty) {
		snprintf(err, errlen, "backup: %s is not empty: refusing to "
		    "write a backup over anything", dir);
		return -1;
	}
	return 0;
}

int
store_backup(struct store *st, const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int mrc;

	if (dir == NULL ||
	    (size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path)) {
		snprintf(err, errlen, "backup: bad directory");
		return -1;
	}
	if (backup_dir_ready(dir, err, errlen) != 0)
		return -1;
	if ((mrc = mdb_env_copy2(st->st_env, dir, MDB_CP_COMPACT)) !=
	    MDB_SUCCESS) {
		snprintf(err, errlen, "backup to %s: %s", dir,
		    mdb_strerror(mrc));
		return -1;
	}
	/* mdb_env_copy2 does not sync: make the copy durable before saying so. */
	if (util_fsync_path(path, 0) == -1 ||
	    util_fsync_path(dir, 1) == -1) {
		snprintf(err, errlen, "backup: sync %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- rekey */

static const int rekey_dbs[] = {
	DB_HH, DB_BODY, DB_DELTA, DB_SNAP, DB_GRANTS, DB_LOG, DB_FEED,
	DB_CSTATE, DB_SIGNALS, DB_SENT, DB_PEOPLE, DB_ACTORS
};

/* Step 1: a new data key under both KEKs, every other key under newkek too. */
static int
rekey_begin(struct store *st, const struct seal_key *newkek, char *err,
    size_t errlen)
{
	Eenplan__Store__WrappedKey *wk;
	EpsKeyring *kr = NULL;
	struct seal_key dek, k;
	struct stxn *tx;
	size_t i;
	int rc;

	memset(&dek, 0, sizeof(dek));
	if ((rc = store_write_begin(st, &tx)) != STORE_OK) {
		snprintf(err, errlen, "rekey: %s", store_strerror(rc));
		return -1;
	}
	if ((rc = keyring_read(tx, &kr)) != STORE_OK) {
		snprintf(err, errlen, "rekey: keyring: %s", store_strerror(rc));
		goto fail;
	}
	for (i = 0; i < kr->n_keys; i++) {
		if (keyring_unwrap(kr->keys[i], &st->st_kek, &k) != 0)
			continue;
		rc = keyring_wrap(kr->keys[i], &k, newkek);
		seal_key_wipe(&k);
		if (rc != 0)
			goto oom;
	}
	if (seal_key_random(&dek) != 0)
		goto oom;
	if ((wk = keyring_new_entry(kr, &dek, 0)) == NULL ||
	    keyring_wrap(wk, &dek, &st->st_kek) != 0 ||
	    keyring_wrap(wk, &dek, newkek) != 0)
		goto oom;
	kr->rekey_from = kr->current;
	kr->current = dek.sk_id;
	if ((rc = keyring_write(tx, kr)) != STORE_OK) {
		snprintf(err, errlen, "rekey: %s", store_strerror(rc));
		goto fail;
	}
	rc = store_commit(tx);
	tx = NULL;		/* gone either way */
	if (rc != STORE_OK) {
		snprintf(err, errlen, "rekey: %s", store_strerror(rc));
		goto fail;
	}
	if (keyring_add(st->st_keys, &dek) != 0 ||
	    keyring_set_current(st->st_keys, dek.sk_id) != 0) {
		snprintf(err, errlen, "rekey: too many data keys");
		goto fail;
	}
	atomic_store(&st->st_keys_gen, kr->generation);
	log_info("store: rekey: new data key %08x", dek.sk_id);
	seal_key_wipe(&dek);
	eenplan__store__keyring__free_unpacked(kr, NULL);
	return 0;
oom:
	snprintf(err, errlen, "rekey: out of memory or randomness");
fail:
	seal_key_wipe(&dek);
	if (kr != NULL)
		eenplan__store__keyring__free_unpacked(kr, NULL);
	store_abort(tx);
	return -1;
}

/*
 * Re-seals, in one txn, up to batch values of db from *pos on that are not
 * under the current key. pos and poslen hold the key to resume after; *done
 * set when db has no more. Returns the values re-sealed, or -1.
 */
static long
rekey_step(struct store *st, int db, uint8_t *pos, size_t *poslen,
    unsigned batch, int *done)
{
	const struct seal_key *cur = keyring_current(st->st_keys), *old;
	uint8_t ad[32 + STORE_KEY_MAX], *pt = NULL, *nv;
	MDB_cursor *cur_c = NULL;
	struct stxn *tx;
	MDB_val k, v;
	size_t adlen, ptlen, seen = 0;
	long n = 0;
	int mrc;

	*done = 0;
	if (store_write_begin(st, &tx) != STORE_OK)
		return -1;
	if (mdb_cursor_open(tx->sx_txn, st->st_dbi[db], &cur_c) != MDB_SUCCESS)
		goto fail;
	if (*poslen > 0) {
		k.mv_data = pos;
		k.mv_size = *poslen;
		mrc = mdb_cursor_get(cur_c, &k, &v, MDB_SET_RANGE);
		if (mrc == MDB_SUCCESS && k.mv_size == *poslen &&
		    memcmp(k.mv_data, pos, *poslen) == 0)
			mrc = mdb_cursor_get(cur_c, &k, &v, MDB_NEXT);
	} else
		mrc = mdb_cursor_get(cur_c, &k, &v, MDB_FIRST);
	for (; mrc == MDB_SUCCESS && n < (long)batch && seen < 16u * batch;
	    mrc = mdb_cursor_get(cur_c, &k, &v, MDB_NEXT)) {
		seen++;
		memcpy(pos, k.mv_data, k.mv_size);
		*poslen = k.mv_size;
		if (v.mv_size < SEAL_OVERHEAD ||
		    seal_frame_key_id(v.mv_data) == cur->sk_id)
			continue;
		if ((old = keyring_get(st->st_keys,
		    seal_frame_key_id(v.mv_data))) == NULL) {
			store_log_corrupt(db, &k, "rekey: sealed under an "
			    "unknown key");
			goto fail;
		}
		ptlen = v.mv_size - SEAL_OVERHEAD;
		if ((pt = malloc(ptlen + 1)) == NULL ||
		    (nv = malloc(v.mv_size)) == NULL)
			goto fail;
		adlen = store_frame_ad(ad, db, k.mv_data, k.mv_size);
		if (seal_open(old, ad, adlen, v.mv_data, v.mv_size, pt) != 0) {
			free(nv);
			store_log_corrupt(db, &k, "rekey: does not open");
			goto fail;
		}
		if (seal_value(cur, ad, adlen, pt, ptlen, nv) != 0) {
			free(nv);
			goto fail;
		}
		OPENSSL_cleanse(pt, ptlen);
		free(pt);
		pt = NULL;
		v.mv_data = nv;
		/*
		 * The key from our copy, not from the page: a value in
		 * overflow pages is replaced by deleting its node and adding
		 * it again, and on a leaf this txn already changed, deleting
		 * the node moves the bytes k pointed at (the neighbour's key
		 * would be written in its place).
		 */
		k.mv_data = pos;
		mrc = mdb_cursor_put(cur_c, &k, &v, MDB_CURRENT);
		free(nv);
		if (mrc != MDB_SUCCESS) {
			log_warnx("store: rekey: %s", mdb_strerror(mrc));
			goto fail;
		}
		n++;
	}
	if (mrc == MDB_NOTFOUND)
		*done = 1;
	else if (mrc != MDB_SUCCESS)
		goto fail;
	mdb_cursor_close(cur_c);
	if (store_commit(tx) != STORE_OK)
		return -1;
	return n;
fail:
	free(pt);
	if (cur_c != NULL)
		mdb_cursor_close(cur_c);
	store_abort(tx);
	return -1;
}

/* Step 3: only the current data key and the index key, only under newkek. */
static int
rekey_finish(struct store *st, const struct seal_key *newkek, char *err,
    size_t errlen)
{
	EpsKeyring *kr = NULL;
	struct stxn *tx;
	size_t i, j, n;
	int rc;

	if ((rc = store_write_begin(st, &tx)) != STORE_OK ||
	    (rc = keyring_read(tx, &kr)) != STORE_OK) {
		snprintf(err, errlen, "rekey: %s", store_strerror(rc));
		store_abort(tx);
		return -1;
	}
	for (i = 0, n = 0; i < kr->n_keys; i++) {
		Eenplan__Store__WrappedKey *wk = kr->keys[i];
		size_t m = 0;

		if (!wk->index && wk->id != kr->current) {
			protobuf_c_message_free_unpacked(&wk->base, NULL);
			continue;
		}
		for (j = 0; j < wk->n_wraps; j++) {
			if (wk->wraps[j]->kek_id == newkek->sk_id)
				wk->wraps[m++] = wk->wraps[j];
			else
				protobuf_c_message_free_unpacked(
				    &wk->wraps[j]->base, NULL);
		}
		wk->n_wraps = m;
		kr->keys[n++] = wk;
	}
	kr->n_keys = n;
	kr->rekey_from = 0;
	if ((rc = keyring_write(tx, kr)) != STORE_OK)
		store_abort(tx);
	else
		rc = store_commit(tx);
	if (rc != STORE_OK) {
		snprintf(err, errlen, "rekey: %s", store_strerror(rc));
		eenplan__store__keyring__free_unpacked(kr, NULL);
		return -1;
	}
	atomic_store(&st->st_keys_gen, kr->generation);
	eenplan__store__keyring__free_unpacked(kr, NULL);
	return 0;
}

/*
 * A daemon running on the store must hold the new data key before the
 * wraps under the old key file go (it cannot unwrap the new ones): wait for
 * its acknowledgement. No daemon (its pid is gone): nothing to wait for.
 */
static int
rekey_wait_daemon(struct store *st, char *err, size_t errlen)
{
	int64_t end = util_now_us() + REKEY_ACK_WAIT_US;
	uint64_t pid = 0, ack = 0, gen = atomic_load(&st->st_keys_gen);
	struct stxn *tx;
	int rc;

	for (;;) {
		if ((tx = store_reader_new(st)) == NULL)
			return -1;
		if ((rc = store_reader_begin(tx)) == STORE_OK) {
			rc = store_meta_get_u64(tx, "daemon_pid", &pid);
			if (rc == STORE_OK)
				rc = store_meta_get_u64(tx, KEYRING_ACK_META,
				    &ack);
			store_reader_end(tx);
		}
		store_reader_free(tx);
		if (rc != STORE_OK) {
			snprintf(err, errlen, "rekey: %s", store_strerror(rc));
			return -1;
		}
		if (pid == 0 || (pid != (uint64_t)getpid() &&
		    kill((pid_t)pid, 0) == -1 && errno == ESRCH) || ack >= gen)
			return 0;
		if (util_now_us() > end) {
			snprintf(err, errlen, "rekey: the running eenpland (pid "
			    "%llu) did not take the new data key within %lld s; "
			    "nothing was re-encrypted (the store still opens "
			    "with the old key file too); run rekey again",
			    (unsigned long long)pid,
			    (long long)(REKEY_ACK_WAIT_US / 1000000));
			return -1;
		}
		usleep(50000);
	}
}

int
store_rekey(struct store *st, const struct seal_key *newkek, unsigned batch,
    void (*progress)(uint64_t, void *), void *arg, char *err, size_t errlen)
{
	uint8_t pos[STORE_KEY_MAX];
	size_t poslen, i;
	uint64_t total = 0;
	long n;
	int done;

	if (st->st_readonly) {
		snprintf(err, errlen, "rekey: the store is open read-only");
		return -1;
	}
	if (batch == 0)
		batch = 256;
	if (rekey_begin(st, newkek, err, errlen) != 0 ||
	    rekey_wait_daemon(st, err, errlen) != 0)
		return -1;
	for (i = 0; i < sizeof(rekey_dbs) / sizeof(rekey_dbs[0]); i++) {
		poslen = 0;
		do {
			if ((n = rekey_step(st, rekey_dbs[i], pos, &poslen,
			    batch, &done)) < 0) {
				snprintf(err, errlen, "rekey: re-encrypting %s "
				    "failed (run rekey again: it resumes)",
				    store_dbs[rekey_dbs[i]].sd_name);
				return -1;
			}
			total += (uint64_t)n;
			if (progress != NULL)
				progress(total, arg);
		} while (!done);
	}
	return rekey_finish(st, newkek, err, errlen);
}
