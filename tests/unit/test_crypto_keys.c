// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for crypto_keys: keyring changes persist in the store's
 * keyring table (install, use, remove), a reload gives the same keyring
 * with the same primary, refused operations change neither memory nor
 * store, and datagrams sealed before a restart open after it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto_keys.h"
#include "store.h"

static char dir[64], db[96];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/farnode-keys.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return -1;
	}
	snprintf(db, sizeof(db), "%s/farnode.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store *open_store(void)
{
	struct store *st = NULL;
	char err[256];

	assert_int_equal(store_open(db, &st, err, sizeof(err)), 0);
	return st;
}

static void b64_key(uint8_t seed, char out[CRYPTO_KEY_B64_LEN], uint8_t *id)
{
	uint8_t k[CRYPTO_KEY_LEN];

	for (int i = 0; i < CRYPTO_KEY_LEN; i++) {
		k[i] = (uint8_t)(seed * 13 + i);
	}
	crypto_key_format_b64(k, out);
	*id = crypto_key_id(k);
}

static void test_persist_and_reload(void **state)
{
	char k1[CRYPTO_KEY_B64_LEN], k2[CRYPTO_KEY_B64_LEN], why[160];
	uint8_t id1, id2, got = 0, dg[128], pt[128];
	struct crypto_keyring *kr = crypto_keyring_new(0);
	struct crypto_key_info info[4];
	struct store *st = open_store();
	size_t n, pl;

	(void)state;
	b64_key(1, k1, &id1);
	b64_key(2, k2, &id2);
	assert_int_not_equal(id1, id2);
	assert_int_equal(crypto_keys_load(kr, st), 0);
	assert_int_equal(
	    crypto_keys_install(kr, st, k1, &got, why, sizeof(why)), 0);
	assert_int_equal(got, id1);
	assert_int_equal(
	    crypto_keys_install(kr, st, k2, &got, why, sizeof(why)), 0);
	assert_int_equal(got, id2);
	/* installing again is a no-op, also in the store */
	assert_int_equal(
	    crypto_keys_install(kr, st, k2, &got, why, sizeof(why)), 0);
	assert_int_equal(
	    crypto_keys_install(kr, st, "not base64", &got, why, sizeof(why)),
	    -EBADMSG);
	assert_non_null(strstr(why, "base64"));
	/* the primary cannot be removed; unknown ids are refused */
	assert_int_equal(crypto_keys_remove(kr, st, id1, why, sizeof(why)),
			 -EBUSY);
	assert_non_null(strstr(why, "primary"));
	{
		uint8_t bogus = (uint8_t)(id1 + 1);

		if (bogus == id2) {
			bogus++;
		}
		assert_int_equal(
		    crypto_keys_use(kr, st, bogus, why, sizeof(why)), -ENOKEY);
		assert_int_equal(crypto_keyring_primary(kr), id1);
	}
	assert_int_equal(crypto_keys_use(kr, st, id2, why, sizeof(why)), 0);
	assert_int_equal(
	    crypto_seal(kr, (const uint8_t *)"x", 1, dg, sizeof(dg), &n), 0);
	crypto_keyring_free(kr);
	store_close(st);

	/* "restart": a new keyring from the same store */
	st = open_store();
	kr = crypto_keyring_new(0);
	assert_int_equal(crypto_keys_load(kr, st), 2);
	assert_int_equal(crypto_keyring_primary(kr), id2);
	assert_int_equal(crypto_open(kr, dg, n, pt, sizeof(pt), &pl), 0);
	assert_int_equal(crypto_keys_remove(kr, st, id1, why, sizeof(why)), 0);
	assert_int_equal(crypto_keys_remove(kr, st, id1, why, sizeof(why)),
			 -ENOKEY);
	crypto_keyring_free(kr);
	store_close(st);

	st = open_store();
	kr = crypto_keyring_new(0);
	assert_int_equal(crypto_keys_load(kr, st), 1);
	assert_int_equal(crypto_keyring_list(kr, info, 4), 1);
	assert_int_equal(info[0].id, id2);
	assert_true(info[0].primary);
	crypto_keyring_free(kr);
	store_close(st);
}

static void test_corrupt_row_refused(void **state)
{
	struct crypto_keyring *kr = crypto_keyring_new(0);
	struct store *st = open_store();

	(void)state;
	assert_int_equal(store_exec(st, "INSERT INTO keyring (key_id, key, "
					"is_primary, created_ms) VALUES "
					"(7, x'0102', 0, 99)"),
			 0);
	assert_int_equal(crypto_keys_load(kr, st), -EBADMSG);
	assert_int_equal(store_exec(st, "DELETE FROM keyring WHERE key_id = 7"),
			 0);
	/* a 32-byte key stored under an id that is not its own */
	assert_int_equal(store_exec(st, "INSERT INTO keyring (key_id, key, "
					"is_primary, created_ms) VALUES "
					"(300, zeroblob(32), 0, 99)"),
			 0);
	crypto_keyring_free(kr);
	kr = crypto_keyring_new(0);
	assert_int_equal(crypto_keys_load(kr, st), -EBADMSG);
	crypto_keyring_free(kr);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_persist_and_reload, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_row_refused, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
