/* test_gosu_classify.c: the Gosuslugi QR classifier and request paths (spec 2, 3).
 *
 * Every accepted form with its extracted id/ck/lang; the fourth form off and on;
 * a long table of look-alikes, each with the class and the reason expected; a
 * table of ordinary pass codes that must stay UNKNOWN; scanner line endings;
 * the 512-byte limit; and the request paths built from endpoint templates.
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

#include "gosu_classify.h"

#define UUID "00000000-0000-4000-8000-000000000001"
#define UUID_UP "00000000-0000-4000-8000-00000000000A"
#define UNRZ "9000000000000001"
#define CK "0123456789abcdef0123456789abcdef"
#define CK_UP "0123456789ABCDEF0123456789abcdef"
#define ORIGIN "https://www.gosuslugi.ru"
#define URL_A ORIGIN "/covid-cert/status/" UUID
#define URL_B ORIGIN "/covid-cert/verify/" UNRZ "?lang=ru&ck=" CK
#define URL_C ORIGIN "/vaccine/cert/verify/" UUID
#define URL_D ORIGIN "/vaccine/cert/verify/unrz/" UNRZ

static const char *class_name(enum gosu_class c)
{
	switch (c) {
	case GOSU_CLASS_CERT:
		return "CERT";
	case GOSU_CLASS_FORGED:
		return "FORGED";
	case GOSU_CLASS_UNKNOWN:
		return "UNKNOWN";
	}
	return "?";
}

/* Classifies p[0..n) and checks class and (when want_why is set) the reason;
 * prints the payload and both values on a mismatch. */
static void expect_n(const char *p, size_t n, bool allow, enum gosu_class want,
		     const char *want_why)
{
	struct gosu_code code;
	const char *why = NULL;
	enum gosu_class got = gosu_classify(p, n, allow, &code, &why);

	if (got != want || (want_why && strcmp(why, want_why) != 0)) {
		print_error("payload \"%.*s\" (%zu bytes): expected %s \"%s\", got %s \"%s\"\n",
			    (int)(n > 120 ? 120 : n), p, n, class_name(want),
			    want_why ? want_why : "*", class_name(got), why);
		fail();
	}
	assert_non_null(why);
	if (got != GOSU_CLASS_FORGED)
		assert_string_equal(why, "");
}

static void expect(const char *p, enum gosu_class want, const char *want_why)
{
	expect_n(p, strlen(p), false, want, want_why);
}

static int teardown_group(void **state)
{
	(void)state;
	gosu_classify_free();
	return 0;
}

/* ---- accepted forms ---- */

static void form_a_without_lang_is_cert_with_uuid_and_no_lang(void **state)
{
	struct gosu_code code;
	const char *why;

	(void)state;
	assert_int_equal(gosu_classify(URL_A, strlen(URL_A), false, &code, &why), GOSU_CLASS_CERT);
	assert_int_equal(code.form, GOSU_FORM_STATUS_UUID);
	assert_string_equal(code.id, UUID);
	assert_string_equal(code.ck, "");
	assert_string_equal(code.lang, "");
	assert_string_equal(why, "");
}

static void form_a_with_lang_ru_and_en_keeps_the_lang(void **state)
{
	struct gosu_code code;

	(void)state;
	assert_int_equal(
	    gosu_classify(URL_A "?lang=ru", strlen(URL_A "?lang=ru"), false, &code, NULL),
	    GOSU_CLASS_CERT);
	assert_string_equal(code.id, UUID);
	assert_string_equal(code.lang, "ru");
	assert_int_equal(
	    gosu_classify(URL_A "?lang=en", strlen(URL_A "?lang=en"), false, &code, NULL),
	    GOSU_CLASS_CERT);
	assert_string_equal(code.lang, "en");
}

static void form_b_is_cert_with_unrz_lang_and_check_key(void **state)
{
	static const char en[] = ORIGIN "/covid-cert/verify/" UNRZ "?lang=en&ck=" CK;
	struct gosu_code code;

	(void)state;
	assert_int_equal(gosu_classify(URL_B, strlen(URL_B), false, &code, NULL), GOSU_CLASS_CERT);
	assert_int_equal(code.form, GOSU_FORM_VERIFY_UNRZ);
	assert_string_equal(code.id, UNRZ);
	assert_string_equal(code.lang, "ru");
	assert_string_equal(code.ck, CK);
	assert_int_equal(gosu_classify(en, strlen(en), false, &code, NULL), GOSU_CLASS_CERT);
	assert_string_equal(code.lang, "en");
}

static void form_c_is_cert_with_uuid(void **state)
{
	struct gosu_code code;

	(void)state;
	assert_int_equal(gosu_classify(URL_C, strlen(URL_C), false, &code, NULL), GOSU_CLASS_CERT);
	assert_int_equal(code.form, GOSU_FORM_VACCINE_UUID);
	assert_string_equal(code.id, UUID);
	assert_string_equal(code.ck, "");
	assert_string_equal(code.lang, "");
}

static void unrz_form_is_forged_when_switch_is_off(void **state)
{
	(void)state;
	expect_n(URL_D, strlen(URL_D), false, GOSU_CLASS_FORGED,
		 "vaccine register-number link not enabled");
}

static void unrz_form_is_cert_when_switch_is_on(void **state)
{
	struct gosu_code code;

	(void)state;
	assert_int_equal(gosu_classify(URL_D, strlen(URL_D), true, &code, NULL), GOSU_CLASS_CERT);
	assert_int_equal(code.form, GOSU_FORM_VACCINE_UNRZ);
	assert_string_equal(code.id, UNRZ);
	/* the switch does not loosen the other forms */
	expect_n(URL_D "/", strlen(URL_D "/"), true, GOSU_CLASS_FORGED, "trailing slash");
	expect_n(URL_D "?lang=ru", strlen(URL_D "?lang=ru"), true, GOSU_CLASS_FORGED,
		 "extra query parameters");
}

static void one_trailing_cr_and_or_lf_is_stripped(void **state)
{
	(void)state;
	expect(URL_A "\r\n", GOSU_CLASS_CERT, NULL);
	expect(URL_A "\n", GOSU_CLASS_CERT, NULL);
	expect(URL_A "\r", GOSU_CLASS_CERT, NULL);
	expect(URL_B "\r\n", GOSU_CLASS_CERT, NULL);
	expect(URL_A "\n\n", GOSU_CLASS_FORGED, "control characters");
	expect(URL_A "\r\n\r\n", GOSU_CLASS_FORGED, "control characters");
	expect(URL_A "\n\r", GOSU_CLASS_FORGED, "control characters");
	expect("GYM-1001\r\n", GOSU_CLASS_UNKNOWN, NULL);
	expect("\r\n", GOSU_CLASS_UNKNOWN, NULL);
}

/* ---- look-alikes ---- */

struct row {
	const char *payload;
	enum gosu_class want;
	const char *why;
};

static const struct row forged[] = {
    /* scheme */
    {"http://www.gosuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "http scheme"},
    {"HTTP://www.gosuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "http scheme"},
    {"HTTPS://WWW.GOSUSLUGI.RU/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "scheme is not https"},
    {"https:/www.gosuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "scheme is not https"},
    {"www.gosuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "scheme is not https"},
    {"//www.gosuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "scheme is not https"},
    {"ftp://www.gosuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "scheme is not https"},
    /* other hosts */
    {"https://gosuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://www.gosuslugi.ru.evil.example/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://www.gosuslugi.ru./covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://WWW.gosuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://g0suslugi.cf/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://gosusluig.ru/covid-cert/verify/" UNRZ "?lang=ru&ck=" CK, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://www.gosusIugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://www.gos-uslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://www.gosuslugi.com/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://gosuslugi-ru.github.io/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://skdco.github.io/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://fake.github.io/vaccine/cert/verify/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://example.com/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "host is not www.gosuslugi.ru"},
    {"https://gosuslugi.ru.com/", GOSU_CLASS_FORGED, "host is not www.gosuslugi.ru"},
    {"https://xn--c1aapkosapc.xn--p1ai/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "punycode host"},
    {"https://www.xn--gosulugi-abc.ru/vaccine/cert/verify/" UUID, GOSU_CLASS_FORGED,
     "punycode host"},
    {"https://xn--80aaa.example/x", GOSU_CLASS_FORGED, "punycode host"},
    /* homoglyphs and non-ASCII: Cyrillic о, Cyrillic host, fullwidth letters */
    {"https://www.g\xd0\xbesuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "non-ASCII characters"},
    {"https://g\xd0\xbesuslug\xd1\x96.ru/", GOSU_CLASS_FORGED, "non-ASCII characters"},
    {"https://\xd0\xb3\xd0\xbe\xd1\x81\xd1\x83\xd1\x81\xd0\xbb\xd1\x83\xd0\xb3\xd0\xb8.\xd1"
     "\x80\xd1\x84/",
     GOSU_CLASS_FORGED, "non-ASCII characters"},
    {"https://\xef\xbd\x87\xef\xbd\x8f\xef\xbd\x93\xef\xbd\x95\xef\xbd\x93\xef\xbd\x8c\xef"
     "\xbd\x95\xef\xbd\x87\xef\xbd\x89.ru/",
     GOSU_CLASS_FORGED, "non-ASCII characters"},
    {URL_A "\xc2\xa0", GOSU_CLASS_FORGED, "non-ASCII characters"},
    /* ports and user-info */
    {"https://www.gosuslugi.ru:443/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "port in URL"},
    {"https://www.gosuslugi.ru:8443/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "port in URL"},
    {"https://user@www.gosuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "user-info in URL"},
    {"https://www.gosuslugi.ru@evil.example/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "user-info in URL"},
    {"https://www.gosuslugi.ru:pw@evil.example/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "user-info in URL"},
    {"https://www.gosuslugi.ru\\@evil.example/covid-cert/status/" UUID, GOSU_CLASS_FORGED,
     "user-info in URL"},
    /* fragments, trailing slashes, odd paths */
    {URL_A "#", GOSU_CLASS_FORGED, "fragment in URL"},
    {URL_A "#valid", GOSU_CLASS_FORGED, "fragment in URL"},
    {URL_A "?lang=ru#x", GOSU_CLASS_FORGED, "fragment in URL"},
    {URL_A "/", GOSU_CLASS_FORGED, "trailing slash"},
    {URL_C "/", GOSU_CLASS_FORGED, "trailing slash"},
    {ORIGIN "/covid-cert/verify/" UNRZ "/?lang=ru&ck=" CK, GOSU_CLASS_FORGED, "trailing slash"},
    {ORIGIN "//covid-cert/status/" UUID, GOSU_CLASS_FORGED, "not a certificate path"},
    {ORIGIN "/x/../covid-cert/status/" UUID, GOSU_CLASS_FORGED, "not a certificate path"},
    {ORIGIN "/COVID-CERT/status/" UUID, GOSU_CLASS_FORGED, "not a certificate path"},
    {ORIGIN "/covid-cert/status", GOSU_CLASS_FORGED, "not a certificate path"},
    {ORIGIN "/", GOSU_CLASS_FORGED, "not a certificate path"},
    {ORIGIN, GOSU_CLASS_FORGED, "not a certificate link"},
    {ORIGIN "?x=/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "not a certificate link"},
    /* percent escapes */
    {ORIGIN "/covid%2Dcert/status/" UUID, GOSU_CLASS_FORGED, "percent escapes"},
    {ORIGIN "/covid-cert/status/%30" UUID, GOSU_CLASS_FORGED, "percent escapes"},
    {"https://www.%67osuslugi.ru/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "percent escapes"},
    {"https://%77ww.%67osuslugi.ru/covid%2dcert/status/" UUID, GOSU_CLASS_FORGED,
     "percent escapes"},
    /* query parameters */
    {URL_A "?lang=ru&x=1", GOSU_CLASS_FORGED, "extra query parameters"},
    {URL_A "?lang=ru&lang=en", GOSU_CLASS_FORGED, "extra query parameters"},
    {URL_A "?x=1", GOSU_CLASS_FORGED, "extra query parameters"},
    {URL_A "?lang=ru?lang=ru", GOSU_CLASS_FORGED, "extra query parameters"},
    {URL_A "?", GOSU_CLASS_FORGED, "extra query parameters"},
    {URL_A "?lang=de", GOSU_CLASS_FORGED, "unsupported lang parameter"},
    {URL_A "?lang=RU", GOSU_CLASS_FORGED, "unsupported lang parameter"},
    {URL_A "?lang=", GOSU_CLASS_FORGED, "unsupported lang parameter"},
    {URL_C "?lang=ru", GOSU_CLASS_FORGED, "extra query parameters"},
    {ORIGIN "/covid-cert/verify/" UNRZ "?ck=" CK "&lang=ru", GOSU_CLASS_FORGED,
     "reordered query parameters"},
    {ORIGIN "/covid-cert/verify/" UNRZ "?lang=ru", GOSU_CLASS_FORGED, "missing check key"},
    {ORIGIN "/covid-cert/verify/" UNRZ, GOSU_CLASS_FORGED, "missing query parameters"},
    {URL_B "&x=1", GOSU_CLASS_FORGED, "extra query parameters"},
    {URL_B "&ck=" CK, GOSU_CLASS_FORGED, "extra query parameters"},
    {ORIGIN "/covid-cert/verify/" UNRZ "?lang=ru&x=1&ck=" CK, GOSU_CLASS_FORGED,
     "extra query parameters"},
    {ORIGIN "/covid-cert/verify/" UNRZ "?lang=de&ck=" CK, GOSU_CLASS_FORGED,
     "unsupported lang parameter"},
    /* identifier formats */
    {ORIGIN "/covid-cert/status/" UUID_UP, GOSU_CLASS_FORGED, "uppercase hex in certificate id"},
    {ORIGIN "/vaccine/cert/verify/" UUID_UP, GOSU_CLASS_FORGED, "uppercase hex in certificate id"},
    {ORIGIN "/covid-cert/verify/" UNRZ "?lang=ru&ck=" CK_UP, GOSU_CLASS_FORGED,
     "uppercase hex in check key"},
    {ORIGIN "/covid-cert/verify/" UNRZ "?lang=ru&ck=" CK "0", GOSU_CLASS_FORGED,
     "malformed check key"},
    {ORIGIN "/covid-cert/verify/" UNRZ "?lang=ru&ck=0123", GOSU_CLASS_FORGED,
     "malformed check key"},
    {ORIGIN "/covid-cert/status/00000000000040008000000000000001", GOSU_CLASS_FORGED,
     "malformed certificate id"},
    {ORIGIN "/covid-cert/status/00000000-0000-4000-8000-00000000001", GOSU_CLASS_FORGED,
     "malformed certificate id"},
    {ORIGIN "/covid-cert/status/00000000-0000-4000-8000-0000000000001", GOSU_CLASS_FORGED,
     "malformed certificate id"},
    {ORIGIN "/covid-cert/status/0000000g-0000-4000-8000-000000000001", GOSU_CLASS_FORGED,
     "malformed certificate id"},
    {ORIGIN "/covid-cert/status/{00000000-0000-4000-8000-000000000001}", GOSU_CLASS_FORGED,
     "malformed certificate id"},
    {ORIGIN "/covid-cert/verify/900000000000001?lang=ru&ck=" CK, GOSU_CLASS_FORGED,
     "malformed register number"},
    {ORIGIN "/covid-cert/verify/90000000000000011?lang=ru&ck=" CK, GOSU_CLASS_FORGED,
     "malformed register number"},
    {ORIGIN "/covid-cert/verify/900000000000000a?lang=ru&ck=" CK, GOSU_CLASS_FORGED,
     "malformed register number"},
    {ORIGIN "/vaccine/cert/verify/unrz/900000000000001", GOSU_CLASS_FORGED,
     "malformed register number"},
    /* whitespace and control characters */
    {ORIGIN "/covid-cert/status/ " UUID, GOSU_CLASS_FORGED, "whitespace"},
    {" " URL_A, GOSU_CLASS_FORGED, "whitespace"},
    {URL_A " ", GOSU_CLASS_FORGED, "whitespace"},
    {ORIGIN "/covid-cert/status/\t" UUID, GOSU_CLASS_FORGED, "control characters"},
    {"\x1b" URL_A, GOSU_CLASS_FORGED, "control characters"},
    {URL_A "\x7f", GOSU_CLASS_FORGED, "control characters"},
    {"\r" URL_A, GOSU_CLASS_FORGED, "control characters"},
    /* no URL at all, but naming the portal or its paths */
    {"gosuslugi.ru", GOSU_CLASS_FORGED, "scheme is not https"},
    {"GOSUSLUGI", GOSU_CLASS_FORGED, "scheme is not https"},
    {"/covid-cert/status/" UUID, GOSU_CLASS_FORGED, "scheme is not https"},
    {"certificate at g-o-s-u-s-l-u-g-i", GOSU_CLASS_FORGED, "whitespace"},
};

static void look_alikes_are_forged_with_the_reason(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		expect(forged[i].payload, forged[i].want, forged[i].why);
		/* the fourth-form switch must not turn any of them into a certificate */
		expect_n(forged[i].payload, strlen(forged[i].payload), true, GOSU_CLASS_FORGED,
			 NULL);
	}
}

static void embedded_nul_is_forged_not_truncated(void **state)
{
	static const char p[] = URL_A "\0.evil.example";

	(void)state;
	expect_n(p, sizeof(p) - 1, false, GOSU_CLASS_FORGED, "control characters");
}

static const char *const ordinary[] = {
    "GYM-1001",
    "TICKET-2001",
    "https://example.com/x",
    "https://example.com/certificate?id=1",
    "http://intranet.local/passes/42",
    "",
    "1234567890123456",
    "9000000000000001",
    UUID,
    CK,
    "0123456789ABCDEF",
    "MEMBER 42 Ivanov",
    "WIFI:S:gym;T:WPA;P:secret;;",
    "\xd0\x90\xd0\x91\xd0\x9e\xd0\x9d\xd0\x95\xd0\x9c\xd0\x95\xd0\x9d\xd0\xa2-77",
    "GOS-001",
    "USLUGI-5",
    "consulting-2022",
    "POOL-SUBSCRIPTION-0001",
    "{\"pass\":\"abc\"}",
    "BEGIN:VCARD\nEND:VCARD",
};

static void ordinary_pass_codes_are_unknown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ordinary) / sizeof(ordinary[0]); i++) {
		expect(ordinary[i], GOSU_CLASS_UNKNOWN, NULL);
		expect_n(ordinary[i], strlen(ordinary[i]), true, GOSU_CLASS_UNKNOWN, NULL);
	}
}

static void null_payload_is_unknown_and_code_is_zeroed(void **state)
{
	struct gosu_code code;
	const char *why = "stale";

	(void)state;
	memset(&code, 0x55, sizeof(code));
	assert_int_equal(gosu_classify(NULL, 10, false, &code, &why), GOSU_CLASS_UNKNOWN);
	assert_string_equal(why, "");
	assert_string_equal(code.id, "");
	memset(&code, 0x55, sizeof(code));
	assert_int_equal(gosu_classify("http://"
				       "www.gosuslugi.ru/",
				       24, false, &code, &why),
			 GOSU_CLASS_FORGED);
	assert_string_equal(code.id, "");
	assert_string_equal(code.ck, "");
}

/* ---- length limit ---- */

static void link_padded_to_513_bytes_is_forged_as_over_long(void **state)
{
	char p[514];
	size_t base = strlen(URL_A "?lang=ru&x=");

	(void)state;
	memcpy(p, URL_A "?lang=ru&x=", base);
	memset(p + base, 'a', 513 - base);
	p[513] = '\0';
	expect_n(p, 513, false, GOSU_CLASS_FORGED, "payload over 512 bytes");
	/* one byte less is judged on its other deviation */
	expect_n(p, 512, false, GOSU_CLASS_FORGED, "extra query parameters");
	/* a trailing CR LF does not count towards the limit */
	p[512] = '\r';
	p[513] = '\n';
	expect_n(p, 514, false, GOSU_CLASS_FORGED, "extra query parameters");
}

static void pass_code_of_513_bytes_is_unknown(void **state)
{
	char p[513];

	(void)state;
	memset(p, 'A', sizeof(p));
	expect_n(p, sizeof(p), false, GOSU_CLASS_UNKNOWN, NULL);
}

static void oversized_payload_is_searched_for_imitation_in_its_first_4_kib(void **state)
{
	size_t n = 100000;
	char *p = malloc(n);

	(void)state;
	assert_non_null(p);
	memset(p, 'A', n);
	memcpy(p + 100, "gosuslugi", 9);
	expect_n(p, n, false, GOSU_CLASS_FORGED, "payload over 512 bytes");
	memset(p, 'A', n);
	memcpy(p + 90000, "gosuslugi", 9); /* beyond the scan window: no imitation seen */
	expect_n(p, n, false, GOSU_CLASS_UNKNOWN, NULL);
	free(p);
}

/* ---- init / free ---- */

static void init_and_free_are_idempotent(void **state)
{
	(void)state;
	assert_int_equal(gosu_classify_init(), 0);
	assert_int_equal(gosu_classify_init(), 0);
	gosu_classify_free();
	gosu_classify_free();
	/* lazily compiled again on use */
	expect(URL_C, GOSU_CLASS_CERT, NULL);
}

/* ---- request paths ---- */

static struct gosu_code classify_ok(const char *p, bool allow)
{
	struct gosu_code code;

	assert_int_equal(gosu_classify(p, strlen(p), allow, &code, NULL), GOSU_CLASS_CERT);
	return code;
}

static void api_paths_follow_the_spec_defaults_for_each_form(void **state)
{
	struct gosu_endpoints ep;
	struct gosu_code code;
	char out[256];
	const char *why;

	(void)state;
	gosu_endpoints_defaults(&ep);
	assert_int_equal(gosu_endpoints_validate(&ep, &why), 0);
	assert_string_equal(ep.status_fallback, "");

	code = classify_ok(URL_A "?lang=en", false);
	assert_int_equal(gosu_api_path(&code, &ep, out, sizeof(out)), 0);
	assert_string_equal(out, "/api/covid-cert-checker/v3/cert/status/" UUID);

	code = classify_ok(ORIGIN "/covid-cert/verify/" UNRZ "?lang=en&ck=" CK, false);
	assert_int_equal(gosu_api_path(&code, &ep, out, sizeof(out)), 0);
	assert_string_equal(out, "/api/covid-cert/v3/cert/check/" UNRZ "?lang=ru&ck=" CK);

	code = classify_ok(URL_C, false);
	assert_int_equal(gosu_api_path(&code, &ep, out, sizeof(out)), 0);
	assert_string_equal(out, "/api/vaccine/v1/cert/verify/" UUID);

	code = classify_ok(URL_D, true);
	assert_int_equal(gosu_api_path(&code, &ep, out, sizeof(out)), 0);
	assert_string_equal(out, "/api/vaccine/v1/cert/verify/unrz/" UNRZ);
}

static void api_path_uses_configured_v4_check_and_v2_fallback(void **state)
{
	struct gosu_endpoints ep;
	struct gosu_code code;
	char out[256];

	(void)state;
	gosu_endpoints_defaults(&ep);
	strcpy(ep.check, GOSU_EP_CHECK_V4);
	strcpy(ep.status_fallback, GOSU_EP_STATUS_V2);
	assert_int_equal(gosu_endpoints_validate(&ep, NULL), 0);

	code = classify_ok(URL_B, false);
	assert_int_equal(gosu_api_path(&code, &ep, out, sizeof(out)), 0);
	assert_string_equal(out, "/api/covid-cert/v4/cert/check/" UNRZ "?lang=ru&ck=" CK);

	code = classify_ok(URL_A, false);
	assert_int_equal(gosu_api_path_from(ep.status_fallback, &code, out, sizeof(out)), 0);
	assert_string_equal(out, "/api/covid-cert/v2/cert/status/" UUID "?lang=ru");
}

static void api_path_refuses_a_buffer_too_small(void **state)
{
	struct gosu_endpoints ep;
	struct gosu_code code;
	char out[128];
	size_t need = strlen("/api/vaccine/v1/cert/verify/" UUID);

	(void)state;
	gosu_endpoints_defaults(&ep);
	code = classify_ok(URL_C, false);
	assert_int_equal(gosu_api_path(&code, &ep, out, need), -ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(gosu_api_path(&code, &ep, out, need + 1), 0);
	assert_int_equal(strlen(out), need);
}

static void api_path_refuses_a_code_that_was_not_validated(void **state)
{
	struct gosu_endpoints ep;
	struct gosu_code code;
	char out[256];

	(void)state;
	gosu_endpoints_defaults(&ep);
	code = classify_ok(URL_A, false);
	memcpy(code.id, "../../../../evil/x-0000-000000000001", 36);
	assert_int_equal(gosu_api_path(&code, &ep, out, sizeof(out)), -EINVAL);
	assert_string_equal(out, "");

	code = classify_ok(URL_B, false);
	code.ck[5] = 'A';
	assert_int_equal(gosu_api_path(&code, &ep, out, sizeof(out)), -EINVAL);

	code = classify_ok(URL_B, false);
	code.form = GOSU_FORM_STATUS_UUID; /* a 16-digit id is no uuid */
	assert_int_equal(gosu_api_path(&code, &ep, out, sizeof(out)), -EINVAL);
}

static void endpoint_templates_are_validated(void **state)
{
	static const char *const bad_status[] = {
	    "",
	    "api/covid-cert-checker/v3/cert/status/{id}",
	    "/api/status/",
	    "/api/status/{id}/{id}",
	    "/api/status/{id}?ck={ck}",
	    "//evil.example/{id}",
	    "/api/../{id}",
	    "/api/status/{id}#x",
	    "/api/status/{id} ",
	    "/api/status/%7bid%7d{id}",
	    "/api/status/{ID}",
	    "/api/status/{{id}}",
	    "https://evil.example/{id}",
	};
	struct gosu_endpoints ep;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
		gosu_endpoints_defaults(&ep);
		strcpy(ep.status, bad_status[i]);
		if (gosu_endpoints_validate(&ep, &why) != -EINVAL) {
			print_error("template \"%s\" was accepted\n", bad_status[i]);
			fail();
		}
		assert_string_equal(why, "bad status endpoint template");
	}
	gosu_endpoints_defaults(&ep);
	strcpy(ep.check, "/api/covid-cert/v3/cert/check/{id}?lang=ru");
	assert_int_equal(gosu_endpoints_validate(&ep, &why), -EINVAL);
	assert_string_equal(why, "bad check endpoint template (needs {id} and {ck})");
	gosu_endpoints_defaults(&ep);
	strcpy(ep.status_fallback, "/api/v2/{ck}");
	assert_int_equal(gosu_endpoints_validate(&ep, &why), -EINVAL);
	assert_string_equal(why, "bad status fallback endpoint template");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(form_a_without_lang_is_cert_with_uuid_and_no_lang),
	    cmocka_unit_test(form_a_with_lang_ru_and_en_keeps_the_lang),
	    cmocka_unit_test(form_b_is_cert_with_unrz_lang_and_check_key),
	    cmocka_unit_test(form_c_is_cert_with_uuid),
	    cmocka_unit_test(unrz_form_is_forged_when_switch_is_off),
	    cmocka_unit_test(unrz_form_is_cert_when_switch_is_on),
	    cmocka_unit_test(one_trailing_cr_and_or_lf_is_stripped),
	    cmocka_unit_test(look_alikes_are_forged_with_the_reason),
	    cmocka_unit_test(embedded_nul_is_forged_not_truncated),
	    cmocka_unit_test(ordinary_pass_codes_are_unknown),
	    cmocka_unit_test(null_payload_is_unknown_and_code_is_zeroed),
	    cmocka_unit_test(link_padded_to_513_bytes_is_forged_as_over_long),
	    cmocka_unit_test(pass_code_of_513_bytes_is_unknown),
	    cmocka_unit_test(oversized_payload_is_searched_for_imitation_in_its_first_4_kib),
	    cmocka_unit_test(init_and_free_are_idempotent),
	    cmocka_unit_test(api_paths_follow_the_spec_defaults_for_each_form),
	    cmocka_unit_test(api_path_uses_configured_v4_check_and_v2_fallback),
	    cmocka_unit_test(api_path_refuses_a_buffer_too_small),
	    cmocka_unit_test(api_path_refuses_a_code_that_was_not_validated),
	    cmocka_unit_test(endpoint_templates_are_validated),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_group);
}
