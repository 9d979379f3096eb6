/*
 * cliopt: the eenplan command line's grammar — the options, and the parse
 * of argv into one checked struct cliopt for the subcommand named in the
 * subcommand table (clicmd). No network, no output: everything is checked
 * before the CLI connects, and all of it can be unit-tested.
 */
#ifndef EENPLAN_CLIOPT_H
#define EENPLAN_CLIOPT_H

#include <stddef.h>
#include <stdint.h>

#include "clival.h"
#include "wire.h"

#define CLIOPT_MAX_MEMBERS	16
#define CLIOPT_MAX_WORDS	8
#define CLIOPT_MAX_STRS		64
#define CLIOPT_HH_LEN		CLIVAL_HH_LEN

/* Which subcommand; each has one row in the table of clicmd.c. */
enum cliopt_cmd {
	CMD_NONE = 0,
	CMD_HELP,
	CMD_WHOAMI,
	CMD_HOUSEHOLD_CREATE,
	CMD_HOUSEHOLDS,
	CMD_PLAN_SHOW,
	CMD_PLAN_DIFF,
	CMD_GOAL_ADD,
	CMD_GOAL_STATUS,
	CMD_ACTION_ADD,
	CMD_ACTION_STATUS,	/* accept, start, done, cancel */
	CMD_NOTE_ADD,
	CMD_ASSESS,
	CMD_TARGET,
	CMD_MEMBER_ADD,
	CMD_HISTORY,
	CMD_PROGRESS,
	CMD_CONTACTS,
	CMD_CONSENT_GRANT,
	CMD_CONSENT_REVOKE,
	CMD_CONSENT_LIST,
	CMD_REGIE_TRANSFER,
	CMD_BREAKGLASS,
	CMD_ESCALATE,
	CMD_CLOSE,
	CMD_AUDIT,
	CMD_AFSCHRIFT,
	CMD_EXPORT,
	CMD_CHANGES,
	CMD_WATCH,
	CMD_SYNC,
	CMD_SIGNAL_SEND,
	CMD_SIGNALS
};

/* Options of subcommands; each is a bit (CLIOPT_BIT) in a table row. */
enum cliopt_opt {
	OPT_AREA, OPT_MEMBER, OPT_CONSENT_REF, OPT_PAGE_SIZE, OPT_PAGE_TOKEN,
	OPT_VERSION, OPT_DOMAIN, OPT_TEXT, OPT_TARGET_DATE, OPT_EXPECT_VERSION,
	OPT_GOAL, OPT_OWNER, OPT_DUE, OPT_SCORE, OPT_REMARK, OPT_AFTER,
	OPT_LIMIT, OPT_TO, OPT_ACCESS, OPT_FROM, OPT_UNTIL, OPT_PURPOSE,
	OPT_FORM_REF, OPT_ALL, OPT_REASON, OPT_ALL_PAGES, OPT_ORG, OPT_OUTPUT,
	OPT_SINCE, OPT_FOLLOW, OPT_SVG, OPT_FHIR, OPT_DIR, OPT_ONCE, OPT_TEAM,
	OPT_NCMD,
	/* connection and output: valid with every subcommand */
	OPT_SERVER = OPT_NCMD, OPT_CERT, OPT_KEY, OPT_CA, OPT_AS, OPT_PKI,
	OPT_CONFIG, OPT_JSON, OPT_HELP,
	OPT_COUNT
};

#define CLIOPT_BIT(x)	((uint64_t)1 << (x))

/* What an option's value is, for messages and for completion. */
enum cliopt_kind {
	KIND_FLAG,		/* no value */
	KIND_TEXT,
	KIND_NUMBER,
	KIND_DATE,
	KIND_DOMAIN,
	KIND_AREA,
	KIND_ACCESS,
	KIND_PRINCIPAL,		/* ORG[/SUBJECT] */
	KIND_TEAM,		/* a team inside an organisation */
	KIND_MEMBER,		/* PERSON_ID:NAME[:RELATION] */
	KIND_FILE,
	KIND_DIR,
	KIND_SERVER,
	KIND_NAME		/* a demo person (--as) */
};

struct cliopt_def {
	const char	*od_name;	/* long name, without "--" */
	enum cliopt_kind od_kind;
};

/* The definition of option id (0 <= id < OPT_COUNT). */
const struct cliopt_def *cliopt_def(int id);

struct clicmd;

/* What a run asks for, all checked. Strings point into argv or o_strs. */
struct cliopt {
	enum cliopt_cmd	 o_cmd;
	const struct clicmd *o_def;		/* its row in the table */
	const char	*o_cmdname;		/* "goal add", for messages */
	uint64_t	 o_given;		/* bit per subcommand option given */

	/* connection, as given on the command line (NULL: not given) */
	char		*o_server;
	char		*o_cert;
	char		*o_key;
	char		*o_ca;
	char		*o_as;
	char		*o_pki;
	char		*o_config;
	int		 o_json;

	/* the subcommand's arguments */
	char		 o_hh[CLIOPT_HH_LEN + 1];
	uint64_t	 o_id;			/* goal, action or grant id */
	int		 o_status;		/* goal or action status to set */
	int		 o_area;
	EpMember	 o_members[CLIOPT_MAX_MEMBERS];
	size_t		 o_nmembers;
	char		*o_consent_ref;
	uint32_t	 o_page_size;
	char		*o_page_token;
	uint64_t	 o_version;		/* --version, or plan diff's first */
	uint64_t	 o_version2;		/* plan diff's second; 0: current */
	uint64_t	 o_expect_version;
	int		 o_domain;		/* one --domain; 0: none */
	int		 o_domains[13];		/* consent grant: scope */
	size_t		 o_ndomains;
	char		*o_text;
	char		*o_target_date;
	uint32_t	 o_goal;
	char		*o_owner_org;
	char		*o_owner_subject;
	char		*o_due;
	uint32_t	 o_score;
	char		*o_remark;
	uint64_t	 o_after;
	uint32_t	 o_limit;
	uint64_t	 o_since;
	char		*o_to_org;
	char		*o_to_subject;
	char		*o_to_team;		/* --team: a team in o_to_org */
	int		 o_access;
	int64_t		 o_from;		/* microseconds, 0: not given */
	int64_t		 o_until;
	char		*o_purpose;
	char		*o_form_ref;
	char		*o_reason;
	char		*o_output;
	char		*o_svg;
	int		 o_all;
	int		 o_all_pages;
	int		 o_org;
	int		 o_follow;
	int		 o_fhir;
	char		*o_dir;			/* sync: the mirror's directory */
	int		 o_once;		/* sync: catch up, then exit */

	char		*o_strs[CLIOPT_MAX_STRS];	/* owned copies */
	size_t		 o_nstrs;
};

/*
 * Parses the whole command line (argv[0] is the program). 0, or -1 with a
 * usage error for a person in err. o must be released with cliopt_free.
 */
int	cliopt_parse(struct cliopt *o, int argc, char **argv, char *err,
	    size_t errlen) __attribute__((warn_unused_result));
void	cliopt_free(struct cliopt *o);

#endif
