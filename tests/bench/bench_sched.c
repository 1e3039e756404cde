// SPDX-License-Identifier: Apache-2.0
/*
 * bench_sched: scheduler throughput. Decisions per second from the
 * in-memory table (targets: >= 1,000,000/s), decide+learn pairs per
 * second, and Q updates per second persisted through the write-behind
 * path into the agent's real store (target: >= 100,000/s batched). Prints
 * numbers, asserts nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched.h"
#include "sched_store.h"
#include "store.h"

#define N_SNAPS 64

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this process: rates by CPU time stay comparable on a
 * machine shared with other work; wall-clock rates are printed too. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct snapset {
	struct node_state local[N_SNAPS];
	struct sched_neighbour nb[N_SNAPS][3];
	struct sched_snapshot snap[N_SNAPS];
	struct workload_spec *w; /* large; heap */
};

static void make_snaps(struct snapset *ss)
{
	for (int i = 0; i < N_SNAPS; i++) {
		struct node_state *l = &ss->local[i];
		memset(l, 0, sizeof(*l));
		l->cpu_cores = 4;
		l->cpu_free = (double)(i % 8) / 8.0;
		l->workloads_running = (uint32_t)(i % 9);
		l->mem_total_bytes = 1000;
		l->mem_free_bytes = 100 + (uint64_t)(i * 13 % 900);
		for (int k = 0; k < 3; k++) {
			struct sched_neighbour *nb = &ss->nb[i][k];
			memset(nb, 0, sizeof(*nb));
			nb->id.b[0] = (uint8_t)(k + 1);
			nb->node = *l;
			nb->node.cpu_free = (double)((i + k * 3) % 8) / 8.0;
			nb->link.rtt_ms = 1.0 + (i * 7 + k * 11) % 80;
			nb->link.bandwidth_bps = -1.0;
		}
		ss->snap[i].local = l;
		ss->snap[i].nb = ss->nb[i];
		ss->snap[i].n_nb = 3;
		ss->snap[i].uplink_up = i & 1;
		ss->snap[i].forbid = 0;
	}
	ss->w = calloc(1, sizeof(*ss->w));
	snprintf(ss->w->id, sizeof(ss->w->id), "bench");
	ss->w->max_delay_ms = 5000;
}

static void bench_decide(struct snapset *ss)
{
	struct sched_params p;
	sched_params_default(&p);
	struct sched *s = NULL;
	if (sched_new(&p, 1, &s) < 0) {
		return;
	}
	struct sched_decision d;
	const uint32_t n = 4000000;
	uint64_t sink = 0;
	double t0 = now_s(), c0 = cpu_s();
	for (uint32_t i = 0; i < n; i++) {
		ss->w->qos = (enum qos_class)(i % 3);
		sched_decide(s, &ss->snap[i % N_SNAPS], ss->w, &d);
		sink += d.action;
	}
	double dt = now_s() - t0, dc = cpu_s() - c0;
	printf("decisions (in-memory, K=3, 3 neighbours): %10.0f /s wall, "
	       "%10.0f /s cpu  (%.0f ns cpu each, checksum %llu)\n",
	       n / dt, n / dc, dc / n * 1e9, (unsigned long long)sink);

	struct sched_outcome o = {SCHED_OUT_DONE, true, 40.0, 1.0};
	const uint32_t m = 2000000;
	t0 = now_s();
	c0 = cpu_s();
	for (uint32_t i = 0; i < m; i++) {
		ss->w->qos = (enum qos_class)(i % 3);
		sched_decide(s, &ss->snap[i % N_SNAPS], ss->w, &d);
		o.deadline_met = (i & 7) != 0;
		sched_observe(s, &d, ss->w, &o, d.state);
	}
	dt = now_s() - t0;
	dc = cpu_s() - c0;
	printf("decide + learn pairs (in-memory):         %10.0f /s wall, "
	       "%10.0f /s cpu\n",
	       m / dt, m / dc);
	sched_free(s);
}

static void bench_persist(void)
{
	char dir[] = "/tmp/farnode-bench-sched-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return;
	}
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/farnode.db", dir);
	struct store *st = NULL;
	struct sched_store *ss = NULL;
	struct sched *s = NULL;
	struct sched_params p;
	sched_params_default(&p);
	p.neighbours_k = 8; /* 11 actions: 12,672 cells */
	if (store_open(path, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_sched: %s\n", err);
		goto out;
	}
	if (sched_new(&p, 2, &s) < 0 ||
	    sched_store_new(store_db(st), 10000, &ss) < 0) {
		goto out;
	}
	uint32_t cells = sched_n_states(s) * sched_n_actions(s);
	const uint32_t per_tick = 10000, ticks = 40;
	uint64_t updates = 0, written = 0;
	uint32_t c = 0;
	double t0 = now_s(), c0 = cpu_s();
	for (uint32_t t = 0; t < ticks; t++) {
		for (uint32_t i = 0; i < per_tick; i++) {
			c = (c + 7919) % cells; /* distinct within a tick */
			uint32_t na = sched_n_actions(s);
			sched_learn(s, c / na, c % na, (double)(i & 3) - 1.0,
				    (c * 31) % sched_n_states(s));
			updates++;
		}
		int rc = sched_store_flush(ss, s);
		if (rc < 0) {
			fprintf(stderr, "bench_sched: flush failed: %d\n", rc);
			goto out;
		}
		written += (uint64_t)rc;
	}
	double dt = now_s() - t0, dc = cpu_s() - c0;
	printf("persisted Q updates (write-behind, %u per tick, WAL): "
	       "%10.0f /s wall, %10.0f /s cpu  (%llu rows in %u ticks, "
	       "%.2f ms wall per tick)\n",
	       per_tick, written / dt, written / dc,
	       (unsigned long long)written, ticks, dt / ticks * 1e3);

	/* Decision log on the same path: 1,000 decisions per tick. */
	t0 = now_s();
	for (uint32_t t = 0; t < 20; t++) {
		for (uint32_t i = 0; i < 1000; i++) {
			char id[24];
			snprintf(id, sizeof(id), "w%u", (t * 1000 + i) % 5000);
			sched_store_log_decision(ss, t * 1000 + i, id, i, i % 6);
			if (i % 2) {
				sched_store_log_reward(ss, id, 0.5);
			}
		}
		if (sched_store_flush(ss, s) < 0) {
			goto out;
		}
	}
	dt = now_s() - t0;
	printf("decision log rows (with rewards, cap 10000): %10.0f /s\n",
	       20000 / dt);
out:
	sched_store_free(ss);
	sched_free(s);
	store_close(st);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_sched: could not remove %s\n", dir);
	}
}

int main(void)
{
	struct snapset *ss = calloc(1, sizeof(*ss));
	if (!ss) {
		return 1;
	}
	make_snaps(ss);
	bench_decide(ss);
	bench_persist();
	free(ss->w);
	free(ss);
	return 0;
}
