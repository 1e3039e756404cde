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
 */
#ifndef FARNODE_WIRE_H
#define FARNODE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "node.h"

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
	uint32_t version;     /* WIRE_VERSION when encoding */
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
 * Returns 0, -EMSGSIZE (len > WIRE_ENVELOPE_MAX), -EBADMSG (malformed, or
 * sender not 16 bytes), -EPROTONOSUPPORT (version != WIRE_VERSION) or
 * -ENOMSG (unknown message type). Malformed wins over version, version
 * over type.
 */
int wire_envelope_decode(const uint8_t *p, size_t len,
			 struct wire_envelope *h, const uint8_t **body,
			 size_t *body_len);

#endif
