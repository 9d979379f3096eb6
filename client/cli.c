/*
 * eenplan: the command-line client of eenpland. One subcommand per run;
 * exit 0 done, 1 refused by the server (or failed), 2 usage error,
 * 3 no connection or the connection failed. See `eenplan help`.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "clicmd.h"
#include "cliconn.h"
#include "clicomplete.h"
#include "cliopt.h"
#include "clirun.h"
#include "eenplan_client.h"

static int
help(const struct cliopt *o)
{
	if (o->o_json)
		return clicmd_usage_json(stdout) == 0 ? EXIT_DONE :
		    EXIT_REFUSED;
	clicmd_usage(stdout);
	return EXIT_DONE;
}

static int
run(const struct cliconn *c, struct cliopt *o)
{
	struct ep_client *cl;
	char err[512];
	int rc;

	cl = ep_client_connect(c->c_host, c->c_port, c->c_cert, c->c_key,
	    c->c_ca, err, sizeof(err));
	if (cl == NULL) {
		fprintf(stderr, "eenplan: %s\n", err);
		return EXIT_CONN;
	}
	rc = o->o_def->cc_run != NULL ? o->o_def->cc_run(cl, o) :
	    clirun_simple(cl, o);
	if (!(o->o_def->cc_flags & CC_OWNS_CONN))
		ep_client_close(cl);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cliopt o;
	struct cliconn c;
	char err[512];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	/* Asked by the shell's completion function: no connection, no errors. */
	if (argc >= 2 && strcmp(argv[1], "__complete") == 0) {
		clicomplete(stdout, argc - 2, argv + 2);
		return EXIT_DONE;
	}
	if (cliopt_parse(&o, argc, argv, err, sizeof(err)) == -1) {
		fprintf(stderr, "eenplan: %s\n", err);
		cliopt_free(&o);
		return EXIT_USAGE;
	}
	if (o.o_cmd == CMD_HELP) {
		rc = help(&o);
		cliopt_free(&o);
		return rc;
	}
	if (cliconn_settle(&o, &c, err, sizeof(err)) == -1) {
		fprintf(stderr, "eenplan: %s\n", err);
		cliopt_free(&o);
		return EXIT_USAGE;
	}
	rc = run(&c, &o);
	cliconn_free(&c);
	cliopt_free(&o);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "eenplan: cannot write the output: %s\n",
		    strerror(errno));
		if (rc == EXIT_DONE)
			rc = EXIT_REFUSED;
	}
	return rc;
}
