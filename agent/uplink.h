/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uplink: the agent's hub service (DESIGN §8). Connects with MQTT over TLS
 * to [hub] url, reconnecting with exponential backoff and full jitter;
 * publishes a retained birth on <prefix>/<partition>/<node>/state with a
 * Will that marks the node offline; subscribes to the partition's policy
 * and the node's desired topics and feeds what arrives to reconcile;
 * flushes the outbox (events, learning summaries) in order as QoS 1 and
 * deletes each event on PUBACK. Without a hub (empty url) it still runs
 * reconcile from the store or the seed file and keeps queueing events, so
 * the node works offline from its first boot.
 */
#ifndef FARNODE_UPLINK_H
#define FARNODE_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"
#include "rng.h"

struct agent;
struct uplink;
struct policy;

/* Topic names for one node. */
#define UPLINK_TOPIC_MAX 256
struct uplink_topics {
	char state[UPLINK_TOPIC_MAX];	 /* retained birth / Will */
	char events[UPLINK_TOPIC_MAX];	 /* outbox events, QoS 1 */
	char learning[UPLINK_TOPIC_MAX]; /* learning summaries, QoS 1 */
	char policy[UPLINK_TOPIC_MAX];	 /* partition policy (subscribed) */
	char desired[UPLINK_TOPIC_MAX];	 /* node desired state (subscribed) */
};

/*
 * Build the topic names from prefix, partition and node id text. -EINVAL
 * when a part is empty, contains '/', '+', '#' or the result is too long.
 */
int uplink_topics(const char *prefix, const char *partition,
		  const char *node_id, struct uplink_topics *t);

/*
 * Reconnect delay for the attempt-th consecutive failure (0-based): full
 * jitter, uniform in [0, min(max_s, min_s * 2^attempt)] seconds, at least
 * 100 ms. Deterministic for a seeded rng.
 */
uint64_t uplink_backoff_ms(uint32_t attempt, uint32_t min_s, uint32_t max_s,
			   struct rng *rng);

/* Service hooks (agent.c). start: 0 or -errno (logged). */
int uplink_start(struct agent *a);
void uplink_stop(struct agent *a);
/* SIGHUP: TLS credentials, pinned keys, backoff, outbox bound and rate. */
void uplink_reload(struct agent *a);

/*
 * Short state for `farnode status`: "disabled", "connecting",
 * "connected" or "offline (reason; retry in Ns)". Written into out.
 */
void uplink_state_text(const struct agent *a, char *out, size_t out_len);

/*
 * Queue an event for the hub (payload copied into the store first). Any
 * module may call it; priority UINT32_MAX picks the kind's default.
 * Returns 0, -ENODEV before the service started, or outbox_put's errors.
 */
int uplink_emit(struct agent *a, enum uplink_event_kind kind, uint32_t priority,
		const uint8_t *payload, size_t len);

/*
 * A workload changed phase (the runtime's event callback should call this
 * after its own work). Queues a WORKLOAD event. Without these calls the
 * service still notices changes by looking at the runtime every second,
 * but then transitions faster than that collapse into their last phase.
 */
struct workload_spec;
struct workload_status;
void uplink_note_workload(struct agent *a, const struct workload_spec *spec,
			  const struct workload_status *st);

/*
 * A member of the partition changed (status 1 alive, 2 suspect, 3 dead,
 * 4 left) / a scheduling decision was made or rewarded (reward NaN while
 * pending): queue a MEMBERSHIP / DECISION event. For the gossip and
 * scheduler services to call.
 */
void uplink_note_member(struct agent *a, const struct node_id *member,
			uint32_t status, uint64_t incarnation);
void uplink_note_decision(struct agent *a, const char *workload_id,
			  uint32_t state, uint32_t action, double reward);

/*
 * Where a policy in force goes (the scheduler service registers itself;
 * until then policies are validated against default parameters only).
 * fn returns non-zero (with why) to refuse a policy.
 */
typedef int (*uplink_policy_fn)(void *ud, const struct policy *p, char *why,
				size_t why_len);
void uplink_set_policy_sink(struct agent *a, uplink_policy_fn fn, void *ud);

/* Counters for status, tests and the bench. */
struct uplink_info {
	bool enabled;
	bool connected;
	uint64_t connects;
	uint64_t failures;
	uint64_t bytes_tx; /* MQTT bytes written */
	uint64_t bytes_rx;
	uint64_t malformed;   /* packets from the broker refused */
	uint64_t events_sent; /* PUBLISH of outbox events (incl. resends) */
	uint64_t events_acked;
	uint64_t outbox_queued;
	uint64_t outbox_dropped;
	uint64_t policy_version;
	uint64_t desired_version;
	uint64_t bundles_rejected;
	char last_error[192];
};
/* -ENODEV before start. */
int uplink_info(const struct agent *a, struct uplink_info *out);

#endif
