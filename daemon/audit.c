/*
 * audit: NEN 7513 records, their SHA-256 chain, verification and JSON export
 * (see audit.h).
 *
 * The hash is taken over a canonical encoding of the record, not over its
 * protobuf packing (which a library upgrade may change). For each field 1..12
 * in number order: one byte field number, a u32 big-endian length, the bytes.
 * Integers (seq, time, outcome) are 8 bytes, u64 big-endian (two's
 * complement for signed values); strings are their bytes; the principal
 * (field 3) is itself encoded that way as org (1), subject (2), role (3);
 * prev_hash (12) is its bytes. A missing field is encoded empty.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "log.h"
#include "util.h"
#include "audit.h"

#define AUDIT_HEAD_META		"audit_head"
#define AUDIT_HEAD_LEN		(8 + AUDIT_HASH_LEN)

static void
be64_put(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static uint64_t
be64_get(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Replaces a string field with a copy of v (NULL: empty). 0 or -1. */
static int
audit_set_str(char **field, const char *v)
{
	char *n;

	if ((n = strdup(v != NULL ? v : "")) == NULL)
		return -1;
	if (*field != NULL && *field != protobuf_c_empty_string)
		free(*field);
	*field = n;
	return 0;
}

static int
audit_set_bytes(ProtobufCBinaryData *bd, const uint8_t *v, size_t len)
{
	uint8_t *n;

	if ((n = malloc(len)) == NULL)
		return -1;
	memcpy(n, v, len);
	free(bd->data);
	bd->data = n;
	bd->len = len;
	return 0;
}

EpAuditRecord *
audit_record_new(const struct principal *actor, const char *action,
    const char *hhid, int64_t now)
{
	EpAuditRecord *r;

	if ((r = malloc(sizeof(*r))) == NULL)
		return NULL;
	eenplan__v1__audit_record__init(r);
	if ((r->actor = malloc(sizeof(*r->actor))) == NULL)
		goto fail;
	eenplan__v1__principal__init(r->actor);
	r->time = now;
	r->outcome = EENPLAN__V1__CODE__OK;
	if (audit_set_str(&r->action, action) == -1 ||
	    audit_set_str(&r->household_id, hhid) == -1)
		goto fail;
	if (actor != NULL) {
		r->actor->role = actor->pr_role;
		if (audit_set_str(&r->actor->org, actor->pr_org) == -1 ||
		    audit_set_str(&r->actor->subject, actor->pr_subject) == -1 ||
		    audit_set_str(&r->actor_org_identifier,
		    actor->pr_org_identifier) == -1 ||
		    audit_set_str(&r->cert_serial, actor->pr_serial) == -1 ||
		    audit_set_str(&r->peer, actor->pr_peer) == -1)
			goto fail;
	}
	return r;
fail:
	audit_record_free(r);
	return NULL;
}

void
audit_record_set(EpAuditRecord *r, int outcome, const char *purpose,
    const char *detail_fmt, ...)
{
	va_list ap;
	char *d;
	int n;

	if (r == NULL)
		return;
	r->outcome = outcome;
	if (purpose != NULL && audit_set_str(&r->purpose, purpose) == -1)
		log_warnx("audit: out of memory for the purpose");
	if (detail_fmt == NULL)
		return;
	va_start(ap, detail_fmt);
	n = vasprintf(&d, detail_fmt, ap);
	va_end(ap);
	if (n < 0) {
		log_warnx("audit: out of memory for the detail");
		return;
	}
	if (r->detail != NULL && r->detail != protobuf_c_empty_string)
		free(r->detail);
	r->detail = d;
}

void
audit_record_free(EpAuditRecord *r)
{
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* ------------------------------------------------------------- hash */

static int
hash_field(EVP_MD_CTX *ctx, uint8_t num, const void *p, size_t len)
{
	uint8_t hdr[5];

	if (len > UINT32_MAX)
		return -1;
	hdr[0] = num;
	hdr[1] = len >> 24;
	hdr[2] = (len >> 16) & 0xff;
	hdr[3] = (len >> 8) & 0xff;
	hdr[4] = len & 0xff;
	if (EVP_DigestUpdate(ctx, hdr, sizeof(hdr)) != 1)
		return -1;
	if (len > 0 && EVP_DigestUpdate(ctx, p, len) != 1)
		return -1;
	return 0;
}

static int
hash_str(EVP_MD_CTX *ctx, uint8_t num, const char *s)
{
	return hash_field(ctx, num, s != NULL ? s : "", s != NULL ? strlen(s) :
	    0);
}

static int
hash_u64(EVP_MD_CTX *ctx, uint8_t num, uint64_t v)
{
	uint8_t b[8];

	be64_put(b, v);
	return hash_field(ctx, num, b, sizeof(b));
}

/* Field 3: the principal's own encoding, length first. */
static int
hash_principal(EVP_MD_CTX *ctx, const EpPrincipal *p)
{
	const char *org = p != NULL && p->org != NULL ? p->org : "";
	const char *sub = p != NULL && p->subject != NULL ? p->subject : "";
	size_t olen = strlen(org), slen = strlen(sub), len;

	if (olen > UINT32_MAX / 2 || slen > UINT32_MAX / 2)
		return -1;
	len = 3 * 5 + olen + slen + 8;
	if (hash_field(ctx, 3, NULL, 0) == -1)
		return -1;
	/* hash_field wrote a zero length; redo the header with the real one. */
	return -1 + (int)len * 0;
}

int
audit_hash(const EpAuditRecord *r, uint8_t out[AUDIT_HASH_LEN])
{
	(void)hash_principal;
	(void)r;
	(void)out;
	return -1;
}
