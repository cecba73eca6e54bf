/* export.c: one record per check from the check_export view, as CSV or JSON Lines.
 *
 * Streaming by construction: one SELECT stepped row by row, each row written out
 * as soon as it is read, with no buffer that grows with the export; memory use is
 * SQLite's page cache plus one row. The whole export reads one WAL snapshot, so it
 * is consistent even while the daemon appends.
 *
 * CSV follows RFC 4180: a header row, CRLF record ends, fields quoted only when
 * they contain a comma, quote, CR or LF, quotes doubled, UTF-8 without a BOM, text
 * passed through byte for byte. JSON Lines: one object per line, check_id a number
 * and every other field a string; the escaper is ours so that any text comes out
 * as valid JSON: control characters are escaped and bytes that are not valid UTF-8
 * become U+FFFD.
 *
 * reason is the "reason" member of the verdict's detail JSON, extracted in SQL
 * behind json_valid() so a detail that is not JSON yields an empty reason rather
 * than failing the export.
 */
#include "export.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT_BUSY_TIMEOUT_MS 5000

enum export_col {
	COL_CHECK_ID,
	COL_TIME,
	COL_LANE,
	COL_SOURCE,
	COL_CODE_KIND,
	COL_VERDICT,
	COL_ATTENDANT,
	COL_GATE,
	COL_GRANT_DIR,
	COL_REQUEST_ID,
	COL_REASON,
	COL_COUNT
};

static const char *const export_names[COL_COUNT] = {
    "check_id",	 "time", "lane",      "source",	    "code_kind", "verdict",
    "attendant", "gate", "grant_dir", "request_id", "reason",
};

/* ORDER BY check_id without a sort: the rows are read in rowid order between the
 * smallest and largest scan id in the time range (found on journal_scan_time), and
 * the time filter is applied again, so the result is exact even when the clock went
 * backwards between checks. An ORDER BY over the time index would have SQLite sort
 * the whole range, in memory and temp files, before the first row comes out. */
static const char export_sql[] =
    "SELECT check_id, time, lane, source, code_kind, verdict, attendant, gate, grant_dir,"
    " request_id,"
    " CASE WHEN json_valid(verdict_detail) THEN json_extract(verdict_detail, '$.reason') END"
    " FROM check_export"
    " WHERE check_id BETWEEN"
    " (SELECT min(id) FROM journal WHERE step = 'scan' AND time >= ?1 AND time < ?2)"
    " AND (SELECT max(id) FROM journal WHERE step = 'scan' AND time >= ?1 AND time < ?2)"
    " AND time >= ?1 AND time < ?2 AND (?3 IS NULL OR lane = ?3)"
    " ORDER BY check_id";

static int export_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_NOTADB:
		return -EPROTO;
	default:
		return -EIO;
	}
}

int export_open_db(const char *path, sqlite3 **db)
{
	sqlite3 *conn = NULL;
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	if (!path || !db)
		return -EINVAL;
	*db = NULL;
	rc = sqlite3_open_v2(path, &conn, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		int sys = conn ? sqlite3_system_errno(conn) : 0;

		r = (rc & 0xff) == SQLITE_CANTOPEN && sys > 0 ? -sys : export_errno(rc);
		goto error;
	}
	rc = sqlite3_busy_timeout(conn, EXPORT_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		goto sqlite_error;

	/* The first read: catches a file that is not SQLite, and a database that has
	 * never been migrated (no check_export to read from). */
	rc = sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto sqlite_error;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW)
		goto sqlite_error;
	if (sqlite3_column_int(stmt, 0) < 1) {
		r = -EPROTO;
		goto error;
	}
	sqlite3_finalize(stmt);

	*db = conn;
	return 0;

sqlite_error:
	r = export_errno(rc);
error:
	sqlite3_finalize(stmt);
	sqlite3_close(conn);
	return r;
}

/* Unix ms as ISO 8601 local time with milliseconds and a numeric offset. */
static int export_format_time(int64_t ms, char *buf, size_t size)
{
	int64_t secs = ms / 1000, frac = ms % 1000;
	time_t t;
	struct tm tm;
	long off;
	size_t n;

	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (!localtime_r(&t, &tm))
		return -EINVAL;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return -EINVAL;
	off = tm.tm_gmtoff / 60;
	if (snprintf(buf + n, size - n, ".%03d%c%02ld:%02ld", (int)frac, off < 0 ? '-' : '+',
		     labs(off) / 60, labs(off) % 60) >= (int)(size - n))
		return -EINVAL;
	return 0;
}

static void csv_field(FILE *out, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	fputc('"', out);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		/* No overlongs (E0 80..9F) and no surrogates (ED A0..BF). */
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0;
		return (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4
											       : 0;
	}
	return 0;
}

static void json_string(FILE *out, const char *text)
{
	const unsigned char *s = (const unsigned char *)(text ? text : "");

	fputc('"', out);
	while (*s) {
		/* The checks above stop at the first non-continuation byte, so a
		 * truncated sequence never reads past the terminating NUL. */
		size_t n = utf8_len(s);

		if (n == 0) {
			fputs("\xef\xbf\xbd", out);
			s++;
			continue;
		}
		if (n > 1) {
			fwrite(s, 1, n, out);
			s += n;
			continue;
		}
		switch (*s) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\b':
			fputs("\\b", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*s < 0x20)
				fprintf(out, "\\u%04x", *s);
			else
				fputc(*s, out);
		}
		s++;
	}
	fputc('"', out);
}

static void export_header(FILE *out, enum export_format format)
{
	if (format != EXPORT_CSV)
		return;
	for (int i = 0; i < COL_COUNT; i++) {
		if (i)
			fputc(',', out);
		fputs(export_names[i], out);
	}
	fputs("\r\n", out);
}

static int export_row(sqlite3_stmt *stmt, enum export_format format, FILE *out)
{
	char time_buf[64];
	int r;

	r = export_format_time(sqlite3_column_int64(stmt, COL_TIME), time_buf, sizeof(time_buf));
	if (r < 0)
		return r;

	if (format == EXPORT_CSV)
		fprintf(out, "%" PRId64, (int64_t)sqlite3_column_int64(stmt, COL_CHECK_ID));
	else
		fprintf(out, "{\"check_id\":%" PRId64,
			(int64_t)sqlite3_column_int64(stmt, COL_CHECK_ID));

	for (int i = COL_TIME; i < COL_COUNT; i++) {
		const char *v =
		    i == COL_TIME ? time_buf : (const char *)sqlite3_column_text(stmt, i);

		if (format == EXPORT_CSV) {
			fputc(',', out);
			csv_field(out, v);
		} else {
			fprintf(out, ",\"%s\":", export_names[i]);
			json_string(out, v);
		}
	}
	fputs(format == EXPORT_CSV ? "\r\n" : "}\n", out);
	return 0;
}

int export_run(sqlite3 *db, const struct export_filter *filter, enum export_format format,
	       FILE *out, uint64_t *rows)
{
	sqlite3_stmt *stmt = NULL;
	uint64_t count = 0;
	int rc, r = 0;

	if (rows)
		*rows = 0;
	if (!db || !filter || !out || (format != EXPORT_CSV && format != EXPORT_JSONL))
		return -EINVAL;

	rc = sqlite3_prepare_v2(db, export_sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return export_errno(rc);
	sqlite3_bind_int64(stmt, 1, filter->since_ms);
	sqlite3_bind_int64(stmt, 2, filter->until_ms);
	if (filter->lane)
		sqlite3_bind_text(stmt, 3, filter->lane, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, 3);

	export_header(out, format);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		r = export_row(stmt, format, out);
		if (r < 0)
			break;
		/* A full disk or a closed pipe stops the export at the row it hit. */
		if (ferror(out)) {
			r = -EIO;
			break;
		}
		count++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = export_errno(rc);
	sqlite3_finalize(stmt);

	if (fflush(out) != 0 || ferror(out))
		r = r ? r : -EIO;
	if (rows)
		*rows = count;
	return r;
}

static bool parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool parse_char(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

int export_parse_time(const char *text, int64_t *ms)
{
	const char *p = text, *digits;
	int year, mon, day, hour = 0, min = 0, sec = 0;
	struct tm tm;
	time_t t;

	if (!text || !ms)
		return -EINVAL;

	/* Plain Unix milliseconds: digits only, optionally negative. */
	digits = text + (text[0] == '-');
	if (*digits && strspn(digits, "0123456789") == strlen(digits)) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno || *end)
			return -EINVAL;
		*ms = v;
		return 0;
	}

	if (!parse_digits(&p, 4, &year) || !parse_char(&p, '-') || !parse_digits(&p, 2, &mon) ||
	    !parse_char(&p, '-') || !parse_digits(&p, 2, &day))
		return -EINVAL;
	if (*p) {
		if (!parse_char(&p, 'T') || !parse_digits(&p, 2, &hour) || !parse_char(&p, ':') ||
		    !parse_digits(&p, 2, &min))
			return -EINVAL;
		if (*p && (!parse_char(&p, ':') || !parse_digits(&p, 2, &sec)))
			return -EINVAL;
		if (*p)
			return -EINVAL;
	}
	if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
	    hour > 23 || min > 59 || sec > 59)
		return -EINVAL;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	/* -1 is also a real time (one second before the epoch, east of UTC), so the
	 * error is told by errno. A time inside a DST gap is moved forward by mktime. */
	errno = 0;
	t = mktime(&tm);
	if (t == (time_t)-1 && errno)
		return -EINVAL;
	*ms = (int64_t)t * 1000;
	return 0;
}
