/*
 * quota: a write rate per principal — a token bucket in bytes written to
 * the store (values of the change and its audit record), refilled at rate
 * bytes per second up to burst. A principal over it is refused before its
 * write is queued (RESOURCE_EXHAUSTED naming write_rate), so one user —
 * however legitimate its certificate — cannot fill the store or hold the
 * writer from other households. Thread-safe; in memory only.
 */
#ifndef EENPLAN_QUOTA_H
#define EENPLAN_QUOTA_H

#include <stdint.h>

#include "principal.h"

struct quota;

struct quota *quota_new(uint64_t rate, uint64_t burst);
void	quota_free(struct quota *);
/*
 * 0 when who may write now (its bucket is not in debt); else -1 with
 * *retry_ms how long until it may.
 */
int	quota_check(struct quota *, const struct principal *who, int64_t now_us,
	    uint64_t *retry_ms);
/* Takes bytes from who's bucket (it may go into debt). */
void	quota_charge(struct quota *, const struct principal *who,
	    uint64_t bytes, int64_t now_us);

#endif
