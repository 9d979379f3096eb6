/* feed: one receiver's view of the change feed (see feed.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "plan.h"
#include "util.h"


void
feed_reader_init(struct feed_reader *fr, const struct household_conf *hc,
    const struct principal *who)
{
	memset(fr, 0, sizeof(*fr));
	fr->fr_hc = hc;
	fr->fr_who = who;
}

void
feed_reader_clear(struct feed_reader *fr)
{
	size_t i;

	for (i = 0; i < FEED_CACHE; i++) {
		store_hh_free(fr->fr_cache[i].fs_rec);
		memset(&fr->fr_cache[i], 0, sizeof(fr->fr_cache[i]));
	}
}

/*
 * The consent state of hhid at gen (0: the household as it is now, for
 * events migrated from schema 1, which have none). Cached; the returned
 * record belongs to the cache. STORE_NOTFOUND: purged since.
 */
static int
feed_state(struct feed_reader *fr, struct stxn *t, const char *hhid,
    uint64_t gen, const EpsHousehold **out)
{
	struct feed_state *fs, *lru = &fr->fr_cache[0];
	EpsHousehold *rec;
	size_t i;
	int rc;

	*out = NULL;
	for (i = 0; i < FEED_CACHE; i++) {
		fs = &fr->fr_cache[i];
		if (fs->fs_rec != NULL && fs->fs_gen == gen &&
		    strcmp(fs->fs_hhid, hhid) == 0) {
			fs->fs_used = ++fr->fr_tick;
			*out = fs->fs_rec;
			return STORE_OK;
		}
		if (fs->fs_used < lru->fs_used)
			lru = fs;
	}
	rc = gen == 0 ? store_hh_get(t, hhid, &rec) :
	    store_cstate_get(t, hhid, gen, &rec);
	if (rc != STORE_OK)
		return rc;
	store_hh_free(lru->fs_rec);
	snprintf(lru->fs_hhid, sizeof(lru->fs_hhid), "%s", hhid);
	lru->fs_gen = gen;
	lru->fs_rec = rec;
	lru->fs_used = ++fr->fr_tick;
	*out = rec;
	return STORE_OK;
}

/* The receiver's standing under a consent state, at time at. */
static void
feed_decide(struct feed_reader *fr, const EpsHousehold *rec, int64_t at,
    struct consent_decision *d)
{
	struct consent_household ch;

	memset(&ch, 0, sizeof(ch));
	ch.ch_members = rec->members;
	ch.ch_nmembers = rec->n_members;
	ch.ch_regisseur = rec->regisseur;
	consent_evaluate(fr->fr_hc->hc_consent, fr->fr_who, &ch, rec->grants,
	    rec->n_grants, at, d);
}

static int
feed_reads(struct feed_reader *fr, const struct consent_decision *d)
{
	return consent_allows(fr->fr_hc->hc_consent, fr->fr_who, d,
	    CONSENT_OP_READ, 0, NULL);
}

static EpChangeEvent *
feed_event_new(const EpChangeEvent *src, int kind)
{
	EpChangeEvent *ev;

	if ((ev = malloc(sizeof(*ev))) == NULL)
		return NULL;
	eenplan__v1__change_event__init(ev);
	ev->seq = src->seq;
	ev->kind = kind;
	ev->version = src->version;
	ev->at = src->at;
	if ((ev->household_id = strdup(src->household_id)) == NULL) {
		free(ev);
		return NULL;
	}
	return ev;
}

/* The change of a version, as the receiver with decision d may read it. */
static int
feed_change(struct stxn *t, const EpChangeEvent *src,
    const struct consent_decision *d, EpChangeEvent *ev, int *hidden)
{
	EpsDelta *delta;
	EpHistoryEntry *e;
	int rc;

	*hidden = 0;
	if (src->version == 0)
		return STORE_OK;
	if ((rc = store_delta_get(t, src->household_id, src->version,
	    &delta)) != STORE_OK)
		return rc;
	e = plan_filter_history(delta->entry, d->cd_scope);
	if (e == NULL) {
		store_delta_free(delta);
		return STORE_ERR;
	}
	/* A change wholly outside the receiver's scope is no event for it. */
	if (delta->entry->n_mutations > 0 && e->n_mutations == 0)
		*hidden = 1;
	store_delta_free(delta);
	if (*hidden) {
		protobuf_c_message_free_unpacked(&e->base, NULL);
		return STORE_OK;
	}
	ev->change = e;
	return STORE_OK;
}

/*
 * The moment the state before src is judged at: src's own time, but for an
 * expiry (recorded by the sweep after the grant ran out) just before the
 * grant's end, when the receiver still read under it; for a start, just
 * before the grant's start, when it did not count yet.
 */
static int64_t
feed_before_at(const EpChangeEvent *src, const EpsHousehold *prev)
{
	size_t i;

	if (src->kind != KIND(CONSENT))
		return src->at;
	/* A start: before it, the grant did not count yet. */
	if (src->consent == EENPLAN__V1__CONSENT_CHANGE__CONSENT_STARTED) {
		for (i = 0; i < prev->n_grants; i++)
			if (prev->grants[i] != NULL &&
			    prev->grants[i]->id == src->grant_id &&
			    prev->grants[i]->valid_from > 0 &&
			    prev->grants[i]->valid_from <= src->at)
				return prev->grants[i]->valid_from - 1;
		return src->at;
	}
	if (src->consent != EENPLAN__V1__CONSENT_CHANGE__CONSENT_EXPIRED)
		return src->at;
	for (i = 0; i < prev->n_grants; i++)
		if (prev->grants[i] != NULL &&
		    prev->grants[i]->id == src->grant_id &&
		    prev->grants[i]->valid_until > 0 &&
		    prev->grants[i]->valid_until <= src->at)
			return prev->grants[i]->valid_until - 1;
	return src->at;
}

/* The event as the receiver may see it, or NULL (*out) for none. */
static int
feed_visible(struct feed_reader *fr, struct stxn *t, const EpChangeEvent *src,
    const struct consent_decision *d, int gained, EpChangeEvent **out)
{
	const struct consent_conf *cc = fr->fr_hc->hc_consent;
	EpChangeEvent *ev;
	int rc, hidden = 0;

	*out = NULL;
	switch (src->kind) {
	case KIND(CONSENT):
	case KIND(BREAK_GLASS):
		/*
		 * Who keeps the consent sees it; so does a receiver whose view
		 * it changes (lets in, widens or narrows).
		 */
		if (!gained && !consent_allows(cc, fr->fr_who, d,
		    CONSENT_OP_LIST_CONSENT, 0, NULL))
			return STORE_OK;
		break;
	case KIND(SIGNAL):
		/* The regisseur (the household sees it in GetPlan, ListSignals). */
		if (!d->cd_regisseur)
			return STORE_OK;
		break;
	default:
		break;
	}
	if ((ev = feed_event_new(src, src->kind)) == NULL)
		return STORE_ERR;
	if (src->actor != NULL &&
	    (ev->actor = (EpPrincipal *)wire_msg_dup(&src->actor->base)) ==
	    NULL)
		goto oom;
	switch (src->kind) {
	case KIND(CONSENT):
	case KIND(BREAK_GLASS):
		ev->grant_id = src->grant_id;
		ev->consent = src->consent;
		/* The plan's version would tell a scoped reader of other work. */
		if (d->cd_scope != CONSENT_SCOPE_ALL)
			ev->version = 0;
		break;
	case KIND(SIGNAL):
		if (src->signal != NULL && (ev->signal = (EpSignal *)
		    wire_msg_dup(&src->signal->base)) == NULL)
			goto oom;
		break;
	case KIND(CREATED):
	case KIND(PLAN):
	case KIND(ESCALATED):
	case KIND(CLOSED):
	case KIND(REGIE):
		if ((rc = feed_change(t, src, d, ev, &hidden)) != STORE_OK) {
			protobuf_c_message_free_unpacked(&ev->base, NULL);
			return rc;
		}
		if (hidden) {
			protobuf_c_message_free_unpacked(&ev->base, NULL);
			return STORE_OK;
		}
		break;
	default:
		break;
	}
	*out = ev;
	return STORE_OK;
oom:
	protobuf_c_message_free_unpacked(&ev->base, NULL);
	return STORE_ERR;
}

int
feed_view(struct feed_reader *fr, struct stxn *t, const EpsFeedEvent *fe,
    EpChangeEvent *out[2])
{
	const EpChangeEvent *src = fe->event;
	const EpsHousehold *now_rec, *prev_rec;
	struct consent_decision dnow, dprev;
	int rc, n = 0, reads, read_before, changed;

	out[0] = out[1] = NULL;
	if (src == NULL || !util_valid_household_id(src->household_id))
		return 0;
	rc = feed_state(fr, t, src->household_id, fe->gen, &now_rec);
	if (rc == STORE_NOTFOUND && fe->gen == 0)
		return 0;	/* a schema-1 event of a household purged since */
	if (rc != STORE_OK)
		return rc;
	feed_decide(fr, now_rec, src->at, &dnow);
	reads = feed_reads(fr, &dnow);
	read_before = reads;
	changed = 0;
	if (fe->prev_gen != 0 && fe->prev_gen != fe->gen) {
		if ((rc = feed_state(fr, t, src->household_id, fe->prev_gen,
		    &prev_rec)) != STORE_OK)
			return rc;
		feed_decide(fr, prev_rec, feed_before_at(src, prev_rec),
		    &dprev);
		read_before = feed_reads(fr, &dprev);
		changed = dprev.cd_scope != dnow.cd_scope ||
		    dprev.cd_access != dnow.cd_access;
	} else if (src->kind == KIND(CREATED))
		read_before = 0;
	/* This change took the receiver's access: its copy must go. */
	if (read_before && !reads) {
		if ((out[n] = feed_event_new(src, KIND(ACCESS_ENDED))) == NULL)
			return STORE_ERR;
		if (dprev.cd_scope != CONSENT_SCOPE_ALL || fe->prev_gen == 0 ||
		    fe->prev_gen == fe->gen)
			out[n]->version = 0;
		n++;
		return n;
	}
	if (!reads)
		return 0;
	if ((rc = feed_visible(fr, t, src, &dnow, !read_before || changed,
	    &out[n])) !=
	    STORE_OK) {
		if (n > 0)
			protobuf_c_message_free_unpacked(&out[0]->base, NULL);
		out[0] = NULL;
		return rc;
	}
	if (out[n] != NULL)
		n++;
	return n;
}
