/* seal: AES-256-GCM sealed values and the keys behind them (see seal.h). */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "seal.h"
#include "util.h"

#define SEAL_KEYFILE_MAX	256

uint32_t
seal_key_id(const uint8_t key[SEAL_KEY_LEN])
{
	static const char label[] = "eenplan key id";
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	uint32_t id = 0;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, label, sizeof(label)) == 1 &&
	    EVP_DigestUpdate(ctx, key, SEAL_KEY_LEN) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= 4)
		id = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
		    (uint32_t)md[2] << 8 | md[3];
	EVP_MD_CTX_free(ctx);
	/* 0 means "no key" in frames and the keyring: never an id. */
	return id == 0 ? 1 : id;
}

void
seal_key_wipe(struct seal_key *k)
{
	if (k != NULL)
		OPENSSL_cleanse(k, sizeof(*k));
}

int
seal_key_random(struct seal_key *k)
{
	if (RAND_bytes(k->sk_key, SEAL_KEY_LEN) != 1)
		return -1;
	k->sk_id = seal_key_id(k->sk_key);
	return 0;
}

/* 1 when path lies inside dir (both resolved). */
static int
path_inside(const char *path, const char *dir)
{
	char rp[PATH_MAX], rd[PATH_MAX];
	size_t n;

	if (realpath(path, rp) == NULL || realpath(dir, rd) == NULL)
		return 0;
	n = strlen(rd);
	if (n == 1 && rd[0] == '/')
		return 1;
	return strncmp(rp, rd, n) == 0 && (rp[n] == '/' || rp[n] == '\0');
}

static int
seal_key_parse(struct seal_key *k, const char *buf, size_t len, char *err,
    size_t errlen, const char *path)
{
	size_t i;
	int hi, lo;

	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len != 2 * SEAL_KEY_LEN) {
		snprintf(err, errlen, "%s: a key file holds 64 hexadecimal "
		    "characters (eenpland genkey FILE makes one)", path);
		return -1;
	}
	for (i = 0; i < SEAL_KEY_LEN; i++) {
		if ((hi = util_hexval((unsigned char)buf[2 * i])) < 0 ||
		    (lo = util_hexval((unsigned char)buf[2 * i + 1])) < 0) {
			snprintf(err, errlen, "%s: not hexadecimal", path);
			OPENSSL_cleanse(k->sk_key, sizeof(k->sk_key));
			return -1;
		}
		k->sk_key[i] = (uint8_t)(hi << 4 | lo);
	}
	k->sk_id = seal_key_id(k->sk_key);
	return 0;
}

int
seal_key_load(struct seal_key *k, const char *path, const char *data_dir,
    char *err, size_t errlen)
{
	char buf[SEAL_KEYFILE_MAX];
	struct stat sb;
	ssize_t n;
	int fd, rc = -1;

	memset(k, 0, sizeof(*k));
	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "no key file configured ([store] key)");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: mode %04o: a key file must not be "
		    "readable or writable by group or others (chmod 600)",
		    path, (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (data_dir != NULL && data_dir[0] != '\0' &&
	    path_inside(path, data_dir)) {
		snprintf(err, errlen, "%s: the key file lies inside the data "
		    "directory %s: keep it elsewhere, so a copy of the data "
		    "carries no key", path, data_dir);
		goto out;
	}
	if ((n = read(fd, buf, sizeof(buf))) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = seal_key_parse(k, buf, (size_t)n, err, errlen, path);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

int
seal_key_write(const struct seal_key *k, const char *path, char *err,
    size_t errlen)
{
	char buf[2 * SEAL_KEY_LEN + 1];
	static const char hex[] = "0123456789abcdef";
	size_t i;
	int fd, ok;

	for (i = 0; i < SEAL_KEY_LEN; i++) {
		buf[2 * i] = hex[k->sk_key[i] >> 4];
		buf[2 * i + 1] = hex[k->sk_key[i] & 15];
	}
	buf[2 * SEAL_KEY_LEN] = '\n';
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	ok = write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf) &&
	    fsync(fd) == 0;
	OPENSSL_cleanse(buf, sizeof(buf));
	if (close(fd) != 0 || !ok) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- GCM */

/*
 * One cipher context per thread and direction, keyed once: re-keying costs
 * more than the sealing of a small value. A context is bound to the key id
 * it was keyed with.
 */
struct seal_ctx {
	EVP_CIPHER_CTX	*sc_ctx;
	uint32_t	 sc_id;
};
static _Thread_local struct seal_ctx seal_enc, seal_dec;

/*
 * Nonces are drawn from the DRBG SEAL_NONCE_BATCH at a time: a RAND_bytes
 * call costs far more than the 12 bytes it gives (7 % of the writer's time
 * per sealed value, 2026-12-02), and a nonce is as random taken from a
 * larger draw. Per thread, never shared; the draw is bound to the process
 * (sn_gen): a child of a fork refills rather than reuse its parent's nonces.
 * The process is told by a count of forks that a pthread_atfork handler
 * bumps in every child, registered before the first draw of the process:
 * asking getpid() was a system call per sealed value (strace at the peak:
 * 0.9 per GetPlan).
 */
#define SEAL_NONCE_BATCH	64
struct seal_nonces {
	uint8_t		 sn_buf[SEAL_NONCE_BATCH * SEAL_NONCE_LEN];
	unsigned	 sn_next;	/* nonces taken from sn_buf */
	uint64_t	 sn_gen;	/* seal_forks + 1 when drawn; 0: none */
};
static _Thread_local struct seal_nonces seal_nonces;
static _Atomic uint64_t seal_forks;
static pthread_once_t seal_fork_once = PTHREAD_ONCE_INIT;

static void
seal_forked(void)
{
	atomic_fetch_add(&seal_forks, 1);
}

static void
seal_fork_watch(void)
{
	if (pthread_atfork(NULL, NULL, seal_forked) != 0)
		abort();	/* without it a child could reuse nonces */
}

/*
 * The principals index hash (HMAC-SHA-256) keyed once per thread: HMAC()
 * fetches the MAC and the digest on every call, more than the hash itself
 * of a short name. sh_key is the key it was keyed with.
 */
struct seal_hmac {
	EVP_MAC		*sh_mac;
	EVP_MAC_CTX	*sh_ctx;
	uint8_t		 sh_key[SEAL_KEY_LEN];
	int		 sh_keyed;
};
static _Thread_local struct seal_hmac seal_hmac;

static EVP_CIPHER_CTX *
seal_ctx_get(struct seal_ctx *sc, const struct seal_key *k, int enc)
{
	if (sc->sc_ctx == NULL && (sc->sc_ctx = EVP_CIPHER_CTX_new()) == NULL)
		return NULL;
	if (sc->sc_id != k->sk_id) {
		if (EVP_CipherInit_ex(sc->sc_ctx, EVP_aes_256_gcm(), NULL,
		    k->sk_key, NULL, enc) != 1) {
			sc->sc_id = 0;
			return NULL;
		}
		sc->sc_id = k->sk_id;
	}
	return sc->sc_ctx;
}

void
seal_thread_done(void)
{
	EVP_CIPHER_CTX_free(seal_enc.sc_ctx);
	EVP_CIPHER_CTX_free(seal_dec.sc_ctx);
	memset(&seal_enc, 0, sizeof(seal_enc));
	memset(&seal_dec, 0, sizeof(seal_dec));
	EVP_MAC_CTX_free(seal_hmac.sh_ctx);
	EVP_MAC_free(seal_hmac.sh_mac);
	OPENSSL_cleanse(&seal_hmac, sizeof(seal_hmac));
	memset(&seal_nonces, 0, sizeof(seal_nonces));
}

/* A fresh random nonce (see SEAL_NONCE_BATCH): 0, or -1. */
static int
seal_nonce(uint8_t *nonce)
{
	struct seal_nonces *sn = &seal_nonces;
	uint64_t gen;

	(void)pthread_once(&seal_fork_once, seal_fork_watch);
	gen = atomic_load(&seal_forks) + 1;
	if (sn->sn_gen != gen || sn->sn_next >= SEAL_NONCE_BATCH) {
		sn->sn_gen = 0;
		if (RAND_bytes(sn->sn_buf, sizeof(sn->sn_buf)) != 1)
			return -1;
		sn->sn_gen = gen;
		sn->sn_next = 0;
	}
	memcpy(nonce, sn->sn_buf + (size_t)sn->sn_next * SEAL_NONCE_LEN,
	    SEAL_NONCE_LEN);
	/* Taken once: never handed out again. */
	memset(sn->sn_buf + (size_t)sn->sn_next * SEAL_NONCE_LEN, 0,
	    SEAL_NONCE_LEN);
	sn->sn_next++;
	return 0;
}

static void
be32_put(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

uint32_t
seal_frame_key_id(const uint8_t *in)
{
	return (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 |
	    (uint32_t)in[3] << 8 | in[4];
}

int
seal_value(const struct seal_key *k, const void *ad, size_t adlen,
    const void *pt, size_t ptlen, uint8_t *out)
{
	uint8_t *nonce = out + 5, *ct = out + SEAL_HDR_LEN;
	EVP_CIPHER_CTX *ctx;
	int n, fin;

	if (k == NULL || ptlen > INT_MAX - SEAL_OVERHEAD || adlen > INT_MAX ||
	    (ctx = seal_ctx_get(&seal_enc, k, 1)) == NULL)
		return -1;
	out[0] = SEAL_VERSION;
	be32_put(out + 1, k->sk_id);
	if (seal_nonce(nonce) != 0)
		return -1;
	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    (adlen > 0 && EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)adlen) != 1))
		return -1;
	n = 0;
	if (ptlen > 0 && EVP_EncryptUpdate(ctx, ct, &n, pt, (int)ptlen) != 1)
		return -1;
	if (EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 ||
	    (size_t)n + (size_t)fin != ptlen)
		return -1;
	return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
	    ct + ptlen) == 1 ? 0 : -1;
}

int
seal_open(const struct seal_key *k, const void *ad, size_t adlen,
    const uint8_t *in, size_t inlen, uint8_t *pt)
{
	const uint8_t *ct = in + SEAL_HDR_LEN;
	EVP_CIPHER_CTX *ctx;
	size_t ctlen;
	int n = 0, fin;

	if (k == NULL || inlen < SEAL_OVERHEAD || inlen > INT_MAX ||
	    adlen > INT_MAX || in[0] != SEAL_VERSION ||
	    seal_frame_key_id(in) != k->sk_id)
		return -1;
	ctlen = inlen - SEAL_OVERHEAD;
	if ((ctx = seal_ctx_get(&seal_dec, k, 0)) == NULL)
		return -1;
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, in + 5) != 1 ||
	    (adlen > 0 && EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)adlen) != 1))
		return -1;
	n = 0;
	if (ctlen > 0 && EVP_DecryptUpdate(ctx, pt, &n, ct, (int)ctlen) != 1)
		return -1;
	/* The tag is the integrity check: nothing is trusted before it. */
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
	    (void *)(uintptr_t)(ct + ctlen)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, pt + n, &fin) != 1) {
		if (ctlen > 0)
			OPENSSL_cleanse(pt, ctlen);
		return -1;
	}
	return 0;
}

/* HMAC-SHA-256 of msg under k, on this thread's keyed context: 0, or -1. */
static int
seal_hmac_run(const struct seal_key *k, const uint8_t *msg, size_t len,
    uint8_t *md, unsigned int *mdlen)
{
	struct seal_hmac *sh = &seal_hmac;
	OSSL_PARAM params[2];
	size_t outl = 0;
	int keyed;

	if (sh->sh_mac == NULL &&
	    (sh->sh_mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -1;
	if (sh->sh_ctx == NULL && (sh->sh_ctx = EVP_MAC_CTX_new(sh->sh_mac)) ==
	    NULL)
		return -1;
	/* Keyed with this key already: EVP_MAC_init with no key reuses it. */
	keyed = sh->sh_keyed &&
	    CRYPTO_memcmp(sh->sh_key, k->sk_key, SEAL_KEY_LEN) == 0;
	sh->sh_keyed = 0;
	if (keyed) {
		if (EVP_MAC_init(sh->sh_ctx, NULL, 0, NULL) != 1)
			return -1;
	} else {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		if (EVP_MAC_init(sh->sh_ctx, k->sk_key, SEAL_KEY_LEN, params) != 1)
			return -1;
		memcpy(sh->sh_key, k->sk_key, SEAL_KEY_LEN);
	}
	if (EVP_MAC_update(sh->sh_ctx, msg, len) != 1 ||
	    EVP_MAC_final(sh->sh_ctx, md, &outl, EVP_MAX_MD_SIZE) != 1 ||
	    outl > UINT_MAX)
		return -1;
	sh->sh_keyed = 1;
	*mdlen = (unsigned int)outl;
	return 0;
}

int
seal_index_hash(const struct seal_key *k, const char *org, const char *subject,
    uint8_t out[SEAL_INDEX_LEN])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t olen, slen;
	uint8_t *msg;
	int ok;

	if (k == NULL || org == NULL || subject == NULL)
		return -1;
	olen = strlen(org);
	slen = strlen(subject);
	if (olen > 4096 || slen > 4096 ||
	    (msg = malloc(olen + slen + 1)) == NULL)
		return -1;
	memcpy(msg, org, olen);
	msg[olen] = '\0';
	memcpy(msg + olen + 1, subject, slen);
	ok = seal_hmac_run(k, msg, olen + slen + 1, md, &mdlen) == 0 &&
	    mdlen >= SEAL_INDEX_LEN;
	free(msg);
	if (!ok)
		return -1;
	memcpy(out, md, SEAL_INDEX_LEN);
	return 0;
}

/* ---------------------------------------------------------- keyring */

struct keyring {
	struct seal_key	 kr_keys[SEAL_MAX_KEYS];
	atomic_uint	 kr_n;		/* published count */
	atomic_uint	 kr_current;	/* index into kr_keys + 1; 0: none */
	struct seal_key	 kr_index;
	atomic_int	 kr_has_index;
};

struct keyring *
keyring_new(void)
{
	struct keyring *kr;

	if ((kr = calloc(1, sizeof(*kr))) == NULL)
		return NULL;
	atomic_init(&kr->kr_n, 0);
	atomic_init(&kr->kr_current, 0);
	atomic_init(&kr->kr_has_index, 0);
	return kr;
}

void
keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	OPENSSL_cleanse(kr, sizeof(*kr));
	free(kr);
}

const struct seal_key *
keyring_get(const struct keyring *kr, uint32_t id)
{
	unsigned i, n;

	if (kr == NULL)
		return NULL;
	n = atomic_load_explicit(&kr->kr_n, memory_order_acquire);
	for (i = 0; i < n; i++)
		if (kr->kr_keys[i].sk_id == id)
			return &kr->kr_keys[i];
	return NULL;
}

int
keyring_add(struct keyring *kr, const struct seal_key *k)
{
	unsigned n;

	if (keyring_get(kr, k->sk_id) != NULL)
		return 0;
	n = atomic_load_explicit(&kr->kr_n, memory_order_relaxed);
	if (n == SEAL_MAX_KEYS)
		return -1;
	kr->kr_keys[n] = *k;
	atomic_store_explicit(&kr->kr_n, n + 1, memory_order_release);
	return 0;
}

int
keyring_set_current(struct keyring *kr, uint32_t id)
{
	unsigned i, n;

	n = atomic_load_explicit(&kr->kr_n, memory_order_acquire);
	for (i = 0; i < n; i++) {
		if (kr->kr_keys[i].sk_id == id) {
			atomic_store_explicit(&kr->kr_current, i + 1,
			    memory_order_release);
			return 0;
		}
	}
	return -1;
}

const struct seal_key *
keyring_current(const struct keyring *kr)
{
	unsigned c;

	if (kr == NULL)
		return NULL;
	c = atomic_load_explicit(&kr->kr_current, memory_order_acquire);
	return c == 0 ? NULL : &kr->kr_keys[c - 1];
}

void
keyring_set_index(struct keyring *kr, const struct seal_key *k)
{
	/* Readers use it without a lock: once set, it never changes. */
	if (atomic_load_explicit(&kr->kr_has_index, memory_order_acquire))
		return;
	kr->kr_index = *k;
	atomic_store_explicit(&kr->kr_has_index, 1, memory_order_release);
}

const struct seal_key *
keyring_index(const struct keyring *kr)
{
	if (kr == NULL ||
	    !atomic_load_explicit(&kr->kr_has_index, memory_order_acquire))
		return NULL;
	return &kr->kr_index;
}
