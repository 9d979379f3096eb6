/*
 * clisignal: `signals [HH]` — the signals (vroegsignalering) a caller may
 * see: one household's (all of them for its members and its regisseur, the
 * ones the caller sent for anyone else), or without HH the signals of every
 * household the caller directs as regisseur and the ones it sent.
 * (`signal send` is a plain one-request row of the table.)
 */
#ifndef EENPLAN_CLISIGNAL_H
#define EENPLAN_CLISIGNAL_H

#include "cliopt.h"
#include "eenplan_client.h"

int	clisignal_list(struct ep_client *cl, struct cliopt *o);

#endif
