/* clirun: running eenplan subcommands over a connection (see clirun.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clicmd.h"
#include "cliout.h"
#include "clirun.h"
#include "clisync.h"
#include "pbjson.h"

int64_t
clirun_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
clirun_refused(const EpResponse *resp)
{
	const char *msg = ep_client_status_message(resp);

	fprintf(stderr, "eenplan: %s: ", wire_code_name(ep_client_status(resp)));
	cliout_text(stderr, msg[0] ? msg : "refused by the server", " ");
	fputc('\n', stderr);
	return EXIT_REFUSED;
}

int
clirun_protocol_error(const char *what)
{
	fprintf(stderr, "eenplan: protocol error: %s\n", what);
	return EXIT_CONN;
}

int
clirun_oom(void)
{
	fprintf(stderr, "eenplan: out of memory\n");
	return EXIT_REFUSED;
}

int
clirun_call(struct ep_client *cl, EpRequest *req, int want, EpResponse **resp)
{
	char err[512];

	*resp = NULL;
	if (ep_client_call(cl, req, resp, err, sizeof(err)) == -1) {
		fprintf(stderr, "eenplan: %s\n", err);
		return EXIT_CONN;
	}
	if (ep_client_status(*resp) != EENPLAN__V1__CODE__OK)
		return clirun_refused(*resp);
	if ((int)(*resp)->body_case != want ||
	    pbjson_oneof_message(&(*resp)->base) == NULL)
		return clirun_protocol_error("the answer does not fit the "
		    "request");
	return EXIT_DONE;
}

int
clirun_json_dump(FILE *f, const json_t *j)
{
	if (j == NULL || json_dumpf(j, f, JSON_INDENT(2)) == -1 ||
	    fputc('\n', f) == EOF)
		return -1;
	return 0;
}

int
clirun_simple(struct ep_client *cl, struct cliopt *o)
{
	struct clireq r;
	EpResponse *resp = NULL;
	int rc;

	clireq_build(o, &r);
	if ((rc = clirun_call(cl, &r.r_req, o->o_def->cc_body, &resp)) !=
	    EXIT_DONE)
		goto out;
	if (o->o_json)
		rc = cliout_json(stdout, &resp->base) == 0 ? EXIT_DONE :
		    EXIT_REFUSED;
	else
		rc = o->o_def->cc_print(stdout, o, resp, clirun_now()) == 0 ?
		    EXIT_DONE : clirun_protocol_error("the answer is "
		    "incomplete");
out:
	ep_client_response_free(cl, resp);
	return rc;
}

/* ------------------------------------------------------------ history */

/*
 * A page of the history: a scoped reader may be shown nothing of the
 * versions a page looked at; the page's cursor (next_after_version) moves
 * on anyway, and this follows it until there is something to show or the
 * end.
 */
int
clirun_history(struct ep_client *cl, struct cliopt *o)
{
	Eenplan__V1__GetHistoryResponse *h;
	struct clireq r;
	EpResponse *resp = NULL;
	size_t pages = 0;
	int rc;

	clireq_build(o, &r);
	for (;;) {
		if ((rc = clirun_call(cl, &r.r_req,
		    EENPLAN__V1__RESPONSE__BODY_GET_HISTORY, &resp)) !=
		    EXIT_DONE)
			goto out;
		h = resp->get_history;
		if (h->n_entries > 0 || !h->more)
			break;
		if (h->next_after_version <= r.r_history.after_version ||
		    ++pages >= CLIRUN_MAX_PAGES) {
			rc = clirun_protocol_error("the history does not page "
			    "forward");
			goto out;
		}
		r.r_history.after_version = h->next_after_version;
		ep_client_response_free(cl, resp);
		resp = NULL;
	}
	if (o->o_json)
		rc = cliout_json(stdout, &resp->base) == 0 ? EXIT_DONE :
		    EXIT_REFUSED;
	else
		rc = cliout_history(stdout, o, resp, clirun_now()) == 0 ?
		    EXIT_DONE : EXIT_REFUSED;
out:
	ep_client_response_free(cl, resp);
	return rc;
}

/* ------------------------------------------------------------ audit */

int
clirun_audit_collect(struct ep_client *cl, struct clireq *r, int all,
    struct clirun_log *log)
{
	EpResponse *resp = NULL, **np;
	EpAuditRecord **nr;
	Eenplan__V1__QueryAuditResponse *qa;
	size_t i;
	int rc;

	memset(log, 0, sizeof(*log));
	for (;;) {
		rc = clirun_call(cl, &r->r_req,
		    EENPLAN__V1__RESPONSE__BODY_QUERY_AUDIT, &resp);
		log->l_code = resp != NULL ? ep_client_status(resp) : -1;
		if (rc != EXIT_DONE)
			goto out;
		qa = resp->query_audit;
		if ((np = reallocarray(log->l_pages, log->l_npages + 1,
		    sizeof(*np))) == NULL) {
			rc = clirun_oom();
			goto out;
		}
		log->l_pages = np;
		if ((nr = reallocarray(log->l_recs, log->l_nrecs +
		    qa->n_records + 1, sizeof(*nr))) == NULL) {
			rc = clirun_oom();
			goto out;
		}
		log->l_recs = nr;
		log->l_pages[log->l_npages++] = resp;
		resp = NULL;
		for (i = 0; i < qa->n_records; i++)
			log->l_recs[log->l_nrecs++] = qa->records[i];
		log->l_next = qa->next_after_seq;
		if (!all || log->l_next == 0)
			break;
		if (log->l_next <= r->r_audit.after_seq ||
		    log->l_npages >= CLIRUN_MAX_PAGES) {
			rc = clirun_protocol_error("the access log does not "
			    "page forward");
			goto out;
		}
		r->r_audit.after_seq = log->l_next;
	}
out:
	ep_client_response_free(cl, resp);
	return rc;
}

void
clirun_log_free(struct ep_client *cl, struct clirun_log *log)
{
	size_t i;

	for (i = 0; i < log->l_npages; i++)
		ep_client_response_free(cl, log->l_pages[i]);
	free(log->l_pages);
	free(log->l_recs);
	memset(log, 0, sizeof(*log));
}

static json_t *
log_json(const struct clirun_log *log)
{
	json_t *arr;
	size_t i;

	if ((arr = json_array()) == NULL)
		return NULL;
	for (i = 0; i < log->l_nrecs; i++)
		if (json_array_append_new(arr,
		    pbjson_message(&log->l_recs[i]->base)) == -1) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

int
clirun_audit(struct ep_client *cl, struct cliopt *o)
{
	struct clirun_log log;
	struct clireq r;
	json_t *out, *arr;
	int rc;

	clireq_build(o, &r);
	if ((rc = clirun_audit_collect(cl, &r, o->o_all_pages, &log)) !=
	    EXIT_DONE)
		goto out;
	if (o->o_json) {
		if ((out = json_object()) == NULL ||
		    (arr = log_json(&log)) == NULL) {
			json_decref(out);
			rc = clirun_oom();
			goto out;
		}
		json_object_set_new(out, "records", arr);
		json_object_set_new(out, "next_after_seq",
		    json_integer((json_int_t)log.l_next));
		clirun_json_dump(stdout, out);
		json_decref(out);
		goto out;
	}
	cliout_audit(stdout, log.l_recs, log.l_nrecs, o->o_org);
	if (log.l_next != 0)
		printf("more records: add --all-pages\n");
out:
	clirun_log_free(cl, &log);
	return rc;
}

/* ------------------------------------------------------------ afschrift */

static int
history_pages(struct ep_client *cl, char *hh, json_t *entries)
{
	Eenplan__V1__GetHistoryResponse *h;
	struct clireq r;
	EpResponse *resp = NULL;
	size_t i, pages = 0;
	uint64_t last;
	int rc;

	clireq_history_after(&r, hh, 0);
	for (;;) {
		if ((rc = clirun_call(cl, &r.r_req,
		    EENPLAN__V1__RESPONSE__BODY_GET_HISTORY, &resp)) !=
		    EXIT_DONE)
			break;
		h = resp->get_history;
		for (i = 0; i < h->n_entries; i++)
			json_array_append_new(entries,
			    pbjson_message(&h->entries[i]->base));
		if (!h->more)
			break;
		/* The page's cursor; the last entry's version from older servers. */
		last = h->next_after_version != 0 ? h->next_after_version :
		    h->n_entries ? h->entries[h->n_entries - 1]->version : 0;
		if (last <= r.r_history.after_version ||
		    ++pages >= CLIRUN_MAX_PAGES) {
			rc = clirun_protocol_error("the history does not page "
			    "forward");
			break;
		}
		r.r_history.after_version = last;
		ep_client_response_free(cl, resp);
		resp = NULL;
	}
	ep_client_response_free(cl, resp);
	return rc;
}

static int
afschrift_collect(struct ep_client *cl, struct cliopt *o, json_t *doc)
{
	struct clirun_log log;
	struct clireq r;
	EpResponse *resp = NULL;
	json_t *arr;
	size_t i;
	int rc;

	memset(&log, 0, sizeof(log));
	clireq_plan_version(&r, o->o_hh, 0);
	if ((rc = clirun_call(cl, &r.r_req,
	    EENPLAN__V1__RESPONSE__BODY_GET_PLAN, &resp)) != EXIT_DONE)
		goto out;
	json_object_set_new(doc, "plan", pbjson_message(&resp->get_plan->base));
	ep_client_response_free(cl, resp);
	resp = NULL;

	clireq_consent_all(&r, o->o_hh);
	if ((rc = clirun_call(cl, &r.r_req,
	    EENPLAN__V1__RESPONSE__BODY_LIST_CONSENT, &resp)) != EXIT_DONE)
		goto out;
	arr = json_array();
	for (i = 0; i < resp->list_consent->n_grants; i++)
		json_array_append_new(arr,
		    pbjson_message(&resp->list_consent->grants[i]->base));
	json_object_set_new(doc, "consent", arr);

	arr = json_array();
	json_object_set_new(doc, "history", arr);
	if ((rc = history_pages(cl, o->o_hh, arr)) != EXIT_DONE)
		goto out;

	clireq_audit_household(&r, o->o_hh);	/* the whole access log */
	if ((rc = clirun_audit_collect(cl, &r, 1, &log)) != EXIT_DONE)
		goto out;
	if ((arr = log_json(&log)) == NULL) {
		rc = clirun_oom();
		goto out;
	}
	json_object_set_new(doc, "access_log", arr);
out:
	clirun_log_free(cl, &log);
	ep_client_response_free(cl, resp);
	return rc;
}

static int
dump_json(FILE *f, void *arg)
{
	return clirun_json_dump(f, arg);
}

int
clirun_write(const char *path, int (*fn)(FILE *, void *), void *arg)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd = -1;

	if (strcmp(path, "-") == 0)
		return fn(stdout, arg) == 0 ? EXIT_DONE : EXIT_REFUSED;
	if (asprintf(&tmp, "%s.XXXXXX", path) == -1) {
		tmp = NULL;
		goto fail;
	}
	if ((fd = mkstemp(tmp)) == -1 || (f = fdopen(fd, "w")) == NULL)
		goto fail;
	fd = -1;
	if (fn(f, arg) == -1 || fflush(f) == EOF || fsync(fileno(f)) == -1)
		goto fail;
	if (fclose(f) == EOF) {
		f = NULL;
		goto fail;
	}
	f = NULL;
	if (rename(tmp, path) == -1)
		goto fail;
	free(tmp);
	return EXIT_DONE;
fail:
	fprintf(stderr, "eenplan: cannot write %s: %s\n", path,
	    strerror(errno));
	if (f != NULL)
		fclose(f);
	if (fd != -1)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	return EXIT_REFUSED;
}

int
clirun_afschrift(struct ep_client *cl, struct cliopt *o)
{
	char made[40];
	json_t *doc;
	int rc;

	if ((doc = json_object()) == NULL)
		return clirun_oom();
	json_object_set_new(doc, "format", json_string("eenplan-afschrift/1"));
	json_object_set_new(doc, "description", json_string(
	    "Afschrift van het integraal ondersteuningsplan van dit "
	    "huishouden, met alle toestemmingen, de volledige geschiedenis en "
	    "het volledige toegangslogboek (Wabvpz art. 15d/15e)."));
	json_object_set_new(doc, "household_id", json_string(o->o_hh));
	if (pbjson_time_utc(clirun_now(), made, sizeof(made)) == 0)
		json_object_set_new(doc, "made_at_utc", json_string(made));
	if ((rc = afschrift_collect(cl, o, doc)) != EXIT_DONE)
		goto out;
	if (o->o_output == NULL || strcmp(o->o_output, "-") == 0)
		rc = clirun_write("-", dump_json, doc);
	else if ((rc = clirun_write(o->o_output, dump_json, doc)) == EXIT_DONE)
		printf("afschrift of household %s written to %s (%zu history "
		    "entries, %zu access log records)\n", o->o_hh, o->o_output,
		    json_array_size(json_object_get(doc, "history")),
		    json_array_size(json_object_get(doc, "access_log")));
out:
	json_decref(doc);
	return rc;
}

/* ------------------------------------------------------------ changes */

/* The table's row owns the connection: --follow reconnects (clisync). */
int
clirun_changes(struct ep_client *cl, struct cliopt *o)
{
	int rc;

	if (o->o_follow)
		return clisync_follow(cl, o);
	rc = clirun_simple(cl, o);
	ep_client_close(cl);
	return rc;
}
