/*
 * Unit tests for the household module and the request path above it, with
 * a real store and writer but no network: every version of a plan reads
 * back as it was committed (snapshot + replay, random histories), and no
 * refusal reads a plan body — for every operation, for an existing and a
 * missing household alike (issue 7 items 3 and 6).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "call.h"
#include "config.h"
#include "dispatch.h"
#include "household.h"
#include "log.h"
#include "plan.h"
#include "quota.h"
#include "seal.h"
#include "store.h"
#include "util.h"
#include "writer.h"

#define NOW	1764000000000000LL

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

struct fx {
	char			 dir[256];
	char			 env[300];
	struct store		*st;
	struct writer		*w;
	struct quota		*q;
	struct config		 conf;
	struct consent_conf	 cc;
	struct consent_org	 orgs[8];
	struct household_conf	 hc;
	struct call_env		 env_;
	struct stxn		*rd;
	/* answers */
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	struct wjob		*done;		/* posted by the writer */
	uint8_t			*frame;		/* the last answer */
	size_t			 frame_len;
	int			 cut;		/* the caller's certificate revoked */
};

static struct fx *F;

/* The sink's cs_live: as a connection whose certificate was revoked. */
static int
fx_live(void *arg)
{
	return !((struct fx *)arg)->cut;
}

static void
fx_post(void *arg, struct wjob *j)
{
	struct fx *f = arg;

	pthread_mutex_lock(&f->mtx);
	j->wj_next = f->done;
	f->done = j;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->mtx);
}

static void
fx_send(void *arg, uint8_t *buf, size_t off, size_t len)
{
	struct fx *f = arg;

	free(f->frame);
	f->frame = NULL;
	f->frame_len = 0;
	if (buf == NULL)
		return;
	if ((f->frame = malloc(len)) != NULL) {
		memcpy(f->frame, buf + off, len);
		f->frame_len = len;
	}
	free(buf);
}

static void
principal_set(struct principal *p, const char *org, const char *sub, int role)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->pr_org, sizeof(p->pr_org), "%s", org);
	snprintf(p->pr_subject, sizeof(p->pr_subject), "%s", sub);
	p->pr_role = role;
	snprintf(p->pr_serial, sizeof(p->pr_serial), "01");
	snprintf(p->pr_peer, sizeof(p->pr_peer), "127.0.0.1:1");
}

static void
org_add(struct config *c, const char *id, uint32_t roles)
{
	struct config_org *o = &c->c_orgs[c->c_norgs++];

	memset(o, 0, sizeof(*o));
	snprintf(o->co_id, sizeof(o->co_id), "%s", id);
	snprintf(o->co_name, sizeof(o->co_name), "%s", id);
	o->co_roles = roles;
}

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");
	struct store_opts o;
	struct seal_key kek;
	struct fx *f;
	char err[256];

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/eenplan-hh-XXXXXX",
	    t && *t ? t : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->env, sizeof(f->env), "%s/db", f->dir);
	memset(&kek, 0x5a, sizeof(kek));
	kek.sk_id = seal_key_id(kek.sk_key);
	memset(&o, 0, sizeof(o));
	o.so_dir = f->env;
	o.so_map_max = 256u << 20;
	o.so_kek = &kek;
	if (store_open(&f->st, &o, err, sizeof(err)) != 0) {
		print_error("store_open: %s\n", err);
		return -1;
	}
	config_defaults(&f->conf);
	org_add(&f->conf, "gemeente", 1u << 4 | 1u << 5 | 1u << 6);
	org_add(&f->conf, "lev", 1u << 4 | 1u << 5 | 1u << 6);
	org_add(&f->conf, "savant", 1u << 4);
	org_add(&f->conf, "burgers", 1u << 1 | 1u << 2);
	f->cc.cc_citizens_org = "burgers";
	/* The policy's view of them: professionals of each may direct cases. */
	for (size_t k = 0; k < f->conf.c_norgs; k++) {
		f->orgs[k].co_id = f->conf.c_orgs[k].co_id;
		f->orgs[k].co_roles = f->conf.c_orgs[k].co_roles;
		f->orgs[k].co_regie = (f->orgs[k].co_roles & 1u << 4) != 0;
		f->orgs[k].co_break_glass = f->orgs[k].co_regie;
	}
	f->cc.cc_orgs = f->orgs;
	f->cc.cc_norgs = f->conf.c_norgs;
	f->cc.cc_break_glass = 1;
	f->cc.cc_break_glass_window = 4LL * 3600 * 1000000;
	f->cc.cc_break_glass_reason_min = 5;
	f->hc.hc_consent = &f->cc;
	f->hc.hc_plan_bytes_max = plan_bytes_max(f->conf.c_max_frame);
	f->hc.hc_snapshot_versions = 7;
	f->hc.hc_snapshot_bytes = 1024;
	f->hc.hc_grants_max = 4096;
	f->hc.hc_active_grants_max = 64;
	if ((f->w = writer_start(f->st, err, sizeof(err))) == NULL ||
	    (f->q = quota_new(1u << 30, 1u << 30)) == NULL ||
	    (f->rd = store_reader_new(f->st)) == NULL)
		return -1;
	pthread_mutex_init(&f->mtx, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->env_.ce_conf = &f->conf;
	f->env_.ce_consent = &f->cc;
	f->env_.ce_hh = &f->hc;
	f->env_.ce_writer = f->w;
	f->env_.ce_quota = f->q;
	f->env_.ce_reader = f->rd;
	f->env_.ce_post = fx_post;
	f->env_.ce_post_arg = f;
	/* People become known on their first request, as in a worker. */
	if ((f->env_.ce_seen = calloc(CALL_SEEN, sizeof(uint64_t))) == NULL)
		return -1;
	F = f;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	writer_free(f->w);
	free(f->env_.ce_seen);
	store_reader_free(f->rd);
	quota_free(f->q);
	store_close(f->st);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->frame);
	pthread_mutex_destroy(&f->mtx);
	pthread_cond_destroy(&f->cond);
	free(f);
	seal_thread_done();
	return 0;
}

static void call_start(struct fx *, const struct principal *, EpRequest *);

/* The next job the writer posted back (waits for one). */
static struct wjob *
next_done(struct fx *f)
{
	struct wjob *j;

	pthread_mutex_lock(&f->mtx);
	while (f->done == NULL)
		pthread_cond_wait(&f->cond, &f->mtx);
	j = f->done;
	f->done = j->wj_next;
	pthread_mutex_unlock(&f->mtx);
	return j;
}

/*
 * Runs one request as who, as a worker would: dispatch, then wait for the
 * writer and complete the call here. Returns the answer (free with
 * eenplan__v1__response__free_unpacked).
 */
static EpResponse *
call_as(struct fx *f, const struct principal *who, EpRequest *rq)
{
	struct wjob *j;

	free(f->frame);
	f->frame = NULL;
	f->frame_len = 0;
	call_start(f, who, rq);
	while (f->frame == NULL) {
		j = next_done(f);
		j->wj_done(j);
	}
	assert_true(f->frame_len > 4);
	return eenplan__v1__response__unpack(NULL, f->frame_len - 4,
	    f->frame + 4);
}

static int
code_of(const EpResponse *r)
{
	return r->status != NULL ? (int)r->status->code : 0;
}

/* ------------------------------------------------------------ requests */

static char *
create_household(struct fx *f, const struct principal *who)
{
	EpRequest rq = EENPLAN__V1__REQUEST__INIT;
	Eenplan__V1__CreateHouseholdRequest c =
	    EENPLAN__V1__CREATE_HOUSEHOLD_REQUEST__INIT;
	EpMember m = EENPLAN__V1__MEMBER__INIT, *mp = &m;
	EpResponse *r;
	char *id;

	m.person_id = "henk.desmet";
	m.name = "Henk";
	c.area = 1;
	c.members = &mp;
	c.n_members = 1;
	c.consent_reference = "FORM-1";
	rq.id = 1;
	rq.body_case = EENPLAN__V1__REQUEST__BODY_CREATE_HOUSEHOLD;
	rq.create_household = &c;
	r = call_as(f, who, &rq);
	assert_int_equal(code_of(r), 0);
	id = strdup(r->create_household->household_id);
	eenplan__v1__response__free_unpacked(r, NULL);
	return id;
}

static int
mutate(struct fx *f, const struct principal *who, const char *hh,
    EpMutation **m, size_t n)
{
	EpRequest rq = EENPLAN__V1__REQUEST__INIT;
	Eenplan__V1__MutatePlanRequest mp =
	    EENPLAN__V1__MUTATE_PLAN_REQUEST__INIT;
	EpResponse *r;
	int code;

	mp.household_id = (char *)(uintptr_t)hh;
	mp.mutations = m;
	mp.n_mutations = n;
	rq.id = 2;
	rq.body_case = EENPLAN__V1__REQUEST__BODY_MUTATE_PLAN;
	rq.mutate_plan = &mp;
	r = call_as(f, who, &rq);
	code = code_of(r);
	eenplan__v1__response__free_unpacked(r, NULL);
	return code;
}

static int
add_note(struct fx *f, const struct principal *who, const char *hh, int dom,
    const char *text)
{
	EpMutation m = EENPLAN__V1__MUTATION__INIT, *mp = &m;
	Eenplan__V1__AddNote an = EENPLAN__V1__ADD_NOTE__INIT;

	an.domain = dom;
	an.text = (char *)(uintptr_t)text;
	m.op_case = EENPLAN__V1__MUTATION__OP_ADD_NOTE;
	m.add_note = &an;
	return mutate(f, who, hh, &mp, 1);
}

/* --------------------------------------------------- refusals read nothing */

/* The one request of each operation, naming household hh. */
static void
request_for(int op, const char *hh, EpRequest *rq, void *scratch)
{
	union {
		Eenplan__V1__GetPlanRequest gp;
		Eenplan__V1__MutatePlanRequest mp;
		Eenplan__V1__GetHistoryRequest gh;
		Eenplan__V1__GrantConsentRequest gc;
		Eenplan__V1__RevokeConsentRequest rc;
		Eenplan__V1__ListConsentRequest lc;
		Eenplan__V1__TransferRegieRequest tr;
		Eenplan__V1__EscalateRequest es;
		Eenplan__V1__CloseHouseholdRequest cl;
		Eenplan__V1__QueryAuditRequest qa;
	} *u = scratch;
	static EpMutation m = EENPLAN__V1__MUTATION__INIT;
	static EpMutation *mp = &m;
	static Eenplan__V1__AddNote an = EENPLAN__V1__ADD_NOTE__INIT;
	static EpGrant g = EENPLAN__V1__GRANT__INIT;
	char *h = (char *)(uintptr_t)hh;

	eenplan__v1__request__init(rq);
	rq->id = 7;
	rq->body_case = op;
	an.domain = 1;
	an.text = "x";
	m.op_case = EENPLAN__V1__MUTATION__OP_ADD_NOTE;
	m.add_note = &an;
	g.grantee_org = "savant";
	g.access = 1;
	g.purpose = "p";
	g.form_reference = "F";
	switch (op) {
	case EENPLAN__V1__REQUEST__BODY_GET_PLAN:
		eenplan__v1__get_plan_request__init(&u->gp);
		u->gp.household_id = h;
		rq->get_plan = &u->gp;
		break;
	case EENPLAN__V1__REQUEST__BODY_MUTATE_PLAN:
		eenplan__v1__mutate_plan_request__init(&u->mp);
		u->mp.household_id = h;
		u->mp.mutations = &mp;
		u->mp.n_mutations = 1;
		rq->mutate_plan = &u->mp;
		break;
	case EENPLAN__V1__REQUEST__BODY_GET_HISTORY:
		eenplan__v1__get_history_request__init(&u->gh);
		u->gh.household_id = h;
		rq->get_history = &u->gh;
		break;
	case EENPLAN__V1__REQUEST__BODY_GRANT_CONSENT:
		eenplan__v1__grant_consent_request__init(&u->gc);
		u->gc.household_id = h;
		u->gc.grant = &g;
		rq->grant_consent = &u->gc;
		break;
	case EENPLAN__V1__REQUEST__BODY_REVOKE_CONSENT:
		eenplan__v1__revoke_consent_request__init(&u->rc);
		u->rc.household_id = h;
		u->rc.grant_id = 1;
		rq->revoke_consent = &u->rc;
		break;
	case EENPLAN__V1__REQUEST__BODY_LIST_CONSENT:
		eenplan__v1__list_consent_request__init(&u->lc);
		u->lc.household_id = h;
		rq->list_consent = &u->lc;
		break;
	case EENPLAN__V1__REQUEST__BODY_TRANSFER_REGIE:
		eenplan__v1__transfer_regie_request__init(&u->tr);
		u->tr.household_id = h;
		u->tr.to_org = "lev";
		u->tr.to_subject = "s.bakker";
		u->tr.form_reference = "F";
		rq->transfer_regie = &u->tr;
		break;
	case EENPLAN__V1__REQUEST__BODY_ESCALATE:
		eenplan__v1__escalate_request__init(&u->es);
		u->es.household_id = h;
		u->es.reason = "r";
		rq->escalate = &u->es;
		break;
	case EENPLAN__V1__REQUEST__BODY_CLOSE_HOUSEHOLD:
		eenplan__v1__close_household_request__init(&u->cl);
		u->cl.household_id = h;
		u->cl.reason = "r";
		rq->close_household = &u->cl;
		break;
	case EENPLAN__V1__REQUEST__BODY_QUERY_AUDIT:
		eenplan__v1__query_audit_request__init(&u->qa);
		u->qa.household_id = h;
		rq->query_audit = &u->qa;
		break;
	default:
		fail_msg("no request for op %d", op);
	}
}

static void
test_refusals_read_no_body(void **state)
{
	static const int ops[] = {
		EENPLAN__V1__REQUEST__BODY_GET_PLAN,
		EENPLAN__V1__REQUEST__BODY_MUTATE_PLAN,
		EENPLAN__V1__REQUEST__BODY_GET_HISTORY,
		EENPLAN__V1__REQUEST__BODY_GRANT_CONSENT,
		EENPLAN__V1__REQUEST__BODY_REVOKE_CONSENT,
		EENPLAN__V1__REQUEST__BODY_LIST_CONSENT,
		EENPLAN__V1__REQUEST__BODY_TRANSFER_REGIE,
		EENPLAN__V1__REQUEST__BODY_ESCALATE,
		EENPLAN__V1__REQUEST__BODY_CLOSE_HOUSEHOLD,
		EENPLAN__V1__REQUEST__BODY_QUERY_AUDIT,
	};
	struct fx *f = *state;
	struct principal wmo, savant, carer;
	const struct principal *who[2];
	char *hh, missing[HOUSEHOLD_ID_LEN + 1], scratch[512];
	EpResponse *a, *b;
	EpRequest rq;
	uint64_t before;
	size_t i, k;
	int n;

	principal_set(&wmo, "gemeente", "a.devries", 4);
	principal_set(&savant, "savant", "r.hendriks", 4);
	principal_set(&carer, "burgers", "lisa.desmet", 2);
	who[0] = &savant;
	who[1] = &carer;
	hh = create_household(f, &wmo);
	/* A plan worth reading: a refusal must not cost what reading it does. */
	for (n = 0; n < 40; n++)
		assert_int_equal(add_note(f, &wmo, hh, 1 + n % 13,
		    "Een notitie die de plan body groot maakt, telkens weer."),
		    0);
	assert_int_equal(util_random_id(missing), 0);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			before = store_body_reads(f->st);
			request_for(ops[i], hh, &rq, scratch);
			a = call_as(f, who[k], &rq);
			request_for(ops[i], missing, &rq, scratch);
			b = call_as(f, who[k], &rq);
			if (store_body_reads(f->st) != before)
				fail_msg("op %d by %s: a refusal read %llu plan "
				    "bodies", ops[i], who[k]->pr_org,
				    (unsigned long long)(store_body_reads(f->st)
				    - before));
			/* Refused, and the same answer for both. */
			assert_int_not_equal(code_of(a), 0);
			assert_int_equal(code_of(a), code_of(b));
			assert_string_equal(a->status->message,
			    b->status->message);
			eenplan__v1__response__free_unpacked(a, NULL);
			eenplan__v1__response__free_unpacked(b, NULL);
		}
	}
	/* The counter counts: a permitted read does open the body. */
	before = store_body_reads(f->st);
	request_for(EENPLAN__V1__REQUEST__BODY_GET_PLAN, hh, &rq, scratch);
	a = call_as(f, &wmo, &rq);
	assert_int_equal(code_of(a), 0);
	assert_true(store_body_reads(f->st) > before);
	eenplan__v1__response__free_unpacked(a, NULL);
	free(hh);
}

/* ------------------------------------------------ every version reads back */

/* A random change of the plan by the regisseur; the kind it was. */
static int
random_change(struct fx *f, const struct principal *wmo, const char *hh,
    unsigned *seed, uint32_t *ngoals)
{
	EpMutation m[3], *mp[3];
	Eenplan__V1__AddGoal ag[3];
	Eenplan__V1__AddNote an[3];
	Eenplan__V1__AddAssessment as[3];
	Eenplan__V1__SetTargetScore ts[3];
	char text[3][64];
	size_t i, n = 1 + rand_r(seed) % 3;

	for (i = 0; i < n; i++) {
		eenplan__v1__mutation__init(&m[i]);
		mp[i] = &m[i];
		snprintf(text[i], sizeof(text[i]), "tekst %u", rand_r(seed));
		switch (rand_r(seed) % 4) {
		case 0:
			eenplan__v1__add_goal__init(&ag[i]);
			ag[i].domain = 1 + rand_r(seed) % 13;
			ag[i].text = text[i];
			m[i].op_case = EENPLAN__V1__MUTATION__OP_ADD_GOAL;
			m[i].add_goal = &ag[i];
			(*ngoals)++;
			break;
		case 1:
			eenplan__v1__add_note__init(&an[i]);
			an[i].domain = 1 + rand_r(seed) % 13;
			an[i].text = text[i];
			m[i].op_case = EENPLAN__V1__MUTATION__OP_ADD_NOTE;
			m[i].add_note = &an[i];
			break;
		case 2:
			eenplan__v1__add_assessment__init(&as[i]);
			as[i].domain = 1 + rand_r(seed) % 13;
			as[i].score = 1 + rand_r(seed) % 5;
			m[i].op_case = EENPLAN__V1__MUTATION__OP_ADD_ASSESSMENT;
			m[i].add_assessment = &as[i];
			break;
		default:
			eenplan__v1__set_target_score__init(&ts[i]);
			ts[i].domain = 1 + rand_r(seed) % 13;
			ts[i].score = 1 + rand_r(seed) % 5;
			m[i].op_case = EENPLAN__V1__MUTATION__OP_SET_TARGET_SCORE;
			m[i].set_target_score = &ts[i];
			break;
		}
	}
	return mutate(f, wmo, hh, mp, n);
}

static void
household_rounds(struct fx *f, unsigned seed)
{
	struct principal wmo, lev, me;
	EpRequest rq = EENPLAN__V1__REQUEST__INIT;
	Eenplan__V1__EscalateRequest es = EENPLAN__V1__ESCALATE_REQUEST__INIT;
	Eenplan__V1__TransferRegieRequest tr =
	    EENPLAN__V1__TRANSFER_REGIE_REQUEST__INIT;
	Eenplan__V1__GetPlanRequest gp = EENPLAN__V1__GET_PLAN_REQUEST__INIT;
	uint8_t **packed;
	size_t *plen, len;
	struct household h;
	struct stxn *t;
	EpResponse *r;
	EpPlan *p;
	uint32_t ngoals = 0;
	uint64_t v, nv = 60;
	char *hh;
	int step;

	principal_set(&wmo, "gemeente", "a.devries", 4);
	principal_set(&lev, "lev", "s.bakker", 4);
	hh = create_household(f, &wmo);
	/* The regie goes only to someone the deployment knows. */
	tr.household_id = hh;
	tr.to_org = (char *)(uintptr_t)"lev";
	tr.to_subject = (char *)(uintptr_t)"nooit.gezien";
	tr.form_reference = (char *)(uintptr_t)"FORM-T";
	tr.reason = (char *)(uintptr_t)"overdracht";
	rq.body_case = EENPLAN__V1__REQUEST__BODY_TRANSFER_REGIE;
	rq.transfer_regie = &tr;
	rq.id = 10;
	r = call_as(f, &wmo, &rq);
	assert_int_equal(code_of(r), EENPLAN__V1__CODE__INVALID_ARGUMENT);
	eenplan__v1__response__free_unpacked(r, NULL);
	/* Any request makes one known: here one refused. */
	gp.household_id = hh;
	rq.body_case = EENPLAN__V1__REQUEST__BODY_GET_PLAN;
	rq.get_plan = &gp;
	rq.id = 11;
	r = call_as(f, &lev, &rq);
	assert_int_equal(code_of(r), EENPLAN__V1__CODE__PERMISSION_DENIED);
	eenplan__v1__response__free_unpacked(r, NULL);
	assert_non_null(packed = calloc(nv + 2, sizeof(*packed)));
	assert_non_null(plen = calloc(nv + 2, sizeof(*plen)));
	me = wmo;
	for (step = 0; step < (int)nv - 1; step++) {
		int what = rand_r(&seed) % 10;

		if (what == 0) {
			es.household_id = hh;
			es.reason = "Zorgen over de veiligheid";
			rq.body_case = EENPLAN__V1__REQUEST__BODY_ESCALATE;
			rq.escalate = &es;
			rq.id = 9;
			r = call_as(f, &me, &rq);
			assert_int_equal(code_of(r), 0);
			eenplan__v1__response__free_unpacked(r, NULL);
		} else if (what == 1) {
			/* The regie moves to the other professional and back. */
			const struct principal *to =
			    strcmp(me.pr_org, "lev") == 0 ? &wmo : &lev;

			tr.household_id = hh;
			tr.to_org = (char *)(uintptr_t)to->pr_org;
			tr.to_subject = (char *)(uintptr_t)to->pr_subject;
			tr.form_reference = "FORM-T";
			tr.reason = "overdracht";
			rq.body_case = EENPLAN__V1__REQUEST__BODY_TRANSFER_REGIE;
			rq.transfer_regie = &tr;
			rq.id = 10;
			r = call_as(f, &me, &rq);
			assert_int_equal(code_of(r), 0);
			eenplan__v1__response__free_unpacked(r, NULL);
			me = *to;
		} else
			assert_int_equal(random_change(f, &me, hh, &seed,
			    &ngoals), 0);
	}
	/* Every version: read it through the store, as GetPlan would. */
	assert_int_equal(store_reader_begin(f->rd), STORE_OK);
	t = f->rd;
	assert_int_equal(household_load(t, &f->hc, &me, hh, NOW, &h), 0);
	assert_int_equal(h.h_rec->version, nv);
	for (v = 1; v <= nv; v++) {
		assert_int_equal(household_plan(t, &h, v, &p), STORE_OK);
		assert_int_equal(p->version, v);
		len = protobuf_c_message_get_packed_size(&p->base);
		assert_non_null(packed[v] = malloc(len));
		protobuf_c_message_pack(&p->base, packed[v]);
		plen[v] = len;
		plan_free(p);
	}
	/* The current version equals the body; each older one its delta's CRC. */
	assert_int_equal(household_plan(t, &h, 0, &p), STORE_OK);
	len = protobuf_c_message_get_packed_size(&p->base);
	assert_int_equal(len, plen[nv]);
	plan_free(p);
	for (v = 1; v <= nv; v++) {
		EpsDelta *d;

		assert_int_equal(store_delta_get(t, hh, v, &d), STORE_OK);
		assert_int_equal(d->plan_bytes, plen[v]);
		assert_true(d->snapshot >= 1 && d->snapshot <= v);
		store_delta_free(d);
	}
	household_free(&h);
	store_reader_end(t);
	for (v = 1; v <= nv; v++)
		free(packed[v]);
	free(packed);
	free(plen);
	free(hh);
}

/*
 * Versions read back exactly as they were: each is compared with what the
 * commit stored (its size and CRC in the delta, checked by household_plan:
 * a replay that differs is DATA_LOSS), over snapshots every 7 versions or
 * 1 KB, through escalations and regie transfers.
 */
static void
test_every_version_reads_back(void **state)
{
	struct fx *f = *state;
	unsigned seed;

	for (seed = 1; seed <= 5; seed++)
		household_rounds(f, seed);
}

/* A version read through replay equals the plan as it was at that moment. */
static void
test_version_equals_then(void **state)
{
	struct fx *f = *state;
	struct principal wmo;
	uint8_t *then[20];
	size_t then_len[20];
	struct household h;
	EpPlan *p;
	char *hh;
	int v;

	principal_set(&wmo, "gemeente", "a.devries", 4);
	hh = create_household(f, &wmo);
	for (v = 1; v <= 19; v++) {
		if (v > 1)
			assert_int_equal(add_note(f, &wmo, hh, v % 13 + 1,
			    "Stap voor stap"), 0);
		/* The plan as it is now, from the body. */
		assert_int_equal(store_reader_begin(f->rd), STORE_OK);
		assert_int_equal(household_load(f->rd, &f->hc, &wmo, hh, NOW,
		    &h), 0);
		assert_int_equal(household_plan(f->rd, &h, 0, &p), STORE_OK);
		assert_int_equal(p->version, (uint64_t)v);
		then_len[v] = protobuf_c_message_get_packed_size(&p->base);
		assert_non_null(then[v] = malloc(then_len[v]));
		protobuf_c_message_pack(&p->base, then[v]);
		plan_free(p);
		household_free(&h);
		store_reader_end(f->rd);
	}
	assert_int_equal(store_reader_begin(f->rd), STORE_OK);
	assert_int_equal(household_load(f->rd, &f->hc, &wmo, hh, NOW, &h), 0);
	for (v = 1; v <= 19; v++) {
		uint8_t *buf;
		size_t len;

		assert_int_equal(household_plan(f->rd, &h, (uint64_t)v, &p),
		    STORE_OK);
		len = protobuf_c_message_get_packed_size(&p->base);
		assert_int_equal(len, then_len[v]);
		assert_non_null(buf = malloc(len));
		protobuf_c_message_pack(&p->base, buf);
		assert_memory_equal(buf, then[v], len);
		free(buf);
		free(then[v]);
		plan_free(p);
	}
	household_free(&h);
	store_reader_end(f->rd);
	free(hh);
}

static int
last_record(const EpAuditRecord *r, void *arg)
{
	EpAuditRecord **last = arg;

	if (*last != NULL)
		protobuf_c_message_free_unpacked(&(*last)->base, NULL);
	*last = (EpAuditRecord *)wire_msg_dup(&r->base);
	return 0;
}

/*
 * A write that waited in the writer while its caller's certificate was
 * revoked (a reload cut the connection) is not carried out, and the
 * attempt is on record.
 */
static void
test_revoked_while_waiting(void **state)
{
	struct fx *f = *state;
	struct principal wmo;
	EpAuditRecord *last = NULL;
	struct household h;
	char *hh;

	principal_set(&wmo, "gemeente", "a.devries", 4);
	hh = create_household(f, &wmo);
	assert_int_equal(add_note(f, &wmo, hh, 1, "voor de intrekking"), 0);
	f->cut = 1;
	assert_int_equal(add_note(f, &wmo, hh, 1, "na de intrekking"),
	    EENPLAN__V1__CODE__UNAUTHENTICATED);
	f->cut = 0;
	assert_int_equal(store_reader_begin(f->rd), STORE_OK);
	assert_int_equal(household_load(f->rd, &f->hc, &wmo, hh, NOW, &h), 0);
	assert_int_equal(h.h_rec->version, 2);
	household_free(&h);
	assert_int_equal(store_audit_scan(f->rd, hh, NULL, 0, last_record,
	    &last), STORE_OK);
	store_reader_end(f->rd);
	assert_non_null(last);
	assert_string_equal(last->action, "MutatePlan");
	assert_int_equal(last->outcome, EENPLAN__V1__CODE__UNAUTHENTICATED);
	protobuf_c_message_free_unpacked(&last->base, NULL);
	free(hh);
}

/* ------------------------------------- a read's decision, again at commit */

/* A job that holds the writer until released: what lies behind it waits. */
struct gate {
	struct wjob	g_job;
	pthread_mutex_t	g_mtx;
	pthread_cond_t	g_cond;
	int		g_in;		/* the writer is inside */
	int		g_open;
};

static int
gate_exec(struct wjob *j, struct stxn *t)
{
	struct gate *g = (struct gate *)j;

	(void)t;
	pthread_mutex_lock(&g->g_mtx);
	g->g_in = 1;
	pthread_cond_broadcast(&g->g_cond);
	while (!g->g_open)
		pthread_cond_wait(&g->g_cond, &g->g_mtx);
	pthread_mutex_unlock(&g->g_mtx);
	return 0;
}

static void
gate_post(struct wjob *j)
{
	fx_post(F, j);
}

static void
gate_done(struct wjob *j)
{
	(void)j;
}

static void
gate_shut(struct fx *f, struct gate *g, const struct principal *who)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->g_mtx, NULL);
	pthread_cond_init(&g->g_cond, NULL);
	g->g_job.wj_exec = gate_exec;
	g->g_job.wj_readonly = 1;
	g->g_job.wj_post = gate_post;
	g->g_job.wj_done = gate_done;
	g->g_job.wj_arg = f;
	g->g_job.wj_audit = audit_record_new(who, "Gate", NULL, NOW);
	assert_non_null(g->g_job.wj_audit);
	writer_submit(f->w, &g->g_job);
	pthread_mutex_lock(&g->g_mtx);
	while (!g->g_in)
		pthread_cond_wait(&g->g_cond, &g->g_mtx);
	pthread_mutex_unlock(&g->g_mtx);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->g_mtx);
	g->g_open = 1;
	pthread_cond_broadcast(&g->g_cond);
	pthread_mutex_unlock(&g->g_mtx);
}

static void
gate_free(struct gate *g)
{
	audit_record_free(g->g_job.wj_audit);
	pthread_mutex_destroy(&g->g_mtx);
	pthread_cond_destroy(&g->g_cond);
}

/*
 * Dispatches rq as who, as a worker would, without waiting for its answer
 * (call_as waits for it; calls_finish for several). The request as the
 * connection would decode it: within the call's budget.
 */
static void
call_start(struct fx *f, const struct principal *who, EpRequest *rq)
{
	struct call_sink sink;
	struct call *ca;
	EpRequest *copy;
	size_t len;
	uint8_t *buf;

	memset(&sink, 0, sizeof(sink));
	sink.cs_send = fx_send;
	sink.cs_live = fx_live;
	sink.cs_arg = f;
	sink.cs_max_frame = f->conf.c_max_frame;
	assert_non_null(ca = call_new(&f->env_, &sink, who, 1u << 24));
	len = eenplan__v1__request__get_packed_size(rq);
	assert_non_null(buf = malloc(len + 1));
	eenplan__v1__request__pack(rq, buf);
	copy = eenplan__v1__request__unpack(&ca->ca_budget.wb_alloc, len, buf);
	free(buf);
	assert_non_null(copy);
	dispatch_request(ca, copy);
}

/*
 * Completes posted jobs until n answers came; out[k] is the answer whose
 * request id is k + 1 (ids 1..n).
 */
static void
calls_finish(struct fx *f, size_t n, EpResponse **out)
{
	struct wjob *j;
	size_t got = 0;
	EpResponse *r;

	memset(out, 0, n * sizeof(*out));
	while (got < n) {
		j = next_done(f);
		free(f->frame);
		f->frame = NULL;
		f->frame_len = 0;
		j->wj_done(j);
		if (f->frame == NULL)
			continue;
		assert_true(f->frame_len > 4);
		r = eenplan__v1__response__unpack(NULL, f->frame_len - 4,
		    f->frame + 4);
		assert_non_null(r);
		assert_true(r->id >= 1 && r->id <= n && out[r->id - 1] == NULL);
		out[r->id - 1] = r;
		got++;
	}
}

static uint64_t
grant_to(struct fx *f, const struct principal *who, const char *hh,
    const char *org, int64_t until)
{
	EpRequest rq = EENPLAN__V1__REQUEST__INIT;
	Eenplan__V1__GrantConsentRequest gc =
	    EENPLAN__V1__GRANT_CONSENT_REQUEST__INIT;
	EpGrant g = EENPLAN__V1__GRANT__INIT;
	EpResponse *r;
	uint64_t id;

	g.grantee_org = (char *)(uintptr_t)org;
	g.access = EENPLAN__V1__ACCESS__ACCESS_READ;
	g.purpose = "wijkverpleging";
	g.form_reference = "FORM-2";
	g.valid_until = until;
	gc.household_id = (char *)(uintptr_t)hh;
	gc.grant = &g;
	rq.id = 3;
	rq.body_case = EENPLAN__V1__REQUEST__BODY_GRANT_CONSENT;
	rq.grant_consent = &gc;
	r = call_as(f, who, &rq);
	assert_int_equal(code_of(r), 0);
	assert_non_null(r->grant_consent->grant);
	id = r->grant_consent->grant->id;
	eenplan__v1__response__free_unpacked(r, NULL);
	return id;
}

static void
get_plan_rq(EpRequest *rq, Eenplan__V1__GetPlanRequest *gp, const char *hh,
    uint64_t id)
{
	eenplan__v1__request__init(rq);
	eenplan__v1__get_plan_request__init(gp);
	gp->household_id = (char *)(uintptr_t)hh;
	rq->id = id;
	rq->body_case = EENPLAN__V1__REQUEST__BODY_GET_PLAN;
	rq->get_plan = gp;
}

/*
 * A read is decided on the worker's snapshot and again in the writer's
 * commit. The writer skips opening the standing record when it holds the
 * bytes the read was decided on and no grant began or ended since: an
 * unchanged household is served without a second decision in full; a
 * revoke committed between the worker's decision and the commit (queued
 * ahead of the read in the writer) and a grant that ran out in between
 * each make the writer decide in full, and refuse.
 */
static void
test_read_decided_again_at_commit(void **state)
{
	struct fx *f = *state;
	struct principal wmo, nurse;
	Eenplan__V1__RevokeConsentRequest rv =
	    EENPLAN__V1__REVOKE_CONSENT_REQUEST__INIT;
	Eenplan__V1__GetPlanRequest gp;
	EpRequest rq, rrq = EENPLAN__V1__REQUEST__INIT;
	EpResponse *r, *two[2];
	struct gate g;
	uint64_t full, gid;
	char *hh;

	principal_set(&wmo, "gemeente", "a.devries", 4);
	principal_set(&nurse, "savant", "n.jansen", 4);
	hh = create_household(f, &wmo);
	gid = grant_to(f, &wmo, hh, "savant", 0);

	/* Unchanged: served, and the writer did not decide in full. */
	full = call_rechecks_in_full();
	get_plan_rq(&rq, &gp, hh, 1);
	r = call_as(f, &nurse, &rq);
	assert_int_equal(code_of(r), 0);
	eenplan__v1__response__free_unpacked(r, NULL);
	assert_int_equal(call_rechecks_in_full(), full);

	/* A revoke ahead of the read in the writer, after its decision. */
	gate_shut(f, &g, &wmo);
	rv.household_id = hh;
	rv.grant_id = gid;
	rv.form_reference = "FORM-3";
	rrq.id = 1;
	rrq.body_case = EENPLAN__V1__REQUEST__BODY_REVOKE_CONSENT;
	rrq.revoke_consent = &rv;
	call_start(f, &wmo, &rrq);
	get_plan_rq(&rq, &gp, hh, 2);
	call_start(f, &nurse, &rq);	/* decided here: the grant holds */
	gate_open(&g);
	calls_finish(f, 2, two);
	gate_free(&g);
	assert_int_equal(code_of(two[0]), 0);
	assert_int_equal(code_of(two[1]), EENPLAN__V1__CODE__PERMISSION_DENIED);
	assert_null(two[1]->get_plan);
	assert_int_equal(call_rechecks_in_full(), full + 1);
	eenplan__v1__response__free_unpacked(two[0], NULL);
	eenplan__v1__response__free_unpacked(two[1], NULL);

	/* A grant that runs out while the read waits in the writer. */
	gid = grant_to(f, &wmo, hh, "savant", util_now_us() + 300000);
	gate_shut(f, &g, &wmo);
	get_plan_rq(&rq, &gp, hh, 1);
	call_start(f, &nurse, &rq);	/* decided here: the grant holds */
	usleep(400000);
	gate_open(&g);
	calls_finish(f, 1, two);
	gate_free(&g);
	assert_int_equal(code_of(two[0]), EENPLAN__V1__CODE__PERMISSION_DENIED);
	assert_null(two[0]->get_plan);
	assert_int_equal(call_rechecks_in_full(), full + 2);
	eenplan__v1__response__free_unpacked(two[0], NULL);
	free(hh);
}

/*
 * A scoped reader's last version at or before an old one: right for every
 * version and scope, and found reading no more deltas than lie between two
 * snapshots (the snapshot's delta keeps the scope slots), not all the way
 * back to the last change the scope saw.
 */
static void
test_scoped_walk_is_bounded(void **state)
{
	struct fx *f = *state;
	static const uint32_t scopes[] = { CONSENT_DOMAIN_BIT(1),
	    CONSENT_DOMAIN_BIT(2) | CONSENT_DOMAIN_BIT(3), CONSENT_DOMAIN_BIT(9) };
	int dom[80];
	struct principal wmo;
	struct household h;
	uint64_t upto, got, want, before, reads, most = 0;
	int64_t at;
	size_t s;
	char *hh;
	int v, last = 70;

	principal_set(&wmo, "gemeente", "a.devries", 4);
	hh = create_household(f, &wmo);
	dom[1] = 0;			/* the intake: every reader sees it */
	for (v = 2; v <= last; v++) {
		dom[v] = v == 2 || v == 45 ? 1 : v % 4 + 2;	/* 2..5 */
		assert_int_equal(add_note(f, &wmo, hh, dom[v], "Stap"), 0);
	}
	assert_int_equal(store_reader_begin(f->rd), STORE_OK);
	assert_int_equal(household_load(f->rd, &f->hc, &wmo, hh, NOW, &h), 0);
	for (s = 0; s < sizeof(scopes) / sizeof(scopes[0]); s++)
		for (upto = 1; upto < (uint64_t)last; upto++) {
			want = 0;
			for (v = (int)upto; v >= 1 && want == 0; v--)
				if (dom[v] == 0 ||
				    (scopes[s] & CONSENT_DOMAIN_BIT(dom[v])) != 0)
					want = (uint64_t)v;
			before = store_delta_reads(f->st);
			assert_int_equal(household_scoped_version_at(f->rd, &h,
			    upto, scopes[s], &got, &at), STORE_OK);
			reads = store_delta_reads(f->st) - before;
			if (got != want)
				fail_msg("scope %zu, up to %llu: version %llu, "
				    "not %llu", s, (unsigned long long)upto,
				    (unsigned long long)got,
				    (unsigned long long)want);
			if (reads > most)
				most = reads;
			assert_true(at > 0);
		}
	/* Snapshots every 7 versions (setup): at most 7 deltas read back. */
	if (most > 7)
		fail_msg("%llu deltas read for one answer",
		    (unsigned long long)most);
	/* Scope 9 never changed after the intake: 69 deltas before. */
	assert_true(most >= 2);
	household_free(&h);
	store_reader_end(f->rd);
	free(hh);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_refusals_read_no_body,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_version_reads_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_while_waiting,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_equals_then,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_scoped_walk_is_bounded,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_read_decided_again_at_commit, setup, teardown),
	};

	log_init(0, "test_household");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
