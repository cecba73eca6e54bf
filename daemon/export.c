/* export.c: one record per check, as CSV or JSON Lines, and the per-day summary.
 *
 * One ordered pass. A check is its scan row plus the step rows that point at it,
 * and with several lanes at work those rows are interleaved with other checks'. So
 * the journal is read once in id order (a rowid scan, the cheapest read SQLite
 * has) and each check is assembled in C in a small window of open checks, ordered
 * by check id. A second cursor walks the journal_check index (check id, covering)
 * in step and tells, for each check entering the window, the id of its last row;
 * a check is complete, and written, once the pass has read that row and every
 * older check has been written. Both cursors read one snapshot (one read
 * transaction), so the export is consistent even while the daemon appends. The
 * window is bounded (EXPORT_WINDOW checks); should it fill up (a check whose last
 * row came much later, say after an outage), its oldest check is completed by an
 * index lookup of its remaining rows and written, and those rows are skipped when
 * the pass reaches them. Memory is SQLite's page cache plus the window, whatever
 * the journal's size. An earlier version joined each scan with its steps per check
 * (a view, then a join); at about 10 index probes per check it did 70-140 k checks
 * per second, this pass about ten times that (tests/bench/bench_export.c).
 *
 * The record is computed as the check_export view defines it (0001_init.sql): the
 * last step of each kind wins. reason is the "reason" member of the verdict's
 * detail JSON (empty when the detail is not a JSON object). The detail is almost
 * always a small flat object written by cJSON; export_reason() reads that shape
 * directly and hands anything else (escapes, numbers, odd spacing) to cJSON, so the
 * result is cJSON's in every case.
 *
 * CSV follows RFC 4180: a header row, CRLF record ends, fields quoted only when
 * they contain a comma, quote, CR or LF, quotes doubled, UTF-8 without a BOM, text
 * passed through byte for byte. JSON Lines: one object per line, check_id a number
 * and every other field a string; the escaper is ours so that any text comes out
 * as valid JSON: control characters are escaped and bytes that are not valid UTF-8
 * become U+FFFD. Records are formatted into one reused buffer and written with
 * fwrite in large pieces; local times come from a cache of the UTC offset per
 * quarter hour (offsets and their changes fall on quarter hours), with
 * localtime_r() for anything else.
 */
#include "export.h"
#include "sqlite_errno.h"
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#define EXPORT_BUSY_TIMEOUT_MS 5000
#define EXPORT_WINDOW 256       /* open checks held at once */
#define EXPORT_MAX_ROWS 64      /* journal rows of one check */
#define EXPORT_TEXTS 10         /* text columns of a journal row */
#define EXPORT_FLUSH (64 * 1024) /* output written in pieces of about this */

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

/* Text columns of a journal row, in AUDIT_ROW_COLUMNS order after id, time and
 * check_id: the column index in a SELECT of AUDIT_ROW_COLUMNS, and the JSON key. */
enum export_text {
	T_LANE,
	T_STEP,
	T_VALUE,
	T_SOURCE,
	T_CODE_KIND,
	T_CODE_HASH,
	T_REQUEST_ID,
	T_DETAIL,
	T_PREV_HASH,
	T_HASH
};
static const int export_text_col[EXPORT_TEXTS] = {2, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* The pass: every journal row from the first candidate scan on, in id order. */
static const char pass_sql[] = "SELECT " AUDIT_ROW_COLUMNS " FROM journal WHERE id >= ?1"
			       " ORDER BY id";
/* The step rows of each check in the id range, check by check (journal_check alone,
 * no table reads; plain index order is cheaper for SQLite than a GROUP BY). */
static const char last_sql[] = "SELECT check_id, id FROM journal"
			       " WHERE check_id >= ?1 AND check_id <= ?2 ORDER BY check_id";
/* The rest of a check pushed out of a full window. */
static const char rest_sql[] = "SELECT " AUDIT_ROW_COLUMNS " FROM journal"
			       " WHERE check_id = ?1 AND id > ?2 ORDER BY id";
/* The scans in a time range, found on journal_scan_time. */
static const char bounds_sql[] = "SELECT min(id), max(id) FROM journal"
				 " WHERE step = 'scan' AND time >= ?1 AND time < ?2";

/* One journal row of a check; texts are offsets into the check's arena (-1: NULL). */
struct export_row {
	int64_t id, time, check_id;
	int32_t text[EXPORT_TEXTS];
	int32_t len[EXPORT_TEXTS];
};

/* An open check: its rows so far, and the id of its last row in the journal. */
struct export_check {
	int64_t id, last_id;
	int n, cap;
	struct export_row *rows;
	char *arena;
	size_t used, size;
};

/* The output buffer; err sticks at the first failure. */
struct export_buf {
	char *p;
	size_t len, cap;
	int err;
};

/* Local time of a quarter hour, cached: UTC seconds of its start and its fields. */
struct export_clock {
	int64_t slot; /* UTC seconds / 900, INT64_MIN: none */
	struct tm tm; /* local time at the start of the slot */
	long off_min; /* UTC offset, minutes */
};

/* The summary's groups, one per local day and lane, with their denials by verdict. */
enum tally_col { TALLY_CHECKS, TALLY_ENTRIES, TALLY_EXITS, TALLY_DENIED, TALLY_REJECTED,
		 TALLY_MANUAL, TALLY_NOT_PASSED, TALLY_COUNT };

struct tally_reason {
	char *verdict;
	uint64_t n;
};

struct tally_group {
	char day[11];
	char *lane;
	uint64_t count[TALLY_COUNT];
	struct tally_reason *reasons;
	int nreasons;
};

struct export_tally {
	struct tally_group *g;
	size_t n, cap;
};

struct export_pass {
	const struct export_filter *filter;
	struct export_tally *tally; /* summary: checks are counted, not written */
	enum export_format format;
	FILE *out;
	sqlite3 *db;
	sqlite3_stmt *pass, *last, *rest;
	bool last_started, last_done;
	int64_t last_check, last_row; /* the last cursor's current entry */
	struct export_check ring[EXPORT_WINDOW];
	int head, count;
	struct export_buf buf;
	struct export_clock clock;
	uint64_t written;
};

int export_open_db(const char *path, sqlite3 **db)
{
	sqlite3 *conn = NULL;
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	if (!path || !db)
		return -EINVAL;
	*db = NULL;
	/* One thread uses the connection: no mutex around every column read. */
	rc = sqlite3_open_v2(path, &conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int sys = conn ? sqlite3_system_errno(conn) : 0;

		r = (rc & 0xff) == SQLITE_CANTOPEN && sys > 0 ? -sys : sqlite_errno(rc);
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
	r = sqlite_errno(rc);
error:
	sqlite3_finalize(stmt);
	sqlite3_close(conn);
	return r;
}

/* --- output ------------------------------------------------------------------ */

static bool buf_reserve(struct export_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n <= b->cap)
		return true;
	if (b->err)
		return false;
	cap = b->cap ? b->cap : EXPORT_FLUSH * 2;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void buf_put(struct export_buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

#define buf_lit(b, s) buf_put((b), (s), sizeof(s) - 1)

static void buf_putc(struct export_buf *b, char c)
{
	if (buf_reserve(b, 1))
		b->p[b->len++] = c;
}

static void buf_puts(struct export_buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void buf_int(struct export_buf *b, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	int n = 0;

	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[sizeof(tmp) - 1 - n++] = '-';
	buf_put(b, tmp + sizeof(tmp) - n, (size_t)n);
}

/* Two digits (or more for the year) of a time field. */
static char *put_num(char *p, int v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/* Writes what the buffer holds once it is large; always when final. */
static int buf_flush(struct export_buf *b, FILE *out, bool final)
{
	if (b->err)
		return b->err;
	if (!final && b->len < EXPORT_FLUSH)
		return 0;
	if (b->len && fwrite(b->p, 1, b->len, out) != b->len)
		return -EIO;
	b->len = 0;
	/* A full disk or a closed pipe stops the export at the piece it hit. */
	return ferror(out) ? -EIO : 0;
}

static void csv_field(struct export_buf *b, const char *s, size_t n)
{
	if (!s)
		return;
	if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\r', n) && !memchr(s, '\n', n)) {
		buf_put(b, s, n);
		return;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			buf_putc(b, '"');
		buf_putc(b, s[i]);
	}
	buf_putc(b, '"');
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

/* The end of the run at s of bytes a JSON string takes as they are (printable
 * ASCII but quote and backslash), eight at a time while they last: hex hashes are
 * most of what an export writes. */
static const unsigned char *json_plain_run(const unsigned char *s, const unsigned char *e)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;

	while (e - s >= 8) {
		uint64_t w, q, b;

		memcpy(&w, s, 8);
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		/* A high bit for each byte below 0x20, at or above 0x80, or equal to a
		 * quote or a backslash (the usual "has a byte below n" tests). */
		if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) &
		    highs)
			break;
		s += 8;
	}
	while (s < e && *s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
		s++;
	return s;
}

/* A JSON string of n bytes of text (followed by a byte that is not a UTF-8
 * continuation, such as its NUL): runs of plain ASCII are copied as they are. */
static void json_string(struct export_buf *b, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)(text ? text : ""),
			    *e = s + (text ? len : 0);

	buf_putc(b, '"');
	while (s < e) {
		const unsigned char *run = s;
		size_t n;

		s = json_plain_run(s, e);
		if (s > run)
			buf_put(b, (const char *)run, (size_t)(s - run));
		if (s == e)
			break;
		/* The checks in utf8_len stop at the first non-continuation byte, so a
		 * truncated sequence never reads past the end. */
		n = utf8_len(s);
		if (n == 0) {
			buf_lit(b, "\xef\xbf\xbd");
			s++;
			continue;
		}
		if (n > 1) {
			buf_put(b, (const char *)s, n);
			s += n;
			continue;
		}
		switch (*s) {
		case '"':
			buf_lit(b, "\\\"");
			break;
		case '\\':
			buf_lit(b, "\\\\");
			break;
		case '\b':
			buf_lit(b, "\\b");
			break;
		case '\f':
			buf_lit(b, "\\f");
			break;
		case '\n':
			buf_lit(b, "\\n");
			break;
		case '\r':
			buf_lit(b, "\\r");
			break;
		case '\t':
			buf_lit(b, "\\t");
			break;
		default: {
			static const char hex[] = "0123456789abcdef";
			char u[6] = {'\\', 'u', '0', '0', hex[*s >> 4], hex[*s & 0xf]};

			buf_put(b, u, sizeof(u));
		}
		}
		s++;
	}
	buf_putc(b, '"');
}

/* Unix ms as ISO 8601 local time with milliseconds and a numeric offset, e.g.
 * 2026-11-25T13:05:01.123+03:00 (29 bytes). */
static int export_format_time(struct export_clock *clock, int64_t ms, char *buf)
{
	int64_t secs = ms / 1000, frac = ms % 1000, slot, delta;
	struct tm tm;
	long off;
	char *p = buf;

	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	slot = secs >= 0 ? secs / 900 : -((899 - secs) / 900);
	if (slot != clock->slot) {
		time_t start = (time_t)(slot * 900);

		if (!localtime_r(&start, &clock->tm))
			return -EINVAL;
		clock->off_min = clock->tm.tm_gmtoff / 60;
		/* Offsets that are not whole quarter hours (old local mean times) and a
		 * slot that does not start on a local quarter hour are not cached. */
		clock->slot = clock->tm.tm_gmtoff % 900 == 0 && clock->tm.tm_sec == 0 &&
				      clock->tm.tm_min % 15 == 0
				  ? slot
				  : INT64_MIN;
	}
	if (clock->slot == slot) {
		/* Within a quarter hour that starts on a local quarter hour, only the
		 * minutes and seconds move. The offset cannot change inside it either:
		 * transitions fall on quarter hours. */
		delta = secs - slot * 900;
		tm = clock->tm;
		tm.tm_min += (int)(delta / 60);
		tm.tm_sec = (int)(delta % 60);
		off = clock->off_min;
	} else {
		time_t t = (time_t)secs;

		if (!localtime_r(&t, &tm))
			return -EINVAL;
		off = tm.tm_gmtoff / 60;
	}
	if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return -EINVAL;
	p = put_num(p, tm.tm_year + 1900, 4);
	*p++ = '-';
	p = put_num(p, tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_num(p, tm.tm_mday, 2);
	*p++ = 'T';
	p = put_num(p, tm.tm_hour, 2);
	*p++ = ':';
	p = put_num(p, tm.tm_min, 2);
	*p++ = ':';
	p = put_num(p, tm.tm_sec, 2);
	*p++ = '.';
	p = put_num(p, (int)frac, 3);
	*p++ = off < 0 ? '-' : '+';
	p = put_num(p, (int)(labs(off) / 60 % 100), 2);
	*p++ = ':';
	p = put_num(p, (int)(labs(off) % 60), 2);
	*p = '\0';
	return (int)(p - buf);
}

/* --- reason -------------------------------------------------------------------- */

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* A string without escapes or control characters: *end past its closing quote. */
static bool plain_string(const char *p, const char **end)
{
	if (*p++ != '"')
		return false;
	for (; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20 || *p == '\\')
			return false;
	}
	*end = p + 1;
	return true;
}

/* A value of the plain shape: a plain string, true, false, null, or an object or
 * array of plain values. Depth-limited; false for anything else. */
static bool plain_value(const char *p, const char **end, int depth)
{
	char open = *p, close = open == '{' ? '}' : ']';

	if (*p == '"')
		return plain_string(p, end);
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) {
		*end = p + 4;
		return true;
	}
	if (!strncmp(p, "false", 5)) {
		*end = p + 5;
		return true;
	}
	if ((open != '{' && open != '[') || depth > 8)
		return false;
	p = json_ws(p + 1);
	if (*p == close) {
		*end = p + 1;
		return true;
	}
	for (;;) {
		if (open == '{') {
			if (!plain_string(p, &p))
				return false;
			p = json_ws(p);
			if (*p++ != ':')
				return false;
			p = json_ws(p);
		}
		if (!plain_value(p, &p, depth + 1))
			return false;
		p = json_ws(p);
		if (*p == close) {
			*end = p + 1;
			return true;
		}
		if (*p++ != ',')
			return false;
		p = json_ws(p);
	}
}

/* The reason of a verdict detail, as cJSON would read it: the first "reason" member
 * of a detail that is a JSON object; a string is written as it is, another value
 * (not null) as cJSON prints it. The plain shape is read here, the rest by cJSON. */
static void export_reason(const char *detail, const char **reason, size_t *len, char **printed)
{
	const char *p = detail ? json_ws(detail) : NULL, *key, *val, *end;
	cJSON *d, *item;

	*reason = NULL;
	*len = 0;
	*printed = NULL;
	if (!p)
		return;
	if (*p == '{' && plain_value(p, &end, 0) && !*json_ws(end)) {
		/* A valid plain object: find its first top-level "reason". */
		p = json_ws(p + 1);
		while (*p == '"') {
			key = p;
			plain_string(p, &p);
			val = json_ws(json_ws(p) + 1);
			plain_value(val, &p, 1);
			if (!strncmp(key, "\"reason\"", 8)) {
				if (*val == '"') {
					*reason = val + 1;
					*len = (size_t)(p - val - 2);
					return;
				}
				if (*val == 't' || *val == 'f') {
					*reason = *val == 't' ? "true" : "false";
					*len = strlen(*reason);
					return;
				}
				if (*val == 'n')
					return;
				goto parse; /* an object or array: as cJSON prints it */
			}
			p = json_ws(p);
			if (*p == ',')
				p = json_ws(p + 1);
		}
		return;
	}
parse:
	d = cJSON_Parse(detail);
	if (cJSON_IsObject(d)) {
		item = cJSON_GetObjectItemCaseSensitive(d, "reason");
		if (cJSON_IsString(item))
			*printed = strdup(item->valuestring);
		else if (item && !cJSON_IsNull(item))
			*printed = cJSON_PrintUnformatted(item);
		if (*printed) {
			*reason = *printed;
			*len = strlen(*printed);
		}
	}
	cJSON_Delete(d);
}

/* --- checks ---------------------------------------------------------------------- */

static const char *row_text(const struct export_check *c, int k, int t)
{
	return c->rows[k].text[t] < 0 ? NULL : c->arena + c->rows[k].text[t];
}

static size_t row_len(const struct export_check *c, int k, int t)
{
	return c->rows[k].text[t] < 0 ? 0 : (size_t)c->rows[k].len[t];
}

/* What CSV needs of a row: of the scan, its own columns and hash; of a step, its
 * kind, value and hash, and the detail of a verdict. JSON Lines needs everything. */
#define CSV_SCAN_TEXTS                                                                            \
	(1u << T_LANE | 1u << T_SOURCE | 1u << T_CODE_KIND | 1u << T_REQUEST_ID | 1u << T_HASH)
#define CSV_STEP_TEXTS (1u << T_STEP | 1u << T_VALUE | 1u << T_HASH)

static int check_text(struct export_check *c, struct export_row *row, sqlite3_stmt *stmt, int t)
{
	const char *v = (const char *)sqlite3_column_text(stmt, export_text_col[t]);
	size_t len;

	if (!v)
		return 0;
	/* Text is C text from here on, as it was for the row's hash. */
	len = strlen(v);
	if (c->used + len + 1 > c->size) {
		size_t size = c->size ? c->size : 1024;
		char *p;

		while (size < c->used + len + 1)
			size *= 2;
		if (size > INT32_MAX)
			return -EOVERFLOW;
		p = realloc(c->arena, size);
		if (!p)
			return -ENOMEM;
		c->arena = p;
		c->size = size;
	}
	memcpy(c->arena + c->used, v, len);
	c->arena[c->used + len] = '\0';
	row->text[t] = (int32_t)c->used;
	row->len[t] = (int32_t)len;
	c->used += len + 1;
	return 0;
}

/* Appends the statement's current row (AUDIT_ROW_COLUMNS) to the check, with the
 * columns the format needs (the others read as NULL). */
static int check_add(struct export_check *c, sqlite3_stmt *stmt, enum export_format format)
{
	struct export_row *row;
	unsigned want;
	int r = 0;

	if (c->n == EXPORT_MAX_ROWS)
		return -EOVERFLOW;
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 8;
		struct export_row *rows = realloc(c->rows, (size_t)cap * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		c->rows = rows;
		c->cap = cap;
	}
	row = &c->rows[c->n];
	row->id = sqlite3_column_int64(stmt, 0);
	row->time = sqlite3_column_int64(stmt, 1);
	row->check_id = sqlite3_column_type(stmt, 3) == SQLITE_NULL ? 0
								   : sqlite3_column_int64(stmt, 3);
	if (format != EXPORT_CSV)
		want = (1u << EXPORT_TEXTS) - 1;
	else
		want = row->check_id ? CSV_STEP_TEXTS : CSV_SCAN_TEXTS;
	for (int t = 0; t < EXPORT_TEXTS; t++) {
		row->text[t] = -1;
		row->len[t] = 0;
		if (want & 1u << t)
			r = r ? r : check_text(c, row, stmt, t);
	}
	if (r == 0 && format == EXPORT_CSV && row->text[T_STEP] >= 0 &&
	    !strcmp(c->arena + row->text[T_STEP], "verdict"))
		r = check_text(c, row, stmt, T_DETAIL);
	if (r < 0)
		return r;
	c->n++;
	return 0;
}

static void json_text_or_null(struct export_buf *b, const char *key, size_t keylen,
			      const struct export_check *c, int k, int t)
{
	buf_put(b, key, keylen);
	if (c->rows[k].text[t] < 0)
		buf_lit(b, "null");
	else
		json_string(b, row_text(c, k, t), row_len(c, k, t));
}

#define JSON_KEY(s) (s), sizeof(s) - 1

/* The check's journal rows: "ID:HASH ..." in CSV, every column in JSON Lines. */
static void export_rows(struct export_buf *b, const struct export_check *c,
			enum export_format format)
{
	if (format == EXPORT_CSV) {
		buf_putc(b, ',');
		for (int k = 0; k < c->n; k++) {
			if (k)
				buf_putc(b, ' ');
			buf_int(b, c->rows[k].id);
			buf_putc(b, ':');
			buf_put(b, row_text(c, k, T_HASH) ? row_text(c, k, T_HASH) : "",
				row_len(c, k, T_HASH));
		}
		return;
	}
	buf_lit(b, ",\"rows\":[");
	for (int k = 0; k < c->n; k++) {
		const struct export_row *row = &c->rows[k];

		if (k)
			buf_putc(b, ',');
		buf_lit(b, "{\"id\":");
		buf_int(b, row->id);
		buf_lit(b, ",\"time\":");
		buf_int(b, row->time);
		json_text_or_null(b, JSON_KEY(",\"lane\":"), c, k, T_LANE);
		buf_lit(b, ",\"check_id\":");
		if (row->check_id > 0)
			buf_int(b, row->check_id);
		else
			buf_lit(b, "null");
		json_text_or_null(b, JSON_KEY(",\"step\":"), c, k, T_STEP);
		json_text_or_null(b, JSON_KEY(",\"value\":"), c, k, T_VALUE);
		json_text_or_null(b, JSON_KEY(",\"source\":"), c, k, T_SOURCE);
		json_text_or_null(b, JSON_KEY(",\"code_kind\":"), c, k, T_CODE_KIND);
		json_text_or_null(b, JSON_KEY(",\"code_hash\":"), c, k, T_CODE_HASH);
		json_text_or_null(b, JSON_KEY(",\"request_id\":"), c, k, T_REQUEST_ID);
		json_text_or_null(b, JSON_KEY(",\"detail\":"), c, k, T_DETAIL);
		json_text_or_null(b, JSON_KEY(",\"prev_hash\":"), c, k, T_PREV_HASH);
		json_text_or_null(b, JSON_KEY(",\"hash\":"), c, k, T_HASH);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

/* Counts a check into its day and lane, as the summary's SQL did over check_export:
 * the day is date(time / 1000, 'unixepoch', 'localtime'). 1 or negative errno. */
static int tally_add(struct export_pass *x, int64_t time_ms, const char *const *v)
{
	struct export_tally *t = x->tally;
	const char *lane = v[COL_LANE] ? v[COL_LANE] : "", *verdict = v[COL_VERDICT];
	bool granted = v[COL_GRANT_DIR][0] != '\0', passed = !strcmp(v[COL_GATE], "passed");
	struct tally_group *g = NULL;
	char day[40];
	int r;

	/* SQL's integer division truncates toward zero, as C's does. */
	r = export_format_time(&x->clock, time_ms / 1000 * 1000, day);
	if (r < 0)
		return r;
	day[10] = '\0';
	/* Time mostly moves forward: the group is among the last few. */
	for (size_t i = t->n; i-- > 0;) {
		if (!strcmp(t->g[i].day, day) && !strcmp(t->g[i].lane, lane)) {
			g = &t->g[i];
			break;
		}
	}
	if (!g) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 16;
			struct tally_group *p = realloc(t->g, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			t->g = p;
			t->cap = cap;
		}
		g = &t->g[t->n];
		*g = (struct tally_group){.lane = strdup(lane)};
		if (!g->lane)
			return -ENOMEM;
		memcpy(g->day, day, sizeof(g->day));
		t->n++;
	}
	g->count[TALLY_CHECKS]++;
	g->count[TALLY_ENTRIES] += passed && !strcmp(v[COL_GRANT_DIR], "a");
	g->count[TALLY_EXITS] += passed && !strcmp(v[COL_GRANT_DIR], "b");
	g->count[TALLY_REJECTED] += !granted && !strcmp(verdict, "valid");
	g->count[TALLY_MANUAL] += granted && v[COL_SOURCE] && !strcmp(v[COL_SOURCE], "manual");
	g->count[TALLY_NOT_PASSED] += !strcmp(v[COL_GATE], "not_passed");
	if (!granted && strcmp(verdict, "valid") != 0) {
		int k = 0;

		g->count[TALLY_DENIED]++;
		while (k < g->nreasons && strcmp(g->reasons[k].verdict, verdict) != 0)
			k++;
		if (k == g->nreasons) {
			struct tally_reason *p = realloc(g->reasons, (size_t)(k + 1) * sizeof(*p));

			if (!p)
				return -ENOMEM;
			g->reasons = p;
			p[k] = (struct tally_reason){.verdict = strdup(verdict)};
			if (!p[k].verdict)
				return -ENOMEM;
			g->nreasons++;
		}
		g->reasons[k].n++;
	}
	return 1;
}

/* The record of one complete check, as the check_export view has it: the last step
 * of each kind wins. 1: written, 0: filtered out by verdict, negative errno. */
static int export_check_out(struct export_pass *x, const struct export_check *c)
{
	const char *v[COL_COUNT] = {NULL}, *vdetail = NULL;
	size_t n[COL_COUNT] = {0};
	char time_buf[40], *printed = NULL;
	struct export_buf *b = &x->buf;
	int r;

	v[COL_LANE] = row_text(c, 0, T_LANE);
	n[COL_LANE] = row_len(c, 0, T_LANE);
	v[COL_SOURCE] = row_text(c, 0, T_SOURCE);
	n[COL_SOURCE] = row_len(c, 0, T_SOURCE);
	v[COL_CODE_KIND] = row_text(c, 0, T_CODE_KIND);
	n[COL_CODE_KIND] = row_len(c, 0, T_CODE_KIND);
	v[COL_REQUEST_ID] = row_text(c, 0, T_REQUEST_ID);
	n[COL_REQUEST_ID] = row_len(c, 0, T_REQUEST_ID);
	v[COL_VERDICT] = "none";
	v[COL_ATTENDANT] = "not_required";
	v[COL_GRANT_DIR] = "";
	v[COL_GATE] = "none";
	for (int k = 1; k < c->n; k++) {
		const char *step = row_text(c, k, T_STEP), *value = row_text(c, k, T_VALUE);
		int col;

		if (!step || !value)
			continue;
		if (!strcmp(step, "verdict")) {
			col = COL_VERDICT;
			vdetail = row_text(c, k, T_DETAIL);
		} else if (!strcmp(step, "attendant")) {
			col = COL_ATTENDANT;
		} else if (!strcmp(step, "grant")) {
			col = COL_GRANT_DIR;
		} else if (!strcmp(step, "gate")) {
			col = COL_GATE;
		} else {
			continue;
		}
		v[col] = value;
		n[col] = row_len(c, k, T_VALUE);
	}
	for (int i = COL_VERDICT; i <= COL_GRANT_DIR; i++) {
		if (!n[i])
			n[i] = strlen(v[i]);
	}
	if (x->filter->verdict && strcmp(x->filter->verdict, v[COL_VERDICT]) != 0)
		return 0;
	if (x->tally)
		return tally_add(x, c->rows[0].time, v);
	r = export_format_time(&x->clock, c->rows[0].time, time_buf);
	if (r < 0)
		return r;
	v[COL_TIME] = time_buf;
	n[COL_TIME] = (size_t)r;
	export_reason(vdetail, &v[COL_REASON], &n[COL_REASON], &printed);

	if (x->format == EXPORT_CSV) {
		buf_int(b, c->id);
	} else {
		buf_lit(b, "{\"check_id\":");
		buf_int(b, c->id);
	}
	for (int i = COL_TIME; i < COL_COUNT; i++) {
		if (x->format == EXPORT_CSV) {
			buf_putc(b, ',');
			csv_field(b, v[i], n[i]);
		} else {
			buf_lit(b, ",\"");
			buf_puts(b, export_names[i]);
			buf_lit(b, "\":");
			json_string(b, v[i] ? v[i] : "", n[i]);
		}
	}
	if (x->format != EXPORT_CSV) {
		buf_lit(b, ",\"time_ms\":");
		buf_int(b, c->rows[0].time);
	}
	export_rows(b, c, x->format);
	if (x->format == EXPORT_CSV)
		buf_lit(b, "\r\n");
	else
		buf_lit(b, "}\n");
	free(printed);
	return b->err ? b->err : 1;
}

/* --- the pass ---------------------------------------------------------------------- */

static struct export_check *window_at(struct export_pass *x, int i)
{
	return &x->ring[(x->head + i) % EXPORT_WINDOW];
}

/* Moves the last cursor to its next index entry. */
static int last_next(struct export_pass *x)
{
	int rc = sqlite3_step(x->last);

	if (rc == SQLITE_ROW) {
		x->last_check = sqlite3_column_int64(x->last, 0);
		x->last_row = sqlite3_column_int64(x->last, 1);
		return 0;
	}
	x->last_done = true;
	return rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
}

/* The id of check_id's last row, from the last cursor (which only moves forward, as
 * checks enter the window in id order). */
static int window_last_id(struct export_pass *x, int64_t check_id, int64_t *last)
{
	int r = 0;

	*last = check_id;
	if (!x->last_started) {
		x->last_started = true;
		r = last_next(x);
	}
	while (r == 0 && !x->last_done && x->last_check <= check_id) {
		if (x->last_check == check_id && x->last_row > *last)
			*last = x->last_row;
		r = last_next(x);
	}
	return r;
}

/* Writes the oldest check and drops it from the window. */
static int window_emit(struct export_pass *x)
{
	struct export_check *c = window_at(x, 0);
	int r = export_check_out(x, c);

	if (r < 0)
		return r;
	x->written += (uint64_t)r;
	c->n = 0;
	c->used = 0;
	x->head = (x->head + 1) % EXPORT_WINDOW;
	x->count--;
	return buf_flush(&x->buf, x->out, false);
}

/* The window is full: completes its oldest check by looking up the rows the pass has
 * not reached yet (after upto), and writes it. */
static int window_force(struct export_pass *x, int64_t upto)
{
	struct export_check *c = window_at(x, 0);
	int rc, r = 0;

	if (!x->rest) {
		rc = sqlite3_prepare_v2(x->db, rest_sql, -1, &x->rest, NULL);
		if (rc != SQLITE_OK)
			return sqlite_errno(rc);
	}
	sqlite3_bind_int64(x->rest, 1, c->id);
	sqlite3_bind_int64(x->rest, 2, upto);
	while (r == 0 && (rc = sqlite3_step(x->rest)) == SQLITE_ROW)
		r = check_add(c, x->rest, x->format);
	if (r == 0 && rc != SQLITE_DONE)
		r = sqlite_errno(rc);
	sqlite3_reset(x->rest);
	return r < 0 ? r : window_emit(x);
}

/* The open check with this id, by binary search (the window is in id order). */
static struct export_check *window_find(struct export_pass *x, int64_t check_id)
{
	int lo = 0, hi = x->count - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		struct export_check *c = window_at(x, mid);

		if (c->id == check_id)
			return c;
		if (c->id < check_id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* One row of the pass. */
static int export_pass_row(struct export_pass *x, int64_t hi)
{
	sqlite3_stmt *stmt = x->pass;
	int64_t id = sqlite3_column_int64(stmt, 0);
	const char *step;
	struct export_check *c;
	int r;

	if (sqlite3_column_type(stmt, 3) != SQLITE_NULL) {
		int64_t check_id = sqlite3_column_int64(stmt, 3);

		if (!x->count || check_id < window_at(x, 0)->id)
			return 0;
		c = window_find(x, check_id);
		return c ? check_add(c, stmt, x->format) : 0;
	}
	step = (const char *)sqlite3_column_text(stmt, 4);
	if (id > hi || !step || strcmp(step, "scan") != 0)
		return 0;
	if (sqlite3_column_int64(stmt, 1) < x->filter->since_ms ||
	    sqlite3_column_int64(stmt, 1) >= x->filter->until_ms)
		return 0;
	if (x->filter->lane) {
		const char *lane = (const char *)sqlite3_column_text(stmt, 2);

		if (!lane || strcmp(lane, x->filter->lane) != 0)
			return 0;
	}
	if (x->count == EXPORT_WINDOW) {
		r = window_force(x, id);
		if (r < 0)
			return r;
	}
	c = window_at(x, x->count);
	c->id = id;
	c->n = 0;
	c->used = 0;
	r = window_last_id(x, id, &c->last_id);
	if (r < 0)
		return r;
	x->count++;
	return check_add(c, stmt, x->format);
}

/* The first and last scan id the filter can take; *empty when there is none. */
static int export_bounds(sqlite3 *db, const struct export_filter *filter, int64_t *lo,
			 int64_t *hi, bool *empty)
{
	sqlite3_stmt *stmt;
	int rc, r = 0;

	*lo = 0;
	*hi = INT64_MAX;
	*empty = false;
	if (filter->since_ms == INT64_MIN && filter->until_ms == INT64_MAX)
		return 0;
	rc = sqlite3_prepare_v2(db, bounds_sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_errno(rc);
	sqlite3_bind_int64(stmt, 1, filter->since_ms);
	sqlite3_bind_int64(stmt, 2, filter->until_ms);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*empty = sqlite3_column_type(stmt, 0) == SQLITE_NULL;
		*lo = sqlite3_column_int64(stmt, 0);
		*hi = sqlite3_column_int64(stmt, 1);
	} else {
		r = sqlite_errno(rc);
	}
	sqlite3_finalize(stmt);
	return r;
}

static void export_header(struct export_buf *b, enum export_format format)
{
	if (format != EXPORT_CSV)
		return;
	for (int i = 0; i < COL_COUNT; i++) {
		if (i)
			buf_putc(b, ',');
		buf_puts(b, export_names[i]);
	}
	buf_lit(b, ",row_hashes\r\n");
}

static int export_pass_run(struct export_pass *x)
{
	int64_t lo, hi;
	bool empty;
	int rc, r;

	if (!x->tally)
		export_header(&x->buf, x->format);
	r = export_bounds(x->db, x->filter, &lo, &hi, &empty);
	if (r < 0 || empty)
		return r;
	rc = sqlite3_prepare_v2(x->db, pass_sql, -1, &x->pass, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(x->db, last_sql, -1, &x->last, NULL);
	if (rc != SQLITE_OK)
		return sqlite_errno(rc);
	sqlite3_bind_int64(x->pass, 1, lo);
	sqlite3_bind_int64(x->last, 1, lo);
	sqlite3_bind_int64(x->last, 2, hi);

	while ((rc = sqlite3_step(x->pass)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(x->pass, 0);

		r = export_pass_row(x, hi);
		/* Every check whose last row has been read is complete; they go out
		 * oldest first. */
		while (r == 0 && x->count && window_at(x, 0)->last_id <= id)
			r = window_emit(x);
		if (r < 0)
			return r;
		if (id >= hi && !x->count)
			return 0;
	}
	if (rc != SQLITE_DONE)
		return sqlite_errno(rc);
	/* The snapshot has no more rows: whatever is open is complete. */
	while (x->count) {
		r = window_emit(x);
		if (r < 0)
			return r;
	}
	return 0;
}

static void tally_write(const struct export_tally *t, enum export_format format,
			struct export_buf *b);

/* The pass; with tally, the checks are counted into it and the summary written at
 * the end. */
static int export_pass_do(sqlite3 *db, const struct export_filter *filter,
			  enum export_format format, FILE *out, struct export_tally *tally,
			  uint64_t *rows)
{
	struct export_pass *x;
	int r, rc;

	if (rows)
		*rows = 0;
	if (!db || !filter || !out || (format != EXPORT_CSV && format != EXPORT_JSONL))
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->tally = tally;
	x->filter = filter;
	x->format = format;
	x->out = out;
	x->db = db;
	x->clock.slot = INT64_MIN;

	/* One read transaction: both cursors (and any lookup) see one snapshot. */
	rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	r = rc == SQLITE_OK ? export_pass_run(x) : sqlite_errno(rc);
	sqlite3_finalize(x->pass);
	sqlite3_finalize(x->last);
	sqlite3_finalize(x->rest);
	if (rc == SQLITE_OK)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (tally && r == 0) {
		tally_write(tally, format, &x->buf);
		x->written = tally->n;
	}

	/* What was complete is written even when the export stopped on an error. */
	rc = buf_flush(&x->buf, out, true);
	if (r == 0)
		r = rc;
	if (fflush(out) != 0 || ferror(out))
		r = r ? r : -EIO;
	if (rows)
		*rows = x->written;
	for (int i = 0; i < EXPORT_WINDOW; i++) {
		free(x->ring[i].rows);
		free(x->ring[i].arena);
	}
	free(x->buf.p);
	free(x);
	return r;
}

int export_run(sqlite3 *db, const struct export_filter *filter, enum export_format format,
	       FILE *out, uint64_t *rows)
{
	return export_pass_do(db, filter, format, out, NULL, rows);
}

/* --- summary ------------------------------------------------------------------------ */

static const char *const summary_names[] = {"day",     "lane",     "checks",       "entries",
					    "exits",   "denied",   "rejected",     "manual_opens",
					    "not_passed", "denied_by_reason"};

static int tally_cmp(const void *a, const void *b)
{
	const struct tally_group *x = a, *y = b;
	int c = strcmp(x->day, y->day);

	return c ? c : strcmp(x->lane, y->lane);
}

static int reason_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tally_reason *)a)->verdict,
		      ((const struct tally_reason *)b)->verdict);
}

/* The groups ordered by day and lane, each with its denials by verdict in verdict
 * order ("expired:1 used:2"). */
static void tally_write(const struct export_tally *t, enum export_format format,
			struct export_buf *b)
{
	if (format == EXPORT_CSV) {
		for (int i = 0; i < 10; i++) {
			if (i)
				buf_putc(b, ',');
			buf_puts(b, summary_names[i]);
		}
		buf_lit(b, "\r\n");
	}
	if (t->n)
		qsort(t->g, t->n, sizeof(t->g[0]), tally_cmp);
	for (size_t i = 0; i < t->n; i++) {
		struct tally_group *g = &t->g[i];
		struct export_buf reasons = {NULL, 0, 0, 0};

		if (g->nreasons)
			qsort(g->reasons, (size_t)g->nreasons, sizeof(g->reasons[0]), reason_cmp);
		for (int k = 0; k < g->nreasons; k++) {
			if (k)
				buf_putc(&reasons, ' ');
			buf_puts(&reasons, g->reasons[k].verdict);
			buf_putc(&reasons, ':');
			buf_int(&reasons, (int64_t)g->reasons[k].n);
		}
		if (format == EXPORT_CSV) {
			csv_field(b, g->day, strlen(g->day));
			buf_putc(b, ',');
			csv_field(b, g->lane, strlen(g->lane));
			for (int c = 0; c < TALLY_COUNT; c++) {
				buf_putc(b, ',');
				buf_int(b, (int64_t)g->count[c]);
			}
			buf_putc(b, ',');
			csv_field(b, reasons.p, reasons.len);
			buf_lit(b, "\r\n");
		} else {
			buf_lit(b, "{\"day\":");
			json_string(b, g->day, strlen(g->day));
			buf_lit(b, ",\"lane\":");
			json_string(b, g->lane, strlen(g->lane));
			for (int c = 0; c < TALLY_COUNT; c++) {
				buf_lit(b, ",\"");
				buf_puts(b, summary_names[2 + c]);
				buf_lit(b, "\":");
				buf_int(b, (int64_t)g->count[c]);
			}
			buf_lit(b, ",\"denied_by_reason\":");
			/* json_string() wants a non-continuation byte after the text. */
			buf_putc(&reasons, '\0');
			json_string(b, reasons.p, reasons.len - 1);
			buf_lit(b, "}\n");
		}
		if (reasons.err)
			b->err = reasons.err;
		free(reasons.p);
	}
}

/* The summary rides on the same pass as the records, so its counts are the records'
 * by construction; memory grows with the number of (day, lane) groups, not checks. */
int export_summary(sqlite3 *db, const struct export_filter *filter, enum export_format format,
		   FILE *out, uint64_t *rows)
{
	struct export_tally t = {NULL, 0, 0};
	int r = export_pass_do(db, filter, format, out, &t, rows);

	for (size_t i = 0; i < t.n; i++) {
		for (int k = 0; k < t.g[i].nreasons; k++)
			free(t.g[i].reasons[k].verdict);
		free(t.g[i].reasons);
		free(t.g[i].lane);
	}
	free(t.g);
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
