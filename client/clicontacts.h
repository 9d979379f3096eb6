#ifndef EENPLAN_CLICONTACTS_H
#define EENPLAN_CLICONTACTS_H

#include "cliopt.h"
#include "eenplan_client.h"

int	clicontacts_run(struct ep_client *, struct cliopt *);

#endif
