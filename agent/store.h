/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store: the agent's one SQLite file (DESIGN §9). WAL, user_version
 * migrations applied in one transaction, a prepared-statement cache and a
 * busy timeout. A database from a newer schema or one failing
 * PRAGMA quick_check is refused before anything is written to it.
 * Modules keep their own SQL and use store_stmt() for cached statements.
 */
#ifndef FARNODE_STORE_H
#define FARNODE_STORE_H

#include <sqlite3.h>
#include <stdint.h>

#include "node.h"

struct store;

/* The schema version this build writes. */
#define STORE_SCHEMA_VERSION 1

/*
 * Open (creating if needed) the database at path and bring its schema up to
 * date. On failure returns a negative errno (-EPROTO newer schema,
 * -EILSEQ corrupt or not a database, -ENOSPC disk full, -EIO other) and writes
 * a one-line reason into err. *out is NULL on failure.
 */
int store_open(const char *path, struct store **out, char *err,
	       size_t err_len);

/* Finalize every cached statement and close. NULL-safe. */
void store_close(struct store *s);

/*
 * Node identity: make the UUID on first call, then increment the generation
 * counter (one per agent start) in a transaction. Returns 0 or -errno.
 */
int store_identity_start(struct store *s, struct node_id *id,
			 uint64_t *generation);

/* Read the identity without changing it (for tools). -ENOENT if none. */
int store_identity_get(struct store *s, struct node_id *id,
		       uint64_t *generation);

/* The connection, for module-owned SQL. Borrowed. */
sqlite3 *store_db(struct store *s);

/*
 * A prepared statement for sql, cached by the pointer of the (static) SQL
 * text, reset and with bindings cleared. Borrowed; NULL on error (logged).
 */
sqlite3_stmt *store_stmt(struct store *s, const char *sql);

int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* Execute SQL without results. Returns 0 or -errno (logged). */
int store_exec(struct store *s, const char *sql);

/* Map an SQLite result code to a negative errno. */
int store_errno(int sqlite_rc);

/* Last error text of the connection. Borrowed. */
const char *store_errmsg(struct store *s);

#endif
