/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uplink_events: the kind-specific payloads of outbox events
 * (proto/uplink.proto WorkloadEvent, DecisionEvent, MemberEvent,
 * PolicyEvent, DroppedEvent) — encoded for the outbox and rendered as one
 * line of text for `farnode hub watch`. The UplinkEvent envelope around
 * them and the Birth record are in the wire module (wire.h).
 */
#ifndef FARNODE_UPLINK_EVENTS_H
#define FARNODE_UPLINK_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"
#include "node.h"
#include "workload.h"

/* Largest payload any of the encoders below produces. */
#define UPLINK_EVENT_SMALL_MAX 512

/*
 * Encoders: write into out[0..cap); 0 and *len, -ENOBUFS when cap is too
 * small, -EINVAL for strings over their bound (reason < 128 bytes).
 */
int uplink_encode_workload(const char *workload_id, enum workload_phase phase,
			   const char *reason, int32_t exit_code,
			   const struct node_id *placed_on, uint8_t *out,
			   size_t cap, size_t *len);
int uplink_encode_decision(const char *workload_id, uint32_t state,
			   uint32_t action, double reward, uint8_t *out,
			   size_t cap, size_t *len);
/* status: 1 alive, 2 suspect, 3 dead, 4 left. */
int uplink_encode_member(const struct node_id *member, uint32_t status,
			 uint64_t incarnation, uint8_t *out, size_t cap,
			 size_t *len);
int uplink_encode_policy(uint64_t version, bool accepted, const char *reason,
			 uint8_t *out, size_t cap, size_t *len);
int uplink_encode_dropped(uint64_t count, uint8_t *out, size_t cap,
			  size_t *len);

/*
 * One line describing a payload of kind ("workload web-1 running",
 * "dropped 12 events"). Undecodable payloads are described as such.
 */
void uplink_event_describe(enum uplink_event_kind kind, const uint8_t *p,
			   size_t len, char *out, size_t out_len);

/* "workload", "decision", ... ; "unknown". */
const char *uplink_event_kind_name(enum uplink_event_kind kind);

#endif
