/*
 * clicmd: the one table of eenplan's subcommands. A row holds everything
 * about one subcommand — its words, arguments, options, help line, the
 * request it sends, the answer it expects, how it prints and how it runs —
 * so a new subcommand is one row (and its functions), nothing else.
 */
#ifndef EENPLAN_CLICMD_H
#define EENPLAN_CLICMD_H

#include <stdint.h>
#include <stdio.h>

#include "cliopt.h"
#include "clireq.h"
#include "eenplan_client.h"

/* cc_flags */
#define CC_MANY_DOMAINS	0x01	/* --domain may repeat */
#define CC_MANY_MEMBERS	0x02	/* --member may repeat */
#define CC_TO_SUBJECT	0x04	/* --to needs ORG/SUBJECT */
#define CC_UNTIL_DAY	0x08	/* --until includes its day */
#define CC_OWNS_CONN	0x10	/* the runner takes the connection over (it reconnects) */

/* Prints an OK answer as text; 0, or -1 when the answer is incomplete. */
typedef int	clicmd_print_fn(FILE *, const struct cliopt *,
		    const EpResponse *, int64_t now_us);
/* Runs the subcommand over a connection; returns the exit status. */
typedef int	clicmd_run_fn(struct ep_client *, struct cliopt *);

/*
 * cc_pos: positional arguments after the words. H household id, h household
 * id unless --org, O optional household id, G goal id, A action id, R grant
 * id, S goal status, V plan version, v optional plan version.
 */
struct clicmd {
	const char	*cc_w1;
	const char	*cc_w2;		/* NULL: one word */
	enum cliopt_cmd	 cc_cmd;
	int		 cc_status;	/* the goal/action status it sets */
	const char	*cc_pos;
	uint64_t	 cc_allowed;	/* CLIOPT_BIT per option */
	uint64_t	 cc_required;
	unsigned	 cc_flags;
	const char	*cc_help;	/* usage after the words */
	void		(*cc_build)(struct cliopt *, struct clireq *);
	int		 cc_body;	/* the Response body case it expects */
	clicmd_print_fn	*cc_print;
	clicmd_run_fn	*cc_run;	/* NULL: one request, printed */
};

/* The table and its length. */
extern const struct clicmd clicmd_table[];
extern const size_t clicmd_count;

/* The row of a subcommand. */
const struct clicmd *clicmd_of(enum cliopt_cmd cmd);

/* The usage text, made from the table. */
void	clicmd_usage(FILE *f);
/* The grammar as JSON (help --json): subcommands, their arguments, options. */
int	clicmd_usage_json(FILE *f);

#endif
