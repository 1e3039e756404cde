/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime_svc: the runtime and the metrics sampler as an agent service
 * (runtime_agent.c). The scheduler reaches the runtime through
 * runtime_of() to install its admission callback; gossip reads the node
 * state kept here.
 */
#ifndef FARNODE_RUNTIME_SVC_H
#define FARNODE_RUNTIME_SVC_H

struct agent;
struct runtime;
struct node_state;

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
/* Mean wall time of one sampler tick in microseconds (< 0 before one). */
double runtime_sampler_cost_us(const struct agent *a);

#endif
