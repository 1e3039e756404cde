// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz target for the MQTT codec: splits the input into packets, decodes
 * each, re-encodes what decoded and checks that the second decode yields the
 * same values (not bytes: non-minimal remaining lengths re-encode shorter).
 * The same packets are fed to a session and matched against topic filters.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt.h"
#include "mqtt_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_mqtt: %s:%d: %s\n", __FILE__,    \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#define MAX_TOPICS 256

static bool str_same(struct mqtt_str a, struct mqtt_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}

static bool topics_same(const struct mqtt_subscribe *a,
			const struct mqtt_subscribe *b, bool with_qos)
{
	struct mqtt_topic_iter ia, ib;
	struct mqtt_sub_topic ta, tb;
	int ra, rb;

	mqtt_topic_iter_init(&ia, a, with_qos);
	mqtt_topic_iter_init(&ib, b, with_qos);
	for (;;) {
		ra = mqtt_topic_iter_next(&ia, &ta);
		rb = mqtt_topic_iter_next(&ib, &tb);
		if (ra != rb) {
			return false;
		}
		if (!ra) {
			return true;
		}
		if (!str_same(ta.filter, tb.filter) || ta.qos != tb.qos) {
			return false;
		}
	}
}

static void check_same(const struct mqtt_packet *a, const struct mqtt_packet *b)
{
	CHECK(a->type == b->type);
	CHECK(a->packet_id == b->packet_id);
	switch (a->type) {
	case MQTT_CONNECT: {
		const struct mqtt_connect *x = &a->u.connect,
					  *y = &b->u.connect;

		CHECK(str_same(x->client_id, y->client_id));
		CHECK(x->keepalive_s == y->keepalive_s);
		CHECK(x->clean_session == y->clean_session);
		CHECK(x->will == y->will && x->will_qos == y->will_qos &&
		      x->will_retain == y->will_retain);
		CHECK(str_same(x->will_topic, y->will_topic));
		CHECK(str_same(x->will_payload, y->will_payload));
		CHECK(x->has_username == y->has_username &&
		      x->has_password == y->has_password);
		CHECK(str_same(x->username, y->username));
		CHECK(str_same(x->password, y->password));
		break;
	}
	case MQTT_CONNACK:
		CHECK(a->u.connack.session_present ==
		      b->u.connack.session_present);
		CHECK(a->u.connack.return_code == b->u.connack.return_code);
		break;
	case MQTT_PUBLISH: {
		const struct mqtt_publish *x = &a->u.publish,
					  *y = &b->u.publish;

		CHECK(str_same(x->topic, y->topic));
		CHECK(x->qos == y->qos && x->retain == y->retain &&
		      x->dup == y->dup && x->packet_id == y->packet_id);
		CHECK(x->payload_len == y->payload_len);
		CHECK(x->payload_len == 0 ||
		      memcmp(x->payload, y->payload, x->payload_len) == 0);
		break;
	}
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		CHECK(a->u.subscribe.packet_id == b->u.subscribe.packet_id);
		CHECK(a->u.subscribe.count == b->u.subscribe.count);
		CHECK(topics_same(&a->u.subscribe, &b->u.subscribe,
				  a->type == MQTT_SUBSCRIBE));
		break;
	case MQTT_SUBACK:
		CHECK(a->u.suback.packet_id == b->u.suback.packet_id);
		CHECK(a->u.suback.count == b->u.suback.count);
		CHECK(memcmp(a->u.suback.codes, b->u.suback.codes,
			     a->u.suback.count) == 0);
		break;
	default:
		break;
	}
}

/* Re-encode a decoded packet and compare the values of a second decode. */
static void round_trip(const struct mqtt_packet *pkt, size_t orig_len)
{
	static struct mqtt_sub_topic topics[MAX_TOPICS];
	struct mqtt_packet copy = *pkt, again;
	struct mqtt_topic_iter it;
	struct mqtt_sub_topic extra;
	uint8_t *buf;
	size_t need = 0, len = 0;
	uint16_t i;
	int rc;

	if (pkt->type == MQTT_SUBSCRIBE || pkt->type == MQTT_UNSUBSCRIBE) {
		if (pkt->u.subscribe.count > MAX_TOPICS) {
			return;
		}
		mqtt_topic_iter_init(&it, &pkt->u.subscribe,
				     pkt->type == MQTT_SUBSCRIBE);
		for (i = 0; i < pkt->u.subscribe.count; i++) {
			CHECK(mqtt_topic_iter_next(&it, &topics[i]) == 1);
		}
		CHECK(mqtt_topic_iter_next(&it, &extra) == 0);
		copy.u.subscribe.topics = topics;
	}
	rc = mqtt_encode(&copy, NULL, 0, &need);
	CHECK(rc == -ENOBUFS);
	/* never longer than the input (shorter for non-minimal lengths) */
	CHECK(need <= orig_len);
	buf = malloc(need);
	CHECK(buf != NULL);
	rc = mqtt_encode(&copy, buf, need, &len);
	CHECK(rc == 0 && len == need);
	CHECK(mqtt_decode(buf, len, &again) == 0);
	check_same(pkt, &again);
	free(buf);
}

static int null_send(void *ud, const uint8_t *buf, size_t len)
{
	(void)ud;
	(void)buf;
	(void)len;
	return 0;
}

/* Topic rules hold for whatever decoded. */
static void topic_checks(const struct mqtt_packet *pkt)
{
	static const char *const filters[] = {"#", "+", "+/+", "a/#",
					      "farnode/v1/+/+/desired"};
	const struct mqtt_publish *p = &pkt->u.publish;
	size_t i;

	if (pkt->type != MQTT_PUBLISH) {
		return;
	}
	CHECK(mqtt_topic_name_valid(p->topic.s, p->topic.len));
	CHECK(mqtt_topic_filter_valid(p->topic.s, p->topic.len));
	/* a topic name always matches itself as a filter */
	CHECK(mqtt_topic_match(p->topic.s, p->topic.len, p->topic.s,
			       p->topic.len));
	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		bool m = mqtt_topic_match(filters[i], strlen(filters[i]),
					  p->topic.s, p->topic.len);

		if (i == 0 && p->topic.s[0] != '$') {
			CHECK(m);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mqtt_session_config cfg = {
	    .keepalive_s = 5, .inflight_max = 4, .max_packet_size = 4096};
	struct mqtt_session *s;
	struct mqtt_connect c;
	struct mqtt_publish pub = {.topic = {"a/b", 3},
				   .payload = (const uint8_t *)"event",
				   .payload_len = 5,
				   .qos = 1};
	size_t off = 0;
	uint64_t now = 0;

	s = mqtt_session_new(&cfg, null_send, NULL);
	CHECK(s != NULL);
	memset(&c, 0, sizeof(c));
	c.client_id = (struct mqtt_str){"fuzz", 4};
	CHECK(mqtt_session_connect(s, &c, now) == 0);

	while (off < size) {
		struct mqtt_packet pkt, spkt;
		size_t plen = 0, small = 0;
		int rc = mqtt_frame(data + off, size - off, 0, &plen);

		if (rc < 0) {
			CHECK(rc == -EAGAIN || rc == -EBADMSG ||
			      rc == -EMSGSIZE);
			break;
		}
		CHECK(plen >= 2 && plen <= size - off);
		/* a smaller maximum agrees, or refuses from the header */
		if (plen <= 64) {
			CHECK(mqtt_frame(data + off, size - off, 64, &small) ==
			      0);
			CHECK(small == plen);
		} else {
			CHECK(mqtt_frame(data + off, size - off, 64, &small) ==
			      -EMSGSIZE);
		}
		rc = mqtt_decode(data + off, plen, &pkt);
		if (rc == 0) {
			round_trip(&pkt, plen);
			topic_checks(&pkt);
		} else {
			CHECK(rc == -EBADMSG || rc == -EPROTO ||
			      rc == -EMSGSIZE);
		}
		now += 700;
		rc = mqtt_session_input(s, data + off, plen, now, &spkt);
		if (rc == -ECONNREFUSED || rc == -EPROTO) {
			mqtt_session_lost(s);
			CHECK(mqtt_session_connect(s, &c, now) == 0);
		} else if (rc == 0 && spkt.type == MQTT_PUBLISH &&
			   spkt.u.publish.qos == 1) {
			CHECK(mqtt_session_puback(s, spkt.u.publish.packet_id,
						  now) == 0);
		}
		if (mqtt_session_state(s) == MQTT_SESSION_CONNECTED) {
			rc = mqtt_session_publish(s, &pub, now, NULL);
			CHECK(rc == 0 || rc == -EAGAIN);
		}
		if (mqtt_session_tick(s, now) == -ETIMEDOUT) {
			mqtt_session_lost(s);
			CHECK(mqtt_session_connect(s, &c, now) == 0);
		}
		off += plen;
	}
	mqtt_session_free(s);
	return 0;
}
