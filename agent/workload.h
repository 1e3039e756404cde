/* SPDX-License-Identifier: Apache-2.0 */
/*
 * workload: the agent's workload model (DESIGN §7), a subset of CODECO's
 * CodecoApp. Plain value types shared by the runtime, the scheduler, the
 * store and the wire module. Strings are bounded, NUL-terminated arrays so a
 * spec can be copied by value; argv/env are bounded too.
 */
#ifndef FARNODE_WORKLOAD_H
#define FARNODE_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "node.h"

#define WORKLOAD_ID_MAX 64     /* bytes including NUL */
#define WORKLOAD_NAME_MAX 64
#define WORKLOAD_PATH_MAX 256
#define WORKLOAD_ARGV_MAX 16
#define WORKLOAD_ARG_MAX 256
#define WORKLOAD_ENV_MAX 16
#define WORKLOAD_REASON_MAX 128

enum qos_class {
	QOS_BESTEFFORT = 0,
	QOS_SILVER = 1,
	QOS_GOLD = 2,
};

/* performanceProfile: what the reward weights most. */
enum perf_profile {
	PERF_LATENCY = 0,
	PERF_GREENNESS = 1,
	PERF_RESILIENCE = 2,
};

enum workload_runtime {
	RUNTIME_PROC = 0, /* a process under cgroup v2 limits */
	RUNTIME_OCI = 1,  /* an OCI bundle through crun */
};

enum restart_policy {
	RESTART_NEVER = 0,
	RESTART_ON_FAILURE = 1,
	RESTART_ALWAYS = 2,
};

/* Failure tolerance (appFailureTolerance). */
enum failure_tolerance {
	FAILTOL_LOW = 0,
	FAILTOL_MEDIUM = 1,
	FAILTOL_HIGH = 2,
};

struct workload_spec {
	char id[WORKLOAD_ID_MAX];     /* unique, idempotency key */
	char name[WORKLOAD_NAME_MAX]; /* app/service name */
	enum qos_class qos;
	enum perf_profile profile;
	uint32_t cpu_milli;           /* requested cpu, milli-cores */
	uint64_t mem_bytes;           /* memory limit, bytes */
	uint32_t max_delay_ms;        /* deadline (maxDelay); 0 = none */
	uint64_t min_bandwidth_bps;   /* minBandwidth; 0 = none */
	double energy_limit_watts;    /* appEnergyLimit; 0 = none */
	enum failure_tolerance failure_tolerance;
	enum workload_runtime runtime;
	enum restart_policy restart;
	uint32_t n_locality;          /* data-locality labels: must run on a */
	struct node_label locality[4]; /* node carrying all of these */
	/* process runtime */
	uint32_t argc;
	char argv[WORKLOAD_ARGV_MAX][WORKLOAD_ARG_MAX];
	uint32_t envc;
	char env[WORKLOAD_ENV_MAX][WORKLOAD_ARG_MAX]; /* "K=V" */
	char cwd[WORKLOAD_PATH_MAX];
	/* oci runtime */
	char bundle[WORKLOAD_PATH_MAX];
};

enum workload_phase {
	WL_PENDING = 0,
	WL_STARTING = 1,
	WL_RUNNING = 2,
	WL_EXITED = 3,
	WL_FAILED = 4,
	WL_STOPPED = 5,    /* stopped by the operator */
	WL_OFFLOADED = 6,  /* handed to a neighbour; see status.placed_on */
};

struct workload_status {
	enum workload_phase phase;
	char reason[WORKLOAD_REASON_MAX];
	int32_t pid;
	uint64_t start_time_ticks; /* /proc/PID/stat starttime, for adoption */
	int32_t exit_code;         /* valid in EXITED/FAILED; -signal if killed */
	uint32_t restarts;
	uint64_t created_ms;       /* wall clock, ms since epoch */
	uint64_t started_ms;
	uint64_t finished_ms;
	struct node_id placed_on;  /* zero = this node */
	struct node_id origin;     /* zero = ours; else hosted for that node */
};

const char *qos_class_name(enum qos_class q);
int qos_class_parse(const char *s, enum qos_class *out);
const char *perf_profile_name(enum perf_profile p);
int perf_profile_parse(const char *s, enum perf_profile *out);
const char *restart_policy_name(enum restart_policy r);
int restart_policy_parse(const char *s, enum restart_policy *out);
const char *workload_phase_name(enum workload_phase p);
const char *workload_runtime_name(enum workload_runtime r);
int workload_runtime_parse(const char *s, enum workload_runtime *out);

/*
 * Check a spec for internal consistency (non-empty id, bounded strings,
 * argv for proc, bundle for oci). On failure returns -EINVAL and writes a
 * human-readable reason into why (may be NULL).
 */
int workload_spec_validate(const struct workload_spec *s, char *why,
			   size_t why_len);

#endif
