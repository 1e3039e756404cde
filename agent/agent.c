// SPDX-License-Identifier: Apache-2.0
/*
 * agent: daemon lifecycle — configuration, data-dir lock, store, control
 * socket, services, signals and the systemd notify protocol.
 */
#define LOG_TAG "agent"
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto_keys.h"
#include "gossip.h"
#include "ctl.h"
#include "log.h"
#include "offload_svc.h"
#include "placement.h"
#include "runtime_svc.h"
#include "sched_svc.h"
#include "sdnotify.h"
#include "store.h"
#include "uplink.h"

void agent_paths(const struct config *cfg, const char *data_dir_override,
		 char *data_dir, size_t dd_len, char *socket, size_t s_len)
{
	const char *dd = data_dir_override != NULL && data_dir_override[0]
				 ? data_dir_override
				 : cfg->node.data_dir;
	snprintf(data_dir, dd_len, "%s", dd);
	if (cfg->control.socket[0] != '\0') {
		snprintf(socket, s_len, "%s", cfg->control.socket);
	} else {
		snprintf(socket, s_len, "%s/farnode.sock", dd);
	}
}

void agent_note(struct agent *a, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (int i = 0; i < a->n_notes; i++) {
		if (strcmp(a->notes[i], buf) == 0) {
			return;
		}
	}
	if (a->n_notes < (int)(sizeof(a->notes) / sizeof(a->notes[0]))) {
		memcpy(a->notes[a->n_notes++], buf, sizeof(buf));
	}
}

/* mkdir -p with mode for the last components. */
static int make_dirs(const char *path, mode_t mode)
{
	char tmp[CONFIG_STR_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
				return -errno;
			}
			*p = '/';
		}
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
		return -errno;
	}
	struct stat st;
	if (stat(tmp, &st) != 0) {
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		return -ENOTDIR;
	}
	return 0;
}

static int take_lock(struct agent *a)
{
	char path[CONFIG_STR_MAX + 16];
	snprintf(path, sizeof(path), "%s/farnode.lock", a->data_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		int e = errno;
		fprintf(stderr, "farnode: %s: cannot create lock file: %s\n",
			path, strerror(e));
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0) {
			pid[n] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
		}
		if (e == EWOULDBLOCK) {
			fprintf(stderr,
				"farnode: another agent (pid %s) is already "
				"using data directory %s\n",
				pid[0] ? pid : "?", a->data_dir);
		} else {
			fprintf(stderr, "farnode: %s: cannot lock: %s\n", path,
				strerror(e));
		}
		close(fd);
		return -EBUSY;
	}
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		/* not fatal: the lock itself is what matters */
		log_warn("%s: cannot record pid: %s", path, strerror(errno));
	}
	a->lock_fd = fd;
	return 0;
}

static void release_lock(struct agent *a)
{
	if (a->lock_fd >= 0) {
		close(a->lock_fd); /* drops the flock */
		a->lock_fd = -1;
	}
}

static void on_close_noop(uv_handle_t *h)
{
	(void)h;
}

static void close_if_active(uv_handle_t *h)
{
	if (!uv_is_closing(h)) {
		uv_close(h, on_close_noop);
	}
}

void agent_request_stop(struct agent *a, int exit_code)
{
	if (a->stopping) {
		return;
	}
	a->stopping = true;
	a->exit_code = exit_code;
	if (a->start_ms != 0) {
		log_info("shutting down");
		sdnotify("STOPPING=1");
	}

	/* services: stop (reverse start order) */
	uplink_stop(a);
	placement_stop(a->placement);
	a->placement = NULL;
	offload_svc_stop(a->offload);
	a->offload = NULL;
	sched_stop(a);
	gossip_stop(a);
	runtime_stop(a);
	crypto_keys_stop(a);

	ctl_close(a->ctl);
	a->ctl = NULL;
	close_if_active((uv_handle_t *)&a->sig_int);
	close_if_active((uv_handle_t *)&a->sig_term);
	close_if_active((uv_handle_t *)&a->sig_hup);
	close_if_active((uv_handle_t *)&a->watchdog);
}

struct reload_report {
	char (*applied)[96];
	int *n_applied;
	char (*pending)[96];
	int *n_pending;
	int max;
};

static void on_reload_key(const char *name, bool live, void *ud)
{
	struct reload_report *r = ud;
	if (live) {
		log_info("reload: %s changed (applied)", name);
		if (r->applied != NULL && *r->n_applied < r->max) {
			snprintf(r->applied[(*r->n_applied)++], 96, "%s", name);
		}
	} else {
		log_warn("reload: %s changed but needs a restart; "
			 "keeping the running value",
			 name);
		if (r->pending != NULL && *r->n_pending < r->max) {
			snprintf(r->pending[(*r->n_pending)++], 96, "%s", name);
		}
	}
}

static void apply_log_level(struct agent *a)
{
	int lvl = LOG_LVL_INFO;
	log_level_parse(a->cfg.node.log_level, &lvl);
	log_set_level(lvl + a->verbose);
}

int agent_reload(struct agent *a, char applied[][96], int *n_applied,
		 char pending[][96], int *n_pending, int max)
{
	int dummy_a = 0;
	int dummy_p = 0;
	struct reload_report r = {applied, n_applied ? n_applied : &dummy_a,
				  pending, n_pending ? n_pending : &dummy_p,
				  max};
	struct config next;
	char err[CONFIG_ERR_MAX];

	if (a->config_path[0] == '\0') {
		log_info("reload: no configuration file (embedded defaults); "
			 "nothing to do");
		return 0;
	}
	config_defaults(&next);
	int rc = config_load(&next, a->config_path, err, sizeof(err));
	if (rc != 0) {
		log_error("reload failed, keeping the running configuration: %s",
			  err);
		return rc;
	}
	config_merge_live(&a->cfg, &next, on_reload_key, &r);
	apply_log_level(a);

	/* services: reload */
	uplink_reload(a);
	runtime_reload(a);
	sched_reload(a);

	log_info("configuration reloaded from %s", a->config_path);
	return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct agent *a = h->data;
	if (signum == SIGHUP) {
		log_info("SIGHUP: reloading configuration");
		sdnotify("RELOADING=1");
		agent_reload(a, NULL, NULL, NULL, NULL, 0);
		sdnotify("READY=1");
		return;
	}
	log_info("%s received", signum == SIGINT ? "SIGINT" : "SIGTERM");
	agent_request_stop(a, 0);
}

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	sdnotify("WATCHDOG=1");
}

static int start(struct agent *a, const struct agent_opts *o)
{
	char err[CONFIG_ERR_MAX];
	int rc;

	agent_paths(&a->cfg, o->data_dir, a->data_dir, sizeof(a->data_dir),
		    a->socket_path, sizeof(a->socket_path));
	rc = make_dirs(a->data_dir, 0750);
	if (rc != 0) {
		fprintf(stderr, "farnode: %s: cannot create data directory: %s\n",
			a->data_dir, strerror(-rc));
		return rc;
	}
	rc = take_lock(a);
	if (rc != 0) {
		return rc;
	}
	snprintf(a->db_path, sizeof(a->db_path), "%s/farnode.db", a->data_dir);
	rc = store_open(a->db_path, &a->store, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "farnode: %s\n", err);
		return rc;
	}
	rc = store_identity_start(a->store, &a->id, &a->generation);
	if (rc != 0) {
		fprintf(stderr, "farnode: %s: cannot record node identity: %s\n",
			a->db_path, rc == -ENOSPC ? "disk full" : strerror(-rc));
		return rc;
	}
	node_id_format(&a->id, a->id_str);
	log_info("farnode %s starting: node %s generation %llu, data %s",
		 FARNODE_VERSION, a->id_str, (unsigned long long)a->generation,
		 a->data_dir);
	if (a->cfg.hub.url[0] == '\0') {
		log_info("no hub configured: running in offline autonomous mode");
	}

	rc = ctl_open(a->loop, a, a->socket_path, &a->ctl);
	if (rc != 0) {
		fprintf(stderr, "farnode: %s: cannot open control socket: %s\n",
			a->socket_path, uv_strerror(rc));
		return rc;
	}

	/* services: start */
	rc = crypto_keys_start(a);
	if (rc != 0) {
		fprintf(stderr, "farnode: gossip keyring: %s (see the log)\n",
			strerror(-rc));
		return rc;
	}
	rc = runtime_start(a);
	if (rc != 0) {
		fprintf(stderr, "farnode: runtime: %s (see the log)\n",
			strerror(-rc));
		return rc;
	}
	rc = gossip_start(a);
	if (rc != 0) {
		fprintf(stderr, "farnode: gossip: %s (see the log)\n",
			strerror(-rc));
		return rc;
	}
	rc = sched_start(a);
	if (rc != 0) {
		fprintf(stderr, "farnode: scheduler: %s (see the log)\n",
			strerror(-rc));
		return rc;
	}
	rc = offload_svc_start(a, &a->offload);
	if (rc != 0) {
		fprintf(stderr, "farnode: offload: %s (see the log)\n",
			strerror(-rc));
		return rc;
	}
	rc = placement_start(a, &a->placement);
	if (rc != 0) {
		fprintf(stderr, "farnode: placement: %s (see the log)\n",
			strerror(-rc));
		return rc;
	}
	rc = uplink_start(a);
	if (rc != 0) {
		fprintf(stderr, "farnode: hub uplink: %s (see the log)\n",
			strerror(-rc));
		return rc;
	}

	uv_signal_start(&a->sig_int, on_signal, SIGINT);
	uv_signal_start(&a->sig_term, on_signal, SIGTERM);
	uv_signal_start(&a->sig_hup, on_signal, SIGHUP);
	a->watchdog_ms = sdnotify_watchdog_ms();
	if (a->watchdog_ms > 0) {
		uint64_t every = a->watchdog_ms / 2 ? a->watchdog_ms / 2 : 1;
		uv_timer_start(&a->watchdog, on_watchdog, every, every);
		log_info("systemd watchdog every %llu ms",
			 (unsigned long long)every);
	}
	a->start_ms = uv_now(a->loop);
	if (a->start_ms == 0) {
		a->start_ms = 1; /* 0 means "not started" */
	}
	sdnotify("READY=1");
	log_info("ready; control socket %s", a->socket_path);
	return 0;
}

static void walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	close_if_active(h);
}

int agent_main(const struct agent_opts *o)
{
	struct agent *a = calloc(1, sizeof(*a));
	uv_loop_t loop;
	char err[CONFIG_ERR_MAX];
	int code = 0;

	if (a == NULL) {
		fprintf(stderr, "farnode: out of memory\n");
		return 1;
	}
	a->lock_fd = -1;
	a->verbose = o->verbose;
	config_defaults(&a->cfg);
	if (o->config_path != NULL) {
		snprintf(a->config_path, sizeof(a->config_path), "%s",
			 o->config_path);
		if (config_load(&a->cfg, o->config_path, err, sizeof(err)) !=
		    0) {
			fprintf(stderr, "farnode: %s\n", err);
			free(a);
			return 2;
		}
	}
	apply_log_level(a);
	if (o->check_config) {
		printf("%s: configuration OK\n",
		       o->config_path ? o->config_path : "(embedded defaults)");
		free(a);
		return 0;
	}
	uv_loop_init(&loop);
	a->loop = &loop;
	/* Initialised first so that shutdown can always close them. */
	uv_signal_init(a->loop, &a->sig_int);
	uv_signal_init(a->loop, &a->sig_term);
	uv_signal_init(a->loop, &a->sig_hup);
	a->sig_int.data = a->sig_term.data = a->sig_hup.data = a;
	uv_timer_init(a->loop, &a->watchdog);
	a->watchdog.data = a;
	if (start(a, o) != 0) {
		code = 1;
		agent_request_stop(a, 1);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	/* Anything a service forgot: close it so the loop can be closed. */
	uv_walk(&loop, walk_close, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0) {
		log_warn("event loop closed with handles still open");
	}
	if (code == 0) {
		code = a->exit_code;
	}
	store_close(a->store);
	a->store = NULL;
	release_lock(a);
	if (code == 0) {
		log_info("stopped");
	}
	free(a);
	return code;
}
