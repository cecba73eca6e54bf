/* test_gosu_parse.c: the portal's answers -> verdicts and the attendant's fields (spec 4-6).
 *
 * The spec's section 8 examples verbatim, every "not found" form, outages and
 * HTTP errors, garbage, the status rules of every certificate type, the
 * expiredAt day, missing and wrongly typed fields, the passport fallback, and
 * initials taken by code point from 1..4 masked words.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gosu_parse.h"

/* ---- spec section 8, verbatim ---- */

static const char spec_valid_vaccine[] =
    "{\"items\": [{\"type\": \"VACCINE_CERT\", \"unrz\": \"000000000000001\",\n"
    "  \"unrzFull\": \"9000000000000001\",\n"
    "  \"attrs\": [\n"
    "    {\"type\": \"fio\", \"title\": \"ФИО\", \"entitle\": \"Full name\",\n"
    "     \"value\": \"И***** П*** С********\", \"envalue\": \"I***** P*** S*********\", "
    "\"order\": 1},\n"
    "    {\"type\": \"birthDate\", \"title\": \"Дата рождения\", \"entitle\": \"Date of "
    "birth\",\n"
    "     \"value\": \"01.02.1980\", \"envalue\": \"01.02.1980\", \"order\": 2},\n"
    "    {\"type\": \"passport\", \"title\": \"Паспорт\", \"entitle\": \"National "
    "passport\",\n"
    "     \"value\": \"45** ***678\", \"envalue\": \"45** ***678\", \"order\": 3}],\n"
    "  \"title\": \"Сертификат вакцинации от COVID-19\",\n"
    "  \"entitle\": \"COVID-19 vaccination certificate\",\n"
    "  \"qr\": \"iVBORw0KGgo...\", \"status\": \"1\", \"order\": 0,\n"
    "  \"expiredAt\": \"31.12.2099\", \"serviceUnavailable\": false}],\n"
    " \"hasNext\": false}\n";

static const char spec_valid_new_form[] =
    "{\"certId\": \"1000000000000001\", \"title\": \"Сертификат COVID-19\",\n"
    " \"entitle\": \"COVID-19 certificate\", \"validFrom\": \"01.01.2022\",\n"
    " \"expiredAt\": \"31.12.2099\", \"isExpired\": false, \"isBeforeValidFrom\": false,\n"
    " \"isCertFound\": true, \"serviceUnavailable\": false,\n"
    " \"attrs\": [\n"
    "   {\"type\": \"fio\", \"title\": \"ФИО\", \"entitle\": \"Full name\",\n"
    "    \"value\": \"И***** П*** С********\", \"envalue\": \"I***** P*** S*********\", "
    "\"order\": 1},\n"
    "   {\"type\": \"birthDate\", \"title\": \"Дата рождения\", \"entitle\": \"Date of "
    "birth\",\n"
    "    \"value\": \"01.02.1980\", \"envalue\": \"01.02.1980\", \"order\": 2},\n"
    "   {\"type\": \"passport\", \"title\": \"Паспорт\", \"entitle\": \"National passport\",\n"
    "    \"value\": \"45** ***678\", \"envalue\": \"45** ***678\", \"order\": 3}]}\n";

static const char spec_expired_recovery[] =
    "{\"items\": [{\"type\": \"ILLNESS_FACT\", \"unrz\": \"000000000000002\",\n"
    "  \"unrzFull\": \"8000000000000002\",\n"
    "  \"attrs\": [\n"
    "    {\"type\": \"date\", \"title\": \"Дата выздоровления\", \"entitle\": \"Recovery "
    "date\",\n"
    "     \"value\": \"01.06.2021\", \"envalue\": \"01.06.2021\", \"order\": 1},\n"
    "    {\"type\": \"date\", \"title\": \"Действует до\", \"entitle\": \"Valid until\",\n"
    "     \"value\": \"01.12.2021\", \"envalue\": \"01.12.2021\", \"order\": 2},\n"
    "    {\"type\": \"fio\", \"title\": \"ФИО\", \"entitle\": \"Full name\",\n"
    "     \"value\": \"И***** П*** С********\", \"envalue\": \"I***** P***\", \"order\": 3},\n"
    "    {\"type\": \"passport\", \"title\": \"Паспорт\", \"entitle\": \"National "
    "passport\",\n"
    "     \"value\": \"45** ***678\", \"envalue\": \"45** ***678\", \"order\": 4},\n"
    "    {\"type\": \"birthDate\", \"title\": \"Дата рождения\", \"entitle\": \"Date of "
    "birth\",\n"
    "     \"value\": \"01.02.1980\", \"envalue\": \"01.02.1980\", \"order\": 6}],\n"
    "  \"title\": \"Сведения о перенесенном заболевании COVID-19\",\n"
    "  \"entitle\": \"Previous disease COVID-19\", \"qr\": \"\", \"status\": \"3\",\n"
    "  \"order\": 0, \"expiredAt\": \"01.12.2021\", \"serviceUnavailable\": false}],\n"
    " \"hasNext\": false}\n";

static const char spec_nf_item[] = "{\"items\": [{\"type\": \"VACCINE_CERT\", \"status\":\n"
				   "\"404\", \"attrs\": [], \"order\": 0, \"serviceUnavailable\": "
				   "false}], \"hasNext\": false}";
static const char spec_nf_empty[] = "{\"items\": [], \"hasNext\": false}";
static const char spec_nf_flag[] = "{\"isCertFound\": false, \"attrs\": []}";
static const char spec_nf_object[] = "{}";
static const char spec_outage[] =
    "{\"isCertFound\": false, \"serviceUnavailable\": true, \"attrs\":\n[]}";

/* ---- helpers ---- */

#define FIO "{\"type\":\"fio\",\"value\":\"И***** П*** С********\"}"
#define BIRTH "{\"type\":\"birthDate\",\"value\":\"01.02.1980\"}"
#define PASSPORT "{\"type\":\"passport\",\"value\":\"45** ***678\"}"
#define ENPASSPORT "{\"type\":\"enPassport\",\"value\":\"6* ****597\"}"
#define ALL_ATTRS FIO "," BIRTH "," PASSPORT

static const char *verdict_str(enum gosu_verdict v)
{
	return gosu_verdict_name(v);
}

static struct tm day(int y, int m, int d)
{
	struct tm t;

	memset(&t, 0, sizeof(t));
	t.tm_year = y - 1900;
	t.tm_mon = m - 1;
	t.tm_mday = d;
	return t;
}

/* Parses with "today" = 15.01.2022 unless told otherwise. */
static struct gosu_result parse_at(enum gosu_form form, long status, const char *body, size_t len,
				   struct tm today)
{
	struct gosu_result r;

	assert_int_equal(gosu_parse(form, status, body, len, &today, &r), 0);
	return r;
}

static struct gosu_result parse(enum gosu_form form, const char *body)
{
	return parse_at(form, 200, body, strlen(body), day(2022, 1, 15));
}

/* Checks verdict and (when given) reason; prints the body and both values. */
static void expect_v(const struct gosu_result *r, const char *body, enum gosu_verdict want,
		     const char *want_reason)
{
	if (r->verdict != want || (want_reason && strcmp(r->reason, want_reason) != 0)) {
		print_error("body %.200s\n  expected %s \"%s\", got %s \"%s\"\n", body ? body : "",
			    verdict_str(want), want_reason ? want_reason : "*",
			    verdict_str(r->verdict), r->reason);
		fail();
	}
}

/* One items[] answer: extra members first, so that they win over the defaults
 * (cJSON returns the first of duplicate keys). */
static char *item_body(const char *type, const char *status, const char *extra, const char *attrs)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf),
		 "{\"items\":[{%s\"type\":\"%s\",\"status\":\"%s\",\"attrs\":[%s],"
		 "\"title\":\"Сертификат\",\"unrzFull\":\"9000000000000001\","
		 "\"expiredAt\":\"31.12.2099\",\"serviceUnavailable\":false}],\"hasNext\":false}",
		 extra, type, status, attrs);
	return buf;
}

static void expect_item(const char *type, const char *status, const char *extra,
			enum gosu_verdict want, const char *want_reason)
{
	const char *body = item_body(type, status, extra, ALL_ATTRS);
	struct gosu_result r = parse(GOSU_FORM_VERIFY_UNRZ, body);

	expect_v(&r, body, want, want_reason);
}

/* ---- section 8 ---- */

static void spec_valid_vaccination_certificate_is_valid_with_the_memo_fields(void **state)
{
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_VERIFY_UNRZ, spec_valid_vaccine);
	expect_v(&r, spec_valid_vaccine, GOSU_VALID, "valid");
	assert_string_equal(r.initials, "И. П. С.");
	assert_string_equal(r.birth_date, "01.02.1980");
	assert_string_equal(r.doc, "45** ***678");
	assert_string_equal(r.title, "Сертификат вакцинации от COVID-19");
	assert_string_equal(r.valid_until, "31.12.2099");
	assert_string_equal(r.cert_id, "9000000000000001");
}

static void spec_valid_new_form_certificate_is_valid_with_the_memo_fields(void **state)
{
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_STATUS_UUID, spec_valid_new_form);
	expect_v(&r, spec_valid_new_form, GOSU_VALID, "valid");
	assert_string_equal(r.initials, "И. П. С.");
	assert_string_equal(r.birth_date, "01.02.1980");
	assert_string_equal(r.doc, "45** ***678");
	assert_string_equal(r.title, "Сертификат COVID-19");
	assert_string_equal(r.valid_until, "31.12.2099");
	assert_string_equal(r.cert_id, "1000000000000001");
}

static void spec_expired_recovery_is_expired_and_attrs_are_found_by_type(void **state)
{
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_VERIFY_UNRZ, spec_expired_recovery);
	expect_v(&r, spec_expired_recovery, GOSU_EXPIRED, "expired 01.12.2021");
	assert_string_equal(r.initials, "И. П. С.");
	assert_string_equal(r.birth_date, "01.02.1980");
	assert_string_equal(r.doc, "45** ***678");
	assert_string_equal(r.valid_until, "01.12.2021");
	assert_string_equal(r.title, "Сведения о перенесенном заболевании COVID-19");
	assert_string_equal(r.cert_id, "8000000000000002");
}

static void every_not_found_form_is_not_found_for_every_url_form(void **state)
{
	static const char *const bodies[] = {
	    spec_nf_item,   spec_nf_empty,	    spec_nf_flag,
	    spec_nf_object, "{\"hasNext\": false}", "{\"items\": null}",
	    " {} \n",	    "\xef\xbb\xbf{}" /* cJSON skips a BOM */};
	enum gosu_form f;
	size_t i;

	(void)state;
	for (f = GOSU_FORM_STATUS_UUID; f <= GOSU_FORM_VACCINE_UNRZ; f++) {
		for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
			struct gosu_result r = parse(f, bodies[i]);

			expect_v(&r, bodies[i], GOSU_NOT_FOUND, "certificate not found");
		}
	}
}

static void http_400_and_404_are_not_found(void **state)
{
	struct gosu_result r;

	(void)state;
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 400, "", 0, day(2022, 1, 15));
	expect_v(&r, "(HTTP 400)", GOSU_NOT_FOUND, "certificate not found (HTTP 400)");
	/* the body of an error answer is never believed */
	r = parse_at(GOSU_FORM_STATUS_UUID, 404, spec_valid_new_form, strlen(spec_valid_new_form),
		     day(2022, 1, 15));
	expect_v(&r, "(HTTP 404)", GOSU_NOT_FOUND, "certificate not found (HTTP 404)");
	assert_string_equal(r.initials, "");
}

static void spec_outage_is_unavailable(void **state)
{
	struct gosu_result r;
	const char *item =
	    item_body("VACCINE_CERT", "1", "\"serviceUnavailable\":true,", ALL_ATTRS);

	(void)state;
	r = parse(GOSU_FORM_STATUS_UUID, spec_outage);
	expect_v(&r, spec_outage, GOSU_UNAVAILABLE, "portal reports service unavailable");
	/* serviceUnavailable is never valid, even next to status "1" */
	r = parse(GOSU_FORM_VERIFY_UNRZ, item);
	expect_v(&r, item, GOSU_UNAVAILABLE, "portal reports service unavailable");
	r = parse(GOSU_FORM_VERIFY_UNRZ, "{\"serviceUnavailable\":true,\"items\":[]}");
	expect_v(&r, "top-level flag", GOSU_UNAVAILABLE, "portal reports service unavailable");
}

static void http_403_429_5xx_and_other_statuses_are_unavailable(void **state)
{
	static const long codes[] = {403, 429, 500, 502, 503, 504, 599, 201,
				     204, 301, 302, 401, 418, 0,   -1};
	char want[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct gosu_result r = parse_at(GOSU_FORM_VERIFY_UNRZ, codes[i], spec_valid_vaccine,
						strlen(spec_valid_vaccine), day(2022, 1, 15));

		snprintf(want, sizeof(want), "portal answered %ld", codes[i]);
		expect_v(&r, want, GOSU_UNAVAILABLE, want);
	}
}

static void garbage_and_non_objects_are_malformed(void **state)
{
	static const char *const bodies[] = {
	    "not json",
	    "<html><body>503</body></html>",
	    "[]",
	    "[{}]",
	    "\"{}\"",
	    "null",
	    "42",
	    "true",
	    "{",
	    "{\"items\": [",
	    "{}x",
	    "{}{}",
	    "{} []",
	    "{\"a\":1,}",
	    "{\"items\": {}}",
	    "{\"items\": [1]}",
	    "{\"items\": [\"x\"]}",
	    "{\"items\": true}",
	};
	struct gosu_result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		r = parse(GOSU_FORM_VERIFY_UNRZ, bodies[i]);
		expect_v(&r, bodies[i], GOSU_UNAVAILABLE, "malformed answer");
	}
	/* a valid answer cut short */
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 200, spec_valid_vaccine, strlen(spec_valid_vaccine) / 2,
		     day(2022, 1, 15));
	expect_v(&r, "truncated", GOSU_UNAVAILABLE, "malformed answer");
	/* an empty body, and a NUL byte hiding trailing data */
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 200, "", 0, day(2022, 1, 15));
	expect_v(&r, "(empty)", GOSU_UNAVAILABLE, "malformed answer");
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 200, "{}\0{\"x\":1}", 10, day(2022, 1, 15));
	expect_v(&r, "{}\\0...", GOSU_UNAVAILABLE, "malformed answer");
}

/* Found by fuzz_gosu_parse: cJSON skips every byte up to 0x20 as whitespace and
 * takes raw control bytes inside strings, so "\f{...}" was judged valid. JSON
 * allows only space, tab, CR and LF between tokens and no raw control bytes. */
static void control_bytes_other_than_json_whitespace_are_malformed(void **state)
{
	static const char *const wraps[][2] = {
	    {"\f", ""}, {"\x01", ""}, {"\x1f", ""}, {"", "\f"}, {"\n\f\n", "\r\n"},
	};
	char body[4096];
	struct gosu_result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(wraps) / sizeof(wraps[0]); i++) {
		snprintf(body, sizeof(body), "%s%s%s", wraps[i][0], spec_valid_new_form,
			 wraps[i][1]);
		r = parse(GOSU_FORM_STATUS_UUID, body);
		expect_v(&r, body, GOSU_UNAVAILABLE, "malformed answer");
	}
	/* between tokens, and raw inside a string */
	snprintf(body, sizeof(body), "{\v%s", spec_valid_new_form + 1);
	r = parse(GOSU_FORM_STATUS_UUID, body);
	expect_v(&r, body, GOSU_UNAVAILABLE, "malformed answer");
	snprintf(body, sizeof(body), "{\"title\":\"a\x02z\",%s", spec_valid_new_form + 1);
	r = parse(GOSU_FORM_STATUS_UUID, body);
	expect_v(&r, body, GOSU_UNAVAILABLE, "malformed answer");
	/* JSON whitespace around and inside stays fine */
	snprintf(body, sizeof(body), " \t\r\n%s \t\r\n", spec_valid_new_form);
	r = parse(GOSU_FORM_STATUS_UUID, body);
	expect_v(&r, body, GOSU_VALID, "valid");
}

static void deep_nesting_is_malformed_not_a_crash(void **state)
{
	size_t depth = 100000, i, n = 0;
	char *body = malloc(2 * depth + 16);
	struct gosu_result r;

	(void)state;
	assert_non_null(body);
	n += (size_t)sprintf(body, "{\"a\":");
	for (i = 0; i < depth; i++)
		body[n++] = '[';
	for (i = 0; i < depth; i++)
		body[n++] = ']';
	body[n++] = '}';
	r = parse_at(GOSU_FORM_STATUS_UUID, 200, body, n, day(2022, 1, 15));
	expect_v(&r, "(deep nesting)", GOSU_UNAVAILABLE, "malformed answer");
	free(body);
}

static void body_over_256_kib_is_refused(void **state)
{
	size_t n = GOSU_BODY_MAX + 1;
	char *body = malloc(n);
	struct gosu_result r;

	(void)state;
	assert_non_null(body);
	memset(body, ' ', n);
	memcpy(body, spec_valid_vaccine, strlen(spec_valid_vaccine));
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 200, body, n, day(2022, 1, 15));
	expect_v(&r, "(big)", GOSU_UNAVAILABLE, "answer too large");
	/* at exactly the cap, trailing whitespace is fine */
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 200, body, n - 1, day(2022, 1, 15));
	expect_v(&r, "(at cap)", GOSU_VALID, "valid");
	free(body);
}

/* ---- status rules, spec section 5 ---- */

static void vaccine_cert_is_valid_only_with_status_1(void **state)
{
	(void)state;
	expect_item("VACCINE_CERT", "1", "", GOSU_VALID, "valid");
	expect_item("VACCINE_CERT", "404", "", GOSU_NOT_FOUND, "certificate not found");
	expect_item("VACCINE_CERT", "0", "", GOSU_INVALID, "certificate not valid");
	expect_item("VACCINE_CERT", "2", "", GOSU_INVALID, "certificate not valid");
	expect_item("VACCINE_CERT", "3", "", GOSU_INVALID, "certificate not valid");
	expect_item("VACCINE_CERT", "", "", GOSU_INVALID, "certificate not valid");
	expect_item("VACCINE_CERT", "01", "", GOSU_INVALID, "certificate not valid");
}

static void illness_fact_status_3_is_expired(void **state)
{
	(void)state;
	expect_item("ILLNESS_FACT", "1", "", GOSU_VALID, "valid");
	expect_item("ILLNESS_FACT", "3", "", GOSU_EXPIRED, "expired 31.12.2099");
	expect_item("ILLNESS_FACT", "404", "", GOSU_NOT_FOUND, "certificate not found");
	expect_item("ILLNESS_FACT", "0", "", GOSU_INVALID, "certificate not valid");
	expect_item("ILLNESS_FACT", "3", "\"expiredAt\":\"\",", GOSU_EXPIRED, "expired");
}

static void temporary_cert_ok_cancelled_expired_and_before_valid_from(void **state)
{
	(void)state;
	expect_item("TEMPORARY_CERT", "OK", "", GOSU_VALID, "valid");
	expect_item("TEMPORARY_CERT", "OK", "\"isBeforeValidFrom\":false,", GOSU_VALID, "valid");
	expect_item("TEMPORARY_CERT", "OK", "\"isBeforeValidFrom\":true,", GOSU_INVALID,
		    "not yet valid");
	expect_item("TEMPORARY_CERT", "OK", "\"validFrom\":\"16.01.2022\",", GOSU_INVALID,
		    "not yet valid");
	expect_item("TEMPORARY_CERT", "OK", "\"validFrom\":\"15.01.2022\",", GOSU_VALID, "valid");
	expect_item("TEMPORARY_CERT", "CANCELED", "", GOSU_CANCELLED, "certificate cancelled");
	expect_item("TEMPORARY_CERT", "CANCELLED", "", GOSU_CANCELLED, "certificate cancelled");
	expect_item("TEMPORARY_CERT", "Canceled", "", GOSU_CANCELLED, "certificate cancelled");
	expect_item("TEMPORARY_CERT", "EXPIRED", "", GOSU_EXPIRED, "expired 31.12.2099");
	expect_item("TEMPORARY_CERT", "404", "", GOSU_NOT_FOUND, "certificate not found");
	expect_item("TEMPORARY_CERT", "ok", "", GOSU_INVALID, "certificate not valid");
	expect_item("TEMPORARY_CERT", "1", "", GOSU_INVALID, "certificate not valid");
}

static void covid_test_negative_any_case_is_valid_positive_is_not(void **state)
{
	(void)state;
	expect_item("COVID_TEST", "Отрицательный", "", GOSU_VALID, "valid");
	expect_item("COVID_TEST", "отрицательный", "", GOSU_VALID, "valid");
	expect_item("COVID_TEST", "ОТРИЦАТЕЛЬНЫЙ", "", GOSU_VALID, "valid");
	expect_item("COVID_TEST", "оТрИцАтЕлЬнЫй", "", GOSU_VALID, "valid");
	expect_item("COVID_TEST", "Положительный", "", GOSU_INVALID, "positive test result");
	expect_item("COVID_TEST", "положительный", "", GOSU_INVALID, "positive test result");
	expect_item("COVID_TEST", "ПОЛОЖИТЕЛЬНЫЙ", "", GOSU_INVALID, "positive test result");
	expect_item("COVID_TEST", "3", "", GOSU_EXPIRED, "expired 31.12.2099");
	expect_item("COVID_TEST", "Отрицательный", "\"expired\":\"1\",", GOSU_EXPIRED,
		    "expired 31.12.2099");
	expect_item("COVID_TEST", "Отрицательный", "\"expired\":true,", GOSU_EXPIRED,
		    "expired 31.12.2099");
	expect_item("COVID_TEST", "Отрицательный", "\"expired\":\"0\",", GOSU_VALID, "valid");
	expect_item("COVID_TEST", "404", "", GOSU_NOT_FOUND, "certificate not found");
	expect_item("COVID_TEST", "Отрицательный ", "", GOSU_INVALID, "certificate not valid");
	expect_item("COVID_TEST", "Отрицательны", "", GOSU_INVALID, "certificate not valid");
	expect_item("COVID_TEST", "Negative", "", GOSU_INVALID, "certificate not valid");
	expect_item("COVID_TEST", "\xd0\x9e\xd1", "", GOSU_INVALID, "certificate not valid");
}

static void unknown_or_missing_type_is_never_valid(void **state)
{
	const char *body = "{\"items\":[{\"status\":\"1\",\"attrs\":[" ALL_ATTRS "]}]}";
	struct gosu_result r;

	(void)state;
	expect_item("PASSPORT", "1", "", GOSU_NOT_FOUND, "unknown certificate type");
	expect_item("vaccine_cert", "1", "", GOSU_NOT_FOUND, "unknown certificate type");
	r = parse(GOSU_FORM_VERIFY_UNRZ, body);
	expect_v(&r, body, GOSU_NOT_FOUND, "unknown certificate type");
}

static void only_the_first_item_is_judged(void **state)
{
	const char *body =
	    "{\"items\":[{\"type\":\"VACCINE_CERT\",\"status\":\"0\",\"attrs\":[" ALL_ATTRS
	    "]},{\"type\":\"VACCINE_CERT\",\"status\":\"1\",\"attrs\":[" ALL_ATTRS "]}]}";
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_VERIFY_UNRZ, body);
	expect_v(&r, body, GOSU_INVALID, "certificate not valid");
}

/* ---- dates ---- */

static void expired_at_day_itself_is_expired_and_the_day_before_is_valid(void **state)
{
	const char *body =
	    item_body("VACCINE_CERT", "1", "\"expiredAt\":\"15.01.2022\",", ALL_ATTRS);
	struct gosu_result r;

	(void)state;
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 200, body, strlen(body), day(2022, 1, 15));
	expect_v(&r, body, GOSU_EXPIRED, "expired 15.01.2022");
	assert_string_equal(r.initials, "И. П. С.");
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 200, body, strlen(body), day(2022, 1, 14));
	expect_v(&r, body, GOSU_VALID, "valid");
	assert_string_equal(r.valid_until, "15.01.2022");
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 200, body, strlen(body), day(2023, 1, 1));
	expect_v(&r, body, GOSU_EXPIRED, "expired 15.01.2022");
	/* month and year boundaries */
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 200, body, strlen(body), day(2021, 12, 31));
	expect_v(&r, body, GOSU_VALID, "valid");
	r = parse_at(GOSU_FORM_VERIFY_UNRZ, 200, body, strlen(body), day(2022, 2, 1));
	expect_v(&r, body, GOSU_EXPIRED, "expired 15.01.2022");
}

static void flat_answer_past_its_expiry_or_flagged_is_expired(void **state)
{
	const char *past = "{\"certId\":\"1\",\"expiredAt\":\"14.01.2022\",\"isExpired\":false,"
			   "\"attrs\":[" ALL_ATTRS "]}";
	const char *flag = "{\"certId\":\"1\",\"expiredAt\":\"31.12.2099\",\"isExpired\":true,"
			   "\"attrs\":[" ALL_ATTRS "]}";
	const char *before =
	    "{\"certId\":\"1\",\"isBeforeValidFrom\":true,\"attrs\":[" ALL_ATTRS "]}";
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_STATUS_UUID, past);
	expect_v(&r, past, GOSU_EXPIRED, "expired 14.01.2022");
	r = parse(GOSU_FORM_STATUS_UUID, flag);
	expect_v(&r, flag, GOSU_EXPIRED, "expired 31.12.2099");
	r = parse(GOSU_FORM_STATUS_UUID, before);
	expect_v(&r, before, GOSU_INVALID, "not yet valid");
}

static void impossible_or_misformatted_dates_are_malformed(void **state)
{
	static const char *const dates[] = {
	    "31.02.2099", "29.02.2023", "32.01.2099", "00.01.2099",  "01.13.2099", "01.00.2099",
	    "2099-12-31", "1.1.2099",	"31.12.99",   "31.12.2099 ", "31/12/2099", "01.01.1899"};
	char extra[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		snprintf(extra, sizeof(extra), "\"expiredAt\":\"%s\",", dates[i]);
		expect_item("VACCINE_CERT", "1", extra, GOSU_UNAVAILABLE, "malformed answer");
	}
	expect_item("VACCINE_CERT", "1", "\"expiredAt\":\"29.02.2024\",", GOSU_VALID, "valid");
	expect_item("VACCINE_CERT", "1", "\"expiredAt\":20991231,", GOSU_UNAVAILABLE,
		    "malformed answer");
	expect_item("TEMPORARY_CERT", "OK", "\"validFrom\":\"2022-01-01\",", GOSU_UNAVAILABLE,
		    "malformed answer");
}

/* ---- required fields and wrong types ---- */

static void valid_status_without_fio_or_birth_date_is_incomplete(void **state)
{
	static const char *const attrs[] = {
	    BIRTH "," PASSPORT,
	    FIO "," PASSPORT,
	    PASSPORT,
	    "",
	    "{\"type\":\"fio\",\"value\":\"\"}," BIRTH,
	    "{\"type\":\"fio\",\"value\":5}," BIRTH,
	    "{\"type\":\"fio\"}," BIRTH,
	    FIO ",{\"type\":\"birthDate\",\"value\":\"1980-02-01\"}",
	    FIO ",{\"type\":\"birthdate\",\"value\":\"01.02.1980\"}",
	};
	const char *nokey = "{\"items\":[{\"type\":\"VACCINE_CERT\",\"status\":\"1\"}]}";
	struct gosu_result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		const char *body = item_body("VACCINE_CERT", "1", "", attrs[i]);

		r = parse(GOSU_FORM_VERIFY_UNRZ, body);
		expect_v(&r, body, GOSU_INVALID, "incomplete certificate data");
	}
	r = parse(GOSU_FORM_VERIFY_UNRZ, nokey);
	expect_v(&r, nokey, GOSU_INVALID, "incomplete certificate data");
	r = parse(GOSU_FORM_STATUS_UUID, "{\"isCertFound\":true,\"attrs\":[]}");
	expect_v(&r, "found, no attrs", GOSU_INVALID, "incomplete certificate data");
}

static void odd_attr_entries_are_skipped_and_lookup_is_by_type(void **state)
{
	const char *body = item_body("VACCINE_CERT", "1", "",
				     "1,\"x\",null,[]," PASSPORT ",{\"type\":5,\"value\":\"x\"},"
				     "{\"type\":\"date\",\"value\":\"01.01.2022\"}," BIRTH "," FIO);
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_VERIFY_UNRZ, body);
	expect_v(&r, body, GOSU_VALID, "valid");
	assert_string_equal(r.initials, "И. П. С.");
	assert_string_equal(r.birth_date, "01.02.1980");
	assert_string_equal(r.doc, "45** ***678");
}

static void known_fields_of_the_wrong_type_make_the_answer_malformed(void **state)
{
	static const char *const extras[] = {
	    "\"serviceUnavailable\":\"maybe\",",
	    "\"isExpired\":\"no\",",
	    "\"expired\":2,",
	    "\"isBeforeValidFrom\":[],",
	    "\"title\":5,",
	    "\"unrzFull\":9000000000000001,",
	    "\"attrs\":{},",
	    "\"isCertFound\":{},",
	};
	const char *status_num =
	    "{\"items\":[{\"type\":\"VACCINE_CERT\",\"status\":1,\"attrs\":[" ALL_ATTRS "]}]}";
	const char *type_num =
	    "{\"items\":[{\"type\":1,\"status\":\"1\",\"attrs\":[" ALL_ATTRS "]}]}";
	const char *no_status =
	    "{\"items\":[{\"type\":\"VACCINE_CERT\",\"attrs\":[" ALL_ATTRS "]}]}";
	const char *cert_num = "{\"certId\":1000000000000001,\"attrs\":[" ALL_ATTRS "]}";
	struct gosu_result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(extras) / sizeof(extras[0]); i++)
		expect_item("VACCINE_CERT", "1", extras[i], GOSU_UNAVAILABLE, "malformed answer");
	r = parse(GOSU_FORM_VERIFY_UNRZ, status_num);
	expect_v(&r, status_num, GOSU_UNAVAILABLE, "malformed answer");
	r = parse(GOSU_FORM_VERIFY_UNRZ, type_num);
	expect_v(&r, type_num, GOSU_UNAVAILABLE, "malformed answer");
	r = parse(GOSU_FORM_VERIFY_UNRZ, no_status);
	expect_v(&r, no_status, GOSU_UNAVAILABLE, "malformed answer");
	r = parse(GOSU_FORM_STATUS_UUID, cert_num);
	expect_v(&r, cert_num, GOSU_UNAVAILABLE, "malformed answer");
	/* flags may be booleans, 0/1 or "0"/"1" */
	expect_item("VACCINE_CERT", "1", "\"serviceUnavailable\":0,", GOSU_VALID, "valid");
	expect_item("VACCINE_CERT", "1", "\"serviceUnavailable\":\"false\",", GOSU_VALID, "valid");
	expect_item("VACCINE_CERT", "1", "\"serviceUnavailable\":null,", GOSU_VALID, "valid");
	expect_item("VACCINE_CERT", "1", "\"serviceUnavailable\":1,", GOSU_UNAVAILABLE,
		    "portal reports service unavailable");
}

/* ---- display fields ---- */

static void en_passport_is_shown_only_when_passport_is_absent(void **state)
{
	const char *body;
	struct gosu_result r;

	(void)state;
	body = item_body("VACCINE_CERT", "1", "", FIO "," BIRTH "," ENPASSPORT);
	r = parse(GOSU_FORM_VERIFY_UNRZ, body);
	expect_v(&r, body, GOSU_VALID, "valid");
	assert_string_equal(r.doc, "6* ****597");

	body = item_body("VACCINE_CERT", "1", "", ENPASSPORT "," FIO "," BIRTH "," PASSPORT);
	r = parse(GOSU_FORM_VERIFY_UNRZ, body);
	assert_string_equal(r.doc, "45** ***678");

	/* a passport attr whose value is unreadable still hides enPassport */
	body = item_body("VACCINE_CERT", "1", "",
			 ENPASSPORT "," FIO "," BIRTH ",{\"type\":\"passport\",\"value\":7}");
	r = parse(GOSU_FORM_VERIFY_UNRZ, body);
	expect_v(&r, body, GOSU_VALID, "valid");
	assert_string_equal(r.doc, "");
}

struct initials_case {
	const char *fio;
	const char *want; /* "" = unusable, hence incomplete */
};

static void initials_come_from_one_to_four_masked_words_by_code_point(void **state)
{
	static const struct initials_case cases[] = {
	    {"И*****", "И."},
	    {"И***** П***", "И. П."},
	    {"И***** П*** С********", "И. П. С."},
	    {"А**** Б**** В***** Г****", "А. Б. В. Г."},
	    {"А**** Б**** В***** Г**** Д***", ""},
	    {"Ё**** Ж*** Щ*******", "Ё. Ж. Щ."},
	    {"ё**** ж***", "ё. ж."},
	    {"Р*******-К****** А*** Б***", "Р.-К. А. Б."},
	    {"Р*******-к****** А***", "Р.-к. А."},
	    {"С*******-Ё**** И***", "С.-Ё. И."},
	    {"Ё*****-Ж**** Ё***", "Ё.-Ж. Ё."},
	    {"Р*******- А***", "Р. А."},
	    {"  И*****   П***  ", "И. П."},
	    {"I***** P*** S*********", "I. P. S."},
	    {"É**** Ł***", "É. Ł."},
	    {"Ω***", "Ω."},
	    {"", ""},
	    {"   ", ""},
	    {"***** П***", ""},
	    {"1**** П***", ""},
	    {"-**** П***", ""},
	    {"\xf0\x9d\x90\x80*** П***", ""}, /* U+1D400, not in our letter ranges */
	    {"\xd0 П***", ""},		      /* truncated sequence */
	    {"\xc0\xb0*** П***", ""},	      /* overlong */
	    {"\xed\xa0\x80*** П***", ""},     /* surrogate */
	    {"И*****\tП***", ""},	      /* control character */
	    {"И*****\xc2\xa0П***", "И. П."},  /* NBSP separates words too */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char attrs[512];
		const char *body;
		struct gosu_result r;

		snprintf(attrs, sizeof(attrs), "{\"type\":\"fio\",\"value\":\"%s\"}," BIRTH,
			 cases[i].fio);
		/* JSON needs \t escaped */
		if (strchr(cases[i].fio, '\t'))
			snprintf(attrs, sizeof(attrs),
				 "{\"type\":\"fio\",\"value\":\"И*****\\tП***\"}," BIRTH);
		body = item_body("VACCINE_CERT", "1", "", attrs);
		r = parse(GOSU_FORM_VERIFY_UNRZ, body);
		if (strcmp(r.initials, cases[i].want) != 0) {
			print_error("fio \"%s\": expected initials \"%s\", got \"%s\"\n",
				    cases[i].fio, cases[i].want, r.initials);
			fail();
		}
		expect_v(&r, body, cases[i].want[0] ? GOSU_VALID : GOSU_INVALID, NULL);
	}
}

static void multi_byte_first_letter_is_copied_whole(void **state)
{
	const char *body =
	    item_body("VACCINE_CERT", "1", "", "{\"type\":\"fio\",\"value\":\"Ж** Ё***\"}," BIRTH);
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_VERIFY_UNRZ, body);
	/* Ж = D0 96, Ё = D0 81: both bytes of each, a dot, a space between */
	assert_memory_equal(r.initials, "\xd0\x96. \xd0\x81.", 7);
	assert_int_equal(strlen(r.initials), 7);
}

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		if (*p < 0x80)
			p++;
		else if ((*p & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80)
			p += 2;
		else if ((*p & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80)
			p += 3;
		else
			return false;
	}
	return true;
}

static void long_fields_are_truncated_at_code_point_boundaries(void **state)
{
	char extra[1024], attrs[1024], t[400], d[200];
	const char *body;
	struct gosu_result r;
	size_t i;

	(void)state;
	for (i = 0; i < 150; i++)
		memcpy(t + 2 * i, "Ж", 2);
	t[300] = '\0';
	for (i = 0; i < 40; i++)
		memcpy(d + 2 * i, "Щ", 2);
	d[80] = '\0';
	snprintf(extra, sizeof(extra),
		 "\"title\":\"%s\",\"unrzFull\":\"123456789012345678901234\",", t);
	snprintf(attrs, sizeof(attrs), FIO "," BIRTH ",{\"type\":\"passport\",\"value\":\"%s\"}",
		 d);
	body = item_body("VACCINE_CERT", "1", extra, attrs);
	r = parse(GOSU_FORM_VERIFY_UNRZ, body);
	expect_v(&r, "(long fields)", GOSU_VALID, "valid");
	assert_int_equal(strlen(r.title), 126); /* 63 two-byte letters fit in 127 */
	assert_true(valid_utf8(r.title));
	assert_int_equal(strlen(r.doc), 30);
	assert_true(valid_utf8(r.doc));
	assert_string_equal(r.cert_id, ""); /* 24 digits do not fit: not shown at all */
}

static void unreadable_title_falls_back_to_english_and_odd_ids_are_dropped(void **state)
{
	const char *body = item_body("VACCINE_CERT", "1",
				     "\"title\":\"bad\\u0007title\",\"entitle\":\"COVID-19 "
				     "certificate\",\"unrzFull\":\"90000000000000x1\",",
				     ALL_ATTRS);
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_VERIFY_UNRZ, body);
	expect_v(&r, body, GOSU_VALID, "valid");
	assert_string_equal(r.title, "COVID-19 certificate");
	assert_string_equal(r.cert_id, "");
}

/* ---- v1 flat object ---- */

static void v1_answer_status_1_is_valid_with_fio_birthdate_and_doc(void **state)
{
	const char *ok = "{\"unrz\":\"9000000000000003\",\"fio\":\"И***** П*** С********\","
			 "\"enFio\":\"I***** P*** S*********\",\"birthdate\":\"01.02.1980\","
			 "\"doc\":\"45** ***678\",\"enDoc\":\"6* ****597\","
			 "\"expiredAt\":\"31.12.2099\",\"status\":\"1\",\"qr\":\"iVBOR\"}";
	const char *endoc =
	    "{\"unrz\":\"9000000000000003\",\"fio\":\"И***** П***\","
	    "\"birthdate\":\"01.02.1980\",\"enDoc\":\"6* ****597\",\"status\":\"1\"}";
	const char *zero = "{\"unrz\":\"9000000000000003\",\"fio\":\"И***** П***\","
			   "\"birthdate\":\"01.02.1980\",\"status\":\"0\"}";
	const char *nobirth = "{\"fio\":\"И***** П***\",\"status\":\"1\"}";
	const char *nostatus = "{\"unrz\":\"9000000000000003\",\"fio\":\"И***** П***\"}";
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_VACCINE_UUID, ok);
	expect_v(&r, ok, GOSU_VALID, "valid");
	assert_string_equal(r.initials, "И. П. С.");
	assert_string_equal(r.birth_date, "01.02.1980");
	assert_string_equal(r.doc, "45** ***678");
	assert_string_equal(r.cert_id, "9000000000000003");
	assert_string_equal(r.valid_until, "31.12.2099");
	r = parse(GOSU_FORM_VACCINE_UNRZ, endoc);
	expect_v(&r, endoc, GOSU_VALID, "valid");
	assert_string_equal(r.doc, "6* ****597");
	r = parse(GOSU_FORM_VACCINE_UUID, zero);
	expect_v(&r, zero, GOSU_INVALID, "certificate not valid");
	r = parse(GOSU_FORM_VACCINE_UUID, nobirth);
	expect_v(&r, nobirth, GOSU_INVALID, "incomplete certificate data");
	r = parse(GOSU_FORM_VACCINE_UUID, nostatus);
	expect_v(&r, nostatus, GOSU_UNAVAILABLE, "malformed answer");
}

static void v1_answer_404_past_expiry_and_outage(void **state)
{
	const char *nf = "{\"unrz\":\"9000000000000003\",\"status\":\"404\"}";
	const char *past = "{\"unrz\":\"9000000000000003\",\"fio\":\"Ё***** П***\","
			   "\"birthdate\":\"01.02.1980\",\"expiredAt\":\"14.01.2022\","
			   "\"status\":\"1\"}";
	const char *down = "{\"unrz\":\"9000000000000003\",\"fio\":\"Ё***** П***\","
			   "\"birthdate\":\"01.02.1980\",\"serviceUnavailable\":true,"
			   "\"status\":\"1\"}";
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_VACCINE_UUID, nf);
	expect_v(&r, nf, GOSU_NOT_FOUND, "certificate not found");
	r = parse(GOSU_FORM_VACCINE_UUID, past);
	expect_v(&r, past, GOSU_EXPIRED, "expired 14.01.2022");
	assert_string_equal(r.initials, "Ё. П.");
	r = parse(GOSU_FORM_VACCINE_UNRZ, down);
	expect_v(&r, down, GOSU_UNAVAILABLE, "portal reports service unavailable");
}

static void flat_answer_reads_attrs_in_either_order(void **state)
{
	const char *rev = "{\"certId\":\"1000000000000001\",\"isCertFound\":true,"
			  "\"expiredAt\":\"31.12.2099\",\"attrs\":[" PASSPORT "," BIRTH "," FIO "]}";
	struct gosu_result r;

	(void)state;
	r = parse(GOSU_FORM_STATUS_UUID, rev);
	expect_v(&r, rev, GOSU_VALID, "valid");
	assert_string_equal(r.initials, "И. П. С.");
	assert_string_equal(r.birth_date, "01.02.1980");
	assert_string_equal(r.doc, "45** ***678");
}

/* ---- API contract ---- */

static void null_arguments_are_einval_and_names_are_stable(void **state)
{
	struct gosu_result r;
	struct tm t = day(2022, 1, 15);

	(void)state;
	assert_int_equal(gosu_parse(GOSU_FORM_STATUS_UUID, 200, "{}", 2, NULL, &r), -EINVAL);
	assert_int_equal(gosu_parse(GOSU_FORM_STATUS_UUID, 200, "{}", 2, &t, NULL), -EINVAL);
	assert_int_equal(gosu_parse(GOSU_FORM_STATUS_UUID, 200, NULL, 2, &t, &r), -EINVAL);
	assert_int_equal(gosu_parse(GOSU_FORM_STATUS_UUID, 200, NULL, 0, &t, &r), 0);
	assert_int_equal(r.verdict, GOSU_UNAVAILABLE);
	assert_string_equal(gosu_verdict_name(GOSU_VALID), "valid");
	assert_string_equal(gosu_verdict_name(GOSU_INVALID), "invalid");
	assert_string_equal(gosu_verdict_name(GOSU_EXPIRED), "expired");
	assert_string_equal(gosu_verdict_name(GOSU_NOT_FOUND), "not_found");
	assert_string_equal(gosu_verdict_name(GOSU_CANCELLED), "cancelled");
	assert_string_equal(gosu_verdict_name(GOSU_UNAVAILABLE), "unavailable");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(spec_valid_vaccination_certificate_is_valid_with_the_memo_fields),
	    cmocka_unit_test(spec_valid_new_form_certificate_is_valid_with_the_memo_fields),
	    cmocka_unit_test(spec_expired_recovery_is_expired_and_attrs_are_found_by_type),
	    cmocka_unit_test(every_not_found_form_is_not_found_for_every_url_form),
	    cmocka_unit_test(http_400_and_404_are_not_found),
	    cmocka_unit_test(spec_outage_is_unavailable),
	    cmocka_unit_test(http_403_429_5xx_and_other_statuses_are_unavailable),
	    cmocka_unit_test(garbage_and_non_objects_are_malformed),
	    cmocka_unit_test(control_bytes_other_than_json_whitespace_are_malformed),
	    cmocka_unit_test(deep_nesting_is_malformed_not_a_crash),
	    cmocka_unit_test(body_over_256_kib_is_refused),
	    cmocka_unit_test(vaccine_cert_is_valid_only_with_status_1),
	    cmocka_unit_test(illness_fact_status_3_is_expired),
	    cmocka_unit_test(temporary_cert_ok_cancelled_expired_and_before_valid_from),
	    cmocka_unit_test(covid_test_negative_any_case_is_valid_positive_is_not),
	    cmocka_unit_test(unknown_or_missing_type_is_never_valid),
	    cmocka_unit_test(only_the_first_item_is_judged),
	    cmocka_unit_test(expired_at_day_itself_is_expired_and_the_day_before_is_valid),
	    cmocka_unit_test(flat_answer_past_its_expiry_or_flagged_is_expired),
	    cmocka_unit_test(impossible_or_misformatted_dates_are_malformed),
	    cmocka_unit_test(valid_status_without_fio_or_birth_date_is_incomplete),
	    cmocka_unit_test(odd_attr_entries_are_skipped_and_lookup_is_by_type),
	    cmocka_unit_test(known_fields_of_the_wrong_type_make_the_answer_malformed),
	    cmocka_unit_test(en_passport_is_shown_only_when_passport_is_absent),
	    cmocka_unit_test(initials_come_from_one_to_four_masked_words_by_code_point),
	    cmocka_unit_test(multi_byte_first_letter_is_copied_whole),
	    cmocka_unit_test(long_fields_are_truncated_at_code_point_boundaries),
	    cmocka_unit_test(unreadable_title_falls_back_to_english_and_odd_ids_are_dropped),
	    cmocka_unit_test(v1_answer_status_1_is_valid_with_fio_birthdate_and_doc),
	    cmocka_unit_test(v1_answer_404_past_expiry_and_outage),
	    cmocka_unit_test(flat_answer_reads_attrs_in_either_order),
	    cmocka_unit_test(null_arguments_are_einval_and_names_are_stable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
