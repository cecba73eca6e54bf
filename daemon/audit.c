/* audit.c: the journal's hash chain (see audit.h for the encoding) and the check
 * records derived from it.
 *
 * The canonical encoding is length-prefixed, so no choice of field contents can
 * make two different rows encode the same, and it names NULL apart from the empty
 * text. The chain is verified in one pass in id order holding one row: a row whose
 * hash does not match its content was edited; a row whose prev_hash is not the
 * hash of the row before it follows a removed or rewritten row. Either way the
 * report names the first row where the chain stops holding.
 *
 * The same pass rebuilds table checks: a second cursor reads the records in
 * check_id order and moves on as scan rows appear (scans come in id order, so both
 * advance together); each check is open, its record rebuilt row by row, from its
 * scan until the row its stored last_id names, then compared and dropped. Open
 * checks sit in an array by check id (binary search; a new scan always goes last),
 * so memory follows the checks in progress at once, and nothing is looked up per
 * check; lookups happen only to explain a failure.
 *
 * An export line is checked on its own by its seal (checkrec.h), which only the
 * journal can vouch for: with the journal at hand, the line's record is rebuilt
 * from the check's rows and compared.
 *
 * What a chain proves: nobody changed or removed a row without also rewriting every
 * hash after it. Someone with write access to the file can still rewrite the whole
 * tail; the chain head (printed by verify) compared with one noted earlier, or an
 * export checked against the journal (--db), is what catches that.
 */
#include "audit.h"
#include "checkrec.h"
#include "sqlite_errno.h"
#include "holder.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <nettle/sha2.h>

/* By hand: snprintf was a fifth of the cost of hashing a row. */
size_t audit_number(char *buf, char tag, int64_t v, char end)
{
	char digits[24];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, len = 0;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	buf[len++] = tag;
	if (v < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = digits[--n];
	buf[len++] = end;
	return len;
}

static void audit_put_int(struct sha256_ctx *ctx, int64_t v)
{
	char buf[32];

	sha256_update(ctx, audit_number(buf, 'I', v, ';'), (const uint8_t *)buf);
}

static void audit_put_text(struct sha256_ctx *ctx, const char *s)
{
	char buf[32];
	size_t len;

	if (!s) {
		sha256_update(ctx, 1, (const uint8_t *)"N");
		return;
	}
	len = strlen(s);
	sha256_update(ctx, audit_number(buf, 'T', (int64_t)len, ':'), (const uint8_t *)buf);
	sha256_update(ctx, len, (const uint8_t *)s);
}

int audit_row_hash(const struct audit_row *row, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;

	if (!row || !out || !row->prev_hash || strlen(row->prev_hash) != AUDIT_HASH_HEX_LEN)
		return -EINVAL;
	sha256_init(&ctx);
	sha256_update(&ctx, 5, (const uint8_t *)"tsj1\n");
	sha256_update(&ctx, AUDIT_HASH_HEX_LEN, (const uint8_t *)row->prev_hash);
	sha256_update(&ctx, 1, (const uint8_t *)"\n");
	audit_put_int(&ctx, row->id);
	audit_put_int(&ctx, row->time);
	audit_put_text(&ctx, row->lane);
	if (row->check_id > 0)
		audit_put_int(&ctx, row->check_id);
	else
		audit_put_text(&ctx, NULL);
	audit_put_text(&ctx, row->step);
	audit_put_text(&ctx, row->value);
	audit_put_text(&ctx, row->source);
	audit_put_text(&ctx, row->code_kind);
	audit_put_text(&ctx, row->code_hash);
	audit_put_text(&ctx, row->request_id);
	audit_put_text(&ctx, row->detail);
	sha256_digest(&ctx, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[AUDIT_HASH_HEX_LEN] = '\0';
	return 0;
}

static const char *audit_col_text(sqlite3_stmt *stmt, int col)
{
	return (const char *)sqlite3_column_text(stmt, col);
}

void audit_row_read(sqlite3_stmt *stmt, int first, struct audit_row *row)
{
	row->id = sqlite3_column_int64(stmt, first);
	row->time = sqlite3_column_int64(stmt, first + 1);
	row->lane = audit_col_text(stmt, first + 2);
	row->check_id = sqlite3_column_type(stmt, first + 3) == SQLITE_NULL
			    ? 0
			    : sqlite3_column_int64(stmt, first + 3);
	row->step = audit_col_text(stmt, first + 4);
	row->value = audit_col_text(stmt, first + 5);
	row->source = audit_col_text(stmt, first + 6);
	row->code_kind = audit_col_text(stmt, first + 7);
	row->code_hash = audit_col_text(stmt, first + 8);
	row->request_id = audit_col_text(stmt, first + 9);
	row->detail = audit_col_text(stmt, first + 10);
	row->prev_hash = audit_col_text(stmt, first + 11);
	row->hash = audit_col_text(stmt, first + 12);
}

static int audit_broken(struct audit_report *rep, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int audit_broken(struct audit_report *rep, int64_t id, const char *fmt, ...)
{
	va_list ap;

	rep->bad_id = id;
	va_start(ap, fmt);
	vsnprintf(rep->reason, sizeof(rep->reason), fmt, ap);
	va_end(ap);
	return 1;
}

/* The prefix hash of the checkpoint that purged everything below first_id. */
static int audit_checkpoint_hash(sqlite3 *db, int64_t first_id, char *out)
{
	static const char sql[] = "SELECT json_extract(detail, '$.prefix_hash') FROM journal"
				  " WHERE step = 'event' AND value = '" AUDIT_CHECKPOINT "'"
				  " AND json_valid(detail)"
				  " AND json_extract(detail, '$.first_kept_id') = ?1"
				  " ORDER BY id DESC LIMIT 1";
	sqlite3_stmt *stmt;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_errno(rc);
	sqlite3_bind_int64(stmt, 1, first_id);
	rc = sqlite3_step(stmt);
	out[0] = '\0';
	if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) == SQLITE_TEXT)
		snprintf(out, AUDIT_HASH_HEX_LEN + 1, "%s", audit_col_text(stmt, 0));
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = sqlite_errno(rc);
	sqlite3_finalize(stmt);
	return r;
}

/* Checks one row against the chain so far (rep->last_id, rep->head). */
static int audit_check_row(const struct audit_row *row, bool first, struct audit_report *rep,
			   const char *first_prev)
{
	char hash[AUDIT_HASH_HEX_LEN + 1];

	if (!row->hash || !row->prev_hash || strlen(row->prev_hash) != AUDIT_HASH_HEX_LEN)
		return audit_broken(rep, row->id, "row has no hash");
	if (first) {
		if (strcmp(row->prev_hash, first_prev) != 0)
			return audit_broken(rep, row->id,
					    "the first row does not follow the start of the"
					    " journal or a retention checkpoint");
	} else if (strcmp(row->prev_hash, rep->head) != 0) {
		if (row->id != rep->last_id + 1)
			return audit_broken(rep, row->id,
					    "prev_hash does not match row %" PRId64
					    ": rows between are missing",
					    rep->last_id);
		return audit_broken(rep, row->id,
				    "prev_hash does not match row %" PRId64
				    ": that row was changed or removed",
				    rep->last_id);
	}
	if (audit_row_hash(row, hash) < 0)
		return -EIO;
	if (strcmp(hash, row->hash) != 0)
		return audit_broken(rep, row->id, "row content does not match its hash");
	rep->rows++;
	rep->last_id = row->id;
	memcpy(rep->head, hash, sizeof(rep->head));
	return 0;
}

/* --- the check records of table checks ---------------------------------------- */

/* A check whose scan the pass has read and whose last row (by table checks) it has
 * not: its record rebuilt from the rows so far, and what table checks holds. */
struct audit_open {
	int64_t check_id, time; /* the scan row's id and time */
	int64_t seen;		/* the check's last row read so far */
	int64_t stored_time, stored_last;
	struct checkrec_build rec;  /* rebuilt from the journal */
	struct checkrec_buf stored; /* table checks' record */
	char seal[CHECKREC_SEAL_HEX_LEN + 1];
};

/* The records side of the pass. slot[0..nopen) are the open checks by check id (a
 * scan always has the highest id yet, so it is appended); slot[nopen..nslot) are
 * entries kept for reuse, so a check costs no allocation once the pass warmed up. */
struct audit_checks {
	sqlite3 *db;
	sqlite3_stmt *cursor; /* table checks in check_id order */
	int cursor_rc;	      /* SQLITE_ROW: the cursor is on a record not yet taken */
	struct audit_open **slot;
	size_t nopen, nslot;
	struct checkrec_buf scratch;
};

static const char checks_sql[] = "SELECT check_id, time, last_id, record, seal FROM checks"
				 " ORDER BY check_id";

static int audit_checks_init(struct audit_checks *c, sqlite3 *db, struct audit_report *rep)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->db = db;
	rc = sqlite3_prepare_v2(db, checks_sql, -1, &c->cursor, NULL);
	if (rc != SQLITE_OK) {
		/* Only a journal store_open() never migrated (or one whose table was
		 * dropped) lacks it. */
		if (sqlite3_table_column_metadata(db, NULL, "checks", "record", NULL, NULL, NULL,
						  NULL, NULL) != SQLITE_OK)
			return audit_broken(rep, 0,
					    "the journal has no table checks (schema before 4:"
					    " turnstiled migrates it at its next start)");
		return sqlite_errno(rc);
	}
	c->cursor_rc = sqlite3_step(c->cursor);
	return 0;
}

static void audit_checks_free(struct audit_checks *c)
{
	for (size_t i = 0; i < c->nslot; i++) {
		checkrec_build_free(&c->slot[i]->rec);
		checkrec_buf_free(&c->slot[i]->stored);
		free(c->slot[i]);
	}
	free(c->slot);
	checkrec_buf_free(&c->scratch);
	sqlite3_finalize(c->cursor);
}

/* The open check with this id, or NULL. */
static struct audit_open *audit_find(struct audit_checks *c, int64_t check_id, size_t *at)
{
	size_t lo = 0, hi = c->nopen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->slot[mid]->check_id < check_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return lo < c->nopen && c->slot[lo]->check_id == check_id ? c->slot[lo] : NULL;
}

/* A new open check at the end (its id is above every open one); NULL on OOM. */
static struct audit_open *audit_push(struct audit_checks *c)
{
	if (c->nopen == c->nslot) {
		struct audit_open **slot = realloc(c->slot, (c->nslot + 1) * sizeof(*slot));

		if (!slot)
			return NULL;
		c->slot = slot;
		c->slot[c->nslot] = calloc(1, sizeof(**slot));
		if (!c->slot[c->nslot])
			return NULL;
		c->nslot++;
	}
	return c->slot[c->nopen++];
}

/* Closes the open check at index at, keeping its entry for reuse. */
static void audit_drop(struct audit_checks *c, size_t at)
{
	struct audit_open *e = c->slot[at];

	memmove(&c->slot[at], &c->slot[at + 1], (c->nopen - at - 1) * sizeof(*c->slot));
	c->slot[--c->nopen] = e;
}

/* Copies n bytes into b (replacing what it held); false on OOM. */
static bool audit_copy(struct checkrec_buf *b, const char *p, size_t n)
{
	if (n > b->cap) {
		char *q = realloc(b->p, n);

		if (!q)
			return false;
		b->p = q;
		b->cap = n;
	}
	if (n)
		memcpy(b->p, p, n);
	b->len = n;
	return true;
}

/* The first field in which two decoded records differ, or -1. */
static int audit_field_diff(const struct checkrec *a, const struct checkrec *b)
{
	for (int f = 0; f < CR_FIELDS; f++)
		if (a->len[f] != b->len[f] || memcmp(a->text[f], b->text[f], a->len[f]) != 0)
			return f;
	return -1;
}

#define AUDIT_MAX_OPEN 4096 /* checks open at once (see audit_too_many) */
#define AUDIT_RECORD_BAD "the record of check %" PRId64 " in table checks "

/* Compares an open check's rebuilt record (encoded into enc) with table checks'
 * after its row id. */
static int audit_close(const struct audit_open *e, int64_t id, struct checkrec_buf *enc,
		       struct audit_report *rep)
{
	char seal[CHECKREC_SEAL_HEX_LEN + 1];
	struct checkrec built, stored;
	int f, r;

	r = checkrec_build_encode(&e->rec, enc);
	if (r < 0)
		return r;
	if (enc->len != e->stored.len || memcmp(enc->p, e->stored.p, enc->len) != 0) {
		if (checkrec_decode(e->stored.p, e->stored.len, &stored) < 0)
			return audit_broken(rep, e->check_id, AUDIT_RECORD_BAD "is malformed",
					    e->check_id);
		if (checkrec_decode(enc->p, enc->len, &built) < 0)
			return -EIO; /* encoded here */
		f = audit_field_diff(&built, &stored);
		return audit_broken(rep, e->check_id,
				    AUDIT_RECORD_BAD "does not match its journal rows: %s differs",
				    e->check_id, f < 0 ? "its encoding" : checkrec_names[f]);
	}
	if (e->stored_last != id)
		return audit_broken(rep, e->check_id,
				    AUDIT_RECORD_BAD
				    "does not match its journal rows: last_id %" PRId64
				    " is not its last row %" PRId64,
				    e->check_id, e->stored_last, id);
	if (e->stored_time != e->time)
		return audit_broken(rep, e->check_id,
				    AUDIT_RECORD_BAD
				    "does not match its journal rows: time %" PRId64
				    " is not its scan's %" PRId64,
				    e->check_id, e->stored_time, e->time);
	checkrec_seal(e->check_id, e->time, enc->p, enc->len, seal);
	if (strcmp(seal, e->seal) != 0)
		return audit_broken(rep, e->check_id,
				    AUDIT_RECORD_BAD "does not match its journal rows: its seal is"
						     " not the seal of the record",
				    e->check_id);
	return 0;
}

/* The journal's last row of a check (0: none). */
static int audit_last_row(sqlite3 *db, int64_t check_id, int64_t *last)
{
	sqlite3_stmt *stmt;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT max(id) FROM journal WHERE id = ?1 OR check_id = ?1",
				-1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_errno(rc);
	sqlite3_bind_int64(stmt, 1, check_id);
	rc = sqlite3_step(stmt);
	*last = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : sqlite_errno(rc);
}

/* Checks waiting for rows pile up only when records name last rows the journal does
 * not have (a live journal has about one open check per lane); before memory grows
 * with the journal, find which (lookups only on this failure path). */
static int audit_too_many(struct audit_checks *c, struct audit_report *rep)
{
	int64_t last = 0;
	int r;

	for (size_t i = 0; i < c->nopen; i++) {
		const struct audit_open *e = c->slot[i];

		r = audit_last_row(c->db, e->check_id, &last);
		if (r < 0)
			return r;
		if (e->stored_last > last)
			return audit_broken(rep, e->check_id,
					    AUDIT_RECORD_BAD "does not match its journal rows:"
							     " last_id %" PRId64
							     " is past its last row %" PRId64,
					    e->check_id, e->stored_last, last);
	}
	return audit_broken(rep, c->slot[0]->check_id, "more than %d checks are open at once",
			    AUDIT_MAX_OPEN);
}

/* A scan row: takes its record from the cursor (records without a scan row before
 * it are broken) and opens the check. */
static int audit_open_check(struct audit_checks *c, const struct audit_row *row,
			    struct audit_open **out, struct audit_report *rep)
{
	sqlite3_stmt *cur = c->cursor;
	struct audit_open *e;
	int64_t id;
	int r;

	if (c->cursor_rc == SQLITE_ROW && (id = sqlite3_column_int64(cur, 0)) < row->id)
		return audit_broken(rep, id, "check %" PRId64 " in table checks has no scan row",
				    id);
	if (c->cursor_rc != SQLITE_ROW && c->cursor_rc != SQLITE_DONE)
		return sqlite_errno(c->cursor_rc);
	if (c->cursor_rc == SQLITE_DONE || sqlite3_column_int64(cur, 0) != row->id)
		return audit_broken(rep, row->id,
				    "scan row %" PRId64 " has no record in table checks", row->id);
	if (c->nopen == AUDIT_MAX_OPEN)
		return audit_too_many(c, rep);
	e = audit_push(c);
	if (!e)
		return -ENOMEM;
	e->check_id = row->id;
	e->time = row->time;
	e->seen = row->id;
	e->stored_time = sqlite3_column_int64(cur, 1);
	e->stored_last = sqlite3_column_int64(cur, 2);
	if (sqlite3_column_type(cur, 3) != SQLITE_TEXT ||
	    sqlite3_column_type(cur, 4) != SQLITE_TEXT ||
	    sqlite3_column_bytes(cur, 4) != CHECKREC_SEAL_HEX_LEN)
		return audit_broken(rep, row->id, AUDIT_RECORD_BAD "is malformed", row->id);
	/* Copied off the cursor as it is; decoded only if it differs (audit_close). */
	if (!audit_copy(&e->stored, (const char *)sqlite3_column_text(cur, 3),
			(size_t)sqlite3_column_bytes(cur, 3)))
		return -ENOMEM;
	memcpy(e->seal, sqlite3_column_text(cur, 4), sizeof(e->seal) - 1);
	e->seal[CHECKREC_SEAL_HEX_LEN] = '\0';
	c->cursor_rc = sqlite3_step(cur);
	r = checkrec_build_begin(&e->rec, row);
	if (r == -EINVAL)
		return audit_broken(rep, row->id, "scan row %" PRId64 " cannot start a record",
				    row->id);
	*out = e;
	return r;
}

/* A step row whose check is not open: after the last row its record names, or of a
 * row that is no check. Only on this failure is table checks looked up. */
static int audit_stray_step(struct audit_checks *c, const struct audit_row *row,
			    struct audit_report *rep)
{
	sqlite3_stmt *stmt;
	int64_t last = 0;
	bool found;
	int rc;

	rc = sqlite3_prepare_v2(c->db, "SELECT last_id FROM checks WHERE check_id = ?1", -1, &stmt,
				NULL);
	if (rc != SQLITE_OK)
		return sqlite_errno(rc);
	sqlite3_bind_int64(stmt, 1, row->check_id);
	rc = sqlite3_step(stmt);
	found = rc == SQLITE_ROW && row->check_id < row->id;
	if (found)
		last = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sqlite_errno(rc);
	if (found)
		return audit_broken(rep, row->check_id,
				    AUDIT_RECORD_BAD
				    "does not match its journal rows: last_id %" PRId64
				    " is before its row %" PRId64,
				    row->check_id, last, row->id);
	return audit_broken(rep, row->id,
			    "row %" PRId64 " is a step of %" PRId64 ", which is not an open check",
			    row->id, row->check_id);
}

/* One chained row through the records: a scan opens a check, a step extends its
 * check's record; a check is compared and closed at the last row its record in
 * table checks names. Rows of neither kind (events) make no record, as in store.c. */
static int audit_check_record(struct audit_checks *c, const struct audit_row *row,
			      struct audit_report *rep)
{
	struct audit_open *e = NULL;
	size_t at;
	int r;

	if (row->check_id <= 0) {
		if (!row->step || strcmp(row->step, "scan") != 0)
			return 0;
		r = audit_open_check(c, row, &e, rep);
		if (r != 0)
			return r;
		at = c->nopen - 1;
	} else {
		e = audit_find(c, row->check_id, &at);
		if (!e)
			return audit_stray_step(c, row, rep);
		r = checkrec_build_step(&e->rec, row);
		if (r == -EINVAL)
			return audit_broken(rep, row->id,
					    "row %" PRId64
					    " cannot extend the record of check %" PRId64,
					    row->id, row->check_id);
		if (r < 0)
			return r;
		e->seen = row->id;
	}
	if (row->id < e->stored_last)
		return 0;
	r = audit_close(e, row->id, &c->scratch, rep);
	if (r == 0)
		audit_drop(c, at);
	return r;
}

/* After the last row: no check may still wait for rows, no record may be left. */
static int audit_checks_end(struct audit_checks *c, struct audit_report *rep)
{
	int64_t id;

	if (c->nopen)
		return audit_broken(
		    rep, c->slot[0]->check_id,
		    AUDIT_RECORD_BAD "does not match its journal rows: last_id %" PRId64
				     " is past its last row %" PRId64,
		    c->slot[0]->check_id, c->slot[0]->stored_last, c->slot[0]->seen);
	if (c->cursor_rc == SQLITE_ROW) {
		id = sqlite3_column_int64(c->cursor, 0);
		return audit_broken(rep, id, "check %" PRId64 " in table checks has no scan row",
				    id);
	}
	return c->cursor_rc == SQLITE_DONE ? 0 : sqlite_errno(c->cursor_rc);
}

int audit_verify_db(sqlite3 *db, struct audit_report *rep)
{
	char first_prev[AUDIT_HASH_HEX_LEN + 1];
	struct audit_checks checks;
	sqlite3_stmt *stmt = NULL;
	struct audit_row row;
	int64_t bad_check = 0;
	bool first = true;
	int rc, r = 0;

	if (!db || !rep)
		return -EINVAL;
	memset(rep, 0, sizeof(*rep));
	memset(&checks, 0, sizeof(checks));
	/* One read transaction: one snapshot even while the daemon appends. */
	rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sqlite_errno(rc);
	rc = sqlite3_prepare_v2(db, "SELECT " AUDIT_ROW_COLUMNS " FROM journal ORDER BY id", -1,
				&stmt, NULL);
	if (rc != SQLITE_OK) {
		r = sqlite_errno(rc);
		goto out;
	}
	r = audit_checks_init(&checks, db, rep);
	if (r != 0)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		audit_row_read(stmt, 0, &row);
		if (first) {
			if (row.prev_hash && strcmp(row.prev_hash, AUDIT_GENESIS) == 0) {
				memcpy(first_prev, AUDIT_GENESIS, sizeof(first_prev));
			} else {
				r = audit_checkpoint_hash(db, row.id, first_prev);
				if (r < 0)
					goto out;
			}
		}
		r = audit_check_row(&row, first, rep, first_prev);
		if (r == 0)
			r = audit_check_record(&checks, &row, rep);
		if (r != 0)
			goto out;
		first = false;
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_errno(rc);
		goto out;
	}
	r = audit_checks_end(&checks, rep);
	if (r != 0)
		goto out;
	/* The personal data kept beside the chain must be what its verdict row
	 * committed to (holder.h). */
	r = holder_verify(db, &bad_check);
	if (r == 1)
		audit_broken(rep, bad_check,
			     "the holder data of check %" PRId64
			     " does not match its verdict's holder_digest",
			     bad_check);
out:
	audit_checks_free(&checks);
	sqlite3_finalize(stmt);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return r;
}

/* --- export files ------------------------------------------------------------ */

/* The keys of an export line besides the record's fields (checkrec_names). */
enum audit_key { K_CHECK_ID = CR_FIELDS, K_TIME, K_TIME_MS, K_SEAL, K_COUNT };

static const char *const audit_key_names[K_COUNT - CR_FIELDS] = {"check_id", "time", "time_ms",
								 "seal"};

static const char *audit_key_name(int k)
{
	return k < CR_FIELDS ? checkrec_names[k] : audit_key_names[k - CR_FIELDS];
}

/* What a file's verification carries from line to line. */
struct audit_file {
	sqlite3_stmt *lookup; /* the journal rows of one check, with --db */
	int64_t prev_check;   /* the previous line's check_id */
	struct checkrec_buf line, built, scratch;
};

/* An integer that a JSON number holds exactly. */
static bool audit_json_int(const cJSON *item, int64_t *out)
{
	double v;

	if (!cJSON_IsNumber(item))
		return false;
	v = item->valuedouble;
	if (!(v >= -9007199254740992.0 && v <= 9007199254740992.0) || v != (double)(int64_t)v)
		return false;
	*out = (int64_t)v;
	return true;
}

static bool audit_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The value of n decimal digits. */
static int audit_digits(const char *s, int n)
{
	int v = 0;

	while (n--)
		v = v * 10 + (*s++ - '0');
	return v;
}

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar. */
static int64_t audit_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Unix ms of export.c's "YYYY-MM-DDTHH:MM:SS.mmm+HH:MM" (local time and its offset);
 * false if s is not one. */
static bool audit_parse_time(const char *s, int64_t *ms)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd.ddd+dd:dd";
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, frac, oh, om, sign;

	if (strlen(s) != sizeof(form) - 1)
		return false;
	for (size_t i = 0; form[i]; i++) {
		if (form[i] == 'd'   ? s[i] < '0' || s[i] > '9'
		    : form[i] == '+' ? s[i] != '+' && s[i] != '-'
				     : s[i] != form[i])
			return false;
	}
	y = audit_digits(s, 4);
	mo = audit_digits(s + 5, 2);
	d = audit_digits(s + 8, 2);
	h = audit_digits(s + 11, 2);
	mi = audit_digits(s + 14, 2);
	sec = audit_digits(s + 17, 2);
	frac = audit_digits(s + 20, 3);
	oh = audit_digits(s + 24, 2);
	om = audit_digits(s + 27, 2);
	sign = s[23] == '-' ? -1 : 1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59 ||
	    oh > 23 || om > 59)
		return false;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return false;
	*ms = ((audit_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
	       sign * (oh * 3600 + om * 60)) *
		  1000 +
	      frac;
	return true;
}

/* Checks row_hashes (checkrec.h): "ID:HASH" from the check's own row on, ids
 * ascending without leading zeros, hashes 64 lowercase hex, single spaces between.
 * Counts the entries into *n and gives the last one. NULL, or what is wrong. */
static const char *audit_row_hashes(const char *s, size_t len, int64_t check_id, uint64_t *n,
				    int64_t *last_id, const char **last_hash)
{
	const char *p = s, *end = s + len, *digits;
	int64_t id, prev = 0;

	*n = 0;
	for (;;) {
		digits = p;
		id = 0;
		while (p < end && *p >= '0' && *p <= '9' && id <= (INT64_MAX - 9) / 10)
			id = id * 10 + (*p++ - '0');
		if (p == digits || *digits == '0' || p == end || *p++ != ':' ||
		    (size_t)(end - p) < AUDIT_HASH_HEX_LEN ||
		    !audit_lower_hex(p, AUDIT_HASH_HEX_LEN))
			return "row_hashes is not \"ID:HASH ...\" with 64 lowercase hex digits a "
			       "hash";
		if (*n == 0 && id != check_id)
			return "row_hashes does not start with the check's own row";
		if (*n > 0 && id <= prev)
			return "row_hashes ids are not ascending";
		*last_id = prev = id;
		*last_hash = p;
		(*n)++;
		p += AUDIT_HASH_HEX_LEN;
		if (p == end)
			return NULL;
		if (*p++ != ' ' || p == end)
			return "row_hashes entries are not separated by single spaces";
	}
}

/* The record of a check rebuilt from its journal rows into f->built, as store.c
 * builds it; *time: its scan's. 0, 1 broken (rep says why), negative errno. */
static int audit_rebuild(struct audit_file *f, int64_t check_id, int64_t *time,
			 struct audit_report *rep)
{
	char hash[AUDIT_HASH_HEX_LEN + 1];
	struct checkrec_buf tmp;
	struct audit_row row;
	int rc, r = 0;
	bool first = true;

	sqlite3_bind_int64(f->lookup, 1, check_id);
	while (r == 0 && (rc = sqlite3_step(f->lookup)) == SQLITE_ROW) {
		audit_row_read(f->lookup, 0, &row);
		if (!row.hash || audit_row_hash(&row, hash) < 0 || strcmp(hash, row.hash) != 0) {
			r = audit_broken(rep, check_id,
					 "row %" PRId64 " in the journal does not match its hash"
					 " (audit verify the journal)",
					 row.id);
		} else if (first) {
			if (row.id != check_id || checkrec_begin(&row, &f->built) == -EINVAL)
				r = audit_broken(rep, check_id,
						 "check %" PRId64 " is not in the journal",
						 check_id);
			else
				*time = row.time;
		} else {
			r = checkrec_step(f->built.p, f->built.len, &row, &f->scratch);
			if (r == 0) {
				tmp = f->built;
				f->built = f->scratch;
				f->scratch = tmp;
			}
		}
		first = false;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sqlite_errno(rc);
	else if (r == 0 && first)
		r = audit_broken(rep, check_id, "check %" PRId64 " is not in the journal",
				 check_id);
	sqlite3_reset(f->lookup);
	return r;
}

/* One line: its keys, types and forms, its seal over its record, and with --db the
 * record the journal's rows make. */
static int audit_verify_line(struct audit_file *f, const cJSON *obj, struct audit_report *rep)
{
	const cJSON *item[K_COUNT] = {NULL}, *it;
	char seal[CHECKREC_SEAL_HEX_LEN + 1];
	int64_t check_id, time_ms, t, last_id = 0;
	const char *why, *last_hash = NULL;
	struct checkrec rec, line, built;
	uint64_t n;
	int k, r;

	if (!cJSON_IsObject(obj))
		return audit_broken(rep, 0, "not a JSON object");
	/* Each key once: a reader that takes the last of two would see what the
	 * verification did not. */
	cJSON_ArrayForEach(it, obj)
	{
		for (k = 0; k < K_COUNT && strcmp(it->string, audit_key_name(k)) != 0; k++)
			;
		if (k == K_COUNT)
			return audit_broken(rep, 0, "\"%.40s\" is not a field of an export line",
					    it->string);
		if (item[k])
			return audit_broken(rep, 0, "\"%s\" is given twice", it->string);
		item[k] = it;
	}
	if (!audit_json_int(item[K_CHECK_ID], &check_id) || check_id <= 0)
		return audit_broken(rep, 0, "check_id is not a positive integer");
	if (check_id <= f->prev_check)
		return audit_broken(rep, check_id,
				    "check %" PRId64 " comes after check %" PRId64
				    ": records are not in ascending check_id",
				    check_id, f->prev_check);
	if (!audit_json_int(item[K_TIME_MS], &time_ms))
		return audit_broken(rep, check_id, "time_ms is not an integer");
	for (k = 0; k < K_COUNT; k++)
		if (k != K_CHECK_ID && k != K_TIME_MS && !cJSON_IsString(item[k]))
			return audit_broken(rep, check_id, "%s is not a string", audit_key_name(k));
	for (k = 0; k < CR_FIELDS; k++) {
		rec.text[k] = item[k]->valuestring;
		rec.len[k] = strlen(item[k]->valuestring);
	}
	if (strlen(item[K_SEAL]->valuestring) != CHECKREC_SEAL_HEX_LEN ||
	    !audit_lower_hex(item[K_SEAL]->valuestring, CHECKREC_SEAL_HEX_LEN))
		return audit_broken(rep, check_id, "seal is not 64 lowercase hex digits");
	if (!audit_parse_time(item[K_TIME]->valuestring, &t))
		return audit_broken(rep, check_id,
				    "time is not YYYY-MM-DDTHH:MM:SS.mmm with a +HH:MM offset");
	if (t != time_ms)
		return audit_broken(rep, check_id, "time is not the instant time_ms says");
	why = audit_row_hashes(rec.text[CR_ROWS], rec.len[CR_ROWS], check_id, &n, &last_id,
			       &last_hash);
	if (why)
		return audit_broken(rep, check_id, "%s", why);
	r = checkrec_encode(&rec, &f->line);
	if (r < 0)
		return r;
	checkrec_seal(check_id, time_ms, f->line.p, f->line.len, seal);
	if (strcmp(seal, item[K_SEAL]->valuestring) != 0)
		return audit_broken(
		    rep, check_id, "the seal does not match the line's fields: a field was edited");
	if (f->lookup) {
		r = audit_rebuild(f, check_id, &t, rep);
		if (r != 0)
			return r;
		if (t != time_ms)
			return audit_broken(rep, check_id,
					    "check %" PRId64 " differs from the journal: time_ms",
					    check_id);
		if (f->built.len != f->line.len || memcmp(f->built.p, f->line.p, f->line.len)) {
			if (checkrec_decode(f->line.p, f->line.len, &line) < 0 ||
			    checkrec_decode(f->built.p, f->built.len, &built) < 0)
				return -EIO;
			k = audit_field_diff(&line, &built);
			return audit_broken(rep, check_id,
					    "check %" PRId64 " differs from the journal: %s",
					    check_id, k >= 0 ? checkrec_names[k] : "its encoding");
		}
	}
	f->prev_check = check_id;
	rep->rows += n;
	rep->last_id = last_id;
	memcpy(rep->head, last_hash, AUDIT_HASH_HEX_LEN);
	rep->head[AUDIT_HASH_HEX_LEN] = '\0';
	return 0;
}

int audit_verify_file(FILE *in, sqlite3 *db, struct audit_report *rep)
{
	struct audit_file f = {.lookup = NULL};
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0, rc;

	if (!in || !rep)
		return -EINVAL;
	memset(rep, 0, sizeof(*rep));
	if (db) {
		rc = sqlite3_prepare_v2(db,
					"SELECT " AUDIT_ROW_COLUMNS " FROM journal"
					" WHERE id = ?1 OR check_id = ?1 ORDER BY id",
					-1, &f.lookup, NULL);
		if (rc != SQLITE_OK)
			return sqlite_errno(rc);
	}
	while ((len = getline(&line, &cap, in)) > 0) {
		cJSON *obj;

		rep->bad_line = rep->records + 1;
		if (len == 1 && line[0] == '\n') {
			r = audit_broken(rep, 0, "empty line");
			break;
		}
		/* One JSON value per line, nothing after it (getline's NUL ends it): a
		 * reader must not see more than was verified. */
		obj = memchr(line, '\0', (size_t)len)
			  ? NULL
			  : cJSON_ParseWithLengthOpts(line, (size_t)len + 1, NULL, 1);
		if (!obj) {
			r = audit_broken(rep, 0, "not JSON");
			break;
		}
		r = audit_verify_line(&f, obj, rep);
		cJSON_Delete(obj);
		if (r != 0)
			break;
		rep->records++;
	}
	if (r == 0) {
		rep->bad_line = 0;
		if (ferror(in))
			r = -EIO;
	}
	free(line);
	checkrec_buf_free(&f.line);
	checkrec_buf_free(&f.built);
	checkrec_buf_free(&f.scratch);
	sqlite3_finalize(f.lookup);
	return r;
}
