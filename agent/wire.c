// SPDX-License-Identifier: Apache-2.0
// wire: the gossip envelope (proto/envelope.proto). Encoding goes through
// protobuf-c; decoding is a small hand-written reader so the body can be
// handed out zero-copy and nothing is allocated for it. Both follow the
// same schema; tests and the fuzz target cross-check them.

#include <errno.h>
#include <stdlib.h>
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

static int envelope_encode(const struct wire_envelope *h, const uint8_t *body,
			   size_t body_len, uint8_t *out, size_t cap,
			   size_t *out_len, size_t body_max)
{
	Farnode__V1__Envelope env = FARNODE__V1__ENVELOPE__INIT;
	size_t need;

	if (h->version != WIRE_VERSION || !wire_type_known(h->type) ||
	    (body == NULL && body_len > 0)) {
		return -EINVAL;
	}
	if (body_len > body_max) {
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

int wire_envelope_encode(const struct wire_envelope *h, const uint8_t *body,
			 size_t body_len, uint8_t *out, size_t cap,
			 size_t *out_len)
{
	return envelope_encode(h, body, body_len, out, cap, out_len,
			       WIRE_BODY_MAX);
}

int wire_stream_envelope_encode(const struct wire_envelope *h,
				const uint8_t *body, size_t body_len,
				uint8_t *out, size_t cap, size_t *out_len)
{
	return envelope_encode(h, body, body_len, out, cap, out_len,
			       WIRE_STREAM_BODY_MAX);
}

/* ---- a minimal protobuf reader ------------------------------------- */

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

int wire__next(const uint8_t *p, size_t len, size_t *pos, struct wire__field *f)
{
	uint64_t tag, v;
	size_t start;

	if (*pos >= len) {
		return 0;
	}
	/* a tag is a uint32 varint: at most 5 bytes, as protobuf-c reads it */
	start = *pos;
	if (rd_varint(p, len, pos, &tag) < 0 || *pos - start > 5 ||
	    tag > UINT32_MAX || (tag >> 3) == 0) {
		return -EBADMSG;
	}
	f->num = (uint32_t)(tag >> 3);
	f->wt = (unsigned)(tag & 7);
	f->v = 0;
	f->p = NULL;
	f->len = 0;
	switch (f->wt) {
	case WIRE__WT_VARINT:
		return rd_varint(p, len, pos, &f->v) < 0 ? -EBADMSG : 1;
	case WIRE__WT_I64:
	case WIRE__WT_I32:
		f->len = f->wt == WIRE__WT_I64 ? 8 : 4;
		break;
	case WIRE__WT_LEN:
		/* length prefixes, like tags, are at most 5 bytes */
		start = *pos;
		if (rd_varint(p, len, pos, &v) < 0 || *pos - start > 5) {
			return -EBADMSG;
		}
		if (v > len - *pos) {
			return -EBADMSG;
		}
		f->len = (size_t)v;
		break;
	default:
		return -EBADMSG; /* groups and reserved wire types */
	}
	if (f->len > len - *pos) {
		return -EBADMSG;
	}
	f->p = p + *pos;
	*pos += f->len;
	return 1;
}

size_t wire__varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void wire__put_varint(uint8_t *out, size_t *pos, uint64_t v)
{
	size_t i = *pos;

	while (v >= 0x80) {
		out[i++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[i++] = (uint8_t)v;
	*pos = i;
}

void wire__put_tag(uint8_t *out, size_t *pos, uint32_t num, unsigned wt)
{
	wire__put_varint(out, pos, ((uint64_t)num << 3) | wt);
}

double wire__get_double(const uint8_t *p)
{
	uint64_t u = 0;
	double d;

	for (int i = 7; i >= 0; i--) {
		u = (u << 8) | p[i];
	}
	memcpy(&d, &u, sizeof(d));
	return d;
}

void wire__put_double(uint8_t *out, size_t *pos, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	for (int i = 0; i < 8; i++) {
		out[(*pos)++] = (uint8_t)(u >> (8 * i));
	}
}

int wire__room(size_t need, size_t cap, size_t *out_len)
{
	if (need > cap) {
		*out_len = need;
		return -ENOBUFS;
	}
	return 0;
}

char *wire__str_out(const char *s, size_t cap)
{
	if (s == NULL || strnlen(s, cap) >= cap) {
		return NULL;
	}
	return (char *)s;
}

bool wire__finite(double v)
{
	return v == v && v - v == 0.0; /* not NaN, not infinite */
}

int wire__arena_new(struct wire__arena *a, size_t len, size_t max)
{
	size_t cap = 16384;
	void *buf;

	if (len > (SIZE_MAX - cap) / 32) {
		cap = max;
	} else {
		cap += 32 * len;
	}
	if (cap > max) {
		cap = max;
	}
	buf = malloc(cap);
	if (buf == NULL) {
		return -ENOMEM;
	}
	wire__arena_init(a, buf, cap);
	return 0;
}

void wire__arena_free(struct wire__arena *a)
{
	free(a->buf);
	a->buf = NULL;
	a->cap = a->used = 0;
}

static int envelope_decode(const uint8_t *p, size_t len,
			   struct wire_envelope *h, const uint8_t **body,
			   size_t *body_len, size_t max);

int wire_envelope_decode(const uint8_t *p, size_t len, struct wire_envelope *h,
			 const uint8_t **body, size_t *body_len)
{
	return envelope_decode(p, len, h, body, body_len, WIRE_ENVELOPE_MAX);
}

int wire_stream_envelope_decode(const uint8_t *p, size_t len,
				struct wire_envelope *h, const uint8_t **body,
				size_t *body_len)
{
	return envelope_decode(p, len, h, body, body_len,
			       WIRE_STREAM_ENVELOPE_MAX);
}

static int envelope_decode(const uint8_t *p, size_t len,
			   struct wire_envelope *h, const uint8_t **body,
			   size_t *body_len, size_t max)
{
	struct wire__field f;
	size_t pos = 0;
	uint32_t version = 0, type = 0;
	uint64_t incarnation = 0;
	const uint8_t *sender = NULL, *b = NULL;
	size_t sender_len = 0, b_len = 0;
	int rc;

	if (len > max) {
		return -EMSGSIZE;
	}
	while ((rc = wire__next(p, len, &pos, &f)) > 0) {
		switch (f.num) {
		case 1: /* version */
		case 3: /* incarnation */
		case 4: /* type */
			if (f.wt != WIRE__WT_VARINT) {
				return -EBADMSG;
			}
			if (f.num == 1) {
				version = (uint32_t)f.v;
			} else if (f.num == 3) {
				incarnation = f.v;
			} else {
				type = (uint32_t)f.v;
			}
			break;
		case 2: /* sender */
		case 5: /* body */
			if (f.wt != WIRE__WT_LEN) {
				return -EBADMSG;
			}
			if (f.num == 2) {
				sender = f.p;
				sender_len = f.len;
			} else {
				b = f.p;
				b_len = f.len;
			}
			break;
		default:
			break; /* unknown field: skipped */
		}
	}
	if (rc < 0 || sender_len != NODE_ID_LEN ||
	    node_id_is_zero((const struct node_id *)sender)) {
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
