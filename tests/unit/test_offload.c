// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the offload protocol core and federated Q-sharing:
 * in-process instances joined by a fake transport that can drop,
 * duplicate and reorder messages; a fake runtime counts runs and cancels.
 * Checks that every workload completes exactly once at its origin.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "offload.h"
#include "rng.h"
#include "wire.h"

#define NODES 3
#define QMAX  4096
#define WMAX  256

struct msg {
	int from, to;
	uint32_t type;
	size_t len;
	uint8_t body[OFFLOAD_BODY_MAX];
};

struct net;

struct node {
	struct net *net;
	int idx;
	struct node_id id;
	struct offload *o;
	/* fake runtime (target side) */
	int runs[WMAX];
	int cancels[WMAX];
	bool running[WMAX];
	/* origin side */
	int completed[WMAX];
	int redecided[WMAX];
	enum offload_redo last_redo;
	struct sched_outcome last_out;
	struct offload_result last_res;
	int next_target; /* redecide re-offers here (-1: not) */
	int fail_run;	 /* run() returns this */
};

struct net {
	struct node n[NODES];
	struct msg *q;
	size_t nq;
	uint64_t now;
	bool dead[NODES]; /* messages to/from it vanish */
	double loss, dup; /* probabilities */
	bool reorder;
	struct rng rng;
	uint64_t sent[16];
	bool drop_type[16]; /* drop every message of this type */
	int drop_next[16];  /* drop the next N of this type */
	int drop_acks;	    /* drop the next N results node 0 sends */
};

static int widx(const char *id)
{
	int i = atoi(id + 1); /* "w<N>" */
	assert_true(i >= 0 && i < WMAX);
	return i;
}

static int node_of(struct net *net, const struct node_id *id)
{
	for (int i = 0; i < NODES; i++) {
		if (node_id_equal(&net->n[i].id, id)) {
			return i;
		}
	}
	fail_msg("unknown node");
	return -1;
}

static void enqueue(struct net *net, int from, int to, uint32_t type,
		    const uint8_t *body, size_t len)
{
	assert_true(net->nq < QMAX);
	struct msg *m = &net->q[net->nq++];
	m->from = from;
	m->to = to;
	m->type = type;
	m->len = len;
	memcpy(m->body, body, len);
}

static int io_send(void *ud, const struct node_id *to, uint32_t type,
		   const uint8_t *body, size_t len)
{
	struct node *nd = ud;
	struct net *net = nd->net;
	int t = node_of(net, to);

	assert_true(len <= OFFLOAD_BODY_MAX);
	net->sent[type]++;
	if (net->drop_type[type]) {
		return 0;
	}
	if (type == WIRE_OFFLOAD_RESULT && nd->idx == 0 && net->drop_acks > 0) {
		net->drop_acks--;
		return 0;
	}
	if (net->drop_next[type] > 0) {
		net->drop_next[type]--;
		return 0;
	}
	if (net->dead[t] || net->dead[nd->idx] ||
	    (net->loss > 0 && rng_unit(&net->rng) < net->loss)) {
		return 0;
	}
	enqueue(net, nd->idx, t, type, body, len);
	if (net->dup > 0 && rng_unit(&net->rng) < net->dup) {
		enqueue(net, nd->idx, t, type, body, len);
	}
	return 0;
}

static void spec_make(struct workload_spec *w, int i, uint32_t cpu)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->id, sizeof(w->id), "w%d", i);
	snprintf(w->name, sizeof(w->name), "app");
	w->qos = QOS_SILVER;
	w->cpu_milli = cpu;
	w->mem_bytes = 1 << 20;
	w->max_delay_ms = 10000;
	w->argc = 1;
	snprintf(w->argv[0], sizeof(w->argv[0]), "/bin/true");
}

static void io_redecide(void *ud, const struct workload_spec *spec,
			const struct sched_decision *d,
			const struct node_id *target, enum offload_redo why)
{
	struct node *nd = ud;
	(void)d;
	(void)target;
	nd->redecided[widx(spec->id)]++;
	nd->last_redo = why;
	if (nd->next_target >= 0) {
		assert_int_equal(offload_offer(nd->o,
					       &nd->net->n[nd->next_target].id,
					       spec, d, 0, nd->net->now),
				 0);
	}
}

static void io_completed(void *ud, const struct workload_spec *spec,
			 const struct sched_decision *d,
			 const struct node_id *target,
			 const struct offload_result *res,
			 const struct sched_outcome *o)
{
	struct node *nd = ud;
	(void)d;
	(void)target;
	nd->completed[widx(spec->id)]++;
	nd->last_out = *o;
	nd->last_res = *res;
}

static int io_run(void *ud, const struct workload_spec *spec,
		  const struct node_id *origin)
{
	(void)origin;
	struct node *nd = ud;
	int i = widx(spec->id);
	if (nd->fail_run) {
		return nd->fail_run;
	}
	nd->runs[i]++;
	nd->running[i] = true;
	return 0;
}

static void io_cancel(void *ud, const char *id)
{
	struct node *nd = ud;
	int i = widx(id);
	nd->cancels[i]++;
	nd->running[i] = false;
}

static struct net *net_new(uint32_t cpu_b, uint32_t cpu_c)
{
	struct net *net = calloc(1, sizeof(*net));
	struct offload_params p;
	struct offload_io io = {
	    .send = io_send,
	    .redecide = io_redecide,
	    .completed = io_completed,
	    .run = io_run,
	    .cancel = io_cancel,
	};

	assert_non_null(net);
	net->q = calloc(QMAX, sizeof(*net->q));
	assert_non_null(net->q);
	rng_seed(&net->rng, 7);
	for (int i = 0; i < NODES; i++) {
		struct node *nd = &net->n[i];
		nd->net = net;
		nd->idx = i;
		nd->next_target = -1;
		nd->id.b[0] = (uint8_t)(0xa0 + i);
		nd->id.b[15] = 1;
		offload_params_default(&p);
		p.offer_id_base = 1000 * (uint64_t)(i + 1);
		p.cpu_milli = i == 0 ? 0 : (i == 1 ? cpu_b : cpu_c);
		p.mem_bytes = 64u << 20;
		p.generation = 5 + (uint64_t)i;
		io.ud = nd;
		assert_int_equal(offload_new(&nd->id, &p, &io, &nd->o), 0);
	}
	return net;
}

static void net_free(struct net *net)
{
	for (int i = 0; i < NODES; i++) {
		offload_free(net->n[i].o);
	}
	free(net->q);
	free(net);
}

/* Deliver everything queued (and what that produces), FIFO or reversed
 * per batch. */
static void pump(struct net *net)
{
	static struct msg batch[QMAX];
	int rounds = 0;

	while (net->nq > 0) {
		size_t n = net->nq;
		assert_true(++rounds < 1000);
		memcpy(batch, net->q, n * sizeof(*batch));
		net->nq = 0;
		for (size_t k = 0; k < n; k++) {
			struct msg *m = &batch[net->reorder ? n - 1 - k : k];
			if (net->dead[m->to]) {
				continue;
			}
			(void)offload_recv(net->n[m->to].o, &net->n[m->from].id,
					   m->type, m->body, m->len, net->now);
		}
	}
}

/* Advance the clock in steps, ticking every node and delivering. */
static void advance(struct net *net, uint64_t ms)
{
	uint64_t end = net->now + ms;
	while (net->now < end) {
		net->now += 100;
		for (int i = 0; i < NODES; i++) {
			if (!net->dead[i]) {
				offload_tick(net->n[i].o, net->now);
			}
		}
		pump(net);
	}
}

static void finish(struct net *net, int node, int w, int32_t code)
{
	char id[16];
	snprintf(id, sizeof(id), "w%d", w);
	assert_int_equal(offload_finished(net->n[node].o, id, code,
					  code ? "exit" : NULL, 1.5, net->now),
			 0);
	net->n[node].running[w] = false;
}

static void offer(struct net *net, int from, int to, int w, uint32_t cpu)
{
	struct workload_spec s;
	struct sched_decision d;
	memset(&d, 0, sizeof(d));
	d.state = 3;
	d.action = 1;
	spec_make(&s, w, cpu);
	assert_int_equal(offload_offer(net->n[from].o, &net->n[to].id, &s, &d,
				       100, net->now),
			 0);
}

static void test_happy_path(void **st)
{
	(void)st;
	struct net *net = net_new(2000, 2000);
	struct offload_capacity c;
	const struct offload_stats *sa = offload_stats(net->n[0].o);
	const struct offload_stats *sb = offload_stats(net->n[1].o);

	offer(net, 0, 1, 1, 500);
	assert_true(offload_is_offered(net->n[0].o, "w1"));
	pump(net);
	assert_int_equal(net->n[1].runs[1], 1);
	assert_true(offload_is_hosting(net->n[1].o, "w1"));
	offload_capacity(net->n[1].o, &c);
	assert_int_equal(c.cpu_reserved, 500);
	assert_int_equal(c.mem_reserved, 1u << 20);
	assert_int_equal(sa->accepted, 1);

	advance(net, 1000); /* running; no retransmissions of the offer */
	assert_int_equal(sa->offer_sends, 1);
	assert_int_equal(net->n[0].completed[1], 0);

	finish(net, 1, 1, 0);
	pump(net);
	assert_int_equal(net->n[0].completed[1], 1);
	assert_int_equal(net->n[0].last_out.result, SCHED_OUT_DONE);
	assert_true(net->n[0].last_out.deadline_met);
	assert_true(net->n[0].last_out.latency_ms >= 1100.0);
	assert_true(net->n[0].last_out.energy_j == 1.5);
	assert_false(offload_is_offered(net->n[0].o, "w1"));
	assert_false(offload_is_hosting(net->n[1].o, "w1"));
	assert_int_equal(sb->result_acked, 1);
	offload_capacity(net->n[1].o, &c);
	assert_int_equal(c.cpu_reserved, 0);
	assert_int_equal(c.mem_reserved, 0);

	/* quiet afterwards: no retransmission of anything */
	uint64_t before =
	    net->sent[WIRE_OFFLOAD_RESULT] + net->sent[WIRE_OFFLOAD_OFFER];
	advance(net, 5000);
	assert_int_equal(net->sent[WIRE_OFFLOAD_RESULT] +
			     net->sent[WIRE_OFFLOAD_OFFER],
			 before);
	assert_int_equal(net->n[0].completed[1], 1);
	assert_int_equal(net->n[1].runs[1], 1);
	assert_int_equal(offload_open(net->n[0].o), 0);
	net_free(net);
}

static void test_decline_redecide(void **st)
{
	(void)st;
	struct net *net = net_new(0, 2000); /* B has no capacity */

	net->n[0].next_target = 2;
	offer(net, 0, 1, 2, 500);
	pump(net);
	assert_int_equal(net->n[1].runs[2], 0);
	assert_int_equal(net->n[0].redecided[2], 1);
	assert_int_equal(net->n[0].last_redo, OFFLOAD_REDO_DECLINED);
	assert_int_equal(offload_stats(net->n[1].o)->declines_out, 1);
	/* re-offered to C by the redecide callback */
	assert_int_equal(net->n[2].runs[2], 1);
	finish(net, 2, 2, 0);
	pump(net);
	assert_int_equal(net->n[0].completed[2], 1);

	/* a late duplicate of the declined offer stays declined */
	net->n[0].next_target = -1;
	advance(net, 1000);
	assert_int_equal(net->n[1].runs[2], 0);
	assert_int_equal(net->n[0].redecided[2], 1);
	net_free(net);
}

static void test_target_dies_mid_run(void **st)
{
	(void)st;
	struct net *net = net_new(2000, 2000);

	offer(net, 0, 1, 3, 500);
	pump(net);
	assert_int_equal(net->n[1].runs[3], 1);
	advance(net, 500);
	net->dead[1] = true; /* SIGKILL */
	net->n[0].next_target = 2;
	assert_int_equal(
	    offload_peer_dead(net->n[0].o, &net->n[1].id, net->now), 1);
	assert_int_equal(net->n[0].last_redo, OFFLOAD_REDO_DEAD);
	pump(net);
	assert_int_equal(net->n[2].runs[3], 1);
	advance(net, 500);
	finish(net, 2, 3, 0);
	advance(net, 1000);
	assert_int_equal(net->n[0].completed[3], 1);
	assert_int_equal(net->n[0].redecided[3], 1);
	assert_int_equal(offload_stats(net->n[0].o)->target_dead, 1);

	/* B was only unreachable: it comes back and reports too late. Its
	 * result is acknowledged and ignored; the workload completed once. */
	net->dead[1] = false;
	finish(net, 1, 3, 0);
	advance(net, 2000);
	assert_int_equal(net->n[0].completed[3], 1);
	assert_true(offload_stats(net->n[0].o)->dup_results >= 1);
	assert_int_equal(offload_stats(net->n[1].o)->result_acked, 1);
	assert_false(offload_is_hosting(net->n[1].o, "w3"));
	net_free(net);
}

/* The target's agent restarts (its offers are gone): a newer generation
 * in its gossip sends what it accepted back to the scheduler, an equal or
 * older one does not, and an offer it accepted after the restart stays. */
static void test_target_restarts(void **st)
{
	(void)st;
	struct net *net = net_new(2000, 2000);

	offer(net, 0, 1, 4, 500);
	pump(net);
	assert_int_equal(net->n[1].runs[4], 1);
	/* node 1 accepted at generation 6 */
	assert_int_equal(
	    offload_peer_generation(net->n[0].o, &net->n[1].id, 6, net->now),
	    0);
	assert_int_equal(
	    offload_peer_generation(net->n[0].o, &net->n[1].id, 2, net->now),
	    0);
	assert_int_equal(
	    offload_peer_generation(net->n[0].o, &net->n[2].id, 9, net->now),
	    0);
	assert_int_equal(net->n[0].redecided[4], 0);
	/* restarted: placed again, here on the same node (its new agent) */
	net->n[0].next_target = 1;
	assert_int_equal(
	    offload_peer_generation(net->n[0].o, &net->n[1].id, 7, net->now),
	    1);
	assert_int_equal(net->n[0].last_redo, OFFLOAD_REDO_RESTARTED);
	assert_int_equal(net->n[0].redecided[4], 1);
	assert_int_equal(offload_stats(net->n[0].o)->target_restarted, 1);
	/* the new offer is not caught by the same generation again */
	assert_int_equal(
	    offload_peer_generation(net->n[0].o, &net->n[1].id, 7, net->now),
	    0);
	pump(net);
	advance(net, 500);
	finish(net, 1, 4, 0);
	advance(net, 1000);
	assert_int_equal(net->n[0].completed[4], 1);
	net_free(net);
}

static void test_withdrawal_stops_run(void **st)
{
	(void)st;
	struct net *net = net_new(2000, 2000);

	/* the reply is lost every time: the origin gives up, withdraws, and
	 * the target stops what it started */
	net->drop_type[WIRE_OFFLOAD_REPLY] = true;
	offer(net, 0, 1, 4, 500);
	advance(net, 2000);
	assert_int_equal(net->n[1].runs[4], 1); /* duplicates did not rerun */
	assert_true(offload_stats(net->n[1].o)->dup_offers >= 2);
	advance(net, 2000);
	assert_int_equal(net->n[0].redecided[4], 1);
	assert_int_equal(net->n[0].last_redo, OFFLOAD_REDO_NO_REPLY);
	assert_int_equal(net->n[1].cancels[4], 1);
	assert_false(net->n[1].running[4]);
	assert_int_equal(offload_stats(net->n[1].o)->withdrawn, 1);
	struct offload_capacity c;
	offload_capacity(net->n[1].o, &c);
	assert_int_equal(c.cpu_reserved, 0);
	net_free(net);
}

static void test_lost_messages(void **st)
{
	(void)st;
	struct net *net = net_new(2000, 2000);

	net->drop_next[WIRE_OFFLOAD_OFFER] = 2;
	net->drop_next[WIRE_OFFLOAD_REPLY] = 1;
	offer(net, 0, 1, 5, 500);
	advance(net, 2000);
	assert_int_equal(net->n[1].runs[5], 1);
	assert_int_equal(offload_stats(net->n[0].o)->accepted, 1);

	net->drop_next[WIRE_OFFLOAD_RESULT] = 2; /* the result, twice */
	net->drop_acks = 1;			 /* and the first ack */
	finish(net, 1, 5, 0);
	advance(net, 900);
	assert_int_equal(net->n[0].completed[5], 0);
	advance(net, 100); /* third send arrives */
	assert_int_equal(net->n[0].completed[5], 1);
	assert_int_equal(offload_stats(net->n[1].o)->result_acked, 0);
	advance(net, 3000);
	assert_int_equal(net->n[0].completed[5], 1);
	assert_int_equal(offload_stats(net->n[1].o)->result_acked, 1);
	assert_true(offload_stats(net->n[1].o)->results_out >= 3);
	assert_int_equal(offload_stats(net->n[0].o)->dup_results, 1);
	net_free(net);
}

static void test_dup_reorder_stress(void **st)
{
	(void)st;
	struct net *net = net_new(100000, 100000);
	int w;

	net->dup = 0.3;
	net->loss = 0.05;
	net->reorder = true;
	net->n[0].next_target = 2;
	for (w = 0; w < 100; w++) {
		offer(net, 0, 1 + (w % 2), w, 100);
		advance(net, 100);
	}
	advance(net, 3000);
	for (w = 0; w < 100; w++) {
		for (int t = 1; t < NODES; t++) {
			if (net->n[t].running[w]) {
				finish(net, t, w, 0);
			}
		}
	}
	advance(net, 5000);
	int extra = 0;
	for (w = 0; w < 100; w++) {
		/* never lost, completed exactly once */
		assert_int_equal(net->n[0].completed[w], 1);
		/* runs that were not withdrawn: exactly the one reported */
		int kept = 0;
		for (int t = 1; t < NODES; t++) {
			kept += net->n[t].runs[w] - net->n[t].cancels[w];
			extra += net->n[t].runs[w] > 1;
		}
		assert_int_equal(kept, 1);
	}
	assert_int_equal(extra, 0); /* no node ran an id twice */
	assert_true(offload_stats(net->n[1].o)->dup_offers > 0);
	assert_int_equal(offload_open(net->n[0].o), 0);
	net_free(net);
}

/* Lossy, duplicating, reordering network; B is killed at a random
 * moment and declared dead 1.5 s later; runs end at random times. */
static void test_kill_stress(void **st)
{
	(void)st;
	for (uint64_t seed = 1; seed <= 5; seed++) {
		struct net *net = net_new(100000, 100000);
		uint64_t kill_at, dead_at;
		int w;

		rng_seed(&net->rng, seed);
		net->dup = 0.2;
		net->loss = 0.1;
		net->reorder = seed % 2 == 0;
		net->n[0].next_target = 2;
		kill_at = 100 * (5 + rng_below(&net->rng, 20));
		dead_at = kill_at + 1500;
		for (w = 0; w < 60; w++) {
			offer(net, 0, 1 + (w % 2), w, 100);
		}
		while (net->now < 40000) {
			advance(net, 100);
			if (net->now == kill_at) {
				net->dead[1] = true;
			}
			if (net->now == dead_at) {
				offload_peer_dead(net->n[0].o, &net->n[1].id,
						  net->now);
			}
			for (int t = 1; t < NODES; t++) {
				for (w = 0; w < 60; w++) {
					if (!net->dead[t] &&
					    net->n[t].running[w] &&
					    rng_unit(&net->rng) < 0.05) {
						finish(net, t, w, 0);
					}
				}
			}
		}
		for (w = 0; w < 60; w++) {
			/* never lost, never completed twice */
			assert_int_equal(net->n[0].completed[w], 1);
			assert_true(net->n[2].runs[w] <= 1);
			assert_true(net->n[1].runs[w] <= 1);
		}
		assert_int_equal(offload_open(net->n[0].o), 0);
		assert_true(offload_stats(net->n[0].o)->target_dead > 0);
		net_free(net);
	}
}

static void test_overdue_and_expiry(void **st)
{
	(void)st;
	struct net *net = net_new(2000, 2000);

	/* the target stops it at its promise (2 x deadline) and reports */
	offer(net, 0, 1, 6, 500);
	pump(net);
	advance(net, 20000);
	assert_int_equal(net->n[1].cancels[6], 1);
	assert_int_equal(offload_stats(net->n[1].o)->expired, 1);
	assert_int_equal(net->n[0].completed[6], 1);
	assert_int_equal(net->n[0].last_out.result, SCHED_OUT_FAILED);
	assert_false(net->n[0].last_out.deadline_met);

	/* the target is silent after accepting: overdue at the origin */
	offer(net, 0, 1, 7, 500);
	pump(net);
	net->drop_type[WIRE_OFFLOAD_RESULT] = true;
	advance(net, 23000);
	assert_int_equal(net->n[0].redecided[7], 1);
	assert_int_equal(net->n[0].last_redo, OFFLOAD_REDO_OVERDUE);
	assert_int_equal(net->n[0].completed[7], 0);

	/* run() fails to start: declined, so the origin places it again */
	net->drop_type[WIRE_OFFLOAD_RESULT] = false;
	net->n[1].fail_run = -ENOEXEC;
	offer(net, 0, 1, 8, 500);
	pump(net);
	assert_int_equal(net->n[0].completed[8], 0);
	assert_int_equal(net->n[0].redecided[8], 1);
	assert_int_equal(net->n[0].last_redo, OFFLOAD_REDO_DECLINED);
	assert_false(offload_is_hosting(net->n[1].o, "w8"));
	/* a failed run is reported FAILED, not run elsewhere */
	net->n[1].fail_run = 0;
	offer(net, 0, 1, 9, 500);
	pump(net);
	finish(net, 1, 9, 3);
	pump(net);
	assert_int_equal(net->n[0].completed[9], 1);
	assert_int_equal(net->n[0].redecided[9], 0);
	assert_int_equal(net->n[0].last_res.outcome, OFFLOAD_FAILED);
	assert_int_equal(net->n[0].last_res.exit_code, 3);
	assert_int_equal(net->n[0].last_out.result, SCHED_OUT_FAILED);
	struct offload_capacity c;
	offload_capacity(net->n[1].o, &c);
	assert_int_equal(c.cpu_reserved, 0);
	net_free(net);
}

static void test_capacity(void **st)
{
	(void)st;
	struct net *net = net_new(1000, 0);
	struct offload_capacity c;

	offer(net, 0, 1, 10, 600);
	offer(net, 0, 1, 11, 600);
	pump(net);
	assert_int_equal(net->n[1].runs[10], 1);
	assert_int_equal(net->n[1].runs[11], 0);
	assert_int_equal(net->n[0].redecided[11], 1);
	offload_capacity(net->n[1].o, &c);
	assert_int_equal(c.cpu_reserved, 600);
	assert_int_equal(c.entries, 1);
	offer(net, 0, 1, 12, 400); /* fits exactly */
	pump(net);
	assert_int_equal(net->n[1].runs[12], 1);
	offload_capacity(net->n[1].o, &c);
	assert_int_equal(c.cpu_reserved, 1000);

	finish(net, 1, 10, 0);
	pump(net);
	offload_capacity(net->n[1].o, &c);
	assert_int_equal(c.cpu_reserved, 400);
	/* a new attempt for the declined id (higher offer_id) is accepted */
	offer(net, 0, 1, 11, 600);
	pump(net);
	assert_int_equal(net->n[1].runs[11], 1);
	/* the same id again while open: refused at the origin */
	struct workload_spec s;
	spec_make(&s, 11, 600);
	assert_int_equal(
	    offload_offer(net->n[0].o, &net->n[1].id, &s, NULL, 0, net->now),
	    -EALREADY);
	assert_int_equal(
	    offload_offer(net->n[0].o, &net->n[0].id, &s, NULL, 0, net->now),
	    -EINVAL);
	net_free(net);
}

static void test_bad_input(void **st)
{
	(void)st;
	struct net *net = net_new(2000, 2000);
	struct offload *a = net->n[0].o;
	const struct offload_stats *sa = offload_stats(a);
	struct offload_result r;
	struct offload_reply rep;
	uint8_t buf[OFFLOAD_BODY_MAX];
	size_t len;

	/* result for an id never offered */
	memset(&r, 0, sizeof(r));
	r.offer_id = 99;
	snprintf(r.workload_id, sizeof(r.workload_id), "w20");
	r.outcome = OFFLOAD_DONE;
	assert_int_equal(wire_offload_result_encode(&r, buf, sizeof(buf), &len),
			 0);
	assert_int_equal(
	    offload_recv(a, &net->n[1].id, WIRE_OFFLOAD_RESULT, buf, len, 0),
	    -ENOENT);
	assert_int_equal(sa->unknown, 1);
	assert_int_equal(net->n[0].completed[20], 0);
	/* reply for an id never offered */
	memset(&rep, 0, sizeof(rep));
	rep.offer_id = 5;
	snprintf(rep.workload_id, sizeof(rep.workload_id), "w21");
	rep.accepted = true;
	assert_int_equal(
	    wire_offload_reply_encode(&rep, buf, sizeof(buf), &len), 0);
	assert_int_equal(
	    offload_recv(a, &net->n[1].id, WIRE_OFFLOAD_REPLY, buf, len, 0),
	    -ENOENT);
	assert_int_equal(sa->unknown, 2);
	/* malformed bodies of every type, and an unknown type */
	uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99};
	for (uint32_t t = WIRE_OFFLOAD_OFFER; t <= WIRE_OFFLOAD_RESULT; t++) {
		assert_int_equal(
		    offload_recv(a, &net->n[1].id, t, junk, sizeof(junk), 0),
		    -EBADMSG);
	}
	assert_int_equal(sa->malformed, 3);
	assert_int_equal(offload_recv(a, &net->n[1].id, WIRE_OFFLOAD_OFFER,
				      NULL, OFFLOAD_BODY_MAX * 2, 0),
			 -EBADMSG);
	assert_int_equal(
	    offload_recv(a, &net->n[1].id, WIRE_Q_SHARE, junk, sizeof(junk), 0),
	    -ENOMSG);

	/* an offer whose spec fails validation is declined INVALID */
	struct offload_offer of;
	static uint8_t big[OFFLOAD_BODY_MAX];
	memset(&of, 0, sizeof(of));
	of.offer_id = 1;
	spec_make(&of.spec, 22, 100);
	of.spec.argc = 0; /* a process without argv */
	assert_int_equal(wire_offload_offer_encode(&of, big, sizeof(big), &len),
			 0);
	assert_int_equal(offload_recv(net->n[1].o, &net->n[0].id,
				      WIRE_OFFLOAD_OFFER, big, len, 0),
			 0);
	assert_int_equal(net->n[1].runs[22], 0);
	assert_int_equal(net->nq, 1);
	assert_int_equal(
	    wire_offload_reply_decode(net->q[0].body, net->q[0].len, &rep), 0);
	assert_false(rep.accepted);
	assert_int_equal(rep.decline, OFFLOAD_DECLINE_INVALID);
	net->nq = 0;

	/* a reply from a node that was not offered the workload */
	offer(net, 0, 1, 23, 100);
	net->nq = 0; /* the offer is in flight */
	memset(&rep, 0, sizeof(rep));
	rep.offer_id = 1000; /* A's first offer id */
	snprintf(rep.workload_id, sizeof(rep.workload_id), "w23");
	rep.accepted = true;
	assert_int_equal(
	    wire_offload_reply_encode(&rep, buf, sizeof(buf), &len), 0);
	assert_int_equal(
	    offload_recv(a, &net->n[2].id, WIRE_OFFLOAD_REPLY, buf, len, 0),
	    -EPERM);
	assert_true(offload_is_offered(a, "w23"));
	/* another origin claiming an id B hosts is refused */
	pump(net);
	offload_tick(a, 600); /* retransmit; B runs it once */
	pump(net);
	assert_int_equal(net->n[1].runs[23], 1);
	spec_make(&of.spec, 23, 100);
	of.offer_id = 7;
	assert_int_equal(wire_offload_offer_encode(&of, big, sizeof(big), &len),
			 0);
	assert_int_equal(offload_recv(net->n[1].o, &net->n[2].id,
				      WIRE_OFFLOAD_OFFER, big, len, 0),
			 -EPERM);
	assert_int_equal(net->n[1].runs[23], 1);
	assert_int_equal(offload_finished(net->n[1].o, "nope", 0, NULL, 0, 0),
			 -ENOENT);
	net_free(net);
}

/* ---- federated Q-sharing ---------------------------------------- */

struct qnet {
	struct msg m[64];
	int n;
	struct node_id to[64];
};

static int q_send(void *ud, const struct node_id *to, uint32_t type,
		  const uint8_t *body, size_t len)
{
	struct qnet *q = ud;
	assert_int_equal(type, WIRE_Q_SHARE);
	assert_true(q->n < 64);
	assert_true(len <= WIRE_BODY_MAX);
	q->m[q->n].len = len;
	memcpy(q->m[q->n].body, body, len);
	q->to[q->n] = *to;
	q->n++;
	return 0;
}

static bool contains(const uint8_t *p, size_t len, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i + n <= len; i++) {
		if (memcmp(p + i, s, n) == 0) {
			return true;
		}
	}
	return false;
}

static void test_qshare(void **st)
{
	(void)st;
	struct sched_params p;
	struct sched *a = NULL, *b = NULL;
	struct offload_share *sa = NULL, *sb = NULL;
	struct offload_share_params sp;
	struct node_id ida = {{0xa}}, idb = {{0xb}};
	struct qnet *q = calloc(1, sizeof(*q));
	double qa, qb0, qb1;
	uint32_t va, vb;
	int i, rc;

	assert_non_null(q);
	sched_params_default(&p);
	assert_int_equal(sched_new(&p, 1, &a), 0);
	assert_int_equal(sched_new(&p, 2, &b), 0);
	offload_share_params_default(&sp);
	sp.top_states = 40;
	sp.max_influence = 0.25;
	assert_int_equal(offload_share_new(&sp, &sa), 0);
	assert_int_equal(offload_share_new(&sp, &sb), 0);

	/* nothing learned: nothing sent */
	assert_int_equal(
	    offload_share_export(sa, a, &idb, 1, WIRE_BODY_MAX, q_send, q), 0);
	assert_int_equal(q->n, 0);

	/* A learns many states, state 5 most; B knows state 5 a little */
	for (i = 0; i < 50; i++) {
		assert_int_equal(sched_learn(a, 5, 0, 10.0, UINT32_MAX), 0);
	}
	for (uint32_t s = 10; s < 70; s++) {
		assert_int_equal(sched_learn(a, s, 1, -3.0, UINT32_MAX), 0);
	}
	assert_int_equal(sched_learn(b, 5, 0, -10.0, UINT32_MAX), 0);
	assert_int_equal(sched_q_get(a, 5, 0, &qa, &va), 0);
	assert_int_equal(sched_q_get(b, 5, 0, &qb0, &vb), 0);

	/* 41 states exported in datagram-sized shares */
	rc = offload_share_export(sa, a, &idb, 1, 200, q_send, q);
	assert_true(rc >= 2);
	assert_int_equal(q->n, rc);
	size_t total = 0;
	for (i = 0; i < q->n; i++) {
		assert_true(node_id_equal(&q->to[i], &idb));
		assert_true(q->m[i].len <= 200);
		/* raw workload data never appears: only numbers */
		assert_false(contains(q->m[i].body, q->m[i].len, "w1"));
		rc = offload_share_recv(sb, b, &ida, q->m[i].body, q->m[i].len);
		assert_true(rc >= 0);
		total += (size_t)rc;
	}
	assert_int_equal(total, 40); /* top 40 states, one cell each */
	assert_int_equal(sched_q_get(b, 5, 0, &qb1, &vb), 0);
	/* moved towards A's value by exactly the bounded weight */
	assert_true(qb1 > qb0);
	assert_true(qb1 - (qb0 + 0.25 * (qa - qb0)) < 1e-9 &&
		    qb1 - (qb0 + 0.25 * (qa - qb0)) > -1e-9);
	assert_int_equal(vb, 1); /* local visits unchanged */

	/* an older round is stale */
	struct qnet *q2 = calloc(1, sizeof(*q2));
	assert_non_null(q2);
	assert_true(offload_share_export(sa, a, &idb, 1, WIRE_BODY_MAX, q_send,
					 q2) >= 1);
	assert_true(
	    offload_share_recv(sb, b, &ida, q2->m[0].body, q2->m[0].len) >= 0);
	assert_int_equal(
	    offload_share_recv(sb, b, &ida, q->m[0].body, q->m[0].len),
	    -ESTALE);
	assert_int_equal(offload_share_stats(sb)->stale, 1);

	/* per-sender budget per round */
	sp.max_entries_per_round = 5;
	assert_int_equal(offload_share_set_params(sb, &sp), 0);
	q2->n = 0;
	assert_true(offload_share_export(sa, a, &idb, 1, WIRE_BODY_MAX, q_send,
					 q2) >= 1);
	assert_int_equal(
	    offload_share_recv(sb, b, &ida, q2->m[0].body, q2->m[0].len), 5);
	assert_int_equal(
	    offload_share_recv(sb, b, &ida, q2->m[0].body, q2->m[0].len), 0);
	assert_true(offload_share_stats(sb)->over_budget >= 35);

	/* a restarted sender with a later round base is heard again */
	struct offload_share *sa2 = NULL;
	struct offload_share_params sp2 = sp;
	sp2.round_base = 1000;
	assert_int_equal(offload_share_new(&sp2, &sa2), 0);
	q2->n = 0;
	assert_true(offload_share_export(sa2, a, &idb, 1, WIRE_BODY_MAX, q_send,
					 q2) >= 1);
	assert_true(
	    offload_share_recv(sb, b, &ida, q2->m[0].body, q2->m[0].len) ==
	    5); /* new round, new budget */
	offload_share_free(sa2);

	/* another table shape is ignored; junk is malformed */
	struct sched *c = NULL;
	p.neighbours_k = 2;
	assert_int_equal(sched_new(&p, 3, &c), 0);
	assert_int_equal(
	    offload_share_recv(sb, c, &ida, q2->m[0].body, q2->m[0].len),
	    -EPROTO);
	uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff};
	assert_int_equal(offload_share_recv(sb, b, &ida, junk, sizeof(junk)),
			 -EBADMSG);
	assert_int_equal(offload_share_stats(sb)->foreign, 1);
	assert_int_equal(offload_share_stats(sb)->malformed, 1);
	sp.max_influence = 1.5;
	assert_int_equal(offload_share_set_params(sb, &sp), -EINVAL);

	sched_free(c);
	free(q2);
	free(q);
	offload_share_free(sa);
	offload_share_free(sb);
	sched_free(a);
	sched_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_happy_path),
	    cmocka_unit_test(test_decline_redecide),
	    cmocka_unit_test(test_target_dies_mid_run),
	    cmocka_unit_test(test_target_restarts),
	    cmocka_unit_test(test_withdrawal_stops_run),
	    cmocka_unit_test(test_lost_messages),
	    cmocka_unit_test(test_dup_reorder_stress),
	    cmocka_unit_test(test_kill_stress),
	    cmocka_unit_test(test_overdue_and_expiry),
	    cmocka_unit_test(test_capacity),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_qshare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
