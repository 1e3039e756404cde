/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sched_svc: the scheduler as an agent service. Owns the decision core and
 * its store mirror, loads the table at start, writes it behind on a
 * [sched] tick_ms timer and once more at stop, and applies the live
 * [sched] keys on reload. Placement calls from the runtime and the offload
 * protocol come later; the control socket reaches it now (ctl_sched.c).
 */
#ifndef FARNODE_SCHED_SVC_H
#define FARNODE_SCHED_SVC_H

#include "sched.h"
#include "sched_store.h"

struct agent;
struct sched_svc;

/* Start the service (a->sched). Returns 0 or a negative errno (logged). */
int sched_start(struct agent *a);
/* Final write-behind tick, then free. NULL-safe. */
void sched_stop(struct agent *a);
/* Apply live [sched] keys (hyper-parameters, tick, log cap). */
void sched_reload(struct agent *a);

/* The core and store of a running service (borrowed). */
struct sched *sched_svc_core(struct sched_svc *svc);
struct sched_store *sched_svc_store(struct sched_svc *svc);
/*
 * Decide for workload w (sched_decide) and log the decision for the next
 * tick, stamped with now_ms (wall clock). Returns what sched_decide
 * returns; an all-masked fallback is logged too (as the reject it is).
 */
int sched_svc_decide(struct sched_svc *svc, const struct sched_snapshot *snap,
		     const struct workload_spec *w, uint64_t now_ms,
		     struct sched_decision *d);
/*
 * The outcome of decision d for w arrived: learn from it (sched_observe,
 * next = the state the caller sees now, or UINT32_MAX) and log the reward
 * on the workload's newest decision row. Returns 0 or -EINVAL (refused
 * reward, counted; nothing learned or logged).
 */
int sched_svc_observe(struct sched_svc *svc, const struct sched_decision *d,
		      const struct workload_spec *w,
		      const struct sched_outcome *o, uint32_t next);
/* Write behind now (as a tick). Returns cells written or -errno. */
int sched_svc_flush(struct sched_svc *svc);

#endif
