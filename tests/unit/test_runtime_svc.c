// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the runtime as an agent service (runtime_agent.c): start
 * from config, the metrics sampler filling the node state (from a fixture
 * tree through FARNODE_METRICS_ROOT), reserved cpu and workload count in
 * the node state, event subscribers, stop with workloads left running.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "runtime_svc.h"
#include "store.h"

static int events;
static enum workload_phase last_phase;

static void on_event(void *ud, const struct workload_spec *spec,
		     const struct workload_status *st)
{
	(void)spec;
	(*(int *)ud)++;
	events++;
	last_phase = st->phase;
}

static void tick(uv_timer_t *t)
{
	(void)t;
}

static void test_service(void **state)
{
	(void)state;
	static struct agent a;
	char dir[] = "/tmp/farnode-rtsvc.XXXXXX";
	char db[128], err[256], why[128];
	uv_loop_t loop;
	uv_timer_t t;
	int mine = 0;

	assert_non_null(mkdtemp(dir));
	memset(&a, 0, sizeof(a));
	config_defaults(&a.cfg);
	snprintf(a.cfg.runtime.cgroup_root, sizeof(a.cfg.runtime.cgroup_root),
		 "none");
	a.cfg.runtime.max_workloads = 8;
	snprintf(a.data_dir, sizeof(a.data_dir), "%s", dir);
	snprintf(db, sizeof(db), "%s/farnode.db", dir);
	assert_int_equal(store_open(db, &a.store, err, sizeof(err)), 0);
	uv_loop_init(&loop);
	a.loop = &loop;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, tick, 5, 5);
	/* a private copy of the fixture: its /proc/stat moves on below */
	char root[160], cmd[384];
	snprintf(root, sizeof(root), "%s/metrics", dir);
	snprintf(cmd, sizeof(cmd),
		 "cp -r tests/unit/fixtures/metrics/aarch64-rpi4 '%s'", root);
	assert_int_equal(system(cmd), 0);
	a.cfg.metrics.sample_interval_s = 60;
	setenv("FARNODE_METRICS_ROOT", root, 1);
	log_set_level(LOG_LVL_ERROR);

	assert_int_equal(runtime_subscribe(&a, on_event, &mine), -ENOTCONN);
	assert_int_equal(runtime_start(&a), 0);
	unsetenv("FARNODE_METRICS_ROOT");
	assert_non_null(runtime_of(&a));
	assert_int_equal(runtime_subscribe(&a, on_event, &mine), 0);
	/* the "no limits" condition is an operator note */
	assert_true(a.n_notes >= 1);
	assert_non_null(strstr(a.notes[a.n_notes - 1], "no workload limits"));

	/* first sample (timer at 0 ms) fills the node state */
	for (int i = 0; i < 20 && runtime_last_sample(&a) == NULL; i++) {
		uv_run(&loop, UV_RUN_ONCE);
	}
	const struct node_state *ns = runtime_node_state(&a);
	assert_non_null(ns);
	assert_int_equal(ns->cpu_cores, 4);
	assert_true(ns->mem_total_bytes == 3885396ull * 1024);
	assert_true(ns->temperature_c > 48.0 && ns->temperature_c < 49.0);
	assert_true(ns->energy_watts > 0.0);

	/* cpu load is a delta of two samples: the second one comes a second
	 * later, not after the 60 s interval (25 % busy in between) */
	snprintf(cmd, sizeof(cmd),
		 "printf 'cpu  1184493 2210 402817 61250634 38211 0 9128 0 0 0\\n'"
		 " > '%s/proc/stat'",
		 root);
	assert_int_equal(system(cmd), 0);
	uint64_t until = uv_now(&loop) + 3000;
	while (uv_now(&loop) < until &&
	       !(ns->cpu_free > 0.70 && ns->cpu_free < 0.80)) {
		uv_run(&loop, UV_RUN_ONCE);
	}
	assert_true(ns->cpu_free > 0.70 && ns->cpu_free < 0.80);

	uint64_t v0 = ns->version;
	uint32_t free0 = ns->cpu_milli_free;

	struct workload_spec s;
	memset(&s, 0, sizeof(s));
	snprintf(s.id, sizeof(s.id), "svc-sleep");
	snprintf(s.argv[0], WORKLOAD_ARG_MAX, "sleep");
	snprintf(s.argv[1], WORKLOAD_ARG_MAX, "30");
	s.argc = 2;
	s.cpu_milli = 300;
	assert_int_equal(runtime_create(runtime_of(&a), &s, why, sizeof(why)),
			 0);
	assert_true(mine >= 2); /* starting, running */
	assert_int_equal(last_phase, WL_RUNNING);
	assert_int_equal(ns->workloads_running, 1);
	assert_int_equal(ns->cpu_milli_free, free0 - 300);
	assert_true(ns->version > v0);

	struct workload_status st;
	assert_int_equal(runtime_get(runtime_of(&a), "svc-sleep", NULL, &st),
			 0);
	int32_t pid = st.pid;
	runtime_stop(&a);
	assert_null(runtime_of(&a));
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_DEFAULT); /* every handle closes */
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(kill(pid, 0), 0); /* the workload outlives it */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	store_close(a.store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_service),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
