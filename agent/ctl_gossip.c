// SPDX-License-Identifier: Apache-2.0
/*
 * ctl_gossip: control handlers for `farnode members`, `farnode join` and
 * `farnode leave` (graceful leave, then the agent stops).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "ctl_handlers.h"
#include "gossip.h"
#include "swim.h"

#define JOIN_ADDRS_MAX 32

static Farnode__V1__MemberInfo *member_info(struct ctl_call *call,
					    const struct swim_member_info *m,
					    bool is_self, uint64_t now)
{
	Farnode__V1__MemberInfo *mi = ctl_call_alloc(call, sizeof(*mi));
	char id[NODE_ID_STR_LEN], addr[64];
	if (mi == NULL) {
		return NULL;
	}
	farnode__v1__member_info__init(mi);
	node_id_format(&m->id, id);
	swim_addr_format(&m->addr, addr, sizeof(addr));
	mi->node_id = ctl_call_strdup(call, id);
	mi->name = ctl_call_strdup(call, m->name);
	mi->addr = ctl_call_strdup(call, addr);
	mi->state = (char *)swim_status_name(m->status);
	if (mi->node_id == NULL || mi->name == NULL || mi->addr == NULL) {
		return NULL;
	}
	mi->incarnation = m->incarnation;
	mi->is_self = is_self;
	mi->cpu_free = -1;
	if (m->state != NULL && m->state->version != 0) {
		mi->cpu_free = m->state->cpu_free;
		mi->mem_free_bytes = m->state->mem_free_bytes;
		mi->workloads_running = m->state->workloads_running;
		mi->uplink_connected = m->state->uplink_connected;
	}
	mi->rtt_ms = is_self ? 0 : m->link.rtt_ms;
	mi->loss = is_self ? 0 : m->link.loss;
	if (is_self) {
		mi->last_heard_ms_ago = 0;
	} else if (m->last_heard_ms == 0) {
		mi->last_heard_ms_ago = -1;
	} else {
		mi->last_heard_ms_ago = (int64_t)(now - m->last_heard_ms);
	}
	return mi;
}

CTL_HANDLER(ctl_members)
{
	(void)req;
	const struct swim *s = gossip_core(a);
	if (s == NULL) {
		ctl_call_error(call,
			       "gossip is not running ([gossip] enabled)");
		return -ENOTCONN;
	}
	Farnode__V1__MembersReply *r = ctl_call_alloc(call, sizeof(*r));
	size_t n = swim_member_count(s);
	if (r == NULL) {
		return -ENOMEM;
	}
	farnode__v1__members_reply__init(r);
	r->members = ctl_call_alloc(call, sizeof(*r->members) * (n + 1));
	if (r->members == NULL) {
		return -ENOMEM;
	}
	uint64_t now = uv_now(a->loop);
	struct swim_member_info m;
	swim_member_find(s, swim_self_id(s), &m);
	m.state = swim_local_state(s);
	r->members[r->n_members] = member_info(call, &m, true, now);
	if (r->members[r->n_members++] == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (swim_member_at(s, i, &m) < 0) {
			continue;
		}
		r->members[r->n_members] = member_info(call, &m, false, now);
		if (r->members[r->n_members++] == NULL) {
			return -ENOMEM;
		}
	}
	const struct swim_stats *st = swim_get_stats(s);
	r->health_score = swim_health_score(s);
	r->dropped = st->drop_malformed + st->drop_bad_type + st->drop_too_big +
		     st->drop_impersonation + st->drop_self_sender +
		     st->drop_misrouted + st->drop_stale_self +
		     st->drop_unknown_ack + st->drop_bad_update +
		     st->drop_unsolicited;
	r->impersonation = st->drop_impersonation;
	r->refutations = st->refutations;
	gossip_traffic(a, &r->udp_sent_packets, &r->udp_sent_bytes);
	rep->rep_case = FARNODE__V1__REPLY__REP_MEMBERS;
	rep->members = r;
	return 0;
}

CTL_HANDLER(ctl_join)
{
	const Farnode__V1__JoinRequest *j = req->join;
	if (j->n_addrs == 0 || j->n_addrs > JOIN_ADDRS_MAX) {
		ctl_call_error(call, "give 1 to %d addresses", JOIN_ADDRS_MAX);
		return -EINVAL;
	}
	int rc = gossip_join(a, (const char *const *)j->addrs, j->n_addrs);
	if (rc == -ENOTCONN) {
		ctl_call_error(call, "gossip is not running");
		return rc;
	}
	if (rc < 0) {
		ctl_call_error(call, "no usable address (numeric host:port)");
		return rc;
	}
	Farnode__V1__JoinReply *r = ctl_call_alloc(call, sizeof(*r));
	if (r == NULL) {
		return -ENOMEM;
	}
	farnode__v1__join_reply__init(r);
	r->started = (uint32_t)rc;
	rep->rep_case = FARNODE__V1__REPLY__REP_JOIN;
	rep->join = r;
	return 0;
}

struct leave_ctx {
	struct agent *a;
	struct ctl_call *call;
	Farnode__V1__Reply rep;
	Farnode__V1__LeaveReply lr;
};

static void left(void *ud)
{
	struct leave_ctx *lc = ud;
	struct agent *a = lc->a;
	ctl_call_reply(lc->call, &lc->rep, false); /* frees lc (call memory) */
	agent_request_stop(a, 0);
}

CTL_HANDLER(ctl_leave)
{
	(void)req;
	(void)rep;
	struct leave_ctx *lc = ctl_call_alloc(call, sizeof(*lc));
	if (lc == NULL) {
		return -ENOMEM;
	}
	lc->a = a;
	lc->call = call;
	farnode__v1__reply__init(&lc->rep);
	farnode__v1__leave_reply__init(&lc->lr);
	lc->rep.rep_case = FARNODE__V1__REPLY__REP_LEAVE;
	lc->rep.leave = &lc->lr;
	int rc = gossip_leave(a, left, lc);
	if (rc < 0) {
		ctl_call_error(call, "gossip is not running");
		return rc;
	}
	return CTL_DEFERRED;
}
