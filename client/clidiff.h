#ifndef EENPLAN_CLIDIFF_H
#define EENPLAN_CLIDIFF_H

#include "cliopt.h"
#include "eenplan_client.h"

int	clidiff_run(struct ep_client *, struct cliopt *);

#endif
