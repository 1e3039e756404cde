// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the sched core: discretisation edges, masks (including
 * everything masked), ε decay and floor, the update rule against hand
 * computation, reward shaping, NaN/inf refusal, shares, merge weights and
 * bound, and the export/import codec with its refusal cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "sched.h"

static void node_init(struct node_state *n, double cpu_free, uint32_t cores,
		      uint32_t running)
{
	memset(n, 0, sizeof(*n));
	n->cpu_free = cpu_free;
	n->cpu_cores = cores;
	n->workloads_running = running;
	n->mem_total_bytes = 1000;
	n->mem_free_bytes = 500;
	n->energy_watts = 5.0;
	n->temperature_c = 40.0;
}

static void spec_init(struct workload_spec *w, enum qos_class q)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->id, sizeof(w->id), "w1");
	w->qos = q;
	w->profile = PERF_LATENCY;
	w->max_delay_ms = 5000;
}

static struct sched *mk(struct sched_params *p)
{
	struct sched *s = NULL;
	assert_int_equal(sched_new(p, 42, &s), 0);
	assert_non_null(s);
	return s;
}

static void test_params_validate(void **st)
{
	(void)st;
	struct sched_params p;
	char why[128];
	sched_params_default(&p);
	assert_int_equal(sched_params_validate(&p, why, sizeof(why)), 0);
	p.alpha = 0.0;
	assert_int_equal(sched_params_validate(&p, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "alpha"));
	sched_params_default(&p);
	p.cpu_load.v[1] = p.cpu_load.v[0]; /* not strictly increasing */
	assert_int_equal(sched_params_validate(&p, why, sizeof(why)), -EINVAL);
	sched_params_default(&p);
	p.epsilon_min = p.epsilon + 0.1;
	assert_int_equal(sched_params_validate(&p, why, sizeof(why)), -EINVAL);
	sched_params_default(&p);
	p.neighbours_k = SCHED_K_MAX + 1;
	assert_int_equal(sched_params_validate(&p, why, sizeof(why)), -EINVAL);
	sched_params_default(&p);
	p.w_energy[1] = NAN;
	assert_int_equal(sched_params_validate(&p, why, sizeof(why)), -EINVAL);
	struct sched *s = (struct sched *)&p; /* poisoned on purpose */
	assert_int_equal(sched_new(&p, 1, &s), -EINVAL);
	assert_null(s);
}

static void test_bucket_edges(void **st)
{
	(void)st;
	struct sched_edges e = {3, {0.5, 0.9, 1.5}};
	assert_int_equal(sched_bucket(&e, 0.0), 0);
	assert_int_equal(sched_bucket(&e, 0.4999), 0);
	assert_int_equal(sched_bucket(&e, 0.5), 1); /* edge goes up */
	assert_int_equal(sched_bucket(&e, 0.8999), 1);
	assert_int_equal(sched_bucket(&e, 0.9), 2);
	assert_int_equal(sched_bucket(&e, 1.5), 3);
	assert_int_equal(sched_bucket(&e, 100.0), 3);
	assert_int_equal(sched_bucket(&e, -1.0), 0);
	assert_int_equal(sched_bucket(&e, NAN), 3);
	struct sched_edges none = {0, {0}};
	assert_int_equal(sched_bucket(&none, 7.0), 0);
}

static void test_node_load(void **st)
{
	(void)st;
	struct node_state n;
	node_init(&n, 0.75, 4, 0);
	assert_float_equal(sched_node_load(&n), 0.25, 1e-12);
	n.workloads_running = 6; /* oversubscribed: 1.5 per core */
	assert_float_equal(sched_node_load(&n), 1.5, 1e-12);
	n.cpu_free = -1.0; /* unknown utilisation, still demand 1.5 */
	assert_float_equal(sched_node_load(&n), 1.5, 1e-12);
	n.workloads_running = 0;
	assert_float_equal(sched_node_load(&n), 1.0, 1e-12);
}

static void test_state_index(void **st)
{
	(void)st;
	struct sched_params p;
	sched_params_default(&p);
	struct sched *s = mk(&p);
	uint32_t dims[6];
	sched_dims(s, dims);
	assert_int_equal(dims[0], 4);
	assert_int_equal(dims[1], 3);
	assert_int_equal(dims[2], 4);
	assert_int_equal(dims[3], 4);
	assert_int_equal(dims[4], 3);
	assert_int_equal(dims[5], 2);
	assert_int_equal(sched_n_states(s), 4 * 3 * 4 * 4 * 3 * 2);
	assert_int_equal(sched_n_actions(s), 6);

	struct node_state local;
	node_init(&local, 0.1, 4, 0); /* load 0.9 -> bucket 2 */
	local.mem_free_bytes = 50;    /* used 0.95 -> bucket 2 */
	struct sched_neighbour nb[2];
	memset(nb, 0, sizeof(nb));
	node_init(&nb[0].node, 0.5, 4, 0); /* load 0.5 -> bucket 1 */
	nb[0].link.rtt_ms = 20.0;          /* -> bucket 2 */
	node_init(&nb[1].node, 1.0, 4, 0);
	nb[1].link.rtt_ms = 1.0;
	struct sched_snapshot snap = {&local, nb, 2, true, 0};
	struct workload_spec w;
	spec_init(&w, QOS_SILVER);
	uint32_t idx = 0;
	assert_int_equal(sched_state(s, &snap, &w, &idx), 0);
	uint32_t want = ((((2 * 3 + 2) * 4 + 1) * 4 + 2) * 3 + 1) * 2 + 1;
	assert_int_equal(idx, want);

	/* Only rank 1 matters; the ranking is the caller's. */
	nb[1].link.rtt_ms = 500.0;
	assert_int_equal(sched_state(s, &snap, &w, &idx), 0);
	assert_int_equal(idx, want);

	/* No neighbours: worst buckets; unknown RTT: worst bucket. */
	snap.n_nb = 0;
	snap.uplink_up = false;
	w.qos = QOS_GOLD;
	assert_int_equal(sched_state(s, &snap, &w, &idx), 0);
	assert_int_equal(idx, ((((2 * 3 + 2) * 4 + 3) * 4 + 3) * 3 + 2) * 2);
	snap.n_nb = 1;
	nb[0].link.rtt_ms = -1.0;
	assert_int_equal(sched_state(s, &snap, &w, &idx), 0);
	assert_int_equal(idx % (3 * 2 * 4) / 6, 3);
	/* Memory total unknown: worst bucket. */
	local.mem_total_bytes = 0;
	assert_int_equal(sched_state(s, &snap, &w, &idx), 0);
	assert_int_equal(idx / (4 * 4 * 3 * 2) % 3, 2);

	char desc[96];
	assert_string_equal(sched_state_describe(s, want, desc, sizeof(desc)),
			    "cpu=2 mem=2 nbload=1 rtt=2 qos=silver uplink=up");
	assert_string_equal(sched_state_describe(s, 99999, desc, sizeof(desc)),
			    "invalid(99999)");
	snap.local = NULL;
	assert_int_equal(sched_state(s, &snap, &w, &idx), -EINVAL);
	assert_true(idx < sched_n_states(s));
	sched_free(s);
}

struct fixture {
	struct sched_params p;
	struct sched *s;
	struct node_state local;
	struct sched_neighbour nb[3];
	struct sched_snapshot snap;
	struct workload_spec w;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	sched_params_default(&f->p);
	f->p.neighbours_k = 3;
	node_init(&f->local, 0.5, 4, 0);
	for (int i = 0; i < 3; i++) {
		node_init(&f->nb[i].node, 0.5, 4, 0);
		f->nb[i].link.rtt_ms = 2.0 + i;
		f->nb[i].link.bandwidth_bps = -1.0;
	}
	f->snap.local = &f->local;
	f->snap.nb = f->nb;
	f->snap.n_nb = 3;
	f->snap.uplink_up = true;
	spec_init(&f->w, QOS_SILVER);
}

#define ALL_ACTIONS 0x3fu /* local, 3 offloads, defer, reject */

static void test_masks(void **st)
{
	(void)st;
	struct fixture f;
	fixture_init(&f);
	f.s = mk(&f.p);
	struct sched *s = f.s;
	assert_int_equal(sched_mask(s, &f.snap, &f.w), ALL_ACTIONS);

	/* Gold is never deferred. */
	f.w.qos = QOS_GOLD;
	assert_int_equal(sched_mask(s, &f.snap, &f.w), ALL_ACTIONS & ~0x10u);
	f.w.qos = QOS_SILVER;

	/* A deadline a deferral would consume: no defer. */
	f.w.max_delay_ms = (uint32_t)f.p.defer_ms;
	assert_int_equal(sched_mask(s, &f.snap, &f.w), ALL_ACTIONS & ~0x10u);
	f.w.max_delay_ms = 0; /* no deadline: may wait */
	assert_int_equal(sched_mask(s, &f.snap, &f.w), ALL_ACTIONS);
	f.w.max_delay_ms = 5000;

	/* Missing ranks are masked. */
	f.snap.n_nb = 1;
	assert_int_equal(sched_mask(s, &f.snap, &f.w), 0x33u);
	f.snap.n_nb = 3;

	/* Data locality: only nodes carrying every label. */
	f.w.n_locality = 1;
	snprintf(f.w.locality[0].key, NODE_LABEL_KEY_MAX, "zone");
	snprintf(f.w.locality[0].value, NODE_LABEL_VALUE_MAX, "a");
	assert_int_equal(sched_mask(s, &f.snap, &f.w), 0x30u);
	f.local.n_labels = 1;
	f.local.labels[0] = f.w.locality[0];
	f.nb[1].node.n_labels = 2;
	snprintf(f.nb[1].node.labels[0].key, NODE_LABEL_KEY_MAX, "x");
	f.nb[1].node.labels[1] = f.w.locality[0];
	assert_int_equal(sched_mask(s, &f.snap, &f.w), 0x35u);
	/* Same key, other value: no. */
	snprintf(f.nb[1].node.labels[1].value, NODE_LABEL_VALUE_MAX, "b");
	assert_int_equal(sched_mask(s, &f.snap, &f.w), 0x31u);
	f.w.n_locality = 0;

	/* Energy limit: high-power and hot nodes are out. */
	f.w.energy_limit_watts = 10.0;
	f.nb[0].node.energy_watts = 25.0;
	f.nb[2].node.temperature_c = f.p.hot_temp_c;
	assert_int_equal(sched_mask(s, &f.snap, &f.w), 0x35u);
	f.w.energy_limit_watts = 0.0; /* no limit: all back */
	assert_int_equal(sched_mask(s, &f.snap, &f.w), ALL_ACTIONS);

	/* Memory that does not fit, bandwidth below the floor. */
	f.w.mem_bytes = 600; /* nodes have 500 free */
	f.nb[1].node.mem_free_bytes = 800;
	assert_int_equal(sched_mask(s, &f.snap, &f.w), 0x34u);
	f.w.mem_bytes = 0;
	f.w.min_bandwidth_bps = 1000;
	f.nb[0].link.bandwidth_bps = 999.0;
	f.nb[2].link.bandwidth_bps = 1000.0;
	assert_int_equal(sched_mask(s, &f.snap, &f.w), 0x3du);
	sched_free(s);

	/* Policy masks per class. */
	fixture_init(&f);
	f.p.policy_forbid[QOS_SILVER] = SCHED_FORBID_OFFLOAD |
					SCHED_FORBID_REJECT;
	f.s = mk(&f.p);
	assert_int_equal(sched_mask(f.s, &f.snap, &f.w), 0x11u);
	f.w.qos = QOS_BESTEFFORT;
	assert_int_equal(sched_mask(f.s, &f.snap, &f.w), ALL_ACTIONS);
	sched_free(f.s);
}

static void test_all_masked(void **st)
{
	(void)st;
	struct fixture f;
	fixture_init(&f);
	f.p.policy_forbid[QOS_GOLD] = SCHED_FORBID_LOCAL |
				      SCHED_FORBID_OFFLOAD |
				      SCHED_FORBID_REJECT;
	f.s = mk(&f.p);
	f.w.qos = QOS_GOLD; /* defer is impossible for Gold anyway */
	struct sched_decision d;
	assert_int_equal(sched_mask(f.s, &f.snap, &f.w), 0);
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), -EPERM);
	assert_true(d.fallback);
	assert_int_equal(d.kind, SCHED_REJECT);
	assert_int_equal(d.action, 5);
	assert_int_equal(d.allowed, 0);
	assert_non_null(strstr(d.why, "every action masked"));
	assert_non_null(strstr(d.why, "gold"));
	assert_int_equal(sched_stats(f.s)->all_masked, 1);
	assert_int_equal(sched_stats(f.s)->decisions, 1);
	/* A normal decision afterwards is not a fallback. */
	f.w.qos = QOS_SILVER;
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_false(d.fallback);
	assert_int_equal(sched_stats(f.s)->all_masked, 1);
	sched_free(f.s);
}

static void test_epsilon_decay_floor(void **st)
{
	(void)st;
	struct fixture f;
	fixture_init(&f);
	f.p.epsilon = 0.5;
	f.p.epsilon_decay = 0.5;
	f.p.epsilon_min = 0.1;
	f.s = mk(&f.p);
	struct sched_decision d;
	double want_used[] = {0.5, 0.25, 0.125, 0.1, 0.1, 0.1};
	for (int i = 0; i < 6; i++) {
		assert_float_equal(sched_epsilon(f.s), want_used[i], 1e-12);
		assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
		assert_float_equal(d.epsilon, want_used[i], 1e-12);
	}
	assert_float_equal(sched_epsilon(f.s), 0.1, 1e-12);
	/* A live parameter change restarts the schedule. */
	f.p.epsilon = 0.4;
	assert_int_equal(sched_set_params(f.s, &f.p), 0);
	assert_float_equal(sched_epsilon(f.s), 0.4, 1e-12);
	/* ...but cannot change the shape. */
	f.p.neighbours_k = 2;
	assert_int_equal(sched_set_params(f.s, &f.p), -EBUSY);
	sched_free(f.s);
}

static void test_exploration_and_greedy(void **st)
{
	(void)st;
	struct fixture f;
	fixture_init(&f);
	f.p.epsilon = 1.0;
	f.p.epsilon_decay = 1.0;
	f.p.epsilon_min = 1.0;
	f.s = mk(&f.p);
	f.snap.n_nb = 1; /* permitted: local, offload 1, defer, reject */
	uint32_t seen = 0;
	struct sched_decision d;
	for (int i = 0; i < 400; i++) {
		assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
		assert_true(d.explored);
		assert_true(d.allowed & (1u << d.action));
		seen |= 1u << d.action;
	}
	assert_int_equal(seen, 0x33u);
	sched_free(f.s);

	/* Greedy: the best permitted value wins, ties to the lowest. */
	fixture_init(&f);
	f.p.epsilon = 0.0;
	f.p.epsilon_min = 0.0;
	f.s = mk(&f.p);
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_int_equal(d.action, 0); /* cold table: local */
	assert_false(d.explored);
	assert_int_equal(sched_q_set(f.s, d.state, 2, 0.7, 1, false), 0);
	assert_int_equal(sched_q_set(f.s, d.state, 3, 0.9, 1, false), 0);
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_int_equal(d.action, 3);
	assert_int_equal(d.kind, SCHED_OFFLOAD);
	assert_int_equal(d.rank, 3);
	f.snap.n_nb = 2; /* rank 3 masked: next best permitted */
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_int_equal(d.action, 2);
	char name[16];
	assert_string_equal(sched_action_name(f.s, 2, name, sizeof(name)),
			    "offload:2");
	assert_string_equal(sched_action_name(f.s, 4, name, sizeof(name)),
			    "defer");
	assert_int_equal(sched_action_of(f.s, SCHED_REJECT, 0), 5);

	/* An untried rejection is worth its known reward, not q_init: once
	 * every other permitted action went slightly wrong, greedy still
	 * does not give the workload up... */
	for (uint32_t a = 0; a < 5; a++) {
		assert_int_equal(sched_q_set(f.s, d.state, a, -0.01, 1, false),
				 0);
	}
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_true(d.kind != SCHED_REJECT);
	/* ...but when they are worse than giving up, it gives up */
	for (uint32_t a = 0; a < 5; a++) {
		assert_int_equal(sched_q_set(f.s, d.state, a, -5.0, 1, false),
				 0);
	}
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_int_equal(d.kind, SCHED_REJECT);

	/* the caller may forbid more (placement: no deferral once patience
	 * is used up): the best of what is left wins */
	assert_int_equal(sched_q_set(f.s, d.state, 4, 3.0, 1, false), 0);
	assert_int_equal(sched_q_set(f.s, d.state, 1, 2.0, 1, false), 0);
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_int_equal(d.kind, SCHED_DEFER);
	f.snap.forbid = SCHED_FORBID_DEFER;
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_false(d.allowed & (1u << 4));
	assert_int_equal(d.kind, SCHED_OFFLOAD);
	assert_int_equal(d.rank, 1);
	f.snap.forbid = 0;
	sched_free(f.s);
}

static void test_learned_ranking(void **st)
{
	(void)st;
	struct fixture f;
	fixture_init(&f);
	f.p.epsilon = 0.0;
	f.p.epsilon_min = 0.0;
	f.s = mk(&f.p);
	for (int i = 0; i < 3; i++) {
		f.nb[i].id.b[0] = (uint8_t)(i + 1);
	}
	/* Local is worth less than any offload in this state. */
	struct sched_decision d;
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_int_equal(sched_q_set(f.s, d.state, 0, -5.0, 1, false), 0);
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	/* Nothing learned: all optimistic, caller's order kept. */
	assert_int_equal(d.kind, SCHED_OFFLOAD);
	assert_int_equal(d.rank, 1);
	assert_int_equal(d.nb_index, 0);
	assert_int_equal(d.nb_id.b[0], 1);
	assert_int_equal(d.nb_bucket, 1); /* load 0.5 */
	/* A bad outcome through neighbour 1 sends rank 1 to neighbour 2. */
	struct sched_outcome bad = {SCHED_OUT_FAILED, false, 100.0, 0.0};
	assert_int_equal(sched_observe(f.s, &d, &f.w, &bad, UINT32_MAX), 0);
	double v;
	uint32_t n;
	assert_int_equal(sched_neighbour_value(f.s, &f.nb[0].id, f.w.qos, 1,
					       &v, &n),
			 0);
	assert_int_equal(n, 1);
	assert_float_equal(v, sched_reward(f.s, &f.w, &bad), 1e-12);
	assert_int_equal(sched_neighbour_value(f.s, &f.nb[1].id, f.w.qos, 1,
					       &v, &n),
			 -ENOENT);
	/* The table's rank-1 cell took the penalty too; restore it so the
	 * ranking alone is seen. */
	assert_int_equal(sched_q_set(f.s, d.state, 1, 1.0, 1, false), 0);
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_int_equal(d.rank, 1);
	assert_int_equal(d.nb_index, 1);
	/* sched_state ranks the same way sched_decide does. */
	uint32_t st3;
	assert_int_equal(sched_state(f.s, &f.snap, &f.w, &st3), 0);
	assert_int_equal(st3, d.state);
	/* Learned values are per load bucket: at another load it is
	 * unvisited again, so optimistic and first in the caller's order. */
	f.nb[0].node.cpu_free = 0.9; /* load 0.1 -> bucket 0 */
	assert_int_equal(sched_state(f.s, &f.snap, &f.w, &st3), 0);
	assert_int_equal(sched_q_set(f.s, st3, 0, -5.0, 1, false), 0);
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_int_equal(d.nb_index, 0);
	assert_int_equal(d.nb_bucket, 0);
	/* Step: 1/n first, then the rank_alpha floor. */
	struct node_id x = {{9}};
	assert_int_equal(sched_neighbour_learn(f.s, &x, QOS_GOLD, 2, 1.0), 0);
	assert_int_equal(sched_neighbour_learn(f.s, &x, QOS_GOLD, 2, 0.0), 0);
	assert_int_equal(sched_neighbour_value(f.s, &x, QOS_GOLD, 2, &v, &n),
			 0);
	assert_float_equal(v, 0.5, 1e-12);
	for (int i = 0; i < 20; i++) {
		sched_neighbour_learn(f.s, &x, QOS_GOLD, 2, 0.0);
	}
	sched_neighbour_value(f.s, &x, QOS_GOLD, 2, &v, &n);
	/* steps 1/3 .. 1/10 telescope to 2/10, then twelve steps of 0.1 */
	assert_float_equal(v, 0.5 * 0.2 * pow(0.9, 12), 1e-12);
	assert_int_equal(n, 22);
	assert_int_equal(sched_neighbour_learn(f.s, &x, QOS_GOLD, 2, NAN),
			 -EINVAL);
	assert_int_equal(sched_neighbour_learn(f.s, &x, QOS_GOLD, 99, 1.0),
			 -EINVAL);
	sched_free(f.s);

	/* rank_learned off: the caller's order, whatever was learned. */
	fixture_init(&f);
	f.p.rank_learned = false;
	f.p.epsilon = 0.0;
	f.p.epsilon_min = 0.0;
	f.s = mk(&f.p);
	for (int i = 0; i < 3; i++) {
		f.nb[i].id.b[0] = (uint8_t)(i + 1);
	}
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	sched_q_set(f.s, d.state, 0, -5.0, 1, false);
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_int_equal(d.nb_index, 0);
	assert_int_equal(sched_observe(f.s, &d, &f.w, &bad, UINT32_MAX), 0);
	assert_int_equal(sched_q_set(f.s, d.state, 1, 1.0, 1, false), 0);
	assert_int_equal(sched_decide(f.s, &f.snap, &f.w, &d), 0);
	assert_int_equal(d.nb_index, 0);
	assert_int_equal(d.rank, 1);
	sched_free(f.s);
}

static void test_update_rule(void **st)
{
	(void)st;
	struct sched_params p;
	sched_params_default(&p);
	p.alpha = 0.5;
	p.gamma = 0.9;
	struct sched *s = mk(&p);
	uint32_t sa = 10, sn = 11;
	/* next row max = 3.0 */
	assert_int_equal(sched_q_set(s, sn, 0, 1.0, 0, false), 0);
	assert_int_equal(sched_q_set(s, sn, 1, 3.0, 0, false), 0);
	assert_int_equal(sched_q_set(s, sn, 4, -2.0, 0, false), 0);
	assert_int_equal(sched_q_set(s, sa, 2, 1.0, 0, false), 0);
	const uint32_t *cells;
	assert_int_equal(sched_dirty(s, &cells), 0);
	/* 1 + 0.5 * (2 + 0.9 * 3 - 1) = 2.85 */
	assert_int_equal(sched_learn(s, sa, 2, 2.0, sn), 0);
	double q;
	uint32_t v;
	assert_int_equal(sched_q_get(s, sa, 2, &q, &v), 0);
	assert_float_equal(q, 2.85, 1e-12);
	assert_int_equal(v, 1);
	/* 2.85 + 0.5 * (-1 + 2.7 - 2.85) = 2.275 */
	assert_int_equal(sched_learn(s, sa, 2, -1.0, sn), 0);
	assert_int_equal(sched_q_get(s, sa, 2, &q, &v), 0);
	assert_float_equal(q, 2.275, 1e-12);
	assert_int_equal(v, 2);
	/* Terminal: 0 + 0.5 * (4 - 0) = 2 */
	assert_int_equal(sched_learn(s, sa, 3, 4.0, UINT32_MAX), 0);
	assert_int_equal(sched_q_get(s, sa, 3, &q, &v), 0);
	assert_float_equal(q, 2.0, 1e-12);
	/* Dirty set: two cells, first-change order, no duplicates. */
	assert_int_equal(sched_dirty(s, &cells), 2);
	assert_int_equal(cells[0], sa * 6 + 2);
	assert_int_equal(cells[1], sa * 6 + 3);
	sched_dirty_clear(s);
	assert_int_equal(sched_dirty(s, &cells), 0);
	assert_int_equal(sched_stats(s)->updates, 3);
	assert_int_equal(sched_q_get(s, sched_n_states(s), 0, &q, &v), -ERANGE);
	sched_free(s);
}

static void test_nan_inf_rejected(void **st)
{
	(void)st;
	struct fixture f;
	fixture_init(&f);
	f.s = mk(&f.p);
	struct sched *s = f.s;
	double bad[] = {NAN, INFINITY, -INFINITY};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sched_learn(s, 5, 1, bad[i], 6), -EINVAL);
	}
	assert_int_equal(sched_learn(s, sched_n_states(s), 1, 1.0, 6), -EINVAL);
	assert_int_equal(sched_learn(s, 5, sched_n_actions(s), 1.0, 6),
			 -EINVAL);
	assert_int_equal(sched_learn(s, 5, 1, 1.0, sched_n_states(s)),
			 -EINVAL);
	/* Finite reward but an overflowing target. */
	assert_int_equal(sched_q_set(s, 6, 0, 1e308, 0, false), 0);
	f.p.gamma = 0.99;
	f.p.alpha = 1.0;
	assert_int_equal(sched_set_params(s, &f.p), 0);
	assert_int_equal(sched_learn(s, 5, 1, 1e308, 6), -EINVAL);
	assert_int_equal(sched_stats(s)->rewards_rejected, 7);
	assert_int_equal(sched_stats(s)->updates, 0);
	double q;
	uint32_t v;
	assert_int_equal(sched_q_get(s, 5, 1, &q, &v), 0);
	assert_float_equal(q, f.p.q_init, 0.0);
	assert_int_equal(v, 0);
	const uint32_t *cells;
	assert_int_equal(sched_dirty(s, &cells), 0);
	assert_int_equal(sched_q_set(s, 5, 1, NAN, 0, true), -EINVAL);

	/* An outcome carrying NaN latency never reaches the table. */
	struct sched_decision d;
	assert_int_equal(sched_decide(s, &f.snap, &f.w, &d), 0);
	struct sched_outcome o = {SCHED_OUT_DONE, true, NAN, 0.0};
	assert_int_equal(sched_observe(s, &d, &f.w, &o, UINT32_MAX), -EINVAL);
	assert_int_equal(sched_stats(s)->rewards_rejected, 8);
	assert_int_equal(sched_dirty(s, &cells), 0);
	sched_free(s);
}

static void test_reward(void **st)
{
	(void)st;
	struct sched_params p;
	sched_params_default(&p);
	struct sched *s = mk(&p);
	struct workload_spec w;
	spec_init(&w, QOS_SILVER);
	w.max_delay_ms = 200;
	/* met, latency profile: 1 - 0.5*(50/200) - 0.05*(20/100) = 0.865 */
	struct sched_outcome o = {SCHED_OUT_DONE, true, 50.0, 20.0};
	assert_float_equal(sched_reward(s, &w, &o), 0.865, 1e-12);
	/* greenness weights energy: 1 - 0.1*0.25 - 0.5*0.2 = 0.875 */
	w.profile = PERF_GREENNESS;
	assert_float_equal(sched_reward(s, &w, &o), 0.875, 1e-12);
	/* missed, Gold (x2): -2 - 0.1*min(3, 900/200) - 0.5*0.2 = -2.4 */
	w.qos = QOS_GOLD;
	o.deadline_met = false;
	o.latency_ms = 900.0;
	assert_float_equal(sched_reward(s, &w, &o), -2.4, 1e-12);
	/* failed, resilience: 2 * (-1.5 - 2) - 0.2*3 - 0.05*0.2 = -7.61 */
	w.profile = PERF_RESILIENCE;
	o.result = SCHED_OUT_FAILED;
	assert_float_equal(sched_reward(s, &w, &o), -7.61, 1e-12);
	/* rejected / deferred: class-weighted constants */
	o.result = SCHED_OUT_REJECTED;
	assert_float_equal(sched_reward(s, &w, &o), -2.0, 1e-12);
	w.qos = QOS_BESTEFFORT;
	o.result = SCHED_OUT_DEFERRED;
	o.latency_ms = 150.0; /* within the 200 ms deadline */
	assert_float_equal(sched_reward(s, &w, &o), -0.05, 1e-12);
	o.latency_ms = 250.0; /* deferred past it: a miss too */
	assert_float_equal(sched_reward(s, &w, &o), -0.55, 1e-12);
	/* No deadline: latency against latency_ref_ms. */
	w.qos = QOS_SILVER;
	w.profile = PERF_LATENCY;
	w.max_delay_ms = 0;
	o.result = SCHED_OUT_DONE;
	o.deadline_met = true;
	o.latency_ms = 500.0;
	o.energy_j = 0.0;
	assert_float_equal(sched_reward(s, &w, &o), 0.75, 1e-12);
	sched_free(s);
}

static void test_share_top_and_merge(void **st)
{
	(void)st;
	struct sched_params p;
	sched_params_default(&p);
	struct sched *s = mk(&p);
	/* state 7: 5 visits, state 3: 9 visits, state 9: 5 visits */
	sched_q_set(s, 7, 0, 0.5, 5, false);
	sched_q_set(s, 3, 1, 0.1, 4, false);
	sched_q_set(s, 3, 2, 0.2, 5, false);
	sched_q_set(s, 9, 5, -0.3, 5, false);
	struct sched_share e[16];
	size_t n = sched_share_top(s, 2, e, 16);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].state, 3);
	assert_int_equal(e[0].action, 1);
	assert_int_equal(e[1].state, 3);
	assert_int_equal(e[1].action, 2);
	assert_int_equal(e[2].state, 7); /* tie 7 vs 9: lower index */
	assert_float_equal(e[2].q, 0.5, 0.0);
	assert_int_equal(e[2].visits, 5);
	assert_int_equal(sched_share_top(s, 0, e, 16), 4);
	assert_int_equal(sched_share_top(s, 0, e, 2), 2); /* bounded */

	/* Merge weights: n_r / (n_l + n_r), capped at max_influence. */
	struct sched_share in[] = {
		{7, 0, 1.5, 15},  /* w = 15/20 = 0.75 -> cap 0.5: 1.0 */
		{3, 1, 1.1, 12},  /* w = 12/16 = 0.75 -> 0.5: 0.6 */
		{3, 2, 1.2, 1},   /* w = 1/6: 0.2 + 1/6 = 0.36667 */
		{20, 0, 2.0, 3},  /* unvisited locally: w = 1 -> 0.5: 1.0 */
		{3, 1, NAN, 5},   /* refused */
		{99999, 0, 1, 5}, /* refused: state out of range */
		{3, 6, 1.0, 5},   /* refused: action out of range */
		{3, 0, 1.0, 0},   /* refused: no visits */
	};
	struct sched_merge_result r;
	assert_int_equal(sched_merge(s, in, 8, 1.5, &r), -EINVAL);
	assert_int_equal(sched_merge(s, in, 8, 0.5, &r), 0);
	assert_int_equal(r.merged, 4);
	assert_int_equal(r.refused, 4);
	double q;
	uint32_t v;
	sched_q_get(s, 7, 0, &q, &v);
	assert_float_equal(q, 1.0, 1e-12);
	assert_int_equal(v, 5); /* local experience count unchanged */
	sched_q_get(s, 3, 1, &q, &v);
	assert_float_equal(q, 0.6, 1e-12);
	sched_q_get(s, 3, 2, &q, &v);
	assert_float_equal(q, 0.2 + 1.0 / 6.0, 1e-12);
	sched_q_get(s, 20, 0, &q, &v);
	assert_float_equal(q, 1.0, 1e-12);
	assert_int_equal(v, 0);
	/* Repeated rounds converge to the remote value, never overshoot. */
	for (int i = 0; i < 40; i++) {
		sched_merge(s, &in[3], 1, 0.5, NULL);
		sched_q_get(s, 20, 0, &q, NULL);
		assert_true(q <= 2.0);
	}
	assert_float_equal(q, 2.0, 1e-9);
	assert_int_equal(sched_stats(s)->merge_rejected, 4);
	sched_free(s);
}

static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++) {
			c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
		}
	}
	return ~c;
}

static void refix_crc(uint8_t *b, size_t len)
{
	uint32_t c = crc32_ref(b, len - 4);
	for (int i = 0; i < 4; i++) {
		b[len - 4 + i] = (uint8_t)(c >> (8 * i));
	}
}

static struct sched *learned(uint64_t seed)
{
	struct sched_params p;
	sched_params_default(&p);
	struct sched *s = NULL;
	assert_int_equal(sched_new(&p, seed, &s), 0);
	for (uint32_t i = 0; i < 50; i++) {
		uint32_t st = (i * 37) % sched_n_states(s);
		assert_int_equal(sched_learn(s, st, i % 6, 0.1 * i, st + 1), 0);
	}
	return s;
}

static void expect_refused(struct sched *dst, const uint8_t *b, size_t len,
			   int rc_want, const char *why_part)
{
	struct sched_share *e = (struct sched_share *)1;
	size_t n = 7;
	char why[256] = "";
	assert_int_equal(sched_import_decode(dst, b, len, &e, &n, why,
					     sizeof(why)),
			 rc_want);
	assert_null(e);
	assert_int_equal(n, 0);
	if (!strstr(why, why_part)) {
		fail_msg("reason '%s' lacks '%s'", why, why_part);
	}
}

static void test_export_import_codec(void **st)
{
	(void)st;
	struct sched *src = learned(1);
	uint8_t *b = NULL;
	size_t len = 0;
	assert_int_equal(sched_export_encode(src, 0, &b, &len), 0);
	const uint32_t *cells;
	size_t cells_n = sched_dirty(src, &cells);
	assert_int_equal(len, sched_file_size(cells_n));

	struct sched_params p;
	sched_params_default(&p);
	struct sched *dst = NULL;
	assert_int_equal(sched_new(&p, 2, &dst), 0);
	struct sched_share *e = NULL;
	size_t n = 0;
	char why[256];
	assert_int_equal(sched_import_decode(dst, b, len, &e, &n, why,
					     sizeof(why)),
			 0);
	assert_int_equal(n, cells_n);
	sched_import_apply(dst, e, n);
	free(e);
	for (uint32_t st2 = 0; st2 < sched_n_states(src); st2++) {
		for (uint32_t a = 0; a < 6; a++) {
			double q1, q2;
			uint32_t v1, v2;
			sched_q_get(src, st2, a, &q1, &v1);
			sched_q_get(dst, st2, a, &q2, &v2);
			assert_memory_equal(&q1, &q2, sizeof(q1));
			assert_int_equal(v1, v2);
		}
	}

	/* Refusals; dst stays untouched by decode failures. */
	uint8_t *c = malloc(len);
	memcpy(c, b, len);
	c[0] = 'X';
	expect_refused(dst, c, len, -EBADMSG, "magic");
	memcpy(c, b, len);
	c[4] = 2;
	refix_crc(c, len);
	expect_refused(dst, c, len, -EPROTO, "version");
	expect_refused(dst, b, 10, -EBADMSG, "truncated");
	expect_refused(dst, b, len - 1, -EBADMSG, "length");
	memcpy(c, b, len);
	c[40] ^= 0x01;
	expect_refused(dst, c, len, -EBADMSG, "checksum");
	memcpy(c, b, len);
	c[20] = 0xff;
	c[21] = 0xff;
	c[22] = 0xff;
	refix_crc(c, len);
	expect_refused(dst, c, len, -EBADMSG, "exceeds");
	/* NaN q in the first entry, checksum made consistent. */
	memcpy(c, b, len);
	uint64_t nanbits = 0x7ff8000000000000ULL;
	for (int i = 0; i < 8; i++) {
		c[24 + 12 + i] = (uint8_t)(nanbits >> (8 * i));
	}
	refix_crc(c, len);
	expect_refused(dst, c, len, -EBADMSG, "finite");
	/* State out of range. */
	memcpy(c, b, len);
	c[24 + 3] = 0x7f;
	refix_crc(c, len);
	expect_refused(dst, c, len, -EBADMSG, "out of range");
	/* Duplicate cell: copy entry 0 over entry 1. */
	memcpy(c, b, len);
	memcpy(c + 44, c + 24, 20);
	refix_crc(c, len);
	expect_refused(dst, c, len, -EBADMSG, "duplicate");
	free(c);

	/* Foreign shape: other edges, same counts -> other fingerprint. */
	sched_params_default(&p);
	p.nb_rtt_ms.v[2] = 61.0;
	struct sched *other = NULL;
	assert_int_equal(sched_new(&p, 3, &other), 0);
	expect_refused(other, b, len, -EPROTO, "foreign");
	sched_free(other);
	sched_params_default(&p);
	p.neighbours_k = 2;
	assert_int_equal(sched_new(&p, 3, &other), 0);
	expect_refused(other, b, len, -EPROTO, "foreign");
	sched_free(other);

	/* File path: export, import, refusal leaves the table as it was. */
	char path[] = "/tmp/farnode-qt-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sched_export_file(src, path, 0, why, sizeof(why)),
			 (int)cells_n);
	struct sched *dst2 = NULL;
	sched_params_default(&p);
	assert_int_equal(sched_new(&p, 4, &dst2), 0);
	assert_int_equal(sched_import_file(dst2, path, why, sizeof(why)),
			 (int)cells_n);
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	fseek(fp, 30, SEEK_SET);
	fputc(0x55, fp);
	fclose(fp);
	struct sched *dst3 = NULL;
	assert_int_equal(sched_new(&p, 5, &dst3), 0);
	sched_q_set(dst3, 1, 1, 0.25, 3, false);
	assert_true(sched_import_file(dst3, path, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, path));
	double q;
	uint32_t v;
	sched_q_get(dst3, 1, 1, &q, &v);
	assert_float_equal(q, 0.25, 0.0);
	assert_int_equal(sched_dirty(dst3, &cells), 0);
	assert_int_equal(sched_import_file(dst3, "/nonexistent/x", why,
					   sizeof(why)),
			 -ENOENT);
	unlink(path);

	sched_free(dst3);
	sched_free(dst2);
	sched_free(dst);
	sched_free(src);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_validate),
		cmocka_unit_test(test_bucket_edges),
		cmocka_unit_test(test_node_load),
		cmocka_unit_test(test_state_index),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_all_masked),
		cmocka_unit_test(test_epsilon_decay_floor),
		cmocka_unit_test(test_exploration_and_greedy),
		cmocka_unit_test(test_learned_ranking),
		cmocka_unit_test(test_update_rule),
		cmocka_unit_test(test_nan_inf_rejected),
		cmocka_unit_test(test_reward),
		cmocka_unit_test(test_share_top_and_merge),
		cmocka_unit_test(test_export_import_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
