/*
 * tls: the server's TLS context and the peer's identity (see tls.h).
 *
 * Session resumption uses stateless tickets (no server-side cache) under
 * keys shared by every context (tls_tickets), so a reload keeps them. The
 * identity is never taken from a ticket on trust alone: a ticket names the
 * context that issued it (its app data); the decrypt callback uses it only
 * when its leaf passes this context's trust store and CRLs — verified again
 * when the ticket came from another context (a reload in between), or
 * checked for expiry only when the same CRLs issued it — and marks the SSL.
 * tls_identify then builds the chain from the configured CAs, since OpenSSL
 * 3.0 keeps no verified chain for a resumed session. The session id context
 * is set, as SSL_VERIFY_PEER with resumption requires.
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

#include <pthread.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
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
#define TLS_VERIFY_DEPTH 2		/* leaf, organisation CA, root */

struct tls_server {
	SSL_CTX		*ts_ctx;
	X509		*ts_org_cas[CONFIG_MAX_ORGS];	/* in config order */
	size_t		 ts_norgs;
	struct tls_date	 ts_dates[TLS_DATES_MAX];	/* for readiness */
	size_t		 ts_ndates;
	const struct config *ts_cfg;
	uint64_t	 ts_gen;	/* unique per context in this process */
	time_t		 ts_valid_until; /* first CA expiry or CRL nextUpdate */
	struct tls_tickets *ts_tickets;	/* NULL: no resumption */
};

/* A ticket key: AES-256-CBC + HMAC-SHA256, as RFC 5077 suggests. */
struct tls_tkey {
	unsigned char	tk_name[16];
	unsigned char	tk_aes[32];
	unsigned char	tk_hmac[32];
	time_t		tk_born;	/* CLOCK_MONOTONIC seconds */
	int		tk_set;
};

struct tls_tickets {
	pthread_mutex_t	tt_mtx;
	uint32_t	tt_lifetime;
	struct tls_tkey	tt_cur;		/* encrypts */
	struct tls_tkey	tt_prev;	/* decrypts what it made before */
};

static X509_STORE_CTX *tls_verify_now(struct tls_server *, X509 *,
	    STACK_OF(X509) *, char *, size_t);

static uint64_t tls_gens;		/* atomic */
static int tls_ssl_idx = -1;		/* SSL ex_data: resumption checked */
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

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

STACK_OF(X509) *
tls_read_certs(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = NULL;
	X509 *x;
	BIO *bio;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ERR_clear_error();
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

/* Lowers ts_valid_until to t: the context's trust changes by then. */
static void
tls_valid_before(struct tls_server *ts, const ASN1_TIME *t)
{
	struct tm tm;
	time_t when;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		ts->ts_valid_until = 0;		/* unknown: always check */
		return;
	}
	when = timegm(&tm);
	if (when < ts->ts_valid_until)
		ts->ts_valid_until = when;
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
		tls_valid_before(ts, next);
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
	tls_valid_before(ts, X509_get0_notAfter(root));
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
		tls_valid_before(ts, X509_get0_notAfter(ca));
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
		tls_err(err, errlen, "cannot set up session resumption");
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, TLS_VERIFY_DEPTH);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	return 0;
}

static void
tls_once_init(void)
{
	tls_ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

struct tls_server *
tls_server_new(const struct config *cfg, char *err, size_t errlen)
{
	struct tls_server *ts;

	ERR_clear_error();
	if (pthread_once(&tls_once, tls_once_init) != 0 || tls_ssl_idx < 0) {
		(void)snprintf(err, errlen, "cannot set up TLS state");
		return NULL;
	}
	if (cfg->c_norgs > CONFIG_MAX_ORGS) {
		(void)snprintf(err, errlen, "too many organisations");
		return NULL;
	}
	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ts->ts_cfg = cfg;
	ts->ts_gen = __atomic_add_fetch(&tls_gens, 1, __ATOMIC_RELAXED);
	ts->ts_valid_until = (time_t)INT64_MAX;
	if ((ts->ts_ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_err(err, errlen, "cannot create the TLS context");
		goto fail;
	}
	if (SSL_CTX_set_app_data(ts->ts_ctx, ts) != 1) {
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

/* ------------------------------------------------------------ tickets */

static time_t
tls_mono_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int
tls_tkey_make(struct tls_tkey *k, time_t now)
{
	if (RAND_bytes(k->tk_name, sizeof(k->tk_name)) != 1 ||
	    RAND_bytes(k->tk_aes, sizeof(k->tk_aes)) != 1 ||
	    RAND_bytes(k->tk_hmac, sizeof(k->tk_hmac)) != 1) {
		ERR_clear_error();
		return -1;
	}
	k->tk_born = now;
	k->tk_set = 1;
	return 0;
}

struct tls_tickets *
tls_tickets_new(uint32_t lifetime)
{
	struct tls_tickets *tt;

	if (lifetime == 0 || (tt = calloc(1, sizeof(*tt))) == NULL)
		return NULL;
	tt->tt_lifetime = lifetime;
	if (pthread_mutex_init(&tt->tt_mtx, NULL) != 0) {
		free(tt);
		return NULL;
	}
	if (tls_tkey_make(&tt->tt_cur, tls_mono_now()) == -1) {
		tls_tickets_free(tt);
		return NULL;
	}
	return tt;
}

void
tls_tickets_free(struct tls_tickets *tt)
{
	if (tt == NULL)
		return;
	pthread_mutex_destroy(&tt->tt_mtx);
	OPENSSL_cleanse(tt, sizeof(*tt));
	free(tt);
}

/* A copy of the key to encrypt with now, rotating it when its time is up. */
static int
tls_tickets_current(struct tls_tickets *tt, struct tls_tkey *out)
{
	time_t now = tls_mono_now();
	int rc = 0;

	pthread_mutex_lock(&tt->tt_mtx);
	if (now - tt->tt_cur.tk_born >= (time_t)tt->tt_lifetime) {
		tt->tt_prev = tt->tt_cur;
		if (tls_tkey_make(&tt->tt_cur, now) == -1) {
			tt->tt_cur = tt->tt_prev;	/* try again next time */
			rc = -1;
		}
	}
	*out = tt->tt_cur;
	pthread_mutex_unlock(&tt->tt_mtx);
	return rc;
}

/*
 * A copy of the key named name: 0, 1 when the ticket should be replaced
 * (its key no longer encrypts), -1 when unknown or too old to trust.
 */
static int
tls_tickets_find(struct tls_tickets *tt, const unsigned char *name,
    struct tls_tkey *out)
{
	time_t now = tls_mono_now();
	const struct tls_tkey *k = NULL;
	int rc = -1;

	pthread_mutex_lock(&tt->tt_mtx);
	if (tt->tt_cur.tk_set &&
	    memcmp(name, tt->tt_cur.tk_name, sizeof(tt->tt_cur.tk_name)) == 0)
		k = &tt->tt_cur;
	else if (tt->tt_prev.tk_set && memcmp(name, tt->tt_prev.tk_name,
	    sizeof(tt->tt_prev.tk_name)) == 0)
		k = &tt->tt_prev;
	if (k != NULL && now - k->tk_born < 2 * (time_t)tt->tt_lifetime) {
		*out = *k;
		rc = now - k->tk_born >= (time_t)tt->tt_lifetime ? 1 : 0;
	}
	pthread_mutex_unlock(&tt->tt_mtx);
	return rc;
}

/* OpenSSL's ticket key callback: 1 use, 2 use and renew, 0 unknown key. */
static int
tls_ticket_key_cb(SSL *ssl, unsigned char name[16],
    unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, int enc)
{
	struct tls_server *ts = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	char digest[] = "SHA256";
	OSSL_PARAM params[3];
	struct tls_tkey k;
	int rc;

	if (ts == NULL || ts->ts_tickets == NULL)
		return enc ? -1 : 0;
	memset(&k, 0, sizeof(k));
	if (enc) {
		if (tls_tickets_current(ts->ts_tickets, &k) == -1 ||
		    RAND_bytes(iv, 16) != 1) {
			rc = -1;
			goto out;
		}
		memcpy(name, k.tk_name, sizeof(k.tk_name));
		rc = EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.tk_aes,
		    iv) == 1 ? 1 : -1;
	} else {
		switch (tls_tickets_find(ts->ts_tickets, name, &k)) {
		case 0:
			rc = 1;
			break;
		case 1:
			rc = 2;
			break;
		default:
			return 0;	/* a full handshake instead */
		}
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.tk_aes,
		    iv) != 1)
			rc = -1;
	}
	if (rc > 0) {
		params[0] = OSSL_PARAM_construct_octet_string(
		    OSSL_MAC_PARAM_KEY, k.tk_hmac, sizeof(k.tk_hmac));
		params[1] = OSSL_PARAM_construct_utf8_string(
		    OSSL_MAC_PARAM_DIGEST, digest, 0);
		params[2] = OSSL_PARAM_construct_end();
		if (EVP_MAC_CTX_set_params(hctx, params) != 1)
			rc = -1;
	}
 out:
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

/* A ticket records the context (its trust store and CRLs) that issued it. */
static int
tls_ticket_gen_cb(SSL *ssl, void *arg)
{
	struct tls_server *ts = arg;
	unsigned char gen[8];

	util_be64_put(gen, ts->ts_gen);
	return SSL_SESSION_set1_ticket_appdata(SSL_get0_session(ssl), gen,
	    sizeof(gen));
}

/*
 * The leaf of a ticket, checked under ts before the session is resumed:
 * fully verified again, unless the same context (the same CRLs) issued the
 * ticket and nothing it trusts, nor the leaf, has expired since.
 */
static int
tls_ticket_leaf_ok(struct tls_server *ts, SSL_SESSION *ss)
{
	X509 *leaf = SSL_SESSION_get0_peer(ss);
	X509_STORE_CTX *sc;
	struct principal pr;
	void *data = NULL;
	size_t len = 0;
	char err[256];

	if (leaf == NULL)
		return 0;
	if (SSL_SESSION_get0_ticket_appdata(ss, &data, &len) == 1 &&
	    len == 8 && util_be64_get(data) == ts->ts_gen &&
	    time(NULL) < ts->ts_valid_until &&
	    X509_cmp_current_time(X509_get0_notAfter(leaf)) > 0)
		return 1;
	if ((sc = tls_verify_now(ts, leaf, NULL, err, sizeof(err))) == NULL) {
		log_info("session resumption refused: %s", err);
		return 0;
	}
	memset(&pr, 0, sizeof(pr));
	if (tls_identify_chain(X509_STORE_CTX_get0_chain(sc), ts->ts_org_cas,
	    ts->ts_cfg, &pr, err, sizeof(err)) != 0) {
		log_info("session resumption refused: %s", err);
		X509_STORE_CTX_free(sc);
		return 0;
	}
	X509_STORE_CTX_free(sc);
	return 1;
}

static SSL_TICKET_RETURN
tls_ticket_dec_cb(SSL *ssl, SSL_SESSION *ss, const unsigned char *keyname,
    size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
	struct tls_server *ts = arg;

	(void)keyname;
	(void)keyname_len;
	switch (status) {
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW:
		if (ss == NULL || !tls_ticket_leaf_ok(ts, ss))
			return SSL_TICKET_RETURN_IGNORE_RENEW;
		/* tls_identify trusts a resumed session only with this mark. */
		if (SSL_set_ex_data(ssl, tls_ssl_idx, ts) != 1) {
			ERR_clear_error();
			return SSL_TICKET_RETURN_IGNORE_RENEW;
		}
		/* A new ticket each time: a TLS 1.3 client uses one once. */
		return SSL_TICKET_RETURN_USE_RENEW;
	case SSL_TICKET_NONE:
	case SSL_TICKET_EMPTY:
	case SSL_TICKET_NO_DECRYPT:
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	default:
		return SSL_TICKET_RETURN_ABORT;
	}
}

int
tls_server_use_tickets(struct tls_server *ts, struct tls_tickets *tt,
    char *err, size_t errlen)
{
	SSL_CTX *ctx = ts->ts_ctx;

	ts->ts_tickets = tt;
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	/* Stateless tickets only: the server keeps no session cache. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_timeout(ctx, (long)tt->tt_lifetime);
	/*
	 * Two, as OpenSSL does by default: a client drops the session of a
	 * connection it did not close cleanly, and keeps the other.
	 */
	if (SSL_CTX_set_num_tickets(ctx, 2) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_key_cb) != 1 ||
	    SSL_CTX_set_session_ticket_cb(ctx, tls_ticket_gen_cb,
	    tls_ticket_dec_cb, ts) != 1) {
		tls_err(err, errlen, "cannot turn session resumption on");
		ts->ts_tickets = NULL;
		return -1;
	}
	return 0;
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

/* ------------------------------------------------------------- teams */

/*
 * A strict DER reader for the one structure read here by hand: single-byte
 * tags, definite lengths, every length checked against what is left.
 */
struct tls_der {
	const unsigned char	*d_p;
	const unsigned char	*d_end;
};

/* The next element: its tag and its contents. 0, or -1 when malformed. */
static int
tls_der_next(struct tls_der *d, unsigned char *tag, struct tls_der *in)
{
	size_t len = 0;
	unsigned n;

	if (d->d_end - d->d_p < 2)
		return -1;
	*tag = *d->d_p++;
	if ((*tag & 0x1f) == 0x1f)
		return -1;			/* multi-byte tags: not here */
	n = *d->d_p++;
	if (n & 0x80) {
		n &= 0x7f;
		if (n == 0 || n > 3 || d->d_end - d->d_p < (ptrdiff_t)n)
			return -1;		/* indefinite, or absurd */
		while (n-- > 0)
			len = len << 8 | *d->d_p++;
	} else
		len = n;
	if (d->d_end - d->d_p < (ptrdiff_t)len)
		return -1;
	in->d_p = d->d_p;
	in->d_end = d->d_p + len;
	d->d_p += len;
	return 0;
}

#define DER_SEQUENCE	0x30
#define DER_SET		0x31
#define DER_OID		0x06
#define DER_UTF8	0x0c
#define DER_CTX0	0xa0

/* id-aca-group, 1.3.6.1.5.5.7.10.4 (RFC 5755, section 4.4.4). */
static const unsigned char tls_oid_group[] = {
	0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x0a, 0x04
};

static int
tls_team_name_ok(const unsigned char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= PRINCIPAL_TEAM_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* One team name (a UTF8String) into pr, checked. */
static int
tls_team_add(struct principal *pr, const struct tls_der *v, char *err,
    size_t errlen)
{
	char shown[72], raw[72];
	size_t len = (size_t)(v->d_end - v->d_p);
	int i;

	if (!tls_team_name_ok(v->d_p, len)) {
		(void)snprintf(raw, sizeof(raw), "%.*s", len > 64 ? 64 :
		    (int)len, (const char *)v->d_p);
		tls_printable(raw, shown, sizeof(shown));
		(void)snprintf(err, errlen, "certificate team \"%s\" is not "
		    "1..%d of [a-z0-9-]", shown, PRINCIPAL_TEAM_MAX - 1);
		return -1;
	}
	for (i = 0; i < pr->pr_nteams; i++) {
		if (strlen(pr->pr_teams[i]) == len &&
		    memcmp(pr->pr_teams[i], v->d_p, len) == 0) {
			(void)snprintf(err, errlen, "certificate names team "
			    "%s more than once", pr->pr_teams[i]);
			return -1;
		}
	}
	if (pr->pr_nteams >= PRINCIPAL_TEAMS_MAX) {
		(void)snprintf(err, errlen, "certificate names more than %d "
		    "teams", PRINCIPAL_TEAMS_MAX);
		return -1;
	}
	memcpy(pr->pr_teams[pr->pr_nteams], v->d_p, len);
	pr->pr_teams[pr->pr_nteams][len] = '\0';
	pr->pr_nteams++;
	return 0;
}

/*
 * The values of one Group attribute: a SET of IetfAttrSyntax, each
 * SEQUENCE { policyAuthority [0] OPTIONAL, values SEQUENCE OF CHOICE {
 * octets, oid, string } }; teams are the UTF8String choice only.
 */
static int
tls_team_values(struct principal *pr, struct tls_der set, char *err,
    size_t errlen)
{
	struct tls_der attr, vals, v;
	unsigned char tag;

	while (set.d_p < set.d_end) {
		if (tls_der_next(&set, &tag, &attr) == -1 ||
		    tag != DER_SEQUENCE)
			goto bad;
		if (tls_der_next(&attr, &tag, &vals) == -1)
			goto bad;
		if (tag == DER_CTX0 && tls_der_next(&attr, &tag, &vals) == -1)
			goto bad;	/* the policy authority: not ours */
		if (tag != DER_SEQUENCE || attr.d_p != attr.d_end)
			goto bad;
		if (vals.d_p == vals.d_end)
			goto bad;
		while (vals.d_p < vals.d_end) {
			if (tls_der_next(&vals, &tag, &v) == -1)
				goto bad;
			if (tag != DER_UTF8) {
				(void)snprintf(err, errlen, "certificate team "
				    "is not a UTF8String (Group attribute "
				    "value tag 0x%02x)", tag);
				return -1;
			}
			if (tls_team_add(pr, &v, err, errlen) == -1)
				return -1;
		}
	}
	return 0;
 bad:
	(void)snprintf(err, errlen, "certificate teams: malformed Group "
	    "attribute in subjectDirectoryAttributes");
	return -1;
}

/*
 * The teams the issuing CA put the leaf in: the Group attribute (RFC 5755)
 * in the subjectDirectoryAttributes extension (RFC 5280, 4.2.1.8), which
 * may hold other attributes too (ignored). No extension: no teams.
 */
static int
tls_teams(X509 *leaf, struct principal *pr, char *err, size_t errlen)
{
	const ASN1_OCTET_STRING *os;
	X509_EXTENSION *ext;
	struct tls_der d, sda, attr, oid, set;
	unsigned char tag;
	int idx;

	pr->pr_nteams = 0;
	idx = X509_get_ext_by_NID(leaf, NID_subject_directory_attributes, -1);
	if (idx < 0)
		return 0;
	if (X509_get_ext_by_NID(leaf, NID_subject_directory_attributes,
	    idx) >= 0) {
		(void)snprintf(err, errlen, "certificate has "
		    "subjectDirectoryAttributes more than once");
		return -1;
	}
	ext = X509_get_ext(leaf, idx);
	if ((os = X509_EXTENSION_get_data(ext)) == NULL)
		goto bad;
	d.d_p = ASN1_STRING_get0_data(os);
	d.d_end = d.d_p + ASN1_STRING_length(os);
	if (tls_der_next(&d, &tag, &sda) == -1 || tag != DER_SEQUENCE ||
	    d.d_p != d.d_end)
		goto bad;
	while (sda.d_p < sda.d_end) {
		if (tls_der_next(&sda, &tag, &attr) == -1 ||
		    tag != DER_SEQUENCE)
			goto bad;
		if (tls_der_next(&attr, &tag, &oid) == -1 || tag != DER_OID ||
		    tls_der_next(&attr, &tag, &set) == -1 || tag != DER_SET ||
		    attr.d_p != attr.d_end)
			goto bad;
		if (oid.d_end - oid.d_p != (ptrdiff_t)sizeof(tls_oid_group) ||
		    memcmp(oid.d_p, tls_oid_group, sizeof(tls_oid_group)) != 0)
			continue;
		if (tls_team_values(pr, set, err, errlen) == -1)
			return -1;
	}
	return 0;
 bad:
	(void)snprintf(err, errlen, "certificate teams: malformed "
	    "subjectDirectoryAttributes");
	return -1;
}

int
tls_identify_chain(STACK_OF(X509) *chain, X509 *const *org_cas,
    const struct config *cfg, struct principal *pr, char *err, size_t errlen)
{
	const struct config_org *co = NULL;
	const X509_NAME *subj;
	struct principal teams;
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
	memset(&teams, 0, sizeof(teams));
	if (tls_teams(leaf, &teams, err, errlen) == -1)
		return -1;

	/* pr_peer is the connection's: left as it is. */
	memcpy(pr->pr_org, co->co_id, sizeof(pr->pr_org));
	memcpy(pr->pr_subject, cn, sizeof(pr->pr_subject));
	pr->pr_role = role;
	memcpy(pr->pr_org_identifier, co->co_identifier,
	    sizeof(pr->pr_org_identifier));
	memcpy(pr->pr_serial, serial, sizeof(pr->pr_serial));
	memcpy(pr->pr_teams, teams.pr_teams, sizeof(pr->pr_teams));
	pr->pr_nteams = teams.pr_nteams;
	return 0;
}

/*
 * leaf verified now against ts's store and CRLs, with untrusted (may be
 * NULL) as the peer's own intermediates: the store context holding the
 * chain, or NULL with why in err.
 */
static X509_STORE_CTX *
tls_verify_now(struct tls_server *ts, X509 *leaf, STACK_OF(X509) *untrusted,
    char *err, size_t errlen)
{
	X509_STORE_CTX *sc;
	int why;

	if ((sc = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ts->ts_ctx), leaf,
	    untrusted) != 1 ||
	    X509_STORE_CTX_set_default(sc, "ssl_client") != 1) {
		tls_err(err, errlen, "cannot verify the certificate");
		X509_STORE_CTX_free(sc);
		return NULL;
	}
	X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(sc),
	    TLS_VERIFY_DEPTH);
	if (X509_verify_cert(sc) != 1) {
		why = X509_STORE_CTX_get_error(sc);
		ERR_clear_error();
		(void)snprintf(err, errlen, "certificate verification failed: "
		    "%s", X509_verify_cert_error_string(why));
		X509_STORE_CTX_free(sc);
		return NULL;
	}
	return sc;
}

int
tls_reverify(struct tls_server *ts, SSL *ssl, const struct config *cfg,
    struct principal *pr, char *err, size_t errlen)
{
	X509_STORE_CTX *sc;
	X509 *leaf;
	int rc;

	if ((leaf = SSL_get0_peer_certificate(ssl)) == NULL) {
		(void)snprintf(err, errlen, "no client certificate");
		return -1;
	}
	if ((sc = tls_verify_now(ts, leaf, SSL_get_peer_cert_chain(ssl), err,
	    errlen)) == NULL)
		return -1;
	rc = tls_identify_chain(X509_STORE_CTX_get0_chain(sc), ts->ts_org_cas,
	    cfg, pr, err, errlen);
	X509_STORE_CTX_free(sc);
	return rc;
}

/*
 * A session resumed from a ticket that tls_ticket_dec_cb checked under ts:
 * the chain is the leaf and the configured CA that issued it.
 */
static int
tls_identify_resumed(struct tls_server *ts, SSL *ssl,
    const struct config *cfg, struct principal *pr, char *err,
    size_t errlen)
{
	STACK_OF(X509) *chain;
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	size_t i;
	int rc;

	for (i = 0; i < ts->ts_norgs; i++)
		if (X509_check_issued(ts->ts_org_cas[i], leaf) == X509_V_OK)
			break;
	if (i == ts->ts_norgs) {
		(void)snprintf(err, errlen, "issuer is not an organisation CA");
		return -1;
	}
	if ((chain = sk_X509_new_null()) == NULL ||
	    sk_X509_push(chain, leaf) <= 0 ||
	    sk_X509_push(chain, ts->ts_org_cas[i]) <= 0) {
		sk_X509_free(chain);
		ERR_clear_error();
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = tls_identify_chain(chain, ts->ts_org_cas, cfg, pr, err, errlen);
	sk_X509_free(chain);
	return rc;
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
	/* Verified under another context's CRLs: again, under this one. */
	if (SSL_get_SSL_CTX(ssl) != ts->ts_ctx)
		return tls_reverify(ts, ssl, cfg, pr, err, errlen);
	if (SSL_session_reused(ssl)) {
		if (SSL_get_ex_data(ssl, tls_ssl_idx) != ts)
			return tls_reverify(ts, ssl, cfg, pr, err, errlen);
		return tls_identify_resumed(ts, ssl, cfg, pr, err, errlen);
	}
	if ((chain = SSL_get0_verified_chain(ssl)) == NULL) {
		(void)snprintf(err, errlen, "no verified certificate chain");
		return -1;
	}
	return tls_identify_chain(chain, ts->ts_org_cas, cfg, pr, err, errlen);
}
