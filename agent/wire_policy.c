// SPDX-License-Identifier: Apache-2.0
// wire_policy: Policy and DesiredState (proto/policy.proto) to and from
// agent/policy.h. The top level is written and read field by field so the
// long repeated parts (Q prior, workloads) are converted one element at a
// time with small bounded buffers; the small sub-messages go through
// protobuf-c on a stack arena.

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_internal.h"
#include "wire_workload.h"

#include "policy.pb-c.h"

#define SUB_MAX 2048 /* hyper, mask and reward messages, bytes */

/* ---- writer helpers -------------------------------------------------- */

struct wr {
	uint8_t *out;
	size_t cap;
	size_t pos;
	size_t need; /* total bytes the message needs */
};

static void wr_varint(struct wr *w, uint32_t num, uint64_t v)
{
	size_t n;

	if (v == 0) {
		return;
	}
	n = wire__varint_len(((uint64_t)num << 3)) + wire__varint_len(v);
	w->need += n;
	if (w->need <= w->cap) {
		wire__put_tag(w->out, &w->pos, num, WIRE__WT_VARINT);
		wire__put_varint(w->out, &w->pos, v);
	}
}

static void wr_bytes(struct wr *w, uint32_t num, const void *p, size_t len)
{
	size_t n;

	if (len == 0) {
		return;
	}
	n = wire__varint_len(((uint64_t)num << 3)) + wire__varint_len(len) +
	    len;
	w->need += n;
	if (w->need <= w->cap) {
		wire__put_tag(w->out, &w->pos, num, WIRE__WT_LEN);
		wire__put_varint(w->out, &w->pos, len);
		memcpy(w->out + w->pos, p, len);
		w->pos += len;
	}
}

/* A length-delimited field whose body protobuf-c packs. */
static void wr_msg(struct wr *w, uint32_t num, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	size_t n = wire__varint_len(((uint64_t)num << 3)) +
		   wire__varint_len(len) + len;

	w->need += n;
	if (w->need <= w->cap) {
		wire__put_tag(w->out, &w->pos, num, WIRE__WT_LEN);
		wire__put_varint(w->out, &w->pos, len);
		w->pos += protobuf_c_message_pack(m, w->out + w->pos);
	}
}

static int wr_done(struct wr *w, size_t *out_len)
{
	*out_len = w->need;
	return w->need <= w->cap ? 0 : -ENOBUFS;
}

/* ---- policy ---------------------------------------------------------- */

static bool all_finite(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!wire__finite(v[i])) {
			return false;
		}
	}
	return true;
}

int wire_policy_encode(const struct policy *pol, uint8_t *out, size_t cap,
		       size_t *out_len)
{
	struct wr w = {.out = out, .cap = cap};
	const char *part =
	    wire__str_out(pol->partition, sizeof(pol->partition));
	double rw[3][3];

	if (part == NULL || pol->n_masks > 3 ||
	    (pol->has_prior && pol->n_prior > POLICY_PRIOR_MAX)) {
		return -EINVAL;
	}
	wr_varint(&w, 1, pol->version);
	wr_bytes(&w, 2, part, strlen(part));
	wr_varint(&w, 3, pol->issued_ms);
	wr_varint(&w, 4, pol->expires_ms);
	if (pol->has_hyper) {
		Farnode__V1__SchedHyper h = FARNODE__V1__SCHED_HYPER__INIT;
		const struct policy_hyper *ph = &pol->hyper;
		double d[] = {ph->alpha,       ph->gamma,	  ph->epsilon,
			      ph->epsilon_min, ph->epsilon_decay, ph->q_init,
			      ph->hot_temp_c};

		if (!all_finite(d, sizeof(d) / sizeof(d[0]))) {
			return -EINVAL;
		}
		h.alpha = ph->alpha;
		h.gamma = ph->gamma;
		h.epsilon = ph->epsilon;
		h.epsilon_min = ph->epsilon_min;
		h.epsilon_decay = ph->epsilon_decay;
		h.q_init = ph->q_init;
		h.neighbours_k = ph->neighbours_k;
		h.hot_temp_c = ph->hot_temp_c;
		wr_msg(&w, 5, &h.base);
	}
	for (uint32_t i = 0; i < pol->n_masks; i++) {
		Farnode__V1__ActionMask m = FARNODE__V1__ACTION_MASK__INIT;
		const struct policy_mask *pm = &pol->masks[i];

		if ((unsigned)pm->qos > 2 || (pm->forbid & ~0xfu) != 0) {
			return -EINVAL;
		}
		m.qos = (Farnode__V1__QosClass)(pm->qos + 1);
		m.forbid_local = (pm->forbid & SCHED_FORBID_LOCAL) != 0;
		m.forbid_offload = (pm->forbid & SCHED_FORBID_OFFLOAD) != 0;
		m.forbid_defer = (pm->forbid & SCHED_FORBID_DEFER) != 0;
		m.forbid_reject = (pm->forbid & SCHED_FORBID_REJECT) != 0;
		wr_msg(&w, 6, &m.base);
	}
	if (pol->has_reward) {
		Farnode__V1__RewardWeights r =
		    FARNODE__V1__REWARD_WEIGHTS__INIT;
		const struct policy_reward *pr = &pol->reward;
		double d[] = {pr->met,	       pr->missed,   pr->failed,
			      pr->rejected,    pr->deferred, pr->latency_ref_ms,
			      pr->energy_ref_j};

		if (!all_finite(d, sizeof(d) / sizeof(d[0])) ||
		    !all_finite(pr->class_weight, 3) ||
		    !all_finite(pr->w_latency, 3) ||
		    !all_finite(pr->w_energy, 3) ||
		    !all_finite(pr->w_failure, 3)) {
			return -EINVAL;
		}
		memcpy(rw[0], pr->w_latency, sizeof(rw[0]));
		memcpy(rw[1], pr->w_energy, sizeof(rw[1]));
		memcpy(rw[2], pr->w_failure, sizeof(rw[2]));
		r.met = pr->met;
		r.missed = pr->missed;
		r.failed = pr->failed;
		r.rejected = pr->rejected;
		r.deferred = pr->deferred;
		r.n_class_weight = 3;
		r.class_weight = (double *)pr->class_weight;
		r.n_w_latency = r.n_w_energy = r.n_w_failure = 3;
		r.w_latency = rw[0];
		r.w_energy = rw[1];
		r.w_failure = rw[2];
		r.latency_ref_ms = pr->latency_ref_ms;
		r.energy_ref_j = pr->energy_ref_j;
		wr_msg(&w, 7, &r.base);
	}
	if (pol->has_prior) {
		size_t len =
		    wire__qshare_len(pol->prior_fingerprint, pol->prior_round,
				     pol->prior, pol->n_prior);
		size_t n = 1 + wire__varint_len(len) + len, got, fit;

		for (size_t i = 0; i < pol->n_prior; i++) {
			if (!wire__finite(pol->prior[i].q)) {
				return -EINVAL;
			}
		}
		w.need += n;
		if (w.need <= w.cap) {
			wire__put_tag(out, &w.pos, 8, WIRE__WT_LEN);
			wire__put_varint(out, &w.pos, len);
			wire_qshare_encode(pol->prior_fingerprint,
					   pol->prior_round, pol->prior,
					   pol->n_prior, out + w.pos, len, &got,
					   &fit);
			w.pos += got;
		}
	}
	return wr_done(&w, out_len);
}

static int hyper_in(const struct wire__field *f, struct policy_hyper *h)
{
	uint8_t buf[SUB_MAX * 2];
	struct wire__arena a;
	Farnode__V1__SchedHyper *m;

	if (f->len > SUB_MAX) {
		return -EBADMSG;
	}
	wire__arena_init(&a, buf, sizeof(buf));
	m = farnode__v1__sched_hyper__unpack(&a.alloc, f->len, f->p);
	if (m == NULL) {
		return -EBADMSG;
	}
	h->alpha = m->alpha;
	h->gamma = m->gamma;
	h->epsilon = m->epsilon;
	h->epsilon_min = m->epsilon_min;
	h->epsilon_decay = m->epsilon_decay;
	h->q_init = m->q_init;
	h->neighbours_k = m->neighbours_k;
	h->hot_temp_c = m->hot_temp_c;
	{
		double d[] = {h->alpha,	      h->gamma,		h->epsilon,
			      h->epsilon_min, h->epsilon_decay, h->q_init,
			      h->hot_temp_c};

		if (!all_finite(d, sizeof(d) / sizeof(d[0]))) {
			return -EBADMSG;
		}
	}
	return 0;
}

static int mask_in(const struct wire__field *f, struct policy *pol)
{
	uint8_t buf[SUB_MAX];
	struct wire__arena a;
	Farnode__V1__ActionMask *m;
	struct policy_mask pm;

	if (f->len > 64 || pol->n_masks >= 3) {
		return -EBADMSG;
	}
	wire__arena_init(&a, buf, sizeof(buf));
	m = farnode__v1__action_mask__unpack(&a.alloc, f->len, f->p);
	if (m == NULL || m->qos < 1 || m->qos > 3) {
		return -EBADMSG;
	}
	pm.qos = (enum qos_class)(m->qos - 1);
	pm.forbid = (m->forbid_local ? SCHED_FORBID_LOCAL : 0) |
		    (m->forbid_offload ? SCHED_FORBID_OFFLOAD : 0) |
		    (m->forbid_defer ? SCHED_FORBID_DEFER : 0) |
		    (m->forbid_reject ? SCHED_FORBID_REJECT : 0);
	for (uint32_t i = 0; i < pol->n_masks; i++) {
		if (pol->masks[i].qos == pm.qos) {
			return -EBADMSG; /* one mask per class */
		}
	}
	pol->masks[pol->n_masks++] = pm;
	return 0;
}

static int reward_in(const struct wire__field *f, struct policy_reward *r)
{
	uint8_t buf[SUB_MAX * 4];
	struct wire__arena a;
	Farnode__V1__RewardWeights *m;

	if (f->len > SUB_MAX) {
		return -EBADMSG;
	}
	wire__arena_init(&a, buf, sizeof(buf));
	m = farnode__v1__reward_weights__unpack(&a.alloc, f->len, f->p);
	if (m == NULL || m->n_class_weight != 3 || m->n_w_latency != 3 ||
	    m->n_w_energy != 3 || m->n_w_failure != 3) {
		return -EBADMSG;
	}
	r->met = m->met;
	r->missed = m->missed;
	r->failed = m->failed;
	r->rejected = m->rejected;
	r->deferred = m->deferred;
	memcpy(r->class_weight, m->class_weight, sizeof(r->class_weight));
	memcpy(r->w_latency, m->w_latency, sizeof(r->w_latency));
	memcpy(r->w_energy, m->w_energy, sizeof(r->w_energy));
	memcpy(r->w_failure, m->w_failure, sizeof(r->w_failure));
	r->latency_ref_ms = m->latency_ref_ms;
	r->energy_ref_j = m->energy_ref_j;
	{
		double d[] = {r->met,	      r->missed,   r->failed,
			      r->rejected,    r->deferred, r->latency_ref_ms,
			      r->energy_ref_j};

		if (!all_finite(d, sizeof(d) / sizeof(d[0])) ||
		    !all_finite(r->class_weight, 3) ||
		    !all_finite(r->w_latency, 3) ||
		    !all_finite(r->w_energy, 3) ||
		    !all_finite(r->w_failure, 3)) {
			return -EBADMSG;
		}
	}
	return 0;
}

/* A string field into a fixed array; -EBADMSG if too long or has NUL. */
static int str_field(const struct wire__field *f, char *dst, size_t cap)
{
	if (f->wt != WIRE__WT_LEN || f->len >= cap ||
	    memchr(f->p, 0, f->len) != NULL) {
		return -EBADMSG;
	}
	memcpy(dst, f->p, f->len);
	dst[f->len] = '\0';
	return 0;
}

int wire_policy_decode(const uint8_t *p, size_t len, struct policy *pol)
{
	struct wire__field f;
	size_t pos = 0;
	int rc = 0, more;

	policy_init(pol);
	if (len > WIRE_BUNDLE_MAX) {
		return -EMSGSIZE;
	}
	while (rc == 0 && (more = wire__next(p, len, &pos, &f)) != 0) {
		if (more < 0) {
			rc = -EBADMSG;
			break;
		}
		switch (f.num) {
		case 1:
		case 3:
		case 4:
			if (f.wt != WIRE__WT_VARINT) {
				rc = -EBADMSG;
			} else if (f.num == 1) {
				pol->version = f.v;
			} else if (f.num == 3) {
				pol->issued_ms = f.v;
			} else {
				pol->expires_ms = f.v;
			}
			break;
		case 2:
			rc = str_field(&f, pol->partition,
				       sizeof(pol->partition));
			break;
		case 5:
		case 6:
		case 7:
		case 8:
			if (f.wt != WIRE__WT_LEN) {
				rc = -EBADMSG;
			} else if (f.num == 5) {
				rc = hyper_in(&f, &pol->hyper);
				pol->has_hyper = true;
			} else if (f.num == 6) {
				rc = mask_in(&f, pol);
			} else if (f.num == 7) {
				rc = reward_in(&f, &pol->reward);
				pol->has_reward = true;
			} else {
				free(pol->prior);
				pol->prior = NULL;
				rc = wire__qshare_read(
				    f.p, f.len, &pol->prior_fingerprint,
				    &pol->prior_round, &pol->prior, 0,
				    &pol->n_prior);
				if (rc == -EMSGSIZE) {
					rc = -EBADMSG;
				}
				if (rc == 0 &&
				    pol->n_prior > POLICY_PRIOR_MAX) {
					rc = -EBADMSG;
				}
				pol->has_prior = true;
			}
			break;
		default:
			break;
		}
	}
	if (rc < 0) {
		policy_fini(pol);
	}
	return rc;
}

/* ---- desired state ---------------------------------------------------- */

int wire_desired_encode(const struct desired_state *d, uint8_t *out, size_t cap,
			size_t *out_len)
{
	struct wr w = {.out = out, .cap = cap};
	const char *part = wire__str_out(d->partition, sizeof(d->partition));
	struct wire__spec_store st;
	int rc;

	if (part == NULL || d->n_workloads > DESIRED_WORKLOADS_MAX) {
		return -EINVAL;
	}
	wr_varint(&w, 1, d->version);
	wr_bytes(&w, 2, part, strlen(part));
	wr_bytes(&w, 3, d->node.b, NODE_ID_LEN);
	wr_varint(&w, 4, d->issued_ms);
	wr_varint(&w, 5, d->expires_ms);
	for (size_t i = 0; i < d->n_workloads; i++) {
		rc = wire__spec_to_pb(&d->workloads[i], &st);
		if (rc < 0) {
			return rc;
		}
		wr_msg(&w, 6, &st.m.base);
	}
	return wr_done(&w, out_len);
}

int wire_desired_decode(const uint8_t *p, size_t len, struct desired_state *d)
{
	struct wire__field f;
	size_t pos = 0, count = 0, i = 0;
	bool have_node = false;
	int rc = 0, more;

	desired_state_init(d);
	if (len > WIRE_BUNDLE_MAX) {
		return -EMSGSIZE;
	}
	/* pass 1: scalars and structure; count workloads */
	while (rc == 0 && (more = wire__next(p, len, &pos, &f)) != 0) {
		if (more < 0) {
			rc = -EBADMSG;
			break;
		}
		switch (f.num) {
		case 1:
		case 4:
		case 5:
			if (f.wt != WIRE__WT_VARINT) {
				rc = -EBADMSG;
			} else if (f.num == 1) {
				d->version = f.v;
			} else if (f.num == 4) {
				d->issued_ms = f.v;
			} else {
				d->expires_ms = f.v;
			}
			break;
		case 2:
			rc = str_field(&f, d->partition, sizeof(d->partition));
			break;
		case 3:
			if (f.wt != WIRE__WT_LEN || f.len != NODE_ID_LEN) {
				rc = -EBADMSG;
			} else {
				memcpy(d->node.b, f.p, NODE_ID_LEN);
				have_node = true;
			}
			break;
		case 6:
			rc = f.wt == WIRE__WT_LEN ? 0 : -EBADMSG;
			count++;
			break;
		default:
			break;
		}
	}
	if (rc == 0 && (!have_node || count > DESIRED_WORKLOADS_MAX)) {
		rc = -EBADMSG;
	}
	if (rc == 0 && count > 0) {
		d->workloads = calloc(count, sizeof(*d->workloads));
		rc = d->workloads == NULL ? -ENOMEM : 0;
	}
	/* pass 2: one workload at a time */
	pos = 0;
	while (rc == 0 && wire__next(p, len, &pos, &f) > 0) {
		if (f.num != 6) {
			continue;
		}
		rc = wire_workload_spec_decode(f.p, f.len, &d->workloads[i++]);
		if (rc == -EMSGSIZE) {
			rc = -EBADMSG;
		}
	}
	if (rc < 0) {
		desired_state_fini(d);
		return rc;
	}
	d->n_workloads = count;
	return 0;
}
