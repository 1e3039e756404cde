// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz target for CodecoApp manifests (agent/manifest.c): any input must
 * either fail with a documented code and a "FILE:LINE:" message, or yield
 * workloads that pass workload_spec_validate. The quantity and command
 * helpers get the first line as a string too.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_manifest: %s:%d: %s\n",          \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

static struct workload_spec specs[MANIFEST_MAX_SERVICES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	size_t n = 12345;
	int rc = manifest_parse((const char *)data, size, "fuzz.yaml", specs,
				MANIFEST_MAX_SERVICES, &n, err, sizeof(err));
	if (rc == 0) {
		CHECK(n >= 1 && n <= MANIFEST_MAX_SERVICES);
		for (size_t i = 0; i < n; i++) {
			CHECK(workload_spec_validate(&specs[i], NULL, 0) == 0);
		}
	} else {
		CHECK(rc == -EBADMSG || rc == -EMSGSIZE || rc == -ENOMEM);
		CHECK(n == 0);
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		CHECK(rc != -EBADMSG || strncmp(err, "fuzz.yaml:", 10) == 0);
	}

	/* helpers on the first line */
	char line[300];
	size_t l = 0;
	while (l < size && l < sizeof(line) - 1 && data[l] != '\n' &&
	       data[l] != '\0') {
		line[l] = (char)data[l];
		l++;
	}
	line[l] = '\0';
	uint32_t u32;
	uint64_t u64;
	double q;
	(void)manifest_parse_cpu(line, &u32);
	(void)manifest_parse_bytes(line, &u64);
	(void)manifest_parse_delay_ms(line, &u32);
	(void)manifest_parse_bandwidth(line, &u64);
	if (manifest_quantity(line, &q) == 0) {
		CHECK(q >= 0.0);
	}
	static char argv[WORKLOAD_ARGV_MAX][WORKLOAD_ARG_MAX];
	int argc = manifest_split_command(line, argv, WORKLOAD_ARGV_MAX);
	CHECK(argc == -EINVAL || argc == -E2BIG ||
	      (argc >= 1 && argc <= WORKLOAD_ARGV_MAX));
	return 0;
}
