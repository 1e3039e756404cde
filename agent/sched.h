/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sched: the pure placement core (DESIGN §7). Discretises a snapshot of the
 * node and its ranked neighbours into a state index, masks actions by policy
 * and workload constraints, picks an action ε-greedily from an in-memory
 * Q-table and learns from observed outcomes. No I/O: persistence lives in
 * sched_store, the offload protocol and the libuv glue elsewhere.
 */
#ifndef FARNODE_SCHED_H
#define FARNODE_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "workload.h"

#define SCHED_K_MAX 8      /* neighbour ranks an action can name */
#define SCHED_EDGES_MAX 7  /* bucket edges per dimension (<= 8 buckets) */
#define SCHED_CELLS_MAX (1u << 22) /* bound on states * actions */

/* Action kinds. Action index: 0 local, 1..K offload to rank, K+1 defer,
 * K+2 reject. */
enum sched_kind {
	SCHED_LOCAL = 0,
	SCHED_OFFLOAD = 1,
	SCHED_DEFER = 2,
	SCHED_REJECT = 3,
};

/* Policy bits: a set bit forbids every action of that kind. */
#define SCHED_FORBID_LOCAL (1u << SCHED_LOCAL)
#define SCHED_FORBID_OFFLOAD (1u << SCHED_OFFLOAD)
#define SCHED_FORBID_DEFER (1u << SCHED_DEFER)
#define SCHED_FORBID_REJECT (1u << SCHED_REJECT)

/* Strictly increasing bucket edges: value v falls in bucket
 * #{edges e : v >= e}; NaN and unknown values fall in the last bucket. */
struct sched_edges {
	uint32_t n;
	double v[SCHED_EDGES_MAX];
};

struct sched_params {
	/* learning */
	double alpha;         /* learning rate, (0, 1] */
	double gamma;         /* discount, [0, 1) */
	double epsilon;       /* initial exploration probability, [0, 1] */
	double epsilon_min;   /* floor, [0, epsilon] */
	double epsilon_decay; /* factor per decision, (0, 1] */
	double q_init;        /* value of unvisited cells */
	uint32_t neighbours_k; /* offload ranks, 0..SCHED_K_MAX */
	/* neighbour ranking (see sched_decide) */
	bool rank_learned;  /* rank by learned per-neighbour value */
	double rank_alpha;  /* step floor of those values, (0, 1] */
	/* state discretisation */
	struct sched_edges cpu_load;  /* local demand per core (see below) */
	struct sched_edges mem_used;  /* local memory used fraction */
	struct sched_edges nb_load;   /* rank-1 neighbour demand per core */
	struct sched_edges nb_rtt_ms; /* rank-1 neighbour RTT */
	/* masks */
	double hot_temp_c; /* a node at/above this is "hot" */
	double defer_ms;   /* how long a deferral waits; deadlines at or
			    * below it cannot be deferred */
	uint32_t policy_forbid[3]; /* per qos class, SCHED_FORBID_* bits */
	/* reward (see sched_reward) */
	double reward_met;      /* completed within the deadline */
	double reward_missed;   /* completed late */
	double reward_failed;   /* the workload failed */
	double reward_rejected; /* rejected by this decision */
	double reward_deferred; /* deferred (the next decision follows) */
	double class_weight[3]; /* multiplies penalties per qos class */
	double w_latency[3];    /* per perf_profile */
	double w_energy[3];
	double w_failure[3];
	double latency_ref_ms;  /* latency scale when there is no deadline */
	double energy_ref_j;    /* energy scale */
};

/* A neighbour as the snapshot sees it (borrowed by the snapshot). */
struct sched_neighbour {
	struct node_id id;
	struct node_state node;
	struct link_state link;
};

/*
 * What a decision sees. Neighbours come in the caller's order (by RTT in
 * the agent). Without rank_learned, action "offload rank r" names nb[r-1].
 * With rank_learned (the default) the core first orders them by what it
 * has learned about each neighbour at its current load (see sched_decide)
 * and "rank r" is the r-th best of that order; the decision says which
 * nb[] entry that was.
 */
struct sched_snapshot {
	const struct node_state *local;
	const struct sched_neighbour *nb;
	uint32_t n_nb;
	bool uplink_up;
	uint32_t forbid; /* SCHED_FORBID_* bits the caller adds (0: none) */
};

struct sched_decision {
	uint32_t state;
	uint32_t action;
	enum sched_kind kind;
	uint32_t rank;     /* 1..K for SCHED_OFFLOAD, else 0 */
	uint32_t allowed;  /* bit a set: action a was permitted */
	double epsilon;    /* exploration probability used */
	bool explored;     /* chosen at random among the permitted */
	bool fallback;     /* everything was masked; see sched_decide */
	int32_t nb_index;  /* offload: index into snapshot nb[], else -1 */
	uint32_t nb_bucket; /* offload: that neighbour's load bucket */
	struct node_id nb_id; /* offload: that neighbour's id */
	char why[256];     /* reason when fallback */
};

enum sched_result {
	SCHED_OUT_DONE = 0,     /* completed (deadline_met says how) */
	SCHED_OUT_FAILED = 1,   /* failed or lost */
	SCHED_OUT_REJECTED = 2, /* the decision rejected it */
	SCHED_OUT_DEFERRED = 3, /* the decision deferred it */
};

struct sched_outcome {
	enum sched_result result;
	bool deadline_met;
	double latency_ms; /* arrival to completion/failure */
	double energy_j;   /* energy attributed to the workload */
};

struct sched_stats {
	uint64_t decisions;
	uint64_t explored;
	uint64_t all_masked;       /* decisions with nothing permitted */
	uint64_t updates;          /* accepted Q updates */
	uint64_t rewards_rejected; /* NaN/inf/out-of-range learn calls */
	uint64_t merged;           /* share entries merged */
	uint64_t merge_rejected;   /* share entries refused */
};

struct sched;

/* Fill p with the documented defaults. Cannot fail. */
void sched_params_default(struct sched_params *p);
/* Check ranges and edge ordering. Returns 0 or -EINVAL with a reason in
 * why (may be NULL). */
int sched_params_validate(const struct sched_params *p, char *why,
			  size_t why_len);

/* Make a scheduler with a copy of p and an rng seeded with seed. All cells
 * start at q_init with zero visits. Returns 0 and *out, or -EINVAL (bad
 * params) / -ENOMEM. Free with sched_free. */
int sched_new(const struct sched_params *p, uint64_t seed, struct sched **out);
void sched_free(struct sched *s);

/* Replace the learning hyper-parameters (alpha, gamma, epsilon*, rewards,
 * masks) live; the shape (edges, K) must not change: -EBUSY if it does,
 * -EINVAL if p is invalid. The exploration schedule restarts at
 * p->epsilon. */
int sched_set_params(struct sched *s, const struct sched_params *p);
const struct sched_params *sched_params(const struct sched *s);

uint32_t sched_n_states(const struct sched *s);
uint32_t sched_n_actions(const struct sched *s);
/* Buckets per dimension in index order: cpu, mem, nb load, nb rtt, qos
 * class, uplink. n must be 6. */
void sched_dims(const struct sched *s, uint32_t dims[6]);
/* A hash of the shape (dimensions, edges, K): tables with different
 * fingerprints index different states. */
uint32_t sched_fingerprint(const struct sched *s);

/* Describe a state index as "cpu=B mem=B nbload=B rtt=B qos=Q uplink=U"
 * (bucket numbers, 0 = lowest). Returns buf. */
const char *sched_state_describe(const struct sched *s, uint32_t state,
				 char *buf, size_t len);

/* Demand per core of a node: max(1 - cpu_free, workloads_running / cores),
 * > 1 when oversubscribed. Unknown values count as fully loaded. */
double sched_node_load(const struct node_state *n);
/* Bucket of v under e. */
uint32_t sched_bucket(const struct sched_edges *e, double v);

/* State index of (snapshot, workload), after the same ranking
 * sched_decide applies. Returns 0 or -EINVAL (NULL local). */
int sched_state(const struct sched *s, const struct sched_snapshot *snap,
		const struct workload_spec *w, uint32_t *state);
/* Bitmask of permitted actions (bit a = action a; ranks after ranking);
 * 0 means all masked. */
uint32_t sched_mask(const struct sched *s, const struct sched_snapshot *snap,
		    const struct workload_spec *w);
/* Action index helpers and names ("local", "offload:2", "defer",
 * "reject"; buf of >= 16 bytes). */
enum sched_kind sched_action_kind(const struct sched *s, uint32_t action,
				  uint32_t *rank);
uint32_t sched_action_of(const struct sched *s, enum sched_kind k,
			 uint32_t rank);
const char *sched_action_name(const struct sched *s, uint32_t action,
			      char *buf, size_t len);

/* Current exploration probability. */
double sched_epsilon(const struct sched *s);

/*
 * Choose an action. With rank_learned, neighbours are first ordered by
 * their learned value V(neighbour, qos class, its load bucket), highest
 * first (unvisited cells count as reward_met, so each is tried; ties keep
 * the caller's order), and the top K become ranks 1..K. Then ε-greedy
 * over the permitted actions (ties go to the lowest index) and ε decays
 * towards its floor. When every action is
 * masked, *out is the safe fallback (reject: nothing runs, nothing moves),
 * out->fallback is set with a reason and -EPERM is returned. -EINVAL for a
 * bad snapshot.
 */
int sched_decide(struct sched *s, const struct sched_snapshot *snap,
		 const struct workload_spec *w, struct sched_decision *out);

/* Reward of an outcome for w, weighted by w's performance profile and qos
 * class. May be non-finite if the outcome carries non-finite numbers. */
double sched_reward(const struct sched *s, const struct workload_spec *w,
		    const struct sched_outcome *o);

/*
 * Q(state, action) += α (reward + γ max_a' Q(next, a') − Q(state, action));
 * visits(state, action) += 1; the cell becomes dirty. next may be
 * UINT32_MAX for a terminal update (no bootstrap). Non-finite rewards, out
 * of range indices and results that would overflow are refused with
 * -EINVAL and counted in stats.rewards_rejected; the table is unchanged.
 */
int sched_learn(struct sched *s, uint32_t state, uint32_t action,
		double reward, uint32_t next);
/* sched_reward then sched_learn for a decision; for an offload also
 * moves the neighbour's value V towards the reward (step max(rank_alpha,
 * 1/n)). */
int sched_observe(struct sched *s, const struct sched_decision *d,
		  const struct workload_spec *w, const struct sched_outcome *o,
		  uint32_t next);

/* Learned value of a neighbour for a qos class and load bucket: 0 and
 * *v, *n, or -ENOENT if never seen. */
int sched_neighbour_value(const struct sched *s, const struct node_id *id,
			  enum qos_class q, uint32_t bucket, double *v,
			  uint32_t *n);
/* Move V(id, q, bucket) towards reward (what sched_observe does for
 * offloads). -EINVAL for non-finite reward or bad bucket. */
int sched_neighbour_learn(struct sched *s, const struct node_id *id,
			  enum qos_class q, uint32_t bucket, double reward);

/* Read one cell. Returns 0 or -ERANGE. */
int sched_q_get(const struct sched *s, uint32_t state, uint32_t action,
		double *q, uint32_t *visits);
/* Write one cell (finite q only; -EINVAL otherwise, -ERANGE for indices).
 * mark_dirty selects whether the store must write it back. */
int sched_q_set(struct sched *s, uint32_t state, uint32_t action, double q,
		uint32_t visits, bool mark_dirty);
/* Reset every cell to q_init / 0 visits and mark nothing dirty. */
void sched_q_clear(struct sched *s);

/* Dirty set: cell indices (state * n_actions + action) changed since the
 * last sched_dirty_clear, in first-change order. Borrowed array. */
size_t sched_dirty(const struct sched *s, const uint32_t **cells);
void sched_dirty_clear(struct sched *s);

const struct sched_stats *sched_stats(const struct sched *s);

/* --- Q-shares, federated merge (sched_share.c) --- */

struct sched_share {
	uint32_t state;
	uint32_t action;
	double q;
	uint32_t visits;
};

/*
 * Export the visited cells of the top_n most visited states (by total
 * visits; ties by lower state index; top_n 0 = all) into out, at most max
 * entries, most visited state first. Returns the number written (0 also
 * when the ranking scratch of n_states entries cannot be allocated).
 */
size_t sched_share_top(const struct sched *s, uint32_t top_n,
		       struct sched_share *out, size_t max);

struct sched_merge_result {
	uint32_t merged;
	uint32_t refused; /* out of range, non-finite, zero visits */
};

/*
 * Merge a neighbour's shares: for each entry with remote visits n_r and a
 * local cell (q_l, n_l), w = min(n_r / (n_l + n_r), max_influence) and
 * q_l += w (q_r − q_l). Local visit counts are unchanged (they count this
 * node's own experience, so shares echoed back are not counted twice).
 * max_influence in (0, 1]; -EINVAL otherwise. Bad entries are skipped and
 * counted, never applied.
 */
int sched_merge(struct sched *s, const struct sched_share *e, size_t n,
		double max_influence, struct sched_merge_result *res);

/* --- export/import file format (sched_share.c) --- */

#define SCHED_FILE_MAGIC "FNQT"
#define SCHED_FILE_VERSION 1

/* Bytes needed for a file of n entries. */
size_t sched_file_size(size_t n);
/* Encode shares into a file image (caller frees *buf). top_n 0 = all
 * visited cells. Returns 0 or -ENOMEM. */
int sched_export_encode(const struct sched *s, uint32_t top_n, uint8_t **buf,
			size_t *len);
/*
 * Decode and fully validate a file image against s's shape: magic,
 * version, fingerprint and dimensions, entry count bound, indices, finite
 * q, no duplicates, checksum. On success *out (caller frees) holds n
 * entries. On failure returns -EBADMSG (malformed), -EPROTO (foreign:
 * version/shape) or -ENOMEM, with a reason in why; nothing is allocated.
 */
int sched_import_decode(const struct sched *s, const uint8_t *p, size_t len,
			struct sched_share **out, size_t *n, char *why,
			size_t why_len);
/* Overwrite the named cells (q and visits), marking them dirty. Entries
 * must come from sched_import_decode. */
void sched_import_apply(struct sched *s, const struct sched_share *e,
			size_t n);
/* Write an export atomically (temp file + rename). 0 or negative errno. */
int sched_export_file(const struct sched *s, const char *path, uint32_t top_n,
		      char *why, size_t why_len);
/* Read (bounded), validate and apply a file; the table is untouched on any
 * error. Returns entries applied (>= 0) or a negative errno with why. */
int sched_import_file(struct sched *s, const char *path, char *why,
		      size_t why_len);

#endif
