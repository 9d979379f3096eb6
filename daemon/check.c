/*
 * check: eenpland -n (see check.h). Each check stands alone and goes on
 * after a problem, so one run names them all. When none of them found a
 * problem with TLS, the context is built once more exactly as start-up
 * builds it (tls_server_new), so -n can never pass what start-up refuses.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "anchor.h"
#include "check.h"
#include "seal.h"
#include "store.h"
#include "tls.h"

#define CHECK_KEY_MAX	(64 * 1024)

struct ck {
	const struct config	*ck_conf;
	check_report_fn		 ck_report;
	check_report_fn		 ck_note;
	void			*ck_arg;
	int			 ck_n;
	int			 ck_tls;	/* TLS problems found */
};

/* "file:line: [section] key: msg" (the line left out for a default). */
static void __attribute__((format(printf, 5, 6)))
ck_say(struct ck *ck, int problem, const char *section, const char *key,
    const char *fmt, ...)
{
	char msg[1024], out[PATH_MAX + 1200];
	va_list ap;
	int line;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line = config_line(ck->ck_conf, section, key);
	if (line > 0)
		(void)snprintf(out, sizeof(out), "%s:%d: [%s] %s: %s",
		    ck->ck_conf->c_path, line, section, key, msg);
	else
		(void)snprintf(out, sizeof(out), "%s: [%s] %s: %s",
		    ck->ck_conf->c_path, section, key, msg);
	if (problem) {
		ck->ck_n++;
		ck->ck_report(ck->ck_arg, out);
	} else if (ck->ck_note != NULL)
		ck->ck_note(ck->ck_arg, out);
}

#define PROBLEM(ck, sec, key, ...)	ck_say((ck), 1, (sec), (key), __VA_ARGS__)
#define NOTE(ck, sec, key, ...)		ck_say((ck), 0, (sec), (key), __VA_ARGS__)

/* The first OpenSSL error as text (or "unknown"), and the queue cleared. */
static const char *
ck_ossl(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		(void)snprintf(buf, len, "not PEM");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* Every certificate of a PEM file, or NULL with the problem reported. */
static STACK_OF(X509) *
ck_certs(struct ck *ck, const char *sec, const char *key, const char *path)
{
	STACK_OF(X509) *sk;
	char err[PATH_MAX + 512];

	if (path[0] == '\0')
		return NULL;	/* not set: the config said so */
	if ((sk = tls_read_certs(path, err, sizeof(err))) == NULL)
		PROBLEM(ck, sec, key, "%s", err);
	return sk;
}

/* A certificate's subject as one line. */
static void
ck_name(X509 *x, char *buf, size_t len)
{
	if (X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len) == NULL)
		(void)snprintf(buf, len, "?");
}

/* Expired or not yet valid: a problem; ending within 30 days: a note. */
static void
ck_validity(struct ck *ck, const char *sec, const char *key, const char *path,
    X509 *x)
{
	char name[256];
	int days = 0, secs = 0;

	ck_name(x, name, sizeof(name));
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		PROBLEM(ck, sec, key, "%s: %s is not valid yet", path, name);
	else if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		PROBLEM(ck, sec, key, "%s: %s has expired", path, name);
	else if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) ==
	    1 && days < 30)
		NOTE(ck, sec, key, "%s: %s expires in %d day(s)", path, name,
		    days);
}

/* A key file: only its owner may read it, and it is a usable key. */
static EVP_PKEY *
ck_private_key(struct ck *ck, const char *sec, const char *key,
    const char *path)
{
	EVP_PKEY *pk = NULL;
	struct stat st;
	BIO *bio;
	char e[256];

	if (path[0] == '\0')
		return NULL;
	if (stat(path, &st) == -1) {
		PROBLEM(ck, sec, key, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		PROBLEM(ck, sec, key, "%s: not a regular file", path);
		return NULL;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		PROBLEM(ck, sec, key, "%s: mode %04o: group and others must "
		    "have no access to a private key (chmod 600)", path,
		    (unsigned)(st.st_mode & 07777));
	if (st.st_size <= 0 || st.st_size > CHECK_KEY_MAX) {
		PROBLEM(ck, sec, key, "%s: size %lld is not that of a key",
		    path, (long long)st.st_size);
		return NULL;
	}
	ERR_clear_error();
	if ((bio = BIO_new_file(path, "r")) == NULL) {
		PROBLEM(ck, sec, key, "%s: %s", path, strerror(errno));
		ERR_clear_error();
		return NULL;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (pk == NULL)
		PROBLEM(ck, sec, key, "%s: no usable private key (PEM, "
		    "unencrypted): %s", path, ck_ossl(e, sizeof(e)));
	return pk;
}

/* [server] cert and key. */
static void
ck_server_cert(struct ck *ck)
{
	const struct config *c = ck->ck_conf;
	STACK_OF(X509) *sk;
	EVP_PKEY *pk;
	int n0 = ck->ck_n;

	sk = ck_certs(ck, "server", "cert", c->c_cert_file);
	if (sk != NULL)
		ck_validity(ck, "server", "cert", c->c_cert_file,
		    sk_X509_value(sk, 0));
	pk = ck_private_key(ck, "server", "key", c->c_key_file);
	if (sk != NULL && pk != NULL &&
	    X509_check_private_key(sk_X509_value(sk, 0), pk) != 1)
		PROBLEM(ck, "server", "key", "%s does not match the "
		    "certificate %s", c->c_key_file, c->c_cert_file);
	ERR_clear_error();
	EVP_PKEY_free(pk);
	sk_X509_pop_free(sk, X509_free);
	ck->ck_tls += ck->ck_n - n0;
}

/* Exactly one CA certificate (not a leaf) from path, or NULL. */
static X509 *
ck_ca(struct ck *ck, const char *sec, const char *key, const char *path)
{
	STACK_OF(X509) *sk;
	X509 *x;
	char name[256], issuer[256];

	if ((sk = ck_certs(ck, sec, key, path)) == NULL)
		return NULL;
	if (sk_X509_num(sk) != 1) {
		PROBLEM(ck, sec, key, "%s: expected one CA certificate, found "
		    "%d", path, sk_X509_num(sk));
		sk_X509_pop_free(sk, X509_free);
		return NULL;
	}
	x = sk_X509_shift(sk);
	sk_X509_free(sk);
	if (X509_check_ca(x) != 1) {
		ck_name(x, name, sizeof(name));
		if (X509_NAME_oneline(X509_get_issuer_name(x), issuer,
		    sizeof(issuer)) == NULL)
			(void)snprintf(issuer, sizeof(issuer), "?");
		PROBLEM(ck, sec, key, "%s is a leaf certificate (%s, issued by "
		    "%s), not a CA: an organisation's ca must be the CA that "
		    "issues its people's certificates", path, name, issuer);
		X509_free(x);
		ERR_clear_error();
		return NULL;
	}
	ck_validity(ck, sec, key, path, x);
	return x;
}

/* 1 when ca chains to root (signature and validity). */
static int
ck_under_root(X509 *root, X509 *ca, int *why)
{
	X509_STORE *st;
	X509_STORE_CTX *sc = NULL;
	int ok = 0;

	*why = X509_V_ERR_UNSPECIFIED;
	if ((st = X509_STORE_new()) == NULL)
		return 0;
	if (X509_STORE_add_cert(st, root) == 1 &&
	    (sc = X509_STORE_CTX_new()) != NULL &&
	    X509_STORE_CTX_init(sc, st, ca, NULL) == 1) {
		ok = X509_verify_cert(sc) == 1;
		*why = X509_STORE_CTX_get_error(sc);
	}
	X509_STORE_CTX_free(sc);
	X509_STORE_free(st);
	ERR_clear_error();
	return ok;
}

/* 1 when crl was issued and signed by ca. */
static int
ck_crl_of(X509_CRL *crl, X509 *ca)
{
	EVP_PKEY *pk;
	int ok;

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(ca)) != 0 ||
	    (pk = X509_get0_pubkey(ca)) == NULL)
		return 0;
	ok = X509_CRL_verify(crl, pk) == 1;
	ERR_clear_error();
	return ok;
}

/* [server] crl: one CRL per CA (root and every organisation's). */
static void
ck_crls(struct ck *ck, X509 *root, X509 *const *cas)
{
	const struct config *c = ck->ck_conf;
	STACK_OF(X509_INFO) *infos = NULL;
	X509_INFO *xi;
	const ASN1_TIME *next;
	BIO *bio;
	char what[64];
	size_t j;
	int i, ncrl = 0, found;

	ERR_clear_error();
	if ((bio = BIO_new_file(c->c_crl_file, "r")) == NULL) {
		PROBLEM(ck, "server", "crl", "%s: %s", c->c_crl_file,
		    strerror(errno));
		ERR_clear_error();
		return;
	}
	infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	for (i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
		xi = sk_X509_INFO_value(infos, i);
		if (xi->crl == NULL)
			continue;
		ncrl++;
		next = X509_CRL_get0_nextUpdate(xi->crl);
		if (next != NULL && X509_cmp_current_time(next) < 0)
			NOTE(ck, "server", "crl", "%s: CRL %d has expired "
			    "(nextUpdate passed): certificates of its CA will "
			    "be refused", c->c_crl_file, i + 1);
	}
	if (ncrl == 0) {
		PROBLEM(ck, "server", "crl", "%s: no CRL in it",
		    c->c_crl_file);
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
		return;
	}
	for (j = 0; j <= c->c_norgs; j++) {
		X509 *ca = j < c->c_norgs ? cas[j] : root;

		if (ca == NULL)
			continue;	/* reported at its own setting */
		found = 0;
		for (i = 0; i < sk_X509_INFO_num(infos) && !found; i++) {
			xi = sk_X509_INFO_value(infos, i);
			found = xi->crl != NULL && ck_crl_of(xi->crl, ca);
		}
		if (found)
			continue;
		if (j < c->c_norgs)
			(void)snprintf(what, sizeof(what), "[org %s] CA",
			    c->c_orgs[j].co_id);
		else
			(void)snprintf(what, sizeof(what), "root CA");
		PROBLEM(ck, "server", "crl", "%s: no CRL of the %s (%s): "
		    "with CRL checking every CA needs its CRL, or each of its "
		    "certificates is refused", c->c_crl_file, what,
		    j < c->c_norgs ? c->c_orgs[j].co_ca_file : c->c_ca_file);
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
}

/* [server] ca, every [org ID] ca, [server] crl. */
static void
ck_trust(struct ck *ck)
{
	const struct config *c = ck->ck_conf;
	X509 *root, *cas[CONFIG_MAX_ORGS];
	char sec[PRINCIPAL_ORG_MAX + 8], other[PRINCIPAL_ORG_MAX + 8];
	char name[256];
	size_t i, j;
	int why, n0 = ck->ck_n;

	memset(cas, 0, sizeof(cas));
	root = ck_ca(ck, "server", "ca", c->c_ca_file);
	for (i = 0; i < c->c_norgs; i++) {
		(void)snprintf(sec, sizeof(sec), "org %s", c->c_orgs[i].co_id);
		if ((cas[i] = ck_ca(ck, sec, "ca", c->c_orgs[i].co_ca_file)) ==
		    NULL)
			continue;
		if (root != NULL && !ck_under_root(root, cas[i], &why))
			PROBLEM(ck, sec, "ca", "%s does not verify under the "
			    "root CA %s: %s", c->c_orgs[i].co_ca_file,
			    c->c_ca_file, X509_verify_cert_error_string(why));
		/* The organisation is found by its CA: two cannot share one. */
		for (j = 0; j < i; j++) {
			if (cas[j] == NULL)
				continue;
			(void)snprintf(other, sizeof(other), "org %s",
			    c->c_orgs[j].co_id);
			if (X509_cmp(cas[j], cas[i]) == 0)
				PROBLEM(ck, sec, "ca", "%s: the same CA "
				    "certificate as [org %s] (ca = %s, line "
				    "%d): a peer's organisation is the one "
				    "whose CA issued it, so two organisations "
				    "cannot share a CA",
				    c->c_orgs[i].co_ca_file, c->c_orgs[j].co_id,
				    c->c_orgs[j].co_ca_file,
				    config_line(c, other, "ca"));
			else if (X509_NAME_cmp(X509_get_subject_name(cas[j]),
			    X509_get_subject_name(cas[i])) == 0) {
				ck_name(cas[i], name, sizeof(name));
				PROBLEM(ck, sec, "ca", "%s: the same subject "
				    "(%s) as the CA of [org %s]: issuers are "
				    "told apart by name, so each organisation "
				    "needs a CA of its own name",
				    c->c_orgs[i].co_ca_file, name,
				    c->c_orgs[j].co_id);
			}
		}
	}
	if (c->c_crl_file[0] != '\0' && root != NULL)
		ck_crls(ck, root, cas);
	for (i = 0; i < c->c_norgs; i++)
		X509_free(cas[i]);
	X509_free(root);
	ck->ck_tls += ck->ck_n - n0;
}

/* [store] key, data_dir and the store itself when there is one. */
static void
ck_store(struct ck *ck, int *key_ok, struct seal_key *kek)
{
	const struct config *c = ck->ck_conf;
	char err[PATH_MAX + 512], parent[PATH_MAX], *slash;
	struct stat st;

	*key_ok = 0;
	memset(kek, 0, sizeof(*kek));
	if (c->c_store_key[0] == '\0')
		;	/* not set: the config said so */
	else if (seal_key_load(kek, c->c_store_key, c->c_data_dir, err,
	    sizeof(err)) != 0)
		PROBLEM(ck, "store", "key", "%s", err);
	else
		*key_ok = 1;
	if (c->c_data_dir[0] == '\0')
		return;
	if (stat(c->c_data_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			PROBLEM(ck, "server", "data_dir", "%s is not a "
			    "directory", c->c_data_dir);
		return;
	}
	if (errno != ENOENT) {
		PROBLEM(ck, "server", "data_dir", "%s: %s", c->c_data_dir,
		    strerror(errno));
		return;
	}
	/* Made at start, but not its parents. */
	(void)snprintf(parent, sizeof(parent), "%s", c->c_data_dir);
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
		*slash = '\0';
		if (stat(parent, &st) == -1 || !S_ISDIR(st.st_mode))
			PROBLEM(ck, "server", "data_dir", "%s does not exist, "
			    "nor does its parent %s (start-up makes only the "
			    "directory itself)", c->c_data_dir, parent);
	}
}

/* An existing store: opened read-only, as the admin commands do. */
static void
ck_store_open(struct ck *ck, const struct seal_key *kek)
{
	const struct config *c = ck->ck_conf;
	struct store_opts so;
	struct store *st;
	struct stxn *t;
	struct audit_head file, head;
	char path[PATH_MAX + 16], hf[PATH_MAX], err[PATH_MAX + 512], msg[512];
	struct stat sb;
	int rc, present;

	if (snprintf(path, sizeof(path), "%s/data.mdb", c->c_data_dir) >=
	    (int)sizeof(path))
		return;
	if (stat(path, &sb) == -1) {
		if (errno != ENOENT)	/* ENOENT: no store yet, start-up makes one */
			PROBLEM(ck, "server", "data_dir", "%s: %s", path,
			    strerror(errno));
		return;
	}
	memset(&so, 0, sizeof(so));
	so.so_dir = c->c_data_dir;
	so.so_map_max = c->c_map_max;
	so.so_max_readers = 126;
	so.so_readonly = 1;
	so.so_kek = kek;
	if (store_open(&st, &so, err, sizeof(err)) != STORE_OK) {
		PROBLEM(ck, "server", "data_dir", "the store: %s", err);
		return;
	}
	if (anchor_path(c, hf, sizeof(hf)) == -1) {
		PROBLEM(ck, "audit", "head_file", "path too long");
		goto out;
	}
	if (anchor_read(hf, &file, &present, err, sizeof(err)) == -1) {
		PROBLEM(ck, "audit", "head_file", "%s", err);
		goto out;
	}
	if (!present || (t = store_reader_new(st)) == NULL)
		goto out;
	if ((rc = store_reader_begin(t)) == STORE_OK) {
		rc = anchor_compare(t, &file, &head, msg, sizeof(msg));
		store_reader_end(t);
		if (rc == 1 || rc == 2)
			PROBLEM(ck, "audit", "head_file", "%s: %s: start-up "
			    "refuses this store (rolled back?) unless "
			    "--accept-rollback", hf, msg);
		else if (rc < 0)
			PROBLEM(ck, "server", "data_dir", "the store's audit "
			    "head: %s", msg);
	}
	store_reader_free(t);
 out:
	store_close(st);
}

/* [audit] head_file: its directory must be there for it. */
static void
ck_head_file(struct ck *ck)
{
	const struct config *c = ck->ck_conf;
	char hf[PATH_MAX], *slash;
	struct stat st;

	if (c->c_audit_head_file[0] == '\0')
		return;		/* in data_dir */
	(void)snprintf(hf, sizeof(hf), "%s", c->c_audit_head_file);
	if (stat(hf, &st) == 0 && !S_ISREG(st.st_mode)) {
		PROBLEM(ck, "audit", "head_file", "%s is not a regular file",
		    hf);
		return;
	}
	if ((slash = strrchr(hf, '/')) == NULL || slash == hf)
		return;
	*slash = '\0';
	if (stat(hf, &st) == -1 || !S_ISDIR(st.st_mode))
		PROBLEM(ck, "audit", "head_file", "the directory %s does not "
		    "exist", hf);
	else if (access(hf, W_OK) == -1 && c->c_user[0] == '\0')
		PROBLEM(ck, "audit", "head_file", "the directory %s is not "
		    "writable", hf);
}

/* [server] user and listen. */
static void
ck_process(struct ck *ck)
{
	const struct config *c = ck->ck_conf;
	struct addrinfo hints, *res;
	int rc;

	if (c->c_user[0] != '\0' && getpwnam(c->c_user) == NULL)
		PROBLEM(ck, "server", "user", "%s: no such user", c->c_user);
	if (c->c_user[0] == '\0' && geteuid() == 0)
		PROBLEM(ck, "server", "user", "not set, and run as root: "
		    "start-up refuses root without user = NAME (or user = root "
		    "to run as root knowingly)");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(c->c_listen_host[0] ? c->c_listen_host : NULL,
	    c->c_listen_port, &hints, &res);
	if (rc != 0)
		PROBLEM(ck, "server", "listen", "%s:%s: %s", c->c_listen_host,
		    c->c_listen_port, gai_strerror(rc));
	else
		freeaddrinfo(res);
}

int
check_config(const struct config *conf, check_report_fn report,
    check_report_fn note, void *arg)
{
	struct tls_server *ts;
	struct seal_key kek;
	struct ck ck;
	char err[1024];
	int key_ok;

	memset(&ck, 0, sizeof(ck));
	ck.ck_conf = conf;
	ck.ck_report = report;
	ck.ck_note = note;
	ck.ck_arg = arg;
	ck_process(&ck);
	ck_server_cert(&ck);
	ck_trust(&ck);
	ck_store(&ck, &key_ok, &kek);
	ck_head_file(&ck);
	if (key_ok)
		ck_store_open(&ck, &kek);
	seal_key_wipe(&kek);
	/* What start-up builds, built: nothing it refuses passes here. */
	if (ck.ck_tls == 0 && conf->c_cert_file[0] != '\0' &&
	    conf->c_key_file[0] != '\0' && conf->c_ca_file[0] != '\0') {
		if ((ts = tls_server_new(conf, err, sizeof(err))) == NULL)
			PROBLEM(&ck, "server", "cert", "%s", err);
		tls_server_free(ts);
	}
	ERR_clear_error();
	return ck.ck_n;
}
