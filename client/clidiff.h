/*
 * clidiff: `eenplan plan diff` — what changed in a plan between two
 * versions (status, regisseur, members, goals, actions, scores, targets,
 * notes, escalations), as the reader sees both: each version comes from
 * GetPlan, which the server filters to the reader's scope.
 */
#ifndef EENPLAN_CLIDIFF_H
#define EENPLAN_CLIDIFF_H

#include <stdio.h>

#include <jansson.h>

#include "cliopt.h"
#include "eenplan_client.h"
#include "wire.h"

/* The runner the subcommand table names. */
int	clidiff_run(struct ep_client *, struct cliopt *);

/*
 * The changes from a to b (both GetPlan answers of one household) as JSON:
 * { household_id, from_version, to_version, your_scope, changes, status?,
 * area?, regisseur?, members, goals, actions, scores, targets, notes,
 * escalations }. NULL when out of memory.
 */
json_t	*clidiff_json(const Eenplan__V1__GetPlanResponse *a,
	    const Eenplan__V1__GetPlanResponse *b);
/* The same diff as text for a person. */
void	clidiff_text(FILE *f, const json_t *diff);

#endif
