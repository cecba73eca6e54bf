/* export.c: one record per check from the check_export view, as CSV or JSON Lines.
 *
 * Streaming by construction: one SELECT stepped row by row, each check written out
 * as soon as its rows are read, with no buffer that grows with the export; memory
 * use is SQLite's page cache plus one check. The whole export reads one WAL
 * snapshot (one statement), so it is consistent even while the daemon appends.
 *
 * CSV follows RFC 4180: a header row, CRLF record ends, fields quoted only when
 * they contain a comma, quote, CR or LF, quotes doubled, UTF-8 without a BOM, text
 * passed through byte for byte. JSON Lines: one object per line, check_id a number
 * and every other field a string; the escaper is ours so that any text comes out
 * as valid JSON: control characters are escaped and bytes that are not valid UTF-8
 * become U+FFFD.
 *
 * reason is the "reason" member of the verdict's detail JSON; a detail that is not
 * a JSON object yields an empty reason rather than failing the export.
 *
 * One SELECT joins each scan row with its steps; a check's rows are gathered in a
 * bounded buffer (at most EXPORT_MAX_ROWS rows, texts in one arena reused from
 * check to check) and the record is computed from them as the check_export view
 * would (the last step of each kind), then written with every row and its hashes.
 */
#include "export.h"
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

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

/* One pass: every scan row in the range joined with its steps (journal_check), in
 * scan-id order without a sort: the rows are read in rowid order between the
 * smallest and largest scan id in the time range (found on journal_scan_time), and
 * the time filter is applied again, so the result is exact even when the clock went
 * backwards between checks. An ORDER BY over the time index would have SQLite sort
 * the whole range before the first row comes out. A check's rows arrive together
 * (its steps in step, id order) and are gathered in a small per-check buffer. */
static const char export_sql[] =
    "SELECT s.id, s.time, s.lane, s.check_id, s.step, s.value, s.source, s.code_kind,"
    " s.code_hash, s.request_id, s.detail, s.prev_hash, s.hash,"
    " j.id, j.time, j.lane, j.check_id, j.step, j.value, j.source, j.code_kind,"
    " j.code_hash, j.request_id, j.detail, j.prev_hash, j.hash"
    " FROM journal s LEFT JOIN journal j ON j.check_id = s.id"
    " WHERE s.step = 'scan' AND s.id BETWEEN"
    " (SELECT min(id) FROM journal WHERE step = 'scan' AND time >= ?1 AND time < ?2)"
    " AND (SELECT max(id) FROM journal WHERE step = 'scan' AND time >= ?1 AND time < ?2)"
    " AND s.time >= ?1 AND s.time < ?2 AND (?3 IS NULL OR s.lane = ?3)"
    " ORDER BY s.id";

#define EXPORT_MAX_ROWS 64 /* journal rows of one check */
#define EXPORT_TEXTS 10    /* text columns of a journal row */

/* One check's journal rows: numbers inline, texts as offsets into one arena that is
 * reused from check to check (-1: NULL). */
struct export_check {
	int n;
	int64_t id[EXPORT_MAX_ROWS], time[EXPORT_MAX_ROWS], check_id[EXPORT_MAX_ROWS];
	long text[EXPORT_MAX_ROWS][EXPORT_TEXTS];
	char *arena;
	size_t len, cap;
};

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
	fputs(",row_hashes\r\n", out);
}

static int export_gather(struct export_check *c, sqlite3_stmt *stmt, int first)
{
	static const int cols[EXPORT_TEXTS] = {2, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	int k = c->n;

	if (k == EXPORT_MAX_ROWS)
		return -EOVERFLOW;
	c->id[k] = sqlite3_column_int64(stmt, first);
	c->time[k] = sqlite3_column_int64(stmt, first + 1);
	c->check_id[k] = sqlite3_column_type(stmt, first + 3) == SQLITE_NULL
			     ? 0
			     : sqlite3_column_int64(stmt, first + 3);
	for (int t = 0; t < EXPORT_TEXTS; t++) {
		const char *v = (const char *)sqlite3_column_text(stmt, first + cols[t]);
		size_t len;

		if (!v) {
			c->text[k][t] = -1;
			continue;
		}
		len = (size_t)sqlite3_column_bytes(stmt, first + cols[t]) + 1;
		if (c->len + len > c->cap) {
			size_t cap = c->cap ? c->cap : 4096;
			char *p;

			while (cap < c->len + len)
				cap *= 2;
			p = realloc(c->arena, cap);
			if (!p)
				return -ENOMEM;
			c->arena = p;
			c->cap = cap;
		}
		memcpy(c->arena + c->len, v, len);
		c->text[k][t] = (long)c->len;
		c->len += len;
	}
	c->n++;
	return 0;
}

static const char *export_text(const struct export_check *c, int k, int t)
{
	return c->text[k][t] < 0 ? NULL : c->arena + c->text[k][t];
}

/* Row k of the check as an audit_row (pointers into the arena). */
static void export_audit_row(const struct export_check *c, int k, struct audit_row *row)
{
	*row = (struct audit_row){.id = c->id[k],
				  .time = c->time[k],
				  .check_id = c->check_id[k],
				  .lane = export_text(c, k, 0),
				  .step = export_text(c, k, 1),
				  .value = export_text(c, k, 2),
				  .source = export_text(c, k, 3),
				  .code_kind = export_text(c, k, 4),
				  .code_hash = export_text(c, k, 5),
				  .request_id = export_text(c, k, 6),
				  .detail = export_text(c, k, 7),
				  .prev_hash = export_text(c, k, 8),
				  .hash = export_text(c, k, 9)};
}

/* Steps arrive in (step, id) order; the record wants id order. */
static void export_sort(struct export_check *c)
{
	for (int i = 2; i < c->n; i++) {
		for (int k = i; k > 1 && c->id[k - 1] > c->id[k]; k--) {
			int64_t id = c->id[k], t = c->time[k], ch = c->check_id[k];
			long text[EXPORT_TEXTS];

			memcpy(text, c->text[k], sizeof(text));
			c->id[k] = c->id[k - 1];
			c->time[k] = c->time[k - 1];
			c->check_id[k] = c->check_id[k - 1];
			memcpy(c->text[k], c->text[k - 1], sizeof(text));
			c->id[k - 1] = id;
			c->time[k - 1] = t;
			c->check_id[k - 1] = ch;
			memcpy(c->text[k - 1], text, sizeof(text));
		}
	}
}

static void json_text_or_null(FILE *out, const char *key, const char *v)
{
	fprintf(out, ",\"%s\":", key);
	if (v)
		json_string(out, v);
	else
		fputs("null", out);
}

static void export_rows(const struct export_check *c, enum export_format format, FILE *out)
{
	struct audit_row row;

	fputs(format == EXPORT_CSV ? "," : ",\"rows\":[", out);
	for (int k = 0; k < c->n; k++) {
		export_audit_row(c, k, &row);
		if (format == EXPORT_CSV) {
			fprintf(out, "%s%" PRId64 ":%s", k ? " " : "", row.id,
				row.hash ? row.hash : "");
			continue;
		}
		fprintf(out, "%s{\"id\":%" PRId64 ",\"time\":%" PRId64, k ? "," : "", row.id,
			row.time);
		json_text_or_null(out, "lane", row.lane);
		if (row.check_id > 0)
			fprintf(out, ",\"check_id\":%" PRId64, row.check_id);
		else
			fputs(",\"check_id\":null", out);
		json_text_or_null(out, "step", row.step);
		json_text_or_null(out, "value", row.value);
		json_text_or_null(out, "source", row.source);
		json_text_or_null(out, "code_kind", row.code_kind);
		json_text_or_null(out, "code_hash", row.code_hash);
		json_text_or_null(out, "request_id", row.request_id);
		json_text_or_null(out, "detail", row.detail);
		json_text_or_null(out, "prev_hash", row.prev_hash);
		json_text_or_null(out, "hash", row.hash);
		fputc('}', out);
	}
	if (format != EXPORT_CSV)
		fputc(']', out);
}

/* The record of one gathered check, as the check_export view has it: the last step
 * of each kind wins. 1: written, 0: filtered out by verdict, negative errno. */
static int export_check_out(struct export_check *c, const struct export_filter *filter,
			    enum export_format format, FILE *out)
{
	const char *v[COL_COUNT] = {NULL};
	const char *vdetail = NULL;
	char time_buf[64], *printed = NULL;
	cJSON *detail = NULL;
	int r;

	export_sort(c);
	v[COL_LANE] = export_text(c, 0, 0);
	v[COL_SOURCE] = export_text(c, 0, 3);
	v[COL_CODE_KIND] = export_text(c, 0, 4);
	v[COL_REQUEST_ID] = export_text(c, 0, 6);
	v[COL_VERDICT] = "none";
	v[COL_ATTENDANT] = "not_required";
	v[COL_GRANT_DIR] = "";
	v[COL_GATE] = "none";
	for (int k = 1; k < c->n; k++) {
		const char *step = export_text(c, k, 1), *value = export_text(c, k, 2);

		if (!step || !value)
			continue;
		if (!strcmp(step, "verdict")) {
			v[COL_VERDICT] = value;
			vdetail = export_text(c, k, 7);
		} else if (!strcmp(step, "attendant")) {
			v[COL_ATTENDANT] = value;
		} else if (!strcmp(step, "grant")) {
			v[COL_GRANT_DIR] = value;
		} else if (!strcmp(step, "gate")) {
			v[COL_GATE] = value;
		}
	}
	if (filter->verdict && strcmp(filter->verdict, v[COL_VERDICT]) != 0)
		return 0;
	r = export_format_time(c->time[0], time_buf, sizeof(time_buf));
	if (r < 0)
		return r;
	v[COL_TIME] = time_buf;
	/* reason: the "reason" member of a verdict detail that is a JSON object. */
	detail = vdetail ? cJSON_Parse(vdetail) : NULL;
	if (cJSON_IsObject(detail)) {
		cJSON *reason = cJSON_GetObjectItemCaseSensitive(detail, "reason");

		if (cJSON_IsString(reason))
			v[COL_REASON] = reason->valuestring;
		else if (reason && !cJSON_IsNull(reason))
			v[COL_REASON] = printed = cJSON_PrintUnformatted(reason);
	}

	if (format == EXPORT_CSV)
		fprintf(out, "%" PRId64, c->id[0]);
	else
		fprintf(out, "{\"check_id\":%" PRId64, c->id[0]);
	for (int i = COL_TIME; i < COL_COUNT; i++) {
		if (format == EXPORT_CSV) {
			fputc(',', out);
			csv_field(out, v[i]);
		} else {
			fprintf(out, ",\"%s\":", export_names[i]);
			json_string(out, v[i]);
		}
	}
	if (format != EXPORT_CSV)
		fprintf(out, ",\"time_ms\":%" PRId64, c->time[0]);
	export_rows(c, format, out);
	fputs(format == EXPORT_CSV ? "\r\n" : "}\n", out);
	cJSON_free(printed);
	cJSON_Delete(detail);
	return 1;
}

static void export_bind_filter(sqlite3_stmt *stmt, const struct export_filter *filter)
{
	sqlite3_bind_int64(stmt, 1, filter->since_ms);
	sqlite3_bind_int64(stmt, 2, filter->until_ms);
	if (filter->lane)
		sqlite3_bind_text(stmt, 3, filter->lane, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, 3);
	if (filter->verdict)
		sqlite3_bind_text(stmt, 4, filter->verdict, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, 4);
}

int export_run(sqlite3 *db, const struct export_filter *filter, enum export_format format,
	       FILE *out, uint64_t *rows)
{
	struct export_check *c = NULL;
	sqlite3_stmt *stmt = NULL;
	uint64_t count = 0;
	int rc, r = 0;

	if (rows)
		*rows = 0;
	if (!db || !filter || !out || (format != EXPORT_CSV && format != EXPORT_JSONL))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;

	rc = sqlite3_prepare_v2(db, export_sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		free(c);
		return export_errno(rc);
	}
	export_bind_filter(stmt, filter);

	export_header(out, format);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (c->n && sqlite3_column_int64(stmt, 0) != c->id[0]) {
			r = export_check_out(c, filter, format, out);
			if (r < 0)
				break;
			count += (uint64_t)r;
			r = 0;
			c->n = 0;
			c->len = 0;
			/* A full disk or a closed pipe stops the export at the check it hit. */
			if (ferror(out)) {
				r = -EIO;
				break;
			}
		}
		if (!c->n)
			r = export_gather(c, stmt, 0);
		if (r == 0 && sqlite3_column_type(stmt, 13) != SQLITE_NULL)
			r = export_gather(c, stmt, 13);
		if (r < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = export_errno(rc);
	if (r == 0 && c->n) {
		r = export_check_out(c, filter, format, out);
		if (r > 0)
			count++;
		r = r < 0 ? r : 0;
	}
	sqlite3_finalize(stmt);
	free(c->arena);
	free(c);

	if (fflush(out) != 0 || ferror(out))
		r = r ? r : -EIO;
	if (rows)
		*rows = count;
	return r;
}

/* Per local day and lane. Denied: no grant and the verdict was not valid; rejected:
 * valid but the attendant did not let them through; by_reason counts the denials
 * per verdict. */
static const char summary_sql[] =
    "WITH c AS (SELECT date(time / 1000, 'unixepoch', 'localtime') AS day, lane, verdict,"
    " grant_dir, gate, source FROM check_export"
    " WHERE time >= ?1 AND time < ?2 AND (?3 IS NULL OR lane = ?3)"
    " AND (?4 IS NULL OR verdict = ?4)),"
    " r AS (SELECT day, lane, verdict, count(*) AS n FROM c"
    " WHERE grant_dir = '' AND verdict <> 'valid' GROUP BY day, lane, verdict)"
    " SELECT day, lane, count(*), sum(gate = 'passed' AND grant_dir = 'a'),"
    " sum(gate = 'passed' AND grant_dir = 'b'), sum(grant_dir = '' AND verdict <> 'valid'),"
    " sum(grant_dir = '' AND verdict = 'valid'), sum(source = 'manual' AND grant_dir <> ''),"
    " sum(gate = 'not_passed'),"
    " (SELECT group_concat(verdict || ':' || n, ' ') FROM"
    " (SELECT verdict, n FROM r WHERE r.day = c.day AND r.lane = c.lane ORDER BY verdict))"
    " FROM c GROUP BY day, lane ORDER BY day, lane";

static const char *const summary_names[] = {"day",     "lane",     "checks",       "entries",
					    "exits",   "denied",   "rejected",     "manual_opens",
					    "not_passed", "denied_by_reason"};

int export_summary(sqlite3 *db, const struct export_filter *filter, enum export_format format,
		   FILE *out, uint64_t *rows)
{
	sqlite3_stmt *stmt = NULL;
	uint64_t count = 0;
	int rc, r = 0;

	if (rows)
		*rows = 0;
	if (!db || !filter || !out || (format != EXPORT_CSV && format != EXPORT_JSONL))
		return -EINVAL;
	rc = sqlite3_prepare_v2(db, summary_sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return export_errno(rc);
	export_bind_filter(stmt, filter);
	if (format == EXPORT_CSV) {
		for (int i = 0; i < 10; i++)
			fprintf(out, "%s%s", i ? "," : "", summary_names[i]);
		fputs("\r\n", out);
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (int i = 0; i < 10; i++) {
			const char *v = (const char *)sqlite3_column_text(stmt, i);

			if (format == EXPORT_CSV) {
				if (i)
					fputc(',', out);
				csv_field(out, v);
			} else if (i >= 2 && i <= 8) {
				fprintf(out, ",\"%s\":%lld", summary_names[i],
					(long long)sqlite3_column_int64(stmt, i));
			} else {
				fprintf(out, "%s\"%s\":", i ? "," : "{", summary_names[i]);
				json_string(out, v);
			}
		}
		fputs(format == EXPORT_CSV ? "\r\n" : "}\n", out);
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
