/*
 * hist: a log-linear latency histogram (see bench.h) — constant time per
 * sample, fixed memory, percentiles read from the bucket counts.
 */
#include <string.h>

#include "bench.h"

static unsigned
hist_index(uint64_t v)
{
	unsigned e, shift;

	if (v < HIST_LINEAR)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);	/* >= 8 */
	shift = e - 7;				/* v >> shift is in 128..255 */
	if (shift > HIST_SHIFTS)
		return HIST_BUCKETS - 1;
	return HIST_LINEAR + (shift - 1) * HIST_SUB +
	    (unsigned)((v >> shift) - HIST_SUB);
}

/* The largest value that falls in bucket i. */
static uint64_t
hist_upper(unsigned i)
{
	unsigned shift;
	uint64_t m;

	if (i < HIST_LINEAR)
		return i;
	shift = (i - HIST_LINEAR) / HIST_SUB + 1;
	m = (i - HIST_LINEAR) % HIST_SUB + HIST_SUB;
	return ((m + 1) << shift) - 1;
}

void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

void
hist_add(struct hist *h, uint64_t ns)
{
	h->h_b[hist_index(ns)]++;
	h->h_count++;
	h->h_sum += ns;
	if (ns > h->h_max)
		h->h_max = ns;
}

uint64_t
hist_pct(const struct hist *h, double pct)
{
	uint64_t rank, seen = 0;
	unsigned i;
	double r;

	if (h->h_count == 0)
		return 0;
	r = pct / 100.0 * (double)h->h_count;
	rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->h_b[i];
		if (seen >= rank) {
			uint64_t u = hist_upper(i);

			return u < h->h_max ? u : h->h_max;
		}
	}
	return h->h_max;
}

void
hist_merge(struct hist *to, const struct hist *from)
{
	unsigned i;

	for (i = 0; i < HIST_BUCKETS; i++)
		to->h_b[i] += from->h_b[i];
	to->h_count += from->h_count;
	to->h_sum += from->h_sum;
	if (from->h_max > to->h_max)
		to->h_max = from->h_max;
}
