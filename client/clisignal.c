/* clisignal: listing signals (see clisignal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cliout.h"
#include "clireq.h"
#include "clirun.h"
#include "clisignal.h"
#include "pbjson.h"

/* Signals gathered over pages; they live in the pages' responses. */
struct siglist {
	EpResponse	**sl_pages;
	size_t		  sl_npages;
	EpSignal	**sl_sigs;
	size_t		  sl_n;
};

static void
siglist_free(struct ep_client *cl, struct siglist *sl)
{
	size_t i;

	for (i = 0; i < sl->sl_npages; i++)
		ep_client_response_free(cl, sl->sl_pages[i]);
	free(sl->sl_pages);
	free(sl->sl_sigs);
	memset(sl, 0, sizeof(*sl));
}

/* Keeps one page (taking resp) and its signals. */
static int
siglist_add(struct siglist *sl, EpResponse *resp)
{
	const Eenplan__V1__ListSignalsResponse *ls = resp->list_signals;
	EpResponse **np;
	EpSignal **ns;
	size_t i;

	if ((np = reallocarray(sl->sl_pages, sl->sl_npages + 1,
	    sizeof(*np))) == NULL)
		return -1;
	sl->sl_pages = np;
	if ((ns = reallocarray(sl->sl_sigs, sl->sl_n + ls->n_signals + 1,
	    sizeof(*ns))) == NULL)
		return -1;
	sl->sl_sigs = ns;
	sl->sl_pages[sl->sl_npages++] = resp;
	for (i = 0; i < ls->n_signals; i++)
		if (ls->signals[i] != NULL)
			sl->sl_sigs[sl->sl_n++] = ls->signals[i];
	return 0;
}

/* Every page of ListSignals for hh ("": the caller's own) into sl. */
static int
signals_all(struct ep_client *cl, char *hh, struct siglist *sl)
{
	struct clireq r;
	EpResponse *resp = NULL;
	uint64_t after = 0, next;
	size_t pages = 0;
	int rc;

	for (;;) {
		clireq_list_signals(&r, hh, after);
		if ((rc = clirun_call(cl, &r.r_req,
		    EENPLAN__V1__RESPONSE__BODY_LIST_SIGNALS, &resp)) !=
		    EXIT_DONE) {
			ep_client_response_free(cl, resp);
			return rc;
		}
		next = resp->list_signals->next;
		if (siglist_add(sl, resp) == -1) {
			ep_client_response_free(cl, resp);
			return clirun_oom();
		}
		if (next == 0)
			return EXIT_DONE;
		if (next <= after || ++pages >= CLIRUN_MAX_PAGES)
			return clirun_protocol_error("the signals do not page "
			    "forward");
		after = next;
	}
}

/* The households the caller directs (access manage), every page. */
static int
directed(struct ep_client *cl, char ***ids, size_t *n,
    struct siglist *keep)
{
	const Eenplan__V1__ListHouseholdsResponse *lh;
	struct clireq r;
	EpResponse *resp = NULL, **np;
	char *token = NULL, **v;
	size_t i, pages = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	for (;;) {
		clireq_households_page(&r, token);
		if ((rc = clirun_call(cl, &r.r_req,
		    EENPLAN__V1__RESPONSE__BODY_LIST_HOUSEHOLDS, &resp)) !=
		    EXIT_DONE) {
			ep_client_response_free(cl, resp);
			return rc;
		}
		lh = resp->list_households;
		/* The page stays alive as long as the ids pointing into it. */
		if ((np = reallocarray(keep->sl_pages, keep->sl_npages + 1,
		    sizeof(*np))) == NULL) {
			ep_client_response_free(cl, resp);
			return clirun_oom();
		}
		keep->sl_pages = np;
		keep->sl_pages[keep->sl_npages++] = resp;
		if ((v = reallocarray(*ids, *n + lh->n_households + 1,
		    sizeof(*v))) == NULL)
			return clirun_oom();
		*ids = v;
		for (i = 0; i < lh->n_households; i++)
			if (lh->households[i] != NULL &&
			    lh->households[i]->access ==
			    EENPLAN__V1__ACCESS__ACCESS_MANAGE)
				(*ids)[(*n)++] = lh->households[i]->household_id;
		token = lh->next_page_token;
		if (token == NULL || token[0] == '\0')
			return EXIT_DONE;
		if (++pages >= CLIRUN_MAX_PAGES)
			return clirun_protocol_error("the households do not "
			    "page forward");
	}
}

static json_t *
siglist_json(const struct siglist *sl)
{
	json_t *arr;
	size_t i;

	if ((arr = json_array()) == NULL)
		return NULL;
	for (i = 0; i < sl->sl_n; i++)
		if (json_array_append_new(arr,
		    pbjson_message(&sl->sl_sigs[i]->base)) == -1) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

static void
siglist_text(FILE *f, const struct siglist *sl, int with_household)
{
	size_t i;

	if (sl->sl_n == 0)
		fprintf(f, "  none\n");
	for (i = 0; i < sl->sl_n; i++)
		cliout_signal(f, sl->sl_sigs[i], with_household);
}

static int
one_household(struct ep_client *cl, struct cliopt *o)
{
	struct siglist sl;
	json_t *doc, *arr;
	int rc;

	memset(&sl, 0, sizeof(sl));
	if ((rc = signals_all(cl, o->o_hh, &sl)) != EXIT_DONE)
		goto out;
	if (o->o_json) {
		if ((doc = json_object()) == NULL ||
		    (arr = siglist_json(&sl)) == NULL) {
			json_decref(doc);
			rc = clirun_oom();
			goto out;
		}
		json_object_set_new(doc, "household_id", json_string(o->o_hh));
		json_object_set_new(doc, "signals", arr);
		rc = clirun_json_dump(stdout, doc) == 0 ? EXIT_DONE :
		    EXIT_REFUSED;
		json_decref(doc);
		goto out;
	}
	printf("signals for household %s:\n", o->o_hh);
	siglist_text(stdout, &sl, 0);
out:
	siglist_free(cl, &sl);
	return rc;
}

static int
every_household(struct ep_client *cl, struct cliopt *o)
{
	struct siglist sent, got, keep;
	json_t *doc, *a, *b;
	char **ids = NULL;
	size_t i, n = 0;
	int rc;

	memset(&sent, 0, sizeof(sent));
	memset(&got, 0, sizeof(got));
	memset(&keep, 0, sizeof(keep));
	if ((rc = signals_all(cl, "", &sent)) != EXIT_DONE ||
	    (rc = directed(cl, &ids, &n, &keep)) != EXIT_DONE)
		goto out;
	for (i = 0; i < n; i++)
		if ((rc = signals_all(cl, ids[i], &got)) != EXIT_DONE)
			goto out;
	if (o->o_json) {
		doc = json_object();
		a = siglist_json(&got);
		b = siglist_json(&sent);
		if (doc == NULL || a == NULL || b == NULL) {
			json_decref(doc);
			json_decref(a);
			json_decref(b);
			rc = clirun_oom();
			goto out;
		}
		json_object_set_new(doc, "received", a);
		json_object_set_new(doc, "sent", b);
		rc = clirun_json_dump(stdout, doc) == 0 ? EXIT_DONE :
		    EXIT_REFUSED;
		json_decref(doc);
		goto out;
	}
	printf("signals for the households you direct (%zu):\n", n);
	siglist_text(stdout, &got, 1);
	printf("signals you sent:\n");
	siglist_text(stdout, &sent, 1);
out:
	free(ids);
	siglist_free(cl, &sent);
	siglist_free(cl, &got);
	siglist_free(cl, &keep);
	return rc;
}

int
clisignal_list(struct ep_client *cl, struct cliopt *o)
{
	if (o->o_hh[0] != '\0')
		return one_household(cl, o);
	return every_household(cl, o);
}
