// SPDX-License-Identifier: Apache-2.0
/*
 * runtime_cgroup: cgroup v2 leaves for workloads. Detection finds the
 * delegated directory (the configured cgroup_root, else our own cgroup's
 * "farnode" child on the cgroup2 mount), checks it is cgroup2 and writable,
 * and enables cpu, memory and pids for its children. Three outcomes:
 * limits (leaves with cpu.max/memory.max/pids.max), track (leaves but no
 * controllers, e.g. a hybrid v1/v2 host), none (no cgroups at all). The
 * latter two are said once in the log and kept as a note for `status`.
 */
#define LOG_TAG "runtime"
#include "runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "log.h"

#define CGROUP2_MAGIC 0x63677270

int runtime_cpu_max(uint32_t cpu_milli, uint32_t period_us, char *out,
		    size_t out_len)
{
	int n;
	if (period_us < 1000 || period_us > 1000000) {
		return -EINVAL;
	}
	if (cpu_milli == 0) {
		n = snprintf(out, out_len, "max %u", period_us);
	} else {
		uint64_t quota = (uint64_t)cpu_milli * period_us / 1000;
		if (quota < 1000) {
			quota = 1000; /* the kernel's minimum quota */
		}
		n = snprintf(out, out_len, "%llu %u", (unsigned long long)quota,
			     period_us);
	}
	return n > 0 && (size_t)n < out_len ? 0 : -EMSGSIZE;
}

static int write_file(const char *dir, const char *name, const char *value)
{
	char path[RT_PATH_MAX + 64];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int e = errno;
	close(fd);
	if (n < 0) {
		return -e;
	}
	return (size_t)n == len ? 0 : -EIO;
}

static ssize_t read_small(const char *dir, const char *name, char *buf,
			  size_t cap)
{
	char path[RT_PATH_MAX + 64];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	ssize_t n = read(fd, buf, cap - 1);
	int e = errno;
	close(fd);
	if (n < 0) {
		return -e;
	}
	buf[n] = '\0';
	return n;
}

static bool has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = list; (p = strstr(p, word)) != NULL; p += wl) {
		bool start = p == list || p[-1] == ' ';
		bool end = p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n';
		if (start && end) {
			return true;
		}
	}
	return false;
}

/* The cgroup2 mount point and our own cgroup path within it. */
static int find_own_cgroup(char *out, size_t out_len)
{
	char mnt[RT_PATH_MAX] = "";
	char line[1024];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL) {
		return -errno;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "... mountpoint opts ... - fstype source superopts" */
		char *dash = strstr(line, " - cgroup2 ");
		if (dash == NULL) {
			continue;
		}
		char *p = line;
		for (int field = 0; field < 4 && p != NULL; field++) {
			p = strchr(p, ' ');
			if (p != NULL) {
				p++;
			}
		}
		if (p != NULL) {
			size_t n = strcspn(p, " ");
			if (n < sizeof(mnt)) {
				memcpy(mnt, p, n);
				mnt[n] = '\0';
			}
		}
		break;
	}
	fclose(f);
	if (mnt[0] == '\0') {
		return -ENOENT;
	}
	char own[RT_PATH_MAX] = "/";
	f = fopen("/proc/self/cgroup", "re");
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "0::", 3) == 0) {
				size_t n = strcspn(line + 3, "\n");
				if (n < sizeof(own)) {
					memcpy(own, line + 3, n);
					own[n] = '\0';
				}
			}
		}
		fclose(f);
	}
	size_t ml = strlen(mnt);
	size_t ol = strcmp(own, "/") == 0 ? 0 : strlen(own);
	if (ml + ol + sizeof("/farnode") > out_len) {
		return -ENAMETOOLONG;
	}
	memcpy(out, mnt, ml);
	memcpy(out + ml, own, ol);
	memcpy(out + ml + ol, "/farnode", sizeof("/farnode"));
	return 0;
}

static void note(struct runtime *rt, enum runtime_cgroup_mode mode,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(struct runtime *rt, enum runtime_cgroup_mode mode,
		 const char *fmt, ...)
{
	va_list ap;
	rt->cg_mode = mode;
	va_start(ap, fmt);
	vsnprintf(rt->cg_note, sizeof(rt->cg_note), fmt, ap);
	va_end(ap);
	log_warn("%s", rt->cg_note);
}

/* Move this process into PARENT/agent (created if needed). */
static int move_self(const char *parent)
{
	char leaf[RT_PATH_MAX + 8];
	int n = snprintf(leaf, sizeof(leaf), "%s/agent", parent);
	if (n < 0 || (size_t)n >= sizeof(leaf)) {
		return -ENAMETOOLONG;
	}
	if (mkdir(leaf, 0755) != 0 && errno != EEXIST) {
		int e = -errno;
		log_warn("cannot create cgroup %s: %s", leaf, strerror(-e));
		return e;
	}
	int rc = write_file(leaf, "cgroup.procs", "0");
	if (rc != 0) {
		log_warn("cannot move the agent into %s: %s", leaf,
			 strerror(-rc));
		return rc;
	}
	log_info("moved the agent into cgroup %s so its own cgroup can "
		 "delegate controllers to workloads",
		 leaf);
	return 0;
}

void rt__cgroup_detect(struct runtime *rt)
{
	static const char *const ctrls[] = {"cpu", "memory", "pids"};
	const char *root =
	    rt->cfg.cgroup_root != NULL ? rt->cfg.cgroup_root : "";
	struct statfs sf;
	char parent[RT_PATH_MAX];
	char buf[512];
	int rc;

	rt->cg_mode = CGROUP_NONE;
	rt->cg_dir[0] = '\0';
	rt->cg_note[0] = '\0';
	if (strcmp(root, "none") == 0) {
		note(rt, CGROUP_NONE,
		     "no workload limits: cgroups disabled by config "
		     "(runtime.cgroup_root = none)");
		return;
	}
	if (root[0] != '\0') {
		snprintf(rt->cg_dir, sizeof(rt->cg_dir), "%s", root);
	} else if ((rc = find_own_cgroup(rt->cg_dir, sizeof(rt->cg_dir))) !=
		   0) {
		rt->cg_dir[0] = '\0';
		note(rt, CGROUP_NONE,
		     "no workload limits: no cgroup v2 mount found");
		return;
	}
	snprintf(parent, sizeof(parent), "%s", rt->cg_dir);
	char *slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent) {
		*slash = '\0';
	}
	if (statfs(parent, &sf) != 0 || sf.f_type != CGROUP2_MAGIC) {
		note(rt, CGROUP_NONE,
		     "no workload limits: %.80s is not on cgroup v2", parent);
		rt->cg_dir[0] = '\0';
		return;
	}
	if (mkdir(rt->cg_dir, 0755) != 0 && errno != EEXIST) {
		note(rt, CGROUP_NONE,
		     "no workload limits: cannot create cgroup %.60s (%s)",
		     rt->cg_dir, strerror(errno));
		rt->cg_dir[0] = '\0';
		return;
	}
	if (access(rt->cg_dir, W_OK) != 0) {
		note(rt, CGROUP_NONE,
		     "no workload limits: cgroup %.60s not writable (%s)",
		     rt->cg_dir, strerror(errno));
		rt->cg_dir[0] = '\0';
		return;
	}

	/* Enable cpu, memory, pids for our leaves (and in the parent when it
	   lets us: its processes may forbid it, the "no internal processes"
	   rule; then what the parent already offers is what we get). */
	char missing[64] = "";
	bool auto_dir = root[0] == '\0';
	bool moved = false;
	for (size_t i = 0; i < 3; i++) {
		char plus[16];
		snprintf(plus, sizeof(plus), "+%s", ctrls[i]);
		if (read_small(rt->cg_dir, "cgroup.controllers", buf,
			       sizeof(buf)) < 0 ||
		    !has_word(buf, ctrls[i])) {
			rc = write_file(parent, "cgroup.subtree_control", plus);
			if (rc == -EBUSY && auto_dir && !moved) {
				/* our own cgroup holds the agent (e.g. a
				   systemd unit with Delegate=yes): leave it
				   for a leaf so it may delegate controllers */
				moved = move_self(parent) == 0;
				if (moved) {
					(void)write_file(
					    parent, "cgroup.subtree_control",
					    plus);
				}
			}
		}
		if (write_file(rt->cg_dir, "cgroup.subtree_control", plus) !=
		    0) {
			size_t m = strlen(missing);
			snprintf(missing + m, sizeof(missing) - m, "%s%s",
				 m ? "," : "", ctrls[i]);
		}
	}
	if (missing[0] != '\0') {
		note(rt, CGROUP_TRACK,
		     "no workload limits: cgroup v2 at %.60s lacks %s "
		     "(hybrid v1/v2 host?)",
		     rt->cg_dir, missing);
		return;
	}
	rt->cg_mode = CGROUP_LIMITS;
	log_info("workload limits through cgroup v2 at %s", rt->cg_dir);
}

static int leaf_path(const struct runtime *rt, const char *id, char *out,
		     size_t out_len)
{
	int n = snprintf(out, out_len, "%s/wl-%s", rt->cg_dir, id);
	return n > 0 && (size_t)n < out_len ? 0 : -ENAMETOOLONG;
}

int rt__cgroup_create(struct wl *w, char *why, size_t why_len)
{
	struct runtime *rt = w->rt;
	char val[64];
	int rc;

	w->cgroup[0] = '\0';
	if (rt->cg_mode == CGROUP_NONE) {
		return 0;
	}
	if ((rc = leaf_path(rt, w->spec.id, w->cgroup, sizeof(w->cgroup))) !=
	    0) {
		snprintf(why, why_len, "cgroup path too long");
		w->cgroup[0] = '\0';
		return rc;
	}
	if (mkdir(w->cgroup, 0755) != 0) {
		if (errno != EEXIST) {
			rc = -errno;
			snprintf(why, why_len, "cgroup %s: %s", w->cgroup,
				 strerror(-rc));
			w->cgroup[0] = '\0';
			return rc;
		}
		rt__cgroup_kill(w); /* leftovers of an earlier run */
	}
	if (rt->cg_mode != CGROUP_LIMITS) {
		return 0;
	}
	const char *file = "cpu.max";
	rc = runtime_cpu_max(w->spec.cpu_milli, 100000, val, sizeof(val));
	if (rc == 0) {
		rc = write_file(w->cgroup, file, val);
	}
	if (rc == 0) {
		file = "memory.max";
		if (w->spec.mem_bytes == 0) {
			snprintf(val, sizeof(val), "max");
		} else {
			snprintf(val, sizeof(val), "%llu",
				 (unsigned long long)w->spec.mem_bytes);
		}
		rc = write_file(w->cgroup, file, val);
	}
	if (rc == 0 && w->spec.mem_bytes != 0) {
		/* no swap, so memory.max is a hard wall (optional file) */
		int r2 = write_file(w->cgroup, "memory.swap.max", "0");
		(void)r2;
	}
	if (rc == 0) {
		file = "pids.max";
		if (rt->cfg.pids_max == 0) {
			snprintf(val, sizeof(val), "max");
		} else {
			snprintf(val, sizeof(val), "%u", rt->cfg.pids_max);
		}
		rc = write_file(w->cgroup, file, val);
	}
	if (rc != 0) {
		snprintf(why, why_len, "cgroup: cannot write %s = %s: %s", file,
			 val, strerror(-rc));
		rmdir(w->cgroup);
		w->cgroup[0] = '\0';
		return rc;
	}
	return 0;
}

bool rt__cgroup_oom(struct wl *w)
{
	char buf[512];
	if (w->cgroup[0] == '\0' || w->rt->cg_mode != CGROUP_LIMITS) {
		return false;
	}
	if (read_small(w->cgroup, "memory.events", buf, sizeof(buf)) <= 0) {
		return false;
	}
	const char *p = strstr(buf, "oom_kill ");
	return p != NULL && (p == buf || p[-1] == '\n') &&
	       strtoull(p + 9, NULL, 10) > 0;
}

void rt__cgroup_kill(struct wl *w)
{
	char buf[4096];
	if (w->cgroup[0] == '\0') {
		return;
	}
	if (write_file(w->cgroup, "cgroup.kill", "1") == 0) {
		return;
	}
	/* kernels before 5.14: signal every member */
	if (read_small(w->cgroup, "cgroup.procs", buf, sizeof(buf)) > 0) {
		char *save = NULL;
		for (char *t = strtok_r(buf, "\n", &save); t != NULL;
		     t = strtok_r(NULL, "\n", &save)) {
			long pid = strtol(t, NULL, 10);
			if (pid > 1) {
				kill((pid_t)pid, SIGKILL);
			}
		}
	}
}

void rt__cgroup_remove(struct wl *w)
{
	if (w->cgroup[0] == '\0') {
		char path[RT_PATH_MAX];
		/* a leaf from an earlier agent (e.g. adopted, then exited) */
		if (w->rt->cg_mode == CGROUP_NONE ||
		    leaf_path(w->rt, w->spec.id, path, sizeof(path)) != 0 ||
		    access(path, F_OK) != 0) {
			return;
		}
		snprintf(w->cgroup, sizeof(w->cgroup), "%s", path);
	}
	if (rmdir(w->cgroup) == 0 || errno == ENOENT) {
		w->cgroup[0] = '\0';
		return;
	}
	if (errno == EBUSY) {
		/* processes the workload left behind die with it; the check
		   timer retries the rmdir once they are gone */
		rt__cgroup_kill(w);
		if (rmdir(w->cgroup) == 0) {
			w->cgroup[0] = '\0';
		}
		return;
	}
	log_warn("%s: cannot remove cgroup %s: %s", w->spec.id, w->cgroup,
		 strerror(errno));
	w->cgroup[0] = '\0';
}
