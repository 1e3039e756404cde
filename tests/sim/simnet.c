// SPDX-License-Identifier: Apache-2.0
// simnet: fake clock + datagram network for the simulators. Datagrams wait
// in a binary heap ordered by (delivery time, send sequence), so a run is
// a pure function of the seed.

#include <stdlib.h>
#include <string.h>

#include "simnet.h"

#define SEAL_OVERHEAD 30
#define DATAGRAM_MAX  1400

struct pkt {
	uint64_t at;
	uint64_t seq;
	uint32_t from, to;
	uint32_t len;
	uint8_t key;
	uint8_t *buf;
};

struct simnode {
	bool up;
	uint32_t group;
	uint8_t keys; /* bitmask of installed key ids */
	uint8_t primary;
	struct simnet_node_stats st;
};

struct simnet {
	uint32_t n;
	uint64_t now;
	uint64_t seq;
	uint64_t lat_seed;
	uint32_t lat_min, lat_max;
	double loss;
	struct rng rng;
	struct simnode *nodes;
	struct pkt *heap;
	size_t heap_len, heap_cap;
	/* asymmetric drops: small list of (from, to) */
	uint64_t *drops;
	size_t n_drops, cap_drops;
	simnet_deliver_fn fn;
	void *ud;
	struct simnet_stats st;
};

struct simnet *simnet_new(uint32_t n, uint64_t seed, uint32_t lat_min_ms,
			  uint32_t lat_max_ms, simnet_deliver_fn fn, void *ud)
{
	struct simnet *net = calloc(1, sizeof(*net));
	if (net == NULL) {
		return NULL;
	}
	net->nodes = calloc(n, sizeof(*net->nodes));
	if (net->nodes == NULL) {
		free(net);
		return NULL;
	}
	net->n = n;
	rng_seed(&net->rng, seed);
	net->lat_seed = rng_next(&net->rng);
	net->lat_min = lat_min_ms;
	net->lat_max = lat_max_ms < lat_min_ms ? lat_min_ms : lat_max_ms;
	net->fn = fn;
	net->ud = ud;
	for (uint32_t i = 0; i < n; i++) {
		net->nodes[i].up = true;
		net->nodes[i].keys = 1; /* key 0 installed and primary */
	}
	return net;
}

void simnet_free(struct simnet *net)
{
	if (net == NULL) {
		return;
	}
	for (size_t i = 0; i < net->heap_len; i++) {
		free(net->heap[i].buf);
	}
	free(net->heap);
	free(net->drops);
	free(net->nodes);
	free(net);
}

uint64_t simnet_now(const struct simnet *net)
{
	return net->now;
}

static bool pkt_less(const struct pkt *a, const struct pkt *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static int heap_push(struct simnet *net, const struct pkt *p)
{
	if (net->heap_len == net->heap_cap) {
		size_t cap = net->heap_cap ? net->heap_cap * 2 : 1024;
		struct pkt *h = realloc(net->heap, cap * sizeof(*h));
		if (h == NULL) {
			return -1;
		}
		net->heap = h;
		net->heap_cap = cap;
	}
	size_t i = net->heap_len++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!pkt_less(p, &net->heap[parent])) {
			break;
		}
		net->heap[i] = net->heap[parent];
		i = parent;
	}
	net->heap[i] = *p;
	return 0;
}

static void heap_pop(struct simnet *net, struct pkt *out)
{
	*out = net->heap[0];
	struct pkt last = net->heap[--net->heap_len];
	size_t i = 0, n = net->heap_len;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct pkt *best = &last;
		if (l < n && pkt_less(&net->heap[l], best)) {
			m = l;
			best = &net->heap[l];
		}
		if (r < n && pkt_less(&net->heap[r], best)) {
			m = r;
		}
		if (m == i) {
			break;
		}
		net->heap[i] = net->heap[m];
		i = m;
	}
	if (n > 0) {
		net->heap[i] = last;
	}
}

static uint32_t link_latency(const struct simnet *net, uint32_t from,
			     uint32_t to)
{
	uint64_t x = net->lat_seed ^ ((uint64_t)from << 32 | to);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	uint32_t span = net->lat_max - net->lat_min + 1;
	return net->lat_min + (uint32_t)(x % span);
}

static bool link_dropped(const struct simnet *net, uint32_t from, uint32_t to)
{
	uint64_t key = (uint64_t)from << 32 | to;
	for (size_t i = 0; i < net->n_drops; i++) {
		if (net->drops[i] == key) {
			return true;
		}
	}
	return false;
}

bool simnet_can_reach(const struct simnet *net, uint32_t from, uint32_t to)
{
	const struct simnode *a = &net->nodes[from], *b = &net->nodes[to];
	return a->up && b->up && a->group == b->group &&
	       !link_dropped(net, from, to);
}

bool simnet_keys_match(const struct simnet *net, uint32_t from, uint32_t to)
{
	return (net->nodes[to].keys >> net->nodes[from].primary) & 1;
}

void simnet_send(struct simnet *net, uint32_t from, uint32_t to,
		 const uint8_t *buf, size_t len)
{
	size_t sealed = len + SEAL_OVERHEAD;
	struct simnode *a = &net->nodes[from];
	if (!a->up) {
		return;
	}
	net->st.sent++;
	a->st.tx_packets++;
	a->st.tx_bytes += sealed;
	if (sealed > net->st.max_sealed) {
		net->st.max_sealed = sealed;
	}
	if (sealed > DATAGRAM_MAX) {
		net->st.oversize++;
		return;
	}
	if (net->loss > 0 && rng_unit(&net->rng) < net->loss) {
		net->st.lost++;
		return;
	}
	struct pkt p = {
	    .at = net->now + link_latency(net, from, to),
	    .seq = net->seq++,
	    .from = from,
	    .to = to,
	    .len = (uint32_t)len,
	    .buf = malloc(len ? len : 1),
	};
	if (p.buf == NULL) {
		return;
	}
	/* the key is chosen when sealing, i.e. at send time */
	p.key = a->primary;
	memcpy(p.buf, buf, len);
	if (heap_push(net, &p) < 0) {
		free(p.buf);
	}
}

uint64_t simnet_next_time(const struct simnet *net)
{
	return net->heap_len ? net->heap[0].at : UINT64_MAX;
}

void simnet_run_until(struct simnet *net, uint64_t t)
{
	while (net->heap_len > 0 && net->heap[0].at <= t) {
		struct pkt p;
		heap_pop(net, &p);
		if (p.at > net->now) {
			net->now = p.at;
		}
		unsigned key = p.key;
		struct simnode *b = &net->nodes[p.to];
		if (!simnet_can_reach(net, p.from, p.to)) {
			net->st.dropped_link++;
		} else if (!((b->keys >> key) & 1)) {
			net->st.dropped_key++;
		} else {
			net->st.delivered++;
			b->st.rx_packets++;
			b->st.rx_bytes += p.len + SEAL_OVERHEAD;
			net->fn(net->ud, p.to, p.from, p.buf, p.len);
		}
		free(p.buf);
	}
	if (t > net->now) {
		net->now = t;
	}
}

void simnet_set_loss(struct simnet *net, double loss)
{
	net->loss = loss;
}

void simnet_set_link_drop(struct simnet *net, uint32_t from, uint32_t to,
			  bool drop)
{
	uint64_t key = (uint64_t)from << 32 | to;
	for (size_t i = 0; i < net->n_drops; i++) {
		if (net->drops[i] == key) {
			if (!drop) {
				net->drops[i] = net->drops[--net->n_drops];
			}
			return;
		}
	}
	if (!drop) {
		return;
	}
	if (net->n_drops == net->cap_drops) {
		size_t cap = net->cap_drops ? net->cap_drops * 2 : 16;
		uint64_t *d = realloc(net->drops, cap * sizeof(*d));
		if (d == NULL) {
			return;
		}
		net->drops = d;
		net->cap_drops = cap;
	}
	net->drops[net->n_drops++] = key;
}

void simnet_set_group(struct simnet *net, uint32_t node, uint32_t group)
{
	net->nodes[node].group = group;
}

void simnet_set_up(struct simnet *net, uint32_t node, bool up)
{
	net->nodes[node].up = up;
}

bool simnet_is_up(const struct simnet *net, uint32_t node)
{
	return net->nodes[node].up;
}

void simnet_key_install(struct simnet *net, uint32_t node, unsigned key)
{
	net->nodes[node].keys |= (uint8_t)(1u << key);
}

void simnet_key_remove(struct simnet *net, uint32_t node, unsigned key)
{
	if (net->nodes[node].primary != key) {
		net->nodes[node].keys &= (uint8_t) ~(1u << key);
	}
}

void simnet_key_use(struct simnet *net, uint32_t node, unsigned key)
{
	if ((net->nodes[node].keys >> key) & 1) {
		net->nodes[node].primary = (uint8_t)key;
	}
}

void simnet_count_stream(struct simnet *net, uint32_t from, uint32_t to,
			 size_t len)
{
	net->nodes[from].st.stream_bytes += len;
	net->nodes[to].st.stream_bytes += len;
}

const struct simnet_stats *simnet_get_stats(const struct simnet *net)
{
	return &net->st;
}

const struct simnet_node_stats *simnet_node_stats(const struct simnet *net,
						  uint32_t node)
{
	return &net->nodes[node].st;
}

void simnet_reset_stats(struct simnet *net)
{
	memset(&net->st, 0, sizeof(net->st));
	for (uint32_t i = 0; i < net->n; i++) {
		memset(&net->nodes[i].st, 0, sizeof(net->nodes[i].st));
	}
}
