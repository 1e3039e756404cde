/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sched_model: a discrete-event model of one partition for scheduler
 * studies. Heterogeneous nodes (cores, hidden speed, hidden failure rate,
 * power per core), fixed link RTTs, and a seeded workload stream with
 * deadlines, bursts and mixed qos classes. Schedulers plug in as policies
 * and see only what an agent would see (load per core, RTT, node state);
 * the oracle alone may ask the model for the truth. Deterministic by seed.
 */
#ifndef FARNODE_SCHED_MODEL_H
#define FARNODE_SCHED_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sched.h"
#include "workload.h"

#define SMOD_NODES_MAX 16
#define SMOD_CORES_MAX 16
#define SMOD_CAND_MAX (1 + SCHED_K_MAX)

struct smod_node_spec {
	const char *name;
	uint32_t cores;
	double speed;         /* work per ms per core, 1.0 = reference */
	double fail_prob;     /* per job on this node */
	double watts_per_core; /* busy core power */
	double idle_watts;
};

struct smod_cfg {
	uint64_t seed;
	uint32_t n_nodes;
	struct smod_node_spec node[SMOD_NODES_MAX];
	double rtt_ms[SMOD_NODES_MAX][SMOD_NODES_MAX];
	double rate_per_s[SMOD_NODES_MAX]; /* base arrival rate per origin */
	uint32_t k;            /* candidate neighbours (nearest by RTT) */
	double duration_ms;    /* arrivals stop here */
	double burst_every_ms; /* mean gap between bursts per origin */
	double burst_len_ms;
	double burst_factor;   /* rate multiplier during a burst */
	double defer_ms;       /* a deferred job comes back after this */
	uint32_t max_defers;   /* further defers count as rejects */
	double offload_joules; /* energy of moving a workload */
	double window_ms;      /* learning curve window */
	double gossip_ms;      /* neighbours' load is this stale at most
				* (0: exact); a node knows its own load */
};

/* The default study partition (6 nodes, K = 3). */
void smod_cfg_default(struct smod_cfg *c, uint64_t seed);

struct smod_job {
	uint64_t seq;
	uint32_t origin;
	double arrival_ms;   /* first arrival at the origin */
	double work_ms;      /* service time at speed 1.0 */
	uint32_t deadline_ms;
	enum qos_class qos;
	enum perf_profile profile;
	uint64_t mem_bytes;
	uint32_t defers;
};

/* What a decision may see. cand[0] is the origin; cand[1..] are its
 * neighbours ranked by RTT (a stable order), as in the agent. */
struct smod_view {
	uint32_t origin;
	double now_ms;
	uint32_t n_cand;
	uint32_t cand[SMOD_CAND_MAX];
	double load[SMOD_CAND_MAX];   /* demand per core, as gossiped */
	double rtt_ms[SMOD_CAND_MAX]; /* 0 for the origin */
};

/* A policy's answer: a candidate index, or one of these. */
#define SMOD_DEFER (-1)
#define SMOD_REJECT (-2)

struct smod;

struct smod_policy {
	const char *name;
	void *ud;
	/* Return a candidate index (0 = local) or SMOD_DEFER/SMOD_REJECT;
	 * *token is handed back with the outcome. */
	int (*decide)(void *ud, struct smod *m, const struct smod_view *v,
		      const struct smod_job *j, uint64_t *token);
	/* Outcome of a decision, delivered at the origin when it is known
	 * (completion/failure back at the origin, or at once for
	 * reject/defer). v is the origin's view at that time. May be NULL. */
	void (*outcome)(void *ud, struct smod *m, const struct smod_view *v,
			const struct smod_job *j, uint64_t token,
			const struct sched_outcome *o);
	/* Optional: called every period_ms of simulated time. */
	double period_ms;
	void (*periodic)(void *ud, struct smod *m, double now_ms);
};

#define SMOD_CURVE_MAX 4096

struct smod_result {
	char name[32];
	uint64_t jobs;      /* arrivals counted (after warm-up) */
	uint64_t met;
	uint64_t missed;    /* completed late */
	uint64_t failed;
	uint64_t rejected;
	uint64_t offloaded;
	uint64_t deferred;  /* defer decisions */
	double met_ratio;
	double mean_latency_ms; /* completed jobs */
	double p99_latency_ms;
	double energy_j;        /* total, all jobs after warm-up */
	double energy_per_job_j;
	double met_gold, met_silver, met_be; /* per-class met ratios */
	uint32_t n_curve;
	double curve[SMOD_CURVE_MAX]; /* met ratio per window, whole run */
};

/* Make a model for cfg. Returns NULL on bad cfg or memory. */
struct smod *smod_new(const struct smod_cfg *cfg);
void smod_free(struct smod *m);
const struct smod_cfg *smod_cfg(const struct smod *m);

/* Run the whole stream through policy p; jobs arriving before warmup_ms
 * are simulated but not counted in the totals. Deterministic: the same
 * cfg and policy state give the same result. Returns 0 or -ENOMEM. */
int smod_run(struct smod *m, const struct smod_policy *p, double warmup_ms,
	     struct smod_result *out);

/* Oracle access: exact latency at the origin if j were placed on cand
 * index c now, and whether it would fail there. */
double smod_predict(const struct smod *m, const struct smod_view *v,
		    const struct smod_job *j, uint32_t c, bool *fails);

/* Fill a node_state for candidate c of view v as the origin knows it
 * (its load from the view, power, memory; never speed or failure rate). */
void smod_node_state(const struct smod *m, const struct smod_view *v,
		     uint32_t c, struct node_state *ns);

/* --- policies (sched_policies.c) --- */

struct smod_baseline; /* random, round-robin, least-loaded, p2c, oracle */
enum smod_baseline_kind {
	SMOD_RANDOM,
	SMOD_ROUND_ROBIN,
	SMOD_LEAST_LOADED,
	SMOD_P2C,
	SMOD_ORACLE,
};
struct smod_baseline *smod_baseline_new(enum smod_baseline_kind k,
					uint64_t seed, struct smod_policy *p);
void smod_baseline_free(struct smod_baseline *b);

/* farnode Q-learning: one real sched core per node. */
struct smod_qpolicy;
struct smod_qpolicy *smod_qpolicy_new(const struct smod_cfg *cfg,
				      const struct sched_params *params,
				      uint64_t seed, struct smod_policy *p);
void smod_qpolicy_free(struct smod_qpolicy *q);
/* Live federation: every period_ms each node merges the top_n most
 * visited states' shares of every other node (bounded influence). */
void smod_qpolicy_federate(struct smod_qpolicy *q, struct smod_policy *p,
			   double period_ms, uint32_t top_n,
			   double max_influence);
/* The core of node i (borrowed). */
struct sched *smod_qpolicy_sched(struct smod_qpolicy *q, uint32_t i);

/* The parameters the study uses for the sim (defaults + sim tuning). */
void smod_qparams(struct sched_params *p, const struct smod_cfg *cfg);

/* Print a result row / CSV row. */
void smod_result_print(FILE *f, const struct smod_result *r);
void smod_result_csv_header(FILE *f);
void smod_result_csv(FILE *f, const struct smod_result *r);

#endif
