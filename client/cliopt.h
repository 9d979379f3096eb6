/*
 * cliopt: the eenplan command line — options, subcommands, the connection
 * settings (flags over environment over config file) and the request each
 * subcommand sends. No network, no output: all of it is checked before the
 * CLI connects, and all of it can be unit-tested.
 */
#ifndef EENPLAN_CLIOPT_H
#define EENPLAN_CLIOPT_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define CLIOPT_MAX_MEMBERS	16
#define CLIOPT_MAX_WORDS	8
#define CLIOPT_MAX_STRS		64
#define CLIOPT_DEFAULT_SERVER	"127.0.0.1:7411"
#define CLIOPT_DEFAULT_PORT	"7411"
#define CLIOPT_DEFAULT_PKI	"certs/demo"
#define CLIOPT_HH_LEN		32

enum cliopt_cmd {
	CMD_NONE = 0,
	CMD_HELP,
	CMD_WHOAMI,
	CMD_HOUSEHOLD_CREATE,
	CMD_HOUSEHOLDS,
	CMD_PLAN_SHOW,
	CMD_GOAL_ADD,
	CMD_GOAL_STATUS,
	CMD_ACTION_ADD,
	CMD_ACTION_STATUS,	/* accept, start, done, cancel */
	CMD_NOTE_ADD,
	CMD_ASSESS,
	CMD_TARGET,
	CMD_MEMBER_ADD,
	CMD_HISTORY,
	CMD_CONSENT_GRANT,
	CMD_CONSENT_REVOKE,
	CMD_CONSENT_LIST,
	CMD_REGIE_TRANSFER,
	CMD_BREAKGLASS,
	CMD_ESCALATE,
	CMD_CLOSE,
	CMD_AUDIT,
	CMD_AFSCHRIFT,
	CMD_CHANGES
};

/* What a run asks for, all checked. Strings point into argv or o_strs. */
struct cliopt {
	enum cliopt_cmd	 o_cmd;
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
	uint64_t	 o_version;
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
	int		 o_access;
	int64_t		 o_from;		/* microseconds, 0: not given */
	int64_t		 o_until;
	char		*o_purpose;
	char		*o_form_ref;
	char		*o_reason;
	char		*o_output;
	int		 o_all;
	int		 o_all_pages;
	int		 o_org;
	int		 o_follow;

	char		*o_strs[CLIOPT_MAX_STRS];	/* owned copies */
	size_t		 o_nstrs;
};

/* Where to connect and with what, after config file, environment and flags. */
struct cliopt_conn {
	char	c_host[256];
	char	c_port[8];
	char	*c_cert;
	char	*c_key;
	char	*c_ca;
	char	*c_strs[16];
	size_t	 c_nstrs;
};

/* Storage for any request the CLI sends; filled by cliopt_build. */
struct cliopt_req {
	EpRequest					r_req;
	Eenplan__V1__WhoAmIRequest			r_whoami;
	Eenplan__V1__CreateHouseholdRequest		r_create;
	EpMember					*r_memberp[CLIOPT_MAX_MEMBERS];
	Eenplan__V1__ListHouseholdsRequest		r_list;
	Eenplan__V1__GetPlanRequest			r_get_plan;
	Eenplan__V1__MutatePlanRequest			r_mutate;
	EpMutation					r_mut;
	EpMutation					*r_mutp;
	Eenplan__V1__AddGoal				r_add_goal;
	Eenplan__V1__SetGoalStatus			r_goal_status;
	Eenplan__V1__AddAction				r_add_action;
	Eenplan__V1__SetActionStatus			r_action_status;
	Eenplan__V1__AddNote				r_add_note;
	Eenplan__V1__AddAssessment			r_add_assessment;
	Eenplan__V1__SetTargetScore			r_target;
	Eenplan__V1__AddMember				r_add_member;
	EpMember					r_member;
	Eenplan__V1__GetHistoryRequest			r_history;
	Eenplan__V1__GrantConsentRequest		r_grant_req;
	EpGrant						r_grant;
	Eenplan__V1__Domain				r_scope[13];
	Eenplan__V1__RevokeConsentRequest		r_revoke;
	Eenplan__V1__ListConsentRequest			r_list_consent;
	Eenplan__V1__TransferRegieRequest		r_regie;
	Eenplan__V1__BreakGlassRequest			r_break_glass;
	Eenplan__V1__EscalateRequest			r_escalate;
	Eenplan__V1__CloseHouseholdRequest		r_close;
	Eenplan__V1__QueryAuditRequest			r_audit;
	Eenplan__V1__ReadChangesRequest			r_changes;
};

/*
 * Parses the whole command line (argv[0] is the program). 0, or -1 with a
 * usage error for a person in err. o must be released with cliopt_free.
 */
int	cliopt_parse(struct cliopt *o, int argc, char **argv, char *err,
	    size_t errlen) __attribute__((warn_unused_result));
void	cliopt_free(struct cliopt *o);

/*
 * Settles the connection: the config file (o_config, else
 * $XDG_CONFIG_HOME/eenplan/client.conf or ~/.config/eenplan/client.conf if it
 * exists), then EENPLAN_SERVER / _CERT / _KEY / _CA / _PKI, then the flags;
 * --as NAME means PKI/people/NAME.crt and .key and PKI/ca/root.crt.
 * Relative paths in the config file are relative to its directory.
 * 0, or -1 with a usage error in err.
 */
int	cliopt_connection(const struct cliopt *o, struct cliopt_conn *c,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
void	cliopt_conn_free(struct cliopt_conn *c);

/* Fills r with the (first) request of o's subcommand; r points into o. */
void	cliopt_build(struct cliopt *o, struct cliopt_req *r);

/* The usage text. */
const char *cliopt_usage(void);

/* Decimal in [min, max], nothing else (no sign, space or suffix). 0 or -1. */
int	cliopt_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
	    __attribute__((warn_unused_result));
/* "YYYY-MM-DD", a real date from 1970 to 9999, as microseconds at 00:00 UTC. */
int	cliopt_date(const char *s, int64_t *us)
	    __attribute__((warn_unused_result));
/* A household id: 32 hex characters, stored lower-case in out. */
int	cliopt_household_id(const char *s, char out[CLIOPT_HH_LEN + 1])
	    __attribute__((warn_unused_result));

#endif
