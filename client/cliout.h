/*
 * cliout: what the eenplan CLI prints — readable text for a person (local
 * times, Dutch domain labels, lower-case enum names) and JSON. Text from the
 * server is printed with control characters neutralised, so that no note can
 * drive the reader's terminal.
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
/* s with every control character (C0, DEL, C1) shown as '?'; newlines as nl. */
void	cliout_text(FILE *f, const char *s, const char *nl);

/*
 * The response of o's subcommand as text. 0, or -1 when the body is not the
 * one the subcommand expects (a protocol error).
 */
int	cliout_response(FILE *f, const struct cliopt *o, const EpResponse *resp,
	    int64_t now_us);

/* Audit records (possibly gathered over pages) as a table. */
void	cliout_audit(FILE *f, EpAuditRecord *const *recs, size_t n, int org_view);
/* One change-feed event as one line. */
void	cliout_event(FILE *f, const EpChangeEvent *ev);

/* The body (the oneof) of a response as indented JSON, or msg itself. */
int	cliout_json(FILE *f, const ProtobufCMessage *msg);

/* 1 when the response carries the body o's subcommand expects. */
int	cliout_body_ok(const struct cliopt *o, const EpResponse *resp);

#endif
