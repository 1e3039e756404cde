// SPDX-License-Identifier: Apache-2.0
/*
 * workload: names, parsing and validation of the workload model.
 */
#include "workload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NAME_TABLE(fn_name, fn_parse, type, ...)                          \
	static const char *const fn_name##_tab[] = {__VA_ARGS__};        \
	const char *fn_name(type v)                                      \
	{                                                                \
		if ((unsigned)v >=                                       \
		    sizeof(fn_name##_tab) / sizeof(fn_name##_tab[0])) {  \
			return "unknown";                                \
		}                                                        \
		return fn_name##_tab[v];                                 \
	}                                                                \
	int fn_parse(const char *s, type *out)                           \
	{                                                                \
		for (unsigned i = 0;                                     \
		     i < sizeof(fn_name##_tab) / sizeof(fn_name##_tab[0]); \
		     i++) {                                              \
			if (strcasecmp(s, fn_name##_tab[i]) == 0) {      \
				*out = (type)i;                          \
				return 0;                                \
			}                                                \
		}                                                        \
		return -EINVAL;                                          \
	}

NAME_TABLE(qos_class_name, qos_class_parse, enum qos_class, "besteffort",
	   "silver", "gold")
NAME_TABLE(perf_profile_name, perf_profile_parse, enum perf_profile,
	   "latency", "greenness", "resilience")
NAME_TABLE(restart_policy_name, restart_policy_parse, enum restart_policy,
	   "never", "on-failure", "always")
NAME_TABLE(workload_runtime_name, workload_runtime_parse,
	   enum workload_runtime, "proc", "oci")

const char *workload_phase_name(enum workload_phase p)
{
	static const char *const tab[] = {"pending", "starting", "running",
					  "exited",  "failed",   "stopped",
					  "offloaded"};
	if ((unsigned)p >= sizeof(tab) / sizeof(tab[0])) {
		return "unknown";
	}
	return tab[p];
}

static bool bounded(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

int workload_spec_validate(const struct workload_spec *s, char *why,
			   size_t why_len)
{
	const char *msg = NULL;

	if (!bounded(s->id, sizeof(s->id)) || s->id[0] == '\0') {
		msg = "id is empty or too long";
	} else if (!bounded(s->name, sizeof(s->name))) {
		msg = "name too long";
	} else if ((unsigned)s->qos > QOS_GOLD) {
		msg = "qos class out of range";
	} else if ((unsigned)s->profile > PERF_RESILIENCE) {
		msg = "performance profile out of range";
	} else if ((unsigned)s->restart > RESTART_ALWAYS) {
		msg = "restart policy out of range";
	} else if ((unsigned)s->failure_tolerance > FAILTOL_HIGH) {
		msg = "failure tolerance out of range";
	} else if (s->argc > WORKLOAD_ARGV_MAX || s->envc > WORKLOAD_ENV_MAX ||
		   s->n_locality > 4) {
		msg = "too many arguments, environment entries or labels";
	} else if (s->runtime == RUNTIME_PROC && s->argc == 0) {
		msg = "process workload without a command";
	} else if (s->runtime == RUNTIME_OCI && s->bundle[0] == '\0') {
		msg = "oci workload without a bundle path";
	} else if ((unsigned)s->runtime > RUNTIME_OCI) {
		msg = "runtime out of range";
	} else if (!(s->energy_limit_watts >= 0.0)) {
		msg = "energy limit must be >= 0";
	}
	if (msg == NULL) {
		for (uint32_t i = 0; i < s->argc; i++) {
			if (!bounded(s->argv[i], WORKLOAD_ARG_MAX)) {
				msg = "argument too long";
				break;
			}
		}
		for (uint32_t i = 0; i < s->envc && msg == NULL; i++) {
			if (!bounded(s->env[i], WORKLOAD_ARG_MAX) ||
			    strchr(s->env[i], '=') == NULL) {
				msg = "environment entry must be K=V";
			}
		}
	}
	if (msg != NULL) {
		if (why != NULL && why_len > 0) {
			snprintf(why, why_len, "%s", msg);
		}
		return -EINVAL;
	}
	return 0;
}
