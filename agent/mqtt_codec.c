// SPDX-License-Identifier: Apache-2.0
/*
 * mqtt_codec: MQTT 3.1.1 framing, decoding and encoding over byte buffers.
 *
 * Decoding reads through a bounded cursor that fails on any overrun, so every
 * length from the wire is checked before it is used; decoded strings point
 * into the input. Encoding writes each body twice through the same function,
 * once counting and once writing, so sizes and bytes cannot disagree.
 */
#include <errno.h>
#include <string.h>

#include "mqtt.h"

/* ---- reading ---------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t left;
};

static int rd_u8(struct rd *r, uint8_t *v)
{
	if (r->left < 1) {
		return -EBADMSG;
	}
	*v = r->p[0];
	r->p++;
	r->left--;
	return 0;
}

static int rd_u16(struct rd *r, uint16_t *v)
{
	if (r->left < 2) {
		return -EBADMSG;
	}
	*v = (uint16_t)((r->p[0] << 8) | r->p[1]);
	r->p += 2;
	r->left -= 2;
	return 0;
}

/* Length-prefixed field; binary (no UTF-8 check). */
static int rd_bin(struct rd *r, struct mqtt_str *s)
{
	uint16_t n;
	int rc = rd_u16(r, &n);

	if (rc < 0) {
		return rc;
	}
	if (r->left < n) {
		return -EBADMSG;
	}
	s->s = (const char *)r->p;
	s->len = n;
	r->p += n;
	r->left -= n;
	return 0;
}

/* Length-prefixed UTF-8 string. */
static int rd_str(struct rd *r, struct mqtt_str *s)
{
	int rc = rd_bin(r, s);

	if (rc < 0) {
		return rc;
	}
	if (!mqtt_utf8_valid(s->s, s->len)) {
		return -EBADMSG;
	}
	return 0;
}

static int rd_packet_id(struct rd *r, uint16_t *id)
{
	int rc = rd_u16(r, id);

	if (rc < 0) {
		return rc;
	}
	return *id == 0 ? -EPROTO : 0;
}

/* ---- framing ---------------------------------------------------------- */

/*
 * Parse the fixed header's remaining length at buf[1..]. Sets *hdr_len and
 * *rem_len. -EAGAIN when buf ends inside the length, -EBADMSG when the
 * fourth byte still has its continuation bit.
 */
static int parse_fixed_header(const uint8_t *buf, size_t len,
			      size_t max_packet_size, size_t *hdr_len,
			      uint32_t *rem_len)
{
	uint32_t value = 0;
	size_t i;

	if (max_packet_size == 0 || max_packet_size > MQTT_MAX_PACKET_SIZE) {
		max_packet_size = MQTT_MAX_PACKET_SIZE;
	}
	for (i = 0; i < 4; i++) {
		uint8_t b;

		if (1 + i >= len) {
			return -EAGAIN;
		}
		b = buf[1 + i];
		value |= (uint32_t)(b & 0x7f) << (7 * i);
		/* value is a lower bound of the final length already */
		if ((size_t)value + 2 + i > max_packet_size) {
			return -EMSGSIZE;
		}
		if (!(b & 0x80)) {
			*hdr_len = 2 + i;
			*rem_len = value;
			return 0;
		}
	}
	return -EBADMSG;
}

int mqtt_frame(const uint8_t *buf, size_t len, size_t max_packet_size,
	       size_t *packet_len)
{
	size_t hdr_len = 0;
	uint32_t rem_len = 0;
	int rc;

	if (max_packet_size == 0 || max_packet_size > MQTT_MAX_PACKET_SIZE) {
		max_packet_size = MQTT_MAX_PACKET_SIZE;
	}
	rc = parse_fixed_header(buf, len, max_packet_size, &hdr_len, &rem_len);
	if (rc < 0) {
		return rc;
	}
	if (hdr_len + (size_t)rem_len > max_packet_size) {
		return -EMSGSIZE;
	}
	if (len - hdr_len < rem_len) {
		return -EAGAIN;
	}
	*packet_len = hdr_len + rem_len;
	return 0;
}

int mqtt_varint_encode(uint32_t value, uint8_t out[4])
{
	int n = 0;

	if (value > MQTT_MAX_REMAINING_LENGTH) {
		return -EMSGSIZE;
	}
	do {
		uint8_t b = value & 0x7f;

		value >>= 7;
		if (value) {
			b |= 0x80;
		}
		out[n++] = b;
	} while (value);
	return n;
}

/* ---- decoding --------------------------------------------------------- */

static int decode_connect(struct rd *r, struct mqtt_connect *c)
{
	struct mqtt_str proto;
	uint8_t level, flags;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = rd_str(r, &proto)) < 0 || (rc = rd_u8(r, &level)) < 0 ||
	    (rc = rd_u8(r, &flags)) < 0 ||
	    (rc = rd_u16(r, &c->keepalive_s)) < 0) {
		return rc;
	}
	if (proto.len != 4 || memcmp(proto.s, "MQTT", 4) != 0 || level != 4) {
		return -EPROTO;
	}
	if (flags & 0x01) {
		return -EBADMSG; /* reserved bit [MQTT-3.1.2-3] */
	}
	c->clean_session = flags & 0x02;
	c->will = flags & 0x04;
	c->will_qos = (flags >> 3) & 0x03;
	c->will_retain = flags & 0x20;
	c->has_password = flags & 0x40;
	c->has_username = flags & 0x80;
	if (c->will_qos == 3) {
		return -EBADMSG;
	}
	if (!c->will && (c->will_qos != 0 || c->will_retain)) {
		return -EPROTO;
	}
	if (c->has_password && !c->has_username) {
		return -EPROTO;
	}
	if ((rc = rd_str(r, &c->client_id)) < 0) {
		return rc;
	}
	if (c->will) {
		if ((rc = rd_str(r, &c->will_topic)) < 0 ||
		    (rc = rd_bin(r, &c->will_payload)) < 0) {
			return rc;
		}
		if (!mqtt_topic_name_valid(c->will_topic.s,
					   c->will_topic.len)) {
			return -EPROTO;
		}
	}
	if (c->has_username && (rc = rd_str(r, &c->username)) < 0) {
		return rc;
	}
	if (c->has_password && (rc = rd_bin(r, &c->password)) < 0) {
		return rc;
	}
	return r->left == 0 ? 0 : -EBADMSG;
}

static int decode_connack(struct rd *r, struct mqtt_connack *c)
{
	uint8_t flags, code;

	if (r->left != 2) {
		return -EBADMSG;
	}
	rd_u8(r, &flags);
	rd_u8(r, &code);
	if (flags & 0xfe) {
		return -EBADMSG;
	}
	if (code > MQTT_CONNACK_NOT_AUTHORIZED || (code != 0 && flags)) {
		return -EPROTO;
	}
	c->session_present = flags & 0x01;
	c->return_code = code;
	return 0;
}

static int decode_publish(struct rd *r, uint8_t flags, struct mqtt_publish *p)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->dup = flags & 0x08;
	p->qos = (flags >> 1) & 0x03;
	p->retain = flags & 0x01;
	if (p->qos == 3) {
		return -EBADMSG;
	}
	if (p->dup && p->qos == 0) {
		return -EPROTO; /* [MQTT-3.3.1-2] */
	}
	if ((rc = rd_str(r, &p->topic)) < 0) {
		return rc;
	}
	if (!mqtt_topic_name_valid(p->topic.s, p->topic.len)) {
		return -EPROTO;
	}
	if (p->qos > 0 && (rc = rd_packet_id(r, &p->packet_id)) < 0) {
		return rc;
	}
	p->payload = r->left ? r->p : NULL;
	p->payload_len = r->left;
	return 0;
}

/* Validate a topic list; counts entries. */
static int check_topic_list(struct rd *r, bool with_qos, uint16_t *count)
{
	size_t n = 0;
	int rc;

	while (r->left > 0) {
		struct mqtt_str f;
		uint8_t qos;

		if ((rc = rd_str(r, &f)) < 0) {
			return rc;
		}
		if (with_qos) {
			if ((rc = rd_u8(r, &qos)) < 0) {
				return rc;
			}
			if (qos > 2) {
				return -EBADMSG; /* [MQTT-3.8.3-4] */
			}
		}
		if (!mqtt_topic_filter_valid(f.s, f.len)) {
			return -EPROTO;
		}
		if (++n > UINT16_MAX) {
			return -EMSGSIZE;
		}
	}
	if (n == 0) {
		return -EBADMSG; /* [MQTT-3.8.3-3], [MQTT-3.10.3-2] */
	}
	*count = (uint16_t)n;
	return 0;
}

static int decode_subscribe(struct rd *r, bool with_qos,
			    struct mqtt_subscribe *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = rd_packet_id(r, &s->packet_id)) < 0) {
		return rc;
	}
	s->list = r->p;
	s->list_len = r->left;
	return check_topic_list(r, with_qos, &s->count);
}

static int decode_suback(struct rd *r, struct mqtt_suback *s)
{
	size_t i;
	int rc;

	if ((rc = rd_packet_id(r, &s->packet_id)) < 0) {
		return rc;
	}
	if (r->left == 0) {
		return -EBADMSG;
	}
	for (i = 0; i < r->left; i++) {
		uint8_t c = r->p[i];

		if (c > 2 && c != MQTT_SUBACK_FAILURE) {
			return -EPROTO;
		}
	}
	s->codes = r->p;
	s->count = r->left;
	return 0;
}

static uint8_t required_flags(int type)
{
	switch (type) {
	case MQTT_PUBREL:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		return 0x02;
	default:
		return 0x00;
	}
}

int mqtt_decode(const uint8_t *buf, size_t len, struct mqtt_packet *pkt)
{
	size_t hdr_len = 0;
	uint32_t rem_len = 0;
	struct rd r;
	uint8_t type, flags;
	int rc;

	memset(pkt, 0, sizeof(*pkt));
	if (len < 2) {
		return -EBADMSG;
	}
	rc = parse_fixed_header(buf, len, 0, &hdr_len, &rem_len);
	if (rc == -EAGAIN) {
		return -EBADMSG;
	}
	if (rc < 0) {
		return rc;
	}
	if (len - hdr_len != rem_len) {
		return -EBADMSG;
	}
	type = buf[0] >> 4;
	flags = buf[0] & 0x0f;
	if (type < MQTT_CONNECT || type > MQTT_DISCONNECT) {
		return -EPROTO;
	}
	if (type != MQTT_PUBLISH && flags != required_flags(type)) {
		return -EBADMSG; /* [MQTT-2.2.2-1] */
	}
	pkt->type = (enum mqtt_type)type;
	r.p = buf + hdr_len;
	r.left = rem_len;
	switch (type) {
	case MQTT_CONNECT:
		return decode_connect(&r, &pkt->u.connect);
	case MQTT_CONNACK:
		return decode_connack(&r, &pkt->u.connack);
	case MQTT_PUBLISH:
		return decode_publish(&r, flags, &pkt->u.publish);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		if (rem_len != 2) {
			return -EBADMSG;
		}
		return rd_packet_id(&r, &pkt->packet_id);
	case MQTT_SUBSCRIBE:
		return decode_subscribe(&r, true, &pkt->u.subscribe);
	case MQTT_UNSUBSCRIBE:
		return decode_subscribe(&r, false, &pkt->u.subscribe);
	case MQTT_SUBACK:
		return decode_suback(&r, &pkt->u.suback);
	default: /* PINGREQ, PINGRESP, DISCONNECT */
		return rem_len == 0 ? 0 : -EBADMSG;
	}
}

void mqtt_topic_iter_init(struct mqtt_topic_iter *it,
			  const struct mqtt_subscribe *sub, bool with_qos)
{
	it->p = sub->list;
	it->left = sub->list ? sub->list_len : 0;
	it->with_qos = with_qos;
}

int mqtt_topic_iter_next(struct mqtt_topic_iter *it, struct mqtt_sub_topic *out)
{
	struct rd r = {it->p, it->left};

	memset(out, 0, sizeof(*out));
	if (it->left == 0 || rd_bin(&r, &out->filter) < 0) {
		return 0;
	}
	if (it->with_qos && rd_u8(&r, &out->qos) < 0) {
		return 0;
	}
	it->p = r.p;
	it->left = r.left;
	return 1;
}

/* ---- encoding --------------------------------------------------------- */

/* Writer: with p == NULL it only counts. */
struct wr {
	uint8_t *p;
	size_t n;
};

static void wr_u8(struct wr *w, uint8_t v)
{
	if (w->p) {
		w->p[w->n] = v;
	}
	w->n++;
}

static void wr_u16(struct wr *w, uint16_t v)
{
	wr_u8(w, (uint8_t)(v >> 8));
	wr_u8(w, (uint8_t)v);
}

static void wr_raw(struct wr *w, const void *p, size_t len)
{
	if (w->p && len) {
		memcpy(w->p + w->n, p, len);
	}
	w->n += len;
}

static void wr_str(struct wr *w, const struct mqtt_str *s)
{
	wr_u16(w, s->len);
	wr_raw(w, s->s, s->len);
}

static bool str_ok(const struct mqtt_str *s)
{
	return (s->len == 0 || s->s) && mqtt_utf8_valid(s->s, s->len);
}

static bool bin_ok(const struct mqtt_str *s)
{
	return s->len == 0 || s->s;
}

static int check_connect(const struct mqtt_connect *c)
{
	if (!str_ok(&c->client_id)) {
		return -EINVAL;
	}
	if (c->will) {
		if (c->will_qos > 2 || !bin_ok(&c->will_payload) ||
		    !mqtt_topic_name_valid(c->will_topic.s,
					   c->will_topic.len)) {
			return -EINVAL;
		}
	} else if (c->will_qos || c->will_retain) {
		return -EINVAL;
	}
	if (c->has_password && !c->has_username) {
		return -EINVAL;
	}
	if ((c->has_username && !str_ok(&c->username)) ||
	    (c->has_password && !bin_ok(&c->password))) {
		return -EINVAL;
	}
	return 0;
}

static void body_connect(struct wr *w, const struct mqtt_connect *c)
{
	static const struct mqtt_str proto = {"MQTT", 4};
	uint8_t flags = 0;

	if (c->clean_session) {
		flags |= 0x02;
	}
	if (c->will) {
		flags |= 0x04 | (uint8_t)(c->will_qos << 3);
		if (c->will_retain) {
			flags |= 0x20;
		}
	}
	if (c->has_password) {
		flags |= 0x40;
	}
	if (c->has_username) {
		flags |= 0x80;
	}
	wr_str(w, &proto);
	wr_u8(w, 4);
	wr_u8(w, flags);
	wr_u16(w, c->keepalive_s);
	wr_str(w, &c->client_id);
	if (c->will) {
		wr_str(w, &c->will_topic);
		wr_str(w, &c->will_payload);
	}
	if (c->has_username) {
		wr_str(w, &c->username);
	}
	if (c->has_password) {
		wr_str(w, &c->password);
	}
}

static int check_publish(const struct mqtt_publish *p)
{
	if (p->qos > 2 || (p->qos == 0 && (p->dup || p->packet_id)) ||
	    (p->qos > 0 && p->packet_id == 0)) {
		return -EINVAL;
	}
	if (!mqtt_topic_name_valid(p->topic.s, p->topic.len)) {
		return -EINVAL;
	}
	if (p->payload_len && !p->payload) {
		return -EINVAL;
	}
	if (p->payload_len > MQTT_MAX_REMAINING_LENGTH) {
		return -EMSGSIZE;
	}
	return 0;
}

static void body_publish(struct wr *w, const struct mqtt_publish *p)
{
	wr_str(w, &p->topic);
	if (p->qos > 0) {
		wr_u16(w, p->packet_id);
	}
	wr_raw(w, p->payload, p->payload_len);
}

static int check_subscribe(const struct mqtt_subscribe *s, bool with_qos)
{
	uint16_t i;

	if (s->packet_id == 0 || s->count == 0 || !s->topics) {
		return -EINVAL;
	}
	for (i = 0; i < s->count; i++) {
		const struct mqtt_sub_topic *t = &s->topics[i];

		if ((with_qos && t->qos > 2) ||
		    !mqtt_topic_filter_valid(t->filter.s, t->filter.len)) {
			return -EINVAL;
		}
	}
	return 0;
}

static void body_subscribe(struct wr *w, const struct mqtt_subscribe *s,
			   bool with_qos)
{
	uint16_t i;

	wr_u16(w, s->packet_id);
	for (i = 0; i < s->count; i++) {
		wr_str(w, &s->topics[i].filter);
		if (with_qos) {
			wr_u8(w, s->topics[i].qos);
		}
	}
}

static int check_suback(const struct mqtt_suback *s)
{
	size_t i;

	if (s->packet_id == 0 || s->count == 0 || !s->codes) {
		return -EINVAL;
	}
	if (s->count > MQTT_MAX_REMAINING_LENGTH - 2) {
		return -EMSGSIZE;
	}
	for (i = 0; i < s->count; i++) {
		if (s->codes[i] > 2 && s->codes[i] != MQTT_SUBACK_FAILURE) {
			return -EINVAL;
		}
	}
	return 0;
}

static int check_packet(const struct mqtt_packet *pkt)
{
	switch (pkt->type) {
	case MQTT_CONNECT:
		return check_connect(&pkt->u.connect);
	case MQTT_CONNACK:
		return pkt->u.connack.return_code >
				   MQTT_CONNACK_NOT_AUTHORIZED ||
			       (pkt->u.connack.return_code &&
				pkt->u.connack.session_present)
			   ? -EINVAL
			   : 0;
	case MQTT_PUBLISH:
		return check_publish(&pkt->u.publish);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		return pkt->packet_id ? 0 : -EINVAL;
	case MQTT_SUBSCRIBE:
		return check_subscribe(&pkt->u.subscribe, true);
	case MQTT_UNSUBSCRIBE:
		return check_subscribe(&pkt->u.subscribe, false);
	case MQTT_SUBACK:
		return check_suback(&pkt->u.suback);
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		return 0;
	default:
		return -EINVAL;
	}
}

static void write_body(struct wr *w, const struct mqtt_packet *pkt)
{
	switch (pkt->type) {
	case MQTT_CONNECT:
		body_connect(w, &pkt->u.connect);
		break;
	case MQTT_CONNACK:
		wr_u8(w, pkt->u.connack.session_present ? 1 : 0);
		wr_u8(w, pkt->u.connack.return_code);
		break;
	case MQTT_PUBLISH:
		body_publish(w, &pkt->u.publish);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		wr_u16(w, pkt->packet_id);
		break;
	case MQTT_SUBSCRIBE:
		body_subscribe(w, &pkt->u.subscribe, true);
		break;
	case MQTT_UNSUBSCRIBE:
		body_subscribe(w, &pkt->u.subscribe, false);
		break;
	case MQTT_SUBACK:
		wr_u16(w, pkt->u.suback.packet_id);
		wr_raw(w, pkt->u.suback.codes, pkt->u.suback.count);
		break;
	default:
		break;
	}
}

static uint8_t first_byte(const struct mqtt_packet *pkt)
{
	uint8_t b = (uint8_t)(pkt->type << 4);

	if (pkt->type == MQTT_PUBLISH) {
		const struct mqtt_publish *p = &pkt->u.publish;

		b |= (uint8_t)(p->qos << 1);
		if (p->dup) {
			b |= 0x08;
		}
		if (p->retain) {
			b |= 0x01;
		}
	} else {
		b |= required_flags(pkt->type);
	}
	return b;
}

int mqtt_encode(const struct mqtt_packet *pkt, uint8_t *buf, size_t cap,
		size_t *out_len)
{
	struct wr w = {NULL, 0};
	uint8_t varint[4];
	size_t body_len, total;
	int rc, n;

	*out_len = 0;
	if ((rc = check_packet(pkt)) < 0) {
		return rc;
	}
	write_body(&w, pkt);
	body_len = w.n;
	if (body_len > MQTT_MAX_REMAINING_LENGTH) {
		return -EMSGSIZE;
	}
	n = mqtt_varint_encode((uint32_t)body_len, varint);
	total = 1 + (size_t)n + body_len;
	if (!buf || cap < total) {
		*out_len = total;
		return -ENOBUFS;
	}
	buf[0] = first_byte(pkt);
	memcpy(buf + 1, varint, (size_t)n);
	w.p = buf + 1 + n;
	w.n = 0;
	write_body(&w, pkt);
	*out_len = total;
	return 0;
}

int mqtt_encode_simple(enum mqtt_type type, uint16_t packet_id, uint8_t *buf,
		       size_t cap, size_t *out_len)
{
	struct mqtt_packet pkt;

	memset(&pkt, 0, sizeof(pkt));
	switch (type) {
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		break;
	default:
		*out_len = 0;
		return -EINVAL;
	}
	pkt.type = type;
	pkt.packet_id = packet_id;
	return mqtt_encode(&pkt, buf, cap, out_len);
}

/* ---- names ------------------------------------------------------------ */

const char *mqtt_type_name(int type)
{
	static const char *const names[] = {
	    "?",	   "CONNECT",  "CONNACK", "PUBLISH",   "PUBACK",
	    "PUBREC",	   "PUBREL",   "PUBCOMP", "SUBSCRIBE", "SUBACK",
	    "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP",  "DISCONNECT",
	};

	if (type < MQTT_CONNECT || type > MQTT_DISCONNECT) {
		return "?";
	}
	return names[type];
}

const char *mqtt_connack_reason(uint8_t code)
{
	switch (code) {
	case MQTT_CONNACK_ACCEPTED:
		return "accepted";
	case MQTT_CONNACK_BAD_PROTOCOL:
		return "unacceptable protocol version";
	case MQTT_CONNACK_ID_REJECTED:
		return "client identifier rejected";
	case MQTT_CONNACK_UNAVAILABLE:
		return "server unavailable";
	case MQTT_CONNACK_BAD_CREDENTIALS:
		return "bad user name or password";
	case MQTT_CONNACK_NOT_AUTHORIZED:
		return "not authorized";
	default:
		return "unknown return code";
	}
}
