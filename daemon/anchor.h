/*
 * anchor: the audit chain's head (sequence number and hash) kept outside
 * the store — in the log and in a small head file beside the data file —
 * so that a store rolled back to an older, consistent state (an old copy
 * put back, LMDB opening its previous meta page) is noticed: at start (the
 * store's head behind the file's is refused) and by `audit verify
 * --expect SEQ:HASH` against a head taken from elsewhere.
 *
 * The file is one line, "SEQ:HASH\n" (HASH in 64 lower-case hex digits),
 * the form `audit head` prints and --expect takes. It only ever names a
 * head that is durable in the store, and may lag it: the check is "the
 * store's head is at or past the file's, and its chain passes through it".
 */
#ifndef EENPLAN_ANCHOR_H
#define EENPLAN_ANCHOR_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "config.h"
#include "store.h"

#define ANCHOR_TEXT_MAX		(20 + 1 + 2 * AUDIT_HASH_LEN + 1)
#define ANCHOR_FILE_DEFAULT	"audit.head"	/* in data_dir */
#define ANCHOR_INTERVAL_US	1000000		/* at most one write per second */

/* The head file of conf: [audit] head_file, or data_dir/audit.head. */
int	anchor_path(const struct config *, char *buf, size_t len)
	    __attribute__((warn_unused_result));

/* "SEQ:HASH" of h into buf (ANCHOR_TEXT_MAX). */
void	anchor_format(const struct audit_head *, char *buf, size_t len);
/* Parses "SEQ:HASH" (spaces and a newline around it allowed). 0 or -1. */
int	anchor_parse(const char *s, struct audit_head *)
	    __attribute__((warn_unused_result));

/*
 * Reads the head file: 0 with *present 0 when there is none, 1 with the
 * head; -1 with err when it cannot be read or is not a head.
 */
int	anchor_read(const char *path, struct audit_head *, int *present,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * Writes it durably: a temporary file beside it, fsync, rename, fsync of
 * the directory. 0, or -1 with err.
 */
int	anchor_write(const char *path, const struct audit_head *, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/*
 * Does the store's chain (read through t) reach head? 0 when the store's
 * own head is at or past it and the record at head's sequence has head's
 * hash (or head is the base left by a retention purge); 1 when the
 * store's head is behind it (rolled back); 2 when the record there has
 * another hash (another or rewritten chain); 3 when head is older than
 * the oldest record kept (purged: cannot tell); < 0 a STORE_* error. The
 * store's head goes to *store_head, a message to msg.
 */
int	anchor_compare(struct stxn *, const struct audit_head *head,
	    struct audit_head *store_head, char *msg, size_t msglen)
	    __attribute__((warn_unused_result));

/*
 * At start: compares the store with its head file. Refused (-1, err
 * naming both heads) when the store is behind the file or its chain does
 * not pass through the file's head, unless accept_rollback: then it is
 * logged and the file rewritten to the store's head. A missing file is
 * written. 0 when the daemon may go on.
 */
int	anchor_startup(struct store *, const char *path, int accept_rollback,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * The running daemon's anchor: a thread that, at most once a second when
 * the head moved, flushes the store (so the file never names a head that
 * is not durable yet), writes the head file and logs the head at info.
 * anchor_committed is the writer's hook after each commit: it only copies
 * the head under a mutex. anchor_stop writes and logs the last head.
 */
struct anchor;
struct anchor *anchor_start(struct store *, const char *path,
	    char *err, size_t errlen);
void	anchor_committed(const struct audit_head *, void *anchor);
void	anchor_stop(struct anchor *);
/* Times the thread woke from a wait (for tests: not one per commit). */
uint64_t anchor_wakeups(struct anchor *);

#endif
