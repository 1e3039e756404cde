// SPDX-License-Identifier: Apache-2.0
/*
 * sched_svc: the scheduler service — config to parameters, table load with
 * refusal handling, the write-behind timer, reload and stop.
 */
#define LOG_TAG "sched"
#include "sched_svc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent.h"
#include "log.h"
#include "rng.h"
#include "store.h"

struct sched_svc {
	struct agent *a;
	struct sched *core;
	struct sched_store *store;
	uv_timer_t tick;
	bool timer_open;
	struct log_rl rl;      /* tick failures */
	struct log_rl rl_mask; /* all-masked decisions */
};

static void params_from_config(const struct config_sched *c,
			       struct sched_params *p)
{
	sched_params_default(p);
	p->alpha = c->alpha;
	p->gamma = c->gamma;
	p->epsilon = c->epsilon;
	p->epsilon_min = c->epsilon_min;
	p->epsilon_decay = c->epsilon_decay;
	p->neighbours_k = (uint32_t)c->neighbours_k;
}

int sched_svc_flush(struct sched_svc *svc)
{
	return sched_store_flush(svc->store, svc->core);
}

static void on_tick(uv_timer_t *t)
{
	struct sched_svc *svc = t->data;
	int rc = sched_svc_flush(svc);
	uint32_t suppressed = 0;
	if (rc < 0 && log_rl_allow(&svc->rl, uv_now(t->loop), 3, 60000,
				   &suppressed)) {
		log_warn("write-behind tick failed (%s); cells stay dirty "
			 "for the next tick (%u similar messages suppressed)",
			 strerror(-rc), (unsigned)suppressed);
	}
}

static void on_close(uv_handle_t *h)
{
	free(h->data);
}

static void svc_free(struct sched_svc *svc)
{
	if (!svc) {
		return;
	}
	sched_store_free(svc->store);
	sched_free(svc->core);
	svc->store = NULL;
	svc->core = NULL;
	if (svc->timer_open) {
		uv_close((uv_handle_t *)&svc->tick, on_close);
	} else {
		free(svc);
	}
}

int sched_start(struct agent *a)
{
	struct sched_params p;
	char why[160];
	int rc;
	params_from_config(&a->cfg.sched, &p);
	if (sched_params_validate(&p, why, sizeof(why)) < 0) {
		log_error("[sched]: %s", why);
		return -EINVAL;
	}
	struct sched_svc *svc = calloc(1, sizeof(*svc));
	if (!svc) {
		return -ENOMEM;
	}
	svc->a = a;
	rc = sched_new(&p, rng_os_seed(), &svc->core);
	if (rc < 0) {
		goto fail;
	}
	rc = sched_store_new(store_db(a->store),
			     (uint32_t)a->cfg.sched.decisions_max, &svc->store);
	if (rc < 0) {
		goto fail;
	}
	rc = sched_store_load(svc->store, svc->core);
	if (rc == -ESTALE || rc == -EBADMSG) {
		agent_note(a, "Q-table in the store was %s; started cold",
			   rc == -ESTALE ? "learned for another state shape"
					 : "damaged");
		rc = sched_store_reset(svc->store);
		if (rc < 0) {
			goto fail;
		}
		rc = 0;
	} else if (rc < 0) {
		goto fail;
	} else {
		log_info("Q-table: %d cells loaded (%u states x %u actions)",
			 rc, (unsigned)sched_n_states(svc->core),
			 (unsigned)sched_n_actions(svc->core));
	}
	rc = uv_timer_init(a->loop, &svc->tick);
	if (rc < 0) {
		goto fail;
	}
	svc->timer_open = true;
	svc->tick.data = svc;
	rc = uv_timer_start(&svc->tick, on_tick, (uint64_t)a->cfg.sched.tick_ms,
			    (uint64_t)a->cfg.sched.tick_ms);
	if (rc < 0) {
		goto fail;
	}
	a->sched = svc;
	return 0;
fail:
	log_error("cannot start the scheduler: %s", strerror(-rc));
	svc_free(svc);
	return rc;
}

void sched_stop(struct agent *a)
{
	struct sched_svc *svc = a->sched;
	if (!svc) {
		return;
	}
	uv_timer_stop(&svc->tick);
	int rc = sched_svc_flush(svc);
	if (rc < 0) {
		log_warn("final Q-table write failed: %s", strerror(-rc));
	}
	svc_free(svc);
	a->sched = NULL;
}

void sched_reload(struct agent *a)
{
	struct sched_svc *svc = a->sched;
	if (!svc) {
		return;
	}
	struct sched_params p;
	char why[160];
	params_from_config(&a->cfg.sched, &p);
	/* neighbours_k is not live: keep the running shape. */
	p.neighbours_k = sched_params(svc->core)->neighbours_k;
	if (sched_params_validate(&p, why, sizeof(why)) < 0) {
		log_warn("[sched] not applied: %s", why);
	} else if (sched_set_params(svc->core, &p) < 0) {
		log_warn("[sched] not applied: the table shape cannot change "
			 "live");
	}
	sched_store_set_cap(svc->store, (uint32_t)a->cfg.sched.decisions_max);
	uv_timer_set_repeat(&svc->tick, (uint64_t)a->cfg.sched.tick_ms);
}

int sched_svc_decide(struct sched_svc *svc, const struct sched_snapshot *snap,
		     const struct workload_spec *w, uint64_t now_ms,
		     struct sched_decision *d)
{
	int rc = sched_decide(svc->core, snap, w, d);
	if (rc == -EINVAL) {
		return rc;
	}
	if (d->fallback) {
		uint32_t suppressed = 0;
		if (log_rl_allow(&svc->rl_mask, now_ms, 3, 60000,
				 &suppressed)) {
			log_warn("%s; rejecting (%u similar suppressed)",
				 d->why, (unsigned)suppressed);
		}
	}
	sched_store_log_decision(svc->store, now_ms, w->id, d->state,
				 d->action);
	return rc;
}

int sched_svc_observe(struct sched_svc *svc, const struct sched_decision *d,
		      const struct workload_spec *w,
		      const struct sched_outcome *o, uint32_t next)
{
	double r = sched_reward(svc->core, w, o);
	int rc = sched_observe(svc->core, d, w, o, next);
	if (rc < 0) {
		return rc;
	}
	sched_store_log_reward(svc->store, w->id, r);
	return 0;
}

struct sched *sched_svc_core(struct sched_svc *svc)
{
	return svc->core;
}

struct sched_store *sched_svc_store(struct sched_svc *svc)
{
	return svc->store;
}
