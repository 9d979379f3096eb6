/*
 * tls: the server's TLS context and the peer's identity (see tls.h).
 *
 * Session resumption is off (no tickets, no session cache): every
 * connection makes a full handshake, so the identity is always decided on
 * a chain verified just now against the CRLs loaded now, and
 * SSL_get0_verified_chain() is always there (OpenSSL 3.0 keeps it on the
 * SSL, not in the session, so a resumed session would have none). The
 * session id context is set anyway, as SSL_VERIFY_PEER requires it should
 * caching ever be switched on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "log.h"
#include "tls.h"
#include "util.h"
#include "wire.h"

#define TLS_CIPHERS_12 \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_SID_CTX	"eenplan"
#define TLS_KEY_MAX	(64 * 1024)	/* a PEM key file is a few hundred bytes */

struct tls_server {
	SSL_CTX		*ts_ctx;
	X509		*ts_org_cas[CONFIG_MAX_ORGS];	/* in config order */
	size_t		 ts_norgs;
	struct tls_date	 ts_dates[TLS_DATES_MAX];	/* for readiness */
	size_t		 ts_ndates;
};

/* An ASN1 time as seconds since the epoch; 0 when it cannot be read. */
static int64_t
tls_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return 0;
	}
	return (int64_t)timegm(&tm);
}

static void
tls_note_cert(struct tls_server *ts, X509 *x, const char *what)
{
	struct tls_date *d;

	if (ts->ts_ndates >= TLS_DATES_MAX)
		return;
	d = &ts->ts_dates[ts->ts_ndates++];
	(void)snprintf(d->td_what, sizeof(d->td_what), "%s", what);
	d->td_crl = 0;
	d->td_not_before = tls_asn1_time(X509_get0_notBefore(x));
	d->td_not_after = tls_asn1_time(X509_get0_notAfter(x));
}

static void
tls_note_crl(struct tls_server *ts, X509_CRL *crl, const char *what)
{
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
	struct tls_date *d;

	/* A CRL without a next update is never due. */
	if (next == NULL || ts->ts_ndates >= TLS_DATES_MAX)
		return;
	d = &ts->ts_dates[ts->ts_ndates++];
	(void)snprintf(d->td_what, sizeof(d->td_what), "%s", what);
	d->td_crl = 1;
	d->td_not_before = 0;
	d->td_not_after = tls_asn1_time(next);
}

/* The server's own certificate and the chain it sends. */
static void
tls_note_own(struct tls_server *ts)
{
	STACK_OF(X509) *chain = NULL;
	X509 *x;
	char what[32];
	int i;

	if ((x = SSL_CTX_get0_certificate(ts->ts_ctx)) != NULL)
		tls_note_cert(ts, x, "server");
	if (SSL_CTX_get0_chain_certs(ts->ts_ctx, &chain) != 1 || chain == NULL)
		return;
	for (i = 0; i < sk_X509_num(chain); i++) {
		(void)snprintf(what, sizeof(what), "server-chain-%d", i + 1);
		tls_note_cert(ts, sk_X509_value(chain, i), what);
	}
}

size_t
tls_server_dates(const struct tls_server *ts, struct tls_date *out,
    size_t max)
{
	size_t n = ts->ts_ndates < max ? ts->ts_ndates : max;

	memcpy(out, ts->ts_dates, n * sizeof(*out));
	return n;
}

/* "what: file: reason" with the first OpenSSL error, if any, as reason. */
static void __attribute__((format(printf, 3, 4)))
tls_err(char *err, size_t errlen, const char *fmt, ...)
{
	char msg[512], ossl[256];
	unsigned long e;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((e = ERR_peek_error()) != 0) {
		ERR_error_string_n(e, ossl, sizeof(ossl));
		(void)snprintf(err, errlen, "%s (%s)", msg, ossl);
	} else
		(void)snprintf(err, errlen, "%s", msg);
	ERR_clear_error();
}

/* Reads every certificate of a PEM file onto a new stack. */
static STACK_OF(X509) *
tls_read_certs(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = NULL;
	X509 *x;
	BIO *bio;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		tls_err(err, errlen, "%s: cannot open", path);
		return NULL;
	}
	if ((sk = sk_X509_new_null()) == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto fail;
		}
	}
	/* The loop ends at the end of the file or at an error. */
	if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE &&
	    sk_X509_num(sk) > 0)
		ERR_clear_error();
	if (ERR_peek_error() != 0 || sk_X509_num(sk) == 0) {
		tls_err(err, errlen, "%s: no certificate could be read", path);
		goto fail_quiet;
	}
	BIO_free(bio);
	return sk;
 fail:
	tls_err(err, errlen, "%s: cannot read certificates", path);
 fail_quiet:
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	return NULL;
}

/* Exactly one CA certificate from path. */
static X509 *
tls_read_ca(const char *path, const char *what, char *err, size_t errlen)
{
	STACK_OF(X509) *sk;
	X509 *x;

	if ((sk = tls_read_certs(path, err, errlen)) == NULL)
		return NULL;
	if (sk_X509_num(sk) != 1) {
		(void)snprintf(err, errlen, "%s: %s: expected one certificate, "
		    "found %d", what, path, sk_X509_num(sk));
		sk_X509_pop_free(sk, X509_free);
		return NULL;
	}
	x = sk_X509_shift(sk);
	sk_X509_free(sk);
	if (X509_check_ca(x) != 1) {
		(void)snprintf(err, errlen, "%s: %s is not a CA certificate "
		    "(basicConstraints CA:TRUE and keyCertSign required)",
		    what, path);
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Never prompt for a passphrase: an encrypted key is an error. */
static int
tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * The private key: refused when the file can be read or written by group or
 * others; read into memory, parsed, and the buffer wiped.
 */
static int
tls_load_key(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	X509 *cert;
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	ssize_t n;
	BIO *bio = NULL;
	int fd, ret = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		(void)snprintf(err, errlen, "key file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		(void)snprintf(err, errlen, "key file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(err, errlen, "key file %s: not a regular file",
		    path);
		goto out;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		(void)snprintf(err, errlen, "key file %s: bad permissions "
		    "(mode %04o): group and others must have none; chmod 600",
		    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > TLS_KEY_MAX) {
		(void)snprintf(err, errlen, "key file %s: size %lld is not "
		    "that of a key", path, (long long)st.st_size);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size)) == NULL) {
		(void)snprintf(err, errlen, "key file %s: out of memory", path);
		goto out;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			(void)snprintf(err, errlen, "key file %s: %s", path,
			    n == 0 ? "short read" : strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		tls_err(err, errlen, "key file %s", path);
		goto out;
	}
	if ((pkey = PEM_read_bio_PrivateKey(bio, NULL, tls_no_passphrase,
	    NULL)) == NULL) {
		tls_err(err, errlen, "key file %s: no usable private key "
		    "(PEM, unencrypted)", path);
		goto out;
	}
	if ((cert = SSL_CTX_get0_certificate(ctx)) == NULL ||
	    X509_check_private_key(cert, pkey) != 1) {
		ERR_clear_error();
		(void)snprintf(err, errlen, "key file %s does not match the "
		    "certificate", path);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
		tls_err(err, errlen, "key file %s: cannot use the key", path);
		goto out;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(err, errlen, "key file %s does not match the "
		    "certificate", path);
		goto out;
	}
	ret = 0;
 out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
	}
	(void)close(fd);
	return ret;
}

/* Only "eenplan/1"; a client that offers ALPN without it is refused. */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x09" WIRE_ALPN;
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* 1 when crl was issued and signed by ca. */
static int
tls_crl_from(X509_CRL *crl, X509 *ca)
{
	EVP_PKEY *pk;

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(ca)) != 0)
		return 0;
	if ((pk = X509_get0_pubkey(ca)) == NULL)
		return 0;
	return X509_CRL_verify(crl, pk) == 1;
}

/*
 * Every CRL in the file into the store. With CRL_CHECK_ALL a chain without
 * its issuers' CRLs cannot verify, so a missing one is an error here rather
 * than a refused handshake for everyone later.
 */
static int
tls_load_crls(struct tls_server *ts, X509_STORE *store, X509 *root,
    const struct config *cfg, char *err, size_t errlen)
{
	STACK_OF(X509_INFO) *infos = NULL;
	X509_INFO *xi;
	const ASN1_TIME *next;
	BIO *bio;
	size_t j;
	int i, ncrl = 0, found, ret = -1;

	if ((bio = BIO_new_file(cfg->c_crl_file, "r")) == NULL) {
		tls_err(err, errlen, "crl file %s: cannot open",
		    cfg->c_crl_file);
		return -1;
	}
	if ((infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL)) == NULL) {
		tls_err(err, errlen, "crl file %s: cannot read",
		    cfg->c_crl_file);
		goto out;
	}
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		xi = sk_X509_INFO_value(infos, i);
		if (xi->crl == NULL)
			continue;
		if (X509_STORE_add_crl(store, xi->crl) != 1) {
			tls_err(err, errlen, "crl file %s: cannot add CRL %d",
			    cfg->c_crl_file, i + 1);
			goto out;
		}
		ncrl++;
		next = X509_CRL_get0_nextUpdate(xi->crl);
		if (next != NULL && X509_cmp_current_time(next) < 0)
			log_kv(LOGL_WARN, "CRL has expired: certificates "
			    "of its CA will be refused", "file=%s crl=%d",
			    log_q(cfg->c_crl_file), i + 1);
	}
	if (ncrl == 0) {
		(void)snprintf(err, errlen, "crl file %s: no CRL in it",
		    cfg->c_crl_file);
		goto out;
	}
	for (j = 0; j <= ts->ts_norgs; j++) {
		X509 *ca = j < ts->ts_norgs ? ts->ts_org_cas[j] : root;

		found = 0;
		for (i = 0; i < sk_X509_INFO_num(infos) && !found; i++) {
			xi = sk_X509_INFO_value(infos, i);
			found = xi->crl != NULL && tls_crl_from(xi->crl, ca);
		}
		if (found) {
			char what[48];

			if (j < ts->ts_norgs)
				(void)snprintf(what, sizeof(what), "org:%s",
				    cfg->c_orgs[j].co_id);
			else
				(void)snprintf(what, sizeof(what), "root");
			tls_note_crl(ts, xi->crl, what);
		}
		if (!found) {
			ERR_clear_error();
			(void)snprintf(err, errlen, "crl file %s: no CRL of "
			    "the %s%s CA", cfg->c_crl_file,
			    j < ts->ts_norgs ? cfg->c_orgs[j].co_id : "root",
			    j < ts->ts_norgs ? " organisation" : "");
			goto out;
		}
	}
	ret = 0;
 out:
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(bio);
	return ret;
}

/* 1 when ca chains to root (signature and validity, no CRL). */
static int
tls_issued_by_root(X509 *root, X509 *ca, int *why)
{
	X509_STORE *st;
	X509_STORE_CTX *sc = NULL;
	int ok = 0;

	*why = X509_V_ERR_UNSPECIFIED;
	if ((st = X509_STORE_new()) == NULL)
		return 0;
	if (X509_STORE_add_cert(st, root) != 1 ||
	    (sc = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sc, st, ca, NULL) != 1)
		goto out;
	ok = X509_verify_cert(sc) == 1;
	*why = X509_STORE_CTX_get_error(sc);
 out:
	X509_STORE_CTX_free(sc);
	X509_STORE_free(st);
	return ok;
}

/* Root, org CAs (in config order, each one CA, all distinct) and CRLs. */
static int
tls_load_trust(struct tls_server *ts, const struct config *cfg, char *err,
    size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ts->ts_ctx);
	X509 *root, *ca;
	size_t i, j;
	int why, ret = -1;

	if ((root = tls_read_ca(cfg->c_ca_file, "root CA", err, errlen)) ==
	    NULL)
		return -1;
	if (X509_STORE_add_cert(store, root) != 1) {
		tls_err(err, errlen, "root CA %s: cannot add", cfg->c_ca_file);
		goto out;
	}
	tls_note_cert(ts, root, "root");
	for (i = 0; i < cfg->c_norgs; i++) {
		const struct config_org *co = &cfg->c_orgs[i];
		char what[64], label[48];

		(void)snprintf(what, sizeof(what), "[org %s] ca", co->co_id);
		if ((ca = tls_read_ca(co->co_ca_file, what, err, errlen)) ==
		    NULL)
			goto out;
		ts->ts_org_cas[ts->ts_norgs++] = ca;
		(void)snprintf(label, sizeof(label), "org:%s", co->co_id);
		tls_note_cert(ts, ca, label);
		if (!tls_issued_by_root(root, ca, &why)) {
			(void)snprintf(err, errlen, "%s: %s does not verify "
			    "under the root CA %s: %s", what, co->co_ca_file,
			    cfg->c_ca_file, X509_verify_cert_error_string(why));
			ERR_clear_error();
			goto out;
		}
		/* The organisation is found by its CA: two cannot share one. */
		for (j = 0; j < i; j++) {
			if (X509_cmp(ts->ts_org_cas[j], ca) == 0) {
				(void)snprintf(err, errlen, "%s: the same CA "
				    "certificate as [org %s]", what,
				    cfg->c_orgs[j].co_id);
				goto out;
			}
		}
		if (X509_STORE_add_cert(store, ca) != 1 ||
		    SSL_CTX_add_client_CA(ts->ts_ctx, ca) != 1) {
			tls_err(err, errlen, "%s: cannot add %s", what,
			    co->co_ca_file);
			goto out;
		}
	}
	if (cfg->c_crl_file[0] != '\0') {
		if (tls_load_crls(ts, store, root, cfg, err, errlen) == -1)
			goto out;
		if (X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL) != 1) {
			tls_err(err, errlen, "cannot enable CRL checking");
			goto out;
		}
	}
	ret = 0;
 out:
	X509_free(root);
	return ret;
}

static int
tls_setup_ctx(SSL_CTX *ctx, char *err, size_t errlen)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
		tls_err(err, errlen, "cannot set the protocol versions and "
		    "ciphers");
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
	/* Thousands of idle connections: give back the buffers between reads. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1 ||
	    SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)TLS_SID_CTX, sizeof(TLS_SID_CTX) - 1) != 1) {
		tls_err(err, errlen, "cannot turn session resumption off");
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 2);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	return 0;
}

struct tls_server *
tls_server_new(const struct config *cfg, char *err, size_t errlen)
{
	struct tls_server *ts;

	ERR_clear_error();
	if (cfg->c_norgs > CONFIG_MAX_ORGS) {
		(void)snprintf(err, errlen, "too many organisations");
		return NULL;
	}
	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((ts->ts_ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_err(err, errlen, "cannot create the TLS context");
		goto fail;
	}
	if (tls_setup_ctx(ts->ts_ctx, err, errlen) == -1)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ts->ts_ctx,
	    cfg->c_cert_file) != 1) {
		tls_err(err, errlen, "certificate file %s: cannot load",
		    cfg->c_cert_file);
		goto fail;
	}
	if (tls_load_key(ts->ts_ctx, cfg->c_key_file, err, errlen) == -1)
		goto fail;
	tls_note_own(ts);
	if (tls_load_trust(ts, cfg, err, errlen) == -1)
		goto fail;
	return ts;
 fail:
	tls_server_free(ts);
	return NULL;
}

void
tls_server_free(struct tls_server *ts)
{
	size_t i;

	if (ts == NULL)
		return;
	for (i = 0; i < ts->ts_norgs; i++)
		X509_free(ts->ts_org_cas[i]);
	SSL_CTX_free(ts->ts_ctx);
	free(ts);
}

SSL_CTX *
tls_server_ctx(struct tls_server *ts)
{
	return ts->ts_ctx;
}

/* For messages: printable ASCII of s, others as '?', at most 64 chars. */
static void
tls_printable(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outlen && i < 64; i++)
		out[i] = (s[i] > ' ' && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

/*
 * The one entry nid of name as UTF-8 into out. 0, or -1 with a reason:
 * none, several, not text, or too long.
 */
static int
tls_name_one(const X509_NAME *name, int nid, char *out, size_t outlen,
    const char **why)
{
	const X509_NAME_ENTRY *ne;
	unsigned char *utf8 = NULL;
	int idx, len;

	if ((idx = X509_NAME_get_index_by_NID(name, nid, -1)) < 0) {
		*why = "missing";
		return -1;
	}
	if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0) {
		*why = "present more than once";
		return -1;
	}
	ne = X509_NAME_get_entry(name, idx);
	if ((len = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data(ne))) < 0) {
		ERR_clear_error();
		*why = "not text";
		return -1;
	}
	if ((size_t)len >= outlen || memchr(utf8, '\0', (size_t)len) != NULL) {
		OPENSSL_free(utf8);
		*why = (size_t)len >= outlen ? "too long" : "not text";
		return -1;
	}
	memcpy(out, utf8, (size_t)len);
	out[len] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

/* The serial as lower-case hex. */
static int
tls_serial_hex(X509 *x, char *out, size_t outlen)
{
	BIGNUM *bn;
	char *hex, *p;
	int ret = -1;

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
	    NULL)
		return -1;
	if ((hex = BN_bn2hex(bn)) != NULL && strlen(hex) < outlen) {
		for (p = hex; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p - 'A' + 'a');
		memcpy(out, hex, strlen(hex) + 1);
		ret = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return ret;
}

int
tls_identify_chain(STACK_OF(X509) *chain, X509 *const *org_cas,
    const struct config *cfg, struct principal *pr, char *err, size_t errlen)
{
	const struct config_org *co = NULL;
	const X509_NAME *subj;
	X509 *leaf, *issuer;
	char o[PRINCIPAL_ORG_MAX + 64], ou[32], cn[PRINCIPAL_SUBJECT_MAX];
	char shown[72], serial[sizeof(pr->pr_serial)];
	const char *why;
	size_t i;
	int role;

	if (chain == NULL || sk_X509_num(chain) < 2) {
		(void)snprintf(err, errlen, "certificate chain too short: no "
		    "issuing organisation CA");
		return -1;
	}
	leaf = sk_X509_value(chain, 0);
	issuer = sk_X509_value(chain, 1);
	for (i = 0; i < cfg->c_norgs && i < CONFIG_MAX_ORGS; i++) {
		if (org_cas[i] != NULL && X509_cmp(issuer, org_cas[i]) == 0) {
			co = &cfg->c_orgs[i];
			break;
		}
	}
	if (co == NULL) {
		(void)snprintf(err, errlen, "issuer is not an organisation CA");
		return -1;
	}
	if (X509_check_issued(issuer, leaf) != X509_V_OK) {
		(void)snprintf(err, errlen, "certificate was not issued by the "
		    "%s CA", co->co_id);
		return -1;
	}
	if (X509_check_ca(leaf) != 0) {
		(void)snprintf(err, errlen, "certificate is a CA certificate, "
		    "not a person's or system's");
		return -1;
	}
	subj = X509_get_subject_name(leaf);

	if (tls_name_one(subj, NID_organizationName, o, sizeof(o), &why) ==
	    -1) {
		(void)snprintf(err, errlen, "certificate organisation (O) %s; "
		    "issued by %s", why, co->co_id);
		return -1;
	}
	if (strcmp(o, co->co_id) != 0) {
		tls_printable(o, shown, sizeof(shown));
		(void)snprintf(err, errlen, "certificate claims organisation "
		    "%s but was issued by %s", shown, co->co_id);
		return -1;
	}

	if (tls_name_one(subj, NID_organizationalUnitName, ou, sizeof(ou),
	    &why) == -1) {
		(void)snprintf(err, errlen, "certificate role (OU) %s", why);
		return -1;
	}
	role = wire_role_parse(ou);
	if (role <= 0 || role >= 32 || strcmp(wire_role_name(role), ou) != 0) {
		tls_printable(ou, shown, sizeof(shown));
		(void)snprintf(err, errlen, "certificate role (OU) %s is not a "
		    "known role", shown);
		return -1;
	}
	if ((co->co_roles & (1u << role)) == 0) {
		(void)snprintf(err, errlen, "organisation %s may not issue role "
		    "%s", co->co_id, ou);
		return -1;
	}

	if (tls_name_one(subj, NID_commonName, cn, sizeof(cn), &why) == -1) {
		(void)snprintf(err, errlen, "certificate subject (CN) %s", why);
		return -1;
	}
	if (!util_ident_ok(cn, PRINCIPAL_SUBJECT_MAX - 1)) {
		tls_printable(cn, shown, sizeof(shown));
		(void)snprintf(err, errlen, "certificate subject (CN) %s is not "
		    "1..%d of [A-Za-z0-9._-]", shown, PRINCIPAL_SUBJECT_MAX - 1);
		return -1;
	}
	if (tls_serial_hex(leaf, serial, sizeof(serial)) == -1) {
		ERR_clear_error();
		(void)snprintf(err, errlen, "certificate serial unreadable");
		return -1;
	}

	/* pr_peer is the connection's: left as it is. */
	memcpy(pr->pr_org, co->co_id, sizeof(pr->pr_org));
	memcpy(pr->pr_subject, cn, sizeof(pr->pr_subject));
	pr->pr_role = role;
	memcpy(pr->pr_org_identifier, co->co_identifier,
	    sizeof(pr->pr_org_identifier));
	memcpy(pr->pr_serial, serial, sizeof(pr->pr_serial));
	return 0;
}

int
tls_identify(struct tls_server *ts, SSL *ssl, const struct config *cfg,
    struct principal *pr, char *err, size_t errlen)
{
	STACK_OF(X509) *chain;
	long v;

	if (ts->ts_norgs != cfg->c_norgs) {
		(void)snprintf(err, errlen, "TLS context and config differ");
		return -1;
	}
	if (SSL_get0_peer_certificate(ssl) == NULL) {
		(void)snprintf(err, errlen, "no client certificate");
		return -1;
	}
	if ((v = SSL_get_verify_result(ssl)) != X509_V_OK) {
		(void)snprintf(err, errlen, "certificate verification failed: "
		    "%s", X509_verify_cert_error_string(v));
		return -1;
	}
	if ((chain = SSL_get0_verified_chain(ssl)) == NULL) {
		(void)snprintf(err, errlen, "no verified certificate chain");
		return -1;
	}
	return tls_identify_chain(chain, ts->ts_org_cas, cfg, pr, err, errlen);
}
