#ifndef EENPLAN_CLIPROGRESS_H
#define EENPLAN_CLIPROGRESS_H

#include "cliopt.h"
#include "eenplan_client.h"

int	cliprogress_run(struct ep_client *, struct cliopt *);

#endif
