// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for manifest: CodecoApp YAML → workload specs (every mapped
 * field), file:line errors for unknown and invalid fields, bounds, and the
 * quantity/delay/command helpers shared with the CLI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <cmocka.h>

#include "manifest.h"

static const char app_yaml[] =
    "apiVersion: codeco.he-codeco.eu/v1alpha1\n" /* 1 */
    "kind: CodecoApp\n"				 /* 2 */
    "metadata:\n"				 /* 3 */
    "  name: acm-swm\n"				 /* 4 */
    "  namespace: he-codeco-acm\n"		 /* 5 */
    "  annotations:\n"				 /* 6 */
    "    farnode.io/command.front-end: \"/bin/sh -c 'echo hi; sleep 1'\"\n"
    "    kubectl.kubernetes.io/last-applied: \"{}\"\n" /* 8 */
    "spec:\n"					       /* 9 */
    "  appName: swm\n"				       /* 10 */
    "  qosClass: Gold\n"			       /* 11 */
    "  performanceProfile: Greenness\n"		       /* 12 */
    "  appEnergyLimit: \"20\"\n"		       /* 13 */
    "  appFailureTolerance: High\n"		       /* 14 */
    "  securityClass: Good\n"			       /* 15 */
    "  codecoapp-msspec:\n"			       /* 16 */
    "  - serviceName: backend\n"		       /* 17 */
    "    podspec:\n"				       /* 18 */
    "      restartPolicy: OnFailure\n"		       /* 19 */
    "      nodeSelector:\n"			       /* 20 */
    "        zone: line-3\n"			       /* 21 */
    "      containers:\n"			       /* 22 */
    "      - name: skupper-backend\n"		       /* 23 */
    "        image: quay.io/skupper/hello-world-backend:latest\n"
    "        command: [\"/usr/bin/env\"]\n"	    /* 25 */
    "        args: [\"FOO=1\", \"sleep\", \"5\"]\n" /* 26 */
    "        workingDir: /tmp\n"		    /* 27 */
    "        env:\n"				    /* 28 */
    "        - name: MODE\n"			    /* 29 */
    "          value: edge\n"			    /* 30 */
    "        ports:\n"				    /* 31 */
    "        - containerPort: 8080\n"		    /* 32 */
    "        resources:\n"			    /* 33 */
    "          limits:\n"			    /* 34 */
    "            cpu: 250m\n"			    /* 35 */
    "            memory: 64Mi\n"		    /* 36 */
    "          requests:\n"			    /* 37 */
    "            cpu: 100m\n"			    /* 38 */
    "    serviceChannels:\n"			    /* 39 */
    "    - channelName: frontend\n"		    /* 40 */
    "      serviceClass: ASSURED\n"		    /* 41 */
    "      otherService:\n"			    /* 42 */
    "        appName: swm\n"			    /* 43 */
    "        serviceName: front-end\n"		    /* 44 */
    "        port: 9090\n"			    /* 45 */
    "      advancedChannelSettings:\n"		    /* 46 */
    "        minBandwidth: \"5M\"\n"		    /* 47 */
    "        maxDelay: \"0.2\"\n"		    /* 48 */
    "        frameSize: \"100\"\n"		    /* 49 */
    "    - channelName: db\n"			    /* 50 */
    "      otherService: {appName: swm, serviceName: db, port: 5432}\n"
    "      advancedChannelSettings: {maxDelay: 50ms, minBandwidth: 100k}\n"
    "  - serviceName: front-end\n" /* 53 */
    "    podspec:\n"		   /* 54 */
    "      containers:\n"	   /* 55 */
    "      - name: front-end\n"	   /* 56 */
    "        image: quay.io/skupper/hello-world-frontend\n"
    "        resources:\n"				 /* 58 */
    "          requests: {cpu: \"0.5\", memory: 128M}\n" /* 59 */
    "status:\n"						 /* 60 */
    "  status: OK\n";

static void test_full_mapping(void **state)
{
	(void)state;
	struct workload_spec w[4];
	size_t n = 0;
	char err[256];
	int rc = manifest_parse(app_yaml, strlen(app_yaml), "app.yaml", w, 4,
				&n, err, sizeof(err));
	if (rc != 0) {
		fail_msg("%s", err);
	}
	assert_int_equal(n, 2);
	const struct workload_spec *b = &w[0];
	assert_string_equal(b->id, "swm-backend");
	assert_string_equal(b->name, "backend");
	assert_int_equal(b->qos, QOS_GOLD);
	assert_int_equal(b->profile, PERF_GREENNESS);
	assert_true(fabs(b->energy_limit_watts - 20.0) < 1e-9);
	assert_int_equal(b->failure_tolerance, FAILTOL_HIGH);
	assert_int_equal(b->restart, RESTART_ON_FAILURE);
	assert_int_equal(b->runtime, RUNTIME_PROC);
	assert_int_equal(b->cpu_milli, 250); /* limits beat requests */
	assert_true(b->mem_bytes == 64ull << 20);
	assert_int_equal(b->max_delay_ms, 50);	      /* tightest channel */
	assert_true(b->min_bandwidth_bps == 5000000); /* largest */
	assert_int_equal(b->n_locality, 1);
	assert_string_equal(b->locality[0].key, "zone");
	assert_string_equal(b->locality[0].value, "line-3");
	assert_int_equal(b->argc, 4);
	assert_string_equal(b->argv[0], "/usr/bin/env");
	assert_string_equal(b->argv[3], "5");
	assert_int_equal(b->envc, 1);
	assert_string_equal(b->env[0], "MODE=edge");
	assert_string_equal(b->cwd, "/tmp");

	const struct workload_spec *f = &w[1];
	assert_string_equal(f->id, "swm-front-end");
	assert_int_equal(f->restart, RESTART_ALWAYS); /* pod default */
	assert_int_equal(f->cpu_milli, 500);
	assert_true(f->mem_bytes == 128000000ull);
	assert_int_equal(f->max_delay_ms, 0);
	assert_int_equal(f->argc, 3); /* from the annotation */
	assert_string_equal(f->argv[0], "/bin/sh");
	assert_string_equal(f->argv[2], "echo hi; sleep 1");
}

/* Parse text expected to fail; check the message names file:line. */
static void expect_fail(const char *yaml, const char *where, const char *what)
{
	struct workload_spec w[4];
	size_t n = 99;
	char err[256];
	int rc = manifest_parse(yaml, strlen(yaml), "bad.yaml", w, 4, &n, err,
				sizeof(err));
	if (rc == 0) {
		fail_msg("accepted: %s", yaml);
	}
	assert_int_equal(n, 0);
	if (strstr(err, where) == NULL || strstr(err, what) == NULL) {
		fail_msg("message '%s' lacks '%s' / '%s'", err, where, what);
	}
}

#define HEAD                                                                   \
	"apiVersion: codeco.he-codeco.eu/v1alpha1\n"                           \
	"kind: CodecoApp\n"                                                    \
	"metadata:\n"                                                          \
	"  name: app\n"                                                        \
	"spec:\n"                                                              \
	"  codecoapp-msspec:\n"                                                \
	"  - serviceName: s\n"                                                 \
	"    podspec:\n"                                                       \
	"      containers:\n"                                                  \
	"      - name: c\n"                                                    \
	"        command: [\"true\"]\n"
/* lines 1..11 */

static void test_errors_have_file_line(void **state)
{
	(void)state;
	expect_fail(HEAD "        resources:\n"
			 "          limits:\n"
			 "            cpu: 2x\n",
		    "bad.yaml:14:", "not a cpu quantity");
	expect_fail(HEAD "        resources:\n"
			 "          limits:\n"
			 "            memory: lots\n",
		    "bad.yaml:14:", "memory");
	expect_fail(HEAD "        imagePullSecret: x\n",
		    "bad.yaml:12:", "unknown field 'imagePullSecret'");
	expect_fail(HEAD "    serviceChannels:\n"
			 "    - advancedChannelSettings:\n"
			 "        maxDelay: soon\n",
		    "bad.yaml:14:", "maxDelay");
	expect_fail(HEAD "    serviceChanels: []\n",
		    "bad.yaml:12:", "unknown field 'serviceChanels'");
	expect_fail(HEAD "      restartPolicy: Sometimes\n",
		    "bad.yaml:12:", "Always, OnFailure, Never");
	expect_fail(HEAD "      nodeSelector: [a]\n",
		    "bad.yaml:12:", "expected a mapping");
	/* spec-level */
	expect_fail("apiVersion: codeco.he-codeco.eu/v1alpha1\n"
		    "kind: CodecoApp\n"
		    "metadata: {name: a}\n"
		    "spec:\n"
		    "  qosClass: Platinum\n"
		    "  codecoapp-msspec: []\n",
		    "bad.yaml:5:", "Gold, Silver, BestEffort");
	expect_fail("apiVersion: v1\nkind: Pod\n", "bad.yaml:1:", "apiVersion");
	expect_fail("apiVersion: codeco.he-codeco.eu/v1alpha1\n"
		    "kind: Deployment\n",
		    "bad.yaml:2:", "kind must be CodecoApp");
	expect_fail("apiVersion: codeco.he-codeco.eu/v1alpha1\n"
		    "kind: CodecoApp\n"
		    "metadata: {name: a}\n"
		    "spec:\n"
		    "  codecoapp-msspec: []\n",
		    "bad.yaml:", "at least one service");
	/* no command */
	expect_fail("apiVersion: codeco.he-codeco.eu/v1alpha1\n"
		    "kind: CodecoApp\n"
		    "metadata: {name: a}\n"
		    "spec:\n"
		    "  codecoapp-msspec:\n"
		    "  - serviceName: web\n"
		    "    podspec:\n"
		    "      containers: [{name: web, image: nginx}]\n",
		    "bad.yaml:6:", "farnode.io/command.web");
	/* two containers */
	expect_fail("apiVersion: codeco.he-codeco.eu/v1alpha1\n"
		    "kind: CodecoApp\n"
		    "metadata: {name: a}\n"
		    "spec:\n"
		    "  codecoapp-msspec:\n"
		    "  - serviceName: web\n"
		    "    podspec:\n"
		    "      containers: [{name: a}, {name: b}]\n",
		    "bad.yaml:8:", "one container per service");
	/* broken YAML */
	expect_fail("apiVersion: codeco.he-codeco.eu/v1alpha1\n"
		    "kind: [CodecoApp\n",
		    "bad.yaml:", "YAML");
	expect_fail("a: &x [1]\nb: *x\n", "bad.yaml:2:", "aliases");
	expect_fail("apiVersion: codeco.he-codeco.eu/v1alpha1\n"
		    "kind: CodecoApp\n"
		    "kind: CodecoApp\n",
		    "bad.yaml:3:", "duplicate key");
	expect_fail("", "bad.yaml:1:", "no CodecoApp document");
	/* unknown farnode annotation */
	expect_fail("apiVersion: codeco.he-codeco.eu/v1alpha1\n"
		    "kind: CodecoApp\n"
		    "metadata:\n"
		    "  name: a\n"
		    "  annotations:\n"
		    "    farnode.io/comand: x\n"
		    "spec: {}\n",
		    "bad.yaml:6:", "unknown annotation");
	/* duplicate ids */
	expect_fail("apiVersion: codeco.he-codeco.eu/v1alpha1\n"
		    "kind: CodecoApp\n"
		    "metadata: {name: a}\n"
		    "spec:\n"
		    "  codecoapp-msspec:\n"
		    "  - {serviceName: s, podspec: {containers: "
		    "[{command: [x]}]}}\n"
		    "  - {serviceName: s, podspec: {containers: "
		    "[{command: [x]}]}}\n",
		    "bad.yaml:7:", "appears twice");
	/* id too long */
	char big[600];
	snprintf(big, sizeof(big),
		 "apiVersion: codeco.he-codeco.eu/v1alpha1\n"
		 "kind: CodecoApp\n"
		 "metadata: {name: %060d}\n"
		 "spec:\n"
		 "  codecoapp-msspec:\n"
		 "  - {serviceName: service, podspec: {containers: "
		 "[{command: [x]}]}}\n",
		 0);
	expect_fail(big, "bad.yaml:6:", "longer than 63");
}

static void test_bounds(void **state)
{
	(void)state;
	struct workload_spec w[2];
	size_t n;
	char err[256];
	/* too many services for the caller's array */
	const char *three = "apiVersion: codeco.he-codeco.eu/v1alpha1\n"
			    "kind: CodecoApp\n"
			    "metadata: {name: a}\n"
			    "spec:\n"
			    "  codecoapp-msspec:\n"
			    "  - {serviceName: a, podspec: {containers: "
			    "[{command: [x]}]}}\n"
			    "  - {serviceName: b, podspec: {containers: "
			    "[{command: [x]}]}}\n"
			    "  - {serviceName: c, podspec: {containers: "
			    "[{command: [x]}]}}\n";
	assert_int_equal(manifest_parse(three, strlen(three), "f", w, 2, &n,
					err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "more than 2 services"));
	/* oversized input */
	size_t big = MANIFEST_MAX_BYTES + 1;
	char *buf = malloc(big);
	memset(buf, '#', big);
	assert_int_equal(
	    manifest_parse(buf, big, "f", w, 2, &n, err, sizeof(err)),
	    -EMSGSIZE);
	/* deep nesting */
	size_t len = 0;
	for (int i = 0; i < 40; i++) {
		buf[len++] = '[';
	}
	for (int i = 0; i < 40; i++) {
		buf[len++] = ']';
	}
	assert_int_equal(
	    manifest_parse(buf, len, "f", w, 2, &n, err, sizeof(err)),
	    -EBADMSG);
	assert_non_null(strstr(err, "nesting"));
	/* too many nodes */
	len = (size_t)snprintf(buf, MANIFEST_MAX_BYTES, "[");
	for (int i = 0; i < 5000; i++) {
		len +=
		    (size_t)snprintf(buf + len, MANIFEST_MAX_BYTES - len, "1,");
	}
	buf[len++] = ']';
	assert_int_equal(
	    manifest_parse(buf, len, "f", w, 2, &n, err, sizeof(err)),
	    -EBADMSG);
	assert_non_null(strstr(err, "YAML nodes"));
	free(buf);
}

static void test_oci_and_runtime_annotations(void **state)
{
	(void)state;
	const char *y = "apiVersion: codeco.he-codeco.eu/v1alpha1\n"
			"kind: CodecoApp\n"
			"metadata:\n"
			"  name: cam\n"
			"  annotations:\n"
			"    farnode.io/runtime: oci\n"
			"    farnode.io/bundle.detector: /var/lib/bundles/det\n"
			"    farnode.io/restart: never\n"
			"spec:\n"
			"  codecoapp-msspec:\n"
			"  - serviceName: detector\n"
			"    podspec:\n"
			"      restartPolicy: Always\n"
			"      containers: [{name: d, image: det:1}]\n";
	struct workload_spec w[1];
	size_t n;
	char err[256];
	int rc = manifest_parse(y, strlen(y), "f", w, 1, &n, err, sizeof(err));
	if (rc != 0) {
		fail_msg("%s", err);
	}
	assert_int_equal(w[0].runtime, RUNTIME_OCI);
	assert_string_equal(w[0].bundle, "/var/lib/bundles/det");
	assert_int_equal(w[0].restart, RESTART_NEVER); /* annotation wins */
	assert_string_equal(w[0].id, "cam-detector");
}

static void test_quantities(void **state)
{
	(void)state;
	uint32_t m;
	uint64_t b;
	double q;
	assert_int_equal(manifest_parse_cpu("250m", &m), 0);
	assert_int_equal(m, 250);
	assert_int_equal(manifest_parse_cpu("0.5", &m), 0);
	assert_int_equal(m, 500);
	assert_int_equal(manifest_parse_cpu("2", &m), 0);
	assert_int_equal(m, 2000);
	assert_int_equal(manifest_parse_cpu("1e-3", &m), 0);
	assert_int_equal(m, 1);
	assert_int_equal(manifest_parse_cpu("0.0005", &m), -ERANGE);
	assert_int_equal(manifest_parse_cpu("2000", &m), -ERANGE);
	assert_int_equal(manifest_parse_cpu("-1", &m), -EINVAL);
	assert_int_equal(manifest_parse_cpu("abc", &m), -EINVAL);
	assert_int_equal(manifest_parse_cpu("", &m), -EINVAL);
	assert_int_equal(manifest_parse_cpu("1 m", &m), -EINVAL);

	assert_int_equal(manifest_parse_bytes("64Mi", &b), 0);
	assert_true(b == 64ull << 20);
	assert_int_equal(manifest_parse_bytes("1.5Gi", &b), 0);
	assert_true(b == 3ull << 29);
	assert_int_equal(manifest_parse_bytes("128M", &b), 0);
	assert_true(b == 128000000ull);
	assert_int_equal(manifest_parse_bytes("129e6", &b), 0);
	assert_true(b == 129000000ull);
	assert_int_equal(manifest_parse_bytes("1P", &b), 0);
	assert_true(b == 1000000000000000ull);
	/* a bare E is exa (too big for exact bytes), e3 an exponent */
	assert_int_equal(manifest_parse_bytes("1E", &b), -ERANGE);
	assert_int_equal(manifest_parse_bytes("1e3", &b), 0);
	assert_true(b == 1000);
	assert_int_equal(manifest_parse_bytes("1024", &b), 0);
	assert_true(b == 1024);
	assert_int_equal(manifest_parse_bytes("10Ei", &b), -ERANGE);
	assert_int_equal(manifest_parse_bytes("64MB", &b), -EINVAL);
	assert_int_equal(manifest_quantity("1e999", &q), -EINVAL);
	assert_int_equal(manifest_quantity(".5", &q), 0);
	assert_true(fabs(q - 0.5) < 1e-12);
	assert_int_equal(manifest_quantity(".", &q), -EINVAL);

	assert_int_equal(manifest_parse_delay_ms("200ms", &m), 0);
	assert_int_equal(m, 200);
	assert_int_equal(manifest_parse_delay_ms("2s", &m), 0);
	assert_int_equal(m, 2000);
	assert_int_equal(manifest_parse_delay_ms("1.5s", &m), 0);
	assert_int_equal(m, 1500);
	assert_int_equal(manifest_parse_delay_ms("10e-3", &m), 0);
	assert_int_equal(m, 10);
	assert_int_equal(manifest_parse_delay_ms("100m", &m), 0);
	assert_int_equal(m, 100);
	assert_int_equal(manifest_parse_delay_ms("1", &m), 0);
	assert_int_equal(m, 1000);
	assert_int_equal(manifest_parse_delay_ms("500us", &m), 0);
	assert_int_equal(m, 1); /* rounded up */
	assert_int_equal(manifest_parse_delay_ms("90000s", &m), -ERANGE);
	assert_int_equal(manifest_parse_delay_ms("ms", &m), -EINVAL);
	assert_int_equal(manifest_parse_delay_ms("5Mis", &m), -EINVAL);
	assert_int_equal(manifest_parse_delay_ms("fast", &m), -EINVAL);

	assert_int_equal(manifest_parse_bandwidth("5M", &b), 0);
	assert_true(b == 5000000);
	assert_int_equal(manifest_parse_bandwidth("100k", &b), 0);
	assert_true(b == 100000);
}

static void test_split_command(void **state)
{
	(void)state;
	char argv[WORKLOAD_ARGV_MAX][WORKLOAD_ARG_MAX];
	assert_int_equal(manifest_split_command(
			     "  /bin/sh -c 'echo \"a b\"; x' \"q\\\"z\" e\\ f",
			     argv, WORKLOAD_ARGV_MAX),
			 5);
	assert_string_equal(argv[0], "/bin/sh");
	assert_string_equal(argv[2], "echo \"a b\"; x");
	assert_string_equal(argv[3], "q\"z");
	assert_string_equal(argv[4], "e f");
	assert_int_equal(manifest_split_command("a 'b", argv, 16), -EINVAL);
	assert_int_equal(manifest_split_command("   ", argv, 16), -EINVAL);
	assert_int_equal(manifest_split_command("a b c", argv, 2), -E2BIG);
	char longw[400];
	memset(longw, 'x', sizeof(longw) - 1);
	longw[sizeof(longw) - 1] = '\0';
	assert_int_equal(manifest_split_command(longw, argv, 16), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_mapping),
	    cmocka_unit_test(test_errors_have_file_line),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_oci_and_runtime_annotations),
	    cmocka_unit_test(test_quantities),
	    cmocka_unit_test(test_split_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
