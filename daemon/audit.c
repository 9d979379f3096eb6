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
 * prev_hash (12) is its bytes. A missing field is encoded empty. Fields
 * added later (14 listed households, 15 actor capacity) are encoded only
 * when present, so older records hash as they did.
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
#define AUDIT_BASE_META		"audit_base"
#define AUDIT_HEAD_LEN		(8 + AUDIT_HASH_LEN)

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

int
audit_record_reveal(EpAuditRecord *rec, const char *hhid)
{
	char **v;
	size_t i;

	if (rec == NULL || hhid == NULL || hhid[0] == '\0')
		return 0;
	if (rec->household_id != NULL && strcmp(rec->household_id, hhid) == 0)
		return 0;
	for (i = 0; i < rec->n_listed_households; i++)
		if (strcmp(rec->listed_households[i], hhid) == 0)
			return 0;
	if ((v = reallocarray(rec->listed_households,
	    rec->n_listed_households + 1, sizeof(*v))) == NULL)
		return -1;
	rec->listed_households = v;
	if ((v[rec->n_listed_households] = strdup(hhid)) == NULL)
		return -1;
	rec->n_listed_households++;
	return 0;
}

void
audit_record_free(EpAuditRecord *r)
{
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* ------------------------------------------------------------- hash */

static int
hash_hdr(EVP_MD_CTX *ctx, uint8_t num, size_t len)
{
	uint8_t hdr[5];

	if (len > UINT32_MAX)
		return -1;
	hdr[0] = num;
	hdr[1] = len >> 24;
	hdr[2] = (len >> 16) & 0xff;
	hdr[3] = (len >> 8) & 0xff;
	hdr[4] = len & 0xff;
	return EVP_DigestUpdate(ctx, hdr, sizeof(hdr)) == 1 ? 0 : -1;
}

static int
hash_field(EVP_MD_CTX *ctx, uint8_t num, const void *p, size_t len)
{
	if (hash_hdr(ctx, num, len) == -1)
		return -1;
	if (len > 0 && EVP_DigestUpdate(ctx, p, len) != 1)
		return -1;
	return 0;
}

static int
hash_str(EVP_MD_CTX *ctx, uint8_t num, const char *s)
{
	if (s == NULL)
		s = "";
	return hash_field(ctx, num, s, strlen(s));
}

static int
hash_u64(EVP_MD_CTX *ctx, uint8_t num, uint64_t v)
{
	uint8_t b[8];

	util_be64_put(b, v);
	return hash_field(ctx, num, b, sizeof(b));
}

/* Field 3: the principal's own three-field encoding, length first. */
static int
hash_principal(EVP_MD_CTX *ctx, const EpPrincipal *p)
{
	const char *org = p != NULL && p->org != NULL ? p->org : "";
	const char *sub = p != NULL && p->subject != NULL ? p->subject : "";
	int64_t role = p != NULL ? p->role : 0;
	size_t olen = strlen(org), slen = strlen(sub);

	if (olen > UINT32_MAX / 4 || slen > UINT32_MAX / 4)
		return -1;
	if (hash_hdr(ctx, 3, 3 * 5 + olen + slen + 8) == -1 ||
	    hash_field(ctx, 1, org, olen) == -1 ||
	    hash_field(ctx, 2, sub, slen) == -1 ||
	    hash_u64(ctx, 3, (uint64_t)role) == -1)
		return -1;
	return 0;
}

/*
 * Field 14, only when present (older records hash as before): the count,
 * then each household id as its own length-prefixed field.
 */
static int
hash_listed(EVP_MD_CTX *ctx, const EpAuditRecord *r)
{
	size_t i;

	if (r->n_listed_households == 0)
		return 0;
	if (hash_u64(ctx, 14, r->n_listed_households) == -1)
		return -1;
	for (i = 0; i < r->n_listed_households; i++)
		if (hash_str(ctx, 14, r->listed_households[i]) == -1)
			return -1;
	return 0;
}

int
audit_hash(const EpAuditRecord *r, uint8_t out[AUDIT_HASH_LEN])
{
	EVP_MD_CTX *ctx;
	unsigned int len = 0;
	int rc = -1;

	if (r == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    hash_u64(ctx, 1, r->seq) == -1 ||
	    hash_u64(ctx, 2, (uint64_t)r->time) == -1 ||
	    hash_principal(ctx, r->actor) == -1 ||
	    hash_str(ctx, 4, r->actor_org_identifier) == -1 ||
	    hash_str(ctx, 5, r->cert_serial) == -1 ||
	    hash_str(ctx, 6, r->action) == -1 ||
	    hash_str(ctx, 7, r->household_id) == -1 ||
	    hash_u64(ctx, 8, (uint64_t)(int64_t)r->outcome) == -1 ||
	    hash_str(ctx, 9, r->detail) == -1 ||
	    hash_str(ctx, 10, r->peer) == -1 ||
	    hash_str(ctx, 11, r->purpose) == -1 ||
	    hash_field(ctx, 12, r->prev_hash.data, r->prev_hash.len) == -1 ||
	    hash_listed(ctx, r) == -1 ||
	    (r->actor_capacity != NULL && r->actor_capacity[0] != '\0' &&
	    hash_str(ctx, 15, r->actor_capacity) == -1) ||
	    EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != AUDIT_HASH_LEN)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* ------------------------------------------------------------- chain */

static int
audit_head_read(struct stxn *tx, struct audit_head *h, int *present)
{
	uint8_t buf[AUDIT_HEAD_LEN];
	size_t len;
	int rc;

	memset(h, 0, sizeof(*h));
	*present = 0;
	rc = store_meta_get(tx, AUDIT_HEAD_META, buf, sizeof(buf), &len);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	if (len != sizeof(buf)) {
		log_warnx("audit: head in meta has %zu bytes, wants %d", len,
		    AUDIT_HEAD_LEN);
		return STORE_CORRUPT;
	}
	h->ah_seq = util_be64_get(buf);
	memcpy(h->ah_hash, buf + 8, AUDIT_HASH_LEN);
	*present = 1;
	return STORE_OK;
}

/* An empty chain's head has seq 0 and an all-zero hash; 1 if h is that. */
static int
audit_head_empty_hash(const struct audit_head *h)
{
	static const uint8_t zero[AUDIT_HASH_LEN];

	return memcmp(h->ah_hash, zero, AUDIT_HASH_LEN) == 0;
}

/*
 * Besides reading the head, checks that the record it names is there with
 * that hash and that nothing lies beyond it: appending on a wrong head would
 * fork the chain.
 */
int
audit_head_load(struct stxn *tx, struct audit_head *h)
{
	EpAuditRecord *r;
	uint64_t last;
	int rc, present, same;

	if ((rc = audit_head_read(tx, h, &present)) != STORE_OK)
		return rc;
	if ((rc = store_audit_last(tx, &last)) != STORE_OK)
		return rc;
	if (last > h->ah_seq) {
		log_warnx("audit: records up to %llu beyond the head %llu",
		    (unsigned long long)last, (unsigned long long)h->ah_seq);
		return STORE_CORRUPT;
	}
	if (h->ah_seq == 0) {
		/* Record 1 would be linked to a hash no record has. */
		if (!audit_head_empty_hash(h)) {
			log_warnx("audit: head in meta has seq 0 and a "
			    "non-zero hash");
			return STORE_CORRUPT;
		}
		return STORE_OK;
	}
	if ((rc = store_audit_get(tx, h->ah_seq, &r)) != STORE_OK) {
		log_warnx("audit: head record %llu: %s",
		    (unsigned long long)h->ah_seq, store_strerror(rc));
		return rc == STORE_NOTFOUND ? STORE_CORRUPT : rc;
	}
	same = r->seq == h->ah_seq && r->hash.len == AUDIT_HASH_LEN &&
	    memcmp(r->hash.data, h->ah_hash, AUDIT_HASH_LEN) == 0;
	audit_record_free(r);
	if (!same) {
		log_warnx("audit: head record %llu does not match the head",
		    (unsigned long long)h->ah_seq);
		return STORE_CORRUPT;
	}
	return STORE_OK;
}

int
audit_head_of(struct store *st, struct audit_head *h)
{
	struct stxn *t;
	int rc;

	if ((t = store_reader_new(st)) == NULL)
		return STORE_ERR;
	if ((rc = store_reader_begin(t)) == STORE_OK) {
		rc = audit_head_load(t, h);
		store_reader_end(t);
	}
	store_reader_free(t);
	return rc;
}

int
audit_base_load(struct stxn *tx, struct audit_head *b)
{
	uint8_t buf[AUDIT_HEAD_LEN];
	size_t len;
	int rc;

	memset(b, 0, sizeof(*b));
	rc = store_meta_get(tx, AUDIT_BASE_META, buf, sizeof(buf), &len);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	if (len != sizeof(buf)) {
		log_warnx("audit: base in meta has %zu bytes, wants %d", len,
		    AUDIT_HEAD_LEN);
		return STORE_CORRUPT;
	}
	b->ah_seq = util_be64_get(buf);
	memcpy(b->ah_hash, buf + 8, AUDIT_HASH_LEN);
	return STORE_OK;
}

int
audit_base_put(struct stxn *tx, const struct audit_head *b)
{
	uint8_t buf[AUDIT_HEAD_LEN];

	util_be64_put(buf, b->ah_seq);
	memcpy(buf + 8, b->ah_hash, AUDIT_HASH_LEN);
	return store_meta_put(tx, AUDIT_BASE_META, buf, sizeof(buf));
}

int
audit_append(struct stxn *tx, struct audit_head *head, EpAuditRecord *r)
{
	uint8_t hash[AUDIT_HASH_LEN], buf[AUDIT_HEAD_LEN];
	int rc;

	if (r == NULL || head == NULL)
		return STORE_ERR;
	if (head->ah_seq == UINT64_MAX)
		return STORE_FULL;
	r->seq = head->ah_seq + 1;
	if (audit_set_bytes(&r->prev_hash, head->ah_hash, AUDIT_HASH_LEN) ==
	    -1)
		return STORE_ERR;
	free(r->hash.data);
	r->hash.data = NULL;
	r->hash.len = 0;
	if (audit_hash(r, hash) == -1 ||
	    audit_set_bytes(&r->hash, hash, AUDIT_HASH_LEN) == -1)
		return STORE_ERR;
	if ((rc = store_audit_put(tx, r)) != STORE_OK)
		return rc;
	util_be64_put(buf, r->seq);
	memcpy(buf + 8, hash, AUDIT_HASH_LEN);
	if ((rc = store_meta_put(tx, AUDIT_HEAD_META, buf, sizeof(buf))) !=
	    STORE_OK)
		return rc;
	head->ah_seq = r->seq;
	memcpy(head->ah_hash, hash, AUDIT_HASH_LEN);
	return STORE_OK;
}

/* Checks one record at its place in the chain; 0, or -1 with msg. */
static int
audit_verify_one(const EpAuditRecord *r, uint64_t seq,
    const uint8_t prev[AUDIT_HASH_LEN], char *msg, size_t msglen)
{
	uint8_t h[AUDIT_HASH_LEN];

	if (r->seq != seq) {
		snprintf(msg, msglen, "record %llu out of order (holds seq "
		    "%llu)", (unsigned long long)seq,
		    (unsigned long long)r->seq);
		return -1;
	}
	if (r->prev_hash.len != AUDIT_HASH_LEN ||
	    memcmp(r->prev_hash.data, prev, AUDIT_HASH_LEN) != 0) {
		snprintf(msg, msglen, "record %llu: chain broken (prev_hash "
		    "does not match record %llu)", (unsigned long long)seq,
		    (unsigned long long)(seq - 1));
		return -1;
	}
	if (audit_hash(r, h) == -1) {
		snprintf(msg, msglen, "record %llu: cannot hash",
		    (unsigned long long)seq);
		return -1;
	}
	if (r->hash.len != AUDIT_HASH_LEN ||
	    memcmp(r->hash.data, h, AUDIT_HASH_LEN) != 0) {
		snprintf(msg, msglen, "record %llu edited (hash does not match "
		    "its content)", (unsigned long long)seq);
		return -1;
	}
	return 0;
}

int
audit_verify(struct stxn *tx, uint64_t *count, uint64_t *bad_seq, char *msg,
    size_t msglen)
{
	struct audit_head head, base;
	EpAuditRecord *r;
	uint8_t prev[AUDIT_HASH_LEN];
	uint64_t seq, last;
	int rc, present, bad;

	*count = 0;
	*bad_seq = 0;
	snprintf(msg, msglen, "ok");
	if ((rc = audit_head_read(tx, &head, &present)) != STORE_OK) {
		snprintf(msg, msglen, "audit head in meta: %s",
		    store_strerror(rc));
		*bad_seq = 1;
		return -1;
	}
	if ((rc = audit_base_load(tx, &base)) != STORE_OK) {
		snprintf(msg, msglen, "audit base in meta: %s",
		    store_strerror(rc));
		*bad_seq = 1;
		return -1;
	}
	if (base.ah_seq > head.ah_seq) {
		snprintf(msg, msglen, "the base in meta (%llu) is past the "
		    "head (%llu)", (unsigned long long)base.ah_seq,
		    (unsigned long long)head.ah_seq);
		*bad_seq = base.ah_seq;
		return -1;
	}
	/* What a retention purge removed is gone: the chain goes on from it. */
	memcpy(prev, base.ah_hash, AUDIT_HASH_LEN);
	if (base.ah_seq > 0 && (rc = store_audit_get(tx, base.ah_seq, &r)) !=
	    STORE_NOTFOUND) {
		if (rc == STORE_OK)
			audit_record_free(r);
		*bad_seq = base.ah_seq;
		snprintf(msg, msglen, "record %llu is still there, though the "
		    "base in meta says it was purged",
		    (unsigned long long)base.ah_seq);
		return -1;
	}
	for (seq = base.ah_seq + 1; seq <= head.ah_seq; seq++) {
		if ((rc = store_audit_get(tx, seq, &r)) != STORE_OK) {
			*bad_seq = seq;
			if (rc == STORE_NOTFOUND)
				snprintf(msg, msglen, "record %llu missing",
				    (unsigned long long)seq);
			else if (rc == STORE_CORRUPT)
				snprintf(msg, msglen, "record %llu corrupt "
				    "(checksum or decoding failed)",
				    (unsigned long long)seq);
			else
				snprintf(msg, msglen, "record %llu: %s",
				    (unsigned long long)seq,
				    store_strerror(rc));
			return -1;
		}
		bad = audit_verify_one(r, seq, prev, msg, msglen);
		if (!bad)
			memcpy(prev, r->hash.data, AUDIT_HASH_LEN);
		audit_record_free(r);
		if (bad) {
			*bad_seq = seq;
			return -1;
		}
		*count = seq - base.ah_seq;
	}
	if (head.ah_seq == 0 && !audit_head_empty_hash(&head)) {
		/* No record to blame, and seq - 1 would wrap: name the first. */
		*bad_seq = 1;
		snprintf(msg, msglen, "audit head in meta has seq 0 and a "
		    "non-zero hash");
		return -1;
	}
	if (memcmp(prev, head.ah_hash, AUDIT_HASH_LEN) != 0) {
		*bad_seq = head.ah_seq;
		*count = head.ah_seq > base.ah_seq ?
		    head.ah_seq - 1 - base.ah_seq : 0;
		snprintf(msg, msglen, "record %llu does not match the audit "
		    "head in meta", (unsigned long long)head.ah_seq);
		return -1;
	}
	if ((rc = store_audit_last(tx, &last)) != STORE_OK) {
		*bad_seq = head.ah_seq + 1;
		snprintf(msg, msglen, "after record %llu: %s",
		    (unsigned long long)head.ah_seq, store_strerror(rc));
		return -1;
	}
	if (last > head.ah_seq) {
		*bad_seq = head.ah_seq + 1;
		snprintf(msg, msglen, "record %llu beyond the head in meta "
		    "(head %llu%s, records up to %llu)",
		    (unsigned long long)head.ah_seq + 1,
		    (unsigned long long)head.ah_seq, present ? "" : ", absent",
		    (unsigned long long)last);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ export */

int
audit_names_household(const EpAuditRecord *r, const char *hhid)
{
	size_t i;

	if (r->household_id != NULL && strcmp(r->household_id, hhid) == 0)
		return 1;
	for (i = 0; i < r->n_listed_households; i++)
		if (strcmp(r->listed_households[i], hhid) == 0)
			return 1;
	return 0;
}

int
audit_filter_match(const struct audit_filter *f, const EpAuditRecord *r)
{
	if (f == NULL)
		return 1;
	if (f->af_from != 0 && r->time < f->af_from)
		return 0;
	if (f->af_until != 0 && r->time > f->af_until)
		return 0;
	if (f->af_household != NULL && !audit_names_household(r,
	    f->af_household))
		return 0;
	if (f->af_org != NULL && (r->actor == NULL || r->actor->org == NULL ||
	    strcmp(r->actor->org, f->af_org) != 0))
		return 0;
	return 1;
}

/* A JSON string of s; bytes that are not valid UTF-8 become '?'. */
static json_t *
audit_jstr(const char *s)
{
	json_t *j;
	char *c;
	size_t i;

	if (s == NULL)
		s = "";
	if ((j = json_string(s)) != NULL)
		return j;
	if ((c = strdup(s)) == NULL)
		return NULL;
	for (i = 0; c[i] != '\0'; i++)
		if ((unsigned char)c[i] >= 0x80)
			c[i] = '?';
	j = json_string(c);
	free(c);
	return j;
}

static json_t *
audit_jhex(const ProtobufCBinaryData *bd)
{
	char hex[2 * 64 + 1];
	size_t n = bd->len < 64 ? bd->len : 64;

	if (n == 0 || bd->data == NULL)
		return json_string("");
	util_hex(bd->data, n, hex);
	return json_string(hex);
}

static int
audit_jset(json_t *o, const char *k, json_t *v)
{
	return v != NULL && json_object_set_new(o, k, v) == 0 ? 0 : -1;
}

static json_t *
audit_json(const EpAuditRecord *r)
{
	const EpPrincipal *p = r->actor;
	const char *role;
	json_t *o, *a;
	char t[40];

	if ((o = json_object()) == NULL)
		return NULL;
	if ((a = json_object()) == NULL)
		goto fail;
	role = wire_role_name(p != NULL ? p->role : 0);
	util_fmt_time(r->time, t, sizeof(t));
	if (audit_jset(a, "org", audit_jstr(p ? p->org : NULL)) == -1 ||
	    audit_jset(a, "subject", audit_jstr(p ? p->subject : NULL)) == -1 ||
	    audit_jset(a, "role", json_string(role ? role : "unspecified")) == -1 ||
	    audit_jset(a, "org_identifier",
	    audit_jstr(r->actor_org_identifier)) == -1 ||
	    audit_jset(a, "cert_serial", audit_jstr(r->cert_serial)) == -1) {
		json_decref(a);
		goto fail;
	}
	if (audit_jset(o, "seq", json_integer((json_int_t)r->seq)) == -1 ||
	    audit_jset(o, "time", json_string(t)) == -1 ||
	    audit_jset(o, "time_us", json_integer(r->time)) == -1 ||
	    audit_jset(o, "actor", a) == -1 ||
	    audit_jset(o, "action", audit_jstr(r->action)) == -1 ||
	    audit_jset(o, "household", audit_jstr(r->household_id)) == -1 ||
	    audit_jset(o, "outcome",
	    json_string(wire_code_name(r->outcome))) == -1 ||
	    audit_jset(o, "detail", audit_jstr(r->detail)) == -1 ||
	    audit_jset(o, "peer", audit_jstr(r->peer)) == -1 ||
	    audit_jset(o, "purpose", audit_jstr(r->purpose)) == -1 ||
	    audit_jset(o, "prev_hash", audit_jhex(&r->prev_hash)) == -1 ||
	    audit_jset(o, "hash", audit_jhex(&r->hash)) == -1)
		goto fail;
	if (r->actor_capacity != NULL && r->actor_capacity[0] != '\0' &&
	    audit_jset(o, "actor_capacity", audit_jstr(r->actor_capacity)) ==
	    -1)
		goto fail;
	if (r->n_listed_households > 0) {
		json_t *l;
		size_t i;

		if ((l = json_array()) == NULL || audit_jset(o,
		    "listed_households", l) == -1)
			goto fail;
		for (i = 0; i < r->n_listed_households; i++)
			if (json_array_append_new(l,
			    audit_jstr(r->listed_households[i])) != 0)
				goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

struct export_arg {
	FILE				*ea_fp;
	const struct audit_filter	*ea_filter;
	long				 ea_n;
	int				 ea_err;
};

static int
audit_export_one(const EpAuditRecord *r, void *arg)
{
	struct export_arg *ea = arg;
	json_t *o;
	int rc;

	if (!audit_filter_match(ea->ea_filter, r))
		return 0;
	if ((o = audit_json(r)) == NULL) {
		ea->ea_err = 1;
		return 1;
	}
	rc = json_dumpf(o, ea->ea_fp, JSON_COMPACT);
	json_decref(o);
	if (rc == -1 || fputc('\n', ea->ea_fp) == EOF) {
		ea->ea_err = 1;
		return 1;
	}
	ea->ea_n++;
	return 0;
}

long
audit_export_json(struct stxn *tx, FILE *fp, const struct audit_filter *f)
{
	struct export_arg ea;
	int rc;

	memset(&ea, 0, sizeof(ea));
	ea.ea_fp = fp;
	ea.ea_filter = f;
	rc = store_audit_scan(tx, f != NULL ? f->af_household : NULL,
	    f != NULL ? f->af_org : NULL, 0, audit_export_one, &ea);
	if (rc != STORE_OK) {
		log_warnx("audit export: %s", store_strerror(rc));
		return -1;
	}
	if (ea.ea_err || fflush(fp) == EOF || ferror(fp)) {
		log_warnx("audit export: write failed");
		return -1;
	}
	return ea.ea_n;
}
