/*
 * Unit tests for the retention purge (retention.c) and the audit head kept
 * outside the store (anchor.c), on a real store: calendar years; audit
 * records older than their retention go from the front of the chain, in
 * batches, the chain's base moves and verify still walks what is kept;
 * a household is purged only when closed before the date and past its
 * regime's retention, and then wholly: its index links, its events emptied,
 * the copies the senders of its signals keep (a store from before these
 * were indexed by household too), one ACCESS_ENDED that its readers see
 * and nobody else does; the head file
 * and the comparison that start-up and verify --expect make.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anchor.h"
#include "audit.h"
#include "config.h"
#include "feed.h"
#include "household.h"
#include "log.h"
#include "plan.h"
#include "retention.h"
#include "util.h"
#include "testkey.h"
#include "testpresent.h"

#define HH_A	"0123456789abcdef0123456789abcdef"
#define YEAR_US	(INT64_C(365) * 86400 * 1000000)
/* 2024-01-15T12:00:00Z */
#define NOW	INT64_C(1705320000000000)

struct fx {
	char			 dir[256];
	char			 env[300];
	struct store		*st;
	struct config		 conf;
	struct consent_conf	 cc;
	struct household_conf	 hc;
	struct audit_head	 head;
};

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");
	struct fx *f;
	char err[512];

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/eenplan-rt-XXXXXX",
	    t && *t ? t : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->env, sizeof(f->env), "%s/db", f->dir);
	if (testkey_open(&f->st, f->env, 64u << 20, 0, 0, 0, err,
	    sizeof(err)) == -1) {
		print_error("store_open: %s\n", err);
		return -1;
	}
	config_defaults(&f->conf);
	f->cc.cc_citizens_org = "burgers";
	f->hc.hc_consent = &f->cc;
	f->hc.hc_plan_bytes_max = 1 << 20;
	f->hc.hc_snapshot_versions = 1000;
	f->hc.hc_snapshot_bytes = 65536;
	f->hc.hc_grants_max = 64;
	f->hc.hc_active_grants_max = 16;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* An audit record at time at, naming hh, appended in its own txn. */
static void
rec_add(struct fx *f, int64_t at, const char *hh)
{
	struct principal p;
	EpAuditRecord *r;
	struct stxn *t;

	memset(&p, 0, sizeof(p));
	snprintf(p.pr_org, sizeof(p.pr_org), "lev");
	snprintf(p.pr_subject, sizeof(p.pr_subject), "s.bakker");
	p.pr_role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	assert_non_null(r = audit_record_new(&p, "GetPlan", hh, at));
	assert_int_equal(store_write_begin(f->st, &t), STORE_OK);
	assert_int_equal(audit_append(t, &f->head, r), STORE_OK);
	assert_int_equal(store_commit(t), STORE_OK);
	audit_record_free(r);
}

static void
verify_ok(struct fx *f, uint64_t want_count)
{
	struct stxn *t;
	uint64_t count, bad;
	char msg[256];

	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	if (audit_verify(t, &count, &bad, msg, sizeof(msg)) != 0)
		fail_msg("verify: %llu: %s", (unsigned long long)bad, msg);
	if (want_count != UINT64_MAX)
		assert_int_equal(count, want_count);
	store_reader_end(t);
	store_reader_free(t);
}

static int
run(struct fx *f, int apply, int64_t closed_before, struct retention_result *r)
{
	struct retention_opts o;
	char err[512];
	int rc;

	memset(&o, 0, sizeof(o));
	o.ro_now = NOW;
	o.ro_closed_before = closed_before;
	o.ro_apply = apply;
	o.ro_audit = 1;
	o.ro_operator = "test";
	rc = retention_run(f->st, &f->conf, &o, r, err, sizeof(err));
	if (rc != 0)
		print_error("retention_run: %s\n", err);
	return rc;
}

static void
test_add_years(void **state)
{
	struct tm tm;
	time_t s;
	int64_t t;

	(void)state;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 2024 - 1900;
	tm.tm_mon = 1;
	tm.tm_mday = 29;
	tm.tm_hour = 10;
	t = (int64_t)timegm(&tm) * 1000000 + 123;
	/* A leap day goes to 28 February in a common year, not 1 March. */
	s = (time_t)(retention_add_years(t, 1) / 1000000);
	gmtime_r(&s, &tm);
	assert_int_equal(tm.tm_year + 1900, 2025);
	assert_int_equal(tm.tm_mon, 1);
	assert_int_equal(tm.tm_mday, 28);
	assert_int_equal(tm.tm_hour, 10);
	assert_int_equal(retention_add_years(t, 1) % 1000000, 123);
	s = (time_t)(retention_add_years(t, 4) / 1000000);
	gmtime_r(&s, &tm);
	assert_int_equal(tm.tm_year + 1900, 2028);
	assert_int_equal(tm.tm_mday, 29);
	s = (time_t)(retention_add_years(t, -5) / 1000000);
	gmtime_r(&s, &tm);
	assert_int_equal(tm.tm_year + 1900, 2019);
	assert_int_equal(tm.tm_mon, 1);
	assert_int_equal(tm.tm_mday, 28);
	assert_int_equal(retention_add_years(NOW, 0), NOW);
}

/* Old records go from the front; the chain is whole from its new base. */
static void
test_audit_purge(void **state)
{
	struct fx *f = *state;
	struct retention_result r;
	struct audit_head base, before;
	struct stxn *t;
	EpAuditRecord *rec;
	int i;

	for (i = 0; i < 10; i++)		/* 6 to 7 years old */
		rec_add(f, NOW - 7 * YEAR_US + i * 36 * 86400 * INT64_C(1000000),
		    HH_A);
	for (i = 0; i < 5; i++)			/* young */
		rec_add(f, NOW - 2 * YEAR_US + i, HH_A);
	before = f->head;
	/* A dry run counts and changes nothing. */
	assert_int_equal(run(f, 0, NOW, &r), 0);
	assert_int_equal(r.rr_audit_due, 10);
	assert_int_equal(r.rr_audit_first, 1);
	assert_int_equal(r.rr_audit_last, 10);
	assert_int_equal(r.rr_audit_purged, 0);
	verify_ok(f, 15);
	/* Applied: 1..10 gone, one AuditPurge record added. */
	assert_int_equal(run(f, 1, NOW, &r), 0);
	assert_int_equal(r.rr_audit_purged, 10);
	assert_int_equal(r.rr_records_added, 1);
	verify_ok(f, 6);
	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	assert_int_equal(audit_base_load(t, &base), STORE_OK);
	assert_int_equal(base.ah_seq, 10);
	assert_int_equal(store_audit_get(t, 10, &rec), STORE_NOTFOUND);
	assert_int_equal(store_audit_get(t, 11, &rec), STORE_OK);
	audit_record_free(rec);
	assert_int_equal(audit_head_load(t, &f->head), STORE_OK);
	assert_int_equal(f->head.ah_seq, before.ah_seq + 1);
	assert_int_equal(store_audit_get(t, f->head.ah_seq, &rec), STORE_OK);
	assert_string_equal(rec->action, "AuditPurge");
	assert_non_null(strstr(rec->detail, "1..10 (10)"));
	audit_record_free(rec);
	store_reader_end(t);
	store_reader_free(t);
	/* Nothing more is due. */
	assert_int_equal(run(f, 1, NOW, &r), 0);
	assert_int_equal(r.rr_audit_due, 0);
	assert_int_equal(r.rr_records_added, 0);
	verify_ok(f, 6);
}

/* Per-household and per-org queries see only what is kept, no damage. */
static int
count_cb(const EpAuditRecord *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

/* The seqs a scan hands out, in order. */
struct seqs {
	uint64_t	s_seq[16];
	int		s_n;
};

static int
seqs_cb(const EpAuditRecord *r, void *arg)
{
	struct seqs *s = arg;

	if (s->s_n < 16)
		s->s_seq[s->s_n] = r->seq;
	s->s_n++;
	return 0;
}

static void
expect_seqs(struct stxn *t, const char *hh, const char *org, uint64_t after,
    const uint64_t *want, int n)
{
	struct seqs s;
	int i;

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_audit_scan(t, hh, org, after, seqs_cb, &s),
	    STORE_OK);
	assert_int_equal(s.s_n, n);
	for (i = 0; i < n; i++)
		assert_int_equal(s.s_seq[i], want[i]);
}

/*
 * The audit index named the records the purge takes: emptied before they
 * go, built again after, up to the purge's own record. Per-household and
 * per-org queries see only what is kept, once each, no damage.
 */
static void
test_audit_purge_indexes(void **state)
{
	static const uint64_t kept[] = { 5, 6, 7, 8 };
	struct fx *f = *state;
	struct retention_result r;
	struct stxn *t;
	uint64_t last;
	int i, n = 0, m = 0;

	for (i = 0; i < 4; i++)
		rec_add(f, NOW - 6 * YEAR_US, HH_A);
	for (i = 0; i < 3; i++)
		rec_add(f, NOW, HH_A);
	/* Indexed, as the indexer does off the hot path, but for the last. */
	assert_int_equal(store_audit_index(f->st, UINT64_MAX, 0, NULL),
	    STORE_OK);
	assert_int_equal(store_audit_indexed(f->st), 7);
	rec_add(f, NOW, HH_A);
	/* A dry run takes nothing away: the index stays. */
	assert_int_equal(run(f, 0, NOW, &r), 0);
	assert_int_equal(r.rr_audit_due, 4);
	assert_int_equal(store_audit_indexed(f->st), 7);
	assert_int_equal(run(f, 1, NOW, &r), 0);
	assert_int_equal(r.rr_audit_purged, 4);
	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	assert_int_equal(store_audit_last(t, &last), STORE_OK);
	assert_int_equal(last, 9);	/* 8 and the purge's record */
	/* Built again, over all that is kept: scans read it alone. */
	assert_int_equal(store_audit_indexed(f->st), last);
	assert_int_equal(store_audit_scan(t, HH_A, NULL, 0, count_cb, &n),
	    STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(store_audit_scan(t, NULL, "lev", 0, count_cb, &m),
	    STORE_OK);
	assert_int_equal(m, 4);
	expect_seqs(t, HH_A, NULL, 0, kept, 4);
	expect_seqs(t, NULL, "lev", 0, kept, 4);
	expect_seqs(t, HH_A, "lev", 0, kept, 4);
	expect_seqs(t, HH_A, NULL, 2, kept, 4);
	expect_seqs(t, HH_A, NULL, 6, kept + 2, 2);
	expect_seqs(t, NULL, "lev", 7, kept + 3, 1);
	assert_int_equal(audit_head_load(t, &f->head), STORE_OK);
	store_reader_end(t);
	store_reader_free(t);
	verify_ok(f, UINT64_MAX);
	/* The index goes on from there. */
	rec_add(f, NOW, HH_A);
	assert_int_equal(store_audit_index(f->st, UINT64_MAX, 0, NULL),
	    STORE_OK);
	assert_int_equal(store_audit_indexed(f->st), 10);
	n = 0;
	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	assert_int_equal(store_audit_scan(t, HH_A, NULL, 0, count_cb, &n),
	    STORE_OK);
	assert_int_equal(n, 5);
	store_reader_end(t);
	store_reader_free(t);
}

/* More than a batch: each batch its own record, the chain whole. */
static void
test_audit_purge_batches(void **state)
{
	struct fx *f = *state;
	struct retention_result r;
	int i, n = 2 * RETENTION_AUDIT_BATCH + 7;

	for (i = 0; i < n; i++)
		rec_add(f, NOW - 6 * YEAR_US + i, NULL);
	rec_add(f, NOW, NULL);
	assert_int_equal(run(f, 1, NOW, &r), 0);
	assert_int_equal(r.rr_audit_purged, (uint64_t)n);
	assert_int_equal(r.rr_records_added, 3);
	verify_ok(f, 1 + 3);
}

/* Below five years is refused, whatever the config says. */
static void
test_audit_minimum(void **state)
{
	struct fx *f = *state;
	struct retention_result r;

	rec_add(f, NOW - 4 * YEAR_US, NULL);
	f->conf.c_audit_retention_years = 4;
	assert_int_equal(run(f, 1, NOW, &r), -1);
	f->conf.c_audit_retention_years = 5;
	assert_int_equal(run(f, 1, NOW, &r), 0);
	assert_int_equal(r.rr_audit_purged, 0);
	verify_ok(f, 1);
}

/* verify refuses a base past the head, or a record left below it. */
static void
test_verify_base(void **state)
{
	struct fx *f = *state;
	struct audit_head b;
	struct stxn *t;
	uint64_t count, bad;
	char msg[256];
	int i;

	for (i = 0; i < 3; i++)
		rec_add(f, NOW, NULL);
	memset(&b, 0, sizeof(b));
	b.ah_seq = 2;		/* says 1..2 went, but they are there */
	assert_int_equal(store_write_begin(f->st, &t), STORE_OK);
	assert_int_equal(audit_base_put(t, &b), STORE_OK);
	assert_int_equal(store_commit(t), STORE_OK);
	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	assert_int_equal(audit_verify(t, &count, &bad, msg, sizeof(msg)), -1);
	assert_int_equal(bad, 2);
	store_reader_end(t);
	store_reader_free(t);
	b.ah_seq = 9;
	assert_int_equal(store_write_begin(f->st, &t), STORE_OK);
	assert_int_equal(audit_base_put(t, &b), STORE_OK);
	assert_int_equal(store_commit(t), STORE_OK);
	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	assert_int_equal(audit_verify(t, &count, &bad, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "past the head"));
	store_reader_end(t);
	store_reader_free(t);
}

/* ---------------------------------------------------------- households */

static void
who_set(struct principal *p, const char *org, const char *sub, int role)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->pr_org, sizeof(p->pr_org), "%s", org);
	snprintf(p->pr_subject, sizeof(p->pr_subject), "%s", sub);
	p->pr_role = role;
}

static void
ep_view(const struct principal *p, EpPrincipal *e)
{
	eenplan__v1__principal__init(e);
	e->org = (char *)(uintptr_t)p->pr_org;
	e->subject = (char *)(uintptr_t)p->pr_subject;
	e->role = p->pr_role;
}

/*
 * A household taken in by the regisseur, with lev granted read, closed at
 * closed_at (0: open) under regime. Its id into id.
 */
static void
hh_new(struct fx *f, const char *regime, int64_t closed_at, char id[33])
{
	EpMember m = EENPLAN__V1__MEMBER__INIT, *mp = &m;
	EpGrant g = EENPLAN__V1__GRANT__INIT, lev = EENPLAN__V1__GRANT__INIT;
	struct principal reg;
	struct household h;
	struct plan_error pe;
	EpPrincipal me;
	EpPlan *plan;
	struct stxn *t;

	who_set(&reg, "gemeente", "a.devries",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	ep_view(&reg, &me);
	assert_int_equal(util_random_id(id), 0);
	m.person_id = "henk.desmet";
	m.name = "Henk";
	assert_int_equal(plan_new(&plan, id, 1, &mp, 1, &me, "F-1",
	    NOW - 30 * YEAR_US, &pe), 0);
	plan->version = 0;
	g.grantee_org = "gemeente";
	g.grantee_subject = "a.devries";
	g.access = EENPLAN__V1__ACCESS__ACCESS_MANAGE;
	g.purpose = "regie";
	g.recorded_by = &me;
	g.on_behalf = 1;
	g.form_reference = "F-1";
	assert_int_equal(store_write_begin(f->st, &t), STORE_OK);
	assert_int_equal(household_create(t, &f->hc, &h, plan, &g, &reg,
	    NOW - 30 * YEAR_US, &pe), STORE_OK);
	lev.grantee_org = "lev";
	lev.access = EENPLAN__V1__ACCESS__ACCESS_READ;
	lev.purpose = "Schuldhulp";
	lev.recorded_by = &me;
	lev.valid_until = NOW - 20 * YEAR_US;	/* ended, never swept */
	assert_int_equal(household_grant_add(t, &f->hc, &h, &lev,
	    EENPLAN__V1__CHANGE_KIND__CHANGE_CONSENT, &reg, NOW - 30 * YEAR_US,
	    &pe), STORE_OK);
	if (closed_at != 0) {
		h.h_rec->status = EENPLAN__V1__HOUSEHOLD_STATUS__HOUSEHOLD_CLOSED;
		h.h_rec->closed_at = closed_at;
	}
	if (h.h_rec->regime != protobuf_c_empty_string)
		free(h.h_rec->regime);
	assert_non_null(h.h_rec->regime = strdup(regime));
	assert_int_equal(household_put(t, &h), STORE_OK);
	assert_int_equal(store_commit(t), STORE_OK);
	household_free(&h);
	plan_free(plan);
}

static int
hh_exists(struct fx *f, const char *id)
{
	EpsHousehold *rec;
	struct stxn *t;
	int rc;

	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	rc = store_hh_get(t, id, &rec);
	store_hh_free(rec);
	store_reader_end(t);
	store_reader_free(t);
	assert_true(rc == STORE_OK || rc == STORE_NOTFOUND);
	return rc == STORE_OK;
}

struct feed_count {
	struct feed_reader	*fc_fr;
	struct stxn		*fc_t;
	const char		*fc_hh;
	int			 fc_events;	/* shown, of fc_hh */
	int			 fc_ended;	/* of them ACCESS_ENDED */
};

static int
feed_cb(const EpsFeedEvent *fe, void *arg)
{
	struct feed_count *fc = arg;
	EpChangeEvent *out[2];
	int i, n;

	n = feed_view(fc->fc_fr, fc->fc_t, fe, out);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		if (strcmp(out[i]->household_id, fc->fc_hh) == 0) {
			fc->fc_events++;
			fc->fc_ended += out[i]->kind ==
			    EENPLAN__V1__CHANGE_KIND__CHANGE_ACCESS_ENDED;
		}
		protobuf_c_message_free_unpacked(&out[i]->base, NULL);
	}
	return 0;
}

/* What who sees of household hh in the whole feed. */
static void
feed_of(struct fx *f, const struct principal *who, const char *hh,
    int *events, int *ended)
{
	struct feed_reader fr;
	struct feed_count fc;

	memset(&fc, 0, sizeof(fc));
	feed_reader_init(&fr, &f->hc, who);
	fc.fc_fr = &fr;
	fc.fc_hh = hh;
	assert_non_null(fc.fc_t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(fc.fc_t), STORE_OK);
	assert_int_equal(store_change_scan(fc.fc_t, 0, feed_cb, &fc),
	    STORE_OK);
	feed_reader_clear(&fr);
	store_reader_end(fc.fc_t);
	store_reader_free(fc.fc_t);
	*events = fc.fc_events;
	*ended = fc.fc_ended;
}

static int
index_cb(const char *hhid, void *arg)
{
	if (strcmp(hhid, (const char *)arg) == 0)
		return -1000;
	return 0;
}

/* A sender's copy of a signal about hh, as SendSignal stores it. */
static void
sent_add(struct fx *f, const struct principal *who, uint64_t receipt,
    const char *hh, const char *text)
{
	EpSignal sg = EENPLAN__V1__SIGNAL__INIT;
	EpPrincipal from;
	struct stxn *t;

	ep_view(who, &from);
	sg.household_id = (char *)(uintptr_t)hh;
	sg.domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	sg.text = (char *)(uintptr_t)text;
	sg.from = &from;
	sg.at = NOW - 20 * YEAR_US;
	assert_int_equal(store_write_begin(f->st, &t), STORE_OK);
	assert_int_equal(store_sent_put(t, who->pr_org, who->pr_subject,
	    receipt, &sg), STORE_OK);
	assert_int_equal(store_commit(t), STORE_OK);
}

struct sent_seen {
	const char	*ss_hh;
	int		 ss_all;
	int		 ss_about;
};

static int
sent_cb(uint64_t seq, const EpSignal *sg, void *arg)
{
	struct sent_seen *ss = arg;

	(void)seq;
	ss->ss_all++;
	ss->ss_about += strcmp(sg->household_id, ss->ss_hh) == 0;
	return 0;
}

/* What who's ListSignals (own) reads: its copies, and those about hh. */
static void
sent_of(struct fx *f, const struct principal *who, const char *hh, int *all,
    int *about)
{
	struct sent_seen ss;
	struct stxn *t;

	memset(&ss, 0, sizeof(ss));
	ss.ss_hh = hh;
	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	assert_int_equal(store_sent_scan(t, who->pr_org, who->pr_subject, 0,
	    sent_cb, &ss), STORE_OK);
	store_reader_end(t);
	store_reader_free(t);
	*all = ss.ss_all;
	*about = ss.ss_about;
}

/* The detail of the Purge record of household pd_hh. */
struct purge_rec {
	const char	*pr_hh;
	char		 pr_detail[512];
};

static int
purge_rec_cb(const EpAuditRecord *r, void *arg)
{
	struct purge_rec *pr = arg;

	if (strcmp(r->action, "Purge") == 0 &&
	    strcmp(r->household_id, pr->pr_hh) == 0)
		snprintf(pr->pr_detail, sizeof(pr->pr_detail), "%s", r->detail);
	return 0;
}

static void
purge_detail(struct fx *f, const char *hh, struct purge_rec *pr)
{
	struct stxn *t;

	memset(pr, 0, sizeof(*pr));
	pr->pr_hh = hh;
	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	assert_int_equal(store_audit_scan(t, NULL, NULL, 0, purge_rec_cb, pr),
	    STORE_OK);
	store_reader_end(t);
	store_reader_free(t);
}

static void
test_household_purge(void **state)
{
	struct fx *f = *state;
	struct retention_result r;
	struct principal lev, senzer, member;
	struct purge_rec pr;
	char wmo_old[33], wmo_young[33], jw[33], open_[33], odd[33];
	int events, ended, rc, all, about;
	struct stxn *t;
	uint64_t n;

	who_set(&lev, "lev", "s.bakker", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	who_set(&senzer, "senzer", "m.vandijk",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	who_set(&member, "burgers", "henk.desmet",
	    EENPLAN__V1__ROLE__ROLE_CLIENT);
	hh_new(f, "wmo", NOW - 16 * YEAR_US, wmo_old);
	hh_new(f, "wmo", NOW - 14 * YEAR_US, wmo_young);
	hh_new(f, "jeugdwet", NOW - 16 * YEAR_US, jw);
	hh_new(f, "wmo", 0, open_);
	hh_new(f, "wlz", NOW - 29 * YEAR_US, odd);	/* no retention known */
	/* Signals: each sender keeps a copy, whatever the household. */
	sent_add(f, &senzer, 1, wmo_old, "zorgen over de huur");
	sent_add(f, &senzer, 2, wmo_young, "zorgen over de buren");
	sent_add(f, &lev, 3, wmo_old, "schulden");
	/* The member reads its events; none of them ends anything. */
	feed_of(f, &member, wmo_old, &events, &ended);
	assert_true(events >= 2);
	assert_int_equal(ended, 0);

	/* Closed before a date earlier than its closing: nothing is due. */
	assert_int_equal(run(f, 1, NOW - 17 * YEAR_US, &r), 0);
	assert_int_equal(r.rr_due, 0);
	assert_int_equal(r.rr_households, 5);
	assert_int_equal(r.rr_closed, 4);
	assert_true(hh_exists(f, wmo_old));

	/* A dry run counts the senders' copies too, and removes nothing. */
	assert_int_equal(run(f, 0, NOW, &r), 0);
	assert_int_equal(r.rr_due, 1);
	assert_int_equal(r.rr_sent, 2);
	assert_int_equal(r.rr_sent_unknown, 0);
	sent_of(f, &senzer, wmo_old, &all, &about);
	assert_int_equal(about, 1);
	assert_int_equal(all, 2);

	assert_int_equal(run(f, 1, NOW, &r), 0);
	assert_int_equal(r.rr_due, 1);
	assert_int_equal(r.rr_purged, 1);
	assert_int_equal(r.rr_kept, 3);		/* young, jeugdwet, wlz */
	assert_int_equal(r.rr_versions, 1);
	assert_int_equal(r.rr_grants, 2);
	assert_int_equal(r.rr_sent, 2);
	/*
	 * Its senders no longer hold what they sent about it; what they sent
	 * about a household that stays, they keep.
	 */
	sent_of(f, &senzer, wmo_old, &all, &about);
	assert_int_equal(about, 0);
	assert_int_equal(all, 1);
	sent_of(f, &lev, wmo_old, &all, &about);
	assert_int_equal(all, 0);
	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	assert_int_equal(store_sent_count(t, wmo_old, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_sent_count(t, wmo_young, &n), STORE_OK);
	assert_int_equal(n, 1);
	store_reader_end(t);
	store_reader_free(t);
	purge_detail(f, wmo_old, &pr);
	assert_non_null(strstr(pr.pr_detail, "2 sender copies"));
	assert_null(strstr(pr.pr_detail, "huur"));
	assert_true(r.rr_feed_hidden >= 2);
	assert_false(hh_exists(f, wmo_old));
	assert_true(hh_exists(f, wmo_young));
	assert_true(hh_exists(f, jw));
	assert_true(hh_exists(f, open_));
	assert_true(hh_exists(f, odd));

	/*
	 * Everyone who could read it when it went is told, and sees nothing
	 * else of it any more: the member, and lev, whose grant had ended
	 * without its end being swept (so it was never told); senzer, who
	 * never could read it, learns nothing.
	 */
	feed_of(f, &member, wmo_old, &events, &ended);
	assert_int_equal(events, 1);
	assert_int_equal(ended, 1);
	feed_of(f, &lev, wmo_old, &events, &ended);
	assert_int_equal(events, 1);
	assert_int_equal(ended, 1);
	feed_of(f, &senzer, wmo_old, &events, &ended);
	assert_int_equal(events, 0);
	/* No index link is left: a caseload listing cannot find it. */
	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	rc = store_index_scan(t, "burgers", "henk.desmet", NULL, index_cb,
	    wmo_old);
	assert_int_equal(rc, STORE_OK);
	rc = store_index_scan(t, "gemeente", "a.devries", NULL, index_cb,
	    wmo_old);
	assert_int_equal(rc, STORE_OK);
	store_reader_end(t);
	store_reader_free(t);
	/* The purge is on record; the chain is whole. */
	verify_ok(f, UINT64_MAX);
	/* Again: nothing. */
	assert_int_equal(run(f, 1, NOW, &r), 0);
	assert_int_equal(r.rr_purged, 0);
}

/*
 * A store from before the senders' copies were indexed by household: a
 * dry run on it (read-only) says it cannot count them; the purge, which
 * opens it read-write (and so indexes them), removes them.
 */
static void
test_household_purge_old_store(void **state)
{
	struct fx *f = *state;
	struct retention_result r;
	struct principal senzer;
	struct stxn *t;
	char old[33], young[33], err[512];
	int all, about;

	who_set(&senzer, "senzer", "m.vandijk",
	    EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	hh_new(f, "wmo", NOW - 16 * YEAR_US, old);
	hh_new(f, "wmo", NOW - 14 * YEAR_US, young);
	sent_add(f, &senzer, 1, old, "zorgen over de huur");
	sent_add(f, &senzer, 2, young, "zorgen over de buren");
	sent_add(f, &senzer, 3, old, "nog een zorg");
	store_close(f->st);
	make_pre_sent_hh(f->env);

	assert_int_equal(testkey_open(&f->st, f->env, 0, 0, 1, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(run(f, 0, NOW, &r), 0);
	assert_int_equal(r.rr_due, 1);
	assert_int_equal(r.rr_sent_unknown, 1);
	store_close(f->st);

	assert_int_equal(testkey_open(&f->st, f->env, 64u << 20, 0, 0, 0, err,
	    sizeof(err)), 0);
	/* An index not done (its build failed at open): nothing purged. */
	assert_int_equal(store_write_begin(f->st, &t), STORE_OK);
	assert_int_equal(store_raw_del(t, "meta", "sent_hh", 7), STORE_OK);
	assert_int_equal(store_commit(t), STORE_OK);
	assert_int_equal(run(f, 1, NOW, &r), -1);
	assert_int_equal(r.rr_purged, 0);
	assert_true(hh_exists(f, old));
	assert_int_equal(store_sent_index(f->st, 0), STORE_OK);

	assert_int_equal(run(f, 0, NOW, &r), 0);
	assert_int_equal(r.rr_sent_unknown, 0);
	assert_int_equal(r.rr_sent, 2);
	assert_int_equal(run(f, 1, NOW, &r), 0);
	assert_int_equal(r.rr_purged, 1);
	assert_int_equal(r.rr_sent, 2);
	sent_of(f, &senzer, old, &all, &about);
	assert_int_equal(about, 0);
	assert_int_equal(all, 1);
	verify_ok(f, UINT64_MAX);
}

/* ------------------------------------------------------------- anchor */

static void
test_anchor_text(void **state)
{
	struct audit_head h, g;
	char buf[ANCHOR_TEXT_MAX];
	size_t i;

	(void)state;
	h.ah_seq = 18446744073709551615ULL;
	for (i = 0; i < AUDIT_HASH_LEN; i++)
		h.ah_hash[i] = (uint8_t)(i * 7 + 1);
	anchor_format(&h, buf, sizeof(buf));
	assert_int_equal(anchor_parse(buf, &g), 0);
	assert_int_equal(g.ah_seq, h.ah_seq);
	assert_memory_equal(g.ah_hash, h.ah_hash, AUDIT_HASH_LEN);
	assert_int_equal(anchor_parse(" 12:0000000000000000000000000000000000"
	    "000000000000000000000000000000\n", &g), 0);
	assert_int_equal(g.ah_seq, 12);
	assert_int_equal(anchor_parse("12:00", &g), -1);
	assert_int_equal(anchor_parse(":00000000000000000000000000000000000"
	    "00000000000000000000000000000", &g), -1);
	assert_int_equal(anchor_parse("x:0000000000000000000000000000000000"
	    "000000000000000000000000000000", &g), -1);
	assert_int_equal(anchor_parse("12:0000000000000000000000000000000000"
	    "000000000000000000000000000000 junk", &g), -1);
	assert_int_equal(anchor_parse("12:g000000000000000000000000000000000"
	    "000000000000000000000000000000", &g), -1);
}

static void
test_anchor_file_and_compare(void **state)
{
	struct fx *f = *state;
	struct audit_head h3, h5, got, sh;
	char path[400], err[512], msg[512];
	struct stxn *t;
	int present, i;

	snprintf(path, sizeof(path), "%s/audit.head", f->dir);
	assert_int_equal(anchor_read(path, &got, &present, err, sizeof(err)),
	    0);
	assert_int_equal(present, 0);
	for (i = 0; i < 3; i++)
		rec_add(f, NOW, NULL);
	h3 = f->head;
	rec_add(f, NOW, NULL);
	rec_add(f, NOW, NULL);
	h5 = f->head;
	assert_int_equal(anchor_write(path, &h3, err, sizeof(err)), 0);
	assert_int_equal(anchor_read(path, &got, &present, err, sizeof(err)),
	    1);
	assert_int_equal(got.ah_seq, 3);
	assert_memory_equal(got.ah_hash, h3.ah_hash, AUDIT_HASH_LEN);
	assert_non_null(t = store_reader_new(f->st));
	assert_int_equal(store_reader_begin(t), STORE_OK);
	/* Behind the store: fine; the same head: fine. */
	assert_int_equal(anchor_compare(t, &h3, &sh, msg, sizeof(msg)), 0);
	assert_int_equal(sh.ah_seq, 5);
	assert_int_equal(anchor_compare(t, &h5, &sh, msg, sizeof(msg)), 0);
	/* Ahead of the store: rolled back. */
	got = h5;
	got.ah_seq = 6;
	assert_int_equal(anchor_compare(t, &got, &sh, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "behind"));
	/* Another hash at a seq the store has: another chain. */
	got = h3;
	got.ah_hash[0] ^= 1;
	assert_int_equal(anchor_compare(t, &got, &sh, msg, sizeof(msg)), 2);
	store_reader_end(t);
	store_reader_free(t);
	/* Start-up: a file behind is rewritten, one ahead refused. */
	assert_int_equal(anchor_startup(f->st, path, 0, err, sizeof(err)), 0);
	assert_int_equal(anchor_read(path, &got, &present, err, sizeof(err)),
	    1);
	assert_int_equal(got.ah_seq, 5);
	got.ah_seq = 9;
	assert_int_equal(anchor_write(path, &got, err, sizeof(err)), 0);
	assert_int_equal(anchor_startup(f->st, path, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "behind the head file"));
	assert_non_null(strstr(err, "--accept-rollback"));
	assert_int_equal(anchor_startup(f->st, path, 1, err, sizeof(err)), 0);
	assert_int_equal(anchor_read(path, &got, &present, err, sizeof(err)),
	    1);
	assert_int_equal(got.ah_seq, 5);
	/* A file that is not a head is refused, not taken for none. */
	{
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		fputs("garbage\n", fp);
		fclose(fp);
	}
	assert_int_equal(anchor_startup(f->st, path, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a head"));
}

/* The thread: committed heads reach the file, the last one at stop. */
static void
test_anchor_thread(void **state)
{
	struct fx *f = *state;
	struct audit_head got;
	struct anchor *an;
	char path[400], err[512];
	int present, i;

	snprintf(path, sizeof(path), "%s/audit.head", f->dir);
	assert_int_equal(anchor_startup(f->st, path, 0, err, sizeof(err)), 0);
	assert_non_null(an = anchor_start(f->st, path, err, sizeof(err)));
	for (i = 0; i < 5; i++) {
		rec_add(f, NOW, NULL);
		anchor_committed(&f->head, an);
	}
	anchor_stop(an);
	assert_int_equal(anchor_read(path, &got, &present, err, sizeof(err)),
	    1);
	assert_int_equal(got.ah_seq, 5);
	assert_memory_equal(got.ah_hash, f->head.ah_hash, AUDIT_HASH_LEN);
}

/*
 * Commits in the anchor's interval wake it no more (each used to, and the
 * writer paid a wake-up per commit): the head after the interval is the
 * latest one all the same.
 */
static void
test_anchor_interval_quiet(void **state)
{
	struct fx *f = *state;
	struct audit_head got;
	struct anchor *an;
	char path[400], err[512];
	uint64_t woke;
	int present, i;

	snprintf(path, sizeof(path), "%s/audit.head", f->dir);
	assert_int_equal(anchor_startup(f->st, path, 0, err, sizeof(err)), 0);
	assert_non_null(an = anchor_start(f->st, path, err, sizeof(err)));
	rec_add(f, NOW, NULL);
	anchor_committed(&f->head, an);
	/* The first head is written at once, then the interval begins. */
	for (i = 0; i < 500; i++) {
		assert_int_equal(anchor_read(path, &got, &present, err,
		    sizeof(err)), 1);
		if (got.ah_seq == 1)
			break;
		usleep(10000);
	}
	assert_int_equal(got.ah_seq, 1);
	woke = anchor_wakeups(an);
	for (i = 0; i < 40; i++) {
		rec_add(f, NOW, NULL);
		anchor_committed(&f->head, an);
		usleep(1000);
	}
	/* 40 commits in (at most) the interval: not one wake-up. */
	assert_int_equal(anchor_wakeups(an), woke);
	for (i = 0; i < 500; i++) {
		assert_int_equal(anchor_read(path, &got, &present, err,
		    sizeof(err)), 1);
		if (got.ah_seq == 41)
			break;
		usleep(10000);
	}
	assert_int_equal(got.ah_seq, 41);
	assert_memory_equal(got.ah_hash, f->head.ah_hash, AUDIT_HASH_LEN);
	anchor_stop(an);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_years),
		cmocka_unit_test_setup_teardown(test_audit_purge, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit_purge_indexes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit_purge_batches, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit_minimum, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verify_base, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_household_purge, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_household_purge_old_store,
		    setup, teardown),
		cmocka_unit_test(test_anchor_text),
		cmocka_unit_test_setup_teardown(test_anchor_file_and_compare,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_anchor_interval_quiet,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_anchor_thread, setup,
		    teardown),
	};

	log_init(0, "test_retention");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
