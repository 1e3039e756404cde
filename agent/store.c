// SPDX-License-Identifier: Apache-2.0
/*
 * store: SQLite storage — opening with refusal checks, migrations, the node
 * identity and a small prepared-statement cache.
 */
#define LOG_TAG "store"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"

#define STMT_CACHE_MAX 96

struct stmt_entry {
	const char *sql;
	sqlite3_stmt *stmt;
};

struct store {
	sqlite3 *db;
	int n_stmts;
	struct stmt_entry stmts[STMT_CACHE_MAX];
};

/*
 * Migrations: entry i brings the schema from version i to i + 1. Append
 * only once a version has shipped.
 */
static const char *const migrations[] = {
	/* 1: initial schema */
	"CREATE TABLE node ("
	"  k TEXT PRIMARY KEY,"
	"  v ANY"
	") STRICT;"
	"CREATE TABLE members ("
	"  id BLOB PRIMARY KEY,"        /* 16-byte node id */
	"  name TEXT NOT NULL,"
	"  addr TEXT NOT NULL,"          /* host:port */
	"  incarnation INTEGER NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL"
	");"
	"CREATE TABLE keyring ("
	"  key_id INTEGER PRIMARY KEY,"
	"  key BLOB NOT NULL,"
	"  is_primary INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL"
	");"
	"CREATE TABLE policy ("
	"  kind TEXT PRIMARY KEY,"       /* policy | desired */
	"  version INTEGER NOT NULL,"
	"  bundle BLOB NOT NULL,"        /* the signed bundle as received */
	"  received_ms INTEGER NOT NULL"
	");"
	"CREATE TABLE workloads ("
	"  id TEXT PRIMARY KEY,"
	"  spec BLOB NOT NULL,"
	"  desired INTEGER NOT NULL DEFAULT 1,"
	"  phase INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  pid INTEGER NOT NULL DEFAULT 0,"
	"  start_ticks INTEGER NOT NULL DEFAULT 0,"
	"  boot_id TEXT NOT NULL DEFAULT '',"  /* boot of pid/start_ticks */
	"  exit_code INTEGER NOT NULL DEFAULT 0,"
	"  restarts INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL DEFAULT 0,"
	"  started_ms INTEGER NOT NULL DEFAULT 0,"
	"  finished_ms INTEGER NOT NULL DEFAULT 0,"
	"  placed_on BLOB,"
	"  origin BLOB"
	");"
	"CREATE TABLE decisions ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time_ms INTEGER NOT NULL,"
	"  workload TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  action INTEGER NOT NULL,"
	"  reward REAL"
	");"
	"CREATE INDEX decisions_workload ON decisions (workload, seq);"
	"CREATE TABLE qtable ("
	"  state INTEGER NOT NULL,"
	"  action INTEGER NOT NULL,"
	"  q REAL NOT NULL,"
	"  visits INTEGER NOT NULL,"
	"  PRIMARY KEY (state, action)"
	") WITHOUT ROWID;"
	"CREATE TABLE outbox ("
	/* seq is the event id: AUTOINCREMENT never reuses a value */
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind INTEGER NOT NULL,"       /* enum uplink_event_kind */
	"  priority INTEGER NOT NULL,"   /* 0 (lowest) .. 7 */
	"  created_ms INTEGER NOT NULL," /* wall clock of the event */
	"  historical INTEGER NOT NULL DEFAULT 0,"
	"  dropped INTEGER NOT NULL DEFAULT 0," /* DROPPED: count reported */
	"  payload BLOB NOT NULL"
	");"
	"CREATE INDEX outbox_victim ON outbox(priority, seq);",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION,
	       "one migration per schema version");

int store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EILSEQ;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_TOOBIG:
		return -EMSGSIZE;
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	default:
		return -EIO;
	}
}

const char *store_errmsg(struct store *s)
{
	return s != NULL && s->db != NULL ? sqlite3_errmsg(s->db) : "no database";
}

sqlite3 *store_db(struct store *s)
{
	return s->db;
}

int store_exec(struct store *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_error("%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return store_errno(rc);
	}
	return 0;
}

int store_begin(struct store *s)
{
	return store_exec(s, "BEGIN IMMEDIATE");
}

int store_commit(struct store *s)
{
	return store_exec(s, "COMMIT");
}

void store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db)) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
}

sqlite3_stmt *store_stmt(struct store *s, const char *sql)
{
	for (int i = 0; i < s->n_stmts; i++) {
		if (s->stmts[i].sql == sql) {
			sqlite3_reset(s->stmts[i].stmt);
			sqlite3_clear_bindings(s->stmts[i].stmt);
			return s->stmts[i].stmt;
		}
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				    &st, NULL);
	if (rc != SQLITE_OK) {
		log_error("prepare failed: %s (%.60s)", sqlite3_errmsg(s->db),
			  sql);
		return NULL;
	}
	if (s->n_stmts < STMT_CACHE_MAX) {
		s->stmts[s->n_stmts].sql = sql;
		s->stmts[s->n_stmts].stmt = st;
		s->n_stmts++;
	} else {
		/* Cache full: evict the oldest entry (rare; a design bug). */
		log_warn("statement cache full");
		sqlite3_finalize(s->stmts[0].stmt);
		memmove(&s->stmts[0], &s->stmts[1],
			sizeof(s->stmts[0]) * (STMT_CACHE_MAX - 1));
		s->stmts[STMT_CACHE_MAX - 1].sql = sql;
		s->stmts[STMT_CACHE_MAX - 1].stmt = st;
	}
	return st;
}

/* Run a single-integer query. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int quick_check(sqlite3 *db, char *err, size_t err_len,
		       const char *path)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st,
				    NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *res =
				(const char *)sqlite3_column_text(st, 0);
			if (res == NULL || strcmp(res, "ok") != 0) {
				snprintf(err, err_len,
					 "%s: database failed its integrity "
					 "check (%s); refusing to use it",
					 path, res ? res : "?");
				sqlite3_finalize(st);
				return -EILSEQ;
			}
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		int e = store_errno(rc);
		snprintf(err, err_len, "%s: %s%s", path, sqlite3_errstr(rc),
			 e == -EILSEQ ? "; refusing to use it" : "");
		return e;
	}
	return 0;
}

static int migrate(sqlite3 *db, int64_t from, char *err, size_t err_len,
		   const char *path)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
	for (int64_t v = from; rc == SQLITE_OK && v < N_MIGRATIONS; v++) {
		rc = sqlite3_exec(db, migrations[v], NULL, NULL, &msg);
		if (rc == SQLITE_OK) {
			char sql[64];
			snprintf(sql, sizeof(sql), "PRAGMA user_version=%d",
				 (int)(v + 1));
			rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
		}
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
	}
	if (rc != SQLITE_OK) {
		snprintf(err, err_len, "%s: schema migration failed: %s", path,
			 msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return store_errno(rc);
	}
	return 0;
}

int store_open(const char *path, struct store **out, char *err,
	       size_t err_len)
{
	struct store *s = NULL;
	int64_t version = 0;
	int rc;
	int e;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	/*
	 * The database holds secrets (the gossip keyring): create it private.
	 * SQLite gives the -wal/-shm files the database file's mode.
	 */
	mode_t old_mask = umask(0077);
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	umask(old_mask);
	if (rc != SQLITE_OK) {
		e = store_errno(rc);
		snprintf(err, err_len, "%s: cannot open database: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);

	/* Refusal checks first: nothing is written before they pass. */
	rc = query_int(s->db, "PRAGMA user_version", &version);
	if (rc != SQLITE_OK) {
		e = store_errno(rc);
		snprintf(err, err_len, "%s: %s%s", path, sqlite3_errmsg(s->db),
			 e == -EILSEQ ? "; refusing to use it" : "");
		goto fail;
	}
	if (version > STORE_SCHEMA_VERSION) {
		e = -EPROTO;
		snprintf(err, err_len,
			 "%s: database schema version %lld is newer than this "
			 "build supports (%d); refusing to touch it (upgrade "
			 "farnode)",
			 path, (long long)version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (version < 0) {
		e = -EILSEQ;
		snprintf(err, err_len, "%s: invalid schema version %lld", path,
			 (long long)version);
		goto fail;
	}
	e = quick_check(s->db, err, err_len, path);
	if (e != 0) {
		goto fail;
	}

	char *msg = NULL;
	rc = sqlite3_exec(s->db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			  " PRAGMA foreign_keys=ON;",
			  NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		e = store_errno(rc);
		snprintf(err, err_len, "%s: %s", path,
			 msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		goto fail;
	}
	if (version < STORE_SCHEMA_VERSION) {
		e = migrate(s->db, version, err, err_len, path);
		if (e != 0) {
			goto fail;
		}
		log_info("schema migrated from version %lld to %d",
			 (long long)version, STORE_SCHEMA_VERSION);
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return e;
}

void store_close(struct store *s)
{
	if (s == NULL) {
		return;
	}
	for (int i = 0; i < s->n_stmts; i++) {
		sqlite3_finalize(s->stmts[i].stmt);
	}
	if (s->db != NULL) {
		int rc = sqlite3_close(s->db);
		if (rc != SQLITE_OK) {
			log_error("close: %s", sqlite3_errstr(rc));
			sqlite3_close_v2(s->db);
		}
	}
	free(s);
}

static const char SQL_GET[] = "SELECT v FROM node WHERE k = ?1";
static const char SQL_PUT[] =
	"INSERT INTO node (k, v) VALUES (?1, ?2) "
	"ON CONFLICT (k) DO UPDATE SET v = excluded.v";

int store_identity_get(struct store *s, struct node_id *id,
		       uint64_t *generation)
{
	sqlite3_stmt *st = store_stmt(s, SQL_GET);
	if (st == NULL) {
		return -EIO;
	}
	sqlite3_bind_text(st, 1, "id", -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
	}
	if (sqlite3_column_bytes(st, 0) != NODE_ID_LEN) {
		sqlite3_reset(st);
		return -EILSEQ;
	}
	memcpy(id->b, sqlite3_column_blob(st, 0), NODE_ID_LEN);
	sqlite3_reset(st);

	st = store_stmt(s, SQL_GET);
	sqlite3_bind_text(st, 1, "generation", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*generation = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0)
				       : 0;
	sqlite3_reset(st);
	return 0;
}

int store_identity_start(struct store *s, struct node_id *id,
			 uint64_t *generation)
{
	uint64_t gen = 0;
	int e = store_begin(s);
	if (e != 0) {
		return e;
	}
	e = store_identity_get(s, id, &gen);
	if (e == -ENOENT) {
		if (getrandom(id->b, NODE_ID_LEN, 0) != NODE_ID_LEN) {
			e = -errno;
			goto fail;
		}
		id->b[6] = (uint8_t)((id->b[6] & 0x0f) | 0x40); /* v4 */
		id->b[8] = (uint8_t)((id->b[8] & 0x3f) | 0x80); /* variant */
		sqlite3_stmt *st = store_stmt(s, SQL_PUT);
		sqlite3_bind_text(st, 1, "id", -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, id->b, NODE_ID_LEN, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			e = store_errno(rc);
			goto fail;
		}
		e = 0;
	} else if (e != 0) {
		goto fail;
	}
	gen++;
	sqlite3_stmt *st = store_stmt(s, SQL_PUT);
	sqlite3_bind_text(st, 1, "generation", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)gen);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		e = store_errno(rc);
		goto fail;
	}
	e = store_commit(s);
	if (e != 0) {
		goto fail;
	}
	*generation = gen;
	return 0;
fail:
	log_error("identity: %s", store_errmsg(s));
	store_rollback(s);
	return e;
}
