// SPDX-License-Identifier: Apache-2.0
/*
 * runtime_agent: the runtime as an agent service. Builds the runtime from
 * [runtime], resumes the stored workloads, runs the metrics sampler every
 * [metrics] sample_interval_s into the node state (with the runtime's
 * reserved cpu and workload count), and applies live config on SIGHUP.
 */
#define LOG_TAG "runtime"
#include "runtime_svc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "uplink.h"

struct runtime_svc {
	struct agent *a;
	struct runtime *rt;
	struct metrics_sampler *ms;
	uv_timer_t sample;
	struct node_state node;
	struct metrics_sample last;
	bool have_sample;
	uint64_t tick_ns_total; /* sampler cost, for the bench and debug */
	uint64_t every_ms;	/* sample interval from the config */
	uint64_t ticks;
	struct {
		runtime_event_fn fn;
		void *ud;
	} listeners[RUNTIME_SVC_LISTENERS];
	int n_listeners;
};

static void fill_config(const struct agent *a, struct runtime_config *rc)
{
	runtime_config_defaults(rc);
	rc->data_dir = a->data_dir;
	rc->cgroup_root = a->cfg.runtime.cgroup_root;
	rc->max_workloads = (uint32_t)a->cfg.runtime.max_workloads;
	rc->log_max_bytes = (uint64_t)a->cfg.runtime.log_max_bytes;
	rc->backoff_max_ms =
	    (uint32_t)a->cfg.runtime.restart_backoff_max_s * 1000u;
	const char *crun = getenv("FARNODE_CRUN");
	rc->crun_path = crun != NULL && crun[0] != '\0' ? crun : NULL;
	/* test hooks: a stand-in crun, a simulated reboot */
	rc->boot_id = getenv("FARNODE_BOOT_ID");
}

static void publish_runtime(struct runtime_svc *s)
{
	struct runtime_capacity cap;
	runtime_capacity(s->rt, &cap);
	uint32_t free_milli = cap.cpu_milli_total > cap.cpu_milli_used
				  ? cap.cpu_milli_total - cap.cpu_milli_used
				  : 0;
	if (free_milli != s->node.cpu_milli_free ||
	    cap.active != s->node.workloads_running) {
		s->node.cpu_milli_free = free_milli;
		s->node.workloads_running = cap.active;
		s->node.version++;
	}
}

static void on_sample(uv_timer_t *t)
{
	struct runtime_svc *s = t->data;
	uint64_t t0 = uv_hrtime();
	int rc = metrics_sampler_tick(s->ms, uv_now(s->a->loop), &s->last);
	s->tick_ns_total += uv_hrtime() - t0;
	s->ticks++;
	if (rc == 0) {
		s->have_sample = true;
		metrics_apply(&s->last, &s->node);
	}
	if (rc == 0 && s->last.cpu_busy >= 0.0 &&
	    uv_timer_get_repeat(t) != s->every_ms) {
		/* cpu load is a delta: the start samples every second until
		 * it has one, then the configured interval applies */
		uv_timer_set_repeat(t, s->every_ms);
	}
	publish_runtime(s);
}

static void on_event(void *ud, const struct workload_spec *spec,
		     const struct workload_status *st)
{
	struct runtime_svc *s = ud;
	publish_runtime(s);
	for (int i = 0; i < s->n_listeners; i++) {
		s->listeners[i].fn(s->listeners[i].ud, spec, st);
	}
	/* every transition goes up as an event (store-and-forward) */
	uplink_note_workload(s->a, spec, st);
}

int runtime_subscribe(struct agent *a, runtime_event_fn fn, void *ud)
{
	struct runtime_svc *s = a->runtime;
	if (s == NULL) {
		return -ENOTCONN;
	}
	if (s->n_listeners >= RUNTIME_SVC_LISTENERS) {
		return -ENOSPC;
	}
	s->listeners[s->n_listeners].fn = fn;
	s->listeners[s->n_listeners].ud = ud;
	s->n_listeners++;
	return 0;
}

void runtime_unsubscribe(struct agent *a, runtime_event_fn fn, void *ud)
{
	struct runtime_svc *s = a->runtime;
	if (s == NULL) {
		return;
	}
	for (int i = 0; i < s->n_listeners; i++) {
		if (s->listeners[i].fn == fn && s->listeners[i].ud == ud) {
			s->listeners[i] = s->listeners[--s->n_listeners];
			return;
		}
	}
}

const struct metrics_sample *runtime_last_sample(const struct agent *a)
{
	const struct runtime_svc *s = a->runtime;
	return s != NULL && s->have_sample ? &s->last : NULL;
}

static void svc_closed(uv_handle_t *h)
{
	free(h->data);
}

int runtime_start(struct agent *a)
{
	struct runtime_config rc;
	char err[256];
	int r;

	struct runtime_svc *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return -ENOMEM;
	}
	s->a = a;
	s->node.temperature_c = -1000.0;
	s->node.generation = a->generation;
	fill_config(a, &rc);
	r = runtime_new(a->loop, a->store, &rc, &s->rt, err, sizeof(err));
	if (r != 0) {
		log_error("runtime: %s", err);
		free(s);
		return r;
	}
	if (runtime_cgroup_note(s->rt)[0] != '\0') {
		agent_note(a, "%s", runtime_cgroup_note(s->rt));
	}
	runtime_set_event_cb(s->rt, on_event, s);
	struct metrics_config mc = {
	    .root = getenv("FARNODE_METRICS_ROOT"),
	    .idle_watts = a->cfg.metrics.idle_watts,
	    .watts_per_core = a->cfg.metrics.watts_per_core,
	};
	s->ms = metrics_sampler_new(&mc);
	uv_timer_init(a->loop, &s->sample);
	s->sample.data = s;
	s->every_ms = (uint64_t)a->cfg.metrics.sample_interval_s * 1000u;
	uv_timer_start(&s->sample, on_sample, 0,
		       s->every_ms < 1000 ? s->every_ms : 1000);
	a->runtime = s;

	r = runtime_resume(s->rt);
	if (r < 0) {
		log_error("cannot load workloads from the store: %s",
			  strerror(-r));
		return r;
	}
	log_info("runtime: %d workload(s) loaded, %u active", r,
		 s->node.workloads_running);
	return 0;
}

void runtime_stop(struct agent *a)
{
	struct runtime_svc *s = a->runtime;
	if (s == NULL) {
		return;
	}
	a->runtime = NULL;
	runtime_free(s->rt);
	metrics_sampler_free(s->ms);
	uv_timer_stop(&s->sample);
	uv_close((uv_handle_t *)&s->sample, svc_closed);
}

void runtime_reload(struct agent *a)
{
	struct runtime_svc *s = a->runtime;
	if (s == NULL) {
		return;
	}
	uint64_t every = (uint64_t)a->cfg.metrics.sample_interval_s * 1000u;
	if (uv_timer_get_repeat(&s->sample) != every) {
		uv_timer_set_repeat(&s->sample, every);
	}
	runtime_set_limits(s->rt, (uint32_t)a->cfg.runtime.max_workloads,
			   (uint64_t)a->cfg.runtime.log_max_bytes,
			   (uint32_t)a->cfg.runtime.restart_backoff_max_s *
			       1000u);
	metrics_sampler_free(s->ms);
	struct metrics_config mc = {
	    .root = getenv("FARNODE_METRICS_ROOT"),
	    .idle_watts = a->cfg.metrics.idle_watts,
	    .watts_per_core = a->cfg.metrics.watts_per_core,
	};
	s->ms = metrics_sampler_new(&mc);
}

struct runtime *runtime_of(struct agent *a)
{
	return a->runtime != NULL ? a->runtime->rt : NULL;
}

const struct node_state *runtime_node_state(const struct agent *a)
{
	return a->runtime != NULL ? &a->runtime->node : NULL;
}

double runtime_sampler_cost_us(const struct agent *a)
{
	const struct runtime_svc *s = a->runtime;
	if (s == NULL || s->ticks == 0) {
		return -1.0;
	}
	return (double)s->tick_ns_total / (double)s->ticks / 1000.0;
}
