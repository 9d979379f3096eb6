#ifndef EENPLAN_CLIFHIR_H
#define EENPLAN_CLIFHIR_H

#include "cliopt.h"
#include "eenplan_client.h"

int	clifhir_run(struct ep_client *, struct cliopt *);

#endif
