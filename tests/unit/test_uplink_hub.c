// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the operator's policy.ini parser (hub_policy.c): every
 * section read into the policy, defaults from the scheduler for unset
 * keys, version and partition defaults, relative expiry, and each error
 * (unknown section/key, bad numbers, bad mask, missing partition, values
 * the scheduler would refuse) reported with the file name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hub.h"
#include "sched.h"
#include "wire.h"

#define NOW 1800000000000ull

static void test_full(void **state)
{
	(void)state;
	struct policy p;
	char err[256] = "";
	const char *text = "[policy]\n"
			   "version = 42\n"
			   "partition = plant-a\n"
			   "expires_in_s = 3600\n"
			   "[hyper]\n"
			   "alpha = 0.25\n"
			   "gamma = 0.5\n"
			   "neighbours_k = 3\n"
			   "[mask]\n"
			   "gold = defer, reject\n"
			   "besteffort = none\n"
			   "[reward]\n"
			   "met = 2\n"
			   "class_weight = 1, 1.5, 3\n";
	assert_int_equal(
	    hub_policy_parse(text, "p.ini", NOW, NULL, &p, err, sizeof(err)),
	    0);
	assert_int_equal(p.version, 42);
	assert_string_equal(p.partition, "plant-a");
	assert_int_equal(p.issued_ms, NOW);
	assert_int_equal(p.expires_ms, NOW + 3600000);
	assert_true(p.has_hyper);
	assert_true(p.hyper.alpha == 0.25);
	assert_true(p.hyper.gamma == 0.5);
	assert_int_equal(p.hyper.neighbours_k, 3);
	assert_int_equal(p.n_masks, 2);
	assert_int_equal(p.masks[0].qos, QOS_GOLD);
	assert_int_equal(p.masks[0].forbid,
			 SCHED_FORBID_DEFER | SCHED_FORBID_REJECT);
	assert_int_equal(p.masks[1].qos, QOS_BESTEFFORT);
	assert_int_equal(p.masks[1].forbid, 0);
	assert_true(p.has_reward);
	assert_true(p.reward.met == 2);
	assert_true(p.reward.class_weight[2] == 3);
	/* unset keys come from the scheduler defaults */
	struct sched_params d;
	sched_params_default(&d);
	assert_true(p.hyper.epsilon == d.epsilon);
	assert_true(p.reward.missed == d.reward_missed);
	/* and it encodes */
	uint8_t buf[4096];
	size_t len = 0;
	assert_int_equal(wire_policy_encode(&p, buf, sizeof(buf), &len), 0);
	policy_fini(&p);
}

static void test_defaults(void **state)
{
	(void)state;
	struct policy p;
	char err[256] = "";
	assert_int_equal(hub_policy_parse("", "empty.ini", NOW, "plant-z", &p,
					  err, sizeof(err)),
			 0);
	assert_int_equal(p.version, NOW); /* newer on every publish */
	assert_string_equal(p.partition, "plant-z");
	assert_int_equal(p.expires_ms, 0);
	assert_false(p.has_hyper);
	assert_false(p.has_reward);
	assert_int_equal(p.n_masks, 0);
	policy_fini(&p);
	/* the file's partition wins over the default */
	assert_int_equal(hub_policy_parse("[policy]\npartition = x\n", "f", NOW,
					  "plant-z", &p, err, sizeof(err)),
			 0);
	assert_string_equal(p.partition, "x");
	policy_fini(&p);
}

static void expect_error(const char *text, const char *partition,
			 const char *needle)
{
	struct policy p;
	char err[256] = "";
	assert_int_equal(hub_policy_parse(text, "bad.ini", NOW, partition, &p,
					  err, sizeof(err)),
			 -EINVAL);
	if (strstr(err, needle) == NULL || strstr(err, "bad.ini") == NULL) {
		fail_msg("error '%s' lacks '%s'", err, needle);
	}
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[nope]\nx = 1\n", "p", "unknown section");
	expect_error("[policy]\ncolour = red\n", "p", "unknown key");
	expect_error("[policy]\nversion = -3\n", "p", "positive integer");
	expect_error("[policy]\nversion = 0\n", "p", "positive integer");
	expect_error("[policy]\npartition = a/b\n", "p", "partition");
	expect_error("[hyper]\nalpha = fast\n", "p", "number");
	expect_error("[hyper]\nneighbours_k = 9\n", "p", "0..8");
	expect_error("[mask]\nplatinum = defer\n", "p", "gold");
	expect_error("[mask]\ngold = teleport\n", "p", "local, offload");
	expect_error("[reward]\nw_energy = 1,2\n", "p", "three numbers");
	expect_error("[policy]\nexpires_in_s = 0\n", "p", "seconds");
	expect_error("", NULL, "partition");
	expect_error("[hyper]\nalpha = 5\n", "p", "would refuse");
	expect_error("not ini at all\n", "p", "bad.ini");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
