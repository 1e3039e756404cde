// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the runtime with real processes on a plain uv loop and a
 * real store in a temp dir: lifecycle, exit reasons, restart policies with
 * backoff, env/cwd, logs and rotation, admission, adoption after a runtime
 * restart (incl. a recycled pid and a reboot), remove, and a 200-workload
 * churn that must leak no fds, zombies or rows. Pure helpers too.
 * Tests that cannot run on this host print the reason and skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
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

struct fx {
	char dir[64];
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

static void open_rt(void)
{
	char err[256];
	assert_int_equal(
	    runtime_new(&F.loop, F.store, &F.cfg, &F.rt, err, sizeof(err)), 0);
	assert_true(runtime_resume(F.rt) >= 0);
}

/* Close the runtime (processes keep running) and let the loop free it. */
static void close_rt(void)
{
	runtime_free(F.rt);
	F.rt = NULL;
	uv_run(&F.loop, UV_RUN_NOWAIT);
	uv_run(&F.loop, UV_RUN_NOWAIT);
}

static int setup(void **state)
{
	(void)state;
	char err[256];
	char db[128];
	memset(&F, 0, sizeof(F));
	snprintf(F.dir, sizeof(F.dir), "/tmp/farnode-rt.XXXXXX");
	assert_non_null(mkdtemp(F.dir));
	snprintf(db, sizeof(db), "%s/farnode.db", F.dir);
	assert_int_equal(store_open(db, &F.store, err, sizeof(err)), 0);
	uv_loop_init(&F.loop);
	uv_timer_init(&F.loop, &F.tick);
	uv_timer_start(&F.tick, tick_cb, 5, 5);
	runtime_config_defaults(&F.cfg);
	F.cfg.data_dir = F.dir;
	F.cfg.cgroup_root = "none";
	F.cfg.backoff_initial_ms = 20;
	F.cfg.backoff_max_ms = 80;
	F.cfg.stop_timeout_ms = 2000;
	F.cfg.check_interval_ms = 50;
	F.cfg.cpu_milli_capacity = 4000;
	F.cfg.mem_capacity_bytes = 1ull << 30;
	log_set_level(LOG_LVL_WARN);
	open_rt();
	return 0;
}

static void close_walk(uv_handle_t *h, void *ud)
{
	(void)ud;
	if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

static int kill_visit(void *ud, const struct workload_spec *spec,
		      const struct workload_status *st)
{
	(void)ud;
	(void)spec;
	if (st->pid > 1) {
		kill(-st->pid, SIGKILL);
		kill(st->pid, SIGKILL);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[160];
	if (F.rt != NULL) {
		/* kill what the test left running */
		runtime_foreach(F.rt, kill_visit, NULL);
	}
	close_rt();
	uv_walk(&F.loop, close_walk, NULL);
	uv_run(&F.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&F.loop), 0);
	store_close(F.store);
	/* reap what closed runtimes left as our children (see alive()) */
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Run the loop until the workload reaches phase (or any terminal phase
 * when phase < 0), at most timeout_ms. */
static bool wait_phase(const char *id, int phase, int timeout_ms)
{
	uint64_t end = uv_now(&F.loop) + (uint64_t)timeout_ms;
	struct workload_status st;
	for (;;) {
		if (runtime_get(F.rt, id, NULL, &st) == 0) {
			if (phase >= 0 && (int)st.phase == phase) {
				return true;
			}
			if (phase < 0 &&
			    (st.phase == WL_EXITED || st.phase == WL_FAILED ||
			     st.phase == WL_STOPPED)) {
				return true;
			}
		}
		if (uv_now(&F.loop) > end) {
			return false;
		}
		uv_run(&F.loop, UV_RUN_ONCE);
	}
}

static void run_for(int ms)
{
	uint64_t end = uv_now(&F.loop) + (uint64_t)ms;
	while (uv_now(&F.loop) < end) {
		uv_run(&F.loop, UV_RUN_ONCE);
	}
}

static struct workload_status status_of(const char *id)
{
	struct workload_status st;
	assert_int_equal(runtime_get(F.rt, id, NULL, &st), 0);
	return st;
}

static void spec_cmd(struct workload_spec *s, const char *id,
		     enum restart_policy r, int argc, ...)
{
	va_list ap;
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->name, sizeof(s->name), "%s", id);
	s->restart = r;
	s->cpu_milli = 100;
	s->mem_bytes = 16 << 20;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++) {
		snprintf(s->argv[i], WORKLOAD_ARG_MAX, "%s",
			 va_arg(ap, const char *));
	}
	va_end(ap);
	s->argc = (uint32_t)argc;
}

static void create_ok(const struct workload_spec *s)
{
	char why[128];
	int rc = runtime_create(F.rt, s, why, sizeof(why));
	if (rc != 0) {
		fail_msg("create %s: %d %s", s->id, rc, why);
	}
}

/* Running (a zombie is dead: in these tests a process started by a closed
   runtime is still a child of the test program, unlike after a real agent
   restart, where init inherits it). */
static bool alive(int32_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (pid <= 0 || fd < 0) {
		return false;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	char *rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && rp[2] != 'Z';
}

static int db_rows(const char *where)
{
	char sql[256];
	sqlite3_stmt *st;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM workloads %s", where);
	assert_int_equal(
	    sqlite3_prepare_v2(store_db(F.store), sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void read_log(const char *id, char *buf, size_t cap)
{
	char path[512];
	assert_int_equal(runtime_log_path(F.rt, id, path, sizeof(path)), 0);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
}

/* ---- pure helpers ---- */

static void test_pure_helpers(void **state)
{
	(void)state;
	char buf[64];
	assert_int_equal(runtime_cpu_max(250, 100000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "25000 100000");
	assert_int_equal(runtime_cpu_max(0, 100000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "max 100000");
	assert_int_equal(runtime_cpu_max(5, 100000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1000 100000"); /* kernel minimum */
	assert_int_equal(runtime_cpu_max(2000, 100000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "200000 100000");
	assert_int_equal(runtime_cpu_max(1, 10, buf, sizeof(buf)), -EINVAL);

	/* comm may contain spaces and parentheses */
	const char *stat = "4242 (we ird) (x) S 1 4242 4242 0 -1 4194560 100 "
			   "0 0 0 1 2 0 0 20 0 1 0 987654 123 456\n";
	uint64_t ticks = 0;
	char st = 0;
	assert_int_equal(
	    runtime_parse_proc_stat(stat, strlen(stat), &ticks, &st), 0);
	assert_true(ticks == 987654);
	assert_int_equal(st, 'S');
	const char *cut = "4242 (x) S 1 4242 4242 0 -1";
	assert_int_equal(runtime_parse_proc_stat(cut, strlen(cut), &ticks, &st),
			 -EBADMSG);
	assert_int_equal(runtime_parse_proc_stat("garbage", 7, &ticks, &st),
			 -EBADMSG);

	assert_int_equal(runtime_backoff_next(0, 200, 1000), 200);
	assert_int_equal(runtime_backoff_next(200, 200, 1000), 400);
	assert_int_equal(runtime_backoff_next(800, 200, 1000), 1000);
	assert_int_equal(runtime_backoff_next(1000, 200, 1000), 1000);
}

static void test_spec_codec(void **state)
{
	(void)state;
	struct workload_spec s, d;
	char buf[8192];
	spec_cmd(&s, "codec-1", RESTART_ON_FAILURE, 3, "sh", "-c",
		 "echo 'a\\b'\nnext line");
	s.qos = QOS_GOLD;
	s.profile = PERF_GREENNESS;
	s.max_delay_ms = 200;
	s.min_bandwidth_bps = 1000000;
	s.energy_limit_watts = 2.5;
	s.failure_tolerance = FAILTOL_HIGH;
	s.n_locality = 1;
	snprintf(s.locality[0].key, sizeof(s.locality[0].key), "zone");
	snprintf(s.locality[0].value, sizeof(s.locality[0].value), "a=b");
	s.envc = 1;
	snprintf(s.env[0], sizeof(s.env[0]), "FOO=bar baz");
	snprintf(s.cwd, sizeof(s.cwd), "/tmp");
	int n = runtime_spec_encode(&s, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(runtime_spec_decode(buf, (size_t)n, &d), 0);
	assert_memory_equal(&s, &d, sizeof(s));
	assert_int_equal(runtime_spec_encode(&s, buf, 40), -EMSGSIZE);
	/* damage: unknown key, bad number, missing newline, bad escape */
	const char *bad[] = {
	    "farnode-spec 1\nid x\nbogus 1\n",
	    "farnode-spec 1\nid x\ncpu -5\n",
	    "farnode-spec 1\nid x",
	    "farnode-spec 1\nid x\\q\n",
	    "farnode-spec 2\nid x\n",
	    "farnode-spec 1\nname x\n",
	    "farnode-spec 1\nid x\nfailtol 9\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    runtime_spec_decode(bad[i], strlen(bad[i]), &d), -EBADMSG);
	}
}

/* ---- lifecycle ---- */

static void test_start_stop(void **state)
{
	(void)state;
	struct workload_spec s;
	spec_cmd(&s, "sleeper", RESTART_ALWAYS, 2, "sleep", "30");
	create_ok(&s);
	assert_true(wait_phase("sleeper", WL_RUNNING, 2000));
	struct workload_status st = status_of("sleeper");
	assert_true(alive(st.pid));
	assert_true(st.start_time_ticks > 0);
	assert_int_equal(db_rows("WHERE id = 'sleeper' AND phase = 2 AND "
				 "pid > 0 AND desired = 1"),
			 1);
	assert_int_equal(runtime_remove(F.rt, "sleeper"), -EBUSY);
	assert_int_equal(runtime_stop_workload(F.rt, "sleeper"), 0);
	assert_true(wait_phase("sleeper", WL_STOPPED, 3000));
	assert_false(alive(st.pid));
	/* always-restart does not bring back a stopped workload */
	run_for(150);
	assert_int_equal(status_of("sleeper").phase, WL_STOPPED);
	assert_int_equal(db_rows("WHERE id = 'sleeper' AND phase = 5 AND "
				 "desired = 0"),
			 1);
	assert_int_equal(runtime_stop_workload(F.rt, "nope"), -ENOENT);
}

static void test_stop_escalates_to_sigkill(void **state)
{
	(void)state;
	struct workload_spec s;
	F.cfg.stop_timeout_ms = 100;
	close_rt();
	open_rt();
	spec_cmd(&s, "stubborn", RESTART_NEVER, 3, "sh", "-c",
		 "trap '' TERM; while :; do sleep 0.05; done");
	create_ok(&s);
	assert_true(wait_phase("stubborn", WL_RUNNING, 2000));
	run_for(100); /* let the trap be installed */
	int32_t pid = status_of("stubborn").pid;
	assert_int_equal(runtime_stop_workload(F.rt, "stubborn"), 0);
	assert_true(wait_phase("stubborn", WL_STOPPED, 3000));
	assert_false(alive(pid));
	assert_int_equal(status_of("stubborn").exit_code, -SIGKILL);
}

static void test_exit_reasons(void **state)
{
	(void)state;
	struct workload_spec s;
	spec_cmd(&s, "ok", RESTART_NEVER, 1, "true");
	create_ok(&s);
	spec_cmd(&s, "three", RESTART_NEVER, 3, "sh", "-c", "exit 3");
	create_ok(&s);
	spec_cmd(&s, "sig", RESTART_NEVER, 3, "sh", "-c", "kill -9 $$");
	create_ok(&s);
	spec_cmd(&s, "missing", RESTART_NEVER, 1, "no-such-binary-xyz");
	create_ok(&s);
	char noexec[128];
	snprintf(noexec, sizeof(noexec), "%s/noexec.sh", F.dir);
	FILE *f = fopen(noexec, "w");
	fputs("#!/bin/sh\necho hi\n", f);
	fclose(f);
	chmod(noexec, 0644);
	spec_cmd(&s, "noperm", RESTART_NEVER, 1, noexec);
	create_ok(&s);
	spec_cmd(&s, "badcwd", RESTART_NEVER, 1, "true");
	snprintf(s.cwd, sizeof(s.cwd), "%s/does-not-exist", F.dir);
	create_ok(&s);

	assert_true(wait_phase("ok", WL_EXITED, 2000));
	assert_true(wait_phase("three", WL_FAILED, 2000));
	assert_true(wait_phase("sig", WL_FAILED, 2000));
	assert_true(wait_phase("missing", WL_FAILED, 2000));
	assert_true(wait_phase("noperm", WL_FAILED, 2000));
	assert_true(wait_phase("badcwd", WL_FAILED, 2000));
	assert_string_equal(status_of("ok").reason, "exited with code 0");
	assert_string_equal(status_of("three").reason, "exited with code 3");
	assert_int_equal(status_of("three").exit_code, 3);
	assert_non_null(strstr(status_of("sig").reason, "signal 9"));
	assert_int_equal(status_of("sig").exit_code, -9);
	assert_non_null(
	    strstr(status_of("missing").reason, "executable not found"));
	assert_non_null(
	    strstr(status_of("noperm").reason, "permission denied"));
	assert_non_null(strstr(status_of("badcwd").reason, "No such file"));
	/* invalid specs never get a row */
	spec_cmd(&s, "", RESTART_NEVER, 1, "true");
	char why[128];
	assert_int_equal(runtime_create(F.rt, &s, why, sizeof(why)), -EINVAL);
	spec_cmd(&s, "bad/id", RESTART_NEVER, 1, "true");
	assert_int_equal(runtime_create(F.rt, &s, why, sizeof(why)), -EINVAL);
	spec_cmd(&s, "noargs", RESTART_NEVER, 0);
	assert_int_equal(runtime_create(F.rt, &s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "without a command"));
	spec_cmd(&s, "ok", RESTART_NEVER, 1, "true");
	assert_int_equal(runtime_create(F.rt, &s, why, sizeof(why)), -EEXIST);
	assert_int_equal(db_rows(""), 6);
}

static void test_restart_on_failure_backoff(void **state)
{
	(void)state;
	struct workload_spec s;
	spec_cmd(&s, "flaky", RESTART_ON_FAILURE, 3, "sh", "-c", "exit 1");
	create_ok(&s);
	/* backoffs 20, 40, 80, 80, ...: 5 restarts need ~300 ms */
	uint64_t end = uv_now(&F.loop) + 3000;
	while (status_of("flaky").restarts < 5 && uv_now(&F.loop) < end) {
		uv_run(&F.loop, UV_RUN_ONCE);
	}
	struct workload_status st = status_of("flaky");
	assert_true(st.restarts >= 5);
	assert_true(wait_phase("flaky", WL_FAILED, 1000));
	assert_non_null(
	    strstr(status_of("flaky").reason, "restart in 80 ms")); /* capped */
	/* success ends on-failure restarts */
	spec_cmd(&s, "once", RESTART_ON_FAILURE, 1, "true");
	create_ok(&s);
	assert_true(wait_phase("once", WL_EXITED, 2000));
	run_for(100);
	assert_int_equal(status_of("once").restarts, 0);
	assert_int_equal(status_of("once").phase, WL_EXITED);
	/* stopping during the backoff ends it */
	assert_int_equal(runtime_stop_workload(F.rt, "flaky"), 0);
	assert_true(wait_phase("flaky", WL_STOPPED, 1000));
	uint32_t r = status_of("flaky").restarts;
	run_for(200);
	assert_int_equal(status_of("flaky").restarts, r);
}

static void test_backoff_resets_after_a_stable_run(void **state)
{
	(void)state;
	struct workload_spec s;
	F.cfg.backoff_reset_ms = 100;
	close_rt();
	open_rt();
	/* each run lasts longer than backoff_reset_ms: the backoff starts
	   over every time instead of doubling */
	spec_cmd(&s, "slowfail", RESTART_ON_FAILURE, 3, "sh", "-c",
		 "sleep 0.15; exit 1");
	create_ok(&s);
	uint64_t end = uv_now(&F.loop) + 5000;
	while (status_of("slowfail").restarts < 3 && uv_now(&F.loop) < end) {
		uv_run(&F.loop, UV_RUN_ONCE);
	}
	assert_true(status_of("slowfail").restarts >= 3);
	assert_true(wait_phase("slowfail", WL_FAILED, 2000));
	assert_non_null(
	    strstr(status_of("slowfail").reason, "restart in 20 ms"));
	assert_int_equal(runtime_stop_workload(F.rt, "slowfail"), 0);
	assert_true(wait_phase("slowfail", WL_STOPPED, 2000));
}

static void test_restart_always(void **state)
{
	(void)state;
	struct workload_spec s;
	spec_cmd(&s, "loop", RESTART_ALWAYS, 1, "true");
	create_ok(&s);
	uint64_t end = uv_now(&F.loop) + 3000;
	while (status_of("loop").restarts < 3 && uv_now(&F.loop) < end) {
		uv_run(&F.loop, UV_RUN_ONCE);
	}
	assert_true(status_of("loop").restarts >= 3);
	spec_cmd(&s, "never", RESTART_NEVER, 3, "sh", "-c", "exit 1");
	create_ok(&s);
	assert_true(wait_phase("never", WL_FAILED, 2000));
	run_for(200);
	assert_int_equal(status_of("never").restarts, 0);
}

static void test_env_cwd_logs(void **state)
{
	(void)state;
	struct workload_spec s;
	char buf[4096];
	spec_cmd(
	    &s, "envy", RESTART_NEVER, 3, "sh", "-c",
	    "echo \"out:$FOO:$(pwd):$FARNODE_WORKLOAD_ID:${SECRET-unset}\";"
	    " echo err >&2");
	s.envc = 1;
	snprintf(s.env[0], sizeof(s.env[0]), "FOO=bar baz");
	snprintf(s.cwd, sizeof(s.cwd), "%s", F.dir);
	setenv("SECRET", "agent-only", 1);
	create_ok(&s);
	assert_true(wait_phase("envy", WL_EXITED, 2000));
	unsetenv("SECRET");
	read_log("envy", buf, sizeof(buf));
	char want[256];
	snprintf(want, sizeof(want), "out:bar baz:%s:envy:unset\n", F.dir);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "err\n"));
}

static void test_log_rotation(void **state)
{
	(void)state;
	struct workload_spec s;
	char path[512];
	struct stat sb;
	F.cfg.log_max_bytes = 4096;
	F.cfg.log_keep = 2;
	close_rt();
	open_rt();
	spec_cmd(&s, "chatty", RESTART_NEVER, 3, "sh", "-c",
		 "i=0; while [ $i -lt 400 ]; do "
		 "echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
		 "i=$((i+1)); sleep 0.002; done");
	create_ok(&s);
	assert_true(wait_phase("chatty", WL_EXITED, 8000));
	run_for(120);
	assert_int_equal(runtime_log_path(F.rt, "chatty", path, sizeof(path)),
			 0);
	char p1[600], p2[600], p3[600];
	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(p2, sizeof(p2), "%s.2", path);
	snprintf(p3, sizeof(p3), "%s.3", path);
	assert_int_equal(stat(p1, &sb), 0);
	assert_true(sb.st_size > 0);
	assert_int_equal(stat(p2, &sb), 0);
	assert_int_not_equal(stat(p3, &sb), 0); /* only log_keep kept */
	/* ~20 KB were written; what is kept stays bounded */
	assert_int_equal(stat(path, &sb), 0);
	assert_true((uint64_t)sb.st_size < 20000);
	/* the newest line is in the live file or the first rotation */
	char buf[16384];
	read_log("chatty", buf, sizeof(buf));
	bool in_live = strstr(buf, "line-399-") != NULL;
	int fd = open(p1, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	assert_true(in_live || strstr(buf, "line-399-") != NULL);
	/* remove deletes every generation */
	assert_int_equal(runtime_remove(F.rt, "chatty"), 0);
	assert_int_not_equal(stat(path, &sb), 0);
	assert_int_not_equal(stat(p1, &sb), 0);
	assert_int_not_equal(stat(p2, &sb), 0);
}

/* ---- admission ---- */

static enum runtime_admit admit_by_name(void *ud,
					const struct workload_spec *spec,
					const struct runtime_capacity *cap,
					char *why, size_t why_len)
{
	int *calls = ud;
	(*calls)++;
	if (strncmp(spec->id, "off", 3) == 0) {
		snprintf(why, why_len, "offloaded to rank 1");
		return ADMIT_OFFLOAD;
	}
	if (strncmp(spec->id, "rej", 3) == 0) {
		snprintf(why, why_len, "policy forbids");
		return ADMIT_REJECT;
	}
	return runtime_admit_local(NULL, spec, cap, why, why_len);
}

static void test_admission(void **state)
{
	(void)state;
	struct workload_spec s;
	runtime_set_capacity(F.rt, 1000, 0);
	spec_cmd(&s, "big", RESTART_NEVER, 2, "sleep", "30");
	s.cpu_milli = 800;
	create_ok(&s);
	assert_true(wait_phase("big", WL_RUNNING, 2000));
	spec_cmd(&s, "waits", RESTART_NEVER, 2, "sleep", "30");
	s.cpu_milli = 500;
	create_ok(&s);
	assert_int_equal(status_of("waits").phase, WL_PENDING);
	assert_non_null(strstr(status_of("waits").reason, "cpu"));
	assert_int_equal(db_rows("WHERE id = 'waits' AND phase = 0"), 1);
	spec_cmd(&s, "fat", RESTART_NEVER, 2, "sleep", "30");
	s.cpu_milli = 0;
	s.mem_bytes = 4ull << 30;
	create_ok(&s);
	assert_non_null(strstr(status_of("fat").reason, "memory"));
	/* capacity frees → the pending one starts */
	assert_int_equal(runtime_stop_workload(F.rt, "big"), 0);
	assert_true(wait_phase("waits", WL_RUNNING, 3000));
	assert_int_equal(status_of("fat").phase, WL_PENDING);
	/* stop a pending one */
	assert_int_equal(runtime_stop_workload(F.rt, "fat"), 0);
	assert_int_equal(status_of("fat").phase, WL_STOPPED);
	assert_int_equal(runtime_stop_workload(F.rt, "waits"), 0);
	assert_true(wait_phase("waits", WL_STOPPED, 3000));

	/* the seam: a replacement decides */
	int calls = 0;
	runtime_set_admit(F.rt, admit_by_name, &calls);
	spec_cmd(&s, "offme", RESTART_NEVER, 1, "true");
	create_ok(&s);
	spec_cmd(&s, "reject", RESTART_NEVER, 1, "true");
	create_ok(&s);
	spec_cmd(&s, "local", RESTART_NEVER, 1, "true");
	create_ok(&s);
	assert_int_equal(calls, 3);
	assert_int_equal(status_of("offme").phase, WL_OFFLOADED);
	assert_int_equal(status_of("reject").phase, WL_FAILED);
	assert_string_equal(status_of("reject").reason,
			    "rejected: policy forbids");
	assert_true(wait_phase("local", WL_EXITED, 2000));
	runtime_set_admit(F.rt, NULL, NULL);

	/* handed back: the same record (created time kept) is pending again
	 * and admitted at once, here by the default admission: it runs */
	struct workload_status before = status_of("offme");
	assert_int_equal(runtime_offload_back(F.rt, "offme", "target-dead"), 0);
	assert_true(wait_phase("offme", WL_EXITED, 2000));
	assert_int_equal(status_of("offme").created_ms, before.created_ms);
	assert_int_equal(runtime_offload_back(F.rt, "offme", "again"),
			 -EINVAL); /* no longer offloaded */
	assert_int_equal(runtime_offload_back(F.rt, "nosuch", "x"), -ENOENT);
}

/* ---- adoption, recycled pids, reboot ---- */

static void set_row(const char *sql)
{
	char *err = NULL;
	assert_int_equal(sqlite3_exec(store_db(F.store), sql, NULL, NULL, &err),
			 SQLITE_OK);
}

static void test_adopt_after_restart(void **state)
{
	(void)state;
	struct workload_spec s;
	spec_cmd(&s, "survivor", RESTART_NEVER, 2, "sleep", "30");
	create_ok(&s);
	spec_cmd(&s, "keeper", RESTART_ON_FAILURE, 2, "sleep", "30");
	create_ok(&s);
	assert_true(wait_phase("survivor", WL_RUNNING, 2000));
	assert_true(wait_phase("keeper", WL_RUNNING, 2000));
	int32_t pid = status_of("survivor").pid;
	int32_t kpid = status_of("keeper").pid;

	close_rt(); /* the agent goes away; the processes stay */
	assert_true(alive(pid));
	open_rt();
	struct workload_status st = status_of("survivor");
	assert_int_equal(st.phase, WL_RUNNING);
	assert_int_equal(st.pid, pid); /* adopted, not started again */
	assert_int_equal(status_of("keeper").pid, kpid);
	assert_int_equal(runtime_count(F.rt), 2);

	/* its exit is still seen, though it is no longer our child */
	kill(pid, SIGKILL);
	assert_true(wait_phase("survivor", WL_FAILED, 3000));
	assert_non_null(strstr(status_of("survivor").reason, "unknown"));
	/* on-failure brings an adopted one back after an unknown exit */
	kill(kpid, SIGKILL);
	assert_true(wait_phase("keeper", WL_FAILED, 3000));
	assert_true(wait_phase("keeper", WL_RUNNING, 3000));
	assert_true(status_of("keeper").pid != kpid);
	assert_int_equal(status_of("keeper").restarts, 1);

	/* stop works on adopted processes too */
	close_rt();
	open_rt();
	kpid = status_of("keeper").pid;
	assert_int_equal(runtime_stop_workload(F.rt, "keeper"), 0);
	assert_true(wait_phase("keeper", WL_STOPPED, 3000));
	assert_false(alive(kpid));
}

/* A run hosted for a neighbour ends with the agent: after a restart it is
 * stopped (its result could no longer reach the origin, which places it
 * again), while the node's own workloads are adopted; the origin and
 * placement columns survive the reload. */
static void test_hosted_run_stopped_after_restart(void **state)
{
	(void)state;
	struct workload_spec s;
	struct node_id origin, ran_on;
	char why[WORKLOAD_REASON_MAX];
	memset(&origin, 0x42, sizeof(origin));
	memset(&ran_on, 0x43, sizeof(ran_on));
	/* an offloaded one that has ended elsewhere keeps where it ran */
	spec_cmd(&s, "away", RESTART_NEVER, 1, "true");
	create_ok(&s);
	assert_true(wait_phase("away", WL_EXITED, 2000));
	close_rt();
	set_row("UPDATE workloads SET phase = 6 WHERE id = 'away'");
	open_rt();
	assert_int_equal(runtime_offload_end(F.rt, "away", &ran_on, 0, "done"),
			 0);
	spec_cmd(&s, "guest", RESTART_NEVER, 2, "sleep", "30");
	assert_int_equal(
	    runtime_create_hosted(F.rt, &s, &origin, why, sizeof(why)), 0);
	spec_cmd(&s, "own", RESTART_NEVER, 2, "sleep", "30");
	create_ok(&s);
	assert_true(wait_phase("guest", WL_RUNNING, 2000));
	assert_true(wait_phase("own", WL_RUNNING, 2000));
	int32_t gpid = status_of("guest").pid;
	int32_t opid = status_of("own").pid;

	close_rt(); /* the agent goes away; the processes stay */
	assert_true(alive(gpid));
	assert_true(alive(opid));
	open_rt();
	assert_true(wait_phase("guest", WL_STOPPED, 3000));
	assert_false(alive(gpid));
	struct workload_status st = status_of("guest");
	assert_non_null(strstr(st.reason, "agent restart"));
	assert_memory_equal(st.origin.b, origin.b, NODE_ID_LEN);
	st = status_of("own");
	assert_int_equal(st.phase, WL_RUNNING);
	assert_int_equal(st.pid, opid);
	assert_true(node_id_is_zero(&st.origin));
	st = status_of("away");
	assert_int_equal(st.phase, WL_EXITED);
	assert_memory_equal(st.placed_on.b, ran_on.b, NODE_ID_LEN);
	assert_int_equal(runtime_stop_workload(F.rt, "own"), 0);
	assert_true(wait_phase("own", WL_STOPPED, 3000));
}

static void test_recycled_pid_not_adopted(void **state)
{
	(void)state;
	struct workload_spec s;
	spec_cmd(&s, "victim", RESTART_ON_FAILURE, 2, "sleep", "30");
	create_ok(&s);
	assert_true(wait_phase("victim", WL_RUNNING, 2000));
	int32_t pid = status_of("victim").pid;
	close_rt();
	/* pretend the recorded process started at another time: the pid
	   now belongs to someone else */
	set_row("UPDATE workloads SET start_ticks = start_ticks + 12345");
	open_rt();
	/* not adopted: treated as gone, restarted under a new pid */
	assert_true(wait_phase("victim", WL_RUNNING, 3000));
	int32_t npid = status_of("victim").pid;
	assert_true(npid != pid);
	assert_true(alive(pid)); /* the stranger was not touched */
	kill(pid, SIGKILL);
	assert_int_equal(runtime_stop_workload(F.rt, "victim"), 0);
	assert_true(wait_phase("victim", WL_STOPPED, 3000));
	usleep(20000);
}

static void test_reboot_restarts_desired(void **state)
{
	(void)state;
	struct workload_spec s;
	spec_cmd(&s, "svc", RESTART_NEVER, 2, "sleep", "30");
	create_ok(&s);
	spec_cmd(&s, "done", RESTART_NEVER, 1, "true");
	create_ok(&s);
	spec_cmd(&s, "halted", RESTART_NEVER, 2, "sleep", "30");
	create_ok(&s);
	assert_true(wait_phase("svc", WL_RUNNING, 2000));
	assert_true(wait_phase("done", WL_EXITED, 2000));
	assert_true(wait_phase("halted", WL_RUNNING, 2000));
	assert_int_equal(runtime_stop_workload(F.rt, "halted"), 0);
	assert_true(wait_phase("halted", WL_STOPPED, 3000));
	int32_t pid = status_of("svc").pid;
	close_rt();
	kill(pid, SIGKILL); /* the reboot takes every process */
	set_row("UPDATE workloads SET boot_id = 'an-earlier-boot' "
		"WHERE pid > 0");
	usleep(20000);
	open_rt();
	assert_true(wait_phase("svc", WL_RUNNING, 3000));
	assert_true(status_of("svc").pid != pid);
	assert_int_equal(status_of("done").phase, WL_EXITED);
	assert_int_equal(status_of("halted").phase, WL_STOPPED);
	assert_int_equal(runtime_stop_workload(F.rt, "svc"), 0);
	assert_true(wait_phase("svc", WL_STOPPED, 3000));
}

/* ---- churn ---- */

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.') {
			n++;
		}
	}
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static int count_zombie_children(void)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[300], buf[512];
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9') {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0) {
			continue;
		}
		ssize_t r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0) {
			continue;
		}
		buf[r] = '\0';
		char *rp = strrchr(buf, ')');
		char state;
		int ppid;
		if (rp != NULL &&
		    sscanf(rp + 1, " %c %d", &state, &ppid) == 2 &&
		    state == 'Z' && ppid == (int)getpid()) {
			n++;
		}
	}
	closedir(d);
	return n;
}

static void test_churn_no_leaks(void **state)
{
	(void)state;
	struct workload_spec s;
	char id[32];
	run_for(20);
	int fds0 = count_fds();
	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "churn-%03d", i);
		spec_cmd(&s, id, RESTART_NEVER, 1, "true");
		create_ok(&s);
		if (i % 20 == 19) {
			/* finish a batch, then remove it */
			for (int k = i - 19; k <= i; k++) {
				snprintf(id, sizeof(id), "churn-%03d", k);
				assert_true(wait_phase(id, -1, 3000));
				assert_int_equal(runtime_remove(F.rt, id), 0);
			}
		}
	}
	run_for(60);
	assert_int_equal(runtime_count(F.rt), 0);
	assert_int_equal(db_rows(""), 0);
	assert_int_equal(count_fds(), fds0);
	assert_int_equal(count_zombie_children(), 0);
	DIR *d;
	char logs[128];
	snprintf(logs, sizeof(logs), "%s/logs", F.dir);
	d = opendir(logs);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d)) != NULL) {
		files += e->d_name[0] != '.';
	}
	closedir(d);
	assert_int_equal(files, 0);
}

static void test_max_workloads(void **state)
{
	(void)state;
	struct workload_spec s;
	char why[128];
	F.cfg.max_workloads = 2;
	close_rt();
	open_rt();
	spec_cmd(&s, "a", RESTART_NEVER, 1, "true");
	create_ok(&s);
	spec_cmd(&s, "b", RESTART_NEVER, 1, "true");
	create_ok(&s);
	spec_cmd(&s, "c", RESTART_NEVER, 1, "true");
	assert_int_equal(runtime_create(F.rt, &s, why, sizeof(why)), -ENOSPC);
	assert_int_equal(db_rows(""), 2);
	assert_true(wait_phase("a", -1, 2000));
	assert_true(wait_phase("b", -1, 2000));
}

/* ---- cgroups ---- */

/* A fresh directory on the cgroup2 mount for this test, or NULL. */
static char cg_root[512];
static const char *test_cgroup_root(void)
{
	char line[1024];
	char mnt[256] = "";
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (f == NULL) {
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, " - cgroup2 ") == NULL) {
			continue;
		}
		char *p = line;
		for (int i = 0; i < 4 && p != NULL; i++) {
			p = strchr(p, ' ');
			p = p != NULL ? p + 1 : NULL;
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
		return NULL;
	}
	snprintf(cg_root, sizeof(cg_root), "%s/farnode-test-%d", mnt,
		 (int)getpid());
	return cg_root;
}

static bool in_cgroup(int32_t pid, const char *leaf_suffix)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(path, "r");
	bool found = false;
	if (f == NULL) {
		return false;
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (strncmp(buf, "0::", 3) == 0 &&
		    strstr(buf, leaf_suffix) != NULL) {
			found = true;
		}
	}
	fclose(f);
	return found;
}

static void test_cgroup_leaf(void **state)
{
	(void)state;
	struct workload_spec s;
	const char *root = test_cgroup_root();
	if (root == NULL) {
		print_message("# SKIP no cgroup2 mount on this host\n");
		skip();
	}
	F.cfg.cgroup_root = root;
	close_rt();
	open_rt();
	enum runtime_cgroup_mode mode = runtime_cgroup_mode(F.rt);
	if (mode == CGROUP_NONE) {
		print_message("# SKIP cgroups unusable: %s\n",
			      runtime_cgroup_note(F.rt));
		rmdir(root);
		skip();
	}
	spec_cmd(&s, "grouped", RESTART_NEVER, 3, "sh", "-c",
		 "sleep 30 & sleep 30");
	create_ok(&s);
	assert_true(wait_phase("grouped", WL_RUNNING, 2000));
	int32_t pid = status_of("grouped").pid;
	char leaf[600], procs[700];
	snprintf(leaf, sizeof(leaf), "%s/wl-grouped", root);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", leaf);
	int members = 0;
	bool joined = false;
	for (int tries = 0; tries < 100 && (members < 2 || !joined); tries++) {
		joined = in_cgroup(pid, "/wl-grouped");
		run_for(20); /* until the shell has forked its child */
		FILE *f = fopen(procs, "r");
		assert_non_null(f);
		char line[32];
		members = 0;
		while (fgets(line, sizeof(line), f) != NULL) {
			members++;
		}
		fclose(f);
	}
	assert_true(joined);
	assert_true(members >= 2); /* the shell, or what it execs, and its
				      background child */
	assert_int_equal(runtime_stop_workload(F.rt, "grouped"), 0);
	assert_true(wait_phase("grouped", WL_STOPPED, 3000));
	run_for(120); /* the check timer retries the rmdir */
	struct stat sb;
	assert_int_not_equal(stat(leaf, &sb), 0); /* leaf and strays gone */

	/* a cgroup that cannot be created fails the start with a reason */
	char maxd[600];
	snprintf(maxd, sizeof(maxd), "%s/cgroup.max.descendants", root);
	FILE *md = fopen(maxd, "w");
	assert_non_null(md);
	fputs("0", md);
	assert_int_equal(fclose(md), 0);
	spec_cmd(&s, "nocg", RESTART_NEVER, 2, "sleep", "30");
	create_ok(&s);
	assert_true(wait_phase("nocg", WL_FAILED, 2000));
	assert_non_null(strstr(status_of("nocg").reason, "cgroup"));
	assert_int_equal(status_of("nocg").pid, 0);
	md = fopen(maxd, "w");
	assert_non_null(md);
	fputs("max", md);
	assert_int_equal(fclose(md), 0);

	close_rt();
	run_for(20);
	rmdir(root);
}

static void test_cgroup_limits_oom(void **state)
{
	(void)state;
	struct workload_spec s;
	char leaf[600];
	const char *root = test_cgroup_root();
	if (root == NULL) {
		print_message("# SKIP no cgroup2 mount on this host\n");
		skip();
	}
	F.cfg.cgroup_root = root;
	close_rt();
	open_rt();
	if (runtime_cgroup_mode(F.rt) != CGROUP_LIMITS) {
		print_message("# SKIP %s\n", runtime_cgroup_note(F.rt));
		close_rt();
		run_for(20);
		rmdir(root);
		skip();
	}
	char cpu[64];
	spec_cmd(&s, "limited", RESTART_NEVER, 2, "sleep", "30");
	s.cpu_milli = 250;
	s.mem_bytes = 32ull << 20;
	create_ok(&s);
	assert_true(wait_phase("limited", WL_RUNNING, 2000));
	snprintf(leaf, sizeof(leaf), "%s/wl-limited/cpu.max", root);
	FILE *f = fopen(leaf, "r");
	assert_non_null(f);
	assert_non_null(fgets(cpu, sizeof(cpu), f));
	fclose(f);
	assert_string_equal(cpu, "25000 100000\n");
	assert_int_equal(runtime_stop_workload(F.rt, "limited"), 0);
	assert_true(wait_phase("limited", WL_STOPPED, 3000));
	/* a memory hog dies at memory.max and says why */
	spec_cmd(&s, "hog", RESTART_NEVER, 3, "sh", "-c",
		 "x=$(head -c 268435456 /dev/zero | tr '\\0' x); "
		 "echo survived");
	s.mem_bytes = 32ull << 20;
	create_ok(&s);
	assert_true(wait_phase("hog", WL_FAILED, 20000));
	assert_non_null(strstr(status_of("hog").reason, "memory.max"));

	close_rt();
	run_for(20);
	rmdir(root);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pure_helpers),
	    cmocka_unit_test(test_spec_codec),
	    cmocka_unit_test_setup_teardown(test_start_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_escalates_to_sigkill,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exit_reasons, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_on_failure_backoff,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_backoff_resets_after_a_stable_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_always, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_env_cwd_logs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_rotation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admission, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_adopt_after_restart, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_hosted_run_stopped_after_restart,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recycled_pid_not_adopted,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reboot_restarts_desired, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_churn_no_leaks, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_max_workloads, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_cgroup_leaf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cgroup_limits_oom, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
