// SPDX-License-Identifier: Apache-2.0
/*
 * ctl_runtime: control-socket handlers for workloads (run, ps, stop, rm,
 * logs, apply). Specs arrive in the runtime's text encoding and are decoded
 * and validated here before the runtime sees them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOG_TAG "ctl"
#include "agent.h"
#include "ctl_handlers.h"
#include "log.h"
#include "runtime.h"
#include "runtime_svc.h"

#define SPEC_TEXT_MAX 8192

static struct runtime *rt_or_fail(struct agent *a, struct ctl_call *call)
{
	struct runtime *rt = runtime_of(a);
	if (rt == NULL) {
		ctl_call_error(call, "the runtime is not running");
	}
	return rt;
}

static Farnode__V1__WorkloadAck *ack_new(struct ctl_call *call, const char *id)
{
	Farnode__V1__WorkloadAck *k = ctl_call_alloc(call, sizeof(*k));
	if (k == NULL) {
		return NULL;
	}
	farnode__v1__workload_ack__init(k);
	k->id = ctl_call_strdup(call, id);
	k->phase = (char *)"";
	k->reason = (char *)"";
	return k->id != NULL ? k : NULL;
}

/* Fill ack with the workload's phase and reason now. */
static void ack_status(struct runtime *rt, struct ctl_call *call,
		       Farnode__V1__WorkloadAck *k)
{
	struct workload_status st;
	if (runtime_get(rt, k->id, NULL, &st) == 0) {
		k->phase = (char *)workload_phase_name(st.phase);
		char *r = ctl_call_strdup(call, st.reason);
		k->reason = r != NULL ? r : (char *)"";
	}
}

/* Create one workload from its encoded spec; the outcome goes into k. */
static int create_one(struct runtime *rt, struct ctl_call *call,
		      const ProtobufCBinaryData *text,
		      Farnode__V1__WorkloadAck **out, bool idempotent)
{
	struct workload_spec spec;
	struct workload_spec cur;
	char why[WORKLOAD_REASON_MAX] = "";
	int rc;

	*out = NULL;
	if (text->len == 0 || text->len > SPEC_TEXT_MAX ||
	    runtime_spec_decode((const char *)text->data, text->len, &spec) !=
		0) {
		Farnode__V1__WorkloadAck *k = ack_new(call, "");
		if (k == NULL) {
			return -ENOMEM;
		}
		k->code = -EBADMSG;
		k->reason = (char *)"workload spec does not decode";
		*out = k;
		return -EBADMSG;
	}
	Farnode__V1__WorkloadAck *k = ack_new(call, spec.id);
	if (k == NULL) {
		return -ENOMEM;
	}
	*out = k;
	if (idempotent && runtime_get(rt, spec.id, &cur, NULL) == 0) {
		char a[SPEC_TEXT_MAX], b[SPEC_TEXT_MAX];
		int la = runtime_spec_encode(&cur, a, sizeof(a));
		int lb = runtime_spec_encode(&spec, b, sizeof(b));
		if (la > 0 && la == lb && memcmp(a, b, (size_t)la) == 0) {
			ack_status(rt, call, k);
			k->reason = (char *)"unchanged";
			return 0;
		}
		k->code = -EEXIST;
		k->reason = (char *)"exists with a different spec; "
				    "stop and rm it first";
		return -EEXIST;
	}
	rc = runtime_create(rt, &spec, why, sizeof(why));
	if (rc != 0) {
		k->code = rc;
		char *r = ctl_call_strdup(call, why);
		k->reason = r != NULL ? r : (char *)"";
		return rc;
	}
	ack_status(rt, call, k);
	return 0;
}

CTL_HANDLER(ctl_run)
{
	struct runtime *rt = rt_or_fail(a, call);
	Farnode__V1__WorkloadAck *k;
	if (rt == NULL) {
		return -ENOTCONN;
	}
	int rc = create_one(rt, call, &req->run->spec, &k, false);
	if (rc != 0) {
		if (k != NULL) {
			ctl_call_error(call, "%s", k->reason);
		}
		return rc;
	}
	rep->rep_case = FARNODE__V1__REPLY__REP_RUN;
	rep->run = k;
	return 0;
}

CTL_HANDLER(ctl_apply)
{
	struct runtime *rt = rt_or_fail(a, call);
	const Farnode__V1__ApplyRequest *r = req->apply;
	if (rt == NULL) {
		return -ENOTCONN;
	}
	if (r->n_specs == 0 || r->n_specs > 32) {
		ctl_call_error(call, "apply takes 1 to 32 workloads (got %zu)",
			       r->n_specs);
		return -EINVAL;
	}
	Farnode__V1__ApplyReply *ar = ctl_call_alloc(call, sizeof(*ar));
	Farnode__V1__WorkloadAck **acks =
	    ctl_call_alloc(call, sizeof(*acks) * r->n_specs);
	if (ar == NULL || acks == NULL) {
		return -ENOMEM;
	}
	farnode__v1__apply_reply__init(ar);
	int failed = 0;
	for (size_t i = 0; i < r->n_specs; i++) {
		int rc = create_one(rt, call, &r->specs[i], &acks[i], true);
		if (acks[i] == NULL) {
			return -ENOMEM;
		}
		failed += rc != 0;
	}
	log_info("apply %s: %zu workload(s), %d failed",
		 r->source[0] ? r->source : "(manifest)", r->n_specs, failed);
	ar->n_results = r->n_specs;
	ar->results = acks;
	rep->rep_case = FARNODE__V1__REPLY__REP_APPLY;
	rep->apply = ar;
	return 0;
}

static void fill_info(struct ctl_call *call, Farnode__V1__WorkloadInfo *w,
		      const struct workload_spec *s,
		      const struct workload_status *st)
{
	farnode__v1__workload_info__init(w);
	w->id = ctl_call_strdup(call, s->id);
	w->name = ctl_call_strdup(call, s->name);
	w->qos = (char *)qos_class_name(s->qos);
	w->profile = (char *)perf_profile_name(s->profile);
	w->runtime = (char *)workload_runtime_name(s->runtime);
	w->restart = (char *)restart_policy_name(s->restart);
	w->cpu_milli = s->cpu_milli;
	w->mem_bytes = s->mem_bytes;
	w->max_delay_ms = s->max_delay_ms;
	w->argv = ctl_call_alloc(call, sizeof(char *) * (s->argc + 1));
	if (w->argv != NULL) {
		for (uint32_t i = 0; i < s->argc; i++) {
			w->argv[i] = ctl_call_strdup(call, s->argv[i]);
			if (w->argv[i] == NULL) {
				break;
			}
			w->n_argv = i + 1;
		}
	}
	w->bundle = ctl_call_strdup(call, s->bundle);
	w->phase = (char *)workload_phase_name(st->phase);
	w->reason = ctl_call_strdup(call, st->reason);
	w->pid = st->pid;
	w->exit_code = st->exit_code;
	w->restarts = st->restarts;
	w->created_ms = st->created_ms;
	w->started_ms = st->started_ms;
	w->finished_ms = st->finished_ms;
	if (w->id == NULL || w->name == NULL || w->bundle == NULL ||
	    w->reason == NULL) {
		w->id = w->id ? w->id : (char *)"";
		w->name = w->name ? w->name : (char *)"";
		w->bundle = w->bundle ? w->bundle : (char *)"";
		w->reason = w->reason ? w->reason : (char *)"";
	}
}

struct ps_ctx {
	struct ctl_call *call;
	Farnode__V1__WorkloadInfo **items;
	size_t n;
	size_t cap;
	const char *only;
};

static int ps_visit(void *ud, const struct workload_spec *s,
		    const struct workload_status *st)
{
	struct ps_ctx *p = ud;
	if (p->only[0] != '\0' && strcmp(p->only, s->id) != 0) {
		return 0;
	}
	if (p->n >= p->cap) {
		return 1;
	}
	Farnode__V1__WorkloadInfo *w = ctl_call_alloc(p->call, sizeof(*w));
	if (w == NULL) {
		return -ENOMEM;
	}
	fill_info(p->call, w, s, st);
	p->items[p->n++] = w;
	return 0;
}

CTL_HANDLER(ctl_ps)
{
	struct runtime *rt = rt_or_fail(a, call);
	if (rt == NULL) {
		return -ENOTCONN;
	}
	struct ps_ctx p = {.call = call, .only = req->ps->id};
	p.cap = runtime_count(rt);
	Farnode__V1__PsReply *pr = ctl_call_alloc(call, sizeof(*pr));
	p.items = ctl_call_alloc(call, sizeof(*p.items) * (p.cap + 1));
	if (pr == NULL || p.items == NULL) {
		return -ENOMEM;
	}
	farnode__v1__ps_reply__init(pr);
	if (runtime_foreach(rt, ps_visit, &p) < 0) {
		return -ENOMEM;
	}
	if (p.only[0] != '\0' && p.n == 0) {
		ctl_call_error(call, "no workload '%s'", p.only);
		return -ENOENT;
	}
	char limits[320];
	if (runtime_cgroup_mode(rt) == CGROUP_LIMITS) {
		snprintf(limits, sizeof(limits), "cgroup v2 (%s)",
			 runtime_cgroup_dir(rt));
	} else {
		snprintf(limits, sizeof(limits), "%s", runtime_cgroup_note(rt));
	}
	pr->limits = ctl_call_strdup(call, limits);
	pr->workloads = p.items;
	pr->n_workloads = p.n;
	if (pr->limits == NULL) {
		return -ENOMEM;
	}
	rep->rep_case = FARNODE__V1__REPLY__REP_PS;
	rep->ps = pr;
	return 0;
}

CTL_HANDLER(ctl_stop)
{
	struct runtime *rt = rt_or_fail(a, call);
	if (rt == NULL) {
		return -ENOTCONN;
	}
	int rc = runtime_stop_workload(rt, req->stop->id);
	if (rc == -ENOENT) {
		ctl_call_error(call, "no workload '%s'", req->stop->id);
		return rc;
	}
	if (rc != 0) {
		ctl_call_error(call, "%s: %s", req->stop->id, strerror(-rc));
		return rc;
	}
	Farnode__V1__WorkloadAck *k = ack_new(call, req->stop->id);
	if (k == NULL) {
		return -ENOMEM;
	}
	ack_status(rt, call, k);
	rep->rep_case = FARNODE__V1__REPLY__REP_STOP;
	rep->stop = k;
	return 0;
}

CTL_HANDLER(ctl_rm)
{
	struct runtime *rt = rt_or_fail(a, call);
	if (rt == NULL) {
		return -ENOTCONN;
	}
	int rc = runtime_remove(rt, req->rm->id);
	if (rc == -ENOENT) {
		ctl_call_error(call, "no workload '%s'", req->rm->id);
		return rc;
	}
	if (rc == -EBUSY) {
		ctl_call_error(call, "%s is running; stop it first",
			       req->rm->id);
		return rc;
	}
	if (rc != 0) {
		ctl_call_error(call, "%s: %s", req->rm->id, strerror(-rc));
		return rc;
	}
	Farnode__V1__WorkloadAck *k = ack_new(call, req->rm->id);
	if (k == NULL) {
		return -ENOMEM;
	}
	k->phase = (char *)"removed";
	rep->rep_case = FARNODE__V1__REPLY__REP_RM;
	rep->rm = k;
	return 0;
}

CTL_HANDLER(ctl_logs)
{
	struct runtime *rt = rt_or_fail(a, call);
	char path[512];
	if (rt == NULL) {
		return -ENOTCONN;
	}
	int rc = runtime_log_path(rt, req->logs->id, path, sizeof(path));
	if (rc != 0) {
		ctl_call_error(call, "no workload '%s'", req->logs->id);
		return rc;
	}
	Farnode__V1__LogsReply *lr = ctl_call_alloc(call, sizeof(*lr));
	if (lr == NULL) {
		return -ENOMEM;
	}
	farnode__v1__logs_reply__init(lr);
	lr->path = ctl_call_strdup(call, path);
	lr->rotated = runtime_log_keep(rt);
	if (lr->path == NULL) {
		return -ENOMEM;
	}
	rep->rep_case = FARNODE__V1__REPLY__REP_LOGS;
	rep->logs = lr;
	return 0;
}
