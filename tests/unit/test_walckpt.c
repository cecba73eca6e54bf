/* test_walckpt.c: the journal's WAL checkpoints run on their own thread.
 *
 * Through store.c on a real file: commits that grow the WAL past the limit wake
 * the checkpoint thread, which copies the WAL into the database while the store
 * keeps its connection open; a store closed right after such a request stops the
 * thread cleanly and loses nothing; and walckpt works on its own against a WAL
 * written by another connection.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "store.h"
#include "walckpt.h"

struct fixture {
	char dir[64];
	char path[PATH_MAX];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ts-walckpt-XXXXXX");
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

	unlink(f->path);
	snprintf(side, sizeof(side), "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", f->path);
	unlink(side);
	rmdir(f->dir);
	free(f);
	return 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* n checks of one row each, every one committed on its own like a grant. The
 * detail pads a row to about a page so the WAL grows past the limit quickly. */
static void append_commits(struct store *s, int n)
{
	char detail[3000];

	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	for (int i = 0; i < n; i++) {
		int64_t id;

		assert_int_equal(store_append_event(s, 1700000000000 + i, "main", "bench", detail,
						    &id),
				 0);
		assert_int_equal(store_sync(s), 0);
	}
}

static int64_t count_rows(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int64_t n;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM journal", -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

/* Should: leave the commits alone and have the thread copy the WAL into the
 * database file once it passed the limit, with the store still open. */
static void grown_wal_is_checkpointed_by_the_thread(void **state)
{
	struct fixture *f = *state;
	struct store_stats st;
	struct store *s;
	struct audit_report rep;
	off_t before;

	assert_int_equal(store_open(&s, f->path), 0);
	store_stats(s, &st);
	assert_int_equal(st.checkpoints, 0);
	before = file_size(f->path);

	append_commits(s, 1500); /* some 3000 WAL frames: table and index pages */
	for (int i = 0; i < 600; i++) {
		store_stats(s, &st);
		if (st.checkpoints >= 1 && file_size(f->path) > before + 1000 * 1024)
			break;
		sleep_ms(50);
	}
	print_message("commits %llu, checkpoints %llu (inline %llu), WAL peak %d pages,"
		      " db %lld -> %lld bytes\n",
		      (unsigned long long)st.commits, (unsigned long long)st.checkpoints,
		      (unsigned long long)st.inline_checkpoints, st.wal_peak_pages,
		      (long long)before, (long long)file_size(f->path));
	assert_int_equal(st.commits, 1500);
	assert_true(st.checkpoints >= 1);
	assert_true(st.wal_peak_pages >= 1000 && st.wal_peak_pages <= 4000 + 10);
	assert_int_equal(st.checkpoint_error, 0);
	assert_true(file_size(f->path) > before + 1000 * 1024);

	assert_int_equal(audit_verify_db(store_db(s), &rep), 0);
	assert_int_equal(rep.rows, 1500);
	store_close(s);
	assert_int_equal(count_rows(f->path), 1500);
}

/* Should: stop at once when closed with a request just made, losing no row. */
static void close_right_after_a_request_stops_the_thread(void **state)
{
	struct fixture *f = *state;
	struct store *s;

	for (int round = 0; round < 3; round++) {
		assert_int_equal(store_open(&s, f->path), 0);
		append_commits(s, 400);
		store_close(s);
	}
	assert_int_equal(count_rows(f->path), 1200);
}

/* Should: checkpoint, when asked, a WAL that another connection wrote. */
static void worker_checkpoints_another_connections_wal(void **state)
{
	struct fixture *f = *state;
	struct walckpt_stats st = {0};
	struct walckpt *w;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
				      "CREATE TABLE t (x); INSERT INTO t VALUES (zeroblob(100000));",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(walckpt_start(&w, f->path), 0);
	walckpt_request(w);
	for (int i = 0; i < 600 && st.runs == 0; i++) {
		sleep_ms(50);
		walckpt_stats(w, &st);
	}
	assert_int_equal(st.runs, 1);
	assert_int_equal(st.last_error, 0);
	assert_true(file_size(f->path) >= 100000);
	walckpt_stop(w);
	walckpt_stop(NULL);
	sqlite3_close(db);
	assert_int_equal(walckpt_start(&w, "/nonexistent-dir/journal.db"), -EIO);
	assert_null(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(grown_wal_is_checkpointed_by_the_thread, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(close_right_after_a_request_stops_the_thread, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(worker_checkpoints_another_connections_wal, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
