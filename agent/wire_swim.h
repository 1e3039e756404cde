/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire_swim: conversion between the SWIM core's structs and the protobuf
 * bodies of proto/swim.proto, packing of piggybacked updates under a byte
 * budget, and push-pull state encoding. Decoders bound every count and
 * length before they allocate. Only this file's .c includes swim.pb-c.h.
 */
#ifndef FARNODE_WIRE_SWIM_H
#define FARNODE_WIRE_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "swim.h"

/* Envelope message types used by SWIM (same numbers as wire.h). */
enum swim_msg_type {
	SWIM_MSG_PING = 1,
	SWIM_MSG_PING_REQ = 2,
	SWIM_MSG_ACK = 3,
	SWIM_MSG_NACK = 4,
	SWIM_MSG_PUSH_PULL = 5,
	SWIM_MSG_GOSSIP = 6,
};

/* Envelope protocol version this code writes and accepts. */
#define SWIM_WIRE_VERSION 1
/* Bound on piggybacked updates accepted in one datagram body. */
#define SWIM_UPDATES_MAX 128
/* Largest encoded single update (node state with every label full). */
#define SWIM_UPDATE_ENC_MAX 2560

enum swim_update_kind {
	SWIM_UPD_ALIVE = 1,
	SWIM_UPD_SUSPECT = 2,
	SWIM_UPD_DEAD = 3,
	SWIM_UPD_LEFT = 4,
	SWIM_UPD_STATE = 5,
};

/* One member update / push-pull record, decoded and validated. */
struct swim_update {
	enum swim_update_kind kind;
	struct node_id id;
	uint64_t incarnation;
	bool has_addr;
	struct swim_addr addr;
	char name[NODE_NAME_MAX];
	bool has_from;
	struct node_id from;
	bool has_state;
	struct node_state state;
};

/* Everything in a datagram body except the piggybacked updates. */
struct swim_msg_head {
	uint32_t type; /* enum swim_msg_type */
	uint32_t seq;
	bool has_target;
	struct node_id target_id;
	bool has_target_addr;
	struct swim_addr target_addr;
	bool want_nack;
};

/* Outer envelope fields (encoded by agent/wire.h). */
struct swim_envelope {
	uint32_t version;
	struct node_id sender;
	uint64_t incarnation;
	uint32_t type;
	const uint8_t *body; /* borrowed from the decoded buffer */
	size_t body_len;
};

/* A pre-encoded update to piggyback (borrowed bytes). */
struct wire_swim_item {
	const uint8_t *buf;
	size_t len;
};

/*
 * Encode one update as a SwimUpdate message into out. Returns 0,
 * -EMSGSIZE if it does not fit cap, -EINVAL on a bad struct.
 */
int wire_swim_update_encode(const struct swim_update *u, uint8_t *out,
			    size_t cap, size_t *len);
/* Bytes an encoded update of enc_len adds to a body (tag + length). */
size_t wire_swim_item_cost(size_t enc_len);

/*
 * Pack a body: the head, then items in order while they fit in `budget`
 * bytes. *n_fitted = how many leading items were packed. Returns 0, or
 * -EMSGSIZE when not even the head fits, -EINVAL on a bad head.
 */
int wire_swim_pack(const struct swim_msg_head *h,
		   const struct wire_swim_item *items, size_t n_items,
		   uint8_t *out, size_t budget, size_t *out_len,
		   size_t *n_fitted);

/* A decoded body; free with wire_swim_msg_fini(). */
struct swim_msg {
	struct swim_msg_head head;
	size_t n_updates;
	void *pb;      /* owned protobuf-c message */
	void *updates; /* its update array (inside pb) */
	void *arena;   /* owned: all of pb's memory */
};

/*
 * Decode a body of message `type` (len <= SWIM_PLAINTEXT_MAX, at most
 * SWIM_UPDATES_MAX updates). Returns 0, -EBADMSG (malformed), -E2BIG (too
 * many updates or too long), -EPROTONOSUPPORT (type not a SWIM body).
 */
int wire_swim_msg_decode(uint32_t type, const uint8_t *body, size_t len,
			 struct swim_msg *m);
/* Convert and validate update i. Returns 0 or -EBADMSG. */
int wire_swim_msg_update(const struct swim_msg *m, size_t i,
			 struct swim_update *out);
/* Release a decoded body; safe on a zeroed or finished struct. */
void wire_swim_msg_fini(struct swim_msg *m);

/* Upper bound on envelope bytes around a body of body_len. */
size_t wire_swim_envelope_overhead(size_t body_len);
/* Encode envelope + body (wire_envelope_encode). Returns 0, -EMSGSIZE,
 * -EINVAL. */
int wire_swim_envelope_encode(const struct swim_envelope *e, uint8_t *out,
			      size_t cap, size_t *len);
/*
 * Decode an envelope (wire_envelope_decode); e->body points into buf.
 * Returns 0, -EBADMSG, -EMSGSIZE, -EPROTO (wrong version), -ENOMSG
 * (unknown type).
 */
int wire_swim_envelope_decode(const uint8_t *buf, size_t len,
			      struct swim_envelope *e);

/* Growing writer for a push-pull state (malloc'd, bounded). */
struct wire_swim_pp_writer {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t count;
};

/* Start a state; returns 0 or -ENOMEM. */
int wire_swim_pp_begin(struct wire_swim_pp_writer *w, bool join);
/* Append one member record. Returns 0, -ENOMEM, -E2BIG (over bounds). */
int wire_swim_pp_add(struct wire_swim_pp_writer *w,
		     const struct swim_update *u);
/* Hand the buffer to the caller (who frees it); resets w. */
void wire_swim_pp_finish(struct wire_swim_pp_writer *w, uint8_t **out,
			 size_t *len);
/* Drop a writer's buffer; NULL-safe on fields. */
void wire_swim_pp_fini(struct wire_swim_pp_writer *w);

/* A decoded push-pull state; free with wire_swim_pp_fini_decoded(). */
struct swim_pp {
	bool join;
	size_t n_members;
	void *pb;
};

/*
 * Decode a push-pull state of len <= SWIM_PUSHPULL_MAX_BYTES with at most
 * max_members records (counted before unpacking). Returns 0, -E2BIG,
 * -EBADMSG.
 */
int wire_swim_pp_decode(const uint8_t *buf, size_t len, size_t max_members,
			struct swim_pp *pp);
/* Convert and validate record i. Returns 0 or -EBADMSG. */
int wire_swim_pp_member(const struct swim_pp *pp, size_t i,
			struct swim_update *out);
void wire_swim_pp_fini_decoded(struct swim_pp *pp);

#endif
