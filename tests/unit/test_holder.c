/* test_holder.c: the privacy policy's store for masked personal data (holder.c) on a
 * real journal: the digest against an independent computation (Python's hashlib),
 * rows checked against the digest their verdict row carries (an edited or a forged
 * row is named by audit verify), the drop after N days leaving the chain and the
 * remaining rows verified, and retention taking a check's holder row with it.
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
#include "holder.h"
#include "store.h"

#define DAY_MS (86400LL * 1000)

static const struct holder_fields ivanov = {"И. П. С.", "01.02.1980", "45** ***678"};

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/ts-holder-XXXXXX");
	if (!mkdtemp(f->dir) ||
	    (snprintf(f->path, sizeof(f->path), "%s/journal.db", f->dir),
	     store_open(&f->store, f->path) < 0)) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
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

/* A Gosuslugi check the way station.c journals it under keep_holder: the verdict
 * commits to the holder row stored with it. */
static int64_t add_gosu_check(struct store *s, int64_t t, const struct holder_fields *h)
{
	char salt[HOLDER_SALT_HEX_LEN + 1], digest[HOLDER_DIGEST_HEX_LEN + 1], detail[160];
	int64_t id = 0;

	assert_int_equal(holder_salt(salt), 0);
	assert_int_equal(holder_digest(salt, h, digest), 0);
	snprintf(detail, sizeof(detail), "{\"reason\":\"ok\",\"holder_digest\":\"%s\"}", digest);
	assert_int_equal(
	    store_append_scan(s, t, "main", "ctl", "gosuslugi", "c0de", "r1", NULL, &id), 0);
	assert_int_equal(store_append_step(s, id, t + 1, "main", "verdict", "valid", detail), 0);
	assert_int_equal(holder_put(store_db(s), id, t + 1, salt, h), 0);
	assert_int_equal(store_sync(s), 0);
	return id;
}

/* audit verify on a read-only connection: 0 intact, 1 broken (*bad its row). */
static int verify(struct fixture *f, int64_t *bad, char *reason, size_t size)
{
	struct audit_report rep;
	sqlite3 *db = NULL;
	int r;

	assert_int_equal(export_open_db(f->path, &db), 0);
	r = audit_verify_db(db, &rep);
	sqlite3_close(db);
	if (bad)
		*bad = rep.bad_id;
	if (reason)
		snprintf(reason, size, "%s", rep.reason);
	return r;
}

static int64_t count(struct fixture *f, const char *sql)
{
	sqlite3_stmt *stmt;
	int64_t n;

	assert_int_equal(sqlite3_prepare_v2(store_db(f->store), sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return n;
}

static void exec_ok(struct fixture *f, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(store_db(f->store), sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static void digest_is_the_documented_encoding(void **state)
{
	char out[HOLDER_DIGEST_HEX_LEN + 1], salt[HOLDER_SALT_HEX_LEN + 1], salt2[sizeof(salt)];

	(void)state;
	/* hashlib.sha256(b"tsh1\n" + salt + b"\n" + b"T<len>:" + field ...) */
	assert_int_equal(holder_digest("00112233445566778899aabbccddeeff", &ivanov, out), 0);
	assert_string_equal(out, "ce9ff153f4cae921aad2b604691d41e38f11053d31a6233bc5199632188a0915");
	assert_int_equal(holder_digest("0011", &ivanov, out), -EINVAL);
	/* Salts are random: two never coincide. */
	assert_int_equal(holder_salt(salt), 0);
	assert_int_equal(holder_salt(salt2), 0);
	assert_int_equal(strlen(salt), HOLDER_SALT_HEX_LEN);
	assert_string_not_equal(salt, salt2);
}

static void an_edited_or_forged_holder_row_is_named_by_verify(void **state)
{
	struct fixture *f = *state;
	int64_t b, bad = 0;
	char reason[200];

	add_gosu_check(f->store, 1000, &ivanov);
	b = add_gosu_check(f->store, 2000,
			   &(struct holder_fields){"А. Б.", "02.03.1990", "12** ***345"});
	assert_int_equal(verify(f, NULL, NULL, 0), 0);

	assert_int_equal(b, 3); /* scan 1, verdict 2, scan 3 */
	exec_ok(f, "UPDATE holder SET doc = '99** ***999' WHERE check_id = 3");
	assert_int_equal(verify(f, &bad, reason, sizeof(reason)), 1);
	assert_int_equal(bad, b);
	assert_non_null(strstr(reason, "holder_digest"));
	exec_ok(f, "UPDATE holder SET doc = '12** ***345' WHERE check_id = 3");
	assert_int_equal(verify(f, NULL, NULL, 0), 0);

	/* A holder row for a check whose verdict never committed to one. */
	{
		int64_t plain = 0;

		assert_int_equal(store_append_scan(f->store, 3000, "main", "ctl", "gosuslugi",
						   "c0de", "r2", NULL, &plain),
				 0);
		assert_int_equal(
		    store_append_step(f->store, plain, 3001, "main", "verdict", "valid", NULL), 0);
		assert_int_equal(holder_put(store_db(f->store), plain, 3001,
					    "00112233445566778899aabbccddeeff", &ivanov),
				 0);
		assert_int_equal(store_sync(f->store), 0);
		assert_int_equal(verify(f, &bad, NULL, 0), 1);
		assert_int_equal(bad, plain);
	}
}

static void drop_after_n_days_keeps_chain_and_the_rest_verified(void **state)
{
	struct fixture *f = *state;
	uint64_t dropped = 0;
	int64_t now = 100 * DAY_MS;

	add_gosu_check(f->store, now - 40 * DAY_MS, &ivanov);
	add_gosu_check(f->store, now - 31 * DAY_MS, &ivanov);
	add_gosu_check(f->store, now - 2 * DAY_MS, &ivanov);
	assert_int_equal(count(f, "SELECT count(*) FROM holder"), 3);

	assert_int_equal(holder_drop(store_db(f->store), now - 30 * DAY_MS, &dropped), 0);
	assert_int_equal(dropped, 2);
	assert_int_equal(count(f, "SELECT count(*) FROM holder"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM holder WHERE initials = 'И. П. С.'"), 1);
	/* The journal rows, with the digests in them, are all still there and chained. */
	assert_int_equal(count(f, "SELECT count(*) FROM journal"), 6);
	assert_int_equal(count(f, "SELECT count(*) FROM journal WHERE detail LIKE"
				  " '%holder_digest%'"), 3);
	assert_int_equal(verify(f, NULL, NULL, 0), 0);
	/* Nothing personal is left in the journal file's rows for the dropped checks. */
	assert_int_equal(count(f, "SELECT count(*) FROM journal WHERE detail LIKE '%45**%'"
				  " OR detail LIKE '%1980%'"), 0);

	assert_int_equal(holder_drop(store_db(f->store), now - 30 * DAY_MS, &dropped), 0);
	assert_int_equal(dropped, 0);
}

static void retention_purge_takes_the_holder_rows_of_purged_checks(void **state)
{
	struct fixture *f = *state;
	uint64_t purged = 0;

	add_gosu_check(f->store, 1 * DAY_MS, &ivanov);
	add_gosu_check(f->store, 5 * DAY_MS, &ivanov);
	assert_int_equal(store_purge(f->store, 3 * DAY_MS, 6 * DAY_MS, &purged), 0);
	assert_int_equal(purged, 2);
	assert_int_equal(count(f, "SELECT count(*) FROM holder"), 1);
	assert_int_equal(count(f, "SELECT min(check_id) FROM holder"), 3);
	assert_int_equal(verify(f, NULL, NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(digest_is_the_documented_encoding),
	    cmocka_unit_test_setup_teardown(an_edited_or_forged_holder_row_is_named_by_verify,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(drop_after_n_days_keeps_chain_and_the_rest_verified,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(retention_purge_takes_the_holder_rows_of_purged_checks,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
