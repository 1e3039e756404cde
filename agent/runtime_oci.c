// SPDX-License-Identifier: Apache-2.0
/*
 * runtime_oci: OCI bundles through crun. Start is two asynchronous steps,
 * `crun create --bundle B --pid-file F farnode-ID` (the container's stdio
 * is the workload's log file) then `crun start farnode-ID`; the container
 * process is then tracked by pid + start time through a pidfd (it is not
 * our child: crun create double-forks it). Stop is `crun kill`, cleanup
 * after exit `crun delete -f`. crun's own state lives in DATA_DIR/oci.
 * Exit statuses of containers are not visible this way and are reported
 * as unknown (on-failure then restarts).
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
#include <unistd.h>

#include "log.h"

enum { STEP_CREATE = 1, STEP_START = 2 };

static void container_id(const struct wl *w, char *out, size_t len)
{
	snprintf(out, len, "farnode-%s", w->spec.id);
}

static int pid_file(const struct wl *w, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s.pid", w->rt->oci_root, w->spec.id);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

static void helper(struct wl *w, int step, const char *verb, const char *extra1,
		   const char *extra2)
{
	struct runtime *rt = w->rt;
	char cid[WORKLOAD_ID_MAX + 16];
	char *args[10];
	int n = 0;
	container_id(w, cid, sizeof(cid));
	args[n++] = rt->crun;
	args[n++] = (char *)"--root";
	args[n++] = rt->oci_root;
	args[n++] = (char *)verb;
	if (extra1 != NULL) {
		args[n++] = (char *)extra1;
	}
	args[n++] = cid;
	if (extra2 != NULL) {
		args[n++] = (char *)extra2;
	}
	args[n] = NULL;
	int rc = rt__spawn_helper(rt, step != 0 ? w : NULL, step, args, -1);
	if (rc != 0) {
		log_warn("%s: crun %s: %s", w->spec.id, verb, uv_strerror(rc));
	}
}

int rt__oci_start(struct wl *w)
{
	struct runtime *rt = w->rt;
	char why[WORKLOAD_REASON_MAX];
	char cfg[WORKLOAD_PATH_MAX + 16];
	char pidf[RT_PATH_MAX];
	char cid[WORKLOAD_ID_MAX + 16];
	int rc;

	snprintf(cfg, sizeof(cfg), "%s/config.json", w->spec.bundle);
	if (access(cfg, R_OK) != 0) {
		rc = -errno;
		snprintf(why, sizeof(why), "bundle %.100s: config.json: %s",
			 w->spec.bundle, strerror(-rc));
		rt__fail_start(w, why);
		return rc;
	}
	if (mkdir(rt->oci_root, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(why, sizeof(why), "%.80s: %s", rt->oci_root,
			 strerror(-rc));
		rt__fail_start(w, why);
		return rc;
	}
	if ((rc = pid_file(w, pidf, sizeof(pidf))) != 0) {
		rt__fail_start(w, "pid file path too long");
		return rc;
	}
	unlink(pidf);
	int fd = rt__log_open(rt, w->spec.id);
	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot open log file: %s",
			 strerror(-fd));
		rt__fail_start(w, why);
		return fd;
	}
	container_id(w, cid, sizeof(cid));
	char *args[] = {rt->crun,
			(char *)"--root",
			rt->oci_root,
			(char *)"create",
			(char *)"--bundle",
			w->spec.bundle,
			(char *)"--pid-file",
			pidf,
			cid,
			NULL};
	rc = rt__spawn_helper(rt, w, STEP_CREATE, args, fd);
	close(fd);
	if (rc != 0) {
		snprintf(why, sizeof(why), "%.80s: %s", rt->crun,
			 uv_strerror(rc));
		rt__fail_start(w, why);
		return rc;
	}
	return 0;
}

static int read_pid(const struct wl *w, int32_t *pid)
{
	char path[RT_PATH_MAX];
	char buf[32];
	if (pid_file(w, path, sizeof(path)) != 0) {
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return -EBADMSG;
	}
	buf[n] = '\0';
	char *end;
	long v = strtol(buf, &end, 10);
	if (v <= 1 || v > INT32_MAX || (*end != '\0' && *end != '\n')) {
		return -EBADMSG;
	}
	*pid = (int32_t)v;
	return 0;
}

void rt__oci_step(struct wl *w, int step, int64_t status, int sig)
{
	char why[WORKLOAD_REASON_MAX];
	const char *verb = step == STEP_CREATE ? "create" : "start";

	if (status != 0 || sig != 0) {
		if (w->stopping) {
			rt__exited(w, true, 0, 0);
			return;
		}
		if (sig != 0) {
			snprintf(why, sizeof(why),
				 "crun %s: killed by signal %d", verb, sig);
		} else {
			snprintf(why, sizeof(why),
				 "crun %s exited with code %lld (see logs)",
				 verb, (long long)status);
		}
		rt__fail_start(w, why);
		return;
	}
	if (w->stopping) {
		rt__exited(w, true, 0, 0); /* stopped before it ran */
		return;
	}
	if (step == STEP_CREATE) {
		helper(w, STEP_START, "start", NULL, NULL);
		if (w->proc == NULL) {
			rt__fail_start(w, "cannot run crun start");
		}
		return;
	}
	int32_t pid = 0;
	int rc = read_pid(w, &pid);
	if (rc != 0) {
		snprintf(why, sizeof(why), "crun pid file: %s", strerror(-rc));
		rt__fail_start(w, why);
		return;
	}
	w->st.pid = pid;
	w->st.started_ms = rt__wall_ms();
	if (rt__read_start_ticks(pid, &w->st.start_time_ticks) != 0 ||
	    rt__track_pid(w) != 0) {
		rt__exited(w, false, 0, 0); /* gone already */
		return;
	}
	rt__set_phase(w, WL_RUNNING, "running (container pid %d)", (int)pid);
}

void rt__oci_signal(struct wl *w, int sig)
{
	char num[16];
	if (w->st.pid <= 1) {
		return; /* still in create/start: the step sees `stopping` */
	}
	snprintf(num, sizeof(num), "%d", sig);
	helper(w, 0, "kill", NULL, num);
	if (sig == SIGKILL) {
		kill((pid_t)w->st.pid, SIGKILL); /* crun may be wedged */
	}
}

void rt__oci_cleanup(struct wl *w)
{
	char path[RT_PATH_MAX];
	helper(w, 0, "delete", "-f", NULL);
	if (pid_file(w, path, sizeof(path)) == 0) {
		unlink(path);
	}
}
