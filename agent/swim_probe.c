// SPDX-License-Identifier: Apache-2.0
// swim_probe: the failure detector. Round-robin probes with direct ping,
// k indirect ping-reqs (helpers answer with nacks), Lifeguard suspicion
// timeouts that shrink with independent confirmations, local health
// awareness, relays for other members' ping-reqs, gossip rounds and the
// watch list that times out suspicions and reaps dead members.

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_TAG "swim"
#include "log.h"
#include "swim_int.h"

#define RTT_ALPHA  0.125f
#define LOSS_ALPHA 0.1f

void swim__awareness(struct swim *s, int delta)
{
	int64_t v = (int64_t)s->awareness + delta;
	if (v < 0) {
		v = 0;
	}
	if (v > (int64_t)s->cfg.awareness_max - 1) {
		v = (int64_t)s->cfg.awareness_max - 1;
	}
	s->awareness = (uint32_t)v;
}

void swim__watch(struct swim *s, struct swim_member *m)
{
	if (m->in_watch) {
		return;
	}
	if (s->n_watch == s->cap_watch) {
		size_t cap = s->cap_watch ? s->cap_watch * 2 : 16;
		struct swim_member **w = realloc(s->watch, cap * sizeof(*w));
		if (w == NULL) {
			return; /* reaping waits for the next status change */
		}
		s->watch = w;
		s->cap_watch = cap;
	}
	s->watch[s->n_watch++] = m;
	m->in_watch = true;
}

/* ---- suspicion (Lifeguard) ---- */

static uint64_t suspicion_timeout(const struct swim_suspicion *p)
{
	uint32_t c = p->n_from ? p->n_from - 1 : 0;
	if (p->k == 0 || c >= p->k) {
		return p->min_ms;
	}
	double frac = log((double)c + 1.0) / log((double)p->k + 1.0);
	double raw = (double)p->max_ms - frac * (double)(p->max_ms - p->min_ms);
	if (raw < (double)p->min_ms) {
		raw = (double)p->min_ms;
	}
	return (uint64_t)raw;
}

void swim__suspicion_start(struct swim *s, struct swim_member *m,
			   const struct node_id *from, uint64_t now_ms)
{
	struct swim_suspicion *p = m->susp;
	if (p == NULL) {
		p = malloc(sizeof(*p));
		if (p == NULL) {
			return;
		}
		m->susp = p;
	}
	memset(p, 0, sizeof(*p));
	double n = (double)swim__cluster_size(s);
	double node_scale = log10(n > 1.0 ? n : 1.0);
	if (node_scale < 1.0) {
		node_scale = 1.0;
	}
	p->min_ms = (uint64_t)((double)s->cfg.suspicion_mult * node_scale *
			       (double)s->cfg.probe_interval_ms);
	p->max_ms = p->min_ms * s->cfg.suspicion_max_mult;
	p->k = s->cfg.suspicion_mult > 2 ? s->cfg.suspicion_mult - 2 : 0;
	if (n - 2.0 < (double)p->k) {
		p->k = 0;
	}
	if (p->k > SWIM_CONFIRM_MAX - 1) {
		p->k = SWIM_CONFIRM_MAX - 1;
	}
	p->start_ms = now_ms;
	p->from[0] = *from;
	p->n_from = 1;
	p->deadline_ms = now_ms + suspicion_timeout(p);
}

bool swim__suspicion_confirm(struct swim *s, struct swim_member *m,
			     const struct node_id *from, uint64_t now_ms)
{
	(void)now_ms;
	struct swim_suspicion *p = m->susp;
	if (p == NULL || p->n_from - 1 >= p->k) {
		return false;
	}
	for (uint32_t i = 0; i < p->n_from; i++) {
		if (swim__id_eq(&p->from[i], from)) {
			return false;
		}
	}
	p->from[p->n_from++] = *from;
	s->stats.confirmations++;
	p->deadline_ms = p->start_ms + suspicion_timeout(p);
	return true;
}

/* ---- probing ---- */

static struct swim_member *next_target(struct swim *s)
{
	for (size_t tries = 0; tries <= s->n_members; tries++) {
		if (s->probe_idx >= s->n_members) {
			/* new round: reshuffle (Fisher-Yates) */
			for (size_t i = s->n_members; i > 1; i--) {
				size_t j = rng_below(&s->rng, (uint32_t)i);
				struct swim_member *t = s->members[i - 1];
				s->members[i - 1] = s->members[j];
				s->members[j] = t;
				s->members[i - 1]->idx = (uint32_t)(i - 1);
				s->members[j]->idx = (uint32_t)j;
			}
			s->probe_idx = 0;
			if (s->n_members == 0) {
				return NULL;
			}
		}
		struct swim_member *m = s->members[s->probe_idx++];
		if (m->status == SWIM_ALIVE || m->status == SWIM_SUSPECT) {
			return m;
		}
	}
	return NULL;
}

static void start_probe(struct swim *s, uint64_t now_ms)
{
	struct swim_member *m = next_target(s);
	if (m == NULL) {
		s->next_probe_ms = now_ms + s->cfg.probe_interval_ms;
		return;
	}
	struct swim_probe *p = &s->probe;
	memset(p, 0, sizeof(*p));
	p->active = true;
	p->target = m->id;
	p->target_addr = m->addr;
	p->seq = ++s->seq;
	p->start_ms = now_ms;
	p->ack_deadline_ms = now_ms + swim__scale(s, s->cfg.probe_timeout_ms);
	p->end_ms = now_ms + swim__scale(s, s->cfg.probe_interval_ms);
	s->next_probe_ms = p->end_ms;
	s->stats.probes++;

	struct swim_msg_head h = {
	    .type = SWIM_MSG_PING,
	    .seq = p->seq,
	    .has_target = true,
	    .target_id = m->id,
	};
	if (m->status == SWIM_SUSPECT) {
		/* buddy system: tell the suspect first, so it can refute */
		struct swim_update *u = malloc(sizeof(*u));
		if (u != NULL) {
			swim__member_update(s, m, u);
			swim__send(s, &m->addr, &h, u);
			free(u);
			return;
		}
	}
	swim__send(s, &m->addr, &h, NULL);
}

static void send_ping_reqs(struct swim *s, uint64_t now_ms)
{
	(void)now_ms;
	struct swim_probe *p = &s->probe;
	struct swim_member *helpers[SWIM_PROBE_HELPERS];
	uint32_t n = 0;
	p->indirect_sent = true;
	for (uint32_t tries = 0; tries < s->cfg.indirect_checks * 4 &&
				 n < s->cfg.indirect_checks && s->n_members > 0;
	     tries++) {
		struct swim_member *m =
		    s->members[rng_below(&s->rng, (uint32_t)s->n_members)];
		if (m->status != SWIM_ALIVE ||
		    swim__id_eq(&m->id, &p->target)) {
			continue;
		}
		bool dup = false;
		for (uint32_t i = 0; i < n; i++) {
			dup = dup || helpers[i] == m;
		}
		if (!dup) {
			helpers[n++] = m;
		}
	}
	if (n == 0) {
		return;
	}
	s->stats.indirect_probes++;
	struct swim_msg_head h = {
	    .type = SWIM_MSG_PING_REQ,
	    .seq = p->seq,
	    .has_target = true,
	    .target_id = p->target,
	    .has_target_addr = true,
	    .target_addr = p->target_addr,
	    .want_nack = true,
	};
	for (uint32_t i = 0; i < n; i++) {
		swim__send(s, &helpers[i]->addr, &h, NULL);
	}
	p->expected_nacks = n;
}

static void probe_failed(struct swim *s, uint64_t now_ms)
{
	struct swim_probe *p = &s->probe;
	p->active = false;
	s->stats.probe_failures++;
	int delta = 1;
	if (p->expected_nacks > 0) {
		delta = p->nacks < p->expected_nacks
			    ? (int)(p->expected_nacks - p->nacks)
			    : 0;
	}
	swim__awareness(s, delta);
	struct swim_member *m = swim__find(s, &p->target);
	if (m == NULL ||
	    (m->status != SWIM_ALIVE && m->status != SWIM_SUSPECT)) {
		return;
	}
	struct swim_update u;
	memset(&u, 0, offsetof(struct swim_update, state));
	u.kind = SWIM_UPD_SUSPECT;
	u.id = m->id;
	u.incarnation = m->incarnation;
	u.has_from = true;
	u.from = s->self.id;
	if (m->status == SWIM_ALIVE) {
		s->stats.suspicions_started++;
	}
	swim__on_suspect(s, &u, now_ms);
}

void swim__tick_probe(struct swim *s, uint64_t now_ms)
{
	struct swim_probe *p = &s->probe;
	if (p->active && !p->indirect_sent && now_ms >= p->ack_deadline_ms) {
		struct swim_member *m = swim__find(s, &p->target);
		if (m != NULL) {
			m->loss = m->loss * (1 - LOSS_ALPHA) + LOSS_ALPHA;
		}
		send_ping_reqs(s, now_ms);
	}
	if (p->active && now_ms >= p->end_ms) {
		probe_failed(s, now_ms);
	}
	if (!p->active && now_ms >= s->next_probe_ms) {
		start_probe(s, now_ms);
	}
}

void swim__on_ack(struct swim *s, const struct swim_addr *from,
		  const struct node_id *sender, uint32_t seq, uint64_t now_ms)
{
	struct swim_probe *p = &s->probe;
	if (p->active && seq == p->seq) {
		struct swim_member *m = swim__find(s, &p->target);
		if (m != NULL && swim__id_eq(sender, &p->target) &&
		    swim_addr_equal(from, &m->addr)) {
			float rtt = (float)(now_ms - p->start_ms);
			m->rtt_ms =
			    m->rtt_ms < 0
				? rtt
				: m->rtt_ms * (1 - RTT_ALPHA) + rtt * RTT_ALPHA;
			if (!p->indirect_sent) {
				m->loss *= 1 - LOSS_ALPHA;
			}
		}
		p->active = false;
		swim__awareness(s, -1);
		return;
	}
	for (size_t i = 0; i < SWIM_RELAYS_MAX; i++) {
		struct swim_relay *r = &s->relays[i];
		if (r->used && r->our_seq == seq) {
			struct swim_msg_head h = {
			    .type = SWIM_MSG_ACK,
			    .seq = r->origin_seq,
			};
			r->used = false;
			swim__send(s, &r->origin, &h, NULL);
			return;
		}
	}
	s->stats.drop_unknown_ack++;
}

void swim__on_nack(struct swim *s, uint32_t seq)
{
	struct swim_probe *p = &s->probe;
	if (p->active && p->indirect_sent && seq == p->seq) {
		p->nacks++;
		return;
	}
	s->stats.drop_unknown_ack++;
}

void swim__on_ping_req(struct swim *s, const struct swim_addr *from,
		       const struct swim_msg_head *h, uint64_t now_ms)
{
	if (s->leaving) {
		s->stats.drop_unsolicited++;
		return;
	}
	if (swim__id_eq(&h->target_id, &s->self.id)) {
		struct swim_msg_head ack = {.type = SWIM_MSG_ACK,
					    .seq = h->seq};
		swim__send(s, from, &ack, NULL);
		return;
	}
	struct swim_relay *r = NULL;
	for (size_t i = 0; i < SWIM_RELAYS_MAX && r == NULL; i++) {
		if (!s->relays[i].used) {
			r = &s->relays[i];
		}
	}
	if (r == NULL) {
		s->stats.drop_unsolicited++;
		return;
	}
	/* never let a requester aim our pings at an address of its choice
	 * for a member we know elsewhere */
	const struct swim_member *t = swim__find(s, &h->target_id);
	const struct swim_addr *to = t ? &t->addr : &h->target_addr;
	r->used = true;
	r->want_nack = h->want_nack;
	r->our_seq = ++s->seq;
	r->origin_seq = h->seq;
	r->origin = *from;
	r->deadline_ms = now_ms + s->cfg.probe_timeout_ms;
	struct swim_msg_head ping = {
	    .type = SWIM_MSG_PING,
	    .seq = r->our_seq,
	    .has_target = true,
	    .target_id = h->target_id,
	};
	swim__send(s, to, &ping, NULL);
}

/* ---- watch list: suspicion timeouts, reaping, relay timeouts ---- */

void swim__tick_watch(struct swim *s, uint64_t now_ms)
{
	size_t out = 0;
	for (size_t i = 0; i < s->n_watch; i++) {
		struct swim_member *m = s->watch[i];
		if (m->status == SWIM_SUSPECT && m->susp != NULL &&
		    now_ms >= m->susp->deadline_ms) {
			struct swim_update u;
			memset(&u, 0, offsetof(struct swim_update, state));
			u.kind = SWIM_UPD_DEAD;
			u.id = m->id;
			u.incarnation = m->incarnation;
			u.has_from = true;
			u.from = s->self.id;
			s->stats.declared_dead++;
			swim__on_dead(s, &u, now_ms);
		}
		if (m->status == SWIM_ALIVE) {
			m->in_watch = false;
			continue;
		}
		if ((m->status == SWIM_DEAD || m->status == SWIM_LEFT) &&
		    now_ms >= m->state_change_ms + s->cfg.reap_after_ms) {
			s->stats.reaped++;
			swim__emit(s, SWIM_EV_REAP, m);
			swim__remove(s, m);
			continue;
		}
		s->watch[out++] = m;
	}
	s->n_watch = out;
	if (now_ms >= s->next_reap_ms) {
		s->next_reap_ms = now_ms + 1000;
	}
	for (size_t i = 0; i < SWIM_RELAYS_MAX; i++) {
		struct swim_relay *r = &s->relays[i];
		if (!r->used || now_ms < r->deadline_ms) {
			continue;
		}
		r->used = false;
		if (r->want_nack) {
			struct swim_msg_head h = {
			    .type = SWIM_MSG_NACK,
			    .seq = r->origin_seq,
			};
			swim__send(s, &r->origin, &h, NULL);
		}
	}
}

/* ---- gossip rounds ---- */

void swim__tick_gossip(struct swim *s, uint64_t now_ms)
{
	if (now_ms < s->next_gossip_ms) {
		return;
	}
	s->next_gossip_ms = now_ms + s->cfg.gossip_interval_ms;
	if (s->q_len == 0 || s->n_members == 0) {
		return;
	}
	struct swim_member *picked[16];
	uint32_t want = s->cfg.gossip_nodes < 16 ? s->cfg.gossip_nodes : 16;
	uint32_t n = 0;
	for (uint32_t tries = 0; tries < want * 4 && n < want; tries++) {
		struct swim_member *m =
		    s->members[rng_below(&s->rng, (uint32_t)s->n_members)];
		bool ok = m->status == SWIM_ALIVE || m->status == SWIM_SUSPECT;
		if (!ok) {
			ok = now_ms <
			     m->state_change_ms + s->cfg.gossip_to_dead_ms;
		}
		for (uint32_t i = 0; ok && i < n; i++) {
			ok = picked[i] != m;
		}
		if (ok) {
			picked[n++] = m;
		}
	}
	struct swim_msg_head h = {.type = SWIM_MSG_GOSSIP};
	for (uint32_t i = 0; i < n && s->q_len > 0; i++) {
		swim__send(s, &picked[i]->addr, &h, NULL);
	}
}
