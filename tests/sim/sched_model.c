// SPDX-License-Identifier: Apache-2.0
/*
 * sched_model: the partition model behind the scheduler study. Nodes are
 * FIFO multi-server queues (a job takes the core that frees first);
 * offloads pay half the RTT each way; a node fails a job with its hidden
 * probability half-way through. The workload stream is generated once per
 * model from the seed, so every policy sees exactly the same jobs.
 */
#include "sched_model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

struct nodesim {
	double core_free[SMOD_CORES_MAX];
	double *fin; /* min-heap of finish times of in-flight jobs */
	size_t n_fin, cap_fin;
	uint32_t rank[SMOD_NODES_MAX]; /* neighbours by RTT, nearest first */
	uint32_t g_running; /* in flight as of the last gossip round */
	double g_at;
};

enum ev_kind { EV_REARRIVAL = 1, EV_OUTCOME = 2 };

struct event {
	double t;
	uint64_t seq;
	enum ev_kind kind;
	uint32_t job;
	uint64_t token;
	struct sched_outcome o;
};

struct smod {
	struct smod_cfg cfg;
	struct smod_job *jobs;
	size_t n_jobs;
	struct nodesim node[SMOD_NODES_MAX];
	struct event *ev;
	size_t n_ev, cap_ev;
	uint64_t ev_seq;
	double now;
};

void smod_cfg_default(struct smod_cfg *c, uint64_t seed)
{
	static const struct smod_node_spec nodes[6] = {
		{"gw-a", 2, 1.0, 0.01, 4.0, 2.0},
		{"server", 8, 2.5, 0.005, 10.0, 20.0},
		{"old-arm", 4, 0.4, 0.01, 1.0, 1.0},
		{"flaky", 4, 1.2, 0.25, 4.0, 3.0},
		{"gw-b", 2, 1.0, 0.01, 4.0, 2.0},
		{"far", 4, 1.5, 0.01, 5.0, 3.0},
	};
	static const double rtt[6][6] = {
		{0, 12, 2, 3, 9, 45},   {12, 0, 10, 14, 8, 40},
		{2, 10, 0, 4, 6, 50},   {3, 14, 4, 0, 5, 45},
		{9, 8, 6, 5, 0, 35},    {45, 40, 50, 45, 35, 0},
	};
	static const double rate[6] = {110, 60, 100, 80, 100, 50};
	memset(c, 0, sizeof(*c));
	c->seed = seed;
	c->n_nodes = 6;
	for (int i = 0; i < 6; i++) {
		c->node[i] = nodes[i];
		c->rate_per_s[i] = rate[i];
		for (int j = 0; j < 6; j++) {
			c->rtt_ms[i][j] = rtt[i][j];
		}
	}
	c->k = 5;
	c->duration_ms = 600e3;
	c->burst_every_ms = 30e3;
	c->burst_len_ms = 2e3;
	c->burst_factor = 3.0;
	c->defer_ms = 250.0;
	c->max_defers = 3;
	c->offload_joules = 0.05;
	c->window_ms = 10e3;
}

const struct smod_cfg *smod_cfg(const struct smod *m)
{
	return &m->cfg;
}

/* --- workload stream --- */

static double exp_draw(struct rng *r, double mean)
{
	double u = rng_unit(r);
	return -mean * log(1.0 - u);
}

static int job_cmp(const void *a, const void *b)
{
	const struct smod_job *x = a, *y = b;
	if (x->arrival_ms != y->arrival_ms) {
		return x->arrival_ms < y->arrival_ms ? -1 : 1;
	}
	return x->origin < y->origin ? -1 : (x->origin > y->origin);
}

static void job_attrs(struct rng *r, struct smod_job *j)
{
	double u = rng_unit(r);
	if (u < 0.25) {
		j->qos = QOS_GOLD;
		j->deadline_ms = 80;
		j->profile = PERF_LATENCY;
	} else if (u < 0.65) {
		j->qos = QOS_SILVER;
		j->deadline_ms = 150;
		j->profile = rng_unit(r) < 0.5 ? PERF_LATENCY : PERF_RESILIENCE;
	} else {
		j->qos = QOS_BESTEFFORT;
		j->deadline_ms = 400;
		j->profile = PERF_GREENNESS;
	}
	if (rng_unit(r) < 0.6) {
		j->work_ms = 5.0 + exp_draw(r, 15.0);
	} else {
		j->work_ms = 10.0 + exp_draw(r, 60.0);
	}
	j->mem_bytes = 64ull << 20;
}

static int gen_stream(struct smod *m)
{
	const struct smod_cfg *c = &m->cfg;
	struct rng r;
	rng_seed(&r, c->seed ^ 0x5eedf00dULL);
	size_t cap = 1024;
	m->jobs = malloc(sizeof(*m->jobs) * cap);
	if (!m->jobs) {
		return -ENOMEM;
	}
	for (uint32_t o = 0; o < c->n_nodes; o++) {
		double rate = c->rate_per_s[o] / 1000.0; /* per ms */
		double max_rate = rate * c->burst_factor;
		double burst_start = exp_draw(&r, c->burst_every_ms);
		double t = 0.0;
		if (!(rate > 0.0)) {
			continue;
		}
		for (;;) {
			t += exp_draw(&r, 1.0 / max_rate);
			if (t >= c->duration_ms) {
				break;
			}
			while (t >= burst_start + c->burst_len_ms) {
				burst_start += c->burst_len_ms +
					       exp_draw(&r, c->burst_every_ms);
			}
			bool burst = t >= burst_start;
			double keep = burst ? 1.0 : 1.0 / c->burst_factor;
			if (rng_unit(&r) >= keep) {
				continue;
			}
			if (m->n_jobs == cap) {
				cap *= 2;
				struct smod_job *nj =
					realloc(m->jobs, sizeof(*nj) * cap);
				if (!nj) {
					return -ENOMEM;
				}
				m->jobs = nj;
			}
			struct smod_job *j = &m->jobs[m->n_jobs++];
			memset(j, 0, sizeof(*j));
			j->origin = o;
			j->arrival_ms = t;
			job_attrs(&r, j);
		}
	}
	qsort(m->jobs, m->n_jobs, sizeof(*m->jobs), job_cmp);
	for (size_t i = 0; i < m->n_jobs; i++) {
		m->jobs[i].seq = i;
	}
	return 0;
}

struct smod *smod_new(const struct smod_cfg *cfg)
{
	if (cfg->n_nodes < 1 || cfg->n_nodes > SMOD_NODES_MAX ||
	    cfg->k > SCHED_K_MAX || cfg->k >= cfg->n_nodes ||
	    !(cfg->window_ms > 0)) {
		return NULL;
	}
	for (uint32_t i = 0; i < cfg->n_nodes; i++) {
		if (cfg->node[i].cores < 1 ||
		    cfg->node[i].cores > SMOD_CORES_MAX ||
		    !(cfg->node[i].speed > 0)) {
			return NULL;
		}
	}
	struct smod *m = calloc(1, sizeof(*m));
	if (!m) {
		return NULL;
	}
	m->cfg = *cfg;
	if (gen_stream(m) < 0) {
		smod_free(m);
		return NULL;
	}
	/* Stable neighbour ranking by RTT (ties by index). */
	for (uint32_t o = 0; o < cfg->n_nodes; o++) {
		uint32_t n = 0;
		for (uint32_t i = 0; i < cfg->n_nodes; i++) {
			if (i != o) {
				m->node[o].rank[n++] = i;
			}
		}
		for (uint32_t a = 1; a < n; a++) {
			uint32_t x = m->node[o].rank[a], b = a;
			while (b > 0 && cfg->rtt_ms[o][m->node[o].rank[b - 1]] >
						cfg->rtt_ms[o][x]) {
				m->node[o].rank[b] = m->node[o].rank[b - 1];
				b--;
			}
			m->node[o].rank[b] = x;
		}
	}
	return m;
}

void smod_free(struct smod *m)
{
	if (!m) {
		return;
	}
	for (uint32_t i = 0; i < SMOD_NODES_MAX; i++) {
		free(m->node[i].fin);
	}
	free(m->ev);
	free(m->jobs);
	free(m);
}

/* --- heaps --- */

static void fin_push(struct nodesim *n, double t)
{
	if (n->n_fin == n->cap_fin) {
		size_t cap = n->cap_fin ? n->cap_fin * 2 : 64;
		double *f = realloc(n->fin, sizeof(*f) * cap);
		if (!f) {
			abort(); /* test program: out of memory is fatal */
		}
		n->fin = f;
		n->cap_fin = cap;
	}
	size_t i = n->n_fin++;
	while (i > 0 && n->fin[(i - 1) / 2] > t) {
		n->fin[i] = n->fin[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	n->fin[i] = t;
}

static void fin_pop(struct nodesim *n)
{
	double last = n->fin[--n->n_fin];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n->n_fin) {
			break;
		}
		if (c + 1 < n->n_fin && n->fin[c + 1] < n->fin[c]) {
			c++;
		}
		if (n->fin[c] >= last) {
			break;
		}
		n->fin[i] = n->fin[c];
		i = c;
	}
	if (n->n_fin > 0) {
		n->fin[i] = last;
	}
}

static bool ev_less(const struct event *a, const struct event *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void ev_push(struct smod *m, struct event e)
{
	if (m->n_ev == m->cap_ev) {
		size_t cap = m->cap_ev ? m->cap_ev * 2 : 1024;
		struct event *v = realloc(m->ev, sizeof(*v) * cap);
		if (!v) {
			abort();
		}
		m->ev = v;
		m->cap_ev = cap;
	}
	e.seq = m->ev_seq++;
	size_t i = m->n_ev++;
	while (i > 0 && ev_less(&e, &m->ev[(i - 1) / 2])) {
		m->ev[i] = m->ev[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	m->ev[i] = e;
}

static struct event ev_pop(struct smod *m)
{
	struct event top = m->ev[0];
	struct event last = m->ev[--m->n_ev];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= m->n_ev) {
			break;
		}
		if (c + 1 < m->n_ev && ev_less(&m->ev[c + 1], &m->ev[c])) {
			c++;
		}
		if (!ev_less(&m->ev[c], &last)) {
			break;
		}
		m->ev[i] = m->ev[c];
		i = c;
	}
	if (m->n_ev > 0) {
		m->ev[i] = last;
	}
	return top;
}

/* --- node state --- */

static uint32_t inflight(struct smod *m, uint32_t i)
{
	struct nodesim *n = &m->node[i];
	while (n->n_fin > 0 && n->fin[0] <= m->now) {
		fin_pop(n);
	}
	return (uint32_t)n->n_fin;
}

/* What others know of node i: its in-flight count as of the last gossip
 * round (refreshed at the first look after each round boundary). */
static uint32_t gossiped(struct smod *m, uint32_t i)
{
	struct nodesim *n = &m->node[i];
	double g = m->cfg.gossip_ms;
	if (!(g > 0.0)) {
		return inflight(m, i);
	}
	if (m->now >= n->g_at + g || m->now < n->g_at) {
		n->g_running = inflight(m, i);
		n->g_at = floor(m->now / g) * g;
	}
	return n->g_running;
}

static void make_view(struct smod *m, uint32_t origin, struct smod_view *v)
{
	v->origin = origin;
	v->now_ms = m->now;
	v->n_cand = 1 + m->cfg.k;
	for (uint32_t c = 0; c < v->n_cand; c++) {
		uint32_t i = c == 0 ? origin : m->node[origin].rank[c - 1];
		uint32_t running = c == 0 ? inflight(m, i) : gossiped(m, i);
		v->cand[c] = i;
		v->load[c] = (double)running / m->cfg.node[i].cores;
		v->rtt_ms[c] = m->cfg.rtt_ms[origin][i];
	}
}

void smod_node_state(const struct smod *m, const struct smod_view *v,
		     uint32_t c, struct node_state *ns)
{
	uint32_t i = v->cand[c];
	const struct smod_node_spec *sp = &m->cfg.node[i];
	uint32_t running = (uint32_t)lround(v->load[c] * sp->cores);
	uint32_t busy = running < sp->cores ? running : sp->cores;
	ns->version++;
	ns->cpu_cores = sp->cores;
	ns->cpu_free = 1.0 - (double)busy / sp->cores;
	ns->cpu_milli_free = (sp->cores - busy) * 1000;
	ns->workloads_running = running;
	ns->mem_total_bytes = 4ull << 30;
	ns->mem_free_bytes = 2ull << 30;
	ns->energy_watts = sp->idle_watts + busy * sp->watts_per_core;
	ns->failure_rate = -1.0; /* not known to anyone but the oracle */
	ns->temperature_c = 50.0;
	ns->uplink_connected = true;
}

static bool draw_fail(const struct smod *m, const struct smod_job *j,
		      uint32_t node)
{
	uint64_t x = m->cfg.seed ^ (j->seq * 0x9e3779b97f4a7c15ULL) ^
		     ((uint64_t)node << 56);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	double u = (double)(x >> 11) * 0x1.0p-53;
	return u < m->cfg.node[node].fail_prob;
}

struct placement {
	double latency;   /* at the origin, from first arrival */
	double back_at;   /* absolute time the outcome reaches the origin */
	double end_at;    /* core released */
	uint32_t core;
	bool fails;
	double energy_j;
};

static void place_calc(const struct smod *m, uint32_t origin,
		       const struct smod_job *j, uint32_t node,
		       struct placement *pl)
{
	const struct smod_node_spec *sp = &m->cfg.node[node];
	const struct nodesim *n = &m->node[node];
	double half = m->cfg.rtt_ms[origin][node] / 2.0;
	uint32_t core = 0;
	for (uint32_t c = 1; c < sp->cores; c++) {
		if (n->core_free[c] < n->core_free[core]) {
			core = c;
		}
	}
	double arrive = m->now + half;
	double start = arrive > n->core_free[core] ? arrive : n->core_free[core];
	double svc = j->work_ms / sp->speed;
	pl->fails = draw_fail(m, j, node);
	if (pl->fails) {
		svc *= 0.5;
	}
	pl->core = core;
	pl->end_at = start + svc;
	pl->back_at = pl->end_at + half;
	pl->latency = pl->back_at - j->arrival_ms;
	pl->energy_j = sp->watts_per_core * svc / 1000.0 +
		       (node != origin ? m->cfg.offload_joules : 0.0);
}

double smod_predict(const struct smod *m, const struct smod_view *v,
		    const struct smod_job *j, uint32_t c, bool *fails)
{
	struct placement pl;
	place_calc(m, v->origin, j, v->cand[c], &pl);
	if (fails) {
		*fails = pl.fails;
	}
	return pl.latency;
}

/* --- the run --- */

struct acct {
	struct smod_result *r;
	double warmup;
	double *lat;
	size_t n_lat, cap_lat;
	double lat_sum;
	uint64_t *win_total, *win_met;
	uint64_t cls_total[3], cls_met[3];
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void account(struct acct *a, const struct smod_cfg *c,
		    const struct smod_job *j, const struct sched_outcome *o)
{
	uint32_t w = (uint32_t)(j->arrival_ms / c->window_ms);
	bool met = o->result == SCHED_OUT_DONE && o->deadline_met;
	if (w < SMOD_CURVE_MAX) {
		a->win_total[w]++;
		a->win_met[w] += met;
	}
	if (j->arrival_ms < a->warmup) {
		return;
	}
	struct smod_result *r = a->r;
	r->jobs++;
	r->energy_j += o->energy_j;
	a->cls_total[j->qos]++;
	a->cls_met[j->qos] += met;
	switch (o->result) {
	case SCHED_OUT_DONE:
		if (o->deadline_met) {
			r->met++;
		} else {
			r->missed++;
		}
		if (a->n_lat == a->cap_lat) {
			a->cap_lat = a->cap_lat ? a->cap_lat * 2 : 4096;
			a->lat = realloc(a->lat, sizeof(double) * a->cap_lat);
			if (!a->lat) {
				abort();
			}
		}
		a->lat[a->n_lat++] = o->latency_ms;
		a->lat_sum += o->latency_ms;
		break;
	case SCHED_OUT_FAILED:
		r->failed++;
		break;
	default:
		r->rejected++;
		break;
	}
}

static void reset(struct smod *m)
{
	for (uint32_t i = 0; i < SMOD_NODES_MAX; i++) {
		memset(m->node[i].core_free, 0, sizeof(m->node[i].core_free));
		m->node[i].n_fin = 0;
		m->node[i].g_running = 0;
		m->node[i].g_at = 0.0;
	}
	m->n_ev = 0;
	m->ev_seq = 0;
	m->now = 0.0;
}

static void deliver(struct smod *m, const struct smod_policy *p,
		    struct acct *a, const struct smod_job *j, uint64_t token,
		    const struct sched_outcome *o)
{
	if (p->outcome) {
		struct smod_view v;
		make_view(m, j->origin, &v);
		p->outcome(p->ud, m, &v, j, token, o);
	}
	if (o->result != SCHED_OUT_DEFERRED) {
		account(a, &m->cfg, j, o);
	}
}

static void decide_one(struct smod *m, const struct smod_policy *p,
		       struct acct *a, struct smod_job *j)
{
	struct smod_view v;
	make_view(m, j->origin, &v);
	uint64_t token = 0;
	int c = p->decide(p->ud, m, &v, j, &token);
	struct sched_outcome o = {0};
	if (c == SMOD_DEFER && j->defers >= m->cfg.max_defers) {
		c = SMOD_REJECT;
	}
	if (c == SMOD_DEFER) {
		j->defers++;
		if (j->arrival_ms >= a->warmup) {
			a->r->deferred++;
		}
		struct event e = {.t = m->now + m->cfg.defer_ms,
				  .kind = EV_REARRIVAL,
				  .job = (uint32_t)j->seq,
				  .token = token};
		e.o.result = SCHED_OUT_DEFERRED;
		e.o.latency_ms = e.t - j->arrival_ms;
		ev_push(m, e);
		return;
	}
	if (c < 0 || (uint32_t)c >= v.n_cand) {
		o.result = SCHED_OUT_REJECTED;
		o.latency_ms = m->now - j->arrival_ms;
		deliver(m, p, a, j, token, &o);
		return;
	}
	uint32_t node = v.cand[c];
	struct placement pl;
	place_calc(m, j->origin, j, node, &pl);
	m->node[node].core_free[pl.core] = pl.end_at;
	fin_push(&m->node[node], pl.end_at);
	if (node != j->origin && j->arrival_ms >= a->warmup) {
		a->r->offloaded++;
	}
	struct event e = {.t = pl.back_at,
			  .kind = EV_OUTCOME,
			  .job = (uint32_t)j->seq,
			  .token = token};
	e.o.result = pl.fails ? SCHED_OUT_FAILED : SCHED_OUT_DONE;
	e.o.latency_ms = pl.latency;
	e.o.deadline_met = !pl.fails && pl.latency <= j->deadline_ms;
	e.o.energy_j = pl.energy_j;
	ev_push(m, e);
}

int smod_run(struct smod *m, const struct smod_policy *p, double warmup_ms,
	     struct smod_result *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	reset(m);
	struct smod_job *jobs = malloc(sizeof(*jobs) * (m->n_jobs ? m->n_jobs : 1));
	size_t n_win = (size_t)ceil(m->cfg.duration_ms / m->cfg.window_ms);
	if (n_win > SMOD_CURVE_MAX) {
		n_win = SMOD_CURVE_MAX;
	}
	struct acct a = {.r = out, .warmup = warmup_ms};
	a.win_total = calloc(SMOD_CURVE_MAX, sizeof(uint64_t));
	a.win_met = calloc(SMOD_CURVE_MAX, sizeof(uint64_t));
	if (!jobs || !a.win_total || !a.win_met) {
		free(jobs);
		free(a.win_total);
		free(a.win_met);
		return -ENOMEM;
	}
	memcpy(jobs, m->jobs, sizeof(*jobs) * m->n_jobs);
	size_t next = 0;
	double next_periodic = p->periodic ? p->period_ms : INFINITY;
	while (next < m->n_jobs || m->n_ev > 0) {
		double t_next = next < m->n_jobs ? jobs[next].arrival_ms
						 : INFINITY;
		if (m->n_ev > 0 && m->ev[0].t < t_next) {
			t_next = m->ev[0].t;
		}
		if (t_next >= next_periodic) {
			m->now = next_periodic;
			p->periodic(p->ud, m, m->now);
			next_periodic += p->period_ms;
			continue;
		}
		bool take_ev = m->n_ev > 0 &&
			       (next == m->n_jobs ||
				m->ev[0].t <= jobs[next].arrival_ms);
		if (!take_ev) {
			struct smod_job *j = &jobs[next++];
			m->now = j->arrival_ms;
			decide_one(m, p, &a, j);
			continue;
		}
		struct event e = ev_pop(m);
		m->now = e.t;
		struct smod_job *j = &jobs[e.job];
		deliver(m, p, &a, j, e.token, &e.o);
		if (e.kind == EV_REARRIVAL) {
			decide_one(m, p, &a, j);
		}
	}
	out->met_ratio = out->jobs ? (double)out->met / out->jobs : 0.0;
	if (a.n_lat > 0) {
		qsort(a.lat, a.n_lat, sizeof(double), cmp_double);
		out->mean_latency_ms = a.lat_sum / a.n_lat;
		size_t k = (size_t)ceil(0.99 * a.n_lat);
		out->p99_latency_ms = a.lat[k > 0 ? k - 1 : 0];
	}
	out->energy_per_job_j = out->jobs ? out->energy_j / out->jobs : 0.0;
	double *cls[3] = {&out->met_be, &out->met_silver, &out->met_gold};
	for (int c = 0; c < 3; c++) {
		*cls[c] = a.cls_total[c] ? (double)a.cls_met[c] / a.cls_total[c]
					 : 0.0;
	}
	out->n_curve = (uint32_t)n_win;
	for (size_t w = 0; w < n_win; w++) {
		out->curve[w] = a.win_total[w]
					? (double)a.win_met[w] / a.win_total[w]
					: 0.0;
	}
	free(a.lat);
	free(a.win_total);
	free(a.win_met);
	free(jobs);
	return 0;
}

/* --- printing --- */

void smod_result_print(FILE *f, const struct smod_result *r)
{
	fprintf(f,
		"%-18s met %6.2f%%  (gold %5.1f%% silver %5.1f%% be %5.1f%%)"
		"  mean %7.1f ms  p99 %7.1f ms  energy %6.3f J/job"
		"  failed %5.2f%%  rejected %5.2f%%  offloaded %5.1f%%\n",
		r->name, 100.0 * r->met_ratio, 100.0 * r->met_gold,
		100.0 * r->met_silver, 100.0 * r->met_be, r->mean_latency_ms,
		r->p99_latency_ms, r->energy_per_job_j,
		r->jobs ? 100.0 * r->failed / r->jobs : 0.0,
		r->jobs ? 100.0 * r->rejected / r->jobs : 0.0,
		r->jobs ? 100.0 * r->offloaded / r->jobs : 0.0);
}

void smod_result_csv_header(FILE *f)
{
	fprintf(f, "scheduler,jobs,met_ratio,met_gold,met_silver,met_be,"
		   "mean_latency_ms,p99_latency_ms,energy_j,energy_per_job_j,"
		   "failed,rejected,offloaded,deferred\n");
}

void smod_result_csv(FILE *f, const struct smod_result *r)
{
	fprintf(f,
		"%s,%llu,%.4f,%.4f,%.4f,%.4f,%.2f,%.2f,%.1f,%.4f,%llu,%llu,"
		"%llu,%llu\n",
		r->name, (unsigned long long)r->jobs, r->met_ratio, r->met_gold,
		r->met_silver, r->met_be, r->mean_latency_ms, r->p99_latency_ms,
		r->energy_j, r->energy_per_job_j,
		(unsigned long long)r->failed, (unsigned long long)r->rejected,
		(unsigned long long)r->offloaded,
		(unsigned long long)r->deferred);
}
