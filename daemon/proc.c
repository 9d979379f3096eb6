/* proc: user, data_dir lock and readiness notifications (see proc.h). */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "proc.h"

/* A missing data_dir is made for the user; another user's is refused. */
static void
proc_data_dir_for(const char *dir, const struct passwd *pw)
{
	struct stat st;

	if (stat(dir, &st) == -1) {
		if (errno != ENOENT)
			fatal("data_dir %s", dir);
		if (mkdir(dir, 0700) == -1)
			fatal("data_dir %s: cannot make it", dir);
		if (chown(dir, pw->pw_uid, pw->pw_gid) == -1)
			fatal("data_dir %s: chown to %s", dir, pw->pw_name);
		return;
	}
	if (!S_ISDIR(st.st_mode))
		fatalx("data_dir %s is not a directory", dir);
	if (st.st_uid != pw->pw_uid)
		fatalx("data_dir %s belongs to uid %u, not to user %s "
		    "(uid %u): chown -R %s %s", dir, (unsigned)st.st_uid,
		    pw->pw_name, (unsigned)pw->pw_uid, pw->pw_name, dir);
}

void
proc_check_user(const struct config *conf)
{
	struct passwd *pw;
	uid_t euid = geteuid();

	if (conf->c_user[0] == '\0') {
		if (euid == 0)
			fatalx("started as root without [server] user: set "
			    "user = NAME (the daemon becomes NAME once it has "
			    "bound its port and read its TLS key), or "
			    "user = root to run as root knowingly");
		return;
	}
	errno = 0;
	if ((pw = getpwnam(conf->c_user)) == NULL)
		fatalx("[server] user = %s: no such user%s%s", conf->c_user,
		    errno ? ": " : "", errno ? strerror(errno) : "");
	if (pw->pw_uid == euid && getuid() == euid)
		return;
	if (euid != 0)
		fatalx("[server] user = %s, but started as uid %u: only root "
		    "can change to another user", conf->c_user, (unsigned)euid);
}

void
proc_become_user(const struct config *conf)
{
	struct passwd *pw;
	uid_t euid = geteuid();
	gid_t gid;

	proc_check_user(conf);
	if (conf->c_user[0] == '\0')
		return;
	if ((pw = getpwnam(conf->c_user)) == NULL)
		fatalx("[server] user = %s: no such user", conf->c_user);
	if (pw->pw_uid == euid) {
		if (euid == 0)
			log_kv(LOGL_WARN, "running as root", "user=root");
		return;
	}
	proc_data_dir_for(conf->c_data_dir, pw);
	gid = pw->pw_gid;
	if (setgroups(1, &gid) == -1)
		fatal("setgroups");
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid %u", (unsigned)gid);
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("setresuid %u", (unsigned)pw->pw_uid);
	/* A way back would make all of the above for show. */
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("could change back to root after becoming %s",
		    conf->c_user);
	log_kv(LOGL_INFO, "changed user", "user=%s uid=%u gid=%u",
	    log_q(conf->c_user), (unsigned)pw->pw_uid, (unsigned)gid);
}

int
proc_try_lock_data_dir(const char *dir, char *holder, size_t holderlen,
    char *err, size_t errlen)
{
	char path[PATH_MAX + 16], buf[32];
	ssize_t n;
	int fd;

	holder[0] = '\0';
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "data_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (snprintf(path, sizeof(path), "%s/eenpland.pid", dir) >=
	    (int)sizeof(path)) {
		snprintf(err, errlen, "data_dir %s: path too long", dir);
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			snprintf(err, errlen, "lock %s: %s", path,
			    strerror(errno));
		else {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			snprintf(holder, holderlen, "%s", buf[0] ? buf : "?");
		}
		(void)close(fd);
		return -1;
	}
	return fd;
}

void
proc_lock_data_dir(const char *dir)
{
	char path[PATH_MAX + 16], buf[32], holder[32], err[PATH_MAX + 64];
	ssize_t n;
	int fd;

	/* Kept open (and locked) until the process ends. */
	if ((fd = proc_try_lock_data_dir(dir, holder, sizeof(holder), err,
	    sizeof(err))) == -1) {
		if (holder[0] != '\0')
			fatalx("data_dir %s is in use by another eenpland "
			    "(pid %s)", dir, holder);
		fatalx("%s", err);
	}
	(void)snprintf(path, sizeof(path), "%s/eenpland.pid", dir);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_kv(LOGL_WARN, "cannot write the pid file", "path=%s",
		    log_q(path));
}

static void
proc_notify(const char *state)
{
	int rc;

	if ((rc = sd_notify(0, state)) < 0)
		log_kv(LOGL_WARN, "sd_notify failed", "error=%s",
		    log_q(strerror(-rc)));
}

void
proc_notify_ready(int nworkers)
{
	char buf[128];

	(void)snprintf(buf, sizeof(buf), "READY=1\nSTATUS=serving, %d "
	    "worker(s)", nworkers);
	proc_notify(buf);
}

void
proc_notify_reloading(void)
{
	struct timespec ts;
	char buf[96];

	/* MONOTONIC_USEC: what Type=notify-reload (systemd 253) asks for. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ull +
	    (unsigned long long)ts.tv_nsec / 1000);
	proc_notify(buf);
}

void
proc_notify_stopping(void)
{
	proc_notify("STOPPING=1");
}
