/* clicontacts: who does what for a household (see clicontacts.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clicontacts.h"
#include "cliout.h"
#include "clireq.h"
#include "clirun.h"
#include "pbjson.h"

#define CONSENT_HIDDEN	"Who else may see this plan is shown only to the " \
	"household and its regisseur."

static int
same(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static int
empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

static json_t *
str(const char *s)
{
	return pbjson_string(s != NULL ? s : "");
}

static json_t *
principal_json(const char *org, const char *subject)
{
	return json_sprintf("%s%s%s", org ? org : "", empty(subject) ? "" : "/",
	    subject ? subject : "");
}

/* The local date of us as "YYYY-MM-DD". */
static void
local_date(int64_t us, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)(us / 1000000);

	if (us == 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, len, "-");
}

static json_t *
scope_json(const Eenplan__V1__Domain *scope, size_t n)
{
	json_t *arr;
	size_t i;

	if (n == 0)
		return json_string("all");
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, wire_domain_name(scope[i]) ?
		    json_string(wire_domain_name(scope[i])) : json_null());
	return arr;
}

/* ------------------------------------------------------------ actions */

static int
is_open(const EpAction *a)
{
	return a->status == EENPLAN__V1__ACTION_STATUS__ACTION_PROPOSED ||
	    a->status == EENPLAN__V1__ACTION_STATUS__ACTION_ACCEPTED ||
	    a->status == EENPLAN__V1__ACTION_STATUS__ACTION_IN_PROGRESS;
}

/* Earliest due date first; no due date last; then by id. */
static int
by_due(const void *x, const void *y)
{
	const EpAction *a = *(const EpAction *const *)x;
	const EpAction *b = *(const EpAction *const *)y;
	int c;

	if (empty(a->due_date) != empty(b->due_date))
		return empty(a->due_date) ? 1 : -1;
	if (!empty(a->due_date) && (c = strcmp(a->due_date, b->due_date)) != 0)
		return c;
	return a->id < b->id ? -1 : a->id > b->id;
}

static json_t *
action_json(const EpAction *a, const char *today)
{
	json_t *j = json_object();

	json_object_set_new(j, "id", json_integer(a->id));
	json_object_set_new(j, "text", str(a->text));
	json_object_set_new(j, "domain", wire_domain_name(a->domain) ?
	    json_string(wire_domain_name(a->domain)) : json_null());
	json_object_set_new(j, "owner", principal_json(a->owner_org,
	    a->owner_subject));
	json_object_set_new(j, "status", json_string(cliout_or_dash(
	    wire_action_status_name(a->status))));
	json_object_set_new(j, "due_date", str(a->due_date));
	json_object_set_new(j, "overdue", json_boolean(!empty(a->due_date) &&
	    strcmp(a->due_date, today) < 0));
	return j;
}

/* The open actions, earliest due first; *n of them. NULL with *n 0 if none. */
static const EpAction **
open_actions(const EpPlan *p, size_t *n)
{
	const EpAction **v;
	size_t i;

	*n = 0;
	if (p->n_actions == 0 ||
	    (v = calloc(p->n_actions, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < p->n_actions; i++)
		if (is_open(p->actions[i]))
			v[(*n)++] = p->actions[i];
	qsort(v, *n, sizeof(*v), by_due);
	return v;
}

/*
 * Moves the open actions that org[/subject] owns into arr (an organisation
 * owns its people's actions too); taken marks them.
 */
static json_t *
take_actions(const EpAction **v, size_t n, char *taken, const char *org,
    const char *subject, int also_org_wide, const char *today)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		if (taken[i] || !same(v[i]->owner_org, org))
			continue;
		if (!empty(subject) && !same(v[i]->owner_subject, subject) &&
		    !(also_org_wide && empty(v[i]->owner_subject)))
			continue;
		taken[i] = 1;
		json_array_append_new(arr, action_json(v[i], today));
	}
	return arr;
}

/* ------------------------------------------------------------ contacts */

static json_t *
grant_json(const EpGrant *g, int64_t now)
{
	json_t *j = json_object();
	char day[16];

	json_object_set_new(j, "grant_id", json_integer((json_int_t)g->id));
	json_object_set_new(j, "who", principal_json(g->grantee_org,
	    g->grantee_subject));
	json_object_set_new(j, "team", str(g->grantee_team));
	json_object_set_new(j, "whole_organisation",
	    json_boolean(empty(g->grantee_subject) && empty(g->grantee_team)));
	json_object_set_new(j, "access", json_string(cliout_or_dash(
	    wire_access_name(g->access))));
	json_object_set_new(j, "scope", scope_json(g->scope, g->n_scope));
	json_object_set_new(j, "purpose", str(g->purpose));
	json_object_set_new(j, "break_glass", json_boolean(g->break_glass));
	json_object_set_new(j, "started", json_boolean(g->valid_from == 0 ||
	    g->valid_from <= now));
	local_date(g->valid_from ? g->valid_from : g->recorded_at, day,
	    sizeof(day));
	json_object_set_new(j, "from", json_string(day));
	if (g->valid_until != 0) {
		local_date(g->valid_until, day, sizeof(day));
		json_object_set_new(j, "until", json_string(day));
	} else
		json_object_set_new(j, "until", json_null());
	return j;
}

static int
grant_current(const EpGrant *g, int64_t now)
{
	return g->revoked_at == 0 && (g->valid_until == 0 ||
	    g->valid_until > now) &&
	    g->access != EENPLAN__V1__ACCESS__ACCESS_MANAGE &&
	    g->access != EENPLAN__V1__ACCESS__ACCESS_NONE;
}

static void
add_members(json_t *c, const EpPlan *p)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < p->n_members; i++)
		json_array_append_new(arr, json_pack("{s:o, s:o, s:o}",
		    "person_id", str(p->members[i]->person_id), "name",
		    str(p->members[i]->name), "relation",
		    str(p->members[i]->relation)));
	json_object_set_new(c, "members", arr);
}

json_t *
clicontacts_json(const Eenplan__V1__GetPlanResponse *gp,
    EpGrant *const *grants, size_t ngrants, int64_t now)
{
	const EpPlan *p = gp->plan;
	const EpPrincipal *reg;
	const EpAction **v;
	json_t *c, *r, *arr, *k, *acts;
	char today[16], *taken = NULL;
	size_t i, n;

	if (p == NULL || (c = json_object()) == NULL)
		return NULL;
	local_date(now, today, sizeof(today));
	v = open_actions(p, &n);
	if (n > 0 && (taken = calloc(n, 1)) == NULL) {
		free(v);
		json_decref(c);
		return NULL;
	}
	json_object_set_new(c, "household_id", str(p->household_id));
	json_object_set_new(c, "status", json_string(cliout_or_dash(
	    wire_household_status_name(p->status))));
	json_object_set_new(c, "your_access", json_string(cliout_or_dash(
	    wire_access_name(gp->access))));
	json_object_set_new(c, "your_scope", scope_json(gp->scope,
	    gp->n_scope));
	reg = p->regisseur;
	r = json_object();
	json_object_set_new(r, "who", reg ? principal_json(reg->org,
	    reg->subject) : json_string(""));
	json_object_set_new(r, "role", json_string(cliout_or_dash(reg ?
	    wire_role_name(reg->role) : NULL)));
	json_object_set_new(r, "open_actions", reg ? take_actions(v, n, taken,
	    reg->org, reg->subject, 1, today) : json_array());
	json_object_set_new(c, "regisseur", r);
	add_members(c, p);
	json_object_set_new(c, "consent_shown", json_boolean(grants != NULL));
	arr = json_array();
	for (i = 0; grants != NULL && i < ngrants; i++) {
		if (!grant_current(grants[i], now))
			continue;
		k = grant_json(grants[i], now);
		/*
		 * An action's owner is an organisation or a person, never a
		 * team, and who is in a team only the certificates say: a
		 * team's grant owns no actions.
		 */
		acts = empty(grants[i]->grantee_team) ? take_actions(v, n,
		    taken, grants[i]->grantee_org, grants[i]->grantee_subject,
		    0, today) : json_array();
		json_object_set_new(k, "open_actions", acts);
		json_array_append_new(arr, k);
	}
	json_object_set_new(c, "contacts", arr);
	arr = json_array();
	for (i = 0; i < n; i++)
		if (!taken[i])
			json_array_append_new(arr, action_json(v[i], today));
	json_object_set_new(c, "other_open_actions", arr);
	free(taken);
	free(v);
	return c;
}

/* ------------------------------------------------------------ text */

static const char *
s_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

static void
domains_text(FILE *f, const json_t *scope)
{
	const json_t *d;
	size_t i;
	int dm;

	if (!json_is_array(scope)) {
		fprintf(f, "the whole plan");
		return;
	}
	json_array_foreach(scope, i, d) {
		dm = wire_domain_parse(json_string_value(d) ?
		    json_string_value(d) : "");
		fprintf(f, "%s%s", i ? ", " : "",
		    cliout_domain_label(dm == -1 ? 0 : dm));
	}
}

static void
actions_text(FILE *f, const json_t *arr, const char *indent, int owner)
{
	const json_t *a;
	size_t i;

	json_array_foreach(arr, i, a) {
		fprintf(f, "%s- ", indent);
		cliout_text(f, s_of(a, "text"), " ");
		if (owner) {
			fprintf(f, " (");
			cliout_text(f, s_of(a, "owner"), " ");
			fputc(')', f);
		}
		fprintf(f, "\n%s  %s", indent, s_of(a, "status"));
		if (json_is_true(json_object_get(a, "overdue")))
			fprintf(f, ", OVERDUE since %s", s_of(a, "due_date"));
		else if (s_of(a, "due_date")[0] != '\0')
			fprintf(f, ", due %s", s_of(a, "due_date"));
		else
			fprintf(f, ", no due date");
		fputc('\n', f);
	}
}

static void
contact_text(FILE *f, const json_t *k)
{
	const json_t *acts = json_object_get(k, "open_actions");
	const char *access = s_of(k, "access");

	fprintf(f, "\n  ");
	cliout_text(f, s_of(k, "who"), " ");
	if (s_of(k, "team")[0] != '\0') {
		fprintf(f, " team ");
		cliout_text(f, s_of(k, "team"), " ");
		fprintf(f, " (only the organisation's people in that team)\n");
	} else
		fprintf(f, json_is_true(json_object_get(k,
		    "whole_organisation")) ? " (the whole organisation)\n" :
		    " (this one person)\n");
	if (json_is_true(json_object_get(k, "break_glass")))
		fprintf(f, "    EMERGENCY ACCESS (break-glass): may read ");
	else if (strcmp(access, "contribute") == 0)
		fprintf(f, "    may read and add to: ");
	else
		fprintf(f, "    may only read: ");
	domains_text(f, json_object_get(k, "scope"));
	fprintf(f, "\n    why: ");
	cliout_text(f, s_of(k, "purpose"), " ");
	fprintf(f, "\n    %s %s, ", json_is_true(json_object_get(k, "started")) ?
	    "since" : "from", s_of(k, "from"));
	if (json_is_null(json_object_get(k, "until")))
		fprintf(f, "until the household withdraws it\n");
	else
		fprintf(f, "until %s\n", s_of(k, "until"));
	if (json_array_size(acts) == 0) {
		fprintf(f, "    no open actions\n");
		return;
	}
	fprintf(f, "    open actions:\n");
	actions_text(f, acts, "      ", 1);
}

static void
members_text(FILE *f, const json_t *c)
{
	const json_t *m;
	size_t i;

	fprintf(f, "\nThe household (always sees the whole plan and decides "
	    "who else may)\n  ");
	json_array_foreach(json_object_get(c, "members"), i, m) {
		if (i > 0)
			fprintf(f, ", ");
		cliout_text(f, s_of(m, "name"), " ");
		if (s_of(m, "relation")[0] != '\0') {
			fprintf(f, " (");
			cliout_text(f, s_of(m, "relation"), " ");
			fputc(')', f);
		}
	}
	if (json_array_size(json_object_get(c, "members")) == 0)
		fprintf(f, "(no members listed)");
	fputc('\n', f);
}

void
clicontacts_text(FILE *f, const json_t *c)
{
	const json_t *r = json_object_get(c, "regisseur"), *k, *other;
	size_t i;

	fprintf(f, "Who does what for household %s (wie doet wat)\n",
	    s_of(c, "household_id"));
	fprintf(f, "\nRegisseur: ");
	cliout_text(f, cliout_or_dash(s_of(r, "who")), " ");
	fprintf(f, " (%s)\n", s_of(r, "role"));
	fprintf(f, "  The one contact person for the whole plan: ask the "
	    "regisseur about\n  anything in it, or when you do not know where "
	    "to go.\n");
	if (json_array_size(json_object_get(r, "open_actions")) > 0) {
		fprintf(f, "  open actions:\n");
		actions_text(f, json_object_get(r, "open_actions"), "    ", 1);
	}
	members_text(f, c);
	if (json_is_true(json_object_get(c, "consent_shown"))) {
		fprintf(f, "\nWho else may see the plan, and what for\n");
		json_array_foreach(json_object_get(c, "contacts"), i, k)
			contact_text(f, k);
		if (json_array_size(json_object_get(c, "contacts")) == 0)
			fprintf(f, "  nobody else\n");
	} else {
		fprintf(f, "\n" CONSENT_HIDDEN "\nYou may see: ");
		domains_text(f, json_object_get(c, "your_scope"));
		fprintf(f, "; actions outside that are not shown here.\n");
	}
	other = json_object_get(c, "other_open_actions");
	if (json_array_size(other) > 0) {
		fprintf(f, json_is_true(json_object_get(c, "consent_shown")) ?
		    "\nOpen actions of others, who may not see the plan now\n" :
		    "\nOpen actions\n");
		actions_text(f, other, "  ", 1);
	}
}

/* ------------------------------------------------------------ run */

int
clicontacts_run(struct ep_client *cl, struct cliopt *o)
{
	EpResponse *rp = NULL, *rl = NULL;
	struct clireq r;
	EpGrant *const *grants = NULL;
	size_t ngrants = 0;
	json_t *c = NULL;
	int rc;

	clireq_plan_version(&r, o->o_hh, 0);
	if ((rc = clirun_call(cl, &r.r_req,
	    EENPLAN__V1__RESPONSE__BODY_GET_PLAN, &rp)) != EXIT_DONE)
		goto out;
	if (rp->get_plan->plan == NULL) {
		rc = clirun_protocol_error("the answer holds no plan");
		goto out;
	}
	/* Only the household and its regisseur may list the grants. */
	clireq_consent_all(&r, o->o_hh);
	r.r_list_consent.include_past = 0;
	rc = clirun_call(cl, &r.r_req, EENPLAN__V1__RESPONSE__BODY_LIST_CONSENT,
	    &rl);
	if (rc == EXIT_DONE) {
		grants = rl->list_consent->grants;
		ngrants = rl->list_consent->n_grants;
	} else if (rc == EXIT_REFUSED && rl != NULL &&
	    ep_client_status(rl) == EENPLAN__V1__CODE__PERMISSION_DENIED)
		rc = EXIT_DONE;		/* said on stderr; the rest still helps */
	else
		goto out;
	if ((c = clicontacts_json(rp->get_plan, grants, ngrants,
	    clirun_now())) == NULL) {
		rc = clirun_oom();
		goto out;
	}
	if (o->o_json)
		clirun_json_dump(stdout, c);
	else
		clicontacts_text(stdout, c);
out:
	json_decref(c);
	ep_client_response_free(cl, rp);
	ep_client_response_free(cl, rl);
	return rc;
}
