/* SPDX-License-Identifier: Apache-2.0 */
/*
 * offload_svc: binds the offload protocol core and federated Q-sharing
 * (offload.h) to the agent — messages over the gossip transport
 * (gossip_app.h), member deaths, the runtime (runs offloaded-in
 * workloads, reports their end) and the scheduler (rewards, Q-shares).
 */
#ifndef FARNODE_OFFLOAD_SVC_H
#define FARNODE_OFFLOAD_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include "offload.h"

struct agent;
struct offload_svc;

/*
 * Hooks for whoever owns placement (the scheduler's admission). Without
 * them the service re-admits a handed-back workload through the runtime
 * (runtime_remove + runtime_create of the same spec) and only learns
 * from a completion.
 */
struct offload_svc_hooks {
	/* The workload must be placed again (see offload_io.redecide). */
	void (*redecide)(void *ud, const struct workload_spec *spec,
			 const struct sched_decision *d,
			 const struct node_id *target, enum offload_redo why);
	/* The target reported; the reward was already learned. */
	void (*done)(void *ud, const struct workload_spec *spec,
		     const struct node_id *target,
		     const struct offload_result *res);
	void *ud;
};

/*
 * Start after gossip, runtime and scheduler: installs the gossip app
 * receiver and member listener, subscribes to runtime events, arms the
 * protocol and Q-share timers. The service works without gossip (offers
 * then fail and are handed back) and without a scheduler (no learning).
 * Returns 0 and *out, or a negative errno (logged).
 */
int offload_svc_start(struct agent *a, struct offload_svc **out);
/* Stop timers and listeners; memory goes in the last close callback.
 * NULL-safe. Open offers are not persisted. */
void offload_svc_stop(struct offload_svc *svc);
void offload_svc_set_hooks(struct offload_svc *svc,
			   const struct offload_svc_hooks *h);

/*
 * Offer workload spec to member `to` as decision d chose (the runtime has
 * it in phase offloaded). Returns offload_offer's result.
 */
int offload_svc_offer(struct offload_svc *svc, const struct node_id *to,
		      const struct workload_spec *spec,
		      const struct sched_decision *d, uint32_t queued_ms);
/* True when `id` runs here for another node (admission must run it
 * locally, never offload it again). */
bool offload_svc_hosting(const struct offload_svc *svc, const char *id);

/* Put an offloaded workload whose offer failed (why) back to pending in
 * the runtime, same record, and admit it again (runtime_offload_back).
 * Logs and returns -errno when it cannot (removed meanwhile, no longer
 * offloaded, no runtime). */
int offload_svc_hand_back(struct agent *a, const char *id,
			  enum offload_redo why);

/* The core and the Q-share state (borrowed, for status and tests). */
struct offload *offload_svc_core(struct offload_svc *svc);
struct offload_share *offload_svc_share(struct offload_svc *svc);

/* Q-share round interval and neighbour fan-out. */
#define OFFLOAD_SVC_SHARE_MS	 30000
#define OFFLOAD_SVC_SHARE_FANOUT 8

#endif
