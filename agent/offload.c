// SPDX-License-Identifier: Apache-2.0
/*
 * offload: the pure offload state machine (see offload.h for the protocol).
 * Two fixed tables of slots, one per side, each holding open entries and
 * tombstones of closed ones; no allocation after offload_new except the
 * spec copy of an open origin offer. Callbacks run after the entry they
 * concern is settled, so they may call back into the module.
 */
#include "offload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define LOG_TAG "offload"
#include "log.h"

enum o_state {
	O_FREE = 0,
	O_OFFERED,  /* waiting for a reply; offer retransmitted */
	O_ACCEPTED, /* target runs it; waiting for the result */
	O_CLOSED,   /* tombstone */
};

struct oentry {
	enum o_state st;
	char id[WORKLOAD_ID_MAX];
	struct node_id target;
	uint64_t offer_id;
	struct workload_spec *spec; /* open entries only */
	struct sched_decision d;
	uint32_t queued_ms;
	bool abandoned;	     /* closed without an answer: withdraw on contact */
	uint64_t target_gen; /* the target's generation when it accepted */
	uint64_t created, next_send, deadline;
};

enum t_state {
	T_FREE = 0,
	T_RUNNING,   /* accepted, run() called, capacity reserved */
	T_REPORTING, /* result sent; retransmitted until acknowledged */
	T_CLOSED,    /* tombstone: the same reply answers duplicates */
};

struct tentry {
	enum t_state st;
	char id[WORKLOAD_ID_MAX];
	struct node_id origin;
	uint64_t offer_id;
	uint32_t cpu_milli;
	uint64_t mem_bytes;
	uint32_t queued_ms, max_delay_ms;
	struct offload_reply reply;
	struct offload_result result;
	bool has_result;
	uint64_t arrived, promise, next_send, expire;
};

struct offload {
	struct node_id self;
	struct offload_params p;
	struct offload_io io;
	struct offload_stats st;
	uint64_t next_offer_id;
	uint32_t n_slots;
	struct oentry *o;
	struct tentry *t;
	uint32_t cpu_reserved;
	uint64_t mem_reserved;
	struct offload_offer scratch; /* offer being encoded/decoded */
	uint8_t buf[OFFLOAD_BODY_MAX];
};

void offload_params_default(struct offload_params *p)
{
	memset(p, 0, sizeof(*p));
	p->retry_ms = 500;
	p->offer_timeout_ms = 3000;
	p->grace_ms = 2000;
	p->run_default_ms = 60000;
	p->result_giveup_ms = 600000;
	p->tombstone_ms = 600000;
	p->max_entries = 256;
	p->offer_id_base = 1;
}

static int params_check(const struct offload_params *p)
{
	if (p->retry_ms == 0 || p->offer_timeout_ms == 0 ||
	    p->run_default_ms == 0 || p->result_giveup_ms == 0 ||
	    p->tombstone_ms == 0 || p->max_entries == 0 ||
	    p->max_entries > 65536) {
		return -EINVAL;
	}
	return 0;
}

int offload_new(const struct node_id *self, const struct offload_params *p,
		const struct offload_io *io, struct offload **out)
{
	struct offload *o;

	*out = NULL;
	if (self == NULL || p == NULL || io == NULL || io->send == NULL ||
	    io->redecide == NULL || io->completed == NULL ||
	    params_check(p) < 0) {
		return -EINVAL;
	}
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		return -ENOMEM;
	}
	o->self = *self;
	o->p = *p;
	o->io = *io;
	o->next_offer_id = p->offer_id_base ? p->offer_id_base : 1;
	o->n_slots = p->max_entries * 2;
	o->o = calloc(o->n_slots, sizeof(*o->o));
	o->t = calloc(o->n_slots, sizeof(*o->t));
	if (o->o == NULL || o->t == NULL) {
		offload_free(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

void offload_free(struct offload *o)
{
	uint32_t i;

	if (o == NULL) {
		return;
	}
	if (o->o != NULL) {
		for (i = 0; i < o->n_slots; i++) {
			free(o->o[i].spec);
		}
	}
	free(o->o);
	free(o->t);
	free(o);
}

int offload_set_params(struct offload *o, const struct offload_params *p)
{
	if (params_check(p) < 0 || p->max_entries * 2 != o->n_slots) {
		return -EINVAL;
	}
	o->p = *p;
	return 0;
}

const struct offload_stats *offload_stats(const struct offload *o)
{
	return &o->st;
}

const char *offload_redo_name(enum offload_redo r)
{
	switch (r) {
	case OFFLOAD_REDO_DECLINED:
		return "declined";
	case OFFLOAD_REDO_NO_REPLY:
		return "no-reply";
	case OFFLOAD_REDO_OVERDUE:
		return "overdue";
	case OFFLOAD_REDO_DEAD:
		return "target-dead";
	case OFFLOAD_REDO_RESTARTED:
		return "target-restarted";
	}
	return "unknown";
}

/* ---- sending ------------------------------------------------------ */

static void send_body(struct offload *o, const struct node_id *to,
		      uint32_t type, size_t len)
{
	if (o->io.send(o->io.ud, to, type, o->buf, len) < 0) {
		o->st.send_errors++;
	}
}

static void send_offer(struct offload *o, struct oentry *e, uint64_t now)
{
	size_t len;

	o->scratch.offer_id = e->offer_id;
	o->scratch.spec = *e->spec;
	o->scratch.reply_timeout_ms = o->p.offer_timeout_ms;
	o->scratch.queued_ms = e->queued_ms + (uint32_t)(now - e->created);
	if (wire_offload_offer_encode(&o->scratch, o->buf, sizeof(o->buf),
				      &len) < 0) {
		o->st.send_errors++;
		return;
	}
	o->st.offer_sends++;
	send_body(o, &e->target, WIRE_OFFLOAD_OFFER, len);
}

static void send_reply(struct offload *o, const struct tentry *e)
{
	size_t len;

	if (wire_offload_reply_encode(&e->reply, o->buf, sizeof(o->buf), &len) <
	    0) {
		o->st.send_errors++;
		return;
	}
	send_body(o, &e->origin, WIRE_OFFLOAD_REPLY, len);
}

static void send_result(struct offload *o, const struct node_id *to,
			const struct offload_result *r)
{
	size_t len;

	if (wire_offload_result_encode(r, o->buf, sizeof(o->buf), &len) < 0) {
		o->st.send_errors++;
		return;
	}
	send_body(o, to, WIRE_OFFLOAD_RESULT, len);
}

/* Origin -> target: close offer_id of id (withdrawal or acknowledgement;
 * the target tells them apart by its own state). */
static void send_close(struct offload *o, const struct node_id *to,
		       const char *id, uint64_t offer_id)
{
	struct offload_result r;

	memset(&r, 0, sizeof(r));
	r.offer_id = offer_id;
	snprintf(r.workload_id, sizeof(r.workload_id), "%s", id);
	r.outcome = OFFLOAD_FAILED;
	snprintf(r.reason, sizeof(r.reason), "closed by origin");
	send_result(o, to, &r);
}

/* ---- origin table ------------------------------------------------- */

static struct oentry *o_open(struct offload *o, const char *id)
{
	uint32_t i;

	for (i = 0; i < o->n_slots; i++) {
		struct oentry *e = &o->o[i];
		if ((e->st == O_OFFERED || e->st == O_ACCEPTED) &&
		    strcmp(e->id, id) == 0) {
			return e;
		}
	}
	return NULL;
}

static struct oentry *o_tomb(struct offload *o, const char *id,
			     uint64_t offer_id)
{
	uint32_t i;

	for (i = 0; i < o->n_slots; i++) {
		struct oentry *e = &o->o[i];
		if (e->st == O_CLOSED && e->offer_id == offer_id &&
		    strcmp(e->id, id) == 0) {
			return e;
		}
	}
	return NULL;
}

uint32_t offload_open(const struct offload *o)
{
	uint32_t i, n = 0;

	for (i = 0; i < o->n_slots; i++) {
		if (o->o[i].st == O_OFFERED || o->o[i].st == O_ACCEPTED) {
			n++;
		}
	}
	return n;
}

bool offload_is_offered(const struct offload *o, const char *id)
{
	return id != NULL && o_open((struct offload *)o, id) != NULL;
}

/* A free slot, else the oldest tombstone. NULL when all are open. */
static struct oentry *o_slot(struct offload *o)
{
	struct oentry *old = NULL;
	uint32_t i;

	for (i = 0; i < o->n_slots; i++) {
		struct oentry *e = &o->o[i];
		if (e->st == O_FREE) {
			return e;
		}
		if (e->st == O_CLOSED &&
		    (old == NULL || e->deadline < old->deadline)) {
			old = e;
		}
	}
	if (old != NULL) {
		memset(old, 0, sizeof(*old));
	}
	return old;
}

int offload_offer(struct offload *o, const struct node_id *to,
		  const struct workload_spec *spec,
		  const struct sched_decision *d, uint32_t queued_ms,
		  uint64_t now)
{
	struct oentry *e;

	if (to == NULL || spec == NULL || node_id_is_zero(to) ||
	    node_id_equal(to, &o->self) ||
	    workload_spec_validate(spec, NULL, 0) < 0) {
		return -EINVAL;
	}
	if (o_open(o, spec->id) != NULL) {
		return -EALREADY;
	}
	if (offload_open(o) >= o->p.max_entries) {
		return -ENOSPC;
	}
	e = o_slot(o);
	if (e == NULL) {
		return -ENOSPC;
	}
	memset(e, 0, sizeof(*e));
	e->spec = malloc(sizeof(*e->spec));
	if (e->spec == NULL) {
		return -ENOMEM;
	}
	*e->spec = *spec;
	memcpy(e->id, spec->id, sizeof(e->id));
	e->id[sizeof(e->id) - 1] = '\0';
	e->target = *to;
	e->offer_id = o->next_offer_id++;
	if (d != NULL) {
		e->d = *d;
	}
	e->queued_ms = queued_ms;
	e->created = now;
	e->deadline = now + o->p.offer_timeout_ms;
	e->next_send = now + o->p.retry_ms;
	e->st = O_OFFERED;
	o->st.offers++;
	send_offer(o, e, now);
	return 0;
}

/*
 * Close an open origin entry into a tombstone and return the spec it held
 * (the caller frees it after the callback).
 */
static struct workload_spec *o_close(struct offload *o, struct oentry *e,
				     bool abandoned, uint64_t now)
{
	struct workload_spec *spec = e->spec;

	e->spec = NULL;
	e->st = O_CLOSED;
	e->abandoned = abandoned;
	e->deadline = now + o->p.tombstone_ms;
	return spec;
}

/* Abandon an open attempt: withdraw it on the target and re-decide. */
static void o_abandon(struct offload *o, struct oentry *e,
		      enum offload_redo why, uint64_t now)
{
	struct sched_decision d = e->d;
	struct node_id target = e->target;
	struct workload_spec *spec;

	if (why != OFFLOAD_REDO_DECLINED) {
		send_close(o, &e->target, e->id, e->offer_id);
	}
	spec = o_close(o, e, why != OFFLOAD_REDO_DECLINED, now);
	o->st.redecided++;
	log_debug("offload of %s handed back (%s)", spec->id,
		  offload_redo_name(why));
	o->io.redecide(o->io.ud, spec, &d, &target, why);
	free(spec);
}

static int origin_reply(struct offload *o, const struct node_id *from,
			const struct offload_reply *r, uint64_t now)
{
	struct oentry *e = o_open(o, r->workload_id);

	if (e == NULL || e->offer_id != r->offer_id) {
		struct oentry *t = o_tomb(o, r->workload_id, r->offer_id);
		if (t != NULL && node_id_equal(&t->target, from)) {
			o->st.dup_replies++;
			if (r->accepted && t->abandoned) {
				/* it still holds an attempt we gave up on */
				send_close(o, from, t->id, t->offer_id);
			}
			return 0;
		}
		if (e != NULL || t != NULL) {
			o->st.rejected++;
			return -EPERM;
		}
		o->st.unknown++;
		return -ENOENT;
	}
	if (!node_id_equal(&e->target, from)) {
		o->st.rejected++;
		return -EPERM;
	}
	if (e->st == O_ACCEPTED) {
		o->st.dup_replies++;
		return 0;
	}
	if (!r->accepted) {
		o->st.declined++;
		o_abandon(o, e, OFFLOAD_REDO_DECLINED, now);
		return 0;
	}
	o->st.accepted++;
	e->st = O_ACCEPTED;
	e->target_gen = r->generation;
	e->deadline = now + (uint64_t)r->reserve_ms + o->p.grace_ms;
	return 0;
}

static int origin_result(struct offload *o, const struct node_id *from,
			 struct oentry *e, const struct offload_result *r,
			 uint64_t now)
{
	struct sched_outcome out;
	struct sched_decision d = e->d;
	struct node_id target = e->target;
	struct workload_spec *spec;
	double lat;

	/* acknowledge first: the target may stop retransmitting */
	send_result(o, from, r);
	lat = (double)e->queued_ms + (double)(now - e->created);
	spec = o_close(o, e, false, now);
	memset(&out, 0, sizeof(out));
	out.result =
	    r->outcome == OFFLOAD_DONE ? SCHED_OUT_DONE : SCHED_OUT_FAILED;
	out.latency_ms = lat;
	out.energy_j = r->energy_j;
	out.deadline_met =
	    r->outcome == OFFLOAD_DONE && r->deadline_met &&
	    (spec->max_delay_ms == 0 || lat <= (double)spec->max_delay_ms);
	if (r->outcome == OFFLOAD_DONE) {
		o->st.completed++;
	} else {
		o->st.failed++;
	}
	o->io.completed(o->io.ud, spec, &d, &target, r, &out);
	free(spec);
	return 0;
}

/* ---- target table ------------------------------------------------- */

static struct tentry *t_find(struct offload *o, const char *id)
{
	uint32_t i;

	for (i = 0; i < o->n_slots; i++) {
		if (o->t[i].st != T_FREE && strcmp(o->t[i].id, id) == 0) {
			return &o->t[i];
		}
	}
	return NULL;
}

bool offload_is_hosting(const struct offload *o, const char *id)
{
	const struct tentry *e;

	if (id == NULL) {
		return false;
	}
	e = t_find((struct offload *)o, id);
	return e != NULL && (e->st == T_RUNNING || e->st == T_REPORTING);
}

static uint32_t t_open(const struct offload *o)
{
	uint32_t i, n = 0;

	for (i = 0; i < o->n_slots; i++) {
		if (o->t[i].st == T_RUNNING || o->t[i].st == T_REPORTING) {
			n++;
		}
	}
	return n;
}

void offload_capacity(const struct offload *o, struct offload_capacity *c)
{
	c->cpu_milli = o->p.cpu_milli;
	c->cpu_reserved = o->cpu_reserved;
	c->mem_bytes = o->p.mem_bytes;
	c->mem_reserved = o->mem_reserved;
	c->entries = t_open(o);
}

static struct tentry *t_slot(struct offload *o)
{
	struct tentry *old = NULL;
	uint32_t i;

	for (i = 0; i < o->n_slots; i++) {
		struct tentry *e = &o->t[i];
		if (e->st == T_FREE) {
			return e;
		}
		if (e->st == T_CLOSED &&
		    (old == NULL || e->expire < old->expire)) {
			old = e;
		}
	}
	if (old != NULL) {
		memset(old, 0, sizeof(*old));
	}
	return old;
}

static void t_release(struct offload *o, struct tentry *e)
{
	o->cpu_reserved -= e->cpu_milli;
	o->mem_reserved -= e->mem_bytes;
	e->cpu_milli = 0;
	e->mem_bytes = 0;
}

static void t_tomb(struct offload *o, struct tentry *e, uint64_t now)
{
	t_release(o, e);
	e->st = T_CLOSED;
	e->expire = now + o->p.tombstone_ms;
}

/* Record the result of a hosted run and start reporting it. */
static void t_report(struct offload *o, struct tentry *e, bool done,
		     int32_t exit_code, const char *reason, double energy_j,
		     uint64_t now)
{
	struct offload_result *r = &e->result;
	double lat = (double)(now - e->arrived);

	memset(r, 0, sizeof(*r));
	r->offer_id = e->offer_id;
	memcpy(r->workload_id, e->id, sizeof(r->workload_id));
	r->outcome = done ? OFFLOAD_DONE : OFFLOAD_FAILED;
	r->latency_ms = lat;
	r->deadline_met =
	    done && (e->max_delay_ms == 0 ||
		     (double)e->queued_ms + lat <= (double)e->max_delay_ms);
	r->energy_j = energy_j >= 0 && energy_j < 1e12 ? energy_j : 0;
	r->exit_code = exit_code;
	if (reason != NULL) {
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
	}
	e->has_result = true;
	t_release(o, e);
	e->st = T_REPORTING;
	e->next_send = now + o->p.retry_ms;
	e->expire = now + o->p.result_giveup_ms;
	o->st.results_out++;
	send_result(o, &e->origin, r);
}

static enum offload_decline t_admit(struct offload *o,
				    const struct workload_spec *spec,
				    const struct node_id *from)
{
	if (workload_spec_validate(spec, NULL, 0) < 0) {
		return OFFLOAD_DECLINE_INVALID;
	}
	if (t_open(o) >= o->p.max_entries ||
	    (uint64_t)o->cpu_reserved + spec->cpu_milli > o->p.cpu_milli ||
	    o->mem_reserved + spec->mem_bytes > o->p.mem_bytes ||
	    o->mem_reserved + spec->mem_bytes < o->mem_reserved) {
		return OFFLOAD_DECLINE_CAPACITY;
	}
	if (o->io.run == NULL) {
		return OFFLOAD_DECLINE_POLICY;
	}
	if (o->io.admit != NULL) {
		return o->io.admit(o->io.ud, spec, from);
	}
	return OFFLOAD_DECLINE_NONE;
}

static int target_offer(struct offload *o, const struct node_id *from,
			const struct offload_offer *of, uint64_t now)
{
	const struct workload_spec *spec = &of->spec;
	struct tentry *e = t_find(o, spec->id);
	enum offload_decline dec;
	uint32_t reserve;
	int rc;

	o->st.offers_in++;
	if (e != NULL && node_id_equal(&e->origin, from)) {
		if (e->offer_id == of->offer_id ||
		    (e->st != T_CLOSED && of->offer_id > e->offer_id &&
		     e->reply.accepted)) {
			/* the same workload again: same answer, same run */
			o->st.dup_offers++;
			e->offer_id = of->offer_id;
			e->reply.offer_id = of->offer_id;
			e->result.offer_id = of->offer_id;
			send_reply(o, e);
			if (e->st == T_REPORTING) {
				send_result(o, &e->origin, &e->result);
			}
			return 0;
		}
		if (of->offer_id < e->offer_id) {
			o->st.rejected++; /* older attempt overtaken */
			return -EPERM;
		}
		if (e->st != T_CLOSED) {
			o->st.rejected++;
			return -EPERM;
		}
		memset(e, 0, sizeof(*e)); /* newer attempt after a close */
		e = NULL;
	} else if (e != NULL) {
		if (e->st != T_CLOSED) {
			/* another origin claims an id we host */
			o->st.rejected++;
			return -EPERM;
		}
		memset(e, 0, sizeof(*e));
		e = NULL;
	}
	if (node_id_equal(from, &o->self)) {
		o->st.rejected++;
		return -EPERM;
	}
	dec = t_admit(o, spec, from);
	e = t_slot(o);
	if (e == NULL) {
		dec = OFFLOAD_DECLINE_CAPACITY;
	}
	if (dec != OFFLOAD_DECLINE_NONE) {
		struct tentry tmp;
		struct tentry *r = e != NULL ? e : &tmp;

		memset(r, 0, sizeof(*r));
		memcpy(r->id, spec->id, sizeof(r->id));
		r->origin = *from;
		r->offer_id = of->offer_id;
		r->reply.offer_id = of->offer_id;
		memcpy(r->reply.workload_id, spec->id,
		       sizeof(r->reply.workload_id));
		r->reply.accepted = false;
		r->reply.decline = dec;
		if (e != NULL) {
			/* remembered so a late duplicate is not accepted */
			r->st = T_CLOSED;
			r->expire = now + o->p.tombstone_ms;
		}
		o->st.declines_out++;
		send_reply(o, r);
		return 0;
	}
	if (spec->max_delay_ms > 0) {
		reserve = spec->max_delay_ms > UINT32_MAX / 2
			      ? UINT32_MAX
			      : 2 * spec->max_delay_ms;
	} else {
		reserve = o->p.run_default_ms;
	}
	memset(e, 0, sizeof(*e));
	memcpy(e->id, spec->id, sizeof(e->id));
	e->origin = *from;
	e->offer_id = of->offer_id;
	e->cpu_milli = spec->cpu_milli;
	e->mem_bytes = spec->mem_bytes;
	e->queued_ms = of->queued_ms;
	e->max_delay_ms = spec->max_delay_ms;
	e->reply.offer_id = of->offer_id;
	memcpy(e->reply.workload_id, spec->id, sizeof(e->reply.workload_id));
	e->reply.accepted = true;
	e->reply.decline = OFFLOAD_DECLINE_NONE;
	e->reply.reserve_ms = reserve;
	e->reply.generation = o->p.generation;
	e->arrived = now;
	e->promise = now + reserve;
	e->st = T_RUNNING;
	o->cpu_reserved += spec->cpu_milli;
	o->mem_reserved += spec->mem_bytes;
	o->st.runs++;
	rc = o->io.run(o->io.ud, spec, &e->origin);
	if (rc < 0 && e->st == T_RUNNING) {
		/* it never started: a decline, so the origin places it again */
		t_tomb(o, e, now);
		e->reply.accepted = false;
		e->reply.decline = OFFLOAD_DECLINE_POLICY;
		e->reply.reserve_ms = 0;
		o->st.declines_out++;
		send_reply(o, e);
		return 0;
	}
	o->st.accepts_out++;
	send_reply(o, e);
	return 0;
}

/* A RESULT from the origin of a hosted entry: acknowledgement or
 * withdrawal. */
static int target_close(struct offload *o, struct tentry *e,
			const struct offload_result *r, uint64_t now)
{
	if (e->offer_id != r->offer_id) {
		o->st.rejected++;
		return -EPERM;
	}
	switch (e->st) {
	case T_REPORTING:
		o->st.result_acked++;
		t_tomb(o, e, now);
		return 0;
	case T_RUNNING:
		o->st.withdrawn++;
		t_tomb(o, e, now);
		if (o->io.cancel != NULL) {
			o->io.cancel(o->io.ud, e->id);
		}
		return 0;
	default:
		return 0; /* already closed: a repeated ack */
	}
}

int offload_finished(struct offload *o, const char *id, int32_t exit_code,
		     const char *reason, double energy_j, uint64_t now)
{
	struct tentry *e = id != NULL ? t_find(o, id) : NULL;

	if (e == NULL) {
		return -ENOENT;
	}
	if (e->st != T_RUNNING) {
		return -EALREADY;
	}
	t_report(o, e, exit_code == 0, exit_code, reason, energy_j, now);
	return 0;
}

/* ---- receive ------------------------------------------------------ */

static int recv_result(struct offload *o, const struct node_id *from,
		       const struct offload_result *r, uint64_t now)
{
	struct oentry *e = o_open(o, r->workload_id);
	struct oentry *t;
	struct tentry *h;

	if (e != NULL && e->offer_id == r->offer_id &&
	    node_id_equal(&e->target, from)) {
		return origin_result(o, from, e, r, now);
	}
	t = o_tomb(o, r->workload_id, r->offer_id);
	if (t != NULL && node_id_equal(&t->target, from)) {
		o->st.dup_results++;
		send_result(o, from, r); /* acknowledge again */
		return 0;
	}
	h = t_find(o, r->workload_id);
	if (h != NULL && node_id_equal(&h->origin, from)) {
		return target_close(o, h, r, now);
	}
	if (e != NULL || t != NULL) {
		o->st.dup_results++; /* an older attempt of an open id */
		send_result(o, from, r);
		return 0;
	}
	o->st.unknown++;
	return -ENOENT;
}

int offload_recv(struct offload *o, const struct node_id *from, uint32_t type,
		 const uint8_t *body, size_t len, uint64_t now)
{
	struct offload_reply rep;
	struct offload_result res;
	int rc;

	if (from == NULL || (body == NULL && len > 0)) {
		o->st.malformed++;
		return -EBADMSG;
	}
	switch (type) {
	case WIRE_OFFLOAD_OFFER:
		rc = wire_offload_offer_decode(body, len, &o->scratch);
		if (rc < 0) {
			break;
		}
		return target_offer(o, from, &o->scratch, now);
	case WIRE_OFFLOAD_REPLY:
		rc = wire_offload_reply_decode(body, len, &rep);
		if (rc < 0) {
			break;
		}
		return origin_reply(o, from, &rep, now);
	case WIRE_OFFLOAD_RESULT:
		rc = wire_offload_result_decode(body, len, &res);
		if (rc < 0) {
			break;
		}
		return recv_result(o, from, &res, now);
	default:
		return -ENOMSG;
	}
	o->st.malformed++;
	return rc == -EMSGSIZE ? -EMSGSIZE : -EBADMSG;
}

/* ---- membership and timers ---------------------------------------- */

int offload_peer_generation(struct offload *o, const struct node_id *peer,
			    uint64_t gen, uint64_t now)
{
	int n = 0;

	for (uint32_t i = 0; i < o->n_slots; i++) {
		struct oentry *e = &o->o[i];
		/* only what was accepted before: an offer made again (in
		 * the redecide below) has no generation yet */
		if (e->st == O_ACCEPTED && e->target_gen != 0 &&
		    gen > e->target_gen && node_id_equal(&e->target, peer)) {
			o->st.target_restarted++;
			o_abandon(o, e, OFFLOAD_REDO_RESTARTED, now);
			n++;
		}
	}
	return n;
}

int offload_peer_dead(struct offload *o, const struct node_id *peer,
		      uint64_t now)
{
	uint32_t i;
	int n = 0;

	for (i = 0; i < o->n_slots; i++) {
		struct oentry *e = &o->o[i];
		if ((e->st == O_OFFERED || e->st == O_ACCEPTED) &&
		    node_id_equal(&e->target, peer)) {
			o->st.target_dead++;
			o_abandon(o, e, OFFLOAD_REDO_DEAD, now);
			n++;
		}
	}
	return n;
}

void offload_tick(struct offload *o, uint64_t now)
{
	uint32_t i;

	for (i = 0; i < o->n_slots; i++) {
		struct oentry *e = &o->o[i];

		if (e->st == O_OFFERED) {
			if (now >= e->deadline) {
				o->st.no_reply++;
				o_abandon(o, e, OFFLOAD_REDO_NO_REPLY, now);
			} else if (now >= e->next_send) {
				e->next_send = now + o->p.retry_ms;
				send_offer(o, e, now);
			}
		} else if (e->st == O_ACCEPTED && now >= e->deadline) {
			o->st.overdue++;
			o_abandon(o, e, OFFLOAD_REDO_OVERDUE, now);
		} else if (e->st == O_CLOSED && now >= e->deadline) {
			memset(e, 0, sizeof(*e));
		}
	}
	for (i = 0; i < o->n_slots; i++) {
		struct tentry *e = &o->t[i];

		if (e->st == T_RUNNING && now >= e->promise) {
			o->st.expired++;
			if (o->io.cancel != NULL) {
				o->io.cancel(o->io.ud, e->id);
			}
			if (e->st == T_RUNNING) {
				t_report(o, e, false, -1,
					 "stopped at its promised time", 0,
					 now);
			}
		} else if (e->st == T_REPORTING) {
			if (now >= e->expire) {
				o->st.result_lost++;
				t_tomb(o, e, now);
			} else if (now >= e->next_send) {
				e->next_send = now + o->p.retry_ms;
				o->st.results_out++;
				send_result(o, &e->origin, &e->result);
			}
		} else if (e->st == T_CLOSED && now >= e->expire) {
			memset(e, 0, sizeof(*e));
		}
	}
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t offload_next_deadline(const struct offload *o)
{
	uint64_t t = UINT64_MAX;
	uint32_t i;

	for (i = 0; i < o->n_slots; i++) {
		const struct oentry *e = &o->o[i];
		const struct tentry *h = &o->t[i];

		if (e->st == O_OFFERED) {
			t = min64(t, min64(e->deadline, e->next_send));
		} else if (e->st != O_FREE) {
			t = min64(t, e->deadline);
		}
		if (h->st == T_RUNNING) {
			t = min64(t, h->promise);
		} else if (h->st == T_REPORTING) {
			t = min64(t, min64(h->expire, h->next_send));
		} else if (h->st == T_CLOSED) {
			t = min64(t, h->expire);
		}
	}
	return t;
}
