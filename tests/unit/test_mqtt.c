// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the MQTT 3.1.1 codec, topic rules and session logic:
 * remaining-length examples from the spec, round trips of every packet type,
 * every malformed case the decoder guards, byte-by-byte stream splitting,
 * the QoS 1 window with DUP retransmission, keepalive timing, wildcards.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mqtt.h"
#include "mqtt_session.h"

#define S(lit) ((struct mqtt_str){(lit), (uint16_t)(sizeof(lit) - 1)})

static uint8_t enc_buf[4096];

/* Encode pkt into enc_buf; fails the test on error. */
static size_t enc(const struct mqtt_packet *pkt)
{
	size_t len = 0;

	assert_int_equal(mqtt_encode(pkt, enc_buf, sizeof(enc_buf), &len), 0);
	return len;
}

static bool str_eq(struct mqtt_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.s, lit, s.len) == 0;
}

/* Parse "30 02 ab" style hex into out; returns the byte count. */
static size_t hex(const char *h, uint8_t *out)
{
	size_t n = 0;
	unsigned v;
	int used;

	while (sscanf(h, " %2x%n", &v, &used) == 1) {
		out[n++] = (uint8_t)v;
		h += used;
	}
	return n;
}

/* ---- remaining length ------------------------------------------------ */

static void test_varint_spec_examples(void **state)
{
	static const struct {
		uint32_t value;
		const char *bytes;
	} cases[] = {
	    {0, "00"},
	    {127, "7f"},
	    {128, "80 01"},
	    {16383, "ff 7f"},
	    {16384, "80 80 01"},
	    {2097151, "ff ff 7f"},
	    {2097152, "80 80 80 01"},
	    {268435455, "ff ff ff 7f"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t want[8], got[4], hdr[8];
		size_t n = hex(cases[i].bytes, want);
		size_t plen = 0;

		assert_int_equal(mqtt_varint_encode(cases[i].value, got),
				 (int)n);
		assert_memory_equal(got, want, n);
		/* the splitter reads the same value back (header only) */
		hdr[0] = 0x30;
		memcpy(hdr + 1, want, n);
		if (cases[i].value > 0) {
			assert_int_equal(mqtt_frame(hdr, 1 + n, 0, &plen),
					 -EAGAIN);
		}
		/* the splitter never reads past the header: claim the body */
		assert_int_equal(
		    mqtt_frame(hdr, 1 + n + cases[i].value, 0, &plen), 0);
		assert_int_equal(plen, 1 + n + cases[i].value);
		/* one body byte short is still "need more" */
		if (cases[i].value > 0) {
			assert_int_equal(
			    mqtt_frame(hdr, n + cases[i].value, 0, &plen),
			    -EAGAIN);
		}
	}
	assert_int_equal(mqtt_varint_encode(268435456u, enc_buf), -EMSGSIZE);
}

static void test_varint_overflow_and_limits(void **state)
{
	uint8_t b[16];
	size_t n, plen = 0;

	(void)state;
	/* fifth length byte: malformed as soon as the 4th shows it */
	n = hex("30 ff ff ff ff 7f", b);
	assert_int_equal(mqtt_frame(b, n, 0, &plen), -EBADMSG);
	assert_int_equal(mqtt_frame(b, 5, 0, &plen), -EBADMSG);
	assert_int_equal(mqtt_frame(b, 4, 0, &plen), -EAGAIN);
	n = hex("30 80 80 80 80 00", b);
	assert_int_equal(mqtt_frame(b, n, 0, &plen), -EBADMSG);
	/* nothing or only the type byte: need more */
	assert_int_equal(mqtt_frame(b, 0, 0, &plen), -EAGAIN);
	assert_int_equal(mqtt_frame(b, 1, 0, &plen), -EAGAIN);
	/* over the configured maximum, known from the header alone */
	n = hex("30 c8 01", b); /* 200 */
	assert_int_equal(mqtt_frame(b, n, 100, &plen), -EMSGSIZE);
	assert_int_equal(mqtt_frame(b, n, 203, &plen), -EAGAIN);
	assert_int_equal(mqtt_frame(b, n, 202, &plen), -EMSGSIZE);
	/* even before the last length byte arrives */
	n = hex("30 ff ff", b);
	assert_int_equal(mqtt_frame(b, n, 1000, &plen), -EMSGSIZE);
	/* exactly at the maximum is fine */
	n = hex("c0 00", b);
	assert_int_equal(mqtt_frame(b, n, 2, &plen), 0);
	assert_int_equal(plen, 2);
	/* non-minimal length encodings are legal in 3.1.1 */
	n = hex("d0 80 00", b);
	assert_int_equal(mqtt_frame(b, n, 0, &plen), 0);
	assert_int_equal(plen, 3);
	struct mqtt_packet pkt;
	assert_int_equal(mqtt_decode(b, n, &pkt), 0);
	assert_int_equal(pkt.type, MQTT_PINGRESP);
}

/* ---- round trips ----------------------------------------------------- */

static void test_connect_round_trip(void **state)
{
	struct mqtt_packet in, out;
	size_t len;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.type = MQTT_CONNECT;
	in.u.connect.client_id = S("node-1");
	in.u.connect.keepalive_s = 60;
	in.u.connect.clean_session = false;
	in.u.connect.will = true;
	in.u.connect.will_topic = S("farnode/v1/p/node-1/state");
	in.u.connect.will_payload = (struct mqtt_str){"\0off", 4};
	in.u.connect.will_qos = 1;
	in.u.connect.will_retain = true;
	in.u.connect.has_username = true;
	in.u.connect.username = S("user");
	in.u.connect.has_password = true;
	in.u.connect.password = (struct mqtt_str){"p\0w", 3};
	len = enc(&in);
	/* fixed header, protocol name, level 4, flags 1110 1100 */
	assert_int_equal(enc_buf[0], 0x10);
	assert_memory_equal(enc_buf + 2, "\x00\x04MQTT\x04\xec\x00\x3c", 10);
	assert_int_equal(mqtt_decode(enc_buf, len, &out), 0);
	assert_int_equal(out.type, MQTT_CONNECT);
	assert_true(str_eq(out.u.connect.client_id, "node-1"));
	assert_int_equal(out.u.connect.keepalive_s, 60);
	assert_false(out.u.connect.clean_session);
	assert_true(out.u.connect.will);
	assert_true(
	    str_eq(out.u.connect.will_topic, "farnode/v1/p/node-1/state"));
	assert_int_equal(out.u.connect.will_payload.len, 4);
	assert_memory_equal(out.u.connect.will_payload.s, "\0off", 4);
	assert_int_equal(out.u.connect.will_qos, 1);
	assert_true(out.u.connect.will_retain);
	assert_true(out.u.connect.has_username);
	assert_true(str_eq(out.u.connect.username, "user"));
	assert_true(out.u.connect.has_password);
	assert_int_equal(out.u.connect.password.len, 3);
	assert_memory_equal(out.u.connect.password.s, "p\0w", 3);

	/* minimal: clean session, no will, no credentials; exact bytes */
	memset(&in, 0, sizeof(in));
	in.type = MQTT_CONNECT;
	in.u.connect.client_id = S("a");
	in.u.connect.clean_session = true;
	len = enc(&in);
	uint8_t want[32];
	size_t n = hex("10 0d 00 04 4d 51 54 54 04 02 00 00 00 01 61", want);
	assert_int_equal(len, n);
	assert_memory_equal(enc_buf, want, n);
	assert_int_equal(mqtt_decode(enc_buf, len, &out), 0);
	assert_true(out.u.connect.clean_session);
	assert_false(out.u.connect.will);
	assert_false(out.u.connect.has_username);
	assert_false(out.u.connect.has_password);
}

static void test_connack_round_trip(void **state)
{
	struct mqtt_packet in, out;
	size_t len;
	uint8_t code;

	(void)state;
	for (code = 0; code <= 5; code++) {
		memset(&in, 0, sizeof(in));
		in.type = MQTT_CONNACK;
		in.u.connack.return_code = code;
		in.u.connack.session_present = code == 0;
		len = enc(&in);
		assert_int_equal(len, 4);
		assert_int_equal(enc_buf[0], 0x20);
		assert_int_equal(enc_buf[1], 2);
		assert_int_equal(mqtt_decode(enc_buf, len, &out), 0);
		assert_int_equal(out.type, MQTT_CONNACK);
		assert_int_equal(out.u.connack.return_code, code);
		assert_int_equal(out.u.connack.session_present, code == 0);
	}
	assert_string_equal(mqtt_connack_reason(5), "not authorized");
}

static void test_publish_round_trip(void **state)
{
	static const uint8_t payload[] = {0, 1, 2, 0xff, 'x'};
	struct mqtt_packet in, out;
	size_t len;
	int qos, flags;

	(void)state;
	for (qos = 0; qos <= 2; qos++) {
		for (flags = 0; flags < 4; flags++) {
			bool retain = flags & 1, dup = (flags & 2) && qos > 0;

			memset(&in, 0, sizeof(in));
			in.type = MQTT_PUBLISH;
			in.u.publish.topic = S("a/b/ü");
			in.u.publish.payload = payload;
			in.u.publish.payload_len = sizeof(payload);
			in.u.publish.qos = (uint8_t)qos;
			in.u.publish.retain = retain;
			in.u.publish.dup = dup;
			in.u.publish.packet_id = qos ? 0x1234 : 0;
			len = enc(&in);
			assert_int_equal(enc_buf[0] >> 4, MQTT_PUBLISH);
			assert_int_equal((enc_buf[0] >> 1) & 3, qos);
			assert_int_equal(enc_buf[0] & 1, retain);
			assert_int_equal((enc_buf[0] >> 3) & 1, dup);
			assert_int_equal(mqtt_decode(enc_buf, len, &out), 0);
			assert_int_equal(out.type, MQTT_PUBLISH);
			assert_true(str_eq(out.u.publish.topic, "a/b/ü"));
			assert_int_equal(out.u.publish.qos, qos);
			assert_int_equal(out.u.publish.retain, retain);
			assert_int_equal(out.u.publish.dup, dup);
			assert_int_equal(out.u.publish.packet_id,
					 qos ? 0x1234 : 0);
			assert_int_equal(out.u.publish.payload_len,
					 sizeof(payload));
			assert_memory_equal(out.u.publish.payload, payload,
					    sizeof(payload));
			/* decoded payload points into the input buffer */
			assert_ptr_equal(out.u.publish.payload,
					 enc_buf + len - sizeof(payload));
		}
	}
	/* empty payload, exact bytes */
	memset(&in, 0, sizeof(in));
	in.type = MQTT_PUBLISH;
	in.u.publish.topic = S("t");
	in.u.publish.qos = 1;
	in.u.publish.packet_id = 10;
	len = enc(&in);
	uint8_t want[16];
	size_t n = hex("32 05 00 01 74 00 0a", want);
	assert_int_equal(len, n);
	assert_memory_equal(enc_buf, want, n);
	assert_int_equal(mqtt_decode(enc_buf, len, &out), 0);
	assert_int_equal(out.u.publish.payload_len, 0);

	/* a large payload takes a 3-byte remaining length */
	static uint8_t big[20000];
	static uint8_t bigbuf[20100];
	memset(big, 0x5a, sizeof(big));
	in.u.publish.payload = big;
	in.u.publish.payload_len = sizeof(big);
	assert_int_equal(mqtt_encode(&in, bigbuf, sizeof(bigbuf), &len), 0);
	assert_int_equal(len, 1 + 3 + 3 + 2 + sizeof(big));
	assert_int_equal(mqtt_decode(bigbuf, len, &out), 0);
	assert_int_equal(out.u.publish.payload_len, sizeof(big));
}

static void test_acks_and_pings_round_trip(void **state)
{
	static const struct {
		enum mqtt_type type;
		uint16_t id;
		const char *bytes;
	} cases[] = {
	    {MQTT_PUBACK, 7, "40 02 00 07"},
	    {MQTT_PUBREC, 0x102, "50 02 01 02"},
	    {MQTT_PUBREL, 65535, "62 02 ff ff"},
	    {MQTT_PUBCOMP, 1, "70 02 00 01"},
	    {MQTT_UNSUBACK, 300, "b0 02 01 2c"},
	    {MQTT_PINGREQ, 0, "c0 00"},
	    {MQTT_PINGRESP, 0, "d0 00"},
	    {MQTT_DISCONNECT, 0, "e0 00"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t want[8];
		size_t n = hex(cases[i].bytes, want), len = 0;
		struct mqtt_packet out;

		assert_int_equal(mqtt_encode_simple(cases[i].type, cases[i].id,
						    enc_buf, sizeof(enc_buf),
						    &len),
				 0);
		assert_int_equal(len, n);
		assert_memory_equal(enc_buf, want, n);
		assert_int_equal(mqtt_decode(enc_buf, len, &out), 0);
		assert_int_equal(out.type, cases[i].type);
		assert_int_equal(out.packet_id, cases[i].id);
	}
	size_t len;
	assert_int_equal(
	    mqtt_encode_simple(MQTT_PUBACK, 0, enc_buf, sizeof(enc_buf), &len),
	    -EINVAL);
	assert_int_equal(
	    mqtt_encode_simple(MQTT_PUBLISH, 1, enc_buf, sizeof(enc_buf), &len),
	    -EINVAL);
}

static void test_subscribe_round_trip(void **state)
{
	const struct mqtt_sub_topic topics[] = {
	    {S("farnode/v1/p/policy"), 1},
	    {S("farnode/v1/p/+/desired"), 0},
	    {S("#"), 2},
	};
	struct mqtt_packet in, out;
	struct mqtt_topic_iter it;
	struct mqtt_sub_topic t;
	size_t len, i;
	int pass;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		bool sub = pass == 0;

		memset(&in, 0, sizeof(in));
		in.type = sub ? MQTT_SUBSCRIBE : MQTT_UNSUBSCRIBE;
		in.u.subscribe.packet_id = 42;
		in.u.subscribe.topics = topics;
		in.u.subscribe.count = 3;
		len = enc(&in);
		assert_int_equal(enc_buf[0], sub ? 0x82 : 0xa2);
		assert_int_equal(mqtt_decode(enc_buf, len, &out), 0);
		assert_int_equal(out.type, in.type);
		assert_int_equal(out.u.subscribe.packet_id, 42);
		assert_int_equal(out.u.subscribe.count, 3);
		assert_null(out.u.subscribe.topics);
		mqtt_topic_iter_init(&it, &out.u.subscribe, sub);
		for (i = 0; i < 3; i++) {
			assert_int_equal(mqtt_topic_iter_next(&it, &t), 1);
			assert_int_equal(t.filter.len, topics[i].filter.len);
			assert_memory_equal(t.filter.s, topics[i].filter.s,
					    t.filter.len);
			assert_int_equal(t.qos, sub ? topics[i].qos : 0);
		}
		assert_int_equal(mqtt_topic_iter_next(&it, &t), 0);
	}
}

static void test_suback_round_trip(void **state)
{
	static const uint8_t codes[] = {0, 1, 2, 0x80};
	struct mqtt_packet in, out;
	size_t len;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.type = MQTT_SUBACK;
	in.u.suback.packet_id = 9;
	in.u.suback.codes = codes;
	in.u.suback.count = sizeof(codes);
	len = enc(&in);
	uint8_t want[16];
	size_t n = hex("90 06 00 09 00 01 02 80", want);
	assert_int_equal(len, n);
	assert_memory_equal(enc_buf, want, n);
	assert_int_equal(mqtt_decode(enc_buf, len, &out), 0);
	assert_int_equal(out.type, MQTT_SUBACK);
	assert_int_equal(out.u.suback.packet_id, 9);
	assert_int_equal(out.u.suback.count, 4);
	assert_memory_equal(out.u.suback.codes, codes, 4);
}

/* ---- malformed input --------------------------------------------------- */

static void test_decode_malformed(void **state)
{
	static const struct {
		const char *bytes;
		int err;
		const char *why;
	} cases[] = {
	    {"00 00", -EPROTO, "type 0"},
	    {"f0 00", -EPROTO, "type 15"},
	    {"c1 00", -EBADMSG, "PINGREQ flags"},
	    {"d0 01 00", -EBADMSG, "PINGRESP with body"},
	    {"e0 01 00", -EBADMSG, "DISCONNECT with body"},
	    {"c0 02 00", -EBADMSG, "length larger than buffer"},
	    {"c0", -EBADMSG, "one byte"},
	    {"c0 ff ff ff ff 7f", -EBADMSG, "5-byte length"},
	    /* CONNACK */
	    {"20 02 00", -EBADMSG, "CONNACK short"},
	    {"20 03 00 00 00", -EBADMSG, "CONNACK long"},
	    {"21 02 00 00", -EBADMSG, "CONNACK flags"},
	    {"20 02 02 00", -EBADMSG, "CONNACK reserved ack bits"},
	    {"20 02 00 06", -EPROTO, "CONNACK code 6"},
	    {"20 02 01 05", -EPROTO, "session present with refusal"},
	    /* PUBLISH */
	    {"36 05 00 01 74 00 01", -EBADMSG, "QoS 3"},
	    {"38 03 00 01 74", -EPROTO, "DUP with QoS 0"},
	    {"32 05 00 01 74 00 00", -EPROTO, "QoS 1 packet id 0"},
	    {"32 04 00 01 74 00", -EBADMSG, "QoS 1 short packet id"},
	    {"30 03 00 05 74", -EBADMSG, "topic length overruns"},
	    {"30 01 00", -EBADMSG, "half a topic length"},
	    {"30 02 00 00", -EPROTO, "empty topic"},
	    {"30 03 00 01 2b", -EPROTO, "'+' in topic"},
	    {"30 05 00 03 61 2f 23", -EPROTO, "'#' in topic"},
	    {"30 03 00 01 00", -EBADMSG, "NUL in topic"},
	    {"30 03 00 01 c0", -EBADMSG, "truncated UTF-8"},
	    {"30 04 00 02 c0 80", -EBADMSG, "overlong NUL"},
	    {"30 05 00 03 ed a0 80", -EBADMSG, "surrogate"},
	    /* acks */
	    {"40 02 00 00", -EPROTO, "PUBACK id 0"},
	    {"40 03 00 01 00", -EBADMSG, "PUBACK long"},
	    {"40 01 00", -EBADMSG, "PUBACK short"},
	    {"42 02 00 01", -EBADMSG, "PUBACK flags"},
	    {"60 02 00 01", -EBADMSG, "PUBREL flags 0"},
	    {"b0 02 00 00", -EPROTO, "UNSUBACK id 0"},
	    /* SUBSCRIBE / SUBACK / UNSUBSCRIBE */
	    {"80 06 00 01 00 01 61 00", -EBADMSG, "SUBSCRIBE flags 0"},
	    {"82 02 00 01", -EBADMSG, "SUBSCRIBE no topics"},
	    {"82 06 00 00 00 01 61 00", -EPROTO, "SUBSCRIBE id 0"},
	    {"82 06 00 01 00 01 61 03", -EBADMSG, "SUBSCRIBE QoS 3"},
	    {"82 06 00 01 00 01 61 04", -EBADMSG, "SUBSCRIBE reserved"},
	    {"82 05 00 01 00 01 61", -EBADMSG, "SUBSCRIBE no QoS"},
	    {"82 07 00 01 00 02 61 23 00", -EPROTO, "filter a#"},
	    {"82 08 00 01 00 03 23 2f 61 00", -EPROTO, "filter #/a"},
	    {"82 07 00 01 00 02 2b 2b 00", -EPROTO, "filter ++"},
	    {"82 05 00 01 00 00 00", -EPROTO, "empty filter"},
	    {"90 02 00 01", -EBADMSG, "SUBACK no codes"},
	    {"90 03 00 01 03", -EPROTO, "SUBACK code 3"},
	    {"90 03 00 00 00", -EPROTO, "SUBACK id 0"},
	    {"a2 02 00 01", -EBADMSG, "UNSUBSCRIBE no topics"},
	    {"a2 06 00 01 00 01 61 00", -EBADMSG, "UNSUBSCRIBE trailing"},
	    /* CONNECT */
	    {"10 0d 00 04 4d 51 54 54 03 02 00 00 00 01 61", -EPROTO,
	     "level 3"},
	    {"10 0d 00 04 4d 51 49 54 04 02 00 00 00 01 61", -EPROTO,
	     "protocol name"},
	    {"10 0d 00 04 4d 51 54 54 04 03 00 00 00 01 61", -EBADMSG,
	     "reserved connect flag"},
	    {"10 0d 00 04 4d 51 54 54 04 08 00 00 00 01 61", -EPROTO,
	     "will QoS without will"},
	    {"10 0d 00 04 4d 51 54 54 04 20 00 00 00 01 61", -EPROTO,
	     "will retain without will"},
	    {"10 0d 00 04 4d 51 54 54 04 1c 00 00 00 01 61", -EBADMSG,
	     "will QoS 3"},
	    {"10 10 00 04 4d 51 54 54 04 40 00 00 00 01 61 00 01 70", -EPROTO,
	     "password without user name"},
	    {"10 0d 00 04 4d 51 54 54 04 80 00 00 00 01 61", -EBADMSG,
	     "user name flag, no user name"},
	    {"10 0e 00 04 4d 51 54 54 04 02 00 00 00 01 61 00", -EBADMSG,
	     "CONNECT trailing byte"},
	    {"10 12 00 04 4d 51 54 54 04 06 00 00 00 01 61 00 01 2b 00 "
	     "00",
	     -EPROTO, "wildcard will topic"},
	    {"11 0d 00 04 4d 51 54 54 04 02 00 00 00 01 61", -EBADMSG,
	     "CONNECT flags"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[64];
		size_t n = hex(cases[i].bytes, b);
		struct mqtt_packet pkt;
		int rc = mqtt_decode(b, n, &pkt);

		if (rc != cases[i].err) {
			fail_msg("%s: got %d want %d", cases[i].why, rc,
				 cases[i].err);
		}
	}
}

static void test_encode_rejects(void **state)
{
	struct mqtt_packet p;
	struct mqtt_sub_topic bad = {S("a/#/b"), 0};
	size_t len = 0;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.u.publish.topic = S("a/+");
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len),
			 -EINVAL);
	p.u.publish.topic = S("a");
	p.u.publish.qos = 1; /* id 0 */
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len),
			 -EINVAL);
	p.u.publish.qos = 3;
	p.u.publish.packet_id = 1;
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len),
			 -EINVAL);
	p.u.publish.qos = 0;
	p.u.publish.packet_id = 0;
	p.u.publish.dup = true;
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len),
			 -EINVAL);
	/* too small: -ENOBUFS says how much */
	p.u.publish.dup = false;
	assert_int_equal(mqtt_encode(&p, enc_buf, 4, &len), -ENOBUFS);
	assert_int_equal(len, 5);
	assert_int_equal(mqtt_encode(&p, NULL, 0, &len), -ENOBUFS);
	assert_int_equal(len, 5);
	assert_int_equal(mqtt_encode(&p, enc_buf, 5, &len), 0);
	/* over the protocol maximum (payload pointer is never read) */
	p.u.publish.payload = enc_buf;
	p.u.publish.payload_len = MQTT_MAX_REMAINING_LENGTH - 2;
	assert_int_equal(mqtt_encode(&p, NULL, 0, &len), -EMSGSIZE);
	/* SUBSCRIBE with a bad filter, no topics, id 0 */
	memset(&p, 0, sizeof(p));
	p.type = MQTT_SUBSCRIBE;
	p.u.subscribe.packet_id = 1;
	p.u.subscribe.topics = &bad;
	p.u.subscribe.count = 1;
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len),
			 -EINVAL);
	p.u.subscribe.count = 0;
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len),
			 -EINVAL);
	/* CONNECT: password without user name, bad will */
	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNECT;
	p.u.connect.client_id = S("x");
	p.u.connect.has_password = true;
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len),
			 -EINVAL);
	p.u.connect.has_password = false;
	p.u.connect.will = true;
	p.u.connect.will_topic = S("#");
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len),
			 -EINVAL);
	p.u.connect.client_id = (struct mqtt_str){"\xff", 1};
	p.u.connect.will = false;
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len),
			 -EINVAL);
	p.type = (enum mqtt_type)15;
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len),
			 -EINVAL);
}

/* ---- stream splitting -------------------------------------------------- */

static void test_splitter_byte_by_byte(void **state)
{
	static uint8_t stream[40000];
	static uint8_t rx[40000];
	static uint8_t payload[17000];
	const enum mqtt_type want[] = {MQTT_CONNACK,  MQTT_PUBLISH,
				       MQTT_SUBACK,   MQTT_PUBLISH,
				       MQTT_PINGRESP, MQTT_PUBACK};
	struct mqtt_packet p;
	size_t slen = 0, rlen = 0, len, i, got = 0;
	uint8_t codes[] = {1};

	(void)state;
	memset(payload, 'q', sizeof(payload));
#define APPEND(pkt_)                                                           \
	do {                                                                   \
		assert_int_equal(mqtt_encode(&(pkt_), stream + slen,           \
					     sizeof(stream) - slen, &len),     \
				 0);                                           \
		slen += len;                                                   \
	} while (0)
	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNACK;
	APPEND(p);
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.u.publish.topic = S("x/y");
	p.u.publish.payload = payload;
	p.u.publish.payload_len = 100;
	APPEND(p);
	memset(&p, 0, sizeof(p));
	p.type = MQTT_SUBACK;
	p.u.suback.packet_id = 3;
	p.u.suback.codes = codes;
	p.u.suback.count = 1;
	APPEND(p);
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.u.publish.topic = S("big");
	p.u.publish.qos = 1;
	p.u.publish.packet_id = 5;
	p.u.publish.payload = payload;
	p.u.publish.payload_len = sizeof(payload); /* 3-byte length */
	APPEND(p);
	assert_int_equal(
	    mqtt_encode_simple(MQTT_PINGRESP, 0, stream + slen, 2, &len), 0);
	slen += len;
	assert_int_equal(
	    mqtt_encode_simple(MQTT_PUBACK, 5, stream + slen, 4, &len), 0);
	slen += len;
#undef APPEND

	for (i = 0; i < slen; i++) {
		size_t plen = 0;
		int rc;

		rx[rlen++] = stream[i];
		rc = mqtt_frame(rx, rlen, 20000, &plen);
		if (rc == -EAGAIN) {
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(plen, rlen); /* complete exactly now */
		assert_true(got < sizeof(want) / sizeof(want[0]));
		assert_int_equal(mqtt_decode(rx, plen, &p), 0);
		assert_int_equal(p.type, want[got]);
		if (got == 3) {
			assert_int_equal(p.u.publish.payload_len,
					 sizeof(payload));
			assert_int_equal(p.u.publish.packet_id, 5);
		}
		got++;
		rlen = 0;
	}
	assert_int_equal(got, sizeof(want) / sizeof(want[0]));
	assert_int_equal(rlen, 0);

	/* whole stream at once: packets come out back to back */
	size_t off = 0;
	got = 0;
	while (off < slen) {
		size_t plen = 0;

		assert_int_equal(mqtt_frame(stream + off, slen - off, 0, &plen),
				 0);
		assert_int_equal(mqtt_decode(stream + off, plen, &p), 0);
		assert_int_equal(p.type, want[got++]);
		off += plen;
	}
	assert_int_equal(off, slen);
	/* with a smaller maximum the big PUBLISH is refused from its header */
	size_t first3 = 4 + (1 + 1 + 2 + 3 + 100) + 5;
	size_t plen = 0;
	assert_int_equal(mqtt_frame(stream + first3, 4, 10000, &plen),
			 -EMSGSIZE);
}

/* ---- topics ------------------------------------------------------------ */

static void test_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
	} cases[] = {
	    {"abc", 3, true},
	    {"\xc3\xbc", 2, true},	   /* ü */
	    {"\xe2\x82\xac", 3, true},	   /* € */
	    {"\xf0\x9f\x98\x80", 4, true}, /* U+1F600 */
	    {"\xef\xbf\xbf", 3, true},	   /* U+FFFF is allowed */
	    {"a\0b", 3, false},
	    {"\xc0\x80", 2, false},	    /* overlong NUL */
	    {"\xc1\xbf", 2, false},	    /* overlong */
	    {"\xe0\x80\xaf", 3, false},	    /* overlong '/' */
	    {"\xf0\x80\x80\xaf", 4, false}, /* overlong */
	    {"\xed\xa0\x80", 3, false},	    /* U+D800 */
	    {"\xed\xbf\xbf", 3, false},	    /* U+DFFF */
	    {"\xf4\x90\x80\x80", 4, false}, /* > U+10FFFF */
	    {"\xf5\x80\x80\x80", 4, false},
	    {"\x80", 1, false},
	    {"\xe2\x82", 2, false},
	    {"\xe2\x28\xa1", 3, false},
	    {"\xff", 1, false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (mqtt_utf8_valid(cases[i].s, cases[i].len) != cases[i].ok) {
			fail_msg("utf8 case %zu", i);
		}
	}
}

static void test_topic_validity(void **state)
{
	static const struct {
		const char *s;
		bool name, filter;
	} cases[] = {
	    {"a", true, true},	    {"a/b/c", true, true},
	    {"/", true, true},	    {"a//b", true, true},
	    {"$SYS/x", true, true}, {"+", false, true},
	    {"#", false, true},	    {"+/+", false, true},
	    {"a/+/b", false, true}, {"a/#", false, true},
	    {"+/#", false, true},   {"/#", false, true},
	    {"a+", false, false},   {"a/b+/c", false, false},
	    {"a#", false, false},   {"a/#/b", false, false},
	    {"#/", false, false},   {"##", false, false},
	    {"", false, false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].s);

		if (mqtt_topic_name_valid(cases[i].s, n) != cases[i].name ||
		    mqtt_topic_filter_valid(cases[i].s, n) != cases[i].filter) {
			fail_msg("topic validity: '%s'", cases[i].s);
		}
	}
}

static void test_topic_match(void **state)
{
	static const struct {
		const char *filter, *topic;
		bool match;
	} cases[] = {
	    {"a/b", "a/b", true},
	    {"a/b", "a/c", false},
	    {"a/b", "a/b/c", false},
	    {"a/b/c", "a/b", false},
	    {"a/b", "a/bb", false},
	    {"#", "a", true},
	    {"#", "a/b/c", true},
	    {"#", "/", true},
	    {"sport/tennis/player1/#", "sport/tennis/player1", true},
	    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon",
	     true},
	    {"sport/tennis/player1/#", "sport/tennis/player2", false},
	    {"sport/#", "sport", true},
	    {"sport/tennis/+", "sport/tennis/player1", true},
	    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
	    {"sport/+", "sport", false},
	    {"sport/+", "sport/", true},
	    {"+", "sport", true},
	    {"+", "/finance", false},
	    {"+/+", "/finance", true},
	    {"/+", "/finance", true},
	    {"+/tennis/#", "sport/tennis/x", true},
	    {"+/tennis/#", "sport/golf/x", false},
	    {"+/+/+", "a/b", false},
	    {"a/+/c", "a//c", true},
	    {"farnode/v1/+/+/desired", "farnode/v1/p1/n1/desired", true},
	    {"farnode/v1/+/+/desired", "farnode/v1/p1/n1/state", false},
	    {"#", "$SYS/broker", false},
	    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
	    {"$SYS/#", "$SYS/monitor/Clients", true},
	    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool m =
		    mqtt_topic_match(cases[i].filter, strlen(cases[i].filter),
				     cases[i].topic, strlen(cases[i].topic));

		if (m != cases[i].match) {
			fail_msg("match '%s' '%s': got %d", cases[i].filter,
				 cases[i].topic, m);
		}
	}
}

/* ---- session ----------------------------------------------------------- */

#define MAX_SENT 64

struct sent_log {
	uint8_t pkt[MAX_SENT][512];
	size_t len[MAX_SENT];
	size_t n;
	int fail_with;
};

static int log_send(void *ud, const uint8_t *buf, size_t len)
{
	struct sent_log *l = ud;

	if (l->fail_with) {
		return l->fail_with;
	}
	assert_true(l->n < MAX_SENT);
	assert_true(len <= sizeof(l->pkt[0]));
	memcpy(l->pkt[l->n], buf, len);
	l->len[l->n] = len;
	l->n++;
	return 0;
}

/* Decode the i-th sent packet. */
static struct mqtt_packet sent_pkt(struct sent_log *l, size_t i)
{
	struct mqtt_packet p;

	assert_true(i < l->n);
	assert_int_equal(mqtt_decode(l->pkt[i], l->len[i], &p), 0);
	return p;
}

/* Feed a server packet to the session. */
static int feed(struct mqtt_session *s, const struct mqtt_packet *in,
		uint64_t now_ms)
{
	static uint8_t buf[1024];
	struct mqtt_packet out;
	size_t len;

	assert_int_equal(mqtt_encode(in, buf, sizeof(buf), &len), 0);
	return mqtt_session_input(s, buf, len, now_ms, &out);
}

static int feed_connack(struct mqtt_session *s, uint8_t code, uint64_t now)
{
	struct mqtt_packet p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNACK;
	p.u.connack.return_code = code;
	return feed(s, &p, now);
}

static int feed_ack(struct mqtt_session *s, enum mqtt_type t, uint16_t id,
		    uint64_t now)
{
	struct mqtt_packet p;

	memset(&p, 0, sizeof(p));
	p.type = t;
	p.packet_id = id;
	return feed(s, &p, now);
}

static struct mqtt_session *connected(struct sent_log *l,
				      const struct mqtt_session_config *cfg)
{
	struct mqtt_connect c;
	struct mqtt_session *s = mqtt_session_new(cfg, log_send, l);

	assert_non_null(s);
	memset(&c, 0, sizeof(c));
	c.client_id = S("node-1");
	assert_int_equal(mqtt_session_connect(s, &c, 0), 0);
	assert_int_equal(mqtt_session_state(s), MQTT_SESSION_CONNECTING);
	assert_int_equal(feed_connack(s, 0, 0), 0);
	assert_int_equal(mqtt_session_state(s), MQTT_SESSION_CONNECTED);
	return s;
}

static int pub1(struct mqtt_session *s, const char *payload, uint64_t now,
		uint16_t *id)
{
	struct mqtt_publish p;

	memset(&p, 0, sizeof(p));
	p.topic = S("farnode/v1/p/n/events");
	p.payload = (const uint8_t *)payload;
	p.payload_len = strlen(payload);
	p.qos = 1;
	return mqtt_session_publish(s, &p, now, id);
}

static void test_session_window_and_dup(void **state)
{
	static struct sent_log l;
	struct mqtt_session_config cfg = {.keepalive_s = 30, .inflight_max = 3};
	struct mqtt_session *s;
	struct mqtt_connect c;
	struct mqtt_packet p;
	uint16_t ids[5];
	size_t i;

	(void)state;
	memset(&l, 0, sizeof(l));
	s = connected(&l, &cfg);
	p = sent_pkt(&l, 0);
	assert_int_equal(p.type, MQTT_CONNECT);
	assert_int_equal(p.u.connect.keepalive_s, 30);
	l.n = 0;

	assert_int_equal(pub1(s, "e1", 1, &ids[0]), 0);
	assert_int_equal(pub1(s, "e2", 1, &ids[1]), 0);
	assert_int_equal(pub1(s, "e3", 1, &ids[2]), 0);
	assert_int_equal(pub1(s, "e4", 1, &ids[3]), -EAGAIN); /* full */
	assert_int_equal(mqtt_session_inflight(s), 3);
	assert_int_equal(l.n, 3);
	for (i = 0; i < 3; i++) {
		p = sent_pkt(&l, i);
		assert_int_equal(p.type, MQTT_PUBLISH);
		assert_int_equal(p.u.publish.packet_id, ids[i]);
		assert_false(p.u.publish.dup);
		assert_int_equal(p.u.publish.qos, 1);
		assert_true(ids[i] != 0);
	}
	assert_true(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);

	/* PUBACK for the middle one frees a slot */
	assert_int_equal(feed_ack(s, MQTT_PUBACK, ids[1], 2), 0);
	assert_int_equal(mqtt_session_inflight(s), 2);
	assert_false(mqtt_session_is_inflight(s, ids[1]));
	/* a PUBACK nobody waits for is counted, not fatal */
	assert_int_equal(feed_ack(s, MQTT_PUBACK, 999, 2), 0);
	assert_int_equal(mqtt_session_stats(s)->unknown_acks, 1);

	/* connection lost; e4 queued while offline */
	mqtt_session_lost(s);
	assert_int_equal(mqtt_session_state(s), MQTT_SESSION_DISCONNECTED);
	assert_int_equal(pub1(s, "e4", 3, &ids[3]), 0);
	assert_int_equal(mqtt_session_inflight(s), 3);
	assert_int_equal(pub1(s, "e5", 3, &ids[4]), -EAGAIN);
	l.n = 0;

	/* reconnect: after CONNACK e1 and e3 go out as DUP, e4 fresh */
	memset(&c, 0, sizeof(c));
	c.client_id = S("node-1");
	assert_int_equal(mqtt_session_connect(s, &c, 10), 0);
	assert_int_equal(l.n, 1); /* only CONNECT before CONNACK */
	assert_int_equal(feed_connack(s, 0, 11), 0);
	assert_int_equal(l.n, 4);
	const uint16_t want_ids[] = {ids[0], ids[2], ids[3]};
	const char *want_payload[] = {"e1", "e3", "e4"};
	const bool want_dup[] = {true, true, false};
	for (i = 0; i < 3; i++) {
		p = sent_pkt(&l, 1 + i);
		assert_int_equal(p.type, MQTT_PUBLISH);
		assert_int_equal(p.u.publish.packet_id, want_ids[i]);
		assert_int_equal(p.u.publish.dup, want_dup[i]);
		assert_int_equal(p.u.publish.payload_len, 2);
		assert_memory_equal(p.u.publish.payload, want_payload[i], 2);
	}
	assert_int_equal(mqtt_session_stats(s)->retransmits, 2);
	for (i = 0; i < 3; i++) {
		assert_int_equal(feed_ack(s, MQTT_PUBACK, want_ids[i], 12), 0);
	}
	assert_int_equal(mqtt_session_inflight(s), 0);
	mqtt_session_free(s);
}

static void test_session_packet_ids(void **state)
{
	static struct sent_log l;
	struct mqtt_session_config cfg = {.inflight_max = 1};
	struct mqtt_sub_topic t = {S("a/#"), 1};
	struct mqtt_session *s;
	uint16_t held, id = 0;
	uint32_t i;

	(void)state;
	memset(&l, 0, sizeof(l));
	s = connected(&l, &cfg);
	assert_int_equal(pub1(s, "x", 0, &held), 0);
	assert_int_equal(held, 1);
	/* cycle through the whole id space; 'held' stays in flight */
	for (i = 0; i < 65534; i++) {
		l.n = 0;
		assert_int_equal(mqtt_session_subscribe(s, &t, 1, 0, &id), 0);
		assert_true(id != 0 && id != held);
		assert_int_equal(id, i + 2);
		assert_int_equal(feed_ack(s, MQTT_UNSUBACK, id, 0), 0);
	}
	/* wrapped: 0 and the held id are skipped */
	l.n = 0;
	assert_int_equal(mqtt_session_subscribe(s, &t, 1, 0, &id), 0);
	assert_int_equal(id, 2);
	assert_int_equal(mqtt_session_stats(s)->unknown_acks, 0);
	/* pending SUBSCRIBEs are bounded */
	for (i = 0; i < 15; i++) {
		assert_int_equal(mqtt_session_subscribe(s, &t, 1, 0, &id), 0);
	}
	assert_int_equal(mqtt_session_subscribe(s, &t, 1, 0, &id), -EAGAIN);
	/* lost() releases them; a late SUBACK is an unknown ack */
	mqtt_session_lost(s);
	assert_int_equal(mqtt_session_subscribe(s, &t, 1, 0, &id), -ENOTCONN);
	mqtt_session_free(s);
}

static void test_session_keepalive(void **state)
{
	static struct sent_log l;
	struct mqtt_session_config cfg = {.keepalive_s = 10,
					  .response_timeout_ms = 3000};
	struct mqtt_session *s;
	struct mqtt_publish pub;
	struct mqtt_packet p;

	(void)state;
	memset(&l, 0, sizeof(l));
	s = connected(&l, &cfg); /* CONNECT and CONNACK at t = 0 */
	l.n = 0;
	assert_int_equal(mqtt_session_next_tick_ms(s), 10000);
	assert_int_equal(mqtt_session_tick(s, 9999), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(mqtt_session_tick(s, 10000), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(sent_pkt(&l, 0).type, MQTT_PINGREQ);
	assert_int_equal(mqtt_session_next_tick_ms(s), 13000);
	assert_int_equal(mqtt_session_tick(s, 12999), 0);
	assert_int_equal(l.n, 1); /* no second PINGREQ while one is pending */
	/* PINGRESP in time clears it */
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PINGRESP;
	assert_int_equal(feed(s, &p, 12000), 0);
	/* idle is measured from the older of last send and last receive */
	assert_int_equal(mqtt_session_next_tick_ms(s), 20000);
	memset(&pub, 0, sizeof(pub));
	pub.topic = S("t");
	assert_int_equal(mqtt_session_publish(s, &pub, 15000, NULL), 0);
	assert_int_equal(mqtt_session_next_tick_ms(s), 22000);
	assert_int_equal(mqtt_session_tick(s, 21999), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(mqtt_session_tick(s, 22000), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(sent_pkt(&l, 2).type, MQTT_PINGREQ);
	/* no PINGRESP: dead exactly at the response timeout */
	assert_int_equal(mqtt_session_tick(s, 24999), 0);
	assert_int_equal(mqtt_session_tick(s, 25000), -ETIMEDOUT);
	assert_int_equal(mqtt_session_stats(s)->pings, 2);
	mqtt_session_lost(s);
	assert_int_equal(mqtt_session_next_tick_ms(s), UINT64_MAX);
	assert_int_equal(mqtt_session_tick(s, 99999), 0);

	/* CONNACK never comes */
	struct mqtt_connect c;
	memset(&c, 0, sizeof(c));
	c.client_id = S("n");
	assert_int_equal(mqtt_session_connect(s, &c, 50000), 0);
	assert_int_equal(mqtt_session_connect(s, &c, 50000), -EISCONN);
	assert_int_equal(mqtt_session_next_tick_ms(s), 53000);
	assert_int_equal(mqtt_session_tick(s, 52999), 0);
	assert_int_equal(mqtt_session_tick(s, 53000), -ETIMEDOUT);
	mqtt_session_free(s);

	/* default timeout is half the keepalive; keepalive 0 never pings */
	cfg.keepalive_s = 0;
	cfg.response_timeout_ms = 0;
	memset(&l, 0, sizeof(l));
	s = connected(&l, &cfg);
	assert_int_equal(mqtt_session_next_tick_ms(s), UINT64_MAX);
	assert_int_equal(mqtt_session_tick(s, 1000000), 0);
	assert_int_equal(l.n, 1);
	mqtt_session_free(s);
}

static void test_session_protocol_errors(void **state)
{
	static struct sent_log l;
	struct mqtt_session_config cfg = {.keepalive_s = 10,
					  .max_packet_size = 200};
	struct mqtt_session *s;
	struct mqtt_connect c;
	struct mqtt_packet p, out;
	static uint8_t big[300];
	size_t len;

	(void)state;
	memset(&l, 0, sizeof(l));
	s = mqtt_session_new(&cfg, log_send, &l);
	assert_non_null(s);
	memset(&c, 0, sizeof(c));
	c.client_id = S("n");
	/* nothing accepted before CONNECT */
	assert_int_equal(feed_connack(s, 0, 0), -ENOTCONN);
	assert_int_equal(mqtt_session_connect(s, &c, 0), 0);
	/* first packet must be CONNACK */
	assert_int_equal(feed_ack(s, MQTT_PUBACK, 1, 0), -EPROTO);
	mqtt_session_lost(s);
	assert_int_equal(mqtt_session_connect(s, &c, 0), 0);
	/* refused */
	assert_int_equal(feed_connack(s, MQTT_CONNACK_NOT_AUTHORIZED, 0),
			 -ECONNREFUSED);
	assert_int_equal(mqtt_session_state(s), MQTT_SESSION_DISCONNECTED);
	assert_int_equal(mqtt_session_connect(s, &c, 0), 0);
	assert_int_equal(feed_connack(s, 0, 0), 0);
	/* a second CONNACK, a client-only packet */
	assert_int_equal(feed_connack(s, 0, 0), -EPROTO);
	assert_int_equal(feed_ack(s, MQTT_PINGREQ, 0, 0), -EPROTO);
	/* server PUBLISH QoS 2 is refused (we never subscribe with QoS 2) */
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.u.publish.topic = S("t");
	p.u.publish.qos = 2;
	p.u.publish.packet_id = 4;
	assert_int_equal(feed(s, &p, 0), -EPROTO);
	/* QoS 1 from the server is returned; the caller acks it */
	p.u.publish.qos = 1;
	assert_int_equal(feed(s, &p, 0), 0);
	l.n = 0;
	assert_int_equal(mqtt_session_puback(s, 4, 0), 0);
	assert_int_equal(sent_pkt(&l, 0).type, MQTT_PUBACK);
	assert_int_equal(sent_pkt(&l, 0).packet_id, 4);
	/* oversized packets both ways */
	p.u.publish.payload = big;
	p.u.publish.payload_len = sizeof(big);
	assert_int_equal(mqtt_encode(&p, enc_buf, sizeof(enc_buf), &len), 0);
	assert_int_equal(mqtt_session_input(s, enc_buf, len, 0, &out),
			 -EMSGSIZE);
	p.u.publish.packet_id = 0;
	assert_int_equal(mqtt_session_publish(s, &p.u.publish, 0, NULL),
			 -EMSGSIZE);
	p.u.publish.qos = 0;
	assert_int_equal(mqtt_session_publish(s, &p.u.publish, 0, NULL),
			 -EMSGSIZE);
	/* transport errors come back to the caller */
	p.u.publish.payload_len = 1;
	l.fail_with = -EPIPE;
	assert_int_equal(mqtt_session_publish(s, &p.u.publish, 0, NULL),
			 -EPIPE);
	l.fail_with = 0;
	/* DISCONNECT then offline */
	l.n = 0;
	assert_int_equal(mqtt_session_disconnect(s, 0), 0);
	assert_int_equal(sent_pkt(&l, 0).type, MQTT_DISCONNECT);
	assert_int_equal(mqtt_session_state(s), MQTT_SESSION_DISCONNECTED);
	assert_int_equal(mqtt_session_publish(s, &p.u.publish, 0, NULL),
			 -ENOTCONN);
	mqtt_session_free(s);
	mqtt_session_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_varint_spec_examples),
	    cmocka_unit_test(test_varint_overflow_and_limits),
	    cmocka_unit_test(test_connect_round_trip),
	    cmocka_unit_test(test_connack_round_trip),
	    cmocka_unit_test(test_publish_round_trip),
	    cmocka_unit_test(test_acks_and_pings_round_trip),
	    cmocka_unit_test(test_subscribe_round_trip),
	    cmocka_unit_test(test_suback_round_trip),
	    cmocka_unit_test(test_decode_malformed),
	    cmocka_unit_test(test_encode_rejects),
	    cmocka_unit_test(test_splitter_byte_by_byte),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_topic_validity),
	    cmocka_unit_test(test_topic_match),
	    cmocka_unit_test(test_session_window_and_dup),
	    cmocka_unit_test(test_session_packet_ids),
	    cmocka_unit_test(test_session_keepalive),
	    cmocka_unit_test(test_session_protocol_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
