/* clicmd: the table of eenplan's subcommands (see clicmd.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clicmd.h"
#include "cliconn.h"
#include "clicontacts.h"
#include "clidiff.h"
#include "clifhir.h"
#include "cliout.h"
#include "cliprogress.h"
#include "clirun.h"
#include "clisignal.h"
#include "clisync.h"

#define B(x)		CLIOPT_BIT(x)
#define MUT		B(OPT_EXPECT_VERSION)
#define BODY(x)		EENPLAN__V1__RESPONSE__BODY_ ## x
#define ACTION(x)	EENPLAN__V1__ACTION_STATUS__ACTION_ ## x

const struct clicmd clicmd_table[] = {
	{ "whoami", NULL, CMD_WHOAMI, 0, "", 0, 0, 0, "",
	    clireq_whoami, BODY(WHO_AM_I), cliout_whoami, NULL },
	{ "household", "create", CMD_HOUSEHOLD_CREATE, 0, "",
	    B(OPT_AREA) | B(OPT_MEMBER) | B(OPT_CONSENT_REF),
	    B(OPT_AREA) | B(OPT_MEMBER) | B(OPT_CONSENT_REF), CC_MANY_MEMBERS,
	    "--area noord|oost|west|binnenstad|stedelijk\n"
	    "--member PERSON_ID:NAME[:RELATION]... --consent-ref REF",
	    clireq_household_create, BODY(CREATE_HOUSEHOLD), cliout_created,
	    NULL },
	{ "households", NULL, CMD_HOUSEHOLDS, 0, "",
	    B(OPT_PAGE_SIZE) | B(OPT_PAGE_TOKEN), 0, 0,
	    "[--page-size N] [--page-token T]",
	    clireq_households, BODY(LIST_HOUSEHOLDS), cliout_households, NULL },
	{ "plan", "show", CMD_PLAN_SHOW, 0, "H", B(OPT_VERSION), 0, 0,
	    "HH [--version N]",
	    clireq_get_plan, BODY(GET_PLAN), cliout_plan, NULL },
	{ "plan", "diff", CMD_PLAN_DIFF, 0, "HVv", 0, 0, 0,
	    "HH VERSION [VERSION]     (what changed; the second defaults to "
	    "now)",
	    clireq_get_plan, BODY(GET_PLAN), NULL, clidiff_run },
	{ "goal", "add", CMD_GOAL_ADD, 0, "H",
	    B(OPT_DOMAIN) | B(OPT_TEXT) | B(OPT_TARGET_DATE) | MUT,
	    B(OPT_DOMAIN) | B(OPT_TEXT), 0,
	    "HH --domain D --text T [--target-date DATE]",
	    clireq_goal_add, BODY(MUTATE_PLAN), cliout_goal_added, NULL },
	{ "goal", "status", CMD_GOAL_STATUS, 0, "HGS", MUT, 0, 0,
	    "HH GOAL_ID open|achieved|dropped",
	    clireq_goal_status, BODY(MUTATE_PLAN), cliout_goal_status, NULL },
	{ "action", "add", CMD_ACTION_ADD, 0, "H",
	    B(OPT_GOAL) | B(OPT_TEXT) | B(OPT_OWNER) | B(OPT_DUE) | MUT,
	    B(OPT_GOAL) | B(OPT_TEXT) | B(OPT_OWNER), 0,
	    "HH --goal ID --text T --owner ORG[/SUBJECT] [--due DATE]",
	    clireq_action_add, BODY(MUTATE_PLAN), cliout_action_added, NULL },
	{ "action", "accept", CMD_ACTION_STATUS, ACTION(ACCEPTED), "HA", MUT, 0,
	    0, "HH ACTION_ID",
	    clireq_action_status, BODY(MUTATE_PLAN), cliout_action_status,
	    NULL },
	{ "action", "start", CMD_ACTION_STATUS, ACTION(IN_PROGRESS), "HA", MUT,
	    0, 0, "HH ACTION_ID",
	    clireq_action_status, BODY(MUTATE_PLAN), cliout_action_status,
	    NULL },
	{ "action", "done", CMD_ACTION_STATUS, ACTION(DONE), "HA", MUT, 0, 0,
	    "HH ACTION_ID",
	    clireq_action_status, BODY(MUTATE_PLAN), cliout_action_status,
	    NULL },
	{ "action", "cancel", CMD_ACTION_STATUS, ACTION(CANCELLED), "HA", MUT,
	    0, 0, "HH ACTION_ID",
	    clireq_action_status, BODY(MUTATE_PLAN), cliout_action_status,
	    NULL },
	{ "note", "add", CMD_NOTE_ADD, 0, "H",
	    B(OPT_DOMAIN) | B(OPT_TEXT) | MUT, B(OPT_DOMAIN) | B(OPT_TEXT), 0,
	    "HH --domain D --text T",
	    clireq_note_add, BODY(MUTATE_PLAN), cliout_note_added, NULL },
	{ "assess", NULL, CMD_ASSESS, 0, "H",
	    B(OPT_DOMAIN) | B(OPT_SCORE) | B(OPT_REMARK) | MUT,
	    B(OPT_DOMAIN) | B(OPT_SCORE), 0,
	    "HH --domain D --score 1-5 [--remark T]",
	    clireq_assess, BODY(MUTATE_PLAN), cliout_assessed, NULL },
	{ "target", NULL, CMD_TARGET, 0, "H",
	    B(OPT_DOMAIN) | B(OPT_SCORE) | MUT, B(OPT_DOMAIN) | B(OPT_SCORE), 0,
	    "HH --domain D --score 1-5",
	    clireq_target, BODY(MUTATE_PLAN), cliout_target_set, NULL },
	{ "member", "add", CMD_MEMBER_ADD, 0, "H", B(OPT_MEMBER) | MUT,
	    B(OPT_MEMBER), 0,
	    "HH --member PERSON_ID:NAME[:RELATION]\n"
	    "(plan changes also take --expect-version N: refused if the plan\n"
	    "has moved on)",
	    clireq_member_add, BODY(MUTATE_PLAN), cliout_member_added, NULL },
	{ "history", NULL, CMD_HISTORY, 0, "H", B(OPT_AFTER) | B(OPT_LIMIT), 0,
	    0, "HH [--after N] [--limit N]",
	    clireq_history, BODY(GET_HISTORY), cliout_history, clirun_history },
	{ "progress", NULL, CMD_PROGRESS, 0, "H", B(OPT_SVG), 0, 0,
	    "HH [--svg FILE]          (ZRM scores over time, targets marked)",
	    clireq_get_plan, BODY(GET_PLAN), NULL, cliprogress_run },
	{ "contacts", NULL, CMD_CONTACTS, 0, "H", 0, 0, 0,
	    "HH                       (who does what: wie doet wat)",
	    clireq_get_plan, BODY(GET_PLAN), NULL, clicontacts_run },
	{ "consent", "grant", CMD_CONSENT_GRANT, 0, "H",
	    B(OPT_TO) | B(OPT_TEAM) | B(OPT_ACCESS) | B(OPT_DOMAIN) |
	    B(OPT_UNTIL) | B(OPT_FROM) | B(OPT_PURPOSE) | B(OPT_FORM_REF),
	    B(OPT_TO) | B(OPT_ACCESS) | B(OPT_PURPOSE), CC_MANY_DOMAINS,
	    "HH --to ORG[/SUBJECT] [--team TEAM] --access read|contribute\n"
	    "[--domain D]... [--from DATE] [--until DATE] --purpose TEXT\n"
	    "[--form-ref REF]   (--team: only that team of ORG)",
	    clireq_consent_grant, BODY(GRANT_CONSENT), cliout_granted, NULL },
	{ "consent", "revoke", CMD_CONSENT_REVOKE, 0, "HR", B(OPT_FORM_REF), 0,
	    0, "HH GRANT_ID [--form-ref REF]",
	    clireq_consent_revoke, BODY(REVOKE_CONSENT), cliout_revoked, NULL },
	{ "consent", "list", CMD_CONSENT_LIST, 0, "H", B(OPT_ALL), 0, 0,
	    "HH [--all]",
	    clireq_consent_list, BODY(LIST_CONSENT), cliout_consent, NULL },
	{ "regie", "transfer", CMD_REGIE_TRANSFER, 0, "H",
	    B(OPT_TO) | B(OPT_FORM_REF) | B(OPT_REASON), B(OPT_TO),
	    CC_TO_SUBJECT,
	    "HH --to ORG/SUBJECT [--form-ref REF] [--reason T]",
	    clireq_regie_transfer, BODY(TRANSFER_REGIE), cliout_regie, NULL },
	{ "breakglass", NULL, CMD_BREAKGLASS, 0, "H", B(OPT_REASON),
	    B(OPT_REASON), 0, "HH --reason TEXT",
	    clireq_breakglass, BODY(BREAK_GLASS), cliout_breakglass, NULL },
	{ "escalate", NULL, CMD_ESCALATE, 0, "H", B(OPT_REASON), B(OPT_REASON),
	    0, "HH --reason TEXT",
	    clireq_escalate, BODY(ESCALATE), cliout_escalated, NULL },
	{ "close", NULL, CMD_CLOSE, 0, "H", B(OPT_REASON), B(OPT_REASON), 0,
	    "HH --reason TEXT",
	    clireq_close, BODY(CLOSE_HOUSEHOLD), cliout_closed, NULL },
	{ "audit", NULL, CMD_AUDIT, 0, "h",
	    B(OPT_FROM) | B(OPT_UNTIL) | B(OPT_ALL_PAGES) | B(OPT_ORG), 0,
	    CC_UNTIL_DAY,
	    "HH [--from DATE] [--until DATE] [--all-pages]\n"
	    "audit --org [HH] [--from DATE] [--until DATE] [--all-pages]",
	    clireq_audit, BODY(QUERY_AUDIT), cliout_audit_page, clirun_audit },
	{ "afschrift", NULL, CMD_AFSCHRIFT, 0, "H", B(OPT_OUTPUT), 0, 0,
	    "HH [-o FILE]",
	    clireq_get_plan, BODY(GET_PLAN), NULL, clirun_afschrift },
	{ "export", NULL, CMD_EXPORT, 0, "H", B(OPT_FHIR) | B(OPT_OUTPUT),
	    B(OPT_FHIR), 0,
	    "--fhir HH [-o FILE]     (FHIR R4 Bundle: CarePlan, Goal, ...)",
	    clireq_get_plan, BODY(GET_PLAN), NULL, clifhir_run },
	{ "changes", NULL, CMD_CHANGES, 0, "",
	    B(OPT_SINCE) | B(OPT_LIMIT) | B(OPT_FOLLOW), 0, CC_OWNS_CONN,
	    "[--since N] [--limit N] [--follow]",
	    clireq_changes, BODY(READ_CHANGES), cliout_changes, clirun_changes },
	{ "watch", NULL, CMD_WATCH, 0, "", B(OPT_SINCE), 0, CC_OWNS_CONN,
	    "[--since N]                 (events as they happen; --json: a "
	    "line each)",
	    clireq_changes, BODY(READ_CHANGES), NULL, clisync_watch },
	{ "sync", NULL, CMD_SYNC, 0, "", B(OPT_DIR) | B(OPT_ONCE), B(OPT_DIR),
	    CC_OWNS_CONN,
	    "--dir DIR [--once]           (a mirror: DIR/HH.json per household "
	    "you\nmay read, removed when your access ends)",
	    clireq_changes, BODY(READ_CHANGES), NULL, clisync_mirror },
	{ "signal", "send", CMD_SIGNAL_SEND, 0, "H", B(OPT_DOMAIN) | B(OPT_TEXT),
	    B(OPT_DOMAIN) | B(OPT_TEXT), 0,
	    "HH --domain D --text T (a concern, for its regisseur)",
	    clireq_signal_send, BODY(SEND_SIGNAL), cliout_signal_sent, NULL },
	{ "signals", NULL, CMD_SIGNALS, 0, "O", 0, 0, 0,
	    "[HH]                      (for the households you direct, and the "
	    "ones\nyou sent)",
	    clireq_signals, BODY(LIST_SIGNALS), NULL, clisignal_list },
	{ "help", NULL, CMD_HELP, 0, "", 0, 0, 0, "", NULL, 0, NULL, NULL },
};

const size_t clicmd_count = sizeof(clicmd_table) / sizeof(clicmd_table[0]);

const struct clicmd *
clicmd_of(enum cliopt_cmd cmd)
{
	size_t i;

	for (i = 0; i < clicmd_count; i++)
		if (clicmd_table[i].cc_cmd == cmd)
			return &clicmd_table[i];
	return NULL;
}

/* ------------------------------------------------------------ usage */

static const char usage_head[] =
"usage: eenplan [connection options] [--json] SUBCOMMAND [ARGS]\n"
"\n"
"Connection (flags override environment, which overrides the config file):\n"
"  --server HOST:PORT   EENPLAN_SERVER, default " CLICONN_DEFAULT_SERVER "\n"
"  --cert FILE          EENPLAN_CERT   your certificate\n"
"  --key FILE           EENPLAN_KEY    its private key (mode 600)\n"
"  --ca FILE            EENPLAN_CA     the deployment's root CA\n"
"  --as NAME            PKI/people/NAME.crt and .key, PKI/ca/root.crt\n"
"  --pki DIR            EENPLAN_PKI, default " CLICONN_DEFAULT_PKI "\n"
"  --config FILE        default ~/.config/eenplan/client.conf: lines of\n"
"                       \"key = value\" with keys server, cert, key, ca, pki\n"
"  --json               print the answer as JSON (every subcommand)\n"
"\n"
"Subcommands (HH is a household id, dates are YYYY-MM-DD):\n";

static const char usage_tail[] =
"\n"
"Domains: financien werk_opleiding tijdsbesteding huisvesting\n"
"  huiselijke_relaties geestelijke_gezondheid lichamelijke_gezondheid\n"
"  middelengebruik basale_adl instrumentele_adl sociaal_netwerk\n"
"  maatschappelijke_participatie justitie\n"
"Grant dates are 00:00 UTC of the day; audit --until includes its day.\n"
"\n"
"Exit status: 0 done, 1 refused by the server (or failed), 2 usage error,\n"
"3 cannot connect or the connection failed. See eenplan(1).\n";

/* Rows next to each other with the same first word and help are one line. */
static size_t
same_group(size_t i)
{
	const struct clicmd *a = &clicmd_table[i], *b;
	size_t n = 1;

	while (i + n < clicmd_count) {
		b = &clicmd_table[i + n];
		if (a->cc_w2 == NULL || b->cc_w2 == NULL ||
		    strcmp(a->cc_w1, b->cc_w1) != 0 ||
		    strcmp(a->cc_help, b->cc_help) != 0)
			break;
		n++;
	}
	return n;
}

void
clicmd_usage(FILE *f)
{
	const struct clicmd *cd;
	const char *p;
	size_t i, j, n;

	fputs(usage_head, f);
	for (i = 0; i < clicmd_count; i += n) {
		cd = &clicmd_table[i];
		n = same_group(i);
		fprintf(f, "  %s", cd->cc_w1);
		for (j = 0; j < n; j++)
			if (clicmd_table[i + j].cc_w2 != NULL)
				fprintf(f, "%c%s", j ? '|' : ' ',
				    clicmd_table[i + j].cc_w2);
		if (cd->cc_help[0] != '\0')
			fputc(' ', f);
		for (p = cd->cc_help; *p != '\0'; p++) {
			fputc(*p, f);
			if (*p == '\n')
				fputs("      ", f);
		}
		fputc('\n', f);
	}
	fputs(usage_tail, f);
}

static json_t *
options_json(uint64_t bits, int from, int to)
{
	json_t *arr = json_array();
	int id;

	for (id = from; arr != NULL && id < to; id++)
		if (bits & B(id))
			json_array_append_new(arr, json_sprintf("--%s",
			    cliopt_def(id)->od_name));
	return arr;
}

int
clicmd_usage_json(FILE *f)
{
	const struct clicmd *cd;
	json_t *doc, *cmds, *c, *doms;
	size_t i;
	int d, rc;

	doc = json_object();
	cmds = json_array();
	doms = json_array();
	if (doc == NULL || cmds == NULL || doms == NULL) {
		json_decref(doc);
		json_decref(cmds);
		json_decref(doms);
		return -1;
	}
	json_object_set_new(doc, "subcommands", cmds);
	for (i = 0; i < clicmd_count; i++) {
		cd = &clicmd_table[i];
		c = json_object();
		json_object_set_new(c, "name", cd->cc_w2 ? json_sprintf("%s %s",
		    cd->cc_w1, cd->cc_w2) : json_string(cd->cc_w1));
		json_object_set_new(c, "usage", json_string(cd->cc_help));
		json_object_set_new(c, "options",
		    options_json(cd->cc_allowed, 0, OPT_NCMD));
		json_object_set_new(c, "required",
		    options_json(cd->cc_required, 0, OPT_NCMD));
		json_array_append_new(cmds, c);
	}
	json_object_set_new(doc, "global_options",
	    options_json(~(uint64_t)0, OPT_NCMD, OPT_COUNT));
	for (d = 1; wire_domain_name(d) != NULL; d++)
		json_array_append_new(doms, json_pack("{s:s, s:s}", "name",
		    wire_domain_name(d), "label", wire_domain_label(d)));
	json_object_set_new(doc, "domains", doms);
	rc = clirun_json_dump(f, doc);
	json_decref(doc);
	return rc;
}
