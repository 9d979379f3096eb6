#include "clirun.h"
#include "cliprogress.h"

int
cliprogress_run(struct ep_client *cl, struct cliopt *o)
{
	(void)cl;
	(void)o;
	return EXIT_REFUSED;
}
