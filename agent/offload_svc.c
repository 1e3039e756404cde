// SPDX-License-Identifier: Apache-2.0
/*
 * offload_svc: the offload protocol and Q-sharing as an agent service. A
 * thin libuv shell: one timer follows offload_next_deadline, another runs
 * Q-share rounds; gossip delivers messages 10-13 and member deaths;
 * runtime events end hosted runs.
 */
#include "offload_svc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "agent.h"
#include "gossip.h"
#include "gossip_app.h"
#include "runtime_svc.h"
#include "sched_svc.h"
#include "swim.h"
#include "wire.h"

#define LOG_TAG "offload"
#include "log.h"

/* The runtime listener: unsubscribed and freed at stop. */
struct rt_listener {
	struct offload_svc *svc;
};

struct offload_svc {
	struct agent *a;
	struct offload *core;
	struct offload_share *share;
	struct offload_svc_hooks hooks;
	struct rt_listener *listener;
	uv_timer_t timer;
	uv_timer_t share_timer;
	int open_handles;
	bool stopping;
	struct log_rl rl;
};

static uint64_t now_ms(const struct offload_svc *svc)
{
	return uv_now(svc->a->loop);
}

static void arm(struct offload_svc *svc);

/* ---- core callbacks ------------------------------------------------ */

static int io_send(void *ud, const struct node_id *to, uint32_t type,
		   const uint8_t *body, size_t len)
{
	struct offload_svc *svc = ud;
	return gossip_send_app(svc->a, to, type, body, len);
}

static void learn(struct offload_svc *svc, const struct workload_spec *spec,
		  const struct sched_decision *d, const struct sched_outcome *o)
{
	if (svc->a->sched == NULL || d == NULL || d->kind != SCHED_OFFLOAD) {
		return; /* not a scheduler decision: nothing to learn */
	}
	if (sched_svc_observe(svc->a->sched, d, spec, o, UINT32_MAX) < 0) {
		log_warn("reward for %s refused by the scheduler", spec->id);
	}
}

int offload_svc_hand_back(struct agent *a, const char *id,
			  enum offload_redo why)
{
	struct runtime *rt = runtime_of(a);
	int rc = rt != NULL
		     ? runtime_offload_back(rt, id, offload_redo_name(why))
		     : -ENOTCONN;
	if (rc < 0) {
		log_warn("%s handed back (%s) but not placed again: %s", id,
			 offload_redo_name(why),
			 rc == -ENOENT	 ? "it was removed"
			 : rc == -EINVAL ? "it is no longer offloaded"
					 : strerror(-rc));
	}
	return rc;
}

static void io_redecide(void *ud, const struct workload_spec *spec,
			const struct sched_decision *d,
			const struct node_id *target, enum offload_redo why)
{
	struct offload_svc *svc = ud;
	struct sched_outcome o;
	char id[NODE_ID_STR_LEN];

	node_id_format(target, id);
	log_info("offload of %s to %s failed (%s); deciding again", spec->id,
		 id, offload_redo_name(why));
	memset(&o, 0, sizeof(o));
	o.result = SCHED_OUT_FAILED;
	learn(svc, spec, d, &o);
	if (svc->hooks.redecide != NULL) {
		svc->hooks.redecide(svc->hooks.ud, spec, d, target, why);
	} else {
		offload_svc_hand_back(svc->a, spec->id, why);
	}
}

static void io_completed(void *ud, const struct workload_spec *spec,
			 const struct sched_decision *d,
			 const struct node_id *target,
			 const struct offload_result *res,
			 const struct sched_outcome *o)
{
	struct offload_svc *svc = ud;
	char id[NODE_ID_STR_LEN];

	node_id_format(target, id);
	log_info("offloaded %s finished on %s: %s, exit %" PRId32
		 ", %.0f ms, deadline %s",
		 spec->id, id, res->outcome == OFFLOAD_DONE ? "done" : "failed",
		 res->exit_code, o->latency_ms,
		 o->deadline_met ? "met" : "missed");
	learn(svc, spec, d, o);
	if (svc->hooks.done != NULL) {
		svc->hooks.done(svc->hooks.ud, spec, target, res);
	}
}

static bool has_label(const struct node_state *n, const struct node_label *l)
{
	for (uint32_t i = 0; i < n->n_labels && i < NODE_LABELS_MAX; i++) {
		if (strcmp(n->labels[i].key, l->key) == 0 &&
		    strcmp(n->labels[i].value, l->value) == 0) {
			return true;
		}
	}
	return false;
}

static enum offload_decline io_admit(void *ud, const struct workload_spec *w,
				     const struct node_id *origin)
{
	struct offload_svc *svc = ud;
	struct runtime *rt = runtime_of(svc->a);
	const struct node_state *n = runtime_node_state(svc->a);
	struct runtime_capacity cap;

	(void)origin;
	if (svc->stopping || svc->a->stopping) {
		return OFFLOAD_DECLINE_SHUTTING_DOWN;
	}
	if (rt == NULL) {
		return OFFLOAD_DECLINE_POLICY;
	}
	for (uint32_t i = 0; i < w->n_locality && i < 4; i++) {
		if (n == NULL || !has_label(n, &w->locality[i])) {
			return OFFLOAD_DECLINE_LOCALITY;
		}
	}
	runtime_capacity(rt, &cap);
	if ((uint64_t)cap.cpu_milli_used + w->cpu_milli > cap.cpu_milli_total ||
	    cap.mem_used_bytes + w->mem_bytes > cap.mem_total_bytes ||
	    (cap.max_workloads > 0 && cap.active >= cap.max_workloads)) {
		return OFFLOAD_DECLINE_CAPACITY;
	}
	return OFFLOAD_DECLINE_NONE;
}

static int io_run(void *ud, const struct workload_spec *spec,
		  const struct node_id *origin)
{
	struct offload_svc *svc = ud;
	struct runtime *rt = runtime_of(svc->a);
	struct workload_spec *w;
	char why[WORKLOAD_REASON_MAX] = "";
	int rc;

	if (rt == NULL) {
		return -ENOTCONN;
	}
	w = malloc(sizeof(*w));
	if (w == NULL) {
		return -ENOMEM;
	}
	*w = *spec;
	w->restart = RESTART_NEVER; /* the origin decides about a rerun */
	rc = runtime_create_hosted(rt, w, origin, why, sizeof(why));
	if (rc == -EEXIST) {
		/* a finished run of an earlier attempt: replace it */
		if (runtime_remove(rt, w->id) == 0) {
			rc = runtime_create_hosted(rt, w, origin, why,
						   sizeof(why));
		}
	}
	if (rc < 0) {
		log_warn("offloaded %s could not start: %s", w->id,
			 why[0] ? why : strerror(-rc));
	}
	free(w);
	return rc;
}

static void io_cancel(void *ud, const char *id)
{
	struct offload_svc *svc = ud;
	struct runtime *rt = runtime_of(svc->a);

	if (rt != NULL) {
		(void)runtime_stop_workload(rt, id);
	}
}

/* ---- agent plumbing ------------------------------------------------ */

static void on_rt_event(void *ud, const struct workload_spec *spec,
			const struct workload_status *st)
{
	struct rt_listener *l = ud;
	struct offload_svc *svc = l->svc;
	int32_t code;

	if (svc == NULL || svc->stopping ||
	    !offload_is_hosting(svc->core, spec->id)) {
		return;
	}
	switch (st->phase) {
	case WL_EXITED:
		code = st->exit_code;
		break;
	case WL_FAILED:
	case WL_STOPPED:
		code = st->exit_code != 0 ? st->exit_code : -1;
		break;
	default:
		return;
	}
	if (offload_finished(svc->core, spec->id, code, st->reason, 0,
			     now_ms(svc)) == 0) {
		arm(svc);
	}
}

static void on_app(void *ud, const struct node_id *from, uint32_t type,
		   const uint8_t *body, size_t len, uint64_t now)
{
	struct offload_svc *svc = ud;
	int rc;

	if (svc->stopping) {
		return;
	}
	if (type == WIRE_Q_SHARE) {
		if (svc->a->sched == NULL) {
			return;
		}
		rc = offload_share_recv(
		    svc->share, sched_svc_core(svc->a->sched), from, body, len);
	} else {
		rc = offload_recv(svc->core, from, type, body, len, now);
		arm(svc);
	}
	if (rc < 0 && rc != -ESTALE) {
		char id[NODE_ID_STR_LEN];
		uint32_t supp = 0;
		if (log_rl_allow(&svc->rl, now, 5, 10000, &supp)) {
			node_id_format(from, id);
			log_warn("%s from %s refused: %s (%" PRIu32
				 " more suppressed)",
				 wire_type_name(type), id, strerror(-rc), supp);
		}
	}
}

static void on_member(void *ud, const struct node_id *id,
		      enum gossip_member_ev ev, uint64_t now)
{
	struct offload_svc *svc = ud;
	const struct swim *core = gossip_core(svc->a);
	struct swim_member_info mi;
	int n = 0;

	if (svc->stopping) {
		return;
	}
	if (ev == GOSSIP_MEMBER_STATE) {
		/* a new generation: the agent restarted and lost the offers
		 * it accepted before */
		if (core != NULL && swim_member_find(core, id, &mi) == 0 &&
		    mi.state != NULL && mi.state->generation != 0) {
			n = offload_peer_generation(svc->core, id,
						    mi.state->generation, now);
		}
	} else if (ev == GOSSIP_MEMBER_DEAD || ev == GOSSIP_MEMBER_LEFT) {
		n = offload_peer_dead(svc->core, id, now);
	}
	if (n > 0) {
		arm(svc);
	}
}

static void on_timer(uv_timer_t *t)
{
	struct offload_svc *svc = t->data;
	offload_tick(svc->core, now_ms(svc));
	arm(svc);
}

static void arm(struct offload_svc *svc)
{
	uint64_t now, d;

	if (svc->stopping) {
		return;
	}
	now = now_ms(svc);
	d = offload_next_deadline(svc->core);
	if (d == UINT64_MAX) {
		uv_timer_stop(&svc->timer);
		return;
	}
	uv_timer_start(&svc->timer, on_timer, d > now ? d - now : 0, 0);
}

static int share_send(void *ud, const struct node_id *to, uint32_t type,
		      const uint8_t *body, size_t len)
{
	struct offload_svc *svc = ud;
	return gossip_send_app(svc->a, to, type, body, len);
}

static void on_share_timer(uv_timer_t *t)
{
	struct offload_svc *svc = t->data;
	const struct swim *core = gossip_core(svc->a);
	struct node_id peers[OFFLOAD_SVC_SHARE_FANOUT];
	struct swim_member_info m;
	size_t i, n = 0, count;
	int rc;

	if (svc->stopping || core == NULL || svc->a->sched == NULL) {
		return;
	}
	count = swim_member_count(core);
	for (i = 0; i < count && n < OFFLOAD_SVC_SHARE_FANOUT; i++) {
		if (swim_member_at(core, i, &m) == 0 &&
		    m.status == SWIM_ALIVE &&
		    !node_id_equal(&m.id, &svc->a->id)) {
			peers[n++] = m.id;
		}
	}
	if (n == 0) {
		return;
	}
	rc = offload_share_export(svc->share, sched_svc_core(svc->a->sched),
				  peers, n, WIRE_BODY_MAX, share_send, svc);
	if (rc < 0) {
		log_warn("Q-share round failed: %s", strerror(-rc));
	}
}

static void on_closed(uv_handle_t *h)
{
	struct offload_svc *svc = h->data;
	if (--svc->open_handles > 0) {
		return;
	}
	offload_free(svc->core);
	offload_share_free(svc->share);
	free(svc);
}

int offload_svc_start(struct agent *a, struct offload_svc **out)
{
	struct offload_params p;
	struct offload_share_params sp;
	struct runtime_capacity cap;
	struct offload_svc *svc;
	struct offload_io io = {
	    .send = io_send,
	    .redecide = io_redecide,
	    .completed = io_completed,
	    .admit = io_admit,
	    .run = io_run,
	    .cancel = io_cancel,
	};
	int rc;

	*out = NULL;
	svc = calloc(1, sizeof(*svc));
	if (svc == NULL) {
		return -ENOMEM;
	}
	svc->a = a;
	io.ud = svc;
	offload_params_default(&p);
	/* offer ids unique across restarts: wall-clock ms in the high bits */
	p.offer_id_base = ((uint64_t)time(NULL) * 1000u) << 16;
	p.generation = a->generation;
	if (runtime_of(a) != NULL) {
		runtime_capacity(runtime_of(a), &cap);
		p.cpu_milli = cap.cpu_milli_total;
		p.mem_bytes = cap.mem_total_bytes;
	}
	offload_share_params_default(&sp);
	sp.round_base = (uint64_t)time(NULL) * 1000u;
	rc = offload_new(&a->id, &p, &io, &svc->core);
	if (rc == 0) {
		rc = offload_share_new(&sp, &svc->share);
	}
	if (rc == 0) {
		svc->listener = calloc(1, sizeof(*svc->listener));
		rc = svc->listener == NULL ? -ENOMEM : 0;
	}
	if (rc < 0) {
		log_error("offload service: %s", strerror(-rc));
		offload_free(svc->core);
		offload_share_free(svc->share);
		free(svc->listener);
		free(svc);
		return rc;
	}
	svc->listener->svc = svc;
	if (runtime_of(a) != NULL &&
	    runtime_subscribe(a, on_rt_event, svc->listener) < 0) {
		log_warn("no runtime events: hosted runs end at their promise");
	}
	if (gossip_set_app_handler(a, on_app, svc) < 0 ||
	    gossip_set_member_handler(a, on_member, svc) < 0) {
		log_info("gossip is off: offers will be handed back");
	}
	uv_timer_init(a->loop, &svc->timer);
	uv_timer_init(a->loop, &svc->share_timer);
	svc->timer.data = svc;
	svc->share_timer.data = svc;
	svc->open_handles = 2;
	uv_timer_start(&svc->share_timer, on_share_timer, OFFLOAD_SVC_SHARE_MS,
		       OFFLOAD_SVC_SHARE_MS);
	*out = svc;
	return 0;
}

void offload_svc_stop(struct offload_svc *svc)
{
	if (svc == NULL) {
		return;
	}
	svc->stopping = true;
	runtime_unsubscribe(svc->a, on_rt_event, svc->listener);
	free(svc->listener);
	svc->listener = NULL;
	(void)gossip_set_app_handler(svc->a, NULL, NULL);
	(void)gossip_set_member_handler(svc->a, NULL, NULL);
	uv_close((uv_handle_t *)&svc->timer, on_closed);
	uv_close((uv_handle_t *)&svc->share_timer, on_closed);
}

void offload_svc_set_hooks(struct offload_svc *svc,
			   const struct offload_svc_hooks *h)
{
	if (h == NULL) {
		memset(&svc->hooks, 0, sizeof(svc->hooks));
	} else {
		svc->hooks = *h;
	}
}

int offload_svc_offer(struct offload_svc *svc, const struct node_id *to,
		      const struct workload_spec *spec,
		      const struct sched_decision *d, uint32_t queued_ms)
{
	int rc;

	if (svc->stopping) {
		return -ESHUTDOWN;
	}
	rc = offload_offer(svc->core, to, spec, d, queued_ms, now_ms(svc));
	if (rc == 0) {
		arm(svc);
	}
	return rc;
}

bool offload_svc_hosting(const struct offload_svc *svc, const char *id)
{
	return svc != NULL && offload_is_hosting(svc->core, id);
}

struct offload *offload_svc_core(struct offload_svc *svc)
{
	return svc->core;
}

struct offload_share *offload_svc_share(struct offload_svc *svc)
{
	return svc->share;
}
