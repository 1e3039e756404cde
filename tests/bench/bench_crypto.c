// SPDX-License-Identifier: Apache-2.0
/*
 * bench_crypto: sealed-datagram throughput (AES-256-GCM seal and open of
 * full 1,400-byte datagrams, including the replay-window check), and
 * ECDSA P-256 bundle sign/verify rates. Prints numbers; asserts nothing.
 * Times are this process's CPU time, so a busy shared machine does not
 * inflate them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "wire.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	static uint8_t pt[WIRE_DATAGRAM_MAX], dg[WIRE_DATAGRAM_MAX],
	    back[WIRE_DATAGRAM_MAX];
	const size_t pt_len = WIRE_DATAGRAM_MAX - CRYPTO_SEAL_OVERHEAD;
	uint8_t key[CRYPTO_KEY_LEN];
	struct crypto_keyring *tx, *rx;
	size_t n = 0, pl = 0;
	double t0, t_seal, t_open;
	long iters = 0, rounds = 0;
	char dir[64];

	if (crypto_keygen_gossip(key) != 0) {
		return 1;
	}
	tx = crypto_keyring_new(0);
	rx = crypto_keyring_new(0);
	if (tx == NULL || rx == NULL ||
	    crypto_keyring_install(tx, key, NULL) != 0 ||
	    crypto_keyring_install(rx, key, NULL) != 0) {
		return 1;
	}
	memset(pt, 0xa5, sizeof(pt));

	/* seal only, then seal+open pairs, ~0.5 s each */
	t0 = now_s();
	do {
		for (int i = 0; i < 1000; i++) {
			crypto_seal(tx, pt, pt_len, dg, sizeof(dg), &n);
		}
		iters += 1000;
		t_seal = now_s() - t0;
	} while (t_seal < 0.5);
	printf("seal   %zu-byte datagrams: %10.0f /s  (%6.1f MB/s plaintext)\n",
	       n, iters / t_seal, iters * (double)pt_len / t_seal / 1e6);

	t0 = now_s();
	do {
		for (int i = 0; i < 1000; i++) {
			if (crypto_seal(tx, pt, pt_len, dg, sizeof(dg), &n) !=
				0 ||
			    crypto_open(rx, dg, n, back, sizeof(back), &pl) !=
				0) {
				fprintf(stderr, "seal/open failed\n");
				return 1;
			}
		}
		rounds += 1000;
		t_open = now_s() - t0;
	} while (t_open < 0.5);
	printf("seal+open %zu-byte datagrams: %7.0f /s  (%.2f us per pair)\n",
	       n, rounds / t_open, t_open / (double)rounds * 1e6);

	/* rejection cost: a forged tag is found by the GCM check */
	iters = 0;
	dg[n - 1] ^= 1;
	t0 = now_s();
	do {
		for (int i = 0; i < 1000; i++) {
			crypto_open(rx, dg, n, back, sizeof(back), &pl);
		}
		iters += 1000;
		t_open = now_s() - t0;
	} while (t_open < 0.3);
	printf("reject forged %zu-byte datagrams: %7.0f /s\n", n,
	       iters / t_open);
	crypto_keyring_free(tx);
	crypto_keyring_free(rx);

	/* bundles */
	snprintf(dir, sizeof(dir), "/tmp/farnode-bench.XXXXXX");
	if (mkdtemp(dir) != NULL && crypto_keygen_signing(dir, NULL) == 0) {
		struct crypto_signer *s;
		struct crypto_pins pins;
		char path[128], id[CRYPTO_SIGN_KEY_ID_LEN];
		uint8_t sig[CRYPTO_SIG_MAX];
		size_t sl = 0;
		int err = 0;
		static uint8_t payload[65536];

		snprintf(path, sizeof(path), "%s/signing.key", dir);
		s = crypto_signer_load(path, &err);
		crypto_pins_init(&pins);
		snprintf(path, sizeof(path), "%s/signing.pub", dir);
		crypto_pins_add_file(&pins, path, id);
		if (s != NULL) {
			iters = 0;
			t0 = now_s();
			do {
				crypto_sign(s, 1, payload, sizeof(payload), sig,
					    &sl);
				iters++;
			} while (now_s() - t0 < 0.3);
			printf("ECDSA P-256 sign 64 KiB bundle:   %7.0f /s\n",
			       iters / (now_s() - t0));
			iters = 0;
			t0 = now_s();
			do {
				if (crypto_verify(&pins, id, 1, payload,
						  sizeof(payload), sig,
						  sl) != 0) {
					fprintf(stderr, "verify failed\n");
					return 1;
				}
				iters++;
			} while (now_s() - t0 < 0.3);
			printf("ECDSA P-256 verify 64 KiB bundle: %7.0f /s\n",
			       iters / (now_s() - t0));
		}
		crypto_signer_free(s);
		crypto_pins_fini(&pins);
		unlink(path);
		snprintf(path, sizeof(path), "%s/signing.key", dir);
		unlink(path);
		rmdir(dir);
	}
	return 0;
}
