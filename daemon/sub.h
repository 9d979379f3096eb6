/*
 * sub: the push subscriptions of one worker. A Subscribe call stays open:
 * its events go out on its connection as they commit (the writer's notify
 * wakes the worker), each round of them only after its audit record is
 * committed — a push reveals households like any read, and each of them
 * sees it in its access log. A subscriber that lets more than its buffer
 * pile up unsent is ended with RESOURCE_EXHAUSTED, naming the seq to resume
 * from; memory never grows without bound. Worker thread only.
 */
#ifndef EENPLAN_SUB_H
#define EENPLAN_SUB_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"

/* Events pushed per round and subscriber, then the next one's turn. */
#define SUB_ROUND_EVENTS	64

struct subs;

/* out_max: unsent bytes a subscriber may have before it is ended. */
struct subs *subs_new(size_t out_max);
/* Ends every subscription (the connections are closing). */
void	subs_free(struct subs *);
/* The Subscribe call ca becomes a subscription from since; takes ca. */
void	subs_add(struct subs *, struct call *ca, uint64_t since);
/*
 * Ends the subscription with request id of owner (its sink's cs_owner: the
 * connection of an Unsubscribe). 0, or -1 when there is none.
 */
int	subs_end(struct subs *, void *owner, uint64_t id);
/* The feed moved: every subscription not busy gets its next round. */
void	subs_pump(struct subs *);
/* Subscribers and their memory, for metrics and the measured figure. */
size_t	subs_count(const struct subs *);

#endif
