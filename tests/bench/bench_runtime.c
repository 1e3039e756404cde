// SPDX-License-Identifier: Apache-2.0
/*
 * bench_runtime: start-to-running latency of a proc workload (p50/p99 over
 * 200 starts: runtime_create until the running transition, which includes
 * the store write, log open, cgroup leaf and uv_spawn), with and without a
 * cgroup leaf where cgroup v2 is writable; and the metrics sampler's cost
 * per tick on this machine's /proc and /sys. Prints numbers only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "store.h"

#define STARTS 200

static uint64_t started_at;
static uint64_t running_ns[STARTS];
static int n_running;

static void on_event(void *ud, const struct workload_spec *spec,
		     const struct workload_status *st)
{
	(void)ud;
	(void)spec;
	if (st->phase == WL_RUNNING && n_running < STARTS) {
		running_ns[n_running++] = uv_hrtime() - started_at;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void tick(uv_timer_t *t)
{
	(void)t;
}

/* Mount point of cgroup2 + a private dir name, or "" */
static void cgroup_dir(char *out, size_t len)
{
	char line[1024];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	out[0] = '\0';
	if (f == NULL) {
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strstr(line, " - cgroup2 ");
		if (p == NULL) {
			continue;
		}
		char mnt[256];
		if (sscanf(line, "%*s %*s %*s %*s %255s", mnt) == 1) {
			snprintf(out, len, "%s/farnode-bench-%d", mnt,
				 (int)getpid());
		}
		break;
	}
	fclose(f);
}

static int run_starts(const char *cgroup_root, const char *label)
{
	char dir[] = "/tmp/farnode-bench-rt.XXXXXX";
	char db[128], err[256], why[128];
	struct store *st = NULL;
	struct runtime *rt = NULL;
	uv_loop_t loop;
	uv_timer_t t;

	if (mkdtemp(dir) == NULL) {
		return 1;
	}
	snprintf(db, sizeof(db), "%s/farnode.db", dir);
	if (store_open(db, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	uv_loop_init(&loop);
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, tick, 5, 5);
	struct runtime_config cfg;
	runtime_config_defaults(&cfg);
	cfg.data_dir = dir;
	cfg.cgroup_root = cgroup_root;
	cfg.max_workloads = STARTS + 10;
	if (runtime_new(&loop, st, &cfg, &rt, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	runtime_resume(rt);
	runtime_set_event_cb(rt, on_event, NULL);
	n_running = 0;
	for (int i = 0; i < STARTS; i++) {
		struct workload_spec s;
		memset(&s, 0, sizeof(s));
		snprintf(s.id, sizeof(s.id), "b%d", i);
		snprintf(s.argv[0], WORKLOAD_ARG_MAX, "true");
		s.argc = 1;
		started_at = uv_hrtime();
		if (runtime_create(rt, &s, why, sizeof(why)) != 0) {
			fprintf(stderr, "create: %s\n", why);
			break;
		}
		/* let it exit and be reaped before the next one */
		struct workload_status stt;
		for (int k = 0; k < 2000; k++) {
			runtime_get(rt, s.id, NULL, &stt);
			if (stt.phase == WL_EXITED || stt.phase == WL_FAILED) {
				break;
			}
			uv_run(&loop, UV_RUN_ONCE);
		}
		runtime_remove(rt, s.id);
	}
	int n = n_running;
	qsort(running_ns, (size_t)n, sizeof(running_ns[0]), cmp_u64);
	if (n > 0) {
		double sum = 0;
		for (int i = 0; i < n; i++) {
			sum += (double)running_ns[i];
		}
		printf(
		    "start-to-running, %-28s n=%d  p50 %.2f ms  p99 %.2f ms  "
		    "mean %.2f ms  max %.2f ms\n",
		    label, n, running_ns[n / 2] / 1e6,
		    running_ns[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] /
			1e6,
		    sum / n / 1e6, running_ns[n - 1] / 1e6);
	}
	runtime_free(rt);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	store_close(st);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "cannot remove %s\n", dir);
	}
	return 0;
}

static void sampler_cost(void)
{
	struct metrics_config mc = {
	    .root = "/", .idle_watts = 2.0, .watts_per_core = 1.5};
	struct metrics_sampler *s = metrics_sampler_new(&mc);
	struct metrics_sample m;
	const int ticks = 2000;
	metrics_sampler_tick(s, 0, &m);
	uint64_t t0 = uv_hrtime();
	for (int i = 1; i <= ticks; i++) {
		metrics_sampler_tick(s, (uint64_t)i * 5000, &m);
	}
	uint64_t dt = uv_hrtime() - t0;
	printf("metrics sampler: %.1f us per tick (%d ticks; %u cpus, %u "
	       "interfaces, %u thermal zones, power from %s)\n",
	       (double)dt / ticks / 1000.0, ticks, m.cpu_cores, m.net.n,
	       m.thermal_zones, metrics_power_source_name(m.power_source));
	metrics_sampler_free(s);
}

int main(void)
{
	char cg[512];
	log_set_level(LOG_LVL_ERROR);
	run_starts("none", "no cgroup:");
	cgroup_dir(cg, sizeof(cg));
	if (cg[0] != '\0') {
		run_starts(cg, "cgroup leaf + shim:");
		rmdir(cg);
	} else {
		printf("start-to-running with a cgroup leaf: skipped (no "
		       "cgroup2 mount)\n");
	}
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
	sampler_cost();
	return 0;
}
