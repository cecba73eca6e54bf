/* gosu_parse.c: the portal's JSON answer -> verdict plus the fields the attendant checks.
 *
 * Owns spec sections 4 to 6. Pure: no I/O, no logging; "today" is passed in as
 * a broken-down local date so that the expiredAt rule is testable.
 *
 * Fail closed. The only way to GOSU_VALID is an HTTP 200 whose body is exactly
 * one JSON object (whitespace around it allowed), whose certificate says valid by
 * the rules of its shape, whose flags and dates do not contradict that, and
 * which carries a readable fio and birthDate. Every other answer is one of the
 * refusals; UNAVAILABLE ("cannot verify now") is kept for outages and answers we
 * cannot read, so that the attendant knows a paper certificate may help.
 *
 * Shapes (spec 4): an object with "items" is the items[] wrapper for every form
 * (v3/v4 check, v2 status fallback) and only its first item is judged; otherwise
 * the vaccine links (forms C and unrz) get the v1 flat object and forms A and B
 * the v3 flat object. A field of a known name but the wrong JSON type makes the
 * whole answer malformed rather than being guessed at. Flags and dates are read
 * the same way for every shape (serviceUnavailable, isCertFound, isExpired,
 * expired, isBeforeValidFrom, expiredAt, validFrom); a flag may be a JSON
 * boolean, 0/1 or "0"/"1", because the portal sends `expired: "1"`.
 *
 * Strings shown to the attendant are checked to be UTF-8 without control
 * characters and truncated at a code point boundary; initials are built code
 * point by code point because Cyrillic letters take two bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "gosu_parse.h"

#define MALFORMED "malformed answer"

enum flag { FLAG_ABSENT, FLAG_FALSE, FLAG_TRUE, FLAG_BAD };

struct date {
	int y, m, d;
};

enum shape { SHAPE_FLAT_V3, SHAPE_ITEM, SHAPE_V1 };

__attribute__((format(printf, 3, 4))) static void verdict(struct gosu_result *out,
							  enum gosu_verdict v, const char *fmt, ...)
{
	va_list ap;

	out->verdict = v;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

const char *gosu_verdict_name(enum gosu_verdict v)
{
	switch (v) {
	case GOSU_VALID:
		return "valid";
	case GOSU_INVALID:
		return "invalid";
	case GOSU_EXPIRED:
		return "expired";
	case GOSU_NOT_FOUND:
		return "not_found";
	case GOSU_CANCELLED:
		return "cancelled";
	case GOSU_UNAVAILABLE:
		return "unavailable";
	}
	return "unavailable";
}

/* ---- UTF-8 ---- */

/* Strict decoding of one code point: no overlongs, surrogates or values above
 * U+10FFFF. Returns the bytes consumed, 0 when s does not start a valid one. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t need, i;
	uint32_t v, min;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1, v = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 2, v = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3, v = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (need >= n)
		return 0;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return need + 1;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029;
}

/* Copies src into dst (size dstlen >= 1) if it is valid UTF-8 without control
 * characters, cut at the last whole code point that fits. Otherwise dst = ""
 * and false. */
static bool copy_text(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = strlen(src), i = 0, keep = 0, k;
	uint32_t cp;

	dst[0] = '\0';
	while (i < n) {
		k = utf8_next(s + i, n - i, &cp);
		if (k == 0 || is_control(cp))
			return false;
		i += k;
		if (i < dstlen)
			keep = i;
	}
	memcpy(dst, src, keep);
	dst[keep] = '\0';
	return true;
}

static uint32_t fold_cp(uint32_t cp)
{
	if (cp >= 'A' && cp <= 'Z')
		return cp + 0x20;
	if (cp >= 0x410 && cp <= 0x42f) /* А..Я */
		return cp + 0x20;
	if (cp >= 0x400 && cp <= 0x40f) /* Ѐ..Џ, Ё among them */
		return cp + 0x50;
	return cp;
}

/* Case-insensitive equality for Latin and Cyrillic, code point by code point. */
static bool utf8_casefold_eq(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
	size_t pn = strlen(a), qn = strlen(b), i = 0, j = 0, k;
	uint32_t x, y;

	while (i < pn && j < qn) {
		k = utf8_next(p + i, pn - i, &x);
		if (k == 0)
			return false;
		i += k;
		k = utf8_next(q + j, qn - j, &y);
		if (k == 0)
			return false;
		j += k;
		if (fold_cp(x) != fold_cp(y))
			return false;
	}
	return i == pn && j == qn;
}

static bool is_letter(uint32_t cp)
{
	if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))
		return true;
	if (cp >= 0xc0 && cp <= 0x24f) /* Latin-1 and Latin Extended letters */
		return cp != 0xd7 && cp != 0xf7;
	if (cp >= 0x386 && cp <= 0x3ff) /* Greek */
		return true;
	return (cp >= 0x400 && cp <= 0x481) || (cp >= 0x48a && cp <= 0x52f); /* Cyrillic */
}

static bool put_bytes(char *out, size_t outlen, size_t *o, const void *p, size_t n)
{
	if (n >= outlen - *o)
		return false;
	memcpy(out + *o, p, n);
	*o += n;
	out[*o] = '\0';
	return true;
}

/* "И***** П*** С********" -> "И. П. С."; a hyphenated word gives "Р.-К.".
 * 1..4 words separated by spaces (or NBSP), each starting with a letter. Anything else
 * (bad UTF-8, control characters, no words, five words, no room) -> false and
 * out = "", which the caller treats as a missing fio. */
static bool make_initials(const char *fio, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)fio;
	size_t n = strlen(fio), i = 0, o = 0, k;
	unsigned words = 0;
	bool in_word = false, after_hyphen = false;
	uint32_t cp;

	out[0] = '\0';
	while (i < n) {
		k = utf8_next(s + i, n - i, &cp);
		if (k == 0 || is_control(cp))
			goto error;
		if (cp == ' ' || cp == 0xa0) { /* NBSP too: masks are typed by people */
			in_word = after_hyphen = false;
		} else if (!in_word) {
			if (!is_letter(cp) || ++words > 4)
				goto error;
			if ((words > 1 && !put_bytes(out, outlen, &o, " ", 1)) ||
			    !put_bytes(out, outlen, &o, s + i, k) ||
			    !put_bytes(out, outlen, &o, ".", 1))
				goto error;
			in_word = true;
		} else if (cp == '-') {
			after_hyphen = true;
		} else if (after_hyphen) {
			after_hyphen = false;
			if (is_letter(cp) && (!put_bytes(out, outlen, &o, "-", 1) ||
					      !put_bytes(out, outlen, &o, s + i, k) ||
					      !put_bytes(out, outlen, &o, ".", 1)))
				goto error;
		}
		i += k;
	}
	if (words == 0)
		goto error;
	return true;
error:
	out[0] = '\0';
	return false;
}

/* ---- dates ---- */

static bool parse_date(const char *s, struct date *dt)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int i, max;

	if (strlen(s) != 10 || s[2] != '.' || s[5] != '.')
		return false;
	for (i = 0; i < 10; i++)
		if (i != 2 && i != 5 && (s[i] < '0' || s[i] > '9'))
			return false;
	dt->d = (s[0] - '0') * 10 + (s[1] - '0');
	dt->m = (s[3] - '0') * 10 + (s[4] - '0');
	dt->y = (s[6] - '0') * 1000 + (s[7] - '0') * 100 + (s[8] - '0') * 10 + (s[9] - '0');
	if (dt->y < 1900 || dt->m < 1 || dt->m > 12 || dt->d < 1)
		return false;
	max = mdays[dt->m - 1];
	if (dt->m == 2 && ((dt->y % 4 == 0 && dt->y % 100 != 0) || dt->y % 400 == 0))
		max = 29;
	return dt->d <= max;
}

static int date_cmp(const struct date *a, const struct date *b)
{
	if (a->y != b->y)
		return a->y < b->y ? -1 : 1;
	if (a->m != b->m)
		return a->m < b->m ? -1 : 1;
	if (a->d != b->d)
		return a->d < b->d ? -1 : 1;
	return 0;
}

/* ---- JSON access ---- */

static const cJSON *member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static enum flag get_flag(const cJSON *obj, const char *key)
{
	const cJSON *v = member(obj, key);

	if (!v || cJSON_IsNull(v))
		return FLAG_ABSENT;
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? FLAG_TRUE : FLAG_FALSE;
	if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
		return v->valuedouble == 1 ? FLAG_TRUE : FLAG_FALSE;
	if (cJSON_IsString(v) && v->valuestring) {
		if (strcmp(v->valuestring, "1") == 0 || strcmp(v->valuestring, "true") == 0)
			return FLAG_TRUE;
		if (strcmp(v->valuestring, "0") == 0 || strcmp(v->valuestring, "false") == 0)
			return FLAG_FALSE;
	}
	return FLAG_BAD;
}

/* A string member: *s = its text or NULL when absent/null. false = wrong type. */
static bool get_str(const cJSON *obj, const char *key, const char **s)
{
	const cJSON *v = member(obj, key);

	*s = NULL;
	if (!v || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsString(v) || !v->valuestring)
		return false;
	*s = v->valuestring;
	return true;
}

/* The value of the first attr of this type, or NULL. Entries that are not
 * objects, or whose type or value is not a string, are ignored. */
static const char *attr_value(const cJSON *attrs, const char *type)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, attrs)
	{
		const cJSON *t = member(a, "type"), *v = member(a, "value");

		if (cJSON_IsObject(a) && cJSON_IsString(t) && t->valuestring &&
		    strcmp(t->valuestring, type) == 0 && cJSON_IsString(v) && v->valuestring)
			return v->valuestring;
	}
	return NULL;
}

static bool attr_present(const cJSON *attrs, const char *type)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, attrs)
	{
		const cJSON *t = member(a, "type");

		if (cJSON_IsObject(a) && cJSON_IsString(t) && t->valuestring &&
		    strcmp(t->valuestring, type) == 0)
			return true;
	}
	return false;
}

static void copy_digits(char *dst, size_t dstlen, const char *src)
{
	size_t n, i;

	dst[0] = '\0';
	if (!src)
		return;
	n = strlen(src);
	if (n == 0 || n >= dstlen)
		return;
	for (i = 0; i < n; i++)
		if (src[i] < '0' || src[i] > '9')
			return;
	memcpy(dst, src, n + 1);
}

/* ---- one certificate object ---- */

/* The status rules of spec 5 for one items[] entry. Sets the candidate verdict;
 * returns false for a malformed entry. */
static bool item_status(const cJSON *item, struct gosu_result *out, const char *until)
{
	const char *type, *status;

	if (!get_str(item, "status", &status) || !get_str(item, "type", &type) || !status)
		return false;
	if (strcmp(status, "404") == 0) {
		verdict(out, GOSU_NOT_FOUND, "certificate not found");
		return true;
	}
	if (!type) {
		verdict(out, GOSU_NOT_FOUND, "unknown certificate type");
		return true;
	}
	if (strcmp(type, "VACCINE_CERT") == 0) {
		if (strcmp(status, "1") == 0)
			verdict(out, GOSU_VALID, "valid");
		else
			verdict(out, GOSU_INVALID, "certificate not valid");
	} else if (strcmp(type, "ILLNESS_FACT") == 0) {
		if (strcmp(status, "1") == 0)
			verdict(out, GOSU_VALID, "valid");
		else if (strcmp(status, "3") == 0)
			verdict(out, GOSU_EXPIRED, "expired%s%s", *until ? " " : "", until);
		else
			verdict(out, GOSU_INVALID, "certificate not valid");
	} else if (strcmp(type, "TEMPORARY_CERT") == 0) {
		if (strcmp(status, "OK") == 0)
			verdict(out, GOSU_VALID, "valid");
		else if (strcasecmp(status, "CANCELED") == 0 ||
			 strcasecmp(status, "CANCELLED") == 0)
			verdict(out, GOSU_CANCELLED, "certificate cancelled");
		else if (strcasecmp(status, "EXPIRED") == 0)
			verdict(out, GOSU_EXPIRED, "expired%s%s", *until ? " " : "", until);
		else
			verdict(out, GOSU_INVALID, "certificate not valid");
	} else if (strcmp(type, "COVID_TEST") == 0) {
		if (utf8_casefold_eq(status, "Отрицательный"))
			verdict(out, GOSU_VALID, "valid");
		else if (utf8_casefold_eq(status, "Положительный"))
			verdict(out, GOSU_INVALID, "positive test result");
		else if (strcmp(status, "3") == 0)
			verdict(out, GOSU_EXPIRED, "expired%s%s", *until ? " " : "", until);
		else
			verdict(out, GOSU_INVALID, "certificate not valid");
	} else {
		verdict(out, GOSU_NOT_FOUND, "unknown certificate type");
	}
	return true;
}

static bool v1_status(const cJSON *obj, struct gosu_result *out)
{
	const char *status;

	if (!get_str(obj, "status", &status))
		return false;
	if (!status) {
		/* nothing that names a certificate: the empty answer of "not found" */
		if (member(obj, "unrz") || member(obj, "fio"))
			return false;
		verdict(out, GOSU_NOT_FOUND, "certificate not found");
	} else if (strcmp(status, "1") == 0) {
		verdict(out, GOSU_VALID, "valid");
	} else if (strcmp(status, "404") == 0) {
		verdict(out, GOSU_NOT_FOUND, "certificate not found");
	} else {
		verdict(out, GOSU_INVALID, "certificate not valid");
	}
	return true;
}

/* Display fields: whatever is readable is shown, for refusals too. */
static bool fill_display(const cJSON *obj, enum shape shape, struct gosu_result *out)
{
	const char *title, *entitle, *fio = NULL, *birth = NULL, *doc = NULL, *id = NULL;
	const cJSON *attrs = NULL;
	struct date dt;

	if (!get_str(obj, "title", &title) || !get_str(obj, "entitle", &entitle))
		return false;
	if (!(title && *title && copy_text(out->title, sizeof(out->title), title)) && entitle)
		copy_text(out->title, sizeof(out->title), entitle);

	if (shape == SHAPE_V1) {
		if (!get_str(obj, "fio", &fio) || !get_str(obj, "birthdate", &birth) ||
		    !get_str(obj, "doc", &doc) || !get_str(obj, "unrz", &id))
			return false;
		if (!member(obj, "doc") && !get_str(obj, "enDoc", &doc))
			return false;
	} else {
		attrs = member(obj, "attrs");
		if (attrs && !cJSON_IsNull(attrs) && !cJSON_IsArray(attrs))
			return false;
		fio = attr_value(attrs, "fio");
		birth = attr_value(attrs, "birthDate");
		doc = attr_present(attrs, "passport") ? attr_value(attrs, "passport")
						      : attr_value(attrs, "enPassport");
		if (shape == SHAPE_FLAT_V3) {
			if (!get_str(obj, "certId", &id))
				return false;
		} else if (!get_str(obj, "unrzFull", &id) || (!id && !get_str(obj, "unrz", &id))) {
			return false;
		}
	}
	if (fio)
		make_initials(fio, out->initials, sizeof(out->initials));
	if (birth && parse_date(birth, &dt))
		memcpy(out->birth_date, birth, 11);
	if (doc)
		copy_text(out->doc, sizeof(out->doc), doc);
	copy_digits(out->cert_id, sizeof(out->cert_id), id);
	return true;
}

static void judge(const cJSON *obj, enum shape shape, const struct date *today,
		  struct gosu_result *out)
{
	enum flag unavailable = get_flag(obj, "serviceUnavailable");
	enum flag found = get_flag(obj, "isCertFound");
	enum flag is_expired = get_flag(obj, "isExpired");
	enum flag expired = get_flag(obj, "expired");
	enum flag before = get_flag(obj, "isBeforeValidFrom");
	const char *until_s, *from_s;
	struct date until, from;
	bool has_until = false, has_from = false;

	if (unavailable == FLAG_BAD || found == FLAG_BAD || is_expired == FLAG_BAD ||
	    expired == FLAG_BAD || before == FLAG_BAD || !get_str(obj, "expiredAt", &until_s) ||
	    !get_str(obj, "validFrom", &from_s))
		goto malformed;
	if (unavailable == FLAG_TRUE) {
		verdict(out, GOSU_UNAVAILABLE, "portal reports service unavailable");
		return;
	}
	if (found == FLAG_FALSE) {
		verdict(out, GOSU_NOT_FOUND, "certificate not found");
		return;
	}
	/* a date we cannot read must not be taken for "no expiry" */
	if (until_s && *until_s) {
		if (!parse_date(until_s, &until))
			goto malformed;
		has_until = true;
		memcpy(out->valid_until, until_s, 11);
	}
	if (from_s && *from_s) {
		if (!parse_date(from_s, &from))
			goto malformed;
		has_from = true;
	}

	switch (shape) {
	case SHAPE_ITEM:
		if (!item_status(obj, out, out->valid_until))
			goto malformed;
		break;
	case SHAPE_V1:
		if (!v1_status(obj, out))
			goto malformed;
		break;
	case SHAPE_FLAT_V3: {
		const cJSON *attrs = member(obj, "attrs");
		bool has_attrs = cJSON_IsArray(attrs) && cJSON_GetArraySize(attrs) > 0;

		if (found != FLAG_TRUE && !member(obj, "certId") && !has_attrs) {
			verdict(out, GOSU_NOT_FOUND, "certificate not found");
			return;
		}
		verdict(out, GOSU_VALID, "valid");
		break;
	}
	}
	if (out->verdict == GOSU_NOT_FOUND)
		return;

	if (!fill_display(obj, shape, out))
		goto malformed;
	if (out->verdict != GOSU_VALID)
		return;
	if (is_expired == FLAG_TRUE || expired == FLAG_TRUE ||
	    (has_until && date_cmp(&until, today) <= 0)) {
		verdict(out, GOSU_EXPIRED, "expired%s%s", has_until ? " " : "", out->valid_until);
		return;
	}
	if (before == FLAG_TRUE || (has_from && date_cmp(&from, today) > 0)) {
		verdict(out, GOSU_INVALID, "not yet valid");
		return;
	}
	if (!out->initials[0] || !out->birth_date[0])
		verdict(out, GOSU_INVALID, "incomplete certificate data");
	return;

malformed:
	verdict(out, GOSU_UNAVAILABLE, MALFORMED);
}

static void judge_root(const cJSON *root, enum gosu_form form, const struct date *today,
		       struct gosu_result *out)
{
	const cJSON *items = member(root, "items"), *item;
	enum flag unavailable;

	if (!root->child) {
		verdict(out, GOSU_NOT_FOUND, "certificate not found");
		return;
	}
	if (!items || cJSON_IsNull(items)) {
		bool v1 = form == GOSU_FORM_VACCINE_UUID || form == GOSU_FORM_VACCINE_UNRZ;

		judge(root, v1 ? SHAPE_V1 : SHAPE_FLAT_V3, today, out);
		return;
	}
	unavailable = get_flag(root, "serviceUnavailable");
	if (!cJSON_IsArray(items) || unavailable == FLAG_BAD) {
		verdict(out, GOSU_UNAVAILABLE, MALFORMED);
		return;
	}
	if (unavailable == FLAG_TRUE) {
		verdict(out, GOSU_UNAVAILABLE, "portal reports service unavailable");
		return;
	}
	item = cJSON_GetArrayItem(items, 0);
	if (!item) {
		verdict(out, GOSU_NOT_FOUND, "certificate not found");
		return;
	}
	if (!cJSON_IsObject(item)) {
		verdict(out, GOSU_UNAVAILABLE, MALFORMED);
		return;
	}
	judge(item, SHAPE_ITEM, today, out);
}

/* Any byte below 0x20 but JSON's own whitespace (tab, LF, CR), NUL included.
 * cJSON skips all of them as whitespace between tokens and takes them raw inside
 * strings, where JSON wants them escaped; such a body is not well-formed JSON. */
static bool has_stray_control(const char *body, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)body[i];

		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return true;
	}
	return false;
}

int gosu_parse(enum gosu_form form, long http_status, const char *body, size_t len,
	       const struct tm *today_local, struct gosu_result *out)
{
	const char *end = NULL;
	struct date today;
	cJSON *root;

	if (!out || !today_local || (!body && len > 0))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	today.y = today_local->tm_year + 1900;
	today.m = today_local->tm_mon + 1;
	today.d = today_local->tm_mday;

	if (http_status == 400 || http_status == 404) {
		verdict(out, GOSU_NOT_FOUND, "certificate not found (HTTP %ld)", http_status);
		return 0;
	}
	if (http_status != 200) {
		verdict(out, GOSU_UNAVAILABLE, "portal answered %ld", http_status);
		return 0;
	}
	if (len > GOSU_BODY_MAX) {
		verdict(out, GOSU_UNAVAILABLE, "answer too large");
		return 0;
	}
	if (len == 0 || has_stray_control(body, len)) {
		verdict(out, GOSU_UNAVAILABLE, MALFORMED);
		return 0;
	}
	/* cJSON cannot tell an allocation failure from a syntax error: both end here */
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (!root) {
		verdict(out, GOSU_UNAVAILABLE, MALFORMED);
		return 0;
	}
	while (end && end < body + len && strchr(" \t\r\n", *end))
		end++;
	if (!end || end != body + len || !cJSON_IsObject(root))
		verdict(out, GOSU_UNAVAILABLE, MALFORMED);
	else
		judge_root(root, form, &today, out);
	cJSON_Delete(root);
	return 0;
}
