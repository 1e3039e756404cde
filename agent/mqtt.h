/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqtt: a pure MQTT 3.1.1 codec over byte buffers (no I/O, no allocation).
 *
 * mqtt_frame() splits a byte stream into packets, mqtt_decode() parses one
 * complete packet into a struct whose strings and payloads point into the
 * input buffer, mqtt_encode() writes one packet into a caller's buffer.
 * Topic helpers (UTF-8 checks, filter validation, wildcard matching) live in
 * mqtt_topic.c. Session logic (packet ids, QoS 1 window, keepalive) is in
 * mqtt_session.h.
 *
 * Errors (negative errno):
 *   -EAGAIN   mqtt_frame: not enough bytes yet for a complete packet
 *   -EMSGSIZE packet larger than the configured maximum (or the protocol's)
 *   -EBADMSG  malformed: bad remaining length, a length that overruns or
 *             underruns the packet, invalid UTF-8, reserved bits set, QoS 3,
 *             empty topic list
 *   -EPROTO   well formed but violates the protocol: packet type 0/15, packet
 *             id 0 where one is required, wildcards in a PUBLISH topic, DUP
 *             with QoS 0, bad CONNECT protocol name/level or flag
 *             combination, invalid topic filter, CONNACK code > 5
 *   -EINVAL   encode: invalid input values
 *   -ENOBUFS  encode: output buffer too small (*out_len says how much)
 */
#ifndef FARNODE_MQTT_H
#define FARNODE_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest remaining length the 4-byte variable integer can carry. */
#define MQTT_MAX_REMAINING_LENGTH 268435455u
/* Fixed header: one type/flags byte and up to four length bytes. */
#define MQTT_FIXED_HEADER_MAX 5u
/* Largest whole packet: fixed header plus the largest remaining length. */
#define MQTT_MAX_PACKET_SIZE (MQTT_MAX_REMAINING_LENGTH + MQTT_FIXED_HEADER_MAX)
/* Strings carry a 16-bit length prefix. */
#define MQTT_MAX_STRING 65535u

enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_PUBREC = 5,
	MQTT_PUBREL = 6,
	MQTT_PUBCOMP = 7,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_UNSUBSCRIBE = 10,
	MQTT_UNSUBACK = 11,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
};

/* CONNACK return codes. */
enum mqtt_connack_code {
	MQTT_CONNACK_ACCEPTED = 0,
	MQTT_CONNACK_BAD_PROTOCOL = 1,
	MQTT_CONNACK_ID_REJECTED = 2,
	MQTT_CONNACK_UNAVAILABLE = 3,
	MQTT_CONNACK_BAD_CREDENTIALS = 4,
	MQTT_CONNACK_NOT_AUTHORIZED = 5,
};

/* SUBACK return code for a refused subscription. */
#define MQTT_SUBACK_FAILURE 0x80u

/* A length-prefixed string or binary field; not NUL-terminated. */
struct mqtt_str {
	const char *s;
	uint16_t len;
};

struct mqtt_connect {
	struct mqtt_str client_id;
	uint16_t keepalive_s;
	bool clean_session;
	bool will;		      /* Will present */
	struct mqtt_str will_topic;   /* when will */
	struct mqtt_str will_payload; /* binary, when will */
	uint8_t will_qos;	      /* 0..2, when will */
	bool will_retain;	      /* when will */
	bool has_username;
	struct mqtt_str username;
	bool has_password;	  /* requires has_username */
	struct mqtt_str password; /* binary */
};

struct mqtt_connack {
	bool session_present;
	uint8_t return_code; /* enum mqtt_connack_code */
};

struct mqtt_publish {
	struct mqtt_str topic;
	const uint8_t *payload;
	size_t payload_len;
	uint8_t qos; /* 0..2 */
	bool retain;
	bool dup;
	uint16_t packet_id; /* non-zero when qos > 0, else 0 */
};

/* One SUBSCRIBE entry (encode input, or read with mqtt_topic_list_next). */
struct mqtt_sub_topic {
	struct mqtt_str filter;
	uint8_t qos; /* requested maximum QoS, 0..2; unused for UNSUBSCRIBE */
};

/*
 * SUBSCRIBE / UNSUBSCRIBE. To encode, fill topics/count. A decoded packet
 * leaves topics NULL and sets list/list_len to the validated entries, read
 * them with mqtt_topic_list_next(); count is set in both cases.
 */
struct mqtt_subscribe {
	uint16_t packet_id;
	uint16_t count;
	const struct mqtt_sub_topic *topics;
	const uint8_t *list;
	size_t list_len;
};

/* SUBACK: one return code (0, 1, 2 or 0x80) per requested filter. */
struct mqtt_suback {
	uint16_t packet_id;
	const uint8_t *codes;
	size_t count;
};

/*
 * One packet. For PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK only
 * packet_id is used; PINGREQ, PINGRESP and DISCONNECT have no fields.
 */
struct mqtt_packet {
	enum mqtt_type type;
	uint16_t packet_id; /* acks and UNSUBACK */
	union {
		struct mqtt_connect connect;
		struct mqtt_connack connack;
		struct mqtt_publish publish;
		struct mqtt_subscribe subscribe; /* and UNSUBSCRIBE */
		struct mqtt_suback suback;
	} u;
};

/* Cursor over a decoded SUBSCRIBE/UNSUBSCRIBE topic list. */
struct mqtt_topic_iter {
	const uint8_t *p;
	size_t left;
	bool with_qos;
};

/*
 * Stream splitter: looks at the first len bytes received. Returns 0 and sets
 * *packet_len (header + body) when a complete packet is at buf[0..]; -EAGAIN
 * when more bytes are needed; -EBADMSG when the remaining length has a fifth
 * byte; -EMSGSIZE when the packet would exceed max_packet_size (0 means the
 * protocol maximum). Errors are reported as soon as the header shows them,
 * before the body arrives, so nothing is buffered or allocated for them.
 */
int mqtt_frame(const uint8_t *buf, size_t len, size_t max_packet_size,
	       size_t *packet_len);

/*
 * Decode exactly one complete packet of len bytes (as measured by
 * mqtt_frame). On success *pkt points into buf (borrowed: valid while buf
 * is). Client- and server-side packets are both decoded. Errors: see above.
 */
int mqtt_decode(const uint8_t *buf, size_t len, struct mqtt_packet *pkt);

/*
 * Encode pkt into buf[0..cap). On success returns 0 and sets *out_len.
 * Returns -ENOBUFS with *out_len = the size needed when cap is too small
 * (buf may be NULL with cap 0 to ask), -EINVAL for values that cannot be
 * encoded (over-long strings, bad QoS, packet id 0 where required, invalid
 * topic or filter), -EMSGSIZE above MQTT_MAX_REMAINING_LENGTH.
 */
int mqtt_encode(const struct mqtt_packet *pkt, uint8_t *buf, size_t cap,
		size_t *out_len);

/* Encode a packet with no fields or only a packet id (acks, pings, ...). */
int mqtt_encode_simple(enum mqtt_type type, uint16_t packet_id, uint8_t *buf,
		       size_t cap, size_t *out_len);

/*
 * Remaining length as a variable byte integer: writes 1..4 bytes to out
 * (room for 4), returns the count, or -EMSGSIZE above the maximum.
 */
int mqtt_varint_encode(uint32_t value, uint8_t out[4]);

/* Next entry of a decoded topic list: 1 with *out filled, 0 at the end. */
void mqtt_topic_iter_init(struct mqtt_topic_iter *it,
			  const struct mqtt_subscribe *sub, bool with_qos);
int mqtt_topic_iter_next(struct mqtt_topic_iter *it,
			 struct mqtt_sub_topic *out);

/* Name of a packet type for logs ("PUBLISH"); "?" when unknown. */
const char *mqtt_type_name(int type);
/* Text for a CONNACK return code ("not authorized"). */
const char *mqtt_connack_reason(uint8_t code);

/*
 * Topic helpers (mqtt_topic.c).
 * mqtt_utf8_valid: well-formed UTF-8 without U+0000 or surrogates, and no
 * overlong forms (MQTT 3.1.1 §1.5.3).
 */
bool mqtt_utf8_valid(const char *s, size_t len);
/* A PUBLISH topic name: 1..65535 bytes, valid UTF-8, no '+' or '#'. */
bool mqtt_topic_name_valid(const char *s, size_t len);
/*
 * A subscription filter: 1..65535 bytes, valid UTF-8, '+' only as a whole
 * level, '#' only as the whole last level.
 */
bool mqtt_topic_filter_valid(const char *s, size_t len);
/*
 * Whether topic name matches filter (both assumed valid). '+' matches one
 * level (possibly empty), '#' the parent level and everything below;
 * topics starting with '$' are not matched by a leading wildcard.
 */
bool mqtt_topic_match(const char *filter, size_t filter_len, const char *topic,
		      size_t topic_len);

#endif
