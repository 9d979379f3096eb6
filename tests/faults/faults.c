/*
 * faults: an LD_PRELOAD shim for the black-box tests, never linked into
 * eenpland. It makes the faults a test needs without root:
 *
 *   EENPLAN_FAULT_ENOSPC=PATH   while PATH exists, writes to a file named
 *                               data.mdb fail with ENOSPC (the disk is full),
 *                               except to its two meta pages: on a real disk
 *                               an overwrite of blocks it has needs no space.
 *   EENPLAN_FAULT_EIO=PATH      while PATH exists, fdatasync and fsync of
 *                               a file named in EENPLAN_FAULT_EIO_FILES
 *                               (comma-separated: names, or whole paths
 *                               when they begin with '/'; default
 *                               "wal.0,wal.1") fail with EIO: a disk that
 *                               could not write back what it was given.
 *                               With EENPLAN_FAULT_EIO_ONCE=1 the first
 *                               such flush removes PATH: the next one
 *                               succeeds, as Linux reports a failed
 *                               writeback once (the pages it could not
 *                               write may be marked clean and dropped).
 *   EENPLAN_FAULT_TIME_OFFSET=S the wall clock (CLOCK_REALTIME, time(),
 *                               gettimeofday()) runs S seconds ahead (S < 0:
 *                               behind); monotonic clocks are left alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define META_BYTES	(2 * 4096)

/* fd's path into path (PATH_MAX bytes); its length, or 0. */
static size_t
fd_path(int fd, char *path)
{
	char link[64];
	ssize_t n;

	(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, PATH_MAX - 1)) <= 0)
		return 0;
	path[n] = '\0';
	return (size_t)n;
}

/* 1 when fd is a file named data.mdb and the disk is "full" now. */
static int
full(int fd)
{
	const char *flag = getenv("EENPLAN_FAULT_ENOSPC");
	char path[PATH_MAX];
	size_t len;

	if (flag == NULL || access(flag, F_OK) != 0)
		return 0;
	len = fd_path(fd, path);
	return len >= 9 && strcmp(path + len - 9, "/data.mdb") == 0;
}

static void *
next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL)
		abort();
	return f;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (real == NULL)
		real = next("pwrite");
	if (off >= META_BYTES && full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (real == NULL)
		real = next("pwrite64");
	if (off >= META_BYTES && full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	static ssize_t (*real)(int, const struct iovec *, int, off_t);

	if (real == NULL)
		real = next("pwritev");
	if (off >= META_BYTES && full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, iov, cnt, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	static ssize_t (*real)(int, const struct iovec *, int);

	if (real == NULL)
		real = next("writev");
	if (full(fd) && lseek(fd, 0, SEEK_CUR) >= META_BYTES) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, iov, cnt);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (real == NULL)
		real = next("write");
	if (fd > 2 && full(fd) && lseek(fd, 0, SEEK_CUR) >= META_BYTES) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n);
}

/* ------------------------------------------------------------- flush */

/* 1 when a flush of fd is to fail now (EENPLAN_FAULT_EIO). */
static int
broken(int fd)
{
	const char *flag = getenv("EENPLAN_FAULT_EIO");
	const char *names = getenv("EENPLAN_FAULT_EIO_FILES");
	char path[PATH_MAX];
	const char *base, *p;
	size_t len, blen, nlen;

	if (flag == NULL || access(flag, F_OK) != 0 ||
	    (len = fd_path(fd, path)) == 0)
		return 0;
	if (names == NULL || names[0] == '\0')
		names = "wal.0,wal.1";
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	blen = strlen(base);
	for (p = names; *p != '\0'; p += nlen + (p[nlen] == ',')) {
		nlen = strcspn(p, ",");
		if (p[0] == '/' ? nlen == len && strncmp(p, path, nlen) == 0 :
		    nlen == blen && strncmp(p, base, nlen) == 0)
			return 1;
	}
	return 0;
}

/* fdatasync and fsync: EIO while broken, else the real one (*real). */
static int
flush(int fd, int (**real)(int), const char *name)
{
	const char *once;

	if (*real == NULL)
		*real = next(name);
	if (broken(fd)) {
		if ((once = getenv("EENPLAN_FAULT_EIO_ONCE")) != NULL &&
		    strcmp(once, "1") == 0)
			(void)unlink(getenv("EENPLAN_FAULT_EIO"));
		errno = EIO;
		return -1;
	}
	return (*real)(fd);
}

int
fdatasync(int fd)
{
	static int (*real)(int);

	return flush(fd, &real, "fdatasync");
}

int
fsync(int fd)
{
	static int (*real)(int);

	return flush(fd, &real, "fsync");
}

/* ------------------------------------------------------------- clock */

static long long
offset(void)
{
	const char *s = getenv("EENPLAN_FAULT_TIME_OFFSET");

	return s != NULL ? strtoll(s, NULL, 10) : 0;
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	int rc;

	if (real == NULL)
		real = next("clock_gettime");
	rc = real(id, ts);
	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += offset();
	return rc;
}

time_t
time(time_t *t)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (time_t)-1;
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

int
gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}
