/* export.c: one record per check, as CSV or JSON Lines, and the per-day summary.
 *
 * The records are kept in table checks (schema 0004, checkrec.h) as the journal
 * grows, so an export is one ordered read of that table: a rowid range (the scans
 * of the time filter, found on journal_scan_time) in one read transaction, which
 * keeps it consistent while the daemon appends. Each record is decoded into views of
 * the row SQLite hands out and formatted into one reused buffer that is written
 * with fwrite in large pieces; nothing is allocated per check, so memory is
 * SQLite's page cache and that buffer, whatever the journal's size. Earlier
 * versions assembled each check from its journal rows (about five per check): a
 * view (70 k checks/s), then one ordered pass over the journal (280 k checks/s);
 * reading the journal alone was four times the time budget (tests/bench/
 * bench_export.c).
 *
 * CSV follows RFC 4180: a header row, CRLF record ends, fields quoted only when
 * they contain a comma, quote, CR or LF, quotes doubled, UTF-8 without a BOM, text
 * passed through byte for byte. JSON Lines: one object per line, check_id and
 * time_ms numbers and every other field a string; the escaper is ours so that any
 * text comes out as valid JSON: control characters are escaped and bytes that are
 * not valid UTF-8 become U+FFFD. row_hashes and seal are hex, digits, colons and
 * spaces, and go out as they are. Local times come from a cache of the UTC offset
 * per quarter hour (offsets and their changes fall on quarter hours), with
 * localtime_r() for anything else.
 */
#include "export.h"
#include "checkrec.h"
#include "sqlite_errno.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT_BUSY_TIMEOUT_MS 5000
#define EXPORT_FLUSH (64 * 1024) /* output written in pieces of about this */
#define EXPORT_SCHEMA 4          /* the first schema with table checks */

/* The records of the checks in a rowid range, in check order. */
static const char pass_sql[] = "SELECT check_id, time, record, seal FROM checks"
			       " WHERE check_id >= ?1 AND check_id <= ?2 ORDER BY check_id";
/* The scans in a time range, found on journal_scan_time. */
static const char bounds_sql[] = "SELECT min(id), max(id) FROM journal"
				 " WHERE step = 'scan' AND time >= ?1 AND time < ?2";

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
	sqlite3_stmt *pass;
	struct export_buf buf;
	struct export_clock clock;
	uint64_t written;
	/* What comes before each field of a JSON Lines record: ,"lane": and so on. */
	char json_key[CR_FIELDS][32];
	size_t json_key_len[CR_FIELDS];
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

	/* The first read: catches a file that is not SQLite, and a journal that no
	 * daemon of this version has opened yet (no table checks to read from). */
	rc = sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto sqlite_error;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW)
		goto sqlite_error;
	if (sqlite3_column_int(stmt, 0) < EXPORT_SCHEMA) {
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
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	char tmp[24];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	int n = 0;

	/* Two digits a step: ids and Unix ms are what an export writes most. */
	while (u >= 100) {
		const char *d = pairs + 2 * (u % 100);

		tmp[sizeof(tmp) - 1 - n++] = d[1];
		tmp[sizeof(tmp) - 1 - n++] = d[0];
		u /= 100;
	}
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

/* A CSV field, quoted only when it holds a comma, quote, CR or LF (quotes doubled).
 * Fields are short: the bytes are copied as they are checked, and copied again
 * with quotes only when one of those turns up. */
static void csv_field(struct export_buf *b, const char *s, size_t n)
{
	char *start, *p;
	size_t i;

	if (!s || !buf_reserve(b, 2 * n + 2))
		return;
	start = p = b->p + b->len;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == ',' || c == '"' || c == '\r' || c == '\n')
			break;
		*p++ = c;
	}
	if (i < n) {
		p = start;
		*p++ = '"';
		for (i = 0; i < n; i++) {
			if (s[i] == '"')
				*p++ = '"';
			*p++ = s[i];
		}
		*p++ = '"';
	}
	b->len = (size_t)(p - b->p);
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

/* A byte a JSON string takes as it is: printable ASCII but quote and backslash. */
static bool json_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* A JSON string of n bytes of text (followed by a byte that is not a UTF-8
 * continuation, such as its NUL): plain ASCII and valid UTF-8 go out as they are,
 * the rest escaped. Written straight into room for the worst case (six bytes a
 * byte), as fields are short. */
static void json_string(struct export_buf *b, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)(text ? text : ""),
			    *e = s + (text ? len : 0);
	char *p;

	if (!buf_reserve(b, 6 * (size_t)(e - s) + 2))
		return;
	p = b->p + b->len;
	*p++ = '"';
	while (s < e) {
		unsigned char c = *s;
		size_t n;

		if (json_plain(c)) {
			*p++ = (char)c;
			s++;
			continue;
		}
		/* The checks in utf8_len stop at the first non-continuation byte, so a
		 * truncated sequence never reads past the end. */
		if (c >= 0x80 && (n = utf8_len(s)) != 0) {
			while (n--)
				*p++ = (char)*s++;
			continue;
		}
		s++;
		*p++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*p++ = (char)c;
			break;
		case '\b':
			*p++ = 'b';
			break;
		case '\f':
			*p++ = 'f';
			break;
		case '\n':
			*p++ = 'n';
			break;
		case '\r':
			*p++ = 'r';
			break;
		case '\t':
			*p++ = 't';
			break;
		default:
			if (c >= 0x80) {
				/* Not valid UTF-8: U+FFFD instead of the backslash. */
				memcpy(p - 1, "\xef\xbf\xbd", 3);
				p += 2;
			} else {
				memcpy(p, "u00", 3);
				p[3] = hex[c >> 4];
				p[4] = hex[c & 0xf];
				p += 5;
			}
		}
	}
	*p++ = '"';
	b->len = (size_t)(p - b->p);
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

/* --- records ----------------------------------------------------------------------- */

static bool rec_is(const struct checkrec *rec, enum checkrec_field f, const char *s)
{
	size_t n = strlen(s);

	return rec->len[f] == n && memcmp(rec->text[f], s, n) == 0;
}

/* Counts a check into its day and lane, as the summary's SQL did over check_export:
 * the day is date(time / 1000, 'unixepoch', 'localtime'). 1 or negative errno. */
static int tally_add(struct export_pass *x, int64_t time_ms, const struct checkrec *rec,
		     bool manual)
{
	struct export_tally *t = x->tally;
	const char *lane = rec->text[CR_LANE], *verdict = rec->text[CR_VERDICT];
	size_t lane_len = rec->len[CR_LANE], verdict_len = rec->len[CR_VERDICT];
	bool granted = rec->len[CR_GRANT_DIR] != 0, passed = rec_is(rec, CR_GATE, "passed");
	bool valid = rec_is(rec, CR_VERDICT, "valid");
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
		if (!strcmp(t->g[i].day, day) && strlen(t->g[i].lane) == lane_len &&
		    !memcmp(t->g[i].lane, lane, lane_len)) {
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
		*g = (struct tally_group){.lane = strndup(lane, lane_len)};
		if (!g->lane)
			return -ENOMEM;
		memcpy(g->day, day, sizeof(g->day));
		t->n++;
	}
	g->count[TALLY_CHECKS]++;
	g->count[TALLY_ENTRIES] += passed && rec_is(rec, CR_GRANT_DIR, "a");
	g->count[TALLY_EXITS] += passed && rec_is(rec, CR_GRANT_DIR, "b");
	g->count[TALLY_REJECTED] += !granted && valid;
	g->count[TALLY_MANUAL] += granted && manual;
	g->count[TALLY_NOT_PASSED] += rec_is(rec, CR_GATE, "not_passed");
	if (!granted && !valid) {
		int k = 0;

		g->count[TALLY_DENIED]++;
		while (k < g->nreasons && (strlen(g->reasons[k].verdict) != verdict_len ||
					   memcmp(g->reasons[k].verdict, verdict, verdict_len)))
			k++;
		if (k == g->nreasons) {
			struct tally_reason *p = realloc(g->reasons, (size_t)(k + 1) * sizeof(*p));

			if (!p)
				return -ENOMEM;
			g->reasons = p;
			p[k] = (struct tally_reason){.verdict = strndup(verdict, verdict_len)};
			if (!p[k].verdict)
				return -ENOMEM;
			g->nreasons++;
		}
		g->reasons[k].n++;
	}
	return 1;
}

/* One record of the pass: 1 written (or counted), 0 filtered out, negative errno. */
static int export_record(struct export_pass *x)
{
	sqlite3_stmt *stmt = x->pass;
	const struct export_filter *filter = x->filter;
	int64_t check_id = sqlite3_column_int64(stmt, 0), time_ms = sqlite3_column_int64(stmt, 1);
	const char *seal = (const char *)sqlite3_column_text(stmt, 3);
	const char *enc;
	struct export_buf *b = &x->buf;
	struct checkrec rec;
	char time_buf[40];
	int n;

	if (time_ms < filter->since_ms || time_ms >= filter->until_ms)
		return 0;
	enc = (const char *)sqlite3_column_text(stmt, 2);
	if (!enc || !seal || sqlite3_column_bytes(stmt, 3) != CHECKREC_SEAL_HEX_LEN ||
	    checkrec_decode(enc, (size_t)sqlite3_column_bytes(stmt, 2), &rec) < 0)
		return -EBADMSG;
	if ((filter->lane && !rec_is(&rec, CR_LANE, filter->lane)) ||
	    (filter->verdict && !rec_is(&rec, CR_VERDICT, filter->verdict)))
		return 0;
	if (x->tally)
		return tally_add(x, time_ms, &rec, rec_is(&rec, CR_SOURCE, "manual"));
	n = export_format_time(&x->clock, time_ms, time_buf);
	if (n < 0)
		return n;

	if (x->format == EXPORT_CSV) {
		buf_int(b, check_id);
		buf_putc(b, ',');
		buf_put(b, time_buf, (size_t)n);
		for (int f = 0; f < CR_ROWS; f++) {
			buf_putc(b, ',');
			csv_field(b, rec.text[f], rec.len[f]);
		}
		buf_putc(b, ',');
		buf_put(b, rec.text[CR_ROWS], rec.len[CR_ROWS]);
		buf_putc(b, ',');
		buf_put(b, seal, CHECKREC_SEAL_HEX_LEN);
		buf_lit(b, "\r\n");
	} else {
		buf_lit(b, "{\"check_id\":");
		buf_int(b, check_id);
		buf_lit(b, ",\"time\":\"");
		buf_put(b, time_buf, (size_t)n);
		buf_putc(b, '"');
		/* The texts of an encoding are each followed by a tag or the column's
		 * NUL: no UTF-8 continuation byte, as json_string() wants. */
		for (int f = 0; f < CR_ROWS; f++) {
			buf_put(b, x->json_key[f], x->json_key_len[f]);
			json_string(b, rec.text[f], rec.len[f]);
		}
		buf_lit(b, ",\"time_ms\":");
		buf_int(b, time_ms);
		buf_lit(b, ",\"row_hashes\":\"");
		buf_put(b, rec.text[CR_ROWS], rec.len[CR_ROWS]);
		buf_lit(b, "\",\"seal\":\"");
		buf_put(b, seal, CHECKREC_SEAL_HEX_LEN);
		buf_lit(b, "\"}\n");
	}
	return b->err ? b->err : 1;
}

/* --- the pass ---------------------------------------------------------------------- */

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
	buf_lit(b, "check_id,time");
	for (int f = 0; f < CR_FIELDS; f++) {
		buf_putc(b, ',');
		buf_puts(b, checkrec_names[f]);
	}
	buf_lit(b, ",seal\r\n");
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
	if (rc != SQLITE_OK)
		return sqlite_errno(rc);
	sqlite3_bind_int64(x->pass, 1, lo);
	sqlite3_bind_int64(x->pass, 2, hi);
	while ((rc = sqlite3_step(x->pass)) == SQLITE_ROW) {
		r = export_record(x);
		if (r < 0)
			return r;
		x->written += (uint64_t)r;
		r = buf_flush(&x->buf, x->out, false);
		if (r < 0)
			return r;
	}
	return rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
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
	for (int f = 0; f < CR_FIELDS; f++)
		x->json_key_len[f] = (size_t)snprintf(x->json_key[f], sizeof(x->json_key[f]),
						      ",\"%s\":", checkrec_names[f]);

	/* One read transaction: one snapshot for the bounds and the records. */
	rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	r = rc == SQLITE_OK ? export_pass_run(x) : sqlite_errno(rc);
	sqlite3_finalize(x->pass);
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
