/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placement: the agent's local placement loop (DESIGN §7, issue 6). It is
 * the runtime's admission: every workload that wants to run is decided by
 * the scheduler (run here, offer to a neighbour through the offload
 * service, defer, reject) from a snapshot of this node (runtime + sampler)
 * and its alive gossip members; outcomes of local runs are turned into
 * rewards. A node without alive neighbours runs what fits without a
 * decision (nothing to choose); "run here" waits for room as the
 * runtime's own rule does. The pure pieces (mapping, outcome, bounded table)
 * are exposed for tests.
 */
#ifndef FARNODE_PLACEMENT_H
#define FARNODE_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "runtime.h"
#include "sched.h"
#include "workload.h"

struct agent;
struct placement;

/* Start after runtime, gossip, sched and offload: installs the runtime's
 * admission, a runtime listener and the offload hooks. Without a
 * scheduler it leaves the runtime's default admission in place. Returns
 * 0 and *out, or a negative errno (logged). */
int placement_start(struct agent *a, struct placement **out);
/* Restore the default admission, drop the hooks; memory goes in the
 * timer's close callback. NULL-safe. */
void placement_stop(struct placement *p);

/* Deferrals of one workload after which "defer" is no longer offered to
 * the scheduler, and (explored rejections turned into deferrals included)
 * after which it is rejected. */
#define PLACEMENT_PATIENCE 4
#define PLACEMENT_DEFER_MAX 8
/* Workloads whose decision is remembered (oldest closed ones evicted). */
#define PLACEMENT_TABLE_MAX 256

/* ---- pure pieces, exposed for tests ---- */

/* What a decision means for the runtime. */
enum placement_step {
	PLACE_LOCAL = 0,  /* run here */
	PLACE_OFFER = 1,  /* offer to d->nb_id */
	PLACE_DEFER = 2,  /* keep pending, decide again later */
	PLACE_REJECT = 3, /* fail it with a reason */
};

/*
 * Map sched_svc_decide's result (rc, d) to a step. rc -EPERM (all
 * masked) and any other error reject with d->why or the error; an
 * offload without a neighbour id rejects too. A rejection chosen by
 * exploration (d->explored) is deferred instead: its reward is fixed and
 * known, so trying it would only lose the workload (the caller still
 * learns it). A reason goes into why for DEFER and REJECT.
 */
enum placement_step placement_step_of(int rc, const struct sched_decision *d,
				      char *why, size_t why_len);

/*
 * The admission result after an offer: ADMIT_OFFLOAD when offer_rc is 0;
 * otherwise run here if the node has room for it (cap), else keep it
 * pending. Writes a reason into why.
 */
enum runtime_admit placement_after_offer(int offer_rc,
					 const struct workload_spec *spec,
					 const struct runtime_capacity *cap,
					 const char *target, char *why,
					 size_t why_len);

/* True when spec fits the runtime's unreserved cpu, memory and workload
 * count (the rule of runtime_admit_local). */
bool placement_fits(const struct workload_spec *spec,
		    const struct runtime_capacity *cap);

/*
 * The local node as a decision sees it: the measured state with the
 * runtime's reservations applied — unreserved cpu, the active workload
 * count, and free memory = min(measured free, capacity) minus the memory
 * promised to running workloads (a limit is a promise; counting what
 * they already use twice errs on the safe side). measured may be NULL.
 */
void placement_local_state(const struct node_state *measured,
			   const struct runtime_capacity *cap,
			   struct node_state *out);

/*
 * Outcome of a local run that reached st (EXITED, FAILED or STOPPED):
 * latency from arrival_ms (wall) to st->finished_ms, deadline met when it
 * exited 0 within spec->max_delay_ms (0 = none), failed when it was
 * killed (signal, OOM, lost), energy modelled as cpu cores requested x
 * watts_per_core x run time. Returns 0; -EAGAIN when st is not an end of
 * a run; -ECANCELED when the operator stopped it; -ENODATA when the
 * workload failed by itself (non-zero exit code, or it never started):
 * that says nothing about where it ran, and learning it as a placement
 * failure would teach a cold table to defer and reject good work.
 */
int placement_outcome(const struct workload_spec *spec,
		      const struct workload_status *st, uint64_t arrival_ms,
		      double watts_per_core, struct sched_outcome *o);

/* One remembered decision. */
enum placement_state {
	PL_FREE = 0,
	PL_LOCAL = 1,	 /* running here: waiting for the end */
	PL_OFFERED = 2,	 /* offered: the offload service reports */
	PL_DEFERRED = 3, /* pending until retry_ms */
	PL_CLOSED = 4,	 /* outcome learned (or nothing open) */
	PL_REDO = 5,	 /* handed back by the offload service */
};

struct placement_entry {
	char id[WORKLOAD_ID_MAX];
	enum placement_state state;
	struct sched_decision d;
	uint64_t arrival_ms; /* wall: first decision of this attempt */
	uint64_t retry_ms;   /* wall: deferred until */
	uint64_t touched;    /* table clock, for eviction */
	uint32_t defers;
	uint32_t redos; /* offers handed back this attempt */
	bool learn;	/* PL_LOCAL: the run is the decision's outcome */
};

struct placement_table {
	struct placement_entry e[PLACEMENT_TABLE_MAX];
	uint64_t clock;
};

/* Find id (NULL when unknown). */
struct placement_entry *placement_table_find(struct placement_table *t,
					     const char *id);
/*
 * Find or make the entry for id. A new entry takes a free slot, else the
 * least recently touched CLOSED one, else the least recently touched
 * DEFERRED/OFFERED/LOCAL one (its outcome is then not learned). NULL only
 * for an id that does not fit.
 */
struct placement_entry *placement_table_get(struct placement_table *t,
					    const char *id);
/* Mark an entry as just used. */
void placement_table_touch(struct placement_table *t,
			   struct placement_entry *e);

#endif
