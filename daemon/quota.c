/* quota: per-principal write buckets (see quota.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota.h"

#define QUOTA_SLOTS	4096	/* open addressing; a full bucket may be reused */
#define QUOTA_KEY	(PRINCIPAL_ORG_MAX + PRINCIPAL_SUBJECT_MAX)

struct quota_slot {
	char		qs_key[QUOTA_KEY];	/* "org\0subject"; [0] == 0: free */
	double		qs_tokens;		/* bytes; may be negative (debt) */
	int64_t		qs_at;			/* refilled up to, microseconds */
};

struct quota {
	pthread_mutex_t		 q_mtx;
	double			 q_rate;	/* bytes per microsecond */
	double			 q_burst;
	struct quota_slot	 q_slots[QUOTA_SLOTS];
};

struct quota *
quota_new(uint64_t rate, uint64_t burst)
{
	struct quota *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	pthread_mutex_init(&q->q_mtx, NULL);
	q->q_rate = (double)rate / 1e6;
	q->q_burst = (double)burst;
	return q;
}

void
quota_free(struct quota *q)
{
	if (q == NULL)
		return;
	pthread_mutex_destroy(&q->q_mtx);
	free(q);
}

static void
quota_key(const struct principal *who, char key[QUOTA_KEY])
{
	size_t o = strnlen(who->pr_org, PRINCIPAL_ORG_MAX - 1);
	size_t s = strnlen(who->pr_subject, PRINCIPAL_SUBJECT_MAX - 1);

	memset(key, 0, QUOTA_KEY);
	memcpy(key, who->pr_org, o);
	memcpy(key + o + 1, who->pr_subject, s);
}

static uint32_t
quota_hash(const char key[QUOTA_KEY])
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < QUOTA_KEY; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	return h;
}

static void
quota_refill(struct quota *q, struct quota_slot *s, int64_t now)
{
	if (now > s->qs_at) {
		s->qs_tokens += (double)(now - s->qs_at) * q->q_rate;
		if (s->qs_tokens > q->q_burst)
			s->qs_tokens = q->q_burst;
		s->qs_at = now;
	}
}

/*
 * The slot of key, made when absent: a free one, else one whose bucket has
 * refilled to full (it remembers nothing a new one would not). NULL when
 * every slot holds a principal that is still in debt or refilling: then
 * nobody new is tracked, and that is the safe side (its writes pass).
 */
static struct quota_slot *
quota_slot(struct quota *q, const char key[QUOTA_KEY], int64_t now)
{
	uint32_t h = quota_hash(key), i;
	struct quota_slot *s, *reuse = NULL;

	for (i = 0; i < 64; i++) {
		s = &q->q_slots[(h + i) % QUOTA_SLOTS];
		if (s->qs_key[0] != '\0' &&
		    memcmp(s->qs_key, key, QUOTA_KEY) == 0)
			return s;
		if (s->qs_key[0] == '\0') {
			if (reuse == NULL)
				reuse = s;
			break;
		}
		quota_refill(q, s, now);
		if (reuse == NULL && s->qs_tokens >= q->q_burst)
			reuse = s;
	}
	if (reuse == NULL)
		return NULL;
	memcpy(reuse->qs_key, key, QUOTA_KEY);
	reuse->qs_tokens = q->q_burst;
	reuse->qs_at = now;
	return reuse;
}

int
quota_check(struct quota *q, const struct principal *who, int64_t now,
    uint64_t *retry_ms)
{
	char key[QUOTA_KEY];
	struct quota_slot *s;
	int rc = 0;

	*retry_ms = 0;
	if (q == NULL)
		return 0;
	quota_key(who, key);
	pthread_mutex_lock(&q->q_mtx);
	if ((s = quota_slot(q, key, now)) != NULL) {
		quota_refill(q, s, now);
		if (s->qs_tokens <= 0) {
			*retry_ms = (uint64_t)(-s->qs_tokens / q->q_rate / 1000) +
			    1;
			rc = -1;
		}
	}
	pthread_mutex_unlock(&q->q_mtx);
	return rc;
}

void
quota_charge(struct quota *q, const struct principal *who, uint64_t bytes,
    int64_t now)
{
	char key[QUOTA_KEY];
	struct quota_slot *s;

	if (q == NULL)
		return;
	quota_key(who, key);
	pthread_mutex_lock(&q->q_mtx);
	if ((s = quota_slot(q, key, now)) != NULL) {
		quota_refill(q, s, now);
		s->qs_tokens -= (double)bytes;
	}
	pthread_mutex_unlock(&q->q_mtx);
}
