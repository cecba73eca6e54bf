/* test_sqlite_errno.c: the one SQLite-to-errno mapping, primary and extended codes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sqlite_errno.h"

static void success_codes_are_zero(void **state)
{
	(void)state;
	assert_int_equal(sqlite_errno(SQLITE_OK), 0);
	assert_int_equal(sqlite_errno(SQLITE_ROW), 0);
	assert_int_equal(sqlite_errno(SQLITE_DONE), 0);
}

static void each_failure_class_has_its_errno(void **state)
{
	(void)state;
	assert_int_equal(sqlite_errno(SQLITE_FULL), -ENOSPC);
	assert_int_equal(sqlite_errno(SQLITE_READONLY), -EROFS);
	assert_int_equal(sqlite_errno(SQLITE_BUSY), -EBUSY);
	assert_int_equal(sqlite_errno(SQLITE_LOCKED), -EBUSY);
	assert_int_equal(sqlite_errno(SQLITE_CONSTRAINT), -EINVAL);
	assert_int_equal(sqlite_errno(SQLITE_NOMEM), -ENOMEM);
	assert_int_equal(sqlite_errno(SQLITE_NOTADB), -EPROTO);
	assert_int_equal(sqlite_errno(SQLITE_CANTOPEN), -EIO);
	assert_int_equal(sqlite_errno(SQLITE_CORRUPT), -EIO);
}

static void extended_codes_map_like_their_primary_code(void **state)
{
	(void)state;
	assert_int_equal(sqlite_errno(SQLITE_IOERR_FSYNC), -EIO);
	assert_int_equal(sqlite_errno(SQLITE_READONLY_DBMOVED), -EROFS);
	assert_int_equal(sqlite_errno(SQLITE_BUSY_SNAPSHOT), -EBUSY);
	assert_int_equal(sqlite_errno(SQLITE_CONSTRAINT_TRIGGER), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(success_codes_are_zero),
	    cmocka_unit_test(each_failure_class_has_its_errno),
	    cmocka_unit_test(extended_codes_map_like_their_primary_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
