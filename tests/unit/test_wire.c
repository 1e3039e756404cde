// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the wire module: every message type round-trips with the
 * same decoded values (and protobuf-c's generated decoder reads what we
 * write); envelope rejections carry distinct codes; bounds on sizes,
 * repeated fields, strings and enums; Q-shares cut to a byte budget;
 * signed bundles open only with a pinned key and the right kind.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "rng.h"
#include "wire.h"

#include "envelope.pb-c.h"
#include "learning.pb-c.h"
#include "node.pb-c.h"
#include "policy.pb-c.h"
#include "workload.pb-c.h"

static uint8_t buf[1 << 20];

static void fill_id(struct node_id *id, uint8_t seed)
{
	for (int i = 0; i < NODE_ID_LEN; i++) {
		id->b[i] = (uint8_t)(seed + i * 17);
	}
}

/* ---- envelope ---------------------------------------------------------- */

static void test_envelope_roundtrip_all_types(void **state)
{
	const uint32_t types[] = {1, 2, 3, 4, 5, 6, 10, 11, 12, 13};
	uint8_t body[WIRE_BODY_MAX];

	(void)state;
	for (size_t i = 0; i < WIRE_BODY_MAX; i++) {
		body[i] = (uint8_t)(i * 7);
	}
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		const size_t lens[] = {0, 1, 100, WIRE_BODY_MAX};

		for (size_t l = 0; l < 4; l++) {
			struct wire_envelope h = {.version = WIRE_VERSION,
						  .type = types[t]};
			struct wire_envelope d;
			const uint8_t *b;
			size_t n, bl;
			Farnode__V1__Envelope *pb;

			fill_id(&h.sender, (uint8_t)t);
			h.incarnation = t == 0 ? 0 : UINT64_MAX - t;
			assert_int_equal(
			    wire_envelope_encode(&h, body, lens[l], buf,
						 WIRE_ENVELOPE_MAX, &n),
			    0);
			assert_true(n <= lens[l] + WIRE_ENVELOPE_OVERHEAD);
			assert_true(n + CRYPTO_SEAL_OVERHEAD <=
				    WIRE_DATAGRAM_MAX);
			assert_int_equal(
			    wire_envelope_decode(buf, n, &d, &b, &bl), 0);
			assert_int_equal(d.version, WIRE_VERSION);
			assert_int_equal(d.type, types[t]);
			assert_true(d.incarnation == h.incarnation);
			assert_memory_equal(d.sender.b, h.sender.b, 16);
			assert_int_equal(bl, lens[l]);
			if (bl > 0) {
				assert_ptr_equal(b, buf + n - bl);
				assert_memory_equal(b, body, bl);
			}
			/* the generated decoder agrees */
			pb = farnode__v1__envelope__unpack(NULL, n, buf);
			assert_non_null(pb);
			assert_int_equal(pb->type, types[t]);
			assert_int_equal(pb->body.len, lens[l]);
			farnode__v1__envelope__free_unpacked(pb, NULL);
		}
	}
}

static size_t pb_envelope(uint32_t version, uint32_t type, size_t sender_len,
			  size_t body_len)
{
	Farnode__V1__Envelope e = FARNODE__V1__ENVELOPE__INIT;
	static uint8_t sender[32] = {1, 2, 3}, body[2000];

	e.version = version;
	e.type = (Farnode__V1__MessageType)type;
	e.sender.data = sender;
	e.sender.len = sender_len;
	e.incarnation = 5;
	e.body.data = body;
	e.body.len = body_len;
	return farnode__v1__envelope__pack(&e, buf);
}

/* Large app messages: the stream envelope takes bodies the datagram one
 * refuses, and is bounded too. */
static void test_stream_envelope(void **state)
{
	(void)state;
	static uint8_t body[WIRE_STREAM_BODY_MAX + 1],
	    out[WIRE_STREAM_BODY_MAX + 64];
	struct wire_envelope h = {.version = WIRE_VERSION,
				  .incarnation = 3,
				  .type = WIRE_OFFLOAD_OFFER};
	const uint8_t *b = NULL;
	size_t n = 0, blen = 0;
	struct wire_envelope d;
	memset(h.sender.b, 7, NODE_ID_LEN);
	memset(body, 'x', sizeof(body));
	assert_int_equal(
	    wire_envelope_encode(&h, body, 10000, out, sizeof(out), &n),
	    -EMSGSIZE);
	assert_int_equal(
	    wire_stream_envelope_encode(&h, body, 10000, out, sizeof(out), &n),
	    0);
	assert_int_equal(wire_envelope_decode(out, n, &d, &b, &blen),
			 -EMSGSIZE);
	assert_int_equal(wire_stream_envelope_decode(out, n, &d, &b, &blen), 0);
	assert_int_equal(blen, 10000);
	assert_int_equal(d.type, WIRE_OFFLOAD_OFFER);
	assert_int_equal(d.incarnation, 3);
	assert_int_equal(wire_stream_envelope_encode(&h, body, sizeof(body),
						     out, sizeof(out), &n),
			 -EMSGSIZE);
	assert_int_equal(wire_stream_envelope_decode(
			     out, WIRE_STREAM_ENVELOPE_MAX + 1, &d, &b, &blen),
			 -EMSGSIZE);
}

static void test_envelope_rejections(void **state)
{
	struct wire_envelope h = {.version = WIRE_VERSION, .type = WIRE_PING};
	struct wire_envelope d;
	const uint8_t *b;
	size_t n, bl;

	(void)state;
	/* distinct codes */
	n = pb_envelope(2, 1, 16, 3);
	assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl),
			 -EPROTONOSUPPORT);
	n = pb_envelope(0, 1, 16, 3);
	assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl),
			 -EPROTONOSUPPORT);
	n = pb_envelope(1, 7, 16, 3);
	assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl), -ENOMSG);
	n = pb_envelope(1, 0, 16, 3);
	assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl), -ENOMSG);
	n = pb_envelope(1, 99, 16, 3);
	assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl), -ENOMSG);
	n = pb_envelope(1, 1, 15, 3);
	assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl), -EBADMSG);
	n = pb_envelope(1, 1, 0, 3);
	assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl), -EBADMSG);
	/* the all-zero node id is nobody */
	{
		struct wire_envelope z = {.version = WIRE_VERSION,
					  .type = WIRE_ACK};

		assert_int_equal(
		    wire_envelope_encode(&z, NULL, 0, buf, sizeof(buf), &n), 0);
		assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl),
				 -EBADMSG);
	}
	/* malformed beats version: a bad sender with version 2 */
	n = pb_envelope(2, 1, 3, 3);
	assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl), -EBADMSG);
	n = pb_envelope(1, 1, 16, WIRE_ENVELOPE_MAX);
	assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl), -EMSGSIZE);
	/*
	 * A truncation is malformed, lacks the type, or (cut exactly before
	 * the body field) decodes without a body: protobuf cannot tell, the
	 * seal around the envelope does. It never yields the cut body.
	 */
	n = pb_envelope(1, 3, 16, 40);
	for (size_t cut = 1; cut < n; cut++) {
		int rc = wire_envelope_decode(buf, cut, &d, &b, &bl);

		assert_true(rc == -EBADMSG || rc == -ENOMSG ||
			    (rc == 0 && bl == 0 && cut == n - 42));
	}
	assert_int_equal(wire_envelope_decode(buf, 0, &d, &b, &bl), -EBADMSG);
	/* wrong wire type for a known field; field number 0; group */
	{
		const uint8_t wt[] = {0x0a, 0x01, 0x01}; /* field 1 as bytes */
		const uint8_t f0[] = {0x00, 0x01};
		const uint8_t grp[] = {0x0b, 0x0c};

		assert_int_equal(
		    wire_envelope_decode(wt, sizeof(wt), &d, &b, &bl),
		    -EBADMSG);
		assert_int_equal(
		    wire_envelope_decode(f0, sizeof(f0), &d, &b, &bl),
		    -EBADMSG);
		assert_int_equal(
		    wire_envelope_decode(grp, sizeof(grp), &d, &b, &bl),
		    -EBADMSG);
	}
	/* unknown fields are skipped */
	n = pb_envelope(1, 4, 16, 2);
	buf[n++] = (14 << 3) | 2; /* field 14, bytes */
	buf[n++] = 0x01;
	buf[n++] = 0xff;
	buf[n++] = (13 << 3) | 1; /* field 13, fixed64 */
	memset(buf + n, 0, 8);
	n += 8;
	assert_int_equal(wire_envelope_decode(buf, n, &d, &b, &bl), 0);
	assert_int_equal(d.type, WIRE_NACK);
	assert_int_equal(bl, 2);
	/* encoder refusals */
	fill_id(&h.sender, 1);
	assert_int_equal(wire_envelope_encode(&h, buf, WIRE_BODY_MAX + 1, buf,
					      sizeof(buf), &n),
			 -EMSGSIZE);
	assert_int_equal(wire_envelope_encode(&h, buf, 100, buf + 200, 50, &n),
			 -ENOBUFS);
	h.type = 7;
	assert_int_equal(wire_envelope_encode(&h, NULL, 0, buf, 100, &n),
			 -EINVAL);
	h.type = WIRE_PING;
	h.version = 2;
	assert_int_equal(wire_envelope_encode(&h, NULL, 0, buf, 100, &n),
			 -EINVAL);
	assert_string_equal(wire_strerror(-ENOMSG), "unknown type");
	assert_string_equal(wire_type_name(WIRE_Q_SHARE), "q-share");
}

/* ---- node and link state ------------------------------------------------ */

static void make_state(struct node_state *s, struct rng *r)
{
	memset(s, 0, sizeof(*s));
	s->version = rng_next(r);
	s->cpu_free = rng_unit(r);
	s->cpu_cores = rng_below(r, 128);
	s->cpu_milli_free = rng_below(r, 128000);
	s->mem_free_bytes = rng_next(r) >> 20;
	s->mem_total_bytes = rng_next(r) >> 18;
	s->energy_watts = rng_unit(r) * 40 - 1;
	s->failure_rate = rng_unit(r) * 0.1;
	s->temperature_c = rng_below(r, 2) ? -300 : rng_unit(r) * 90;
	s->workloads_running = rng_below(r, 100);
	s->uplink_connected = rng_below(r, 2);
	s->policy_version = rng_below(r, 1000);
	s->generation = rng_next(r);
	s->n_labels = rng_below(r, NODE_LABELS_MAX + 1);
	for (uint32_t i = 0; i < s->n_labels; i++) {
		snprintf(s->labels[i].key, sizeof(s->labels[i].key), "key%u",
			 i);
		memset(s->labels[i].value, 'v', rng_below(r, 63));
	}
}

static void test_node_state_roundtrip(void **state)
{
	struct node_state s, d;
	struct rng r;
	size_t n;

	(void)state;
	rng_seed(&r, 42);
	for (int it = 0; it < 200; it++) {
		Farnode__V1__NodeState *pb;

		make_state(&s, &r);
		assert_int_equal(
		    wire_node_state_encode(&s, buf, sizeof(buf), &n), 0);
		memset(&d, 0xee, sizeof(d));
		assert_int_equal(wire_node_state_decode(buf, n, &d), 0);
		assert_memory_equal(&s, &d, sizeof(s));
		pb = farnode__v1__node_state__unpack(NULL, n, buf);
		assert_non_null(pb);
		assert_true(pb->version == s.version);
		assert_int_equal(pb->n_labels, s.n_labels);
		farnode__v1__node_state__free_unpacked(pb, NULL);
	}
	/* bounds: cpu_free out of range, NaN, too many labels, long value */
	make_state(&s, &r);
	s.cpu_free = 1.5;
	assert_int_equal(wire_node_state_encode(&s, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_node_state_decode(buf, n, &d), -EBADMSG);
	s.cpu_free = NAN;
	assert_int_equal(wire_node_state_encode(&s, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_node_state_decode(buf, n, &d), -EBADMSG);
	{
		Farnode__V1__NodeState m = FARNODE__V1__NODE_STATE__INIT;
		Farnode__V1__Label lab[NODE_LABELS_MAX + 1];
		Farnode__V1__Label *lp[NODE_LABELS_MAX + 1];
		char longv[80];

		for (int i = 0; i < NODE_LABELS_MAX + 1; i++) {
			farnode__v1__label__init(&lab[i]);
			lab[i].key = "k";
			lab[i].value = "v";
			lp[i] = &lab[i];
		}
		m.labels = lp;
		m.n_labels = NODE_LABELS_MAX + 1;
		n = farnode__v1__node_state__pack(&m, buf);
		assert_int_equal(wire_node_state_decode(buf, n, &d), -EBADMSG);
		m.n_labels = 1;
		memset(longv, 'x', sizeof(longv) - 1);
		longv[sizeof(longv) - 1] = '\0';
		lab[0].value = longv;
		n = farnode__v1__node_state__pack(&m, buf);
		assert_int_equal(wire_node_state_decode(buf, n, &d), -EBADMSG);
		lab[0].value = "ok";
		n = farnode__v1__node_state__pack(&m, buf);
		assert_int_equal(wire_node_state_decode(buf, n, &d), 0);
		assert_string_equal(d.labels[0].value, "ok");
	}
	assert_int_equal(
	    wire_node_state_decode(buf, WIRE_NODE_STATE_MAX + 1, &d),
	    -EMSGSIZE);
	/* too small an output buffer says how much is needed */
	make_state(&s, &r);
	assert_int_equal(wire_node_state_encode(&s, buf, 3, &n), -ENOBUFS);
	assert_true(n > 3);
}

static void test_link_state_roundtrip(void **state)
{
	struct link_state s = {
	    .rtt_ms = 12.25, .loss = 0.125, .bandwidth_bps = -1};
	struct link_state d;
	size_t n;

	(void)state;
	assert_int_equal(wire_link_state_encode(&s, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_link_state_decode(buf, n, &d), 0);
	assert_memory_equal(&s, &d, sizeof(s));
	s.loss = 2;
	assert_int_equal(wire_link_state_encode(&s, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_link_state_decode(buf, n, &d), -EBADMSG);
	s.loss = 0;
	s.rtt_ms = INFINITY;
	assert_int_equal(wire_link_state_encode(&s, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_link_state_decode(buf, n, &d), -EBADMSG);
}

/* ---- workloads --------------------------------------------------------- */

static void make_spec(struct workload_spec *s, struct rng *r, int i)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "wl-%d-%08x", i, rng_below(r, ~0u));
	snprintf(s->name, sizeof(s->name), "svc-%d", i);
	s->qos = (enum qos_class)rng_below(r, 3);
	s->profile = (enum perf_profile)rng_below(r, 3);
	s->cpu_milli = rng_below(r, 8000);
	s->mem_bytes = rng_next(r) >> 30;
	s->max_delay_ms = rng_below(r, 10000);
	s->min_bandwidth_bps = rng_next(r) >> 40;
	s->energy_limit_watts = rng_unit(r) * 20;
	s->failure_tolerance = (enum failure_tolerance)rng_below(r, 3);
	s->runtime = (enum workload_runtime)rng_below(r, 2);
	s->restart = (enum restart_policy)rng_below(r, 3);
	s->n_locality = rng_below(r, 5);
	for (uint32_t j = 0; j < s->n_locality; j++) {
		snprintf(s->locality[j].key, sizeof(s->locality[j].key),
			 "zone%u", j);
		snprintf(s->locality[j].value, sizeof(s->locality[j].value),
			 "hall-%u", j);
	}
	s->argc = rng_below(r, WORKLOAD_ARGV_MAX + 1);
	for (uint32_t j = 0; j < s->argc; j++) {
		memset(s->argv[j], 'a' + (int)(j % 26),
		       rng_below(r, WORKLOAD_ARG_MAX));
	}
	s->envc = rng_below(r, WORKLOAD_ENV_MAX + 1);
	for (uint32_t j = 0; j < s->envc; j++) {
		snprintf(s->env[j], sizeof(s->env[j]), "K%u=v%u", j, j);
	}
	snprintf(s->cwd, sizeof(s->cwd), "/var/lib/w%d", i);
	if (s->runtime == RUNTIME_OCI) {
		snprintf(s->bundle, sizeof(s->bundle), "/srv/bundle/%d", i);
	}
}

static void test_workload_roundtrip(void **state)
{
	struct workload_spec s, d;
	struct workload_status st, ds;
	struct rng r;
	size_t n;

	(void)state;
	rng_seed(&r, 7);
	for (int i = 0; i < 100; i++) {
		make_spec(&s, &r, i);
		assert_int_equal(
		    wire_workload_spec_encode(&s, buf, sizeof(buf), &n), 0);
		assert_true(n <= WIRE_WORKLOAD_SPEC_MAX);
		memset(&d, 0x55, sizeof(d));
		assert_int_equal(wire_workload_spec_decode(buf, n, &d), 0);
		assert_memory_equal(&s, &d, sizeof(s));
	}
	/* a maximal spec fits under the decoder's cap */
	memset(&s, 0, sizeof(s));
	memset(s.id, 'i', sizeof(s.id) - 1);
	memset(s.name, 'n', sizeof(s.name) - 1);
	s.argc = WORKLOAD_ARGV_MAX;
	s.envc = WORKLOAD_ENV_MAX;
	for (int j = 0; j < WORKLOAD_ARGV_MAX; j++) {
		memset(s.argv[j], 'x', WORKLOAD_ARG_MAX - 1);
		memset(s.env[j], 'y', WORKLOAD_ARG_MAX - 1);
	}
	memset(s.cwd, 'c', sizeof(s.cwd) - 1);
	memset(s.bundle, 'b', sizeof(s.bundle) - 1);
	s.n_locality = 4;
	for (int j = 0; j < 4; j++) {
		memset(s.locality[j].key, 'k', NODE_LABEL_KEY_MAX - 1);
		memset(s.locality[j].value, 'v', NODE_LABEL_VALUE_MAX - 1);
	}
	assert_int_equal(wire_workload_spec_encode(&s, buf, sizeof(buf), &n),
			 0);
	assert_true(n <= WIRE_WORKLOAD_SPEC_MAX);
	assert_int_equal(wire_workload_spec_decode(buf, n, &d), 0);
	assert_memory_equal(&s, &d, sizeof(s));
	/* unterminated string in our own struct is refused on encode */
	memset(s.id, 'i', sizeof(s.id));
	assert_int_equal(wire_workload_spec_encode(&s, buf, sizeof(buf), &n),
			 -EINVAL);
	/* an unset enum (proto zero) or an unknown one is malformed */
	{
		Farnode__V1__WorkloadSpec m = FARNODE__V1__WORKLOAD_SPEC__INIT;

		m.id = "x";
		m.qos = FARNODE__V1__QOS_CLASS__QOS_CLASS_GOLD;
		m.profile = 1;
		m.failure_tolerance = 1;
		m.runtime = 1;
		m.restart = 1;
		n = farnode__v1__workload_spec__pack(&m, buf);
		assert_int_equal(wire_workload_spec_decode(buf, n, &d), 0);
		assert_int_equal(d.qos, QOS_GOLD);
		m.qos = 0;
		n = farnode__v1__workload_spec__pack(&m, buf);
		assert_int_equal(wire_workload_spec_decode(buf, n, &d),
				 -EBADMSG);
		m.qos = 1;
		m.runtime = 3;
		n = farnode__v1__workload_spec__pack(&m, buf);
		assert_int_equal(wire_workload_spec_decode(buf, n, &d),
				 -EBADMSG);
	}
	/* status */
	for (int ph = WL_PENDING; ph <= WL_OFFLOADED; ph++) {
		memset(&st, 0, sizeof(st));
		st.phase = (enum workload_phase)ph;
		snprintf(st.reason, sizeof(st.reason), "reason %d", ph);
		st.pid = 1234 + ph;
		st.start_time_ticks = 987654321;
		st.exit_code = -9;
		st.restarts = 3;
		st.created_ms = 1700000000000ull;
		st.started_ms = 1700000000500ull;
		st.finished_ms = ph == WL_EXITED ? 1700000009000ull : 0;
		if (ph == WL_OFFLOADED) {
			fill_id(&st.placed_on, 9);
		}
		assert_int_equal(
		    wire_workload_status_encode(&st, buf, sizeof(buf), &n), 0);
		memset(&ds, 0x11, sizeof(ds));
		assert_int_equal(wire_workload_status_decode(buf, n, &ds), 0);
		assert_memory_equal(&st, &ds, sizeof(st));
	}
}

/* ---- offload ------------------------------------------------------------ */

static void test_offload_roundtrip(void **state)
{
	struct offload_offer o, od;
	struct offload_reply rp, rd;
	struct offload_result rs, rsd;
	struct rng r;
	size_t n;

	(void)state;
	rng_seed(&r, 11);
	memset(&o, 0, sizeof(o));
	make_spec(&o.spec, &r, 1);
	o.offer_id = 0x1122334455667788ull;
	o.reply_timeout_ms = 500;
	o.queued_ms = 17;
	assert_int_equal(wire_offload_offer_encode(&o, buf, sizeof(buf), &n),
			 0);
	memset(&od, 0, sizeof(od));
	assert_int_equal(wire_offload_offer_decode(buf, n, &od), 0);
	assert_memory_equal(&o, &od, sizeof(o));
	/* an offer without a spec is malformed */
	{
		const uint8_t no_spec[] = {0x08, 0x01};

		assert_int_equal(
		    wire_offload_offer_decode(no_spec, sizeof(no_spec), &od),
		    -EBADMSG);
	}

	for (int acc = 0; acc < 2; acc++) {
		memset(&rp, 0, sizeof(rp));
		rp.offer_id = 99;
		snprintf(rp.workload_id, sizeof(rp.workload_id), "wl-1");
		rp.accepted = acc;
		rp.decline =
		    acc ? OFFLOAD_DECLINE_NONE : OFFLOAD_DECLINE_LOCALITY;
		rp.reserve_ms = acc ? 30000 : 0;
		rp.generation = acc ? 41 : 0;
		assert_int_equal(
		    wire_offload_reply_encode(&rp, buf, sizeof(buf), &n), 0);
		memset(&rd, 0x33, sizeof(rd));
		assert_int_equal(wire_offload_reply_decode(buf, n, &rd), 0);
		assert_memory_equal(&rp, &rd, sizeof(rp));
	}
	rp.accepted = true; /* accepted with a decline reason */
	rp.decline = OFFLOAD_DECLINE_CAPACITY;
	assert_int_equal(wire_offload_reply_encode(&rp, buf, sizeof(buf), &n),
			 -EINVAL);

	memset(&rs, 0, sizeof(rs));
	rs.offer_id = 99;
	snprintf(rs.workload_id, sizeof(rs.workload_id), "wl-1");
	rs.outcome = OFFLOAD_FAILED;
	rs.deadline_met = false;
	rs.latency_ms = 123.5;
	rs.energy_j = 4.25;
	rs.exit_code = -11;
	snprintf(rs.reason, sizeof(rs.reason), "killed by SIGSEGV");
	assert_int_equal(wire_offload_result_encode(&rs, buf, sizeof(buf), &n),
			 0);
	memset(&rsd, 0x44, sizeof(rsd));
	assert_int_equal(wire_offload_result_decode(buf, n, &rsd), 0);
	assert_memory_equal(&rs, &rsd, sizeof(rs));
	rs.latency_ms = NAN;
	assert_int_equal(wire_offload_result_encode(&rs, buf, sizeof(buf), &n),
			 -EINVAL);
}

/* ---- Q-shares ---------------------------------------------------------- */

static void make_shares(struct sched_share *e, size_t n, struct rng *r)
{
	for (size_t i = 0; i < n; i++) {
		e[i].state = rng_below(r, 100000);
		e[i].action = rng_below(r, 12);
		e[i].q = (rng_unit(r) - 0.5) * 20;
		e[i].visits = 1 + rng_below(r, 100000);
	}
	if (n > 0) {
		e[0].state = 0; /* zero fields are omitted on the wire */
		e[0].action = 0;
		e[0].q = 0.0;
	}
}

static void test_qshare_budget(void **state)
{
	static struct sched_share e[500], d[500];
	struct rng r;
	uint32_t fp;
	uint64_t round;
	size_t n, fit, got;
	const size_t budget = WIRE_BODY_MAX;

	(void)state;
	rng_seed(&r, 5);
	make_shares(e, 500, &r);
	/* everything fits in a big buffer */
	assert_int_equal(wire_qshare_encode(0xabcdef, 77, e, 500, buf,
					    sizeof(buf), &n, &fit),
			 0);
	assert_int_equal(fit, 500);
	assert_int_equal(wire_qshare_decode(buf, n, &fp, &round, d, 500, &got),
			 0);
	assert_int_equal(fp, 0xabcdef);
	assert_int_equal(round, 77);
	assert_int_equal(got, 500);
	assert_memory_equal(e, d, sizeof(e));
	/* protobuf-c reads the same */
	{
		Farnode__V1__QShare *pb =
		    farnode__v1__qshare__unpack(NULL, n, buf);

		assert_non_null(pb);
		assert_int_equal(pb->n_entries, 500);
		assert_true(pb->entries[7]->q == e[7].q);
		assert_int_equal(pb->entries[7]->visits, e[7].visits);
		farnode__v1__qshare__free_unpacked(pb, NULL);
	}
	/* one datagram's budget: a prefix fits, never more than the budget */
	size_t off = 0, datagrams = 0;

	while (off < 500) {
		assert_int_equal(wire_qshare_encode(0xabcdef, 78, e + off,
						    500 - off, buf, budget, &n,
						    &fit),
				 0);
		assert_true(n <= budget);
		assert_true(fit > 0);
		assert_int_equal(
		    wire_qshare_decode(buf, n, &fp, &round, d, 500, &got), 0);
		assert_int_equal(got, fit);
		assert_memory_equal(d, e + off, fit * sizeof(e[0]));
		/* one more entry would not have fitted */
		if (off + fit < 500) {
			size_t n2, fit2;

			assert_int_equal(
			    wire_qshare_encode(0xabcdef, 78, e + off, fit + 1,
					       buf, sizeof(buf), &n2, &fit2),
			    0);
			assert_true(n2 > budget);
		}
		off += fit;
		datagrams++;
	}
	assert_true(datagrams > 1);
	/* header does not fit at all */
	assert_int_equal(
	    wire_qshare_encode(0xabcdef, 78, e, 1, buf, 2, &n, &fit), -ENOBUFS);
	/* decode bounds: more entries than the caller's array */
	assert_int_equal(
	    wire_qshare_encode(1, 1, e, 10, buf, sizeof(buf), &n, &fit), 0);
	assert_int_equal(wire_qshare_decode(buf, n, &fp, &round, d, 9, &got),
			 -EBADMSG);
	/* zero visits or NaN q on the wire are refused */
	e[3].visits = 0;
	assert_int_equal(
	    wire_qshare_encode(1, 1, e, 10, buf, sizeof(buf), &n, &fit), 0);
	assert_int_equal(wire_qshare_decode(buf, n, &fp, &round, d, 10, &got),
			 -EBADMSG);
	e[3].visits = 1;
	e[4].q = NAN;
	assert_int_equal(
	    wire_qshare_encode(1, 1, e, 10, buf, sizeof(buf), &n, &fit),
	    -EINVAL);
}

/* ---- policy, desired state, bundles -------------------------------------- */

static void make_policy(struct policy *p, size_t n_prior, struct rng *r)
{
	policy_init(p);
	p->version = 42;
	snprintf(p->partition, sizeof(p->partition), "factory-7");
	p->issued_ms = 1700000000000ull;
	p->expires_ms = 1800000000000ull;
	p->has_hyper = true;
	p->hyper =
	    (struct policy_hyper){0.1, 0.9, 0.2, 0.01, 0.999, 0.5, 3, 75.0};
	p->n_masks = 2;
	p->masks[0] = (struct policy_mask){QOS_GOLD, SCHED_FORBID_DEFER |
							 SCHED_FORBID_REJECT};
	p->masks[1] = (struct policy_mask){QOS_BESTEFFORT, SCHED_FORBID_LOCAL};
	p->has_reward = true;
	p->reward = (struct policy_reward){.met = 1,
					   .missed = -1,
					   .failed = -2,
					   .rejected = -0.5,
					   .deferred = -0.1,
					   .class_weight = {1, 2, 4},
					   .w_latency = {1, 0.2, 0.5},
					   .w_energy = {0.1, 1, 0.2},
					   .w_failure = {0.3, 0.3, 1},
					   .latency_ref_ms = 100,
					   .energy_ref_j = 10};
	if (n_prior > 0) {
		p->has_prior = true;
		p->prior_fingerprint = 0x5eed;
		p->prior_round = 3;
		p->n_prior = n_prior;
		p->prior = calloc(n_prior, sizeof(*p->prior));
		assert_non_null(p->prior);
		make_shares(p->prior, n_prior, r);
	}
}

static void assert_policy_equal(const struct policy *a, const struct policy *b)
{
	assert_true(a->version == b->version);
	assert_string_equal(a->partition, b->partition);
	assert_true(a->issued_ms == b->issued_ms);
	assert_true(a->expires_ms == b->expires_ms);
	assert_int_equal(a->has_hyper, b->has_hyper);
	assert_memory_equal(&a->hyper, &b->hyper, sizeof(a->hyper));
	assert_int_equal(a->n_masks, b->n_masks);
	assert_memory_equal(a->masks, b->masks,
			    a->n_masks * sizeof(a->masks[0]));
	assert_int_equal(a->has_reward, b->has_reward);
	assert_memory_equal(&a->reward, &b->reward, sizeof(a->reward));
	assert_int_equal(a->has_prior, b->has_prior);
	assert_int_equal(a->prior_fingerprint, b->prior_fingerprint);
	assert_true(a->prior_round == b->prior_round);
	assert_int_equal(a->n_prior, b->n_prior);
	if (a->n_prior > 0) {
		assert_memory_equal(a->prior, b->prior,
				    a->n_prior * sizeof(a->prior[0]));
	}
}

static void test_policy_roundtrip(void **state)
{
	struct policy p, d;
	struct rng r;
	size_t n, n2;

	(void)state;
	rng_seed(&r, 3);
	make_policy(&p, 1000, &r);
	assert_int_equal(wire_policy_encode(&p, buf, 10, &n), -ENOBUFS);
	assert_int_equal(wire_policy_encode(&p, buf, sizeof(buf), &n2), 0);
	assert_int_equal(n, n2);
	assert_int_equal(wire_policy_decode(buf, n2, &d), 0);
	assert_policy_equal(&p, &d);
	/* generated decoder agrees */
	{
		Farnode__V1__Policy *pb =
		    farnode__v1__policy__unpack(NULL, n2, buf);

		assert_non_null(pb);
		assert_true(pb->version == 42);
		assert_int_equal(pb->n_masks, 2);
		assert_int_equal(pb->masks[0]->qos,
				 FARNODE__V1__QOS_CLASS__QOS_CLASS_GOLD);
		assert_true(pb->masks[0]->forbid_defer);
		assert_non_null(pb->prior);
		assert_int_equal(pb->prior->n_entries, 1000);
		assert_true(pb->reward->class_weight[2] == 4);
		farnode__v1__policy__free_unpacked(pb, NULL);
	}
	/* apply onto scheduler params */
	{
		struct sched_params sp;

		sched_params_default(&sp);
		policy_apply(&d, &sp);
		assert_true(sp.alpha == 0.1);
		assert_int_equal(sp.neighbours_k, 3);
		assert_int_equal(sp.policy_forbid[QOS_GOLD],
				 SCHED_FORBID_DEFER | SCHED_FORBID_REJECT);
		assert_int_equal(sp.policy_forbid[QOS_BESTEFFORT],
				 SCHED_FORBID_LOCAL);
		assert_true(sp.class_weight[2] == 4);
		assert_true(sp.energy_ref_j == 10);
	}
	/* acceptance checks */
	{
		char why[128];

		assert_int_equal(policy_check(&d, "factory-7", 41,
					      1750000000000ull, why,
					      sizeof(why)),
				 0);
		assert_int_equal(policy_check(&d, "factory-7", 42,
					      1750000000000ull, why,
					      sizeof(why)),
				 -ESTALE);
		assert_int_equal(policy_check(&d, "factory-7", 1,
					      1800000000000ull, why,
					      sizeof(why)),
				 -ETIME);
		assert_int_equal(policy_check(&d, "factory-8", 1,
					      1750000000000ull, why,
					      sizeof(why)),
				 -EXDEV);
	}
	policy_fini(&d);
	/* a duplicate mask for one class; a reward with two class weights */
	p.masks[1].qos = QOS_GOLD;
	assert_int_equal(wire_policy_encode(&p, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_policy_decode(buf, n, &d), -EBADMSG);
	assert_null(d.prior);
	p.masks[1].qos = QOS_SILVER;
	{
		Farnode__V1__Policy m = FARNODE__V1__POLICY__INIT;
		Farnode__V1__RewardWeights rw =
		    FARNODE__V1__REWARD_WEIGHTS__INIT;
		double two[2] = {1, 2};

		m.version = 1;
		m.reward = &rw;
		rw.n_class_weight = 2;
		rw.class_weight = two;
		n = farnode__v1__policy__pack(&m, buf);
		assert_int_equal(wire_policy_decode(buf, n, &d), -EBADMSG);
	}
	/* truncations never decode into something with a dangling prior */
	assert_int_equal(wire_policy_encode(&p, buf, sizeof(buf), &n), 0);
	for (size_t cut = 1; cut < n; cut += 97) {
		int rc = wire_policy_decode(buf, cut, &d);

		if (rc == 0) {
			policy_fini(&d);
		} else {
			assert_int_equal(rc, -EBADMSG);
			assert_null(d.prior);
		}
	}
	policy_fini(&p);
}

static void test_desired_roundtrip(void **state)
{
	struct desired_state s, d;
	struct node_id other;
	struct rng r;
	char why[128];
	size_t n;

	(void)state;
	rng_seed(&r, 8);
	desired_state_init(&s);
	s.version = 5;
	snprintf(s.partition, sizeof(s.partition), "p1");
	fill_id(&s.node, 4);
	s.issued_ms = 1;
	s.expires_ms = 0;
	s.n_workloads = 20;
	s.workloads = calloc(20, sizeof(*s.workloads));
	assert_non_null(s.workloads);
	for (int i = 0; i < 20; i++) {
		make_spec(&s.workloads[i], &r, i);
	}
	assert_int_equal(wire_desired_encode(&s, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_desired_decode(buf, n, &d), 0);
	assert_true(d.version == 5);
	assert_string_equal(d.partition, "p1");
	assert_memory_equal(d.node.b, s.node.b, 16);
	assert_int_equal(d.n_workloads, 20);
	assert_memory_equal(d.workloads, s.workloads,
			    20 * sizeof(s.workloads[0]));
	assert_int_equal(
	    desired_state_check(&d, "p1", &s.node, 4, 99, why, sizeof(why)), 0);
	fill_id(&other, 5);
	assert_int_equal(
	    desired_state_check(&d, "p1", &other, 4, 99, why, sizeof(why)),
	    -EXDEV);
	desired_state_fini(&d);
	/* empty desired set is valid (remove everything) */
	s.n_workloads = 0;
	assert_int_equal(wire_desired_encode(&s, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_desired_decode(buf, n, &d), 0);
	assert_int_equal(d.n_workloads, 0);
	assert_null(d.workloads);
	desired_state_fini(&d);
	/* a desired state without a node id is malformed */
	{
		const uint8_t no_node[] = {0x08, 0x05};

		assert_int_equal(
		    wire_desired_decode(no_node, sizeof(no_node), &d),
		    -EBADMSG);
	}
	desired_state_fini(&s);
}

static char tmpdir[64];

static void test_bundles(void **state)
{
	struct crypto_signer *hub, *rogue;
	struct crypto_pins pins;
	char path[160];
	struct wire_bundle b;
	const uint8_t *payload;
	size_t plen, n, rn;
	int err = 0;
	const char *msg = "a serialised policy";
	static uint8_t rbuf[4096];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/farnode-wire.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/hub", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(crypto_keygen_signing(path, NULL), 0);
	snprintf(path, sizeof(path), "%s/rogue", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(crypto_keygen_signing(path, NULL), 0);
	snprintf(path, sizeof(path), "%s/hub/signing.key", tmpdir);
	hub = crypto_signer_load(path, &err);
	snprintf(path, sizeof(path), "%s/rogue/signing.key", tmpdir);
	rogue = crypto_signer_load(path, &err);
	assert_non_null(hub);
	assert_non_null(rogue);
	crypto_pins_init(&pins);
	snprintf(path, sizeof(path), "%s/hub/signing.pub", tmpdir);
	assert_int_equal(crypto_pins_add_file(&pins, path, NULL), 0);

	assert_int_equal(wire_bundle_sign(hub, BUNDLE_POLICY,
					  (const uint8_t *)msg, strlen(msg),
					  buf, sizeof(buf), &n),
			 0);
	assert_int_equal(wire_bundle_decode(buf, n, &b), 0);
	assert_string_equal(b.key_id, crypto_signer_key_id(hub));
	assert_int_equal(b.kind, BUNDLE_POLICY);
	assert_int_equal(b.payload_len, strlen(msg));
	assert_int_equal(
	    wire_bundle_open(&pins, buf, n, BUNDLE_POLICY, &payload, &plen), 0);
	assert_int_equal(plen, strlen(msg));
	assert_memory_equal(payload, msg, plen);
	/* the generated decoder reads it too */
	{
		Farnode__V1__SignedBundle *pb =
		    farnode__v1__signed_bundle__unpack(NULL, n, buf);

		assert_non_null(pb);
		assert_int_equal(pb->kind,
				 FARNODE__V1__BUNDLE_KIND__BUNDLE_KIND_POLICY);
		assert_int_equal(pb->payload.len, strlen(msg));
		farnode__v1__signed_bundle__free_unpacked(pb, NULL);
	}
	/* wrong kind wanted */
	assert_int_equal(
	    wire_bundle_open(&pins, buf, n, BUNDLE_DESIRED, &payload, &plen),
	    -ENOMSG);
	/* tampered payload byte */
	memcpy(rbuf, buf, n);
	rbuf[b.payload - buf] ^= 0x20;
	assert_int_equal(
	    wire_bundle_open(&pins, rbuf, n, BUNDLE_POLICY, &payload, &plen),
	    -EKEYREJECTED);
	/* re-labelled as the other kind with the same signature */
	memcpy(rbuf, buf, n);
	assert_int_equal(rbuf[n - 1], BUNDLE_POLICY);
	rbuf[n - 1] = BUNDLE_DESIRED;
	assert_int_equal(
	    wire_bundle_open(&pins, rbuf, n, BUNDLE_DESIRED, &payload, &plen),
	    -EKEYREJECTED);
	/* signed by an unpinned key */
	assert_int_equal(wire_bundle_sign(rogue, BUNDLE_POLICY,
					  (const uint8_t *)msg, strlen(msg),
					  rbuf, sizeof(rbuf), &rn),
			 0);
	assert_int_equal(
	    wire_bundle_open(&pins, rbuf, rn, BUNDLE_POLICY, &payload, &plen),
	    -ENOKEY);
	/* rogue signature under the hub's key id */
	{
		struct wire_bundle rb;

		assert_int_equal(wire_bundle_decode(rbuf, rn, &rb), 0);
		memcpy(rb.key_id, crypto_signer_key_id(hub), sizeof(rb.key_id));
		assert_int_equal(wire_bundle_encode(&rb, buf + 8192, 4096, &rn),
				 0);
		assert_int_equal(wire_bundle_open(&pins, buf + 8192, rn,
						  BUNDLE_POLICY, &payload,
						  &plen),
				 -EKEYREJECTED);
	}
	/* malformed: truncations, missing signature, unknown kind */
	for (size_t cut = 0; cut < n; cut++) {
		int rc = wire_bundle_decode(buf, cut, &b);

		assert_true(rc == -EBADMSG || rc == -ENOMSG);
	}
	{
		const uint8_t kind9[] = {0x0a, 0x10, '0',  '1',	 '2', '3',
					 '4',  '5',  '6',  '7',	 '8', '9',
					 'a',  'b',  'c',  'd',	 'e', 'f',
					 0x1a, 0x01, 0x30, 0x20, 0x09};

		assert_int_equal(wire_bundle_decode(kind9, sizeof(kind9), &b),
				 -ENOMSG);
	}
	crypto_signer_free(hub);
	crypto_signer_free(rogue);
	crypto_pins_fini(&pins);
	snprintf(path, sizeof(path), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(path), 0);
}

/* ---- uplink ------------------------------------------------------------- */

static void test_uplink_roundtrip(void **state)
{
	static const uint8_t payload[] = "event payload bytes";
	struct uplink_event e = {.event_id = 123456789,
				 .time_ms = 1700000000123ull,
				 .kind = EVENT_DECISION,
				 .priority = 5,
				 .historical = true,
				 .payload = payload,
				 .payload_len = sizeof(payload)};
	struct uplink_event d;
	struct uplink_birth b, bd;
	size_t n;

	(void)state;
	fill_id(&e.node, 77);
	assert_int_equal(wire_uplink_event_encode(&e, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_uplink_event_decode(buf, n, &d), 0);
	assert_true(d.event_id == e.event_id);
	assert_memory_equal(d.node.b, e.node.b, 16);
	assert_true(d.time_ms == e.time_ms);
	assert_int_equal(d.kind, EVENT_DECISION);
	assert_int_equal(d.priority, 5);
	assert_true(d.historical);
	assert_int_equal(d.payload_len, sizeof(payload));
	assert_memory_equal(d.payload, payload, sizeof(payload));
	e.priority = 8;
	assert_int_equal(wire_uplink_event_encode(&e, buf, sizeof(buf), &n),
			 -EINVAL);
	e.priority = 1;
	e.kind = 9;
	assert_int_equal(wire_uplink_event_encode(&e, buf, sizeof(buf), &n),
			 -EINVAL);

	memset(&b, 0, sizeof(b));
	fill_id(&b.node, 1);
	b.generation = 17;
	b.online = true;
	snprintf(b.version, sizeof(b.version), "0.1.0");
	b.policy_version = 4;
	b.desired_version = 9;
	b.time_ms = 1700000000000ull;
	assert_int_equal(wire_birth_encode(&b, buf, sizeof(buf), &n), 0);
	memset(&bd, 0x22, sizeof(bd));
	assert_int_equal(wire_birth_decode(buf, n, &bd), 0);
	assert_memory_equal(&b, &bd, sizeof(b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_envelope_roundtrip_all_types),
	    cmocka_unit_test(test_envelope_rejections),
	    cmocka_unit_test(test_stream_envelope),
	    cmocka_unit_test(test_node_state_roundtrip),
	    cmocka_unit_test(test_link_state_roundtrip),
	    cmocka_unit_test(test_workload_roundtrip),
	    cmocka_unit_test(test_offload_roundtrip),
	    cmocka_unit_test(test_qshare_budget),
	    cmocka_unit_test(test_policy_roundtrip),
	    cmocka_unit_test(test_desired_roundtrip),
	    cmocka_unit_test(test_bundles),
	    cmocka_unit_test(test_uplink_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
