/*
 * test_client_views: the CLI's subcommand table and its views — progress
 * (text, SVG, JSON), plan diff, contacts, the FHIR bundle and completion —
 * on plans built here, without a server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "clicmd.h"
#include "clicomplete.h"
#include "clicontacts.h"
#include "clidiff.h"
#include "clifhir.h"
#include "cliopt.h"
#include "cliprogress.h"

#define HH	"0123456789abcdef0123456789abcdef"
#define DAY	(86400LL * 1000000LL)
#define T0	1772359200000000LL	/* 2026-03-01 10:00 UTC */

static char	*outbuf;
static size_t	 outlen;

static FILE *
out_open(void)
{
	FILE *f;

	free(outbuf);
	outbuf = NULL;
	assert_non_null(f = open_memstream(&outbuf, &outlen));
	return f;
}

static void
has(const char *want)
{
	if (strstr(outbuf, want) == NULL)
		fail_msg("expected '%s' in:\n%s", want, outbuf);
}

static void
lacks(const char *bad)
{
	if (strstr(outbuf, bad) != NULL)
		fail_msg("did not expect '%s' in:\n%s", bad, outbuf);
}

static size_t
count(const char *needle)
{
	const char *p = outbuf;
	size_t n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

static int
teardown(void **state)
{
	(void)state;
	free(outbuf);
	outbuf = NULL;
	return 0;
}

/* ------------------------------------------------------------ a plan */

static EpPrincipal	reg, lev;
static EpPlan		plan;
static EpMember		mem[2], *memp[2];
static EpGoal		goals[3], *goalp[3];
static EpAction		acts[4], *actp[4];
static EpAssessment	as[6], *asp[6];
static EpTargetScore	tg[2], *tgp[2];
static EpNote		notes[1], *notep[1];
static Eenplan__V1__GetPlanResponse gp;

static void
make_plan(void)
{
	size_t i;

	eenplan__v1__principal__init(&reg);
	reg.org = "gemeente";
	reg.subject = "a.devries";
	reg.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	eenplan__v1__principal__init(&lev);
	lev.org = "lev";
	lev.subject = "s.bakker";
	lev.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	eenplan__v1__plan__init(&plan);
	plan.household_id = HH;
	plan.version = 9;
	plan.status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ACTIVE;
	plan.area = EENPLAN__V1__AREA__AREA_NOORD;
	plan.regisseur = &reg;
	plan.created_at = T0;
	plan.updated_at = T0 + 90 * DAY;
	for (i = 0; i < 2; i++) {
		eenplan__v1__member__init(&mem[i]);
		memp[i] = &mem[i];
	}
	mem[0].person_id = "henk.desmet";
	mem[0].name = "Henk de Smet";
	mem[0].relation = "ouder";
	mem[1].person_id = "anja.desmet";
	mem[1].name = "Anja";
	plan.n_members = 2;
	plan.members = memp;
	for (i = 0; i < 3; i++) {
		eenplan__v1__goal__init(&goals[i]);
		goalp[i] = &goals[i];
		goals[i].id = (uint32_t)i + 1;
		goals[i].status = EENPLAN__V1__GOAL_STATUS__GOAL_OPEN;
		goals[i].created_at = T0;
		goals[i].created_by = &reg;
	}
	goals[0].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	goals[0].text = "Schulden stabiliseren";
	goals[0].target_date = "2027-06-30";
	goals[1].domain = EENPLAN__V1__DOMAIN__DOMAIN_WERK_OPLEIDING;
	goals[1].text = "Werk <vinden> & houden";
	goals[2].domain = EENPLAN__V1__DOMAIN__DOMAIN_HUISVESTING;
	goals[2].text = "Woning behouden";
	goals[2].status = EENPLAN__V1__GOAL_STATUS__GOAL_ACHIEVED;
	plan.n_goals = 3;
	plan.goals = goalp;
	for (i = 0; i < 4; i++) {
		eenplan__v1__action__init(&acts[i]);
		actp[i] = &acts[i];
		acts[i].id = (uint32_t)i + 10;
		acts[i].status = EENPLAN__V1__ACTION_STATUS__ACTION_PROPOSED;
	}
	acts[0].goal_id = 1;
	acts[0].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	acts[0].text = "Aanmelden schuldhulp";
	acts[0].owner_org = "lev";
	acts[0].owner_subject = "s.bakker";
	acts[0].due_date = "2030-12-15";
	acts[0].status = EENPLAN__V1__ACTION_STATUS__ACTION_ACCEPTED;
	acts[1].goal_id = 3;
	acts[1].domain = EENPLAN__V1__DOMAIN__DOMAIN_HUISVESTING;
	acts[1].text = "Verhuurder bellen";
	acts[1].owner_org = "gemeente";
	acts[1].due_date = "2020-01-31";
	acts[2].goal_id = 2;
	acts[2].domain = EENPLAN__V1__DOMAIN__DOMAIN_WERK_OPLEIDING;
	acts[2].text = "Intake werkfit";
	acts[2].owner_org = "senzer";
	acts[3].goal_id = 1;
	acts[3].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	acts[3].text = "Budgetplan maken";
	acts[3].owner_org = "lev";
	acts[3].status = EENPLAN__V1__ACTION_STATUS__ACTION_DONE;
	plan.n_actions = 4;
	plan.actions = actp;
	for (i = 0; i < 6; i++) {
		eenplan__v1__assessment__init(&as[i]);
		asp[i] = &as[i];
		as[i].id = (uint32_t)i + 20;
		as[i].by = &reg;
		as[i].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	}
	/* Out of time order on purpose; the last two are not drawable. */
	as[0].score = 3;
	as[0].at = T0 + 60 * DAY;
	as[1].score = 1;
	as[1].at = T0;
	as[2].score = 2;
	as[2].at = T0 + 30 * DAY;
	as[3].domain = EENPLAN__V1__DOMAIN__DOMAIN_WERK_OPLEIDING;
	as[3].score = 4;
	as[3].at = T0 + 10 * DAY;
	as[3].remark = "Werkt & leert";
	as[4].score = 9;
	as[4].at = T0;
	as[5].domain = 77;
	as[5].score = 3;
	as[5].at = T0;
	plan.n_assessments = 6;
	plan.assessments = asp;
	for (i = 0; i < 2; i++) {
		eenplan__v1__target_score__init(&tg[i]);
		tgp[i] = &tg[i];
	}
	tg[0].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	tg[0].score = 4;
	tg[1].domain = EENPLAN__V1__DOMAIN__DOMAIN_JUSTITIE;
	tg[1].score = 5;
	plan.n_targets = 2;
	plan.targets = tgp;
	eenplan__v1__note__init(&notes[0]);
	notep[0] = &notes[0];
	notes[0].id = 30;
	notes[0].domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	notes[0].text = "Post samen geopend";
	notes[0].by = &lev;
	notes[0].at = T0 + DAY;
	plan.n_notes = 1;
	plan.notes = notep;
	eenplan__v1__get_plan_response__init(&gp);
	gp.plan = &plan;
	gp.access = EENPLAN__V1__ACCESS__ACCESS_MANAGE;
}

/* ------------------------------------------------------------ table */

static void
test_table(void **state)
{
	const struct clicmd *a, *b;
	size_t i, j;
	int id;

	(void)state;
	for (i = 0; i < clicmd_count; i++) {
		a = &clicmd_table[i];
		assert_non_null(a->cc_help);
		if (a->cc_cmd != CMD_HELP && a->cc_run == NULL) {
			/* One request, one printed answer. */
			assert_non_null(a->cc_build);
			assert_non_null(a->cc_print);
			assert_true(a->cc_body != 0);
		}
		assert_true((a->cc_required & ~a->cc_allowed) == 0);
		for (id = OPT_NCMD; id < 64; id++)
			assert_false(a->cc_allowed & CLIOPT_BIT(id));
		assert_true(clicmd_of(a->cc_cmd) == a ||
		    a->cc_cmd == CMD_ACTION_STATUS);
		for (j = i + 1; j < clicmd_count; j++) {
			b = &clicmd_table[j];
			assert_false(strcmp(a->cc_w1, b->cc_w1) == 0 &&
			    (a->cc_w2 == NULL || b->cc_w2 == NULL ||
			    strcmp(a->cc_w2, b->cc_w2) == 0));
		}
	}
	for (id = 0; id < OPT_COUNT; id++)
		assert_non_null(cliopt_def(id)->od_name);
	assert_null(cliopt_def(OPT_COUNT));
}

static char	*argv_[16];
static struct cliopt opt;
static char	 err[256];

static int
parse(int n, ...)
{
	va_list ap;
	int i;

	cliopt_free(&opt);
	argv_[0] = (char *)(uintptr_t)"eenplan";
	va_start(ap, n);
	for (i = 1; i <= n && i < 15; i++)
		argv_[i] = va_arg(ap, char *);
	va_end(ap);
	argv_[i] = NULL;
	err[0] = '\0';
	return cliopt_parse(&opt, i, argv_, err, sizeof(err));
}

static void
test_parse_views(void **state)
{
	(void)state;
	assert_int_equal(parse(4, "progress", HH, "--svg", "out.svg"), 0);
	assert_int_equal(opt.o_cmd, CMD_PROGRESS);
	assert_string_equal(opt.o_svg, "out.svg");
	assert_int_equal(parse(4, "plan", "diff", HH, "3"), 0);
	assert_int_equal(opt.o_cmd, CMD_PLAN_DIFF);
	assert_true(opt.o_version == 3 && opt.o_version2 == 0);
	assert_int_equal(parse(5, "plan", "diff", HH, "3", "7"), 0);
	assert_true(opt.o_version == 3 && opt.o_version2 == 7);
	assert_int_equal(parse(3, "plan", "diff", HH), -1);
	assert_non_null(strstr(err, "takes 2 arguments"));
	assert_int_equal(parse(4, "plan", "diff", HH, "x"), -1);
	assert_non_null(strstr(err, "version 'x'"));
	assert_int_equal(parse(2, "contacts", HH), 0);
	assert_int_equal(opt.o_cmd, CMD_CONTACTS);
	assert_int_equal(parse(5, "export", "--fhir", HH, "-o", "x.json"), 0);
	assert_true(opt.o_fhir && strcmp(opt.o_output, "x.json") == 0);
	assert_int_equal(parse(2, "export", HH), -1);
	assert_non_null(strstr(err, "needs --fhir"));
	assert_int_equal(parse(4, "contacts", HH, "--svg", "x"), -1);
	assert_non_null(strstr(err, "--svg does not apply to 'contacts'"));
	assert_int_equal(parse(2, "--json", "help"), 0);
	assert_true(opt.o_cmd == CMD_HELP && opt.o_json);
	cliopt_free(&opt);
}

/* ------------------------------------------------------------ progress */

static void
test_progress(void **state)
{
	json_t *j, *d;
	FILE *f;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	make_plan();
	f = out_open();
	cliprogress_text(f, &plan, 40);
	fclose(f);
	has("Financiën: now 3 beperkt zelfredzaam, target 4 voldoende");
	has("scores: 1 on 2026-03-01, 2 on 2026-03-31, 3 on 2026-04-30");
	has("Werk & opleiding: now 4");
	has("Justitie: not scored yet, target 5");
	has("  4 ┤┈┈");
	has(" target\n");
	has("2026-03-01");
	lacks("Huisvesting");	/* neither a score nor a target */

	f = out_open();
	assert_int_equal(cliprogress_svg(f, &plan, T0 + 100 * DAY), 0);
	fclose(f);
	has("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
	has("width=\"210mm\" height=\"297mm\"");
	/* 4 drawable scores; 9 and domain 77 are left out. */
	assert_int_equal(count("<circle class=\"score\""), 4);
	assert_int_equal(count("<g class=\"domain\""), 3);
	assert_int_equal(count("class=\"target\" data-score=\"4\""), 1);
	assert_int_equal(count("class=\"target\" data-score=\"5\""), 1);
	has("Werk &amp; opleiding");
	lacks("Werk & opleiding");
	has("data-domain=\"financien\" data-score=\"1\" data-at=\"1772359200000000\"");
	has("not scored yet");
	assert_non_null(strstr(outbuf, "</svg>\n"));

	assert_non_null(j = cliprogress_json(&plan));
	d = json_array_get(json_object_get(j, "domains"), 0);
	assert_string_equal(json_string_value(json_object_get(d, "domain")),
	    "financien");
	assert_int_equal(json_integer_value(json_object_get(d, "latest")), 3);
	assert_int_equal(json_integer_value(json_object_get(d, "target")), 4);
	assert_int_equal(json_array_size(json_object_get(d, "scores")), 3);
	assert_int_equal(json_array_size(json_object_get(j, "domains")), 3);
	json_decref(j);

	/* An empty plan still makes a page that says so. */
	plan.n_assessments = plan.n_targets = 0;
	f = out_open();
	assert_int_equal(cliprogress_svg(f, &plan, T0), 0);
	fclose(f);
	has("No scores or targets in this plan yet.");
}

/* ------------------------------------------------------------ diff */

static void
test_diff(void **state)
{
	Eenplan__V1__GetPlanResponse old;
	EpPlan p0;
	EpGoal g0;
	EpGoal *g0p[1];
	EpAssessment *a0p[1];
	json_t *d, *c;
	FILE *f;

	(void)state;
	make_plan();
	/* Version 4: one member, goal 1 still with another text, one score. */
	p0 = plan;
	p0.version = 4;
	p0.n_members = 1;
	g0 = goals[0];
	g0.text = "Schulden in kaart";
	g0.status = EENPLAN__V1__GOAL_STATUS__GOAL_DROPPED;
	g0p[0] = &g0;
	p0.goals = g0p;
	p0.n_goals = 1;
	p0.n_actions = 0;
	a0p[0] = &as[1];
	p0.assessments = a0p;
	p0.n_assessments = 1;
	p0.n_targets = 0;
	p0.n_notes = 0;
	p0.status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_ESCALATED;
	old = gp;
	old.plan = &p0;
	assert_non_null(d = clidiff_json(&old, &gp));
	assert_int_equal(json_integer_value(json_object_get(d, "from_version")),
	    4);
	c = json_object_get(d, "goals");
	assert_int_equal(json_array_size(json_object_get(c, "added")), 2);
	assert_int_equal(json_array_size(json_object_get(c, "changed")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(c, "changed"), 0), "status_was")), "dropped");
	assert_int_equal(json_array_size(json_object_get(json_object_get(d,
	    "actions"), "added")), 4);
	/* Scores: 5 new (the one in version 4 is not), previous from b. */
	c = json_object_get(json_object_get(d, "scores"), "added");
	assert_int_equal(json_array_size(c), 5);
	assert_int_equal(json_array_size(json_object_get(json_object_get(d,
	    "targets"), "changed")), 2);
	assert_int_equal(json_array_size(json_object_get(json_object_get(d,
	    "members"), "added")), 1);
	assert_non_null(json_object_get(d, "status"));
	f = out_open();
	clidiff_text(f, d);
	fclose(f);
	has("from version 4 to version 9");
	has("Status: escalated → active");
	has("~ goal 1 Financiën: Schulden stabiliseren");
	has("status dropped → open");
	has("text was: Schulden in kaart");
	has("+ new action 10 [accepted] for goal 1: Aanmelden schuldhulp — "
	    "lev/s.bakker, due 2030-12-15");
	has("Financiën: 3 beperkt zelfredzaam (was 2)");
	has("~ target Justitie: none → 5");
	has("anja.desmet, Anja: joined the household");
	json_decref(d);

	/* A plan against itself: nothing. */
	assert_non_null(d = clidiff_json(&gp, &gp));
	assert_int_equal(json_integer_value(json_object_get(d, "changes")), 0);
	f = out_open();
	clidiff_text(f, d);
	fclose(f);
	has("No changes that you can see");
	json_decref(d);
}

/* ------------------------------------------------------------ contacts */

static EpGrant	gr[5], *grp[5];
static Eenplan__V1__Domain fin[1] = { EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN };

static void
make_grants(void)
{
	size_t i;

	for (i = 0; i < 5; i++) {
		eenplan__v1__grant__init(&gr[i]);
		grp[i] = &gr[i];
		gr[i].id = i + 1;
		gr[i].recorded_at = T0;
		gr[i].recorded_by = &reg;
		gr[i].access = EENPLAN__V1__ACCESS__ACCESS_READ;
		gr[i].purpose = "p";
	}
	gr[0].grantee_org = "gemeente";	/* the regisseur's: not listed */
	gr[0].grantee_subject = "a.devries";
	gr[0].access = EENPLAN__V1__ACCESS__ACCESS_MANAGE;
	gr[1].grantee_org = "lev";
	gr[1].access = EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE;
	gr[1].scope = fin;
	gr[1].n_scope = 1;
	gr[1].purpose = "Schuldhulp";
	gr[2].grantee_org = "senzer";	/* revoked */
	gr[2].revoked_at = T0 + DAY;
	gr[3].grantee_org = "burgers";
	gr[3].grantee_subject = "lisa.desmet";
	gr[3].valid_until = T0 + 10000 * DAY;
	gr[3].break_glass = 0;
	gr[4].grantee_org = "gemeente";	/* its debt counsellors only */
	gr[4].grantee_team = "bms";
	gr[4].scope = fin;
	gr[4].n_scope = 1;
	gr[4].purpose = "Schuldhulp BMS";
}

static void
test_contacts(void **state)
{
	json_t *c, *k;
	FILE *f;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	make_plan();
	make_grants();
	assert_non_null(c = clicontacts_json(&gp, grp, 5, T0 + 2 * DAY));
	k = json_object_get(c, "contacts");
	assert_int_equal(json_array_size(k), 3);	/* lev, lisa, bms */
	/* A team's grant: the organisation and the team, no actions. */
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(k, 2), "who")), "gemeente");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(k, 2), "team")), "bms");
	assert_true(json_is_false(json_object_get(json_array_get(k, 2),
	    "whole_organisation")));
	assert_int_equal(json_array_size(json_object_get(json_array_get(k, 2),
	    "open_actions")), 0);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(k, 0), "team")), "");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(k, 0), "who")), "lev");
	/* LEV's open action is LEV's; its done one is not open. */
	assert_int_equal(json_array_size(json_object_get(json_array_get(k, 0),
	    "open_actions")), 1);
	/* The gemeente's action sits with the regisseur. */
	assert_int_equal(json_array_size(json_object_get(json_object_get(c,
	    "regisseur"), "open_actions")), 1);
	/* Senzer's grant is revoked: its action is someone else's. */
	assert_int_equal(json_array_size(json_object_get(c,
	    "other_open_actions")), 1);
	f = out_open();
	clicontacts_text(f, c);
	fclose(f);
	has("Regisseur: gemeente/a.devries (professional)");
	has("Henk de Smet (ouder), Anja");
	has("lev (the whole organisation)\n    may read and add to: Financiën\n"
	    "    why: Schuldhulp\n    since 2026-03-01, until the household "
	    "withdraws it");
	has("burgers/lisa.desmet (this one person)\n    may only read: the "
	    "whole plan");
	has("gemeente team bms (only the organisation's people in that team)\n"
	    "    may only read: Financiën\n    why: Schuldhulp BMS\n");
	has("    - Verhuurder bellen (gemeente)\n      proposed, OVERDUE since "
	    "2020-01-31");
	has("Aanmelden schuldhulp (lev/s.bakker)\n        accepted, due "
	    "2030-12-15");
	has("Open actions of others, who may not see the plan now\n  - Intake "
	    "werkfit (senzer)");
	lacks("Budgetplan");
	json_decref(c);

	/* Without the grants: what the reader sees, and why not more. */
	assert_non_null(c = clicontacts_json(&gp, NULL, 0, T0));
	f = out_open();
	clicontacts_text(f, c);
	fclose(f);
	has("shown only to the household and its regisseur");
	lacks("Who else may see the plan, and what for");
	has("Open actions\n");
	json_decref(c);
}

/* ------------------------------------------------------------ FHIR */

static json_t *
first_of(json_t *b, const char *type)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(b, "entry"), i, e)
		if (strcmp(json_string_value(json_object_get(json_object_get(e,
		    "resource"), "resourceType")), type) == 0)
			return json_object_get(e, "resource");
	return NULL;
}

static size_t
n_of(json_t *b, const char *type)
{
	json_t *e;
	size_t i, n = 0;

	json_array_foreach(json_object_get(b, "entry"), i, e)
		n += strcmp(json_string_value(json_object_get(json_object_get(e,
		    "resource"), "resourceType")), type) == 0;
	return n;
}

/* The reference of the actor of the i-th Consent (0-based). */
static json_t *
consent_actor(json_t *b, size_t i)
{
	json_t *e, *res;
	size_t j, n = 0;

	json_array_foreach(json_object_get(b, "entry"), j, e) {
		res = json_object_get(e, "resource");
		if (strcmp(json_string_value(json_object_get(res,
		    "resourceType")), "Consent") != 0 || n++ != i)
			continue;
		return json_object_get(json_array_get(json_object_get(
		    json_object_get(res, "provision"), "actor"), 0),
		    "reference");
	}
	fail_msg("no Consent %zu", i);
	return NULL;
}

static void
test_fhir(void **state)
{
	EpAuditRecord rec, *recp[1];
	uint8_t hash[32] = { 1, 2, 3 };
	json_t *b, *b2, *r;
	char *s1, *s2;

	(void)state;
	make_plan();
	make_grants();
	eenplan__v1__audit_record__init(&rec);
	rec.seq = 7;
	rec.time = T0;
	rec.actor = &lev;
	rec.action = "GetPlan";
	rec.outcome = EENPLAN__V1__CODE__PERMISSION_DENIED;
	rec.household_id = HH;
	rec.hash.data = hash;
	rec.hash.len = sizeof(hash);
	recp[0] = &rec;
	assert_non_null(b = clifhir_bundle(&gp, grp, 5, recp, 1, T0 + DAY));
	assert_string_equal(json_string_value(json_object_get(b, "type")),
	    "collection");
	assert_int_equal(n_of(b, "Goal"), 3);
	assert_int_equal(n_of(b, "Observation"), 6);
	assert_int_equal(n_of(b, "Consent"), 5);
	assert_int_equal(n_of(b, "AuditEvent"), 1);
	assert_int_equal(n_of(b, "Patient"), 2);
	assert_int_equal(n_of(b, "Group"), 1);
	assert_int_equal(n_of(b, "CarePlan"), 1);
	r = first_of(b, "CarePlan");
	assert_int_equal(json_array_size(json_object_get(r, "activity")), 4);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_array_get(json_object_get(r, "activity"), 0), "detail"),
	    "status")), "scheduled");
	assert_string_equal(json_string_value(json_object_get(json_object_get(r,
	    "meta"), "versionId")), "9");
	r = first_of(b, "AuditEvent");
	assert_string_equal(json_string_value(json_object_get(r, "outcome")),
	    "4");
	assert_string_equal(json_string_value(json_object_get(r, "action")),
	    "R");
	/* The team's grant: a CareTeam by identifier, the org assigning it. */
	r = consent_actor(b, 4);
	assert_string_equal(json_string_value(json_object_get(r, "type")),
	    "CareTeam");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    r, "identifier"), "system")), "urn:eenplan:team");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    r, "identifier"), "value")), "gemeente/bms");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_object_get(json_object_get(r, "identifier"), "assigner"),
	    "identifier"), "value")), "gemeente");
	assert_string_equal(json_string_value(json_object_get(r, "display")),
	    "gemeente team bms");
	r = consent_actor(b, 1);	/* LEV, the whole organisation */
	assert_null(json_object_get(r, "type"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    r, "identifier"), "system")), "urn:eenplan:organization");
	/* The revoked grant is an inactive Consent; the others active. */
	s1 = json_dumps(b, JSON_SORT_KEYS);
	assert_non_null(strstr(s1, "\"status\": \"inactive\""));
	/* The same data exports the same, whenever. */
	assert_non_null(b2 = clifhir_bundle(&gp, grp, 5, recp, 1, T0 + DAY));
	s2 = json_dumps(b2, JSON_SORT_KEYS);
	assert_string_equal(s1, s2);
	free(s1);
	free(s2);
	json_decref(b2);
	json_decref(b);
	/* Without grants and log: no Consent, no AuditEvent. */
	assert_non_null(b = clifhir_bundle(&gp, NULL, 0, NULL, 0, T0));
	assert_int_equal(n_of(b, "Consent") + n_of(b, "AuditEvent"), 0);
	json_decref(b);
}

/* ------------------------------------------------------------ completion */

static void
complete(int n, ...)
{
	char *w[12];
	va_list ap;
	FILE *f;
	int i;

	va_start(ap, n);
	for (i = 0; i < n && i < 12; i++)
		w[i] = va_arg(ap, char *);
	va_end(ap);
	f = out_open();
	clicomplete(f, n, w);
	fclose(f);
}

static void
test_complete(void **state)
{
	(void)state;
	complete(1, "");
	has("whoami\n");
	has("progress\n");
	has("contacts\n");
	assert_int_equal(count("plan\n"), 1);
	complete(2, "plan", "");
	assert_string_equal(outbuf, "show\ndiff\n");
	complete(4, "note", "add", HH, "--");
	has("--domain\n");
	has("--json\n");
	lacks("--svg");
	complete(5, "note", "add", HH, "--domain", "");
	assert_int_equal(count("\n"), 13);
	has("maatschappelijke_participatie\n");
	complete(3, "--area", "", "x");	/* a value is not a word */
	complete(2, "--area", "");
	assert_string_equal(outbuf, "noord\noost\nwest\nbinnenstad\nstedelijk\n");
	complete(3, "progress", "--svg", "");
	assert_string_equal(outbuf, "__files__\n");
	complete(3, "--pki", "/nonexistent", "--as");
	has("--as\n");
	complete(4, "--pki", "/nonexistent", "--as", "");
	assert_string_equal(outbuf, "");
	complete(5, "goal", "status", HH, "1", "");
	assert_string_equal(outbuf, "open\nachieved\ndropped\n");
}

/* --team: the teams of the cast, once each; bad names left out. */
static void
test_complete_teams(void **state)
{
	char dir[] = "/tmp/test_client_views.XXXXXX", path[64];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cast.txt", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("wmo gemeente professional a.devries noord\n"
	    "lev lev professional s.bakker\n"
	    "bms gemeente professional j.jansen bms\n"
	    "k gemeente professional k.devos bms,noord,Wmo,sociaal-1\n"
	    "short gemeente\n", f);
	fclose(f);
	complete(7, "--pki", dir, "consent", "grant", HH, "--team", "");
	assert_string_equal(outbuf, "noord\nbms\nsociaal-1\n");
	complete(6, "--pki", dir, "consent", "grant", HH, "--");
	has("--team\n");
	complete(5, "--pki", dir, "plan", "show", "--");
	lacks("--team");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test_teardown(test_parse_views, teardown),
		cmocka_unit_test_teardown(test_progress, teardown),
		cmocka_unit_test_teardown(test_diff, teardown),
		cmocka_unit_test_teardown(test_contacts, teardown),
		cmocka_unit_test_teardown(test_fhir, teardown),
		cmocka_unit_test_teardown(test_complete, teardown),
		cmocka_unit_test_teardown(test_complete_teams, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
