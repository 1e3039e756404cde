/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqtt_session: the pure client-side MQTT 3.1.1 session state machine.
 * Packet-id allocation, the QoS 1 in-flight window with DUP retransmission
 * after a reconnect, keepalive (when to send PINGREQ, when the server counts
 * as dead) and SUBACK/UNSUBACK bookkeeping. No I/O: time comes in as now_ms
 * and every outgoing packet leaves through the send callback, so the same
 * code runs on a TLS stream, a test buffer or a simulated network.
 */
#ifndef FARNODE_MQTT_SESSION_H
#define FARNODE_MQTT_SESSION_H

#include <stdint.h>

#include "mqtt.h"

struct mqtt_session;

struct mqtt_session_config {
	/* Keepalive sent in CONNECT; 0 disables PINGREQ and the dead check. */
	uint16_t keepalive_s;
	/*
	 * How long to wait for CONNACK after CONNECT and for PINGRESP after
	 * PINGREQ before mqtt_session_tick() reports the server dead.
	 * 0 = keepalive/2 (at least 1 s), or 10 s when keepalive is off.
	 */
	uint32_t response_timeout_ms;
	/* QoS 1 messages awaiting PUBACK at most; 0 = 16. */
	uint16_t inflight_max;
	/* Largest packet accepted or built; 0 = the protocol maximum. */
	size_t max_packet_size;
};

enum mqtt_session_state {
	MQTT_SESSION_DISCONNECTED = 0,
	MQTT_SESSION_CONNECTING, /* CONNECT sent, waiting for CONNACK */
	MQTT_SESSION_CONNECTED,
};

struct mqtt_session_stats {
	uint64_t tx_packets;
	uint64_t rx_packets;
	uint64_t retransmits;  /* PUBLISH re-sent with DUP */
	uint64_t unknown_acks; /* PUBACK/SUBACK/UNSUBACK for no pending id */
	uint64_t pings;	       /* PINGREQ sent */
};

/*
 * Writes one encoded packet to the transport. buf is borrowed for the call;
 * a negative return is passed back to the caller of the session function.
 */
typedef int (*mqtt_send_fn)(void *ud, const uint8_t *buf, size_t len);

/* New session (DISCONNECTED). NULL on allocation failure. ud is borrowed. */
struct mqtt_session *mqtt_session_new(const struct mqtt_session_config *cfg,
				      mqtt_send_fn send, void *ud);
/* Frees the session and its stored in-flight messages. NULL-safe. */
void mqtt_session_free(struct mqtt_session *s);

/*
 * Transport is up: send CONNECT (keepalive taken from the config, other
 * fields from c) and wait for CONNACK. -EISCONN unless DISCONNECTED.
 */
int mqtt_session_connect(struct mqtt_session *s, const struct mqtt_connect *c,
			 uint64_t now_ms);

/*
 * One complete packet from the server (as split by mqtt_frame). Decodes it
 * into *pkt (pointing into buf) and updates the session:
 *  - CONNACK accepted: CONNECTED, then every in-flight QoS 1 message is
 *    (re)sent in order, with DUP set if it had been sent before. A refused
 *    CONNACK returns -ECONNREFUSED (pkt holds the code) and DISCONNECTED.
 *  - PUBACK frees the window slot; PINGRESP clears the pending ping;
 *    SUBACK/UNSUBACK release their packet id.
 *  - PUBLISH is only returned; for QoS 1 the caller acknowledges with
 *    mqtt_session_puback() once the message is handled.
 * Errors: codec errors, -EPROTO for packets a server must not send or
 * anything but CONNACK first. After an error the caller drops the
 * connection and calls mqtt_session_lost().
 */
int mqtt_session_input(struct mqtt_session *s, const uint8_t *buf, size_t len,
		       uint64_t now_ms, struct mqtt_packet *pkt);

/*
 * Publish. QoS 0 is sent at once (-ENOTCONN unless CONNECTED). QoS 1 is
 * copied into the window with a fresh packet id (*packet_id, may be NULL)
 * and sent now if CONNECTED, else on the next accepted CONNACK; -EAGAIN when
 * the window is full. p->packet_id and p->dup are ignored. -EINVAL for
 * QoS 2, -EMSGSIZE above max_packet_size.
 */
int mqtt_session_publish(struct mqtt_session *s, const struct mqtt_publish *p,
			 uint64_t now_ms, uint16_t *packet_id);

/* Acknowledge a received QoS 1 PUBLISH. -ENOTCONN, -EINVAL for id 0. */
int mqtt_session_puback(struct mqtt_session *s, uint16_t packet_id,
			uint64_t now_ms);

/*
 * SUBSCRIBE / UNSUBSCRIBE count topics (qos ignored for unsubscribe).
 * Sets *packet_id; the id is released by the matching SUBACK/UNSUBACK.
 * -ENOTCONN unless CONNECTED, -EAGAIN when too many are pending.
 */
int mqtt_session_subscribe(struct mqtt_session *s,
			   const struct mqtt_sub_topic *topics, uint16_t count,
			   uint64_t now_ms, uint16_t *packet_id);
int mqtt_session_unsubscribe(struct mqtt_session *s,
			     const struct mqtt_sub_topic *topics,
			     uint16_t count, uint64_t now_ms,
			     uint16_t *packet_id);

/* Send DISCONNECT (if connected) and become DISCONNECTED. */
int mqtt_session_disconnect(struct mqtt_session *s, uint64_t now_ms);

/*
 * The transport is gone. DISCONNECTED; pending SUBSCRIBE ids are released;
 * the QoS 1 window is kept for retransmission after the next CONNACK.
 */
void mqtt_session_lost(struct mqtt_session *s);

/*
 * Timers. Sends PINGREQ when nothing was sent or received for keepalive_s.
 * Returns -ETIMEDOUT when CONNACK or PINGRESP is overdue (server dead: the
 * caller closes the transport and calls mqtt_session_lost()).
 */
int mqtt_session_tick(struct mqtt_session *s, uint64_t now_ms);
/* Absolute time at which mqtt_session_tick() next has work; UINT64_MAX none. */
uint64_t mqtt_session_next_tick_ms(const struct mqtt_session *s);

enum mqtt_session_state mqtt_session_state(const struct mqtt_session *s);
/* QoS 1 messages awaiting PUBACK (sent or not yet sent). */
unsigned mqtt_session_inflight(const struct mqtt_session *s);
/* Whether packet_id is a QoS 1 message awaiting PUBACK. */
bool mqtt_session_is_inflight(const struct mqtt_session *s, uint16_t id);
const struct mqtt_session_stats *
mqtt_session_stats(const struct mqtt_session *s);

#endif
