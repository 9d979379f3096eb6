/* maint: purge and restore, with the daemon stopped (see maint.h). */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maint.h"
#include "anchor.h"
#include "audit.h"
#include "retention.h"
#include "seal.h"
#include "store.h"
#include "proc.h"
#include "util.h"
#include "wal.h"

#define MAINT_COPY_CHUNK	(1024 * 1024)

/*
 * Takes the daemon's lock on dir (data_dir/eenpland.pid, as proc.c takes
 * it), made with dir when missing. The descriptor, kept open until the
 * process ends; -1 when a daemon holds it (or on error), said on stderr.
 */
static int
maint_lock(const char *dir, const char *what)
{
	char holder[32], err[PATH_MAX + 64];
	int fd;

	if ((fd = proc_try_lock_data_dir(dir, holder, sizeof(holder), err,
	    sizeof(err))) != -1)
		return fd;
	if (holder[0] != '\0')
		fprintf(stderr, "eenpland: %s: a daemon runs on %s (pid %s): "
		    "stop it first (systemctl stop eenpland)\n", what, dir,
		    holder);
	else
		fprintf(stderr, "eenpland: %s: %s\n", what, err);
	return -1;
}

static struct store *
maint_open(const struct config *conf, const char *dir, int readonly,
    char *err, size_t errlen)
{
	struct store_opts so;
	struct seal_key kek;
	struct store *st;
	int rc;

	if (seal_key_load(&kek, conf->c_store_key, conf->c_data_dir, err,
	    errlen) != 0)
		return NULL;
	memset(&so, 0, sizeof(so));
	so.so_dir = dir;
	so.so_map_max = conf->c_map_max;
	so.so_max_readers = 126;
	so.so_readonly = readonly;
	so.so_kek = &kek;
	rc = store_open(&st, &so, err, errlen);
	seal_key_wipe(&kek);
	return rc == STORE_OK ? st : NULL;
}

/* ------------------------------------------------------------- purge */

static void
maint_say(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

static void
purge_usage(void)
{
	fprintf(stderr, "usage: eenpland -f CONFIG purge --closed-before "
	    "YYYY-MM-DD (--dry-run | --apply)\n");
	exit(2);
}

static void
purge_summary(const struct config *conf, const struct retention_opts *o,
    const struct retention_result *r, const char *before)
{
	char cut[16];
	struct tm tm;
	time_t s = (time_t)(retention_add_years(o->ro_now,
	    -(int)conf->c_audit_retention_years) / 1000000);

	if (gmtime_r(&s, &tm) == NULL || strftime(cut, sizeof(cut),
	    "%Y-%m-%d", &tm) == 0)
		(void)snprintf(cut, sizeof(cut), "?");
	printf("households: %llu, closed %llu; closed before %s and past their "
	    "retention (wmo %u, jeugdwet %u years): %llu; kept within their "
	    "retention: %llu\n", (unsigned long long)r->rr_households,
	    (unsigned long long)r->rr_closed, before, conf->c_retention_wmo,
	    conf->c_retention_jeugdwet, (unsigned long long)r->rr_due,
	    (unsigned long long)r->rr_kept);
	if (o->ro_apply)
		printf("removed: %llu households (%llu plan versions, %llu "
		    "grants, %llu signals, %llu sender copies); %llu old feed "
		    "events emptied; %llu ACCESS_ENDED events for partners\n",
		    (unsigned long long)r->rr_purged,
		    (unsigned long long)r->rr_versions,
		    (unsigned long long)r->rr_grants,
		    (unsigned long long)r->rr_signals,
		    (unsigned long long)r->rr_sent,
		    (unsigned long long)r->rr_feed_hidden,
		    (unsigned long long)r->rr_purged);
	else if (r->rr_sent_unknown)
		printf("would remove: %llu households (%llu plan versions, %llu "
		    "grants, %llu signals; sender copies not counted: their "
		    "index is built at the next start of the daemon)\n",
		    (unsigned long long)r->rr_due,
		    (unsigned long long)r->rr_versions,
		    (unsigned long long)r->rr_grants,
		    (unsigned long long)r->rr_signals);
	else
		printf("would remove: %llu households (%llu plan versions, %llu "
		    "grants, %llu signals, %llu sender copies)\n",
		    (unsigned long long)r->rr_due,
		    (unsigned long long)r->rr_versions,
		    (unsigned long long)r->rr_grants,
		    (unsigned long long)r->rr_signals,
		    (unsigned long long)r->rr_sent);
	if (r->rr_audit_due == 0)
		printf("audit records older than %s (%u years): none\n", cut,
		    conf->c_audit_retention_years);
	else
		printf("audit records older than %s (%u years): %llu (%llu..%llu)"
		    "%s\n", cut, conf->c_audit_retention_years,
		    (unsigned long long)r->rr_audit_due,
		    (unsigned long long)r->rr_audit_first,
		    (unsigned long long)r->rr_audit_last,
		    o->ro_apply ? " removed" : " would be removed");
	if (o->ro_apply)
		printf("audit records added for it: %llu\n",
		    (unsigned long long)r->rr_records_added);
}

int
maint_purge(const struct config *conf, int argc, char **argv)
{
	struct retention_opts o;
	struct retention_result r;
	struct audit_head head;
	struct passwd *pw;
	struct store *st;
	const char *before = NULL;
	char err[PATH_MAX + 512], who[128], hf[PATH_MAX], text[ANCHOR_TEXT_MAX];
	int i, apply = -1, lock = -1, rc;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--closed-before") == 0 && i + 1 < argc)
			before = argv[++i];
		else if (strcmp(argv[i], "--dry-run") == 0 && apply == -1)
			apply = 0;
		else if (strcmp(argv[i], "--apply") == 0 && apply == -1)
			apply = 1;
		else
			purge_usage();
	}
	if (before == NULL || apply == -1)
		purge_usage();
	if (util_day_us(before, &o.ro_closed_before) == -1) {
		fprintf(stderr, "eenpland: purge: --closed-before %s: not a "
		    "date (YYYY-MM-DD)\n", before);
		return 2;
	}
	o.ro_now = util_now_us();
	o.ro_apply = apply;
	o.ro_audit = 1;
	o.ro_say = maint_say;
	pw = getpwuid(getuid());
	(void)snprintf(who, sizeof(who), "eenpland purge (uid %u%s%s)",
	    (unsigned)getuid(), pw != NULL ? ", " : "",
	    pw != NULL ? pw->pw_name : "");
	o.ro_operator = who;
	/*
	 * --apply appends audit records: no daemon may run (its writer holds
	 * the chain's head in memory), and none may start meanwhile.
	 */
	if (apply && (lock = maint_lock(conf->c_data_dir, "purge --apply")) ==
	    -1)
		return 1;
	if ((st = maint_open(conf, conf->c_data_dir, !apply, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "eenpland: purge: store %s: %s\n",
		    conf->c_data_dir, err);
		return 1;
	}
	if (store_schema(st) != STORE_SCHEMA_VERSION) {
		fprintf(stderr, "eenpland: purge: the store has schema %llu: "
		    "start the daemon once to migrate it first\n",
		    (unsigned long long)store_schema(st));
		store_close(st);
		return 1;
	}
	rc = retention_run(st, conf, &o, &r, err, sizeof(err));
	purge_summary(conf, &o, &r, before);
	if (rc != 0)
		fprintf(stderr, "eenpland: purge: %s\n", err);
	/* The head moved: the head file follows, once it is on disk. */
	if (apply && r.rr_records_added > 0) {
		err[0] = '\0';
		if (store_sync(st) != STORE_OK || audit_head_of(st, &head) !=
		    STORE_OK || anchor_path(conf, hf, sizeof(hf)) == -1 ||
		    anchor_write(hf, &head, err, sizeof(err)) == -1) {
			if (err[0] == '\0')
				snprintf(err, sizeof(err), "the store's flush "
				    "or head could not be read, or the head "
				    "file's path is too long");
			fprintf(stderr, "eenpland: purge: the audit head file "
			    "was not updated (%s); the daemon accepts the store "
			    "anyway, its head being ahead\n", err);
		} else {
			anchor_format(&head, text, sizeof(text));
			printf("audit head %s\n", text);
		}
	}
	store_close(st);
	if (lock != -1)
		(void)close(lock);
	return rc == 0 ? 0 : 1;
}

/* ----------------------------------------------------------- restore */

/* 1 when dir holds nothing but the daemon's lock file. */
static int
maint_dir_empty(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int empty = 1;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT;
	while (empty && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") !=
		    0 && strcmp(de->d_name, "eenpland.pid") != 0)
			empty = 0;
	(void)closedir(d);
	return empty;
}

/* Copies from to a new file to (0600), durably. 0 or -1 with err. */
static int
maint_copy(const char *from, const char *to, char *err, size_t errlen)
{
	char *buf;
	ssize_t n, w, off;
	int in, out = -1, ret = -1;

	if ((buf = malloc(MAINT_COPY_CHUNK)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", from, strerror(errno));
		goto out;
	}
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		snprintf(err, errlen, "%s: %s", to, strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, MAINT_COPY_CHUNK)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", from, strerror(errno));
			goto out;
		}
		for (off = 0; off < n; off += w) {
			if ((w = write(out, buf + off, (size_t)(n - off))) ==
			    -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				snprintf(err, errlen, "%s: %s", to,
				    strerror(errno));
				goto out;
			}
		}
	}
	if (fsync(out) == -1) {
		snprintf(err, errlen, "%s: %s", to, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (out != -1 && close(out) == -1 && ret == 0) {
		snprintf(err, errlen, "%s: %s", to, strerror(errno));
		ret = -1;
	}
	if (in != -1)
		(void)close(in);
	free(buf);
	return ret;
}

/* The restored store opened with the key, its chain walked. */
static int
maint_restore_check(const struct config *conf, struct audit_head *head,
    uint64_t *records, char *err, size_t errlen)
{
	struct store *st;
	struct stxn *t;
	uint64_t bad = 0;
	char msg[256];
	int rc;

	if ((st = maint_open(conf, conf->c_data_dir, 1, err, errlen)) == NULL)
		return -1;
	if ((t = store_reader_new(st)) == NULL ||
	    store_reader_begin(t) != STORE_OK) {
		store_reader_free(t);
		store_close(st);
		snprintf(err, errlen, "cannot read it");
		return -1;
	}
	rc = audit_verify(t, records, &bad, msg, sizeof(msg));
	if (rc == 0 && audit_head_load(t, head) != STORE_OK) {
		snprintf(msg, sizeof(msg), "its audit head cannot be read");
		rc = -1;
	}
	store_reader_end(t);
	store_reader_free(t);
	store_close(st);
	if (rc != 0) {
		snprintf(err, errlen, "audit chain broken at %llu: %s",
		    (unsigned long long)bad, msg);
		return -1;
	}
	return 0;
}

int
maint_restore(const struct config *conf, const char *backup)
{
	struct audit_head head, file;
	struct stat sb;
	char from[PATH_MAX + 16], tmp[PATH_MAX + 32], to[PATH_MAX + 16];
	char lockmdb[PATH_MAX + 16], hf[PATH_MAX], err[PATH_MAX + 512];
	char text[ANCHOR_TEXT_MAX], ftext[ANCHOR_TEXT_MAX];
	const char *dir = conf->c_data_dir;
	uint64_t records = 0;
	int lock, present;

	if (snprintf(from, sizeof(from), "%s/data.mdb", backup) >=
	    (int)sizeof(from) ||
	    snprintf(tmp, sizeof(tmp), "%s/data.mdb.restore", dir) >=
	    (int)sizeof(tmp) ||
	    snprintf(to, sizeof(to), "%s/data.mdb", dir) >= (int)sizeof(to) ||
	    snprintf(lockmdb, sizeof(lockmdb), "%s/lock.mdb", dir) >=
	    (int)sizeof(lockmdb)) {
		fprintf(stderr, "eenpland: restore: path too long\n");
		return 1;
	}
	err[0] = '\0';
	if (stat(from, &sb) == -1) {
		fprintf(stderr, "eenpland: restore: %s: %s\n", from,
		    strerror(errno));
		return 1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0) {
		fprintf(stderr, "eenpland: restore: %s: not a backup (eenpland "
		    "backup writes a data.mdb)\n", from);
		return 1;
	}
	/* A running daemon first: its store is live, whatever else holds. */
	if ((lock = maint_lock(dir, "restore")) == -1)
		return 1;
	if (!maint_dir_empty(dir)) {
		fprintf(stderr, "eenpland: restore: data_dir %s is not empty: "
		    "a restore never overwrites a store; move it aside (or "
		    "give the config a new data_dir) and run restore again\n",
		    dir);
		(void)close(lock);
		return 1;
	}
	if (maint_copy(from, tmp, err, sizeof(err)) == -1 ||
	    rename(tmp, to) == -1 || util_fsync_path(dir, 1) == -1) {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "%s: %s", to,
			    strerror(errno));
		fprintf(stderr, "eenpland: restore: %s\n", err);
		/* Nothing kept: data_dir stays empty for the next try. */
		(void)unlink(tmp);
		(void)unlink(to);
		(void)close(lock);
		return 1;
	}
	if (maint_restore_check(conf, &head, &records, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "eenpland: restore: the copy of %s does not "
		    "open as this deployment's store: %s; nothing kept\n", from,
		    err);
		(void)unlink(to);
		(void)unlink(lockmdb);
		(void)close(lock);
		return 1;
	}
	anchor_format(&head, text, sizeof(text));
	printf("restored %s into %s: %llu audit records, head %s\n", backup,
	    dir, (unsigned long long)records, text);
	/*
	 * A head file kept elsewhere that is ahead of the backup: starting
	 * on it is a deliberate rollback, which the daemon only takes with
	 * --accept-rollback. A missing one starts at the backup's head.
	 */
	err[0] = '\0';
	if (anchor_path(conf, hf, sizeof(hf)) == 0 &&
	    anchor_read(hf, &file, &present, err, sizeof(err)) >= 0) {
		if (!present) {
			if (anchor_write(hf, &head, err, sizeof(err)) == -1)
				fprintf(stderr, "eenpland: restore: %s\n", err);
		} else if (file.ah_seq > head.ah_seq) {
			anchor_format(&file, ftext, sizeof(ftext));
			printf("the audit head file %s records %s, past this "
			    "backup: the daemon refuses to start on an older "
			    "store until you accept it once: eenpland -f %s "
			    "--accept-rollback\n", hf, ftext, conf->c_path);
		}
	} else
		fprintf(stderr, "eenpland: restore: %s\n", err);
	(void)close(lock);
	return 0;
}

/* ----------------------------------------------------------- recover */

int
maint_recover(const struct config *conf)
{
	struct store *st;
	char err[PATH_MAX + 512];
	uint64_t n;
	int lock;

	if ((lock = maint_lock(conf->c_data_dir, "recover")) == -1)
		return 1;
	if ((st = maint_open(conf, conf->c_data_dir, 0, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "eenpland: recover: store %s: %s\n",
		    conf->c_data_dir, err);
		(void)close(lock);
		return 1;
	}
	switch (store_wal_found(st, &n)) {
	case WAL_RECOVER:
		printf("store %s: the machine had stopped while the daemon "
		    "ran: restored to its checkpoint, %llu logged "
		    "transaction(s) replayed\n", conf->c_data_dir,
		    (unsigned long long)n);
		break;
	case WAL_STALE:
		if (n > 0)
			printf("store %s: its daemon had stopped without "
			    "closing it: the logged part of its open "
			    "transaction replayed, flushed\n",
			    conf->c_data_dir);
		else
			printf("store %s: its daemon had stopped without "
			    "closing it: flushed\n", conf->c_data_dir);
		break;
	default:
		printf("store %s: nothing to recover\n", conf->c_data_dir);
	}
	store_close(st);
	(void)close(lock);
	return 0;
}
