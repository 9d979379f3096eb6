/* util: time, ids, hex and text checks used across the daemon (pure but for util_random_id). */
#ifndef EENPLAN_UTIL_H
#define EENPLAN_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define HOUSEHOLD_ID_LEN	32	/* 128 random bits as lower-case hex */

/* Microseconds since the epoch, UTC (CLOCK_REALTIME). */
int64_t	util_now_us(void);
/* Names a thread for top -H, perf and /proc (15 characters kept). */
void	util_thread_name(pthread_t, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Timed waits: a condition variable whose pthread_cond_timedwait deadlines
 * are on CLOCK_MONOTONIC (a wall clock set back by NTP or an operator
 * would stretch a wait; set forward, cut it short), and such a deadline ms
 * from now. util_cond_init returns pthread_cond_init's result.
 */
int	util_cond_init(pthread_cond_t *);
void	util_deadline_ms(struct timespec *, int64_t ms);
/* fsync(2) of a file, or of a directory (dir != 0): 0, or -1 and errno. */
int	util_fsync_path(const char *path, int dir);

/*
 * A process marker: a file holding "BOOT_ID" or "BOOT_ID PID" (pid 0:
 * read from the file) written by a process of this boot while it uses a
 * store. What it says: UTIL_MARK_ABSENT (no such file), _SUSPECT (another
 * boot's, or unreadable: the machine stopped while its writer ran), _OURS
 * (this process's pid), _LIVE (that process runs), _GONE (it ended on
 * this boot: its writes are in the page cache).
 */
#define UTIL_MARK_ABSENT	0
#define UTIL_MARK_SUSPECT	1
#define UTIL_MARK_OURS		2
#define UTIL_MARK_LIVE		3
#define UTIL_MARK_GONE		4
int	util_mark_class(const char *path, const char *boot, uint64_t pid);

/* 32 hex chars + NUL into out[HOUSEHOLD_ID_LEN + 1]. 0 or -1 (no randomness). */
int	util_random_id(char out[HOUSEHOLD_ID_LEN + 1])
	    __attribute__((warn_unused_result));

/* 1 when s is exactly 32 lower-case hex characters. */
int	util_valid_household_id(const char *s);

/* 1 when s is valid UTF-8 without NUL and C0 controls other than \n and \t. */
int	util_utf8_ok(const char *s, size_t len);

/* Number of code points in valid UTF-8 s. */
size_t	util_utf8_len(const char *s);

/* 1 when s is valid UTF-8 text of min..max characters (NULL counts as empty). */
int	util_text_ok(const char *s, size_t min, size_t max);

/* A reference to a signed consent form: 1..UTIL_REFERENCE_MAX characters. */
#define UTIL_REFERENCE_MAX	128

/* 1 when s (NUL-terminated) is 1..max chars of [A-Za-z0-9._-]. */
int	util_ident_ok(const char *s, size_t max);

/* 1 when s is "YYYY-MM-DD", a real date. Empty is not accepted here. */
int	util_date_ok(const char *s);
/* "YYYY-MM-DD" (util_date_ok) as UTC midnight in microseconds; -1: not one. */
int	util_day_us(const char *s, int64_t *out);
/* The value of a hexadecimal digit, or -1. */
int	util_hexval(int c);

/* Big-endian u64, so that LMDB key order is numeric order. */
void	util_be64_put(uint8_t *p, uint64_t v);
uint64_t util_be64_get(const uint8_t *p);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void	util_hex(const uint8_t *in, size_t len, char *out);

/* "2026-11-22T10:11:12.123456Z" into out (at least 32 bytes). */
void	util_fmt_time(int64_t us, char *out, size_t outlen);

/* Parses a decimal into *out, bounded by max. 0 or -1. */
int	util_parse_u64(const char *s, uint64_t max, uint64_t *out)
	    __attribute__((warn_unused_result));

/* Both set and equal (wire strings may be NULL in hand-built messages). */
static inline int
str_eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* NULL or "". */
static inline int
str_empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

#endif
