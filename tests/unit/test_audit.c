/* test_audit.c: the journal's hash chain through store.c and audit.c on real SQLite
 * files: every appended row chained and verified, a tampered, re-hashed or deleted
 * row named, the tail re-read after SQLite rolled a transaction back, retention
 * purges that keep the chain verifiable (and the trigger refusing any other delete),
 * rows of a pre-chain journal (schema version 1) hashed on open, and an exported
 * JSONL file verified on its own and against the journal.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "export.h"
#include "schema.h"
#include "store.h"

#define DAY_MS (86400LL * 1000)

struct fixture {
	char dir[64];
	char path[PATH_MAX];
	struct store *store;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ts-audit-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/journal.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char side[PATH_MAX + 8];

	store_close(f->store);
	unlink(f->path);
	snprintf(side, sizeof(side), "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", f->path);
	unlink(side);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int64_t add_check(struct store *s, int64_t t, const char *lane, const char *verdict)
{
	int64_t id = 0;

	assert_int_equal(store_append_scan(s, t, lane, "ctl", "ticket", "c0de", "r1", NULL, &id),
			 0);
	assert_int_equal(store_append_step(s, id, t + 1, lane, "verdict", verdict,
					   "{\"reason\":\"Паспорт, \\\"А\\\"\"}"),
			 0);
	assert_int_equal(store_append_step(s, id, t + 2, lane, "grant", "a", NULL), 0);
	assert_int_equal(store_append_step(s, id, t + 3, lane, "gate", "passed", NULL), 0);
	return id;
}

/* Verifies the journal through a separate read-only connection. */
static int verify(struct fixture *f, struct audit_report *rep)
{
	sqlite3 *db;
	int r;

	assert_int_equal(store_sync(f->store), 0);
	assert_int_equal(export_open_db(f->path, &db), 0);
	r = audit_verify_db(db, rep);
	sqlite3_close(db);
	return r;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static int64_t count_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

static void appended_rows_form_one_verified_chain(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	int64_t ev = 0;

	assert_int_equal(store_open(&f->store, f->path), 0);
	assert_int_equal(verify(f, &rep), 0); /* empty */
	assert_int_equal(rep.rows, 0);
	add_check(f->store, 1000, "L1", "valid");
	assert_int_equal(store_append_event(f->store, 2000, "L1", "mode_change", NULL, &ev), 0);
	assert_int_equal(ev, 5);
	add_check(f->store, 3000, "L2", "used");
	assert_int_equal(verify(f, &rep), 0);
	assert_int_equal(rep.rows, 9);
	assert_int_equal(rep.last_id, 9);
	assert_int_equal(count_rows(store_db(f->store),
				    "SELECT count(*) FROM journal WHERE id = 1 AND prev_hash = '"
				    AUDIT_GENESIS "'"),
			 1);
	/* The chain goes on across a reopen. */
	store_close(f->store);
	assert_int_equal(store_open(&f->store, f->path), 0);
	add_check(f->store, 4000, "L1", "valid");
	assert_int_equal(verify(f, &rep), 0);
	assert_int_equal(rep.rows, 13);
}

static void tampered_rehashed_and_deleted_rows_are_named(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	sqlite3 *db;

	assert_int_equal(store_open(&f->store, f->path), 0);
	for (int i = 0; i < 5; i++)
		add_check(f->store, 1000 * i, "L1", "valid");
	assert_int_equal(store_sync(f->store), 0);
	db = store_db(f->store);

	/* The triggers refuse; an attacker drops them. */
	assert_int_not_equal(sqlite3_exec(db, "UPDATE journal SET value = 'x' WHERE id = 6",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	exec_ok(db, "DROP TRIGGER journal_no_update; DROP TRIGGER journal_no_delete");

	exec_ok(db, "UPDATE journal SET time = time + 1 WHERE id = 6");
	assert_int_equal(verify(f, &rep), 1);
	assert_int_equal(rep.bad_id, 6);
	assert_string_equal(rep.reason, "row content does not match its hash");
	assert_int_equal(rep.rows, 5);

	/* Put it back: intact again. */
	exec_ok(db, "UPDATE journal SET time = time - 1 WHERE id = 6");
	assert_int_equal(verify(f, &rep), 0);

	/* A row whose hash is replaced by another row's: the next link breaks. */
	exec_ok(db, "UPDATE journal SET hash = (SELECT hash FROM journal WHERE id = 3)"
		    " WHERE id = 10");
	assert_int_equal(verify(f, &rep), 1);
	assert_true(rep.bad_id == 10);
	exec_ok(db, "UPDATE journal SET hash = (SELECT prev_hash FROM journal WHERE id = 11)"
		    " WHERE id = 10");
	assert_int_equal(verify(f, &rep), 0);

	/* A deleted row in the middle, and then the first row. */
	exec_ok(db, "PRAGMA foreign_keys=OFF; DELETE FROM journal WHERE id = 12");
	assert_int_equal(verify(f, &rep), 1);
	assert_int_equal(rep.bad_id, 13);
	assert_string_equal(rep.reason, "prev_hash does not match row 11: rows between are missing");
	exec_ok(db, "DELETE FROM journal WHERE id >= 12; DELETE FROM journal WHERE id = 1");
	assert_int_equal(verify(f, &rep), 1);
	assert_int_equal(rep.bad_id, 2);
	assert_non_null(strstr(rep.reason, "first row"));
}

static void the_tail_is_reread_after_sqlite_rolled_back(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;

	assert_int_equal(store_open(&f->store, f->path), 0);
	add_check(f->store, 1000, "L1", "valid");
	assert_int_equal(store_sync(f->store), 0);
	add_check(f->store, 2000, "L1", "valid");
	/* As SQLite does by itself on SQLITE_FULL: the unsynced rows are gone. */
	exec_ok(store_db(f->store), "ROLLBACK");
	add_check(f->store, 3000, "L1", "valid");
	assert_int_equal(verify(f, &rep), 0);
	assert_int_equal(rep.rows, 8);
	assert_int_equal(rep.last_id, 8);
}

static void retention_purge_keeps_the_chain_verifiable(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	uint64_t purged = 99;
	int64_t old, spanning;
	sqlite3 *db;

	assert_int_equal(store_open(&f->store, f->path), 0);
	db = store_db(f->store);
	old = add_check(f->store, 1 * DAY_MS, "L1", "valid");
	add_check(f->store, 2 * DAY_MS, "L1", "used");
	/* A check scanned before the cutoff whose later step comes after it. */
	assert_int_equal(store_append_scan(f->store, 3 * DAY_MS - 5, "L1", "ctl", "ticket", NULL,
					   NULL, NULL, &spanning),
			 0);
	add_check(f->store, 3 * DAY_MS, "L1", "valid");
	assert_int_equal(store_append_step(f->store, spanning, 3 * DAY_MS + 10, "L1", "verdict",
					   "expired", NULL),
			 0);
	add_check(f->store, 4 * DAY_MS, "L2", "valid");
	assert_int_equal(old, 1);

	/* Nothing older than the cutoff: nothing purged, no checkpoint. */
	assert_int_equal(store_purge(f->store, 0, 5 * DAY_MS, &purged), 0);
	assert_int_equal(purged, 0);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM journal"), 18);

	/* Only the purge path deletes. */
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM journal WHERE id = 1", NULL, NULL,
					  NULL),
			     SQLITE_OK);
	assert_string_equal(sqlite3_errmsg(db), "journal is append-only");

	assert_int_equal(store_purge(f->store, 3 * DAY_MS, 5 * DAY_MS, &purged), 0);
	/* Both checks of days 1 and 2 (8 rows) go; the spanning check's scan stays. */
	assert_int_equal(purged, 8);
	assert_int_equal(count_rows(db, "SELECT min(id) FROM journal"), spanning);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM journal WHERE value = '"
					AUDIT_CHECKPOINT "' AND json_extract(detail,"
					" '$.first_kept_id') = 9"),
			 1);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM meta WHERE key = 'purge_below'"),
			 0);
	assert_int_equal(verify(f, &rep), 0);
	assert_int_equal(rep.rows, 11);

	/* More rows, a second purge of everything but the new checkpoint. */
	add_check(f->store, 6 * DAY_MS, "L1", "valid");
	assert_int_equal(store_purge(f->store, 100 * DAY_MS, 100 * DAY_MS, &purged), 0);
	assert_int_equal(purged, 15);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM journal"), 1);
	assert_int_equal(verify(f, &rep), 0);
	add_check(f->store, 101 * DAY_MS, "L1", "valid");
	assert_int_equal(verify(f, &rep), 0);
	assert_int_equal(rep.rows, 5);

	/* A prefix deleted without a checkpoint is caught. */
	exec_ok(db, "DROP TRIGGER journal_no_delete; DELETE FROM journal WHERE id = "
		    "(SELECT min(id) FROM journal)");
	assert_int_equal(verify(f, &rep), 1);
	assert_non_null(strstr(rep.reason, "retention checkpoint"));
}

static void rows_written_before_the_chain_are_hashed_on_open(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	sqlite3 *db;

	/* A version-1 journal with rows, as the skeleton left it. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	exec_ok(db, "PRAGMA journal_mode=WAL");
	assert_string_equal(schema_migrations[0].name, "0001_init.sql");
	exec_ok(db, schema_migrations[0].sql);
	exec_ok(db, "PRAGMA user_version=1;"
		    "INSERT INTO journal (time, lane, step, value) VALUES (1, 'L1', 'scan', '');"
		    "INSERT INTO journal (time, lane, check_id, step, value)"
		    " VALUES (2, 'L1', 1, 'verdict', 'valid');"
		    "INSERT INTO journal (time, lane, step, value) VALUES (3, 'L1', 'event', 'stop')");
	sqlite3_close(db);

	assert_int_equal(store_open(&f->store, f->path), 0);
	db = store_db(f->store);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM journal WHERE hash IS NULL"), 0);
	add_check(f->store, 10, "L1", "valid");
	assert_int_equal(verify(f, &rep), 0);
	assert_int_equal(rep.rows, 7);
	/* Once hashed, a row is as append-only as any. */
	assert_int_not_equal(sqlite3_exec(db, "UPDATE journal SET hash = NULL WHERE id = 1", NULL,
					  NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO journal (time, lane, step, value)"
					      " VALUES (1, 'L1', 'scan', '')",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_string_equal(sqlite3_errmsg(db), "journal rows carry their hash");
}

static char *export_jsonl(struct fixture *f, size_t *len)
{
	struct export_filter all = {INT64_MIN, INT64_MAX, NULL, NULL};
	char *buf = NULL;
	FILE *out = open_memstream(&buf, len);
	sqlite3 *db;

	assert_non_null(out);
	assert_int_equal(store_sync(f->store), 0);
	assert_int_equal(export_open_db(f->path, &db), 0);
	assert_int_equal(export_run(db, &all, EXPORT_JSONL, out, NULL), 0);
	assert_int_equal(fclose(out), 0);
	sqlite3_close(db);
	return buf;
}

static int verify_text(struct fixture *f, const char *text, bool with_db,
		       struct audit_report *rep)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	sqlite3 *db = NULL;
	int r;

	assert_non_null(in);
	if (with_db)
		assert_int_equal(export_open_db(f->path, &db), 0);
	r = audit_verify_file(in, db, rep);
	fclose(in);
	sqlite3_close(db);
	return r;
}

static void an_export_verifies_alone_and_edits_are_named_by_line(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	size_t len;
	char *text, *p;

	assert_int_equal(store_open(&f->store, f->path), 0);
	add_check(f->store, 1000, "Вход", "valid");
	add_check(f->store, 2000, "L2", "used");
	add_check(f->store, 3000, "L1", "valid");
	text = export_jsonl(f, &len);
	assert_int_equal(verify_text(f, text, false, &rep), 0);
	assert_int_equal(rep.records, 3);
	assert_int_equal(rep.rows, 12);
	assert_int_equal(verify_text(f, text, true, &rep), 0);

	/* The record field of line 2 alone. */
	p = strstr(text, "\"verdict\":\"used\"");
	assert_non_null(p);
	memcpy(p, "\"verdict\":\"uxed\"", 16);
	assert_int_equal(verify_text(f, text, false, &rep), 1);
	assert_int_equal(rep.bad_line, 2);
	assert_int_equal(rep.bad_id, 5);
	memcpy(p, "\"verdict\":\"used\"", 16);

	/* The row behind it. */
	p = strstr(text, "\"value\":\"used\"");
	assert_non_null(p);
	memcpy(p, "\"value\":\"uxed\"", 14);
	assert_int_equal(verify_text(f, text, false, &rep), 1);
	assert_int_equal(rep.bad_line, 2);
	assert_int_equal(rep.bad_id, 6);
	assert_string_equal(rep.reason, "row content does not match its hash");
	memcpy(p, "\"value\":\"used\"", 14);

	/* A line cut short is caught. A whole record removed is not, on its own: the rows
	 * around the gap were never adjacent in the journal (README: what an export proves). */
	assert_int_equal(verify_text(f, "{\"check_id\":1}\n", false, &rep), 1);
	assert_int_equal(rep.bad_line, 1);
	p = strchr(text, '\n');
	assert_int_equal(verify_text(f, strchr(p + 1, '\n') + 1, false, &rep), 0);
	memmove(p + 1, strchr(p + 1, '\n') + 1, strlen(strchr(p + 1, '\n') + 1) + 1);
	assert_int_equal(verify_text(f, text, false, &rep), 0);
	assert_int_equal(rep.records, 2);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(appended_rows_form_one_verified_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(tampered_rehashed_and_deleted_rows_are_named, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(the_tail_is_reread_after_sqlite_rolled_back, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(retention_purge_keeps_the_chain_verifiable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(rows_written_before_the_chain_are_hashed_on_open, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(an_export_verifies_alone_and_edits_are_named_by_line,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
