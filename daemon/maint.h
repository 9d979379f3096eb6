/*
 * maint: the operator commands that change the store from a second process
 * while no daemon runs on it — purge (the retention purge) and restore (a
 * backup into an empty data directory) — and the data_dir lock they take
 * (the daemon's own, data_dir/eenpland.pid), so that none starts meanwhile.
 */
#ifndef EENPLAN_MAINT_H
#define EENPLAN_MAINT_H

#include "config.h"

/*
 * eenpland -f CONF purge --closed-before YYYY-MM-DD (--dry-run | --apply):
 * prints what is (or would be) removed and a summary. --dry-run reads
 * beside a running daemon; --apply refuses while one runs. Exit status.
 */
int	maint_purge(const struct config *, int argc, char **argv);

/*
 * eenpland -f CONF restore BACKUP_DIR: the backup's data.mdb into
 * data_dir, which must be empty or new, with no daemon on it; the copy is
 * opened with the key and its audit chain verified before it is kept.
 * Exit status.
 */
int	maint_restore(const struct config *, const char *backup_dir);

/*
 * eenpland -f CONF recover: with no daemon on it, opens the store
 * read-write, which restores it after a power cut (its checkpoint and the
 * write-ahead log's transactions after it) or flushes what a killed
 * daemon left in the page cache; says which. Exit status.
 */
int	maint_recover(const struct config *);

#endif
