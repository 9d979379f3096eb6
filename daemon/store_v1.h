/*
 * store_v1: a schema-1 store as the migration reads it (see store_v1.c).
 * Only daemon/migrate.c uses this.
 */
#ifndef EENPLAN_STORE_V1_H
#define EENPLAN_STORE_V1_H

#include "store.h"

/* 1 when the store opened at schema 1 and is not migrated yet. */
int	store_v1_needed(struct store *);
/* The first household left to migrate (text id), or STORE_NOTFOUND. */
int	store_v1_next_household(struct stxn *, char out[33]);
/* A plan as schema 1 stored it: version 0 = current. */
int	store_v1_plan(struct stxn *, const char *hhid, uint64_t version,
	    EpPlan **out);
int	store_v1_history(struct stxn *, const char *hhid, uint64_t version,
	    EpHistoryEntry **out);
int	store_v1_grants(struct stxn *, const char *hhid, EpGrant ***out,
	    size_t *n);
/* Deletes a migrated household's schema-1 entries. */
int	store_v1_household_drop(struct stxn *, const char *hhid,
	    uint64_t versions, EpGrant *const *grants, size_t ngrants);
/* The lowest schema-1 audit record left, or STORE_NOTFOUND. */
int	store_v1_audit_next(struct stxn *, EpAuditRecord **out);
int	store_v1_audit_drop(struct stxn *, const EpAuditRecord *);
int	store_v1_change_next(struct stxn *, EpChangeEvent **out);
int	store_v1_change_drop(struct stxn *, uint64_t seq);
int	store_v1_change_put(struct stxn *, EpChangeEvent *);
/* Drops the schema-1 databases and records schema 2. 0 or -1 with err. */
int	store_v1_finish(struct store *, char *err, size_t errlen);

#endif
