/* SPDX-License-Identifier: Apache-2.0 */
/*
 * simnet: a deterministic fake clock and datagram network for simulating
 * many nodes in one process. Per-link latency, uniform loss, asymmetric
 * per-link drops, partitions (groups), node down/up, and a keyring model
 * (a datagram sealed with a key the receiver lacks is dropped). It carries
 * real encoded bytes so traffic per node can be measured.
 */
#ifndef FARNODE_SIMNET_H
#define FARNODE_SIMNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"

#define SIMNET_KEYS 8 /* key ids 0..7 */

/* Called when a datagram reaches node `to`; buf valid during the call. */
typedef void (*simnet_deliver_fn)(void *ud, uint32_t to, uint32_t from,
				  const uint8_t *buf, size_t len);

struct simnet_node_stats {
	uint64_t tx_packets, tx_bytes; /* sealed size on the wire */
	uint64_t rx_packets, rx_bytes;
	uint64_t stream_bytes; /* push-pull (TCP) both directions */
};

struct simnet_stats {
	uint64_t sent, delivered;
	uint64_t lost;	       /* uniform loss */
	uint64_t dropped_link; /* per-link drop, partition or node down */
	uint64_t dropped_key;  /* receiver lacks the sealing key */
	uint64_t oversize;     /* sealed size > 1,400 bytes */
	uint64_t max_sealed;   /* largest sealed datagram seen */
};

struct simnet;

/*
 * n nodes; latency of a link is fixed per (from, to) pair, uniform in
 * [lat_min_ms, lat_max_ms] drawn from seed. Returns NULL on ENOMEM.
 */
struct simnet *simnet_new(uint32_t n, uint64_t seed, uint32_t lat_min_ms,
			  uint32_t lat_max_ms, simnet_deliver_fn fn, void *ud);
void simnet_free(struct simnet *net);

uint64_t simnet_now(const struct simnet *net);
/* Queue a datagram of plaintext len (the sealing overhead is added). */
void simnet_send(struct simnet *net, uint32_t from, uint32_t to,
		 const uint8_t *buf, size_t len);
/* Deliver every datagram due at or before t; the clock moves to t. */
void simnet_run_until(struct simnet *net, uint64_t t);
/* Time of the next queued datagram, UINT64_MAX if none. */
uint64_t simnet_next_time(const struct simnet *net);

/* Uniform loss probability for every datagram (0..1). */
void simnet_set_loss(struct simnet *net, double loss);
/* Drop everything from -> to (one direction) while on. */
void simnet_set_link_drop(struct simnet *net, uint32_t from, uint32_t to,
			  bool drop);
/* Partition group of a node; datagrams cross only within a group. */
void simnet_set_group(struct simnet *net, uint32_t node, uint32_t group);
/* A down node neither sends nor receives. */
void simnet_set_up(struct simnet *net, uint32_t node, bool up);
bool simnet_is_up(const struct simnet *net, uint32_t node);
/* Could a datagram go from -> to right now (ignoring random loss)? */
bool simnet_can_reach(const struct simnet *net, uint32_t from, uint32_t to);

/* Keyring model: install/remove key ids, choose the sealing key. */
void simnet_key_install(struct simnet *net, uint32_t node, unsigned key);
void simnet_key_remove(struct simnet *net, uint32_t node, unsigned key);
void simnet_key_use(struct simnet *net, uint32_t node, unsigned key);
/* Can `to` open what `from` seals now? */
bool simnet_keys_match(const struct simnet *net, uint32_t from, uint32_t to);

/* Count TCP (push-pull) traffic for a node. */
void simnet_count_stream(struct simnet *net, uint32_t from, uint32_t to,
			 size_t len);

const struct simnet_stats *simnet_get_stats(const struct simnet *net);
const struct simnet_node_stats *simnet_node_stats(const struct simnet *net,
						  uint32_t node);
/* Reset all counters (totals and per node). */
void simnet_reset_stats(struct simnet *net);

#endif
