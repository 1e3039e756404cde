// SPDX-License-Identifier: Apache-2.0
/*
 * ctl_sched: control-socket handlers of the scheduler — show the most
 * visited part of the Q-table with counters, export/import it as a file
 * image (the CLI does the file I/O), and read the decision log.
 */
#define LOG_TAG "sched"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "ctl_handlers.h"
#include "log.h"
#include "sched_svc.h"

#define SHOW_TOP_DEFAULT 20
#define SHOW_TOP_MAX 500
#define DECISIONS_DEFAULT 50
#define DECISIONS_MAX 1000

static int show(struct sched *s, uint32_t top, Farnode__V1__QtableReply *r,
		struct ctl_call *call)
{
	uint32_t na = sched_n_actions(s);
	if (top == 0) {
		top = SHOW_TOP_DEFAULT;
	}
	if (top > SHOW_TOP_MAX) {
		top = SHOW_TOP_MAX;
	}
	size_t max = (size_t)top * na;
	struct sched_share *e = malloc(sizeof(*e) * max);
	if (!e) {
		return -ENOMEM;
	}
	size_t n = sched_share_top(s, top, e, max);
	int rc = -ENOMEM;
	if (n > 0) {
		r->cells = ctl_call_alloc(call, sizeof(*r->cells) * n);
		if (!r->cells) {
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		Farnode__V1__QtableCell *c = ctl_call_alloc(call, sizeof(*c));
		char desc[96], name[16];
		if (!c) {
			goto out;
		}
		farnode__v1__qtable_cell__init(c);
		c->state = e[i].state;
		c->action = e[i].action;
		c->q = e[i].q;
		c->visits = e[i].visits;
		c->state_desc = ctl_call_strdup(
			call, sched_state_describe(s, e[i].state, desc,
						   sizeof(desc)));
		c->action_name = ctl_call_strdup(
			call, sched_action_name(s, e[i].action, name,
						sizeof(name)));
		if (!c->state_desc || !c->action_name) {
			goto out;
		}
		r->cells[i] = c;
	}
	r->n_cells = n;
	rc = 0;
out:
	free(e);
	return rc;
}

static uint32_t count_visited(const struct sched *s)
{
	uint32_t n = 0;
	for (uint32_t st = 0; st < sched_n_states(s); st++) {
		for (uint32_t a = 0; a < sched_n_actions(s); a++) {
			uint32_t v = 0;
			sched_q_get(s, st, a, NULL, &v);
			n += v > 0;
		}
	}
	return n;
}

CTL_HANDLER(ctl_qtable)
{
	const Farnode__V1__QtableRequest *q = req->qtable;
	if (!a->sched) {
		ctl_call_error(call, "the scheduler is not running");
		return -ENOTCONN;
	}
	struct sched *s = sched_svc_core(a->sched);
	Farnode__V1__QtableReply *r = ctl_call_alloc(call, sizeof(*r));
	if (!r) {
		return -ENOMEM;
	}
	farnode__v1__qtable_reply__init(r);
	int rc = 0;
	switch (q->op) {
	case FARNODE__V1__QTABLE_REQUEST__OP__OP_SHOW:
		rc = show(s, q->top, r, call);
		break;
	case FARNODE__V1__QTABLE_REQUEST__OP__OP_EXPORT: {
		uint8_t *img = NULL;
		size_t len = 0;
		rc = sched_export_encode(s, q->top, &img, &len);
		if (rc < 0) {
			break;
		}
		r->data.data = ctl_call_alloc(call, len);
		if (!r->data.data) {
			free(img);
			rc = -ENOMEM;
			break;
		}
		memcpy(r->data.data, img, len);
		r->data.len = len;
		free(img);
		break;
	}
	case FARNODE__V1__QTABLE_REQUEST__OP__OP_IMPORT: {
		struct sched_share *e = NULL;
		size_t n = 0;
		char why[256];
		rc = sched_import_decode(s, q->data.data, q->data.len, &e, &n,
					 why, sizeof(why));
		if (rc < 0) {
			log_warn("Q-table import refused: %s", why);
			ctl_call_error(call, "import refused: %s", why);
			return rc;
		}
		sched_import_apply(s, e, n);
		free(e);
		r->imported = (uint32_t)n;
		log_info("Q-table import: %zu cells applied as a prior", n);
		rc = sched_svc_flush(a->sched);
		if (rc < 0) {
			ctl_call_error(call, "imported, but writing the table "
					     "failed (%s); retried next tick",
				       strerror(-rc));
			return rc;
		}
		rc = 0;
		break;
	}
	default:
		ctl_call_error(call, "unknown qtable operation %d", (int)q->op);
		return -EINVAL;
	}
	if (rc < 0) {
		return rc;
	}
	const struct sched_stats *st = sched_stats(s);
	r->states = sched_n_states(s);
	r->actions = sched_n_actions(s);
	r->fingerprint = sched_fingerprint(s);
	r->visited = count_visited(s);
	r->epsilon = sched_epsilon(s);
	r->decisions = st->decisions;
	r->explored = st->explored;
	r->all_masked = st->all_masked;
	r->updates = st->updates;
	r->rewards_rejected = st->rewards_rejected;
	rep->rep_case = FARNODE__V1__REPLY__REP_QTABLE;
	rep->qtable = r;
	return 0;
}

CTL_HANDLER(ctl_decisions)
{
	if (!a->sched) {
		ctl_call_error(call, "the scheduler is not running");
		return -ENOTCONN;
	}
	struct sched *s = sched_svc_core(a->sched);
	struct sched_store *st = sched_svc_store(a->sched);
	uint32_t limit = req->decisions->limit;
	if (limit == 0) {
		limit = DECISIONS_DEFAULT;
	}
	if (limit > DECISIONS_MAX) {
		limit = DECISIONS_MAX;
	}
	Farnode__V1__DecisionsReply *r = ctl_call_alloc(call, sizeof(*r));
	struct sched_logged *l = ctl_call_alloc(call, sizeof(*l) * limit);
	if (!r || !l) {
		return -ENOMEM;
	}
	farnode__v1__decisions_reply__init(r);
	int n = sched_store_decisions(st, l, limit);
	int64_t total = sched_store_decisions_count(st);
	if (n < 0 || total < 0) {
		ctl_call_error(call, "reading the decision log failed");
		return n < 0 ? n : (int)total;
	}
	r->total = (uint64_t)total;
	if (n > 0) {
		r->rows = ctl_call_alloc(call, sizeof(*r->rows) * (size_t)n);
		if (!r->rows) {
			return -ENOMEM;
		}
	}
	for (int i = 0; i < n; i++) {
		Farnode__V1__DecisionRow *d = ctl_call_alloc(call, sizeof(*d));
		char desc[96], name[16];
		if (!d) {
			return -ENOMEM;
		}
		farnode__v1__decision_row__init(d);
		d->seq = l[i].seq;
		d->time_ms = l[i].time_ms;
		d->workload = l[i].workload;
		d->state = l[i].state;
		d->state_desc = ctl_call_strdup(
			call, sched_state_describe(s, l[i].state, desc,
						   sizeof(desc)));
		d->action = ctl_call_strdup(
			call, sched_action_name(s, l[i].action, name,
						sizeof(name)));
		if (!d->state_desc || !d->action) {
			return -ENOMEM;
		}
		d->has_reward = l[i].has_reward;
		d->reward = l[i].reward;
		r->rows[i] = d;
	}
	r->n_rows = (size_t)n;
	rep->rep_case = FARNODE__V1__REPLY__REP_DECISIONS;
	rep->decisions = r;
	return 0;
}
