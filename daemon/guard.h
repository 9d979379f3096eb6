/*
 * guard: the data file must not shrink under the running daemon. LMDB maps
 * the file; a page past its end is a SIGBUS on the next read. A thread
 * checks the file against LMDB's last page a few times a second: a short
 * file makes every transaction fail (DATA_LOSS to the requests in flight,
 * nothing written into the hole) and the daemon stop with a clear log line
 * and exit status 1. A read that faults before that check comes round is
 * caught by a SIGBUS handler for the mapped region, which says the same
 * in one line and exits 1 at once. A SIGBUS elsewhere is left as it was.
 * The same thread stops the daemon, exit status 1, once a write or flush
 * of the write-ahead log or a checkpoint failed, or without the log a
 * flush of the data file (store_flush_failed): every write is refused from
 * then on, and the next start recovers from the log, or without it reads
 * the store as the disk holds it.
 */
#ifndef EENPLAN_GUARD_H
#define EENPLAN_GUARD_H

#include "store.h"

#define GUARD_INTERVAL_MS	200
#define GUARD_EXIT		1	/* exit status after a damaged file
					   or a failed log */

struct guard;

/*
 * Installs the SIGBUS handler for st's map and starts the checks. stop is
 * called once, from the guard's thread, when the file is found short: it
 * must only ask the daemon to stop. NULL with err on failure.
 */
struct guard *guard_start(struct store *st, void (*stop)(void *), void *arg,
	    char *err, size_t errlen);
/* Ends the checks (the handler stays until the process ends). */
void	guard_stop(struct guard *);
/* 1 when the guard stopped the daemon (main exits GUARD_EXIT). */
int	guard_tripped(void);

#endif
