// SPDX-License-Identifier: Apache-2.0
/*
 * bench_wire: encode and decode cost per message (ns) for what travels in
 * gossip datagrams: the envelope, a SWIM ping carrying as many piggybacked
 * alive updates as fit one datagram (body via wire_swim), node state, a
 * datagram-sized Q-share and an offload offer; plus the full path
 * encode+seal / open+decode of one ping datagram. Prints numbers only.
 * Times are this process's CPU time, so a busy shared machine does not
 * inflate them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "wire.h"
#include "wire_swim.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run fn repeatedly for ~0.25 s; return ns per call. */
#define TIME_NS(expr)                                                          \
	({                                                                     \
		long it_ = 0;                                                  \
		double t0_ = now_s(), el_;                                     \
		do {                                                           \
			for (int k_ = 0; k_ < 256; k_++) {                     \
				expr;                                          \
			}                                                      \
			it_ += 256;                                            \
			el_ = now_s() - t0_;                                   \
		} while (el_ < 0.25);                                          \
		el_ / (double)it_ * 1e9;                                       \
	})

static volatile int sink;

static void row(const char *what, size_t bytes, double enc_ns, double dec_ns)
{
	printf("%-34s %6zu B  encode %8.0f ns  decode %8.0f ns\n", what, bytes,
	       enc_ns, dec_ns);
}

int main(void)
{
	static uint8_t body[WIRE_DATAGRAM_MAX], env[WIRE_DATAGRAM_MAX],
	    dg[WIRE_DATAGRAM_MAX], pt[WIRE_DATAGRAM_MAX], big[65536];
	static uint8_t upd_buf[SWIM_UPDATES_MAX][SWIM_UPDATE_ENC_MAX];
	struct wire_swim_item items[SWIM_UPDATES_MAX];
	struct wire_envelope h = {
	    .version = WIRE_VERSION, .type = WIRE_PING, .incarnation = 12345};
	struct wire_envelope hd;
	const uint8_t *b;
	size_t bl, n_env = 0, n_body = 0, n_fit = 0, n = 0, pl;
	struct swim_msg_head head = {.type = SWIM_MSG_PING, .seq = 77};
	uint8_t key[CRYPTO_KEY_LEN];
	struct crypto_keyring *kr;
	double e_ns, d_ns;

	for (int i = 0; i < NODE_ID_LEN; i++) {
		h.sender.b[i] = (uint8_t)(i * 11 + 3);
	}
	/* envelope alone around a 1,000-byte body */
	memset(body, 0x42, sizeof(body));
	e_ns = TIME_NS(
	    wire_envelope_encode(&h, body, 1000, env, sizeof(env), &n_env));
	d_ns = TIME_NS(sink += wire_envelope_decode(env, n_env, &hd, &b, &bl));
	row("envelope (1000-byte body)", n_env, e_ns, d_ns);

	/* SWIM alive updates, pre-encoded, piggybacked on a ping */
	for (int i = 0; i < SWIM_UPDATES_MAX; i++) {
		struct swim_update u;
		size_t ul = 0;

		memset(&u, 0, sizeof(u));
		u.kind = SWIM_UPD_ALIVE;
		for (int j = 0; j < NODE_ID_LEN; j++) {
			u.id.b[j] = (uint8_t)(i + j);
		}
		u.incarnation = 1000 + (uint64_t)i;
		u.has_addr = true;
		u.addr.family = 4;
		u.addr.ip[0] = 10;
		u.addr.ip[3] = (uint8_t)i;
		u.addr.port = 7946;
		snprintf(u.name, sizeof(u.name), "edge-node-%03d", i);
		if (wire_swim_update_encode(&u, upd_buf[i], SWIM_UPDATE_ENC_MAX,
					    &ul) != 0) {
			fprintf(stderr, "update encode failed\n");
			return 1;
		}
		items[i].buf = upd_buf[i];
		items[i].len = ul;
	}
	e_ns = TIME_NS(wire_swim_pack(&head, items, SWIM_UPDATES_MAX, body,
				      WIRE_BODY_MAX, &n_body, &n_fit));
	d_ns = TIME_NS({
		struct swim_msg m;

		if (wire_swim_msg_decode(SWIM_MSG_PING, body, n_body, &m) ==
		    0) {
			struct swim_update u;

			for (size_t i = 0; i < m.n_updates; i++) {
				sink += wire_swim_msg_update(&m, i, &u);
			}
			wire_swim_msg_fini(&m);
		}
	});
	{
		char what[64];

		snprintf(what, sizeof(what), "ping + %zu alive updates", n_fit);
		row(what, n_body, e_ns, d_ns);
	}

	/* full datagram: envelope + seal / open + envelope decode */
	if (crypto_keygen_gossip(key) != 0) {
		return 1;
	}
	kr = crypto_keyring_new(0);
	if (kr == NULL || crypto_keyring_install(kr, key, NULL) != 0) {
		return 1;
	}
	e_ns = TIME_NS({
		wire_envelope_encode(&h, body, n_body, env, sizeof(env),
				     &n_env);
		crypto_seal(kr, env, n_env, dg, sizeof(dg), &n);
	});
	/* each open needs a fresh counter: pre-seal a batch */
	{
		enum { BATCH = 4096 };
		static uint8_t sealed[BATCH][WIRE_DATAGRAM_MAX];
		static size_t sealed_len[BATCH];
		long it = 0;
		double t0, el;

		for (int i = 0; i < BATCH; i++) {
			crypto_seal(kr, env, n_env, sealed[i],
				    WIRE_DATAGRAM_MAX, &sealed_len[i]);
		}
		t0 = now_s();
		for (int i = 0; i < BATCH; i++) {
			if (crypto_open(kr, sealed[i], sealed_len[i], pt,
					sizeof(pt), &pl) != 0 ||
			    wire_envelope_decode(pt, pl, &hd, &b, &bl) != 0) {
				fprintf(stderr, "open failed\n");
				return 1;
			}
			it++;
		}
		el = now_s() - t0;
		d_ns = el / (double)it * 1e9;
	}
	row("sealed ping datagram (env+seal)", n, e_ns, d_ns);
	crypto_keyring_free(kr);

	/* node state with 8 labels */
	{
		struct node_state s, d;

		memset(&s, 0, sizeof(s));
		s.version = 99;
		s.cpu_free = 0.42;
		s.cpu_cores = 4;
		s.cpu_milli_free = 2500;
		s.mem_free_bytes = 1ull << 30;
		s.mem_total_bytes = 4ull << 30;
		s.energy_watts = 7.5;
		s.temperature_c = 55;
		s.n_labels = 8;
		for (int i = 0; i < 8; i++) {
			snprintf(s.labels[i].key, sizeof(s.labels[i].key),
				 "label%d", i);
			snprintf(s.labels[i].value, sizeof(s.labels[i].value),
				 "value-%d", i);
		}
		e_ns =
		    TIME_NS(wire_node_state_encode(&s, big, sizeof(big), &n));
		d_ns = TIME_NS(sink += wire_node_state_decode(big, n, &d));
		row("node state (8 labels)", n, e_ns, d_ns);
	}
	/* Q-share filling one datagram */
	{
		static struct sched_share e[512], d[512];
		uint32_t fp;
		uint64_t round;
		size_t got;

		for (int i = 0; i < 512; i++) {
			e[i].state = (uint32_t)(i * 37);
			e[i].action = (uint32_t)(i % 7);
			e[i].q = 0.001 * i;
			e[i].visits = (uint32_t)(10 + i);
		}
		e_ns = TIME_NS(wire_qshare_encode(1, 2, e, 512, big,
						  WIRE_BODY_MAX, &n, &n_fit));
		d_ns = TIME_NS(sink += wire_qshare_decode(big, n, &fp, &round,
							  d, 512, &got));
		{
			char what[64];

			snprintf(what, sizeof(what), "q-share (%zu entries)",
				 n_fit);
			row(what, n, e_ns, d_ns);
		}
	}
	/* offload offer */
	{
		static struct offload_offer o, d;

		memset(&o, 0, sizeof(o));
		o.offer_id = 5;
		snprintf(o.spec.id, sizeof(o.spec.id), "wl-0001");
		snprintf(o.spec.name, sizeof(o.spec.name), "camera-infer");
		o.spec.qos = QOS_GOLD;
		o.spec.cpu_milli = 500;
		o.spec.mem_bytes = 128u << 20;
		o.spec.max_delay_ms = 200;
		o.spec.argc = 3;
		snprintf(o.spec.argv[0], WORKLOAD_ARG_MAX, "/usr/bin/infer");
		snprintf(o.spec.argv[1], WORKLOAD_ARG_MAX, "--model");
		snprintf(o.spec.argv[2], WORKLOAD_ARG_MAX, "/srv/m.tflite");
		e_ns = TIME_NS(
		    wire_offload_offer_encode(&o, big, sizeof(big), &n));
		d_ns = TIME_NS(sink += wire_offload_offer_decode(big, n, &d));
		row("offload offer", n, e_ns, d_ns);
	}
	return 0;
}
