// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the SWIM core's state machine: one core under test, its
 * peers played by the test, which builds their datagrams with wire_swim and
 * reads what the core sends.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swim.h"
#include "wire_swim.h"

#define NPEERS	8
#define OUT_MAX 4096

struct out {
	struct swim_addr to;
	size_t len;
	uint8_t buf[SWIM_PLAINTEXT_MAX];
};

struct ev {
	enum swim_event ev;
	struct node_id id;
};

struct h {
	struct swim *s;
	struct swim_config cfg;
	uint64_t now;
	struct node_id self;
	struct swim_addr self_addr;
	struct node_id peer[NPEERS];
	struct swim_addr paddr[NPEERS];
	uint64_t pinc[NPEERS];
	struct out *out;
	size_t n_out;
	struct ev evs[1024];
	size_t n_ev;
	bool auto_ack; /* peers answer every ping at once */
};

static struct h H;

static void mk_addr(struct swim_addr *a, uint8_t last)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	a->ip[0] = 10;
	a->ip[3] = last;
	a->port = 7946;
}

static int peer_of(const struct swim_addr *a)
{
	for (int i = 0; i < NPEERS; i++) {
		if (swim_addr_equal(a, &H.paddr[i])) {
			return i;
		}
	}
	return -1;
}

static void send_from(int p, const struct swim_addr *from,
		      const struct swim_msg_head *hd,
		      const struct swim_update *ups, size_t n);

static void cb_send(void *ud, const struct swim_addr *to, const uint8_t *buf,
		    size_t len)
{
	(void)ud;
	assert_true(len <= SWIM_PLAINTEXT_MAX);
	if (H.n_out < OUT_MAX) {
		struct out *o = &H.out[H.n_out++];
		o->to = *to;
		o->len = len;
		memcpy(o->buf, buf, len);
	}
	if (!H.auto_ack) {
		return;
	}
	struct swim_envelope env;
	struct swim_msg m;
	assert_int_equal(wire_swim_envelope_decode(buf, len, &env), 0);
	if (env.type != SWIM_MSG_PING) {
		return;
	}
	assert_int_equal(
	    wire_swim_msg_decode(env.type, env.body, env.body_len, &m), 0);
	int p = peer_of(to);
	struct swim_msg_head ack = {.type = SWIM_MSG_ACK, .seq = m.head.seq};
	wire_swim_msg_fini(&m);
	if (p >= 0) {
		H.auto_ack = false; /* no recursion into nested sends */
		send_from(p, &H.paddr[p], &ack, NULL, 0);
		H.auto_ack = true;
	}
}

static void cb_event(void *ud, enum swim_event ev,
		     const struct swim_member_info *m)
{
	(void)ud;
	if (H.n_ev < 1024) {
		H.evs[H.n_ev].ev = ev;
		H.evs[H.n_ev].id = m->id;
		H.n_ev++;
	}
}

static int pp_count;
static void cb_pp(void *ud, const struct swim_addr *to)
{
	(void)ud;
	(void)to;
	pp_count++;
}

/* Datagram from peer p (claiming its id), sent from address `from`. */
static void send_from(int p, const struct swim_addr *from,
		      const struct swim_msg_head *hd,
		      const struct swim_update *ups, size_t n)
{
	uint8_t enc[64][SWIM_UPDATE_ENC_MAX];
	struct wire_swim_item items[64];
	uint8_t body[SWIM_PLAINTEXT_MAX], pkt[SWIM_PLAINTEXT_MAX];
	size_t body_len, fitted, len;
	assert_true(n <= 64);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(wire_swim_update_encode(&ups[i], enc[i],
							 sizeof(enc[i]),
							 &items[i].len),
				 0);
		items[i].buf = enc[i];
	}
	assert_int_equal(
	    wire_swim_pack(hd, items, n, body, 1300, &body_len, &fitted), 0);
	assert_int_equal(fitted, n);
	struct swim_envelope env = {
	    .version = SWIM_WIRE_VERSION,
	    .sender = H.peer[p],
	    .incarnation = H.pinc[p],
	    .type = hd->type,
	    .body = body,
	    .body_len = body_len,
	};
	assert_int_equal(
	    wire_swim_envelope_encode(&env, pkt, sizeof(pkt), &len), 0);
	swim_recv(H.s, from, pkt, len, H.now);
}

static struct swim_update alive_of(int p)
{
	struct swim_update u;
	memset(&u, 0, sizeof(u));
	u.kind = SWIM_UPD_ALIVE;
	u.id = H.peer[p];
	u.incarnation = H.pinc[p];
	u.has_addr = true;
	u.addr = H.paddr[p];
	snprintf(u.name, sizeof(u.name), "peer-%d", p);
	return u;
}

static struct swim_update claim(enum swim_update_kind k,
				const struct node_id *id, uint64_t inc,
				const struct node_id *from)
{
	struct swim_update u;
	memset(&u, 0, sizeof(u));
	u.kind = k;
	u.id = *id;
	u.incarnation = inc;
	if (from != NULL) {
		u.has_from = true;
		u.from = *from;
	}
	return u;
}

static void gossip_from(int p, const struct swim_update *ups, size_t n)
{
	struct swim_msg_head g = {.type = SWIM_MSG_GOSSIP};
	send_from(p, &H.paddr[p], &g, ups, n);
}

static void run_to(uint64_t t)
{
	while (H.now < t) {
		uint64_t d = swim_next_deadline(H.s);
		H.now = d > H.now && d < t ? d : (d <= H.now ? H.now + 1 : t);
		swim_tick(H.s, H.now);
	}
}

static int setup_n(void **state, int npeers)
{
	(void)state;
	free(H.out);
	memset(&H, 0, sizeof(H));
	H.out = calloc(OUT_MAX, sizeof(*H.out));
	swim_config_lan(&H.cfg);
	H.cfg.push_pull_interval_ms = 0;
	H.cfg.reconnect_interval_ms = 0;
	H.now = 1000;
	memset(H.self.b, 0xaa, NODE_ID_LEN);
	mk_addr(&H.self_addr, 100);
	for (int i = 0; i < NPEERS; i++) {
		memset(H.peer[i].b, 0x10 + i, NODE_ID_LEN);
		mk_addr(&H.paddr[i], (uint8_t)(i + 1));
		H.pinc[i] = 5;
	}
	return npeers;
}

static void start(int npeers)
{
	struct swim_callbacks cbs = {
	    .send = cb_send, .event = cb_event, .push_pull = cb_pp};
	H.s =
	    swim_new(&H.cfg, &H.self, &H.self_addr, "self", 1, 42, &cbs, H.now);
	assert_non_null(H.s);
	struct swim_update ups[NPEERS];
	for (int i = 0; i < npeers; i++) {
		ups[i] = alive_of(i);
	}
	gossip_from(0, ups, (size_t)npeers);
	assert_int_equal(swim_member_count(H.s), npeers);
}

static int teardown(void **state)
{
	(void)state;
	swim_free(H.s);
	H.s = NULL;
	free(H.out);
	H.out = NULL;
	return 0;
}

static int setup(void **state)
{
	setup_n(state, 0);
	return 0;
}

/* Find the first datagram of `type` sent at index >= from; -1 if none. */
static long find_out(size_t from, uint32_t type, struct swim_msg *m,
		     struct swim_envelope *env)
{
	for (size_t i = from; i < H.n_out; i++) {
		struct swim_envelope e;
		assert_int_equal(
		    wire_swim_envelope_decode(H.out[i].buf, H.out[i].len, &e),
		    0);
		if (e.type != type) {
			continue;
		}
		if (env != NULL) {
			*env = e;
		}
		if (m != NULL) {
			assert_int_equal(
			    wire_swim_msg_decode(e.type, e.body, e.body_len, m),
			    0);
		}
		return (long)i;
	}
	return -1;
}

static enum swim_status status_of(int p)
{
	struct swim_member_info mi;
	assert_int_equal(swim_member_find(H.s, &H.peer[p], &mi), 0);
	return mi.status;
}

static size_t count_ev(enum swim_event ev, const struct node_id *id)
{
	size_t n = 0;
	for (size_t i = 0; i < H.n_ev; i++) {
		n += H.evs[i].ev == ev && node_id_equal(&H.evs[i].id, id);
	}
	return n;
}

/* ---- tests ---- */

static void test_join_events_and_config(void **state)
{
	(void)state;
	struct swim_config wan;
	swim_config_wan(&wan);
	assert_int_equal(H.cfg.probe_interval_ms, 1000);
	assert_int_equal(H.cfg.probe_timeout_ms, 500);
	assert_int_equal(H.cfg.gossip_nodes, 3);
	assert_int_equal(H.cfg.gossip_interval_ms, 200);
	assert_int_equal(wan.probe_interval_ms, 5000);
	assert_int_equal(wan.probe_timeout_ms, 3000);
	assert_int_equal(wan.suspicion_mult, 6);
	start(3);
	assert_int_equal(count_ev(SWIM_EV_JOIN, &H.peer[1]), 1);
	assert_int_equal(swim_live_count(H.s), 4);
	struct swim_member_info mi;
	assert_int_equal(swim_member_find(H.s, &H.peer[2], &mi), 0);
	assert_string_equal(mi.name, "peer-2");
	assert_true(swim_addr_equal(&mi.addr, &H.paddr[2]));
}

static void test_probe_ack_measures_rtt(void **state)
{
	(void)state;
	start(1);
	H.n_out = 0;
	struct swim_msg m;
	long i = -1;
	/* the first probe fires within one interval; stop right there */
	for (int k = 0; k < 1100 && i < 0; k++) {
		run_to(H.now + 1);
		i = find_out(0, SWIM_MSG_PING, &m, NULL);
	}
	assert_true(i >= 0);
	assert_true(m.head.has_target);
	assert_true(node_id_equal(&m.head.target_id, &H.peer[0]));
	struct swim_msg_head ack = {.type = SWIM_MSG_ACK, .seq = m.head.seq};
	wire_swim_msg_fini(&m);
	H.now += 7;
	send_from(0, &H.paddr[0], &ack, NULL, 0);
	run_to(H.now + 600);
	assert_int_equal(find_out(0, SWIM_MSG_PING_REQ, NULL, NULL), -1);
	assert_int_equal(status_of(0), SWIM_ALIVE);
	assert_int_equal(swim_get_stats(H.s)->probe_failures, 0);
	struct swim_member_info mi;
	swim_member_find(H.s, &H.peer[0], &mi);
	assert_true(mi.link.rtt_ms >= 7 && mi.link.rtt_ms < 20);
	/* a second ack for the same seq matches nothing */
	send_from(0, &H.paddr[0], &ack, NULL, 0);
	assert_int_equal(swim_get_stats(H.s)->drop_unknown_ack, 1);
}

/* Drive until the core pings peer `p`; returns the ping's seq. */
static uint32_t await_ping_to(int p, size_t *at)
{
	for (int k = 0; k < 20; k++) {
		size_t from = H.n_out;
		run_to(H.now + 1000);
		for (size_t i = from; i < H.n_out; i++) {
			struct swim_msg m;
			long j = find_out(i, SWIM_MSG_PING, &m, NULL);
			if (j < 0) {
				break;
			}
			i = (size_t)j;
			bool hit = node_id_equal(&m.head.target_id, &H.peer[p]);
			uint32_t seq = m.head.seq;
			wire_swim_msg_fini(&m);
			if (hit) {
				*at = i;
				return seq;
			}
		}
	}
	fail_msg("no ping to peer %d", p);
	return 0;
}

static void test_indirect_probe_via_helpers(void **state)
{
	(void)state;
	start(5);
	size_t at = 0;
	/* every probe of others is answered; peer 0 stays silent */
	uint32_t seq = 0;
	for (;;) {
		H.auto_ack = false;
		size_t from = H.n_out;
		run_to(H.now + 1000);
		struct swim_msg m;
		long j = find_out(from, SWIM_MSG_PING, &m, NULL);
		assert_true(j >= 0);
		int p = peer_of(&H.out[j].to);
		struct swim_msg_head ack = {.type = SWIM_MSG_ACK,
					    .seq = m.head.seq};
		wire_swim_msg_fini(&m);
		if (p == 0) {
			seq = ack.seq;
			at = (size_t)j;
			break;
		}
		send_from(p, &H.paddr[p], &ack, NULL, 0);
	}
	run_to(H.now + 600);
	/* k = 3 ping-reqs for peer 0, to three different helpers */
	int helpers = 0;
	int helper = -1;
	for (size_t i = at; i < H.n_out; i++) {
		struct swim_msg m;
		long j = find_out(i, SWIM_MSG_PING_REQ, &m, NULL);
		if (j < 0) {
			break;
		}
		i = (size_t)j;
		assert_true(node_id_equal(&m.head.target_id, &H.peer[0]));
		assert_true(swim_addr_equal(&m.head.target_addr, &H.paddr[0]));
		assert_int_equal(m.head.seq, seq);
		assert_true(m.head.want_nack);
		helper = peer_of(&H.out[j].to);
		assert_true(helper > 0);
		helpers++;
		wire_swim_msg_fini(&m);
	}
	assert_int_equal(helpers, 3);
	/* the helper relays the target's ack under the origin's seq */
	struct swim_msg_head ack = {.type = SWIM_MSG_ACK, .seq = seq};
	send_from(helper, &H.paddr[helper], &ack, NULL, 0);
	H.auto_ack = true;
	run_to(H.now + 2000);
	assert_int_equal(status_of(0), SWIM_ALIVE);
	assert_int_equal(swim_get_stats(H.s)->indirect_probes, 1);
	assert_int_equal(swim_get_stats(H.s)->probe_failures, 0);
}

static void probe_fail_peer0(int nacks_sent, uint32_t *score)
{
	start(5);
	size_t at = 0;
	H.auto_ack = true;
	/* answer others until the core probes peer 0 */
	for (;;) {
		H.auto_ack = false;
		size_t from = H.n_out;
		run_to(H.now + 1000);
		struct swim_msg m;
		long j = find_out(from, SWIM_MSG_PING, &m, NULL);
		assert_true(j >= 0);
		int p = peer_of(&H.out[j].to);
		struct swim_msg_head ack = {.type = SWIM_MSG_ACK,
					    .seq = m.head.seq};
		wire_swim_msg_fini(&m);
		if (p == 0) {
			at = (size_t)j;
			(void)at;
			run_to(H.now + 600);
			for (int k = 0; k < nacks_sent; k++) {
				struct swim_msg_head nack = {
				    .type = SWIM_MSG_NACK, .seq = ack.seq};
				send_from(1 + k, &H.paddr[1 + k], &nack, NULL,
					  0);
			}
			break;
		}
		send_from(p, &H.paddr[p], &ack, NULL, 0);
	}
	run_to(H.now + 500);
	*score = swim_health_score(H.s);
}

static void test_failed_probe_suspects_and_lhm(void **state)
{
	uint32_t score;
	(void)state;
	/* helpers answered with nacks: the target is the problem, not us */
	probe_fail_peer0(3, &score);
	assert_int_equal(status_of(0), SWIM_SUSPECT);
	assert_int_equal(count_ev(SWIM_EV_SUSPECT, &H.peer[0]), 1);
	assert_int_equal(swim_get_stats(H.s)->probe_failures, 1);
	assert_int_equal(score, 0);
	teardown(NULL);
	setup(NULL);
	/* no nacks: we missed 3 expected nacks, so our own health drops */
	probe_fail_peer0(0, &score);
	assert_int_equal(status_of(0), SWIM_SUSPECT);
	assert_int_equal(score, 3);
}

static void test_buddy_ping_carries_suspicion(void **state)
{
	(void)state;
	start(5);
	H.auto_ack = true;
	struct swim_update s =
	    claim(SWIM_UPD_SUSPECT, &H.peer[0], H.pinc[0], &H.peer[1]);
	gossip_from(1, &s, 1);
	assert_int_equal(status_of(0), SWIM_SUSPECT);
	size_t at = 0;
	await_ping_to(0, &at);
	struct swim_msg m;
	assert_int_equal(find_out(at, SWIM_MSG_PING, &m, NULL), (long)at);
	assert_true(m.n_updates >= 1);
	struct swim_update u;
	assert_int_equal(wire_swim_msg_update(&m, 0, &u), 0);
	assert_int_equal(u.kind, SWIM_UPD_SUSPECT);
	assert_true(node_id_equal(&u.id, &H.peer[0]));
	wire_swim_msg_fini(&m);
}

/* Suspicion of peer 0 (started by peer 1 at t0); returns death time. */
static uint64_t time_to_dead(int confirmations)
{
	start(6); /* cluster of 7: min = 4 s, max = 24 s, k = 2 */
	H.auto_ack = true;
	uint64_t t0 = H.now;
	struct swim_update s =
	    claim(SWIM_UPD_SUSPECT, &H.peer[0], H.pinc[0], &H.peer[1]);
	gossip_from(1, &s, 1);
	H.now += 500;
	for (int c = 0; c < confirmations; c++) {
		s.from = H.peer[2 + c];
		gossip_from(2 + c, &s, 1);
	}
	/* repeats from the same author are not independent */
	s.from = H.peer[1];
	gossip_from(1, &s, 1);
	while (status_of(0) == SWIM_SUSPECT && H.now < t0 + 60000) {
		run_to(H.now + 100);
	}
	assert_int_equal(status_of(0), SWIM_DEAD);
	return H.now - t0;
}

static void test_suspicion_shrinks_with_confirmations(void **state)
{
	(void)state;
	uint64_t t_none = time_to_dead(0);
	assert_true(t_none >= 24000 && t_none <= 24200);
	assert_int_equal(swim_get_stats(H.s)->confirmations, 0);
	assert_int_equal(count_ev(SWIM_EV_DEAD, &H.peer[0]), 1);
	teardown(NULL);
	setup(NULL);
	uint64_t t_one = time_to_dead(1);
	/* 24 - 20 * log(2)/log(3) = 11.38 s */
	assert_true(t_one >= 11300 && t_one <= 11500);
	teardown(NULL);
	setup(NULL);
	uint64_t t_two = time_to_dead(2);
	assert_true(t_two >= 4000 && t_two <= 4200);
	assert_int_equal(swim_get_stats(H.s)->confirmations, 2);
}

static void test_refutation_bumps_incarnation(void **state)
{
	(void)state;
	start(3);
	struct swim_update s = claim(SWIM_UPD_SUSPECT, &H.self, 1, &H.peer[1]);
	size_t from = H.n_out;
	gossip_from(1, &s, 1);
	assert_int_equal(swim_incarnation(H.s), 2);
	assert_int_equal(swim_get_stats(H.s)->refutations, 1);
	/* dead about us at the new incarnation: refute again */
	s.kind = SWIM_UPD_DEAD;
	s.incarnation = 2;
	gossip_from(2, &s, 1);
	assert_int_equal(swim_incarnation(H.s), 3);
	/* our next datagrams carry alive(self, 3) */
	run_to(H.now + 400);
	bool seen = false;
	for (size_t i = from; i < H.n_out && !seen; i++) {
		struct swim_envelope e;
		struct swim_msg m;
		wire_swim_envelope_decode(H.out[i].buf, H.out[i].len, &e);
		if (wire_swim_msg_decode(e.type, e.body, e.body_len, &m) < 0) {
			continue;
		}
		for (size_t k = 0; k < m.n_updates; k++) {
			struct swim_update u;
			assert_int_equal(wire_swim_msg_update(&m, k, &u), 0);
			seen = seen || (u.kind == SWIM_UPD_ALIVE &&
					node_id_equal(&u.id, &H.self) &&
					u.incarnation == 3);
		}
		wire_swim_msg_fini(&m);
	}
	assert_true(seen);
}

static void test_stale_self_suspicion_ignored(void **state)
{
	(void)state;
	H.pinc[1] = 5;
	start(3);
	struct swim_update s = claim(SWIM_UPD_SUSPECT, &H.self, 1, &H.peer[1]);
	gossip_from(1, &s, 1); /* -> incarnation 2 */
	size_t from = H.n_out;
	gossip_from(2, &s, 1); /* same old claim again: stale now */
	assert_int_equal(swim_incarnation(H.s), 2);
	assert_int_equal(swim_get_stats(H.s)->drop_stale_self, 1);
	assert_int_equal(swim_get_stats(H.s)->refutations, 1);
	/* the stale sender is told the current fact directly */
	struct swim_msg m;
	long j = find_out(from, SWIM_MSG_GOSSIP, &m, NULL);
	assert_true(j >= 0);
	assert_true(swim_addr_equal(&H.out[j].to, &H.paddr[2]));
	struct swim_update u;
	assert_int_equal(wire_swim_msg_update(&m, 0, &u), 0);
	assert_int_equal(u.kind, SWIM_UPD_ALIVE);
	assert_int_equal(u.incarnation, 2);
	wire_swim_msg_fini(&m);
}

static void test_impersonation_ignored_and_counted(void **state)
{
	(void)state;
	start(3);
	struct swim_addr evil;
	mk_addr(&evil, 66);
	/* alive for peer 1 at another address, same incarnation */
	struct swim_update a = alive_of(1);
	a.addr = evil;
	gossip_from(2, &a, 1);
	assert_int_equal(swim_get_stats(H.s)->drop_impersonation, 1);
	struct swim_member_info mi;
	swim_member_find(H.s, &H.peer[1], &mi);
	assert_true(swim_addr_equal(&mi.addr, &H.paddr[1]));
	/* a datagram claiming peer 1's id from the other address */
	struct swim_msg_head g = {.type = SWIM_MSG_GOSSIP};
	struct swim_update s =
	    claim(SWIM_UPD_SUSPECT, &H.peer[2], H.pinc[2], &H.peer[1]);
	send_from(1, &evil, &g, &s, 1);
	assert_int_equal(swim_get_stats(H.s)->drop_impersonation, 2);
	assert_int_equal(status_of(2), SWIM_ALIVE);
	/* a datagram claiming to be from us */
	uint8_t pkt[256];
	size_t len;
	uint8_t body[64];
	size_t blen, fit;
	assert_int_equal(
	    wire_swim_pack(&g, NULL, 0, body, sizeof(body), &blen, &fit), 0);
	struct swim_envelope env = {.version = SWIM_WIRE_VERSION,
				    .sender = H.self,
				    .incarnation = 9,
				    .type = SWIM_MSG_GOSSIP,
				    .body = body,
				    .body_len = blen};
	wire_swim_envelope_encode(&env, pkt, sizeof(pkt), &len);
	assert_true(swim_recv(H.s, &evil, pkt, len, H.now) < 0);
	assert_int_equal(swim_get_stats(H.s)->drop_self_sender, 1);
	/* a genuine move: higher incarnation at the new address */
	a.incarnation = H.pinc[1] + 1;
	gossip_from(2, &a, 1);
	swim_member_find(H.s, &H.peer[1], &mi);
	assert_true(swim_addr_equal(&mi.addr, &evil));
	assert_int_equal(mi.incarnation, H.pinc[1] + 1);
}

static void test_leave_and_reap(void **state)
{
	(void)state;
	H.cfg.reap_after_ms = 5000;
	start(3);
	H.auto_ack = true;
	/* a peer leaves: LEFT, then reaped after reap_after_ms */
	struct swim_update l =
	    claim(SWIM_UPD_LEFT, &H.peer[2], H.pinc[2], &H.peer[2]);
	gossip_from(2, &l, 1);
	assert_int_equal(status_of(2), SWIM_LEFT);
	assert_int_equal(count_ev(SWIM_EV_LEFT, &H.peer[2]), 1);
	assert_int_equal(swim_live_count(H.s), 3);
	run_to(H.now + 4000);
	assert_int_equal(swim_member_count(H.s), 3);
	run_to(H.now + 2500);
	assert_int_equal(swim_member_count(H.s), 2);
	assert_int_equal(count_ev(SWIM_EV_REAP, &H.peer[2]), 1);
	/* we leave: LEFT(self) is gossiped until its budget is spent */
	size_t from = H.n_out;
	swim_leave(H.s, H.now);
	assert_false(swim_leave_done(H.s));
	run_to(H.now + 3000);
	assert_true(swim_leave_done(H.s));
	size_t sent_left = 0;
	for (size_t i = from; i < H.n_out; i++) {
		struct swim_envelope e;
		struct swim_msg m;
		wire_swim_envelope_decode(H.out[i].buf, H.out[i].len, &e);
		assert_int_not_equal(e.type, SWIM_MSG_PING); /* no probing */
		if (wire_swim_msg_decode(e.type, e.body, e.body_len, &m) < 0) {
			continue;
		}
		for (size_t k = 0; k < m.n_updates; k++) {
			struct swim_update u;
			wire_swim_msg_update(&m, k, &u);
			sent_left += u.kind == SWIM_UPD_LEFT &&
				     node_id_equal(&u.id, &H.self);
		}
		wire_swim_msg_fini(&m);
	}
	/* retransmit budget for 3 members: 4 * ceil(log10(4)) = 4 */
	assert_int_equal(sent_left, 4);
	/* suspicion about us after leaving is not refuted */
	struct swim_update s = claim(SWIM_UPD_SUSPECT, &H.self, 9, &H.peer[0]);
	gossip_from(0, &s, 1);
	assert_int_equal(swim_get_stats(H.s)->refutations, 0);
}

static void test_dead_member_reaped(void **state)
{
	(void)state;
	H.cfg.reap_after_ms = 3000;
	start(2);
	struct swim_update d =
	    claim(SWIM_UPD_DEAD, &H.peer[1], H.pinc[1], &H.peer[0]);
	gossip_from(0, &d, 1);
	assert_int_equal(status_of(1), SWIM_DEAD);
	/* an older alive cannot resurrect it; a newer one can */
	struct swim_update a = alive_of(1);
	gossip_from(0, &a, 1);
	assert_int_equal(status_of(1), SWIM_DEAD);
	run_to(H.now + 3500);
	assert_int_equal(swim_member_count(H.s), 1);
	a.incarnation++;
	gossip_from(0, &a, 1);
	assert_int_equal(status_of(1), SWIM_ALIVE);
	assert_int_equal(count_ev(SWIM_EV_JOIN, &H.peer[1]), 2);
}

static void test_piggyback_budget_and_retransmit_limit(void **state)
{
	(void)state;
	start(3);
	/* 600 members arrive by a join push-pull: their rows are news, the
	 * queue holds ~600 updates */
	struct wire_swim_pp_writer w;
	assert_int_equal(wire_swim_pp_begin(&w, true), 0);
	for (int i = 0; i < 600; i++) {
		struct swim_update u = alive_of(0);
		memset(u.id.b, 0, NODE_ID_LEN);
		u.id.b[0] = 0x77;
		u.id.b[1] = (uint8_t)(i >> 8);
		u.id.b[2] = (uint8_t)i;
		u.addr.ip[2] = (uint8_t)(i >> 8);
		u.addr.ip[3] = (uint8_t)i;
		snprintf(u.name, sizeof(u.name), "member-with-a-long-name-%d",
			 i);
		assert_int_equal(wire_swim_pp_add(&w, &u), 0);
	}
	uint8_t *buf;
	size_t len;
	wire_swim_pp_finish(&w, &buf, &len);
	/* a plain anti-entropy exchange only hints a bounded sample */
	buf[1] = 0; /* join = false */
	struct swim *keep = H.s;
	struct swim_callbacks cbs = {.send = cb_send};
	H.s =
	    swim_new(&H.cfg, &H.self, &H.self_addr, "other", 1, 7, &cbs, H.now);
	assert_int_equal(swim_pushpull_import(H.s, buf, len, H.now, NULL), 0);
	assert_int_equal(swim_member_count(H.s), 600);
	assert_true(swim_queue_len(H.s) < 250);
	swim_free(H.s);
	H.s = keep;
	buf[1] = 1;
	bool join = false;
	assert_int_equal(swim_pushpull_import(H.s, buf, len, H.now, &join), 0);
	assert_true(join);
	free(buf);
	assert_int_equal(swim_member_count(H.s), 603);
	assert_true(swim_queue_len(H.s) >= 600);
	size_t from = H.n_out;
	run_to(H.now + 400);
	size_t total = 0, dgrams = 0;
	for (size_t i = from; i < H.n_out; i++) {
		struct swim_envelope e;
		struct swim_msg m;
		assert_true(H.out[i].len + SWIM_SEAL_OVERHEAD <=
			    SWIM_DATAGRAM_MAX);
		wire_swim_envelope_decode(H.out[i].buf, H.out[i].len, &e);
		if (e.type != SWIM_MSG_GOSSIP) {
			continue;
		}
		assert_int_equal(
		    wire_swim_msg_decode(e.type, e.body, e.body_len, &m), 0);
		/* a full datagram: nearly the whole budget is used */
		assert_true(H.out[i].len > SWIM_PLAINTEXT_MAX - 80);
		total += m.n_updates;
		dgrams++;
		wire_swim_msg_fini(&m);
	}
	assert_true(dgrams >= 3);
	assert_true(total / dgrams >= 15);

	/* the packer reports how many leading items fitted */
	uint8_t item[100];
	memset(item, 'x', sizeof(item));
	struct wire_swim_item items[40];
	for (int i = 0; i < 40; i++) {
		items[i].buf = item;
		items[i].len = sizeof(item);
	}
	struct swim_msg_head g = {.type = SWIM_MSG_GOSSIP};
	uint8_t body[SWIM_PLAINTEXT_MAX];
	size_t blen, fit;
	assert_int_equal(wire_swim_pack(&g, items, 40, body, 1000, &blen, &fit),
			 0);
	assert_int_equal(fit, 1000 / 102);
	assert_true(blen <= 1000);
}

static void test_retransmit_limit_exact(void **state)
{
	(void)state;
	start(6); /* 7 nodes: limit = 4 * ceil(log10(8)) = 4 */
	H.auto_ack = true;
	/* drain the join gossip first */
	run_to(H.now + 10000);
	struct node_state st;
	memset(&st, 0, sizeof(st));
	st.cpu_free = 0.25;
	st.n_labels = 1;
	snprintf(st.labels[0].key, sizeof(st.labels[0].key), "zone");
	snprintf(st.labels[0].value, sizeof(st.labels[0].value), "a");
	size_t from = H.n_out;
	swim_set_local_state(H.s, &st, H.now);
	run_to(H.now + 10000);
	size_t sent = 0;
	for (size_t i = from; i < H.n_out; i++) {
		struct swim_envelope e;
		struct swim_msg m;
		wire_swim_envelope_decode(H.out[i].buf, H.out[i].len, &e);
		if (wire_swim_msg_decode(e.type, e.body, e.body_len, &m) < 0) {
			continue;
		}
		for (size_t k = 0; k < m.n_updates; k++) {
			struct swim_update u;
			assert_int_equal(wire_swim_msg_update(&m, k, &u), 0);
			if (u.kind == SWIM_UPD_STATE) {
				sent++;
				assert_true(u.has_state);
				assert_int_equal(u.state.version, 1);
				assert_string_equal(u.state.labels[0].key,
						    "zone");
			}
		}
		wire_swim_msg_fini(&m);
	}
	assert_int_equal(sent, 4);
	assert_int_equal(swim_queue_len(H.s), 0);
}

/* What the first gossip datagram sent from now on carries (the clock runs
 * in 50 ms steps until there is one): updates about members whose id
 * starts with `tag`, node states, and whether our own state is among them. */
struct first_gossip {
	size_t tagged, states;
	bool own_state;
};

static struct first_gossip first_gossip(uint8_t tag)
{
	struct first_gossip r = {0, 0, false};
	size_t from = H.n_out;
	for (int step = 0; step < 50; step++) {
		run_to(H.now + 50);
		for (size_t i = from; i < H.n_out; i++) {
			struct swim_envelope e;
			struct swim_msg m;
			wire_swim_envelope_decode(H.out[i].buf, H.out[i].len,
						  &e);
			if (e.type != SWIM_MSG_GOSSIP ||
			    wire_swim_msg_decode(e.type, e.body, e.body_len,
						 &m) < 0) {
				continue;
			}
			for (size_t k = 0; k < m.n_updates; k++) {
				struct swim_update u;
				assert_int_equal(
				    wire_swim_msg_update(&m, k, &u), 0);
				if (u.kind == SWIM_UPD_STATE) {
					r.states++;
					r.own_state |=
					    node_id_equal(&u.id, &H.self);
				} else if (u.id.b[0] == tag) {
					r.tagged++;
				}
			}
			wire_swim_msg_fini(&m);
			return r;
		}
	}
	return r;
}

/* Queue news of 60 new members (ids starting with tag) in 6 datagrams from
 * peer 0; with_state adds a state update for each of them afterwards. */
static void sixty_joins(uint8_t tag, bool with_state)
{
	struct swim_update ups[10];
	for (int pass = 0; pass < (with_state ? 2 : 1); pass++) {
		for (int b = 0; b < 6; b++) {
			for (int i = 0; i < 10; i++) {
				int k = b * 10 + i;
				struct swim_update u = alive_of(0);
				memset(u.id.b, 0, NODE_ID_LEN);
				u.id.b[0] = tag;
				u.id.b[1] = (uint8_t)k;
				u.addr.ip[2] = tag;
				u.addr.ip[3] = (uint8_t)(k + 1);
				snprintf(u.name, sizeof(u.name), "m-%d", k);
				if (pass == 1) {
					u.kind = SWIM_UPD_STATE;
					u.has_addr = false;
					u.has_state = true;
					u.state.version = 1;
					u.state.cpu_free = 0.5;
				}
				ups[i] = u;
			}
			gossip_from(0, ups, 10);
		}
	}
}

/* Membership news are packed before node states: a burst of both (60 new
 * members, then a state for each) fills the next gossip datagram with the
 * joins, although the states are newer. */
static void test_membership_packed_before_states(void **state)
{
	(void)state;
	start(3);
	H.auto_ack = true;
	run_to(H.now + 10000); /* drain the join gossip */
	sixty_joins(0x55, true);
	assert_int_equal(swim_member_count(H.s), 63);
	struct first_gossip g = first_gossip(0x55);
	assert_true(g.tagged >= 15);
	assert_int_equal(g.states, 0);
}

/* ...but a fresh state change is not starved by a backlog of joins that
 * have already been sent: least-sent goes first. */
static void test_fresh_state_not_starved(void **state)
{
	(void)state;
	start(3);
	H.auto_ack = true;
	run_to(H.now + 10000);
	sixty_joins(0x66, false);
	run_to(H.now + 600); /* every join sent at least once, none done */
	assert_true(swim_queue_len(H.s) >= 60);
	struct node_state st;
	memset(&st, 0, sizeof(st));
	st.cpu_free = 0.5;
	swim_set_local_state(H.s, &st, H.now);
	assert_true(first_gossip(0x66).own_state);
}

static void test_state_versions_and_pushpull(void **state)
{
	(void)state;
	start(2);
	struct swim_update u;
	memset(&u, 0, sizeof(u));
	u.kind = SWIM_UPD_STATE;
	u.id = H.peer[0];
	u.incarnation = H.pinc[0];
	u.has_state = true;
	u.state.version = 3;
	u.state.mem_free_bytes = 1234;
	u.state.generation = 77;
	gossip_from(0, &u, 1);
	u.state.version = 2; /* older: ignored */
	u.state.mem_free_bytes = 1;
	gossip_from(0, &u, 1);
	struct swim_member_info mi;
	swim_member_find(H.s, &H.peer[0], &mi);
	assert_non_null(mi.state);
	assert_int_equal(mi.state->mem_free_bytes, 1234);
	/* our push-pull export carries peers with their state */
	uint8_t *buf;
	size_t len;
	assert_int_equal(swim_pushpull_export(H.s, true, &buf, &len), 0);
	struct swim_pp pp;
	assert_int_equal(wire_swim_pp_decode(buf, len, 16, &pp), 0);
	assert_true(pp.join);
	assert_int_equal(pp.n_members, 3);
	bool found = false;
	for (size_t i = 0; i < pp.n_members; i++) {
		struct swim_update r;
		assert_int_equal(wire_swim_pp_member(&pp, i, &r), 0);
		if (node_id_equal(&r.id, &H.peer[0])) {
			found = r.has_state && r.state.mem_free_bytes == 1234 &&
				r.state.generation == 77;
		}
	}
	assert_true(found);
	wire_swim_pp_fini_decoded(&pp);
	/* a bound below the count is refused before unpacking */
	assert_int_equal(wire_swim_pp_decode(buf, len, 2, &pp), -E2BIG);
	free(buf);
}

static void test_wire_rejects_bad_input(void **state)
{
	(void)state;
	start(1);
	const struct swim_stats *st = swim_get_stats(H.s);
	uint8_t junk[64];
	memset(junk, 0xff, sizeof(junk));
	assert_true(swim_recv(H.s, &H.paddr[0], junk, sizeof(junk), H.now) < 0);
	assert_int_equal(st->drop_malformed, 1);
	/* an update with a 15-byte id is dropped and counted */
	uint8_t upd[64], body[128], pkt[256];
	size_t n = 0;
	upd[n++] = 0x08; /* kind = ALIVE */
	upd[n++] = 1;
	upd[n++] = 0x12; /* node_id, 15 bytes */
	upd[n++] = 15;
	memset(upd + n, 1, 15);
	n += 15;
	struct wire_swim_item it = {.buf = upd, .len = n};
	struct swim_msg_head g = {.type = SWIM_MSG_GOSSIP};
	size_t blen, fit, len;
	assert_int_equal(
	    wire_swim_pack(&g, &it, 1, body, sizeof(body), &blen, &fit), 0);
	struct swim_envelope env = {.version = SWIM_WIRE_VERSION,
				    .sender = H.peer[0],
				    .incarnation = H.pinc[0],
				    .type = SWIM_MSG_GOSSIP,
				    .body = body,
				    .body_len = blen};
	assert_int_equal(
	    wire_swim_envelope_encode(&env, pkt, sizeof(pkt), &len), 0);
	swim_recv(H.s, &H.paddr[0], pkt, len, H.now);
	assert_int_equal(st->drop_bad_update, 1);
	/* more than SWIM_UPDATES_MAX updates: refused before unpacking */
	static uint8_t big[4096];
	size_t bn = 0;
	for (int i = 0; i < SWIM_UPDATES_MAX + 1; i++) {
		big[bn++] = (15 << 3) | 2;
		big[bn++] = 0;
	}
	struct swim_msg m;
	assert_int_equal(wire_swim_msg_decode(SWIM_MSG_GOSSIP, big, bn, &m),
			 -E2BIG);
	assert_int_equal(wire_swim_msg_decode(SWIM_MSG_PUSH_PULL, big, 2, &m),
			 -EPROTONOSUPPORT);
	/* a ping for somebody else is not acked */
	size_t from = H.n_out;
	struct swim_msg_head p = {.type = SWIM_MSG_PING,
				  .seq = 9,
				  .has_target = true,
				  .target_id = H.peer[3]};
	send_from(0, &H.paddr[0], &p, NULL, 0);
	assert_int_equal(st->drop_misrouted, 1);
	assert_int_equal(find_out(from, SWIM_MSG_ACK, NULL, NULL), -1);
	p.target_id = H.self;
	send_from(0, &H.paddr[0], &p, NULL, 0);
	assert_true(find_out(from, SWIM_MSG_ACK, NULL, NULL) >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_join_events_and_config, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_probe_ack_measures_rtt, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_probe_via_helpers,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_probe_suspects_and_lhm,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_buddy_ping_carries_suspicion,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_suspicion_shrinks_with_confirmations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refutation_bumps_incarnation,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_self_suspicion_ignored,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_impersonation_ignored_and_counted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leave_and_reap, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_dead_member_reaped, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_piggyback_budget_and_retransmit_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retransmit_limit_exact, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_membership_packed_before_states, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fresh_state_not_starved, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_state_versions_and_pushpull,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wire_rejects_bad_input, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
