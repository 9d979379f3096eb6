#include "clirun.h"
#include "clidiff.h"

int
clidiff_run(struct ep_client *cl, struct cliopt *o)
{
	(void)cl;
	(void)o;
	return EXIT_REFUSED;
}
