/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime_svc: the runtime and the metrics sampler as an agent service
 * (runtime_agent.c). The scheduler reaches the runtime through
 * runtime_of() to install its admission callback; gossip reads the node
 * state kept here.
 */
#ifndef FARNODE_RUNTIME_SVC_H
#define FARNODE_RUNTIME_SVC_H

#include "runtime.h"

struct agent;
struct node_state;
struct metrics_sample;

/* Start: runtime from [runtime], resume stored workloads, sample metrics
 * every [metrics] sample_interval_s. Returns 0 or -errno (logged). */
int runtime_start(struct agent *a);
/* Stop: close handles; workloads keep running. */
void runtime_stop(struct agent *a);
/* SIGHUP: apply live [runtime] and [metrics] keys. */
void runtime_reload(struct agent *a);

/* The runtime of a started agent (NULL before start). Borrowed. */
struct runtime *runtime_of(struct agent *a);
/* The node state kept by the sampler and the runtime. Borrowed. */
const struct node_state *runtime_node_state(const struct agent *a);
/*
 * Be told of every workload phase change (after it is in the store): the
 * scheduler turns finished runs into rewards, the uplink queues events.
 * At most RUNTIME_SVC_LISTENERS; returns 0 or -ENOSPC. ud is borrowed.
 */
#define RUNTIME_SVC_LISTENERS 4
int runtime_subscribe(struct agent *a, runtime_event_fn fn, void *ud);
/* Remove a listener added with the same fn and ud (no-op if absent). */
void runtime_unsubscribe(struct agent *a, runtime_event_fn fn, void *ud);
/* The last metrics sample (NULL before the first). Borrowed. */
const struct metrics_sample *runtime_last_sample(const struct agent *a);
/* Mean wall time of one sampler tick in microseconds (< 0 before one). */
double runtime_sampler_cost_us(const struct agent *a);

#endif
