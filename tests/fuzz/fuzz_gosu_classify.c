/* fuzz_gosu_classify.c: libFuzzer target for the Gosuslugi URL classifier.
 *
 * The input is a scanned payload. Beyond "no crash, no leak, no UB", every call
 * is checked against what gosu_classify.h promises:
 *   - a certificate is accepted only by a full-string match: the canonical URL
 *     rebuilt from the extracted form, id, lang and ck equals the trimmed input
 *     byte for byte (so no look-alike, escape or extra byte ever gets through);
 *   - the extracted code builds an API path from the default templates, made of
 *     plain URL characters only, with the id in it;
 *   - the fourth form is accepted only when enabled, and enabling it changes
 *     nothing else;
 *   - FORGED always carries a reason, the other classes none, and the code is
 *     zeroed unless a certificate was found.
 * The same bytes are also tried as an endpoint template: a template the
 * validator accepts expands to a plain path with the id in place.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gosu_classify.h"

#define ORIGIN "https://www.gosuslugi.ru"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "invariant broken: %s (input %zu bytes)\n", what, size);
	abort();
}

#define CHECK(cond, what)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail(what, data, size);                                                    \
	} while (0)

static bool zeroed(const struct gosu_code *code)
{
	static const struct gosu_code zero;

	return memcmp(code, &zero, sizeof(zero)) == 0;
}

/* The one URL that classifies as code; "" for a bad form. */
static void canonical(const struct gosu_code *c, char *out, size_t outlen)
{
	switch (c->form) {
	case GOSU_FORM_STATUS_UUID:
		snprintf(out, outlen, ORIGIN "/covid-cert/status/%s%s%s", c->id,
			 c->lang[0] ? "?lang=" : "", c->lang);
		return;
	case GOSU_FORM_VERIFY_UNRZ:
		snprintf(out, outlen, ORIGIN "/covid-cert/verify/%s?lang=%s&ck=%s", c->id, c->lang,
			 c->ck);
		return;
	case GOSU_FORM_VACCINE_UUID:
		snprintf(out, outlen, ORIGIN "/vaccine/cert/verify/%s", c->id);
		return;
	case GOSU_FORM_VACCINE_UNRZ:
		snprintf(out, outlen, ORIGIN "/vaccine/cert/verify/unrz/%s", c->id);
		return;
	}
	out[0] = '\0';
}

static bool plain_path(const char *p)
{
	if (p[0] != '/' || strstr(p, "//") || strstr(p, ".."))
		return false;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-._~!$&'()*+,;=:@/?", c)))
			return false;
	}
	return true;
}

static void check_cert(const struct gosu_code *code, const uint8_t *data, size_t size, size_t tlen)
{
	char url[GOSU_PAYLOAD_MAX + 64], path[512], small[8];
	struct gosu_endpoints ep;

	CHECK(tlen <= GOSU_PAYLOAD_MAX, "certificate longer than the payload limit");
	canonical(code, url, sizeof(url));
	CHECK(strlen(url) == tlen && memcmp(url, data, tlen) == 0,
	      "accepted payload differs from the canonical URL of its code");

	gosu_endpoints_defaults(&ep);
	CHECK(gosu_endpoints_validate(&ep, NULL) == 0, "default endpoints invalid");
	CHECK(gosu_api_path(code, &ep, path, sizeof(path)) == 0, "no API path for a certificate");
	CHECK(plain_path(path), "API path with characters outside plain URL ones");
	CHECK(strstr(path, code->id) != NULL, "API path without the certificate id");
	CHECK(!code->ck[0] || strstr(path, code->ck) != NULL, "API path without the check key");
	CHECK(gosu_api_path(code, &ep, small, sizeof(small)) == -ENOSPC && small[0] == '\0',
	      "API path into a small buffer not refused");
}

/* The input as an endpoint template, expanded for a fixed code of each kind. */
static void check_template(const uint8_t *data, size_t size)
{
	static const struct gosu_code uuid = {.form = GOSU_FORM_STATUS_UUID,
					      .id = "00000000-0000-4000-8000-000000000001"};
	static const struct gosu_code unrz = {.form = GOSU_FORM_VERIFY_UNRZ,
					      .id = "9000000000000001",
					      .ck = "0123456789abcdef0123456789abcdef",
					      .lang = "ru"};
	const struct gosu_code *codes[] = {&uuid, &unrz};
	char tmpl[GOSU_TEMPLATE_MAX], out[2 * GOSU_TEMPLATE_MAX];

	if (size >= sizeof(tmpl))
		return;
	memcpy(tmpl, data, size);
	tmpl[size] = '\0';
	for (size_t i = 0; i < 2; i++) {
		const struct gosu_code *c = codes[i];

		if (gosu_api_path_from(tmpl, c, out, sizeof(out)) != 0) {
			CHECK(out[0] == '\0', "refused template left output behind");
			continue;
		}
		CHECK(plain_path(out), "expanded template is not a plain path");
		CHECK(strstr(out, c->id) != NULL, "expanded template lacks the id");
		CHECK(!c->ck[0] || strstr(out, c->ck) != NULL, "expanded template lacks the ck");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *why_off = NULL, *why_on = NULL;
	struct gosu_code off, on;
	enum gosu_class c_off, c_on;
	size_t tlen = size;

	if (tlen > 0 && p[tlen - 1] == '\n')
		tlen--;
	if (tlen > 0 && p[tlen - 1] == '\r')
		tlen--;

	c_off = gosu_classify(p, size, false, &off, &why_off);
	c_on = gosu_classify(p, size, true, &on, &why_on);

	CHECK(why_off && why_on, "reason pointer not set");
	CHECK((c_off == GOSU_CLASS_FORGED) == (why_off[0] != '\0'), "reason/class mismatch");
	CHECK((c_on == GOSU_CLASS_FORGED) == (why_on[0] != '\0'), "reason/class mismatch");
	CHECK(c_off == GOSU_CLASS_CERT || zeroed(&off), "code not zeroed for a refusal");
	CHECK(c_on == GOSU_CLASS_CERT || zeroed(&on), "code not zeroed for a refusal");

	if (c_off == GOSU_CLASS_CERT) {
		CHECK(off.form != GOSU_FORM_VACCINE_UNRZ, "fourth form accepted while disabled");
		CHECK(c_on == GOSU_CLASS_CERT && memcmp(&on, &off, sizeof(on)) == 0,
		      "enabling the fourth form changed another form's result");
		check_cert(&off, data, size, tlen);
	} else if (c_on == GOSU_CLASS_CERT) {
		CHECK(on.form == GOSU_FORM_VACCINE_UNRZ, "only the fourth form may need the switch");
		CHECK(c_off == GOSU_CLASS_FORGED, "disabled fourth form not called forged");
		check_cert(&on, data, size, tlen);
	} else {
		CHECK(c_on == c_off, "switch changed the class of a non-certificate");
	}

	/* the same call without the optional outputs gives the same class */
	CHECK(gosu_classify(p, size, false, NULL, NULL) == c_off, "class depends on outputs");
	check_template(data, size);
	return 0;
}
