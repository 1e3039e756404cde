// SPDX-License-Identifier: Apache-2.0
// crypto_keys: persistence of the gossip keyring in the store (table
// keyring: key_id, key, is_primary, created_ms) and the agent-level
// start/stop. Every change is applied to the in-memory keyring and to the
// table together; if the store write fails the memory change is undone.

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <mbedtls/platform_util.h>

#define LOG_TAG "keys"
#include "log.h"

#include "agent.h"
#include "crypto_keys.h"
#include "store.h"

static const char SQL_LOAD[] =
    "SELECT key_id, key, is_primary FROM keyring ORDER BY created_ms, "
    "key_id";
static const char SQL_INSERT[] =
    "INSERT INTO keyring (key_id, key, is_primary, created_ms) "
    "VALUES (?, ?, ?, ?)";
static const char SQL_USE[] = "UPDATE keyring SET is_primary = (key_id = ?)";
static const char SQL_DELETE[] = "DELETE FROM keyring WHERE key_id = ?";

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void set_why(char *why, size_t len, const char *fmt, int v)
{
	if (why != NULL && len > 0) {
		snprintf(why, len, fmt, v);
	}
}

int crypto_keys_load(struct crypto_keyring *kr, struct store *st)
{
	sqlite3_stmt *q = store_stmt(st, SQL_LOAD);
	int primary = -1, n = 0, rc;

	if (q == NULL) {
		return -EIO;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int id = sqlite3_column_int(q, 0);
		const void *blob = sqlite3_column_blob(q, 1);
		int len = sqlite3_column_bytes(q, 1);
		uint8_t got;

		if (blob == NULL || len != CRYPTO_KEY_LEN) {
			log_error("keyring: stored key %d is not %d bytes", id,
				  CRYPTO_KEY_LEN);
			sqlite3_reset(q);
			return -EBADMSG;
		}
		if (crypto_key_id(blob) != id) {
			log_error("keyring: stored key %d: id does not match "
				  "the key",
				  id);
			sqlite3_reset(q);
			return -EBADMSG;
		}
		rc = crypto_keyring_install(kr, blob, &got);
		if (rc < 0) {
			log_error("keyring: stored key %d: %s", id,
				  crypto_strerror(rc));
			sqlite3_reset(q);
			return rc;
		}
		if (sqlite3_column_int(q, 2) != 0) {
			primary = id;
		}
		n++;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		log_error("keyring: %s", store_errmsg(st));
		return -EIO;
	}
	if (primary >= 0) {
		crypto_keyring_use(kr, (uint8_t)primary);
	}
	return n;
}

static int db_insert(struct store *st, uint8_t id, const uint8_t *key,
		     bool primary)
{
	sqlite3_stmt *q = store_stmt(st, SQL_INSERT);
	int rc;

	if (q == NULL) {
		return -EIO;
	}
	sqlite3_bind_int(q, 1, id);
	sqlite3_bind_blob(q, 2, key, CRYPTO_KEY_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int(q, 3, primary ? 1 : 0);
	sqlite3_bind_int64(q, 4, wall_ms());
	rc = sqlite3_step(q);
	sqlite3_clear_bindings(q); /* drop the key copy */
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		log_error("keyring insert: %s", store_errmsg(st));
		return -EIO;
	}
	return 0;
}

static int db_id_op(struct store *st, const char *sql, uint8_t id)
{
	sqlite3_stmt *q = store_stmt(st, sql);
	int rc;

	if (q == NULL) {
		return -EIO;
	}
	sqlite3_bind_int(q, 1, id);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		log_error("keyring update: %s", store_errmsg(st));
		return -EIO;
	}
	return 0;
}

int crypto_keys_install(struct crypto_keyring *kr, struct store *st,
			const char *key_b64, uint8_t *id_out, char *why,
			size_t why_len)
{
	uint8_t key[CRYPTO_KEY_LEN], id = 0;
	size_t before = crypto_keyring_count(kr);
	int rc;

	rc = crypto_key_parse_b64(key_b64, key);
	if (rc < 0) {
		if (why != NULL) {
			snprintf(why, why_len,
				 "not a base64 32-byte key (make one with "
				 "`farnode keygen gossip`)");
		}
		goto out;
	}
	rc = crypto_keyring_install(kr, key, &id);
	if (rc == -EEXIST) {
		set_why(why, why_len,
			"another installed key has id %d; generate a new key",
			crypto_key_id(key));
	} else if (rc == -ENOSPC) {
		set_why(why, why_len, "keyring full (%d keys); remove one",
			CRYPTO_KEYS_MAX);
	}
	if (rc < 0 || crypto_keyring_count(kr) == before) {
		goto out; /* error, or already installed: nothing to store */
	}
	rc = db_insert(st, id, key, crypto_keyring_primary(kr) == id);
	if (rc < 0) {
		crypto_keyring_remove(kr, id);
		set_why(why, why_len, "store write failed (%d)", rc);
	} else {
		log_info("gossip key %d installed", id);
	}
out:
	mbedtls_platform_zeroize(key, sizeof(key));
	if (rc == 0 && id_out != NULL) {
		*id_out = id;
	}
	return rc;
}

int crypto_keys_use(struct crypto_keyring *kr, struct store *st, uint8_t id,
		    char *why, size_t why_len)
{
	int old = crypto_keyring_primary(kr);
	int rc = crypto_keyring_use(kr, id);

	if (rc < 0) {
		set_why(why, why_len, "no key with id %d", id);
		return rc;
	}
	rc = db_id_op(st, SQL_USE, id);
	if (rc < 0) {
		if (old >= 0) {
			crypto_keyring_use(kr, (uint8_t)old);
		}
		set_why(why, why_len, "store write failed (%d)", rc);
		return rc;
	}
	log_info("gossip key %d is now primary", id);
	return 0;
}

int crypto_keys_remove(struct crypto_keyring *kr, struct store *st, uint8_t id,
		       char *why, size_t why_len)
{
	uint8_t key[CRYPTO_KEY_LEN];
	int rc = crypto_keyring_export(kr, id, key);

	if (rc < 0) {
		set_why(why, why_len, "no key with id %d", id);
		return rc;
	}
	rc = crypto_keyring_remove(kr, id);
	if (rc == -EBUSY) {
		set_why(why, why_len,
			"key %d is the primary; `farnode keys use` another "
			"first",
			id);
		goto out;
	}
	if (rc < 0) {
		goto out;
	}
	rc = db_id_op(st, SQL_DELETE, id);
	if (rc < 0) {
		crypto_keyring_install(kr, key, NULL);
		set_why(why, why_len, "store write failed (%d)", rc);
		goto out;
	}
	log_info("gossip key %d removed", id);
out:
	mbedtls_platform_zeroize(key, sizeof(key));
	return rc;
}

/*
 * The keyring table holds raw keys: keep the database and its WAL/SHM
 * files private to the agent's user whatever the umask was (SQLite gives
 * new WAL/SHM files the database file's mode).
 */
static void protect_db(const struct agent *a)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char path[sizeof(a->db_path) + 8];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s%s", a->db_path, sfx[i]);
		if (stat(path, &st) == 0 && (st.st_mode & 077) != 0 &&
		    chmod(path, st.st_mode & 0700) != 0) {
			log_warn("cannot make %s private: %s (it holds the "
				 "gossip keys)",
				 path, strerror(errno));
		}
	}
}

int crypto_keys_start(struct agent *a)
{
	char why[160];
	int n;

	protect_db(a);

	a->keyring = crypto_keyring_new(0);
	if (a->keyring == NULL) {
		log_error("keyring: out of memory or no entropy");
		return -ENOMEM;
	}
	n = crypto_keys_load(a->keyring, a->store);
	if (n < 0) {
		return n;
	}
	if (n == 0 && a->cfg.gossip.key[0] != '\0') {
		uint8_t id = 0;
		int rc =
		    crypto_keys_install(a->keyring, a->store, a->cfg.gossip.key,
					&id, why, sizeof(why));

		if (rc < 0) {
			log_error("[gossip] key: %s", why);
			return rc;
		}
		log_info("keyring seeded from [gossip] key (id %d)", id);
	} else if (n > 0) {
		if (a->cfg.gossip.key[0] != '\0') {
			uint8_t key[CRYPTO_KEY_LEN], probe[CRYPTO_KEY_LEN];

			if (crypto_key_parse_b64(a->cfg.gossip.key, key) == 0 &&
			    crypto_keyring_export(
				a->keyring, crypto_key_id(key), probe) != 0) {
				log_warn("[gossip] key is not in the stored "
					 "keyring; the stored keyring is used "
					 "(add it with `farnode keys "
					 "install`)");
			}
			mbedtls_platform_zeroize(key, sizeof(key));
			mbedtls_platform_zeroize(probe, sizeof(probe));
		}
		log_info("keyring: %d gossip key(s) loaded, primary %d", n,
			 crypto_keyring_primary(a->keyring));
	} else {
		log_info("no gossip key: gossip is not encrypted");
	}
	return 0;
}

void crypto_keys_stop(struct agent *a)
{
	crypto_keyring_free(a->keyring);
	a->keyring = NULL;
}
