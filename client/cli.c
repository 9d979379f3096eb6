/*
 * eenplan: the command-line client of eenpland. One subcommand per run;
 * exit 0 done, 1 refused by the server (or failed), 2 usage error,
 * 3 no connection or the connection failed. See `eenplan help`.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cliopt.h"
#include "cliout.h"
#include "eenplan_client.h"
#include "pbjson.h"

#define EXIT_DONE	0
#define EXIT_REFUSED	1
#define EXIT_USAGE	2
#define EXIT_CONN	3

#define MAX_PAGES	100000	/* a server that pages for ever is stopped here */

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
refused(const EpResponse *resp)
{
	const char *msg = ep_client_status_message(resp);

	fprintf(stderr, "eenplan: %s: ", wire_code_name(ep_client_status(resp)));
	cliout_text(stderr, msg[0] ? msg : "refused by the server", " ");
	fputc('\n', stderr);
	return EXIT_REFUSED;
}

static int
protocol_error(const char *what)
{
	fprintf(stderr, "eenplan: protocol error: %s\n", what);
	return EXIT_CONN;
}

static int
oom(void)
{
	fprintf(stderr, "eenplan: out of memory\n");
	return EXIT_REFUSED;
}

/* One request; EXIT_DONE with *resp holding an OK answer, else an exit code. */
static int
call(struct ep_client *cl, EpRequest *req, EpResponse **resp)
{
	char err[512];

	if (ep_client_call(cl, req, resp, err, sizeof(err)) == -1) {
		fprintf(stderr, "eenplan: %s\n", err);
		return EXIT_CONN;
	}
	if (ep_client_status(*resp) != EENPLAN__V1__CODE__OK)
		return refused(*resp);
	return EXIT_DONE;
}

static int
expect_body(const EpResponse *resp, Eenplan__V1__Response__BodyCase want)
{
	if (resp->body_case != want || pbjson_oneof_message(&resp->base) == NULL)
		return protocol_error("the answer does not fit the request");
	return EXIT_DONE;
}

static int
run_simple(struct ep_client *cl, struct cliopt *o)
{
	struct cliopt_req r;
	EpResponse *resp = NULL;
	int rc;

	cliopt_build(o, &r);
	if ((rc = call(cl, &r.r_req, &resp)) != EXIT_DONE)
		goto out;
	if (!cliout_body_ok(o, resp)) {
		rc = protocol_error("the answer does not fit the request");
		goto out;
	}
	if (o->o_json)
		rc = cliout_json(stdout, &resp->base) == 0 ? EXIT_DONE :
		    EXIT_REFUSED;
	else
		rc = cliout_response(stdout, o, resp, now_us()) == 0 ?
		    EXIT_DONE : protocol_error("the answer is incomplete");
out:
	ep_client_response_free(cl, resp);
	return rc;
}

/* ------------------------------------------------------------ paging */

/* Every page of QueryAudit from r's request, as JSON records. */
static int
audit_pages(struct ep_client *cl, struct cliopt_req *r, int all, json_t *recs,
    uint64_t *next)
{
	Eenplan__V1__QueryAuditResponse *qa;
	EpResponse *resp = NULL;
	size_t i, pages = 0;
	int rc;

	*next = 0;
	for (;;) {
		if ((rc = call(cl, &r->r_req, &resp)) != EXIT_DONE ||
		    (rc = expect_body(resp, EENPLAN__V1__RESPONSE__BODY_QUERY_AUDIT))
		    != EXIT_DONE)
			break;
		qa = resp->query_audit;
		for (i = 0; i < qa->n_records; i++)
			if (json_array_append_new(recs,
			    pbjson_message(&qa->records[i]->base)) == -1) {
				rc = oom();
				goto out;
			}
		*next = qa->next_after_seq;
		if (!all || qa->next_after_seq == 0)
			break;
		if (qa->next_after_seq <= r->r_audit.after_seq ||
		    ++pages >= MAX_PAGES) {
			rc = protocol_error("the access log does not page "
			    "forward");
			break;
		}
		r->r_audit.after_seq = qa->next_after_seq;
		ep_client_response_free(cl, resp);
		resp = NULL;
	}
out:
	ep_client_response_free(cl, resp);
	return rc;
}

static int
run_audit(struct ep_client *cl, struct cliopt *o)
{
	struct cliopt_req r;
	EpAuditRecord **recs = NULL;
	EpResponse **pages = NULL, *resp = NULL, **np;
	EpAuditRecord **nr;
	size_t npages = 0, nrecs = 0, i;
	json_t *out, *arr;
	uint64_t next;
	int rc;

	cliopt_build(o, &r);
	if (o->o_json) {
		if ((out = json_object()) == NULL || (arr = json_array()) == NULL)
			return oom();
		json_object_set_new(out, "records", arr);
		rc = audit_pages(cl, &r, o->o_all_pages, arr, &next);
		if (rc == EXIT_DONE) {
			json_object_set_new(out, "next_after_seq",
			    json_integer((json_int_t)next));
			if (json_dumpf(out, stdout, JSON_INDENT(2)) == 0)
				fputc('\n', stdout);
		}
		json_decref(out);
		return rc;
	}
	/* Text: keep every page until all are in, then print one table. */
	for (;;) {
		if ((rc = call(cl, &r.r_req, &resp)) != EXIT_DONE ||
		    (rc = expect_body(resp,
		    EENPLAN__V1__RESPONSE__BODY_QUERY_AUDIT)) != EXIT_DONE)
			goto out;
		if ((np = reallocarray(pages, npages + 1, sizeof(*pages))) ==
		    NULL) {
			rc = oom();
			goto out;
		}
		pages = np;
		if ((nr = reallocarray(recs, nrecs +
		    resp->query_audit->n_records + 1, sizeof(*recs))) == NULL) {
			rc = oom();
			goto out;
		}
		recs = nr;
		pages[npages++] = resp;
		for (i = 0; i < resp->query_audit->n_records; i++)
			recs[nrecs++] = resp->query_audit->records[i];
		next = resp->query_audit->next_after_seq;
		resp = NULL;
		if (!o->o_all_pages || next == 0)
			break;
		if (next <= r.r_audit.after_seq || npages >= MAX_PAGES) {
			rc = protocol_error("the access log does not page "
			    "forward");
			goto out;
		}
		r.r_audit.after_seq = next;
	}
	cliout_audit(stdout, recs, nrecs, o->o_org);
	if (next != 0)
		printf("more records: add --all-pages\n");
out:
	ep_client_response_free(cl, resp);
	for (i = 0; i < npages; i++)
		ep_client_response_free(cl, pages[i]);
	free(pages);
	free(recs);
	return rc;
}

/* ------------------------------------------------------------ afschrift */

static int
history_pages(struct ep_client *cl, char *hh, json_t *entries)
{
	Eenplan__V1__GetHistoryRequest gh;
	Eenplan__V1__GetHistoryResponse *h;
	EpRequest req;
	EpResponse *resp = NULL;
	size_t i, pages = 0;
	uint64_t last;
	int rc;

	eenplan__v1__request__init(&req);
	eenplan__v1__get_history_request__init(&gh);
	gh.household_id = hh;
	req.body_case = EENPLAN__V1__REQUEST__BODY_GET_HISTORY;
	req.get_history = &gh;
	for (;;) {
		if ((rc = call(cl, &req, &resp)) != EXIT_DONE ||
		    (rc = expect_body(resp,
		    EENPLAN__V1__RESPONSE__BODY_GET_HISTORY)) != EXIT_DONE)
			break;
		h = resp->get_history;
		for (i = 0; i < h->n_entries; i++)
			json_array_append_new(entries,
			    pbjson_message(&h->entries[i]->base));
		if (!h->more)
			break;
		last = h->n_entries ? h->entries[h->n_entries - 1]->version : 0;
		if (last <= gh.after_version || ++pages >= MAX_PAGES) {
			rc = protocol_error("the history does not page forward");
			break;
		}
		gh.after_version = last;
		ep_client_response_free(cl, resp);
		resp = NULL;
	}
	ep_client_response_free(cl, resp);
	return rc;
}

static int
afschrift_collect(struct ep_client *cl, struct cliopt *o, json_t *doc)
{
	Eenplan__V1__ListConsentRequest lc;
	struct cliopt_req r;
	EpRequest req;
	EpResponse *resp = NULL;
	json_t *arr;
	uint64_t next;
	size_t i;
	int rc;

	cliopt_build(o, &r);	/* GetPlan of the current version */
	if ((rc = call(cl, &r.r_req, &resp)) != EXIT_DONE ||
	    (rc = expect_body(resp, EENPLAN__V1__RESPONSE__BODY_GET_PLAN)) !=
	    EXIT_DONE)
		goto out;
	json_object_set_new(doc, "plan", pbjson_message(&resp->get_plan->base));
	ep_client_response_free(cl, resp);
	resp = NULL;

	eenplan__v1__request__init(&req);
	eenplan__v1__list_consent_request__init(&lc);
	lc.household_id = o->o_hh;
	lc.include_past = 1;
	req.body_case = EENPLAN__V1__REQUEST__BODY_LIST_CONSENT;
	req.list_consent = &lc;
	if ((rc = call(cl, &req, &resp)) != EXIT_DONE ||
	    (rc = expect_body(resp, EENPLAN__V1__RESPONSE__BODY_LIST_CONSENT)) !=
	    EXIT_DONE)
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

	o->o_cmd = CMD_AUDIT;	/* the household's whole access log */
	cliopt_build(o, &r);
	o->o_cmd = CMD_AFSCHRIFT;
	arr = json_array();
	json_object_set_new(doc, "access_log", arr);
	rc = audit_pages(cl, &r, 1, arr, &next);
out:
	ep_client_response_free(cl, resp);
	return rc;
}

/* Writes doc to path through a private temp file, so no half copy is left. */
static int
write_doc(json_t *doc, const char *path)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd = -1, rc = EXIT_REFUSED;

	if (asprintf(&tmp, "%s.XXXXXX", path) == -1) {
		tmp = NULL;
		goto fail;
	}
	if ((fd = mkstemp(tmp)) == -1 || (f = fdopen(fd, "w")) == NULL)
		goto fail;
	fd = -1;
	if (json_dumpf(doc, f, JSON_INDENT(2)) == -1 || fputc('\n', f) == EOF ||
	    fflush(f) == EOF || fsync(fileno(f)) == -1)
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
	return rc;
}

static int
run_afschrift(struct ep_client *cl, struct cliopt *o)
{
	char made[40];
	json_t *doc;
	int rc;

	if ((doc = json_object()) == NULL)
		return oom();
	json_object_set_new(doc, "format", json_string("eenplan-afschrift/1"));
	json_object_set_new(doc, "description", json_string(
	    "Afschrift van het integraal ondersteuningsplan van dit "
	    "huishouden, met alle toestemmingen, de volledige geschiedenis en "
	    "het volledige toegangslogboek (Wabvpz art. 15d/15e)."));
	json_object_set_new(doc, "household_id", json_string(o->o_hh));
	if (pbjson_time_utc(now_us(), made, sizeof(made)) == 0)
		json_object_set_new(doc, "made_at_utc", json_string(made));
	if ((rc = afschrift_collect(cl, o, doc)) != EXIT_DONE)
		goto out;
	if (o->o_output == NULL || strcmp(o->o_output, "-") == 0) {
		if (json_dumpf(doc, stdout, JSON_INDENT(2)) == 0)
			fputc('\n', stdout);
	} else if ((rc = write_doc(doc, o->o_output)) == EXIT_DONE)
		printf("afschrift of household %s written to %s (%zu history "
		    "entries, %zu access log records)\n", o->o_hh, o->o_output,
		    json_array_size(json_object_get(doc, "history")),
		    json_array_size(json_object_get(doc, "access_log")));
out:
	json_decref(doc);
	return rc;
}

/* ------------------------------------------------------------ follow */

static int
print_event(const struct cliopt *o, const EpResponse *ev)
{
	const EpChangeEvent *ce;
	json_t *j;

	if (ev->body_case != EENPLAN__V1__RESPONSE__BODY_SUBSCRIBE ||
	    ev->subscribe == NULL)
		return protocol_error("an event that is not a change event");
	if ((ce = ev->subscribe->event) == NULL)
		return EXIT_DONE;
	if (o->o_json) {
		if ((j = pbjson_message(&ce->base)) == NULL)
			return oom();
		if (json_dumpf(j, stdout, JSON_COMPACT) == 0)
			fputc('\n', stdout);
		json_decref(j);
	} else
		cliout_event(stdout, ce);
	fflush(stdout);
	return EXIT_DONE;
}

static int
run_follow(struct ep_client *cl, struct cliopt *o)
{
	struct sigaction sa;
	EpResponse *resp = NULL;
	uint64_t sub;
	char err[512];
	int rc, r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (ep_client_subscribe(cl, o->o_since, &sub, &resp, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "eenplan: %s\n", err);
		return EXIT_CONN;
	}
	if (ep_client_status(resp) != EENPLAN__V1__CODE__OK) {
		rc = refused(resp);
		ep_client_response_free(cl, resp);
		return rc;
	}
	rc = print_event(o, resp);
	ep_client_response_free(cl, resp);
	while (rc == EXIT_DONE && !stop) {
		r = ep_client_next_event(cl, 1000, &resp, err, sizeof(err));
		if (r == 0)
			continue;
		if (r == -1) {
			if (stop)
				break;
			fprintf(stderr, "eenplan: %s\n", err);
			return EXIT_CONN;
		}
		if (ep_client_status(resp) != EENPLAN__V1__CODE__OK)
			rc = refused(resp);
		else
			rc = print_event(o, resp);
		ep_client_response_free(cl, resp);
	}
	if (stop && ep_client_unsubscribe(cl, sub, &resp, err,
	    sizeof(err)) == 0)
		ep_client_response_free(cl, resp);
	return rc;
}

/* ------------------------------------------------------------ main */

static int
run(struct ep_client *cl, struct cliopt *o)
{
	switch (o->o_cmd) {
	case CMD_AFSCHRIFT:
		return run_afschrift(cl, o);
	case CMD_AUDIT:
		return run_audit(cl, o);
	case CMD_CHANGES:
		if (o->o_follow)
			return run_follow(cl, o);
		return run_simple(cl, o);
	default:
		return run_simple(cl, o);
	}
}

int
main(int argc, char **argv)
{
	struct cliopt o;
	struct cliopt_conn c;
	struct ep_client *cl;
	char err[512];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (cliopt_parse(&o, argc, argv, err, sizeof(err)) == -1) {
		fprintf(stderr, "eenplan: %s\n", err);
		cliopt_free(&o);
		return EXIT_USAGE;
	}
	if (o.o_cmd == CMD_HELP) {
		fputs(cliopt_usage(), stdout);
		cliopt_free(&o);
		return EXIT_DONE;
	}
	if (cliopt_connection(&o, &c, err, sizeof(err)) == -1) {
		fprintf(stderr, "eenplan: %s\n", err);
		cliopt_free(&o);
		return EXIT_USAGE;
	}
	cl = ep_client_connect(c.c_host, c.c_port, c.c_cert, c.c_key, c.c_ca,
	    err, sizeof(err));
	if (cl == NULL) {
		fprintf(stderr, "eenplan: %s\n", err);
		rc = EXIT_CONN;
	} else {
		rc = run(cl, &o);
		ep_client_close(cl);
	}
	cliopt_conn_free(&c);
	cliopt_free(&o);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "eenplan: cannot write the output: %s\n",
		    strerror(errno));
		if (rc == EXIT_DONE)
			rc = EXIT_REFUSED;
	}
	return rc;
}
