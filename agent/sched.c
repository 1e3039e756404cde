// SPDX-License-Identifier: Apache-2.0
/*
 * sched: placement decisions by tabular Q-learning (DESIGN §7).
 *
 * Design
 * ------
 * A far-edge node must decide, alone and in microseconds, where a workload
 * runs: here, on one of its K best neighbours, later, or not at all. The
 * hub may be unreachable for weeks, so the decision cannot wait for a
 * central optimiser; it has to improve from the node's own experience.
 *
 * State. The snapshot (local node_state, neighbours ranked best first with
 * their node_state and link_state, uplink flag) and the workload are
 * reduced to six small dimensions: local demand per core, local memory
 * used, rank-1 neighbour demand, rank-1 neighbour RTT, qos class and
 * uplink up/down. Bucket edges are configurable; the index is mixed radix
 * in that order, so a table is a dense array of states x actions and a
 * decision is a handful of comparisons and one row scan. The table's
 * fingerprint (a hash of the shape and edges) travels with every export so
 * a table is never read against states it was not learned for.
 *
 * What the table can learn that load cannot show. Demand per core says how
 * busy a node is, not how fast it is, how far it is, or how often it
 * fails. So before discretising, the core orders the neighbours by a
 * small learned value V(neighbour, qos class, that neighbour's load
 * bucket): the running average of the rewards its offloads earned at that
 * load (optimistic until tried, so every neighbour gets a chance). Rank 1
 * is then "the neighbour that has served this kind of work best at the
 * load it has now", and the table decides whether to run here, send to
 * rank r, defer or reject. Speed, distance and reliability reach the
 * decision through outcomes — the edge over load-only greedy placement.
 * With rank_learned off, the caller's order (RTT in the agent) is used
 * and the table learns per rank instead; the study in tests/sim compares
 * both. The neighbour values are soft state: not persisted, relearned
 * within a few outcomes per neighbour after a restart.
 *
 * Actions and masks. Action 0 runs locally, 1..K offload to a rank, K+1
 * defers, K+2 rejects. Masks come first and are absolute: the hub policy
 * may forbid any kind per qos class; Gold is never deferred, nor is work
 * whose deadline a deferral (defer_ms) would use up; data-locality
 * labels allow only nodes carrying every label; an energy limit forbids
 * nodes drawing more than the limit or at/above the hot temperature; a
 * memory request larger than a node's free memory or a bandwidth floor
 * above a link's known bandwidth forbids that node; missing ranks are
 * masked. When everything is masked the decision is "reject" (nothing
 * runs, nothing moves), flagged as a fallback with a reason and -EPERM so
 * the caller reports it instead of hiding it.
 *
 * Choice and learning. ε-greedy over the permitted actions, ε decaying
 * multiplicatively per decision to a floor so the node keeps tracking a
 * changing partition. Ties go to the lowest index (local first): with a
 * cold table the node behaves like a plain local runner and learns away
 * from it. The update is Q(s,a) += α(r + γ max Q(s',·) − Q(s,a)); s' is
 * the state when the outcome is observed. Rewards come from outcomes
 * (met/missed/failed/rejected/deferred) shaped by the performance profile
 * (latency, energy, failure weights) and scaled by qos class; a deferral
 * that ran past the deadline is charged as a miss, or a cheap-looking
 * "defer" would soak up work it cannot serve; non-finite
 * rewards and updates are refused and counted, never stored. Every update
 * bumps a visit count (used for federated merge weights and top-N
 * exports) and marks the cell dirty for the write-behind store.
 */
#include "sched.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define NB_SLOTS    64 /* neighbours remembered (power of two) */
#define NB_CONSIDER 32 /* neighbours ranked per decision at most */

/* What this node has learned about offloading to one neighbour. */
struct nb_entry {
	struct node_id id;
	bool used;
	double v[3][SCHED_EDGES_MAX + 1]; /* qos class x load bucket */
	uint32_t n[3][SCHED_EDGES_MAX + 1];
};

/* The neighbours a decision ranks, best first (indices into snap->nb). */
struct ranked {
	uint32_t n;
	uint32_t idx[SCHED_K_MAX];
};

struct sched {
	struct sched_params p;
	struct rng rng;
	uint32_t dims[6];
	uint32_t n_states;
	uint32_t n_actions;
	uint32_t n_cells;
	uint32_t fingerprint;
	double eps;
	double *q;
	uint32_t *visits;
	uint8_t *is_dirty;
	uint32_t *dirty;
	size_t n_dirty;
	struct sched_stats stats;
	uint32_t nb_used;
	struct nb_entry nbt[NB_SLOTS];
};

static const struct sched_edges default_cpu = {3, {0.5, 0.9, 1.5}};
static const struct sched_edges default_mem = {2, {0.7, 0.9}};
static const struct sched_edges default_nb_load = {3, {0.5, 0.9, 1.5}};
static const struct sched_edges default_rtt = {3, {5.0, 20.0, 60.0}};

void sched_params_default(struct sched_params *p)
{
	memset(p, 0, sizeof(*p));
	p->alpha = 0.1;
	p->gamma = 0.2;
	p->epsilon = 0.3;
	p->epsilon_min = 0.02;
	p->epsilon_decay = 0.9995;
	p->q_init = 0.0;
	p->neighbours_k = 3;
	p->rank_learned = true;
	p->rank_alpha = 0.1;
	p->cpu_load = default_cpu;
	p->mem_used = default_mem;
	p->nb_load = default_nb_load;
	p->nb_rtt_ms = default_rtt;
	p->hot_temp_c = 80.0;
	p->defer_ms = 1000.0;
	p->reward_met = 1.0;
	p->reward_missed = -1.0;
	p->reward_failed = -1.5;
	p->reward_rejected = -1.0;
	p->reward_deferred = -0.1;
	p->class_weight[QOS_BESTEFFORT] = 0.5;
	p->class_weight[QOS_SILVER] = 1.0;
	p->class_weight[QOS_GOLD] = 2.0;
	p->w_latency[PERF_LATENCY] = 0.5;
	p->w_latency[PERF_GREENNESS] = 0.1;
	p->w_latency[PERF_RESILIENCE] = 0.2;
	p->w_energy[PERF_LATENCY] = 0.05;
	p->w_energy[PERF_GREENNESS] = 0.5;
	p->w_energy[PERF_RESILIENCE] = 0.05;
	p->w_failure[PERF_LATENCY] = 0.5;
	p->w_failure[PERF_GREENNESS] = 0.5;
	p->w_failure[PERF_RESILIENCE] = 2.0;
	p->latency_ref_ms = 1000.0;
	p->energy_ref_j = 100.0;
}

static int fail_why(char *why, size_t len, const char *msg)
{
	if (why && len) {
		snprintf(why, len, "%s", msg);
	}
	return -EINVAL;
}

static bool edges_ok(const struct sched_edges *e)
{
	if (e->n > SCHED_EDGES_MAX) {
		return false;
	}
	for (uint32_t i = 0; i < e->n; i++) {
		if (!isfinite(e->v[i])) {
			return false;
		}
		if (i > 0 && !(e->v[i] > e->v[i - 1])) {
			return false;
		}
	}
	return true;
}

static bool finite_all(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(v[i])) {
			return false;
		}
	}
	return true;
}

int sched_params_validate(const struct sched_params *p, char *why,
			  size_t why_len)
{
	if (!(p->alpha > 0.0 && p->alpha <= 1.0)) {
		return fail_why(why, why_len, "alpha must be in (0, 1]");
	}
	if (!(p->gamma >= 0.0 && p->gamma < 1.0)) {
		return fail_why(why, why_len, "gamma must be in [0, 1)");
	}
	if (!(p->epsilon >= 0.0 && p->epsilon <= 1.0)) {
		return fail_why(why, why_len, "epsilon must be in [0, 1]");
	}
	if (!(p->epsilon_min >= 0.0 && p->epsilon_min <= p->epsilon)) {
		return fail_why(why, why_len,
				"epsilon_min must be in [0, epsilon]");
	}
	if (!(p->epsilon_decay > 0.0 && p->epsilon_decay <= 1.0)) {
		return fail_why(why, why_len,
				"epsilon_decay must be in (0, 1]");
	}
	if (!isfinite(p->q_init) || fabs(p->q_init) > 1e6) {
		return fail_why(why, why_len, "q_init must be finite");
	}
	if (!(p->rank_alpha > 0.0 && p->rank_alpha <= 1.0)) {
		return fail_why(why, why_len, "rank_alpha must be in (0, 1]");
	}
	if (p->neighbours_k > SCHED_K_MAX) {
		return fail_why(why, why_len, "neighbours_k must be 0..8");
	}
	if (!edges_ok(&p->cpu_load) || !edges_ok(&p->mem_used) ||
	    !edges_ok(&p->nb_load) || !edges_ok(&p->nb_rtt_ms)) {
		return fail_why(why, why_len,
				"bucket edges must be finite, strictly "
				"increasing, at most 7");
	}
	double r[] = {p->reward_met,	  p->reward_missed,   p->reward_failed,
		      p->reward_rejected, p->reward_deferred, p->hot_temp_c};
	if (!(p->defer_ms >= 0.0 && p->defer_ms <= 86400e3)) {
		return fail_why(why, why_len,
				"defer_ms must be in [0, 86400000]");
	}
	if (!finite_all(r, 6) || !finite_all(p->class_weight, 3) ||
	    !finite_all(p->w_latency, 3) || !finite_all(p->w_energy, 3) ||
	    !finite_all(p->w_failure, 3)) {
		return fail_why(why, why_len, "reward weights must be finite");
	}
	if (!(p->latency_ref_ms > 0.0) || !(p->energy_ref_j > 0.0) ||
	    !isfinite(p->latency_ref_ms) || !isfinite(p->energy_ref_j)) {
		return fail_why(why, why_len,
				"latency_ref_ms and energy_ref_j must be > 0");
	}
	return 0;
}

static uint32_t fnv1a(uint32_t h, const void *data, size_t n)
{
	const uint8_t *b = data;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t edges_hash(uint32_t h, const struct sched_edges *e)
{
	uint32_t n = e->n;
	h = fnv1a(h, &n, sizeof(n));
	for (uint32_t i = 0; i < e->n; i++) {
		uint64_t bits;
		memcpy(&bits, &e->v[i], sizeof(bits));
		h = fnv1a(h, &bits, sizeof(bits));
	}
	return h;
}

static void shape(struct sched *s)
{
	const struct sched_params *p = &s->p;
	s->dims[0] = p->cpu_load.n + 1;
	s->dims[1] = p->mem_used.n + 1;
	s->dims[2] = p->nb_load.n + 1;
	s->dims[3] = p->nb_rtt_ms.n + 1;
	s->dims[4] = 3;
	s->dims[5] = 2;
	s->n_states = 1;
	for (int i = 0; i < 6; i++) {
		s->n_states *= s->dims[i];
	}
	s->n_actions = p->neighbours_k + 3;
	s->n_cells = s->n_states * s->n_actions;
	uint32_t h = 2166136261u;
	h = fnv1a(h, s->dims, sizeof(s->dims));
	h = fnv1a(h, &s->n_actions, sizeof(s->n_actions));
	h = edges_hash(h, &p->cpu_load);
	h = edges_hash(h, &p->mem_used);
	h = edges_hash(h, &p->nb_load);
	h = edges_hash(h, &p->nb_rtt_ms);
	s->fingerprint = h;
}

int sched_new(const struct sched_params *p, uint64_t seed, struct sched **out)
{
	*out = NULL;
	if (sched_params_validate(p, NULL, 0) < 0) {
		return -EINVAL;
	}
	struct sched *s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->p = *p;
	rng_seed(&s->rng, seed);
	shape(s);
	/* 8^4 * 3 * 2 * 11 cells at most: far below SCHED_CELLS_MAX. */
	s->q = malloc(sizeof(double) * s->n_cells);
	s->visits = malloc(sizeof(uint32_t) * s->n_cells);
	s->is_dirty = malloc(s->n_cells);
	s->dirty = malloc(sizeof(uint32_t) * s->n_cells);
	if (!s->q || !s->visits || !s->is_dirty || !s->dirty) {
		sched_free(s);
		return -ENOMEM;
	}
	s->eps = p->epsilon;
	sched_q_clear(s);
	*out = s;
	return 0;
}

void sched_free(struct sched *s)
{
	if (!s) {
		return;
	}
	free(s->q);
	free(s->visits);
	free(s->is_dirty);
	free(s->dirty);
	free(s);
}

int sched_set_params(struct sched *s, const struct sched_params *p)
{
	if (sched_params_validate(p, NULL, 0) < 0) {
		return -EINVAL;
	}
	struct sched probe = {.p = *p};
	shape(&probe);
	if (probe.fingerprint != s->fingerprint ||
	    probe.n_cells != s->n_cells) {
		return -EBUSY;
	}
	s->p = *p;
	s->eps = p->epsilon;
	return 0;
}

const struct sched_params *sched_params(const struct sched *s)
{
	return &s->p;
}

uint32_t sched_n_states(const struct sched *s)
{
	return s->n_states;
}

uint32_t sched_n_actions(const struct sched *s)
{
	return s->n_actions;
}

void sched_dims(const struct sched *s, uint32_t dims[6])
{
	memcpy(dims, s->dims, sizeof(s->dims));
}

uint32_t sched_fingerprint(const struct sched *s)
{
	return s->fingerprint;
}

const char *sched_state_describe(const struct sched *s, uint32_t state,
				 char *buf, size_t len)
{
	uint32_t b[6];
	if (state >= s->n_states) {
		snprintf(buf, len, "invalid(%u)", (unsigned)state);
		return buf;
	}
	for (int i = 5; i >= 0; i--) {
		b[i] = state % s->dims[i];
		state /= s->dims[i];
	}
	snprintf(buf, len, "cpu=%u mem=%u nbload=%u rtt=%u qos=%s uplink=%s",
		 (unsigned)b[0], (unsigned)b[1], (unsigned)b[2], (unsigned)b[3],
		 qos_class_name((enum qos_class)b[4]), b[5] ? "up" : "down");
	return buf;
}

double sched_node_load(const struct node_state *n)
{
	double util = 1.0 - n->cpu_free;
	if (!(n->cpu_free >= 0.0 && n->cpu_free <= 1.0)) {
		util = 1.0; /* unknown or garbage: assume busy */
	}
	if (n->cpu_cores > 0) {
		double per_core = (double)n->workloads_running / n->cpu_cores;
		if (per_core > util) {
			return per_core;
		}
	}
	return util;
}

uint32_t sched_bucket(const struct sched_edges *e, double v)
{
	if (isnan(v)) {
		return e->n;
	}
	uint32_t b = 0;
	while (b < e->n && v >= e->v[b]) {
		b++;
	}
	return b;
}

static uint32_t qos_index(const struct workload_spec *w)
{
	return (uint32_t)w->qos <= QOS_GOLD ? (uint32_t)w->qos : QOS_GOLD;
}

static uint32_t nb_hash(const struct node_id *id)
{
	return fnv1a(2166136261u, id->b, NODE_ID_LEN) & (NB_SLOTS - 1);
}

/* Slot of id, or -1. */
static int nb_find(const struct sched *s, const struct node_id *id)
{
	uint32_t h = nb_hash(id);
	for (uint32_t i = 0; i < NB_SLOTS; i++) {
		const struct nb_entry *e = &s->nbt[(h + i) & (NB_SLOTS - 1)];
		if (!e->used) {
			return -1;
		}
		if (memcmp(e->id.b, id->b, NODE_ID_LEN) == 0) {
			return (int)((h + i) & (NB_SLOTS - 1));
		}
	}
	return -1;
}

/* Slot of id, created if needed; a full table starts over (partitions
 * are far smaller than NB_SLOTS; values are relearned quickly). */
static int nb_slot(struct sched *s, const struct node_id *id)
{
	int slot = nb_find(s, id);
	if (slot >= 0) {
		return slot;
	}
	if (s->nb_used == NB_SLOTS) {
		memset(s->nbt, 0, sizeof(s->nbt));
		s->nb_used = 0;
	}
	uint32_t h = nb_hash(id);
	for (uint32_t i = 0; i < NB_SLOTS; i++) {
		struct nb_entry *e = &s->nbt[(h + i) & (NB_SLOTS - 1)];
		if (!e->used) {
			memset(e, 0, sizeof(*e));
			e->used = true;
			e->id = *id;
			s->nb_used++;
			return (int)((h + i) & (NB_SLOTS - 1));
		}
	}
	return -1; /* not reached */
}

static double nb_value(const struct sched *s, const struct sched_neighbour *nb,
		       uint32_t q)
{
	int slot = nb_find(s, &nb->id);
	uint32_t b = sched_bucket(&s->p.nb_load, sched_node_load(&nb->node));
	if (slot < 0 || s->nbt[slot].n[q][b] == 0) {
		return s->p.reward_met; /* optimistic: try it */
	}
	return s->nbt[slot].v[q][b];
}

static void rank(const struct sched *s, const struct sched_snapshot *snap,
		 const struct workload_spec *w, struct ranked *r)
{
	uint32_t k = s->p.neighbours_k;
	uint32_t n = snap->n_nb;
	r->n = 0;
	if (!s->p.rank_learned) {
		r->n = n < k ? n : k;
		for (uint32_t i = 0; i < r->n; i++) {
			r->idx[i] = i;
		}
		return;
	}
	if (n > NB_CONSIDER) {
		n = NB_CONSIDER;
	}
	uint32_t q = qos_index(w);
	double key[SCHED_K_MAX];
	for (uint32_t i = 0; i < n && k > 0; i++) {
		double v = nb_value(s, &snap->nb[i], q);
		/* insert keeping the top k, stable for equal keys */
		uint32_t pos = r->n;
		while (pos > 0 && v > key[pos - 1]) {
			pos--;
		}
		if (pos >= k) {
			continue;
		}
		uint32_t last = r->n < k ? r->n : k - 1;
		for (uint32_t j = last; j > pos; j--) {
			key[j] = key[j - 1];
			r->idx[j] = r->idx[j - 1];
		}
		key[pos] = v;
		r->idx[pos] = i;
		if (r->n < k) {
			r->n++;
		}
	}
}

static int state_of(const struct sched *s, const struct sched_snapshot *snap,
		    const struct workload_spec *w, const struct ranked *r,
		    uint32_t *state)
{
	const struct sched_params *p = &s->p;
	const struct node_state *l = snap->local;
	uint32_t b[6];
	b[0] = sched_bucket(&p->cpu_load, sched_node_load(l));
	double mem_used = NAN;
	if (l->mem_total_bytes > 0 && l->mem_free_bytes <= l->mem_total_bytes) {
		mem_used = 1.0 - (double)l->mem_free_bytes /
				     (double)l->mem_total_bytes;
	}
	b[1] = sched_bucket(&p->mem_used, mem_used);
	if (r->n > 0) {
		const struct sched_neighbour *best = &snap->nb[r->idx[0]];
		b[2] = sched_bucket(&p->nb_load, sched_node_load(&best->node));
		double rtt = best->link.rtt_ms;
		b[3] = sched_bucket(&p->nb_rtt_ms, rtt < 0.0 ? NAN : rtt);
	} else {
		/* No neighbour: the worst buckets; offloads are masked. */
		b[2] = p->nb_load.n;
		b[3] = p->nb_rtt_ms.n;
	}
	b[4] = qos_index(w);
	b[5] = snap->uplink_up ? 1 : 0;
	uint32_t idx = 0;
	for (int i = 0; i < 6; i++) {
		idx = idx * s->dims[i] + b[i];
	}
	*state = idx;
	return 0;
}

static bool snap_ok(const struct sched_snapshot *snap,
		    const struct workload_spec *w)
{
	return snap && snap->local && w && (snap->n_nb == 0 || snap->nb);
}

int sched_state(const struct sched *s, const struct sched_snapshot *snap,
		const struct workload_spec *w, uint32_t *state)
{
	if (!snap_ok(snap, w)) {
		return -EINVAL;
	}
	struct ranked r;
	rank(s, snap, w, &r);
	return state_of(s, snap, w, &r, state);
}

static bool has_labels(const struct node_state *n,
		       const struct workload_spec *w)
{
	uint32_t nl =
	    n->n_labels < NODE_LABELS_MAX ? n->n_labels : NODE_LABELS_MAX;
	uint32_t wl = w->n_locality < 4 ? w->n_locality : 4;
	for (uint32_t i = 0; i < wl; i++) {
		bool found = false;
		for (uint32_t j = 0; j < nl && !found; j++) {
			found =
			    strcmp(n->labels[j].key, w->locality[i].key) == 0 &&
			    strcmp(n->labels[j].value, w->locality[i].value) ==
				0;
		}
		if (!found) {
			return false;
		}
	}
	return true;
}

/* Hard constraints a node must satisfy to run w. */
static bool node_fits(const struct sched *s, const struct node_state *n,
		      const struct workload_spec *w)
{
	if (w->n_locality > 0 && !has_labels(n, w)) {
		return false;
	}
	if (w->energy_limit_watts > 0.0) {
		if (!(n->energy_watts <= w->energy_limit_watts)) {
			return false; /* high power (or unknown power) */
		}
		if (n->temperature_c >= s->p.hot_temp_c) {
			return false; /* hot */
		}
	}
	if (w->mem_bytes > 0 && n->mem_total_bytes > 0 &&
	    w->mem_bytes > n->mem_free_bytes) {
		return false;
	}
	return true;
}

static uint32_t mask_of(const struct sched *s,
			const struct sched_snapshot *snap,
			const struct workload_spec *w, const struct ranked *r)
{
	const struct sched_params *p = &s->p;
	uint32_t k = p->neighbours_k;
	uint32_t forbid = p->policy_forbid[qos_index(w)] | snap->forbid;
	uint32_t allowed = 0;

	if (!(forbid & SCHED_FORBID_LOCAL) && node_fits(s, snap->local, w)) {
		allowed |= 1u << 0;
	}
	if (!(forbid & SCHED_FORBID_OFFLOAD)) {
		for (uint32_t rk = 1; rk <= r->n; rk++) {
			const struct sched_neighbour *nb =
			    &snap->nb[r->idx[rk - 1]];
			if (!node_fits(s, &nb->node, w)) {
				continue;
			}
			if (w->min_bandwidth_bps > 0 &&
			    nb->link.bandwidth_bps >= 0.0 &&
			    nb->link.bandwidth_bps <
				(double)w->min_bandwidth_bps) {
				continue;
			}
			allowed |= 1u << rk;
		}
	}
	/* Gold is never deferred; nor is anything whose deadline a
	 * deferral would already consume. */
	if (!(forbid & SCHED_FORBID_DEFER) && w->qos != QOS_GOLD &&
	    !(w->max_delay_ms > 0 && w->max_delay_ms <= p->defer_ms)) {
		allowed |= 1u << (k + 1);
	}
	if (!(forbid & SCHED_FORBID_REJECT)) {
		allowed |= 1u << (k + 2);
	}
	return allowed;
}

uint32_t sched_mask(const struct sched *s, const struct sched_snapshot *snap,
		    const struct workload_spec *w)
{
	if (!snap_ok(snap, w)) {
		return 0;
	}
	struct ranked r;
	rank(s, snap, w, &r);
	return mask_of(s, snap, w, &r);
}

enum sched_kind sched_action_kind(const struct sched *s, uint32_t action,
				  uint32_t *rank)
{
	uint32_t k = s->p.neighbours_k;
	if (rank) {
		*rank = 0;
	}
	if (action == 0) {
		return SCHED_LOCAL;
	}
	if (action <= k) {
		if (rank) {
			*rank = action;
		}
		return SCHED_OFFLOAD;
	}
	if (action == k + 1) {
		return SCHED_DEFER;
	}
	return SCHED_REJECT;
}

uint32_t sched_action_of(const struct sched *s, enum sched_kind kind,
			 uint32_t rank)
{
	switch (kind) {
	case SCHED_LOCAL:
		return 0;
	case SCHED_OFFLOAD:
		return rank;
	case SCHED_DEFER:
		return s->p.neighbours_k + 1;
	case SCHED_REJECT:
	default:
		return s->p.neighbours_k + 2;
	}
}

const char *sched_action_name(const struct sched *s, uint32_t action, char *buf,
			      size_t len)
{
	uint32_t rank;
	switch (sched_action_kind(s, action, &rank)) {
	case SCHED_LOCAL:
		snprintf(buf, len, "local");
		break;
	case SCHED_OFFLOAD:
		snprintf(buf, len, "offload:%u", (unsigned)rank);
		break;
	case SCHED_DEFER:
		snprintf(buf, len, "defer");
		break;
	default:
		snprintf(buf, len, "reject");
		break;
	}
	return buf;
}

double sched_epsilon(const struct sched *s)
{
	return s->eps;
}

static void why_all_masked(const struct sched *s,
			   const struct sched_snapshot *snap,
			   const struct workload_spec *w, char *why, size_t len)
{
	uint32_t q = (uint32_t)w->qos <= QOS_GOLD ? (uint32_t)w->qos : QOS_GOLD;
	snprintf(why, len,
		 "every action masked for %s workload '%.24s' (policy "
		 "forbids 0x%x, %u neighbours, locality %u, energy %.1f W)",
		 qos_class_name(w->qos), w->id, (unsigned)s->p.policy_forbid[q],
		 (unsigned)snap->n_nb, (unsigned)w->n_locality,
		 w->energy_limit_watts);
}

int sched_decide(struct sched *s, const struct sched_snapshot *snap,
		 const struct workload_spec *w, struct sched_decision *out)
{
	out->explored = false;
	out->fallback = false;
	out->why[0] = '\0';
	out->rank = 0;
	out->nb_index = -1;
	out->nb_bucket = 0;
	if (!snap_ok(snap, w)) {
		return -EINVAL;
	}
	struct ranked r;
	rank(s, snap, w, &r);
	uint32_t state;
	state_of(s, snap, w, &r, &state);
	uint32_t allowed = mask_of(s, snap, w, &r);
	out->state = state;
	out->allowed = allowed;
	out->epsilon = s->eps;
	s->stats.decisions++;
	if (s->eps > s->p.epsilon_min) {
		s->eps *= s->p.epsilon_decay;
		if (s->eps < s->p.epsilon_min) {
			s->eps = s->p.epsilon_min;
		}
	}
	if (allowed == 0) {
		s->stats.all_masked++;
		out->action = s->p.neighbours_k + 2;
		out->kind = SCHED_REJECT;
		out->fallback = true;
		why_all_masked(s, snap, w, out->why, sizeof(out->why));
		return -EPERM;
	}
	uint32_t action = 0;
	if (out->epsilon > 0.0 && rng_unit(&s->rng) < out->epsilon) {
		uint32_t n = (uint32_t)__builtin_popcount(allowed);
		uint32_t pick = rng_below(&s->rng, n);
		uint32_t m = allowed;
		for (uint32_t i = 0; i < pick; i++) {
			m &= m - 1;
		}
		action = (uint32_t)__builtin_ctz(m);
		out->explored = true;
		s->stats.explored++;
	} else {
		const double *row = &s->q[(size_t)state * s->n_actions];
		const uint32_t *seen = &s->visits[(size_t)state * s->n_actions];
		const uint32_t reject = s->p.neighbours_k + 2;
		struct sched_outcome rej = {.result = SCHED_OUT_REJECTED};
		double best = 0.0;
		bool have = false;
		for (uint32_t a = 0; a < s->n_actions; a++) {
			double v = row[a];
			if (a == reject && seen[a] == 0) {
				/* rejection ends the workload with a fixed
				 * reward: its value is known without trying
				 * it (q_init would make an untried rejection
				 * beat an action that once went wrong) */
				v = sched_reward(s, w, &rej);
			}
			if ((allowed & (1u << a)) && (!have || v > best)) {
				best = v;
				action = a;
				have = true;
			}
		}
	}
	out->action = action;
	out->kind = sched_action_kind(s, action, &out->rank);
	if (out->kind == SCHED_OFFLOAD) {
		const struct sched_neighbour *nb =
		    &snap->nb[r.idx[out->rank - 1]];
		out->nb_index = (int32_t)r.idx[out->rank - 1];
		out->nb_id = nb->id;
		out->nb_bucket =
		    sched_bucket(&s->p.nb_load, sched_node_load(&nb->node));
	}
	return 0;
}

double sched_reward(const struct sched *s, const struct workload_spec *w,
		    const struct sched_outcome *o)
{
	const struct sched_params *p = &s->p;
	uint32_t q = (uint32_t)w->qos <= QOS_GOLD ? (uint32_t)w->qos : QOS_GOLD;
	uint32_t prof = (uint32_t)w->profile <= PERF_RESILIENCE
			    ? (uint32_t)w->profile
			    : PERF_LATENCY;
	double cw = p->class_weight[q];
	switch (o->result) {
	case SCHED_OUT_REJECTED:
		return cw * p->reward_rejected;
	case SCHED_OUT_DEFERRED:
		/* latency_ms: waited so far. A deferral that used up the
		 * deadline costs a miss. */
		if (w->max_delay_ms > 0 && o->latency_ms > w->max_delay_ms) {
			return cw * (p->reward_deferred + p->reward_missed);
		}
		return cw * p->reward_deferred;
	default:
		break;
	}
	double r;
	if (o->result == SCHED_OUT_FAILED) {
		r = cw * (p->reward_failed - p->w_failure[prof]);
	} else if (o->deadline_met) {
		r = p->reward_met;
	} else {
		r = cw * p->reward_missed;
	}
	/* Shaping: how much of the deadline (or reference) was used, and
	 * the energy spent, both capped so one outlier cannot dominate. */
	double scale =
	    w->max_delay_ms > 0 ? (double)w->max_delay_ms : p->latency_ref_ms;
	double lat = o->latency_ms / scale;
	if (lat > 3.0) {
		lat = 3.0;
	}
	double en = o->energy_j / p->energy_ref_j;
	if (en > 3.0) {
		en = 3.0;
	}
	r -= p->w_latency[prof] * lat;
	r -= p->w_energy[prof] * en;
	return r;
}

static void mark_dirty(struct sched *s, uint32_t cell)
{
	if (!s->is_dirty[cell]) {
		s->is_dirty[cell] = 1;
		s->dirty[s->n_dirty++] = cell;
	}
}

int sched_learn(struct sched *s, uint32_t state, uint32_t action, double reward,
		uint32_t next)
{
	if (!isfinite(reward) || state >= s->n_states ||
	    action >= s->n_actions ||
	    (next != UINT32_MAX && next >= s->n_states)) {
		s->stats.rewards_rejected++;
		return -EINVAL;
	}
	double target = reward;
	if (next != UINT32_MAX && s->p.gamma > 0.0) {
		const double *row = &s->q[(size_t)next * s->n_actions];
		double best = row[0];
		for (uint32_t a = 1; a < s->n_actions; a++) {
			if (row[a] > best) {
				best = row[a];
			}
		}
		target += s->p.gamma * best;
	}
	uint32_t cell = state * s->n_actions + action;
	double q = s->q[cell] + s->p.alpha * (target - s->q[cell]);
	if (!isfinite(q)) {
		s->stats.rewards_rejected++;
		return -EINVAL;
	}
	s->q[cell] = q;
	if (s->visits[cell] < UINT32_MAX) {
		s->visits[cell]++;
	}
	mark_dirty(s, cell);
	s->stats.updates++;
	return 0;
}

int sched_observe(struct sched *s, const struct sched_decision *d,
		  const struct workload_spec *w, const struct sched_outcome *o,
		  uint32_t next)
{
	double r = sched_reward(s, w, o);
	int rc = sched_learn(s, d->state, d->action, r, next);
	if (rc == 0 && d->kind == SCHED_OFFLOAD && d->nb_index >= 0) {
		rc = sched_neighbour_learn(s, &d->nb_id, w->qos, d->nb_bucket,
					   r);
	}
	return rc;
}

int sched_neighbour_value(const struct sched *s, const struct node_id *id,
			  enum qos_class q, uint32_t bucket, double *v,
			  uint32_t *n)
{
	int slot = nb_find(s, id);
	uint32_t qi = (uint32_t)q <= QOS_GOLD ? (uint32_t)q : QOS_GOLD;
	if (slot < 0 || bucket > s->p.nb_load.n) {
		return -ENOENT;
	}
	*v = s->nbt[slot].v[qi][bucket];
	*n = s->nbt[slot].n[qi][bucket];
	return 0;
}

int sched_neighbour_learn(struct sched *s, const struct node_id *id,
			  enum qos_class q, uint32_t bucket, double reward)
{
	if (!isfinite(reward) || bucket > s->p.nb_load.n) {
		s->stats.rewards_rejected++;
		return -EINVAL;
	}
	int slot = nb_slot(s, id);
	uint32_t qi = (uint32_t)q <= QOS_GOLD ? (uint32_t)q : QOS_GOLD;
	struct nb_entry *e = &s->nbt[slot];
	if (e->n[qi][bucket] < UINT32_MAX) {
		e->n[qi][bucket]++;
	}
	double step = 1.0 / e->n[qi][bucket];
	if (step < s->p.rank_alpha) {
		step = s->p.rank_alpha;
	}
	e->v[qi][bucket] += step * (reward - e->v[qi][bucket]);
	return 0;
}

int sched_q_get(const struct sched *s, uint32_t state, uint32_t action,
		double *q, uint32_t *visits)
{
	if (state >= s->n_states || action >= s->n_actions) {
		return -ERANGE;
	}
	uint32_t cell = state * s->n_actions + action;
	if (q) {
		*q = s->q[cell];
	}
	if (visits) {
		*visits = s->visits[cell];
	}
	return 0;
}

int sched_q_set(struct sched *s, uint32_t state, uint32_t action, double q,
		uint32_t visits, bool dirty)
{
	if (state >= s->n_states || action >= s->n_actions) {
		return -ERANGE;
	}
	if (!isfinite(q)) {
		return -EINVAL;
	}
	uint32_t cell = state * s->n_actions + action;
	s->q[cell] = q;
	s->visits[cell] = visits;
	if (dirty) {
		mark_dirty(s, cell);
	}
	return 0;
}

void sched_q_clear(struct sched *s)
{
	for (uint32_t i = 0; i < s->n_cells; i++) {
		s->q[i] = s->p.q_init;
	}
	memset(s->visits, 0, sizeof(uint32_t) * s->n_cells);
	memset(s->is_dirty, 0, s->n_cells);
	s->n_dirty = 0;
}

size_t sched_dirty(const struct sched *s, const uint32_t **cells)
{
	*cells = s->dirty;
	return s->n_dirty;
}

void sched_dirty_clear(struct sched *s)
{
	for (size_t i = 0; i < s->n_dirty; i++) {
		s->is_dirty[s->dirty[i]] = 0;
	}
	s->n_dirty = 0;
}

const struct sched_stats *sched_stats(const struct sched *s)
{
	return &s->stats;
}

/* Internal accessors for sched_share.c. */
const double *sched__q(const struct sched *s);
const uint32_t *sched__visits(const struct sched *s);
struct sched_stats *sched__stats(struct sched *s);

const double *sched__q(const struct sched *s)
{
	return s->q;
}

const uint32_t *sched__visits(const struct sched *s)
{
	return s->visits;
}

struct sched_stats *sched__stats(struct sched *s)
{
	return &s->stats;
}
