/* clifhir: a plan as a FHIR R4 Bundle (see clifhir.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "clifhir.h"
#include "cliout.h"
#include "clireq.h"
#include "clirun.h"
#include "pbjson.h"

#define SYS_HOUSEHOLD	"urn:eenplan:household"
#define SYS_PRINCIPAL	"urn:eenplan:principal"
#define SYS_ORG		"urn:eenplan:organization"
#define SYS_PERSON	"urn:eenplan:person"
#define SYS_ZRM		"urn:eenplan:zrm-domain"
#define SYS_OPERATION	"urn:eenplan:operation"
#define SYS_ITEM	"urn:eenplan:plan-item"
#define SYS_GRANT	"urn:eenplan:grant"
#define SYS_TEAM	"urn:eenplan:team"
#define HL7_CS		"http://terminology.hl7.org/CodeSystem/"

/* What every resource of one export shares. */
struct fhir {
	const EpPlan	*f_plan;
	const char	*f_hh;
	json_t		*f_entries;
	char		 f_group[64];	/* urn:uuid of the household's Group */
	char		 f_careplan[64];
};

/* ------------------------------------------------------------ values */

static json_t *
str(const char *s)
{
	return pbjson_string(s != NULL ? s : "");
}

static int
empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

/* A FHIR instant/dateTime; NULL for 0 (the member is then left out). */
static json_t *
instant(int64_t us)
{
	char buf[40];

	if (us == 0 || pbjson_time_utc(us, buf, sizeof(buf)) == -1)
		return NULL;
	return json_string(buf);
}

/* A FHIR date "YYYY-MM-DD" of a wire time (UTC); NULL for 0. */
static json_t *
date_of(int64_t us)
{
	char buf[16];

	if (us == 0 || clival_date_text(us, buf, sizeof(buf)) == -1)
		return NULL;
	return json_string(buf);
}

/* A date from the plan ("YYYY-MM-DD" or empty), checked; NULL if none. */
static json_t *
plan_date(const char *s)
{
	int64_t us;

	if (empty(s) || clival_date(s, &us) == -1)
		return NULL;
	return json_string(s);
}

/*
 * A stable name for one thing in one household: a UUID made of the SHA-256
 * of "eenplan:HH:kind:id" (version and variant bits of a name-based UUID),
 * and a resource id "kind-<first 16 hex>" from the same hash.
 */
static void
names(const char *hh, const char *kind, const char *id, char uuid[64],
    char rid[48])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char in[512];
	int n;

	n = snprintf(in, sizeof(in), "eenplan:%s:%s:%s", hh, kind, id);
	if (n < 0 || (size_t)n >= sizeof(in) ||
	    EVP_Digest(in, (size_t)n, md, &len, EVP_sha256(), NULL) != 1)
		memset(md, 0, sizeof(md));
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	snprintf(uuid, 64, "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3],
	    md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12],
	    md[13], md[14], md[15]);
	snprintf(rid, 48, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", kind, md[0],
	    md[1], md[2], md[3], md[4], md[5], md[6], md[7]);
}

static json_t *
coding(const char *system, const char *code, const char *display)
{
	return json_pack("{s:s, s:s, s:o*}", "system", system, "code", code,
	    "display", display ? str(display) : NULL);
}

static json_t *
concept(json_t *cd, const char *text)
{
	return json_pack("{s:[o], s:o*}", "coding", cd, "text",
	    text ? str(text) : NULL);
}

static json_t *
zrm(int d)
{
	const char *name = wire_domain_name(d);

	if (name == NULL)
		return json_pack("{s:s}", "text", "(no domain)");
	return concept(coding(SYS_ZRM, name, wire_domain_label(d)), NULL);
}

static json_t *
ref(const char *uuid)
{
	return json_pack("{s:s}", "reference", uuid);
}

/* A person or system by eenplan identity: "org/subject" (or the org alone). */
static json_t *
principal_ref(const char *org, const char *subject, int role)
{
	char who[160];
	const char *rn = role ? wire_role_name(role) : NULL;

	if (empty(org))
		return json_pack("{s:s}", "display", "unknown");
	snprintf(who, sizeof(who), "%s%s%s", org, empty(subject) ? "" : "/",
	    subject ? subject : "");
	return json_pack("{s:{s:s, s:o}, s:o}", "identifier", "system",
	    empty(subject) ? SYS_ORG : SYS_PRINCIPAL, "value", str(who),
	    "display", rn ? json_sprintf("%s (%s)", who, rn) : str(who));
}

/*
 * A team inside an organisation (a grant's grantee): a CareTeam known by
 * its identifier "org/team", assigned by the organisation whose CA puts
 * people in it. eenplan keeps no list of a team's members, so there is no
 * resource to point at.
 */
static json_t *
team_ref(const char *org, const char *team)
{
	char id[160], display[160];

	snprintf(id, sizeof(id), "%s/%s", org ? org : "", team);
	snprintf(display, sizeof(display), "%s team %s", org ? org : "", team);
	return json_pack("{s:s, s:{s:s, s:o, s:{s:{s:s, s:o}}}, s:o}", "type",
	    "CareTeam", "identifier", "system", SYS_TEAM, "value", str(id),
	    "assigner", "identifier", "system", SYS_ORG, "value",
	    str(org), "display", str(display));
}

static json_t *
grantee_ref(const EpGrant *g)
{
	if (!empty(g->grantee_team) && !empty(g->grantee_org))
		return team_ref(g->grantee_org, g->grantee_team);
	return principal_ref(g->grantee_org, g->grantee_subject, 0);
}

static json_t *
pref(const EpPrincipal *p)
{
	if (p == NULL)
		return json_pack("{s:s}", "display", "unknown");
	return principal_ref(p->org, p->subject, p->role);
}

static json_t *
identifier(const char *system, const char *value)
{
	return json_pack("[{s:s, s:o}]", "system", system, "value", str(value));
}

static void
entry(struct fhir *fx, const char *uuid, json_t *res)
{
	json_array_append_new(fx->f_entries, json_pack("{s:s, s:o}",
	    "fullUrl", uuid, "resource", res));
}

/* ------------------------------------------------------------ household */

static void
household(struct fhir *fx)
{
	const EpPlan *p = fx->f_plan;
	const EpMember *m;
	json_t *members = json_array(), *pat;
	char uuid[64], rid[48];
	size_t i;

	for (i = 0; i < p->n_members; i++) {
		m = p->members[i];
		names(fx->f_hh, "patient", m->person_id, uuid, rid);
		pat = json_pack("{s:s, s:s, s:o, s:b, s:[{s:o}]}",
		    "resourceType", "Patient", "id", rid, "identifier",
		    identifier(SYS_PERSON, m->person_id), "active", 1, "name",
		    "text", str(m->name));
		entry(fx, uuid, pat);
		json_array_append_new(members, json_pack("{s:o}", "entity",
		    json_pack("{s:s, s:o}", "reference", uuid, "display",
		    empty(m->relation) ? str(m->name) : json_sprintf("%s (%s)",
		    m->name, m->relation))));
	}
	names(fx->f_hh, "household", "", fx->f_group, rid);
	entry(fx, fx->f_group, json_pack("{s:s, s:s, s:o, s:b, s:s, s:b, "
	    "s:o, s:I, s:o}", "resourceType", "Group", "id", rid, "identifier",
	    identifier(SYS_HOUSEHOLD, fx->f_hh), "active",
	    p->status != EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED,
	    "type", "person", "actual", 1, "name", json_sprintf("Household %s "
	    "(area %s)", fx->f_hh, cliout_or_dash(wire_area_name(p->area))),
	    "quantity", (json_int_t)p->n_members, "member", members));
}

/* ------------------------------------------------------------ goals */

static uint32_t
target_of(const EpPlan *p, int d)
{
	size_t i;

	for (i = 0; i < p->n_targets; i++)
		if ((int)p->targets[i]->domain == d)
			return p->targets[i]->score;
	return 0;
}

static const char *
goal_lifecycle(int status)
{
	switch (status) {
	case EENPLAN__V1__GOAL_STATUS__GOAL_ACHIEVED:
		return "completed";
	case EENPLAN__V1__GOAL_STATUS__GOAL_DROPPED:
		return "cancelled";
	default:
		return "active";
	}
}

static json_t *
goal(struct fhir *fx, const EpGoal *g, char uuid[64])
{
	const EpPlan *p = fx->f_plan;
	json_t *res, *target = NULL, *due;
	char id[16], rid[48];
	uint32_t score = target_of(p, g->domain);

	snprintf(id, sizeof(id), "%u", g->id);
	names(fx->f_hh, "goal", id, uuid, rid);
	due = plan_date(g->target_date);
	if (score != 0)
		target = json_pack("[{s:o, s:I, s:o*}]", "measure",
		    zrm(g->domain), "detailInteger", (json_int_t)score,
		    "dueDate", due);
	else if (due != NULL)
		target = json_pack("[{s:o}]", "dueDate", due);
	res = json_pack("{s:s, s:s, s:o, s:s, s:[o], s:{s:o}, s:{s:s}, "
	    "s:o*, s:o*, s:o*}", "resourceType", "Goal", "id", rid,
	    "identifier", identifier(SYS_ITEM, id), "lifecycleStatus",
	    goal_lifecycle(g->status), "category", zrm(g->domain),
	    "description", "text", str(g->text), "subject", "reference",
	    fx->f_group, "startDate", date_of(g->created_at), "target", target,
	    "expressedBy", g->created_by ? pref(g->created_by) : NULL);
	if (res != NULL && g->status == EENPLAN__V1__GOAL_STATUS__GOAL_ACHIEVED)
		json_object_set_new(res, "achievementStatus", concept(
		    coding(HL7_CS "goal-achievement", "achieved", "Achieved"),
		    NULL));
	return res;
}

/* ------------------------------------------------------------ care plan */

static const char *
activity_status(int status)
{
	switch (status) {
	case EENPLAN__V1__ACTION_STATUS__ACTION_ACCEPTED:
		return "scheduled";
	case EENPLAN__V1__ACTION_STATUS__ACTION_IN_PROGRESS:
		return "in-progress";
	case EENPLAN__V1__ACTION_STATUS__ACTION_DONE:
		return "completed";
	case EENPLAN__V1__ACTION_STATUS__ACTION_CANCELLED:
		return "cancelled";
	case EENPLAN__V1__ACTION_STATUS__ACTION_PROPOSED:
		return "not-started";
	default:
		return "unknown";
	}
}

static json_t *
activity(struct fhir *fx, const EpAction *a)
{
	char gid[16], uuid[64], rid[48];
	json_t *goals = json_array(), *due = plan_date(a->due_date);
	size_t i;

	for (i = 0; i < fx->f_plan->n_goals; i++)
		if (fx->f_plan->goals[i]->id == a->goal_id) {
			snprintf(gid, sizeof(gid), "%u", a->goal_id);
			names(fx->f_hh, "goal", gid, uuid, rid);
			json_array_append_new(goals, ref(uuid));
		}
	if (json_array_size(goals) == 0) {
		json_decref(goals);
		goals = NULL;
	}
	return json_pack("{s:{s:s, s:o, s:o*, s:s, s:o, s:[o], s:o*}}",
	    "detail", "kind", "Task", "code", zrm(a->domain), "goal", goals,
	    "status", activity_status(a->status), "description", str(a->text),
	    "performer", principal_ref(a->owner_org, a->owner_subject, 0),
	    "scheduledPeriod", due ? json_pack("{s:o}", "end", due) : NULL);
}

static json_t *
annotation(const EpPrincipal *by, int64_t at, json_t *text)
{
	return json_pack("{s:o, s:o*, s:o}", "authorReference", pref(by),
	    "time", instant(at), "text", text);
}

static const char *
careplan_status(int status)
{
	return status == EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED ?
	    "completed" : "active";
}

static void
careplan(struct fhir *fx, json_t *goal_refs, json_t *obs_refs)
{
	const EpPlan *p = fx->f_plan;
	json_t *acts = json_array(), *notes = json_array(), *res;
	char rid[48];
	size_t i;

	for (i = 0; i < p->n_actions; i++)
		json_array_append_new(acts, activity(fx, p->actions[i]));
	for (i = 0; i < p->n_notes; i++)
		json_array_append_new(notes, annotation(p->notes[i]->by,
		    p->notes[i]->at, json_sprintf("[%s] %s",
		    cliout_domain_label(p->notes[i]->domain),
		    p->notes[i]->text ? p->notes[i]->text : "")));
	for (i = 0; i < p->n_escalations; i++)
		json_array_append_new(notes, annotation(p->escalations[i]->by,
		    p->escalations[i]->at, json_sprintf("Escalated: %s",
		    p->escalations[i]->reason ? p->escalations[i]->reason :
		    "")));
	names(fx->f_hh, "careplan", "", fx->f_careplan, rid);
	res = json_pack("{s:s, s:s, s:{s:o, s:o*}, s:o, s:s, s:s, s:[{s:s}], "
	    "s:s, s:s, s:{s:s}, s:o*, s:o*, s:o*}",
	    "resourceType", "CarePlan", "id", rid,
	    "meta", "versionId", json_sprintf("%llu", (unsigned long long)
	    p->version), "lastUpdated", instant(p->updated_at),
	    "identifier", identifier(SYS_HOUSEHOLD, fx->f_hh),
	    "status", careplan_status(p->status), "intent", "plan",
	    "category", "text", "Integraal ondersteuningsplan (1 huishouden, "
	    "1 plan, 1 regisseur)",
	    "title", "Integraal ondersteuningsplan",
	    "description", "The integrated support plan of one household, "
	    "as far as the reader may see it.",
	    "subject", "reference", fx->f_group,
	    "period", p->created_at ? json_pack("{s:o}", "start",
	    instant(p->created_at)) : NULL,
	    "created", instant(p->created_at),
	    "author", p->regisseur ? pref(p->regisseur) : NULL);
	if (res == NULL) {
		json_decref(acts);
		json_decref(notes);
		return;
	}
	if (json_array_size(goal_refs) > 0)
		json_object_set(res, "goal", goal_refs);
	if (json_array_size(obs_refs) > 0)
		json_object_set(res, "supportingInfo", obs_refs);
	if (json_array_size(acts) > 0)
		json_object_set(res, "activity", acts);
	if (json_array_size(notes) > 0)
		json_object_set(res, "note", notes);
	json_decref(acts);
	json_decref(notes);
	entry(fx, fx->f_careplan, res);
}

/* ------------------------------------------------------------ scores */

static json_t *
observation(struct fhir *fx, const EpAssessment *a, char uuid[64])
{
	char id[16], rid[48];
	json_t *res;

	snprintf(id, sizeof(id), "%u", a->id);
	names(fx->f_hh, "observation", id, uuid, rid);
	res = json_pack("{s:s, s:s, s:o, s:s, s:[o], s:o, s:{s:s}, s:o*, "
	    "s:o*, s:[o], s:I, s:[{s:s}]}", "resourceType", "Observation",
	    "id", rid, "identifier", identifier(SYS_ITEM, id), "status",
	    "final", "category", concept(coding(HL7_CS "observation-category",
	    "social-history", "Social History"), NULL), "code",
	    json_pack("{s:[o], s:o}", "coding", coding(SYS_ZRM,
	    wire_domain_name(a->domain) ? wire_domain_name(a->domain) : "none",
	    wire_domain_label(a->domain)), "text", json_sprintf("ZRM %s",
	    cliout_domain_label(a->domain))), "subject", "reference",
	    fx->f_group, "effectiveDateTime", instant(a->at), "issued",
	    instant(a->at), "performer", pref(a->by), "valueInteger",
	    (json_int_t)a->score, "interpretation", "text",
	    cliout_score_label(a->score));
	if (res != NULL && !empty(a->remark))
		json_object_set_new(res, "note", json_pack("[{s:o}]", "text",
		    str(a->remark)));
	return res;
}

/* ------------------------------------------------------------ consent */

static const char *
consent_status(const EpGrant *g, int64_t now)
{
	if (g->revoked_at != 0 || (g->valid_until != 0 &&
	    g->valid_until <= now))
		return "inactive";
	return "active";
}

static json_t *
consent_actions(int access)
{
	json_t *arr = json_array();

	json_array_append_new(arr, concept(coding(HL7_CS "consentaction",
	    "access", "Access"), NULL));
	if (access >= EENPLAN__V1__ACCESS__ACCESS_CONTRIBUTE)
		json_array_append_new(arr, concept(coding(HL7_CS
		    "consentaction", "correct", "Access and Correct"), NULL));
	return arr;
}

static json_t *
consent(struct fhir *fx, const EpGrant *g, int64_t now)
{
	char id[24], uuid[64], rid[48];
	json_t *res, *prov, *codes = NULL, *purpose;
	int64_t end = g->valid_until;
	size_t i;

	snprintf(id, sizeof(id), "%llu", (unsigned long long)g->id);
	names(fx->f_hh, "consent", id, uuid, rid);
	if (g->revoked_at != 0 && (end == 0 || g->revoked_at < end))
		end = g->revoked_at;
	if (g->n_scope > 0) {
		codes = json_array();
		for (i = 0; i < g->n_scope; i++)
			json_array_append_new(codes, zrm(g->scope[i]));
	}
	purpose = json_array();
	if (g->break_glass)
		json_array_append_new(purpose, coding(HL7_CS "v3-ActReason",
		    "BTG", "break the glass"));
	json_array_append_new(purpose, json_pack("{s:o}", "display",
	    str(g->purpose)));
	prov = json_pack("{s:s, s:{s:o*, s:o*}, s:[{s:o, s:o}], s:o, s:o, "
	    "s:o*}", "type", "permit", "period", "start",
	    instant(g->valid_from ? g->valid_from : g->recorded_at), "end",
	    instant(end), "actor", "role", concept(coding(HL7_CS
	    "v3-ParticipationType", "IRCP", "information recipient"), NULL),
	    "reference", grantee_ref(g),
	    "action", consent_actions(g->access), "purpose", purpose, "code",
	    codes);
	res = json_pack("{s:s, s:s, s:o, s:s, s:o, s:[o], s:o*, s:[o], s:o, "
	    "s:o}", "resourceType", "Consent", "id", rid, "identifier",
	    json_pack("[{s:s, s:o}]", "system", SYS_GRANT, "value",
	    json_sprintf("%s/%s", fx->f_hh, id)), "status",
	    consent_status(g, now), "scope", concept(coding(HL7_CS
	    "consentscope", "patient-privacy", "Privacy Consent"), NULL),
	    "category", concept(coding("http://loinc.org", "59284-0",
	    "Consent Document"), NULL), "dateTime", instant(g->recorded_at),
	    "performer", pref(g->recorded_by), "policyRule", concept(coding(
	    HL7_CS "v3-ActCode", "OPTIN", "opt-in"), NULL), "provision", prov);
	if (res != NULL && !empty(g->form_reference))
		json_object_set_new(res, "sourceAttachment", json_pack("{s:o}",
		    "title", json_sprintf("Signed consent form %s",
		    g->form_reference)));
	if (res != NULL)
		entry(fx, uuid, res);
	return res;
}

/* ------------------------------------------------------------ audit */

static const char *
audit_action(const char *op)
{
	static const char *const reads[] = { "GetPlan", "GetHistory",
	    "ListConsent", "QueryAudit", "ListHouseholds", "ReadChanges",
	    "Subscribe", "WhoAmI" };
	size_t i;

	if (op == NULL)
		return "E";
	if (strcmp(op, "CreateHousehold") == 0)
		return "C";
	for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		if (strcmp(op, reads[i]) == 0)
			return "R";
	return "U";
}

static json_t *
b64(const ProtobufCBinaryData *b)
{
	unsigned char out[128];

	if (b->len == 0 || b->len > 90)
		return NULL;
	EVP_EncodeBlock(out, b->data, (int)b->len);
	return json_string((const char *)out);
}

static void
audit_event(struct fhir *fx, const EpAuditRecord *r)
{
	char id[24], uuid[64], rid[48];
	const char *outcome;
	json_t *res, *detail, *h;

	snprintf(id, sizeof(id), "%llu", (unsigned long long)r->seq);
	names(fx->f_hh, "auditevent", id, uuid, rid);
	outcome = r->outcome == EENPLAN__V1__CODE__OK ? "0" :
	    r->outcome == EENPLAN__V1__CODE__PERMISSION_DENIED ? "4" : "8";
	detail = json_pack("[{s:s, s:o}]", "type", "seq", "valueString",
	    json_string(id));
	if ((h = b64(&r->hash)) != NULL)
		json_array_append_new(detail, json_pack("{s:s, s:o}", "type",
		    "hash", "valueBase64Binary", h));
	if ((h = b64(&r->prev_hash)) != NULL)
		json_array_append_new(detail, json_pack("{s:s, s:o}", "type",
		    "prev_hash", "valueBase64Binary", h));
	res = json_pack("{s:s, s:s, s:o, s:[o], s:s, s:o*, s:s, s:o, "
	    "s:[{s:o, s:o*, s:b, s:o*}], s:{s:s, s:{s:s}}, s:[{s:{s:o}, "
	    "s:o}]}", "resourceType", "AuditEvent", "id", rid, "type",
	    coding(HL7_CS "audit-event-type", "rest", "RESTful Operation"),
	    "subtype", coding(SYS_OPERATION, empty(r->action) ? "unknown" :
	    r->action, NULL), "action", audit_action(r->action), "recorded",
	    instant(r->time), "outcome", outcome, "outcomeDesc",
	    json_sprintf("%s%s%s", wire_code_name(r->outcome),
	    empty(r->detail) ? "" : ": ", r->detail ? r->detail : ""),
	    "agent", "who", pref(r->actor), "altId", empty(r->cert_serial) ?
	    NULL : str(r->cert_serial), "requestor", 1, "network",
	    empty(r->peer) ? NULL : json_pack("{s:o, s:s}", "address",
	    str(r->peer), "type", "2"), "source", "site", "eenplan",
	    "observer", "display", "eenpland", "entity", "what", "identifier",
	    json_pack("{s:s, s:o}", "system", SYS_HOUSEHOLD, "value",
	    str(empty(r->household_id) ? fx->f_hh : r->household_id)),
	    "detail", detail);
	if (res == NULL)
		return;
	if (!empty(r->purpose))
		json_object_set_new(res, "purposeOfEvent", json_pack("[{s:o}]",
		    "text", str(r->purpose)));
	if (!empty(r->actor_org_identifier))
		json_object_set_new(json_array_get(json_object_get(res,
		    "agent"), 0), "location", json_pack("{s:o}", "display",
		    json_sprintf("organisation identifier %s",
		    r->actor_org_identifier)));
	entry(fx, uuid, res);
}

/* ------------------------------------------------------------ bundle */

json_t *
clifhir_bundle(const Eenplan__V1__GetPlanResponse *gp, EpGrant *const *grants,
    size_t ngrants, EpAuditRecord *const *recs, size_t nrecs, int64_t now)
{
	struct fhir fx;
	json_t *bundle, *goal_refs, *obs_refs, *res;
	char uuid[64], rid[48], ver[24];
	size_t i;

	if (gp->plan == NULL || empty(gp->plan->household_id))
		return NULL;
	memset(&fx, 0, sizeof(fx));
	fx.f_plan = gp->plan;
	fx.f_hh = gp->plan->household_id;
	fx.f_entries = json_array();
	goal_refs = json_array();
	obs_refs = json_array();
	household(&fx);
	names(fx.f_hh, "careplan", "", fx.f_careplan, rid);
	for (i = 0; i < fx.f_plan->n_goals; i++)
		if ((res = goal(&fx, fx.f_plan->goals[i], uuid)) != NULL) {
			entry(&fx, uuid, res);
			json_array_append_new(goal_refs, ref(uuid));
		}
	for (i = 0; i < fx.f_plan->n_assessments; i++)
		if ((res = observation(&fx, fx.f_plan->assessments[i], uuid)) !=
		    NULL) {
			entry(&fx, uuid, res);
			json_array_append_new(obs_refs, ref(uuid));
		}
	careplan(&fx, goal_refs, obs_refs);
	json_decref(goal_refs);
	json_decref(obs_refs);
	for (i = 0; grants != NULL && i < ngrants; i++)
		consent(&fx, grants[i], now);
	for (i = 0; recs != NULL && i < nrecs; i++)
		audit_event(&fx, recs[i]);
	snprintf(ver, sizeof(ver), "v%llu", (unsigned long long)
	    fx.f_plan->version);
	names(fx.f_hh, "bundle", ver, uuid, rid);
	bundle = json_pack("{s:s, s:s, s:{s:o*}, s:{s:s, s:o}, s:s, s:o*, "
	    "s:o}", "resourceType", "Bundle", "id", rid, "meta",
	    "lastUpdated", instant(now), "identifier", "system",
	    SYS_HOUSEHOLD, "value", json_sprintf("%s/%s", fx.f_hh, ver),
	    "type", "collection", "timestamp", instant(now), "entry",
	    fx.f_entries);
	return bundle;
}

/* ------------------------------------------------------------ run */

/* A part the reader may not have: told on stderr, the export goes on. */
static int
optional_part(int rc, int code, const char *what)
{
	if (rc == EXIT_REFUSED && code == EENPLAN__V1__CODE__PERMISSION_DENIED) {
		fprintf(stderr, "eenplan: the export has no %s\n", what);
		return EXIT_DONE;
	}
	return rc;
}

static int
dump(FILE *f, void *arg)
{
	return clirun_json_dump(f, arg);
}

int
clifhir_run(struct ep_client *cl, struct cliopt *o)
{
	struct clirun_log log;
	struct clireq r;
	EpResponse *rp = NULL, *rl = NULL;
	EpGrant *const *grants = NULL;
	EpAuditRecord *const *recs = NULL;
	size_t ngrants = 0;
	json_t *b = NULL;
	int rc;

	memset(&log, 0, sizeof(log));
	clireq_plan_version(&r, o->o_hh, 0);
	if ((rc = clirun_call(cl, &r.r_req,
	    EENPLAN__V1__RESPONSE__BODY_GET_PLAN, &rp)) != EXIT_DONE)
		goto out;
	if (rp->get_plan->plan == NULL) {
		rc = clirun_protocol_error("the answer holds no plan");
		goto out;
	}
	clireq_consent_all(&r, o->o_hh);
	rc = clirun_call(cl, &r.r_req, EENPLAN__V1__RESPONSE__BODY_LIST_CONSENT,
	    &rl);
	if (rc == EXIT_DONE) {
		grants = rl->list_consent->grants;
		ngrants = rl->list_consent->n_grants;
	} else if ((rc = optional_part(rc, rl ? ep_client_status(rl) : -1,
	    "Consent resources")) != EXIT_DONE)
		goto out;
	clireq_audit_household(&r, o->o_hh);
	rc = clirun_audit_collect(cl, &r, 1, &log);
	if (rc == EXIT_DONE)
		recs = log.l_recs;
	else if ((rc = optional_part(rc, log.l_code, "AuditEvent "
	    "resources")) != EXIT_DONE)
		goto out;
	if ((b = clifhir_bundle(rp->get_plan, grants, ngrants, recs,
	    recs ? log.l_nrecs : 0, clirun_now())) == NULL) {
		rc = clirun_oom();
		goto out;
	}
	if (o->o_output == NULL || strcmp(o->o_output, "-") == 0)
		rc = clirun_write("-", dump, b);
	else if ((rc = clirun_write(o->o_output, dump, b)) == EXIT_DONE)
		printf("FHIR R4 Bundle of household %s written to %s (%zu "
		    "resources)\n", o->o_hh, o->o_output,
		    json_array_size(json_object_get(b, "entry")));
out:
	json_decref(b);
	clirun_log_free(cl, &log);
	ep_client_response_free(cl, rp);
	ep_client_response_free(cl, rl);
	return rc;
}
