// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the scheduler service on a real loop and store: start
 * from config, decide/observe with the decision log, write-behind at stop,
 * reload on restart, refusal of bad hyper-parameters, and a table of
 * another shape noted and reset instead of loaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <cmocka.h>
#include <uv.h>

#include "agent.h"
#include "log.h"
#include "sched_svc.h"
#include "store.h"

static char dir[64];
static char path[128];

struct env {
	uv_loop_t loop;
	struct agent a;
};

static void env_open(struct env *e)
{
	char err[256];
	memset(e, 0, sizeof(*e));
	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->a.loop = &e->loop;
	config_defaults(&e->a.cfg);
	if (store_open(path, &e->a.store, err, sizeof(err)) < 0) {
		fail_msg("store_open: %s", err);
	}
}

static void env_close(struct env *e)
{
	sched_stop(&e->a);
	assert_null(e->a.sched);
	uv_run(&e->loop, UV_RUN_DEFAULT); /* close callbacks */
	assert_int_equal(uv_loop_close(&e->loop), 0);
	store_close(e->a.store);
}

static int setup(void **st)
{
	(void)st;
	log_set_level(LOG_LVL_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/farnode-ssvc-XXXXXX");
	if (!mkdtemp(dir)) {
		return -1;
	}
	snprintf(path, sizeof(path), "%s/farnode.db", dir);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct world {
	struct node_state local;
	struct sched_neighbour nb[2];
	struct sched_snapshot snap;
	struct workload_spec w;
};

static void world_init(struct world *x)
{
	memset(x, 0, sizeof(*x));
	x->local.cpu_cores = 4;
	x->local.cpu_free = 0.2;
	x->local.mem_total_bytes = 1000;
	x->local.mem_free_bytes = 600;
	for (int i = 0; i < 2; i++) {
		x->nb[i].id.b[0] = (uint8_t)(i + 1);
		x->nb[i].node = x->local;
		x->nb[i].link.rtt_ms = 3.0 + i;
		x->nb[i].link.bandwidth_bps = -1.0;
	}
	x->snap.local = &x->local;
	x->snap.nb = x->nb;
	x->snap.n_nb = 2;
	x->snap.uplink_up = true;
	snprintf(x->w.id, sizeof(x->w.id), "wl-1");
	x->w.qos = QOS_SILVER;
	x->w.max_delay_ms = 5000;
}

static void test_decide_observe_persist(void **st)
{
	(void)st;
	struct env e;
	struct world x;
	world_init(&x);
	env_open(&e);
	assert_int_equal(sched_start(&e.a), 0);
	assert_non_null(e.a.sched);
	struct sched_decision d;
	assert_int_equal(sched_svc_decide(e.a.sched, &x.snap, &x.w, 1000, &d),
			 0);
	struct sched_outcome o = {SCHED_OUT_DONE, true, 100.0, 1.0};
	assert_int_equal(sched_svc_observe(e.a.sched, &d, &x.w, &o,
					   UINT32_MAX),
			 0);
	struct sched_outcome bad = {SCHED_OUT_DONE, true, NAN, 1.0};
	assert_int_equal(sched_svc_observe(e.a.sched, &d, &x.w, &bad,
					   UINT32_MAX),
			 -EINVAL);
	double q_mem;
	uint32_t v_mem;
	sched_q_get(sched_svc_core(e.a.sched), d.state, d.action, &q_mem,
		    &v_mem);
	assert_int_equal(v_mem, 1);
	double reward = sched_reward(sched_svc_core(e.a.sched), &x.w, &o);
	uint32_t state = d.state, action = d.action;
	env_close(&e); /* the final tick writes table and log */

	env_open(&e);
	assert_int_equal(sched_start(&e.a), 0);
	double q;
	uint32_t v;
	sched_q_get(sched_svc_core(e.a.sched), state, action, &q, &v);
	assert_float_equal(q, q_mem, 0.0);
	assert_int_equal(v, 1);
	struct sched_logged l[4];
	assert_int_equal(sched_store_decisions(sched_svc_store(e.a.sched), l,
					       4),
			 1);
	assert_string_equal(l[0].workload, "wl-1");
	assert_int_equal(l[0].time_ms, 1000);
	assert_int_equal(l[0].state, state);
	assert_int_equal(l[0].action, action);
	assert_true(l[0].has_reward);
	assert_float_equal(l[0].reward, reward, 1e-12);
	env_close(&e);
}

static void test_bad_params_refused(void **st)
{
	(void)st;
	struct env e;
	env_open(&e);
	e.a.cfg.sched.alpha = 0.0; /* allowed by the config range, not here */
	assert_int_equal(sched_start(&e.a), -EINVAL);
	assert_null(e.a.sched);
	env_close(&e);
}

static void test_other_shape_noted_and_reset(void **st)
{
	(void)st;
	struct env e;
	struct world x;
	world_init(&x);
	env_open(&e);
	assert_int_equal(sched_start(&e.a), 0);
	struct sched_decision d;
	struct sched_outcome o = {SCHED_OUT_DONE, true, 10.0, 1.0};
	sched_svc_decide(e.a.sched, &x.snap, &x.w, 5, &d);
	sched_svc_observe(e.a.sched, &d, &x.w, &o, UINT32_MAX);
	env_close(&e);

	env_open(&e);
	e.a.cfg.sched.neighbours_k = 2;
	assert_int_equal(sched_start(&e.a), 0);
	assert_int_equal(e.a.n_notes, 1);
	assert_non_null(strstr(e.a.notes[0], "another state shape"));
	struct sched_share sh[4];
	assert_int_equal(sched_share_top(sched_svc_core(e.a.sched), 0, sh, 4),
			 0);
	env_close(&e);

	/* The reset store now loads cleanly for the new shape. */
	env_open(&e);
	e.a.cfg.sched.neighbours_k = 2;
	assert_int_equal(sched_start(&e.a), 0);
	assert_int_equal(e.a.n_notes, 0);
	env_close(&e);
}

static void test_reload_applies_live_keys(void **st)
{
	(void)st;
	struct env e;
	env_open(&e);
	assert_int_equal(sched_start(&e.a), 0);
	e.a.cfg.sched.epsilon = 0.5;
	e.a.cfg.sched.alpha = 0.3;
	e.a.cfg.sched.neighbours_k = 5; /* not live: ignored */
	sched_reload(&e.a);
	const struct sched_params *p = sched_params(sched_svc_core(e.a.sched));
	assert_float_equal(p->alpha, 0.3, 0.0);
	assert_float_equal(sched_epsilon(sched_svc_core(e.a.sched)), 0.5, 0.0);
	assert_int_equal(p->neighbours_k, 3);
	e.a.cfg.sched.alpha = 0.0; /* invalid: kept as it was */
	sched_reload(&e.a);
	assert_float_equal(p->alpha, 0.3, 0.0);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide_observe_persist),
		cmocka_unit_test(test_bad_params_refused),
		cmocka_unit_test(test_other_shape_noted_and_reset),
		cmocka_unit_test(test_reload_applies_live_keys),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
