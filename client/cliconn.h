/*
 * cliconn: where the CLI connects and with which certificate — the config
 * file, then the environment, then the flags. No network.
 */
#ifndef EENPLAN_CLICONN_H
#define EENPLAN_CLICONN_H

#include <stddef.h>

#include "cliopt.h"

#define CLICONN_DEFAULT_SERVER	"127.0.0.1:7411"
#define CLICONN_DEFAULT_PORT	"7411"
#define CLICONN_DEFAULT_PKI	"certs/demo"

struct cliconn {
	char	 c_host[256];
	char	 c_port[8];
	char	*c_cert;
	char	*c_key;
	char	*c_ca;
	char	*c_strs[16];
	size_t	 c_nstrs;
};

/*
 * Settles the connection: the config file (o_config, else
 * $XDG_CONFIG_HOME/eenplan/client.conf or ~/.config/eenplan/client.conf if it
 * exists), then EENPLAN_SERVER / _CERT / _KEY / _CA / _PKI, then the flags;
 * --as NAME means PKI/people/NAME.crt and .key and PKI/ca/root.crt.
 * Relative paths in the config file are relative to its directory.
 * 0, or -1 with a usage error in err; c must be freed with cliconn_free.
 */
int	cliconn_settle(const struct cliopt *o, struct cliconn *c, char *err,
	    size_t errlen) __attribute__((warn_unused_result));
void	cliconn_free(struct cliconn *c);

/* The PKI directory a run would use: flag (may be NULL), EENPLAN_PKI, default. */
const char *cliconn_pki(const char *flag);

#endif
