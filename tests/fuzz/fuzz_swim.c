// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz target for the SWIM body decoders (agent/wire_swim.c) and the core's
 * receive path. The first input byte picks the body type (1-6, 5 is
 * push-pull); the rest is the body. Every update that decodes must
 * re-encode and decode to the same values. Then the input, wrapped in an
 * envelope, goes through swim_recv() / swim_pushpull_import() of a live
 * core, which must never crash and must count what it drops.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim.h"
#include "wire_swim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_swim: %s:%d: %s\n", __FILE__,    \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static void check_rc(int rc)
{
	CHECK(rc == 0 || rc == -EBADMSG || rc == -E2BIG ||
	      rc == -EPROTONOSUPPORT);
}

static bool state_equal(const struct node_state *a, const struct node_state *b)
{
	if (a->version != b->version || a->cpu_free != b->cpu_free ||
	    a->cpu_cores != b->cpu_cores ||
	    a->cpu_milli_free != b->cpu_milli_free ||
	    a->mem_free_bytes != b->mem_free_bytes ||
	    a->mem_total_bytes != b->mem_total_bytes ||
	    a->energy_watts != b->energy_watts ||
	    a->failure_rate != b->failure_rate ||
	    a->temperature_c != b->temperature_c ||
	    a->workloads_running != b->workloads_running ||
	    a->uplink_connected != b->uplink_connected ||
	    a->policy_version != b->policy_version ||
	    a->n_labels != b->n_labels) {
		return false;
	}
	for (uint32_t i = 0; i < a->n_labels; i++) {
		if (strcmp(a->labels[i].key, b->labels[i].key) != 0 ||
		    strcmp(a->labels[i].value, b->labels[i].value) != 0) {
			return false;
		}
	}
	return true;
}

static void roundtrip(const struct swim_update *u)
{
	static uint8_t buf[SWIM_UPDATE_ENC_MAX];
	static struct swim_update v;
	size_t len;
	int rc = wire_swim_update_encode(u, buf, sizeof(buf), &len);
	CHECK(rc == 0);
	/* wrap as a one-update gossip body and decode again */
	struct swim_msg_head g = {.type = SWIM_MSG_GOSSIP};
	struct wire_swim_item it = {.buf = buf, .len = len};
	static uint8_t body[SWIM_PLAINTEXT_MAX];
	size_t blen, fit;
	CHECK(wire_swim_pack(&g, &it, 1, body, sizeof(body), &blen, &fit) == 0);
	CHECK(fit == 1);
	struct swim_msg m;
	CHECK(wire_swim_msg_decode(SWIM_MSG_GOSSIP, body, blen, &m) == 0);
	CHECK(m.n_updates == 1);
	CHECK(wire_swim_msg_update(&m, 0, &v) == 0);
	wire_swim_msg_fini(&m);
	CHECK(v.kind == u->kind && node_id_equal(&v.id, &u->id) &&
	      v.incarnation == u->incarnation && v.has_addr == u->has_addr &&
	      v.has_from == u->has_from && v.has_state == u->has_state &&
	      strcmp(v.name, u->name) == 0);
	CHECK(!u->has_addr || swim_addr_equal(&v.addr, &u->addr));
	CHECK(!u->has_from || node_id_equal(&v.from, &u->from));
	CHECK(!u->has_state || state_equal(&v.state, &u->state));
}

static void send_none(void *ud, const struct swim_addr *to, const uint8_t *buf,
		      size_t len)
{
	(void)ud;
	(void)to;
	(void)buf;
	CHECK(len <= SWIM_PLAINTEXT_MAX);
}

static struct swim *core(void)
{
	static struct swim *s;
	if (s == NULL) {
		struct swim_config cfg;
		struct node_id self;
		struct swim_addr a = {
		    .family = 4, .ip = {10, 0, 0, 1}, .port = 7946};
		struct swim_callbacks cbs = {.send = send_none};
		swim_config_lan(&cfg);
		memset(self.b, 0xaa, sizeof(self.b));
		s = swim_new(&cfg, &self, &a, "fuzz", 1, 1, &cbs, 0);
		CHECK(s != NULL);
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct swim_update u;
	static uint64_t now = 1000;
	if (size < 1) {
		return 0;
	}
	uint32_t type = data[0] % 7;
	const uint8_t *body = data + 1;
	size_t len = size - 1;

	if (type == SWIM_MSG_PUSH_PULL) {
		struct swim_pp pp;
		int rc = wire_swim_pp_decode(body, len, 1024, &pp);
		check_rc(rc);
		if (rc == 0) {
			for (size_t i = 0; i < pp.n_members; i++) {
				if (wire_swim_pp_member(&pp, i, &u) == 0) {
					roundtrip(&u);
				}
			}
			wire_swim_pp_fini_decoded(&pp);
		}
		swim_pushpull_import(core(), body, len, now, NULL);
	} else {
		struct swim_msg m;
		int rc = wire_swim_msg_decode(type, body, len, &m);
		check_rc(rc);
		if (rc == 0) {
			CHECK(m.n_updates <= SWIM_UPDATES_MAX);
			for (size_t i = 0; i < m.n_updates; i++) {
				if (wire_swim_msg_update(&m, i, &u) == 0) {
					roundtrip(&u);
				}
			}
			wire_swim_msg_fini(&m);
		}
		/* through the core, from a peer at a fixed address */
		static uint8_t pkt[SWIM_PLAINTEXT_MAX + 64];
		size_t plen;
		struct swim_envelope env = {
		    .version = SWIM_WIRE_VERSION,
		    .incarnation = 1,
		    .type = type ? type : SWIM_MSG_GOSSIP,
		    .body = body,
		    .body_len = len,
		};
		memset(env.sender.b, 0x11, sizeof(env.sender.b));
		struct swim_addr from = {
		    .family = 4, .ip = {10, 0, 0, 2}, .port = 7946};
		if (wire_swim_envelope_encode(&env, pkt, sizeof(pkt), &plen) ==
		    0) {
			swim_recv(core(), &from, pkt, plen, now);
		}
		/* and raw, as a whole datagram */
		swim_recv(core(), &from, data, size, now);
	}
	now += 50;
	swim_tick(core(), now);
	return 0;
}
