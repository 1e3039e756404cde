// SPDX-License-Identifier: Apache-2.0
// wire_bundle: signed bundles (proto/policy.proto SignedBundle), read
// without copying so a multi-megabyte payload is verified in place, and
// the verify-before-decode step every policy or desired-state bundle
// passes (wire_bundle_open).

#include <errno.h>
#include <string.h>

#include "wire.h"
#include "wire_internal.h"

static bool is_hex_id(const uint8_t *p, size_t len)
{
	if (len != CRYPTO_SIGN_KEY_ID_LEN - 1) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

static size_t field_len(uint32_t num, size_t len)
{
	return wire__varint_len((uint64_t)num << 3) + wire__varint_len(len) +
	       len;
}

int wire_bundle_encode(const struct wire_bundle *b, uint8_t *out, size_t cap,
		       size_t *out_len)
{
	size_t id_len = strnlen(b->key_id, sizeof(b->key_id));
	size_t need, pos = 0;

	if (!is_hex_id((const uint8_t *)b->key_id, id_len) ||
	    (b->kind != BUNDLE_POLICY && b->kind != BUNDLE_DESIRED) ||
	    b->sig_len == 0 || b->sig_len > CRYPTO_SIG_MAX ||
	    (b->payload == NULL && b->payload_len > 0)) {
		return -EINVAL;
	}
	if (b->payload_len > WIRE_BUNDLE_MAX - 256) {
		return -EMSGSIZE;
	}
	need = field_len(1, id_len) +
	       (b->payload_len ? field_len(2, b->payload_len) : 0) +
	       field_len(3, b->sig_len) + 2;
	if (wire__room(need, cap, out_len) < 0) {
		return -ENOBUFS;
	}
	wire__put_tag(out, &pos, 1, WIRE__WT_LEN);
	wire__put_varint(out, &pos, id_len);
	memcpy(out + pos, b->key_id, id_len);
	pos += id_len;
	if (b->payload_len > 0) {
		wire__put_tag(out, &pos, 2, WIRE__WT_LEN);
		wire__put_varint(out, &pos, b->payload_len);
		memcpy(out + pos, b->payload, b->payload_len);
		pos += b->payload_len;
	}
	wire__put_tag(out, &pos, 3, WIRE__WT_LEN);
	wire__put_varint(out, &pos, b->sig_len);
	memcpy(out + pos, b->sig, b->sig_len);
	pos += b->sig_len;
	wire__put_tag(out, &pos, 4, WIRE__WT_VARINT);
	wire__put_varint(out, &pos, (uint64_t)b->kind);
	*out_len = pos;
	return 0;
}

int wire_bundle_decode(const uint8_t *p, size_t len, struct wire_bundle *b)
{
	struct wire__field f;
	size_t pos = 0;
	uint64_t kind = 0;
	bool have_id = false;
	int rc;

	if (len > WIRE_BUNDLE_MAX) {
		return -EMSGSIZE;
	}
	memset(b, 0, sizeof(*b));
	while ((rc = wire__next(p, len, &pos, &f)) > 0) {
		if (f.num >= 1 && f.num <= 3 && f.wt != WIRE__WT_LEN) {
			return -EBADMSG;
		}
		switch (f.num) {
		case 1:
			if (!is_hex_id(f.p, f.len)) {
				return -EBADMSG;
			}
			memcpy(b->key_id, f.p, f.len);
			b->key_id[f.len] = '\0';
			have_id = true;
			break;
		case 2:
			b->payload = f.p;
			b->payload_len = f.len;
			break;
		case 3:
			if (f.len == 0 || f.len > CRYPTO_SIG_MAX) {
				return -EBADMSG;
			}
			b->sig = f.p;
			b->sig_len = f.len;
			break;
		case 4:
			if (f.wt != WIRE__WT_VARINT) {
				return -EBADMSG;
			}
			kind = f.v;
			break;
		default:
			break;
		}
	}
	if (rc < 0 || !have_id || b->sig == NULL) {
		return -EBADMSG;
	}
	if (kind != BUNDLE_POLICY && kind != BUNDLE_DESIRED) {
		return -ENOMSG;
	}
	b->kind = (enum bundle_kind)kind;
	return 0;
}

int wire_bundle_sign(struct crypto_signer *s, enum bundle_kind kind,
		     const uint8_t *payload, size_t payload_len, uint8_t *out,
		     size_t cap, size_t *out_len)
{
	uint8_t sig[CRYPTO_SIG_MAX];
	struct wire_bundle b = {
	    .kind = kind,
	    .payload = payload,
	    .payload_len = payload_len,
	    .sig = sig,
	};
	int rc;

	if (payload_len > WIRE_BUNDLE_MAX - 256) {
		return -EMSGSIZE;
	}
	rc = crypto_sign(s, (uint32_t)kind, payload, payload_len, sig,
			 &b.sig_len);
	if (rc < 0) {
		return rc;
	}
	memcpy(b.key_id, crypto_signer_key_id(s), sizeof(b.key_id));
	return wire_bundle_encode(&b, out, cap, out_len);
}

int wire_bundle_open(const struct crypto_pins *pins, const uint8_t *p,
		     size_t len, enum bundle_kind want, const uint8_t **payload,
		     size_t *payload_len)
{
	struct wire_bundle b;
	int rc = wire_bundle_decode(p, len, &b);

	if (rc < 0) {
		return rc;
	}
	if (b.kind != want) {
		return -ENOMSG;
	}
	rc = crypto_verify(pins, b.key_id, (uint32_t)b.kind, b.payload,
			   b.payload_len, b.sig, b.sig_len);
	if (rc < 0) {
		return rc;
	}
	*payload = b.payload;
	*payload_len = b.payload_len;
	return 0;
}
