// SPDX-License-Identifier: Apache-2.0
// wire_uplink: outbox events and the retained birth record
// (proto/uplink.proto) to and from agent/messages.h. Events are read
// without copying: the payload points into the caller's buffer.

#include <errno.h>
#include <string.h>

#include "wire.h"
#include "wire_internal.h"

#include "uplink.pb-c.h"

#define EVENT_MAX (UPLINK_PAYLOAD_MAX + 64)
#define BIRTH_MAX 256

int wire_uplink_event_encode(const struct uplink_event *e, uint8_t *out,
			     size_t cap, size_t *out_len)
{
	Farnode__V1__UplinkEvent m = FARNODE__V1__UPLINK_EVENT__INIT;
	int rc;

	if (e->kind < EVENT_WORKLOAD || e->kind > EVENT_DROPPED ||
	    e->priority > UPLINK_PRIORITY_MAX ||
	    (e->payload == NULL && e->payload_len > 0)) {
		return -EINVAL;
	}
	if (e->payload_len > UPLINK_PAYLOAD_MAX) {
		return -EMSGSIZE;
	}
	m.event_id = e->event_id;
	m.node.data = (uint8_t *)e->node.b;
	m.node.len = NODE_ID_LEN;
	m.time_ms = e->time_ms;
	m.kind = (Farnode__V1__EventKind)e->kind;
	m.priority = e->priority;
	m.historical = e->historical;
	m.payload.data = (uint8_t *)e->payload;
	m.payload.len = e->payload_len;
	rc = wire__room(farnode__v1__uplink_event__get_packed_size(&m), cap,
			out_len);
	if (rc < 0) {
		return rc;
	}
	*out_len = farnode__v1__uplink_event__pack(&m, out);
	return 0;
}

int wire_uplink_event_decode(const uint8_t *p, size_t len,
			     struct uplink_event *e)
{
	struct wire__field f;
	size_t pos = 0;
	uint64_t kind = 0, prio = 0;
	bool have_node = false;
	int rc;

	if (len > EVENT_MAX) {
		return -EMSGSIZE;
	}
	memset(e, 0, sizeof(*e));
	while ((rc = wire__next(p, len, &pos, &f)) > 0) {
		bool want_len = f.num == 2 || f.num == 7;

		if (f.num >= 1 && f.num <= 7 &&
		    f.wt != (want_len ? WIRE__WT_LEN : WIRE__WT_VARINT)) {
			return -EBADMSG;
		}
		switch (f.num) {
		case 1:
			e->event_id = f.v;
			break;
		case 2:
			if (f.len != NODE_ID_LEN) {
				return -EBADMSG;
			}
			memcpy(e->node.b, f.p, NODE_ID_LEN);
			have_node = true;
			break;
		case 3:
			e->time_ms = f.v;
			break;
		case 4:
			kind = f.v;
			break;
		case 5:
			prio = f.v;
			break;
		case 6:
			e->historical = f.v != 0;
			break;
		case 7:
			if (f.len > UPLINK_PAYLOAD_MAX) {
				return -EBADMSG;
			}
			e->payload = f.len ? f.p : NULL;
			e->payload_len = f.len;
			break;
		default:
			break;
		}
	}
	if (rc < 0 || !have_node || prio > UPLINK_PRIORITY_MAX) {
		return -EBADMSG;
	}
	if (kind < EVENT_WORKLOAD || kind > EVENT_DROPPED) {
		return -ENOMSG;
	}
	e->kind = (enum uplink_event_kind)kind;
	e->priority = (uint32_t)prio;
	return 0;
}

int wire_birth_encode(const struct uplink_birth *b, uint8_t *out, size_t cap,
		      size_t *out_len)
{
	Farnode__V1__Birth m = FARNODE__V1__BIRTH__INIT;
	int rc;

	m.version = wire__str_out(b->version, sizeof(b->version));
	if (m.version == NULL) {
		return -EINVAL;
	}
	m.node.data = (uint8_t *)b->node.b;
	m.node.len = NODE_ID_LEN;
	m.generation = b->generation;
	m.online = b->online;
	m.policy_version = b->policy_version;
	m.desired_version = b->desired_version;
	m.time_ms = b->time_ms;
	rc = wire__room(farnode__v1__birth__get_packed_size(&m), cap, out_len);
	if (rc < 0) {
		return rc;
	}
	*out_len = farnode__v1__birth__pack(&m, out);
	return 0;
}

int wire_birth_decode(const uint8_t *p, size_t len, struct uplink_birth *b)
{
	uint8_t buf[2048];
	struct wire__arena a;
	Farnode__V1__Birth *m;

	if (len > BIRTH_MAX) {
		return -EMSGSIZE;
	}
	wire__arena_init(&a, buf, sizeof(buf));
	m = farnode__v1__birth__unpack(&a.alloc, len, p);
	if (m == NULL) {
		return WIRE__UNPACK_FAILED;
	}
	memset(b, 0, sizeof(*b));
	if (m->node.len != NODE_ID_LEN ||
	    wire__str_in(b->version, sizeof(b->version), m->version) < 0) {
		return -EBADMSG;
	}
	memcpy(b->node.b, m->node.data, NODE_ID_LEN);
	b->generation = m->generation;
	b->online = m->online;
	b->policy_version = m->policy_version;
	b->desired_version = m->desired_version;
	b->time_ms = m->time_ms;
	return 0;
}
