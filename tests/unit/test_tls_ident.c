/*
 * Unit tests for daemon/tls.c: the identity decision on certificate chains
 * built here with the OpenSSL API (a root, org CAs, leaves, CRLs), and real
 * handshakes against tls_server_new() over an in-memory BIO pair.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "tls.h"
#include "wire.h"

#define ROLE_BIT(x)	(1u << EENPLAN__V1__ROLE__ROLE_##x)

struct ca {
	EVP_PKEY	*key;
	X509		*cert;
};

/* The PKI of every test: built once. */
static struct ca	 root, gemeente, lev, zorgboog, server, other_root;
static struct config	*cfg;
static X509		*org_cas[2];
static char		 dir[PATH_MAX];
static uint64_t		 next_serial = 0x1000;

/* ------------------------------------------------------------ building */

static EVP_PKEY *
mkkey(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

static void
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	assert_non_null(ex);
	assert_int_equal(X509_add_ext(x, ex, -1), 1);
	X509_EXTENSION_free(ex);
}

enum kind { K_ROOT, K_CA, K_CLIENT, K_SERVER };

/*
 * A certificate for key with subject "F=v,F=v,..." (an empty value is
 * allowed, a field may repeat), signed by issuer (NULL: self-signed).
 */
static X509 *
mkcert(EVP_PKEY *key, const struct ca *issuer, const char *subject,
    enum kind kind, uint64_t serial)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;
	char buf[512], *p, *e, *eq;

	assert_non_null(x);
	assert_non_null(name);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set_uint64(X509_get_serialNumber(x),
	    serial), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365));
	snprintf(buf, sizeof(buf), "%s", subject);
	for (p = buf; p != NULL && *p != '\0'; p = e) {
		if ((e = strchr(p, ',')) != NULL)
			*e++ = '\0';
		assert_non_null(eq = strchr(p, '='));
		*eq = '\0';
		/* UTF8String as is: no length limits, so tests can exceed them. */
		assert_int_equal(X509_NAME_add_entry_by_txt(name, p,
		    V_ASN1_UTF8STRING, (unsigned char *)eq + 1, -1, -1, 0), 1);
	}
	assert_int_equal(X509_set_subject_name(x, name), 1);
	X509_NAME_free(name);
	assert_int_equal(X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer->cert) : X509_get_subject_name(x)), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);

	X509V3_set_ctx(&v3, issuer != NULL ? issuer->cert : x, x, NULL, NULL,
	    0);
	X509V3_set_ctx_nodb(&v3);
	add_ext(x, &v3, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
	switch (kind) {
	case K_ROOT:
	case K_CA:
		add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
		break;
	case K_CLIENT:
		add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, &v3, NID_key_usage, "critical,digitalSignature");
		add_ext(x, &v3, NID_ext_key_usage, "clientAuth");
		break;
	case K_SERVER:
		add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, &v3, NID_key_usage, "critical,digitalSignature");
		add_ext(x, &v3, NID_ext_key_usage, "serverAuth");
		add_ext(x, &v3, NID_subject_alt_name, "DNS:localhost");
		break;
	default:
		fail();
	}
	assert_int_not_equal(X509_sign(x, issuer != NULL ? issuer->key : key,
	    EVP_sha256()), 0);
	return x;
}

static void
mkca(struct ca *ca, const struct ca *issuer, const char *subject)
{
	ca->key = mkkey();
	ca->cert = mkcert(ca->key, issuer, subject,
	    issuer == NULL ? K_ROOT : K_CA, next_serial++);
}

/* A person's or system's certificate under issuer. */
static void
mkleaf(struct ca *leaf, const struct ca *issuer, const char *subject,
    uint64_t serial)
{
	leaf->key = mkkey();
	leaf->cert = mkcert(leaf->key, issuer, subject, K_CLIENT, serial);
}

static void
ca_free(struct ca *ca)
{
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	ca->cert = NULL;
	ca->key = NULL;
}

/* A CRL of ca revoking the n serials. */
static X509_CRL *
mkcrl(const struct ca *ca, const uint64_t *serials, size_t n)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now, *next;
	size_t i;

	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl,
	    X509_get_subject_name(ca->cert)), 1);
	now = ASN1_TIME_adj(NULL, time(NULL), 0, -3600);
	next = ASN1_TIME_adj(NULL, time(NULL), 1, 0);
	assert_non_null(now);
	assert_non_null(next);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, now), 1);
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, next), 1);
	for (i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *ai = ASN1_INTEGER_new();

		assert_non_null(r);
		assert_non_null(ai);
		assert_int_equal(ASN1_INTEGER_set_uint64(ai, serials[i]), 1);
		assert_int_equal(X509_REVOKED_set_serialNumber(r, ai), 1);
		assert_int_equal(X509_REVOKED_set_revocationDate(r, now), 1);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
		ASN1_INTEGER_free(ai);
	}
	assert_int_equal(X509_CRL_sort(crl), 1);
	assert_int_not_equal(X509_CRL_sign(crl, ca->key, EVP_sha256()), 0);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	return crl;
}

/* ------------------------------------------------------------ files */

static void
path_of(char *out, size_t outlen, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < outlen);
}

static FILE *
create(const char *name, mode_t mode)
{
	char path[PATH_MAX];
	FILE *fp;
	int fd;

	path_of(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_int_not_equal(fd, -1);
	assert_int_equal(fchmod(fd, mode), 0);	/* whatever the umask */
	assert_non_null(fp = fdopen(fd, "w"));
	return fp;
}

static void
chmod_in(const char *name, mode_t mode)
{
	char path[PATH_MAX];

	path_of(path, sizeof(path), name);
	assert_int_equal(chmod(path, mode), 0);
}

static void
write_cert(const char *name, X509 *x)
{
	FILE *fp = create(name, 0644);

	assert_int_equal(PEM_write_X509(fp, x), 1);
	assert_int_equal(fclose(fp), 0);
}

static void
write_key(const char *name, EVP_PKEY *k, mode_t mode)
{
	FILE *fp = create(name, mode);

	assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	assert_int_equal(fclose(fp), 0);
}

static void
write_crls(const char *name, X509_CRL **crls, size_t n)
{
	FILE *fp = create(name, 0644);
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509_CRL(fp, crls[i]), 1);
	assert_int_equal(fclose(fp), 0);
}

static const char *const files[] = {
	"root.crt", "gemeente.crt", "lev.crt", "server.crt", "server.key",
	"server-0644.key", "server-0640.key", "server-0602.key",
	"server-0400.key", "crl.pem", "crl-nolev.pem", "other-root.crt",
	"notca.crt", "empty.pem"
};

/* ------------------------------------------------------------ fixture */

static void
config_set(struct config *c)
{
	config_defaults(c);
	path_of(c->c_cert_file, sizeof(c->c_cert_file), "server.crt");
	path_of(c->c_key_file, sizeof(c->c_key_file), "server.key");
	path_of(c->c_ca_file, sizeof(c->c_ca_file), "root.crt");
	c->c_norgs = 2;
	snprintf(c->c_orgs[0].co_id, sizeof(c->c_orgs[0].co_id), "gemeente");
	snprintf(c->c_orgs[0].co_name, sizeof(c->c_orgs[0].co_name),
	    "Gemeente Helmond");
	snprintf(c->c_orgs[0].co_identifier,
	    sizeof(c->c_orgs[0].co_identifier), "OIN:99990000000000000001");
	path_of(c->c_orgs[0].co_ca_file, sizeof(c->c_orgs[0].co_ca_file),
	    "gemeente.crt");
	c->c_orgs[0].co_roles = ROLE_BIT(PROFESSIONAL) | ROLE_BIT(SYSTEM) |
	    ROLE_BIT(AUDITOR);
	snprintf(c->c_orgs[1].co_id, sizeof(c->c_orgs[1].co_id), "lev");
	snprintf(c->c_orgs[1].co_name, sizeof(c->c_orgs[1].co_name),
	    "LEVgroep");
	snprintf(c->c_orgs[1].co_identifier,
	    sizeof(c->c_orgs[1].co_identifier), "KvK:99990002");
	path_of(c->c_orgs[1].co_ca_file, sizeof(c->c_orgs[1].co_ca_file),
	    "lev.crt");
	c->c_orgs[1].co_roles = ROLE_BIT(PROFESSIONAL) | ROLE_BIT(SYSTEM);
}

#define REVOKED_SERIAL	0x7777

static int
group_setup(void **state)
{
	const char *t = getenv("TMPDIR");
	X509_CRL *crls[3];
	const uint64_t revoked[] = { 0x5555, REVOKED_SERIAL };
	FILE *fp;
	size_t i;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/test_tls.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;

	mkca(&root, NULL, "CN=eenplan test root");
	mkca(&gemeente, &root, "O=gemeente,CN=Gemeente Helmond CA");
	mkca(&lev, &root, "O=lev,CN=LEVgroep CA");
	mkca(&zorgboog, &root, "O=zorgboog,CN=Zorgboog CA");
	mkca(&other_root, NULL, "CN=eenplan test root");	/* same name */
	server.key = mkkey();
	server.cert = mkcert(server.key, &root, "CN=localhost", K_SERVER,
	    next_serial++);
	org_cas[0] = gemeente.cert;
	org_cas[1] = lev.cert;

	write_cert("root.crt", root.cert);
	write_cert("gemeente.crt", gemeente.cert);
	write_cert("lev.crt", lev.cert);
	write_cert("other-root.crt", other_root.cert);
	write_cert("server.crt", server.cert);
	write_cert("notca.crt", server.cert);
	write_key("server.key", server.key, 0600);
	write_key("server-0644.key", server.key, 0644);
	write_key("server-0640.key", server.key, 0640);
	write_key("server-0602.key", server.key, 0602);
	write_key("server-0400.key", server.key, 0600);
	chmod_in("server-0400.key", 0400);
	fp = create("empty.pem", 0644);
	fclose(fp);

	crls[0] = mkcrl(&root, NULL, 0);
	crls[1] = mkcrl(&gemeente, revoked, 2);
	crls[2] = mkcrl(&lev, NULL, 0);
	write_crls("crl.pem", crls, 3);
	write_crls("crl-nolev.pem", crls, 2);
	for (i = 0; i < 3; i++)
		X509_CRL_free(crls[i]);

	if ((cfg = malloc(sizeof(*cfg))) == NULL)
		return -1;
	config_set(cfg);
	return 0;
}

static int
group_teardown(void **state)
{
	char path[PATH_MAX + 64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	ca_free(&root);
	ca_free(&gemeente);
	ca_free(&lev);
	ca_free(&zorgboog);
	ca_free(&other_root);
	ca_free(&server);
	free(cfg);
	return rmdir(dir);
}

/* ------------------------------------------------- tls_identify_chain */

/* Runs tls_identify_chain on leaf + its chain; 0 or -1, err filled. */
static int
identify(X509 *leaf, X509 *issuer, X509 *top, struct principal *pr,
    char *err, size_t errlen)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	int rc;

	assert_non_null(chain);
	if (leaf != NULL)
		assert_true(sk_X509_push(chain, leaf) > 0);
	if (issuer != NULL)
		assert_true(sk_X509_push(chain, issuer) > 0);
	if (top != NULL)
		assert_true(sk_X509_push(chain, top) > 0);
	memset(pr, 0, sizeof(*pr));
	snprintf(pr->pr_peer, sizeof(pr->pr_peer), "192.0.2.1:50000");
	err[0] = '\0';
	rc = tls_identify_chain(chain, org_cas, cfg, pr, err, errlen);
	sk_X509_free(chain);
	return rc;
}

/* A leaf under issuer with subject must be refused with needle in err. */
static void
expect_refused(const struct ca *issuer, const char *subject,
    const char *needle)
{
	struct principal pr;
	struct ca leaf;
	char err[512];

	mkleaf(&leaf, issuer, subject, next_serial++);
	if (identify(leaf.cert, issuer->cert, root.cert, &pr, err,
	    sizeof(err)) != -1)
		fail_msg("accepted: %s", subject);
	if (strstr(err, needle) == NULL)
		fail_msg("%s: error \"%s\" lacks \"%s\"", subject, err, needle);
	assert_string_equal(pr.pr_org, "");
	assert_string_equal(pr.pr_subject, "");
	ca_free(&leaf);
}

static void
test_identify_ok(void **state)
{
	struct principal pr;
	struct ca leaf;
	char err[512], subj[128];

	(void)state;
	mkleaf(&leaf, &gemeente, "O=gemeente,OU=professional,CN=a.devries",
	    0x1A2B3C4D5EULL);
	if (identify(leaf.cert, gemeente.cert, root.cert, &pr, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(pr.pr_org, "gemeente");
	assert_string_equal(pr.pr_subject, "a.devries");
	assert_int_equal(pr.pr_role, EENPLAN__V1__ROLE__ROLE_PROFESSIONAL);
	assert_string_equal(pr.pr_org_identifier, "OIN:99990000000000000001");
	assert_string_equal(pr.pr_serial, "1a2b3c4d5e");
	assert_string_equal(pr.pr_peer, "192.0.2.1:50000");	/* untouched */

	/* Without the root in the chain: only leaf and issuer matter. */
	if (identify(leaf.cert, gemeente.cert, NULL, &pr, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(pr.pr_subject, "a.devries");
	ca_free(&leaf);

	/* The other org, another role, a CN of exactly 64 characters. */
	snprintf(subj, sizeof(subj), "CN=lev-crm_%054d.x,OU=system,O=lev", 7);
	mkleaf(&leaf, &lev, subj, 0xFF);
	if (identify(leaf.cert, lev.cert, root.cert, &pr, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(pr.pr_org, "lev");
	assert_int_equal(strlen(pr.pr_subject), 64);
	assert_int_equal(pr.pr_role, EENPLAN__V1__ROLE__ROLE_SYSTEM);
	assert_string_equal(pr.pr_org_identifier, "KvK:99990002");
	assert_string_equal(pr.pr_serial, "ff");
	ca_free(&leaf);
}

static void
test_identify_wrong_org(void **state)
{
	(void)state;
	/* The organisation is the issuer's, never the leaf's claim. */
	expect_refused(&gemeente, "O=lev,OU=professional,CN=x",
	    "claims organisation lev but was issued by gemeente");
	expect_refused(&lev, "O=gemeente,OU=professional,CN=x",
	    "claims organisation gemeente but was issued by lev");
	expect_refused(&gemeente, "O=Gemeente,OU=professional,CN=x",
	    "claims organisation");
	expect_refused(&gemeente, "O=gemeente,O=gemeente,OU=professional,CN=x",
	    "more than once");
	expect_refused(&gemeente, "O=gemeente,O=lev,OU=professional,CN=x",
	    "more than once");
	expect_refused(&gemeente, "OU=professional,CN=x", "missing");
}

static void
test_identify_role(void **state)
{
	(void)state;
	expect_refused(&gemeente, "O=gemeente,OU=client,CN=x",
	    "may not issue role client");
	expect_refused(&lev, "O=lev,OU=auditor,CN=x",
	    "may not issue role auditor");
	expect_refused(&gemeente, "O=gemeente,OU=admin,CN=x",
	    "not a known role");
	expect_refused(&gemeente, "O=gemeente,OU=Professional,CN=x",
	    "not a known role");
	expect_refused(&gemeente, "O=gemeente,OU=,CN=x", "not a known role");
	expect_refused(&gemeente, "O=gemeente,CN=x", "role (OU) missing");
	expect_refused(&gemeente, "O=gemeente,OU=professional,OU=auditor,CN=x",
	    "more than once");
}

static void
test_identify_cn(void **state)
{
	(void)state;
	expect_refused(&gemeente, "O=gemeente,OU=professional",
	    "subject (CN) missing");
	expect_refused(&gemeente, "O=gemeente,OU=professional,CN=a devries",
	    "subject (CN)");
	expect_refused(&gemeente, "O=gemeente,OU=professional,CN=a/b",
	    "subject (CN)");
	expect_refused(&gemeente, "O=gemeente,OU=professional,CN=d\xc3\xa9",
	    "subject (CN)");
	expect_refused(&gemeente, "O=gemeente,OU=professional,CN=",
	    "subject (CN)");
	expect_refused(&gemeente, "O=gemeente,OU=professional,CN=a,CN=b",
	    "more than once");
	expect_refused(&gemeente, "O=gemeente,OU=professional,CN="
	    "x1234567890123456789012345678901234567890123456789012345678901234",
	    "subject (CN)");
}

static void
test_identify_issuer(void **state)
{
	struct principal pr;
	struct ca leaf, fake;
	char err[512];

	(void)state;
	/* A third CA under the same root, not in the config. */
	expect_refused(&zorgboog, "O=zorgboog,OU=professional,CN=x",
	    "issuer is not an organisation CA");
	/* Issued by the root directly. */
	expect_refused(&root, "O=gemeente,OU=professional,CN=x",
	    "issuer is not an organisation CA");

	/* A CA with the gemeente CA's name and another key. */
	mkca(&fake, &root, "O=gemeente,CN=Gemeente Helmond CA");
	mkleaf(&leaf, &fake, "O=gemeente,OU=professional,CN=x", 1);
	assert_int_equal(identify(leaf.cert, fake.cert, root.cert, &pr, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "issuer is not an organisation CA"));
	/* ... presented as if the real one issued it. */
	assert_int_equal(identify(leaf.cert, gemeente.cert, root.cert, &pr,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not issued by"));
	ca_free(&leaf);
	ca_free(&fake);

	/* A lev leaf behind the gemeente CA. */
	mkleaf(&leaf, &lev, "O=gemeente,OU=professional,CN=x", 2);
	assert_int_equal(identify(leaf.cert, gemeente.cert, root.cert, &pr,
	    err, sizeof(err)), -1);
	ca_free(&leaf);

	/* A CA certificate used as a leaf. */
	mkca(&fake, &gemeente, "O=gemeente,OU=professional,CN=x");
	assert_int_equal(identify(fake.cert, gemeente.cert, root.cert, &pr,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CA certificate"));
	ca_free(&fake);
}

static void
test_identify_short_chain(void **state)
{
	struct principal pr;
	struct ca leaf;
	char err[512];

	(void)state;
	mkleaf(&leaf, &gemeente, "O=gemeente,OU=professional,CN=x", 3);
	assert_int_equal(identify(leaf.cert, NULL, NULL, &pr, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "too short"));
	assert_int_equal(identify(NULL, NULL, NULL, &pr, err, sizeof(err)),
	    -1);
	assert_int_equal(tls_identify_chain(NULL, org_cas, cfg, &pr, err,
	    sizeof(err)), -1);
	ca_free(&leaf);
}

/* -------------------------------------------------------------- teams */

/* A DER buffer, built inside out. */
struct der {
	unsigned char	b[8192];
	size_t		n;
};

/* Appends tag, length and content to o. */
static void
der_add(struct der *o, unsigned char tag, const void *p, size_t len)
{
	assert_true(o->n + len + 4 < sizeof(o->b));
	o->b[o->n++] = tag;
	if (len < 0x80)
		o->b[o->n++] = (unsigned char)len;
	else if (len < 0x100) {
		o->b[o->n++] = 0x81;
		o->b[o->n++] = (unsigned char)len;
	} else {
		o->b[o->n++] = 0x82;
		o->b[o->n++] = (unsigned char)(len >> 8);
		o->b[o->n++] = (unsigned char)len;
	}
	memcpy(o->b + o->n, p, len);
	o->n += len;
}

static void
der_wrap(struct der *o, unsigned char tag, const struct der *in)
{
	der_add(o, tag, in->b, in->n);
}

static const unsigned char oid_group[] = {
	0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x0a, 0x04
};
static const unsigned char oid_other[] = { 0x55, 0x04, 0x0c };	/* title */

/* An Attribute { oid, SET { IetfAttrSyntax { values: names } } }. */
static void
der_group_attr(struct der *o, const unsigned char *oid, size_t oidlen,
    const char *const *names, size_t n, int policy_authority)
{
	struct der vals = { .n = 0 }, ietf = { .n = 0 }, set = { .n = 0 },
	    attr = { .n = 0 }, pa = { .n = 0 };
	size_t i;

	for (i = 0; i < n; i++)
		der_add(&vals, 0x0c, names[i], strlen(names[i]));
	if (policy_authority) {
		der_add(&pa, 0x86, "https://example.org", 19);	/* URI */
		der_wrap(&ietf, 0xa0, &pa);
	}
	der_wrap(&ietf, 0x30, &vals);
	der_wrap(&set, 0x30, &ietf);
	der_add(&attr, 0x06, oid, oidlen);
	der_wrap(&attr, 0x31, &set);
	der_wrap(o, 0x30, &attr);
}

/* subjectDirectoryAttributes with one Group attribute of names. */
static void
der_sda(struct der *o, const char *const *names, size_t n)
{
	struct der attrs = { .n = 0 };

	der_group_attr(&attrs, oid_group, sizeof(oid_group), names, n, 0);
	der_wrap(o, 0x30, &attrs);
}

/* A leaf under gemeente with a subjectDirectoryAttributes of der (raw). */
static void
mkleaf_sda(struct ca *leaf, const unsigned char *der, size_t len, int twice)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ex;

	mkleaf(leaf, &gemeente, "O=gemeente,OU=professional,CN=j.jansen",
	    next_serial++);
	assert_non_null(os);
	assert_int_equal(ASN1_OCTET_STRING_set(os, der, (int)len), 1);
	ex = X509_EXTENSION_create_by_NID(NULL,
	    NID_subject_directory_attributes, 0, os);
	assert_non_null(ex);
	assert_int_equal(X509_add_ext(leaf->cert, ex, -1), 1);
	if (twice)
		assert_int_equal(X509_add_ext(leaf->cert, ex, -1), 1);
	X509_EXTENSION_free(ex);
	ASN1_OCTET_STRING_free(os);
	assert_int_not_equal(X509_sign(leaf->cert, gemeente.key,
	    EVP_sha256()), 0);
}

/* Identifies a leaf with the given SDA bytes: 0 or -1, err set. */
static int
identify_sda(const unsigned char *der, size_t len, int twice,
    struct principal *pr, char *err, size_t errlen)
{
	struct ca leaf;
	int rc;

	mkleaf_sda(&leaf, der, len, twice);
	rc = identify(leaf.cert, gemeente.cert, root.cert, pr, err, errlen);
	ca_free(&leaf);
	return rc;
}

static void
expect_teams_refused(const struct der *d, int twice, const char *needle)
{
	struct principal pr;
	char err[512];

	if (identify_sda(d->b, d->n, twice, &pr, err, sizeof(err)) != -1)
		fail_msg("accepted teams (want \"%s\")", needle);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
	assert_string_equal(pr.pr_subject, "");
}

static void
expect_names_refused(const char *const *names, size_t n, const char *needle)
{
	struct der d = { .n = 0 };

	der_sda(&d, names, n);
	expect_teams_refused(&d, 0, needle);
}

static void
test_identify_teams(void **state)
{
	static const char *const two[] = { "bms", "noord" };
	static const char *const eight[] = { "a", "b", "c", "d", "e", "f",
	    "g", "x1234567890123456789012345678901" };	/* 32 chars */
	static const char *const nine[] = { "a", "b", "c", "d", "e", "f",
	    "g", "h", "i" };
	struct principal pr;
	struct ca leaf;
	struct der d = { .n = 0 }, attrs = { .n = 0 };
	char err[512];
	int i;

	(void)state;
	/* No extension: no teams. */
	mkleaf(&leaf, &gemeente, "O=gemeente,OU=professional,CN=a", 77);
	if (identify(leaf.cert, gemeente.cert, root.cert, &pr, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(pr.pr_nteams, 0);
	ca_free(&leaf);

	der_sda(&d, two, 2);
	if (identify_sda(d.b, d.n, 0, &pr, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(pr.pr_subject, "j.jansen");
	assert_int_equal(pr.pr_nteams, 2);
	assert_string_equal(pr.pr_teams[0], "bms");
	assert_string_equal(pr.pr_teams[1], "noord");

	/* The most teams, the longest name. */
	d.n = 0;
	der_sda(&d, eight, 8);
	if (identify_sda(d.b, d.n, 0, &pr, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(pr.pr_nteams, 8);
	assert_string_equal(pr.pr_teams[7], eight[7]);

	/* Other attributes are ignored; a policy authority too; two Group
	 * attributes add up. */
	der_group_attr(&attrs, oid_other, sizeof(oid_other), two, 1, 0);
	der_group_attr(&attrs, oid_group, sizeof(oid_group), two, 1, 1);
	der_group_attr(&attrs, oid_group, sizeof(oid_group), two + 1, 1, 0);
	d.n = 0;
	der_wrap(&d, 0x30, &attrs);
	if (identify_sda(d.b, d.n, 0, &pr, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(pr.pr_nteams, 2);
	assert_string_equal(pr.pr_teams[0], "bms");
	assert_string_equal(pr.pr_teams[1], "noord");

	/* Names outside 1..32 of [a-z0-9-]. */
	{
		static const char *const bad[] = { "BMS", "a b", "", "team_1",
		    "x12345678901234567890123456789012", "d\xc3\xa9", "a/b" };

		for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++)
			expect_names_refused(bad + i, 1, "is not 1..32");
	}
	expect_names_refused(nine, 9, "more than 8 teams");
	{
		static const char *const dup[] = { "bms", "noord", "bms" };

		expect_names_refused(dup, 3, "team bms more than once");
	}

	/* A value of another CHOICE (octets). */
	{
		struct der vals = { .n = 0 }, ietf = { .n = 0 },
		    set = { .n = 0 }, attr = { .n = 0 }, a2 = { .n = 0 };

		der_add(&vals, 0x04, "bms", 3);
		der_wrap(&ietf, 0x30, &vals);
		der_wrap(&set, 0x30, &ietf);
		der_add(&attr, 0x06, oid_group, sizeof(oid_group));
		der_wrap(&attr, 0x31, &set);
		der_wrap(&a2, 0x30, &attr);
		d.n = 0;
		der_wrap(&d, 0x30, &a2);
		expect_teams_refused(&d, 0, "not a UTF8String");
	}

	/* Malformed encodings. */
	d.n = 0;
	der_sda(&d, two, 2);
	d.b[1] += 1;				/* outer length too long */
	expect_teams_refused(&d, 0, "malformed");
	d.n = 0;
	der_sda(&d, two, 2);
	d.b[d.n++] = 0x00;			/* trailing byte */
	expect_teams_refused(&d, 0, "malformed");
	d.n = 0;
	der_sda(&d, two, 2);
	d.b[0] = 0x31;				/* a SET, not a SEQUENCE */
	expect_teams_refused(&d, 0, "malformed");
	{
		static const unsigned char indef[] = { 0x30, 0x80, 0x00, 0x00 };
		static const unsigned char empty_vals[] = { 0x30, 0x12, 0x30,
		    0x10, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x0a,
		    0x04, 0x31, 0x04, 0x30, 0x02, 0x30, 0x00 };
		static const unsigned char hugelen[] = { 0x30, 0x84, 0xff, 0xff,
		    0xff, 0xff };

		memcpy(d.b, indef, sizeof(indef));
		d.n = sizeof(indef);
		expect_teams_refused(&d, 0, "malformed");
		memcpy(d.b, empty_vals, sizeof(empty_vals));
		d.n = sizeof(empty_vals);
		expect_teams_refused(&d, 0, "malformed");
		memcpy(d.b, hugelen, sizeof(hugelen));
		d.n = sizeof(hugelen);
		expect_teams_refused(&d, 0, "malformed");
	}
	/* Every truncation of a good encoding is refused, never read past. */
	{
		struct der full = { .n = 0 };
		size_t cut;

		der_sda(&full, two, 2);
		for (cut = 0; cut < full.n; cut++) {
			d.n = cut;
			memcpy(d.b, full.b, cut);
			expect_teams_refused(&d, 0, "malformed");
		}
	}
	/* The extension twice. */
	d.n = 0;
	der_sda(&d, two, 2);
	expect_teams_refused(&d, 1, "more than once");
}

/* --------------------------------------------------------- handshakes */

struct hs {
	SSL	*s;
	SSL	*c;
	int	 s_ok;
	int	 c_ok;
};

static int
want(SSL *ssl, int rc)
{
	int e = SSL_get_error(ssl, rc);

	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* Drives both ends over a BIO pair until both are done or one failed. */
static void
handshake(SSL_CTX *sctx, SSL_CTX *cctx, struct hs *hs)
{
	BIO *sb, *cb;
	int i, rc, s_fail = 0, c_fail = 0;

	memset(hs, 0, sizeof(*hs));
	assert_int_equal(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
	assert_non_null(hs->s = SSL_new(sctx));
	assert_non_null(hs->c = SSL_new(cctx));
	SSL_set_bio(hs->s, sb, sb);
	SSL_set_bio(hs->c, cb, cb);
	SSL_set_accept_state(hs->s);
	SSL_set_connect_state(hs->c);
	for (i = 0; i < 50 && !(hs->s_ok && hs->c_ok) && !s_fail; i++) {
		if (!hs->c_ok && !c_fail) {
			rc = SSL_do_handshake(hs->c);
			if (rc == 1)
				hs->c_ok = 1;
			else if (!want(hs->c, rc))
				c_fail = 1;
		}
		if (!hs->s_ok) {
			rc = SSL_do_handshake(hs->s);
			if (rc == 1)
				hs->s_ok = 1;
			else if (!want(hs->s, rc))
				s_fail = 1;
		}
		if (c_fail && !hs->s_ok && i > 5)
			break;
	}
	ERR_clear_error();
}

static void
hs_free(struct hs *hs)
{
	SSL_free(hs->s);
	SSL_free(hs->c);
}

/* A client context trusting the root, with leaf (may be NULL) and ALPN. */
static SSL_CTX *
client_ctx(const struct ca *leaf, const char *alpn, int maxver)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	unsigned char protos[64];
	size_t n;

	assert_non_null(c);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(c),
	    root.cert), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	if (maxver != 0)
		assert_int_equal(SSL_CTX_set_max_proto_version(c, maxver), 1);
	if (leaf != NULL) {
		assert_int_equal(SSL_CTX_use_certificate(c, leaf->cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(c, leaf->key), 1);
	}
	if (alpn != NULL) {
		n = strlen(alpn);
		assert_true(n > 0 && n < sizeof(protos) - 1);
		protos[0] = (unsigned char)n;
		memcpy(protos + 1, alpn, n);
		/* 0 is success here. */
		assert_int_equal(SSL_CTX_set_alpn_protos(c, protos,
		    (unsigned)n + 1), 0);
	}
	return c;
}

static struct tls_server *
server_new(const struct config *c)
{
	struct tls_server *ts;
	char err[512];

	if ((ts = tls_server_new(c, err, sizeof(err))) == NULL)
		fail_msg("tls_server_new: %s", err);
	return ts;
}

static void
test_handshake_ok(void **state)
{
	struct tls_server *ts = server_new(cfg);
	struct principal pr;
	struct ca leaf;
	struct hs hs;
	SSL_CTX *c;
	const unsigned char *sel;
	unsigned int sellen;
	char err[512];
	int ver;

	(void)state;
	mkleaf(&leaf, &gemeente, "O=gemeente,OU=auditor,CN=privacy.gemeente",
	    0xABCDEF);
	for (ver = 0; ver < 2; ver++) {
		c = client_ctx(&leaf, WIRE_ALPN, ver ? TLS1_2_VERSION : 0);
		handshake(tls_server_ctx(ts), c, &hs);
		assert_true(hs.s_ok);
		assert_true(hs.c_ok);
		assert_int_equal(SSL_version(hs.s), ver ? TLS1_2_VERSION :
		    TLS1_3_VERSION);
		SSL_get0_alpn_selected(hs.s, &sel, &sellen);
		assert_int_equal(sellen, strlen(WIRE_ALPN));
		assert_memory_equal(sel, WIRE_ALPN, sellen);
		memset(&pr, 0, sizeof(pr));
		if (tls_identify(ts, hs.s, cfg, &pr, err, sizeof(err)) != 0)
			fail_msg("tls_identify: %s", err);
		assert_string_equal(pr.pr_org, "gemeente");
		assert_string_equal(pr.pr_subject, "privacy.gemeente");
		assert_int_equal(pr.pr_role, EENPLAN__V1__ROLE__ROLE_AUDITOR);
		assert_string_equal(pr.pr_serial, "abcdef");
		assert_string_equal(pr.pr_org_identifier,
		    "OIN:99990000000000000001");
		/* No resumption: nothing to resume from. */
		assert_int_equal(SSL_session_reused(hs.s), 0);
		hs_free(&hs);
		SSL_CTX_free(c);
	}

	/* A client that offers no ALPN at all is served. */
	c = client_ctx(&leaf, NULL, 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_true(hs.s_ok);
	assert_int_equal(tls_identify(ts, hs.s, cfg, &pr, err, sizeof(err)),
	    0);
	hs_free(&hs);
	SSL_CTX_free(c);

	ca_free(&leaf);
	tls_server_free(ts);
}

/* A chain that verifies but a leaf that lies: the handshake completes,
 * the identity is refused. */
static void
test_handshake_lying_leaf(void **state)
{
	struct tls_server *ts = server_new(cfg);
	struct principal pr;
	struct ca leaf;
	struct hs hs;
	SSL_CTX *c;
	char err[512];

	(void)state;
	mkleaf(&leaf, &gemeente, "O=lev,OU=professional,CN=s.bakker", 42);
	c = client_ctx(&leaf, WIRE_ALPN, 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_true(hs.s_ok);
	assert_int_equal(tls_identify(ts, hs.s, cfg, &pr, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "claims organisation lev"));
	hs_free(&hs);
	SSL_CTX_free(c);
	ca_free(&leaf);
	tls_server_free(ts);
}

static void
test_handshake_no_cert(void **state)
{
	struct tls_server *ts = server_new(cfg);
	struct principal pr;
	struct hs hs;
	SSL_CTX *c;
	char err[512];
	int ver;

	(void)state;
	/* TLS 1.3 (the client may think it is done) and 1.2. */
	for (ver = 0; ver < 2; ver++) {
		c = client_ctx(NULL, WIRE_ALPN, ver ? TLS1_2_VERSION : 0);
		handshake(tls_server_ctx(ts), c, &hs);
		assert_false(hs.s_ok);
		assert_int_equal(tls_identify(ts, hs.s, cfg, &pr, err,
		    sizeof(err)), -1);
		hs_free(&hs);
		SSL_CTX_free(c);
	}
	tls_server_free(ts);
}

static void
test_handshake_alpn(void **state)
{
	struct tls_server *ts = server_new(cfg);
	struct ca leaf;
	struct hs hs;
	SSL_CTX *c;

	(void)state;
	mkleaf(&leaf, &gemeente, "O=gemeente,OU=professional,CN=x", 43);
	/* ALPN offered without eenplan/1. */
	c = client_ctx(&leaf, "h2", 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_false(hs.s_ok);
	hs_free(&hs);
	SSL_CTX_free(c);
	c = client_ctx(&leaf, "eenplan/2", 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_false(hs.s_ok);
	hs_free(&hs);
	SSL_CTX_free(c);
	ca_free(&leaf);
	tls_server_free(ts);
}

static void
test_handshake_weak_protocol(void **state)
{
	struct tls_server *ts = server_new(cfg);
	struct ca leaf;
	struct hs hs;
	SSL_CTX *c;

	(void)state;
	mkleaf(&leaf, &gemeente, "O=gemeente,OU=professional,CN=x", 45);
	/* TLS 1.2 without ECDHE+AEAD. */
	c = client_ctx(&leaf, WIRE_ALPN, TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_set_cipher_list(c,
	    "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:"
	    "AES128-GCM-SHA256"), 1);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_false(hs.s_ok);
	hs_free(&hs);
	SSL_CTX_free(c);

	/* TLS 1.1. */
	c = client_ctx(&leaf, WIRE_ALPN, TLS1_1_VERSION);
	SSL_CTX_set_security_level(c, 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_false(hs.s_ok);
	hs_free(&hs);
	SSL_CTX_free(c);
	ca_free(&leaf);
	tls_server_free(ts);
}

static void
test_handshake_untrusted(void **state)
{
	struct tls_server *ts = server_new(cfg);
	struct ca leaf, alien;
	struct hs hs;
	SSL_CTX *c;

	(void)state;
	/* A leaf from a look-alike CA the server does not trust at all. */
	mkca(&alien, NULL, "O=gemeente,CN=Gemeente Helmond CA");
	mkleaf(&leaf, &alien, "O=gemeente,OU=professional,CN=x", 44);
	c = client_ctx(&leaf, WIRE_ALPN, 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_false(hs.s_ok);
	assert_int_not_equal(SSL_get_verify_result(hs.s), X509_V_OK);
	hs_free(&hs);
	SSL_CTX_free(c);
	ca_free(&alien);
	ca_free(&leaf);
	tls_server_free(ts);
}

static void
test_handshake_revoked(void **state)
{
	struct config *c2 = malloc(sizeof(*c2));
	struct tls_server *ts;
	struct principal pr;
	struct ca leaf, good, levleaf;
	struct hs hs;
	SSL_CTX *c;
	char err[512];

	(void)state;
	assert_non_null(c2);
	config_set(c2);
	path_of(c2->c_crl_file, sizeof(c2->c_crl_file), "crl.pem");
	ts = server_new(c2);

	mkleaf(&leaf, &gemeente, "O=gemeente,OU=professional,CN=revoked",
	    REVOKED_SERIAL);
	c = client_ctx(&leaf, WIRE_ALPN, 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_false(hs.s_ok);
	assert_int_equal(SSL_get_verify_result(hs.s), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(tls_identify(ts, hs.s, c2, &pr, err, sizeof(err)),
	    -1);
	hs_free(&hs);
	SSL_CTX_free(c);

	/* The same CA's other leaves, and the other org's, still pass. */
	mkleaf(&good, &gemeente, "O=gemeente,OU=professional,CN=good",
	    REVOKED_SERIAL + 1);
	c = client_ctx(&good, WIRE_ALPN, 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_true(hs.s_ok);
	if (tls_identify(ts, hs.s, c2, &pr, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(pr.pr_subject, "good");
	hs_free(&hs);
	SSL_CTX_free(c);

	mkleaf(&levleaf, &lev, "O=lev,OU=professional,CN=s.bakker",
	    REVOKED_SERIAL);
	c = client_ctx(&levleaf, WIRE_ALPN, 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_true(hs.s_ok);
	hs_free(&hs);
	SSL_CTX_free(c);

	/* Without CRLs the revoked leaf would have passed: the CRL did it. */
	tls_server_free(ts);
	ts = server_new(cfg);
	c = client_ctx(&leaf, WIRE_ALPN, 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_true(hs.s_ok);
	hs_free(&hs);
	SSL_CTX_free(c);

	ca_free(&leaf);
	ca_free(&good);
	ca_free(&levleaf);
	tls_server_free(ts);
	free(c2);
}

/*
 * The first session a client was given on its last connection (its
 * new-session callback). Not a later one: the client's current session
 * also counts as used once the connection ends.
 */
static SSL_SESSION *new_session;

static int
client_new_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	if (new_session == NULL)
		new_session = sess;
	else
		SSL_SESSION_free(sess);
	return 1;	/* ours now */
}

/* A clean close: a client drops a session it did not close cleanly. */
static void
hs_close(struct hs *hs)
{
	(void)SSL_shutdown(hs->c);
	ERR_clear_error();
	hs_free(hs);
}

/* A client context that keeps its sessions for resumption. */
static SSL_CTX *
client_ctx_resume(const struct ca *leaf, int maxver)
{
	SSL_CTX *c = client_ctx(leaf, WIRE_ALPN, maxver);

	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c, client_new_session);
	return c;
}

/* The client's session after the handshake (TLS 1.3: read the ticket). */
static SSL_SESSION *
client_session(struct hs *hs)
{
	unsigned char buf[1];
	SSL_SESSION *sess;

	(void)SSL_read(hs->c, buf, sizeof(buf));	/* WANT_READ */
	ERR_clear_error();
	sess = new_session;
	new_session = NULL;
	return sess;
}

/* After a handshake: the newest ticket replaces *sess, if one came. */
static void
next_session(struct hs *hs, SSL_SESSION **sess)
{
	SSL_SESSION *s2 = client_session(hs);

	/* TLS 1.2 gives a renewed ticket to no callback on a resumption. */
	if (s2 == NULL)
		s2 = SSL_get1_session(hs->c);
	if (s2 == NULL)
		return;
	SSL_SESSION_free(*sess);
	*sess = s2;
}

/* A handshake offering sess (may be NULL); 1 when the server resumed it. */
static int
handshake_resume(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *sess,
    struct hs *hs)
{
	BIO *sb, *cb;
	int i, rc, s_fail = 0, c_fail = 0;

	memset(hs, 0, sizeof(*hs));
	SSL_SESSION_free(new_session);
	new_session = NULL;
	assert_int_equal(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
	assert_non_null(hs->s = SSL_new(sctx));
	assert_non_null(hs->c = SSL_new(cctx));
	SSL_set_bio(hs->s, sb, sb);
	SSL_set_bio(hs->c, cb, cb);
	SSL_set_accept_state(hs->s);
	SSL_set_connect_state(hs->c);
	if (sess != NULL)
		assert_int_equal(SSL_set_session(hs->c, sess), 1);
	for (i = 0; i < 50 && !(hs->s_ok && hs->c_ok) && !s_fail; i++) {
		if (!hs->c_ok && !c_fail) {
			rc = SSL_do_handshake(hs->c);
			if (rc == 1)
				hs->c_ok = 1;
			else if (!want(hs->c, rc))
				c_fail = 1;
		}
		if (!hs->s_ok) {
			rc = SSL_do_handshake(hs->s);
			if (rc == 1)
				hs->s_ok = 1;
			else if (!want(hs->s, rc))
				s_fail = 1;
		}
		if (c_fail && !hs->s_ok && i > 5)
			break;
	}
	ERR_clear_error();
	return hs->s_ok && SSL_session_reused(hs->s);
}

static struct tls_server *
server_tickets(const struct config *c, struct tls_tickets *tt)
{
	struct tls_server *ts = server_new(c);
	char err[512];

	if (tls_server_use_tickets(ts, tt, err, sizeof(err)) != 0)
		fail_msg("tls_server_use_tickets: %s", err);
	return ts;
}

/*
 * Session resumption: a ticket resumes, across a reload too (the keys are
 * shared), with the identity decided again; a leaf the new CRLs revoke
 * cannot resume (nor connect); a ticket of other keys gives a full
 * handshake; an expired one too.
 */
static void
test_resumption(void **state)
{
	struct config *crl = malloc(sizeof(*crl));
	struct tls_tickets *tt, *other;
	struct tls_server *ts, *ts2, *ts3;
	struct principal pr;
	struct ca leaf;
	struct hs hs;
	SSL_SESSION *sess;
	SSL_CTX *c;
	char err[512];
	int ver;

	(void)state;
	assert_non_null(crl);
	config_set(crl);
	path_of(crl->c_crl_file, sizeof(crl->c_crl_file), "crl.pem");
	assert_non_null(tt = tls_tickets_new(600));
	assert_non_null(other = tls_tickets_new(600));
	/* The serial crl.pem revokes; cfg has no CRL. */
	mkleaf(&leaf, &gemeente, "O=gemeente,OU=professional,CN=r.esumer",
	    0x5555);
	for (ver = 0; ver < 2; ver++) {
		ts = server_tickets(cfg, tt);
		c = client_ctx_resume(&leaf, ver ? TLS1_2_VERSION : 0);
		assert_false(handshake_resume(tls_server_ctx(ts), c, NULL,
		    &hs));
		assert_true(hs.s_ok);
		sess = client_session(&hs);
		assert_non_null(sess);
		assert_true(SSL_SESSION_is_resumable(sess));
		hs_close(&hs);

		/* Resumed: the identity comes out the same. */
		assert_true(handshake_resume(tls_server_ctx(ts), c, sess, &hs));
		memset(&pr, 0, sizeof(pr));
		if (tls_identify(ts, hs.s, cfg, &pr, err, sizeof(err)) != 0)
			fail_msg("resumed (TLS %s): %s", ver ? "1.2" : "1.3",
			    err);
		assert_string_equal(pr.pr_org, "gemeente");
		assert_string_equal(pr.pr_subject, "r.esumer");
		assert_string_equal(pr.pr_serial, "5555");
		next_session(&hs, &sess);
		hs_close(&hs);

		/* A reload without new revocations: still resumes. */
		ts3 = server_tickets(cfg, tt);
		assert_true(handshake_resume(tls_server_ctx(ts3), c, sess,
		    &hs));
		if (tls_identify(ts3, hs.s, cfg, &pr, err, sizeof(err)) != 0)
			fail_msg("resumed after reload: %s", err);
		next_session(&hs, &sess);
		hs_close(&hs);
		tls_server_free(ts3);

		/* A reload whose CRL revokes the leaf: no resumption, and the
		 * full handshake fails. */
		ts2 = server_tickets(crl, tt);
		assert_false(handshake_resume(tls_server_ctx(ts2), c, sess,
		    &hs));
		assert_false(hs.s_ok);
		hs_close(&hs);
		tls_server_free(ts2);

		/* Other keys (a restarted daemon): a full handshake. */
		ts3 = server_tickets(cfg, other);
		assert_false(handshake_resume(tls_server_ctx(ts3), c, sess,
		    &hs));
		assert_true(hs.s_ok);
		if (tls_identify(ts3, hs.s, cfg, &pr, err, sizeof(err)) != 0)
			fail_msg("full handshake: %s", err);
		hs_close(&hs);
		tls_server_free(ts3);

		SSL_SESSION_free(sess);
		SSL_CTX_free(c);
		tls_server_free(ts);
	}

	/* A ticket past its lifetime is not taken. */
	tls_tickets_free(tt);
	assert_non_null(tt = tls_tickets_new(1));
	ts = server_tickets(cfg, tt);
	c = client_ctx_resume(&leaf, 0);
	(void)handshake_resume(tls_server_ctx(ts), c, NULL, &hs);
	sess = client_session(&hs);
	hs_close(&hs);
	assert_true(handshake_resume(tls_server_ctx(ts), c, sess, &hs));
	next_session(&hs, &sess);
	hs_close(&hs);
	sleep(3);
	assert_false(handshake_resume(tls_server_ctx(ts), c, sess, &hs));
	assert_true(hs.s_ok);
	hs_close(&hs);
	SSL_SESSION_free(sess);
	SSL_CTX_free(c);
	tls_server_free(ts);

	tls_tickets_free(tt);
	tls_tickets_free(other);
	ca_free(&leaf);
	free(crl);
}

/* Sleeps ms milliseconds. */
static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1)
		;
}

/*
 * Ticket keys rotate every lifetime; a ticket made under the previous key
 * still resumes (and is replaced) until it expires itself.
 */
static void
test_ticket_key_rotation(void **state)
{
	struct tls_tickets *tt;
	struct tls_server *ts;
	struct ca leaf;
	struct hs hs;
	SSL_SESSION *old, *sess;
	SSL_CTX *c;

	(void)state;
	assert_non_null(tt = tls_tickets_new(3));
	ts = server_tickets(cfg, tt);
	mkleaf(&leaf, &gemeente, "O=gemeente,OU=professional,CN=r.otate",
	    0x6666);
	c = client_ctx_resume(&leaf, 0);
	sleep_ms(1500);
	/* A ticket under the first key, half way through its time. */
	(void)handshake_resume(tls_server_ctx(ts), c, NULL, &hs);
	old = client_session(&hs);
	assert_non_null(old);
	hs_close(&hs);
	/* Past the key's time: the next ticket is made under a new key. */
	sleep_ms(1700);
	(void)handshake_resume(tls_server_ctx(ts), c, NULL, &hs);
	sess = client_session(&hs);
	assert_non_null(sess);
	hs_close(&hs);
	/* The old ticket (previous key, not expired) resumes. */
	assert_true(handshake_resume(tls_server_ctx(ts), c, old, &hs));
	hs_close(&hs);
	assert_true(handshake_resume(tls_server_ctx(ts), c, sess, &hs));
	hs_close(&hs);
	SSL_SESSION_free(old);
	SSL_SESSION_free(sess);
	SSL_CTX_free(c);
	ca_free(&leaf);
	tls_server_free(ts);
	tls_tickets_free(tt);
}

/*
 * An open connection checked again under a reloaded context: refused once
 * the new CRLs revoke its leaf; identified as before otherwise.
 */
static void
test_reverify(void **state)
{
	struct config *crl = malloc(sizeof(*crl));
	struct tls_server *ts, *ts2;
	struct principal pr;
	struct ca leaf, good, soon;
	struct hs hs;
	SSL_CTX *c;
	char err[512];

	(void)state;
	assert_non_null(crl);
	config_set(crl);
	path_of(crl->c_crl_file, sizeof(crl->c_crl_file), "crl.pem");
	ts = server_new(cfg);
	ts2 = server_new(crl);

	mkleaf(&leaf, &gemeente, "O=gemeente,OU=professional,CN=r.evoked",
	    REVOKED_SERIAL);
	c = client_ctx(&leaf, WIRE_ALPN, 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_true(hs.s_ok);
	if (tls_reverify(ts, hs.s, cfg, &pr, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(pr.pr_subject, "r.evoked");
	assert_int_equal(tls_reverify(ts2, hs.s, crl, &pr, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "revoked"));
	/* Identified under the new context after a handshake under the old. */
	assert_int_equal(tls_identify(ts2, hs.s, crl, &pr, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "revoked"));
	hs_free(&hs);
	SSL_CTX_free(c);

	mkleaf(&good, &lev, "O=lev,OU=professional,CN=s.bakker", 0x9999);
	c = client_ctx(&good, WIRE_ALPN, TLS1_2_VERSION);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_true(hs.s_ok);
	memset(&pr, 0, sizeof(pr));
	if (tls_reverify(ts2, hs.s, crl, &pr, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(pr.pr_org, "lev");
	assert_string_equal(pr.pr_subject, "s.bakker");
	hs_free(&hs);
	SSL_CTX_free(c);

	/* A certificate that expires while its connection is open. */
	mkleaf(&soon, &lev, "O=lev,OU=professional,CN=e.xpiring", 0x9998);
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(soon.cert), 2));
	assert_int_not_equal(X509_sign(soon.cert, lev.key, EVP_sha256()), 0);
	c = client_ctx(&soon, WIRE_ALPN, 0);
	handshake(tls_server_ctx(ts), c, &hs);
	assert_true(hs.s_ok);
	if (tls_reverify(ts, hs.s, cfg, &pr, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	sleep_ms(3200);
	assert_int_equal(tls_reverify(ts, hs.s, cfg, &pr, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "expired"));
	hs_free(&hs);
	SSL_CTX_free(c);

	ca_free(&leaf);
	ca_free(&good);
	ca_free(&soon);
	tls_server_free(ts);
	tls_server_free(ts2);
	free(crl);
}

/* tls_server_new must refuse c2 with needle in the message. */
static void
expect_server_fails(const struct config *c2, const char *needle)
{
	struct tls_server *ts;
	char err[1024];

	err[0] = '\0';
	if ((ts = tls_server_new(c2, err, sizeof(err))) != NULL) {
		tls_server_free(ts);
		fail_msg("tls_server_new accepted (want \"%s\")", needle);
	}
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void
test_server_config_errors(void **state)
{
	struct config *c2 = malloc(sizeof(*c2));

	(void)state;
	assert_non_null(c2);

	config_set(c2);
	path_of(c2->c_key_file, sizeof(c2->c_key_file), "server-0644.key");
	expect_server_fails(c2, "permissions");
	expect_server_fails(c2, "0644");
	path_of(c2->c_key_file, sizeof(c2->c_key_file), "server-0640.key");
	expect_server_fails(c2, "permissions");
	path_of(c2->c_key_file, sizeof(c2->c_key_file), "server-0602.key");
	expect_server_fails(c2, "permissions");
	/* 0400 is fine. */
	config_set(c2);
	path_of(c2->c_key_file, sizeof(c2->c_key_file), "server-0400.key");
	tls_server_free(server_new(c2));

	config_set(c2);
	path_of(c2->c_key_file, sizeof(c2->c_key_file), "missing.key");
	expect_server_fails(c2, "missing.key");

	config_set(c2);
	path_of(c2->c_key_file, sizeof(c2->c_key_file), "empty.pem");
	chmod(c2->c_key_file, 0600);
	expect_server_fails(c2, "empty.pem");

	config_set(c2);
	path_of(c2->c_cert_file, sizeof(c2->c_cert_file), "missing.crt");
	expect_server_fails(c2, "missing.crt");

	/* The key of another certificate. */
	config_set(c2);
	path_of(c2->c_cert_file, sizeof(c2->c_cert_file), "lev.crt");
	expect_server_fails(c2, "does not match");

	config_set(c2);
	path_of(c2->c_orgs[1].co_ca_file, sizeof(c2->c_orgs[1].co_ca_file),
	    "notca.crt");
	expect_server_fails(c2, "not a CA");

	config_set(c2);
	path_of(c2->c_orgs[1].co_ca_file, sizeof(c2->c_orgs[1].co_ca_file),
	    "empty.pem");
	expect_server_fails(c2, "empty.pem");

	/* An org CA from another root. */
	config_set(c2);
	path_of(c2->c_orgs[1].co_ca_file, sizeof(c2->c_orgs[1].co_ca_file),
	    "other-root.crt");
	expect_server_fails(c2, "does not verify under the root");

	/* Two organisations, one CA. */
	config_set(c2);
	path_of(c2->c_orgs[1].co_ca_file, sizeof(c2->c_orgs[1].co_ca_file),
	    "gemeente.crt");
	expect_server_fails(c2, "same CA");

	/* A CRL file that lacks an organisation CA's CRL. */
	config_set(c2);
	path_of(c2->c_crl_file, sizeof(c2->c_crl_file), "crl-nolev.pem");
	expect_server_fails(c2, "no CRL of the lev organisation CA");

	config_set(c2);
	path_of(c2->c_crl_file, sizeof(c2->c_crl_file), "root.crt");
	expect_server_fails(c2, "no CRL");

	free(c2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identify_ok),
		cmocka_unit_test(test_identify_wrong_org),
		cmocka_unit_test(test_identify_role),
		cmocka_unit_test(test_identify_cn),
		cmocka_unit_test(test_identify_issuer),
		cmocka_unit_test(test_identify_short_chain),
		cmocka_unit_test(test_identify_teams),
		cmocka_unit_test(test_handshake_ok),
		cmocka_unit_test(test_handshake_lying_leaf),
		cmocka_unit_test(test_handshake_no_cert),
		cmocka_unit_test(test_handshake_alpn),
		cmocka_unit_test(test_handshake_weak_protocol),
		cmocka_unit_test(test_handshake_untrusted),
		cmocka_unit_test(test_handshake_revoked),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_ticket_key_rotation),
		cmocka_unit_test(test_reverify),
		cmocka_unit_test(test_server_config_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
