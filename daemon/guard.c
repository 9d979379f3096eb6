/* guard: the data file under the running daemon (see guard.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"
#include "log.h"
#include "util.h"

struct guard {
	struct store	*g_store;
	pthread_t	 g_thread;
	pthread_mutex_t	 g_mtx;
	pthread_cond_t	 g_cond;
	int		 g_stopping;	/* under g_mtx */
	void		(*g_stop)(void *);
	void		*g_arg;
};

static atomic_int	 guard_trip;

/* What the handler needs, set before it is installed. */
static uintptr_t	 guard_map;
static size_t		 guard_maplen;
static char		 guard_msg[512];
static size_t		 guard_msglen;

int
guard_tripped(void)
{
	return atomic_load(&guard_trip);
}

/*
 * Async-signal-safe: one write and _exit. Returning from a fault in the
 * map would only fault again; nothing the process holds can be trusted to
 * unwind from inside LMDB, so it ends here, with a word.
 */
static void
guard_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	ssize_t n;

	(void)uc;
	/*
	 * A page past the end of a mapped file is BUS_ADRERR. The data file's
	 * mapping is known; when it could not be found, any such fault is
	 * taken for it (the daemon maps no other file that can shrink).
	 */
	if ((guard_maplen > 0 && a >= guard_map && a - guard_map <
	    guard_maplen) || (guard_maplen == 0 && si->si_code == BUS_ADRERR)) {
		n = write(STDERR_FILENO, guard_msg, guard_msglen);
		(void)n;
		_exit(GUARD_EXIT);
	}
	/* Not ours: the default action, when the fault comes again. */
	signal(sig, SIG_DFL);
}

static int
guard_handler_install(struct store *st, char *err, size_t errlen)
{
	struct sigaction sa;
	void *addr;
	size_t len;
	int n;

	store_map_range(st, &addr, &len);
	n = snprintf(guard_msg, sizeof(guard_msg), "%slevel=error msg=\"data "
	    "file truncated under the running daemon (SIGBUS reading the "
	    "map): stopping at once\" action=\"restore the store from a "
	    "backup\" exit=%d\n", getenv("JOURNAL_STREAM") != NULL ? "<3>" :
	    "", GUARD_EXIT);
	guard_msglen = n > 0 && (size_t)n < sizeof(guard_msg) ? (size_t)n : 0;
	guard_map = (uintptr_t)addr;
	guard_maplen = len;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = guard_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) == -1) {
		snprintf(err, errlen, "guard: sigaction: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void *
guard_main(void *arg)
{
	struct guard *g = arg;
	struct timespec ts;
	char err[512];
	int rc, failed;

	pthread_mutex_lock(&g->g_mtx);
	while (!g->g_stopping) {
		util_deadline_ms(&ts, GUARD_INTERVAL_MS);
		(void)pthread_cond_timedwait(&g->g_cond, &g->g_mtx, &ts);
		if (g->g_stopping)
			break;
		pthread_mutex_unlock(&g->g_mtx);
		rc = store_check_file(g->g_store, err, sizeof(err));
		pthread_mutex_lock(&g->g_mtx);
		/* Every write (or transaction) fails from now on: say why. */
		if (rc == STORE_CORRUPT)
			log_kv(LOGL_ERROR, "data file damaged under the running "
			    "daemon: stopping", "error=%s action=\"restore the "
			    "store from a backup\" exit=%d", log_q(err),
			    GUARD_EXIT);
		else if ((failed = store_flush_failed(g->g_store)) != 0)
			log_kv(LOGL_ERROR, "a write or flush of the store "
			    "failed: stopping", "action=\"check the disk; %s\" "
			    "exit=%d", failed == 2 ? "the next start restores "
			    "the last checkpoint and replays the write-ahead log" :
			    "the next start reads the store as the disk holds "
			    "it", GUARD_EXIT);
		else
			continue;
		atomic_store(&guard_trip, 1);
		if (g->g_stop != NULL)
			g->g_stop(g->g_arg);
		break;
	}
	pthread_mutex_unlock(&g->g_mtx);
	return NULL;
}

struct guard *
guard_start(struct store *st, void (*stop)(void *), void *arg, char *err,
    size_t errlen)
{
	struct guard *g;
	int rc;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "guard: out of memory");
		return NULL;
	}
	g->g_store = st;
	g->g_stop = stop;
	g->g_arg = arg;
	if (guard_handler_install(st, err, errlen) == -1) {
		free(g);
		return NULL;
	}
	pthread_mutex_init(&g->g_mtx, NULL);
	if ((rc = util_cond_init(&g->g_cond)) != 0) {
		snprintf(err, errlen, "guard: condition: %s", strerror(rc));
		pthread_mutex_destroy(&g->g_mtx);
		free(g);
		return NULL;
	}
	if ((rc = pthread_create(&g->g_thread, NULL, guard_main, g)) != 0) {
		snprintf(err, errlen, "guard: thread: %s", strerror(rc));
		pthread_cond_destroy(&g->g_cond);
		pthread_mutex_destroy(&g->g_mtx);
		free(g);
		return NULL;
	}
	util_thread_name(g->g_thread, "guard");
	return g;
}

void
guard_stop(struct guard *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->g_mtx);
	g->g_stopping = 1;
	pthread_cond_signal(&g->g_cond);
	pthread_mutex_unlock(&g->g_mtx);
	pthread_join(g->g_thread, NULL);
	pthread_cond_destroy(&g->g_cond);
	pthread_mutex_destroy(&g->g_mtx);
	free(g);
}
