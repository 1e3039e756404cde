/* SPDX-License-Identifier: Apache-2.0 */
/*
 * offload: the pure offload protocol between agents (DESIGN §7, issue 6).
 * The origin offers a workload to a neighbour; the target accepts
 * (reserving capacity) or declines; the target runs it and reports the
 * result; the origin acknowledges and turns it into a reward. Time is a
 * parameter (monotonic milliseconds), messages leave through struct
 * offload_io, nothing here touches libuv, sockets or SQLite.
 *
 * Protocol (envelope types, bodies encoded by wire_offload.c):
 *   OFFER  origin -> target   retransmitted every retry_ms until a reply
 *                             or offer_timeout_ms; same offer_id each time
 *   REPLY  target -> origin   accept (reserve_ms) or decline; a duplicate
 *                             offer gets the same reply, never a second run
 *   RESULT target -> origin   retransmitted every retry_ms until the origin
 *                             acknowledges (or result_giveup_ms)
 *   RESULT origin -> target   closes the offer on the target: an
 *                             acknowledgement when the target has reported,
 *                             a withdrawal (stop it, release) otherwise
 * The workload id is the idempotency key on both sides; each attempt has
 * its own offer_id so late messages of an abandoned attempt are told apart
 * from the current one. Closed ids are remembered (tombstones) for
 * tombstone_ms so late duplicates are answered, not acted on.
 *
 * Never lost: when the target declines, stays silent past offer_timeout_ms,
 * overruns its promise (reserve_ms + grace_ms) or is declared dead, the
 * origin withdraws the offer and hands the workload back to the scheduler
 * (io.redecide). Never twice: a target runs an id at most once per origin
 * attempt; results of an abandoned attempt are acknowledged and ignored.
 * (Across a partition that outlives the withdrawal the two sides cannot
 * agree; the target then stops the workload at its own deadline. A target
 * agent that restarts has lost its offers: the runtime stops the runs it
 * hosted, and the origin places them again when the promise lapses.)
 */
#ifndef FARNODE_OFFLOAD_H
#define FARNODE_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"
#include "node.h"
#include "sched.h"
#include "workload.h"

/* Largest body the offload module hands to io.send (an offer with a full
 * spec); larger than one datagram, so the transport must carry it over
 * its stream channel when len > WIRE_BODY_MAX. */
#define OFFLOAD_BODY_MAX (16384 + 64)

/* Why the origin hands a workload back to the scheduler. */
enum offload_redo {
	OFFLOAD_REDO_DECLINED = 1, /* the target said no */
	OFFLOAD_REDO_NO_REPLY = 2, /* offer_timeout_ms without a reply */
	OFFLOAD_REDO_OVERDUE = 3,  /* accepted, no result by the promise */
	OFFLOAD_REDO_DEAD = 4,	   /* membership declared the target dead */
	OFFLOAD_REDO_RESTARTED = 5, /* the target agent restarted after it
				     * accepted (its offers are gone) */
};

struct offload_io {
	/* Send body (type WIRE_OFFLOAD_*) to a member. 0 or -errno; a failed
	 * send is retried by the protocol's timers. Required. */
	int (*send)(void *ud, const struct node_id *to, uint32_t type,
		    const uint8_t *body, size_t len);
	/* Origin: the workload needs a new decision (it is no longer on
	 * `target`). d is the decision that chose the target. Called after
	 * the offer is closed, so it may offer the workload again. Required. */
	void (*redecide)(void *ud, const struct workload_spec *spec,
			 const struct sched_decision *d,
			 const struct node_id *target, enum offload_redo why);
	/* Origin: the target ran it and reported (res->outcome DONE or
	 * FAILED); o is the outcome as the origin sees it (latency counted
	 * from the origin's queue), ready for sched_observe. Called once per
	 * workload attempt, after the offer is closed. Required. */
	void (*completed)(void *ud, const struct workload_spec *spec,
			  const struct sched_decision *d,
			  const struct node_id *target,
			  const struct offload_result *res,
			  const struct sched_outcome *o);
	/* Target: policy/locality/energy check beyond the capacity the core
	 * accounts itself. Return OFFLOAD_DECLINE_NONE to accept. Optional
	 * (NULL accepts). */
	enum offload_decline (*admit)(void *ud,
				      const struct workload_spec *spec,
				      const struct node_id *origin);
	/* Target: start an accepted workload. 0, or -errno: it never
	 * started, the offer is declined (POLICY) and the origin places it
	 * again. Without run the node declines every offer. */
	int (*run)(void *ud, const struct workload_spec *spec,
		   const struct node_id *origin);
	/* Target: stop a running offloaded workload (withdrawn or over its
	 * deadline). Optional. */
	void (*cancel)(void *ud, const char *workload_id);
	void *ud;
};

struct offload_params {
	uint32_t retry_ms;	   /* retransmission interval (offer, result) */
	uint32_t offer_timeout_ms; /* origin gives up waiting for a reply */
	uint32_t grace_ms;	   /* added to the target's promise */
	uint32_t run_default_ms;   /* promise for specs without a deadline */
	uint32_t result_giveup_ms; /* target stops retransmitting a result */
	uint32_t tombstone_ms;	   /* closed ids remembered this long */
	uint32_t max_entries;	   /* open offers per side (and tombstones) */
	uint64_t offer_id_base;	   /* first offer_id; make it unique per
				    * incarnation (e.g. wall ms << 16) */
	/* target capacity for offloaded work (0 = accept nothing) */
	uint32_t cpu_milli;
	uint64_t mem_bytes;
	/* this agent's start count, told in accepts (0 = not told) */
	uint64_t generation;
};

struct offload_stats {
	/* origin */
	uint64_t offers;      /* offers started (attempts) */
	uint64_t offer_sends; /* incl. retransmissions */
	uint64_t accepted;    /* replies accepting */
	uint64_t declined;    /* replies declining */
	uint64_t no_reply;    /* offers timed out */
	uint64_t overdue;     /* accepted offers without a result */
	uint64_t target_dead; /* offers lost to a dead target */
	uint64_t target_restarted; /* offers lost to a restarted target */
	uint64_t completed;   /* results DONE delivered to the scheduler */
	uint64_t failed;      /* results FAILED delivered */
	uint64_t redecided;   /* workloads handed back */
	uint64_t dup_replies; /* replies repeated or stale */
	uint64_t dup_results; /* results already handled or stale */
	uint64_t unknown;     /* replies/results for ids never offered */
	/* target */
	uint64_t offers_in;    /* offers received (incl. duplicates) */
	uint64_t dup_offers;   /* answered from the existing entry */
	uint64_t accepts_out;  /* new acceptances */
	uint64_t declines_out; /* declines sent */
	uint64_t runs;	       /* run() calls (each id once) */
	uint64_t results_out;  /* result sends incl. retransmissions */
	uint64_t result_acked; /* results acknowledged by the origin */
	uint64_t result_lost;  /* gave up retransmitting */
	uint64_t withdrawn;    /* offers withdrawn by their origin */
	uint64_t expired;      /* stopped at the promise */
	/* both */
	uint64_t malformed; /* bodies that did not decode */
	uint64_t rejected;  /* decoded but refused (wrong sender,
			     * conflicting id, full table, ...) */
	uint64_t send_errors;
};

/* Target-side capacity accounting. */
struct offload_capacity {
	uint32_t cpu_milli, cpu_reserved;
	uint64_t mem_bytes, mem_reserved;
	uint32_t entries; /* open target entries */
};

struct offload;

/* Defaults: retry 500 ms, offer timeout 3 s, grace 2 s, run default 60 s,
 * result give-up 10 min, tombstones 10 min, 256 entries, no capacity. */
void offload_params_default(struct offload_params *p);

/* Make an instance for node `self` (copied), with io copied. Returns 0 and
 * *out, -EINVAL (send/redecide/completed missing, zero timers or
 * max_entries) or -ENOMEM. Free with offload_free (NULL-safe). */
int offload_new(const struct node_id *self, const struct offload_params *p,
		const struct offload_io *io, struct offload **out);
void offload_free(struct offload *o);
/* Change timers and capacity live (reservations stay). -EINVAL. */
int offload_set_params(struct offload *o, const struct offload_params *p);

/*
 * Origin: offer spec to `to` as decision d chose; queued_ms is how long
 * it already waited here. The spec is copied. Returns 0 (offer sent or
 * scheduled for retransmission), -EALREADY (an offer for this id is open),
 * -EINVAL (invalid spec, `to` is self or zero), -ENOSPC (table full).
 */
int offload_offer(struct offload *o, const struct node_id *to,
		  const struct workload_spec *spec,
		  const struct sched_decision *d, uint32_t queued_ms,
		  uint64_t now);

/*
 * A message of type 10-12 arrived from `from` (authenticated by the
 * transport). Returns 0 when handled, -EBADMSG/-EMSGSIZE (malformed,
 * counted), -ENOENT (unknown id, counted), -EPERM (refused, counted) or
 * -ENOMSG (not an offload type). Never keeps pointers into body.
 */
int offload_recv(struct offload *o, const struct node_id *from, uint32_t type,
		 const uint8_t *body, size_t len, uint64_t now);

/*
 * Target: the offloaded workload `id` finished (from the runtime).
 * exit_code 0 is DONE, anything else FAILED with reason (may be NULL).
 * energy_j is attributed energy (0 when unknown). The result is sent and
 * retransmitted until acknowledged. Returns 0, -ENOENT (not an offloaded
 * workload running here) or -EALREADY (already reported).
 */
int offload_finished(struct offload *o, const char *id, int32_t exit_code,
		     const char *reason, double energy_j, uint64_t now);

/* `peer` gossips agent generation `gen`: offers it accepted under an
 * older generation were lost with that agent (its runtime stops the runs
 * it hosted) and go back to the scheduler now. Returns how many. */
int offload_peer_generation(struct offload *o, const struct node_id *peer,
			    uint64_t gen, uint64_t now);

/* Membership declared `peer` dead: every open offer to it goes back to
 * the scheduler now. Returns how many. */
int offload_peer_dead(struct offload *o, const struct node_id *peer,
		      uint64_t now);

/* Run timers: retransmissions, timeouts, expiries, tombstone reaping. */
void offload_tick(struct offload *o, uint64_t now);
/* Earliest time offload_tick has something to do (UINT64_MAX: nothing). */
uint64_t offload_next_deadline(const struct offload *o);

/* True when the target side holds `id` (reserved/running/reporting). */
bool offload_is_hosting(const struct offload *o, const char *id);
/* True when the origin side has an open offer for `id`. */
bool offload_is_offered(const struct offload *o, const char *id);
/* Number of open origin offers. */
uint32_t offload_open(const struct offload *o);
void offload_capacity(const struct offload *o, struct offload_capacity *c);
const struct offload_stats *offload_stats(const struct offload *o);
const char *offload_redo_name(enum offload_redo r);

/* --- federated Q-sharing (offload_share.c) --- */

struct offload_share_params {
	uint32_t top_states;  /* most visited states exported per round */
	double max_influence; /* per entry and round, (0, 1] */
	uint32_t max_entries_per_round; /* merged from one sender per round */
	uint32_t max_senders; /* remembered senders (round tracking) */
	uint64_t round_base;  /* first round number - 1; rounds must grow
			       * across restarts (e.g. wall ms) or
			       * receivers drop them as stale */
};

struct offload_share_stats {
	uint64_t rounds; /* export rounds */
	uint64_t sent;	 /* datagrams sent */
	uint64_t entries_sent;
	uint64_t received;    /* shares received */
	uint64_t merged;      /* entries merged */
	uint64_t refused;     /* entries refused by sched_merge */
	uint64_t over_budget; /* entries beyond the per-round budget */
	uint64_t stale;	      /* shares of an older round */
	uint64_t foreign;     /* other table shape */
	uint64_t malformed;
};

struct offload_share;

/* top 64 states, influence 0.2, 4096 entries per sender and round, 64
 * senders. */
void offload_share_params_default(struct offload_share_params *p);
/* -EINVAL for out-of-range params, -ENOMEM. Free with offload_share_free. */
int offload_share_new(const struct offload_share_params *p,
		      struct offload_share **out);
void offload_share_free(struct offload_share *sh);
int offload_share_set_params(struct offload_share *sh,
			     const struct offload_share_params *p);

/*
 * One export round: the top_states most visited states of s (visited
 * cells only: state, action, q, visits; nothing about workloads) are
 * encoded into as many WIRE_Q_SHARE bodies of at most body_max bytes as
 * needed and sent to every peer through send. Returns datagrams sent per
 * peer (0 when nothing is learned yet) or -errno.
 */
int offload_share_export(struct offload_share *sh, const struct sched *s,
			 const struct node_id *peers, size_t n_peers,
			 size_t body_max,
			 int (*send)(void *ud, const struct node_id *to,
				     uint32_t type, const uint8_t *body,
				     size_t len),
			 void *ud);

/*
 * A Q_SHARE body from `from`: decode, check the table shape, drop shares
 * of a round older than the newest seen from that sender, cap the
 * entries merged from one sender per round, and merge with
 * sched_merge(max_influence). Returns entries merged (>= 0), -EBADMSG/
 * -EMSGSIZE (malformed), -EPROTO (other shape) or -ESTALE (older round);
 * all counted.
 */
int offload_share_recv(struct offload_share *sh, struct sched *s,
		       const struct node_id *from, const uint8_t *body,
		       size_t len);
const struct offload_share_stats *
offload_share_stats(const struct offload_share *sh);

#endif
