/* anchor: the audit head outside the store (see anchor.h). */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anchor.h"
#include "log.h"
#include "util.h"

int
anchor_path(const struct config *conf, char *buf, size_t len)
{
	int n;

	if (conf->c_audit_head_file[0] != '\0')
		n = snprintf(buf, len, "%s", conf->c_audit_head_file);
	else
		n = snprintf(buf, len, "%s/%s", conf->c_data_dir,
		    ANCHOR_FILE_DEFAULT);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

void
anchor_format(const struct audit_head *h, char *buf, size_t len)
{
	char hex[2 * AUDIT_HASH_LEN + 1];

	util_hex(h->ah_hash, AUDIT_HASH_LEN, hex);
	(void)snprintf(buf, len, "%llu:%s", (unsigned long long)h->ah_seq, hex);
}

int
anchor_parse(const char *s, struct audit_head *h)
{
	char num[24];
	const char *colon, *p;
	size_t n, i;
	uint64_t seq;
	int hi, lo;

	memset(h, 0, sizeof(*h));
	while (*s == ' ' || *s == '\t')
		s++;
	if ((colon = strchr(s, ':')) == NULL ||
	    (n = (size_t)(colon - s)) == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	if (util_parse_u64(num, UINT64_MAX, &seq) == -1)
		return -1;
	p = colon + 1;
	for (i = 0; i < AUDIT_HASH_LEN; i++) {
		if ((hi = util_hexval((unsigned char)p[2 * i])) < 0 ||
		    (lo = util_hexval((unsigned char)p[2 * i + 1])) < 0)
			return -1;
		h->ah_hash[i] = (uint8_t)(hi << 4 | lo);
	}
	for (p += 2 * AUDIT_HASH_LEN; *p == ' ' || *p == '\t' || *p == '\r' ||
	    *p == '\n'; p++)
		;
	if (*p != '\0')
		return -1;
	h->ah_seq = seq;
	return 0;
}

int
anchor_read(const char *path, struct audit_head *h, int *present, char *err,
    size_t errlen)
{
	char buf[ANCHOR_TEXT_MAX + 8];
	struct stat sb;
	ssize_t n;
	int fd;

	*present = 0;
	memset(h, 0, sizeof(*h));
	/* Non-blocking: a FIFO put there must not hold the start up. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "audit head file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		(void)close(fd);
		snprintf(err, errlen, "audit head file %s: not a regular file",
		    path);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n < 0) {
		snprintf(err, errlen, "audit head file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	if (anchor_parse(buf, h) == -1) {
		snprintf(err, errlen, "audit head file %s: not a head "
		    "(SEQ:HASH); damaged?", path);
		return -1;
	}
	*present = 1;
	return 1;
}

static int
anchor_fsync_dir(const char *path)
{
	char dir[PATH_MAX], *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		(void)snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return util_fsync_path(dir, 1);
}

int
anchor_write(const char *path, const struct audit_head *h, char *err,
    size_t errlen)
{
	char tmp[PATH_MAX], text[ANCHOR_TEXT_MAX + 1];
	size_t len;
	ssize_t n;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "audit head file %s: path too long", path);
		return -1;
	}
	anchor_format(h, text, sizeof(text) - 1);
	len = strlen(text);
	text[len++] = '\n';
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		goto fail;
	n = write(fd, text, len);
	if (n != (ssize_t)len || fsync(fd) == -1) {
		if (n >= 0 && n != (ssize_t)len)
			errno = EIO;
		(void)close(fd);
		(void)unlink(tmp);
		goto fail;
	}
	if (close(fd) == -1) {
		(void)unlink(tmp);
		goto fail;
	}
	/* A crash leaves the old file or the new one, both whole. */
	if (rename(tmp, path) == -1) {
		(void)unlink(tmp);
		goto fail;
	}
	if (anchor_fsync_dir(path) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "audit head file %s: %s", path, strerror(errno));
	return -1;
}

int
anchor_compare(struct stxn *t, const struct audit_head *want,
    struct audit_head *store_head, char *msg, size_t msglen)
{
	struct audit_head base;
	EpAuditRecord *r;
	char a[ANCHOR_TEXT_MAX], b[ANCHOR_TEXT_MAX];
	int rc, same;

	msg[0] = '\0';
	if ((rc = audit_head_load(t, store_head)) != STORE_OK ||
	    (rc = audit_base_load(t, &base)) != STORE_OK) {
		snprintf(msg, msglen, "the store's audit head: %s",
		    store_strerror(rc));
		return rc;
	}
	anchor_format(store_head, a, sizeof(a));
	anchor_format(want, b, sizeof(b));
	if (store_head->ah_seq < want->ah_seq) {
		snprintf(msg, msglen, "the store's audit head %s is behind %s",
		    a, b);
		return 1;
	}
	if (want->ah_seq == base.ah_seq) {
		same = memcmp(want->ah_hash, base.ah_hash, AUDIT_HASH_LEN) == 0;
		if (!same)
			snprintf(msg, msglen, "the store's chain (head %s) does "
			    "not pass through %s", a, b);
		return same ? 0 : 2;
	}
	if (want->ah_seq < base.ah_seq) {
		snprintf(msg, msglen, "%s is older than the oldest record the "
		    "store keeps (%llu, after a retention purge): it cannot "
		    "be checked", b, (unsigned long long)base.ah_seq + 1);
		return 3;
	}
	if ((rc = store_audit_get(t, want->ah_seq, &r)) != STORE_OK) {
		snprintf(msg, msglen, "audit record %llu: %s",
		    (unsigned long long)want->ah_seq, rc == STORE_NOTFOUND ?
		    "missing" : store_strerror(rc));
		return rc == STORE_NOTFOUND ? STORE_CORRUPT : rc;
	}
	same = r->hash.len == AUDIT_HASH_LEN &&
	    memcmp(r->hash.data, want->ah_hash, AUDIT_HASH_LEN) == 0;
	audit_record_free(r);
	if (!same) {
		snprintf(msg, msglen, "the store's chain (head %s) does not "
		    "pass through %s: record %llu has another hash", a, b,
		    (unsigned long long)want->ah_seq);
		return 2;
	}
	return 0;
}

/* The store's head through a fresh read txn. */
static int
anchor_store_head(struct store *st, const struct audit_head *want,
    struct audit_head *head, int *cmp, char *msg, size_t msglen)
{
	struct stxn *t;
	int rc;

	if (msglen > 0)
		msg[0] = '\0';
	if ((t = store_reader_new(st)) == NULL)
		return STORE_ERR;
	if ((rc = store_reader_begin(t)) == STORE_OK) {
		if (want != NULL)
			rc = *cmp = anchor_compare(t, want, head, msg, msglen);
		else
			rc = audit_head_load(t, head);
		if (rc > 0)
			rc = STORE_OK;
		store_reader_end(t);
	}
	store_reader_free(t);
	return rc;
}

int
anchor_startup(struct store *st, const char *path, int accept_rollback,
    char *err, size_t errlen)
{
	struct audit_head file, head;
	char msg[512], fa[ANCHOR_TEXT_MAX], sa[ANCHOR_TEXT_MAX];
	int present, rc, cmp = 0;

	if (anchor_read(path, &file, &present, err, errlen) == -1) {
		if (!accept_rollback)
			return -1;
		log_kv(LOGL_WARN, "audit head file unreadable: rewritten "
		    "(--accept-rollback)", "error=%s", log_q(err));
		present = 0;
	}
	if ((rc = anchor_store_head(st, present ? &file : NULL, &head, &cmp,
	    msg, sizeof(msg))) != STORE_OK) {
		snprintf(err, errlen, "audit head: %s", msg[0] ? msg :
		    store_strerror(rc));
		return -1;
	}
	anchor_format(&head, sa, sizeof(sa));
	if (present) {
		anchor_format(&file, fa, sizeof(fa));
		if ((cmp == 1 || cmp == 2) && !accept_rollback) {
			snprintf(err, errlen, "%s (store %s, head file %s: %s). "
			    "The store was rolled back or replaced by an older "
			    "copy: acknowledged records are missing. Put the "
			    "newest data back, or start once with "
			    "--accept-rollback to accept this store as it is",
			    cmp == 1 ? "the store's audit head is behind the "
			    "head file" : "the store's audit chain does not "
			    "pass through the head file's head", sa, path, fa);
			return -1;
		}
		if (cmp == 1 || cmp == 2)
			log_kv(LOGL_WARN, "store rolled back: accepted "
			    "(--accept-rollback)", "store_head=%s file_head=%s "
			    "head_file=%s", sa, fa, log_q(path));
		else if (cmp == 3)
			log_kv(LOGL_WARN, "audit head file older than the "
			    "records kept: not checked", "store_head=%s "
			    "file_head=%s", sa, fa);
		else if (file.ah_seq == head.ah_seq)
			return 0;	/* nothing to write */
	} else if (head.ah_seq > 0)
		log_kv(LOGL_WARN, "no audit head file: starting one",
		    "head_file=%s store_head=%s", log_q(path), sa);
	if (anchor_write(path, &head, err, errlen) == -1)
		return -1;
	return 0;
}

/* ------------------------------------------------------------- thread */

struct anchor {
	struct store		*an_store;
	char			 an_path[PATH_MAX];
	pthread_t		 an_thread;
	pthread_mutex_t		 an_mtx;
	pthread_cond_t		 an_cond;
	struct audit_head	 an_latest;	/* committed (under an_mtx) */
	struct audit_head	 an_written;	/* in the file (anchor thread) */
	int			 an_stopping;	/* under an_mtx */
	int			 an_idle;	/* under an_mtx: waiting for a new
						   head (only then is it woken) */
	uint64_t		 an_wakeups;	/* under an_mtx: for tests */
	int			 an_failed;	/* the last write failed: said once */
};

/*
 * Writes the head the writer committed last, once it is durable: the
 * store is flushed first. The writer answers a batch only after its own
 * flush, and that flush is what makes this head durable too; but the
 * anchor does not lean on how the writer batches: an extra flush at most
 * once a second, on this thread, costs the hot path nothing.
 *
 * A head file that lags the store by a batch or a second is safe: start-up
 * refuses only a store whose head is behind the file's, so a lagging file
 * can never refuse a good store; it only lets a rollback of that last
 * second pass unnoticed (the log line of the head, and `audit verify
 * --expect`, still see it). A file ahead of the store is what must never
 * happen — it would refuse a good store after a power cut — hence the
 * flush before the write.
 */
static void
anchor_flush(struct anchor *an, const struct audit_head *h, int stopping)
{
	char err[PATH_MAX + 128], text[ANCHOR_TEXT_MAX];
	int rc;

	if (h->ah_seq == an->an_written.ah_seq &&
	    memcmp(h->ah_hash, an->an_written.ah_hash, AUDIT_HASH_LEN) == 0) {
		/* Unchanged: at stop it is still said where the chain ends. */
		if (stopping) {
			anchor_format(h, text, sizeof(text));
			log_kv(LOGL_INFO, "audit head", "seq=%llu head=%s",
			    (unsigned long long)h->ah_seq, text);
		}
		return;
	}
	/* A file that shrank under us names no head worth keeping. */
	if (store_damaged(an->an_store))
		return;
	if ((rc = store_sync(an->an_store)) != STORE_OK) {
		if (!an->an_failed)
			log_kv(LOGL_WARN, "audit head not written: store flush "
			    "failed", "error=%s", log_q(store_strerror(rc)));
		an->an_failed = 1;
		return;
	}
	if (anchor_write(an->an_path, h, err, sizeof(err)) == -1) {
		if (!an->an_failed)
			log_kv(LOGL_WARN, "audit head not written", "error=%s",
			    log_q(err));
		an->an_failed = 1;
		return;
	}
	if (an->an_failed)
		log_kv(LOGL_INFO, "audit head file written again", "path=%s",
		    log_q(an->an_path));
	an->an_failed = 0;
	an->an_written = *h;
	anchor_format(h, text, sizeof(text));
	log_kv(LOGL_INFO, "audit head", "seq=%llu head=%s",
	    (unsigned long long)h->ah_seq, text);
}

static void *
anchor_main(void *arg)
{
	struct anchor *an = arg;
	struct audit_head h;
	struct timespec ts;
	int stopping;

	pthread_mutex_lock(&an->an_mtx);
	for (;;) {
		an->an_idle = 1;
		while (!an->an_stopping && an->an_latest.ah_seq ==
		    an->an_written.ah_seq) {
			pthread_cond_wait(&an->an_cond, &an->an_mtx);
			an->an_wakeups++;
		}
		an->an_idle = 0;
		h = an->an_latest;
		stopping = an->an_stopping;
		pthread_mutex_unlock(&an->an_mtx);
		anchor_flush(an, &h, stopping);
		if (stopping)
			break;
		/*
		 * At most one write a second, however many batches commit;
		 * and no wake-up per commit meanwhile (anchor_committed
		 * signals only an idle thread): only a stop ends the wait.
		 */
		util_deadline_ms(&ts, ANCHOR_INTERVAL_US / 1000);
		pthread_mutex_lock(&an->an_mtx);
		while (!an->an_stopping && pthread_cond_timedwait(&an->an_cond,
		    &an->an_mtx, &ts) == 0)
			an->an_wakeups++;
	}
	return NULL;
}

struct anchor *
anchor_start(struct store *st, const char *path, char *err, size_t errlen)
{
	struct anchor *an;
	char msg[256];
	int rc, cmp;

	if ((an = calloc(1, sizeof(*an))) == NULL) {
		snprintf(err, errlen, "anchor: out of memory");
		return NULL;
	}
	an->an_store = st;
	if (snprintf(an->an_path, sizeof(an->an_path), "%s", path) >=
	    (int)sizeof(an->an_path)) {
		snprintf(err, errlen, "anchor: path too long");
		free(an);
		return NULL;
	}
	/* The file holds the store's head now (anchor_startup wrote it). */
	if ((rc = anchor_store_head(st, NULL, &an->an_written, &cmp, msg,
	    sizeof(msg))) != STORE_OK) {
		snprintf(err, errlen, "anchor: %s", store_strerror(rc));
		free(an);
		return NULL;
	}
	an->an_latest = an->an_written;
	pthread_mutex_init(&an->an_mtx, NULL);
	if ((rc = util_cond_init(&an->an_cond)) != 0) {
		snprintf(err, errlen, "anchor: condition: %s", strerror(rc));
		pthread_mutex_destroy(&an->an_mtx);
		free(an);
		return NULL;
	}
	if ((rc = pthread_create(&an->an_thread, NULL, anchor_main, an)) != 0) {
		snprintf(err, errlen, "anchor: thread: %s", strerror(rc));
		pthread_cond_destroy(&an->an_cond);
		pthread_mutex_destroy(&an->an_mtx);
		free(an);
		return NULL;
	}
	util_thread_name(an->an_thread, "anchor");
	return an;
}

void
anchor_committed(const struct audit_head *h, void *arg)
{
	struct anchor *an = arg;

	if (an == NULL)
		return;
	pthread_mutex_lock(&an->an_mtx);
	if (h->ah_seq != an->an_latest.ah_seq) {
		an->an_latest = *h;
		/*
		 * Busy, or in its interval: it takes the latest head when
		 * it comes back, and the writer pays no wake-up for it.
		 */
		if (an->an_idle)
			pthread_cond_signal(&an->an_cond);
	}
	pthread_mutex_unlock(&an->an_mtx);
}

uint64_t
anchor_wakeups(struct anchor *an)
{
	uint64_t n;

	pthread_mutex_lock(&an->an_mtx);
	n = an->an_wakeups;
	pthread_mutex_unlock(&an->an_mtx);
	return n;
}

/* After the writer has stopped: the last head is written and logged. */
void
anchor_stop(struct anchor *an)
{
	if (an == NULL)
		return;
	pthread_mutex_lock(&an->an_mtx);
	an->an_stopping = 1;
	pthread_cond_signal(&an->an_cond);
	pthread_mutex_unlock(&an->an_mtx);
	pthread_join(an->an_thread, NULL);
	pthread_cond_destroy(&an->an_cond);
	pthread_mutex_destroy(&an->an_mtx);
	free(an);
}
