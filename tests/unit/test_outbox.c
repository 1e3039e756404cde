// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the outbox: order and ack, crash safety (a child process
 * writes events and is SIGKILLed; the reopened store still has them),
 * never-reused event ids, the byte bound with drop-oldest-lowest-priority
 * and the merged DROPPED report, historical flags, the rate limit, rewind
 * and refused input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "outbox.h"
#include "store.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_outbox.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/farnode.db", dir);
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store *open_store(void)
{
	struct store *st = NULL;
	char err[256];
	assert_int_equal(store_open(path, &st, err, sizeof(err)), 0);
	return st;
}

static struct outbox *open_ob(struct store *st, uint64_t max_bytes)
{
	struct outbox_config cfg = {.max_bytes = max_bytes};
	struct outbox *ob = NULL;
	assert_int_equal(outbox_open(st, &cfg, &ob), 0);
	return ob;
}

static void put_text(struct outbox *ob, enum uplink_event_kind kind,
		     uint32_t prio, const char *text, uint64_t *id)
{
	assert_int_equal(outbox_put(ob, kind, prio, 1000, (const uint8_t *)text,
				    strlen(text), id),
			 0);
}

static uint64_t decode_count(const struct outbox_event *ev)
{
	uint64_t c = 0;
	assert_int_equal(ev->payload_len, 8);
	for (int i = 0; i < 8; i++) {
		c = c << 8 | ev->payload[i];
	}
	return c;
}

static void test_order_and_ack(void **state)
{
	(void)state;
	struct store *st = open_store();
	struct outbox *ob = open_ob(st, 0);
	struct outbox_event ev;
	uint64_t ids[5];
	char text[16];

	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "ev%d", i);
		put_text(ob, EVENT_WORKLOAD, 3, text, &ids[i]);
		if (i > 0) {
			assert_true(ids[i] > ids[i - 1]);
		}
	}
	assert_int_equal(outbox_pending(ob), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(outbox_next(ob, 0, &ev), 0);
		snprintf(text, sizeof(text), "ev%d", i);
		assert_int_equal(ev.event_id, ids[i]);
		assert_int_equal(ev.kind, EVENT_WORKLOAD);
		assert_int_equal(ev.priority, 3);
		assert_int_equal(ev.payload_len, strlen(text));
		assert_memory_equal(ev.payload, text, strlen(text));
		outbox_event_fini(&ev);
	}
	assert_int_equal(outbox_next(ob, 0, &ev), -ENOENT);
	assert_int_equal(outbox_pending(ob), 0);
	/* ack out of order; unknown ids are fine */
	assert_int_equal(outbox_ack(ob, ids[2]), 0);
	assert_int_equal(outbox_ack(ob, ids[2]), 0);
	assert_int_equal(outbox_ack(ob, 999999), 0);
	struct outbox_stats s;
	outbox_stats(ob, &s);
	assert_int_equal(s.queued, 4);
	assert_int_equal(s.acked, 1);
	assert_int_equal(s.bytes, 4 * (3 + OUTBOX_ROW_OVERHEAD));
	/* rewind: the unacknowledged four come again, in order */
	outbox_rewind(ob);
	assert_int_equal(outbox_pending(ob), 4);
	uint64_t want[4] = {ids[0], ids[1], ids[3], ids[4]};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(outbox_next(ob, 0, &ev), 0);
		assert_int_equal(ev.event_id, want[i]);
		assert_int_equal(outbox_ack(ob, ev.event_id), 0);
		outbox_event_fini(&ev);
	}
	outbox_stats(ob, &s);
	assert_int_equal(s.queued, 0);
	assert_int_equal(s.bytes, 0);
	/* several at once, in one transaction; unknown ids are fine */
	uint64_t batch[4];
	for (int i = 0; i < 3; i++) {
		put_text(ob, EVENT_WORKLOAD, 3, "b", &batch[i]);
	}
	batch[3] = 424242;
	assert_int_equal(outbox_ack_many(ob, batch, 4), 0);
	outbox_stats(ob, &s);
	assert_int_equal(s.queued, 0);
	assert_int_equal(s.bytes, 0);
	assert_int_equal(outbox_next(ob, 0, &ev), -ENOENT);
	/* ids are never reused, even after the table emptied */
	uint64_t again;
	put_text(ob, EVENT_DECISION, 2, "x", &again);
	assert_true(again > batch[2]);
	outbox_free(ob);
	store_close(st);
}

static void test_crash_safety(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st = NULL;
		struct outbox *ob = NULL;
		char err[256];
		char text[32];
		if (store_open(path, &st, err, sizeof(err)) != 0 ||
		    outbox_open(st, NULL, &ob) != 0) {
			_exit(3);
		}
		for (int i = 0; i < 50; i++) {
			snprintf(text, sizeof(text), "crash-%02d", i);
			if (outbox_put(ob, EVENT_MEMBERSHIP, 4, (uint64_t)i,
				       (const uint8_t *)text, strlen(text),
				       NULL) != 0) {
				_exit(4);
			}
		}
		/* one handed out and acked, one handed out only */
		struct outbox_event ev;
		if (outbox_next(ob, 0, &ev) != 0 ||
		    outbox_ack(ob, ev.event_id) != 0) {
			_exit(5);
		}
		outbox_event_fini(&ev);
		if (outbox_next(ob, 0, &ev) != 0) {
			_exit(6);
		}
		raise(SIGKILL);
		_exit(7);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	struct store *st = open_store();
	struct outbox *ob = open_ob(st, 0);
	struct outbox_event ev;
	char text[32];
	assert_int_equal(outbox_pending(ob), 49);
	for (int i = 1; i < 50; i++) {
		assert_int_equal(outbox_next(ob, 0, &ev), 0);
		snprintf(text, sizeof(text), "crash-%02d", i);
		assert_int_equal(ev.time_ms, (uint64_t)i);
		assert_int_equal(ev.payload_len, strlen(text));
		assert_memory_equal(ev.payload, text, strlen(text));
		assert_true(ev.historical); /* never marked online */
		outbox_event_fini(&ev);
	}
	assert_int_equal(outbox_next(ob, 0, &ev), -ENOENT);
	outbox_free(ob);
	store_close(st);
}

static void test_bound_and_drop_report(void **state)
{
	(void)state;
	struct store *st = open_store();
	struct outbox *ob = open_ob(st, 65536);
	struct outbox_stats s;
	struct outbox_event ev;
	uint8_t big[1000];
	uint64_t hi_ids[10];
	uint64_t lo_ids[100];

	memset(big, 'a', sizeof(big));
	/* high-priority events first (oldest), then many low ones */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(outbox_put(ob, EVENT_WORKLOAD, 6, 1, big,
					    sizeof(big), &hi_ids[i]),
				 0);
	}
	for (int i = 0; i < 100; i++) {
		assert_int_equal(outbox_put(ob, EVENT_LEARNING, 1, 2, big,
					    sizeof(big), &lo_ids[i]),
				 0);
		outbox_stats(ob, &s);
		assert_true(s.bytes <= 65536);
	}
	outbox_stats(ob, &s);
	assert_true(s.dropped > 0);
	uint64_t dropped = s.dropped;
	/* the drops are exactly the oldest low-priority events */
	uint64_t next_lo = dropped;
	assert_true(dropped < 100);
	int seen_hi = 0;
	int seen_report = 0;
	uint64_t prev = 0;
	while (outbox_next(ob, 0, &ev) == 0) {
		assert_true(ev.event_id > prev);
		prev = ev.event_id;
		if (ev.kind == EVENT_DROPPED) {
			seen_report++;
			assert_int_equal(ev.priority, OUTBOX_DROP_PRIORITY);
			assert_int_equal(ev.dropped, dropped);
			assert_int_equal(decode_count(&ev), dropped);
		} else if (ev.priority == 6) {
			assert_int_equal(ev.event_id, hi_ids[seen_hi]);
			seen_hi++;
		} else {
			assert_int_equal(ev.event_id, lo_ids[next_lo]);
			next_lo++;
		}
		outbox_event_fini(&ev);
	}
	assert_int_equal(seen_hi, 10);
	assert_int_equal(next_lo, 100);
	assert_int_equal(seen_report, 1);

	/* the report was handed out: later drops make a new report */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(outbox_put(ob, EVENT_LEARNING, 1, 3, big,
					    sizeof(big), NULL),
				 0);
	}
	outbox_stats(ob, &s);
	assert_int_equal(s.dropped, dropped + 5);
	seen_report = 0;
	while (outbox_next(ob, 0, &ev) == 0) {
		if (ev.kind == EVENT_DROPPED) {
			seen_report++;
			assert_int_equal(decode_count(&ev), 5);
		}
		outbox_event_fini(&ev);
	}
	assert_int_equal(seen_report, 1);
	/* the size survives a reopen */
	uint64_t bytes = s.bytes;
	outbox_free(ob);
	store_close(st);
	st = open_store();
	ob = open_ob(st, 65536);
	outbox_stats(ob, &s);
	assert_int_equal(s.bytes, bytes);
	outbox_free(ob);
	store_close(st);
}

static void test_historical(void **state)
{
	(void)state;
	struct store *st = open_store();
	struct outbox *ob = open_ob(st, 0);
	struct outbox_event ev;
	put_text(ob, EVENT_POLICY, 6, "offline", NULL);
	outbox_set_online(ob, true);
	put_text(ob, EVENT_POLICY, 6, "online", NULL);
	outbox_set_online(ob, false);
	put_text(ob, EVENT_POLICY, 6, "offline2", NULL);
	bool want[3] = {true, false, true};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(outbox_next(ob, 0, &ev), 0);
		assert_int_equal(ev.historical, want[i]);
		outbox_event_fini(&ev);
	}
	outbox_free(ob);
	store_close(st);
}

static void test_rate_limit(void **state)
{
	(void)state;
	struct store *st = open_store();
	struct outbox_config cfg = {.rate_per_s = 10, .burst = 2};
	struct outbox *ob = NULL;
	struct outbox_event ev;
	assert_int_equal(outbox_open(st, &cfg, &ob), 0);
	for (int i = 0; i < 5; i++) {
		put_text(ob, EVENT_DECISION, 2, "d", NULL);
	}
	uint64_t now = 5000;
	assert_int_equal(outbox_next(ob, now, &ev), 0);
	outbox_event_fini(&ev);
	assert_int_equal(outbox_next(ob, now, &ev), 0);
	outbox_event_fini(&ev);
	assert_int_equal(outbox_next(ob, now, &ev), -EAGAIN);
	uint64_t ready = outbox_ready_ms(ob, now);
	assert_true(ready > now && ready <= now + 101);
	assert_int_equal(outbox_next(ob, now + 50, &ev), -EAGAIN);
	assert_int_equal(outbox_next(ob, ready, &ev), 0);
	outbox_event_fini(&ev);
	/* a long pause refills at most burst tokens */
	now += 60000;
	assert_int_equal(outbox_next(ob, now, &ev), 0);
	outbox_event_fini(&ev);
	assert_int_equal(outbox_next(ob, now, &ev), 0);
	outbox_event_fini(&ev);
	assert_int_equal(outbox_next(ob, now, &ev), -ENOENT);
	put_text(ob, EVENT_DECISION, 2, "d", NULL);
	assert_int_equal(outbox_next(ob, now, &ev), -EAGAIN);
	struct outbox_stats s;
	outbox_stats(ob, &s);
	assert_int_equal(s.rate_limited, 3);
	outbox_free(ob);
	store_close(st);
}

static void test_refused(void **state)
{
	(void)state;
	struct store *st = open_store();
	struct outbox *ob = open_ob(st, 65536);
	uint8_t *big = calloc(1, UPLINK_PAYLOAD_MAX + 1);
	assert_non_null(big);
	assert_int_equal(outbox_put(ob, 0, 1, 0, big, 1, NULL), -EINVAL);
	assert_int_equal(outbox_put(ob, 7, 1, 0, big, 1, NULL), -EINVAL);
	assert_int_equal(outbox_put(ob, EVENT_DROPPED, 1, 0, big, 1, NULL),
			 -EINVAL);
	assert_int_equal(outbox_put(ob, EVENT_WORKLOAD, 8, 0, big, 1, NULL),
			 -EINVAL);
	assert_int_equal(outbox_put(ob, EVENT_WORKLOAD, 1, 0, big,
				    UPLINK_PAYLOAD_MAX + 1, NULL),
			 -EMSGSIZE);
	/* bigger than the whole bound */
	assert_int_equal(outbox_put(ob, EVENT_WORKLOAD, 1, 0, big, 65500, NULL),
			 -EMSGSIZE);
	/* an empty payload is a valid event */
	assert_int_equal(outbox_put(ob, EVENT_WORKLOAD, 1, 0, NULL, 0, NULL),
			 0);
	struct outbox_stats s;
	outbox_stats(ob, &s);
	assert_int_equal(s.queued, 1);
	assert_int_equal(s.dropped, 0);
	free(big);
	outbox_free(ob);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_order_and_ack, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bound_and_drop_report, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_historical, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
