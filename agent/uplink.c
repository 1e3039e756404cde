// SPDX-License-Identifier: Apache-2.0
/*
 * uplink: the hub service. One uplink_conn (MQTT over TLS), the outbox,
 * the reconciler and two timers: one for reconnects and rate-limited
 * flushing, one that watches the runtime's workloads (phase changes become
 * outbox events; replacements and removals the hub asked for are finished
 * once the old process has stopped). See uplink.h.
 */
#define LOG_TAG "uplink"
#include "uplink.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "log.h"
#include "outbox.h"
#include "policy.h"
#include "reconcile.h"
#include "runtime.h"
#include "runtime_svc.h"
#include "sched.h"
#include "sched_svc.h"
#include "uplink_conn.h"
#include "uplink_events.h"
#include "wire.h"

#define INFLIGHT_MAX 32
#define WATCH_MS     1000
#define PENDING_MAX  64

enum up_state {
	UP_DISABLED = 0, /* no url: offline autonomous */
	UP_OFFLINE,	 /* waiting for the next attempt */
	UP_CONNECTING,
	UP_CONNECTED,
	UP_STOPPING,
};

struct inflight {
	uint16_t packet_id;
	uint64_t event_id; /* 0 = not an outbox event (birth) */
};

struct pending_op {
	char id[WORKLOAD_ID_MAX];
	bool replace; /* create spec once the old one is removed */
	struct workload_spec spec;
};

struct seen_wl {
	char id[WORKLOAD_ID_MAX];
	enum workload_phase phase;
	uint32_t restarts;
	bool alive; /* seen in the current pass */
};

struct uplink {
	struct agent *a;
	bool birth_pending; /* a birth could not be queued yet: send it first */
	uv_loop_t *loop;
	enum up_state state;
	char host[CONFIG_STR_MAX];
	uint16_t port;
	struct uplink_topics topics;
	struct uplink_conn *conn;
	struct outbox *ob;
	struct reconcile *rec;
	struct crypto_pins pins;
	struct rng rng;
	uv_timer_t timer; /* reconnect / flush */
	uv_timer_t watch; /* runtime watch */
	uv_timer_t learn; /* learning summaries */
	uv_check_t acks;  /* deletes PUBACKed events once per loop turn */
	uint64_t acked_ids[INFLIGHT_MAX];
	unsigned n_acked;
	uint64_t learn_round;
	uint32_t learn_crc; /* of the last summary sent; 0 = none */
	int closing;	    /* handles still to close */
	uint32_t attempt;
	uint64_t retry_at_ms;
	char last_error[192];
	char tls_ca[CONFIG_STR_MAX]; /* paths the TLS client was made with */
	char tls_cert[CONFIG_STR_MAX];
	char tls_key[CONFIG_STR_MAX];
	bool recreate_conn;
	struct inflight infl[INFLIGHT_MAX];
	unsigned n_infl;
	uplink_policy_fn policy_fn;
	void *policy_ud;
	struct pending_op pending[PENDING_MAX];
	unsigned n_pending;
	struct seen_wl *seen;
	size_t n_seen;
	size_t cap_seen;
	bool watch_primed;
	uint64_t events_sent;
	uint64_t events_acked;
	uint64_t rejected;
	struct log_rl fail_rl;
};

static struct uplink *svc(const struct agent *a)
{
	return a->uplink;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool topic_part_ok(const char *s, bool allow_slash)
{
	if (s == NULL || s[0] == '\0') {
		return false;
	}
	for (const char *p = s; *p; p++) {
		if (*p == '+' || *p == '#' || (!allow_slash && *p == '/')) {
			return false;
		}
	}
	return true;
}

int uplink_topics(const char *prefix, const char *partition,
		  const char *node_id, struct uplink_topics *t)
{
	int n = 0;
	if (!topic_part_ok(prefix, true) || !topic_part_ok(partition, false) ||
	    !topic_part_ok(node_id, false)) {
		return -EINVAL;
	}
#define TOPIC(field, fmt, ...)                                                 \
	n = snprintf(t->field, sizeof(t->field), fmt, __VA_ARGS__);            \
	if (n < 0 || (size_t)n >= sizeof(t->field)) {                          \
		return -EINVAL;                                                \
	}
	TOPIC(state, "%s/%s/%s/state", prefix, partition, node_id);
	TOPIC(events, "%s/%s/%s/events", prefix, partition, node_id);
	TOPIC(learning, "%s/%s/%s/learning", prefix, partition, node_id);
	TOPIC(policy, "%s/%s/policy", prefix, partition);
	TOPIC(desired, "%s/%s/%s/desired", prefix, partition, node_id);
#undef TOPIC
	return 0;
}

uint64_t uplink_backoff_ms(uint32_t attempt, uint32_t min_s, uint32_t max_s,
			   struct rng *rng)
{
	uint64_t max_ms = (uint64_t)(max_s ? max_s : 1) * 1000u;
	uint64_t cap = (uint64_t)(min_s ? min_s : 1) * 1000u;
	for (uint32_t i = 0; i < attempt && cap < max_ms; i++) {
		cap *= 2;
	}
	if (cap > max_ms) {
		cap = max_ms;
	}
	uint64_t d = (uint64_t)(rng_unit(rng) * (double)(cap + 1));
	return d < 100 ? 100 : d;
}

/* ---- outbox and events ------------------------------------------------ */

static void flush(struct uplink *u);

int uplink_emit(struct agent *a, enum uplink_event_kind kind, uint32_t priority,
		const uint8_t *payload, size_t len)
{
	struct uplink *u = svc(a);
	int rc;
	if (u == NULL || u->ob == NULL) {
		return -ENODEV;
	}
	if (priority == UINT32_MAX) {
		priority = outbox_default_priority(kind);
	}
	rc = outbox_put(u->ob, kind, priority, wall_ms(), payload, len, NULL);
	if (rc != 0) {
		log_warn("event not queued: %s", strerror(-rc));
		return rc;
	}
	if (u->state == UP_CONNECTED) {
		flush(u);
	}
	return 0;
}

static void inflight_add(struct uplink *u, uint16_t pid, uint64_t event_id)
{
	if (u->n_infl < INFLIGHT_MAX) {
		u->infl[u->n_infl].packet_id = pid;
		u->infl[u->n_infl].event_id = event_id;
		u->n_infl++;
	}
}

static bool inflight_take(struct uplink *u, uint16_t pid, uint64_t *event_id)
{
	for (unsigned i = 0; i < u->n_infl; i++) {
		if (u->infl[i].packet_id == pid) {
			*event_id = u->infl[i].event_id;
			u->infl[i] = u->infl[--u->n_infl];
			return true;
		}
	}
	return false;
}

static int publish_event(struct uplink *u, const struct outbox_event *ev)
{
	struct uplink_event e = {
	    .event_id = ev->event_id,
	    .node = u->a->id,
	    .time_ms = ev->time_ms,
	    .kind = ev->kind,
	    .priority = ev->priority,
	    .historical = ev->historical,
	    .payload = ev->payload,
	    .payload_len = ev->payload_len,
	};
	size_t cap = ev->payload_len + 128;
	size_t len = 0;
	uint16_t pid = 0;
	uint8_t *buf = malloc(cap);
	int rc;

	if (buf == NULL) {
		return -ENOMEM;
	}
	rc = wire_uplink_event_encode(&e, buf, cap, &len);
	if (rc == 0) {
		rc = uplink_conn_publish(u->conn,
					 ev->kind == EVENT_LEARNING
					     ? u->topics.learning
					     : u->topics.events,
					 buf, len, 1, false, &pid);
	}
	free(buf);
	if (rc == 0) {
		inflight_add(u, pid, ev->event_id);
		u->events_sent++;
	}
	return rc;
}

static void on_timer(uv_timer_t *t);

/* Send outbox events while the window has room and the rate allows. */
static void publish_birth(struct uplink *u);

static void flush(struct uplink *u)
{
	uint64_t now = uv_now(u->loop);
	if (u->conn == NULL || u->state != UP_CONNECTED) {
		return;
	}
	if (u->birth_pending) {
		publish_birth(u); /* the state record goes before more events */
		if (u->birth_pending) {
			return;
		}
	}
	unsigned window = uplink_conn_window(u->conn);
	if (window > INFLIGHT_MAX) {
		window = INFLIGHT_MAX;
	}
	while (u->state == UP_CONNECTED &&
	       uplink_conn_inflight(u->conn) < window &&
	       u->n_infl < INFLIGHT_MAX) {
		struct outbox_event ev;
		int rc = outbox_next(u->ob, now, &ev);
		if (rc == -ENOENT) {
			break;
		}
		if (rc == -EAGAIN) {
			uint64_t at = outbox_ready_ms(u->ob, now);
			uv_timer_start(&u->timer, on_timer, at - now, 0);
			break;
		}
		if (rc == -EBADMSG) {
			continue;
		}
		if (rc != 0) {
			log_error("reading the outbox: %s", strerror(-rc));
			break;
		}
		rc = publish_event(u, &ev);
		outbox_event_fini(&ev);
		if (rc != 0) {
			/* the event stays stored; send everything again */
			log_warn("event not sent (%s); reconnecting",
				 strerror(-rc));
			outbox_rewind(u->ob);
			uplink_conn_abort(u->conn, rc, "publish failed");
			break;
		}
	}
}

/* ---- birth ------------------------------------------------------------ */

static int birth_encode(struct uplink *u, bool online, uint8_t *buf, size_t cap,
			size_t *len)
{
	struct uplink_birth b = {0};
	b.node = u->a->id;
	b.generation = u->a->generation;
	b.online = online;
	snprintf(b.version, sizeof(b.version), "%s", FARNODE_VERSION);
	if (u->rec != NULL) {
		b.policy_version = reconcile_version(u->rec, BUNDLE_POLICY);
		b.desired_version = reconcile_version(u->rec, BUNDLE_DESIRED);
	}
	b.time_ms = wall_ms();
	return wire_birth_encode(&b, buf, cap, len);
}

static void publish_birth(struct uplink *u)
{
	uint8_t buf[256];
	size_t len = 0;
	uint16_t pid = 0;
	if (u->state != UP_CONNECTED ||
	    birth_encode(u, true, buf, sizeof(buf), &len) != 0) {
		return;
	}
	/* A full in-flight window refuses it: flush() retries first thing. */
	u->birth_pending = uplink_conn_publish(u->conn, u->topics.state, buf,
					       len, 1, true, &pid) != 0;
	if (!u->birth_pending) {
		inflight_add(u, pid, 0);
	}
}

/* ---- reconcile seam ---------------------------------------------------- */

static int apply_policy(void *ud, const struct policy *p, char *why,
			size_t why_len)
{
	struct uplink *u = ud;
	struct sched_params sp;
	struct sched *core = u->a->sched ? sched_svc_core(u->a->sched) : NULL;
	int rc;
	if (u->policy_fn != NULL) {
		return u->policy_fn(u->policy_ud, p, why, why_len);
	}
	if (core == NULL) {
		/* no scheduler: at least refuse what it would refuse */
		sched_params_default(&sp);
		policy_apply(p, &sp);
		return sched_params_validate(&sp, why, why_len);
	}
	sp = *sched_params(core);
	policy_apply(p, &sp);
	rc = sched_params_validate(&sp, why, why_len);
	if (rc != 0) {
		return rc;
	}
	if (p->has_prior && p->prior_fingerprint != sched_fingerprint(core)) {
		snprintf(why, why_len,
			 "Q prior is for another table shape (fingerprint "
			 "%08x, ours %08x)",
			 p->prior_fingerprint, sched_fingerprint(core));
		return -EINVAL;
	}
	for (size_t i = 0; p->has_prior && i < p->n_prior; i++) {
		if (p->prior[i].state >= sched_n_states(core) ||
		    p->prior[i].action >= sched_n_actions(core)) {
			snprintf(why, why_len, "Q prior cell %zu out of range",
				 i);
			return -EINVAL;
		}
	}
	rc = sched_set_params(core, &sp);
	if (rc == -EBUSY) {
		snprintf(why, why_len,
			 "changes the table shape "
			 "(neighbours_k): needs a restart");
		return rc;
	}
	if (rc != 0) {
		snprintf(why, why_len, "refused by the scheduler (%s)",
			 strerror(-rc));
		return rc;
	}
	if (p->has_prior && p->n_prior > 0) {
		sched_import_apply(core, p->prior, p->n_prior);
		log_info("policy %" PRIu64 ": Q prior of %zu cells applied",
			 p->version, p->n_prior);
	}
	return 0;
}

static int spec_text(const struct workload_spec *s, char *out, size_t len)
{
	return runtime_spec_encode(s, out, len);
}

static bool spec_same(const struct workload_spec *a,
		      const struct workload_spec *b)
{
	static char ta[16384];
	static char tb[16384];
	int la = spec_text(a, ta, sizeof(ta));
	int lb = spec_text(b, tb, sizeof(tb));
	if (la < 0 || lb < 0) {
		return memcmp(a, b, sizeof(*a)) == 0;
	}
	return la == lb && memcmp(ta, tb, (size_t)la) == 0;
}

static int queue_pending(struct uplink *u, const char *id, bool replace,
			 const struct workload_spec *spec)
{
	for (unsigned i = 0; i < u->n_pending; i++) {
		if (strcmp(u->pending[i].id, id) == 0) {
			u->pending[i].replace = replace;
			if (spec != NULL) {
				u->pending[i].spec = *spec;
			}
			return 0;
		}
	}
	if (u->n_pending >= PENDING_MAX) {
		return -ENOSPC;
	}
	struct pending_op *op = &u->pending[u->n_pending++];
	memset(op, 0, sizeof(*op));
	snprintf(op->id, sizeof(op->id), "%s", id);
	op->replace = replace;
	if (spec != NULL) {
		op->spec = *spec;
	}
	return 0;
}

static int workload_put(void *ud, const struct workload_spec *s, char *why,
			size_t why_len)
{
	struct uplink *u = ud;
	struct runtime *rt = runtime_of(u->a);
	struct workload_spec cur;
	struct workload_status st;
	int rc;

	if (rt == NULL) {
		snprintf(why, why_len, "no runtime");
		return -ENODEV;
	}
	rc = runtime_get(rt, s->id, &cur, &st);
	if (rc == -ENOENT) {
		return runtime_create(rt, s, why, why_len);
	}
	if (rc != 0) {
		snprintf(why, why_len, "%s", strerror(-rc));
		return rc;
	}
	if (spec_same(&cur, s)) {
		return 0;
	}
	/* changed: stop the old one; created again once it is gone */
	rc = runtime_stop_workload(rt, s->id);
	if (rc != 0 && rc != -ENOENT) {
		snprintf(why, why_len, "cannot stop the old version: %s",
			 strerror(-rc));
		return rc;
	}
	rc = queue_pending(u, s->id, true, s);
	if (rc != 0) {
		snprintf(why, why_len, "too many replacements under way");
	}
	return rc;
}

static int workload_delete(void *ud, const char *id)
{
	struct uplink *u = ud;
	struct runtime *rt = runtime_of(u->a);
	int rc;
	if (rt == NULL) {
		return -ENODEV;
	}
	rc = runtime_stop_workload(rt, id);
	if (rc != 0) {
		return rc;
	}
	return queue_pending(u, id, false, NULL);
}

static void report(void *ud, enum bundle_kind kind, uint64_t version,
		   enum reconcile_reason reason, const char *source,
		   const char *text)
{
	struct uplink *u = ud;
	uint8_t buf[UPLINK_EVENT_SMALL_MAX];
	char msg[WORKLOAD_REASON_MAX];
	size_t len = 0;
	bool ok = reason == RECON_OK;

	if (reason != RECON_OK) {
		u->rejected++;
	}
	if (ok && strcmp(source, "store") == 0) {
		return; /* nothing new to tell */
	}
	snprintf(msg, sizeof(msg), "%s from %s: %s%s%s",
		 kind == BUNDLE_POLICY ? "policy" : "desired", source,
		 reconcile_reason_name(reason), text[0] ? ": " : "", text);
	if (uplink_encode_policy(version, ok, msg, buf, sizeof(buf), &len) ==
	    0) {
		outbox_put(u->ob, EVENT_POLICY,
			   outbox_default_priority(EVENT_POLICY), wall_ms(),
			   buf, len, NULL);
	}
	if (ok) {
		publish_birth(u); /* versions in force changed */
	}
}

/* ---- runtime watch ----------------------------------------------------- */

static struct seen_wl *seen_find(struct uplink *u, const char *id)
{
	for (size_t i = 0; i < u->n_seen; i++) {
		if (strcmp(u->seen[i].id, id) == 0) {
			return &u->seen[i];
		}
	}
	return NULL;
}

static void workload_event(struct uplink *u, const struct workload_spec *spec,
			   const struct workload_status *st)
{
	uint8_t buf[UPLINK_EVENT_SMALL_MAX];
	size_t len = 0;
	if (uplink_encode_workload(spec->id, st->phase, st->reason,
				   st->exit_code, &st->placed_on, buf,
				   sizeof(buf), &len) == 0) {
		outbox_put(u->ob, EVENT_WORKLOAD,
			   outbox_default_priority(EVENT_WORKLOAD), wall_ms(),
			   buf, len, NULL);
	}
}

/* Remember the phase of spec; true when it differs from what was seen. */
static bool seen_update(struct uplink *u, const struct workload_spec *spec,
			const struct workload_status *st, bool *is_new)
{
	struct seen_wl *s = seen_find(u, spec->id);
	*is_new = s == NULL;
	if (s == NULL) {
		if (u->n_seen == u->cap_seen) {
			size_t cap = u->cap_seen ? u->cap_seen * 2 : 16;
			struct seen_wl *n = realloc(u->seen, cap * sizeof(*n));
			if (n == NULL) {
				return true;
			}
			u->seen = n;
			u->cap_seen = cap;
		}
		s = &u->seen[u->n_seen++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "%s", spec->id);
		s->phase = st->phase;
		s->restarts = st->restarts;
		s->alive = true;
		return true;
	}
	s->alive = true;
	if (s->phase != st->phase || s->restarts != st->restarts) {
		s->phase = st->phase;
		s->restarts = st->restarts;
		return true;
	}
	return false;
}

void uplink_note_workload(struct agent *a, const struct workload_spec *spec,
			  const struct workload_status *st)
{
	struct uplink *u = svc(a);
	bool is_new;
	if (u == NULL || u->ob == NULL) {
		return;
	}
	if (seen_update(u, spec, st, &is_new)) {
		workload_event(u, spec, st);
		if (u->state == UP_CONNECTED) {
			flush(u);
		}
	}
}

void uplink_note_member(struct agent *a, const struct node_id *member,
			uint32_t status, uint64_t incarnation)
{
	uint8_t buf[UPLINK_EVENT_SMALL_MAX];
	size_t len = 0;
	if (uplink_encode_member(member, status, incarnation, buf, sizeof(buf),
				 &len) == 0) {
		uplink_emit(a, EVENT_MEMBERSHIP, UINT32_MAX, buf, len);
	}
}

void uplink_note_decision(struct agent *a, const char *workload_id,
			  uint32_t state, uint32_t action, double reward)
{
	uint8_t buf[UPLINK_EVENT_SMALL_MAX];
	size_t len = 0;
	if (uplink_encode_decision(workload_id, state, action, reward, buf,
				   sizeof(buf), &len) == 0) {
		uplink_emit(a, EVENT_DECISION, UINT32_MAX, buf, len);
	}
}

static int visit(void *ud, const struct workload_spec *spec,
		 const struct workload_status *st)
{
	struct uplink *u = ud;
	bool is_new;
	if (seen_update(u, spec, st, &is_new) && (!is_new || u->watch_primed)) {
		workload_event(u, spec, st);
	}
	return 0;
}

static void finish_pending(struct uplink *u, struct runtime *rt)
{
	char why[160];
	for (unsigned i = 0; i < u->n_pending;) {
		struct pending_op *op = &u->pending[i];
		int rc = runtime_remove(rt, op->id);
		if (rc == -EBUSY) {
			i++;
			continue;
		}
		if (op->replace) {
			rc = runtime_create(rt, &op->spec, why, sizeof(why));
			if (rc != 0) {
				log_warn("workload '%s' not recreated: %s",
					 op->id, why);
			} else {
				log_info("workload '%s' replaced", op->id);
			}
		}
		u->pending[i] = u->pending[--u->n_pending];
	}
}

static void on_watch(uv_timer_t *t)
{
	struct uplink *u = t->data;
	struct runtime *rt = runtime_of(u->a);
	if (rt == NULL) {
		return;
	}
	if (u->n_pending > 0) {
		finish_pending(u, rt);
	}
	for (size_t i = 0; i < u->n_seen; i++) {
		u->seen[i].alive = false;
	}
	runtime_foreach(rt, visit, u);
	for (size_t i = 0; i < u->n_seen;) {
		if (!u->seen[i].alive) {
			u->seen[i] = u->seen[--u->n_seen];
		} else {
			i++;
		}
	}
	u->watch_primed = true;
	if (u->state == UP_CONNECTED) {
		flush(u);
	}
}

/* ---- learning summaries ------------------------------------------------ */

#define LEARN_TOP_STATES  64	/* most visited states summarised */
#define LEARN_MAX_ENTRIES 1024	/* cells in one summary */
#define LEARN_MAX_BYTES	  32768 /* bound of one summary's payload */

/* FNV-1a over the encoded entries: did the table change since the last? */
static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ p[i]) * 16777619u;
	}
	return h ? h : 1;
}

static void on_learn(uv_timer_t *t)
{
	struct uplink *u = t->data;
	struct sched *core = u->a->sched ? sched_svc_core(u->a->sched) : NULL;
	struct sched_share *e = NULL;
	uint8_t *buf = NULL;
	size_t n, len = 0, n_fit = 0;

	if (core == NULL) {
		return;
	}
	e = malloc(sizeof(*e) * LEARN_MAX_ENTRIES);
	buf = malloc(LEARN_MAX_BYTES);
	if (e == NULL || buf == NULL) {
		goto out;
	}
	n = sched_share_top(core, LEARN_TOP_STATES, e, LEARN_MAX_ENTRIES);
	if (n == 0) {
		goto out; /* nothing learned yet */
	}
	/* the round does not take part in the change check */
	if (wire_qshare_encode(sched_fingerprint(core), 0, e, n, buf,
			       LEARN_MAX_BYTES, &len, &n_fit) != 0) {
		goto out;
	}
	uint32_t crc = fnv1a(buf, len);
	if (crc == u->learn_crc) {
		goto out;
	}
	u->learn_round++;
	if (wire_qshare_encode(sched_fingerprint(core),
			       (u->a->generation << 32) | u->learn_round, e,
			       n_fit, buf, LEARN_MAX_BYTES, &len,
			       &n_fit) != 0) {
		goto out;
	}
	if (outbox_put(u->ob, EVENT_LEARNING,
		       outbox_default_priority(EVENT_LEARNING), wall_ms(), buf,
		       len, NULL) == 0) {
		u->learn_crc = crc;
		log_debug("learning summary %" PRIu64 ": %zu cells, %zu bytes",
			  u->learn_round, n_fit, len);
		if (u->state == UP_CONNECTED) {
			flush(u);
		}
	}
out:
	free(e);
	free(buf);
}

static void learn_timer_set(struct uplink *u)
{
	uint64_t every = (uint64_t)u->a->cfg.hub.learning_interval_s * 1000u;
	if (every == 0) {
		uv_timer_stop(&u->learn);
	} else {
		uv_timer_start(&u->learn, on_learn, every, every);
	}
}

/* ---- connection ------------------------------------------------------- */

static void try_connect(struct uplink *u);

static void schedule_retry(struct uplink *u)
{
	const struct config_hub *h = &u->a->cfg.hub;
	uint64_t d = uplink_backoff_ms(u->attempt, (uint32_t)h->backoff_min_s,
				       (uint32_t)h->backoff_max_s, &u->rng);
	if (u->attempt < 64) {
		u->attempt++;
	}
	u->state = UP_OFFLINE;
	u->retry_at_ms = uv_now(u->loop) + d;
	uv_timer_start(&u->timer, on_timer, d, 0);
	log_info("next hub connection attempt in %.1f s (attempt %u)",
		 (double)d / 1000.0, u->attempt);
}

static void on_timer(uv_timer_t *t)
{
	struct uplink *u = t->data;
	if (u->state == UP_OFFLINE) {
		try_connect(u);
	} else if (u->state == UP_CONNECTED) {
		flush(u);
	}
}

static void on_up(void *ud, bool session_present)
{
	struct uplink *u = ud;
	const char *filters[2] = {u->topics.policy, u->topics.desired};
	u->state = UP_CONNECTED;
	u->attempt = 0;
	u->last_error[0] = '\0';
	outbox_set_online(u->ob, true);
	log_info("connected to the hub %s:%u (%s session); %" PRIu64
		 " events waiting",
		 u->host, u->port, session_present ? "resumed" : "new",
		 outbox_pending(u->ob));
	publish_birth(u);
	if (uplink_conn_subscribe(u->conn, filters, 2, 1, NULL) != 0) {
		log_error("cannot subscribe to the policy topics");
	}
	flush(u);
}

static void on_down(void *ud, int err, const char *why)
{
	struct uplink *u = ud;
	uint32_t suppressed = 0;
	(void)err;
	outbox_set_online(u->ob, false);
	snprintf(u->last_error, sizeof(u->last_error), "%s", why);
	if (u->state == UP_STOPPING) {
		return;
	}
	if (u->recreate_conn) {
		u->recreate_conn = false;
		uplink_conn_shutdown(u->conn);
		u->conn = NULL;
		/* the in-flight window went with it: send again from the store
		 */
		u->n_infl = 0;
		outbox_rewind(u->ob);
	}
	if (log_rl_allow(&u->fail_rl, uv_now(u->loop), 5, 60000, &suppressed)) {
		log_warn("hub %s:%u: %s", u->host, u->port, why);
	}
	schedule_retry(u);
}

static void on_publish(void *ud, const struct mqtt_publish *p)
{
	struct uplink *u = ud;
	enum bundle_kind kind;
	char why[256];

	if (p->topic.len == strlen(u->topics.policy) &&
	    memcmp(p->topic.s, u->topics.policy, p->topic.len) == 0) {
		kind = BUNDLE_POLICY;
	} else if (p->topic.len == strlen(u->topics.desired) &&
		   memcmp(p->topic.s, u->topics.desired, p->topic.len) == 0) {
		kind = BUNDLE_DESIRED;
	} else {
		log_debug("message on an unexpected topic %.*s ignored",
			  (int)p->topic.len, p->topic.s);
		return;
	}
	if (p->payload_len == 0) {
		return; /* a cleared retained message */
	}
	reconcile_input(u->rec, kind, p->payload, p->payload_len, wall_ms(),
			why, sizeof(why));
	flush(u);
}

/* After the loop's I/O: delete what was acknowledged, then send more. */
static void on_acks(uv_check_t *h)
{
	struct uplink *u = h->data;
	uv_check_stop(&u->acks);
	if (u->n_acked == 0) {
		return;
	}
	int rc = outbox_ack_many(u->ob, u->acked_ids, u->n_acked);
	if (rc == 0) {
		u->events_acked += u->n_acked;
	} else {
		/* still stored: sent again later (duplicates, same ids) */
		log_warn("acknowledged events not deleted: %s", strerror(-rc));
	}
	u->n_acked = 0;
	flush(u);
}

static void on_puback(void *ud, uint16_t pid)
{
	struct uplink *u = ud;
	uint64_t event_id = 0;
	if (inflight_take(u, pid, &event_id) && event_id != 0) {
		if (u->n_acked == INFLIGHT_MAX) {
			on_acks(&u->acks);
		}
		u->acked_ids[u->n_acked++] = event_id;
		uv_check_start(&u->acks, on_acks);
		return;
	}
	flush(u);
}

static void on_suback(void *ud, uint16_t pid, const uint8_t *codes, size_t n)
{
	struct uplink *u = ud;
	(void)pid;
	for (size_t i = 0; i < n && i < 2; i++) {
		if (codes[i] == MQTT_SUBACK_FAILURE) {
			log_error("the broker refused the subscription to %s",
				  i == 0 ? u->topics.policy
					 : u->topics.desired);
			agent_note(u->a, "hub refused subscription to %s",
				   i == 0 ? "policy" : "desired state");
		}
	}
}

static int make_conn(struct uplink *u)
{
	const struct config_hub *h = &u->a->cfg.hub;
	uint8_t will[256];
	size_t will_len = 0;
	struct uplink_conn_cbs cbs = {
	    .on_up = on_up,
	    .on_down = on_down,
	    .on_publish = on_publish,
	    .on_puback = on_puback,
	    .on_suback = on_suback,
	};
	struct uplink_conn_config cc = {
	    .host = u->host,
	    .port = u->port,
	    .tls = {.ca_file = h->ca, .cert_file = h->cert, .key_file = h->key},
	    .mqtt = {.keepalive_s = (uint16_t)h->keepalive_s,
		     .inflight_max = INFLIGHT_MAX},
	    .client_id = u->a->id_str,
	    .clean_session = false,
	    .will_topic = u->topics.state,
	    .will_qos = 1,
	    .will_retain = true,
	};
	int rc = birth_encode(u, false, will, sizeof(will), &will_len);
	if (rc != 0) {
		return rc;
	}
	cc.will_payload = will;
	cc.will_len = will_len;
	snprintf(u->tls_ca, sizeof(u->tls_ca), "%s", h->ca);
	snprintf(u->tls_cert, sizeof(u->tls_cert), "%s", h->cert);
	snprintf(u->tls_key, sizeof(u->tls_key), "%s", h->key);
	return uplink_conn_new(u->loop, &cc, &cbs, u, &u->conn);
}

static void try_connect(struct uplink *u)
{
	int rc;
	if (u->conn == NULL) {
		rc = make_conn(u);
		if (rc != 0) {
			snprintf(u->last_error, sizeof(u->last_error),
				 "TLS credentials unusable (%s); see the log",
				 strerror(-rc));
			log_error("hub: %s", u->last_error);
			schedule_retry(u);
			return;
		}
	}
	rc = uplink_conn_start(u->conn);
	if (rc != 0) {
		snprintf(u->last_error, sizeof(u->last_error),
			 "cannot start connecting: %s", strerror(-rc));
		schedule_retry(u);
		return;
	}
	u->state = UP_CONNECTING;
}

/* ---- service ---------------------------------------------------------- */

/* Token bucket depth: one second of the rate, within the window. */
static uint32_t burst_for(double rate)
{
	if (rate >= INFLIGHT_MAX) {
		return INFLIGHT_MAX;
	}
	return rate >= 1 ? (uint32_t)rate : 1;
}

static void load_pins(struct uplink *u)
{
	const char *path = u->a->cfg.hub.hub_pubkey;
	crypto_pins_fini(&u->pins);
	crypto_pins_init(&u->pins);
	if (path[0] == '\0') {
		if (u->a->cfg.hub.url[0] != '\0' ||
		    u->a->cfg.hub.policy_file[0] != '\0') {
			agent_note(u->a, "no hub key pinned ([hub] hub_pubkey):"
					 " every bundle is refused");
		}
		return;
	}
	int rc = reconcile_pin_file(&u->pins, path);
	if (rc < 0) {
		log_error("%s: cannot pin the hub key: %s", path,
			  strerror(-rc));
		agent_note(u->a, "hub key %s unusable", path);
	} else {
		log_info("%d hub signing key(s) pinned from %s", rc, path);
	}
}

void uplink_set_policy_sink(struct agent *a, uplink_policy_fn fn, void *ud)
{
	struct uplink *u = svc(a);
	if (u != NULL) {
		u->policy_fn = fn;
		u->policy_ud = ud;
	}
}

int uplink_start(struct agent *a)
{
	const struct config_hub *h = &a->cfg.hub;
	struct uplink *u = calloc(1, sizeof(*u));
	int rc;

	if (u == NULL) {
		return -ENOMEM;
	}
	u->a = a;
	u->loop = a->loop;
	/* a broker that drops us mid-write must not kill the agent */
	signal(SIGPIPE, SIG_IGN);
	crypto_pins_init(&u->pins);
	rng_seed(&u->rng, rng_os_seed());
	uv_timer_init(a->loop, &u->timer);
	uv_timer_init(a->loop, &u->watch);
	uv_timer_init(a->loop, &u->learn);
	uv_check_init(a->loop, &u->acks);
	u->timer.data = u->watch.data = u->learn.data = u;
	u->acks.data = u;
	a->uplink = u;

	rc =
	    uplink_topics(h->topic_prefix, h->partition, a->id_str, &u->topics);
	if (rc != 0) {
		log_error("[hub] topic_prefix '%s' / partition '%s' cannot "
			  "form MQTT topics",
			  h->topic_prefix, h->partition);
		return rc;
	}
	struct outbox_config oc = {
	    .max_bytes = (uint64_t)h->outbox_max_bytes,
	    .rate_per_s = h->outbox_rate,
	    .burst = burst_for(h->outbox_rate),
	    .encode_dropped = uplink_encode_dropped,
	};
	rc = outbox_open(a->store, &oc, &u->ob);
	if (rc != 0) {
		return rc;
	}
	load_pins(u);
	struct reconcile_config rcfg = {
	    .partition = h->partition, .self = a->id, .pins = &u->pins};
	struct reconcile_ops ops = {
	    .ud = u,
	    .apply_policy = apply_policy,
	    .workload_put = workload_put,
	    .workload_delete = workload_delete,
	    .report = report,
	};
	rc = reconcile_new(&rcfg, a->store, &ops, &u->rec);
	if (rc != 0) {
		return rc;
	}
	rc = reconcile_load(u->rec, h->policy_file, wall_ms());
	if (rc != 0) {
		return rc;
	}
	uv_timer_start(&u->watch, on_watch, 0, WATCH_MS);
	learn_timer_set(u);

	if (h->url[0] == '\0') {
		u->state = UP_DISABLED;
		return 0;
	}
	rc = uplink_parse_url(h->url, u->host, sizeof(u->host), &u->port);
	if (rc != 0) {
		log_error("[hub] url '%s': %s", h->url,
			  rc == -EPROTONOSUPPORT
			      ? "only mqtts:// (TLS) is supported"
			      : "expected mqtts://host:port");
		return -EINVAL;
	}
	u->state = UP_OFFLINE;
	try_connect(u);
	return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct uplink *u = h->data;
	if (--u->closing == 0) {
		reconcile_free(u->rec);
		outbox_free(u->ob);
		crypto_pins_fini(&u->pins);
		free(u->seen);
		free(u);
	}
}

void uplink_stop(struct agent *a)
{
	struct uplink *u = svc(a);
	if (u == NULL) {
		return;
	}
	a->uplink = NULL;
	if (u->conn != NULL) {
		if (u->state == UP_CONNECTED) {
			uint8_t buf[256];
			size_t len = 0;
			/* a clean exit discards the Will: say offline ourselves
			 */
			if (birth_encode(u, false, buf, sizeof(buf), &len) ==
			    0) {
				uplink_conn_publish(u->conn, u->topics.state,
						    buf, len, 0, true, NULL);
			}
		}
		uplink_conn_shutdown(u->conn);
		u->conn = NULL;
	}
	u->state = UP_STOPPING;
	if (u->n_acked > 0) {
		on_acks(&u->acks); /* deletes before the handles go */
	}
	u->closing = 4;
	uv_close((uv_handle_t *)&u->acks, on_handle_closed);
	uv_close((uv_handle_t *)&u->timer, on_handle_closed);
	uv_close((uv_handle_t *)&u->watch, on_handle_closed);
	uv_close((uv_handle_t *)&u->learn, on_handle_closed);
}

void uplink_reload(struct agent *a)
{
	struct uplink *u = svc(a);
	const struct config_hub *h = &a->cfg.hub;
	if (u == NULL) {
		return;
	}
	outbox_set_max_bytes(u->ob, (uint64_t)h->outbox_max_bytes);
	outbox_set_rate(u->ob, h->outbox_rate, burst_for(h->outbox_rate));
	learn_timer_set(u);
	load_pins(u);
	if (u->conn != NULL && (strcmp(u->tls_ca, h->ca) != 0 ||
				strcmp(u->tls_cert, h->cert) != 0 ||
				strcmp(u->tls_key, h->key) != 0)) {
		/* other files: a new client (the session restarts with it) */
		if (u->state == UP_CONNECTED || u->state == UP_CONNECTING) {
			log_info("hub TLS file names changed: used from the "
				 "next connection");
			u->recreate_conn = true;
		} else {
			uplink_conn_shutdown(u->conn);
			u->conn = NULL;
			u->n_infl = 0;
			outbox_rewind(u->ob);
			log_info("hub TLS file names changed");
		}
	} else if (u->conn != NULL) {
		int rc = uplink_conn_reload_tls(u->conn);
		if (rc != 0) {
			log_error("hub TLS credentials not reloaded (%s); "
				  "keeping the old ones",
				  strerror(-rc));
		} else {
			log_info("hub TLS credentials reloaded");
		}
	}
	if (u->state == UP_OFFLINE) {
		/* the operator may have fixed what failed: try again soon */
		u->attempt = 0;
		uv_timer_stop(&u->timer);
		try_connect(u);
	}
}

void uplink_state_text(const struct agent *a, char *out, size_t out_len)
{
	const struct uplink *u = svc(a);
	if (u == NULL || u->state == UP_DISABLED) {
		snprintf(out, out_len, "disabled");
		return;
	}
	switch (u->state) {
	case UP_CONNECTING:
		snprintf(out, out_len, "connecting");
		break;
	case UP_CONNECTED:
		snprintf(out, out_len, "connected");
		break;
	case UP_OFFLINE: {
		uint64_t now = uv_now(u->loop);
		uint64_t in = u->retry_at_ms > now ? u->retry_at_ms - now : 0;
		snprintf(out, out_len, "offline (%s; retry in %" PRIu64 " s)",
			 u->last_error[0] ? u->last_error : "not connected",
			 (in + 999) / 1000);
		break;
	}
	default:
		snprintf(out, out_len, "offline");
		break;
	}
}

int uplink_info(const struct agent *a, struct uplink_info *out)
{
	const struct uplink *u = svc(a);
	struct outbox_stats os;
	memset(out, 0, sizeof(*out));
	if (u == NULL) {
		return -ENODEV;
	}
	out->enabled = u->state != UP_DISABLED;
	out->connected = u->state == UP_CONNECTED;
	if (u->conn != NULL) {
		struct uplink_conn_stats cs;
		uplink_conn_stats(u->conn, &cs);
		out->connects = cs.connects;
		out->failures = cs.failures;
		out->bytes_tx = cs.bytes_tx;
		out->bytes_rx = cs.bytes_rx;
		out->malformed = cs.malformed;
	}
	out->events_sent = u->events_sent;
	out->events_acked = u->events_acked;
	outbox_stats(u->ob, &os);
	out->outbox_queued = os.queued;
	out->outbox_dropped = os.dropped;
	out->policy_version = reconcile_version(u->rec, BUNDLE_POLICY);
	out->desired_version = reconcile_version(u->rec, BUNDLE_DESIRED);
	out->bundles_rejected = u->rejected;
	snprintf(out->last_error, sizeof(out->last_error), "%s", u->last_error);
	return 0;
}
