/* audit.c: the journal's hash chain (see audit.h for the encoding).
 *
 * The canonical encoding is length-prefixed, so no choice of field contents can
 * make two different rows encode the same, and it names NULL apart from the empty
 * text. The chain is verified in one pass in id order holding one row: a row whose
 * hash does not match its content was edited; a row whose prev_hash is not the
 * hash of the row before it follows a removed or rewritten row. Either way the
 * report names the first row where the chain stops holding.
 *
 * What a chain proves: nobody changed or removed a row without also rewriting every
 * hash after it. Someone with write access to the file can still rewrite the whole
 * tail; the chain head (printed by verify) compared with one noted earlier, or an
 * export checked against the journal (--db), is what catches that.
 */
#include "audit.h"
#include "sqlite_errno.h"
#include "holder.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <nettle/sha2.h>

/* A tag, a decimal number and an end mark ("I-42;", "T17:") into buf; its length.
 * By hand: snprintf was a fifth of the cost of hashing a row. */
static size_t audit_number(char *buf, char tag, int64_t v, char end)
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
					    ": rows between are missing", rep->last_id);
		return audit_broken(rep, row->id,
				    "prev_hash does not match row %" PRId64
				    ": that row was changed or removed", rep->last_id);
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

int audit_verify_db(sqlite3 *db, struct audit_report *rep)
{
	char first_prev[AUDIT_HASH_HEX_LEN + 1];
	sqlite3_stmt *stmt = NULL;
	struct audit_row row;
	int64_t bad_check = 0;
	bool first = true;
	int rc, r = 0;

	if (!db || !rep)
		return -EINVAL;
	memset(rep, 0, sizeof(*rep));
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
		if (r != 0)
			goto out;
		first = false;
	}
	if (rc != SQLITE_DONE) {
		r = sqlite_errno(rc);
		goto out;
	}
	/* The personal data kept beside the chain must be what its verdict row
	 * committed to (holder.h). */
	r = holder_verify(db, &bad_check);
	if (r == 1)
		audit_broken(rep, bad_check,
			     "the holder data of check %" PRId64
			     " does not match its verdict's holder_digest", bad_check);
out:
	sqlite3_finalize(stmt);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return r;
}

/* --- export files ------------------------------------------------------------ */

static const char *jstring(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool jint(const cJSON *obj, const char *key, int64_t *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(item))
		return false;
	*out = (int64_t)item->valuedouble;
	return true;
}

static bool audit_same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* The record's own fields must say what its rows say (as the check_export view). */
static const char *audit_record_mismatch(const cJSON *rec, const struct audit_row *rows, int n)
{
	const char *verdict = "none", *attendant = "not_required", *grant = "", *gate = "none";
	const char *vdetail = NULL, *reason = NULL;
	int64_t v;
	cJSON *d;
	bool ok;

	if (n < 1 || !audit_same(rows[0].step, "scan"))
		return "its first row is not the scan";
	if (!jint(rec, "check_id", &v) || v != rows[0].id)
		return "check_id is not its scan row's id";
	if (!jint(rec, "time_ms", &v) || v != rows[0].time)
		return "time_ms is not its scan row's time";
	if (!audit_same(jstring(rec, "lane"), rows[0].lane) ||
	    !audit_same(jstring(rec, "source"), rows[0].source) ||
	    !audit_same(jstring(rec, "code_kind"), rows[0].code_kind) ||
	    !audit_same(jstring(rec, "request_id"), rows[0].request_id))
		return "lane, source, code_kind or request_id differ from its scan row";
	for (int i = 1; i < n; i++) {
		if (rows[i].check_id != rows[0].id)
			return "a row belongs to another check";
		if (audit_same(rows[i].step, "verdict")) {
			verdict = rows[i].value;
			vdetail = rows[i].detail;
		} else if (audit_same(rows[i].step, "attendant")) {
			attendant = rows[i].value;
		} else if (audit_same(rows[i].step, "grant")) {
			grant = rows[i].value;
		} else if (audit_same(rows[i].step, "gate")) {
			gate = rows[i].value;
		}
	}
	if (!audit_same(jstring(rec, "verdict"), verdict) ||
	    !audit_same(jstring(rec, "attendant"), attendant) ||
	    !audit_same(jstring(rec, "grant_dir"), grant) ||
	    !audit_same(jstring(rec, "gate"), gate))
		return "verdict, attendant, grant_dir or gate differ from its rows";
	d = vdetail ? cJSON_Parse(vdetail) : NULL;
	reason = jstring(d, "reason");
	ok = !cJSON_IsObject(d) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "reason")) ||
	     audit_same(jstring(rec, "reason"), reason);
	cJSON_Delete(d);
	return ok ? NULL : "reason differs from its verdict row";
}

static bool audit_row_from_json(const cJSON *o, struct audit_row *row)
{
	const cJSON *check = cJSON_GetObjectItemCaseSensitive(o, "check_id");

	memset(row, 0, sizeof(*row));
	if (!cJSON_IsObject(o) || !jint(o, "id", &row->id) || !jint(o, "time", &row->time))
		return false;
	if (cJSON_IsNumber(check))
		row->check_id = (int64_t)check->valuedouble;
	else if (!cJSON_IsNull(check))
		return false;
	row->lane = jstring(o, "lane");
	row->step = jstring(o, "step");
	row->value = jstring(o, "value");
	row->source = jstring(o, "source");
	row->code_kind = jstring(o, "code_kind");
	row->code_hash = jstring(o, "code_hash");
	row->request_id = jstring(o, "request_id");
	row->detail = jstring(o, "detail");
	row->prev_hash = jstring(o, "prev_hash");
	row->hash = jstring(o, "hash");
	return row->hash && row->prev_hash;
}

/* 1: the journal has row id with this hash, 0: it does not, negative errno. */
static int audit_in_db(sqlite3_stmt *stmt, const struct audit_row *row)
{
	int rc, r;

	sqlite3_bind_int64(stmt, 1, row->id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = audit_same(audit_col_text(stmt, 0), row->hash);
	else
		r = rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
	sqlite3_reset(stmt);
	return r;
}

#define AUDIT_MAX_ROWS 64 /* rows of one check in a record */

static int audit_verify_record(const cJSON *rec, sqlite3_stmt *lookup, struct audit_report *rep)
{
	const cJSON *rows = cJSON_GetObjectItemCaseSensitive(rec, "rows"), *o;
	struct audit_row row[AUDIT_MAX_ROWS];
	char hash[AUDIT_HASH_HEX_LEN + 1];
	const char *why;
	int n = 0, r;

	if (!cJSON_IsObject(rec) || !cJSON_IsArray(rows))
		return audit_broken(rep, 0, "not an export record with rows");
	cJSON_ArrayForEach(o, rows)
	{
		if (n == AUDIT_MAX_ROWS)
			return audit_broken(rep, 0, "too many rows in one record");
		if (!audit_row_from_json(o, &row[n]))
			return audit_broken(rep, 0, "a row lacks id, time or its hashes");
		if (audit_row_hash(&row[n], hash) < 0)
			return audit_broken(rep, row[n].id, "row has a malformed prev_hash");
		if (strcmp(hash, row[n].hash) != 0)
			return audit_broken(rep, row[n].id,
					    "row content does not match its hash");
		/* Rows that follow each other in the journal must link. */
		if (rep->last_id && row[n].id == rep->last_id + 1 &&
		    strcmp(row[n].prev_hash, rep->head) != 0)
			return audit_broken(rep, row[n].id,
					    "prev_hash does not match row %" PRId64, rep->last_id);
		if (lookup) {
			r = audit_in_db(lookup, &row[n]);
			if (r < 0)
				return r;
			if (r == 0)
				return audit_broken(rep, row[n].id,
						    "row is not in the journal with this hash");
		}
		rep->last_id = row[n].id;
		memcpy(rep->head, hash, sizeof(rep->head));
		rep->rows++;
		n++;
	}
	why = audit_record_mismatch(rec, row, n);
	if (why)
		return audit_broken(rep, n ? row[0].id : 0, "%s", why);
	return 0;
}

int audit_verify_file(FILE *in, sqlite3 *db, struct audit_report *rep)
{
	sqlite3_stmt *lookup = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0, rc;

	if (!in || !rep)
		return -EINVAL;
	memset(rep, 0, sizeof(*rep));
	if (db) {
		rc = sqlite3_prepare_v2(db, "SELECT hash FROM journal WHERE id = ?1", -1, &lookup,
					NULL);
		if (rc != SQLITE_OK)
			return sqlite_errno(rc);
	}
	while ((len = getline(&line, &cap, in)) > 0) {
		cJSON *rec;

		rep->bad_line = rep->records + 1;
		if (len == 1 && line[0] == '\n') {
			r = audit_broken(rep, 0, "empty line");
			break;
		}
		rec = cJSON_ParseWithLength(line, (size_t)len);
		if (!rec) {
			r = audit_broken(rep, 0, "not JSON");
			break;
		}
		r = audit_verify_record(rec, lookup, rep);
		cJSON_Delete(rec);
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
	sqlite3_finalize(lookup);
	return r;
}
