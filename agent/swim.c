// SPDX-License-Identifier: Apache-2.0
// swim: the membership core — member table, update rules (alive, suspect,
// dead, left, state), the receive path and push-pull merge. Failure
// detection timers live in swim_probe.c, the piggyback queue in
// swim_bcast.c.
//
// Design
// ------
// The core is a pure state machine: every entry point takes `now_ms`, the
// only randomness is a seeded xoshiro, and every datagram leaves through
// the send callback. The same code therefore runs under libuv (gossip.c)
// and under the simulator, where a thousand nodes share one process.
//
// Identity is the node UUID, never the address. A member is known by id;
// its address is a fact about it like its incarnation. Facts only move
// forward: an update is applied when its incarnation is higher than what we
// hold, or equal with a "worse" status (alive < suspect < dead/left).
// Address changes need a higher incarnation; anything else claiming an id
// from a new address is dropped and counted (drop_impersonation).
//
// Failure detection is SWIM with Lifeguard. Each probe interval we ping the
// next member of a shuffled round-robin list; without an ack within the
// probe timeout we ask k random members to ping it for us (ping-req), and
// they answer with a nack if the target stays silent. A probe that fails
// marks the target suspect. Suspicion lasts from a max timeout down to a
// min as independent members confirm it: timeout = max - (max - min) *
// log(c + 1) / log(k + 1). The suspected node learns of it through gossip
// and through the "buddy" rule: our ping to a suspect carries the suspect
// update first. It refutes by bumping its incarnation. Local health
// awareness stretches our own probe interval and timeouts by (score + 1)
// when our probes fail without the expected nacks, because that usually
// means *we* are the slow one; successful probes bring the score back.
//
// Dissemination piggybacks queued updates on every datagram, lowest
// retransmit count first, each sent at most λ·ceil(log10(n + 1)) times;
// when there is something to say, a gossip datagram goes to a few random
// members every gossip interval. Each update is encoded once when queued,
// so filling a datagram under its byte budget is a walk and a memcpy.
// Push-pull exchanges the full table over TCP (done by the shell) on join
// and periodically; merging treats remote dead as suspect so a live node
// gets the chance to refute.

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_TAG "swim"
#include "log.h"
#include "swim_int.h"

#define HINTS_PER_IMPORT 128

/* ---- config and small helpers ---- */

void swim_config_lan(struct swim_config *c)
{
	memset(c, 0, sizeof(*c));
	c->probe_interval_ms = 1000;
	c->probe_timeout_ms = 500;
	c->indirect_checks = 3;
	c->suspicion_mult = 4;
	c->suspicion_max_mult = 6;
	c->retransmit_mult = 4;
	c->gossip_interval_ms = 200;
	c->gossip_nodes = 3;
	c->gossip_to_dead_ms = 30000;
	c->push_pull_interval_ms = 30000;
	c->awareness_max = 8;
	/* dead members stay listed (and retried) for a day, like serf */
	c->reap_after_ms = 24u * 3600 * 1000;
	c->reconnect_interval_ms = 30000;
}

void swim_config_wan(struct swim_config *c)
{
	swim_config_lan(c);
	c->probe_interval_ms = 5000;
	c->probe_timeout_ms = 3000;
	c->suspicion_mult = 6;
	c->gossip_interval_ms = 500;
	c->gossip_nodes = 4;
	c->gossip_to_dead_ms = 60000;
	c->push_pull_interval_ms = 60000;
}

bool swim_addr_equal(const struct swim_addr *a, const struct swim_addr *b)
{
	if (a->family != b->family || a->port != b->port) {
		return false;
	}
	return memcmp(a->ip, b->ip, a->family == 6 ? 16 : 4) == 0;
}

void swim_addr_format(const struct swim_addr *a, char *out, size_t cap)
{
	if (a->family == 6) {
		char h[40];
		size_t n = 0;
		for (int i = 0; i < 16; i += 2) {
			n += (size_t)snprintf(
			    h + n, sizeof(h) - n, "%s%x", i ? ":" : "",
			    (unsigned)(a->ip[i] << 8 | a->ip[i + 1]));
		}
		snprintf(out, cap, "[%s]:%u", h, (unsigned)a->port);
	} else {
		snprintf(out, cap, "%u.%u.%u.%u:%u", a->ip[0], a->ip[1],
			 a->ip[2], a->ip[3], (unsigned)a->port);
	}
}

const char *swim_status_name(enum swim_status st)
{
	switch (st) {
	case SWIM_ALIVE:
		return "alive";
	case SWIM_SUSPECT:
		return "suspect";
	case SWIM_DEAD:
		return "dead";
	case SWIM_LEFT:
		return "left";
	}
	return "?";
}

uint64_t swim__scale(const struct swim *s, uint64_t ms)
{
	return ms * (s->awareness + 1);
}

size_t swim__cluster_size(const struct swim *s)
{
	return s->n_live + 1;
}

/* ---- member table: array in probe order + open-addressing index ---- */

static size_t id_hash(const struct node_id *id)
{
	uint64_t a, b;
	memcpy(&a, id->b, 8);
	memcpy(&b, id->b + 8, 8);
	return (size_t)((a ^ (b * 0x9e3779b97f4a7c15ull)) >> 7);
}

struct swim_member *swim__find(const struct swim *s, const struct node_id *id)
{
	if (s->hcap == 0) {
		return NULL;
	}
	size_t mask = s->hcap - 1;
	for (size_t i = id_hash(id) & mask;; i = (i + 1) & mask) {
		struct swim_member *m = s->htab[i];
		if (m == NULL) {
			return NULL;
		}
		if (swim__id_eq(&m->id, id)) {
			return m;
		}
	}
}

static void htab_put(struct swim_member **tab, size_t cap,
		     struct swim_member *m)
{
	size_t mask = cap - 1;
	size_t i = id_hash(&m->id) & mask;
	while (tab[i] != NULL) {
		i = (i + 1) & mask;
	}
	tab[i] = m;
}

static int htab_grow(struct swim *s)
{
	size_t cap = s->hcap ? s->hcap * 2 : 64;
	struct swim_member **tab = calloc(cap, sizeof(*tab));
	if (tab == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_members; i++) {
		htab_put(tab, cap, s->members[i]);
	}
	free(s->htab);
	s->htab = tab;
	s->hcap = cap;
	return 0;
}

/* Backward-shift deletion keeps linear probing chains intact. */
static void htab_del(struct swim *s, const struct swim_member *m)
{
	size_t mask = s->hcap - 1;
	size_t i = id_hash(&m->id) & mask;
	while (s->htab[i] != m) {
		i = (i + 1) & mask;
	}
	size_t j = i;
	for (;;) {
		s->htab[i] = NULL;
		for (;;) {
			j = (j + 1) & mask;
			if (s->htab[j] == NULL) {
				return;
			}
			size_t k = id_hash(&s->htab[j]->id) & mask;
			/* move j back to i unless its home lies in (i, j] */
			if ((j > i && (k <= i || k > j)) ||
			    (j < i && (k <= i && k > j))) {
				break;
			}
		}
		s->htab[i] = s->htab[j];
		i = j;
	}
}

static struct swim_member *member_add(struct swim *s, const struct node_id *id,
				      uint64_t now_ms)
{
	if ((s->n_members + 1) * 2 > s->hcap && htab_grow(s) < 0) {
		return NULL;
	}
	if (s->n_members == s->cap_members) {
		size_t cap = s->cap_members ? s->cap_members * 2 : 32;
		struct swim_member **arr =
		    realloc(s->members, cap * sizeof(*arr));
		if (arr == NULL) {
			return NULL;
		}
		s->members = arr;
		s->cap_members = cap;
	}
	struct swim_member *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return NULL;
	}
	m->id = *id;
	m->rtt_ms = -1;
	m->state_change_ms = now_ms;
	m->status = SWIM_DEAD; /* caller sets the real status */
	/* insert at a random position of the probe order */
	size_t n = s->n_members;
	size_t j = rng_below(&s->rng, (uint32_t)(n + 1));
	s->members[n] = m;
	m->idx = (uint32_t)n;
	if (j != n) {
		struct swim_member *o = s->members[j];
		s->members[j] = m;
		m->idx = (uint32_t)j;
		s->members[n] = o;
		o->idx = (uint32_t)n;
	}
	s->n_members++;
	htab_put(s->htab, s->hcap, m);
	return m;
}

static void member_free(struct swim_member *m)
{
	if (m == NULL) {
		return;
	}
	free(m->name);
	free(m->state);
	free(m->susp);
	free(m);
}

void swim__remove(struct swim *s, struct swim_member *m)
{
	swim__drop_bcasts(s, m);
	htab_del(s, m);
	size_t i = m->idx;
	size_t last = s->n_members - 1;
	s->members[i] = s->members[last];
	s->members[i]->idx = (uint32_t)i;
	s->n_members--;
	if (m->status == SWIM_ALIVE || m->status == SWIM_SUSPECT) {
		s->n_live--;
	}
	if (s->probe_idx > s->n_members) {
		s->probe_idx = s->n_members;
	}
	member_free(m);
}

void swim__set_status(struct swim *s, struct swim_member *m, uint8_t st,
		      uint64_t now_ms)
{
	bool was_live = m->status == SWIM_ALIVE || m->status == SWIM_SUSPECT;
	bool live = st == SWIM_ALIVE || st == SWIM_SUSPECT;
	if (m != &s->self) {
		if (was_live && !live) {
			s->n_live--;
		} else if (!was_live && live) {
			s->n_live++;
		}
	}
	if (m->status != st) {
		m->state_change_ms = now_ms;
	}
	m->status = st;
	if (st != SWIM_SUSPECT) {
		free(m->susp);
		m->susp = NULL;
	}
	if (st != SWIM_ALIVE && m != &s->self) {
		swim__watch(s, m);
	}
}

static void member_info(const struct swim_member *m,
			struct swim_member_info *out)
{
	out->id = m->id;
	out->addr = m->addr;
	out->name = m->name ? m->name : "";
	out->status = (enum swim_status)m->status;
	out->incarnation = m->incarnation;
	out->state_change_ms = m->state_change_ms;
	out->last_heard_ms = m->last_heard_ms;
	out->state = m->state;
	out->link.rtt_ms = m->rtt_ms;
	out->link.loss = m->loss;
	out->link.bandwidth_bps = -1;
}

void swim__emit(struct swim *s, enum swim_event ev, const struct swim_member *m)
{
	if (s->cb.event == NULL) {
		return;
	}
	struct swim_member_info info;
	member_info(m, &info);
	s->cb.event(s->cb.ud, ev, &info);
}

/* The membership update that describes m's current status. */
void swim__member_update(const struct swim *s, const struct swim_member *m,
			 struct swim_update *u)
{
	memset(u, 0, offsetof(struct swim_update, state));
	u->has_state = false;
	u->id = m->id;
	u->incarnation = m->incarnation;
	switch (m->status) {
	case SWIM_ALIVE:
		u->kind = SWIM_UPD_ALIVE;
		u->has_addr = true;
		u->addr = m->addr;
		if (m->name != NULL) {
			snprintf(u->name, sizeof(u->name), "%s", m->name);
		}
		break;
	case SWIM_SUSPECT:
		u->kind = SWIM_UPD_SUSPECT;
		u->has_from = true;
		u->from = (m->susp && m->susp->n_from) ? m->susp->from[0]
						       : s->self.id;
		break;
	case SWIM_DEAD:
		u->kind = SWIM_UPD_DEAD;
		u->has_from = true;
		u->from = s->self.id;
		break;
	default:
		u->kind = SWIM_UPD_LEFT;
		u->has_from = true;
		u->from = m->id;
		break;
	}
}

static int set_name(struct swim_member *m, const char *name)
{
	if (name == NULL || name[0] == '\0') {
		return 0;
	}
	if (m->name != NULL && strcmp(m->name, name) == 0) {
		return 0;
	}
	char *n = strdup(name);
	if (n == NULL) {
		return -ENOMEM;
	}
	free(m->name);
	m->name = n;
	return 1;
}

/* ---- lifecycle ---- */

struct swim *swim_new(const struct swim_config *cfg, const struct node_id *self,
		      const struct swim_addr *self_addr, const char *name,
		      uint64_t incarnation, uint64_t seed,
		      const struct swim_callbacks *cbs, uint64_t now_ms)
{
	if (cfg->probe_interval_ms == 0 || cfg->probe_timeout_ms == 0 ||
	    cfg->probe_timeout_ms > cfg->probe_interval_ms ||
	    cfg->gossip_interval_ms == 0 || cfg->suspicion_mult == 0 ||
	    cfg->suspicion_max_mult == 0 || cfg->retransmit_mult == 0 ||
	    cfg->awareness_max == 0 ||
	    cfg->indirect_checks > SWIM_PROBE_HELPERS || cbs->send == NULL ||
	    node_id_is_zero(self)) {
		return NULL;
	}
	struct swim *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return NULL;
	}
	s->cfg = *cfg;
	s->cb = *cbs;
	rng_seed(&s->rng, seed);
	s->self.id = *self;
	s->self.addr = *self_addr;
	s->self.incarnation = incarnation;
	s->self.status = SWIM_ALIVE;
	s->self.state_change_ms = now_ms;
	s->self.rtt_ms = -1;
	if (set_name(&s->self, name) < 0) {
		free(s);
		return NULL;
	}
	s->seq = (uint32_t)rng_next(&s->rng);
	/* stagger timers so a cluster started at once does not beat */
	s->next_probe_ms = now_ms + rng_below(&s->rng, cfg->probe_interval_ms);
	s->next_gossip_ms =
	    now_ms + rng_below(&s->rng, cfg->gossip_interval_ms);
	s->next_pp_ms = cfg->push_pull_interval_ms
			    ? now_ms + cfg->push_pull_interval_ms +
				  rng_below(&s->rng, cfg->push_pull_interval_ms)
			    : UINT64_MAX;
	s->next_reap_ms = now_ms + 1000;
	s->next_reconnect_ms =
	    cfg->reconnect_interval_ms
		? now_ms + cfg->reconnect_interval_ms +
		      rng_below(&s->rng, cfg->reconnect_interval_ms)
		: UINT64_MAX;
	s->next_deadline = now_ms;
	/* announce ourselves to whoever we meet first */
	swim__queue_member(s, &s->self);
	return s;
}

void swim_free(struct swim *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t i = 0; i < s->n_members; i++) {
		swim__drop_bcasts(s, s->members[i]);
		member_free(s->members[i]);
	}
	swim__drop_bcasts(s, &s->self);
	free(s->self.name);
	free(s->self.state);
	free(s->members);
	free(s->htab);
	free(s->watch);
	free(s);
}

/* ---- update rules ---- */

/* The sender told us something older than we know: answer it (once per
 * datagram) with the newer fact, so stale views heal fast. */
static void note_stale(struct swim *s, const struct node_id *id)
{
	if (!s->correct) {
		s->correct = true;
		s->correct_id = *id;
	}
}

/* Bump our incarnation above min_inc and tell everyone we are alive. */
void swim__refute(struct swim *s, uint64_t min_inc)
{
	if (s->self.incarnation <= min_inc) {
		s->self.incarnation = min_inc + 1;
	} else {
		s->self.incarnation++;
	}
	s->stats.refutations++;
	swim__awareness(s, 1);
	swim__queue_member(s, &s->self);
	if (s->local_state.version != 0) {
		s->self.state_inc = s->self.incarnation;
		struct swim_update u;
		memset(&u, 0, sizeof(u));
		u.kind = SWIM_UPD_STATE;
		u.id = s->self.id;
		u.incarnation = s->self.incarnation;
		u.has_state = true;
		u.state = s->local_state;
		swim__queue(s, &s->self, 1, &u);
	}
}

static void on_alive(struct swim *s, const struct swim_update *u,
		     uint64_t now_ms)
{
	if (swim__id_eq(&u->id, &s->self.id)) {
		if (s->leaving) {
			return;
		}
		/* someone thinks we live elsewhere or at a newer incarnation */
		if (u->incarnation > s->self.incarnation ||
		    (u->incarnation == s->self.incarnation &&
		     !swim_addr_equal(&u->addr, &s->self.addr))) {
			if (!swim_addr_equal(&u->addr, &s->self.addr)) {
				s->stats.drop_impersonation++;
			}
			swim__refute(s, u->incarnation);
		}
		return;
	}
	struct swim_member *m = swim__find(s, &u->id);
	if (m == NULL) {
		m = member_add(s, &u->id, now_ms);
		if (m == NULL) {
			return;
		}
		m->addr = u->addr;
		m->incarnation = u->incarnation;
		set_name(m, u->name);
		swim__set_status(s, m, SWIM_ALIVE, now_ms);
		/* a member learned from a full-state exchange (other than a
		 * join) is passed on once, with low priority: full
		 * re-gossip of every row of every push-pull would make a join
		 * storm cost O(n^2 log n) datagrams, none at all lets the
		 * epidemics of early joiners (who knew few members and had
		 * small budgets) die out short of everyone */
		if (s->importing) {
			m->quiet = true;
			if (rng_unit(&s->rng) < s->hint_p) {
				swim__queue_hint(s, m);
			}
		} else {
			swim__queue_member(s, m);
		}
		swim__emit(s, SWIM_EV_JOIN, m);
		return;
	}
	if (u->incarnation <= m->incarnation) {
		if (!swim_addr_equal(&u->addr, &m->addr)) {
			s->stats.drop_impersonation++;
		} else if (u->incarnation < m->incarnation) {
			note_stale(s, &u->id);
		} else {
			if (m->name == NULL && set_name(m, u->name) > 0) {
				/* learned by direct contact, name comes later
				 */
				swim__emit(s, SWIM_EV_UPDATE, m);
			}
			if (m->quiet && !s->importing &&
			    m->status == SWIM_ALIVE) {
				/* first time its announcement passes by: relay
				 * it like news, so its epidemic is not starved
				 * by nodes that learned it from a push-pull */
				m->quiet = false;
				swim__queue_member(s, m);
			}
		}
		return;
	}
	bool moved = !swim_addr_equal(&u->addr, &m->addr);
	bool was_alive = m->status == SWIM_ALIVE;
	m->addr = u->addr;
	m->incarnation = u->incarnation;
	int renamed = set_name(m, u->name);
	swim__set_status(s, m, SWIM_ALIVE, now_ms);
	swim__queue_member(s, m);
	if (!was_alive) {
		swim__emit(s, SWIM_EV_ALIVE, m);
	} else if (moved || renamed > 0) {
		swim__emit(s, SWIM_EV_UPDATE, m);
	}
}

void swim__on_suspect(struct swim *s, const struct swim_update *u,
		      uint64_t now_ms)
{
	if (swim__id_eq(&u->id, &s->self.id)) {
		if (s->leaving) {
			return;
		}
		if (u->incarnation < s->self.incarnation) {
			s->stats.drop_stale_self++;
			note_stale(s, &u->id);
			return;
		}
		swim__refute(s, u->incarnation);
		return;
	}
	struct swim_member *m = swim__find(s, &u->id);
	if (m == NULL) {
		return;
	}
	if (u->incarnation < m->incarnation) {
		note_stale(s, &u->id);
		return;
	}
	if (m->status == SWIM_DEAD || m->status == SWIM_LEFT) {
		return;
	}
	const struct node_id *from = u->has_from ? &u->from : &s->self.id;
	if (m->status == SWIM_SUSPECT && u->incarnation == m->incarnation) {
		if (swim__suspicion_confirm(s, m, from, now_ms)) {
			/* pass the confirmation on under its own author, so
			 * others count it as independent too */
			struct swim_update c;
			swim__member_update(s, m, &c);
			c.from = *from;
			swim__queue(s, m, 0, &c);
		}
		return;
	}
	m->incarnation = u->incarnation;
	swim__set_status(s, m, SWIM_SUSPECT, now_ms);
	swim__suspicion_start(s, m, from, now_ms);
	swim__queue_member(s, m);
	swim__emit(s, SWIM_EV_SUSPECT, m);
}

void swim__on_dead(struct swim *s, const struct swim_update *u, uint64_t now_ms)
{
	bool left = u->kind == SWIM_UPD_LEFT;
	if (swim__id_eq(&u->id, &s->self.id)) {
		if (s->leaving) {
			return;
		}
		if (u->incarnation < s->self.incarnation) {
			s->stats.drop_stale_self++;
			note_stale(s, &u->id);
			return;
		}
		swim__refute(s, u->incarnation);
		return;
	}
	struct swim_member *m = swim__find(s, &u->id);
	if (m == NULL) {
		return;
	}
	if (u->incarnation < m->incarnation) {
		note_stale(s, &u->id);
		return;
	}
	if (m->status == SWIM_DEAD || m->status == SWIM_LEFT) {
		return;
	}
	m->incarnation = u->incarnation;
	swim__set_status(s, m, left ? SWIM_LEFT : SWIM_DEAD, now_ms);
	swim__queue_member(s, m);
	swim__emit(s, left ? SWIM_EV_LEFT : SWIM_EV_DEAD, m);
}

static void on_state(struct swim *s, const struct swim_update *u)
{
	if (swim__id_eq(&u->id, &s->self.id)) {
		return; /* only we speak for our own state */
	}
	struct swim_member *m = swim__find(s, &u->id);
	if (m == NULL) {
		return;
	}
	if (m->state != NULL && (u->incarnation < m->state_inc ||
				 (u->incarnation == m->state_inc &&
				  u->state.version <= m->state->version))) {
		return;
	}
	if (m->state == NULL) {
		m->state = malloc(sizeof(*m->state));
		if (m->state == NULL) {
			return;
		}
	}
	*m->state = u->state;
	m->state_inc = u->incarnation;
	swim__queue(s, m, 1, u);
	swim__emit(s, SWIM_EV_UPDATE, m);
}

static void apply_update(struct swim *s, const struct swim_update *u,
			 uint64_t now_ms)
{
	s->stats.updates_received++;
	switch (u->kind) {
	case SWIM_UPD_ALIVE:
		on_alive(s, u, now_ms);
		break;
	case SWIM_UPD_SUSPECT:
		swim__on_suspect(s, u, now_ms);
		break;
	case SWIM_UPD_DEAD:
	case SWIM_UPD_LEFT:
		swim__on_dead(s, u, now_ms);
		break;
	case SWIM_UPD_STATE:
		on_state(s, u);
		break;
	}
}

/* ---- receive path ---- */

static void refresh_deadline(struct swim *s);

int swim_recv(struct swim *s, const struct swim_addr *from, const uint8_t *buf,
	      size_t len, uint64_t now_ms)
{
	struct swim_envelope env;
	struct swim_msg msg = {0};
	int rc;

	s->stats.rx_datagrams++;
	if (len > SWIM_PLAINTEXT_MAX) {
		s->stats.drop_too_big++;
		return -E2BIG;
	}
	rc = wire_swim_envelope_decode(buf, len, &env);
	if (rc < 0) {
		s->stats.drop_malformed++;
		return rc;
	}
	if (swim__id_eq(&env.sender, &s->self.id)) {
		s->stats.drop_self_sender++;
		return -EPERM;
	}
	struct swim_member *sender = swim__find(s, &env.sender);
	if (sender != NULL && !swim_addr_equal(&sender->addr, from) &&
	    env.incarnation <= sender->incarnation) {
		s->stats.drop_impersonation++;
		return -EPERM;
	}
	rc = wire_swim_msg_decode(env.type, env.body, env.body_len, &msg);
	if (rc == -EPROTONOSUPPORT) {
		s->stats.drop_bad_type++;
		return rc;
	}
	if (rc < 0) {
		s->stats.drop_malformed++;
		return rc;
	}
	if (sender == NULL && !s->leaving) {
		/* direct contact from a member we never heard of: it is alive
		 * at the address it sends from (the datagram was sealed with
		 * the cluster key). Gossip it, as news. */
		struct swim_update a;
		memset(&a, 0, offsetof(struct swim_update, state));
		a.kind = SWIM_UPD_ALIVE;
		a.id = env.sender;
		a.incarnation = env.incarnation;
		a.has_addr = true;
		a.addr = *from;
		on_alive(s, &a, now_ms);
		sender = swim__find(s, &env.sender);
	}
	if (sender != NULL) {
		sender->last_heard_ms = now_ms;
		if (env.incarnation > sender->incarnation && !s->leaving) {
			/* direct word from the member at a newer incarnation
			 * (its address matched above): it is alive */
			struct swim_update a;
			swim__member_update(s, sender, &a);
			a.kind = SWIM_UPD_ALIVE;
			a.incarnation = env.incarnation;
			a.has_addr = true;
			a.addr = sender->addr;
			a.has_from = false;
			if (sender->name != NULL) {
				snprintf(a.name, sizeof(a.name), "%s",
					 sender->name);
			}
			on_alive(s, &a, now_ms);
		}
	}
	s->correct = false;
	for (size_t i = 0; i < msg.n_updates; i++) {
		struct swim_update u;
		if (wire_swim_msg_update(&msg, i, &u) < 0) {
			s->stats.drop_bad_update++;
			continue;
		}
		apply_update(s, &u, now_ms);
	}
	struct swim_msg_head reply = {0};
	switch (msg.head.type) {
	case SWIM_MSG_PING:
		if (msg.head.has_target &&
		    !swim__id_eq(&msg.head.target_id, &s->self.id)) {
			s->stats.drop_misrouted++;
			rc = -EDESTADDRREQ;
			break;
		}
		reply.type = SWIM_MSG_ACK;
		reply.seq = msg.head.seq;
		swim__send(s, from, &reply, NULL);
		break;
	case SWIM_MSG_PING_REQ:
		swim__on_ping_req(s, from, &msg.head, now_ms);
		break;
	case SWIM_MSG_ACK:
		swim__on_ack(s, from, &env.sender, msg.head.seq, now_ms);
		break;
	case SWIM_MSG_NACK:
		swim__on_nack(s, msg.head.seq);
		break;
	default:
		break;
	}
	if (s->correct && sender != NULL && !s->leaving) {
		const struct swim_member *c =
		    swim__id_eq(&s->correct_id, &s->self.id)
			? &s->self
			: swim__find(s, &s->correct_id);
		if (c != NULL) {
			struct swim_update fix;
			struct swim_msg_head g = {.type = SWIM_MSG_GOSSIP};
			swim__member_update(s, c, &fix);
			swim__send(s, from, &g, &fix);
		}
	}
	s->correct = false;
	wire_swim_msg_fini(&msg);
	refresh_deadline(s);
	return rc;
}

/* ---- timers ---- */

static void refresh_deadline(struct swim *s)
{
	uint64_t d = s->next_gossip_ms;
	if (!s->leaving) {
		if (s->probe.active) {
			uint64_t p = s->probe.indirect_sent
					 ? s->probe.end_ms
					 : s->probe.ack_deadline_ms;
			d = p < d ? p : d;
		} else if (s->next_probe_ms < d) {
			d = s->next_probe_ms;
		}
		if (s->next_pp_ms < d) {
			d = s->next_pp_ms;
		}
		if (s->next_reconnect_ms < d) {
			d = s->next_reconnect_ms;
		}
	}
	if (s->next_reap_ms < d) {
		d = s->next_reap_ms;
	}
	for (size_t i = 0; i < s->n_watch; i++) {
		const struct swim_member *m = s->watch[i];
		if (m->status == SWIM_SUSPECT && m->susp &&
		    m->susp->deadline_ms < d) {
			d = m->susp->deadline_ms;
		}
	}
	for (size_t i = 0; i < SWIM_RELAYS_MAX; i++) {
		if (s->relays[i].used && s->relays[i].deadline_ms < d) {
			d = s->relays[i].deadline_ms;
		}
	}
	s->next_deadline = d;
}

static uint64_t push_pull_interval(const struct swim *s)
{
	/* like memberlist: slow down anti-entropy above 32 members */
	uint64_t iv = s->cfg.push_pull_interval_ms;
	size_t n = swim__cluster_size(s);
	if (n > 32) {
		double mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
		iv = (uint64_t)((double)iv * mult);
	}
	return iv;
}

static void tick_push_pull(struct swim *s, uint64_t now_ms)
{
	if (s->next_pp_ms > now_ms) {
		return;
	}
	s->next_pp_ms = now_ms + push_pull_interval(s);
	if (s->cb.push_pull == NULL || s->n_live == 0) {
		return;
	}
	for (int tries = 0; tries < 8; tries++) {
		struct swim_member *m =
		    s->members[rng_below(&s->rng, (uint32_t)s->n_members)];
		if (m->status == SWIM_ALIVE) {
			s->stats.push_pulls++;
			s->cb.push_pull(s->cb.ud, &m->addr);
			return;
		}
	}
}

/*
 * Healing after a partition: members on the far side are dead to us and
 * we to them, so neither gossip nor push-pull would ever cross again. Like
 * serf's reconnect, try a push-pull with a random dead member now and
 * then (more often the more of the cluster is dead); the exchange makes
 * both sides refute and re-announce.
 */
static void tick_reconnect(struct swim *s, uint64_t now_ms)
{
	if (s->next_reconnect_ms > now_ms) {
		return;
	}
	s->next_reconnect_ms = now_ms + s->cfg.reconnect_interval_ms;
	if (s->cb.push_pull == NULL || s->n_watch == 0) {
		return;
	}
	size_t n_dead = 0;
	for (size_t i = 0; i < s->n_watch; i++) {
		n_dead += s->watch[i]->status == SWIM_DEAD;
	}
	if (n_dead == 0 ||
	    rng_unit(&s->rng) * (double)(s->n_live + 1) > (double)n_dead) {
		return;
	}
	size_t pick = rng_below(&s->rng, (uint32_t)n_dead);
	for (size_t i = 0; i < s->n_watch; i++) {
		if (s->watch[i]->status == SWIM_DEAD && pick-- == 0) {
			s->stats.push_pulls++;
			s->cb.push_pull(s->cb.ud, &s->watch[i]->addr);
			return;
		}
	}
}

void swim_tick(struct swim *s, uint64_t now_ms)
{
	if (now_ms < s->next_deadline) {
		return;
	}
	if (!s->leaving) {
		swim__tick_probe(s, now_ms);
		tick_push_pull(s, now_ms);
		tick_reconnect(s, now_ms);
	}
	swim__tick_watch(s, now_ms);
	swim__tick_gossip(s, now_ms);
	refresh_deadline(s);
}

uint64_t swim_next_deadline(const struct swim *s)
{
	return s->next_deadline;
}

/* ---- push-pull ---- */

int swim_pushpull_export(struct swim *s, bool join, uint8_t **out,
			 size_t *out_len)
{
	struct wire_swim_pp_writer w;
	struct swim_update *u = malloc(sizeof(*u));
	int rc = -ENOMEM;
	if (u == NULL) {
		return -ENOMEM;
	}
	rc = wire_swim_pp_begin(&w, join);
	if (rc < 0) {
		goto out;
	}
	for (size_t i = 0; i <= s->n_members; i++) {
		const struct swim_member *m =
		    i == s->n_members ? &s->self : s->members[i];
		swim__member_update(s, m, u);
		u->has_addr = true;
		u->addr = m->addr;
		if (m->name != NULL) {
			snprintf(u->name, sizeof(u->name), "%s", m->name);
		}
		u->has_from = false;
		if (m == &s->self && s->local_state.version != 0) {
			u->has_state = true;
			u->state = s->local_state;
		} else if (m->state != NULL && m->state_inc == m->incarnation) {
			u->has_state = true;
			u->state = *m->state;
		}
		rc = wire_swim_pp_add(&w, u);
		if (rc < 0) {
			wire_swim_pp_fini(&w);
			goto out;
		}
	}
	wire_swim_pp_finish(&w, out, out_len);
	rc = 0;
out:
	free(u);
	return rc;
}

int swim_pushpull_import(struct swim *s, const uint8_t *buf, size_t len,
			 uint64_t now_ms, bool *is_join)
{
	struct swim_pp pp;
	struct swim_update *u;
	int rc = wire_swim_pp_decode(buf, len, SWIM_PUSHPULL_MAX_MEMBERS, &pp);
	if (rc < 0) {
		if (rc == -E2BIG) {
			s->stats.drop_too_big++;
		} else {
			s->stats.drop_malformed++;
		}
		return rc;
	}
	u = malloc(sizeof(*u));
	if (u == NULL) {
		wire_swim_pp_fini_decoded(&pp);
		return -ENOMEM;
	}
	if (is_join != NULL) {
		*is_join = pp.join;
	}
	/* a joiner's rows are news to spread; other exchanges only repair */
	s->importing = !pp.join;
	/* hint about HINTS_PER_IMPORT random new rows, not all: enough extra
	 * transmissions per member cluster-wide, O(n) queue memory per node */
	s->hint_p = pp.n_members > HINTS_PER_IMPORT
			? (double)HINTS_PER_IMPORT / (double)pp.n_members
			: 1.0;
	for (size_t i = 0; i < pp.n_members; i++) {
		if (wire_swim_pp_member(&pp, i, u) < 0) {
			s->stats.drop_bad_update++;
			continue;
		}
		bool has_state = u->has_state;
		switch (u->kind) {
		case SWIM_UPD_ALIVE:
			on_alive(s, u, now_ms);
			break;
		case SWIM_UPD_SUSPECT:
		case SWIM_UPD_DEAD:
			/* prefer suspicion to dead: a live node may refute */
			u->kind = SWIM_UPD_SUSPECT;
			u->has_from = true;
			u->from = s->self.id;
			swim__on_suspect(s, u, now_ms);
			break;
		case SWIM_UPD_LEFT:
			swim__on_dead(s, u, now_ms);
			break;
		default:
			break;
		}
		if (has_state) {
			u->kind = SWIM_UPD_STATE;
			on_state(s, u);
		}
	}
	s->importing = false;
	free(u);
	wire_swim_pp_fini_decoded(&pp);
	refresh_deadline(s);
	return 0;
}

/* ---- leave, local state, queries ---- */

void swim_leave(struct swim *s, uint64_t now_ms)
{
	if (s->leaving) {
		return;
	}
	s->leaving = true;
	s->probe.active = false;
	swim__set_status(s, &s->self, SWIM_LEFT, now_ms);
	s->leave_transmits = 0;
	swim__queue_member(s, &s->self);
	s->next_gossip_ms = now_ms;
	refresh_deadline(s);
}

bool swim_leave_done(const struct swim *s)
{
	if (!s->leaving) {
		return false;
	}
	return s->n_live == 0 || s->self.bc[0] == NULL;
}

void swim_set_local_state(struct swim *s, const struct node_state *st,
			  uint64_t now_ms)
{
	(void)now_ms;
	uint64_t v = s->local_state.version + 1;
	s->local_state = *st;
	s->local_state.version = v;
	s->self.state_inc = s->self.incarnation;
	struct swim_update *u = malloc(sizeof(*u));
	if (u == NULL) {
		return;
	}
	memset(u, 0, sizeof(*u));
	u->kind = SWIM_UPD_STATE;
	u->id = s->self.id;
	u->incarnation = s->self.incarnation;
	u->has_state = true;
	u->state = s->local_state;
	swim__queue(s, &s->self, 1, u);
	free(u);
}

const struct node_state *swim_local_state(const struct swim *s)
{
	return &s->local_state;
}

uint64_t swim_incarnation(const struct swim *s)
{
	return s->self.incarnation;
}

const struct node_id *swim_self_id(const struct swim *s)
{
	return &s->self.id;
}

size_t swim_member_count(const struct swim *s)
{
	return s->n_members;
}

size_t swim_live_count(const struct swim *s)
{
	return s->n_live + (s->leaving ? 0 : 1);
}

int swim_member_at(const struct swim *s, size_t i, struct swim_member_info *out)
{
	if (i >= s->n_members) {
		return -ENOENT;
	}
	member_info(s->members[i], out);
	return 0;
}

int swim_member_find(const struct swim *s, const struct node_id *id,
		     struct swim_member_info *out)
{
	const struct swim_member *m =
	    swim__id_eq(id, &s->self.id) ? &s->self : swim__find(s, id);
	if (m == NULL) {
		return -ENOENT;
	}
	member_info(m, out);
	return 0;
}

uint32_t swim_health_score(const struct swim *s)
{
	return s->awareness;
}

const struct swim_stats *swim_get_stats(const struct swim *s)
{
	return &s->stats;
}

size_t swim_queue_len(const struct swim *s)
{
	return s->q_len;
}
