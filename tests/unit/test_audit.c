/* test_audit.c: the journal's hash chain through store.c and audit.c on real SQLite
 * files: every appended row chained and verified, a tampered, re-hashed or deleted
 * row named, the tail re-read after SQLite rolled a transaction back, retention
 * purges that keep the chain verifiable (and the trigger refusing any other delete),
 * rows of a pre-chain journal (schema version 1) hashed on open; table checks
 * rebuilt from the rows, with every kind of edit named by its check (a field, a
 * record resealed, seal, time, last_id, a record missing or extra, no table, a step
 * of a row that is no check, forged last_ids that would hold checks open); and an
 * exported JSONL file verified on its own and against the journal, each edit named
 * by line and check.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "checkrec.h"
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
	assert_int_equal(
	    count_rows(store_db(f->store),
		       "SELECT count(*) FROM journal WHERE id = 1 AND prev_hash = '" AUDIT_GENESIS
		       "'"),
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
	assert_int_not_equal(
	    sqlite3_exec(db, "UPDATE journal SET value = 'x' WHERE id = 6", NULL, NULL, NULL),
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
	assert_string_equal(rep.reason,
			    "prev_hash does not match row 11: rows between are missing");
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
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM journal WHERE id = 1", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_string_equal(sqlite3_errmsg(db), "journal is append-only");

	assert_int_equal(store_purge(f->store, 3 * DAY_MS, 5 * DAY_MS, &purged), 0);
	/* Both checks of days 1 and 2 (8 rows) go; the spanning check's scan stays. */
	assert_int_equal(purged, 8);
	assert_int_equal(count_rows(db, "SELECT min(id) FROM journal"), spanning);
	assert_int_equal(count_rows(db,
				    "SELECT count(*) FROM journal WHERE value = '" AUDIT_CHECKPOINT
				    "' AND json_extract(detail,"
				    " '$.first_kept_id') = 9"),
			 1);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM meta WHERE key = 'purge_below'"), 0);
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
	exec_ok(db,
		"PRAGMA user_version=1;"
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
	assert_int_not_equal(
	    sqlite3_exec(db, "UPDATE journal SET hash = NULL WHERE id = 1", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db,
					  "INSERT INTO journal (time, lane, step, value)"
					  " VALUES (1, 'L1', 'scan', '')",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_string_equal(sqlite3_errmsg(db), "journal rows carry their hash");
}

/* Not inlined: GCC 12 at -O2 then takes the text for the local that held its
 * address for open_memstream() and warns of a dangling pointer (-Wdangling-pointer). */
__attribute__((noinline)) static char *export_jsonl(struct fixture *f, size_t *len)
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

static int verify_text(struct fixture *f, const char *text, bool with_db, struct audit_report *rep)
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

/* Replaces the first old with new (same length) in text. */
static void patch(char *text, const char *old, const char *new)
{
	char *p = strstr(text, old);

	assert_non_null(p);
	assert_int_equal(strlen(old), strlen(new));
	memcpy(p, new, strlen(new));
}

/* The export line of check_id in text (up to its newline) as a fresh string. */
static char *line_of(const char *text, int64_t check_id)
{
	char key[40];
	const char *p, *end;

	snprintf(key, sizeof(key), "{\"check_id\":%lld,", (long long)check_id);
	p = strstr(text, key);
	assert_non_null(p);
	end = strchr(p, '\n');
	assert_non_null(end);
	return strndup(p, (size_t)(end - p + 1));
}

/* A line with one record field set to value and the seal made again over it, as a
 * forger who knows the format would: a JSON object put back together by cJSON. */
static char *resealed(const char *line, const char *field, const char *value)
{
	cJSON *o = cJSON_Parse(line);
	char seal[CHECKREC_SEAL_HEX_LEN + 1], *out, *res;
	struct checkrec_buf buf = {0};
	struct checkrec rec;

	assert_non_null(o);
	assert_non_null(cJSON_GetObjectItem(o, field));
	cJSON_ReplaceItemInObject(o, field, cJSON_CreateString(value));
	for (int f = 0; f < CR_FIELDS; f++) {
		rec.text[f] = cJSON_GetObjectItem(o, checkrec_names[f])->valuestring;
		rec.len[f] = strlen(rec.text[f]);
	}
	assert_int_equal(checkrec_encode(&rec, &buf), 0);
	checkrec_seal((int64_t)cJSON_GetObjectItem(o, "check_id")->valuedouble,
		      (int64_t)cJSON_GetObjectItem(o, "time_ms")->valuedouble, buf.p, buf.len,
		      seal);
	cJSON_ReplaceItemInObject(o, "seal", cJSON_CreateString(seal));
	out = cJSON_PrintUnformatted(o);
	res = malloc(strlen(out) + 2);
	assert_non_null(res);
	sprintf(res, "%s\n", out);
	free(out);
	checkrec_buf_free(&buf);
	cJSON_Delete(o);
	return res;
}

static void expect_broken(struct fixture *f, const char *text, bool with_db, uint64_t line,
			  int64_t id, const char *reason)
{
	struct audit_report rep;

	assert_int_equal(verify_text(f, text, with_db, &rep), 1);
	assert_int_equal(rep.bad_line, line);
	assert_int_equal(rep.bad_id, id);
	if (!strstr(rep.reason, reason))
		fail_msg("reason \"%s\" does not contain \"%s\"", rep.reason, reason);
}

static void an_export_verifies_alone_and_edits_are_named_by_line(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	char *text, *l1, *l2, *l3, *bad;
	size_t len;

	setenv("TZ", "MSK-3", 1);
	tzset();
	assert_int_equal(store_open(&f->store, f->path), 0);
	add_check(f->store, 1796157000123, "Вход", "valid");
	add_check(f->store, 1796157001000, "L2", "used");
	add_check(f->store, 1796157002000, "L1", "valid");
	text = export_jsonl(f, &len);
	assert_non_null(strstr(text, "\"time\":\"2026-12-01T23:30:00.123+03:00\""));
	assert_int_equal(verify_text(f, text, false, &rep), 0);
	assert_int_equal(rep.records, 3);
	assert_int_equal(rep.rows, 12);
	/* The last row the file names, and its hash. */
	assert_int_equal(rep.last_id, 12);
	{
		char sql[200];

		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM journal WHERE id = 12 AND"
			 " hash = '%s'",
			 rep.head);
		assert_int_equal(count_rows(store_db(f->store), sql), 1);
	}
	assert_int_equal(verify_text(f, text, true, &rep), 0);
	assert_int_equal(rep.records, 3);

	/* A field of line 2 edited: its seal no longer holds. */
	patch(text, "\"verdict\":\"used\"", "\"verdict\":\"uxed\"");
	expect_broken(f, text, false, 2, 5, "the seal does not match");
	patch(text, "\"verdict\":\"uxed\"", "\"verdict\":\"used\"");

	/* The same edit with the seal made again: consistent on its own (a file has no
	 * secret), but not what the journal's rows make. */
	l1 = line_of(text, 1);
	l2 = line_of(text, 5);
	l3 = line_of(text, 9);
	bad = resealed(l2, "verdict", "valid");
	{
		char *file = NULL;
		size_t n;
		FILE *m = open_memstream(&file, &n);

		fprintf(m, "%s%s%s", l1, bad, l3);
		fclose(m);
		assert_int_equal(verify_text(f, file, false, &rep), 0);
		expect_broken(f, file, true, 2, 5, "check 5 differs from the journal: verdict");
		free(file);
	}
	free(bad);
	/* A row hash in row_hashes: the seal catches it. */
	bad = strdup(l2);
	{
		char *h = strstr(bad, " 6:") + 3;

		*h = *h == 'a' ? 'b' : 'a';
	}
	expect_broken(f, bad, false, 1, 5, "the seal does not match");
	free(bad);
	/* ... and resealed, the journal has other rows. */
	{
		cJSON *o = cJSON_Parse(l2);
		char *rows = strdup(cJSON_GetObjectItem(o, "row_hashes")->valuestring), *h;

		h = strstr(rows, " 6:") + 3;
		*h = *h == 'a' ? 'b' : 'a';
		bad = resealed(l2, "row_hashes", rows);
		assert_int_equal(verify_text(f, bad, false, &rep), 0);
		expect_broken(f, bad, true, 1, 5, "differs from the journal: row_hashes");
		free(bad);
		/* Malformed row_hashes are named even with a seal made over them. */
		bad = resealed(l2, "row_hashes", "5:AB");
		expect_broken(f, bad, false, 1, 5, "row_hashes is not");
		free(bad);
		memmove(rows, strchr(rows, ' ') + 1, strlen(strchr(rows, ' ')));
		bad = resealed(l2, "row_hashes", rows);
		expect_broken(f, bad, false, 1, 5, "does not start with the check's own row");
		free(bad);
		free(rows);
		cJSON_Delete(o);
	}
	/* time must be the instant time_ms says; time_ms is sealed. */
	bad = strdup(l1);
	patch(bad, "23:30:00.123+03:00", "23:30:00.123+02:00");
	expect_broken(f, bad, false, 1, 1, "time is not the instant time_ms says");
	patch(bad, "23:30:00.123+02:00", "22:30:00.123+02:00");
	assert_int_equal(verify_text(f, bad, false, &rep), 0);
	patch(bad, "22:30:00.123+02:00", "22:30:00.123 02:00");
	expect_broken(f, bad, false, 1, 1, "time is not YYYY-MM-DDTHH:MM:SS.mmm");
	free(bad);
	bad = strdup(l1);
	patch(bad, "\"time_ms\":1796157000123", "\"time_ms\":1796157000124");
	expect_broken(f, bad, false, 1, 1, "time is not the instant");
	free(bad);

	/* Lines out of order, keys unknown, missing or twice, a line cut short. */
	{
		char file[4096];

		snprintf(file, sizeof(file), "%s%s", l2, l1);
		expect_broken(f, file, false, 2, 1, "not in ascending check_id");
		snprintf(file, sizeof(file), "%s%s", l1, l1);
		expect_broken(f, file, false, 2, 1, "not in ascending check_id");
		snprintf(file, sizeof(file), "{\"holder\":\"x\",%s", l1 + 1);
		expect_broken(f, file, false, 1, 0, "\"holder\" is not a field");
		snprintf(file, sizeof(file), "{\"verdict\":\"valid\",%s", l1 + 1);
		expect_broken(f, file, false, 1, 0, "\"verdict\" is given twice");
	}
	bad = strdup(l1);
	patch(bad, "\"gate\":", "\"gatX\":");
	expect_broken(f, bad, false, 1, 0, "\"gatX\" is not a field");
	free(bad);
	expect_broken(f, "{\"check_id\":1}\n", false, 1, 1, "time_ms is not an integer");
	expect_broken(f, "{\"check_id\":1.5}\n", false, 1, 0, "check_id is not a positive integer");
	expect_broken(f, "[1]\n", false, 1, 0, "not a JSON object");
	expect_broken(f, "{\"check_id\":1,\n", false, 1, 0, "not JSON");
	{
		char file[4096];

		/* Anything after the object, even another one, is not a line of the file. */
		snprintf(file, sizeof(file), "%.*s {\"verdict\":\"valid\"}\n", (int)strlen(l1) - 1,
			 l1);
		expect_broken(f, file, false, 1, 0, "not JSON");
		snprintf(file, sizeof(file), "%.*s \t\n", (int)strlen(l1) - 1, l1);
		assert_int_equal(verify_text(f, file, false, &rep), 0);
		/* Nor may a NUL byte hide text inside a string (cJSON would end the
		 * string there; other readers would not). */
		{
			const char *q = strstr(l1, "\"lane\":\"Вход\"") + strlen("\"lane\":\"Вход");
			size_t n = strlen(l1) + 2;
			FILE *in;

			snprintf(file, sizeof(file), "%.*s#X%s", (int)(q - l1), l1, q);
			file[q - l1] = '\0';
			in = fmemopen(file, n, "r");
			assert_non_null(in);
			assert_int_equal(audit_verify_file(in, NULL, &rep), 1);
			assert_string_equal(rep.reason, "not JSON");
			fclose(in);
		}
	}

	/* A whole line removed is not caught on its own: each line stands alone, and
	 * check ids have gaps anyway (README: what an export proves). */
	{
		char file[4096];

		snprintf(file, sizeof(file), "%s%s", l1, l3);
		assert_int_equal(verify_text(f, file, false, &rep), 0);
		assert_int_equal(verify_text(f, file, true, &rep), 0);
		assert_int_equal(rep.records, 2);
	}
	free(l1);
	free(l2);
	free(l3);
	free(text);
}

/* Runs SQL made from a format, failing the test on an error. */
static void exec_f(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void exec_f(sqlite3 *db, const char *fmt, ...)
{
	char sql[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	exec_ok(db, sql);
}

static void expect_db_broken(struct fixture *f, int64_t id, const char *reason)
{
	struct audit_report rep;

	assert_int_equal(verify(f, &rep), 1);
	if (!strstr(rep.reason, reason))
		fail_msg("reason \"%s\" does not contain \"%s\"", rep.reason, reason);
	assert_int_equal(rep.bad_id, id);
}

/* Check c's record with one field set and its seal made again (as the daemon would
 * have written it), stored back. */
static void reseal_check(sqlite3 *db, int64_t c, enum checkrec_field field, const char *value)
{
	char seal[CHECKREC_SEAL_HEX_LEN + 1];
	struct checkrec_buf buf = {0};
	struct checkrec rec;
	sqlite3_stmt *stmt;
	int64_t t;

	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT time, record FROM checks"
					    " WHERE check_id = ?1",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(stmt, 1, c);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	t = sqlite3_column_int64(stmt, 0);
	assert_int_equal(checkrec_decode((const char *)sqlite3_column_text(stmt, 1),
					 (size_t)sqlite3_column_bytes(stmt, 1), &rec),
			 0);
	rec.text[field] = value;
	rec.len[field] = strlen(value);
	assert_int_equal(checkrec_encode(&rec, &buf), 0);
	sqlite3_finalize(stmt);
	checkrec_seal(c, t, buf.p, buf.len, seal);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "UPDATE checks SET record = ?2, seal = ?3"
					    " WHERE check_id = ?1",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(stmt, 1, c);
	sqlite3_bind_text(stmt, 2, buf.p, (int)buf.len, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, seal, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
	sqlite3_finalize(stmt);
	checkrec_buf_free(&buf);
}

/* Appends a chained row by hand (the store refuses a step of a row that is no
 * check): what someone who can write the file and knows the format can add. */
static void append_raw(sqlite3 *db, int64_t check_id, const char *step)
{
	char prev[AUDIT_HASH_HEX_LEN + 1], hash[AUDIT_HASH_HEX_LEN + 1];
	struct audit_row row = {
	    .time = 99, .lane = "L1", .check_id = check_id, .step = step, .value = "valid"};
	sqlite3_stmt *stmt;

	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT id, hash FROM journal ORDER BY id DESC"
					    " LIMIT 1",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	row.id = sqlite3_column_int64(stmt, 0) + 1;
	snprintf(prev, sizeof(prev), "%s", sqlite3_column_text(stmt, 1));
	sqlite3_finalize(stmt);
	row.prev_hash = prev;
	assert_int_equal(audit_row_hash(&row, hash), 0);
	exec_f(db,
	       "INSERT INTO journal (id, time, lane, check_id, step, value, prev_hash, hash)"
	       " VALUES (%lld, 99, 'L1', %lld, '%s', 'valid', '%s', '%s')",
	       (long long)row.id, (long long)check_id, step, prev, hash);
}

static void every_record_of_table_checks_is_rebuilt_from_its_rows(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	int64_t a = 0, b = 0, ev = 0;
	sqlite3 *db;

	assert_int_equal(store_open(&f->store, f->path), 0);
	db = store_db(f->store);
	/* Two lanes' checks interleaved, an event between, a check left open. */
	add_check(f->store, 1000, "L1", "valid");
	assert_int_equal(
	    store_append_scan(f->store, 2000, "L1", "ctl", "ticket", NULL, "ra", NULL, &a), 0);
	assert_int_equal(
	    store_append_scan(f->store, 2001, "L2", "serial0", "pass", NULL, "rb", NULL, &b), 0);
	assert_int_equal(
	    store_append_step(f->store, b, 2002, "L2", "verdict", "used", "{\"reason\":1}"), 0);
	assert_int_equal(store_append_event(f->store, 2003, "L1", "mode_change", NULL, &ev), 0);
	assert_int_equal(store_append_step(f->store, a, 2004, "L1", "verdict", "valid", NULL), 0);
	assert_int_equal(store_append_step(f->store, b, 2005, "L2", "gate", "none", NULL), 0);
	assert_int_equal(store_append_step(f->store, a, 2006, "L1", "attendant", "confirmed", NULL),
			 0);
	assert_int_equal(
	    store_append_scan(f->store, 3000, "L1", "ctl", "ticket", NULL, "rc", NULL, NULL), 0);
	assert_int_equal(verify(f, &rep), 0);
	assert_int_equal(rep.rows, 12);
	assert_int_equal(store_sync(f->store), 0);

	/* An edited field: named, with the check. */
	exec_f(db,
	       "UPDATE checks SET record = replace(record, 'T4:used', 'T4:uxed')"
	       " WHERE check_id = %lld",
	       (long long)b);
	expect_db_broken(f, b,
			 "the record of check 6 in table checks does not match its journal"
			 " rows: verdict differs");
	/* Re-encoded and resealed as the daemon would have: the journal says otherwise. */
	reseal_check(db, b, CR_VERDICT, "valid");
	expect_db_broken(f, b, "verdict differs");
	reseal_check(db, b, CR_VERDICT, "used");
	assert_int_equal(verify(f, &rep), 0);
	reseal_check(db, a, CR_ATTENDANT, "rejected");
	expect_db_broken(f, a,
			 "the record of check 5 in table checks does not match its journal"
			 " rows: attendant differs");
	reseal_check(db, a, CR_ATTENDANT, "confirmed");
	reseal_check(db, 1, CR_REASON, "");
	expect_db_broken(f, 1, "reason differs");
	reseal_check(db, 1, CR_REASON, "Паспорт, \"А\"");
	assert_int_equal(verify(f, &rep), 0);

	/* The seal, the time, last_id. */
	exec_f(db,
	       "UPDATE checks SET seal = replace(seal, substr(seal, 1, 1), 'x')"
	       " WHERE check_id = %lld",
	       (long long)a);
	expect_db_broken(f, a, "its seal is not the seal of the record");
	reseal_check(db, a, CR_ATTENDANT, "confirmed");
	exec_f(db, "UPDATE checks SET time = time + 1 WHERE check_id = %lld", (long long)a);
	expect_db_broken(f, a, "time 2001 is not its scan's 2000");
	exec_f(db, "UPDATE checks SET time = time - 1 WHERE check_id = %lld", (long long)a);
	exec_f(db, "UPDATE checks SET last_id = 100 WHERE check_id = %lld", (long long)a);
	expect_db_broken(f, a, "last_id 100 is past its last row 11");
	/* Set to a row of another check, or before its last row with the record cut to
	 * match and resealed: the row after it is named. */
	exec_f(db, "UPDATE checks SET last_id = 10 WHERE check_id = %lld", (long long)a);
	expect_db_broken(f, a, "last_id 10 is not its last row 11");
	exec_f(db, "UPDATE checks SET last_id = 11 WHERE check_id = %lld", (long long)a);
	assert_int_equal(verify(f, &rep), 0);
	exec_f(db, "CREATE TEMP TABLE saved AS SELECT * FROM checks WHERE check_id = %lld",
	       (long long)a);
	{
		sqlite3_stmt *stmt;
		char rows[512];

		assert_int_equal(sqlite3_prepare_v2(db,
						    "SELECT group_concat(id || ':' || hash, ' ')"
						    " FROM journal WHERE id IN (5, 9)",
						    -1, &stmt, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
		snprintf(rows, sizeof(rows), "%s", sqlite3_column_text(stmt, 0));
		sqlite3_finalize(stmt);
		reseal_check(db, a, CR_ROWS, rows);
		reseal_check(db, a, CR_ATTENDANT, "not_required");
		exec_f(db, "UPDATE checks SET last_id = 9 WHERE check_id = %lld", (long long)a);
		expect_db_broken(f, a, "last_id 9 is before its row 11");
	}

	/* A record gone, records for rows that are no scan, no table at all. */
	exec_f(db, "DELETE FROM checks WHERE check_id = %lld", (long long)a);
	exec_ok(db, "INSERT INTO checks SELECT * FROM saved");
	assert_int_equal(verify(f, &rep), 0);
	exec_f(db, "DELETE FROM checks WHERE check_id = %lld", (long long)a);
	expect_db_broken(f, a, "scan row 5 has no record in table checks");
	exec_f(db,
	       "INSERT INTO checks SELECT %lld, time, last_id, record, seal FROM checks"
	       " WHERE check_id = 1",
	       (long long)ev);
	expect_db_broken(f, a, "scan row 5 has no record in table checks");
	exec_f(db,
	       "INSERT INTO checks SELECT %lld, time, last_id, record, seal FROM checks"
	       " WHERE check_id = 1",
	       (long long)a);
	expect_db_broken(f, a,
			 "the record of check 5 in table checks does not match its journal"
			 " rows: verdict differs");
	exec_f(db, "DELETE FROM checks WHERE check_id = %lld", (long long)a);
	exec_ok(db, "INSERT INTO checks SELECT * FROM saved");
	expect_db_broken(f, ev, "check 8 in table checks has no scan row");
	/* As the sqlite3 CLI runs: without foreign key checks. */
	exec_f(db,
	       "PRAGMA foreign_keys=OFF;"
	       "UPDATE checks SET check_id = 100 WHERE check_id = %lld",
	       (long long)ev);
	expect_db_broken(f, 100, "check 100 in table checks has no scan row");
	exec_ok(db, "DELETE FROM checks WHERE check_id = 100");
	/* A record that ends before its own scan row. */
	exec_ok(db, "UPDATE checks SET last_id = 11 WHERE check_id = 12");
	expect_db_broken(f, 12, "last_id 11 is not its last row 12");
	exec_ok(db, "DROP TABLE checks");
	expect_db_broken(f, 0, "the journal has no table checks");
}

static void a_step_of_a_row_that_is_no_check_is_named(void **state)
{
	struct fixture *f = *state;
	int64_t ev = 0;
	sqlite3 *db;

	assert_int_equal(store_open(&f->store, f->path), 0);
	db = store_db(f->store);
	add_check(f->store, 1000, "L1", "valid");
	assert_int_equal(store_append_event(f->store, 2000, "L1", "mode_change", NULL, &ev), 0);
	/* The store refuses it... */
	assert_int_equal(store_append_step(f->store, ev, 2001, "L1", "verdict", "valid", NULL),
			 -EINVAL);
	assert_int_equal(store_sync(f->store), 0);
	/* ... someone with the file and the format does not. */
	append_raw(db, ev, "verdict");
	expect_db_broken(f, 6, "row 6 is a step of 5, which is not an open check");
}

static void records_held_open_by_a_forged_last_id_do_not_pile_up(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	sqlite3 *db;

	assert_int_equal(store_open(&f->store, f->path), 0);
	db = store_db(f->store);
	for (int i = 0; i < 4200; i++)
		add_check(f->store, 1000 * i, "L1", "valid");
	assert_int_equal(verify(f, &rep), 0);
	assert_int_equal(rep.rows, 4 * 4200);
	/* Every check would wait for rows that never come: the verification stops
	 * after 4096 and names the first. */
	exec_ok(db, "UPDATE checks SET last_id = last_id + 1000000");
	expect_db_broken(f, 1,
			 "the record of check 1 in table checks does not match its journal"
			 " rows: last_id 1000004 is past its last row 4");
	/* Stopped at the scan of check 4097, not at the end. */
	assert_int_equal(verify(f, &rep), 1);
	assert_int_equal(rep.rows, 4096 * 4 + 1);
	/* Open checks that do get their rows are not blamed for being many. */
	exec_ok(db, "UPDATE checks SET last_id = last_id - 1000000 WHERE check_id > 4");
	assert_int_equal(verify(f, &rep), 1);
	assert_int_equal(rep.rows, 4 * 4200);
	assert_string_equal(rep.reason,
			    "the record of check 1 in table checks does not match"
			    " its journal rows: last_id 1000004 is past its last row 4");
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
	    cmocka_unit_test_setup_teardown(every_record_of_table_checks_is_rebuilt_from_its_rows,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(a_step_of_a_row_that_is_no_check_is_named, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(records_held_open_by_a_forged_last_id_do_not_pile_up,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
