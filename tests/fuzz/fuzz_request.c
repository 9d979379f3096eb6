/*
 * fuzz_request: one input = the body of a frame a client could send. It is
 * framed and deframed, decoded within a budget like the daemon does, and the
 * decoded request is driven through the pure plan and consent code that
 * handles it (intake, mutations on a populated plan under several callers,
 * grant checks, scope filters). Any crash, sanitizer report or leak is a bug.
 *
 * Built two ways: with clang -fsanitize=fuzzer (make fuzz) and, under gcc,
 * with -DFUZZ_REPLAY as a test that replays tests/fuzz/corpus/ and a fixed
 * number of deterministic mutations of it (make check).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "consent.h"
#include "plan.h"
#include "util.h"

/* The policy decides on a household's members and regisseur: a plan's here. */
static void
ev_plan(const struct consent_conf *cc, const struct principal *pr,
    const EpPlan *p, EpGrant *const *g, size_t n, int64_t now,
    struct consent_decision *d)
{
	struct consent_household ch;

	consent_household_of_plan(p, &ch);
	consent_evaluate(cc, pr, p != NULL ? &ch : NULL, g, n, now, d);
}

#define FUZZ_MAX_FRAME		(1u << 20)
#define FUZZ_BUDGET		(4u << 20)
#define FUZZ_NOW		INT64_C(1790000000000000)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct principal
fuzz_who(const char *org, const char *subject, int role)
{
	struct principal p;

	memset(&p, 0, sizeof(p));
	snprintf(p.pr_org, sizeof(p.pr_org), "%s", org);
	snprintf(p.pr_subject, sizeof(p.pr_subject), "%s", subject);
	p.pr_role = role;
	return p;
}

/* A plan with an item of each kind, so ids in the input can hit something. */
static EpPlan *
fuzz_plan(void)
{
	EpMember m = EENPLAN__V1__MEMBER__INIT, *mp = &m;
	EpPrincipal me = EENPLAN__V1__PRINCIPAL__INIT;
	EpMutation mu = EENPLAN__V1__MUTATION__INIT;
	Eenplan__V1__AddGoal g = EENPLAN__V1__ADD_GOAL__INIT;
	Eenplan__V1__AddAction a = EENPLAN__V1__ADD_ACTION__INIT;
	struct plan_error pe;
	EpPlan *p = NULL;
	uint32_t id;

	m.person_id = (char *)(uintptr_t)"henk.desmet";
	m.name = (char *)(uintptr_t)"Henk";
	me.org = (char *)(uintptr_t)"gemeente";
	me.subject = (char *)(uintptr_t)"a.devries";
	me.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	if (plan_new(&p, "0123456789abcdef0123456789abcdef", 1, &mp, 1, &me,
	    "F-1", FUZZ_NOW, &pe) != 0)
		abort();
	g.domain = EENPLAN__V1__DOMAIN__DOMAIN_FINANCIEN;
	g.text = (char *)(uintptr_t)"doel";
	mu.op_case = EENPLAN__V1__MUTATION__OP_ADD_GOAL;
	mu.add_goal = &g;
	if (plan_apply(p, &mu, &me, FUZZ_NOW, &id, &pe) != 0)
		abort();
	a.goal_id = id;
	a.text = (char *)(uintptr_t)"actie";
	a.owner_org = (char *)(uintptr_t)"lev";
	mu.op_case = EENPLAN__V1__MUTATION__OP_ADD_ACTION;
	mu.add_action = &a;
	if (plan_apply(p, &mu, &me, FUZZ_NOW, &id, &pe) != 0)
		abort();
	return p;
}

static void
fuzz_mutations(const EpMutation *const *muts, size_t n, EpGrant *const *grants,
    size_t ngrants)
{
	static const struct consent_conf cc = {
		.cc_citizens_org = "burgers",
		.cc_break_glass = 1,
		.cc_break_glass_window = INT64_C(14400000000),
		.cc_break_glass_reason_min = 20,
		.cc_break_glass_pause = INT64_C(14400000000),
	};
	struct principal who[3];
	struct consent_decision d;
	struct plan_error pe;
	enum consent_op op;
	const char *owner;
	EpPlan *p, *f;
	EpPrincipal ep = EENPLAN__V1__PRINCIPAL__INIT;
	uint32_t id;
	size_t i, k;
	int domain;

	who[0] = fuzz_who("gemeente", "a.devries", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	who[1] = fuzz_who("lev", "s.bakker", EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	who[2] = fuzz_who("burgers", "henk.desmet", EENPLAN__V1__ROLE__ROLE_CLIENT);
	for (k = 0; k < 3; k++) {
		p = fuzz_plan();
		ev_plan(&cc, &who[k], p, grants, ngrants, FUZZ_NOW, &d);
		ep.org = who[k].pr_org;
		ep.subject = who[k].pr_subject;
		ep.role = who[k].pr_role;
		for (i = 0; i < n && i < PLAN_MUTATIONS_MAX; i++) {
			if (plan_mutation_target(p, muts[i], &op, &domain,
			    &owner, &pe) != 0)
				continue;
			(void)consent_allows(&cc, &who[k], &d, op, domain, owner);
			(void)plan_mutation_domain(p, muts[i]);
			/* Refusals are expected; what matters is no harm. */
			if (plan_apply(p, muts[i], &ep, FUZZ_NOW, &id, &pe) != 0)
				continue;
		}
		if ((f = plan_filter(p, d.cd_scope)) != NULL)
			plan_free(f);
		plan_free(p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_budget wb;
	struct plan_error pe;
	struct consent_decision d;
	EpPrincipal me = EENPLAN__V1__PRINCIPAL__INIT;
	struct principal who = fuzz_who("burgers", "henk.desmet",
	    EENPLAN__V1__ROLE__ROLE_CLIENT);
	const uint8_t *body;
	uint8_t *frame;
	uint32_t len;
	EpRequest *req;
	EpPlan *p;
	char err[256];

	if (size > FUZZ_MAX_FRAME)
		return 0;
	/* Through the frame codec and back. */
	if ((frame = malloc(size + WIRE_HDR_LEN)) == NULL)
		return 0;
	wire_frame_header(frame, (uint32_t)size);
	memcpy(frame + WIRE_HDR_LEN, data, size);
	if (wire_frame_decode(frame, size + WIRE_HDR_LEN, FUZZ_MAX_FRAME, &body,
	    &len) != WIRE_FRAME_OK) {
		free(frame);
		return 0;
	}
	wire_budget_init(&wb, FUZZ_BUDGET);
	req = eenplan__v1__request__unpack(&wb.wb_alloc, len, body);
	free(frame);
	if (req == NULL) {
		if (wb.wb_used != 0)
			abort();	/* a failed decode must give all back */
		return 0;
	}
	me.org = (char *)(uintptr_t)"gemeente";
	me.subject = (char *)(uintptr_t)"a.devries";
	me.role = EENPLAN__V1__ROLE__ROLE_PROFESSIONAL;
	switch (req->body_case) {
	case EENPLAN__V1__REQUEST__BODY_CREATE_HOUSEHOLD:
		if (plan_new(&p, "0123456789abcdef0123456789abcdef",
		    req->create_household->area, req->create_household->members,
		    req->create_household->n_members, &me,
		    req->create_household->consent_reference, FUZZ_NOW,
		    &pe) == 0)
			plan_free(p);
		break;
	case EENPLAN__V1__REQUEST__BODY_MUTATE_PLAN:
		fuzz_mutations((const EpMutation *const *)
		    req->mutate_plan->mutations, req->mutate_plan->n_mutations,
		    NULL, 0);
		break;
	case EENPLAN__V1__REQUEST__BODY_GRANT_CONSENT:
		if (req->grant_consent->grant == NULL)
			break;
		memset(&d, 0, sizeof(d));
		d.cd_member = 1;
		(void)consent_check_grant(&who, &d, req->grant_consent->grant,
		    err, sizeof(err));
		fuzz_mutations(NULL, 0, &req->grant_consent->grant, 1);
		break;
	default:
		break;
	}
	protobuf_c_message_free_unpacked(&req->base, &wb.wb_alloc);
	if (wb.wb_used != 0)
		abort();	/* everything decoded was given back */
	return 0;
}

#ifdef FUZZ_REPLAY
#include <dirent.h>


/* xorshift: the same mutations on every run, so a failure reproduces. */
static uint64_t fuzz_rng = 0x9e3779b97f4a7c15u;

static uint64_t
fuzz_next(void)
{
	fuzz_rng ^= fuzz_rng << 13;
	fuzz_rng ^= fuzz_rng >> 7;
	fuzz_rng ^= fuzz_rng << 17;
	return fuzz_rng;
}

static size_t
fuzz_mutate(uint8_t *buf, size_t len, size_t cap)
{
	size_t pos;

	switch (fuzz_next() % 4) {
	case 0:		/* flip a bit */
		if (len > 0)
			buf[fuzz_next() % len] ^= (uint8_t)(1u << (fuzz_next() % 8));
		return len;
	case 1:		/* a random byte */
		if (len > 0)
			buf[fuzz_next() % len] = (uint8_t)fuzz_next();
		return len;
	case 2:		/* cut */
		return len > 0 ? fuzz_next() % len : 0;
	default:	/* insert a byte */
		if (len >= cap)
			return len;
		pos = len > 0 ? fuzz_next() % (len + 1) : 0;
		memmove(buf + pos + 1, buf + pos, len - pos);
		buf[pos] = (uint8_t)fuzz_next();
		return len + 1;
	}
}

static int
fuzz_file(const char *path, long rounds)
{
	uint8_t buf[65536], work[65536 + 64];
	size_t n, len;
	long r;
	int k;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, n);
	for (r = 0; r < rounds; r++) {
		memcpy(work, buf, n);
		len = n;
		for (k = 1 + (int)(fuzz_next() % 4); k > 0; k--)
			len = fuzz_mutate(work, len, sizeof(work));
		LLVMFuzzerTestOneInput(work, len);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char path[4096];
	struct dirent *de;
	long rounds = 2000, files = 0;
	DIR *dir;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR... (FUZZ_ROUNDS=N)\n",
		    argv[0]);
		return 2;
	}
	if (getenv("FUZZ_ROUNDS") != NULL)
		rounds = strtol(getenv("FUZZ_ROUNDS"), NULL, 10);
	for (i = 1; i < argc; i++) {
		if ((dir = opendir(argv[i])) == NULL) {
			fprintf(stderr, "%s: cannot open\n", argv[i]);
			return 1;
		}
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			if (fuzz_file(path, rounds) != 0) {
				fprintf(stderr, "%s: cannot read\n", path);
				closedir(dir);
				return 1;
			}
			files++;
		}
		closedir(dir);
	}
	if (files == 0) {
		fprintf(stderr, "no corpus files\n");
		return 1;
	}
	printf("fuzz_request: %ld corpus files replayed, %ld mutations of "
	    "each, no failure\n", files, rounds);
	return 0;
}
#endif
