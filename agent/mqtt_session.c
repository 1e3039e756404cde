// SPDX-License-Identifier: Apache-2.0
/*
 * mqtt_session: client session logic over the pure codec (see the header).
 *
 * Packet ids come from a 65,536-bit map so an id is never reused while a
 * PUBLISH, SUBSCRIBE or UNSUBSCRIBE still holds it. The QoS 1 window keeps
 * each message encoded, in send order; retransmission after a reconnect only
 * sets the DUP bit in the stored first byte (MQTT-4.4.0-1: resend unacked
 * PUBLISH packets with their original ids when the session resumes).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_session.h"

#define MQTT_SESSION_MAX_PENDING_SUBS	16u
#define DEFAULT_INFLIGHT		16u
#define DEFAULT_TIMEOUT_NO_KEEPALIVE_MS 10000u

struct inflight {
	uint16_t packet_id;
	bool sent;
	uint8_t *buf; /* encoded PUBLISH, owned */
	size_t len;
};

struct mqtt_session {
	struct mqtt_session_config cfg;
	uint32_t response_timeout_ms;
	mqtt_send_fn send;
	void *ud;
	enum mqtt_session_state state;

	uint8_t id_used[65536 / 8];
	uint16_t next_id;

	struct inflight *window; /* cfg.inflight_max entries, [0, n) used */
	unsigned n_inflight;

	uint16_t pending_subs[MQTT_SESSION_MAX_PENDING_SUBS];
	unsigned n_pending_subs;

	uint64_t last_tx_ms;
	uint64_t last_rx_ms;
	uint64_t wait_since_ms; /* CONNECT or PINGREQ sent */
	bool ping_pending;

	struct mqtt_session_stats stats;
};

static bool id_test(const struct mqtt_session *s, uint16_t id)
{
	return s->id_used[id >> 3] & (1u << (id & 7));
}

static void id_set(struct mqtt_session *s, uint16_t id)
{
	s->id_used[id >> 3] |= (uint8_t)(1u << (id & 7));
}

static void id_clear(struct mqtt_session *s, uint16_t id)
{
	s->id_used[id >> 3] &= (uint8_t) ~(1u << (id & 7));
}

/* Next free non-zero id after the last one handed out. -EAGAIN if none. */
static int id_alloc(struct mqtt_session *s, uint16_t *id)
{
	uint32_t tries;

	for (tries = 0; tries < 65535; tries++) {
		uint16_t cand = s->next_id;

		s->next_id = cand == UINT16_MAX ? 1 : (uint16_t)(cand + 1);
		if (!id_test(s, cand)) {
			id_set(s, cand);
			*id = cand;
			return 0;
		}
	}
	return -EAGAIN;
}

struct mqtt_session *mqtt_session_new(const struct mqtt_session_config *cfg,
				      mqtt_send_fn send, void *ud)
{
	struct mqtt_session *s = calloc(1, sizeof(*s));

	if (!s) {
		return NULL;
	}
	s->cfg = *cfg;
	if (s->cfg.inflight_max == 0) {
		s->cfg.inflight_max = DEFAULT_INFLIGHT;
	}
	if (s->cfg.max_packet_size == 0 ||
	    s->cfg.max_packet_size > MQTT_MAX_PACKET_SIZE) {
		s->cfg.max_packet_size = MQTT_MAX_PACKET_SIZE;
	}
	s->response_timeout_ms = cfg->response_timeout_ms;
	if (s->response_timeout_ms == 0) {
		s->response_timeout_ms = cfg->keepalive_s
					     ? (uint32_t)cfg->keepalive_s * 500u
					     : DEFAULT_TIMEOUT_NO_KEEPALIVE_MS;
		if (s->response_timeout_ms < 1000) {
			s->response_timeout_ms = 1000;
		}
	}
	s->window = calloc(s->cfg.inflight_max, sizeof(*s->window));
	if (!s->window) {
		free(s);
		return NULL;
	}
	s->send = send;
	s->ud = ud;
	s->next_id = 1;
	return s;
}

void mqtt_session_free(struct mqtt_session *s)
{
	unsigned i;

	if (!s) {
		return;
	}
	for (i = 0; i < s->n_inflight; i++) {
		free(s->window[i].buf);
	}
	free(s->window);
	free(s);
}

static int send_raw(struct mqtt_session *s, const uint8_t *buf, size_t len,
		    uint64_t now_ms)
{
	int rc = s->send(s->ud, buf, len);

	if (rc < 0) {
		return rc;
	}
	s->last_tx_ms = now_ms;
	s->stats.tx_packets++;
	return 0;
}

/* Encode into a stack buffer when small, else a heap one, and send. */
static int send_packet(struct mqtt_session *s, const struct mqtt_packet *pkt,
		       uint64_t now_ms)
{
	uint8_t small[256];
	uint8_t *buf = small;
	size_t len = 0;
	int rc;

	rc = mqtt_encode(pkt, small, sizeof(small), &len);
	if (rc == -ENOBUFS) {
		if (len > s->cfg.max_packet_size) {
			return -EMSGSIZE;
		}
		buf = malloc(len);
		if (!buf) {
			return -ENOMEM;
		}
		rc = mqtt_encode(pkt, buf, len, &len);
	}
	if (rc == 0) {
		rc = len > s->cfg.max_packet_size
			 ? -EMSGSIZE
			 : send_raw(s, buf, len, now_ms);
	}
	if (buf != small) {
		free(buf);
	}
	return rc;
}

int mqtt_session_connect(struct mqtt_session *s, const struct mqtt_connect *c,
			 uint64_t now_ms)
{
	struct mqtt_packet pkt;
	int rc;

	if (s->state != MQTT_SESSION_DISCONNECTED) {
		return -EISCONN;
	}
	memset(&pkt, 0, sizeof(pkt));
	pkt.type = MQTT_CONNECT;
	pkt.u.connect = *c;
	pkt.u.connect.keepalive_s = s->cfg.keepalive_s;
	rc = send_packet(s, &pkt, now_ms);
	if (rc < 0) {
		return rc;
	}
	s->state = MQTT_SESSION_CONNECTING;
	s->wait_since_ms = now_ms;
	s->last_rx_ms = now_ms;
	s->ping_pending = false;
	return 0;
}

/* Send every stored QoS 1 message in order; DUP on those sent before. */
static int resend_window(struct mqtt_session *s, uint64_t now_ms)
{
	unsigned i;
	int rc;

	for (i = 0; i < s->n_inflight; i++) {
		struct inflight *m = &s->window[i];

		if (m->sent) {
			m->buf[0] |= 0x08;
			s->stats.retransmits++;
		}
		rc = send_raw(s, m->buf, m->len, now_ms);
		if (rc < 0) {
			return rc;
		}
		m->sent = true;
	}
	return 0;
}

static int on_puback(struct mqtt_session *s, uint16_t id)
{
	unsigned i;

	for (i = 0; i < s->n_inflight; i++) {
		if (s->window[i].packet_id == id && s->window[i].sent) {
			free(s->window[i].buf);
			memmove(&s->window[i], &s->window[i + 1],
				(s->n_inflight - i - 1) * sizeof(*s->window));
			s->n_inflight--;
			id_clear(s, id);
			return 0;
		}
	}
	s->stats.unknown_acks++;
	return 0;
}

static int on_suback(struct mqtt_session *s, uint16_t id)
{
	unsigned i;

	for (i = 0; i < s->n_pending_subs; i++) {
		if (s->pending_subs[i] == id) {
			s->pending_subs[i] =
			    s->pending_subs[--s->n_pending_subs];
			id_clear(s, id);
			return 0;
		}
	}
	s->stats.unknown_acks++;
	return 0;
}

int mqtt_session_input(struct mqtt_session *s, const uint8_t *buf, size_t len,
		       uint64_t now_ms, struct mqtt_packet *pkt)
{
	int rc;

	if (len > s->cfg.max_packet_size) {
		return -EMSGSIZE;
	}
	rc = mqtt_decode(buf, len, pkt);
	if (rc < 0) {
		return rc;
	}
	if (s->state == MQTT_SESSION_DISCONNECTED) {
		return -ENOTCONN;
	}
	s->stats.rx_packets++;
	s->last_rx_ms = now_ms;
	if (s->state == MQTT_SESSION_CONNECTING) {
		if (pkt->type != MQTT_CONNACK) {
			return -EPROTO; /* [MQTT-3.2.0-1] */
		}
		if (pkt->u.connack.return_code != MQTT_CONNACK_ACCEPTED) {
			mqtt_session_lost(s);
			return -ECONNREFUSED;
		}
		s->state = MQTT_SESSION_CONNECTED;
		return resend_window(s, now_ms);
	}
	switch (pkt->type) {
	case MQTT_PUBLISH:
		return pkt->u.publish.qos > 1 ? -EPROTO : 0;
	case MQTT_PUBACK:
		return on_puback(s, pkt->packet_id);
	case MQTT_SUBACK:
		return on_suback(s, pkt->u.suback.packet_id);
	case MQTT_UNSUBACK:
		return on_suback(s, pkt->packet_id);
	case MQTT_PINGRESP:
		s->ping_pending = false;
		return 0;
	default:
		return -EPROTO; /* client-only packets, second CONNACK, QoS 2 */
	}
}

int mqtt_session_publish(struct mqtt_session *s, const struct mqtt_publish *p,
			 uint64_t now_ms, uint16_t *packet_id)
{
	struct mqtt_packet pkt;
	struct inflight *m;
	size_t len = 0;
	int rc;

	if (p->qos > 1) {
		return -EINVAL;
	}
	memset(&pkt, 0, sizeof(pkt));
	pkt.type = MQTT_PUBLISH;
	pkt.u.publish = *p;
	pkt.u.publish.dup = false;
	pkt.u.publish.packet_id = 0;
	if (p->qos == 0) {
		if (s->state != MQTT_SESSION_CONNECTED) {
			return -ENOTCONN;
		}
		return send_packet(s, &pkt, now_ms);
	}
	if (s->n_inflight >= s->cfg.inflight_max) {
		return -EAGAIN;
	}
	pkt.u.publish.packet_id = 1; /* size and checks only */
	rc = mqtt_encode(&pkt, NULL, 0, &len);
	if (rc != -ENOBUFS) {
		return rc;
	}
	if (len > s->cfg.max_packet_size) {
		return -EMSGSIZE;
	}
	m = &s->window[s->n_inflight];
	m->buf = malloc(len);
	if (!m->buf) {
		return -ENOMEM;
	}
	if ((rc = id_alloc(s, &pkt.u.publish.packet_id)) < 0) {
		goto fail;
	}
	rc = mqtt_encode(&pkt, m->buf, len, &m->len);
	if (rc < 0) {
		id_clear(s, pkt.u.publish.packet_id);
		goto fail;
	}
	m->packet_id = pkt.u.publish.packet_id;
	m->sent = false;
	s->n_inflight++;
	if (packet_id) {
		*packet_id = m->packet_id;
	}
	if (s->state == MQTT_SESSION_CONNECTED) {
		/* A send error leaves it in the window for the next CONNACK. */
		rc = send_raw(s, m->buf, m->len, now_ms);
		m->sent = true;
		return rc;
	}
	return 0;
fail:
	free(m->buf);
	m->buf = NULL;
	return rc;
}

int mqtt_session_puback(struct mqtt_session *s, uint16_t packet_id,
			uint64_t now_ms)
{
	uint8_t buf[4];
	size_t len;
	int rc;

	if (s->state != MQTT_SESSION_CONNECTED) {
		return -ENOTCONN;
	}
	rc = mqtt_encode_simple(MQTT_PUBACK, packet_id, buf, sizeof(buf), &len);
	if (rc < 0) {
		return rc;
	}
	return send_raw(s, buf, len, now_ms);
}

static int sub_common(struct mqtt_session *s, enum mqtt_type type,
		      const struct mqtt_sub_topic *topics, uint16_t count,
		      uint64_t now_ms, uint16_t *packet_id)
{
	struct mqtt_packet pkt;
	uint16_t id;
	int rc;

	if (s->state != MQTT_SESSION_CONNECTED) {
		return -ENOTCONN;
	}
	if (s->n_pending_subs >= MQTT_SESSION_MAX_PENDING_SUBS) {
		return -EAGAIN;
	}
	if ((rc = id_alloc(s, &id)) < 0) {
		return rc;
	}
	memset(&pkt, 0, sizeof(pkt));
	pkt.type = type;
	pkt.u.subscribe.packet_id = id;
	pkt.u.subscribe.topics = topics;
	pkt.u.subscribe.count = count;
	rc = send_packet(s, &pkt, now_ms);
	if (rc < 0) {
		id_clear(s, id);
		return rc;
	}
	s->pending_subs[s->n_pending_subs++] = id;
	if (packet_id) {
		*packet_id = id;
	}
	return 0;
}

int mqtt_session_subscribe(struct mqtt_session *s,
			   const struct mqtt_sub_topic *topics, uint16_t count,
			   uint64_t now_ms, uint16_t *packet_id)
{
	return sub_common(s, MQTT_SUBSCRIBE, topics, count, now_ms, packet_id);
}

int mqtt_session_unsubscribe(struct mqtt_session *s,
			     const struct mqtt_sub_topic *topics,
			     uint16_t count, uint64_t now_ms,
			     uint16_t *packet_id)
{
	return sub_common(s, MQTT_UNSUBSCRIBE, topics, count, now_ms,
			  packet_id);
}

int mqtt_session_disconnect(struct mqtt_session *s, uint64_t now_ms)
{
	uint8_t buf[2];
	size_t len;
	int rc = 0;

	if (s->state == MQTT_SESSION_CONNECTED) {
		rc = mqtt_encode_simple(MQTT_DISCONNECT, 0, buf, sizeof(buf),
					&len);
		if (rc == 0) {
			rc = send_raw(s, buf, len, now_ms);
		}
	}
	mqtt_session_lost(s);
	return rc;
}

void mqtt_session_lost(struct mqtt_session *s)
{
	unsigned i;

	for (i = 0; i < s->n_pending_subs; i++) {
		id_clear(s, s->pending_subs[i]);
	}
	s->n_pending_subs = 0;
	s->ping_pending = false;
	s->state = MQTT_SESSION_DISCONNECTED;
}

static uint64_t keepalive_ms(const struct mqtt_session *s)
{
	return (uint64_t)s->cfg.keepalive_s * 1000u;
}

uint64_t mqtt_session_next_tick_ms(const struct mqtt_session *s)
{
	uint64_t idle_since;

	switch (s->state) {
	case MQTT_SESSION_CONNECTING:
		return s->wait_since_ms + s->response_timeout_ms;
	case MQTT_SESSION_CONNECTED:
		if (s->ping_pending) {
			return s->wait_since_ms + s->response_timeout_ms;
		}
		if (s->cfg.keepalive_s == 0) {
			return UINT64_MAX;
		}
		idle_since = s->last_tx_ms < s->last_rx_ms ? s->last_tx_ms
							   : s->last_rx_ms;
		return idle_since + keepalive_ms(s);
	default:
		return UINT64_MAX;
	}
}

int mqtt_session_tick(struct mqtt_session *s, uint64_t now_ms)
{
	uint8_t buf[2];
	size_t len;
	int rc;

	if (s->state == MQTT_SESSION_DISCONNECTED) {
		return 0;
	}
	if (s->state == MQTT_SESSION_CONNECTING || s->ping_pending) {
		if (now_ms >= s->wait_since_ms + s->response_timeout_ms) {
			return -ETIMEDOUT;
		}
		return 0;
	}
	if (now_ms < mqtt_session_next_tick_ms(s)) {
		return 0;
	}
	rc = mqtt_encode_simple(MQTT_PINGREQ, 0, buf, sizeof(buf), &len);
	if (rc == 0) {
		rc = send_raw(s, buf, len, now_ms);
	}
	if (rc < 0) {
		return rc;
	}
	s->ping_pending = true;
	s->wait_since_ms = now_ms;
	s->stats.pings++;
	return 0;
}

enum mqtt_session_state mqtt_session_state(const struct mqtt_session *s)
{
	return s->state;
}

unsigned mqtt_session_inflight(const struct mqtt_session *s)
{
	return s->n_inflight;
}

bool mqtt_session_is_inflight(const struct mqtt_session *s, uint16_t id)
{
	unsigned i;

	for (i = 0; i < s->n_inflight; i++) {
		if (s->window[i].packet_id == id) {
			return true;
		}
	}
	return false;
}

const struct mqtt_session_stats *
mqtt_session_stats(const struct mqtt_session *s)
{
	return &s->stats;
}
