// SPDX-License-Identifier: Apache-2.0
// wire: the gossip envelope (proto/envelope.proto). Encoding goes through
// protobuf-c; decoding is a small hand-written reader so the body can be
// handed out zero-copy and nothing is allocated for it. Both follow the
// same schema; tests and the fuzz target cross-check them.

#include <errno.h>
#include <string.h>

#include "wire.h"
#include "wire_internal.h"

#include "envelope.pb-c.h"

bool wire_type_known(uint32_t type)
{
	switch (type) {
	case WIRE_PING:
	case WIRE_PING_REQ:
	case WIRE_ACK:
	case WIRE_NACK:
	case WIRE_PUSH_PULL:
	case WIRE_GOSSIP:
	case WIRE_OFFLOAD_OFFER:
	case WIRE_OFFLOAD_REPLY:
	case WIRE_OFFLOAD_RESULT:
	case WIRE_Q_SHARE:
		return true;
	default:
		return false;
	}
}

const char *wire_type_name(uint32_t type)
{
	switch (type) {
	case WIRE_PING:
		return "ping";
	case WIRE_PING_REQ:
		return "ping-req";
	case WIRE_ACK:
		return "ack";
	case WIRE_NACK:
		return "nack";
	case WIRE_PUSH_PULL:
		return "push-pull";
	case WIRE_GOSSIP:
		return "gossip";
	case WIRE_OFFLOAD_OFFER:
		return "offload-offer";
	case WIRE_OFFLOAD_REPLY:
		return "offload-reply";
	case WIRE_OFFLOAD_RESULT:
		return "offload-result";
	case WIRE_Q_SHARE:
		return "q-share";
	default:
		return "unknown";
	}
}

const char *wire_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -EMSGSIZE:
		return "oversized";
	case -EBADMSG:
		return "malformed";
	case -EPROTONOSUPPORT:
		return "wrong version";
	case -ENOMSG:
		return "unknown type";
	case -ENOBUFS:
		return "buffer too small";
	case -EINVAL:
		return "invalid value";
	default:
		return "error";
	}
}

static void *arena_alloc(void *ud, size_t size)
{
	struct wire__arena *a = ud;
	size_t off = (a->used + 7u) & ~(size_t)7u;

	if (off > a->cap || size > a->cap - off) {
		return NULL;
	}
	a->used = off + size;
	return a->buf + off;
}

static void arena_free(void *ud, void *ptr)
{
	(void)ud;
	(void)ptr; /* released all at once with the arena */
}

void wire__arena_init(struct wire__arena *a, void *buf, size_t cap)
{
	a->alloc.alloc = arena_alloc;
	a->alloc.free = arena_free;
	a->alloc.allocator_data = a;
	a->buf = buf;
	a->cap = cap;
	a->used = 0;
}

int wire__str_in(char *dst, size_t dst_cap, const char *src)
{
	size_t n;

	if (dst_cap == 0) {
		return -EBADMSG;
	}
	if (src == NULL) {
		dst[0] = '\0';
		return 0;
	}
	n = strnlen(src, dst_cap);
	if (n >= dst_cap) {
		dst[0] = '\0';
		return -EBADMSG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int wire_envelope_encode(const struct wire_envelope *h, const uint8_t *body,
			 size_t body_len, uint8_t *out, size_t cap,
			 size_t *out_len)
{
	Farnode__V1__Envelope env = FARNODE__V1__ENVELOPE__INIT;
	size_t need;

	if (h->version != WIRE_VERSION || !wire_type_known(h->type) ||
	    (body == NULL && body_len > 0)) {
		return -EINVAL;
	}
	if (body_len > WIRE_BODY_MAX) {
		return -EMSGSIZE;
	}
	env.version = h->version;
	env.sender.data = (uint8_t *)h->sender.b;
	env.sender.len = NODE_ID_LEN;
	env.incarnation = h->incarnation;
	env.type = (Farnode__V1__MessageType)h->type;
	env.body.data = (uint8_t *)body;
	env.body.len = body_len;
	need = farnode__v1__envelope__get_packed_size(&env);
	if (need > cap) {
		return -ENOBUFS;
	}
	*out_len = farnode__v1__envelope__pack(&env, out);
	return 0;
}

/* ---- a minimal protobuf reader for the envelope ---------------------- */

enum {
	WT_VARINT = 0,
	WT_I64 = 1,
	WT_LEN = 2,
	WT_I32 = 5,
};

/* Read a varint of at most 10 bytes. 0 or -EBADMSG. */
static int rd_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t x = 0;
	unsigned shift = 0;
	size_t i = *pos;

	for (;;) {
		uint8_t b;

		if (i >= len || shift >= 64) {
			return -EBADMSG;
		}
		b = p[i++];
		if (shift == 63 && (b & 0x7e) != 0) {
			return -EBADMSG; /* more than 64 bits */
		}
		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			break;
		}
		shift += 7;
	}
	*pos = i;
	*v = x;
	return 0;
}

static int rd_skip(const uint8_t *p, size_t len, size_t *pos, unsigned wt)
{
	uint64_t v;
	int rc;

	switch (wt) {
	case WT_VARINT:
		return rd_varint(p, len, pos, &v);
	case WT_I64:
		if (len - *pos < 8) {
			return -EBADMSG;
		}
		*pos += 8;
		return 0;
	case WT_I32:
		if (len - *pos < 4) {
			return -EBADMSG;
		}
		*pos += 4;
		return 0;
	case WT_LEN:
		rc = rd_varint(p, len, pos, &v);
		if (rc < 0) {
			return rc;
		}
		if (v > len - *pos) {
			return -EBADMSG;
		}
		*pos += (size_t)v;
		return 0;
	default:
		return -EBADMSG; /* groups and reserved wire types */
	}
}

int wire_envelope_decode(const uint8_t *p, size_t len,
			 struct wire_envelope *h, const uint8_t **body,
			 size_t *body_len)
{
	size_t pos = 0;
	uint32_t version = 0, type = 0;
	uint64_t incarnation = 0;
	const uint8_t *sender = NULL, *b = NULL;
	size_t sender_len = 0, b_len = 0;

	if (len > WIRE_ENVELOPE_MAX) {
		return -EMSGSIZE;
	}
	while (pos < len) {
		uint64_t tag, v;
		unsigned wt, field;
		int rc;

		rc = rd_varint(p, len, &pos, &tag);
		if (rc < 0 || tag > UINT32_MAX) {
			return -EBADMSG;
		}
		wt = (unsigned)(tag & 7);
		field = (unsigned)(tag >> 3);
		if (field == 0) {
			return -EBADMSG;
		}
		switch (field) {
		case 1: /* version */
		case 3: /* incarnation */
		case 4: /* type */
			if (wt != WT_VARINT) {
				return -EBADMSG;
			}
			if (rd_varint(p, len, &pos, &v) < 0) {
				return -EBADMSG;
			}
			if (field == 1) {
				version = (uint32_t)v;
			} else if (field == 3) {
				incarnation = v;
			} else {
				type = (uint32_t)v;
			}
			break;
		case 2: /* sender */
		case 5: /* body */
			if (wt != WT_LEN) {
				return -EBADMSG;
			}
			if (rd_varint(p, len, &pos, &v) < 0 ||
			    v > len - pos) {
				return -EBADMSG;
			}
			if (field == 2) {
				sender = p + pos;
				sender_len = (size_t)v;
			} else {
				b = p + pos;
				b_len = (size_t)v;
			}
			pos += (size_t)v;
			break;
		default:
			if (rd_skip(p, len, &pos, wt) < 0) {
				return -EBADMSG;
			}
			break;
		}
	}
	if (sender_len != NODE_ID_LEN) {
		return -EBADMSG;
	}
	if (version != WIRE_VERSION) {
		return -EPROTONOSUPPORT;
	}
	if (!wire_type_known(type)) {
		return -ENOMSG;
	}
	h->version = version;
	memcpy(h->sender.b, sender, NODE_ID_LEN);
	h->incarnation = incarnation;
	h->type = (enum wire_type)type;
	*body = b_len > 0 ? b : NULL;
	*body_len = b_len;
	return 0;
}
