/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rng: small deterministic PRNG (xoshiro256**) for the pure cores, so that
 * simulations and tests replay exactly from a seed. Not for key material:
 * secrets come from mbedTLS's CTR-DRBG (crypto.h).
 */
#ifndef FARNODE_RNG_H
#define FARNODE_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

/* Seed from a 64-bit value (expanded with splitmix64). Cannot fail. */
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n); n == 0 returns 0. Unbiased (rejection). */
uint32_t rng_below(struct rng *r, uint32_t n);
/* Uniform in [0, 1). */
double rng_unit(struct rng *r);
/* Seed from the OS (getrandom), falling back to time and pid. */
uint64_t rng_os_seed(void);

#endif
