/* test_store_txn.c: the journal's numbered write transactions, which let the
 * daemon hold a lane's relay until the commit that carries its grant is known to
 * be durable, while several lanes share that commit (group commit).
 *
 * On a real file: a transaction is open until store_sync(), then durable; one that
 * SQLite rolls back by itself is lost and stays lost after later commits; a lane
 * whose rows rode along in another lane's commit sees its own transaction durable.
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

#include "store.h"

struct fixture {
	char dir[64];
	char path[PATH_MAX];
	struct store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ts-txn-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/journal.db", f->dir);
	if (store_open(&f->s, f->path) < 0) {
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

	store_close(f->s);
	unlink(f->path);
	snprintf(side, sizeof(side), "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", f->path);
	unlink(side);
	rmdir(f->dir);
	free(f);
	return 0;
}

static uint64_t grant(struct store *s, const char *lane)
{
	int64_t check;

	assert_int_equal(store_append_scan(s, 1700000000000, lane, "ctl", "ticket", NULL, "r", NULL,
					   &check),
			 0);
	assert_int_equal(store_append_step(s, check, 1700000000001, lane, "grant", "a", NULL), 0);
	return store_txn(s);
}

/* Should: report a transaction open until the sync, and durable after it. */
static void open_until_synced_then_durable(void **state)
{
	struct fixture *f = *state;
	uint64_t t;

	assert_int_equal(store_txn(f->s), 0);
	t = grant(f->s, "main");
	assert_true(t > 0);
	assert_int_equal(store_txn_durable(f->s, t), 0);
	assert_int_equal(store_sync(f->s), 0);
	assert_int_equal(store_txn(f->s), 0);
	assert_int_equal(store_txn_durable(f->s, t), 1);
	/* The next transaction gets a new number. */
	assert_true(grant(f->s, "main") > t);
}

/* Should: let two lanes' grants share one commit, each seeing its own durable. */
static void lanes_sharing_a_commit_both_see_it_durable(void **state)
{
	struct fixture *f = *state;
	struct store_stats before, after;
	uint64_t a, b;

	store_stats(f->s, &before);
	a = grant(f->s, "a");
	b = grant(f->s, "b");
	assert_int_equal(a, b);
	assert_int_equal(store_sync(f->s), 0);
	store_stats(f->s, &after);
	assert_int_equal(after.commits - before.commits, 1);
	assert_int_equal(store_txn_durable(f->s, a), 1);
	assert_int_equal(store_txn_durable(f->s, b), 1);
}

/* Should: call a transaction that SQLite rolled back lost, before and after the
 * next commit, and never durable. */
static void rolled_back_transaction_is_lost_for_good(void **state)
{
	struct fixture *f = *state;
	uint64_t lost, next;

	lost = grant(f->s, "main");
	/* What SQLite does by itself after SQLITE_FULL or an I/O error. */
	assert_int_equal(sqlite3_exec(store_db(f->s), "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_txn_durable(f->s, lost), -EIO);
	assert_int_equal(store_sync(f->s), 0); /* nothing left to commit */
	assert_int_equal(store_txn_durable(f->s, lost), -EIO);

	next = grant(f->s, "main");
	assert_true(next > lost);
	assert_int_equal(store_sync(f->s), 0);
	assert_int_equal(store_txn_durable(f->s, next), 1);
	assert_int_equal(store_txn_durable(f->s, lost), -EIO);
	assert_int_equal(store_txn_durable(f->s, 0), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(open_until_synced_then_durable, setup, teardown),
	    cmocka_unit_test_setup_teardown(lanes_sharing_a_commit_both_see_it_durable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(rolled_back_transaction_is_lost_for_good, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
