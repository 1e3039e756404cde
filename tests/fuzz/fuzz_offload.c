// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz target for offload message handling (agent/offload.c,
 * agent/offload_share.c). The input is a script of records
 * [op u8][len u16 le][body] fed to a node that has one open offer ("w1"
 * to peer 1, offer id 1): ops 0-2 are OFFER/REPLY/RESULT bodies, 3 a
 * Q_SHARE, 4 a clock step, 5 peer 1 dies, 6 a hosted run ends; bit 7
 * sends as peer 2. Invariants: no crash, the reservation never exceeds
 * the capacity and goes back to zero once nothing is hosted, and the
 * open offer is handed back or completed at most once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offload.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_offload: %s:%d: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

struct ctx {
	int settled; /* completions + hand-backs of w1 */
	int runs;
	char last_run[WORKLOAD_ID_MAX];
};

static int f_send(void *ud, const struct node_id *to, uint32_t type,
		  const uint8_t *body, size_t len)
{
	(void)ud;
	(void)to;
	CHECK(type >= WIRE_OFFLOAD_OFFER && type <= WIRE_OFFLOAD_RESULT);
	CHECK(len <= OFFLOAD_BODY_MAX && (len == 0 || body != NULL));
	return 0;
}

static void f_redecide(void *ud, const struct workload_spec *spec,
		       const struct sched_decision *d,
		       const struct node_id *target, enum offload_redo why)
{
	struct ctx *c = ud;
	(void)d;
	(void)target;
	(void)why;
	if (strcmp(spec->id, "w1") == 0) {
		c->settled++;
	}
}

static void f_completed(void *ud, const struct workload_spec *spec,
			const struct sched_decision *d,
			const struct node_id *target,
			const struct offload_result *res,
			const struct sched_outcome *o)
{
	struct ctx *c = ud;
	(void)d;
	(void)target;
	(void)res;
	CHECK(o->latency_ms >= 0);
	if (strcmp(spec->id, "w1") == 0) {
		c->settled++;
	}
}

static int f_run(void *ud, const struct workload_spec *spec,
		 const struct node_id *origin)
{
	(void)origin;
	struct ctx *c = ud;
	c->runs++;
	memcpy(c->last_run, spec->id, sizeof(c->last_run));
	return 0;
}

static struct sched *table;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c;
	struct offload *o = NULL;
	struct offload_share *sh = NULL;
	struct offload_params p;
	struct offload_share_params sp;
	struct offload_capacity cap;
	struct offload_io io = {
	    .send = f_send,
	    .redecide = f_redecide,
	    .completed = f_completed,
	    .run = f_run,
	};
	struct node_id self = {{1}}, p1 = {{2}}, p2 = {{3}};
	struct workload_spec w;
	uint64_t now = 1000;
	size_t off = 0;

	if (table == NULL) {
		struct sched_params sp0;
		sched_params_default(&sp0);
		CHECK(sched_new(&sp0, 1, &table) == 0);
	}
	memset(&c, 0, sizeof(c));
	io.ud = &c;
	offload_params_default(&p);
	p.max_entries = 8;
	p.cpu_milli = 1000;
	p.mem_bytes = 1 << 24;
	CHECK(offload_new(&self, &p, &io, &o) == 0);
	offload_share_params_default(&sp);
	CHECK(offload_share_new(&sp, &sh) == 0);
	memset(&w, 0, sizeof(w));
	snprintf(w.id, sizeof(w.id), "w1");
	w.argc = 1;
	snprintf(w.argv[0], sizeof(w.argv[0]), "/bin/true");
	CHECK(offload_offer(o, &p1, &w, NULL, 0, now) == 0);

	while (off + 3 <= size) {
		uint8_t op = data[off];
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
		const struct node_id *from = (op & 0x80) ? &p2 : &p1;
		off += 3;
		if (len > size - off) {
			len = size - off;
		}
		switch (op & 0x7f) {
		case 0:
		case 1:
		case 2:
			(void)offload_recv(o, from,
					   WIRE_OFFLOAD_OFFER + (op & 3),
					   data + off, len, now);
			break;
		case 3:
			(void)offload_share_recv(sh, table, from, data + off,
						 len);
			break;
		case 4:
			now += len * 50u;
			offload_tick(o, now);
			break;
		case 5:
			(void)offload_peer_dead(o, &p1, now);
			break;
		case 6:
			if (c.runs > 0) {
				(void)offload_finished(o, c.last_run,
						       (int32_t)len - 1, "x", 0,
						       now);
			}
			break;
		default:
			break;
		}
		off += len;
		offload_capacity(o, &cap);
		CHECK(cap.cpu_reserved <= cap.cpu_milli);
		CHECK(cap.mem_reserved <= cap.mem_bytes);
		CHECK(cap.entries > 0 ||
		      (cap.cpu_reserved == 0 && cap.mem_reserved == 0));
		CHECK(c.settled <= 1);
		CHECK(c.settled == 1 || offload_is_offered(o, "w1"));
	}
	/* the open offer always settles: never lost */
	offload_tick(o, now + 10ull * 60 * 60 * 1000);
	CHECK(c.settled == 1);
	offload_share_free(sh);
	offload_free(o);
	return 0;
}
