// SPDX-License-Identifier: Apache-2.0
// wire_swim: SWIM bodies (proto/swim.proto) to and from the core's structs.
// Updates are encoded once when queued and appended to bodies as raw
// length-delimited field 15, so packing under a byte budget is exact and
// cheap. Every decoder counts repeated fields before protobuf-c unpacks,
// and validates every id, address, string and number it converts.

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "swim.pb-c.h"
#include "wire.h"
#include "wire_swim.h"

#define UPDATES_FIELD	 15
#define PP_MEMBERS_FIELD 2

/* ---- raw protobuf helpers ---- */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static int get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;
	unsigned shift = 0;
	while (*pos < len && shift < 64) {
		uint8_t b = p[(*pos)++];
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
		shift += 7;
	}
	return -EBADMSG;
}

/* Skip one field's payload of wire type wt. */
static int skip_field(const uint8_t *p, size_t len, size_t *pos, unsigned wt,
		      uint64_t *ld_len)
{
	uint64_t v;
	int rc;
	switch (wt) {
	case 0:
		return get_varint(p, len, pos, &v);
	case 1:
		if (len - *pos < 8) {
			return -EBADMSG;
		}
		*pos += 8;
		return 0;
	case 2:
		rc = get_varint(p, len, pos, &v);
		if (rc < 0 || v > len - *pos) {
			return -EBADMSG;
		}
		*ld_len = v;
		*pos += (size_t)v;
		return 0;
	case 5:
		if (len - *pos < 4) {
			return -EBADMSG;
		}
		*pos += 4;
		return 0;
	default:
		return -EBADMSG;
	}
}

/*
 * Count occurrences of length-delimited top-level `field` without
 * allocating; fails fast once the count passes max.
 */
static int count_field(const uint8_t *p, size_t len, uint32_t field, size_t max,
		       size_t *count)
{
	size_t pos = 0, n = 0;
	while (pos < len) {
		uint64_t tag, ld = 0;
		if (get_varint(p, len, &pos, &tag) < 0) {
			return -EBADMSG;
		}
		if ((tag >> 3) == 0) {
			return -EBADMSG;
		}
		if (skip_field(p, len, &pos, (unsigned)(tag & 7), &ld) < 0) {
			return -EBADMSG;
		}
		if ((tag >> 3) == field && (tag & 7) == 2) {
			if (++n > max) {
				return -E2BIG;
			}
		}
	}
	*count = n;
	return 0;
}

/* ---- struct <-> protobuf conversions ---- */

static bool str_ok(const char *s, size_t max)
{
	return s != NULL && strnlen(s, max) < max;
}

static void addr_to_pb(const struct swim_addr *a, Farnode__V1__SwimAddr *pb)
{
	farnode__v1__swim_addr__init(pb);
	pb->ip.data = (uint8_t *)a->ip;
	pb->ip.len = a->family == 6 ? 16 : 4;
	pb->port = a->port;
}

static int addr_from_pb(const Farnode__V1__SwimAddr *pb, struct swim_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (pb == NULL || pb->port == 0 || pb->port > 65535) {
		return -EBADMSG;
	}
	if (pb->ip.len == 4) {
		a->family = 4;
	} else if (pb->ip.len == 16) {
		a->family = 6;
	} else {
		return -EBADMSG;
	}
	memcpy(a->ip, pb->ip.data, pb->ip.len);
	a->port = (uint16_t)pb->port;
	return 0;
}

static int id_from_bytes(const ProtobufCBinaryData *b, struct node_id *id)
{
	if (b->len != NODE_ID_LEN) {
		return -EBADMSG;
	}
	memcpy(id->b, b->data, NODE_ID_LEN);
	if (node_id_is_zero(id)) {
		return -EBADMSG;
	}
	return 0;
}

static void state_to_pb(const struct node_state *st,
			Farnode__V1__SwimNodeState *pb,
			Farnode__V1__SwimLabel *labels,
			Farnode__V1__SwimLabel **lptrs)
{
	farnode__v1__swim_node_state__init(pb);
	pb->version = st->version;
	pb->cpu_free = st->cpu_free;
	pb->cpu_cores = st->cpu_cores;
	pb->cpu_milli_free = st->cpu_milli_free;
	pb->mem_free_bytes = st->mem_free_bytes;
	pb->mem_total_bytes = st->mem_total_bytes;
	pb->energy_watts = st->energy_watts;
	pb->failure_rate = st->failure_rate;
	pb->temperature_c = st->temperature_c;
	pb->workloads_running = st->workloads_running;
	pb->uplink_connected = st->uplink_connected;
	pb->policy_version = st->policy_version;
	pb->generation = st->generation;
	uint32_t n = st->n_labels;
	if (n > NODE_LABELS_MAX) {
		n = NODE_LABELS_MAX;
	}
	for (uint32_t i = 0; i < n; i++) {
		farnode__v1__swim_label__init(&labels[i]);
		labels[i].key = (char *)st->labels[i].key;
		labels[i].value = (char *)st->labels[i].value;
		lptrs[i] = &labels[i];
	}
	pb->n_labels = n;
	pb->labels = n ? lptrs : NULL;
}

static bool num_ok(double d)
{
	return isfinite(d);
}

static int state_from_pb(const Farnode__V1__SwimNodeState *pb,
			 struct node_state *st)
{
	memset(st, 0, sizeof(*st));
	if (pb->n_labels > NODE_LABELS_MAX) {
		return -EBADMSG;
	}
	if (!num_ok(pb->cpu_free) || !num_ok(pb->energy_watts) ||
	    !num_ok(pb->failure_rate) || !num_ok(pb->temperature_c)) {
		return -EBADMSG;
	}
	st->version = pb->version;
	st->cpu_free = pb->cpu_free;
	st->cpu_cores = pb->cpu_cores;
	st->cpu_milli_free = pb->cpu_milli_free;
	st->mem_free_bytes = pb->mem_free_bytes;
	st->mem_total_bytes = pb->mem_total_bytes;
	st->energy_watts = pb->energy_watts;
	st->failure_rate = pb->failure_rate;
	st->temperature_c = pb->temperature_c;
	st->workloads_running = pb->workloads_running;
	st->uplink_connected = pb->uplink_connected;
	st->policy_version = pb->policy_version;
	st->generation = pb->generation;
	for (size_t i = 0; i < pb->n_labels; i++) {
		const Farnode__V1__SwimLabel *l = pb->labels[i];
		if (!str_ok(l->key, NODE_LABEL_KEY_MAX) || l->key[0] == '\0' ||
		    !str_ok(l->value, NODE_LABEL_VALUE_MAX)) {
			return -EBADMSG;
		}
		strcpy(st->labels[i].key, l->key);
		strcpy(st->labels[i].value, l->value);
	}
	st->n_labels = (uint32_t)pb->n_labels;
	return 0;
}

static int update_from_pb(const Farnode__V1__SwimUpdate *pb,
			  struct swim_update *u)
{
	memset(u, 0, sizeof(*u));
	if ((int)pb->kind < SWIM_UPD_ALIVE || (int)pb->kind > SWIM_UPD_STATE) {
		return -EBADMSG;
	}
	u->kind = (enum swim_update_kind)pb->kind;
	if (id_from_bytes(&pb->node_id, &u->id) < 0) {
		return -EBADMSG;
	}
	u->incarnation = pb->incarnation;
	if (pb->addr != NULL) {
		if (addr_from_pb(pb->addr, &u->addr) < 0) {
			return -EBADMSG;
		}
		u->has_addr = true;
	}
	if (u->kind == SWIM_UPD_ALIVE && !u->has_addr) {
		return -EBADMSG;
	}
	if (pb->name != NULL && pb->name[0] != '\0') {
		if (!str_ok(pb->name, NODE_NAME_MAX)) {
			return -EBADMSG;
		}
		strcpy(u->name, pb->name);
	}
	if (pb->from_id.len != 0) {
		if (id_from_bytes(&pb->from_id, &u->from) < 0) {
			return -EBADMSG;
		}
		u->has_from = true;
	}
	if (pb->state != NULL) {
		if (state_from_pb(pb->state, &u->state) < 0) {
			return -EBADMSG;
		}
		u->has_state = true;
	}
	if (u->kind == SWIM_UPD_STATE && !u->has_state) {
		return -EBADMSG;
	}
	return 0;
}

int wire_swim_update_encode(const struct swim_update *u, uint8_t *out,
			    size_t cap, size_t *len)
{
	Farnode__V1__SwimUpdate pb;
	Farnode__V1__SwimAddr addr;
	Farnode__V1__SwimNodeState st;
	Farnode__V1__SwimLabel labels[NODE_LABELS_MAX];
	Farnode__V1__SwimLabel *lptrs[NODE_LABELS_MAX];

	if (u->kind < SWIM_UPD_ALIVE || u->kind > SWIM_UPD_STATE ||
	    (u->kind == SWIM_UPD_ALIVE && !u->has_addr) ||
	    (u->kind == SWIM_UPD_STATE && !u->has_state) ||
	    !str_ok(u->name, NODE_NAME_MAX)) {
		return -EINVAL;
	}
	farnode__v1__swim_update__init(&pb);
	pb.kind = (Farnode__V1__SwimUpdate__Kind)u->kind;
	pb.node_id.data = (uint8_t *)u->id.b;
	pb.node_id.len = NODE_ID_LEN;
	pb.incarnation = u->incarnation;
	if (u->has_addr) {
		addr_to_pb(&u->addr, &addr);
		pb.addr = &addr;
	}
	if (u->name[0] != '\0') {
		pb.name = (char *)u->name;
	}
	if (u->has_from) {
		pb.from_id.data = (uint8_t *)u->from.b;
		pb.from_id.len = NODE_ID_LEN;
	}
	if (u->has_state) {
		state_to_pb(&u->state, &st, labels, lptrs);
		pb.state = &st;
	}
	size_t need = farnode__v1__swim_update__get_packed_size(&pb);
	if (need > cap) {
		return -EMSGSIZE;
	}
	*len = farnode__v1__swim_update__pack(&pb, out);
	return 0;
}

size_t wire_swim_item_cost(size_t enc_len)
{
	return 1 + varint_len(enc_len) + enc_len;
}

/* ---- bodies ---- */

/*
 * Datagram bodies are unpacked into a small arena: protobuf-c allocates
 * once per field, and a datagram carries dozens of updates. Memory is
 * bounded by the input (at most SWIM_PLAINTEXT_MAX bytes).
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t cap, used;
	max_align_t data[];
};

#define ARENA_CHUNK 16384

static void *arena_alloc(void *ud, size_t n)
{
	struct arena_chunk **head = ud;
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct arena_chunk *c = *head;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL) {
			return NULL;
		}
		c->cap = cap;
		c->used = 0;
		c->next = *head;
		*head = c;
	}
	void *p = (uint8_t *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_free(void *ud, void *p)
{
	(void)ud;
	(void)p; /* released all at once by arena_release() */
}

static void arena_release(struct arena_chunk **head)
{
	while (*head != NULL) {
		struct arena_chunk *n = (*head)->next;
		free(*head);
		*head = n;
	}
}

static const ProtobufCMessageDescriptor *body_desc(uint32_t type)
{
	switch (type) {
	case SWIM_MSG_PING:
		return &farnode__v1__swim_ping__descriptor;
	case SWIM_MSG_PING_REQ:
		return &farnode__v1__swim_ping_req__descriptor;
	case SWIM_MSG_ACK:
		return &farnode__v1__swim_ack__descriptor;
	case SWIM_MSG_NACK:
		return &farnode__v1__swim_nack__descriptor;
	case SWIM_MSG_GOSSIP:
		return &farnode__v1__swim_gossip__descriptor;
	default:
		return NULL;
	}
}

/* Pack the head fields of h (no updates) into out. */
static int pack_head(const struct swim_msg_head *h, uint8_t *out, size_t cap,
		     size_t *len)
{
	union {
		Farnode__V1__SwimPing ping;
		Farnode__V1__SwimPingReq req;
		Farnode__V1__SwimAck ack;
		Farnode__V1__SwimNack nack;
		Farnode__V1__SwimGossip gossip;
	} u;
	Farnode__V1__SwimAddr addr;
	ProtobufCMessage *m;

	switch (h->type) {
	case SWIM_MSG_PING:
		farnode__v1__swim_ping__init(&u.ping);
		u.ping.seq = h->seq;
		if (h->has_target) {
			u.ping.target_id.data = (uint8_t *)h->target_id.b;
			u.ping.target_id.len = NODE_ID_LEN;
		}
		m = &u.ping.base;
		break;
	case SWIM_MSG_PING_REQ:
		if (!h->has_target || !h->has_target_addr) {
			return -EINVAL;
		}
		farnode__v1__swim_ping_req__init(&u.req);
		u.req.seq = h->seq;
		u.req.target_id.data = (uint8_t *)h->target_id.b;
		u.req.target_id.len = NODE_ID_LEN;
		addr_to_pb(&h->target_addr, &addr);
		u.req.target_addr = &addr;
		u.req.want_nack = h->want_nack;
		m = &u.req.base;
		break;
	case SWIM_MSG_ACK:
		farnode__v1__swim_ack__init(&u.ack);
		u.ack.seq = h->seq;
		m = &u.ack.base;
		break;
	case SWIM_MSG_NACK:
		farnode__v1__swim_nack__init(&u.nack);
		u.nack.seq = h->seq;
		m = &u.nack.base;
		break;
	case SWIM_MSG_GOSSIP:
		farnode__v1__swim_gossip__init(&u.gossip);
		m = &u.gossip.base;
		break;
	default:
		return -EINVAL;
	}
	size_t need = protobuf_c_message_get_packed_size(m);
	if (need > cap) {
		return -EMSGSIZE;
	}
	*len = protobuf_c_message_pack(m, out);
	return 0;
}

int wire_swim_pack(const struct swim_msg_head *h,
		   const struct wire_swim_item *items, size_t n_items,
		   uint8_t *out, size_t budget, size_t *out_len,
		   size_t *n_fitted)
{
	size_t len = 0, n = 0;
	int rc = pack_head(h, out, budget, &len);
	if (rc < 0) {
		return rc;
	}
	for (; n < n_items && n < SWIM_UPDATES_MAX; n++) {
		size_t cost = wire_swim_item_cost(items[n].len);
		if (cost > budget - len) {
			break;
		}
		out[len++] = (UPDATES_FIELD << 3) | 2;
		len += put_varint(out + len, items[n].len);
		memcpy(out + len, items[n].buf, items[n].len);
		len += items[n].len;
	}
	*out_len = len;
	*n_fitted = n;
	return 0;
}

int wire_swim_msg_decode(uint32_t type, const uint8_t *body, size_t len,
			 struct swim_msg *m)
{
	const ProtobufCMessageDescriptor *desc = body_desc(type);
	size_t n = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	if (desc == NULL) {
		return -EPROTONOSUPPORT;
	}
	if (len > SWIM_PLAINTEXT_MAX) {
		return -E2BIG;
	}
	rc = count_field(body, len, UPDATES_FIELD, SWIM_UPDATES_MAX, &n);
	if (rc < 0) {
		return rc;
	}
	struct arena_chunk **arena = calloc(1, sizeof(*arena));
	if (arena == NULL) {
		return -ENOMEM;
	}
	ProtobufCAllocator alloc = {
	    .alloc = arena_alloc,
	    .free = arena_free,
	    .allocator_data = arena,
	};
	m->arena = arena;
	ProtobufCMessage *pb =
	    protobuf_c_message_unpack(desc, &alloc, len, body);
	if (pb == NULL) {
		wire_swim_msg_fini(m);
		return -EBADMSG;
	}
	m->pb = pb;
	m->head.type = type;
	const ProtobufCBinaryData *target = NULL;
	switch (type) {
	case SWIM_MSG_PING: {
		Farnode__V1__SwimPing *p = (Farnode__V1__SwimPing *)pb;
		m->head.seq = p->seq;
		target = &p->target_id;
		m->n_updates = p->n_updates;
		m->updates = p->updates;
		break;
	}
	case SWIM_MSG_PING_REQ: {
		Farnode__V1__SwimPingReq *p = (Farnode__V1__SwimPingReq *)pb;
		m->head.seq = p->seq;
		target = &p->target_id;
		if (addr_from_pb(p->target_addr, &m->head.target_addr) < 0) {
			goto bad;
		}
		m->head.has_target_addr = true;
		m->head.want_nack = p->want_nack;
		m->n_updates = p->n_updates;
		m->updates = p->updates;
		break;
	}
	case SWIM_MSG_ACK: {
		Farnode__V1__SwimAck *p = (Farnode__V1__SwimAck *)pb;
		m->head.seq = p->seq;
		m->n_updates = p->n_updates;
		m->updates = p->updates;
		break;
	}
	case SWIM_MSG_NACK: {
		Farnode__V1__SwimNack *p = (Farnode__V1__SwimNack *)pb;
		m->head.seq = p->seq;
		m->n_updates = p->n_updates;
		m->updates = p->updates;
		break;
	}
	case SWIM_MSG_GOSSIP: {
		Farnode__V1__SwimGossip *p = (Farnode__V1__SwimGossip *)pb;
		m->n_updates = p->n_updates;
		m->updates = p->updates;
		break;
	}
	}
	if (target != NULL && target->len != 0) {
		if (id_from_bytes(target, &m->head.target_id) < 0) {
			goto bad;
		}
		m->head.has_target = true;
	}
	if (type == SWIM_MSG_PING_REQ && !m->head.has_target) {
		goto bad;
	}
	if (m->n_updates != n) {
		goto bad;
	}
	return 0;
bad:
	wire_swim_msg_fini(m);
	return -EBADMSG;
}

int wire_swim_msg_update(const struct swim_msg *m, size_t i,
			 struct swim_update *out)
{
	if (i >= m->n_updates) {
		return -EINVAL;
	}
	Farnode__V1__SwimUpdate **ups = m->updates;
	return update_from_pb(ups[i], out);
}

void wire_swim_msg_fini(struct swim_msg *m)
{
	if (m->arena != NULL) {
		arena_release(m->arena);
		free(m->arena);
	}
	m->arena = NULL;
	m->pb = NULL;
	m->updates = NULL;
	m->n_updates = 0;
}

/* ---- envelope (agent/wire.h) ---- */

size_t wire_swim_envelope_overhead(size_t body_len)
{
	(void)body_len;
	return WIRE_ENVELOPE_OVERHEAD;
}

int wire_swim_envelope_encode(const struct swim_envelope *e, uint8_t *out,
			      size_t cap, size_t *len)
{
	struct wire_envelope h = {
	    .version = e->version,
	    .sender = e->sender,
	    .incarnation = e->incarnation,
	    .type = (enum wire_type)e->type,
	};
	int rc = wire_envelope_encode(&h, e->body, e->body_len, out, cap, len);
	return rc == -ENOBUFS ? -EMSGSIZE : rc;
}

int wire_swim_envelope_decode(const uint8_t *buf, size_t len,
			      struct swim_envelope *e)
{
	struct wire_envelope h;
	memset(e, 0, sizeof(*e));
	int rc = wire_envelope_decode(buf, len, &h, &e->body, &e->body_len);
	if (rc < 0) {
		return rc == -EPROTONOSUPPORT ? -EPROTO : rc;
	}
	e->version = h.version;
	e->sender = h.sender;
	e->incarnation = h.incarnation;
	e->type = (uint32_t)h.type;
	if (node_id_is_zero(&e->sender)) {
		return -EBADMSG;
	}
	return 0;
}

/* ---- push-pull ---- */

static int pp_reserve(struct wire_swim_pp_writer *w, size_t extra)
{
	if (w->len + extra > SWIM_PUSHPULL_MAX_BYTES) {
		return -E2BIG;
	}
	if (w->len + extra <= w->cap) {
		return 0;
	}
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < w->len + extra) {
		cap *= 2;
	}
	uint8_t *nb = realloc(w->buf, cap);
	if (nb == NULL) {
		return -ENOMEM;
	}
	w->buf = nb;
	w->cap = cap;
	return 0;
}

int wire_swim_pp_begin(struct wire_swim_pp_writer *w, bool join)
{
	memset(w, 0, sizeof(*w));
	int rc = pp_reserve(w, 2);
	if (rc < 0) {
		return rc;
	}
	if (join) {
		w->buf[w->len++] = (1 << 3) | 0;
		w->buf[w->len++] = 1;
	}
	return 0;
}

int wire_swim_pp_add(struct wire_swim_pp_writer *w, const struct swim_update *u)
{
	uint8_t tmp[SWIM_UPDATE_ENC_MAX];
	size_t n;
	if (w->count >= SWIM_PUSHPULL_MAX_MEMBERS) {
		return -E2BIG;
	}
	int rc = wire_swim_update_encode(u, tmp, sizeof(tmp), &n);
	if (rc < 0) {
		return rc;
	}
	rc = pp_reserve(w, 1 + varint_len(n) + n);
	if (rc < 0) {
		return rc;
	}
	w->buf[w->len++] = (PP_MEMBERS_FIELD << 3) | 2;
	w->len += put_varint(w->buf + w->len, n);
	memcpy(w->buf + w->len, tmp, n);
	w->len += n;
	w->count++;
	return 0;
}

void wire_swim_pp_finish(struct wire_swim_pp_writer *w, uint8_t **out,
			 size_t *len)
{
	*out = w->buf;
	*len = w->len;
	memset(w, 0, sizeof(*w));
}

void wire_swim_pp_fini(struct wire_swim_pp_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

int wire_swim_pp_decode(const uint8_t *buf, size_t len, size_t max_members,
			struct swim_pp *pp)
{
	size_t n = 0;
	memset(pp, 0, sizeof(*pp));
	if (len > SWIM_PUSHPULL_MAX_BYTES) {
		return -E2BIG;
	}
	if (max_members > SWIM_PUSHPULL_MAX_MEMBERS) {
		max_members = SWIM_PUSHPULL_MAX_MEMBERS;
	}
	int rc = count_field(buf, len, PP_MEMBERS_FIELD, max_members, &n);
	if (rc < 0) {
		return rc;
	}
	Farnode__V1__SwimPushPull *pb =
	    farnode__v1__swim_push_pull__unpack(NULL, len, buf);
	if (pb == NULL) {
		return -EBADMSG;
	}
	if (pb->n_members != n) {
		farnode__v1__swim_push_pull__free_unpacked(pb, NULL);
		return -EBADMSG;
	}
	pp->pb = pb;
	pp->join = pb->join;
	pp->n_members = pb->n_members;
	return 0;
}

int wire_swim_pp_member(const struct swim_pp *pp, size_t i,
			struct swim_update *out)
{
	const Farnode__V1__SwimPushPull *pb = pp->pb;
	if (pb == NULL || i >= pb->n_members) {
		return -EINVAL;
	}
	int rc = update_from_pb(pb->members[i], out);
	if (rc < 0) {
		return rc;
	}
	if (out->kind == SWIM_UPD_STATE || !out->has_addr) {
		return -EBADMSG;
	}
	return 0;
}

void wire_swim_pp_fini_decoded(struct swim_pp *pp)
{
	if (pp->pb != NULL) {
		farnode__v1__swim_push_pull__free_unpacked(pp->pb, NULL);
	}
	memset(pp, 0, sizeof(*pp));
}
