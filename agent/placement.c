// SPDX-License-Identifier: Apache-2.0
/*
 * placement: the runtime's admission as the scheduler's decision. Builds a
 * snapshot (this node with its reservations, alive members by RTT, the
 * uplink flag), decides, maps the decision to the runtime (run, offer,
 * keep pending, reject), and learns from local runs when they end.
 * Offloaded runs are learned by the offload service; its hooks close them
 * here (the runtime record ends with the neighbour's result) or send them
 * through the same decision again.
 */
#define LOG_TAG "place"
#include "placement.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "agent.h"
#include "gossip.h"
#include "log.h"
#include "offload_svc.h"
#include "runtime_svc.h"
#include "sched_svc.h"
#include "swim.h"
#include "uplink.h"

#define NB_MAX	 32 /* neighbours in one snapshot */
#define REDO_MAX 8  /* failed offers of one workload before rejecting */

/* The runtime listener: unsubscribed and freed at stop. */
struct pl_listener {
	struct placement *p;
};

struct placement {
	struct agent *a;
	struct placement_table tab;
	struct sched_neighbour nb[NB_MAX];
	struct pl_listener *listener;
	uv_timer_t timer; /* deferred workloads */
	bool stopping;
	struct log_rl rl;
};

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- pure pieces --------------------------------------------------- */

enum placement_step placement_step_of(int rc, const struct sched_decision *d,
				      char *why, size_t why_len)
{
	if (rc == -EPERM || (rc == 0 && d->fallback)) {
		snprintf(why, why_len, "%s",
			 d->why[0] ? d->why : "every action masked");
		return PLACE_REJECT;
	}
	if (rc < 0) {
		snprintf(why, why_len, "scheduler: %s", strerror(-rc));
		return PLACE_REJECT;
	}
	switch (d->kind) {
	case SCHED_LOCAL:
		return PLACE_LOCAL;
	case SCHED_OFFLOAD:
		if (node_id_is_zero(&d->nb_id) || d->nb_index < 0) {
			snprintf(why, why_len,
				 "scheduler chose offload rank %u without a "
				 "neighbour",
				 (unsigned)d->rank);
			return PLACE_REJECT;
		}
		return PLACE_OFFER;
	case SCHED_DEFER:
		snprintf(why, why_len, "deferred by the scheduler");
		return PLACE_DEFER;
	case SCHED_REJECT:
	default:
		if (d->explored) {
			/* what a rejection earns is fixed and known; trying
			 * it out would only lose the workload */
			snprintf(why, why_len,
				 "deferred (the scheduler explored a "
				 "rejection)");
			return PLACE_DEFER;
		}
		snprintf(why, why_len, "rejected by the scheduler");
		return PLACE_REJECT;
	}
}

bool placement_fits(const struct workload_spec *spec,
		    const struct runtime_capacity *cap)
{
	return cap->active < cap->max_workloads &&
	       (uint64_t)cap->cpu_milli_used + spec->cpu_milli <=
		   cap->cpu_milli_total &&
	       cap->mem_used_bytes + spec->mem_bytes <= cap->mem_total_bytes;
}

enum runtime_admit placement_after_offer(int offer_rc,
					 const struct workload_spec *spec,
					 const struct runtime_capacity *cap,
					 const char *target, char *why,
					 size_t why_len)
{
	if (offer_rc == 0) {
		snprintf(why, why_len, "offered to %.36s", target);
		return ADMIT_OFFLOAD;
	}
	if (placement_fits(spec, cap)) {
		return ADMIT_RUN_LOCAL; /* the offer could not go out */
	}
	snprintf(why, why_len, "offer to %.36s failed (%s); waiting for room",
		 target, strerror(offer_rc < 0 ? -offer_rc : offer_rc));
	return ADMIT_KEEP_PENDING;
}

void placement_local_state(const struct node_state *measured,
			   const struct runtime_capacity *cap,
			   struct node_state *out)
{
	uint64_t free_b, total;

	if (measured != NULL) {
		*out = *measured;
	} else {
		memset(out, 0, sizeof(*out));
		out->cpu_free = -1.0;
		out->energy_watts = -1.0;
		out->failure_rate = -1.0;
		out->temperature_c = -1000.0;
	}
	out->cpu_milli_free = cap->cpu_milli_total > cap->cpu_milli_used
				  ? cap->cpu_milli_total - cap->cpu_milli_used
				  : 0;
	out->workloads_running = cap->active;
	if (out->cpu_cores == 0) {
		out->cpu_cores = (cap->cpu_milli_total + 999) / 1000;
	}
	total = cap->mem_total_bytes;
	free_b = total;
	if (measured != NULL && measured->mem_total_bytes > 0 &&
	    measured->mem_free_bytes < free_b) {
		free_b = measured->mem_free_bytes;
	}
	free_b =
	    free_b > cap->mem_used_bytes ? free_b - cap->mem_used_bytes : 0;
	if (out->mem_total_bytes == 0) {
		out->mem_total_bytes = total;
	}
	out->mem_free_bytes = free_b;
}

int placement_outcome(const struct workload_spec *spec,
		      const struct workload_status *st, uint64_t arrival_ms,
		      double watts_per_core, struct sched_outcome *o)
{
	double run_s;

	memset(o, 0, sizeof(*o));
	switch (st->phase) {
	case WL_EXITED:
	case WL_FAILED:
		if (st->exit_code > 0 || st->started_ms == 0) {
			/* it exited with its own error, or never started
			 * (a spec that cannot run): nothing about where */
			return -ENODATA;
		}
		o->result = st->phase == WL_EXITED && st->exit_code == 0
				? SCHED_OUT_DONE
				: SCHED_OUT_FAILED;
		break;
	case WL_STOPPED:
		return -ECANCELED; /* the operator's doing, not an outcome */
	default:
		return -EAGAIN;
	}
	o->latency_ms = st->finished_ms > arrival_ms
			    ? (double)(st->finished_ms - arrival_ms)
			    : 0.0;
	o->deadline_met =
	    o->result == SCHED_OUT_DONE &&
	    (spec->max_delay_ms == 0 || o->latency_ms <= spec->max_delay_ms);
	run_s = st->started_ms > 0 && st->finished_ms > st->started_ms
		    ? (double)(st->finished_ms - st->started_ms) / 1000.0
		    : 0.0;
	if (watts_per_core > 0.0 && isfinite(watts_per_core)) {
		o->energy_j =
		    (double)spec->cpu_milli / 1000.0 * watts_per_core * run_s;
	}
	return 0;
}

struct placement_entry *placement_table_find(struct placement_table *t,
					     const char *id)
{
	for (size_t i = 0; i < PLACEMENT_TABLE_MAX; i++) {
		if (t->e[i].state != PL_FREE && strcmp(t->e[i].id, id) == 0) {
			return &t->e[i];
		}
	}
	return NULL;
}

void placement_table_touch(struct placement_table *t, struct placement_entry *e)
{
	e->touched = ++t->clock;
}

struct placement_entry *placement_table_get(struct placement_table *t,
					    const char *id)
{
	struct placement_entry *e = placement_table_find(t, id);
	struct placement_entry *free_e = NULL, *closed = NULL, *open = NULL;

	if (e != NULL) {
		placement_table_touch(t, e);
		return e;
	}
	if (strlen(id) >= WORKLOAD_ID_MAX) {
		return NULL;
	}
	for (size_t i = 0; i < PLACEMENT_TABLE_MAX; i++) {
		struct placement_entry *c = &t->e[i];
		if (c->state == PL_FREE) {
			free_e = c;
			break;
		}
		if (c->state == PL_CLOSED) {
			if (closed == NULL || c->touched < closed->touched) {
				closed = c;
			}
		} else if (open == NULL || c->touched < open->touched) {
			open = c;
		}
	}
	e = free_e != NULL ? free_e : closed != NULL ? closed : open;
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->state = PL_CLOSED; /* in use, nothing open yet */
	placement_table_touch(t, e);
	return e;
}

/* ---- agent glue ---------------------------------------------------- */

static int by_rtt(const void *x, const void *y)
{
	const struct sched_neighbour *a = x, *b = y;
	double ra = a->link.rtt_ms >= 0 ? a->link.rtt_ms : 1e12;
	double rb = b->link.rtt_ms >= 0 ? b->link.rtt_ms : 1e12;
	return ra < rb ? -1 : ra > rb ? 1 : 0;
}

/* Alive members with a known node state, nearest first. */
static uint32_t neighbours(struct placement *p)
{
	const struct swim *core = gossip_core(p->a);
	struct swim_member_info m;
	uint32_t n = 0;
	size_t count;

	if (core == NULL) {
		return 0;
	}
	count = swim_member_count(core);
	for (size_t i = 0; i < count && n < NB_MAX; i++) {
		if (swim_member_at(core, i, &m) != 0 ||
		    m.status != SWIM_ALIVE || m.state == NULL ||
		    node_id_equal(&m.id, &p->a->id)) {
			continue;
		}
		p->nb[n].id = m.id;
		p->nb[n].node = *m.state;
		p->nb[n].link = m.link;
		n++;
	}
	qsort(p->nb, n, sizeof(p->nb[0]), by_rtt);
	return n;
}

static bool uplink_up(struct agent *a)
{
	struct uplink_info ui;
	return uplink_info(a, &ui) == 0 && ui.connected;
}

static double reward_of(struct placement *p, const struct workload_spec *spec,
			const struct sched_outcome *o)
{
	return sched_reward(sched_svc_core(p->a->sched), spec, o);
}

static void arm(struct placement *p);

/* Learn o for e's decision and report it. */
static void learn(struct placement *p, struct placement_entry *e,
		  const struct workload_spec *spec,
		  const struct sched_outcome *o, uint32_t next)
{
	double r = reward_of(p, spec, o);
	if (sched_svc_observe(p->a->sched, &e->d, spec, o, next) < 0) {
		log_warn("%s: reward refused by the scheduler", spec->id);
		return;
	}
	uplink_note_decision(p->a, spec->id, e->d.state, e->d.action, r);
}

static enum runtime_admit admit(void *ud, const struct workload_spec *spec,
				const struct runtime_capacity *cap, char *why,
				size_t why_len)
{
	struct placement *p = ud;
	struct agent *a = p->a;
	struct placement_entry *e;
	struct sched_decision d;
	struct sched_snapshot snap;
	struct node_state local;
	bool was_deferred;
	uint64_t now = wall_ms();
	char target[NODE_ID_STR_LEN];
	enum runtime_admit res;
	int rc;

	if (p->stopping || a->sched == NULL) {
		return runtime_admit_local(NULL, spec, cap, why, why_len);
	}
	if (offload_svc_hosting(a->offload, spec->id)) {
		snprintf(why, why_len, "hosted for a neighbour");
		return ADMIT_RUN_LOCAL; /* never offloaded again */
	}
	if (a->offload != NULL &&
	    offload_is_offered(offload_svc_core(a->offload), spec->id)) {
		/* an offer of an earlier record with this id is open: its
		 * answer comes first, or the id could run twice */
		snprintf(why, why_len, "an offer for it is still open");
		return ADMIT_KEEP_PENDING;
	}
	e = placement_table_get(&p->tab, spec->id);
	if (e == NULL) {
		return runtime_admit_local(NULL, spec, cap, why, why_len);
	}
	if (e->state == PL_DEFERRED && now < e->retry_ms) {
		snprintf(why, why_len, "deferred by the scheduler");
		return ADMIT_KEEP_PENDING;
	}
	was_deferred = e->state == PL_DEFERRED && e->d.kind == SCHED_DEFER;
	if (e->state == PL_CLOSED || e->state == PL_LOCAL) {
		/* a new attempt (first admission or a restart) */
		e->arrival_ms = now;
		e->defers = 0;
		e->redos = 0;
	}

	snap.n_nb = neighbours(p);
	if (snap.n_nb == 0 && placement_fits(spec, cap) &&
	    e->state != PL_DEFERRED) {
		/* alone and it fits: nothing to choose (no decision is
		 * logged; a lone node runs what it is given, as before) */
		e->state = PL_CLOSED;
		return ADMIT_RUN_LOCAL;
	}
	placement_local_state(runtime_node_state(a), cap, &local);
	snap.local = &local;
	snap.nb = p->nb;
	snap.uplink_up = uplink_up(a);
	/* patience is bounded: after a few deferrals the scheduler has to
	 * commit (run, offload, or reject when nothing else is possible) */
	snap.forbid = e->defers >= PLACEMENT_PATIENCE ? SCHED_FORBID_DEFER : 0;
	if (was_deferred) {
		/* the deferral's outcome: it waited; s' is the state now */
		struct sched_outcome o = {.result = SCHED_OUT_DEFERRED};
		uint32_t next = UINT32_MAX;
		if (sched_state(sched_svc_core(a->sched), &snap, spec, &next) <
		    0) {
			next = UINT32_MAX;
		}
		o.latency_ms = (double)(now - e->arrival_ms);
		learn(p, e, spec, &o, next);
	}
	rc = sched_svc_decide(a->sched, &snap, spec, now, &d);
	e->d = d;
	uplink_note_decision(a, spec->id, d.state, d.action, NAN);

	switch (placement_step_of(rc, &d, why, why_len)) {
	case PLACE_LOCAL:
		if (!placement_fits(spec, cap)) {
			/* here, when there is room (the runtime's rule);
			 * decided again when capacity frees */
			runtime_admit_local(NULL, spec, cap, why, why_len);
			e->state = PL_REDO;
			return ADMIT_KEEP_PENDING;
		}
		e->state = PL_LOCAL;
		e->learn = true;
		return ADMIT_RUN_LOCAL;
	case PLACE_OFFER:
		node_id_format(&d.nb_id, target);
		rc = a->offload != NULL
			 ? offload_svc_offer(a->offload, &d.nb_id, spec, &d,
					     (uint32_t)(now - e->arrival_ms))
			 : -ENOTCONN;
		res =
		    placement_after_offer(rc, spec, cap, target, why, why_len);
		if (res == ADMIT_OFFLOAD) {
			e->state = PL_OFFERED;
			log_info("%s: offered to %s (rank %u)", spec->id,
				 target, (unsigned)d.rank);
		} else if (res == ADMIT_RUN_LOCAL) {
			/* not what was decided: nothing to learn from it */
			e->state = PL_LOCAL;
			e->learn = false;
			log_warn("%s: offer to %s failed (%s); running here",
				 spec->id, target, strerror(-rc));
		} else {
			e->state = PL_DEFERRED;
			e->retry_ms = now + (uint64_t)sched_params(
						sched_svc_core(a->sched))
						->defer_ms;
			arm(p);
		}
		return res;
	case PLACE_DEFER:
		if (rc == 0 && d.kind == SCHED_REJECT) {
			/* an explored rejection, not carried out: the table
			 * still learns what it would have earned */
			struct sched_outcome o = {.result = SCHED_OUT_REJECTED};
			learn(p, e, spec, &o, UINT32_MAX);
		}
		if (e->defers >= PLACEMENT_DEFER_MAX) {
			snprintf(why, why_len, "deferred %u times",
				 (unsigned)e->defers);
			e->state = PL_CLOSED;
			return ADMIT_REJECT;
		}
		e->defers++;
		e->state = PL_DEFERRED;
		e->retry_ms =
		    now +
		    (uint64_t)sched_params(sched_svc_core(a->sched))->defer_ms;
		arm(p);
		return ADMIT_KEEP_PENDING;
	case PLACE_REJECT:
	default:
		if (rc == 0 && !d.fallback) {
			struct sched_outcome o = {.result = SCHED_OUT_REJECTED};
			learn(p, e, spec, &o, UINT32_MAX);
		}
		e->state = PL_CLOSED;
		return ADMIT_REJECT;
	}
}

static void on_rt_event(void *ud, const struct workload_spec *spec,
			const struct workload_status *st)
{
	struct pl_listener *l = ud;
	struct placement *p = l->p;
	struct placement_entry *e;
	struct sched_outcome o;
	int rc;

	if (p == NULL || p->stopping || p->a->sched == NULL) {
		return;
	}
	e = placement_table_find(&p->tab, spec->id);
	if (e == NULL || e->state != PL_LOCAL) {
		return;
	}
	rc = placement_outcome(spec, st, e->arrival_ms,
			       p->a->cfg.metrics.watts_per_core, &o);
	if (rc == -EAGAIN) {
		return;
	}
	if (rc == 0 && e->learn) {
		learn(p, e, spec, &o, UINT32_MAX);
	}
	e->state = PL_CLOSED;
}

/* The offload service hands a workload back: decide again. */
static void hook_redecide(void *ud, const struct workload_spec *spec,
			  const struct sched_decision *d,
			  const struct node_id *target, enum offload_redo why)
{
	struct placement *p = ud;
	struct runtime *rt = runtime_of(p->a);
	struct placement_entry *e = placement_table_get(&p->tab, spec->id);

	(void)target;
	if (p->a->sched != NULL) {
		/* the service learned it already; the hub hears it here */
		struct sched_outcome o = {.result = SCHED_OUT_FAILED};
		uplink_note_decision(p->a, spec->id, d->state, d->action,
				     reward_of(p, spec, &o));
	}
	if (rt == NULL) {
		return;
	}
	if (e != NULL) {
		e->state = PL_REDO;
		e->redos++;
		if (e->redos > REDO_MAX) {
			log_warn("%s: %u offers failed (last: %s); giving up",
				 spec->id, (unsigned)e->redos - 1,
				 offload_redo_name(why));
			(void)runtime_offload_end(rt, spec->id, NULL, -1,
						  "offload failed repeatedly");
			e->state = PL_CLOSED;
			return;
		}
	}
	/* back to pending, same record: the runtime admits it through
	 * admit() again */
	if (offload_svc_hand_back(p->a, spec->id, why) < 0 && e != NULL) {
		e->state = PL_CLOSED;
	}
}

/* The neighbour reported: the origin's record ends with its result. */
static void hook_done(void *ud, const struct workload_spec *spec,
		      const struct node_id *target,
		      const struct offload_result *res)
{
	struct placement *p = ud;
	struct runtime *rt = runtime_of(p->a);
	struct placement_entry *e = placement_table_find(&p->tab, spec->id);
	int32_t code = res->outcome == OFFLOAD_DONE ? 0
		       : res->exit_code != 0	    ? res->exit_code
						    : -1;

	if (e != NULL && e->state == PL_OFFERED && p->a->sched != NULL) {
		struct sched_outcome o = {
		    .result = res->outcome == OFFLOAD_DONE ? SCHED_OUT_DONE
							   : SCHED_OUT_FAILED,
		    .latency_ms = (double)(wall_ms() - e->arrival_ms),
		    .energy_j = res->energy_j,
		};
		o.deadline_met = o.result == SCHED_OUT_DONE &&
				 res->deadline_met &&
				 (spec->max_delay_ms == 0 ||
				  o.latency_ms <= spec->max_delay_ms);
		uplink_note_decision(p->a, spec->id, e->d.state, e->d.action,
				     reward_of(p, spec, &o));
	}
	if (e != NULL) {
		e->state = PL_CLOSED;
	}
	if (rt != NULL) {
		int rc = runtime_offload_end(rt, spec->id, target, code,
					     res->reason);
		if (rc < 0 && rc != -ENOENT) {
			log_warn("%s: cannot record the neighbour's result: %s",
				 spec->id, strerror(-rc));
		}
	}
}

static void on_timer(uv_timer_t *t)
{
	struct placement *p = t->data;
	struct runtime *rt = runtime_of(p->a);

	if (p->stopping) {
		return;
	}
	if (rt != NULL) {
		runtime_readmit(rt);
	}
	arm(p);
}

/* Wake up at the earliest deferral. */
static void arm(struct placement *p)
{
	uint64_t next = UINT64_MAX, now = wall_ms();

	if (p->stopping) {
		return;
	}
	for (size_t i = 0; i < PLACEMENT_TABLE_MAX; i++) {
		const struct placement_entry *e = &p->tab.e[i];
		if (e->state == PL_DEFERRED && e->retry_ms < next) {
			next = e->retry_ms;
		}
	}
	if (next == UINT64_MAX) {
		uv_timer_stop(&p->timer);
		return;
	}
	uv_timer_start(&p->timer, on_timer, next > now ? next - now : 0, 0);
}

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

int placement_start(struct agent *a, struct placement **out)
{
	struct runtime *rt = runtime_of(a);
	struct placement *p;

	*out = NULL;
	if (rt == NULL || a->sched == NULL) {
		log_warn("no runtime or scheduler: workloads run where they "
			 "are created");
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return -ENOMEM;
	}
	p->listener = calloc(1, sizeof(*p->listener));
	if (p->listener == NULL) {
		free(p);
		return -ENOMEM;
	}
	p->a = a;
	p->listener->p = p;
	if (runtime_subscribe(a, on_rt_event, p->listener) < 0) {
		log_warn("no runtime events: local runs are not learned from");
	}
	uv_timer_init(a->loop, &p->timer);
	p->timer.data = p;
	if (a->offload != NULL) {
		struct offload_svc_hooks h = {
		    .redecide = hook_redecide,
		    .done = hook_done,
		    .ud = p,
		};
		offload_svc_set_hooks(a->offload, &h);
	}
	runtime_set_admit(rt, admit, p);
	*out = p;
	/* workloads that waited for a decision while we started */
	runtime_readmit(rt);
	return 0;
}

void placement_stop(struct placement *p)
{
	struct runtime *rt;

	if (p == NULL) {
		return;
	}
	p->stopping = true;
	runtime_unsubscribe(p->a, on_rt_event, p->listener);
	free(p->listener);
	p->listener = NULL;
	rt = runtime_of(p->a);
	if (rt != NULL) {
		runtime_set_admit(rt, NULL, NULL);
	}
	if (p->a->offload != NULL) {
		offload_svc_set_hooks(p->a->offload, NULL);
	}
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, on_closed);
}
