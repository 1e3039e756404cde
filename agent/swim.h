/* SPDX-License-Identifier: Apache-2.0 */
/*
 * swim: the pure membership core (SWIM + Lifeguard, DESIGN §6). No I/O and
 * no clock inside: the caller passes `now_ms`, received datagrams and a
 * seed; the core emits datagrams through a send callback and reports member
 * events through an event callback. The libuv shell (gossip.c) and the
 * simulator (tests/sim) both drive it through this header.
 */
#ifndef FARNODE_SWIM_H
#define FARNODE_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

/* Sealed datagrams are at most this many bytes on the wire (DESIGN §5). */
#define SWIM_DATAGRAM_MAX 1400
/* version(1) + key id(1) + nonce(12) + tag(16) added by sealing. */
#define SWIM_SEAL_OVERHEAD 30
/* Largest plaintext (envelope + body) the core ever hands to send(). */
#define SWIM_PLAINTEXT_MAX (SWIM_DATAGRAM_MAX - SWIM_SEAL_OVERHEAD)
/* Upper bound on members a push-pull state may carry (decode bound). */
#define SWIM_PUSHPULL_MAX_MEMBERS 16384
/* Upper bound on an encoded push-pull state, bytes (decode bound). */
#define SWIM_PUSHPULL_MAX_BYTES (8u << 20)

/* A gossip endpoint: IPv4 (family 4, ip[0..3]) or IPv6 (family 6). */
struct swim_addr {
	uint8_t family;
	uint8_t ip[16];
	uint16_t port;
};

bool swim_addr_equal(const struct swim_addr *a, const struct swim_addr *b);
/* Format "a.b.c.d:port" or "[v6]:port" into out (at least 48 bytes). */
void swim_addr_format(const struct swim_addr *a, char *out, size_t cap);

enum swim_status {
	SWIM_ALIVE = 0,
	SWIM_SUSPECT = 1,
	SWIM_DEAD = 2,
	SWIM_LEFT = 3,
};

const char *swim_status_name(enum swim_status st);

/* Timing and fan-out knobs; see swim_config_lan() for meanings. */
struct swim_config {
	uint32_t probe_interval_ms;  /* one probe per interval */
	uint32_t probe_timeout_ms;   /* wait for a direct ack */
	uint32_t indirect_checks;    /* k ping-req helpers */
	uint32_t suspicion_mult;     /* min timeout = mult*log10(n)*interval */
	uint32_t suspicion_max_mult; /* max timeout = this * min timeout */
	uint32_t retransmit_mult;    /* λ: budget = λ*ceil(log10(n+1)) */
	uint32_t gossip_interval_ms; /* piggyback-only datagrams this often */
	uint32_t gossip_nodes;	     /* to this many random members */
	uint32_t gossip_to_dead_ms;  /* keep gossiping to the dead this long */
	uint32_t push_pull_interval_ms; /* anti-entropy (0 = off) */
	uint32_t awareness_max;		/* Lifeguard: multiplier ceiling */
	uint32_t reap_after_ms; /* forget dead/left members after this */
	uint32_t
	    reconnect_interval_ms; /* push-pull with a dead member (0 off) */
};

/* memberlist DefaultLANConfig-equivalent values. */
void swim_config_lan(struct swim_config *c);
/* memberlist DefaultWANConfig-equivalent values. */
void swim_config_wan(struct swim_config *c);

/* A read-only view of one member (pointers borrowed until the next call). */
struct swim_member_info {
	struct node_id id;
	struct swim_addr addr;
	const char *name; /* "" if unknown */
	enum swim_status status;
	uint64_t incarnation;
	uint64_t state_change_ms;	/* when status last changed */
	uint64_t last_heard_ms;		/* last datagram from it, 0 = never */
	const struct node_state *state; /* NULL until one was received */
	struct link_state link;		/* from our probes of it */
};

enum swim_event {
	SWIM_EV_JOIN = 0,  /* a member we did not know */
	SWIM_EV_ALIVE = 1, /* back to alive (refuted or rejoined) */
	SWIM_EV_SUSPECT = 2,
	SWIM_EV_DEAD = 3,
	SWIM_EV_LEFT = 4,
	SWIM_EV_UPDATE = 5, /* new node state, address or name */
	SWIM_EV_REAP = 6,   /* forgotten after reap_after_ms */
};

struct swim_callbacks {
	/* Emit one plaintext datagram (<= SWIM_PLAINTEXT_MAX); buf borrowed. */
	void (*send)(void *ud, const struct swim_addr *to, const uint8_t *buf,
		     size_t len);
	/* Member event (optional). */
	void (*event)(void *ud, enum swim_event ev,
		      const struct swim_member_info *m);
	/*
	 * Ask the shell to run a push-pull exchange with `to` (optional):
	 * send swim_pushpull_export() and feed the reply to
	 * swim_pushpull_import().
	 */
	void (*push_pull)(void *ud, const struct swim_addr *to);
	void *ud;
};

/* Counters of everything the core dropped or did, for metrics and tests. */
struct swim_stats {
	uint64_t rx_datagrams;
	uint64_t tx_datagrams;
	uint64_t tx_bytes;
	uint64_t drop_malformed;     /* envelope or body failed to decode */
	uint64_t drop_bad_type;	     /* unknown message type */
	uint64_t drop_too_big;	     /* datagram/push-pull over the bound */
	uint64_t drop_impersonation; /* id claimed from another address */
	uint64_t drop_self_sender;   /* datagram claiming to be from us */
	uint64_t drop_misrouted;     /* ping for a different target id */
	uint64_t drop_stale_self;    /* suspect/dead of us, old incarnation */
	uint64_t drop_unknown_ack;   /* ack/nack with no matching probe */
	uint64_t drop_bad_update;    /* piggybacked update failed checks */
	uint64_t drop_unsolicited;   /* ping-req while not a member, etc. */
	uint64_t refutations;	     /* times we bumped our incarnation */
	uint64_t probes;
	uint64_t probe_failures; /* direct + indirect both failed */
	uint64_t indirect_probes;
	uint64_t suspicions_started; /* by our own probes */
	uint64_t confirmations;	     /* independent suspicions counted */
	uint64_t declared_dead;	     /* by our own suspicion timers */
	uint64_t updates_sent;	     /* piggybacked updates transmitted */
	uint64_t updates_received;
	uint64_t push_pulls;
	uint64_t reaped;
};

struct swim;

/*
 * Create a core for node `self` reachable at `self_addr`. `name` may be
 * NULL. `incarnation` is the starting incarnation (the store's generation).
 * `cbs` is copied. Returns NULL on allocation failure or bad config.
 */
struct swim *swim_new(const struct swim_config *cfg, const struct node_id *self,
		      const struct swim_addr *self_addr, const char *name,
		      uint64_t incarnation, uint64_t seed,
		      const struct swim_callbacks *cbs, uint64_t now_ms);
/* Free the core; NULL-safe. No callbacks are called. */
void swim_free(struct swim *s);

/* Run every timer due at now_ms (probes, gossip, suspicions, reaping). */
void swim_tick(struct swim *s, uint64_t now_ms);
/* Earliest time swim_tick() has work; the shell arms a timer for it. */
uint64_t swim_next_deadline(const struct swim *s);

/*
 * Feed one received plaintext datagram (already opened) from `from`.
 * Returns 0, or a negative errno when it was dropped (also counted).
 */
int swim_recv(struct swim *s, const struct swim_addr *from, const uint8_t *buf,
	      size_t len, uint64_t now_ms);

/*
 * Push-pull (anti-entropy) state. Export encodes our full member table
 * into a malloc'd buffer the caller frees; `join` marks a join request.
 * Import merges a peer's state (bounded by SWIM_PUSHPULL_MAX_*).
 * Both return 0 or a negative errno.
 */
int swim_pushpull_export(struct swim *s, bool join, uint8_t **out,
			 size_t *out_len);
int swim_pushpull_import(struct swim *s, const uint8_t *buf, size_t len,
			 uint64_t now_ms, bool *is_join);

/* Start a graceful leave: gossip LEFT about ourselves, stop probing. */
void swim_leave(struct swim *s, uint64_t now_ms);
/* True once the leave was transmitted to enough members (or alone). */
bool swim_leave_done(const struct swim *s);

/* Replace our gossiped node state (its version is set by the core). */
void swim_set_local_state(struct swim *s, const struct node_state *st,
			  uint64_t now_ms);
/* Our current node state (version 0 = never set). */
const struct node_state *swim_local_state(const struct swim *s);

uint64_t swim_incarnation(const struct swim *s);
const struct node_id *swim_self_id(const struct swim *s);
/* Members known, not counting ourselves (all statuses). */
size_t swim_member_count(const struct swim *s);
/* Members alive or suspect, counting ourselves. */
size_t swim_live_count(const struct swim *s);
/* i-th member in table order (0 <= i < count). Returns 0 or -ENOENT. */
int swim_member_at(const struct swim *s, size_t i,
		   struct swim_member_info *out);
/* Look a member up by id. Returns 0 or -ENOENT. */
int swim_member_find(const struct swim *s, const struct node_id *id,
		     struct swim_member_info *out);
/* Current Lifeguard local-health score (0 = healthy). */
uint32_t swim_health_score(const struct swim *s);
const struct swim_stats *swim_get_stats(const struct swim *s);
/* Pending piggyback updates in the retransmit queue. */
size_t swim_queue_len(const struct swim *s);

#endif
