// SPDX-License-Identifier: Apache-2.0
/*
 * offload_share: federated Q-sharing between neighbours (DESIGN §7). Each
 * round exports the cells of the most visited states (state, action, q,
 * visits — never anything about a workload) as Q_SHARE bodies; received
 * shares are merged through sched_merge with a bounded influence, at most
 * a budget of entries per sender and round, older rounds dropped.
 */
#include "offload.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

struct sender {
	struct node_id id;
	uint64_t round;
	uint32_t merged_in_round;
	uint64_t seen; /* LRU stamp */
};

struct offload_share {
	struct offload_share_params p;
	struct offload_share_stats st;
	uint64_t round;
	uint64_t clock;
	struct sender *senders;
	uint32_t n_senders;
	struct sched_share *ents;
	size_t ents_cap;
	uint8_t *buf;
	size_t buf_cap;
};

void offload_share_params_default(struct offload_share_params *p)
{
	memset(p, 0, sizeof(*p));
	p->top_states = 64;
	p->max_influence = 0.2;
	p->max_entries_per_round = 4096;
	p->max_senders = 64;
}

static int share_params_check(const struct offload_share_params *p)
{
	if (p->top_states == 0 || p->top_states > 65536 ||
	    !isfinite(p->max_influence) || p->max_influence <= 0 ||
	    p->max_influence > 1 || p->max_entries_per_round == 0 ||
	    p->max_senders == 0 || p->max_senders > 4096) {
		return -EINVAL;
	}
	return 0;
}

int offload_share_new(const struct offload_share_params *p,
		      struct offload_share **out)
{
	struct offload_share *sh;

	*out = NULL;
	if (p == NULL || share_params_check(p) < 0) {
		return -EINVAL;
	}
	sh = calloc(1, sizeof(*sh));
	if (sh == NULL) {
		return -ENOMEM;
	}
	sh->p = *p;
	sh->round = p->round_base;
	sh->senders = calloc(p->max_senders, sizeof(*sh->senders));
	if (sh->senders == NULL) {
		free(sh);
		return -ENOMEM;
	}
	*out = sh;
	return 0;
}

void offload_share_free(struct offload_share *sh)
{
	if (sh == NULL) {
		return;
	}
	free(sh->senders);
	free(sh->ents);
	free(sh->buf);
	free(sh);
}

int offload_share_set_params(struct offload_share *sh,
			     const struct offload_share_params *p)
{
	if (share_params_check(p) < 0 || p->max_senders != sh->p.max_senders) {
		return -EINVAL;
	}
	sh->p = *p;
	return 0;
}

const struct offload_share_stats *
offload_share_stats(const struct offload_share *sh)
{
	return &sh->st;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	void *n;

	if (*cap >= need) {
		return 0;
	}
	n = realloc(*p, need * elem);
	if (n == NULL) {
		return -ENOMEM;
	}
	*p = n;
	*cap = need;
	return 0;
}

int offload_share_export(struct offload_share *sh, const struct sched *s,
			 const struct node_id *peers, size_t n_peers,
			 size_t body_max,
			 int (*send)(void *ud, const struct node_id *to,
				     uint32_t type, const uint8_t *body,
				     size_t len),
			 void *ud)
{
	size_t max, n, off = 0, len, fit, i;
	uint32_t fp = sched_fingerprint(s);
	int rc, msgs = 0;

	if (send == NULL || body_max < 32 || body_max > WIRE_QSHARE_MAX ||
	    (n_peers > 0 && peers == NULL)) {
		return -EINVAL;
	}
	max = (size_t)sh->p.top_states * sched_n_actions(s);
	rc = grow((void **)&sh->ents, &sh->ents_cap, max, sizeof(*sh->ents));
	if (rc == 0) {
		rc = grow((void **)&sh->buf, &sh->buf_cap, body_max, 1);
	}
	if (rc < 0) {
		return rc;
	}
	n = sched_share_top(s, sh->p.top_states, sh->ents, max);
	sh->round++;
	sh->st.rounds++;
	while (off < n) {
		rc = wire_qshare_encode(fp, sh->round, sh->ents + off, n - off,
					sh->buf, body_max, &len, &fit);
		if (rc < 0) {
			return rc;
		}
		if (fit == 0) {
			return -EMSGSIZE;
		}
		for (i = 0; i < n_peers; i++) {
			if (send(ud, &peers[i], WIRE_Q_SHARE, sh->buf, len) ==
			    0) {
				sh->st.sent++;
				sh->st.entries_sent += fit;
			}
		}
		off += fit;
		msgs++;
	}
	return msgs;
}

static struct sender *sender_get(struct offload_share *sh,
				 const struct node_id *id)
{
	struct sender *free_s = NULL, *old = NULL;
	uint32_t i;

	sh->clock++;
	for (i = 0; i < sh->n_senders; i++) {
		if (node_id_equal(&sh->senders[i].id, id)) {
			sh->senders[i].seen = sh->clock;
			return &sh->senders[i];
		}
		if (old == NULL || sh->senders[i].seen < old->seen) {
			old = &sh->senders[i];
		}
	}
	if (sh->n_senders < sh->p.max_senders) {
		free_s = &sh->senders[sh->n_senders++];
	} else {
		free_s = old; /* forget the least recently heard sender */
	}
	memset(free_s, 0, sizeof(*free_s));
	free_s->id = *id;
	free_s->seen = sh->clock;
	return free_s;
}

int offload_share_recv(struct offload_share *sh, struct sched *s,
		       const struct node_id *from, const uint8_t *body,
		       size_t len)
{
	struct sched_merge_result mr;
	struct sender *snd;
	uint32_t fp;
	uint64_t round;
	size_t n, budget;
	int rc;

	sh->st.received++;
	if (from == NULL || (body == NULL && len > 0)) {
		sh->st.malformed++;
		return -EBADMSG;
	}
	if (len > WIRE_QSHARE_MAX) {
		sh->st.malformed++;
		return -EMSGSIZE;
	}
	/* every entry takes at least two bytes, so len bounds the count */
	rc = grow((void **)&sh->ents, &sh->ents_cap,
		  len / 2 + 1 < WIRE_QSHARE_ENTRIES_MAX
		      ? len / 2 + 1
		      : WIRE_QSHARE_ENTRIES_MAX,
		  sizeof(*sh->ents));
	if (rc < 0) {
		return rc;
	}
	rc = wire_qshare_decode(body, len, &fp, &round, sh->ents, sh->ents_cap,
				&n);
	if (rc < 0) {
		sh->st.malformed++;
		return rc == -EMSGSIZE ? -EMSGSIZE : -EBADMSG;
	}
	if (fp != sched_fingerprint(s)) {
		sh->st.foreign++;
		return -EPROTO;
	}
	snd = sender_get(sh, from);
	if (round < snd->round) {
		sh->st.stale++;
		return -ESTALE;
	}
	if (round > snd->round) {
		snd->round = round;
		snd->merged_in_round = 0;
	}
	budget = sh->p.max_entries_per_round - snd->merged_in_round;
	if (n > budget) {
		sh->st.over_budget += n - budget;
		n = budget;
	}
	if (n == 0) {
		return 0;
	}
	rc = sched_merge(s, sh->ents, n, sh->p.max_influence, &mr);
	if (rc < 0) {
		return rc;
	}
	snd->merged_in_round += (uint32_t)n;
	sh->st.merged += mr.merged;
	sh->st.refused += mr.refused;
	return (int)mr.merged;
}
