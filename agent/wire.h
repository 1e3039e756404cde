/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire: the protobuf boundary (DESIGN §5). Only agent/wire*.c include the
 * generated *.pb-c.h; everything else converts through the plain structs
 * and functions declared here and in the module headers they serve.
 *
 * Every gossip datagram is   seal( Envelope{version, sender, incarnation,
 * type, body} )   where body is the type-specific message. This header
 * has the envelope and the byte budgets; the bodies are encoded by
 * wire_swim.c (types 1-6), wire_offload.c (10-12), wire_learning.c (13).
 *
 * Errors (negative errno), the same across every wire_* decoder:
 *   -EMSGSIZE         input longer than the message's fixed cap (checked
 *                     before anything is parsed or allocated), or an item
 *                     too large to ever fit the caller's budget when encoding
 *   -EBADMSG          malformed: bad varint/length, wrong wire type, a field
 *                     of the wrong size, a repeated field or string over its
 *                     bound, a required field missing
 *   -EPROTONOSUPPORT  well formed but a protocol version we do not speak
 *   -ENOMSG           well formed but an unknown (or zero) message type/kind
 *   -ENOBUFS          encode: the output buffer is too small
 *   -EINVAL           encode: invalid input values
 *
 * Decoders reject non-finite doubles and enum values outside the schema as
 * malformed (-EBADMSG). They check bounds, not meaning: a workload spec
 * that decodes may still fail workload_spec_validate. Encoders that take
 * out/cap return -ENOBUFS with *out_len set to the size needed.
 */
#ifndef FARNODE_WIRE_H
#define FARNODE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "messages.h"
#include "node.h"
#include "policy.h"
#include "sched.h"
#include "workload.h"

/* Protocol version carried in every envelope. */
#define WIRE_VERSION 1

/* Largest sealed datagram on the network (fits a 1,500-byte MTU). */
#define WIRE_DATAGRAM_MAX 1400
/* Largest serialised envelope (the sealed plaintext). */
#define WIRE_ENVELOPE_MAX (WIRE_DATAGRAM_MAX - CRYPTO_SEAL_OVERHEAD)
/*
 * Upper bound on what the envelope adds around its body: version (1+5),
 * sender (1+1+16), incarnation (1+10), type (1+5), body tag and length
 * (1+2). 41 bytes.
 */
#define WIRE_ENVELOPE_OVERHEAD 41
/* Largest body that always fits one datagram after envelope and sealing. */
#define WIRE_BODY_MAX (WIRE_ENVELOPE_MAX - WIRE_ENVELOPE_OVERHEAD)
/* Application messages too big for a datagram travel over the gossip TCP
 * channel (sealed frames); their envelope is bounded by this. */
#define WIRE_STREAM_BODY_MAX (64u * 1024)
#define WIRE_STREAM_ENVELOPE_MAX (WIRE_STREAM_BODY_MAX + WIRE_ENVELOPE_OVERHEAD)

/* Message types (proto/envelope.proto MessageType; numbers are protocol). */
enum wire_type {
	WIRE_PING = 1,
	WIRE_PING_REQ = 2,
	WIRE_ACK = 3,
	WIRE_NACK = 4,
	WIRE_PUSH_PULL = 5,
	WIRE_GOSSIP = 6,
	WIRE_OFFLOAD_OFFER = 10,
	WIRE_OFFLOAD_REPLY = 11,
	WIRE_OFFLOAD_RESULT = 12,
	WIRE_Q_SHARE = 13,
};

/* The envelope header (everything but the body). */
struct wire_envelope {
	uint32_t version; /* WIRE_VERSION when encoding */
	struct node_id sender;
	uint64_t incarnation;
	enum wire_type type;
};

/* True for the message types above. */
bool wire_type_known(uint32_t type);
/* "ping", "ping-req", ...; "unknown" otherwise. Static string. */
const char *wire_type_name(uint32_t type);
/* Short human text for a wire error code ("malformed", ...). */
const char *wire_strerror(int err);

/*
 * Serialise header + body into out[0..cap). body may be NULL when
 * body_len is 0; it is borrowed. Returns 0 and *out_len, -EINVAL (version
 * or type unknown), -EMSGSIZE (body_len > WIRE_BODY_MAX) or -ENOBUFS
 * (cap too small; nothing useful in out).
 */
int wire_envelope_encode(const struct wire_envelope *h, const uint8_t *body,
			 size_t body_len, uint8_t *out, size_t cap,
			 size_t *out_len);

/*
 * Parse an envelope from p[0..len) without allocating. On success fills
 * *h and points *body into p (borrowed from the caller's buffer; valid as
 * long as p is). Unknown fields are skipped (forward compatibility).
 * Returns 0, -EMSGSIZE (len > WIRE_ENVELOPE_MAX), -EBADMSG (malformed,
 * sender not 16 bytes or all zero), -EPROTONOSUPPORT (version != WIRE_VERSION)
 * or -ENOMSG (unknown message type). Malformed wins over version, version over
 * type.
 */
int wire_envelope_decode(const uint8_t *p, size_t len, struct wire_envelope *h,
			 const uint8_t **body, size_t *body_len);
/* The same for an envelope carried over a stream: bodies up to
 * WIRE_STREAM_BODY_MAX, envelopes up to WIRE_STREAM_ENVELOPE_MAX. */
int wire_stream_envelope_encode(const struct wire_envelope *h,
				const uint8_t *body, size_t body_len,
				uint8_t *out, size_t cap, size_t *out_len);
int wire_stream_envelope_decode(const uint8_t *p, size_t len,
				struct wire_envelope *h, const uint8_t **body,
				size_t *body_len);

/* ---- node and link state (proto/node.proto) ----------------------- */

#define WIRE_NODE_STATE_MAX 4096 /* input cap, bytes */
#define WIRE_LINK_STATE_MAX 64

/*
 * Each pair below follows the same contract. _encode serialises the
 * struct (borrowed) into out[0..cap): 0 and *out_len, -ENOBUFS with
 * *out_len = bytes needed, or -EINVAL for a value the schema cannot carry
 * (unterminated string, enum out of range, non-finite double). _decode
 * fills the caller's struct from p[0..len) without keeping pointers into
 * p: 0, -EMSGSIZE (over the input cap), -EBADMSG (malformed or out of
 * bounds; the struct is then unspecified).
 */
int wire_node_state_encode(const struct node_state *s, uint8_t *out, size_t cap,
			   size_t *out_len);
/* Fractions (cpu_free) must be in 0..1; at most NODE_LABELS_MAX labels. */
int wire_node_state_decode(const uint8_t *p, size_t len, struct node_state *s);
int wire_link_state_encode(const struct link_state *s, uint8_t *out, size_t cap,
			   size_t *out_len);
/* loss must be in 0..1. */
int wire_link_state_decode(const uint8_t *p, size_t len, struct link_state *s);

/* ---- workloads (proto/workload.proto) ----------------------------- */

#define WIRE_WORKLOAD_SPEC_MAX	 16384 /* input cap, bytes */
#define WIRE_WORKLOAD_STATUS_MAX 512

int wire_workload_spec_encode(const struct workload_spec *s, uint8_t *out,
			      size_t cap, size_t *out_len);
int wire_workload_spec_decode(const uint8_t *p, size_t len,
			      struct workload_spec *s);
int wire_workload_status_encode(const struct workload_status *s, uint8_t *out,
				size_t cap, size_t *out_len);
int wire_workload_status_decode(const uint8_t *p, size_t len,
				struct workload_status *s);

/* ---- offload (proto/offload.proto; envelope types 10-12) ------------ */

int wire_offload_offer_encode(const struct offload_offer *o, uint8_t *out,
			      size_t cap, size_t *out_len);
/* Input cap WIRE_WORKLOAD_SPEC_MAX + 64 (an offer may travel over TCP). */
int wire_offload_offer_decode(const uint8_t *p, size_t len,
			      struct offload_offer *o);
int wire_offload_reply_encode(const struct offload_reply *r, uint8_t *out,
			      size_t cap, size_t *out_len);
int wire_offload_reply_decode(const uint8_t *p, size_t len,
			      struct offload_reply *r);
int wire_offload_result_encode(const struct offload_result *r, uint8_t *out,
			       size_t cap, size_t *out_len);
int wire_offload_result_decode(const uint8_t *p, size_t len,
			       struct offload_result *r);

/* ---- Q-shares (proto/learning.proto; envelope type 13) ------------- */

#define WIRE_QSHARE_MAX		(1u << 20) /* input cap, bytes */
#define WIRE_QSHARE_ENTRIES_MAX 65536	   /* entries in one share */

/*
 * Encode a share with as many of e[0..n) as fit in cap bytes (in order).
 * *n_fit gets how many entries went in; the caller sends the rest in the
 * next datagram. Returns 0, -EINVAL (non-finite q), -ENOBUFS (not even the
 * header fits; *out_len = bytes needed for zero entries).
 */
int wire_qshare_encode(uint32_t fingerprint, uint64_t round,
		       const struct sched_share *e, size_t n, uint8_t *out,
		       size_t cap, size_t *out_len, size_t *n_fit);
/*
 * Decode into out[0..max). -EBADMSG if it has more than max entries (or
 * WIRE_QSHARE_ENTRIES_MAX), a non-finite q or zero visits.
 */
int wire_qshare_decode(const uint8_t *p, size_t len, uint32_t *fingerprint,
		       uint64_t *round, struct sched_share *out, size_t max,
		       size_t *n);

/* ---- policy and desired state (proto/policy.proto) ----------------- */

#define WIRE_BUNDLE_MAX (4u << 20) /* signed bundle / payload cap, bytes */

int wire_policy_encode(const struct policy *pol, uint8_t *out, size_t cap,
		       size_t *out_len);
/*
 * Decode into *pol (policy_init'ed by the call; on success the caller
 * policy_fini's it; on failure nothing is left allocated). At most
 * POLICY_PRIOR_MAX prior entries, one mask per qos class.
 */
int wire_policy_decode(const uint8_t *p, size_t len, struct policy *pol);
int wire_desired_encode(const struct desired_state *d, uint8_t *out, size_t cap,
			size_t *out_len);
/* Like wire_policy_decode; at most DESIRED_WORKLOADS_MAX workloads. */
int wire_desired_decode(const uint8_t *p, size_t len, struct desired_state *d);

enum bundle_kind {
	BUNDLE_POLICY = 1,
	BUNDLE_DESIRED = 2,
};

/* A signed bundle. payload and sig are borrowed (encode) or point into
 * the decoded buffer (decode). */
struct wire_bundle {
	char key_id[CRYPTO_SIGN_KEY_ID_LEN];
	enum bundle_kind kind;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *sig;
	size_t sig_len;
};

int wire_bundle_encode(const struct wire_bundle *b, uint8_t *out, size_t cap,
		       size_t *out_len);
/* Zero-copy decode; -ENOMSG for an unknown kind. */
int wire_bundle_decode(const uint8_t *p, size_t len, struct wire_bundle *b);
/*
 * Sign payload as kind with s and encode the bundle into out. Returns 0,
 * -ENOBUFS (*out_len = needed), -EMSGSIZE, -EIO.
 */
int wire_bundle_sign(struct crypto_signer *s, enum bundle_kind kind,
		     const uint8_t *payload, size_t payload_len, uint8_t *out,
		     size_t cap, size_t *out_len);
/*
 * Decode a bundle, check it is of kind want and verify its signature with
 * the pinned keys; only then point *payload into p. Returns 0, the decode
 * errors, -ENOMSG (other kind), or crypto_verify's -ENOKEY /
 * -EKEYREJECTED / -EBADMSG.
 */
int wire_bundle_open(const struct crypto_pins *pins, const uint8_t *p,
		     size_t len, enum bundle_kind want, const uint8_t **payload,
		     size_t *payload_len);

/* ---- uplink (proto/uplink.proto) ----------------------------------- */

int wire_uplink_event_encode(const struct uplink_event *e, uint8_t *out,
			     size_t cap, size_t *out_len);
/* Zero-copy decode (payload points into p); cap UPLINK_PAYLOAD_MAX + 64. */
int wire_uplink_event_decode(const uint8_t *p, size_t len,
			     struct uplink_event *e);
int wire_birth_encode(const struct uplink_birth *b, uint8_t *out, size_t cap,
		      size_t *out_len);
int wire_birth_decode(const uint8_t *p, size_t len, struct uplink_birth *b);

#endif
