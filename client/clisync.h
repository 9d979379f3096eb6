/*
 * clisync: the CLI's followers of the change feed, on eenplan_sync —
 * `watch` (live events for a person, or JSON lines), `changes --follow`,
 * and `sync --dir DIR`, a partner's mirror: one JSON file per household it
 * may read, holding exactly what GetPlan gives it, and the cursor, all
 * written atomically; a file goes when access ends.
 */
#ifndef EENPLAN_CLISYNC_H
#define EENPLAN_CLISYNC_H

#include "cliopt.h"
#include "eenplan_client.h"

/* In DIR besides the households' files. */
#define CLISYNC_CURSOR	".cursor"
#define CLISYNC_LOCK	".lock"
#define CLISYNC_TMP	".tmp-"		/* prefix of files being written */

/* Runners (the table's CC_OWNS_CONN rows): they take cl over. */
int	clisync_watch(struct ep_client *cl, struct cliopt *o);
int	clisync_follow(struct ep_client *cl, struct cliopt *o);
int	clisync_mirror(struct ep_client *cl, struct cliopt *o);

#endif
