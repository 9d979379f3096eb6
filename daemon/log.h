/*
 * log: one line per event on stderr, as key=value fields (logfmt):
 *
 *   ts=2026-11-22T10:11:12.123Z level=info msg="listening" addr=127.0.0.1:7411
 *
 * Under journald (JOURNAL_STREAM names our stderr) the ts field is left out
 * and each line starts with its syslog priority (<6>), so the journal keeps
 * the level and its own timestamp. Once log_start() has run, lines go through
 * a bounded queue to a log thread: a caller never waits for stderr; what does
 * not fit is counted and reported ("dropped N log lines"). Lines a peer can
 * provoke go through log_rl(), which lets a few through per 10 s and sums up
 * the rest ("N more refused (...) in the last 10 s"). Never log plan content.
 */
#ifndef EENPLAN_LOG_H
#define EENPLAN_LOG_H

#include <stdint.h>

enum log_level {
	LOGL_ERROR = 0,
	LOGL_WARN,
	LOGL_INFO,
	LOGL_DEBUG
};

/* verbose 0: info and above; 1 or more: debug too. */
void	log_init(int verbose, const char *progname);
/* Starts the log thread (the daemon, once it forks no more); idempotent. */
void	log_start(void);
/* Writes what is queued (waiting at most 2 s for a stuck stderr), ends the thread. */
void	log_stop(void);

/*
 * One event: msg is a short constant text, fields a printf format for
 * "key=value key=value" (or NULL). Values that can hold spaces or quotes
 * go through log_q(). Control characters never reach the output raw.
 */
void	log_kv(enum log_level, const char *msg, const char *fields, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * s as a logfmt value: bare when it is safe, else in double quotes with \"
 * \\ \n \t and \xNN escapes. The result lives in a small per-thread ring:
 * use at most 8 in one log call.
 */
const char *log_q(const char *s);

/*
 * A rate limit for lines a peer can cause. Declare one per kind, static:
 *   static struct log_rate rl_bad_frame = LOG_RATE_INIT("bad frames");
 * Per 10 s window the first LOG_RATE_BURST lines of a kind are written; the
 * rest are counted and summed up in one line when the window has passed
 * ("N more bad frames in the last 10 s").
 */
#define LOG_RATE_WINDOW_S	10
#define LOG_RATE_BURST		5
struct log_rate {
	const char		*lr_what;	/* "refused (bad certificate)" */
	int64_t			 lr_start;	/* window start, ms (monotonic) */
	uint64_t		 lr_count;	/* lines in this window */
	uint64_t		 lr_suppressed;
	int			 lr_listed;
	struct log_rate		*lr_next;
};
#define LOG_RATE_INIT(what)	{ (what), 0, 0, 0, 0, NULL }
void	log_rl(struct log_rate *, enum log_level, const char *msg,
	    const char *fields, ...) __attribute__((format(printf, 4, 5)));

/* Older call sites: the text becomes msg="..." at the given level. */
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_warn adds error="strerror(errno)". */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
/* level=error, then exit(1) once the queue is written. */
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/* For tests: lines dropped so far, summaries due now, and the clock (ms). */
uint64_t log_dropped_total(void);
void	log_rate_tick(void);
void	log_set_clock(int64_t (*now_ms)(void));
/* For tests: write to fd instead of stderr (before log_start). */
void	log_set_fd(int fd);

#endif
