/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox: store-and-forward of the events a node reports to the hub
 * (DESIGN §8). Every event is written to the store's outbox table before it
 * is sent and deleted when the broker acknowledges it (PUBACK), so a crash
 * or a long outage loses nothing. The table is bounded in bytes: when full,
 * the oldest event of the lowest priority goes first, and the number of
 * events dropped is itself queued as a DROPPED event (never dropped).
 * Events are handed out in order at a token-bucket rate; their event id
 * (the row's never-reused sequence number) identifies duplicates after an
 * at-least-once retransmission.
 */
#ifndef FARNODE_OUTBOX_H
#define FARNODE_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"

struct outbox;
struct store;

/* Bytes counted per row on top of its payload (ids, kind, time, index). */
#define OUTBOX_ROW_OVERHEAD 48
/* Priority of the DROPPED report. */
#define OUTBOX_DROP_PRIORITY UPLINK_PRIORITY_MAX

/*
 * Encode the payload of a DROPPED event reporting count events into
 * buf[0..cap). Returns 0 and *len, or a negative errno.
 */
typedef int (*outbox_encode_dropped_fn)(uint64_t count, uint8_t *buf,
					size_t cap, size_t *len);

struct outbox_config {
	uint64_t max_bytes; /* bound on payloads + row overhead; 0 = 8 MiB */
	double rate_per_s;  /* events handed out per second; 0 = unlimited */
	uint32_t burst;	    /* token bucket depth; 0 = 32 */
	/* NULL: the payload is the count as 8 bytes big endian (tests). */
	outbox_encode_dropped_fn encode_dropped;
};

/* One event as read back for sending. payload is owned: outbox_event_fini. */
struct outbox_event {
	uint64_t event_id;
	enum uplink_event_kind kind;
	uint32_t priority;
	uint64_t time_ms;
	bool historical;
	uint64_t dropped; /* DROPPED events: the count reported */
	uint8_t *payload;
	size_t payload_len;
};

struct outbox_stats {
	uint64_t queued;       /* rows in the table */
	uint64_t bytes;	       /* accounted bytes of those rows */
	uint64_t max_bytes;    /* the bound */
	uint64_t put;	       /* events accepted since open */
	uint64_t handed;       /* events handed out by outbox_next since open */
	uint64_t acked;	       /* events deleted by outbox_ack since open */
	uint64_t dropped;      /* events dropped to stay in bound since open */
	uint64_t rate_limited; /* outbox_next calls refused for rate */
};

/*
 * Open the outbox over st (borrowed, must outlive it). Reads the current
 * size; every stored event counts as not yet sent. Returns 0 and *out, or
 * -ENOMEM / a store error.
 */
int outbox_open(struct store *st, const struct outbox_config *cfg,
		struct outbox **out);
/* Free the in-memory state; the table is untouched. NULL-safe. */
void outbox_free(struct outbox *ob);

/* Change the byte bound (live reload); takes effect on the next put. */
void outbox_set_max_bytes(struct outbox *ob, uint64_t max_bytes);
/* Change the rate (0 = unlimited) and burst (0 = 32). */
void outbox_set_rate(struct outbox *ob, double rate_per_s, uint32_t burst);

/*
 * Whether the hub is reachable now. Events put while offline are flagged
 * historical. Starts offline.
 */
void outbox_set_online(struct outbox *ob, bool online);

/*
 * Queue one event (payload copied into the store) in one transaction,
 * dropping the oldest lowest-priority events as needed to stay in bound
 * and recording the drop in the pending DROPPED report. *event_id (may be
 * NULL) gets its id. Returns 0, -EINVAL (bad kind or priority), -EMSGSIZE
 * (payload over UPLINK_PAYLOAD_MAX or larger than the bound itself), or a
 * store error (nothing changed then).
 */
int outbox_put(struct outbox *ob, enum uplink_event_kind kind,
	       uint32_t priority, uint64_t time_ms, const uint8_t *payload,
	       size_t payload_len, uint64_t *event_id);

/*
 * The next event not yet handed out, in event id order, consuming one rate
 * token. Returns 0 and fills *ev (free with outbox_event_fini), -ENOENT
 * when nothing is waiting, -EAGAIN when the rate limit says wait (see
 * outbox_ready_ms), or a store error.
 */
int outbox_next(struct outbox *ob, uint64_t now_ms, struct outbox_event *ev);

/* Time (ms, same clock as now_ms) at which a rate token is available. */
uint64_t outbox_ready_ms(const struct outbox *ob, uint64_t now_ms);

/* Events stored but not yet handed out by outbox_next. */
uint64_t outbox_pending(const struct outbox *ob);

/*
 * The event was delivered (PUBACK): delete it. Acknowledging an unknown id
 * (already deleted or dropped) is not an error. Returns 0 or a store error.
 */
int outbox_ack(struct outbox *ob, uint64_t event_id);

/*
 * outbox_ack for several events in one transaction (all or none). Returns
 * 0 or a store error (then nothing was deleted).
 */
int outbox_ack_many(struct outbox *ob, const uint64_t *event_ids, size_t n);

/*
 * Forget what was handed out: the next outbox_next starts again at the
 * oldest stored event (used when the sending session was discarded).
 */
void outbox_rewind(struct outbox *ob);

/* Counters and size (copied). */
void outbox_stats(const struct outbox *ob, struct outbox_stats *out);

/* Free an event's payload and zero it. NULL-safe. */
void outbox_event_fini(struct outbox_event *ev);

/* Default priorities by kind (learning 1, decisions 2, workloads 5, ...). */
uint32_t outbox_default_priority(enum uplink_event_kind kind);

#endif
