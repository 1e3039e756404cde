// SPDX-License-Identifier: Apache-2.0
/* Unit tests for store: migrations, identity, refusal cases, statements. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/farnode-store-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/farnode.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Read a whole file into a malloc'd buffer. */
static uint8_t *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	if (f == NULL) {
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n + 1);
	*len = fread(b, 1, (size_t)n, f);
	fclose(f);
	return b;
}

static void test_fresh_migrates_and_identity(void **state)
{
	(void)state;
	struct store *s = NULL;
	char err[256];
	struct node_id id1;
	struct node_id id2;
	uint64_t g = 0;

	assert_int_equal(store_open(path, &s, err, sizeof(err)), 0);
	assert_int_equal(store_identity_get(s, &id1, &g), -ENOENT);
	assert_int_equal(store_identity_start(s, &id1, &g), 0);
	assert_int_equal(g, 1);
	assert_false(node_id_is_zero(&id1));
	assert_int_equal(id1.b[6] >> 4, 4); /* UUID v4 */

	sqlite3_stmt *st = store_stmt(s, "PRAGMA user_version");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), STORE_SCHEMA_VERSION);
	st = store_stmt(s, "PRAGMA journal_mode");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	store_close(s);

	/* reopen: same id, generation + 1, no migration */
	assert_int_equal(store_open(path, &s, err, sizeof(err)), 0);
	assert_int_equal(store_identity_start(s, &id2, &g), 0);
	assert_int_equal(g, 2);
	assert_true(node_id_equal(&id1, &id2));
	store_close(s);
}

static void test_statement_cache(void **state)
{
	(void)state;
	static const char sql[] = "SELECT ?1 + 1";
	struct store *s = NULL;
	char err[256];
	assert_int_equal(store_open(path, &s, err, sizeof(err)), 0);
	sqlite3_stmt *a = store_stmt(s, sql);
	sqlite3_bind_int(a, 1, 41);
	assert_int_equal(sqlite3_step(a), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(a, 0), 42);
	sqlite3_stmt *b = store_stmt(s, sql);
	assert_ptr_equal(a, b); /* cached, and reset with bindings cleared */
	assert_int_equal(sqlite3_step(b), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(b, 0), SQLITE_NULL);
	assert_null(store_stmt(s, "SELECT nonsense FROM nowhere"));
	store_close(s);
}

static void test_newer_schema_refused_untouched(void **state)
{
	(void)state;
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE t(x); PRAGMA "
				      "user_version=99;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	size_t l1 = 0;
	size_t l2 = 0;
	uint8_t *before = slurp(path, &l1);

	struct store *s = NULL;
	char err[256] = "";
	assert_int_equal(store_open(path, &s, err, sizeof(err)), -EPROTO);
	assert_null(s);
	assert_non_null(strstr(err, "schema version 99 is newer"));
	uint8_t *after = slurp(path, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(before, after, l1);
	char wal[160];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_not_equal(access(wal, F_OK), 0);
	free(before);
	free(after);
}

static void test_corrupt_refused_untouched(void **state)
{
	(void)state;
	struct store *s = NULL;
	char err[256] = "";
	/* a real database with lots of rows, then damage an interior page */
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA page_size=1024;"
				      "CREATE TABLE t(x TEXT);"
				      "WITH RECURSIVE c(i) AS (SELECT 1 UNION "
				      "ALL SELECT i+1 FROM c WHERE i<2000) "
				      "INSERT INTO t SELECT hex(randomblob(40))"
				      " FROM c;"
				      "CREATE INDEX ti ON t(x);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 1024 * 20, SEEK_SET);
	uint8_t junk[1024];
	memset(junk, 0x5a, sizeof(junk));
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	size_t l1 = 0;
	size_t l2 = 0;
	uint8_t *before = slurp(path, &l1);
	int rc = store_open(path, &s, err, sizeof(err));
	assert_int_equal(rc, -EILSEQ);
	assert_non_null(strstr(err, "refusing"));
	uint8_t *after = slurp(path, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(before, after, l1);
	free(before);
	free(after);
}

static void test_not_a_database(void **state)
{
	(void)state;
	FILE *f = fopen(path, "wb");
	for (int i = 0; i < 200; i++) {
		fputs("this is not a database, just text. ", f);
	}
	fclose(f);
	struct store *s = NULL;
	char err[256] = "";
	assert_int_equal(store_open(path, &s, err, sizeof(err)), -EILSEQ);
	assert_non_null(strstr(err, "not a database"));
}

static void test_unwritable_dir(void **state)
{
	(void)state;
	if (geteuid() == 0) {
		skip(); /* root writes anyway */
	}
	struct store *s = NULL;
	char err[256] = "";
	chmod(dir, 0500);
	assert_int_not_equal(store_open(path, &s, err, sizeof(err)), 0);
	chmod(dir, 0700);
}

static void test_errno_map(void **state)
{
	(void)state;
	assert_int_equal(store_errno(SQLITE_FULL), -ENOSPC);
	assert_int_equal(store_errno(SQLITE_CORRUPT), -EILSEQ);
	assert_int_equal(store_errno(SQLITE_BUSY), -EBUSY);
	assert_int_equal(store_errno(SQLITE_IOERR_WRITE), -EIO);
	assert_int_equal(store_errno(SQLITE_DONE), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_migrates_and_identity,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_statement_cache, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_newer_schema_refused_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_refused_untouched,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_dir, setup,
						teardown),
		cmocka_unit_test(test_errno_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
