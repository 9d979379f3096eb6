/*
 * clicontacts: `eenplan contacts` ("wie doet wat") — who is involved with
 * a household in words a resident understands: the regisseur, the members,
 * each organisation or person the household let in and what each may see,
 * and everyone's open actions with their due dates. Built from GetPlan and
 * ListConsent; a reader who may not list consent gets what it may see and
 * the reason for the rest.
 */
#ifndef EENPLAN_CLICONTACTS_H
#define EENPLAN_CLICONTACTS_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cliopt.h"
#include "eenplan_client.h"
#include "wire.h"

/* The runner the subcommand table names. */
int	clicontacts_run(struct ep_client *, struct cliopt *);

/*
 * The overview as JSON from the plan as the reader got it and the current
 * grants (grants NULL: the reader may not list consent). NULL when out of
 * memory.
 */
json_t	*clicontacts_json(const Eenplan__V1__GetPlanResponse *gp,
	    EpGrant *const *grants, size_t ngrants, int64_t now_us);
/* The same overview as text. */
void	clicontacts_text(FILE *f, const json_t *c);

#endif
