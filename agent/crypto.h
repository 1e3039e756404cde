/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto: sealed gossip datagrams, the gossip keyring with replay windows,
 * signed bundles (ECDSA P-256) and key generation. mbedTLS underneath;
 * secrets are wiped with mbedtls_platform_zeroize and never logged.
 *
 * Sealed datagram (DESIGN §5), 30 bytes of overhead:
 *
 *   version(1)=1 | key-id(1) | nonce(12) | AES-256-GCM ciphertext | tag(16)
 *
 * The 14 header bytes (version, key id, nonce) are the GCM additional
 * data, so none of them can be changed without failing authentication.
 *
 * Key ids. A gossip key is 32 random bytes (base64 in config and CLI). Its
 * id is the first byte of SHA-256("farnode gossip key id" || key), so every
 * node derives the same id from the same key and no id has to be agreed
 * separately. Installing a key whose id collides with a different installed
 * key fails with -EEXIST (generate another key).
 *
 * Nonces. The 12-byte nonce is  instance(8) | counter(4, big endian).
 * For every installed key and each channel (datagrams, streams) the sealer
 * draws a fresh random 64-bit instance from CTR-DRBG when the key is
 * installed (so at every process start) and counts from 0. When the counter
 * would wrap (2^32 datagrams) a new instance is drawn. A nonce therefore never
 * repeats within one process; across processes and nodes sharing the key a
 * repeat needs two equal random instances: with q instances ever drawn for one
 * key the chance is about q^2 / 2^65 (below 2^-25 for a million restarts).
 *
 * Replay window. Because the sender's node id is inside the ciphertext,
 * the window is keyed by what the header authenticates: (key id,
 * instance). An instance is one sender process using one key, its counter
 * is that sender's sequence. After a datagram authenticates, its counter
 * is checked against a 128-bit sliding window for its instance: counters
 * already seen are rejected (-EALREADY, "replay") and counters more than
 * 128 behind the highest seen are rejected (-ESTALE, "stale"). A restarted
 * sender has a new random instance, so it is never locked out. Memory is
 * bounded: at most `replay_slots` live windows (LRU eviction); an evicted
 * window leaves a 16-byte tombstone (instance + highest counter) in a ring
 * of 4 x replay_slots entries, and a tombstoned instance that speaks again
 * must move strictly forward. Frames carried over TCP (push-pull) are
 * sealed on the stream channel (crypto_seal_stream): a separate instance,
 * so a large transfer sealed before a burst of datagrams cannot fall
 * behind the datagram window. Only an instance evicted from both (more
 * than 5 x replay_slots newer instances since it was last heard) can have
 * old datagrams accepted once more; SWIM's incarnation ordering above
 * ignores such stale content. Windows of a removed key are dropped.
 *
 * Signed bundles. sign/verify is ECDSA P-256 over
 *   SHA-256("farnode.v1.SignedBundle" NUL || kind(4, big endian) || payload)
 * so a signature for one kind (policy, desired) cannot be replayed as the
 * other. A signing key id is the lowercase hex of the first 8 bytes of
 * SHA-256 of the public key's DER SubjectPublicKeyInfo (16 characters).
 * Verification looks the key id up among pinned public keys only.
 *
 * Errors (negative errno):
 *   -EMSGSIZE         datagram/payload over its cap; output would not fit
 *   -EBADMSG          truncated datagram, malformed signature or key text
 *   -EPROTONOSUPPORT  sealed-datagram version we do not speak
 *   -ENOKEY           key id not in the keyring / not pinned; no primary
 *   -EKEYREJECTED     authentication failed: wrong key, modified bytes,
 *                     or (signatures) a bad signature
 *   -EALREADY         replay: counter already seen in its window
 *   -ESTALE           counter older than the window
 *   -EEXIST, -EBUSY, -ENOSPC   keyring management (see functions)
 *   -EIO              an mbedTLS failure (logged once with its message)
 */
#ifndef FARNODE_CRYPTO_H
#define FARNODE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SEAL_VERSION  1
#define CRYPTO_KEY_LEN	     32 /* AES-256 */
#define CRYPTO_NONCE_LEN     12
#define CRYPTO_TAG_LEN	     16
#define CRYPTO_HEADER_LEN    (2 + CRYPTO_NONCE_LEN)		  /* 14 */
#define CRYPTO_SEAL_OVERHEAD (CRYPTO_HEADER_LEN + CRYPTO_TAG_LEN) /* 30 */
/* Largest sealed message crypto_open accepts: room for TCP push-pull
 * frames. UDP callers bound datagrams by WIRE_DATAGRAM_MAX themselves. */
#define CRYPTO_SEALED_MAX	    (16u << 20)
#define CRYPTO_KEYS_MAX		    8	/* keys in one keyring */
#define CRYPTO_KEY_B64_LEN	    45	/* base64 of 32 bytes + NUL */
#define CRYPTO_REPLAY_WINDOW	    128 /* counters per window */
#define CRYPTO_REPLAY_SLOTS_DEFAULT 512

#define CRYPTO_SIG_MAX	       72 /* DER ECDSA P-256 signature */
#define CRYPTO_SIGN_KEY_ID_LEN 17 /* 16 hex chars + NUL */
#define CRYPTO_PINS_MAX	       8

/* ---- gossip keys -------------------------------------------------- */

/* Derive a key's 1-byte id (see header comment). */
uint8_t crypto_key_id(const uint8_t key[CRYPTO_KEY_LEN]);
/* First 8 bytes of SHA-256(key) as 16 hex chars + NUL: safe to show. */
void crypto_key_fingerprint(const uint8_t key[CRYPTO_KEY_LEN],
			    char out[CRYPTO_SIGN_KEY_ID_LEN]);
/*
 * Parse a base64 key (surrounding whitespace allowed). Returns 0, or
 * -EBADMSG when it is not base64 of exactly 32 bytes. out is wiped on
 * failure.
 */
int crypto_key_parse_b64(const char *s, uint8_t out[CRYPTO_KEY_LEN]);
/* Format a key as base64 (44 chars + NUL). */
void crypto_key_format_b64(const uint8_t key[CRYPTO_KEY_LEN],
			   char out[CRYPTO_KEY_B64_LEN]);
/* Fill out with secret random bytes from CTR-DRBG. 0 or -EIO. */
int crypto_random(uint8_t *out, size_t len);
/* A new random gossip key. 0 or -EIO. */
int crypto_keygen_gossip(uint8_t out[CRYPTO_KEY_LEN]);

/* ---- keyring and sealed datagrams ---------------------------------- */

/* Counters per outcome; all monotonic. */
struct crypto_stats {
	uint64_t sealed;
	uint64_t opened;
	uint64_t rej_oversized;	    /* -EMSGSIZE */
	uint64_t rej_truncated;	    /* -EBADMSG: shorter than the overhead */
	uint64_t rej_version;	    /* -EPROTONOSUPPORT */
	uint64_t rej_unknown_key;   /* -ENOKEY */
	uint64_t rej_auth;	    /* -EKEYREJECTED */
	uint64_t rej_replay;	    /* -EALREADY */
	uint64_t rej_stale;	    /* -ESTALE */
	uint64_t windows_evicted;   /* live windows pushed out by LRU */
	uint64_t instances_rotated; /* sealer counter wraps (new instance) */
};

/* What crypto_keyring_list reports per key (no secret material). */
struct crypto_key_info {
	uint8_t id;
	bool primary;
	char fingerprint[CRYPTO_SIGN_KEY_ID_LEN];
	uint64_t sealed; /* datagrams sealed with it */
	uint64_t opened; /* datagrams it opened */
};

struct crypto_keyring;

/*
 * New empty keyring with room for replay_slots live replay windows (0 =
 * CRYPTO_REPLAY_SLOTS_DEFAULT). Returns NULL on allocation or DRBG seeding
 * failure. Free with crypto_keyring_free (NULL-safe; wipes every key).
 */
struct crypto_keyring *crypto_keyring_new(uint32_t replay_slots);
void crypto_keyring_free(struct crypto_keyring *kr);

/*
 * Install a key (copied; the caller wipes its copy). The first key
 * installed becomes primary. Installing a key that is already present is
 * a no-op returning 0. *id_out (may be NULL) gets its id. Errors: -EEXIST
 * (a different key has the same id), -ENOSPC (CRYPTO_KEYS_MAX installed),
 * -EIO.
 */
int crypto_keyring_install(struct crypto_keyring *kr,
			   const uint8_t key[CRYPTO_KEY_LEN], uint8_t *id_out);
/* Make key id the primary (the one that seals). 0 or -ENOKEY. */
int crypto_keyring_use(struct crypto_keyring *kr, uint8_t id);
/*
 * Remove key id and its replay windows. -ENOKEY if absent, -EBUSY if it is
 * the primary (switch primary first).
 */
int crypto_keyring_remove(struct crypto_keyring *kr, uint8_t id);
/* Primary key id (>= 0), or -ENOKEY when the keyring is empty. */
int crypto_keyring_primary(const struct crypto_keyring *kr);
/* Number of installed keys. */
size_t crypto_keyring_count(const struct crypto_keyring *kr);
/*
 * Fill up to max entries (primary first, then by install order); returns
 * the number of keys installed (may exceed max).
 */
size_t crypto_keyring_list(const struct crypto_keyring *kr,
			   struct crypto_key_info *out, size_t max);
/*
 * Copy the secret of key id into out (for persisting the keyring in the
 * store; the caller wipes it). 0 or -ENOKEY.
 */
int crypto_keyring_export(const struct crypto_keyring *kr, uint8_t id,
			  uint8_t out[CRYPTO_KEY_LEN]);
/* Counters so far (copied). */
void crypto_keyring_stats(const struct crypto_keyring *kr,
			  struct crypto_stats *out);

/*
 * Seal pt[0..pt_len) with the primary key into out (cap bytes; needs
 * pt_len + CRYPTO_SEAL_OVERHEAD). pt and out must not overlap. Returns 0
 * and *out_len, -ENOKEY (no key), -EMSGSIZE (result over
 * CRYPTO_SEALED_MAX), -ENOBUFS (cap too small), -EIO.
 */
int crypto_seal(struct crypto_keyring *kr, const uint8_t *pt, size_t pt_len,
		uint8_t *out, size_t cap, size_t *out_len);

/*
 * Same as crypto_seal on the stream channel, for frames sent over TCP
 * (its own nonce instance and so its own replay window at the receiver).
 */
int crypto_seal_stream(struct crypto_keyring *kr, const uint8_t *pt,
		       size_t pt_len, uint8_t *out, size_t cap,
		       size_t *out_len);

/*
 * Authenticate and decrypt in[0..len) into pt (cap bytes; needs len -
 * CRYPTO_SEAL_OVERHEAD), then check and record its replay window. Nothing
 * is written to the window unless the datagram authenticates. Each
 * rejection is counted under its reason. Returns 0 and *pt_len, or
 * -EMSGSIZE, -EBADMSG (truncated), -EPROTONOSUPPORT, -ENOKEY,
 * -EKEYREJECTED, -EALREADY, -ESTALE, -ENOBUFS (pt too small; not counted).
 * pt holds no plaintext after a failure.
 */
int crypto_open(struct crypto_keyring *kr, const uint8_t *in, size_t len,
		uint8_t *pt, size_t cap, size_t *pt_len);

/* Name of a crypto error code for logs and counters ("replay", ...). */
const char *crypto_strerror(int err);

/* ---- signed bundles ------------------------------------------------ */

struct crypto_signer;

/*
 * Load a PEM (or DER) EC P-256 private key from a file. Returns NULL and
 * sets *err (-ENOENT/-EACCES/-EBADMSG for a bad or non-P-256 key, -EIO).
 * Free with crypto_signer_free (NULL-safe; wipes the key).
 */
struct crypto_signer *crypto_signer_load(const char *path, int *err);
/* Same from a buffer (PEM must include its terminating NUL in len). */
struct crypto_signer *crypto_signer_parse(const uint8_t *buf, size_t len,
					  int *err);
void crypto_signer_free(struct crypto_signer *s);
/* The signer's key id (16 hex chars). Borrowed; lives with s. */
const char *crypto_signer_key_id(const struct crypto_signer *s);

/*
 * Sign payload for kind. sig gets a DER signature of at most
 * CRYPTO_SIG_MAX bytes. Returns 0 and *sig_len, or -EIO.
 */
int crypto_sign(struct crypto_signer *s, uint32_t kind, const uint8_t *payload,
		size_t payload_len, uint8_t sig[CRYPTO_SIG_MAX],
		size_t *sig_len);

/* Pinned public keys (a value type; _init cannot fail). */
struct crypto_pin {
	char key_id[CRYPTO_SIGN_KEY_ID_LEN];
	void *pk; /* mbedtls_pk_context, owned */
};
struct crypto_pins {
	size_t n;
	struct crypto_pin pin[CRYPTO_PINS_MAX];
};
void crypto_pins_init(struct crypto_pins *p);
void crypto_pins_fini(struct crypto_pins *p);
/*
 * Pin a PEM/DER public key (buffer form: PEM includes its NUL) or load it
 * from a file. *key_id_out (may be NULL) gets its id. Pinning the same key
 * twice is a no-op. Errors: -EBADMSG (not a P-256 public key), -ENOSPC,
 * -ENOENT/-EACCES (file), -EIO.
 */
int crypto_pins_add(struct crypto_pins *p, const uint8_t *buf, size_t len,
		    char key_id_out[CRYPTO_SIGN_KEY_ID_LEN]);
int crypto_pins_add_file(struct crypto_pins *p, const char *path,
			 char key_id_out[CRYPTO_SIGN_KEY_ID_LEN]);

/*
 * Verify sig over (kind, payload) with the pinned key key_id. Returns 0,
 * -ENOKEY (key id not pinned), -EBADMSG (signature empty or longer than
 * CRYPTO_SIG_MAX), -EKEYREJECTED (signature does not verify, including
 * DER that does not parse).
 */
int crypto_verify(const struct crypto_pins *p, const char *key_id,
		  uint32_t kind, const uint8_t *payload, size_t payload_len,
		  const uint8_t *sig, size_t sig_len);

/*
 * Generate a P-256 keypair into dir: dir/signing.key (PEM private key,
 * created with mode 0600, never overwritten) and dir/signing.pub (PEM
 * public key, 0644). key_id_out (may be NULL) gets the key id. Returns 0,
 * -EEXIST (a file is already there), -errno from the filesystem, -EIO.
 */
int crypto_keygen_signing(const char *dir,
			  char key_id_out[CRYPTO_SIGN_KEY_ID_LEN]);

#endif
