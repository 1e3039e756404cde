// SPDX-License-Identifier: Apache-2.0
/*
 * sim_sched: the scheduler study on the partition model (sched_model.h).
 *
 * Without arguments (make test): a short seeded run printing TAP —
 * deterministic per seed, farnode Q-learning beats random after warm-up,
 * tables stay finite, the federated prior helps the start.
 * With --study DIR [--seconds N] [--seed S]: the full comparison, written
 * to DIR/sched_study.csv and DIR/sched_curves.csv (plotted by
 * tests/bench/bench_sched.sh).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "sched_model.h"

static int n_test;
static int n_fail;

static void tap(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %d - ", ok ? "" : "not ", ++n_test);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!ok) {
		n_fail++;
	}
}

/* Train a twin partition (same layout, other stream) and turn each node's
 * table into an export file image: the federated prior. */
static int make_prior(const struct smod_cfg *base, uint64_t seed,
		      const struct sched_params *qp, uint8_t **img,
		      size_t *len)
{
	struct smod_cfg cfg = *base;
	cfg.seed = seed;
	struct smod *m = smod_new(&cfg);
	struct smod_policy p;
	struct smod_qpolicy *q = smod_qpolicy_new(&cfg, qp, seed, &p);
	struct smod_result r;
	int rc = -ENOMEM;
	if (!m || !q) {
		goto out;
	}
	if ((rc = smod_run(m, &p, 0.0, &r)) < 0) {
		goto out;
	}
	for (uint32_t i = 0; i < cfg.n_nodes; i++) {
		rc = sched_export_encode(smod_qpolicy_sched(q, i), 0, &img[i],
					 &len[i]);
		if (rc < 0) {
			goto out;
		}
	}
out:
	smod_qpolicy_free(q);
	smod_free(m);
	return rc;
}

/* Import node i's prior file, then merge the second twin's shares with
 * bounded influence (a federated round). */
static int apply_prior(struct smod_qpolicy *q, uint32_t n, uint8_t **img_a,
		       size_t *len_a, uint8_t **img_b, size_t *len_b)
{
	for (uint32_t i = 0; i < n; i++) {
		struct sched *s = smod_qpolicy_sched(q, i);
		struct sched_share *e = NULL;
		size_t ne = 0;
		char why[200];
		int rc = sched_import_decode(s, img_a[i], len_a[i], &e, &ne,
					     why, sizeof(why));
		if (rc < 0) {
			fprintf(stderr, "prior: %s\n", why);
			return rc;
		}
		sched_import_apply(s, e, ne);
		free(e);
		if (img_b) {
			rc = sched_import_decode(s, img_b[i], len_b[i], &e, &ne,
						 why, sizeof(why));
			if (rc < 0) {
				fprintf(stderr, "prior: %s\n", why);
				return rc;
			}
			sched_merge(s, e, ne, 0.5, NULL);
			free(e);
		}
		sched_dirty_clear(s);
	}
	return 0;
}

enum {
	R_RANDOM,
	R_RR,
	R_LL,
	R_P2C,
	R_QCOLD,
	R_QPRIOR,
	R_QFIXED, /* ablation: neighbours in RTT order, no learned rank */
	R_QFED,   /* cold start with live federation inside the partition */
	R_ORACLE,
	R_N
};

struct study {
	struct smod_result res[R_N];
	uint64_t q_rejected_rewards;
	bool q_finite;
};

static bool tables_finite(struct smod_qpolicy *q, uint32_t n, uint64_t *rej)
{
	bool ok = true;
	*rej = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct sched *s = smod_qpolicy_sched(q, i);
		*rej += sched_stats(s)->rewards_rejected;
		for (uint32_t st = 0; st < sched_n_states(s); st++) {
			for (uint32_t a = 0; a < sched_n_actions(s); a++) {
				double v;
				sched_q_get(s, st, a, &v, NULL);
				ok = ok && isfinite(v);
			}
		}
	}
	return ok;
}

static int run_study(const struct smod_cfg *cfg, double warmup_ms,
		     struct study *out)
{
	struct smod *m = smod_new(cfg);
	struct sched_params qp;
	uint8_t *pa[SMOD_NODES_MAX] = {0}, *pb[SMOD_NODES_MAX] = {0};
	size_t la[SMOD_NODES_MAX] = {0}, lb[SMOD_NODES_MAX] = {0};
	int rc = -ENOMEM;
	if (!m) {
		return rc;
	}
	smod_qparams(&qp, cfg);
	static const enum smod_baseline_kind kinds[] = {
		SMOD_RANDOM, SMOD_ROUND_ROBIN, SMOD_LEAST_LOADED, SMOD_P2C};
	for (int i = 0; i < 4; i++) {
		struct smod_policy p;
		struct smod_baseline *b =
			smod_baseline_new(kinds[i], cfg->seed + 11, &p);
		rc = b ? smod_run(m, &p, warmup_ms, &out->res[i]) : -ENOMEM;
		smod_baseline_free(b);
		if (rc < 0) {
			goto out;
		}
	}
	struct smod_policy p;
	struct smod_baseline *b = smod_baseline_new(SMOD_ORACLE, 0, &p);
	rc = b ? smod_run(m, &p, warmup_ms, &out->res[R_ORACLE]) : -ENOMEM;
	smod_baseline_free(b);
	if (rc < 0) {
		goto out;
	}

	struct smod_qpolicy *q = smod_qpolicy_new(cfg, &qp, cfg->seed + 21, &p);
	rc = q ? smod_run(m, &p, warmup_ms, &out->res[R_QCOLD]) : -ENOMEM;
	if (q) {
		out->q_finite = tables_finite(q, cfg->n_nodes,
					      &out->q_rejected_rewards);
	}
	smod_qpolicy_free(q);
	if (rc < 0) {
		goto out;
	}

	/* Ablation: the same core with the caller's (RTT) neighbour order. */
	struct sched_params fixed = qp;
	fixed.rank_learned = false;
	q = smod_qpolicy_new(cfg, &fixed, cfg->seed + 21, &p);
	if (q) {
		p.name = "farnode-q-rttrank";
	}
	rc = q ? smod_run(m, &p, warmup_ms, &out->res[R_QFIXED]) : -ENOMEM;
	smod_qpolicy_free(q);
	if (rc < 0) {
		goto out;
	}

	/* Cold start, sharing Q-values inside the partition every 30 s. */
	q = smod_qpolicy_new(cfg, &qp, cfg->seed + 21, &p);
	if (q) {
		p.name = "farnode-q-fed";
		smod_qpolicy_federate(q, &p, 30e3, 64, 0.2);
	}
	rc = q ? smod_run(m, &p, warmup_ms, &out->res[R_QFED]) : -ENOMEM;
	smod_qpolicy_free(q);
	if (rc < 0) {
		goto out;
	}

	/* Federated prior from two twin partitions, then a warm start with
	 * little exploration. */
	if ((rc = make_prior(cfg, cfg->seed + 1000, &qp, pa, la)) < 0 ||
	    (rc = make_prior(cfg, cfg->seed + 2000, &qp, pb, lb)) < 0) {
		goto out;
	}
	struct sched_params warm = qp;
	warm.epsilon = 0.05;
	q = smod_qpolicy_new(cfg, &warm, cfg->seed + 31, &p);
	rc = q ? apply_prior(q, cfg->n_nodes, pa, la, pb, lb) : -ENOMEM;
	if (rc == 0) {
		p.name = "farnode-q-prior";
		rc = smod_run(m, &p, warmup_ms, &out->res[R_QPRIOR]);
	}
	smod_qpolicy_free(q);
out:
	for (int i = 0; i < SMOD_NODES_MAX; i++) {
		free(pa[i]);
		free(pb[i]);
	}
	smod_free(m);
	return rc;
}

struct scenario {
	const char *name;
	double gossip_ms;
};

/* exact: every node sees every load instantly (the best case for load
 * based greedy); gossip250: neighbours' loads are up to 250 ms old, as
 * they are when they travel on gossip. */
static const struct scenario scenarios[] = {
	{"exact", 0.0},
	{"gossip250", 250.0},
};
#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static int write_curves(const char *dir, const char *scn,
			const struct smod_cfg *cfg, const struct study *s)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/sched_curves_%s.csv", dir, scn);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -errno;
	}
	fprintf(f, "t_s");
	for (int i = 0; i < R_N; i++) {
		fprintf(f, ",%s", s->res[i].name);
	}
	fprintf(f, "\n");
	for (uint32_t w = 0; w < s->res[0].n_curve; w++) {
		fprintf(f, "%.0f", (w + 1) * cfg->window_ms / 1000.0);
		for (int i = 0; i < R_N; i++) {
			fprintf(f, ",%.4f", s->res[i].curve[w]);
		}
		fprintf(f, "\n");
	}
	fclose(f);
	return 0;
}

static void print_table(const struct study *s)
{
	for (int i = 0; i < R_N; i++) {
		smod_result_print(stdout, &s->res[i]);
	}
	const struct smod_result *q = &s->res[R_QCOLD], *ll = &s->res[R_LL],
				 *o = &s->res[R_ORACLE];
	printf("farnode-q vs least-loaded: %+.2f points; vs oracle: "
	       "%.1f%% of its met ratio\n",
	       100.0 * (q->met_ratio - ll->met_ratio),
	       o->met_ratio > 0 ? 100.0 * q->met_ratio / o->met_ratio : 0.0);
}

static int study_main(int argc, char **argv)
{
	const char *dir = NULL;
	double seconds = 600.0;
	uint64_t seed = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--study") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: sim_sched [--study DIR "
					"[--seconds N] [--seed S]]\n");
			return 2;
		}
	}
	FILE *csv = NULL;
	if (dir) {
		char path[512];
		snprintf(path, sizeof(path), "%s/sched_study.csv", dir);
		csv = fopen(path, "w");
		if (!csv) {
			perror(path);
			return 1;
		}
		fprintf(csv, "scenario,");
		smod_result_csv_header(csv);
	}
	struct study *s = calloc(1, sizeof(*s));
	int rc = s ? 0 : 1;
	for (size_t k = 0; k < N_SCENARIOS && rc == 0; k++) {
		struct smod_cfg cfg;
		smod_cfg_default(&cfg, seed);
		cfg.duration_ms = seconds * 1000.0;
		cfg.gossip_ms = scenarios[k].gossip_ms;
		memset(s, 0, sizeof(*s));
		if (run_study(&cfg, cfg.duration_ms / 2.0, s) < 0) {
			fprintf(stderr, "sim_sched: study failed\n");
			rc = 1;
			break;
		}
		printf("scenario %s: %u nodes, K=%u, %.0f s of arrivals, "
		       "neighbour load staleness %.0f ms, seed %llu; totals "
		       "over the second half (after warm-up)\n",
		       scenarios[k].name, cfg.n_nodes, cfg.k, seconds,
		       cfg.gossip_ms, (unsigned long long)seed);
		print_table(s);
		if (dir) {
			for (int i = 0; i < R_N; i++) {
				fprintf(csv, "%s,", scenarios[k].name);
				smod_result_csv(csv, &s->res[i]);
			}
			if (write_curves(dir, scenarios[k].name, &cfg, s) < 0) {
				rc = 1;
			}
		}
	}
	if (csv) {
		fclose(csv);
	}
	free(s);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		return study_main(argc, argv);
	}
	struct smod_cfg cfg;
	smod_cfg_default(&cfg, 7);
	cfg.duration_ms = 240e3;
	double warmup = 120e3;
	struct study *a = calloc(1, sizeof(*a));
	struct study *b = calloc(1, sizeof(*b));
	if (!a || !b || run_study(&cfg, warmup, a) < 0 ||
	    run_study(&cfg, warmup, b) < 0) {
		printf("not ok 1 - study runs\n");
		return 1;
	}
	print_table(a);
	bool same = true;
	for (int i = 0; i < R_N; i++) {
		same = same && a->res[i].met == b->res[i].met &&
		       a->res[i].jobs == b->res[i].jobs &&
		       a->res[i].energy_j == b->res[i].energy_j &&
		       a->res[i].p99_latency_ms == b->res[i].p99_latency_ms;
	}
	tap(same, "same seed, same results for every scheduler");
	tap(a->res[R_QCOLD].jobs > 10000 &&
		    a->res[R_QCOLD].jobs == a->res[R_RANDOM].jobs,
	    "every scheduler saw the same %llu jobs after warm-up",
	    (unsigned long long)a->res[R_RANDOM].jobs);
	tap(a->res[R_QCOLD].met_ratio > a->res[R_RANDOM].met_ratio + 0.05,
	    "q-learning after warm-up beats random (%.3f vs %.3f)",
	    a->res[R_QCOLD].met_ratio, a->res[R_RANDOM].met_ratio);
	tap(a->res[R_QCOLD].met_ratio > a->res[R_RR].met_ratio,
	    "q-learning after warm-up beats round-robin (%.3f vs %.3f)",
	    a->res[R_QCOLD].met_ratio, a->res[R_RR].met_ratio);
	tap(a->res[R_ORACLE].met_ratio >= a->res[R_LL].met_ratio &&
		    a->res[R_ORACLE].met_ratio > a->res[R_RANDOM].met_ratio,
	    "the oracle bounds the load-based baselines (%.3f)",
	    a->res[R_ORACLE].met_ratio);
	tap(a->q_finite && a->q_rejected_rewards == 0,
	    "q tables finite, no reward refused");
	struct smod_cfg stale = cfg;
	stale.gossip_ms = 250.0;
	struct study *c = calloc(1, sizeof(*c));
	if (!c || run_study(&stale, warmup, c) < 0) {
		printf("not ok %d - stale study runs\n", ++n_test);
		return 1;
	}
	tap(c->res[R_QCOLD].met_ratio > c->res[R_LL].met_ratio,
	    "with 250 ms old neighbour loads q-learning beats least-loaded "
	    "(%.3f vs %.3f)",
	    c->res[R_QCOLD].met_ratio, c->res[R_LL].met_ratio);
	free(c);
	tap(a->res[R_QPRIOR].curve[0] > a->res[R_QCOLD].curve[0],
	    "federated prior starts better than cold (%.3f vs %.3f in the "
	    "first window)",
	    a->res[R_QPRIOR].curve[0], a->res[R_QCOLD].curve[0]);
	free(a);
	free(b);
	return n_fail ? 1 : 0;
}
