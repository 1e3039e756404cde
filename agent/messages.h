/* SPDX-License-Identifier: Apache-2.0 */
/*
 * messages: plain value types for protocol messages that have no other
 * home in the agent — the offload offer/reply/result exchanged between
 * agents (proto/offload.proto) and what a node publishes to the hub
 * (proto/uplink.proto). The wire module converts them; see wire.h.
 */
#ifndef FARNODE_MESSAGES_H
#define FARNODE_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "workload.h"

struct offload_offer {
	uint64_t offer_id;	   /* origin's id for this attempt */
	struct workload_spec spec; /* spec.id: idempotency key */
	uint32_t reply_timeout_ms; /* origin re-decides after this */
	uint32_t queued_ms;	   /* already waited at the origin */
};

enum offload_decline {
	OFFLOAD_DECLINE_NONE = 0,
	OFFLOAD_DECLINE_CAPACITY = 1,
	OFFLOAD_DECLINE_POLICY = 2,
	OFFLOAD_DECLINE_LOCALITY = 3,
	OFFLOAD_DECLINE_ENERGY = 4,
	OFFLOAD_DECLINE_INVALID = 5,
	OFFLOAD_DECLINE_SHUTTING_DOWN = 6,
};

struct offload_reply {
	uint64_t offer_id;
	char workload_id[WORKLOAD_ID_MAX];
	bool accepted;
	enum offload_decline decline; /* NONE when accepted */
	uint32_t reserve_ms;	      /* accepted: reservation lifetime */
	uint64_t generation;	      /* the target agent's start count
				       * (0 = not told) */
};

enum offload_outcome {
	OFFLOAD_DONE = 1,
	OFFLOAD_FAILED = 2,
};

struct offload_result {
	uint64_t offer_id;
	char workload_id[WORKLOAD_ID_MAX];
	enum offload_outcome outcome;
	bool deadline_met;
	double latency_ms; /* arrival at the target to completion */
	double energy_j;
	int32_t exit_code;
	char reason[WORKLOAD_REASON_MAX];
};

enum uplink_event_kind {
	EVENT_WORKLOAD = 1,
	EVENT_DECISION = 2,
	EVENT_MEMBERSHIP = 3,
	EVENT_LEARNING = 4,
	EVENT_POLICY = 5,
	EVENT_DROPPED = 6,
};

#define UPLINK_PAYLOAD_MAX  65536 /* bytes in one event's payload */
#define UPLINK_PRIORITY_MAX 7

/* One outbox event. The payload is borrowed (encode) or points into the
 * decoded buffer (decode). */
struct uplink_event {
	uint64_t event_id;
	struct node_id node;
	uint64_t time_ms;
	enum uplink_event_kind kind;
	uint32_t priority; /* 0..UPLINK_PRIORITY_MAX */
	bool historical;   /* queued while the hub was unreachable */
	const uint8_t *payload;
	size_t payload_len;
};

/* Retained birth/death record on the node's state topic. */
struct uplink_birth {
	struct node_id node;
	uint64_t generation;
	bool online;
	char version[64];
	uint64_t policy_version;
	uint64_t desired_version;
	uint64_t time_ms;
};

#endif
