/* SPDX-License-Identifier: Apache-2.0 */
/*
 * swim_int: internals shared by the SWIM core's files (swim.c: table,
 * update rules, receive path; swim_probe.c: failure detector and timers;
 * swim_bcast.c: piggyback queue and datagram assembly). Not a public API.
 */
#ifndef FARNODE_SWIM_INT_H
#define FARNODE_SWIM_INT_H

#include "rng.h"
#include "swim.h"
#include "wire_swim.h"

#define SWIM_BUCKETS	   64 /* retransmit counts tracked (limit is lower) */
#define SWIM_RELAYS_MAX	   64 /* concurrent ping-req relays we serve */
#define SWIM_CONFIRM_MAX   16 /* distinct suspecters remembered */
#define SWIM_PROBE_HELPERS 16 /* bound on indirect_checks */

/* One queued piggyback update (membership slot 0, node-state slot 1). */
struct swim_bcast {
	struct swim_bcast *prev, *next;
	struct swim_member *m;
	uint32_t transmits;
	uint8_t slot;
	uint16_t len;
	uint8_t buf[];
};

/* Lifeguard suspicion: timeout shrinks from max to min with confirmations. */
struct swim_suspicion {
	uint64_t start_ms;
	uint64_t min_ms;
	uint64_t max_ms;
	uint64_t deadline_ms;
	uint32_t k;	 /* confirmations that bring it down to min */
	uint32_t n_from; /* distinct suspecters recorded in from[] */
	struct node_id from[SWIM_CONFIRM_MAX];
};

struct swim_member {
	struct node_id id;
	struct swim_addr addr;
	uint8_t status; /* enum swim_status */
	bool in_watch;	/* listed in swim.watch */
	bool quiet;	/* learned by push-pull, not yet relayed */
	uint64_t incarnation;
	uint64_t state_change_ms;
	uint64_t last_heard_ms;
	uint64_t state_inc; /* incarnation the node state belongs to */
	char *name;	    /* NULL if none */
	struct node_state *state;
	struct swim_suspicion *susp;
	struct swim_bcast *bc[2];
	float rtt_ms; /* < 0 unknown */
	float loss;
	uint32_t idx; /* position in swim.members */
};

struct swim_relay {
	bool used;
	bool want_nack;
	uint32_t our_seq;
	uint32_t origin_seq;
	struct swim_addr origin;
	uint64_t deadline_ms;
};

struct swim_probe {
	bool active;
	bool indirect_sent;
	struct node_id target;
	struct swim_addr target_addr;
	uint32_t seq;
	uint64_t start_ms;
	uint64_t ack_deadline_ms;
	uint64_t end_ms;
	uint32_t expected_nacks;
	uint32_t nacks;
};

struct swim {
	struct swim_config cfg;
	struct swim_callbacks cb;
	struct rng rng;
	struct swim_member self;
	bool leaving;
	bool importing; /* inside swim_pushpull_import() */
	double hint_p;	/* chance an imported new member is hinted */

	struct swim_member **members; /* probe order; shuffled per round */
	size_t n_members;
	size_t cap_members;
	size_t n_live;		   /* alive + suspect, without self */
	struct swim_member **htab; /* open addressing by id */
	size_t hcap;
	size_t probe_idx;

	struct swim_member **watch; /* suspect/dead/left members */
	size_t n_watch;
	size_t cap_watch;

	struct swim_probe probe;
	uint32_t seq;
	uint32_t awareness;
	struct swim_relay relays[SWIM_RELAYS_MAX];

	uint64_t next_probe_ms;
	uint64_t next_gossip_ms;
	uint64_t next_pp_ms;
	uint64_t next_reap_ms;
	uint64_t next_reconnect_ms;
	uint64_t next_deadline;

	struct swim_bcast *q[2][SWIM_BUCKETS]; /* [slot][transmits] */
	size_t q_len;
	uint64_t leave_transmits;

	struct swim_stats stats;
	/* a member the current datagram's sender holds stale facts about */
	bool correct;
	struct node_id correct_id;
	struct node_state local_state;
	uint8_t body[SWIM_PLAINTEXT_MAX];
	uint8_t pkt[SWIM_PLAINTEXT_MAX];
};

/* Node ids compare on every update; keep it inline (node_id_equal is
 * out of line in node.c). */
static inline bool swim__id_eq(const struct node_id *a, const struct node_id *b)
{
	uint64_t a0, a1, b0, b1;
	__builtin_memcpy(&a0, a->b, 8);
	__builtin_memcpy(&a1, a->b + 8, 8);
	__builtin_memcpy(&b0, b->b, 8);
	__builtin_memcpy(&b1, b->b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/* swim.c */
struct swim_member *swim__find(const struct swim *s, const struct node_id *id);
void swim__set_status(struct swim *s, struct swim_member *m, uint8_t st,
		      uint64_t now_ms);
void swim__emit(struct swim *s, enum swim_event ev,
		const struct swim_member *m);
void swim__member_update(const struct swim *s, const struct swim_member *m,
			 struct swim_update *u);
void swim__on_suspect(struct swim *s, const struct swim_update *u,
		      uint64_t now_ms);
void swim__on_dead(struct swim *s, const struct swim_update *u,
		   uint64_t now_ms);
void swim__refute(struct swim *s, uint64_t min_inc);
void swim__remove(struct swim *s, struct swim_member *m);
uint64_t swim__scale(const struct swim *s, uint64_t ms);
size_t swim__cluster_size(const struct swim *s);

/* swim_bcast.c */
void swim__queue(struct swim *s, struct swim_member *m, uint8_t slot,
		 const struct swim_update *u);
void swim__queue_member(struct swim *s, struct swim_member *m);
/* Queue m's membership update for a single, low-priority transmission. */
void swim__queue_hint(struct swim *s, struct swim_member *m);
void swim__drop_bcasts(struct swim *s, struct swim_member *m);
uint32_t swim__retransmit_limit(const struct swim *s);
/* Send head to `to` with piggybacked updates; `first` (may be NULL) is
 * packed before the queue (buddy system). */
void swim__send(struct swim *s, const struct swim_addr *to,
		const struct swim_msg_head *h, const struct swim_update *first);

/* swim_probe.c */
void swim__tick_probe(struct swim *s, uint64_t now_ms);
void swim__on_ack(struct swim *s, const struct swim_addr *from,
		  const struct node_id *sender, uint32_t seq, uint64_t now_ms);
void swim__on_nack(struct swim *s, uint32_t seq);
void swim__on_ping_req(struct swim *s, const struct swim_addr *from,
		       const struct swim_msg_head *h, uint64_t now_ms);
void swim__suspicion_start(struct swim *s, struct swim_member *m,
			   const struct node_id *from, uint64_t now_ms);
bool swim__suspicion_confirm(struct swim *s, struct swim_member *m,
			     const struct node_id *from, uint64_t now_ms);
void swim__tick_watch(struct swim *s, uint64_t now_ms);
void swim__tick_gossip(struct swim *s, uint64_t now_ms);
void swim__awareness(struct swim *s, int delta);
void swim__watch(struct swim *s, struct swim_member *m);

#endif
