/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gossip_app: what application protocols (offload, Q-shares: envelope
 * types 10-13) need from the gossip transport. Declared here by their
 * user; implemented by gossip.c. Everything runs on the loop thread.
 */
#ifndef FARNODE_GOSSIP_APP_H
#define FARNODE_GOSSIP_APP_H

#include <stddef.h>
#include <stdint.h>

#include "node.h"

struct agent;

/*
 * Send body as one application message of envelope type `type` (10-13)
 * to member `to`: Envelope{WIRE_VERSION, our id, our incarnation, type,
 * body}, sealed with the primary gossip key exactly like SWIM datagrams,
 * to the member's current gossip address. Bodies up to WIRE_BODY_MAX go
 * as one UDP datagram; larger ones (up to WIRE_STREAM_BODY_MAX, e.g. an
 * offer with a large spec) over one TCP connection to the member's gossip
 * port, in sealed frames marked as an application message, then closed.
 * Fire and forget: the caller retransmits.
 * Returns 0 (handed to the socket), -EINVAL (type outside 10-13, NULL
 * body with len > 0), -EMSGSIZE, -EHOSTUNREACH (`to` unknown, dead, left
 * or ourselves), -ENOTCONN (gossip not running).
 */
int gossip_send_app(struct agent *a, const struct node_id *to, uint32_t type,
		    const uint8_t *body, size_t len);

/*
 * Receiver of application messages: an authenticated (unsealed with the
 * keyring, replay-checked), well-formed envelope of type 10-13 whose
 * sender is not ourselves. `from` is the envelope's sender id; body is
 * borrowed for the duration of the call. Such envelopes are not passed
 * to the SWIM core. now_ms is uv_now of the loop.
 */
typedef void (*gossip_app_fn)(void *ud, const struct node_id *from,
			      uint32_t type, const uint8_t *body, size_t len,
			      uint64_t now_ms);

/* Membership changes an application cares about. */
enum gossip_member_ev {
	GOSSIP_MEMBER_ALIVE = 0, /* joined, or alive again */
	GOSSIP_MEMBER_DEAD = 1,	 /* declared dead (SWIM_EV_DEAD) */
	GOSSIP_MEMBER_LEFT = 2,	 /* left gracefully (SWIM_EV_LEFT) */
	GOSSIP_MEMBER_STATE = 3, /* its node state changed (SWIM_EV_UPDATE) */
};
typedef void (*gossip_member_fn)(void *ud, const struct node_id *id,
				 enum gossip_member_ev ev, uint64_t now_ms);

/*
 * Install (fn != NULL) or remove (fn == NULL) the single application
 * receiver / member listener. May be called before or after
 * gossip_start; gossip keeps the last one set until gossip_stop and
 * never calls it after that. Returns 0, or -ENOTCONN when gossip is
 * disabled in the configuration.
 */
int gossip_set_app_handler(struct agent *a, gossip_app_fn fn, void *ud);
int gossip_set_member_handler(struct agent *a, gossip_member_fn fn, void *ud);

#endif
