// SPDX-License-Identifier: Apache-2.0
/*
 * uplink_conn: MQTT session over the TLS client — framing of the decrypted
 * byte stream, the keepalive timer, and the connect/close/abort lifecycle
 * that reports each failure exactly once (see uplink_conn.h).
 */
#define LOG_TAG "uplink"
#include "uplink_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define DEFAULT_MAX_PACKET ((4u << 20) + 4096)

enum conn_state {
	C_IDLE = 0,
	C_TLS,	   /* TCP + TLS handshake */
	C_MQTT,	   /* CONNECT sent */
	C_UP,	   /* CONNACK accepted */
	C_CLOSING, /* tls_close under way */
};

struct uplink_conn {
	uv_loop_t *loop;
	struct tls_client *tls;
	struct mqtt_session *sess;
	struct uplink_conn_cbs cbs;
	void *ud;
	char host[256];
	uint16_t port;
	char *client_id;
	char *will_topic;
	uint8_t *will_payload;
	size_t will_len;
	uint8_t will_qos;
	bool will_retain;
	bool clean_session;
	size_t max_packet;
	unsigned window;
	uv_timer_t timer;
	enum conn_state state;
	bool freeing;
	/* failure to report once the close completes */
	bool report_down;
	int down_err;
	char down_why[192];
	void (*close_cb)(void *ud);
	bool free_after_close;
	uint8_t *rx;
	size_t rx_len;
	size_t rx_cap;
	char last_error[192];
	struct uplink_conn_stats stats;
};

static void arm_timer(struct uplink_conn *c);

static int send_cb(void *ud, const uint8_t *buf, size_t len)
{
	struct uplink_conn *c = ud;
	int rc = tls_write(c->tls, buf, len);
	if (rc == 0) {
		c->stats.bytes_tx += len;
	}
	return rc;
}

static void on_closed(struct tls_client *t, void *ud)
{
	struct uplink_conn *c = ud;
	(void)t;
	c->state = C_IDLE;
	c->rx_len = 0;
	if (c->freeing) {
		return;
	}
	if (c->free_after_close) {
		uplink_conn_free(c);
		return;
	}
	if (c->report_down) {
		c->report_down = false;
		if (c->cbs.on_down != NULL) {
			c->cbs.on_down(c->ud, c->down_err, c->down_why);
		}
		return;
	}
	if (c->close_cb != NULL) {
		void (*cb)(void *) = c->close_cb;
		c->close_cb = NULL;
		cb(c->ud);
	}
}

/* Record a failure and close; on_down runs when the close completed. */
static void fail(struct uplink_conn *c, int err, const char *why)
{
	if (c->state == C_CLOSING || c->state == C_IDLE) {
		return;
	}
	c->stats.failures++;
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	c->report_down = true;
	c->down_err = err;
	snprintf(c->down_why, sizeof(c->down_why), "%s", why);
	mqtt_session_lost(c->sess);
	uv_timer_stop(&c->timer);
	c->state = C_CLOSING;
	tls_close(c->tls, on_closed);
}

void uplink_conn_abort(struct uplink_conn *c, int err, const char *why)
{
	fail(c, err, why);
}

static void on_timer(uv_timer_t *t)
{
	struct uplink_conn *c = t->data;
	int rc = mqtt_session_tick(c->sess, uv_now(c->loop));
	if (rc == -ETIMEDOUT) {
		fail(c, -ETIMEDOUT,
		     c->state == C_MQTT ? "no CONNACK from the broker"
					: "broker stopped answering "
					  "(keepalive)");
		return;
	}
	if (rc < 0 && rc != -ENOTCONN) {
		fail(c, rc, "write to the broker failed");
		return;
	}
	arm_timer(c);
}

static void arm_timer(struct uplink_conn *c)
{
	uint64_t next = mqtt_session_next_tick_ms(c->sess);
	uint64_t now = uv_now(c->loop);
	if (c->freeing || next == UINT64_MAX ||
	    (c->state != C_MQTT && c->state != C_UP)) {
		uv_timer_stop(&c->timer);
		return;
	}
	uv_timer_start(&c->timer, on_timer, next > now ? next - now : 0, 0);
}

static void dispatch(struct uplink_conn *c, const struct mqtt_packet *pkt)
{
	switch (pkt->type) {
	case MQTT_CONNACK:
		c->state = C_UP;
		c->stats.connects++;
		c->last_error[0] = '\0';
		if (c->cbs.on_up != NULL) {
			c->cbs.on_up(c->ud, pkt->u.connack.session_present);
		}
		break;
	case MQTT_PUBLISH:
		if (c->cbs.on_publish != NULL) {
			c->cbs.on_publish(c->ud, &pkt->u.publish);
		}
		if (pkt->u.publish.qos == 1 && c->state == C_UP) {
			mqtt_session_puback(c->sess, pkt->u.publish.packet_id,
					    uv_now(c->loop));
		}
		break;
	case MQTT_PUBACK:
		if (c->cbs.on_puback != NULL) {
			c->cbs.on_puback(c->ud, pkt->packet_id);
		}
		break;
	case MQTT_SUBACK:
		if (c->cbs.on_suback != NULL) {
			c->cbs.on_suback(c->ud, pkt->u.suback.packet_id,
					 pkt->u.suback.codes,
					 pkt->u.suback.count);
		}
		break;
	default:
		break;
	}
}

static int rx_reserve(struct uplink_conn *c, size_t need)
{
	if (need <= c->rx_cap) {
		return 0;
	}
	size_t cap = c->rx_cap ? c->rx_cap : 4096;
	while (cap < need) {
		cap *= 2;
	}
	if (cap > c->max_packet + MQTT_FIXED_HEADER_MAX + 65536) {
		cap = c->max_packet + MQTT_FIXED_HEADER_MAX + 65536;
		if (cap < need) {
			return -EMSGSIZE;
		}
	}
	uint8_t *p = realloc(c->rx, cap);
	if (p == NULL) {
		return -ENOMEM;
	}
	c->rx = p;
	c->rx_cap = cap;
	return 0;
}

static void on_read(struct tls_client *t, const uint8_t *data, size_t len,
		    void *ud)
{
	struct uplink_conn *c = ud;
	size_t pos = 0;
	char why[192];
	(void)t;

	if (c->state != C_MQTT && c->state != C_UP) {
		return;
	}
	c->stats.bytes_rx += len;
	if (rx_reserve(c, c->rx_len + len) != 0) {
		fail(c, -EMSGSIZE, "receive buffer limit reached");
		return;
	}
	memcpy(c->rx + c->rx_len, data, len);
	c->rx_len += len;
	while (pos < c->rx_len && (c->state == C_MQTT || c->state == C_UP)) {
		size_t plen = 0;
		struct mqtt_packet pkt;
		int rc = mqtt_frame(c->rx + pos, c->rx_len - pos, c->max_packet,
				    &plen);
		if (rc == -EAGAIN) {
			break;
		}
		if (rc == 0) {
			rc = mqtt_session_input(c->sess, c->rx + pos, plen,
						uv_now(c->loop), &pkt);
		}
		if (rc == -ECONNREFUSED) {
			snprintf(
			    why, sizeof(why), "broker refused us: %s",
			    mqtt_connack_reason(pkt.u.connack.return_code));
			fail(c, -ECONNREFUSED, why);
			return;
		}
		if (rc < 0) {
			c->stats.malformed++;
			snprintf(why, sizeof(why),
				 "bad packet from the broker (%s)",
				 strerror(-rc));
			fail(c, -EPROTO, why);
			return;
		}
		dispatch(c, &pkt);
		pos += plen;
	}
	if (c->state != C_MQTT && c->state != C_UP) {
		return;
	}
	if (pos > 0) {
		memmove(c->rx, c->rx + pos, c->rx_len - pos);
		c->rx_len -= pos;
	}
	arm_timer(c);
}

static void on_disconnect(struct tls_client *t, int status, void *ud)
{
	struct uplink_conn *c = ud;
	char why[192];
	(void)t;
	if (c->state == C_CLOSING || c->state == C_IDLE) {
		return;
	}
	snprintf(why, sizeof(why), "connection to the broker lost (%s)",
		 status == 0 ? "closed" : strerror(-status));
	c->stats.failures++;
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	mqtt_session_lost(c->sess);
	uv_timer_stop(&c->timer);
	c->state = C_IDLE;
	c->rx_len = 0;
	if (c->cbs.on_down != NULL) {
		c->cbs.on_down(c->ud, status != 0 ? status : -ECONNRESET, why);
	}
}

static void on_tls_connected(struct tls_client *t, int status, void *ud)
{
	struct uplink_conn *c = ud;
	struct mqtt_connect m = {0};
	char why[180];
	int rc;
	(void)t;

	if (c->state != C_TLS) {
		return;
	}
	if (status != 0) {
		const char *e = tls_last_error(c->tls);
		snprintf(why, sizeof(why), "%s", e[0] ? e : strerror(-status));
		c->stats.failures++;
		snprintf(c->last_error, sizeof(c->last_error), "%s", why);
		c->state = C_IDLE;
		if (c->cbs.on_down != NULL) {
			c->cbs.on_down(c->ud, status, why);
		}
		return;
	}
	m.client_id.s = c->client_id;
	m.client_id.len = (uint16_t)strlen(c->client_id);
	m.clean_session = c->clean_session;
	if (c->will_topic != NULL) {
		m.will = true;
		m.will_topic.s = c->will_topic;
		m.will_topic.len = (uint16_t)strlen(c->will_topic);
		m.will_payload.s = (const char *)c->will_payload;
		m.will_payload.len = (uint16_t)c->will_len;
		m.will_qos = c->will_qos;
		m.will_retain = c->will_retain;
	}
	c->state = C_MQTT;
	c->rx_len = 0;
	rc = mqtt_session_connect(c->sess, &m, uv_now(c->loop));
	if (rc != 0) {
		snprintf(why, sizeof(why), "cannot send CONNECT (%s)",
			 strerror(-rc));
		fail(c, rc, why);
		return;
	}
	arm_timer(c);
}

int uplink_conn_new(uv_loop_t *loop, const struct uplink_conn_config *cfg,
		    const struct uplink_conn_cbs *cbs, void *ud,
		    struct uplink_conn **out)
{
	struct uplink_conn *c = calloc(1, sizeof(*c));
	struct mqtt_session_config mc;
	int rc = -ENOMEM;

	*out = NULL;
	if (c == NULL) {
		return -ENOMEM;
	}
	if (cfg->host == NULL || strlen(cfg->host) >= sizeof(c->host) ||
	    cfg->client_id == NULL || strlen(cfg->client_id) > 65535 ||
	    cfg->will_len > 65535) {
		free(c);
		return -EINVAL;
	}
	c->loop = loop;
	c->ud = ud;
	if (cbs != NULL) {
		c->cbs = *cbs;
	}
	snprintf(c->host, sizeof(c->host), "%s", cfg->host);
	c->port = cfg->port;
	c->clean_session = cfg->clean_session;
	c->client_id = strdup(cfg->client_id);
	if (c->client_id == NULL) {
		goto fail;
	}
	if (cfg->will_topic != NULL) {
		c->will_topic = strdup(cfg->will_topic);
		c->will_payload = malloc(cfg->will_len ? cfg->will_len : 1);
		if (c->will_topic == NULL || c->will_payload == NULL) {
			goto fail;
		}
		if (cfg->will_len > 0) {
			memcpy(c->will_payload, cfg->will_payload,
			       cfg->will_len);
		}
		c->will_len = cfg->will_len;
		c->will_qos = cfg->will_qos;
		c->will_retain = cfg->will_retain;
	}
	mc = cfg->mqtt;
	if (mc.max_packet_size == 0) {
		mc.max_packet_size = DEFAULT_MAX_PACKET;
	}
	c->max_packet = mc.max_packet_size;
	c->window = mc.inflight_max ? mc.inflight_max : 16;
	c->sess = mqtt_session_new(&mc, send_cb, c);
	if (c->sess == NULL) {
		goto fail;
	}
	rc =
	    tls_client_new(loop, &cfg->tls, on_read, on_disconnect, c, &c->tls);
	if (rc != 0) {
		goto fail;
	}
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	*out = c;
	return 0;
fail:
	mqtt_session_free(c->sess);
	free(c->client_id);
	free(c->will_topic);
	free(c->will_payload);
	free(c);
	return rc;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct uplink_conn *c = h->data;
	free(c->rx);
	free(c->client_id);
	free(c->will_topic);
	free(c->will_payload);
	free(c);
}

void uplink_conn_free(struct uplink_conn *c)
{
	if (c == NULL) {
		return;
	}
	c->freeing = true;
	memset(&c->cbs, 0, sizeof(c->cbs));
	c->close_cb = NULL;
	tls_client_free(c->tls);
	c->tls = NULL;
	mqtt_session_free(c->sess);
	c->sess = NULL;
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

int uplink_conn_start(struct uplink_conn *c)
{
	int rc;
	if (c->state != C_IDLE) {
		return -EBUSY;
	}
	rc = tls_connect(c->tls, c->host, c->port, on_tls_connected);
	if (rc != 0) {
		return rc;
	}
	c->state = C_TLS;
	return 0;
}

void uplink_conn_close(struct uplink_conn *c, void (*cb)(void *ud))
{
	c->close_cb = cb;
	c->report_down = false;
	if (c->state == C_UP) {
		mqtt_session_disconnect(c->sess, uv_now(c->loop));
	} else {
		mqtt_session_lost(c->sess);
	}
	uv_timer_stop(&c->timer);
	if (c->state == C_CLOSING) {
		return;
	}
	c->state = C_CLOSING;
	tls_close(c->tls, on_closed);
}

void uplink_conn_shutdown(struct uplink_conn *c)
{
	if (c == NULL) {
		return;
	}
	memset(&c->cbs, 0, sizeof(c->cbs));
	if (c->state == C_IDLE) {
		uplink_conn_free(c);
		return;
	}
	uplink_conn_close(c, NULL);
	c->free_after_close = true;
}

bool uplink_conn_is_up(const struct uplink_conn *c)
{
	return c->state == C_UP;
}

bool uplink_conn_is_busy(const struct uplink_conn *c)
{
	return c->state != C_IDLE;
}

int uplink_conn_publish(struct uplink_conn *c, const char *topic,
			const uint8_t *payload, size_t len, uint8_t qos,
			bool retain, uint16_t *packet_id)
{
	struct mqtt_publish p = {0};
	size_t tlen = strlen(topic);
	int rc;
	if (tlen == 0 || tlen > MQTT_MAX_STRING) {
		return -EINVAL;
	}
	p.topic.s = topic;
	p.topic.len = (uint16_t)tlen;
	p.payload = payload;
	p.payload_len = len;
	p.qos = qos;
	p.retain = retain;
	rc = mqtt_session_publish(c->sess, &p, uv_now(c->loop), packet_id);
	if (rc == 0) {
		arm_timer(c);
	}
	return rc;
}

int uplink_conn_subscribe(struct uplink_conn *c, const char *const *filters,
			  size_t n, uint8_t qos, uint16_t *packet_id)
{
	struct mqtt_sub_topic t[8];
	if (n == 0 || n > 8) {
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(filters[i]);
		if (l == 0 || l > MQTT_MAX_STRING) {
			return -EINVAL;
		}
		t[i].filter.s = filters[i];
		t[i].filter.len = (uint16_t)l;
		t[i].qos = qos;
	}
	return mqtt_session_subscribe(c->sess, t, (uint16_t)n, uv_now(c->loop),
				      packet_id);
}

int uplink_conn_reload_tls(struct uplink_conn *c)
{
	return tls_config_reload(c->tls);
}

unsigned uplink_conn_inflight(const struct uplink_conn *c)
{
	return mqtt_session_inflight(c->sess);
}

unsigned uplink_conn_window(const struct uplink_conn *c)
{
	return c->window;
}

const char *uplink_conn_last_error(const struct uplink_conn *c)
{
	return c->last_error;
}

void uplink_conn_stats(const struct uplink_conn *c,
		       struct uplink_conn_stats *out)
{
	*out = c->stats;
}

const struct mqtt_session_stats *
uplink_conn_session_stats(const struct uplink_conn *c)
{
	return mqtt_session_stats(c->sess);
}

int uplink_parse_url(const char *url, char *host, size_t host_len,
		     uint16_t *port)
{
	const char *p;
	const char *colon;
	size_t hl;

	if (strncmp(url, "mqtts://", 8) == 0) {
		p = url + 8;
	} else if (strncmp(url, "mqtt://", 7) == 0) {
		return -EPROTONOSUPPORT;
	} else {
		return -EINVAL;
	}
	colon = strrchr(p, ':');
	hl = colon != NULL ? (size_t)(colon - p) : strlen(p);
	if (hl == 0 || hl >= host_len || strchr(p, '/') != NULL) {
		return -EINVAL;
	}
	memcpy(host, p, hl);
	host[hl] = '\0';
	*port = 8883;
	if (colon != NULL) {
		char *end = NULL;
		unsigned long v = strtoul(colon + 1, &end, 10);
		if (end == colon + 1 || *end != '\0' || v == 0 || v > 65535) {
			return -EINVAL;
		}
		*port = (uint16_t)v;
	}
	return 0;
}
