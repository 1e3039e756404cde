// SPDX-License-Identifier: Apache-2.0
/*
 * ctl_agent: control handlers for the agent itself (status, reload).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "ctl_handlers.h"
#include "uplink.h"

CTL_HANDLER(ctl_status)
{
	(void)req;
	Farnode__V1__StatusReply *s = ctl_call_alloc(call, sizeof(*s));
	if (s == NULL) {
		return -ENOMEM;
	}
	farnode__v1__status_reply__init(s);
	s->node_id = a->id_str;
	s->generation = a->generation;
	s->uptime_ms = uv_now(a->loop) - a->start_ms;
	s->data_dir = a->data_dir;
	s->config_file = a->config_path;
	char *hub = ctl_call_alloc(call, 256);
	if (hub == NULL) {
		return -ENOMEM;
	}
	uplink_state_text(a, hub, 256);
	s->hub_state = hub;
	s->version = (char *)FARNODE_VERSION;
	s->node_name = a->cfg.node.name;
	s->pid = (uint32_t)getpid();
	s->log_level = a->cfg.node.log_level;
	s->n_notes = (size_t)a->n_notes;
	if (a->n_notes > 0) {
		s->notes = ctl_call_alloc(call, sizeof(char *) * (size_t)a->n_notes);
		if (s->notes == NULL) {
			return -ENOMEM;
		}
		for (int i = 0; i < a->n_notes; i++) {
			s->notes[i] = a->notes[i];
		}
	}
	rep->rep_case = FARNODE__V1__REPLY__REP_STATUS;
	rep->status = s;
	return 0;
}

CTL_HANDLER(ctl_reload)
{
	enum { MAXK = 64 };
	(void)req;
	char(*applied)[96] = ctl_call_alloc(call, sizeof(char[96]) * MAXK);
	char(*pending)[96] = ctl_call_alloc(call, sizeof(char[96]) * MAXK);
	Farnode__V1__ReloadReply *r = ctl_call_alloc(call, sizeof(*r));
	char **pa = ctl_call_alloc(call, sizeof(char *) * MAXK);
	char **pp = ctl_call_alloc(call, sizeof(char *) * MAXK);
	int na = 0;
	int np = 0;
	if (!applied || !pending || !r || !pa || !pp) {
		return -ENOMEM;
	}
	int rc = agent_reload(a, applied, &na, pending, &np, MAXK);
	if (rc != 0) {
		ctl_call_error(call, "reload failed; see the agent log");
		return rc;
	}
	farnode__v1__reload_reply__init(r);
	for (int i = 0; i < na; i++) {
		pa[i] = applied[i];
	}
	for (int i = 0; i < np; i++) {
		pp[i] = pending[i];
	}
	r->n_applied = (size_t)na;
	r->applied = pa;
	r->n_pending = (size_t)np;
	r->pending = pp;
	rep->rep_case = FARNODE__V1__REPLY__REP_RELOAD;
	rep->reload = r;
	return 0;
}
