// SPDX-License-Identifier: Apache-2.0
// wire_offload: offload offer, reply and result (proto/offload.proto;
// envelope types 10-12) to and from agent/messages.h.

#include <errno.h>
#include <string.h>

#include "wire.h"
#include "wire_internal.h"
#include "wire_workload.h"

#include "offload.pb-c.h"

#define OFFER_MAX  (WIRE_WORKLOAD_SPEC_MAX + 64)
#define REPLY_MAX  256
#define RESULT_MAX 512

int wire_offload_offer_encode(const struct offload_offer *o, uint8_t *out,
			      size_t cap, size_t *out_len)
{
	Farnode__V1__OffloadOffer m = FARNODE__V1__OFFLOAD_OFFER__INIT;
	struct wire__spec_store st;
	int rc;

	rc = wire__spec_to_pb(&o->spec, &st);
	if (rc < 0) {
		return rc;
	}
	m.offer_id = o->offer_id;
	m.spec = &st.m;
	m.reply_timeout_ms = o->reply_timeout_ms;
	m.queued_ms = o->queued_ms;
	rc = wire__room(farnode__v1__offload_offer__get_packed_size(&m), cap,
			out_len);
	if (rc < 0) {
		return rc;
	}
	*out_len = farnode__v1__offload_offer__pack(&m, out);
	return 0;
}

int wire_offload_offer_decode(const uint8_t *p, size_t len,
			      struct offload_offer *o)
{
	struct wire__arena a;
	Farnode__V1__OffloadOffer *m;
	int rc;

	if (len > OFFER_MAX) {
		return -EMSGSIZE;
	}
	rc = wire__arena_new(&a, len, 1024 * 1024);
	if (rc < 0) {
		return rc;
	}
	m = farnode__v1__offload_offer__unpack(&a.alloc, len, p);
	if (m == NULL || m->spec == NULL) {
		rc = -EBADMSG;
		goto out;
	}
	rc = wire__spec_from_pb(m->spec, &o->spec);
	if (rc < 0) {
		goto out;
	}
	o->offer_id = m->offer_id;
	o->reply_timeout_ms = m->reply_timeout_ms;
	o->queued_ms = m->queued_ms;
out:
	wire__arena_free(&a);
	return rc;
}

int wire_offload_reply_encode(const struct offload_reply *r, uint8_t *out,
			      size_t cap, size_t *out_len)
{
	Farnode__V1__OffloadReply m = FARNODE__V1__OFFLOAD_REPLY__INIT;
	int rc;

	m.workload_id = wire__str_out(r->workload_id, sizeof(r->workload_id));
	if (m.workload_id == NULL || (unsigned)r->decline > 6 ||
	    (r->accepted && r->decline != OFFLOAD_DECLINE_NONE)) {
		return -EINVAL;
	}
	m.offer_id = r->offer_id;
	m.accepted = r->accepted;
	m.decline = (Farnode__V1__OffloadDecline)r->decline;
	m.reserve_ms = r->reserve_ms;
	m.generation = r->generation;
	rc = wire__room(farnode__v1__offload_reply__get_packed_size(&m), cap,
			out_len);
	if (rc < 0) {
		return rc;
	}
	*out_len = farnode__v1__offload_reply__pack(&m, out);
	return 0;
}

int wire_offload_reply_decode(const uint8_t *p, size_t len,
			      struct offload_reply *r)
{
	uint8_t buf[2048];
	struct wire__arena a;
	Farnode__V1__OffloadReply *m;

	if (len > REPLY_MAX) {
		return -EMSGSIZE;
	}
	wire__arena_init(&a, buf, sizeof(buf));
	m = farnode__v1__offload_reply__unpack(&a.alloc, len, p);
	if (m == NULL) {
		return WIRE__UNPACK_FAILED;
	}
	memset(r, 0, sizeof(*r));
	if ((unsigned)m->decline > 6 || (m->accepted && m->decline != 0) ||
	    (!m->accepted && m->decline == 0) ||
	    wire__str_in(r->workload_id, sizeof(r->workload_id),
			 m->workload_id) < 0) {
		return -EBADMSG;
	}
	r->offer_id = m->offer_id;
	r->accepted = m->accepted;
	r->decline = (enum offload_decline)m->decline;
	r->reserve_ms = m->reserve_ms;
	r->generation = m->generation;
	return 0;
}

int wire_offload_result_encode(const struct offload_result *r, uint8_t *out,
			       size_t cap, size_t *out_len)
{
	Farnode__V1__OffloadResult m = FARNODE__V1__OFFLOAD_RESULT__INIT;
	int rc;

	m.workload_id = wire__str_out(r->workload_id, sizeof(r->workload_id));
	m.reason = wire__str_out(r->reason, sizeof(r->reason));
	if (m.workload_id == NULL || m.reason == NULL ||
	    (r->outcome != OFFLOAD_DONE && r->outcome != OFFLOAD_FAILED) ||
	    !wire__finite(r->latency_ms) || !wire__finite(r->energy_j)) {
		return -EINVAL;
	}
	m.offer_id = r->offer_id;
	m.outcome = (Farnode__V1__OffloadOutcome)r->outcome;
	m.deadline_met = r->deadline_met;
	m.latency_ms = r->latency_ms;
	m.energy_j = r->energy_j;
	m.exit_code = r->exit_code;
	rc = wire__room(farnode__v1__offload_result__get_packed_size(&m), cap,
			out_len);
	if (rc < 0) {
		return rc;
	}
	*out_len = farnode__v1__offload_result__pack(&m, out);
	return 0;
}

int wire_offload_result_decode(const uint8_t *p, size_t len,
			       struct offload_result *r)
{
	uint8_t buf[4096];
	struct wire__arena a;
	Farnode__V1__OffloadResult *m;

	if (len > RESULT_MAX) {
		return -EMSGSIZE;
	}
	wire__arena_init(&a, buf, sizeof(buf));
	m = farnode__v1__offload_result__unpack(&a.alloc, len, p);
	if (m == NULL) {
		return WIRE__UNPACK_FAILED;
	}
	memset(r, 0, sizeof(*r));
	if ((m->outcome != FARNODE__V1__OFFLOAD_OUTCOME__OFFLOAD_OUTCOME_DONE &&
	     m->outcome !=
		 FARNODE__V1__OFFLOAD_OUTCOME__OFFLOAD_OUTCOME_FAILED) ||
	    !wire__finite(m->latency_ms) || m->latency_ms < 0 ||
	    !wire__finite(m->energy_j) || m->energy_j < 0 ||
	    wire__str_in(r->workload_id, sizeof(r->workload_id),
			 m->workload_id) < 0 ||
	    wire__str_in(r->reason, sizeof(r->reason), m->reason) < 0) {
		return -EBADMSG;
	}
	r->offer_id = m->offer_id;
	r->outcome = (enum offload_outcome)m->outcome;
	r->deadline_met = m->deadline_met;
	r->latency_ms = m->latency_ms;
	r->energy_j = m->energy_j;
	r->exit_code = m->exit_code;
	return 0;
}
