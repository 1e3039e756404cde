// SPDX-License-Identifier: Apache-2.0
/* Unit tests for log: levels, sink, journal prefixes, rate limiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define LOG_TAG "test"
#include "log.h"

static char last_line[1200];
static int lines;
static int evaluated;

static void sink(int level, const char *line, void *ud)
{
	(void)level;
	(void)ud;
	snprintf(last_line, sizeof(last_line), "%s", line);
	lines++;
}

static int side_effect(void)
{
	evaluated++;
	return 42;
}

static void test_levels_filter_and_skip_evaluation(void **state)
{
	(void)state;
	log_set_sink(sink, NULL);
	lines = 0;
	evaluated = 0;
	log_set_level(LOG_LVL_WARN);
	log_info("hidden %d", side_effect());
	assert_int_equal(lines, 0);
	assert_int_equal(evaluated, 0);
	log_warn("shown %d", side_effect());
	assert_int_equal(lines, 1);
	assert_int_equal(evaluated, 1);
	assert_non_null(strstr(last_line, "test: shown 42"));
	log_set_sink(NULL, NULL);
}

static void test_parse(void **state)
{
	(void)state;
	int lvl = -1;
	assert_int_equal(log_level_parse("debug", &lvl), 0);
	assert_int_equal(lvl, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("warning", &lvl), 0);
	assert_int_equal(lvl, LOG_LVL_WARN);
	assert_int_not_equal(log_level_parse("loud", &lvl), 0);
	assert_string_equal(log_level_name(LOG_LVL_ERROR), "error");
}

static void test_journal_prefix(void **state)
{
	(void)state;
	log_set_sink(sink, NULL);
	log_set_level(LOG_LVL_DEBUG);
	setenv("JOURNAL_STREAM", "8:1234", 1);
	log_detect_journal();
	log_error("boom");
	assert_string_equal(last_line, "<3>test: boom");
	log_debug("dbg");
	assert_string_equal(last_line, "<7>test: dbg");
	unsetenv("JOURNAL_STREAM");
	log_detect_journal();
	log_info("plain");
	assert_null(strstr(last_line, "<6>"));
	assert_non_null(strstr(last_line, "info  test: plain"));
	log_set_sink(NULL, NULL);
}

static void test_rate_limit(void **state)
{
	(void)state;
	struct log_rl rl = {0};
	uint32_t sup = 0;
	int allowed = 0;
	for (int i = 0; i < 10; i++) {
		allowed += log_rl_allow(&rl, 1000 + (uint64_t)i, 3, 60000, &sup);
	}
	assert_int_equal(allowed, 3);
	assert_int_equal(rl.suppressed, 7);
	assert_true(log_rl_allow(&rl, 1000 + 60000, 3, 60000, &sup));
	assert_int_equal(sup, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels_filter_and_skip_evaluation),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_journal_prefix),
		cmocka_unit_test(test_rate_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
