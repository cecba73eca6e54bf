/* test_checkrec.c: the check record without SQL: what each step does to it, the
 * reason as cJSON reads a verdict's detail, the exact encoding and its refusal of
 * anything else, and the seal against SHA-256 over the bytes checkrec.h defines.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nettle/sha2.h>

#include "checkrec.h"

#define H(c)                                                                                       \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
	    c c c c c c c c c c c c c c c c c c c

static const char hash_a[] = H("a"), hash_b[] = H("b"), hash_c[] = H("c");

static struct audit_row scan_row(int64_t id)
{
	return (struct audit_row){.id = id,
				  .time = 1000,
				  .lane = "Вход 1",
				  .step = "scan",
				  .value = "",
				  .source = "serial0",
				  .code_kind = "pass",
				  .request_id = NULL,
				  .hash = hash_a};
}

static struct audit_row step_row(int64_t id, int64_t check, const char *step, const char *value,
				 const char *detail, const char *hash)
{
	return (struct audit_row){.id = id,
				  .time = 1000 + id,
				  .lane = "Вход 1",
				  .check_id = check,
				  .step = step,
				  .value = value,
				  .detail = detail,
				  .hash = hash};
}

/* The field as a NUL-ended string (for assert_string_equal). */
static const char *field(const struct checkrec *rec, enum checkrec_field f)
{
	static char buf[4][512];
	static int next;
	char *out = buf[next++ % 4];

	assert_true(rec->len[f] < sizeof(buf[0]));
	memcpy(out, rec->text[f], rec->len[f]);
	out[rec->len[f]] = '\0';
	return out;
}

static void a_scan_starts_a_record_with_the_view_defaults(void **state)
{
	struct audit_row scan = scan_row(7);
	struct checkrec_buf enc = {0};
	struct checkrec rec;

	(void)state;
	assert_int_equal(strlen(hash_a), AUDIT_HASH_HEX_LEN);
	assert_int_equal(checkrec_begin(&scan, &enc), 0);
	assert_int_equal(checkrec_decode(enc.p, enc.len, &rec), 0);
	assert_string_equal(field(&rec, CR_LANE), "Вход 1");
	assert_string_equal(field(&rec, CR_SOURCE), "serial0");
	assert_string_equal(field(&rec, CR_CODE_KIND), "pass");
	assert_string_equal(field(&rec, CR_VERDICT), "none");
	assert_string_equal(field(&rec, CR_ATTENDANT), "not_required");
	assert_string_equal(field(&rec, CR_GATE), "none");
	assert_string_equal(field(&rec, CR_GRANT_DIR), "");
	assert_string_equal(field(&rec, CR_REQUEST_ID), "");
	assert_string_equal(field(&rec, CR_REASON), "");
	assert_string_equal(field(&rec, CR_ROWS), "7:" H("a"));
	/* The whole encoding, byte for byte ("Вход 1" is 10 bytes). */
	assert_int_equal(enc.len, strlen("T10:Вход 1T7:serial0T4:passT4:noneT12:not_requiredT4:none"
					 "T0:T0:T0:T66:7:") +
				      64);
	assert_memory_equal(
	    enc.p, "T10:Вход 1T7:serial0T4:passT4:noneT12:not_requiredT4:noneT0:T0:T0:T66:7:",
	    enc.len - 64);
	checkrec_buf_free(&enc);
}

static void each_step_sets_its_field_the_last_of_a_kind_wins_and_the_builder_agrees(void **state)
{
	struct audit_row scan = scan_row(1);
	struct checkrec_buf a = {0}, b = {0};
	struct checkrec_build build = {0};
	struct checkrec rec;
	struct audit_row steps[] = {
	    step_row(2, 1, "verdict", "expired", "{\"reason\":\"first\"}", hash_b),
	    step_row(4, 1, "verdict", "valid", "{\"reason\":\"Абонемент\",\"reason\":\"dup\"}",
		     hash_c),
	    step_row(5, 1, "attendant", "confirmed", "{\"reason\":\"ignored\"}", hash_a),
	    step_row(6, 1, "grant", "b", NULL, hash_b),
	    step_row(9, 1, "abort", "restart", NULL, hash_c),
	    step_row(10, 1, "gate", "not_passed", NULL, hash_a),
	};

	(void)state;
	assert_int_equal(checkrec_begin(&scan, &a), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct checkrec_buf *from = i % 2 ? &b : &a, *to = i % 2 ? &a : &b;

		assert_int_equal(checkrec_step(from->p, from->len, &steps[i], to), 0);
	}
	/* Six steps: the last one went into a. */
	assert_int_equal(checkrec_decode(a.p, a.len, &rec), 0);
	assert_string_equal(field(&rec, CR_VERDICT), "valid");
	assert_string_equal(field(&rec, CR_REASON), "Абонемент"); /* cJSON: the first key */
	assert_string_equal(field(&rec, CR_ATTENDANT), "confirmed");
	assert_string_equal(field(&rec, CR_GRANT_DIR), "b");
	assert_string_equal(field(&rec, CR_GATE), "not_passed");
	assert_string_equal(field(&rec, CR_ROWS), "1:" H("a") " 2:" H("b") " 4:" H("c") " 5:" H(
						      "a") " 6:" H("b") " 9:" H("c") " 10:" H("a"));
	/* The builder gives the same bytes. */
	assert_int_equal(checkrec_build_begin(&build, &scan), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		assert_int_equal(checkrec_build_step(&build, &steps[i]), 0);
	assert_int_equal(checkrec_build_encode(&build, &b), 0);
	assert_int_equal(b.len, a.len);
	assert_memory_equal(b.p, a.p, a.len);
	/* ... and starts over cleanly when reused for the next check. */
	assert_int_equal(checkrec_build_begin(&build, &scan), 0);
	assert_int_equal(checkrec_build_encode(&build, &b), 0);
	checkrec_buf_free(&a);
	assert_int_equal(checkrec_begin(&scan, &a), 0);
	assert_int_equal(b.len, a.len);
	assert_memory_equal(b.p, a.p, a.len);
	assert_int_equal(checkrec_build_step(&build, &(struct audit_row){.id = 2, .step = "gate"}),
			 -EINVAL);
	checkrec_build_free(&build);
	checkrec_buf_free(&a);
	checkrec_buf_free(&b);
}

static void reason_is_what_cjson_reads_from_the_last_verdict(void **state)
{
	static const struct {
		const char *detail, *reason;
	} cases[] = {
	    {"{\"reason\":\"membership\",\"valid_until\":\"2027-01-31\"}", "membership"},
	    {"{\"reason\":7}", "7"},
	    {"{\"reason\":true}", "true"},
	    {"{\"reason\":{\"a\":[1,null]}}", "{\"a\":[1,null]}"},
	    {"{\"reason\":null}", ""},
	    {"{\"reason\":\"a\\u0041\\n\"}", "aA\n"},
	    {"{\"other\":\"x\"}", ""},
	    {"[\"reason\"]", ""},
	    {"not json", ""},
	    {NULL, ""},
	};
	struct audit_row scan = scan_row(1);
	struct checkrec_buf a = {0}, b = {0};
	struct checkrec rec;

	(void)state;
	assert_int_equal(checkrec_begin(&scan, &a), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct audit_row v = step_row(2, 1, "verdict", "valid", cases[i].detail, hash_b);

		assert_int_equal(checkrec_step(a.p, a.len, &v, &b), 0);
		assert_int_equal(checkrec_decode(b.p, b.len, &rec), 0);
		assert_string_equal(field(&rec, CR_REASON), cases[i].reason);
	}
	checkrec_buf_free(&a);
	checkrec_buf_free(&b);
}

static void rows_that_cannot_make_a_record_are_refused(void **state)
{
	struct audit_row scan = scan_row(1), bad;
	struct checkrec_buf a = {0}, b = {0};

	(void)state;
	bad = scan;
	bad.step = "verdict";
	assert_int_equal(checkrec_begin(&bad, &a), -EINVAL);
	bad = scan;
	bad.hash = "abc";
	assert_int_equal(checkrec_begin(&bad, &a), -EINVAL);
	bad = scan;
	bad.check_id = 3;
	assert_int_equal(checkrec_begin(&bad, &a), -EINVAL);

	assert_int_equal(checkrec_begin(&scan, &a), 0);
	bad = step_row(2, 0, "verdict", "valid", NULL, hash_b);
	assert_int_equal(checkrec_step(a.p, a.len, &bad, &b), -EINVAL);
	bad = step_row(2, 1, "verdict", "valid", NULL, NULL);
	assert_int_equal(checkrec_step(a.p, a.len, &bad, &b), -EINVAL);
	bad = step_row(2, 1, "verdict", "valid", NULL, hash_b);
	assert_int_equal(checkrec_step("T1:x", 4, &bad, &b), -EINVAL);
	checkrec_buf_free(&a);
	checkrec_buf_free(&b);
}

static void decode_takes_exactly_ten_length_prefixed_texts(void **state)
{
	static const char good[] = "T1:aT0:T0:T4:noneT0:T0:T0:T0:T0:T3:1:x";
	static const char *const bad[] = {
	    "",
	    "T1:aT0:T0:T4:noneT0:T0:T0:T0:T0:",		 /* nine fields */
	    "T1:aT0:T0:T4:noneT0:T0:T0:T0:T0:T3:1:xT0:", /* eleven */
	    "T1:aT0:T0:T4:noneT0:T0:T0:T0:T0:T3:1:xy",	 /* trailing bytes */
	    "T1:aT0:T0:T4:noneT0:T0:T0:T0:T0:T4:1:x",	 /* past the end */
	    "T01:aT0:T0:T4:noneT0:T0:T0:T0:T0:T3:1:x",	 /* a leading zero */
	    "I1:aT0:T0:T4:noneT0:T0:T0:T0:T0:T3:1:x",	 /* not a text */
	    "T:aT0:T0:T4:noneT0:T0:T0:T0:T0:T3:1:x",	 /* no length */
	    "T1aT0:T0:T4:noneT0:T0:T0:T0:T0:T3:1:x",	 /* no colon */
	    "T99999999999999999999999:a",		 /* a length past any buffer */
	};
	struct checkrec rec;
	struct checkrec_buf enc = {0};

	(void)state;
	assert_int_equal(checkrec_decode(good, strlen(good), &rec), 0);
	assert_int_equal(rec.len[CR_LANE], 1);
	assert_int_equal(rec.len[CR_ROWS], 3);
	assert_memory_equal(rec.text[CR_VERDICT], "none", 4);
	/* Encoding what was decoded gives the same bytes. */
	assert_int_equal(checkrec_encode(&rec, &enc), 0);
	assert_int_equal(enc.len, strlen(good));
	assert_memory_equal(enc.p, good, enc.len);
	checkrec_buf_free(&enc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (checkrec_decode(bad[i], strlen(bad[i]), &rec) != -EINVAL)
			fail_msg("decoded: %s", bad[i]);
	}
}

static void seal_is_sha256_over_the_tag_ids_and_record(void **state)
{
	static const char enc[] = "T1:aT0:T0:T4:noneT0:T0:T0:T0:T0:T3:1:x";
	static const char hex[] = "0123456789abcdef";
	char seal[CHECKREC_SEAL_HEX_LEN + 1], want[CHECKREC_SEAL_HEX_LEN + 1], other[65];
	uint8_t md[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;
	const char *msg = "tsc1\nI42;I-5;T1:aT0:T0:T4:noneT0:T0:T0:T0:T0:T3:1:x";

	(void)state;
	sha256_init(&ctx);
	sha256_update(&ctx, strlen(msg), (const uint8_t *)msg);
	sha256_digest(&ctx, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++) {
		want[2 * i] = hex[md[i] >> 4];
		want[2 * i + 1] = hex[md[i] & 0xf];
	}
	want[64] = '\0';
	checkrec_seal(42, -5, enc, strlen(enc), seal);
	assert_string_equal(seal, want);
	/* Every input counts. */
	checkrec_seal(43, -5, enc, strlen(enc), other);
	assert_string_not_equal(other, seal);
	checkrec_seal(42, 5, enc, strlen(enc), other);
	assert_string_not_equal(other, seal);
	checkrec_seal(42, -5, enc, strlen(enc) - 1, other);
	assert_string_not_equal(other, seal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_scan_starts_a_record_with_the_view_defaults),
	    cmocka_unit_test(
		each_step_sets_its_field_the_last_of_a_kind_wins_and_the_builder_agrees),
	    cmocka_unit_test(reason_is_what_cjson_reads_from_the_last_verdict),
	    cmocka_unit_test(rows_that_cannot_make_a_record_are_refused),
	    cmocka_unit_test(decode_takes_exactly_ten_length_prefixed_texts),
	    cmocka_unit_test(seal_is_sha256_over_the_tag_ids_and_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
