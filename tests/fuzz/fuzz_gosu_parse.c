/* fuzz_gosu_parse.c: libFuzzer target for the portal response parser.
 *
 * The input is a response body, judged as an HTTP 200 answer to a form A link
 * (v3 flat object or items[]) and to a form C link (v1 flat object), with a fixed
 * "today". Beyond "no crash, no leak, no UB" each result is checked against
 * what gosu_parse.h promises and the gate relies on:
 *   - every text field is NUL-terminated inside its array, valid UTF-8 without
 *     control characters; dates are "" or a real dd.MM.yyyy; cert_id is digits;
 *   - a verdict of valid only with all fields the attendant compares present
 *     (initials and birth date), a valid_until after today, and a body that is
 *     a JSON object without raw control bytes;
 *   - the same body with any other HTTP status is never valid;
 *   - parsing is deterministic.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gosu_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, size_t size)
{
	fprintf(stderr, "invariant broken: %s (input %zu bytes)\n", what, size);
	abort();
}

#define CHECK(cond, what)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail(what, size);                                                          \
	} while (0)

/* Strict UTF-8 without C0/C1 controls, DEL, U+2028/2029: what the attendant may see. */
static bool clean_text(const char *s, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, cap), i = 0;

	if (n == cap)
		return false; /* not terminated inside its array */
	while (i < n) {
		uint32_t cp, min;
		size_t need;

		if (p[i] < 0x80) {
			if (p[i] < 0x20 || p[i] == 0x7f)
				return false;
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			need = 1, cp = p[i] & 0x1fu, min = 0x80;
		else if ((p[i] & 0xf0) == 0xe0)
			need = 2, cp = p[i] & 0x0fu, min = 0x800;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			need = 3, cp = p[i] & 0x07u, min = 0x10000;
		else
			return false;
		if (i + need >= n)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
			return false;
		i += need + 1;
	}
	return true;
}

/* dd.MM.yyyy naming a real day from 1900 on; *key = yyyymmdd for comparisons. */
static bool real_date(const char *s, long *key)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int d, m, y, max;

	if (strlen(s) != 10 || s[2] != '.' || s[5] != '.')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 2 && i != 5 && (s[i] < '0' || s[i] > '9'))
			return false;
	d = atoi(s);
	m = atoi(s + 3);
	y = atoi(s + 6);
	if (y < 1900 || m < 1 || m > 12 || d < 1)
		return false;
	max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	*key = (long)y * 10000 + m * 100 + d;
	return d <= max;
}

static bool json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool digits_only(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		return false;
	return strspn(s, "0123456789") == n;
}

static void check(enum gosu_form form, const uint8_t *data, size_t size)
{
	/* 2026-12-03, local */
	const struct tm today = {.tm_year = 126, .tm_mon = 11, .tm_mday = 3};
	const long today_key = 20261203;
	const char *body = (const char *)data;
	struct gosu_result r, again;
	long key;
	size_t i;

	CHECK(gosu_parse(form, 200, body, size, &today, &r) == 0, "parse refused its arguments");
	CHECK(r.verdict >= GOSU_VALID && r.verdict <= GOSU_UNAVAILABLE, "verdict out of range");
	CHECK(r.reason[0] != '\0' && clean_text(r.reason, sizeof(r.reason)), "bad reason");
	CHECK(clean_text(r.title, sizeof(r.title)), "title not clean UTF-8");
	CHECK(clean_text(r.initials, sizeof(r.initials)), "initials not clean UTF-8");
	CHECK(clean_text(r.doc, sizeof(r.doc)), "doc not clean UTF-8");
	CHECK(clean_text(r.valid_until, sizeof(r.valid_until)), "valid_until not clean");
	CHECK(clean_text(r.birth_date, sizeof(r.birth_date)), "birth_date not clean");
	CHECK(!r.valid_until[0] || real_date(r.valid_until, &key), "valid_until not a date");
	CHECK(!r.birth_date[0] || real_date(r.birth_date, &key), "birth_date not a date");
	CHECK(digits_only(r.cert_id, sizeof(r.cert_id)), "cert_id not digits");

	if (r.verdict == GOSU_VALID) {
		CHECK(r.initials[0] != '\0', "valid without initials");
		CHECK(r.birth_date[0] != '\0', "valid without a birth date");
		CHECK(strchr(r.initials, '.') != NULL, "initials without a dot");
		CHECK(!r.valid_until[0] || (real_date(r.valid_until, &key) && key > today_key),
		      "valid on or after its expiredAt day");
		for (i = 0; i < size; i++)
			CHECK((unsigned char)body[i] >= 0x20 || json_space(body[i]),
			      "valid from a body with a raw control byte");
		for (i = 0; i < size && json_space(body[i]); i++)
			;
		CHECK(i < size && body[i] == '{', "valid from a body that is not an object");
	}

	CHECK(gosu_parse(form, 200, body, size, &today, &again) == 0 &&
		  memcmp(&r, &again, sizeof(r)) == 0,
	      "parse is not deterministic");
	CHECK(gosu_parse(form, 500, body, size, &today, &again) == 0 &&
		  again.verdict == GOSU_UNAVAILABLE,
	      "HTTP 500 not unavailable");
	CHECK(gosu_parse(form, 302, body, size, &today, &again) == 0 &&
		  again.verdict != GOSU_VALID,
	      "HTTP 302 valid");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(GOSU_FORM_STATUS_UUID, data, size);
	check(GOSU_FORM_VACCINE_UUID, data, size);
	return 0;
}
