// SPDX-License-Identifier: Apache-2.0
// sim_swim: whole clusters of SWIM cores on the simulated network. Default
// mode prints TAP for the scenarios `make test` runs at 200 nodes; with
// `bench [N...]` (or SIM_SWIM_BENCH=1) it prints convergence, detection,
// false-positive, traffic and state-propagation numbers at 1,000 and 5,000
// nodes instead. Deterministic for a given SIM_SEED.

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "simnet.h"
#include "swim.h"

struct sim;

struct simnode {
	struct sim *sim;
	uint32_t idx;
	struct swim *core;
	struct node_id id;
	struct swim_addr addr;
	bool killed; /* process stopped: no ticks, network down */
};

struct pp_req {
	uint32_t from, to;
};

struct sim {
	uint32_t n;
	struct simnet *net;
	struct simnode *nodes;
	struct swim_config cfg;
	struct rng rng;
	bool names;
	struct pp_req *ppq;
	size_t n_ppq, cap_ppq;
	/* observation */
	uint32_t victim; /* node whose death we time */
	uint64_t victim_down_ms;
	uint64_t *detect_ms;  /* per observer, 0 = not yet */
	uint64_t dead_events; /* DEAD events about a non-killed node */
	uint64_t suspect_events;
	bool count_false_dead;
	uint32_t state_owner; /* node whose state change we time */
	uint64_t state_version;
	uint64_t state_set_ms;
	uint64_t *state_seen_ms;
	uint64_t pp_bytes;
};

static uint64_t g_seed = 1;
static int g_test_no;
static int g_failed;

static void tap(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s %d - ", ok ? "ok" : "not ok", ++g_test_no);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	if (!ok) {
		g_failed++;
	}
}

static uint32_t addr_idx(const struct swim_addr *a)
{
	return (uint32_t)a->ip[1] << 16 | (uint32_t)a->ip[2] << 8 | a->ip[3];
}

static void cb_send(void *ud, const struct swim_addr *to, const uint8_t *buf,
		    size_t len)
{
	struct simnode *sn = ud;
	uint32_t t = addr_idx(to);
	if (t >= sn->sim->n) {
		return;
	}
	simnet_send(sn->sim->net, sn->idx, t, buf, len);
}

static void cb_push_pull(void *ud, const struct swim_addr *to)
{
	struct simnode *sn = ud;
	struct sim *S = sn->sim;
	if (S->n_ppq == S->cap_ppq) {
		size_t cap = S->cap_ppq ? S->cap_ppq * 2 : 64;
		struct pp_req *q = realloc(S->ppq, cap * sizeof(*q));
		if (q == NULL) {
			return;
		}
		S->ppq = q;
		S->cap_ppq = cap;
	}
	S->ppq[S->n_ppq].from = sn->idx;
	S->ppq[S->n_ppq].to = addr_idx(to);
	S->n_ppq++;
}

static struct simnode *node_by_id(struct sim *S, const struct node_id *id)
{
	/* ids are made from the index (see sim_new) */
	uint32_t i = (uint32_t)id->b[12] << 24 | (uint32_t)id->b[13] << 16 |
		     (uint32_t)id->b[14] << 8 | id->b[15];
	return i < S->n ? &S->nodes[i] : NULL;
}

static void cb_event(void *ud, enum swim_event ev,
		     const struct swim_member_info *m)
{
	struct simnode *sn = ud;
	struct sim *S = sn->sim;
	uint64_t now = simnet_now(S->net);
	struct simnode *about = node_by_id(S, &m->id);
	if (about == NULL) {
		return;
	}
	if (ev == SWIM_EV_SUSPECT) {
		S->suspect_events++;
	}
	if (ev == SWIM_EV_DEAD) {
		if (about->idx == S->victim && S->detect_ms != NULL &&
		    S->detect_ms[sn->idx] == 0 && S->victim_down_ms) {
			S->detect_ms[sn->idx] = now;
		}
		if (S->count_false_dead && !about->killed &&
		    about->idx != S->victim && sn->idx != S->victim) {
			S->dead_events++;
			if (getenv("SIM_DEBUG")) {
				fprintf(stderr,
					"t=%" PRIu64 " node %u marks %u dead "
					"(inc %" PRIu64 ", its own inc %" PRIu64
					")\n",
					now, sn->idx, about->idx,
					m->incarnation,
					swim_incarnation(about->core));
			}
		}
	}
	if ((ev == SWIM_EV_UPDATE || ev == SWIM_EV_JOIN) && m->state &&
	    S->state_seen_ms != NULL && about->idx == S->state_owner &&
	    m->state->version >= S->state_version &&
	    S->state_seen_ms[sn->idx] == 0) {
		S->state_seen_ms[sn->idx] = now;
	}
}

static void cb_deliver(void *ud, uint32_t to, uint32_t from, const uint8_t *buf,
		       size_t len)
{
	struct sim *S = ud;
	struct simnode *b = &S->nodes[to];
	if (b->killed || b->core == NULL) {
		return;
	}
	swim_recv(b->core, &S->nodes[from].addr, buf, len, simnet_now(S->net));
}

/* A push-pull over "TCP": reliable, but not across partitions or keys. */
static int push_pull(struct sim *S, uint32_t a, uint32_t b, bool join)
{
	struct simnode *na = &S->nodes[a], *nb = &S->nodes[b];
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t now = simnet_now(S->net);
	if (a == b || na->killed || nb->killed ||
	    !simnet_can_reach(S->net, a, b) ||
	    !simnet_can_reach(S->net, b, a) ||
	    !simnet_keys_match(S->net, a, b) ||
	    !simnet_keys_match(S->net, b, a)) {
		return -EHOSTUNREACH;
	}
	if (swim_pushpull_export(na->core, join, &buf, &len) < 0) {
		return -ENOMEM;
	}
	swim_pushpull_import(nb->core, buf, len, now, NULL);
	simnet_count_stream(S->net, a, b, len);
	S->pp_bytes += len;
	free(buf);
	if (swim_pushpull_export(nb->core, false, &buf, &len) < 0) {
		return -ENOMEM;
	}
	swim_pushpull_import(na->core, buf, len, now, NULL);
	simnet_count_stream(S->net, b, a, len);
	S->pp_bytes += len;
	free(buf);
	return 0;
}

static struct sim *sim_new(uint32_t n, uint64_t seed, bool names)
{
	struct sim *S = calloc(1, sizeof(*S));
	if (S == NULL) {
		return NULL;
	}
	S->n = n;
	S->names = names;
	S->victim = UINT32_MAX;
	S->state_owner = UINT32_MAX;
	rng_seed(&S->rng, seed);
	swim_config_lan(&S->cfg);
	S->nodes = calloc(n, sizeof(*S->nodes));
	S->net = simnet_new(n, seed ^ 0x5eed, 1, 5, cb_deliver, S);
	if (S->nodes == NULL || S->net == NULL) {
		abort();
	}
	for (uint32_t i = 0; i < n; i++) {
		struct simnode *sn = &S->nodes[i];
		sn->sim = S;
		sn->idx = i;
		for (int k = 0; k < 12; k++) {
			sn->id.b[k] = (uint8_t)rng_next(&S->rng);
		}
		sn->id.b[12] = (uint8_t)(i >> 24);
		sn->id.b[13] = (uint8_t)(i >> 16);
		sn->id.b[14] = (uint8_t)(i >> 8);
		sn->id.b[15] = (uint8_t)i;
		sn->addr.family = 4;
		sn->addr.ip[0] = 10;
		sn->addr.ip[1] = (uint8_t)(i >> 16);
		sn->addr.ip[2] = (uint8_t)(i >> 8);
		sn->addr.ip[3] = (uint8_t)i;
		sn->addr.port = 7946;
	}
	return S;
}

static void sim_free(struct sim *S)
{
	if (S == NULL) {
		return;
	}
	for (uint32_t i = 0; i < S->n; i++) {
		swim_free(S->nodes[i].core);
	}
	simnet_free(S->net);
	free(S->nodes);
	free(S->ppq);
	free(S->detect_ms);
	free(S->state_seen_ms);
	free(S);
}

static void node_start(struct sim *S, uint32_t i, uint64_t incarnation)
{
	struct simnode *sn = &S->nodes[i];
	char name[32];
	snprintf(name, sizeof(name), "node-%u", i);
	struct swim_callbacks cbs = {
	    .send = cb_send,
	    .event = cb_event,
	    .push_pull = cb_push_pull,
	    .ud = sn,
	};
	swim_free(sn->core);
	sn->core =
	    swim_new(&S->cfg, &sn->id, &sn->addr, S->names ? name : NULL,
		     incarnation, rng_next(&S->rng), &cbs, simnet_now(S->net));
	if (sn->core == NULL) {
		abort();
	}
	sn->killed = false;
	simnet_set_up(S->net, i, true);
}

/* Run the cluster until simulated time `until`. */
static void sim_run(struct sim *S, uint64_t until)
{
	for (;;) {
		uint64_t now = simnet_now(S->net);
		uint64_t next = UINT64_MAX;
		for (uint32_t i = 0; i < S->n; i++) {
			struct simnode *sn = &S->nodes[i];
			if (sn->core == NULL || sn->killed) {
				continue;
			}
			uint64_t d = swim_next_deadline(sn->core);
			if (d <= now) {
				swim_tick(sn->core, now);
				d = swim_next_deadline(sn->core);
			}
			next = d < next ? d : next;
		}
		for (size_t k = 0; k < S->n_ppq; k++) {
			push_pull(S, S->ppq[k].from, S->ppq[k].to, false);
		}
		S->n_ppq = 0;
		uint64_t t = simnet_next_time(S->net);
		t = next < t ? next : t;
		if (t <= now) {
			t = now + 1;
		}
		if (t > until) {
			break;
		}
		simnet_run_until(S->net, t);
	}
	simnet_run_until(S->net, until);
}

static uint32_t running(const struct sim *S)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < S->n; i++) {
		n += S->nodes[i].core && !S->nodes[i].killed;
	}
	return n;
}

/* Every running node counts every running node as live (alive/suspect). */
static bool all_see_all(const struct sim *S)
{
	uint32_t want = running(S);
	for (uint32_t i = 0; i < S->n; i++) {
		const struct simnode *sn = &S->nodes[i];
		if (sn->core && !sn->killed &&
		    swim_live_count(sn->core) != want) {
			return false;
		}
	}
	return true;
}

/* Exact check: every running node holds every other one as ALIVE. */
static uint32_t nodes_with_wrong_view(const struct sim *S)
{
	uint32_t bad = 0;
	for (uint32_t i = 0; i < S->n; i++) {
		const struct simnode *a = &S->nodes[i];
		if (!a->core || a->killed) {
			continue;
		}
		for (uint32_t j = 0; j < S->n; j++) {
			const struct simnode *b = &S->nodes[j];
			struct swim_member_info mi;
			if (i == j || b->killed || !b->core) {
				continue;
			}
			if (swim_member_find(a->core, &b->id, &mi) < 0 ||
			    mi.status != SWIM_ALIVE) {
				bad++;
				break;
			}
		}
	}
	return bad;
}

/* Start all nodes at the current time; each joins through node 0. */
static void sim_boot(struct sim *S)
{
	for (uint32_t i = 0; i < S->n; i++) {
		node_start(S, i, 1);
	}
	/* joins one after the other, 2 ms apart (a TCP exchange each) */
	for (uint32_t i = 1; i < S->n; i++) {
		sim_run(S, simnet_now(S->net) + 2);
		push_pull(S, i, 0, true);
	}
}

/* Run until all see all (checked every step_ms) or until `limit`. */
static bool run_converge(struct sim *S, uint64_t limit, uint64_t step_ms,
			 uint64_t *at)
{
	uint64_t t = simnet_now(S->net);
	while (t < limit) {
		t += step_ms;
		sim_run(S, t);
		if (all_see_all(S)) {
			*at = t;
			return true;
		}
		if (getenv("SIM_DEBUG") && (t / 100) % 10 == 0) {
			uint32_t lo = UINT32_MAX, hi = 0;
			uint64_t sum = 0;
			for (uint32_t i = 0; i < S->n; i++) {
				uint32_t c =
				    (uint32_t)swim_live_count(S->nodes[i].core);
				lo = c < lo ? c : lo;
				hi = c > hi ? c : hi;
				sum += c;
			}
			fprintf(stderr,
				"t=%" PRIu64 " live min %u avg %.1f max %u\n",
				t, lo, (double)sum / S->n, hi);
			if (t / 1000 == 10) {
				for (uint32_t j = 0; j < S->n; j++) {
					uint32_t knowers = 0;
					for (uint32_t i = 0; i < S->n; i++) {
						struct swim_member_info mi;
						knowers += i == j ||
							   swim_member_find(
							       S->nodes[i].core,
							       &S->nodes[j].id,
							       &mi) == 0;
					}
					if (knowers < S->n) {
						fprintf(
						    stderr,
						    "  node %u known by %u; "
						    "its live %zu; unknown to:",
						    j, knowers,
						    swim_live_count(
							S->nodes[j].core));
						for (uint32_t i = 0; i < S->n;
						     i++) {
							struct swim_member_info
							    mi;
							if (i != j &&
							    swim_member_find(
								S->nodes[i]
								    .core,
								&S->nodes[j].id,
								&mi) != 0)
								fprintf(stderr,
									" %u",
									i);
						}
						fprintf(stderr, "\n");
					}
				}
			}
		}
	}
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Percentile of the observers' delays (ms after `since`); missing = -1. */
static int delays(const struct sim *S, const uint64_t *seen, uint64_t since,
		  uint32_t skip, uint64_t *p50, uint64_t *p99, uint64_t *max)
{
	uint64_t *d = malloc(S->n * sizeof(*d));
	uint32_t k = 0, missing = 0;
	for (uint32_t i = 0; i < S->n; i++) {
		if (i == skip || S->nodes[i].killed) {
			continue;
		}
		if (seen[i] == 0) {
			missing++;
			continue;
		}
		d[k++] = seen[i] - since;
	}
	if (k == 0) {
		free(d);
		return (int)missing ? -1 : 0;
	}
	qsort(d, k, sizeof(*d), cmp_u64);
	*p50 = d[k / 2];
	*p99 = d[(k * 99) / 100 >= k ? k - 1 : (k * 99) / 100];
	*max = d[k - 1];
	free(d);
	return (int)missing;
}

static uint64_t max_susp_timeout_ms(const struct sim *S, uint32_t n)
{
	double scale = n > 10 ? log10((double)n) : 1.0;
	return (uint64_t)(S->cfg.suspicion_mult * scale *
			  S->cfg.probe_interval_ms * S->cfg.suspicion_max_mult);
}

/* ---- scenarios ---- */

static void sc_converge(uint32_t n)
{
	struct sim *S = sim_new(n, g_seed, true);
	uint64_t at = 0;
	sim_boot(S);
	bool ok = run_converge(S, 60000, 100, &at);
	uint32_t wrong = ok ? nodes_with_wrong_view(S) : n;
	const struct simnet_stats *ns = simnet_get_stats(S->net);
	tap(ok && wrong == 0 && ns->oversize == 0,
	    "converge: %u nodes see all %u alive after %.1f s (wrong views %u, "
	    "largest datagram %" PRIu64 " B sealed)",
	    n, n, (double)at / 1000.0, wrong, ns->max_sealed);
	sim_free(S);
}

static void sc_kill(uint32_t n)
{
	struct sim *S = sim_new(n, g_seed + 1, true);
	uint64_t at = 0, p50 = 0, p99 = 0, max = 0;
	sim_boot(S);
	bool conv = run_converge(S, 60000, 100, &at);
	const uint32_t v = n > 17 ? 17 : n - 1;
	S->victim = v;
	S->detect_ms = calloc(n, sizeof(uint64_t));
	S->count_false_dead = true;
	sim_run(S, at + 5000);
	S->victim_down_ms = simnet_now(S->net);
	S->nodes[v].killed = true;
	simnet_set_up(S->net, v, false);
	uint64_t bound =
	    max_susp_timeout_ms(S, n) + 2 * S->cfg.probe_interval_ms * 8;
	sim_run(S, S->victim_down_ms + bound);
	int missing =
	    delays(S, S->detect_ms, S->victim_down_ms, v, &p50, &p99, &max);
	tap(conv && missing == 0 && S->dead_events == 0,
	    "kill: every node marks the killed node dead (p50 %.1f s, p99 "
	    "%.1f s, max %.1f s; missing %d; other deaths %" PRIu64 ")",
	    (double)p50 / 1000, (double)p99 / 1000, (double)max / 1000, missing,
	    S->dead_events);
	sim_free(S);
}

static void sc_loss(uint32_t n, uint64_t minutes)
{
	struct sim *S = sim_new(n, g_seed + 2, true);
	uint64_t at = 0;
	sim_boot(S);
	bool conv = run_converge(S, 60000, 100, &at);
	S->count_false_dead = true;
	simnet_set_loss(S->net, 0.10);
	uint64_t t0 = simnet_now(S->net);
	uint64_t susp0 = S->suspect_events;
	sim_run(S, t0 + minutes * 60000);
	simnet_set_loss(S->net, 0);
	uint64_t refute = 0;
	for (uint32_t i = 0; i < n; i++) {
		refute += swim_get_stats(S->nodes[i].core)->refutations;
	}
	tap(conv && S->dead_events == 0 && all_see_all(S),
	    "loss: no live node declared dead under 10%% loss over %" PRIu64
	    " simulated minutes (dead %" PRIu64 ", suspect events %" PRIu64
	    ", refutations %" PRIu64 ")",
	    minutes, S->dead_events, S->suspect_events - susp0, refute);
	sim_free(S);
}

static void sc_partition(uint32_t n)
{
	struct sim *S = sim_new(n, g_seed + 3, true);
	uint64_t at = 0, healed = 0;
	sim_boot(S);
	bool conv = run_converge(S, 60000, 100, &at);
	for (uint32_t i = n / 2; i < n; i++) {
		simnet_set_group(S->net, i, 1);
	}
	uint64_t t0 = simnet_now(S->net);
	sim_run(S, t0 + 120000);
	/* each half must have given the other up, or the test proves nothing */
	struct swim_member_info mi;
	bool split =
	    swim_member_find(S->nodes[0].core, &S->nodes[n - 1].id, &mi) == 0 &&
	    mi.status == SWIM_DEAD &&
	    swim_live_count(S->nodes[n - 1].core) <= n / 2 + 1;
	for (uint32_t i = 0; i < n; i++) {
		simnet_set_group(S->net, i, 0);
	}
	uint64_t t1 = simnet_now(S->net);
	bool merged = run_converge(S, t1 + 300000, 500, &healed);
	uint32_t wrong = merged ? nodes_with_wrong_view(S) : n;
	tap(conv && split && merged && wrong == 0,
	    "partition: halves split (%s) and re-merge %.1f s after healing "
	    "(wrong views %u)",
	    split ? "yes" : "no", merged ? (double)(healed - t1) / 1000 : -1.0,
	    wrong);
	sim_free(S);
}

static void sc_keys(uint32_t n)
{
	struct sim *S = sim_new(n, g_seed + 4, true);
	uint64_t at = 0;
	const uint32_t stray = 5; /* never installs the new key */
	sim_boot(S);
	bool conv = run_converge(S, 60000, 100, &at);
	S->count_false_dead = true;
	S->victim = stray;
	S->detect_ms = calloc(n, sizeof(uint64_t));
	S->victim_down_ms = 1;
	uint64_t t = simnet_now(S->net);
	/* install -> use -> remove, node by node, 20 ms apart */
	for (int phase = 0; phase < 3; phase++) {
		for (uint32_t i = 0; i < n; i++) {
			t += 20;
			sim_run(S, t);
			if (i == stray) {
				continue;
			}
			if (phase == 0) {
				simnet_key_install(S->net, i, 1);
			} else if (phase == 1) {
				simnet_key_use(S->net, i, 1);
			} else {
				simnet_key_remove(S->net, i, 0);
			}
		}
		t += 5000;
		sim_run(S, t);
	}
	uint64_t key_drops_during = 0;
	sim_run(S, t + 120000);
	key_drops_during = simnet_get_stats(S->net)->dropped_key;
	/* the stray node is cut off: everyone else must see it dead */
	uint32_t saw_stray = 0;
	for (uint32_t i = 0; i < n; i++) {
		saw_stray += i != stray && S->detect_ms[i] != 0;
	}
	uint32_t ok_views = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (i != stray && swim_live_count(S->nodes[i].core) == n - 1) {
			ok_views++;
		}
	}
	tap(conv && S->dead_events == 0 && ok_views == n - 1 &&
		saw_stray == n - 1,
	    "keys: rotation install/use/remove loses no member (false deaths "
	    "%" PRIu64 ", full views %u/%u); the node without the new key is "
	    "cut off and seen dead by %u/%u (key drops %" PRIu64 ")",
	    S->dead_events, ok_views, n - 1, saw_stray, n - 1,
	    key_drops_during);
	sim_free(S);
}

static void sc_flap(uint32_t n)
{
	struct sim *S = sim_new(n, g_seed + 5, true);
	uint64_t at = 0, settled = 0;
	const uint32_t x = 9;
	sim_boot(S);
	bool conv = run_converge(S, 60000, 100, &at);
	uint64_t t = simnet_now(S->net);
	for (int k = 0; k < 4; k++) {
		simnet_set_up(S->net, x, false);
		t += 40000;
		sim_run(S, t);
		simnet_set_up(S->net, x, true);
		t += 15000;
		sim_run(S, t);
	}
	uint64_t inc = swim_incarnation(S->nodes[x].core);
	bool ok = run_converge(S, t + 180000, 500, &settled);
	uint32_t wrong = ok ? nodes_with_wrong_view(S) : n;
	tap(conv && ok && wrong == 0 && inc > 1,
	    "flap: a node flapping 4x (40 s down / 15 s up) settles %.1f s "
	    "after the last flap, incarnation %" PRIu64 " (wrong views %u)",
	    ok ? (double)(settled - t) / 1000 : -1.0, inc, wrong);
	sim_free(S);
}

static void sc_asym(uint32_t n)
{
	struct sim *S = sim_new(n, g_seed + 6, true);
	uint64_t at = 0;
	sim_boot(S);
	bool conv = run_converge(S, 60000, 100, &at);
	S->count_false_dead = true;
	/* node 3 cannot send to a fifth of the nodes: their direct probes
	 * of 3 fail, indirect ones must carry them */
	const uint32_t last = 3 + n / 5; /* a fifth of its links */
	for (uint32_t j = 4; j <= last; j++) {
		simnet_set_link_drop(S->net, 3, j, true);
	}
	uint64_t t0 = simnet_now(S->net);
	sim_run(S, t0 + 180000);
	uint64_t indirect = 0;
	for (uint32_t j = 4; j <= last; j++) {
		indirect += swim_get_stats(S->nodes[j].core)->indirect_probes;
	}
	tap(conv && S->dead_events == 0 && indirect > 0 && all_see_all(S),
	    "asymmetric: one-way drops 3->{4..%u} cause no death (indirect "
	    "probes by those: %" PRIu64 ")",
	    last, indirect);
	sim_free(S);
}

/* ---- bench ---- */

static void bench(uint32_t n)
{
	struct timespec w0, w1;
	clock_gettime(CLOCK_MONOTONIC, &w0);
	struct sim *S = sim_new(n, g_seed, false);
	uint64_t at = 0;
	sim_boot(S);
	bool conv = run_converge(S, 600000, 100, &at);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	double wall = (double)(w1.tv_sec - w0.tv_sec) +
		      (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
	printf("n=%u converge: %s after %.1f s simulated (%.0f gossip rounds,"
	       " %.0f probe rounds; %.1f s wall; %.1f datagrams per node)\n",
	       n, conv ? "yes" : "NO", (double)at / 1000,
	       (double)at / S->cfg.gossip_interval_ms,
	       (double)at / S->cfg.probe_interval_ms, wall,
	       (double)simnet_get_stats(S->net)->sent / n);
	fflush(stdout);
	/* steady-state traffic over 30 s, then a state change, then a kill */
	sim_run(S, at + 10000);
	simnet_reset_stats(S->net);
	uint64_t t0 = simnet_now(S->net);
	S->count_false_dead = true;
	sim_run(S, t0 + 30000);
	uint64_t pk = 0, by = 0, st = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct simnet_node_stats *ns =
		    simnet_node_stats(S->net, i);
		pk += ns->tx_packets;
		by += ns->tx_bytes;
		st += ns->stream_bytes;
	}
	printf("n=%u steady: %.2f packets and %.0f bytes per node per second "
	       "sent (UDP, sealed); push-pull %.0f bytes per node per second\n",
	       n, (double)pk / n / 30.0, (double)by / n / 30.0,
	       (double)st / 2 / n / 30.0);
	fflush(stdout);
	/* state change propagation */
	S->state_owner = 0;
	S->state_seen_ms = calloc(n, sizeof(uint64_t));
	struct node_state ns0;
	memset(&ns0, 0, sizeof(ns0));
	ns0.cpu_free = 0.5;
	ns0.cpu_cores = 4;
	ns0.mem_free_bytes = 1u << 30;
	ns0.uplink_connected = true;
	S->state_set_ms = simnet_now(S->net);
	swim_set_local_state(S->nodes[0].core, &ns0, S->state_set_ms);
	S->state_version = swim_local_state(S->nodes[0].core)->version;
	sim_run(S, S->state_set_ms + 20000);
	uint64_t p50 = 0, p99 = 0, max = 0;
	int miss =
	    delays(S, S->state_seen_ms, S->state_set_ms, 0, &p50, &p99, &max);
	printf("n=%u state change: reached all but %d nodes; p50 %.2f s, "
	       "p99 %.2f s, all %.2f s\n",
	       n, miss, (double)p50 / 1000, (double)p99 / 1000,
	       (double)max / 1000);
	fflush(stdout);
	/* failure detection */
	const uint32_t v = n > 17 ? 17 : n - 1;
	S->victim = v;
	S->detect_ms = calloc(n, sizeof(uint64_t));
	S->victim_down_ms = simnet_now(S->net);
	S->nodes[v].killed = true;
	simnet_set_up(S->net, v, false);
	sim_run(S, S->victim_down_ms + max_susp_timeout_ms(S, n) + 30000);
	miss = delays(S, S->detect_ms, S->victim_down_ms, v, &p50, &p99, &max);
	printf("n=%u detection: p50 %.1f s, p99 %.1f s, max %.1f s (missing "
	       "%d; suspicion max timeout %.1f s); false positives %" PRIu64
	       "\n",
	       n, (double)p50 / 1000, (double)p99 / 1000, (double)max / 1000,
	       miss, (double)max_susp_timeout_ms(S, n) / 1000, S->dead_events);
	fflush(stdout);
	sim_free(S);
}

int main(int argc, char **argv)
{
	const char *seed = getenv("SIM_SEED");
	if (seed != NULL) {
		g_seed = strtoull(seed, NULL, 0);
	}
	bool bench_mode = getenv("SIM_SWIM_BENCH") != NULL ||
			  (argc > 1 && strcmp(argv[1], "bench") == 0);
	if (bench_mode) {
		int first = argc > 1 && strcmp(argv[1], "bench") == 0 ? 2 : 1;
		if (argc <= first) {
			bench(1000);
			bench(5000);
		}
		for (int i = first; i < argc; i++) {
			bench((uint32_t)strtoul(argv[i], NULL, 10));
		}
		return 0;
	}
	uint32_t n = 200;
	const char *nenv = getenv("SIM_NODES");
	if (nenv != NULL) {
		n = (uint32_t)strtoul(nenv, NULL, 10);
	}
	if (n < 12) {
		fprintf(stderr, "sim_swim: SIM_NODES must be at least 12\n");
		return 2;
	}
	printf("1..7\n");
	sc_converge(n);
	sc_kill(n);
	sc_loss(n, 10);
	sc_partition(n);
	sc_keys(n);
	sc_flap(n);
	sc_asym(n);
	return g_failed ? 1 : 0;
}
