// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz target for the wire decoders. First the gossip envelope
 * (agent/wire.c): whatever decodes must re-encode and decode to the same
 * values, and protobuf-c's generated unpacker must accept it with the same
 * field values (values, not bytes: see the over-long tag quirk in
 * PLATFORM-NOTES). Then the same input goes through every other decoder of
 * the wire module (offload, Q-share, node/link state, workload status,
 * policy, desired state, bundle, uplink event, birth): what decodes must
 * re-encode, and decoding that must give the same values (checked as equal
 * canonical re-encodings). Rejections must use a documented code. The
 * stream envelope (app messages over TCP) goes through the same checks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#include "envelope.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_envelope: %s:%d: %s\n",          \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

static uint8_t enc1[1 << 20], enc2[1 << 20];

static void check_rc(int rc)
{
	CHECK(rc == 0 || rc == -EMSGSIZE || rc == -EBADMSG ||
	      rc == -EPROTONOSUPPORT || rc == -ENOMSG);
}

/*
 * For a decoder D into type T with encoder E: if D(data) succeeds,
 * E(D(data)) must succeed, and E(D(E(D(data)))) must equal it byte for
 * byte (our encoder is deterministic, so equal bytes mean equal values).
 */
#define ROUNDTRIP(T, D, E, FINI)                                               \
	do {                                                                   \
		static T v1, v2;                                               \
		size_t n1 = 0, n2 = 0;                                         \
		int rc = D(data, size, &v1);                                   \
		check_rc(rc);                                                  \
		if (rc == 0) {                                                 \
			CHECK(E(&v1, enc1, sizeof(enc1), &n1) == 0);           \
			CHECK(D(enc1, n1, &v2) == 0);                          \
			CHECK(E(&v2, enc2, sizeof(enc2), &n2) == 0);           \
			CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);        \
			FINI(&v2);                                             \
			FINI(&v1);                                             \
		}                                                              \
	} while (0)

static void no_fini(const void *v)
{
	(void)v;
}

static int qs_dec(const uint8_t *p, size_t len, struct sched_share *e,
		  size_t *n, uint32_t *fp, uint64_t *round)
{
	return wire_qshare_decode(p, len, fp, round, e, 4096, n);
}

static void fuzz_bodies(const uint8_t *data, size_t size)
{
	ROUNDTRIP(struct offload_offer, wire_offload_offer_decode,
		  wire_offload_offer_encode, no_fini);
	ROUNDTRIP(struct offload_reply, wire_offload_reply_decode,
		  wire_offload_reply_encode, no_fini);
	ROUNDTRIP(struct offload_result, wire_offload_result_decode,
		  wire_offload_result_encode, no_fini);
	ROUNDTRIP(struct node_state, wire_node_state_decode,
		  wire_node_state_encode, no_fini);
	ROUNDTRIP(struct link_state, wire_link_state_decode,
		  wire_link_state_encode, no_fini);
	ROUNDTRIP(struct workload_status, wire_workload_status_decode,
		  wire_workload_status_encode, no_fini);
	ROUNDTRIP(struct policy, wire_policy_decode, wire_policy_encode,
		  policy_fini);
	ROUNDTRIP(struct desired_state, wire_desired_decode,
		  wire_desired_encode, desired_state_fini);
	ROUNDTRIP(struct uplink_birth, wire_birth_decode, wire_birth_encode,
		  no_fini);
	ROUNDTRIP(struct wire_bundle, wire_bundle_decode, wire_bundle_encode,
		  no_fini);
	ROUNDTRIP(struct uplink_event, wire_uplink_event_decode,
		  wire_uplink_event_encode, no_fini);
	{
		static struct sched_share e1[4096], e2[4096];
		size_t n1 = 0, n2 = 0, b1 = 0, b2 = 0, fit = 0;
		uint32_t fp1, fp2;
		uint64_t r1, r2;
		int rc = qs_dec(data, size, e1, &n1, &fp1, &r1);

		check_rc(rc);
		if (rc == 0) {
			CHECK(wire_qshare_encode(fp1, r1, e1, n1, enc1,
						 sizeof(enc1), &b1, &fit) == 0);
			CHECK(fit == n1);
			CHECK(qs_dec(enc1, b1, e2, &n2, &fp2, &r2) == 0);
			CHECK(n2 == n1 && fp2 == fp1 && r2 == r1);
			CHECK(n1 == 0 ||
			      memcmp(e1, e2, n1 * sizeof(e1[0])) == 0);
			/* and cut to a datagram budget: a prefix, in bounds */
			CHECK(wire_qshare_encode(fp1, r1, e1, n1, enc2,
						 WIRE_BODY_MAX, &b2,
						 &fit) == 0 ||
			      b2 > WIRE_BODY_MAX);
			CHECK(b2 <= WIRE_BODY_MAX || fit == 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_envelope h, h2;
	const uint8_t *body = NULL, *body2 = NULL;
	size_t body_len = 0, body2_len = 0, n = 0;
	static uint8_t out[WIRE_ENVELOPE_MAX];
	Farnode__V1__Envelope *pb;
	int rc;

	fuzz_bodies(data, size);
	/* the stream variant (large app messages over TCP): same parser,
	 * larger bound; whatever it accepts re-encodes to the same values */
	rc = wire_stream_envelope_decode(data, size, &h, &body, &body_len);
	if (rc == 0) {
		static uint8_t big[WIRE_STREAM_ENVELOPE_MAX];
		CHECK(wire_stream_envelope_encode(&h, body, body_len, big,
						  sizeof(big), &n) == 0);
		CHECK(wire_stream_envelope_decode(big, n, &h2, &body2,
						  &body2_len) == 0);
		CHECK(h2.type == h.type && h2.incarnation == h.incarnation &&
		      body2_len == body_len &&
		      (body_len == 0 || memcmp(body, body2, body_len) == 0));
	} else {
		CHECK(rc == -EMSGSIZE || rc == -EBADMSG ||
		      rc == -EPROTONOSUPPORT || rc == -ENOMSG);
		CHECK(rc != -EMSGSIZE || size > WIRE_STREAM_ENVELOPE_MAX);
	}
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
