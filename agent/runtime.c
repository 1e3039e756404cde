// SPDX-License-Identifier: Apache-2.0
/*
 * runtime: the workload lifecycle.
 *
 * A workload is created pending and persisted; admission (a callback the
 * scheduler replaces) decides whether it starts here. Starting goes
 * through the proc or oci driver, which reports running or a failure.
 * Every exit, whoever observed it (our child's exit callback, a pidfd for
 * an adopted process, a /proc check), lands in rt__exited(), which turns it
 * into exited/failed/stopped with a reason and applies the restart policy:
 * never; on-failure and always with exponential backoff (initial doubled
 * per quick failure, capped; reset after a run of backoff_reset_ms).
 * The store row is written before anyone is told, so the table always
 * describes what the agent believes; runtime_resume() rebuilds from it.
 */
#define LOG_TAG "runtime"
#include "runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

void runtime_config_defaults(struct runtime_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->data_dir = ".";
	cfg->cgroup_root = "";
	cfg->max_workloads = 64;
	cfg->log_max_bytes = 1024 * 1024;
	cfg->log_keep = 2;
	cfg->backoff_initial_ms = 200;
	cfg->backoff_max_ms = 300 * 1000;
	cfg->backoff_reset_ms = 60 * 1000;
	cfg->stop_timeout_ms = 5000;
	cfg->pids_max = 1024;
	cfg->check_interval_ms = 1000;
}

uint64_t rt__wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint32_t runtime_backoff_next(uint32_t prev_ms, uint32_t initial_ms,
			      uint32_t max_ms)
{
	uint64_t next = prev_ms == 0 ? initial_ms : (uint64_t)prev_ms * 2;
	if (next > max_ms) {
		next = max_ms;
	}
	return (uint32_t)next;
}

static bool is_active(const struct wl *w)
{
	return w->st.phase == WL_STARTING || w->st.phase == WL_RUNNING;
}

static int stop_wl(struct wl *w, const char *why);

void runtime_capacity(const struct runtime *rt, struct runtime_capacity *cap)
{
	cap->cpu_milli_total = rt->cfg.cpu_milli_capacity;
	cap->mem_total_bytes = rt->cfg.mem_capacity_bytes;
	cap->cpu_milli_used = 0;
	cap->mem_used_bytes = 0;
	cap->active = 0;
	cap->max_workloads = rt->cfg.max_workloads;
	for (const struct wl *w = rt->head; w != NULL; w = w->next) {
		if (is_active(w)) {
			cap->cpu_milli_used += w->spec.cpu_milli;
			cap->mem_used_bytes += w->spec.mem_bytes;
			cap->active++;
		}
	}
}

void runtime_set_capacity(struct runtime *rt, uint32_t cpu_milli,
			  uint64_t mem_bytes)
{
	if (cpu_milli != 0) {
		rt->cfg.cpu_milli_capacity = cpu_milli;
	}
	if (mem_bytes != 0) {
		rt->cfg.mem_capacity_bytes = mem_bytes;
	}
}

enum runtime_admit runtime_admit_local(void *ud,
				       const struct workload_spec *spec,
				       const struct runtime_capacity *cap,
				       char *why, size_t why_len)
{
	(void)ud;
	if (cap->active >= cap->max_workloads) {
		snprintf(why, why_len, "node runs %u workloads (max %u)",
			 cap->active, cap->max_workloads);
		return ADMIT_KEEP_PENDING;
	}
	if ((uint64_t)cap->cpu_milli_used + spec->cpu_milli >
	    cap->cpu_milli_total) {
		snprintf(why, why_len, "cpu: %um requested, %um of %um free",
			 spec->cpu_milli,
			 cap->cpu_milli_total > cap->cpu_milli_used
			     ? cap->cpu_milli_total - cap->cpu_milli_used
			     : 0,
			 cap->cpu_milli_total);
		return ADMIT_KEEP_PENDING;
	}
	if (cap->mem_used_bytes + spec->mem_bytes > cap->mem_total_bytes) {
		snprintf(why, why_len,
			 "memory: %llu MiB requested, %llu MiB free",
			 (unsigned long long)(spec->mem_bytes >> 20),
			 (unsigned long long)((cap->mem_total_bytes >
						       cap->mem_used_bytes
						   ? cap->mem_total_bytes -
							 cap->mem_used_bytes
						   : 0) >>
					      20));
		return ADMIT_KEEP_PENDING;
	}
	return ADMIT_RUN_LOCAL;
}

static struct wl *find(const struct runtime *rt, const char *id)
{
	for (struct wl *w = rt->head; w != NULL; w = w->next) {
		if (strcmp(w->spec.id, id) == 0) {
			return w;
		}
	}
	return NULL;
}

void rt__set_phase(struct wl *w, enum workload_phase p, const char *fmt, ...)
{
	struct runtime *rt = w->rt;
	enum workload_phase old = w->st.phase;
	va_list ap;

	w->st.phase = p;
	va_start(ap, fmt);
	vsnprintf(w->st.reason, sizeof(w->st.reason), fmt, ap);
	va_end(ap);
	if (rt__store_update(w) != 0) {
		log_error("%s: cannot record phase %s in the store", w->spec.id,
			  workload_phase_name(p));
	}
	if (old != p) {
		log_info("%s: %s → %s (%s)", w->spec.id,
			 workload_phase_name(old), workload_phase_name(p),
			 w->st.reason);
	} else {
		log_debug("%s: %s (%s)", w->spec.id, workload_phase_name(p),
			  w->st.reason);
	}
	if (rt->event != NULL) {
		rt->event(rt->event_ud, &w->spec, &w->st);
	}
}

static void wl_timer_close_cb(uv_handle_t *h)
{
	struct wl *w = h->data;
	struct runtime *rt = w->rt;
	free(w);
	rt->open_handles--;
	if (rt->closing && rt->open_handles == 0) {
		free(rt);
	}
}

static void check_close_cb(uv_handle_t *h)
{
	struct runtime *rt = h->data;
	rt->open_handles--;
	if (rt->closing && rt->open_handles == 0) {
		free(rt);
	}
}

static void on_wl_timer(uv_timer_t *t);

static struct wl *wl_new(struct runtime *rt, const struct workload_spec *spec)
{
	struct wl *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return NULL;
	}
	w->rt = rt;
	w->spec = *spec;
	uv_timer_init(rt->loop, &w->timer);
	w->timer.data = w;
	rt->open_handles++;
	return w;
}

static void wl_link(struct runtime *rt, struct wl *w)
{
	w->next = NULL;
	*rt->tail = w;
	rt->tail = &w->next;
	rt->n++;
}

static void wl_unlink_and_free(struct runtime *rt, struct wl *w)
{
	for (struct wl **pp = &rt->head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			if (rt->tail == &w->next) {
				rt->tail = pp;
			}
			rt->n--;
			break;
		}
	}
	w->removed = true;
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, wl_timer_close_cb);
}

static void wl_admit(struct wl *w, bool restart);

/* Start the driver; failures come back through rt__exited(). */
static void wl_run(struct wl *w)
{
	int rc;

	w->stopping = false;
	w->st.pid = 0;
	w->st.start_time_ticks = 0;
	w->st.exit_code = 0;
	w->run_since = uv_now(w->rt->loop);
	rt__set_phase(w, WL_STARTING, "starting");
	if (w->spec.runtime == RUNTIME_OCI) {
		rc = rt__oci_start(w);
	} else {
		rc = rt__proc_start(w);
	}
	(void)rc; /* the driver already moved the phase on failure */
}

/*
 * Ask admission whether w may run. A restart under the workload's restart
 * policy stays where the workload was placed: only local capacity is
 * checked, the scheduler is not asked to place it again.
 */
static void wl_admit(struct wl *w, bool restart)
{
	struct runtime *rt = w->rt;
	struct runtime_capacity cap;
	char why[WORKLOAD_REASON_MAX] = "";

	runtime_capacity(rt, &cap);
	enum runtime_admit d =
	    restart
		? runtime_admit_local(NULL, &w->spec, &cap, why, sizeof(why))
		: rt->admit(rt->admit_ud, &w->spec, &cap, why, sizeof(why));
	switch (d) {
	case ADMIT_RUN_LOCAL:
		wl_run(w);
		break;
	case ADMIT_KEEP_PENDING:
		if (w->st.phase != WL_PENDING ||
		    strcmp(w->st.reason, why) != 0) {
			rt__set_phase(w, WL_PENDING, "%s", why);
		}
		break;
	case ADMIT_OFFLOAD:
		w->desired = false;
		rt__set_phase(w, WL_OFFLOADED, "%s", why);
		break;
	case ADMIT_REJECT:
	default:
		w->desired = false;
		w->st.finished_ms = rt__wall_ms();
		rt__set_phase(w, WL_FAILED, "rejected: %s", why);
		break;
	}
}

void runtime_readmit(struct runtime *rt)
{
	if (rt->readmitting || rt->closing) {
		return; /* an admission inside an admission: the outer loop
			   sees the new state */
	}
	rt->readmitting = true;
	for (struct wl *w = rt->head; w != NULL; w = w->next) {
		if (w->desired && w->st.phase == WL_PENDING &&
		    w->timer_kind == TIMER_IDLE) {
			wl_admit(w, false);
		}
	}
	rt->readmitting = false;
}

static void on_wl_timer(uv_timer_t *t)
{
	struct wl *w = t->data;
	enum wl_timer kind = w->timer_kind;
	w->timer_kind = TIMER_IDLE;
	if (kind == TIMER_RESTART) {
		if (w->desired && !w->stopping) {
			w->st.restarts++;
			wl_admit(w, true);
		}
	} else if (kind == TIMER_KILL) {
		if (w->track != TRACK_NONE) {
			log_warn("%s: still running %u ms after SIGTERM; "
				 "sending SIGKILL",
				 w->spec.id, w->rt->cfg.stop_timeout_ms);
			rt__signal(w, SIGKILL);
			rt__cgroup_kill(w);
		}
	}
}

void rt__exited(struct wl *w, bool known, int64_t exit_status, int term_signal)
{
	struct runtime *rt = w->rt;
	char why[WORKLOAD_REASON_MAX];
	bool failed;

	rt__untrack(w);
	if (w->timer_kind == TIMER_KILL) {
		uv_timer_stop(&w->timer);
		w->timer_kind = TIMER_IDLE;
	}
	bool oom = rt__cgroup_oom(w);
	rt__cgroup_remove(w);
	if (w->spec.runtime == RUNTIME_OCI) {
		rt__oci_cleanup(w);
	}
	w->st.finished_ms = rt__wall_ms();
	w->st.pid = 0;

	if (term_signal != 0) {
		w->st.exit_code = -term_signal;
	} else {
		w->st.exit_code = (int32_t)exit_status;
	}
	if (w->stopping) {
		w->stopping = false;
		w->desired = false;
		rt__set_phase(w, WL_STOPPED, "%s",
			      w->stop_why ? w->stop_why
					  : "stopped by operator");
		runtime_readmit(rt);
		return;
	}

	if (oom) {
		failed = true;
		snprintf(why, sizeof(why),
			 "killed at memory.max (%llu bytes): out of memory",
			 (unsigned long long)w->spec.mem_bytes);
	} else if (!known) {
		failed = true;
		snprintf(why, sizeof(why),
			 "exited while not our child; exit status unknown");
	} else if (term_signal != 0) {
		failed = true;
		snprintf(why, sizeof(why), "killed by signal %d (%s)",
			 term_signal, strsignal(term_signal));
	} else if (exit_status == 0) {
		failed = false;
		snprintf(why, sizeof(why), "exited with code 0");
	} else if (w->st.reason[0] != '\0' && exit_status < 0) {
		/* a driver failure reason is already in place */
		failed = true;
		snprintf(why, sizeof(why), "%s", w->st.reason);
	} else {
		failed = true;
		snprintf(why, sizeof(why), "exited with code %lld",
			 (long long)exit_status);
	}

	enum workload_phase phase = failed ? WL_FAILED : WL_EXITED;
	bool restart =
	    w->desired && (w->spec.restart == RESTART_ALWAYS ||
			   (w->spec.restart == RESTART_ON_FAILURE && failed));
	if (!restart) {
		w->desired = false;
		rt__set_phase(w, phase, "%s", why);
		runtime_readmit(rt);
		return;
	}
	uint64_t ran = uv_now(rt->loop) - w->run_since;
	if (ran >= rt->cfg.backoff_reset_ms) {
		w->backoff_ms = 0;
	}
	w->backoff_ms = runtime_backoff_next(
	    w->backoff_ms, rt->cfg.backoff_initial_ms, rt->cfg.backoff_max_ms);
	w->timer_kind = TIMER_RESTART;
	uv_timer_start(&w->timer, on_wl_timer, w->backoff_ms, 0);
	rt__set_phase(w, phase, "%.80s; restart in %u ms", why, w->backoff_ms);
	runtime_readmit(rt);
}

void rt__fail_start(struct wl *w, const char *why)
{
	snprintf(w->st.reason, sizeof(w->st.reason), "%s", why);
	rt__exited(w, true, -1, 0);
}

int runtime_new(uv_loop_t *loop, struct store *st,
		const struct runtime_config *cfg, struct runtime **out,
		char *err, size_t err_len)
{
	struct runtime *rt = calloc(1, sizeof(*rt));
	*out = NULL;
	if (rt == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	rt->loop = loop;
	rt->store = st;
	rt->cfg = *cfg;
	rt->head = NULL;
	rt->tail = &rt->head;
	rt->admit = runtime_admit_local;
	snprintf(rt->data_dir, sizeof(rt->data_dir), "%s",
		 cfg->data_dir != NULL ? cfg->data_dir : ".");
	rt->cfg.data_dir = rt->data_dir;
	if (snprintf(rt->log_dir, sizeof(rt->log_dir), "%s/logs",
		     rt->data_dir) >= (int)sizeof(rt->log_dir) ||
	    snprintf(rt->oci_root, sizeof(rt->oci_root), "%s/oci",
		     rt->data_dir) >= (int)sizeof(rt->oci_root)) {
		snprintf(err, err_len, "%s: path too long", rt->data_dir);
		free(rt);
		return -ENAMETOOLONG;
	}
	if (mkdir(rt->log_dir, 0750) != 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, err_len, "%s: cannot create: %s", rt->log_dir,
			 strerror(e));
		free(rt);
		return -e;
	}
	snprintf(rt->crun, sizeof(rt->crun), "%s",
		 cfg->crun_path != NULL && cfg->crun_path[0] != '\0'
		     ? cfg->crun_path
		     : "crun");
	rt->cfg.crun_path = rt->crun;
	rt->cfg.boot_id = NULL;
	const char *path = getenv("PATH");
	snprintf(rt->base_path, sizeof(rt->base_path), "PATH=%s",
		 path != NULL ? path : "/usr/local/bin:/usr/bin:/bin");

	int fd = -1;
	if (cfg->boot_id != NULL && cfg->boot_id[0] != '\0') {
		snprintf(rt->boot_id, sizeof(rt->boot_id), "%s", cfg->boot_id);
	} else {
		fd = open("/proc/sys/kernel/random/boot_id",
			  O_RDONLY | O_CLOEXEC);
	}
	if (fd >= 0) {
		ssize_t n = read(fd, rt->boot_id, sizeof(rt->boot_id) - 1);
		close(fd);
		if (n > 0) {
			rt->boot_id[n] = '\0';
			rt->boot_id[strcspn(rt->boot_id, "\n")] = '\0';
		}
	}
	if (rt->cfg.cpu_milli_capacity == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		rt->cfg.cpu_milli_capacity = (uint32_t)(n > 0 ? n : 1) * 1000;
	}
	if (rt->cfg.mem_capacity_bytes == 0) {
		long pages = sysconf(_SC_PHYS_PAGES);
		long psz = sysconf(_SC_PAGESIZE);
		if (pages > 0 && psz > 0) {
			rt->cfg.mem_capacity_bytes =
			    (uint64_t)pages * (uint64_t)psz / 10 * 9;
		}
	}
	if (rt->cfg.backoff_initial_ms == 0) {
		rt->cfg.backoff_initial_ms = 1;
	}
	if (rt->cfg.check_interval_ms == 0) {
		rt->cfg.check_interval_ms = 1000;
	}
	rt__cgroup_detect(rt);

	uv_timer_init(loop, &rt->check);
	rt->check.data = rt;
	rt->open_handles++;
	*out = rt;
	return 0;
}

void runtime_set_admit(struct runtime *rt, runtime_admit_fn fn, void *ud)
{
	rt->admit = fn != NULL ? fn : runtime_admit_local;
	rt->admit_ud = fn != NULL ? ud : NULL;
}

void runtime_set_event_cb(struct runtime *rt, runtime_event_fn fn, void *ud)
{
	rt->event = fn;
	rt->event_ud = ud;
}

static void on_check(uv_timer_t *t)
{
	struct runtime *rt = t->data;
	rt__log_rotate_all(rt);
	rt__check_procs(rt);
}

static int load_one(struct runtime *rt, const struct workload_spec *spec,
		    const struct workload_status *st, bool desired,
		    const char *boot_id)
{
	struct wl *w = wl_new(rt, spec);
	if (w == NULL) {
		return -ENOMEM;
	}
	w->st = *st;
	w->desired = desired;
	wl_link(rt, w);
	w->run_since = uv_now(rt->loop);
	bool same_boot =
	    rt->boot_id[0] != '\0' && strcmp(boot_id, rt->boot_id) == 0;

	switch (st->phase) {
	case WL_STARTING:
	case WL_RUNNING:
		if (same_boot && st->pid > 0 &&
		    rt__pid_matches(st->pid, st->start_time_ticks)) {
			if (rt__track_pid(w) == 0) {
				log_info("%s: adopted running pid %d", spec->id,
					 (int)st->pid);
				if (st->phase != WL_RUNNING) {
					rt__set_phase(w, WL_RUNNING,
						      "adopted after agent "
						      "restart");
				}
				break;
			}
		}
		if (!same_boot) {
			w->st.pid = 0;
			if (w->desired) {
				rt__set_phase(w, WL_PENDING,
					      "node rebooted; starting again");
			} else {
				rt__set_phase(w, WL_EXITED,
					      "node rebooted while running");
			}
			break;
		}
		log_info("%s: pid %d is gone (exited while the agent was "
			 "down)",
			 spec->id, (int)st->pid);
		rt__exited(w, false, 0, 0);
		break;
	case WL_EXITED:
	case WL_FAILED:
		if (w->desired) {
			/* a restart was due when the agent went down */
			w->timer_kind = TIMER_RESTART;
			w->backoff_ms = rt->cfg.backoff_initial_ms;
			uv_timer_start(&w->timer, on_wl_timer, w->backoff_ms,
				       0);
		}
		break;
	case WL_PENDING:
	case WL_STOPPED:
	case WL_OFFLOADED:
	default:
		break;
	}
	return 0;
}

int runtime_resume(struct runtime *rt)
{
	int n = rt__store_load(rt, load_one);
	if (n < 0) {
		return n;
	}
	/* A run hosted for a neighbour does not outlive the agent that
	   hosted it: the offer's state was in memory, so its result could
	   never be reported, and the origin decides again when it sees this
	   agent's new generation in gossip (or the promise lapses, or this
	   node was declared dead). Letting it go on would run it twice. */
	for (struct wl *w = rt->head; w != NULL; w = w->next) {
		if (!node_id_is_zero(&w->st.origin) &&
		    (is_active(w) || w->st.phase == WL_PENDING)) {
			char who[NODE_ID_STR_LEN];
			node_id_format(&w->st.origin, who);
			log_warn(
			    "%s: hosted for %s before this agent restarted;"
			    " stopped (the origin places it again)",
			    w->spec.id, who);
			stop_wl(w, "hosted run ended by an agent restart");
		}
	}
	runtime_readmit(rt);
	uv_timer_start(&rt->check, on_check, rt->cfg.check_interval_ms,
		       rt->cfg.check_interval_ms);
	return n;
}

int runtime_create(struct runtime *rt, const struct workload_spec *spec,
		   char *why, size_t why_len)
{
	return runtime_create_hosted(rt, spec, NULL, why, why_len);
}

int runtime_create_hosted(struct runtime *rt, const struct workload_spec *spec,
			  const struct node_id *origin, char *why,
			  size_t why_len)
{
	char tmp[WORKLOAD_REASON_MAX];
	if (why == NULL || why_len == 0) {
		why = tmp;
		why_len = sizeof(tmp);
	}
	why[0] = '\0';
	if (workload_spec_validate(spec, why, why_len) != 0) {
		return -EINVAL;
	}
	for (const char *p = spec->id; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		      *p == '.') ||
		    (p == spec->id && *p == '.')) {
			snprintf(why, why_len,
				 "id may only contain letters, digits, '-', "
				 "'_' and '.' (not leading)");
			return -EINVAL;
		}
	}
	if (find(rt, spec->id) != NULL) {
		snprintf(why, why_len, "workload %s exists", spec->id);
		return -EEXIST;
	}
	if (rt->n >= rt->cfg.max_workloads) {
		snprintf(why, why_len,
			 "node keeps at most %u workloads (remove some)",
			 rt->cfg.max_workloads);
		return -ENOSPC;
	}
	struct wl *w = wl_new(rt, spec);
	if (w == NULL) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	w->desired = true;
	w->st.phase = WL_PENDING;
	snprintf(w->st.reason, sizeof(w->st.reason), "created");
	w->st.created_ms = rt__wall_ms();
	if (origin != NULL) {
		w->st.origin = *origin;
	}
	int rc = rt__store_insert(w);
	if (rc != 0) {
		snprintf(why, why_len, "%s",
			 rc == -EEXIST ? "workload exists in the store"
				       : "cannot write the store");
		w->removed = true;
		uv_close((uv_handle_t *)&w->timer, wl_timer_close_cb);
		return rc;
	}
	wl_link(rt, w);
	if (!uv_is_active((uv_handle_t *)&rt->check)) {
		uv_timer_start(&rt->check, on_check, rt->cfg.check_interval_ms,
			       rt->cfg.check_interval_ms);
	}
	wl_admit(w, false);
	return 0;
}

int runtime_stop_workload(struct runtime *rt, const char *id)
{
	struct wl *w = find(rt, id);
	if (w == NULL) {
		return -ENOENT;
	}
	return stop_wl(w, NULL);
}

static int stop_wl(struct wl *w, const char *why)
{
	struct runtime *rt = w->rt;
	w->desired = false;
	w->stop_why = why;
	if (w->track != TRACK_NONE ||
	    (w->st.phase == WL_STARTING && w->spec.runtime == RUNTIME_OCI)) {
		if (!w->stopping) {
			w->stopping = true;
			rt__signal(w, SIGTERM);
			w->timer_kind = TIMER_KILL;
			uv_timer_start(&w->timer, on_wl_timer,
				       rt->cfg.stop_timeout_ms, 0);
			rt__set_phase(w, w->st.phase, "stopping (SIGTERM)");
		}
		return 0;
	}
	bool restart_due = w->timer_kind == TIMER_RESTART;
	uv_timer_stop(&w->timer);
	w->timer_kind = TIMER_IDLE;
	if (w->st.phase == WL_PENDING || restart_due) {
		w->st.finished_ms = rt__wall_ms();
		rt__set_phase(w, WL_STOPPED, "%s",
			      w->stop_why ? w->stop_why
					  : "stopped by operator");
		return 0;
	}
	if (rt__store_update(w) != 0) {
		return -EIO;
	}
	return 0;
}

int runtime_remove(struct runtime *rt, const char *id)
{
	struct wl *w = find(rt, id);
	if (w == NULL) {
		return -ENOENT;
	}
	if (w->stopping || w->track != TRACK_NONE || is_active(w)) {
		return -EBUSY;
	}
	int rc = rt__store_delete(rt, id);
	if (rc != 0) {
		return rc;
	}
	rt__cgroup_remove(w);
	rt__log_remove(rt, id);
	log_info("%s: removed", id);
	wl_unlink_and_free(rt, w);
	return 0;
}

int runtime_offload_back(struct runtime *rt, const char *id, const char *reason)
{
	struct wl *w = find(rt, id);
	if (w == NULL) {
		return -ENOENT;
	}
	if (w->st.phase != WL_OFFLOADED) {
		return -EINVAL;
	}
	memset(&w->st.placed_on, 0, sizeof(w->st.placed_on));
	w->desired = true;
	rt__set_phase(w, WL_PENDING, "handed back: %s",
		      reason != NULL ? reason : "by the offload");
	wl_admit(w, false);
	return 0;
}

int runtime_offload_end(struct runtime *rt, const char *id,
			const struct node_id *ran_on, int32_t exit_code,
			const char *reason)
{
	struct wl *w = find(rt, id);
	if (w == NULL) {
		return -ENOENT;
	}
	if (w->st.phase != WL_OFFLOADED) {
		return -EINVAL;
	}
	if (ran_on != NULL) {
		w->st.placed_on = *ran_on;
	}
	w->desired = false;
	w->st.exit_code = exit_code;
	w->st.finished_ms = rt__wall_ms();
	rt__set_phase(w, exit_code == 0 ? WL_EXITED : WL_FAILED,
		      "on a neighbour: %s",
		      reason != NULL && reason[0] != '\0'
			  ? reason
			  : (exit_code == 0 ? "exited with code 0" : "failed"));
	return 0;
}

int runtime_get(struct runtime *rt, const char *id, struct workload_spec *spec,
		struct workload_status *st)
{
	struct wl *w = find(rt, id);
	if (w == NULL) {
		return -ENOENT;
	}
	if (spec != NULL) {
		*spec = w->spec;
	}
	if (st != NULL) {
		*st = w->st;
	}
	return 0;
}

int runtime_foreach(struct runtime *rt, runtime_visit_fn fn, void *ud)
{
	for (struct wl *w = rt->head; w != NULL; w = w->next) {
		int rc = fn(ud, &w->spec, &w->st);
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

uint32_t runtime_count(const struct runtime *rt)
{
	return rt->n;
}

int runtime_log_path(struct runtime *rt, const char *id, char *out,
		     size_t out_len)
{
	if (find(rt, id) == NULL) {
		return -ENOENT;
	}
	return rt__log_path(rt, id, 0, out, out_len);
}

enum runtime_cgroup_mode runtime_cgroup_mode(const struct runtime *rt)
{
	return rt->cg_mode;
}

const char *runtime_cgroup_note(const struct runtime *rt)
{
	return rt->cg_note;
}

const char *runtime_cgroup_dir(const struct runtime *rt)
{
	return rt->cg_dir;
}

void runtime_free(struct runtime *rt)
{
	if (rt == NULL) {
		return;
	}
	rt->closing = true;
	struct wl *w = rt->head;
	while (w != NULL) {
		struct wl *next = w->next;
		rt__untrack(w); /* processes keep running */
		uv_timer_stop(&w->timer);
		w->removed = true;
		uv_close((uv_handle_t *)&w->timer, wl_timer_close_cb);
		w = next;
	}
	rt__close_procs(rt); /* crun helpers still running */
	rt->head = NULL;
	rt->tail = &rt->head;
	rt->n = 0;
	uv_close((uv_handle_t *)&rt->check, check_close_cb);
}

void runtime_set_limits(struct runtime *rt, uint32_t max_workloads,
			uint64_t log_max_bytes, uint32_t backoff_max_ms)
{
	if (max_workloads != 0) {
		rt->cfg.max_workloads = max_workloads;
	}
	if (log_max_bytes != 0) {
		rt->cfg.log_max_bytes = log_max_bytes;
	}
	if (backoff_max_ms != 0) {
		rt->cfg.backoff_max_ms = backoff_max_ms;
	}
	runtime_readmit(rt);
}

uint32_t runtime_log_keep(const struct runtime *rt)
{
	return rt->cfg.log_keep;
}
