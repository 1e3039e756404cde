// SPDX-License-Identifier: Apache-2.0
// wire_workload: workload spec and status (proto/workload.proto) to and from
// agent/workload.h. Protobuf enums start at an UNSPECIFIED zero, so agent
// enum values map to proto value + 1; an unset or unknown enum is malformed.

#include <errno.h>
#include <string.h>

#include "wire.h"
#include "wire_internal.h"
#include "wire_workload.h"

#include "workload.pb-c.h"

/* agent enum value v (0..n-1) <-> proto enum v + 1 */
static int enum_in(int pb, int n, int *out)
{
	if (pb < 1 || pb > n) {
		return -EBADMSG;
	}
	*out = pb - 1;
	return 0;
}

static int enum_out(int v, int n)
{
	return (v >= 0 && v < n) ? v + 1 : -1;
}

/* Borrow an array of fixed strings for packing. */
static int strv_out(const char (*in)[WORKLOAD_ARG_MAX], uint32_t n,
		    uint32_t max, char **ptrs)
{
	if (n > max) {
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		ptrs[i] = wire__str_out(in[i], WORKLOAD_ARG_MAX);
		if (ptrs[i] == NULL) {
			return -EINVAL;
		}
	}
	return 0;
}

static int strv_in(char *const *in, size_t n, char (*out)[WORKLOAD_ARG_MAX],
		   uint32_t max, uint32_t *n_out)
{
	if (n > max) {
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		if (wire__str_in(out[i], WORKLOAD_ARG_MAX, in[i]) < 0) {
			return -EBADMSG;
		}
	}
	*n_out = (uint32_t)n;
	return 0;
}

int wire__spec_to_pb(const struct workload_spec *s, struct wire__spec_store *st)
{
	Farnode__V1__WorkloadSpec *m = &st->m;
	int qos = enum_out(s->qos, 3), prof = enum_out(s->profile, 3);
	int ft = enum_out(s->failure_tolerance, 3);
	int rt = enum_out(s->runtime, 2), rs = enum_out(s->restart, 3);
	size_t n_loc = sizeof(s->locality) / sizeof(s->locality[0]);
	int rc;

	farnode__v1__workload_spec__init(m);
	if (qos < 0 || prof < 0 || ft < 0 || rt < 0 || rs < 0 ||
	    s->n_locality > n_loc || !wire__finite(s->energy_limit_watts)) {
		return -EINVAL;
	}
	m->id = wire__str_out(s->id, sizeof(s->id));
	m->name = wire__str_out(s->name, sizeof(s->name));
	m->cwd = wire__str_out(s->cwd, sizeof(s->cwd));
	m->bundle = wire__str_out(s->bundle, sizeof(s->bundle));
	if (m->id == NULL || m->name == NULL || m->cwd == NULL ||
	    m->bundle == NULL) {
		return -EINVAL;
	}
	rc = wire__labels_out(s->locality, s->n_locality, st->loc, st->locp);
	if (rc == 0) {
		rc = strv_out(s->argv, s->argc, WORKLOAD_ARGV_MAX, st->argv);
	}
	if (rc == 0) {
		rc = strv_out(s->env, s->envc, WORKLOAD_ENV_MAX, st->env);
	}
	if (rc < 0) {
		return rc;
	}
	m->qos = (Farnode__V1__QosClass)qos;
	m->profile = (Farnode__V1__PerfProfile)prof;
	m->cpu_milli = s->cpu_milli;
	m->mem_bytes = s->mem_bytes;
	m->max_delay_ms = s->max_delay_ms;
	m->min_bandwidth_bps = s->min_bandwidth_bps;
	m->energy_limit_watts = s->energy_limit_watts;
	m->failure_tolerance = (Farnode__V1__FailureTolerance)ft;
	m->runtime = (Farnode__V1__WorkloadRuntime)rt;
	m->restart = (Farnode__V1__RestartPolicy)rs;
	m->n_locality = s->n_locality;
	m->locality = st->locp;
	m->n_argv = s->argc;
	m->argv = st->argv;
	m->n_env = s->envc;
	m->env = st->env;
	return 0;
}

int wire__spec_from_pb(const Farnode__V1__WorkloadSpec *m,
		       struct workload_spec *s)
{
	int qos, prof, ft, rt, rs;

	memset(s, 0, sizeof(*s));
	if (enum_in(m->qos, 3, &qos) < 0 || enum_in(m->profile, 3, &prof) < 0 ||
	    enum_in(m->failure_tolerance, 3, &ft) < 0 ||
	    enum_in(m->runtime, 2, &rt) < 0 ||
	    enum_in(m->restart, 3, &rs) < 0 ||
	    !wire__finite(m->energy_limit_watts) || m->energy_limit_watts < 0) {
		return -EBADMSG;
	}
	if (wire__str_in(s->id, sizeof(s->id), m->id) < 0 ||
	    wire__str_in(s->name, sizeof(s->name), m->name) < 0 ||
	    wire__str_in(s->cwd, sizeof(s->cwd), m->cwd) < 0 ||
	    wire__str_in(s->bundle, sizeof(s->bundle), m->bundle) < 0 ||
	    wire__labels_in(m->locality, m->n_locality, s->locality,
			    sizeof(s->locality) / sizeof(s->locality[0]),
			    &s->n_locality) < 0 ||
	    strv_in(m->argv, m->n_argv, s->argv, WORKLOAD_ARGV_MAX, &s->argc) <
		0 ||
	    strv_in(m->env, m->n_env, s->env, WORKLOAD_ENV_MAX, &s->envc) < 0) {
		return -EBADMSG;
	}
	s->qos = (enum qos_class)qos;
	s->profile = (enum perf_profile)prof;
	s->cpu_milli = m->cpu_milli;
	s->mem_bytes = m->mem_bytes;
	s->max_delay_ms = m->max_delay_ms;
	s->min_bandwidth_bps = m->min_bandwidth_bps;
	s->energy_limit_watts = m->energy_limit_watts;
	s->failure_tolerance = (enum failure_tolerance)ft;
	s->runtime = (enum workload_runtime)rt;
	s->restart = (enum restart_policy)rs;
	return 0;
}

int wire_workload_spec_encode(const struct workload_spec *s, uint8_t *out,
			      size_t cap, size_t *out_len)
{
	struct wire__spec_store st;
	int rc = wire__spec_to_pb(s, &st);

	if (rc < 0) {
		return rc;
	}
	rc = wire__room(farnode__v1__workload_spec__get_packed_size(&st.m), cap,
			out_len);
	if (rc < 0) {
		return rc;
	}
	*out_len = farnode__v1__workload_spec__pack(&st.m, out);
	return 0;
}

int wire_workload_spec_decode(const uint8_t *p, size_t len,
			      struct workload_spec *s)
{
	struct wire__arena a;
	Farnode__V1__WorkloadSpec *m;
	int rc;

	if (len > WIRE_WORKLOAD_SPEC_MAX) {
		return -EMSGSIZE;
	}
	rc = wire__arena_new(&a, len, 1024 * 1024);
	if (rc < 0) {
		return rc;
	}
	m = farnode__v1__workload_spec__unpack(&a.alloc, len, p);
	rc = m == NULL ? WIRE__UNPACK_FAILED : wire__spec_from_pb(m, s);
	wire__arena_free(&a);
	return rc;
}

int wire_workload_status_encode(const struct workload_status *s, uint8_t *out,
				size_t cap, size_t *out_len)
{
	Farnode__V1__WorkloadStatus m = FARNODE__V1__WORKLOAD_STATUS__INIT;
	int phase = enum_out(s->phase, 7);
	int rc;

	m.reason = wire__str_out(s->reason, sizeof(s->reason));
	if (phase < 0 || m.reason == NULL) {
		return -EINVAL;
	}
	m.phase = (Farnode__V1__WorkloadPhase)phase;
	m.pid = s->pid;
	m.start_time_ticks = s->start_time_ticks;
	m.exit_code = s->exit_code;
	m.restarts = s->restarts;
	m.created_ms = s->created_ms;
	m.started_ms = s->started_ms;
	m.finished_ms = s->finished_ms;
	if (!node_id_is_zero(&s->placed_on)) {
		m.placed_on.data = (uint8_t *)s->placed_on.b;
		m.placed_on.len = NODE_ID_LEN;
	}
	rc = wire__room(farnode__v1__workload_status__get_packed_size(&m), cap,
			out_len);
	if (rc < 0) {
		return rc;
	}
	*out_len = farnode__v1__workload_status__pack(&m, out);
	return 0;
}

int wire_workload_status_decode(const uint8_t *p, size_t len,
				struct workload_status *s)
{
	uint8_t buf[2048];
	struct wire__arena a;
	Farnode__V1__WorkloadStatus *m;
	int phase;

	if (len > WIRE_WORKLOAD_STATUS_MAX) {
		return -EMSGSIZE;
	}
	wire__arena_init(&a, buf, sizeof(buf));
	m = farnode__v1__workload_status__unpack(&a.alloc, len, p);
	if (m == NULL) {
		return WIRE__UNPACK_FAILED;
	}
	memset(s, 0, sizeof(*s));
	if (enum_in(m->phase, 7, &phase) < 0 ||
	    wire__str_in(s->reason, sizeof(s->reason), m->reason) < 0 ||
	    (m->placed_on.len != 0 && m->placed_on.len != NODE_ID_LEN)) {
		return -EBADMSG;
	}
	s->phase = (enum workload_phase)phase;
	s->pid = m->pid;
	s->start_time_ticks = m->start_time_ticks;
	s->exit_code = m->exit_code;
	s->restarts = m->restarts;
	s->created_ms = m->created_ms;
	s->started_ms = m->started_ms;
	s->finished_ms = m->finished_ms;
	if (m->placed_on.len == NODE_ID_LEN) {
		memcpy(s->placed_on.b, m->placed_on.data, NODE_ID_LEN);
	}
	return 0;
}
