// SPDX-License-Identifier: Apache-2.0
/*
 * ctl_uplink: the control handler for `farnode hub status` — the uplink
 * service's connection state, outbox depth and counters.
 */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "ctl_handlers.h"
#include "uplink.h"

CTL_HANDLER(ctl_hub_status)
{
	struct uplink_info info;
	(void)req;
	Farnode__V1__HubStatusReply *r = ctl_call_alloc(call, sizeof(*r));
	char *state = ctl_call_alloc(call, 256);
	if (r == NULL || state == NULL) {
		return -ENOMEM;
	}
	farnode__v1__hub_status_reply__init(r);
	uplink_state_text(a, state, 256);
	r->state = state;
	if (uplink_info(a, &info) == 0) {
		r->enabled = info.enabled;
		r->connected = info.connected;
		r->connects = info.connects;
		r->failures = info.failures;
		r->bytes_tx = info.bytes_tx;
		r->bytes_rx = info.bytes_rx;
		r->broker_malformed = info.malformed;
		r->events_sent = info.events_sent;
		r->events_acked = info.events_acked;
		r->outbox_queued = info.outbox_queued;
		r->outbox_dropped = info.outbox_dropped;
		r->policy_version = info.policy_version;
		r->desired_version = info.desired_version;
		r->bundles_rejected = info.bundles_rejected;
		r->last_error = ctl_call_strdup(call, info.last_error);
	} else {
		r->last_error = (char *)"";
	}
	rep->rep_case = FARNODE__V1__REPLY__REP_HUB_STATUS;
	rep->hub_status = r;
	return 0;
}
