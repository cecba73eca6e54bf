/* test_store.c: the audit journal against real SQLite files in a fresh temporary
 * directory per test: migrations and user_version, group commit and durability as
 * seen from a second connection, the append-only triggers, the code-hash key, the
 * reuse query, the per-check records (kept as rows arrive, rebuilt for an older
 * journal, purged with their scans) and the error mapping for a full or read-only
 * database.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "schema.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[PATH_MAX];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ts-store-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/journal.db", f->dir);
	*state = f;
	return 0;
}

static void remove_db(const char *path)
{
	char side[PATH_MAX + 8];
	int n;

	unlink(path);
	n = snprintf(side, sizeof(side), "%s-wal", path);
	assert_in_range(n, 1, sizeof(side) - 1);
	unlink(side);
	n = snprintf(side, sizeof(side), "%s-shm", path);
	assert_in_range(n, 1, sizeof(side) - 1);
	unlink(side);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	chmod(f->dir, 0700);
	remove_db(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

/* A second connection, as turnstilectl or a crash-recovery reader would see it. */
static int64_t query_int_other(const char *path, const char *sql)
{
	sqlite3 *db;
	int64_t v;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	v = query_int(db, sql);
	sqlite3_close(db);
	return v;
}

static int last_version(void)
{
	return schema_migrations[schema_migration_count - 1].version;
}

static void fresh_open_creates_wal_journal_at_last_schema_version(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	sqlite3_stmt *stmt;

	assert_int_equal(store_open(&s, f->path), 0);
	assert_non_null(s);
	assert_int_equal(query_int(store_db(s), "PRAGMA user_version"), last_version());
	assert_int_equal(query_int(store_db(s), "PRAGMA foreign_keys"), 1);
	assert_int_equal(query_int(store_db(s), "PRAGMA synchronous"), 2); /* FULL */
	assert_int_equal(query_int(store_db(s), "PRAGMA busy_timeout"), 5000);
	assert_int_equal(sqlite3_prepare_v2(store_db(s), "PRAGMA journal_mode", -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);
	assert_false(store_pending(s));
	store_close(s);
}

static void reopen_is_idempotent_and_keeps_rows_and_key(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char h1[STORE_HASH_HEX_LEN + 1], h2[STORE_HASH_HEX_LEN + 1];
	int64_t id;

	assert_int_equal(store_open(&s, f->path), 0);
	assert_int_equal(store_append_event(s, 1000, "L1", "start", NULL, &id), 0);
	assert_int_equal(store_code_hash(s, "ABC", 3, h1), 0);
	store_close(s);

	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_open(&s, f->path), 0);
		assert_int_equal(query_int(store_db(s), "PRAGMA user_version"), last_version());
		assert_int_equal(query_int(store_db(s), "SELECT count(*) FROM journal"), 1);
		assert_int_equal(query_int(store_db(s), "SELECT count(*) FROM meta"), 1);
		assert_int_equal(store_code_hash(s, "ABC", 3, h2), 0);
		assert_string_equal(h1, h2);
		store_close(s);
	}
}

static void database_from_newer_schema_is_refused_with_eproto(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char sql[64];

	assert_int_equal(store_open(&s, f->path), 0);
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", last_version() + 1);
	assert_int_equal(sqlite3_exec(store_db(s), sql, NULL, NULL, NULL), SQLITE_OK);
	store_close(s);

	s = (struct store *)0x1;
	assert_int_equal(store_open(&s, f->path), -EPROTO);
	assert_null(s);
	/* Refusing must not have touched the file. */
	assert_int_equal(query_int_other(f->path, "PRAGMA user_version"), last_version() + 1);
}

static void rows_are_pending_until_sync_then_durable_for_other_readers(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char hash[STORE_HASH_HEX_LEN + 1];
	int64_t check = 0, ev = 0;
	sqlite3_stmt *stmt;
	sqlite3 *db;

	assert_int_equal(store_open(&s, f->path), 0);
	assert_int_equal(store_code_hash(s, "QR-1", 4, hash), 0);
	assert_int_equal(
	    store_append_scan(s, 5000, "L1", "serial0", "qr", hash, "req-1", NULL, &check), 0);
	assert_true(check > 0);
	assert_true(store_pending(s));
	assert_int_equal(
	    store_append_step(s, check, 5100, "L1", "verdict", "allow", "{\"reason\":\"ok\"}"), 0);
	assert_int_equal(store_append_step(s, check, 5200, "L1", "attendant", "confirm", NULL), 0);
	assert_int_equal(
	    store_append_event(s, 5250, "L1", "mode_change", "{\"mode\":\"free\"}", &ev), 0);
	assert_true(ev > check);

	/* Group commit: nothing is visible outside the transaction before the sync. */
	assert_int_equal(query_int_other(f->path, "SELECT count(*) FROM journal"), 0);
	assert_int_equal(store_sync(s), 0);
	assert_false(store_pending(s));
	assert_int_equal(query_int_other(f->path, "SELECT count(*) FROM journal"), 4);

	assert_int_equal(store_append_step(s, check, 5300, "L1", "grant", "a", NULL), 0);
	assert_int_equal(store_sync(s), 0);
	assert_int_equal(store_append_step(s, check, 5400, "L1", "gate", "passed", NULL), 0);
	/* store_close syncs what is pending. */
	store_close(s);

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	{
		assert_int_equal(
		    sqlite3_prepare_v2(db,
				       "SELECT check_id, time, lane, source, code_kind,"
				       " request_id, verdict, attendant, grant_dir, gate"
				       " FROM check_export",
				       -1, &stmt, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int64(stmt, 0), check);
		assert_int_equal(sqlite3_column_int64(stmt, 1), 5000);
		assert_string_equal((const char *)sqlite3_column_text(stmt, 2), "L1");
		assert_string_equal((const char *)sqlite3_column_text(stmt, 3), "serial0");
		assert_string_equal((const char *)sqlite3_column_text(stmt, 4), "qr");
		assert_string_equal((const char *)sqlite3_column_text(stmt, 5), "req-1");
		assert_string_equal((const char *)sqlite3_column_text(stmt, 6), "allow");
		assert_string_equal((const char *)sqlite3_column_text(stmt, 7), "confirm");
		assert_string_equal((const char *)sqlite3_column_text(stmt, 8), "a");
		assert_string_equal((const char *)sqlite3_column_text(stmt, 9), "passed");
		assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
		sqlite3_finalize(stmt);
		assert_int_equal(
		    query_int(db, "SELECT count(*) FROM journal WHERE code_hash IS NOT NULL"
				  " AND step = 'scan'"),
		    1);
		sqlite3_close(db);
	}
}

static void sync_with_nothing_pending_is_a_noop_and_close_accepts_null(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;

	assert_int_equal(store_open(&s, f->path), 0);
	assert_int_equal(store_sync(s), 0);
	assert_int_equal(store_sync(s), 0);
	store_close(s);
	store_close(NULL);
}

static void journal_update_and_delete_are_refused_by_triggers(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	sqlite3 *db;
	int64_t id;
	int rc;

	assert_int_equal(store_open(&s, f->path), 0);
	assert_int_equal(store_append_event(s, 1, "L1", "start", NULL, &id), 0);
	assert_int_equal(store_sync(s), 0);
	db = store_db(s);

	rc = sqlite3_exec(db, "UPDATE journal SET value = 'forged'", NULL, NULL, NULL);
	assert_int_equal(rc, SQLITE_CONSTRAINT);
	assert_string_equal(sqlite3_errmsg(db), "journal is append-only");
	rc = sqlite3_exec(db, "DELETE FROM journal", NULL, NULL, NULL);
	assert_int_equal(rc, SQLITE_CONSTRAINT);
	assert_string_equal(sqlite3_errmsg(db), "journal is append-only");
	assert_int_equal(query_int(db, "SELECT count(*) FROM journal WHERE value = 'start'"), 1);
	store_close(s);
}

static void step_for_unknown_check_or_bad_step_is_einval(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	int64_t check;

	assert_int_equal(store_open(&s, f->path), 0);
	/* The foreign key on check_id. */
	assert_int_equal(store_append_step(s, 424242, 1, "L1", "verdict", "allow", NULL), -EINVAL);
	assert_int_equal(store_append_scan(s, 1, "L1", "serial0", "qr", NULL, NULL, NULL, &check),
			 0);
	/* The CHECK constraint on step, and the names reserved for scans and events. */
	assert_int_equal(store_append_step(s, check, 2, "L1", "bogus", "x", NULL), -EINVAL);
	assert_int_equal(store_append_step(s, check, 2, "L1", "scan", "x", NULL), -EINVAL);
	assert_int_equal(store_append_step(s, check, 2, "L1", "event", "x", NULL), -EINVAL);
	assert_int_equal(store_append_step(s, check, 2, NULL, "gate", "x", NULL), -EINVAL);
	/* A failed statement leaves the open transaction and its good rows intact. */
	assert_true(store_pending(s));
	assert_int_equal(store_sync(s), 0);
	assert_int_equal(query_int_other(f->path, "SELECT count(*) FROM journal"), 1);
	store_close(s);
}

static void step_for_a_row_that_is_not_a_check_is_einval(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	int64_t check, event;

	assert_int_equal(store_open(&s, f->path), 0);
	assert_int_equal(store_append_scan(s, 1, "L1", "serial0", "qr", NULL, NULL, NULL, &check),
			 0);
	assert_int_equal(store_append_event(s, 2, "L1", "start", NULL, &event), 0);
	/* The foreign key would take it (the row exists); the check record does not. */
	assert_int_equal(store_append_step(s, event, 3, "L1", "verdict", "valid", NULL), -EINVAL);
	assert_non_null(strstr(store_errmsg(s), "is not a check"));
	assert_true(store_pending(s));
	assert_int_equal(store_sync(s), 0);
	assert_int_equal(query_int_other(f->path, "SELECT count(*) FROM journal"), 2);
	assert_int_equal(query_int_other(f->path, "SELECT count(*) FROM checks"), 1);
	/* Refused with nothing pending: the transaction it opened is gone again, so no
	 * empty commit can pass for a journal that records (a full disk's aftermath). */
	assert_int_equal(store_append_step(s, event, 4, "L1", "gate", "passed", NULL), -EINVAL);
	assert_false(store_pending(s));
	store_close(s);
}

/* Every record in one text: check_id, time, last_id, record and seal of each. */
static char *records_of(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	char *text;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT group_concat(check_id || '|' || time || '|' ||"
					    " last_id || '|' || record || '|' || seal, char(10))"
					    " FROM (SELECT * FROM checks ORDER BY check_id)",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	text = strdup((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	assert_non_null(text);
	return text;
}

/* Two lanes interleaving their checks, an abort, a check without steps, events. */
static void write_interleaved_checks(struct store *s, int n)
{
	for (int i = 0; i < n; i++) {
		int64_t a, b;

		assert_int_equal(store_append_scan(s, 10 * i, "L1", "serial0", "pass", NULL, "r1",
						   NULL, &a),
				 0);
		assert_int_equal(store_append_scan(s, 10 * i + 1, "L2", "cam0", "gosuslugi", NULL,
						   NULL, NULL, &b),
				 0);
		assert_int_equal(store_append_step(s, a, 10 * i + 2, "L1", "verdict", "valid",
						   "{\"reason\":\"membership\"}"),
				 0);
		assert_int_equal(store_append_event(s, 10 * i + 3, "L2", "mode_change", NULL, NULL),
				 0);
		if (i % 3)
			assert_int_equal(store_append_step(s, b, 10 * i + 4, "L2", "verdict",
							   "expired", "{\"reason\":7}"),
					 0);
		assert_int_equal(store_append_step(s, a, 10 * i + 5, "L1", "grant", "a", NULL), 0);
		assert_int_equal(store_append_step(s, a, 10 * i + 6, "L1",
						   i % 2 ? "gate" : "abort",
						   i % 2 ? "passed" : "restart", NULL),
				 0);
	}
	assert_int_equal(store_sync(s), 0);
}

static void records_are_kept_as_rows_arrive(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;

	assert_int_equal(store_open(&s, f->path), 0);
	write_interleaved_checks(s, 3);
	/* Check 1 (L1, i = 0): its scan, verdict, grant and abort; the abort changes
	 * none of the fields. Check 2 (L2): a scan and nothing else. */
	assert_int_equal(
	    query_int_other(f->path, "SELECT count(*) FROM checks WHERE check_id = 1 AND time = 0"
				     " AND last_id = 6 AND record LIKE 'T2:L1T7:serial0T4:pass"
				     "T5:validT12:not_requiredT4:noneT1:aT2:r1T10:membershipT267:1:%'"
				     " AND record LIKE '% 6:%' AND length(seal) = 64"),
	    1);
	assert_int_equal(
	    query_int_other(f->path, "SELECT count(*) FROM checks WHERE check_id = 2 AND last_id = 2"
				     " AND record LIKE 'T2:L2T4:cam0T9:gosuslugiT4:noneT12:not_required"
				     "T4:noneT0:T0:T0:T66:2:%'"),
	    1);
	/* Check 8 (L2, i = 1): a verdict whose reason is a number. */
	assert_int_equal(query_int_other(f->path, "SELECT count(*) FROM checks WHERE check_id = 8"
						  " AND record LIKE '%T7:expired%T1:7T%'"),
			 1);
	assert_int_equal(query_int_other(f->path, "SELECT count(*) FROM checks"), 6);
	store_close(s);
}

static void an_older_journal_gets_the_same_records_once_at_open(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char *kept, *rebuilt;
	sqlite3 *db;

	assert_int_equal(store_open(&s, f->path), 0);
	write_interleaved_checks(s, 20);
	store_close(s);
	kept = records_of(f->path);

	/* The journal as schema 0003 left it. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE checks; PRAGMA user_version = 3", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(&s, f->path), 0);
	assert_int_equal(query_int(store_db(s), "PRAGMA user_version"), last_version());
	assert_int_equal(
	    query_int(store_db(s), "SELECT count(*) FROM meta WHERE key = 'checks_backfill'"), 0);
	store_close(s);
	rebuilt = records_of(f->path);
	assert_string_equal(rebuilt, kept);
	free(kept);
	free(rebuilt);
}

static void a_purge_takes_the_records_of_the_checks_it_removes(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	uint64_t purged = 0;

	assert_int_equal(store_open(&s, f->path), 0);
	write_interleaved_checks(s, 10);
	assert_int_equal(store_purge(s, 50, 1000, &purged), 0);
	assert_true(purged > 0);
	assert_int_equal(query_int(store_db(s), "SELECT count(*) FROM checks"),
			 query_int(store_db(s), "SELECT count(*) FROM journal WHERE step = 'scan'"));
	assert_int_equal(query_int(store_db(s), "SELECT min(check_id) FROM checks"),
			 query_int(store_db(s), "SELECT min(id) FROM journal WHERE step = 'scan'"));
	store_close(s);
}

static void hex_hmac(const unsigned char *key, const char *code, char *out)
{
	unsigned char md[32];
	unsigned int len = 0;

	assert_non_null(
	    HMAC(EVP_sha256(), key, 32, (const unsigned char *)code, strlen(code), md, &len));
	for (unsigned int i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void code_hash_is_keyed_hmac_stable_per_install_and_differs_between_installs(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL, *other = NULL;
	char other_path[PATH_MAX + 16];
	char h1[STORE_HASH_HEX_LEN + 1], h2[STORE_HASH_HEX_LEN + 1], h3[STORE_HASH_HEX_LEN + 1];
	char expect[STORE_HASH_HEX_LEN + 1];
	const char *code = "TICKET-0001";
	sqlite3_stmt *stmt;

	assert_int_equal(store_open(&s, f->path), 0);
	assert_int_equal(store_code_hash(s, code, strlen(code), h1), 0);
	assert_int_equal(strlen(h1), STORE_HASH_HEX_LEN);
	assert_int_equal(strspn(h1, "0123456789abcdef"), STORE_HASH_HEX_LEN);
	assert_null(strstr(h1, code));

	/* It is HMAC-SHA256 under the 32-byte key kept in meta. */
	assert_int_equal(sqlite3_prepare_v2(store_db(s),
					    "SELECT value FROM meta WHERE key = 'code_hash_key'",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(stmt, 0), STORE_HASH_KEY_LEN);
	hex_hmac(sqlite3_column_blob(stmt, 0), code, expect);
	sqlite3_finalize(stmt);
	assert_string_equal(h1, expect);

	/* Different codes, different hashes; an empty code is hashable too. */
	assert_int_equal(store_code_hash(s, "TICKET-0002", 11, h2), 0);
	assert_string_not_equal(h1, h2);
	assert_int_equal(store_code_hash(s, "", 0, h2), 0);
	assert_int_equal(strlen(h2), STORE_HASH_HEX_LEN);
	store_close(s);

	assert_int_equal(store_open(&s, f->path), 0);
	assert_int_equal(store_code_hash(s, code, strlen(code), h2), 0);
	assert_string_equal(h1, h2);
	store_close(s);

	snprintf(other_path, sizeof(other_path), "%s/other.db", f->dir);
	assert_int_equal(store_open(&other, other_path), 0);
	assert_int_equal(store_code_hash(other, code, strlen(code), h3), 0);
	assert_string_not_equal(h1, h3);
	store_close(other);
	remove_db(other_path);
}

static void recently_granted_sees_only_granted_checks_of_that_code_since_the_bound(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char a[STORE_HASH_HEX_LEN + 1], b[STORE_HASH_HEX_LEN + 1], c[STORE_HASH_HEX_LEN + 1];
	int64_t ca, cb, cc;

	assert_int_equal(store_open(&s, f->path), 0);
	assert_int_equal(store_code_hash(s, "A", 1, a), 0);
	assert_int_equal(store_code_hash(s, "B", 1, b), 0);
	assert_int_equal(store_code_hash(s, "C", 1, c), 0);

	/* A granted on L1 at t=1000; B scanned and denied; C never seen. */
	assert_int_equal(store_append_scan(s, 1000, "L1", "serial0", "qr", a, NULL, NULL, &ca), 0);
	assert_int_equal(store_append_step(s, ca, 1010, "L1", "verdict", "allow", NULL), 0);
	assert_int_equal(store_append_step(s, ca, 1020, "L1", "grant", "a", NULL), 0);
	assert_int_equal(store_sync(s), 0);
	assert_int_equal(store_append_scan(s, 2000, "L2", "serial1", "qr", b, NULL, NULL, &cb), 0);
	assert_int_equal(store_append_step(s, cb, 2010, "L2", "verdict", "deny", NULL), 0);
	assert_int_equal(store_sync(s), 0);

	assert_int_equal(store_recently_granted(s, a, 0), 1);
	assert_int_equal(store_recently_granted(s, a, 1000), 1);
	assert_int_equal(store_recently_granted(s, a, 1001), 0);
	assert_int_equal(store_recently_granted(s, b, 0), 0);
	assert_int_equal(store_recently_granted(s, c, 0), 0);

	/* Another lane, and not yet synced: the daemon's own connection sees it. */
	assert_int_equal(store_append_scan(s, 3000, "L2", "serial1", "qr", b, NULL, NULL, &cc), 0);
	assert_int_equal(store_append_step(s, cc, 3010, "L2", "grant", "b", NULL), 0);
	assert_int_equal(store_recently_granted(s, b, 2500), 1);
	assert_int_equal(store_recently_granted(NULL, b, 0), -EINVAL);
	assert_int_equal(store_recently_granted(s, NULL, 0), -EINVAL);
	store_close(s);
}

static void full_database_gives_enospc_and_keeps_earlier_rows(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char *big;
	int64_t id;
	int r;

	assert_int_equal(store_open(&s, f->path), 0);
	assert_int_equal(store_append_event(s, 1, "L1", "start", NULL, &id), 0);
	assert_int_equal(store_sync(s), 0);
	/* A disk that is full as far as SQLite can tell. */
	assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA max_page_count=1", NULL, NULL, NULL),
			 SQLITE_OK);
	big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, 'x', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	r = store_append_event(s, 2, "L1", "io_fault", big, &id);
	free(big);
	assert_int_equal(r, -ENOSPC);
	assert_non_null(strstr(store_errmsg(s), "full"));
	assert_int_equal(store_sync(s), 0);
	store_close(s);
	assert_int_equal(query_int_other(f->path, "SELECT count(*) FROM journal"), 1);
}

/* Opens the journal after making it read-only; as root, permissions do not bind, so the
 * open runs in a child that has dropped to nobody. Returns store_open's result. */
static int open_as_unprivileged(const char *path)
{
	struct store *s = NULL;
	pid_t pid;
	int status, r;

	if (geteuid() != 0) {
		r = store_open(&s, path);
		store_close(s);
		return r;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(255);
		r = store_open(&s, path);
		store_close(s);
		_exit(-r & 0xff);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 255);
	return -WEXITSTATUS(status);
}

static void read_only_journal_file_is_refused_with_erofs(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;

	assert_int_equal(store_open(&s, f->path), 0);
	store_close(s);
	assert_int_equal(chmod(f->path, 0444), 0);
	/* The directory stays writable for the -wal and -shm files so that only the
	 * database file itself is read-only. */
	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_int_equal(open_as_unprivileged(f->path), -EROFS);
}

static void missing_directory_gives_the_os_errno(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/nonexistent/journal.db", f->dir);
	assert_int_equal(store_open(&s, path), -ENOENT);
	assert_null(s);
	assert_int_equal(store_open(&s, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(fresh_open_creates_wal_journal_at_last_schema_version,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(reopen_is_idempotent_and_keeps_rows_and_key, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(database_from_newer_schema_is_refused_with_eproto,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		rows_are_pending_until_sync_then_durable_for_other_readers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		sync_with_nothing_pending_is_a_noop_and_close_accepts_null, setup, teardown),
	    cmocka_unit_test_setup_teardown(journal_update_and_delete_are_refused_by_triggers,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(step_for_a_row_that_is_not_a_check_is_einval, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(records_are_kept_as_rows_arrive, setup, teardown),
	    cmocka_unit_test_setup_teardown(an_older_journal_gets_the_same_records_once_at_open,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(a_purge_takes_the_records_of_the_checks_it_removes,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(step_for_unknown_check_or_bad_step_is_einval, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		code_hash_is_keyed_hmac_stable_per_install_and_differs_between_installs, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		recently_granted_sees_only_granted_checks_of_that_code_since_the_bound, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(full_database_gives_enospc_and_keeps_earlier_rows,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(read_only_journal_file_is_refused_with_erofs, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(missing_directory_gives_the_os_errno, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
