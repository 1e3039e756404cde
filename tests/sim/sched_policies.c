// SPDX-License-Identifier: Apache-2.0
/*
 * sched_policies: the schedulers compared in the study — random,
 * round-robin, least-loaded greedy, power-of-two-choices, a clairvoyant
 * oracle (knows service times and failure draws) and farnode Q-learning,
 * which runs the real decision core (agent/sched.c), one table per node.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sched_model.h"

struct smod_baseline {
	enum smod_baseline_kind kind;
	struct rng rng;
	uint32_t rr[SMOD_NODES_MAX];
};

static int baseline_decide(void *ud, struct smod *m, const struct smod_view *v,
			   const struct smod_job *j, uint64_t *token)
{
	struct smod_baseline *b = ud;
	(void)token;
	switch (b->kind) {
	case SMOD_RANDOM:
		return (int)rng_below(&b->rng, v->n_cand);
	case SMOD_ROUND_ROBIN:
		return (int)(b->rr[v->origin]++ % v->n_cand);
	case SMOD_LEAST_LOADED: {
		uint32_t best = 0;
		for (uint32_t c = 1; c < v->n_cand; c++) {
			if (v->load[c] < v->load[best]) {
				best = c;
			}
		}
		return (int)best;
	}
	case SMOD_P2C: {
		uint32_t x = rng_below(&b->rng, v->n_cand);
		uint32_t y = rng_below(&b->rng, v->n_cand - 1);
		if (y >= x) {
			y++;
		}
		return v->load[y] < v->load[x] ? (int)y : (int)x;
	}
	case SMOD_ORACLE:
	default: {
		int best = -1;
		double best_lat = 0.0;
		bool best_fails = true;
		for (uint32_t c = 0; c < v->n_cand; c++) {
			bool fails;
			double lat = smod_predict(m, v, j, c, &fails);
			if (best < 0 || (best_fails && !fails) ||
			    (fails == best_fails && lat < best_lat)) {
				best = (int)c;
				best_lat = lat;
				best_fails = fails;
			}
		}
		return best;
	}
	}
}

struct smod_baseline *smod_baseline_new(enum smod_baseline_kind k,
					uint64_t seed, struct smod_policy *p)
{
	static const char *const names[] = {"random", "round-robin",
					    "least-loaded", "p2c", "oracle"};
	struct smod_baseline *b = calloc(1, sizeof(*b));
	if (!b) {
		return NULL;
	}
	b->kind = k;
	rng_seed(&b->rng, seed);
	memset(p, 0, sizeof(*p));
	p->name = names[k];
	p->ud = b;
	p->decide = baseline_decide;
	return b;
}

void smod_baseline_free(struct smod_baseline *b)
{
	free(b);
}

/* --- farnode Q-learning --- */

/* What the policy remembers of a decision until its outcome. */
struct pending {
	uint32_t state;
	uint8_t action;
	uint8_t kind;
	uint8_t rank;
	uint8_t nb_bucket;
	int32_t nb_index;
	struct node_id nb_id;
};

struct smod_qpolicy {
	uint32_t n;
	struct sched *s[SMOD_NODES_MAX];
	struct node_state local;
	struct sched_neighbour nb[SMOD_NODES_MAX];
	struct workload_spec spec;
	struct pending *pend; /* by job seq */
	size_t cap_pend;
	uint32_t fed_top_n;
	double fed_influence;
};

void smod_qparams(struct sched_params *p, const struct smod_cfg *cfg)
{
	sched_params_default(p);
	p->neighbours_k = cfg->k;
	p->defer_ms = cfg->defer_ms;
	p->alpha = 0.1;
	p->gamma = 0.2;
	p->epsilon = 0.3;
	p->epsilon_min = 0.02;
	p->epsilon_decay = 0.9995;
}

static void snapshot(struct smod_qpolicy *q, struct smod *m,
		     const struct smod_view *v, const struct smod_job *j,
		     struct sched_snapshot *snap)
{
	smod_node_state(m, v, 0, &q->local);
	for (uint32_t c = 1; c < v->n_cand; c++) {
		struct sched_neighbour *nb = &q->nb[c - 1];
		memset(&nb->id, 0, sizeof(nb->id));
		nb->id.b[0] = (uint8_t)(v->cand[c] + 1);
		smod_node_state(m, v, c, &nb->node);
		nb->link.rtt_ms = v->rtt_ms[c];
		nb->link.loss = 0.0;
		nb->link.bandwidth_bps = -1.0;
	}
	snap->local = &q->local;
	snap->nb = q->nb;
	snap->n_nb = v->n_cand - 1;
	snap->uplink_up = true;
	snap->forbid = 0;
	q->spec.qos = j->qos;
	q->spec.profile = j->profile;
	q->spec.max_delay_ms = j->deadline_ms;
	q->spec.mem_bytes = j->mem_bytes;
}

static int q_decide(void *ud, struct smod *m, const struct smod_view *v,
		    const struct smod_job *j, uint64_t *token)
{
	struct smod_qpolicy *q = ud;
	struct sched_snapshot snap;
	struct sched_decision d;
	snapshot(q, m, v, j, &snap);
	int rc = sched_decide(q->s[v->origin], &snap, &q->spec, &d);
	if (j->seq >= q->cap_pend) {
		size_t cap = q->cap_pend ? q->cap_pend : 4096;
		while (cap <= j->seq) {
			cap *= 2;
		}
		struct pending *np = realloc(q->pend, sizeof(*np) * cap);
		if (!np) {
			abort();
		}
		q->pend = np;
		q->cap_pend = cap;
	}
	struct pending *pd = &q->pend[j->seq];
	pd->state = d.state;
	pd->action = (uint8_t)d.action;
	pd->kind = (uint8_t)d.kind;
	pd->rank = (uint8_t)d.rank;
	pd->nb_index = d.nb_index;
	pd->nb_bucket = (uint8_t)d.nb_bucket;
	pd->nb_id = d.nb_id;
	*token = j->seq;
	if (rc < 0) {
		return SMOD_REJECT;
	}
	switch (d.kind) {
	case SCHED_LOCAL:
		return 0;
	case SCHED_OFFLOAD:
		/* candidate c + 1 is nb[c] */
		return d.nb_index + 1;
	case SCHED_DEFER:
		return SMOD_DEFER;
	default:
		return SMOD_REJECT;
	}
}

static void q_outcome(void *ud, struct smod *m, const struct smod_view *v,
		      const struct smod_job *j, uint64_t token,
		      const struct sched_outcome *o)
{
	struct smod_qpolicy *q = ud;
	struct sched_snapshot snap;
	uint32_t next;
	snapshot(q, m, v, j, &snap);
	struct sched *s = q->s[v->origin];
	if (sched_state(s, &snap, &q->spec, &next) < 0) {
		next = UINT32_MAX;
	}
	const struct pending *pd = &q->pend[token];
	struct sched_decision d;
	d.state = pd->state;
	d.action = pd->action;
	d.kind = (enum sched_kind)pd->kind;
	d.rank = pd->rank;
	d.nb_index = pd->nb_index;
	d.nb_bucket = pd->nb_bucket;
	d.nb_id = pd->nb_id;
	sched_observe(s, &d, &q->spec, o, next);
}

struct smod_qpolicy *smod_qpolicy_new(const struct smod_cfg *cfg,
				      const struct sched_params *params,
				      uint64_t seed, struct smod_policy *p)
{
	struct smod_qpolicy *q = calloc(1, sizeof(*q));
	if (!q) {
		return NULL;
	}
	q->n = cfg->n_nodes;
	for (uint32_t i = 0; i < q->n; i++) {
		if (sched_new(params, seed + i, &q->s[i]) < 0) {
			smod_qpolicy_free(q);
			return NULL;
		}
	}
	snprintf(q->spec.id, sizeof(q->spec.id), "sim");
	memset(p, 0, sizeof(*p));
	p->name = "farnode-q";
	p->ud = q;
	p->decide = q_decide;
	p->outcome = q_outcome;
	return q;
}

void smod_qpolicy_free(struct smod_qpolicy *q)
{
	if (!q) {
		return;
	}
	for (uint32_t i = 0; i < SMOD_NODES_MAX; i++) {
		sched_free(q->s[i]);
	}
	free(q->pend);
	free(q);
}

static void q_federate(void *ud, struct smod *m, double now_ms)
{
	struct smod_qpolicy *q = ud;
	(void)m;
	(void)now_ms;
	struct sched_share *sh[SMOD_NODES_MAX] = {0};
	size_t n[SMOD_NODES_MAX] = {0};
	/* Everyone shares first, then everyone merges: order-free. */
	for (uint32_t i = 0; i < q->n; i++) {
		size_t max = (size_t)q->fed_top_n * sched_n_actions(q->s[i]);
		sh[i] = malloc(sizeof(*sh[i]) * (max ? max : 1));
		if (!sh[i]) {
			abort();
		}
		n[i] = sched_share_top(q->s[i], q->fed_top_n, sh[i], max);
	}
	for (uint32_t i = 0; i < q->n; i++) {
		for (uint32_t j = 0; j < q->n; j++) {
			if (i != j) {
				sched_merge(q->s[i], sh[j], n[j],
					    q->fed_influence, NULL);
			}
		}
	}
	for (uint32_t i = 0; i < q->n; i++) {
		free(sh[i]);
	}
}

void smod_qpolicy_federate(struct smod_qpolicy *q, struct smod_policy *p,
			   double period_ms, uint32_t top_n,
			   double max_influence)
{
	q->fed_top_n = top_n;
	q->fed_influence = max_influence;
	p->period_ms = period_ms;
	p->periodic = q_federate;
}

struct sched *smod_qpolicy_sched(struct smod_qpolicy *q, uint32_t i)
{
	return i < q->n ? q->s[i] : NULL;
}
