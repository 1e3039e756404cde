// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the uplink's pure parts: topic names and their refusal
 * cases, the full-jitter backoff (bounds, growth, cap, spread), URL
 * parsing (mqtts only), and the event payload encoders read back through
 * the describe path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "rng.h"
#include "uplink.h"
#include "uplink_conn.h"
#include "uplink_events.h"
#include "wire.h"

static void test_topics(void **state)
{
	(void)state;
	struct uplink_topics t;
	const char *id = "0f8e3c3e-5d55-4f0e-9a39-2f1f2a6b3c4d";
	assert_int_equal(uplink_topics("farnode/v1", "plant-a", id, &t), 0);
	assert_string_equal(t.state, "farnode/v1/plant-a/0f8e3c3e-5d55-4f0e-"
				     "9a39-2f1f2a6b3c4d/state");
	assert_string_equal(t.events, "farnode/v1/plant-a/0f8e3c3e-5d55-4f0e-"
				      "9a39-2f1f2a6b3c4d/events");
	assert_string_equal(t.learning, "farnode/v1/plant-a/0f8e3c3e-5d55-"
					"4f0e-9a39-2f1f2a6b3c4d/learning");
	assert_string_equal(t.policy, "farnode/v1/plant-a/policy");
	assert_string_equal(t.desired, "farnode/v1/plant-a/0f8e3c3e-5d55-4f0e-"
				       "9a39-2f1f2a6b3c4d/desired");
	assert_int_equal(uplink_topics("farnode/v1", "a/b", id, &t), -EINVAL);
	assert_int_equal(uplink_topics("farnode/#", "a", id, &t), -EINVAL);
	assert_int_equal(uplink_topics("farnode", "a+", id, &t), -EINVAL);
	assert_int_equal(uplink_topics("farnode", "", id, &t), -EINVAL);
	char long_prefix[300];
	memset(long_prefix, 'p', sizeof(long_prefix) - 1);
	long_prefix[sizeof(long_prefix) - 1] = '\0';
	assert_int_equal(uplink_topics(long_prefix, "a", id, &t), -EINVAL);
}

static void test_backoff(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 42);
	/* attempt 0 with min 1 s: within [100 ms, 1 s] */
	for (int i = 0; i < 1000; i++) {
		uint64_t d = uplink_backoff_ms(0, 1, 300, &r);
		assert_true(d >= 100 && d <= 1000);
	}
	/* the cap grows as min * 2^attempt and stops at max */
	for (uint32_t a = 0; a < 40; a++) {
		uint64_t cap = 1000ull << (a < 20 ? a : 20);
		if (cap > 300000) {
			cap = 300000;
		}
		uint64_t hi = 0;
		for (int i = 0; i < 400; i++) {
			uint64_t d = uplink_backoff_ms(a, 1, 300, &r);
			assert_true(d <= cap);
			if (d > hi) {
				hi = d;
			}
		}
		/* full jitter reaches near the cap */
		assert_true(hi > cap * 8 / 10);
	}
	/* full jitter: the spread of 50 draws at the cap is wide */
	uint64_t lo = UINT64_MAX, hi = 0;
	double sum = 0;
	for (int i = 0; i < 50; i++) {
		uint64_t d = uplink_backoff_ms(10, 1, 60, &r);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		sum += (double)d;
	}
	assert_true(hi - lo > 30000);
	assert_true(sum / 50 > 15000 && sum / 50 < 45000);
	/* deterministic for a seed */
	struct rng a, b;
	rng_seed(&a, 7);
	rng_seed(&b, 7);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(uplink_backoff_ms((uint32_t)i, 2, 100, &a),
				 uplink_backoff_ms((uint32_t)i, 2, 100, &b));
	}
}

static void test_parse_url(void **state)
{
	(void)state;
	char host[64];
	uint16_t port = 0;
	assert_int_equal(uplink_parse_url("mqtts://hub.example:8884", host,
					  sizeof(host), &port),
			 0);
	assert_string_equal(host, "hub.example");
	assert_int_equal(port, 8884);
	assert_int_equal(
	    uplink_parse_url("mqtts://127.0.0.1", host, sizeof(host), &port),
	    0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8883);
	assert_int_equal(
	    uplink_parse_url("mqtt://hub:1883", host, sizeof(host), &port),
	    -EPROTONOSUPPORT);
	assert_int_equal(
	    uplink_parse_url("http://hub", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(
	    uplink_parse_url("mqtts://hub:0", host, sizeof(host), &port),
	    -EINVAL);
	assert_int_equal(
	    uplink_parse_url("mqtts://hub:70000", host, sizeof(host), &port),
	    -EINVAL);
	assert_int_equal(
	    uplink_parse_url("mqtts://:8883", host, sizeof(host), &port),
	    -EINVAL);
	assert_int_equal(
	    uplink_parse_url("mqtts://hub/path", host, sizeof(host), &port),
	    -EINVAL);
	assert_int_equal(
	    uplink_parse_url("mqtts://hub:12x", host, sizeof(host), &port),
	    -EINVAL);
}

static void test_event_payloads(void **state)
{
	(void)state;
	uint8_t buf[UPLINK_EVENT_SMALL_MAX];
	char text[256];
	size_t len = 0;
	struct node_id n = {{0}};
	n.b[15] = 1;

	assert_int_equal(uplink_encode_workload("web-1", WL_FAILED,
						"exited with 3", 3, NULL, buf,
						sizeof(buf), &len),
			 0);
	uplink_event_describe(EVENT_WORKLOAD, buf, len, text, sizeof(text));
	assert_non_null(strstr(text, "web-1"));
	assert_non_null(strstr(text, "failed"));
	assert_non_null(strstr(text, "exit=3"));

	assert_int_equal(uplink_encode_policy(42, false, "bad-signature", buf,
					      sizeof(buf), &len),
			 0);
	uplink_event_describe(EVENT_POLICY, buf, len, text, sizeof(text));
	assert_non_null(strstr(text, "42"));
	assert_non_null(strstr(text, "rejected: bad-signature"));

	assert_int_equal(uplink_encode_dropped(12345, buf, sizeof(buf), &len),
			 0);
	uplink_event_describe(EVENT_DROPPED, buf, len, text, sizeof(text));
	assert_non_null(strstr(text, "12345"));

	assert_int_equal(uplink_encode_member(&n, 3, 9, buf, sizeof(buf), &len),
			 0);
	uplink_event_describe(EVENT_MEMBERSHIP, buf, len, text, sizeof(text));
	assert_non_null(strstr(text, "dead"));
	assert_non_null(strstr(text, "00000000-0000-0000-0000-000000000001"));

	assert_int_equal(
	    uplink_encode_decision("job", 5, 2, NAN, buf, sizeof(buf), &len),
	    0);
	uplink_event_describe(EVENT_DECISION, buf, len, text, sizeof(text));
	assert_non_null(strstr(text, "action=2"));

	struct sched_share q[3] = {
	    {.state = 1, .action = 0, .q = 0.5, .visits = 2},
	    {.state = 4, .action = 1, .q = -1, .visits = 9},
	    {.state = 9, .action = 2, .q = 2, .visits = 1},
	};
	size_t n_fit = 0;
	assert_int_equal(wire_qshare_encode(0xabcd1234, 7, q, 3, buf,
					    sizeof(buf), &len, &n_fit),
			 0);
	uplink_event_describe(EVENT_LEARNING, buf, len, text, sizeof(text));
	assert_non_null(strstr(text, "round 7: 3 cells, table abcd1234"));

	/* bounds */
	char long_id[WORKLOAD_ID_MAX + 4];
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(uplink_encode_workload(long_id, WL_RUNNING, "", 0,
						NULL, buf, sizeof(buf), &len),
			 -EINVAL);
	assert_int_equal(uplink_encode_member(&n, 9, 1, buf, sizeof(buf), &len),
			 -EINVAL);
	assert_int_equal(uplink_encode_dropped(1, buf, 1, &len), -ENOBUFS);
	/* garbage is described as such, never crashes */
	memset(buf, 0xff, 32);
	uplink_event_describe(EVENT_WORKLOAD, buf, 32, text, sizeof(text));
	assert_non_null(strstr(text, "undecodable"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_topics),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_parse_url),
	    cmocka_unit_test(test_event_payloads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
