/* test_audit_hash.c: audit_row_hash() against known answers.
 *
 * The expected hashes were computed outside this code base, with coreutils'
 * sha256sum over the canonical encoding written out by hand as audit.h documents
 * it (printf 'tsj1\n<prev>\nI1;I1700000000000;T4:mainN...' | sha256sum). So a
 * change of the hash library, or of the encoding, that would make existing
 * journals fail verification is caught here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "audit.h"

#define HASH_ROW1 "322ef0ee87725ec924f2af52fe0ef7c3858613e55f48123e0af6d546c556773b"
#define HASH_ROW2 "b071a4c9d875dae3530b21881fd6b170dbeb5f6a621ae67417a0d123a60c9f22"

/* Should: hash a scan row (NULL and empty texts apart) exactly as sha256sum does. */
static void scan_row_matches_the_documented_encoding(void **state)
{
	struct audit_row row = {.id = 1,
				.time = 1700000000000,
				.lane = "main",
				.step = "scan",
				.value = "",
				.source = "serial0",
				.code_kind = "ticket",
				.request_id = "00000000000000ab",
				.prev_hash = AUDIT_GENESIS};
	char hash[AUDIT_HASH_HEX_LEN + 1];

	(void)state;
	assert_int_equal(audit_row_hash(&row, hash), 0);
	assert_string_equal(hash, HASH_ROW1);
}

/* Should: chain on prev_hash and count UTF-8 text in bytes, not characters. */
static void step_row_chains_and_counts_bytes(void **state)
{
	struct audit_row row = {.id = 2,
				.time = 1700000000250,
				.lane = "main",
				.check_id = 1,
				.step = "verdict",
				.value = "valid",
				.detail = "{\"initials\":\"И. П.\"}",
				.prev_hash = HASH_ROW1};
	char hash[AUDIT_HASH_HEX_LEN + 1];

	(void)state;
	assert_int_equal(audit_row_hash(&row, hash), 0);
	assert_string_equal(hash, HASH_ROW2);
}

/* Should: refuse a row without a well-formed prev_hash. */
static void row_without_prev_hash_is_refused(void **state)
{
	struct audit_row row = {.id = 1, .lane = "main", .step = "scan", .value = ""};
	char hash[AUDIT_HASH_HEX_LEN + 1];

	(void)state;
	assert_int_equal(audit_row_hash(&row, hash), -EINVAL);
	row.prev_hash = "abc";
	assert_int_equal(audit_row_hash(&row, hash), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(scan_row_matches_the_documented_encoding),
	    cmocka_unit_test(step_row_chains_and_counts_bytes),
	    cmocka_unit_test(row_without_prev_hash_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
