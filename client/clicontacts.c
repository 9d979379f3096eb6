#include "clirun.h"
#include "clicontacts.h"

int
clicontacts_run(struct ep_client *cl, struct cliopt *o)
{
	(void)cl;
	(void)o;
	return EXIT_REFUSED;
}
