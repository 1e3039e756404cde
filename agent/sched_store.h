/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sched_store: the scheduler's SQLite side — the Q-table mirrored to the
 * `qtable` table (written behind, one transaction per tick, dirty cells
 * only) and the bounded `decisions` log (buffered and written in the same
 * transaction, oldest rows trimmed past a cap). The tables are created by
 * the store's migrations (agent/store.c); this module owns their rows.
 */
#ifndef FARNODE_SCHED_STORE_H
#define FARNODE_SCHED_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched.h"

/* Row `state = -1, action = 0` of qtable is metadata: visits holds the
 * table's shape fingerprint (sched_fingerprint). */
#define SCHED_STORE_META_STATE (-1)

#define SCHED_STORE_PENDING_MAX 4096 /* buffered log rows per tick */
#define SCHED_STORE_WORKLOAD_MAX 64  /* bytes of workload id kept */

struct sched_store_stats {
	uint64_t flushes;         /* committed ticks */
	uint64_t cells_written;   /* qtable rows upserted */
	uint64_t flush_failures;  /* rolled back ticks (cells stay dirty) */
	uint64_t decisions_logged;
	uint64_t log_dropped;     /* pending buffer full */
	uint64_t log_trimmed;     /* old rows deleted by the cap */
};

struct sched_store;

/*
 * Bind to db (borrowed; must outlive the store; the qtable and decisions
 * tables must exist) and prepare statements. decisions_cap bounds the log
 * (>= 1). Returns 0 and *out, or a negative errno (logged).
 */
int sched_store_new(sqlite3 *db, uint32_t decisions_cap,
		    struct sched_store **out);
void sched_store_free(struct sched_store *st);
/* Change the decision log cap (>= 1; applied at the next flush). */
void sched_store_set_cap(struct sched_store *st, uint32_t decisions_cap);

/*
 * Load the persisted table into s (cells not in the database keep their
 * current value). Returns the number of cells loaded, -ESTALE if the rows
 * were written for another shape (fingerprint mismatch; nothing changed,
 * see sched_store_reset), -EBADMSG if a row is out of range or not finite
 * (nothing changed), or another negative errno. The loaded cells are not
 * dirty.
 */
int sched_store_load(struct sched_store *st, struct sched *s);

/*
 * Write-behind tick: in one transaction upsert every dirty cell of s and
 * the metadata row, insert the buffered decision rows, apply buffered
 * rewards, trim the log to its cap. On commit the dirty set and buffers are
 * cleared and the number of cells written is returned; on failure
 * everything is rolled back, stays dirty/buffered for the next tick, and a
 * negative errno is returned.
 */
int sched_store_flush(struct sched_store *st, struct sched *s);

/* Delete every qtable row (used after -ESTALE or an operator reset). */
int sched_store_reset(struct sched_store *st);

/* Buffer a decision row for the next flush. -ENOBUFS (counted) when the
 * buffer is full. */
int sched_store_log_decision(struct sched_store *st, uint64_t time_ms,
			     const char *workload, uint32_t state,
			     uint32_t action);
/* Buffer the reward for the newest decision row of workload. */
int sched_store_log_reward(struct sched_store *st, const char *workload,
			   double reward);

struct sched_logged {
	int64_t seq;
	uint64_t time_ms;
	char workload[SCHED_STORE_WORKLOAD_MAX];
	uint32_t state;
	uint32_t action;
	bool has_reward;
	double reward;
};

/* Read up to max committed decision rows, newest first. Returns the count
 * or a negative errno. */
int sched_store_decisions(struct sched_store *st, struct sched_logged *out,
			  size_t max);
/* Committed row count of the log, or a negative errno. */
int64_t sched_store_decisions_count(struct sched_store *st);

const struct sched_store_stats *sched_store_stats(const struct sched_store *st);

#endif
