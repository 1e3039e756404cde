// SPDX-License-Identifier: Apache-2.0
/*
 * uplink_events: event payload messages of proto/uplink.proto through the
 * generated protobuf-c code. These are small, bounded messages; the input
 * of the describe path is capped at UPLINK_PAYLOAD_MAX before unpacking.
 */
#include "uplink_events.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uplink.pb-c.h"
#include "wire.h"

static int pack_done(const ProtobufCMessage *m, uint8_t *out, size_t cap,
		     size_t *len)
{
	size_t need = protobuf_c_message_get_packed_size(m);
	*len = need;
	if (need > cap) {
		return -ENOBUFS;
	}
	*len = protobuf_c_message_pack(m, out);
	return 0;
}

static bool reason_ok(const char *r)
{
	return r == NULL ||
	       strnlen(r, WORKLOAD_REASON_MAX) < WORKLOAD_REASON_MAX;
}

int uplink_encode_workload(const char *workload_id, enum workload_phase phase,
			   const char *reason, int32_t exit_code,
			   const struct node_id *placed_on, uint8_t *out,
			   size_t cap, size_t *len)
{
	Farnode__V1__WorkloadEvent m = FARNODE__V1__WORKLOAD_EVENT__INIT;
	if (workload_id == NULL ||
	    strnlen(workload_id, WORKLOAD_ID_MAX) >= WORKLOAD_ID_MAX ||
	    !reason_ok(reason)) {
		return -EINVAL;
	}
	m.workload_id = (char *)workload_id;
	m.phase = (uint32_t)phase;
	m.reason = (char *)(reason ? reason : "");
	m.exit_code = exit_code;
	if (placed_on != NULL && !node_id_is_zero(placed_on)) {
		m.placed_on.data = (uint8_t *)placed_on->b;
		m.placed_on.len = NODE_ID_LEN;
	}
	return pack_done(&m.base, out, cap, len);
}

int uplink_encode_decision(const char *workload_id, uint32_t state,
			   uint32_t action, double reward, uint8_t *out,
			   size_t cap, size_t *len)
{
	Farnode__V1__DecisionEvent m = FARNODE__V1__DECISION_EVENT__INIT;
	if (workload_id == NULL ||
	    strnlen(workload_id, WORKLOAD_ID_MAX) >= WORKLOAD_ID_MAX) {
		return -EINVAL;
	}
	m.workload_id = (char *)workload_id;
	m.state = state;
	m.action = action;
	m.reward = reward;
	return pack_done(&m.base, out, cap, len);
}

int uplink_encode_member(const struct node_id *member, uint32_t status,
			 uint64_t incarnation, uint8_t *out, size_t cap,
			 size_t *len)
{
	Farnode__V1__MemberEvent m = FARNODE__V1__MEMBER_EVENT__INIT;
	if (member == NULL || status < 1 || status > 4) {
		return -EINVAL;
	}
	m.member.data = (uint8_t *)member->b;
	m.member.len = NODE_ID_LEN;
	m.status = status;
	m.incarnation = incarnation;
	return pack_done(&m.base, out, cap, len);
}

int uplink_encode_policy(uint64_t version, bool accepted, const char *reason,
			 uint8_t *out, size_t cap, size_t *len)
{
	Farnode__V1__PolicyEvent m = FARNODE__V1__POLICY_EVENT__INIT;
	char r[WORKLOAD_REASON_MAX];
	/* reasons are bounded: cut long ones rather than refuse the event */
	snprintf(r, sizeof(r), "%s", reason ? reason : "");
	m.version = version;
	m.accepted = accepted;
	m.reason = r;
	return pack_done(&m.base, out, cap, len);
}

int uplink_encode_dropped(uint64_t count, uint8_t *out, size_t cap, size_t *len)
{
	Farnode__V1__DroppedEvent m = FARNODE__V1__DROPPED_EVENT__INIT;
	m.count = count;
	return pack_done(&m.base, out, cap, len);
}

const char *uplink_event_kind_name(enum uplink_event_kind kind)
{
	switch (kind) {
	case EVENT_WORKLOAD:
		return "workload";
	case EVENT_DECISION:
		return "decision";
	case EVENT_MEMBERSHIP:
		return "member";
	case EVENT_LEARNING:
		return "learning";
	case EVENT_POLICY:
		return "policy";
	case EVENT_DROPPED:
		return "dropped";
	}
	return "unknown";
}

static const char *member_status_name(uint32_t s)
{
	static const char *const names[] = {"?", "alive", "suspect", "dead",
					    "left"};
	return s < 5 ? names[s] : "?";
}

void uplink_event_describe(enum uplink_event_kind kind, const uint8_t *p,
			   size_t len, char *out, size_t out_len)
{
	char id[NODE_ID_STR_LEN];

	snprintf(out, out_len, "%s (%zu bytes, undecodable)",
		 uplink_event_kind_name(kind), len);
	if (len > UPLINK_PAYLOAD_MAX) {
		return;
	}
	switch (kind) {
	case EVENT_WORKLOAD: {
		Farnode__V1__WorkloadEvent *m =
		    farnode__v1__workload_event__unpack(NULL, len, p);
		if (m == NULL) {
			return;
		}
		const char *phase = m->phase <= WL_OFFLOADED
					? workload_phase_name(m->phase)
					: "?";
		snprintf(out, out_len, "workload %s %s%s%s exit=%d",
			 m->workload_id, phase, m->reason[0] ? ": " : "",
			 m->reason, m->exit_code);
		farnode__v1__workload_event__free_unpacked(m, NULL);
		break;
	}
	case EVENT_DECISION: {
		Farnode__V1__DecisionEvent *m =
		    farnode__v1__decision_event__unpack(NULL, len, p);
		if (m == NULL) {
			return;
		}
		snprintf(out, out_len,
			 "decision %s state=%u action=%u reward=%g",
			 m->workload_id, m->state, m->action, m->reward);
		farnode__v1__decision_event__free_unpacked(m, NULL);
		break;
	}
	case EVENT_MEMBERSHIP: {
		Farnode__V1__MemberEvent *m =
		    farnode__v1__member_event__unpack(NULL, len, p);
		if (m == NULL) {
			return;
		}
		if (m->member.len == NODE_ID_LEN) {
			struct node_id n;
			memcpy(n.b, m->member.data, NODE_ID_LEN);
			node_id_format(&n, id);
		} else {
			snprintf(id, sizeof(id), "?");
		}
		snprintf(out, out_len, "member %s %s incarnation=%" PRIu64, id,
			 member_status_name(m->status), m->incarnation);
		farnode__v1__member_event__free_unpacked(m, NULL);
		break;
	}
	case EVENT_POLICY: {
		Farnode__V1__PolicyEvent *m =
		    farnode__v1__policy_event__unpack(NULL, len, p);
		if (m == NULL) {
			return;
		}
		snprintf(out, out_len, "bundle version %" PRIu64 " %s%s%s",
			 m->version, m->accepted ? "accepted" : "rejected",
			 m->reason[0] ? ": " : "", m->reason);
		farnode__v1__policy_event__free_unpacked(m, NULL);
		break;
	}
	case EVENT_DROPPED: {
		Farnode__V1__DroppedEvent *m =
		    farnode__v1__dropped_event__unpack(NULL, len, p);
		if (m == NULL) {
			return;
		}
		snprintf(out, out_len, "outbox dropped %" PRIu64 " events",
			 m->count);
		farnode__v1__dropped_event__free_unpacked(m, NULL);
		break;
	}
	case EVENT_LEARNING: {
		/* an entry takes at least 4 bytes on the wire */
		size_t max = len / 4 + 1;
		struct sched_share *e = malloc(max * sizeof(*e));
		uint32_t fp = 0;
		uint64_t round = 0;
		size_t n = 0;
		if (e != NULL &&
		    wire_qshare_decode(p, len, &fp, &round, e, max, &n) == 0) {
			snprintf(out, out_len,
				 "learning summary round %" PRIu64
				 ": %zu cells, table %08x",
				 round & 0xffffffffu, n, fp);
		}
		free(e);
		break;
	}
	}
}
