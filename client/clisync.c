/* clisync: watch, changes --follow and the sync mirror (see clisync.h). */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cliconn.h"
#include "cliout.h"
#include "clireq.h"
#include "clirun.h"
#include "clisync.h"
#include "clival.h"
#include "eenplan_sync.h"
#include "pbjson.h"

#define MIRROR_CURSOR_MAX	32	/* bytes of the cursor file */
#define ONCE_MAX_FAILURES	5	/* --once: attempts in a row, then exit 3 */

static volatile sig_atomic_t clisync_stop;

static void
clisync_on_signal(int sig)
{
	(void)sig;
	clisync_stop = 1;
}

/* SIGINT and SIGTERM end the run after the event at hand. */
static void
clisync_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = clisync_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void
clisync_log(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "eenplan: ");
	cliout_text(stderr, msg, " ");
	fputc('\n', stderr);
}

/*
 * The follower's options: the connection settings again (for reconnecting)
 * and the one cl already made. EXIT_DONE, or EXIT_USAGE (told).
 */
static int
clisync_opts(struct ep_client *cl, const struct cliopt *o, struct cliconn *c,
    struct ep_sync_opts *so)
{
	char err[512];

	memset(so, 0, sizeof(*so));
	if (cliconn_settle(o, c, err, sizeof(err)) == -1) {
		fprintf(stderr, "eenplan: %s\n", err);
		ep_client_close(cl);
		return EXIT_USAGE;
	}
	so->so_host = c->c_host;
	so->so_port = c->c_port;
	so->so_cert = c->c_cert;
	so->so_key = c->c_key;
	so->so_ca = c->c_ca;
	so->so_client = cl;
	so->so_stop = &clisync_stop;
	so->so_log = clisync_log;
	return EXIT_DONE;
}

/* ep_sync_run's value as an exit status; its error told on stderr. */
static int
clisync_exit(int rc, const char *err)
{
	if (rc == 0)
		return EXIT_DONE;
	if (rc == -1 || rc == EP_SYNC_REFUSED) {
		fprintf(stderr, "eenplan: ");
		cliout_text(stderr, err, " ");
		fputc('\n', stderr);
		return rc == -1 ? EXIT_CONN : EXIT_REFUSED;
	}
	return rc;
}

/* ------------------------------------------------------------ watch */

struct watch {
	const struct cliopt	*w_o;
	int			 w_oneline;	/* changes --follow */
};

static int
watch_event(struct ep_client *cl, const EpChangeEvent *ev, uint64_t cursor,
    void *arg)
{
	struct watch *w = arg;
	json_t *j;

	(void)cl;
	(void)cursor;
	if (ev == NULL)
		return 0;
	if (w->w_o->o_json) {
		if ((j = pbjson_message(&ev->base)) == NULL)
			return clirun_oom();
		if (json_dumpf(j, stdout, JSON_COMPACT) == 0)
			fputc('\n', stdout);
		json_decref(j);
	} else if (w->w_oneline)
		cliout_event(stdout, ev);
	else
		cliout_event_detail(stdout, ev);
	/* A reader that went away (a closed pipe) ends the watch. */
	if (fflush(stdout) == EOF || ferror(stdout))
		return EXIT_REFUSED;
	return 0;
}

static int
watch_skip(struct ep_client *cl, const EpChangeEvent *ev, uint64_t cursor,
    void *arg)
{
	(void)cl;
	(void)ev;
	(void)cursor;
	(void)arg;
	return 0;
}

static int
watch_run(struct ep_client *cl, struct cliopt *o, int oneline, int from_end)
{
	struct ep_sync_opts so;
	struct cliconn c;
	struct watch w;
	uint64_t cursor = o->o_since;
	char err[512];
	int rc;

	if ((rc = clisync_opts(cl, o, &c, &so)) != EXIT_DONE)
		return rc;
	clisync_signals();
	w.w_o = o;
	w.w_oneline = oneline;
	if (from_end) {
		/* Live events only: read past what is there, showing nothing. */
		so.so_once = 1;
		so.so_max_failures = ONCE_MAX_FAILURES;
		rc = ep_sync_run(&so, watch_skip, NULL, &cursor, err,
		    sizeof(err));
		so.so_client = NULL;
		so.so_once = 0;
		so.so_max_failures = 0;
		if (rc != 0 || clisync_stop)
			goto out;
	}
	if (!o->o_json)
		fprintf(stderr, "eenplan: following the change feed after "
		    "seq %llu (Ctrl-C stops)\n", (unsigned long long)cursor);
	so.so_since = cursor;
	rc = ep_sync_run(&so, watch_event, &w, &cursor, err, sizeof(err));
out:
	cliconn_free(&c);
	return clisync_exit(rc, err);
}

int
clisync_watch(struct ep_client *cl, struct cliopt *o)
{
	return watch_run(cl, o, 0, (o->o_given & CLIOPT_BIT(OPT_SINCE)) == 0);
}

int
clisync_follow(struct ep_client *cl, struct cliopt *o)
{
	return watch_run(cl, o, 1, 0);
}

/* ------------------------------------------------------------ mirror */

/* The version of each household's file, as far as this run knows it. */
struct mirror_ver {
	char		 mv_hh[CLIVAL_HH_LEN + 1];
	uint64_t	 mv_version;	/* 0: no file */
};

struct mirror {
	const struct cliopt	*m_o;
	const char		*m_dir;
	int			 m_dirfd;
	int			 m_lockfd;
	uint64_t		 m_cursor;	/* the one on disk */
	struct mirror_ver	*m_vers;
	size_t			 m_nvers;
	size_t			 m_cap;		/* a power of two */
	size_t			 m_written;
	size_t			 m_removed;
};

static size_t
mirror_hash(const char *hh)
{
	size_t h = 5381;

	while (*hh != '\0')
		h = h * 33 + (unsigned char)*hh++;
	return h;
}

static struct mirror_ver *
mirror_slot(struct mirror *m, const char *hh)
{
	size_t i;

	for (i = mirror_hash(hh) & (m->m_cap - 1);
	    m->m_vers[i].mv_hh[0] != '\0'; i = (i + 1) & (m->m_cap - 1))
		if (strcmp(m->m_vers[i].mv_hh, hh) == 0)
			break;
	return &m->m_vers[i];
}

/* Remembers hh's file version; -1 out of memory. */
static int
mirror_remember(struct mirror *m, const char *hh, uint64_t version)
{
	struct mirror_ver *old = m->m_vers, *mv;
	size_t i, cap = m->m_cap;

	if (m->m_cap == 0 || (m->m_nvers + 1) * 2 > m->m_cap) {
		m->m_cap = cap ? cap * 2 : 64;
		if ((m->m_vers = calloc(m->m_cap, sizeof(*mv))) == NULL) {
			m->m_vers = old;
			m->m_cap = cap;
			return -1;
		}
		m->m_nvers = 0;
		for (i = 0; i < cap; i++)
			if (old[i].mv_hh[0] != '\0') {
				*mirror_slot(m, old[i].mv_hh) = old[i];
				m->m_nvers++;
			}
		free(old);
	}
	mv = mirror_slot(m, hh);
	if (mv->mv_hh[0] == '\0') {
		memcpy(mv->mv_hh, hh, sizeof(mv->mv_hh));
		m->m_nvers++;
	}
	mv->mv_version = version;
	return 0;
}

/* The plan version in hh's file (0: none), read once per run. */
static uint64_t
mirror_version(struct mirror *m, const char *hh)
{
	char name[CLIVAL_HH_LEN + 8];
	json_t *doc, *v;
	uint64_t version = 0;
	FILE *f;
	int fd;

	if (m->m_cap > 0 && mirror_slot(m, hh)->mv_hh[0] != '\0')
		return mirror_slot(m, hh)->mv_version;
	snprintf(name, sizeof(name), "%s.json", hh);
	if ((fd = openat(m->m_dirfd, name, O_RDONLY | O_CLOEXEC)) != -1) {
		if ((f = fdopen(fd, "r")) == NULL)
			close(fd);
		else {
			doc = json_loadf(f, 0, NULL);
			fclose(f);
			v = json_object_get(json_object_get(doc, "plan"),
			    "version");
			if (json_is_integer(v) && json_integer_value(v) > 0)
				version = (uint64_t)json_integer_value(v);
			json_decref(doc);
		}
	}
	(void)mirror_remember(m, hh, version);	/* a miss only costs a read */
	return version;
}

/*
 * Writes data as DIR/name: a private temp file, fsync, rename over name,
 * fsync of the directory — after a crash there is the old file or the new
 * one, never half of one. 0, or -1 (told).
 */
static int
mirror_put(struct mirror *m, const char *name, const char *data, size_t len)
{
	char *tmp = NULL;
	size_t off = 0;
	ssize_t w;
	int fd = -1;

	if (asprintf(&tmp, "%s/" CLISYNC_TMP "%s.XXXXXX", m->m_dir, name) ==
	    -1) {
		tmp = NULL;
		goto fail;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		goto fail;
	while (off < len) {
		if ((w = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(AT_FDCWD, tmp, m->m_dirfd, name) == -1 ||
	    fsync(m->m_dirfd) == -1)
		goto fail;
	free(tmp);
	return 0;
fail:
	fprintf(stderr, "eenplan: cannot write %s/%s: %s\n", m->m_dir, name,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	return -1;
}

/* Removes hh's file if there is one; 1 removed, 0 none, -1 (told). */
static int
mirror_unlink(struct mirror *m, const char *hh)
{
	char name[CLIVAL_HH_LEN + 8];

	snprintf(name, sizeof(name), "%s.json", hh);
	if (mirror_remember(m, hh, 0) == -1) {
		clirun_oom();
		return -1;
	}
	if (unlinkat(m->m_dirfd, name, 0) == -1) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "eenplan: cannot remove %s/%s: %s\n",
		    m->m_dir, name, strerror(errno));
		return -1;
	}
	if (fsync(m->m_dirfd) == -1) {
		fprintf(stderr, "eenplan: cannot sync %s: %s\n", m->m_dir,
		    strerror(errno));
		return -1;
	}
	m->m_removed++;
	return 1;
}

/* Tells what the mirror did with a household's file. */
static void
mirror_said(const struct mirror *m, const EpChangeEvent *ev,
    const char *action, uint64_t version, const char *why)
{
	json_t *j;

	if (m->m_o->o_json) {
		j = json_pack("{s:I, s:s, s:s, s:s}", "seq", (json_int_t)ev->seq,
		    "household_id", ev->household_id, "action", action,
		    "reason", why);
		if (j != NULL && version != 0)
			json_object_set_new(j, "version",
			    json_integer((json_int_t)version));
		if (j != NULL && json_dumpf(j, stdout, JSON_COMPACT) == 0)
			fputc('\n', stdout);
		json_decref(j);
	} else if (version != 0)
		printf("#%llu %s.json %s (version %llu): %s\n",
		    (unsigned long long)ev->seq, ev->household_id, action,
		    (unsigned long long)version, why);
	else
		printf("#%llu %s.json %s: %s\n", (unsigned long long)ev->seq,
		    ev->household_id, action, why);
	fflush(stdout);
}

/* The answer to GetPlan as `plan show --json` prints it, into the file. */
static int
mirror_write_plan(struct mirror *m, const char *hh, const EpResponse *resp)
{
	char name[CLIVAL_HH_LEN + 8];
	char *text = NULL, *line = NULL;
	json_t *j;
	int rc = -1;

	if ((j = pbjson_message(&resp->get_plan->base)) == NULL ||
	    (text = json_dumps(j, JSON_INDENT(2))) == NULL ||
	    asprintf(&line, "%s\n", text) == -1) {
		line = NULL;
		clirun_oom();
		goto out;
	}
	snprintf(name, sizeof(name), "%s.json", hh);
	if ((rc = mirror_put(m, name, line, strlen(line))) == 0)
		m->m_written++;
out:
	json_decref(j);
	free(text);
	free(line);
	return rc;
}

/*
 * Fetches hh's plan and writes it, or removes its file when the reader may
 * not read it (any more). 0, EP_SYNC_RETRY, or an exit status.
 */
static int
mirror_fetch(struct mirror *m, struct ep_client *cl, const EpChangeEvent *ev)
{
	char hh[CLIVAL_HH_LEN + 1], err[512];
	struct clireq r;
	EpResponse *resp = NULL;
	uint64_t version;
	int code, rc;

	memcpy(hh, ev->household_id, sizeof(hh));
	clireq_plan_version(&r, hh, 0);
	if (ep_client_call(cl, &r.r_req, &resp, err, sizeof(err)) == -1) {
		clisync_log(NULL, err);
		return EP_SYNC_RETRY;
	}
	code = ep_client_status(resp);
	if (code == EENPLAN__V1__CODE__PERMISSION_DENIED) {
		ep_client_response_free(cl, resp);
		if ((rc = mirror_unlink(m, hh)) == -1)
			return EXIT_REFUSED;
		if (rc == 1)
			mirror_said(m, ev, "removed", 0, "no access");
		return 0;
	}
	if (code != EENPLAN__V1__CODE__OK) {
		fprintf(stderr, "eenplan: GetPlan %s: %s: ", hh,
		    wire_code_name(code));
		cliout_text(stderr, ep_client_status_message(resp), " ");
		fputc('\n', stderr);
		ep_client_response_free(cl, resp);
		return ep_sync_retryable(code) ? EP_SYNC_RETRY : EXIT_REFUSED;
	}
	if (resp->body_case != EENPLAN__V1__RESPONSE__BODY_GET_PLAN ||
	    resp->get_plan == NULL || resp->get_plan->plan == NULL) {
		ep_client_response_free(cl, resp);
		return clirun_protocol_error("GetPlan answered with another "
		    "message");
	}
	version = resp->get_plan->plan->version;
	rc = mirror_write_plan(m, hh, resp);
	ep_client_response_free(cl, resp);
	if (rc == -1)
		return EXIT_REFUSED;
	if (mirror_remember(m, hh, version) == -1)
		return clirun_oom();
	mirror_said(m, ev, "written", version, "changed");
	return 0;
}

/* Writes the cursor (after the files it covers are on disk). */
static int
mirror_cursor(struct mirror *m, uint64_t cursor)
{
	char buf[MIRROR_CURSOR_MAX];
	int n;

	if (cursor == m->m_cursor)
		return 0;
	n = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)cursor);
	if (mirror_put(m, CLISYNC_CURSOR, buf, (size_t)n) == -1)
		return EXIT_REFUSED;
	m->m_cursor = cursor;
	return 0;
}

/* A change whose version the file already holds needs no new fetch. */
static int
mirror_is_current(struct mirror *m, const EpChangeEvent *ev)
{
	switch (ev->kind) {
	case KIND(CREATED):
	case KIND(PLAN):
	case KIND(ESCALATED):
	case KIND(CLOSED):
	case KIND(REGIE):
		return ev->version != 0 &&
		    mirror_version(m, ev->household_id) >= ev->version;
	default:
		/* Consent, signals: the same version, other content. */
		return 0;
	}
}

static int
mirror_event(struct ep_client *cl, const EpChangeEvent *ev, uint64_t cursor,
    void *arg)
{
	struct mirror *m = arg;
	char hh[CLIVAL_HH_LEN + 1];
	int rc;

	if (ev != NULL) {
		/* The id names a file: only a well-formed one will do. */
		if (ev->household_id == NULL ||
		    clival_household_id(ev->household_id, hh) == -1 ||
		    strcmp(hh, ev->household_id) != 0)
			return clirun_protocol_error("an event without a "
			    "proper household id");
		if (ev->kind == KIND(ACCESS_ENDED)) {
			if ((rc = mirror_unlink(m, hh)) == -1)
				return EXIT_REFUSED;
			if (rc == 1)
				mirror_said(m, ev, "removed", 0,
				    "access ended");
		} else if (!mirror_is_current(m, ev) &&
		    (rc = mirror_fetch(m, cl, ev)) != 0)
			return rc;
	}
	return mirror_cursor(m, cursor);
}

/* Leftovers of a run that was killed while writing. */
static int
mirror_clean(struct mirror *m)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = dup(m->m_dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, CLISYNC_TMP, strlen(CLISYNC_TMP)) == 0 &&
		    unlinkat(m->m_dirfd, de->d_name, 0) == -1 &&
		    errno != ENOENT) {
			closedir(d);
			return -1;
		}
	closedir(d);
	return 0;
}

static int
mirror_read_cursor(struct mirror *m)
{
	char buf[MIRROR_CURSOR_MAX + 1];
	ssize_t n;
	int fd;

	m->m_cursor = 0;
	if ((fd = openat(m->m_dirfd, CLISYNC_CURSOR, O_RDONLY | O_CLOEXEC)) ==
	    -1)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || buf[n - 1] != '\n') {
		errno = EINVAL;
		return -1;
	}
	buf[n - 1] = '\0';
	if (clival_number(buf, 0, INT64_MAX, &m->m_cursor) == -1) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* DIR made (mode 700) if need be, locked, cleaned, its cursor read. */
static int
mirror_open(struct mirror *m, const char *dir)
{
	const char *what;

	m->m_dir = dir;
	m->m_dirfd = m->m_lockfd = -1;
	what = "create";
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		goto fail;
	what = "open";
	if ((m->m_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (m->m_lockfd = openat(m->m_dirfd, CLISYNC_LOCK,
	    O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		goto fail;
	if (flock(m->m_lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			fprintf(stderr, "eenplan: %s is in use by another "
			    "eenplan sync\n", dir);
			return -1;
		}
		what = "lock";
		goto fail;
	}
	what = "clean";
	if (mirror_clean(m) == -1)
		goto fail;
	if (mirror_read_cursor(m) == -1) {
		fprintf(stderr, "eenplan: %s/%s: %s (a number and a newline "
		    "expected)\n", dir, CLISYNC_CURSOR, strerror(errno));
		return -1;
	}
	return 0;
fail:
	fprintf(stderr, "eenplan: cannot %s %s: %s\n", what, dir,
	    strerror(errno));
	return -1;
}

static void
mirror_close(struct mirror *m)
{
	if (m->m_lockfd != -1)
		close(m->m_lockfd);
	if (m->m_dirfd != -1)
		close(m->m_dirfd);
	free(m->m_vers);
}

int
clisync_mirror(struct ep_client *cl, struct cliopt *o)
{
	struct ep_sync_opts so;
	struct cliconn c;
	struct mirror m;
	uint64_t cursor;
	char err[512];
	int rc;

	memset(&m, 0, sizeof(m));
	m.m_o = o;
	if (mirror_open(&m, o->o_dir) == -1) {
		mirror_close(&m);
		ep_client_close(cl);
		return EXIT_REFUSED;
	}
	if ((rc = clisync_opts(cl, o, &c, &so)) != EXIT_DONE) {
		mirror_close(&m);
		return rc;
	}
	clisync_signals();
	so.so_since = m.m_cursor;
	so.so_once = o->o_once;
	so.so_max_failures = o->o_once ? ONCE_MAX_FAILURES : 0;
	rc = ep_sync_run(&so, mirror_event, &m, &cursor, err, sizeof(err));
	rc = clisync_exit(rc, err);
	if (rc == EXIT_DONE && !o->o_json)
		printf("mirror %s at seq %llu (this run: %zu written, %zu "
		    "removed)\n", o->o_dir, (unsigned long long)m.m_cursor,
		    m.m_written, m.m_removed);
	cliconn_free(&c);
	mirror_close(&m);
	return rc;
}
