/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto_keys: the agent's live gossip keyring, kept in the store's
 * keyring table so rotations survive restarts. At start the stored keys
 * are loaded; on first start (empty table) [gossip] key from the config
 * seeds it. `farnode keys install|use|remove` change the keyring in memory
 * and in the store together, without a restart. The gossip service seals
 * and opens with a->keyring (no keys = unsealed gossip, as configured).
 */
#ifndef FARNODE_CRYPTO_KEYS_H
#define FARNODE_CRYPTO_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

struct agent;
struct store;

/* Create a->keyring from the store (seeding from config). 0 or -errno
 * with the reason logged. */
int crypto_keys_start(struct agent *a);
/* Free a->keyring (wiping keys). */
void crypto_keys_stop(struct agent *a);

/*
 * Keyring operations that persist. Each changes memory and store or
 * neither. install: key as base64; *id_out its id. Errors as the
 * crypto_keyring_* functions, -EBADMSG for bad base64, -EIO for the store;
 * why (may be NULL) gets an operator-facing reason.
 */
int crypto_keys_install(struct crypto_keyring *kr, struct store *st,
			const char *key_b64, uint8_t *id_out, char *why,
			size_t why_len);
int crypto_keys_use(struct crypto_keyring *kr, struct store *st, uint8_t id,
		    char *why, size_t why_len);
int crypto_keys_remove(struct crypto_keyring *kr, struct store *st, uint8_t id,
		       char *why, size_t why_len);
/* Load the stored keys into kr (empty table: 0 keys). Returns the number
 * loaded or -errno. */
int crypto_keys_load(struct crypto_keyring *kr, struct store *st);

#endif
