/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto_internal: helpers shared by agent/crypto*.c only: the process-wide
 * CTR-DRBG (seeded once from the platform entropy source, guarded by a
 * mutex so work-queue threads may sign too) and mbedTLS error logging.
 */
#ifndef FARNODE_CRYPTO_INTERNAL_H
#define FARNODE_CRYPTO_INTERNAL_H

#include <stddef.h>

/* mbedTLS-style RNG callback over the shared DRBG (p_rng unused). */
int crypto__rng(void *p_rng, unsigned char *out, size_t len);
/* Log an mbedTLS failure with its text under what; returns -EIO. */
int crypto__mbed_err(const char *what, int mbed_rc);

#endif
