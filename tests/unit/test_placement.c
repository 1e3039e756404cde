// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for placement's pure pieces (decision → step, the admission
 * after an offer, the local node with its reservations, outcomes of local
 * runs, the bounded decision table) and for runtime_offload_end, which
 * ends an offloaded record with the neighbour's result (real runtime and
 * store in a temp dir, no processes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "log.h"
#include "placement.h"
#include "runtime.h"
#include "sched.h"
#include "store.h"

static void spec_of(struct workload_spec *s, const char *id, uint32_t cpu,
		    uint64_t mem, uint32_t max_delay_ms)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->name, sizeof(s->name), "%s", id);
	s->cpu_milli = cpu;
	s->mem_bytes = mem;
	s->max_delay_ms = max_delay_ms;
	s->argc = 1;
	snprintf(s->argv[0], WORKLOAD_ARG_MAX, "/bin/true");
}

static void decision(struct sched_decision *d, enum sched_kind k)
{
	memset(d, 0, sizeof(*d));
	d->kind = k;
	d->nb_index = -1;
	if (k == SCHED_OFFLOAD) {
		d->rank = 1;
		d->nb_index = 0;
		d->nb_id.b[0] = 7;
	}
}

static void test_step_of(void **state)
{
	(void)state;
	struct sched_decision d;
	char why[128];

	decision(&d, SCHED_LOCAL);
	assert_int_equal(placement_step_of(0, &d, why, sizeof(why)),
			 PLACE_LOCAL);
	decision(&d, SCHED_OFFLOAD);
	assert_int_equal(placement_step_of(0, &d, why, sizeof(why)),
			 PLACE_OFFER);
	decision(&d, SCHED_DEFER);
	why[0] = '\0';
	assert_int_equal(placement_step_of(0, &d, why, sizeof(why)),
			 PLACE_DEFER);
	assert_non_null(strstr(why, "deferred"));
	decision(&d, SCHED_REJECT);
	assert_int_equal(placement_step_of(0, &d, why, sizeof(why)),
			 PLACE_REJECT);
	/* an explored rejection is not carried out */
	d.explored = true;
	assert_int_equal(placement_step_of(0, &d, why, sizeof(why)),
			 PLACE_DEFER);
	assert_non_null(strstr(why, "explored"));

	/* everything masked: the fallback's reason reaches the operator */
	decision(&d, SCHED_REJECT);
	d.fallback = true;
	snprintf(d.why, sizeof(d.why), "every action masked for test");
	assert_int_equal(placement_step_of(-EPERM, &d, why, sizeof(why)),
			 PLACE_REJECT);
	assert_string_equal(why, "every action masked for test");

	/* an offload that names no neighbour is refused, not offered */
	decision(&d, SCHED_OFFLOAD);
	memset(&d.nb_id, 0, sizeof(d.nb_id));
	assert_int_equal(placement_step_of(0, &d, why, sizeof(why)),
			 PLACE_REJECT);
	decision(&d, SCHED_OFFLOAD);
	d.nb_index = -1;
	assert_int_equal(placement_step_of(0, &d, why, sizeof(why)),
			 PLACE_REJECT);

	/* a bad snapshot */
	decision(&d, SCHED_LOCAL);
	assert_int_equal(placement_step_of(-EINVAL, &d, why, sizeof(why)),
			 PLACE_REJECT);
	assert_non_null(strstr(why, "scheduler"));
}

static void test_fits_and_after_offer(void **state)
{
	(void)state;
	struct workload_spec s;
	struct runtime_capacity cap = {
	    .cpu_milli_total = 2000,
	    .cpu_milli_used = 1500,
	    .mem_total_bytes = 1000,
	    .mem_used_bytes = 600,
	    .active = 3,
	    .max_workloads = 4,
	};
	char why[128];

	spec_of(&s, "w", 500, 400, 0);
	assert_true(placement_fits(&s, &cap));
	spec_of(&s, "w", 501, 400, 0);
	assert_false(placement_fits(&s, &cap));
	spec_of(&s, "w", 500, 401, 0);
	assert_false(placement_fits(&s, &cap));
	spec_of(&s, "w", 1, 1, 0);
	cap.active = 4;
	assert_false(placement_fits(&s, &cap));
	cap.active = 3;

	/* offer sent: the runtime records it as offloaded */
	assert_int_equal(
	    placement_after_offer(0, &s, &cap, "peer", why, sizeof(why)),
	    ADMIT_OFFLOAD);
	assert_non_null(strstr(why, "peer"));
	/* offer refused by the protocol: here if it fits, else wait */
	assert_int_equal(
	    placement_after_offer(-ENOSPC, &s, &cap, "peer", why, sizeof(why)),
	    ADMIT_RUN_LOCAL);
	spec_of(&s, "w", 1, 401, 0);
	why[0] = '\0';
	assert_int_equal(
	    placement_after_offer(-ENOSPC, &s, &cap, "peer", why, sizeof(why)),
	    ADMIT_KEEP_PENDING);
	assert_non_null(strstr(why, "peer"));
}

static void test_local_state(void **state)
{
	(void)state;
	struct node_state m, out;
	struct runtime_capacity cap = {
	    .cpu_milli_total = 4000,
	    .cpu_milli_used = 2500,
	    .mem_total_bytes = 8000,
	    .mem_used_bytes = 2500,
	    .active = 2,
	    .max_workloads = 64,
	};

	memset(&m, 0, sizeof(m));
	m.cpu_cores = 4;
	m.cpu_free = 0.9;
	m.mem_total_bytes = 10000;
	m.mem_free_bytes = 3000; /* less than capacity: it bounds */
	m.workloads_running = 0;
	placement_local_state(&m, &cap, &out);
	assert_int_equal(out.cpu_milli_free, 1500);
	assert_int_equal(out.workloads_running, 2);
	assert_int_equal(out.mem_free_bytes, 500); /* 3000 - 2500 */
	assert_int_equal(out.mem_total_bytes, 10000);
	assert_true(out.cpu_free == 0.9);

	/* capacity below measured free: capacity bounds */
	m.mem_free_bytes = 9500;
	placement_local_state(&m, &cap, &out);
	assert_int_equal(out.mem_free_bytes, 8000 - 2500);

	/* reservations above what is free: nothing left, no wrap */
	cap.mem_used_bytes = 9000;
	cap.cpu_milli_used = 5000;
	placement_local_state(&m, &cap, &out);
	assert_int_equal(out.mem_free_bytes, 0);
	assert_int_equal(out.cpu_milli_free, 0);

	/* no sample yet: capacity stands in, unknowns stay unknown */
	cap.mem_used_bytes = 1000;
	placement_local_state(NULL, &cap, &out);
	assert_int_equal(out.mem_total_bytes, 8000);
	assert_int_equal(out.mem_free_bytes, 7000);
	assert_int_equal(out.cpu_cores, 4);
	assert_true(out.cpu_free < 0);
	assert_true(out.temperature_c < -273);
}

static void test_outcome(void **state)
{
	(void)state;
	struct workload_spec s;
	struct workload_status st;
	struct sched_outcome o;

	spec_of(&s, "w", 2000, 0, 500);
	memset(&st, 0, sizeof(st));
	st.phase = WL_RUNNING;
	assert_int_equal(placement_outcome(&s, &st, 1000, 10.0, &o), -EAGAIN);
	st.phase = WL_PENDING;
	assert_int_equal(placement_outcome(&s, &st, 1000, 10.0, &o), -EAGAIN);
	st.phase = WL_STOPPED;
	assert_int_equal(placement_outcome(&s, &st, 1000, 10.0, &o),
			 -ECANCELED);

	/* exited 0 within the deadline: 400 ms from arrival */
	st.phase = WL_EXITED;
	st.exit_code = 0;
	st.started_ms = 1100;
	st.finished_ms = 1400;
	assert_int_equal(placement_outcome(&s, &st, 1000, 10.0, &o), 0);
	assert_int_equal(o.result, SCHED_OUT_DONE);
	assert_true(o.deadline_met);
	assert_true(o.latency_ms == 400.0);
	/* 2 cores x 10 W x 0.3 s */
	assert_true(o.energy_j > 5.99 && o.energy_j < 6.01);

	/* late */
	st.finished_ms = 1501;
	assert_int_equal(placement_outcome(&s, &st, 1000, 0.0, &o), 0);
	assert_int_equal(o.result, SCHED_OUT_DONE);
	assert_false(o.deadline_met);
	assert_true(o.energy_j == 0.0);

	/* no deadline: always met when it exits 0 */
	s.max_delay_ms = 0;
	assert_int_equal(placement_outcome(&s, &st, 1000, 1.0, &o), 0);
	assert_true(o.deadline_met);

	/* its own error (non-zero exit) or never started: not learned */
	st.phase = WL_FAILED;
	st.exit_code = 3;
	assert_int_equal(placement_outcome(&s, &st, 1000, 1.0, &o), -ENODATA);
	st.exit_code = -1;
	st.started_ms = 0;
	assert_int_equal(placement_outcome(&s, &st, 1000, 1.0, &o), -ENODATA);
	/* killed (signal, OOM): a failure of the placement */
	st.started_ms = 1100;
	st.exit_code = -9;
	assert_int_equal(placement_outcome(&s, &st, 1000, 1.0, &o), 0);
	assert_int_equal(o.result, SCHED_OUT_FAILED);
	assert_false(o.deadline_met);

	/* clock oddities never give negative latency or NaN energy */
	st.phase = WL_EXITED;
	st.exit_code = 0;
	st.finished_ms = 900;
	assert_int_equal(placement_outcome(&s, &st, 1000, 1.0 / 0.0, &o), 0);
	assert_true(o.latency_ms == 0.0);
	assert_true(o.energy_j == 0.0);
}

static void test_table(void **state)
{
	(void)state;
	struct placement_table *t = calloc(1, sizeof(*t));
	char id[WORKLOAD_ID_MAX];
	char long_id[WORKLOAD_ID_MAX + 8];

	assert_non_null(t);
	assert_null(placement_table_find(t, "a"));
	struct placement_entry *a = placement_table_get(t, "a");
	assert_non_null(a);
	assert_string_equal(a->id, "a");
	assert_ptr_equal(placement_table_get(t, "a"), a);
	assert_ptr_equal(placement_table_find(t, "a"), a);
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_null(placement_table_get(t, long_id));

	/* fill: "a" stays open (offered), the rest closed */
	a->state = PL_OFFERED;
	for (int i = 1; i < PLACEMENT_TABLE_MAX; i++) {
		snprintf(id, sizeof(id), "w%d", i);
		struct placement_entry *e = placement_table_get(t, id);
		assert_non_null(e);
		e->state = PL_CLOSED;
	}
	/* the next id takes the least recently used closed slot (w1), not
	 * the open one, even though "a" is older */
	struct placement_entry *n = placement_table_get(t, "new");
	assert_non_null(n);
	assert_null(placement_table_find(t, "w1"));
	assert_non_null(placement_table_find(t, "a"));
	assert_non_null(placement_table_find(t, "w2"));
	/* touching w2 protects it: w3 goes next */
	placement_table_touch(t, placement_table_find(t, "w2"));
	assert_non_null(placement_table_get(t, "new2"));
	assert_null(placement_table_find(t, "w3"));
	assert_non_null(placement_table_find(t, "w2"));

	/* all open: the least recently touched open one is evicted */
	for (int i = 0; i < PLACEMENT_TABLE_MAX; i++) {
		t->e[i].state = PL_DEFERRED;
	}
	placement_table_touch(t, placement_table_find(t, "a"));
	struct placement_entry *oldest = NULL;
	for (int i = 0; i < PLACEMENT_TABLE_MAX; i++) {
		if (oldest == NULL || t->e[i].touched < oldest->touched) {
			oldest = &t->e[i];
		}
	}
	char gone[WORKLOAD_ID_MAX];
	snprintf(gone, sizeof(gone), "%s", oldest->id);
	assert_non_null(placement_table_get(t, "last"));
	assert_null(placement_table_find(t, gone));
	assert_non_null(placement_table_find(t, "a"));
	free(t);
}

/* ---- runtime_offload_end ---- */

static enum runtime_admit admit_offload(void *ud,
					const struct workload_spec *spec,
					const struct runtime_capacity *cap,
					char *why, size_t why_len)
{
	(void)ud;
	(void)spec;
	(void)cap;
	snprintf(why, why_len, "offered to a test peer");
	return ADMIT_OFFLOAD;
}

static enum runtime_admit admit_wait(void *ud, const struct workload_spec *spec,
				     const struct runtime_capacity *cap,
				     char *why, size_t why_len)
{
	(void)ud;
	(void)spec;
	(void)cap;
	snprintf(why, why_len, "waiting");
	return ADMIT_KEEP_PENDING;
}

struct seen {
	int events;
	enum workload_phase last;
};

static void on_event(void *ud, const struct workload_spec *spec,
		     const struct workload_status *st)
{
	struct seen *s = ud;
	(void)spec;
	s->events++;
	s->last = st->phase;
}

static void close_walk(uv_handle_t *h, void *ud)
{
	(void)ud;
	if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

static void test_runtime_offload_end(void **state)
{
	(void)state;
	char dir[64] = "/tmp/farnode-pl.XXXXXX";
	char db[128], err[256], cmd[160];
	struct store *store;
	struct runtime *rt;
	struct runtime_config cfg;
	struct workload_spec s;
	struct workload_status st;
	struct node_id peer;
	struct seen seen = {0};
	uv_loop_t loop;

	log_set_level(LOG_LVL_WARN);
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/farnode.db", dir);
	assert_int_equal(store_open(db, &store, err, sizeof(err)), 0);
	uv_loop_init(&loop);
	runtime_config_defaults(&cfg);
	cfg.data_dir = dir;
	cfg.cgroup_root = "none";
	assert_int_equal(runtime_new(&loop, store, &cfg, &rt, err, sizeof(err)),
			 0);
	assert_true(runtime_resume(rt) >= 0);
	runtime_set_admit(rt, admit_offload, NULL);
	runtime_set_event_cb(rt, on_event, &seen);
	memset(&peer, 0, sizeof(peer));
	peer.b[0] = 0xab;
	peer.b[15] = 0x01;

	assert_int_equal(runtime_offload_end(rt, "nope", &peer, 0, NULL),
			 -ENOENT);
	spec_of(&s, "off1", 100, 1 << 20, 0);
	assert_int_equal(runtime_create(rt, &s, err, sizeof(err)), 0);
	assert_int_equal(runtime_get(rt, "off1", NULL, &st), 0);
	assert_int_equal(st.phase, WL_OFFLOADED);

	/* the neighbour reports success */
	int before = seen.events;
	assert_int_equal(runtime_offload_end(rt, "off1", &peer, 0, "done"), 0);
	assert_int_equal(seen.events, before + 1);
	assert_int_equal(seen.last, WL_EXITED);
	assert_int_equal(runtime_get(rt, "off1", NULL, &st), 0);
	assert_int_equal(st.phase, WL_EXITED);
	assert_int_equal(st.exit_code, 0);
	assert_true(st.finished_ms > 0);
	assert_true(node_id_equal(&st.placed_on, &peer));
	assert_non_null(strstr(st.reason, "neighbour"));
	/* ended once: a second report is refused */
	assert_int_equal(runtime_offload_end(rt, "off1", &peer, 0, NULL),
			 -EINVAL);

	/* a failure keeps the neighbour's exit code */
	spec_of(&s, "off2", 100, 1 << 20, 0);
	assert_int_equal(runtime_create(rt, &s, err, sizeof(err)), 0);
	assert_int_equal(runtime_offload_end(rt, "off2", NULL, 7, NULL), 0);
	assert_int_equal(runtime_get(rt, "off2", NULL, &st), 0);
	assert_int_equal(st.phase, WL_FAILED);
	assert_int_equal(st.exit_code, 7);
	assert_true(node_id_is_zero(&st.placed_on));

	/* a record that is not offloaded is not touched */
	runtime_set_admit(rt, admit_wait, NULL);
	spec_of(&s, "here", 100, 1 << 20, 0);
	assert_int_equal(runtime_create(rt, &s, err, sizeof(err)), 0);
	assert_int_equal(runtime_offload_end(rt, "here", &peer, 0, NULL),
			 -EINVAL);
	assert_int_equal(runtime_get(rt, "here", NULL, &st), 0);
	assert_int_equal(st.phase, WL_PENDING);

	/* the ends are in the store: a new runtime reads them back */
	runtime_free(rt);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(runtime_new(&loop, store, &cfg, &rt, err, sizeof(err)),
			 0);
	assert_true(runtime_resume(rt) >= 0);
	assert_int_equal(runtime_get(rt, "off1", NULL, &st), 0);
	assert_int_equal(st.phase, WL_EXITED);
	assert_int_equal(runtime_get(rt, "off2", NULL, &st), 0);
	assert_int_equal(st.phase, WL_FAILED);
	assert_int_equal(st.exit_code, 7);
	assert_int_equal(runtime_offload_end(rt, "off2", NULL, 0, NULL),
			 -EINVAL);

	runtime_free(rt);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	store_close(store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_step_of),
	    cmocka_unit_test(test_fits_and_after_offer),
	    cmocka_unit_test(test_local_state),
	    cmocka_unit_test(test_outcome),
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_runtime_offload_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
