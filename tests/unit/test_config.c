// SPDX-License-Identifier: Apache-2.0
/* Unit tests for config: defaults, every error path, live merge, sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

static int load(struct config *c, const char *text, char *err)
{
	config_defaults(c);
	return config_load_string(c, "t.conf", text, err, CONFIG_ERR_MAX);
}

static void test_defaults(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	assert_string_equal(c.node.data_dir, "/var/lib/farnode");
	assert_string_equal(c.node.log_level, "info");
	assert_string_equal(c.gossip.bind, "0.0.0.0:7946");
	assert_string_equal(c.gossip.profile, "lan");
	assert_true(c.gossip.enabled);
	assert_string_equal(c.hub.url, ""); /* offline autonomous */
	assert_int_equal(c.runtime.max_workloads, 64);
	assert_true(c.sched.alpha > 0.09 && c.sched.alpha < 0.11);
}

static void test_values_parse(void **state)
{
	(void)state;
	struct config c;
	char err[CONFIG_ERR_MAX];
	int rc = load(&c,
		      "; comment\n# comment\n[node]\nname = edge-1\n"
		      "labels = zone=a,arch=arm64\n\n[gossip]\n"
		      "enabled = no\njoin = 10.0.0.1:7946, [::1]:7000\n"
		      "probe_interval_ms = 2000\n[sched]\nalpha = 0.5\n"
		      "[hub]\nurl = mqtts://hub.example:8883\n",
		      err);
	assert_int_equal(rc, 0);
	assert_string_equal(c.node.name, "edge-1");
	assert_false(c.gossip.enabled);
	assert_int_equal(c.gossip.probe_interval_ms, 2000);
	assert_true(c.sched.alpha == 0.5);
	assert_string_equal(c.hub.url, "mqtts://hub.example:8883");
}

struct bad_case {
	const char *text;
	const char *expect; /* substring of the error */
};

static void test_errors(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{"[nope]\nx = 1\n", "t.conf:2: [nope]: unknown section"},
		{"[node]\nfoo = 1\n", "t.conf:2: foo: unknown key in [node] "
				      "(allowed: name, data_dir"},
		{"[gossip]\n\nprobe_interval_ms = abc\n",
		 "t.conf:3: probe_interval_ms: 'abc' is not an integer "
		 "(allowed: 0..600000)"},
		{"[gossip]\nprobe_interval_ms = 9999999\n",
		 "t.conf:2: probe_interval_ms: 9999999 is out of range"},
		{"[gossip]\nprobe_interval_ms = 12x\n", "is not an integer"},
		{"[sched]\nalpha = 1.5\n", "alpha: 1.5 is out of range "
					   "(allowed: 0.001..1)"},
		{"[sched]\nalpha = nan\n", "alpha: 'nan' is not a number"},
		{"[sched]\ngamma = \n", "gamma: '' is not a number"},
		{"[gossip]\nenabled = maybe\n", "enabled: 'maybe' is not a "
						"boolean (allowed: true|false)"},
		{"[gossip]\nprofile = metro\n", "profile: 'metro' is not one "
						"of the choices (allowed: "
						"lan|wan)"},
		{"[gossip]\nbind = localhost\n", "bind: 'localhost' is not "
						 "host:port"},
		{"[gossip]\nbind = h:70000\n", "is not host:port"},
		{"[gossip]\njoin = a:1,b\n", "join: 'b' is not host:port"},
		{"[node]\nlabels = zone\n", "labels: 'zone' is not a label "
					    "list"},
		{"[node]\nlog_level = loud\n", "log_level: 'loud' is not a "
					       "log level"},
		{"[hub]\nurl = http://x:1\n", "url: 'http://x:1' is not a "
					      "broker URL"},
		{"garbage\n", "t.conf:1: syntax error"},
		{"[node]\nname = ok\n[gossip\n", "t.conf:3: syntax error"},
		{"x = 1\n", "t.conf:1: []: unknown section"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		char err[CONFIG_ERR_MAX] = "";
		int rc = load(&c, cases[i].text, err);
		if (rc == 0 || strstr(err, cases[i].expect) == NULL) {
			fail_msg("case %zu: rc=%d err='%s' want '%s'", i, rc,
				 err, cases[i].expect);
		}
	}
}

static void test_long_line_and_long_value(void **state)
{
	(void)state;
	struct config c;
	char err[CONFIG_ERR_MAX];
	char text[1200];
	char big[400];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(text, sizeof(text), "[node]\nname = x\nname = %s\n", big);
	assert_int_not_equal(load(&c, text, err), 0);
	assert_non_null(strstr(err, "t.conf:3: line longer than"));

	memset(big, 'a', 150);
	big[150] = '\0';
	snprintf(text, sizeof(text), "[hub]\npartition = %s\n", big);
	assert_int_not_equal(load(&c, text, err), 0);
	assert_non_null(strstr(err, "partition: value is longer than 63"));
}

static void test_error_keeps_config_untouched(void **state)
{
	(void)state;
	struct config c;
	char err[CONFIG_ERR_MAX];
	config_defaults(&c);
	int rc = config_load_string(&c, "t.conf",
				    "[node]\nname = changed\n[node]\nbad = 1\n",
				    err, sizeof(err));
	assert_int_not_equal(rc, 0);
	assert_string_equal(c.node.name, "");
}

static void test_file_errors(void **state)
{
	(void)state;
	struct config c;
	char err[CONFIG_ERR_MAX];
	config_defaults(&c);
	assert_int_not_equal(config_load(&c, "/nonexistent/f.conf", err,
					 sizeof(err)),
			     0);
	assert_non_null(strstr(err, "/nonexistent/f.conf: cannot open"));
	/* a directory is not a config file */
	assert_int_not_equal(config_load(&c, "/", err, sizeof(err)), 0);
}

static int n_live;
static int n_restart;

static void on_diff(const char *name, bool live, void *ud)
{
	(void)name;
	(void)ud;
	if (live) {
		n_live++;
	} else {
		n_restart++;
	}
}

static void test_merge_live(void **state)
{
	(void)state;
	struct config cur;
	struct config next;
	char err[CONFIG_ERR_MAX];
	config_defaults(&cur);
	assert_int_equal(load(&next,
			      "[node]\nlog_level = debug\n[gossip]\n"
			      "bind = 127.0.0.1:9000\n",
			      err),
			 0);
	n_live = n_restart = 0;
	assert_int_equal(config_diff(&cur, &next, NULL, NULL), 2);
	int kept = config_merge_live(&cur, &next, on_diff, NULL);
	assert_int_equal(kept, 1);
	assert_int_equal(n_live, 1);
	assert_int_equal(n_restart, 1);
	assert_string_equal(cur.node.log_level, "debug");
	assert_string_equal(cur.gossip.bind, "0.0.0.0:7946");
}

static void test_sample_parses_back(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_write_sample(f);
	fclose(f);
	/* uncomment every "#key = value" line: the defaults must parse */
	char *out = malloc(len + 1);
	size_t o = 0;
	for (char *line = buf; *line;) {
		char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line + 1) : strlen(line);
		if (line[0] == '#' && line[1] != ' ' && memchr(line, '=', l)) {
			memcpy(out + o, line + 1, l - 1);
			o += l - 1;
		} else if (line[0] != '#') {
			memcpy(out + o, line, l);
			o += l;
		}
		line += l;
	}
	out[o] = '\0';
	struct config a;
	struct config b;
	char err[CONFIG_ERR_MAX];
	config_defaults(&a);
	assert_int_equal(load(&b, out, err), 0);
	assert_int_equal(config_diff(&a, &b, NULL, NULL), 0);
	free(out);
	free(buf);
}

static void test_sample_file_is_current(void **state)
{
	(void)state;
	/* ports/linux/farnode.conf must equal the generated sample. */
	FILE *f = fopen("ports/linux/farnode.conf", "r");
	if (f == NULL) {
		skip();
	}
	char *want = NULL;
	size_t wlen = 0;
	FILE *m = open_memstream(&want, &wlen);
	config_write_sample(m);
	fclose(m);
	char *have = calloc(1, wlen + 2);
	size_t hlen = fread(have, 1, wlen + 1, f);
	fclose(f);
	if (hlen != wlen || memcmp(have, want, wlen) != 0) {
		fail_msg("ports/linux/farnode.conf is stale: regenerate with "
			 "'farnode config --sample > ports/linux/farnode.conf'");
	}
	free(have);
	free(want);
}

static void test_set(void **state)
{
	(void)state;
	struct config c;
	char err[CONFIG_ERR_MAX];
	config_defaults(&c);
	assert_int_equal(config_set(&c, "node", "name", "n1", err, sizeof(err)),
			 0);
	assert_string_equal(c.node.name, "n1");
	assert_int_not_equal(config_set(&c, "node", "nope", "1", err,
					sizeof(err)),
			     0);
	assert_non_null(strstr(err, "node.nope: unknown key"));
	assert_int_not_equal(config_set(&c, "sched", "gamma", "2", err,
					sizeof(err)),
			     0);
	assert_non_null(strstr(err, "sched.gamma: 2 is out of range"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_parse),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_line_and_long_value),
		cmocka_unit_test(test_error_keeps_config_untouched),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_merge_live),
		cmocka_unit_test(test_sample_parses_back),
		cmocka_unit_test(test_sample_file_is_current),
		cmocka_unit_test(test_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
