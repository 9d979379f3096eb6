/* clidiff: what changed between two versions of a plan (see clidiff.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clidiff.h"
#include "cliout.h"
#include "clireq.h"
#include "clirun.h"
#include "pbjson.h"

/* ------------------------------------------------------------ values */

static json_t *
str(const char *s)
{
	return pbjson_string(s != NULL ? s : "");
}

static json_t *
who(const EpPrincipal *p)
{
	char buf[160];

	cliout_principal(buf, sizeof(buf), p, 0);
	return str(buf);
}

/* "at" (microseconds, as on the wire) and "at_utc", like pbjson. */
static json_t *
stamped(json_t *obj, int64_t us)
{
	char buf[40];

	if (obj == NULL)
		return NULL;
	json_object_set_new(obj, "at", json_integer((json_int_t)us));
	if (us != 0 && pbjson_time_utc(us, buf, sizeof(buf)) == 0)
		json_object_set_new(obj, "at_utc", json_string(buf));
	return obj;
}

static json_t *
domain(int d)
{
	const char *n = wire_domain_name(d);

	return n != NULL ? json_string(n) : json_null();
}

/* {"from": a, "to": b}; steals both. */
static json_t *
from_to(json_t *a, json_t *b)
{
	return json_pack("{s:o, s:o}", "from", a ? a : json_null(), "to",
	    b ? b : json_null());
}

static int
same(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* Appends v to the array under key in obj (made on first use); steals v. */
static void
add(json_t *obj, const char *key, json_t *v)
{
	json_t *arr = json_object_get(obj, key);

	if (v == NULL)
		return;
	if (arr == NULL) {
		arr = json_array();
		json_object_set_new(obj, key, arr);
	}
	json_array_append_new(arr, v);
}

/* ------------------------------------------------------------ members */

static const EpMember *
member_in(const EpPlan *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->n_members; i++)
		if (same(p->members[i]->person_id, id))
			return p->members[i];
	return NULL;
}

static json_t *
member_json(const EpMember *m)
{
	return json_pack("{s:o, s:o, s:o}", "person_id", str(m->person_id),
	    "name", str(m->name), "relation", str(m->relation));
}

static void
diff_members(json_t *out, const EpPlan *a, const EpPlan *b)
{
	const EpMember *m, *o;
	json_t *c;
	size_t i;

	for (i = 0; i < b->n_members; i++) {
		m = b->members[i];
		if ((o = member_in(a, m->person_id)) == NULL) {
			add(out, "added", member_json(m));
			continue;
		}
		if (same(o->name, m->name) && same(o->relation, m->relation))
			continue;
		c = member_json(m);
		if (!same(o->name, m->name))
			json_object_set_new(c, "name_was", str(o->name));
		if (!same(o->relation, m->relation))
			json_object_set_new(c, "relation_was", str(o->relation));
		add(out, "changed", c);
	}
	for (i = 0; i < a->n_members; i++)
		if (member_in(b, a->members[i]->person_id) == NULL)
			add(out, "removed", member_json(a->members[i]));
}

/* ------------------------------------------------------------ goals */

static const EpGoal *
goal_in(const EpPlan *p, uint32_t id)
{
	size_t i;

	for (i = 0; i < p->n_goals; i++)
		if (p->goals[i]->id == id)
			return p->goals[i];
	return NULL;
}

static json_t *
goal_json(const EpGoal *g)
{
	return json_pack("{s:I, s:o, s:o, s:s, s:o}", "id", (json_int_t)g->id,
	    "domain", domain(g->domain), "text", str(g->text), "status",
	    cliout_or_dash(wire_goal_status_name(g->status)), "target_date",
	    str(g->target_date));
}

static void
diff_goals(json_t *out, const EpPlan *a, const EpPlan *b)
{
	const EpGoal *g, *o;
	json_t *c;
	size_t i;

	for (i = 0; i < b->n_goals; i++) {
		g = b->goals[i];
		if ((o = goal_in(a, g->id)) == NULL) {
			add(out, "added", goal_json(g));
			continue;
		}
		if (o->status == g->status && same(o->text, g->text) &&
		    same(o->target_date, g->target_date))
			continue;
		c = goal_json(g);
		if (o->status != g->status)
			json_object_set_new(c, "status_was", json_string(
			    cliout_or_dash(wire_goal_status_name(o->status))));
		if (!same(o->text, g->text))
			json_object_set_new(c, "text_was", str(o->text));
		if (!same(o->target_date, g->target_date))
			json_object_set_new(c, "target_date_was",
			    str(o->target_date));
		add(out, "changed", c);
	}
	for (i = 0; i < a->n_goals; i++)
		if (goal_in(b, a->goals[i]->id) == NULL)
			add(out, "removed", goal_json(a->goals[i]));
}

/* ------------------------------------------------------------ actions */

static const EpAction *
action_in(const EpPlan *p, uint32_t id)
{
	size_t i;

	for (i = 0; i < p->n_actions; i++)
		if (p->actions[i]->id == id)
			return p->actions[i];
	return NULL;
}

static json_t *
owner(const char *org, const char *subject)
{
	return json_sprintf("%s%s%s", org ? org : "",
	    subject && subject[0] ? "/" : "", subject ? subject : "");
}

static json_t *
action_json(const EpAction *x)
{
	json_t *j = json_pack("{s:I, s:I, s:o, s:o, s:s, s:o, s:o}", "id",
	    (json_int_t)x->id, "goal_id", (json_int_t)x->goal_id, "domain",
	    domain(x->domain), "text", str(x->text), "status",
	    cliout_or_dash(wire_action_status_name(x->status)), "owner",
	    owner(x->owner_org, x->owner_subject), "due_date",
	    str(x->due_date));

	if (j != NULL && x->updated_by != NULL)
		json_object_set_new(j, "updated_by", who(x->updated_by));
	return j;
}

static void
diff_actions(json_t *out, const EpPlan *a, const EpPlan *b)
{
	const EpAction *x, *o;
	json_t *c;
	size_t i;

	for (i = 0; i < b->n_actions; i++) {
		x = b->actions[i];
		if ((o = action_in(a, x->id)) == NULL) {
			add(out, "added", action_json(x));
			continue;
		}
		if (o->status == x->status && same(o->text, x->text) &&
		    same(o->due_date, x->due_date) &&
		    same(o->owner_org, x->owner_org) &&
		    same(o->owner_subject, x->owner_subject))
			continue;
		c = action_json(x);
		if (o->status != x->status)
			json_object_set_new(c, "status_was", json_string(
			    cliout_or_dash(wire_action_status_name(o->status))));
		if (!same(o->text, x->text))
			json_object_set_new(c, "text_was", str(o->text));
		if (!same(o->due_date, x->due_date))
			json_object_set_new(c, "due_date_was", str(o->due_date));
		if (!same(o->owner_org, x->owner_org) ||
		    !same(o->owner_subject, x->owner_subject))
			json_object_set_new(c, "owner_was",
			    owner(o->owner_org, o->owner_subject));
		add(out, "changed", c);
	}
	for (i = 0; i < a->n_actions; i++)
		if (action_in(b, a->actions[i]->id) == NULL)
			add(out, "removed", action_json(a->actions[i]));
}

/* ------------------------------------------------------------ scores */

static int
has_assessment(const EpPlan *p, uint32_t id)
{
	size_t i;

	for (i = 0; i < p->n_assessments; i++)
		if (p->assessments[i]->id == id)
			return 1;
	return 0;
}

/* The latest score in domain d of p before time t (0: none). */
static uint32_t
score_before(const EpPlan *p, int d, int64_t t, uint32_t id)
{
	const EpAssessment *a, *best = NULL;
	size_t i;

	for (i = 0; i < p->n_assessments; i++) {
		a = p->assessments[i];
		if ((int)a->domain != d || a->at > t || (a->at == t &&
		    a->id >= id))
			continue;
		if (best == NULL || a->at > best->at ||
		    (a->at == best->at && a->id > best->id))
			best = a;
	}
	return best != NULL ? best->score : 0;
}

static void
diff_scores(json_t *out, const EpPlan *a, const EpPlan *b)
{
	const EpAssessment *x;
	uint32_t prev;
	json_t *j;
	size_t i;

	for (i = 0; i < b->n_assessments; i++) {
		x = b->assessments[i];
		if (has_assessment(a, x->id))
			continue;
		prev = score_before(b, x->domain, x->at, x->id);
		j = stamped(json_pack("{s:I, s:o, s:I, s:o, s:o}", "id",
		    (json_int_t)x->id, "domain", domain(x->domain), "score",
		    (json_int_t)x->score, "by", who(x->by), "remark",
		    str(x->remark)), x->at);
		if (j != NULL)
			json_object_set_new(j, "previous", prev ?
			    json_integer(prev) : json_null());
		add(out, "added", j);
	}
}

static uint32_t
target_of(const EpPlan *p, int d)
{
	size_t i;

	for (i = 0; i < p->n_targets; i++)
		if ((int)p->targets[i]->domain == d)
			return p->targets[i]->score;
	return 0;
}

static void
diff_targets(json_t *out, const EpPlan *a, const EpPlan *b)
{
	uint32_t ta, tb;
	int d;

	for (d = 1; wire_domain_name(d) != NULL; d++) {
		ta = target_of(a, d);
		tb = target_of(b, d);
		if (ta == tb)
			continue;
		add(out, "changed", json_pack("{s:o, s:o, s:o}", "domain",
		    domain(d), "from", ta ? json_integer(ta) : json_null(),
		    "to", tb ? json_integer(tb) : json_null()));
	}
}

/* ------------------------------------------------------------ journal */

static int
has_note(const EpPlan *p, uint32_t id)
{
	size_t i;

	for (i = 0; i < p->n_notes; i++)
		if (p->notes[i]->id == id)
			return 1;
	return 0;
}

static void
diff_notes(json_t *out, const EpPlan *a, const EpPlan *b)
{
	const EpNote *n;
	size_t i;

	for (i = 0; i < b->n_notes; i++) {
		n = b->notes[i];
		if (!has_note(a, n->id))
			add(out, "added", stamped(json_pack("{s:I, s:o, s:o, "
			    "s:o}", "id", (json_int_t)n->id, "domain",
			    domain(n->domain), "text", str(n->text), "by",
			    who(n->by)), n->at));
	}
}

static void
diff_escalations(json_t *out, const EpPlan *a, const EpPlan *b)
{
	const EpEscalation *e;
	size_t i;

	/* Append-only: the ones past a's count are new. */
	for (i = a->n_escalations; i < b->n_escalations; i++) {
		e = b->escalations[i];
		add(out, "added", stamped(json_pack("{s:o, s:o}", "reason",
		    str(e->reason), "by", who(e->by)), e->at));
	}
}

/* ------------------------------------------------------------ the diff */

static size_t
count(json_t *diff)
{
	static const char *const parts[] = { "members", "goals", "actions",
	    "scores", "targets", "notes", "escalations" };
	json_t *part, *v;
	const char *k;
	size_t i, n = 0;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		part = json_object_get(diff, parts[i]);
		json_object_foreach(part, k, v)
			n += json_array_size(v);
	}
	n += json_object_get(diff, "status") != NULL;
	n += json_object_get(diff, "area") != NULL;
	n += json_object_get(diff, "regisseur") != NULL;
	return n;
}

static json_t *
scope_json(const Eenplan__V1__GetPlanResponse *r)
{
	json_t *arr;
	size_t i;

	if (r->n_scope == 0)
		return json_string("all");
	arr = json_array();
	for (i = 0; i < r->n_scope; i++)
		json_array_append_new(arr, domain(r->scope[i]));
	return arr;
}

json_t *
clidiff_json(const Eenplan__V1__GetPlanResponse *ra,
    const Eenplan__V1__GetPlanResponse *rb)
{
	const EpPlan *a = ra->plan, *b = rb->plan;
	json_t *d;
	char wa[160], wb[160];

	if (a == NULL || b == NULL || (d = json_object()) == NULL)
		return NULL;
	json_object_set_new(d, "household_id", str(b->household_id));
	json_object_set_new(d, "from_version", json_integer((json_int_t)
	    a->version));
	json_object_set_new(d, "to_version", json_integer((json_int_t)
	    b->version));
	json_object_set_new(d, "your_scope", scope_json(rb));
	if (a->status != b->status)
		json_object_set_new(d, "status", from_to(json_string(
		    cliout_or_dash(wire_household_status_name(a->status))),
		    json_string(cliout_or_dash(
		    wire_household_status_name(b->status)))));
	if (a->area != b->area)
		json_object_set_new(d, "area", from_to(json_string(
		    cliout_or_dash(wire_area_name(a->area))), json_string(
		    cliout_or_dash(wire_area_name(b->area)))));
	cliout_principal(wa, sizeof(wa), a->regisseur, 0);
	cliout_principal(wb, sizeof(wb), b->regisseur, 0);
	if (strcmp(wa, wb) != 0)
		json_object_set_new(d, "regisseur", from_to(str(wa), str(wb)));
	json_object_set_new(d, "members", json_object());
	json_object_set_new(d, "goals", json_object());
	json_object_set_new(d, "actions", json_object());
	json_object_set_new(d, "scores", json_object());
	json_object_set_new(d, "targets", json_object());
	json_object_set_new(d, "notes", json_object());
	json_object_set_new(d, "escalations", json_object());
	diff_members(json_object_get(d, "members"), a, b);
	diff_goals(json_object_get(d, "goals"), a, b);
	diff_actions(json_object_get(d, "actions"), a, b);
	diff_scores(json_object_get(d, "scores"), a, b);
	diff_targets(json_object_get(d, "targets"), a, b);
	diff_notes(json_object_get(d, "notes"), a, b);
	diff_escalations(json_object_get(d, "escalations"), a, b);
	json_object_set_new(d, "changes", json_integer((json_int_t)count(d)));
	return d;
}

/* ------------------------------------------------------------ text */

static const char *
s_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

static const char *
label_of(const json_t *o)
{
	int d = wire_domain_parse(s_of(o, "domain"));

	return cliout_domain_label(d == -1 ? 0 : d);
}

static long long
i_of(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void
local_when(const json_t *o, char *buf, size_t len)
{
	cliout_time(buf, len, (int64_t)json_integer_value(json_object_get(o,
	    "at")));
}

static int
section(FILE *f, const json_t *d, const char *part, const char *title)
{
	const json_t *p = json_object_get(d, part);

	if (json_object_size(p) == 0)
		return 0;
	fprintf(f, "\n%s\n", title);
	return 1;
}

static void
text_members(FILE *f, const json_t *d)
{
	const json_t *p = json_object_get(d, "members"), *m;
	size_t i;

	if (!section(f, d, "members", "Members"))
		return;
	json_array_foreach(json_object_get(p, "added"), i, m) {
		fprintf(f, "  + %s, ", s_of(m, "person_id"));
		cliout_text(f, s_of(m, "name"), " ");
		if (s_of(m, "relation")[0] != '\0') {
			fprintf(f, " (");
			cliout_text(f, s_of(m, "relation"), " ");
			fputc(')', f);
		}
		fprintf(f, ": joined the household\n");
	}
	json_array_foreach(json_object_get(p, "changed"), i, m) {
		fprintf(f, "  ~ %s: now ", s_of(m, "person_id"));
		cliout_text(f, s_of(m, "name"), " ");
		if (s_of(m, "relation")[0] != '\0') {
			fprintf(f, " (");
			cliout_text(f, s_of(m, "relation"), " ");
			fputc(')', f);
		}
		fputc('\n', f);
	}
	json_array_foreach(json_object_get(p, "removed"), i, m)
		fprintf(f, "  - %s: no longer listed\n", s_of(m, "person_id"));
}

static void
text_goals(FILE *f, const json_t *d)
{
	const json_t *p = json_object_get(d, "goals"), *g;
	size_t i;

	if (!section(f, d, "goals", "Goals"))
		return;
	json_array_foreach(json_object_get(p, "added"), i, g) {
		fprintf(f, "  + new goal %lld [%s] %s: ", i_of(g, "id"),
		    s_of(g, "status"), label_of(g));
		cliout_text(f, s_of(g, "text"), " ");
		if (s_of(g, "target_date")[0] != '\0')
			fprintf(f, " (target %s)", s_of(g, "target_date"));
		fputc('\n', f);
	}
	json_array_foreach(json_object_get(p, "changed"), i, g) {
		fprintf(f, "  ~ goal %lld %s: ", i_of(g, "id"), label_of(g));
		cliout_text(f, s_of(g, "text"), " ");
		fputc('\n', f);
		if (json_object_get(g, "status_was") != NULL)
			fprintf(f, "      status %s → %s\n",
			    s_of(g, "status_was"), s_of(g, "status"));
		if (json_object_get(g, "target_date_was") != NULL)
			fprintf(f, "      target date %s → %s\n",
			    cliout_or_dash(s_of(g, "target_date_was")),
			    cliout_or_dash(s_of(g, "target_date")));
		if (json_object_get(g, "text_was") != NULL) {
			fprintf(f, "      text was: ");
			cliout_text(f, s_of(g, "text_was"), " ");
			fputc('\n', f);
		}
	}
	json_array_foreach(json_object_get(p, "removed"), i, g)
		fprintf(f, "  - goal %lld %s: no longer in the plan\n",
		    i_of(g, "id"), label_of(g));
}

static void
text_actions(FILE *f, const json_t *d)
{
	const json_t *p = json_object_get(d, "actions"), *x;
	size_t i;

	if (!section(f, d, "actions", "Actions"))
		return;
	json_array_foreach(json_object_get(p, "added"), i, x) {
		fprintf(f, "  + new action %lld [%s] for goal %lld: ",
		    i_of(x, "id"), s_of(x, "status"), i_of(x, "goal_id"));
		cliout_text(f, s_of(x, "text"), " ");
		fprintf(f, " — ");
		cliout_text(f, s_of(x, "owner"), " ");
		if (s_of(x, "due_date")[0] != '\0')
			fprintf(f, ", due %s", s_of(x, "due_date"));
		fputc('\n', f);
	}
	json_array_foreach(json_object_get(p, "changed"), i, x) {
		fprintf(f, "  ~ action %lld: ", i_of(x, "id"));
		cliout_text(f, s_of(x, "text"), " ");
		fprintf(f, " — ");
		cliout_text(f, s_of(x, "owner"), " ");
		fputc('\n', f);
		if (json_object_get(x, "status_was") != NULL)
			fprintf(f, "      status %s → %s\n",
			    s_of(x, "status_was"), s_of(x, "status"));
		if (json_object_get(x, "due_date_was") != NULL)
			fprintf(f, "      due %s → %s\n",
			    cliout_or_dash(s_of(x, "due_date_was")),
			    cliout_or_dash(s_of(x, "due_date")));
		if (json_object_get(x, "owner_was") != NULL) {
			fprintf(f, "      owner was ");
			cliout_text(f, s_of(x, "owner_was"), " ");
			fputc('\n', f);
		}
		if (json_object_get(x, "text_was") != NULL) {
			fprintf(f, "      text was: ");
			cliout_text(f, s_of(x, "text_was"), " ");
			fputc('\n', f);
		}
	}
	json_array_foreach(json_object_get(p, "removed"), i, x)
		fprintf(f, "  - action %lld: no longer in the plan\n",
		    i_of(x, "id"));
}

static void
text_scores(FILE *f, const json_t *d)
{
	const json_t *sc = json_object_get(d, "scores"), *x;
	const json_t *tg = json_object_get(d, "targets");
	char at[32];
	size_t i;

	if (json_object_size(sc) == 0 && json_object_size(tg) == 0)
		return;
	fprintf(f, "\nSelf-reliance (ZRM)\n");
	json_array_foreach(json_object_get(sc, "added"), i, x) {
		local_when(x, at, sizeof(at));
		fprintf(f, "  + %s: %lld %s", label_of(x), i_of(x, "score"),
		    cliout_score_label((uint32_t)i_of(x, "score")));
		if (json_integer_value(json_object_get(x, "previous")) != 0)
			fprintf(f, " (was %lld)", i_of(x, "previous"));
		else
			fprintf(f, " (first score)");
		fprintf(f, ", %s by ", at);
		cliout_text(f, s_of(x, "by"), " ");
		fputc('\n', f);
		if (s_of(x, "remark")[0] != '\0') {
			fprintf(f, "      ");
			cliout_text(f, s_of(x, "remark"), "\n      ");
			fputc('\n', f);
		}
	}
	json_array_foreach(json_object_get(tg, "changed"), i, x) {
		fprintf(f, "  ~ target %s: ", label_of(x));
		if (json_is_null(json_object_get(x, "from")))
			fprintf(f, "none");
		else
			fprintf(f, "%lld", i_of(x, "from"));
		if (json_is_null(json_object_get(x, "to")))
			fprintf(f, " → none\n");
		else
			fprintf(f, " → %lld\n", i_of(x, "to"));
	}
}

static void
text_journal(FILE *f, const json_t *d)
{
	const json_t *x;
	char at[32];
	size_t i;

	if (section(f, d, "notes", "Notes"))
		json_array_foreach(json_object_get(json_object_get(d, "notes"),
		    "added"), i, x) {
			local_when(x, at, sizeof(at));
			fprintf(f, "  + %s  ", at);
			cliout_text(f, s_of(x, "by"), " ");
			fprintf(f, "  [%s]\n      ", label_of(x));
			cliout_text(f, s_of(x, "text"), "\n      ");
			fputc('\n', f);
		}
	if (section(f, d, "escalations", "Escalations"))
		json_array_foreach(json_object_get(json_object_get(d,
		    "escalations"), "added"), i, x) {
			local_when(x, at, sizeof(at));
			fprintf(f, "  + %s  ", at);
			cliout_text(f, s_of(x, "by"), " ");
			fprintf(f, ": ");
			cliout_text(f, s_of(x, "reason"), " ");
			fputc('\n', f);
		}
}

static void
text_head(FILE *f, const json_t *d)
{
	const json_t *scope = json_object_get(d, "your_scope"), *v, *c;
	size_t i;

	fprintf(f, "Household %s: what changed from version %lld to "
	    "version %lld\n", s_of(d, "household_id"), i_of(d, "from_version"),
	    i_of(d, "to_version"));
	if (json_is_array(scope)) {
		fprintf(f, "(only what you may see: ");
		json_array_foreach(scope, i, v) {
			int dm = wire_domain_parse(json_string_value(v) ?
			    json_string_value(v) : "");

			fprintf(f, "%s%s", i ? ", " : "",
			    cliout_domain_label(dm == -1 ? 0 : dm));
		}
		fprintf(f, ")\n");
	}
	if ((c = json_object_get(d, "status")) != NULL)
		fprintf(f, "\nStatus: %s → %s\n", s_of(c, "from"), s_of(c, "to"));
	if ((c = json_object_get(d, "area")) != NULL)
		fprintf(f, "\nArea: %s → %s\n", s_of(c, "from"), s_of(c, "to"));
	if ((c = json_object_get(d, "regisseur")) != NULL) {
		fprintf(f, "\nRegisseur: ");
		cliout_text(f, s_of(c, "from"), " ");
		fprintf(f, " → ");
		cliout_text(f, s_of(c, "to"), " ");
		fputc('\n', f);
	}
}

void
clidiff_text(FILE *f, const json_t *d)
{
	text_head(f, d);
	text_members(f, d);
	text_goals(f, d);
	text_actions(f, d);
	text_scores(f, d);
	text_journal(f, d);
	if (i_of(d, "changes") == 0)
		fprintf(f, "\nNo changes that you can see between these "
		    "versions.\n");
}

/* ------------------------------------------------------------ run */

static int
get_version(struct ep_client *cl, char *hh, uint64_t v, EpResponse **resp)
{
	struct clireq r;
	int rc;

	clireq_plan_version(&r, hh, v);
	if ((rc = clirun_call(cl, &r.r_req,
	    EENPLAN__V1__RESPONSE__BODY_GET_PLAN, resp)) != EXIT_DONE)
		return rc;
	if ((*resp)->get_plan->plan == NULL)
		return clirun_protocol_error("the answer holds no plan");
	return EXIT_DONE;
}

int
clidiff_run(struct ep_client *cl, struct cliopt *o)
{
	EpResponse *ra = NULL, *rb = NULL, *t;
	json_t *d = NULL;
	int rc;

	if ((rc = get_version(cl, o->o_hh, o->o_version, &ra)) != EXIT_DONE ||
	    (rc = get_version(cl, o->o_hh, o->o_version2, &rb)) != EXIT_DONE)
		goto out;
	/* Older first, whichever way round they were given. */
	if (ra->get_plan->plan->version > rb->get_plan->plan->version) {
		t = ra;
		ra = rb;
		rb = t;
	}
	if ((d = clidiff_json(ra->get_plan, rb->get_plan)) == NULL) {
		rc = clirun_oom();
		goto out;
	}
	if (o->o_json)
		clirun_json_dump(stdout, d);
	else
		clidiff_text(stdout, d);
out:
	json_decref(d);
	ep_client_response_free(cl, ra);
	ep_client_response_free(cl, rb);
	return rc;
}
