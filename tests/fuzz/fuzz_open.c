// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz target for sealed-datagram open (agent/crypto.c) under a fixed test
 * key. Any input either opens (and then must be rejected as a replay the
 * second time) or is rejected with a documented code and counted; the
 * input is also sealed as a plaintext and must open back to itself.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_open: %s:%d: %s\n", __FILE__,    \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

/* The fixed fuzzing key: bytes 0x00..0x1f (corpus files are sealed with
 * it: valid datagrams of several sizes, plus mutations of them). */
static const uint8_t fuzz_key[CRYPTO_KEY_LEN] = {
    0,	1,  2,	3,  4,	5,  6,	7,  8,	9,  10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

#define BUF_MAX 4096

static uint64_t rejected(const struct crypto_stats *s)
{
	return s->rej_oversized + s->rej_truncated + s->rej_version +
	       s->rej_unknown_key + s->rej_auth + s->rej_replay + s->rej_stale;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pt[BUF_MAX], sealed[BUF_MAX + CRYPTO_SEAL_OVERHEAD];
	struct crypto_keyring *kr;
	struct crypto_stats before, after;
	size_t pt_len = 0, n = 0;
	int rc;

	kr = crypto_keyring_new(4);
	CHECK(kr != NULL);
	CHECK(crypto_keyring_install(kr, fuzz_key, NULL) == 0);

	crypto_keyring_stats(kr, &before);
	rc = crypto_open(kr, data, size, pt, sizeof(pt), &pt_len);
	crypto_keyring_stats(kr, &after);
	if (rc == 0) {
		CHECK(pt_len + CRYPTO_SEAL_OVERHEAD == size);
		CHECK(after.opened == before.opened + 1);
		rc = crypto_open(kr, data, size, pt, sizeof(pt), &pt_len);
		CHECK(rc == -EALREADY);
	} else if (rc == -ENOBUFS) {
		CHECK(size > BUF_MAX + CRYPTO_SEAL_OVERHEAD);
	} else {
		CHECK(rc == -EMSGSIZE || rc == -EBADMSG ||
		      rc == -EPROTONOSUPPORT || rc == -ENOKEY ||
		      rc == -EKEYREJECTED);
		CHECK(rejected(&after) == rejected(&before) + 1);
		CHECK(after.opened == before.opened);
	}

	/* the input as plaintext survives seal and open */
	if (size <= BUF_MAX) {
		CHECK(crypto_seal(kr, data, size, sealed, sizeof(sealed), &n) ==
		      0);
		CHECK(n == size + CRYPTO_SEAL_OVERHEAD);
		CHECK(crypto_open(kr, sealed, n, pt, sizeof(pt), &pt_len) == 0);
		CHECK(pt_len == size);
		CHECK(size == 0 || memcmp(pt, data, size) == 0);
	}
	crypto_keyring_free(kr);
	return 0;
}
