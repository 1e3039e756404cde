/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy: the agent's form of the hub's signed policy and desired state
 * (proto/policy.proto, DESIGN §8). Plain value types filled by the wire
 * module after the bundle signature was verified; policy_apply() turns a
 * policy into scheduler parameters. Arrays that can be long (the Q prior,
 * the desired workloads) are heap-owned and freed by the _fini functions.
 */
#ifndef FARNODE_POLICY_H
#define FARNODE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "sched.h"
#include "workload.h"

#define POLICY_PARTITION_MAX  64    /* bytes including NUL */
#define POLICY_PRIOR_MAX      65536 /* Q prior entries */
#define DESIRED_WORKLOADS_MAX 256

/* Q-learning hyper-parameters (sched_params fields of the same names). */
struct policy_hyper {
	double alpha;
	double gamma;
	double epsilon;
	double epsilon_min;
	double epsilon_decay;
	double q_init;
	uint32_t neighbours_k;
	double hot_temp_c;
};

/* Reward shaping (sched_params reward_* and weight arrays). */
struct policy_reward {
	double met, missed, failed, rejected, deferred;
	double class_weight[3]; /* by enum qos_class */
	double w_latency[3];	/* by enum perf_profile */
	double w_energy[3];
	double w_failure[3];
	double latency_ref_ms;
	double energy_ref_j;
};

/* Actions forbidden for one qos class (SCHED_FORBID_* bits). */
struct policy_mask {
	enum qos_class qos;
	uint32_t forbid;
};

struct policy {
	uint64_t version;
	char partition[POLICY_PARTITION_MAX];
	uint64_t issued_ms;  /* wall clock ms since the epoch */
	uint64_t expires_ms; /* 0 = never */
	bool has_hyper;
	struct policy_hyper hyper;
	uint32_t n_masks;
	struct policy_mask masks[3];
	bool has_reward;
	struct policy_reward reward;
	bool has_prior;
	uint32_t prior_fingerprint; /* sched_fingerprint of the prior's table */
	uint64_t prior_round;
	size_t n_prior;
	struct sched_share *prior; /* owned, n_prior entries */
};

struct desired_state {
	uint64_t version;
	char partition[POLICY_PARTITION_MAX];
	struct node_id node;
	uint64_t issued_ms;
	uint64_t expires_ms; /* 0 = never */
	size_t n_workloads;
	struct workload_spec *workloads; /* owned, n_workloads entries */
};

/* Zero a policy / desired state. Cannot fail. */
void policy_init(struct policy *p);
/* Free owned arrays and zero again. NULL-safe. */
void policy_fini(struct policy *p);
void desired_state_init(struct desired_state *d);
void desired_state_fini(struct desired_state *d);

/*
 * Overlay what the policy sets (hyper-parameters, masks, reward weights)
 * onto params; fields the policy does not carry keep their value. The
 * result should go through sched_params_validate before use.
 */
void policy_apply(const struct policy *p, struct sched_params *params);

/*
 * Is the policy usable at wall-clock now_ms for partition and newer than
 * current_version? Returns 0, -ESTALE (version not newer), -ETIME
 * (expired), -EXDEV (other partition). why (may be NULL) gets a reason.
 */
int policy_check(const struct policy *p, const char *partition,
		 uint64_t current_version, uint64_t now_ms, char *why,
		 size_t why_len);
/* Same for desired state, which must also name this node (-EXDEV). */
int desired_state_check(const struct desired_state *d, const char *partition,
			const struct node_id *self, uint64_t current_version,
			uint64_t now_ms, char *why, size_t why_len);

#endif
