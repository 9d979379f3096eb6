/*
 * eenplan-bench: a load generator for eenpland and its references (redis,
 * PostgreSQL, openssl s_server) with the same shape for each — N mutual-TLS
 * connections, K requests in flight on each (closed loop) or a fixed
 * schedule (open loop), a warm-up, then a measured window: throughput,
 * latency percentiles, non-OK answers, client and server CPU. One thread,
 * one epoll loop. Run with --help for the options.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "bench.h"

int	redis_init(void);

#define BENCH_DRAIN_SECONDS	10.0
#define BENCH_EPOLL_EVENTS	256
#define BENCH_OL_TICK_NS	100000	/* open loop: at most 10,000 wake-ups/s */
#define BENCH_PROGRESS_NS	10000000000LL	/* populate: a progress line */

static volatile sig_atomic_t bench_stop;	/* SIGINT/SIGTERM: end early */

static const char *const tls_ops[] = { "full", "resumed", NULL };

static int
tls_setup(struct slot *s)
{
	bench_slot_ready(s);
	return 0;
}

static int
tls_send(struct slot *s, int op, int64_t t0)
{
	(void)s;
	(void)op;
	(void)t0;
	return -1;
}

static int
tls_input(struct slot *s)
{
	s->s_in.b_off = s->s_in.b_len;	/* nothing is expected */
	return 0;
}

const struct target target_tls = {
	.t_name = "tls",
	.t_ops = tls_ops,
	.t_setup = tls_setup,
	.t_send = tls_send,
	.t_input = tls_input,
};

static const struct target target_pg = {
	.t_name = "pg",
	.t_ops = pg_ops,
	.t_setup = NULL,
	.t_send = pg_send,
	.t_input = NULL,
};

/* ---------------------------------------------------------------- util */

int64_t
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t
bench_rand(struct bench *b)
{
	uint64_t x = b->b_rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->b_rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

const char *
bench_pick_hh(struct bench *b)
{
	return b->b_hh[bench_rand(b) % b->b_nhh];
}

const char *
bench_note(struct bench *b)
{
	return b->b_notes + bench_rand(b) % (b->b_notes_len - BENCH_NOTE_LEN);
}

static void
fatalx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "eenplan-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static void
info(const struct bench *b, const char *fmt, ...)
{
	va_list ap;

	if (b->b_o.o_quiet)
		return;
	fprintf(stderr, "eenplan-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static long
parse_long(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		fatalx("%s: expected a whole number in %ld..%ld, got \"%s\"",
		    what, min, max, s);
	return v;
}

static double
parse_double(const char *s, double min, double max, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
		fatalx("%s: expected a number in %g..%g, got \"%s\"", what, min,
		    max, s);
	return v;
}

int
bench_hostport(const char *s, char *host, size_t hl, char *port, size_t pl)
{
	const char *c;
	size_t n;

	if (s[0] == '[') {
		if ((c = strchr(s, ']')) == NULL || c[1] != ':')
			return -1;
		n = (size_t)(c - s - 1);
		s++;
		c++;
	} else {
		if ((c = strrchr(s, ':')) == NULL)
			return -1;
		n = (size_t)(c - s);
	}
	if (n == 0 || n >= hl || strlen(c + 1) == 0 || strlen(c + 1) >= pl)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	snprintf(port, pl, "%s", c + 1);
	return 0;
}

void
bench_err(struct bench *b, const char *fmt, ...)
{
	char text[160];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (i = 0; i < b->b_nerr_text; i++) {
		if (strcmp(b->b_err_text[i], text) == 0) {
			b->b_err_count[i]++;
			return;
		}
	}
	if (b->b_nerr_text < BENCH_ERR_SAMPLES) {
		snprintf(b->b_err_text[b->b_nerr_text], sizeof(b->b_err_text[0]),
		    "%s", text);
		b->b_err_count[b->b_nerr_text++] = 1;
	}
}

/* ---------------------------------------------------------------- /proc */

/* utime + stime of pid and of its children now, in clock ticks. */
static long long
proc_cpu_ticks(long pid)
{
	char path[300], buf[1024], *p;
	long long total = 0, ut, st;
	long ppid;
	DIR *d;
	struct dirent *de;
	FILE *f;

	if (pid <= 0 || (d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (p == NULL || (p = strrchr(buf, ')')) == NULL)
			continue;
		/* After "pid (comm)": state ppid ... utime(14) stime(15). */
		if (sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		    "%lld %lld", &ppid, &ut, &st) != 3)
			continue;
		if (strtol(de->d_name, NULL, 10) == pid || ppid == pid)
			total += ut + st;
	}
	closedir(d);
	return total;
}

/*
 * Busy, total and stolen jiffies of the whole machine (first line of
 * /proc/stat). Steal — time the hypervisor ran something else while a
 * virtual CPU of ours had work — counts as busy: it is time our processes
 * wanted and did not get, and it varies from hour to hour on a shared host.
 */
static int
proc_machine_ticks(long long *busy, long long *total, long long *steal)
{
	long long v[8] = { 0 };
	FILE *f;
	int n;

	if ((f = fopen("/proc/stat", "r")) == NULL)
		return -1;
	n = fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return -1;
	/* user nice system idle iowait irq softirq steal */
	*total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	*busy = *total - v[3] - v[4];
	*steal = v[7];
	return 0;
}

/* VmRSS of pid in kB, -1 if unknown. */
static long
proc_rss_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		snprintf(path, sizeof(path), "/proc/self/status");
	else
		snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* ---------------------------------------------------------------- load */

static int
bench_pick_op(struct bench *b)
{
	unsigned total = 0, r;
	int i;

	for (i = 0; i < b->b_nops; i++)
		total += b->b_o.o_weights[i];
	r = (unsigned)(bench_rand(b) % total);
	for (i = 0; i < b->b_nops; i++) {
		if (r < b->b_o.o_weights[i])
			return i;
		r -= b->b_o.o_weights[i];
	}
	return 0;
}

static int
bench_loading(const struct bench *b)
{
	return b->b_phase == PH_WARMUP || b->b_phase == PH_MEASURE;
}

static int
bench_send(struct slot *s, int op, int64_t t0)
{
	if (s->s_b->b_o.o_target == TGT_PG)
		return pg_send(s, op, t0);
	return s->s_b->b_t->t_send(s, op, t0);
}

static void
bench_flush(struct slot *s)
{
	if (s->s_b->b_o.o_target != TGT_PG && s->s_ssl != NULL &&
	    s->s_out.b_len > s->s_out.b_off)
		(void)tconn_flush(s);
}

/* Open loop: hands every request that is due to a connection with room. */
static void
ol_dispatch(struct bench *b)
{
	static int cursor;
	int64_t now = bench_now();
	uint64_t due;
	int i, n = b->b_o.o_conns;
	double per = 1e9 / b->b_o.o_rate;

	if (!bench_loading(b))
		return;
	due = (uint64_t)((double)(now - b->b_ol_t0) / per) + 1;
	while (b->b_ol_sent < due) {
		struct slot *s = NULL;

		for (i = 0; i < n; i++) {
			struct slot *c = &b->b_slots[(cursor + i) % n];

			if (c->s_st == SL_READY &&
			    c->s_nfl < (unsigned)b->b_o.o_inflight) {
				s = c;
				cursor = (cursor + i + 1) % n;
				break;
			}
		}
		if (s == NULL)
			break;
		if (bench_send(s, bench_pick_op(b), b->b_ol_t0 +
		    (int64_t)((double)b->b_ol_sent * per)) != 0)
			continue;
		b->b_ol_sent++;
		bench_flush(s);
	}
	if (due - b->b_ol_sent > b->b_ol_backlog_max)
		b->b_ol_backlog_max = due - b->b_ol_sent;
}

/*
 * Open loop: a periodic timer wakes the loop to send what is due. Its period
 * is the schedule's, but not below BENCH_OL_TICK_NS, so a high rate costs
 * wake-ups in batches; a request sent late counts its wait as latency.
 */
static void
ol_start(struct bench *b)
{
	struct itimerspec its;
	int64_t per = (int64_t)(1e9 / b->b_o.o_rate);

	if (per < BENCH_OL_TICK_NS)
		per = BENCH_OL_TICK_NS;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 1;
	its.it_interval.tv_sec = per / 1000000000;
	its.it_interval.tv_nsec = per % 1000000000;
	if (timerfd_settime(b->b_tfd, 0, &its, NULL) != 0)
		fatalx("timerfd_settime: %s", strerror(errno));
}

/* Tops a connection up to its requests in flight, or reconnects it. */
static void
bench_refill(struct slot *s)
{
	struct bench *b = s->s_b;
	enum bench_mode m = b->b_o.o_mode;
	long target;

	if (m == MODE_HANDSHAKE || m == MODE_RESUME) {
		if (bench_loading(b) && s->s_st == SL_IDLE)
			(void)tconn_connect(s);
		return;
	}
	if (s->s_st != SL_READY)
		return;
	if (m == MODE_POPULATE) {
		target = b->b_o.o_target == TGT_EENPLAN ? b->b_o.o_populate :
		    (long)b->b_nhh;
		while (b->b_phase == PH_MEASURE &&
		    s->s_nfl < (unsigned)b->b_o.o_inflight &&
		    b->b_pop_issued < target) {
			if (bench_send(s, OP_POPULATE, bench_now()) != 0)
				return;
			b->b_pop_issued++;
		}
		return;
	}
	if (m != MODE_LOAD || !bench_loading(b))
		return;
	if (b->b_o.o_rate > 0) {
		ol_dispatch(b);
		return;
	}
	while (s->s_st == SL_READY && s->s_nfl < (unsigned)b->b_o.o_inflight) {
		if (bench_send(s, bench_pick_op(b), bench_now()) != 0)
			return;
	}
}

void
bench_done(struct slot *s, int op, int64_t t0, int ok, const char *err,
    size_t bytes)
{
	struct bench *b = s->s_b;
	int64_t now = bench_now();

	if (b->b_phase == PH_MEASURE && now >= b->b_t_measure) {
		struct opstat *st = &b->b_st[op];

		if (ok) {
			st->os_ok++;
			st->os_bytes += bytes;
			hist_add(&st->os_h, (uint64_t)(now > t0 ? now - t0 : 0));
		} else
			st->os_err++;
	}
	if (!ok) {
		b->b_err_total++;
		bench_err(b, "%s", err ? err : "error");
	} else
		b->b_ok_total++;
	bench_refill(s);
}

void
bench_pop_created(struct slot *s, int ok, const char *hhid)
{
	struct bench *b = s->s_b;

	b->b_pop_done++;
	if (!ok) {
		b->b_err_total++;
	} else if (hhid != NULL) {
		if (b->b_nhh == b->b_hh_cap) {
			size_t cap = b->b_hh_cap ? b->b_hh_cap * 2 : 1024;
			void *p = realloc(b->b_hh, cap * sizeof(*b->b_hh));

			if (p == NULL)
				fatalx("out of memory for household ids");
			b->b_hh = p;
			b->b_hh_cap = cap;
		}
		memcpy(b->b_hh[b->b_nhh++], hhid, BENCH_HHID_LEN + 1);
	}
	bench_refill(s);
}

static void bench_connect_next(struct bench *);

void
bench_slot_ready(struct slot *s)
{
	struct bench *b = s->s_b;

	s->s_st = SL_READY;
	b->b_ready++;
	b->b_connecting--;
	if (b->b_o.o_mode == MODE_IDLE) {
		/* Hold nothing on our side while idle. */
		buf_free(&s->s_in);
		buf_free(&s->s_out);
	}
	bench_connect_next(b);
	bench_refill(s);
}

void
bench_slot_fail(struct slot *s, const char *why)
{
	struct bench *b = s->s_b;
	enum bench_mode m = b->b_o.o_mode;
	enum slot_state was = s->s_st;
	unsigned i;

	if (was == SL_DEAD || was == SL_IDLE)
		return;
	bench_err(b, "%s", why);
	if (b->b_o.o_target == TGT_PG)
		pg_close(s);
	else
		tconn_close(s);
	for (i = 0; i < s->s_flcap; i++)
		s->s_fl[i].fl_id = 0;
	b->b_err_total += s->s_nfl;
	s->s_nfl = 0;
	s->s_fifo_head = 0;
	if (m == MODE_HANDSHAKE || m == MODE_RESUME) {
		/* A failed handshake is a non-OK answer; go on with the next. */
		b->b_err_total++;
		if (b->b_phase == PH_MEASURE)
			b->b_st[0].os_err++;
		s->s_st = SL_IDLE;	/* the loop reconnects it next turn */
		return;
	}
	s->s_st = SL_DEAD;
	if (was == SL_READY) {
		b->b_conn_lost++;
		b->b_ready--;
	} else {
		b->b_conn_failed++;
		b->b_connecting--;
		bench_connect_next(b);
	}
}

static void
bench_slot_connect(struct slot *s)
{
	s->s_b->b_connecting++;
	if (s->s_b->b_o.o_target == TGT_PG)
		(void)pg_connect(s);
	else
		(void)tconn_connect(s);
}

/*
 * While connecting: keep o_connect_conc handshakes going. A connect that
 * fails at once calls back in here; the outer call's loop goes on instead.
 */
static void
bench_connect_next(struct bench *b)
{
	static int busy;

	if (busy)
		return;
	busy = 1;
	while (b->b_phase == PH_SETUP && b->b_next_connect < b->b_o.o_conns &&
	    b->b_connecting < b->b_o.o_connect_conc)
		bench_slot_connect(&b->b_slots[b->b_next_connect++]);
	busy = 0;
}

/* ---------------------------------------------------------------- loop */

static void
loop_once(struct bench *b, int timeout_ms)
{
	struct epoll_event ev[BENCH_EPOLL_EVENTS];
	int n, i;

	n = epoll_wait(b->b_ep, ev, BENCH_EPOLL_EVENTS, timeout_ms);
	if (n == -1) {
		if (errno == EINTR)
			return;
		fatalx("epoll_wait: %s", strerror(errno));
	}
	for (i = 0; i < n; i++) {
		struct slot *s = ev[i].data.ptr;

		if (s == NULL) {	/* the open-loop timer */
			uint64_t x;

			if (read(b->b_tfd, &x, sizeof(x)) < 0 && errno != EAGAIN)
				fatalx("timerfd: %s", strerror(errno));
			ol_dispatch(b);
			continue;
		}
		if (b->b_o.o_target == TGT_PG)
			pg_event(s, ev[i].events);
		else
			tconn_event(s, ev[i].events);
	}
	if ((b->b_o.o_mode == MODE_HANDSHAKE || b->b_o.o_mode == MODE_RESUME) &&
	    bench_loading(b)) {
		for (i = 0; i < b->b_o.o_conns; i++)
			if (b->b_slots[i].s_st == SL_IDLE)
				(void)tconn_connect(&b->b_slots[i]);
	}
}

/* Runs the loop until done(b) or the deadline (ns, 0: none). */
static void
loop_until(struct bench *b, int64_t deadline, int (*done)(struct bench *))
{
	for (;;) {
		int64_t now = bench_now(), left;
		int ms = 100;

		if (bench_stop || (done != NULL && done(b)))
			return;
		if (deadline != 0) {
			if (now >= deadline)
				return;
			left = (deadline - now + 999999) / 1000000;
			if (left < ms)
				ms = (int)left;
		}
		loop_once(b, ms);
	}
}

static int
done_connecting(struct bench *b)
{
	return b->b_connecting == 0 && b->b_next_connect >= b->b_o.o_conns;
}

static int
done_drained(struct bench *b)
{
	int i;

	for (i = 0; i < b->b_o.o_conns; i++) {
		struct slot *s = &b->b_slots[i];

		if (s->s_nfl > 0 || s->s_st == SL_CONNECTING ||
		    s->s_st == SL_HANDSHAKE || s->s_st == SL_CLOSING)
			return 0;
	}
	return 1;
}

static int
done_populated(struct bench *b)
{
	long target = b->b_o.o_target == TGT_EENPLAN ? b->b_o.o_populate :
	    (long)b->b_nhh;

	return b->b_pop_done >= target || b->b_ready == 0;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

struct window {
	double		 w_seconds;
	double		 w_cpu;		/* client CPU seconds in the window */
	double		 w_server_cpu;	/* server CPU seconds, -1 unknown */
	double		 w_machine_cpu;	/* the whole machine's, -1 unknown */
	double		 w_steal;	/* of it, stolen by the host (CPU s) */
};

static void
bench_start_load(struct bench *b)
{
	int i;

	b->b_t_start = bench_now();
	b->b_phase = PH_WARMUP;
	b->b_ol_t0 = b->b_t_start;
	if (b->b_o.o_rate > 0) {
		ol_start(b);
		return;
	}
	for (i = 0; i < b->b_o.o_conns; i++) {
		if (b->b_o.o_mode == MODE_HANDSHAKE || b->b_o.o_mode == MODE_RESUME)
			(void)tconn_connect(&b->b_slots[i]);
		else {
			bench_refill(&b->b_slots[i]);
			bench_flush(&b->b_slots[i]);
		}
	}
}

/* Warm-up, the measured window, then the drain. */
static void
bench_measure(struct bench *b, struct window *w)
{
	long long t0 = -1, t1, mb0 = 0, mt0 = 0, ms0 = 0, mb1, mt1, ms1;
	double c0;
	int i, m0;

	loop_until(b, b->b_t_start + (int64_t)(b->b_o.o_warmup * 1e9), NULL);
	for (i = 0; i < BENCH_MAX_OPS; i++)
		memset(&b->b_st[i], 0, sizeof(b->b_st[i]));
	b->b_phase = PH_MEASURE;
	b->b_t_measure = bench_now();
	c0 = cpu_seconds();
	m0 = proc_machine_ticks(&mb0, &mt0, &ms0);
	if (b->b_o.o_watch_pid > 0)
		t0 = proc_cpu_ticks(b->b_o.o_watch_pid);
	loop_until(b, b->b_t_measure + (int64_t)(b->b_o.o_duration * 1e9), NULL);
	b->b_t_end = bench_now();
	b->b_phase = PH_DRAIN;
	w->w_seconds = (double)(b->b_t_end - b->b_t_measure) / 1e9;
	w->w_cpu = cpu_seconds() - c0;
	w->w_server_cpu = -1;
	if (t0 >= 0 && (t1 = proc_cpu_ticks(b->b_o.o_watch_pid)) >= 0)
		w->w_server_cpu = (double)(t1 - t0) / (double)sysconf(_SC_CLK_TCK);
	w->w_machine_cpu = -1;
	w->w_steal = 0;
	if (m0 == 0 && proc_machine_ticks(&mb1, &mt1, &ms1) == 0 &&
	    mt1 > mt0) {
		w->w_machine_cpu = (double)(mb1 - mb0) / (double)(mt1 - mt0) *
		    (double)sysconf(_SC_NPROCESSORS_ONLN) * w->w_seconds;
		w->w_steal = (double)(ms1 - ms0) / (double)(mt1 - mt0) *
		    (double)sysconf(_SC_NPROCESSORS_ONLN) * w->w_seconds;
	}
	loop_until(b, bench_now() + (int64_t)(BENCH_DRAIN_SECONDS * 1e9),
	    done_drained);
	for (i = 0; i < b->b_o.o_conns; i++)
		b->b_unanswered += b->b_slots[i].s_nfl;
	b->b_phase = PH_DONE;
}

/* ---------------------------------------------------------------- output */

static json_t *
json_latency(const struct hist *h)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}",
	    "p50", (double)hist_pct(h, 50) / 1e3,
	    "p90", (double)hist_pct(h, 90) / 1e3,
	    "p99", (double)hist_pct(h, 99) / 1e3,
	    "p99.9", (double)hist_pct(h, 99.9) / 1e3,
	    "max", (double)h->h_max / 1e3,
	    "mean", h->h_count ? (double)h->h_sum / (double)h->h_count / 1e3 : 0.0);
}

static void
print_latency(const char *name, const struct hist *h, uint64_t ok,
    uint64_t err, double secs)
{
	printf("  %-13s %10.0f/s  %9llu ok %6llu non-OK   p50 %7.3f  p90 %7.3f  "
	    "p99 %7.3f  p99.9 %7.3f  max %8.3f ms\n", name,
	    secs > 0 ? (double)ok / secs : 0.0, (unsigned long long)ok,
	    (unsigned long long)err,
	    (double)hist_pct(h, 50) / 1e6, (double)hist_pct(h, 90) / 1e6,
	    (double)hist_pct(h, 99) / 1e6, (double)hist_pct(h, 99.9) / 1e6,
	    (double)h->h_max / 1e6);
}

static const char *
mode_name(enum bench_mode m)
{
	switch (m) {
	case MODE_LOAD:
		return "load";
	case MODE_HANDSHAKE:
		return "handshake";
	case MODE_RESUME:
		return "resume";
	case MODE_POPULATE:
		return "populate";
	case MODE_IDLE:
		return "idle";
	default:
		return "?";
	}
}

static const char *
target_name(enum bench_target t)
{
	switch (t) {
	case TGT_EENPLAN:
		return "eenplan";
	case TGT_REDIS:
		return "redis";
	case TGT_PG:
		return "pg";
	case TGT_TLS:
		return "tls";
	default:
		return "?";
	}
}

static json_t *
json_errors(const struct bench *b)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < b->b_nerr_text; i++)
		json_array_append_new(a, json_pack("{s:s, s:I}", "text",
		    b->b_err_text[i], "count", (json_int_t)b->b_err_count[i]));
	return a;
}

static void
print_errors(const struct bench *b)
{
	int i;

	for (i = 0; i < b->b_nerr_text; i++)
		printf("  error x%llu: %s\n", (unsigned long long)b->b_err_count[i],
		    b->b_err_text[i]);
}

static json_t *
json_base(const struct bench *b)
{
	const struct bench_opts *o = &b->b_o;
	json_t *j, *srv = json_array(), *mix = json_object();
	int i;

	for (i = 0; i < o->o_nservers; i++)
		json_array_append_new(srv, json_string(o->o_servers[i]));
	for (i = 0; i < b->b_nops; i++)
		if (o->o_weights[i] > 0)
			json_object_set_new(mix, b->b_t->t_ops[i],
			    json_integer(o->o_weights[i]));
	j = json_pack("{s:s, s:s, s:s, s:o, s:i, s:i, s:o, s:I, s:i}",
	    "tool", "eenplan-bench", "target", target_name(o->o_target),
	    "mode", mode_name(o->o_mode), "servers", srv,
	    "connections", o->o_conns, "inflight", o->o_inflight,
	    "mix", mix, "households", (json_int_t)b->b_nhh,
	    "connect_failures", b->b_conn_failed);
	if (o->o_label)
		json_object_set_new(j, "label", json_string(o->o_label));
	return j;
}

static void
json_write(const struct bench *b, json_t *j)
{
	if (b->b_o.o_json == NULL) {
		json_decref(j);
		return;
	}
	if (strcmp(b->b_o.o_json, "-") == 0) {
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		printf("\n");
	} else if (json_dump_file(j, b->b_o.o_json, JSON_INDENT(2) |
	    JSON_REAL_PRECISION(6)) != 0)
		fatalx("cannot write %s", b->b_o.o_json);
	json_decref(j);
}

static int
report_load(struct bench *b, const struct window *w)
{
	const struct bench_opts *o = &b->b_o;
	struct hist all;
	json_t *j, *ops = json_object();
	uint64_t ok = 0, err = 0;
	int i, hs = o->o_mode == MODE_HANDSHAKE || o->o_mode == MODE_RESUME;
	const char *const *names = b->b_t->t_ops;

	hist_reset(&all);
	for (i = 0; i < b->b_nops; i++) {
		struct opstat *st = &b->b_st[i];

		if (st->os_ok == 0 && st->os_err == 0 && o->o_weights[i] == 0 &&
		    !hs)
			continue;
		hist_merge(&all, &st->os_h);
		ok += st->os_ok;
		err += st->os_err;
		json_object_set_new(ops, names[i], json_pack("{s:I, s:I, s:f, "
		    "s:o, s:f}", "ok", (json_int_t)st->os_ok, "non_ok",
		    (json_int_t)st->os_err, "per_second", (double)st->os_ok /
		    w->w_seconds, "latency_us", json_latency(&st->os_h),
		    "response_bytes_mean", st->os_ok ? (double)st->os_bytes /
		    (double)st->os_ok : 0.0));
	}
	printf("eenplan-bench: %s %s against %s%s, %d connections x %d in "
	    "flight, %.1f s measured after %.1f s warm-up\n",
	    target_name(o->o_target), mode_name(o->o_mode), o->o_servers[0],
	    o->o_nservers > 1 ? " (and more)" : "", o->o_conns, o->o_inflight,
	    w->w_seconds, o->o_warmup);
	if (o->o_rate > 0)
		printf("  open loop at %.0f requests/s (latency from the scheduled "
		    "time); largest backlog %llu\n", o->o_rate,
		    (unsigned long long)b->b_ol_backlog_max);
	for (i = 0; i < b->b_nops; i++) {
		struct opstat *st = &b->b_st[i];

		if (st->os_ok == 0 && st->os_err == 0 && o->o_weights[i] == 0 &&
		    !hs)
			continue;
		print_latency(names[i], &st->os_h, st->os_ok, st->os_err,
		    w->w_seconds);
	}
	if (b->b_nops > 1 && !hs)
		print_latency("all", &all, ok, err, w->w_seconds);
	printf("  client CPU %.2f cores (%.2f s)", w->w_cpu / w->w_seconds,
	    w->w_cpu);
	if (w->w_server_cpu >= 0)
		printf(", server CPU %.2f cores", w->w_server_cpu / w->w_seconds);
	if (w->w_machine_cpu >= 0)
		printf(", whole machine %.2f of %ld cores (%.2f stolen by "
		    "the host)", w->w_machine_cpu / w->w_seconds,
		    sysconf(_SC_NPROCESSORS_ONLN), w->w_steal / w->w_seconds);
	printf("; non-OK answers %llu (whole run %llu), unanswered %llu, "
	    "connections failed %d, lost %d\n", (unsigned long long)err,
	    (unsigned long long)b->b_err_total,
	    (unsigned long long)b->b_unanswered, b->b_conn_failed,
	    b->b_conn_lost);
	print_errors(b);

	j = json_base(b);
	json_object_set_new(j, "seconds", json_real(w->w_seconds));
	json_object_set_new(j, "warmup_seconds", json_real(o->o_warmup));
	json_object_set_new(j, "ops", ops);
	json_object_set_new(j, "ok", json_integer((json_int_t)ok));
	json_object_set_new(j, "per_second", json_real((double)ok / w->w_seconds));
	json_object_set_new(j, "latency_us", json_latency(&all));
	json_object_set_new(j, "non_ok", json_integer((json_int_t)err));
	json_object_set_new(j, "non_ok_total", json_integer((json_int_t)b->b_err_total));
	json_object_set_new(j, "ok_total", json_integer((json_int_t)b->b_ok_total));
	json_object_set_new(j, "unanswered", json_integer((json_int_t)b->b_unanswered));
	json_object_set_new(j, "connections_lost", json_integer(b->b_conn_lost));
	json_object_set_new(j, "errors", json_errors(b));
	json_object_set_new(j, "client_cpu_cores",
	    json_real(w->w_cpu / w->w_seconds));
	if (w->w_server_cpu >= 0)
		json_object_set_new(j, "server_cpu_cores",
		    json_real(w->w_server_cpu / w->w_seconds));
	if (w->w_machine_cpu >= 0) {
		json_object_set_new(j, "machine_cpu_cores",
		    json_real(w->w_machine_cpu / w->w_seconds));
		json_object_set_new(j, "steal_cpu_cores",
		    json_real(w->w_steal / w->w_seconds));
	}
	if (o->o_rate > 0) {
		json_object_set_new(j, "rate", json_real(o->o_rate));
		json_object_set_new(j, "backlog_max",
		    json_integer((json_int_t)b->b_ol_backlog_max));
	}
	if (hs) {
		json_object_set_new(j, "handshakes_full",
		    json_integer((json_int_t)b->b_st[0].os_ok));
		json_object_set_new(j, "handshakes_resumed",
		    json_integer((json_int_t)b->b_st[1].os_ok));
	}
	json_write(b, j);
	return err == 0 && b->b_err_total == 0 && b->b_unanswered == 0 &&
	    b->b_conn_failed == 0 && b->b_conn_lost == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- modes */

static int
run_load(struct bench *b)
{
	struct window w;

	if (b->b_o.o_mode == MODE_LOAD) {
		bench_connect_next(b);
		loop_until(b, 0, done_connecting);
		info(b, "%d of %d connections ready", b->b_ready, b->b_o.o_conns);
		if (b->b_ready == 0) {
			print_errors(b);
			fatalx("no connection could be made");
		}
	}
	bench_start_load(b);
	bench_measure(b, &w);
	return report_load(b, &w);
}

static int
write_households(const struct bench *b, const char *path)
{
	char tmp[PATH_MAX];
	FILE *f;
	size_t i;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    (f = fopen(tmp, "w")) == NULL)
		return -1;
	for (i = 0; i < b->b_nhh; i++)
		fprintf(f, "%s\n", b->b_hh[i]);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return -1;
	return 0;
}

static int
run_populate(struct bench *b, const char *out)
{
	long target = b->b_o.o_target == TGT_EENPLAN ? b->b_o.o_populate :
	    (long)b->b_nhh;
	int64_t t0, next;
	double secs;
	int i;

	bench_connect_next(b);
	loop_until(b, 0, done_connecting);
	if (b->b_ready == 0) {
		print_errors(b);
		fatalx("no connection could be made");
	}
	if (b->b_o.o_target == TGT_EENPLAN)
		b->b_nhh = 0;
	b->b_phase = PH_MEASURE;
	t0 = bench_now();
	next = t0 + BENCH_PROGRESS_NS;
	for (i = 0; i < b->b_o.o_conns; i++) {
		bench_refill(&b->b_slots[i]);
		bench_flush(&b->b_slots[i]);
	}
	while (!done_populated(b) && !bench_stop) {
		loop_until(b, next, done_populated);
		if (bench_now() >= next) {
			info(b, "populate: %ld of %ld (%.0f/s)", b->b_pop_done,
			    target, (double)b->b_pop_done /
			    ((double)(bench_now() - t0) / 1e9));
			next += BENCH_PROGRESS_NS;
		}
	}
	b->b_phase = PH_DRAIN;
	loop_until(b, bench_now() + (int64_t)(BENCH_DRAIN_SECONDS * 1e9),
	    done_drained);
	secs = (double)(bench_now() - t0) / 1e9;
	printf("eenplan-bench: populated %ld of %ld in %.1f s (%.0f/s), "
	    "non-OK %llu\n", b->b_pop_done, target, secs,
	    (double)b->b_pop_done / secs, (unsigned long long)b->b_err_total);
	print_errors(b);
	if (b->b_o.o_target == TGT_EENPLAN && out != NULL &&
	    write_households(b, out) != 0)
		fatalx("cannot write %s: %s", out, strerror(errno));
	{
		json_t *j = json_base(b);

		json_object_set_new(j, "created", json_integer(b->b_pop_done));
		json_object_set_new(j, "seconds", json_real(secs));
		json_object_set_new(j, "notes_per_household",
		    json_integer(b->b_o.o_notes));
		json_object_set_new(j, "non_ok_total",
		    json_integer((json_int_t)b->b_err_total));
		json_object_set_new(j, "errors", json_errors(b));
		json_write(b, j);
	}
	return b->b_err_total == 0 && b->b_pop_done == target ? 0 : 1;
}

static int
run_idle(struct bench *b)
{
	const struct bench_opts *o = &b->b_o;
	long before, open_kb, closed, self_open;
	int64_t t0;
	double secs;
	int i, held;
	json_t *j;

	before = proc_rss_kb(o->o_watch_pid);
	t0 = bench_now();
	bench_connect_next(b);
	loop_until(b, 0, done_connecting);
	secs = (double)(bench_now() - t0) / 1e9;
	info(b, "%d of %d idle connections open after %.1f s", b->b_ready,
	    o->o_conns, secs);
	loop_until(b, bench_now() + (int64_t)(o->o_settle * 1e9), NULL);
	open_kb = proc_rss_kb(o->o_watch_pid);
	self_open = proc_rss_kb(0);
	held = b->b_ready;
	for (i = 0; i < o->o_conns; i++) {
		struct slot *s = &b->b_slots[i];

		if (s->s_st != SL_READY)
			continue;
		(void)SSL_shutdown(s->s_ssl);	/* best effort close_notify */
		tconn_close(s);
	}
	loop_until(b, bench_now() + (int64_t)(o->o_settle * 1e9), NULL);
	closed = proc_rss_kb(o->o_watch_pid);

	printf("eenplan-bench: %d idle mTLS connections (%d asked; %d failed, "
	    "%d lost while idle), opened in %.1f s\n", held, o->o_conns,
	    b->b_conn_failed, b->b_conn_lost, secs);
	if (o->o_watch_pid > 0 && held > 0)
		printf("  server RSS: before %ld kB, with them open %ld kB "
		    "(%.1f kB per connection), after they closed %ld kB "
		    "(%+.1f %% of before)\n", before, open_kb,
		    (double)(open_kb - before) / held, closed,
		    100.0 * (double)(closed - before) / (double)before);
	printf("  client RSS with them open: %ld kB\n", self_open);
	print_errors(b);
	j = json_base(b);
	json_object_set_new(j, "held", json_integer(held));
	json_object_set_new(j, "open_seconds", json_real(secs));
	json_object_set_new(j, "connections_lost", json_integer(b->b_conn_lost));
	json_object_set_new(j, "server_rss_kb_before", json_integer(before));
	json_object_set_new(j, "server_rss_kb_open", json_integer(open_kb));
	json_object_set_new(j, "server_rss_kb_closed", json_integer(closed));
	if (held > 0)
		json_object_set_new(j, "server_kb_per_connection",
		    json_real((double)(open_kb - before) / held));
	json_object_set_new(j, "errors", json_errors(b));
	json_write(b, j);
	return held == o->o_conns && b->b_conn_lost == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- setup */

static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
"usage: eenplan-bench --server HOST:PORT[,HOST:PORT...] --cert F --key F --ca F\n"
"           [--target eenplan|redis|pg|tls] [--mode load|handshake|resume|populate|idle]\n"
"           [options]\n"
"  --connections N     connections (50)\n"
"  --inflight K        requests in flight per connection (1; pg: 1 only)\n"
"  --mix OP=W,...      operation mix: eenplan get,mutate; redis get,get-audit,\n"
"                      set-audit; pg get-audit,update-audit (default: the first)\n"
"  --households FILE   population: one household id per line\n"
"  --populate P        (mode populate, eenplan) create P households, each by\n"
"                      CreateHousehold + one MutatePlan of --notes notes\n"
"  --out FILE          (mode populate, eenplan) write the ids there\n"
"  --notes N           notes of %d bytes per created household (8)\n"
"  --warmup S          seconds of warm-up, not measured (1)\n"
"  --duration S        seconds measured (5)\n"
"  --rate R            open loop: R requests/s on a fixed schedule; latency\n"
"                      counts from the scheduled time\n"
"  --connect-concurrency C  handshakes at once while connecting (128)\n"
"  --servername NAME   name to verify in the server certificate (default: host)\n"
"  --insecure          do not verify the server certificate\n"
"  --pg-db DB --pg-user USER   PostgreSQL database and role (bench, a.devries)\n"
"  --watch-pid PID     server process: its CPU (and its children's) in the\n"
"                      window; mode idle: its VmRSS before, open, after close\n"
"  --settle S          mode idle: seconds to wait before reading RSS (3)\n"
"  --json FILE|-       write the result as JSON\n"
"  --label TEXT        a label carried into the JSON\n"
"  --seed N            random seed (default: random)\n"
"  -q, --quiet         no progress lines\n", BENCH_NOTE_LEN);
	exit(code);
}

static void
parse_mix(struct bench *b, const char *spec)
{
	char *copy = strdup(spec), *tok, *save = NULL, *eq;
	int i, any = 0;

	if (copy == NULL)
		fatalx("out of memory");
	memset(b->b_o.o_weights, 0, sizeof(b->b_o.o_weights));
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			fatalx("--mix: expected OP=WEIGHT, got \"%s\"", tok);
		*eq++ = '\0';
		for (i = 0; i < b->b_nops; i++)
			if (strcmp(b->b_t->t_ops[i], tok) == 0)
				break;
		if (i == b->b_nops)
			fatalx("--mix: %s has no operation \"%s\"", b->b_t->t_name,
			    tok);
		b->b_o.o_weights[i] = (unsigned)parse_long(eq, 0, 1000000,
		    "--mix weight");
		any |= b->b_o.o_weights[i] > 0;
	}
	free(copy);
	if (!any)
		fatalx("--mix: no operation has a weight");
}

static void
load_households(struct bench *b, const char *path)
{
	char line[256];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		fatalx("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n == 0)
			continue;
		if (n != BENCH_HHID_LEN || strspn(line, "0123456789abcdef") != n)
			fatalx("%s: not a household id: \"%s\"", path, line);
		if (b->b_nhh == b->b_hh_cap) {
			size_t cap = b->b_hh_cap ? b->b_hh_cap * 2 : 1024;
			void *p = realloc(b->b_hh, cap * sizeof(*b->b_hh));

			if (p == NULL)
				fatalx("out of memory");
			b->b_hh = p;
			b->b_hh_cap = cap;
		}
		memcpy(b->b_hh[b->b_nhh++], line, BENCH_HHID_LEN + 1);
	}
	fclose(f);
	if (b->b_nhh == 0)
		fatalx("%s: no household ids", path);
}

static void
resolve_servers(struct bench *b)
{
	struct addrinfo hints, *res;
	int i, rc;

	for (i = 0; i < b->b_o.o_nservers; i++) {
		if (bench_hostport(b->b_o.o_servers[i], b->b_host[i],
		    sizeof(b->b_host[i]), b->b_port[i], sizeof(b->b_port[i])) != 0)
			fatalx("--server: expected HOST:PORT, got \"%s\"",
			    b->b_o.o_servers[i]);
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		if ((rc = getaddrinfo(b->b_host[i], b->b_port[i], &hints, &res))
		    != 0)
			fatalx("%s: %s", b->b_o.o_servers[i], gai_strerror(rc));
		memcpy(&b->b_addr[i], res->ai_addr, res->ai_addrlen);
		b->b_addrlen[i] = res->ai_addrlen;
		freeaddrinfo(res);
	}
}

static void
raise_nofile(int need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= (rlim_t)need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)need ?
	    (rlim_t)need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < (rlim_t)need)
		fatalx("%d connections need %d file descriptors; the hard limit "
		    "is %llu", need - 64, need, (unsigned long long)rl.rlim_max);
}

static void
make_payloads(struct bench *b)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz      ";
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	b->b_notes_len = 64 * 1024;
	if ((b->b_notes = malloc(b->b_notes_len)) == NULL)
		fatalx("out of memory");
	for (i = 0; i < b->b_notes_len; i++)
		b->b_notes[i] = abc[bench_rand(b) % (sizeof(abc) - 1)];
	for (i = 0; i < BENCH_VALUE_LEN; i++)
		b->b_value[i] = b64[bench_rand(b) % 64];
}

static void
on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

enum { OPT_CERT = 256, OPT_KEY, OPT_CA, OPT_TARGET, OPT_MODE, OPT_MIX,
	OPT_HOUSEHOLDS, OPT_POPULATE, OPT_OUT, OPT_NOTES, OPT_WARMUP,
	OPT_DURATION, OPT_RATE, OPT_JSON, OPT_LABEL, OPT_PGDB, OPT_PGUSER,
	OPT_WATCH, OPT_SETTLE, OPT_SEED, OPT_CONC, OPT_SNI, OPT_INSECURE };

static const struct option longopts[] = {
	{ "server", required_argument, NULL, 's' },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "connections", required_argument, NULL, 'c' },
	{ "inflight", required_argument, NULL, 'k' },
	{ "mix", required_argument, NULL, OPT_MIX },
	{ "households", required_argument, NULL, OPT_HOUSEHOLDS },
	{ "populate", required_argument, NULL, OPT_POPULATE },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "notes", required_argument, NULL, OPT_NOTES },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "pg-db", required_argument, NULL, OPT_PGDB },
	{ "pg-user", required_argument, NULL, OPT_PGUSER },
	{ "watch-pid", required_argument, NULL, OPT_WATCH },
	{ "settle", required_argument, NULL, OPT_SETTLE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "connect-concurrency", required_argument, NULL, OPT_CONC },
	{ "servername", required_argument, NULL, OPT_SNI },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void
parse_servers(struct bench_opts *o, char *arg)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(arg, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (o->o_nservers == BENCH_MAX_SERVERS)
			fatalx("--server: at most %d", BENCH_MAX_SERVERS);
		o->o_servers[o->o_nservers++] = tok;
	}
}

static const char *
parse_opts(struct bench *b, int argc, char **argv)
{
	struct bench_opts *o = &b->b_o;
	const char *mix = NULL, *out = NULL;
	int ch;

	o->o_conns = 50;
	o->o_inflight = 1;
	o->o_connect_conc = 128;
	o->o_warmup = 1;
	o->o_duration = 5;
	o->o_notes = 8;
	o->o_settle = 3;
	o->o_pg_db = "bench";
	o->o_pg_user = "a.devries";
	while ((ch = getopt_long(argc, argv, "s:c:k:qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': parse_servers(o, optarg); break;
		case OPT_CERT: o->o_cert = optarg; break;
		case OPT_KEY: o->o_key = optarg; break;
		case OPT_CA: o->o_ca = optarg; break;
		case OPT_TARGET:
			if (strcmp(optarg, "eenplan") == 0) o->o_target = TGT_EENPLAN;
			else if (strcmp(optarg, "redis") == 0) o->o_target = TGT_REDIS;
			else if (strcmp(optarg, "pg") == 0) o->o_target = TGT_PG;
			else if (strcmp(optarg, "tls") == 0) o->o_target = TGT_TLS;
			else fatalx("--target: eenplan, redis, pg or tls");
			break;
		case OPT_MODE:
			if (strcmp(optarg, "load") == 0) o->o_mode = MODE_LOAD;
			else if (strcmp(optarg, "handshake") == 0) o->o_mode = MODE_HANDSHAKE;
			else if (strcmp(optarg, "resume") == 0) o->o_mode = MODE_RESUME;
			else if (strcmp(optarg, "populate") == 0) o->o_mode = MODE_POPULATE;
			else if (strcmp(optarg, "idle") == 0) o->o_mode = MODE_IDLE;
			else fatalx("--mode: load, handshake, resume, populate or idle");
			break;
		case 'c': o->o_conns = (int)parse_long(optarg, 1, 1000000, "--connections"); break;
		case 'k': o->o_inflight = (int)parse_long(optarg, 1, BENCH_MAX_INFLIGHT, "--inflight"); break;
		case OPT_MIX: mix = optarg; break;
		case OPT_HOUSEHOLDS: o->o_households = optarg; break;
		case OPT_POPULATE: o->o_populate = parse_long(optarg, 1, 100000000, "--populate"); break;
		case OPT_OUT: out = optarg; break;
		case OPT_NOTES: o->o_notes = (int)parse_long(optarg, 1, 64, "--notes"); break;
		case OPT_WARMUP: o->o_warmup = parse_double(optarg, 0, 3600, "--warmup"); break;
		case OPT_DURATION: o->o_duration = parse_double(optarg, 0.1, 86400, "--duration"); break;
		case OPT_RATE: o->o_rate = parse_double(optarg, 1, 1e7, "--rate"); break;
		case OPT_JSON: o->o_json = optarg; break;
		case OPT_LABEL: o->o_label = optarg; break;
		case OPT_PGDB: o->o_pg_db = optarg; break;
		case OPT_PGUSER: o->o_pg_user = optarg; break;
		case OPT_WATCH: o->o_watch_pid = parse_long(optarg, 1, INT_MAX, "--watch-pid"); break;
		case OPT_SETTLE: o->o_settle = parse_double(optarg, 0, 600, "--settle"); break;
		case OPT_SEED: o->o_seed = (uint64_t)parse_long(optarg, 1, LONG_MAX, "--seed"); break;
		case OPT_CONC: o->o_connect_conc = (int)parse_long(optarg, 1, 100000, "--connect-concurrency"); break;
		case OPT_SNI: o->o_servername = optarg; break;
		case OPT_INSECURE: o->o_insecure = 1; break;
		case 'q': o->o_quiet = 1; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (o->o_nservers == 0 || !o->o_cert || !o->o_key || !o->o_ca)
		fatalx("--server, --cert, --key and --ca are required (--help)");
	switch (o->o_target) {
	case TGT_EENPLAN: b->b_t = &target_eenplan; break;
	case TGT_REDIS: b->b_t = &target_redis; b->b_fifo = 1; break;
	case TGT_PG: b->b_t = &target_pg; b->b_fifo = 1; break;
	case TGT_TLS: default: b->b_t = &target_tls; break;
	}
	if (o->o_mode == MODE_HANDSHAKE || o->o_mode == MODE_RESUME)
		b->b_t = &target_tls;
	for (b->b_nops = 0; b->b_t->t_ops[b->b_nops] != NULL; b->b_nops++)
		;
	o->o_weights[0] = 1;
	if (mix != NULL)
		parse_mix(b, mix);
	if (o->o_target == TGT_PG && o->o_inflight != 1)
		fatalx("--target pg: one query in flight per connection (--inflight 1)");
	if (o->o_mode == MODE_LOAD && o->o_target == TGT_TLS)
		fatalx("--target tls only does --mode handshake or resume");
	if (o->o_mode == MODE_IDLE && o->o_target != TGT_EENPLAN)
		fatalx("--mode idle is for --target eenplan");
	if (o->o_mode == MODE_POPULATE) {
		if (o->o_target == TGT_EENPLAN && (o->o_populate == 0 || !out))
			fatalx("--mode populate needs --populate P and --out FILE");
		if (o->o_target != TGT_EENPLAN && o->o_target != TGT_REDIS)
			fatalx("--mode populate: eenplan or redis");
		if (o->o_target == TGT_REDIS && !o->o_households)
			fatalx("--mode populate --target redis needs --households");
	}
	if (o->o_mode == MODE_LOAD && !o->o_households)
		fatalx("--mode load needs --households FILE (make one with "
		    "--mode populate)");
	return out;
}

int
main(int argc, char **argv)
{
	struct bench *b;
	struct epoll_event ev;
	const char *out;
	int i, rc, resume;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatalx("out of memory");
	out = parse_opts(b, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (b->b_o.o_seed)
		b->b_rng = b->b_o.o_seed;
	else if (RAND_bytes((unsigned char *)&b->b_rng, sizeof(b->b_rng)) != 1)
		b->b_rng = (uint64_t)bench_now();
	if (b->b_rng == 0)
		b->b_rng = 1;
	make_payloads(b);
	if (b->b_o.o_households)
		load_households(b, b->b_o.o_households);
	resolve_servers(b);
	raise_nofile(b->b_o.o_conns + 64);
	if (b->b_o.o_target == TGT_REDIS && redis_init() != 0)
		fatalx("cannot hash the redis scripts");
	resume = b->b_o.o_mode == MODE_RESUME;
	if (b->b_o.o_target != TGT_PG) {
		char err[256];

		b->b_ctx = tconn_ctx(&b->b_o, b->b_o.o_target == TGT_EENPLAN ?
		    "eenplan/1" : NULL, resume, err, sizeof(err));
		if (b->b_ctx == NULL)
			fatalx("TLS set-up: %s", err);
	}
	if ((b->b_ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatalx("epoll_create1: %s", strerror(errno));
	if ((b->b_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) == -1)
		fatalx("timerfd_create: %s", strerror(errno));
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(b->b_ep, EPOLL_CTL_ADD, b->b_tfd, &ev) == -1)
		fatalx("epoll_ctl: %s", strerror(errno));
	if ((b->b_slots = calloc((size_t)b->b_o.o_conns, sizeof(*b->b_slots))) ==
	    NULL)
		fatalx("out of memory");
	for (i = 0; i < b->b_o.o_conns; i++) {
		struct slot *s = &b->b_slots[i];

		s->s_b = b;
		s->s_idx = i;
		s->s_fd = -1;
		s->s_server = i % b->b_o.o_nservers;
		s->s_flcap = (unsigned)b->b_o.o_inflight + 2;
		if ((s->s_fl = calloc(s->s_flcap, sizeof(*s->s_fl))) == NULL)
			fatalx("out of memory");
		s->s_in.b_max = BENCH_BUF_MAX;
		s->s_out.b_max = BENCH_BUF_MAX;
	}
	b->b_phase = PH_SETUP;
	switch (b->b_o.o_mode) {
	case MODE_POPULATE:
		rc = run_populate(b, out);
		break;
	case MODE_IDLE:
		rc = run_idle(b);
		break;
	case MODE_LOAD:
	case MODE_HANDSHAKE:
	case MODE_RESUME:
	default:
		rc = run_load(b);
		break;
	}
	fflush(stdout);
	/* Leave without tearing down thousands of connections one by one. */
	_exit(bench_stop ? 130 : rc);
}
