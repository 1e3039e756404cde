// SPDX-License-Identifier: Apache-2.0
// swim_bcast: the piggyback queue and datagram assembly. Queued updates are
// kept pre-encoded in buckets by slot (membership, node state) and
// retransmit count; a datagram takes the least-sent (then membership
// before node state, then newest) ones that fit its byte budget, and an
// update is dropped after λ·ceil(log10(n + 1)) transmissions. One update
// per member and slot: a newer fact about a member replaces the older one.

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_TAG "swim"
#include "log.h"
#include "swim_int.h"

/* Walk at most this many queued updates when filling one datagram, and
 * stop after MISS_MAX that did not fit or when less than MIN_ITEM (the
 * smallest encoded update: kind, id, incarnation) is left. */
#define SCAN_MAX 512
#define MISS_MAX 8
#define MIN_ITEM 22

static void unlink_bcast(struct swim *s, struct swim_bcast *b)
{
	if (b->prev != NULL) {
		b->prev->next = b->next;
	} else {
		s->q[b->slot][b->transmits] = b->next;
	}
	if (b->next != NULL) {
		b->next->prev = b->prev;
	}
	b->prev = b->next = NULL;
}

static void link_bcast(struct swim *s, struct swim_bcast *b)
{
	b->prev = NULL;
	b->next = s->q[b->slot][b->transmits];
	if (b->next != NULL) {
		b->next->prev = b;
	}
	s->q[b->slot][b->transmits] = b;
}

static void free_bcast(struct swim *s, struct swim_bcast *b)
{
	unlink_bcast(s, b);
	b->m->bc[b->slot] = NULL;
	s->q_len--;
	free(b);
}

uint32_t swim__retransmit_limit(const struct swim *s)
{
	double n = (double)swim__cluster_size(s);
	uint32_t limit =
	    s->cfg.retransmit_mult * (uint32_t)ceil(log10(n + 1.0));
	if (limit < 1) {
		limit = 1;
	}
	if (limit >= SWIM_BUCKETS) {
		limit = SWIM_BUCKETS - 1;
	}
	return limit;
}

void swim__queue(struct swim *s, struct swim_member *m, uint8_t slot,
		 const struct swim_update *u)
{
	uint8_t tmp[SWIM_UPDATE_ENC_MAX];
	size_t len;
	if (wire_swim_update_encode(u, tmp, sizeof(tmp), &len) < 0) {
		log_warn("cannot encode an update (kind %d)", (int)u->kind);
		return;
	}
	struct swim_bcast *b = malloc(sizeof(*b) + len);
	if (b == NULL) {
		return;
	}
	if (m->bc[slot] != NULL) {
		free_bcast(s, m->bc[slot]);
	}
	b->m = m;
	b->slot = slot;
	b->transmits = 0;
	b->len = (uint16_t)len;
	memcpy(b->buf, tmp, len);
	link_bcast(s, b);
	m->bc[slot] = b;
	s->q_len++;
}

void swim__queue_member(struct swim *s, struct swim_member *m)
{
	struct swim_update u;
	swim__member_update(s, m, &u);
	swim__queue(s, m, 0, &u);
}

void swim__queue_hint(struct swim *s, struct swim_member *m)
{
	swim__queue_member(s, m);
	struct swim_bcast *b = m->bc[0];
	if (b == NULL) {
		return;
	}
	/* one transmission left, taken only where fresher news leave room */
	unlink_bcast(s, b);
	b->transmits = swim__retransmit_limit(s) - 1;
	link_bcast(s, b);
}

void swim__drop_bcasts(struct swim *s, struct swim_member *m)
{
	for (int i = 0; i < 2; i++) {
		if (m->bc[i] != NULL) {
			free_bcast(s, m->bc[i]);
		}
	}
}

static void bump(struct swim *s, struct swim_bcast *b, uint32_t limit)
{
	unlink_bcast(s, b);
	b->transmits++;
	s->stats.updates_sent++;
	if (b->transmits >= limit) {
		b->m->bc[b->slot] = NULL;
		s->q_len--;
		free(b);
		return;
	}
	link_bcast(s, b);
}

/* Free updates left above a limit that shrank with the cluster. */
static void trim(struct swim *s, uint32_t limit)
{
	for (int slot = 0; slot < 2; slot++) {
		for (uint32_t t = limit; t < SWIM_BUCKETS; t++) {
			while (s->q[slot][t] != NULL) {
				free_bcast(s, s->q[slot][t]);
			}
		}
	}
}

void swim__send(struct swim *s, const struct swim_addr *to,
		const struct swim_msg_head *h, const struct swim_update *first)
{
	struct wire_swim_item items[SWIM_UPDATES_MAX];
	struct swim_bcast *picked[SWIM_UPDATES_MAX];
	uint8_t first_buf[SWIM_UPDATE_ENC_MAX];
	size_t n_items = 0, n_first = 0, head_len, fitted, body_len;
	size_t budget = SWIM_PLAINTEXT_MAX -
			wire_swim_envelope_overhead(SWIM_PLAINTEXT_MAX);

	if (wire_swim_pack(h, NULL, 0, s->body, budget, &head_len, &fitted) <
	    0) {
		return;
	}
	size_t used = head_len;
	if (first != NULL) {
		size_t len;
		if (wire_swim_update_encode(first, first_buf, sizeof(first_buf),
					    &len) == 0) {
			items[n_items].buf = first_buf;
			items[n_items].len = len;
			n_items++;
			n_first = 1;
			used += wire_swim_item_cost(len);
		}
	}
	uint32_t limit = swim__retransmit_limit(s);
	/* least-sent first; at equal counts membership before node state
	 * (joins, suspicions and deaths are what convergence and failure
	 * detection wait for), so a fresh state change is not starved by a
	 * join storm's backlog either */
	size_t scanned = 0, misses = 0;
	for (uint32_t t = 0; t < limit && n_items < SWIM_UPDATES_MAX &&
			     budget - used >= MIN_ITEM && misses < MISS_MAX;
	     t++) {
		for (uint8_t slot = 0; slot < 2; slot++) {
			for (struct swim_bcast *b = s->q[slot][t];
			     b != NULL && n_items < SWIM_UPDATES_MAX &&
			     scanned < SCAN_MAX && misses < MISS_MAX;
			     b = b->next, scanned++) {
				size_t cost = wire_swim_item_cost(b->len);
				if (used + cost > budget) {
					misses++;
					continue;
				}
				picked[n_items - n_first] = b;
				items[n_items].buf = b->buf;
				items[n_items].len = b->len;
				n_items++;
				used += cost;
			}
		}
	}
	if (wire_swim_pack(h, items, n_items, s->body, budget, &body_len,
			   &fitted) < 0) {
		return;
	}
	for (size_t i = n_first; i < fitted; i++) {
		bump(s, picked[i - n_first], limit);
	}
	trim(s, limit);
	struct swim_envelope env = {
	    .version = SWIM_WIRE_VERSION,
	    .sender = s->self.id,
	    .incarnation = s->self.incarnation,
	    .type = h->type,
	    .body = s->body,
	    .body_len = body_len,
	};
	size_t len;
	if (wire_swim_envelope_encode(&env, s->pkt, sizeof(s->pkt), &len) < 0) {
		return;
	}
	s->stats.tx_datagrams++;
	s->stats.tx_bytes += len;
	s->cb.send(s->cb.ud, to, s->pkt, len);
}
