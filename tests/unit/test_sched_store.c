// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for sched_store: write-behind round trip, crash inside a tick
 * (the reopened table equals the last committed tick), shape mismatch and
 * bad rows refused without change, rollback keeps cells dirty, and the
 * bounded decision log with rewards and oldest-first trimming.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "sched.h"
#include "sched_store.h"
#include "store.h"

static char dir[64];
static char path[128];
static struct store *open_store;

/* Open the agent's real store (schema from agent/store.c). One at a time. */
static sqlite3 *db_open(void)
{
	char err[256];
	int rc = store_open(path, &open_store, err, sizeof(err));
	if (rc < 0) {
		fail_msg("store_open: %s", err);
	}
	return store_db(open_store);
}

static void db_close(sqlite3 *db)
{
	(void)db;
	store_close(open_store);
	open_store = NULL;
}

static int setup(void **st)
{
	(void)st;
	log_set_level(LOG_LVL_WARN);
	snprintf(dir, sizeof(dir), "/tmp/farnode-sst-XXXXXX");
	if (!mkdtemp(dir)) {
		return -1;
	}
	snprintf(path, sizeof(path), "%s/farnode.db", dir);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct sched *mk(uint64_t seed)
{
	struct sched_params p;
	sched_params_default(&p);
	struct sched *s = NULL;
	assert_int_equal(sched_new(&p, seed, &s), 0);
	return s;
}

/* Deterministic pseudo-learning touching many cells. */
static void learn_some(struct sched *s, uint32_t round, uint32_t n)
{
	uint32_t ns = sched_n_states(s), na = sched_n_actions(s);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = round * 7919u + i * 104729u;
		assert_int_equal(sched_learn(s, k % ns, (k / ns) % na,
					     (double)(k % 17) / 8.0 - 1.0,
					     (k * 31u) % ns),
				 0);
	}
}

static void assert_tables_equal(const struct sched *a, const struct sched *b)
{
	for (uint32_t s = 0; s < sched_n_states(a); s++) {
		for (uint32_t x = 0; x < sched_n_actions(a); x++) {
			double qa, qb;
			uint32_t va, vb;
			sched_q_get(a, s, x, &qa, &va);
			sched_q_get(b, s, x, &qb, &vb);
			if (qa != qb || va != vb) {
				fail_msg("cell (%u,%u): %.17g/%u vs %.17g/%u",
					 s, x, qa, va, qb, vb);
			}
		}
	}
}

static void copy_table(const struct sched *from, struct sched *to)
{
	for (uint32_t s = 0; s < sched_n_states(from); s++) {
		for (uint32_t x = 0; x < sched_n_actions(from); x++) {
			double q;
			uint32_t v;
			sched_q_get(from, s, x, &q, &v);
			sched_q_set(to, s, x, q, v, false);
		}
	}
}

static void test_round_trip(void **st)
{
	(void)st;
	sqlite3 *db = db_open();
	struct sched_store *ss = NULL;
	assert_int_equal(sched_store_new(db, 100, &ss), 0);
	struct sched *s = mk(1);
	assert_int_equal(sched_store_load(ss, s), 0); /* empty */
	learn_some(s, 1, 500);
	const uint32_t *cells;
	size_t dirty = sched_dirty(s, &cells);
	assert_true(dirty > 100);
	assert_int_equal(sched_store_flush(ss, s), (int)dirty);
	assert_int_equal(sched_dirty(s, &cells), 0);
	assert_int_equal(sched_store_flush(ss, s), 0); /* nothing to do */
	learn_some(s, 2, 50); /* updates some existing rows */
	assert_true(sched_store_flush(ss, s) > 0);
	assert_int_equal(sched_store_stats(ss)->flushes, 2);

	struct sched *t = mk(2);
	int n = sched_store_load(ss, t);
	assert_true(n >= (int)dirty);
	assert_tables_equal(s, t);
	assert_int_equal(sched_dirty(t, &cells), 0); /* loaded = clean */
	sched_free(t);
	sched_free(s);
	sched_store_free(ss);
	db_close(db);
}

static int die_on_commit(void *ud)
{
	(void)ud;
	raise(SIGKILL);
	return 0;
}

static void test_crash_keeps_last_committed_tick(void **st)
{
	(void)st;
	unlink(path);
	struct sched *committed = mk(3);
	/* Reference: what tick 1 commits (the child does the same). */
	learn_some(committed, 1, 800);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *db = db_open();
		struct sched_store *ss = NULL;
		struct sched *s = mk(3);
		if (sched_store_new(db, 100, &ss) < 0) {
			_exit(3);
		}
		learn_some(s, 1, 800);
		if (sched_store_flush(ss, s) <= 0) {
			_exit(4);
		}
		learn_some(s, 2, 800); /* tick 2: many changed cells */
		sched_store_log_decision(ss, 1, "w-crash", 1, 1);
		/* Die inside the tick-2 commit, rows already written. */
		sqlite3_commit_hook(db, die_on_commit, NULL);
		sched_store_flush(ss, s);
		_exit(5); /* not reached */
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	sqlite3 *db = db_open();
	struct sched_store *ss = NULL;
	assert_int_equal(sched_store_new(db, 100, &ss), 0);
	struct sched *t = mk(4);
	assert_true(sched_store_load(ss, t) > 0);
	assert_tables_equal(committed, t);
	assert_int_equal(sched_store_decisions_count(ss), 0);

	/* And the reopened table keeps learning and persisting. */
	learn_some(t, 3, 10);
	assert_true(sched_store_flush(ss, t) > 0);
	sched_free(t);
	sched_free(committed);
	sched_store_free(ss);
	db_close(db);
}

static void test_close_without_flush(void **st)
{
	(void)st;
	unlink(path);
	sqlite3 *db = db_open();
	struct sched_store *ss = NULL;
	assert_int_equal(sched_store_new(db, 100, &ss), 0);
	struct sched *s = mk(5);
	learn_some(s, 1, 300);
	assert_true(sched_store_flush(ss, s) > 0);
	struct sched *snap = mk(5);
	copy_table(s, snap);
	learn_some(s, 2, 300); /* never flushed */
	sched_free(s);
	sched_store_free(ss);
	db_close(db);

	db = db_open();
	assert_int_equal(sched_store_new(db, 100, &ss), 0);
	struct sched *t = mk(6);
	assert_true(sched_store_load(ss, t) > 0);
	assert_tables_equal(snap, t);
	sched_free(t);
	sched_free(snap);
	sched_store_free(ss);
	db_close(db);
}

static void test_refusals(void **st)
{
	(void)st;
	unlink(path);
	sqlite3 *db = db_open();
	struct sched_store *ss = NULL;
	assert_int_equal(sched_store_new(db, 100, &ss), 0);
	struct sched *s = mk(7);
	learn_some(s, 1, 100);
	assert_true(sched_store_flush(ss, s) > 0);

	/* Other shape: refused, target untouched. */
	struct sched_params p;
	sched_params_default(&p);
	p.cpu_load.v[0] = 0.4;
	struct sched *other = NULL;
	assert_int_equal(sched_new(&p, 8, &other), 0);
	sched_q_set(other, 0, 0, 0.5, 2, false);
	assert_int_equal(sched_store_load(ss, other), -ESTALE);
	double q;
	uint32_t v;
	sched_q_get(other, 0, 0, &q, &v);
	assert_float_equal(q, 0.5, 0.0);
	assert_int_equal(v, 2);
	assert_int_equal(sched_store_reset(ss), 0);
	assert_int_equal(sched_store_load(ss, other), 0);
	sched_free(other);

	/* Bad rows: infinite q, out-of-range state; nothing applied. */
	assert_true(sched_store_flush(ss, s) == 0); /* nothing dirty */
	for (uint32_t i = 0; i < sched_n_states(s); i++) {
		for (uint32_t a = 0; a < sched_n_actions(s); a++) {
			sched_q_get(s, i, a, &q, &v);
			if (v > 0) {
				sched_q_set(s, i, a, q, v, true);
			}
		}
	}
	learn_some(s, 2, 100);
	assert_true(sched_store_flush(ss, s) > 0);
	assert_int_equal(sqlite3_exec(db,
				      "INSERT INTO qtable VALUES"
				      " (3, 1, 9e999, 1)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	struct sched *t = mk(9);
	assert_int_equal(sched_store_load(ss, t), -EBADMSG);
	const uint32_t *cells;
	assert_int_equal(sched_dirty(t, &cells), 0);
	for (uint32_t i = 0; i < sched_n_states(t); i++) {
		sched_q_get(t, i, 0, &q, &v);
		assert_int_equal(v, 0);
	}
	assert_int_equal(sqlite3_exec(db,
				      "DELETE FROM qtable WHERE state = 3"
				      " AND action = 1;"
				      "INSERT INTO qtable VALUES"
				      " (99999999, 0, 1.0, 1)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sched_store_load(ss, t), -EBADMSG);
	sched_free(t);

	/* A failing tick rolls back and keeps the cells dirty. */
	assert_int_equal(sqlite3_exec(db, "DELETE FROM qtable WHERE state ="
					  " 99999999;"
					  "ALTER TABLE qtable RENAME TO qt_away",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sched_store_free(ss);
	ss = NULL;
	/* Statements are prepared against the table: re-create it so the
	 * store can prepare, then make writes fail with a trigger. */
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE qt_away RENAME TO qtable;"
					  "CREATE TRIGGER no_write BEFORE INSERT"
					  " ON qtable BEGIN SELECT RAISE(ABORT,"
					  " 'read only'); END;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sched_store_new(db, 100, &ss), 0);
	learn_some(s, 3, 20);
	size_t dirty = sched_dirty(s, &cells);
	log_set_level(-1); /* the expected error is logged */
	assert_true(sched_store_flush(ss, s) < 0);
	log_set_level(LOG_LVL_INFO);
	assert_int_equal(sched_dirty(s, &cells), dirty);
	assert_int_equal(sched_store_stats(ss)->flush_failures, 1);
	assert_int_equal(sqlite3_get_autocommit(db), 1); /* rolled back */
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER no_write", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	assert_int_equal(sched_store_flush(ss, s), (int)dirty);
	t = mk(10);
	assert_true(sched_store_load(ss, t) > 0);
	assert_tables_equal(s, t);
	sched_free(t);
	sched_free(s);
	sched_store_free(ss);
	db_close(db);
}

static void test_decision_log(void **st)
{
	(void)st;
	unlink(path);
	sqlite3 *db = db_open();
	struct sched_store *ss = NULL;
	assert_int_equal(sched_store_new(db, 5, &ss), 0);
	struct sched *s = mk(11);
	char id[16];
	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "w%d", i % 4);
		assert_int_equal(sched_store_log_decision(ss, 1000 + (uint64_t)i,
							  id, (uint32_t)i,
							  (uint32_t)(i % 6)),
				 0);
	}
	/* w1 was decided at i=1 and i=5: the reward goes to the newest. */
	assert_int_equal(sched_store_log_reward(ss, "w1", 0.75), 0);
	assert_int_equal(sched_store_log_reward(ss, "w2", NAN), -EINVAL);
	assert_int_equal(sched_store_decisions_count(ss), 0); /* buffered */
	assert_int_equal(sched_store_flush(ss, s), 0);
	assert_int_equal(sched_store_decisions_count(ss), 5);
	struct sched_logged l[10];
	assert_int_equal(sched_store_decisions(ss, l, 10), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(l[i].time_ms, 1007 - i); /* newest first */
		assert_int_equal(l[i].state, 7 - i);
	}
	assert_string_equal(l[2].workload, "w1");
	assert_true(l[2].has_reward);
	assert_float_equal(l[2].reward, 0.75, 0.0);
	assert_false(l[0].has_reward);
	assert_int_equal(sched_store_stats(ss)->log_trimmed, 3);
	assert_int_equal(sched_store_decisions(ss, l, 2), 2);
	assert_int_equal(l[1].time_ms, 1006);

	/* More ticks keep the cap. */
	for (int i = 0; i < 3; i++) {
		sched_store_log_decision(ss, 2000 + (uint64_t)i, "x", 0, 0);
	}
	assert_int_equal(sched_store_flush(ss, s), 0);
	assert_int_equal(sched_store_decisions_count(ss), 5);
	assert_int_equal(sched_store_decisions(ss, l, 10), 5);
	assert_int_equal(l[0].time_ms, 2002);
	assert_int_equal(l[4].time_ms, 1006);

	/* A full buffer drops and counts. */
	for (int i = 0; i < SCHED_STORE_PENDING_MAX; i++) {
		assert_int_equal(sched_store_log_decision(ss, 1, "y", 0, 0), 0);
	}
	assert_int_equal(sched_store_log_decision(ss, 1, "y", 0, 0), -ENOBUFS);
	assert_int_equal(sched_store_stats(ss)->log_dropped, 1);
	assert_int_equal(sched_store_flush(ss, s), 0);
	assert_int_equal(sched_store_decisions_count(ss), 5);
	sched_free(s);
	sched_store_free(ss);
	db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_crash_keeps_last_committed_tick),
		cmocka_unit_test(test_close_without_flush),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_decision_log),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
