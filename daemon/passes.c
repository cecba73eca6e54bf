/* passes.c: the 'passes' verifier: memberships and tickets kept in SQLite.
 *
 * Owns the passes and pass_uses tables (schema/0001_init.sql); the connection,
 * the migrations and the code-hash key belong to store.c. Every statement is
 * prepared once in passes_open(), savepoints included.
 *
 * Transactions: store.c keeps a group-commit transaction open for journal rows,
 * so nothing here may BEGIN or COMMIT. Writes run inside SAVEPOINT/RELEASE, which
 * nests inside that transaction or acts as BEGIN/COMMIT when none is open; writes
 * that must survive a crash (import, consume, annul) then call store_sync() so the
 * enclosing transaction is committed. A reservation rides with its grant: the
 * relay waits for that commit (station.c), asked with store_commit_soon() so that
 * grants of several lanes share it.
 *
 * Import parses RFC 4180 CSV in one pass, validates each row and upserts it
 * inside one savepoint: any error rolls the whole file back. An upsert keeps the
 * row id of a code already present so its past uses still count. Duplicates
 * within a file are found by the code hash (the clear code is never kept).
 *
 * Times: passes.valid_from/valid_until are Unix seconds (until exclusive);
 * pass_uses.created/settled and passes.imported_at are Unix milliseconds. Dates
 * in the CSV and "today" for the daily limit are local time (TZ).
 *
 * Usage rules (ticket single use, daily limit, pass-back) are evaluated by
 * passes_check() and again by passes_reserve() inside its savepoint, so two lanes
 * that both checked the same ticket cannot both reserve it (-EALREADY).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "passes.h"

#define PASSES_CODE_MAX 512
#define PASSES_HOLDER_MAX 128
#define PASSES_ZONE_MAX 64
#define PASSES_USES_PER_DAY_MAX 1000
#define PASSES_PASS_BACK_MAX 1440

enum passes_stmt {
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_FIND_HASH,
	ST_FIND_ID,
	ST_COUNT_USES,
	ST_UPSERT,
	ST_INSERT_USE,
	ST_SETTLE_USE,
	ST_USE_STATE,
	ST_ANNUL_PENDING,
	ST_LIST,
	ST_COUNT
};

static const char *const passes_sql[ST_COUNT] = {
	[ST_SAVEPOINT] = "SAVEPOINT passes",
	[ST_RELEASE] = "RELEASE passes",
	[ST_ROLLBACK_TO] = "ROLLBACK TO passes",
	[ST_FIND_HASH] = "SELECT id, kind, holder, valid_from, valid_until, uses_per_day, "
			 "pass_back_min, zone FROM passes WHERE code_hash = ?1",
	[ST_FIND_ID] = "SELECT kind, uses_per_day, pass_back_min FROM passes WHERE id = ?1",
	[ST_COUNT_USES] = "SELECT count(*) FROM pass_uses WHERE pass_id = ?1 "
			  "AND state IN ('pending', 'consumed') AND created >= ?2",
	[ST_UPSERT] = "INSERT INTO passes (code_hash, kind, holder, valid_from, valid_until, "
		      "uses_per_day, pass_back_min, zone, imported_at) "
		      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
		      "ON CONFLICT (code_hash) DO UPDATE SET kind = excluded.kind, "
		      "holder = excluded.holder, valid_from = excluded.valid_from, "
		      "valid_until = excluded.valid_until, uses_per_day = excluded.uses_per_day, "
		      "pass_back_min = excluded.pass_back_min, zone = excluded.zone, "
		      "imported_at = excluded.imported_at",
	[ST_INSERT_USE] = "INSERT INTO pass_uses (pass_id, lane, state, created) "
			  "VALUES (?1, ?2, 'pending', ?3)",
	[ST_SETTLE_USE] = "UPDATE pass_uses SET state = ?2, settled = ?3 "
			  "WHERE id = ?1 AND state = 'pending'",
	[ST_USE_STATE] = "SELECT state FROM pass_uses WHERE id = ?1",
	[ST_ANNUL_PENDING] = "UPDATE pass_uses SET state = 'annulled', settled = ?1 "
			     "WHERE state = 'pending'",
	[ST_LIST] = "SELECT p.kind, p.holder, p.valid_from, p.valid_until, p.uses_per_day, "
		    "p.pass_back_min, p.zone, (SELECT count(*) FROM pass_uses u "
		    "WHERE u.pass_id = p.id AND u.state = 'consumed') FROM passes p ORDER BY p.id",
};

struct passes {
	struct store *store;
	sqlite3 *db;
	struct passes_policy policy;
	sqlite3_stmt *st[ST_COUNT];
};

/* ---- small helpers ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Steps a statement that returns no row; resets it. 0 or -EIO. */
static int exec_stmt(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int sp_begin(struct passes *p)
{
	return exec_stmt(p->st[ST_SAVEPOINT]);
}

static int sp_release(struct passes *p)
{
	return exec_stmt(p->st[ST_RELEASE]);
}

/* ROLLBACK TO keeps the savepoint open; RELEASE pops it (committing nothing). */
static void sp_rollback(struct passes *p)
{
	exec_stmt(p->st[ST_ROLLBACK_TO]);
	exec_stmt(p->st[ST_RELEASE]);
}

/* Releases the savepoint; if that fails (a commit that could not happen), rolls back. */
static int sp_end(struct passes *p, int err)
{
	if (err == 0) {
		err = sp_release(p);
		if (err == 0)
			return 0;
	}
	sp_rollback(p);
	return err;
}

/* Copies src into dst (size dstlen), cut at a UTF-8 character boundary, line
 * breaks and tabs made spaces (a title is one line). */
static void copy_utf8(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src), i;

	if (dstlen == 0)
		return;
	if (n >= dstlen) {
		n = dstlen - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		dst[i] = (src[i] == '\n' || src[i] == '\r' || src[i] == '\t') ? ' ' : src[i];
	dst[n] = '\0';
}

static void format_local(char *buf, size_t len, int64_t secs)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(buf, len, "%d.%m.%Y %H:%M", &tm) == 0)
		snprintf(buf, len, "?");
}

/* Start of the local day containing now_ms, in ms. */
static int64_t local_midnight_ms(int64_t now_ms)
{
	time_t t = (time_t)floor_div(now_ms, 1000);
	struct tm tm;
	time_t m;

	if (localtime_r(&t, &tm) == NULL)
		return floor_div(now_ms, 86400000) * 86400000;
	tm.tm_hour = 0;
	tm.tm_min = 0;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	m = mktime(&tm);
	if (m == (time_t)-1)
		return floor_div(now_ms, 86400000) * 86400000;
	return (int64_t)m * 1000;
}

/* Pending and consumed uses of pass_id created at or after since_ms; <0 on error. */
static int64_t count_uses(struct passes *p, int64_t pass_id, int64_t since_ms)
{
	sqlite3_stmt *st = p->st[ST_COUNT_USES];
	int64_t n = -EIO;

	sqlite3_bind_int64(st, 1, pass_id);
	sqlite3_bind_int64(st, 2, since_ms);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

/* The usage rules. *verdict stays VALID when the pass may be used now; otherwise
 * USED with reason set. 0 or -EIO. */
static int check_usage(struct passes *p, int64_t pass_id, bool ticket, int uses_per_day,
		       int pass_back_min, int64_t now_ms, enum lane_verdict *verdict,
		       const char **reason)
{
	int64_t n;

	*verdict = LANE_VERDICT_VALID;
	if (ticket) {
		n = count_uses(p, pass_id, INT64_MIN);
		if (n < 0)
			return (int)n;
		if (n > 0) {
			*verdict = LANE_VERDICT_USED;
			*reason = "already used";
		}
		return 0;
	}
	if (uses_per_day > 0) {
		n = count_uses(p, pass_id, local_midnight_ms(now_ms));
		if (n < 0)
			return (int)n;
		if (n >= uses_per_day) {
			*verdict = LANE_VERDICT_USED;
			*reason = "daily limit reached";
			return 0;
		}
	}
	if (pass_back_min > 0) {
		/* "within N minutes": created > now - N min */
		n = count_uses(p, pass_id, now_ms - (int64_t)pass_back_min * 60000 + 1);
		if (n < 0)
			return (int)n;
		if (n > 0) {
			*verdict = LANE_VERDICT_USED;
			*reason = "pass-back: re-entry too soon";
		}
	}
	return 0;
}

/* ---- open / close ---- */

int passes_open(struct passes **out, struct store *store, const struct passes_policy *policy)
{
	struct passes *p;
	int i;

	if (out == NULL || store == NULL)
		return -EINVAL;
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->store = store;
	p->db = store_db(store);
	if (p->db == NULL)
		goto error;
	if (policy != NULL)
		p->policy = *policy;
	for (i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(p->db, passes_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &p->st[i], NULL) != SQLITE_OK)
			goto error;
	}
	*out = p;
	return 0;
error:
	passes_close(p);
	return -EIO;
}

void passes_close(struct passes *passes)
{
	int i;

	if (passes == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(passes->st[i]);
	free(passes);
}

/* ---- CSV import ---- */

enum csv_col {
	COL_CODE,
	COL_KIND,
	COL_HOLDER,
	COL_VALID_FROM,
	COL_VALID_UNTIL,
	COL_USES_PER_DAY,
	COL_PASS_BACK_MIN,
	COL_ZONE,
	COL_COUNT
};

static const char *const csv_col_name[COL_COUNT] = {
	[COL_CODE] = "code",
	[COL_KIND] = "kind",
	[COL_HOLDER] = "holder",
	[COL_VALID_FROM] = "valid_from",
	[COL_VALID_UNTIL] = "valid_until",
	[COL_USES_PER_DAY] = "uses_per_day",
	[COL_PASS_BACK_MIN] = "pass_back_min",
	[COL_ZONE] = "zone",
};

#define COL_REQUIRED_COUNT 5 /* code .. valid_until */

struct csv_field {
	size_t off, len; /* into csv.buf, NUL-terminated there */
	unsigned line;   /* physical line the field starts on */
};

struct csv {
	const char *text;
	size_t len, pos;
	unsigned line; /* current physical line, 1-based */
	char *buf;     /* unescaped fields of the current record */
	size_t buflen, bufcap;
	struct csv_field f[COL_COUNT];
	size_t nfields; /* fields in the record (may exceed COL_COUNT; extra ones not kept) */
	unsigned rec_line;
};

struct import_ctx {
	char *err;
	size_t errlen;
};

static int import_fail(struct import_ctx *ic, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int import_fail(struct import_ctx *ic, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ic->err != NULL && ic->errlen > 0) {
		n = snprintf(ic->err, ic->errlen, "line %u: ", line);
		if (n >= 0 && (size_t)n < ic->errlen) {
			va_start(ap, fmt);
			vsnprintf(ic->err + n, ic->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

static int csv_putc(struct csv *c, char ch)
{
	char *nb;
	size_t cap;

	if (c->buflen + 1 >= c->bufcap) {
		cap = c->bufcap ? c->bufcap * 2 : 256;
		nb = realloc(c->buf, cap);
		if (nb == NULL)
			return -ENOMEM;
		c->buf = nb;
		c->bufcap = cap;
	}
	c->buf[c->buflen++] = ch;
	return 0;
}

static int csv_at_eol(const struct csv *c)
{
	if (c->pos >= c->len)
		return 1;
	if (c->text[c->pos] == '\n')
		return 1;
	if (c->text[c->pos] == '\r' && c->pos + 1 < c->len && c->text[c->pos + 1] == '\n')
		return 1;
	return 0;
}

/* Consumes a line end (LF or CRLF) if one is at pos. */
static void csv_skip_eol(struct csv *c)
{
	if (c->pos < c->len && c->text[c->pos] == '\r')
		c->pos++;
	if (c->pos < c->len && c->text[c->pos] == '\n') {
		c->pos++;
		c->line++;
	}
}

/* Reads one record into c->f. Returns 1 with a record, 0 at end of text, <0 on error. */
static int csv_record(struct csv *c, struct import_ctx *ic)
{
	unsigned fline;
	size_t start;
	char ch;

	if (c->pos >= c->len)
		return 0;
	c->buflen = 0;
	c->nfields = 0;
	c->rec_line = c->line;
	for (;;) {
		fline = c->line;
		start = c->buflen;
		if (c->pos < c->len && c->text[c->pos] == '"') {
			c->pos++;
			for (;;) {
				if (c->pos >= c->len)
					return import_fail(ic, fline, "unterminated quoted field");
				ch = c->text[c->pos++];
				if (ch == '"') {
					if (c->pos < c->len && c->text[c->pos] == '"')
						c->pos++;
					else
						break;
				} else if (ch == '\n') {
					c->line++;
				}
				if (csv_putc(c, ch) < 0)
					return -ENOMEM;
			}
			if (!csv_at_eol(c) && c->text[c->pos] != ',')
				return import_fail(ic, c->line, "text after a closing quote");
		} else {
			while (!csv_at_eol(c) && c->text[c->pos] != ',') {
				ch = c->text[c->pos++];
				if (ch == '"')
					return import_fail(ic, c->line,
							   "quote inside an unquoted field");
				if (csv_putc(c, ch) < 0)
					return -ENOMEM;
			}
		}
		if (csv_putc(c, '\0') < 0)
			return -ENOMEM;
		if (c->nfields < COL_COUNT) {
			c->f[c->nfields].off = start;
			c->f[c->nfields].len = c->buflen - 1 - start;
			c->f[c->nfields].line = fline;
		}
		c->nfields++;
		if (csv_at_eol(c)) {
			csv_skip_eol(c);
			return 1;
		}
		c->pos++; /* the comma */
	}
}

static const char *csv_str(const struct csv *c, size_t i)
{
	return c->buf + c->f[i].off;
}

/* A record that is one empty unquoted field: an empty line. */
static bool csv_blank(const struct csv *c)
{
	return c->nfields == 1 && c->f[0].len == 0;
}

/* Only line ends remain? */
static bool csv_rest_blank(const struct csv *c)
{
	size_t i;

	for (i = c->pos; i < c->len; i++)
		if (c->text[i] != '\n' && c->text[i] != '\r')
			return false;
	return true;
}

static bool printable_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* Well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF) and no control
 * characters, except line breaks and tabs when breaks is set (a spreadsheet cell
 * with a manual line break). */
static bool valid_text(const char *s, size_t len, bool breaks)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n, k;
	uint32_t cp, min;

	while (i < len) {
		if (u[i] < 0x80) {
			if ((u[i] < 0x20 || u[i] == 0x7f) &&
			    !(breaks && (u[i] == '\n' || u[i] == '\r' || u[i] == '\t')))
				return false;
			i++;
			continue;
		}
		if ((u[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = u[i] & 0x1f;
			min = 0x80;
		} else if ((u[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = u[i] & 0x0f;
			min = 0x800;
		} else if ((u[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = u[i] & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((u[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (u[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		if (cp >= 0x80 && cp <= 0x9f) /* C1 controls */
			return false;
		i += n + 1;
	}
	return true;
}

/* Reads exactly n decimal digits. */
static bool digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* "YYYY-MM-DD" (day_end: the next local midnight, else this one) or
 * "YYYY-MM-DDTHH:MM[:SS]", local time, to Unix seconds. */
static bool parse_time(const char *s, size_t len, bool day_end, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	struct tm tm;
	time_t t;

	if (len != 10 && len != 16 && len != 19)
		return false;
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (len > 10) {
		if (s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
		    !digits(s + 14, 2, &mi))
			return false;
		if (len == 19 && (s[16] != ':' || !digits(s + 17, 2, &sec)))
			return false;
		if (h > 23 || mi > 59 || sec > 59)
			return false;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d + (len == 10 && day_end ? 1 : 0); /* mktime normalises */
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1)
		return false;
	*out = (int64_t)t;
	return true;
}

static bool parse_int(const char *s, size_t len, int max, int *out)
{
	int v = 0;
	size_t i;

	if (len == 0) {
		*out = 0;
		return true;
	}
	if (len > 5)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Column name as safe text for a message. */
static void safe_name(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t i, n = len < dstlen - 1 ? len : dstlen - 1;

	for (i = 0; i < n; i++)
		dst[i] = (s[i] >= 0x20 && s[i] <= 0x7e && s[i] != '"') ? s[i] : '?';
	dst[n] = '\0';
}

/* Duplicate detection within one file: open addressing on the (uniform) HMAC hex. */
struct seen_entry {
	char hash[STORE_HASH_HEX_LEN + 1];
	unsigned line; /* 0: empty slot */
};

struct seen {
	struct seen_entry *e;
	size_t cap, count;
};

static size_t seen_slot(const struct seen_entry *e, size_t cap, const char *hash)
{
	size_t i = 0;
	int k;

	for (k = 0; k < 8; k++) /* lowercase hex from store_code_hash */
		i = (i << 4) | (size_t)(hash[k] <= '9' ? hash[k] - '0' : hash[k] - 'a' + 10);
	for (i &= cap - 1; e[i].line != 0 && strcmp(e[i].hash, hash) != 0; i = (i + 1) & (cap - 1))
		;
	return i;
}

/* 0 and *first = 0 when new (added), *first = its line when seen; -ENOMEM. */
static int seen_add(struct seen *s, const char *hash, unsigned line, unsigned *first)
{
	struct seen_entry *ne;
	size_t i, cap, slot;

	if ((s->count + 1) * 2 > s->cap) {
		cap = s->cap ? s->cap * 2 : 64;
		ne = calloc(cap, sizeof(*ne));
		if (ne == NULL)
			return -ENOMEM;
		for (i = 0; i < s->cap; i++) {
			if (s->e[i].line != 0)
				ne[seen_slot(ne, cap, s->e[i].hash)] = s->e[i];
		}
		free(s->e);
		s->e = ne;
		s->cap = cap;
	}
	slot = seen_slot(s->e, s->cap, hash);
	if (s->e[slot].line != 0) {
		*first = s->e[slot].line;
		return 0;
	}
	memcpy(s->e[slot].hash, hash, sizeof(s->e[slot].hash));
	s->e[slot].line = line;
	s->count++;
	*first = 0;
	return 0;
}

/* Maps the header record to columns: colidx[field] = column. */
static int import_header(struct csv *c, struct import_ctx *ic, int *colidx)
{
	bool have[COL_COUNT] = {false};
	char name[40];
	size_t i;
	int k;

	if (csv_blank(c))
		return import_fail(ic, c->rec_line, "missing header");
	if (c->nfields > COL_COUNT)
		return import_fail(ic, c->rec_line, "too many columns (%zu)", c->nfields);
	for (i = 0; i < c->nfields; i++) {
		for (k = 0; k < COL_COUNT; k++) {
			if (strcmp(csv_str(c, i), csv_col_name[k]) == 0 &&
			    strlen(csv_col_name[k]) == c->f[i].len)
				break;
		}
		if (k == COL_COUNT) {
			safe_name(name, sizeof(name), csv_str(c, i), c->f[i].len);
			return import_fail(ic, c->f[i].line, "unknown column \"%s\"", name);
		}
		if (have[k])
			return import_fail(ic, c->f[i].line, "duplicate column \"%s\"",
					   csv_col_name[k]);
		have[k] = true;
		colidx[i] = k;
	}
	for (k = 0; k < COL_REQUIRED_COUNT; k++) {
		if (!have[k])
			return import_fail(ic, c->rec_line, "missing column \"%s\"",
					   csv_col_name[k]);
	}
	return 0;
}

struct import_row {
	const char *f[COL_COUNT]; /* NULL for an absent optional column */
	size_t len[COL_COUNT];
	unsigned line[COL_COUNT];
	bool ticket;
	int64_t from, until;
	int uses_per_day, pass_back_min;
};

static int import_validate(struct csv *c, struct import_ctx *ic, const int *colidx,
			   struct import_row *r)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < c->nfields; i++) {
		r->f[colidx[i]] = csv_str(c, i);
		r->len[colidx[i]] = c->f[i].len;
		r->line[colidx[i]] = c->f[i].line;
	}
	/* the clear code is a secret: never echoed in a message */
	if (r->len[COL_CODE] == 0)
		return import_fail(ic, r->line[COL_CODE], "code is empty");
	if (r->len[COL_CODE] > PASSES_CODE_MAX)
		return import_fail(ic, r->line[COL_CODE], "code longer than %d bytes",
				   PASSES_CODE_MAX);
	if (!printable_ascii(r->f[COL_CODE], r->len[COL_CODE]))
		return import_fail(ic, r->line[COL_CODE], "code is not printable ASCII");
	if (strcmp(r->f[COL_KIND], "ticket") == 0 && r->len[COL_KIND] == 6)
		r->ticket = true;
	else if (!(strcmp(r->f[COL_KIND], "membership") == 0 && r->len[COL_KIND] == 10))
		return import_fail(ic, r->line[COL_KIND], "kind must be membership or ticket");
	if (r->len[COL_HOLDER] == 0)
		return import_fail(ic, r->line[COL_HOLDER], "holder is empty");
	if (r->len[COL_HOLDER] > PASSES_HOLDER_MAX)
		return import_fail(ic, r->line[COL_HOLDER], "holder longer than %d bytes",
				   PASSES_HOLDER_MAX);
	if (!valid_text(r->f[COL_HOLDER], r->len[COL_HOLDER], true))
		return import_fail(ic, r->line[COL_HOLDER], "holder is not valid UTF-8 text");
	if (!parse_time(r->f[COL_VALID_FROM], r->len[COL_VALID_FROM], false, &r->from))
		return import_fail(ic, r->line[COL_VALID_FROM],
				   "valid_from is not YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]");
	if (!parse_time(r->f[COL_VALID_UNTIL], r->len[COL_VALID_UNTIL], true, &r->until))
		return import_fail(ic, r->line[COL_VALID_UNTIL],
				   "valid_until is not YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]");
	if (r->from > r->until)
		return import_fail(ic, r->line[COL_VALID_UNTIL],
				   "valid_until is before valid_from");
	if (r->f[COL_USES_PER_DAY] != NULL &&
	    !parse_int(r->f[COL_USES_PER_DAY], r->len[COL_USES_PER_DAY], PASSES_USES_PER_DAY_MAX,
		       &r->uses_per_day))
		return import_fail(ic, r->line[COL_USES_PER_DAY],
				   "uses_per_day must be a number 0..%d", PASSES_USES_PER_DAY_MAX);
	if (r->f[COL_PASS_BACK_MIN] != NULL &&
	    !parse_int(r->f[COL_PASS_BACK_MIN], r->len[COL_PASS_BACK_MIN], PASSES_PASS_BACK_MAX,
		       &r->pass_back_min))
		return import_fail(ic, r->line[COL_PASS_BACK_MIN],
				   "pass_back_min must be a number 0..%d", PASSES_PASS_BACK_MAX);
	if (r->f[COL_ZONE] != NULL && r->len[COL_ZONE] > 0) {
		if (r->len[COL_ZONE] > PASSES_ZONE_MAX)
			return import_fail(ic, r->line[COL_ZONE], "zone longer than %d bytes",
					   PASSES_ZONE_MAX);
		if (!valid_text(r->f[COL_ZONE], r->len[COL_ZONE], false))
			return import_fail(ic, r->line[COL_ZONE], "zone is not valid UTF-8 text");
	}
	return 0;
}

static int import_store(struct passes *p, const struct import_row *r, const char *hash,
			int64_t now_ms)
{
	sqlite3_stmt *st = p->st[ST_UPSERT];
	int rc;

	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->ticket ? "ticket" : "membership", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->f[COL_HOLDER], (int)r->len[COL_HOLDER], SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->from);
	sqlite3_bind_int64(st, 5, r->until);
	sqlite3_bind_int(st, 6, r->uses_per_day);
	sqlite3_bind_int(st, 7, r->pass_back_min);
	if (r->f[COL_ZONE] != NULL && r->len[COL_ZONE] > 0)
		sqlite3_bind_text(st, 8, r->f[COL_ZONE], (int)r->len[COL_ZONE], SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	sqlite3_bind_int64(st, 9, now_ms);
	rc = sqlite3_step(st);
	sqlite3_clear_bindings(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Parses and stores every row; the caller holds the savepoint. */
static int import_rows(struct passes *p, struct csv *c, struct import_ctx *ic, int64_t now_ms,
		       size_t *count)
{
	int colidx[COL_COUNT] = {0};
	char hash[STORE_HASH_HEX_LEN + 1];
	struct seen seen = {0};
	struct import_row row;
	size_t ncols;
	unsigned first;
	int rc;

	rc = csv_record(c, ic);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return import_fail(ic, 1, "missing header");
	rc = import_header(c, ic, colidx);
	if (rc < 0)
		return rc;
	ncols = c->nfields;
	for (;;) {
		rc = csv_record(c, ic);
		if (rc <= 0)
			break;
		if (csv_blank(c)) {
			if (csv_rest_blank(c))
				break;
			rc = import_fail(ic, c->rec_line, "empty line");
			break;
		}
		if (c->nfields != ncols) {
			rc = import_fail(ic, c->rec_line, "%zu fields, the header has %zu",
					 c->nfields, ncols);
			break;
		}
		rc = import_validate(c, ic, colidx, &row);
		if (rc < 0)
			break;
		rc = store_code_hash(p->store, row.f[COL_CODE], row.len[COL_CODE], hash);
		if (rc < 0)
			break;
		rc = seen_add(&seen, hash, c->rec_line, &first);
		if (rc < 0)
			break;
		if (first != 0) {
			rc = import_fail(ic, row.line[COL_CODE],
					 "duplicate code (first on line %u)", first);
			break;
		}
		rc = import_store(p, &row, hash, now_ms);
		if (rc < 0) {
			import_fail(ic, c->rec_line, "database error: %s", sqlite3_errmsg(p->db));
			break;
		}
		(*count)++;
	}
	free(seen.e);
	return rc < 0 ? rc : 0;
}

int passes_import_csv(struct passes *passes, const char *text, size_t len, int64_t now_ms,
		      size_t *imported, char *err, size_t errlen)
{
	struct import_ctx ic = {.err = err, .errlen = errlen};
	struct csv c = {.text = text, .len = len, .line = 1};
	size_t count = 0;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (imported != NULL)
		*imported = 0;
	if (passes == NULL || (text == NULL && len > 0))
		return -EINVAL;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		c.pos = 3;

	rc = sp_begin(passes);
	if (rc < 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "database error: %s", sqlite3_errmsg(passes->db));
		return rc;
	}
	rc = import_rows(passes, &c, &ic, now_ms, &count);
	free(c.buf);
	rc = sp_end(passes, rc);
	if (rc == 0)
		rc = store_sync(passes->store);
	if (rc < 0) {
		if (rc != -EINVAL && err != NULL && errlen > 0 && err[0] == '\0')
			snprintf(err, errlen, "cannot store the passes: %s", strerror(-rc));
		return rc;
	}
	if (imported != NULL)
		*imported = count;
	return 0;
}

/* ---- check ---- */

int passes_check(struct passes *passes, const char *code_hash, const char *lane, const char *zone,
		 int64_t now_ms, struct lane_check_result *result, int64_t *pass_id)
{
	sqlite3_stmt *st;
	enum lane_verdict verdict;
	const char *reason = NULL;
	const char *pzone;
	char when[32];
	int64_t id, from, until;
	bool ticket;
	int rc, upd, pbm;

	(void)lane;
	if (passes == NULL || code_hash == NULL || result == NULL)
		return -EINVAL;
	memset(result, 0, sizeof(*result));
	if (pass_id != NULL)
		*pass_id = 0;
	st = passes->st[ST_FIND_HASH];
	sqlite3_bind_text(st, 1, code_hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		result->verdict = LANE_VERDICT_UNKNOWN;
		snprintf(result->code_kind, sizeof(result->code_kind), "unknown");
		snprintf(result->reason, sizeof(result->reason), "unknown code");
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return -EIO;
	}
	id = sqlite3_column_int64(st, 0);
	ticket = strcmp((const char *)sqlite3_column_text(st, 1), "ticket") == 0;
	copy_utf8(result->title, sizeof(result->title), (const char *)sqlite3_column_text(st, 2));
	from = sqlite3_column_int64(st, 3);
	until = sqlite3_column_int64(st, 4);
	upd = sqlite3_column_int(st, 5);
	pbm = sqlite3_column_int(st, 6);
	pzone = (const char *)sqlite3_column_text(st, 7);
	snprintf(result->code_kind, sizeof(result->code_kind), "%s",
		 ticket ? "ticket" : "membership");
	/* The stored end is exclusive; attendants read the last valid minute. */
	format_local(result->valid_until, sizeof(result->valid_until), until - 1);
	if (pass_id != NULL)
		*pass_id = id;

	if (now_ms < from * 1000) {
		format_local(when, sizeof(when), from);
		result->verdict = LANE_VERDICT_INVALID;
		snprintf(result->reason, sizeof(result->reason), "not yet valid (from %s)", when);
		sqlite3_reset(st);
		return 0;
	}
	if (now_ms >= until * 1000) {
		result->verdict = LANE_VERDICT_EXPIRED;
		snprintf(result->reason, sizeof(result->reason), "expired");
		sqlite3_reset(st);
		return 0;
	}
	if (ticket && pzone != NULL && pzone[0] != '\0' &&
	    (zone == NULL || strcmp(zone, pzone) != 0)) {
		result->verdict = LANE_VERDICT_INVALID;
		snprintf(result->reason, sizeof(result->reason), "wrong zone");
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st); /* pzone is not used past here */

	rc = check_usage(passes, id, ticket, upd, pbm, now_ms, &verdict, &reason);
	if (rc < 0)
		return rc;
	result->verdict = verdict;
	if (verdict != LANE_VERDICT_VALID) {
		snprintf(result->reason, sizeof(result->reason), "%s", reason);
		return 0;
	}
	result->attendant_required =
		ticket ? passes->policy.ticket_attendant : passes->policy.membership_attendant;
	snprintf(result->reason, sizeof(result->reason), "valid");
	return 0;
}

/* ---- uses ---- */

int passes_reserve(struct passes *passes, int64_t pass_id, const char *lane, int64_t now_ms,
		   int64_t *use_id)
{
	sqlite3_stmt *st;
	enum lane_verdict verdict = LANE_VERDICT_VALID;
	const char *reason = NULL;
	bool ticket;
	int rc, upd, pbm;

	if (passes == NULL || lane == NULL)
		return -EINVAL;
	rc = sp_begin(passes);
	if (rc < 0)
		return rc;
	st = passes->st[ST_FIND_ID];
	sqlite3_bind_int64(st, 1, pass_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ticket = strcmp((const char *)sqlite3_column_text(st, 0), "ticket") == 0;
		upd = sqlite3_column_int(st, 1);
		pbm = sqlite3_column_int(st, 2);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_reset(st);
	if (rc == 0)
		rc = check_usage(passes, pass_id, ticket, upd, pbm, now_ms, &verdict, &reason);
	if (rc == 0 && verdict != LANE_VERDICT_VALID)
		rc = -EALREADY; /* another lane reserved it since the check */
	if (rc == 0) {
		st = passes->st[ST_INSERT_USE];
		sqlite3_bind_int64(st, 1, pass_id);
		sqlite3_bind_text(st, 2, lane, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now_ms);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_clear_bindings(st);
		sqlite3_reset(st);
		if (rc == 0 && use_id != NULL)
			*use_id = sqlite3_last_insert_rowid(passes->db);
	}
	rc = sp_end(passes, rc);
	if (rc < 0)
		return rc;
	return store_commit_soon(passes->store);
}

static int settle(struct passes *passes, int64_t use_id, const char *state, int64_t now_ms)
{
	sqlite3_stmt *st;
	int rc;

	if (passes == NULL)
		return -EINVAL;
	rc = sp_begin(passes);
	if (rc < 0)
		return rc;
	st = passes->st[ST_SETTLE_USE];
	sqlite3_bind_int64(st, 1, use_id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ms);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(st);
	if (rc == 0 && sqlite3_changes(passes->db) == 0) {
		/* not pending: settled already, or no such use */
		st = passes->st[ST_USE_STATE];
		sqlite3_bind_int64(st, 1, use_id);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_ROW ? -EALREADY : rc == SQLITE_DONE ? -ENOENT : -EIO;
		sqlite3_reset(st);
	}
	rc = sp_end(passes, rc);
	if (rc < 0)
		return rc;
	return store_sync(passes->store);
}

int passes_consume(struct passes *passes, int64_t use_id, int64_t now_ms)
{
	return settle(passes, use_id, "consumed", now_ms);
}

int passes_annul(struct passes *passes, int64_t use_id, int64_t now_ms)
{
	return settle(passes, use_id, "annulled", now_ms);
}

int passes_annul_pending(struct passes *passes, int64_t now_ms, size_t *count)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc;

	if (count != NULL)
		*count = 0;
	if (passes == NULL)
		return -EINVAL;
	rc = sp_begin(passes);
	if (rc < 0)
		return rc;
	st = passes->st[ST_ANNUL_PENDING];
	sqlite3_bind_int64(st, 1, now_ms);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(st);
	if (rc == 0)
		n = (size_t)sqlite3_changes(passes->db);
	rc = sp_end(passes, rc);
	if (rc < 0)
		return rc;
	rc = store_sync(passes->store);
	if (rc < 0)
		return rc;
	if (count != NULL)
		*count = n;
	return 0;
}

/* ---- list ---- */

/* The entry's strings live until fn returns. fn's nonzero return stops the walk
 * and is returned. */
int passes_list(struct passes *passes, passes_list_fn fn, void *userdata)
{
	struct passes_entry e;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (passes == NULL || fn == NULL)
		return -EINVAL;
	st = passes->st[ST_LIST];
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e.kind = (const char *)sqlite3_column_text(st, 0);
		e.holder = (const char *)sqlite3_column_text(st, 1);
		e.valid_from_ms = sqlite3_column_int64(st, 2) * 1000;
		e.valid_until_ms = sqlite3_column_int64(st, 3) * 1000;
		e.uses_per_day = sqlite3_column_int(st, 4);
		e.pass_back_min = sqlite3_column_int(st, 5);
		e.zone = (const char *)sqlite3_column_text(st, 6);
		e.uses = sqlite3_column_int64(st, 7);
		ret = fn(&e, userdata);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -EIO;
	sqlite3_reset(st);
	return ret;
}
