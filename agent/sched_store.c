// SPDX-License-Identifier: Apache-2.0
/*
 * sched_store: write-behind persistence of the Q-table and the bounded
 * decision log. The in-memory table (sched) is the truth while the agent
 * runs; once per tick its dirty cells go to SQLite in one transaction, so a
 * crash loses at most the last tick and never leaves half a tick behind.
 */
#define LOG_TAG "sched"
#include "sched_store.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum {
	ST_UPSERT,
	ST_LOAD,
	ST_RESET,
	ST_LOG_INSERT,
	ST_LOG_REWARD,
	ST_LOG_TRIM,
	ST_LOG_READ,
	ST_LOG_COUNT,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_N,
};

static const char *const sql_text[ST_N] = {
	[ST_UPSERT] = "INSERT OR REPLACE INTO qtable (state, action, q, visits)"
		      " VALUES (?1, ?2, ?3, ?4)",
	[ST_LOAD] = "SELECT state, action, q, visits FROM qtable",
	[ST_RESET] = "DELETE FROM qtable",
	[ST_LOG_INSERT] = "INSERT INTO decisions (time_ms, workload, state,"
			  " action) VALUES (?1, ?2, ?3, ?4)",
	[ST_LOG_REWARD] = "UPDATE decisions SET reward = ?1 WHERE seq ="
			  " (SELECT seq FROM decisions WHERE workload = ?2"
			  " ORDER BY seq DESC LIMIT 1)",
	[ST_LOG_TRIM] = "DELETE FROM decisions WHERE seq <="
			" (SELECT MAX(seq) FROM decisions) - ?1",
	[ST_LOG_READ] = "SELECT seq, time_ms, workload, state, action, reward"
			" FROM decisions ORDER BY seq DESC LIMIT ?1",
	[ST_LOG_COUNT] = "SELECT COUNT(*) FROM decisions",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

struct pending_decision {
	uint64_t time_ms;
	uint32_t state;
	uint32_t action;
	char workload[SCHED_STORE_WORKLOAD_MAX];
};

struct pending_reward {
	double reward;
	char workload[SCHED_STORE_WORKLOAD_MAX];
};

struct sched_store {
	sqlite3 *db;
	uint32_t cap;
	sqlite3_stmt *st[ST_N];
	struct pending_decision *dec;
	size_t n_dec;
	struct pending_reward *rew;
	size_t n_rew;
	struct sched_store_stats stats;
};

static int sql_err(struct sched_store *st, int rc, const char *what)
{
	log_error("%s: %s", what, sqlite3_errmsg(st->db));
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EACCES;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EILSEQ;
	default:
		return -EIO;
	}
}

int sched_store_new(sqlite3 *db, uint32_t decisions_cap,
		    struct sched_store **out)
{
	*out = NULL;
	if (!db || decisions_cap == 0) {
		return -EINVAL;
	}
	struct sched_store *st = calloc(1, sizeof(*st));
	if (!st) {
		return -ENOMEM;
	}
	st->db = db;
	st->cap = decisions_cap;
	st->dec = calloc(SCHED_STORE_PENDING_MAX, sizeof(*st->dec));
	st->rew = calloc(SCHED_STORE_PENDING_MAX, sizeof(*st->rew));
	int rc = -ENOMEM;
	if (!st->dec || !st->rew) {
		goto fail;
	}
	for (int i = 0; i < ST_N; i++) {
		int src = sqlite3_prepare_v3(db, sql_text[i], -1,
					     SQLITE_PREPARE_PERSISTENT,
					     &st->st[i], NULL);
		if (src != SQLITE_OK) {
			rc = sql_err(st, src, "preparing scheduler SQL");
			goto fail;
		}
	}
	*out = st;
	return 0;
fail:
	sched_store_free(st);
	return rc;
}

void sched_store_free(struct sched_store *st)
{
	if (!st) {
		return;
	}
	for (int i = 0; i < ST_N; i++) {
		sqlite3_finalize(st->st[i]);
	}
	free(st->dec);
	free(st->rew);
	free(st);
}

void sched_store_set_cap(struct sched_store *st, uint32_t decisions_cap)
{
	if (decisions_cap > 0) {
		st->cap = decisions_cap;
	}
}

/* Run a statement without result rows; reset it afterwards. */
static int step_done(struct sched_store *st, int which, const char *what)
{
	sqlite3_stmt *q = st->st[which];
	int rc = sqlite3_step(q);
	int ret = 0;
	if (rc != SQLITE_DONE) {
		ret = sql_err(st, rc, what);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return ret;
}

int sched_store_load(struct sched_store *st, struct sched *s)
{
	uint32_t ns = sched_n_states(s), na = sched_n_actions(s);
	size_t cells = (size_t)ns * na;
	struct sched_share *e = malloc(sizeof(*e) * (cells ? cells : 1));
	if (!e) {
		return -ENOMEM;
	}
	sqlite3_stmt *q = st->st[ST_LOAD];
	size_t n = 0;
	bool have_meta = false;
	int64_t meta = 0;
	bool bad_row = false;
	int rc, ret = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t state = sqlite3_column_int64(q, 0);
		int64_t action = sqlite3_column_int64(q, 1);
		double qv = sqlite3_column_double(q, 2);
		int64_t visits = sqlite3_column_int64(q, 3);
		if (state == SCHED_STORE_META_STATE && action == 0) {
			have_meta = true;
			meta = visits;
			continue;
		}
		if (n == cells || state < 0 || state >= ns || action < 0 ||
		    action >= na || visits < 0 || visits > UINT32_MAX ||
		    !isfinite(qv) ||
		    sqlite3_column_type(q, 2) == SQLITE_NULL) {
			/* Keep reading: the shape row decides whether this
			 * is a table of another shape or a damaged one. */
			if (!bad_row) {
				log_error("qtable row (%" PRId64 ", %" PRId64
					  ") is out of range or not finite",
					  state, action);
			}
			bad_row = true;
			continue;
		}
		e[n].state = (uint32_t)state;
		e[n].action = (uint32_t)action;
		e[n].q = qv;
		e[n].visits = (uint32_t)visits;
		n++;
	}
	if (rc != SQLITE_DONE) {
		ret = sql_err(st, rc, "loading qtable");
		goto out;
	}
	if ((n > 0 || have_meta || bad_row) &&
	    (!have_meta || meta != (int64_t)sched_fingerprint(s))) {
		log_warn("qtable was learned for another state shape "
			 "(fingerprint %" PRId64 ", now %u); not loading it",
			 meta, (unsigned)sched_fingerprint(s));
		ret = -ESTALE;
		goto out;
	}
	if (bad_row) {
		log_error("qtable damaged; not loading it");
		ret = -EBADMSG;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sched_q_set(s, e[i].state, e[i].action, e[i].q, e[i].visits,
			    false);
	}
	ret = (int)n;
out:
	sqlite3_reset(q);
	free(e);
	return ret;
}

int sched_store_reset(struct sched_store *st)
{
	return step_done(st, ST_RESET, "clearing qtable");
}

static int write_tick(struct sched_store *st, struct sched *s, size_t *cells)
{
	const uint32_t *dirty;
	size_t n = sched_dirty(s, &dirty);
	uint32_t na = sched_n_actions(s);
	sqlite3_stmt *up = st->st[ST_UPSERT];
	int rc;
	for (size_t i = 0; i < n; i++) {
		uint32_t state = dirty[i] / na, action = dirty[i] % na;
		double q;
		uint32_t visits;
		sched_q_get(s, state, action, &q, &visits);
		sqlite3_bind_int64(up, 1, state);
		sqlite3_bind_int64(up, 2, action);
		sqlite3_bind_double(up, 3, q);
		sqlite3_bind_int64(up, 4, visits);
		if ((rc = step_done(st, ST_UPSERT, "writing qtable")) < 0) {
			return rc;
		}
	}
	sqlite3_bind_int64(up, 1, SCHED_STORE_META_STATE);
	sqlite3_bind_int64(up, 2, 0);
	sqlite3_bind_double(up, 3, 0.0);
	sqlite3_bind_int64(up, 4, sched_fingerprint(s));
	if ((rc = step_done(st, ST_UPSERT, "writing qtable")) < 0) {
		return rc;
	}
	*cells = n;

	sqlite3_stmt *ins = st->st[ST_LOG_INSERT];
	for (size_t i = 0; i < st->n_dec; i++) {
		const struct pending_decision *d = &st->dec[i];
		sqlite3_bind_int64(ins, 1, (int64_t)d->time_ms);
		sqlite3_bind_text(ins, 2, d->workload, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 3, d->state);
		sqlite3_bind_int64(ins, 4, d->action);
		if ((rc = step_done(st, ST_LOG_INSERT, "logging decision")) <
		    0) {
			return rc;
		}
	}
	sqlite3_stmt *rw = st->st[ST_LOG_REWARD];
	for (size_t i = 0; i < st->n_rew; i++) {
		sqlite3_bind_double(rw, 1, st->rew[i].reward);
		sqlite3_bind_text(rw, 2, st->rew[i].workload, -1,
				  SQLITE_STATIC);
		if ((rc = step_done(st, ST_LOG_REWARD, "logging reward")) < 0) {
			return rc;
		}
	}
	if (st->n_dec > 0) {
		sqlite3_bind_int64(st->st[ST_LOG_TRIM], 1, st->cap);
		if ((rc = step_done(st, ST_LOG_TRIM, "trimming decisions")) <
		    0) {
			return rc;
		}
		st->stats.log_trimmed += (uint64_t)sqlite3_changes(st->db);
	}
	return 0;
}

int sched_store_flush(struct sched_store *st, struct sched *s)
{
	const uint32_t *dirty;
	if (sched_dirty(s, &dirty) == 0 && st->n_dec == 0 && st->n_rew == 0) {
		return 0;
	}
	uint64_t trimmed = st->stats.log_trimmed;
	size_t cells = 0;
	int rc = step_done(st, ST_BEGIN, "starting scheduler tick");
	if (rc < 0) {
		goto fail;
	}
	rc = write_tick(st, s, &cells);
	if (rc == 0) {
		rc = step_done(st, ST_COMMIT, "committing scheduler tick");
	}
	if (rc < 0) {
		step_done(st, ST_ROLLBACK, "rolling back scheduler tick");
		st->stats.log_trimmed = trimmed;
		goto fail;
	}
	sched_dirty_clear(s);
	st->stats.decisions_logged += st->n_dec;
	st->n_dec = 0;
	st->n_rew = 0;
	st->stats.flushes++;
	st->stats.cells_written += cells;
	return (int)cells;
fail:
	st->stats.flush_failures++;
	return rc;
}

int sched_store_log_decision(struct sched_store *st, uint64_t time_ms,
			     const char *workload, uint32_t state,
			     uint32_t action)
{
	if (st->n_dec == SCHED_STORE_PENDING_MAX) {
		st->stats.log_dropped++;
		return -ENOBUFS;
	}
	struct pending_decision *d = &st->dec[st->n_dec++];
	d->time_ms = time_ms;
	d->state = state;
	d->action = action;
	snprintf(d->workload, sizeof(d->workload), "%s", workload);
	return 0;
}

int sched_store_log_reward(struct sched_store *st, const char *workload,
			   double reward)
{
	if (!isfinite(reward)) {
		return -EINVAL;
	}
	if (st->n_rew == SCHED_STORE_PENDING_MAX) {
		st->stats.log_dropped++;
		return -ENOBUFS;
	}
	struct pending_reward *r = &st->rew[st->n_rew++];
	r->reward = reward;
	snprintf(r->workload, sizeof(r->workload), "%s", workload);
	return 0;
}

int sched_store_decisions(struct sched_store *st, struct sched_logged *out,
			  size_t max)
{
	sqlite3_stmt *q = st->st[ST_LOG_READ];
	sqlite3_bind_int64(q, 1, (int64_t)(max > INT32_MAX ? INT32_MAX : max));
	int rc = SQLITE_DONE, n = 0;
	while ((size_t)n < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct sched_logged *l = &out[n++];
		const unsigned char *w = sqlite3_column_text(q, 2);
		l->seq = sqlite3_column_int64(q, 0);
		l->time_ms = (uint64_t)sqlite3_column_int64(q, 1);
		snprintf(l->workload, sizeof(l->workload), "%s",
			 w ? (const char *)w : "");
		l->state = (uint32_t)sqlite3_column_int64(q, 3);
		l->action = (uint32_t)sqlite3_column_int64(q, 4);
		l->has_reward = sqlite3_column_type(q, 5) != SQLITE_NULL;
		l->reward = l->has_reward ? sqlite3_column_double(q, 5) : 0.0;
	}
	if ((size_t)n < max && rc != SQLITE_DONE) {
		n = sql_err(st, rc, "reading decisions");
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return n;
}

int64_t sched_store_decisions_count(struct sched_store *st)
{
	sqlite3_stmt *q = st->st[ST_LOG_COUNT];
	int64_t n;
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		n = sqlite3_column_int64(q, 0);
	} else {
		n = sql_err(st, rc, "counting decisions");
	}
	sqlite3_reset(q);
	return n;
}

const struct sched_store_stats *sched_store_stats(const struct sched_store *st)
{
	return &st->stats;
}
