/*
 * cliout: what the eenplan CLI prints for the answers of its one-request
 * subcommands — readable text for a person (local times, Dutch domain
 * labels, lower-case enum names) and JSON — and the helpers every printer
 * shares. Text from the server is printed with control characters
 * neutralised, so that no note can drive the reader's terminal.
 */
#ifndef EENPLAN_CLIOUT_H
#define EENPLAN_CLIOUT_H

#include <stdint.h>
#include <stdio.h>

#include "cliopt.h"
#include "wire.h"

/* Local "YYYY-MM-DD HH:MM" of a wire time; "-" for 0. */
void	cliout_time(char *buf, size_t len, int64_t us);
/* "org/subject" (or "org"), with " (role)" when with_role and known. */
void	cliout_principal(char *buf, size_t len, const EpPrincipal *p,
	    int with_role);
/* A grant's grantee: "org", "org/subject" or "org team TEAM". */
void	cliout_grantee(char *buf, size_t len, const EpGrant *g);
/* s with every control character (C0, DEL, C1) shown as '?'; newlines as nl. */
void	cliout_text(FILE *f, const char *s, const char *nl);
/* cliout_text left-aligned in width columns (code points, not bytes). */
void	cliout_cell(FILE *f, const char *s, int width);
/* s, or "-" when empty. */
const char *cliout_or_dash(const char *s);
/* The Dutch label of a ZRM domain ("Financiën"); "(no domain)" if unknown. */
const char *cliout_domain_label(int d);
/* The ZRM label of a score 1..5 ("beperkt zelfredzaam"); "?" otherwise. */
const char *cliout_score_label(uint32_t s);
/* "Financiën, Justitie", or "all domains" for an empty scope. */
void	cliout_scope(FILE *f, const Eenplan__V1__Domain *scope, size_t n);
/* "active", "revoked", "expired", "not yet valid", "active (break-glass)". */
const char *cliout_grant_state(const EpGrant *g, int64_t now);

/*
 * The printers the subcommand table names (clicmd_print_fn): each prints an
 * OK answer of its subcommand; 0, or -1 when the answer is incomplete.
 */
int	cliout_whoami(FILE *, const struct cliopt *, const EpResponse *, int64_t);
int	cliout_created(FILE *, const struct cliopt *, const EpResponse *, int64_t);
int	cliout_households(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_plan(FILE *, const struct cliopt *, const EpResponse *, int64_t);
int	cliout_goal_added(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_goal_status(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_action_added(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_action_status(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_note_added(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_assessed(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_target_set(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_member_added(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_history(FILE *, const struct cliopt *, const EpResponse *, int64_t);
int	cliout_granted(FILE *, const struct cliopt *, const EpResponse *, int64_t);
int	cliout_revoked(FILE *, const struct cliopt *, const EpResponse *, int64_t);
int	cliout_consent(FILE *, const struct cliopt *, const EpResponse *, int64_t);
int	cliout_regie(FILE *, const struct cliopt *, const EpResponse *, int64_t);
int	cliout_breakglass(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_escalated(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_closed(FILE *, const struct cliopt *, const EpResponse *, int64_t);
int	cliout_audit_page(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);
int	cliout_changes(FILE *, const struct cliopt *, const EpResponse *, int64_t);
int	cliout_signal_sent(FILE *, const struct cliopt *, const EpResponse *,
	    int64_t);

/* 1 when the response carries the body o's subcommand expects. */
int	cliout_body_ok(const struct cliopt *o, const EpResponse *resp);
/*
 * The response of o's subcommand as text (its table row's printer). 0, or
 * -1 when the body is not the one the subcommand expects (a protocol error).
 */
int	cliout_response(FILE *f, const struct cliopt *o, const EpResponse *resp,
	    int64_t now_us);

/* Audit records (possibly gathered over pages) as a table. */
void	cliout_audit(FILE *f, EpAuditRecord *const *recs, size_t n, int org_view);
/* One change-feed event as one line. */
void	cliout_event(FILE *f, const EpChangeEvent *ev);
/*
 * One change-feed event for a person: when, which household, what happened
 * and by whom, then the change as history prints it (its mutations, its
 * detail) or a signal's text.
 */
void	cliout_event_detail(FILE *f, const EpChangeEvent *ev);
/* One mutation of a change, indented, as history prints it. */
void	cliout_mutation(FILE *f, const EpMutation *m, int domain);
/* A signal: when, (household,) domain, sender, then its text indented. */
void	cliout_signal(FILE *f, const EpSignal *sg, int with_household);

/* The body (the oneof) of a response as indented JSON, or msg itself. */
int	cliout_json(FILE *f, const ProtobufCMessage *msg);

#endif
