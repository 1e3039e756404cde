// SPDX-License-Identifier: Apache-2.0
// crypto: gossip keys, the keyring, sealed datagrams (AES-256-GCM) and
// their replay windows. The design (nonce layout, window keying, memory
// bounds) is described in crypto.h; signed bundles are in crypto_sign.c.

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/gcm.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#define LOG_TAG "crypto"
#include "log.h"

#include "crypto.h"
#include "crypto_internal.h"

/* ---- shared DRBG ---------------------------------------------------- */

static pthread_mutex_t drbg_lock = PTHREAD_MUTEX_INITIALIZER;
static mbedtls_entropy_context drbg_entropy;
static mbedtls_ctr_drbg_context drbg;
static int drbg_ready;

int crypto__mbed_err(const char *what, int mbed_rc)
{
	char buf[128];

	mbedtls_strerror(mbed_rc, buf, sizeof(buf));
	log_error("%s: %s (-0x%04x)", what, buf, (unsigned)-mbed_rc);
	return -EIO;
}

int crypto__rng(void *p_rng, unsigned char *out, size_t len)
{
	static const char pers[] = "farnode drbg";
	int rc = 0;

	(void)p_rng;
	pthread_mutex_lock(&drbg_lock);
	if (!drbg_ready) {
		mbedtls_entropy_init(&drbg_entropy);
		mbedtls_ctr_drbg_init(&drbg);
		rc = mbedtls_ctr_drbg_seed(
		    &drbg, mbedtls_entropy_func, &drbg_entropy,
		    (const unsigned char *)pers, sizeof(pers) - 1);
		if (rc != 0) {
			mbedtls_ctr_drbg_free(&drbg);
			mbedtls_entropy_free(&drbg_entropy);
			goto out;
		}
		drbg_ready = 1;
	}
	/* the DRBG hands out at most 1024 bytes per call */
	while (len > 0 && rc == 0) {
		size_t n = len > 1024 ? 1024 : len;

		rc = mbedtls_ctr_drbg_random(&drbg, out, n);
		out += n;
		len -= n;
	}
out:
	pthread_mutex_unlock(&drbg_lock);
	return rc;
}

int crypto_random(uint8_t *out, size_t len)
{
	int rc = crypto__rng(NULL, out, len);

	if (rc != 0) {
		mbedtls_platform_zeroize(out, len);
		return crypto__mbed_err("random", rc);
	}
	return 0;
}

int crypto_keygen_gossip(uint8_t out[CRYPTO_KEY_LEN])
{
	return crypto_random(out, CRYPTO_KEY_LEN);
}

/* ---- key text ------------------------------------------------------- */

static void key_hash(const char *label, const uint8_t key[CRYPTO_KEY_LEN],
		     uint8_t out[32])
{
	mbedtls_sha256_context c;

	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	if (label != NULL) {
		mbedtls_sha256_update_ret(&c, (const unsigned char *)label,
					  strlen(label));
	}
	mbedtls_sha256_update_ret(&c, key, CRYPTO_KEY_LEN);
	mbedtls_sha256_finish_ret(&c, out);
	mbedtls_sha256_free(&c);
}

uint8_t crypto_key_id(const uint8_t key[CRYPTO_KEY_LEN])
{
	uint8_t h[32];
	uint8_t id;

	key_hash("farnode gossip key id", key, h);
	id = h[0];
	mbedtls_platform_zeroize(h, sizeof(h));
	return id;
}

void crypto_key_fingerprint(const uint8_t key[CRYPTO_KEY_LEN],
			    char out[CRYPTO_SIGN_KEY_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t h[32];

	key_hash("farnode gossip key fingerprint", key, h);
	for (int i = 0; i < 8; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[16] = '\0';
	mbedtls_platform_zeroize(h, sizeof(h));
}

int crypto_key_parse_b64(const char *s, uint8_t out[CRYPTO_KEY_LEN])
{
	uint8_t buf[CRYPTO_KEY_LEN + 8];
	size_t n = 0, len;
	int rc = -EBADMSG;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
		s++;
	}
	len = strnlen(s, 128);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
			   s[len - 1] == '\n' || s[len - 1] == '\r')) {
		len--;
	}
	if (len != 44) {
		goto out;
	}
	if (mbedtls_base64_decode(buf, sizeof(buf), &n,
				  (const unsigned char *)s, len) != 0 ||
	    n != CRYPTO_KEY_LEN) {
		goto out;
	}
	memcpy(out, buf, CRYPTO_KEY_LEN);
	rc = 0;
out:
	mbedtls_platform_zeroize(buf, sizeof(buf));
	if (rc != 0) {
		mbedtls_platform_zeroize(out, CRYPTO_KEY_LEN);
	}
	return rc;
}

void crypto_key_format_b64(const uint8_t key[CRYPTO_KEY_LEN],
			   char out[CRYPTO_KEY_B64_LEN])
{
	size_t n = 0;

	if (mbedtls_base64_encode((unsigned char *)out, CRYPTO_KEY_B64_LEN, &n,
				  key, CRYPTO_KEY_LEN) != 0) {
		out[0] = '\0';
	}
}

/* ---- keyring -------------------------------------------------------- */

struct ring_key {
	bool used;
	uint8_t id;
	uint8_t secret[CRYPTO_KEY_LEN];
	mbedtls_gcm_context gcm;
	/* per channel (0 datagrams, 1 streams): this process's nonce
	 * prefix for this key and the next counter */
	uint8_t instance[2][8];
	uint32_t counter[2];
	uint64_t installed; /* install order */
	uint64_t sealed;
	uint64_t opened;
};

/* A live replay window for (key id, instance). */
struct window {
	uint64_t instance;
	uint64_t last_used; /* keyring tick, for LRU */
	uint64_t bits[2];   /* bit i: counter top - i seen */
	uint32_t top;	    /* highest counter seen */
	uint32_t next;	    /* hash chain (slot index + 1; 0 = end) */
	uint8_t key_id;
	bool used;
};

/* What is left of an evicted window. */
struct tombstone {
	uint64_t instance;
	uint32_t top;
	uint8_t key_id;
	bool used;
};

struct crypto_keyring {
	struct ring_key keys[CRYPTO_KEYS_MAX];
	int primary; /* index into keys, -1 = none */
	uint64_t install_seq;
	uint32_t n_slots;
	uint32_t n_buckets; /* power of two */
	uint64_t tick;
	struct window *slots;
	uint32_t *buckets; /* slot index + 1; 0 = empty */
	uint32_t n_tombs;
	uint32_t tomb_next; /* ring cursor */
	struct tombstone *tombs;
	struct crypto_stats stats;
};

struct crypto_keyring *crypto_keyring_new(uint32_t replay_slots)
{
	struct crypto_keyring *kr;

	if (replay_slots == 0) {
		replay_slots = CRYPTO_REPLAY_SLOTS_DEFAULT;
	}
	if (replay_slots > (1u << 20)) {
		return NULL;
	}
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL) {
		return NULL;
	}
	kr->primary = -1;
	kr->n_slots = replay_slots;
	kr->n_buckets = 1;
	while (kr->n_buckets < replay_slots * 2) {
		kr->n_buckets <<= 1;
	}
	kr->n_tombs = replay_slots * 4;
	kr->slots = calloc(kr->n_slots, sizeof(*kr->slots));
	kr->buckets = calloc(kr->n_buckets, sizeof(*kr->buckets));
	kr->tombs = calloc(kr->n_tombs, sizeof(*kr->tombs));
	if (kr->slots == NULL || kr->buckets == NULL || kr->tombs == NULL) {
		goto fail;
	}
	return kr;
fail:
	crypto_keyring_free(kr);
	return NULL;
}

static void key_wipe(struct ring_key *k)
{
	if (k->used) {
		mbedtls_gcm_free(&k->gcm);
	}
	mbedtls_platform_zeroize(k, sizeof(*k));
}

void crypto_keyring_free(struct crypto_keyring *kr)
{
	if (kr == NULL) {
		return;
	}
	for (int i = 0; i < CRYPTO_KEYS_MAX; i++) {
		key_wipe(&kr->keys[i]);
	}
	free(kr->slots);
	free(kr->buckets);
	free(kr->tombs);
	mbedtls_platform_zeroize(kr, sizeof(*kr));
	free(kr);
}

static int key_find(const struct crypto_keyring *kr, uint8_t id)
{
	for (int i = 0; i < CRYPTO_KEYS_MAX; i++) {
		if (kr->keys[i].used && kr->keys[i].id == id) {
			return i;
		}
	}
	return -1;
}

static int new_instance(struct ring_key *k, int ch)
{
	int rc = crypto_random(k->instance[ch], sizeof(k->instance[ch]));

	k->counter[ch] = 0;
	return rc;
}

int crypto_keyring_install(struct crypto_keyring *kr,
			   const uint8_t key[CRYPTO_KEY_LEN], uint8_t *id_out)
{
	uint8_t id = crypto_key_id(key);
	struct ring_key *k = NULL;
	int i, rc;

	i = key_find(kr, id);
	if (i >= 0) {
		if (mbedtls_ct_memcmp(kr->keys[i].secret, key,
				      CRYPTO_KEY_LEN) != 0) {
			return -EEXIST;
		}
		if (id_out != NULL) {
			*id_out = id;
		}
		return 0;
	}
	for (i = 0; i < CRYPTO_KEYS_MAX; i++) {
		if (!kr->keys[i].used) {
			k = &kr->keys[i];
			break;
		}
	}
	if (k == NULL) {
		return -ENOSPC;
	}
	mbedtls_gcm_init(&k->gcm);
	rc = mbedtls_gcm_setkey(&k->gcm, MBEDTLS_CIPHER_ID_AES, key,
				CRYPTO_KEY_LEN * 8);
	if (rc != 0) {
		mbedtls_gcm_free(&k->gcm);
		return crypto__mbed_err("gcm setkey", rc);
	}
	k->used = true;
	rc = new_instance(k, 0);
	if (rc == 0) {
		rc = new_instance(k, 1);
	}
	if (rc < 0) {
		key_wipe(k);
		return rc;
	}
	k->id = id;
	memcpy(k->secret, key, CRYPTO_KEY_LEN);
	k->installed = ++kr->install_seq;
	if (kr->primary < 0) {
		kr->primary = i;
	}
	if (id_out != NULL) {
		*id_out = id;
	}
	return 0;
}

int crypto_keyring_use(struct crypto_keyring *kr, uint8_t id)
{
	int i = key_find(kr, id);

	if (i < 0) {
		return -ENOKEY;
	}
	kr->primary = i;
	return 0;
}

static uint32_t win_hash(const struct crypto_keyring *kr, uint8_t key_id,
			 uint64_t instance)
{
	uint64_t h =
	    (instance ^ ((uint64_t)key_id << 56)) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32) & (kr->n_buckets - 1);
}

static void win_unlink(struct crypto_keyring *kr, uint32_t slot)
{
	struct window *w = &kr->slots[slot];
	uint32_t *pp = &kr->buckets[win_hash(kr, w->key_id, w->instance)];

	while (*pp != 0) {
		if (*pp == slot + 1) {
			*pp = w->next;
			break;
		}
		pp = &kr->slots[*pp - 1].next;
	}
	memset(w, 0, sizeof(*w));
}

int crypto_keyring_remove(struct crypto_keyring *kr, uint8_t id)
{
	int i = key_find(kr, id);

	if (i < 0) {
		return -ENOKEY;
	}
	if (i == kr->primary) {
		return -EBUSY;
	}
	key_wipe(&kr->keys[i]);
	for (uint32_t s = 0; s < kr->n_slots; s++) {
		if (kr->slots[s].used && kr->slots[s].key_id == id) {
			win_unlink(kr, s);
		}
	}
	for (uint32_t t = 0; t < kr->n_tombs; t++) {
		if (kr->tombs[t].used && kr->tombs[t].key_id == id) {
			memset(&kr->tombs[t], 0, sizeof(kr->tombs[t]));
		}
	}
	return 0;
}

int crypto_keyring_primary(const struct crypto_keyring *kr)
{
	if (kr->primary < 0) {
		return -ENOKEY;
	}
	return kr->keys[kr->primary].id;
}

size_t crypto_keyring_count(const struct crypto_keyring *kr)
{
	size_t n = 0;

	for (int i = 0; i < CRYPTO_KEYS_MAX; i++) {
		n += kr->keys[i].used ? 1 : 0;
	}
	return n;
}

size_t crypto_keyring_list(const struct crypto_keyring *kr,
			   struct crypto_key_info *out, size_t max)
{
	int order[CRYPTO_KEYS_MAX];
	size_t n = 0;

	/* primary first, the rest by install order (insertion sort) */
	for (int i = 0; i < CRYPTO_KEYS_MAX; i++) {
		size_t j;

		if (!kr->keys[i].used) {
			continue;
		}
		j = n++;
		while (j > 0) {
			const struct ring_key *a = &kr->keys[order[j - 1]];
			bool a_first = order[j - 1] == kr->primary ||
				       (i != kr->primary &&
					a->installed < kr->keys[i].installed);

			if (a_first) {
				break;
			}
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t j = 0; j < n && j < max; j++) {
		const struct ring_key *k = &kr->keys[order[j]];

		out[j].id = k->id;
		out[j].primary = order[j] == kr->primary;
		crypto_key_fingerprint(k->secret, out[j].fingerprint);
		out[j].sealed = k->sealed;
		out[j].opened = k->opened;
	}
	return n;
}

int crypto_keyring_export(const struct crypto_keyring *kr, uint8_t id,
			  uint8_t out[CRYPTO_KEY_LEN])
{
	int i = key_find(kr, id);

	if (i < 0) {
		return -ENOKEY;
	}
	memcpy(out, kr->keys[i].secret, CRYPTO_KEY_LEN);
	return 0;
}

void crypto_keyring_stats(const struct crypto_keyring *kr,
			  struct crypto_stats *out)
{
	*out = kr->stats;
}

/* ---- seal / open ---------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v; /* an opaque identifier: host order is fine */
}

static int seal_on(struct crypto_keyring *kr, int ch, const uint8_t *pt,
		   size_t pt_len, uint8_t *out, size_t cap, size_t *out_len)
{
	struct ring_key *k;
	int rc;

	if (kr->primary < 0) {
		return -ENOKEY;
	}
	if (pt_len > CRYPTO_SEALED_MAX - CRYPTO_SEAL_OVERHEAD) {
		return -EMSGSIZE;
	}
	if (cap < pt_len + CRYPTO_SEAL_OVERHEAD) {
		return -ENOBUFS;
	}
	k = &kr->keys[kr->primary];
	if (k->counter[ch] == UINT32_MAX) {
		/* counter space of this instance used up: start another */
		rc = new_instance(k, ch);
		if (rc < 0) {
			return rc;
		}
		kr->stats.instances_rotated++;
	}
	out[0] = CRYPTO_SEAL_VERSION;
	out[1] = k->id;
	memcpy(out + 2, k->instance[ch], 8);
	put_be32(out + 10, k->counter[ch]++);
	rc = mbedtls_gcm_crypt_and_tag(
	    &k->gcm, MBEDTLS_GCM_ENCRYPT, pt_len, out + 2, CRYPTO_NONCE_LEN,
	    out, CRYPTO_HEADER_LEN, pt, out + CRYPTO_HEADER_LEN, CRYPTO_TAG_LEN,
	    out + CRYPTO_HEADER_LEN + pt_len);
	if (rc != 0) {
		mbedtls_platform_zeroize(out, pt_len + CRYPTO_SEAL_OVERHEAD);
		return crypto__mbed_err("gcm seal", rc);
	}
	*out_len = pt_len + CRYPTO_SEAL_OVERHEAD;
	k->sealed++;
	kr->stats.sealed++;
	return 0;
}

int crypto_seal(struct crypto_keyring *kr, const uint8_t *pt, size_t pt_len,
		uint8_t *out, size_t cap, size_t *out_len)
{
	return seal_on(kr, 0, pt, pt_len, out, cap, out_len);
}

int crypto_seal_stream(struct crypto_keyring *kr, const uint8_t *pt,
		       size_t pt_len, uint8_t *out, size_t cap, size_t *out_len)
{
	return seal_on(kr, 1, pt, pt_len, out, cap, out_len);
}

static struct window *win_lookup(struct crypto_keyring *kr, uint8_t key_id,
				 uint64_t instance)
{
	uint32_t s = kr->buckets[win_hash(kr, key_id, instance)];

	while (s != 0) {
		struct window *w = &kr->slots[s - 1];

		if (w->key_id == key_id && w->instance == instance) {
			return w;
		}
		s = w->next;
	}
	return NULL;
}

/* Find a free slot, evicting the least recently used window. */
static uint32_t win_alloc(struct crypto_keyring *kr)
{
	uint32_t victim = 0;

	for (uint32_t s = 0; s < kr->n_slots; s++) {
		if (!kr->slots[s].used) {
			return s;
		}
		if (kr->slots[s].last_used < kr->slots[victim].last_used) {
			victim = s;
		}
	}
	/* keep a tombstone so the evicted instance cannot go backwards */
	struct tombstone *t = &kr->tombs[kr->tomb_next];

	kr->tomb_next = (kr->tomb_next + 1) % kr->n_tombs;
	t->used = true;
	t->key_id = kr->slots[victim].key_id;
	t->instance = kr->slots[victim].instance;
	t->top = kr->slots[victim].top;
	win_unlink(kr, victim);
	kr->stats.windows_evicted++;
	return victim;
}

/*
 * Check counter c of (key_id, instance) against its window without
 * changing anything. Returns 0 (fresh), -EALREADY or -ESTALE, and *tomb
 * the tombstone to revive (or NULL).
 */
static int win_check(struct crypto_keyring *kr, uint8_t key_id,
		     uint64_t instance, uint32_t c, struct window **wout,
		     struct tombstone **tomb)
{
	struct window *w = win_lookup(kr, key_id, instance);

	*wout = w;
	*tomb = NULL;
	if (w == NULL) {
		for (uint32_t t = 0; t < kr->n_tombs; t++) {
			struct tombstone *ts = &kr->tombs[t];

			if (ts->used && ts->key_id == key_id &&
			    ts->instance == instance) {
				*tomb = ts;
				return c > ts->top ? 0 : -ESTALE;
			}
		}
		return 0;
	}
	if (c > w->top) {
		return 0;
	}
	uint32_t d = w->top - c;

	if (d >= CRYPTO_REPLAY_WINDOW) {
		return -ESTALE;
	}
	if (w->bits[d / 64] & (1ull << (d % 64))) {
		return -EALREADY;
	}
	return 0;
}

static void win_shift(struct window *w, uint32_t n)
{
	if (n >= 128) {
		w->bits[0] = w->bits[1] = 0;
	} else if (n >= 64) {
		w->bits[1] = w->bits[0] << (n - 64);
		w->bits[0] = 0;
	} else if (n > 0) {
		w->bits[1] = (w->bits[1] << n) | (w->bits[0] >> (64 - n));
		w->bits[0] <<= n;
	}
}

static void win_record(struct crypto_keyring *kr, struct window *w,
		       uint8_t key_id, uint64_t instance, uint32_t c,
		       struct tombstone *tomb)
{
	if (w == NULL) {
		bool revive = tomb != NULL;
		uint32_t old_top = revive ? tomb->top : 0;
		uint32_t s, b;

		if (revive) {
			/* clear first: win_alloc may reuse this ring entry */
			memset(tomb, 0, sizeof(*tomb));
		}
		s = win_alloc(kr);
		b = win_hash(kr, key_id, instance);

		w = &kr->slots[s];
		w->used = true;
		w->key_id = key_id;
		w->instance = instance;
		w->next = kr->buckets[b];
		kr->buckets[b] = s + 1;
		if (revive) {
			/* everything up to the old top counts as seen */
			w->top = old_top;
			w->bits[0] = w->bits[1] = ~0ull;
		} else {
			w->top = c;
			w->bits[0] = 1;
			w->bits[1] = 0;
		}
	}
	if (c > w->top) {
		win_shift(w, c - w->top);
		w->top = c;
		w->bits[0] |= 1;
	} else {
		uint32_t d = w->top - c;

		w->bits[d / 64] |= 1ull << (d % 64);
	}
	w->last_used = ++kr->tick;
}

int crypto_open(struct crypto_keyring *kr, const uint8_t *in, size_t len,
		uint8_t *pt, size_t cap, size_t *pt_len)
{
	struct window *w;
	struct tombstone *tomb;
	struct ring_key *k;
	uint64_t instance;
	uint32_t c;
	size_t n;
	int i, rc;

	if (len > CRYPTO_SEALED_MAX) {
		kr->stats.rej_oversized++;
		return -EMSGSIZE;
	}
	if (len < CRYPTO_SEAL_OVERHEAD) {
		kr->stats.rej_truncated++;
		return -EBADMSG;
	}
	if (in[0] != CRYPTO_SEAL_VERSION) {
		kr->stats.rej_version++;
		return -EPROTONOSUPPORT;
	}
	i = key_find(kr, in[1]);
	if (i < 0) {
		kr->stats.rej_unknown_key++;
		return -ENOKEY;
	}
	n = len - CRYPTO_SEAL_OVERHEAD;
	if (cap < n) {
		return -ENOBUFS;
	}
	k = &kr->keys[i];
	rc = mbedtls_gcm_auth_decrypt(&k->gcm, n, in + 2, CRYPTO_NONCE_LEN, in,
				      CRYPTO_HEADER_LEN,
				      in + len - CRYPTO_TAG_LEN, CRYPTO_TAG_LEN,
				      in + CRYPTO_HEADER_LEN, pt);
	if (rc != 0) {
		mbedtls_platform_zeroize(pt, n);
		if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED) {
			kr->stats.rej_auth++;
			return -EKEYREJECTED;
		}
		return crypto__mbed_err("gcm open", rc);
	}
	instance = get_u64(in + 2);
	c = get_be32(in + 10);
	rc = win_check(kr, k->id, instance, c, &w, &tomb);
	if (rc < 0) {
		mbedtls_platform_zeroize(pt, n);
		if (rc == -EALREADY) {
			kr->stats.rej_replay++;
		} else {
			kr->stats.rej_stale++;
		}
		return rc;
	}
	win_record(kr, w, k->id, instance, c, tomb);
	k->opened++;
	kr->stats.opened++;
	*pt_len = n;
	return 0;
}

const char *crypto_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -EMSGSIZE:
		return "oversized";
	case -EBADMSG:
		return "truncated or malformed";
	case -EPROTONOSUPPORT:
		return "wrong version";
	case -ENOKEY:
		return "unknown key";
	case -EKEYREJECTED:
		return "authentication failed";
	case -EALREADY:
		return "replay";
	case -ESTALE:
		return "stale";
	case -ENOBUFS:
		return "buffer too small";
	case -EEXIST:
		return "key id collision";
	case -EBUSY:
		return "key is primary";
	case -ENOSPC:
		return "keyring full";
	default:
		return "crypto error";
	}
}
