// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz target for the Q-table import decoder (agent/sched_share.c). Any
 * input is either refused with a documented code and a reason, or decodes
 * to in-range, finite, unique cells that apply exactly, merge without
 * producing a non-finite value, and re-encode to a file that decodes again.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_qtable: %s:%d: %s\n", __FILE__, \
				__LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

static struct sched *table;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!table) {
		struct sched_params p;
		sched_params_default(&p);
		CHECK(sched_new(&p, 1, &table) == 0);
	}
	struct sched_share *e = NULL;
	size_t n = 0;
	char why[256] = "";
	int rc = sched_import_decode(table, data, size, &e, &n, why,
				     sizeof(why));
	if (rc < 0) {
		CHECK(rc == -EBADMSG || rc == -EPROTO || rc == -ENOMEM);
		CHECK(e == NULL && n == 0 && why[0] != '\0');
		return 0;
	}
	uint32_t ns = sched_n_states(table), na = sched_n_actions(table);
	CHECK(n <= (size_t)ns * na);
	sched_q_clear(table);
	sched_import_apply(table, e, n);
	for (size_t i = 0; i < n; i++) {
		double q;
		uint32_t v;
		CHECK(e[i].state < ns && e[i].action < na);
		CHECK(isfinite(e[i].q));
		CHECK(sched_q_get(table, e[i].state, e[i].action, &q, &v) == 0);
		CHECK(q == e[i].q && v == e[i].visits);
	}
	struct sched_merge_result mr;
	CHECK(sched_merge(table, e, n, 0.5, &mr) == 0);
	CHECK(mr.merged + mr.refused == n);
	uint8_t *out = NULL;
	size_t len = 0;
	CHECK(sched_export_encode(table, 0, &out, &len) == 0);
	struct sched_share *e2 = NULL;
	size_t n2 = 0;
	CHECK(sched_import_decode(table, out, len, &e2, &n2, why,
				  sizeof(why)) == 0);
	for (size_t i = 0; i < n2; i++) {
		CHECK(isfinite(e2[i].q) && e2[i].visits > 0);
	}
	free(e2);
	free(out);
	free(e);
	sched_q_clear(table);
	return 0;
}
