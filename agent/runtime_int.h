/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime_int: internals shared by the runtime's files (runtime.c core,
 * runtime_proc.c processes, runtime_cgroup.c, runtime_log.c,
 * runtime_store.c, runtime_oci.c). Not for other modules.
 */
#ifndef FARNODE_RUNTIME_INT_H
#define FARNODE_RUNTIME_INT_H

#include "runtime.h"

#define RT_PATH_MAX 512

enum wl_track {
	TRACK_NONE = 0,
	TRACK_CHILD = 1, /* our child: uv_process_t exit callback */
	TRACK_PIDFD = 2, /* not our child: pidfd readable on exit */
	TRACK_PROC = 3,	 /* not our child, no pidfd: periodic /proc check */
};

enum wl_timer {
	TIMER_IDLE = 0,
	TIMER_RESTART = 1, /* backoff elapsed: start again */
	TIMER_KILL = 2,	   /* stop grace elapsed: SIGKILL */
};

/* A spawned process: the workload itself (step 0) or a crun helper
   (step > 0, see runtime_oci.c). Freed in its close callback. */
struct wl_proc {
	uv_process_t h;
	struct runtime *rt;
	struct wl *w; /* NULL once the workload let go of it */
	int step;
	struct wl_proc *prev, *next; /* runtime's list of live processes */
};

/* A pidfd watched for the exit of a process that is not our child. */
struct wl_poll {
	uv_poll_t h;
	struct runtime *rt;
	int fd;
	struct wl *w;
};

struct wl {
	struct runtime *rt;
	struct wl *next;
	struct workload_spec spec;
	struct workload_status st;
	bool desired;  /* should be running (persisted) */
	bool stopping; /* operator stop in progress */
	const char *stop_why; /* reason once stopped (NULL: by operator) */
	bool removed;  /* unlinked; freed when the timer has closed */
	enum wl_track track;
	struct wl_proc *proc; /* our child: the workload or a crun step */
	struct wl_poll *poll;
	uv_timer_t timer;
	enum wl_timer timer_kind;
	uint32_t backoff_ms;
	uint64_t run_since;	  /* uv_now() when the current run began */
	char cgroup[RT_PATH_MAX]; /* leaf path, "" if none */
};

struct runtime {
	uv_loop_t *loop;
	struct store *store;
	struct runtime_config cfg;
	char data_dir[RT_PATH_MAX];
	char log_dir[RT_PATH_MAX];
	char crun[RT_PATH_MAX];
	char oci_root[RT_PATH_MAX];
	char boot_id[40];
	char base_path[1024]; /* PATH for children */
	enum runtime_cgroup_mode cg_mode;
	char cg_dir[RT_PATH_MAX];
	char cg_note[192];
	struct wl *head;
	struct wl **tail;
	uint32_t n;
	runtime_admit_fn admit;
	void *admit_ud;
	runtime_event_fn event;
	void *event_ud;
	uv_timer_t check;      /* log rotation, TRACK_PROC liveness */
	struct wl_proc *procs; /* every spawned process handle still open */
	uint32_t open_handles;
	bool readmitting;
	bool closing;
};

/* runtime.c */
void rt__set_phase(struct wl *w, enum workload_phase p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rt__exited(struct wl *w, bool known, int64_t exit_status, int term_signal);
/* A start failure before any process exists: a failed run with a reason
   (the restart policy applies). */
void rt__fail_start(struct wl *w, const char *why);
uint64_t rt__wall_ms(void);
void rt__handle_closed(uv_handle_t *h);

/* runtime_proc.c */
int rt__proc_start(struct wl *w);
int rt__track_pid(struct wl *w); /* adopted or oci: pidfd or /proc */
void rt__untrack(struct wl *w);
void rt__signal(struct wl *w, int sig);
bool rt__pid_matches(int32_t pid, uint64_t start_ticks);
int rt__read_start_ticks(int32_t pid, uint64_t *ticks);
void rt__check_procs(struct runtime *rt);

/* runtime_cgroup.c */
void rt__cgroup_detect(struct runtime *rt);
int rt__cgroup_create(struct wl *w, char *why, size_t why_len);
bool rt__cgroup_oom(struct wl *w);
void rt__cgroup_kill(struct wl *w);
void rt__cgroup_remove(struct wl *w);

/* runtime_log.c */
int rt__log_open(struct runtime *rt, const char *id);
int rt__log_path(const struct runtime *rt, const char *id, unsigned gen,
		 char *out, size_t out_len);
void rt__log_rotate_all(struct runtime *rt);
int rt__log_rotate(const char *path, uint64_t max_bytes, uint32_t keep);
void rt__log_remove(struct runtime *rt, const char *id);

/* runtime_store.c */
int rt__store_insert(struct wl *w);
int rt__store_update(struct wl *w);
int rt__store_delete(struct runtime *rt, const char *id);
typedef int (*rt_load_fn)(struct runtime *rt, const struct workload_spec *spec,
			  const struct workload_status *st, bool desired,
			  const char *boot_id);
int rt__store_load(struct runtime *rt, rt_load_fn fn);

/* runtime_proc.c: spawn a helper (crun) whose exit goes to
   rt__oci_step(w, step, ...); w may be NULL for fire-and-forget. */
int rt__spawn_helper(struct runtime *rt, struct wl *w, int step, char **args,
		     int out_fd);
void rt__proc_closed(uv_handle_t *h);
/* runtime_free: close every process handle (processes keep running). */
void rt__close_procs(struct runtime *rt);

/* runtime_oci.c */
int rt__oci_start(struct wl *w);
void rt__oci_step(struct wl *w, int step, int64_t status, int sig);
void rt__oci_signal(struct wl *w, int sig);
void rt__oci_cleanup(struct wl *w);

#endif
