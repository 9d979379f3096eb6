#include "clirun.h"
#include "clifhir.h"

int
clifhir_run(struct ep_client *cl, struct cliopt *o)
{
	(void)cl;
	(void)o;
	return EXIT_REFUSED;
}
