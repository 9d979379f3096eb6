/* cliconn: connection settings of the eenplan CLI (see cliconn.h). */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cliconn.h"
#include "eenplan_client.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static int
usage(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

struct conf {
	struct cliconn	*cf_conn;
	const char		*cf_dir;	/* of the config file, for relative paths */
	char			*cf_server;
	char			*cf_cert;
	char			*cf_key;
	char			*cf_ca;
	char			*cf_pki;
	char			 cf_bad[64];
};

static char *
conn_own(struct cliconn *c, const char *a, const char *b, const char *d)
{
	char *p;

	if (c->c_nstrs >= NELEM(c->c_strs) ||
	    asprintf(&p, "%s%s%s", a, b ? b : "", d ? d : "") == -1)
		return NULL;
	c->c_strs[c->c_nstrs++] = p;
	return p;
}

static int
conf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct conf *cf = user;
	char **slot;
	int is_path = 1;

	if (section[0] != '\0') {
		snprintf(cf->cf_bad, sizeof(cf->cf_bad), "[%s]", section);
		return 0;
	}
	if (strcmp(name, "server") == 0) {
		slot = &cf->cf_server;
		is_path = 0;
	} else if (strcmp(name, "cert") == 0)
		slot = &cf->cf_cert;
	else if (strcmp(name, "key") == 0)
		slot = &cf->cf_key;
	else if (strcmp(name, "ca") == 0)
		slot = &cf->cf_ca;
	else if (strcmp(name, "pki") == 0)
		slot = &cf->cf_pki;
	else {
		snprintf(cf->cf_bad, sizeof(cf->cf_bad), "%s", name);
		return 0;
	}
	if (value[0] == '\0') {
		snprintf(cf->cf_bad, sizeof(cf->cf_bad), "%s", name);
		return 0;
	}
	if (is_path && value[0] != '/' && cf->cf_dir != NULL)
		*slot = conn_own(cf->cf_conn, cf->cf_dir, "/", value);
	else
		*slot = conn_own(cf->cf_conn, value, NULL, NULL);
	return *slot != NULL;
}

static int
read_config(struct conf *cf, const char *path, int must_exist, char *err,
    size_t errlen)
{
	char *dir, *slash;
	int rc;

	if (!must_exist && access(path, F_OK) == -1 && errno == ENOENT)
		return 0;
	if ((dir = strdup(path)) == NULL)
		return usage(err, errlen, "out of memory");
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	cf->cf_dir = slash != NULL ? dir : NULL;
	rc = ini_parse(path, conf_handler, cf);
	cf->cf_dir = NULL;
	free(dir);
	if (rc == -1)
		return usage(err, errlen, "cannot read config %s: %s", path,
		    strerror(errno));
	if (rc != 0)
		return usage(err, errlen, "config %s line %d: %s%s", path, rc,
		    cf->cf_bad[0] ? "bad or unknown key " : "cannot parse the "
		    "line", cf->cf_bad);
	return 0;
}

static char *
env(const char *name)
{
	char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static char *
pick(char *flag, char *envv, char *file)
{
	return flag ? flag : envv ? envv : file;
}

int
cliconn_settle(const struct cliopt *o, struct cliconn *c, char *err,
    size_t errlen)
{
	struct conf cf;
	char *server, *pki, *home, *xdg;
	char *def = NULL;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	memset(&cf, 0, sizeof(cf));
	cf.cf_conn = c;
	if (o->o_config != NULL) {
		if (read_config(&cf, o->o_config, 1, err, errlen) == -1)
			goto out;
	} else {
		xdg = env("XDG_CONFIG_HOME");
		home = env("HOME");
		if (xdg != NULL && xdg[0] == '/')
			def = conn_own(c, xdg, "/eenplan/client.conf", NULL);
		else if (home != NULL)
			def = conn_own(c, home, "/.config/eenplan/client.conf",
			    NULL);
		if (def != NULL && read_config(&cf, def, 0, err, errlen) == -1)
			goto out;
	}
	server = pick(o->o_server, env("EENPLAN_SERVER"), cf.cf_server);
	if (server == NULL)
		server = CLICONN_DEFAULT_SERVER;
	if (ep_client_split_hostport(server, CLICONN_DEFAULT_PORT, c->c_host,
	    sizeof(c->c_host), c->c_port, sizeof(c->c_port)) == -1) {
		usage(err, errlen, "server '%s': expected HOST:PORT", server);
		goto out;
	}
	pki = pick(o->o_pki, env("EENPLAN_PKI"), cf.cf_pki);
	if (pki == NULL)
		pki = CLICONN_DEFAULT_PKI;
	if (o->o_as != NULL) {
		c->c_cert = conn_own(c, pki, "/people/", o->o_as);
		c->c_key = conn_own(c, pki, "/people/", o->o_as);
		c->c_ca = conn_own(c, pki, "/ca/root.crt", NULL);
		if (c->c_cert == NULL || c->c_key == NULL || c->c_ca == NULL ||
		    (c->c_cert = conn_own(c, c->c_cert, ".crt", NULL)) ==
		    NULL ||
		    (c->c_key = conn_own(c, c->c_key, ".key", NULL)) == NULL) {
			usage(err, errlen, "out of memory");
			goto out;
		}
	} else {
		c->c_cert = pick(NULL, env("EENPLAN_CERT"), cf.cf_cert);
		c->c_key = pick(NULL, env("EENPLAN_KEY"), cf.cf_key);
		c->c_ca = pick(NULL, env("EENPLAN_CA"), cf.cf_ca);
	}
	if (o->o_cert != NULL)
		c->c_cert = o->o_cert;
	if (o->o_key != NULL)
		c->c_key = o->o_key;
	if (o->o_ca != NULL)
		c->c_ca = o->o_ca;
	if (c->c_cert == NULL || c->c_key == NULL || c->c_ca == NULL) {
		usage(err, errlen, "no %s: give --as NAME, or --cert, --key "
		    "and --ca (or EENPLAN_CERT, EENPLAN_KEY, EENPLAN_CA, or "
		    "the config file)", c->c_cert == NULL ? "certificate" :
		    c->c_key == NULL ? "key" : "CA certificate");
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		cliconn_free(c);
	return rc;
}

void
cliconn_free(struct cliconn *c)
{
	size_t i;

	for (i = 0; i < c->c_nstrs; i++)
		free(c->c_strs[i]);
	c->c_nstrs = 0;
	c->c_cert = c->c_key = c->c_ca = NULL;
}

const char *
cliconn_pki(const char *flag)
{
	const char *pki = flag != NULL ? flag : env("EENPLAN_PKI");

	return pki != NULL ? pki : CLICONN_DEFAULT_PKI;
}
