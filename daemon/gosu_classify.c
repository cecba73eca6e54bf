/* gosu_classify.c: which scanned payloads are Gosuslugi certificate links.
 *
 * Owns spec section 2 (accepted QR forms) and the request path of section 3.
 * Pure: no I/O, no logging, no clock.
 *
 * Acceptance is exactly the spec's anchored POSIX extended regexes over the
 * trimmed payload (one trailing CR and/or LF stripped), run only on payloads of
 * at most 512 printable ASCII bytes, so an embedded NUL or a multi-byte character
 * can never reach regexec(). The id, check key and lang are then cut out at the
 * fixed offsets the matched form implies and checked once more by hand: the
 * regexes use ranges such as [0-9a-f], whose meaning POSIX leaves to the
 * locale, and a certificate id later goes into a URL.
 *
 * Everything that does not match is either FORGED or UNKNOWN, and both are
 * refused by the gosuslugi verifier; the split only decides what the attendant
 * reads ("not a Gosuslugi code: <why>") and lets ordinary pass codes flow on to
 * other verifiers. FORGED needs a positive sign of imitation, looked for in the
 * first GOSU_SCAN_MAX bytes after ASCII lower-casing and one level of percent
 * decoding:
 *   - a certificate path ("/covid-cert/", "/vaccine/cert/") or punycode "xn--";
 *   - the letters of the payload, with digit and Cyrillic/Greek look-alikes
 *     folded to Latin and everything else dropped, containing "gosusl" or lying
 *     within two edits of "gosuslugi" (Sellers' approximate substring match).
 *     Cyrillic is folded twice, by shape (с -> c) and by sound (с -> s), so both
 *     homoglyph hosts and "госуслуги" are caught.
 * An ordinary pass code has none of these, so it stays UNKNOWN. The reason for a
 * FORGED verdict comes from diagnose(), which walks the URL the way the
 * regexes would and names the first deviation; it never changes the verdict.
 */
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "gosu_classify.h"

#define GOSU_SCAN_MAX 4096 /* bytes of an oversized payload searched for imitation */
#define GOSU_HOST "www.gosuslugi.ru"
#define GOSU_ORIGIN "https://" GOSU_HOST

/* Path prefixes of the accepted forms, also used for extraction and diagnosis. */
#define GOSU_PATH_A "/covid-cert/status/"
#define GOSU_PATH_B "/covid-cert/verify/"
#define GOSU_PATH_C "/vaccine/cert/verify/"
#define GOSU_PATH_D "/vaccine/cert/verify/unrz/"

#define UUID_RE "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

/* Verbatim from the spec, section 2; index = enum gosu_form. */
/* clang-format off */
static const char *const gosu_patterns[] = {
	[GOSU_FORM_STATUS_UUID] = "^https://www\\.gosuslugi\\.ru/covid-cert/status/" UUID_RE
				  "(\\?lang=(ru|en))?$",
	[GOSU_FORM_VERIFY_UNRZ] = "^https://www\\.gosuslugi\\.ru/covid-cert/verify/[0-9]{16}"
				  "\\?lang=(ru|en)&ck=[0-9a-f]{32}$",
	[GOSU_FORM_VACCINE_UUID] = "^https://www\\.gosuslugi\\.ru/vaccine/cert/verify/" UUID_RE "$",
	[GOSU_FORM_VACCINE_UNRZ] = "^https://www\\.gosuslugi\\.ru/vaccine/cert/verify/unrz/"
				   "[0-9]{16}$",
};
/* clang-format on */

#define GOSU_NFORMS (sizeof(gosu_patterns) / sizeof(gosu_patterns[0]))

static regex_t gosu_re[GOSU_NFORMS];
static bool gosu_re_ready;

int gosu_classify_init(void)
{
	size_t i;
	int rc;

	if (gosu_re_ready)
		return 0;
	for (i = 0; i < GOSU_NFORMS; i++) {
		rc = regcomp(&gosu_re[i], gosu_patterns[i], REG_EXTENDED | REG_NOSUB);
		if (rc != 0)
			goto error;
	}
	gosu_re_ready = true;
	return 0;
error:
	while (i-- > 0)
		regfree(&gosu_re[i]);
	return rc == REG_ESPACE ? -ENOMEM : -EINVAL;
}

void gosu_classify_free(void)
{
	size_t i;

	if (!gosu_re_ready)
		return;
	for (i = 0; i < GOSU_NFORMS; i++)
		regfree(&gosu_re[i]);
	gosu_re_ready = false;
}

/* ---- strict character checks, shared by extraction and path building ---- */

static bool is_lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_uuid(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return false;
	for (i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_lhex(s[i])) {
			return false;
		}
	}
	return true;
}

static bool is_digits(const char *s, size_t n, size_t want)
{
	size_t i;

	if (n != want)
		return false;
	for (i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

static bool is_lhex_n(const char *s, size_t n, size_t want)
{
	size_t i;

	if (n != want)
		return false;
	for (i = 0; i < n; i++)
		if (!is_lhex(s[i]))
			return false;
	return true;
}

static bool is_lang(const char *s)
{
	return strcmp(s, "ru") == 0 || strcmp(s, "en") == 0;
}

/* Is code internally consistent with its form? Guards path building against a
 * caller-made struct as much as against a locale-dependent regex. */
static bool code_ok(const struct gosu_code *code)
{
	size_t idn = strnlen(code->id, sizeof(code->id));
	size_t ckn = strnlen(code->ck, sizeof(code->ck));

	if (idn == sizeof(code->id) || ckn == sizeof(code->ck))
		return false;
	if (code->lang[0] && (strnlen(code->lang, sizeof(code->lang)) != 2 || !is_lang(code->lang)))
		return false;
	switch (code->form) {
	case GOSU_FORM_STATUS_UUID:
		return is_uuid(code->id, idn) && ckn == 0;
	case GOSU_FORM_VERIFY_UNRZ:
		return is_digits(code->id, idn, 16) && is_lhex_n(code->ck, ckn, 32) &&
		       code->lang[0];
	case GOSU_FORM_VACCINE_UUID:
		return is_uuid(code->id, idn) && ckn == 0 && !code->lang[0];
	case GOSU_FORM_VACCINE_UNRZ:
		return is_digits(code->id, idn, 16) && ckn == 0 && !code->lang[0];
	}
	return false;
}

/* ---- extraction after a full match ---- */

static void extract(enum gosu_form form, const char *s, size_t n, struct gosu_code *code)
{
	const size_t origin = sizeof(GOSU_ORIGIN) - 1;
	const char *p;

	memset(code, 0, sizeof(*code));
	code->form = form;
	switch (form) {
	case GOSU_FORM_STATUS_UUID:
		p = s + origin + sizeof(GOSU_PATH_A) - 1;
		memcpy(code->id, p, 36);
		if ((size_t)(p + 36 - s) < n) /* "?lang=xx" */
			memcpy(code->lang, p + 36 + 6, 2);
		break;
	case GOSU_FORM_VERIFY_UNRZ:
		p = s + origin + sizeof(GOSU_PATH_B) - 1;
		memcpy(code->id, p, 16);
		memcpy(code->lang, p + 16 + 6, 2);	  /* "?lang=" */
		memcpy(code->ck, p + 16 + 6 + 2 + 4, 32); /* "xx&ck=" */
		break;
	case GOSU_FORM_VACCINE_UUID:
		memcpy(code->id, s + origin + sizeof(GOSU_PATH_C) - 1, 36);
		break;
	case GOSU_FORM_VACCINE_UNRZ:
		memcpy(code->id, s + origin + sizeof(GOSU_PATH_D) - 1, 16);
		break;
	}
}

/* ---- does a non-matching payload imitate a certificate link? ---- */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Letters-only skeleton of one ASCII character: lower case, digit look-alikes
 * folded, i and l merged (I/l/1 look alike); 0 drops it. */
static char skel_ascii(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c - 'A' + 'a');
	switch (c) {
	case 'i':
	case '1':
	case '|':
	case '!':
		return 'l';
	case '0':
		return 'o';
	case '3':
		return 'e';
	case '4':
		return 'a';
	case '5':
	case '$':
		return 's';
	default:
		return c >= 'a' && c <= 'z' ? (char)c : 0;
	}
}

/* Cyrillic а..я folded by shape and by sound; '.' = no Latin counterpart. */
static const char cyr_shape[33] = "abbr.e....k.mhonpcty.x..w...b...";
static const char cyr_sound[33] = "abvgdezziiklmnoprstufhccss.y.eua";

/* Skeleton letters for code point cp, by shape and by sound (0 = dropped). */
static void skel_cp(uint32_t cp, char *shape, char *sound)
{
	char c = 0;

	*shape = *sound = 0;
	if (cp < 0x80) {
		*shape = *sound = skel_ascii((unsigned char)cp);
		return;
	}
	if (cp >= 0xff01 && cp <= 0xff5e) { /* fullwidth ASCII */
		*shape = *sound = skel_ascii((unsigned char)(cp - 0xfee0));
		return;
	}
	if (cp >= 0x410 && cp <= 0x42f)
		cp += 0x20;
	else if (cp >= 0x400 && cp <= 0x40f)
		cp += 0x50;
	if (cp >= 0x430 && cp <= 0x44f) {
		if (cyr_shape[cp - 0x430] != '.')
			*shape = skel_ascii((unsigned char)cyr_shape[cp - 0x430]);
		if (cyr_sound[cp - 0x430] != '.')
			*sound = skel_ascii((unsigned char)cyr_sound[cp - 0x430]);
		return;
	}
	switch (cp) {
	case 0x451: /* ё */
		c = 'e';
		break;
	case 0x455: /* ѕ */
		c = 's';
		break;
	case 0x456: /* і */
	case 0x457: /* ї */
	case 0x131: /* dotless i */
	case 0x142: /* ł */
		c = 'l';
		break;
	case 0x458: /* ј */
		c = 'j';
		break;
	case 0x3bf: /* Greek omicron */
	case 0x39f:
		c = 'o';
		break;
	case 0x3c5: /* Greek upsilon */
		c = 'u';
		break;
	default:
		break;
	}
	*shape = *sound = c;
}

/* Lenient UTF-8 decoding for the skeleton only: a bad byte decodes as itself
 * (>= 0x80, so it is dropped). Returns the bytes consumed. */
static size_t utf8_next_lenient(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t need, i;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		need = 1;
		v = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 2;
		v = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 3;
		v = s[0] & 0x07;
	} else {
		*cp = s[0];
		return 1;
	}
	if (need >= n) {
		*cp = s[0];
		return 1;
	}
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = s[0];
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	return need + 1;
}

/* Sellers: does some substring of text lie within k edits of pat? */
static bool approx_contains(const char *text, size_t n, const char *pat, unsigned k)
{
	unsigned col[16];
	size_t m = strlen(pat), i, j;

	for (j = 0; j <= m; j++)
		col[j] = (unsigned)j;
	for (i = 0; i < n; i++) {
		unsigned diag = col[0], up;

		col[0] = 0; /* a match may start anywhere */
		for (j = 1; j <= m; j++) {
			unsigned best = diag + (pat[j - 1] != text[i]);

			up = col[j];
			if (up + 1 < best)
				best = up + 1;
			if (col[j - 1] + 1 < best)
				best = col[j - 1] + 1;
			diag = up;
			col[j] = best;
		}
		if (col[m] <= k)
			return true;
	}
	return false;
}

static bool imitates_certificate(const char *payload, size_t len)
{
	unsigned char low[GOSU_SCAN_MAX];
	char shape[GOSU_SCAN_MAX], sound[GOSU_SCAN_MAX];
	size_t n = 0, ns = 0, i;

	if (len > GOSU_SCAN_MAX)
		len = GOSU_SCAN_MAX;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)payload[i];
		int hi, lo;

		if (c == '%' && i + 2 < len && (hi = hexval((unsigned char)payload[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)payload[i + 2])) >= 0) {
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		low[n++] = c;
	}
	if (memmem(low, n, "/covid-cert/", 12) || memmem(low, n, "/vaccine/cert/", 14) ||
	    memmem(low, n, "xn--", 4))
		return true;

	for (i = 0; i < n;) {
		uint32_t cp;
		char a, b;

		i += utf8_next_lenient(low + i, n - i, &cp);
		skel_cp(cp, &a, &b);
		if (!a && !b)
			continue;
		/* keep both streams aligned; a letter with no shape twin stays visible */
		shape[ns] = a ? a : '.';
		sound[ns] = b ? b : '.';
		ns++;
	}
	/* "gosuslugi" folds to "gosuslugl" (i and l merged) */
	return memmem(shape, ns, "gosusl", 6) || memmem(sound, ns, "gosusl", 6) ||
	       approx_contains(shape, ns, "gosuslugl", 2) ||
	       approx_contains(sound, ns, "gosuslugl", 2);
}

/* ---- naming the deviation of a FORGED payload ---- */

static bool has_byte_in(const char *s, size_t n, unsigned char lo, unsigned char hi)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= lo && (unsigned char)s[i] <= hi)
			return true;
	return false;
}

static const char *diagnose_uuid(const char *s, size_t n)
{
	size_t i;

	if (n > 0 && s[n - 1] == '/')
		return "trailing slash";
	if (n == 36) {
		for (i = 0; i < n; i++)
			if (s[i] >= 'A' && s[i] <= 'F')
				return "uppercase hex in certificate id";
	}
	return "malformed certificate id";
}

static const char *diagnose_unrz(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '/')
		return "trailing slash";
	return "malformed register number";
}

/* s is printable ASCII without spaces, n <= GOSU_PAYLOAD_MAX, NUL-terminated. */
static const char *diagnose_url(const char *s, size_t n, bool allow_unrz_form)
{
	const char *auth, *auth_end, *path, *query, *end = s + n;
	size_t pn, qn;

	if (strncmp(s, "https://", 8) != 0) {
		if (strncasecmp(s, "http://", 7) == 0)
			return "http scheme";
		return "scheme is not https";
	}
	auth = s + 8;
	auth_end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(auth_end - auth)))
		return "user-info in URL";
	if (memchr(auth, ':', (size_t)(auth_end - auth)))
		return "port in URL";
	if (strcasestr(auth, "xn--") && strcasestr(auth, "xn--") < auth_end)
		return "punycode host";
	if ((size_t)(auth_end - auth) != sizeof(GOSU_HOST) - 1 ||
	    memcmp(auth, GOSU_HOST, sizeof(GOSU_HOST) - 1) != 0)
		return "host is not www.gosuslugi.ru";
	if (strchr(auth_end, '#'))
		return "fragment in URL";
	if (*auth_end != '/')
		return "not a certificate link";

	path = auth_end;
	query = strchr(path, '?');
	pn = (size_t)((query ? query : end) - path);
	qn = query ? (size_t)(end - query - 1) : 0;

	if (strncmp(path, GOSU_PATH_A, sizeof(GOSU_PATH_A) - 1) == 0) {
		const char *id = path + sizeof(GOSU_PATH_A) - 1;
		size_t idn = pn - (sizeof(GOSU_PATH_A) - 1);

		if (!is_uuid(id, idn))
			return diagnose_uuid(id, idn);
		if (!query)
			return "not a certificate link";
		if (memchr(query, '&', qn + 1) || strchr(query + 1, '?') ||
		    strncmp(query, "?lang=", 6) != 0)
			return "extra query parameters";
		return "unsupported lang parameter";
	}
	if (strncmp(path, GOSU_PATH_B, sizeof(GOSU_PATH_B) - 1) == 0) {
		const char *id = path + sizeof(GOSU_PATH_B) - 1;
		size_t idn = pn - (sizeof(GOSU_PATH_B) - 1);
		const char *amp, *ck;

		if (!is_digits(id, idn, 16))
			return diagnose_unrz(id, idn);
		if (!query)
			return "missing query parameters";
		if (strncmp(query, "?ck=", 4) == 0)
			return "reordered query parameters";
		if (strncmp(query, "?lang=", 6) != 0)
			return "extra query parameters";
		amp = strchr(query, '&');
		if (!amp)
			return "missing check key";
		if ((size_t)(amp - query) != 8 ||
		    (strncmp(query + 6, "ru", 2) != 0 && strncmp(query + 6, "en", 2) != 0))
			return "unsupported lang parameter";
		if (strncmp(amp, "&ck=", 4) != 0 || strchr(amp + 1, '&') || strchr(amp, '?'))
			return "extra query parameters";
		ck = amp + 4;
		if ((size_t)(end - ck) == 32 && has_byte_in(ck, 32, 'A', 'F'))
			return "uppercase hex in check key";
		return "malformed check key";
	}
	if (strncmp(path, GOSU_PATH_D, sizeof(GOSU_PATH_D) - 1) == 0) {
		const char *id = path + sizeof(GOSU_PATH_D) - 1;
		size_t idn = pn - (sizeof(GOSU_PATH_D) - 1);

		if (!is_digits(id, idn, 16))
			return diagnose_unrz(id, idn);
		if (query)
			return "extra query parameters";
		if (!allow_unrz_form)
			return "vaccine register-number link not enabled";
		return "not a certificate link";
	}
	if (strncmp(path, GOSU_PATH_C, sizeof(GOSU_PATH_C) - 1) == 0) {
		const char *id = path + sizeof(GOSU_PATH_C) - 1;
		size_t idn = pn - (sizeof(GOSU_PATH_C) - 1);

		if (!is_uuid(id, idn))
			return diagnose_uuid(id, idn);
		return "extra query parameters";
	}
	return "not a certificate path";
}

static const char *diagnose(const char *s, size_t n, bool allow_unrz_form)
{
	char buf[GOSU_PAYLOAD_MAX + 1];

	if (n > GOSU_PAYLOAD_MAX)
		return "payload over 512 bytes";
	if (has_byte_in(s, n, 0x00, 0x1f) || has_byte_in(s, n, 0x7f, 0x7f))
		return "control characters";
	if (has_byte_in(s, n, 0x80, 0xff))
		return "non-ASCII characters";
	if (memchr(s, ' ', n))
		return "whitespace";
	if (memchr(s, '%', n))
		return "percent escapes";
	memcpy(buf, s, n);
	buf[n] = '\0';
	return diagnose_url(buf, n, allow_unrz_form);
}

/* ---- the entry point ---- */

enum gosu_class gosu_classify(const char *payload, size_t len, bool allow_unrz_form,
			      struct gosu_code *code, const char **why)
{
	char buf[GOSU_PAYLOAD_MAX + 1];
	const char *reason;
	size_t i;

	if (code)
		memset(code, 0, sizeof(*code));
	if (why)
		*why = "";
	if (!payload)
		return GOSU_CLASS_UNKNOWN;

	if (len > 0 && payload[len - 1] == '\n')
		len--;
	if (len > 0 && payload[len - 1] == '\r')
		len--;

	if (len <= GOSU_PAYLOAD_MAX && !has_byte_in(payload, len, 0x00, 0x20) &&
	    !has_byte_in(payload, len, 0x7f, 0xff)) {
		memcpy(buf, payload, len);
		buf[len] = '\0';
		if (gosu_classify_init() == 0) {
			for (i = 0; i < GOSU_NFORMS; i++) {
				struct gosu_code tmp;

				if (i == GOSU_FORM_VACCINE_UNRZ && !allow_unrz_form)
					continue;
				if (regexec(&gosu_re[i], buf, 0, NULL, 0) != 0)
					continue;
				extract((enum gosu_form)i, buf, len, &tmp);
				if (!code_ok(&tmp))
					break; /* locale-widened range: refuse */
				if (code)
					*code = tmp;
				return GOSU_CLASS_CERT;
			}
		}
	}

	if (!imitates_certificate(payload, len))
		return GOSU_CLASS_UNKNOWN;
	reason = diagnose(payload, len, allow_unrz_form);
	if (why)
		*why = reason;
	return GOSU_CLASS_FORGED;
}

/* ---- request paths ---- */

void gosu_endpoints_defaults(struct gosu_endpoints *ep)
{
	memset(ep, 0, sizeof(*ep));
	strcpy(ep->status, GOSU_EP_STATUS_V3);
	strcpy(ep->check, GOSU_EP_CHECK_V3);
	strcpy(ep->vaccine, GOSU_EP_VACCINE_V1);
	strcpy(ep->vaccine_unrz, GOSU_EP_VACCINE_UNRZ_V1);
}

static size_t count_sub(const char *s, const char *sub)
{
	size_t k = 0, n = strlen(sub);

	while ((s = strstr(s, sub)) != NULL) {
		k++;
		s += n;
	}
	return k;
}

/* Plain path/query characters (RFC 3986 unreserved, sub-delims, ':', '@', '/',
 * '?') plus the braces of the placeholders; no '%', '#', spaces or "//". */
static bool template_ok(const char *t, bool want_ck)
{
	const char *p;
	size_t n = strnlen(t, GOSU_TEMPLATE_MAX);

	if (n == 0 || n == GOSU_TEMPLATE_MAX || t[0] != '/' || strstr(t, "//") || strstr(t, ".."))
		return false;
	for (p = t; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c) ||
		      strchr("-._~!$&'()*+,;=:@/?{}", c)))
			return false;
	}
	if (count_sub(t, "{id}") != 1 || count_sub(t, "{ck}") != (want_ck ? 1u : 0u))
		return false;
	/* no stray braces besides the placeholders */
	return count_sub(t, "{") == 1 + (want_ck ? 1u : 0u) &&
	       count_sub(t, "}") == 1 + (want_ck ? 1u : 0u);
}

int gosu_endpoints_validate(const struct gosu_endpoints *ep, const char **why)
{
	const char *bad = NULL;

	if (!template_ok(ep->status, false))
		bad = "bad status endpoint template";
	else if (ep->status_fallback[0] && !template_ok(ep->status_fallback, false))
		bad = "bad status fallback endpoint template";
	else if (!template_ok(ep->check, true))
		bad = "bad check endpoint template (needs {id} and {ck})";
	else if (!template_ok(ep->vaccine, false))
		bad = "bad vaccine endpoint template";
	else if (!template_ok(ep->vaccine_unrz, false))
		bad = "bad vaccine register-number endpoint template";
	if (why)
		*why = bad ? bad : "";
	return bad ? -EINVAL : 0;
}

int gosu_api_path_from(const char *tmpl, const struct gosu_code *code, char *out, size_t outlen)
{
	bool want_ck;
	size_t o = 0;
	const char *p;

	if (!tmpl || !code || !out || outlen == 0)
		return -EINVAL;
	out[0] = '\0';
	if (!code_ok(code))
		return -EINVAL;
	want_ck = code->form == GOSU_FORM_VERIFY_UNRZ;
	if (!template_ok(tmpl, want_ck))
		return -EINVAL;
	for (p = tmpl; *p;) {
		const char *piece = p;
		size_t pn = 1;

		if (strncmp(p, "{id}", 4) == 0) {
			piece = code->id;
			pn = strlen(code->id);
			p += 4;
		} else if (strncmp(p, "{ck}", 4) == 0) {
			piece = code->ck;
			pn = strlen(code->ck);
			p += 4;
		} else {
			p++;
		}
		if (pn >= outlen - o) {
			out[0] = '\0';
			return -ENOSPC;
		}
		memcpy(out + o, piece, pn);
		o += pn;
	}
	out[o] = '\0';
	return 0;
}

int gosu_api_path(const struct gosu_code *code, const struct gosu_endpoints *ep, char *out,
		  size_t outlen)
{
	const char *tmpl;

	if (!code || !ep)
		return -EINVAL;
	switch (code->form) {
	case GOSU_FORM_STATUS_UUID:
		tmpl = ep->status;
		break;
	case GOSU_FORM_VERIFY_UNRZ:
		tmpl = ep->check;
		break;
	case GOSU_FORM_VACCINE_UUID:
		tmpl = ep->vaccine;
		break;
	case GOSU_FORM_VACCINE_UNRZ:
		tmpl = ep->vaccine_unrz;
		break;
	default:
		return -EINVAL;
	}
	return gosu_api_path_from(tmpl, code, out, outlen);
}
