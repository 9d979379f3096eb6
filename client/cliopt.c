/* cliopt: command line, connection settings and requests of eenplan (see cliopt.h). */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cliopt.h"
#include "eenplan_client.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define B(x)		((uint64_t)1 << (x))
#define US_PER_DAY	(86400LL * 1000000LL)
#define MAX_RAW_DOMAINS	32

/* Options of subcommands; each is a bit in o_given and in the tables below. */
enum opt_id {
	OPT_AREA, OPT_MEMBER, OPT_CONSENT_REF, OPT_PAGE_SIZE, OPT_PAGE_TOKEN,
	OPT_VERSION, OPT_DOMAIN, OPT_TEXT, OPT_TARGET_DATE, OPT_EXPECT_VERSION,
	OPT_GOAL, OPT_OWNER, OPT_DUE, OPT_SCORE, OPT_REMARK, OPT_AFTER,
	OPT_LIMIT, OPT_TO, OPT_ACCESS, OPT_FROM, OPT_UNTIL, OPT_PURPOSE,
	OPT_FORM_REF, OPT_ALL, OPT_REASON, OPT_ALL_PAGES, OPT_ORG, OPT_OUTPUT,
	OPT_SINCE, OPT_FOLLOW,
	OPT_NCMD,
	/* connection and output: valid with every subcommand */
	OPT_SERVER = OPT_NCMD, OPT_CERT, OPT_KEY, OPT_CA, OPT_AS, OPT_PKI,
	OPT_CONFIG, OPT_JSON, OPT_HELP,
	OPT_COUNT
};

#define OPTVAL(x)	(1000 + (x))

static const struct option long_opts[] = {
	{ "area",		required_argument, NULL, OPTVAL(OPT_AREA) },
	{ "member",		required_argument, NULL, OPTVAL(OPT_MEMBER) },
	{ "consent-ref",	required_argument, NULL, OPTVAL(OPT_CONSENT_REF) },
	{ "page-size",		required_argument, NULL, OPTVAL(OPT_PAGE_SIZE) },
	{ "page-token",		required_argument, NULL, OPTVAL(OPT_PAGE_TOKEN) },
	{ "version",		required_argument, NULL, OPTVAL(OPT_VERSION) },
	{ "domain",		required_argument, NULL, OPTVAL(OPT_DOMAIN) },
	{ "text",		required_argument, NULL, OPTVAL(OPT_TEXT) },
	{ "target-date",	required_argument, NULL, OPTVAL(OPT_TARGET_DATE) },
	{ "expect-version",	required_argument, NULL, OPTVAL(OPT_EXPECT_VERSION) },
	{ "goal",		required_argument, NULL, OPTVAL(OPT_GOAL) },
	{ "owner",		required_argument, NULL, OPTVAL(OPT_OWNER) },
	{ "due",		required_argument, NULL, OPTVAL(OPT_DUE) },
	{ "score",		required_argument, NULL, OPTVAL(OPT_SCORE) },
	{ "remark",		required_argument, NULL, OPTVAL(OPT_REMARK) },
	{ "after",		required_argument, NULL, OPTVAL(OPT_AFTER) },
	{ "limit",		required_argument, NULL, OPTVAL(OPT_LIMIT) },
	{ "to",			required_argument, NULL, OPTVAL(OPT_TO) },
	{ "access",		required_argument, NULL, OPTVAL(OPT_ACCESS) },
	{ "from",		required_argument, NULL, OPTVAL(OPT_FROM) },
	{ "until",		required_argument, NULL, OPTVAL(OPT_UNTIL) },
	{ "purpose",		required_argument, NULL, OPTVAL(OPT_PURPOSE) },
	{ "form-ref",		required_argument, NULL, OPTVAL(OPT_FORM_REF) },
	{ "all",		no_argument,	   NULL, OPTVAL(OPT_ALL) },
	{ "reason",		required_argument, NULL, OPTVAL(OPT_REASON) },
	{ "all-pages",		no_argument,	   NULL, OPTVAL(OPT_ALL_PAGES) },
	{ "org",		no_argument,	   NULL, OPTVAL(OPT_ORG) },
	{ "output",		required_argument, NULL, OPTVAL(OPT_OUTPUT) },
	{ "since",		required_argument, NULL, OPTVAL(OPT_SINCE) },
	{ "follow",		no_argument,	   NULL, OPTVAL(OPT_FOLLOW) },
	{ "server",		required_argument, NULL, OPTVAL(OPT_SERVER) },
	{ "cert",		required_argument, NULL, OPTVAL(OPT_CERT) },
	{ "key",		required_argument, NULL, OPTVAL(OPT_KEY) },
	{ "ca",			required_argument, NULL, OPTVAL(OPT_CA) },
	{ "as",			required_argument, NULL, OPTVAL(OPT_AS) },
	{ "pki",		required_argument, NULL, OPTVAL(OPT_PKI) },
	{ "config",		required_argument, NULL, OPTVAL(OPT_CONFIG) },
	{ "json",		no_argument,	   NULL, OPTVAL(OPT_JSON) },
	{ "help",		no_argument,	   NULL, OPTVAL(OPT_HELP) },
	{ NULL, 0, NULL, 0 }
};

#define MUT_OPTS	B(OPT_EXPECT_VERSION)

/*
 * Positional arguments after the subcommand's words: H household id, h
 * household id unless --org, I item id (goal, action), G grant id, S goal
 * status.
 */
struct cmd_def {
	const char	*cd_w1;
	const char	*cd_w2;
	enum cliopt_cmd	 cd_cmd;
	int		 cd_status;
	const char	*cd_pos;
	uint64_t	 cd_allowed;
	uint64_t	 cd_required;
};

static const struct cmd_def cmds[] = {
	{ "whoami", NULL, CMD_WHOAMI, 0, "", 0, 0 },
	{ "household", "create", CMD_HOUSEHOLD_CREATE, 0, "",
	    B(OPT_AREA) | B(OPT_MEMBER) | B(OPT_CONSENT_REF),
	    B(OPT_AREA) | B(OPT_MEMBER) | B(OPT_CONSENT_REF) },
	{ "households", NULL, CMD_HOUSEHOLDS, 0, "",
	    B(OPT_PAGE_SIZE) | B(OPT_PAGE_TOKEN), 0 },
	{ "plan", "show", CMD_PLAN_SHOW, 0, "H", B(OPT_VERSION), 0 },
	{ "goal", "add", CMD_GOAL_ADD, 0, "H",
	    B(OPT_DOMAIN) | B(OPT_TEXT) | B(OPT_TARGET_DATE) | MUT_OPTS,
	    B(OPT_DOMAIN) | B(OPT_TEXT) },
	{ "goal", "status", CMD_GOAL_STATUS, 0, "HIS", MUT_OPTS, 0 },
	{ "action", "add", CMD_ACTION_ADD, 0, "H",
	    B(OPT_GOAL) | B(OPT_TEXT) | B(OPT_OWNER) | B(OPT_DUE) | MUT_OPTS,
	    B(OPT_GOAL) | B(OPT_TEXT) | B(OPT_OWNER) },
	{ "action", "accept", CMD_ACTION_STATUS,
	    EENPLAN__V1__ACTION_STATUS__ACTION_ACCEPTED, "HI", MUT_OPTS, 0 },
	{ "action", "start", CMD_ACTION_STATUS,
	    EENPLAN__V1__ACTION_STATUS__ACTION_IN_PROGRESS, "HI", MUT_OPTS, 0 },
	{ "action", "done", CMD_ACTION_STATUS,
	    EENPLAN__V1__ACTION_STATUS__ACTION_DONE, "HI", MUT_OPTS, 0 },
	{ "action", "cancel", CMD_ACTION_STATUS,
	    EENPLAN__V1__ACTION_STATUS__ACTION_CANCELLED, "HI", MUT_OPTS, 0 },
	{ "note", "add", CMD_NOTE_ADD, 0, "H",
	    B(OPT_DOMAIN) | B(OPT_TEXT) | MUT_OPTS, B(OPT_DOMAIN) | B(OPT_TEXT) },
	{ "assess", NULL, CMD_ASSESS, 0, "H",
	    B(OPT_DOMAIN) | B(OPT_SCORE) | B(OPT_REMARK) | MUT_OPTS,
	    B(OPT_DOMAIN) | B(OPT_SCORE) },
	{ "target", NULL, CMD_TARGET, 0, "H",
	    B(OPT_DOMAIN) | B(OPT_SCORE) | MUT_OPTS,
	    B(OPT_DOMAIN) | B(OPT_SCORE) },
	{ "member", "add", CMD_MEMBER_ADD, 0, "H", B(OPT_MEMBER) | MUT_OPTS,
	    B(OPT_MEMBER) },
	{ "history", NULL, CMD_HISTORY, 0, "H", B(OPT_AFTER) | B(OPT_LIMIT), 0 },
	{ "consent", "grant", CMD_CONSENT_GRANT, 0, "H",
	    B(OPT_TO) | B(OPT_ACCESS) | B(OPT_DOMAIN) | B(OPT_UNTIL) |
	    B(OPT_FROM) | B(OPT_PURPOSE) | B(OPT_FORM_REF),
	    B(OPT_TO) | B(OPT_ACCESS) | B(OPT_PURPOSE) },
	{ "consent", "revoke", CMD_CONSENT_REVOKE, 0, "HG", B(OPT_FORM_REF), 0 },
	{ "consent", "list", CMD_CONSENT_LIST, 0, "H", B(OPT_ALL), 0 },
	{ "regie", "transfer", CMD_REGIE_TRANSFER, 0, "H",
	    B(OPT_TO) | B(OPT_FORM_REF) | B(OPT_REASON),
	    B(OPT_TO) },
	{ "breakglass", NULL, CMD_BREAKGLASS, 0, "H", B(OPT_REASON),
	    B(OPT_REASON) },
	{ "escalate", NULL, CMD_ESCALATE, 0, "H", B(OPT_REASON), B(OPT_REASON) },
	{ "close", NULL, CMD_CLOSE, 0, "H", B(OPT_REASON), B(OPT_REASON) },
	{ "audit", NULL, CMD_AUDIT, 0, "h",
	    B(OPT_FROM) | B(OPT_UNTIL) | B(OPT_ALL_PAGES) | B(OPT_ORG), 0 },
	{ "afschrift", NULL, CMD_AFSCHRIFT, 0, "H", B(OPT_OUTPUT), 0 },
	{ "changes", NULL, CMD_CHANGES, 0, "",
	    B(OPT_SINCE) | B(OPT_LIMIT) | B(OPT_FOLLOW), 0 },
};

static const char usage_text[] =
"usage: eenplan [connection options] [--json] SUBCOMMAND [ARGS]\n"
"\n"
"Connection (flags override environment, which overrides the config file):\n"
"  --server HOST:PORT   EENPLAN_SERVER, default " CLIOPT_DEFAULT_SERVER "\n"
"  --cert FILE          EENPLAN_CERT   your certificate\n"
"  --key FILE           EENPLAN_KEY    its private key (mode 600)\n"
"  --ca FILE            EENPLAN_CA     the deployment's root CA\n"
"  --as NAME            PKI/people/NAME.crt and .key, PKI/ca/root.crt\n"
"  --pki DIR            EENPLAN_PKI, default " CLIOPT_DEFAULT_PKI "\n"
"  --config FILE        default ~/.config/eenplan/client.conf: lines of\n"
"                       \"key = value\" with keys server, cert, key, ca, pki\n"
"  --json               print the response as JSON\n"
"\n"
"Subcommands (HH is a household id, dates are YYYY-MM-DD):\n"
"  whoami\n"
"  household create --area noord|oost|west|binnenstad|stedelijk\n"
"      --member PERSON_ID:NAME[:RELATION]... --consent-ref REF\n"
"  households [--page-size N] [--page-token T]\n"
"  plan show HH [--version N]\n"
"  goal add HH --domain D --text T [--target-date DATE]\n"
"  goal status HH GOAL_ID open|achieved|dropped\n"
"  action add HH --goal ID --text T --owner ORG[/SUBJECT] [--due DATE]\n"
"  action accept|start|done|cancel HH ACTION_ID\n"
"  note add HH --domain D --text T\n"
"  assess HH --domain D --score 1-5 [--remark T]\n"
"  target HH --domain D --score 1-5\n"
"  member add HH --member PERSON_ID:NAME[:RELATION]\n"
"      (plan changes also take --expect-version N: refused if the plan\n"
"      has moved on)\n"
"  history HH [--after N] [--limit N]\n"
"  consent grant HH --to ORG[/SUBJECT] --access read|contribute\n"
"      [--domain D]... [--from DATE] [--until DATE] --purpose TEXT\n"
"      [--form-ref REF]\n"
"  consent revoke HH GRANT_ID [--form-ref REF]\n"
"  consent list HH [--all]\n"
"  regie transfer HH --to ORG/SUBJECT [--form-ref REF] [--reason T]\n"
"  breakglass HH --reason TEXT\n"
"  escalate HH --reason TEXT\n"
"  close HH --reason TEXT\n"
"  audit HH [--from DATE] [--until DATE] [--all-pages]\n"
"  audit --org [HH] [--from DATE] [--until DATE] [--all-pages]\n"
"  afschrift HH [-o FILE]\n"
"  changes [--since N] [--limit N] [--follow]\n"
"  help\n"
"\n"
"Domains: financien werk_opleiding tijdsbesteding huisvesting\n"
"  huiselijke_relaties geestelijke_gezondheid lichamelijke_gezondheid\n"
"  middelengebruik basale_adl instrumentele_adl sociaal_netwerk\n"
"  maatschappelijke_participatie justitie\n"
"Grant dates are 00:00 UTC of the day; audit --until includes its day.\n"
"\n"
"Exit status: 0 done, 1 refused by the server (or failed), 2 usage error,\n"
"3 cannot connect or the connection failed.\n";

const char *
cliopt_usage(void)
{
	return usage_text;
}

static int
usage(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
opt_name(int id)
{
	const struct option *lo;

	for (lo = long_opts; lo->name != NULL; lo++)
		if (lo->val == OPTVAL(id))
			return lo->name;
	return "?";
}

/* ------------------------------------------------------------ values */

int
cliopt_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	const char *p;
	char *end;

	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return -1;
	for (p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
cliopt_date(const char *s, int64_t *us)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	unsigned y = 0, m, d, i, dim;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	for (i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(s[i] - '0');
	m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
	d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return -1;
	dim = mdays[m - 1];
	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		dim = 29;
	if (d > dim)
		return -1;
	*us = days_from_civil(y, m, d) * US_PER_DAY;
	return 0;
}

int
cliopt_household_id(const char *s, char out[CLIOPT_HH_LEN + 1])
{
	size_t i;
	char c;

	if (s == NULL || strlen(s) != CLIOPT_HH_LEN)
		return -1;
	for (i = 0; i < CLIOPT_HH_LEN; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		out[i] = c;
	}
	out[CLIOPT_HH_LEN] = '\0';
	return 0;
}

/* 1..max characters of [A-Za-z0-9._-]: organisation, subject, person ids. */
static int
ident_ok(const char *s, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= 'A' && s[n] <= 'Z') ||
		    (s[n] >= '0' && s[n] <= '9') ||
		    s[n] == '.' || s[n] == '_' || s[n] == '-'))
			return 0;
	return n >= 1 && n <= max;
}

static char *
own(struct cliopt *o, const char *s, size_t n)
{
	char *p;

	if (o->o_nstrs >= CLIOPT_MAX_STRS || (p = strndup(s, n)) == NULL)
		return NULL;
	o->o_strs[o->o_nstrs++] = p;
	return p;
}

/* PERSON_ID:NAME[:RELATION]; a name may hold ':' only if a relation follows. */
static int
parse_member(struct cliopt *o, const char *spec, EpMember *m, char *err,
    size_t errlen)
{
	const char *c1, *c2;

	eenplan__v1__member__init(m);
	if ((c1 = strchr(spec, ':')) == NULL)
		return usage(err, errlen, "--member '%s': expected "
		    "PERSON_ID:NAME[:RELATION]", spec);
	c2 = strrchr(spec, ':');
	if (c2 == c1)
		c2 = NULL;
	if ((m->person_id = own(o, spec, (size_t)(c1 - spec))) == NULL ||
	    (m->name = own(o, c1 + 1, c2 ? (size_t)(c2 - c1 - 1) :
	    strlen(c1 + 1))) == NULL ||
	    (c2 != NULL && (m->relation = own(o, c2 + 1, strlen(c2 + 1))) ==
	    NULL))
		return usage(err, errlen, "out of memory");
	if (!ident_ok(m->person_id, 64))
		return usage(err, errlen, "--member '%s': the person id must be "
		    "1 to 64 of A-Z a-z 0-9 . _ -", spec);
	if (m->name[0] == '\0')
		return usage(err, errlen, "--member '%s': the name is empty",
		    spec);
	if (strlen(m->relation) > 64)
		return usage(err, errlen, "--member '%s': the relation is "
		    "longer than 64 characters", spec);
	return 0;
}

/* ORG[/SUBJECT]; need_subject makes the subject required. */
static int
parse_principal(struct cliopt *o, const char *opt, const char *s,
    int need_subject, char **org, char **subject, char *err, size_t errlen)
{
	const char *slash = strchr(s, '/');

	*subject = NULL;
	*org = own(o, s, slash ? (size_t)(slash - s) : strlen(s));
	if (slash != NULL)
		*subject = own(o, slash + 1, strlen(slash + 1));
	if (*org == NULL || (slash != NULL && *subject == NULL))
		return usage(err, errlen, "out of memory");
	if (!ident_ok(*org, 64) || (slash != NULL && !ident_ok(*subject, 64)) ||
	    (need_subject && slash == NULL))
		return usage(err, errlen, "--%s '%s': expected %s", opt, s,
		    need_subject ? "ORG/SUBJECT" : "ORG or ORG/SUBJECT");
	return 0;
}

static int
parse_domain(const char *s, int *out, char *err, size_t errlen)
{
	if ((*out = wire_domain_parse(s)) == -1)
		return usage(err, errlen, "--domain '%s': not a life domain; "
		    "one of financien, werk_opleiding, tijdsbesteding, "
		    "huisvesting, huiselijke_relaties, geestelijke_gezondheid, "
		    "lichamelijke_gezondheid, middelengebruik, basale_adl, "
		    "instrumentele_adl, sociaal_netwerk, "
		    "maatschappelijke_participatie, justitie", s);
	return 0;
}

static int
parse_num(const char *opt, const char *s, uint64_t min, uint64_t max,
    uint64_t *out, char *err, size_t errlen)
{
	if (cliopt_number(s, min, max, out) == -1)
		return usage(err, errlen, "%s '%s': expected a whole number "
		    "from %llu to %llu", opt, s, (unsigned long long)min,
		    (unsigned long long)max);
	return 0;
}

static int
parse_date_opt(const char *opt, const char *s, int64_t *us, char *err,
    size_t errlen)
{
	if (cliopt_date(s, us) == -1)
		return usage(err, errlen, "--%s '%s': expected a date "
		    "YYYY-MM-DD", opt, s);
	return 0;
}

static int
nonempty(const char *opt, const char *s, char *err, size_t errlen)
{
	if (s == NULL || s[0] == '\0')
		return usage(err, errlen, "--%s must not be empty", opt);
	return 0;
}

/* ------------------------------------------------------------ parsing */

struct raw {
	char	*r_val[OPT_COUNT];
	char	*r_members[CLIOPT_MAX_MEMBERS];
	size_t	 r_nmembers;
	char	*r_domains[MAX_RAW_DOMAINS];
	size_t	 r_ndomains;
	char	*r_words[CLIOPT_MAX_WORDS];
	size_t	 r_nwords;
	uint64_t r_given;
	int	 r_help;
};

static int
raw_word(struct raw *r, char *w, char *err, size_t errlen)
{
	if (r->r_nwords >= CLIOPT_MAX_WORDS)
		return usage(err, errlen, "too many arguments ('%s')", w);
	r->r_words[r->r_nwords++] = w;
	return 0;
}

static int
raw_option(struct raw *r, int id, char *arg, char *err, size_t errlen)
{
	switch (id) {
	case OPT_HELP:
		r->r_help = 1;
		return 0;
	case OPT_MEMBER:
		if (r->r_nmembers >= CLIOPT_MAX_MEMBERS)
			return usage(err, errlen, "at most %d --member",
			    CLIOPT_MAX_MEMBERS);
		r->r_members[r->r_nmembers++] = arg;
		break;
	case OPT_DOMAIN:
		if (r->r_ndomains >= MAX_RAW_DOMAINS)
			return usage(err, errlen, "too many --domain");
		r->r_domains[r->r_ndomains++] = arg;
		break;
	default:
		if (r->r_val[id] != NULL)
			return usage(err, errlen, "--%s given twice",
			    opt_name(id));
		r->r_val[id] = arg;
		break;
	}
	if (id < 64)
		r->r_given |= B(id);
	return 0;
}

static char flag_set[] = "";

static int
getopt_all(struct raw *r, int argc, char **argv, char *err, size_t errlen)
{
	int c, id, idx;

	optind = 0;	/* glibc: start afresh (tests parse many times) */
	opterr = 0;
	for (;;) {
		idx = -1;
		c = getopt_long(argc, argv, "-:ho:", long_opts, &idx);
		if (c == -1)
			break;
		switch (c) {
		case 1:
			if (raw_word(r, optarg, err, errlen) == -1)
				return -1;
			continue;
		case 'h':
			r->r_help = 1;
			continue;
		case 'o':
			id = OPT_OUTPUT;
			break;
		case ':':
			if (optopt > 0 && optopt < 256)
				return usage(err, errlen, "-%c needs a value",
				    optopt);
			return usage(err, errlen, "%s needs a value",
			    argv[optind - 1]);
		case '?':
			if (optopt > 0 && optopt < 256)
				return usage(err, errlen, "unknown option "
				    "'-%c'", optopt);
			return usage(err, errlen, "unknown or ambiguous "
			    "option '%s'", argv[optind - 1]);
		default:
			if (c < OPTVAL(0) || c >= OPTVAL(OPT_COUNT))
				return usage(err, errlen, "bad option");
			id = c - OPTVAL(0);
			break;
		}
		/* Flags without a value are recorded as given. */
		if (raw_option(r, id, optarg ? optarg : flag_set, err,
		    errlen) == -1)
			return -1;
	}
	for (; optind < argc; optind++)
		if (raw_word(r, argv[optind], err, errlen) == -1)
			return -1;
	return 0;
}

static const struct cmd_def *
find_cmd(const struct raw *r, size_t *nwords, char *err, size_t errlen)
{
	const char *w1 = r->r_words[0];
	const char *w2 = r->r_nwords > 1 ? r->r_words[1] : NULL;
	char subs[128] = "";
	size_t i, known = 0;

	for (i = 0; i < NELEM(cmds); i++) {
		if (strcmp(cmds[i].cd_w1, w1) != 0)
			continue;
		known = 1;
		if (cmds[i].cd_w2 == NULL) {
			*nwords = 1;
			return &cmds[i];
		}
		if (w2 != NULL && strcmp(cmds[i].cd_w2, w2) == 0) {
			*nwords = 2;
			return &cmds[i];
		}
		if (subs[0] != '\0')
			strncat(subs, ", ", sizeof(subs) - strlen(subs) - 1);
		strncat(subs, cmds[i].cd_w2, sizeof(subs) - strlen(subs) - 1);
	}
	if (!known)
		usage(err, errlen, "unknown subcommand '%s' (see eenplan help)",
		    w1);
	else
		usage(err, errlen, "'%s' needs one of: %s", w1, subs);
	return NULL;
}

static int
check_options(const struct cmd_def *cd, const struct raw *r, const char *name,
    char *err, size_t errlen)
{
	int id;

	for (id = 0; id < OPT_NCMD; id++) {
		if ((r->r_given & B(id)) && !(cd->cd_allowed & B(id)))
			return usage(err, errlen, "--%s does not apply to '%s'",
			    opt_name(id), name);
		if ((cd->cd_required & B(id)) && !(r->r_given & B(id)))
			return usage(err, errlen, "'%s' needs --%s", name,
			    opt_name(id));
	}
	if (r->r_ndomains > 1 && cd->cd_cmd != CMD_CONSENT_GRANT)
		return usage(err, errlen, "--domain given twice");
	if (r->r_nmembers > 1 && cd->cd_cmd != CMD_HOUSEHOLD_CREATE)
		return usage(err, errlen, "--member given twice");
	return 0;
}

static int
positional(struct cliopt *o, const struct cmd_def *cd, char **args, size_t n,
    char *err, size_t errlen)
{
	const char *p;
	size_t i = 0, min = 0, max = 0;

	for (p = cd->cd_pos; *p != '\0'; p++) {
		max++;
		min += *p != 'h' || !o->o_org;
	}
	if (n < min && strchr(cd->cd_pos, 'h') != NULL)
		return usage(err, errlen, "'%s' needs a household id (or --org "
		    "for your organisation's records)", o->o_cmdname);
	if (n < min || n > max)
		return usage(err, errlen, "'%s' takes %zu argument%s, got %zu "
		    "(see eenplan help)", o->o_cmdname, min,
		    min == 1 ? "" : "s", n);
	for (p = cd->cd_pos; *p != '\0' && i < n; p++, i++) {
		switch (*p) {
		case 'H':
		case 'h':
			if (cliopt_household_id(args[i], o->o_hh) == -1)
				return usage(err, errlen, "'%s' is not a "
				    "household id (32 hex characters)",
				    args[i]);
			break;
		case 'I':
			if (parse_num(o->o_cmd == CMD_GOAL_STATUS ? "goal id" :
			    "action id", args[i], 1, UINT32_MAX, &o->o_id,
			    err, errlen) == -1)
				return -1;
			break;
		case 'G':
			if (parse_num("grant id", args[i], 1, INT64_MAX,
			    &o->o_id, err, errlen) == -1)
				return -1;
			break;
		case 'S':
			if ((o->o_status = wire_goal_status_parse(args[i])) ==
			    -1)
				return usage(err, errlen, "goal status '%s': "
				    "expected open, achieved or dropped",
				    args[i]);
			break;
		default:
			return usage(err, errlen, "bad argument table");
		}
	}
	return 0;
}

/* Turns the raw option text into checked values. */
static int
convert(struct cliopt *o, struct raw *r, char *err, size_t errlen)
{
	char **v = r->r_val;
	uint64_t n;
	size_t i, j;
	int d;

	if (v[OPT_AREA] && (o->o_area = wire_area_parse(v[OPT_AREA])) == -1)
		return usage(err, errlen, "--area '%s': expected noord, oost, "
		    "west, binnenstad or stedelijk", v[OPT_AREA]);
	for (i = 0; i < r->r_nmembers; i++, o->o_nmembers++)
		if (parse_member(o, r->r_members[i], &o->o_members[i], err,
		    errlen) == -1)
			return -1;
	for (i = 0; i < r->r_ndomains; i++) {
		if (parse_domain(r->r_domains[i], &d, err, errlen) == -1)
			return -1;
		o->o_domain = d;
		for (j = 0; j < o->o_ndomains && o->o_domains[j] != d; j++)
			;
		if (j == o->o_ndomains)
			o->o_domains[o->o_ndomains++] = d;
	}
	if ((o->o_consent_ref = v[OPT_CONSENT_REF]) &&
	    nonempty("consent-ref", o->o_consent_ref, err, errlen) == -1)
		return -1;
	if (v[OPT_PAGE_SIZE]) {
		if (parse_num("--page-size", v[OPT_PAGE_SIZE], 1, 100000, &n,
		    err, errlen) == -1)
			return -1;
		o->o_page_size = (uint32_t)n;
	}
	o->o_page_token = v[OPT_PAGE_TOKEN];
	if (v[OPT_VERSION] && parse_num("--version", v[OPT_VERSION], 1,
	    INT64_MAX, &o->o_version, err, errlen) == -1)
		return -1;
	if (v[OPT_EXPECT_VERSION] && parse_num("--expect-version",
	    v[OPT_EXPECT_VERSION], 1, INT64_MAX, &o->o_expect_version, err,
	    errlen) == -1)
		return -1;
	if ((o->o_text = v[OPT_TEXT]) &&
	    nonempty("text", o->o_text, err, errlen) == -1)
		return -1;
	return 0;
}

static int
convert2(struct cliopt *o, struct raw *r, char *err, size_t errlen)
{
	char **v = r->r_val;
	int64_t us;
	uint64_t n;

	if ((o->o_target_date = v[OPT_TARGET_DATE]) && parse_date_opt(
	    "target-date", o->o_target_date, &us, err, errlen) == -1)
		return -1;
	if ((o->o_due = v[OPT_DUE]) &&
	    parse_date_opt("due", o->o_due, &us, err, errlen) == -1)
		return -1;
	if (v[OPT_GOAL]) {
		if (parse_num("--goal", v[OPT_GOAL], 1, UINT32_MAX, &n, err,
		    errlen) == -1)
			return -1;
		o->o_goal = (uint32_t)n;
	}
	if (v[OPT_OWNER] && parse_principal(o, "owner", v[OPT_OWNER], 0,
	    &o->o_owner_org, &o->o_owner_subject, err, errlen) == -1)
		return -1;
	if (v[OPT_SCORE]) {
		if (parse_num("--score", v[OPT_SCORE], 1, 5, &n, err,
		    errlen) == -1)
			return -1;
		o->o_score = (uint32_t)n;
	}
	o->o_remark = v[OPT_REMARK];
	if (v[OPT_AFTER] && parse_num("--after", v[OPT_AFTER], 0, INT64_MAX,
	    &o->o_after, err, errlen) == -1)
		return -1;
	if (v[OPT_LIMIT]) {
		if (parse_num("--limit", v[OPT_LIMIT], 1, 100000, &n, err,
		    errlen) == -1)
			return -1;
		o->o_limit = (uint32_t)n;
	}
	if (v[OPT_SINCE] && parse_num("--since", v[OPT_SINCE], 0, INT64_MAX,
	    &o->o_since, err, errlen) == -1)
		return -1;
	return 0;
}

static int
convert3(struct cliopt *o, struct raw *r, char *err, size_t errlen)
{
	char **v = r->r_val;

	if (v[OPT_TO] && parse_principal(o, "to", v[OPT_TO],
	    o->o_cmd == CMD_REGIE_TRANSFER, &o->o_to_org, &o->o_to_subject,
	    err, errlen) == -1)
		return -1;
	if (v[OPT_ACCESS]) {
		o->o_access = wire_access_parse(v[OPT_ACCESS]);
		if (o->o_access == EENPLAN__V1__ACCESS__ACCESS_MANAGE)
			return usage(err, errlen, "--access manage is the "
			    "regisseur's alone: use 'regie transfer'");
		if (o->o_access != EENPLAN__V1__ACCESS__ACCESS_READ &&
		    o->o_access != EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE)
			return usage(err, errlen, "--access '%s': expected "
			    "read or contribute", v[OPT_ACCESS]);
	}
	if (v[OPT_FROM] && parse_date_opt("from", v[OPT_FROM], &o->o_from,
	    err, errlen) == -1)
		return -1;
	if (v[OPT_UNTIL]) {
		if (parse_date_opt("until", v[OPT_UNTIL], &o->o_until, err,
		    errlen) == -1)
			return -1;
		/* A person asking for the log "until" a day means that day too. */
		if (o->o_cmd == CMD_AUDIT)
			o->o_until += US_PER_DAY;
	}
	if (o->o_from != 0 && o->o_until != 0 && o->o_until <= o->o_from)
		return usage(err, errlen, "--until must come after --from");
	if ((o->o_purpose = v[OPT_PURPOSE]) &&
	    nonempty("purpose", o->o_purpose, err, errlen) == -1)
		return -1;
	if ((o->o_form_ref = v[OPT_FORM_REF]) &&
	    nonempty("form-ref", o->o_form_ref, err, errlen) == -1)
		return -1;
	if ((o->o_reason = v[OPT_REASON]) &&
	    nonempty("reason", o->o_reason, err, errlen) == -1)
		return -1;
	if ((o->o_output = v[OPT_OUTPUT]) &&
	    nonempty("output", o->o_output, err, errlen) == -1)
		return -1;
	o->o_all = v[OPT_ALL] != NULL;
	o->o_all_pages = v[OPT_ALL_PAGES] != NULL;
	o->o_org = v[OPT_ORG] != NULL;
	o->o_follow = v[OPT_FOLLOW] != NULL;
	if (o->o_follow && (r->r_given & B(OPT_LIMIT)))
		return usage(err, errlen, "--limit does not apply with "
		    "--follow");
	return 0;
}

static int
connection_flags(struct cliopt *o, struct raw *r, char *err, size_t errlen)
{
	char **v = r->r_val;

	o->o_server = v[OPT_SERVER];
	o->o_cert = v[OPT_CERT];
	o->o_key = v[OPT_KEY];
	o->o_ca = v[OPT_CA];
	o->o_as = v[OPT_AS];
	o->o_pki = v[OPT_PKI];
	o->o_config = v[OPT_CONFIG];
	o->o_json = v[OPT_JSON] != NULL;
	if (o->o_as != NULL && (!ident_ok(o->o_as, 64) || o->o_as[0] == '.'))
		return usage(err, errlen, "--as '%s': expected a name like "
		    "'anja' (A-Z a-z 0-9 . _ -)", o->o_as);
	if ((o->o_server && o->o_server[0] == '\0') ||
	    (o->o_cert && o->o_cert[0] == '\0') ||
	    (o->o_key && o->o_key[0] == '\0') ||
	    (o->o_ca && o->o_ca[0] == '\0') ||
	    (o->o_pki && o->o_pki[0] == '\0') ||
	    (o->o_config && o->o_config[0] == '\0'))
		return usage(err, errlen, "connection options must not be "
		    "empty");
	return 0;
}

int
cliopt_parse(struct cliopt *o, int argc, char **argv, char *err, size_t errlen)
{
	const struct cmd_def *cd;
	struct raw r;
	size_t nw;

	memset(o, 0, sizeof(*o));
	memset(&r, 0, sizeof(r));
	if (getopt_all(&r, argc, argv, err, errlen) == -1 ||
	    connection_flags(o, &r, err, errlen) == -1)
		return -1;
	if (r.r_help || (r.r_nwords > 0 && strcmp(r.r_words[0], "help") == 0)) {
		o->o_cmd = CMD_HELP;
		o->o_cmdname = "help";
		return 0;
	}
	if (r.r_nwords == 0)
		return usage(err, errlen, "no subcommand given (see eenplan "
		    "help)");
	if ((cd = find_cmd(&r, &nw, err, errlen)) == NULL)
		return -1;
	o->o_cmd = cd->cd_cmd;
	o->o_cmdname = nw == 1 ? cd->cd_w1 : NULL;
	if (nw == 2) {
		char name[64];

		snprintf(name, sizeof(name), "%s %s", cd->cd_w1, cd->cd_w2);
		if ((o->o_cmdname = own(o, name, strlen(name))) == NULL)
			return usage(err, errlen, "out of memory");
	}
	o->o_status = cd->cd_status;
	o->o_org = r.r_val[OPT_ORG] != NULL;
	if (check_options(cd, &r, o->o_cmdname, err, errlen) == -1 ||
	    positional(o, cd, r.r_words + nw, r.r_nwords - nw, err,
	    errlen) == -1 ||
	    convert(o, &r, err, errlen) == -1 ||
	    convert2(o, &r, err, errlen) == -1 ||
	    convert3(o, &r, err, errlen) == -1)
		return -1;
	o->o_given = r.r_given;
	return 0;
}

void
cliopt_free(struct cliopt *o)
{
	size_t i;

	for (i = 0; i < o->o_nstrs; i++)
		free(o->o_strs[i]);
	o->o_nstrs = 0;
}

/* ------------------------------------------------------------ connection */

struct conf {
	struct cliopt_conn	*cf_conn;
	const char		*cf_dir;	/* of the config file, for relative paths */
	char			*cf_server;
	char			*cf_cert;
	char			*cf_key;
	char			*cf_ca;
	char			*cf_pki;
	char			 cf_bad[64];
};

static char *
conn_own(struct cliopt_conn *c, const char *a, const char *b, const char *d)
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
cliopt_connection(const struct cliopt *o, struct cliopt_conn *c, char *err,
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
		server = CLIOPT_DEFAULT_SERVER;
	if (ep_client_split_hostport(server, CLIOPT_DEFAULT_PORT, c->c_host,
	    sizeof(c->c_host), c->c_port, sizeof(c->c_port)) == -1) {
		usage(err, errlen, "server '%s': expected HOST:PORT", server);
		goto out;
	}
	pki = pick(o->o_pki, env("EENPLAN_PKI"), cf.cf_pki);
	if (pki == NULL)
		pki = CLIOPT_DEFAULT_PKI;
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
		cliopt_conn_free(c);
	return rc;
}

void
cliopt_conn_free(struct cliopt_conn *c)
{
	size_t i;

	for (i = 0; i < c->c_nstrs; i++)
		free(c->c_strs[i]);
	c->c_nstrs = 0;
	c->c_cert = c->c_key = c->c_ca = NULL;
}

/* ------------------------------------------------------------ requests */

static void
build_mutation(struct cliopt *o, struct cliopt_req *r)
{
	EpMutation *m = &r->r_mut;

	eenplan__v1__mutate_plan_request__init(&r->r_mutate);
	eenplan__v1__mutation__init(m);
	r->r_mutate.household_id = o->o_hh;
	r->r_mutate.expected_version = o->o_expect_version;
	r->r_mutp = m;
	r->r_mutate.n_mutations = 1;
	r->r_mutate.mutations = &r->r_mutp;
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_MUTATE_PLAN;
	r->r_req.mutate_plan = &r->r_mutate;
	switch (o->o_cmd) {
	case CMD_GOAL_ADD:
		eenplan__v1__add_goal__init(&r->r_add_goal);
		r->r_add_goal.domain = o->o_domain;
		r->r_add_goal.text = o->o_text;
		if (o->o_target_date)
			r->r_add_goal.target_date = o->o_target_date;
		m->op_case = EENPLAN__V1__MUTATION__OP_ADD_GOAL;
		m->add_goal = &r->r_add_goal;
		break;
	case CMD_GOAL_STATUS:
		eenplan__v1__set_goal_status__init(&r->r_goal_status);
		r->r_goal_status.goal_id = (uint32_t)o->o_id;
		r->r_goal_status.status = o->o_status;
		m->op_case = EENPLAN__V1__MUTATION__OP_SET_GOAL_STATUS;
		m->set_goal_status = &r->r_goal_status;
		break;
	case CMD_ACTION_ADD:
		eenplan__v1__add_action__init(&r->r_add_action);
		r->r_add_action.goal_id = o->o_goal;
		r->r_add_action.text = o->o_text;
		r->r_add_action.owner_org = o->o_owner_org;
		if (o->o_owner_subject)
			r->r_add_action.owner_subject = o->o_owner_subject;
		if (o->o_due)
			r->r_add_action.due_date = o->o_due;
		m->op_case = EENPLAN__V1__MUTATION__OP_ADD_ACTION;
		m->add_action = &r->r_add_action;
		break;
	case CMD_ACTION_STATUS:
		eenplan__v1__set_action_status__init(&r->r_action_status);
		r->r_action_status.action_id = (uint32_t)o->o_id;
		r->r_action_status.status = o->o_status;
		m->op_case = EENPLAN__V1__MUTATION__OP_SET_ACTION_STATUS;
		m->set_action_status = &r->r_action_status;
		break;
	case CMD_NOTE_ADD:
		eenplan__v1__add_note__init(&r->r_add_note);
		r->r_add_note.domain = o->o_domain;
		r->r_add_note.text = o->o_text;
		m->op_case = EENPLAN__V1__MUTATION__OP_ADD_NOTE;
		m->add_note = &r->r_add_note;
		break;
	case CMD_ASSESS:
		eenplan__v1__add_assessment__init(&r->r_add_assessment);
		r->r_add_assessment.domain = o->o_domain;
		r->r_add_assessment.score = o->o_score;
		if (o->o_remark)
			r->r_add_assessment.remark = o->o_remark;
		m->op_case = EENPLAN__V1__MUTATION__OP_ADD_ASSESSMENT;
		m->add_assessment = &r->r_add_assessment;
		break;
	case CMD_TARGET:
		eenplan__v1__set_target_score__init(&r->r_target);
		r->r_target.domain = o->o_domain;
		r->r_target.score = o->o_score;
		m->op_case = EENPLAN__V1__MUTATION__OP_SET_TARGET_SCORE;
		m->set_target_score = &r->r_target;
		break;
	case CMD_MEMBER_ADD:
		eenplan__v1__add_member__init(&r->r_add_member);
		r->r_member = o->o_members[0];
		r->r_add_member.member = &r->r_member;
		m->op_case = EENPLAN__V1__MUTATION__OP_ADD_MEMBER;
		m->add_member = &r->r_add_member;
		break;
	default:
		break;
	}
}

static void
build_consent(struct cliopt *o, struct cliopt_req *r)
{
	EpGrant *g = &r->r_grant;
	size_t i;

	eenplan__v1__grant_consent_request__init(&r->r_grant_req);
	eenplan__v1__grant__init(g);
	r->r_grant_req.household_id = o->o_hh;
	r->r_grant_req.grant = g;
	g->grantee_org = o->o_to_org;
	if (o->o_to_subject)
		g->grantee_subject = o->o_to_subject;
	g->access = o->o_access;
	for (i = 0; i < o->o_ndomains; i++)
		r->r_scope[i] = o->o_domains[i];
	g->n_scope = o->o_ndomains;
	g->scope = o->o_ndomains ? r->r_scope : NULL;
	g->valid_from = o->o_from;
	g->valid_until = o->o_until;
	g->purpose = o->o_purpose;
	if (o->o_form_ref) {
		g->form_reference = o->o_form_ref;
		g->on_behalf = 1;
	}
	r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_GRANT_CONSENT;
	r->r_req.grant_consent = &r->r_grant_req;
}

static void
build_other(struct cliopt *o, struct cliopt_req *r)
{
	char *hh = o->o_hh;
	size_t i;

	switch (o->o_cmd) {
	case CMD_WHOAMI:
		eenplan__v1__who_am_irequest__init(&r->r_whoami);
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_WHO_AM_I;
		r->r_req.who_am_i = &r->r_whoami;
		break;
	case CMD_HOUSEHOLD_CREATE:
		eenplan__v1__create_household_request__init(&r->r_create);
		r->r_create.area = o->o_area;
		for (i = 0; i < o->o_nmembers; i++)
			r->r_memberp[i] = &o->o_members[i];
		r->r_create.n_members = o->o_nmembers;
		r->r_create.members = r->r_memberp;
		r->r_create.consent_reference = o->o_consent_ref;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_CREATE_HOUSEHOLD;
		r->r_req.create_household = &r->r_create;
		break;
	case CMD_HOUSEHOLDS:
		eenplan__v1__list_households_request__init(&r->r_list);
		r->r_list.page_size = o->o_page_size;
		if (o->o_page_token)
			r->r_list.page_token = o->o_page_token;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_LIST_HOUSEHOLDS;
		r->r_req.list_households = &r->r_list;
		break;
	case CMD_PLAN_SHOW:
	case CMD_AFSCHRIFT:
		eenplan__v1__get_plan_request__init(&r->r_get_plan);
		r->r_get_plan.household_id = hh;
		r->r_get_plan.version = o->o_version;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_GET_PLAN;
		r->r_req.get_plan = &r->r_get_plan;
		break;
	case CMD_HISTORY:
		eenplan__v1__get_history_request__init(&r->r_history);
		r->r_history.household_id = hh;
		r->r_history.after_version = o->o_after;
		r->r_history.limit = o->o_limit;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_GET_HISTORY;
		r->r_req.get_history = &r->r_history;
		break;
	case CMD_CONSENT_REVOKE:
		eenplan__v1__revoke_consent_request__init(&r->r_revoke);
		r->r_revoke.household_id = hh;
		r->r_revoke.grant_id = o->o_id;
		if (o->o_form_ref)
			r->r_revoke.form_reference = o->o_form_ref;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_REVOKE_CONSENT;
		r->r_req.revoke_consent = &r->r_revoke;
		break;
	case CMD_CONSENT_LIST:
		eenplan__v1__list_consent_request__init(&r->r_list_consent);
		r->r_list_consent.household_id = hh;
		r->r_list_consent.include_past = o->o_all;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_LIST_CONSENT;
		r->r_req.list_consent = &r->r_list_consent;
		break;
	case CMD_REGIE_TRANSFER:
		eenplan__v1__transfer_regie_request__init(&r->r_regie);
		r->r_regie.household_id = hh;
		r->r_regie.to_org = o->o_to_org;
		r->r_regie.to_subject = o->o_to_subject;
		r->r_regie.form_reference = o->o_form_ref;
		if (o->o_reason)
			r->r_regie.reason = o->o_reason;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_TRANSFER_REGIE;
		r->r_req.transfer_regie = &r->r_regie;
		break;
	case CMD_BREAKGLASS:
		eenplan__v1__break_glass_request__init(&r->r_break_glass);
		r->r_break_glass.household_id = hh;
		r->r_break_glass.reason = o->o_reason;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_BREAK_GLASS;
		r->r_req.break_glass = &r->r_break_glass;
		break;
	case CMD_ESCALATE:
		eenplan__v1__escalate_request__init(&r->r_escalate);
		r->r_escalate.household_id = hh;
		r->r_escalate.reason = o->o_reason;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_ESCALATE;
		r->r_req.escalate = &r->r_escalate;
		break;
	case CMD_CLOSE:
		eenplan__v1__close_household_request__init(&r->r_close);
		r->r_close.household_id = hh;
		r->r_close.reason = o->o_reason;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_CLOSE_HOUSEHOLD;
		r->r_req.close_household = &r->r_close;
		break;
	case CMD_AUDIT:
		eenplan__v1__query_audit_request__init(&r->r_audit);
		if (o->o_hh[0] != '\0')
			r->r_audit.household_id = hh;
		r->r_audit.from = o->o_from;
		r->r_audit.until = o->o_until;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_QUERY_AUDIT;
		r->r_req.query_audit = &r->r_audit;
		break;
	case CMD_CHANGES:
		eenplan__v1__read_changes_request__init(&r->r_changes);
		r->r_changes.since_seq = o->o_since;
		r->r_changes.limit = o->o_limit;
		r->r_req.body_case = EENPLAN__V1__REQUEST__BODY_READ_CHANGES;
		r->r_req.read_changes = &r->r_changes;
		break;
	default:
		break;
	}
}

void
cliopt_build(struct cliopt *o, struct cliopt_req *r)
{
	memset(r, 0, sizeof(*r));
	eenplan__v1__request__init(&r->r_req);
	switch (o->o_cmd) {
	case CMD_GOAL_ADD:
	case CMD_GOAL_STATUS:
	case CMD_ACTION_ADD:
	case CMD_ACTION_STATUS:
	case CMD_NOTE_ADD:
	case CMD_ASSESS:
	case CMD_TARGET:
	case CMD_MEMBER_ADD:
		build_mutation(o, r);
		break;
	case CMD_CONSENT_GRANT:
		build_consent(o, r);
		break;
	default:
		build_other(o, r);
		break;
	}
}
