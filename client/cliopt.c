/* cliopt: the grammar of the eenplan command line (see cliopt.h). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clicmd.h"
#include "cliopt.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define B(x)		CLIOPT_BIT(x)
#define MAX_RAW_DOMAINS	32
#define OPTVAL(x)	(1000 + (x))

/* Indexed by enum cliopt_opt. */
static const struct cliopt_def opt_defs[OPT_COUNT] = {
	[OPT_AREA] =		{ "area",		KIND_AREA },
	[OPT_MEMBER] =		{ "member",		KIND_MEMBER },
	[OPT_CONSENT_REF] =	{ "consent-ref",	KIND_TEXT },
	[OPT_PAGE_SIZE] =	{ "page-size",		KIND_NUMBER },
	[OPT_PAGE_TOKEN] =	{ "page-token",		KIND_TEXT },
	[OPT_VERSION] =		{ "version",		KIND_NUMBER },
	[OPT_DOMAIN] =		{ "domain",		KIND_DOMAIN },
	[OPT_TEXT] =		{ "text",		KIND_TEXT },
	[OPT_TARGET_DATE] =	{ "target-date",	KIND_DATE },
	[OPT_EXPECT_VERSION] =	{ "expect-version",	KIND_NUMBER },
	[OPT_GOAL] =		{ "goal",		KIND_NUMBER },
	[OPT_OWNER] =		{ "owner",		KIND_PRINCIPAL },
	[OPT_DUE] =		{ "due",		KIND_DATE },
	[OPT_SCORE] =		{ "score",		KIND_NUMBER },
	[OPT_REMARK] =		{ "remark",		KIND_TEXT },
	[OPT_AFTER] =		{ "after",		KIND_NUMBER },
	[OPT_LIMIT] =		{ "limit",		KIND_NUMBER },
	[OPT_TO] =		{ "to",			KIND_PRINCIPAL },
	[OPT_ACCESS] =		{ "access",		KIND_ACCESS },
	[OPT_FROM] =		{ "from",		KIND_DATE },
	[OPT_UNTIL] =		{ "until",		KIND_DATE },
	[OPT_PURPOSE] =		{ "purpose",		KIND_TEXT },
	[OPT_FORM_REF] =	{ "form-ref",		KIND_TEXT },
	[OPT_ALL] =		{ "all",		KIND_FLAG },
	[OPT_REASON] =		{ "reason",		KIND_TEXT },
	[OPT_ALL_PAGES] =	{ "all-pages",		KIND_FLAG },
	[OPT_ORG] =		{ "org",		KIND_FLAG },
	[OPT_OUTPUT] =		{ "output",		KIND_FILE },
	[OPT_SINCE] =		{ "since",		KIND_NUMBER },
	[OPT_FOLLOW] =		{ "follow",		KIND_FLAG },
	[OPT_SVG] =		{ "svg",		KIND_FILE },
	[OPT_FHIR] =		{ "fhir",		KIND_FLAG },
	[OPT_DIR] =		{ "dir",		KIND_DIR },
	[OPT_ONCE] =		{ "once",		KIND_FLAG },
	[OPT_TEAM] =		{ "team",		KIND_TEAM },
	[OPT_SERVER] =		{ "server",		KIND_SERVER },
	[OPT_CERT] =		{ "cert",		KIND_FILE },
	[OPT_KEY] =		{ "key",		KIND_FILE },
	[OPT_CA] =		{ "ca",			KIND_FILE },
	[OPT_AS] =		{ "as",			KIND_NAME },
	[OPT_PKI] =		{ "pki",		KIND_DIR },
	[OPT_CONFIG] =		{ "config",		KIND_FILE },
	[OPT_JSON] =		{ "json",		KIND_FLAG },
	[OPT_HELP] =		{ "help",		KIND_FLAG },
};

const struct cliopt_def *
cliopt_def(int id)
{
	if (id < 0 || id >= OPT_COUNT)
		return NULL;
	return &opt_defs[id];
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
	return id >= 0 && id < OPT_COUNT ? opt_defs[id].od_name : "?";
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
	if (!clival_ident(m->person_id, 64))
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
	if (!clival_ident(*org, 64) || (slash != NULL && !clival_ident(*subject, 64)) ||
	    (need_subject && slash == NULL))
		return usage(err, errlen, "--%s '%s': expected %s", opt, s,
		    need_subject ? "ORG/SUBJECT" : "ORG or ORG/SUBJECT");
	return 0;
}

/* --team TEAM: a team is inside an organisation, never with one person. */
static int
parse_team(struct cliopt *o, char *team, const char *to, char *err,
    size_t errlen)
{
	if (!clival_team(team))
		return usage(err, errlen, "--team '%s': expected a team name, "
		    "1 to %d of a-z 0-9 -", team, CLIVAL_TEAM_MAX);
	if (o->o_to_subject != NULL)
		return usage(err, errlen, "--team names a team of an "
		    "organisation, not of one person: give --to %s --team %s, "
		    "not --to '%s'", o->o_to_org, team, to);
	o->o_to_team = team;
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
	if (clival_number(s, min, max, out) == -1)
		return usage(err, errlen, "%s '%s': expected a whole number "
		    "from %llu to %llu", opt, s, (unsigned long long)min,
		    (unsigned long long)max);
	return 0;
}

static int
parse_date_opt(const char *opt, const char *s, int64_t *us, char *err,
    size_t errlen)
{
	if (clival_date(s, us) == -1)
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

static void
long_options(struct option lo[OPT_COUNT + 1])
{
	int id;

	for (id = 0; id < OPT_COUNT; id++) {
		lo[id].name = opt_defs[id].od_name;
		lo[id].has_arg = opt_defs[id].od_kind == KIND_FLAG ?
		    no_argument : required_argument;
		lo[id].flag = NULL;
		lo[id].val = OPTVAL(id);
	}
	memset(&lo[OPT_COUNT], 0, sizeof(lo[OPT_COUNT]));
}

static int
getopt_all(struct raw *r, int argc, char **argv, char *err, size_t errlen)
{
	struct option lo[OPT_COUNT + 1];
	int c, id, idx;

	long_options(lo);
	optind = 0;	/* glibc: start afresh (tests parse many times) */
	opterr = 0;
	for (;;) {
		idx = -1;
		c = getopt_long(argc, argv, "-:ho:", lo, &idx);
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

static const struct clicmd *
find_cmd(const struct raw *r, size_t *nwords, char *err, size_t errlen)
{
	const char *w1 = r->r_words[0];
	const char *w2 = r->r_nwords > 1 ? r->r_words[1] : NULL;
	const struct clicmd *cd;
	char subs[128] = "";
	size_t i, known = 0;

	for (i = 0; i < clicmd_count; i++) {
		cd = &clicmd_table[i];
		if (strcmp(cd->cc_w1, w1) != 0)
			continue;
		known = 1;
		if (cd->cc_w2 == NULL) {
			*nwords = 1;
			return cd;
		}
		if (w2 != NULL && strcmp(cd->cc_w2, w2) == 0) {
			*nwords = 2;
			return cd;
		}
		if (subs[0] != '\0')
			strncat(subs, ", ", sizeof(subs) - strlen(subs) - 1);
		strncat(subs, cd->cc_w2, sizeof(subs) - strlen(subs) - 1);
	}
	if (!known)
		usage(err, errlen, "unknown subcommand '%s' (see eenplan help)",
		    w1);
	else
		usage(err, errlen, "'%s' needs one of: %s", w1, subs);
	return NULL;
}

static int
check_options(const struct clicmd *cd, const struct raw *r, const char *name,
    char *err, size_t errlen)
{
	int id;

	for (id = 0; id < OPT_NCMD; id++) {
		if ((r->r_given & B(id)) && !(cd->cc_allowed & B(id)))
			return usage(err, errlen, "--%s does not apply to '%s'",
			    opt_name(id), name);
		if ((cd->cc_required & B(id)) && !(r->r_given & B(id)))
			return usage(err, errlen, "'%s' needs --%s", name,
			    opt_name(id));
	}
	if (r->r_ndomains > 1 && !(cd->cc_flags & CC_MANY_DOMAINS))
		return usage(err, errlen, "--domain given twice");
	if (r->r_nmembers > 1 && !(cd->cc_flags & CC_MANY_MEMBERS))
		return usage(err, errlen, "--member given twice");
	return 0;
}

static int
positional(struct cliopt *o, const struct clicmd *cd, char **args, size_t n,
    char *err, size_t errlen)
{
	const char *p;
	size_t i = 0, min = 0, max = 0;

	for (p = cd->cc_pos; *p != '\0'; p++) {
		max++;
		min += (*p != 'h' || !o->o_org) && *p != 'v' && *p != 'O';
	}
	if (n < min && strchr(cd->cc_pos, 'h') != NULL)
		return usage(err, errlen, "'%s' needs a household id (or --org "
		    "for your organisation's records)", o->o_cmdname);
	if (n < min || n > max)
		return usage(err, errlen, "'%s' takes %zu argument%s, got %zu "
		    "(see eenplan help)", o->o_cmdname, min,
		    min == 1 ? "" : "s", n);
	for (p = cd->cc_pos; *p != '\0' && i < n; p++, i++) {
		switch (*p) {
		case 'H':
		case 'h':
		case 'O':
			if (clival_household_id(args[i], o->o_hh) == -1)
				return usage(err, errlen, "'%s' is not a "
				    "household id (32 hex characters)",
				    args[i]);
			break;
		case 'G':
		case 'A':
			if (parse_num(*p == 'G' ? "goal id" : "action id",
			    args[i], 1, UINT32_MAX, &o->o_id, err, errlen) == -1)
				return -1;
			break;
		case 'R':
			if (parse_num("grant id", args[i], 1, INT64_MAX,
			    &o->o_id, err, errlen) == -1)
				return -1;
			break;
		case 'V':
		case 'v':
			if (parse_num("version", args[i], 1, INT64_MAX,
			    *p == 'V' ? &o->o_version : &o->o_version2, err,
			    errlen) == -1)
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
	    (o->o_def->cc_flags & CC_TO_SUBJECT) != 0, &o->o_to_org, &o->o_to_subject,
	    err, errlen) == -1)
		return -1;
	if (v[OPT_TEAM] && parse_team(o, v[OPT_TEAM], v[OPT_TO], err,
	    errlen) == -1)
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
		if (o->o_def->cc_flags & CC_UNTIL_DAY)
			o->o_until += CLIVAL_US_PER_DAY;
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
	o->o_fhir = v[OPT_FHIR] != NULL;
	if ((o->o_svg = v[OPT_SVG]) &&
	    nonempty("svg", o->o_svg, err, errlen) == -1)
		return -1;
	if ((o->o_dir = v[OPT_DIR]) &&
	    nonempty("dir", o->o_dir, err, errlen) == -1)
		return -1;
	o->o_once = v[OPT_ONCE] != NULL;
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
	if (o->o_as != NULL && (!clival_ident(o->o_as, 64) || o->o_as[0] == '.'))
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
	const struct clicmd *cd;
	struct raw r;
	size_t nw;

	memset(o, 0, sizeof(*o));
	memset(&r, 0, sizeof(r));
	if (getopt_all(&r, argc, argv, err, errlen) == -1 ||
	    connection_flags(o, &r, err, errlen) == -1)
		return -1;
	if (r.r_help || (r.r_nwords > 0 && strcmp(r.r_words[0], "help") == 0)) {
		o->o_cmd = CMD_HELP;
		o->o_def = clicmd_of(CMD_HELP);
		o->o_cmdname = "help";
		return 0;
	}
	if (r.r_nwords == 0)
		return usage(err, errlen, "no subcommand given (see eenplan "
		    "help)");
	if ((cd = find_cmd(&r, &nw, err, errlen)) == NULL)
		return -1;
	o->o_cmd = cd->cc_cmd;
	o->o_def = cd;
	o->o_cmdname = nw == 1 ? cd->cc_w1 : NULL;
	if (nw == 2) {
		char name[64];

		snprintf(name, sizeof(name), "%s %s", cd->cc_w1, cd->cc_w2);
		if ((o->o_cmdname = own(o, name, strlen(name))) == NULL)
			return usage(err, errlen, "out of memory");
	}
	o->o_status = cd->cc_status;
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

