// SPDX-License-Identifier: Apache-2.0
// policy: lifetime of the policy/desired-state value types, overlaying a
// policy onto scheduler parameters, and the acceptance checks every bundle
// passes after its signature (version moves forward, not expired, ours).

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

void policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
}

void policy_fini(struct policy *p)
{
	if (p == NULL) {
		return;
	}
	free(p->prior);
	memset(p, 0, sizeof(*p));
}

void desired_state_init(struct desired_state *d)
{
	memset(d, 0, sizeof(*d));
}

void desired_state_fini(struct desired_state *d)
{
	if (d == NULL) {
		return;
	}
	free(d->workloads);
	memset(d, 0, sizeof(*d));
}

void policy_apply(const struct policy *p, struct sched_params *params)
{
	if (p->has_hyper) {
		params->alpha = p->hyper.alpha;
		params->gamma = p->hyper.gamma;
		params->epsilon = p->hyper.epsilon;
		params->epsilon_min = p->hyper.epsilon_min;
		params->epsilon_decay = p->hyper.epsilon_decay;
		params->q_init = p->hyper.q_init;
		params->neighbours_k = p->hyper.neighbours_k;
		params->hot_temp_c = p->hyper.hot_temp_c;
	}
	for (uint32_t i = 0; i < p->n_masks && i < 3; i++) {
		if ((unsigned)p->masks[i].qos < 3) {
			params->policy_forbid[p->masks[i].qos] =
			    p->masks[i].forbid;
		}
	}
	if (p->has_reward) {
		params->reward_met = p->reward.met;
		params->reward_missed = p->reward.missed;
		params->reward_failed = p->reward.failed;
		params->reward_rejected = p->reward.rejected;
		params->reward_deferred = p->reward.deferred;
		for (int i = 0; i < 3; i++) {
			params->class_weight[i] = p->reward.class_weight[i];
			params->w_latency[i] = p->reward.w_latency[i];
			params->w_energy[i] = p->reward.w_energy[i];
			params->w_failure[i] = p->reward.w_failure[i];
		}
		params->latency_ref_ms = p->reward.latency_ref_ms;
		params->energy_ref_j = p->reward.energy_ref_j;
	}
}

static int common_check(uint64_t version, const char *bpart,
			uint64_t expires_ms, const char *partition,
			uint64_t current_version, uint64_t now_ms, char *why,
			size_t why_len)
{
	if (version <= current_version) {
		if (why != NULL) {
			snprintf(why, why_len,
				 "version %" PRIu64
				 " is not newer than %" PRIu64,
				 version, current_version);
		}
		return -ESTALE;
	}
	if (expires_ms != 0 && expires_ms <= now_ms) {
		if (why != NULL) {
			snprintf(why, why_len, "expired at %" PRIu64 " ms",
				 expires_ms);
		}
		return -ETIME;
	}
	if (partition != NULL && strcmp(bpart, partition) != 0) {
		if (why != NULL) {
			snprintf(why, why_len, "for partition '%s', not '%s'",
				 bpart, partition);
		}
		return -EXDEV;
	}
	return 0;
}

int policy_check(const struct policy *p, const char *partition,
		 uint64_t current_version, uint64_t now_ms, char *why,
		 size_t why_len)
{
	return common_check(p->version, p->partition, p->expires_ms, partition,
			    current_version, now_ms, why, why_len);
}

int desired_state_check(const struct desired_state *d, const char *partition,
			const struct node_id *self, uint64_t current_version,
			uint64_t now_ms, char *why, size_t why_len)
{
	int rc = common_check(d->version, d->partition, d->expires_ms,
			      partition, current_version, now_ms, why, why_len);

	if (rc == 0 && !node_id_equal(&d->node, self)) {
		if (why != NULL) {
			snprintf(why, why_len, "meant for another node");
		}
		rc = -EXDEV;
	}
	return rc;
}
