/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uplink_conn: one MQTT 3.1.1 client connection over TLS on a libuv loop.
 * Glues the TLS client (tls.h) to the pure session (mqtt_session.h):
 * stream framing with a bounded receive buffer, the session's keepalive
 * timer, and callbacks for what the owner cares about. The session (and
 * with it the QoS 1 in-flight window) outlives a connection, so messages
 * not acknowledged before a drop are re-sent with DUP after the next
 * CONNACK. Reconnect policy (backoff) belongs to the owner. Used by the
 * agent's uplink service and by the `farnode hub` operator commands.
 */
#ifndef FARNODE_UPLINK_CONN_H
#define FARNODE_UPLINK_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mqtt.h"
#include "mqtt_session.h"
#include "tls.h"

struct uplink_conn;

struct uplink_conn_cbs {
	/* CONNACK accepted: publish and subscribe from here. */
	void (*on_up)(void *ud, bool session_present);
	/*
	 * The connection attempt failed or an established connection ended
	 * (err < 0; why is a one-line reason). Not called after
	 * uplink_conn_close(). uplink_conn_start() may be called again.
	 */
	void (*on_down)(void *ud, int err, const char *why);
	/* A PUBLISH arrived; QoS 1 is acknowledged after this returns. */
	void (*on_publish)(void *ud, const struct mqtt_publish *p);
	/* A QoS 1 message of ours was acknowledged. */
	void (*on_puback)(void *ud, uint16_t packet_id);
	/* SUBACK: one code per filter (MQTT_SUBACK_FAILURE = refused). */
	void (*on_suback)(void *ud, uint16_t packet_id, const uint8_t *codes,
			  size_t n);
};

struct uplink_conn_config {
	const char *host; /* copied */
	uint16_t port;
	struct tls_config tls; /* paths copied by the TLS client */
	struct mqtt_session_config mqtt;
	const char *client_id; /* copied */
	bool clean_session;
	/* Will (optional): copied. */
	const char *will_topic;
	const uint8_t *will_payload;
	size_t will_len;
	uint8_t will_qos;
	bool will_retain;
};

struct uplink_conn_stats {
	uint64_t connects; /* CONNACK accepted */
	uint64_t failures; /* attempts or connections that ended badly */
	uint64_t bytes_tx; /* MQTT bytes written (before TLS) */
	uint64_t bytes_rx;
	uint64_t malformed; /* packets from the broker refused */
};

/*
 * Create (not connected). Loads TLS credentials: the errors of
 * tls_client_new() are returned with the reason logged.
 */
int uplink_conn_new(uv_loop_t *loop, const struct uplink_conn_config *cfg,
		    const struct uplink_conn_cbs *cbs, void *ud,
		    struct uplink_conn **out);
/* Close and free (asynchronously; no callback runs afterwards). NULL-safe. */
void uplink_conn_free(struct uplink_conn *c);

/* Start connecting. -EBUSY unless idle. Outcome via on_up / on_down. */
int uplink_conn_start(struct uplink_conn *c);
/*
 * Graceful end: DISCONNECT (the broker discards the Will), close_notify,
 * close. on_down is not called. cb (may be NULL) runs when closed.
 */
void uplink_conn_close(struct uplink_conn *c, void (*cb)(void *ud));
/*
 * Graceful end as uplink_conn_close() (queued writes go out first), then
 * free. No callback runs afterwards. NULL-safe.
 */
void uplink_conn_shutdown(struct uplink_conn *c);
/* Drop the connection as if it failed (tests, reload). on_down runs. */
void uplink_conn_abort(struct uplink_conn *c, int err, const char *why);

/* CONNACK accepted and not yet lost. */
bool uplink_conn_is_up(const struct uplink_conn *c);
/* Connecting or up. */
bool uplink_conn_is_busy(const struct uplink_conn *c);

/*
 * Publish (see mqtt_session_publish): QoS 0 needs the connection up;
 * QoS 1 joins the in-flight window (-EAGAIN when full) and *packet_id
 * (may be NULL) identifies the PUBACK.
 */
int uplink_conn_publish(struct uplink_conn *c, const char *topic,
			const uint8_t *payload, size_t len, uint8_t qos,
			bool retain, uint16_t *packet_id);
/* Subscribe filters at QoS qos. */
int uplink_conn_subscribe(struct uplink_conn *c, const char *const *filters,
			  size_t n, uint8_t qos, uint16_t *packet_id);

/* Re-read the TLS credentials (SIGHUP); used from the next connect. */
int uplink_conn_reload_tls(struct uplink_conn *c);

/* QoS 1 messages awaiting PUBACK. */
unsigned uplink_conn_inflight(const struct uplink_conn *c);
/* The window size. */
unsigned uplink_conn_window(const struct uplink_conn *c);
/* Reason of the last failure ("" if none). Borrowed. */
const char *uplink_conn_last_error(const struct uplink_conn *c);
void uplink_conn_stats(const struct uplink_conn *c,
		       struct uplink_conn_stats *out);
const struct mqtt_session_stats *
uplink_conn_session_stats(const struct uplink_conn *c);

/*
 * Split "mqtts://host:port" (or mqtt://) into host and port; the scheme
 * must be mqtts (TLS is required). Default port 8883. Returns 0,
 * -EINVAL (malformed), -EPROTONOSUPPORT (not mqtts).
 */
int uplink_parse_url(const char *url, char *host, size_t host_len,
		     uint16_t *port);

#endif
