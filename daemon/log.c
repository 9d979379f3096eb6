/*
 * log: logfmt lines to stderr through a bounded queue and a log thread,
 * rate limits for lines a peer can cause, fatal exits (see log.h).
 *
 * A caller formats its line on its own stack, then holds the queue lock
 * only to copy it into a free slot: it never waits for stderr. The log
 * thread takes whole batches out under the lock and writes them without it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LOG_LINE_MAX	1024		/* one line, newline included */
#define LOG_QLEN	1024		/* queued lines */
#define LOG_BATCH	64		/* lines the thread writes per turn */
#define LOG_STOP_WAIT_MS 2000		/* log_stop/fatal wait for a stuck stderr */

struct log_slot {
	uint16_t	ls_len;
	char		ls_line[LOG_LINE_MAX];
};

static int		 log_verbose;
static int		 log_fd = 2;
static int		 log_journal;	/* stderr is the journal: no ts, <prio> */
static int64_t		(*log_clock)(void);

static pthread_mutex_t	 log_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 log_cond = PTHREAD_COND_INITIALIZER;	/* to the thread */
static pthread_cond_t	 log_idle = PTHREAD_COND_INITIALIZER;	/* from the thread */
static int		 log_conds_monotonic;	/* both re-made by log_start */
static struct log_slot	 log_q_slots[LOG_QLEN];
static uint32_t		 log_q_head, log_q_tail;	/* free-running */
static uint64_t		 log_q_dropped;		/* not yet reported */
static uint64_t		 log_q_dropped_total;
static int		 log_running, log_stopping, log_done;
static int		 log_busy;	/* the thread is writing a batch */
static pthread_t	 log_thread;

static pthread_mutex_t	 log_rl_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct log_rate	*log_rates;

static const char *const log_level_names[] = { "error", "warn", "info", "debug" };
static const int log_level_prio[] = { 3, 4, 6, 7 };

static int64_t
log_clock_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
log_now_ms(void)
{
	return log_clock != NULL ? log_clock() : log_clock_mono();
}

/* JOURNAL_STREAM holds "dev:ino" of the journal's socket when stderr is it. */
static int
log_is_journal(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(fd, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(int verbose, const char *progname)
{
	(void)progname;	/* journald and the reader know who we are */
	log_verbose = verbose;
	log_journal = log_is_journal(log_fd);
}

void
log_set_fd(int fd)
{
	log_fd = fd;
	log_journal = 0;
}

void
log_set_clock(int64_t (*now_ms)(void))
{
	log_clock = now_ms;
}

uint64_t
log_dropped_total(void)
{
	uint64_t n;

	pthread_mutex_lock(&log_mtx);
	n = log_q_dropped_total;
	pthread_mutex_unlock(&log_mtx);
	return n;
}

/* ------------------------------------------------------------ formatting */

static int
log_bare_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '=' ||
		    *p == '\\')
			return 0;
	return 1;
}

/* s into out (cap bytes, > 8) as a quoted value; cut to fit. */
static void
log_quote_into(char *out, size_t cap, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	out[o++] = '"';
	for (; *p != '\0' && o + 6 < cap; p++) {
		switch (*p) {
		case '"':
		case '\\':
			out[o++] = '\\';
			out[o++] = (char)*p;
			break;
		case '\n':
			out[o++] = '\\';
			out[o++] = 'n';
			break;
		case '\t':
			out[o++] = '\\';
			out[o++] = 't';
			break;
		default:
			if (*p < ' ' || *p == 0x7f)
				o += (size_t)snprintf(out + o, cap - o, "\\x%02x",
				    *p);
			else
				out[o++] = (char)*p;
			break;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

const char *
log_q(const char *s)
{
	static _Thread_local char ring[8][512];
	static _Thread_local unsigned next;
	char *out = ring[next++ % 8];

	if (s == NULL)
		s = "";
	if (log_bare_ok(s)) {
		(void)snprintf(out, sizeof(ring[0]), "%s", s);
		return out;
	}
	log_quote_into(out, sizeof(ring[0]), s);
	return out;
}

/* Appends src, control characters escaped, to buf at *o (bounded). */
static void
log_append_clean(char *buf, size_t cap, size_t *o, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;

	for (; *p != '\0' && *o + 5 < cap; p++) {
		if (*p < ' ' || *p == 0x7f)
			*o += (size_t)snprintf(buf + *o, cap - *o, "\\x%02x", *p);
		else
			buf[(*o)++] = (char)*p;
	}
	buf[*o] = '\0';
}

static void
log_append(char *buf, size_t cap, size_t *o, const char *s)
{
	int n;

	if (*o >= cap)
		return;
	n = snprintf(buf + *o, cap - *o, "%s", s);
	if (n > 0)
		*o += (size_t)n < cap - *o ? (size_t)n : cap - *o - 1;
}

/*
 * The whole line into buf[LOG_LINE_MAX]: prefix, level, msg, the fields
 * (already formatted) and an error text. Returns its length, newline included.
 */
static size_t
log_build(char *buf, enum log_level lv, const char *msg, const char *fields,
    const char *err)
{
	const size_t cap = LOG_LINE_MAX - 1;	/* room for the newline */
	char tmp[LOG_LINE_MAX], ts[40];
	struct timespec now;
	struct tm tm;
	size_t o = 0;

	buf[0] = '\0';
	if (log_journal) {
		(void)snprintf(tmp, sizeof(tmp), "<%d>", log_level_prio[lv]);
		log_append(buf, cap, &o, tmp);
	} else {
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		(void)snprintf(tmp, sizeof(tmp), "ts=%s.%03ldZ ", ts,
		    now.tv_nsec / 1000000);
		log_append(buf, cap, &o, tmp);
	}
	log_append(buf, cap, &o, "level=");
	log_append(buf, cap, &o, log_level_names[lv]);
	log_append(buf, cap, &o, " msg=");
	log_quote_into(tmp, sizeof(tmp) / 2, msg);
	log_append(buf, cap, &o, tmp);
	if (fields != NULL && fields[0] != '\0') {
		log_append(buf, cap, &o, " ");
		log_append_clean(buf, cap, &o, fields);
	}
	if (err != NULL) {
		log_append(buf, cap, &o, " error=");
		log_quote_into(tmp, sizeof(tmp) / 2, err);
		log_append(buf, cap, &o, tmp);
	}
	buf[o++] = '\n';
	buf[o] = '\0';
	return o;
}

/* ----------------------------------------------------------- the queue */

static void
log_write_all(const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(log_fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;		/* stderr gone: nothing better to do */
		p += n;
		len -= (size_t)n;
	}
}

static void
log_emit(const char *line, size_t len)
{
	struct log_slot *s;

	pthread_mutex_lock(&log_mtx);
	if (!log_running) {
		pthread_mutex_unlock(&log_mtx);
		log_write_all(line, len);
		return;
	}
	if (log_q_head - log_q_tail >= LOG_QLEN) {
		log_q_dropped++;
		log_q_dropped_total++;
		pthread_mutex_unlock(&log_mtx);
		return;
	}
	s = &log_q_slots[log_q_head % LOG_QLEN];
	memcpy(s->ls_line, line, len);
	s->ls_len = (uint16_t)len;
	log_q_head++;
	pthread_cond_signal(&log_cond);
	pthread_mutex_unlock(&log_mtx);
}

static void
log_emit_dropped(uint64_t n)
{
	char line[LOG_LINE_MAX], msg[64], fields[64];
	size_t len;

	(void)snprintf(msg, sizeof(msg), "dropped %llu log lines",
	    (unsigned long long)n);
	(void)snprintf(fields, sizeof(fields), "dropped=%llu",
	    (unsigned long long)n);
	len = log_build(line, LOGL_WARN, msg, fields, NULL);
	log_write_all(line, len);
}

static void *
log_thread_main(void *arg)
{
	static char batch[LOG_BATCH * LOG_LINE_MAX];
	struct timespec until;
	uint64_t dropped;
	size_t blen;
	int n;

	(void)arg;
	pthread_mutex_lock(&log_mtx);
	for (;;) {
		while (log_q_head == log_q_tail && log_q_dropped == 0 &&
		    !log_stopping) {
			pthread_cond_broadcast(&log_idle);
			util_deadline_ms(&until, 1000);
			if (pthread_cond_timedwait(&log_cond, &log_mtx,
			    &until) == ETIMEDOUT) {
				/* Quiet: time to sum up what was held back. */
				pthread_mutex_unlock(&log_mtx);
				log_rate_tick();
				pthread_mutex_lock(&log_mtx);
			}
		}
		if (log_q_head == log_q_tail && log_q_dropped == 0)
			break;		/* stopping, and all is written */
		for (blen = 0, n = 0; n < LOG_BATCH && log_q_tail != log_q_head;
		    n++, log_q_tail++) {
			struct log_slot *s = &log_q_slots[log_q_tail % LOG_QLEN];

			memcpy(batch + blen, s->ls_line, s->ls_len);
			blen += s->ls_len;
		}
		dropped = log_q_dropped;
		log_q_dropped = 0;
		log_busy = 1;
		pthread_mutex_unlock(&log_mtx);
		log_write_all(batch, blen);
		if (dropped > 0)
			log_emit_dropped(dropped);
		log_rate_tick();
		pthread_mutex_lock(&log_mtx);
		log_busy = 0;
	}
	log_done = 1;
	pthread_cond_broadcast(&log_idle);
	pthread_mutex_unlock(&log_mtx);
	return NULL;
}

void
log_start(void)
{
	pthread_mutex_lock(&log_mtx);
	if (log_running) {
		pthread_mutex_unlock(&log_mtx);
		return;
	}
	log_stopping = log_done = 0;
	log_q_head = log_q_tail = 0;
	/* Nobody waits on them before the thread first runs. */
	if (!log_conds_monotonic) {
		pthread_cond_destroy(&log_cond);
		pthread_cond_destroy(&log_idle);
		if (util_cond_init(&log_cond) != 0 ||
		    util_cond_init(&log_idle) != 0) {
			/* No thread, then: lines are written as they come. */
			pthread_mutex_unlock(&log_mtx);
			return;
		}
		log_conds_monotonic = 1;
	}
	if (pthread_create(&log_thread, NULL, log_thread_main, NULL) == 0) {
		util_thread_name(log_thread, "log");
		log_running = 1;
	}
	pthread_mutex_unlock(&log_mtx);
}

/* Waits until the queue is written or ms have passed; log_mtx held. */
static void
log_wait_locked(int64_t ms, int for_exit)
{
	struct timespec until;

	util_deadline_ms(&until, ms);
	while (for_exit ? !log_done : log_q_head != log_q_tail || log_busy) {
		if (pthread_cond_timedwait(&log_idle, &log_mtx, &until) ==
		    ETIMEDOUT)
			break;
	}
}

void
log_stop(void)
{
	int done;

	pthread_mutex_lock(&log_mtx);
	if (!log_running) {
		pthread_mutex_unlock(&log_mtx);
		return;
	}
	log_stopping = 1;
	pthread_cond_signal(&log_cond);
	log_wait_locked(LOG_STOP_WAIT_MS, 1);
	done = log_done;
	log_running = 0;
	pthread_mutex_unlock(&log_mtx);
	if (done)
		pthread_join(log_thread, NULL);
	else
		pthread_detach(log_thread);	/* stuck in write(2) */
}

/* --------------------------------------------------------------- events */

static void
log_vevent(enum log_level lv, const char *msg, const char *fields_fmt,
    va_list ap, const char *err)
{
	char fields[LOG_LINE_MAX], line[LOG_LINE_MAX];
	size_t len;

	fields[0] = '\0';
	if (fields_fmt != NULL)
		(void)vsnprintf(fields, sizeof(fields), fields_fmt, ap);
	len = log_build(line, lv, msg, fields, err);
	log_emit(line, len);
}

static int
log_wanted(enum log_level lv)
{
	return lv != LOGL_DEBUG || log_verbose > 0;
}

void
log_kv(enum log_level lv, const char *msg, const char *fields, ...)
{
	va_list ap;
	int saved = errno;

	if (!log_wanted(lv))
		return;
	va_start(ap, fields);
	log_vevent(lv, msg, fields, ap, NULL);
	va_end(ap);
	errno = saved;
}

/* The summary of a window that held lines back; log_rl_mtx held. */
static void
log_rate_summary(struct log_rate *r)
{
	char msg[200];

	(void)snprintf(msg, sizeof(msg), "%llu more %s in the last %d s",
	    (unsigned long long)r->lr_suppressed, r->lr_what,
	    LOG_RATE_WINDOW_S);
	log_kv(LOGL_WARN, msg, "suppressed=%llu window_s=%d",
	    (unsigned long long)r->lr_suppressed, LOG_RATE_WINDOW_S);
}

void
log_rl(struct log_rate *r, enum log_level lv, const char *msg,
    const char *fields, ...)
{
	int64_t now = log_now_ms();
	va_list ap;
	int saved = errno, allow;

	pthread_mutex_lock(&log_rl_mtx);
	if (!r->lr_listed) {
		r->lr_next = log_rates;
		log_rates = r;
		r->lr_listed = 1;
		r->lr_start = now;
	}
	if (now - r->lr_start >= LOG_RATE_WINDOW_S * 1000) {
		if (r->lr_suppressed > 0)
			log_rate_summary(r);
		r->lr_start = now;
		r->lr_count = r->lr_suppressed = 0;
	}
	allow = r->lr_count < LOG_RATE_BURST;
	if (allow)
		r->lr_count++;
	else
		r->lr_suppressed++;
	pthread_mutex_unlock(&log_rl_mtx);
	if (allow && log_wanted(lv)) {
		va_start(ap, fields);
		log_vevent(lv, msg, fields, ap, NULL);
		va_end(ap);
	}
	errno = saved;
}

void
log_rate_tick(void)
{
	int64_t now = log_now_ms();
	struct log_rate *r;

	pthread_mutex_lock(&log_rl_mtx);
	for (r = log_rates; r != NULL; r = r->lr_next) {
		if (r->lr_suppressed == 0 ||
		    now - r->lr_start < LOG_RATE_WINDOW_S * 1000)
			continue;
		log_rate_summary(r);
		r->lr_start = now;
		r->lr_count = r->lr_suppressed = 0;
	}
	pthread_mutex_unlock(&log_rl_mtx);
}

/* ------------------------------------------------------- older call sites */

static void
log_vlegacy(enum log_level lv, const char *fmt, va_list ap, int with_errno)
{
	char msg[LOG_LINE_MAX / 2], line[LOG_LINE_MAX];
	int saved = errno;
	size_t len;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	len = log_build(line, lv, msg, NULL, with_errno ? strerror(saved) :
	    NULL);
	log_emit(line, len);
	errno = saved;
}

#define LOG_FN(name, level, err)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	if (!log_wanted(level))					\
		return;						\
	va_start(ap, fmt);					\
	log_vlegacy(level, fmt, ap, err);			\
	va_end(ap);						\
}

LOG_FN(log_debug, LOGL_DEBUG, 0)
LOG_FN(log_info, LOGL_INFO, 0)
LOG_FN(log_warnx, LOGL_WARN, 0)
LOG_FN(log_warn, LOGL_WARN, 1)

static void __attribute__((noreturn))
log_fatal_exit(void)
{
	pthread_mutex_lock(&log_mtx);
	if (log_running) {
		pthread_cond_signal(&log_cond);
		log_wait_locked(LOG_STOP_WAIT_MS, 0);
	}
	pthread_mutex_unlock(&log_mtx);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlegacy(LOGL_ERROR, fmt, ap, 1);
	va_end(ap);
	log_fatal_exit();
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlegacy(LOGL_ERROR, fmt, ap, 0);
	va_end(ap);
	log_fatal_exit();
}
