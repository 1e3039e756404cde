// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz target for the gossip envelope decoder (agent/wire.c). Whatever
 * decodes must re-encode and decode to the same values, and protobuf-c's
 * generated unpacker must accept it with the same field values (values,
 * not bytes: see the over-long tag quirk in PLATFORM-NOTES). Rejections
 * must use one of the documented codes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#include "envelope.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_envelope: %s:%d: %s\n",        \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_envelope h, h2;
	const uint8_t *body = NULL, *body2 = NULL;
	size_t body_len = 0, body2_len = 0, n = 0;
	static uint8_t out[WIRE_ENVELOPE_MAX];
	Farnode__V1__Envelope *pb;
	int rc;

	rc = wire_envelope_decode(data, size, &h, &body, &body_len);
	if (rc != 0) {
		CHECK(rc == -EMSGSIZE || rc == -EBADMSG ||
		      rc == -EPROTONOSUPPORT || rc == -ENOMSG);
		CHECK(rc != -EMSGSIZE || size > WIRE_ENVELOPE_MAX);
		return 0;
	}
	CHECK(h.version == WIRE_VERSION);
	CHECK(wire_type_known(h.type));
	CHECK(body_len == 0 ||
	      (body >= data && body + body_len <= data + size));

	/* the generated decoder agrees on every value */
	pb = farnode__v1__envelope__unpack(NULL, size, data);
	CHECK(pb != NULL);
	CHECK(pb->version == h.version);
	CHECK(pb->sender.len == NODE_ID_LEN);
	CHECK(memcmp(pb->sender.data, h.sender.b, NODE_ID_LEN) == 0);
	CHECK(pb->incarnation == h.incarnation);
	CHECK((uint32_t)pb->type == (uint32_t)h.type);
	CHECK(pb->body.len == body_len);
	CHECK(body_len == 0 || memcmp(pb->body.data, body, body_len) == 0);
	farnode__v1__envelope__free_unpacked(pb, NULL);

	/* round trip through our encoder */
	rc = wire_envelope_encode(&h, body, body_len, out, sizeof(out), &n);
	if (body_len > WIRE_BODY_MAX) {
		CHECK(rc == -EMSGSIZE);
		return 0;
	}
	CHECK(rc == 0);
	CHECK(n <= body_len + WIRE_ENVELOPE_OVERHEAD);
	CHECK(wire_envelope_decode(out, n, &h2, &body2, &body2_len) == 0);
	CHECK(h2.version == h.version && h2.type == h.type &&
	      h2.incarnation == h.incarnation &&
	      node_id_equal(&h2.sender, &h.sender));
	CHECK(body2_len == body_len);
	CHECK(body_len == 0 || memcmp(body2, body, body_len) == 0);
	return 0;
}
