/* cliout: text and JSON output of the eenplan CLI (see cliout.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "clicmd.h"
#include "cliout.h"
#include "pbjson.h"

#define NDOMAINS	13
#define NOTES_SHOWN	10

static const char *const score_labels[] = {
	NULL, "acute problematiek", "niet zelfredzaam", "beperkt zelfredzaam",
	"voldoende zelfredzaam", "volledig zelfredzaam"
};

const char *
cliout_or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

const char *
cliout_domain_label(int d)
{
	const char *s = wire_domain_label(d);

	return s != NULL ? s : "(no domain)";
}

const char *
cliout_score_label(uint32_t s)
{
	return s >= 1 && s <= 5 ? score_labels[s] : "?";
}

void
cliout_time(char *buf, size_t len, int64_t us)
{
	struct tm tm;
	time_t t;

	if (us == 0) {
		snprintf(buf, len, "-");
		return;
	}
	t = (time_t)(us / 1000000 - (us % 1000000 < 0));
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "?");
}

void
cliout_principal(char *buf, size_t len, const EpPrincipal *p, int with_role)
{
	const char *role;

	if (p == NULL || p->org == NULL || p->org[0] == '\0') {
		snprintf(buf, len, "-");
		return;
	}
	role = with_role ? wire_role_name(p->role) : NULL;
	snprintf(buf, len, "%s%s%s%s%s%s", p->org,
	    p->subject && p->subject[0] ? "/" : "",
	    p->subject ? p->subject : "", role ? " (" : "", role ? role : "",
	    role ? ")" : "");
}

void
cliout_grantee(char *buf, size_t len, const EpGrant *g)
{
	const char *org = g->grantee_org ? g->grantee_org : "";

	if (g->grantee_team != NULL && g->grantee_team[0] != '\0')
		snprintf(buf, len, "%s team %s", org, g->grantee_team);
	else if (g->grantee_subject != NULL && g->grantee_subject[0] != '\0')
		snprintf(buf, len, "%s/%s", org, g->grantee_subject);
	else
		snprintf(buf, len, "%s", org);
}

void
cliout_text(FILE *f, const char *s, const char *nl)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL)
		return;
	for (; *p != '\0'; p++) {
		if (*p == '\n') {
			fputs(nl != NULL ? nl : " ", f);
		} else if (*p == '\t') {
			fputc(' ', f);
		} else if (*p < 0x20 || *p == 0x7f) {
			fputc('?', f);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', f);	/* a C1 control in UTF-8 */
			p++;
		} else
			fputc(*p, f);
	}
}

void
cliout_cell(FILE *f, const char *s, int width)
{
	const unsigned char *p;
	int n = 0;

	cliout_text(f, s, NULL);
	for (p = (const unsigned char *)s; p && *p; p++)
		n += (*p & 0xc0) != 0x80;
	for (; n < width; n++)
		fputc(' ', f);
}

/* ------------------------------------------------------------ plan */

static void
print_goal(FILE *f, const EpPlan *p, const EpGoal *g)
{
	char who[160];
	const EpAction *a;
	size_t i;

	fprintf(f, "    goal %u [%s] ", g->id,
	    cliout_or_dash(wire_goal_status_name(g->status)));
	cliout_text(f, g->text, "\n      ");
	if (g->target_date && g->target_date[0])
		fprintf(f, " (target %s)", g->target_date);
	fputc('\n', f);
	for (i = 0; i < p->n_actions; i++) {
		a = p->actions[i];
		if (a->goal_id != g->id)
			continue;
		fprintf(f, "      action %u [%s] ", a->id,
		    cliout_or_dash(wire_action_status_name(a->status)));
		cliout_text(f, a->text, "\n        ");
		snprintf(who, sizeof(who), "%s%s%s", cliout_or_dash(a->owner_org),
		    a->owner_subject && a->owner_subject[0] ? "/" : "",
		    a->owner_subject ? a->owner_subject : "");
		fprintf(f, " — ");
		cliout_text(f, who, NULL);
		if (a->due_date && a->due_date[0])
			fprintf(f, ", due %s", a->due_date);
		fputc('\n', f);
	}
}

static int
goal_shown(const EpPlan *p, uint32_t id)
{
	size_t i;

	for (i = 0; i < p->n_goals; i++)
		if (p->goals[i]->id == id)
			return 1;
	return 0;
}

static int
in_domain(int item, int d)
{
	if (d == 0)	/* the catch-all group: domains we do not know */
		return item < 1 || item > NDOMAINS;
	return item == d;
}

static void
print_goals(FILE *f, const EpPlan *p)
{
	const EpAction *a;
	size_t i, shown = 0;
	int d, head;

	fprintf(f, "\nGoals and actions\n");
	for (d = 1; d <= NDOMAINS + 1; d++) {
		int dd = d == NDOMAINS + 1 ? 0 : d;

		head = 0;
		for (i = 0; i < p->n_goals; i++) {
			if (!in_domain(p->goals[i]->domain, dd))
				continue;
			if (!head++)
				fprintf(f, "  %s\n", cliout_domain_label(dd));
			print_goal(f, p, p->goals[i]);
			shown++;
		}
		for (i = 0; i < p->n_actions; i++) {
			a = p->actions[i];
			if (!in_domain(a->domain, dd) ||
			    goal_shown(p, a->goal_id))
				continue;
			if (!head++)
				fprintf(f, "  %s\n", cliout_domain_label(dd));
			fprintf(f, "    action %u (goal %u) [%s] ", a->id,
			    a->goal_id,
			    cliout_or_dash(wire_action_status_name(a->status)));
			cliout_text(f, a->text, "\n      ");
			fprintf(f, " — %s%s", cliout_or_dash(a->owner_org),
			    a->owner_subject && a->owner_subject[0] ? "/" : "");
			cliout_text(f, a->owner_subject, NULL);
			if (a->due_date && a->due_date[0])
				fprintf(f, ", due %s", a->due_date);
			fputc('\n', f);
			shown++;
		}
	}
	if (shown == 0)
		fprintf(f, "  (none)\n");
}

static const EpAssessment *
latest_assessment(const EpPlan *p, int d)
{
	const EpAssessment *best = NULL, *a;
	size_t i;

	for (i = 0; i < p->n_assessments; i++) {
		a = p->assessments[i];
		if ((int)a->domain != d)
			continue;
		if (best == NULL || a->at > best->at ||
		    (a->at == best->at && a->id > best->id))
			best = a;
	}
	return best;
}

static void
print_assessments(FILE *f, const EpPlan *p)
{
	const EpAssessment *a;
	const EpTargetScore *t;
	char when[32], who[160];
	size_t i, shown = 0, n;
	int d;

	fprintf(f, "\nSelf-reliance (ZRM), latest per domain\n");
	for (d = 1; d <= NDOMAINS; d++) {
		a = latest_assessment(p, d);
		t = NULL;
		for (i = 0; i < p->n_targets; i++)
			if ((int)p->targets[i]->domain == d)
				t = p->targets[i];
		if (a == NULL && t == NULL)
			continue;
		shown++;
		fputs("  ", f);
		cliout_cell(f, cliout_domain_label(d), 30);
		if (a != NULL)
			fprintf(f, "%u %-22s", a->score, cliout_score_label(a->score));
		else
			fprintf(f, "%-24s", "- not assessed");
		if (t != NULL)
			fprintf(f, "  target %u", t->score);
		else
			fprintf(f, "  no target");
		if (a != NULL) {
			cliout_time(when, sizeof(when), a->at);
			cliout_principal(who, sizeof(who), a->by, 0);
			fprintf(f, "  (%s, ", when);
			cliout_text(f, who, NULL);
			fputc(')', f);
			for (i = 0, n = 0; i < p->n_assessments; i++)
				n += (int)p->assessments[i]->domain == d;
			if (n > 1) {
				fprintf(f, "  scores:");
				for (i = 0; i < p->n_assessments; i++)
					if ((int)p->assessments[i]->domain == d)
						fprintf(f, " %u",
						    p->assessments[i]->score);
			}
			if (a->remark && a->remark[0]) {
				fprintf(f, "\n      ");
				cliout_text(f, a->remark, "\n      ");
			}
		}
		fputc('\n', f);
	}
	if (shown == 0)
		fprintf(f, "  (none)\n");
}

static void
print_notes(FILE *f, const EpPlan *p)
{
	const EpNote *n;
	char when[32], who[160];
	size_t i, first;

	first = p->n_notes > NOTES_SHOWN ? p->n_notes - NOTES_SHOWN : 0;
	if (first > 0)
		fprintf(f, "\nNotes (last %d of %zu)\n", NOTES_SHOWN,
		    p->n_notes);
	else
		fprintf(f, "\nNotes\n");
	for (i = first; i < p->n_notes; i++) {
		n = p->notes[i];
		cliout_time(when, sizeof(when), n->at);
		cliout_principal(who, sizeof(who), n->by, 1);
		fprintf(f, "  %s  ", when);
		cliout_text(f, who, NULL);
		fprintf(f, "  [%s]\n    ", cliout_domain_label(n->domain));
		cliout_text(f, n->text, "\n    ");
		fputc('\n', f);
	}
	if (p->n_notes == 0)
		fprintf(f, "  (none)\n");
}

static void
print_escalations(FILE *f, const EpPlan *p)
{
	const EpEscalation *e;
	char when[32], who[160];
	size_t i;

	if (p->n_escalations == 0)
		return;
	fprintf(f, "\nEscalations\n");
	for (i = 0; i < p->n_escalations; i++) {
		e = p->escalations[i];
		cliout_time(when, sizeof(when), e->at);
		cliout_principal(who, sizeof(who), e->by, 1);
		fprintf(f, "  %s  ", when);
		cliout_text(f, who, NULL);
		fprintf(f, ": ");
		cliout_text(f, e->reason, "\n    ");
		fputc('\n', f);
	}
}

/* Signals passed to the regisseur (only whole-plan readers are given them). */
static void
print_signals(FILE *f, const EpPlan *p)
{
	size_t i;

	if (p->n_signals == 0)
		return;
	fprintf(f, "\nSignals (to the regisseur)\n");
	for (i = 0; i < p->n_signals; i++) {
		fputs("  ", f);
		cliout_signal(f, p->signals[i], 0);
	}
}

void
cliout_scope(FILE *f, const Eenplan__V1__Domain *scope, size_t n)
{
	size_t i;

	if (n == 0) {
		fprintf(f, "all domains");
		return;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? ", " : "", cliout_domain_label(scope[i]));
}

static void
print_plan(FILE *f, const Eenplan__V1__GetPlanResponse *gp)
{
	const EpPlan *p = gp->plan;
	const EpMember *m;
	char when[32], who[160];
	size_t i;

	if (p == NULL) {
		fprintf(f, "(no plan in the answer)\n");
		return;
	}
	/* Emergency access open now: the household sees it first. */
	for (i = 0; i < gp->n_break_glass; i++) {
		const EpGrant *g = gp->break_glass[i];

		cliout_time(when, sizeof(when), g->valid_until);
		cliout_grantee(who, sizeof(who), g);
		fprintf(f, "!! BREAK-GLASS: ");
		cliout_text(f, who, NULL);
		fprintf(f, " may read this plan until %s (emergency access; ",
		    when);
		cliout_text(f, g->purpose, NULL);
		fprintf(f, ")\n");
	}
	fprintf(f, "Household %s\n", p->household_id);
	fprintf(f, "  area:        %s\n", cliout_or_dash(wire_area_name(p->area)));
	fprintf(f, "  status:      %s\n",
	    cliout_or_dash(wire_household_status_name(p->status)));
	cliout_time(when, sizeof(when), p->updated_at);
	cliout_principal(who, sizeof(who), p->updated_by, 0);
	fprintf(f, "  version:     %llu (changed %s by ",
	    (unsigned long long)p->version, when);
	cliout_text(f, who, NULL);
	fprintf(f, ")\n");
	cliout_principal(who, sizeof(who), p->regisseur, 1);
	fprintf(f, "  regisseur:   ");
	cliout_text(f, who, NULL);
	fprintf(f, "\n  your access: %s, ", cliout_or_dash(wire_access_name(gp->access)));
	cliout_scope(f, gp->scope, gp->n_scope);
	fputc('\n', f);
	if (p->intake_reference && p->intake_reference[0]) {
		fprintf(f, "  intake form: ");
		cliout_text(f, p->intake_reference, NULL);
		fputc('\n', f);
	}
	fprintf(f, "\nMembers\n");
	for (i = 0; i < p->n_members; i++) {
		m = p->members[i];
		fputs("  ", f);
		cliout_cell(f, m->person_id, 20);
		fputc(' ', f);
		cliout_text(f, m->name, NULL);
		if (m->relation && m->relation[0]) {
			fprintf(f, " (");
			cliout_text(f, m->relation, NULL);
			fputc(')', f);
		}
		fputc('\n', f);
	}
	if (p->n_members == 0)
		fprintf(f, "  (none)\n");
	print_goals(f, p);
	print_assessments(f, p);
	print_notes(f, p);
	print_escalations(f, p);
	print_signals(f, p);
}

/* ------------------------------------------------------------ lists */

static void
print_households(FILE *f, const Eenplan__V1__ListHouseholdsResponse *l)
{
	const EpHouseholdSummary *h;
	char when[32], who[160];
	size_t i;

	if (l->n_households == 0)
		fprintf(f, "no households\n");
	else
		fprintf(f, "%-33s %-11s %-10s %7s  %-11s %-28s %s\n",
		    "HOUSEHOLD", "AREA", "STATUS", "VERSION", "ACCESS",
		    "REGISSEUR", "CHANGED");
	for (i = 0; i < l->n_households; i++) {
		h = l->households[i];
		cliout_time(when, sizeof(when), h->updated_at);
		cliout_principal(who, sizeof(who), h->regisseur, 0);
		cliout_cell(f, h->household_id, 33);
		fprintf(f, " %-11s %-10s %7llu  %-11s ",
		    cliout_or_dash(wire_area_name(h->area)),
		    cliout_or_dash(wire_household_status_name(h->status)),
		    (unsigned long long)h->version,
		    cliout_or_dash(wire_access_name(h->access)));
		cliout_cell(f, who, 28);
		fprintf(f, " %s\n", when);
	}
	if (l->next_page_token && l->next_page_token[0]) {
		fprintf(f, "more: eenplan households --page-token ");
		cliout_text(f, l->next_page_token, NULL);
		fputc('\n', f);
	}
}

void
cliout_mutation(FILE *f, const EpMutation *m, int domain)
{
	fprintf(f, "    ");
	switch (m->op_case) {
	case EENPLAN__V1__MUTATION__OP_ADD_GOAL:
		fprintf(f, "goal added [%s]: ", cliout_domain_label(m->add_goal->domain));
		cliout_text(f, m->add_goal->text, " ");
		break;
	case EENPLAN__V1__MUTATION__OP_SET_GOAL_STATUS:
		fprintf(f, "goal %u is now %s", m->set_goal_status->goal_id,
		    cliout_or_dash(wire_goal_status_name(m->set_goal_status->status)));
		break;
	case EENPLAN__V1__MUTATION__OP_ADD_ACTION:
		fprintf(f, "action added to goal %u for %s: ",
		    m->add_action->goal_id, cliout_or_dash(m->add_action->owner_org));
		cliout_text(f, m->add_action->text, " ");
		break;
	case EENPLAN__V1__MUTATION__OP_SET_ACTION_STATUS:
		fprintf(f, "action %u is now %s",
		    m->set_action_status->action_id,
		    cliout_or_dash(wire_action_status_name(
		    m->set_action_status->status)));
		break;
	case EENPLAN__V1__MUTATION__OP_ADD_NOTE:
		fprintf(f, "note added [%s]", cliout_domain_label(m->add_note->domain));
		break;
	case EENPLAN__V1__MUTATION__OP_ADD_ASSESSMENT:
		fprintf(f, "assessment [%s]: %u %s",
		    cliout_domain_label(m->add_assessment->domain),
		    m->add_assessment->score,
		    cliout_score_label(m->add_assessment->score));
		break;
	case EENPLAN__V1__MUTATION__OP_SET_TARGET_SCORE:
		fprintf(f, "target [%s]: %u",
		    cliout_domain_label(m->set_target_score->domain),
		    m->set_target_score->score);
		break;
	case EENPLAN__V1__MUTATION__OP_ADD_MEMBER:
		fprintf(f, "member added: ");
		if (m->add_member->member)
			cliout_text(f, m->add_member->member->person_id, NULL);
		break;
	default:
		fprintf(f, "(a change in %s)", domain ? cliout_domain_label(domain) :
		    "the plan");
		break;
	}
	fputc('\n', f);
}

static void
print_history(FILE *f, const Eenplan__V1__GetHistoryResponse *h)
{
	const EpHistoryEntry *e;
	char when[32], who[160];
	size_t i, j;

	for (i = 0; i < h->n_entries; i++) {
		e = h->entries[i];
		cliout_time(when, sizeof(when), e->at);
		cliout_principal(who, sizeof(who), e->actor, 1);
		fprintf(f, "version %llu  %s  ", (unsigned long long)e->version,
		    when);
		cliout_text(f, who, NULL);
		fprintf(f, "  %s\n", cliout_or_dash(wire_change_kind_name(e->kind)));
		for (j = 0; j < e->n_mutations; j++)
			cliout_mutation(f, e->mutations[j],
			    j < e->n_mutation_domains ?
			    e->mutation_domains[j] : 0);
		if (e->detail && e->detail[0]) {
			fprintf(f, "    ");
			cliout_text(f, e->detail, "\n    ");
			fputc('\n', f);
		}
	}
	if (h->n_entries == 0)
		fprintf(f, "no history entries\n");
	if (h->more)
		fprintf(f, "more: --after %llu\n", (unsigned long long)
		    (h->next_after_version != 0 ? h->next_after_version :
		    h->n_entries > 0 ? h->entries[h->n_entries - 1]->version :
		    0));
}

const char *
cliout_grant_state(const EpGrant *g, int64_t now)
{
	if (g->revoked_at != 0)
		return "revoked";
	if (g->valid_until != 0 && g->valid_until <= now)
		return "expired";
	if (g->valid_from != 0 && g->valid_from > now)
		return "not yet valid";
	return g->break_glass ? "active (break-glass)" : "active";
}

static void
print_grant(FILE *f, const EpGrant *g, int64_t now)
{
	char from[32], until[32], when[32], who[160];

	fprintf(f, "grant %llu  %s\n", (unsigned long long)g->id,
	    cliout_grant_state(g, now));
	fprintf(f, "  to:        ");
	cliout_grantee(who, sizeof(who), g);
	cliout_text(f, who, NULL);
	if (g->grantee_team && g->grantee_team[0])
		fprintf(f, " (only the organisation's people in that team)");
	else if (!(g->grantee_subject && g->grantee_subject[0]))
		fprintf(f, " (the whole organisation)");
	fprintf(f, "\n  access:    %s, ", cliout_or_dash(wire_access_name(g->access)));
	cliout_scope(f, g->scope, g->n_scope);
	cliout_time(from, sizeof(from), g->valid_from);
	cliout_time(until, sizeof(until), g->valid_until);
	fprintf(f, "\n  valid:     from %s%s%s\n",
	    g->valid_from ? from : "recording",
	    g->valid_until ? " until " : ", no end date",
	    g->valid_until ? until : "");
	fprintf(f, "  purpose:   ");
	cliout_text(f, g->purpose, " ");
	cliout_time(when, sizeof(when), g->recorded_at);
	cliout_principal(who, sizeof(who), g->recorded_by, 1);
	fprintf(f, "\n  recorded:  %s by ", when);
	cliout_text(f, who, NULL);
	if (g->on_behalf) {
		fprintf(f, " on behalf of the household (form ");
		cliout_text(f, cliout_or_dash(g->form_reference), NULL);
		fputc(')', f);
	}
	fputc('\n', f);
	if (g->revoked_at != 0) {
		cliout_time(when, sizeof(when), g->revoked_at);
		cliout_principal(who, sizeof(who), g->revoked_by, 1);
		fprintf(f, "  revoked:   %s by ", when);
		cliout_text(f, who, NULL);
		if (g->revoke_reference && g->revoke_reference[0]) {
			fprintf(f, " (form ");
			cliout_text(f, g->revoke_reference, NULL);
			fputc(')', f);
		}
		fputc('\n', f);
	}
}

static void
print_consent(FILE *f, const Eenplan__V1__ListConsentResponse *l, int64_t now)
{
	size_t i;

	if (l->n_grants == 0)
		fprintf(f, "no grants\n");
	for (i = 0; i < l->n_grants; i++) {
		if (i > 0)
			fputc('\n', f);
		print_grant(f, l->grants[i], now);
	}
}

/* ------------------------------------------------------------ audit */

static const struct {
	const char	*name;
	const char	*words;
} audit_actions[] = {
	{ "GetPlan", "read the plan" },
	{ "GetHistory", "read the plan's history" },
	{ "MutatePlan", "changed the plan" },
	{ "CreateHousehold", "registered the household" },
	{ "ListHouseholds", "listed households" },
	{ "GrantConsent", "recorded consent" },
	{ "RevokeConsent", "revoked consent" },
	{ "ListConsent", "read the consent list" },
	{ "TransferRegie", "transferred the regie" },
	{ "BreakGlass", "EMERGENCY ACCESS (break-glass)" },
	{ "Escalate", "escalated" },
	{ "CloseHousehold", "closed the case" },
	{ "QueryAudit", "read this access log" },
	{ "ReadChanges", "read the change feed" },
	{ "Subscribe", "followed the change feed" },
	{ "SendSignal", "passed a signal to the regisseur" },
	{ "ListSignals", "read the signals" },
};

static const char *
audit_words(const char *action)
{
	size_t i;

	for (i = 0; i < sizeof(audit_actions) / sizeof(audit_actions[0]); i++)
		if (action && strcmp(action, audit_actions[i].name) == 0)
			return audit_actions[i].words;
	return cliout_or_dash(action);
}

void
cliout_audit(FILE *f, EpAuditRecord *const *recs, size_t n, int org_view)
{
	const EpAuditRecord *r;
	char when[32], who[200], outcome[48];
	size_t i;

	if (n == 0) {
		fprintf(f, "no records\n");
		return;
	}
	fprintf(f, "%-16s  %-34s %-30s %-9s %s\n", "TIME",
	    org_view ? "WHO" : "ORGANISATION (ROLE)", "WHAT", "OUTCOME",
	    org_view ? "HOUSEHOLD / PURPOSE" : "PURPOSE");
	for (i = 0; i < n; i++) {
		r = recs[i];
		cliout_time(when, sizeof(when), r->time);
		cliout_principal(who, sizeof(who), r->actor, 1);
		if (r->outcome == EENPLAN__V1__CODE__OK)
			snprintf(outcome, sizeof(outcome), "allowed");
		else if (r->outcome == EENPLAN__V1__CODE__PERMISSION_DENIED)
			snprintf(outcome, sizeof(outcome), "refused");
		else
			snprintf(outcome, sizeof(outcome), "failed (%s)",
			    wire_code_name(r->outcome));
		fprintf(f, "%-16s  ", when);
		cliout_cell(f, who, 34);
		fputc(' ', f);
		cliout_cell(f, audit_words(r->action), 30);
		fputc(' ', f);
		cliout_cell(f, outcome, 9);
		fputc(' ', f);
		if (org_view && r->household_id && r->household_id[0]) {
			cliout_text(f, r->household_id, NULL);
			fputc(' ', f);
		}
		cliout_text(f, r->purpose && r->purpose[0] ? r->purpose :
		    r->detail, " ");
		fputc('\n', f);
	}
}

void
cliout_event(FILE *f, const EpChangeEvent *ev)
{
	char when[32], who[160];

	cliout_time(when, sizeof(when), ev->at);
	cliout_principal(who, sizeof(who), ev->actor, 1);
	fprintf(f, "%-8llu %s  ", (unsigned long long)ev->seq, when);
	cliout_cell(f, ev->household_id, 33);
	fprintf(f, " %-12s v%-6llu ", cliout_or_dash(wire_change_kind_name(ev->kind)),
	    (unsigned long long)ev->version);
	cliout_text(f, who, NULL);
	fputc('\n', f);
}

static const char *
consent_change_words(int c)
{
	switch (c) {
	case EENPLAN__V1__CONSENT_CHANGE__CONSENT_GRANTED:
		return "consent granted";
	case EENPLAN__V1__CONSENT_CHANGE__CONSENT_REVOKED:
		return "consent revoked";
	case EENPLAN__V1__CONSENT_CHANGE__CONSENT_RENOUNCED:
		return "consent given up by its grantee";
	case EENPLAN__V1__CONSENT_CHANGE__CONSENT_EXPIRED:
		return "consent expired";
	case EENPLAN__V1__CONSENT_CHANGE__CONSENT_STARTED:
		return "consent started";
	default:
		return "consent changed";
	}
}

/* What happened, in words, without who did it. */
static void
event_what(FILE *f, const EpChangeEvent *ev)
{
	unsigned long long v = (unsigned long long)ev->version;

	switch (ev->kind) {
	case EENPLAN__V1__CHANGE_KIND__CHANGE_CREATED:
		fprintf(f, "household registered (version %llu)", v);
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_PLAN:
		fprintf(f, "plan changed to version %llu", v);
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_CONSENT:
		fprintf(f, "%s (grant %llu)", consent_change_words(ev->consent),
		    (unsigned long long)ev->grant_id);
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_REGIE:
		fprintf(f, "regie transferred (version %llu)", v);
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_ESCALATED:
		fprintf(f, "escalated (version %llu)", v);
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_CLOSED:
		fprintf(f, "case closed (version %llu)", v);
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_BREAK_GLASS:
		fprintf(f, "EMERGENCY ACCESS opened (break-glass, grant %llu)",
		    (unsigned long long)ev->grant_id);
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_SIGNAL:
		fprintf(f, "signal [%s]", ev->signal != NULL ?
		    cliout_domain_label(ev->signal->domain) : "?");
		break;
	case EENPLAN__V1__CHANGE_KIND__CHANGE_ACCESS_ENDED:
		fprintf(f, "your access ended: remove any copy of this "
		    "household's plan");
		break;
	default:
		fprintf(f, "%s", cliout_or_dash(wire_change_kind_name(
		    ev->kind)));
		break;
	}
}

void
cliout_event_detail(FILE *f, const EpChangeEvent *ev)
{
	const EpHistoryEntry *e = ev->change;
	const EpPrincipal *by = ev->actor;
	char when[32], who[160];
	size_t j;

	cliout_time(when, sizeof(when), ev->at);
	fprintf(f, "%s  #%llu  ", when, (unsigned long long)ev->seq);
	cliout_text(f, ev->household_id, NULL);
	fprintf(f, "  ");
	event_what(f, ev);
	if (ev->kind == EENPLAN__V1__CHANGE_KIND__CHANGE_SIGNAL &&
	    ev->signal != NULL && ev->signal->from != NULL)
		by = ev->signal->from;
	/* The expiry sweep is the daemon itself, not a person. */
	if (by != NULL && by->org != NULL && by->org[0] != '\0' &&
	    ev->kind != EENPLAN__V1__CHANGE_KIND__CHANGE_ACCESS_ENDED &&
	    ev->consent != EENPLAN__V1__CONSENT_CHANGE__CONSENT_EXPIRED &&
	    ev->consent != EENPLAN__V1__CONSENT_CHANGE__CONSENT_STARTED) {
		cliout_principal(who, sizeof(who), by, 1);
		fprintf(f, " %s ", ev->kind ==
		    EENPLAN__V1__CHANGE_KIND__CHANGE_SIGNAL ? "from" : "by");
		cliout_text(f, who, NULL);
	}
	fputc('\n', f);
	if (ev->kind == EENPLAN__V1__CHANGE_KIND__CHANGE_SIGNAL &&
	    ev->signal != NULL) {
		fprintf(f, "    ");
		cliout_text(f, ev->signal->text, "\n    ");
		fputc('\n', f);
	}
	if (e == NULL)
		return;
	for (j = 0; j < e->n_mutations; j++)
		cliout_mutation(f, e->mutations[j], j < e->n_mutation_domains ?
		    e->mutation_domains[j] : 0);
	if (e->detail != NULL && e->detail[0] != '\0') {
		fprintf(f, "    ");
		cliout_text(f, e->detail, "\n    ");
		fputc('\n', f);
	}
}

void
cliout_signal(FILE *f, const EpSignal *sg, int with_household)
{
	char when[32], who[160];

	cliout_time(when, sizeof(when), sg->at);
	cliout_principal(who, sizeof(who), sg->from, 1);
	fprintf(f, "%s  ", when);
	if (with_household) {
		cliout_text(f, sg->household_id, NULL);
		fprintf(f, "  ");
	}
	fprintf(f, "[%s] from ", cliout_domain_label(sg->domain));
	cliout_text(f, who, NULL);
	fprintf(f, "\n    ");
	cliout_text(f, sg->text, "\n    ");
	fputc('\n', f);
}

static void
print_changes(FILE *f, const Eenplan__V1__ReadChangesResponse *c)
{
	size_t i;

	if (c->n_events == 0)
		fprintf(f, "no changes\n");
	for (i = 0; i < c->n_events; i++)
		cliout_event(f, c->events[i]);
	fprintf(f, "last seq: %llu (continue with --since %llu)\n",
	    (unsigned long long)c->last_seq, (unsigned long long)c->last_seq);
}

/* ------------------------------------------------------------ results */

int
cliout_whoami(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	const Eenplan__V1__WhoAmIResponse *w = resp->who_am_i;
	const EpPrincipal *p = w->principal;

	(void)o;
	(void)now;
	fprintf(f, "organisation: ");
	cliout_text(f, p ? p->org : NULL, NULL);
	if (w->org_name && w->org_name[0]) {
		fprintf(f, " — ");
		cliout_text(f, w->org_name, NULL);
	}
	if (w->org_identifier && w->org_identifier[0]) {
		fprintf(f, " (");
		cliout_text(f, w->org_identifier, NULL);
		fputc(')', f);
	}
	fprintf(f, "\nsubject:      ");
	cliout_text(f, p ? p->subject : NULL, NULL);
	fprintf(f, "\nrole:         %s\n", cliout_or_dash(p ?
	    wire_role_name(p->role) : NULL));
	fprintf(f, "certificate:  serial ");
	cliout_text(f, cliout_or_dash(w->cert_serial), NULL);
	fputc('\n', f);
	if (w->n_teams > 0) {
		size_t i;

		fprintf(f, "teams:        ");
		for (i = 0; i < w->n_teams; i++) {
			if (i > 0)
				fprintf(f, ", ");
			cliout_text(f, w->teams[i], NULL);
		}
		fputc('\n', f);
	}
	return 0;
}

int
cliout_created(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	/* Alone on the first line: scripts take it with $(...). */
	cliout_text(f, resp->create_household->household_id, NULL);
	fputc('\n', f);
	return 0;
}

int
cliout_households(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	print_households(f, resp->list_households);
	return 0;
}

int
cliout_plan(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	print_plan(f, resp->get_plan);
	return 0;
}

static unsigned
created_id(const EpResponse *resp)
{
	const Eenplan__V1__MutatePlanResponse *m = resp->mutate_plan;

	return m->n_created_ids > 0 ? m->created_ids[0] : 0;
}

static unsigned long long
new_version(const EpResponse *resp)
{
	return (unsigned long long)resp->mutate_plan->version;
}

int
cliout_goal_added(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	fprintf(f, "goal %u added (plan version %llu)\n", created_id(resp),
	    new_version(resp));
	return 0;
}

int
cliout_goal_status(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)now;
	fprintf(f, "goal %llu is now %s (plan version %llu)\n",
	    (unsigned long long)o->o_id,
	    cliout_or_dash(wire_goal_status_name(o->o_status)),
	    new_version(resp));
	return 0;
}

int
cliout_action_added(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	fprintf(f, "action %u added (plan version %llu)\n", created_id(resp),
	    new_version(resp));
	return 0;
}

int
cliout_action_status(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)now;
	fprintf(f, "action %llu is now %s (plan version %llu)\n",
	    (unsigned long long)o->o_id,
	    cliout_or_dash(wire_action_status_name(o->o_status)),
	    new_version(resp));
	return 0;
}

int
cliout_note_added(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	fprintf(f, "note %u added (plan version %llu)\n", created_id(resp),
	    new_version(resp));
	return 0;
}

int
cliout_assessed(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)now;
	fprintf(f, "assessment %u recorded: %s %u %s (plan version %llu)\n",
	    created_id(resp), cliout_domain_label(o->o_domain), o->o_score,
	    cliout_score_label(o->o_score), new_version(resp));
	return 0;
}

int
cliout_target_set(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)now;
	fprintf(f, "target for %s set to %u (plan version %llu)\n",
	    cliout_domain_label(o->o_domain), o->o_score, new_version(resp));
	return 0;
}

int
cliout_member_added(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)now;
	fprintf(f, "member %s added (plan version %llu)\n",
	    o->o_members[0].person_id, new_version(resp));
	return 0;
}

int
cliout_history(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	print_history(f, resp->get_history);
	return 0;
}

int
cliout_granted(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	if (resp->grant_consent->grant == NULL)
		return -1;
	fprintf(f, "consent recorded: ");
	print_grant(f, resp->grant_consent->grant, now);
	return 0;
}

int
cliout_revoked(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	if (resp->revoke_consent->grant == NULL)
		return -1;
	fprintf(f, "consent revoked: ");
	print_grant(f, resp->revoke_consent->grant, now);
	return 0;
}

int
cliout_consent(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	print_consent(f, resp->list_consent, now);
	return 0;
}

int
cliout_regie(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	char who[160];

	(void)o;
	(void)now;
	cliout_principal(who, sizeof(who), resp->transfer_regie->regisseur, 0);
	fprintf(f, "regie transferred to ");
	cliout_text(f, who, NULL);
	fprintf(f, " (plan version %llu)\n", (unsigned long long)
	    resp->transfer_regie->version);
	return 0;
}

int
cliout_breakglass(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	const EpGrant *g = resp->break_glass->grant;
	char when[32];

	(void)o;
	(void)now;
	if (g == NULL)
		return -1;
	cliout_time(when, sizeof(when), g->valid_until);
	fprintf(f, "break-glass %s access opened until %s (grant %llu); this "
	    "is logged and shown to the household and the regisseur\n",
	    cliout_or_dash(wire_access_name(g->access)), when,
	    (unsigned long long)g->id);
	return 0;
}

int
cliout_escalated(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	fprintf(f, "household escalated (plan version %llu)\n",
	    (unsigned long long)resp->escalate->version);
	return 0;
}

int
cliout_closed(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	fprintf(f, "household closed (plan version %llu)\n",
	    (unsigned long long)resp->close_household->version);
	return 0;
}

int
cliout_audit_page(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)now;
	cliout_audit(f, resp->query_audit->records,
	    resp->query_audit->n_records, o->o_org);
	if (resp->query_audit->next_after_seq != 0)
		fprintf(f, "more records: add --all-pages\n");
	return 0;
}

int
cliout_changes(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	print_changes(f, resp->read_changes);
	return 0;
}

int
cliout_signal_sent(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now)
{
	(void)o;
	(void)now;
	fprintf(f, "signal passed on (receipt %llu); if the household is "
	    "known, its regisseur receives it\n",
	    (unsigned long long)resp->send_signal->receipt);
	return 0;
}

int
cliout_body_ok(const struct cliopt *o, const EpResponse *resp)
{
	if (o->o_def == NULL || o->o_def->cc_print == NULL)
		return 0;
	return (int)resp->body_case == o->o_def->cc_body &&
	    pbjson_oneof_message(&resp->base) != NULL;
}

int
cliout_response(FILE *f, const struct cliopt *o, const EpResponse *resp,
    int64_t now_us)
{
	if (!cliout_body_ok(o, resp))
		return -1;
	return o->o_def->cc_print(f, o, resp, now_us);
}

int
cliout_json(FILE *f, const ProtobufCMessage *msg)
{
	const ProtobufCMessage *body = msg;
	json_t *j;
	int rc;

	if (msg->descriptor == &eenplan__v1__response__descriptor &&
	    (body = pbjson_oneof_message(msg)) == NULL)
		body = msg;
	if ((j = pbjson_message(body)) == NULL)
		return -1;
	rc = json_dumpf(j, f, JSON_INDENT(2));
	json_decref(j);
	if (rc == 0)
		fputc('\n', f);
	return rc;
}
