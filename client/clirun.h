/*
 * clirun: running a subcommand over a connection — one request and its
 * printed answer, or the paged and composite ones (audit, afschrift,
 * changes --follow) — and the helpers the composite subcommands share.
 */
#ifndef EENPLAN_CLIRUN_H
#define EENPLAN_CLIRUN_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cliopt.h"
#include "clireq.h"
#include "eenplan_client.h"

/* Exit status of eenplan. */
#define EXIT_DONE	0
#define EXIT_REFUSED	1	/* refused by the server, or failed */
#define EXIT_USAGE	2
#define EXIT_CONN	3	/* no connection, or the connection failed */

#define CLIRUN_MAX_PAGES	100000	/* a server that pages for ever is stopped here */

/* The runners the subcommand table names. */
int	clirun_simple(struct ep_client *, struct cliopt *);
int	clirun_audit(struct ep_client *, struct cliopt *);
int	clirun_history(struct ep_client *, struct cliopt *);
int	clirun_afschrift(struct ep_client *, struct cliopt *);
int	clirun_changes(struct ep_client *, struct cliopt *);

/* One request; EXIT_DONE with *resp an OK answer with body want, else the
 * exit status (the error already told on stderr). Free *resp in any case. */
int	clirun_call(struct ep_client *cl, EpRequest *req, int want,
	    EpResponse **resp);
/* Tells a refusal on stderr; EXIT_REFUSED. */
int	clirun_refused(const EpResponse *resp);
int	clirun_protocol_error(const char *what);
int	clirun_oom(void);
int64_t	clirun_now(void);

/* Every audit record of r's QueryAudit (all pages, or the first). */
struct clirun_log {
	EpResponse	**l_pages;
	size_t		  l_npages;
	EpAuditRecord	**l_recs;
	size_t		  l_nrecs;
	uint64_t	  l_next;	/* 0: nothing left */
	int		  l_code;	/* status of the last answer; -1: none */
};
int	clirun_audit_collect(struct ep_client *cl, struct clireq *r, int all,
	    struct clirun_log *log);
void	clirun_log_free(struct ep_client *cl, struct clirun_log *log);

/*
 * Writes what fn prints to path through a private (mode 600) temp file
 * renamed into place, so no half file is left; path "-" is stdout.
 * EXIT_DONE or EXIT_REFUSED (told on stderr).
 */
int	clirun_write(const char *path, int (*fn)(FILE *, void *), void *arg);
/* json as indented text to f; 0 or -1. */
int	clirun_json_dump(FILE *f, const json_t *j);

#endif
