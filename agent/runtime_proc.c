// SPDX-License-Identifier: Apache-2.0
/*
 * runtime_proc: processes. Spawns `proc` workloads (uv_spawn, own session,
 * stdout/stderr appended to the workload's log file, environment and cwd
 * from the spec, a tiny /bin/sh shim that joins the cgroup leaf before
 * exec so nothing runs outside it), tracks exits of our children through
 * libuv, and of processes that are not our children (adopted after an agent
 * restart, OCI containers) through a pidfd polled on the loop, or a
 * periodic /proc check where pidfd_open is missing. A pid is only believed
 * when /proc/PID/stat shows the recorded start time.
 */
#define LOG_TAG "runtime"
#include "runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* same number on every architecture */
#endif

/* $0 = the leaf's cgroup.procs; "$@" = the command. */
static const char cgroup_shim[] =
    "echo 0 >\"$0\" || { echo \"farnode: cannot join cgroup $0\" >&2; "
    "exit 125; }; exec \"$@\"";

int runtime_parse_proc_stat(const char *buf, size_t len, uint64_t *start_ticks,
			    char *state)
{
	const char *rp = NULL;
	for (size_t i = len; i > 0; i--) {
		if (buf[i - 1] == ')') {
			rp = buf + i - 1;
			break;
		}
	}
	if (rp == NULL) {
		return -EBADMSG;
	}
	size_t i = (size_t)(rp - buf) + 1;
	int field = 2; /* the ')' closes field 2 (comm) */
	uint64_t v = 0;
	char st = 0;
	while (i < len && field < 22) {
		while (i < len && buf[i] == ' ') {
			i++;
		}
		if (i >= len) {
			break;
		}
		field++;
		size_t start = i;
		if (field == 22) {
			v = 0;
			while (i < len && buf[i] >= '0' && buf[i] <= '9') {
				uint64_t d = (uint64_t)(buf[i] - '0');
				if (v > (UINT64_MAX - d) / 10) {
					return -EBADMSG;
				}
				v = v * 10 + d;
				i++;
			}
			if (i == start ||
			    (i < len && buf[i] != ' ' && buf[i] != '\n')) {
				return -EBADMSG;
			}
			break;
		}
		if (field == 3) {
			st = buf[i];
		}
		while (i < len && buf[i] != ' ' && buf[i] != '\n') {
			i++;
		}
	}
	if (field != 22 || st == 0) {
		return -EBADMSG;
	}
	*start_ticks = v;
	if (state != NULL) {
		*state = st;
	}
	return 0;
}

static int read_proc_stat(int32_t pid, uint64_t *ticks, char *state)
{
	char path[64];
	char buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	ssize_t n = read(fd, buf, sizeof(buf));
	int e = errno;
	close(fd);
	if (n < 0) {
		return -e;
	}
	return runtime_parse_proc_stat(buf, (size_t)n, ticks, state);
}

int rt__read_start_ticks(int32_t pid, uint64_t *ticks)
{
	return read_proc_stat(pid, ticks, NULL);
}

bool rt__pid_matches(int32_t pid, uint64_t start_ticks)
{
	uint64_t t;
	char state;
	if (pid <= 1 || read_proc_stat(pid, &t, &state) != 0) {
		return false;
	}
	return t == start_ticks && state != 'Z' && state != 'X';
}

void rt__proc_closed(uv_handle_t *h)
{
	struct wl_proc *p = h->data;
	struct runtime *rt = p->rt;
	if (p->prev != NULL) {
		p->prev->next = p->next;
	} else {
		rt->procs = p->next;
	}
	if (p->next != NULL) {
		p->next->prev = p->prev;
	}
	free(p);
	rt->open_handles--;
	if (rt->closing && rt->open_handles == 0) {
		free(rt);
	}
}

void rt__close_procs(struct runtime *rt)
{
	for (struct wl_proc *p = rt->procs; p != NULL; p = p->next) {
		if (p->w != NULL) {
			p->w->proc = NULL;
			p->w = NULL;
		}
		if (!uv_is_closing((uv_handle_t *)&p->h)) {
			uv_close((uv_handle_t *)&p->h, rt__proc_closed);
		}
	}
}

static void poll_closed(uv_handle_t *h)
{
	struct wl_poll *p = h->data;
	struct runtime *rt = p->rt;
	close(p->fd);
	free(p);
	rt->open_handles--;
	if (rt->closing && rt->open_handles == 0) {
		free(rt);
	}
}

static void on_child_exit(uv_process_t *h, int64_t status, int sig)
{
	struct wl_proc *p = h->data;
	struct wl *w = p->w;
	int step = p->step;
	uv_close((uv_handle_t *)h, rt__proc_closed);
	if (w == NULL) {
		return; /* fire-and-forget helper, or the workload let go */
	}
	w->proc = NULL;
	if (step != 0) {
		rt__oci_step(w, step, status, sig);
		return;
	}
	w->track = TRACK_NONE;
	rt__exited(w, true, status, sig);
}

void rt__untrack(struct wl *w)
{
	if (w->proc != NULL) {
		w->proc->w = NULL;
		if (!uv_is_closing((uv_handle_t *)&w->proc->h)) {
			uv_close((uv_handle_t *)&w->proc->h, rt__proc_closed);
		}
		w->proc = NULL;
	}
	if (w->poll != NULL) {
		w->poll->w = NULL;
		uv_poll_stop(&w->poll->h);
		uv_close((uv_handle_t *)&w->poll->h, poll_closed);
		w->poll = NULL;
	}
	w->track = TRACK_NONE;
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
	struct wl_poll *p = h->data;
	struct wl *w = p->w;
	(void)status;
	(void)events;
	if (w == NULL) {
		return;
	}
	log_debug("%s: pid %d exited (pidfd)", w->spec.id, (int)w->st.pid);
	rt__exited(w, false, 0, 0);
}

int rt__track_pid(struct wl *w)
{
	struct runtime *rt = w->rt;
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)w->st.pid, 0);
	if (fd < 0) {
		if (errno == ESRCH) {
			return -ESRCH;
		}
		/* no pidfd (kernel < 5.3, seccomp): the check timer polls */
		log_debug("%s: pidfd_open: %s; checking /proc instead",
			  w->spec.id, strerror(errno));
		w->track = TRACK_PROC;
		return 0;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* the pid could have been recycled between the caller's check and
	   pidfd_open: the pidfd is only ours if the start time still fits */
	if (!rt__pid_matches(w->st.pid, w->st.start_time_ticks)) {
		close(fd);
		return -ESRCH;
	}
	struct wl_poll *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		close(fd);
		w->track = TRACK_PROC;
		return 0;
	}
	p->rt = rt;
	p->fd = fd;
	p->w = w;
	int rc = uv_poll_init(rt->loop, &p->h, fd);
	if (rc != 0) {
		close(fd);
		free(p);
		w->track = TRACK_PROC;
		return 0;
	}
	p->h.data = p;
	rt->open_handles++;
	uv_poll_start(&p->h, UV_READABLE, on_pidfd);
	w->poll = p;
	w->track = TRACK_PIDFD;
	return 0;
}

void rt__check_procs(struct runtime *rt)
{
	for (struct wl *w = rt->head; w != NULL; w = w->next) {
		if (w->track == TRACK_PROC &&
		    !rt__pid_matches(w->st.pid, w->st.start_time_ticks)) {
			rt__exited(w, false, 0, 0);
		} else if (w->track == TRACK_NONE && w->cgroup[0] != '\0' &&
			   w->st.phase != WL_STARTING &&
			   w->st.phase != WL_RUNNING) {
			rt__cgroup_remove(w); /* retry after EBUSY */
		}
	}
}

void rt__signal(struct wl *w, int sig)
{
	if (w->spec.runtime == RUNTIME_OCI) {
		rt__oci_signal(w, sig);
		return;
	}
	if (w->st.pid <= 1) {
		return;
	}
	/* the workload leads its own session and process group */
	if (kill(-(pid_t)w->st.pid, sig) != 0 && errno == ESRCH) {
		kill((pid_t)w->st.pid, sig);
	}
}

/* Find file on PATH (or take it as a path). -ENOENT / -EACCES. */
static int resolve_exec(const char *file, const char *path_env, char *out,
			size_t out_len)
{
	if (strchr(file, '/') != NULL) {
		if (access(file, F_OK) != 0) {
			return -ENOENT;
		}
		struct stat sb;
		if (stat(file, &sb) != 0 || S_ISDIR(sb.st_mode) ||
		    access(file, X_OK) != 0) {
			return -EACCES;
		}
		snprintf(out, out_len, "%s", file);
		return 0;
	}
	int found_noexec = 0;
	const char *p = path_env;
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ':');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		int len = snprintf(out, out_len, "%.*s/%s", (int)n, p, file);
		if (len > 0 && (size_t)len < out_len && n > 0) {
			struct stat sb;
			if (stat(out, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
				if (access(out, X_OK) == 0) {
					return 0;
				}
				found_noexec = 1;
			}
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return found_noexec ? -EACCES : -ENOENT;
}

static int spawn(struct runtime *rt, struct wl *w, int step, const char *file,
		 char **args, char **env, const char *cwd, int out_fd,
		 bool detached, struct wl_proc **out)
{
	struct wl_proc *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return -ENOMEM;
	}
	p->rt = rt;
	p->w = w;
	p->step = step;
	uv_stdio_container_t stdio[3];
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = out_fd >= 0 ? UV_INHERIT_FD : UV_IGNORE;
	stdio[1].data.fd = out_fd;
	stdio[2].flags = out_fd >= 0 ? UV_INHERIT_FD : UV_IGNORE;
	stdio[2].data.fd = out_fd;
	uv_process_options_t o;
	memset(&o, 0, sizeof(o));
	o.exit_cb = on_child_exit;
	o.file = file;
	o.args = args;
	o.env = env;
	o.cwd = cwd;
	o.flags = detached ? UV_PROCESS_DETACHED : 0;
	o.stdio_count = 3;
	o.stdio = stdio;
	p->h.data = p;
	int rc = uv_spawn(rt->loop, &p->h, &o);
	rt->open_handles++;
	p->next = rt->procs;
	if (rt->procs != NULL) {
		rt->procs->prev = p;
	}
	rt->procs = p;
	if (rc != 0) {
		p->w = NULL;
		uv_close((uv_handle_t *)&p->h, rt__proc_closed);
		return rc;
	}
	*out = p;
	return 0;
}

int rt__spawn_helper(struct runtime *rt, struct wl *w, int step, char **args,
		     int out_fd)
{
	struct wl_proc *p;
	char *env[] = {rt->base_path, NULL};
	int rc =
	    spawn(rt, w, step, args[0], args, env, NULL, out_fd, false, &p);
	if (rc != 0) {
		return rc;
	}
	if (w != NULL) {
		w->proc = p;
	}
	return 0;
}

int rt__proc_start(struct wl *w)
{
	struct runtime *rt = w->rt;
	const struct workload_spec *s = &w->spec;
	char why[WORKLOAD_REASON_MAX];
	char exe[WORKLOAD_PATH_MAX + WORKLOAD_ARG_MAX];
	char procs[RT_PATH_MAX + 16];
	char *args[WORKLOAD_ARGV_MAX + 6];
	char *env[WORKLOAD_ENV_MAX + 3];
	char id_env[WORKLOAD_ID_MAX + 24];
	int n = 0;
	int fd = -1;
	int rc;

	/* environment: PATH (unless the spec sets one), the spec, our id */
	const char *path_env = rt->base_path + 5;
	bool spec_path = false;
	for (uint32_t i = 0; i < s->envc; i++) {
		if (strncmp(s->env[i], "PATH=", 5) == 0) {
			spec_path = true;
			path_env = s->env[i] + 5;
		}
	}
	int e = 0;
	if (!spec_path) {
		env[e++] = rt->base_path;
	}
	for (uint32_t i = 0; i < s->envc; i++) {
		env[e++] = (char *)s->env[i];
	}
	snprintf(id_env, sizeof(id_env), "FARNODE_WORKLOAD_ID=%s", s->id);
	env[e++] = id_env;
	env[e] = NULL;

	rc = resolve_exec(s->argv[0], path_env, exe, sizeof(exe));
	if (rc != 0) {
		snprintf(why, sizeof(why), "%.60s: %s", s->argv[0],
			 rc == -ENOENT ? "executable not found"
				       : "permission denied (not executable)");
		rt__fail_start(w, why);
		return rc;
	}
	if (s->cwd[0] != '\0') {
		struct stat sb;
		int err = 0;
		if (stat(s->cwd, &sb) != 0) {
			err = errno;
		} else if (!S_ISDIR(sb.st_mode)) {
			err = ENOTDIR;
		}
		if (err != 0) {
			snprintf(why, sizeof(why),
				 "working directory %.100s: %s", s->cwd,
				 strerror(err));
			rt__fail_start(w, why);
			return -err;
		}
	}
	fd = rt__log_open(rt, s->id);
	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot open log file: %s",
			 strerror(-fd));
		rt__fail_start(w, why);
		return fd;
	}
	rc = rt__cgroup_create(w, why, sizeof(why));
	if (rc != 0) {
		close(fd);
		rt__fail_start(w, why);
		return rc;
	}
	const char *file = exe;
	if (w->cgroup[0] != '\0') {
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", w->cgroup);
		file = "/bin/sh";
		args[n++] = (char *)"sh";
		args[n++] = (char *)"-c";
		args[n++] = (char *)cgroup_shim;
		args[n++] = procs;
		args[n++] = exe;
	} else {
		args[n++] = (char *)s->argv[0];
	}
	for (uint32_t i = 1; i < s->argc; i++) {
		args[n++] = (char *)s->argv[i];
	}
	args[n] = NULL;

	struct wl_proc *p = NULL;
	rc = spawn(rt, w, 0, file, args, env, s->cwd[0] != '\0' ? s->cwd : NULL,
		   fd, true, &p);
	close(fd);
	if (rc != 0) {
		snprintf(why, sizeof(why), "spawn %.60s: %s", s->argv[0],
			 uv_strerror(rc));
		rt__cgroup_remove(w);
		rt__fail_start(w, why);
		return rc;
	}
	w->proc = p;
	w->track = TRACK_CHILD;
	w->st.pid = p->h.pid;
	w->st.started_ms = rt__wall_ms();
	if (rt__read_start_ticks(w->st.pid, &w->st.start_time_ticks) != 0) {
		w->st.start_time_ticks = 0; /* already reaped: exit follows */
	}
	rt__set_phase(w, WL_RUNNING, "running (pid %d%s)", (int)w->st.pid,
		      rt->cg_mode == CGROUP_LIMITS ? ", limits applied"
		      : w->cgroup[0] != '\0'	   ? ", cgroup without limits"
						   : ", no cgroup");
	return 0;
}
