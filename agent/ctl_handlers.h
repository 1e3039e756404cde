/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_handlers: declarations of every control-socket handler (one per
 * request type), grouped by the module that implements them.
 */
#ifndef FARNODE_CTL_HANDLERS_H
#define FARNODE_CTL_HANDLERS_H

#include "ctl.h"

#define CTL_HANDLER(name)                                                 \
	int name(struct agent *a, const Farnode__V1__Request *req,        \
		 Farnode__V1__Reply *rep, struct ctl_call *call)

/* ctl_agent.c */
CTL_HANDLER(ctl_status);
CTL_HANDLER(ctl_reload);

/* ctl_keys.c */
CTL_HANDLER(ctl_keys);

/* ctl_gossip.c */
CTL_HANDLER(ctl_members);
CTL_HANDLER(ctl_join);
CTL_HANDLER(ctl_leave);

/* ctl_runtime.c */
CTL_HANDLER(ctl_run);
CTL_HANDLER(ctl_ps);
CTL_HANDLER(ctl_stop);
CTL_HANDLER(ctl_rm);
CTL_HANDLER(ctl_logs);
CTL_HANDLER(ctl_apply);

/* ctl_sched.c */
CTL_HANDLER(ctl_qtable);
CTL_HANDLER(ctl_decisions);

/* ctl_uplink.c */
CTL_HANDLER(ctl_hub_status);

#endif
