/*
 * migrate: brings a schema-1 store (the first release: whole plans per
 * version, nothing sealed) to schema 2 in place — a household, its
 * versions as deltas and snapshots, its grants and index entries in one
 * transaction with the removal of its old entries, so a store cut off half
 * way (kill -9) goes on where it stopped at the next start; then the audit
 * log and the change feed, sealed. Every old version is checked to read
 * back identically (a version whose replay would differ is kept whole).
 */
#ifndef EENPLAN_MIGRATE_H
#define EENPLAN_MIGRATE_H

#include "household.h"
#include "store.h"

/* 1 when st needs migrate_store before it is used. */
int	migrate_needed(struct store *);
/* Migrates, batch households per transaction (0: 64). 0, or -1 with err. */
int	migrate_store(struct store *, const struct household_conf *,
	    unsigned batch, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

#endif
