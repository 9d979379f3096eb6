/*
 * seal: encryption at rest. Every stored value that says something about a
 * household is sealed with AES-256-GCM (OpenSSL EVP) under a data key: a
 * fresh random nonce per value, the database and the value's LMDB key as
 * associated data (the key begins with the household id where the value
 * belongs to one), the 16-byte tag as the value's integrity check.
 *
 * Keys: the operator's key file holds the key-encryption key (KEK). Data
 * keys (DEKs) and the index key (hides person ids in index keys) are random,
 * kept in the store's meta "keyring", each wrapped (sealed) under the KEK.
 * `rekey NEWKEY` adds a new DEK wrapped under both KEKs, re-encrypts every
 * value under it, then drops the old wraps: a copy of the data file or a
 * backup opens nothing without the key file. No LMDB, no libevent here.
 */
#ifndef EENPLAN_SEAL_H
#define EENPLAN_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN	32
#define SEAL_NONCE_LEN	12
#define SEAL_TAG_LEN	16
#define SEAL_VERSION	2		/* first byte of a sealed frame */
#define SEAL_HDR_LEN	(1 + 4 + SEAL_NONCE_LEN)	/* version, key id, nonce */
#define SEAL_OVERHEAD	(SEAL_HDR_LEN + SEAL_TAG_LEN)
#define SEAL_MAX_KEYS	32		/* data keys held at once */
#define SEAL_INDEX_LEN	16		/* bytes of a principal's index hash */

/* A 256-bit key and its id (the first 4 bytes of a SHA-256 over it). */
struct seal_key {
	uint32_t	sk_id;
	uint8_t		sk_key[SEAL_KEY_LEN];
};

/*
 * Reads a key file: 64 hexadecimal characters (an optional newline after),
 * the form `eenpland genkey` writes. Refused with a clear message in err:
 * a missing file, a file readable or writable by group or others, a file
 * inside data_dir (a copy of the data directory must not carry its key),
 * anything but 32 bytes of key. data_dir may be NULL (no such check).
 */
int	seal_key_load(struct seal_key *, const char *path, const char *data_dir,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
/* A new random key. 0 or -1. */
int	seal_key_random(struct seal_key *) __attribute__((warn_unused_result));
/* Writes k as a key file (mode 0600, created exclusively). 0 or -1 with err. */
int	seal_key_write(const struct seal_key *, const char *path, char *err,
	    size_t errlen) __attribute__((warn_unused_result));
uint32_t seal_key_id(const uint8_t key[SEAL_KEY_LEN]);
void	seal_key_wipe(struct seal_key *);

/*
 * Seals pt (ptlen bytes) under k into out, which has room for
 * ptlen + SEAL_OVERHEAD bytes: version, key id, nonce, ciphertext, tag.
 * ad (adlen bytes) is authenticated, not stored. 0 or -1.
 */
int	seal_value(const struct seal_key *, const void *ad, size_t adlen,
	    const void *pt, size_t ptlen, uint8_t *out)
	    __attribute__((warn_unused_result));
/*
 * Opens a sealed frame of inlen bytes into pt (room for
 * inlen - SEAL_OVERHEAD bytes). -1 when the tag does not verify (damage, a
 * value moved to another key, or the wrong key), or inlen is too short.
 */
int	seal_open(const struct seal_key *, const void *ad, size_t adlen,
	    const uint8_t *in, size_t inlen, uint8_t *pt)
	    __attribute__((warn_unused_result));
/* The key id a sealed frame names (in must hold SEAL_HDR_LEN bytes). */
uint32_t seal_frame_key_id(const uint8_t *in);
/* Frees this thread's cipher contexts: call before a thread that sealed ends. */
void	seal_thread_done(void);

/*
 * The index hash of a principal: HMAC-SHA256(index key, org \0 subject),
 * the first SEAL_INDEX_LEN bytes. Keys of the principals index begin with
 * it, so a data file does not show who is linked to which household.
 */
int	seal_index_hash(const struct seal_key *, const char *org,
	    const char *subject, uint8_t out[SEAL_INDEX_LEN])
	    __attribute__((warn_unused_result));

/*
 * The keys a store uses, in memory: the data keys by id (the current one
 * seals new values), and the index key. Lookups are lock-free and safe from
 * any thread while one thread adds keys: a key once added stays until
 * keyring_free.
 */
struct keyring;

struct keyring *keyring_new(void);
void	keyring_free(struct keyring *);
/* Adds (or keeps) a data key; -1 when SEAL_MAX_KEYS are held. */
int	keyring_add(struct keyring *, const struct seal_key *)
	    __attribute__((warn_unused_result));
/* The key with id, or NULL. */
const struct seal_key *keyring_get(const struct keyring *, uint32_t id);
/* Makes key id (already added) the one new values are sealed under. */
int	keyring_set_current(struct keyring *, uint32_t id)
	    __attribute__((warn_unused_result));
const struct seal_key *keyring_current(const struct keyring *);
void	keyring_set_index(struct keyring *, const struct seal_key *);
const struct seal_key *keyring_index(const struct keyring *);

#endif
