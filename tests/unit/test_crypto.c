// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for crypto: sealed datagrams (every rejection reason with its
 * counter, every single-bit flip), replay windows (duplicates, stale,
 * restarts, LRU eviction with tombstones), keyring management, a two-node
 * rotation, gossip key text, signed bundles and key generation.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "crypto.h"

static const uint8_t key_a[CRYPTO_KEY_LEN] = {
    1,	2,  3,	4,  5,	6,  7,	8,  9,	10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void make_key(uint8_t k[CRYPTO_KEY_LEN], uint8_t seed)
{
	for (int i = 0; i < CRYPTO_KEY_LEN; i++) {
		k[i] = (uint8_t)(seed * 31 + i * 7 + 1);
	}
}

static struct crypto_keyring *ring_with(const uint8_t *key, uint32_t slots)
{
	struct crypto_keyring *kr = crypto_keyring_new(slots);

	assert_non_null(kr);
	assert_int_equal(crypto_keyring_install(kr, key, NULL), 0);
	return kr;
}

static size_t seal(struct crypto_keyring *kr, const char *msg, uint8_t *out)
{
	size_t n = 0;

	assert_int_equal(
	    crypto_seal(kr, (const uint8_t *)msg, strlen(msg), out, 1400, &n),
	    0);
	assert_int_equal(n, strlen(msg) + CRYPTO_SEAL_OVERHEAD);
	return n;
}

static int open_dg(struct crypto_keyring *kr, const uint8_t *dg, size_t n)
{
	uint8_t pt[1400];
	size_t pl = 0;

	return crypto_open(kr, dg, n, pt, sizeof(pt), &pl);
}

static void test_roundtrip_and_layout(void **state)
{
	struct crypto_keyring *tx = ring_with(key_a, 0);
	struct crypto_keyring *rx = ring_with(key_a, 0);
	uint8_t dg[1400], pt[1400];
	size_t n, pl = 0;
	struct crypto_stats st;

	(void)state;
	n = seal(tx, "hello gossip", dg);
	assert_int_equal(dg[0], CRYPTO_SEAL_VERSION);
	assert_int_equal(dg[1], crypto_key_id(key_a));
	/* the counter part of the nonce starts at 0 and is big endian */
	assert_int_equal(dg[10] | dg[11] | dg[12] | dg[13], 0);
	/* the plaintext does not appear in the ciphertext */
	assert_null(memmem(dg, n, "hello", 5));
	assert_int_equal(crypto_open(rx, dg, n, pt, sizeof(pt), &pl), 0);
	assert_int_equal(pl, 12);
	assert_memory_equal(pt, "hello gossip", 12);
	n = seal(tx, "second", dg);
	assert_int_equal(dg[13], 1);
	crypto_keyring_stats(tx, &st);
	assert_int_equal(st.sealed, 2);
	crypto_keyring_stats(rx, &st);
	assert_int_equal(st.opened, 1);
	/* empty plaintext is allowed */
	assert_int_equal(crypto_seal(tx, NULL, 0, dg, sizeof(dg), &n), 0);
	assert_int_equal(n, CRYPTO_SEAL_OVERHEAD);
	assert_int_equal(crypto_open(rx, dg, n, pt, sizeof(pt), &pl), 0);
	assert_int_equal(pl, 0);
	crypto_keyring_free(tx);
	crypto_keyring_free(rx);
}

static void test_every_bit_flip_rejected(void **state)
{
	struct crypto_keyring *tx = ring_with(key_a, 0);
	struct crypto_keyring *rx = ring_with(key_a, 0);
	uint8_t dg[1400], bad[1400];
	size_t n = seal(tx, "a datagram whose every bit matters", dg);
	struct crypto_stats st;
	uint64_t rejected = 0;

	(void)state;
	for (size_t bit = 0; bit < n * 8; bit++) {
		int rc;

		memcpy(bad, dg, n);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = open_dg(rx, bad, n);
		if (bit < 8) {
			assert_int_equal(rc, -EPROTONOSUPPORT);
		} else if (bit < 16) {
			assert_int_equal(rc, -ENOKEY);
		} else {
			assert_int_equal(rc, -EKEYREJECTED);
		}
		rejected++;
	}
	crypto_keyring_stats(rx, &st);
	assert_int_equal(st.rej_version, 8);
	assert_int_equal(st.rej_unknown_key, 8);
	assert_int_equal(st.rej_auth, rejected - 16);
	assert_int_equal(st.opened, 0);
	/* the intact datagram still opens: flips recorded nothing */
	assert_int_equal(open_dg(rx, dg, n), 0);
	crypto_keyring_free(tx);
	crypto_keyring_free(rx);
}

static void test_wrong_key_same_id(void **state)
{
	uint8_t other[CRYPTO_KEY_LEN], dg[1400];
	struct crypto_keyring *tx, *rx;
	struct crypto_stats st;
	size_t n;
	int seed = 0;

	(void)state;
	/* find a different key with the same 1-byte id */
	do {
		make_key(other, (uint8_t)seed);
		other[0] ^= (uint8_t)(seed >> 8);
		seed++;
	} while (crypto_key_id(other) != crypto_key_id(key_a) ||
		 memcmp(other, key_a, CRYPTO_KEY_LEN) == 0);
	tx = ring_with(other, 0);
	rx = ring_with(key_a, 0);
	n = seal(tx, "mis-keyed", dg);
	assert_int_equal(open_dg(rx, dg, n), -EKEYREJECTED);
	crypto_keyring_stats(rx, &st);
	assert_int_equal(st.rej_auth, 1);
	/* and installing that key next to key_a collides */
	assert_int_equal(crypto_keyring_install(rx, other, NULL), -EEXIST);
	crypto_keyring_free(tx);
	crypto_keyring_free(rx);
}

static void test_unknown_truncated_oversized(void **state)
{
	uint8_t kb[CRYPTO_KEY_LEN], dg[1400];
	struct crypto_keyring *tx, *rx;
	struct crypto_stats st;
	size_t n;

	(void)state;
	make_key(kb, 9);
	assert_int_not_equal(crypto_key_id(kb), crypto_key_id(key_a));
	tx = ring_with(kb, 0);
	rx = ring_with(key_a, 0);
	n = seal(tx, "unknown key", dg);
	assert_int_equal(open_dg(rx, dg, n), -ENOKEY);
	crypto_keyring_free(tx);

	tx = ring_with(key_a, 0);
	n = seal(tx, "truncate me", dg);
	for (size_t len = 0; len < CRYPTO_SEAL_OVERHEAD; len++) {
		assert_int_equal(open_dg(rx, dg, len), -EBADMSG);
	}
	/* long enough to parse but cut: authentication fails */
	for (size_t len = CRYPTO_SEAL_OVERHEAD; len < n; len++) {
		assert_int_equal(open_dg(rx, dg, len), -EKEYREJECTED);
	}
	{
		uint8_t *big = calloc(1, CRYPTO_SEALED_MAX + 1);
		uint8_t pt[64];
		size_t pl;

		assert_non_null(big);
		memcpy(big, dg, n);
		assert_int_equal(crypto_open(rx, big, CRYPTO_SEALED_MAX + 1, pt,
					     sizeof(pt), &pl),
				 -EMSGSIZE);
		free(big);
	}
	/* seal refuses a too-small output buffer and a too-large input */
	assert_int_equal(crypto_seal(tx, dg, 10, dg + 100, 39, &n), -ENOBUFS);
	assert_int_equal(crypto_seal(tx, dg, CRYPTO_SEALED_MAX, dg, 1400, &n),
			 -EMSGSIZE);
	crypto_keyring_stats(rx, &st);
	assert_int_equal(st.rej_unknown_key, 1);
	assert_int_equal(st.rej_truncated, CRYPTO_SEAL_OVERHEAD);
	assert_int_equal(st.rej_auth, strlen("truncate me"));
	assert_int_equal(st.rej_oversized, 1);
	assert_int_equal(st.opened, 0);
	/* the full datagram still opens */
	n = seal(tx, "truncate me", dg);
	assert_int_equal(open_dg(rx, dg, n), 0);
	crypto_keyring_free(tx);
	crypto_keyring_free(rx);
}

static void test_replay_window(void **state)
{
	struct crypto_keyring *tx = ring_with(key_a, 0);
	struct crypto_keyring *rx = ring_with(key_a, 0);
	static uint8_t dg[300][64];
	size_t n[300];
	struct crypto_stats st;

	(void)state;
	for (int i = 0; i < 300; i++) {
		n[i] = seal(tx, "seq", dg[i]);
	}
	assert_int_equal(open_dg(rx, dg[5], n[5]), 0);
	assert_int_equal(open_dg(rx, dg[5], n[5]), -EALREADY);
	/* out of order inside the window is fine, once */
	assert_int_equal(open_dg(rx, dg[3], n[3]), 0);
	assert_int_equal(open_dg(rx, dg[3], n[3]), -EALREADY);
	assert_int_equal(open_dg(rx, dg[200], n[200]), 0);
	/* 200 - 72 = 128: the oldest counter still inside the window */
	assert_int_equal(open_dg(rx, dg[73], n[73]), 0);
	assert_int_equal(open_dg(rx, dg[72], n[72]), -ESTALE);
	assert_int_equal(open_dg(rx, dg[5], n[5]), -ESTALE);
	assert_int_equal(open_dg(rx, dg[200], n[200]), -EALREADY);
	/* a jump of more than 64 keeps the high half right */
	assert_int_equal(open_dg(rx, dg[299], n[299]), 0);
	assert_int_equal(open_dg(rx, dg[200], n[200]), -EALREADY);
	assert_int_equal(open_dg(rx, dg[201], n[201]), 0);
	assert_int_equal(open_dg(rx, dg[171], n[171]), -ESTALE);
	assert_int_equal(open_dg(rx, dg[172], n[172]), 0);
	crypto_keyring_stats(rx, &st);
	assert_int_equal(st.rej_replay, 4);
	assert_int_equal(st.rej_stale, 3);
	assert_int_equal(st.opened, 7);
	crypto_keyring_free(tx);
	crypto_keyring_free(rx);
}

/* A stream frame sealed before a burst of datagrams still opens later. */
static void test_stream_channel_own_window(void **state)
{
	struct crypto_keyring *tx = ring_with(key_a, 0);
	struct crypto_keyring *rx = ring_with(key_a, 0);
	uint8_t frame[1400], dg[1400];
	size_t fn = 0, n;

	(void)state;
	assert_int_equal(crypto_seal_stream(tx, (const uint8_t *)"push-pull", 9,
					    frame, sizeof(frame), &fn),
			 0);
	/* its own instance: the nonce prefix differs from datagrams' */
	n = seal(tx, "datagram", dg);
	assert_memory_not_equal(frame + 2, dg + 2, 8);
	for (int i = 0; i < 300; i++) {
		n = seal(tx, "datagram", dg);
		assert_int_equal(open_dg(rx, dg, n), 0);
	}
	assert_int_equal(open_dg(rx, frame, fn), 0);
	assert_int_equal(open_dg(rx, frame, fn), -EALREADY);
	crypto_keyring_free(tx);
	crypto_keyring_free(rx);
}

static void test_restarted_sender_accepted(void **state)
{
	struct crypto_keyring *tx = ring_with(key_a, 0);
	struct crypto_keyring *rx = ring_with(key_a, 0);
	uint8_t dg[1400];
	size_t n;

	(void)state;
	for (int i = 0; i < 500; i++) {
		n = seal(tx, "before restart", dg);
		assert_int_equal(open_dg(rx, dg, n), 0);
	}
	crypto_keyring_free(tx);
	/* the same node comes back: counter 0 again, new instance */
	tx = ring_with(key_a, 0);
	n = seal(tx, "after restart", dg);
	assert_int_equal(dg[13], 0);
	assert_int_equal(open_dg(rx, dg, n), 0);
	crypto_keyring_free(tx);
	crypto_keyring_free(rx);
}

static void test_lru_eviction_and_tombstones(void **state)
{
	struct crypto_keyring *rx = ring_with(key_a, 2);
	struct crypto_keyring *tx[4];
	uint8_t old[1400], dg[1400];
	size_t n_old, n;
	struct crypto_stats st;

	(void)state;
	for (int i = 0; i < 4; i++) {
		tx[i] = ring_with(key_a, 0);
	}
	n_old = seal(tx[0], "from sender 0", old);
	assert_int_equal(open_dg(rx, old, n_old), 0);
	for (int i = 1; i < 4; i++) {
		n = seal(tx[i], "others", dg);
		assert_int_equal(open_dg(rx, dg, n), 0);
	}
	crypto_keyring_stats(rx, &st);
	assert_int_equal(st.windows_evicted, 2);
	/* sender 0's window was evicted; its tombstone still stops replays */
	assert_int_equal(open_dg(rx, old, n_old), -ESTALE);
	n = seal(tx[0], "sender 0 again", dg);
	assert_int_equal(open_dg(rx, dg, n), 0);
	assert_int_equal(open_dg(rx, dg, n), -EALREADY);
	for (int i = 0; i < 4; i++) {
		crypto_keyring_free(tx[i]);
	}
	crypto_keyring_free(rx);
}

static void test_nonces_unique(void **state)
{
	struct crypto_keyring *tx = ring_with(key_a, 0);
	struct crypto_keyring *tx2 = ring_with(key_a, 0);
	static uint8_t nonces[2000][CRYPTO_NONCE_LEN];
	uint8_t dg[64];

	(void)state;
	for (int i = 0; i < 2000; i++) {
		seal(i < 1000 ? tx : tx2, "n", dg);
		memcpy(nonces[i], dg + 2, CRYPTO_NONCE_LEN);
	}
	/* two processes with the same key draw different instances */
	assert_memory_not_equal(nonces[0], nonces[1000], 8);
	for (int i = 0; i < 2000; i++) {
		for (int j = i + 1; j < 2000; j++) {
			assert_memory_not_equal(nonces[i], nonces[j],
						CRYPTO_NONCE_LEN);
		}
	}
	crypto_keyring_free(tx);
	crypto_keyring_free(tx2);
}

static void test_keyring_management(void **state)
{
	struct crypto_keyring *kr = crypto_keyring_new(0);
	struct crypto_key_info info[CRYPTO_KEYS_MAX];
	uint8_t k[CRYPTO_KEYS_MAX + 1][CRYPTO_KEY_LEN], out[CRYPTO_KEY_LEN];
	uint8_t ids[CRYPTO_KEYS_MAX + 1], id;
	uint8_t dg[64];
	size_t n, installed = 0;

	(void)state;
	assert_int_equal(crypto_keyring_primary(kr), -ENOKEY);
	assert_int_equal(crypto_seal(kr, dg, 1, dg + 10, 50, &n), -ENOKEY);
	/* distinct ids for the test keys */
	for (int s = 0; installed < CRYPTO_KEYS_MAX + 1; s++) {
		bool dup = false;

		make_key(k[installed], (uint8_t)(s + 40));
		id = crypto_key_id(k[installed]);
		for (size_t j = 0; j < installed; j++) {
			dup = dup || ids[j] == id;
		}
		if (!dup) {
			ids[installed++] = id;
		}
	}
	for (int i = 0; i < CRYPTO_KEYS_MAX; i++) {
		assert_int_equal(crypto_keyring_install(kr, k[i], &id), 0);
		assert_int_equal(id, ids[i]);
	}
	assert_int_equal(crypto_keyring_count(kr), CRYPTO_KEYS_MAX);
	assert_int_equal(crypto_keyring_install(kr, k[CRYPTO_KEYS_MAX], NULL),
			 -ENOSPC);
	/* reinstalling a present key is a no-op */
	assert_int_equal(crypto_keyring_install(kr, k[3], &id), 0);
	assert_int_equal(id, ids[3]);
	assert_int_equal(crypto_keyring_primary(kr), ids[0]);
	assert_int_equal(crypto_keyring_remove(kr, ids[0]), -EBUSY);
	assert_int_equal(crypto_keyring_use(kr, ids[CRYPTO_KEYS_MAX]), -ENOKEY);
	assert_int_equal(crypto_keyring_use(kr, ids[5]), 0);
	assert_int_equal(crypto_keyring_primary(kr), ids[5]);
	assert_int_equal(crypto_keyring_remove(kr, ids[5]), -EBUSY);
	assert_int_equal(crypto_keyring_remove(kr, ids[0]), 0);
	assert_int_equal(crypto_keyring_remove(kr, ids[0]), -ENOKEY);
	n = crypto_keyring_list(kr, info, CRYPTO_KEYS_MAX);
	assert_int_equal(n, CRYPTO_KEYS_MAX - 1);
	assert_int_equal(info[0].id, ids[5]);
	assert_true(info[0].primary);
	assert_int_equal(info[1].id, ids[1]);
	assert_false(info[1].primary);
	assert_int_equal(info[2].id, ids[2]);
	assert_int_equal(strlen(info[0].fingerprint), 16);
	assert_int_equal(crypto_keyring_export(kr, ids[2], out), 0);
	assert_memory_equal(out, k[2], CRYPTO_KEY_LEN);
	assert_int_equal(crypto_keyring_export(kr, ids[0], out), -ENOKEY);
	/* the freed slot takes a new key */
	assert_int_equal(crypto_keyring_install(kr, k[CRYPTO_KEYS_MAX], NULL),
			 0);
	crypto_keyring_free(kr);
	crypto_keyring_free(NULL);
}

/*
 * Two nodes rotate from key 1 to key 2: install on both, switch the
 * primary on both, remove the old key on both. After every step each node
 * sends to the other; datagrams sealed during one step are delivered
 * after the next step (in flight across it). None may be dropped.
 */
static void test_two_node_rotation(void **state)
{
	uint8_t k1[CRYPTO_KEY_LEN], k2[CRYPTO_KEY_LEN];
	struct crypto_keyring *node[2];
	uint8_t id1, id2;
	uint8_t inflight[2][8][64];
	size_t inflight_len[2][8], n_inflight[2] = {0, 0};
	uint64_t delivered = 0;

	(void)state;
	make_key(k1, 1);
	make_key(k2, 2);
	id1 = crypto_key_id(k1);
	id2 = crypto_key_id(k2);
	assert_int_not_equal(id1, id2);
	for (int i = 0; i < 2; i++) {
		node[i] = ring_with(k1, 0);
	}
	for (int step = 0; step < 8; step++) {
		/* deliver last step's datagrams, then send new ones */
		for (int to = 0; to < 2; to++) {
			for (size_t j = 0; j < n_inflight[to]; j++) {
				assert_int_equal(open_dg(node[to],
							 inflight[to][j],
							 inflight_len[to][j]),
						 0);
				delivered++;
			}
			n_inflight[to] = 0;
		}
		switch (step) {
		case 1:
			assert_int_equal(
			    crypto_keyring_install(node[0], k2, NULL), 0);
			break;
		case 2:
			assert_int_equal(
			    crypto_keyring_install(node[1], k2, NULL), 0);
			break;
		case 3:
			assert_int_equal(crypto_keyring_use(node[0], id2), 0);
			break;
		case 4:
			assert_int_equal(crypto_keyring_use(node[1], id2), 0);
			break;
		case 6:
			assert_int_equal(crypto_keyring_remove(node[0], id1),
					 0);
			break;
		case 7:
			assert_int_equal(crypto_keyring_remove(node[1], id1),
					 0);
			break;
		default:
			break;
		}
		for (int from = 0; from < 2; from++) {
			int to = 1 - from;

			for (int j = 0; j < 3; j++) {
				inflight_len[to][n_inflight[to]] =
				    seal(node[from], "rotate",
					 inflight[to][n_inflight[to]]);
				n_inflight[to]++;
			}
		}
	}
	for (int to = 0; to < 2; to++) {
		for (size_t j = 0; j < n_inflight[to]; j++) {
			assert_int_equal(open_dg(node[to], inflight[to][j],
						 inflight_len[to][j]),
					 0);
			delivered++;
		}
	}
	assert_int_equal(delivered, 8 * 2 * 3);
	for (int i = 0; i < 2; i++) {
		struct crypto_key_info info[2];

		assert_int_equal(crypto_keyring_list(node[i], info, 2), 1);
		assert_int_equal(info[0].id, id2);
		crypto_keyring_free(node[i]);
	}
}

static void test_key_text(void **state)
{
	uint8_t k[CRYPTO_KEY_LEN], back[CRYPTO_KEY_LEN];
	char b64[CRYPTO_KEY_B64_LEN], padded[64];

	(void)state;
	assert_int_equal(crypto_keygen_gossip(k), 0);
	crypto_key_format_b64(k, b64);
	assert_int_equal(strlen(b64), 44);
	assert_int_equal(crypto_key_parse_b64(b64, back), 0);
	assert_memory_equal(k, back, CRYPTO_KEY_LEN);
	snprintf(padded, sizeof(padded), "  %s\n", b64);
	assert_int_equal(crypto_key_parse_b64(padded, back), 0);
	assert_memory_equal(k, back, CRYPTO_KEY_LEN);
	/* 16 bytes, garbage, empty, too long */
	assert_int_equal(crypto_key_parse_b64("AAAAAAAAAAAAAAAAAAAAAA==", back),
			 -EBADMSG);
	assert_int_equal(crypto_key_parse_b64("!!!!AAAAAAAAAAAAAAAAAAAAAAAAAAAA"
					      "AAAAAAAAAAAA",
					      back),
			 -EBADMSG);
	assert_int_equal(crypto_key_parse_b64("", back), -EBADMSG);
	snprintf(padded, sizeof(padded), "%sAAAA", b64);
	assert_int_equal(crypto_key_parse_b64(padded, back), -EBADMSG);
	/* two generated keys differ */
	assert_int_equal(crypto_keygen_gossip(back), 0);
	assert_memory_not_equal(k, back, CRYPTO_KEY_LEN);
}

/* ---- signed bundles ---------------------------------------------------- */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/farnode-crypto.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int rm_tmpdir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void keypair(const char *sub, struct crypto_signer **s,
		    struct crypto_pins *pins, char id[CRYPTO_SIGN_KEY_ID_LEN])
{
	char dir[128], path[160], pin_id[CRYPTO_SIGN_KEY_ID_LEN];
	int err = 0;

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, sub);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(crypto_keygen_signing(dir, id), 0);
	snprintf(path, sizeof(path), "%s/signing.key", dir);
	*s = crypto_signer_load(path, &err);
	assert_non_null(*s);
	assert_string_equal(crypto_signer_key_id(*s), id);
	if (pins != NULL) {
		snprintf(path, sizeof(path), "%s/signing.pub", dir);
		assert_int_equal(crypto_pins_add_file(pins, path, pin_id), 0);
		assert_string_equal(pin_id, id);
	}
}

static void test_keygen_files(void **state)
{
	char id[CRYPTO_SIGN_KEY_ID_LEN], path[160];
	struct stat st;
	int err = 0;

	(void)state;
	assert_int_equal(crypto_keygen_signing(tmpdir, id), 0);
	assert_int_equal(strlen(id), 16);
	snprintf(path, sizeof(path), "%s/signing.key", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/signing.pub", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* never overwritten */
	assert_int_equal(crypto_keygen_signing(tmpdir, NULL), -EEXIST);
	assert_int_equal(crypto_keygen_signing("/nonexistent/dir", NULL),
			 -ENOENT);
	/* a public key is not a signing key; missing file; garbage */
	assert_null(crypto_signer_load(path, &err));
	assert_int_equal(err, -EBADMSG);
	assert_null(crypto_signer_load("/nonexistent/key", &err));
	assert_int_equal(err, -ENOENT);
	assert_null(crypto_signer_parse((const uint8_t *)"garbage", 8, &err));
	assert_int_equal(err, -EBADMSG);
}

static void test_sign_verify(void **state)
{
	struct crypto_signer *hub, *rogue;
	struct crypto_pins pins;
	char hub_id[CRYPTO_SIGN_KEY_ID_LEN], rogue_id[CRYPTO_SIGN_KEY_ID_LEN];
	const char *payload = "policy version 7: gold never deferred";
	size_t plen = strlen(payload), sig_len = 0, bad_len;
	uint8_t sig[CRYPTO_SIG_MAX], bad[CRYPTO_SIG_MAX];
	uint8_t mod[64];

	(void)state;
	crypto_pins_init(&pins);
	keypair("hub", &hub, &pins, hub_id);
	keypair("rogue", &rogue, NULL, rogue_id);
	assert_string_not_equal(hub_id, rogue_id);
	assert_int_equal(pins.n, 1);

	assert_int_equal(
	    crypto_sign(hub, 1, (const uint8_t *)payload, plen, sig, &sig_len),
	    0);
	assert_true(sig_len > 8 && sig_len <= CRYPTO_SIG_MAX);
	assert_int_equal(crypto_verify(&pins, hub_id, 1,
				       (const uint8_t *)payload, plen, sig,
				       sig_len),
			 0);
	/* modified payload: one bit in every fourth byte (each verify is
	 * an EC operation; keep the test fast on small boards) */
	for (size_t i = 0; i < plen; i += 4) {
		memcpy(mod, payload, plen);
		mod[i] ^= 0x01;
		assert_int_equal(
		    crypto_verify(&pins, hub_id, 1, mod, plen, sig, sig_len),
		    -EKEYREJECTED);
	}
	/* truncated payload, other kind */
	assert_int_equal(crypto_verify(&pins, hub_id, 1,
				       (const uint8_t *)payload, plen - 1, sig,
				       sig_len),
			 -EKEYREJECTED);
	assert_int_equal(crypto_verify(&pins, hub_id, 2,
				       (const uint8_t *)payload, plen, sig,
				       sig_len),
			 -EKEYREJECTED);
	/* flipped signature bits never verify */
	for (size_t bit = 0; bit < sig_len * 8; bit += 13) {
		memcpy(bad, sig, sig_len);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_not_equal(crypto_verify(&pins, hub_id, 1,
						   (const uint8_t *)payload,
						   plen, bad, sig_len),
				     0);
	}
	assert_int_equal(crypto_verify(&pins, hub_id, 1,
				       (const uint8_t *)payload, plen, sig, 0),
			 -EBADMSG);
	/* signed by an unpinned key: unknown id, or claiming the hub's id */
	assert_int_equal(crypto_sign(rogue, 1, (const uint8_t *)payload, plen,
				     bad, &bad_len),
			 0);
	assert_int_equal(crypto_verify(&pins, rogue_id, 1,
				       (const uint8_t *)payload, plen, bad,
				       bad_len),
			 -ENOKEY);
	assert_int_equal(crypto_verify(&pins, hub_id, 1,
				       (const uint8_t *)payload, plen, bad,
				       bad_len),
			 -EKEYREJECTED);
	assert_int_equal(crypto_verify(&pins, NULL, 1, (const uint8_t *)payload,
				       plen, sig, sig_len),
			 -ENOKEY);
	/* pinning garbage fails; pinning twice is a no-op */
	assert_int_equal(
	    crypto_pins_add(&pins, (const uint8_t *)"nope", 5, NULL), -EBADMSG);
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/hub/signing.pub", tmpdir);
		assert_int_equal(crypto_pins_add_file(&pins, path, NULL), 0);
		assert_int_equal(pins.n, 1);
	}
	crypto_signer_free(hub);
	crypto_signer_free(rogue);
	crypto_pins_fini(&pins);
	crypto_signer_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_and_layout),
	    cmocka_unit_test(test_every_bit_flip_rejected),
	    cmocka_unit_test(test_wrong_key_same_id),
	    cmocka_unit_test(test_unknown_truncated_oversized),
	    cmocka_unit_test(test_replay_window),
	    cmocka_unit_test(test_stream_channel_own_window),
	    cmocka_unit_test(test_restarted_sender_accepted),
	    cmocka_unit_test(test_lru_eviction_and_tombstones),
	    cmocka_unit_test(test_nonces_unique),
	    cmocka_unit_test(test_keyring_management),
	    cmocka_unit_test(test_two_node_rotation),
	    cmocka_unit_test(test_key_text),
	    cmocka_unit_test(test_keygen_files),
	    cmocka_unit_test(test_sign_verify),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, rm_tmpdir);
}
