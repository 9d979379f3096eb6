/*
 * iorec: an LD_PRELOAD shim for the crash-consistency test. It records, in
 * order, every write to a few files (the store's data.mdb, the write-ahead
 * log's files beside it) and every flush of them, with CLOCK_MONOTONIC
 * times, so that tests/blackbox/crashlib.py can build the images a disk
 * could hold after a power cut at any point.
 *
 *   IOREC_FILE=/d/data.mdb:/d/wal.0:... IOREC_LOG=/path/to/log \
 *   LD_PRELOAD=libiorec.so
 *
 * Without both variables it does nothing but pass calls through. IOREC_FILE
 * lists up to IOREC_MAXFILES paths, ':' between them; a record names its
 * file by its place in that list. A file is told by device and inode at
 * each open, against every listed path as it is then, so a file the
 * process creates later counts from its creating open, and every fd on a
 * file counts (LMDB opens a second one with O_DSYNC for its meta page
 * unless MDB_NOMETASYNC); close forgets the fd. Only open and openat are
 * followed for creation (a file made under another name and renamed onto
 * a listed one is not seen); unlink and unlinkat of a listed file are
 * recorded. One mutex is held across the real call and its
 * record, so the log's order is the order the kernel saw, across threads
 * and files.
 *
 * The log: records of struct iorec_hdr, a write followed by its bytes.
 * A writable shared mapping of a file cannot be followed (its stores are
 * not calls): it is logged as IOREC_UNSUPPORTED and the test refuses the
 * log. Test code only: never built into the daemon.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Kept in step with crashlib.py (struct "<HHIQQQQQ"). */
enum {
	IOREC_OPEN = 1,		/* off: the size after it; aux: fd; flags */
	IOREC_WRITE = 2,	/* off, len, then len bytes; flags: DSYNC */
	IOREC_FLUSH = 3,	/* aux: 1 fdatasync, 2 fsync, 3 syncfs/sync
				   (ih_file IOREC_ALL) */
	IOREC_TRUNC = 4,	/* off: the new size */
	IOREC_CLOSE = 5,	/* aux: fd */
	IOREC_UNSUPPORTED = 6,	/* aux: what (1 writable shared mmap) */
	IOREC_UNLINK = 7	/* the file's name removed */
};
#define IOREC_F_DSYNC	1u	/* the write was durable when it returned */
#define IOREC_F_FAILED	2u	/* the flush failed: no barrier */
#define IOREC_F_TRUNC	4u	/* an open with O_TRUNC: an IOREC_TRUNC to 0
				   follows, its size before is unknown */

/*
 * ih_type and ih_file were one uint32_t ih_type when there was one file:
 * on a little-endian machine an old log reads as all of file 0.
 */
struct iorec_hdr {
	uint16_t	ih_type;
	uint16_t	ih_file;	/* its index in IOREC_FILE; IOREC_ALL */
	uint32_t	ih_flags;
	uint64_t	ih_t0;		/* ns, CLOCK_MONOTONIC, before the call */
	uint64_t	ih_t1;		/* ns, after it returned */
	uint64_t	ih_off;
	uint64_t	ih_len;
	uint64_t	ih_aux;
};

#define IOREC_MAXFD	65536
#define IOREC_MAXFILES	8
#define IOREC_ALL	0xffffu		/* ih_file: every file */

/* ir_fds[fd]: 0, or IOREC_FD_ON with the file's index and IOREC_FD_DSYNC. */
#define IOREC_FD_ON	0x80u
#define IOREC_FD_DSYNC	0x40u
#define IOREC_FD_FILE	0x0fu

static pthread_mutex_t	 ir_mtx = PTHREAD_MUTEX_INITIALIZER;
static int		 ir_on;		/* both variables set and the log open */
static int		 ir_log = -1;
static char		 ir_paths[IOREC_MAXFILES][4096];
static int		 ir_nfiles;
static unsigned char	 ir_fds[IOREC_MAXFD];

static int	(*real_open)(const char *, int, ...);
static int	(*real_openat)(int, const char *, int, ...);
static int	(*real_close)(int);
static ssize_t	(*real_write)(int, const void *, size_t);
static ssize_t	(*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t	(*real_writev)(int, const struct iovec *, int);
static ssize_t	(*real_pwritev)(int, const struct iovec *, int, off_t);
static int	(*real_fdatasync)(int);
static int	(*real_fsync)(int);
static int	(*real_ftruncate)(int, off_t);
static int	(*real_unlink)(const char *);
static int	(*real_unlinkat)(int, const char *, int);
static int	(*real_syncfs)(int);
static void	(*real_sync)(void);
static int	(*real_dup)(int);
static int	(*real_dup2)(int, int);
static int	(*real_dup3)(int, int, int);
static void	*(*real_mmap)(void *, size_t, int, int, int, off_t);

static void *
iorec_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL) {
		fprintf(stderr, "iorec: no symbol %s\n", name);
		abort();
	}
	return p;
}

static uint64_t
iorec_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A record that cannot be written makes the whole log worthless: stop. */
static void
iorec_put(const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = real_write(ir_log, c, n)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "iorec: log: %s\n", strerror(errno));
			abort();
		}
		c += w;
		n -= (size_t)w;
	}
}

static void
iorec_rec(uint16_t type, uint16_t file, uint32_t flags, uint64_t t0,
    uint64_t t1, uint64_t off, uint64_t len, uint64_t aux)
{
	struct iorec_hdr h;

	memset(&h, 0, sizeof(h));
	h.ih_type = type;
	h.ih_file = file;
	h.ih_flags = flags;
	h.ih_t0 = t0;
	h.ih_t1 = t1;
	h.ih_off = off;
	h.ih_len = len;
	h.ih_aux = aux;
	iorec_put(&h, sizeof(h));
}

/* The first n bytes of an iovec array, after a header that says n. */
static void
iorec_put_iov(const struct iovec *iov, int cnt, size_t n)
{
	size_t take;
	int i;

	for (i = 0; i < cnt && n > 0; i++) {
		take = iov[i].iov_len < n ? iov[i].iov_len : n;
		iorec_put(iov[i].iov_base, take);
		n -= take;
	}
}

/*
 * The real functions. Also called by each wrapper while they are unknown:
 * a sanitizer runtime loaded after us calls some of them before our
 * constructor has run.
 */
static void
iorec_syms(void)
{
	real_open = iorec_sym("open");
	real_openat = iorec_sym("openat");
	real_close = iorec_sym("close");
	real_write = iorec_sym("write");
	real_pwrite = iorec_sym("pwrite");
	real_writev = iorec_sym("writev");
	real_pwritev = iorec_sym("pwritev");
	real_fdatasync = iorec_sym("fdatasync");
	real_fsync = iorec_sym("fsync");
	real_ftruncate = iorec_sym("ftruncate");
	real_syncfs = iorec_sym("syncfs");
	real_sync = iorec_sym("sync");
	real_dup = iorec_sym("dup");
	real_dup2 = iorec_sym("dup2");
	real_dup3 = iorec_sym("dup3");
	real_mmap = iorec_sym("mmap");
	real_unlink = iorec_sym("unlink");
	real_unlinkat = iorec_sym("unlinkat");
}

#define REAL(f)	(real_##f != NULL ? real_##f : (iorec_syms(), real_##f))

/* IOREC_FILE's paths into ir_paths; a list we cannot follow stops. */
static void
iorec_files(const char *list)
{
	const char *p = list, *end;
	size_t n;

	for (;;) {
		end = strchr(p, ':');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == 0 || n >= sizeof(ir_paths[0]) ||
		    ir_nfiles == IOREC_MAXFILES) {
			fprintf(stderr, "iorec: IOREC_FILE: an empty or too long "
			    "path, or more than %d\n", IOREC_MAXFILES);
			abort();
		}
		memcpy(ir_paths[ir_nfiles], p, n);
		ir_paths[ir_nfiles++][n] = '\0';
		if (end == NULL)
			return;
		p = end + 1;
	}
}

__attribute__((constructor)) static void
iorec_init(void)
{
	const char *file = getenv("IOREC_FILE"), *log = getenv("IOREC_LOG");
	int fd;

	iorec_syms();
	if (file == NULL || log == NULL)
		return;
	iorec_files(file);
	if ((fd = REAL(open)(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1) {
		fprintf(stderr, "iorec: %s: %s\n", log, strerror(errno));
		abort();
	}
	/* Out of the way of code that expects the low fds. */
	if ((ir_log = fcntl(fd, F_DUPFD_CLOEXEC, 512)) == -1)
		ir_log = fd;
	else
		REAL(close)(fd);
	ir_on = 1;
}

static int
iorec_tracked(int fd)
{
	return ir_on && fd >= 0 && fd < IOREC_MAXFD && ir_fds[fd] != 0;
}

static uint16_t
iorec_file(int fd)
{
	return ir_fds[fd] & IOREC_FD_FILE;
}

/*
 * After a successful open: is fd on a recorded file, and which? Under
 * ir_mtx. Each listed path is looked at now, not at start: the file may
 * have been created since, by this very open.
 */
static void
iorec_opened(int fd, int flags, uint64_t t0, uint64_t t1)
{
	struct stat a, b;
	uint32_t fl = 0;
	int i;

	if (fd < 0 || fd >= IOREC_MAXFD)
		return;
	ir_fds[fd] = 0;
	if (fstat(fd, &a) == -1 || !S_ISREG(a.st_mode))
		return;
	for (i = 0; i < ir_nfiles; i++)
		if (stat(ir_paths[i], &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			break;
	if (i == ir_nfiles)
		return;
	ir_fds[fd] = IOREC_FD_ON | (unsigned char)i;
	if ((flags & O_DSYNC) == O_DSYNC) {
		ir_fds[fd] |= IOREC_FD_DSYNC;
		fl |= IOREC_F_DSYNC;
	}
	if ((flags & O_TRUNC) != 0)
		fl |= IOREC_F_TRUNC;
	iorec_rec(IOREC_OPEN, (uint16_t)i, fl, t0, t1, (uint64_t)a.st_size, 0,
	    (uint64_t)fd);
	/* Like ftruncate(fd, 0): on disk only once a flush says so. */
	if ((fl & IOREC_F_TRUNC) != 0)
		iorec_rec(IOREC_TRUNC, (uint16_t)i, 0, t0, t1, 0, 0, 0);
}

static int
iorec_do_open(int dirfd, const char *path, int flags, mode_t mode, int at)
{
	uint64_t t0;
	int fd;

	if (!ir_on)
		return at ? REAL(openat)(dirfd, path, flags, mode) :
		    REAL(open)(path, flags, mode);
	pthread_mutex_lock(&ir_mtx);
	t0 = iorec_now();
	fd = at ? REAL(openat)(dirfd, path, flags, mode) :
	    REAL(open)(path, flags, mode);
	if (fd >= 0)
		iorec_opened(fd, flags, t0, iorec_now());
	pthread_mutex_unlock(&ir_mtx);
	return fd;
}

static mode_t
iorec_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = iorec_mode(flags, ap);
	va_end(ap);
	return iorec_do_open(AT_FDCWD, path, flags, mode, 0);
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = iorec_mode(flags, ap);
	va_end(ap);
	return iorec_do_open(AT_FDCWD, path, flags, mode, 0);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = iorec_mode(flags, ap);
	va_end(ap);
	return iorec_do_open(dirfd, path, flags, mode, 1);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = iorec_mode(flags, ap);
	va_end(ap);
	return iorec_do_open(dirfd, path, flags, mode, 1);
}

/*
 * unlink and unlinkat: when the name is one of a listed file (told by
 * device and inode before the call, as at open), its removal is recorded.
 */
static int
iorec_do_unlink(int dirfd, const char *path, int flags, int at)
{
	struct stat a, b;
	uint64_t t0;
	int i, rc, file = -1;

	if (!ir_on)
		return at ? REAL(unlinkat)(dirfd, path, flags) :
		    REAL(unlink)(path);
	pthread_mutex_lock(&ir_mtx);
	if ((at ? fstatat(dirfd, path, &a, AT_SYMLINK_NOFOLLOW) :
	    lstat(path, &a)) == 0 && S_ISREG(a.st_mode))
		for (i = 0; i < ir_nfiles && file == -1; i++)
			if (stat(ir_paths[i], &b) == 0 &&
			    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
				file = i;
	t0 = iorec_now();
	rc = at ? REAL(unlinkat)(dirfd, path, flags) : REAL(unlink)(path);
	if (rc == 0 && file != -1)
		iorec_rec(IOREC_UNLINK, (uint16_t)file, 0, t0, iorec_now(), 0,
		    0, 0);
	pthread_mutex_unlock(&ir_mtx);
	return rc;
}

int
unlink(const char *path)
{
	return iorec_do_unlink(AT_FDCWD, path, 0, 0);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
	return iorec_do_unlink(dirfd, path, flags, 1);
}

int
close(int fd)
{
	uint64_t t0;
	int rc;

	if (!iorec_tracked(fd))
		return REAL(close)(fd);
	pthread_mutex_lock(&ir_mtx);
	t0 = iorec_now();
	rc = REAL(close)(fd);
	iorec_rec(IOREC_CLOSE, iorec_file(fd), 0, t0, iorec_now(), 0, 0,
	    (uint64_t)fd);
	ir_fds[fd] = 0;
	pthread_mutex_unlock(&ir_mtx);
	return rc;
}

static int
iorec_do_dup(int old, int newfd, int flags, int how)
{
	int fd;

	if (!iorec_tracked(old)) {
		if (how == 1)
			return REAL(dup)(old);
		/* A dup over a tracked fd closes it. */
		pthread_mutex_lock(&ir_mtx);
		fd = how == 2 ? REAL(dup2)(old, newfd) :
		    REAL(dup3)(old, newfd, flags);
		if (fd >= 0 && fd < IOREC_MAXFD)
			ir_fds[fd] = 0;
		pthread_mutex_unlock(&ir_mtx);
		return fd;
	}
	pthread_mutex_lock(&ir_mtx);
	fd = how == 1 ? REAL(dup)(old) : how == 2 ? REAL(dup2)(old, newfd) :
	    REAL(dup3)(old, newfd, flags);
	if (fd >= 0 && fd < IOREC_MAXFD)
		ir_fds[fd] = ir_fds[old];
	pthread_mutex_unlock(&ir_mtx);
	return fd;
}

int
dup(int old)
{
	return iorec_do_dup(old, -1, 0, 1);
}

int
dup2(int old, int newfd)
{
	return iorec_do_dup(old, newfd, 0, 2);
}

int
dup3(int old, int newfd, int flags)
{
	return iorec_do_dup(old, newfd, flags, 3);
}

/* The offset a write() or writev() at the current position goes to. */
static off_t
iorec_pos(int fd)
{
	struct stat sb;
	int fl = fcntl(fd, F_GETFL);

	if (fl != -1 && (fl & O_APPEND) != 0)
		return fstat(fd, &sb) == -1 ? -1 : sb.st_size;
	return lseek(fd, 0, SEEK_CUR);
}

static uint32_t
iorec_wflags(int fd)
{
	return (ir_fds[fd] & IOREC_FD_DSYNC) != 0 ? IOREC_F_DSYNC : 0;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	uint64_t t0, t1;
	ssize_t w;

	if (!iorec_tracked(fd))
		return REAL(pwrite)(fd, buf, n, off);
	pthread_mutex_lock(&ir_mtx);
	t0 = iorec_now();
	w = REAL(pwrite)(fd, buf, n, off);
	t1 = iorec_now();
	if (w > 0) {
		iorec_rec(IOREC_WRITE, iorec_file(fd), iorec_wflags(fd), t0,
		    t1, (uint64_t)off, (uint64_t)w, 0);
		iorec_put(buf, (size_t)w);
	}
	pthread_mutex_unlock(&ir_mtx);
	return w;
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	uint64_t t0, t1;
	ssize_t w;
	off_t off;

	if (!iorec_tracked(fd))
		return REAL(write)(fd, buf, n);
	pthread_mutex_lock(&ir_mtx);
	off = iorec_pos(fd);
	t0 = iorec_now();
	w = REAL(write)(fd, buf, n);
	t1 = iorec_now();
	if (w > 0 && off >= 0) {
		iorec_rec(IOREC_WRITE, iorec_file(fd), iorec_wflags(fd), t0,
		    t1, (uint64_t)off, (uint64_t)w, 0);
		iorec_put(buf, (size_t)w);
	}
	pthread_mutex_unlock(&ir_mtx);
	return w;
}

static ssize_t
iorec_do_writev(int fd, const struct iovec *iov, int cnt, off_t at, int pos)
{
	uint64_t t0, t1;
	ssize_t w;
	off_t off;

	pthread_mutex_lock(&ir_mtx);
	off = pos ? at : iorec_pos(fd);
	t0 = iorec_now();
	w = pos ? REAL(pwritev)(fd, iov, cnt, at) : REAL(writev)(fd, iov, cnt);
	t1 = iorec_now();
	if (w > 0 && off >= 0) {
		iorec_rec(IOREC_WRITE, iorec_file(fd), iorec_wflags(fd), t0,
		    t1, (uint64_t)off, (uint64_t)w, 0);
		iorec_put_iov(iov, cnt, (size_t)w);
	}
	pthread_mutex_unlock(&ir_mtx);
	return w;
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	if (!iorec_tracked(fd))
		return REAL(writev)(fd, iov, cnt);
	return iorec_do_writev(fd, iov, cnt, 0, 0);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (!iorec_tracked(fd))
		return REAL(pwritev)(fd, iov, cnt, off);
	return iorec_do_writev(fd, iov, cnt, off, 1);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return pwritev(fd, iov, cnt, off);
}

static int
iorec_do_flush(int fd, int kind)
{
	uint64_t t0;
	int rc;

	pthread_mutex_lock(&ir_mtx);
	t0 = iorec_now();
	rc = kind == 1 ? REAL(fdatasync)(fd) : kind == 2 ? REAL(fsync)(fd) :
	    REAL(syncfs)(fd);
	iorec_rec(IOREC_FLUSH, kind == 3 ? IOREC_ALL : iorec_file(fd),
	    rc == 0 ? 0 : IOREC_F_FAILED, t0, iorec_now(), 0, 0,
	    (uint64_t)kind);
	pthread_mutex_unlock(&ir_mtx);
	return rc;
}

int
fdatasync(int fd)
{
	if (!iorec_tracked(fd))
		return REAL(fdatasync)(fd);
	return iorec_do_flush(fd, 1);
}

int
fsync(int fd)
{
	if (!iorec_tracked(fd))
		return REAL(fsync)(fd);
	return iorec_do_flush(fd, 2);
}

/*
 * Any fd on the same file system flushes ours too; count it for any fd,
 * and for every file.
 */
int
syncfs(int fd)
{
	if (!ir_on)
		return REAL(syncfs)(fd);
	return iorec_do_flush(fd, 3);
}

void
sync(void)
{
	uint64_t t0;

	if (!ir_on) {
		REAL(sync)();
		return;
	}
	pthread_mutex_lock(&ir_mtx);
	t0 = iorec_now();
	REAL(sync)();
	iorec_rec(IOREC_FLUSH, IOREC_ALL, 0, t0, iorec_now(), 0, 0, 3);
	pthread_mutex_unlock(&ir_mtx);
}

int
ftruncate(int fd, off_t len)
{
	uint64_t t0;
	int rc;

	if (!iorec_tracked(fd))
		return REAL(ftruncate)(fd, len);
	pthread_mutex_lock(&ir_mtx);
	t0 = iorec_now();
	rc = REAL(ftruncate)(fd, len);
	if (rc == 0)
		iorec_rec(IOREC_TRUNC, iorec_file(fd), 0, t0, iorec_now(),
		    (uint64_t)len, 0, 0);
	pthread_mutex_unlock(&ir_mtx);
	return rc;
}

int
ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	uint64_t t0;

	if (iorec_tracked(fd) && (prot & PROT_WRITE) != 0 &&
	    (flags & MAP_SHARED) != 0) {
		pthread_mutex_lock(&ir_mtx);
		t0 = iorec_now();
		iorec_rec(IOREC_UNSUPPORTED, iorec_file(fd), 0, t0, t0,
		    (uint64_t)off, (uint64_t)len, 1);
		pthread_mutex_unlock(&ir_mtx);
	}
	return REAL(mmap)(addr, len, prot, flags, fd, off);
}

void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}
