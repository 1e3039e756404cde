// SPDX-License-Identifier: Apache-2.0
/*
 * runtime_log: per-workload log files. A workload's stdout and stderr are
 * the same O_APPEND file (DATA_DIR/logs/ID.log), so they survive an agent
 * restart without a pipe to break. Rotation is size-based and done by the
 * agent with copy-then-truncate (the writer keeps its descriptor and, with
 * O_APPEND, continues at the new end): ID.log.1 .. ID.log.N are kept.
 */
#define LOG_TAG "runtime"
#include "runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int rt__log_path(const struct runtime *rt, const char *id, unsigned gen,
		 char *out, size_t out_len)
{
	int n;
	if (gen == 0) {
		n = snprintf(out, out_len, "%s/%s.log", rt->log_dir, id);
	} else {
		n = snprintf(out, out_len, "%s/%s.log.%u", rt->log_dir, id,
			     gen);
	}
	return n > 0 && (size_t)n < out_len ? 0 : -ENAMETOOLONG;
}

int rt__log_open(struct runtime *rt, const char *id)
{
	char path[RT_PATH_MAX];
	int rc = rt__log_path(rt, id, 0, path, sizeof(path));
	if (rc != 0) {
		return rc;
	}
	(void)rt__log_rotate(path, rt->cfg.log_max_bytes, rt->cfg.log_keep);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	return fd >= 0 ? fd : -errno;
}

static int copy_file(const char *from, const char *to, off_t limit)
{
	char buf[16384];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		return -errno;
	}
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0) {
		int e = -errno;
		close(in);
		return e;
	}
	int rc = 0;
	off_t done = 0;
	while (done < limit) {
		size_t want = sizeof(buf);
		if ((off_t)want > limit - done) {
			want = (size_t)(limit - done);
		}
		ssize_t n = read(in, buf, want);
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		if (write(out, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
		done += n;
	}
	close(in);
	close(out);
	return rc;
}

int rt__log_rotate(const char *path, uint64_t max_bytes, uint32_t keep)
{
	struct stat sb;
	char from[RT_PATH_MAX + 16];
	char to[RT_PATH_MAX + 16];

	if (max_bytes == 0 || stat(path, &sb) != 0 ||
	    (uint64_t)sb.st_size <= max_bytes) {
		return 0;
	}
	if (keep > 0) {
		for (uint32_t g = keep; g > 1; g--) {
			snprintf(from, sizeof(from), "%s.%u", path, g - 1);
			snprintf(to, sizeof(to), "%s.%u", path, g);
			if (rename(from, to) != 0 && errno != ENOENT) {
				log_warn("%s: rotate: %s", from,
					 strerror(errno));
			}
		}
		snprintf(to, sizeof(to), "%s.1", path);
		int rc = copy_file(path, to, sb.st_size);
		if (rc != 0) {
			log_warn("%s: rotate: %s", path, strerror(-rc));
			return rc;
		}
	}
	if (truncate(path, 0) != 0) {
		int e = errno;
		log_warn("%s: truncate: %s", path, strerror(e));
		return -e;
	}
	return 1;
}

void rt__log_rotate_all(struct runtime *rt)
{
	char path[RT_PATH_MAX];
	for (struct wl *w = rt->head; w != NULL; w = w->next) {
		if (w->track == TRACK_NONE) {
			continue;
		}
		if (rt__log_path(rt, w->spec.id, 0, path, sizeof(path)) == 0) {
			(void)rt__log_rotate(path, rt->cfg.log_max_bytes,
					     rt->cfg.log_keep);
		}
	}
}

void rt__log_remove(struct runtime *rt, const char *id)
{
	char path[RT_PATH_MAX];
	for (unsigned g = 0; g <= rt->cfg.log_keep; g++) {
		if (rt__log_path(rt, id, g, path, sizeof(path)) == 0) {
			unlink(path);
		}
	}
}
