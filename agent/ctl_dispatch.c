// SPDX-License-Identifier: Apache-2.0
/*
 * ctl_dispatch: the table from control request to handler. One line per
 * request type; handlers live next to the module they serve (ctl_*.c).
 */
#include "ctl.h"
#include "ctl_handlers.h"

static const struct {
	Farnode__V1__Request__ReqCase req;
	ctl_handler_fn fn;
} handlers[] = {
	{FARNODE__V1__REQUEST__REQ_STATUS, ctl_status},
	{FARNODE__V1__REQUEST__REQ_RELOAD, ctl_reload},
	{FARNODE__V1__REQUEST__REQ_QTABLE, ctl_qtable},
	{FARNODE__V1__REQUEST__REQ_DECISIONS, ctl_decisions},
	{FARNODE__V1__REQUEST__REQ_RUN, ctl_run},
	{FARNODE__V1__REQUEST__REQ_PS, ctl_ps},
	{FARNODE__V1__REQUEST__REQ_STOP, ctl_stop},
	{FARNODE__V1__REQUEST__REQ_RM, ctl_rm},
	{FARNODE__V1__REQUEST__REQ_LOGS, ctl_logs},
	{FARNODE__V1__REQUEST__REQ_APPLY, ctl_apply},
	{FARNODE__V1__REQUEST__REQ_KEYS, ctl_keys},
	{FARNODE__V1__REQUEST__REQ_MEMBERS, ctl_members},
	{FARNODE__V1__REQUEST__REQ_JOIN, ctl_join},
	{FARNODE__V1__REQUEST__REQ_LEAVE, ctl_leave},
	{FARNODE__V1__REQUEST__REQ_HUB_STATUS, ctl_hub_status},
};

ctl_handler_fn ctl__handler_for(Farnode__V1__Request__ReqCase c)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (handlers[i].req == c) {
			return handlers[i].fn;
		}
	}
	return 0;
}
