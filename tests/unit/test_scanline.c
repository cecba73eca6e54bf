/* test_scanline.c: framing of scanner bytes into codes and rejected lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "scanline.h"

struct seen {
	size_t count;
	struct {
		enum scanline_kind kind;
		char code[SCANLINE_MAX_LEN + 1];
		size_t len;
	} ev[16];
};

static void collect(const struct scanline_event *ev, void *userdata)
{
	struct seen *s = userdata;

	assert_true(s->count < 16);
	s->ev[s->count].kind = ev->kind;
	s->ev[s->count].len = ev->len;
	if (ev->kind == SCANLINE_CODE) {
		assert_int_equal(strlen(ev->code), ev->len);
		memcpy(s->ev[s->count].code, ev->code, ev->len + 1);
	}
	s->count++;
}

static void feed_str(struct scanline *sl, const char *str, struct seen *s)
{
	scanline_feed(sl, str, strlen(str), collect, s);
}

static struct scanline sl;

/* Should frame on CR in cr mode and treat LF there as a bad byte. */
static void test_cr(void **state)
{
	struct seen s = {0};

	assert_int_equal(scanline_init(&sl, SCANLINE_EOL_CR, 64), 0);
	feed_str(&sl, "ABC\rDEF\r\r", &s);
	assert_int_equal(s.count, 2);
	assert_string_equal(s.ev[0].code, "ABC");
	assert_string_equal(s.ev[1].code, "DEF");
	feed_str(&sl, "X\nY\r", &s);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.ev[2].kind, SCANLINE_BINARY);
}

/* Should frame on LF in lf mode. */
static void test_lf(void **state)
{
	struct seen s = {0};

	assert_int_equal(scanline_init(&sl, SCANLINE_EOL_LF, 64), 0);
	feed_str(&sl, "one\ntwo\n\n", &s);
	assert_int_equal(s.count, 2);
	assert_string_equal(s.ev[0].code, "one");
	assert_string_equal(s.ev[1].code, "two");
}

/* Should take CR, LF and CRLF as one terminator each in any mode, with no empty lines. */
static void test_any(void **state)
{
	struct seen s = {0};

	assert_int_equal(scanline_init(&sl, SCANLINE_EOL_ANY, 64), 0);
	feed_str(&sl, "a1\r\nb2\rc3\nd4\r\n\r\ne5\r\r\n", &s);
	assert_int_equal(s.count, 5);
	assert_string_equal(s.ev[0].code, "a1");
	assert_string_equal(s.ev[1].code, "b2");
	assert_string_equal(s.ev[2].code, "c3");
	assert_string_equal(s.ev[3].code, "d4");
	assert_string_equal(s.ev[4].code, "e5");
}

/* Should frame the same however the bytes are chunked, CRLF split included. */
static void test_chunked(void **state)
{
	const char *in = "QR-CODE-1\r\nQR-CODE-2\r\n";
	struct seen s = {0};

	assert_int_equal(scanline_init(&sl, SCANLINE_EOL_ANY, 64), 0);
	for (size_t i = 0; i < strlen(in); i++)
		scanline_feed(&sl, in + i, 1, collect, &s);
	assert_int_equal(s.count, 2);
	assert_string_equal(s.ev[0].code, "QR-CODE-1");
	assert_string_equal(s.ev[1].code, "QR-CODE-2");
}

/* Should reject an over-long line arriving in chunks as a whole; the next line is good. */
static void test_too_long_chunks(void **state)
{
	struct seen s = {0};

	assert_int_equal(scanline_init(&sl, SCANLINE_EOL_CR, 16), 0);
	feed_str(&sl, "0123456789", &s);
	feed_str(&sl, "0123456789", &s);
	feed_str(&sl, "0123", &s);
	assert_int_equal(s.count, 0);
	feed_str(&sl, "\rGOOD\r", &s);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.ev[0].kind, SCANLINE_TOO_LONG);
	assert_int_equal(s.ev[0].len, 24);
	assert_int_equal(s.ev[1].kind, SCANLINE_CODE);
	assert_string_equal(s.ev[1].code, "GOOD");

	/* exactly max_len is fine */
	feed_str(&sl, "0123456789ABCDEF\r", &s);
	assert_int_equal(s.count, 3);
	assert_string_equal(s.ev[2].code, "0123456789ABCDEF");
}

/* Should reject NUL, control bytes, DEL and non-ASCII, and recover after each. */
static void test_binary(void **state)
{
	static const char *bad[] = {"AB\0CD\r", "AB\tCD\r", "AB\x7f\r", "\xd0\x9f\xd1\x80\r",
				    "\x1b[A\r"};
	static const size_t badlen[] = {6, 6, 4, 5, 4};
	struct seen s = {0};

	assert_int_equal(scanline_init(&sl, SCANLINE_EOL_ANY, 64), 0);
	for (size_t i = 0; i < 5; i++) {
		scanline_feed(&sl, bad[i], badlen[i], collect, &s);
		feed_str(&sl, "OK\n", &s);
		assert_int_equal(s.count, 2 * (i + 1));
		assert_int_equal(s.ev[2 * i].kind, SCANLINE_BINARY);
		assert_string_equal(s.ev[2 * i + 1].code, "OK");
	}
}

/* Should reject a 64 KiB line while holding no more than max_len of it. */
static void test_huge_line(void **state)
{
	size_t n = 64 * 1024;
	char *big = malloc(n);
	struct seen s = {0};

	assert_non_null(big);
	memset(big, 'A', n);
	assert_int_equal(scanline_init(&sl, SCANLINE_EOL_ANY, 512), 0);
	for (size_t off = 0; off < n; off += 1000)
		scanline_feed(&sl, big + off, n - off < 1000 ? n - off : 1000, collect, &s);
	feed_str(&sl, "\r\nNEXT\r\n", &s);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.ev[0].kind, SCANLINE_TOO_LONG);
	assert_int_equal(s.ev[0].len, n);
	assert_string_equal(s.ev[1].code, "NEXT");
	/* Bounded memory: the state is a fixed-size struct, nothing is allocated. */
	assert_true(sizeof(struct scanline) < SCANLINE_MAX_LEN + 128);
	free(big);
}

/* Should drop a partial line on reset and reject bad init arguments. */
static void test_reset_and_init(void **state)
{
	struct seen s = {0};

	assert_int_equal(scanline_init(&sl, SCANLINE_EOL_ANY, 0), -EINVAL);
	assert_int_equal(scanline_init(&sl, SCANLINE_EOL_ANY, SCANLINE_MAX_LEN + 1), -EINVAL);
	assert_int_equal(scanline_init(&sl, SCANLINE_EOL_ANY, 32), 0);
	feed_str(&sl, "PARTIAL", &s);
	scanline_reset(&sl);
	feed_str(&sl, "WHOLE\r", &s);
	assert_int_equal(s.count, 1);
	assert_string_equal(s.ev[0].code, "WHOLE");
	assert_string_equal(scanline_kind_name(SCANLINE_TOO_LONG), "too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cr),
	    cmocka_unit_test(test_lf),
	    cmocka_unit_test(test_any),
	    cmocka_unit_test(test_chunked),
	    cmocka_unit_test(test_too_long_chunks),
	    cmocka_unit_test(test_binary),
	    cmocka_unit_test(test_huge_line),
	    cmocka_unit_test(test_reset_and_init),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
