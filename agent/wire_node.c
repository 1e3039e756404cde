// SPDX-License-Identifier: Apache-2.0
// wire_node: node state, link state and labels (proto/node.proto) to and
// from agent/node.h.

#include <errno.h>
#include <string.h>

#include "wire.h"
#include "wire_internal.h"

#include "node.pb-c.h"

int wire__labels_in(Farnode__V1__Label *const *in, size_t n,
		    struct node_label *out, size_t max, uint32_t *n_out)
{
	if (n > max) {
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		if (wire__str_in(out[i].key, sizeof(out[i].key), in[i]->key) <
			0 ||
		    wire__str_in(out[i].value, sizeof(out[i].value),
				 in[i]->value) < 0) {
			return -EBADMSG;
		}
	}
	*n_out = (uint32_t)n;
	return 0;
}

int wire__labels_out(const struct node_label *in, size_t n,
		     Farnode__V1__Label *store, Farnode__V1__Label **ptrs)
{
	for (size_t i = 0; i < n; i++) {
		farnode__v1__label__init(&store[i]);
		store[i].key = wire__str_out(in[i].key, sizeof(in[i].key));
		store[i].value =
		    wire__str_out(in[i].value, sizeof(in[i].value));
		if (store[i].key == NULL || store[i].value == NULL) {
			return -EINVAL;
		}
		ptrs[i] = &store[i];
	}
	return 0;
}

int wire_node_state_encode(const struct node_state *s, uint8_t *out, size_t cap,
			   size_t *out_len)
{
	Farnode__V1__NodeState m = FARNODE__V1__NODE_STATE__INIT;
	Farnode__V1__Label lab[NODE_LABELS_MAX];
	Farnode__V1__Label *labp[NODE_LABELS_MAX];
	int rc;

	if (s->n_labels > NODE_LABELS_MAX) {
		return -EINVAL;
	}
	rc = wire__labels_out(s->labels, s->n_labels, lab, labp);
	if (rc < 0) {
		return rc;
	}
	m.version = s->version;
	m.cpu_free = s->cpu_free;
	m.cpu_cores = s->cpu_cores;
	m.cpu_milli_free = s->cpu_milli_free;
	m.mem_free_bytes = s->mem_free_bytes;
	m.mem_total_bytes = s->mem_total_bytes;
	m.energy_watts = s->energy_watts;
	m.failure_rate = s->failure_rate;
	m.temperature_c = s->temperature_c;
	m.workloads_running = s->workloads_running;
	m.uplink_connected = s->uplink_connected;
	m.policy_version = s->policy_version;
	m.generation = s->generation;
	m.n_labels = s->n_labels;
	m.labels = labp;
	rc = wire__room(farnode__v1__node_state__get_packed_size(&m), cap,
			out_len);
	if (rc < 0) {
		return rc;
	}
	*out_len = farnode__v1__node_state__pack(&m, out);
	return 0;
}

int wire_node_state_decode(const uint8_t *p, size_t len, struct node_state *s)
{
	struct wire__arena a;
	Farnode__V1__NodeState *m;
	int rc;

	if (len > WIRE_NODE_STATE_MAX) {
		return -EMSGSIZE;
	}
	rc = wire__arena_new(&a, len, 256 * 1024);
	if (rc < 0) {
		return rc;
	}
	m = farnode__v1__node_state__unpack(&a.alloc, len, p);
	if (m == NULL) {
		rc = WIRE__UNPACK_FAILED;
		goto out;
	}
	rc = -EBADMSG;
	if (!wire__finite(m->cpu_free) || m->cpu_free < 0 || m->cpu_free > 1 ||
	    !wire__finite(m->energy_watts) || !wire__finite(m->failure_rate) ||
	    !wire__finite(m->temperature_c)) {
		goto out;
	}
	memset(s, 0, sizeof(*s));
	if (wire__labels_in(m->labels, m->n_labels, s->labels, NODE_LABELS_MAX,
			    &s->n_labels) < 0) {
		goto out;
	}
	s->version = m->version;
	s->cpu_free = m->cpu_free;
	s->cpu_cores = m->cpu_cores;
	s->cpu_milli_free = m->cpu_milli_free;
	s->mem_free_bytes = m->mem_free_bytes;
	s->mem_total_bytes = m->mem_total_bytes;
	s->energy_watts = m->energy_watts;
	s->failure_rate = m->failure_rate;
	s->temperature_c = m->temperature_c;
	s->workloads_running = m->workloads_running;
	s->uplink_connected = m->uplink_connected;
	s->policy_version = m->policy_version;
	s->generation = m->generation;
	rc = 0;
out:
	wire__arena_free(&a);
	return rc;
}

int wire_link_state_encode(const struct link_state *s, uint8_t *out, size_t cap,
			   size_t *out_len)
{
	Farnode__V1__LinkState m = FARNODE__V1__LINK_STATE__INIT;
	int rc;

	m.rtt_ms = s->rtt_ms;
	m.loss = s->loss;
	m.bandwidth_bps = s->bandwidth_bps;
	rc = wire__room(farnode__v1__link_state__get_packed_size(&m), cap,
			out_len);
	if (rc < 0) {
		return rc;
	}
	*out_len = farnode__v1__link_state__pack(&m, out);
	return 0;
}

int wire_link_state_decode(const uint8_t *p, size_t len, struct link_state *s)
{
	uint8_t buf[1024];
	struct wire__arena a;
	Farnode__V1__LinkState *m;

	if (len > WIRE_LINK_STATE_MAX) {
		return -EMSGSIZE;
	}
	wire__arena_init(&a, buf, sizeof(buf));
	m = farnode__v1__link_state__unpack(&a.alloc, len, p);
	if (m == NULL) {
		return WIRE__UNPACK_FAILED;
	}
	if (!wire__finite(m->rtt_ms) || !wire__finite(m->loss) || m->loss < 0 ||
	    m->loss > 1 || !wire__finite(m->bandwidth_bps)) {
		return -EBADMSG;
	}
	s->rtt_ms = m->rtt_ms;
	s->loss = m->loss;
	s->bandwidth_bps = m->bandwidth_bps;
	return 0;
}
