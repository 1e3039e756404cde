// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the OCI driver (runtime_oci.c). A stand-in crun (a shell
 * script written by the test, honouring the same create/start/kill/delete
 * command lines and pid file) checks the driver's sequencing, logs, stop,
 * failures and exit tracking anywhere; the real crun is then tried on a
 * minimal bundle and the test says why it is skipped when crun cannot run
 * containers on this host.
 * Tests that cannot run on this host print the reason and skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "runtime.h"
#include "store.h"

static const char fake_crun[] =
    "#!/bin/sh\n"
    "# stand-in for crun: --root DIR VERB [ARGS] ID\n"
    "root=''\n"
    "while [ $# -gt 0 ]; do case \"$1\" in\n"
    "  --root) root=$2; shift 2;;\n"
    "  *) break;; esac; done\n"
    "verb=$1; shift\n"
    "echo \"$verb $*\" >> \"$root/calls.log\"\n"
    "case \"$verb\" in\n"
    "create)\n"
    "  bundle=''; pidfile=''\n"
    "  while [ $# -gt 1 ]; do case \"$1\" in\n"
    "    --bundle) bundle=$2; shift 2;;\n"
    "    --pid-file) pidfile=$2; shift 2;;\n"
    "    *) shift;; esac; done\n"
    "  id=$1\n"
    "  [ -f \"$bundle/config.json\" ] || { echo 'no config.json' >&2; "
    "exit 1; }\n"
    "  [ -e \"$bundle/fail-create\" ] && { echo 'create failed' >&2; "
    "exit 1; }\n"
    "  mkdir -p \"$root/$id\"\n"
    "  setsid sh -c 'while [ ! -e \"$0/started\" ]; do "
    "[ -d \"$0\" ] || exit 0; sleep 0.01; done; "
    "exec sh \"$1/cmd\"' \"$root/$id\" \"$bundle\" </dev/null &\n"
    "  echo $! > \"$pidfile\"; echo $! > \"$root/$id/pid\"\n"
    "  exit 0;;\n"
    "start) touch \"$root/$1/started\";;\n"
    "kill) kill -\"${2:-15}\" \"$(cat \"$root/$1/pid\")\";;\n"
    "delete) [ \"$1\" = -f ] && { shift; kill -9 \"$(cat "
    "\"$root/$1/pid\")\" 2>/dev/null; }; rm -rf \"$root/$1\";;\n"
    "*) echo \"unknown verb $verb\" >&2; exit 2;;\n"
    "esac\n";

struct fx {
	char dir[64];
	char crun[128];
	uv_loop_t loop;
	struct store *store;
	struct runtime *rt;
	struct runtime_config cfg;
	uv_timer_t tick;
};

static struct fx F;

static void tick_cb(uv_timer_t *t)
{
	(void)t;
}

static void put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static int setup(void **state)
{
	(void)state;
	char err[256], db[128];
	memset(&F, 0, sizeof(F));
	snprintf(F.dir, sizeof(F.dir), "/tmp/farnode-oci.XXXXXX");
	assert_non_null(mkdtemp(F.dir));
	snprintf(F.crun, sizeof(F.crun), "%s/crun", F.dir);
	put(F.crun, fake_crun, 0755);
	snprintf(db, sizeof(db), "%s/farnode.db", F.dir);
	assert_int_equal(store_open(db, &F.store, err, sizeof(err)), 0);
	uv_loop_init(&F.loop);
	uv_timer_init(&F.loop, &F.tick);
	uv_timer_start(&F.tick, tick_cb, 5, 5);
	runtime_config_defaults(&F.cfg);
	F.cfg.data_dir = F.dir;
	F.cfg.cgroup_root = "none";
	F.cfg.crun_path = F.crun;
	F.cfg.backoff_initial_ms = 20;
	F.cfg.backoff_max_ms = 40;
	F.cfg.stop_timeout_ms = 2000;
	F.cfg.check_interval_ms = 50;
	log_set_level(LOG_LVL_ERROR);
	assert_int_equal(
	    runtime_new(&F.loop, F.store, &F.cfg, &F.rt, err, sizeof(err)), 0);
	assert_true(runtime_resume(F.rt) >= 0);
	return 0;
}

static int kill_visit(void *ud, const struct workload_spec *spec,
		      const struct workload_status *st)
{
	(void)ud;
	(void)spec;
	if (st->pid > 1) {
		kill(st->pid, SIGKILL);
	}
	return 0;
}

static void close_walk(uv_handle_t *h, void *ud)
{
	(void)ud;
	if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

static int teardown(void **state)
{
	(void)state;
	char cmd[160];
	runtime_foreach(F.rt, kill_visit, NULL);
	runtime_free(F.rt);
	uv_walk(&F.loop, close_walk, NULL);
	uv_run(&F.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&F.loop), 0);
	store_close(F.store);
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static bool wait_phase(const char *id, enum workload_phase phase,
		       int timeout_ms)
{
	uint64_t end = uv_now(&F.loop) + (uint64_t)timeout_ms;
	struct workload_status st;
	while (uv_now(&F.loop) < end) {
		if (runtime_get(F.rt, id, NULL, &st) == 0 &&
		    st.phase == phase) {
			return true;
		}
		uv_run(&F.loop, UV_RUN_ONCE);
	}
	return false;
}

static struct workload_status status_of(const char *id)
{
	struct workload_status st;
	assert_int_equal(runtime_get(F.rt, id, NULL, &st), 0);
	return st;
}

/* A bundle dir with config.json and the stand-in's cmd script. */
static void make_bundle(const char *name, const char *cmd, char *out,
			size_t len)
{
	char p[300];
	snprintf(out, len, "%s/%s", F.dir, name);
	assert_int_equal(mkdir(out, 0755), 0);
	snprintf(p, sizeof(p), "%s/config.json", out);
	put(p, "{\"ociVersion\": \"1.0.2\"}\n", 0644);
	snprintf(p, sizeof(p), "%s/cmd", out);
	put(p, cmd, 0644);
}

static void oci_spec(struct workload_spec *s, const char *id,
		     const char *bundle, enum restart_policy r)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->name, sizeof(s->name), "%s", id);
	s->runtime = RUNTIME_OCI;
	s->restart = r;
	snprintf(s->bundle, sizeof(s->bundle), "%s", bundle);
}

static void read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;
	if (fd >= 0) {
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
}

static void test_fake_crun_lifecycle(void **state)
{
	(void)state;
	char bundle[256], buf[4096], path[512];
	struct workload_spec s;
	char why[128];
	make_bundle("web", "echo container-out\nexec sleep 30\n", bundle,
		    sizeof(bundle));
	oci_spec(&s, "web", bundle, RESTART_NEVER);
	assert_int_equal(runtime_create(F.rt, &s, why, sizeof(why)), 0);
	assert_true(wait_phase("web", WL_RUNNING, 3000));
	int32_t pid = status_of("web").pid;
	assert_true(pid > 1 && kill(pid, 0) == 0);
	assert_true(status_of("web").start_time_ticks > 0);
	usleep(100000);
	assert_int_equal(runtime_log_path(F.rt, "web", path, sizeof(path)), 0);
	read_file(path, buf, sizeof(buf));
	assert_non_null(strstr(buf, "container-out"));

	assert_int_equal(runtime_stop_workload(F.rt, "web"), 0);
	assert_true(wait_phase("web", WL_STOPPED, 3000));
	uv_run(&F.loop, UV_RUN_ONCE);
	usleep(100000);
	uv_run(&F.loop, UV_RUN_NOWAIT);
	snprintf(path, sizeof(path), "%s/oci/calls.log", F.dir);
	read_file(path, buf, sizeof(buf));
	const char *c = strstr(buf, "create --bundle ");
	const char *st = strstr(buf, "start farnode-web");
	const char *k = strstr(buf, "kill farnode-web 15");
	const char *d = strstr(buf, "delete -f farnode-web");
	assert_non_null(c);
	assert_non_null(st);
	assert_non_null(k);
	assert_non_null(d);
	assert_true(c < st && st < k && k < d);
}

static void test_fake_crun_failures(void **state)
{
	(void)state;
	char bundle[256], p[300];
	struct workload_spec s;
	char why[128];

	/* no config.json: refused before crun runs */
	snprintf(bundle, sizeof(bundle), "%s/empty", F.dir);
	assert_int_equal(mkdir(bundle, 0755), 0);
	oci_spec(&s, "nocfg", bundle, RESTART_NEVER);
	assert_int_equal(runtime_create(F.rt, &s, why, sizeof(why)), 0);
	assert_true(wait_phase("nocfg", WL_FAILED, 2000));
	assert_non_null(strstr(status_of("nocfg").reason, "config.json"));

	/* crun create fails */
	make_bundle("broken", "exec sleep 30\n", bundle, sizeof(bundle));
	snprintf(p, sizeof(p), "%s/fail-create", bundle);
	put(p, "", 0644);
	oci_spec(&s, "broken", bundle, RESTART_NEVER);
	assert_int_equal(runtime_create(F.rt, &s, why, sizeof(why)), 0);
	assert_true(wait_phase("broken", WL_FAILED, 3000));
	assert_non_null(strstr(status_of("broken").reason,
			       "crun create exited with code 1"));

	/* the container exits on its own: seen through its pid */
	make_bundle("crash", "sleep 0.2; exit 3\n", bundle, sizeof(bundle));
	oci_spec(&s, "crash", bundle, RESTART_ON_FAILURE);
	assert_int_equal(runtime_create(F.rt, &s, why, sizeof(why)), 0);
	assert_true(wait_phase("crash", WL_RUNNING, 3000));
	uint64_t end = uv_now(&F.loop) + 5000;
	while (status_of("crash").restarts < 1 && uv_now(&F.loop) < end) {
		uv_run(&F.loop, UV_RUN_ONCE);
	}
	assert_true(status_of("crash").restarts >= 1);
	assert_int_equal(runtime_stop_workload(F.rt, "crash"), 0);
	assert_true(wait_phase("crash", WL_STOPPED, 3000));

	/* no crun at all */
	runtime_free(F.rt);
	uv_run(&F.loop, UV_RUN_NOWAIT);
	char err[256];
	F.cfg.crun_path = "/nonexistent/crun";
	assert_int_equal(
	    runtime_new(&F.loop, F.store, &F.cfg, &F.rt, err, sizeof(err)), 0);
	assert_true(runtime_resume(F.rt) >= 0);
	make_bundle("nocrun", "exec sleep 30\n", bundle, sizeof(bundle));
	oci_spec(&s, "nocrun", bundle, RESTART_NEVER);
	assert_int_equal(runtime_create(F.rt, &s, why, sizeof(why)), 0);
	assert_true(wait_phase("nocrun", WL_FAILED, 2000));
	assert_non_null(strstr(status_of("nocrun").reason, "/nonexistent"));
}

/* Can the real crun run a container here? Fills why when it cannot. */
static bool real_crun_works(char *why, size_t len)
{
	char cmd[1024], out[512];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && mkdir -p probe/rootfs && cd probe && "
		 "crun spec >/dev/null 2>&1 && "
		 "sed -i 's/\"terminal\": true/\"terminal\": false/; "
		 "s/\"sh\"/\"true\"/' config.json && "
		 "timeout 20 crun --root '%s/probe-state' run --bundle . "
		 "farnode-probe > '%s/probe.out' 2>&1",
		 F.dir, F.dir, F.dir);
	int rc = system(cmd);
	if (rc == 0) {
		return true;
	}
	snprintf(cmd, sizeof(cmd), "%s/probe.out", F.dir);
	read_file(cmd, out, sizeof(out));
	out[strcspn(out, "\n")] = '\0';
	snprintf(why, len, "%s", out[0] ? out : "crun not installed");
	return false;
}

static void test_real_crun(void **state)
{
	(void)state;
	char why[512];
	if (!real_crun_works(why, sizeof(why))) {
		print_message("# SKIP real crun cannot run containers here: "
			      "%s\n",
			      why);
		skip();
	}
	/* crun runs: drive a real container through the runtime */
	char bundle[128], p[300], cmd[1024];
	struct workload_spec s;
	char w2[128];
	snprintf(bundle, sizeof(bundle), "%s/real", F.dir);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/rootfs' && cd '%s' && crun spec && "
		 "sed -i 's/\"terminal\": true/\"terminal\": false/; "
		 "s/\"sh\"/\"sleep\", \"30\"/' config.json",
		 bundle, bundle);
	assert_int_equal(system(cmd), 0);
	(void)p;
	runtime_free(F.rt);
	uv_run(&F.loop, UV_RUN_NOWAIT);
	char err[256];
	F.cfg.crun_path = NULL;
	assert_int_equal(
	    runtime_new(&F.loop, F.store, &F.cfg, &F.rt, err, sizeof(err)), 0);
	oci_spec(&s, "real", bundle, RESTART_NEVER);
	assert_int_equal(runtime_create(F.rt, &s, w2, sizeof(w2)), 0);
	assert_true(wait_phase("real", WL_RUNNING, 10000));
	assert_int_equal(runtime_stop_workload(F.rt, "real"), 0);
	assert_true(wait_phase("real", WL_STOPPED, 10000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fake_crun_lifecycle, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fake_crun_failures, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_real_crun, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
