// SPDX-License-Identifier: Apache-2.0
// crypto_sign: signed bundles (ECDSA P-256 over SHA-256 with a kind-bound
// digest, see crypto.h), pinned public keys, and signing-key generation
// for `farnode keygen signing`.

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#define LOG_TAG "crypto"
#include "log.h"

#include "crypto.h"
#include "crypto_internal.h"

struct crypto_signer {
	mbedtls_pk_context pk;
	char key_id[CRYPTO_SIGN_KEY_ID_LEN];
};

/* Largest key file we read (a PEM P-256 key is ~230 bytes). */
#define KEY_FILE_MAX 8192

static bool is_p256(mbedtls_pk_context *pk)
{
	if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY)) {
		return false;
	}
	return mbedtls_pk_ec(*pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

/* Key id: hex of SHA-256(SubjectPublicKeyInfo DER)[0..8). */
static int pk_key_id(mbedtls_pk_context *pk, char out[CRYPTO_SIGN_KEY_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char der[256];
	uint8_t h[32];
	int n;

	n = mbedtls_pk_write_pubkey_der(pk, der, sizeof(der));
	if (n <= 0) {
		return crypto__mbed_err("write public key", n);
	}
	/* mbedtls writes DER at the end of the buffer */
	mbedtls_sha256_ret(der + sizeof(der) - n, (size_t)n, h, 0);
	for (int i = 0; i < 8; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[16] = '\0';
	return 0;
}

static void bundle_digest(uint32_t kind, const uint8_t *payload, size_t len,
			  uint8_t out[32])
{
	static const char ctx[] = "farnode.v1.SignedBundle"; /* + its NUL */
	mbedtls_sha256_context c;
	uint8_t k[4] = {(uint8_t)(kind >> 24), (uint8_t)(kind >> 16),
			(uint8_t)(kind >> 8), (uint8_t)kind};

	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	mbedtls_sha256_update_ret(&c, (const unsigned char *)ctx, sizeof(ctx));
	mbedtls_sha256_update_ret(&c, k, sizeof(k));
	mbedtls_sha256_update_ret(&c, payload, len);
	mbedtls_sha256_finish_ret(&c, out);
	mbedtls_sha256_free(&c);
}

/* Read a whole small file into a NUL-terminated heap buffer. */
static int read_small_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > KEY_FILE_MAX) {
		rc = -EBADMSG;
		goto fail;
	}
	b = malloc((size_t)st.st_size + 1);
	if (b == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			goto fail;
		}
		got += (size_t)r;
	}
	b[got] = '\0';
	close(fd);
	*buf = b;
	*len = got + 1; /* PEM parsing wants the NUL counted */
	return 0;
fail:
	if (b != NULL) {
		mbedtls_platform_zeroize(b, (size_t)st.st_size + 1);
		free(b);
	}
	close(fd);
	return rc;
}

struct crypto_signer *crypto_signer_parse(const uint8_t *buf, size_t len,
					  int *err)
{
	struct crypto_signer *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	mbedtls_pk_init(&s->pk);
	rc = mbedtls_pk_parse_key(&s->pk, buf, len, NULL, 0);
	if (rc != 0 || !is_p256(&s->pk)) {
		*err = -EBADMSG;
		goto fail;
	}
	rc = pk_key_id(&s->pk, s->key_id);
	if (rc < 0) {
		*err = rc;
		goto fail;
	}
	return s;
fail:
	crypto_signer_free(s);
	return NULL;
}

struct crypto_signer *crypto_signer_load(const char *path, int *err)
{
	struct crypto_signer *s;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_small_file(path, &buf, &len);
	if (rc < 0) {
		*err = rc;
		return NULL;
	}
	s = crypto_signer_parse(buf, len, err);
	mbedtls_platform_zeroize(buf, len);
	free(buf);
	return s;
}

void crypto_signer_free(struct crypto_signer *s)
{
	if (s == NULL) {
		return;
	}
	mbedtls_pk_free(&s->pk);
	mbedtls_platform_zeroize(s, sizeof(*s));
	free(s);
}

const char *crypto_signer_key_id(const struct crypto_signer *s)
{
	return s->key_id;
}

int crypto_sign(struct crypto_signer *s, uint32_t kind, const uint8_t *payload,
		size_t payload_len, uint8_t sig[CRYPTO_SIG_MAX],
		size_t *sig_len)
{
	unsigned char buf[MBEDTLS_ECDSA_MAX_LEN];
	uint8_t h[32];
	size_t n = 0;
	int rc;

	bundle_digest(kind, payload, payload_len, h);
	rc = mbedtls_pk_sign(&s->pk, MBEDTLS_MD_SHA256, h, sizeof(h), buf, &n,
			     crypto__rng, NULL);
	if (rc != 0) {
		return crypto__mbed_err("sign", rc);
	}
	if (n > CRYPTO_SIG_MAX) {
		return -EIO;
	}
	memcpy(sig, buf, n);
	*sig_len = n;
	return 0;
}

void crypto_pins_init(struct crypto_pins *p)
{
	memset(p, 0, sizeof(*p));
}

void crypto_pins_fini(struct crypto_pins *p)
{
	for (size_t i = 0; i < p->n; i++) {
		mbedtls_pk_free(p->pin[i].pk);
		free(p->pin[i].pk);
	}
	memset(p, 0, sizeof(*p));
}

int crypto_pins_add(struct crypto_pins *p, const uint8_t *buf, size_t len,
		    char key_id_out[CRYPTO_SIGN_KEY_ID_LEN])
{
	char id[CRYPTO_SIGN_KEY_ID_LEN];
	mbedtls_pk_context *pk;
	int rc;

	pk = malloc(sizeof(*pk));
	if (pk == NULL) {
		return -ENOMEM;
	}
	mbedtls_pk_init(pk);
	rc = mbedtls_pk_parse_public_key(pk, buf, len);
	if (rc != 0 || !is_p256(pk)) {
		rc = -EBADMSG;
		goto fail;
	}
	rc = pk_key_id(pk, id);
	if (rc < 0) {
		goto fail;
	}
	if (key_id_out != NULL) {
		memcpy(key_id_out, id, sizeof(id));
	}
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->pin[i].key_id, id) == 0) {
			rc = 0; /* already pinned */
			goto fail;
		}
	}
	if (p->n >= CRYPTO_PINS_MAX) {
		rc = -ENOSPC;
		goto fail;
	}
	memcpy(p->pin[p->n].key_id, id, sizeof(id));
	p->pin[p->n].pk = pk;
	p->n++;
	return 0;
fail:
	mbedtls_pk_free(pk);
	free(pk);
	return rc;
}

int crypto_pins_add_file(struct crypto_pins *p, const char *path,
			 char key_id_out[CRYPTO_SIGN_KEY_ID_LEN])
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_small_file(path, &buf, &len);
	if (rc < 0) {
		return rc;
	}
	rc = crypto_pins_add(p, buf, len, key_id_out);
	free(buf);
	return rc;
}

int crypto_verify(const struct crypto_pins *p, const char *key_id,
		  uint32_t kind, const uint8_t *payload, size_t payload_len,
		  const uint8_t *sig, size_t sig_len)
{
	mbedtls_pk_context *pk = NULL;
	uint8_t h[32];
	int rc;

	for (size_t i = 0; i < p->n; i++) {
		if (key_id != NULL && strcmp(p->pin[i].key_id, key_id) == 0) {
			pk = p->pin[i].pk;
			break;
		}
	}
	if (pk == NULL) {
		return -ENOKEY;
	}
	if (sig_len == 0 || sig_len > CRYPTO_SIG_MAX) {
		return -EBADMSG;
	}
	bundle_digest(kind, payload, payload_len, h);
	rc = mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, h, sizeof(h), sig,
			       sig_len);
	return rc == 0 ? 0 : -EKEYREJECTED;
}

/* Write all of buf to a new file (O_EXCL) with mode; fsync. */
static int write_new_file(const char *path, const void *buf, size_t len,
			  mode_t mode)
{
	const uint8_t *b = buf;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		return -errno;
	}
	if (fchmod(fd, mode) < 0) {
		rc = -errno;
		goto out;
	}
	while (len > 0) {
		ssize_t w = write(fd, b, len);

		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			goto out;
		}
		b += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
	}
out:
	close(fd);
	if (rc < 0) {
		unlink(path);
	}
	return rc;
}

int crypto_keygen_signing(const char *dir,
			  char key_id_out[CRYPTO_SIGN_KEY_ID_LEN])
{
	char key_path[PATH_MAX], pub_path[PATH_MAX];
	unsigned char pem[1024];
	mbedtls_pk_context pk;
	struct stat st;
	int rc;

	if (snprintf(key_path, sizeof(key_path), "%s/signing.key", dir) >=
		(int)sizeof(key_path) ||
	    snprintf(pub_path, sizeof(pub_path), "%s/signing.pub", dir) >=
		(int)sizeof(pub_path)) {
		return -ENAMETOOLONG;
	}
	if (lstat(key_path, &st) == 0 || lstat(pub_path, &st) == 0) {
		return -EEXIST;
	}
	mbedtls_pk_init(&pk);
	rc = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (rc == 0) {
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
					 mbedtls_pk_ec(pk), crypto__rng, NULL);
	}
	if (rc != 0) {
		rc = crypto__mbed_err("generate P-256 key", rc);
		goto out;
	}
	if (key_id_out != NULL) {
		rc = pk_key_id(&pk, key_id_out);
		if (rc < 0) {
			goto out;
		}
	}
	rc = mbedtls_pk_write_key_pem(&pk, pem, sizeof(pem));
	if (rc != 0) {
		rc = crypto__mbed_err("write private key", rc);
		goto out;
	}
	rc = write_new_file(key_path, pem, strlen((char *)pem), 0600);
	if (rc < 0) {
		goto out;
	}
	mbedtls_platform_zeroize(pem, sizeof(pem));
	rc = mbedtls_pk_write_pubkey_pem(&pk, pem, sizeof(pem));
	if (rc != 0) {
		rc = crypto__mbed_err("write public key", rc);
		unlink(key_path);
		goto out;
	}
	rc = write_new_file(pub_path, pem, strlen((char *)pem), 0644);
	if (rc < 0) {
		unlink(key_path);
	}
out:
	mbedtls_platform_zeroize(pem, sizeof(pem));
	mbedtls_pk_free(&pk);
	return rc;
}
