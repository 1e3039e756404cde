/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime: the node's workloads (DESIGN §7). Each workload follows
 * pending → starting → running → exited/failed (or stopped by the
 * operator), with a reason for every transition, and a restart policy
 * (never, on-failure with capped exponential backoff, always). `proc`
 * workloads run under uv_spawn in their own cgroup v2 leaf when the
 * delegated subtree allows it; `oci` workloads are driven through crun.
 * Every transition is written to the store's workloads table first, so a
 * restarted agent re-adopts running processes (pid + start time) and a
 * rebooted node starts the desired workloads again without the hub.
 */
#ifndef FARNODE_RUNTIME_H
#define FARNODE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "node.h"
#include "workload.h"

struct runtime;
struct store;

/* What admission decides for a workload that wants to run. */
enum runtime_admit {
	ADMIT_RUN_LOCAL = 0,	/* start it here now */
	ADMIT_KEEP_PENDING = 1, /* not now; asked again when capacity frees */
	ADMIT_OFFLOAD = 2,	/* a neighbour runs it (phase offloaded) */
	ADMIT_REJECT = 3,	/* never here (phase failed, reason given) */
};

/* Capacity snapshot handed to admission. */
struct runtime_capacity {
	uint32_t cpu_milli_total; /* schedulable cpu, milli-cores */
	uint32_t cpu_milli_used;  /* requested by starting/running workloads */
	uint64_t mem_total_bytes; /* schedulable memory */
	uint64_t mem_used_bytes;  /* requested by starting/running workloads */
	uint32_t active;	  /* starting + running workloads */
	uint32_t max_workloads;
};

/*
 * The admission seam: the scheduler replaces this callback, not the
 * runtime. On KEEP_PENDING / OFFLOAD / REJECT it writes a short reason into
 * why. ud is borrowed.
 */
typedef enum runtime_admit (*runtime_admit_fn)(
    void *ud, const struct workload_spec *spec,
    const struct runtime_capacity *cap, char *why, size_t why_len);

/* Default admission: run locally when cpu, memory and the workload count
 * fit, else keep pending. */
enum runtime_admit runtime_admit_local(void *ud,
				       const struct workload_spec *spec,
				       const struct runtime_capacity *cap,
				       char *why, size_t why_len);

/* Called after every phase change (after the store write). Borrowed args. */
typedef void (*runtime_event_fn)(void *ud, const struct workload_spec *spec,
				 const struct workload_status *st);

struct runtime_config {
	const char *data_dir;	 /* logs go to DATA_DIR/logs/ */
	const char *cgroup_root; /* "" = detect, "none" = no cgroups */
	uint32_t max_workloads;	 /* workloads kept (any phase) */
	uint64_t log_max_bytes;	 /* rotate a log beyond this size */
	uint32_t log_keep;	 /* rotated generations kept (.1 .. .N) */
	uint32_t backoff_initial_ms;
	uint32_t backoff_max_ms;
	uint32_t backoff_reset_ms;   /* a run this long resets the backoff */
	uint32_t stop_timeout_ms;    /* SIGTERM → SIGKILL grace */
	uint32_t pids_max;	     /* pids.max of each leaf; 0 = unlimited */
	uint32_t check_interval_ms;  /* log rotation, /proc liveness checks */
	const char *crun_path;	     /* NULL = "crun" from PATH */
	uint32_t cpu_milli_capacity; /* 0 = online cores × 1000 */
	uint64_t mem_capacity_bytes; /* 0 = 90% of physical memory */
	const char *boot_id;	     /* NULL = the kernel's boot_id (tests set
					it to simulate a reboot) */
};

/* Defaults: 64 workloads, 1 MiB logs × 2 kept, backoff 200 ms .. 300 s. */
void runtime_config_defaults(struct runtime_config *cfg);

/* How the runtime can use cgroups on this node. */
enum runtime_cgroup_mode {
	CGROUP_NONE = 0,   /* no writable cgroup v2: no leaves, no limits */
	CGROUP_TRACK = 1,  /* leaves (grouping, kill) but no controllers */
	CGROUP_LIMITS = 2, /* leaves with cpu.max, memory.max, pids.max */
};

/*
 * Make a runtime on loop with persistence in st (both borrowed, must
 * outlive it). Detects cgroups and creates DATA_DIR/logs. Does not touch
 * workloads yet (see runtime_resume). Returns 0 or -errno with a reason in
 * err.
 */
int runtime_new(uv_loop_t *loop, struct store *st,
		const struct runtime_config *cfg, struct runtime **out,
		char *err, size_t err_len);

/* Replace the admission callback (NULL restores runtime_admit_local). */
void runtime_set_admit(struct runtime *rt, runtime_admit_fn fn, void *ud);
void runtime_set_event_cb(struct runtime *rt, runtime_event_fn fn, void *ud);

/*
 * Load workloads from the store: running ones whose process still exists
 * (same boot, pid and start time) are adopted and tracked; those whose
 * process is gone are handled by their restart policy (after a reboot every
 * desired workload starts again); pending ones are admitted again. Runs
 * hosted for a neighbour are stopped (see runtime_create_hosted).
 * Returns the number of rows loaded or -errno.
 */
int runtime_resume(struct runtime *rt);

/*
 * Create a workload: validate, persist (phase pending), then admit.
 * -EINVAL (invalid spec), -EEXIST (id taken), -ENOSPC (max_workloads),
 * -EIO (store). A reason goes into why.
 */
int runtime_create(struct runtime *rt, const struct workload_spec *spec,
		   char *why, size_t why_len);
/* The same for a run hosted for neighbour `origin` (recorded with it): such
 * a run never outlives the agent, runtime_resume stops it (the offer that
 * would carry its result back is gone; the origin places it again). */
int runtime_create_hosted(struct runtime *rt, const struct workload_spec *spec,
			  const struct node_id *origin, char *why,
			  size_t why_len);

/*
 * Stop a workload: SIGTERM to its process group, SIGKILL after
 * stop_timeout_ms; no restart. Phase becomes stopped. -ENOENT unknown id.
 */
int runtime_stop_workload(struct runtime *rt, const char *id);

/*
 * Remove a workload that is not running (row, cgroup leaf and logs).
 * -EBUSY while starting/running/stopping, -ENOENT unknown id.
 */
int runtime_remove(struct runtime *rt, const char *id);

/*
 * Hand an offloaded workload (phase offloaded) back: it is pending again
 * (reason "handed back: <reason>"), keeps its record (created time,
 * restarts, history) and goes through admission at once, which may place
 * it anywhere again. -ENOENT unknown id (e.g. removed meanwhile), -EINVAL
 * not offloaded.
 */
int runtime_offload_back(struct runtime *rt, const char *id,
			 const char *reason);

/*
 * End an offloaded workload (phase offloaded) with the result its
 * neighbour reported: exit_code 0 → exited, anything else → failed, with
 * reason (may be NULL) and placed_on = ran_on (NULL keeps it). Written to
 * the store, then listeners are told. -ENOENT unknown id, -EINVAL not
 * offloaded.
 */
int runtime_offload_end(struct runtime *rt, const char *id,
			const struct node_id *ran_on, int32_t exit_code,
			const char *reason);

/* Copy one workload's spec and status. -ENOENT unknown id. */
int runtime_get(struct runtime *rt, const char *id, struct workload_spec *spec,
		struct workload_status *st);

/* Visit every workload (in creation order); stop when fn returns non-zero. */
typedef int (*runtime_visit_fn)(void *ud, const struct workload_spec *spec,
				const struct workload_status *st);
int runtime_foreach(struct runtime *rt, runtime_visit_fn fn, void *ud);

/* Number of workloads known (any phase). */
uint32_t runtime_count(const struct runtime *rt);

/* Path of a workload's current log file. -ENOENT unknown id. */
int runtime_log_path(struct runtime *rt, const char *id, char *out,
		     size_t out_len);

/* Rotated log generations kept (LOG.1 .. LOG.N). */
uint32_t runtime_log_keep(const struct runtime *rt);

/* Ask admission again for every pending workload. */
void runtime_readmit(struct runtime *rt);

/* Capacity and usage now. */
void runtime_capacity(const struct runtime *rt, struct runtime_capacity *cap);

/* Live config (SIGHUP): workload cap, log size, backoff cap. */
void runtime_set_limits(struct runtime *rt, uint32_t max_workloads,
			uint64_t log_max_bytes, uint32_t backoff_max_ms);

/* Set schedulable capacity (e.g. from metrics); 0 keeps the current value. */
void runtime_set_capacity(struct runtime *rt, uint32_t cpu_milli,
			  uint64_t mem_bytes);

enum runtime_cgroup_mode runtime_cgroup_mode(const struct runtime *rt);
/* Why limits are not applied ("" when they are). Borrowed. */
const char *runtime_cgroup_note(const struct runtime *rt);
/* The directory workload leaves are created in ("" when none). */
const char *runtime_cgroup_dir(const struct runtime *rt);

/*
 * Close every handle. Workloads keep running (they survive the agent);
 * their rows stay. The memory is released in the last close callback, so
 * the loop must run once more afterwards. NULL-safe.
 */
void runtime_free(struct runtime *rt);

/* Pure helpers, exposed for tests. */

/* "QUOTA PERIOD" for cpu.max from milli-cores ("max PERIOD" for 0). */
int runtime_cpu_max(uint32_t cpu_milli, uint32_t period_us, char *out,
		    size_t out_len);
/*
 * Parse the start time (field 22, clock ticks since boot) and state of
 * /proc/PID/stat content. -EBADMSG on malformed input.
 */
int runtime_parse_proc_stat(const char *buf, size_t len, uint64_t *start_ticks,
			    char *state);
/* Next backoff: double prev (initial when 0), capped at max. */
uint32_t runtime_backoff_next(uint32_t prev_ms, uint32_t initial_ms,
			      uint32_t max_ms);

/* Encode a spec as text (the store's spec column). Returns the length
 * written (excluding NUL) or -EMSGSIZE. */
int runtime_spec_encode(const struct workload_spec *s, char *out,
			size_t out_len);
/* Decode runtime_spec_encode output. -EBADMSG on anything unexpected. */
int runtime_spec_decode(const char *buf, size_t len, struct workload_spec *s);

#endif
