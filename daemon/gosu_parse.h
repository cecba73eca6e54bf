/* gosu_parse.h: the portal's answer to a certificate check, turned into a verdict.
 *
 * Pure: no I/O, no logging, today's date passed in. See gosu_parse.c for the
 * design and ../shared/spec/gosuslugi.md sections 4 to 6 for the reference.
 */
#ifndef TS_GOSU_PARSE_H
#define TS_GOSU_PARSE_H

#include <stddef.h>
#include <time.h>

#include "gosu_classify.h"

#define GOSU_BODY_MAX (256 * 1024) /* larger bodies are refused as malformed */

enum gosu_verdict {
	GOSU_VALID,
	GOSU_INVALID,
	GOSU_EXPIRED,
	GOSU_NOT_FOUND,
	GOSU_CANCELLED,
	GOSU_UNAVAILABLE, /* cannot verify now: outage, HTTP error, garbage */
};

/* Every string is NUL-terminated valid UTF-8 without control characters,
 * possibly empty, truncated at a code point boundary when too long. */
struct gosu_result {
	enum gosu_verdict verdict;
	char reason[128];     /* short English reason, e.g. "portal answered 503" */
	char title[128];      /* certificate title, Russian preferred */
	char valid_until[16]; /* expiredAt, "dd.MM.yyyy", validated, or "" */
	char initials[32];    /* "И. П. С." from the masked fio */
	char birth_date[16];  /* "dd.MM.yyyy", validated, or "" */
	char doc[32];	      /* masked passport as given ("45** ***678") */
	char cert_id[24];     /* certId / unrzFull / unrz, digits only, or "" */
};

/* Parses one answer of the API behind form (the form picks the v1 shape for the
 * vaccine links; an "items" array is recognised for every form). http_status is
 * the HTTP status code; today_local holds today's date in the configured time
 * zone (tm_year, tm_mon, tm_mday are used). The verdict and the display fields
 * go into out. Returns 0, or -EINVAL for NULL arguments. */
int gosu_parse(enum gosu_form form, long http_status, const char *body, size_t len,
	       const struct tm *today_local, struct gosu_result *out);

/* Machine name of a verdict for the status JSON: "valid", "invalid", "expired",
 * "not_found", "cancelled", "unavailable". */
const char *gosu_verdict_name(enum gosu_verdict verdict);

#endif /* TS_GOSU_PARSE_H */
